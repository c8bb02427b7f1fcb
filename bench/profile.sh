#!/bin/bash
# Where the daemon's CPU goes with N calls up: perf (software cpu-clock
# event, so it works in VMs without hardware counters) samples the daemon
# for SECONDS while pbload carries N calls; prints the top symbols (flat,
# self time) and the share of kernel, daemon, libc and other libraries, and
# the CPU per packet to turn the shares into microseconds per packet. After
# the profile, perf counts the daemon's system calls for SYSCALL_S seconds
# (tracepoints; not during the profile, so their cost does not show in it)
# and prints them per packet received.
#
# usage: bench/profile.sh [N=1000] [SECONDS=10] [SYSCALL_S=5]
. "$(dirname "$0")/lib.sh"

N=${1:-1000}
SECS=${2:-10}
SC_SECS=${3:-5}
SYSCALLS="recvmmsg recvfrom recvmsg sendto sendmsg sendmmsg io_uring_enter epoll_wait read write"
command -v perf >/dev/null || bfail "perf is not installed (apt-get install linux-perf)"
bench_build pbload
bench_config "$N" > "$CONF"
bench_start_daemon "$(bench_nspans "$N")"
sleep 1

PERF="perf record -e cpu-clock -F 999 -p $DPID -o $W/perf.data -- sleep $SECS"
EVS=
for c in $SYSCALLS; do
	[ -e "/sys/kernel/tracing/events/syscalls/sys_enter_$c" ] ||
		[ -e "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$c" ] || continue
	EVS="$EVS${EVS:+,}syscalls:sys_enter_$c"
done
STAT="perf stat -x, -e $EVS -p $DPID -o $W/syscalls.csv -- sleep $SC_SECS"
if command -v taskset >/dev/null; then
	PERF="taskset -c $GCPU $PERF"
	STAT="taskset -c $GCPU $STAT"
fi
[ -n "$EVS" ] || STAT=true
blog "$N calls; perf on the daemon for $SECS s, then its system calls for $SC_SECS s"
bench_pbload --sip "127.0.0.1:$SIP_PORT" --calls "$N" --number "$NUMBER_FMT" \
	--per-number "$PER_ROUTE" --setup-timeout $((30 + N / 20)) \
	--phase "warmup:3" --phase "load:$((SECS + 1))" --phase "syscalls:$((SC_SECS + 1))" \
	--on-phase "load:$PERF > $W/perf.log 2>&1" \
	--on-phase "syscalls:$STAT > $W/stat.log 2>&1" \
	> "$W/pbload.json" 2> "$W/pbload.log" || bfail "pbload failed"
bench_stop_daemon
[ -s "$W/perf.data" ] || bfail "perf recorded nothing: $(cat "$W/perf.log")"

perf report -i "$W/perf.data" --no-children --sort dso --stdio 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -n 12 > "$W/by-dso.txt"
perf report -i "$W/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
	grep -v '^#' | grep -v '^$' | head -n 45 > "$W/by-symbol.txt"
python3 - "$W/pbload.json" "$W/syscalls.csv" "$SC_SECS" <<'EOF'
import json, sys
phases = json.load(open(sys.argv[1]))["phases"]
p = [q for q in phases if q.get("name") == "load"] or phases[-2:-1] or phases
p = p[-1]
print("daemon: %.1f %% CPU, %.1f us per call-second, %.2f us CPU per echoed packet "
      "(one in + one out), %d calls" % (p["cpu_pct"], p["cpu_us_per_stream_s"],
                                        p["cpu_us_per_packet"], p["streams_active"]))
# system calls per packet received (the generator's send rate)
try:
    rows = [l.split(",") for l in open(sys.argv[2]) if "syscalls:" in l]
except OSError:
    rows = []
pin = float(p.get("pps_in") or 0) * float(sys.argv[3])
if rows and pin > 0:
    print("--- system calls in %s s (%d packets in)" % (sys.argv[3], pin))
    for r in rows:
        try:
            n = int(r[0])
        except ValueError:
            continue
        print("%-28s %10d  %.3f per packet in" % (r[2].split("sys_enter_")[-1], n, n / pin))
EOF
echo "--- by object"
cat "$W/by-dso.txt"
echo "--- by symbol (self)"
cat "$W/by-symbol.txt"
echo "perf data: $W/perf.data"
