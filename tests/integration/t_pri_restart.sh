#!/bin/bash
# A lost RESTART ACKNOWLEDGE (T316): the sim far end loses its first one
# (drop_restart_acks = 1; restart_on_up = no keeps the start-up RESTART
# out of the count); after `pstnbridgectl span restart sim1` the
# channel whose acknowledgement was lost stays out of the hunt, RESTART is
# sent again when restart_timeout (T316, 2 s) expires, and its
# acknowledgement brings the channel back. Then with every acknowledgement
# lost (drop_restart_acks = 100, reload) the RESTART is sent
# restart_attempts (2) times in all, the channels are left out of service
# (error logged) and a call gets 503.
. "$(dirname "$0")/lib.sh"

it_config | sed -e 's/^congestion = 106$/&\nrestart_on_up = no\nrestart_timeout = 2\nrestart_attempts = 3\ndrop_restart_acks = 1/' > "$CONF"
grep -q '^drop_restart_acks = 1' "$CONF" || fail "config not rewritten"
it_start_daemon
t0=$(it_now)
ctl span restart sim1 >/dev/null || fail "span restart failed"
it_wait_log_str "far end: RESTART ACKNOWLEDGE lost (test, 1 of 1)" 3 || fail "the far end lost no ACK"
sleep 0.5
ctl spans | grep -q '^span sim1 up blocked=no calls=0 free=29 restarting=1 ' ||
	fail "the unacknowledged channel is not kept out: $(ctl spans)"
it_wait_log "span=sim1 chan=1 T316 expired: RESTART sent again \(2 of 3\)" 5 || fail "no second RESTART"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
awk -v d="$dt" 'BEGIN { exit !(d >= 1.8) }' || fail "RESTART resent after $dt s, before T316 (2 s)"
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 3 "the channel did not come back"
[ "$(it_q931_count sim1/far '<' RESTART)" -eq 31 ] ||
	fail "$(it_q931_count sim1/far '<' RESTART) RESTARTs at the far end, want 31 (30 + 1 again)"
grep -q "T316 expired: RESTART sent again (3 of 3)" "$DLOG" && fail "a third RESTART though the second was acknowledged"
it_uac ok uac_fail.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=486 || fail "no call after the restart"

# every acknowledgement lost: 2 RESTARTs per channel, then out of service
sed -i -e 's/^drop_restart_acks = 1/drop_restart_acks = 100/' -e 's/^restart_attempts = 3/restart_attempts = 2/' "$CONF"
kill -HUP "$DPID"
it_wait_log_str "span=sim1 reloaded in place" 5 || fail "no reload"
from=$(it_log_lines)
ctl span restart sim1 >/dev/null || fail "span restart failed"
it_wait_log "span=sim1 chan=30 no RESTART ACKNOWLEDGE after 2 RESTARTs: channel left out of service" 8 "$from" ||
	fail "the daemon did not give up after restart_attempts"
n=$(tail -n +"$((from + 1))" "$DLOG" | grep -c "T316 expired: RESTART sent again (2 of 2)")
[ "$n" -eq 30 ] || fail "$n RESTARTs sent again, want 30"
tail -n +"$((from + 1))" "$DLOG" | grep -q "RESTART sent again (3 of" && fail "more than restart_attempts RESTARTs"
ctl spans | grep -q '^span sim1 up blocked=no calls=0 free=0 restarting=30 ' ||
	fail "the channels are not out of service: $(ctl spans)"
it_uac none uac_fail.xml 100 "$SIPP2" "$MEDIA2" 20 CODE=503 || fail "a call found a channel"
it_stop_daemon
it_log "PASS"
