#!/bin/sh
# make sim: every shipped scenario, its table (stdout and BUILD/sim.md), a
# summary line each (BUILD/sim-summary.tsv) and the plot of cost and
# detection against N (BUILD/sim-scale.png, gnuplot-nox installed if missing).
# Usage: sim/run.sh CMEM_SIM BUILD SCENARIO...
sim=${1:?usage: sim/run.sh CMEM_SIM BUILD SCENARIO...}
build=${2:?}
shift 2
md=$build/sim.md
tsv=$build/sim-summary.tsv
rm -f "$tsv"
: > "$md"
rc=0
for s in "$@"; do
	"$sim" --summary "$tsv" "$s" | tee -a "$md" || rc=1
done
sh "$(dirname "$0")/plot.sh" "$tsv" "$build/sim-scale.png" && echo "plot: $build/sim-scale.png"
echo "tables: $md; summary: $tsv"
exit $rc
