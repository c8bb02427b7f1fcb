#!/bin/bash
# Session timers (RFC 4028), two calls to 100 at once, each with
# Session-Expires: 90;refresher=uac (the 200 must grant 90;refresher=uac).
# One refreshes by re-INVITE after 40 s and is still up at 70 s (its BYE
# gets 200). The other never refreshes: after 90 - 30 = 60 s the daemon
# must send it a BYE, and release the PSTN side of that call.
. "$(dirname "$0")/lib.sh"

it_config | sed -e '/^\[rtp\]/a rtp_timeout = 0' > "$CONF"
it_start_daemon
it_uac_bg refresh uac_dlg_timer_refresh.xml 100 "$SIPP1" "$MEDIA1" 100 REFRESH_MS=40000 AFTER_MS=30000
PR=$SIPP_PID
t0=$(it_now)
it_uac_bg expire uac_dlg_timer_expire.xml 100 "$SIPP2" "$MEDIA2" 100 BYE_TIMEOUT_MS=75000
PE=$SIPP_PID
it_wait_calls 2 10 || fail "the two calls never showed up: $(ctl calls)"
ctl status | grep -Eq '^span sim1 up calls=2$' || fail "the PSTN side does not have 2 calls"
it_sipp_wait "$PE" expire || fail "no BYE for the call that was not refreshed"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
it_log "the unrefreshed call got its BYE after $dt s"
awk -v d="$dt" 'BEGIN { exit !(d >= 55 && d <= 68) }' || fail "BYE after $dt s, want about 60 s"
grep -q 'session expired without a refresh' "$DLOG" || fail "no session expiry logged"
sleep 0.5
ctl status | grep -Eq '^span sim1 up calls=1$' ||
	fail "the PSTN side of the expired call was not released: $(ctl status)"
it_sipp_wait "$PR" refresh || fail "the refreshed call did not stay up to its BYE"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
