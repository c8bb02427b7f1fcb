#!/bin/bash
# 100rel / PRACK (RFC 3262): sipp calls 105 (early media) with Require:
# 100rel: the 183 carries Require: 100rel, an RSeq and the SDP answer;
# sipp PRACKs it (RAck) and gets 200; only then the 200 for the INVITE.
. "$(dirname "$0")/lib.sh"

it_write_config
it_start_daemon
it_uac prack uac_dlg_prack.xml 105 "$SIPP1" "$MEDIA1" 30 ||
	fail "no reliable 183 / PRACK / 200 / 200 sequence"
it_wait_calls_gone 5 || fail "the call is still listed: $(ctl calls)"
it_stop_daemon
it_log "PASS"
