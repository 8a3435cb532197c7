#!/usr/bin/env python3
"""System test: `cmemctl watch --exec` hooks that keep working.

Three hosts.  1. A handler that outlives its --timeout (1 s) is killed with
its process group and reported on stderr; the events that came meanwhile
(leave, restart) reach the handler afterwards, in order, and the daemon
never drops the watcher.  2. A burst of 3000 events while the handler
hangs: they are read on (the daemon never drops the watcher), 1024 wait,
the rest are dropped and counted, and a resync follows.  3. `watch --follow
--exec HOOK`, the command line
of cmem-hook@.service: the hook first gets a resync with the membership;
its daemon is restarted; the watch reconnects within the backoff, the hook
gets a resync with the current membership (environment and stdin JSON
agree with `members --json`), and later events reach it; a --follow watch
started before its daemon waits for it.  4. Usage errors of the new options.  Prints the figures.
"""
import json
import os
import signal
import subprocess
import threading
import time

from cmemnet import (BUSY_S, CMEMCTL, EVENT_FLOOD, Cluster, Relay, Watch, check, fail, finish, need, need_root,
                     scenario, wait_until)

# alternate alive/leave lines of one fake member, signed with the cluster key:
# one event each (as in test_ctl.py)
FLOOD = EVENT_FLOOD

HOOK = r'''#!/bin/sh
# one line per step: wall-clock time, step, event, member, incarnation
log=%(dir)s/%(name)s.log
echo "$(date +%%s.%%N) start $CMEM_EVENT $CMEM_MEMBER $CMEM_INCARNATION" >> $log
if [ "$CMEM_EVENT" = join ] && [ "$CMEM_MEMBER" = %(hang)s ] && [ ! -e %(dir)s/hung ]; then
	echo $$ > %(dir)s/hung
	sleep 100
fi
if [ "$CMEM_EVENT" = resync ]; then
	cat > %(dir)s/%(name)s-resync-$CMEM_DETAIL.json
	echo "$(date +%%s.%%N) members $CMEM_DETAIL $CMEM_MEMBERS" >> $log
fi
echo "$(date +%%s.%%N) end $CMEM_EVENT $CMEM_MEMBER" >> $log
'''


class Lines:
    """A cmemctl process whose stderr lines are collected."""

    def __init__(self, c, argv):
        self.err = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        c.procs.append(self.proc)
        threading.Thread(target=self._read, daemon=True).start()
        self.out = []
        threading.Thread(target=self._read_out, daemon=True).start()

    def _read(self):
        for ln in self.proc.stderr:
            self.err.append((time.time(), ln.rstrip("\n")))

    def _read_out(self):
        for ln in self.proc.stdout:
            self.out.append(ln.rstrip("\n"))

    def said(self, text):
        return next((t for t, ln in self.err if text in ln), None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("cmemctl watch did not stop on SIGTERM")


def exec_watch(c, h, name, hang, timeout):
    """`cmemctl watch --exec HOOK --timeout N` on h, subscribed when it returns:
    --exec prints nothing then, so it talks through a Relay, which sees the reply."""
    relay = Relay(h)
    w = Lines(c, [CMEMCTL, "-s", relay.path, "watch", "--exec", hook(c, name, hang), "--timeout", str(timeout)])
    check(relay.wait_ready(5), "watch --exec not subscribed: %s %s" % (relay.reply, w.err))
    w.relay = relay
    return w


def hook(c, name, hang="none"):
    path = os.path.join(c.dir, name + ".sh")
    with open(path, "w") as f:
        f.write(HOOK % {"dir": c.dir, "name": name, "hang": hang})
    os.chmod(path, 0o755)
    return path


def steps(c, name):
    """[(time, step, event, member, rest)] from the hook's log."""
    try:
        with open(os.path.join(c.dir, name + ".log")) as f:
            out = []
            for ln in f:
                w = ln.split()
                out.append((float(w[0]), w[1], w[2] if len(w) > 2 else "", w[3] if len(w) > 3 else "",
                            " ".join(w[3:])))
            return out
    except OSError:
        return []


def find(log, step, event, member=None, after=0.0):
    return next((x for x in log if x[1] == step and x[2] == event and x[0] >= after and
                 (member is None or x[3] == member)), None)


def check_timeout(c, h, joiner):
    """A handler past its limit is killed and reported; later events follow in order."""
    before = h.query("stats")["other"]["dropped_watchers"]
    w = exec_watch(c, h, "slow", joiner.name, 1)
    joiner.start()
    check(wait_until(lambda: os.path.exists(os.path.join(c.dir, "hung")), 5), "the join handler never ran")
    joiner.kill(signal.SIGTERM)  # leave, while the handler hangs
    check(joiner.wait_exit(5) == 0, "%s did not stop" % joiner.name)
    joiner.start()               # restart, still while it hangs
    inc = joiner.query("status")["incarnation"]
    done = wait_until(lambda: find(steps(c, "slow"), "end", "restart", joiner.name), 10)
    log = steps(c, "slow")
    check(done, "the restart event never reached the handler: %s; stderr %s" % (log, w.err))
    mine = [(s, e) for _, s, e, m, _ in log if m == joiner.name]
    check(mine == [("start", "join"), ("start", "leave"), ("end", "leave"), ("start", "restart"),
                   ("end", "restart")], "handler steps for %s: %s" % (joiner.name, mine))
    check(find(log, "start", "restart", joiner.name)[4].split()[-1] == str(inc),
          "restart handed over with the wrong incarnation: %s (want %d)" % (log, inc))
    j, lv = find(log, "start", "join", joiner.name), find(log, "start", "leave", joiner.name)
    late = lv[0] - j[0]
    # measured from inside the shell, which may start late on a busy machine
    check(0.9 <= late <= 1 + 2 * BUSY_S, "the hung handler was cut after %.3f s, limit 1 s" % late)
    said = wait_until(lambda: w.said("ran past its 1 s limit: killed by SIGTERM"), 2)
    check(said and "event join of %s" % joiner.name in next(ln for _, ln in w.err if "ran past" in ln),
          "no report of the kill on stderr: %s" % w.err)
    pgid = int(open(os.path.join(c.dir, "hung")).read())
    try:
        os.killpg(pgid, 0)
        fail("the hung handler's process group %d is still there" % pgid)
    except ProcessLookupError:
        pass
    dropped = h.query("stats")["other"]["dropped_watchers"] - before
    check(dropped == 0, "the daemon dropped the watcher %d times" % dropped)
    rc = w.stop()
    w.relay.close()
    check(rc == -signal.SIGTERM, "watch --exec on SIGTERM: exit %s" % rc)
    print("timeout: a handler hung past its 1 s limit was killed %.3f s after it started (%s); "
          "leave and restart followed in order; dropped_watchers +0" % (late, next(
              ln for _, ln in w.err if "ran past" in ln).split(": ", 1)[1]))


def flood(c, via, count, name):
    secret = next(ln.split()[1] for ln in open(c.keyring) if ln.split() and ln.split()[0] == "1")
    subprocess.run(["ip", "netns", "exec", via.ns, "python3", "-c", FLOOD, secret, c.group,
                    str(c.port), via.addr, str(count), name], check=True, capture_output=True, timeout=60)


def check_overflow(c, h, via, count=3000):
    """A burst while the handler hangs: read on, queue 1024, drop the rest, then resync."""
    before = h.query("stats")["other"]["dropped_watchers"]
    reader = Watch(h)
    w = exec_watch(c, h, "burst", "flood", 2)
    os.unlink(os.path.join(c.dir, "hung"))
    t0 = time.monotonic()
    flood(c, via, count, "flood")
    seen = wait_until(lambda: find(steps(c, "burst"), "end", "resync"), 120, step=0.2)
    took = time.monotonic() - t0
    log = steps(c, "burst")
    check(seen, "no resync after the burst: %d handler steps; stderr %s" % (len(log), w.err[-3:]))
    total = len([e for _, e in reader.events if e.get("member") == "flood"])
    ran = [x for x in log if x[1] == "start" and x[3] == "flood"]
    rs = resync_file(c, "overflow", "burst")
    said = next((ln for _, ln in w.err if "events dropped" in ln), "")
    dropped = h.query("stats")["other"]["dropped_watchers"] - before
    check(dropped == 0, "the daemon dropped the watcher %d times during the burst" % dropped)
    check(total >= count // 2, "the reading watcher saw only %d of %d flood events" % (total, count))
    check(len(ran) == 1 + 1024 and rs and rs["dropped"] == total - len(ran),
          "%d events: the handler ran for %d (the hung one and a full queue of 1024 wanted), resync "
          "says %s dropped" % (total, len(ran), rs and rs["dropped"]))
    check("%d events dropped after 1024 were waiting" % rs["dropped"] in said, "stderr: %s" % w.err[-3:])
    check(log[-2][1] == "members" and log[-2][2] == "overflow" and "flood=" in log[-2][4],
          "the resync is not the last step, or lacks the flood member: %s" % log[-3:])
    reader.stop()
    w.stop()
    w.relay.close()
    print("overflow: %d events in a burst while the handler hung; it ran for 1 + 1024 queued, %d were "
          "dropped and reported, then a resync; %.1f s in all; dropped_watchers +0"
          % (total, rs["dropped"], took))


def resync_file(c, reason, name="follow"):
    try:
        with open(os.path.join(c.dir, "%s-resync-%s.json" % (name, reason))) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def check_resync(c, h, reason, t_after):
    # the hook writes the JSON file, then its "members" step: wait for the step
    wait_until(lambda: find(steps(c, "follow"), "members", reason, after=t_after), 10)
    rs = find(steps(c, "follow"), "members", reason, after=t_after)
    ev = resync_file(c, reason)
    check(rs and ev, "no %s resync reached the hook: %s" % (reason, steps(c, "follow")))
    env = dict(m.split("=") for m in rs[4].split())
    listed = {m["name"]: m["state"] for m in ev["members"]}
    check(ev["event"] == "resync" and ev["reason"] == reason and ev["self"] == h.name,
          "resync JSON %s" % {k: v for k, v in ev.items() if k != "members"})
    check(env == listed and h.name in listed, "CMEM_MEMBERS %s vs stdin JSON %s" % (env, listed))
    now = {m["name"] for m in h.query("members")["members"]}
    check(set(listed) == now, "resync lists %s, members --json %s" % (sorted(listed), sorted(now)))
    return rs[0], listed


def check_follow(c, h, other):
    """The systemd template's command line across a daemon restart."""
    w = Lines(c, [CMEMCTL, "-s", h.sock, "watch", "--follow", "--exec", hook(c, "follow")])
    check(wait_until(lambda: resync_file(c, "start"), 5), "no start resync: %s" % w.err)
    _, first = check_resync(c, h, "start", 0)
    check(all(first.get(x.name) == "alive" for x in c.hosts), "start resync: %s" % first)
    t_down = time.time()
    h.kill(signal.SIGTERM)
    check(h.wait_exit(5) == 0, "%s did not stop" % h.name)
    time.sleep(0.5)  # the daemon is away for a while
    h.start()
    t_up = time.time()
    check(wait_until(lambda: resync_file(c, "reconnect"), 10),
          "no resync after the restart: %s" % w.err)
    check(wait_until(lambda: c.converged(), 5), "the cluster did not converge after the restart")
    t_rs, listed = check_resync(c, h, "reconnect", t_down)
    back = t_rs - t_down
    check(back <= 2 * (t_up - t_down) + BUSY_S,
          "reconnected %.3f s after the daemon stopped; it answered again after %.3f s"
          % (back, t_up - t_down))
    check(w.said("closed the event stream") and w.said("reconnecting (--follow)") and
          w.said("reconnected to cmemd"), "follow stderr: %s" % w.err)
    t0 = time.time()
    other.kill(signal.SIGTERM)
    check(wait_until(lambda: find(steps(c, "follow"), "end", "leave", other.name, t0), 5),
          "the leave of %s after the reconnection never reached the hook: %s"
          % (other.name, steps(c, "follow")))
    check(w.proc.poll() is None, "watch --follow exited: %s" % w.err)
    w.stop()
    print("follow: %s restarted (away %.2f s); reconnected and resynced %.2f s after it stopped, "
          "%d members (%s); a later leave reached the hook" % (
              h.name, t_up - t_down, back, len(listed),
              " ".join("%s=%s" % kv for kv in sorted(listed.items()))))


def check_follow_before_start(c, h):
    """--follow started before its daemon: it waits, then prints a resync and the events."""
    check(h.wait_exit(5) == 0, "%s did not stop" % h.name)
    t_watch = time.monotonic()
    w = Lines(c, [CMEMCTL, "-s", h.sock, "--json", "watch", "--follow"])
    check(wait_until(lambda: w.said("retrying (--follow)"), 5), "no retry message: %s" % w.err)
    time.sleep(0.3)
    h.start()
    t_up = time.monotonic()
    check(wait_until(lambda: len(w.out) >= 1, 10), "nothing printed once %s started: %s" % (h.name, w.err))
    t = time.monotonic() - t_up
    first = json.loads(w.out[0])
    check(first["event"] == "resync" and first["reason"] == "start" and first["self"] == h.name and
          h.name in {m["name"] for m in first["members"]}, "first line of watch --follow: %s" % first)
    # attempts 0.1, 0.3, 0.7, 1.5 ... s after the first: never later than twice the wait
    check(t_up + t - t_watch <= 2 * (t_up - t_watch) + BUSY_S,
          "watch --follow connected %.2f s after %s answered, %.2f s after the watch began"
          % (t, h.name, t_up + t - t_watch))
    check(w.proc.poll() is None, "watch --follow exited: %s" % w.err)
    w.stop()
    print("follow before the daemon: waited %.2f s, then printed a resync (%d members) %.2f s after "
          "the daemon answered" % (t_up - t_watch, len(first["members"]), t))


USAGE = [
    (["watch", "--exec", "/nonexistent/hook"], "--exec /nonexistent/hook: No such file or directory"),
    (["watch", "--exec", "true", "--timeout", "0"], "--timeout wants seconds"),
    (["watch", "--exec", "true", "--timeout", "x"], "--timeout wants seconds"),
    (["watch", "--timeout", "5"], "give --exec too"),
    (["--follow", "members"], "--follow applies to 'watch' only"),
    (["status", "--timeout", "3"], "--timeout applies to 'watch' only"),
]


def check_usage(c):
    missing = os.path.join(c.dir, "no-such-dir", "cmemd.sock")
    for args, msg in USAGE:
        r = subprocess.run([CMEMCTL, "-s", missing] + args, capture_output=True, text=True, timeout=5)
        check(r.returncode == 2 and msg in r.stderr, "cmemctl %s: exit %d, %r" % (args, r.returncode, r.stderr))
    r = subprocess.run([CMEMCTL, "-s", missing, "watch", "--exec", "true"], capture_output=True,
                       text=True, timeout=5)
    check(r.returncode == 3 and "cannot reach cmemd" in r.stderr, "watch --exec, no daemon: %r" % r.stderr)
    print("usage: %d option errors exit 2; no daemon without --follow exits 3" % len(USAGE))


def start_two():
    c = Cluster(3)
    h1, h2, h3 = c.hosts
    for h in (h1, h2):
        h.start()
    check(wait_until(lambda: c.converged([h1, h2]), 10), "2 daemons did not converge")
    return c


def main():
    need_root()
    c = timed = followed = None
    with scenario("start-2"):
        c = start_two()
    with scenario("usage"):
        check_usage(need(c, "start-2"))
    with scenario("timeout"):
        h1, h2, h3 = need(c, "start-2").hosts
        check_timeout(c, h1, h3)
        timed = True
    with scenario("overflow"):
        # the burst hook hangs once the timeout scenario's marker is gone
        need(timed, "timeout")
        check_overflow(c, h1, h3)
    with scenario("follow"):
        need(c, "start-2")
        check(wait_until(lambda: c.converged(), 10), "3 daemons did not converge")
        check_follow(c, h2, h3)
        followed = True
    with scenario("follow-before-start"):
        need(followed, "follow")  # it stopped h3
        check_follow_before_start(c, h3)
    if c:
        c.cleanup()
    finish()


if __name__ == "__main__":
    main()
