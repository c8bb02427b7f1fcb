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

it_write_config
it_start_daemon
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 5 "start-up RESTARTs not done"

it_uac_bg up uac_bye_reason.xml 100 "$SIPP1" "$MEDIA1" 30 CAUSE=38 BYE_TIMEOUT_MS=20000
UP=$SIPP_PID
it_wait_log_str "far end ringing -> answered" 5 || fail "the call to 100 was not answered"
it_uac_bg ring uac_fail.xml 103 "$SIPP2" "$MEDIA2" 30 CODE=503
RING=$SIPP_PID
it_wait_calls 2 5 || fail "two calls are not up: $(ctl calls)"
sleep 1
chans=$(grep -oE 'span=sim1 chan=[0-9]+ far end idle -> ringing' "$DLOG" |
	grep -oE 'chan=[0-9]+' | cut -d= -f2 | sort -u | tr '\n' ' ')
[ "$(wc -w <<<"$chans")" -eq 2 ] || fail "cannot tell the two calls' channels: '$chans'"
it_log "calls on channels $chans"

from=$(it_log_lines)
restarts0=$(it_q931_count sim1/far '<' RESTART)
ctl sim alarm sim1 red || fail "sim alarm red refused"
it_wait_log_str "span=sim1 down (D-channel up, in alarm)" 2 "$from" ||
	fail "the span did not go down on the red alarm"
ctl spans | grep -q '^span sim1 down ' || fail "spans does not say down: $(ctl spans)"
ctl status | grep -Eq '^span sim1 down( |$)' || fail "status does not say down: $(ctl status)"
it_sipp_wait "$UP" up || fail "the answered call did not get a BYE with Reason cause=38"
it_sipp_wait "$RING" ring || fail "the ringing call did not fail with 503"
grep -qE '^Reason: Q\.850;cause=38[^0-9]*' "$T/ring.msg" ||
	fail "the ringing call's 503 has no Reason: Q.850;cause=38"
it_wait_calls_gone 3 || fail "calls left on a span in alarm: $(ctl calls)"
it_uac down uac_fail.xml 100 "$SIPP3" "$MEDIA3" 10 CODE=503 ||
	fail "a call on the span in alarm was not refused with 503"
# in alarm nothing was restarted yet, and the far end still holds the calls
got=$(( $(it_q931_count sim1/far '<' RESTART) - restarts0 ))
[ "$got" -eq 0 ] || fail "$got RESTARTs while in alarm"

from=$(it_log_lines)
ctl sim alarm sim1 clear || fail "sim alarm clear refused"
it_wait_log_str "span=sim1 up (D-channel up, no alarm)" 2 "$from" ||
	fail "the span did not come up when the alarm cleared"
for c in $chans; do
	it_wait_log "span=sim1 RESTART ACKNOWLEDGE of channel $c\$" 8 "$from" ||
		fail "channel $c (its call was lost) was not RESTARTed and acknowledged"
	it_wait_log_str "span=sim1 chan=$c far end: call cleared by RESTART" 1 "$from" ||
		fail "the far end's call on channel $c was not cleared by the RESTART"
done
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 8 \
	"the channels are not back after the alarm"
it_uac after uac_fail.xml 102 "$SIPP3" "$MEDIA3" 10 CODE=486 ||
	fail "no call after the alarm cleared"

for kind in yellow blue; do
	from=$(it_log_lines)
	ctl sim alarm sim1 $kind || fail "sim alarm $kind refused"
	it_wait_spans 'span sim1 down ' 2 "the span is not down in a $kind alarm"
	ctl sim alarm sim1 clear || fail "sim alarm clear refused"
	it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 8 \
		"the span is not back after the $kind alarm"
done
ctl sim alarm sim1 green 2>/dev/null && fail "an unknown alarm was accepted"
it_stop_daemon
it_log "PASS"
