#!/bin/bash
# DTMF as SIP INFO: with [sip] dtmf_info = yes, INFO application/dtmf-relay
# Signal=5 Duration=160 gets 200 and the digit reaches the PSTN: the echo
# telephone sends it back, and the daemon's RTP to sipp holds the two tones
# of 5 (770 + 1336 Hz) for about 160 ms. With dtmf_info = no the INFO gets
# 415 and no digit is heard.
. "$(dirname "$0")/lib.sh"
DLGTOOL="python3 -W ignore $IT_DIR/dlgtool.py"

it_config | sed -e '/^\[sip\]/a dtmf_info = yes' > "$CONF"
it_start_daemon
it_capture_start "udp and (portrange $RTPMIN-$RTPMAX or port $MEDIA1)"
it_uac info uac_dlg_info.xml 100 "$SIPP1" "$MEDIA1" 30 DIGIT=5 INFO_STATUS=200 ||
	fail "INFO Signal=5 did not get 200"
it_capture_stop
$DLGTOOL dtmf "$PCAP" --port "$MEDIA1" --digit 5 --min-frames 5 --max-frames 14 ||
	fail "the digit 5 did not come back from the PSTN side"
grep -q 'DTMF 5 (160 ms) from SIP INFO' "$DLOG" || fail "no log line for the INFO digit"
it_stop_daemon

# Off: 415, nothing played.
rm -f "$PCAP"
it_config > "$CONF"
it_start_daemon
it_capture_start "udp and (portrange $RTPMIN-$RTPMAX or port $MEDIA1)"
it_uac info_off uac_dlg_info.xml 100 "$SIPP1" "$MEDIA1" 30 DIGIT=5 INFO_STATUS=415 ||
	fail "INFO with dtmf_info = no did not get 415"
it_capture_stop
$DLGTOOL dtmf "$PCAP" --port "$MEDIA1" --digit 5 --min-frames 0 --max-frames 0 ||
	fail "a digit was played although dtmf_info = no"
it_stop_daemon
it_log "PASS"
