#!/bin/sh
# test_keygen: the real cmem-keygen (build dir $1) through every command:
# exit codes (0 ok, 1 error, 2 usage), file modes under a permissive umask,
# `list` never showing a secret, refusals that write nothing, and a whole
# cluster provisioned in one command and unsealed on two "hosts".
# Needs no root and no network.
set -u
build=$(cd "${1:-build}" && pwd) || exit 1
kg="$build/cmem-keygen"
[ -x "$kg" ] || { echo "FAIL test_keygen: no $kg (make $kg)" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/cmem-keygen.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM
cd "$dir" || exit 1
umask 000 # every file must still come out private

fail() {
	echo "FAIL test_keygen: $*" >&2
	exit 1
}

# expect CODE COMMAND...: run it, check the exit code; output in out/err.
expect() {
	want=$1
	shift
	"$@" >out 2>err
	got=$?
	[ "$got" -eq "$want" ] || fail "exit $got, not $want: $* [stderr: $(cat err)]"
}

says() { # says FILE TEXT: the last command's out/err contains TEXT
	grep -qF -- "$2" "$1" || fail "$1 of the last command lacks \"$2\": $(cat "$1")"
}

mode_is() {
	m=$(stat -c %a "$1") || fail "cannot stat $1"
	[ "$m" = "$2" ] || fail "$1: mode $m, not $2"
}

absent() {
	[ ! -e "$1" ] || fail "$1 was written"
}

# Every secret of keyring $1 must be absent from the files named after it.
no_secret_in() {
	ring=$1
	shift
	# shellcheck disable=SC2013 # a secret is one word
	for s in $(awk '!/^#/ && NF >= 2 { print $2 }' "$ring"); do
		for f in "$@"; do
			! grep -qF "$s" "$f" || fail "$f shows a secret of $ring"
		done
	done
}

# ---- usage: exit 2, message on stderr; help and version on stdout, exit 0
for args in "" "bogus" "new" "list" "list a b" "add r --to x" "primary r abc" \
	"remove r 0" "--nope list r" "seal r --to x -o y" "unseal b -o k" "provision -o d"; do
	# shellcheck disable=SC2086 # word splitting is the point
	expect 2 "$kg" $args
	says err "usage: cmem-keygen"
	[ ! -s out ] || fail "usage error for '$args' wrote to stdout"
done
expect 0 "$kg" -h
says out "usage: cmem-keygen"
expect 0 "$kg" --help
says out "provision"
expect 0 "$kg" -V
says out "cmem-keygen "

# ---- keyrings
expect 0 "$kg" new -o ring
mode_is ring 600
says out "next:"
cp ring ring.orig
expect 1 "$kg" new -o ring
says err "ring: already exists"
cmp -s ring ring.orig || fail "new without --force changed ring"
expect 0 "$kg" new -o ring --force
mode_is ring 600
! cmp -s ring ring.orig || fail "new --force did not replace ring"
expect 0 "$kg" add ring
says out "added key 2"
says out "cmemctl keys install ring"
expect 0 "$kg" add ring --primary
says out "added key 3"
expect 0 "$kg" list ring
[ "$(awk '$2 == "yes" { print $1 }' out)" = 3 ] || fail "key 3 is not primary: $(cat out)"
[ "$(grep -c '^[0-9]' out)" = 3 ] || fail "list does not show 3 keys: $(cat out)"
no_secret_in ring out err
expect 0 "$kg" primary ring 2
says out "cmemctl keys use 2"
says out "cmemctl keys list"
expect 1 "$kg" remove ring 2
says err "primary"
expect 1 "$kg" remove ring 9
says err "ring: there is no key 9"
expect 1 "$kg" primary ring 9
chmod 400 ring # a read-only ring stays read-only through a change
expect 0 "$kg" remove ring 1
says out "cmemctl keys remove 1"
mode_is ring 400
chmod 600 ring
expect 0 "$kg" list ring
[ "$(grep -c '^[0-9]' out)" = 2 ] || fail "list does not show 2 keys: $(cat out)"
for t in ./*.tmp.*; do
	[ ! -e "$t" ] || fail "a temporary file was left: $t"
done

# keyring_load's refusals come through
chmod 644 ring
expect 1 "$kg" list ring
says err "too open"
expect 1 "$kg" add ring
chmod 600 ring
ln -s ring ring.link
expect 1 "$kg" list ring.link
says err "symbolic link"
expect 1 "$kg" list missing
says err "missing"

# ---- host and administrator keys
for h in h1 h2; do
	expect 0 "$kg" host-init "$h"
	mode_is "$h/host.key" 600
	mode_is "$h/host.pub" 644
	head -n 1 out | grep -q '^cmem-host-pub-v1 [A-Za-z0-9+/]*=$' ||
		fail "host-init does not print the public key line: $(cat out)"
	[ "$(head -n 1 out)" = "$(cat "$h/host.pub")" ] || fail "$h/host.pub differs from the output"
	! grep -qF "$(cut -d' ' -f2 "$h/host.key")" out || fail "host-init printed the secret key"
done
expect 1 "$kg" host-init h1
says err "already exists"
expect 0 "$kg" admin-init adm
mode_is adm/admin.key 600
mode_is adm/admin.pub 644
says out "cmem-admin-pub-v1 "
expect 0 "$kg" admin-init adm2

# ---- seal and unseal
expect 0 "$kg" seal ring --to h1/host.pub --sign-with adm -o b1
says out "cmem-keygen unseal"
head -n 1 b1 | grep -qx 'cmem-bundle-v2' || fail "b1 is not a cmem-bundle-v2"
no_secret_in ring b1
expect 1 "$kg" seal ring --to h1/host.pub --sign-with adm -o b1
says err "already exists"
expect 0 "$kg" seal ring --to h1/host.pub --sign-with adm -o b1 --force
expect 1 "$kg" seal ring --to adm/admin.pub --sign-with adm -o b9
says err "is an administrator public key"
absent b9
expect 1 "$kg" seal ring --to h1/host.pub --sign-with h1 -o b9
says err "admin.key"
absent b9
"$kg" list ring >want.list || fail "list ring"
expect 0 "$kg" unseal b1 --host-key h1 --trust adm/admin.pub -o k1
mode_is k1 600
says out "next:"
"$kg" list k1 >got.list || fail "list k1"
cmp -s want.list got.list || fail "k1 is not ring: $(cat got.list)"
expect 1 "$kg" unseal b1 --host-key h1 --trust adm/admin.pub -o k1
says err "already exists"
expect 0 "$kg" unseal b1 --host-key h1 --trust adm/admin.pub -o k1 --force

# refusals, each writing nothing
expect 1 "$kg" unseal b1 --host-key h2 --trust adm/admin.pub -o k2
says err "sealed for another host"
expect 1 "$kg" unseal b1 --host-key h1 --trust adm2/admin.pub -o k2
says err "not by the trusted key"
# another first base64 digit of the sealed data (line 8)
awk 'NR == 8 { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } { print }' b1 >b1.tampered
cmp -s b1 b1.tampered && fail "could not tamper with b1"
expect 1 "$kg" unseal b1.tampered --host-key h1 --trust adm/admin.pub -o k2
says err "bad signature"
head -c 200 b1 >b1.cut
expect 1 "$kg" unseal b1.cut --host-key h1 --trust adm/admin.pub -o k2
says err "b1.cut: truncated"
echo "hello" >b1.garbled
expect 1 "$kg" unseal b1.garbled --host-key h1 --trust adm/admin.pub -o k2
says err "not a cmem bundle"
expect 1 "$kg" unseal b1 --host-key h1 --trust h1/host.pub -o k2
says err "is a host public key"
absent k2

# ---- rollback (issue 10 item 7): an older bundle never replaces a newer one
expect 0 "$kg" new -o r1
expect 0 "$kg" seal r1 --to h1/host.pub --sign-with adm -o bA
serialA=$(awk '$1 == "serial" { print $2 }' bA)
cp r1 r12
expect 0 "$kg" add r12 --primary
expect 0 "$kg" seal r12 --to h1/host.pub --sign-with adm -o bB
serialB=$(awk '$1 == "serial" { print $2 }' bB)
{ [ -n "$serialA" ] && [ -n "$serialB" ] && [ "$serialB" -gt "$serialA" ]; } ||
	fail "the second bundle's serial ($serialB) is not above the first's ($serialA)"
expect 0 "$kg" unseal bB --host-key h1 --trust adm/admin.pub -o kB
says out "serial $serialB"
mode_is h1/bundle.state 600
grep -qx "serial $serialB" h1/bundle.state || fail "h1/bundle.state lacks serial $serialB: $(cat h1/bundle.state)"
cp kB kB.orig
for force in "" --force; do
	# shellcheck disable=SC2086 # an empty $force is no argument
	expect 1 "$kg" unseal bA --host-key h1 --trust adm/admin.pub -o kB $force
	says err "bA: refusing an older bundle"
	says err "serial $serialA"
	says err "serial $serialB"
	cmp -s kB kB.orig || fail "an older bundle (unseal $force) replaced the newer keyring"
done
grep -qx "serial $serialB" h1/bundle.state || fail "a refused unseal changed h1/bundle.state"
# the same bundle again is not older
expect 0 "$kg" unseal bB --host-key h1 --trust adm/admin.pub -o kB --force
# a serial changed by hand breaks the signature
sed "s/^serial .*/serial $((serialB + 100))/" bA >bA.bumped
expect 1 "$kg" unseal bA.bumped --host-key h1 --trust adm/admin.pub -o kA
says err "bad signature"
absent kA
# another host has its own record: h2 never unsealed anything
expect 0 "$kg" seal r1 --to h2/host.pub --sign-with adm -o bA2
expect 0 "$kg" unseal bA2 --host-key h2 --trust adm/admin.pub -o kA2

# ---- provision a cluster of two hosts, unseal on each
{
	echo "# hostname, then the line host-init printed"
	echo
	echo "node-a $(cat h1/host.pub)"
	echo "node-b $(cat h2/host.pub)"
} >hosts
expect 0 "$kg" provision --hosts hosts --sign-with adm -o out.d
mode_is out.d/cluster.keys 600
says out "out.d/node-a.bundle"
says out "out.d/node-b.bundle"
no_secret_in out.d/cluster.keys out out.d/node-a.bundle out.d/node-b.bundle
"$kg" list out.d/cluster.keys >want.list || fail "list cluster.keys"
expect 0 "$kg" unseal out.d/node-a.bundle --host-key h1 --trust adm/admin.pub -o a.keys
expect 0 "$kg" unseal out.d/node-b.bundle --host-key h2 --trust adm/admin.pub -o b.keys
for k in a.keys b.keys; do
	mode_is "$k" 600
	"$kg" list "$k" >got.list || fail "list $k"
	cmp -s want.list got.list || fail "$k is not the provisioned ring: $(cat got.list)"
done
expect 1 "$kg" unseal out.d/node-a.bundle --host-key h2 --trust adm/admin.pub -o x.keys
says err "sealed for another host"
absent x.keys
cp out.d/cluster.keys cluster.orig
expect 1 "$kg" provision --hosts hosts --sign-with adm -o out.d
says err "already exists"
cmp -s out.d/cluster.keys cluster.orig || fail "a refused provision changed cluster.keys"
expect 0 "$kg" provision --hosts hosts --sign-with adm -o out.d --force
mode_is out.d/cluster.keys 600
expect 0 "$kg" provision --hosts hosts --sign-with adm --keyring ring -o out2.d
absent out2.d/cluster.keys
expect 0 "$kg" unseal out2.d/node-b.bundle --host-key h2 --trust adm/admin.pub -o b2.keys
"$kg" list ring >want.list || fail "list ring"
"$kg" list b2.keys >got.list || fail "list b2.keys"
cmp -s want.list got.list || fail "b2.keys is not ring"
echo "../evil $(cat h1/host.pub)" >hosts.bad
expect 1 "$kg" provision --hosts hosts.bad --sign-with adm -o out3.d
says err "hosts.bad: line 1"
absent out3.d
echo "node-a $(cat adm/admin.pub)" >hosts.bad
expect 1 "$kg" provision --hosts hosts.bad --sign-with adm -o out3.d
says err "is an administrator public key"
absent out3.d

# ---- member identities: member-init, certify, revoke, show-cert, and the
# certificate and list carried by a bundle (cmem-bundle-v3)
for args in "member-init" "certify --name n1 --pub x -o y" "revoke --sign-with adm" \
	"show-cert" "show-cert c --name n1" "certify --name n1 --pub x --days 1 --sign-with adm -o y z"; do
	# shellcheck disable=SC2086 # word splitting is the point
	expect 2 "$kg" $args
done
expect 2 "$kg" certify --name n1 --pub x --days zero --sign-with adm -o y
says err "--days zero"
expect 2 "$kg" revoke 0 --sign-with adm
for h in h1 h2; do
	expect 0 "$kg" member-init "$h"
	says out "cmem-member-pub-v1 "
	mode_is "$h/member.key" 600
	mode_is "$h/member.pub" 644
	! grep -qF "$(cut -d' ' -f2 "$h/member.key")" out || fail "member-init printed the secret"
done
expect 1 "$kg" member-init h1
says err "already exists"
expect 0 "$kg" certify --name node-a --pub h1/member.pub --days 30 --sign-with adm -o a.cert
says out "serial:     1"
mode_is adm/cert.serial 600
expect 0 "$kg" certify --name node-b --pub h2/member.pub --days 30 --sign-with adm -o b.cert
says out "serial:     2"
expect 1 "$kg" certify --name node-b --pub h2/member.pub --days 30 --sign-with adm -o b.cert
says err "already exists"
expect 1 "$kg" certify --name -rf --pub h2/member.pub --days 30 --sign-with adm -o x.cert
says err "a member name is"
absent x.cert
expect 1 "$kg" certify --name n --pub adm/admin.pub --days 30 --sign-with adm -o x.cert
says err "is an administrator public key"
absent x.cert
expect 0 "$kg" certify --name old --pub h2/member.pub --days 1 --serial 7 --sign-with adm -o o.cert
says out "serial:     7"
expect 0 "$kg" show-cert a.cert --trust adm/admin.pub --name node-a
says out "verified: signed by the administrator of adm/admin.pub, for node-a"
expect 1 "$kg" show-cert a.cert --trust adm/admin.pub --name node-b
says err "certifies the name \"node-a\", not \"node-b\""
expect 1 "$kg" show-cert a.cert --trust adm2/admin.pub
says err "issued by another administrator key"
sed 's/^serial 1$/serial 3/' a.cert >a.bumped
expect 1 "$kg" show-cert a.bumped --trust adm/admin.pub
says err "bad signature"
head -n 4 a.cert >a.cut
expect 1 "$kg" show-cert a.cut
says err "truncated"
sed 's/^cmem-cert-v1$/cmem-cert-v9/' a.cert >a.magic
expect 1 "$kg" show-cert a.magic
says err "not a cmem-cert-v1 file"
# revoke: a signed list with a growing sequence
expect 0 "$kg" revoke 7 --sign-with adm
says out "sequence 1"
expect 0 "$kg" revoke 2 --sign-with adm
says out "sequence 2"
says out "2 serials revoked"
cp adm/revoked.crl crl.2
expect 0 "$kg" show-cert adm/revoked.crl --trust adm/admin.pub
says out "revoked:    2"
says out "revoked:    7"
expect 1 "$kg" show-cert b.cert --trust adm/admin.pub --crl adm/revoked.crl
says err "revoked: serial 2"
expect 0 "$kg" show-cert a.cert --trust adm/admin.pub --crl adm/revoked.crl
says out "not revoked"
# a bundle with the certificate and the list; unseal writes both beside the ring
expect 0 "$kg" seal ring --to h1/host.pub --sign-with adm --cert a.cert --crl crl.2 -o bI
head -n 1 bI | grep -qx cmem-bundle-v3 || fail "bI is not a cmem-bundle-v3 bundle"
mkdir etc
expect 0 "$kg" unseal bI --host-key h1 --trust adm/admin.pub -o etc/ring
says out "with the member certificate of node-a (serial 1)"
mode_is etc/member.cert 600
mode_is etc/revoked.crl 600
cmp -s etc/member.cert a.cert || fail "etc/member.cert is not a.cert"
cmp -s etc/revoked.crl crl.2 || fail "etc/revoked.crl is not the sealed list"
# a revoked or another member's certificate is not sealed; nor is another host's cert unsealed
expect 1 "$kg" seal ring --to h2/host.pub --sign-with adm --cert b.cert --crl crl.2 -o x.b
says err "revoked"
absent x.b
expect 1 "$kg" seal ring --to h1/host.pub --sign-with adm2 --cert a.cert -o x.b
says err "issued by another administrator key"
absent x.b
expect 0 "$kg" seal ring --to h2/host.pub --sign-with adm --cert a.cert -o bWrong
mkdir etc2
expect 1 "$kg" unseal bWrong --host-key h2 --trust adm/admin.pub -o etc2/ring
says err "certifies another member key"
absent etc2/ring
# an older list than the one a host has is refused, --force or not
"$kg" revoke 9 --sign-with adm >/dev/null || fail "revoke 9"
expect 0 "$kg" seal ring --to h1/host.pub --sign-with adm --cert a.cert --crl adm/revoked.crl -o bNew
expect 0 "$kg" unseal bNew --host-key h1 --trust adm/admin.pub -o etc/ring --force
says out "revocation list of sequence 3"
expect 0 "$kg" seal ring --to h1/host.pub --sign-with adm --cert a.cert --crl crl.2 -o bOld
expect 1 "$kg" unseal bOld --host-key h1 --trust adm/admin.pub -o etc/ring --force
says err "refusing an older revocation list"
grep -qx "sequence 3" etc/revoked.crl || fail "an older list replaced etc/revoked.crl"
# provision with one certificate per host
mkdir certs.d
cp a.cert certs.d/node-a.cert
cp b.cert certs.d/node-b.cert
expect 1 "$kg" provision --hosts hosts --sign-with adm --keyring ring --certs certs.d --crl adm/revoked.crl -o out4.d
says err "revoked"
absent out4.d/node-a.bundle
cp a.cert certs.d/node-b.cert
expect 1 "$kg" provision --hosts hosts --sign-with adm --keyring ring --certs certs.d -o out4.d
says err "certifies the name \"node-a\", not \"node-b\""
expect 0 "$kg" certify --name node-b --pub h2/member.pub --days 30 --sign-with adm -o certs.d/node-b.cert --force
expect 0 "$kg" provision --hosts hosts --sign-with adm --keyring ring --certs certs.d --crl adm/revoked.crl -o out4.d
mkdir etc3
expect 0 "$kg" unseal out4.d/node-b.bundle --host-key h2 --trust adm/admin.pub -o etc3/ring
says out "with the member certificate of node-b"
cmp -s etc3/member.cert certs.d/node-b.cert || fail "etc3/member.cert is not node-b's"
# a bundle without an identity is still a cmem-bundle-v2 bundle
expect 0 "$kg" seal ring --to h1/host.pub --sign-with adm -o bPlain
head -n 1 bPlain | grep -qx cmem-bundle-v2 || fail "a bundle without an identity is not v2"

echo "PASS test_keygen"
