#!/bin/sh
# Run every system test (tests/system/test_*.py and test_*.sh) against the
# programs in build dir $1, or those named in $CMEM_TESTS (file names without
# the extension).  They need root (network namespaces); without it each is
# reported SKIPPED, loudly, never as passed.  Exit 0 / 1 / 77 per file means
# pass / fail / skip; a file that reports scenarios ("N scenarios, M failed")
# adds them to the totals.  The last line is the summary, also written to
# $CMEM_SUMMARY if set.  CMEM_NO_SKIP=1 counts a skipped file as failed.
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
export CMEM_BUILD="$(cd "$build" && pwd)"
export PYTHONUNBUFFERED=1  # the output reaches the log in order
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0; failed=""; skipped=""; scen=0; scenfail=0
for t in "$here"/test_*.py "$here"/test_*.sh; do
	[ -e "$t" ] || continue
	n=$(basename "$t")
	if [ -n "$CMEM_TESTS" ] && ! echo " $CMEM_TESTS " | grep -q " ${n%.*} "; then continue; fi
	echo "== system: $n"
	start=$(date +%s)
	{
		case "$t" in
		*.py) python3 "$t" ;;
		*.sh) sh "$t" "$CMEM_BUILD" ;;
		esac
		echo $? >"$tmp/rc"
	} 2>&1 | tee "$tmp/log"
	rc=$(cat "$tmp/rc")
	echo "   ($(( $(date +%s) - start )) s)"
	counts=$(sed -n 's/^.*: \([0-9][0-9]*\) scenarios, \([0-9][0-9]*\) failed.*$/\1 \2/p' "$tmp/log" | tail -n 1)
	if [ -n "$counts" ]; then
		scen=$((scen + ${counts% *})); scenfail=$((scenfail + ${counts#* }))
	fi
	if [ "$rc" -eq 77 ] && [ -n "$CMEM_NO_SKIP" ]; then
		echo "FAILED $n: skipped, and CMEM_NO_SKIP is set"
		rc=1
	fi
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); skipped="$skipped $n"
	    why=$(grep -m 1 '^SKIP' "$tmp/log")
	    echo "SKIPPED $n${why:+: $why}" ;;
	*) fail=$((fail + 1)); failed="$failed $n"; echo "FAILED $n (exit $rc)" ;;
	esac
done
total=$((pass + fail + skip))
if [ $skip -gt 0 ]; then
	echo "************************************************************************"
	echo "*** $skip of $total system test files SKIPPED:$skipped"
	echo "*** what they cover (real daemons in network namespaces) was NOT tested"
	echo "************************************************************************"
fi
[ $fail -eq 0 ] || echo "failed:$failed"
if [ $skip -eq 0 ]; then
	summary="system tests: $pass passed, $fail failed, 0 skipped of $total files ($scen scenarios, $scenfail failed)"
else
	summary="system tests: $pass passed, $fail failed, $skip SKIPPED of $total files ($scen scenarios, $scenfail failed) -- NOT ALL RUN"
fi
[ -z "$CMEM_SUMMARY" ] || echo "$summary" >"$CMEM_SUMMARY"
echo "$summary"
[ $fail -eq 0 ]
