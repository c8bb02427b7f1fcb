#!/bin/bash
# [trunk prov] with register = yes at a provider (sipp as its registrar on
# $UASPORT, uas_trunk_register.xml). Asserts: the REGISTER is challenged
# with 401 and answered with a correct digest (sipp's verifyauth, and the
# response recomputed here from the Authorization sent, opaque echoed);
# the registration granted for 6 s is refreshed after ~3 s, before it
# expires; after a 403 the next REGISTER comes after register_retry (2 s),
# after a second 403 after 4 s (doubled), then it registers again; a
# reload that leaves the trunk unchanged sends no REGISTER and keeps it
# registered; a reload that removes the trunk unregisters it (Expires: 0).
# `pstnbridgectl trunks` shows the state on the way.
. "$(dirname "$0")/lib.sh"

# restart_on_up = no: the daemon is ready at once (no wait for the span's
# start-up RESTART), so the checks below keep their timing from the start.
trunk_conf() {
	it_config | sed 's/^congestion = 106$/&\nrestart_on_up = no/'
	cat <<EOF

[trunk prov]
host = 127.0.0.1
port = $UASPORT
username = acc
password = s3cret
register = yes
register_expires = 300
register_retry = 2
EOF
}

it_render "$IT_DIR/sipp/uas_trunk_register.xml" "$T/reg.xml" USER=acc PASS=s3cret \
	REALM=prov.example EXPIRES=6
it_sipp_bg reg "$T/reg.xml" "$UASPORT" "$MEDIA1" 50 -trace_logs -log_file "$T/reg.log"
P=$SIPP_PID
sleep 0.5
it_alive "$P" || fail "sipp registrar did not start: $(cat "$T/reg.out")"
trunk_conf > "$CONF"
it_start_daemon

# Registered (twice), failed twice, registered for an hour: at most ~20 s.
for n in $(seq 300); do
	grep -q '^OK [0-9]* 3' "$T/reg.log" 2>/dev/null && break
	it_alive "$P" || break
	if [ "$n" = 40 ]; then
		ctl trunks | grep -q 'trunk=prov state=registered .*expires=6' ||
			fail "not registered after 4 s: $(ctl trunks)"
	fi
	sleep 0.1
done
grep -q '^OK [0-9]* 3' "$T/reg.log" ||
	{ it_sipp_wait "$P" reg; fail "the registration cycles did not complete: $(cat "$T/reg.log")"; }
sleep 0.3
out=$(ctl trunks)
it_log "trunks: $out"
grep -Eq '^trunk=prov state=registered proxy=127.0.0.1:[0-9]+/udp register=yes expires=3600 last=200 failures=0 next=3[0-9]{3}$' <<<"$out" ||
	fail "trunks does not show the registration: $out"

# An unchanged trunk keeps its registration over a reload.
ctl reload >/dev/null || fail "reload refused"
sleep 1.5
grep -q 'REGISTER [0-9]* u' "$T/reg.log" && fail "a REGISTER after a reload that changed nothing"
ctl trunks | grep -q 'state=registered .*expires=3600' || fail "reload lost the registration: $(ctl trunks)"

# A removed trunk unregisters.
it_write_config
ctl reload >/dev/null || fail "reload refused"
it_sipp_wait "$P" reg || fail "the registrar did not see the unregister (Expires: 0)"
[ -z "$(ctl trunks)" ] || fail "the removed trunk is still listed: $(ctl trunks)"

# Timing, from the registrar's clock (ms).
python3 - "$T/reg.log" <<'EOF' || fail "registration timing"
import re, sys
ev = [l.split() for l in open(sys.argv[1]) if re.match(r'^(REGISTER|OK|403) \d+', l)]
t = {(e[0], e[2] if len(e) > 2 else ''): int(e[1]) for e in ev}
def gap(a, b, lo, hi, what):
    d = (t[b] - t[a]) / 1000.0
    ok = lo <= d <= hi
    print("%s: %.2f s (%s %.1f..%.1f)" % (what, d, "ok" if ok else "NOT in", lo, hi))
    return ok
ok = gap(('OK', '1'), ('REGISTER', 'c2'), 2.5, 5.5, "refresh of a 6 s registration")
ok &= gap(('OK', '2'), ('REGISTER', 'f1'), 2.5, 5.5, "second refresh")
ok &= gap(('403', 'f1'), ('REGISTER', 'f2'), 1.7, 3.5, "retry after the first 403")
ok &= gap(('403', 'f2'), ('REGISTER', 'c3'), 3.7, 6.0, "retry after the second 403 (doubled)")
sys.exit(0 if ok else 1)
EOF

# The digest responses, recomputed from what the gateway sent.
$IT_TOOL digest "$T/reg.msg" --method REGISTER --count 3 --user acc --realm prov.example \
	--password s3cret --opaque-prefix op --algorithm MD5 || fail "digest responses"
it_stop_daemon
it_log "PASS"
