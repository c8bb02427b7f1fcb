#!/bin/bash
# A service started with a low soft limit on open files (systemd's default
# is 1024, a call holds three descriptors) raises it to the hard limit at
# start, and says so in its log.
. "$(dirname "$0")/lib.sh"

ulimit -Sn 256 || fail "cannot set the soft limit"
ulimit -Hn 8192 || fail "cannot set the hard limit"
it_write_config
it_start_daemon
read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$DPID/limits")
it_log "daemon's open files limit: soft $soft, hard $hard"
[ "$hard" = 8192 ] || fail "hard limit $hard, not the 8192 it was started with"
[ "$soft" = 8192 ] || fail "soft limit $soft was not raised to the hard limit"
grep -q "open files: soft limit raised from 256 to the hard limit, 8192" "$DLOG" ||
	fail "no log line about the raised limit"
it_stop_daemon 5
it_log "PASS"
