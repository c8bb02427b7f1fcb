#!/bin/bash
# A client that is not behind a NAT (203.0.113.20) but sends its RTP from
# port 6002 while its SDP says 6000: the gateway must keep sending to 6000
# (the learned source has the signalled IP: no NAT), in every latch mode.
# sipp does the signalling, natool.py rtpc the media. Checks: every packet
# of the gateway goes to 203.0.113.20:6000, >= 98% delivered, >= 90% of the
# client's frames come back.
. "$(dirname "$0")/nat/natlib.sh"

asym_run() {
	local port rpid
	daemon_start "$1"
	render "$NAT_DIR/sipp/uac_sdponly.xml" "$R/uac.xml" HOLD_MS=5500 SDP_PORT=6000
	SIPP_MP=16000 sipp_bg uac "$R/uac.xml" 30 -s 100 "$GW_IP:5060"
	port=$(wait_call 10) || fail "no call listed by pstnbridgectl"
	ip netns exec "$NP-priv" $NATOOL rtpc --to "$GW_IP:$port" --bind "$CLIENT_IP" \
		--send-port 6002 --recv-port 6000 --seconds 5 --out "$R/rtpc.json" \
		> "$R/rtpc.log" 2>&1 &
	rpid=$!
	BG+=($rpid)
	wait "$rpid" || fail "rtpc failed: $(cat "$R/rtpc.log")"
	log "client: $(cat "$R/rtpc.json")"
	sipp_wait "$SIPP_PID" uac || fail "the call did not complete (INVITE/200/ACK/BYE/200)"
	sleep 0.5
	grep -E 'latch' "$R/daemon.log" | sed 's/^/  daemon: /' | tail -n 4
	daemon_stop
	caps_stop
	analyse --asym-send-port 6002 --min-delivery 0.98 --min-echo 0.9 --min-client-sent 200 ||
		fail "figures out of bounds (above)"
}

for mode in $(nat_modes strict recent on-change window off); do
	nat_run "asym-$mode" asym asym_run "$mode"
done
nat_summary
