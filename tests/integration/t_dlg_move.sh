#!/bin/bash
# A re-INVITE with a new media port (same address): the daemon's audio
# (the echo of what sipp sends) must follow to the new port, and no more
# go to the old one.
. "$(dirname "$0")/lib.sh"
DLGTOOL="python3 -W ignore $IT_DIR/dlgtool.py"

it_write_config
it_start_daemon
it_capture_start "udp and (portrange $RTPMIN-$RTPMAX or port $MEDIA1 or port $MEDIA2 or port $SIPPORT)"
it_uac move uac_dlg_newport.xml 100 "$SIPP1" "$MEDIA1" 30 TALK_MS=2500 NEWPORT="$MEDIA2" ||
	fail "the re-INVITE with a new port was not answered"
it_capture_stop
$DLGTOOL move "$PCAP" --port "$MEDIA1" --new-port "$MEDIA2" --sip-port "$SIPPORT" --min-echo 40 ||
	fail "the echo did not follow to the new port"
it_stop_daemon
it_log "PASS"
