#!/bin/bash
# The NAT forgets the RTP flow mid-call (its conntrack entry is deleted), so
# the client's next packets leave with a new public port. In every latch
# mode but off the gateway must follow: audio reaches the client again,
# with at most 5 of the gateway's packets and 200 ms lost. With off it
# sends to the signalled (private, unroutable) address: the client gets no
# audio after the rebind (nor before).
. "$(dirname "$0")/nat/natlib.sh"

rebind_run() {
	local mode=$1 n
	daemon_start "$mode"
	uac_call uac 6000
	wait_call 10 > /dev/null || fail "no call listed by pstnbridgectl"
	mark call_start
	sleep 3
	topo_conntrack > "$R/conntrack-before.txt"
	mark rebind
	topo_rebind 6000 > "$R/rebind.log"
	log "rebind: $(cat "$R/rebind.log")"
	sleep 1
	topo_conntrack > "$R/conntrack-after.txt"
	sipp_wait "$SIPP_PID" uac || fail "the call did not complete (INVITE/200/ACK/BYE/200)"
	sleep 0.5
	grep -E 'latch' "$R/daemon.log" | sed 's/^/  daemon: /' | tail -n 6
	daemon_stop
	caps_stop
	if [ "$mode" = off ]; then
		analyse --expect-nat --rebind stop || fail "figures out of bounds (above)"
	else
		analyse --expect-nat --rebind resume --max-lost 5 --max-lost-ms 200 \
			--min-echo 0.9 || fail "figures out of bounds (above)"
	fi
}

for mode in $(nat_modes strict recent on-change window off); do
	nat_run "rebind-$mode" single rebind_run "$mode"
done
nat_summary
