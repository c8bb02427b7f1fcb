#!/bin/bash
# A span blocked in the config takes no new calls, and a reload unblocks it:
# 1. blocked = yes: `status` says blocked; an INVITE gets 503 with
#    Retry-After and Reason cause 34, and no SETUP goes out; a SETUP from
#    the far end is refused with cause 34 (the daemon sends RELEASE
#    COMPLETE) and no INVITE is sent.
# 2. blocked removed, SIGHUP: the span is unblocked in place (no restart of
#    the D-channel) and a call to 102 goes out (SETUP) and gets 486.
. "$(dirname "$0")/lib.sh"

it_config | sed 's/^type = e1$/type = e1\nblocked = yes/' > "$CONF"
grep -q '^blocked = yes$' "$CONF" || fail "config has no blocked span"
it_start_daemon
ctl status | grep -q '^span sim1 up blocked calls=0$' || fail "status does not say blocked: $(ctl status)"

# 1
it_uac blocked uac_fail.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=503 ||
	fail "a call on the blocked span did not get 503"
grep -q '^Retry-After: *[0-9]' "$T/blocked.msg" || fail "the 503 has no Retry-After"
grep -q '^Reason: *Q\.850;cause=34' "$T/blocked.msg" || fail "the 503 has no Reason cause 34"
[ "$(it_q931_count sim1/far '<' SETUP)" -eq 0 ] || fail "a SETUP went out on the blocked span"
grep -q 'span=sim1 call to 102 refused: span blocked' "$DLOG" || fail "no 'refused: span blocked' in the log"
ctl sim call sim1 2001 5551234 0 0 || fail "pstnbridgectl sim call failed"
for n in $(seq 30); do
	[ "$(it_q931_count sim1/far '<' 'RELEASE COMPLETE')" -ge 1 ] && break
	sleep 0.1
done
[ "$(it_q931_count sim1 '<' SETUP)" -eq 1 ] || fail "the daemon did not receive the far end's SETUP"
[ "$(it_q931_count sim1/far '<' 'RELEASE COMPLETE')" -ge 1 ] || fail "the far end's SETUP was not refused"
grep -F "pri sim1/far: <" "$DLOG" | grep -q 'Cause:.*(34)' || fail "the refusal has no cause 34"
grep -q 'inbound call to 2001 refused: span blocked' "$DLOG" || fail "no inbound refusal in the log"
grep -q 'INVITE sip:2001' "$DLOG" && fail "an INVITE was sent for the refused call"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"

# 2
it_config > "$CONF"
kill -HUP "$DPID"
for n in $(seq 50); do
	ctl status | grep -q '^span sim1 up calls=0$' && break
	sleep 0.1
done
ctl status | grep -q '^span sim1 up calls=0$' || fail "not unblocked by the reload: $(ctl status)"
grep -q 'span=sim1 unblocked' "$DLOG" || fail "no 'unblocked' in the log"
grep -q 'span=sim1 reloaded in place' "$DLOG" || fail "the span was not reloaded in place"
it_uac after uac_fail.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=486 ||
	fail "after unblocking, a call to 102 did not get 486"
[ "$(it_q931_count sim1/far '<' SETUP)" -eq 1 ] || fail "no SETUP for the call after unblocking"

it_daemon_alive
it_stop_daemon
it_log "PASS"
