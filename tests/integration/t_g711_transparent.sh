#!/bin/bash
# Clear channel through the daemon: with a mu-law span and a PCMU call (the
# RTP payload's law is the span's), the G.711 bytes reach the PSTN side and
# come back unchanged. sipp sends 4 s of frames that hold every byte value
# (0x7F, mu-law's -0, included: a decode/encode round trip turns it into
# 0xFF) to the sim echo number; the echo goes RTP -> jitter buffer -> span
# -> sim far end -> span -> RTP, and every echoed frame must be a frame
# sipp sent, byte for byte.
. "$(dirname "$0")/lib.sh"

it_config | sed 's/^type = e1$/type = e1\nlaw = ulaw/' > "$CONF"
grep -q '^law = ulaw$' "$CONF" || fail "could not set the span's law"

# The audio: 60 s of 20 ms frames, each a different shuffle of 0..255 cut
# to 160 bytes, and every 4th frame with a 0x7F run (a mu-law WAV, tag 7).
python3 - "$IT_AUDIO" <<'EOF' || fail "cannot write the mu-law audio"
import random, struct, sys
rng = random.Random(7)
out = bytearray()
for k in range(3000):
	v = list(range(256))
	rng.shuffle(v)
	f = v[:160]
	if k % 4 == 0:
		f[40:48] = [0x7F] * 8
	out += bytes(f)
fmt = struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)
body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
body += b"fact" + struct.pack("<II", 4, len(out))
body += b"data" + struct.pack("<I", len(out)) + out
open(sys.argv[1], "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
EOF

it_start_daemon
it_capture_start
# uac_echo.xml offers PCMA: the same call offering PCMU only.
it_render "$IT_DIR/sipp/uac_echo.xml" "$T/echo.xml" HOLD_MS=4000
sed -i -e 's#RTP/AVP 8#RTP/AVP 0#g' -e 's#rtpmap:8 PCMA/8000#rtpmap:0 PCMU/8000#' \
	-e 's#\(rtp_stream="[^"]*\),-1,8"#\1,-1,0"#' "$T/echo.xml"
grep -q 'rtp_stream=".*,-1,0"' "$T/echo.xml" || fail "scenario not switched to PCMU"
it_sipp_bg echo "$T/echo.xml" "$SIPP1" "$MEDIA1" 30 -s 100 "127.0.0.1:$SIPPORT"
it_sipp_wait "$SIPP_PID" echo || fail "the PCMU call to 100 did not complete"
it_capture_stop

peer=$(it_daemon_media_port echo "$MEDIA1") || fail "no SDP answer from the daemon"
grep -q 'RTP/AVP 0' "$T/echo.msg" || fail "the answer did not take PCMU"

python3 - "$IT_DIR" "$PCAP" "$MEDIA1" "$peer" <<'EOF' || fail "the echoed bytes are not the sent bytes"
import sys
sys.path.insert(0, sys.argv[1])
import ittool
pcap, port, peer = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tx, rx = [], []
for t, src, sport, dst, dport, u in ittool.read_pcap(pcap):
	r = ittool.rtp_payload(u)
	if r is None:
		continue
	if sport == port and dport == peer:
		tx.append(r[3])
	elif sport == peer and dport == port:
		rx.append((r[0], r[3]))
sent = set(tx)
audio = [p for pt, p in rx if pt == 0 and len(set(p)) > 2]
exact = [p for p in audio if p in sent]
wrong = [p for p in audio if p not in sent]
with7f = sum(1 for p in exact if 0x7F in p)
values = set(b for p in exact for b in p)
print("sent %d, received %d (%d audio): %d bit-exact (%d with 0x7F), %d not sent, "
      "%d byte values" % (len(tx), len(rx), len(audio), len(exact), with7f, len(wrong),
                          len(values)))
for p in wrong[:3]:
	print("  not sent: " + p[:32].hex())
ok = len(tx) >= 150 and len(exact) >= 150 and with7f >= 30 and len(values) == 256
# a frame or two at the start or end may be cut by the PLC's fade or the
# buffer's first frame; nothing else may differ
ok = ok and len(wrong) <= 2
sys.exit(0 if ok else 1)
EOF
it_stop_daemon
it_log "PASS"
