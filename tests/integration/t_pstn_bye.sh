#!/bin/bash
# A call to 100 is up; the PSTN far end hangs up (sim hangup): sipp must
# receive a BYE (it answers 200) and the call must be gone.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac_bg bye uac_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 30 BYE_TIMEOUT_MS=15000
P=$SIPP_PID
it_wait_calls 1 10 || fail "the call never showed up in pstnbridgectl calls"
sleep 1.5
ctl sim hangup sim1 100 || fail "pstnbridgectl sim hangup failed"
it_log "far end hung up"
it_sipp_wait "$P" bye || fail "sipp did not get a BYE after the PSTN hangup"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
