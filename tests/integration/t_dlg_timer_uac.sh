#!/bin/bash
# Session timers with the daemon as the UAC (PSTN to SIP calls), two calls
# at once; each callee grants Session-Expires: 90;refresher=uac, so the
# daemon must refresh (UPDATE, the callee allows it) at about 45 s.
# 2001: the refresh gets 200 and the call lasts until the far end hangs up
# at 60 s (BYE then). 3001: the refresh gets 481; the daemon must end that
# call on both sides at once: BYE to the callee, the PSTN side released.
. "$(dirname "$0")/lib.sh"

{
	it_config | sed -e '/^\[rtp\]/a rtp_timeout = 0'
	printf '\n[route internet3]\ndirection = inbound\nmatch = 3\ntarget = sip:{number}@127.0.0.1:%s\n' "$SIPP3"
} > "$CONF"
it_start_daemon
it_render "$IT_DIR/sipp/uas_dlg_timer.xml" "$T/ok.xml" REFRESH_TIMEOUT_MS=55000 REFRESH_STATUS=200 BYE_TIMEOUT_MS=30000
it_render "$IT_DIR/sipp/uas_dlg_timer.xml" "$T/bad.xml" REFRESH_TIMEOUT_MS=55000 REFRESH_STATUS=481 BYE_TIMEOUT_MS=5000
it_sipp_bg ok "$T/ok.xml" "$UASPORT" "$MEDIA1" 100 -s 2001
PO=$SIPP_PID
it_sipp_bg bad "$T/bad.xml" "$SIPP3" "$MEDIA2" 100 -s 3001
PB=$SIPP_PID
sleep 0.5
t0=$(it_now)
ctl sim call sim1 2001 5551234 0 60 || fail "sim call 2001 failed"
ctl sim call sim1 3001 5551235 0 60 || fail "sim call 3001 failed"
it_wait_calls 2 10 || fail "the two calls never showed up: $(ctl calls)"
it_sipp_wait "$PB" bad || fail "3001: no UPDATE refresh, or no BYE after it failed"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
it_log "3001 ended after $dt s"
awk -v d="$dt" 'BEGIN { exit !(d >= 40 && d <= 52) }' || fail "3001: refresh/BYE after $dt s, want about 45 s"
grep -q 'session refresh failed (481)' "$DLOG" || fail "no failed refresh logged"
sleep 0.5
ctl status | grep -Eq '^span sim1 up calls=1$' || fail "3001: the PSTN side was not released: $(ctl status)"
it_sipp_wait "$PO" ok || fail "2001: the refreshed call did not last until the far end hung up"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
awk -v d="$dt" 'BEGIN { exit !(d >= 58) }' || fail "2001 ended after $dt s, before the far end's 60 s"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
