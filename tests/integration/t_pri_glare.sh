#!/bin/bash
# Glare: `sim glare` makes the far end hold the daemon's next SETUP until
# it has sent its own SETUP (to 2001 from 5551234) on the same B-channel,
# exclusive, so the two cross on the link. The daemon is the user side:
# it yields (span_pri_glare_yield).
# 1. channel_select = exclusive (default), on an E1 EuroISDN span, a T1
#    national ISDN-2 span and an E1 Q.SIG span (Annex D): the far end refuses the daemon's SETUP with RELEASE COMPLETE cause 44 (its channel is taken),
#    the SIP caller gets 503 (cause 44, RFC 3398 class default) with Reason
#    cause=44; the network's call is offered on that channel and reaches
#    the sipp UAS (2001), which answers; the far end hangs up after 3 s.
# 2. channel_select = preferred: the far end moves the daemon's call to
#    another channel in its CALL PROCEEDING; the SIP caller's call is
#    answered (echo phone 100) and the network's call reaches the UAS too.
. "$(dirname "$0")/lib.sh"

# glare_arm TAG: the UAS for the network's call (sipp uasTAG, pid UAS), then
# glare armed for the daemon's next SETUP.
glare_arm() {
	it_render "$IT_DIR/sipp/uas_answer.xml" "$T/uas$1.xml" CALLED=2001 BYE_TIMEOUT_MS=15000
	it_sipp_bg "uas$1" "$T/uas$1.xml" "$UASPORT" "$MEDIA1" 25 -s 2001
	UAS=$SIPP_PID
	sleep 0.5
	it_alive "$UAS" || fail "sipp UAS did not start: $(cat "$T/uas$1.out")"
	ctl sim glare sim1 2001 5551234 3 || fail "sim glare refused"
}

# Each side received exactly one SETUP (sent messages are logged twice by
# libpri, received ones once), and each sent its own before it received
# the other's: the two crossed.
q931_checks() {
	local a b
	[ "$(it_q931_count sim1/far '<' SETUP)" -eq 1 ] || fail "the far end did not get exactly 1 SETUP"
	[ "$(it_q931_count sim1 '<' SETUP)" -eq 1 ] || fail "the daemon did not get exactly 1 SETUP"
	a=$(it_line_of "$DLOG" 'pri sim1/far: > Message Type: SETUP ')
	b=$(it_line_of "$DLOG" 'pri sim1/far: < Message Type: SETUP ')
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
		fail "the far end did not send its SETUP before it took the daemon's"
	a=$(it_line_of "$DLOG" 'pri sim1: > Message Type: SETUP ')
	b=$(it_line_of "$DLOG" 'pri sim1: < Message Type: SETUP ')
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
		fail "the daemon did not send its SETUP before it took the far end's"
}

# ---- exclusive, on an E1 (EuroISDN), a T1 (national ISDN-2) and a Q.SIG
# span (symmetric: Q.931 Annex D, the end designated network wins)
for sw in euroisdn_e1 national qsig; do
	case $sw in
	euroisdn_e1|qsig) type=e1 free=30 ;;
	*) type=t1 free=23 ;;
	esac
	: > "$DLOG"
	it_config | sed "s/^type = e1\$/type = $type\nswitchtype = $sw/" > "$CONF"
	grep -q "^switchtype = $sw\$" "$CONF" || fail "$sw: config not written"
	it_start_daemon
	it_wait_spans "span sim1 up blocked=no calls=0 free=$free restarting=0 " 5 \
		"$sw: start-up RESTARTs not done"
	glare_arm "-$sw"
	it_uac "ex-$sw" uac_fail.xml 100 "$SIPP1" "$MEDIA2" 15 CODE=503 ||
		fail "$sw: the SIP caller that lost glare did not get 503"
	grep -qE '^Reason: Q\.850;cause=44[^0-9]*' "$T/ex-$sw.msg" ||
		fail "$sw: the 503 has no Reason: Q.850;cause=44"
	it_sipp_wait "$UAS" "uas-$sw" ||
		fail "$sw: the network's call did not reach the UAS (INVITE 2001, ACK, BYE)"
	grep -qF "far end: glare, our SETUP crosses the daemon's" "$DLOG" ||
		fail "$sw: the SETUPs did not cross"
	grep -qF "glare: the network's call takes the channel, ours yields" "$DLOG" ||
		fail "$sw: the daemon did not yield"
	q931_checks
	# the far end refused the daemon's SETUP: RELEASE COMPLETE, cause 44
	awk '/pri sim1: < Message Type: RELEASE COMPLETE/ { rc = 1; n = 0; next }
		rc && /pri sim1: < .*Cause: .*\(44\)/ { found = 1 }
		rc && ++n > 12 { rc = 0 }
		END { exit !found }' "$DLOG" || fail "$sw: no RELEASE COMPLETE with cause 44 from the far end"
	it_wait_calls_gone 5 || fail "$sw: calls left after glare: $(ctl calls)"
	it_wait_spans "span sim1 up blocked=no calls=0 free=$free " 3 "$sw: channels not free after glare"
	it_stop_daemon
	it_log "$sw: PASS"
done

# ---- preferred
it_config | sed -e 's/^congestion = 106$/&\nchannel_select = preferred/' > "$CONF"
grep -q '^channel_select = preferred' "$CONF" || fail "config not rewritten"
: > "$DLOG"
it_start_daemon
it_wait_spans 'span sim1 up blocked=no calls=0 free=30 restarting=0 ' 5 "start-up RESTARTs not done"
glare_arm -preferred
it_uac pref uac_echo.xml 100 "$SIPP1" "$MEDIA2" 15 HOLD_MS=2000 ||
	fail "the SIP caller's call was not answered on another channel"
it_sipp_wait "$UAS" uas-preferred || fail "the network's call did not reach the UAS (INVITE 2001, ACK, BYE)"
grep -qF "glare: the network's call takes the channel, ours waits for another" "$DLOG" ||
	fail "the daemon did not park its call"
grep -qE "far end: channel [0-9]+ busy, call moved to [0-9]+" "$DLOG" ||
	fail "the far end did not move the daemon's call"
q931_checks
[ "$(it_q931_count sim1 '<' CONNECT)" -eq 1 ] || fail "the far end did not answer the moved call"
grep -q 'Cause: .*(44)' "$DLOG" && fail "a call was refused with cause 44"
grep -qE "span=sim1 chan=[0-9]+ the far end moved the call to channel [0-9]+" "$DLOG" ||
	fail "the daemon did not take the channel of the CALL PROCEEDING"
it_wait_calls_gone 5 || fail "calls left after glare: $(ctl calls)"
it_stop_daemon
it_log "PASS"
