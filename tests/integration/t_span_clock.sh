#!/bin/bash
# The sim span's audio clock in `pstnbridgectl spans`: its ticks count at
# 50 a second, and a daemon held still (SIGSTOP for 300 ms) runs the ticks
# it missed late, which clock_late_5ms and clock_late_max_ms show.
. "$(dirname "$0")/lib.sh"

it_config > "$CONF"
it_start_daemon
for n in $(seq 50); do
	ctl spans | grep -q '^span sim1 up ' && break
	sleep 0.1
done
field() {       # NAME: its value on sim1's line
	ctl spans | awk -v k="$1" '/^span sim1 / { for (i = 1; i <= NF; i++) {
		split($i, kv, "="); if (kv[1] == k) print kv[2] } }'
}
ctl spans | sed 's/^/  spans: /'
t1=$(field clock_ticks)
sleep 1
t2=$(field clock_ticks)
[[ "$t1" =~ ^[0-9]+$ && "$t2" =~ ^[0-9]+$ ]] || fail "no clock_ticks: $(ctl spans)"
# 50 ticks a second (wide bounds: a busy machine, the ctl round trips)
[ $((t2 - t1)) -ge 35 ] && [ $((t2 - t1)) -le 80 ] ||
	fail "clock_ticks went from $t1 to $t2 in 1 s"
late0=$(field clock_late_5ms)
kill -STOP "$DPID"
sleep 0.3
kill -CONT "$DPID"
sleep 0.3
ctl spans | sed 's/^/  spans: /'
late1=$(field clock_late_5ms)
max=$(field clock_late_max_ms)
# the timerfd counted about 15 expiries: the last 5 run, 80, 60, 40 and
# 20 ms (and less) after their time
[ $((late1 - late0)) -ge 3 ] || fail "clock_late_5ms went from $late0 to $late1 after a stop"
awk -v m="$max" 'BEGIN { exit !(m >= 50 && m < 1000) }' ||
	fail "clock_late_max_ms $max after a 300 ms stop"
it_stop_daemon
it_log "PASS"
