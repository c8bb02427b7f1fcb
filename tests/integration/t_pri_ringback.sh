#!/bin/bash
# Local ringback: a call to 104 (the sim telephone alerts without in-band
# information, answers after 4 s) gets 180 with an SDP answer, and before
# the answer the RTP that reaches sipp is the ringback of the span's tone
# zone (uk, over [general] de): 400+450 Hz, 0.4 on 0.2 off 0.4 on 2.0 off,
# measured from the capture; after the answer the call echoes. A call to
# 105 (in-band information) gets no local ringback.
. "$(dirname "$0")/lib.sh"

it_config | sed -e 's/^ring_seconds = 1$/ring_seconds = 4\ntonezone = uk/' \
	-e 's/^state_dir = .*/&\ntonezone = de/' > "$CONF"
grep -q '^tonezone = uk' "$CONF" || fail "config not rewritten"
it_start_daemon
it_capture_start
it_uac ring uac_pri_ringback.xml 104 "$SIPP1" "$MEDIA1" 30 HOLD_MS=2000 ||
	fail "no 180 with SDP followed by 200"
it_capture_stop
it_wait_log_str "local ringback (uk)" 1 || fail "no local ringback line in the log"

python3 -W ignore - "$IT_DIR" "$PCAP" "$MEDIA1" "$T/answered" <<'PY' || fail "ringback not measured as uk ringback"
import sys
sys.path.insert(0, sys.argv[1])
import ittool
pcap, port = sys.argv[2], int(sys.argv[3])
rx, tx0 = [], None
for t, src, sport, dst, dport, d in ittool.read_pcap(pcap):
	r = ittool.rtp_payload(d)
	if r is None or r[0] != 8:
		continue
	if dport == port:
		rx.append((t, r[3]))
	elif sport == port and tx0 is None:
		tx0 = t            # sipp sends only after its ACK: the answer
if not rx or tx0 is None:
	sys.exit("no RTP both ways (rx %d)" % len(rx))
before = [p for t, p in rx if t < tx0 - 0.1]
print("rtp before the answer: %d packets, %.2f s" % (len(before), tx0 - rx[0][0]))
if len(before) < 150:
	sys.exit("too little audio before the answer")
frames = [[ittool.alaw_decode(b) for b in p] for p in before if len(p) == 160]
on = [sum(x * x for x in f) / 160 > 1e4 for f in frames]
# runs of on/off, in 20 ms frames, from the first on frame
i = on.index(True)
runs, cur, n = [], True, 0
for v in on[i:]:
	if v != cur:
		runs.append((cur, n * 20))
		cur, n = v, 0
	n += 1
print("runs (on, ms):", runs[:8])
want = [(True, 400), (False, 200), (True, 400), (False, 2000)]
if len(runs) < 3:
	sys.exit("no cadence")
for (st, ms), (wst, wms) in zip(runs, want):
	if st != wst or abs(ms - wms) > 40:
		sys.exit("cadence %s, want %s" % (runs[:4], want))
# frequencies in the on frames: 400 and 450 Hz, nothing at 425 alone
ons = [f for f, v in zip(frames, on) if v]
r400 = sum(ittool.goertzel_ratio(f, 400) for f in ons) / len(ons)
r450 = sum(ittool.goertzel_ratio(f, 450) for f in ons) / len(ons)
r1000 = sum(ittool.goertzel_ratio(f, 1000) for f in ons) / len(ons)
print("energy share 400 Hz %.2f 450 Hz %.2f 1000 Hz %.3f" % (r400, r450, r1000))
if r400 < 0.2 or r450 < 0.2 or r1000 > 0.05:
	sys.exit("not 400+450 Hz")
late = [[ittool.alaw_decode(b) for b in p] for t, p in rx if t > tx0 + 0.3 and len(p) == 160]
late_rb = sum(1 for f in late if ittool.goertzel_ratio(f, 400) > 0.3)
print("after the answer: %d packets, %d with ringback" % (len(late), late_rb))
if late_rb > 0:
	sys.exit("ringback after the answer")
open(sys.argv[4], "w").write("%.3f\n" % (tx0 + 0.3))
PY
it_rtp "$MEDIA1" --after "$(cat "$T/answered")" --min-echo-after 50 ||
	fail "no echo after the answer (the ringback did not stop)"

# In-band information: no local ringback for that call.
from=$(it_log_lines)
it_uac early uac_early.xml 105 "$SIPP2" "$MEDIA2" 30 HOLD_MS=500 || fail "early media call failed"
tail -n +"$((from + 1))" "$DLOG" | grep -q "local ringback" && fail "local ringback despite in-band information"
it_stop_daemon
it_log "PASS"
