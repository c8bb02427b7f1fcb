#!/bin/bash
# Toll fraud, per-user limits, from 127.0.0.2 (not trusted):
#  - alice (max_calls = 2) has two calls up; a third gets 403; when they
#    are over she can call again;
#  - bob (max_calls_per_minute = 3) places three short calls; the fourth
#    within the minute gets 403 although none of his calls is up.
. "$(dirname "$0")/lib.sh"

sec_config() {
	it_config | sed 's#^trusted = .*#trusted = 127.0.0.1/32\nauth_algorithms = MD5#'
	cat <<EOT

[user alice]
password = secret
number = 5550100
max_calls = 2

[user bob]
password = secret2
number = 5550200
max_calls_per_minute = 3
EOT
}
sec_config > "$CONF"
it_start_daemon
IT_SIPP_IP=127.0.0.2

# alice: two calls up, the third refused
it_uac_bg a1 uac_sec_auth.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=6000 -- -au alice -ap secret
p1=$SIPP_PID
it_uac_bg a2 uac_sec_auth.xml 100 "$SIPP2" "$MEDIA2" 30 HOLD_MS=6000 -- -au alice -ap secret
p2=$SIPP_PID
n=0
for i in $(seq 100); do
	n=$(ctl calls 2>/dev/null | grep -c 'state=up')
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
[ "$n" -eq 2 ] || fail "alice's two calls are not up: $(ctl calls)"
from=$(it_log_lines)
it_uac a3 uac_sec_auth_fail.xml 100 "$SIPP3" "$MEDIA3" 20 CODE=403 -- -au alice -ap secret ||
	fail "alice's third call was not refused with 403"
it_wait_log 'user alice: over max-calls \(2 live calls\): 403' 5 "$from" ||
	fail "no log line for alice's max_calls"
[ "$(ctl calls | grep -c 'state=up')" -eq 2 ] || fail "the first two calls did not stay up"
it_sipp_wait "$p1" a1 || fail "alice's first call failed"
it_sipp_wait "$p2" a2 || fail "alice's second call failed"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_uac a4 uac_sec_auth.xml 100 "$SIPP3" "$MEDIA3" 30 HOLD_MS=300 -- -au alice -ap secret ||
	fail "alice could not call again once her calls were over"

# bob: three calls in the minute, the fourth refused
for i in 1 2 3; do
	it_uac "b$i" uac_sec_auth.xml 100 "$SIPP4" "$MEDIA4" 30 HOLD_MS=200 -- -au bob -ap secret2 ||
		fail "bob's call $i failed"
done
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
from=$(it_log_lines)
it_uac b4 uac_sec_auth_fail.xml 100 "$SIPP4" "$MEDIA4" 20 CODE=403 -- -au bob -ap secret2 ||
	fail "bob's fourth call in the minute was not refused with 403"
it_wait_log 'user bob: over max-calls-per-minute' 5 "$from" ||
	fail "no log line for bob's max_calls_per_minute"
# alice is not affected by bob's limit
it_uac a5 uac_sec_auth.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=200 -- -au alice -ap secret ||
	fail "alice could not call after bob hit his limit"

it_daemon_alive
it_stop_daemon
it_log "PASS"
