#!/bin/bash
# Benchmark 1: N concurrent calls through pstnbridged to the sim echo.
#
# usage: bench/concurrent.sh [N=240] [SECONDS=20] [WARMUP=3]
#   (run from the build directory, or set PSTNBRIDGED / PSTNBRIDGECTL)
#
# The daemon runs on core $BENCH_DCPU (1), pbload on core $BENCH_GCPU (0).
# pbload places N calls over SIP/UDP to the echo number of E1 sim spans,
# sends 20 ms PCMA from a timestamped payload for WARMUP + SECONDS, then
# hangs up. Result: $BENCH_OUT/concurrent-*/result.json (also the last line
# of stdout) and a table.
. "$(dirname "$0")/lib.sh"

N=${1:-240}
SECS=${2:-20}
WARM=${3:-3}
[ "$N" -ge 1 ] && [ "$N" -le 5000 ] || bfail "N must be 1..5000"

bench_build pbload
bench_config "$N" > "$CONF"
NSPANS=$(bench_nspans "$N")
bench_start_daemon "$NSPANS"
sleep 1
MACHINE=$(bench_machine_json)
BUF=$(bench_buffer_json)

blog "$N calls, warm-up $WARM s, measured $SECS s"
# the sim clocks' ticks and late ticks at the start and end of the window
SPANS="timeout -k 2 10 '$PSTNBRIDGECTL' -s '$CTL' spans"
bench_pbload --sip "127.0.0.1:$SIP_PORT" --calls "$N" --number "$NUMBER_FMT" \
	--per-number "$PER_ROUTE" --phase "warmup:$WARM" --phase "load:$SECS" \
	--on-phase "load:$SPANS > '$W/spans-start.txt'" --on-end "$SPANS > '$W/spans-end.txt'" \
	--setup-timeout $((30 + N / 20)) > "$W/pbload.json" 2> "$W/pbload.log" ||
	bfail "pbload failed: $(tail -n 5 "$W/pbload.log")"
bench_alive "$DPID" || bfail "the daemon died: $(tail -n 20 "$DLOG")"
AFTER=$(bench_ctl_counts)
bench_stop_daemon

python3 "$BENCH_DIR/report.py" concurrent --raw "gen=$W/pbload.json" \
	--spans "start=$W/spans-start.txt" --spans "end=$W/spans-end.txt" \
	--set "machine=$MACHINE" --set "buffer=$BUF" --set "latch_mode=\"$LATCH\"" \
	--set "daemon_pinned_core=$DCPU" --set "generator_pinned_core=$GCPU" \
	--set "ctl_after_teardown=\"$AFTER\"" --set "workdir=\"$W\"" \
	--out "$W/result.json"
