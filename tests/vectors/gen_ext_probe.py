#!/usr/bin/env python3
"""Test vectors for the `probe` extension (doc/PROTOCOL.md, "Address validation").

An implementation independent of cmemd's C code: Python's standard hmac and
hashlib only.  Writes ext-probe.tsv beside this file:

    verdict <TAB> datagram (hex) <TAB> nonce (hex or -) <TAB> echo (hex or -) <TAB> description

The receiver's clock is 1764172800, its window 30 s, its keyring ./keyring;
every line is judged as the first from its sender.  Run it again and the
file must not change (git diff --exit-code).
"""
import hashlib
import hmac
import os

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1764172800
INC = 1764172790123456


def keyring():
    keys = {}
    with open(os.path.join(HERE, "keyring")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                kid, secret = line.split()[:2]
                keys[int(kid)] = bytes.fromhex(secret)
    return keys


def line(sender, body, key_id=1, counter=7, key=None):
    signed = "%d: [%s] %s |v1 k=%d n=%d.%d" % (NOW, sender, body, key_id, INC, counter)
    mac = hmac.new(key or keyring()[key_id], signed.encode(), hashlib.sha256).hexdigest()
    return (signed + " h=" + mac + "\n").encode()


def nonce(label):
    return hashlib.sha256(label.encode()).hexdigest()[:32]


N, E = nonce("probe nonce 1"), nonce("probe echo 1")
ROWS = [
    ("accept", line("node-a", "probe node-a n=" + N), N, "-", "probe, nonce only (a challenge)"),
    ("accept", line("node-a", "probe node-a e=" + E), "-", E, "probe, echo only (the last answer)"),
    ("accept", line("node-a", "probe node-a n=%s e=%s" % (N, E)), N, E,
     "probe, nonce and echo (an answer that challenges back)"),
    ("accept", line("node-a", "probe node-a n=%s" % N, key_id=2), N, "-", "probe, key 2"),
    ("bad_body", line("node-a", "probe node-a"), "-", "-", "probe with neither nonce nor echo"),
    ("bad_body", line("node-a", "probe node-b n=" + N), "-", "-", "probe naming another member"),
    ("bad_body", line("node-a", "probe node-a e=%s n=%s" % (E, N)), "-", "-", "echo before nonce"),
    ("bad_body", line("node-a", "probe node-a n=" + N.upper()), "-", "-", "uppercase hex"),
    ("bad_body", line("node-a", "probe node-a n=" + N[:31]), "-", "-", "31 hex digits"),
    ("bad_body", line("node-a", "probe node-a n=" + N + "0"), "-", "-", "33 hex digits"),
    ("bad_body", line("node-a", "probe node-a n=%s n=%s" % (N, N)), "-", "-", "nonce twice"),
    ("bad_body", line("node-a", "probe node-a n=%s " % N), "-", "-", "trailing space"),
    ("bad_body", line("node-a", "probe node-a  n=" + N), "-", "-", "two spaces"),
    ("bad_body", line("node-a", "probe node-a x=" + N), "-", "-", "unknown field"),
    ("bad_body", line("node-a", "probe  n=" + N), "-", "-", "no name"),
    ("bad_mac", line("node-a", "probe node-a n=" + N, key=bytes(32)), "-", "-",
     "probe signed with another secret: the MAC covers it as any line"),
]


def main():
    out = os.path.join(HERE, "ext-probe.tsv")
    with open(out, "w") as f:
        f.write("# CMem extension `probe` test vectors (doc/PROTOCOL.md, \"Address validation\"),\n")
        f.write("# made by gen_ext_probe.py (Python hmac/hashlib).  Receiver clock: %d; window: 30 s;\n" % NOW)
        f.write("# keyring: ./keyring.  Every line is judged as the first from its sender.\n")
        f.write("# verdict\tdatagram (hex)\tnonce\techo\tdescription\n")
        for verdict, dgram, n, e, desc in ROWS:
            f.write("%s\t%s\t%s\t%s\t%s\n" % (verdict, dgram.hex(), n, e, desc))


if __name__ == "__main__":
    main()
