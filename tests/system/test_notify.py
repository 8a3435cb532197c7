#!/usr/bin/env python3
"""System test: cmemd speaks the service manager's notify protocol.

The test plays systemd: it binds a datagram socket, starts cmemd in a
network namespace with NOTIFY_SOCKET pointing at it (and WATCHDOG_USEC),
and checks what arrives, with the sender's credentials: READY=1 once the
control socket answers, from the dropped user; STATUS= with the member
counts when a member joins and fails (at most one a second); WATCHDOG=1
every WATCHDOG_USEC / 2; STOPPING=1 on TERM.  A daemonized cmemd names
its new pid in READY=1 (MAINPID=).
"""
import os
import signal
import socket
import struct
import subprocess
import threading
import time

from cmemnet import CMEMD, CRASH_MAX_S, Cluster, check, finish, median, need, need_root, scenario, wait_until

WATCHDOG_USEC = 400000  # WATCHDOG=1 expected every 200 ms


class Manager:
    """The service manager's end: every datagram with its time and sender."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.msgs = []  # (monotonic time, text, (pid, uid, gid))
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            except OSError:
                return
            cred = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    cred = struct.unpack("3i", payload[:12])
            self.msgs.append((time.monotonic(), data.decode(), cred))

    def first(self, prefix, after=0.0):
        for t, m, cred in list(self.msgs):
            if t >= after and any(line.startswith(prefix) for line in m.split("\n")):
                return t, m, cred
        return None

    def all(self, prefix):
        return [(t, m, c) for t, m, c in list(self.msgs) if m.startswith(prefix)]

    def close(self):
        self.stop = True
        self.sock.close()
        self.thread.join(1)


def start_notified(h, mgr):
    """Start h with the manager's socket in its environment; as root, as systemd would."""
    env = dict(os.environ, NOTIFY_SOCKET=mgr.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    with open(h.conf, "w") as f:
        f.write(h.config_text())
    logf = open(h.log, "a")
    h.proc = subprocess.Popen(["ip", "netns", "exec", h.ns, CMEMD, "-f", "-c", h.conf],
                              stdout=logf, stderr=logf, env=env)
    logf.close()
    h.cluster.procs.append(h.proc)
    return time.monotonic()


def ready_after_control_socket(h, mgr):
    """READY=1 comes from the dropped daemon, and the control socket answers at once."""
    got = wait_until(lambda: mgr.first("READY=1") or h.proc.poll() is not None, 5)
    check(got and h.proc.poll() is None, "no READY=1: %s" % h.read_log()[-1500:])
    t_ready, msg, cred = mgr.first("READY=1")
    r = h.ctl("status")
    check(r.returncode == 0, "control socket did not answer right after READY=1: %s" % r.stderr)
    check(cred is not None and cred[0] == h.pid, "READY=1 sender %s, daemon pid %d" % (cred, h.pid))
    check(cred[1] == 65534, "READY=1 sent by uid %d, before the drop" % cred[1])
    check("MAINPID" not in msg, "foreground daemon sent %r" % msg)
    print("READY=1 from pid %d uid %d; status answered on the first try" % (cred[0], cred[1]))
    return t_ready


def status_follows_counts(c, mgr, t_ready):
    h1, h2 = c.hosts[0], c.hosts[1]
    first = wait_until(lambda: mgr.first("STATUS="), 3)
    check(first and first[1] == "STATUS=1 alive, 0 failed, 0 left", "first STATUS: %s" % (first,))
    t0 = time.monotonic()
    h2.start()
    two = wait_until(lambda: mgr.first("STATUS=2 alive, 0 failed, 0 left", after=t0), 3)
    check(two, "no STATUS for 2 alive: %s" % [m for _, m, _ in mgr.msgs if "STATUS" in m])
    print("STATUS=2 alive: %.3f s after the second daemon started" % (two[0] - t0))
    t1 = time.monotonic()
    h2.kill()
    failed = wait_until(lambda: mgr.first("STATUS=1 alive, 1 failed, 0 left", after=t1), 4)
    check(failed, "no STATUS for 1 failed: %s" % [m for _, m, _ in mgr.msgs if "STATUS" in m])
    # a crash is seen (CRASH_MAX_S), and STATUS= sent at most 1 s after the previous one
    check(failed[0] - t1 < CRASH_MAX_S + 1, "failure reported %.3f s after kill -9" % (failed[0] - t1))
    print("STATUS=1 alive, 1 failed: %.3f s after kill -9 of the second daemon" % (failed[0] - t1))
    times = [t for t, _, _ in mgr.all("STATUS=")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g >= 0.95 for g in gaps), "STATUS= more often than once a second: gaps %s" % gaps)
    print("%d STATUS= messages, gaps between them >= %.2f s" % (len(times), min(gaps) if gaps else 0))


def watchdog_interval(mgr):
    wait_until(lambda: len(mgr.all("WATCHDOG=1")) >= 8, 5)
    times = [t for t, _, _ in mgr.all("WATCHDOG=1")]
    check(len(times) >= 5, "only %d WATCHDOG=1 messages" % len(times))
    gaps = [b - a for a, b in zip(times, times[1:])]
    want = WATCHDOG_USEC / 2e6
    check(want * 0.8 <= median(gaps) <= want * 1.5 and max(gaps) < want * 2,
          "WATCHDOG=1 gaps: median %.3f s, max %.3f s (want %.3f s)" % (median(gaps), max(gaps), want))
    print("WATCHDOG=1: %d messages, every %.3f s (median; max %.3f s) for WATCHDOG_USEC=%d"
          % (len(times), median(gaps), max(gaps), WATCHDOG_USEC))


def stopping_on_term(h, mgr):
    t0 = time.monotonic()
    h.kill(signal.SIGTERM)
    rc = h.wait_exit(5)
    check(rc == 0, "exit status %s after TERM" % rc)
    got = wait_until(lambda: mgr.first("STOPPING=1", after=t0), 2)
    check(got, "no STOPPING=1 after TERM: %s" % [m for _, m, _ in mgr.msgs[-5:]])
    print("STOPPING=1 %.3f s after TERM; exit 0" % (got[0] - t0))


def daemonized_names_mainpid(c, mgr):
    """Without -f the forked child is the service: READY=1 carries its pid."""
    h = c.hosts[2]
    with open(h.conf, "w") as f:
        f.write(h.config_text())
    env = dict(os.environ, NOTIFY_SOCKET=mgr.path)
    t0 = time.monotonic()
    r = subprocess.run(["ip", "netns", "exec", h.ns, CMEMD, "-c", h.conf], env=env,
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, "daemonized start: rc %d: %s" % (r.returncode, r.stderr))
    with open(os.path.join(h.dir, "cmemd.pid")) as f:
        pid = int(f.read())
    got = wait_until(lambda: mgr.first("READY=1", after=t0), 3)
    try:
        check(got and ("MAINPID=%d" % pid) in got[1].split("\n"),
              "daemonized READY: %s, pidfile %d" % (got, pid))
        check(got[2][0] == pid, "READY=1 sent by pid %d, daemon %d" % (got[2][0], pid))
        print("daemonized: %r from pid %d (the pidfile's)" % (got[1], pid))
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not os.path.exists("/proc/%d" % pid), 5)


def main():
    need_root()
    c = Cluster(3)
    mgr = Manager(os.path.join(c.dir, "notify.sock"))
    mgr2 = Manager(os.path.join(c.dir, "notify2.sock"))
    try:
        h = c.hosts[0]
        t_ready = None
        with scenario("ready"):
            start_notified(h, mgr)
            t_ready = ready_after_control_socket(h, mgr)
        with scenario("status"):
            status_follows_counts(c, mgr, need(t_ready, "ready"))
        with scenario("watchdog"):
            need(t_ready, "ready")
            watchdog_interval(mgr)
        with scenario("stopping"):
            need(t_ready, "ready")
            stopping_on_term(h, mgr)
        with scenario("daemonized-mainpid"):
            daemonized_names_mainpid(c, mgr2)
    finally:
        mgr.close()
        mgr2.close()
        c.cleanup()
    finish()


if __name__ == "__main__":
    main()
