#!/usr/bin/env python3
"""System test: live key rotation with no lost member.

A 3-host cluster rotates from key 1 to key 2 under traffic through the
control socket (keys install, keys use, keys remove), following the
README's procedure, with no failed or left event on any member; afterwards
a host still signing with the removed key is not admitted and its lines
are counted as unknown_key.
"""
import os
import time

from cmemnet import FAIL_AFTER_S, Cluster, Watch, check, finish, need, need_root, scenario, wait_until, write_keyring


def keys(h, *args):
    r = h.ctl("keys", *args)
    check(r.returncode == 0, "%s: cmemctl keys %s: %s" % (h.name, " ".join(args), r.stderr))
    return r.stdout


def rotate(c):
    with open(c.keyring) as f:
        k1 = [l.split()[1] for l in f if l[0].isdigit()][0]
    k2 = os.urandom(32).hex()
    ring12 = write_keyring(os.path.join(c.dir, "ring12.keys"), ((1, k1, True), (2, k2, False)))
    members = c.hosts[:3]
    for h in members:
        h.start()
    check(wait_until(lambda: c.converged(members), 5), "no convergence")
    watches = [Watch(h) for h in members]
    t0 = time.monotonic()

    for h in members:  # 1. install the new key everywhere
        keys(h, "install", ring12)
    for h in members:  # 2. make it primary everywhere
        keys(h, "use", "2")
    # 3. watch `keys list` until every peer is seen on it
    on_new = wait_until(lambda: all(not h.query("keys", "list")["peers_not_on_primary"] for h in members), 5)
    check(on_new, "peers did not all move to key 2: %s" % [h.query("keys", "list") for h in members])
    for h in members:  # 4. remove the old key
        keys(h, "remove", "1")
    took = time.monotonic() - t0
    time.sleep(2 * FAIL_AFTER_S)  # longer than a failure timeout: a member lost on the way would show
    bad = c.events_since(watches, t0)
    check(not bad, "rotation lost members: %s" % bad)
    check(c.converged(members), "not converged after rotation")
    for h in members:
        ks = h.query("keys", "list")["keys"]
        check([k["id"] for k in ks] == [2] and ks[0]["primary"], "%s keys: %s" % (h.name, ks))
        check(ks[0]["accepted"] > 0, "%s accepted nothing on key 2" % h.name)
    print("rotation: 3 members moved from key 1 to key 2 in %.3f s under traffic, "
          "0 failed/left/restart events" % took)
    return watches


def old_key_stays_out(c, watches):
    """a host still signing with the removed key is never admitted"""
    old, members = c.hosts[3], c.hosts[:3]
    before = sum(h.query("stats")["dropped"]["unknown_key"] for h in members)
    old.start()
    # it sends on: wait until its lines were counted, then it had its chance to be admitted
    wait_until(lambda: sum(h.query("stats")["dropped"]["unknown_key"] for h in members) - before > 20, 10)
    after = sum(h.query("stats")["dropped"]["unknown_key"] for h in members)
    for h in members:
        st = h.states()
        check(st.get(old.name) in (None,), "%s admitted the old-key host: %s" % (h.name, st))
    check(after - before > 20, "unknown_key not counted (%d)" % (after - before))
    print("old key: a host signing with removed key 1 stayed out; %d lines counted as unknown_key"
          % (after - before))
    for w in watches:
        w.stop()


def main():
    need_root()
    c = Cluster(4)
    watches = None
    with scenario("rotate-1-to-2"):
        watches = rotate(c)
    with scenario("old-key-stays-out"):
        old_key_stays_out(c, need(watches, "rotate-1-to-2"))
    c.cleanup()
    finish()


if __name__ == "__main__":
    main()
