#!/bin/bash
# D-channel lost mid-call and restored: the sim far end's layer 2 goes
# away (`sim dchannel sim1 down`: no frame passes either way) with one call
# answered (to the echo phone 100) and one ringing (noanswer 103). The
# daemon's libpri finds the link dead by its own timers (T203, N200 x
# T200); the span goes down, the answered call ends with a BYE carrying
# Reason: Q.850;cause=38, the ringing one fails with 503 (38, RFC 3398),
# `pstnbridgectl spans` says down and a new INVITE gets 503. Once the link
# is restored (`sim dchannel sim1 up`) the span comes up by itself, the
# channels of the lost calls are RESTARTed (and acknowledged), and a call
# goes through again.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/pri_lost.sh"

it_write_config
it_start_daemon
pri_lost_calls 30

from=$(it_log_lines)
restarts0=$(it_q931_count sim1/far '<' RESTART)
t0=$(it_now)
ctl sim dchannel sim1 down || fail "sim dchannel down refused"
it_wait_log_str "span=sim1 down (D-channel down" 25 "$from" ||
	fail "the daemon did not notice the dead D-channel in 25 s"
dt=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.1f", b - a }')
it_log "span down $dt s after the link was cut"
it_wait_log_str "span=sim1 far end D-channel down" 5 "$from" ||
	fail "the far end's layer 2 did not go down too"
pri_lost_down "with a dead D-channel"

from=$(it_log_lines)
ctl sim dchannel sim1 up || fail "sim dchannel up refused"
it_wait_log_str "span=sim1 up (D-channel up" 20 "$from" ||
	fail "the span did not come back up within 20 s of the link's return"
pri_lost_back "$from"
got=$(( $(it_q931_count sim1/far '<' RESTART) - restarts0 ))
[ "$got" -ge 2 ] || fail "$got RESTARTs reached the far end after the recovery, want the lost channels'"
it_log "$got RESTARTs after the recovery"
[ "$(it_q931_count sim1/far '<' SETUP)" -eq 3 ] || fail "the far end did not see 3 SETUPs"
it_stop_daemon
it_log "PASS"
