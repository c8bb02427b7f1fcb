#!/bin/bash
# Through a real NAT (nftables masquerade, random ports): sipp behind the
# NAT calls the echo number 100, its SDP naming its private 10.0.0.2. The
# gateway must learn the NAT's public address from the RTP: at least 98% of
# the gateway's packets reach the client and at least 90% of the client's
# frames come back to it (echo, byte-exact A-law). Latch modes strict (the
# default) and on-change.
. "$(dirname "$0")/nat/natlib.sh"

echo_run() {
	daemon_start "$1"
	mark call_start
	uac_call uac 5000
	sipp_wait "$SIPP_PID" uac || fail "the call did not complete (INVITE/200/ACK/BYE/200)"
	sleep 0.5
	daemon_stop
	caps_stop
	analyse --expect-nat --min-delivery 0.98 --min-echo 0.9 --min-client-sent 200 ||
		fail "figures out of bounds (above)"
}

for mode in $(nat_modes strict on-change); do
	nat_run "echo-$mode" single echo_run "$mode"
done
nat_summary
