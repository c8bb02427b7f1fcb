#!/bin/bash
# Benchmark 2: call setup rate. sipp (UAC) places calls to the sim echo at
# rising rates; each call is answered, held HOLD_S seconds and hung up with
# BYE. A rate passes when under 0.1% of its calls fail.
#
# usage: bench/setup-rate.sh [RATES="50 100 200 300 400"] [STEP_S=10] [HOLD_S=5]
#
# Each step places RATE*STEP_S calls at RATE calls/s, then waits until they
# are all over (bounded). The rise stops after the first failing rate.
# Result: highest passing rate and its p99 INVITE -> 200 (sipp's response
# time 1, from its -trace_rtt file), the daemon's CPU per step.
. "$(dirname "$0")/lib.sh"

RATES=${1:-"50 100 200 300 400"}
STEP=${2:-10}
HOLD=${3:-5}
command -v sipp >/dev/null || bfail "sipp is not installed"
MAXR=0
for r in $RATES; do
	[ "$r" -gt "$MAXR" ] && MAXR=$r
done
# channels for the calls up at once at the top rate, with a margin
CH=$(( MAXR * (HOLD + 3) + 60 ))
NROUTES=$(( (CH + PER_ROUTE - 1) / PER_ROUTE ))
CH=$(( NROUTES * PER_ROUTE < CH ? CH : CH ))
bench_config "$CH" > "$CONF"
NSPANS=$(bench_nspans "$CH")
NROUTES=$(( (NSPANS + ROUTE_SPANS - 1) / ROUTE_SPANS ))
bench_start_daemon "$NSPANS"
MACHINE=$(bench_machine_json)

# sipp's injection file: the calls take the routes in turn
{
	echo SEQUENTIAL
	for k in $(seq 0 $((NROUTES - 1))); do
		printf "$NUMBER_FMT\n" "$k"
	done
} > "$W/numbers.csv"
cp "$BENCH_DIR/sipp/uac_setup.xml" "$W/uac_setup.xml"

SIPP_PORT=$(bench_free_port)
MEDIA_PORT=$(bench_free_port)
STEPS=$W/steps.jsonl
: > "$STEPS"
for R in $RATES; do
	M=$(( R * STEP ))
	D=$W/rate-$R
	mkdir -p "$D"
	blog "rate $R calls/s: $M calls, hold $HOLD s"
	C0=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$DPID/stat")
	T0=$(date +%s.%N)
	(cd "$D" && exec timeout -k 5 $((STEP + HOLD + 60)) \
		taskset -c "$GCPU" sipp -sf "$W/uac_setup.xml" -inf "$W/numbers.csv" \
		-i 127.0.0.2 -p "$SIPP_PORT" -mi 127.0.0.2 -mp "$MEDIA_PORT" \
		-r "$R" -m "$M" -l $(( R * (HOLD + 2) + 100 )) -d $((HOLD * 1000)) \
		-nostdin -timeout $((STEP + HOLD + 50))s -timeout_error \
		-recv_timeout 10000 -max_recv_loops 10000 \
		-trace_rtt -rtt_freq 1 -trace_stat -fd 1 -trace_err \
		"127.0.0.1:$SIP_PORT" > sipp.out 2>&1)
	RC=$?
	T1=$(date +%s.%N)
	C1=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$DPID/stat")
	bench_alive "$DPID" || bfail "the daemon died at rate $R: $(tail -n 20 "$DLOG")"
	python3 - "$D" "$R" "$M" "$RC" "$C0" "$C1" "$T0" "$T1" "$(getconf CLK_TCK)" >> "$STEPS" <<'EOF'
import csv, glob, json, sys
d, rate, m, rc, c0, c1, t0, t1, hz = sys.argv[1:]
rate, m, rc = int(rate), int(m), int(rc)
step = {"rate": rate, "calls": m, "sipp_exit": rc}
ok = failed = None
for f in glob.glob(d + "/*_.csv") + glob.glob(d + "/*[0-9].csv"):
    if f.endswith("_rtt.csv"):
        continue
    rows = list(csv.reader(open(f), delimiter=";"))
    if len(rows) >= 2:
        h = rows[0]
        last = rows[-1]
        try:
            ok = int(last[h.index("SuccessfulCall(C)")])
            failed = int(last[h.index("FailedCall(C)")])
        except (ValueError, IndexError):
            pass
rtts = []
for f in glob.glob(d + "/*_rtt.csv"):
    for row in csv.reader(open(f), delimiter=";"):
        if len(row) >= 3 and row[0][:1].isdigit():
            try:
                rtts.append(float(row[1]))
            except ValueError:
                pass
rtts.sort()
step["ok_calls"] = ok if ok is not None else 0
step["failed"] = (m - step["ok_calls"]) if failed is None else max(failed, m - step["ok_calls"])
step["fail_pct"] = round(100.0 * step["failed"] / m, 4) if m else 0
step["ok"] = step["fail_pct"] < 0.1 and ok is not None
if rtts:
    step["p50_ms"] = round(rtts[len(rtts) // 2], 2)
    step["p99_ms"] = round(rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))], 2)
    step["max_ms"] = round(rtts[-1], 2)
    step["rtt_samples"] = len(rtts)
secs = float(t1) - float(t0)
step["elapsed_s"] = round(secs, 2)
step["cpu_pct"] = round(100.0 * (float(c1) - float(c0)) / float(hz) / secs, 1)
print(json.dumps(step))
EOF
	tail -n 1 "$STEPS" >&2
	python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.stdin.readlines()[-1])["ok"] else 1)' \
		< "$STEPS" || { blog "rate $R failed: stopping the rise"; break; }
	# let the calls of this step end before the next
	for n in $(seq 100); do
		c=$(ctl calls 2>/dev/null | grep -c '^id=')
		[ "${c:-0}" -eq 0 ] && break
		sleep 0.2
	done
done
bench_stop_daemon

python3 -c 'import json,sys; print(json.dumps({"steps": [json.loads(l) for l in open(sys.argv[1]) if l.strip()]}))' \
	"$STEPS" > "$W/steps.json"
python3 "$BENCH_DIR/report.py" setup-rate --raw "steps=$W/steps.json" \
	--set "machine=$MACHINE" --set "hold_s=$HOLD" --set "step_s=$STEP" \
	--set "channels=$((NSPANS * SPAN_CH))" --set "workdir=\"$W\"" --out "$W/result.json"
