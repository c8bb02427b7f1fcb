#!/bin/bash
# Overlap sending, Internet to PSTN: on a span with overlap = yes a call to
# 10 goes out as SETUP without Sending Complete; the sim far end (10 is no
# number yet) answers SETUP ACKNOWLEDGE; the daemon answers the caller 183
# with SDP, and the digit 0 the caller then sends as RFC 4733 events goes
# to the PSTN in an INFORMATION message (not in-band); the far end has 100,
# its echo phone, which answers: 200 and echoed audio.
. "$(dirname "$0")/lib.sh"

it_config | sed -e 's/^congestion = 106$/&\noverlap = yes/' > "$CONF"
grep -q '^overlap = yes' "$CONF" || fail "config not rewritten"
PCAP0=/usr/share/sip-tester/dtmf_2833_0.pcap
[ -r "$PCAP0" ] || fail "no $PCAP0 (sip-tester)"
it_start_daemon
it_capture_start
it_uac ovl uac_pri_overlap.xml 10 "$SIPP1" "$MEDIA1" 30 HOLD_MS=2000 DTMF_PCAP="$PCAP0" ||
	fail "no 183 / 200 for 10 + RFC 4733 digit 0"
it_capture_stop
grep -q "SETUP ACKNOWLEDGE: overlap sending" "$DLOG" || fail "no SETUP ACKNOWLEDGE at the daemon"
# the SETUP the far end got had 10 and no Sending Complete
awk '/pri sim1\/far: < Message Type: SETUP \(5\)/ { s = 1; next }
	s && !/pri sim1\/far: </ { exit }
	s && /Sending Complete/ { sc = 1 }
	s && /Called Party Number.*\x2710\x27/ { n = 1 }
	END { print (n && !sc) ? "overlap" : "en-bloc" }' "$DLOG" | grep -q overlap ||
	fail "the SETUP did not carry 10 without Sending Complete"
grep -q "INFORMATION digit 0 (overlap sending)" "$DLOG" || fail "the digit did not go in INFORMATION"
n=$(grep -c "pri sim1/far: < Message Type: INFORMATION" "$DLOG")
[ "$n" -eq 1 ] || fail "$n INFORMATION messages at the far end, want 1 (one per digit)"
grep -q "far end: INFORMATION, number 100" "$DLOG" || fail "the far end did not complete 100"
it_rtp "$MEDIA1" --min-echo 0.3 || fail "no echo from the far end's 100"
it_stop_daemon
it_log "PASS"
