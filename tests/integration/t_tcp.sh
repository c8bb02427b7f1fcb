#!/bin/bash
# A call to 100 over SIP/TCP (sipp -t t1) works and echoes.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start
it_uac tcp uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=4000 -- -t t1 ||
	fail "the call to 100 over TCP did not complete"
it_capture_stop
grep -q 'SIP/2.0/TCP' "$T/tcp.msg" || fail "sipp did not use TCP"
peer=$(it_daemon_media_port tcp "$MEDIA1") || fail "no SDP answer from the daemon"
it_rtp "$MEDIA1" --peer "$peer" --min-rx 150 --min-echo 0.6 || fail "no echo over the TCP call"
it_stop_daemon
it_log "PASS"
