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
# Ports reserved against the other integration tests running on the
# machine (ittool.py keeps them for this shell's lifetime): the daemons' SIP
# port and RTP range (the flood sends to every port of it, so it must be
# ours alone), and the relays' range. The generator binds 127.0.0.2/3 only.
read -r BENCH_SIP_PORT BENCH_RTP_MIN BENCH_RELAY_MIN < <(python3 -W ignore "$HERE/ittool.py" \
	ports --owner $$ 2 200 200) || { echo "no free ports"; exit 1; }
[ -n "${BENCH_RELAY_MIN:-}" ] || { echo "no free ports"; exit 1; }
export BENCH_SIP_PORT BENCH_RTP_MIN BENCH_RELAY_MIN
export BENCH_RTP_MAX=$((BENCH_RTP_MIN + 199))
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

log "concurrent: 20 calls, 3 s (the generator polls; every packet dumped)"
BENCH_DUMP="$T/dump.bin" "$BENCH/concurrent.sh" 20 3 1 > "$T/concurrent.out" 2>&1 || {
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
	'0 <= r["added_latency_beyond_jb_ms"]["p50"] <= r["added_latency_beyond_jb_ms"]["p99_9"]' \
	'r["jb_frames_inserted"] >= 0' 'r["jb_frames_skipped"] >= 0' \
	'r["jb_frames_shrunk"] is not None and 0 <= r["jb_frames_shrunk"] <= r["jb_frames_skipped"]' \
	'r["sim_clock"] is not None and r["sim_clock"]["spans"] >= 1 and r["sim_clock"]["ticks"] >= 100' \
	'0 <= r["sim_clock"]["late_over_5ms_pct"] <= r["sim_clock"]["late_over_1ms_pct"] <= 100' \
	'0 <= r["max_call_loss_pct"] <= 100' 'r["calls_over_0_1pct_loss"] >= 0' \
	'r["buffer"]["span_tick_ms"] == 20' 'r["machine"]["cores"] >= 1' \
	'"date_utc" in r["machine"]' 'r["generator_rx"] == "poll"' \
	'0 < r["gen_send_late_ms"]["p50"] <= r["gen_send_late_ms"]["p99_9"] <= r["gen_send_late_ms"]["max"]' \
	'r["gen_socket_drops"] >= 0' 'r["other_socket_drops"] >= 0' 'r["backlog_drops"] >= 0'
# the dump holds the measured phase's echoed packets (20 calls x 50/s x 3 s)
python3 "$BENCH/dumpstat.py" "$T/dump.bin" --group 10 > "$T/dumpstat.out" ||
	fail "dumpstat.py failed"
head -n 4 "$T/dumpstat.out"
awk '/^packets/ { ok = ($2 >= 2000 && $2 <= 3100) } END { exit !ok }' "$T/dumpstat.out" ||
	fail "dump: not the measured phase's packets: $(head -n 1 "$T/dumpstat.out")"
grep -q '^ *10-19 ' "$T/dumpstat.out" || fail "dumpstat: no row for calls 10-19"

# run NAME ARGS...: bench/NAME.sh ARGS; sets RES to its result.json
run() {
	local name=$1
	shift
	log "$name: $*"
	"$BENCH/$name.sh" "$@" > "$T/$name.out" 2>&1 || {
		tail -n 30 "$T/$name.out"; fail "$name.sh failed"; }
	RES=$(ls "$BENCH_OUT"/"$name"-*/result.json 2>/dev/null | tail -n 1)
	sed -n '1,/^{/p' "$T/$name.out" | grep -v '^{' | tail -n 8
}

run setup-rate "10 20" 2 1
check setup-rate "$RES" \
	'len(r["steps"]) == 2' 'all(s["calls"] == s["rate"] * 2 for s in r["steps"])' \
	'all(s["ok_calls"] + s["failed"] >= s["calls"] for s in r["steps"])' \
	'all(0 <= s["fail_pct"] <= 100 for s in r["steps"])' \
	'r["max_rate_cps"] in (0, 10, 20)' \
	'r["max_rate_cps"] == 0 or r["p99_invite_to_200_ms_at_max"] >= 0' \
	'all(s["cpu_pct"] >= 0 for s in r["steps"])'

run flood 20 2000 2 2 1 1
check flood "$RES" \
	'r["calls_up"] == 20' 'set(r["phases"]) == {"before", "flood", "after"}' \
	'all(0 <= p["loss_pct"] <= 100 for p in r["phases"].values())' \
	'all(0 <= p["max_call_loss_pct"] <= 100 for p in r["phases"].values())' \
	'all(p["calls_over_0_1pct_loss"] >= 0 for p in r["phases"].values())' \
	'all(p["cpu_pct"] >= 0 for p in r["phases"].values())' \
	'r["phases"]["before"]["rtt_ms"]["p50"] > 0' \
	'r["flooder"]["sent"] >= 3000' 'r["flooder"]["sent_rtp"] > 0' 'r["flooder"]["sent_junk"] > 0' \
	'isinstance(r["daemon_drops"], dict)' '"summary_lines" in r["daemon_drops"]' \
	'all(p["other_socket_drops"] >= 0 and p["gen_send_late_ms"]["p50"] > 0 for p in r["phases"].values())'

run reload 20 2 1 1 1 1
check reload "$RES" \
	'r["calls_up"] == 20' 'r["calls_dropped"] == 0' \
	'r["calls_listed_before"] == 20' 'r["calls_listed_after"] == 20' \
	'r["longest_gap_ms"] > 0' 'r["longest_lost_run_packets"] >= 0' \
	'set(r["phases"]) == {"before", "reload", "after"}'

export BENCH_GEN_RX=epoll       # the generator's other way
run anchor 20 2 1 2
unset BENCH_GEN_RX
check anchor "$RES" \
	'r["generator_rx"] == "epoll"' \
	'r["rounds"] == 2' 'len(r["ratios_by_round"]["pstnbridged_over_minrelay"]) == 2' \
	'len(r["results"]["pstnbridged"]["by_round_cpu_us_per_stream_s"]) == 2' \
	'r["streams"] == 20' 'r["results"]["pstnbridged"]["streams"] == 20' \
	'r["results"]["minrelay"]["streams"] == 20' \
	'r["results"]["pstnbridged"]["cpu_us_per_stream_s"] > 0' \
	'r["results"]["minrelay"]["cpu_us_per_stream_s"] > 0' \
	'r["results"]["minrelay"]["pps_in"] > 500' \
	'r["results"]["minrelay"]["other_socket_drops"] >= 0' \
	'r["results"]["minrelay"]["threads"] == 1' \
	'r["ratios"]["pstnbridged_over_minrelay"] > 0' \
	'r["results"]["rtpengine"] is None or r["results"]["rtpengine"]["cpu_us_per_stream_s"] > 0' \
	'r["results"]["rtpengine"] is None or r["ratios"]["pstnbridged_over_rtpengine"] > 0'
if command -v rtpengine >/dev/null; then
	check anchor-rtpengine "$RES" 'r["results"]["rtpengine"] is not None' \
		'r["results"]["rtpengine"]["threads"] > 1'
else
	log "anchor: rtpengine is not installed (package rtpengine-daemon): its part was skipped"
fi

log "PASS"
