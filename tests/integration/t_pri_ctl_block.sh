#!/bin/bash
# Blocking spans through the control interface (drain): with an echo call
# up on sim1, `pstnbridgectl span block sim1` lets that call go on (it
# ends normally and its audio keeps echoing) while a new call to the route
# is hunted to sim2; `spans` shows the state; sim2 (T1, national) blocked
# too sends SERVICE (out of service) to its far end and new calls get 503;
# `span unblock` brings both back (SERVICE in service on sim2) and calls go
# to sim1 again. An unknown span is an error.
. "$(dirname "$0")/lib.sh"

it_config | sed -e 's/^spans = sim1$/spans = sim1, sim2/' > "$CONF"
cat >> "$CONF" <<EOF2

[span sim2]
driver = sim
type = t1
switchtype = national
echo = 100
busy = 102
EOF2
grep -q '^spans = sim1, sim2$' "$CONF" || fail "config not rewritten"
it_start_daemon
for n in $(seq 50); do
	ctl spans | grep -q '^span sim2 up ' && break
	sleep 0.1
done
ctl spans | sed 's/^/  spans: /'
ctl spans | grep -q '^span sim1 up blocked=no calls=0 free=30 ' || fail "spans: $(ctl spans)"
ctl spans | grep -q '^span sim2 up blocked=no calls=0 free=23 .*switchtype=national' || fail "spans: $(ctl spans)"

it_capture_start
it_uac_bg long uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=5000
LONG=$SIPP_PID
it_wait_calls 1 5 || fail "the first call is not up"
sleep 1
ctl span block sim1 | grep -q '^span sim1 up blocked=ctl calls=1 ' || fail "block sim1: $(ctl spans)"
it_wait_log_str "span=sim1 blocked: no new calls" 2 || fail "no 'blocked' line"
# a new call is hunted to sim2
from=$(it_log_lines)
it_uac busy2 uac_fail.xml 102 "$SIPP2" "$MEDIA2" 20 CODE=486 || fail "a call with sim1 blocked did not reach sim2"
tail -n +"$((from + 1))" "$DLOG" | grep -q "SETUP 102 on span sim2" || fail "the call did not go to sim2"
# both blocked: SERVICE on sim2 (national), 503
ctl span block sim2 >/dev/null || fail "block sim2"
it_wait_log "span=sim2 SERVICE: 23 B-channels out of service" 2 || fail "no SERVICE for sim2"
for n in $(seq 30); do
	[ "$(it_q931_count sim2/far '<' SERVICE)" -ge 23 ] && break
	sleep 0.1
done
[ "$(it_q931_count sim2/far '<' SERVICE)" -ge 23 ] || fail "the far end of sim2 got $(it_q931_count sim2/far '<' SERVICE) SERVICE messages"
it_uac none uac_fail.xml 100 "$SIPP3" "$MEDIA3" 20 CODE=503 || fail "with both spans blocked, no 503"
# the call up before the block went on to its end
it_sipp_wait "$LONG" long || fail "the call up on sim1 did not end normally"
it_capture_stop
it_rtp "$MEDIA1" --min-echo 0.5 || fail "the call on the blocked span lost its audio"

# unblock: calls go to sim1 again; sim2 back in service
ctl span unblock sim1 | grep -q '^span sim1 up blocked=no ' || fail "unblock sim1: $(ctl spans)"
ctl span unblock sim2 >/dev/null || fail "unblock sim2"
it_wait_log "span=sim2 SERVICE: 23 B-channels in service" 2 || fail "no SERVICE in service for sim2"
from=$(it_log_lines)
it_uac busy1 uac_fail.xml 102 "$SIPP2" "$MEDIA2" 20 CODE=486 || fail "after unblocking, no 486 for 102"
tail -n +"$((from + 1))" "$DLOG" | grep -q "SETUP 102 on span sim1" || fail "the call did not go to sim1"
ctl span block nosuch 2>&1 | grep -q "no such span" || fail "an unknown span was not an error"
it_wait_calls_gone 5 || fail "calls left: $(ctl calls)"
it_stop_daemon
it_log "PASS"
