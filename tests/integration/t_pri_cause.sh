#!/bin/bash
# Cause codes both ways, with the Reason header (RFC 3326):
# 1. Internet to PSTN, the far end is busy: the daemon's libpri receives
#    DISCONNECT with cause 17; sipp gets 486 with Reason: Q.850;cause=17.
# 2. PSTN to Internet, the SIP peer refuses with 603 and Reason
#    Q.850;cause=27: the Reason wins over the RFC 3398 mapping of 603 (21):
#    the far end receives DISCONNECT (or RELEASE) with cause 27.
# 3. Same with 486 and no Reason: the far end receives cause 17 (RFC 3398).
. "$(dirname "$0")/lib.sh"

# Q.931 message MSG seen by libpri instance WHO ("sim1" the daemon,
# "sim1/far" the far end) in direction DIR ("<" received, ">" sent): count.
# Causes of the Cause IEs that instance WHO received, one per line, in the
# daemon log after line $MARK.
MARK=0
mark() {
	MARK=$(wc -l < "$DLOG")
}
q931_causes_rx() {
	tail -n +$((MARK + 1)) "$DLOG" | grep -F "pri $1: <" | grep -oE 'Cause: [^(]*\(([0-9]+)\)' |
		grep -oE '\(([0-9]+)\)' | tr -d '()'
}

it_write_config
it_start_daemon

# 1
it_uac busy uac_fail.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=486 ||
	fail "a call to 102 did not end with 486"
grep -q '^Reason: *Q\.850;cause=17' "$T/busy.msg" ||
	fail "the 486 has no Reason: Q.850;cause=17: $(grep -i '^Reason' "$T/busy.msg")"
[ "$(it_q931_count sim1/far '<' SETUP)" -ge 1 ] || fail "the far end saw no SETUP"
[ "$(it_q931_count sim1 '<' DISCONNECT)" -ge 1 ] || fail "the daemon saw no DISCONNECT"
q931_causes_rx sim1 | grep -qx 17 || fail "no cause 17 received by the daemon"
it_wait_calls_gone 5 || fail "the busy call is still listed: $(ctl calls)"

# 2
mark
it_render "$IT_DIR/sipp/uas_pri_reject.xml" "$T/uas603.xml" CALLED=2001 CODE=603 \
	"HEADER=Reason: Q.850;cause=27;text=\"Destination out of order\""
it_sipp_bg uas603 "$T/uas603.xml" "$UASPORT" "$MEDIA2" 20 -s 2001
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2001 5551234 0 0 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas603 || fail "the UAS did not see INVITE / 603 / ACK"
it_wait_calls_gone 5 || fail "the refused call is still listed: $(ctl calls)"
sleep 0.3
q931_causes_rx sim1/far | grep -qx 27 ||
	fail "the far end did not receive cause 27: $(q931_causes_rx sim1/far | tr '\n' ' ')"
q931_causes_rx sim1/far | grep -qx 21 && fail "the far end received 21 (603 mapped, Reason ignored)"

# 3
mark
it_render "$IT_DIR/sipp/uas_pri_reject.xml" "$T/uas486.xml" CALLED=2002 CODE=486 \
	"HEADER=Server: pstnbridge-test"
it_sipp_bg uas486 "$T/uas486.xml" "$UASPORT" "$MEDIA2" 20 -s 2002
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2002 5551234 0 0 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas486 || fail "the UAS did not see INVITE / 486 / ACK"
it_wait_calls_gone 5 || fail "the refused call is still listed: $(ctl calls)"
sleep 0.3
q931_causes_rx sim1/far | grep -qx 17 ||
	fail "the far end did not receive cause 17 for 486: $(q931_causes_rx sim1/far | tr '\n' ' ')"

it_daemon_alive
it_stop_daemon
it_log "PASS"
