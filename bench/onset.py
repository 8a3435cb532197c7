#!/usr/bin/env python3
"""Loss that starts at once on a settled cluster: false failures, real daemons.

bench-cluster puts its loss in host by host (one `nft` each) and counts
from when the last rule is in, on a cluster whose detectors have already
lived through earlier loss.  This asks the simulator's question
(sim/scenarios/loss-onset.sim, sim/README.md): N daemons start, settle on a
clean network for SETTLE seconds, then every path loses P % at one instant;
how many false failures follow, and when?

The loss is one nft table in the switch namespace (one transaction, so it
starts everywhere at once): a drop on the bridge's forward hook, which
runs once per copy of a frame and output port, is a receiver's input loss
(each receiver's copy decided alone, as bench's input rules do); a drop on
its prerouting hook, once per frame as it enters the bridge, is the
sender's output loss (one decision for every receiver).  The rules count
what they see and what they drop, to show the rate is the one asked for.

Prints one line per run and a summary; needs root, run it under the lock:
    flock /tmp/cmem-systest.lock python3 bench/onset.py
Environment: ONSET_N (64), ONSET_PCT (30), ONSET_HOOKS (input; or
input,output), ONSET_SETTLE_S (30), ONSET_S (20), ONSET_RUNS (1),
CMEM_BUILD.
"""
import os
import re
import subprocess
import sys
import time

import benchlib as bl
from benchlib import BenchError, Cluster, EventHub, log


def onset_rules(port, pct, hooks):
    """The nft table: (hook name in the bridge, what it stands for)."""
    chains = []
    for hook, chain in (("input", "forward"), ("output", "prerouting")):
        if hook in hooks:
            chains.append("chain %s {\n type filter hook %s priority 0;\n udp dport %d counter\n"
                          " udp dport %d numgen random mod 100 < %d counter drop\n}\n"
                          % (chain, chain, port, port, pct))
    return "table bridge onset {\n%s}\n" % "".join(chains)


def nft(c, *args, text=None):
    r = subprocess.run(["ip", "netns", "exec", c.sw, "nft"] + list(args), input=text, text=True,
                       capture_output=True)
    if r.returncode != 0:
        raise BenchError("nft %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def drop_rates(c):
    """[(chain, seen, dropped)] from the rules' counters."""
    out = nft(c, "list", "table", "bridge", "onset")
    rates = []
    for chain, body in re.findall(r"chain (\w+) \{(.*?)\n\t\}", out, re.S):
        counts = [int(x) for x in re.findall(r"counter packets (\d+)", body)]
        if len(counts) == 2:
            rates.append((chain, counts[0], counts[1]))
    return rates


def one_run(n, pct, hooks, settle, secs):
    c = Cluster(n)
    hub = EventHub()
    agent = bl.CmemAgent(c, hub)
    p = bl.Params(converge_timeout=120)
    res = {}
    try:
        bl._start_all(agent, c.hosts, p, res)
        time.sleep(settle)
        before = len(hub.since(0, kinds={"failed"}))
        t0 = time.monotonic()
        nft(c, "-f", "-", text=onset_rules(agent.port, pct, hooks))
        t_in = time.monotonic() - t0
        time.sleep(secs)
        bad = [e.mono - t0 for e in hub.since(t0, kinds={"failed"})]
        rates = drop_rates(c)
        nft(c, "delete", "table", "bridge", "onset")
        return {"converge_s": res["converge_s"], "before": before, "nft_s": t_in, "false": bad,
                "rates": rates}
    finally:
        c.cleanup()


def main():
    if os.geteuid() != 0:
        sys.exit("onset.py needs root (network namespaces)")
    n, pct = bl.env_int("ONSET_N", 64), bl.env_int("ONSET_PCT", 30)
    hooks = tuple(os.environ.get("ONSET_HOOKS", "input").split(","))
    settle, secs = bl.env_int("ONSET_SETTLE_S", 30), bl.env_int("ONSET_S", 20)
    counts = []
    for k in range(bl.env_int("ONSET_RUNS", 1)):
        r = one_run(n, pct, hooks, settle, secs)
        f = sorted(r["false"])
        counts.append(len(f))
        log("run %d: N=%d converged in %.1f s, %d false failures while settling; %d %% loss on %s "
            "at once (one nft, %.3f s): %d false failures in %d s, %d of them within 2 s; first "
            "at %s s; drops: %s" % (
                k + 1, n, r["converge_s"], r["before"], pct, "+".join(hooks), r["nft_s"], len(f),
                secs, sum(1 for x in f if x < 2.0), "%.2f" % f[0] if f else "—",
                ", ".join("%s %d of %d (%.1f %%)" % (ch, d, s, 100.0 * d / max(s, 1))
                          for ch, s, d in r["rates"])))
    print("onset: N=%d, %d %% %s loss at once after %d s clean: false failures per run %s"
          % (n, pct, "+".join(hooks), settle, counts))


if __name__ == "__main__":
    main()
