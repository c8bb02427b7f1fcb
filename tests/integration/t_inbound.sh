#!/bin/bash
# PSTN to Internet: the sim far end calls 2001 from 5551234 (its phone
# echoes, hangs up after 5 s). The INVITE must reach the sipp UAS on
# $UASPORT with Request-URI and To user 2001; sipp answers PCMA and sends
# audio; that audio must come back to sipp (echoed by the far-end phone);
# after about 5 s sipp must get a BYE.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start
it_render "$IT_DIR/sipp/uas_answer.xml" "$T/uas.xml" CALLED=2001 BYE_TIMEOUT_MS=15000
it_sipp_bg uas "$T/uas.xml" "$UASPORT" "$MEDIA1" 30 -s 2001
P=$SIPP_PID
sleep 0.5
it_alive "$P" || fail "sipp UAS did not start: $(cat "$T/uas.out")"
t0=$(it_now)
ctl sim call sim1 2001 5551234 0 5 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas ||
	fail "the UAS did not see INVITE (R-URI/To 2001, PCMA offered) / ACK / BYE"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
it_log "call ended after $dt s"
awk -v d="$dt" 'BEGIN { exit !(d >= 4.5) }' ||
	fail "the BYE came after $dt s, before the far end's 5 s hold time"
it_capture_stop
it_rtp "$MEDIA1" --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "sipp's audio did not come back through the PSTN call"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
