#!/usr/bin/env python3
"""System test: the control socket and cmemctl against running daemons.

A 3-host cluster (a 4th namespace comes and goes).  Every command in table
and JSON form (JSON parsed and checked for the documented keys, Prometheus
output checked line by line); `watch --json`, the table `watch` and
`watch --exec SCRIPT` see join, leave, restart and failed; `loglevel` is
refused for nobody even on a socket loosened to 0666, while read-only
commands work for it; garbage, oversize and half-sent requests close only
their own connection; 100 clients at once are all answered; 1000 abandoned
connections do not lock a good client out; a watch client that never reads
is dropped while heartbeats stay on time; exit codes and messages when the
daemon is not running, and for usage errors.  Round 2: every error reply
carries its code; `stats --prometheus` parsed by prometheus_client matches
`members --json`; four non-root uids holding all 128 slots (watchers and
half-sent requests) do not keep root's `status` and `keys use` out; a
64-key ring installs; a listener that is not root gets no key material;
a reply of another protocol version is refused; a socket that is not
cmemd gets its terminal controls escaped and, when it never answers,
cmemctl exits 3 after its 5 s deadline; a writable socket
directory or a link planted at the socket's path keeps cmemd from
starting and the link's target unchanged.  Prints the figures.
"""
import json
import os
import pwd
import re
import resource
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

from cmemnet import (CLIENT_MAX_S, CMEMCTL, CTL_READ_DEADLINE_S, BUSY_S, EVENT_FLOOD, HEARD_MAX_MS, Cluster,
                     Relay, Watch, check, fail, finish, median, need_root, scenario, wait_until, write_keyring)

MEMBER_KEYS = {"name", "address", "state", "incarnation", "since", "last_heard_ms", "loss", "skew_s",
               "timeout_ms", "lines"}
EVENT_KEYS = {"event", "member", "address", "incarnation", "time", "detail", "version"}
VERBS = {"cjoin", "alive", "leave", "cluster", "probe"}
REASONS = {"bad_format", "bad_version", "unknown_key", "bad_mac", "stale", "replay", "bad_body"}
OTHER = {"oversize", "own_replays", "late", "duplicates", "own_lines", "name_conflicts",
         "table_full", "send_errors", "replies_suppressed", "dropped_watchers",
         "log_dropped"}
PROM_LABEL = r'[a-z_]+="(?:[^"\\]|\\.)*"'
PROM_SAMPLE = re.compile(r'^cmem_[a-z_]+(\{%s(,%s)*\})? -?[0-9.e+-]+$' % (PROM_LABEL, PROM_LABEL))
PROM_META = re.compile(r'^# (HELP|TYPE) (cmem_[a-z_]+) (.+)$')
# for the processes run as another uid: the system's python, not one in root's home
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

FLOOD = EVENT_FLOOD


def ctl(sock, *args, user=None, cmemctl=CMEMCTL, timeout=10):
    argv = [cmemctl, "-s", sock] + list(args)
    if user is not None:
        argv = ["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid,
                "--clear-groups"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def expect_rc(r, rc, what):
    check(r.returncode == rc, "%s: exit %d, expected %d; stdout %r stderr %r"
          % (what, r.returncode, rc, r.stdout[-500:], r.stderr[-500:]))


def parse_json(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        fail("%s: not JSON (%s): %r" % (what, e, text[:500]))


def get_json(h, *args):
    r = ctl(h.sock, "--json", *args)
    expect_rc(r, 0, "%s: cmemctl --json %s" % (h.name, " ".join(args)))
    check(r.stdout.count("\n") == 1, "%s: --json %s wrote %d lines" % (h.name, args, r.stdout.count("\n")))
    d = parse_json(r.stdout, "cmemctl --json %s" % " ".join(args))
    check(d.get("status") == "ok" and d.get("version") == 1, "%s: %s reply %s" % (h.name, args, d))
    return d


def get_table(h, *args):
    r = ctl(h.sock, *args)
    expect_rc(r, 0, "%s: cmemctl %s" % (h.name, " ".join(args)))
    check(r.stderr == "", "%s: cmemctl %s wrote to stderr: %r" % (h.name, args, r.stderr))
    return r.stdout


def has_keys(d, keys, what):
    check(isinstance(d, dict) and keys <= set(d), "%s: lacks %s: %s" % (what, keys - set(d or {}), d))


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


# ---- every command, both formats ----

@scenario
def check_members(c, h, hosts):
    d = get_json(h, "members")
    # "rejected": authenticated senders kept out lately (none in a healthy cluster)
    check(set(d) - {"rejected"} == {"status", "version", "self", "members"} and
          d.get("rejected", []) == [], "members keys: %s" % d)
    check(d["self"] == h.name, "members self %r" % d["self"])
    byname = {m["name"]: m for m in d["members"]}
    check(set(byname) == {x.name for x in hosts} and len(d["members"]) == len(hosts),
          "members lists %s" % sorted(byname))
    for x in hosts:
        m = byname[x.name]
        check(set(m) - {"self"} == MEMBER_KEYS, "member %s has keys %s" % (x.name, sorted(m)))
        check(m["state"] == "alive" and m["address"] == x.addr, "member %s: %s" % (x.name, m))
        check(is_count(m["incarnation"]) and is_count(m["last_heard_ms"]) and
              isinstance(m["skew_s"], int) and 0 <= m["loss"] <= 1, "member types: %s" % m)
        check((m.get("self") is True) == (x is h), "self flag of %s: %s" % (x.name, m))
        if x is not h:
            check(m["last_heard_ms"] < 1000, "%s last heard %d ms ago" % (x.name, m["last_heard_ms"]))
    lines = get_table(h, "members").splitlines()
    check(lines[0].split() == ["NAME", "ADDRESS", "STATE", "SINCE", "LAST", "HEARD", "LOSS", "SKEW"],
          "members table header %r" % lines[0])
    check(len(lines) == 1 + len(hosts), "members table has %d lines" % len(lines))
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    check(set(rows) == set(byname), "members table rows %s" % sorted(rows))
    for x in hosts:
        w = rows[x.name].split()
        check(w[1] == x.addr and w[2] == "alive", "members row %r" % rows[x.name])
        check(("(self)" in rows[x.name]) == (x is h), "members row %r" % rows[x.name])
    print("members: %d members in JSON (keys %s) and in the table" % (len(hosts), ", ".join(sorted(MEMBER_KEYS))))


@scenario
def check_status(c, h, n):
    d = get_json(h, "status")
    has_keys(d, {"name", "daemon_version", "incarnation", "cluster", "uptime_s", "members",
                 "detector", "keys", "log_level", "confinement"}, "status")
    has_keys(d["cluster"], {"group", "port", "interface", "ttl"}, "status cluster")
    has_keys(d["members"], {"alive", "failed", "left", "candidate"}, "status members")
    has_keys(d["detector"], {"heartbeat_ms", "fail_after_ms", "replay_window_s", "max_members"},
             "status detector")
    has_keys(d["confinement"], {"uid", "gid", "chroot", "no_new_privs", "pid"}, "status confinement")
    check(d["name"] == h.name and d["cluster"]["group"] == c.group and d["cluster"]["port"] == c.port
          and d["cluster"]["interface"] == "eth0" and d["cluster"]["ttl"] == 1, "status: %s" % d)
    check(d["members"]["alive"] == n, "status members %s" % d["members"])
    check(d["confinement"]["pid"] == h.pid and d["confinement"]["uid"] != 0 and
          d["confinement"]["chroot"] == c.chroot and d["confinement"]["no_new_privs"] is True,
          "status confinement %s" % d["confinement"])
    check(len(d["keys"]) == 1, "status keys %s" % d["keys"])
    has_keys(d["keys"][0], {"id", "primary", "fingerprint", "accepted"}, "status key")
    check(d["keys"][0]["id"] == 1 and d["keys"][0]["primary"] is True, "status key %s" % d["keys"])
    secret = keyring_secret(c)
    out = get_table(h, "status")
    check(secret not in json.dumps(d) and secret not in out, "status shows the key's secret")
    for prefix in ("node:", "version:", "cluster:", "uptime:", "members:", "detector:", "keys:",
                   "log level:", "confinement:"):
        check(any(ln.startswith(prefix) for ln in out.splitlines()), "status table lacks %r: %s" % (prefix, out))
    check("node:        %s (incarnation %d)" % (h.name, d["incarnation"]) in out and
          "%d alive" % n in out, "status table: %s" % out)
    print("status: JSON and table; uptime %d s, log level %s, uid %d, chroot %s"
          % (d["uptime_s"], d["log_level"], d["confinement"]["uid"], d["confinement"]["chroot"]))


def check_prometheus(text, stats):
    helped, typed, samples = set(), set(), {}
    for ln in text.splitlines():
        m = PROM_META.match(ln)
        if m:
            seen = helped if m.group(1) == "HELP" else typed
            check(m.group(2) not in seen, "Prometheus: %s twice for %s" % (m.group(1), m.group(2)))
            check(m.group(2) not in {s.split("{")[0] for s in samples},
                  "Prometheus: %s after the samples: %r" % (m.group(1), ln))
            check(m.group(1) == "HELP" or m.group(3) in ("counter", "gauge"), "Prometheus TYPE %r" % ln)
            seen.add(m.group(2))
            continue
        check(PROM_SAMPLE.match(ln), "Prometheus: not a sample line: %r" % ln)
        name = re.split(r"[{ ]", ln)[0]
        check(name in helped and name in typed, "Prometheus: %r before its HELP and TYPE" % ln)
        samples[ln.rsplit(" ", 1)[0]] = float(ln.rsplit(" ", 1)[1])
    for reason, n in stats["dropped"].items():
        check(samples.get('cmem_lines_dropped_total{reason="%s"}' % reason) == n,
              "Prometheus dropped %s != %d" % (reason, n))
    for verb in VERBS:
        check('cmem_lines_sent_total{verb="%s"}' % verb in samples, "Prometheus lacks sent %s" % verb)
    for k in OTHER:
        check("cmem_%s_total" % k in samples, "Prometheus lacks cmem_%s_total" % k)
    return len(samples), len(helped)


@scenario
def check_stats(h):
    d = get_json(h, "stats")
    has_keys(d, {"sent", "accepted", "dropped", "by_key", "top_sources", "other"}, "stats")
    check(set(d["sent"]) == VERBS and set(d["accepted"]) == VERBS, "stats verbs %s" % d)
    check(set(d["dropped"]) == REASONS, "stats reasons %s" % sorted(d["dropped"]))
    check(set(d["other"]) == OTHER, "stats other %s" % sorted(d["other"]))
    check(all(is_count(v) for o in ("sent", "accepted", "dropped", "by_key", "other") for v in d[o].values()),
          "stats counts %s" % d)
    check(d["sent"]["alive"] > 0 and d["by_key"].get("1", 0) > 0, "stats: %s" % d)
    check(isinstance(d["top_sources"], list), "stats top_sources %s" % d["top_sources"])
    out = get_table(h, "stats")
    for section in ("sent", "accepted", "dropped", "accepted by key id", "other"):
        check(section in out.splitlines(), "stats table lacks section %r" % section)
    check(re.search(r"^  bad_mac +\d+$", out, re.M), "stats table: %s" % out)
    nsamples, nfam = check_prometheus(get_table(h, "stats", "--prometheus"), d)
    print("stats: JSON, table and Prometheus (%d samples in %d families, every line checked)"
          % (nsamples, nfam))


@scenario
def check_loglevel(h):
    out = get_table(h, "loglevel", "debug")
    check(out == "level: debug\n", "loglevel table output %r" % out)
    check(get_json(h, "status")["log_level"] == "debug", "log level not debug")
    d = get_json(h, "loglevel", "info")
    check(set(d) == {"status", "version", "level"} and d["level"] == "info", "loglevel JSON %s" % d)
    r = ctl(h.sock, "loglevel", "loud")
    expect_rc(r, 1, "loglevel loud")
    check("unknown log level 'loud'" in r.stderr and r.stdout == "", "loglevel loud: %r" % r.stderr)
    check(get_json(h, "status")["log_level"] == "info", "log level not back to info")
    print("loglevel: debug (table), info (JSON) as root; 'loud' refused with exit 1")


def keyring_secret(c):
    with open(c.keyring) as f:
        for ln in f:
            w = ln.split()
            if w and w[0] == "1":
                return w[1]
    fail("no key 1 in %s" % c.keyring)


# ---- watch ----

class Lines:
    """A cmemctl process whose stdout and stderr lines are collected."""

    def __init__(self, c, argv):
        self.out, self.err = [], []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        c.procs.append(self.proc)
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()

    @staticmethod
    def _read(stream, into):
        for ln in stream:
            into.append(ln.rstrip("\n"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def event_line(w, event, member, after):
    t = w.first(event, member, after)
    return t is not None and t


@scenario
def check_watch(c, h, joiner):
    out = os.path.join(c.dir, "events.txt")
    script = os.path.join(c.dir, "on-event.sh")
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho "$CMEM_EVENT $CMEM_MEMBER $CMEM_ADDRESS $CMEM_INCARNATION" >> %s\n' % out)
    os.chmod(script, 0o755)
    jw = Watch(h)
    table = Lines(c, [CMEMCTL, "-s", h.sock, "watch"])
    relay = Relay(h)  # --exec prints nothing when subscribed: the relay sees the reply
    execw = Lines(c, [CMEMCTL, "-s", relay.path, "watch", "--exec", script])
    check(wait_until(lambda: table.err, 5) and "watching %s's events" % h.name in table.err[0],
          "table watch banner: %s" % table.err)
    check(relay.wait_ready(5), "watch --exec not subscribed: %s %s" % (relay.reply, execw.err))
    steps, incs = [], []
    t0 = time.monotonic()
    joiner.start()
    incs.append(joiner.query("status")["incarnation"])
    steps.append(("join", t0, wait_until(lambda: event_line(jw, "join", joiner.name, t0), 5)))
    t0 = time.monotonic()
    joiner.kill(signal.SIGTERM)
    steps.append(("leave", t0, wait_until(lambda: event_line(jw, "leave", joiner.name, t0), 5)))
    check(joiner.wait_exit(5) == 0, "SIGTERM: %s did not exit 0" % joiner.name)
    t0 = time.monotonic()
    joiner.start()
    incs.append(joiner.query("status")["incarnation"])
    steps.append(("restart", t0, wait_until(lambda: event_line(jw, "restart", joiner.name, t0), 5)))
    t0 = time.monotonic()
    joiner.kill(signal.SIGKILL)
    steps.append(("failed", t0, wait_until(lambda: event_line(jw, "failed", joiner.name, t0), 10)))
    joiner.wait_exit(5)
    for ev, t0, t in steps:
        check(t, "watch --json: no %s event for %s: %s" % (ev, joiner.name, [e for _, e in jw.events]))
    expect = [(ev, incs[0] if ev in ("join", "leave") else incs[1]) for ev, _, _ in steps]
    check_json_events(jw, joiner, expect)
    check_table_events(table, joiner, expect)
    check_exec_events(out, execw, joiner, expect)
    for w in (jw, table, execw):
        w.stop()
    relay.close()
    print("watch: %s; JSON, table and --exec saw all four" % ", ".join(
        "%s %.3f s after %s" % (ev, t - t0, {"join": "start", "leave": "SIGTERM",
                                               "restart": "restart", "failed": "SIGKILL"}[ev])
        for ev, t0, t in steps))


def check_json_events(jw, joiner, expect):
    got = [e for _, e in jw.events if e.get("member") == joiner.name]
    check([(e["event"], e["incarnation"]) for e in got] == expect,
          "watch --json events of %s: %s, expected %s" % (joiner.name, got, expect))
    for e in got:
        check(set(e) == EVENT_KEYS and e["address"] == joiner.addr and abs(e["time"] - time.time()) < 60,
              "watch --json event %s" % e)


def check_table_events(table, joiner, expect):
    got = [ln for ln in table.out if " %s (%s) " % (joiner.name, joiner.addr) in ln]
    check(len(got) == len(expect), "table watch lines %s" % table.out)
    for ln, (ev, inc) in zip(got, expect):
        w = ln.split()
        check(w[2] == ev and "incarnation %d:" % inc in ln, "table watch line %r, expected %s" % (ln, ev))


def check_exec_events(out, execw, joiner, expect):
    want = ["%s %s %s %d" % (ev, joiner.name, joiner.addr, inc) for ev, inc in expect]
    got = []
    def mine():
        nonlocal got
        try:
            with open(out) as f:
                got = [ln.strip() for ln in f if joiner.name in ln]
        except OSError:
            got = []
        return len(got) >= len(want)
    wait_until(mine, 5)
    check(got == want, "watch --exec wrote %s, expected %s (stderr %s)" % (got, want, execw.err))
    check(execw.out == [], "watch --exec wrote to stdout: %s" % execw.out)


# ---- access ----

@scenario
def check_access(c, h, hosts):
    nobody = pwd.getpwnam("nobody")
    cmemctl = os.path.join(c.dir, "cmemctl")  # reachable by nobody wherever the build is
    shutil.copy(CMEMCTL, cmemctl)
    os.chmod(cmemctl, 0o755)
    os.chmod(h.dir, 0o755)
    st = os.lstat(h.sock)
    check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0,
          "socket %s: mode %o uid %d" % (h.sock, st.st_mode, st.st_uid))
    r = ctl(h.sock, "members", user=nobody, cmemctl=cmemctl)
    expect_rc(r, 3, "members as nobody on a 0660 socket")
    check("Permission denied" in r.stderr and h.sock in r.stderr, "nobody on 0660: %r" % r.stderr)
    expect_rc(ctl(h.sock, "loglevel", "debug"), 0, "loglevel debug as root")
    expect_rc(ctl(h.sock, "loglevel", "info"), 0, "loglevel info as root")
    os.chmod(h.sock, 0o666)  # a mode loosened by hand
    try:
        r = ctl(h.sock, "loglevel", "debug", user=nobody, cmemctl=cmemctl)
        expect_rc(r, 1, "loglevel as nobody")
        check("permission denied" in r.stderr and "uid %d" % nobody.pw_uid in r.stderr and r.stdout == "",
              "loglevel as nobody: %r" % r.stderr)
        refusal = r.stderr.strip()
        check(get_json(h, "status")["log_level"] == "info", "nobody changed the log level")
        for args in (("--json", "members"), ("--json", "status"), ("stats", "--prometheus")):
            r = ctl(h.sock, *args, user=nobody, cmemctl=cmemctl)
            expect_rc(r, 0, "%s as nobody" % " ".join(args))
        d = parse_json(ctl(h.sock, "--json", "members", user=nobody, cmemctl=cmemctl).stdout, "members")
        check({m["name"] for m in d["members"]} >= {x.name for x in hosts}, "members as nobody: %s" % d)
    finally:
        os.chmod(h.sock, 0o660)
    print("access: socket 0660 root-owned, nobody cannot connect; at 0666 nobody may read "
          "(members, status, stats) but loglevel is refused: %s" % refusal)


# ---- bad requests ----

def read_to_eof(s, timeout):
    """(bytes, closed): what the daemon sent until it closed, or until timeout."""
    got, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return got, True
        if not b:
            return got, True
        got += b
    return got, False


def raw_connect(path, timeout=10):
    """Connect, waiting while the daemon's listen backlog is full (EAGAIN)."""
    end = time.monotonic() + timeout
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    while True:
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            if time.monotonic() > end:
                s.close()
                raise
            time.sleep(0.001)


def raw_send(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon already answered and closed


def raw_exchange(path, data, timeout=5):
    s = raw_connect(path)
    raw_send(s, data)
    got, closed = read_to_eof(s, timeout)
    s.close()
    return got, closed


def one_reply(got, what):
    lines = got.decode(errors="replace").splitlines()
    check(len(lines) == 1, "%s: %d reply lines: %r" % (what, len(lines), got[:300]))
    d = parse_json(lines[0], what)
    check(d.get("version") == 1 and d.get("status") in ("ok", "error"), "%s: reply %s" % (what, d))
    return d


BAD_REQUESTS = [
    ("garbage", b"\x00\xff\x01 garbage\n", "bad_request", "malformed request: "),
    ("not an object", b"[1, 2, 3]\n", "bad_request", "malformed request: not a JSON object"),
    ("no version", b'{"command":"members"}\n', "bad_request", "request carries no protocol version"),
    ("version 2", b'{"version":2,"command":"members"}\n', "unsupported_version",
     "control protocol version 2 is not supported: this cmemd speaks version 1"),
    ("no command", b'{"version":1}\n', "bad_request", "request names no command"),
    ("unknown command", b'{"version":1,"command":"bogus"}\n', "unknown_command",
     "unknown command 'bogus'"),
    ("oversize", b"x" * 17000, "too_large", "request longer than 16384 bytes"),
    ("oversize line", b'{"version":1,"command":"members"' + b" " * 17000 + b"}\n", "too_large",
     "request longer than 16384 bytes"),
]


class Prober(threading.Thread):
    """A well-behaved client asking `members` over and over meanwhile."""

    def __init__(self, h):
        super().__init__(daemon=True)
        self.h, self.stop, self.ok, self.errors = h, threading.Event(), 0, []

    def run(self):
        while not self.stop.is_set():
            r = ctl(self.h.sock, "--json", "members")
            if r.returncode == 0 and json.loads(r.stdout).get("status") == "ok":
                self.ok += 1
            else:
                self.errors.append((r.returncode, r.stderr))

    def finish(self):
        self.stop.set()
        self.join(15)
        check(not self.errors and self.ok > 0, "well-behaved client meanwhile: %d ok, errors %s"
              % (self.ok, self.errors[:3]))
        return self.ok


@scenario
def check_bad_requests(h):
    prober = Prober(h)
    prober.start()
    good = raw_connect(h.sock)           # connected before the bad ones, asks after them
    half = raw_connect(h.sock)
    t_half = time.monotonic()
    half.sendall(b'{"version":1,"comm')  # and nothing more
    for what, data, code, msg in BAD_REQUESTS:
        got, closed = raw_exchange(h.sock, data)
        d = one_reply(got, what)
        check(closed and d["status"] == "error" and d.get("error", "").startswith(msg) and
              d.get("code") == code, "%s: closed %s, reply %s, expected %s %r" % (what, closed, d, code, msg))
    good.sendall(b'{"version":1,"command":"members"}\n')
    got, closed = read_to_eof(good, 5)
    d = one_reply(got, "good client among bad ones")
    check(closed and d["status"] == "ok" and d["self"] == h.name, "good client: %s" % d)
    got, closed = read_to_eof(half, 10)
    took = time.monotonic() - t_half
    check(closed and got == b"", "half-sent request: closed %s after %.3f s, got %r" % (closed, took, got))
    check(CTL_READ_DEADLINE_S - 0.1 <= took <= CTL_READ_DEADLINE_S + 2 * BUSY_S,
          "half-sent request closed after %.3f s, not about %.0f s" % (took, CTL_READ_DEADLINE_S))
    n = prober.finish()
    for s in (good, half):
        s.close()
    print("bad requests: %d kinds each got their error and were closed; a half-sent request was "
          "closed after %.3f s; a well-behaved client was answered %d times meanwhile"
          % (len(BAD_REQUESTS), took, n))


# ---- many clients ----

@scenario
def many_at_once(h, n=100):
    barrier = threading.Barrier(n + 1)
    results = [None] * n
    cmds = ("members", "status", "stats")

    def client(i):
        try:
            s = raw_connect(h.sock, 20)
            barrier.wait(30)
            t = time.monotonic()
            s.sendall(b'{"version":1,"command":"%s"}\n' % cmds[i % 3].encode())
            got, closed = read_to_eof(s, 20)
            s.close()
            results[i] = (json.loads(got.decode()), closed, time.monotonic() - t)
        except (OSError, ValueError, threading.BrokenBarrierError) as e:
            results[i] = (repr(e), False, 0)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait(30)  # all n connected at once
    t0 = time.monotonic()
    for t in threads:
        t.join(30)
    took = time.monotonic() - t0
    bad = [r for r in results if not (r and r[1] and isinstance(r[0], dict) and r[0].get("status") == "ok")]
    check(not bad, "%d of %d simultaneous clients not answered: %s" % (len(bad), n, bad[:3]))
    for i, (d, _, _) in enumerate(results):
        key = {"members": "members", "status": "uptime_s", "stats": "dropped"}[cmds[i % 3]]
        check(key in d, "client %d (%s) got %s" % (i, cmds[i % 3], d))
    lat = [r[2] * 1000 for r in results]
    print("%d clients at once: all answered in %.3f s (per client median %.1f ms, max %.1f ms)"
          % (n, took, median(lat), max(lat)))
    check(max(lat) <= 1000 * CLIENT_MAX_S, "a client was answered after %.1f ms > %d ms"
          % (max(lat), 1000 * CLIENT_MAX_S))


@scenario
def abandoned(h, n=1000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    t0 = time.monotonic()
    socks = [raw_connect(h.sock, 10) for _ in range(n)]
    opened = time.monotonic() - t0
    t1 = time.monotonic()
    r = ctl(h.sock, "--json", "members")
    answered = time.monotonic() - t1
    expect_rc(r, 0, "members after %d abandoned connections" % n)
    check(parse_json(r.stdout, "members")["self"] == h.name, "members after abandoned: %s" % r.stdout)
    p = select.poll()
    for s in socks:
        p.register(s.fileno(), select.POLLIN)
    closed = len(p.poll(0))  # readable: closed by the daemon to make room
    for s in socks:
        s.close()
    check(closed >= n - 128, "the daemon holds %d of %d idle connections, above its limit of 128"
          % (n - closed, n))
    expect_rc(ctl(h.sock, "status"), 0, "status after the abandoned connections went")
    print("%d connections opened (%.3f s) and abandoned: the daemon closed %d to make room, "
          "a good client was answered in %.3f s" % (n, opened, closed, answered))
    check(answered <= CLIENT_MAX_S, "the good client was answered after %.0f ms > %d ms"
          % (answered * 1000, 1000 * CLIENT_MAX_S))


# ---- a stuck watcher while events flood in ----

def view_of(observer, name):
    r = ctl(observer.sock, "--json", "members")
    if r.returncode != 0:
        return None
    for m in json.loads(r.stdout)["members"]:
        if m["name"] == name:
            return m
    return None


class HeartbeatSampler(threading.Thread):
    """How long ago each observer last heard the target, sampled repeatedly."""

    def __init__(self, target, observers):
        super().__init__(daemon=True)
        self.target, self.observers = target, observers
        self.stop, self.samples, self.bad = threading.Event(), [], []

    def run(self):
        while not self.stop.is_set():
            for o in self.observers:
                m = view_of(o, self.target.name)
                if m is None or m["state"] != "alive":
                    self.bad.append((o.name, m))
                else:
                    self.samples.append(m["last_heard_ms"])

    def finish(self):
        self.stop.set()
        self.join(15)
        check(self.samples and not self.bad, "heartbeats: %s not alive: %s" % (self.target.name, self.bad[:3]))
        return self.samples


def flood(c, via, count, name):
    args = ["ip", "netns", "exec", via.ns, "python3", "-c", FLOOD, keyring_secret(c), c.group,
            str(c.port), via.addr, str(count), name]
    t0 = time.monotonic()
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return time.monotonic() - t0


@scenario
def check_stuck_watcher(c, h, observers, via, count=6000):
    base = HeartbeatSampler(h, observers)
    base.start()
    time.sleep(1.0)
    baseline = base.finish()
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(h.sock)
    stuck.sendall(b'{"version":1,"command":"watch"}\n')  # and never reads
    stuck.settimeout(5)
    check(stuck.recv(1, socket.MSG_PEEK), "the stuck watcher got no reply")  # subscribed; left unread
    reader = Watch(h)  # a watcher that reads: it must stay
    before = get_json(h, "stats")
    sampler = HeartbeatSampler(h, observers)
    sampler.start()
    took = flood(c, via, count, "flood")
    time.sleep(1.0)
    samples = sampler.finish()
    after = get_json(h, "stats")
    lines = sum(after["accepted"][v] - before["accepted"][v] for v in ("alive", "leave"))
    hb = after["sent"]["alive"] - before["sent"]["alive"]
    dropped = after["other"]["dropped_watchers"] - before["other"]["dropped_watchers"]
    got, closed = read_to_eof(stuck, 5)
    stuck.close()
    seen = sum(1 for _, e in reader.events if e.get("member") == "flood")
    reader_alive = reader.proc.poll() is None
    reader.stop()
    print("stuck watcher: %d flood lines in %.3f s (%d accepted by %s, %d events seen by a reading "
          "watcher); the stuck one got %d bytes before being dropped (dropped_watchers +%d)"
          % (count, took, lines, h.name, seen, len(got), dropped))
    print("heartbeats of %s meanwhile: %d sent; seen by %s last heard median %d ms, max %d ms over %d "
          "samples (before: max %d ms)" % (h.name, hb, "/".join(o.name for o in observers),
                                          median(samples), max(samples), len(samples), max(baseline)))
    check(max(samples) <= HEARD_MAX_MS, "heartbeats of %s late: last heard %d ms ago > %d ms"
          % (h.name, max(samples), HEARD_MAX_MS))
    check(lines >= count // 2, "only %d of %d flood lines accepted" % (lines, count))
    check(dropped >= 1 and closed, "the stuck watcher was not dropped (dropped_watchers +%d, closed %s)"
          % (dropped, closed))
    check(got.startswith(b'{"status":"ok","self":"%s"' % h.name.encode()), "stuck watcher got %r" % got[:100])
    check(reader_alive and seen >= lines // 2, "the reading watcher was dropped or starved (%d events)" % seen)
    check("dropped a watch client" in h.read_log(), "%s did not log the dropped watcher" % h.name)


# ---- Prometheus, parsed by the real client library ----

def prometheus_parser():
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:  # a python3 outside Debian's: use Debian's package (Makefile DEBS)
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            fail("python3-prometheus-client is not installed (make deps)")
    return text_string_to_metric_families


def check_prometheus_parsed(h, hosts):
    parse = prometheus_parser()
    text = get_table(h, "stats", "--prometheus")
    members = get_json(h, "members")["members"]
    status = get_json(h, "status")
    fams = {f.name: f for f in parse(text)}
    def samples(name):
        check(name in fams, "Prometheus: no family %s" % name)
        return [(s.labels, s.value) for s in fams[name].samples]
    def by(name, label):
        return {lab[label]: v for lab, v in samples(name)}
    states = by("cmem_members", "state")
    for st in ("alive", "failed", "left", "candidate"):
        want = sum(1 for m in members if m["state"] == st)
        check(states.get(st) == want, "Prometheus members %s = %s, members --json says %d" % (st, states.get(st), want))
    peers = [m for m in members if not m.get("self")]
    up, loss = by("cmem_peer_up", "member"), by("cmem_peer_loss_ratio", "member")
    skew, tmo = by("cmem_peer_skew_seconds", "member"), by("cmem_peer_timeout_seconds", "member")
    heard = by("cmem_peer_last_heard_seconds", "member")
    check(set(up) == {m["name"] for m in peers} and h.name not in up, "Prometheus peers %s" % sorted(up))
    for m in peers:
        n = m["name"]
        check(up[n] == (m["state"] == "alive") and skew[n] == m["skew_s"] and
              abs(loss[n] - m["loss"]) <= 0.05 and abs(tmo[n] * 1000 - m["timeout_ms"]) <= 100 and
              0 <= heard[n] < 0.5, "Prometheus %s: up %s loss %s skew %s timeout %s heard %s; JSON %s"
              % (n, up[n], loss[n], skew[n], tmo[n], heard[n], m))
    keys = {(lab["key"], lab["primary"]) for lab, v in samples("cmem_key_in_use") if v == 1}
    check(keys == {(str(k["id"]), "true" if k["primary"] else "false") for k in status["keys"]},
          "Prometheus keys %s, status %s" % (keys, status["keys"]))
    check(samples("cmem_build_info") == [({"version": status["daemon_version"]}, 1.0)],
          "Prometheus build info %s" % samples("cmem_build_info"))
    check(fams["cmem_lines_dropped"].type == "counter", "Prometheus dropped lines not a counter")
    check("cmem_quorum_alive" not in fams or "quorum" in status, "quorum gauges without a quorum")
    print("prometheus: %d families parsed by prometheus_client; members by state, per-peer up/loss/"
          "skew/timeout/last heard and keys match members --json and status" % len(fams))


# ---- a crowd of non-root clients cannot lock root out ----

CROWD = r"""
import json, select, socket, sys, time
path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
socks, n = [], {"ok": 0, "busy": 0, "closed": 0}
for i in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.sendall(b'{"version":1,"command":"watch"}\n' if mode == "watch" else b'{')
    except OSError:
        pass  # already refused
    socks.append(s)
# the daemon answers every watcher and refuses or replaces what is over the
# limit: wait until no more sockets turn readable (0.5 s), within 3 s (a
# half-sent request is closed after 5 s)
end, seen, quiet = time.monotonic() + 3, -1, time.monotonic()
while time.monotonic() < end and time.monotonic() - quiet < 0.5:
    k = len(select.select(socks, [], [], 0.05)[0])
    if k != seen:
        seen, quiet = k, time.monotonic()
for s in socks:
    r, _, _ = select.select([s], [], [], 0)
    try:
        line = s.recv(4096) if r else None
    except OSError:
        line = b""
    if line is None:  # connected, nothing said: a half-sent request still held
        n["ok" if mode == "half" else "closed"] += 1
    elif line.startswith(b'{"status":"ok"'):
        n["ok"] += 1
    elif b'"code":"busy"' in line:
        n["busy"] += 1
    else:  # closed to make room for a newer connection of the same uid
        n["closed"] += 1
print(json.dumps(n), flush=True)
sys.stdin.read()
"""


def start_crowd(c, h, uid, mode, count):
    p = subprocess.Popen(["setpriv", "--reuid=%d" % uid, "--regid=65534", "--clear-groups",
                          PYTHON, "-c", CROWD, h.sock, mode, str(count)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    c.procs.append(p)
    return p


def check_crowd(c, h):
    os.chmod(h.sock, 0o666)  # as a control_group member could reach it
    try:
        crowds, got = [], {}
        for uid, mode in ((65534, "watch"), (65533, "watch"), (65532, "half"), (65531, "half")):
            p = start_crowd(c, h, uid, mode, 40)  # one after the other: each finds the room left
            crowds.append((p, uid, mode))
            line = p.stdout.readline()
            check(line, "crowd of uid %d did not report" % uid)
            got[uid] = json.loads(line)
        t0 = time.monotonic()
        r = ctl(h.sock, "--json", "status")
        status_s = time.monotonic() - t0
        expect_rc(r, 0, "root's status with every slot taken")
        t0 = time.monotonic()
        r = ctl(h.sock, "-c", h.conf, "keys", "use", "1")
        use_s = time.monotonic() - t0
        expect_rc(r, 0, "root's keys use with every slot taken")
        for p, _, _ in crowds:
            p.stdin.close()
            p.wait(10)
    finally:
        os.chmod(h.sock, 0o660)
    for uid, g in got.items():
        check(g["ok"] == 32 and g["ok"] + g["busy"] + g["closed"] == 40,
              "crowd of uid %d: %s (32 held, 8 refused or replaced expected)" % (uid, g))
    check(status_s <= CLIENT_MAX_S and use_s <= CLIENT_MAX_S, "root answered after %.3f / %.3f s"
          % (status_s, use_s))
    print("crowd: 4 non-root uids x 40 connections (2 x 40 watch, 2 x 40 half-sent) hold all 128 "
          "slots (%s); root's status answered in %.3f s and keys use in %.3f s"
          % (", ".join("uid %d: %d held, %d busy, %d replaced" % (u, g["ok"], g["busy"], g["closed"])
                       for u, g in sorted(got.items())), status_s, use_s))


# ---- 64 keys, and key material only to root ----

def check_64_keys(c, h):
    secret = keyring_secret(c)
    ring = write_keyring(os.path.join(c.dir, "ring64.keys"),
                         [(1, secret, True)] + [(i, None, False) for i in range(2, 65)])
    r = ctl(h.sock, "--json", "keys", "install", ring)
    expect_rc(r, 0, "keys install of a 64-key ring")
    d = parse_json(r.stdout, "keys install")
    check(len(d["keys"]) == 64 and d["primary"] == 1, "64-key install: %d keys" % len(d["keys"]))
    check(secret not in r.stdout, "keys install echoed a secret")
    r = ctl(h.sock, "keys", "install", c.keyring)  # back to the cluster's one key
    expect_rc(r, 0, "keys install of the cluster ring")
    with open(ring) as f:  # the request cmemctl sent, byte for byte as jansson writes it
        keys = [{"id": int(w[0]), "secret": w[1], "primary": w[2:] == ["primary"]}
                for w in (ln.split() for ln in f) if w and w[0].isdigit()]
    size = len(json.dumps({"version": 1, "command": "keys", "action": "install", "keys": keys},
                          separators=(",", ":"))) + 1
    check(size <= 16384, "a 64-key request takes %d bytes" % size)
    print("64 keys: a ring of 64 keys (a request of %d bytes, limit 16384) installed over the "
          "control socket" % size)


FAKE = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4); s.settimeout(10)
print("ready", flush=True)
got = 0
try:
    while True:
        conn, _ = s.accept()
        conn.settimeout(3)
        try:
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                got += len(b)
        except OSError:
            pass
        print(got, flush=True)
except OSError:
    pass
"""


def check_fake_socket(c, h):
    nobody = pwd.getpwnam("nobody")
    d = os.path.join(c.dir, "fake")
    os.mkdir(d, 0o755)
    os.chown(d, nobody.pw_uid, nobody.pw_gid)
    path = os.path.join(d, "cmemd.sock")
    p = subprocess.Popen(["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                          "--clear-groups", PYTHON, "-c", FAKE, path],
                         stdout=subprocess.PIPE, text=True)
    c.procs.append(p)
    check(p.stdout.readline().strip() == "ready", "fake socket did not start")
    msgs = []
    for args in (["keys", "install", c.keyring], ["-c", h.conf, "reload"]):
        r = ctl(path, *args)
        expect_rc(r, 1, "cmemctl %s to a socket of uid %d" % (" ".join(args), nobody.pw_uid))
        check("refusing to send key material to %s" % path in r.stderr and
              "runs as uid %d, not root" % nobody.pw_uid in r.stderr, "fake socket: %r" % r.stderr)
        sent = int(p.stdout.readline())
        check(sent == 0, "cmemctl %s sent %d bytes to a non-root listener" % (args[0], sent))
        msgs.append(r.stderr.strip())
    p.kill()
    p.wait()
    print("fake socket of uid %d: keys install and reload sent 0 bytes: %s" % (nobody.pw_uid, msgs[0]))


def fake_daemon(path, replies):
    """A root listener at path answering each connection with the next reply line."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(10)

    def serve():
        for reply in replies:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                got = b""
                while not got.endswith(b"\n"):  # the whole request, as cmemd reads it
                    b = conn.recv(65536)
                    if not b:
                        break
                    got += b
                conn.sendall(reply)
            except OSError:
                pass
            conn.close()
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def check_version_mismatch(c):
    path = os.path.join(c.dir, "v2.sock")
    t = fake_daemon(path, [b'{"status":"ok","self":"x","members":[],"version":2}\n',
                           b'{"status":"ok","members":[]}\n'])
    r = ctl(path, "members")
    expect_rc(r, 1, "members from a version 2 daemon")
    check("speaks control protocol version 2, this cmemctl speaks version 1" in r.stderr and
          r.stdout == "", "version 2 reply: %r" % r.stderr)
    msg = r.stderr.strip()
    r = ctl(path, "members")
    expect_rc(r, 1, "members from a reply without a version")
    check("names no control protocol version" in r.stderr and r.stdout == "", "no version: %r" % r.stderr)
    t.join(5)
    print("version: a reply of another protocol version is refused: %s" % msg)



HOSTILE = "\x1b]0;owned\x07\x1b[2J\u009b31m"  # set the title, clear the screen, C1 CSI
CONTROL_BYTES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # a newline is no control here


def check_hostile_socket(c):
    """A socket that is not cmemd: its controls are escaped, its silence a deadline."""
    path = os.path.join(c.dir, "hostile.sock")
    err = json.dumps({"status": "error", "code": HOSTILE, "error": HOSTILE, "version": 1})
    ok = json.dumps({"status": "ok", "self": HOSTILE, "version": 1,
                     "members": [{"name": HOSTILE, "address": HOSTILE, "state": HOSTILE}]})
    t = fake_daemon(path, [err.encode() + b"\n", ok.encode() + b"\n"])
    said = []
    for rc in (1, 0):  # the error, then the members
        r = ctl(path, "members")
        expect_rc(r, rc, "members from a hostile socket")
        shown = r.stdout + r.stderr
        check(not CONTROL_BYTES.search(shown) and "\\x1b]0;owned\\x07\\x1b[2J\\u009b31m" in shown,
              "hostile reply not escaped: %r" % shown)
        said.append(r.stderr.strip())
    t.join(5)
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(os.path.join(c.dir, "mute.sock"))
    mute.listen(4)
    t0 = time.monotonic()
    r = ctl(mute.getsockname(), "status", timeout=60)  # accepted by the kernel, never answered
    took = time.monotonic() - t0
    mute.close()
    expect_rc(r, 3, "status from a daemon that never answers")
    check("did not answer within 5 s (stopped or stuck?)" in r.stderr and took >= 5,
          "no answer: after %.1f s, %r" % (took, r.stderr))
    print("hostile socket: controls shown escaped (%s); no answer: exit 3 after %.1f s: %s"
          % (said[0], took, r.stderr.strip()))


# ---- the socket's directory: nobody else may write it ----

def start_refused(h, sock):
    text = re.sub(r"^control_socket = .*$", 'control_socket = "%s";' % sock, h.config_text(), flags=re.M)
    h.start(wait=False, conf_text=text)
    rc = h.wait_exit(5)
    check(rc not in (None, 0), "%s started with control socket %s (rc %s)" % (h.name, sock, rc))
    return h.read_log()


def check_socket_dir(c, h):
    d = os.path.join(c.dir, "open")
    os.mkdir(d)
    os.chmod(d, 0o777)
    target = os.path.join(c.dir, "precious")
    with open(target, "w") as f:
        f.write("keep\n")
    os.chmod(target, 0o600)
    sock = os.path.join(d, "cmemd.sock")
    os.symlink(target, sock)  # what a writer of the directory plants
    log = start_refused(h, sock)
    msg = "control socket %s: directory %s is writable by others (mode 0777)" % (sock, d)
    check(msg in log, "world-writable socket directory: %s" % log[-1000:])
    st = os.stat(target)
    check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0 and st.st_gid == 0,
          "the link's target changed: mode %o uid %d gid %d" % (st.st_mode, st.st_uid, st.st_gid))
    safe = os.path.join(c.dir, "safe")
    os.mkdir(safe, 0o755)
    sock = os.path.join(safe, "cmemd.sock")
    os.symlink(target, sock)  # planted earlier, the directory now closed
    log = start_refused(h, sock)
    check("control socket %s: exists and is not a socket" % sock in log, "planted link: %s" % log[-1000:])
    st = os.stat(target)
    check(stat.S_IMODE(st.st_mode) == 0o600, "the link's target changed: mode %o" % st.st_mode)
    print("socket directory: mode 0777 refused (%s); a link planted at the path refused; its "
          "target kept mode 0600, owner root" % msg)



# ---- not running, usage ----

@scenario
def check_unreachable(c, stale):
    missing = os.path.join(c.dir, "no-such-dir", "cmemd.sock")
    for sock, why in ((missing, "No such file or directory"), (stale, "Connection refused")):
        for args in (["members"], ["--json", "status"], ["stats", "--prometheus"], ["watch"],
                     ["loglevel", "debug"]):
            r = ctl(sock, *args)
            expect_rc(r, 3, "cmemctl %s with no daemon at %s" % (" ".join(args), sock))
            check(r.stdout == "" and "cannot reach cmemd at %s: %s" % (sock, why) in r.stderr and
                  "is cmemd running" in r.stderr and "-s" in r.stderr,
                  "no daemon: message %r" % r.stderr)
    print("not running: exit 3 for every command: %s" % r.stderr.strip().splitlines()[0])


USAGE = [
    ([], "no command given"),
    (["bogus"], "unknown command: bogus"),
    (["members", "extra"], "wrong number of arguments for members"),
    (["loglevel"], "wrong number of arguments for loglevel"),
    (["loglevel", "debug", "info"], "wrong number of arguments for loglevel"),
    (["--prometheus", "members"], "--prometheus applies to 'stats' only"),
    (["status", "--prometheus"], "--prometheus applies to 'stats' only"),
    (["--exec", "true", "members"], "--exec applies to 'watch' only"),
    (["--bogus", "members"], "unrecognized option"),
]


@scenario
def check_usage(c):
    missing = os.path.join(c.dir, "no-such-dir", "cmemd.sock")
    for args, msg in USAGE:
        r = ctl(missing, *args)  # usage is checked before the daemon is contacted
        expect_rc(r, 2, "cmemctl %s" % " ".join(args))
        check(msg in r.stderr and "usage: cmemctl" in r.stderr and r.stdout == "",
              "cmemctl %s: %r" % (" ".join(args), r.stderr))
    r = ctl(missing, "--help")
    expect_rc(r, 0, "cmemctl --help")
    check("usage: cmemctl" in r.stdout, "--help: %r" % r.stdout)
    print("usage errors: exit 2 with a message and the usage for %d cases" % len(USAGE))


@scenario
def check_stream_end(h):
    w = Lines(h.cluster, [CMEMCTL, "-s", h.sock, "watch"])
    check(wait_until(lambda: w.err, 5), "watch banner")
    t0 = time.monotonic()
    h.kill(signal.SIGTERM)
    try:
        rc = w.proc.wait(5)
    except subprocess.TimeoutExpired:
        fail("cmemctl watch still running after %s stopped" % h.name)
    time.sleep(0.1)
    check(rc == 3 and any("closed the event stream" in ln for ln in w.err),
          "watch when the daemon stops: exit %s, %s" % (rc, w.err))
    print("watch: cmemctl exits 3 %.3f s after its daemon stops: %s" % (time.monotonic() - t0, w.err[-1]))


def main():
    need_root()
    # heartbeat pinned to 50 ms: the stress checks measure how late heartbeats
    # get, not the adaptive interval
    c = Cluster(4, conf={"heartbeat_fixed": "true"})
    core, extra = c.hosts[:3], c.hosts[3]
    for h in core:
        h.start(wait=False)
    for h in core:
        check(wait_until(lambda: h.proc.poll() is not None or h.ctl_ok("status"), 5),
              "%s did not start: %s" % (h.name, h.read_log()[-2000:]))
    check(wait_until(lambda: c.converged(core), 10), "3 daemons did not converge")
    h = core[0]
    check_members(c, h, core)
    check_status(c, h, len(core))
    check_stats(h)
    check_prometheus_parsed(h, core)
    check_loglevel(h)
    check_watch(c, h, extra)
    check_access(c, h, core)
    check_bad_requests(h)
    many_at_once(h)
    abandoned(h)
    check_crowd(c, h)
    check_64_keys(c, h)
    check_fake_socket(c, h)
    check_version_mismatch(c)
    check_hostile_socket(c)
    check_stuck_watcher(c, h, core[1:], extra)
    check_unreachable(c, extra.sock)
    check_usage(c)
    check_stream_end(core[2])
    check_socket_dir(c, extra)
    c.cleanup()
    finish()


if __name__ == "__main__":
    main()
