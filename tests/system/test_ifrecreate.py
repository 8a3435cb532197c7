#!/usr/bin/env python3
"""System test: the interface is deleted and made again under a running daemon.

On one host of 4 the veth pair is deleted (the cluster declares that host
failed) and re-created with the same name and address.  The daemon follows
its interface by name through rtnetlink: with no restart (same pid) it is
alive again in every view, and sees every member alive, within 3 s of the
link coming back.  Once with multicast, once with unicast only (a seed).
Prints how long each took.
"""
import subprocess
import time

from cmemnet import REJOIN_MAX_S, Cluster, Watch, check, finish, need_root, scenario, sh, wait_until


def recreate(c, h):
    sh("ip", "-n", c.sw, "link", "add", "p%d" % h.i, "type", "veth", "peer", "name", "eth0",
       "netns", h.ns)
    sh("ip", "-n", c.sw, "link", "set", "p%d" % h.i, "master", "br0", "up")
    sh("ip", "-n", h.ns, "addr", "add", h.addr + "/16", "dev", "eth0")
    sh("ip", "-n", h.ns, "addr", "add", h.addr6 + "/64", "dev", "eth0", "nodad")
    sh("ip", "-n", h.ns, "link", "set", "eth0", "up")


def round_trip(mode, conf, extra):
    c = Cluster(4, conf=conf)
    if conf.get("multicast") == "false":  # prove no multicast is used
        for h in c.hosts:
            subprocess.run(["ip", "netns", "exec", h.ns, "nft", "-f", "-"], check=True, text=True,
                           capture_output=True,
                           input="table inet cmemnomcast {\n chain out {\n  type filter hook output "
                                 "priority 0;\n  meta l4proto udp ip daddr 224.0.0.0/4 drop\n }\n}\n")
    c.start_all(extra(c))
    check(wait_until(c.converged, 10), "%s: no convergence" % mode)
    h = c.hosts[1]
    others = [o for o in c.hosts if o is not h]
    pid = h.pid
    watches = [Watch(o) for o in others]

    t0 = time.monotonic()
    sh("ip", "-n", c.sw, "link", "del", "p%d" % h.i)  # both ends: eth0 is gone from h's namespace
    gone = wait_until(lambda: all(w.first("failed", h.name, t0) for w in watches), 5)
    check(gone, "%s: %s lost its interface but was not declared failed" % (mode, h.name))
    time.sleep(1.0)  # it sends into nothing for a while ("No such device" before the fix)

    t1 = time.monotonic()
    recreate(c, h)
    back = wait_until(lambda: c.converged(), 5)
    took = time.monotonic() - t1
    check(back, "%s: %s not back in every view 5 s after its interface was re-created: %s"
          % (mode, h.name, {x.name: x.states() for x in c.hosts}))
    check(h.running() and h.pid == pid, "%s: the daemon restarted or died" % mode)
    log = h.read_log()
    check("is back as index" in log, "%s: the log does not say the interface came back:\n%s"
          % (mode, log[-1500:]))
    print("ifrecreate (%s): veth of %s deleted and re-created; alive in all %d views and sees all "
          "%d alive %.3f s after the link came back, same pid" % (mode, h.name, len(others),
                                                                  len(c.hosts), took))
    check(took <= REJOIN_MAX_S, "%s: coming back took %.3f s > %.1f s" % (mode, took, REJOIN_MAX_S))
    for w in watches:
        w.stop()
    c.cleanup()


def main():
    need_root()
    with scenario("multicast"):
        round_trip("multicast", {}, lambda c: "")
    with scenario("unicast"):
        round_trip("unicast", {"multicast": "false"},
                   lambda c: 'peers = [ "%s" ];\n' % c.hosts[0].addr)
    finish()


if __name__ == "__main__":
    main()
