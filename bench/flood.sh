#!/bin/bash
# Benchmark 3: flood resistance. N calls up (default 1000); after a quiet
# "before" phase, a second generator (flood.c) sends PPS packets/s for
# FLOOD_S seconds to every port of the daemon's RTP range: half random junk,
# half well-formed RTP from wrong sources (127.0.0.9 and 127.0.0.10, 16
# sockets each). The calls' loss and latency before, during and after the
# flood, and what the daemon dropped.
#
# usage: bench/flood.sh [N=1000] [PPS=50000] [FLOOD_S=30] [BEFORE_S=10] [AFTER_S=5] [WARMUP=3]
#   BENCH_LATCH picks the latch mode (default on-change; strict rejects
#   wrong sources, on-change lets them take a call's media over).
#
# Drop counts: the daemon's per-call "rtp: summary" log lines (bad=,
# rejected=, relatches=, summed over the calls at their end) and, when
# `pstnbridgectl calls` shows them, its rejected counters before and after
# the flood.
. "$(dirname "$0")/lib.sh"

N=${1:-1000}
PPS=${2:-50000}
FLOOD=${3:-30}
BEFORE=${4:-10}
AFTER=${5:-5}
WARM=${6:-3}
BENCH_LOG_LEVEL=${BENCH_LOG_LEVEL:-info}

bench_build pbload flood
bench_config "$N" > "$CONF"
NSPANS=$(bench_nspans "$N")
bench_start_daemon "$NSPANS"
sleep 1
MACHINE=$(bench_machine_json)
PMAX=$(awk -F' *= *' '$1 == "port_max" { print $2 }' "$CONF")

FLOODCMD="taskset -c $GCPU $BENCH_BIN/flood --dst 127.0.0.1 --ports $RTP_MIN-$PMAX --pps $PPS --seconds $FLOOD --src 127.0.0.9,127.0.0.10 > $W/flood.json 2> $W/flood.log"
command -v taskset >/dev/null || FLOODCMD=${FLOODCMD#taskset -c $GCPU }
SNAP="timeout 20 $PSTNBRIDGECTL -s $CTL calls"

blog "$N calls; flood $PPS pps for $FLOOD s on ports $RTP_MIN-$PMAX (latch_mode $LATCH)"
bench_pbload --sip "127.0.0.1:$SIP_PORT" --calls "$N" --number "$NUMBER_FMT" \
	--per-number "$PER_ROUTE" --setup-timeout $((30 + N / 20)) \
	--phase "warmup:$WARM" --phase "before:$BEFORE" --phase "flood:$FLOOD" --phase "after:$AFTER" \
	--on-phase "flood:$SNAP > $W/ctl-before.txt 2>&1; $FLOODCMD" \
	--on-phase "after:sleep 1; $SNAP > $W/ctl-after.txt 2>&1" \
	> "$W/pbload.json" 2> "$W/pbload.log" ||
	bfail "pbload failed: $(tail -n 5 "$W/pbload.log")"
bench_alive "$DPID" || bfail "the daemon died: $(tail -n 20 "$DLOG")"
bench_stop_daemon

DROPS=$(python3 - "$DLOG" "$W/ctl-before.txt" "$W/ctl-after.txt" <<'EOF'
import json, re, sys
out = {"summary_lines": 0}
keys = ("bad", "rejected", "relatches", "rx", "tx")
for k in keys:
    out["log_" + k] = 0
try:
    for line in open(sys.argv[1], errors="replace"):
        if "rtp: summary" not in line:
            continue
        out["summary_lines"] += 1
        for k in keys:
            m = re.search(r"\b%s=(\d+)" % k, line)
            if m:
                out["log_" + k] += int(m.group(1))
except OSError:
    pass
def ctl_sums(path):
    s = {}
    try:
        for line in open(path):
            if not line.startswith("id="):
                continue
            for kv in line.split():
                k, _, v = kv.partition("=")
                if v.isdigit() and k not in ("chan",):
                    s[k] = s.get(k, 0) + int(v)
    except OSError:
        return None
    return s
b, a = ctl_sums(sys.argv[2]), ctl_sums(sys.argv[3])
if b is not None and a is not None:
    out["ctl_during_flood"] = {k: a.get(k, 0) - b.get(k, 0) for k in sorted(set(a) | set(b))}
out["ctl_has_rejected_counts"] = bool(a and any(k for k in a if "rej" in k or "bad" in k))
print(json.dumps(out))
EOF
)
python3 "$BENCH_DIR/report.py" flood --raw "gen=$W/pbload.json" --raw "flooder=$W/flood.json" \
	--set "machine=$MACHINE" --set "latch_mode=\"$LATCH\"" --set "flood_pps=$PPS" \
	--set "flood_s=$FLOOD" --set "daemon_drops=$DROPS" --set "workdir=\"$W\"" \
	--out "$W/result.json"
