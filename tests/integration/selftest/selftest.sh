#!/bin/bash
# Self-test of the integration harness, without the daemon: each sipp
# scenario of tests/integration/sipp and each check of ittool.py is run
# against a sipp stand-in (selftest/fake_*.xml) where it must pass, and
# against a wrong stand-in where it must fail (so the checks can fail).
# Prints OK/BAD per case and exits 1 when a case went the wrong way.
. "$(dirname "$0")/../lib.sh"

bad=0
FAKE_MP=$RTPMIN      # the stand-in's media port, inside the capture range

expect() {          # expect pass|fail DESCRIPTION RC
	if { [ "$1" = pass ] && [ "$3" -eq 0 ]; } || { [ "$1" = fail ] && [ "$3" -ne 0 ]; }; then
		echo "OK   $2 (${1}ed as expected)"
	else
		echo "BAD  $2: expected to $1, rc $3"
		bad=$((bad + 1))
	fi
}

# fake NAME TEMPLATE [KEY=VALUE...] [-- sipp args]: the stand-in daemon on $SIPPORT
fake() {
	local name=$1 tpl=$2 kv=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do kv+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	it_render "$IT_DIR/selftest/$tpl" "$T/$name.xml" "${kv[@]}"
	it_sipp_bg "$name" "$T/$name.xml" "$SIPPORT" "$FAKE_MP" 25 "$@"
	FAKE=$SIPP_PID
	sleep 0.3
}

TONE=$T/tone1004.wav
$IT_TOOL gen "$TONE" --tone 1004 --seconds 20
TONE800=$T/tone800.wav
$IT_TOOL gen "$TONE800" --tone 800 --seconds 20

# --- echo: uac_echo vs an rtp_echo stand-in; the analyser sees the echo
it_capture_start
fake f_echo fake_echo.xml STREAM= -- -rtp_echo
it_uac echo uac_echo.xml 100 "$SIPP1" "$MEDIA1" 20 HOLD_MS=3000; expect pass "uac_echo vs echoing UAS" $?
it_sipp_wait "$FAKE" f_echo >/dev/null
# --- no echo: the stand-in does not echo; the echo check must fail
fake f_mute fake_echo.xml STREAM=
it_uac mute uac_echo.xml 100 "$SIPP2" "$MEDIA2" 20 HOLD_MS=2000; expect pass "uac_echo vs silent UAS" $?
it_sipp_wait "$FAKE" f_mute >/dev/null
# --- tone: the stand-in streams 1004 Hz (then 800 Hz)
fake f_tone fake_echo.xml "STREAM=<nop><action><exec rtp_stream=\"$TONE,-1,8\"/></action></nop>"
it_uac tone uac_echo.xml 101 "$SIPP3" "$MEDIA3" 20 HOLD_MS=3000; expect pass "uac_echo vs tone UAS" $?
it_sipp_wait "$FAKE" f_tone >/dev/null
fake f_tone8 fake_echo.xml "STREAM=<nop><action><exec rtp_stream=\"$TONE800,-1,8\"/></action></nop>"
it_uac tone8 uac_echo.xml 101 "$SIPP4" "$MEDIA4" 20 HOLD_MS=3000; expect pass "uac_echo vs 800 Hz UAS" $?
it_sipp_wait "$FAKE" f_tone8 >/dev/null
it_capture_stop

peer=$(it_daemon_media_port echo "$MEDIA1"); expect pass "sdp-port of the answer ($peer)" $?
[ "$peer" = "$FAKE_MP" ]; expect pass "sdp-port is the stand-in's media port" $?
it_rtp "$MEDIA1" --peer "$peer" --min-tx 120 --min-rx 120 --min-echo 0.9; expect pass "echo detected" $?
mid=$(awk -v a="$(it_now)" 'BEGIN { printf "%.3f", a }')
it_rtp "$MEDIA2" --min-tx 80 --min-rx 1; expect fail "no echo: min-rx fails" $?
it_rtp "$MEDIA3" --min-rx 100 --min-echo 0.5; expect fail "tone is not an echo" $?
it_rtp "$MEDIA3" --min-rx 100 --tone 1004 --min-tone 0.8; expect pass "1004 Hz detected" $?
it_rtp "$MEDIA4" --min-rx 100 --tone 1004 --min-tone 0.8; expect fail "800 Hz is not 1004 Hz" $?
first=$($IT_TOOL rtp "$PCAP" --port "$MEDIA1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d["rx_first"]+d["rx_last"])/2)')
it_rtp "$MEDIA1" --around "$first" 1 --max-gap 200 --min-window-rx 80 --after "$first" --min-echo-after 50
expect pass "no gap in the middle of the echo call" $?
it_rtp "$MEDIA1" --around "$mid" 1 --max-gap 200 --min-window-rx 80; expect fail "a window after the call has a gap" $?

# --- gap detection on a synthetic capture: 20 ms packets with a 300 ms hole
python3 - "$T/gap.pcap" <<'EOF'
import struct, sys
f = open(sys.argv[1], "wb")
f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
t = 1000.0
for i in range(200):
	t += 0.3 if i == 100 else 0.02
	rtp = struct.pack(">BBHII", 0x80, 8, i, i * 160, 0x1234) + bytes([i % 251]) * 160
	udp = struct.pack(">HHHH", 30000, 6000, 8 + len(rtp), 0) + rtp
	ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
	                 bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
	eth = b"\0" * 12 + b"\x08\x00" + ip
	f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(eth), len(eth)) + eth)
f.close()
EOF
$IT_TOOL rtp "$T/gap.pcap" --port 6000 --min-rx 200 --max-gap 200; expect fail "synthetic 300 ms gap found" $?
$IT_TOOL rtp "$T/gap.pcap" --port 6000 --min-rx 200 --around 1001.0 0.5 --max-gap 200; expect pass "no gap before the hole" $?

# --- failure responses
fake f_486 fake_fail.xml CODE=486
it_uac busy uac_fail.xml 102 "$SIPP1" "$MEDIA1" 15 CODE=486; expect pass "uac_fail 486 vs 486" $?
it_sipp_wait "$FAKE" f_486 >/dev/null
fake f_404 fake_fail.xml CODE=404
it_uac notbusy uac_fail.xml 102 "$SIPP1" "$MEDIA1" 8 CODE=486; expect fail "uac_fail 486 vs 404" $?
it_sipp_wait "$FAKE" f_404 >/dev/null

# --- cancel
fake f_ring fake_ring.xml
it_uac cancel uac_cancel.xml 103 "$SIPP1" "$MEDIA1" 15; expect pass "uac_cancel vs ringing UAS" $?
it_sipp_wait "$FAKE" f_ring >/dev/null
fake f_ring2 fake_ring_487first.xml
it_uac cancel3 uac_cancel.xml 103 "$SIPP1" "$MEDIA1" 15; expect pass "uac_cancel vs UAS sending 487 before 200" $?
it_sipp_wait "$FAKE" f_ring2 >/dev/null
fake f_busy2 fake_fail.xml CODE=486
it_uac cancel2 uac_cancel.xml 103 "$SIPP1" "$MEDIA1" 8; expect fail "uac_cancel vs busy UAS" $?
it_sipp_wait "$FAKE" f_busy2 >/dev/null

# --- early media
fake f_early fake_early.xml
it_uac early uac_early.xml 105 "$SIPP1" "$MEDIA1" 15 HOLD_MS=1000; expect pass "uac_early vs 183+SDP UAS" $?
it_sipp_wait "$FAKE" f_early >/dev/null
fake f_noearly fake_echo.xml STREAM=
it_uac noearly uac_early.xml 105 "$SIPP1" "$MEDIA1" 8 HOLD_MS=1000; expect fail "uac_early vs plain 200" $?
it_sipp_wait "$FAKE" f_noearly >/dev/null

# --- BYE from the far side
fake f_bye fake_bye.xml
it_uac waitbye uac_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 15 BYE_TIMEOUT_MS=8000; expect pass "uac_wait_bye vs hanging-up UAS" $?
it_sipp_wait "$FAKE" f_bye >/dev/null
fake f_nobye fake_echo.xml STREAM=
it_uac nobye uac_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 10 BYE_TIMEOUT_MS=3000; expect fail "uac_wait_bye without a BYE" $?
it_sipp_wait "$FAKE" f_nobye >/dev/null

# --- inbound: uas_answer vs a UAC with -rtp_echo (stands in for the daemon)
it_capture_start
it_render "$IT_DIR/sipp/uas_answer.xml" "$T/uas.xml" CALLED=2001 BYE_TIMEOUT_MS=10000
it_sipp_bg uas "$T/uas.xml" "$UASPORT" "$MEDIA1" 20 -s 2001
U=$SIPP_PID
sleep 0.3
it_render "$IT_DIR/selftest/fake_inbound.xml" "$T/f_in.xml" HOLD_MS=3000
it_sipp_bg f_in "$T/f_in.xml" "$SIPPORT" "$FAKE_MP" 20 -rtp_echo -s 2001 "127.0.0.1:$UASPORT"
it_sipp_wait "$SIPP_PID" f_in >/dev/null
it_sipp_wait "$U" uas; expect pass "uas_answer vs inbound INVITE to 2001" $?
it_capture_stop
it_rtp "$MEDIA1" --min-tx 100 --min-rx 100 --min-echo 0.9; expect pass "inbound: the UAS's audio came back" $?
it_render "$IT_DIR/sipp/uas_answer.xml" "$T/uas2.xml" CALLED=2001 BYE_TIMEOUT_MS=10000
it_sipp_bg uas2 "$T/uas2.xml" "$UASPORT" "$MEDIA2" 8 -s 2001
U=$SIPP_PID
sleep 0.3
it_sipp_bg f_in2 "$T/f_in.xml" "$SIPPORT" "$FAKE_MP" 8 -rtp_echo -s 2002 "127.0.0.1:$UASPORT"
it_sipp_wait "$SIPP_PID" f_in2 >/dev/null
it_sipp_wait "$U" uas2 >/dev/null; expect fail "uas_answer vs INVITE to 2002" $?

echo "self-test: $bad case(s) went the wrong way"
[ $bad -eq 0 ]
