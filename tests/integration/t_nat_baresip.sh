#!/bin/bash
# A real softphone behind the NAT: baresip (no STUN/ICE, PCMA only) at
# 10.0.0.2 dials the echo number 100 and hangs up after about 7 s. Its SDP
# names 10.0.0.2:7078; the gateway must learn the NAT's address from its
# RTP. Audio both ways, from the captures: >= 98% of the gateway's packets
# reach baresip, >= 90% of baresip's frames come back. Modes strict and
# on-change.
. "$(dirname "$0")/nat/natlib.sh"

command -v baresip >/dev/null || fail "baresip is not installed"
S16=$T/audio-s16.wav
$NATOOL gen-s16 "$S16" --seconds 30 || fail "cannot write $S16"

baresip_run() {
	local bpid
	daemon_start "$1"
	mkdir -p "$R/baresip"
	sed -e "s#@IP@#$CLIENT_IP#" -e "s#@AUDIO@#$S16#" -e "s#@OUT@#$R/baresip#" \
		"$NAT_DIR/baresip/config.in" > "$R/baresip/config"
	echo "<sip:5550100@$GW_IP>;regint=0;answermode=auto;audio_codecs=PCMA" \
		> "$R/baresip/accounts"
	(cd "$R" && exec ip netns exec "$NP-priv" timeout -k 3 20 \
		baresip -f "$R/baresip" -e "/dial sip:100@$GW_IP" -t 7) > "$R/baresip.log" 2>&1 &
	bpid=$!
	BG+=($bpid)
	wait_call 10 > /dev/null || fail "no call listed: $(grep -a -v '^\s*$' "$R/baresip.log" | tail -n 5)"
	log "call: $(calls_line)"
	wait "$bpid"
	log "baresip exited $?"
	grep -a -E 'packets|established|closed|terminated' "$R/baresip.log" | tr -d '\r' |
		grep -a -v '^\s*$' | tail -n 6 | sed 's/^/  baresip: /'
	sleep 0.5
	[ -z "$(calls_line)" ] || fail "the call is still listed after baresip's BYE: $(calls_line)"
	grep -E 'latch' "$R/daemon.log" | sed 's/^/  daemon: /' | tail -n 4
	daemon_stop
	caps_stop
	analyse --expect-nat --min-delivery 0.98 --min-echo 0.9 --min-client-sent 200 ||
		fail "figures out of bounds (above)"
}

for mode in $(nat_modes strict on-change); do
	nat_run "baresip-$mode" single baresip_run "$mode"
done
nat_summary
