"""cmemnet: real cmemd daemons in network namespaces, for the system tests.

Each test builds its own network: one "switch" namespace holding a bridge
(multicast snooping off), and one namespace per host joined to it by a veth
pair.  Nothing is added to the root namespace.  Every namespace and every
process a test starts is removed/killed (by PID) when it ends, even on
failure.  Traffic stays inside these namespaces (TTL 1).

A test file is a list of scenarios:

    with scenario("partition"):
        ...
    finish()

A failed check (or any error) ends the scenario it is in, not the file: the
later scenarios still run, and finish() prints "N scenarios, M failed" and
exits 1 if any failed; need(value, "scenario") names an earlier scenario a
later one depends on.  Watch(host) returns once the daemon has answered the
watch request (a Relay between cmemctl and the daemon sees that reply), not
after a sleep; Cluster.all_saw() waits until every watcher reported an event
and returns the delays; Cluster.events_since() lists unwanted events (false
failures); Host.inject() / inject_bg() run build/cmem-inject in the host's
namespace; Cluster.loss() / no_loss() drop a share of the datagrams on the
hosts, partition() / heal() cut the bridge between groups of hosts at once.
"""
import atexit
import functools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("CMEM_BUILD", os.path.join(ROOT, "build")))
CMEMD = os.path.join(BUILD, "cmemd")
CMEMCTL = os.path.join(BUILD, "cmemctl")
INJECT = os.path.join(BUILD, "cmem-inject")

# A Python script that alternates alive/leave lines of one fake member, signed
# with the cluster key (argv: secret, group, port, source address, count, name):
# one event per line at every watcher.  test_ctl and test_hooks run it.
EVENT_FLOOD = r'''
import hashlib, hmac, socket, sys, time
secret, group, port, src, count, name = sys.argv[1:7]
key, port, count = bytes.fromhex(secret), int(port), int(count)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
inc = time.time_ns() // 1000
for ctr in range(1, count + 1):
    ts = int(time.time())
    body = ("alive %s %d" % (name, ts)) if ctr % 2 else ("leave %s" % name)
    signed = "%d: [%s] %s |v1 k=1 n=%d.%d" % (ts, name, body, inc, ctr)
    mac = hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()
    s.sendto((signed + " h=" + mac + "\n").encode(), (group, port))
    if ctr % 50 == 0:
        time.sleep(0.01)
'''

_live = []  # clusters to clean up


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class Failed(SystemExit):
    """A failed check.  Inside a scenario it ends that scenario; outside one
    it ends the file with exit status 1 (it is a SystemExit, as it always was)."""

    def __init__(self, msg):
        super().__init__(1)
        self.msg = msg


def fail(msg):
    print("FAIL: " + msg, flush=True)
    raise Failed(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_until(pred, timeout, step=0.02):
    """Poll pred until it returns a true value or timeout (s); returns it or None."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            return None
        time.sleep(step)


def wait_stable(fn, quiet=0.3, timeout=5.0, step=0.02):
    """Poll fn until its value has not changed for `quiet` s (or timeout); returns the last value.
    For counters that settle after a burst: waits as long as they still move, no longer."""
    last = [fn(), time.monotonic()]

    def settled():
        v = fn()
        if v != last[0]:
            last[:] = [v, time.monotonic()]
        return time.monotonic() - last[1] >= quiet

    wait_until(settled, timeout, step)
    return last[0]


# ---- bounds: each defined once, here ----
# A system test asserts behaviour.  How fast cmem is (a join seen in 4 ms, a
# leave in 1 ms, a crash in 0.70 s median, heartbeats 51 ms apart during a
# flood) is asserted by the simulator and the benchmarks, which own the
# figures of README "Measured here".  A bound stays here only where it is a
# property of the protocol, with room for a busy machine: `make check` must
# pass on 2 cores beside two CPU-bound processes, where a daemon, cmemctl or
# a Python thread reading a watcher may wait a few hundred ms for a core.
BUSY_S = 0.5            # how late a process may run on that machine
FAIL_AFTER_S = 0.75     # cmemd's default fail_after_ms, which the tests keep
HEARTBEAT_MAX_S = 0.2   # the slowest adaptive heartbeat interval at the default settings
# A crash is not declared before the timeout.  The last line heard before
# the kill may be a few heartbeats old (loss, a sender waiting for a core),
# so the floor is half of fail_after_ms, not fail_after_ms less one interval.
CRASH_MIN_S = FAIL_AFTER_S / 2
# A crash is seen by every survivor: the adaptive timeout (up to about 2 s
# at 51 % loss per path) plus BUSY_S twice (the detecting daemon, the watcher).
CRASH_MAX_S = 2.0 + 2 * BUSY_S
# Join, leave and restart travel in the member's own line (cjoin, leave, a
# new incarnation), and a healed peer is heard at its next heartbeat: no
# timeout has to expire, so they are seen within a heartbeat plus BUSY_S
# twice (a new daemon's start or the sender, and the watcher).
EVENT_MAX_S = HEARTBEAT_MAX_S + 2 * BUSY_S
# A link came back: every view whole again.  A unicast peer that failed gets
# one line in 10 (PEERS_SLOW_EVERY): 10 heartbeats at the slowest interval,
# plus BUSY_S for each side.
REJOIN_MAX_S = 10 * HEARTBEAT_MAX_S + 2 * BUSY_S
# Heartbeats go on while the daemon is attacked (a flood, a stuck watcher):
# a peer is heard within two thirds of fail_after_ms, so that no false
# failure is near; a blocked daemon would go silent.
HEARD_MAX_MS = int(1000 * FAIL_AFTER_S * 2 / 3)
# A good client is answered while others misbehave: long before the 5 s read
# deadline a half-sent request holds a slot for, with BUSY_S twice for the
# daemon and cmemctl.
CTL_READ_DEADLINE_S = 5.0
CLIENT_MAX_S = 2 * BUSY_S

_scenarios = []      # every Scenario that ended, in order
_finished = [False]  # finish() printed the summary


class Scenario:
    """One scenario of a test file; a failure inside it is recorded, not raised.

    Failed checks and unexpected errors (a query that times out, a missing
    key) end the scenario and are printed with the scenario's name; the file
    goes on with the next one.  Clusters created inside a failed scenario are
    cleaned up at once, so that its daemons do not disturb the next one.
    Interrupts and other exits (the skip status 77) pass through.
    """

    def __init__(self, name):
        self.name = name
        self.error = None
        self.seconds = 0.0

    @property
    def ok(self):
        return self.error is None

    def __enter__(self):
        print("-- scenario %s" % self.name, flush=True)
        self._t0 = time.monotonic()
        self._before = set(map(id, _live))
        return self

    def __exit__(self, etype, exc, tb):
        self.seconds = time.monotonic() - self._t0
        if etype is not None and issubclass(etype, Failed):
            self.error = exc.msg
        elif etype is not None and issubclass(etype, Exception):
            traceback.print_exception(etype, exc, tb)
            self.error = "%s: %s" % (etype.__name__, exc)
        elif etype is not None:
            return False
        _scenarios.append(self)
        if self.ok:
            print("-- ok %s (%.1f s)" % (self.name, self.seconds), flush=True)
            return True
        print("-- FAILED %s (%.1f s): %s" % (self.name, self.seconds, self.error), flush=True)
        for c in [c for c in _live if id(c) not in self._before]:
            c.cleanup()
        return True


def scenario(name):
    """`with scenario("name"):` or, on a function, `@scenario` (named after it);
    the decorated function returns None when its scenario failed."""
    if not callable(name):
        return Scenario(name)
    fn = name

    @functools.wraps(fn)
    def run(*args, **kw):
        with Scenario(fn.__name__.replace("_", "-")):
            return fn(*args, **kw)
        return None
    return run


def need(value, what):
    """The result of an earlier scenario, or a failure naming it."""
    if value is None:
        fail("not run: it needs %s, which failed" % what)
    return value


def finish(name=None):
    """Print every scenario's outcome and "N scenarios, M failed"; exit 0 or 1."""
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    _finished[0] = True
    _summary(name)
    if any(not sc.ok for sc in _scenarios):
        sys.exit(1)
    print("PASS " + name, flush=True)
    sys.exit(0)


def _summary(name, note=""):
    failed = [sc for sc in _scenarios if not sc.ok]
    for sc in _scenarios:
        print("   %-6s %-28s %6.1f s%s" % ("ok" if sc.ok else "FAILED", sc.name, sc.seconds,
                                          "" if sc.ok else "  " + sc.error[:300]))
    print("%s: %d scenarios, %d failed%s" % (name, len(_scenarios), len(failed), note), flush=True)


def _summary_at_exit():
    # a failure outside any scenario ended the file early: still say what ran
    if _scenarios and not _finished[0]:
        _summary(os.path.splitext(os.path.basename(sys.argv[0]))[0],
                 " (stopped early by a failure outside the scenarios)")


def write_keyring(path, keys=((1, None, True),)):
    lines = ["# test keyring"]
    for kid, secret, primary in keys:
        secret = secret or os.urandom(32).hex()
        lines.append("%d %s%s" % (kid, secret, " primary" if primary else ""))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, ("\n".join(lines) + "\n").encode())
    os.close(fd)
    os.chmod(path, 0o600)
    return path


class Relay:
    """A socket path that forwards, byte for byte, to a host's control socket
    and notes the daemon's first reply line.  A client pointed at it with
    `cmemctl -s relay.path watch ...` is subscribed once wait_ready() is
    true: the daemon subscribes a watcher before it sends that reply, and
    cmemctl prints nothing for it.  Each connection is forwarded on its own
    thread: a client that reconnects, or opens a second connection (a
    `watch --exec` asking for the membership to resync), is served too."""

    _seq = [0]

    def __init__(self, host):
        self.host = host
        self.reply = None
        self._replied = threading.Event()
        Relay._seq[0] += 1
        self.path = os.path.join(host.dir, "relay-%d.sock" % Relay._seq[0])
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def wait_ready(self, timeout=5.0):
        """True once the daemon answered the first request with status ok."""
        self._replied.wait(timeout)
        return bool(self.reply and self.reply.get("status") == "ok")

    def _serve(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # close() shut the listener
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client):
        daemon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            daemon.connect(self.host.sock)
            self._pipe(client, daemon)
        except OSError:
            pass
        finally:
            client.close()
            daemon.close()

    def _pipe(self, client, daemon):
        first = b""
        while True:
            r, _, _ = select.select([client, daemon], [], [])
            for src in r:
                data = src.recv(65536)
                if not data:
                    return
                if src is daemon and not self._replied.is_set():
                    first += data
                    if b"\n" in first:
                        try:
                            self.reply = json.loads(first.split(b"\n", 1)[0])
                        except ValueError:
                            self.reply = {"garbled": first[:200].decode(errors="replace")}
                        self._replied.set()
                (client if src is daemon else daemon).sendall(data)

    def close(self):
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self._listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Watch:
    """cmemctl --json watch on one host; events kept with their arrival time.

    The constructor returns once the daemon has answered the watch request
    (its first reply, {"status":"ok","self":...}), so that every later event
    reaches this watcher: cmemctl talks to the daemon through a Relay, which
    sees that reply.  Watch(host, ready=False) does not wait.
    """

    def __init__(self, host, ready=True, timeout=5.0):
        self.host = host
        self.events = []
        self.relay = Relay(host)
        self.proc = subprocess.Popen([CMEMCTL, "-s", self.relay.path, "--json", "watch"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        host.cluster.procs.append(self.proc)
        host.cluster.watches.append(self)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if ready:
            check(self.wait_ready(timeout), "%s: cmemctl watch not subscribed within %.0f s (reply %s)"
                  % (host.name, timeout, self.relay.reply))

    def wait_ready(self, timeout=5.0):
        """True once the daemon accepted the watch request."""
        return self.relay.wait_ready(timeout)

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.append((time.monotonic(), json.loads(line)))
            except ValueError:
                self.events.append((time.monotonic(), {"garbled": line}))

    def first(self, event, member, after=0.0):
        for t, e in list(self.events):
            if t >= after and e.get("event") == event and e.get("member") == member:
                return t
        return None

    def wait_for(self, event, member, after=0.0, timeout=5.0):
        """Arrival time of the first such event at or after `after`, or None."""
        return wait_until(lambda: self.first(event, member, after), timeout, step=0.005)

    def since(self, after, kinds=("failed", "leave", "restart")):
        """Events of those kinds that arrived at or after `after`."""
        return [e for t, e in list(self.events) if t >= after and e.get("event") in kinds]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.relay.close()


class Host:
    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = "node-%d" % i
        self.ns = "%sh%d" % (cluster.prefix, i)
        self.addr = "10.77.%d.%d" % (cluster.subnet, i + 1)
        self.addr6 = "fd77:%d::%x" % (cluster.subnet, i + 1)
        self.dir = os.path.join(cluster.dir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "cmemd.sock")
        self.conf = os.path.join(self.dir, "cmemd.conf")
        self.log = os.path.join(self.dir, "cmemd.log")
        self.proc = None

    def config_text(self, extra=""):
        c = self.cluster
        opts = {
            "name": '"%s"' % self.name,
            "group": '"%s"' % c.group,
            "port": str(c.port),
            "interface": '"eth0"',
            "ttl": "1",
            "keyring": '"%s"' % c.keyring,
            "control_socket": '"%s"' % self.sock,
            "pidfile": '"%s"' % os.path.join(self.dir, "cmemd.pid"),
            "user": '"nobody"',
            "chroot": '"%s"' % c.chroot,
            "log_level": '"%s"' % c.log_level,
        }
        opts.update(c.conf)
        return "".join("%s = %s;\n" % kv for kv in opts.items()) + extra

    def start(self, extra="", wait=True, conf_text=None, args=()):
        """args: more options for cmemd (e.g. "-s": log to syslog)."""
        with open(self.conf, "w") as f:
            f.write(conf_text if conf_text is not None else self.config_text(extra))
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, CMEMD, "-f"] + list(args) +
                                     ["-c", self.conf],
                                     stdout=logf, stderr=logf)
        logf.close()
        self.cluster.procs.append(self.proc)
        if wait:
            ok = wait_until(lambda: self.proc.poll() is not None or self.ctl_ok("status"), 5)
            check(ok and self.proc.poll() is None,
                  "%s did not start: %s" % (self.name, self.read_log()[-2000:]))
        return self.proc

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def ctl(self, *args, json_out=True, timeout=5):
        argv = [CMEMCTL, "-s", self.sock] + (["--json"] if json_out else []) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def ctl_ok(self, *args):
        r = self.ctl(*args)
        return r.returncode == 0

    def query(self, *cmd):
        r = self.ctl(*cmd)
        if r.returncode != 0:
            raise RuntimeError("%s: cmemctl %s: %s" % (self.name, " ".join(cmd), r.stderr))
        return json.loads(r.stdout)

    def states(self):
        """{name: state} as this host sees it (itself included)."""
        try:
            return {m["name"]: m["state"] for m in self.query("members")["members"]}
        except (RuntimeError, ValueError, subprocess.TimeoutExpired):
            return {}

    def inject(self, *args, expect=0, timeout=120):
        """Run build/cmem-inject in this host's namespace, aimed at the cluster's
        group and port on eth0; checks its exit status; returns its output."""
        p = self.inject_bg(*args)
        try:
            out = p.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            out = p.communicate()[0]
            fail("cmem-inject %s: still running after %d s: %s" % (" ".join(args), timeout, out))
        check(p.returncode == expect, "cmem-inject %s: exit %d, wanted %d: %s"
              % (" ".join(args), p.returncode, expect, out))
        return out

    def inject_bg(self, *args):
        """cmem-inject started in the background (stdout and stderr on .stdout)."""
        c = self.cluster
        argv = ["ip", "netns", "exec", self.ns, INJECT] + list(args) + [
            "--group", c.group, "--port", str(c.port), "--interface", "eth0"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        c.procs.append(p)
        return p

    def nft(self, rules):
        """Load an nft ruleset (text) in this host's namespace."""
        r = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=rules, text=True,
                           capture_output=True)
        check(r.returncode == 0, "%s: nft: %s" % (self.name, r.stderr))

    def nft_delete(self, table, family="inet"):
        subprocess.run(["ip", "netns", "exec", self.ns, "nft", "delete", "table", family, table],
                       capture_output=True)

    def kill(self, sig=signal.SIGKILL):
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=5):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class Cluster:
    """n hosts on one bridge; daemons are started by the test."""

    def __init__(self, n, group="239.192.51.10", port=51510, conf=None, log_level="info"):
        self.prefix = "cm%d%s" % (os.getpid() % 100000, chr(ord("a") + len(_live) % 26))
        self.subnet = (os.getpid() + len(_live)) % 250
        self.group = group
        self.port = port
        self.conf = conf or {}
        self.log_level = log_level
        self.procs = []
        self.watches = []
        self.dir = tempfile.mkdtemp(prefix="cmem-test-")
        os.chmod(self.dir, 0o755)
        self.chroot = os.path.join(self.dir, "chroot")
        os.mkdir(self.chroot, 0o755)
        self.keyring = write_keyring(os.path.join(self.dir, "cluster.keys"))
        self.sw = self.prefix + "sw"
        self.hosts = []
        _live.append(self)
        self._build(n)

    def _build(self, n):
        sh("ip", "netns", "add", self.sw)
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        for i in range(n):
            self.add_host()

    def add_host(self):
        h = Host(self, len(self.hosts) + 1)
        sh("ip", "netns", "add", h.ns)
        sh("ip", "-n", self.sw, "link", "add", "p%d" % h.i, "type", "veth", "peer", "name", "eth0",
           "netns", h.ns)
        sh("ip", "-n", self.sw, "link", "set", "p%d" % h.i, "master", "br0", "up")
        sh("ip", "-n", h.ns, "link", "set", "lo", "up")
        sh("ip", "-n", h.ns, "addr", "add", h.addr + "/16", "dev", "eth0")
        sh("ip", "-n", h.ns, "addr", "add", h.addr6 + "/64", "dev", "eth0", "nodad")
        sh("ip", "-n", h.ns, "link", "set", "eth0", "up")
        self.hosts.append(h)
        return h

    def start_all(self, extra=""):
        for h in self.hosts:
            h.start(extra, wait=False)
        for h in self.hosts:
            ok = wait_until(lambda: h.proc.poll() is not None or h.ctl_ok("status"), 5)
            check(ok and h.proc.poll() is None, "%s did not start: %s" % (h.name, h.read_log()[-2000:]))

    def converged(self, hosts=None, expect=None):
        hosts = hosts or [h for h in self.hosts if h.running()]
        names = set(expect or [h.name for h in hosts])
        for h in hosts:
            st = h.states()
            alive = {n for n, s in st.items() if s == "alive"}
            if alive != names:
                return False
        return True

    def all_saw(self, watches, event, member, after, timeout=5.0):
        """Wait until every watcher reported `event` for `member` at or after
        `after` (a time.monotonic() value); returns each one's delay in seconds
        (in the order of `watches`), or None if one did not within `timeout`."""
        def delays():
            ts = [w.first(event, member, after) for w in watches]
            return all(t is not None for t in ts) and [t - after for t in ts]
        return wait_until(delays, timeout, step=0.005) if watches else None

    @staticmethod
    def events_since(watches, after, kinds=("failed", "leave", "restart")):
        """[(watcher index, event)] of those kinds since `after`: e.g. false failures."""
        return [(i, e) for i, w in enumerate(watches) for e in w.since(after, kinds)]

    def partition(self, *sides):
        """Cut the bridge between groups of hosts (lists of Host): frames from
        one side are not forwarded to another.  One nft table in the switch
        namespace, so that the cut and heal() happen at one instant."""
        rules = []
        for a in sides:
            for b in sides:
                if a is not b:
                    rules.append("  iifname { %s } oifname { %s } drop\n" % (
                        ", ".join('"p%d"' % h.i for h in a), ", ".join('"p%d"' % h.i for h in b)))
        text = ("table bridge cmempart {\n chain split {\n  type filter hook forward priority 0;\n"
                "%s }\n}\n" % "".join(rules))
        r = subprocess.run(["ip", "netns", "exec", self.sw, "nft", "-f", "-"], input=text, text=True,
                           capture_output=True)
        check(r.returncode == 0, "partition: nft: %s" % r.stderr)

    def heal(self):
        """Undo partition(), at once."""
        r = sh("ip", "netns", "exec", self.sw, "nft", "delete", "table", "bridge", "cmempart",
               check=False)
        check(r.returncode == 0, "heal: nft: %s" % r.stderr)

    def loss(self, percent, hooks=("input",), hosts=None):
        """Drop percent% of cmem datagrams on every host (or on `hosts`), on
        the given hooks ("input", "output"): nft numgen, undone by no_loss()."""
        for h in hosts or self.hosts:
            chains = "".join(
                "chain %s { type filter hook %s priority 0; udp dport %d numgen random mod 100 < %d drop; }\n"
                % (hk, hk, self.port, percent) for hk in hooks)
            rules = "table inet cmemloss {\n%s}\n" % chains
            subprocess.run(["ip", "netns", "exec", h.ns, "nft", "-f", "-"], input=rules, text=True,
                           check=True, capture_output=True)

    def no_loss(self):
        for h in self.hosts:
            subprocess.run(["ip", "netns", "exec", h.ns, "nft", "delete", "table", "inet", "cmemloss"],
                           capture_output=True)

    def cleanup(self):
        for w in self.watches:
            w.stop()
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for h in self.hosts:
            sh("ip", "netns", "del", h.ns, check=False)
        sh("ip", "netns", "del", self.sw, check=False)
        if os.environ.get("CMEM_KEEP_LOGS"):
            print("logs kept in", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)


def _cleanup_all(*_):
    for c in list(_live):
        c.cleanup()


atexit.register(_cleanup_all)
atexit.register(_summary_at_exit)  # runs first: atexit is last in, first out
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def need_root():
    if os.geteuid() != 0:
        print("SKIP: system tests need root (network namespaces); run `sudo make check`")
        sys.exit(77)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
