#!/bin/bash
# A call to the unallocated number 199 must fail with 404 (and leave no call behind).
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac unallocated uac_fail.xml 199 "$SIPP1" "$MEDIA1" 20 CODE=404 ||
	fail "a call to 199 did not end with 404"
it_wait_calls_gone 5 || fail "the failed call is still listed: $(ctl calls)"
it_daemon_alive
it_stop_daemon
it_log "PASS"
