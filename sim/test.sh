#!/bin/sh
# make sim-test: the timing claims of sim/tests/*.sim, each over its seeds;
# fails if any expectation fails.  Usage: sim/test.sh path/to/cmem-sim
sim=${1:?usage: sim/test.sh CMEM_SIM}
dir=$(dirname "$0")/tests
fails=0
for t in "$dir"/*.sim; do
	out=$("$sim" "$t" 2>&1) || fails=$((fails + 1))
	printf '%s\n' "$out" | grep -E '^(ok|FAILED):|simulated in'
done
if [ "$fails" -ne 0 ]; then
	echo "sim-test: $fails scenario(s) failed"
	exit 1
fi
echo "sim-test: all passed"
