#!/usr/bin/env python3
"""System test: `cmem-inject members`, the crowd the benchmarks use.

A real daemon admits every member the tool plays, sees each of them send
(lines per member counted by the daemon), and sees them leave with
--leave; the usage errors are refused with exit 2 and a message.
"""
import os
import subprocess

from cmemnet import BUILD, Cluster, check, finish, need_root, scenario, wait_until

INJECT = os.path.join(BUILD, "cmem-inject")
COUNT = 300
INTERVAL_MS = 100
SECONDS = 3


def usage_errors(c):
    cases = [
        (["members", "--count", "5", "--group", c.group], "needs --keyring and --count"),
        (["members", "--keyring", c.keyring, "--group", c.group], "needs --keyring and --count"),
        (["members", "--keyring", c.keyring, "--count", "10", "--prefix", "p" * 62,
          "--group", c.group], "would be longer than 64"),
        (["members", "--keyring", c.keyring, "--count", "0", "--group", c.group], "--count"),
        (["members", "--keyring", c.keyring, "--count", "5", "--interval-ms", "0",
          "--group", c.group], "--interval-ms"),
        (["members", "--keyring", c.keyring, "--count", "5", "--group", "10.0.0.1"],
         "not a multicast address"),
    ]
    for argv, want in cases:
        r = subprocess.run([INJECT] + argv, capture_output=True, text=True)
        check(r.returncode == 2 and want in r.stderr,
              "%s: exit %d, stderr %r (wanted 2 and %r)" % (" ".join(argv), r.returncode,
                                                           r.stderr, want))
    print("usage: %d bad command lines refused with exit 2 and a message" % len(cases))


def counts(h):
    try:
        return h.query("status")["members"]
    except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired):
        return {}


def crowd(c):
    daemon, player = c.hosts
    daemon.start()
    argv = ["ip", "netns", "exec", player.ns, INJECT, "members", "--keyring", c.keyring,
            "--count", str(COUNT), "--interval-ms", str(INTERVAL_MS), "--seconds", str(SECONDS),
            "--prefix", "crowd", "--leave", "--group", c.group, "--interface", "eth0"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    c.procs.append(p)
    check(wait_until(lambda: counts(daemon).get("alive") == COUNT + 1, SECONDS),
          "not all %d members alive during the run: %s" % (COUNT, counts(daemon)))
    members = {m["name"]: m for m in daemon.query("members")["members"]}
    out, _ = p.communicate(timeout=30)
    check(p.returncode == 0, "cmem-inject members exited %d: %s" % (p.returncode, out))
    rounds = SECONDS * 1000 // INTERVAL_MS
    check("sent %d lines" % (COUNT * rounds) in out and "0 refused" in out,
          "summary does not say %d lines sent: %s" % (COUNT * rounds, out))
    names = {"crowd-%d" % i for i in range(1, COUNT + 1)}
    check(names <= set(members), "members missing: %s" % sorted(names - set(members))[:5])
    left = wait_until(lambda: counts(daemon).get("left") == COUNT and counts(daemon), 5)
    check(left, "after --leave: %s, wanted %d left" % (counts(daemon), COUNT))
    final = {m["name"]: m for m in daemon.query("members")["members"]}
    short = [n for n in names if final[n]["lines"] < rounds]
    check(not short, "members with fewer than %d lines: %s" % (rounds, short[:5]))
    print("members: %d members played by cmem-inject for %d s, all admitted; every one sent "
          "%d+ lines and left" % (COUNT, SECONDS, rounds))


def main():
    need_root()
    c = Cluster(2, conf={"max_members": str(COUNT + 50)})
    with scenario("usage-errors"):
        usage_errors(c)
    with scenario("members-crowd"):
        crowd(c)
    c.cleanup()
    finish()


if __name__ == "__main__":
    main()
