#!/bin/bash
# All B-channels busy: a T1 sim span (23 B-channels) is filled with 23
# calls that ring (103, no answer); the 24th INVITE gets 503 with
# Retry-After and Reason: Q.850;cause=34, and no 24th SETUP goes out on
# the D-channel. Then the 23 calls are cancelled and a new call gets a
# channel again (SETUP sent, 486 from the busy number).
. "$(dirname "$0")/lib.sh"

# 24 calls need 24 RTP port pairs: a bigger range than lib.sh reserves.
read -r RTPMIN < <($IT_TOOL ports --owner $$ 64) || fail "no free ports"
[ -n "${RTPMIN:-}" ] || fail "no free ports"
RTPMAX=$((RTPMIN + 63))

it_config | sed 's/^type = e1$/type = t1/' > "$CONF"
grep -q '^type = t1$' "$CONF" || fail "config has no t1 span"
it_start_daemon

# 23 calls that ring for 6 s, then CANCEL
sed 's#<pause milliseconds="500"/>#<pause milliseconds="6000"/>#' \
	"$IT_DIR/sipp/uac_cancel.xml" > "$T/hold.tpl"
grep -q 'milliseconds="6000"' "$T/hold.tpl" || fail "cannot make the holding scenario"
it_render "$T/hold.tpl" "$T/hold.xml"
it_sipp_bg hold "$T/hold.xml" "$SIPP1" "$MEDIA1" 40 -s 103 -m 23 -l 23 -r 50 \
	"127.0.0.1:$SIPPORT"
HOLD=$SIPP_PID
for n in $(seq 50); do
	ctl status | grep -q '^span sim1 up calls=23$' && break
	sleep 0.1
done
ctl status | grep -q '^span sim1 up calls=23$' || fail "23 calls not up: $(ctl status)"
setups=$(it_q931_count sim1/far '<' SETUP)
[ "$setups" -eq 23 ] || fail "the far end saw $setups SETUPs, not 23"

it_uac busy24 uac_fail.xml 103 "$SIPP2" "$MEDIA2" 20 CODE=503 ||
	fail "the 24th call did not end with 503"
grep -q '^Retry-After: *[0-9]' "$T/busy24.msg" || fail "the 503 has no Retry-After"
grep -q '^Reason: *Q\.850;cause=34' "$T/busy24.msg" ||
	fail "the 503 has no Reason: Q.850;cause=34: $(grep -i '^Reason' "$T/busy24.msg")"
setups=$(it_q931_count sim1/far '<' SETUP)
[ "$setups" -eq 23 ] || fail "a SETUP went out for the 24th call ($setups SETUPs)"
grep -q 'refused: all channels busy' "$DLOG" || fail "no 'all channels busy' in the log"

it_sipp_wait "$HOLD" hold || fail "the 23 held calls did not end with CANCEL / 487"
it_wait_calls_gone 10 || fail "calls still listed: $(ctl calls)"
# each of the 23 was cleared on the D-channel
[ "$(it_q931_count sim1/far '<' DISCONNECT)" -ge 23 ] || fail "fewer than 23 DISCONNECTs"

# a channel is free again
it_uac again uac_fail.xml 102 "$SIPP2" "$MEDIA2" 20 CODE=486 ||
	fail "after the calls ended, a call to 102 did not get 486"
[ "$(it_q931_count sim1/far '<' SETUP)" -eq 24 ] || fail "no SETUP for the call after"

it_daemon_alive
it_stop_daemon
it_log "PASS"
