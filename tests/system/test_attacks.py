#!/usr/bin/env python3
"""System test: a hostile network segment (issue scenarios 4, 5, 6, 7, 9, 12).

Real daemons in network namespaces; an attacker namespace on the same
bridge sends with build/cmem-inject.
 4. forged flood: 100 000 forged lines/s asked for 10 s, then garbage: no
    false failure, peers heard within HEARD_MAX_MS, `cmemctl members`
    answered within CLIENT_MAX_S, resident memory +16 kB at most after the
    first 2 s, log lines rate-limited (2 a second of flood, + 6);
 5. replay of 30 s of recorded traffic: membership unchanged, replayed lines
    counted as replay or stale; a departed member is not brought back; a
    recorded leave does not evict a member that is alive;
 6. clock skew: a member 40 s ahead is dropped as stale and named, with its
    offset, in the log and in `cmemctl members`; one 10 s behind is admitted
    and its skew shown;
 7. another cluster's key and an unknown key id: never admitted, counted;
 9. restart under the same name: reported as a restart (EVENT_MAX_S);
    lines of the old incarnation replayed afterwards are dropped;
12. oversize (1233 B, 64 KiB), empty, binary and truncated datagrams:
    dropped, counted, at most 6 log lines for 14 000 of them.
Timing bounds are properties, defined in cmemnet.py with room for a busy
machine; the figures themselves are the simulator's and the benchmarks'.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

from cmemnet import (CLIENT_MAX_S, EVENT_MAX_S, HEARD_MAX_MS, INJECT, Cluster, Watch, check, finish, need,
                     need_root, scenario, wait_stable, wait_until, write_keyring)

SOAK = bool(os.environ.get("CMEM_SOAK"))


# Memory and log volume (README "Tested against" rows 4 and 12).
FLOOD_WARMUP_S = 2         # RSS: +40 kB in the first 2 s (buffers first used), then flat
FLOOD_RSS_MAX_KB = 80      # ... so at most 2x that in all,
FLOOD_RSS_LATE_MAX_KB = 16  # and at most 4 pages after the first 2 s (10 s or 60 s)


def flood_log_max(secs):
    """Log lines allowed for a flood that lasted secs (wall clock, longer on a
    busy machine): the log is rate-limited per second (13 lines per daemon in
    10 s, 63 in 60 s; 3 for 14 000 bad datagrams in 2 s)."""
    return int(2 * (secs + 3))


def rss_kb(h):
    with open("/proc/%d/status" % h.pid) as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]


def stats(h):
    return h.query("stats")


def flood(c, daemons, attacker):
    watches = [Watch(h) for h in daemons]
    rss0 = [rss_kb(h) for h in daemons]
    logs0 = [len(h.read_log().splitlines()) for h in daemons]
    mac0 = sum(stats(h)["dropped"]["bad_mac"] for h in daemons)
    lat, heard, rss, stop = [], [], [], threading.Event()
    t0 = time.monotonic()

    def probe():
        while not stop.is_set():
            t = time.monotonic()
            r = daemons[0].ctl("members")
            lat.append(time.monotonic() - t)
            if r.returncode == 0:
                heard.extend(m["last_heard_ms"] for m in json.loads(r.stdout)["members"]
                             if not m.get("self") and m["state"] == "alive")
            rss.append((time.monotonic() - t0, [rss_kb(h) for h in daemons]))
            time.sleep(0.1)

    th = threading.Thread(target=probe)
    th.start()
    secs = 60 if SOAK else 10
    out = attacker.inject("flood", "--rate", "100000", "--seconds", str(secs), "--mode", "forged")
    out += attacker.inject("flood", "--rate", "50000", "--seconds", "2", "--mode", "garbage")
    mac = wait_stable(lambda: sum(stats(h)["dropped"]["bad_mac"] for h in daemons), quiet=0.5) - mac0
    stop.set()
    th.join()
    took = time.monotonic() - t0  # the flood's wall time: slower on a busy machine
    rate = re.search(r"= (\d+)/s", out)
    sent = re.search(r"sent (\d+) datagrams", out)
    rss1 = [rss_kb(h) for h in daemons]
    loglines = [len(h.read_log().splitlines()) - n for h, n in zip(daemons, logs0)]
    bad = Cluster.events_since(watches, t0)
    # the first seconds touch the receive buffers once; growth after that would be a leak
    warm = next((r for t, r in rss if t >= FLOOD_WARMUP_S), rss0)
    print("flood: %s forged lines/s for %d s + garbage: %d counted as bad_mac on %d daemons; "
          "%d false failures; members answered in max %.0f ms (%d queries); peers last heard "
          "max %d ms ago; RSS %s -> %s (%d s in) -> %s kB; %s log lines per daemon"
          % (rate.group(1) if rate else "?", secs, mac, len(daemons), len(bad), 1000 * max(lat),
             len(lat), max(heard), rss0, warm, FLOOD_WARMUP_S, rss1, loglines))
    check(not bad, "false failures during the flood: %s" % bad[:3])
    check(max(lat) <= CLIENT_MAX_S, "cmemctl members took %.0f ms > %.0f ms"
          % (1000 * max(lat), 1000 * CLIENT_MAX_S))
    check(max(heard) <= HEARD_MAX_MS, "heartbeats late during the flood: last heard %d ms ago > %d ms"
          % (max(heard), HEARD_MAX_MS))
    check(all(b - a <= FLOOD_RSS_MAX_KB for a, b in zip(rss0, rss1)),
          "memory grew by more than %d kB: %s -> %s" % (FLOOD_RSS_MAX_KB, rss0, rss1))
    check(all(b - a <= FLOOD_RSS_LATE_MAX_KB for a, b in zip(warm, rss1)),
          "memory grew by more than %d kB after the first %d s: %s -> %s"
          % (FLOOD_RSS_LATE_MAX_KB, FLOOD_WARMUP_S, warm, rss1))
    check(all(n <= flood_log_max(took) for n in loglines), "log not rate-limited: %s lines > %d in %.1f s"
          % (loglines, flood_log_max(took), took))
    # every datagram holds at least one forged line; a busy daemon may miss some at its socket
    check(sent and mac > 0.5 * int(sent.group(1)) * len(daemons),
          "forged lines not counted: %d for %s datagrams sent" % (mac, sent and sent.group(1)))
    for w in watches:
        w.stop()


def replay(c, daemons, attacker):
    rec = os.path.join(c.dir, "recorded.lines")
    secs = 30
    recorder = attacker.inject_bg("record", "--seconds", str(secs), "-o", rec)
    time.sleep(secs - 8)
    stayer = daemons[2]           # its recorded leave must not evict it later
    stayer.kill(signal.SIGTERM)
    stayer.wait_exit()
    stayer.start()
    recorder.communicate(timeout=secs + 10)
    leaver = daemons[1]           # departed: its recorded lines must not bring it back
    leaver.kill(signal.SIGTERM)
    leaver.wait_exit()
    observer = daemons[0]
    check(wait_until(lambda: observer.states().get(leaver.name) == "left", 2), "leaver not left")
    with open(rec) as f:
        lines = f.readlines()
    foreign = [l for l in lines if "[%s]" % observer.name not in l]
    leaves = [l for l in lines if "] leave %s " % stayer.name in l]
    check(leaves, "no leave of %s recorded" % stayer.name)
    watches = [Watch(observer), Watch(stayer)]
    before = stats(observer)["dropped"]
    view = observer.states()
    t0 = time.monotonic()
    attacker.inject("replay", "-i", rec)
    wait_until(lambda: sum(stats(observer)["dropped"][k] - before[k] for k in ("replay", "stale"))
               >= len(foreign), 5)
    after = stats(observer)["dropped"]
    counted = (after["replay"] - before["replay"]) + (after["stale"] - before["stale"])
    print("replay: %d lines recorded over %d s and sent again: %d not from the observer, %d counted "
          "as replay (%d) or stale (%d); %s stays left, %s (its leave replayed) stays alive"
          % (len(lines), secs, len(foreign), counted, after["replay"] - before["replay"],
             after["stale"] - before["stale"], leaver.name, stayer.name))
    check(counted >= len(foreign), "only %d of %d replayed lines counted" % (counted, len(foreign)))
    check(observer.states() == view, "membership changed: %s -> %s" % (view, observer.states()))
    check(observer.states()[stayer.name] == "alive", "replayed leave evicted %s" % stayer.name)
    check(not Cluster.events_since(watches, t0), "events during replay: %s" % Cluster.events_since(watches, t0))
    for w in watches:
        w.stop()
    leaver.start()


def skew(c, daemons, attacker):
    h = daemons[0]
    attacker.inject("send", "--keyring", c.keyring, "--name", "node-ahead", "--verb", "alive",
           "--time-offset", "40", "--count", "40", "--interval-ms", "50")
    attacker.inject_bg("send", "--keyring", c.keyring, "--name", "node-behind", "--verb",
           "alive", "--time-offset", "-10", "--count", "40", "--interval-ms", "50")

    def seen_both():
        m = h.query("members")
        return ("node-ahead" in {r["name"] for r in m.get("rejected", [])} and
                "node-behind" in {x["name"] for x in m["members"]})
    wait_until(seen_both, 5)
    m = h.query("members")
    rej = {r["name"]: r for r in m.get("rejected", [])}
    st = {x["name"]: x for x in m["members"]}
    check("node-ahead" not in st, "a member 40 s ahead was admitted")
    check("node-ahead" in rej and 39 <= rej["node-ahead"]["skew_s"] <= 41,
          "members does not name the skewed sender: %s" % m.get("rejected"))
    check("its clock is 40 s ahead" in h.read_log() or "its clock is 39 s ahead" in h.read_log()
          or "its clock is 41 s ahead" in h.read_log(), "the log does not name the skew")
    check("node-behind" in st and -11 <= st["node-behind"]["skew_s"] <= -9,
          "a member 10 s behind: %s" % st.get("node-behind"))
    table = h.ctl("members", json_out=False).stdout
    check("node-ahead" in table and "outside the 30 s window" in table, "table: %s" % table)
    print("skew: node-ahead (+%d s) dropped as stale, %d lines, named in the log and in members "
          "(\"%s\"); node-behind admitted with skew %+d s"
          % (rej["node-ahead"]["skew_s"], rej["node-ahead"]["lines"], rej["node-ahead"]["detail"],
             st["node-behind"]["skew_s"]))


def wrong_keys(c, daemons, stranger):
    other = write_keyring(os.path.join(c.dir, "other.keys"))
    h = daemons[0]
    d0 = stats(h)["dropped"]
    stranger.start(conf_text=stranger.config_text().replace(c.keyring, other))
    unknown = write_keyring(os.path.join(c.dir, "id9.keys"), ((9, None, True),))
    stranger.inject("send", "--keyring", unknown, "--name", "node-id9", "--verb", "cjoin",
           "--count", "10", "--interval-ms", "50")
    wait_until(lambda: stats(h)["dropped"]["bad_mac"] - d0["bad_mac"] >= 10 and
               stats(h)["dropped"]["unknown_key"] - d0["unknown_key"] >= 10, 5)
    d1 = stats(h)["dropped"]
    st = h.states()
    check(stranger.name not in st and "node-id9" not in st, "admitted: %s" % st)
    check(d1["bad_mac"] - d0["bad_mac"] >= 10 and d1["unknown_key"] - d0["unknown_key"] >= 10,
          "not counted: %s -> %s" % (d0, d1))
    print("keys: a daemon with another cluster's key stayed out (%d bad_mac); key id 9 stayed out "
          "(%d unknown_key)" % (d1["bad_mac"] - d0["bad_mac"], d1["unknown_key"] - d0["unknown_key"]))
    stranger.kill(signal.SIGTERM)
    stranger.wait_exit()


def restart(c, daemons, attacker):
    h, victim = daemons[0], daemons[1]
    rec = os.path.join(c.dir, "old-incarnation.lines")
    attacker.inject("record", "--seconds", "2", "-o", rec)
    w = Watch(h)
    victim.kill()
    victim.wait_exit()
    t0 = time.monotonic()
    victim.start(wait=False)
    seen = w.wait_for("restart", victim.name, t0, 3)
    check(seen, "restart not reported")
    check(wait_until(lambda: victim.ctl_ok("status"), 5), "%s did not start again" % victim.name)
    before = stats(h)["dropped"]
    attacker.inject("replay", "-i", rec, "--filter-name", victim.name)
    with open(rec) as f:
        n = sum(1 for l in f if "[%s]" % victim.name in l)
    wait_until(lambda: sum(stats(h)["dropped"][k] - before[k] for k in ("replay", "stale")) >= n, 5)
    s1 = stats(h)
    after = dict(s1["dropped"], oversize=s1["other"]["oversize"])
    dropped = after["replay"] - before["replay"] + after["stale"] - before["stale"]
    restarts = [e for t, e in w.events if t > seen and e.get("member") == victim.name and
                e.get("event") in ("restart", "join", "leave", "failed")]
    print("restart: %s killed and restarted, reported as restart %.3f s after the new process "
          "started; %d lines of its old incarnation replayed, %d dropped, no state change"
          % (victim.name, seen - t0, n, dropped))
    check(dropped >= n and not restarts and h.states()[victim.name] == "alive",
          "old incarnation replay: dropped %d of %d, events %s" % (dropped, n, restarts))
    check(seen - t0 <= EVENT_MAX_S, "restart reported after %.3f s > %.3f s" % (seen - t0, EVENT_MAX_S))
    w.stop()


def bad_datagrams(c, daemons, attacker):
    h = daemons[0]
    s0 = stats(h)
    before, logs0 = dict(s0["dropped"], oversize=s0["other"]["oversize"]), len(h.read_log().splitlines())
    t0 = time.monotonic()
    out = attacker.inject("flood", "--rate", "5000", "--seconds", "2", "--mode", "oversize")
    sent = int(re.search(r"sent (\d+) datagrams", out).group(1))  # fewer if the deadline came first
    good = subprocess.run([INJECT, "send", "--keyring", c.keyring, "--name", "x", "--verb",
                           "alive", "--print"], capture_output=True).stdout
    script = ("import socket,sys\n"
              "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_TTL,1)\n"
              "s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b'eth0')\n"
              "good=bytes.fromhex(sys.argv[1])\n"
              "for i in range(1000):\n"
              "  for d in (b'', bytes(range(256)), good[:len(good)//2], good[:-1]):\n"
              "    s.sendto(d,('%s',%d))\n" % (c.group, c.port))
    subprocess.run(["ip", "netns", "exec", attacker.ns, "python3", "-c", script, good.hex()],
                   check=True, timeout=30)

    def counted():
        s = stats(h)
        return (s["other"]["oversize"] - before["oversize"], s["dropped"]["bad_format"] - before["bad_format"])

    def all_counted():
        over, fmt = counted()
        return over >= sent and fmt >= over + 4000  # SENT oversize, then 4000 others
    wait_until(all_counted, 10)
    wait_stable(counted, quiet=0.3)  # and no more arrive
    s1 = stats(h)
    after = dict(s1["dropped"], oversize=s1["other"]["oversize"])
    logs = len(h.read_log().splitlines()) - logs0
    took = time.monotonic() - t0
    over, fmt = after["oversize"] - before["oversize"], after["bad_format"] - before["bad_format"]
    print("bad datagrams: %d oversize (1233 B and 64 KiB) and %d empty/binary/truncated counted; "
          "%d log lines for them" % (over, fmt, logs))
    # an oversize datagram fails check 1 (size): counted as bad_format, and as oversize
    check(over >= 0.9 * sent and fmt >= 3900 + over, "not all counted: oversize %d of %d, bad_format %d"
          % (over, sent, fmt))
    check(logs <= flood_log_max(took), "%d log lines > %d in %.1f s: not rate-limited"
          % (logs, flood_log_max(took), took))


def main():
    need_root()
    with scenario("forged-flood"):
        # the flood on its own: two daemons and the attacker share the 2 cores;
        # the heartbeat pinned to 50 ms (heartbeat_fixed), so that "last heard"
        # measures how late the flood makes them, not the adaptive interval
        c = Cluster(3, conf={"heartbeat_fixed": "true"})
        daemons, attacker = c.hosts[:2], c.hosts[2]
        for h in daemons:
            h.start()
        check(wait_until(lambda: c.converged(daemons), 5), "no convergence")
        flood(c, daemons, attacker)
        c.cleanup()

    net = None
    with scenario("start-3-of-5"):
        c = Cluster(5)
        daemons, attacker, stranger = c.hosts[:3], c.hosts[3], c.hosts[4]
        for h in daemons:
            h.start()
        check(wait_until(lambda: c.converged(daemons), 5), "no convergence")
        net = c
    with scenario("bad-datagrams"):
        need(net, "start-3-of-5")
        bad_datagrams(c, daemons, attacker)
    with scenario("clock-skew"):
        need(net, "start-3-of-5")
        skew(c, daemons, attacker)
    with scenario("wrong-keys"):
        need(net, "start-3-of-5")
        wrong_keys(c, daemons, stranger)
    with scenario("restart-old-incarnation"):
        need(net, "start-3-of-5")
        restart(c, daemons, attacker)
    with scenario("replay-30s"):
        need(net, "start-3-of-5")
        replay(c, daemons, attacker)
    if net:
        net.cleanup()
    finish()


if __name__ == "__main__":
    main()
