#!/bin/bash
# RESTART on span up: two seconds after the span comes up at start-up the
# daemon sends RESTART for every idle B-channel (restart_on_up = yes, the
# default), the libpri far end acknowledges each, and the channels are
# back in the hunt: a call goes through. With restart_on_up = no nothing
# is restarted.
. "$(dirname "$0")/lib.sh"

it_config > "$CONF"
it_start_daemon
it_wait_log_str "span=sim1 up: RESTART of 30 idle B-channels" 5 ||
	fail "no RESTART of the idle channels after the span came up"
for n in $(seq 50); do
	[ "$(grep -c 'span=sim1 RESTART ACKNOWLEDGE of channel' "$DLOG")" -ge 30 ] && break
	sleep 0.1
done
got=$(it_q931_count sim1/far '<' RESTART)
[ "$got" -eq 30 ] || fail "$got RESTARTs reached the far end, want 30 (one per B-channel)"
acks=$(grep -c 'span=sim1 RESTART ACKNOWLEDGE of channel' "$DLOG")
[ "$acks" -eq 30 ] || fail "the daemon took $acks RESTART ACKNOWLEDGEs, want 30"
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 3 "the channels are not back after their RESTART"
it_uac ok uac_fail.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=486 || fail "no call after the start-up RESTART"
it_stop_daemon

it_config | sed -e 's/^congestion = 106$/&\nrestart_on_up = no/' > "$CONF"
grep -q '^restart_on_up = no' "$CONF" || fail "config not rewritten"
: > "$DLOG"
it_start_daemon
sleep 3
got=$(it_q931_count sim1/far '<' RESTART)
[ "$got" -eq 0 ] || fail "$got RESTARTs with restart_on_up = no, want 0"
grep -qF "up: RESTART of" "$DLOG" && fail "restart logged with restart_on_up = no"
it_stop_daemon
it_log "PASS"
