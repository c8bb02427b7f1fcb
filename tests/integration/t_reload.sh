#!/bin/bash
# Reload with a call up.
# - before: 107 is not configured (unallocated, 404);
# - call 1 to 100 with audio; the config gets 107 as an echo number; SIGHUP;
#   the log says "config reloaded"; a call to 107 now works and echoes;
# - a broken config (unknown key) on SIGHUP: "reload refused" and the error
#   as FILE:LINE: [general] key: message; the daemon keeps working (a third
#   call to 100 echoes);
# - call 1 keeps its audio across both reloads: packets keep arriving, no
#   gap above 200 ms within 1 s of each SIGHUP.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_capture_start

it_uac before107 uac_fail.xml 107 "$SIPP2" "$MEDIA2" 20 CODE=404 ||
	fail "before the reload, a call to 107 should get 404"

it_uac_bg call1 uac_echo.xml 100 "$SIPP1" "$MEDIA1" 40 HOLD_MS=16000
P1=$SIPP_PID
it_wait_calls 1 10 || fail "call 1 never showed up in pstnbridgectl calls"
sleep 2

sed -i 's/^echo = 100$/echo = 100, 107/' "$CONF"
grep -q '^echo = 100, 107$' "$CONF" || fail "could not edit $CONF"
L=$(it_log_lines)
HUP1=$(it_now)
kill -HUP "$DPID"
it_wait_log 'config reloaded' 5 "$L" || fail "no 'config reloaded' after SIGHUP"
it_log "reload 1 done"

it_uac after107 uac_echo.xml 107 "$SIPP2" "$MEDIA3" 20 HOLD_MS=2000 ||
	fail "after the reload, a call to 107 did not complete"

# Broken: an unknown key in [general], on line 2.
cp "$CONF" "$T/good.conf"
sed -i '1a bogus_key = 1' "$CONF"
BADLINE=$(it_line_of "$CONF" '^bogus_key')
[ "$BADLINE" = 2 ] || fail "could not edit $CONF"
L=$(it_log_lines)
HUP2=$(it_now)
kill -HUP "$DPID"
it_wait_log 'reload refused' 5 "$L" || fail "no 'reload refused' after a broken SIGHUP"
it_wait_log_str "$CONF:$BADLINE: [general] bogus_key: " 2 "$L" ||
	fail "the error is not logged as $CONF:$BADLINE: [general] bogus_key: ...: $(tail -n +"$((L + 1))" "$DLOG" | head -n 20)"
it_daemon_alive
it_log "reload 2 refused"

it_uac third uac_echo.xml 100 "$SIPP3" "$MEDIA4" 20 HOLD_MS=2000 ||
	fail "after the refused reload, a call to 100 did not complete"

it_sipp_wait "$P1" call1 || fail "call 1 did not complete"
it_capture_stop

ok=1
it_rtp "$MEDIA1" --min-rx 500 --min-echo 0.6 || { ok=0; it_log "call 1: no echo"; }
it_rtp "$MEDIA1" --around "$HUP1" 1 --max-gap 200 --min-window-rx 80 \
	--after "$HUP1" --min-echo-after 300 || { ok=0; it_log "call 1: audio broke at reload 1"; }
it_rtp "$MEDIA1" --around "$HUP2" 1 --max-gap 200 --min-window-rx 80 \
	--after "$HUP2" --min-echo-after 100 || { ok=0; it_log "call 1: audio broke at the refused reload"; }
it_rtp "$MEDIA3" --min-rx 60 --min-echo 0.6 || { ok=0; it_log "call to 107: no echo"; }
it_rtp "$MEDIA4" --min-rx 60 --min-echo 0.6 || { ok=0; it_log "third call: no echo"; }
[ $ok = 1 ] || fail "audio checks failed"
it_stop_daemon
it_log "PASS"
