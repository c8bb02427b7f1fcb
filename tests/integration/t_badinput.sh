#!/bin/bash
# Bad input with a call to 100 up:
# - a garbage UDP datagram to the SIP port: logged "sip: malformed message from";
# - a truncated INVITE (cut inside the headers): logged as malformed or
#   answered 400, never starting a call;
# - an RTP packet of 5 bytes to the call's RTP port: logged "rtp: dropped";
# - an INVITE without Call-ID (parseable, invalid): answered 400;
# - the call keeps its audio afterwards (echo keeps coming back) and ends
#   normally.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start
it_uac_bg call uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=10000
P=$SIPP_PID
it_wait_calls 1 10 || fail "the call never showed up in pstnbridgectl calls"
sleep 1.5
line=$(ctl calls | grep -m1 '^id=')
it_log "call: $line"
rtp_local=$(sed -n 's/.*rtp_local=\([^ ]*\).*/\1/p' <<<"$line")
rport=${rtp_local##*:}
sdpport=$(it_daemon_media_port call "$MEDIA1") || fail "no SDP answer in sipp's trace"
[ -n "$rport" ] && [ "$rport" = "$sdpport" ] ||
	fail "pstnbridgectl calls says rtp_local=$rtp_local, the SDP answer says port $sdpport"
TB=$(it_now)

# 1. garbage
L=$(it_log_lines)
$IT_TOOL udp --port "$SIPPORT" --hex "00ff13377f454c4602010100deadbeef0d0a0d0a8899aabbccddeeff" ||
	fail "cannot send"
it_wait_log 'sip: malformed message from' 5 "$L" || fail "garbage datagram not logged as malformed"
it_daemon_alive

# 2. truncated INVITE
L=$(it_log_lines)
printf 'INVITE sip:100@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bKtrunc%s;rport\nFrom: <sip:5550100@127.0.0.1:%s>;tag=tr1\nTo: <sip:10' \
	"$SIPPORT" "$SIPP2" "$$" "$SIPP2" > "$T/truncated.txt"
$IT_TOOL udp --port "$SIPPORT" --bind "$SIPP2" --file "$T/truncated.txt" --crlf --wait 2 > "$T/truncated.reply" ||
	fail "cannot send"
it_log "reply to the truncated INVITE: $(tr '\n' '|' < "$T/truncated.reply")"
if grep -Eq '^SIP/2.0 [12]' "$T/truncated.reply"; then
	fail "the truncated INVITE was processed as a call"
fi
if ! grep -q '^SIP/2.0 400' "$T/truncated.reply"; then
	it_wait_log 'sip: malformed message from' 3 "$L" ||
		fail "the truncated INVITE was neither answered 400 nor logged as malformed"
fi
it_daemon_alive

# 3. RTP shorter than its header
L=$(it_log_lines)
$IT_TOOL udp --port "$rport" --hex "8008000102" || fail "cannot send"
it_wait_log 'rtp: dropped' 5 "$L" || fail "a 5-byte RTP packet was not logged as dropped"
it_daemon_alive

# 4. INVITE without Call-ID
printf 'INVITE sip:100@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bKnocid%s;rport\nFrom: <sip:5550100@127.0.0.1:%s>;tag=nc1\nTo: <sip:100@127.0.0.1:%s>\nCSeq: 1 INVITE\nContact: <sip:5550100@127.0.0.1:%s>\nMax-Forwards: 70\nContent-Length: 0\n\n' \
	"$SIPPORT" "$SIPP3" "$$" "$SIPP3" "$SIPPORT" "$SIPP3" > "$T/nocallid.txt"
$IT_TOOL udp --port "$SIPPORT" --bind "$SIPP3" --file "$T/nocallid.txt" --crlf --wait 2 > "$T/nocallid.reply" ||
	fail "cannot send"
it_log "reply to the INVITE without Call-ID: $(tr '\n' '|' < "$T/nocallid.reply")"
grep -q '^SIP/2.0 400' "$T/nocallid.reply" || fail "an INVITE without Call-ID did not get 400"
it_daemon_alive

it_sipp_wait "$P" call || fail "the call did not end normally after the bad input"
it_capture_stop
it_rtp "$MEDIA1" --peer "$rport" --after "$TB" --min-echo-after 150 --min-echo 0.6 ||
	fail "the call lost its audio after the bad input"
it_stop_daemon
it_log "PASS"
