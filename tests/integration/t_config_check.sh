#!/bin/bash
# pstnbridged -t: a good config exits 0; a config with an unknown key, a bad
# port and a route naming a missing span exits 1 and prints all three
# errors as FILE:LINE: [section] key: message with their line numbers.
. "$(dirname "$0")/lib.sh"

[ -x "$PSTNBRIDGED" ] || fail "no daemon binary $PSTNBRIDGED"
it_write_config
timeout 10 "$PSTNBRIDGED" -t -c "$CONF" > "$T/good.out" 2>&1
rc=$?
cat "$T/good.out"
[ $rc -eq 0 ] || fail "-t on a good config exited $rc"

BAD=$T/bad.conf
it_config | sed -e 's/^drain_time = 5$/&\nbogus_key = 1/' \
	-e 's/^port_min = .*/port_min = 70000/' \
	-e 's/^spans = sim1$/spans = sim9/' > "$BAD"
L1=$(it_line_of "$BAD" '^bogus_key = 1$')
L2=$(it_line_of "$BAD" '^port_min = 70000$')
L3=$(it_line_of "$BAD" '^spans = sim9$')
[ -n "$L1" ] && [ -n "$L2" ] && [ -n "$L3" ] || fail "could not write $BAD"
it_log "errors expected at lines $L1, $L2, $L3"
timeout 10 "$PSTNBRIDGED" -t -c "$BAD" > "$T/bad.out" 2>&1
rc=$?
cat "$T/bad.out"
[ $rc -eq 1 ] || fail "-t on a bad config exited $rc, want 1"
# has_line PREFIX: a line of the output starts with PREFIX and has a message.
has_line() {
	awk -v p="$1" 'index($0, p) == 1 && length($0) > length(p) { f = 1 } END { exit !f }' "$T/bad.out"
}
ok=1
has_line "$BAD:$L1: [general] bogus_key: " ||
	{ ok=0; it_log "missing: $BAD:$L1: [general] bogus_key: ..."; }
has_line "$BAD:$L2: [rtp] port_min: " ||
	{ ok=0; it_log "missing: $BAD:$L2: [rtp] port_min: ..."; }
has_line "$BAD:$L3: [route pstn] spans: " || has_line "$BAD:$L3: [route] spans: " ||
	{ ok=0; it_log "missing: $BAD:$L3: [route pstn] spans: ..."; }
[ $ok = 1 ] || fail "not every error was reported as FILE:LINE: [section] key: message"
it_log "PASS"
