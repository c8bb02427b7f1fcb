#!/bin/bash
# Benchmark 5: the anchors, side by side in one run, with the same
# generator (pbload), the same packets and the same pinning:
#   pstnbridged  N calls to the sim echo: N streams (50 pps in, 50 out each)
#   rtpengine    N/2 relayed calls, both sides sending: N streams
#                (userspace forwarding, table = -1, set up over ng)
#   minrelay     N/2 relayed calls through the bare recvmmsg/sendmmsg relay
# and the ratios of their CPU per stream-second. A stream is one direction
# of one relayed call; one bridged call's Internet leg receives and sends
# as many packets as one relayed stream.
#
# usage: bench/anchor.sh [N=500] [SECONDS=20] [WARMUP=4] [ROUNDS=1]
#   ROUNDS > 1 runs the three in turn that many times; the figures are the
#   medians of the rounds, the ratios the medians of each round's ratios.
#   rtpengine is skipped (with a message, its row null) when it is not
#   installed (Debian package rtpengine-daemon) or BENCH_NO_RTPENGINE=1.
. "$(dirname "$0")/lib.sh"

N=${1:-500}
SECS=${2:-20}
WARM=${3:-4}
ROUNDS=${4:-1}
HALF=$(( (N + 1) / 2 ))
K=20
NG_PORT=${BENCH_NG_PORT:-$(bench_free_port)}
RELAY_MIN=${BENCH_RELAY_MIN:-50000}
RELAY_MAX=$(( RELAY_MIN + 8 * HALF + 100 ))
[ "$RELAY_MAX" -le 65535 ] || bfail "N too large for the relay port range"

bench_build pbload minrelay
MACHINE=$(bench_machine_json)
RAWS=()

run_relay_gen() {        # NAME PID PAIRS
	bench_pin "$GCPU" "$BENCH_BIN/pbload" --pid "$2" --rtp-base "$GEN_BASE" \
		--local-a 127.0.0.2 --local-b 127.0.0.3 $(bench_gen_rx) --pairs "$3" --calls "$HALF" \
		--socks "$K" --phase "warmup:$WARM" --phase "load:$SECS" \
		> "$W/$1.json" 2> "$W/$1.log" || blog "$1: pbload failed: $(tail -n 3 "$W/$1.log")"
}

# ---- pstnbridged (round $1)
run_ours() {
	blog "round $1, pstnbridged: $N calls"
	bench_config "$N" > "$CONF"
	bench_start_daemon "$(bench_nspans "$N")"
	sleep 1
	bench_pbload --sip "127.0.0.1:$SIP_PORT" --calls "$N" --number "$NUMBER_FMT" \
		--per-number "$PER_ROUTE" --socks "$K" --setup-timeout $((30 + N / 20)) \
		--phase "warmup:$WARM" --phase "load:$SECS" \
		> "$W/pstnbridged-$1.json" 2> "$W/pstnbridged-$1.log" ||
		bfail "pbload failed: $(tail -n 5 "$W/pstnbridged-$1.log")"
	bench_stop_daemon
	RAWS+=(--raw "pstnbridged=$W/pstnbridged-$1.json")
}

# ---- rtpengine (round $1), when installed
RTPE=0
RTPE_VERSION=null
if [ "${BENCH_NO_RTPENGINE:-0}" != 1 ] && command -v rtpengine >/dev/null; then
	RTPE_VERSION="\"$(rtpengine --version 2>&1 | awk '/Version/ { print $2; exit }')\""
	cat > "$W/rtpengine.conf" <<EOF
[rtpengine]
table = -1
interface = 127.0.0.1
listen-ng = 127.0.0.1:$NG_PORT
foreground = true
log-stderr = true
log-level = 5
timeout = 600
silent-timeout = 3600
offer-timeout = 3600
port-min = $RELAY_MIN
port-max = $RELAY_MAX
EOF
	RTPE=1
fi
run_rtpengine() {
	blog "round $1, rtpengine $RTPE_VERSION: $HALF calls ($N streams)"
	if command -v taskset >/dev/null; then
		taskset -c "$DCPU" rtpengine --config-file="$W/rtpengine.conf" --config-section=rtpengine \
			--pidfile="$W/rtpengine-$1.pid" > "$W/rtpengine-$1.log" 2>&1 &
	else
		rtpengine --config-file="$W/rtpengine.conf" --config-section=rtpengine \
			--pidfile="$W/rtpengine-$1.pid" > "$W/rtpengine-$1.log" 2>&1 &
	fi
	RP=$!
	BENCH_BG+=("$RP")
	# named even when this round fails: the report pairs rounds by place
	RAWS+=(--raw "rtpengine=$W/rtpengine-$1.json")
	for i in $(seq 50); do
		python3 "$BENCH_DIR/ngclient.py" --ng "127.0.0.1:$NG_PORT" ping >/dev/null 2>&1 && break
		bench_alive "$RP" || break
		sleep 0.2
	done
	if bench_alive "$RP" && bench_pin "$GCPU" python3 "$BENCH_DIR/ngclient.py" --ng "127.0.0.1:$NG_PORT" \
		setup "$HALF" "$K" "$GEN_BASE" "$W/rtpengine-pairs.txt" "$$" 2>> "$W/ngclient.log"; then
		sleep 1
		run_relay_gen "rtpengine-$1" "$RP" "$W/rtpengine-pairs.txt"
		RTPE_THREADS=$(ls "/proc/$RP/task" 2>/dev/null | wc -l)
	else
		blog "rtpengine did not start or refused the calls: $(tail -n 5 "$W/rtpengine-$1.log" "$W/ngclient.log")"
	fi
	kill -TERM "$RP" 2>/dev/null
	bench_wait_dead "$RP" 5 || kill -KILL "$RP" 2>/dev/null
}

# ---- the bare relay (round $1)
run_minrelay() {
	blog "round $1, minrelay: $HALF calls ($N streams)"
	bench_pin "$DCPU" "$BENCH_BIN/minrelay" "$HALF" "$K" "$GEN_BASE" "$RELAY_MIN" "$W/minrelay-pairs-$1.txt" \
		> "$W/minrelay-$1.log" 2>&1 &
	MP=$!
	BENCH_BG+=("$MP")
	for i in $(seq 50); do
		[ -s "$W/minrelay-pairs-$1.txt" ] && [ "$(wc -l < "$W/minrelay-pairs-$1.txt")" -ge "$HALF" ] && break
		sleep 0.1
	done
	# the relay's own PID (bench_pin may have run it in a subshell)
	MPID=$(pgrep -P "$MP" -x minrelay || echo "$MP")
	sleep 0.5
	run_relay_gen "minrelay-$1" "$MPID" "$W/minrelay-pairs-$1.txt"
	RAWS+=(--raw "minrelay=$W/minrelay-$1.json")
	kill -TERM "$MPID" "$MP" 2>/dev/null
	bench_wait_dead "$MP" 5 || kill -KILL "$MP" 2>/dev/null
}

# Interleaved rounds: the machine's speed drifts within minutes, and each
# round measures the three side by side; the report takes the median.
for r in $(seq "$ROUNDS"); do
	run_ours "$r"
	if [ "$RTPE" = 1 ]; then
		run_rtpengine "$r"
	else
		blog "rtpengine is not installed (apt-get install rtpengine-daemon) or BENCH_NO_RTPENGINE=1: its row is skipped"
	fi
	run_minrelay "$r"
done

python3 "$BENCH_DIR/report.py" anchor "${RAWS[@]}" --set "machine=$MACHINE" \
	--set "streams=$N" --set "relay_calls=$HALF" --set "rtpengine_version=$RTPE_VERSION" \
	--set "rtpengine_threads=${RTPE_THREADS:-null}" --set "window_s=$SECS" --set "rounds=$ROUNDS" \
	--set "workdir=\"$W\"" --out "$W/result.json"
