#!/usr/bin/env python3
"""make bench-peers: cmem and HashiCorp Serf side by side, in the same harness.

For each size (default N=5 and N=16) the same steps run first with cmemd,
then with `serf agent` (encrypted with a 32-byte key, bound to the
namespace's address, default LAN profile) on fresh namespaces built the
same way: start and converge; steady-state CPU, memory and traffic per
node; join and graceful stop of one more node (cmem: SIGTERM; Serf: SIGINT,
its graceful leave); crashes (kill -9) seen by every other node; at N=5,
false failures under 10 % and 30 % loss.  Times come from each agent's own
events: cmem's control-socket `watch`, Serf's log line written the moment
it changes a member's state (`serf: EventMemberFailed: ...`).  Serf hands
the same events to handler scripts only after coalescing them; a handler
logs those too, and the table shows both.

Prints one markdown table per size with the ratio cmem/Serf per figure
(also build/bench-peers.md and .json) and plots the crash-detection CDF of
both to build/bench-crash-cdf.png (gnuplot).  A benchmark: it stops by
itself and removes its namespaces and processes.  Needs root, serf and
gnuplot (`make bench-peers` installs the last two when missing).  Run it
under the shared lock:
    flock /tmp/cmem-systest.lock make bench-peers

Environment (all optional):
  BENCH_QUICK=1            N=5 only, short intervals, no loss (about 3 min)
  BENCH_PEER_SIZES="5 16"  sizes
  BENCH_STEADY_S=30        steady-state interval
  BENCH_REPS               joins, leaves and crashes per size (default 4 at N=5, else 2)
  BENCH_LOSS="10 30"       loss levels at N=5 (BENCH_LOSS="" or 0: none)
  BENCH_LOSS_S=30          seconds per loss level
  BENCH_LOSS_HOOKS=input   input, or input,output
"""
import json
import os
import shutil
import subprocess
import sys
import time

import benchlib as bl
from benchlib import median

BUILD = bl.cmemnet.BUILD


def params(n, quick):
    levels = [x for x in bl.env_list("BENCH_LOSS", [10, 30]) if x > 0]
    if quick or n > 5 or os.environ.get("BENCH_LOSS") == "":
        levels = []
    loss_s = bl.env_int("BENCH_LOSS_S", 30)
    return bl.Params(steady=bl.env_int("BENCH_STEADY_S", 10 if quick else 30),
                     reps=bl.env_int("BENCH_REPS", 2 if quick else 4 if n <= 5 else 2),
                     loss=[(pct, loss_s) for pct in levels],
                     hooks=tuple(os.environ.get("BENCH_LOSS_HOOKS", "input").split(",")),
                     converge_timeout=90, detect_timeout=60)


def serf_version():
    r = subprocess.run([bl.SERF, "version"], capture_output=True, text=True)
    pkg = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "serf"], capture_output=True,
                         text=True).stdout.strip()
    first = r.stdout.splitlines()[0] if r.stdout else "serf"
    return first + (" (Debian package %s)" % pkg if pkg else "")


def handler_times(agent_res, hlog):
    """Every observer's handler delay for every crash (Serf's coalesced events)."""
    out = []
    for c in agent_res.get("crashes", []):
        out += list(bl.serf_handler_seen(hlog, c["victim"], c["t0_real"]).values())
    return out


# ---- the tables ----

def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    if r >= 10:
        return "%.0f" % r
    text = "%.2g" % r
    return "%.4f" % r if "e" in text else text


def figures(r):
    """(label, value, text) per figure; value None when not measured."""
    def get(fn):
        try:
            return fn(r)
        except (KeyError, ValueError, ZeroDivisionError, TypeError, IndexError):
            return None

    def fmt(v, f):
        return "—" if v is None else f(v)
    rows = [
        ("converged, from the first start", get(lambda r: r["converge_s"]), lambda v: "%.2f s" % v),
        ("join seen by all, median (cmem: from its first line; Serf: from its start)",
         get(lambda r: median(r["join_s"])), lambda v: "%.1f ms" % (1000 * v)),
        ("graceful stop seen by all, median", get(lambda r: median(r["leave_s"])),
         lambda v: "%.1f ms" % (1000 * v)),
        ("graceful stop seen as failed instead (observations)", get(lambda r: r["leave_as_failed"]),
         lambda v: "%d of %d" % (v, v + len(r["leave_s"]))),
        ("crash seen by all: median", get(lambda r: median(r["crash_s"])), lambda v: "%.2f s" % v),
        ("crash seen by all: max", get(lambda r: max(r["crash_s"])), lambda v: "%.2f s" % v),
        ("crash seen by an event handler: median", get(lambda r: median(r["handler_crash_s"])),
         lambda v: "%.2f s" % v),
        ("CPU per node, % of one core (mean)",
         get(lambda r: sum(r["cpu_pct"]) / len(r["cpu_pct"])), lambda v: "%.3f %%" % v),
        ("memory per node: Pss", get(lambda r: median(r["pss_kb"])), lambda v: "%s kB" % kb(v)),
        ("memory per node: Private_Dirty", get(lambda r: median(r["private_dirty_kb"])),
         lambda v: "%s kB" % kb(v)),
        ("lines (datagrams, segments) sent per s", get(lambda r: median(r["tx_pkts"])),
         lambda v: "%.1f" % v),
        ("lines received per s", get(lambda r: median(r["rx_pkts"])), lambda v: "%.1f" % v),
        ("bytes sent per s", get(lambda r: median(r["tx_bytes"])), lambda v: kb(v)),
        ("bytes received per s", get(lambda r: median(r["rx_bytes"])), lambda v: kb(v)),
        ("false failures, clean network", get(lambda r: r["false_clean"]), lambda v: "%d" % v),
    ]
    for key in sorted(k for k in r if k.startswith("loss")):
        lv = r[key]
        rows += [
            ("false failures at %d %% loss, %d s" % (lv["percent"], lv["seconds"]),
             lv.get("false"), lambda v: "%d" % v),
            ("crash during %d %% loss seen by all: median" % lv["percent"],
             get(lambda r, lv=lv: median(lv["crash_s"])), lambda v: "%.2f s" % v),
            ("graceful stop during %d %% loss seen as failed" % lv["percent"],
             get(lambda r, lv=lv: lv["leave_verdicts"][1]), lambda v: "%d" % v),
        ]
    # counts of events (false failures, stops seen as failed) get no ratio: 0 / 1 says nothing
    counts = ("false failures", "seen as failed")
    return [(label, None if any(c in label for c in counts) else v, fmt(v, f))
            for label, v, f in rows]


def kb(x):
    return "{:,}".format(int(round(x))).replace(",", " ")


def pair_table(c, s):
    fc, fs = figures(c), dict((l, (v, t)) for l, v, t in figures(s))
    lines = ["| N=%d, per node | cmem | Serf | cmem / Serf |" % c["n"], "|---|---|---|---|"]
    for label, v, text in fc:
        sv, st = fs.get(label, (None, "—"))
        if text == "—" and st == "—":
            continue
        lines.append("| %s | %s | %s | %s |" % (label, text, st, ratio(v, sv)))
    for label, (sv, st) in fs.items():  # figures only Serf has (its event handler)
        if label not in {l for l, _, _ in fc} and st != "—":
            lines.append("| %s | — | %s | — |" % (label, st))
    return lines


def cdf_plot(pairs, path):
    """Crash-detection CDF of every agent and size, one curve each, with gnuplot."""
    series = []
    for c, s in pairs:
        for r, label in ((c, "cmem"), (s, "Serf (log)")):
            xs = sorted(r.get("crash_s", []))
            if xs:
                series.append(("%s N=%d" % (label, r["n"]), xs))
        xs = sorted(s.get("handler_crash_s", []))
        if xs:
            series.append(("Serf event handler N=%d" % s["n"], xs))
    if not series or shutil.which("gnuplot") is None:
        return None
    data = path[:-4] + ".dat"
    with open(data, "w") as f:
        for label, xs in series:
            f.write("# %s\n" % label)
            f.write("%.4f 0\n" % xs[0])  # the curve starts from 0 at the first detection
            for i, x in enumerate(xs):
                f.write("%.4f %.4f\n" % (x, (i + 1) / len(xs)))
            f.write("\n\n")
    plots = ", ".join("'%s' index %d using 1:2 with steps lw 2 title '%s'" % (data, i, label)
                      for i, (label, _) in enumerate(series))
    script = ("set terminal pngcairo size 900,500\nset output '%s'\n"
              "set title 'crash (kill -9) seen by each other node: time from the kill'\n"
              "set xlabel 'seconds'\nset ylabel 'fraction of detections'\nset logscale x\n"
              "set grid\nset key top left\nset yrange [0:1.02]\nplot %s\n" % (path, plots))
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        print("gnuplot failed: %s" % r.stderr.strip())
        return None
    return path


def main():
    if os.geteuid() != 0:
        sys.exit("bench-peers needs root (network namespaces): run it as root")
    if shutil.which(bl.SERF) is None:
        sys.exit("serf is not installed: `make bench-peers` installs it (apt-get install serf)")
    quick = bool(os.environ.get("BENCH_QUICK"))
    sizes = bl.env_list("BENCH_PEER_SIZES", [5] if quick else [5, 16])
    mach = bl.machine()
    version = serf_version()
    t0 = time.monotonic()
    pairs = []
    for n in sizes:
        p = params(n, quick)
        c = bl.run_size(bl.CmemAgent, n, p)
        hlog = os.path.join(BUILD, "bench-serf-handler-%d.log" % n)
        if os.path.exists(hlog):
            os.unlink(hlog)
        s = bl.run_size(bl.SerfAgent, n, p, handler_log=hlog)
        s["handler_crash_s"] = handler_times(s, hlog)
        pairs.append((c, s))
    png = cdf_plot(pairs, os.path.join(BUILD, "bench-crash-cdf.png"))
    out = ["### cmem and Serf side by side (`make bench-peers`)", "", bl.machine_line(mach),
           "cmem: %s. Serf: %s, %s. Same namespaces and bridge, one after the other; times from "
           "each agent's own events (Serf: its log line when it changes a member's state; its "
           "event handlers get them coalesced, shown apart); graceful stop: cmem SIGTERM, Serf "
           "SIGINT; CPU utime + stime; bytes are Ethernet frames (veth counters); lines are "
           "datagrams (Serf: also TCP segments)."
           % (pairs[0][0].get("settings", "?") if pairs else "?", version,
              pairs[0][1].get("settings", "?") if pairs else "?")]
    for c, s in pairs:
        out += [""] + pair_table(c, s)
    errors = ["%s N=%d: %s" % (r["agent"], r["n"], e) for pair in pairs for r in pair
              for e in r.get("errors", [])]
    if errors:
        out += ["", "Steps that did not complete:"] + ["- " + e for e in errors]
    if png:
        out += ["", "Crash-detection CDF: `%s`." % os.path.relpath(png, bl.ROOT)]
    text = "\n".join(out) + "\n"
    print("\n" + text)
    with open(os.path.join(BUILD, "bench-peers.md"), "w") as f:
        f.write(text)
    with open(os.path.join(BUILD, "bench-peers.json"), "w") as f:
        json.dump({"machine": mach, "serf": version, "pairs": pairs}, f, indent=1, default=str)
    print("written: %s/bench-peers.md and bench-peers.json (%.0f s in all)"
          % (BUILD, time.monotonic() - t0))


if __name__ == "__main__":
    main()
