#!/usr/bin/env python3
"""make sim-check: the simulator beside `make bench-cluster` (real daemons).

Runs bench/cluster.py (real cmemd in network namespaces; needs root; run it
under the shared lock: flock /tmp/cmem-systest.lock make sim-check), or
reads its earlier result (SIM_CHECK_JSON=build/bench-cluster.json), then
runs the same steps in the simulator for each size and prints both side by
side: crash detection median, false failures at 10 % and 30 % loss, lines
sent and received per node per second.  Agreement is within 10 % (counts of
false failures: equal, both under one per run, or the real run's count within
the range of the simulated runs).  The simulated run is bench's whole run in
its order, at the times bench recorded for its loss rules (sim/README.md).

Environment: BENCH_QUICK=1 and BENCH_SIZES as for bench-cluster (default
5 16 64); SIM_CHECK_SEEDS (default 10) runs of the simulator per size;
SIM_CHECK_JSON to skip the real run.
"""
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CMEM_BUILD", os.path.join(ROOT, "build"))
NFT_S = float(os.environ.get("SIM_CHECK_NFT_S", "0.03"))  # one `ip netns exec nft` on a busy machine


def bench_params(n, quick):
    """bench/cluster.py size_params, the parts the scenario needs: the loss
    levels in bench's order, each (percent, seconds)."""
    if quick:
        steady, reps, loss_s = 10, 1, 10
    else:
        steady, reps, loss_s = (60 if n >= 64 else 30), (3 if n <= 5 else 2), (60 if n <= 5 else 30)
    levels = [int(x) for x in os.environ.get("BENCH_LOSS", "10 30").split()]
    return steady, reps, [(pct, int(os.environ.get(
        "BENCH_LOSS_S", 120 if pct >= 30 and n <= 5 and not quick else loss_s))) for pct in levels]


def scenario_base(n, steady, reps):
    """Steady state, join and leave of a spare, crashes: bench's order."""
    lines, t = base_steps(n, steady, reps)
    return ["nodes %d" % (n + 1)] + lines + ["at %d end" % t]


def base_steps(n, steady, reps):
    """bench's first steps (its spare is n(N+1)); the lines and when they end."""
    hosts, spare = "n1-n%d" % n, "n%d" % (n + 1)
    lines = ["at 0 start %s" % hosts, "at 3 measure start", "at %d measure stop" % (3 + steady)]
    t = 4 + steady
    for _ in range(reps):
        lines += ["at %d start %s" % (t, spare), "at %d stop %s" % (t + 2, spare)]
        t += 4
    for r in range(reps):
        victim = 2 + r % (n - 1)
        lines += ["at %d crash n%d" % (t, victim), "at %d restart n%d" % (t + 3, victim)]
        t += 6
    return lines, t


def level_times(n, real, t, secs):
    """When each host's loss rule went in and when the loss went off: the real
    run's times (bench records them, from the size's first start), else
    estimated (one `nft` each, about NFT_S); never before T."""
    rules, off = real.get("rules_t"), real.get("off_t")
    if rules and off and len(rules) == n + 1:
        shift = max(0.0, t - rules[0])
        return [x + shift for x in rules[1:]], off + shift
    on = [t + (i + 1) * NFT_S for i in range(n)]
    return on, on[-1] + secs + 11


def scenario_loss(n, levels, k, r):
    """bench's whole run up to loss level K, as bench does it: the first steps,
    then each level in turn (rules host by host, a crash and a graceful stop
    during it, the loss off, the next level at once), so that level K starts
    on detectors that lived through the levels before it, as the real ones
    do.  False failures are counted in bench's window (from the last rule in,
    for its seconds), crashes and stops measured only in level K."""
    steady, reps = bench_params(n, bool(os.environ.get("BENCH_QUICK")))[:2]
    lines, t = base_steps(n, steady, reps)
    for j, (pct, secs) in enumerate(levels[:k + 1]):
        on, off = level_times(n, r.get("loss%d" % pct, {}), t, secs)
        lines += ["at %.3f loss in n%d %d%%" % (x, i + 1, pct) for i, x in enumerate(on)]
        t_in = on[-1]
        victim, leaver = 2 + (2 * j) % (n - 1), 2 + (2 * j + 1) % (n - 1)
        t = t_in + secs
        if j == k:
            lines += ["at %.3f count start" % t_in, "at %.3f count stop" % t]
        lines += ["at %.3f crash n%d" % (t + 0.01, victim), "at %.3f restart n%d" % (t + 3, victim),
                  "at %.3f stop n%d" % (t + 6, leaver), "at %.3f start n%d" % (t + 8, leaver)]
        off = max(off, t + 9)
        lines.append("at %.3f loss in all 0" % off)
        t = off + (0.02 * n if "off_t" not in r.get("loss%d" % pct, {}) else 0)
    return ["nodes %d" % (n + 1)] + lines + ["at %.3f end" % (t + 1)]


def run_sim(sim, name, lines, seeds):
    path = os.path.join(BUILD, "sim-check", name + ".sim")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    tsv = path[:-4] + ".tsv"
    if os.path.exists(tsv):
        os.unlink(tsv)
    subprocess.run([sim, "--seeds", str(seeds), "--summary", tsv, path], check=False,
                   stdout=subprocess.DEVNULL)
    with open(tsv) as f:
        c = f.read().split("\t")
    keys = ["name", "n", "runs", "crash_p50", "crash_p99", "crash_max", "join_max", "leave_max",
            "false", "tx_lines", "rx_lines", "tx_bytes", "rx_bytes", "converge", "timeout_p50",
            "false_before", "false_after", "false_run_min", "false_run_max", "wall", "sim_s", "deliveries", "footprint"]
    return {k: (v if k == "name" else float(v)) for k, v in zip(keys, c)}


def real_results():
    path = os.environ.get("SIM_CHECK_JSON")
    if not path:
        if os.geteuid() != 0:
            sys.exit("sim-check runs bench-cluster (real daemons): it needs root; or give "
                     "SIM_CHECK_JSON=build/bench-cluster.json from an earlier run")
        env = dict(os.environ, BENCH_MEMBERS="0", CMEM_BUILD=BUILD)
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "cluster.py")], env=env,
                       check=True)
        path = os.path.join(BUILD, "bench-cluster.json")
    with open(path) as f:
        return json.load(f)


def agree(real, sim, count=False):
    """COUNT: SIM is (mean per run, fewest, most in one run); the real run is
    one run, so it agrees if it is one the simulator's runs could give."""
    if real is None or sim is None:
        return "—"
    if count:
        mean, lo, hi = sim
        if round(real) == round(mean) or (real < 1 and mean < 1):
            return "agree"
        return ("agree (runs: %d to %d)" if lo <= real <= hi else "differ (runs: %d to %d)") % (lo, hi)
    if real == 0:
        return "agree" if sim == 0 else "differ"
    d = (sim - real) / real
    return "%+.0f %% %s" % (100 * d, "agree" if abs(d) <= 0.10 else "differ")


def rows_for(r, sim, seeds):
    n = r["n"]
    quick = bool(os.environ.get("BENCH_QUICK"))
    steady, reps, levels = bench_params(n, quick)
    base = run_sim(sim, "check-%d" % n, scenario_base(n, steady, reps), seeds)
    med = lambda xs: statistics.median(xs) if xs else None
    rows = [("crash seen, median over observers (s)", med(r.get("crash_s", [])),
             base["crash_p50"], False),
            ("lines sent per node per s", med(r.get("tx_pkts", [])), base["tx_lines"], False),
            ("lines received per node per s", med(r.get("rx_pkts", [])), base["rx_lines"], False)]
    for k, (pct, s) in enumerate(levels):
        lv = r.get("loss%d" % pct, {})
        res = run_sim(sim, "check-%d-loss%d" % (n, pct), scenario_loss(n, levels, k, r), seeds)
        rows.append(("false failures at %d %% loss in %d s (sim: mean per run)" % (pct, s),
                     lv.get("false"), (res["false"] / res["runs"], res["false_run_min"],
                                       res["false_run_max"]), True))
        rows.append(("  (sim only: false failures before that window, while its rules or the "
                     "levels before went in, mean per run)", None,
                     (res["false_before"] / res["runs"], 0, 0), True))
        rows.append(("crash during %d %% loss, median (s)" % pct, med(lv.get("crash_s", [])),
                     res["crash_p50"], False))
    return [(n,) + row for row in rows]


def main():
    sim = sys.argv[1] if len(sys.argv) > 1 else os.path.join(BUILD, "cmem-sim")
    seeds = int(os.environ.get("SIM_CHECK_SEEDS", "10"))
    real = real_results()
    out = ["### simulator against real daemons (`make sim-check`)", "",
           "Real: `make bench-cluster` (%s); simulated: the same steps, %d seeds per size." %
           (real.get("machine", {}).get("date", "?") if isinstance(real.get("machine"), dict)
            else "?", seeds), "",
           "| N | figure | real daemons | simulator | |", "|---|---|---|---|---|"]
    fmt = lambda v: "—" if v is None else ("%.3f" % v if v < 10 else "%.1f" % v)
    for r in real.get("sizes", []):
        for n, label, rv, sv, count in rows_for(r, sim, seeds):
            out.append("| %d | %s | %s | %s | %s |" % (n, label, fmt(rv),
                                                       fmt(sv[0] if count else sv),
                                                       agree(rv, sv, count)))
    text = "\n".join(out) + "\n"
    print(text)
    with open(os.path.join(BUILD, "sim-check.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
