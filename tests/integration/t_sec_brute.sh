#!/bin/bash
# Toll fraud, password brute force: 50 guesses of alice's password from
# 127.0.0.3 (not trusted; [sip] auth_fail_limit 10 within 60 s, the
# defaults). The first 10 are challenged and refused (403), each logged on
# a fail2ban line; then the source is blocked: the remaining guesses, and
# any INVITE from 127.0.0.3 after them, get 403 at once without a
# challenge. Meanwhile alice from 127.0.0.2 still calls the echo.
. "$(dirname "$0")/lib.sh"

sec_config() {
	it_config | sed 's#^trusted = .*#trusted = 127.0.0.1/32\nauth_algorithms = MD5#'
	cat <<EOT

[user alice]
password = secret
number = 5550100
EOT
}
sec_config > "$CONF"
it_start_daemon

IT_SIPP_IP=127.0.0.3
it_uac brute uac_sec_brute.xml 100 "$SIPP1" "$MEDIA1" 60 -- -au alice -ap wrong \
	-m 50 -l 1 -r 50 || fail "the 50 guesses did not all end with 403"
# (sipp exits 0 only when all 50 calls ended as the scenario says)
n401=$(grep -c '^SIP/2.0 401' "$T/brute.msg")
[ "$n401" -ge 10 ] && [ "$n401" -le 12 ] ||
	fail "expected about 10 challenges before the block (retransmissions aside), got $n401"
f2b='auth failure from (127\.0\.0\.3):[0-9]+ user="alice" reason=wrong-password'
n=$(grep -cE "$f2b" "$DLOG")
[ "$n" -eq 10 ] || fail "expected 10 logged failures from 127.0.0.3, got $n"
grep -q 'auth: blocking 127.0.0.3 for 600 s after 10 failed authentications within 60 s' "$DLOG" ||
	fail "the block of 127.0.0.3 was not logged"
[ "$(grep -c 'auth: blocking' "$DLOG")" -eq 1 ] || fail "the block was logged more than once"

# still blocked: 403 without a challenge (uac_fail accepts no 401)
it_uac blocked uac_fail.xml 100 "$SIPP2" "$MEDIA2" 20 CODE=403 ||
	fail "127.0.0.3 is not refused at once after the brute force"
grep -q '^SIP/2.0 401' "$T/blocked.msg" && fail "the blocked source was challenged"
# even the right password does not get through from the blocked source
it_uac blocked2 uac_sec_brute.xml 100 "$SIPP2" "$MEDIA2" 20 -- -au alice -ap secret ||
	fail "the right password from the blocked source was not refused"

# the legitimate user elsewhere is not affected
IT_SIPP_IP=127.0.0.2
it_capture_start
it_uac alice uac_sec_auth.xml 100 "$SIPP3" "$MEDIA3" 30 HOLD_MS=2000 -- -au alice -ap secret ||
	fail "alice from 127.0.0.2 could not call during the block"
it_capture_stop
peer=$(it_daemon_media_port alice "$MEDIA3") || fail "no SDP answer for alice"
it_rtp "$MEDIA3" --peer "$peer" --min-tx 60 --min-rx 60 --min-echo 0.6 ||
	fail "alice's audio did not come back"

it_daemon_alive
it_stop_daemon
it_log "PASS"
