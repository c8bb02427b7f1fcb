#!/bin/bash
# D-channel lost mid-call and restored: the sim far end's layer 2 goes
# away (`sim dchannel sim1 down`: no frame passes either way) with one call
# answered (to the echo phone 100) and one ringing (noanswer 103). The
# daemon's libpri finds the link dead by its own timers (T203, N200 x
# T200); the span goes down, the answered call ends with a BYE carrying
# Reason: Q.850;cause=38, the ringing one fails with 503 (38, RFC 3398),
# `pstnbridgectl spans` says down and a new INVITE gets 503. Once the link
# is restored (`sim dchannel sim1 up`) the span comes up by itself, the
# channels of the lost calls are RESTARTed (and acknowledged), and a call
# goes through again.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 5 "start-up RESTARTs not done"

it_uac_bg up uac_bye_reason.xml 100 "$SIPP1" "$MEDIA1" 40 CAUSE=38 BYE_TIMEOUT_MS=30000
UP=$SIPP_PID
it_wait_log_str "far end ringing -> answered" 5 || fail "the call to 100 was not answered"
it_uac_bg ring uac_fail.xml 103 "$SIPP2" "$MEDIA2" 40 CODE=503
RING=$SIPP_PID
it_wait_calls 2 5 || fail "two calls are not up: $(ctl calls)"
sleep 1
ctl calls | sed 's/^/  calls: /'
# the channels the two calls hold, from the far end's log
chans=$(grep -oE 'span=sim1 chan=[0-9]+ far end idle -> ringing' "$DLOG" |
	grep -oE 'chan=[0-9]+' | cut -d= -f2 | sort -u | tr '\n' ' ')
[ "$(wc -w <<<"$chans")" -eq 2 ] || fail "cannot tell the two calls' channels: '$chans'"
it_log "calls on channels $chans"

from=$(it_log_lines)
restarts0=$(it_q931_count sim1/far '<' RESTART)
t0=$(it_now)
ctl sim dchannel sim1 down || fail "sim dchannel down refused"
it_wait_log_str "span=sim1 down (D-channel down" 25 "$from" ||
	fail "the daemon did not notice the dead D-channel in 25 s"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
it_log "span down $dt s after the link was cut"
ctl spans | grep -q '^span sim1 down ' || fail "spans does not say down: $(ctl spans)"
ctl status | grep -Eq '^span sim1 down( |$)' || fail "status does not say down: $(ctl status)"
it_sipp_wait "$UP" up || fail "the answered call did not get a BYE with Reason cause=38"
it_sipp_wait "$RING" ring || fail "the ringing call did not fail with 503"
grep -q '^SIP/2.0 503 .*' "$T/ring.msg" && grep -qE '^Reason: Q\.850;cause=38[^0-9]*' "$T/ring.msg" ||
	fail "the ringing call's 503 has no Reason: Q.850;cause=38"
it_wait_calls_gone 5 || fail "calls left on a dead span: $(ctl calls)"
# no new call while the span is down
it_uac down uac_fail.xml 100 "$SIPP3" "$MEDIA3" 10 CODE=503 ||
	fail "a call on the dead span was not refused with 503"
ctl spans | grep -q '^span sim1 down ' || fail "span came up on its own: $(ctl spans)"

from=$(it_log_lines)
ctl sim dchannel sim1 up || fail "sim dchannel up refused"
it_wait_log_str "span=sim1 up (D-channel up" 20 "$from" ||
	fail "the span did not come back up within 20 s of the link's return"
for c in $chans; do
	it_wait_log "span=sim1 RESTART ACKNOWLEDGE of channel $c\$" 8 "$from" ||
		fail "channel $c (its call was lost) was not RESTARTed and acknowledged"
done
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 8 \
	"the channels are not back after the recovery"
got=$(( $(it_q931_count sim1/far '<' RESTART) - restarts0 ))
[ "$got" -ge 2 ] || fail "$got RESTARTs reached the far end after the recovery, want the lost channels'"
it_log "$got RESTARTs after the recovery"
it_uac after uac_fail.xml 102 "$SIPP3" "$MEDIA3" 10 CODE=486 ||
	fail "no call after the D-channel came back"
[ "$(it_q931_count sim1/far '<' SETUP)" -ge 3 ] || fail "the far end saw fewer than 3 SETUPs"
it_stop_daemon
it_log "PASS"
