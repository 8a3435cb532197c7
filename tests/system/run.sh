#!/bin/sh
# Run every system test (tests/system/test_*.py and test_*.sh) against the
# programs in build dir $1.  They need root (network namespaces); without
# it each is reported SKIPPED, never as passed.
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
export CMEM_BUILD="$(cd "$build" && pwd)"
pass=0; fail=0; skip=0; failed=""
for t in "$here"/test_*.py "$here"/test_*.sh; do
	[ -e "$t" ] || continue
	n=$(basename "$t")
	if [ -n "$CMEM_TESTS" ] && ! echo " $CMEM_TESTS " | grep -q " ${n%.*} "; then continue; fi
	echo "== system: $n"
	start=$(date +%s)
	case "$t" in
	*.py) python3 "$t" ;;
	*.sh) sh "$t" "$CMEM_BUILD" ;;
	esac
	rc=$?
	echo "   ($(( $(date +%s) - start )) s)"
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); echo "SKIPPED $n" ;;
	*) fail=$((fail + 1)); failed="$failed $n"; echo "FAILED $n (exit $rc)" ;;
	esac
done
echo "system tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || { echo "failed:$failed"; exit 1; }
