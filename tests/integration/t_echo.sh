#!/bin/bash
# A call to the echo number 100 offering PCMA: sipp sends 4 s of A-law
# audio; the same audio must come back to sipp's media port from the
# daemon's RTP port (the one in its SDP answer); then BYE, 200.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start
it_uac echo uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=4000 ||
	fail "the call to 100 did not complete (INVITE/200/ACK/BYE/200)"
it_capture_stop

peer=$(it_daemon_media_port echo "$MEDIA1") || fail "no SDP answer from the daemon"
[ "$peer" -ge "$RTPMIN" ] && [ "$peer" -le "$RTPMAX" ] ||
	fail "the answer's RTP port $peer is outside $RTPMIN-$RTPMAX"
it_rtp "$MEDIA1" --peer "$peer" --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "the audio did not come back (echo)"
grep -q 'call=' "$DLOG" || fail "no log line carries call="
it_stop_daemon
it_log "PASS"
