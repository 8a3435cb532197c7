#!/usr/bin/env python3
"""System test: clusters of real cmemd daemons in network namespaces.

3 and 8 daemons converge; kill -9 of one is seen as failed by all others;
SIGTERM of one is seen as left within 100 ms; a restarted one rejoins as a
restart; a join into 16 members causes at most 3 cluster replies.
Prints the measured convergence, detection and leave times.
"""
import signal
import time

from cmemnet import Cluster, Watch, check, median, need_root, wait_until


def converge(n, group="239.192.51.10"):
    c = Cluster(n, group=group)
    t0 = time.monotonic()
    c.start_all()
    ok = wait_until(c.converged, 10)
    took = time.monotonic() - t0
    check(ok, "%d daemons did not converge in 10 s: %s" % (n, {h.name: h.states() for h in c.hosts}))
    print("converge: %d daemons on %s list all %d alive %.3f s after start" % (n, group, n, took))
    return c


def memory(c):
    rss = []
    for h in c.hosts:
        with open("/proc/%d/status" % h.pid) as f:
            rss += [int(l.split()[1]) for l in f if l.startswith("VmRSS:")]
    print("memory: resident size per daemon in an %d-member cluster: min %d kB, max %d kB"
          % (len(c.hosts), min(rss), max(rss)))
    check(max(rss) <= 1536, "a daemon uses %d kB > 1.5 MB" % max(rss))


def crash_and_leave(c):
    watches = [Watch(h) for h in c.hosts]
    time.sleep(0.3)
    victim = c.hosts[0]
    others = c.hosts[1:]
    t0 = time.monotonic()
    victim.kill(signal.SIGKILL)
    seen = wait_until(lambda: all(w.first("failed", victim.name, t0) for w in watches[1:]) and
                      [w.first("failed", victim.name, t0) - t0 for w in watches[1:]], 10)
    check(seen, "kill -9 of %s not seen as failed by all: %s" % (victim.name, [h.states() for h in others]))
    print("crash: %s killed, declared failed by %d members after min %.3f / median %.3f / max %.3f s"
          % (victim.name, len(others), min(seen), median(seen), max(seen)))
    check(max(seen) < 3.0, "crash detection took %.3f s" % max(seen))

    leaver = c.hosts[1]
    t0 = time.monotonic()
    leaver.kill(signal.SIGTERM)
    rest = watches[2:]
    seen = wait_until(lambda: all(w.first("leave", leaver.name, t0) for w in rest) and
                      [w.first("leave", leaver.name, t0) - t0 for w in rest], 5)
    check(seen, "SIGTERM of %s not seen as left by all" % leaver.name)
    check(leaver.wait_exit(5) == 0, "SIGTERM: %s did not exit 0" % leaver.name)
    print("leave: %s stopped with SIGTERM, seen as left by %d members after max %.3f s"
          % (leaver.name, len(rest), max(seen)))
    check(max(seen) <= 0.1, "leave took %.3f s > 100 ms" % max(seen))
    for h in c.hosts[2:]:
        st = h.states()
        check(st.get(victim.name) == "failed" and st.get(leaver.name) == "left",
              "%s sees %s" % (h.name, st))

    # the crashed member restarts: a restart, within about a heartbeat
    t0 = time.monotonic()
    victim.start()
    seen = wait_until(lambda: all(w.first("restart", victim.name, t0) for w in rest) and
                      [w.first("restart", victim.name, t0) - t0 for w in rest], 5)
    check(seen, "restart of %s not reported as restart" % victim.name)
    print("restart: %s restarted, reported as restart by %d members after max %.3f s (incl. start-up)"
          % (victim.name, len(rest), max(seen)))
    check(wait_until(lambda: c.converged(), 5), "no convergence after restart")
    for w in watches:
        w.stop()


def join_replies():
    c = Cluster(17)
    for h in c.hosts[:16]:
        h.start(wait=False)
    check(wait_until(lambda: c.converged(c.hosts[:16]) , 15), "16 daemons did not converge")
    time.sleep(1.0)  # let the start-up replies settle

    def sent_cluster():
        return sum(h.query("stats")["sent"]["cluster"] for h in c.hosts[:16])

    before = sent_cluster()
    t0 = time.monotonic()
    c.hosts[16].start()
    check(wait_until(lambda: c.converged(), 10), "joiner did not converge")
    took = time.monotonic() - t0
    time.sleep(1.0)
    replies = sent_cluster() - before
    suppressed = sum(h.query("stats")["other"]["replies_suppressed"] for h in c.hosts[:16])
    print("join: a join into 16 members caused %d cluster replies (%d suppressed); all 17 converged in %.3f s"
          % (replies, suppressed, took))
    check(1 <= replies <= 3, "join caused %d cluster replies" % replies)
    c.cleanup()


def main():
    need_root()
    c = converge(3)
    h = c.hosts[0]  # the interface may be named by a local address too
    h.kill(signal.SIGTERM)
    h.wait_exit()
    h.start(conf_text=h.config_text().replace('interface = "eth0"', 'interface = "%s"' % h.addr))
    check(wait_until(c.converged, 5), "no convergence with interface = %s" % h.addr)
    check(h.query("status")["cluster"]["interface"] == "eth0", "interface by address not resolved")
    print("interface: node-1 configured with its address %s rejoined on eth0" % h.addr)
    c.cleanup()
    c = converge(3, group="ff15::51:510")
    addrs = {m["address"] for m in c.hosts[0].query("members")["members"]}
    check(all(":" in a for a in addrs), "IPv6 cluster shows addresses %s" % addrs)
    c.hosts[2].kill()
    check(wait_until(lambda: c.hosts[0].states().get("node-3") == "failed", 3), "IPv6: crash not seen")
    print("ipv6: members seen at %s; a crash was detected" % sorted(addrs))
    c.cleanup()
    c = converge(8)
    memory(c)
    crash_and_leave(c)
    c.cleanup()
    join_replies()
    print("PASS test_membership")


if __name__ == "__main__":
    main()
