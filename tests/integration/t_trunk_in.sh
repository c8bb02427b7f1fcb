#!/bin/bash
# Calls from a trunk to the PSTN, with [sip] trusted only 127.0.0.1:
#  - from 127.0.0.3, in [trunk carrier] match, without credentials: the
#    call to +44100 reaches the PSTN as 100 (in_format national with
#    country_code 44 and no national prefix) and the echo phone answers
#    (audio back);
#  - from 127.0.0.3 to 106, in the trunk's deny list: 403, no SETUP;
#  - from 127.0.0.4, outside match, without credentials: 401, no SETUP;
#  - from 127.0.0.4 authenticating as the trunk's username: the call goes
#    through (the trunk matched by authentication);
#  - from 127.0.0.4 with a wrong password: 403;
#  - the trunk's max_calls (1) and max_duration (3 s): a second call while
#    one is up gets 403, the first is hung up (BYE) after 3 s.
. "$(dirname "$0")/lib.sh"

{
	it_config | sed 's#^trusted = .*#trusted = 127.0.0.1/32\nauth_algorithms = MD5#'
	cat <<EOF

[trunk carrier]
host = 127.0.0.9
username = carrier
password = tp4ss
match = 127.0.0.3/32
deny = 106
max_calls = 1
max_duration = 3
country_code = 44
national_prefix =
in_format = national
EOF
} > "$CONF"
it_start_daemon

# 1. from the trunk's network: no challenge, number formatted, audio
IT_SIPP_IP=127.0.0.3
from=$(it_log_lines)
it_capture_start
it_uac cidr uac_echo.xml '+44100' "$SIPP1" "$MEDIA1" 30 HOLD_MS=2000 ||
	fail "the trunk's call to +44100 from 127.0.0.3 did not complete"
it_capture_stop
grep -q '401 Unauthorized' "$T/cidr.msg" && fail "the trunk's source was challenged"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'sip: INVITE from 127.0.0.3:[0-9]* to +44100, calling 5550100 trunk carrier' ||
	fail "the INVITE was not taken as the trunk's"
tail -n +"$((from + 1))" "$DLOG" | grep -Eq 'SETUP 100 on span sim1' ||
	fail "no SETUP of 100 (the number in the trunk's in_format)"
it_rtp "$MEDIA1" --min-tx 80 --min-rx 80 --min-echo 0.6 ||
	fail "the trunk caller's audio did not come back"

# 2. the trunk's deny list
from=$(it_log_lines)
it_uac denied uac_fail.xml 106 "$SIPP2" "$MEDIA2" 20 CODE=403 ||
	fail "the trunk's call to 106 (denied) was not refused with 403"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'SETUP' && fail "a denied call reached the span"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'trunk carrier: denied-prefix 106 by prefix 106: 403' ||
	fail "no log line of the trunk's deny"

# 3. outside the trunk's network, no credentials: challenged
IT_SIPP_IP=127.0.0.4
from=$(it_log_lines)
it_uac noauth uac_fail.xml 100 "$SIPP3" "$MEDIA3" 20 CODE=401 ||
	fail "an INVITE from 127.0.0.4 without credentials was not answered 401"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'SETUP' && fail "an unauthenticated INVITE reached the span"

# 4. authenticated as the trunk
from=$(it_log_lines)
it_uac auth uac_sec_auth.xml 100 "$SIPP3" "$MEDIA3" 30 HOLD_MS=1000 -- -au carrier -ap tp4ss ||
	fail "the call authenticated as the trunk did not complete"
tail -n +"$((from + 1))" "$DLOG" | grep -q 'to 100, calling 5550100 trunk carrier' ||
	fail "the authenticated INVITE was not taken as the trunk's"

# 5. wrong password
it_uac wrong uac_sec_auth_fail.xml 100 "$SIPP4" "$MEDIA4" 20 CODE=403 -- -au carrier -ap guess ||
	fail "a wrong trunk password was not refused with 403"
grep -q 'auth failure from 127.0.0.4:[0-9]* user="carrier" reason=wrong-password method=INVITE' "$DLOG" ||
	fail "no fail2ban line for the wrong trunk password"

# 6. the trunk's limits
IT_SIPP_IP=127.0.0.3
it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_uac_bg long uac_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 20 BYE_TIMEOUT_MS=6000
P=$SIPP_PID
it_wait_calls 1 5 || fail "the first call of the trunk is not up"
it_uac second uac_fail.xml 100 "$SIPP2" "$MEDIA2" 20 CODE=403 ||
	fail "a second call over the trunk's max_calls was not refused with 403"
grep -q 'trunk carrier: over max-calls (1 live calls): 403' "$DLOG" ||
	fail "no log line of the trunk's max_calls"
it_sipp_wait "$P" long || fail "the trunk's call was not hung up by max_duration"
grep -q 'max_duration of 3 s reached' "$DLOG" || fail "no max_duration line"

it_wait_calls_gone 5 || fail "calls still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
