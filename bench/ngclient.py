#!/usr/bin/env python3
"""A small client of rtpengine's ng control protocol (bencoded dictionaries
over UDP, each datagram "COOKIE SPACE BENCODE"), for bench/anchor.sh.

usage: ngclient.py [--ng IP:PORT] ping
       ngclient.py [--ng IP:PORT] setup CALLS K GEN_BASE PAIRS_FILE [TAG]
       ngclient.py [--ng IP:PORT] delete CALLS [TAG]

setup: for call c, side A is 127.0.0.2:(GEN_BASE + 2*(c % K)) and side B
127.0.0.3 on the same port (pbload --relay mode's sockets). An offer from
A and an answer from B; the ports rtpengine puts in the two rewritten SDPs
go to PAIRS_FILE as "c PORT_A_SENDS_TO PORT_B_SENDS_TO"."""
import os
import re
import socket
import sys
import time


def bencode(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"i" + str(v).encode() + b"e"
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return str(len(v)).encode() + b":" + bytes(v)
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError("cannot bencode %r" % type(v))


def bdecode(data):
    def walk(i):
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c in (b"l", b"d"):
            items, i = [], i + 1
            while data[i:i + 1] != b"e":
                x, i = walk(i)
                items.append(x)
            if c == b"l":
                return items, i + 1
            return {items[k].decode(): items[k + 1] for k in range(0, len(items), 2)}, i + 1
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1:colon + 1 + n], colon + 1 + n
    v, _ = walk(0)
    return v


class Ng:
    def __init__(self, addr):
        self.addr = addr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.seq = 0

    def call(self, cmd, timeout=1.0, tries=5):
        self.seq += 1
        cookie = ("%x.%d" % (os.getpid(), self.seq)).encode()
        msg = cookie + b" " + bencode(cmd)
        for _ in range(tries):
            self.sock.sendto(msg, self.addr)
            self.sock.settimeout(timeout)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:
                    data, _ = self.sock.recvfrom(65536)
                except socket.timeout:
                    break
                ck, _, body = data.partition(b" ")
                if ck == cookie:
                    return bdecode(body)
        raise RuntimeError("no answer to %s" % cmd.get("command"))


def sdp(ip, port, sess):
    return ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=bench\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n"
            % (sess, ip, ip, port))


def sdp_port(body):
    m = re.search(rb"^m=audio (\d+) ", body, re.M)
    c = re.search(rb"^c=IN IP4 ([0-9.]+)", body, re.M)
    if not m or not c:
        raise RuntimeError("no m=/c= line in the SDP")
    return int(m.group(1)), c.group(1).decode()


def main(argv):
    ng = ("127.0.0.1", 2223)
    if len(argv) > 2 and argv[1] == "--ng":
        h, _, p = argv[2].rpartition(":")
        ng = (h, int(p))
        argv = argv[:1] + argv[3:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Ng(ng)
    cmd = argv[1]
    if cmd == "ping":
        r = c.call({"command": "ping"}, timeout=0.5, tries=1)
        print(r.get("result", b"").decode())
        return 0 if r.get("result") == b"pong" else 1
    if cmd == "setup":
        n, k, base, path = int(argv[2]), int(argv[3]), int(argv[4]), argv[5]
        tag = argv[6] if len(argv) > 6 else "b"
        k = min(k, n)
        t0 = time.monotonic()
        with open(path, "w") as f:
            for i in range(n):
                port = base + 2 * (i % k)
                cid = "bench-%s-%d" % (tag, i)
                r = c.call({"command": "offer", "call-id": cid, "from-tag": "a%d" % i,
                            "sdp": sdp("127.0.0.2", port, i)})
                if r.get("result") != b"ok":
                    raise RuntimeError("offer %d: %r" % (i, r))
                pb, ipb = sdp_port(r["sdp"])
                r = c.call({"command": "answer", "call-id": cid, "from-tag": "a%d" % i,
                            "to-tag": "b%d" % i, "sdp": sdp("127.0.0.3", port, i)})
                if r.get("result") != b"ok":
                    raise RuntimeError("answer %d: %r" % (i, r))
                pa, ipa = sdp_port(r["sdp"])
                if ipa != "127.0.0.1" or ipb != "127.0.0.1":
                    raise RuntimeError("relay address %s/%s, want 127.0.0.1" % (ipa, ipb))
                f.write("%d %d %d\n" % (i, pa, pb))
        print("ngclient: %d calls set up in %.2f s" % (n, time.monotonic() - t0), file=sys.stderr)
        return 0
    if cmd == "delete":
        n = int(argv[2])
        tag = argv[3] if len(argv) > 3 else "b"
        for i in range(n):
            c.call({"command": "delete", "call-id": "bench-%s-%d" % (tag, i),
                    "from-tag": "a%d" % i})
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
