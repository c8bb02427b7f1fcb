#!/bin/bash
# Races of INVITE transactions, both ways:
# 1. sipp CANCELs after the daemon's 200 (before its ACK): 200 for the
#    CANCEL, the call goes on (echo), BYE gets 200.
# 2. sipp sends BYE before its ACK: 200, the call is released on both
#    sides, and the daemon stops retransmitting its 200.
# 3. The daemon CANCELs (the PSTN hangs up while the SIP side rings) and
#    the SIP side's 200 crosses the CANCEL: the daemon ACKs the 200 and
#    ends the dialog with BYE; nothing is left.
# 4. A forked INVITE answered by two 200s (To tags forkA, forkB): both are
#    ACKed, forkB gets a BYE, forkA carries the call until the PSTN side
#    hangs up.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon

# 1
it_capture_start
it_uac c200 uac_dlg_cancel_after_200.xml 100 "$SIPP1" "$MEDIA1" 30 TALK_MS=2000 ||
	fail "CANCEL after 200: no 200 for the CANCEL, or the call did not go on"
it_capture_stop
it_rtp "$MEDIA1" --min-rx 60 --min-echo 0.5 || fail "no echo after the CANCEL that came too late"
it_wait_calls_gone 5 || fail "1: a call is still listed: $(ctl calls)"

# 2
from=$(it_log_lines)
it_uac byeack uac_dlg_bye_before_ack.xml 100 "$SIPP2" "$MEDIA2" 30 WAIT_MS=3000 ||
	fail "BYE before ACK did not get 200"
it_wait_calls_gone 3 || fail "2: the call is still listed: $(ctl calls)"
ctl status | grep -Eq '^span sim1 up calls=0$' || fail "2: the PSTN side was not released"
n=$(awk '/^SIP\/2.0 200/ { r = 1; next } r && /^CSeq: 1 INVITE/ { c++ } /^$/ { r = 0 } END { print c + 0 }' "$T/byeack.msg")
it_log "2: sipp received the 200 for the INVITE $n time(s)"
[ "$n" -le 2 ] || fail "2: the daemon went on retransmitting its 200 after the BYE ($n)"

# 3
it_render "$IT_DIR/sipp/uas_dlg_cancel_race.xml" "$T/race.xml" CANCEL_TIMEOUT_MS=10000
it_sipp_bg race "$T/race.xml" "$UASPORT" "$MEDIA3" 30 -s 2001
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2001 5551234 0 30 || fail "pstnbridgectl sim call failed"
for i in $(seq 50); do
	ctl calls | grep -q 'state=ringing' && break
	sleep 0.1
done
ctl calls | grep -q 'state=ringing' || fail "3: the call to 2001 never rang: $(ctl calls)"
ctl sim hangup sim1 5551234 || fail "pstnbridgectl sim hangup failed"
it_sipp_wait "$P" race || fail "3: no ACK and BYE for the 200 that crossed the CANCEL"
it_wait_calls_gone 3 || fail "3: the call is still listed: $(ctl calls)"

# 4
it_render "$IT_DIR/sipp/uas_dlg_fork.xml" "$T/fork.xml" BYE_TIMEOUT_MS=15000
it_sipp_bg fork "$T/fork.xml" "$UASPORT" "$MEDIA4" 30 -s 2001
P=$SIPP_PID
sleep 0.5
ctl sim call sim1 2001 5551234 0 3 || fail "pstnbridgectl sim call failed"
it_sipp_wait "$P" fork || fail "4: the second fork was not ACKed and ended, or the first not kept"
grep -q '2xx from another fork' "$DLOG" || fail "4: no log line for the extra fork"
it_wait_calls_gone 3 || fail "4: the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
