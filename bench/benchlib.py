"""benchlib: what the cluster benchmarks share.

The namespaces come from tests/system/cmemnet.py (imported, not copied):
one bridge in a "switch" namespace, one namespace per host.  On top of it:

- EventHub: one thread reads the event streams of every observer (cmemctl
  --json watch for cmem, the agent's own log for Serf) and keeps each event
  with the time it arrived (monotonic and wall clock);
- Agent classes with one interface for cmem and Serf: start, crash (kill -9),
  leave (cmem: SIGTERM, Serf: SIGINT, each one's graceful stop), the PID whose
  CPU and memory are measured, and the UDP port the loss rules hit;
- measurements: CPU from /proc/PID/stat (utime + stime), memory from
  /proc/PID/smaps_rollup, packets and bytes from the veth counters;
- run_size(): one cluster size, every figure, the same steps for both.

Every namespace and process is removed (processes by PID) when the run ends,
even on failure or SIGTERM: cmemnet's cleanup does that for what it made,
and the agents register their processes with it.
"""
import base64
import json
import os
import platform
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import cmemnet  # noqa: E402  (the path above is needed first)
from cmemnet import Cluster, wait_until  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERF = "serf"


class BenchError(Exception):
    """A step that did not happen in time: reported, and the run goes on."""


def log(msg):
    print("  " + msg, flush=True)


def env_int(name, default):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        sys.exit("%s=%r is not a whole number" % (name, v))


def env_list(name, default):
    v = os.environ.get(name)
    if not v:
        return default
    try:
        return [int(x) for x in v.replace(",", " ").split()]
    except ValueError:
        sys.exit("%s=%r is not a list of whole numbers" % (name, v))


# ---- statistics ----

def median(xs):
    if not xs:
        raise ValueError("median of nothing")
    return cmemnet.median(xs)


def spread(xs, unit="s", digits=3):
    """'min / median / max' of xs, or a dash when nothing was measured."""
    if not xs:
        return "—"
    if unit == "ms":
        xs = [1000 * x for x in xs]
    f = "%%.%df" % digits
    return "%s / %s / %s %s" % (f % min(xs), f % median(xs), f % max(xs), unit)


def percentile(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))]


# ---- events ----

class Event:
    __slots__ = ("mono", "real", "observer", "kind", "member", "data")

    def __init__(self, mono, real, observer, kind, member, data):
        self.mono, self.real, self.observer = mono, real, observer
        self.kind, self.member, self.data = kind, member, data

    def __repr__(self):
        return "%s saw %s %s at %.3f" % (self.observer, self.member, self.kind, self.mono)


class EventHub:
    """Reads many line streams in one thread; parse(line) -> (kind, member, data) or None."""

    def __init__(self):
        self.events = []
        self.ready = set()
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.rpipe, self.wpipe = os.pipe()  # wakes the thread when a stream is added
        self.sel.register(self.rpipe, selectors.EVENT_READ, None)
        self.pending = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add(self, fileobj, observer, parse):
        os.set_blocking(fileobj.fileno(), False)
        with self.lock:
            self.pending.append((fileobj, [observer, parse, b""]))
        os.write(self.wpipe, b"x")

    def _run(self):
        while True:
            for key, _ in self.sel.select():
                if key.data is None:
                    os.read(self.rpipe, 4096)
                    with self.lock:
                        for f, st in self.pending:
                            self.sel.register(f, selectors.EVENT_READ, st)
                        self.pending = []
                    continue
                self._drain(key)

    def _drain(self, key):
        st = key.data
        try:
            chunk = os.read(key.fileobj.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.sel.unregister(key.fileobj)
            key.fileobj.close()
            return
        mono, real = time.monotonic(), time.time()
        lines = (st[2] + chunk).split(b"\n")
        st[2] = lines.pop()
        for raw in lines:
            got = st[1](raw.decode("utf-8", "replace"))
            if got == "ready":
                self.ready.add(st[0])
            elif got:
                kind, member, data = got
                self.events.append(Event(mono, real, st[0], kind, member, data))

    def first(self, observer, kind, member, after):
        for e in list(self.events):
            if e.mono >= after and e.observer == observer and e.kind == kind and e.member == member:
                return e
        return None

    def since(self, after, until=None, kinds=None):
        return [e for e in list(self.events) if e.mono >= after and
                (until is None or e.mono <= until) and (kinds is None or e.kind in kinds)]


def seen_by_all(hub, observers, kind, member, after, timeout):
    """Wait until every observer reported (kind, member) after `after`; {observer: Event}."""
    def check():
        got = {o: hub.first(o, kind, member, after) for o in observers}
        return got if all(got.values()) else None
    got = wait_until(check, timeout, step=0.01)
    if got is None:
        have = {o: hub.first(o, kind, member, after) for o in observers}
        missing = sorted(o for o, e in have.items() if e is None)
        raise BenchError("%s %s not seen by %d of %d observers within %.0f s (%s)"
                         % (member, kind, len(missing), len(observers), timeout,
                            ", ".join(missing[:6])))
    return got


# ---- per-process and per-interface measurements ----

def cpu_ticks(pid):
    """utime + stime of a process (clock ticks), all its threads included."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def smaps(pid):
    """{Rss, Pss, Private_Dirty, ...} in kB from /proc/PID/smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def veth_counters(cluster):
    """{host index: (tx_packets, tx_bytes, rx_packets, rx_bytes)} as the host's eth0 sees them.

    Read on the switch side in one call: what port p<i> receives is what
    host i sent, and the other way round.  Bytes are whole Ethernet frames.
    """
    r = cmemnet.sh("ip", "-n", cluster.sw, "-s", "-j", "link", "show")
    out = {}
    for link in json.loads(r.stdout):
        name = link.get("ifname", "")
        m = re.match(r"p(\d+)$", name)
        if not m:
            continue
        s = link["stats64"]
        out[int(m.group(1))] = (s["rx"]["packets"], s["rx"]["bytes"], s["tx"]["packets"],
                                s["tx"]["bytes"])
    return out


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    return {"nproc": os.cpu_count(), "model": model, "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rev": rev}


def machine_line(m):
    return ("Machine: %d cores (`nproc`), %s, Linux %s; %s; cmem %s."
            % (m["nproc"], m["model"], m["kernel"], m["date"], m["rev"]))


# ---- agents ----

def wait_cmemd(host, timeout=10):
    """Until host's cmemd answers `status`; a daemon that exits or stays silent is a BenchError."""
    ok = wait_until(lambda: host.proc.poll() is not None or host.ctl_ok("status"), timeout, 0.05)
    if not ok or host.proc.poll() is not None:
        raise BenchError("%s did not start: %s" % (host.name, host.read_log()[-500:]))


class CmemAgent:
    """cmemd under test; its event stream is the control socket's `watch` (doc/CONTROL.md).

    The benchmark speaks the control protocol itself, as `cmemctl --json
    watch` does, because the daemon's first reply tells it when the
    subscription is live (cmemctl does not print that reply).
    """

    label = "cmem"
    graceful = "SIGTERM"
    look_cost = 0.02  # seconds between looks at the membership, per host (one cmemctl each)

    def __init__(self, cluster, hub, extra_conf=""):
        self.c = cluster
        self.hub = hub
        self.extra = extra_conf
        self.port = cluster.port
        self.watches = {}

    def start(self, host, name=None):
        host.name = name or "node-%d" % host.i
        host.start(self.extra, wait=False)
        host.spawned_real = time.time()

    def wait_started(self, host, timeout=10):
        wait_cmemd(host, timeout)

    def observe(self, host):
        """Subscribe to host's events; returns once the daemon confirmed the subscription."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(host.sock)
            s.sendall(b'{"version":1,"command":"watch"}\n')
        except OSError as e:
            s.close()
            raise BenchError("cannot watch %s: %s" % (host.name, e))
        self.watches[host.name] = s
        self.hub.add(s, host.name, self._parse)
        if not wait_until(lambda: host.name in self.hub.ready, 10):
            raise BenchError("no watch reply from %s" % host.name)

    @staticmethod
    def _parse(line):
        try:
            e = json.loads(line)
        except ValueError:
            return None
        if "event" not in e:
            return "ready" if e.get("status") == "ok" else None
        kind = {"join": "join", "restart": "join", "leave": "leave", "failed": "failed"}.get(
            e.get("event"))
        return (kind, e.get("member"), e) if kind else None

    def unobserve(self, host):
        """The hub closes the socket when it reads the end of the stream."""
        self.hub.ready.discard(host.name)
        s = self.watches.pop(host.name, None)
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_origin(self, event, host):
        """Wall-clock time the joiner sent its first line: its incarnation (start time, us)."""
        inc = event.data.get("incarnation") if isinstance(event.data, dict) else None
        return inc / 1e6 if inc else host.spawned_real

    def crash(self, host):
        os.kill(host.pid, signal.SIGKILL)
        host.proc.wait()

    def leave(self, host):
        os.kill(host.pid, signal.SIGTERM)

    def pid(self, host):
        return host.pid

    def alive_view(self, host):
        return {n for n, s in host.states().items() if s == "alive"}

    def settings(self, host):
        try:
            d = host.query("status")["detector"]
            return "heartbeat_ms %s, fail_after_ms %s" % (d.get("heartbeat_ms"), d.get("fail_after_ms"))
        except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired):
            return "settings unknown"


def serf_handler_seen(path, victim, t0_real):
    """{observer: seconds from t0_real to its handler's member-failed for victim}."""
    seen = {}
    try:
        with open(path) as f:
            rows = [l.split() for l in f]
    except OSError:
        return seen
    for r in rows:
        if len(r) == 4 and r[1] == "member-failed" and r[3] == victim and float(r[0]) >= t0_real:
            seen.setdefault(r[2], float(r[0]) - t0_real)
    return seen


SERF_EVENT = re.compile(r"serf: EventMember(Join|Leave|Failed): (\S+)")


class SerfAgent:
    """HashiCorp Serf's agent, encrypted, bound to the namespace's address.

    Its events are the lines its own log prints the moment serf decides
    (`serf: EventMemberFailed: NAME ADDR`); the agent delivers the same
    events to handler scripts only after coalescing them (3 s, or 1 s of
    quiet), which the optional handler log measures separately.
    """

    label = "Serf"
    graceful = "SIGINT"
    look_cost = 0.0  # its membership is read from the events already collected
    port = 7946

    def __init__(self, cluster, hub, handler_log=None):
        self.c = cluster
        self.hub = hub
        self.key = base64.b64encode(os.urandom(32)).decode()
        self.seed = None
        self.handler = None
        self.handler_log = handler_log
        if handler_log:
            self.handler = os.path.join(cluster.dir, "serf-handler.sh")
            with open(self.handler, "w") as f:
                # one line per member of the event: wall-clock time, event, observer, member
                f.write("#!/bin/sh\nt=$(date +%%s.%%N)\nwhile read -r name rest; do\n"
                        "  echo \"$t $SERF_EVENT $SERF_SELF_NAME $name\" >> %s\ndone\n"
                        % handler_log)
            os.chmod(self.handler, 0o755)

    def start(self, host, name=None):
        host.name = name or "node-%d" % host.i
        argv = ["ip", "netns", "exec", host.ns, SERF, "agent", "-node=" + host.name,
                "-bind=%s:%d" % (host.addr, self.port), "-rpc-addr=127.0.0.1:7373",
                "-encrypt=" + self.key, "-log-level=info"]
        if self.seed is not None and self.seed is not host:
            argv.append("-join=%s:%d" % (self.seed.addr, self.port))
        if self.handler:
            argv.append("-event-handler=" + self.handler)
        host.spawned_real, host.spawned_mono = time.time(), time.monotonic()
        host.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.c.procs.append(host.proc)
        if self.seed is None:
            self.seed = host
        self.hub.add(host.proc.stdout, host.name, self._parse)

    def wait_started(self, host, timeout=20):
        ok = wait_until(lambda: host.proc.poll() is not None or host.name in self.hub.ready,
                        timeout, 0.05)
        if not ok or host.proc.poll() is not None:
            raise BenchError("serf on %s did not start" % host.name)

    def observe(self, host):
        """The agent's own log is the event stream: attached at start."""

    def unobserve(self, host):
        self.hub.ready.discard(host.name)

    @staticmethod
    def _parse(line):
        if "Serf agent running!" in line:
            return "ready"
        m = SERF_EVENT.search(line)
        if not m:
            return None
        return ({"Join": "join", "Leave": "leave", "Failed": "failed"}[m.group(1)], m.group(2), line)

    def join_origin(self, event, host):
        return host.spawned_real

    def after_crash(self, victim, observers, t0_real):
        """Wait for the handlers too: a restart inside the coalescing period would merge
        the failure into the rejoin, and the handlers would never hear of it."""
        if self.handler_log:
            wait_until(lambda: len(serf_handler_seen(self.handler_log, victim.name, t0_real)) >= len(observers), 20, 0.1)

    def crash(self, host):
        os.kill(host.pid, signal.SIGKILL)
        host.proc.wait()

    def leave(self, host):
        os.kill(host.pid, signal.SIGINT)

    def pid(self, host):
        return host.pid

    def alive_view(self, host):
        """The members host's agent has announced as joined, and not since as failed or left.

        Read from its log, not with `serf members`: a Go program started per
        host and per look costs a core's worth of CPU in a 16-node cluster,
        and would slow down the very convergence it looks at.
        """
        latest = {}
        for e in self.hub.since(host.spawned_mono):
            if e.observer == host.name:
                latest[e.member] = e.kind
        return {m for m, k in latest.items() if k == "join"}

    def settings(self, host):
        return "profile lan (default), encryption on"


def converged(agent, hosts):
    names = {h.name for h in hosts}
    return all(agent.alive_view(h) == names for h in hosts)


def wait_converged(agent, hosts, timeout, what):
    t0 = time.monotonic()
    # where each look runs a command per host, look less often in big clusters
    step = max(0.1, agent.look_cost * len(hosts))
    if not wait_until(lambda: converged(agent, hosts), timeout, step=step):
        views = {h.name: len(agent.alive_view(h)) for h in hosts[:8]}
        raise BenchError("%s: %s did not converge within %d s (alive counts %s)"
                         % (what, agent.label, timeout, views))
    return time.monotonic() - t0


def loss_on(cluster, hosts, percent, port, hooks):
    """Drop percent% of the agent's datagrams on these hosts (nft numgen), like cmemnet.loss.
    One `nft` per host, one after the other: returns when each rule was in (time.monotonic())."""
    done = []
    for h in hosts:
        chains = "".join(
            "chain %s { type filter hook %s priority 0; udp dport %d numgen random mod 100 < %d drop; }\n"
            % (hk, hk, port, percent) for hk in hooks)
        subprocess.run(["ip", "netns", "exec", h.ns, "nft", "-f", "-"],
                       input="table inet benchloss {\n%s}\n" % chains, text=True, check=True,
                       capture_output=True)
        done.append(time.monotonic())
    return done


def loss_off(cluster, hosts):
    for h in hosts:
        subprocess.run(["ip", "netns", "exec", h.ns, "nft", "delete", "table", "inet", "benchloss"],
                       capture_output=True)


# ---- one cluster size, every figure ----

class Params:
    """What run_size does; every duration in seconds."""

    def __init__(self, steady=30, reps=3, loss=((10, 60), (30, 60)), hooks=("input",),
                 converge_timeout=60, detect_timeout=15, settle=2):
        self.steady, self.reps, self.loss, self.hooks = steady, reps, loss, hooks
        self.converge_timeout, self.detect_timeout, self.settle = converge_timeout, detect_timeout, settle


def _step(res, name, fn):
    """Run one step; a BenchError is recorded under `errors` and the run goes on."""
    try:
        fn()
    except BenchError as e:
        log("%s: %s" % (name, e))
        res.setdefault("errors", []).append("%s: %s" % (name, e))


def _start_all(agent, hosts, p, res):
    t0 = res["t_first"] = time.monotonic()
    agent.start(hosts[0])
    agent.wait_started(hosts[0])  # serf: the others join this one
    for h in hosts[1:]:
        agent.start(h)
    for h in hosts:
        agent.wait_started(h)
        agent.observe(h)
    wait_converged(agent, hosts, p.converge_timeout, "start")
    res["converge_s"] = time.monotonic() - t0
    log("%d %s agents converged %.2f s after the first start" % (len(hosts), agent.label,
                                                                 res["converge_s"]))


def _steady(agent, cluster, hosts, hub, p, res):
    time.sleep(p.settle)
    pids = [agent.pid(h) for h in hosts]
    t0 = time.monotonic()
    ticks0, net0 = [cpu_ticks(x) for x in pids], veth_counters(cluster)
    time.sleep(p.steady)
    ticks1, net1 = [cpu_ticks(x) for x in pids], veth_counters(cluster)
    dt = time.monotonic() - t0
    res["steady_s"] = dt
    res["cpu_pct"] = [100.0 * (b - a) / CLK_TCK / dt for a, b in zip(ticks0, ticks1)]
    per = [[(net1[h.i][k] - net0[h.i][k]) / dt for k in range(4)] for h in hosts]
    res["tx_pkts"], res["tx_bytes"] = [x[0] for x in per], [x[1] for x in per]
    res["rx_pkts"], res["rx_bytes"] = [x[2] for x in per], [x[3] for x in per]
    mem = [smaps(x) for x in pids]
    res["pss_kb"] = [m.get("Pss", 0) for m in mem]
    res["private_dirty_kb"] = [m.get("Private_Dirty", 0) for m in mem]
    res["rss_kb"] = [m.get("Rss", 0) for m in mem]
    res["false_clean"] = len(hub.since(t0, kinds={"failed"}))
    log("steady %.0f s: CPU per daemon mean %.3f %% (max %.3f %%), sent %.1f lines/s, %.0f B/s, "
        "received %.1f lines/s, %.0f B/s per node; Pss median %d kB; %d false failures"
        % (dt, sum(res["cpu_pct"]) / len(hosts), max(res["cpu_pct"]), median(res["tx_pkts"]),
           median(res["tx_bytes"]), median(res["rx_pkts"]), median(res["rx_bytes"]),
           median(res["pss_kb"]), res["false_clean"]))


def _join_leave(agent, hosts, spare, hub, p, res):
    observers = [h.name for h in hosts]
    res.setdefault("join_s", [])
    res.setdefault("leave_s", [])
    res.setdefault("leave_as_failed", 0)
    for r in range(p.reps):
        name = "joiner-%d" % (r + 1)
        t0 = time.monotonic()
        agent.start(spare, name)
        got = seen_by_all(hub, observers, "join", name, t0, p.detect_timeout)
        res["join_s"] += [e.real - agent.join_origin(e, spare) for e in got.values()]
        agent.wait_started(spare)
        time.sleep(p.settle / 2)
        times, failed, silent = _graceful_stop(agent, observers, spare, hub, p.detect_timeout)
        res["leave_s"] += times
        res["leave_as_failed"] += failed
        if silent:
            raise BenchError("the stop of %s not seen by %d of %d observers within %.0f s"
                             % (name, silent, len(observers), p.detect_timeout))
    log("join seen by all: %s; leave (%s) seen by all: %s%s"
        % (spread(res["join_s"], "ms", 1), agent.graceful, spread(res["leave_s"], "ms", 1),
           "; seen as failed %d times" % res["leave_as_failed"] if res["leave_as_failed"] else ""))


def _crash_one(agent, hosts, victim, hub, timeout, res):
    """kill -9 victim; the detection time at every other host."""
    observers = [h.name for h in hosts if h is not victim]
    t0 = time.monotonic()
    res.setdefault("crashes", []).append({"victim": victim.name, "t0_real": time.time()})
    agent.crash(victim)
    agent.unobserve(victim)
    got = seen_by_all(hub, observers, "failed", victim.name, t0, timeout)
    if hasattr(agent, "after_crash"):
        agent.after_crash(victim, observers, res["crashes"][-1]["t0_real"])
    return [e.mono - t0 for e in got.values()]


def _restart(agent, hosts, victim, p, timeout):
    agent.start(victim)
    agent.wait_started(victim)
    agent.observe(victim)
    wait_converged(agent, hosts, timeout, "restart of %s" % victim.name)


def _crashes(agent, hosts, hub, p, res):
    res.setdefault("crash_s", [])
    for r in range(p.reps):
        victim = hosts[1 + r % (len(hosts) - 1)]
        res["crash_s"] += _crash_one(agent, hosts, victim, hub, p.detect_timeout, res)
        _restart(agent, hosts, victim, p, p.converge_timeout)
        time.sleep(p.settle / 2)
    log("crash (kill -9) seen by all: %s (%d samples)" % (spread(res["crash_s"]), len(res["crash_s"])))


def _stop_verdicts(hub, observers, leaver, t0):
    """{observer: its first leave or failed event for leaver after t0}."""
    v = {}
    for o in observers:
        seen = [e for e in (hub.first(o, "leave", leaver, t0), hub.first(o, "failed", leaver, t0)) if e]
        if seen:
            v[o] = min(seen, key=lambda e: e.mono)
    return v


def _graceful_stop(agent, observers, leaver, hub, timeout):
    """Stop leaver gracefully: (seconds until each observer saw it leave, how many observers
    saw it fail instead, how many saw nothing within timeout)."""
    t0 = time.monotonic()
    agent.leave(leaver)
    wait_until(lambda: len(_stop_verdicts(hub, observers, leaver.name, t0)) == len(observers),
               timeout, step=0.01)
    v = _stop_verdicts(hub, observers, leaver.name, t0)
    try:
        leaver.proc.wait(30)
    except subprocess.TimeoutExpired:
        agent.crash(leaver)
    agent.unobserve(leaver)
    times = [e.mono - t0 for e in v.values() if e.kind == "leave"]
    failed = sum(1 for e in v.values() if e.kind == "failed")
    return times, failed, len(observers) - len(v)


def _loss_level(agent, cluster, hosts, hub, p, res, pct, secs, k):
    key = "loss%d" % pct
    out = res.setdefault(key, {"percent": pct, "seconds": secs})
    t_on = time.monotonic()
    rules = loss_on(cluster, hosts, pct, agent.port, p.hooks)
    # when each host's rule went in, and when the loss was off again, from the
    # size's first start: the simulator (sim/check.py) replays this timeline
    out["rules_t"] = [round(t - res["t_first"], 4) for t in [t_on] + rules]
    try:
        t0 = time.monotonic()
        time.sleep(secs)
        bad = hub.since(t0, kinds={"failed"})
        out["false"] = len(bad)
        out["false_pairs"] = sorted({"%s saw %s" % (e.observer, e.member) for e in bad})
        log("%d %% loss (%s) for %d s: %d false failures%s"
            % (pct, "+".join(p.hooks), secs, len(bad),
               (" (" + ", ".join(out["false_pairs"][:4]) + ")") if bad else ""))
        victim = hosts[1 + (2 * k) % (len(hosts) - 1)]
        out["crash_s"] = _crash_one(agent, hosts, victim, hub, p.detect_timeout, out)
        log("  crash during the loss seen by all: %s" % spread(out["crash_s"]))
        _restart(agent, hosts, victim, p, p.converge_timeout)
        leaver = hosts[1 + (2 * k + 1) % (len(hosts) - 1)]
        observers = [h.name for h in hosts if h is not leaver]
        times, failed, silent = _graceful_stop(agent, observers, leaver, hub, p.detect_timeout)
        left = len(times)
        out["leave_verdicts"] = (left, failed, silent)
        log("  graceful stop during the loss: seen as left by %d, as failed by %d, not seen by %d"
            % (left, failed, silent))
        _restart(agent, hosts, leaver, p, p.converge_timeout)
    finally:
        loss_off(cluster, hosts)
        out["off_t"] = round(time.monotonic() - res["t_first"], 4)


def run_size(agent_cls, n, p, **agent_kw):
    """n agents (plus one spare namespace for the joins) through every step; a dict of figures."""
    res = {"agent": agent_cls.label, "n": n}
    c = Cluster(n + 1)
    hub = EventHub()
    agent = agent_cls(c, hub, **agent_kw)
    hosts, spare = c.hosts[:n], c.hosts[n]
    print("== %s, N=%d (%s)" % (agent.label, n, time.strftime("%H:%M:%S")), flush=True)
    try:
        _start_all(agent, hosts, p, res)
        res["settings"] = agent.settings(hosts[0])
        _step(res, "steady", lambda: _steady(agent, c, hosts, hub, p, res))
        _step(res, "join/leave", lambda: _join_leave(agent, hosts, spare, hub, p, res))
        _step(res, "crash", lambda: _crashes(agent, hosts, hub, p, res))
        for k, (pct, secs) in enumerate(p.loss):
            _step(res, "loss %d %%" % pct,
                  lambda: _loss_level(agent, c, hosts, hub, p, res, pct, secs, k))
            if not converged(agent, hosts):
                _step(res, "after %d %% loss" % pct,
                      lambda: wait_converged(agent, hosts, p.converge_timeout, "after the loss"))
    except BenchError as e:
        log("stopped: %s" % e)
        res.setdefault("errors", []).append(str(e))
    finally:
        c.cleanup()
    return res
