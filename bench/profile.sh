#!/bin/bash
# Where the daemon's CPU goes with N calls up: perf (software cpu-clock
# event, so it works in VMs without hardware counters) samples the daemon
# for SECONDS while pbload carries N calls; prints the top symbols (flat,
# self time) and the share of kernel, daemon, libc and other libraries, and
# the CPU per packet to turn the shares into microseconds per packet.
#
# usage: bench/profile.sh [N=1000] [SECONDS=10]
. "$(dirname "$0")/lib.sh"

N=${1:-1000}
SECS=${2:-10}
command -v perf >/dev/null || bfail "perf is not installed (apt-get install linux-perf)"
bench_build pbload
bench_config "$N" > "$CONF"
bench_start_daemon "$(bench_nspans "$N")"
sleep 1

PERF="perf record -e cpu-clock -F 999 -p $DPID -o $W/perf.data -- sleep $SECS"
command -v taskset >/dev/null && PERF="taskset -c $GCPU $PERF"
blog "$N calls; perf on the daemon for $SECS s"
bench_pbload --sip "127.0.0.1:$SIP_PORT" --calls "$N" --number "$NUMBER_FMT" \
	--per-number "$PER_ROUTE" --setup-timeout $((30 + N / 20)) \
	--phase "warmup:3" --phase "load:$((SECS + 2))" \
	--on-phase "load:$PERF > $W/perf.log 2>&1" \
	> "$W/pbload.json" 2> "$W/pbload.log" || bfail "pbload failed"
bench_stop_daemon
[ -s "$W/perf.data" ] || bfail "perf recorded nothing: $(cat "$W/perf.log")"

perf report -i "$W/perf.data" --no-children --sort dso --stdio 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -n 12 > "$W/by-dso.txt"
perf report -i "$W/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -n 45 > "$W/by-symbol.txt"
python3 - "$W/pbload.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))["phases"][-1]
print("daemon: %.1f %% CPU, %.1f us per call-second, %.2f us CPU per echoed packet "
      "(one in + one out), %d calls" % (p["cpu_pct"], p["cpu_us_per_stream_s"],
                                        p["cpu_us_per_packet"], p["streams_active"]))
EOF
echo "--- by object"
cat "$W/by-dso.txt"
echo "--- by symbol (self)"
cat "$W/by-symbol.txt"
echo "perf data: $W/perf.data"
