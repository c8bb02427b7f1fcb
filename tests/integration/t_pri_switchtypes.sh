#!/bin/bash
# Every switch type, with the sim far end on the same one: an answered
# call whose audio comes back byte for byte (100, the far end's phone
# echoes; checked on a capture), then a busy one (102, 486). The far end
# must have received both SETUPs, and the daemon CONNECT and DISCONNECT
# (cause 17) on the D-channel.
. "$(dirname "$0")/lib.sh"

for sw in national ni1 dms100 4ess 5ess euroisdn_e1 euroisdn_t1 qsig; do
	case $sw in
	euroisdn_e1|qsig) type=e1 ;;
	*) type=t1 ;;
	esac
	: > "$DLOG"
	# A-law on every span: sipp's PCMA comes back byte for byte (a mu-law
	# B-channel would transcode it twice)
	it_config | sed "s/^type = e1\$/type = $type\nswitchtype = $sw\nlaw = alaw/" > "$CONF"
	grep -q "^switchtype = $sw\$" "$CONF" || fail "$sw: config not written"
	it_start_daemon
	it_capture_start
	it_uac "echo-$sw" uac_echo.xml 100 "$SIPP1" "$MEDIA1" 30 HOLD_MS=2000 ||
		fail "$sw: the call to 100 failed"
	it_capture_stop
	it_rtp "$MEDIA1" --min-tx 50 --min-rx 50 --min-echo 0.6 ||
		fail "$sw: sipp's audio did not come back through the PSTN call"
	it_uac "busy-$sw" uac_fail.xml 102 "$SIPP2" "$MEDIA2" 20 CODE=486 ||
		fail "$sw: the call to 102 did not end with 486"
	[ "$(it_q931_count sim1/far '<' SETUP)" -eq 2 ] || fail "$sw: the far end did not see 2 SETUPs"
	[ "$(it_q931_count sim1 '<' CONNECT)" -ge 1 ] || fail "$sw: no CONNECT received"
	[ "$(it_q931_count sim1 '<' DISCONNECT)" -ge 1 ] || fail "$sw: no DISCONNECT received"
	grep -F "pri sim1: <" "$DLOG" | grep -q 'Cause:.*(17)' || fail "$sw: no cause 17 received"
	it_wait_calls_gone 5 || fail "$sw: calls still listed: $(ctl calls)"
	it_stop_daemon
	DPID=
	it_log "$sw: PASS"
done
it_log "PASS"
