/* Configuration: parse an INI file (inih) into one immutable generation.
 *
 * One key table drives parsing, defaults, validation, cfg_dump() and the
 * documentation test. Parsing happens in two passes: inih reads the lines
 * and hands us key = value pairs, which are collected per section with the
 * line they came from; then every section is built from its defaults and
 * its entries, validated, and the whole file is cross-checked. Every error
 * is collected as "FILE:LINE: [section] key: message"; any error refuses
 * the whole file. */
#include "cfg/cfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CFG_MAX_FILE (1024 * 1024)
#define CFG_MAX_NAME 32
#define CFG_MAX_LISTEN 8

/* Section kinds; the named ones come last. */
enum sec_kind { SEC_GENERAL = 0, SEC_SIP, SEC_RTP, SEC_SPAN, SEC_ROUTE, SEC_USER, SEC_TRUNK,
	SEC_NKINDS };
static const char *const sec_names[SEC_NKINDS] = {
	"general", "sip", "rtp", "span", "route", "user", "trunk",
};
#define SEC_NAMED(k) ((k) >= SEC_SPAN)

/* How a value is parsed into its field, and printed back. */
enum pk {
	PK_STRING,      /* char *, may be empty */
	PK_WORD,        /* char *, non-empty, no whitespace */
	PK_INT,         /* int or unsigned int, within min..max */
	PK_ENUM,        /* int: index into the "a|b|c" values */
	PK_ENUM_STR,    /* char *: one of the values */
	PK_LOGLEVEL,    /* int: enum log_level */
	PK_ADDRS,       /* struct addr[CFG_MAX_LISTEN] at off, size_t count at off2 */
	PK_CIDRS,       /* struct cidr[CFG_MAX_CIDRS] at off, size_t count at off2 */
	PK_IP,          /* char *: an IP literal */
	PK_NUMBERS,     /* strlist of numbers */
	PK_PREFIXES,    /* strlist of number prefixes or "*" */
	PK_NAMES,       /* strlist of section names */
	PK_CODECS,      /* strlist of codec names */
	PK_DIGITS,      /* char *: a number, may be empty */
	PK_SIPURI,      /* char *: "sip:..." */
	PK_CHANS,       /* DAHDI channel numbers and ranges: int[CFG_MAX_BCHANS], count at off2 */
	PK_ECHOCANCEL,  /* unsigned int: "off" (0) or a tail in ms, min..max */
	PK_IP6,         /* char *: an IPv6 literal, may be empty */
};

/* When a key may be used in its section. */
enum app { APP_ALWAYS, APP_SIM, APP_DAHDI, APP_OUTBOUND, APP_INBOUND };

#define OFF(st, f) offsetof(struct st, f)
/* In the order of enum cfg_latch_mode. */
#define CFG_LATCH_VALUES "off|on-change|recent|window|strict"

/* The key table. Columns: section, name, public type, default, min, max,
 * enum values, reloadable, required, applicability, parser, field offset,
 * count offset, help. */
#define CFG_KEY_TABLE(X) \
	X("general", "log_level", CFG_T_ENUM, "info", 0, 0, "error|warn|notice|info|debug", \
	    true, false, APP_ALWAYS, PK_LOGLEVEL, OFF(cfg_general, log_level), 0, \
	    "lowest level of the messages logged") \
	X("general", "drain_time", CFG_T_INT, "10", 0, 3600, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_general, drain_time), 0, \
	    "seconds active calls get to hang up cleanly on shutdown") \
	X("general", "ctl_socket", CFG_T_STRING, "/run/pstnbridge/ctl.sock", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_WORD, OFF(cfg_general, ctl_socket), 0, \
	    "path of the control socket used by pstnbridgectl") \
	X("general", "state_dir", CFG_T_STRING, "/var/lib/pstnbridge", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_WORD, OFF(cfg_general, state_dir), 0, \
	    "directory of the registrations database (registrations.db)") \
	X("general", "max_calls", CFG_T_INT, "0", 0, 100000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_general, max_calls), 0, \
	    "concurrent calls of the gateway, 0 no limit; beyond: 503 with Retry-After") \
	X("general", "max_call_attempts_per_second", CFG_T_INT, "0", 0, 10000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_general, max_call_attempts_per_second), 0, \
	    "new INVITEs per second from the network, 0 no limit; beyond: 503 with Retry-After") \
	X("general", "default_deny", CFG_T_LIST, "00, 011, +, 0900, 0906, 0909, 1900", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_PREFIXES, OFF(cfg_general, default_deny), 0, \
	    "destination prefixes (international, premium rate) refused to users unless in their allow") \
	X("general", "tonezone", CFG_T_ENUM, "us", 0, 0, "us|uk|de|fr|nl|it|au|jp", \
	    true, false, APP_ALWAYS, PK_ENUM_STR, OFF(cfg_general, tonezone), 0, \
	    "country of the ringback, busy and congestion tones the daemon generates") \
	X("sip", "listen_udp", CFG_T_ADDRLIST, "127.0.0.1:5060", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_ADDRS, OFF(cfg_sip, listen_udp), OFF(cfg_sip, n_listen_udp), \
	    "addresses (ip:port) to receive SIP over UDP on; empty disables UDP") \
	X("sip", "listen_tcp", CFG_T_ADDRLIST, "127.0.0.1:5060", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_ADDRS, OFF(cfg_sip, listen_tcp), OFF(cfg_sip, n_listen_tcp), \
	    "addresses (ip:port) to accept SIP over TCP on; empty disables TCP") \
	X("sip", "trusted", CFG_T_CIDRLIST, "127.0.0.0/8, ::1", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_CIDRS, OFF(cfg_sip, trusted), OFF(cfg_sip, n_trusted), \
	    "source networks allowed to call without authentication") \
	X("sip", "user_agent", CFG_T_STRING, "pstnbridge", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_STRING, OFF(cfg_sip, user_agent), 0, \
	    "User-Agent and Server header value") \
	X("sip", "session_expires", CFG_T_INT, "1800", 0, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, session_expires), 0, \
	    "session timer interval asked for and granted in seconds (RFC 4028), 0 only on request") \
	X("sip", "min_se", CFG_T_INT, "90", 90, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, min_se), 0, \
	    "shortest session timer interval accepted in seconds; shorter ones get 422") \
	X("sip", "dtmf_info", CFG_T_ENUM, "no", 0, 0, "no|yes", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_sip, dtmf_info), 0, \
	    "accept DTMF as SIP INFO (application/dtmf-relay) and play it to the PSTN") \
	X("sip", "listen_tls", CFG_T_ADDRLIST, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_ADDRS, OFF(cfg_sip, listen_tls), OFF(cfg_sip, n_listen_tls), \
	    "addresses (ip:port) to accept SIP over TLS on; empty disables TLS listening") \
	X("sip", "tls_certificate", CFG_T_STRING, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_STRING, OFF(cfg_sip, tls_certificate), 0, \
	    "PEM file with the gateway's TLS certificate (and chain); needed with listen_tls") \
	X("sip", "tls_key", CFG_T_STRING, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_STRING, OFF(cfg_sip, tls_key), 0, \
	    "PEM file with the private key of tls_certificate") \
	X("sip", "tls_ca", CFG_T_STRING, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_STRING, OFF(cfg_sip, tls_ca), 0, \
	    "PEM file of the CAs that TLS peers' certificates are checked against") \
	X("sip", "tls_verify_peer", CFG_T_ENUM, "no", 0, 0, "no|yes", \
	    false, false, APP_ALWAYS, PK_ENUM, OFF(cfg_sip, tls_verify_peer), 0, \
	    "require and verify the peer's certificate (clients and servers) against tls_ca") \
	X("sip", "tcp_idle_timeout", CFG_T_INT, "120", 0, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, tcp_idle_timeout), 0, \
	    "seconds a TCP/TLS connection nothing uses may stay idle before it is closed, 0 never") \
	X("sip", "register_min_expires", CFG_T_INT, "60", 1, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, register_min_expires), 0, \
	    "shortest registration accepted in seconds; shorter ones get 423") \
	X("sip", "register_max_expires", CFG_T_INT, "3600", 1, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, register_max_expires), 0, \
	    "longest registration in seconds (longer ones are cut), also the default") \
	X("sip", "register_max_contacts", CFG_T_INT, "5", 1, 32, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, register_max_contacts), 0, \
	    "registered contacts per user; the oldest is replaced beyond it") \
	X("sip", "keepalive_interval", CFG_T_INT, "30", 0, 3600, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, keepalive_interval), 0, \
	    "seconds between CRLF keep-alives to UDP contacts, 0 never") \
	X("sip", "auth_algorithms", CFG_T_LIST, "SHA-256, MD5", 0, 0, "SHA-256|MD5", \
	    true, false, APP_ALWAYS, PK_CODECS, OFF(cfg_sip, auth_algorithms), 0, \
	    "digest algorithms offered (one challenge each, in this order) and accepted") \
	X("sip", "auth_nonce_ttl", CFG_T_INT, "300", 10, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, auth_nonce_ttl), 0, \
	    "seconds a digest nonce is valid; older ones get a new challenge with stale=true") \
	X("sip", "auth_fail_limit", CFG_T_INT, "10", 0, 1000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, auth_fail_limit), 0, \
	    "failed authentications from one IP within auth_fail_window that block it, 0 never") \
	X("sip", "auth_fail_window", CFG_T_INT, "60", 1, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, auth_fail_window), 0, \
	    "seconds over which failed authentications are counted") \
	X("sip", "auth_block_time", CFG_T_INT, "600", 1, 604800, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_sip, auth_block_time), 0, \
	    "seconds a blocked IP gets 403 without a challenge") \
	X("sip", "trusted_deny", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_PREFIXES, OFF(cfg_sip, trusted_deny), 0, \
	    "destination prefixes refused (403) to calls from trusted addresses") \
	X("rtp", "address", CFG_T_STRING, "127.0.0.1", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_IP, OFF(cfg_rtp, address), 0, \
	    "IP address RTP sockets bind to, also written in SDP") \
	X("rtp", "port_min", CFG_T_INT, "10000", 1024, 65535, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, port_min), 0, \
	    "lowest UDP port for RTP") \
	X("rtp", "port_max", CFG_T_INT, "19999", 1024, 65535, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, port_max), 0, \
	    "highest UDP port for RTP") \
	X("rtp", "latch_mode", CFG_T_ENUM, "strict", 0, 0, CFG_LATCH_VALUES, \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_rtp, latch_mode), 0, \
	    "how the remote RTP address is learned from the inbound RTP") \
	X("rtp", "latch_window_ms", CFG_T_INT, "2000", 100, 60000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, latch_window_ms), 0, \
	    "window mode: ms a learned source is used after its last packet") \
	X("rtp", "latch_probation", CFG_T_INT, "4", 1, 50, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, latch_probation), 0, \
	    "strict mode: consecutive packets a new source sends before it is used") \
	X("rtp", "latch_silence_ms", CFG_T_INT, "500", 0, 60000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, latch_silence_ms), 0, \
	    "strict mode: ms the current source must be silent before another takes over") \
	X("rtp", "rtp_timeout", CFG_T_INT, "30", 0, 3600, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, rtp_timeout), 0, \
	    "seconds without inbound RTP before the call is hung up, 0 never") \
	X("rtp", "rtp_hold_timeout", CFG_T_INT, "300", 0, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, rtp_hold_timeout), 0, \
	    "same as rtp_timeout while the call is on hold, 0 never") \
	X("rtp", "jitter_min_ms", CFG_T_INT, "20", 0, 1000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, jitter_min_ms), 0, \
	    "least delay the jitter buffer keeps, in ms") \
	X("rtp", "jitter_max_ms", CFG_T_INT, "200", 20, 1000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_rtp, jitter_max_ms), 0, \
	    "most delay the jitter buffer adds to absorb jitter, in ms") \
	X("rtp", "codecs", CFG_T_LIST, "pcma, pcmu", 0, 0, "pcma|pcmu", \
	    true, false, APP_ALWAYS, PK_CODECS, OFF(cfg_rtp, codecs), 0, \
	    "codecs offered and accepted, in order of preference") \
	X("rtp", "io", CFG_T_ENUM, "auto", 0, 0, "auto|uring|syscalls", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_rtp, io), 0, \
	    "how RTP is sent and received: auto (io_uring, else sendto/recvmmsg), uring, syscalls") \
	X("rtp", "address6", CFG_T_STRING, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_IP6, OFF(cfg_rtp, address6), 0, \
	    "IPv6 address RTP sockets bind to for IPv6 peers (dual stack), empty none") \
	X("span", "driver", CFG_T_ENUM, NULL, 0, 0, "sim|dahdi", \
	    false, true, APP_ALWAYS, PK_ENUM, OFF(cfg_span, driver), 0, \
	    "channel driver of the span") \
	X("span", "type", CFG_T_ENUM, "e1", 0, 0, "e1|t1", \
	    false, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, type), 0, \
	    "E1 (30B+D) or T1 (23B+D)") \
	X("span", "law", CFG_T_ENUM, NULL, 0, 0, "alaw|ulaw", \
	    false, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, law), 0, \
	    "G.711 law on the B-channels; alaw for e1, ulaw for t1 when unset") \
	X("span", "switchtype", CFG_T_ENUM, NULL, 0, 0, \
	    "national|ni1|dms100|4ess|5ess|euroisdn_e1|euroisdn_t1|qsig", \
	    false, false, APP_ALWAYS, PK_ENUM_STR, OFF(cfg_span, switchtype), 0, \
	    "ISDN switch type; euroisdn_e1 for e1, national for t1 when unset") \
	X("span", "ton", CFG_T_ENUM, "unknown", 0, 0, \
	    "unknown|national|international|subscriber", \
	    false, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, ton), 0, \
	    "type of number of outbound called numbers without a prefix") \
	X("span", "national_prefix", CFG_T_STRING, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_span, national_prefix), 0, \
	    "stripped from outbound numbers (sent as national), added to inbound national ones") \
	X("span", "international_prefix", CFG_T_STRING, "", 0, 0, NULL, \
	    false, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_span, international_prefix), 0, \
	    "the same for international numbers") \
	X("span", "hunt", CFG_T_ENUM, "ascending", 0, 0, "ascending|descending|roundrobin", \
	    false, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, hunt), 0, \
	    "order in which free B-channels are picked for outbound calls") \
	X("span", "blocked", CFG_T_ENUM, "no", 0, 0, "no|yes", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, blocked), 0, \
	    "yes: no new calls either way (34 / 503), calls up go on until they end") \
	X("span", "channel_select", CFG_T_ENUM, "exclusive", 0, 0, "exclusive|preferred", \
	    false, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, channel_preferred), 0, \
	    "outbound SETUP asks for its B-channel exclusively, or as preferred") \
	X("span", "tonezone", CFG_T_ENUM, NULL, 0, 0, "us|uk|de|fr|nl|it|au|jp", \
	    true, false, APP_ALWAYS, PK_ENUM_STR, OFF(cfg_span, tonezone), 0, \
	    "tones of calls on this span; [general] tonezone when unset") \
	X("span", "overlap", CFG_T_ENUM, "no", 0, 0, "no|yes", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, overlap), 0, \
	    "outbound SETUPs without Sending Complete, later digits in INFORMATION") \
	X("span", "digit_timeout", CFG_T_INT, "5", 1, 60, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_span, digit_timeout), 0, \
	    "inbound overlap dialing: seconds after the last digit that complete the number") \
	X("span", "restart_timeout", CFG_T_INT, "120", 1, 600, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_span, restart_timeout), 0, \
	    "T316: seconds to wait for RESTART ACKNOWLEDGE before sending RESTART again") \
	X("span", "restart_attempts", CFG_T_INT, "3", 1, 10, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_span, restart_attempts), 0, \
	    "RESTARTs sent for a channel in all before it is left out of service") \
	X("span", "restart_on_up", CFG_T_ENUM, "yes", 0, 0, "no|yes", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_span, restart_on_up), 0, \
	    "yes: RESTART every idle B-channel when the span comes up (start-up, alarm or D-channel recovery)") \
	X("span", "signalling", CFG_T_ENUM, "pri_cpe", 0, 0, "pri_cpe|pri_net", \
	    false, false, APP_DAHDI, PK_ENUM, OFF(cfg_span, signalling), 0, \
	    "dahdi: the daemon is the user side (pri_cpe) or the network side (pri_net)") \
	X("span", "span", CFG_T_INT, NULL, 1, 255, NULL, \
	    false, false, APP_DAHDI, PK_INT, OFF(cfg_span, dahdi.span), 0, \
	    "dahdi: DAHDI span number (or give dchannel and bchannels)") \
	X("span", "dchannel", CFG_T_INT, NULL, 1, 4095, NULL, \
	    false, false, APP_DAHDI, PK_INT, OFF(cfg_span, dahdi.dchannel), 0, \
	    "dahdi: DAHDI channel number of the D-channel (with bchannels)") \
	X("span", "bchannels", CFG_T_LIST, NULL, 1, 4095, NULL, \
	    false, false, APP_DAHDI, PK_CHANS, OFF(cfg_span, dahdi.bchannels), \
	    OFF(cfg_span, dahdi.n_bchannels), \
	    "dahdi: DAHDI channel numbers of the B-channels, ranges allowed (1-23)") \
	X("span", "echocancel", CFG_T_STRING, "off", 1, 128, NULL, \
	    true, false, APP_DAHDI, PK_ECHOCANCEL, OFF(cfg_span, dahdi.echocancel), 0, \
	    "dahdi: echo canceller tail in ms (1-128), or off") \
	X("span", "echo", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.echo), 0, \
	    "sim numbers that answer and echo the audio back") \
	X("span", "tone", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.tone), 0, \
	    "sim numbers that answer and play a tone of tone_hz") \
	X("span", "busy", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.busy), 0, \
	    "sim numbers that reject the call as busy (cause 17)") \
	X("span", "noanswer", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.noanswer), 0, \
	    "sim numbers that ring forever") \
	X("span", "ringanswer", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.ringanswer), 0, \
	    "sim numbers that ring ring_seconds, then answer and echo") \
	X("span", "early", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.early), 0, \
	    "sim numbers that ring with in-band tone (early media), then answer and echo") \
	X("span", "congestion", CFG_T_LIST, "", 0, 0, NULL, \
	    true, false, APP_SIM, PK_NUMBERS, OFF(cfg_span, sim.congestion), 0, \
	    "sim numbers that reject the call with network congestion (cause 34)") \
	X("span", "tone_hz", CFG_T_INT, "1004", 100, 3900, NULL, \
	    true, false, APP_SIM, PK_INT, OFF(cfg_span, sim.tone_hz), 0, \
	    "frequency of the tone telephones in Hz") \
	X("span", "ring_seconds", CFG_T_INT, "3", 0, 300, NULL, \
	    true, false, APP_SIM, PK_INT, OFF(cfg_span, sim.ring_seconds), 0, \
	    "how long ringanswer and early telephones ring before answering") \
	X("span", "drop_restart_acks", CFG_T_INT, "0", 0, 100, NULL, \
	    true, false, APP_SIM, PK_INT, OFF(cfg_span, sim.drop_restart_acks), 0, \
	    "sim (tests): the far end's first N RESTART ACKNOWLEDGEs are lost") \
	X("route", "direction", CFG_T_ENUM, "outbound", 0, 0, "outbound|inbound", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_route, direction), 0, \
	    "outbound: SIP to PSTN; inbound: PSTN to SIP") \
	X("route", "match", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, true, APP_ALWAYS, PK_PREFIXES, OFF(cfg_route, match), 0, \
	    "called number prefixes this route takes, or * for any") \
	X("route", "spans", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, false, APP_OUTBOUND, PK_NAMES, OFF(cfg_route, spans), 0, \
	    "spans to try in order (outbound, required)") \
	X("route", "strip", CFG_T_INT, "0", 0, 32, NULL, \
	    true, false, APP_OUTBOUND, PK_INT, OFF(cfg_route, strip), 0, \
	    "leading digits removed from the called number (outbound)") \
	X("route", "prepend", CFG_T_STRING, "", 0, 0, NULL, \
	    true, false, APP_OUTBOUND, PK_DIGITS, OFF(cfg_route, prepend), 0, \
	    "digits put in front of the called number after strip (outbound)") \
	X("route", "target", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_INBOUND, PK_SIPURI, OFF(cfg_route, target), 0, \
	    "SIP URI to call, {number} is the called number (inbound, required)") \
	X("route", "digits", CFG_T_INT, "0", 0, 32, NULL, \
	    true, false, APP_INBOUND, PK_INT, OFF(cfg_route, digits), 0, \
	    "inbound overlap dialing: called numbers of this route are complete at this length, 0 unknown") \
	X("route", "latch_mode", CFG_T_ENUM, "inherit", 0, 0, CFG_LATCH_VALUES "|inherit", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_route, latch_mode), 0, \
	    "latch_mode of calls of this route; inherit uses [rtp] latch_mode") \
	X("user", "password", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_user, password), 0, \
	    "digest authentication password (or give ha1)") \
	X("user", "ha1", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_user, ha1), 0, \
	    "MD5(name:pstnbridge:password) in 32 hex digits, instead of password") \
	X("user", "ha1_sha256", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_user, ha1_sha256), 0, \
	    "SHA-256(name:pstnbridge:password) in 64 hex digits, for SHA-256 digest without password") \
	X("user", "acl", CFG_T_CIDRLIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_CIDRS, OFF(cfg_user, policy.acl), OFF(cfg_user, policy.n_acl), \
	    "networks the user may authenticate from; empty: any") \
	X("user", "allow", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_PREFIXES, OFF(cfg_user, policy.allow), 0, \
	    "destination prefixes allowed although [general] default_deny lists them") \
	X("user", "deny", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_PREFIXES, OFF(cfg_user, policy.deny), 0, \
	    "destination prefixes refused to the user (403)") \
	X("user", "max_calls", CFG_T_INT, "0", 0, 10000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_user, policy.max_calls), 0, \
	    "concurrent calls of the user, 0 no limit; beyond: 403") \
	X("user", "max_duration", CFG_T_INT, "0", 0, 604800, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_user, policy.max_duration), 0, \
	    "seconds a call of the user may last after the answer, 0 no limit") \
	X("user", "max_calls_per_minute", CFG_T_INT, "0", 0, 1000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_user, policy.max_calls_per_minute), 0, \
	    "new calls of the user in any 60 s, 0 no limit; beyond: 403") \
	X("user", "dtmf_info", CFG_T_ENUM, "inherit", 0, 0, "no|yes|inherit", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_user, dtmf_info), 0, \
	    "accept DTMF as SIP INFO in this user's calls; inherit uses [sip]'s") \
	X("user", "number", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, true, APP_ALWAYS, PK_NUMBERS, OFF(cfg_user, numbers), 0, \
	    "numbers of the user: its calling number, and called numbers that reach it") \
	X("user", "latch_mode", CFG_T_ENUM, "inherit", 0, 0, CFG_LATCH_VALUES "|inherit", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_user, latch_mode), 0, \
	    "latch_mode of this user's calls, before the route's; inherit uses [rtp]'s") \
	X("route", "trunk", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_INBOUND, PK_WORD, OFF(cfg_route, trunk), 0, \
	    "inbound: the [trunk] that takes the call, instead of target") \
	X("trunk", "host", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, true, APP_ALWAYS, PK_IP, OFF(cfg_trunk, host), 0, \
	    "IP address of the provider's proxy (registrar and calls)") \
	X("trunk", "port", CFG_T_INT, "5060", 1, 65535, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, port), 0, \
	    "port of the provider's proxy") \
	X("trunk", "transport", CFG_T_ENUM, "udp", 0, 0, "udp|tcp|tls", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_trunk, transport), 0, \
	    "transport towards the provider") \
	X("trunk", "username", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_trunk, username), 0, \
	    "account at the provider: the user of REGISTER, and the name the provider authenticates with") \
	X("trunk", "auth_user", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_trunk, auth_user), 0, \
	    "user name in our credentials when it differs from username") \
	X("trunk", "password", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_trunk, password), 0, \
	    "password answering the provider's 401/407 challenges") \
	X("trunk", "ha1", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_trunk, ha1), 0, \
	    "instead of password: MD5 of auth_user:realm:password, 32 hex digits (MD5 challenges only)") \
	X("trunk", "register", CFG_T_ENUM, "no", 0, 0, "no|yes", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_trunk, reg), 0, \
	    "register username at the provider") \
	X("trunk", "register_expires", CFG_T_INT, "600", 60, 86400, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, register_expires), 0, \
	    "expiry asked for in REGISTER, s") \
	X("trunk", "register_retry", CFG_T_INT, "30", 1, 3600, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, register_retry), 0, \
	    "seconds before the first new REGISTER after a failure; doubled up to 1800") \
	X("trunk", "from_user", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_trunk, from_user), 0, \
	    "user of From in calls to the trunk; default the calling number") \
	X("trunk", "from_domain", CFG_T_STRING, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_WORD, OFF(cfg_trunk, from_domain), 0, \
	    "host of From and To in requests to the trunk; default host") \
	X("trunk", "match", CFG_T_CIDRLIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_CIDRS, OFF(cfg_trunk, match), OFF(cfg_trunk, n_match), \
	    "networks whose INVITEs are the trunk's without authentication") \
	X("trunk", "acl", CFG_T_CIDRLIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_CIDRS, OFF(cfg_trunk, policy.acl), OFF(cfg_trunk, policy.n_acl), \
	    "networks the trunk may authenticate from; empty: any") \
	X("trunk", "allow", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_PREFIXES, OFF(cfg_trunk, policy.allow), 0, \
	    "destination prefixes allowed to calls from the trunk despite default_deny") \
	X("trunk", "deny", CFG_T_LIST, NULL, 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_PREFIXES, OFF(cfg_trunk, policy.deny), 0, \
	    "destination prefixes refused to calls from the trunk (403)") \
	X("trunk", "max_calls", CFG_T_INT, "0", 0, 10000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, policy.max_calls), 0, \
	    "concurrent calls from the trunk, 0 no limit; beyond: 403") \
	X("trunk", "max_duration", CFG_T_INT, "0", 0, 604800, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, policy.max_duration), 0, \
	    "seconds a call from the trunk may last after the answer, 0 no limit") \
	X("trunk", "max_calls_per_minute", CFG_T_INT, "0", 0, 1000, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, policy.max_calls_per_minute), 0, \
	    "new calls from the trunk in any 60 s, 0 no limit; beyond: 403") \
	X("trunk", "country_code", CFG_T_STRING, "", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_trunk, country_code), 0, \
	    "our country code, e.g. 44: national numbers are written +44... in e164 formats") \
	X("trunk", "national_prefix", CFG_T_STRING, "0", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_trunk, national_prefix), 0, \
	    "prefix of national numbers (trunk number formats)") \
	X("trunk", "international_prefix", CFG_T_STRING, "00", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_trunk, international_prefix), 0, \
	    "prefix of international numbers (trunk number formats)") \
	X("trunk", "out_strip", CFG_T_INT, "0", 0, 32, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, out.strip), 0, \
	    "calls to the trunk: leading digits removed from the called number") \
	X("trunk", "out_prepend", CFG_T_STRING, "", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_trunk, out.prepend), 0, \
	    "calls to the trunk: digits put in front of the called number after out_strip") \
	X("trunk", "out_format", CFG_T_ENUM, "keep", 0, 0, "keep|e164|e164-noplus|national", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_trunk, out.format), 0, \
	    "calls to the trunk: how the called and calling numbers are written") \
	X("trunk", "in_strip", CFG_T_INT, "0", 0, 32, NULL, \
	    true, false, APP_ALWAYS, PK_INT, OFF(cfg_trunk, in.strip), 0, \
	    "calls from the trunk: leading digits removed from the called number") \
	X("trunk", "in_prepend", CFG_T_STRING, "", 0, 0, NULL, \
	    true, false, APP_ALWAYS, PK_DIGITS, OFF(cfg_trunk, in.prepend), 0, \
	    "calls from the trunk: digits put in front of the called number after in_strip") \
	X("trunk", "in_format", CFG_T_ENUM, "keep", 0, 0, "keep|e164|e164-noplus|national", \
	    true, false, APP_ALWAYS, PK_ENUM, OFF(cfg_trunk, in.format), 0, \
	    "calls from the trunk: how the called and calling numbers are written for the PSTN")

#define KEY_PUBLIC(sec, nm, ty, def, mn, mx, vals, rel, req, app, pk, off, off2, help) \
	{ sec, nm, ty, def, mn, mx, vals, rel, help, req },
const struct cfg_key cfg_keys[] = { CFG_KEY_TABLE(KEY_PUBLIC) };
const size_t cfg_n_keys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);

struct key_impl {
	enum app app;
	enum pk pk;
	size_t off;
	size_t off2;
};
#define KEY_IMPL(sec, nm, ty, def, mn, mx, vals, rel, req, app, pk, off, off2, help) \
	{ app, pk, off, off2 },
static const struct key_impl key_impls[] = { CFG_KEY_TABLE(KEY_IMPL) };

/* One key = value line (plus its continuation lines) of a section. */
struct pentry {
	size_t ki;              /* index into cfg_keys */
	char *value;            /* owned */
	int line;
};

/* One section header and its entries. */
struct psec {
	enum sec_kind kind;
	char *title;            /* "span sim1", owned */
	char *name;             /* the NAME of a named section, owned */
	int line;
	bool skip;              /* an error was reported for the header */
	struct pentry *e;       /* owned */
	size_t n;
	void *base;             /* the struct built from it */
};

struct perr {
	int line;
	size_t seq;
	char *msg;
};

struct parser {
	const char *file;
	const char *buf;
	size_t len, pos;
	int lineno;
	bool cont;              /* the current line continues the previous value */
	bool prev_key;          /* a key line was seen since the section header */
	bool last_ok;           /* the last key line was stored */
	struct psec *secs;
	size_t nsecs;
	struct perr *errs;
	size_t nerrs;
	bool oom;
};

static void
perr_add(struct parser *p, int line, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
perr_add(struct parser *p, int line, const char *section, const char *key, const char *fmt, ...)
{
	char msg[512];
	char *s;
	struct perr *n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&s, "%s:%d: [%s] %s: %s", p->file, line, section ? section : "",
	    key ? key : "", msg) == -1) {
		p->oom = true;
		return;
	}
	n = reallocarray(p->errs, p->nerrs + 1, sizeof(*p->errs));
	if (n == NULL) {
		free(s);
		p->oom = true;
		return;
	}
	p->errs = n;
	p->errs[p->nerrs].line = line;
	p->errs[p->nerrs].seq = p->nerrs;
	p->errs[p->nerrs].msg = s;
	p->nerrs++;
}

static bool
perr_at(const struct parser *p, int line)
{
	for (size_t i = 0; i < p->nerrs; i++)
		if (p->errs[i].line == line)
			return true;
	return false;
}

static int
perr_cmp(const void *a, const void *b)
{
	const struct perr *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int
key_find(enum sec_kind kind, const char *name)
{
	for (size_t i = 0; i < cfg_n_keys; i++)
		if (strcmp(cfg_keys[i].section, sec_names[kind]) == 0 &&
		    strcmp(cfg_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_MAX_NAME)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return false;
	return true;
}

static bool
valid_number(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && strchr("*#+", *s) == NULL)
			return false;
	return true;
}

/* ---- First pass: lines, section headers, key = value pairs. ---- */

/* A new section record, or NULL when out of memory. */
static struct psec *
psec_push(struct parser *p, const char *title, int line)
{
	struct psec *n, *s;

	n = reallocarray(p->secs, p->nsecs + 1, sizeof(*p->secs));
	if (n == NULL) {
		p->oom = true;
		return NULL;
	}
	p->secs = n;
	s = &p->secs[p->nsecs++];
	memset(s, 0, sizeof(*s));
	s->line = line;
	if ((s->title = strdup(title)) == NULL) {
		p->oom = true;
		s->skip = true;
	}
	return s;
}

static void
psec_add(struct parser *p, const char *title, int line)
{
	char word[2][128];
	struct psec *s;
	int nw, kind = -1;
	char extra;

	if ((s = psec_push(p, title, line)) == NULL || s->skip)
		return;

	nw = sscanf(title, "%127s %127s %c", word[0], word[1], &extra);
	if (nw >= 1) {
		for (int k = 0; k < SEC_NKINDS; k++)
			if (strcmp(word[0], sec_names[k]) == 0)
				kind = k;
	}
	if (kind < 0) {
		perr_add(p, line, title, "", "unknown section");
		s->skip = true;
		return;
	}
	s->kind = (enum sec_kind)kind;
	if (nw == 3 || (nw == 2 && !SEC_NAMED(kind))) {
		perr_add(p, line, title, "", "unexpected words in section header");
		s->skip = true;
		return;
	}
	if (SEC_NAMED(kind)) {
		if (nw < 2) {
			perr_add(p, line, title, "", "section needs a name: [%s NAME]", word[0]);
			s->skip = true;
			return;
		}
		if (!valid_name(word[1])) {
			perr_add(p, line, title, "", "bad name '%s' (letters, digits, '_', '.', '-', "
			    "at most %d)", word[1], CFG_MAX_NAME);
			s->skip = true;
			return;
		}
		if ((s->name = strdup(word[1])) == NULL) {
			p->oom = true;
			s->skip = true;
			return;
		}
	}
	for (size_t i = 0; i + 1 < p->nsecs; i++) {
		const struct psec *o = &p->secs[i];
		if (o->skip || o->kind != s->kind)
			continue;
		if (SEC_NAMED(kind) && strcmp(o->name, s->name) != 0)
			continue;
		perr_add(p, line, title, "", "duplicate section (first on line %d)", o->line);
		s->skip = true;
		return;
	}
}

/* Look at one line as inih will, before it does: note section headers with
 * their line, whether the line continues a value, and lines inih will refuse
 * without calling us. */
static void
classify(struct parser *p, char *line)
{
	char *s = line, *e, *t;
	bool indented;

	if (p->lineno == 1 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	indented = s > line;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';

	p->cont = false;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (indented && p->prev_key) {
		p->cont = true;
		return;
	}
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL) {
			struct psec *bad;

			perr_add(p, p->lineno, "", "", "section header without ']'");
			/* keep the following keys out of the previous section */
			if ((bad = psec_push(p, "", p->lineno)) != NULL)
				bad->skip = true;
			return;
		}
		*close = '\0';
		t = close + 1;
		while (isspace((unsigned char)*t))
			t++;
		s++;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		psec_add(p, s, p->lineno);
		if (*t != '\0' && *t != ';' && *t != '#')
			perr_add(p, p->lineno, s, "", "unexpected text after ']'");
		p->prev_key = false;
		return;
	}
	for (t = s; *t; t++) {
		if (*t == '=' || *t == ':') {
			p->prev_key = true;
			return;
		}
		if (*t == ';' && t > s && isspace((unsigned char)t[-1]))
			break;
	}
	perr_add(p, p->lineno, "", "", "syntax error: expected 'key = value'");
}

/* inih's reader: exactly one line per call, so that p->lineno is the line
 * number of every handler call that follows. */
static char *
reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *line, *nl;
	size_t n;
	char tmp[1024];

	if (p->pos >= p->len)
		return NULL;
	line = p->buf + p->pos;
	nl = memchr(line, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += n + (nl != NULL);
	p->lineno++;
	p->cont = false;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (num < 3 || n + 2 > (size_t)num || n >= sizeof(tmp)) {
		perr_add(p, p->lineno, "", "", "line too long (at most %d characters)", num - 2);
		str[0] = '\0';
		return str;
	}
	if (memchr(line, '\0', n) != NULL) {
		perr_add(p, p->lineno, "", "", "NUL character in line");
		str[0] = '\0';
		return str;
	}
	memcpy(str, line, n);
	str[n] = '\n';
	str[n + 1] = '\0';

	memcpy(tmp, line, n);
	tmp[n] = '\0';
	classify(p, tmp);
	return str;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	struct psec *s;
	struct pentry *n;
	int ki;

	(void)section; /* we track sections ourselves, see classify() */
	if (p->nsecs == 0) {
		perr_add(p, p->lineno, "", name, "key outside of any section");
		return 1;
	}
	s = &p->secs[p->nsecs - 1];
	if (s->skip)
		return 1;
	if (p->cont) {
		struct pentry *last;
		char *v;

		if (!p->last_ok || s->n == 0)
			return 1;
		last = &s->e[s->n - 1];
		if (asprintf(&v, "%s %s", last->value, value) == -1) {
			p->oom = true;
			return 1;
		}
		free(last->value);
		last->value = v;
		return 1;
	}
	p->last_ok = false;
	if ((ki = key_find(s->kind, name)) < 0) {
		perr_add(p, p->lineno, s->title, name, "unknown key");
		return 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].ki == (size_t)ki) {
			perr_add(p, p->lineno, s->title, name, "duplicate key (first set on line %d)",
			    s->e[i].line);
			return 1;
		}
	}
	n = reallocarray(s->e, s->n + 1, sizeof(*s->e));
	if (n == NULL) {
		p->oom = true;
		return 1;
	}
	s->e = n;
	s->e[s->n].ki = (size_t)ki;
	s->e[s->n].line = p->lineno;
	if ((s->e[s->n].value = strdup(value)) == NULL) {
		p->oom = true;
		return 1;
	}
	s->n++;
	p->last_ok = true;
	return 1;
}

/* ---- Values. ---- */

static void
strlist_clear(struct cfg_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Split a list on commas and/or whitespace into l. */
static int
split_list(const char *val, struct cfg_strlist *l, char *err, size_t errlen)
{
	const char *s = val;

	strlist_clear(l);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return 0;
	for (;;) {
		size_t n;

		while (isspace((unsigned char)*s))
			s++;
		n = strcspn(s, ", \t\r\n\v\f");
		if (n == 0) {
			snprintf(err, errlen, "empty item in list");
			return EINVAL;
		}
		if (l->n == CFG_MAX_LIST) {
			snprintf(err, errlen, "too many items (at most %d)", CFG_MAX_LIST);
			return EINVAL;
		}
		if ((l->v[l->n] = strndup(s, n)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return ENOMEM;
		}
		l->n++;
		s += n;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;
		if (*s == ',')
			s++;
	}
}

static int
enum_index(const char *values, const char *v)
{
	size_t vl = strlen(v);
	int i = 0;

	for (const char *s = values; *s; i++) {
		size_t n = strcspn(s, "|");
		if (n == vl && strncmp(s, v, n) == 0)
			return i;
		s += n;
		if (*s == '|')
			s++;
	}
	return -1;
}

/* The idx-th of "a|b|c" into buf. */
static const char *
enum_value(const char *values, int idx, char *buf, size_t len)
{
	const char *s = values;

	for (int i = 0; *s; i++) {
		size_t n = strcspn(s, "|");
		if (i == idx) {
			snprintf(buf, len, "%.*s", (int)n, s);
			return buf;
		}
		s += n;
		if (*s == '|')
			s++;
	}
	snprintf(buf, len, "?");
	return buf;
}

static int
set_string(char **field, const char *v, char *err, size_t errlen)
{
	char *d = strdup(v);

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	free(*field);
	*field = d;
	return 0;
}

/* Parse one value into the field of base described by key ki. */
static int
value_parse(size_t ki, void *base, const char *v, char *err, size_t errlen)
{
	const struct cfg_key *k = &cfg_keys[ki];
	const struct key_impl *im = &key_impls[ki];
	void *field = (char *)base + im->off;
	struct cfg_strlist *l = field;
	struct cfg_strlist tmp = { .n = 0 };
	int rc = 0, idx;

	switch (im->pk) {
	case PK_STRING:
		return set_string(field, v, err, errlen);
	case PK_WORD:
		if (*v == '\0' || v[strcspn(v, " \t")] != '\0') {
			snprintf(err, errlen, "must be one non-empty word");
			return EINVAL;
		}
		return set_string(field, v, err, errlen);
	case PK_INT: {
		char *end;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || !(isdigit((unsigned char)*v) || *v == '-')) {
			snprintf(err, errlen, "'%s' is not a number", v);
			return EINVAL;
		}
		if (errno == ERANGE || n < k->min || n > k->max) {
			snprintf(err, errlen, "%s is out of range %ld..%ld", v, k->min, k->max);
			return ERANGE;
		}
		*(int *)field = (int)n;
		return 0;
	}
	case PK_ENUM:
		if ((idx = enum_index(k->values, v)) < 0) {
			snprintf(err, errlen, "'%s' is not one of %s", v, k->values);
			return EINVAL;
		}
		*(int *)field = idx;
		return 0;
	case PK_ENUM_STR:
		if (enum_index(k->values, v) < 0) {
			snprintf(err, errlen, "'%s' is not one of %s", v, k->values);
			return EINVAL;
		}
		return set_string(field, v, err, errlen);
	case PK_LOGLEVEL:
		if ((idx = log_level_parse(v)) < 0) {
			snprintf(err, errlen, "'%s' is not one of %s", v, k->values);
			return EINVAL;
		}
		*(int *)field = idx;
		return 0;
	case PK_IP: {
		struct addr a;

		if (addr_from_ip(&a, v, 0) != 0) {
			snprintf(err, errlen, "'%s' is not an IP address", v);
			return EINVAL;
		}
		return set_string(field, v, err, errlen);
	}
	case PK_IP6: {
		struct addr a;

		if (*v != '\0' && (addr_from_ip(&a, v, 0) != 0 || a.u.sa.sa_family != AF_INET6)) {
			snprintf(err, errlen, "'%s' is not an IPv6 address", v);
			return EINVAL;
		}
		return set_string(field, v, err, errlen);
	}
	case PK_DIGITS:
		if (*v != '\0' && !valid_number(v)) {
			snprintf(err, errlen, "'%s' is not a number (digits, *, #, +)", v);
			return EINVAL;
		}
		return set_string(field, v, err, errlen);
	case PK_SIPURI: {
		const char *b;

		if (strncmp(v, "sip:", 4) != 0 || v[4] == '\0' || strpbrk(v, " \t<>\"") != NULL) {
			snprintf(err, errlen, "'%s' is not a SIP URI (sip:...)", v);
			return EINVAL;
		}
		for (b = strchr(v, '{'); b != NULL; b = strchr(b + 1, '{')) {
			if (strncmp(b, "{number}", 8) != 0) {
				snprintf(err, errlen, "unknown placeholder in '%s' (only {number})", v);
				return EINVAL;
			}
		}
		return set_string(field, v, err, errlen);
	}
	case PK_ECHOCANCEL: {
		char *end;
		long n;

		if (strcmp(v, "off") == 0) {
			*(unsigned int *)field = 0;
			return 0;
		}
		errno = 0;
		n = strtol(v, &end, 10);
		if (!isdigit((unsigned char)*v) || *end != '\0' || errno == ERANGE ||
		    n < k->min || n > k->max) {
			snprintf(err, errlen, "'%s' is not off or a tail length of %ld..%ld ms",
			    v, k->min, k->max);
			return EINVAL;
		}
		*(unsigned int *)field = (unsigned int)n;
		return 0;
	}
	case PK_CHANS: {
		int *chans = field;
		size_t nc = 0;

		if ((rc = split_list(v, &tmp, err, errlen)) != 0)
			goto out;
		for (size_t i = 0; i < tmp.n; i++) {
			long lo, hi;
			char *end;

			errno = 0;
			lo = strtol(tmp.v[i], &end, 10);
			hi = lo;
			if (*end == '-' && isdigit((unsigned char)end[1]))
				hi = strtol(end + 1, &end, 10);
			if (!isdigit((unsigned char)tmp.v[i][0]) || *end != '\0' ||
			    errno == ERANGE || lo < k->min || hi > k->max || lo > hi) {
				snprintf(err, errlen, "'%s' is not a channel number or range "
				    "(%ld..%ld, like 1-15)", tmp.v[i], k->min, k->max);
				rc = EINVAL;
				goto out;
			}
			for (long c = lo; c <= hi; c++) {
				for (size_t j = 0; j < nc; j++) {
					if (chans[j] == c) {
						snprintf(err, errlen, "channel %ld is listed twice", c);
						rc = EINVAL;
						goto out;
					}
				}
				if (nc == CFG_MAX_BCHANS) {
					snprintf(err, errlen, "too many channels (at most %d)",
					    CFG_MAX_BCHANS);
					rc = EINVAL;
					goto out;
				}
				chans[nc++] = (int)c;
			}
		}
		*(size_t *)((char *)base + im->off2) = nc;
		goto out;
	}
	case PK_ADDRS:
	case PK_CIDRS:
		if ((rc = split_list(v, &tmp, err, errlen)) != 0)
			goto out;
		if (im->pk == PK_ADDRS && tmp.n > CFG_MAX_LISTEN) {
			snprintf(err, errlen, "too many addresses (at most %d)", CFG_MAX_LISTEN);
			rc = EINVAL;
			goto out;
		}
		if (im->pk == PK_CIDRS && tmp.n > CFG_MAX_CIDRS) {
			snprintf(err, errlen, "too many networks (at most %d)", CFG_MAX_CIDRS);
			rc = EINVAL;
			goto out;
		}
		for (size_t i = 0; i < tmp.n; i++) {
			if (im->pk == PK_ADDRS) {
				struct addr *a = (struct addr *)field + i;
				if (addr_parse(a, tmp.v[i], 5060) != 0 || addr_port(a) == 0) {
					snprintf(err, errlen, "'%s' is not an address (ip:port, [ipv6]:port)",
					    tmp.v[i]);
					rc = EINVAL;
					goto out;
				}
			} else if (cidr_parse((struct cidr *)field + i, tmp.v[i]) != 0) {
				snprintf(err, errlen, "'%s' is not a network (ip or ip/bits)", tmp.v[i]);
				rc = EINVAL;
				goto out;
			}
		}
		*(size_t *)((char *)base + im->off2) = tmp.n;
		goto out;
	case PK_NUMBERS:
	case PK_PREFIXES:
	case PK_NAMES:
	case PK_CODECS:
		if ((rc = split_list(v, &tmp, err, errlen)) != 0)
			goto out;
		for (size_t i = 0; i < tmp.n; i++) {
			const char *it = tmp.v[i];
			bool ok;

			switch (im->pk) {
			case PK_NUMBERS:
				ok = valid_number(it);
				break;
			case PK_PREFIXES:
				ok = strcmp(it, "*") == 0 || valid_number(it);
				break;
			case PK_NAMES:
				ok = valid_name(it);
				break;
			default:
				ok = enum_index(k->values, it) >= 0;
				break;
			}
			if (!ok) {
				snprintf(err, errlen, "'%s' is not %s", it,
				    im->pk == PK_NUMBERS ? "a number (digits, *, #, +)" :
				    im->pk == PK_PREFIXES ? "a number prefix or *" :
				    im->pk == PK_NAMES ? "a section name" : "one of ");
				if (im->pk == PK_CODECS)
					strncat(err, k->values, errlen - strlen(err) - 1);
				rc = EINVAL;
				goto out;
			}
			for (size_t j = 0; j < i; j++) {
				if (strcmp(tmp.v[j], it) == 0) {
					snprintf(err, errlen, "'%s' is listed twice", it);
					rc = EINVAL;
					goto out;
				}
			}
		}
		strlist_clear(l);
		*l = tmp;
		tmp.n = 0;
		goto out;
	}
out:
	strlist_clear(&tmp);
	return rc;
}

/* Print the field of key ki in base as it would be written in the file. */
static void
value_print(size_t ki, const void *base, FILE *out)
{
	const struct cfg_key *k = &cfg_keys[ki];
	const struct key_impl *im = &key_impls[ki];
	const void *field = (const char *)base + im->off;
	const struct cfg_strlist *l = field;
	char buf[ADDR_STRLEN + 8];
	size_t n;

	switch (im->pk) {
	case PK_STRING:
	case PK_WORD:
	case PK_IP:
	case PK_IP6:
	case PK_DIGITS:
	case PK_SIPURI:
	case PK_ENUM_STR:
		fputs(*(char *const *)field ? *(char *const *)field : "", out);
		break;
	case PK_INT:
		fprintf(out, "%d", *(const int *)field);
		break;
	case PK_ECHOCANCEL:
		if (*(const unsigned int *)field == 0)
			fputs("off", out);
		else
			fprintf(out, "%u", *(const unsigned int *)field);
		break;
	case PK_CHANS: {
		const int *chans = field;
		size_t i = 0, j;

		n = *(const size_t *)((const char *)base + im->off2);
		while (i < n) {
			/* a run of consecutive numbers prints as a range */
			for (j = i; j + 1 < n && chans[j + 1] == chans[j] + 1; j++)
				continue;
			fprintf(out, "%s%d", i ? ", " : "", chans[i]);
			if (j > i)
				fprintf(out, "-%d", chans[j]);
			i = j + 1;
		}
		break;
	}
	case PK_ENUM:
		fputs(enum_value(k->values, *(const int *)field, buf, sizeof(buf)), out);
		break;
	case PK_LOGLEVEL:
		fputs(log_level_name(*(const int *)field), out);
		break;
	case PK_ADDRS:
		n = *(const size_t *)((const char *)base + im->off2);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%s", i ? ", " : "",
			    addr_str((const struct addr *)field + i, buf, sizeof(buf)));
		break;
	case PK_CIDRS:
		n = *(const size_t *)((const char *)base + im->off2);
		for (size_t i = 0; i < n; i++) {
			const struct cidr *c = (const struct cidr *)field + i;
			if (inet_ntop(c->family, c->net, buf, sizeof(buf)) == NULL)
				snprintf(buf, sizeof(buf), "?");
			fprintf(out, "%s%s/%u", i ? ", " : "", buf, c->bits);
		}
		break;
	case PK_NUMBERS:
	case PK_PREFIXES:
	case PK_NAMES:
	case PK_CODECS:
		for (size_t i = 0; i < l->n; i++)
			fprintf(out, "%s%s", i ? ", " : "", l->v[i]);
		break;
	}
}

static void
value_free(size_t ki, void *base)
{
	void *field = (char *)base + key_impls[ki].off;

	switch (key_impls[ki].pk) {
	case PK_STRING:
	case PK_WORD:
	case PK_IP:
	case PK_IP6:
	case PK_DIGITS:
	case PK_SIPURI:
	case PK_ENUM_STR:
		free(*(char **)field);
		*(char **)field = NULL;
		break;
	case PK_NUMBERS:
	case PK_PREFIXES:
	case PK_NAMES:
	case PK_CODECS:
		strlist_clear(field);
		break;
	default:
		break;
	}
}

static void
section_free(enum sec_kind kind, void *base)
{
	for (size_t i = 0; i < cfg_n_keys; i++)
		if (strcmp(cfg_keys[i].section, sec_names[kind]) == 0)
			value_free(i, base);
}

static bool
key_applies(size_t ki, enum sec_kind kind, const void *base)
{
	switch (key_impls[ki].app) {
	case APP_ALWAYS:
		return true;
	case APP_SIM:
		return kind == SEC_SPAN && ((const struct cfg_span *)base)->driver == CFG_DRIVER_SIM;
	case APP_DAHDI:
		return kind == SEC_SPAN && ((const struct cfg_span *)base)->driver == CFG_DRIVER_DAHDI;
	case APP_OUTBOUND:
		return kind == SEC_ROUTE &&
		    ((const struct cfg_route *)base)->direction == CFG_ROUTE_OUTBOUND;
	case APP_INBOUND:
		return kind == SEC_ROUTE &&
		    ((const struct cfg_route *)base)->direction == CFG_ROUTE_INBOUND;
	}
	return false;
}

static const char *
app_msg(enum app a)
{
	switch (a) {
	case APP_SIM:
		return "only valid with driver = sim";
	case APP_DAHDI:
		return "only valid with driver = dahdi";
	case APP_OUTBOUND:
		return "only valid in outbound routes";
	case APP_INBOUND:
		return "only valid in inbound routes";
	default:
		return "not valid here";
	}
}

/* ---- Second pass: build and check the sections. ---- */

static const struct pentry *
entry_find(const struct psec *s, const char *key)
{
	int ki = key_find(s->kind, key);

	for (size_t i = 0; i < s->n; i++)
		if ((int)s->e[i].ki == ki)
			return &s->e[i];
	return NULL;
}

/* Whether key is set in s to nothing but whitespace. */
static bool
entry_blank(const struct psec *s, const char *key)
{
	const struct pentry *e = entry_find(s, key);

	return e != NULL && e->value[strspn(e->value, " \t")] == '\0';
}

/* The line to blame for key in s: its own line, else the section's. */
static int
entry_line(const struct psec *s, const char *key)
{
	const struct pentry *e = entry_find(s, key);

	return e ? e->line : s->line;
}

static void
defaults_apply(struct parser *p, enum sec_kind kind, void *base)
{
	char err[256];

	for (size_t i = 0; i < cfg_n_keys; i++) {
		if (strcmp(cfg_keys[i].section, sec_names[kind]) != 0 || cfg_keys[i].def == NULL)
			continue;
		if (value_parse(i, base, cfg_keys[i].def, err, sizeof(err)) != 0)
			perr_add(p, 0, sec_names[kind], cfg_keys[i].name, "bad default: %s", err);
	}
}

/* driver = dahdi: the span number, or the D-channel and the B-channels. */
static void
dahdi_check(struct parser *p, const struct psec *s, struct cfg_span *sp)
{
	struct cfg_dahdi *d = &sp->dahdi;
	bool has_span = entry_find(s, "span") != NULL;
	bool has_d = entry_find(s, "dchannel") != NULL;
	bool has_b = entry_find(s, "bchannels") != NULL;
	size_t max = sp->type == CFG_SPAN_T1 ? 23 : 30;

	d->law_from_span = entry_find(s, "law") == NULL;
	if (has_span && (has_d || has_b)) {
		perr_add(p, entry_line(s, has_d ? "dchannel" : "bchannels"), s->title,
		    has_d ? "dchannel" : "bchannels",
		    "give either span or dchannel and bchannels, not both");
		return;
	}
	if (!has_span && !has_d && !has_b) {
		perr_add(p, s->line, s->title, "span",
		    "missing required key: span, or dchannel and bchannels");
		return;
	}
	if (has_span)
		return;
	if (!has_d) {
		perr_add(p, entry_line(s, "bchannels"), s->title, "dchannel",
		    "missing required key (with bchannels)");
		return;
	}
	if (!has_b || entry_blank(s, "bchannels")) {
		perr_add(p, entry_line(s, "dchannel"), s->title, "bchannels",
		    "needs at least one B-channel (with dchannel)");
		return;
	}
	if (d->n_bchannels > max)
		perr_add(p, entry_line(s, "bchannels"), s->title, "bchannels",
		    "%zu B-channels, a%s span has at most %zu", d->n_bchannels,
		    sp->type == CFG_SPAN_T1 ? " t1" : "n e1", max);
	for (size_t i = 0; i < d->n_bchannels; i++)
		if (d->bchannels[i] == d->dchannel)
			perr_add(p, entry_line(s, "bchannels"), s->title, "bchannels",
			    "channel %d is the D-channel", d->dchannel);
}

static void
span_check(struct parser *p, const struct psec *s, struct cfg_span *sp)
{
	static const char *const kinds[] = {
		"echo", "tone", "busy", "noanswer", "ringanswer", "early", "congestion",
	};
	const struct cfg_strlist *lists[] = {
		&sp->sim.echo, &sp->sim.tone, &sp->sim.busy, &sp->sim.noanswer,
		&sp->sim.ringanswer, &sp->sim.early, &sp->sim.congestion,
	};
	char err[256];

	if (entry_find(s, "law") == NULL)
		sp->law = sp->type == CFG_SPAN_T1 ? CFG_LAW_ULAW : CFG_LAW_ALAW;
	if (entry_find(s, "switchtype") == NULL &&
	    value_parse((size_t)key_find(SEC_SPAN, "switchtype"), sp,
	    sp->type == CFG_SPAN_T1 ? "national" : "euroisdn_e1", err, sizeof(err)) != 0)
		p->oom = true;

	if (sp->driver == CFG_DRIVER_DAHDI)
		dahdi_check(p, s, sp);

	/* a number belongs to one telephone kind only */
	for (size_t a = 0; a < 7; a++) {
		for (size_t i = 0; i < lists[a]->n; i++) {
			for (size_t b = 0; b < a; b++) {
				for (size_t j = 0; j < lists[b]->n; j++) {
					if (strcmp(lists[a]->v[i], lists[b]->v[j]) != 0)
						continue;
					perr_add(p, entry_line(s, kinds[a]), s->title, kinds[a],
					    "number %s is already a %s telephone", lists[a]->v[i],
					    kinds[b]);
				}
			}
		}
	}
}

static void
route_check(struct parser *p, const struct psec *s, struct cfg_route *r)
{
	if (r->direction == CFG_ROUTE_OUTBOUND && entry_find(s, "spans") == NULL)
		perr_add(p, s->line, s->title, "spans", "missing required key (outbound route)");
	else if (r->direction == CFG_ROUTE_OUTBOUND && entry_blank(s, "spans"))
		perr_add(p, entry_line(s, "spans"), s->title, "spans", "needs at least one span");
	if (r->direction == CFG_ROUTE_INBOUND && entry_find(s, "target") == NULL &&
	    entry_find(s, "trunk") == NULL)
		perr_add(p, s->line, s->title, "target", "missing required key (inbound route)");
	if (r->direction == CFG_ROUTE_INBOUND && entry_find(s, "target") != NULL &&
	    entry_find(s, "trunk") != NULL)
		perr_add(p, entry_line(s, "trunk"), s->title, "trunk", "target and trunk exclude "
		    "each other");
	if (entry_blank(s, "match"))
		perr_add(p, entry_line(s, "match"), s->title, "match",
		    "needs at least one prefix (or *)");
}

static void
user_check(struct parser *p, const struct psec *s, const struct cfg_user *u)
{
	if (entry_blank(s, "number"))
		perr_add(p, entry_line(s, "number"), s->title, "number", "needs at least one number");
	if (u->password == NULL && u->ha1 == NULL && u->ha1_sha256 == NULL)
		perr_add(p, s->line, s->title, "password", "missing required key: password or ha1");
	if (u->ha1 != NULL && (strlen(u->ha1) != 32 || strspn(u->ha1, "0123456789abcdefABCDEF") != 32))
		perr_add(p, entry_line(s, "ha1"), s->title, "ha1", "must be 32 hex digits");
	if (u->ha1_sha256 != NULL && (strlen(u->ha1_sha256) != 64 ||
	    strspn(u->ha1_sha256, "0123456789abcdefABCDEF") != 64))
		perr_add(p, entry_line(s, "ha1_sha256"), s->title, "ha1_sha256", "must be 64 hex digits");
}

static void
trunk_check(struct parser *p, const struct psec *s, const struct cfg_trunk *t)
{
	if (t->ha1 != NULL && (strlen(t->ha1) != 32 || strspn(t->ha1, "0123456789abcdefABCDEF") != 32))
		perr_add(p, entry_line(s, "ha1"), s->title, "ha1", "must be 32 hex digits");
	if (t->reg && t->username == NULL)
		perr_add(p, entry_line(s, "register"), s->title, "username", "needed with register = yes");
	if (t->reg && t->password == NULL && t->ha1 == NULL)
		perr_add(p, entry_line(s, "register"), s->title, "password",
		    "needed with register = yes (or ha1)");
}

static void
rtp_check(struct parser *p, const struct psec *s, struct cfg_rtp *r)
{
	const char *key = "port_min";

	if (s == NULL)
		return; /* the defaults are valid */
	if (entry_find(s, "port_max") != NULL)
		key = "port_max";
	if (r->port_min >= r->port_max)
		perr_add(p, entry_line(s, key), s->title, key,
		    "port range %u..%u must hold at least 2 ports", r->port_min, r->port_max);
	if (entry_blank(s, "codecs"))
		perr_add(p, entry_line(s, "codecs"), s->title, "codecs", "needs at least one codec");
	if (r->jitter_min_ms > r->jitter_max_ms) {
		key = entry_find(s, "jitter_min_ms") != NULL ? "jitter_min_ms" : "jitter_max_ms";
		perr_add(p, entry_line(s, key), s->title, key,
		    "jitter_min_ms %u is above jitter_max_ms %u", r->jitter_min_ms, r->jitter_max_ms);
	}
}

/* The registrar's expiry range must not be empty. */
static void
register_check(struct parser *p, const struct psec *s, const struct cfg_sip *sip)
{
	const char *key;

	if (s == NULL || sip->register_min_expires <= sip->register_max_expires)
		return;
	key = entry_find(s, "register_min_expires") != NULL ? "register_min_expires" :
	    "register_max_expires";
	perr_add(p, entry_line(s, key), s->title, key,
	    "register_min_expires %u is above register_max_expires %u",
	    sip->register_min_expires, sip->register_max_expires);
}

/* A session timer interval, when on, is not below Min-SE (RFC 4028). */
static void
session_timer_check(struct parser *p, const struct psec *s, const struct cfg_sip *sip)
{
	if (s == NULL || sip->session_expires == 0 || sip->session_expires >= sip->min_se)
		return;
	perr_add(p, entry_line(s, entry_find(s, "session_expires") != NULL ? "session_expires" :
	    "min_se"), s->title, "session_expires", "%u is below min_se %u (0 turns it off)",
	    sip->session_expires, sip->min_se);
}

/* TLS listeners need a certificate and its key; verification needs CAs. */
static void
tls_check(struct parser *p, const struct psec *s, const struct cfg_sip *sip)
{
	if (s == NULL)
		return;
	if (sip->n_listen_tls > 0 && (sip->tls_certificate == NULL || sip->tls_certificate[0] == '\0'))
		perr_add(p, entry_line(s, "listen_tls"), s->title, "tls_certificate",
		    "needed with listen_tls");
	if (sip->n_listen_tls > 0 && (sip->tls_key == NULL || sip->tls_key[0] == '\0'))
		perr_add(p, entry_line(s, "listen_tls"), s->title, "tls_key", "needed with listen_tls");
	if (sip->tls_verify_peer && (sip->tls_ca == NULL || sip->tls_ca[0] == '\0'))
		perr_add(p, entry_line(s, "tls_verify_peer"), s->title, "tls_ca",
		    "needed with tls_verify_peer = yes");
}

/* Build one section: defaults, then its entries, then its own checks. */
static void
section_build(struct parser *p, struct psec *s)
{
	char err[256];

	if (SEC_NAMED(s->kind))
		defaults_apply(p, s->kind, s->base);
	for (size_t i = 0; i < s->n; i++) {
		const struct pentry *e = &s->e[i];
		if (value_parse(e->ki, s->base, e->value, err, sizeof(err)) != 0)
			perr_add(p, e->line, s->title, cfg_keys[e->ki].name, "%s", err);
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct pentry *e = &s->e[i];
		if (!key_applies(e->ki, s->kind, s->base))
			perr_add(p, e->line, s->title, cfg_keys[e->ki].name, "%s",
			    app_msg(key_impls[e->ki].app));
	}
	for (size_t i = 0; i < cfg_n_keys; i++) {
		if (!cfg_keys[i].required || strcmp(cfg_keys[i].section, sec_names[s->kind]) != 0)
			continue;
		if (entry_find(s, cfg_keys[i].name) == NULL)
			perr_add(p, s->line, s->title, cfg_keys[i].name, "missing required key");
	}
	switch (s->kind) {
	case SEC_SPAN:
		span_check(p, s, s->base);
		break;
	case SEC_ROUTE:
		route_check(p, s, s->base);
		break;
	case SEC_USER:
		user_check(p, s, s->base);
		break;
	case SEC_TRUNK:
		trunk_check(p, s, s->base);
		break;
	default:
		break;
	}
}

/* Two dahdi spans cannot share a DAHDI span or channel. */
static void
dahdi_file_check(struct parser *p, const struct psec *s)
{
	const struct cfg_span *a = s->base;

	if (a->driver != CFG_DRIVER_DAHDI)
		return;
	for (const struct psec *o = p->secs; o < s; o++) {
		const struct cfg_span *b = o->base;

		if (o->skip || o->kind != SEC_SPAN || b->driver != CFG_DRIVER_DAHDI)
			continue;
		if (a->dahdi.span != 0 && a->dahdi.span == b->dahdi.span)
			perr_add(p, entry_line(s, "span"), s->title, "span",
			    "DAHDI span %d is already span %s (line %d)", a->dahdi.span,
			    b->name, o->line);
		if (a->dahdi.span != 0 || b->dahdi.span != 0)
			continue;
		for (size_t i = 0; i <= a->dahdi.n_bchannels; i++) {
			int ca = i < a->dahdi.n_bchannels ? a->dahdi.bchannels[i] : a->dahdi.dchannel;

			for (size_t j = 0; j <= b->dahdi.n_bchannels; j++) {
				int cb = j < b->dahdi.n_bchannels ? b->dahdi.bchannels[j] :
				    b->dahdi.dchannel;

				if (ca != 0 && ca == cb)
					perr_add(p, s->line, s->title, "",
					    "DAHDI channel %d is already used by span %s (line %d)",
					    ca, b->name, o->line);
			}
		}
	}
}

/* Checks across sections, once everything is built. */
static void
file_check(struct parser *p, struct cfg *c)
{
	for (size_t i = 0; i < p->nsecs; i++) {
		const struct psec *s = &p->secs[i];
		const struct cfg_route *r = s->base;
		const struct cfg_user *u = s->base;

		if (s->skip)
			continue;
		if (s->kind == SEC_SPAN)
			dahdi_file_check(p, s);
		if (s->kind == SEC_ROUTE) {
			if (r->trunk != NULL && cfg_trunk_find(c, r->trunk) == NULL)
				perr_add(p, entry_line(s, "trunk"), s->title, "trunk",
				    "unknown trunk '%s'", r->trunk);
			if (r->direction == CFG_ROUTE_OUTBOUND) {
				for (size_t j = 0; j < r->spans.n; j++)
					if (cfg_span_find(c, r->spans.v[j]) == NULL)
						perr_add(p, entry_line(s, "spans"), s->title, "spans",
						    "unknown span '%s'", r->spans.v[j]);
			}
			/* a prefix in two routes of a direction would be ambiguous */
			for (size_t j = 0; j < i; j++) {
				const struct psec *o = &p->secs[j];
				const struct cfg_route *or = o->base;
				if (o->skip || o->kind != SEC_ROUTE || or->direction != r->direction)
					continue;
				for (size_t a = 0; a < r->match.n; a++)
					for (size_t b = 0; b < or->match.n; b++)
						if (strcmp(r->match.v[a], or->match.v[b]) == 0)
							perr_add(p, entry_line(s, "match"), s->title,
							    "match", "'%s' is already matched by "
							    "route %s (line %d)", r->match.v[a],
							    or->name, o->line);
			}
		}
		if (s->kind == SEC_USER) {
			for (size_t j = 0; j < i; j++) {
				const struct psec *o = &p->secs[j];
				const struct cfg_user *ou = o->base;
				if (o->skip || o->kind != SEC_USER)
					continue;
				for (size_t a = 0; a < u->numbers.n; a++)
					for (size_t b = 0; b < ou->numbers.n; b++)
						if (strcmp(u->numbers.v[a], ou->numbers.v[b]) == 0)
							perr_add(p, entry_line(s, "number"), s->title,
							    "number", "%s is already a number of "
							    "user %s (line %d)", u->numbers.v[a],
							    ou->name, o->line);
			}
		}
	}
}

static struct cfg *
cfg_build(struct parser *p)
{
	struct cfg *c;
	size_t nspan = 0, nroute = 0, nuser = 0, ntrunk = 0;
	const struct psec *rtp = NULL, *sip = NULL;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->refs = 1;
	if ((c->path = strdup(p->file)) == NULL)
		goto fail;
	for (size_t i = 0; i < p->nsecs; i++) {
		if (p->secs[i].skip)
			continue;
		nspan += p->secs[i].kind == SEC_SPAN;
		nroute += p->secs[i].kind == SEC_ROUTE;
		nuser += p->secs[i].kind == SEC_USER;
		ntrunk += p->secs[i].kind == SEC_TRUNK;
	}
	if ((nspan && (c->spans = calloc(nspan, sizeof(*c->spans))) == NULL) ||
	    (nroute && (c->routes = calloc(nroute, sizeof(*c->routes))) == NULL) ||
	    (nuser && (c->users = calloc(nuser, sizeof(*c->users))) == NULL) ||
	    (ntrunk && (c->trunks = calloc(ntrunk, sizeof(*c->trunks))) == NULL))
		goto fail;

	/* the unnamed sections have their defaults even when absent */
	defaults_apply(p, SEC_GENERAL, &c->general);
	defaults_apply(p, SEC_SIP, &c->sip);
	defaults_apply(p, SEC_RTP, &c->rtp);
	for (size_t i = 0; i < p->nsecs; i++) {
		struct psec *s = &p->secs[i];

		if (s->skip)
			continue;
		switch (s->kind) {
		case SEC_GENERAL:
			s->base = &c->general;
			break;
		case SEC_SIP:
			s->base = &c->sip;
			sip = s;
			break;
		case SEC_RTP:
			s->base = &c->rtp;
			rtp = s;
			break;
		case SEC_SPAN:
			s->base = &c->spans[c->n_spans];
			c->spans[c->n_spans].line = s->line;
			if ((c->spans[c->n_spans++].name = strdup(s->name)) == NULL)
				goto fail;
			break;
		case SEC_ROUTE:
			s->base = &c->routes[c->n_routes];
			c->routes[c->n_routes].line = s->line;
			if ((c->routes[c->n_routes++].name = strdup(s->name)) == NULL)
				goto fail;
			break;
		case SEC_USER:
			s->base = &c->users[c->n_users];
			c->users[c->n_users].line = s->line;
			if ((c->users[c->n_users++].name = strdup(s->name)) == NULL)
				goto fail;
			break;
		case SEC_TRUNK:
			s->base = &c->trunks[c->n_trunks];
			c->trunks[c->n_trunks].line = s->line;
			if ((c->trunks[c->n_trunks++].name = strdup(s->name)) == NULL)
				goto fail;
			break;
		default:
			break;
		}
		section_build(p, s);
	}
	rtp_check(p, rtp, &c->rtp);
	register_check(p, sip, &c->sip);
	session_timer_check(p, sip, &c->sip);
	tls_check(p, sip, &c->sip);
	file_check(p, c);
	/* A span without its own tonezone takes [general]'s. */
	for (size_t i = 0; i < c->n_spans; i++)
		if (c->spans[i].tonezone == NULL && c->general.tonezone != NULL &&
		    (c->spans[i].tonezone = strdup(c->general.tonezone)) == NULL)
			p->oom = true;
	return c;
fail:
	p->oom = true;
	cfg_unref(c);
	return NULL;
}

static void
parser_release(struct parser *p)
{
	for (size_t i = 0; i < p->nsecs; i++) {
		for (size_t j = 0; j < p->secs[i].n; j++)
			free(p->secs[i].e[j].value);
		free(p->secs[i].e);
		free(p->secs[i].title);
		free(p->secs[i].name);
	}
	free(p->secs);
	for (size_t i = 0; i < p->nerrs; i++)
		free(p->errs[i].msg);
	free(p->errs);
}

static struct cfg *
cfg_parse(const char *name, const char *buf, size_t len, struct cfg_errors *errs)
{
	struct parser p;
	struct cfg *c = NULL;
	int rc;

	memset(&p, 0, sizeof(p));
	p.file = name;
	p.buf = buf;
	p.len = len;

	rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc == -2)
		p.oom = true;
	else if (rc > 0 && !perr_at(&p, rc))
		perr_add(&p, rc, "", "", "syntax error");
	if (!p.oom)
		c = cfg_build(&p);
	if (p.oom)
		perr_add(&p, 0, "", "", "out of memory");
	if (p.nerrs > 0 || p.oom) {
		cfg_unref(c);
		c = NULL;
	}

	if (p.nerrs > 1)
		qsort(p.errs, p.nerrs, sizeof(*p.errs), perr_cmp);
	if (errs != NULL && p.nerrs > 0 && (errs->msgs = calloc(p.nerrs, sizeof(char *))) != NULL) {
		for (size_t i = 0; i < p.nerrs; i++) {
			errs->msgs[i] = p.errs[i].msg;
			p.errs[i].msg = NULL;
		}
		errs->n = p.nerrs;
	}
	parser_release(&p);
	return c;
}

/* ---- The interface. ---- */

void
cfg_errors_release(struct cfg_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

/* Record one error that is not about a line of the file. */
static void
errs_one(struct cfg_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
errs_one(struct cfg_errors *errs, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int rc;

	if (errs == NULL)
		return;
	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return;
	if ((errs->msgs = calloc(1, sizeof(char *))) == NULL) {
		free(s);
		return;
	}
	errs->msgs[0] = s;
	errs->n = 1;
}

struct cfg *
cfg_load_string(const char *name, const char *text, struct cfg_errors *errs)
{
	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	return cfg_parse(name, text, strlen(text), errs);
}

struct cfg *
cfg_load(const char *path, struct cfg_errors *errs)
{
	struct cfg *c = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	if ((f = fopen(path, "r")) == NULL) {
		errs_one(errs, "%s:0: [] : cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(CFG_MAX_FILE + 1)) == NULL) {
		errs_one(errs, "%s:0: [] : out of memory", path);
		goto out;
	}
	len = fread(buf, 1, CFG_MAX_FILE + 1, f);
	if (ferror(f)) {
		errs_one(errs, "%s:0: [] : cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (len > CFG_MAX_FILE) {
		errs_one(errs, "%s:0: [] : file larger than %d bytes", path, CFG_MAX_FILE);
		goto out;
	}
	c = cfg_parse(path, buf, len, errs);
out:
	free(buf);
	fclose(f);
	return c;
}

struct cfg *
cfg_ref(struct cfg *c)
{
	c->refs++;
	return c;
}

void
cfg_unref(struct cfg *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	section_free(SEC_GENERAL, &c->general);
	section_free(SEC_SIP, &c->sip);
	section_free(SEC_RTP, &c->rtp);
	for (size_t i = 0; i < c->n_spans; i++) {
		section_free(SEC_SPAN, &c->spans[i]);
		free(c->spans[i].name);
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		section_free(SEC_ROUTE, &c->routes[i]);
		free(c->routes[i].name);
	}
	for (size_t i = 0; i < c->n_users; i++) {
		section_free(SEC_USER, &c->users[i]);
		free(c->users[i].name);
	}
	for (size_t i = 0; i < c->n_trunks; i++) {
		section_free(SEC_TRUNK, &c->trunks[i]);
		free(c->trunks[i].name);
	}
	free(c->spans);
	free(c->routes);
	free(c->users);
	free(c->trunks);
	free(c->path);
	free(c);
}

const struct cfg_span *
cfg_span_find(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_spans; i++)
		if (c->spans[i].name != NULL && strcmp(c->spans[i].name, name) == 0)
			return &c->spans[i];
	return NULL;
}

const struct cfg_trunk *
cfg_trunk_find(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_trunks; i++)
		if (c->trunks[i].name != NULL && strcmp(c->trunks[i].name, name) == 0)
			return &c->trunks[i];
	return NULL;
}

const struct cfg_user *
cfg_user_find(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_users; i++)
		if (c->users[i].name != NULL && strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

enum cfg_latch_mode
cfg_latch_mode_effective(const struct cfg *c, const struct cfg_user *user,
    const struct cfg_route *route)
{
	if (user != NULL && user->latch_mode != CFG_LATCH_INHERIT)
		return user->latch_mode;
	if (route != NULL && route->latch_mode != CFG_LATCH_INHERIT)
		return route->latch_mode;
	return c->rtp.latch_mode;
}

const char *
cfg_latch_mode_name(enum cfg_latch_mode m)
{
	static const char *const names[] = {
		"off", "on-change", "recent", "window", "strict", "inherit",
	};

	if ((unsigned int)m >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[m];
}

static void
section_dump(enum sec_kind kind, const char *name, const void *base, FILE *out)
{
	if (name != NULL)
		fprintf(out, "[%s %s]\n", sec_names[kind], name);
	else
		fprintf(out, "[%s]\n", sec_names[kind]);
	for (size_t i = 0; i < cfg_n_keys; i++) {
		if (strcmp(cfg_keys[i].section, sec_names[kind]) != 0 || !key_applies(i, kind, base))
			continue;
		/* an optional word not set (a trunk's username, a route's trunk) */
		if (key_impls[i].pk == PK_WORD && cfg_keys[i].def == NULL &&
		    *(char *const *)((const char *)base + key_impls[i].off) == NULL)
			continue;
		char *v = NULL;
		size_t vl = 0;
		FILE *m = open_memstream(&v, &vl);

		if (m == NULL)
			continue;
		value_print(i, base, m);
		fclose(m);
		fprintf(out, "%s =%s%s\n", cfg_keys[i].name, vl ? " " : "", v ? v : "");
		free(v);
	}
	fputc('\n', out);
}

void
cfg_dump(const struct cfg *c, FILE *out)
{
	fprintf(out, "; effective configuration of %s\n\n", c->path);
	section_dump(SEC_GENERAL, NULL, &c->general, out);
	section_dump(SEC_SIP, NULL, &c->sip, out);
	section_dump(SEC_RTP, NULL, &c->rtp, out);
	for (size_t i = 0; i < c->n_spans; i++)
		section_dump(SEC_SPAN, c->spans[i].name, &c->spans[i], out);
	for (size_t i = 0; i < c->n_routes; i++)
		section_dump(SEC_ROUTE, c->routes[i].name, &c->routes[i], out);
	for (size_t i = 0; i < c->n_users; i++)
		section_dump(SEC_USER, c->users[i].name, &c->users[i], out);
	for (size_t i = 0; i < c->n_trunks; i++)
		section_dump(SEC_TRUNK, c->trunks[i].name, &c->trunks[i], out);
}
