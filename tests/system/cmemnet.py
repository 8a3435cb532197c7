"""cmemnet: real cmemd daemons in network namespaces, for the system tests.

Each test builds its own network: one "switch" namespace holding a bridge
(multicast snooping off), and one namespace per host joined to it by a veth
pair.  Nothing is added to the root namespace.  Every namespace and every
process a test starts is removed/killed (by PID) when it ends, even on
failure.  Traffic stays inside these namespaces (TTL 1).
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("CMEM_BUILD", os.path.join(ROOT, "build")))
CMEMD = os.path.join(BUILD, "cmemd")
CMEMCTL = os.path.join(BUILD, "cmemctl")

_live = []  # clusters to clean up


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


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


class Watch:
    """cmemctl --json watch on one host; events kept with their arrival time."""

    def __init__(self, host):
        self.events = []
        self.proc = subprocess.Popen([CMEMCTL, "-s", host.sock, "--json", "watch"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        host.cluster.procs.append(self.proc)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

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

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


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

    def start(self, extra="", wait=True, conf_text=None):
        with open(self.conf, "w") as f:
            f.write(conf_text if conf_text is not None else self.config_text(extra))
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, CMEMD, "-f", "-c", self.conf],
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

    def loss(self, percent, hooks=("input",)):
        """Drop percent% of cmem datagrams on every host (nft numgen)."""
        for h in self.hosts:
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
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def need_root():
    if os.geteuid() != 0:
        print("SKIP: system tests need root (network namespaces); run `sudo make check`")
        sys.exit(77)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
