#!/usr/bin/env python3
"""System test: unicast peers (issue 12), real daemons in network namespaces.

1. Two subnets joined by a router namespace, UDP multicast dropped on every
   host (nft), `multicast = false` and one seed: all converge; a late joiner
   is seen by all; kill -9 (the seed included) is seen by all
   (CRASH_MIN_S .. CRASH_MAX_S); SIGTERM is seen as `left`; the router's
   link to one subnet goes down until each side sees the other fail, and
   comes back: all re-form (REJOIN_MAX_S) with no restart.
2. Mixed, on one segment: members with multicast and a seed, members with
   unicast only, and one with multicast only.  The first kind sees everyone,
   the unicast-only ones see each other and the first kind, the
   multicast-only one sees itself and the first kind.
3. IPv6 unicast with an IPv6 seed: converges, a crash is seen.
4. A forged cjoin (wrong key) from an unknown address draws no datagram to
   it (nft counter on the daemon's egress), while a correctly signed one
   does (so the counter works); a recorded line replayed from a new source
   address adds no peer.
Prints the join, crash, leave and heal times and the datagrams per line.
Under `make soak` (CMEM_SOAK=1) also: 16 members, unicast only, for 30 s:
CPU per daemon (from /proc/PID/stat) and datagrams per line.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import cmemnet
from cmemnet import (CRASH_MAX_S, CRASH_MIN_S, EVENT_MAX_S, FAIL_AFTER_S, HEARTBEAT_MAX_S, REJOIN_MAX_S, Cluster,
                     Host, Watch, check, finish, median, need, need_root, scenario, sh, wait_until)

INJECT = os.path.join(cmemnet.BUILD, "cmem-inject")

NO_MCAST = """table inet cmemnomcast {
  chain in { type filter hook input priority 0; meta l4proto udp ip daddr 224.0.0.0/4 drop; meta l4proto udp ip6 daddr ff00::/8 drop; }
  chain out { type filter hook output priority 0; meta l4proto udp ip daddr 224.0.0.0/4 drop; meta l4proto udp ip6 daddr ff00::/8 drop; }
}
"""


def nft(ns, rules):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True,
                   check=True, capture_output=True)


def no_multicast(c):
    for h in c.hosts:
        nft(h.ns, NO_MCAST)


class Routed(Cluster):
    """Hosts alternately on subnet 1 (bridge in self.sw) and subnet 2 (bridge in
    self.sw2), joined by a router namespace with forwarding on."""

    def _build(self, n):
        self.sw2 = self.prefix + "sw2"
        self.rt = self.prefix + "rt"
        for ns in (self.sw, self.sw2, self.rt):
            sh("ip", "netns", "add", ns)
        for k, sw in ((1, self.sw), (2, self.sw2)):
            sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
            sh("ip", "-n", sw, "link", "set", "br0", "up")
            sh("ip", "-n", sw, "link", "add", "up%d" % k, "type", "veth", "peer", "name",
               "r%d" % k, "netns", self.rt)
            sh("ip", "-n", sw, "link", "set", "up%d" % k, "master", "br0", "up")
            sh("ip", "-n", self.rt, "addr", "add", "10.81.%d.254/24" % k, "dev", "r%d" % k)
            sh("ip", "-n", self.rt, "addr", "add", "fd81:%d::fe/64" % k, "dev", "r%d" % k, "nodad")
            sh("ip", "-n", self.rt, "link", "set", "r%d" % k, "up")
        sh("ip", "netns", "exec", self.rt, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", self.rt, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        for _ in range(n):
            self.add_host()

    def add_host(self):
        h = Host(self, len(self.hosts) + 1)
        side = 1 if h.i % 2 else 2
        sw = self.sw if side == 1 else self.sw2
        h.side = side
        h.addr = "10.81.%d.%d" % (side, h.i)
        h.addr6 = "fd81:%d::%x" % (side, h.i)
        sh("ip", "netns", "add", h.ns)
        sh("ip", "-n", sw, "link", "add", "p%d" % h.i, "type", "veth", "peer", "name", "eth0",
           "netns", h.ns)
        sh("ip", "-n", sw, "link", "set", "p%d" % h.i, "master", "br0", "up")
        sh("ip", "-n", h.ns, "link", "set", "lo", "up")
        sh("ip", "-n", h.ns, "addr", "add", h.addr + "/24", "dev", "eth0")
        sh("ip", "-n", h.ns, "addr", "add", h.addr6 + "/64", "dev", "eth0", "nodad")
        sh("ip", "-n", h.ns, "link", "set", "eth0", "up")
        sh("ip", "-n", h.ns, "route", "add", "default", "via", "10.81.%d.254" % side)
        sh("ip", "-n", h.ns, "-6", "route", "add", "default", "via", "fd81:%d::fe" % side)
        self.hosts.append(h)
        return h

    def cleanup(self):
        super().cleanup()
        for ns in (self.sw2, self.rt):
            sh("ip", "netns", "del", ns, check=False)


def transport(h):
    try:
        return h.query("status")["transport"]
    except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired):
        return {}


def detect(c, victim, watches, what="failed", limit=5):
    """Kill victim (SIGKILL, or SIGTERM for what='leave'); seconds until each other member reported it."""
    others = [w for h, w in watches.items() if h is not victim and h.running()]
    t0 = time.monotonic()
    victim.kill(signal.SIGTERM if what == "leave" else signal.SIGKILL)
    seen = wait_until(lambda: all(w.first(what, victim.name, t0) for w in others) and
                      [w.first(what, victim.name, t0) - t0 for w in others], limit)
    check(seen, "%s of %s not seen by all: %s" % (what, victim.name,
                                                  {h.name: h.states() for h in c.hosts if h.running()}))
    victim.wait_exit(5)
    return seen


def routed():
    """The routed parts, one scenario each, on one cluster."""
    net = None
    with scenario("routed-start"):
        net = routed_start()
    joined = crashed = healed = None
    with scenario("routed-late-join"):
        joined = routed_late_join(*need(net, "routed-start"))
    with scenario("routed-datagrams"):
        need(joined, "routed-late-join")  # 6 daemons: 5 peers each
        routed_datagrams(net[0])
    with scenario("routed-crashes"):
        need(joined, "routed-late-join")
        crashed = routed_crashes(*net)
    with scenario("routed-partition"):
        need(crashed, "routed-crashes")
        partition(net[0])
        healed = True
    with scenario("routed-leave"):
        need(healed, "routed-partition")
        routed_leave(*net)
    if net:
        net[0].cleanup()


def routed_start():
    c = Routed(6, conf={"multicast": "false"})
    no_multicast(c)
    seed = c.hosts[0]
    peers = 'peers = [ "%s" ];\n' % seed.addr
    t0 = time.monotonic()
    for h in c.hosts[:-1]:
        h.start(peers, wait=False)
    for h in c.hosts[:-1]:
        check(wait_until(lambda: h.proc.poll() is not None or h.ctl_ok("status"), 5) and h.running(),
              "%s did not start: %s" % (h.name, h.read_log()[-2000:]))
    ok = wait_until(lambda: c.converged(c.hosts[:-1]), 10)
    check(ok, "5 unicast daemons on two subnets did not converge: %s" %
          {h.name: h.states() for h in c.hosts})
    print("routed: 5 daemons on 2 subnets, multicast dropped, one seed: all alive %.3f s after start"
          % (time.monotonic() - t0))
    # one file serves every host: the seed skips itself
    check("peer %s port %d is this host: skipped" % (seed.addr, c.port) in seed.read_log()
          and transport(seed)["seeds"] == 0, "the seed did not skip its own address: %s" % transport(seed))
    return c, {}, peers


def routed_late_join(c, watches, peers):
    late = c.hosts[-1]
    watches.update({h: Watch(h) for h in c.hosts[:-1]})
    t0 = time.monotonic()
    late.start(peers)
    watches[late] = Watch(late)
    seen = wait_until(lambda: all(w.first("join", late.name, t0) for h, w in watches.items() if h is not late)
                      and [w.first("join", late.name, t0) - t0 for h, w in watches.items() if h is not late], 5)
    check(seen, "late joiner %s not seen by all" % late.name)
    check(wait_until(lambda: c.converged(), 5), "no convergence with the late joiner: %s" %
          {h.name: h.states() for h in c.hosts})
    print("routed: join of %s (other subnet) seen by all 5 after min %.3f / max %.3f s (from exec)"
          % (late.name, min(seen), max(seen)))
    return True


def routed_datagrams(c):
    # datagrams per line: each sends to the 5 others and nothing to itself
    t = transport(c.hosts[2])
    wait_until(lambda: transport(c.hosts[2])["lines_sent"] - t["lines_sent"] >= 10, 5)
    t2 = transport(c.hosts[2])
    per_line = (t2["datagrams_sent"] - t["datagrams_sent"]) / max(1, t2["lines_sent"] - t["lines_sent"])
    print("routed: %s sends %.2f datagrams per line to %d peers (%d seeds)"
          % (c.hosts[2].name, per_line, t2["peers"], t2["seeds"]))
    check(t2["peers"] == 5 and 4.9 <= per_line <= 5.05,
          "expected 5 peers and 5 datagrams per line, got %s" % t2)


def routed_crashes(c, watches, peers):
    times = []
    for victim in (c.hosts[1], c.hosts[0], c.hosts[4]):  # one on subnet 2, the seed, one on subnet 1
        times += detect(c, victim, watches)
        t0 = time.monotonic()
        victim.start(peers)
        watches[victim] = Watch(victim)
        check(wait_until(lambda: c.converged(), 8), "%s restarted: no convergence: %s"
              % (victim.name, {h.name: h.states() for h in c.hosts}))
        print("routed: %s restarted and back in every view after %.3f s" % (victim.name, time.monotonic() - t0))
    print("routed: kill -9 of 3 members (the seed included): %d detections min %.3f / median %.3f / max %.3f s"
          % (len(times), min(times), median(times), max(times)))
    check(min(times) >= CRASH_MIN_S and max(times) <= CRASH_MAX_S, "crash detection %.3f .. %.3f s, "
          "outside %.3f .. %.1f s" % (min(times), max(times), CRASH_MIN_S, CRASH_MAX_S))
    return True


def routed_leave(c, watches, peers):
    leaver = c.hosts[2]
    seen = detect(c, leaver, watches, what="leave", limit=2)
    print("routed: SIGTERM of %s seen as left by all after max %.3f s" % (leaver.name, max(seen)))
    check(max(seen) <= EVENT_MAX_S, "leave took %.3f s > %.3f s" % (max(seen), EVENT_MAX_S))
    for w in watches.values():
        w.stop()


def partition(c):
    """The router's link to subnet 2 down until each side sees the other failed, then up: no restart."""
    side1 = [h for h in c.hosts if h.side == 1 and h.running()]
    side2 = [h for h in c.hosts if h.side == 2 and h.running()]
    pids = {h.name: h.pid for h in c.hosts}
    sh("ip", "-n", c.rt, "link", "set", "r2", "down")
    split = wait_until(lambda: c.converged(side1) and c.converged(side2), 5)
    check(split, "partition not seen: %s" % {h.name: h.states() for h in c.hosts})
    t_down = time.monotonic()
    wait_until(lambda: all(all(h.states().get(o.name) == "failed" for o in side2) for h in side1), 10)
    for h in side1:
        st = h.states()
        check(all(st.get(o.name) == "failed" for o in side2), "%s sees %s in the partition" % (h.name, st))
    t0 = time.monotonic()
    sh("ip", "-n", c.rt, "link", "set", "r2", "up")
    ok = wait_until(lambda: c.converged(), 10)
    took = time.monotonic() - t0
    check(ok, "partition healed but no convergence in 10 s: %s" % {h.name: h.states() for h in c.hosts})
    check(all(h.running() and h.pid == pids[h.name] for h in side1 + side2), "a daemon restarted")
    print("routed: subnets partitioned %.1f s (router link down), each side saw the other failed; "
          "re-formed %.3f s after the link came back, no restart" % (t0 - t_down, took))
    check(took <= REJOIN_MAX_S, "re-forming took %.3f s > %.1f s" % (took, REJOIN_MAX_S))


@scenario
def mixed():
    c = Cluster(5)
    both, uni, mc_only = c.hosts[:2], c.hosts[2:4], c.hosts[4]
    seed = 'peers = [ "%s" ];\n' % both[0].addr
    for h in both:
        h.start(seed, wait=False)
    for h in uni:
        h.start(seed + "multicast = false;\n", wait=False)
    mc_only.start("", wait=False)
    for h in c.hosts:
        check(wait_until(lambda: h.proc.poll() is not None or h.ctl_ok("status"), 5) and h.running(),
              "%s did not start: %s" % (h.name, h.read_log()[-2000:]))
    names = lambda hs: {h.name for h in hs}
    want = {h.name: names(c.hosts) for h in both}
    want.update({h.name: names(both + uni) for h in uni})
    want[mc_only.name] = names(both + [mc_only])

    def alive(h):
        return {n for n, s in h.states().items() if s == "alive"}
    ok = wait_until(lambda: all(alive(h) == want[h.name] for h in c.hosts), 10)
    check(ok, "mixed: views %s, wanted %s" % ({h.name: alive(h) for h in c.hosts}, want))
    time.sleep(2 * FAIL_AFTER_S)  # and it stays so: longer than a failure timeout
    check(all(alive(h) == want[h.name] for h in c.hosts),
          "mixed: views changed: %s" % {h.name: alive(h) for h in c.hosts})
    print("mixed: multicast+seed members see all 5; unicast-only see the 4 unicast-capable; "
          "the multicast-only member sees itself and the 2 multicast+seed members")
    c.cleanup()


@scenario
def ipv6():
    c = Cluster(3, group="ff15::51:510", conf={"multicast": "false"})
    no_multicast(c)
    peers = 'peers = [ "[%s]:%d" ];\n' % (c.hosts[0].addr6, c.port)
    t0 = time.monotonic()
    for h in c.hosts:
        h.start(peers, wait=False)
    ok = wait_until(c.converged, 10)
    check(ok, "IPv6 unicast: no convergence: %s" % {h.name: h.states() for h in c.hosts})
    addrs = {m["name"]: m["address"] for m in c.hosts[0].query("members")["members"]}
    check(addrs[c.hosts[1].name] == c.hosts[1].addr6, "IPv6 unicast: addresses %s" % addrs)
    print("ipv6: 3 daemons, unicast only, IPv6 seed: converged %.3f s after start" % (time.monotonic() - t0))
    watches = {h: Watch(h) for h in c.hosts}
    seen = detect(c, c.hosts[2], watches)
    print("ipv6: kill -9 seen by both others after max %.3f s" % max(seen))
    check(CRASH_MIN_S <= min(seen) and max(seen) <= CRASH_MAX_S, "IPv6 unicast crash detection %.3f .. %.3f s"
          % (min(seen), max(seen)))
    for w in watches.values():
        w.stop()
    c.cleanup()


def inject_line(c, keyring, name, verb="cjoin"):
    r = sh(INJECT, "send", "--keyring", keyring, "--name", name, "--verb", verb, "--print")
    return r.stdout


def send_from(host, line, dst, port):
    """One UDP datagram from host's namespace, from its own address."""
    code = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
            "s.bind(('', %d)); [s.sendto(l.encode() + b'\\n', ('%s', %d)) for l in sys.stdin.read().splitlines() if l]"
            % (port, dst, port))
    subprocess.run(["ip", "netns", "exec", host.ns, "python3", "-c", code], input=line, text=True,
                   check=True, capture_output=True, timeout=10)


def egress_counter(host, dst):
    nft(host.ns, "table inet cmemwatch {\n chain out {\n  type filter hook output priority 0;\n"
                 "  ip daddr %s counter\n }\n}\n" % dst)


def egress_packets(host):
    r = sh("ip", "netns", "exec", host.ns, "nft", "list", "table", "inet", "cmemwatch")
    m = re.search(r"counter packets (\d+)", r.stdout)
    return int(m.group(1)) if m else -1


@scenario
def attacks():
    c = Cluster(3, conf={"multicast": "false"})
    attacker = c.add_host()  # no daemon: sends with cmem-inject's lines
    no_multicast(c)
    target = c.hosts[0]
    peers = 'peers = [ "%s" ];\n' % target.addr
    for h in c.hosts[:3]:
        h.start(peers, wait=False)
    check(wait_until(lambda: c.converged(c.hosts[:3]), 10), "attack cluster did not converge")
    egress_counter(target, attacker.addr)
    before = transport(target)["peers"]

    wrong = cmemnet.write_keyring(os.path.join(c.dir, "wrong.keys"))
    mac0 = target.query("stats")["dropped"]["bad_mac"]
    send_from(attacker, inject_line(c, wrong, "intruder"), target.addr, c.port)
    # once counted, it was handled: a reply would have been sent at once
    wait_until(lambda: target.query("stats")["dropped"]["bad_mac"] > mac0, 5)
    time.sleep(HEARTBEAT_MAX_S)  # and a heartbeat more, should one go to it
    sent = egress_packets(target)
    stats = target.query("stats")
    print("attacks: forged cjoin (wrong key) from an unknown address: %d datagrams to it, bad_mac %d, "
          "peers %d -> %d" % (sent, stats["dropped"]["bad_mac"], before, transport(target)["peers"]))
    check(sent == 0, "a forged cjoin drew %d datagrams to its source" % sent)
    check(stats["dropped"]["bad_mac"] >= 1, "the forged cjoin was not counted as bad_mac")
    check(transport(target)["peers"] == before, "a forged cjoin added a peer")

    # a replayed line of node-2, from the attacker's address: no new peer
    victim = c.hosts[1]
    lines = capture_lines(victim, target, c)
    check(lines, "could not capture a line of %s" % victim.name)
    replay_before = target.query("stats")["dropped"]["replay"]
    send_from(attacker, "\n".join(lines), target.addr, c.port)
    wait_until(lambda: target.query("stats")["dropped"]["replay"] - replay_before >= len(lines), 5)
    time.sleep(HEARTBEAT_MAX_S)  # and a heartbeat more, should one go to it
    after = target.query("stats")["dropped"]["replay"]
    sent = egress_packets(target)
    print("attacks: %d recorded lines of %s replayed from a new address: replay +%d, peers %d -> %d, "
          "%d datagrams to it" % (len(lines), victim.name, after - replay_before, before,
                                   transport(target)["peers"], sent))
    check(after - replay_before >= len(lines), "replayed lines not all dropped as replay")
    check(transport(target)["peers"] == before, "a replayed line added a peer")
    check(sent == 0, "a replayed line drew %d datagrams to its new source" % sent)

    # control: the same cjoin signed with the cluster key is answered (the counter works)
    send_from(attacker, inject_line(c, c.keyring, "intruder"), target.addr, c.port)
    ok = wait_until(lambda: egress_packets(target) > 0, 3)
    check(ok, "a valid cjoin from a new address drew no reply: the egress counter does not work")
    print("attacks: control: a correctly signed cjoin from that address drew %d datagrams"
          % egress_packets(target))
    c.cleanup()


def capture_lines(victim, target, c):
    """A few of victim's lines to target, captured on victim's egress (pcap)."""
    pcap = os.path.join(c.dir, "cap.pcap")
    proc = subprocess.Popen(["ip", "netns", "exec", victim.ns, "tcpdump", "-i", "eth0", "-nn", "-U",
                             "-c", "5", "-w", pcap, "udp and src host %s and dst host %s and dst port %d"
                             % (victim.addr, target.addr, c.port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c.procs.append(proc)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    lines = []
    with open(pcap, "rb") as f:
        data = f.read()
    pos = 24  # pcap file header
    while pos + 16 <= len(data):
        caplen = int.from_bytes(data[pos + 8:pos + 12], "little")
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        ihl = (frame[14] & 0x0f) * 4  # Ethernet, then IPv4
        payload = frame[14 + ihl + 8:]
        text = payload.decode("ascii", "replace").rstrip("\n")
        if "|v1 " in text:
            lines.append(text)
    return lines


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def cost16_one(mode):
    conf = {"multicast": "false"} if mode == "unicast" else {}
    c = Cluster(16, conf=conf)
    if mode == "unicast":
        no_multicast(c)
    c.start_all('peers = [ "%s" ];\n' % c.hosts[0].addr if mode == "unicast" else "")
    check(wait_until(c.converged, 15), "16 %s daemons did not converge" % mode)
    time.sleep(2)
    hz = os.sysconf("SC_CLK_TCK")
    t0, ticks0, tr0 = time.monotonic(), {h: cpu_ticks(h.pid) for h in c.hosts}, {h: transport(h) for h in c.hosts}
    time.sleep(30)
    secs = time.monotonic() - t0
    cpu = [100.0 * (cpu_ticks(h.pid) - ticks0[h]) / hz / secs for h in c.hosts]
    per_line = [(transport(h)["datagrams_sent"] - tr0[h]["datagrams_sent"]) /
                max(1, transport(h)["lines_sent"] - tr0[h]["lines_sent"]) for h in c.hosts]
    check(c.converged(), "16 %s daemons: the view changed during the measurement" % mode)
    print("cost16: 16 members, %s, %.0f s: CPU per daemon min %.2f / median %.2f / max %.2f %% "
          "of a core; %.2f-%.2f datagrams per line"
          % (mode, secs, min(cpu), median(cpu), max(cpu), min(per_line), max(per_line)))
    check(max(per_line) <= 15.05, "more than 15 datagrams per line with 15 peers")
    c.cleanup()


def cost16():
    """`make soak` only: 16 members for 30 s, unicast only then multicast only:
    CPU per daemon (/proc/PID/stat) and datagrams per line."""
    with scenario("cost16-unicast"):
        cost16_one("unicast")
    with scenario("cost16-multicast"):
        cost16_one("multicast")


@scenario
def refusals():
    """Bad peers entries stop the daemon at start with the file, the line and the reason."""
    d = tempfile.mkdtemp(prefix="cmem-test-")
    try:
        for entry, why in (("db1.example.com", "is a host name"), ("10.0.0.1:99999", "port '99999'"),
                           ("fd00::1", "is IPv6 but the group is IPv4")):
            conf = os.path.join(d, "cmemd.conf")
            with open(conf, "w") as f:
                f.write('name = "x";\npeers = [\n  "10.0.0.9",\n  "%s" ];\n' % entry)
            r = subprocess.run([cmemnet.CMEMD, "-n", "-c", conf], capture_output=True, text=True)
            check(r.returncode != 0 and why in r.stderr and (conf + ":") in r.stderr,
                  "peers entry %s: exit %d, %s" % (entry, r.returncode, r.stderr))
            print("refusals: %s" % r.stderr.strip())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    need_root()
    for tool in ("nft", "tcpdump"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            print("SKIP: %s is missing (make deps)" % tool)
            raise SystemExit(77)
    only = os.environ.get("CMEM_UNICAST_ONLY")  # run one part while developing
    parts = [refusals, routed, mixed, ipv6, attacks] + ([cost16] if os.environ.get("CMEM_SOAK") else [])
    for part in parts:  # each runs as its scenario(s)
        if not only or only == part.__name__:
            part()
    finish()


if __name__ == "__main__":
    main()
