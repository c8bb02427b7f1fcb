#!/bin/bash
# Smoke run of every benchmark under bench/ with small numbers: each must
# finish and write its JSON with every field sane. No speed is asserted.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=$(cd "$HERE/../../bench" && pwd)
T=${IT_TESTDIR:-$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-t_bench_smoke.XXXXXX")}
mkdir -p "$T"
export BENCH_OUT=$T/bench
export BENCH_LOG_LEVEL=info
# ports away from the other integration tests (20000-29999) and a real run
export BENCH_RTP_MIN=$((31000 + ($$ % 40) * 50))
export BENCH_GEN_BASE=$((45000 + ($$ % 40) * 100))

log() { echo "[$(date +%T.%3N)] $*"; }
fail() { log "FAIL: $*"; exit 1; }

# check NAME FILE PYTHON-EXPRESSIONS...: each expression, evaluated with r =
# the result JSON, must be true.
check() {
	local name=$1 file=$2
	shift 2
	[ -s "$file" ] || fail "$name: no result file $file"
	python3 - "$file" "$@" <<'EOF' || fail "$name: result check failed"
import json, sys
r = json.load(open(sys.argv[1]))
bad = []
for e in sys.argv[2:]:
    try:
        ok = eval(e, {"r": r})
    except Exception as x:
        ok = False
        e += " (%s)" % x
    if not ok:
        bad.append(e)
for e in bad:
    print("not true: " + e)
print("checked %d fields of %s" % (len(sys.argv) - 2, sys.argv[1]))
sys.exit(1 if bad else 0)
EOF
}

num='isinstance(%s, (int, float))'

log "concurrent: 20 calls, 3 s"
"$BENCH/concurrent.sh" 20 3 1 > "$T/concurrent.out" 2>&1 || {
	tail -n 30 "$T/concurrent.out"; fail "concurrent.sh failed"; }
res=$(ls "$BENCH_OUT"/concurrent-*/result.json | tail -n 1)
check concurrent "$res" \
	'r["calls"] == 20' 'r["calls_up"] == 20' 'r["calls_dropped"] == 0' \
	"$(printf "$num" 'r["daemon_cpu_pct"]')" 'r["daemon_cpu_pct"] >= 0' \
	'r["cpu_us_per_call_s"] > 0' 'r["pps_in"] > 500' 'r["pps_out"] > 500' \
	'r["rss_kb_load"] > 0' 'r["rss_kb_per_call"] is not None' \
	'0 <= r["loss_pct"] <= 100' 'r["received"] > 0' \
	'0 < r["rtt_ms"]["p50"] <= r["rtt_ms"]["p99"] <= r["rtt_ms"]["max"]' \
	'0 <= r["added_latency_ms"]["p50"] <= r["added_latency_ms"]["p99_9"]' \
	'r["buffer"]["span_tick_ms"] == 20' 'r["machine"]["cores"] >= 1' \
	'"date_utc" in r["machine"]'

log "PASS"
