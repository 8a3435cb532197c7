#!/usr/bin/env python3
"""System test: the log never stops the daemon and never loses silently
(issue 17, findings 4 and 5).

Three daemons log to syslog only (`cmemd -s`) through a socket this test
binds into their chroot, CHROOT/dev/log (a syslog daemon's socket "bound
into the chroot"): a Python reader that the test can stop and re-create.

 1. stalled-reader: the reader stops reading for 10 s while a garbage flood
    makes every daemon report drops once a second, and SIGUSR1s make
    node-1 log more lines than its queue holds.  No false failure on any
    daemon; every daemon hears every peer within heartbeat + 100 ms
    (`last_heard_ms`, probed every 100 ms) and answers `cmemctl` at once;
    node-1 counts the lines it dropped (`log_dropped`) and, once the reader
    reads again, says how many in the log; the lines it kept arrive.
 2. re-created: the socket is closed and bound anew (a syslog daemon
    restarted): the daemons, chrooted, reconnect and the next line arrives.
 3. journal: cmemd with stderr a stream named by $JOURNAL_STREAM, as
    systemd starts it (issue 16, finding 2): a configuration error is one
    line "<3>..." with no program prefix (what `journalctl -p err` shows).
    That nothing is logged twice before detaching (finding 9) is the unit
    test test_log's test_journal_not_twice.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from cmemnet import Cluster, Watch, check, finish, need, need_root, scenario, wait_until

HEARTBEAT_MS = 50
LATE_MAX_MS = 100       # issue 17: no heartbeat late by more than 100 ms
CTL_MAX_S = 0.5         # `cmemctl members` answers (it hung with a blocked log)
STALL_S = 10
USR1_BURSTS = 30        # each logs 1 + 2 lines on node-1: 90 > the queue's 64


class Syslog:
    """An AF_UNIX datagram socket at PATH, read by a thread that can pause."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.reading = threading.Event()
        self.reading.set()
        self.closed = False
        self.sock = None
        self.bind()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def bind(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(self.path)
        os.chmod(self.path, 0o666)  # the daemons write as nobody after the drop
        s.settimeout(0.1)
        self.sock = s

    def recreate(self):
        """As a restarted syslog daemon: the old socket closed, a new one at the path.
        The reader leaves its recv() first: a socket closed under a blocked recv()
        lives on until that returns, and would swallow the next lines."""
        self.reading.clear()
        time.sleep(0.5)
        old = self.sock
        self.sock = None
        old.close()
        self.bind()
        self.reading.set()

    def _read(self):
        while not self.closed:
            if not self.reading.wait(0.1) or self.sock is None:
                continue
            s = self.sock
            try:
                data = s.recv(4096)
            except (socket.timeout, OSError):
                continue
            self.lines.append((time.monotonic(), data.decode(errors="replace")))

    def since(self, t0, pattern):
        return [l for t, l in list(self.lines) if t >= t0 and re.search(pattern, l)]

    def close(self):
        self.closed = True
        self.thread.join()
        if self.sock:
            self.sock.close()


def probe_loop(daemons, stop, heard, lat):
    while not stop.is_set():
        for h in daemons:
            t = time.monotonic()
            r = h.ctl("members")
            lat.append(time.monotonic() - t)
            if r.returncode == 0:
                heard.extend(m["last_heard_ms"] for m in json.loads(r.stdout)["members"]
                             if not m.get("self") and m["state"] == "alive")
        time.sleep(0.1)


def stalled_reader(c, log, daemons, attacker):
    watches = [Watch(h) for h in daemons]
    dropped0 = daemons[0].query("stats")["other"]["log_dropped"]
    heard, lat, stop = [], [], threading.Event()
    t0 = time.monotonic()
    log.reading.clear()
    th = threading.Thread(target=probe_loop, args=(daemons, stop, heard, lat))
    th.start()
    flood = attacker.inject_bg("flood", "--rate", "20000", "--seconds", str(STALL_S - 1),
                               "--mode", "garbage")
    for _ in range(USR1_BURSTS):
        daemons[0].kill(signal.SIGUSR1)
        time.sleep((STALL_S - 2) / USR1_BURSTS)
    flood.communicate(timeout=30)
    time.sleep(max(0, t0 + STALL_S - time.monotonic()))
    dropped = daemons[0].query("stats")["other"]["log_dropped"] - dropped0
    stop.set()
    th.join()
    log.reading.set()
    reported = wait_until(lambda: log.since(t0, r"cmemd\[%d\]: log: \d+ lines dropped" % daemons[0].pid), 5)
    bad = Cluster.events_since(watches, t0)
    kept = log.since(t0, r"cmemd\[%d\]: membership of node-1" % daemons[0].pid)
    print("stalled reader %d s under a garbage flood: %d false failures; peers last heard max %d ms "
          "ago (heartbeat %d ms); cmemctl members max %.0f ms (%d queries); node-1 dropped %d log "
          "lines, kept %d of %d SIGUSR1 reports; drop report: %s"
          % (STALL_S, len(bad), max(heard), HEARTBEAT_MS, 1000 * max(lat), len(lat), dropped,
             len(kept), USR1_BURSTS, reported[0].split(": ", 1)[1] if reported else None))
    check(not bad, "false failures while the log was stalled: %s" % bad[:3])
    check(max(heard) <= HEARTBEAT_MS + LATE_MAX_MS, "a heartbeat late by %d ms > %d ms"
          % (max(heard) - HEARTBEAT_MS, LATE_MAX_MS))
    check(max(lat) <= CTL_MAX_S, "cmemctl members took %.0f ms" % (1000 * max(lat)))
    check(dropped > 0, "node-1 logged %d SIGUSR1 reports into a stalled log and dropped none"
          % USR1_BURSTS)
    check(reported, "node-1 never said it dropped log lines")
    n = int(re.search(r"log: (\d+) lines dropped", reported[0]).group(1))
    # the count once the reader is back: a line may still be dropped after the
    # snapshot above and before the reader resumed; the report covers it
    total = daemons[0].query("stats")["other"]["log_dropped"] - dropped0
    check(n == total, "node-1 reported %d dropped lines, stats say %d" % (n, total))
    check(0 < len(kept) < USR1_BURSTS, "kept %d of %d reports" % (len(kept), USR1_BURSTS))
    for w in watches:
        w.stop()


def recreated(c, log, daemons):
    dropped0 = [h.query("stats")["other"]["log_dropped"] for h in daemons]
    log.recreate()
    for h in daemons:
        t0 = time.monotonic()
        h.kill(signal.SIGUSR1)
        got = wait_until(lambda: log.since(t0, r"cmemd\[%d\]: membership of %s" % (h.pid, h.name)), 5)
        print("re-created socket: %s's next line arrived %s" % (
            h.name, "after %.2f s" % (got and (time.monotonic() - t0)) if got else "never"))
        check(got, "%s: no line after the syslog socket was re-created" % h.name)
    dropped = [h.query("stats")["other"]["log_dropped"] - d for h, d in zip(daemons, dropped0)]
    check(dropped == [0] * len(daemons), "lines dropped around the restart: %s" % dropped)


def journal_stream(sock):
    """Environment naming sock (our stderr for the child) as the journal's stream."""
    st = os.fstat(sock.fileno())
    return dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))


def journal(c, log):
    from cmemnet import CMEMD
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    bad = os.path.join(c.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("name = \"x\";\nport = 99999;\n")
    r = subprocess.run([CMEMD, "-f", "-c", bad], stderr=b, env=journal_stream(b), timeout=10)
    b.close()
    a.settimeout(2)
    out = a.recv(4096).decode()
    a.close()
    print("journal: a configuration error, exit %d: %r" % (r.returncode, out))
    check(r.returncode == 1, "cmemd exited %d on a bad configuration" % r.returncode)
    check(re.fullmatch(r"<3>[^<\n]*port[^\n]*\n", out), "not one <3> line without a prefix: %r" % out)
    check("cmemd:" not in out, "a program prefix under the journal: %r" % out)


def main():
    need_root()
    c = log = None
    with scenario("start"):
        c = Cluster(4, conf={"heartbeat_fixed": "true", "heartbeat_ms": str(HEARTBEAT_MS)})
        os.mkdir(os.path.join(c.chroot, "dev"), 0o755)
        log = Syslog(os.path.join(c.chroot, "dev", "log"))
        daemons = c.hosts[:3]
        for h in daemons:
            h.start(args=["-s"])
        check(wait_until(lambda: c.converged(daemons), 5), "no convergence")
        check(wait_until(lambda: log.since(0, r"cmemd\[%d\]: node-1 joining" % daemons[0].pid), 5),
              "no line from node-1 at the chroot's /dev/log")
        check(not daemons[0].read_log().strip(), "-s still wrote to stderr: %s"
              % daemons[0].read_log()[:200])
    with scenario("stalled-reader"):
        need(log, "start")
        stalled_reader(c, log, daemons, c.hosts[3])
    with scenario("re-created"):
        need(log, "start")
        recreated(c, log, daemons)
    with scenario("journal"):
        need(log, "start")
        journal(c, log)
    if c:
        c.cleanup()
    if log:
        log.close()
    finish()


if __name__ == "__main__":
    main()
