#!/usr/bin/env python3
"""System test: process hardening and refusals at start.

A daemon started as root runs with Uid/Gid not 0, CapEff 0, NoNewPrivs 1,
/proc/PID/root at its chroot and no descriptor open to the keyring or the
configuration; a config error, a group-readable keyring, a chroot writable
by others, a missing user and a second instance are refused with clear
messages.
"""
import os
import subprocess

from cmemnet import CMEMD, Cluster, check, finish, need_root, scenario


def proc_status(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.split()
    return st


def confined(c):
    h = c.hosts[0]
    h.start()
    st = proc_status(h.pid)
    check(all(x != "0" for x in st["Uid"]), "Uid still 0: %s" % st["Uid"])
    check(all(x != "0" for x in st["Gid"]), "Gid still 0: %s" % st["Gid"])
    check(int(st["CapEff"][0], 16) == 0, "CapEff %s" % st["CapEff"])
    check(int(st["CapPrm"][0], 16) == 0, "CapPrm %s" % st["CapPrm"])
    check(st["NoNewPrivs"] == ["1"], "NoNewPrivs %s" % st["NoNewPrivs"])
    root = os.readlink("/proc/%d/root" % h.pid)
    check(root == c.chroot, "/proc/PID/root is %s, not %s" % (root, c.chroot))
    fds = [os.readlink("/proc/%d/fd/%s" % (h.pid, fd)) for fd in os.listdir("/proc/%d/fd" % h.pid)]
    check(not any(c.keyring in f or h.conf in f for f in fds), "open descriptors: %s" % fds)
    status = h.query("status")["confinement"]
    check(status["uid"] != 0 and status["no_new_privs"] and status["chroot"] == c.chroot,
          "status confinement: %s" % status)
    print("confinement: uid %s gid %s CapEff %s NoNewPrivs %s root %s; %d fds, none to key or config"
          % (st["Uid"][0], st["Gid"][0], st["CapEff"][0], st["NoNewPrivs"][0], root, len(fds)))
    # a second daemon with the same pidfile is refused, naming the holder
    r = subprocess.run(["ip", "netns", "exec", h.ns, CMEMD, "-f", "-c", h.conf],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and ("already running as pid %d" % h.pid in r.stderr or
                                 "another cmemd answers" in r.stderr),
          "second instance: rc %d: %s" % (r.returncode, r.stderr))
    print("second instance refused: " + r.stderr.strip().splitlines()[-1])


def refused(c, what, expect, conf_extra="", prepare=None, undo=None):
    h = c.hosts[1]
    if prepare:
        prepare()
    with open(h.conf, "w") as f:
        f.write(h.config_text(conf_extra))
    try:
        r = subprocess.run(["ip", "netns", "exec", h.ns, CMEMD, "-f", "-c", h.conf],
                           capture_output=True, text=True, timeout=10)
    finally:
        if undo:  # the next scenario starts from the good configuration
            undo()
    check(r.returncode != 0, "%s: daemon started (rc %d)" % (what, r.returncode))
    check(expect in r.stderr, "%s: message %r lacks %r" % (what, r.stderr, expect))
    print("refused %s: %s" % (what, r.stderr.strip().splitlines()[-1]))


def main():
    need_root()
    c = Cluster(2)
    with scenario("confined"):
        confined(c)
    cases = [
        ("a group-readable keyring", "permissions 0640 are too open", "",
         lambda: os.chmod(c.keyring, 0o640), lambda: os.chmod(c.keyring, 0o600)),
        ("an unknown option", "cmemd.conf:12: unknown option 'heartbeat'", "heartbeat = 5;\n",
         None, None),
        ("an out-of-range value", "'ttl' must be between 0 and 255", "",
         lambda: c.conf.update({"ttl": "300"}), lambda: c.conf.pop("ttl")),
        ("a chroot writable by others", "writable by others", "",
         lambda: os.chmod(c.chroot, 0o777), lambda: os.chmod(c.chroot, 0o755)),
        ("a missing user", "user 'no-such-user-cmem' does not exist", "",
         lambda: c.conf.update({"user": '"no-such-user-cmem"'}), lambda: c.conf.pop("user")),
        ("a missing keyring", "cannot open: No such file or directory", "",
         lambda: c.conf.update({"keyring": '"/nonexistent/cluster.keys"'}),
         lambda: c.conf.pop("keyring")),
    ]
    for what, expect, extra, prepare, undo in cases:
        with scenario("refused: " + what):
            refused(c, what, expect, extra, prepare, undo)
    c.cleanup()
    finish()


if __name__ == "__main__":
    main()
