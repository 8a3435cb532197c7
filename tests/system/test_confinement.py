#!/usr/bin/env python3
"""System test: process hardening and refusals at start.

A daemon started as root runs with Uid/Gid not 0, CapEff 0, NoNewPrivs 1,
Seccomp 2 (the allow-list; 0 with `seccomp = false`), /proc/PID/root at its
chroot, no descriptor open to the keyring or the configuration, none
inherited from its parent, and only a read-only one to its pidfile; on a
fresh, empty /run it creates /run/cmem (root, 0755).  A config error, a
group-readable keyring, a chroot writable by others, a missing user, a
run-as user with uid 0, chroot = "" as root, a missing control_group
(also with -n) and a second instance are refused with clear messages.
"""
import os
import re
import signal
import subprocess

from cmemnet import CMEMCTL, CMEMD, Cluster, check, finish, need_root, scenario, wait_until


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
    check(st["Seccomp"] == ["2"], "Seccomp %s: no system call filter" % st["Seccomp"])
    check(st.get("Seccomp_filters", ["1"]) == ["1"], "Seccomp_filters %s" % st.get("Seccomp_filters"))
    root = os.readlink("/proc/%d/root" % h.pid)
    check(root == c.chroot, "/proc/PID/root is %s, not %s" % (root, c.chroot))
    fds = [os.readlink("/proc/%d/fd/%s" % (h.pid, fd)) for fd in os.listdir("/proc/%d/fd" % h.pid)]
    check(not any(c.keyring in f or h.conf in f for f in fds), "open descriptors: %s" % fds)
    status = h.query("status")["confinement"]
    check(status["uid"] != 0 and status["no_new_privs"] and status["chroot"] == c.chroot,
          "status confinement: %s" % status)
    print("confinement: uid %s gid %s CapEff %s NoNewPrivs %s Seccomp %s root %s; %d fds, none to "
          "key or config" % (st["Uid"][0], st["Gid"][0], st["CapEff"][0], st["NoNewPrivs"][0],
                             st["Seccomp"][0], root, len(fds)))
    pidfile_read_only(h)
    signals_under_filter(c, h)
    # a second daemon with the same pidfile is refused, naming the holder
    r = subprocess.run(["ip", "netns", "exec", h.ns, CMEMD, "-f", "-c", h.conf],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode != 0 and ("already running as pid %d" % h.pid in r.stderr or
                                 "another cmemd answers" in r.stderr),
          "second instance: rc %d: %s" % (r.returncode, r.stderr))
    print("second instance refused: " + r.stderr.strip().splitlines()[-1])


def pidfile_read_only(h):
    """The one descriptor kept to the pidfile holds the lock and cannot write."""
    pidfile = os.path.join(h.dir, "cmemd.pid")
    with open(pidfile) as f:
        check(f.read() == "%d\n" % h.pid, "pidfile does not hold pid %d" % h.pid)
    kept = []
    for fd in os.listdir("/proc/%d/fd" % h.pid):
        if os.readlink("/proc/%d/fd/%s" % (h.pid, fd)) == pidfile:
            with open("/proc/%d/fdinfo/%s" % (h.pid, fd)) as f:
                flags = int(dict(l.split(":", 1) for l in f.read().splitlines())["flags"], 8)
            kept.append((fd, flags))
    check(len(kept) == 1, "descriptors to the pidfile: %s" % kept)
    check(kept[0][1] & 3 == os.O_RDONLY, "pidfile fd %s has flags %o: writable" % kept[0])
    r = subprocess.run(["flock", "-n", "-s", pidfile, "true"], capture_output=True)
    check(r.returncode != 0, "the pidfile is not locked")
    print("pidfile: fd %s read-only (flags %o), locked, holds the pid" % kept[0])


def signals_under_filter(c, h):
    """SIGHUP (re-reading the file) and SIGUSR1 work under the system call filter."""
    inside = c.chroot + h.conf  # the configuration's path, seen from inside the chroot
    os.makedirs(os.path.dirname(inside))
    with open(inside, "w") as f:
        f.write(h.config_text().replace('log_level = "%s"' % c.log_level, 'log_level = "debug"'))
    h.kill(signal.SIGHUP)
    check(wait_until(lambda: "SIGHUP: log level is now debug" in h.read_log(), 3),
          "SIGHUP did not re-read the copy in the chroot: %s" % h.read_log()[-800:])
    os.remove(inside)
    h.kill(signal.SIGHUP)
    check(wait_until(lambda: "SIGHUP: cannot re-read the log level" in h.read_log(), 3),
          "SIGHUP without a file: %s" % h.read_log()[-800:])
    h.kill(signal.SIGUSR1)
    check(wait_until(lambda: "membership of %s" % h.name in h.read_log(), 3),
          "SIGUSR1: %s" % h.read_log()[-800:])
    check(h.running() and h.ctl_ok("status"), "daemon gone after HUP/USR1: %s" % h.read_log()[-800:])
    print("under the filter: SIGHUP re-read the file (and said so when it was gone), SIGUSR1 "
          "logged the table; still running")


def start_with(h, argv=None, conf_text=None, **popen):
    """Start h's daemon (argv: the command run in its namespace) and wait for its control socket."""
    with open(h.conf, "w") as f:
        f.write(conf_text if conf_text is not None else h.config_text())
    logf = open(h.log, "a")
    h.proc = subprocess.Popen(["ip", "netns", "exec", h.ns] + (argv or [CMEMD, "-f", "-c", h.conf]),
                              stdout=logf, stderr=logf, **popen)
    logf.close()
    h.cluster.procs.append(h.proc)


def stop(h):
    h.kill(signal.SIGTERM)
    check(h.wait_exit(5) == 0, "%s did not exit 0 on TERM" % h.name)


def inherited_fds_closed(c):
    h = c.hosts[1]
    leak = os.path.join(c.dir, "inherited-secret")
    with open(leak, "w") as f:
        f.write("not for the daemon\n")
    fd = os.open(leak, os.O_RDONLY)
    try:
        start_with(h, pass_fds=(fd,))
    finally:
        os.close(fd)
    ok = wait_until(lambda: h.proc.poll() is not None or h.ctl_ok("status"), 5)
    check(ok and h.proc.poll() is None, "daemon did not start: %s" % h.read_log()[-1500:])
    fds = [os.readlink("/proc/%d/fd/%s" % (h.pid, n)) for n in os.listdir("/proc/%d/fd" % h.pid)]
    check(leak not in fds, "inherited descriptor %d still open: %s" % (fd, fds))
    print("inherited descriptor %d (%s) closed at start; %d fds open" % (fd, leak, len(fds)))
    stop(h)


def seccomp_off(c):
    h = c.hosts[1]
    start_with(h, conf_text=h.config_text("seccomp = false;\n"))
    ok = wait_until(lambda: h.proc.poll() is not None or h.ctl_ok("status"), 5)
    check(ok and h.proc.poll() is None, "daemon did not start: %s" % h.read_log()[-1500:])
    st = proc_status(h.pid)
    check(st["Seccomp"] == ["0"], "seccomp = false, yet Seccomp %s" % st["Seccomp"])
    check("running without a system call filter" in h.read_log(), "seccomp = false not logged")
    print("seccomp = false: Seccomp 0, said in the log")
    stop(h)


def fresh_run(c):
    """Default pidfile and control socket paths on an empty /run (a tmpfs of our own)."""
    h = c.hosts[1]
    text = "".join(l for l in h.config_text().splitlines(True)
                   if not l.startswith(("pidfile", "control_socket")))
    shell = "mount -t tmpfs -o mode=0755 cmem-test-run /run && exec %s -f -c %s" % (CMEMD, h.conf)
    start_with(h, argv=["unshare", "-m", "sh", "-c", shell], conf_text=text)

    def in_ns(*argv):
        return subprocess.run(["nsenter", "-t", str(h.pid), "-m", "-n"] + list(argv),
                              capture_output=True, text=True, timeout=5)

    ok = wait_until(lambda: h.proc.poll() is not None or
                    in_ns(CMEMCTL, "-s", "/run/cmem/cmemd.sock", "status").returncode == 0, 5)
    check(ok and h.proc.poll() is None, "no daemon on a fresh /run: %s" % h.read_log()[-1500:])
    r = in_ns("stat", "-c", "%u %g %a", "/run/cmem")
    check(r.stdout.split() == ["0", "0", "755"], "/run/cmem is %r, not root 0755" % r.stdout)
    r = in_ns("cat", "/run/cmem/cmemd.pid")
    check(r.stdout.strip() == str(h.pid), "pidfile on the fresh /run: %r" % r.stdout)
    print("fresh /run: /run/cmem created (uid 0, gid 0, mode 755), pidfile and socket in it")
    stop(h)


def refused(c, what, expect, conf_extra="", prepare=None, undo=None, args=("-f",)):
    h = c.hosts[1]
    if prepare:
        prepare()
    with open(h.conf, "w") as f:
        f.write(h.config_text(conf_extra))
    try:
        r = subprocess.run(["ip", "netns", "exec", h.ns, CMEMD] + list(args) + ["-c", h.conf],
                           capture_output=True, text=True, timeout=10)
    finally:
        if undo:  # the next scenario starts from the good configuration
            undo()
    check(r.returncode != 0, "%s: daemon started (rc %d)" % (what, r.returncode))
    check(expect in r.stderr, "%s: message %r lacks %r" % (what, r.stderr, expect))
    print("refused %s: %s" % (what, r.stderr.strip().splitlines()[-1]))


def one_version():
    """cmemd, cmemctl and cmem-keygen print the one CMEM_VERSION of src/lib/version.h."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "src", "lib", "version.h")) as f:
        want = re.search(r'#define CMEM_VERSION "([^"]+)"', f.read()).group(1)
    for prog in (CMEMD, CMEMCTL, os.path.join(os.path.dirname(CMEMD), "cmem-keygen")):
        r = subprocess.run([prog, "-V"], capture_output=True, text=True, timeout=5)
        name = os.path.basename(prog)
        check(r.returncode == 0 and r.stdout == "%s %s\n" % (name, want),
              "%s -V: %r, want %s" % (name, r.stdout, want))
    print("version: cmemd, cmemctl and cmem-keygen -V all say %s" % want)


def check_good_file(c):
    h = c.hosts[1]
    with open(h.conf, "w") as f:
        f.write(h.config_text())
    r = subprocess.run(["ip", "netns", "exec", h.ns, CMEMD, "-n", "-c", h.conf],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and r.stdout == "configuration OK\n", "-n on a good file: %r" % (r,))


def main():
    with scenario("one version"):
        one_version()
    need_root()
    c = Cluster(2)
    for name, fn in (("confined", confined), ("inherited fds closed", inherited_fds_closed),
                     ("seccomp off", seccomp_off), ("fresh /run", fresh_run),
                     ("-n on a good file", check_good_file)):
        with scenario(name):
            fn(c)
    cases = [
        ("a group-readable keyring", "permissions 0640 are too open", "",
         lambda: os.chmod(c.keyring, 0o640), lambda: os.chmod(c.keyring, 0o600), ()),
        ("an unknown option", "cmemd.conf:12: unknown option 'heartbeat'", "heartbeat = 5;\n",
         None, None, ()),
        ("an out-of-range value", "'ttl' must be between 0 and 255", "",
         lambda: c.conf.update({"ttl": "300"}), lambda: c.conf.pop("ttl"), ()),
        ("a chroot writable by others", "writable by others", "",
         lambda: os.chmod(c.chroot, 0o777), lambda: os.chmod(c.chroot, 0o755), ()),
        ("a missing user", "user 'no-such-user-cmem' does not exist", "",
         lambda: c.conf.update({"user": '"no-such-user-cmem"'}), lambda: c.conf.pop("user"), ()),
        ("a run-as user with uid 0", "user 'root' has uid 0 in /etc/passwd", "",
         lambda: c.conf.update({"user": '"root"'}), lambda: c.conf.pop("user"), ()),
        ('chroot = "" as root', 'chroot = "" is only for a daemon started as an ordinary user', "",
         lambda: c.conf.update({"chroot": '""'}), lambda: c.conf.pop("chroot"), ()),
        ("a missing keyring", "cannot open: No such file or directory", "",
         lambda: c.conf.update({"keyring": '"/nonexistent/cluster.keys"'}),
         lambda: c.conf.pop("keyring"), ()),
    ] + [("a missing control_group (%s)" % a, "control_group 'no-such-group-cmem' does not exist "
          "in /etc/group", "", lambda: c.conf.update({"control_group": '"no-such-group-cmem"'}),
          lambda: c.conf.pop("control_group"), (a,)) for a in ("-n", "-f")]
    for what, expect, extra, prepare, undo, args in cases:
        with scenario("refused: " + what):
            refused(c, what, expect, extra, prepare, undo, **({"args": args} if args else {}))
    c.cleanup()
    finish()


if __name__ == "__main__":
    main()
