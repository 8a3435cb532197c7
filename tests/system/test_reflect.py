#!/usr/bin/env python3
"""System test: cmem is no reflector (issue 17, findings 1-3; doc/PROTOCOL.md,
"Address validation").

A unicast-only cluster of 3 (multicast dropped by nft, one seed), an
attacker namespace and a victim namespace on the same bridge.  The victim
runs no daemon: nft counts (and drops) every UDP datagram to the cmem port
that reaches it, on any of its addresses.  The attacker sends by unicast,
from its own address or, with a raw socket, from a forged source (the
victim's).  For each attack the amplification is the IP bytes that reached
the victim in the next 10 s over the IP bytes the attacker sent (both
counting IP and UDP headers); it must stay at or below 3.

1. replay: lines of node-3 recorded from the wire (no key), node-3 killed,
   node-1 restarted (no replay state), the recorded lines sent to node-1
   from the victim's address.
2. cluster: a key holder's `cluster` lines listing 200 addresses held by
   the victim, sent to every member; then one listing only addresses that
   are not unicast (multicast, broadcast, the subnet broadcast, unspecified,
   loopback): no peer is added for them.
3. cjoin: 20 `cjoin` of 20 new names, forged from the victim's address.
After each, the cluster is still whole.  Prints every figure.

4. rolling upgrade (only with CMEM_OLD_BUILD, the build directory of a
   daemon that does not know `probe`, e.g. cmem 0.2): unicast-only clusters
   of 4, old and new daemons alternating, the seed new and then old: every
   member sees every other alive, and still does 5 s later.
"""
import os
import re
import shutil
import subprocess
import time

import cmemnet
from cmemnet import Cluster, check, finish, need, need_root, scenario, sh, wait_until

INJECT = os.path.join(cmemnet.BUILD, "cmem-inject")
BOUND = 3.0
WATCH_S = 12  # credit expires 10 s after the last line from an address

NO_MCAST = """table inet cmemnomcast {
  chain in { type filter hook input priority 0; meta l4proto udp ip daddr 224.0.0.0/4 drop; }
  chain out { type filter hook output priority 0; meta l4proto udp ip daddr 224.0.0.0/4 drop; }
}
"""

# Run in the attacker's namespace: datagrams (one line each, from stdin) to
# DST:PORT, from SRC (forged with a raw socket unless it is "-").  Prints the
# IP bytes sent.
SENDER = r'''
import socket, struct, sys, time
src, dst, port, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
lines = [l.encode() + b"\n" for l in sys.stdin.read().splitlines() if l]
total = 0
if src == "-":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", port))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for l in lines:
    if src == "-":
        s.sendto(l, (dst, port))
    else:
        udp = struct.pack("!HHHH", port, port, 8 + len(l), 0) + l
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        s.sendto(ip + udp, (dst, 0))
    total += 28 + len(l)
    time.sleep(gap)
print(total)
'''


def nft(ns, rules):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True,
                   check=True, capture_output=True)


def transport(h):
    return h.query("status")["transport"]


class Net:
    """The cluster, the attacker and the victim (with its extra addresses)."""

    def __init__(self):
        self.c = Cluster(3, conf={"multicast": "false"})
        self.attacker = self.c.add_host()
        self.victim = self.c.add_host()
        for h in self.c.hosts:
            nft(h.ns, NO_MCAST)
        # 200 more addresses for the victim, in the cluster's /16, off every host's
        self.third = (self.c.subnet + 100) % 250
        self.extra = ["10.77.%d.%d" % (self.third, i) for i in range(1, 201)]
        self.forged = "10.77.%d.201" % self.third  # the cjoins' source
        batch = "".join("addr add %s/32 dev eth0\n" % a for a in self.extra + [self.forged])
        subprocess.run(["ip", "-n", self.victim.ns, "-batch", "-"], input=batch, text=True, check=True,
                       capture_output=True)
        nft(self.victim.ns, "table inet cmemvictim {\n counter bcast { }\n chain in {\n"
                            "  type filter hook input priority 0;\n"
                            "  ip daddr 10.77.255.255 udp dport %d counter name bcast\n"
                            "  udp dport %d counter drop\n }\n}\n" % (self.c.port, self.c.port))
        self.members = self.c.hosts[:3]
        self.peers = 'peers = [ "%s" ];\n' % self.members[0].addr
        for h in self.members:
            h.start(self.peers, wait=False)
        check(wait_until(lambda: all(h.ctl_ok("status") for h in self.members), 5),
              "the daemons did not start")
        check(wait_until(lambda: self.c.converged(self.members), 10), "the cluster did not converge: %s"
              % {h.name: h.states() for h in self.members})

    def victim_bytes(self):
        r = sh("ip", "netns", "exec", self.victim.ns, "nft", "list", "table", "inet", "cmemvictim")
        m = re.search(r"counter packets (\d+) bytes (\d+)", r.stdout)
        return int(m.group(1)), int(m.group(2))

    def broadcasts(self):
        r = sh("ip", "netns", "exec", self.victim.ns, "nft", "list", "counter", "inet", "cmemvictim", "bcast")
        return int(re.search(r"packets (\d+)", r.stdout).group(1))

    def send(self, lines, dst, src="-", gap=0.002):
        """Lines from the attacker to dst (from src if forged); IP bytes sent."""
        r = subprocess.run(["ip", "netns", "exec", self.attacker.ns, "python3", "-c", SENDER, src, dst,
                            str(self.c.port), str(gap)], input="\n".join(lines), text=True,
                           capture_output=True, check=True, timeout=60)
        return int(r.stdout.strip())

    def measure(self, what, attack):
        """Run attack() (returns the attacker's IP bytes); victim bytes over WATCH_S s."""
        p0, b0 = self.victim_bytes()
        sent = attack()
        time.sleep(WATCH_S)
        p1, b1 = self.victim_bytes()
        factor = (b1 - b0) / sent
        print("%s: attacker sent %d B; the victim got %d datagrams, %d B in %d s: %.2fx"
              % (what, sent, p1 - p0, b1 - b0, WATCH_S, factor))
        check(factor <= BOUND, "%s: amplification %.2fx > %.1fx" % (what, factor, BOUND))
        return factor

    def whole(self, what):
        check(wait_until(lambda: self.c.converged(self.members), 10),
              "%s: the cluster is no longer whole: %s" % (what, {h.name: h.states() for h in self.members}))

    def signed(self, name, verb, count=1, counter=1, entries=None):
        args = [INJECT, "send", "--keyring", self.c.keyring, "--name", name, "--verb", verb,
                "--incarnation", str(time.time_ns() // 1000), "--counter", str(counter),
                "--count", str(count), "--print"]
        if entries:
            args += ["--entries", entries]
        return [l for l in sh(*args).stdout.splitlines() if l]


# Run in the sender's namespace: the first COUNT `alive` lines it sends to
# DST within 12 s, read off eth0 with a packet socket (outgoing frames too).
SNIFFER = r'''
import socket, sys, time
dst, count = socket.inet_aton(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))  # ETH_P_ALL: outgoing too
s.bind(("eth0", 0x0003))
end, got = time.monotonic() + 12, 0
while got < count and time.monotonic() < end:
    s.settimeout(max(0.01, end - time.monotonic()))
    try:
        pkt, addr = s.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (pkt[0] & 0x0f) * 4
    if addr[1] != 0x0800 or pkt[9] != 17 or pkt[16:20] != dst:
        continue
    text = pkt[ihl + 8:].decode("ascii", "replace").rstrip("\n")
    if "|v1 " in text and "] alive " in text:
        print(text, flush=True)
        got += 1
'''


def capture(net, sender, count):
    """Up to count alive lines sender sends to node-1 in 12 s, read off its eth0."""
    r = subprocess.run(["ip", "netns", "exec", sender.ns, "python3", "-c", SNIFFER,
                        net.members[0].addr, str(count)], capture_output=True, text=True, timeout=30)
    return [l for l in r.stdout.splitlines() if l]


@scenario
def setup():
    return Net()


def replay(net):
    """Finding 1: recorded lines to a freshly restarted member, from a forged source."""
    n1, n3 = net.members[0], net.members[2]
    # few lines: cmem 0.2 answered even one line with a stream (40/s, then 4/s for 10 min)
    lines = capture(net, n3, 10)
    check(len(lines) >= 5, "captured only %d lines of %s" % (len(lines), n3.name))
    n3.kill()
    n3.wait_exit(5)
    check(wait_until(lambda: n1.states().get(n3.name) == "failed" and
                     net.members[1].states().get(n3.name) == "failed", 5), "%s not failed" % n3.name)
    n1.kill()
    n1.wait_exit(5)
    n1.start(net.peers)
    accepted = n1.query("stats")["accepted"]
    net.measure("replay of %d recorded lines of %s to the restarted %s from the victim's address"
                % (len(lines), n3.name, n1.name),
                lambda: net.send(lines, n1.addr, src=net.victim.addr))
    st = n1.query("stats")
    check(sum(st["accepted"].values()) > sum(accepted.values()), "the replayed lines were not accepted: "
          "the attack was not tried (%s)" % st["accepted"])
    n3.start(net.peers)
    net.members[2] = n3
    net.whole("after the replay")


def listed(net):
    """Finding 2: a key holder's cluster lines listing 200 of the victim's addresses."""
    entries = ["v%d@%s" % (i, a) for i, a in enumerate(net.extra)]
    chunks, lines = [entries[i:i + 50] for i in range(0, len(entries), 50)], []
    inc = time.time_ns() // 1000
    for k, chunk in enumerate(chunks):
        lines += [l for l in sh(INJECT, "send", "--keyring", net.c.keyring, "--name", "mallory",
                                "--verb", "cluster", "--entries", " ".join(chunk), "--incarnation",
                                str(inc), "--counter", str(k + 1), "--print").stdout.splitlines() if l]
    before = {h.name: transport(h)["peers"] for h in net.members}
    net.measure("%d cluster lines (%d B) listing 200 victim addresses, to each of %d members"
                % (len(lines), sum(len(l) + 1 for l in lines), len(net.members)),
                lambda: sum(net.send(lines, h.addr) for h in net.members))
    after = {h.name: transport(h)["peers"] for h in net.members}
    print("listed: peers per member %s -> %s" % (before, after))
    net.whole("after the cluster lines")


def not_unicast(net):
    """Finding 2: addresses that are not unicast never become peers."""
    bcast = "10.77.255.255"
    bad = ["224.0.0.1", "255.255.255.255", "0.0.0.0", bcast, "127.0.0.1", "240.0.0.9"]
    line = net.signed("oscar", "cluster", entries=" ".join("b%d@%s" % (i, a) for i, a in enumerate(bad)))
    before = {h.name: transport(h)["peers"] for h in net.members}
    p0 = net.broadcasts()
    for h in net.members:
        net.send(line, h.addr)
    time.sleep(2)
    after = {h.name: transport(h)["peers"] for h in net.members}
    p1 = net.broadcasts()
    print("not unicast: %s listed: peers %s -> %s; the victim (on the subnet broadcast) got %d datagrams"
          % (", ".join(bad), before, after, p1 - p0))
    # oscar itself is a new source (the attacker's address): one more peer at most
    check(all(after[n] <= before[n] + 1 for n in before), "a listed address that is not unicast became a peer")
    check(p1 == p0, "the subnet broadcast got %d datagrams" % (p1 - p0))


def cjoins(net):
    """Finding 3: 20 cjoin of new names, forged from the victim's address."""
    lines = []
    for i in range(20):
        lines += net.signed("joiner-%d" % i, "cjoin")
    net.measure("20 cjoin forged from the victim's address to %s" % net.members[0].name,
                lambda: net.send(lines, net.members[0].addr, src=net.forged))
    net.whole("after the cjoins")


def mixed(seed_old):
    """Old and new daemons alternating in a unicast-only cluster of 4."""
    old = os.path.join(os.environ["CMEM_OLD_BUILD"], "cmemd")
    c = Cluster(4, conf={"multicast": "false"})
    for h in c.hosts:
        nft(h.ns, NO_MCAST)
    peers = 'peers = [ "%s" ];\n' % c.hosts[0].addr
    new = cmemnet.CMEMD
    try:
        for i, h in enumerate(c.hosts):
            cmemnet.CMEMD = old if (i % 2 == 0) == seed_old else new
            h.start(peers)
    finally:
        cmemnet.CMEMD = new
    what = "seed %s: %s" % ("old" if seed_old else "new", ", ".join(
        "%s %s" % (h.name, "old" if (i % 2 == 0) == seed_old else "new") for i, h in enumerate(c.hosts)))
    t0 = time.monotonic()
    check(wait_until(c.converged, 15), "mixed versions (%s): no convergence: %s"
          % (what, {h.name: h.states() for h in c.hosts}))
    took = time.monotonic() - t0
    time.sleep(5)
    check(c.converged(), "mixed versions (%s): the view changed: %s" % (what, {h.name: h.states() for h in c.hosts}))
    print("rolling upgrade (%s): every member alive in every view %.2f s after the last start, and 5 s later"
          % (what, took))
    c.cleanup()


def main():
    need_root()
    if shutil.which("nft", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
        print("SKIP: nft is missing (make deps)")
        raise SystemExit(77)
    net = setup()
    for part in (replay, listed, not_unicast, cjoins):
        with scenario(part.__name__.replace("_", "-")):
            part(need(net, "setup"))
    if net:
        net.c.cleanup()
    if os.environ.get("CMEM_OLD_BUILD"):
        for seed_old in (False, True):
            with scenario("rolling-upgrade-seed-%s" % ("old" if seed_old else "new")):
                mixed(seed_old)
    else:
        print("SKIP rolling-upgrade (not counted): set CMEM_OLD_BUILD to the build directory of cmem 0.2")
    finish()


if __name__ == "__main__":
    main()
