#!/bin/bash
# A call to the busy number 102 must fail with 486 (and leave no call behind).
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac busy uac_fail.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=486 ||
	fail "a call to 102 did not end with 486"
it_wait_calls_gone 5 || fail "the failed call is still listed: $(ctl calls)"
it_daemon_alive
it_stop_daemon
it_log "PASS"
