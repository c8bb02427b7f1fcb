#!/bin/bash
# Toll fraud, authentication: with 127.0.0.2 outside [sip] trusted,
#  - an INVITE without credentials to a PSTN number is refused (401
#    challenge, no SETUP towards the span);
#  - the user alice (sipp -au/-ap, MD5 digest, qop=auth) calls the echo
#    number 100 and gets her audio back;
#  - alice dialling an international number (0044..., in the default
#    default_deny, and routed) gets 403 and no SETUP goes out;
#  - a wrong password and an unknown user get the same 403, each logged on
#    one line that the documented fail2ban failregex matches;
#  - 127.0.0.1 (trusted) still calls without credentials.
. "$(dirname "$0")/lib.sh"

sec_config() {
	it_config | sed 's#^trusted = .*#trusted = 127.0.0.1/32\nauth_algorithms = MD5#'
	cat <<EOT

[route intl]
direction = outbound
match = 0
spans = sim1

[user alice]
password = secret
number = 5550100
EOT
}
sec_config > "$CONF"
it_start_daemon

# 1. no credentials from an untrusted source: challenged, nothing placed
IT_SIPP_IP=127.0.0.2
from=$(it_log_lines)
it_uac noauth uac_fail.xml 100 "$SIPP1" "$MEDIA1" 20 CODE=401 ||
	fail "an INVITE without credentials from 127.0.0.2 was not answered 401"
grep -q 'WWW-Authenticate: Digest realm="pstnbridge".*algorithm=MD5.*qop="auth"' "$T/noauth.msg" ||
	fail "the 401 has no MD5 qop=auth challenge"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'SETUP' &&
	fail "an unauthenticated INVITE reached the span"

# 2. alice authenticates and calls the echo
it_capture_start
it_uac alice uac_sec_auth.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=3000 -- -au alice -ap secret ||
	fail "alice's authenticated call to 100 did not complete"
it_capture_stop
grep -q '(authenticated)' "$DLOG" || fail "the call was not logged as authenticated"
peer=$(it_daemon_media_port alice "$MEDIA1") || fail "no SDP answer for alice"
it_rtp "$MEDIA1" --peer "$peer" --min-tx 100 --min-rx 100 --min-echo 0.6 ||
	fail "alice's audio did not come back"
it_wait_calls_gone 5 || fail "alice's call is still listed"

# 3. a blocked prefix: 403, no SETUP
from=$(it_log_lines)
it_uac intl uac_sec_auth_fail.xml 0044207946000 "$SIPP2" "$MEDIA2" 20 CODE=403 -- \
	-au alice -ap secret || fail "alice dialling 0044207946000 did not get 403"
it_wait_log 'user alice: denied-prefix 0044207946000 by prefix 00: 403' 5 "$from" ||
	fail "no log line for the denied prefix"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'SETUP' && fail "the denied call reached the span"

# 4. wrong password, unknown user: the same 403, one fail2ban line each
from=$(it_log_lines)
it_uac wrongpw uac_sec_auth_fail.xml 100 "$SIPP3" "$MEDIA3" 20 CODE=403 -- -au alice -ap guess ||
	fail "a wrong password did not get 403"
it_uac nouser uac_sec_auth_fail.xml 100 "$SIPP4" "$MEDIA4" 20 CODE=403 -- -au mallory -ap secret ||
	fail "an unknown user did not get 403"
sleep 0.3
# the documented filter (man pstnbridge.conf.5), <HOST> as an IPv4 address
f2b='auth failure from (127\.0\.0\.2):[0-9]+ user="[^"]*" reason=[^ ]+'
n=$(tail -n +"$((from + 1))" "$DLOG" | grep -cE "$f2b")
[ "$n" -eq 2 ] || fail "expected 2 fail2ban lines for 127.0.0.2, got $n: $(grep 'auth failure' "$DLOG")"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'user="alice" reason=wrong-password' ||
	fail "no wrong-password line"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'user="mallory" reason=unknown-user' ||
	fail "no unknown-user line"
# the two 403s look the same (status line, no hint of the reason)
s1=$(grep -m1 '^SIP/2.0 403' "$T/wrongpw.msg")
s2=$(grep -m1 '^SIP/2.0 403' "$T/nouser.msg")
[ -n "$s1" ] && [ "$s1" = "$s2" ] || fail "different 403s: '$s1' vs '$s2'"

# 5. the trusted address calls without credentials
IT_SIPP_IP=127.0.0.1
it_uac trusted uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=1000 ||
	fail "the trusted 127.0.0.1 could not call"

it_daemon_alive
it_stop_daemon
it_log "PASS"
