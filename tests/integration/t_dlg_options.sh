#!/bin/bash
# OPTIONS as a load balancer's probe: 200 with Allow (INVITE, ACK, CANCEL,
# BYE, OPTIONS, UPDATE, PRACK, INFO), Accept: application/sdp and Supported
# (timer, 100rel) while the gateway takes calls; after SIGTERM, while it
# drains (a CANCEL the callee never answers keeps it draining), 503; the
# daemon still exits 0 within drain_time.
. "$(dirname "$0")/lib.sh"
DLGTOOL="python3 -W ignore $IT_DIR/dlgtool.py"

it_write_config
it_start_daemon
out=$($DLGTOOL options --port "$SIPPORT" --wait 1)
echo "$out" | sed 's/^/  options: /'
head -n 1 <<<"$out" | grep -q '^SIP/2.0 200' || fail "OPTIONS did not get 200"
allow=$(grep -i '^Allow:' <<<"$out" | sed 's/^[^:]*: *//' | tr '\n' ',')
for m in INVITE ACK CANCEL BYE OPTIONS UPDATE PRACK INFO; do
	grep -Eq "(^|[ ,])$m(,|$)" <<<"$allow" || fail "Allow does not list $m: $allow"
done
grep -qi '^Accept: *application/sdp' <<<"$out" || fail "no Accept: application/sdp"
grep -i '^Supported:' <<<"$out" | grep -q 'timer' || fail "Supported does not list timer"

# A PSTN call to a SIP callee that rings and never answers our CANCEL: its
# INVITE transaction keeps the daemon draining after SIGTERM.
it_render "$IT_DIR/sipp/uas_dlg_ring_deaf.xml" "$T/deaf.xml" CANCEL_TIMEOUT_MS=15000 LINGER_MS=8000
it_sipp_bg deaf "$T/deaf.xml" "$UASPORT" "$MEDIA1" 30 -s 2001
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2001 5551234 0 30 || fail "pstnbridgectl sim call failed"
for i in $(seq 50); do
	ctl calls | grep -q 'state=ringing' && break
	sleep 0.1
done
ctl calls | grep -q 'state=ringing' || fail "the call to 2001 never rang: $(ctl calls)"
kill -TERM "$DPID"
it_wait_log 'stopping: no new calls' 5 || fail "the daemon did not start draining"
sleep 0.3
it_alive "$DPID" || fail "the daemon exited at once instead of draining"
out=$($DLGTOOL options --port "$SIPPORT" --wait 1)
echo "$out" | sed 's/^/  options while draining: /'
head -n 1 <<<"$out" | grep -q '^SIP/2.0 503' || fail "OPTIONS while draining did not get 503"
it_sipp_wait "$P" deaf || fail "sipp did not get the CANCEL of the drain"
it_wait_dead "$DPID" 8 || fail "the daemon did not exit within drain_time"
wait "$DPID"
rc=$?
DPID=
[ $rc -eq 0 ] || fail "daemon exit code $rc after SIGTERM"
it_check_sanitizers
it_log "PASS"
