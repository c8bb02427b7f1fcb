# Helpers of the NAT integration tests (tests/integration/t_nat_*.sh);
# sourced. Each test runs one or more calls ("runs"), each in a subshell
# with its own namespaces, captures and daemon, all removed when the run
# ends however it ends. Needs root (namespaces, nftables, conntrack).
#
# Environment: PSTNBRIDGED, PSTNBRIDGECTL (default ./pstnbridged and
# ./pstnbridgectl of the current directory, the build directory);
# IT_TESTDIR (run.sh's directory for this test's files); NAT_MODES
# (override the latch modes a test runs, e.g. "strict").

set -u

NAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAT_NAME=$(basename "$0" .sh)
NATOOL="python3 -W ignore $NAT_DIR/natool.py"
# The common helpers: binaries, the test directory $T, process liveness,
# logging, the exit cleanup (it_cleanup, chained below).
. "$NAT_DIR/../lib.sh"
. "$NAT_DIR/topo.sh"

NP=pbn$$                # namespace prefix of this test
GW_IP=203.0.113.10
ATT_IP=203.0.113.66
NAT_PUB_IP=203.0.113.1
echo "test $NAT_NAME: files in $T, namespaces $NP-*"

log() {
	it_log "$@"
}

for tool in ip nft conntrack dumpcap sipp python3 timeout; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
[ -x "$PSTNBRIDGED" ] || fail "no daemon binary $PSTNBRIDGED"
[ -x "$PSTNBRIDGECTL" ] || fail "no control binary $PSTNBRIDGECTL"

# Last resort at the test's exit: any namespace of ours a run left behind.
nat_final_cleanup() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NP-"); do
		ip netns del "$ns" 2>/dev/null
	done
	it_cleanup
}
trap nat_final_cleanup EXIT
trap 'exit 1' INT TERM

# The test's audio: noise-like A-law (sipp) and 16-bit PCM (baresip).
AUDIO=$T/audio.wav
$NATOOL gen-alaw "$AUDIO" --seconds 40 || fail "cannot write $AUDIO"

alive() {
	it_alive "$@"
}

# wait_dead PID SECONDS
wait_dead() {
	it_wait_dead "$@"
}

now() {
	it_now
}

# ------------------------------------------------------------ one run
# Inside a run (a subshell started by nat_run): R is its directory.
R=
DPID=
CAPS=()
BG=()

# Stop everything of the current run; remove its namespaces.
run_cleanup() {
	local p
	for p in "${BG[@]}"; do
		alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	if [ -n "$DPID" ] && alive "$DPID"; then
		kill -TERM "$DPID" 2>/dev/null
		wait_dead "$DPID" 4 || kill -KILL "$DPID" 2>/dev/null
	fi
	for p in "${BG[@]}"; do
		wait_dead "$p" 2 || kill -KILL "$p" 2>/dev/null
	done
	caps_stop
	topo_down
}

mark() {
	echo "$1 $(now)" >> "$R/markers.txt"
}

ctl() {
	timeout -k 2 10 "$PSTNBRIDGECTL" -s "$R/ctl.sock" "$@"
}

# caps_start: dumpcap (UDP only) on the public side of the gateway, the
# client's own interface and the attacker's.
caps_start() {
	local spec ns ifc n
	for spec in pub:wan0 "priv:$([ "$TOPO_KIND" = asym ] && echo wan0 || echo eth0)" att:wan0; do
		ns=${spec%%:*}
		ifc=${spec##*:}
		ip netns exec "$NP-$ns" dumpcap -q -P -i "$ifc" -f udp -w "$R/$ns.pcap" \
			> "$R/dumpcap-$ns.log" 2>&1 &
		CAPS+=($!)
	done
	for n in $(seq 100); do
		if [ -s "$R/pub.pcap" ] && [ -s "$R/priv.pcap" ] && [ -s "$R/att.pcap" ]; then
			sleep 0.3
			return 0
		fi
		sleep 0.1
	done
	fail "dumpcap did not start: $(cat "$R"/dumpcap-*.log)"
}

caps_stop() {
	local p
	[ ${#CAPS[@]} -gt 0 ] || return 0
	sleep 0.3
	for p in "${CAPS[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	for p in "${CAPS[@]}"; do
		wait_dead "$p" 4 || kill -KILL "$p" 2>/dev/null
	done
	CAPS=()
}

# daemon_config MODE: the daemon's configuration for latch mode MODE.
daemon_config() {
	cat <<EOF
[general]
log_level = debug
drain_time = 3
ctl_socket = $R/ctl.sock
state_dir = $R

[sip]
listen_udp = $GW_IP:5060
listen_tcp = $GW_IP:5060
trusted = 203.0.113.0/24, 10.0.0.0/8

[rtp]
address = $GW_IP
port_min = 30000
port_max = 30999
latch_mode = $1
codecs = pcma, pcmu

[span sim1]
driver = sim
type = e1
echo = 100
tone = 101
tone_hz = 1004

[route pstn]
direction = outbound
match = 1
spans = sim1

[route internet]
direction = inbound
match = 2
target = sip:{number}@$NAT_PUB_IP:5062
EOF
}

# daemon_start MODE: pstnbridged in the pub namespace; waits until span
# sim1 is up.
daemon_start() {
	local n
	daemon_config "$1" > "$R/pstnbridge.conf"
	ip netns exec "$NP-pub" "$PSTNBRIDGED" -f -c "$R/pstnbridge.conf" -l debug \
		>> "$R/daemon.log" 2>&1 &
	DPID=$!
	for n in $(seq 100); do
		alive "$DPID" || fail "the daemon exited at start (latch_mode = $1): $(tail -n 5 "$R/daemon.log")"
		ctl status 2>/dev/null | grep -Eq '^span sim1 up( |$)' && return 0
		sleep 0.1
	done
	fail "span sim1 not up within 10 s"
}

# daemon_stop: SIGTERM; it must exit 0 within 8 s, without a sanitizer
# report.
daemon_stop() {
	local rc
	[ -n "$DPID" ] || return 0
	alive "$DPID" || fail "the daemon died during the call: $(tail -n 20 "$R/daemon.log")"
	kill -TERM "$DPID"
	wait_dead "$DPID" 8 || { kill -KILL "$DPID"; fail "the daemon still runs 8 s after SIGTERM"; }
	wait "$DPID"
	rc=$?
	DPID=
	[ $rc -eq 0 ] || fail "the daemon exited $rc after SIGTERM"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$R/daemon.log"; then
		grep -E -A5 'Sanitizer|runtime error:' "$R/daemon.log" | head -n 30
		fail "sanitizer report in the daemon log"
	fi
}

# calls_line: the first line of `pstnbridgectl calls` (empty when none).
calls_line() {
	ctl calls 2>/dev/null | grep -m1 '^id='
}

# wait_call SECONDS: wait until a call with an RTP port is listed; prints
# its rtp_local port.
wait_call() {
	local n line
	for n in $(seq $(( $1 * 50 ))); do
		line=$(calls_line)
		if [ -n "$line" ]; then
			line=$(sed -n 's/.*rtp_local=[^ ]*:\([0-9][0-9]*\) .*/\1/p' <<<"$line")
			if [ -n "$line" ] && [ "$line" != 0 ]; then
				echo "$line"
				return 0
			fi
		fi
		sleep 0.02
	done
	return 1
}

# render SRC DST KEY=VALUE...: a scenario with @KEY@ filled in (sipp does
# not expand -key inside rtp_stream).
render() {
	local src=$1 dst=$2 kv args=(-e "s#@RTPFILE@#$AUDIO#g")
	shift 2
	for kv in "$@"; do
		args+=(-e "s#@${kv%%=*}@#${kv#*=}#g")
	done
	sed "${args[@]}" "$src" > "$dst"
	! grep -q '@[A-Z_]*@' "$dst" || fail "unfilled fields in $dst"
}

# sipp_bg NAME SCENARIO TIMEOUT_S [sipp args]: sipp in the client's
# namespace on CLIENT_IP:5060, media port SIPP_MP (6000); sets SIPP_PID.
sipp_bg() {
	local name=$1 scen=$2 to=$3
	shift 3
	(cd "$R" && exec ip netns exec "$NP-priv" timeout -k 3 $((to + 5)) sipp -sf "$scen" \
		-i "$CLIENT_IP" -p 5060 -mi "$CLIENT_IP" -mp "${SIPP_MP:-6000}" -m 1 -nostdin \
		-timeout "${to}s" -timeout_error -trace_msg -message_file "$R/$name.msg" \
		-trace_err -error_file "$R/$name.err" "$@") > "$R/$name.out" 2>&1 &
	SIPP_PID=$!
	BG+=("$SIPP_PID")
}

# sipp_wait PID NAME: its exit code; shows its output when it failed.
sipp_wait() {
	local rc
	wait "$1"
	rc=$?
	if [ $rc -ne 0 ]; then
		log "sipp $2 exited $rc"
		tail -n 8 "$R/$2.out"
		[ -s "$R/$2.err" ] && tail -n 20 "$R/$2.err"
		tail -n 30 "$R/$2.msg" 2>/dev/null
	fi
	return $rc
}

# uac_call NAME HOLD_MS [RTP_DELAY_MS]: start sipp calling 100 (echo)
# from behind the NAT in the background (SIPP_PID).
uac_call() {
	render "$NAT_DIR/sipp/uac.xml" "$R/$1.xml" HOLD_MS="$2" RTP_DELAY_MS="${3:-0}"
	sipp_bg "$1" "$R/$1.xml" 40 -s 100 "$GW_IP:5060"
}

# analyse ARGS: natool analyse of this run; prints the figures.
analyse() {
	$NATOOL analyse "$R" --client-ip "$CLIENT_IP" "$@"
}

# ------------------------------------------------------------ runs
RUNS_PASSED=()
RUNS_FAILED=()

# nat_run NAME KIND FUNCTION ARGS...: a run in a subshell: topology KIND
# (single|double|asym) with prefix $NP, captures started, then FUNCTION
# ARGS (which starts the daemon and does the call); cleanup at exit.
nat_run() {
	local name=$1 kind=$2 rc
	shift 2
	log "=== run $name ($kind)"
	(
		R=$T/$name
		mkdir -p "$R"
		trap run_cleanup EXIT
		trap 'exit 1' INT TERM
		topo_up "$NP" "$kind" > "$R/topo.log" 2>&1 || fail "topology $kind: $(cat "$R/topo.log")"
		caps_start
		"$@"
	)
	rc=$?
	if [ $rc -eq 0 ]; then
		log "=== PASS $name"
		RUNS_PASSED+=("$name")
	else
		log "=== FAIL $name"
		RUNS_FAILED+=("$name")
	fi
	return 0
}

# nat_summary: one line per run; exit status 1 when any failed.
nat_summary() {
	local r
	for r in "${RUNS_PASSED[@]}"; do
		echo "PASS $r"
	done
	for r in "${RUNS_FAILED[@]}"; do
		echo "FAIL $r"
	done
	echo "$NAT_NAME: ${#RUNS_PASSED[@]} runs passed, ${#RUNS_FAILED[@]} failed"
	[ ${#RUNS_FAILED[@]} -eq 0 ]
}

# nat_modes DEFAULT...: the latch modes to run (NAT_MODES overrides).
nat_modes() {
	echo "${NAT_MODES:-$*}"
}
