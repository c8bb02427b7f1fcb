#!/bin/bash
# Dual stack on loopback: the daemon listens for SIP on 127.0.0.1 and [::1]
# (UDP and TCP) with [rtp] address = 127.0.0.1 and address6 = ::1.
# - sipp over IPv6 calls the echo number 100 over UDP while an IPv4 sipp
#   calls it at the same time: the IPv6 call's 200 says IN IP6 ::1 (and
#   never IP4), the IPv4 call's IN IP4 127.0.0.1; both get their audio back
#   over their own family, both end with BYE/200.
# - the same IPv6 call over TCP; a re-INVITE that moves its media to an
#   IPv4 address gets 488 and the call goes on over ::1.
# - alice registers over [::1]; a PSTN call to her number reaches her over
#   IPv6 with an IN IP6 ::1 offer, and her audio comes back; the same for
#   a PSTN call by an inbound [route] whose target is sip:...@[::1].
# - with address6 removed, an IPv6 offer is refused with 488 and a log line.
. "$(dirname "$0")/lib.sh"

ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' ||
	fail "no ::1 on lo (IPv6 disabled?): $(ip -6 addr show dev lo 2>&1)"

write_config() {
	{
		it_config | sed -e "s#^listen_udp = .*#listen_udp = 127.0.0.1:$SIPPORT, [::1]:$SIPPORT#" \
			-e "s#^listen_tcp = .*#listen_tcp = 127.0.0.1:$SIPPORT, [::1]:$SIPPORT#" \
			-e 's#^trusted = .*#trusted = 127.0.0.0/8, ::1\nauth_algorithms = MD5#' \
			-e "s#^address = 127.0.0.1#&${1:+\\naddress6 = $1}#"
		cat <<EOF2

[user alice]
password = secret
number = 2001

[route internet6]
direction = inbound
match = 3
target = sip:{number}@[::1]:$UASPORT
EOF2
	} > "$CONF"
}

# The messages sipp NAME received (its trace without what it sent).
received() {
	awk '/message received/ { r = 1 } /message sent/ { r = 0 } r' "$T/$1.msg"
}

# v6_sipp_bg NAME SCENARIO SIP_PORT MEDIA_PORT TIMEOUT [sipp args]: sipp on ::1
v6_sipp_bg() {
	local saved=$IT_SIPP_IP
	IT_SIPP_IP=::1
	it_sipp_bg "$@"
	IT_SIPP_IP=$saved
}

# pstn_to_v6 NAME CALLED SIP_PORT MEDIA_PORT SECONDS: a sipp UAS on ::1
# answers (uas_answer.xml) the sim far end's call to CALLED of SECONDS;
# the capture runs until it is done. sipp's exit code.
pstn_to_v6() {
	local name=$1 called=$2 rc
	it_capture_start
	it_render "$IT_DIR/sipp/uas_answer.xml" "$T/$name.xml" CALLED="$called" BYE_TIMEOUT_MS=15000
	v6_sipp_bg "$name" "$T/$name.xml" "$3" "$4" 30 -s "$called"
	sleep 0.5
	it_alive "$SIPP_PID" || fail "sipp UAS $name did not start: $(cat "$T/$name.out")"
	ctl sim call sim1 "$called" 5551234 0 "$5" || fail "pstnbridgectl sim call failed"
	it_sipp_wait "$SIPP_PID" "$name"
	rc=$?
	it_capture_stop
	return $rc
}

write_config ::1
grep -q '^address6 = ::1$' "$CONF" || fail "config not written: $(cat "$CONF")"
it_start_daemon

# 1. IPv6 UDP and IPv4 UDP at the same time.
it_capture_start
it_render "$IT_DIR/sipp/uac_echo.xml" "$T/v6udp.xml" HOLD_MS=4000
v6_sipp_bg v6udp "$T/v6udp.xml" "$SIPP1" "$MEDIA1" 30 -s 100 "[::1]:$SIPPORT"
P6=$SIPP_PID
it_uac_bg v4udp uac_echo.xml 100 "$SIPP2" "$MEDIA2" 30 HOLD_MS=4000
P4=$SIPP_PID
it_wait_calls 2 10 || fail "the two calls were not up at once: $(ctl calls)"
ctl calls | sed 's/^/  calls: /'
ctl calls | grep -q 'rtp_local=\[::1\]:' || fail "no call has its RTP on ::1: $(ctl calls)"
ctl calls | grep -q 'rtp_local=127.0.0.1:' || fail "no call has its RTP on 127.0.0.1: $(ctl calls)"
it_sipp_wait "$P6" v6udp || fail "the IPv6 UDP call to 100 did not complete (INVITE/200/ACK/BYE/200)"
it_sipp_wait "$P4" v4udp || fail "the IPv4 UDP call to 100 did not complete"
it_capture_stop
received v6udp | grep -q '^ *c=IN IP6 ::1' || fail "the IPv6 call's 200 does not say c=IN IP6 ::1"
received v6udp | grep -q 'IN IP4' && fail "the IPv6 call's 200 names an IPv4 address"
received v4udp | grep -q '^ *c=IN IP4 127.0.0.1' || fail "the IPv4 call's 200 does not say c=IN IP4"
received v4udp | grep -q 'IN IP6' && fail "the IPv4 call's 200 names an IPv6 address"
peer6=$(it_daemon_media_port v6udp "$MEDIA1") || fail "no SDP answer to the IPv6 call"
peer4=$(it_daemon_media_port v4udp "$MEDIA2") || fail "no SDP answer to the IPv4 call"
it_rtp "$MEDIA1" --peer "$peer6" --ip ::1 --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "the IPv6 call's audio did not come back over ::1"
it_rtp "$MEDIA2" --peer "$peer4" --ip 127.0.0.1 --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "the IPv4 call's audio did not come back over 127.0.0.1"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"

# 2. IPv6 over TCP.
it_capture_start
it_render "$IT_DIR/sipp/uac_echo.xml" "$T/v6tcp.xml" HOLD_MS=3000
v6_sipp_bg v6tcp "$T/v6tcp.xml" "$SIPP3" "$MEDIA3" 30 -s 100 -t t1 "[::1]:$SIPPORT"
it_sipp_wait "$SIPP_PID" v6tcp || fail "the IPv6 TCP call to 100 did not complete"
it_capture_stop
grep -q 'SIP/2.0/TCP' "$T/v6tcp.msg" || fail "sipp did not use TCP"
received v6tcp | grep -q '^ *c=IN IP6 ::1' || fail "the IPv6 TCP call's 200 does not say c=IN IP6 ::1"
peer=$(it_daemon_media_port v6tcp "$MEDIA3") || fail "no SDP answer to the IPv6 TCP call"
it_rtp "$MEDIA3" --peer "$peer" --ip ::1 --min-rx 100 --min-echo 0.6 ||
	fail "the IPv6 TCP call's audio did not come back"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"

# 2b. A re-offer to another family: 488, the audio goes on.
it_capture_start
n0=$(it_log_lines)
it_render "$IT_DIR/sipp/uac_ipv6_reoffer_v4.xml" "$T/v6move.xml" TALK_MS=2000 V4ADDR=127.0.0.1
v6_sipp_bg v6move "$T/v6move.xml" "$SIPP1" "$MEDIA1" 30 -s 100 "[::1]:$SIPPORT"
it_sipp_wait "$SIPP_PID" v6move || fail "the re-INVITE to IPv4 was not refused with 488 (or the call did not end with BYE/200)"
it_capture_stop
it_wait_log_str "re-offer moves the media to another address family" 2 "$n0" ||
	fail "no log line about the refused family change"
peer=$(it_daemon_media_port v6move "$MEDIA1") || fail "no SDP answer to the IPv6 call"
it_rtp "$MEDIA1" --peer "$peer" --ip ::1 --min-tx 170 --min-rx 170 --min-echo 0.6 ||
	fail "the audio did not go on over ::1 after the refused re-offer"
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"

# 3. alice registers over IPv6; the PSTN calls her number.
it_render "$IT_DIR/sipp/reg.xml" "$T/reg6.xml" USER=alice PASS=secret AOR=2001 \
	EXPIRES=300 CODE=200 CONTACT="<sip:2001@[local_ip]:[local_port]>"
v6_sipp_bg reg6 "$T/reg6.xml" "$SIPP4" "$MEDIA4" 10 "[::1]:$SIPPORT"
it_sipp_wait "$SIPP_PID" reg6 || fail "alice could not register over IPv6"
ctl registrations | sed 's/^/  registrations: /'
ctl registrations | grep -q "user=alice .*source=\[::1\]:$SIPP4" ||
	fail "alice's binding does not have her IPv6 source: $(ctl registrations)"
n0=$(it_log_lines)
pstn_to_v6 uas6 2001 "$SIPP4" "$MEDIA4" 4 || fail "alice did not get the INVITE over IPv6 / ACK / BYE"
it_wait_log_str "user alice: INVITE to its contacts" 2 "$n0" || fail "the call did not go by the directory"
received uas6 | grep -q '^INVITE sip:2001@\[::1\]' || fail "the INVITE's Request-URI is not her IPv6 contact"
received uas6 | grep -q '^ *c=IN IP6 ::1' || fail "the INVITE to alice does not offer c=IN IP6 ::1"
received uas6 | grep -q 'IN IP4' && fail "the INVITE to alice names an IPv4 address"
it_rtp "$MEDIA4" --ip ::1 --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "alice's audio did not come back through the PSTN call over IPv6"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"

# 4. A PSTN call by a [route] with an IPv6 target.
pstn_to_v6 route6 3001 "$UASPORT" "$MEDIA2" 3 || fail "the route's IPv6 target did not get the INVITE / ACK / BYE"
received route6 | grep -q '^ *c=IN IP6 ::1' || fail "the INVITE to the IPv6 route target does not offer c=IN IP6 ::1"
it_rtp "$MEDIA2" --ip ::1 --min-tx 100 --min-rx 100 --min-echo 0.6 ||
	fail "the IPv6 route target's audio did not come back"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon

# 5. No address6: an IPv6 offer gets 488 and a log line that says why.
write_config
grep -q '^address6' "$CONF" && fail "address6 still in the config"
it_start_daemon
n0=$(it_log_lines)
it_render "$IT_DIR/sipp/uac_fail.xml" "$T/v6none.xml" CODE=488
v6_sipp_bg v6none "$T/v6none.xml" "$SIPP1" "$MEDIA1" 15 -s 100 "[::1]:$SIPPORT"
it_sipp_wait "$SIPP_PID" v6none || fail "an IPv6 offer without address6 was not refused with 488"
it_wait_log_str "the peer is IPv6 but [rtp] has no IPv6 address" 2 "$n0" ||
	fail "no log line about the missing IPv6 RTP address"
it_wait_calls_gone 5 || fail "the refused call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
