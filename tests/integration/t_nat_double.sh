#!/bin/bash
# Two NATs in a row (both nftables masquerade to random ports): the client
# at 10.1.0.2 behind an inner NAT (10.0.0.2) behind the outer one
# (203.0.113.1) calls the echo number 100. Audio both ways: >= 98% of the
# gateway's packets reach the client, >= 90% of its frames come back; its
# SDP, seen on the public side, still names 10.1.0.2. Modes strict and
# on-change.
. "$(dirname "$0")/nat/natlib.sh"

double_run() {
	daemon_start "$1"
	uac_call uac 5000
	sipp_wait "$SIPP_PID" uac || fail "the call did not complete (INVITE/200/ACK/BYE/200)"
	sleep 0.5
	grep -E 'latch' "$R/daemon.log" | sed 's/^/  daemon: /' | tail -n 4
	daemon_stop
	caps_stop
	analyse --expect-nat --min-delivery 0.98 --min-echo 0.9 --min-client-sent 200 ||
		fail "figures out of bounds (above)"
}

for mode in $(nat_modes strict on-change); do
	nat_run "double-$mode" double double_run "$mode"
done
nat_summary
