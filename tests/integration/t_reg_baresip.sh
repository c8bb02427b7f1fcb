#!/bin/bash
# A real softphone behind the NAT, called from the PSTN: baresip (no
# STUN/ICE, PCMA only, auto-answer) at 10.0.0.2 registers as alice (digest
# auth) through the NAT; the sim far end then calls alice's number 2001.
# The gateway must send the INVITE to the NAT's public mapping of the
# REGISTER (the NAT drops anything else inbound), with baresip's Contact as
# Request-URI; baresip answers; the far end echoes and hangs up after 7 s.
# Audio both ways from the captures, as t_nat_baresip: >= 98% of the
# gateway's packets reach baresip, >= 90% of baresip's frames come back.
. "$(dirname "$0")/nat/natlib.sh"

command -v baresip >/dev/null || fail "baresip is not installed"
S16=$T/audio-s16.wav
$NATOOL gen-s16 "$S16" --seconds 30 || fail "cannot write $S16"

# The NAT tests' daemon config, with the user alice (MD5 digest, which
# baresip 1.0 answers).
eval "nat_daemon_config_plain() $(declare -f daemon_config | tail -n +2)"
daemon_config() {
	nat_daemon_config_plain "$1" | sed 's#^trusted = .*#&\nauth_algorithms = MD5#'
	cat <<EOF2

[user alice]
password = alicepw
number = 2001
EOF2
}

baresip_reg_run() {
	local bpid n src
	daemon_start "$1"
	mkdir -p "$R/baresip"
	sed -e "s#@IP@#$CLIENT_IP#" -e "s#@AUDIO@#$S16#" -e "s#@OUT@#$R/baresip#" \
		"$NAT_DIR/baresip/config.in" > "$R/baresip/config"
	echo "<sip:alice@$GW_IP>;auth_pass=alicepw;regint=600;answermode=auto;audio_codecs=PCMA" \
		> "$R/baresip/accounts"
	(cd "$R" && exec ip netns exec "$NP-priv" timeout -k 3 30 \
		baresip -f "$R/baresip" -t 20) > "$R/baresip.log" 2>&1 &
	bpid=$!
	BG+=($bpid)
	for n in $(seq 100); do
		ctl registrations 2>/dev/null | grep -q '^user=alice ' && break
		sleep 0.1
	done
	src=$(ctl registrations | sed -n 's/^user=alice .*source=\([^ ]*\).*/\1/p')
	log "registration: $(ctl registrations)"
	[ -n "$src" ] || fail "baresip did not register: $(grep -a -v '^\s*$' "$R/baresip.log" | tail -n 5)"
	case "$src" in
	"$NAT_PUB_IP":*) ;;
	*) fail "the registration's source $src is not the NAT's public address" ;;
	esac
	mark call
	ctl sim call sim1 2001 5551234 0 7 > /dev/null || fail "pstnbridgectl sim call failed"
	wait_call 10 > /dev/null || fail "no call listed: $(tail -n 5 "$R/daemon.log")"
	log "call: $(calls_line)"
	grep -q "sip: INVITE to sip:alice" "$R/daemon.log" || fail "no INVITE to alice's contact"
	for n in $(seq 150); do
		[ -z "$(calls_line)" ] && break
		sleep 0.1
	done
	[ -z "$(calls_line)" ] || fail "the call is still listed 15 s later: $(calls_line)"
	grep -a -E 'packets|established|closed|terminated|incoming' "$R/baresip.log" | tr -d '\r' |
		grep -a -v '^\s*$' | tail -n 6 | sed 's/^/  baresip: /'
	grep -q "state up" "$R/daemon.log" || fail "the call was never answered"
	kill -TERM "$bpid" 2>/dev/null
	wait "$bpid" 2>/dev/null
	daemon_stop
	caps_stop
	analyse --expect-nat --min-delivery 0.98 --min-echo 0.9 --min-client-sent 200 ||
		fail "figures out of bounds (above)"
}

for mode in $(nat_modes strict); do
	nat_run "reg-baresip-$mode" single baresip_reg_run "$mode"
done
nat_summary
