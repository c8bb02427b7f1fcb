# Shared by t_pri_dchan.sh and t_pri_alarm.sh (sourced after lib.sh): a
# span that loses its calls to a failure and comes back.

# pri_lost_calls BYE_TIMEOUT_S: one call answered (echo phone 100, sipp
# "up": BYE with Reason: Q.850;cause=38 expected) and one ringing
# (noanswer 103, sipp "ring": 503 expected). Sets UP, RING (their sipp
# pids) and CHANS (the B-channels they hold, from the far end's log).
pri_lost_calls() {
	local to=$1
	it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 5 \
		"start-up RESTARTs not done"
	it_uac_bg up uac_bye_reason.xml 100 "$SIPP1" "$MEDIA1" $((to + 10)) CAUSE=38 \
		BYE_TIMEOUT_MS=$((to * 1000))
	UP=$SIPP_PID
	it_wait_log_str "far end ringing -> answered" 5 || fail "the call to 100 was not answered"
	it_uac_bg ring uac_fail.xml 103 "$SIPP2" "$MEDIA2" $((to + 10)) CODE=503
	RING=$SIPP_PID
	it_wait_calls 2 5 || fail "two calls are not up: $(ctl calls)"
	sleep 1
	ctl calls | sed 's/^/  calls: /'
	CHANS=$(grep -oE 'span=sim1 chan=[0-9]+ far end idle -> ringing' "$DLOG" |
		grep -oE 'chan=[0-9]+' | cut -d= -f2 | sort -u | tr '\n' ' ')
	[ "$(wc -w <<<"$CHANS")" -eq 2 ] || fail "cannot tell the two calls' channels: '$CHANS'"
	it_log "calls on channels $CHANS"
}

# pri_lost_down WHY: the span is down; both calls ended with cause 38
# (BYE Reason, 503 Reason); no call is left; a new INVITE gets 503.
pri_lost_down() {
	local why=$1
	ctl spans | grep -q '^span sim1 down ' || fail "spans does not say down: $(ctl spans)"
	ctl status | grep -Eq '^span sim1 down( |$)' || fail "status does not say down: $(ctl status)"
	it_sipp_wait "$UP" up || fail "the answered call did not get a BYE with Reason cause=38"
	it_sipp_wait "$RING" ring || fail "the ringing call did not fail with 503"
	grep -qE '^Reason: Q\.850;cause=38[^0-9]*' "$T/ring.msg" ||
		fail "the ringing call's 503 has no Reason: Q.850;cause=38"
	it_wait_calls_gone 5 || fail "calls left on a span $why: $(ctl calls)"
	it_uac down uac_fail.xml 100 "$SIPP3" "$MEDIA3" 10 CODE=503 ||
		fail "a call on the span $why was not refused with 503"
	ctl spans | grep -q '^span sim1 down ' || fail "span came up by itself: $(ctl spans)"
}

# pri_lost_back FROM: after log line FROM the channels of the lost calls
# were RESTARTed and acknowledged, the span is whole again and a call
# (busy phone 102, 486) goes through.
pri_lost_back() {
	local from=$1 c
	for c in $CHANS; do
		it_wait_log "span=sim1 RESTART ACKNOWLEDGE of channel $c\$" 8 "$from" ||
			fail "channel $c (its call was lost) was not RESTARTed and acknowledged"
	done
	it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 8 \
		"the channels are not back"
	it_uac after uac_fail.xml 102 "$SIPP3" "$MEDIA3" 10 CODE=486 ||
		fail "no call after the span came back"
}
