# Helpers for the pstnbridge integration tests; sourced by every t_*.sh.
#
# Everything runs on 127.0.0.1 with ports picked free for the test, every
# wait is bounded, and every process the test starts is stopped by its own
# PID when the test exits. Each test keeps its files in $T (IT_TESTDIR when
# run.sh gives one, else a new temp dir).
#
# Environment: PSTNBRIDGED, PSTNBRIDGECTL (default ./pstnbridged and
# ./pstnbridgectl of the current directory, the build directory).

set -u

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_NAME=$(basename "$0" .sh)
IT_TOOL="python3 -W ignore $IT_DIR/ittool.py"

it_abs() {
	case "$1" in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}
PSTNBRIDGED=$(it_abs "${PSTNBRIDGED:-./pstnbridged}")
PSTNBRIDGECTL=$(it_abs "${PSTNBRIDGECTL:-./pstnbridgectl}")

T=${IT_TESTDIR:-}
if [ -z "$T" ]; then
	T=$(mktemp -d "${TMPDIR:-/tmp}/pstnbridge-$IT_NAME.XXXXXX")
fi
mkdir -p "$T"
T=$(cd "$T" && pwd)
echo "test $IT_NAME: files in $T"

CONF=$T/pstnbridge.conf
CTL=$T/ctl.sock
DLOG=$T/daemon.log
PCAP=$T/rtp.pcap
DPID=
CAPPID=
IT_BG=()            # background processes (sipp, ...) to stop at exit

it_log() {
	echo "[$(date +%T.%3N)] $*"
}

fail() {
	it_log "FAIL: $*"
	exit 1
}

it_now() {
	date +%s.%N
}

# Is PID alive (a zombie counts as dead)?
it_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# it_wait_dead PID SECONDS: 0 when PID is gone within SECONDS.
it_wait_dead() {
	local pid=$1 n=$(( $2 * 20 ))
	while [ $n -gt 0 ]; do
		it_alive "$pid" || return 0
		sleep 0.05
		n=$((n - 1))
	done
	! it_alive "$pid"
}

it_cleanup() {
	local p
	for p in "${IT_BG[@]}"; do
		it_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	if [ -n "$DPID" ] && it_alive "$DPID"; then
		kill -TERM "$DPID" 2>/dev/null
		it_wait_dead "$DPID" 3 || kill -KILL "$DPID" 2>/dev/null
	fi
	for p in "${IT_BG[@]}"; do
		it_wait_dead "$p" 2 || kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$CAPPID" ] && it_alive "$CAPPID"; then
		kill -INT "$CAPPID" 2>/dev/null
		it_wait_dead "$CAPPID" 3 || kill -KILL "$CAPPID" 2>/dev/null
	fi
}
trap it_cleanup EXIT
trap 'exit 1' INT TERM

for tool in sipp dumpcap python3 timeout; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done

# ---------------------------------------------------------------- ports
# SIPPORT: the daemon (UDP and TCP); UASPORT: the sipp UAS of inbound
# calls; SIPP1..4: sipp UAC SIP ports; MEDIA1..4: sipp media ports (4 free
# ports each, sipp may use base+2); RTPMIN..RTPMAX: the daemon's RTP range.
# They are reserved for this shell's lifetime against other test runs on
# the machine (ittool.py ports).
read -r SIPPORT UASPORT SIPP1 SIPP2 SIPP3 SIPP4 MEDIA1 MEDIA2 MEDIA3 MEDIA4 RTPMIN \
	< <($IT_TOOL ports --owner $$ 1 1 1 1 1 1 4 4 4 4 40) || fail "no free ports"
[ -n "${RTPMIN:-}" ] || fail "no free ports"
RTPMAX=$((RTPMIN + 39))

# ---------------------------------------------------------------- config
# The standard config of the tests, on stdout.
it_config() {
	cat <<EOF
[general]
log_level = debug
drain_time = 5
ctl_socket = $CTL
state_dir = $T

[sip]
listen_udp = 127.0.0.1:$SIPPORT
listen_tcp = 127.0.0.1:$SIPPORT
trusted = 127.0.0.0/8

[rtp]
address = 127.0.0.1
port_min = $RTPMIN
port_max = $RTPMAX
latch_mode = on-change
codecs = pcma, pcmu

[span sim1]
driver = sim
type = e1
echo = 100
tone = 101
tone_hz = 1004
busy = 102
noanswer = 103
ringanswer = 104
ring_seconds = 1
early = 105
congestion = 106

[route pstn]
direction = outbound
match = 1
spans = sim1

[route internet]
direction = inbound
match = 2
target = sip:{number}@127.0.0.1:$UASPORT
EOF
}

it_write_config() {
	it_config > "$CONF"
}

# Line number of the first line of FILE matching the regexp.
it_line_of() {
	grep -n -m1 -E "$2" "$1" | cut -d: -f1
}

# ---------------------------------------------------------------- daemon
ctl() {
	timeout -k 2 10 "$PSTNBRIDGECTL" -s "$CTL" "$@"
}

# Start the daemon on $CONF; wait (bounded) until span sim1 is up.
it_start_daemon() {
	local n from
	[ -x "$PSTNBRIDGED" ] || fail "no daemon binary $PSTNBRIDGED"
	[ -x "$PSTNBRIDGECTL" ] || fail "no control binary $PSTNBRIDGECTL"
	from=$(it_log_lines)
	"$PSTNBRIDGED" -f -c "$CONF" -l debug >>"$DLOG" 2>&1 &
	DPID=$!
	it_log "daemon started, pid $DPID"
	for n in $(seq 100); do
		it_alive "$DPID" || fail "daemon exited at start: $(tail -n 20 "$DLOG")"
		if ctl status 2>/dev/null | grep -Eq '^span sim1 up( |$)'; then
			ctl status | sed 's/^/  status: /'
			it_wait_startup_restart "$from"
			return 0
		fi
		sleep 0.1
	done
	ctl status
	fail "span sim1 not up within 10 s"
}

# The RESTART of the idle channels that follows the span's start-up
# (restart_on_up, 2 s after it came up): wait (bounded) until it has been
# sent and acknowledged, so that no test's first call races it. Skipped
# when $CONF says restart_on_up = no.
it_wait_startup_restart() {
	local from=${1:-0} n
	grep -q '^restart_on_up *= *no' "$CONF" && return 0
	it_wait_log_str "span=sim1 up: RESTART of" 5 "$from" ||
		fail "no start-up RESTART of the idle channels of sim1"
	for n in $(seq 50); do
		ctl spans 2>/dev/null | grep -q 'restarting=[1-9]' || return 0
		sleep 0.1
	done
	fail "start-up RESTARTs not acknowledged within 5 s: $(ctl spans)"
}

# Stop the daemon with SIGTERM; wait at most SECONDS (default 8); fail
# unless it exits 0 without a sanitizer report. Sets IT_STOP_SECONDS.
it_stop_daemon() {
	local max=${1:-8} t0 rc
	[ -n "$DPID" ] || return 0
	it_alive "$DPID" || fail "daemon died before it was stopped"
	t0=$(it_now)
	kill -TERM "$DPID"
	if ! it_wait_dead "$DPID" "$max"; then
		kill -KILL "$DPID" 2>/dev/null
		fail "daemon still running $max s after SIGTERM"
	fi
	IT_STOP_SECONDS=$(awk -v a="$t0" -v b="$(it_now)" 'BEGIN { printf "%.2f", b - a }')
	wait "$DPID"
	rc=$?
	DPID=
	it_log "daemon exited $rc after $IT_STOP_SECONDS s"
	[ $rc -eq 0 ] || fail "daemon exit code $rc after SIGTERM"
	it_check_sanitizers
}

it_check_sanitizers() {
	if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$DLOG"; then
		grep -E -A5 'Sanitizer|runtime error:' "$DLOG" | head -n 40
		fail "sanitizer report in the daemon log"
	fi
}

# Fail unless the daemon is still running.
it_daemon_alive() {
	it_alive "$DPID" || fail "daemon died: $(tail -n 20 "$DLOG")"
}

# Wait (bounded, SECONDS) until the daemon log has a line matching the
# extended regexp, counting only lines after line FROM (default 0).
it_wait_log() {
	local re=$1 max=${2:-10} from=${3:-0} n
	for n in $(seq $((max * 10))); do
		tail -n +"$((from + 1))" "$DLOG" | grep -Eq -- "$re" && return 0
		sleep 0.1
	done
	return 1
}

# Same with a fixed string instead of a regexp.
it_wait_log_str() {
	local str=$1 max=${2:-10} from=${3:-0} n
	for n in $(seq $((max * 10))); do
		tail -n +"$((from + 1))" "$DLOG" | grep -Fq -- "$str" && return 0
		sleep 0.1
	done
	return 1
}

it_log_lines() {
	if [ -f "$DLOG" ]; then wc -l < "$DLOG"; else echo 0; fi
}

# Wait (bounded, SECONDS, default 3) until `pstnbridgectl spans` has a line
# that begins with STR; fail with MESSAGE and what it shows if it does not.
it_wait_spans() {
	local str=$1 max=${2:-3} msg=$3 n
	for n in $(seq $((max * 10))); do
		ctl spans 2>/dev/null | grep -qF -- "$str" && return 0
		sleep 0.1
	done
	fail "$msg: $(ctl spans)"
}

# Q.931 messages of one type a libpri side logged: it_q931_count SIDE DIR TYPE
# (SIDE sim1/far for the sim far end, DIR '<' received or '>' sent).
it_q931_count() {
	grep -cF "pri $1: $2 Message Type: $3 (" "$DLOG"
}

# Wait (bounded) until `pstnbridgectl calls` lists at least N calls.
it_wait_calls() {
	local want=$1 max=${2:-10} n c
	for n in $(seq $((max * 10))); do
		c=$(ctl calls 2>/dev/null | grep -c '^id=')
		[ "$c" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# Wait (bounded) until `pstnbridgectl calls` succeeds and lists no call.
it_wait_calls_gone() {
	local max=${1:-5} n out
	for n in $(seq $((max * 10))); do
		if out=$(ctl calls 2>/dev/null) && ! grep -q '^id=' <<<"$out"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- media
# The test audio: 60 s of noise-like A-law (every 20 ms frame differs).
IT_AUDIO=$T/audio.wav
$IT_TOOL gen "$IT_AUDIO" --seconds 60 || fail "cannot write $IT_AUDIO"

# Start a capture of the daemon's RTP range on lo (classic pcap).
it_capture_start() {
	local filter=${1:-"udp and portrange $RTPMIN-$RTPMAX"} n
	dumpcap -i lo -P -f "$filter" -w "$PCAP" >"$T/dumpcap.log" 2>&1 &
	CAPPID=$!
	for n in $(seq 100); do
		if grep -q 'Capturing on' "$T/dumpcap.log" && [ -s "$PCAP" ]; then
			sleep 0.3
			return 0
		fi
		it_alive "$CAPPID" || fail "dumpcap failed: $(cat "$T/dumpcap.log")"
		sleep 0.1
	done
	fail "dumpcap did not start: $(cat "$T/dumpcap.log")"
}

it_capture_stop() {
	[ -n "$CAPPID" ] || return 0
	sleep 0.3
	kill -INT "$CAPPID" 2>/dev/null
	it_wait_dead "$CAPPID" 5 || kill -KILL "$CAPPID" 2>/dev/null
	wait "$CAPPID" 2>/dev/null
	CAPPID=
}

# it_rtp MEDIAPORT [ittool rtp options]: analyse $PCAP for sipp's port.
it_rtp() {
	local port=$1
	shift
	$IT_TOOL rtp "$PCAP" --port "$port" "$@"
}

# ---------------------------------------------------------------- sipp
# it_render SRC DST KEY=VALUE...: copy a scenario, filling in @KEY@.
it_render() {
	local src=$1 dst=$2 kv args=()
	shift 2
	args+=(-e "s#@RTPFILE@#$IT_AUDIO#g")
	for kv in "$@"; do
		args+=(-e "s#@${kv%%=*}@#${kv#*=}#g")
	done
	sed "${args[@]}" "$src" > "$dst"
	if grep -q '@[A-Z_]*@' "$dst"; then
		fail "scenario $dst has unfilled fields: $(grep -o '@[A-Z_]*@' "$dst" | sort -u | tr '\n' ' ')"
	fi
}

# The local address sipp binds to (SIP and media); a test may set another
# loopback address, e.g. IT_SIPP_IP=127.0.0.2, to be an untrusted source.
IT_SIPP_IP=${IT_SIPP_IP:-127.0.0.1}

# it_sipp_bg NAME SCENARIO SIP_PORT MEDIA_PORT TIMEOUT_S [sipp args...]
# Starts sipp in the background in $T (trace in $T/NAME.msg, output in
# $T/NAME.out); sets SIPP_PID. Scenario file: $T/NAME.xml (rendered).
it_sipp_bg() {
	local name=$1 scen=$2 port=$3 mport=$4 to=$5
	shift 5
	(cd "$T" && exec timeout -k 5 $((to + 10)) sipp -sf "$scen" \
		-i "$IT_SIPP_IP" -p "$port" -mi "$IT_SIPP_IP" -mp "$mport" \
		-m 1 -nostdin -timeout "${to}s" -timeout_error \
		-trace_msg -message_file "$T/$name.msg" \
		-trace_err -error_file "$T/$name.err" "$@" ) >"$T/$name.out" 2>&1 &
	SIPP_PID=$!
	IT_BG+=("$SIPP_PID")
	it_log "sipp $name started (pid $SIPP_PID): $scen $*"
}

# it_sipp_wait PID NAME: wait for a background sipp; prints its outcome and
# returns its exit code (0: the call succeeded).
it_sipp_wait() {
	local pid=$1 name=$2 rc
	wait "$pid"
	rc=$?
	it_log "sipp $name exited $rc"
	if [ $rc -ne 0 ]; then
		echo "--- sipp $name output (tail)"
		tail -n 15 "$T/$name.out"
		[ -s "$T/$name.err" ] && { echo "--- sipp $name errors"; tail -n 30 "$T/$name.err"; }
		echo "--- sipp $name messages (tail)"
		tail -n 40 "$T/$name.msg" 2>/dev/null
	fi
	return $rc
}

# it_sipp NAME SCENARIO SIP_PORT MEDIA_PORT TIMEOUT_S [args]: foreground.
it_sipp() {
	it_sipp_bg "$@"
	it_sipp_wait "$SIPP_PID" "$1"
}

# UAC to the daemon: it_uac NAME TEMPLATE CALLED SIP_PORT MEDIA_PORT TIMEOUT_S [KEY=VALUE...] [-- sipp args]
it_uac_bg() {
	local name=$1 tpl=$2 called=$3 port=$4 mport=$5 to=$6 kv=() extra=()
	shift 6
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		kv+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	extra=("$@")
	it_render "$IT_DIR/sipp/$tpl" "$T/$name.xml" "${kv[@]}"
	it_sipp_bg "$name" "$T/$name.xml" "$port" "$mport" "$to" -s "$called" \
		"${extra[@]}" "127.0.0.1:$SIPPORT"
}

it_uac() {
	it_uac_bg "$@"
	it_sipp_wait "$SIPP_PID" "$1"
}

# The daemon's RTP port as written in the SDP it sent to sipp NAME.
it_daemon_media_port() {
	local name=$1 mport=$2
	$IT_TOOL sdp-port "$T/$name.msg" --not "$mport"
}

# ---------------------------------------------------------------- registrar
# it_register NAME SIP_PORT USER PASS AOR EXPIRES CODE [CONTACT]: one
# REGISTER with digest auth from 127.0.0.1:SIP_PORT (sipp, foreground);
# CONTACT defaults to <sip:AOR@127.0.0.1:SIP_PORT>. 0 when the final
# response was CODE; the responses are in $T/NAME.msg.
it_register() {
	local name=$1 port=$2 user=$3 pass=$4 aor=$5 exp=$6 code=$7
	local contact=${8:-"<sip:$aor@127.0.0.1:$port>"}
	it_render "$IT_DIR/sipp/reg.xml" "$T/$name.xml" USER="$user" PASS="$pass" AOR="$aor" \
		EXPIRES="$exp" CODE="$code" CONTACT="$contact"
	it_sipp "$name" "$T/$name.xml" "$port" "$MEDIA4" 10 "127.0.0.1:$SIPPORT"
}

# ---------------------------------------------------------------- TLS
# it_pki_cert DIR NAME CN EXTENSIONS: a key and a certificate NAME.key,
# NAME.crt for CN, signed by DIR/ca.crt, with the x509v3 extension lines.
it_pki_cert() {
	local d=$1 name=$2 cn=$3 ext=$4
	openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$name.key" -out "$d/$name.csr" \
		-subj "/CN=$cn" >/dev/null 2>&1 || fail "openssl req $name"
	printf '%s\n' "$ext" > "$d/$name.ext"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -sha256 -extfile "$d/$name.ext" -out "$d/$name.crt" >/dev/null 2>&1 ||
		fail "openssl x509 $name"
}

# it_pki_make DIR: a test PKI in DIR: ca.crt/ca.key (the test CA),
# server.crt/.key (for 127.0.0.1, IP and DNS subjectAltName),
# client.crt/.key (a client certificate of the CA) and other.crt/.key (a
# second CA nobody trusts).
it_pki_make() {
	local d=$1
	command -v openssl >/dev/null || fail "openssl is not installed"
	mkdir -p "$d"
	openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" \
		-days 2 -subj "/CN=pstnbridge test CA" >/dev/null 2>&1 || fail "openssl: no CA"
	it_pki_cert "$d" server 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
	it_pki_cert "$d" client "test client" "extendedKeyUsage=clientAuth"
	openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$d/other.key" -out "$d/other.crt" \
		-days 2 -subj "/CN=other CA" >/dev/null 2>&1 || fail "openssl: no second CA"
}
