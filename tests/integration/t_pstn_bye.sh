#!/bin/bash
# A call to 100 is up; pstnbridgectl status/calls describe it (format of
# the control interface); the PSTN far end hangs up (sim hangup): sipp must
# receive a BYE (it answers 200) and the call must be gone.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac_bg bye uac_wait_bye.xml 100 "$SIPP1" "$MEDIA1" 30 BYE_TIMEOUT_MS=15000
P=$SIPP_PID
it_wait_calls 1 10 || fail "the call never showed up in pstnbridgectl calls"
sleep 1.5
st=$(ctl status) || fail "pstnbridgectl status failed"
echo "$st" | sed 's/^/  status: /'
grep -Eq '^accepting=1 calls=1$' <<<"$st" || fail "status does not say accepting=1 calls=1"
grep -Eq '^span sim1 up calls=1$' <<<"$st" || fail "status does not say span sim1 up calls=1"
line=$(ctl calls) || fail "pstnbridgectl calls failed"
it_log "calls: $line"
callid=$(sed -n 's/^Call-ID: *//p' "$T/bye.msg" | head -n 1 | tr -d '\r')
[ -n "$callid" ] || fail "no Call-ID in sipp's trace"
grep -Eq "^id=[^ ]+ state=[^ ]+ span=sim1 chan=[0-9]+ sip=[^ ]+ rtp_local=127\.0\.0\.1:[0-9]+ rtp_remote=127\.0\.0\.1:$MEDIA1 rx=[1-9][0-9]* tx=[1-9][0-9]*( |\$)" <<<"$line" ||
	fail "calls line not as documented (or no RTP counted): $line"
grep -Fq " sip=$callid " <<<"$line" || fail "calls line does not carry sip=$callid"
ctl sim hangup sim1 100 || fail "pstnbridgectl sim hangup failed"
it_log "far end hung up"
it_sipp_wait "$P" bye || fail "sipp did not get a BYE after the PSTN hangup"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
