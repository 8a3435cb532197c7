#!/usr/bin/env python3
"""System test: local health, the quorum view, and leaving under loss.

1. Bursts: one host's input blacks out for 0.8 s every 2 s for 40 s (40 %
   loss, in bursts).  That host holds its verdicts (every peer went quiet at
   once: its own input is the likelier fault) and says it lost quorum; at
   most 2 false failures per peer there, none after the first 10 s, none at
   the other hosts.
2. Quorum: 5 members, one host's input dropped for good: that host reports
   quorum_lost within a crash's detection time (CRASH_MAX_S; and later
   fails everyone); the
   other four keep quorum and see one failure.
3. Leave at 30 % loss (input and output on every host): a graceful stop is
   seen as `leave`, never `failed`, by every observer (4 stops x 4).
4. Paused: a daemon stopped for 5 s (SIGSTOP, as a paused VM) judges the
   lines queued meanwhile by their arrival time (the kernel's timestamp):
   no peer's clock reported behind, no peer failed by it.
"""
import signal
import subprocess
import time

from cmemnet import CRASH_MAX_S, HEARD_MAX_MS, Cluster, Watch, check, finish, need_root, scenario, wait_stable, wait_until

PORT = 51510


def nft_input_drop(h, on):
    if on:
        rules = ("table inet blackout {\n chain input { type filter hook input priority 0; "
                 "udp dport %d drop; }\n}\n" % PORT)
        subprocess.run(["ip", "netns", "exec", h.ns, "nft", "-f", "-"], input=rules, text=True,
                       check=True, capture_output=True)
    else:
        subprocess.run(["ip", "netns", "exec", h.ns, "nft", "delete", "table", "inet", "blackout"],
                       capture_output=True)


def events(w, kind, since=0.0):
    return [(t, e) for t, e in list(w.events) if t >= since and e.get("event") == kind]


def started(n, label):
    """n daemons converged, each with a watcher (ready on the daemon's first reply)."""
    c = Cluster(n)
    c.start_all()
    check(wait_until(c.converged, 15), "%s: no convergence" % label)
    return c, [Watch(h) for h in c.hosts]


def bursts():
    c, ws = started(5, "bursts")
    victim = c.hosts[0]
    t0 = time.monotonic()
    stop = t0 + 40
    while time.monotonic() < stop:
        nft_input_drop(victim, True)
        time.sleep(0.8)
        nft_input_drop(victim, False)
        time.sleep(1.2)
    time.sleep(1.0)
    at_victim = events(ws[0], "failed", t0)
    late = [e for t, e in at_victim if t - t0 > 10]
    per_peer = {}
    for _, e in at_victim:
        per_peer[e["member"]] = per_peer.get(e["member"], 0) + 1
    elsewhere = [e for w in ws[1:] for _, e in events(w, "failed", t0)]
    lost = len(events(ws[0], "quorum_lost", t0))
    timeouts = {m["name"]: m["timeout_ms"] for m in victim.query("members")["members"]
                if not m.get("self")}
    print("bursts: input of %s dark 0.8 s in every 2 s for 40 s: %d false failures there "
          "(per peer %s, %d after the first 10 s), %d at the other hosts; quorum_lost said %d "
          "times; its timeouts now %s ms"
          % (victim.name, len(at_victim), per_peer or "{}", len(late), len(elsewhere), lost,
             sorted(timeouts.values())))
    check(all(n <= 2 for n in per_peer.values()), "bursts: more than 2 false failures of a peer")
    check(not late, "bursts: false failures after the first 10 s: %s" % late[:3])
    check(not elsewhere, "bursts: false failures at the other hosts: %s" % elsewhere[:3])
    check(lost >= 1, "bursts: the blacked-out host never said it lost quorum")
    c.cleanup()


def quorum():
    c, ws = started(5, "quorum")
    victim = c.hosts[0]
    t0 = time.monotonic()
    nft_input_drop(victim, True)
    lost = wait_until(lambda: events(ws[0], "quorum_lost", t0), 5)
    check(lost, "quorum: %s did not report quorum_lost within 5 s" % victim.name)
    dt = lost[0][0] - t0
    failed_all = wait_until(lambda: len(events(ws[0], "failed", t0)) >= 4, 10)
    time.sleep(0.5)
    # its output still works: the others keep hearing it, and keep quorum
    others_lost = [e for w in ws[1:] for _, e in events(w, "quorum_lost", t0)]
    others_failed = [e for w in ws[1:] for _, e in events(w, "failed", t0)]
    print("quorum: %s's input dropped: it reported quorum_lost after %.3f s (%s), failed all 4 "
          "peers after the hold: %s; the other four: %d failures, quorum lost %d times"
          % (victim.name, dt, lost[0][1].get("detail"), bool(failed_all), len(others_failed),
             len(others_lost)))
    check(dt <= CRASH_MAX_S, "quorum: quorum_lost after %.3f s, more than the detection time %.1f s"
          % (dt, CRASH_MAX_S))
    check(failed_all, "quorum: the cut-off host did not fail its peers after the hold")
    check(not others_failed, "quorum: the others failed someone: %s" % others_failed[:3])
    check(not others_lost, "quorum: a host of the majority said it lost quorum")
    nft_input_drop(victim, False)
    regained = wait_until(lambda: events(ws[0], "quorum_regained", t0), 5)
    check(regained, "quorum: no quorum_regained once the input came back")
    c.cleanup()


def loss_learned(hosts, at_least=0.2):
    """Every running host measures loss on every path (the leave copies and
    the timeouts follow that estimate)."""
    def learned():
        for h in hosts:
            if h.running():
                ms = [m for m in h.query("members")["members"] if not m.get("self")]
                if len(ms) < len(hosts) - 1 or any(m["loss"] < at_least for m in ms):
                    return False
        return True
    return wait_until(learned, 30, step=0.2)


def leave_under_loss():
    c, ws = started(5, "leave")
    c.loss(30, hooks=("input", "output"))
    check(loss_learned(c.hosts), "leave: the loss was not measured: %s"
          % {h.name: [m["loss"] for m in h.query("members")["members"]] for h in c.hosts})
    seen_left = seen_failed = 0
    for rnd in range(4):
        h = c.hosts[rnd + 1]
        t0 = time.monotonic()
        h.kill(signal.SIGTERM)
        h.wait_exit(5)
        observers = [w for i, w in enumerate(ws) if i != rnd + 1]
        wait_until(lambda: all(w.first("leave", h.name, t0) or w.first("failed", h.name, t0)
                               for w in observers), 10)
        for w in observers:
            if w.first("leave", h.name, t0):
                seen_left += 1
            elif w.first("failed", h.name, t0):
                seen_failed += 1
        h.start()
        ws[rnd + 1] = Watch(h)
        wait_until(lambda: all(w.first("join", h.name, t0) or w.first("restart", h.name, t0)
                               for w in observers), 15)
        loss_learned(c.hosts)  # the restarted one too, and its peers of it
    print("leave: 4 graceful stops at 30%% loss in and out: seen as leave %d times, as failed "
          "%d times (of 16)" % (seen_left, seen_failed))
    check(seen_failed == 0 and seen_left == 16, "leave: a graceful stop was not seen as leave")
    c.cleanup()


def paused():
    c, ws = started(3, "paused")
    h = c.hosts[0]
    t0 = time.monotonic()
    h.kill(signal.SIGSTOP)
    time.sleep(5)
    h.kill(signal.SIGCONT)
    # it has read what queued meanwhile once it hears every peer afresh
    wait_until(lambda: all(m["state"] == "alive" and m["last_heard_ms"] < HEARD_MAX_MS
                           for m in h.query("members")["members"] if not m.get("self")), 10)
    wait_stable(lambda: len(ws[0].events), quiet=0.3)  # its events, if any, are read
    skews = {m["name"]: m.get("skew_s", 0) for m in h.query("members")["members"]
             if not m.get("self")}
    skew_events = events(ws[0], "skew", t0)
    failed_by_it = events(ws[0], "failed", t0)
    print("paused: %s stopped 5 s then continued: peers' skew as it sees them %s s; %d skew "
          "events, %d peers failed by it; the others saw it %s"
          % (h.name, skews, len(skew_events), len(failed_by_it),
             "fail and come back" if all(w.first("failed", h.name, t0) for w in ws[1:])
             else "stay"))
    check(all(abs(v) <= 1 for v in skews.values()), "paused: skew reported %s" % skews)
    check(not skew_events, "paused: skew events %s" % skew_events[:2])
    check(not failed_by_it, "paused: it failed its peers: %s" % failed_by_it[:2])
    c.cleanup()


def main():
    need_root()
    for name, fn in (("quorum", quorum), ("bursts", bursts), ("leave", leave_under_loss),
                     ("paused", paused)):
        with scenario(name):
            fn()
    finish()


if __name__ == "__main__":
    main()
