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
TLSPORT=$SIPP4
P=$T/pki
it_pki_make "$P"

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
