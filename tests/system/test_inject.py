#!/usr/bin/env python3
"""System test of the attack tool cmem-inject against a real cmemd.

One daemon (node-1) and one attacker namespace (node-2, no daemon) on a
private bridge.  Checks that the tool does what the fault and attack suite
relies on:
- usage errors exit 2, other errors exit 1, and --ttl above 1 is refused;
- a line signed with the cluster key as "intruder-ok" makes the daemon list
  that member alive; `record` captures its lines and `replay` sends them
  again, counted as replay;
- the same signed with a wrong secret is counted as bad_mac, with an unknown
  key id as unknown_key, and the sender is not listed;
- a flood of 20000 forged lines at 20000/s is counted as bad_mac (loss
  allowed) while the daemon keeps answering its control socket;
- a flood asked at a rate no machine reaches (10 million/s for 2 s) stops
  at its deadline: it sent rate x seconds whatever the time, 42 s for a
  5 s flood (issue 17, finding 10).
Prints the figures.
"""
import os
import re
import subprocess
import threading
import time

from cmemnet import INJECT, Cluster, check, finish, need, need_root, scenario, wait_until, write_keyring

FLOOD_RATE = 20000


def dropped(h):
    return h.query("stats")["dropped"]


def settle(h, reason, before, want, timeout=3.0):
    """Wait until dropped[reason] stops growing (or reaches before + want); returns the delta."""
    last = [-1, time.monotonic()]

    def done():
        d = dropped(h)[reason] - before
        if d != last[0]:
            last[:] = [d, time.monotonic()]
        return d >= want or time.monotonic() - last[1] > 0.5

    wait_until(done, timeout)
    return dropped(h)[reason] - before


def usage_errors(attacker, keys):
    attacker.inject("send", expect=2)
    attacker.inject("send", "--keyring", keys, "--name", "x", "--verb", "cjoin", "--ttl", "2",
           expect=2)
    attacker.inject("flood", "--rate", "10", "--seconds", "1", "--mode", "bogus", expect=2)
    r = subprocess.run([INJECT, "send", "--keyring", keys, "--name", "x", "--verb", "cjoin",
                        "--group", "10.1.2.3"], capture_output=True, text=True)
    check(r.returncode == 2, "a unicast --group was not refused: %s" % r.stderr)
    out = attacker.inject("send", "--keyring", "/nonexistent.keys", "--name", "x", "--verb",
                 "cjoin", expect=1)
    check("/nonexistent.keys" in out, "error does not name the file: %s" % out)
    print("usage: missing options, --ttl 2, bad --mode, unicast group exit 2; missing keyring exit 1")


def valid_member(c, daemon, attacker, rec):
    recorder = daemon.inject_bg("record", "--seconds", "3", "-o", rec)
    time.sleep(0.4)  # let it join
    inc = str(int(time.time() * 1e6))
    t0 = time.monotonic()
    attacker.inject("send", "--keyring", c.keyring, "--name", "intruder-ok", "--verb", "cjoin",
           "--incarnation", inc, "--counter", "1")
    stream = attacker.inject_bg("send", "--keyring", c.keyring, "--name", "intruder-ok",
                       "--verb", "alive", "--incarnation", inc, "--counter", "2", "--count",
                       "20", "--interval-ms", "50")
    seen = wait_until(lambda: daemon.states().get("intruder-ok") == "alive", 3)
    took = time.monotonic() - t0
    check(seen, "intruder-ok (cluster key) not listed alive: %s" % daemon.states())
    print("valid: 'intruder-ok' signed with the cluster key listed alive after %.3f s" % took)
    rc, out = stream.wait(10), stream.stdout.read()
    check(rc == 0, "alive stream failed: %s" % out)
    rc, out = recorder.wait(10), recorder.stdout.read()
    check(rc == 0, "record failed: %s" % out)
    with open(rec) as f:
        mine = [ln for ln in f if "[intruder-ok]" in ln]
    print("record: %d of 21 intruder-ok lines recorded; the tool said: %s" % (len(mine), out.strip()))
    check(len(mine) >= 18 and all(ln.endswith("\n") for ln in mine), "record missed lines")
    return len(mine)


def replay(daemon, attacker, rec, recorded):
    before = dropped(daemon)["replay"]
    out = attacker.inject("replay", "-i", rec, "--filter-name", "intruder-ok")
    m = re.search(r"sent (\d+) of", out)
    check(m and int(m.group(1)) == recorded, "replay sent the wrong lines: %s" % out)
    d = settle(daemon, "replay", before, recorded)
    print("replay: %d recorded lines sent again, %d counted as replay" % (recorded, d))
    check(d >= recorded * 0.9, "only %d of %d replays counted" % (d, recorded))


def wrong_keys(c, daemon, attacker):
    wrong = write_keyring(os.path.join(c.dir, "wrong.keys"))              # id 1, other secret
    unknown = write_keyring(os.path.join(c.dir, "unknown.keys"), ((9, None, True),))
    before = dropped(daemon)
    attacker.inject("send", "--keyring", wrong, "--name", "intruder-bad", "--verb", "cjoin")
    attacker.inject("send", "--keyring", wrong, "--name", "intruder-bad", "--verb", "alive",
           "--count", "5", "--interval-ms", "20")
    attacker.inject("send", "--keyring", unknown, "--name", "intruder-unk", "--verb", "cjoin")
    bad = settle(daemon, "bad_mac", before["bad_mac"], 6)
    unk = settle(daemon, "unknown_key", before["unknown_key"], 1)
    st = daemon.states()
    print("wrong key: 6 lines with a wrong secret -> bad_mac +%d; 1 with key id 9 -> unknown_key +%d; "
          "members %s" % (bad, unk, sorted(st)))
    check(bad == 6 and unk == 1, "wrong-key lines not counted as bad_mac/unknown_key")
    check("intruder-bad" not in st and "intruder-unk" not in st, "a wrong-key sender is listed")


def ctl_pinger(daemon, stop, lat):
    while not stop.is_set():
        t = time.monotonic()
        ok = daemon.ctl_ok("status")
        lat.append((time.monotonic() - t) if ok else None)
        time.sleep(0.02)


def flood(daemon, attacker):
    before = dropped(daemon)["bad_mac"]
    lat, stop = [], threading.Event()
    pinger = threading.Thread(target=ctl_pinger, args=(daemon, stop, lat), daemon=True)
    pinger.start()
    out = attacker.inject("flood", "--rate", str(FLOOD_RATE), "--seconds", "1", "--mode", "forged")
    stop.set()
    pinger.join()
    m = re.search(r"sent (\d+) datagrams in ([\d.]+) s = (\d+)/s", out)
    check(m, "flood output not understood: %s" % out)
    sent = int(m.group(1))
    d = settle(daemon, "bad_mac", before, sent)
    ok = [x for x in lat if x is not None]
    print("flood: the tool said: %s" % out.strip())
    print("flood: %d forged lines sent at %s/s, %d counted as bad_mac (%.1f%% lost); "
          "%d/%d status queries answered during it, max %.1f ms"
          % (sent, m.group(3), d, 100.0 * (sent - d) / sent, len(ok), len(lat),
             1000 * max(ok) if ok else -1))
    check(sent == FLOOD_RATE, "flood sent %d, not %d" % (sent, FLOOD_RATE))
    check(sent * 0.5 <= d <= sent, "bad_mac +%d for %d forged lines" % (d, sent))
    check(ok and len(ok) == len(lat), "the daemon did not answer every status query during the flood")
    check(daemon.running() and daemon.ctl_ok("status"), "the daemon stopped answering after the flood")


def flood_deadline(attacker):
    t = time.monotonic()
    out = attacker.inject("flood", "--rate", "10000000", "--seconds", "2", "--mode", "garbage")
    took = time.monotonic() - t
    m = re.search(r"sent (\d+) datagrams in ([\d.]+) s", out)
    check(m, "flood output not understood: %s" % out)
    print("flood-deadline: asked 10 000 000/s for 2 s: the tool ran %.2f s (said %s s), sent %s"
          % (took, m.group(2), m.group(1)))
    check(float(m.group(2)) <= 2.5, "the flood says it ran %s s for --seconds 2" % m.group(2))
    check(took <= 4, "cmem-inject flood --seconds 2 took %.1f s" % took)
    check(0 < int(m.group(1)) < 20000000, "sent %s datagrams" % m.group(1))


def main():
    need_root()
    check(os.access(INJECT, os.X_OK), "%s not built (make)" % INJECT)
    c = Cluster(2)
    daemon, attacker = c.hosts
    rec = os.path.join(c.dir, "recorded.lines")
    with scenario("start"):
        daemon.start()
    with scenario("usage-errors"):
        usage_errors(attacker, c.keyring)
    recorded = None
    with scenario("valid-member-and-record"):
        recorded = valid_member(c, daemon, attacker, rec)
    with scenario("replay"):
        replay(daemon, attacker, rec, need(recorded, "valid-member-and-record"))
    with scenario("wrong-keys"):
        wrong_keys(c, daemon, attacker)
    with scenario("flood"):
        flood(daemon, attacker)
    with scenario("flood-deadline"):
        flood_deadline(attacker)
    c.cleanup()
    finish()


if __name__ == "__main__":
    main()
