#!/bin/bash
# Digest with SHA-256 (RFC 8760), which sipp 3.6 cannot do, by a small
# Python UAC from 127.0.0.2 (not trusted), with the default
# [sip] auth_algorithms:
#  - the 401 carries two challenges, SHA-256 first, MD5 second, one nonce;
#  - a SHA-256 response (qop=auth, nc=1) is accepted: the call to the busy
#    number 102 is routed and ends with 486;
#  - the same credentials again (nc=1, a new transaction) are a replay: 403,
#    logged reason=nonce-replay;
#  - an MD5 response on the same nonce with nc=2 is accepted (486).
. "$(dirname "$0")/lib.sh"

sec_config() {
	it_config | sed 's#^trusted = .*#trusted = 127.0.0.1/32#'
	cat <<EOT

[user alice]
password = secret
number = 5550100
EOT
}
sec_config > "$CONF"
it_start_daemon

cat > "$T/uac.py" <<'EOPY'
import hashlib, re, socket, sys

daemon = ("127.0.0.1", int(sys.argv[1]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", int(sys.argv[2])))
s.settimeout(5)
lport = s.getsockname()[1]
uri = "sip:102@127.0.0.1:%d" % daemon[1]
sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
       "m=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n" % int(sys.argv[3]))
n = [0]

def invite(cseq, auth=""):
    n[0] += 1
    branch = "z9hG4bKsha%d" % n[0]
    msg = ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:%d;branch=%s;rport\r\n"
           "From: <sip:5550100@127.0.0.2>;tag=t%d\r\nTo: <%s>\r\nCall-ID: sha%d@t\r\n"
           "CSeq: %d INVITE\r\nContact: <sip:5550100@127.0.0.2:%d>\r\nMax-Forwards: 70\r\n"
           "%sContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
           % (uri, lport, branch, n[0], uri, n[0], cseq, lport, auth, len(sdp), sdp))
    s.sendto(msg.encode(), daemon)
    while True:
        data = s.recv(65535).decode(errors="replace")
        m = re.match(r"SIP/2.0 (\d+)", data)
        if not m or ("branch=%s" % branch) not in data:
            continue
        code = int(m.group(1))
        if code >= 200:
            break
    to = re.search(r"^To: (.*)$", data, re.M).group(1).strip()
    ack = ("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:%d;branch=%s;rport\r\n"
           "From: <sip:5550100@127.0.0.2>;tag=t%d\r\nTo: %s\r\nCall-ID: sha%d@t\r\n"
           "CSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
           % (uri, lport, branch, n[0], to, n[0], cseq))
    s.sendto(ack.encode(), daemon)
    return code, data

def H(alg, x):
    return hashlib.new("sha256" if alg == "SHA-256" else "md5", x.encode()).hexdigest()

def authz(alg, nonce, nc):
    ha1 = H(alg, "alice:pstnbridge:secret")
    ha2 = H(alg, "INVITE:" + uri)
    resp = H(alg, "%s:%s:%s:c0ffee:auth:%s" % (ha1, nonce, nc, ha2))
    return ('Authorization: Digest username="alice", realm="pstnbridge", nonce="%s", '
            'uri="%s", response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="c0ffee"\r\n'
            % (nonce, uri, resp, alg, nc))

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)

code, r = invite(1)
check(code == 401, "no credentials: 401 (got %d)" % code)
ch = re.findall(r"^WWW-Authenticate: (.*)$", r, re.M)
check(len(ch) == 2, "two challenges")
check("algorithm=SHA-256" in ch[0] and "algorithm=MD5" in ch[1], "SHA-256 first, MD5 second")
nonces = [re.search(r'nonce="([^"]+)"', c).group(1) for c in ch]
check(nonces[0] == nonces[1] and 'qop="auth"' in ch[0], "one nonce, qop=auth")
nonce = nonces[0]
code, _ = invite(2, authz("SHA-256", nonce, "00000001"))
check(code == 486, "SHA-256 accepted: routed to the busy number, 486 (got %d)" % code)
code, _ = invite(3, authz("SHA-256", nonce, "00000001"))
check(code == 403, "the same nonce count again: 403 (got %d)" % code)
code, _ = invite(4, authz("MD5", nonce, "00000002"))
check(code == 486, "MD5 with the next nonce count: 486 (got %d)" % code)
EOPY
python3 "$T/uac.py" "$SIPPORT" "$SIPP1" "$MEDIA1" || fail "the SHA-256 digest checks failed"
grep -q 'auth failure from 127.0.0.2:[0-9]* user="alice" reason=nonce-replay' "$DLOG" ||
	fail "the replay was not logged"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_daemon_alive
it_stop_daemon
it_log "PASS"
