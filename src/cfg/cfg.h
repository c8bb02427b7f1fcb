/* The configuration: one immutable, reference-counted generation per load.
 *
 * A running call holds a reference to the generation it started with, so a
 * reload never changes a call under its feet. Parsing (inih) fills a new
 * generation from the key table; any error refuses the whole file. */
#ifndef PB_CFG_CFG_H
#define PB_CFG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/addr.h"

/* Items of a list value: 128 so that one route's `spans` can name 128 E1
 * spans (3840 channels). A list costs 8 bytes per possible item of config
 * memory, never per call. Networks (trusted, acl) keep their own bound. */
#define CFG_MAX_LIST 128
#define CFG_MAX_CIDRS 32

/* The order is the order of the values of the latch_mode key. */
enum cfg_latch_mode {
	CFG_LATCH_OFF = 0,    /* always send to the SDP address */
	CFG_LATCH_ON_CHANGE,  /* follow the source of inbound RTP, on any change */
	CFG_LATCH_RECENT,     /* send to the source of the latest packet */
	CFG_LATCH_WINDOW,     /* follow the source while fresh, else the SDP address */
	CFG_LATCH_STRICT,     /* learn only from the signalled IPs, with probation */
	CFG_LATCH_INHERIT,    /* [user]/[route] only: use [rtp] latch_mode */
};

enum cfg_span_driver { CFG_DRIVER_SIM = 0, CFG_DRIVER_DAHDI };
enum cfg_span_type { CFG_SPAN_E1 = 0, CFG_SPAN_T1 };
enum cfg_law { CFG_LAW_ALAW = 0, CFG_LAW_ULAW };
/* Which side of the PRI the daemon is: the user side, or the network. */
enum cfg_signalling { CFG_SIG_PRI_CPE = 0, CFG_SIG_PRI_NET };
enum cfg_route_dir { CFG_ROUTE_OUTBOUND = 0, CFG_ROUTE_INBOUND };
/* Type of number of the called number in an outbound SETUP. */
enum cfg_ton { CFG_TON_UNKNOWN = 0, CFG_TON_NATIONAL, CFG_TON_INTERNATIONAL,
	CFG_TON_SUBSCRIBER };
/* Order in which a span picks a free B-channel for an outbound call. */
enum cfg_hunt { CFG_HUNT_ASCENDING = 0, CFG_HUNT_DESCENDING, CFG_HUNT_ROUNDROBIN };

/* A list of strings, e.g. "100, 101" or "sim1 sim2". */
struct cfg_strlist {
	char *v[CFG_MAX_LIST];
	size_t n;
};

struct cfg_general {
	int log_level;          /* enum log_level */
	int drain_time;         /* seconds */
	char *ctl_socket;       /* unix socket path of the control interface */
	char *state_dir;        /* registrations database directory */
	unsigned int max_calls;                 /* concurrent calls, 0 = no limit */
	unsigned int max_call_attempts_per_second;      /* new INVITEs, 0 = no limit */
	struct cfg_strlist default_deny;        /* destination prefixes refused unless allowed */
	char *tonezone;                         /* call progress tones: us, uk, de, ... */
};

struct cfg_sip {
	struct addr listen_udp[8];
	size_t n_listen_udp;
	struct addr listen_tcp[8];
	size_t n_listen_tcp;
	struct cidr trusted[CFG_MAX_CIDRS];
	size_t n_trusted;
	char *user_agent;
	unsigned int register_min_expires;      /* seconds; shorter: 423 */
	unsigned int register_max_expires;      /* seconds; also the default */
	unsigned int register_max_contacts;     /* per user */
	unsigned int keepalive_interval;        /* seconds, 0 = off */
	struct cfg_strlist auth_algorithms;     /* "SHA-256", "MD5": challenges in order */
	unsigned int auth_nonce_ttl;            /* seconds a nonce is valid */
	unsigned int auth_fail_limit;           /* failures from one IP within the window... */
	unsigned int auth_fail_window;          /* ...seconds... */
	unsigned int auth_block_time;           /* ...block the IP this long (seconds) */
	struct cfg_strlist trusted_deny;        /* destination prefixes refused to trusted sources */
	unsigned int session_expires;   /* RFC 4028 interval asked for/granted, s; 0 = only on request */
	unsigned int min_se;            /* shortest interval accepted, s (>= 90) */
	int dtmf_info;                  /* CFG_DTMF_INFO_NO or _YES */
	struct addr listen_tls[8];
	size_t n_listen_tls;
	char *tls_certificate;          /* PEM paths; "" when not set */
	char *tls_key;
	char *tls_ca;
	int tls_verify_peer;            /* 0 no, 1 yes */
	unsigned int tcp_idle_timeout;  /* s; idle unused connections closed, 0 = never */
};

/* How RTP legs send (the values of [rtp] io): io_uring when the kernel
 * allows it (else sendto), the same with a warning when it is missing, or
 * one sendto per packet. */
enum cfg_rtp_io { CFG_RTP_IO_AUTO = 0, CFG_RTP_IO_URING, CFG_RTP_IO_SYSCALLS };

struct cfg_rtp {
	char *address;          /* bind address, also written in SDP c= */
	char *address6;         /* IPv6 bind address for IPv6 peers, NULL/"" = none */
	unsigned int port_min, port_max;
	enum cfg_latch_mode latch_mode;
	unsigned int latch_window_ms;   /* window: how long a learned source stays fresh */
	unsigned int latch_probation;   /* strict: packets before a new source is used */
	unsigned int latch_silence_ms;  /* strict: silence before another source may take over */
	unsigned int rtp_timeout;       /* seconds without RTP before hangup, 0 = never */
	unsigned int rtp_hold_timeout;  /* same while the call is on hold */
	unsigned int jitter_min_ms;     /* jitter buffer: least buffering delay */
	unsigned int jitter_max_ms;     /* jitter buffer: most buffering delay */
	struct cfg_strlist codecs;   /* "pcmu", "pcma": our preference order */
	int io;                         /* enum cfg_rtp_io: how RTP is sent */
};

/* Simulated far-end telephones of a sim span, chosen by called number. */
struct cfg_sim_phones {
	struct cfg_strlist echo;        /* answer, echo audio back */
	struct cfg_strlist tone;        /* answer, play tone_hz */
	struct cfg_strlist busy;        /* DISCONNECT cause 17 */
	struct cfg_strlist noanswer;    /* ALERTING forever */
	struct cfg_strlist ringanswer;  /* ALERTING ring_seconds, then answer + echo */
	struct cfg_strlist early;       /* ALERTING with in-band tone (early media), then answer + echo */
	struct cfg_strlist congestion;  /* cause 34 */
	/* any other number: cause 1, unallocated number */
	unsigned int tone_hz;
	unsigned int ring_seconds;
	unsigned int drop_restart_acks; /* tests: RESTART ACKNOWLEDGEs the far end loses */
};

/* The DAHDI channels of a span with driver = dahdi: the span number, or
 * the channel numbers of its D-channel and B-channels. */
#define CFG_MAX_BCHANS 31
struct cfg_dahdi {
	int span;                       /* DAHDI span number; 0: by channel numbers */
	int dchannel;                   /* DAHDI channel number of the D-channel */
	int bchannels[CFG_MAX_BCHANS];  /* DAHDI channel numbers of the B-channels */
	size_t n_bchannels;
	unsigned int echocancel;        /* tail in ms, 0 = off */
	bool law_from_span;             /* law not set: use the span's */
};

struct cfg_span {
	char *name;
	int line;                       /* where the section starts */
	enum cfg_span_driver driver;
	enum cfg_span_type type;
	enum cfg_law law;
	char *switchtype;               /* libpri switch type name */
	enum cfg_signalling signalling;
	enum cfg_ton ton;               /* outbound called number's type of number */
	char *national_prefix;          /* "0": stripped (national) / prepended inbound */
	char *international_prefix;     /* "00": same for international numbers */
	enum cfg_hunt hunt;             /* B-channel hunting order */
	int blocked;                    /* 1: no new calls either way (drained) */
	int channel_preferred;          /* channel_select: 0 exclusive, 1 preferred */
	char *tonezone;                 /* NULL: [general] tonezone */
	int overlap;                    /* overlap sending of outbound SETUPs */
	unsigned int digit_timeout;     /* inbound overlap: seconds between digits */
	unsigned int restart_timeout;   /* T316: seconds to wait for RESTART ACKNOWLEDGE */
	unsigned int restart_attempts;  /* RESTARTs sent in all before giving up */
	int restart_on_up;              /* 1: RESTART the idle B-channels when the span comes up */
	struct cfg_sim_phones sim;
	struct cfg_dahdi dahdi;         /* driver = dahdi */
};

struct cfg_route {
	char *name;
	int line;
	enum cfg_route_dir direction;
	struct cfg_strlist match;       /* number prefixes, "*" for any */
	struct cfg_strlist spans;       /* outbound: spans to try in order */
	unsigned int strip;             /* outbound: leading digits removed */
	char *prepend;                  /* outbound: prefix added */
	char *target;                   /* inbound: SIP URI, "{number}" is the called number */
	char *trunk;                    /* inbound: [trunk] name instead of target, or NULL */
	enum cfg_latch_mode latch_mode; /* CFG_LATCH_INHERIT unless set */
	unsigned int digits;            /* inbound: number length that completes overlap dialing */
};

/* The toll-fraud policy of a caller: a [user] (and a [trunk]). */
struct cfg_policy {
	struct cidr acl[CFG_MAX_CIDRS];  /* sources it may call from; none: any */
	size_t n_acl;
	struct cfg_strlist allow;       /* destination prefixes allowed despite a deny list */
	struct cfg_strlist deny;        /* destination prefixes refused */
	unsigned int max_calls;         /* concurrent, 0 = no limit */
	unsigned int max_duration;      /* seconds from the answer, 0 = no limit */
	unsigned int max_calls_per_minute;      /* new calls, 0 = no limit */
};

struct cfg_user {
	char *name;
	int line;
	char *password;                 /* plain, or NULL when ha1 is given */
	char *ha1;                      /* MD5(name:realm:password) hex, or NULL */
	char *ha1_sha256;               /* SHA-256(name:realm:password) hex, or NULL */
	struct cfg_policy policy;
	struct cfg_strlist numbers;
	enum cfg_latch_mode latch_mode; /* CFG_LATCH_INHERIT unless set */
	int dtmf_info;                  /* enum cfg_dtmf_info; CFG_DTMF_INFO_INHERIT unless set */
};

/* Number format of a trunk direction: strip, prepend, then write the
 * number in `format` (enum cfg_numfmt). */
enum cfg_numfmt { CFG_NUMFMT_KEEP = 0, CFG_NUMFMT_E164, CFG_NUMFMT_E164_NOPLUS,
	CFG_NUMFMT_NATIONAL };
struct cfg_numrule {
	unsigned int strip;
	char *prepend;
	int format;
};

enum cfg_transport { CFG_TRANSPORT_UDP = 0, CFG_TRANSPORT_TCP, CFG_TRANSPORT_TLS };

/* An upstream SIP provider or carrier. */
struct cfg_trunk {
	char *name;
	int line;
	char *host;                     /* IP literal of the proxy */
	unsigned int port;
	int transport;                  /* enum cfg_transport */
	char *username;                 /* or NULL */
	char *auth_user;                /* or NULL: username */
	char *password;                 /* or NULL */
	char *ha1;                      /* MD5 hex, or NULL */
	int reg;                        /* register = yes */
	unsigned int register_expires;
	unsigned int register_retry;    /* first back-off after a failure, s */
	char *from_user, *from_domain;  /* or NULL */
	struct cidr match[CFG_MAX_CIDRS];       /* sources of its INVITEs */
	size_t n_match;
	struct cfg_policy policy;
	char *country_code, *national_prefix, *international_prefix;
	struct cfg_numrule out;         /* towards the trunk */
	struct cfg_numrule in;          /* from the trunk, towards the PSTN */
};

/* DTMF as SIP INFO: [sip] dtmf_info, and [user] dtmf_info over it. */
enum cfg_dtmf_info { CFG_DTMF_INFO_NO = 0, CFG_DTMF_INFO_YES, CFG_DTMF_INFO_INHERIT };

struct cfg {
	int refs;
	char *path;
	struct cfg_general general;
	struct cfg_sip sip;
	struct cfg_rtp rtp;
	struct cfg_span *spans;
	size_t n_spans;
	struct cfg_route *routes;
	size_t n_routes;
	struct cfg_user *users;
	size_t n_users;
	struct cfg_trunk *trunks;
	size_t n_trunks;
};

/* Errors of one load, each formatted "FILE:LINE: [section] key: message". */
struct cfg_errors {
	char **msgs;
	size_t n;
};
void cfg_errors_release(struct cfg_errors *errs);

/* Load and validate a file. Returns a generation with one reference, or
 * NULL with every error in errs (which the caller releases). errs may be
 * NULL; otherwise it is (re)initialised, sorted by line number. */
struct cfg *cfg_load(const char *path, struct cfg_errors *errs);
/* Same from a string; `name` is used as FILE in messages. For tests. */
struct cfg *cfg_load_string(const char *name, const char *text, struct cfg_errors *errs);

struct cfg *cfg_ref(struct cfg *c);
void cfg_unref(struct cfg *c);

const struct cfg_span *cfg_span_find(const struct cfg *c, const char *name);
const struct cfg_user *cfg_user_find(const struct cfg *c, const char *name);
const struct cfg_trunk *cfg_trunk_find(const struct cfg *c, const char *name);
/* The latch mode of a call: the user's, else the route's, else [rtp]'s.
 * user and route may be NULL. */
enum cfg_latch_mode cfg_latch_mode_effective(const struct cfg *c, const struct cfg_user *user,
                                             const struct cfg_route *route);
const char *cfg_latch_mode_name(enum cfg_latch_mode m);

/* The key table, for `-t`, documentation checks and `config show`. */
enum cfg_type { CFG_T_STRING, CFG_T_INT, CFG_T_BOOL, CFG_T_ENUM, CFG_T_LIST, CFG_T_ADDRLIST, CFG_T_CIDRLIST };
struct cfg_key {
	const char *section;    /* "general", "sip", "rtp", "span", "route", "user" */
	const char *name;
	enum cfg_type type;
	const char *def;        /* default as written in the file, or NULL */
	long min, max;          /* for CFG_T_INT */
	const char *values;     /* for CFG_T_ENUM: "a|b|c" */
	bool reloadable;
	const char *help;
	bool required;          /* the section is refused without it */
};
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_n_keys;

/* Print the effective configuration in file syntax. */
void cfg_dump(const struct cfg *c, FILE *out);

#endif
