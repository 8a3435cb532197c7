#!/bin/sh
# test_package: `make deb` builds the Debian package (lintian errors fail
# it); installed with apt it creates the user cmem, /run/cmem and
# /var/lib/cmem (root, 0755), the enabled unit and the conffile
# /etc/cmem/cmemd.conf; with a fresh keyring `cmemd -n` accepts the
# installed configuration, and the installed cmemd runs with the installed
# layout (user cmem, chroot /var/lib/cmem, control socket /run/cmem/cmemd.sock)
# in a network namespace; `dpkg --purge cmem` then removes all of it.
# Restores the machine: whatever it installed is purged again.  Needs root,
# dpkg and apt; skips (77) on a host where cmem is installed or configured.
set -u
build=$(cd "${1:-build}" && pwd) || exit 1
src=$(cd "$(dirname "$0")/../.." && pwd)

fail() {
	echo "FAIL test_package: $*" >&2
	exit 1
}
skip() {
	echo "SKIP test_package: $*"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v dpkg >/dev/null && command -v apt-get >/dev/null || skip "no dpkg/apt"
command -v ip >/dev/null || skip "no ip"
dpkg-query -W -f='${Status}' cmem 2>/dev/null | grep -q 'installed' && skip "cmem is installed here"
[ ! -e /etc/cmem ] || skip "/etc/cmem exists: this host is configured"
! getent passwd cmem >/dev/null || skip "a user cmem exists"
[ ! -e /var/lib/cmem ] || skip "/var/lib/cmem exists"

# /run/cmem may be another test's; it is checked only if this test made it
run_ours=1
[ -e /run/cmem ] && run_ours=0
dir=$(mktemp -d "${TMPDIR:-/tmp}/cmem-package.XXXXXX") || exit 1
export DEBIAN_FRONTEND=noninteractive
ns=""
pid=""
touch "$dir/pulled"
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -f /etc/cmem/cluster.keys
	dpkg --purge cmem >/dev/null 2>&1
	[ $run_ours -eq 1 ] && rm -rf /run/cmem
	# and exactly what apt pulled in for it (never what others installed)
	pulled=$(cat "$dir/pulled")
	# shellcheck disable=SC2086 # one word per package
	[ -z "$pulled" ] || apt-get purge -y -qq $pulled >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- build
start=$(date +%s)
make -s -C "$src" BUILD="$build" deb >"$dir/deb.log" 2>&1 || fail "make deb: $(tail -n 30 "$dir/deb.log")"
deb=$(ls -t "$build"/cmem_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "make deb left no cmem_*.deb in $build"
echo "built $(basename "$deb") in $(($(date +%s) - start)) s"
if grep -q '^[EW]: ' "$dir/deb.log"; then
	echo "lintian:"
	grep '^[EW]: ' "$dir/deb.log"
fi

# ---- install
apt-get install -s --no-install-recommends "$deb" 2>/dev/null |
	sed -n 's/^Inst \([^ ]*\) .*/\1/p' | grep -vx cmem >"$dir/pulled"
apt-get install -y -qq --no-install-recommends "$deb" >"$dir/apt.log" 2>&1 ||
	fail "apt-get install $deb: $(tail -n 20 "$dir/apt.log")"
getent passwd cmem >"$dir/pw" || fail "no user cmem after installing"
IFS=: read -r _ _ uid _ _ home shell <"$dir/pw"
[ "$uid" -ne 0 ] && [ "$uid" -lt 1000 ] || fail "user cmem is not a system user (uid $uid)"
[ "$home" = /var/lib/cmem ] || fail "user cmem's home is $home"
case $shell in */nologin | /bin/false) ;; *) fail "user cmem can log in ($shell)" ;; esac
for d in /run/cmem /var/lib/cmem; do
	[ "$(stat -c '%U:%G %a' "$d" 2>/dev/null)" = "root:root 755" ] ||
		fail "$d is not root:root 0755: $(stat -c '%U:%G %a' "$d" 2>&1)"
done
unit=$(dpkg -L cmem | grep '/cmemd\.service$') || fail "the package has no cmemd.service"
[ -f "$unit" ] || fail "$unit is not installed"
[ -L /etc/systemd/system/multi-user.target.wants/cmemd.service ] ||
	fail "cmemd.service is not enabled"
dpkg-query -W -f='${Conffiles}\n' cmem | grep -q '^ /etc/cmem/cmemd.conf ' ||
	fail "/etc/cmem/cmemd.conf is not a conffile: $(dpkg-query -W -f='${Conffiles}' cmem)"
grep -q '^ConditionPathExists=/etc/cmem/cluster.keys$' "$unit" ||
	fail "cmemd.service would start without a keyring"

# ---- provision, check, run
/usr/bin/cmem-keygen new -o /etc/cmem/cluster.keys >"$dir/keygen.log" 2>&1 ||
	fail "cmem-keygen new: $(cat "$dir/keygen.log")"
/usr/sbin/cmemd -n >"$dir/check.log" 2>&1 || fail "cmemd -n on the installed configuration: $(cat "$dir/check.log")"
grep -q 'configuration OK' "$dir/check.log" || fail "cmemd -n said: $(cat "$dir/check.log")"

# the installed configuration, on the loopback interface of a namespace
{
	cat /etc/cmem/cmemd.conf
	printf 'name = "pkg1";\ninterface = "lo";\nttl = 0;\n'
} | awk -F' *= *' '/^[a-z_]+ *=/ { last[$1] = NR } { line[NR] = $0; key[NR] = $1 }
	END { for (i = 1; i <= NR; i++) if (!(key[i] in last) || last[key[i]] == i) print line[i] }' \
	>"$dir/cmemd.conf"
ns="cmpkg$$"
ip netns add "$ns" || fail "ip netns add"
ip -n "$ns" link set lo up
ip -n "$ns" link set lo multicast on
ip netns exec "$ns" /usr/sbin/cmemd -f -c "$dir/cmemd.conf" 2>"$dir/cmemd.log" &
pid=$!
i=0
until /usr/bin/cmemctl status >"$dir/status" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null ||
		fail "the installed cmemd did not answer on /run/cmem/cmemd.sock: $(cat "$dir/cmemd.log")"
	sleep 0.1
done
grep -q "uid $uid," "$dir/status" || fail "cmemd does not run as cmem: $(cat "$dir/status")"
grep -q 'chroot /var/lib/cmem' "$dir/status" || fail "cmemd is not in /var/lib/cmem: $(cat "$dir/status")"
# the package's configuration turns the daemon's own syscall filter on
if grep -q '^seccomp = true;' /etc/cmem/cmemd.conf; then
	grep -q '^Seccomp:[[:space:]]*2$' "/proc/$pid/status" ||
		fail "the installed cmemd runs without its seccomp filter: $(grep Seccomp "/proc/$pid/status")"
fi
kill -TERM "$pid"
wait "$pid" || fail "cmemd exited $? on TERM: $(cat "$dir/cmemd.log")"
pid=""
ip netns del "$ns"
ns=""
echo "installed: user cmem (uid $uid), cmemd -n OK, cmemd ran as cmem in /var/lib/cmem"

# ---- purge
rm -f /etc/cmem/cluster.keys
dpkg --purge cmem >"$dir/purge.log" 2>&1 || fail "dpkg --purge cmem: $(cat "$dir/purge.log")"
! getent passwd cmem >/dev/null || fail "user cmem is left after purge"
! getent group cmem >/dev/null || fail "group cmem is left after purge"
[ $run_ours -eq 1 ] && [ -e /run/cmem ] && fail "/run/cmem is left after purge"
for f in /etc/cmem /var/lib/cmem "$unit" /usr/sbin/cmemd \
	/etc/systemd/system/multi-user.target.wants/cmemd.service; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || fail "$f is left after purge"
done
echo "purged: user, directories, unit and configuration removed"
exit 0
