#!/bin/bash
# SIP over TLS with certificates made here (a test CA, a server certificate
# for 127.0.0.1, a client certificate): OPTIONS and a call to the echo
# number 100 (INVITE, 200 whose Contact says transport=tls, ACK, BYE) over
# a TLS connection whose server certificate the client verifies; a client
# that does not trust the CA fails the handshake. With tls_verify_peer =
# yes a client without a certificate is refused and one with a certificate
# of the CA gets through.
. "$(dirname "$0")/lib.sh"
DLGTOOL="python3 -W ignore $IT_DIR/dlgtool.py"
command -v openssl >/dev/null || fail "openssl is not installed"
TLSPORT=$SIPP4
P=$T/pki
mkdir -p "$P"

mkcert() {      # name CN [extension lines]
	openssl req -new -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" \
		-subj "/CN=$2" >/dev/null 2>&1 || fail "openssl req $1"
	printf '%s\n' "$3" > "$P/$1.ext"
	openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
		-days 2 -sha256 -extfile "$P/$1.ext" -out "$P/$1.crt" >/dev/null 2>&1 || fail "openssl x509 $1"
}
openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 2 \
	-subj "/CN=pstnbridge test CA" >/dev/null 2>&1 || fail "openssl: no CA"
mkcert server 127.0.0.1 "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
mkcert client "test client" "extendedKeyUsage=clientAuth"
# another CA the daemon does not know
openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$P/other.key" -out "$P/other.crt" -days 2 \
	-subj "/CN=other CA" >/dev/null 2>&1 || fail "openssl: no second CA"

tls_config() {  # verify_peer
	it_config | sed -e "/^\[sip\]/a listen_tls = 127.0.0.1:$TLSPORT\ntls_certificate = $P/server.crt\ntls_key = $P/server.key\ntls_ca = $P/ca.crt\ntls_verify_peer = $1"
}

tls_config no > "$CONF"
it_start_daemon
grep -q "listening on tls 127.0.0.1:$TLSPORT" "$DLOG" || fail "no TLS listener"
$DLGTOOL tls --port "$TLSPORT" --ca "$P/ca.crt" --call 100 --media "$MEDIA1" ||
	fail "OPTIONS and a call over TLS did not work"
grep -q 'sip: < TLS 127.0.0.1:[0-9]* INVITE sip:100@' "$DLOG" || fail "the INVITE was not logged as TLS"
out=$($DLGTOOL tls --port "$TLSPORT" --ca "$P/other.crt")
rc=$?
echo "  $out"
[ $rc -eq 2 ] || fail "a client that does not trust the CA did not fail the handshake (rc $rc)"
it_wait_calls_gone 5 || fail "the TLS call is still listed: $(ctl calls)"
it_stop_daemon

tls_config yes > "$CONF"
it_start_daemon
out=$($DLGTOOL tls --port "$TLSPORT" --ca "$P/ca.crt")
rc=$?
echo "  without a client certificate: $out"
[ $rc -eq 2 ] || fail "tls_verify_peer = yes let in a client without a certificate (rc $rc)"
$DLGTOOL tls --port "$TLSPORT" --ca "$P/ca.crt" --cert "$P/client.crt" --key "$P/client.key" ||
	fail "a client with a certificate of the CA was refused"
it_stop_daemon
it_log "PASS"
