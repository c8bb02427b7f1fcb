#!/bin/bash
# A call to 105 (early media): 183 with an SDP answer, then 200; audio
# reaches sipp before the answer (sipp only starts sending after its ACK),
# and the call then echoes (checked from the capture).
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start
it_uac early uac_early.xml 105 "$SIPP1" "$MEDIA1" 30 HOLD_MS=3000 ||
	fail "no 183 with SDP followed by 200"
it_capture_stop
it_rtp "$MEDIA1" --min-rx-before-tx 5 || fail "no early media before the 200"
it_rtp "$MEDIA1" --min-rx 100 --min-echo 0.5 || fail "no echo after the answer"
it_stop_daemon
it_log "PASS"
