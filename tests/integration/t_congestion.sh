#!/bin/bash
# A call to the congestion number 106 must fail with 503 (and leave no call behind).
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac congestion uac_fail.xml 106 "$SIPP1" "$MEDIA1" 20 CODE=503 ||
	fail "a call to 106 did not end with 503"
it_wait_calls_gone 5 || fail "the failed call is still listed: $(ctl calls)"
it_daemon_alive
it_stop_daemon
it_log "PASS"
