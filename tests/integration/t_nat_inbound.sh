#!/bin/bash
# PSTN to Internet through the NAT: the sim far end calls 2001; the route
# sends the INVITE to sip:2001@203.0.113.1:5062, which the NAT forwards to
# the sipp UAS at 10.0.0.2:5060 (SIP only: its RTP is masqueraded to random
# ports like any other flow). The UAS answers with its private address and
# sends audio after the ACK; the gateway learns the NAT's address from it.
# Audio both ways: >= 98% of the gateway's packets reach the client and
# >= 90% of its frames come back (the far-end phone echoes). The far end
# hangs up after 8 s: the gateway's BYE must reach the UAS. Modes strict
# and on-change.
. "$(dirname "$0")/nat/natlib.sh"

inbound_run() {
	local p
	daemon_start "$1"
	topo_forward_sip || fail "cannot add the SIP port forward"
	render "$NAT_DIR/sipp/uas.xml" "$R/uas.xml" BYE_TIMEOUT_MS=20000
	sipp_bg uas "$R/uas.xml" 30 -s 2001
	p=$SIPP_PID
	sleep 0.5
	alive "$p" || fail "the sipp UAS did not start: $(cat "$R/uas.out")"
	ctl sim call sim1 2001 5551234 0 8 || fail "pstnbridgectl sim call failed"
	sipp_wait "$p" uas || fail "the UAS did not get INVITE (PCMA) / ACK / BYE"
	sleep 0.5
	grep -E 'latch' "$R/daemon.log" | sed 's/^/  daemon: /' | tail -n 4
	daemon_stop
	caps_stop
	analyse --expect-nat --min-delivery 0.98 --min-echo 0.9 --min-client-sent 200 ||
		fail "figures out of bounds (above)"
}

for mode in $(nat_modes strict on-change); do
	nat_run "inbound-$mode" single inbound_run "$mode"
done
nat_summary
