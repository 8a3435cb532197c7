#!/bin/sh
# Run the cmocka unit test programs given as arguments (from tests/, where
# their data lives) and total them.  The last line is the summary, also
# written to $CMEM_SUMMARY if set: programs, tests run, tests failed, and the
# programs that failed (a crash counts, even with no cmocka summary).
progs=0; ran=0; bad=0; failed=""
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	echo "== $t"
	progs=$((progs + 1))
	case $t in /*) p=$t ;; *) p=../$t ;; esac  # BUILD may be absolute
	(cd tests && "$p") >"$log" 2>&1
	rc=$?
	cat "$log"
	n=$(awk '/^\[==========\] [0-9]+ test\(s\) run\./ { s += $2 } END { print s + 0 }' "$log")
	f=$(awk '/^\[  FAILED  \] [0-9]+ test\(s\), listed below:/ { s += $4 } END { print s + 0 }' "$log")
	ran=$((ran + n)); bad=$((bad + f))
	if [ $rc -ne 0 ]; then
		failed="$failed ${t##*/}"
		[ "$f" -gt 0 ] || echo "FAILED ${t##*/}: exit $rc with no failed test reported (a crash?)"
	fi
done
summary="unit tests: $((ran - bad)) passed, $bad failed ($progs programs)"
[ -z "$failed" ] || summary="$summary; programs FAILED:$failed"
[ -z "$CMEM_SUMMARY" ] || echo "$summary" >"$CMEM_SUMMARY"
echo "$summary"
[ -z "$failed" ]
