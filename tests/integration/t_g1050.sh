#!/bin/bash
# The jitter buffer behind SpanDSP's own G.1050 IP network model: every
# standard impairment severity (none, A to H) for 5 minutes of 20 ms
# packets with injected time; delay, late loss and concealment printed per
# profile and held to bounds derived from what the network did (see
# tests/g1050/harness.c). The model is built from Debian's spandsp source
# package, fetched with apt-get into a cache outside the repository
# (tests/g1050/run.sh); the test fails, saying so, when it cannot be had.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
T=${IT_TESTDIR:-$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-t_g1050.XXXXXX")}
mkdir -p "$T/work"

log() { echo "[$(date +%T.%3N)] $*"; }
fail() { log "FAIL: $*"; exit 1; }

PB_G1050_WORK=$T/work "$HERE/../g1050/run.sh" -s 300 > "$T/g1050.out" 2>&1
rc=$?
cat "$T/g1050.out"
[ $rc -eq 0 ] || fail "tests/g1050/run.sh exited $rc"
# The table must be there: every profile ran and was checked.
for p in none/168 A/168 B/29 C/29 D/29 D/1 E/29 F/29 G/29 H/29; do
	grep -q "^$p " "$T/g1050.out" || fail "no result for profile $p"
done
grep -Eq '^[0-9]+ passed, 0 failed$' "$T/g1050.out" || fail "no summary line"
log "PASS"
