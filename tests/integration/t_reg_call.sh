#!/bin/bash
# The built-in directory: alice (number 2001, which the inbound [route]
# would send elsewhere) registers from sipp on $SIPP1; the sim far end calls
# 2001; the INVITE must reach that sipp (Request-URI its Contact, user
# 2001), which answers; its audio must come back (the far end echoes).
# Then a call to bob's number while bob has no registration is refused
# with cause 20 (subscriber absent), and the inbound route is not tried.
. "$(dirname "$0")/lib.sh"

{
	it_config | sed 's#^trusted = .*#&\nauth_algorithms = MD5#'
	cat <<EOF2

[user alice]
password = secret
number = 2001

[user bob]
password = bobpw
number = 2002
EOF2
} > "$CONF"
it_start_daemon

it_register reg "$SIPP1" alice secret 2001 300 200 || fail "alice could not register"
ctl registrations | grep -qF "user=alice contact=sip:2001@127.0.0.1:$SIPP1 " ||
	fail "not registered: $(ctl registrations)"

it_capture_start
it_render "$IT_DIR/sipp/uas_answer.xml" "$T/uas.xml" CALLED=2001 BYE_TIMEOUT_MS=15000
it_sipp_bg uas "$T/uas.xml" "$SIPP1" "$MEDIA1" 30 -s 2001
P=$SIPP_PID
sleep 0.5
it_alive "$P" || fail "sipp UAS did not start: $(cat "$T/uas.out")"
n0=$(it_log_lines)
ctl sim call sim1 2001 5551234 0 5 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas ||
	fail "the registered contact did not get the INVITE (R-URI 2001) / ACK / BYE"
it_wait_log_str "user alice: INVITE to its contacts" 2 "$n0" || fail "the call did not go by the directory"
it_capture_stop
it_rtp "$MEDIA1" --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "the registered contact's audio did not come back through the PSTN call"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"

# bob has no registration: cause 20, no INVITE anywhere.
n0=$(it_log_lines)
ctl sim call sim1 2002 5551234 0 5 || fail "pstnbridgectl sim call failed"
it_wait_log_str "user bob (number 2002) is not registered" 5 "$n0" || fail "no 'not registered' line"
it_wait_log "cause 20|subscriber absent" 5 "$n0" || fail "the PSTN call was not released with cause 20"
tail -n +"$((n0 + 1))" "$DLOG" | grep -q "INVITE sip:" && fail "an INVITE was sent for an unregistered user"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
