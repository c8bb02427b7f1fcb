#!/bin/bash
# The registrar: REGISTER with a digest challenge (even from a trusted
# source), the 200 listing the contacts with their expiry, re-register,
# 423 below register_min_expires, a second contact (registered under one of
# the user's numbers), a wrong password (403 and the fail2ban line), a user
# whose password is stored as ha1, an address-of-record that is not the
# user's (403), unregister of one contact (Expires 0) and of all (*), and
# registrations that survive a restart of the daemon (SQLite in state_dir),
# a reload that drops the registrations of a user no longer configured, and
# a state_dir that cannot be used (registrations kept in memory).
. "$(dirname "$0")/lib.sh"

BOB_HA1=$(printf %s bob:pstnbridge:bobpw | md5sum | cut -d' ' -f1)
# sipp answers MD5 challenges only.
{
	it_config | sed 's#^trusted = .*#&\nauth_algorithms = MD5#'
	cat <<EOF2

[user alice]
password = secret
number = 2001, 2002

[user bob]
ha1 = $BOB_HA1
number = 3003
EOF2
} > "$CONF"
it_start_daemon

regs() {
	ctl registrations
}

# A contact's remaining expiry as `pstnbridgectl registrations` shows it.
reg_expires() {
	regs | grep -F "contact=$1 " | sed -n 's/.*expires=\([0-9]*\).*/\1/p'
}

C1="sip:alice@127.0.0.1:$SIPP1"
C2="sip:2001@127.0.0.1:$SIPP2"

it_register r1 "$SIPP1" alice secret alice 300 200 "<$C1>" ||
	fail "REGISTER with auth was not challenged and then accepted"
grep -q '^SIP/2.0 401' "$T/r1.msg" || fail "no 401 challenge"
grep -qiE "^Contact: <$C1>;expires=(300|29[0-9])" "$T/r1.msg" ||
	fail "the 200 does not list the contact with its expiry"
regs | grep -F "user=alice contact=$C1 via=udp source=127.0.0.1:$SIPP1 " ||
	fail "registration not listed: $(regs)"
e=$(reg_expires "$C1")
[ -n "$e" ] && [ "$e" -le 300 ] && [ "$e" -ge 290 ] || fail "expiry $e, want ~300"

# Re-register: a new expiry (and longer than max is cut to register_max_expires).
it_register r2 "$SIPP1" alice secret alice 7200 200 "<$C1>" || fail "re-REGISTER refused"
grep -qiE "^Contact: <$C1>;expires=(3600|35[0-9][0-9])" "$T/r2.msg" ||
	fail "the re-register's expiry was not cut to 3600"

# Too brief: 423 with Min-Expires, and the binding stays as it was.
it_register r3 "$SIPP1" alice secret alice 10 423 "<$C1>" || fail "Expires 10 was not refused with 423"
grep -qi '^Min-Expires: 60' "$T/r3.msg" || fail "423 without Min-Expires: 60"
[ "$(reg_expires "$C1")" -gt 3000 ] || fail "the 423 changed the binding"

# A second contact, with a number of the user as address-of-record.
it_register r4 "$SIPP2" alice secret 2001 600 200 "<$C2>" || fail "second contact refused"
grep -qiF "Contact: <$C1>;expires=" "$T/r4.msg" && grep -qiF "Contact: <$C2>;expires=" "$T/r4.msg" ||
	fail "the 200 does not list both contacts"
[ "$(regs | grep -c 'user=alice ')" -eq 2 ] || fail "not two contacts: $(regs)"

# Wrong password: 403, counted, and the failure line with the source.
n0=$(it_log_lines)
it_register r5 "$SIPP3" alice wrong alice 300 403 || fail "wrong password not refused with 403"
it_wait_log "auth failure from 127\\.0\\.0\\.1:$SIPP3 user=\"?alice\"?( |$)" 5 "$n0" ||
	fail "no auth failure line for the wrong password"
[ "$(regs | grep -c 'user=alice ')" -eq 2 ] || fail "the refused REGISTER changed the bindings"

# A user whose password is stored as ha1.
it_register r6 "$SIPP3" bob bobpw 3003 300 200 || fail "ha1 user refused"
regs | grep -qF "user=bob contact=sip:3003@127.0.0.1:$SIPP3 " || fail "bob not registered: $(regs)"
# Someone else's address-of-record.
it_register r7 "$SIPP4" alice secret bob 300 403 || fail "alice registering bob's AOR not refused"
regs | grep -qF "127.0.0.1:$SIPP4" && fail "a binding was made for another user's AOR"

# Unregister one contact (Expires 0): the other stays.
it_register r8 "$SIPP1" alice secret alice 0 200 "<$C1>" || fail "unregister refused"
regs | grep -qF "contact=$C1 " && fail "the contact is still registered after Expires 0"
regs | grep -qF "contact=$C2 " || fail "unregister removed the other contact too"
grep -qiF "Contact: <$C1>;expires=" "$T/r8.msg" && fail "the 200 of the unregister still lists the contact"

# Registrations survive a restart.
it_stop_daemon
[ -s "$T/registrations.db" ] || fail "no registrations.db in state_dir"
it_start_daemon
regs | grep -qF "user=alice contact=$C2 " || fail "alice's contact lost in the restart: $(regs)"
regs | grep -qF "user=bob " || fail "bob's contact lost in the restart: $(regs)"

# Unregister all with "*" (Expires 0 required).
it_register r9 "$SIPP2" alice secret alice 0 200 "*" || fail "Contact: * refused"
regs | grep -q 'user=alice ' && fail "alice still registered after *: $(regs)"
regs | grep -q 'user=bob ' || fail "* removed another user's contact"
it_register r10 "$SIPP2" alice secret alice 300 400 "*" || fail "Contact: * with Expires 300 not refused with 400"

# A reload without bob drops bob's registrations.
sed -i '/^\[user bob\]/,$d' "$CONF"
ctl reload >/dev/null || fail "reload refused: $(tail -n 5 "$DLOG")"
regs | grep -q 'user=bob ' && fail "bob's contact kept after bob left the configuration"

# A state_dir that cannot be used: the daemon says so and keeps the
# registrations in memory.
it_stop_daemon
sed -i "s#^state_dir = .*#state_dir = $T/missing/dir#" "$CONF"
it_start_daemon
grep -q "registrations are kept in memory only" "$DLOG" || fail "no log line about the unusable state_dir"
it_register r11 "$SIPP1" alice secret alice 300 200 "<$C1>" || fail "REGISTER refused without a database"
regs | grep -qF "user=alice contact=$C1 " || fail "registration not kept in memory: $(regs)"

it_stop_daemon
it_log "PASS"
