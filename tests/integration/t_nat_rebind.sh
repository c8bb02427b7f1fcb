#!/bin/bash
# The NAT forgets the RTP flow mid-call (its conntrack entry is deleted), so
# the client's next packets leave with a new public port. In every latch
# mode but off the gateway must follow: audio reaches the client again,
# with at most 5 of the gateway's packets and 200 ms lost (those it sent to
# the old mapping before it re-latched), and at most 1 of the client's
# packets lost by the RTP leg (the daemon's `rtp: summary` lost=: strict
# holds the packets of the probation and delivers them once the new source
# is accepted; the jitter buffer may still find them too late to play,
# which the figure in_after_not_echoed shows). With off it
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
		summary=$(grep -m1 'rtp: summary' "$R/daemon.log") ||
			fail "no rtp: summary line in the daemon's log"
		n=$(sed -n 's/.* lost=\(-\{0,1\}[0-9]*\) .*/\1/p' <<< "$summary")
		log "client -> gateway: $(grep -o 'rx=[0-9]* .*lost=[-0-9]*' <<< "$summary")"
		[ -n "$n" ] && [ "$n" -le 1 ] ||
			fail "the RTP leg lost ${n:-?} of the client's packets at the rebind (max 1)"
	fi
}

for mode in $(nat_modes strict recent on-change window off); do
	nat_run "rebind-$mode" single rebind_run "$mode"
done
nat_summary
