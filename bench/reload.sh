#!/bin/bash
# Benchmark 4: reload under load. N calls up (default 1000) with audio; at
# the start of the "reload" phase the daemon gets SIGHUP (RELOADS times, 2 s
# apart). Reports the longest gap in any call's returning audio and the
# longest run of lost packets in that phase, and checks no call was dropped
# (the daemon sent no BYE, every call still listed by pstnbridgectl, every
# BYE at the end answered).
#
# usage: bench/reload.sh [N=1000] [RELOAD_S=10] [RELOADS=1] [BEFORE_S=5] [AFTER_S=3] [WARMUP=3]
. "$(dirname "$0")/lib.sh"

N=${1:-1000}
RL=${2:-10}
RELOADS=${3:-1}
BEFORE=${4:-5}
AFTER=${5:-3}
WARM=${6:-3}

bench_build pbload
bench_config "$N" > "$CONF"
NSPANS=$(bench_nspans "$N")
bench_start_daemon "$NSPANS"
sleep 1
MACHINE=$(bench_machine_json)

HUP="for i in \$(seq $RELOADS); do kill -HUP $DPID; date +%s.%N >> $W/hup-times.txt; sleep 2; done"
SNAP="timeout 20 $PSTNBRIDGECTL -s $CTL calls"
blog "$N calls; SIGHUP x$RELOADS at the start of a $RL s phase"
bench_pbload --sip "127.0.0.1:$SIP_PORT" --calls "$N" --number "$NUMBER_FMT" \
	--per-number "$PER_ROUTE" --setup-timeout $((30 + N / 20)) \
	--phase "warmup:$WARM" --phase "before:$BEFORE" --phase "reload:$RL" --phase "after:$AFTER" \
	--on-phase "reload:$SNAP > $W/ctl-before.txt 2>&1; $HUP" \
	--on-phase "after:$SNAP > $W/ctl-after.txt 2>&1" \
	> "$W/pbload.json" 2> "$W/pbload.log" ||
	bfail "pbload failed: $(tail -n 5 "$W/pbload.log")"
bench_alive "$DPID" || bfail "the daemon died: $(tail -n 20 "$DLOG")"
RELOADED=$(grep -ci 'reload' "$DLOG")
bench_stop_daemon

B=$(grep -c '^id=' "$W/ctl-before.txt" 2>/dev/null)
A=$(grep -c '^id=' "$W/ctl-after.txt" 2>/dev/null)
python3 "$BENCH_DIR/report.py" reload --raw "gen=$W/pbload.json" \
	--set "machine=$MACHINE" --set "reloads=$RELOADS" \
	--set "calls_listed_before=${B:-0}" --set "calls_listed_after=${A:-0}" \
	--set "daemon_log_reload_lines=${RELOADED:-0}" --set "workdir=\"$W\"" \
	--out "$W/result.json"
