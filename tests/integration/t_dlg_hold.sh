#!/bin/bash
# Hold and resume by re-INVITE (call to the echo number 100, rtp_timeout 3 s,
# rtp_hold_timeout 30 s): a=sendonly from sipp must be answered a=recvonly
# and the daemon then sends no RTP; the call survives 6 s on hold without
# RTP (past rtp_timeout); a=sendrecv resumes: answered a=sendrecv, audio
# flows again and comes back (echo); BYE gets 200; no media timeout logged.
. "$(dirname "$0")/lib.sh"
DLGTOOL="python3 -W ignore $IT_DIR/dlgtool.py"

it_config | sed -e '/^\[rtp\]/a rtp_timeout = 3\nrtp_hold_timeout = 30' > "$CONF"
it_start_daemon
it_capture_start "udp and (portrange $RTPMIN-$RTPMAX or port $MEDIA1 or port $SIPPORT)"
it_uac hold uac_dlg_hold.xml 100 "$SIPP1" "$MEDIA1" 40 TALK_MS=2500 HOLD_MS=6000 ||
	fail "hold (sendonly -> recvonly) / resume (sendrecv) / BYE did not complete"
it_capture_stop
$DLGTOOL hold "$PCAP" --port "$MEDIA1" --sip-port "$SIPPORT" --min-rx 60 --min-echo 40 ||
	fail "media during hold or after resume is wrong"
grep -q 'media timeout' "$DLOG" && fail "the held call hit the media timeout"
grep -q 'rtp_hold\|re-offer: sendonly' "$DLOG" || fail "no re-offer logged"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
