#!/bin/sh
# Cost per node and crash detection against N, from cmem-sim --summary lines
# of the scale-N scenarios.  Installs gnuplot-nox (Debian) if missing.
# Usage: sim/plot.sh SUMMARY.tsv OUT.png
tsv=${1:?usage: sim/plot.sh SUMMARY.tsv OUT.png}
png=${2:?}
dat=${png%.png}.dat
if ! command -v gnuplot >/dev/null; then
	SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "installing: gnuplot-nox"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		gnuplot-nox >/dev/null || exit 1
fi
# columns: name N runs crash.p50 crash.p99 crash.max join.max leave.max false tx_lines
# rx_lines tx_bytes rx_bytes converge.max timeout.p50 false_before false_after
# false_run.min false_run.max cpu_s sim_s deliveries footprint
awk -F'\t' '$1 ~ /^scale-/ { print $2, $11, $13, $4, $6, $23 }' "$tsv" | sort -n > "$dat"
[ -s "$dat" ] || { echo "plot: no scale-N scenario in $tsv"; exit 1; }
gnuplot <<GP
set terminal pngcairo size 900,500
set output '$png'
set title 'cmem all-to-all, simulated: cost per node and crash detection against N'
set xlabel 'N (members)'
set logscale x
set logscale y
set grid
set key top left
set ylabel 'received per node: lines/s, kB/s'
set y2label 'crash seen: median / max over observers (s)'
set y2tics
set ytics nomirror
plot '$dat' u 1:2 w lp lw 2 t 'lines received/s', \
     '' u 1:(\$3/1000) w lp lw 2 t 'kB received/s', \
     '' u 1:4 axes x1y2 w lp lw 2 t 'crash seen, median (right)', \
     '' u 1:5 axes x1y2 w lp lw 2 dt 2 t 'crash seen, max (right)'
GP
