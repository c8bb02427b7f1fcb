#!/bin/bash
# How a registered contact is reached:
# - UDP: with keepalive_interval = 1 the contact's source port gets
#   CRLF keep-alives ("\r\n\r\n") about every second.
# - TCP: a client registers over a TCP connection with a Contact whose
#   port nobody listens on; the PSTN call's INVITE must come back over
#   that same connection (Request-URI the Contact); the client answers 486
#   and the PSTN side is released with cause 17.
. "$(dirname "$0")/lib.sh"

{
	it_config | sed -e 's#^trusted = .*#&\nauth_algorithms = MD5\nkeepalive_interval = 1#'
	cat <<EOF2

[user alice]
password = secret
number = 2001
EOF2
} > "$CONF"
it_start_daemon

# UDP keep-alives.
it_register reg "$SIPP1" alice secret 2001 300 200 || fail "alice could not register"
n=$(python3 - "$SIPP1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
end, n = time.time() + 3.5, 0
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        d, _ = s.recvfrom(65535)
    except socket.timeout:
        break
    if d == b"\r\n\r\n":
        n += 1
print(n)
PY
)
it_log "keep-alives received in 3.5 s: $n"
[ "$n" -ge 2 ] && [ "$n" -le 5 ] || fail "$n keep-alives in 3.5 s with keepalive_interval = 1"

it_register unreg "$SIPP1" alice secret 2001 0 200 || fail "unregister refused"

# The TCP flow.
python3 - "$SIPPORT" "$T/flow.ready" > "$T/flow.out" 2>&1 <<'PY' &
import hashlib, re, socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=15)
lp = s.getsockname()[1]
buf = b""
def recv_msg():
    global buf
    while True:
        if b"\r\n\r\n" in buf:
            h, rest = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", h)
            cl = int(m.group(1)) if m else 0
            if len(rest) >= cl:
                buf = rest[cl:]
                return h.decode() + "\r\n\r\n" + rest[:cl].decode()
        d = s.recv(65535)
        if not d:
            sys.exit("connection closed")
        buf += d
        buf = buf.lstrip(b"\r\n")
def hdr(msg, name):
    m = re.search(r"(?im)^" + name + r"\s*:\s*(.*?)\r?$", msg)
    return m.group(1).strip() if m else None
def md5(x):
    return hashlib.md5(x.encode()).hexdigest()
contact = "<sip:2001@127.0.0.1:9;transport=tcp>"
ruri = "sip:127.0.0.1:%d;transport=tcp" % port
def register(cseq, auth):
    s.sendall(("REGISTER %s SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKflow%d;rport\r\n"
        "From: <sip:2001@127.0.0.1>;tag=flow1\r\nTo: <sip:2001@127.0.0.1>\r\n"
        "Call-ID: flow-reg@127.0.0.1\r\nCSeq: %d REGISTER\r\nContact: %s\r\n"
        "Expires: 300\r\nMax-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n"
        % (ruri, lp, cseq, cseq, contact, auth)).encode())
    while True:
        r = recv_msg()
        if not r.startswith("SIP/2.0 100"):
            return r
r = register(1, "")
assert r.startswith("SIP/2.0 401"), r
ch = hdr(r, "WWW-Authenticate")
nonce = re.search(r'nonce="([^"]+)"', ch).group(1)
ha1 = md5("alice:pstnbridge:secret")
ha2 = md5("REGISTER:" + ruri)
resp = md5(":".join([ha1, nonce, "00000001", "c0ffee", "auth", ha2]))
auth = ('Authorization: Digest username="alice", realm="pstnbridge", nonce="%s", uri="%s", '
        'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"\r\n'
        % (nonce, ruri, resp))
r = register(2, auth)
assert r.startswith("SIP/2.0 200"), r
print("registered over tcp from port", lp)
open(ready, "w").close()
inv = recv_msg()
while not inv.startswith("INVITE "):
    inv = recv_msg()
line = inv.split("\r\n", 1)[0]
print("got:", line)
assert line.startswith("INVITE sip:2001@127.0.0.1:9;transport=tcp "), line
resp = "SIP/2.0 486 Busy Here\r\n"
for v in re.findall(r"(?im)^Via\s*:\s*(.*?)\r?$", inv):
    resp += "Via: %s\r\n" % v
resp += "From: %s\r\nTo: %s;tag=flowuas\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n" % (
    hdr(inv, "From"), hdr(inv, "To"), hdr(inv, "Call-ID"), hdr(inv, "CSeq"))
s.sendall(resp.encode())
ack = recv_msg()
assert ack.startswith("ACK "), ack
print("ACK received on the same connection")
PY
FP=$!
IT_BG+=("$FP")
for i in $(seq 50); do
	[ -e "$T/flow.ready" ] && break
	it_alive "$FP" || break
	sleep 0.1
done
[ -e "$T/flow.ready" ] || fail "TCP registration failed: $(cat "$T/flow.out")"
ctl registrations | grep -qF "contact=sip:2001@127.0.0.1:9;transport=tcp via=tcp" ||
	fail "TCP registration not listed: $(ctl registrations)"
n0=$(it_log_lines)
ctl sim call sim1 2001 5551234 0 5 || fail "pstnbridgectl sim call failed"
wait "$FP" || fail "the INVITE did not come over the registration's connection: $(cat "$T/flow.out")"
cat "$T/flow.out" | sed 's/^/  client: /'
it_wait_log "released cause 17" 5 "$n0" || fail "the PSTN side was not released with cause 17 (busy)"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
