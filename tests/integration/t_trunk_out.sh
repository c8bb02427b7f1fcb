#!/bin/bash
# PSTN to a trunk: the sim far end calls 902071234567 from 02075551234; the
# inbound [route] for 9 names [trunk carrier] (sipp as the provider's proxy
# on $UASPORT, uas_trunk_auth.xml). Asserts: the INVITE goes to the
# trunk's proxy with the number formatted (out_strip 1, e164 with country
# code 44: +442071234567; the calling number +442075551234 in From, with
# from_domain); the 407 is answered with correct credentials in the same
# call (Call-ID) with CSeq 2; the call is bridged: sipp's audio comes back
# echoed by the far-end phone; the far end hangs up after 5 s (BYE).
. "$(dirname "$0")/lib.sh"

{
	it_config
	cat <<EOF

[route totrunk]
direction = inbound
match = 9
trunk = carrier

[trunk carrier]
host = 127.0.0.1
port = $UASPORT
username = gw
password = tpass
from_domain = carrier.example
country_code = 44
out_strip = 1
out_format = e164
EOF
} > "$CONF"
it_start_daemon
it_capture_start
it_render "$IT_DIR/sipp/uas_trunk_auth.xml" "$T/uas.xml" CALLED='\\+442071234567' \
	CALLING='\\+442075551234' DOMAIN=carrier.example USER=gw BYE_TIMEOUT_MS=15000
it_sipp_bg uas "$T/uas.xml" "$UASPORT" "$MEDIA1" 30
P=$SIPP_PID
sleep 0.5
it_alive "$P" || fail "sipp UAS did not start: $(cat "$T/uas.out")"
ctl trunks | grep -q '^trunk=carrier state=idle .*register=no' || fail "trunks: $(ctl trunks)"
ctl sim call sim1 902071234567 02075551234 0 5 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" uas ||
	fail "the provider did not see INVITE (+442071234567, From +442075551234@carrier.example) / 407 / ACK / INVITE with credentials, CSeq 2 / ACK / BYE"
it_capture_stop
it_rtp "$MEDIA1" --min-tx 150 --min-rx 150 --min-echo 0.6 ||
	fail "sipp's audio did not come back through the PSTN call"
grep -q 'trunk carrier: 407 challenge answered' "$DLOG" || fail "no log line of the answered challenge"
$IT_TOOL digest "$T/uas.msg" --header Proxy-Authorization --method INVITE --count 1 \
	--user gw --realm carrier.example --password tpass --uri-prefix 'sip:+442071234567@127.0.0.1:' ||
	fail "the Proxy-Authorization response is wrong"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
