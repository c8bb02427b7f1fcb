#!/usr/bin/env python3
"""Checks of the in-dialog tests (t_dlg_*.sh) on a capture of lo that holds
both the SIP of the daemon's port and the RTP (standard library only; the
pcap, RTP and audio helpers come from ittool.py).

Subcommands (each prints its numbers as JSON, then FAIL lines; exit 1 on a
failed check):
  hold PCAP --port P --sip-port S
        the 200 of the re-INVITE with CSeq 2 (hold) and 3 (resume): between
        them the daemon sends (almost) no RTP to P; after the resume its RTP
        to P comes back and echoes what sipp sent
  move PCAP --port P --new-port Q --sip-port S
        after the 200 of the re-INVITE with CSeq 2 the daemon's RTP goes to
        Q (and no more to P), and echoes what sipp sends from P
  dtmf PCAP --port P --digit D
        the RTP the daemon sent to P holds the two tones of digit D in at
        least --min-frames frames
  options --port S
        send an OPTIONS over UDP to 127.0.0.1:S and print the whole
        responses that come within --wait seconds
  tls --port S --ca CA [--cert C --key K] [--call N --media M]
        over TLS to 127.0.0.1:S (the server's certificate checked against
        CA; C/K as client certificate): OPTIONS must get 200; with --call,
        INVITE N (PCMA on port M), 200, ACK, BYE, 200. Prints one line per
        step; exit 2 when the handshake fails, 1 when a step fails
"""
import argparse
import json
import os
import re
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ittool  # noqa: E402

DTMF = {
	"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
	"4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
	"7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
	"*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}


def load(pcap, port, sip_port=None):
	"""(sip, tx, rx): SIP messages (t, first line, cseq, text) to or from
	sip_port; RTP sipp sent from port (t, payload, dport); RTP the daemon
	sent (t, payload, sport, dport) to any port but sip_port."""
	sip, tx, rx = [], [], []
	for t, src, sport, dst, dport, u in ittool.read_pcap(pcap):
		if sip_port is not None and sip_port in (sport, dport):
			text = u.decode(errors="replace")
			m = re.search(r"^CSeq:\s*(\d+ \w+)", text, re.M | re.I)
			sip.append((t, text.split("\r\n", 1)[0], m.group(1) if m else "", text))
			continue
		r = ittool.rtp_payload(u)
		if r is None:
			continue
		if sport == port:
			tx.append((t, r[3], dport))
		else:
			rx.append((t, r[3], sport, dport))
	return sip, tx, rx


def response_time(sip, status, cseq):
	for t, line, cs, _ in sip:
		if line.startswith("SIP/2.0 %d" % status) and cs == cseq:
			return t
	return None


def echo_count(pkts, tx):
	sent = {p for _, p, _ in tx}
	allb = b"".join(p for _, p, _ in tx)
	n = 0
	for x in pkts:
		p = x[1]
		if len(set(p)) <= 2:
			continue
		if p in sent or (len(p) >= 40 and p in allb):
			n += 1
	return n


def report(st, fails):
	print(json.dumps(st, sort_keys=True))
	for f in fails:
		print("FAIL: " + f)
	sys.exit(1 if fails else 0)


def cmd_hold(a):
	sip, tx, rx = load(a.pcap, a.port, a.sip_port)
	t_hold = response_time(sip, 200, "2 INVITE")
	t_res = response_time(sip, 200, "3 INVITE")
	fails = []
	if t_hold is None or t_res is None:
		report({"hold": t_hold, "resume": t_res}, ["no 200 for the hold or resume re-INVITE"])
	to_p = [x for x in rx if x[3] == a.port]
	held = [x for x in to_p if t_hold + 0.3 <= x[0] <= t_res]
	after = [x for x in to_p if x[0] >= t_res + 0.5]
	st = {"hold_at": round(t_hold, 3), "resume_at": round(t_res, 3),
	      "held_s": round(t_res - t_hold, 2), "rx_while_held": len(held),
	      "rx_after_resume": len(after), "echo_after_resume": echo_count(after, tx)}
	if len(held) > a.max_held:
		fails.append("the daemon sent %d RTP packets while held (recvonly), want <= %d"
		             % (len(held), a.max_held))
	if len(after) < a.min_rx:
		fails.append("%d RTP packets after the resume, want >= %d" % (len(after), a.min_rx))
	if st["echo_after_resume"] < a.min_echo:
		fails.append("%d echoed packets after the resume, want >= %d"
		             % (st["echo_after_resume"], a.min_echo))
	report(st, fails)


def cmd_move(a):
	sip, tx, rx = load(a.pcap, a.port, a.sip_port)
	t = response_time(sip, 200, "2 INVITE")
	if t is None:
		report({}, ["no 200 for the re-INVITE"])
	to_new = [x for x in rx if x[3] == a.new_port and x[0] >= t]
	to_old = [x for x in rx if x[3] == a.port and x[0] >= t + 0.5]
	before = [x for x in rx if x[3] == a.port and x[0] < t]
	st = {"moved_at": round(t, 3), "rx_old_before": len(before), "rx_new_after": len(to_new),
	      "rx_old_after": len(to_old), "echo_new": echo_count(to_new, tx),
	      "echo_old_before": echo_count(before, tx)}
	fails = []
	if st["echo_old_before"] < a.min_echo:
		fails.append("%d echoed packets on the first port, want >= %d"
		             % (st["echo_old_before"], a.min_echo))
	if st["echo_new"] < a.min_echo:
		fails.append("%d echoed packets to the new port %d, want >= %d"
		             % (st["echo_new"], a.new_port, a.min_echo))
	if len(to_old) > a.max_old:
		fails.append("%d packets still went to the old port, want <= %d"
		             % (len(to_old), a.max_old))
	report(st, fails)


def cmd_dtmf(a):
	_, _, rx = load(a.pcap, a.port, a.sip_port)
	lo, hi = DTMF[a.digit.upper()]
	others = sorted({f for v in DTMF.values() for f in v} - {lo, hi})
	frames = 0
	first = None
	for t, p, _, dport in rx:
		if dport != a.port:
			continue
		s = [ittool.ALAW_DEC[c] for c in p]
		r1 = ittool.goertzel_ratio(s, lo)
		r2 = ittool.goertzel_ratio(s, hi)
		ro = max(ittool.goertzel_ratio(s, f) for f in others)
		if r1 >= 0.2 and r2 >= 0.2 and r1 + r2 >= 0.7 and ro < 0.1:
			frames += 1
			if first is None:
				first = t
	st = {"digit": a.digit, "freqs": [lo, hi], "frames": frames,
	      "first": round(first, 3) if first else None}
	fails = []
	if frames < a.min_frames:
		fails.append("digit %s heard in %d frames of the daemon's RTP, want >= %d"
		             % (a.digit, frames, a.min_frames))
	if a.max_frames is not None and frames > a.max_frames:
		fails.append("digit %s heard in %d frames, want <= %d" % (a.digit, frames, a.max_frames))
	report(st, fails)


def cmd_options(a):
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 0))
	port = s.getsockname()[1]
	msg = ("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\n"
	       "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdlg%d;rport\r\n"
	       "From: <sip:probe@127.0.0.1:%d>;tag=dlg%d\r\n"
	       "To: <sip:ping@127.0.0.1:%d>\r\n"
	       "Call-ID: dlg-options-%d-%d@127.0.0.1\r\n"
	       "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	       % (a.port, port, os.getpid(), port, os.getpid(), a.port, os.getpid(), int(time.time())))
	s.sendto(msg.encode(), ("127.0.0.1", a.port))
	end = time.time() + a.wait
	while True:
		left = end - time.time()
		if left <= 0:
			break
		s.settimeout(left)
		try:
			d, _ = s.recvfrom(65535)
		except socket.timeout:
			break
		sys.stdout.write(d.decode(errors="replace").replace("\r\n", "\n"))
		sys.stdout.flush()
	s.close()


class SipStream:
	"""SIP messages over a TLS connection, framed by Content-Length."""

	def __init__(self, sock):
		self.s = sock
		self.buf = b""

	def send(self, text):
		self.s.sendall(text.replace("\n", "\r\n").encode())

	def recv(self, timeout):
		end = time.time() + timeout
		while True:
			i = self.buf.find(b"\r\n\r\n")
			if i >= 0:
				head = self.buf[:i].decode(errors="replace")
				m = re.search(r"^(?:Content-Length|l)\s*:\s*(\d+)", head, re.M | re.I)
				n = int(m.group(1)) if m else 0
				if len(self.buf) >= i + 4 + n:
					msg = self.buf[:i + 4 + n].decode(errors="replace")
					self.buf = self.buf[i + 4 + n:]
					return msg
			left = end - time.time()
			if left <= 0:
				return None
			self.s.settimeout(left)
			try:
				d = self.s.recv(65535)
			except socket.timeout:
				return None
			if not d:
				return None
			self.buf += d

	def final(self, cseq, timeout=10):
		"""The final response for CSeq `cseq` (provisional ones skipped)."""
		end = time.time() + timeout
		while time.time() < end:
			m = self.recv(end - time.time())
			if m is None:
				return None
			line = m.split("\r\n", 1)[0]
			if not line.startswith("SIP/2.0 "):
				continue
			if not re.search(r"^CSeq:\s*%s\s*$" % re.escape(cseq), m, re.M | re.I):
				continue
			if int(line.split()[1]) >= 200:
				return m
		return None


def sip_req(method, ruri, lport, cseq, callid, to_tag="", extra="", body=""):
	return ("%s %s SIP/2.0\n"
	        "Via: SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bK%s%d%s\n"
	        "Max-Forwards: 70\n"
	        "From: <sip:5550100@127.0.0.1>;tag=tlstest\n"
	        "To: <%s>%s\n"
	        "Call-ID: %s\n"
	        "CSeq: %d %s\n"
	        "Contact: <sip:5550100@127.0.0.1:%d;transport=tls>\n"
	        "%s"
	        "Content-Length: %d\n\n%s"
	        % (method, ruri, lport, callid.split("@")[0], cseq, method.lower(), ruri,
	           ";tag=" + to_tag if to_tag else "", callid, cseq, method, lport, extra,
	           len(body.replace("\n", "\r\n")), body))


def cmd_tls(a):
	ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.ca)
	ctx.check_hostname = False
	if a.cert:
		ctx.load_cert_chain(a.cert, a.key)
	raw = socket.create_connection(("127.0.0.1", a.port), timeout=5)
	try:
		s = ctx.wrap_socket(raw)
		s.do_handshake()
		s.settimeout(5)
		st = SipStream(s)
		# With TLS 1.3 a refused client certificate shows only at the first read.
		lport = s.getsockname()[1]
		callid = "tls-%d-%d@127.0.0.1" % (os.getpid(), int(time.time()))
		st.send(sip_req("OPTIONS", "sip:ping@127.0.0.1:%d;transport=tls" % a.port, lport, 1,
		                callid))
		r = st.final("1 OPTIONS", 5)
	except (ssl.SSLError, ConnectionError, OSError) as e:
		print("handshake failed: %s" % e)
		sys.exit(2)
	if r is None:
		print("handshake failed: no response (connection closed)")
		sys.exit(2)
	line = r.split("\r\n", 1)[0]
	print("OPTIONS: " + line)
	if not line.startswith("SIP/2.0 200"):
		sys.exit(1)
	if not a.call:
		sys.exit(0)
	ruri = "sip:%s@127.0.0.1:%d;transport=tls" % (a.call, a.port)
	callid = "tls-call-%d-%d@127.0.0.1" % (os.getpid(), int(time.time()))
	sdp = ("v=0\no=t 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
	       "m=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\na=sendrecv\n" % a.media)
	st.send(sip_req("INVITE", ruri, lport, 1, callid, extra="Content-Type: application/sdp\n",
	                body=sdp))
	r = st.final("1 INVITE", 10)
	line = r.split("\r\n", 1)[0] if r else "no final response"
	print("INVITE: " + line)
	if r is None or not line.startswith("SIP/2.0 200"):
		sys.exit(1)
	tag = re.search(r"^To:.*;tag=([^;\s]+)", r, re.M | re.I).group(1)
	m = re.search(r"^Contact:\s*<([^>]+)>", r, re.M | re.I)
	target = m.group(1) if m else ruri
	if "transport=tls" not in target:
		print("Contact of the 200 is not a TLS URI: " + target)
		sys.exit(1)
	st.send(sip_req("ACK", target, lport, 1, callid, to_tag=tag))
	time.sleep(a.hold)
	st.send(sip_req("BYE", target, lport, 2, callid, to_tag=tag))
	r = st.final("2 BYE", 10)
	line = r.split("\r\n", 1)[0] if r else "no final response"
	print("BYE: " + line)
	if r is None or not line.startswith("SIP/2.0 200"):
		sys.exit(1)
	s.close()


def main():
	ap = argparse.ArgumentParser()
	sub = ap.add_subparsers(dest="cmd", required=True)
	p = sub.add_parser("hold")
	p.add_argument("pcap")
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--sip-port", type=int, required=True)
	p.add_argument("--max-held", type=int, default=2)
	p.add_argument("--min-rx", type=int, default=50)
	p.add_argument("--min-echo", type=int, default=30)
	p = sub.add_parser("move")
	p.add_argument("pcap")
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--new-port", type=int, required=True)
	p.add_argument("--sip-port", type=int, required=True)
	p.add_argument("--min-echo", type=int, default=30)
	p.add_argument("--max-old", type=int, default=2)
	p = sub.add_parser("dtmf")
	p.add_argument("pcap")
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--sip-port", type=int)
	p.add_argument("--digit", required=True)
	p.add_argument("--min-frames", type=int, default=5)
	p.add_argument("--max-frames", type=int)
	p = sub.add_parser("options")
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--wait", type=float, default=1.0)
	p = sub.add_parser("tls")
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--ca", required=True)
	p.add_argument("--cert")
	p.add_argument("--key")
	p.add_argument("--call")
	p.add_argument("--media", type=int, default=0)
	p.add_argument("--hold", type=float, default=1.0)
	a = ap.parse_args()
	{"hold": cmd_hold, "move": cmd_move, "dtmf": cmd_dtmf, "options": cmd_options,
	 "tls": cmd_tls}[a.cmd](a)


if __name__ == "__main__":
	main()
