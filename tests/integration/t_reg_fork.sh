#!/bin/bash
# Parallel fork: alice registers two contacts (sipp on $SIPP1 and $SIPP2).
# The sim far end calls 2001: both contacts must get an INVITE; the one on
# $SIPP1 answers at once, the one on $SIPP2 only rings and must get a
# CANCEL (Reason cause 26) and answer it with 487. The answered call
# carries audio both ways and ends with the far end's BYE after 5 s.
# Then the CANCEL/200 race: a losing phone that answers after its CANCEL is
# ACKed and sent BYE, and the call stays with the winner.
. "$(dirname "$0")/lib.sh"

{
	it_config | sed 's#^trusted = .*#&\nauth_algorithms = MD5#'
	cat <<EOF2

[user alice]
password = secret
number = 2001
EOF2
} > "$CONF"
it_start_daemon

it_register reg1 "$SIPP1" alice secret 2001 300 200 || fail "first contact refused"
it_register reg2 "$SIPP2" alice secret 2001 300 200 || fail "second contact refused"
[ "$(ctl registrations | grep -c 'user=alice ')" -eq 2 ] || fail "not two contacts: $(ctl registrations)"

it_capture_start
it_render "$IT_DIR/sipp/uas_ring_cancel.xml" "$T/loser.xml" CALLED=2001 CANCEL_TIMEOUT_MS=10000
it_sipp_bg loser "$T/loser.xml" "$SIPP2" "$MEDIA2" 30 -s 2001
PL=$SIPP_PID
it_render "$IT_DIR/sipp/uas_answer.xml" "$T/winner.xml" CALLED=2001 BYE_TIMEOUT_MS=15000
it_sipp_bg winner "$T/winner.xml" "$SIPP1" "$MEDIA1" 30 -s 2001
PW=$SIPP_PID
sleep 0.5
it_alive "$PL" && it_alive "$PW" || fail "a sipp UAS did not start"
n0=$(it_log_lines)
ctl sim call sim1 2001 5551234 0 5 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$PL" loser || fail "the ringing contact did not get INVITE then CANCEL (cause 26)"
it_sipp_wait "$PW" winner || fail "the answering contact did not get INVITE / ACK / BYE"
[ "$(tail -n +"$((n0 + 1))" "$DLOG" | grep -c 'sip: fork: user alice branch')" -eq 2 ] ||
	fail "not two branches"
it_capture_stop
it_rtp "$MEDIA1" --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "the answering contact's audio did not come back"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"

# Again, the losing phone answers after the CANCEL: its 200 must be ACKed
# and its dialog ended with BYE; the PSTN call stays with the first one.
it_register reg3 "$SIPP1" alice secret 2001 300 200 || fail "first contact refresh refused"
it_register reg4 "$SIPP2" alice secret 2001 300 200 || fail "second contact refresh refused"
it_render "$IT_DIR/sipp/uas_late_answer.xml" "$T/late.xml" CALLED=2001 CANCEL_TIMEOUT_MS=10000
it_sipp_bg late "$T/late.xml" "$SIPP2" "$MEDIA2" 30 -s 2001
PL=$SIPP_PID
it_render "$IT_DIR/sipp/uas_answer.xml" "$T/winner2.xml" CALLED=2001 BYE_TIMEOUT_MS=15000
it_sipp_bg winner2 "$T/winner2.xml" "$SIPP1" "$MEDIA3" 30 -s 2001
PW=$SIPP_PID
sleep 0.5
ctl sim call sim1 2001 5551234 0 3 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$PL" late || fail "the late 200 was not ACKed and ended with BYE"
it_sipp_wait "$PW" winner2 || fail "the first answer did not keep the call (INVITE / ACK / BYE)"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
