#!/bin/bash
# Toll fraud, time and global limits:
#  - alice (max_duration = 2) is hung up by the daemon 2 s after the
#    answer: BYE with Reason cause 16, the PSTN side released too;
#  - [general] max_calls = 1: with one call up, a second call (even from
#    the trusted 127.0.0.1) gets 503 with Retry-After;
#  - [general] max_call_attempts_per_second = 3: of 8 INVITEs sent at once
#    3 or more are let through and some get 503 with Retry-After.
. "$(dirname "$0")/lib.sh"

sec_config() {
	it_config | sed -e 's#^trusted = .*#trusted = 127.0.0.1/32\nauth_algorithms = MD5#' \
	    -e "s#^drain_time = .*#&\nmax_calls = 1\nmax_call_attempts_per_second = $1#"
	cat <<EOT

[user alice]
password = secret
number = 5550100
max_duration = 2
EOT
}
sec_config 0 > "$CONF"
it_start_daemon

# max_duration
IT_SIPP_IP=127.0.0.2
t0=$(it_now)
it_uac dur uac_sec_auth_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 30 BYE_TIMEOUT_MS=6000 -- \
	-au alice -ap secret || fail "alice's call was not hung up by the daemon"
el=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%d", b - a }')
[ "$el" -ge 2 ] && [ "$el" -le 5 ] || fail "the call lasted $el s, max_duration is 2"
grep -q 'max_duration of 2 s reached: hanging up' "$DLOG" || fail "no max_duration log line"
grep -A40 '^BYE ' "$T/dur.msg" | grep -q 'Reason: Q.850;cause=16' ||
	fail "the BYE has no Reason cause 16"
grep -q 'span=sim1 chan=[0-9]* released cause 16' "$DLOG" ||
	fail "the PSTN side was not released with cause 16"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"

# max_calls = 1
IT_SIPP_IP=127.0.0.1
it_uac_bg up uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=3000
pup=$SIPP_PID
it_wait_calls 1 10 || fail "the first call is not listed"
it_uac over uac_fail.xml 100 "$SIPP2" "$MEDIA2" 20 CODE=503 ||
	fail "a second call over max_calls did not get 503"
grep -A40 '^SIP/2.0 503' "$T/over.msg" | grep -q '^Retry-After: [0-9]' ||
	fail "the 503 has no Retry-After"
grep -q 'max_calls (1) reached' "$DLOG" || fail "no max_calls log line"
it_sipp_wait "$pup" up || fail "the first call failed"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_stop_daemon

# max_call_attempts_per_second = 3: 8 INVITEs within a second
sec_config 3 > "$CONF"
it_start_daemon
# (to the unallocated 199: the INVITEs let through end at once with 404)
it_uac burst uac_fail.xml 199 "$SIPP3" "$MEDIA3" 20 CODE=503 -- -m 8 -r 100 -l 8
n404=$(grep -c '^SIP/2.0 404' "$T/burst.msg")
[ "$n404" -ge 3 ] || fail "fewer than 3 INVITEs of the burst were let through ($n404)"
n503=$(grep -c '^SIP/2.0 503' "$T/burst.msg")
[ "$n503" -ge 1 ] || fail "no INVITE of the burst got 503"
grep -A40 '^SIP/2.0 503' "$T/burst.msg" | grep -q '^Retry-After: 1' ||
	fail "the 503 of the attempt limit has no Retry-After: 1"
grep -q 'over max_call_attempts_per_second (3)' "$DLOG" || fail "no attempt-limit log line"
it_wait_calls_gone 10 || fail "calls still listed: $(ctl calls)"
it_daemon_alive
it_stop_daemon
it_log "PASS"
