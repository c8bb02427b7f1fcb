#!/usr/bin/env python3
"""Tools of the NAT integration tests (Python standard library only).

  gen-alaw FILE --seconds N    8 kHz A-law WAV of noise: every 20 ms frame
                               differs, so an echo is found by its bytes
  gen-s16 FILE --seconds N     the same idea as 16-bit PCM (baresip's aufile)
  lastrtp PCAP --src-ip IP --dst IP:PORT
                               SSRC and sequence number of the newest RTP
                               packet from IP to IP:PORT in a capture that is
                               still being written ("SSRC SEQ", or nothing)
  inject --to IP:PORT ...      the attacker: RTP with a marked payload, and a
                               count of whatever comes back
  rtpc --to IP:PORT --send-port A --recv-port B --seconds N
                               an RTP peer that is not behind a NAT and sends
                               from port A while it receives on port B (the
                               one in its SDP)
  analyse DIR [checks]         the figures of one call from DIR/pub.pcap,
                               DIR/priv.pcap, DIR/att.pcap, DIR/markers.txt;
                               prints them, writes DIR/figures.json and exits
                               1 when a check fails

The captures are classic pcap files (dumpcap -P) of Ethernet interfaces.
"""
import argparse
import json
import os
import random
import socket
import statistics
import struct
import sys
import time

# The attacker's payload starts with this: found in any capture, it means
# the attacker's audio went through the gateway (echoed by the PSTN side).
MAGIC = b"\xa5\x5aPBN-ATTACK\x5a\xa5"


# ------------------------------------------------------------ audio files
def write_wav(path, fmt_tag, bits, data):
	block = bits // 8
	fmt = struct.pack("<HHIIHH", fmt_tag, 1, 8000, 8000 * block, block, bits)
	chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
	if fmt_tag != 1:
		chunks += b"fact" + struct.pack("<II", 4, len(data) // block)
	chunks += b"data" + struct.pack("<I", len(data)) + data
	with open(path, "wb") as f:
		f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)


def cmd_gen_alaw(a):
	rnd = random.Random(a.seed)
	n = int(a.seconds * 8000)
	write_wav(a.file, 6, 8, bytes(rnd.getrandbits(8) for _ in range(n)))


def cmd_gen_s16(a):
	rnd = random.Random(a.seed)
	n = int(a.seconds * 8000)
	samples = [rnd.randint(-12000, 12000) for _ in range(n)]
	write_wav(a.file, 1, 16, struct.pack("<%dh" % n, *samples))


# ------------------------------------------------------------ pcap reading
def udp_packets(path):
	"""(time, src_ip, sport, dst_ip, dport, payload) of each IPv4 UDP packet;
	a record cut short at the end (live capture) is ignored."""
	out = []
	try:
		f = open(path, "rb")
	except OSError:
		return out
	with f:
		hdr = f.read(24)
		if len(hdr) < 24:
			return out
		magic = struct.unpack("<I", hdr[:4])[0]
		if magic in (0xa1b2c3d4, 0xa1b23c4d):
			e = "<"
		else:
			e = ">"
			magic = struct.unpack(">I", hdr[:4])[0]
		if magic not in (0xa1b2c3d4, 0xa1b23c4d):
			raise SystemExit("%s: not a classic pcap file" % path)
		div = 1e9 if magic == 0xa1b23c4d else 1e6
		linktype = struct.unpack(e + "I", hdr[20:24])[0]
		while True:
			rh = f.read(16)
			if len(rh) < 16:
				break
			sec, frac, incl, _ = struct.unpack(e + "IIII", rh)
			data = f.read(incl)
			if len(data) < incl:
				break
			if linktype == 1:
				if len(data) < 14:
					continue
				etype = struct.unpack("!H", data[12:14])[0]
				off = 14
				if etype == 0x8100 and len(data) >= 18:
					etype = struct.unpack("!H", data[16:18])[0]
					off = 18
				if etype != 0x0800:
					continue
				ip = data[off:]
			elif linktype == 113:      # Linux cooked
				if len(data) < 16 or struct.unpack("!H", data[14:16])[0] != 0x0800:
					continue
				ip = data[16:]
			else:
				continue
			if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
				continue
			ihl = (ip[0] & 15) * 4
			if struct.unpack("!H", ip[6:8])[0] & 0x1fff:
				continue
			udp = ip[ihl:]
			if len(udp) < 8:
				continue
			sport, dport, ulen = struct.unpack("!HHH", udp[:6])
			out.append((sec + frac / div, socket.inet_ntoa(ip[12:16]), sport,
			    socket.inet_ntoa(ip[16:20]), dport, udp[8:ulen]))
	return out


def rtp_parse(p):
	"""(ssrc, seq, ts, pt, payload) of an RTP packet, or None."""
	if len(p) < 12 or p[0] >> 6 != 2:
		return None
	pt = p[1] & 0x7f
	if 72 <= pt <= 76:              # RTCP
		return None
	cc = p[0] & 15
	off = 12 + 4 * cc
	if p[0] & 0x10:
		if len(p) < off + 4:
			return None
		off += 4 + 4 * struct.unpack("!H", p[off + 2:off + 4])[0]
	end = len(p)
	if p[0] & 0x20 and end > off:
		end -= p[-1]
	if off > end:
		return None
	seq, ts, ssrc = struct.unpack("!HII", p[2:12])
	return ssrc, seq, ts, pt, bytes(p[off:end])


def cmd_lastrtp(a):
	ip, port = a.dst.rsplit(":", 1)
	for t, sip, sp, dip, dp, pl in reversed(udp_packets(a.pcap)):
		if sip == a.src_ip and dip == ip and dp == int(port):
			r = rtp_parse(pl)
			if r:
				print("%d %d %d" % (r[0], r[1], r[2]))
				return


# ------------------------------------------------------------ attacker
def attack_payload(n):
	body = MAGIC + struct.pack("!I", n)
	return (body * (160 // len(body) + 1))[:160]


def ip_checksum(h):
	s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
	while s >> 16:
		s = (s & 0xffff) + (s >> 16)
	return ~s & 0xffff


def cmd_inject(a):
	"""Send COUNT packets every INTERVAL s: SSRC mode 'random' (one random
	SSRC, consecutive seq), 'call' (the call's SSRC, seq from SEQ on), or
	'mix' (alternating). With --spoof-src the packets carry that source
	address (raw socket), else they come from --bind."""
	dst = a.to.rsplit(":", 1)
	dst = (dst[0], int(dst[1]))
	bh, bp = a.bind.rsplit(":", 1)
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind((bh, int(bp)))
	s.setblocking(False)
	raw = None
	if a.spoof_src:
		raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
		sip, sport = a.spoof_src.rsplit(":", 1)
		sport = int(sport)
	rnd = random.Random()
	rssrc = rnd.getrandbits(32)
	rseq = rnd.getrandbits(16)
	cseq = a.seq if a.seq is not None else rnd.getrandbits(16)
	ts = rnd.getrandbits(32) if a.ts is None else a.ts
	sent = {"random": 0, "call": 0}
	back = {}
	t0 = time.monotonic()
	nxt = t0
	i = 0
	end = None
	while True:
		now = time.monotonic()
		if i < a.count and now >= nxt:
			kind = a.ssrc_mode
			if kind == "mix":
				kind = "call" if i % 2 else "random"
			if kind == "call":
				hdr = struct.pack("!BBHII", 0x80, 8, cseq & 0xffff, ts & 0xffffffff, a.call_ssrc)
				cseq += 1
			else:
				hdr = struct.pack("!BBHII", 0x80, 8, rseq & 0xffff, ts & 0xffffffff, rssrc)
				rseq += 1
			ts += 160
			pkt = hdr + attack_payload(a.tag * 100000 + i)
			if raw:
				udp = struct.pack("!HHHH", sport, dst[1], 8 + len(pkt), 0) + pkt
				iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), rnd.getrandbits(16),
				    0, 64, 17, 0, socket.inet_aton(sip), socket.inet_aton(dst[0]))
				iph = iph[:10] + struct.pack("!H", ip_checksum(iph)) + iph[12:]
				raw.sendto(iph + udp, dst)
			else:
				s.sendto(pkt, dst)
			sent[kind] += 1
			i += 1
			nxt += a.interval
			if i == a.count:
				end = now + a.linger
		try:
			d, src = s.recvfrom(4096)
			k = "%s:%d" % src
			back[k] = back.get(k, 0) + 1
			continue
		except BlockingIOError:
			pass
		if end is not None and now >= end:
			break
		time.sleep(0.001)
	res = dict(to=a.to, spoof=a.spoof_src, sent=sent, received_back=sum(back.values()),
	    received_from=back)
	print(json.dumps(res))
	if a.out:
		with open(a.out, "a") as f:
			f.write(json.dumps(res) + "\n")


# ------------------------------------------------------------ asymmetric peer
def cmd_rtpc(a):
	"""Send A-law frames of FILE (noise) from --send-port to --to every 20 ms
	for --seconds; count what arrives on --recv-port and --send-port."""
	ip, port = a.to.rsplit(":", 1)
	dst = (ip, int(port))
	tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	tx.bind((a.bind, a.send_port))
	rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	rx.bind((a.bind, a.recv_port))
	tx.setblocking(False)
	rx.setblocking(False)
	rnd = random.Random(a.seed)
	ssrc = rnd.getrandbits(32)
	seq = rnd.getrandbits(16)
	ts = rnd.getrandbits(32)
	got = {"recv_port": 0, "send_port": 0}
	t0 = time.monotonic()
	nxt = t0
	n = 0
	while True:
		now = time.monotonic()
		if now >= t0 + a.seconds:
			break
		if now >= nxt:
			pl = bytes(rnd.getrandbits(8) for _ in range(160))
			tx.sendto(struct.pack("!BBHII", 0x80 | 0, 8 | (0x80 if n == 0 else 0),
			    seq & 0xffff, ts & 0xffffffff, ssrc) + pl, dst)
			seq += 1
			ts += 160
			n += 1
			nxt += 0.02
		for sock, k in ((rx, "recv_port"), (tx, "send_port")):
			try:
				while True:
					sock.recvfrom(4096)
					got[k] += 1
			except BlockingIOError:
				pass
		time.sleep(0.002)
	res = dict(sent=n, received=got)
	print(json.dumps(res))
	if a.out:
		with open(a.out, "w") as f:
			f.write(json.dumps(res) + "\n")


# ------------------------------------------------------------ analysis
def sip_sdps(pkts, gw_ip):
	"""SDP bodies in SIP over UDP: (time, from_gw, src, text) per message."""
	out = []
	for t, sip, sp, dip, dp, pl in pkts:
		if not ((sip == gw_ip and sp == 5060) or (dip == gw_ip and dp == 5060)):
			continue
		txt = pl.decode("latin-1")
		if "\r\n\r\n" not in txt or "m=audio" not in txt:
			continue
		out.append((t, sip == gw_ip, "%s:%d" % (sip, sp), txt))
	return out


def sdp_fields(txt):
	body = txt.split("\r\n\r\n", 1)[1]
	c = m = None
	for line in body.splitlines():
		line = line.strip()
		if line.startswith("c=IN IP4 ") and c is None:
			c = line.split()[2]
		if line.startswith("m=audio ") and m is None:
			m = int(line.split()[1])
	return c, m


def first_line(txt):
	return txt.split("\r\n", 1)[0]


def cmd_analyse(a):
	D = a.dir
	F = {}
	problems = []

	def check(ok, what):
		if not ok:
			problems.append(what)

	markers = {}
	if os.path.exists(os.path.join(D, "markers.txt")):
		for line in open(os.path.join(D, "markers.txt")):
			k, v = line.split()
			markers.setdefault(k, float(v))
	pub = udp_packets(os.path.join(D, "pub.pcap"))
	priv = udp_packets(os.path.join(D, "priv.pcap"))
	att = udp_packets(os.path.join(D, "att.pcap"))
	gw_ip = a.gw_ip

	# --- signalling seen on the public side
	sdps = sip_sdps(pub, gw_ip)
	gw_sdp = next((s for s in sdps if s[1]), None)
	cl_sdp = next((s for s in sdps if not s[1]), None)
	if gw_sdp is None or cl_sdp is None:
		print(json.dumps(dict(error="no SDP offer/answer in pub.pcap",
		    sdps=[(s[2], first_line(s[3])) for s in sdps])))
		return 1
	gw_port = sdp_fields(gw_sdp[3])[1]
	cl_c, cl_m = sdp_fields(cl_sdp[3])
	F["gw_rtp"] = "%s:%d" % (gw_ip, gw_port)
	F["client_sdp"] = "%s:%d" % (cl_c, cl_m)
	F["client_sdp_in"] = first_line(cl_sdp[3])
	F["client_sip_source"] = cl_sdp[2]
	if a.client_ip:
		check(cl_c == a.client_ip, "the client's SDP seen on the public side names %s, not its "
		    "address %s" % (cl_c, a.client_ip))
	if a.expect_nat:
		check(cl_sdp[2].split(":")[0] != cl_c,
		    "the client's SIP source %s is its SDP address: no NAT in the path" % cl_sdp[2])

	gw = (gw_ip, gw_port)
	out, inn = [], []
	for t, sip, sp, dip, dp, pl in pub:
		r = rtp_parse(pl)
		if not r:
			continue
		if (sip, sp) == gw:
			out.append((t, "%s:%d" % (dip, dp), dip, r))
		elif (dip, dp) == gw:
			inn.append((t, "%s:%d" % (sip, sp), sip, r))
	c_sent, c_recv = [], []
	for t, sip, sp, dip, dp, pl in priv:
		r = rtp_parse(pl)
		if not r:
			continue
		if sip == a.client_ip and (dip, dp) == gw:
			c_sent.append((t, sp, r))
		elif (sip, sp) == gw and dip == a.client_ip:
			c_recv.append((t, dp, r))
	att_back = [p for p in att if p[1] == gw_ip and p[3] == a.att_ip]

	def key(r):
		return (r[0], r[1], r[2])

	recv_keys = {key(r): t for t, _, r in c_recv}
	F["client_sent"] = len(c_sent)
	F["client_received"] = len(c_recv)
	F["gw_sent"] = len(out)
	F["gw_received"] = len(inn)
	F["gw_received_by_source"] = dict(sorted(
	    {s: sum(1 for p in inn if p[1] == s) for s in {p[1] for p in inn}}.items()))
	F["gw_sent_by_dest"] = dict(sorted(
	    {s: sum(1 for p in out if p[1] == s) for s in {p[1] for p in out}}.items()))
	delivered = sum(1 for p in out if key(p[3]) in recv_keys)
	F["gw_to_client_delivered"] = delivered
	F["delivery_ratio"] = round(delivered / len(out), 4) if out else 0.0
	sent_keys = {key(r) for _, _, r in c_sent}
	in_keys = {key(p[3]) for p in inn}
	F["client_to_gw_lost"] = len(sent_keys - in_keys)

	# echo: the client's frames that came back, by payload bytes
	sent_pl = {}
	for t, _, r in c_sent:
		sent_pl.setdefault(r[4], t)
	back = {}
	for t, _, r in c_recv:
		if r[4] in sent_pl:
			back.setdefault(r[4], t)
	F["echo_ratio"] = round(len(back) / len(sent_pl), 4) if sent_pl else 0.0
	delays = [back[p] - sent_pl[p] for p in back]
	F["echo_delay_ms_median"] = round(statistics.median(delays) * 1000, 1) if delays else None

	# attacker
	F["attacker_received"] = len(att_back)
	F["attack_frames_sent_by_gw"] = sum(1 for p in out if MAGIC in p[3][4])
	F["attack_frames_at_client"] = sum(1 for _, _, r in c_recv if MAGIC in r[4])
	F["attack_packets_at_gw"] = sum(1 for p in inn if MAGIC in p[3][4])
	F["gw_sent_to_attacker"] = sum(1 for p in out if p[2] == a.att_ip)

	# client reception gaps
	rt = sorted(t for t, _, _ in c_recv)
	if len(rt) > 1:
		F["client_rx_max_gap_ms"] = round(max(y - x for x, y in zip(rt, rt[1:])) * 1000, 1)

	if "rebind" in markers:
		tb = markers["rebind"]
		client_srcs = [p for p in inn if p[2] != a.att_ip and MAGIC not in p[3][4]]
		before = {p[1] for p in client_srcs if p[0] < tb}
		after = {p[1] for p in client_srcs if p[0] >= tb}
		new = sorted(after - before)
		R = dict(mapping_before=sorted(before), mapping_new=new)
		o_after = [p for p in out if p[0] >= tb]
		lost = [p for p in o_after if key(p[3]) not in recv_keys and p[2] != a.att_ip]
		R["gw_sent_after"] = len(o_after)
		R["lost_after"] = len(lost)
		R["lost_to"] = sorted({p[1] for p in lost})
		late = [t for t in rt if t >= tb]
		R["client_received_after"] = len(late)
		win = [t for t in rt if tb - 0.5 <= t <= tb + 5]
		gaps = [y - x for x, y in zip(win, win[1:])]
		R["max_gap_ms"] = round(max(gaps) * 1000, 1) if gaps else None
		R["lost_ms"] = round(max(0.0, max(gaps) - 0.02) * 1000, 1) if gaps else None
		# the client's frames from the new mapping that the gateway
		# took in: each must come back through the echo (the gateway
		# sends it, wherever to); the last 0.5 s of the call is left out
		out_pl = {p[3][4] for p in out}
		t_last_out = max((p[0] for p in out), default=tb)
		new_in = [p for p in client_srcs if p[1] in new and p[0] < t_last_out - 0.5]
		R["in_after"] = len(new_in)
		R["in_after_not_echoed"] = sum(1 for p in new_in if p[3][4] not in out_pl)
		if new:
			t_new_in = min(p[0] for p in client_srcs if p[1] in new)
			t_new_out = [p[0] for p in out if p[1] in new]
			R["relatch_ms"] = round((min(t_new_out) - t_new_in) * 1000, 1) if t_new_out else None
		F["rebind"] = R
		check(bool(new), "the client's RTP did not come from a new NAT mapping after the "
		    "rebind (mapping before %s)" % sorted(before))
		if a.rebind == "resume":
			check(len(late) > 0 and R.get("relatch_ms") is not None,
			    "no audio reached the client after the rebind (gateway sent to %s)" % sorted(
			        {p[1] for p in o_after}))
			check(len(lost) <= a.max_lost, "%d gateway packets lost after the rebind (max %d)" % (
			    len(lost), a.max_lost))
			check(R["lost_ms"] is not None and R["lost_ms"] <= a.max_lost_ms,
			    "%s ms of audio lost at the rebind (max %d)" % (R["lost_ms"], a.max_lost_ms))
			if a.max_in_lost is not None:
				check(R["in_after_not_echoed"] <= a.max_in_lost,
				    "%d of the client's %d packets from its new mapping were taken in but "
				    "never echoed (max %d)" % (R["in_after_not_echoed"], R["in_after"],
				        a.max_in_lost))
		elif a.rebind == "stop":
			late_ok = [t for t in rt if t >= tb + 0.2]
			check(not late_ok, "%d packets still reached the client after the rebind" % len(late_ok))

	if a.asym_send_port:
		F["client_send_ports"] = sorted({sp for _, sp, _ in c_sent})
		to_sig = sum(1 for p in out if p[1] == "%s:%d" % (cl_c, cl_m))
		to_other = len(out) - to_sig
		F["gw_sent_to_signalled_port"] = to_sig
		F["gw_sent_elsewhere"] = to_other
		check(F["client_send_ports"] == [a.asym_send_port],
		    "the client did not send from port %d only" % a.asym_send_port)
		check(to_sig > 0 and to_other == 0, "the gateway sent %d packets to %s:%d and %d elsewhere "
		    "(%s)" % (to_sig, cl_c, cl_m, to_other, F["gw_sent_by_dest"]))

	if a.min_delivery is not None:
		check(len(out) > 0 and F["delivery_ratio"] >= a.min_delivery,
		    "%d of %d gateway packets reached the client (%.1f%%, need %.0f%%)" % (
		        delivered, len(out), 100 * F["delivery_ratio"], 100 * a.min_delivery))
	if a.min_echo is not None:
		check(F["echo_ratio"] >= a.min_echo, "%.1f%% of the client's frames came back (need "
		    "%.0f%%)" % (100 * F["echo_ratio"], 100 * a.min_echo))
	if a.min_client_sent:
		check(len(c_sent) >= a.min_client_sent, "the client sent only %d RTP packets" % len(c_sent))
	if a.attack == "rejected":
		check(F["attack_packets_at_gw"] > 0, "no attack packet reached the gateway: the attack "
		    "did not happen")
		check(F["attacker_received"] == 0, "the attacker received %d packets from the gateway" %
		    F["attacker_received"])
		check(F["attack_frames_sent_by_gw"] == 0 and F["attack_frames_at_client"] == 0,
		    "the attacker's audio was accepted: %d of its frames came back out of the gateway "
		    "(%d reached the client)" % (F["attack_frames_sent_by_gw"], F["attack_frames_at_client"]))
		for m in ("attack_mid", "attack_spoof"):
			if m not in markers:
				continue
			ta = markers[m]
			w = [t for t in rt if ta - 0.2 <= t <= ta + 1.5]
			gaps = [y - x for x, y in zip(w, w[1:])]
			F["client_rx_during_" + m] = len(w)
			F["client_rx_max_gap_ms_during_" + m] = round(max(gaps) * 1000, 1) if gaps else None
			check(len(w) >= 75 and max(gaps) < 0.2, "the client's audio did not continue during "
			    "%s (%d packets in 1.7 s, max gap %s ms)" % (
			        m, len(w), F["client_rx_max_gap_ms_during_" + m]))
	elif a.attack == "hijacked":
		check(F["attacker_received"] > 0 or F["attack_frames_sent_by_gw"] > 0,
		    "control: a latch-to-anything gateway was not caught (attacker received %d, its "
		    "frames sent by the gateway %d)" % (F["attacker_received"], F["attack_frames_sent_by_gw"]))

	F["problems"] = problems
	with open(os.path.join(D, "figures.json"), "w") as f:
		json.dump(F, f, indent=1)
	for k, v in F.items():
		if k == "problems":
			continue
		if isinstance(v, dict) and k == "rebind":
			for k2, v2 in v.items():
				print("  rebind.%s: %s" % (k2, json.dumps(v2)))
		else:
			print("  %s: %s" % (k, json.dumps(v)))
	for p in problems:
		print("  PROBLEM: %s" % p)
	return 1 if problems else 0


def main():
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	sub = ap.add_subparsers(dest="cmd", required=True)
	p = sub.add_parser("gen-alaw")
	p.add_argument("file")
	p.add_argument("--seconds", type=float, default=30)
	p.add_argument("--seed", type=int, default=1)
	p = sub.add_parser("gen-s16")
	p.add_argument("file")
	p.add_argument("--seconds", type=float, default=30)
	p.add_argument("--seed", type=int, default=2)
	p = sub.add_parser("lastrtp")
	p.add_argument("pcap")
	p.add_argument("--src-ip", required=True)
	p.add_argument("--dst", required=True)
	p = sub.add_parser("inject")
	p.add_argument("--to", required=True)
	p.add_argument("--bind", default="0.0.0.0:40000")
	p.add_argument("--spoof-src")
	p.add_argument("--count", type=int, default=50)
	p.add_argument("--interval", type=float, default=0.02)
	p.add_argument("--ssrc-mode", choices=("random", "call", "mix"), default="mix")
	p.add_argument("--call-ssrc", type=lambda s: int(s, 0), default=0xCA110000)
	p.add_argument("--seq", type=int)
	p.add_argument("--ts", type=int)
	p.add_argument("--tag", type=int, default=0)
	p.add_argument("--linger", type=float, default=0.5)
	p.add_argument("--out")
	p = sub.add_parser("rtpc")
	p.add_argument("--to", required=True)
	p.add_argument("--bind", default="0.0.0.0")
	p.add_argument("--send-port", type=int, required=True)
	p.add_argument("--recv-port", type=int, required=True)
	p.add_argument("--seconds", type=float, default=5)
	p.add_argument("--seed", type=int, default=3)
	p.add_argument("--out")
	p = sub.add_parser("analyse")
	p.add_argument("dir")
	p.add_argument("--gw-ip", default="203.0.113.10")
	p.add_argument("--client-ip", required=True)
	p.add_argument("--att-ip", default="203.0.113.66")
	p.add_argument("--expect-nat", action="store_true")
	p.add_argument("--min-delivery", type=float)
	p.add_argument("--min-echo", type=float)
	p.add_argument("--min-client-sent", type=int, default=0)
	p.add_argument("--rebind", choices=("resume", "stop"))
	p.add_argument("--max-lost", type=int, default=5)
	p.add_argument("--max-lost-ms", type=int, default=200)
	p.add_argument("--max-in-lost", type=int,
	    help="rebind: most client packets from the new mapping not echoed")
	p.add_argument("--attack", choices=("rejected", "hijacked"))
	p.add_argument("--asym-send-port", type=int)
	a = ap.parse_args()
	fn = {"gen-alaw": cmd_gen_alaw, "gen-s16": cmd_gen_s16, "lastrtp": cmd_lastrtp,
	    "inject": cmd_inject, "rtpc": cmd_rtpc, "analyse": cmd_analyse}[a.cmd]
	sys.exit(fn(a) or 0)


if __name__ == "__main__":
	main()
