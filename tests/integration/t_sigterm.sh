#!/bin/bash
# SIGTERM with a call to 100 up: sipp receives a BYE (and answers 200), and
# the daemon exits 0 within drain_time (5 s).
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac_bg term uac_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 30 BYE_TIMEOUT_MS=15000
P=$SIPP_PID
it_wait_calls 1 10 || fail "the call never showed up in pstnbridgectl calls"
sleep 1.5
it_stop_daemon 5
it_sipp_wait "$P" term || fail "sipp did not get a BYE when the daemon was stopped"
it_log "PASS"
