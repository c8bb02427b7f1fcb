#!/bin/bash
# The fuzz targets of tests/fuzz/ still build, every saved crash input
# (tests/fuzz/crashes/, the regression inputs of fixed bugs) passes, and a
# short fuzz run of each target finds nothing (about 50 s in all). Needs
# clang and its runtime (apt-get install clang libclang-rt-14-dev).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FUZZ=$(cd "$HERE/../fuzz" && pwd)
T=${IT_TESTDIR:-$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-t_fuzz_smoke.XXXXXX")}
mkdir -p "$T"
export FUZZ_BUILD=$T/build FUZZ_CRASH_DIR=$T/crashes

log() { echo "[$(date +%T.%3N)] $*"; }
fail() { log "FAIL: $*"; exit 1; }

command -v clang > /dev/null || fail "clang not installed (apt-get install clang libclang-rt-14-dev)"

log "build and replay the saved crash inputs"
"$FUZZ/run.sh" replay || fail "build or replay failed"

# seconds per target: the SIP path is the one that matters most
for ts in sip:20 cfg:10 sdp:8 media:8 rtp:4; do
	t=${ts%%:*}
	log "fuzz $t for ${ts#*:} s"
	FUZZ_SECONDS=${ts#*:} "$FUZZ/run.sh" fuzz "$t" || {
		for f in "$FUZZ_CRASH_DIR/$t"/*; do
			[ -f "$f" ] && { echo "--- $f:"; head -c 2000 "$f" | cat -v; echo; }
		done
		fail "fuzz $t found a crash (inputs in $FUZZ_CRASH_DIR/$t)"
	}
done
log "PASS"
