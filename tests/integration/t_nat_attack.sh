#!/bin/bash
# RTP injection: the attacker host (203.0.113.66) sends RTP with a marked
# payload to the call's port
#   A  at call start, before the client sends (the client waits 1.5 s):
#      a random SSRC, and the client's SSRC (sipp's 0xCA110000) from seq 0;
#   B  mid-call: a random SSRC, and the client's SSRC exactly continuing its
#      sequence and timestamp (read from the capture);
#   C  mid-call, spoofing the NAT's public address (new port): a random SSRC.
# strict: the attacker receives nothing, none of its frames comes back out
# of the gateway (the PSTN side echoes what it is given, so an accepted
# frame would be sent back), and the client's audio goes on (>= 98% of the
# gateway's packets delivered, no gap >= 200 ms during B and C).
# Control run, on-change (latch to any new source, by definition): the same
# figures must show the hijack, or the test could not fail.
. "$(dirname "$0")/nat/natlib.sh"

inject() {
	ip netns exec "$NP-att" $NATOOL inject --to "$GW_IP:$PORT" --bind "$ATT_IP:40000" \
		--out "$R/attacker.jsonl" "$@"
}

attack_run() {
	local mode=$1 expect=$2 last ssrc seq ts
	daemon_start "$mode"
	uac_call uac 7000 1500
	PORT=$(wait_call 10) || fail "no call listed by pstnbridgectl"
	mark attack_start
	inject --count 120 --interval 0.01 --ssrc-mode mix --call-ssrc 0xCA110000 \
		--seq 0 --tag 1 > "$R/attack-a.log" 2>&1 &
	BG+=($!)
	mark call_start
	sleep 3.5
	last=$($NATOOL lastrtp "$R/pub.pcap" --src-ip "$NAT_PUB_IP" --dst "$GW_IP:$PORT")
	[ -n "$last" ] || fail "no RTP from the client in the capture yet"
	read -r ssrc seq ts <<<"$last"
	log "client's stream now: ssrc $ssrc seq $seq ts $ts"
	mark attack_mid
	inject --count 100 --interval 0.01 --ssrc-mode mix --call-ssrc "$ssrc" \
		--seq $((seq + 1)) --ts $((ts + 160)) --tag 2 > "$R/attack-b.log" 2>&1 || fail "injector B failed"
	sleep 0.5
	mark attack_spoof
	inject --count 50 --interval 0.02 --ssrc-mode random --tag 3 \
		--spoof-src "$NAT_PUB_IP:$((20000 + RANDOM % 10000))" > "$R/attack-c.log" 2>&1 || fail "injector C failed"
	sipp_wait "$SIPP_PID" uac || fail "the call did not complete (INVITE/200/ACK/BYE/200)"
	sleep 0.5
	cat "$R/attacker.jsonl" | sed 's/^/  attacker: /'
	grep -E 'latch|reject' "$R/daemon.log" | sed 's/^/  daemon: /' | tail -n 8
	daemon_stop
	caps_stop
	if [ "$expect" = rejected ]; then
		analyse --expect-nat --attack rejected --min-delivery 0.98 --min-echo 0.9 ||
			fail "figures out of bounds (above)"
	else
		analyse --expect-nat --attack hijacked || fail "figures out of bounds (above)"
	fi
}

for mode in $(nat_modes strict); do
	nat_run "attack-$mode" single attack_run "$mode" rejected
done
nat_run attack-control-on-change single attack_run on-change hijacked
nat_summary
