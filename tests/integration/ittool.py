#!/usr/bin/env python3
"""Helpers for the pstnbridge integration tests (standard library only).

Subcommands:
  ports N [N...]        print one base port per argument; each base starts a
                        run of N consecutive ports free on 127.0.0.1 for UDP
                        and TCP; the runs do not overlap
  gen FILE              write an 8 kHz A-law WAV: --tone HZ, or (default)
                        a noise-like signal whose every 20 ms frame differs
  rtp PCAP --port P     analyse the RTP to and from UDP port P (the sipp
                        media port) in a classic pcap file; print the
                        numbers and check the --min-* / --max-* assertions
  sdp-port FILE         print the m=audio port of the first SDP in a sipp
                        message trace that is not --not PORT
  udp                   send one datagram (--hex or --text or --file) from
                        127.0.0.1 and print the first line of each reply
                        received within --wait seconds
  digest FILE           recompute every digest response (RFC 2617/8760,
                        qop=auth) in the --header lines of a sipp message
                        trace from --user/--realm/--password and --method;
                        check --count of them and the --uri-prefix
"""
import hashlib
import argparse
import json
import math
import os
import random
import re
import socket
import struct
import sys
import time


# ---------------------------------------------------------------- ports

def port_free(port):
	for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
		s = socket.socket(socket.AF_INET, kind)
		try:
			s.bind(("127.0.0.1", port))
		except OSError:
			return False
		finally:
			s.close()
	return True


PORTS_DB = "/tmp/pstnbridge-itest-ports.json"


def owner_alive(pid):
	try:
		os.kill(pid, 0)
	except ProcessLookupError:
		return False
	except PermissionError:
		pass
	return True


def cmd_ports(args):
	"""Runs of free ports. Runs handed out to a still-running owner (the
	test's shell, --owner) by another test run on this machine are avoided:
	they are kept in PORTS_DB under an flock."""
	import fcntl
	rng = random.Random(os.getpid() ^ int(time.time() * 1000))
	fd = os.open(PORTS_DB, os.O_RDWR | os.O_CREAT, 0o666)
	with os.fdopen(fd, "r+") as db:
		fcntl.flock(db, fcntl.LOCK_EX)
		try:
			entries = json.loads(db.read() or "[]")
		except ValueError:
			entries = []
		entries = [e for e in entries if owner_alive(e["owner"])]
		taken = [(e["base"], e["n"]) for e in entries]
		out = []
		for n in args.counts:
			for _ in range(2000):
				base = rng.randrange(20000, 30000 - n) & ~1
				if any(base < b + m and b < base + n for b, m in taken):
					continue
				if all(port_free(p) for p in range(base, base + n)):
					taken.append((base, n))
					entries.append({"owner": args.owner, "base": base, "n": n})
					out.append(base)
					break
			else:
				sys.exit("ports: no free run of %d ports" % n)
		db.seek(0)
		db.truncate()
		db.write(json.dumps(entries))
	print(" ".join(str(b) for b in out))


# ---------------------------------------------------------------- G.711 A-law

def alaw_encode(sample):
	"""16-bit linear to A-law (ITU-T G.711)."""
	mask = 0xD5
	if sample < 0:
		mask = 0x55
		sample = -sample - 1
	sample = min(sample, 32767) >> 3        # 13-bit magnitude
	if sample < 32:
		code = sample >> 1
	else:
		seg = 1
		v = sample >> 5
		while v > 1 and seg < 7:
			v >>= 1
			seg += 1
		code = (seg << 4) | ((sample >> seg) & 0x0F)
	return code ^ mask


def alaw_decode(code):
	code ^= 0x55
	seg = (code >> 4) & 7
	mant = code & 0x0F
	if seg == 0:
		v = (mant << 4) + 8
	else:
		v = ((mant << 4) + 0x108) << (seg - 1)
	return v if code & 0x80 else -v


ALAW_DEC = [alaw_decode(c) for c in range(256)]


def wav_alaw(path, data):
	"""A WAV file with format tag 6 (A-law), mono, 8 kHz."""
	fmt = struct.pack("<HHIIHHH", 6, 1, 8000, 8000, 1, 8, 0)
	body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
	body += b"fact" + struct.pack("<II", 4, len(data))
	body += b"data" + struct.pack("<I", len(data)) + data
	if len(data) & 1:
		body += b"\0"
	with open(path, "wb") as f:
		f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def cmd_gen(args):
	n = int(args.seconds * 8000)
	out = bytearray()
	if args.tone:
		for i in range(n):
			s = int(args.amplitude * 32767 * math.sin(2 * math.pi * args.tone * i / 8000))
			out.append(alaw_encode(s))
	else:
		# Speech-like band-limited noise: a pseudo-random walk through a
		# small low-pass filter. No two 20 ms frames are alike, so an echo
		# can be recognised by comparing bytes.
		rng = random.Random(args.seed)
		y = 0.0
		for i in range(n):
			y = 0.7 * y + 0.3 * rng.uniform(-1, 1)
			s = int(args.amplitude * 32767 * max(-1.0, min(1.0, 2.5 * y)))
			out.append(alaw_encode(s))
	wav_alaw(args.file, bytes(out))


# ---------------------------------------------------------------- pcap

def read_pcap(path):
	"""Yield (time, src_ip, sport, dst_ip, dport, udp_payload)."""
	with open(path, "rb") as f:
		data = f.read()
	if len(data) < 24:
		return
	magic = data[:4]
	if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
		end = "<"
	elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
		end = ">"
	elif magic == b"\x0a\x0d\x0d\x0a":
		sys.exit("rtp: %s is pcapng, capture with dumpcap -P" % path)
	else:
		sys.exit("rtp: %s: not a pcap file" % path)
	nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
	linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
	off = 24
	while off + 16 <= len(data):
		sec, frac, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
		off += 16
		pkt = data[off:off + caplen]
		off += caplen
		if len(pkt) < caplen:
			break
		t = sec + frac / (1e9 if nano else 1e6)
		r = parse_link(linktype, pkt)
		if r is not None:
			yield (t,) + r


def parse_link(linktype, pkt):
	if linktype == 1:                       # Ethernet
		if len(pkt) < 14:
			return None
		etype = struct.unpack(">H", pkt[12:14])[0]
		p = 14
		while etype in (0x8100, 0x88A8) and len(pkt) >= p + 4:
			etype = struct.unpack(">H", pkt[p + 2:p + 4])[0]
			p += 4
		return parse_ip(etype, pkt[p:])
	if linktype == 113:                     # Linux cooked
		if len(pkt) < 16:
			return None
		return parse_ip(struct.unpack(">H", pkt[14:16])[0], pkt[16:])
	if linktype == 276:                     # Linux cooked v2
		if len(pkt) < 20:
			return None
		return parse_ip(struct.unpack(">H", pkt[0:2])[0], pkt[20:])
	if linktype == 0:                       # BSD loopback
		if len(pkt) < 4:
			return None
		fam = struct.unpack("<I", pkt[:4])[0]
		return parse_ip(0x0800 if fam == 2 else 0x86DD, pkt[4:])
	if linktype in (101, 12, 14, 228, 229):  # raw IP
		if not pkt:
			return None
		return parse_ip(0x0800 if pkt[0] >> 4 == 4 else 0x86DD, pkt)
	return None


def parse_ip(etype, p):
	if etype == 0x0800:
		if len(p) < 20:
			return None
		ihl = (p[0] & 0x0F) * 4
		total = struct.unpack(">H", p[2:4])[0]
		frag = struct.unpack(">H", p[6:8])[0]
		if p[9] != 17 or frag & 0x1FFF or len(p) < ihl + 8:
			return None
		src = socket.inet_ntop(socket.AF_INET, p[12:16])
		dst = socket.inet_ntop(socket.AF_INET, p[16:20])
		u = p[ihl:total if total >= ihl + 8 else len(p)]
	elif etype == 0x86DD:
		if len(p) < 48 or p[6] != 17:
			return None
		src = socket.inet_ntop(socket.AF_INET6, p[8:24])
		dst = socket.inet_ntop(socket.AF_INET6, p[24:40])
		u = p[40:]
	else:
		return None
	sport, dport, ulen = struct.unpack(">HHH", u[:6])
	return (src, sport, dst, dport, u[8:max(8, min(ulen, len(u)))])


def rtp_payload(d):
	"""(pt, ssrc, seq, payload) of an RTP packet, or None."""
	if len(d) < 12 or d[0] >> 6 != 2:
		return None
	cc = d[0] & 0x0F
	p = 12 + 4 * cc
	if d[0] & 0x10:
		if len(d) < p + 4:
			return None
		p += 4 + 4 * struct.unpack(">H", d[p + 2:p + 4])[0]
	end = len(d)
	if d[0] & 0x20 and end > p:
		end -= d[-1]
	if end < p:
		return None
	pt = d[1] & 0x7F
	if 72 <= pt <= 76:                      # RTCP
		return None
	seq = struct.unpack(">H", d[2:4])[0]
	ssrc = struct.unpack(">I", d[8:12])[0]
	return pt, ssrc, seq, d[p:end]


# ---------------------------------------------------------------- audio

def goertzel_ratio(samples, hz):
	"""Share of the frame's energy at hz (0..1)."""
	n = len(samples)
	if n == 0:
		return 0.0
	k = 2 * math.cos(2 * math.pi * hz / 8000)
	s1 = s2 = 0.0
	for x in samples:
		s0 = x + k * s1 - s2
		s2, s1 = s1, s0
	power = s1 * s1 + s2 * s2 - k * s1 * s2
	energy = sum(x * x for x in samples)
	if energy <= 0:
		return 0.0
	return min(1.0, 2 * power / (n * energy))


def zero_cross_hz(samples):
	if len(samples) < 2:
		return 0.0
	mean = sum(samples) / len(samples)
	c = 0
	prev = samples[0] - mean
	for x in samples[1:]:
		x -= mean
		if (prev < 0 <= x) or (prev >= 0 > x):
			c += 1
		prev = x
	return c * 8000 / (2 * (len(samples) - 1))


# ---------------------------------------------------------------- rtp

def cmd_rtp(args):
	tx = []      # (t, payload, dport) sent by the sipp side from --port
	rx = []      # (t, payload, sport, pt) received on --port
	bad = 0
	for t, src, sport, dst, dport, u in read_pcap(args.pcap):
		if args.ip and args.ip not in (src, dst):
			continue
		if dport == args.port and (args.peer is None or sport == args.peer):
			r = rtp_payload(u)
			if r is None:
				bad += 1
				continue
			rx.append((t, r[3], sport, r[0]))
		elif sport == args.port and (args.peer is None or dport == args.peer):
			r = rtp_payload(u)
			if r is not None:
				tx.append((t, r[3], dport))
	st = {"port": args.port, "peer": args.peer, "rx": len(rx), "tx": len(tx),
	      "rx_not_rtp": bad}
	st["rx_sources"] = sorted({p for _, _, p, _ in rx})
	st["tx_dests"] = sorted({p for _, _, p in tx})
	st["rx_pt"] = sorted({pt for _, _, _, pt in rx})
	# echo: received payloads that are exactly a sent packet's payload, or
	# at least a contiguous piece of the sent byte stream (tolerates a
	# re-framing of the audio); silence-only payloads never count.
	sent_set = {p for _, p, _ in tx}
	sent_all = b"".join(p for _, p, _ in tx)
	exact = contained = 0
	for _, p, _, _ in rx:
		if len(set(p)) <= 2:
			continue
		if p in sent_set:
			exact += 1
			contained += 1
		elif len(p) >= 40 and p in sent_all:
			contained += 1
	st["echo_exact"] = exact
	st["echo_contained"] = contained
	st["echo_ratio"] = round(contained / len(rx), 3) if rx else 0.0
	# arrival gaps
	times = [t for t, _, _, _ in rx]
	gaps = [b - a for a, b in zip(times, times[1:])]
	st["max_gap_ms"] = round(1000 * max(gaps), 1) if gaps else None
	if rx:
		st["rx_first"] = round(times[0], 3)
		st["rx_last"] = round(times[-1], 3)
	if tx:
		st["rx_before_tx"] = sum(1 for x in rx if x[0] < tx[0][0])
	if args.after is not None:
		after = [x for x in rx if x[0] >= args.after]
		st["rx_after"] = len(after)
		st["echo_after"] = sum(1 for x in after if len(set(x[1])) > 2 and
		                       (x[1] in sent_set or (len(x[1]) >= 40 and x[1] in sent_all)))
	if args.around:
		args.window = [args.around[0] - args.around[1], args.around[0] + args.around[1]]
	if args.window:
		a, b = args.window
		w = [t for t in times if a <= t <= b]
		edges = [a] + w + [b]
		wg = [y - x for x, y in zip(edges, edges[1:])]
		st["window_rx"] = len(w)
		st["window_max_gap_ms"] = round(1000 * max(wg), 1)
	if args.tone:
		ratios = []
		allsamp = []
		for _, p, _, _ in rx:
			s = [ALAW_DEC[c] for c in p]
			allsamp.extend(s)
			ratios.append(goertzel_ratio(s, args.tone))
		good = sum(1 for r in ratios if r >= 0.5)
		st["tone_hz"] = args.tone
		st["tone_frames"] = good
		st["tone_ratio"] = round(good / len(ratios), 3) if ratios else 0.0
		st["zero_cross_hz"] = round(zero_cross_hz(allsamp[:80000]), 1)
	print(json.dumps(st, sort_keys=True))

	fails = []
	def need(cond, msg):
		if not cond:
			fails.append(msg)
	if args.min_rx is not None:
		need(len(rx) >= args.min_rx, "received %d RTP packets on port %d, want >= %d"
		     % (len(rx), args.port, args.min_rx))
	if args.min_tx is not None:
		need(len(tx) >= args.min_tx, "sent %d RTP packets from port %d, want >= %d"
		     % (len(tx), args.port, args.min_tx))
	if args.min_echo is not None:
		need(rx and st["echo_ratio"] >= args.min_echo,
		     "echo ratio %.3f (%d of %d received payloads are sent audio), want >= %.2f"
		     % (st["echo_ratio"], contained, len(rx), args.min_echo))
	if args.min_rx_after is not None:
		need(st.get("rx_after", 0) >= args.min_rx_after,
		     "received %d packets after %.3f, want >= %d"
		     % (st.get("rx_after", 0), args.after, args.min_rx_after))
	if args.min_echo_after is not None:
		need(st.get("echo_after", 0) >= args.min_echo_after,
		     "received %d echoed packets after %.3f, want >= %d"
		     % (st.get("echo_after", 0), args.after, args.min_echo_after))
	if args.min_rx_before_tx is not None:
		need(st.get("rx_before_tx", 0) >= args.min_rx_before_tx,
		     "received %d packets before sipp sent its first, want >= %d"
		     % (st.get("rx_before_tx", 0), args.min_rx_before_tx))
	if args.min_window_rx is not None:
		need(st.get("window_rx", 0) >= args.min_window_rx,
		     "received %d packets in the window %.3f..%.3f, want >= %d"
		     % (st.get("window_rx", 0), args.window[0], args.window[1], args.min_window_rx))
	if args.max_gap is not None:
		g = st.get("window_max_gap_ms", st["max_gap_ms"])
		need(g is not None and g <= args.max_gap,
		     "largest gap between received packets %s ms, want <= %d ms" % (g, args.max_gap))
	if args.tone and args.min_tone is not None:
		need(st["tone_ratio"] >= args.min_tone,
		     "%d of %d frames hold %d Hz, want a ratio >= %.2f"
		     % (st["tone_frames"], len(rx), args.tone, args.min_tone))
		need(abs(st["zero_cross_hz"] - args.tone) <= args.tone * 0.05,
		     "zero crossings give %.1f Hz, want %d Hz +- 5%%" % (st["zero_cross_hz"], args.tone))
	if args.single_source:
		need(len(st["rx_sources"]) == 1, "RTP came from ports %s, want one" % st["rx_sources"])
	for f in fails:
		print("FAIL: " + f)
	sys.exit(1 if fails else 0)


# ---------------------------------------------------------------- sdp-port

def cmd_sdp_port(args):
	with open(args.file, errors="replace") as f:
		text = f.read()
	for m in re.finditer(r"^m=audio (\d+)", text, re.M):
		p = int(m.group(1))
		if p != args.not_port:
			print(p)
			return
	sys.exit("sdp-port: no m=audio line other than port %s in %s" % (args.not_port, args.file))


# ---------------------------------------------------------------- udp

def cmd_udp(args):
	if args.hex:
		data = bytes.fromhex(args.hex)
	elif args.file:
		with open(args.file, "rb") as f:
			data = f.read()
	else:
		data = args.text.encode()
	if args.crlf:
		data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", args.bind))
	s.sendto(data, ("127.0.0.1", args.port))
	end = time.time() + args.wait
	while True:
		left = end - time.time()
		if left <= 0:
			break
		s.settimeout(left)
		try:
			d, _ = s.recvfrom(65535)
		except socket.timeout:
			break
		print(d.split(b"\r\n", 1)[0].decode(errors="replace"))
		sys.stdout.flush()
	s.close()


# ---------------------------------------------------------------- digest

def cmd_digest(args):
	text = open(args.file, errors="replace").read()
	auths = re.findall(r"^%s: Digest (.*?)\r?$" % re.escape(args.header), text, re.M)
	if args.count is not None and len(auths) != args.count:
		sys.exit("expected %d %s header(s), saw %d" % (args.count, args.header, len(auths)))
	for a in auths:
		p = dict((k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', a))
		alg = p.get("algorithm", "MD5").upper()
		h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(alg)
		if h is None:
			sys.exit("unknown algorithm %s" % alg)
		if args.algorithm and alg != args.algorithm.upper():
			sys.exit("algorithm %s, expected %s" % (alg, args.algorithm))
		H = lambda x: h(x.encode()).hexdigest()
		if p.get("username") != args.user or p.get("realm") != args.realm:
			sys.exit("username/realm %s/%s, expected %s/%s" % (p.get("username"),
			    p.get("realm"), args.user, args.realm))
		if p.get("qop") != "auth":
			sys.exit("qop %s, expected auth" % p.get("qop"))
		if args.uri_prefix and not p.get("uri", "").startswith(args.uri_prefix):
			sys.exit("uri %s does not begin with %s" % (p.get("uri"), args.uri_prefix))
		if args.opaque_prefix and not p.get("opaque", "").startswith(args.opaque_prefix):
			sys.exit("opaque %s does not begin with %s" % (p.get("opaque"), args.opaque_prefix))
		want = H(":".join([H("%s:%s:%s" % (args.user, args.realm, args.password)),
		    p["nonce"], p["nc"], p["cnonce"], "auth", H("%s:%s" % (args.method, p["uri"]))]))
		if p["response"] != want:
			sys.exit("wrong response %s, expected %s" % (p["response"], want))
	print("%d digest response(s) in %s correct" % (len(auths), args.header))


def main():
	ap = argparse.ArgumentParser(description=__doc__,
	                             formatter_class=argparse.RawDescriptionHelpFormatter)
	sub = ap.add_subparsers(dest="cmd", required=True)
	p = sub.add_parser("ports")
	p.add_argument("counts", type=int, nargs="+")
	p.add_argument("--owner", type=int, default=os.getppid(),
	               help="PID holding the ports (default: the caller)")
	p.set_defaults(fn=cmd_ports)
	p = sub.add_parser("gen")
	p.add_argument("file")
	p.add_argument("--tone", type=float)
	p.add_argument("--seconds", type=float, default=10)
	p.add_argument("--amplitude", type=float, default=0.3)
	p.add_argument("--seed", type=int, default=1)
	p.set_defaults(fn=cmd_gen)
	p = sub.add_parser("rtp")
	p.add_argument("pcap")
	p.add_argument("--port", type=int, required=True, help="sipp's media port")
	p.add_argument("--peer", type=int, help="only packets from/to this port")
	p.add_argument("--ip", help="only packets from/to this address")
	p.add_argument("--after", type=float, help="epoch time: count packets after it")
	p.add_argument("--window", type=float, nargs=2, metavar=("T0", "T1"),
	               help="epoch times: the --max-gap window")
	p.add_argument("--around", type=float, nargs=2, metavar=("T", "S"),
	               help="window from T-S to T+S")
	p.add_argument("--tone", type=float)
	p.add_argument("--min-rx", type=int)
	p.add_argument("--min-tx", type=int)
	p.add_argument("--min-echo", type=float)
	p.add_argument("--min-rx-after", type=int)
	p.add_argument("--min-echo-after", type=int)
	p.add_argument("--min-window-rx", type=int)
	p.add_argument("--min-rx-before-tx", type=int,
	               help="packets received before sipp's first sent one (early media)")
	p.add_argument("--max-gap", type=int, help="ms")
	p.add_argument("--min-tone", type=float)
	p.add_argument("--single-source", action="store_true")
	p.set_defaults(fn=cmd_rtp)
	p = sub.add_parser("sdp-port")
	p.add_argument("file")
	p.add_argument("--not", dest="not_port", type=int)
	p.set_defaults(fn=cmd_sdp_port)
	p = sub.add_parser("udp")
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--bind", type=int, default=0)
	p.add_argument("--hex")
	p.add_argument("--text")
	p.add_argument("--file")
	p.add_argument("--crlf", action="store_true", help="turn line ends into CRLF")
	p.add_argument("--wait", type=float, default=0)
	p.set_defaults(fn=cmd_udp)
	p = sub.add_parser("digest")
	p.add_argument("file")
	p.add_argument("--header", default="Authorization")
	p.add_argument("--method", required=True)
	p.add_argument("--user", required=True)
	p.add_argument("--realm", required=True)
	p.add_argument("--password", required=True)
	p.add_argument("--count", type=int)
	p.add_argument("--uri-prefix")
	p.add_argument("--opaque-prefix")
	p.add_argument("--algorithm", help="the algorithm every response must name")
	p.set_defaults(fn=cmd_digest)
	args = ap.parse_args()
	args.fn(args)


if __name__ == "__main__":
	main()
