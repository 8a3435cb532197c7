#!/usr/bin/env python3
"""System test: the keyring file follows the running daemon, and `cmemctl reload`.

A 3-host cluster, each host with its own keyring file (as on real hosts).
Rotation 1 -> 2 with `cmemctl -c CONF keys install|use|remove`: after
`keys use 2` and again after `keys remove 1` the file says what the daemon
does, and a host restarted after each step stays in the cluster.  A step
the daemon refuses leaves the file alone.  `cmemctl reload` applies a new
log level and keyring; a bad keyring or a bad configuration is refused
with file and line, and the running ring and level stay.
"""
import os
import re
import signal
import stat
import time
from types import SimpleNamespace

from cmemnet import Cluster, Watch, check, finish, need, need_root, scenario, wait_until, write_keyring


def conf_for(h, keyring, log_level="info"):
    text = h.config_text()
    text = re.sub(r"^keyring = .*$", 'keyring = "%s";' % keyring, text, flags=re.M)
    return re.sub(r"^log_level = .*$", 'log_level = "%s";' % log_level, text, flags=re.M)


def ctl(h, *args):
    return h.ctl("-c", h.conf, *args)


def ok(h, *args):
    r = ctl(h, *args)
    check(r.returncode == 0, "%s: cmemctl %s: exit %d: %s" % (h.name, " ".join(args), r.returncode, r.stderr))
    return r


def ring_file(path):
    """[(id, primary)] as the file says."""
    keys = []
    with open(path) as f:
        for ln in f:
            w = ln.split()
            if w and w[0].isdigit():
                keys.append((int(w[0]), "primary" in w[2:]))
    return keys


def running_ring(h):
    d = h.query("keys", "list")
    return [(k["id"], k["primary"]) for k in d["keys"]]


def restart(c, h, hosts, what):
    h.kill(signal.SIGTERM)
    check(h.wait_exit(5) == 0, "%s did not stop" % h.name)
    t0 = time.monotonic()
    h.start(conf_text=open(h.conf).read())
    back = wait_until(lambda: c.converged(hosts), 5)
    check(back, "%s restarted after %s is not back in the cluster: %s"
          % (h.name, what, {x.name: x.states() for x in hosts}))
    return time.monotonic() - t0


@scenario
def start_3():
    """3 hosts, each with its own keyring file holding key 1."""
    c = Cluster(3)
    hosts = c.hosts
    with open(c.keyring) as f:
        k1 = [l.split()[1] for l in f if l[0].isdigit()][0]
    k2, k3 = os.urandom(32).hex(), os.urandom(32).hex()
    files = {}
    for h in hosts:
        files[h.name] = write_keyring(os.path.join(h.dir, "cluster.keys"), ((1, k1, True),))
        with open(h.conf, "w") as f:
            f.write(conf_for(h, files[h.name]))
        h.start(conf_text=open(h.conf).read())
    check(wait_until(lambda: c.converged(hosts), 5), "no convergence")
    watches = [Watch(h) for h in hosts]
    t0 = time.monotonic()
    return SimpleNamespace(c=c, hosts=hosts, k1=k1, k2=k2, k3=k3, files=files, watches=watches, t0=t0)


@scenario
def keys_use_2(r):
    """The admin adds key 2 to every host's file and installs it; keys use 2: daemon and file."""
    r = need(r, "start-3")
    hosts, files, k1, k2 = r.hosts, r.files, r.k1, r.k2
    # 1. the admin adds key 2 to every host's file and installs it
    for h in hosts:
        write_keyring(files[h.name], ((1, k1, True), (2, k2, False)))
        ok(h, "keys", "install", files[h.name])
    # 2. keys use 2: daemon and file
    for h in hosts:
        ok(h, "keys", "use", "2")
        check(ring_file(files[h.name]) == [(1, False), (2, True)] == running_ring(h),
              "%s after keys use 2: file %s, daemon %s" % (h.name, ring_file(files[h.name]), running_ring(h)))
    st = os.stat(files[hosts[0].name])
    check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, "rewritten file mode %o" % st.st_mode)
    check(wait_until(lambda: all(not h.query("keys", "list")["peers_not_on_primary"] for h in hosts), 5),
          "peers did not move to key 2")
    return True


@scenario
def restart_after_use(r, used):
    need(used, "keys-use-2")
    return restart(r.c, r.hosts[0], r.hosts, "keys use 2")


@scenario
def refused_steps(r):
    """A step the daemon refuses, or one the file cannot take, leaves the file alone."""
    r = need(r, "start-3")
    hosts, files, k1, k2, k3 = r.hosts, r.files, r.k1, r.k2, r.k3
    # a step the daemon refuses leaves the file alone
    write_keyring(files[hosts[1].name], ((1, k1, False), (2, k2, True), (3, k3, False)))
    before = open(files[hosts[1].name]).read()
    r = ctl(hosts[1], "keys", "use", "3")
    check(r.returncode == 1 and "no key with id 3" in r.stderr and "(not_found)" in r.stderr,
          "keys use 3 (not installed): %d %r" % (r.returncode, r.stderr))
    check(open(files[hosts[1].name]).read() == before, "a refused keys use changed the file")
    write_keyring(files[hosts[1].name], ((1, k1, False), (2, k2, True)))
    # a key the file lacks is refused before the daemon is asked
    r = ctl(hosts[2], "keys", "use", "9")
    check(r.returncode == 1 and "key 9 is not in %s" % files[hosts[2].name] in r.stderr,
          "keys use 9: %r" % r.stderr)
    return True


@scenario
def keys_remove_1(r, used, refused):
    """keys remove 1: daemon and file."""
    need(used, "keys-use-2")
    need(refused, "refused-steps")  # it gives hosts[1] its file back
    for h in r.hosts:
        ok(h, "keys", "remove", "1")
        check(ring_file(r.files[h.name]) == [(2, True)] == running_ring(h),
              "%s after keys remove 1: file %s, daemon %s" % (h.name, ring_file(r.files[h.name]), running_ring(h)))
    return True


@scenario
def restart_after_remove(r, removed):
    need(removed, "keys-remove-1")
    return restart(r.c, r.hosts[1], r.hosts, "keys remove 1")


@scenario
def rotation_no_failed(r, took_use, took_remove):
    r = need(r, "start-3")
    bad = [(i, e) for i, w in enumerate(r.watches) for t, e in w.events
           if t >= r.t0 and e.get("event") in ("failed",)]
    check(not bad, "rotation lost members: %s" % bad)
    print("rotation 1 -> 2 with the file following: a host restarted after keys use was back in "
          "%.3f s, after keys remove in %.3f s; no failed event; a refused step left the file alone"
          % (need(took_use, "restart-after-use"), need(took_remove, "restart-after-remove")))
    return True


@scenario
def reload_refused(r, removed):
    """reload: a bad keyring, then a bad configuration, refused with file and line, the running state kept."""
    need(removed, "keys-remove-1")
    hosts, files, k2, k3 = r.hosts, r.files, r.k2, r.k3
    h = hosts[2]
    path = files[h.name]
    with open(path, "a") as f:
        f.write("3 not-a-secret\n")
    level_before, ring_before = h.query("status")["log_level"], running_ring(h)
    r = ctl(h, "reload")
    check(r.returncode == 1 and ("keyring %s: line 3:" % path) in r.stderr,
          "reload with a bad keyring: %d %r" % (r.returncode, r.stderr))
    check(running_ring(h) == ring_before and h.query("status")["log_level"] == level_before,
          "a refused reload changed the daemon")
    bad_ring_msg = r.stderr.strip()
    # a bad configuration, too
    write_keyring(path, ((2, k2, True), (3, k3, False)))
    with open(h.conf, "a") as f:
        f.write("heartbeat_ms = \"fast\";\n")
    nlines = len(open(h.conf).read().splitlines())
    r = ctl(h, "reload")
    check(r.returncode == 1 and "%s:%d:" % (h.conf, nlines) in r.stderr,
          "reload with a bad configuration: %d %r" % (r.returncode, r.stderr))
    check(running_ring(h) == ring_before, "a refused reload changed the ring")
    bad_conf_msg = r.stderr.strip()
    return bad_ring_msg, bad_conf_msg


@scenario
def reload_applied(r, refused):
    """A good configuration and keyring: new level and ring applied at once."""
    bad_ring_msg, bad_conf_msg = need(refused, "reload-refused")
    c, hosts, k2, k3 = r.c, r.hosts, r.k2, r.k3
    h = hosts[2]
    path = r.files[h.name]
    with open(h.conf, "w") as f:
        f.write(conf_for(h, path, log_level="debug"))
    r = ok(h, "--json", "reload")
    check(running_ring(h) == [(2, True), (3, False)] and h.query("status")["log_level"] == "debug",
          "reload applied: ring %s level %s" % (running_ring(h), h.query("status")["log_level"]))
    check(k3 not in r.stdout and k2 not in r.stdout, "reload echoed a secret")
    check("reloaded %s by uid 0" % h.conf in h.read_log(), "reload not logged")
    check(c.converged(hosts), "not converged after reload")
    print("reload: bad keyring refused (%s); bad configuration refused (%s); a good file applied "
          "log level debug and keys 2, 3" % (bad_ring_msg, bad_conf_msg))
    return True


def main():
    need_root()
    r = start_3()
    used = keys_use_2(r)
    took_use = restart_after_use(r, used)
    refused = refused_steps(r)
    removed = keys_remove_1(r, used, refused)
    took_remove = restart_after_remove(r, removed)
    rotation_no_failed(r, took_use, took_remove)
    reload_applied(r, reload_refused(r, removed))
    if r:
        r.c.cleanup()
    finish()


if __name__ == "__main__":
    main()
