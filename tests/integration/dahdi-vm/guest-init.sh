#!/bin/busybox sh
# /init of the dahdi VM test guest (PID 1). Loads DAHDI, loops two pairs of
# dahdi_dynamic_loc spans (a T1 pair and an E1 pair), runs pstnbridged on
# one side of each pair in dahdi mode and farend (libpri network side) on
# the other, and calls through the gateway with sipp. Every check prints
# "VMCHECK PASS|FAIL name: detail"; the end prints "DAHDIVM_RC=<failures>"
# and powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /var/run /dev/pts /dev/shm
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
ip link set lo up
ip addr add 127.0.0.1/8 dev lo 2>/dev/null
T0=$(cut -d' ' -f1 /proc/uptime)
echo "GUEST: /init at uptime ${T0}s, kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus"

FAILS=0
up() { cut -d' ' -f1 /proc/uptime; }
step() { echo "GUEST: ---- $* ---- ($(up)s)"; }
check() {	# check NAME CONDITION-RESULT(0/1) DETAIL
	if [ "$2" = 0 ]; then
		echo "VMCHECK PASS $1: $3"
	else
		echo "VMCHECK FAIL $1: $3"
		FAILS=$((FAILS + 1))
	fi
}
finish() {
	step "daemon log (tail)"
	tail -n 60 /tmp/daemon.log
	echo "DAHDIVM_RC=$FAILS"
	sync
	poweroff -f
}
# wait_for SECONDS COMMAND...: 0 once COMMAND succeeds
wait_for() {
	n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
ctl() { pstnbridgectl -s /tmp/ctl.sock "$@"; }
span_is() { ctl status 2>/dev/null | grep -Eq "^span $1 $2( |$)"; }
far_has() { grep -q "$2" "/tmp/far-$1.log"; }

step insmod
insmod /modules/dahdi.ko auto_assign_spans=1 || check insmod 1 "dahdi.ko"
insmod /modules/dahdi_dynamic.ko || check insmod 1 "dahdi_dynamic.ko"
insmod /modules/dahdi_dynamic_loc.ko || check insmod 1 "dahdi_dynamic_loc.ko"
step dahdi_cfg
dahdi_cfg -c /etc/dahdi/system.conf
rc=$?
check dahdi_cfg $rc "rc $rc"
[ $rc = 0 ] || finish
for s in /proc/dahdi/*; do echo "== $s"; head -4 "$s"; done

step "far ends and daemon"
# T1 pair: spans 1 (daemon, chans 1-24) and 2 (far end, 25-48).
# E1 pair: spans 3 (daemon, chans 49-79) and 4 (far end, 80-110).
start_far() {	# NAME LOGNAME ARGS...
	n=$1
	log=$2
	shift 2
	farend -N "$n" "$@" >>"/tmp/far-$log.log" 2>&1 &
	eval "FARPID_$log=$!"
}
start_far t1 t1 -d 48 -b 24 -s ni2 -r 40001 -S 0x1111 -F 0x2222 -n 250
start_far e1 e1 -d 95 -b 79 -s euro -r 40002 -S 0x3333 -F 0x4444 -n 250
pstnbridged -f -c /etc/pstnbridge.conf -l debug >/tmp/daemon.log 2>&1 &
DPID=$!
t=$(up)
wait_for 30 span_is t1 up
rc=$?
check t1_up $rc "span t1 up (daemon started at $t s, up at $(up) s)"
wait_for 30 span_is e1 up
rc=$?
check e1_up $rc "span e1 up (at $(up) s)"
ctl status

# sipp_call NAME SCENARIO CALLED SIPPORT RTPPORT PT CODEC FILE HOLD_MS
sipp_call() {
	sed -e "s#@RTPPORT@#$5#g" -e "s#@PT@#$6#g" -e "s#@CODEC@#$7#g" \
	    -e "s#@FILE@#$8#g" -e "s#@HOLD_MS@#$9#g" "/test/$2" >"/tmp/$1.xml"
	(cd /tmp && exec sipp -sf "/tmp/$1.xml" -s "$3" -i 127.0.0.1 -p "$4" \
	    -mi 127.0.0.1 -mp $(($4 + 1000)) -m 1 -nostdin -timeout 60s -timeout_error \
	    -trace_err -error_file "/tmp/$1.err" 127.0.0.1:5060) >"/tmp/$1.out" 2>&1
}
# a call's audio and release, from the far end's report
check_call() {	# SPAN CALLNO
	l=$(grep "FAREND $1 call $2 a2b" "/tmp/far-$1.log")
	echo "GUEST: $l"
	grep "jitter buffer:" /tmp/daemon.log | sed 's/^/GUEST: daemon: /'
	a=$(echo "$l" | sed -n 's/.* a2b \([0-9]*\)\/\([0-9]*\) .*/\1 \2/p')
	b=$(echo "$l" | sed -n 's/.* b2a \([0-9]*\)\/\([0-9]*\) .*/\1 \2/p')
	set -- $1 $2 $a $b
	[ $# = 6 ] || { check "$1_call$2_audio" 1 "no report: $l"; return; }
	# sipp -> PSTN: at least 95% of the 250 blocks, byte for byte, in order
	[ $(($3 * 100)) -ge $(($4 * 95)) ]
	check "$1_call$2_audio_sip_to_pstn" $? "$3/$4 blocks intact"
	# PSTN -> sipp: at least 95% of the blocks written while connected
	[ $5 -gt 100 ] && [ $(($5 * 100)) -ge $(($6 * 95)) ]
	check "$1_call$2_audio_pstn_to_sip" $? "$5/$6 blocks intact"
}

step "call 1 on the T1 and the E1 span, in parallel"
sipp_call t1c1 uac_call.xml 1000 5070 40001 0 PCMU /test/t1.raw 6000 &
P1=$!
sipp_call e1c1 uac_call.xml 2000 5080 40002 8 PCMA /test/e1.raw 6000 &
P2=$!
wait $P1
rc=$?
check t1_call1_sip $rc "sipp: INVITE 200 ACK, audio, BYE 200"
wait $P2
rc=$?
check e1_call1_sip $rc "sipp: INVITE 200 ACK, audio, BYE 200"
wait_for 5 far_has t1 "call 1 released cause 16"
check t1_call1_released $? "far end: released, cause 16"
wait_for 5 far_has e1 "call 1 released cause 16"
check e1_call1_released $? "far end: released, cause 16"
check_call t1 1
check_call e1 1
wait_for 5 sh -c "! pstnbridgectl -s /tmp/ctl.sock calls | grep -q '^id='"
check calls_gone $? "no call left in the daemon"

step "D-channel loss: the T1 far end stops during a call"
sipp_call t1c2 uac_wait_bye.xml 1001 5070 40001 0 PCMU /test/t1.raw 45000 &
P1=$!
wait_for 10 far_has t1 "call 2 connected"
check t1_call2_connected $? "call 2 connected"
sleep 1
eval "kill -9 \$FARPID_t1"
t=$(up)
echo "GUEST: far end t1 killed at ${t}s"
wait $P1
rc=$?
check t1_call2_bye $rc "the gateway hung up the SIP side (BYE) after the D-channel loss"
grep -E "span=t1 down" /tmp/daemon.log >/dev/null
rc=$?
check t1_down $rc "daemon: span t1 down ($(grep -E 'span=t1 down' /tmp/daemon.log | head -1 | cut -c1-12), far end stopped at $t s uptime)"
grep -E "span=t1 .*hangup cause 38" /tmp/daemon.log >/dev/null
check t1_cause38 $? "daemon: the call ended with cause 38"
sipp_call t1c3 uac_503.xml 1002 5070 40001 0 PCMU /test/t1.raw 1000
check t1_503_while_down $? "a call to the span while it is down gets 503"

step "recovery: the T1 far end comes back"
start_far t1 t1b -d 48 -b 24 -s ni2 -r 40001 -S 0x1111 -F 0x2222 -n 250
t=$(up)
wait_for 40 span_is t1 up
rc=$?
check t1_up_again $rc "span t1 up again ($t s -> $(up) s)"
wait_for 10 far_has t1b "restart chan"
rc=$?
check t1_restart $rc "RESTART of the lost channel: $(grep 'restart chan' /tmp/far-t1b.log | head -1)"
sipp_call t1c4 uac_call.xml 1003 5070 40001 0 PCMU /test/t1.raw 6000
check t1_call_after_recovery_sip $? "sipp: a call after the recovery"
wait_for 5 far_has t1b "call 1 released cause 16"
check t1_call_after_recovery_released $? "far end: released, cause 16"
sed 's/FAREND t1 call 1 /FAREND t1 call 4 /' /tmp/far-t1b.log >>/tmp/far-t1.log
check_call t1 4

step "shutdown"
kill -TERM $DPID
n=100
while kill -0 $DPID 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
wait $DPID
rc=$?
check daemon_exit $rc "pstnbridged exit status $rc after SIGTERM"
! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' /tmp/daemon.log
check sanitizers $? "no sanitizer report"
for f in /tmp/far-*.log; do echo "== $f"; cat "$f"; done
echo "GUEST: done at $(up)s"
finish
