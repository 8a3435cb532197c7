#!/usr/bin/env python3
"""System test: partitions, crashes and name conflicts (issue scenarios 1, 2, 8).

1. 8 hosts split 4 | 4 (the bridge stops forwarding between the halves)
   until each side has declared the other failed, and none of its own;
   after healing every host hears every host of the other side again at
   its next heartbeat (within EVENT_MAX_S), no daemon restarted.
2. Each member of 5 crashes in turn (kill -9): every survivor declares it
   failed, never before the timeout (CRASH_MIN_S), within CRASH_MAX_S;
   min/median/max detection time printed (the simulator holds the figures).
8. Two hosts configured with the same name: both log the conflict, the
   other members log it too and their view does not flap between them.
"""
import time

from cmemnet import (CRASH_MAX_S, CRASH_MIN_S, EVENT_MAX_S, FAIL_AFTER_S, Cluster, Watch, check, finish,
                     median, need_root, scenario, wait_until)


def partition():
    c = Cluster(8)
    c.start_all()
    check(wait_until(c.converged, 10), "8 hosts did not converge")
    pids = [h.pid for h in c.hosts]
    watches = [Watch(h) for h in c.hosts]
    halves = [c.hosts[:4], c.hosts[4:]]

    def other_side(i):
        return halves[1] if i < 4 else halves[0]

    t0 = time.monotonic()
    c.partition(*halves)

    def split():
        return all(all(h.states().get(o.name) == "failed" for o in other_side(i))
                   for i, h in enumerate(c.hosts))
    wait_until(split, 10)
    for i, h in enumerate(c.hosts):
        st = h.states()
        check(all(st.get(o.name) == "failed" for o in other_side(i)),
              "partition: %s does not see the other side failed: %s" % (h.name, st))
        check(all(st.get(o.name) == "alive" for o in halves[i >= 4]),
              "partition: %s lost a member of its own side: %s" % (h.name, st))
    own_side_failures = [(i, e) for i, e in c.events_since(watches, t0, ("failed",))
                         if e["member"] not in {o.name for o in other_side(i)}]
    check(not own_side_failures, "false failures inside a side: %s" % own_side_failures)
    t1 = time.monotonic()
    c.heal()
    heard = []
    for i, w in enumerate(watches):
        for o in other_side(i):
            d = c.all_saw([w], "join", o.name, t1, 5)
            check(d, "partition healed: %s did not hear %s again within 5 s: %s"
                  % (c.hosts[i].name, o.name, c.hosts[i].states()))
            heard += d
    check(wait_until(c.converged, 2), "healed: the members lists differ: %s"
          % {h.name: h.states() for h in c.hosts})
    check([h.pid for h in c.hosts] == pids and all(h.running() for h in c.hosts),
          "a daemon restarted during the partition")
    restarts = c.events_since(watches, t0, ("restart",))
    check(not restarts, "restart events: %s" % restarts)
    print("partition: 8 hosts split 4|4 at the bridge for %.1f s: each side saw the other 4 failed, 0 "
          "false failures inside a side; healed: each host heard each of the other side again after "
          "min %.3f / median %.3f / max %.3f s, all 8 list all 8 alive; no restart"
          % (t1 - t0, min(heard), median(heard), max(heard)))
    check(max(heard) <= EVENT_MAX_S, "healing took %.3f s > %.3f s" % (max(heard), EVENT_MAX_S))
    c.cleanup()


def heard_lines(h, victim):
    """Lines h accepted from victim's current incarnation (0 if not listed alive)."""
    try:
        m = [m for m in h.query("members")["members"] if m["name"] == victim.name]
    except RuntimeError:
        return 0
    return m[0]["lines"] if m and m[0]["state"] == "alive" else 0


def crash_each():
    c = Cluster(5)
    c.start_all()
    check(wait_until(c.converged, 10), "5 hosts did not converge")
    watches = [Watch(h) for h in c.hosts]
    times = []
    for victim in c.hosts:
        # every survivor has heard the victim lately, with counters to learn from
        check(wait_until(lambda: all(heard_lines(h, victim) >= 10 for h in c.hosts if h is not victim), 10),
              "the survivors did not hear %s" % victim.name)
        others = [w for w, h in zip(watches, c.hosts) if h is not victim]
        t0 = time.monotonic()
        victim.kill()
        seen = c.all_saw(others, "failed", victim.name, t0, 10)
        check(seen, "crash of %s not seen by all survivors" % victim.name)
        times += seen
        victim.wait_exit()
        victim.start()
        check(wait_until(c.converged, 10), "no convergence after restarting %s" % victim.name)
        i = c.hosts.index(victim)
        watches[i].stop()
        watches[i] = Watch(victim)
    print("crash: each of 5 members killed in turn; %d detections: min %.3f / median %.3f / max %.3f s"
          % (len(times), min(times), median(times), max(times)))
    check(min(times) >= CRASH_MIN_S, "a crash was declared after %.3f s < %.2f s: before the timeout"
          % (min(times), CRASH_MIN_S))
    check(max(times) <= CRASH_MAX_S, "max detection %.3f s > %.2f s" % (max(times), CRASH_MAX_S))
    c.cleanup()


def name_conflict():
    c = Cluster(4)
    for h in c.hosts[:3]:
        h.start()
    check(wait_until(lambda: c.converged(c.hosts[:3]), 5), "3 hosts did not converge")
    watches = [Watch(h) for h in c.hosts[1:3]]
    dup = c.hosts[3]
    dup.start(conf_text=dup.config_text().replace('"node-4"', '"node-1"'))
    wait_until(lambda: all("also calls itself node-1" in h.read_log() for h in (c.hosts[0], dup)) and
               all(w.first("name_conflict", "node-1") for w in watches), 10)
    time.sleep(2 * FAIL_AFTER_S)  # long enough for the view to flap, if it did
    for h in (c.hosts[0], dup):
        check("name_conflict" in h.read_log() and "also calls itself node-1" in h.read_log(),
              "%s did not log the name conflict" % h.name)
    events = [e for w in watches for t, e in w.events if e.get("member") == "node-1"]
    kinds = [e["event"] for e in events]
    check("name_conflict" in kinds, "the others did not report the conflict: %s" % kinds)
    for w in watches:
        switches = [e for t, e in w.events if e.get("member") == "node-1" and e["event"] == "restart"]
        check(len(switches) <= 1, "the others' view flaps: %s" % kinds)
    view = {h.states().get("node-1") for h in c.hosts[1:3]}
    check(view == {"alive"}, "node-1 is %s" % view)
    conflicts = sum(h.query("stats")["other"]["name_conflicts"] for h in c.hosts[1:3])
    print("name conflict: both node-1 daemons logged it; the 2 others reported it (%d lines "
          "counted) and switched at most once (%s)" % (conflicts, ", ".join(sorted(set(kinds)))))
    for w in watches:
        w.stop()
    c.cleanup()


def main():
    need_root()
    with scenario("partition-heal"):
        partition()
    with scenario("crash-each"):
        crash_each()
    with scenario("name-conflict"):
        name_conflict()
    finish()


if __name__ == "__main__":
    main()
