#!/bin/bash
# Alarm on a span with calls up: the sim span reports a red alarm (`sim
# alarm sim1 red`, as the dahdi driver reports DAHDI_EVENT_ALARM) with one
# call answered (echo phone 100) and one ringing (noanswer 103). The span
# goes down at once: the answered call ends with a BYE carrying Reason:
# Q.850;cause=38, the ringing one fails with 503 (cause 38), `spans` and
# `status` say down, a new INVITE gets 503. `sim alarm sim1 clear` brings
# the span back up by itself; the far end gets a RESTART for each channel
# that lost its call (clearing its side of them) and acknowledges it, and
# a call goes through again. A yellow and a blue alarm take the span down
# and up the same way.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/pri_lost.sh"

it_write_config
it_start_daemon
pri_lost_calls 20

from=$(it_log_lines)
restarts0=$(it_q931_count sim1/far '<' RESTART)
ctl sim alarm sim1 red || fail "sim alarm red refused"
it_wait_log_str "span=sim1 down (D-channel up, in alarm)" 2 "$from" ||
	fail "the span did not go down on the red alarm"
pri_lost_down "in alarm"
# nothing is restarted while in alarm
got=$(( $(it_q931_count sim1/far '<' RESTART) - restarts0 ))
[ "$got" -eq 0 ] || fail "$got RESTARTs while in alarm"

from=$(it_log_lines)
ctl sim alarm sim1 clear || fail "sim alarm clear refused"
it_wait_log_str "span=sim1 up (D-channel up, no alarm)" 2 "$from" ||
	fail "the span did not come up when the alarm cleared"
pri_lost_back "$from"
# the far end still held the lost calls: the RESTARTs cleared them
for c in $CHANS; do
	grep -qF "span=sim1 chan=$c far end: call cleared by RESTART" <(tail -n +"$from" "$DLOG") ||
		fail "the far end's call on channel $c was not cleared by the RESTART"
done

for kind in yellow blue; do
	ctl sim alarm sim1 $kind || fail "sim alarm $kind refused"
	it_wait_spans 'span sim1 down ' 2 "the span is not down in a $kind alarm"
	ctl sim alarm sim1 clear || fail "sim alarm clear refused"
	it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 8 \
		"the span is not back after the $kind alarm"
done
ctl sim alarm sim1 green 2>/dev/null && fail "an unknown alarm was accepted"
it_stop_daemon
it_log "PASS"
