#!/bin/bash
# Overlap dialing PSTN to Internet: the sim far end sends SETUP without
# Sending Complete and the rest of the number in INFORMATION messages
# (100 ms apart) after the daemon's SETUP ACKNOWLEDGE. The daemon collects
# the digits until the route's number length ([route] digits = 4), a '#',
# or digit_timeout (2 s) after the last digit; only then the INVITE goes
# out, to the complete number (checked at the sipp UAS, and the timing in
# the log).
. "$(dirname "$0")/lib.sh"

it_config | sed -e 's/^congestion = 106$/&\noverlap = yes\ndigit_timeout = 2/' \
	-e 's/^target = sip:{number}.*/&\ndigits = 4/' > "$CONF"
grep -q '^digits = 4' "$CONF" && grep -q '^overlap = yes' "$CONF" || fail "config not rewritten"
it_start_daemon

# it_overlap_call DIALLED WANT: the far end dials DIALLED (SETUP/INFO
# digits); the UAS must get an INVITE for WANT; prints the seconds from
# the far end's last INFORMATION to the daemon's INVITE into $T/dt.
it_overlap_call() {
	local dialled=$1 want=$2 from p tl ti
	from=$(it_log_lines)
	it_render "$IT_DIR/sipp/uas_answer.xml" "$T/uas$want.xml" CALLED="$want" BYE_TIMEOUT_MS=10000
	it_sipp_bg "uas$want" "$T/uas$want.xml" "$UASPORT" "$MEDIA1" 20 -s "$want"
	p=$SIPP_PID
	sleep 0.5
	ctl sim call sim1 "$dialled" 5551234 0 1 >/dev/null || fail "sim call $dialled failed"
	it_sipp_wait "$p" "uas$want" || fail "no INVITE for $want (dialled $dialled)"
	tail -n +"$((from + 1))" "$DLOG" | grep -q "SETUP ACKNOWLEDGE: overlap dialing" ||
		fail "no SETUP ACKNOWLEDGE for $dialled"
	tail -n +"$((from + 1))" "$DLOG" | grep -q "overlap dialing complete" ||
		fail "overlap dialing did not complete for $dialled"
	tail -n +"$((from + 1))" "$DLOG" | grep -Eq "INVITE sip:$want@" ||
		fail "the INVITE was not for $want"
	# seconds from the far end's last digit to the INVITE
	tl=$(tail -n +"$((from + 1))" "$DLOG" | grep "far end: INFORMATION digit" | tail -n 1 | awk '{print $1}')
	ti=$(tail -n +"$((from + 1))" "$DLOG" | grep -m1 "route internet: INVITE" | awk '{print $1}')
	[ -n "$tl" ] && [ -n "$ti" ] || fail "no timestamps for $dialled"
	awk -v a="$tl" -v b="$ti" 'BEGIN {
		split(a, x, ":"); split(b, y, ":");
		printf "%.2f\n", (y[1]*3600 + y[2]*60 + y[3]) - (x[1]*3600 + x[2]*60 + x[3]) }' > "$T/dt"
	it_wait_calls_gone 5 || fail "call $dialled still listed"
}

# the number reaches the route's length (4 digits): at once
it_overlap_call 20/00 2000
dt=$(cat "$T/dt")
it_log "2000: INVITE $dt s after the last digit"
awk -v d="$dt" 'BEGIN { exit !(d < 1.0) }' || fail "2000 waited $dt s (length 4 should end it)"
# '#' ends the number, not part of it
it_overlap_call 21/5# 215
dt=$(cat "$T/dt")
it_log "215#: INVITE $dt s after the last digit"
awk -v d="$dt" 'BEGIN { exit !(d < 1.0) }' || fail "215# waited $dt s"
# neither: digit_timeout after the last digit
it_overlap_call 22/1 221
dt=$(cat "$T/dt")
it_log "221: INVITE $dt s after the last digit"
awk -v d="$dt" 'BEGIN { exit !(d >= 1.8 && d < 3.5) }' || fail "221 took $dt s, want digit_timeout 2 s"
it_stop_daemon
it_log "PASS"
