#!/bin/bash
# A real softphone over SIP/TLS with certificates made here (it_pki_make),
# mutual TLS (tls_verify_peer = yes). openssl s_client: the gateway's
# certificate verifies for 127.0.0.1 against the test CA and not against
# another CA (baresip 1.0 on libre 1.1 does not check the server's
# certificate, so the client side is shown with openssl). A baresip whose
# certificate is not of the test CA is refused in the handshake and does
# not register. baresip 1.0 with a client certificate of the CA (PCMA,
# auto-answer, audio from a WAV) registers as alice (MD5 digest, nothing
# on loopback trusted); `registrations` lists it with via=tls. The sim far
# end calls alice's number 2001: the INVITE goes over the TLS connection of
# the REGISTER, baresip answers, >= 100 RTP packets each way (the call's
# rx/tx counters while it is up), the far end hangs up. baresip then calls
# the echo number 100 over TLS (ctrl_tcp dial, digest challenged), its
# audio comes back, it hangs up. No SIP of either call outside TLS.
. "$(dirname "$0")/lib.sh"
command -v baresip >/dev/null || fail "baresip is not installed"
TLSPORT=$SIPP4
P=$T/pki
it_pki_make "$P"

{
	it_config | sed -e "s#^trusted = .*#trusted = 192.0.2.1/32\nauth_algorithms = MD5#" \
		-e "/^\[sip\]/a listen_tls = 127.0.0.1:$TLSPORT\ntls_certificate = $P/server.crt\ntls_key = $P/server.key\ntls_ca = $P/ca.crt\ntls_verify_peer = yes"
	cat <<EOF2

[user alice]
password = alicepw
number = 2001
EOF2
} > "$CONF"

# 16-bit 8 kHz mono WAV for baresip's aufile: a 440 Hz tone, 30 s.
python3 - "$T/tone.wav" <<'EOF2' || fail "cannot write the WAV"
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
    for i in range(8000 * 30)))
w.close()
EOF2

# baresip_conf DIR CERT SIP_PORT RTP_PORT CTRL_PORT: a config and an
# account for alice over TLS; CERT: baresip's certificate and key (PEM).
baresip_conf() {
	mkdir -p "$1"
	cat > "$1/config" <<EOF2
poll_method		epoll
sip_listen		127.0.0.1:$3
sip_cafile		$P/ca.crt
sip_certificate		$2
call_local_timeout	30
call_max_calls		2
audio_source		aufile,$T/tone.wav
audio_player		aubridge,nil
audio_alert		aubridge,nil
audio_level		no
rtp_ports		$4-$(($4 + 3))
rtcp_mux		no
jitter_buffer_delay	1-10
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$5
EOF2
	echo "<sip:alice@127.0.0.1;transport=tls>;outbound=\"sip:127.0.0.1:$TLSPORT;transport=tls\";auth_pass=alicepw;regint=600;answermode=auto;audio_codecs=PCMA" \
		> "$1/accounts"
}

# baresip_start NAME CERT SIP_PORT RTP_PORT CTRL_PORT: sets BPID.
baresip_start() {
	baresip_conf "$T/$1" "$2" "$3" "$4" "$5"
	(cd "$T" && exec timeout -k 3 50 baresip -f "$T/$1" -t 45) > "$T/$1.log" 2>&1 &
	BPID=$!
	IT_BG+=("$BPID")
}

# ctrl NAME PORT COMMAND [PARAMS]: one ctrl_tcp command (a JSON
# netstring); prints the reply.
ctrl() {
	python3 - "$2" "$3" "${4:-}" <<'EOF2'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
d = json.dumps({"command": sys.argv[2], "params": sys.argv[3], "token": "t"}).encode()
s.sendall(str(len(d)).encode() + b":" + d + b",")
buf = b""
try:
    while b'"response":true' not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
except socket.timeout:
    pass
print(buf.decode(errors="replace"))
EOF2
}

# wait_audio WHAT: the call is up, its RTP goes to baresip's ports and at
# least 100 packets went each way (bounded, 8 s).
wait_audio() {
	local n rx tx remote
	for n in $(seq 80); do
		rx=$(calls_field rx)
		tx=$(calls_field tx)
		[ "$(calls_field state)" = up ] && [ "${rx:-0}" -ge 100 ] && [ "${tx:-0}" -ge 100 ] && break
		sleep 0.1
	done
	it_log "$1: $(ctl calls | grep '^id=' | head -n 1)"
	[ "$(calls_field state)" = up ] || fail "$1 is not up: $(ctl calls)"
	[ "${rx:-0}" -ge 100 ] && [ "${tx:-0}" -ge 100 ] ||
		fail "$1: audio did not flow both ways (rx=$rx tx=$tx)"
	remote=$(calls_field rtp_remote)
	[ "${remote##*:}" -ge "$MEDIA3" ] && [ "${remote##*:}" -le $((MEDIA3 + 3)) ] ||
		fail "$1: the RTP goes to $remote, not to baresip's ports $MEDIA3-$((MEDIA3 + 3))"
}

# calls_field FIELD: FIELD of the first call `pstnbridgectl calls` lists.
calls_field() {
	ctl calls 2>/dev/null | sed -n "s/^id=.* $1=\([^ ]*\).*/\1/p" | head -n 1
}

it_start_daemon

# 1. trust, both ways. openssl s_client: the gateway's certificate
# verifies against the test CA for IP 127.0.0.1, not against another CA.
# (baresip 1.0 with libre 1.1 does not check the server's certificate, so
# the client side of this is shown with openssl.) The daemon verifies
# client certificates: a baresip whose certificate is not of the test CA
# is refused in the handshake and never registers.
s_client() {
	timeout -k 2 8 openssl s_client -connect "127.0.0.1:$TLSPORT" -verify_return_error \
		-verify_ip 127.0.0.1 -cert "$P/client.crt" -key "$P/client.key" "$@" </dev/null 2>&1
}
out=$(s_client -CAfile "$P/ca.crt") || fail "openssl s_client with the test CA failed: $(tail -n 5 <<<"$out")"
grep -q 'Verify return code: 0 (ok)' <<<"$out" || fail "the server certificate did not verify: $out"
out=$(s_client -CAfile "$P/other.crt") && fail "a client that trusts another CA accepted the gateway"
grep -q 'verify error' <<<"$out" || fail "no verify error with another CA: $(tail -n 5 <<<"$out")"
it_log "openssl s_client: verified with the test CA, refused with another CA"

cat "$P/client.crt" "$P/client.key" > "$P/client.pem"
cat "$P/other.crt" "$P/other.key" > "$P/other.pem"
n0=$(it_log_lines)
baresip_start mallory "$P/other.pem" "$MEDIA4" "$MEDIA1" "$SIPP2"
MPID=$BPID
it_wait_log_str "certificate verify failed" 10 "$n0" ||
	fail "the daemon did not refuse the certificate of another CA: $(tail -n 5 "$DLOG")"
sleep 1
ctl registrations | grep '^user=' && fail "a client with a certificate of another CA registered"
{ kill -TERM "$MPID"; it_wait_dead "$MPID" 3 || kill -KILL "$MPID"; wait "$MPID"; } 2>/dev/null
it_log "baresip with a certificate of another CA: refused, not registered"

# 2. alice registers over TLS (digest), listed with transport tls
baresip_start alice "$P/client.pem" "$MEDIA2" "$MEDIA3" "$SIPP3"
for n in $(seq 100); do
	ctl registrations 2>/dev/null | grep -q '^user=alice ' && break
	sleep 0.1
done
reg=$(ctl registrations | grep '^user=alice ')
it_log "registration: $reg"
[ -n "$reg" ] || fail "baresip did not register over TLS: $(tr -d '\r' < "$T/alice.log" | grep -v '^\s*$' | tail -n 5)"
grep -q 'sip: > TLS 127.0.0.1:[0-9]* SIP/2.0 401' "$DLOG" || fail "the REGISTER was not challenged over TLS"
grep -Eq 'sip: < TLS 127.0.0.1:[0-9]+ REGISTER ' "$DLOG" || fail "no REGISTER over TLS in the daemon log"
grep -q ' via=tls ' <<<"$reg" || fail "the registration is not listed with transport tls: $reg"
src=$(sed -n 's/.* source=\([^ ]*\).*/\1/p' <<<"$reg")
grep -q "sip: tls connection from $src" "$DLOG" || fail "no TLS connection from $src"

# 3. the PSTN calls alice: INVITE over the TLS connection of the REGISTER
n0=$(it_log_lines)
ctl sim call sim1 2001 5551234 0 6 >/dev/null || fail "pstnbridgectl sim call failed"
it_wait_log_str "sip: > TLS $src INVITE sip:alice" 5 "$n0" ||
	fail "no INVITE to alice over the TLS connection $src: $(tail -n +"$((n0 + 1))" "$DLOG" | grep 'INVITE' | head -n 3)"
it_wait_calls 1 5 || fail "no call listed"
wait_audio "the call to alice"
it_wait_calls_gone 15 || fail "the PSTN call did not end: $(ctl calls)"
grep -Eq 'sip: [<>] TLS [0-9.:]+ BYE ' <(tail -n +"$((n0 + 1))" "$DLOG") || fail "no BYE over TLS"
tail -n +"$((n0 + 1))" "$DLOG" | grep -E 'sip: [<>] (UDP|TCP) ' && fail "SIP of the call went outside TLS"

# 4. alice calls the echo number 100 over TLS and hangs up
n0=$(it_log_lines)
out=$(ctrl alice "$SIPP3" dial "sip:100@127.0.0.1")
grep -q '"ok":true' <<<"$out" || fail "ctrl_tcp dial failed: $out"
it_wait_log "sip: < TLS $src INVITE sip:100@" 5 "$n0" || fail "no INVITE to 100 over TLS"
grep -q "sip: > TLS $src SIP/2.0 401" <(tail -n +"$((n0 + 1))" "$DLOG") ||
	fail "the INVITE to 100 was not challenged"
wait_audio "the call to 100"
out=$(ctrl alice "$SIPP3" hangup)
grep -q '"ok":true' <<<"$out" || fail "ctrl_tcp hangup failed: $out"
it_wait_calls_gone 5 || fail "the call to 100 did not end: $(ctl calls)"
it_wait_log "sip: < TLS $src BYE " 3 "$n0" || fail "no BYE from baresip over TLS"
tail -n +"$((n0 + 1))" "$DLOG" | grep -E 'sip: [<>] (UDP|TCP) ' && fail "SIP of the call went outside TLS"
kill -TERM "$BPID"
it_wait_dead "$BPID" 5 || fail "baresip did not stop"
it_stop_daemon
it_log "PASS"
