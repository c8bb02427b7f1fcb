#!/bin/bash
# Caller identity both ways on a Q.SIG span (its SETUP carries the name):
# 1. PSTN to Internet, presentation restricted: the far end's SETUP has
#    5551234, name Alice, presentation restricted, redirecting 5550000
#    (Q.SIG: name and diversion in Facility IEs);
#    the INVITE has From "Anonymous" <sip:anonymous@...>,
#    P-Asserted-Identity "Alice" <sip:5551234@...>, Privacy: id and
#    Diversion <sip:5550000@...>.
# 2. PSTN to Internet, presentation allowed: From "Bob" <sip:5554321@...>,
#    no Privacy.
# 3. Internet to PSTN, sipp sends From anonymous, P-Asserted-Identity
#    5559999, Privacy: id, Diversion 5558888: the SETUP that the far end
#    receives has calling 5559999 with presentation restricted and
#    redirecting 5558888.
. "$(dirname "$0")/lib.sh"

MARK=0
mark() {
	MARK=$(wc -l < "$DLOG")
}
# Lines of the Q.931 messages received by libpri instance $1 after MARK.
q931_rx() {
	tail -n +$((MARK + 1)) "$DLOG" | grep -F "pri $1: <"
}
# The INVITE in a sipp trace (up to its blank line).
invite_of() {
	awk '/^INVITE /{p=1} p&&/^\r?$/{exit} p' "$1"
}

it_config | sed 's/^type = e1$/type = e1\nswitchtype = qsig/' > "$CONF"
grep -q '^switchtype = qsig$' "$CONF" || fail "config has no qsig span"
it_start_daemon

# 1
mark
it_render "$IT_DIR/sipp/uas_pri_reject.xml" "$T/uas1.xml" CALLED=2001 CODE=486 \
	"HEADER=Server: pstnbridge-test"
it_sipp_bg uas1 "$T/uas1.xml" "$UASPORT" "$MEDIA2" 20 -s 2001
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2001 '5551234;name=Alice;restricted;redir=5550000' 0 0 ||
	fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas1 || fail "the UAS did not see INVITE / 486 / ACK"
q931_rx sim1 | grep -q "Message Type: SETUP" || fail "the daemon received no SETUP"
q931_rx sim1 | grep -q "Presentation restricted.*'5551234'" ||
	fail "the SETUP did not carry 5551234 with presentation prohibited"
q931_rx sim1 | grep -qE "(Redirecting Number|Facility).*'5550000'" ||
	fail "the SETUP did not carry the redirecting number 5550000"
inv=$(invite_of "$T/uas1.msg")
echo "$inv" | grep -q '^From: "Anonymous" <sip:anonymous@' ||
	fail "From is not anonymous: $(echo "$inv" | grep '^From')"
echo "$inv" | grep -qi '^P-Asserted-Identity: "Alice" <sip:5551234@' ||
	fail "no P-Asserted-Identity \"Alice\" 5551234: $(echo "$inv" | grep -i asserted)"
echo "$inv" | grep -q '^Privacy: id' || fail "no Privacy: id"
echo "$inv" | grep -q '^Diversion: <sip:5550000@' || fail "no Diversion 5550000"
echo "$inv" | grep -v -i '^P-Asserted-Identity' | grep -q '5551234' &&
	fail "the number leaks outside P-Asserted-Identity"
it_wait_calls_gone 5 || fail "call 1 still listed: $(ctl calls)"

# 2
it_render "$IT_DIR/sipp/uas_pri_reject.xml" "$T/uas2.xml" CALLED=2002 CODE=486 \
	"HEADER=Server: pstnbridge-test"
it_sipp_bg uas2 "$T/uas2.xml" "$UASPORT" "$MEDIA2" 20 -s 2002
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2002 '5554321;name=Bob' 0 0 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas2 || fail "the UAS did not see INVITE / 486 / ACK"
inv=$(invite_of "$T/uas2.msg")
echo "$inv" | grep -q '^From: "Bob" <sip:5554321@' ||
	fail "From is not \"Bob\" 5554321: $(echo "$inv" | grep '^From')"
echo "$inv" | grep -q '^Privacy:' && fail "Privacy sent for an allowed presentation"
echo "$inv" | grep -q '^Diversion:' && fail "Diversion sent for a call not diverted"
it_wait_calls_gone 5 || fail "call 2 still listed: $(ctl calls)"

# 3
mark
it_uac privacy uac_pri_privacy.xml 102 "$SIPP1" "$MEDIA1" 20 CODE=486 ||
	fail "the call with Privacy: id to 102 did not end with 486"
q931_rx sim1/far | grep -q "Message Type: SETUP" || fail "the far end received no SETUP"
q931_rx sim1/far | grep -q "Presentation restricted.*'5559999'" ||
	fail "the far end's SETUP has no 5559999 with presentation prohibited: $(q931_rx sim1/far | grep -A1 'Calling Party')"
q931_rx sim1/far | grep -qE "(Redirecting Number|Facility).*'5558888'" ||
	fail "the far end's SETUP has no redirecting number 5558888"
q931_rx sim1/far | grep -q "Alice" && fail "the name went out despite Privacy: id"
it_wait_calls_gone 5 || fail "call 3 still listed: $(ctl calls)"

it_daemon_alive
it_stop_daemon
it_log "PASS"
