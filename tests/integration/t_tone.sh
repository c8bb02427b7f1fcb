#!/bin/bash
# A call to the tone number 101: what sipp receives decodes (A-law) to a
# 1004 Hz tone in most 20 ms frames, and zero crossings agree.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start
it_uac tone uac_echo.xml 101 "$SIPP1" "$MEDIA1" 30 HOLD_MS=4000 ||
	fail "the call to 101 did not complete"
it_capture_stop

peer=$(it_daemon_media_port tone "$MEDIA1") || fail "no SDP answer from the daemon"
it_rtp "$MEDIA1" --peer "$peer" --min-rx 150 --tone 1004 --min-tone 0.8 ||
	fail "no 1004 Hz tone received"
it_stop_daemon
it_log "PASS"
