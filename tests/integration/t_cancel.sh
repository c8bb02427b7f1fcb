#!/bin/bash
# A call to 103 (rings forever): 180, then sipp CANCELs: 200 for the CANCEL,
# 487 for the INVITE, ACK; no call left behind.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac cancel uac_cancel.xml 103 "$SIPP1" "$MEDIA1" 20 ||
	fail "180 / CANCEL / 200 / 487 did not happen"
it_wait_calls_gone 5 || fail "the cancelled call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
