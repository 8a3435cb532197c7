#!/bin/sh
# test_unit: `make install DESTDIR=... PREFIX=/usr` lays out every file with
# the paths the units and the sample configuration name; systemd-analyze
# verifies the units inside that root without a warning and rates
# cmemd.service at most EXPOSURE_MAX; and cmemd starts, joins and drops all
# privileges with nothing in its capability bounding set but what the unit
# grants (under setpriv, with no_new_privs, in a network namespace).
# Skips (77) without systemd-analyze; the start-up check needs root.
set -u
build=$(cd "${1:-build}" && pwd) || exit 1
src=$(cd "$(dirname "$0")/../.." && pwd)
# The lowest exposure for a daemon that starts as root to chroot and drop
# itself: running as root (User=), CAP_SETUID/SETGID/SYS_CHROOT, chroot and
# setresuid in the syscall allow-list and network access are what is left.
EXPOSURE_MAX=2.0

fail() {
	echo "FAIL test_unit: $*" >&2
	exit 1
}
command -v systemd-analyze >/dev/null || { echo "SKIP test_unit: no systemd-analyze"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/cmem-unit.XXXXXX") || exit 1
chmod 0755 "$dir"
ns=""
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && sleep 0.3 && kill -KILL "$pid" 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
root=$dir/root

# ---- the layout
make -s -C "$src" BUILD="$build" install DESTDIR="$root" PREFIX=/usr >"$dir/install.log" 2>&1 ||
	fail "make install failed: $(cat "$dir/install.log")"
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
unitdir=${unitdir:-/lib/systemd/system}
for f in usr/sbin/cmemd usr/bin/cmemctl usr/bin/cmem-keygen usr/libexec/cmem/cmem-textfile; do
	[ -x "$root/$f" ] || fail "$f is not installed executable"
done
for f in etc/cmem/cmemd.conf usr/lib/sysusers.d/cmem.conf usr/lib/tmpfiles.d/cmem.conf \
	usr/share/man/man8/cmemd.8 usr/share/man/man8/cmemctl.8 usr/share/man/man1/cmem-keygen.1 \
	usr/share/man/man5/cmemd.conf.5 "${unitdir#/}/cmemd.service" "${unitdir#/}/cmem-hook@.service" \
	"${unitdir#/}/cmem-textfile.service" "${unitdir#/}/cmem-textfile.timer"; do
	[ -f "$root/$f" ] || fail "$f is not installed"
done
grep -q '^keyring = "/etc/cmem/cluster.keys";' "$root/etc/cmem/cmemd.conf" ||
	fail "the installed cmemd.conf names another keyring than the unit's condition"
grep -q '^ConditionPathExists=/etc/cmem/cluster.keys$' "$root/$unitdir/cmemd.service" ||
	fail "cmemd.service does not wait for /etc/cmem/cluster.keys"
grep -q '^u cmem ' "$root/usr/lib/sysusers.d/cmem.conf" || fail "sysusers.d makes no user cmem"

# an existing configuration is never overwritten
echo '# changed' >>"$root/etc/cmem/cmemd.conf"
make -s -C "$src" BUILD="$build" install DESTDIR="$root" PREFIX=/usr >"$dir/install.log" 2>&1 ||
	fail "second make install failed: $(cat "$dir/install.log")"
tail -n 1 "$root/etc/cmem/cmemd.conf" | grep -q '^# changed$' ||
	fail "make install overwrote an existing cmemd.conf"

# another prefix: the units and the sample name its paths; uninstall
# leaves nothing behind
local=$dir/local
make -s -C "$src" BUILD="$build" install DESTDIR="$local" >"$dir/install.log" 2>&1 ||
	fail "make install (PREFIX=/usr/local): $(cat "$dir/install.log")"
u=$local/usr/local/lib/systemd/system/cmemd.service
grep -q '^ExecStart=/usr/local/sbin/cmemd -f -c /usr/local/etc/cmem/cmemd.conf$' "$u" ||
	fail "PREFIX=/usr/local: $(grep '^ExecStart' "$u")"
grep -q '^ConditionPathExists=/usr/local/etc/cmem/cluster.keys$' "$u" ||
	fail "PREFIX=/usr/local: $(grep '^Condition' "$u")"
grep -q '^keyring = "/usr/local/etc/cmem/cluster.keys";' "$local/usr/local/etc/cmem/cmemd.conf" ||
	fail "PREFIX=/usr/local: the sample names another keyring"
make -s -C "$src" BUILD="$build" uninstall DESTDIR="$local" >"$dir/install.log" 2>&1 ||
	fail "make uninstall: $(cat "$dir/install.log")"
left=$(find "$local" -type f)
[ -z "$left" ] || fail "make uninstall left $left"

# every man page a unit points to is installed
for m in $(sed -n 's/^Documentation=//p' "$root/$unitdir"/cmem*); do
	page=${m#man:}
	name=${page%(*}
	sec=${page#*(}
	sec=${sec%)}
	[ -f "$root/usr/share/man/man$sec/$name.$sec" ] || fail "unit documentation $m is not installed"
done

# ---- systemd-analyze verify, inside the installed root (it needs the
# system's own targets there too)
mkdir -p "$root/usr/lib/systemd"
cp -a /lib/systemd/system "$root/usr/lib/systemd/system.host"
for u in "$root"/usr/lib/systemd/system.host/*.target; do
	cp -an "$u" "$root/$unitdir/" 2>/dev/null
done
(cd "$dir" && systemd-analyze verify --man=no --root="$root" cmemd.service cmem-hook@x.service \
	cmem-textfile.service cmem-textfile.timer) >"$dir/verify.log" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$dir/verify.log")"
[ ! -s "$dir/verify.log" ] || fail "systemd-analyze verify warns: $(cat "$dir/verify.log")"

# ---- exposure
systemd-analyze security --offline=true --root="$root" cmemd.service >"$dir/security.log" 2>&1 ||
	fail "systemd-analyze security: $(tail -n 5 "$dir/security.log")"
exposure=$(sed -n 's/.*Overall exposure level for cmemd.service: \([0-9][0-9.]*\).*/\1/p' \
	"$dir/security.log")
[ -n "$exposure" ] || fail "no exposure level in: $(tail -n 3 "$dir/security.log")"
awk -v e="$exposure" -v m="$EXPOSURE_MAX" 'BEGIN { exit !(e <= m) }' ||
	fail "cmemd.service exposure $exposure > $EXPOSURE_MAX: $(grep '✗' "$dir/security.log")"
echo "cmemd.service exposure (systemd-analyze security --offline=true): $exposure"

# ---- start-up under the unit's capability bounding set
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! command -v ip >/dev/null; then
	echo "test_unit: start-up check skipped (needs root, setpriv, ip)"
	exit 0
fi
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$root/$unitdir/cmemd.service" |
	tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd, -)
[ -n "$caps" ] || fail "cmemd.service has no CapabilityBoundingSet"
"$build/cmem-keygen" new -o "$dir/cluster.keys" >/dev/null || fail "cmem-keygen new"
mkdir -m 0755 "$dir/chroot"
# the installed sample, with this test's paths and a loopback interface
cat "$root/etc/cmem/cmemd.conf" - >"$dir/cmemd.conf" <<EOF
name = "unit1";
interface = "lo";
ttl = 0;
keyring = "$dir/cluster.keys";
control_socket = "$dir/cmemd.sock";
pidfile = "$dir/cmemd.pid";
chroot = "$dir/chroot";
user = "nobody";
EOF
# libconfig refuses a setting given twice: keep the last of each
awk -F' *= *' '/^[a-z_]+ *=/ { last[$1] = NR } { line[NR] = $0; key[NR] = $1 }
	END { for (i = 1; i <= NR; i++) if (!(key[i] in last) || last[key[i]] == i) print line[i] }' \
	"$dir/cmemd.conf" >"$dir/cmemd.conf.new" && mv "$dir/cmemd.conf.new" "$dir/cmemd.conf"
ns="cmunit$$"
ip netns add "$ns" || fail "ip netns add"
ip -n "$ns" link set lo up
ip -n "$ns" link set lo multicast on
ip netns exec "$ns" setpriv --bounding-set=-all,"$caps" --inh-caps=-all --no-new-privs \
	"$build/cmemd" -f -c "$dir/cmemd.conf" 2>"$dir/cmemd.log" &
pid=$!
i=0
until "$build/cmemctl" -s "$dir/cmemd.sock" status >"$dir/status" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null ||
		fail "cmemd with bounding set $caps did not answer: $(cat "$dir/cmemd.log")"
	sleep 0.1
done
grep -q 'uid 65534' "$dir/status" || fail "cmemd did not drop to nobody: $(cat "$dir/status")"
grep -q "chroot $dir/chroot" "$dir/status" || fail "cmemd is not chrooted: $(cat "$dir/status")"
grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$pid/status" ||
	fail "cmemd kept capabilities: $(grep Cap "/proc/$pid/status")"

# the installed textfile job, against this daemon
printf '#!/bin/sh\nexec "%s" -s "%s" "$@"\n' "$build/cmemctl" "$dir/cmemd.sock" >"$dir/ctl"
chmod 0755 "$dir/ctl"
prom=$dir/textfile/cmem.prom
mkdir "$dir/textfile"
CMEMCTL=$dir/ctl "$root/usr/libexec/cmem/cmem-textfile" "$prom" ||
	fail "cmem-textfile failed against a running daemon"
[ "$(stat -c %a "$prom")" = 644 ] || fail "cmem.prom is mode $(stat -c %a "$prom"), not 644"
grep -q '^cmem_lines_sent_total' "$prom" || fail "cmem.prom has no cmem_lines_sent_total: $(head -n 5 "$prom")"
[ "$(ls "$dir/textfile")" = cmem.prom ] || fail "cmem-textfile left files: $(ls "$dir/textfile")"
if python3 -c 'import prometheus_client' 2>/dev/null; then
	python3 -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p
n = sum(1 for f in p(open(sys.argv[1]).read()) for s in f.samples)
sys.exit(0 if n > 0 else 1)' "$prom" || fail "cmem.prom does not parse as Prometheus text"
fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ] || fail "cmemd exited $rc on TERM: $(cat "$dir/cmemd.log")"
CMEMCTL=$dir/ctl "$root/usr/libexec/cmem/cmem-textfile" "$prom" 2>"$dir/textfile.log" ||
	fail "cmem-textfile fails while the daemon is down: $(cat "$dir/textfile.log")"
[ ! -e "$prom" ] || fail "cmem-textfile kept stale figures while the daemon is down"
echo "cmemd started, dropped and stopped with bounding set $caps; cmem.prom written, then removed"
exit 0
