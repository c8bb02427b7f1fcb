/* The SIP user agent: libosip2 parsing and transactions glued to the
 * libevent loop, INVITE dialogs (sip_leg), and the policy that belongs to
 * SIP (malformed input, trust, digest authentication).
 *
 * Messages are composed as text and parsed back with libosip2, so what is
 * sent is exactly what was written here. libosip2's timers and our own
 * (2xx retransmission, CANCEL guard) run from one libevent timer. Nothing
 * is freed inside a libosip2 callback: terminated transactions and closed
 * legs are collected and freed from a deferred event. */
#include "sip/sip.h"

#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <osip2/osip.h>
#include <osipparser2/osip_parser.h>

#include "call/cause.h"
#include "core/log.h"
#include "sip/sip_int.h"
#include "sip/sip_registrar.h"
#include "sip/sip_trunk.h"

/* Our own 2xx retransmission timers (libosip2 has its own T1 and T2). */
static unsigned int sip_t1 = 500, sip_t2 = 4000;   /* ms */
#define SIP_PUMP_ROUNDS 16
#define SIP_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO"
#define SIP_SUPPORTED "timer, 100rel"
#define SIP_MIN_SE_FLOOR 90             /* RFC 4028 4: the least Min-SE */

/* A message we retransmit ourselves (a 2xx to a re-INVITE until its ACK, a
 * reliable provisional response until its PRACK): T1 doubling up to T2
 * (up to 64*T1 for a provisional), given up at 64*T1. */
struct sip_rtx {
	char *msg;                      /* owned */
	size_t len;
	int active;
	int capped;                     /* the interval stops growing at T2 */
	unsigned int interval;
	uint64_t next, deadline;
};

enum leg_role { LEG_UAS, LEG_UAC };

enum leg_state {
	LEG_INIT = 0,       /* INVITE received / sent, nothing else yet */
	LEG_EARLY,          /* provisional response sent / received */
	LEG_ANSWERED,       /* UAS: 2xx sent, waiting for the ACK */
	LEG_CONFIRMED,      /* ACK received / sent */
	LEG_TERMINATED,     /* final error, BYE or CANCEL */
};

struct sip_leg {
	TAILQ_ENTRY(sip_leg) entry;
	enum leg_role role;
	enum leg_state state;
	int closed;                     /* no more callbacks to the owner */
	const struct sip_leg_cbs *cbs;
	void *owner;

	struct sip_route route;         /* to the signalling peer */
	osip_transaction_t *inv_tr;     /* IST or ICT while it lasts; not owned */
	osip_message_t *invite;         /* the INVITE (clone); owned */
	char *call_id;
	char *local_tag, *remote_tag;   /* remote_tag: "" when the peer has none */
	char *local_hdr, *remote_hdr;   /* From/To values for our requests */
	char *target;                   /* remote target URI */
	char *routes;                   /* "Route: ...\r\n" lines, or "" */
	char *inv_branch;               /* top Via branch of the INVITE */
	unsigned int local_cseq;

	/* UAS: 2xx retransmission until ACK (RFC 3261 13.3.1.4). */
	char *resp2xx;
	size_t resp2xx_len;
	int rtx_active;
	unsigned int rtx_interval;
	uint64_t rtx_next, rtx_deadline;
	int bye_pending;                /* hung up before the ACK arrived */
	unsigned int remote_cseq;       /* of the peer's last request in the dialog, 0 unknown */
	char *local_sdp;                /* our last description sent; for refreshes */

	/* The peer's re-INVITE we answered with 2xx, until its ACK. */
	struct sip_rtx re2xx;
	unsigned int re_cseq;
	int re_no_offer;                /* it had no SDP: the answer comes in the ACK */
	osip_transaction_t *ref_tr;     /* our re-INVITE or UPDATE in flight; not owned */
	int ref_invite;                 /* ref_tr is a re-INVITE (ACK its 2xx) */
	char *re_ack;                   /* our ACK of its 2xx, to resend; owned */
	size_t re_ack_len;
	unsigned int re_ack_cseq;

	/* RFC 3262: reliable provisional responses (UAS). */
	int peer_100rel;                /* the INVITE had 100rel in Require or Supported */
	unsigned int rseq;              /* of the last reliable provisional sent */
	struct sip_rtx rel1xx;          /* waiting for its PRACK */
	int rel1xx_sdp;                 /* it carried an SDP answer */
	int held_2xx;                   /* a 2xx waits for that PRACK */
	char *held_sdp;                 /* its body; owned */

	/* RFC 4028 session timer; se == 0 when off. */
	unsigned int se;                /* session interval, s */
	int se_we_refresh;              /* we refresh; else the peer must */
	uint64_t se_next;               /* ms: our refresh, or the expiry */
	int peer_timer;                 /* the peer listed timer in Supported */
	int peer_update;                /* the peer allows UPDATE */
	unsigned int peer_min_se;       /* Min-SE of the INVITE, or 0 */

	/* UAC: 2xx from other forks, ACKed and ended with BYE. */
	char *fork_tags;                /* " tag1 tag2 ", or NULL */

	/* UAC: parallel fork to a user's contacts (sip_fork.c). */
	struct sip_fork *fork;          /* not owned; the fork this leg heads or is a branch of */
	int fork_head;

	/* UAC */
	int got_1xx;
	int cancel_pending, cancel_sent;
	int cancel_q850;                /* Reason of a pending CANCEL */
	uint64_t cancel_deadline;
	char *ack;                      /* ACK for our 2xx, to resend */
	size_t ack_len;

	/* What the call layer sees (struct sip_invite, callbacks). */
	char *called, *calling, *calling_name, *auth_user;
	char *asserted, *diversion;     /* users of P-Asserted-Identity, Diversion */
	int privacy_id;                 /* Privacy: id (or header, user) */
	char *sdp;                      /* last body received */
	size_t sdp_len;
	struct addr source;
	int trusted;
	unsigned int retry_after;       /* seconds, for a 503 we send; 0: none */

	/* Trunks: the [trunk] of a UAS leg that came from it, or of a UAC leg
	 * sent to it; a UAC leg's credentials for one 401/407 (the INVITE's
	 * text is kept to send it again with them). */
	char *trunk;
	char *cred_user, *cred_pass, *cred_ha1;
	int cred_tries;
	int se_retried;                 /* a 422 was answered */
	unsigned int prack_rseq;        /* UAC: RSeq of the last reliable 1xx PRACKed */
	char *inv_text;                 /* UAC: our INVITE as sent */
};
TAILQ_HEAD(sip_leg_list, sip_leg);

/* What libosip2 keeps per transaction in reserved2: where to send. */
struct sip_txinfo {
	struct sip_route route;
};

struct sip_dead_tr {
	osip_transaction_t *tr;
	struct sip_dead_tr *next;
};

static struct {
	int initialized;
	struct event_base *base;
	struct cfg *cfg;                /* reference held */
	osip_t *osip;                   /* owned */
	struct event *timer;            /* libosip2 and leg timers */
	struct event *reaper;           /* deferred frees */
	sip_invite_cb invite_cb;
	void *invite_arg;
	int accepting;
	int in_pump, pump_again;
	struct sip_leg_list legs;
	struct sip_dead_tr *dead;
	struct sip_stats stats;
	struct log_ratelimit rl_bad, rl_auth;
} S;

static void sip_on_timer(evutil_socket_t fd, short what, void *arg);
static void sip_on_reap(evutil_socket_t fd, short what, void *arg);
static void pump(void);
static int send_bye(struct sip_leg *leg, int q850);
static int send_cancel(struct sip_leg *leg, int q850);
static void rtx_release(struct sip_rtx *r);

/* ---- small helpers ---------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static time_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];
	static const char d[] = "0123456789abcdef";

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (RAND_bytes(b, (int)nbytes) != 1) {
		for (size_t i = 0; i < nbytes; i++)
			b[i] = (unsigned char)random();
	}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

/* A growing text buffer for composing messages. */
struct sbuf {
	char *p;
	size_t len, cap;
	int error;
};

static void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->error)
		return;
	for (;;) {
		size_t room = sb->cap - sb->len;
		va_start(ap, fmt);
		n = vsnprintf(sb->p ? sb->p + sb->len : NULL, sb->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->error = EINVAL;
			return;
		}
		if (sb->p != NULL && (size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		size_t ncap = sb->cap ? sb->cap * 2 : 1024;
		while (ncap < sb->len + (size_t)n + 1)
			ncap *= 2;
		char *np = realloc(sb->p, ncap);
		if (np == NULL) {
			sb->error = ENOMEM;
			return;
		}
		sb->p = np;
		sb->cap = ncap;
	}
}

static void
sb_append(struct sbuf *sb, const char *s, size_t n)
{
	if (sb->error)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t ncap = sb->cap ? sb->cap : 1024;
		while (ncap < sb->len + n + 1)
			ncap *= 2;
		char *np = realloc(sb->p, ncap);
		if (np == NULL) {
			sb->error = ENOMEM;
			return;
		}
		sb->p = np;
		sb->cap = ncap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

/* Finish: the text (caller frees) or NULL. */
static char *
sb_done(struct sbuf *sb, size_t *len)
{
	if (sb->error || sb->p == NULL) {
		free(sb->p);
		return NULL;
	}
	if (len != NULL)
		*len = sb->len;
	return sb->p;
}

static char *
xstrdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static const char *
leg_state_name(enum leg_state s)
{
	switch (s) {
	case LEG_INIT: return "init";
	case LEG_EARLY: return "early";
	case LEG_ANSWERED: return "answered";
	case LEG_CONFIRMED: return "confirmed";
	case LEG_TERMINATED: return "terminated";
	}
	return "?";
}

/* The one place where a dialog changes state. */
static void
leg_set_state(struct sip_leg *leg, enum leg_state s)
{
	if (leg->state == s)
		return;
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: %s dialog %s -> %s",
	    leg->role == LEG_UAS ? "uas" : "uac", leg_state_name(leg->state), leg_state_name(s));
	leg->state = s;
}

static const char *
user_agent(void)
{
	if (S.cfg != NULL && S.cfg->sip.user_agent != NULL && S.cfg->sip.user_agent[0] != '\0')
		return S.cfg->sip.user_agent;
	return "pstnbridge";
}

/* "1.2.3.4" or "[::1]" */
static const char *
host_str(const struct addr *a, char *buf, size_t len)
{
	char ip[48];

	addr_ip_str(a, ip, sizeof(ip));
	if (a->u.sa.sa_family == AF_INET6)
		snprintf(buf, len, "[%s]", ip);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

static const char *
proto_name(enum sip_proto p)
{
	return p == SIP_PROTO_TLS ? "TLS" : p == SIP_PROTO_TCP ? "TCP" : "UDP";
}

static int
tr_list_uses(osip_list_t *l, uint64_t ep)
{
	for (int i = 0; i < osip_list_size(l); i++) {
		osip_transaction_t *tr = osip_list_get(l, i);
		const struct sip_txinfo *ti = tr != NULL ? osip_transaction_get_reserved2(tr) : NULL;

		if (ti != NULL && ti->route.ep == ep)
			return 1;
	}
	return 0;
}

int
sip_ep_in_use(uint64_t ep)
{
	const struct sip_leg *leg;
	const struct sip_reg_contact *c;

	TAILQ_FOREACH(leg, &S.legs, entry)
		if (leg->route.ep == ep)
			return 1;
	if (S.osip != NULL && (tr_list_uses(&S.osip->osip_ict_transactions, ep) ||
	    tr_list_uses(&S.osip->osip_ist_transactions, ep) ||
	    tr_list_uses(&S.osip->osip_nict_transactions, ep) ||
	    tr_list_uses(&S.osip->osip_nist_transactions, ep)))
		return 1;
	for (c = sip_registrar_store() != NULL ? sip_reg_first(sip_registrar_store()) : NULL;
	    c != NULL; c = sip_reg_next(c))
		if (c->route.ep == ep)
			return 1;
	return sip_trunk_uses_ep(ep);
}

uint64_t
sip_now_ms(void)
{
	return now_ms();
}

const char *
sip_proto_name(enum sip_proto p)
{
	return proto_name(p);
}

void
sip_random_hex(char *out, size_t nbytes)
{
	random_hex(out, nbytes);
}

const char *
sip_user_agent(void)
{
	return user_agent();
}

/* The end of every message we compose: Content-Type and Content-Length,
 * then the body (an SDP) or none. */
static void
sb_body(struct sbuf *sb, const char *body)
{
	size_t blen = body != NULL ? strlen(body) : 0;

	if (body != NULL)
		sb_printf(sb, "Content-Type: application/sdp\r\n");
	sb_printf(sb, "Content-Length: %zu\r\n\r\n", blen);
	if (body != NULL)
		sb_append(sb, body, blen);
}

/* The whole Call-ID ("number@host"); valid until the next call. */
static const char *
msg_call_id(const osip_message_t *m)
{
	static char buf[256];

	if (m == NULL || m->call_id == NULL || m->call_id->number == NULL)
		return "-";
	if (m->call_id->host == NULL)
		return m->call_id->number;
	snprintf(buf, sizeof(buf), "%s@%s", m->call_id->number, m->call_id->host);
	return buf;
}

static const char *
param_value(osip_list_t *params, const char *name)
{
	osip_generic_param_t *p = NULL;

	if (osip_generic_param_get_byname(params, (char *)name, &p) != 0 || p == NULL)
		return NULL;
	return p->gvalue;
}

static const char *
from_tag(const osip_from_t *f)
{
	return f != NULL ? param_value((osip_list_t *)&f->gen_params, "tag") : NULL;
}

static const char *
top_branch(const osip_message_t *m)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);

	return via != NULL ? param_value(&via->via_params, "branch") : NULL;
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The Reason header's Q.850 cause, or 0. */
static int
msg_q850(const osip_message_t *m)
{
	osip_header_t *h = NULL;

	if (osip_message_header_get_byname(m, "reason", 0, &h) < 0 || h == NULL || h->hvalue == NULL)
		return 0;
	return cause_parse_reason(h->hvalue);
}

/* The body when it is SDP. */
static int
msg_sdp(const osip_message_t *m, const char **sdp, size_t *len)
{
	osip_body_t *b = NULL;

	*sdp = NULL;
	*len = 0;
	if (osip_list_size(&m->bodies) <= 0)
		return 0;
	if (m->content_type == NULL || m->content_type->type == NULL || m->content_type->subtype == NULL ||
	    strcasecmp(m->content_type->type, "application") != 0 ||
	    strcasecmp(m->content_type->subtype, "sdp") != 0)
		return EPROTONOSUPPORT;
	if (osip_message_get_body(m, 0, &b) < 0 || b == NULL || b->body == NULL)
		return 0;
	*sdp = b->body;
	*len = b->length;
	return 0;
}

static void
leg_set_sdp(struct sip_leg *leg, const char *sdp, size_t len)
{
	char *copy = NULL;

	if (sdp != NULL && (copy = malloc(len + 1)) != NULL) {
		memcpy(copy, sdp, len);
		copy[len] = '\0';
	}
	free(leg->sdp);
	leg->sdp = copy;
	leg->sdp_len = copy != NULL ? len : 0;
}

/* Whether a comma-separated list of tokens (option tags, methods) holds
 * `tag`, case-insensitively; parameters after ';' are ignored. */
static int
list_has_token(const char *list, const char *tag)
{
	size_t tl = strlen(tag);

	while (list != NULL && *list != '\0') {
		const char *e;
		size_t n;

		while (*list == ' ' || *list == '\t' || *list == ',')
			list++;
		for (e = list; *e != '\0' && *e != ',' && *e != ';' && *e != ' ' && *e != '\t'; e++)
			;
		n = (size_t)(e - list);
		if (n == tl && strncasecmp(list, tag, n) == 0)
			return 1;
		list = strchr(e, ',');
	}
	return 0;
}

/* Whether a header (by its name or its compact form) lists `tag`. */
static int
msg_has_option(const osip_message_t *m, const char *name, const char *compact, const char *tag)
{
	const char *names[2] = { name, compact };
	osip_header_t *h;

	for (int i = 0; i < 2; i++) {
		if (names[i] == NULL)
			continue;
		for (int pos = 0; pos < 64; pos++) {
			h = NULL;
			pos = osip_message_header_get_byname(m, names[i], pos, &h);
			if (pos < 0)
				break;
			if (h != NULL && h->hvalue != NULL && list_has_token(h->hvalue, tag))
				return 1;
		}
	}
	return 0;
}

/* Whether the Allow headers (libosip2 keeps them in their own list) list
 * `method`. */
static int
msg_allows(const osip_message_t *m, const char *method)
{
	for (int i = 0; i < osip_list_size(&m->allows); i++) {
		osip_allow_t *a = osip_list_get(&m->allows, i);

		if (a != NULL && a->value != NULL && list_has_token(a->value, method))
			return 1;
	}
	return msg_has_option(m, "allow", NULL, method);
}

/* The first option tag of Require we do not support, into buf; or NULL. */
static const char *
unsupported_require(const osip_message_t *m, char *buf, size_t len)
{
	osip_header_t *h;

	for (int pos = 0; pos < 64; pos++) {
		const char *v;

		h = NULL;
		if ((pos = osip_message_header_get_byname(m, "require", pos, &h)) < 0)
			break;
		if (h == NULL || (v = h->hvalue) == NULL)
			continue;
		while (*v != '\0') {
			const char *e;
			size_t n;

			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			for (e = v; *e != '\0' && *e != ',' && *e != ' ' && *e != '\t'; e++)
				;
			n = (size_t)(e - v);
			if (n > 0 && !(n == 6 && strncasecmp(v, "100rel", 6) == 0) &&
			    !(n == 5 && strncasecmp(v, "timer", 5) == 0)) {
				size_t j = 0;
				for (size_t i = 0; i < n && j + 1 < len; i++)
					buf[j++] = isgraph((unsigned char)v[i]) ? v[i] : '?';
				buf[j] = '\0';
				return buf;
			}
			v = e;
		}
	}
	return NULL;
}

/* A header's value by name or compact form, or NULL. */
static const char *
msg_header(const osip_message_t *m, const char *name, const char *compact)
{
	osip_header_t *h = NULL;

	if (osip_message_header_get_byname(m, name, 0, &h) >= 0 && h != NULL && h->hvalue != NULL)
		return h->hvalue;
	h = NULL;
	if (compact != NULL && osip_message_header_get_byname(m, compact, 0, &h) >= 0 && h != NULL &&
	    h->hvalue != NULL)
		return h->hvalue;
	return NULL;
}

/* The user part of the first sip: or tel: URI in header `name` (a
 * name-addr), or NULL. Only the characters of a number are taken. */
static char *
msg_header_user(const osip_message_t *m, const char *name)
{
	const char *v = msg_header(m, name, NULL), *p;
	size_t n = 0;

	if (v == NULL)
		return NULL;
	if ((p = strstr(v, "sip:")) != NULL || (p = strstr(v, "sips:")) != NULL ||
	    (p = strstr(v, "tel:")) != NULL)
		p = strchr(p, ':') + 1;
	else
		return NULL;
	while (p[n] != '\0' && n < 64 && (isalnum((unsigned char)p[n]) || p[n] == '+' ||
	    p[n] == '-' || p[n] == '.' || p[n] == '*' || p[n] == '#'))
		n++;
	if (n == 0 || (p[n] != '\0' && p[n] != '@' && p[n] != ';' && p[n] != '>'))
		return NULL;
	return strndup(p, n);
}

/* RFC 3323: Privacy asks to hide the caller's identity (id, header or
 * user; "none" does not). */
static int
msg_privacy_id(const osip_message_t *m)
{
	const char *v = msg_header(m, "privacy", NULL);
	char buf[128], *tok, *save = NULL;
	int id = 0;

	if (v == NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, "; \t", &save); tok != NULL; tok = strtok_r(NULL, "; \t", &save))
		if (strcasecmp(tok, "id") == 0 || strcasecmp(tok, "header") == 0 ||
		    strcasecmp(tok, "user") == 0)
			id = 1;
	return id;
}

enum se_refresher { SE_REF_NONE = 0, SE_REF_UAC, SE_REF_UAS };

/* RFC 4028: Session-Expires (delta-seconds, refresher). 0 or ENOENT. */
static int
msg_session_expires(const osip_message_t *m, unsigned int *secs, enum se_refresher *ref)
{
	const char *v = msg_header(m, "session-expires", "x"), *p;
	char *end;
	unsigned long n;

	*secs = 0;
	*ref = SE_REF_NONE;
	if (v == NULL)
		return ENOENT;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!isdigit((unsigned char)*v))
		return ENOENT;
	n = strtoul(v, &end, 10);
	if (n == 0 || n > 86400 * 7)
		return ENOENT;
	*secs = (unsigned int)n;
	if ((p = strcasestr(end, "refresher")) != NULL) {
		p += 9;
		while (*p == ' ' || *p == '=')
			p++;
		if (strncasecmp(p, "uac", 3) == 0)
			*ref = SE_REF_UAC;
		else if (strncasecmp(p, "uas", 3) == 0)
			*ref = SE_REF_UAS;
	}
	return 0;
}

/* A header with one number (Min-SE, RSeq), or 0. */
static unsigned long
msg_header_num(const osip_message_t *m, const char *name)
{
	const char *v = msg_header(m, name, NULL);

	while (v != NULL && (*v == ' ' || *v == '\t'))
		v++;
	if (v == NULL || !isdigit((unsigned char)*v))
		return 0;
	return strtoul(v, NULL, 10);
}

static unsigned long
msg_cseq(const osip_message_t *m)
{
	if (m->cseq == NULL || m->cseq->number == NULL)
		return 0;
	return strtoul(m->cseq->number, NULL, 10);
}

/* The body of application/dtmf-relay: "Signal=5" and "Duration=160"
 * lines. 0 with the digit and the duration in ms, or EINVAL. */
static int
parse_dtmf_relay(const char *body, size_t len, char *digit, unsigned int *ms)
{
	char line[128];
	size_t i = 0;

	*digit = '\0';
	*ms = 250;
	while (i < len) {
		size_t n = 0;
		char *eq, *k, *v;

		while (i < len && body[i] != '\r' && body[i] != '\n') {
			if (n + 1 < sizeof(line))
				line[n++] = body[i];
			i++;
		}
		while (i < len && (body[i] == '\r' || body[i] == '\n'))
			i++;
		line[n] = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		k = line;
		v = eq + 1;
		while (*k == ' ' || *k == '\t')
			k++;
		for (char *e = eq - 1; e >= k && (*e == ' ' || *e == '\t'); e--)
			*e = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(k, "Signal") == 0) {
			if (strcmp(v, "10") == 0 || strncmp(v, "10 ", 3) == 0)
				*digit = '*';
			else if (strcmp(v, "11") == 0 || strncmp(v, "11 ", 3) == 0)
				*digit = '#';
			else if (v[0] != '\0' && (v[1] == '\0' || v[1] == ' ' || v[1] == '\t') &&
			    strchr("0123456789*#ABCDabcd", v[0]) != NULL)
				*digit = (char)toupper((unsigned char)v[0]);
			else
				return EINVAL;
		} else if (strcasecmp(k, "Duration") == 0) {
			unsigned long d;

			if (!isdigit((unsigned char)*v))
				return EINVAL;
			d = strtoul(v, NULL, 10);
			*ms = d < 40 ? 40 : d > 5000 ? 5000 : (unsigned int)d;
		}
	}
	return *digit != '\0' ? 0 : EINVAL;
}

static unsigned int
cfg_session_expires(void)
{
	return S.cfg != NULL ? S.cfg->sip.session_expires : 1800;
}

static unsigned int
cfg_min_se(void)
{
	unsigned int v = S.cfg != NULL ? S.cfg->sip.min_se : SIP_MIN_SE_FLOOR;

	return v < SIP_MIN_SE_FLOOR ? SIP_MIN_SE_FLOOR : v;
}

/* ---- sending ---------------------------------------------------------- */

static void
log_msg_line(const char *dir, const char *callid, const char *buf, size_t len,
             const struct sip_route *r)
{
	const char *eol = memchr(buf, '\r', len);
	int n = eol != NULL ? (int)(eol - buf) : (int)(len > 80 ? 80 : len);
	char a[ADDR_STRLEN];

	if (log_get_level() < LOG_LEVEL_DEBUG)
		return;
	if (n > 120)
		n = 120;
	log_call(LOG_LEVEL_DEBUG, callid, "sip: %s %s %s %.*s", dir, proto_name(r->proto),
	    addr_str(&r->dst, a, sizeof(a)), n, buf);
}

static int
send_text(const struct sip_route *r, const char *callid, const char *buf, size_t len)
{
	int error;

	log_msg_line(">", callid, buf, len, r);
	if ((error = sip_transport_send(r, buf, len)) != 0) {
		char a[ADDR_STRLEN];
		log_call(LOG_LEVEL_WARN, callid, "sip: send to %s: %s",
		    addr_str(&r->dst, a, sizeof(a)), strerror(error));
		return error;
	}
	S.stats.tx_msgs++;
	return 0;
}

/* libosip2 writes the names of headers it does not know with one capital
 * ("Rseq", "Session-expires"); the header lines are put back in the usual
 * spelling (the case only: names are case-insensitive, but not every peer
 * treats them so). */
static void
fix_header_case(char *buf, size_t len)
{
	static const char *const names[] = {
		"RSeq", "RAck", "Session-Expires", "Min-SE", "WWW-Authenticate",
		"Proxy-Authenticate", "Retry-After", "User-Agent",
	};
	char *p = buf, *end = buf + len;

	while (p < end && *p != '\r' && *p != '\n') {
		char *eol = memchr(p, '\n', (size_t)(end - p));

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			size_t n = strlen(names[i]);

			if ((size_t)(end - p) > n && p[n] == ':' && strncasecmp(p, names[i], n) == 0) {
				memcpy(p, names[i], n);
				break;
			}
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
}

/* libosip2's transport hook: every transaction message goes out here. */
static int
sip_cb_send(osip_transaction_t *tr, osip_message_t *msg, char *host, int port, int sock)
{
	struct sip_txinfo *ti = osip_transaction_get_reserved2(tr);
	char *buf = NULL;
	size_t len = 0;
	int error;

	if (ti == NULL)
		return -1;
	if (osip_message_to_str(msg, &buf, &len) != 0 || buf == NULL)
		return -1;
	fix_header_case(buf, len);
	error = send_text(&ti->route, msg_call_id(msg), buf, len);
	osip_free(buf);
	return error != 0 ? -1 : 0;
}

static osip_message_t *
text_to_msg(const char *text, size_t len)
{
	osip_message_t *m = NULL;

	if (osip_message_init(&m) != 0)
		return NULL;
	if (osip_message_parse(m, text, len) != 0) {
		log_error("sip: internal: composed message does not parse");
		osip_message_free(m);
		return NULL;
	}
	return m;
}

/* Queue an outgoing message (text) on a transaction. */
static int
tx_send_text(osip_transaction_t *tr, const char *text, size_t len)
{
	osip_message_t *m = text_to_msg(text, len);
	osip_event_t *evt;

	if (m == NULL)
		return EINVAL;
	if ((evt = osip_new_outgoing_sipmessage(m)) == NULL) {
		osip_message_free(m);
		return ENOMEM;
	}
	osip_transaction_add_event(tr, evt);
	return 0;
}

static struct sip_txinfo *
txinfo_new(const struct sip_route *r)
{
	struct sip_txinfo *ti = calloc(1, sizeof(*ti));

	if (ti != NULL)
		ti->route = *r;
	return ti;
}

/* A server transaction for an incoming request; consumes evt either way. */
static osip_transaction_t *
server_tx(osip_event_t *evt, const struct sip_route *from)
{
	osip_transaction_t *tr = NULL;
	struct sip_txinfo *ti;
	osip_fsm_type_t type = MSG_IS_INVITE(evt->sip) ? IST : NIST;

	if ((ti = txinfo_new(from)) == NULL ||
	    osip_transaction_init(&tr, type, S.osip, evt->sip) != 0) {
		free(ti);
		osip_event_free(evt);
		return NULL;
	}
	osip_transaction_set_reserved2(tr, ti);
	osip_transaction_add_event(tr, evt);
	return tr;
}

/* A client transaction for a request we compose; 0 or an errno code. */
static int
client_tx(const char *text, size_t len, const struct sip_route *r, osip_transaction_t **out)
{
	osip_message_t *m = text_to_msg(text, len);
	osip_transaction_t *tr = NULL;
	struct sip_txinfo *ti;
	osip_event_t *evt;

	if (m == NULL)
		return EINVAL;
	if ((ti = txinfo_new(r)) == NULL ||
	    osip_transaction_init(&tr, MSG_IS_INVITE(m) ? ICT : NICT, S.osip, m) != 0) {
		free(ti);
		osip_message_free(m);
		return ENOMEM;
	}
	osip_transaction_set_reserved2(tr, ti);
	if ((evt = osip_new_outgoing_sipmessage(m)) == NULL) {
		osip_message_free(m);
		osip_remove_transaction(S.osip, tr);
		osip_transaction_free2(tr);
		free(ti);
		return ENOMEM;
	}
	osip_transaction_add_event(tr, evt);
	if (out != NULL)
		*out = tr;
	return 0;
}

int
sip_request_send(const char *text, size_t len, const struct sip_route *r)
{
	int error = client_tx(text, len, r, NULL);

	if (error == 0)
		pump();
	return error;
}

/* Compose a response to `req`. to_tag is added when To has none. extra is
 * more header lines ("Name: value\r\n"). Any missing mandatory header of
 * req is left out (for 400). */
static char *
build_response(const osip_message_t *req, int status, const char *reason,
               const char *to_tag, const char *extra, const char *body, size_t *len)
{
	struct sbuf sb = {0};
	char *s = NULL;

	sb_printf(&sb, "SIP/2.0 %d %s\r\n", status, reason != NULL ? reason : cause_sip_reason(status));
	for (int i = 0; i < osip_list_size(&req->vias); i++) {
		osip_via_t *via = osip_list_get(&req->vias, i);
		if (osip_via_to_str(via, &s) == 0 && s != NULL) {
			sb_printf(&sb, "Via: %s\r\n", s);
			osip_free(s);
		}
	}
	if (req->from != NULL && osip_from_to_str(req->from, &s) == 0) {
		sb_printf(&sb, "From: %s\r\n", s);
		osip_free(s);
	}
	if (req->to != NULL && osip_to_to_str(req->to, &s) == 0) {
		if (to_tag != NULL && from_tag(req->to) == NULL)
			sb_printf(&sb, "To: %s;tag=%s\r\n", s, to_tag);
		else
			sb_printf(&sb, "To: %s\r\n", s);
		osip_free(s);
	}
	if (req->call_id != NULL && osip_call_id_to_str(req->call_id, &s) == 0) {
		sb_printf(&sb, "Call-ID: %s\r\n", s);
		osip_free(s);
	}
	if (req->cseq != NULL && req->cseq->number != NULL && req->cseq->method != NULL)
		sb_printf(&sb, "CSeq: %s %s\r\n", req->cseq->number, req->cseq->method);
	if (extra != NULL)
		sb_printf(&sb, "%s", extra);
	sb_printf(&sb, "Server: %s\r\n", user_agent());
	sb_body(&sb, body);
	return sb_done(&sb, len);
}

/* Respond on a server transaction. */
static int
tx_respond(osip_transaction_t *tr, const osip_message_t *req, int status,
           const char *to_tag, const char *extra, const char *body)
{
	size_t len;
	char *text = build_response(req, status, NULL, to_tag, extra, body, &len);
	int error;

	if (text == NULL)
		return ENOMEM;
	error = tx_send_text(tr, text, len);
	free(text);
	return error;
}

/* A response sent without a transaction (400 to a broken request). */
static void
respond_stateless(const osip_message_t *req, const struct sip_route *from, int status,
                  const char *reason)
{
	size_t len;
	char *text = build_response(req, status, reason, NULL, NULL, NULL, &len);

	if (text != NULL) {
		send_text(from, msg_call_id(req), text, len);
		free(text);
	}
}

/* ---- legs ------------------------------------------------------------- */

static void
request_reap(void)
{
	if (S.reaper != NULL)
		event_active(S.reaper, EV_TIMEOUT, 0);
}

static void
leg_detach_tr(struct sip_leg *leg)
{
	if (leg->inv_tr != NULL) {
		osip_transaction_set_your_instance(leg->inv_tr, NULL);
		leg->inv_tr = NULL;
	}
	request_reap();
}

static void
leg_free(struct sip_leg *leg)
{
	if (leg->fork != NULL)
		sip_fork_on_free(leg);
	TAILQ_REMOVE(&S.legs, leg, entry);
	if (leg->inv_tr != NULL)
		osip_transaction_set_your_instance(leg->inv_tr, NULL);
	if (leg->ref_tr != NULL)
		osip_transaction_set_your_instance(leg->ref_tr, NULL);
	if (leg->invite != NULL)
		osip_message_free(leg->invite);
	free(leg->local_sdp);
	rtx_release(&leg->re2xx);
	rtx_release(&leg->rel1xx);
	free(leg->held_sdp);
	free(leg->re_ack);
	free(leg->fork_tags);
	free(leg->call_id);
	free(leg->local_tag);
	free(leg->remote_tag);
	free(leg->local_hdr);
	free(leg->remote_hdr);
	free(leg->target);
	free(leg->routes);
	free(leg->inv_branch);
	free(leg->resp2xx);
	free(leg->ack);
	free(leg->called);
	free(leg->calling);
	free(leg->calling_name);
	free(leg->asserted);
	free(leg->diversion);
	free(leg->auth_user);
	free(leg->sdp);
	free(leg->trunk);
	free(leg->cred_user);
	free(leg->cred_pass);
	free(leg->cred_ha1);
	free(leg->inv_text);
	free(leg);
}

static int
leg_done(const struct sip_leg *leg)
{
	return leg->closed && leg->inv_tr == NULL && !leg->rtx_active && !leg->bye_pending;
}

/* Close the leg towards its owner and tell it why (once). */
static void
leg_end(struct sip_leg *leg, int status, int q850)
{
	leg_set_state(leg, LEG_TERMINATED);
	if (!leg->closed) {
		leg->closed = 1;
		if (leg->cbs != NULL && leg->cbs->ended != NULL)
			leg->cbs->ended(leg->owner, status, q850);
	}
	request_reap();
}

/* A request in a dialog: Call-ID, our tag in To, theirs in From. */
static struct sip_leg *
find_dialog(const osip_message_t *m)
{
	struct sip_leg *leg;
	const char *ft = from_tag(m->from), *tt = from_tag(m->to);

	TAILQ_FOREACH(leg, &S.legs, entry) {
		if (!streq(leg->call_id, msg_call_id(m)) || !streq(leg->local_tag, tt))
			continue;
		if (streq(leg->remote_tag, ft != NULL ? ft : ""))
			return leg;
	}
	return NULL;
}

static char *
reason_line(int q850)
{
	char r[160], *s = NULL;

	if (q850 <= 0 || cause_reason_header(q850, r, sizeof(r)) < 0)
		return strdup("");
	if (asprintf(&s, "Reason: %s\r\n", r) < 0)
		return NULL;
	return s;
}

static int valid_user(const char *s);

static char *
contact_line(const struct sip_leg *leg, const char *user)
{
	struct addr local;
	char a[ADDR_STRLEN], *s = NULL;

	/* The user part comes from the peer's Request-URI: only a plain one
	 * is written back (control characters made our 2xx unparseable). */
	if (user != NULL && !valid_user(user))
		user = NULL;
	if (sip_transport_local(&leg->route, &local) != 0)
		return strdup("");
	addr_str(&local, a, sizeof(a));
	if (asprintf(&s, "Contact: <sip:%s%s%s%s>\r\n", user != NULL ? user : "",
	    user != NULL && *user ? "@" : "", a,
	    leg->route.proto == SIP_PROTO_TCP ? ";transport=tcp" :
	    leg->route.proto == SIP_PROTO_TLS ? ";transport=tls" : "") < 0)
		return NULL;
	return s;
}

/* Compose a request of a dialog: the headers given, our Via on the leg's
 * route, `extra` header lines and an SDP body or none. Caller frees. */
static char *
compose_request(const struct sip_leg *leg, const char *method, const char *target,
                const char *to, unsigned int cseq, const char *routes, const char *extra,
                const char *body, size_t *len)
{
	struct sbuf sb = {0};
	struct addr local;
	char a[ADDR_STRLEN], branch[40];

	if (sip_transport_local(&leg->route, &local) != 0)
		return NULL;
	memcpy(branch, "z9hG4bK", 7);
	random_hex(branch + 7, 12);
	sb_printf(&sb, "%s %s SIP/2.0\r\n", method, target);
	sb_printf(&sb, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", proto_name(leg->route.proto),
	    addr_str(&local, a, sizeof(a)), branch);
	sb_printf(&sb, "Max-Forwards: 70\r\n");
	sb_printf(&sb, "From: %s\r\n", leg->local_hdr);
	sb_printf(&sb, "To: %s\r\n", to);
	sb_printf(&sb, "Call-ID: %s\r\n", leg->call_id);
	sb_printf(&sb, "CSeq: %u %s\r\n", cseq, method);
	sb_printf(&sb, "%s%s", routes, extra != NULL ? extra : "");
	sb_printf(&sb, "User-Agent: %s\r\n", user_agent());
	sb_body(&sb, body);
	return sb_done(&sb, len);
}

/* Compose and send an in-dialog request on a new client transaction
 * (*out, when not NULL, gets it). */
static int
send_in_dialog_tx(struct sip_leg *leg, const char *method, const char *extra, const char *body,
                  osip_transaction_t **out)
{
	char *text;
	size_t len;
	int error;

	text = compose_request(leg, method, leg->target, leg->remote_hdr, ++leg->local_cseq,
	    leg->routes, extra, body, &len);
	if (text == NULL)
		return ENOMEM;
	error = client_tx(text, len, &leg->route, out);
	free(text);
	return error;
}

static int
send_in_dialog(struct sip_leg *leg, const char *method, const char *extra)
{
	return send_in_dialog_tx(leg, method, extra, NULL, NULL);
}

/* Whether the requests of the dialog can be composed: a Contact URI or a
 * Record-Route that libosip2 parses but does not write back in a form it
 * parses again would make our BYE impossible later. */
static int
dialog_usable(const struct sip_leg *leg)
{
	osip_message_t *m = NULL;
	size_t len;
	char *text;
	int ok = 1;

	text = compose_request(leg, "BYE", leg->target, leg->remote_hdr, 1, leg->routes, NULL,
	    NULL, &len);
	if (text != NULL && osip_message_init(&m) == 0) {
		ok = osip_message_parse(m, text, len) == 0;
		osip_message_free(m);
	}
	free(text);
	return ok;
}

static int
send_bye(struct sip_leg *leg, int q850)
{
	char *reason = reason_line(q850);
	int error;

	if (reason == NULL)
		return ENOMEM;
	error = send_in_dialog(leg, "BYE", reason);
	free(reason);
	leg->bye_pending = 0;
	leg_set_state(leg, LEG_TERMINATED);
	request_reap();
	return error;
}

/* UAC: CANCEL our INVITE (same Via branch, CSeq number). */
static int
send_cancel(struct sip_leg *leg, int q850)
{
	const osip_message_t *inv = leg->invite;
	osip_via_t *via = osip_list_get(&inv->vias, 0);
	struct sbuf sb = {0};
	char *s = NULL, *text, *reason;
	size_t len;
	int error;

	leg->cancel_pending = 0;
	if (leg->cancel_sent || via == NULL)
		return 0;
	if ((reason = reason_line(q850)) == NULL)
		return ENOMEM;
	sb_printf(&sb, "CANCEL %s SIP/2.0\r\n", leg->target);
	if (osip_via_to_str(via, &s) == 0) {
		sb_printf(&sb, "Via: %s\r\n", s);
		osip_free(s);
	}
	if (osip_from_to_str(inv->from, &s) == 0) {
		sb_printf(&sb, "From: %s\r\n", s);
		osip_free(s);
	}
	if (osip_to_to_str(inv->to, &s) == 0) {
		sb_printf(&sb, "To: %s\r\n", s);
		osip_free(s);
	}
	sb_printf(&sb, "Call-ID: %s\r\nCSeq: %s CANCEL\r\nMax-Forwards: 70\r\n", leg->call_id,
	    inv->cseq->number);
	sb_printf(&sb, "%s%sUser-Agent: %s\r\nContent-Length: 0\r\n\r\n", leg->routes, reason,
	    user_agent());
	free(reason);
	if ((text = sb_done(&sb, &len)) == NULL)
		return ENOMEM;
	error = client_tx(text, len, &leg->route, NULL);
	free(text);
	leg->cancel_sent = 1;
	leg->cancel_deadline = now_ms() + 64 * sip_t1;
	return error;
}

/* ---- retransmissions, session timers, forks ---------------------------- */

static void
rtx_start(struct sip_rtx *r, char *msg, size_t len, int capped, uint64_t now)
{
	free(r->msg);
	r->msg = msg;
	r->len = len;
	r->active = 1;
	r->capped = capped;
	r->interval = sip_t1;
	r->next = now + sip_t1;
	r->deadline = now + 64 * sip_t1;
}

static void
rtx_release(struct sip_rtx *r)
{
	free(r->msg);
	memset(r, 0, sizeof(*r));
}

/* Send again when due (UDP only). 1 when the deadline passed. */
static int
rtx_tick(struct sip_leg *leg, struct sip_rtx *r, uint64_t now)
{
	if (!r->active || now < r->next)
		return 0;
	if (now >= r->deadline) {
		r->active = 0;
		return 1;
	}
	if (leg->route.proto == SIP_PROTO_UDP)
		send_text(&leg->route, leg->call_id, r->msg, r->len);
	r->interval *= 2;
	if (r->capped && r->interval > sip_t2)
		r->interval = sip_t2;
	r->next = now + r->interval;
	if (r->next > r->deadline)
		r->next = r->deadline;
	return 0;
}

/* Arm the session timer after a refresh (or the first 2xx): we refresh at
 * half the interval; the peer must have refreshed by the interval less
 * min(32, interval/3) (RFC 4028 10). */
static void
se_restart(struct sip_leg *leg, uint64_t now)
{
	unsigned int slack;

	if (leg->se == 0)
		return;
	slack = leg->se / 3 < 32 ? leg->se / 3 : 32;
	if (leg->se_we_refresh)
		leg->se_next = now + (uint64_t)leg->se * 500;
	else
		leg->se_next = now + (uint64_t)(leg->se - slack) * 1000;
}

/* Session-Expires of a request from the peer (the initial INVITE or a
 * refresh): the interval and who refreshes. In the peer's request the peer
 * is the UAC. Without Session-Expires in a refresh what was agreed stays. */
static void
se_from_request(struct sip_leg *leg, const osip_message_t *req, int initial)
{
	unsigned int v, ours = cfg_session_expires(), floor;
	enum se_refresher ref;

	if (msg_session_expires(req, &v, &ref) != 0) {
		if (!initial || ours == 0)
			return;
		v = ours;
		ref = SE_REF_NONE;
	}
	floor = leg->peer_min_se > cfg_min_se() ? leg->peer_min_se : cfg_min_se();
	if (ours != 0 && v > ours)
		v = ours > floor ? ours : floor;
	leg->se = v;
	if (ref == SE_REF_NONE)
		ref = leg->peer_timer ? SE_REF_UAC : SE_REF_UAS;
	leg->se_we_refresh = ref == SE_REF_UAS;
}

/* The header lines of our response to a request of the peer (we are the
 * UAS of it) that carry the session timer, into buf. */
static const char *
se_response_lines(const struct sip_leg *leg, char *buf, size_t len)
{
	if (leg->se == 0) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, len, "Session-Expires: %u;refresher=%s\r\n%s", leg->se,
	    leg->se_we_refresh ? "uas" : "uac", leg->se_we_refresh ? "" : "Require: timer\r\n");
	return buf;
}

/* Session-Expires of a 2xx to our request (we are its UAC). */
static void
se_from_response(struct sip_leg *leg, const osip_message_t *resp)
{
	unsigned int v;
	enum se_refresher ref;

	if (msg_session_expires(resp, &v, &ref) != 0)
		return;
	leg->se = v;
	leg->se_we_refresh = ref != SE_REF_UAS;
}

/* We refresh: UPDATE when the peer allows it, else a re-INVITE with the
 * description we sent last. The result comes to ref_result(). */
static int
se_send_refresh(struct sip_leg *leg)
{
	char extra[256], *contact = contact_line(leg, leg->role == LEG_UAS ? leg->called : leg->calling);
	int error, upd = leg->peer_update || leg->local_sdp == NULL;

	if (contact == NULL)
		return ENOMEM;
	snprintf(extra, sizeof(extra), "%sSession-Expires: %u;refresher=uac\r\nSupported: " SIP_SUPPORTED
	    "\r\n%sAllow: " SIP_ALLOW "\r\n", contact, leg->se, leg->peer_timer ? "Require: timer\r\n" : "");
	free(contact);
	error = send_in_dialog_tx(leg, upd ? "UPDATE" : "INVITE", extra, upd ? NULL : leg->local_sdp,
	    &leg->ref_tr);
	if (error != 0) {
		leg->ref_tr = NULL;
		return error;
	}
	leg->ref_invite = !upd;
	osip_transaction_set_your_instance(leg->ref_tr, leg);
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: session refresh (%s, %u s)", upd ? "UPDATE" : "re-INVITE",
	    leg->se);
	return 0;
}

/* The session timer fired (pure but for the messages it decides). */
static void
se_fire(struct sip_leg *leg, uint64_t now)
{
	if (!leg->se_we_refresh) {
		log_call(LOG_LEVEL_NOTICE, leg->call_id, "sip: session expired without a refresh (%u s)",
		    leg->se);
		send_bye(leg, 102);
		leg_end(leg, 408, 0);
		return;
	}
	if (leg->ref_tr != NULL) {
		leg->se_next = now + 1000;
		return;
	}
	if (se_send_refresh(leg) != 0) {
		log_call(LOG_LEVEL_NOTICE, leg->call_id, "sip: cannot send the session refresh");
		send_bye(leg, 102);
		leg_end(leg, 500, 0);
		return;
	}
	leg->se_next = now + (uint64_t)leg->se * 1000;
}

/* The final outcome of our refresh (status 408 for a timeout). */
static void
ref_result(struct sip_leg *leg, osip_transaction_t *tr, const osip_message_t *resp, int status)
{
	unsigned int cseq = leg->local_cseq;

	if (tr != leg->ref_tr)
		return;
	osip_transaction_set_your_instance(tr, NULL);
	leg->ref_tr = NULL;
	if (resp != NULL)
		cseq = (unsigned int)msg_cseq(resp);
	if (status >= 200 && status < 300) {
		if (leg->ref_invite && resp != NULL) {
			char *ack;
			size_t len;

			/* ACK the 2xx of our re-INVITE; kept for its retransmissions. */
			ack = compose_request(leg, "ACK", leg->target, leg->remote_hdr, cseq, leg->routes,
			    NULL, NULL, &len);
			if (ack != NULL) {
				send_text(&leg->route, leg->call_id, ack, len);
				free(leg->re_ack);
				leg->re_ack = ack;
				leg->re_ack_len = len;
				leg->re_ack_cseq = cseq;
			}
		}
		if (resp != NULL)
			se_from_response(leg, resp);
		se_restart(leg, now_ms());
		return;
	}
	if (status == 491) {
		leg->se_next = now_ms() + 2000;     /* glare: try again */
		return;
	}
	log_call(LOG_LEVEL_NOTICE, leg->call_id, "sip: session refresh failed (%d): ending the call",
	    status);
	if (leg->state != LEG_TERMINATED)
		send_bye(leg, 102);
	leg_end(leg, status >= 300 ? status : 408, 0);
}

/* UAC: a 2xx from another fork than the one we keep: ACK it and end that
 * dialog with BYE (once per fork; a retransmission is only ACKed). */
static void
fork_end(struct sip_leg *leg, const osip_message_t *resp)
{
	const char *tag = from_tag(resp->to);
	struct sbuf rs = {0};
	osip_contact_t *c = NULL;
	char *to = NULL, *target = NULL, *routes, *text, *s = NULL, key[80];
	unsigned int cseq = (unsigned int)msg_cseq(resp);
	size_t len;
	int seen;

	if (tag == NULL || strlen(tag) > 64 || osip_to_to_str(resp->to, &to) != 0)
		return;
	snprintf(key, sizeof(key), " %s ", tag);
	seen = leg->fork_tags != NULL && strstr(leg->fork_tags, key) != NULL;
	if (osip_message_get_contact(resp, 0, &c) >= 0 && c != NULL && c->url != NULL)
		osip_uri_to_str(c->url, &target);
	for (int i = osip_list_size(&resp->record_routes) - 1; i >= 0; i--) {
		osip_record_route_t *rr = osip_list_get(&resp->record_routes, i);
		if (osip_record_route_to_str(rr, &s) == 0) {
			sb_printf(&rs, "Route: %s\r\n", s);
			osip_free(s);
		}
	}
	sb_printf(&rs, "%s", "");
	if ((routes = sb_done(&rs, NULL)) == NULL)
		goto out;
	text = compose_request(leg, "ACK", target != NULL ? target : leg->target, to, cseq, routes,
	    NULL, NULL, &len);
	if (text != NULL) {
		send_text(&leg->route, leg->call_id, text, len);
		free(text);
	}
	if (!seen) {
		char *n = NULL;

		log_call(LOG_LEVEL_INFO, leg->call_id, "sip: 2xx from another fork (tag %s): ACK and BYE",
		    tag);
		text = compose_request(leg, "BYE", target != NULL ? target : leg->target, to, cseq + 1,
		    routes, NULL, NULL, &len);
		if (text != NULL) {
			client_tx(text, len, &leg->route, NULL);
			free(text);
		}
		if (asprintf(&n, "%s%s ", leg->fork_tags != NULL ? leg->fork_tags : " ", tag) >= 0) {
			free(leg->fork_tags);
			leg->fork_tags = n;
		}
	}
	free(routes);
out:
	osip_free(to);
	osip_free(target);
}

/* ---- policy: trust and digest authentication -------------------------- */

static int
is_trusted(const struct addr *src)
{
	for (size_t i = 0; S.cfg != NULL && i < S.cfg->sip.n_trusted; i++) {
		if (cidr_match(&S.cfg->sip.trusted[i], src))
			return 1;
	}
	return 0;
}

static const struct cfg_user *
find_user(const char *name)
{
	for (size_t i = 0; S.cfg != NULL && name != NULL && i < S.cfg->n_users; i++) {
		if (S.cfg->users[i].name != NULL && strcmp(S.cfg->users[i].name, name) == 0)
			return &S.cfg->users[i];
	}
	return NULL;
}

/* A printable, bounded copy of a name for logs. */
static void
safe_name(const char *in, char *out, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < len && i < 64; i++)
		out[j++] = isgraph((unsigned char)in[i]) ? in[i] : '?';
	if (j == 0 && len > 1)
		out[j++] = '-';
	out[j] = '\0';
}

static char *
unquote(const char *s)
{
	return s != NULL ? osip_strdup_without_quote(s) : NULL;
}

/* Whether some [trunk] may authenticate to us (username and password). */
static int
trunk_can_auth(void)
{
	for (size_t i = 0; S.cfg != NULL && i < S.cfg->n_trunks; i++)
		if (S.cfg->trunks[i].username != NULL && S.cfg->trunks[i].password != NULL)
			return 1;
	return 0;
}

/* Authenticate req (INVITE, REGISTER) from `from`; sip_auth.c decides.
 * 0 with *user (the [user] name, caller frees) when it may go on.
 * Otherwise the answer is sent and EACCES returned: 403 without a
 * challenge to a blocked source, 401 with a challenge (stale=true for an
 * old nonce), or 403 to a failed attempt (logged for fail2ban, counted
 * towards blocking the source). `tag`: the To tag of the answer, or NULL
 * for a new one. */
static int
auth_gate(osip_transaction_t *tr, const osip_message_t *req, const struct sip_route *from,
          const char *tag, char **user, const struct cfg_trunk **trunk)
{
	const struct cfg_user *u = NULL;
	const char *reason = NULL;
	char *claimed = NULL, *extra = NULL, t[20];
	uint64_t ms = now_ms();
	enum sip_auth_result r;

	*user = NULL;
	if (tag == NULL) {
		random_hex(t, 8);
		tag = t;
	}
	if (sip_auth_blocked(&from->dst, ms) > 0) {
		tx_respond(tr, req, 403, tag, NULL, NULL);
		return EACCES;
	}
	r = sip_auth_check_trunk(req, &from->dst, S.cfg, now_sec(), &u, trunk, &claimed, &reason);
	switch (r) {
	case SIP_AUTH_OK:
		free(claimed);
		if (u == NULL)
			return 0;       /* a trunk, *trunk set */
		if ((*user = strdup(u->name)) == NULL) {
			tx_respond(tr, req, 503, tag, NULL, NULL);
			return ENOMEM;
		}
		return 0;
	case SIP_AUTH_NONE:
	case SIP_AUTH_STALE:
		extra = sip_auth_challenge(S.cfg, now_sec(), r == SIP_AUTH_STALE);
		tx_respond(tr, req, extra != NULL ? 401 : 500, tag, extra, NULL);
		free(extra);
		break;
	case SIP_AUTH_FAILED:
		S.stats.auth_failures++;
		sip_auth_failed(S.cfg, &from->dst, req->sip_method, claimed, reason, ms);
		tx_respond(tr, req, 403, tag, NULL, NULL);
		break;
	}
	free(claimed);
	return EACCES;
}

/* ---- incoming requests ------------------------------------------------ */

static void handle_reinvite(osip_event_t *evt, const struct sip_route *from);

static void
handle_invite(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	osip_transaction_t *tr;
	struct sip_leg *leg;
	struct sip_invite inv;
	const char *sdp;
	size_t sdp_len;
	char a[ADDR_STRLEN], *auth_user = NULL, tag[20];
	const struct cfg_trunk *trunk;
	int trusted;

	/* A re-INVITE (To tag): an offer within the dialog. */
	if (from_tag(req->to) != NULL) {
		handle_reinvite(evt, from);
		return;
	}
	/* A retransmission after our 2xx ended the server transaction. */
	TAILQ_FOREACH(leg, &S.legs, entry) {
		if (leg->role == LEG_UAS && streq(leg->call_id, msg_call_id(req)) &&
		    streq(leg->inv_branch, top_branch(req))) {
			if (leg->resp2xx != NULL && leg->state == LEG_ANSWERED)
				send_text(&leg->route, leg->call_id, leg->resp2xx, leg->resp2xx_len);
			osip_event_free(evt);
			return;
		}
	}
	if ((tr = server_tx(evt, from)) == NULL)
		return;
	tx_respond(tr, req, 100, NULL, NULL, NULL);
	if (!S.accepting) {
		tx_respond(tr, req, 503, NULL, NULL, NULL);
		return;
	}
	{
		/* [general] max_call_attempts_per_second, trusted sources too */
		unsigned int retry = sip_auth_attempt(S.cfg, now_ms());
		char line[40];

		if (retry > 0) {
			snprintf(line, sizeof(line), "Retry-After: %u\r\n", retry);
			tx_respond(tr, req, 503, NULL, line, NULL);
			return;
		}
	}
	if (msg_sdp(req, &sdp, &sdp_len) != 0) {
		tx_respond(tr, req, 415, NULL, "Accept: application/sdp\r\n", NULL);
		return;
	}
	if (req->req_uri == NULL || req->req_uri->username == NULL || req->req_uri->username[0] == '\0') {
		tx_respond(tr, req, 404, NULL, NULL, NULL);
		return;
	}
	{
		char ubuf[64], line[128];
		unsigned int se;
		enum se_refresher ref;

		if (unsupported_require(req, ubuf, sizeof(ubuf)) != NULL) {
			snprintf(line, sizeof(line), "Unsupported: %s\r\n", ubuf);
			tx_respond(tr, req, 420, NULL, line, NULL);
			return;
		}
		/* RFC 4028: an interval below our Min-SE. */
		if (msg_session_expires(req, &se, &ref) == 0 && se < cfg_min_se()) {
			snprintf(line, sizeof(line), "Min-SE: %u\r\n", cfg_min_se());
			random_hex(tag, 8);
			tx_respond(tr, req, 422, tag, line, NULL);
			return;
		}
	}
	trusted = is_trusted(&from->dst);
	/* A trunk's source needs no authentication; otherwise a [user], or a
	 * [trunk] by its username, must authenticate. */
	trunk = trusted ? NULL : sip_trunk_match(S.cfg, &from->dst);
	if (!trusted && trunk == NULL) {
		if (S.cfg == NULL || (S.cfg->n_users == 0 && !trunk_can_auth())) {
			log_limited(&S.rl_auth, LOG_LEVEL_NOTICE, "sip: INVITE from untrusted %s refused",
			    addr_str(&from->dst, a, sizeof(a)));
			tx_respond(tr, req, 403, NULL, NULL, NULL);
			return;
		}
		if (auth_gate(tr, req, from, NULL, &auth_user, &trunk) != 0)
			return;
	}
	/* Only a number goes on to routing (a trusted caller's Request-URI
	 * user is not filtered elsewhere): 484 for anything else. */
	if (strspn(req->req_uri->username, "0123456789*#+") != strlen(req->req_uri->username)) {
		char u[80];

		safe_name(req->req_uri->username, u, sizeof(u));
		log_limited(&S.rl_bad, LOG_LEVEL_NOTICE, "sip: INVITE from %s to '%s': not a "
		    "number: 484", addr_str(&from->dst, a, sizeof(a)), u);
		free(auth_user);
		tx_respond(tr, req, 484, NULL, NULL, NULL);
		return;
	}
	if ((leg = calloc(1, sizeof(*leg))) == NULL) {
		free(auth_user);
		tx_respond(tr, req, 503, NULL, NULL, NULL);
		return;
	}
	TAILQ_INSERT_TAIL(&S.legs, leg, entry);
	leg->role = LEG_UAS;
	leg->route = *from;
	leg->source = from->dst;
	leg->trusted = trusted;
	leg->auth_user = auth_user;
	if (trunk != NULL)
		leg->trunk = strdup(trunk->name);
	leg->inv_tr = tr;
	osip_transaction_set_your_instance(tr, leg);
	random_hex(tag, 8);
	leg->local_tag = strdup(tag);
	leg->call_id = xstrdup(msg_call_id(req));
	leg->remote_tag = xstrdup(from_tag(req->from) != NULL ? from_tag(req->from) : "");
	leg->inv_branch = xstrdup(top_branch(req));
	leg->called = xstrdup(req->req_uri->username);
	leg->calling = xstrdup(req->from->url != NULL && req->from->url->username != NULL ?
	    req->from->url->username : "");
	if (req->from->displayname != NULL)
		leg->calling_name = unquote(req->from->displayname);
	/* RFC 3325: an asserted identity counts from a trusted source only. */
	if (trusted || trunk != NULL)
		leg->asserted = msg_header_user(req, "p-asserted-identity");
	leg->diversion = msg_header_user(req, "diversion");
	leg->privacy_id = msg_privacy_id(req);
	leg_set_sdp(leg, sdp, sdp_len);
	{
		char *s = NULL;
		osip_contact_t *c = NULL;
		struct sbuf rs = {0};

		if (osip_to_to_str(req->to, &s) == 0) {
			if (asprintf(&leg->local_hdr, "%s;tag=%s", s, tag) < 0)
				leg->local_hdr = NULL;
			osip_free(s);
		}
		if (osip_from_to_str(req->from, &s) == 0) {
			leg->remote_hdr = strdup(s);
			osip_free(s);
		}
		if (osip_message_get_contact(req, 0, &c) >= 0 && c != NULL && c->url != NULL &&
		    osip_uri_to_str(c->url, &s) == 0) {
			leg->target = strdup(s);
			osip_free(s);
		} else if (req->from->url != NULL && osip_uri_to_str(req->from->url, &s) == 0) {
			leg->target = strdup(s);
			osip_free(s);
		}
		for (int i = 0; i < osip_list_size(&req->record_routes); i++) {
			osip_record_route_t *rr = osip_list_get(&req->record_routes, i);
			if (osip_record_route_to_str(rr, &s) == 0) {
				sb_printf(&rs, "Route: %s\r\n", s);
				osip_free(s);
			}
		}
		sb_printf(&rs, "%s", "");
		leg->routes = sb_done(&rs, NULL);
	}
	if (osip_message_clone(req, &leg->invite) != 0)
		leg->invite = NULL;
	if (leg->local_tag == NULL || leg->call_id == NULL || leg->remote_tag == NULL ||
	    leg->called == NULL || leg->calling == NULL || leg->local_hdr == NULL ||
	    leg->remote_hdr == NULL || leg->target == NULL || leg->routes == NULL ||
	    leg->invite == NULL || leg->inv_branch == NULL || (trunk != NULL && leg->trunk == NULL)) {
		log_call(LOG_LEVEL_WARN, msg_call_id(req), "sip: out of memory for a new dialog");
		leg->closed = 1;
		tx_respond(tr, req, 503, NULL, NULL, NULL);
		leg_detach_tr(leg);
		return;
	}
	if (!dialog_usable(leg)) {
		S.stats.bad_requests++;
		log_limited(&S.rl_bad, LOG_LEVEL_WARN, "sip: bad message from %s: %s",
		    addr_str(&from->dst, a, sizeof(a)), "Bad Contact or Record-Route");
		leg->closed = 1;
		tx_respond(tr, req, 400, NULL, NULL, NULL);
		leg_detach_tr(leg);
		return;
	}
	leg->remote_cseq = (unsigned int)msg_cseq(req);
	leg->peer_100rel = msg_has_option(req, "require", NULL, "100rel") ||
	    msg_has_option(req, "supported", "k", "100rel");
	leg->peer_timer = msg_has_option(req, "require", NULL, "timer") ||
	    msg_has_option(req, "supported", "k", "timer");
	leg->peer_update = msg_allows(req, "UPDATE");
	leg->peer_min_se = (unsigned int)msg_header_num(req, "min-se");
	se_from_request(leg, req, 1);
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INVITE from %s to %s, calling %s%s%s%s%s",
	    addr_str(&from->dst, a, sizeof(a)), leg->called, leg->calling,
	    trusted ? " (trusted)" : "", leg->auth_user != NULL ? " (authenticated)" : "",
	    leg->trunk != NULL ? " trunk " : "", leg->trunk != NULL ? leg->trunk : "");
	if (S.invite_cb == NULL) {
		sip_leg_hangup(leg, 503, 0);
		return;
	}
	memset(&inv, 0, sizeof(inv));
	inv.leg = leg;
	inv.call_id = leg->call_id;
	inv.called = leg->called;
	inv.calling = leg->calling;
	inv.calling_name = leg->calling_name;
	inv.asserted = leg->asserted;
	inv.diversion = leg->diversion;
	inv.privacy_id = leg->privacy_id;
	inv.auth_user = leg->auth_user;
	inv.trunk = leg->trunk;
	inv.trusted = leg->trusted;
	inv.source = leg->source;
	inv.sdp = leg->sdp;
	inv.sdp_len = leg->sdp_len;
	S.invite_cb(S.invite_arg, &inv);
}

/* Hand an offer of the peer (or NULL: it asks for ours) to the owner.
 * 0 with the answer in buf, or the status to refuse with. */
static int
dialog_offer(struct sip_leg *leg, const char *sdp, size_t len, char *buf, size_t buflen)
{
	int r;

	if (leg->closed || leg->cbs == NULL || leg->cbs->reoffer == NULL)
		return 488;
	buf[0] = '\0';
	r = leg->cbs->reoffer(leg->owner, sdp, len, buf, buflen);
	if (r != 0)
		return r >= 400 && r <= 699 ? r : 500;
	if (buf[0] == '\0')
		return 500;
	free(leg->local_sdp);
	leg->local_sdp = strdup(buf);
	if (sdp != NULL)
		leg_set_sdp(leg, sdp, len);
	return 0;
}

/* Checks common to the peer's requests within a dialog: 0 when the request
 * may go on (and its CSeq is taken), or the status to answer. */
static int
dialog_request_check(struct sip_leg *leg, const osip_message_t *req)
{
	unsigned long cseq = msg_cseq(req);

	if (leg == NULL || leg->closed || leg->state == LEG_TERMINATED)
		return 481;
	if (leg->remote_cseq != 0 && cseq <= leg->remote_cseq)
		return 500;
	leg->remote_cseq = (unsigned int)cseq;
	return 0;
}

static char *
dialog_answer_extra(struct sip_leg *leg)
{
	char se[128], *contact = contact_line(leg, leg->role == LEG_UAS ? leg->called : leg->calling);
	char *s = NULL;

	if (contact == NULL)
		return NULL;
	if (asprintf(&s, "%sAllow: " SIP_ALLOW "\r\nSupported: " SIP_SUPPORTED "\r\n%s", contact,
	    se_response_lines(leg, se, sizeof(se))) < 0)
		s = NULL;
	free(contact);
	return s;
}

/* A re-INVITE of the peer: hold, resume, a new address or codec, or a
 * session refresh. The 2xx is retransmitted until the ACK. */
static void
handle_reinvite(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	struct sip_leg *leg = find_dialog(req);
	osip_transaction_t *tr;
	const char *sdp;
	size_t sdp_len, len;
	char answer[2048], *extra = NULL, *text;
	int status;

	/* A retransmission after our 2xx ended the server transaction. */
	if (leg != NULL && leg->re2xx.msg != NULL && msg_cseq(req) == leg->re_cseq) {
		if (leg->re2xx.active)
			send_text(&leg->route, leg->call_id, leg->re2xx.msg, leg->re2xx.len);
		osip_event_free(evt);
		return;
	}
	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if (leg != NULL && !leg->closed && (leg->state < LEG_CONFIRMED || leg->re2xx.active)) {
		/* The previous INVITE is not done yet (RFC 3261 14.2). */
		tx_respond(tr, req, 500, NULL, "Retry-After: 1\r\n", NULL);
		return;
	}
	if (leg != NULL && !leg->closed && leg->ref_tr != NULL && leg->ref_invite) {
		tx_respond(tr, req, 491, NULL, NULL, NULL);     /* glare */
		return;
	}
	if ((status = dialog_request_check(leg, req)) != 0) {
		tx_respond(tr, req, status, NULL, NULL, NULL);
		return;
	}
	if (msg_sdp(req, &sdp, &sdp_len) != 0) {
		tx_respond(tr, req, 415, NULL, "Accept: application/sdp\r\n", NULL);
		return;
	}
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: re-INVITE%s", sdp == NULL ? " without an offer" : "");
	if ((status = dialog_offer(leg, sdp, sdp_len, answer, sizeof(answer))) != 0) {
		log_call(LOG_LEVEL_NOTICE, leg->call_id, "sip: re-INVITE refused: %d", status);
		tx_respond(tr, req, status, NULL, NULL, NULL);
		return;
	}
	se_from_request(leg, req, 0);
	if ((extra = dialog_answer_extra(leg)) == NULL ||
	    (text = build_response(req, 200, NULL, NULL, extra, answer, &len)) == NULL) {
		free(extra);
		tx_respond(tr, req, 500, NULL, NULL, NULL);
		return;
	}
	free(extra);
	if (tx_send_text(tr, text, len) != 0) {
		free(text);
		return;
	}
	leg->re_cseq = (unsigned int)msg_cseq(req);
	leg->re_no_offer = sdp == NULL;
	rtx_start(&leg->re2xx, text, len, 1, now_ms());
	se_restart(leg, now_ms());
}

/* UPDATE (RFC 3311): an offer or a session refresh, answered at once. */
static void
handle_update(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	struct sip_leg *leg = find_dialog(req);
	osip_transaction_t *tr;
	const char *sdp;
	size_t sdp_len;
	char answer[2048], *extra;
	int status;

	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if ((status = dialog_request_check(leg, req)) != 0) {
		tx_respond(tr, req, status, NULL, NULL, NULL);
		return;
	}
	if (msg_sdp(req, &sdp, &sdp_len) != 0) {
		tx_respond(tr, req, 415, NULL, "Accept: application/sdp\r\n", NULL);
		return;
	}
	if (sdp != NULL) {
		if (leg->state < LEG_CONFIRMED || (leg->ref_tr != NULL && leg->ref_invite)) {
			tx_respond(tr, req, leg->state < LEG_CONFIRMED ? 500 : 491, NULL,
			    leg->state < LEG_CONFIRMED ? "Retry-After: 1\r\n" : NULL, NULL);
			return;
		}
		log_call(LOG_LEVEL_INFO, leg->call_id, "sip: UPDATE with an offer");
		if ((status = dialog_offer(leg, sdp, sdp_len, answer, sizeof(answer))) != 0) {
			tx_respond(tr, req, status, NULL, NULL, NULL);
			return;
		}
	} else {
		log_call(LOG_LEVEL_DEBUG, leg->call_id, "sip: UPDATE (session refresh)");
	}
	se_from_request(leg, req, 0);
	if ((extra = dialog_answer_extra(leg)) == NULL) {
		tx_respond(tr, req, 500, NULL, NULL, NULL);
		return;
	}
	tx_respond(tr, req, 200, NULL, extra, sdp != NULL ? answer : NULL);
	free(extra);
	if (leg->state == LEG_CONFIRMED)
		se_restart(leg, now_ms());
}

/* PRACK (RFC 3262) for our reliable provisional response. */
static void
handle_prack(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	struct sip_leg *leg = find_dialog(req);
	osip_transaction_t *tr;
	const char *rack = msg_header(req, "rack", NULL);
	unsigned long rseq = 0, cseq = 0;
	char method[16] = "";

	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if (rack != NULL && sscanf(rack, "%lu %lu %15s", &rseq, &cseq, method) != 3)
		rseq = 0;
	if (leg == NULL || leg->role != LEG_UAS || leg->rseq == 0 || rseq != leg->rseq ||
	    cseq != msg_cseq(leg->invite) || strcasecmp(method, "INVITE") != 0) {
		tx_respond(tr, req, 481, NULL, NULL, NULL);
		return;
	}
	tx_respond(tr, req, 200, NULL, NULL, NULL);
	if (!leg->rel1xx.active)
		return;             /* a retransmitted PRACK */
	leg->rel1xx.active = 0;
	log_call(LOG_LEVEL_DEBUG, leg->call_id, "sip: PRACK for RSeq %lu", rseq);
	if (leg->held_2xx) {
		char *sdp = leg->held_sdp;

		pump();         /* the 200 for the PRACK goes first */
		leg->held_2xx = 0;
		leg->held_sdp = NULL;
		sip_leg_respond(leg, 200, sdp, 0);
		free(sdp);
	}
}

/* INFO: DTMF as application/dtmf-relay; an empty INFO is a keep-alive. */
static void
handle_info(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	struct sip_leg *leg = find_dialog(req);
	osip_transaction_t *tr;
	osip_body_t *b = NULL;
	unsigned int ms;
	char digit, a[ADDR_STRLEN];
	int status, r;

	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if ((status = dialog_request_check(leg, req)) != 0) {
		tx_respond(tr, req, status, NULL, NULL, NULL);
		return;
	}
	if (osip_list_size(&req->bodies) <= 0 || osip_message_get_body(req, 0, &b) < 0 || b == NULL ||
	    b->body == NULL || b->length == 0) {
		tx_respond(tr, req, 200, NULL, NULL, NULL);
		return;
	}
	if (req->content_type == NULL || req->content_type->type == NULL ||
	    req->content_type->subtype == NULL ||
	    strcasecmp(req->content_type->type, "application") != 0 ||
	    strcasecmp(req->content_type->subtype, "dtmf-relay") != 0) {
		tx_respond(tr, req, 415, NULL, "Accept: application/dtmf-relay\r\n", NULL);
		return;
	}
	if (parse_dtmf_relay(b->body, b->length, &digit, &ms) != 0) {
		S.stats.bad_requests++;
		log_limited(&S.rl_bad, LOG_LEVEL_WARN, "sip: bad dtmf-relay INFO from %s",
		    addr_str(&from->dst, a, sizeof(a)));
		tx_respond(tr, req, 400, NULL, NULL, NULL);
		return;
	}
	r = leg->cbs != NULL && leg->cbs->dtmf != NULL ? leg->cbs->dtmf(leg->owner, digit, ms) : ENOTSUP;
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INFO DTMF %c %u ms%s", digit, ms,
	    r == 0 ? "" : r == ENOTSUP ? " refused (dtmf_info is off)" : " failed");
	tx_respond(tr, req, r == 0 ? 200 : r == ENOTSUP ? 415 : 500, NULL, NULL, NULL);
}

static void
handle_ack(osip_message_t *req)
{
	struct sip_leg *leg = find_dialog(req);
	const char *sdp;
	size_t len;

	if (leg != NULL && leg->re2xx.msg != NULL && msg_cseq(req) == leg->re_cseq &&
	    leg->state == LEG_CONFIRMED) {
		/* The ACK of our 2xx to a re-INVITE; with the answer when the
		 * re-INVITE had no offer. */
		if (leg->re2xx.active) {
			leg->re2xx.active = 0;
			if (leg->re_no_offer && msg_sdp(req, &sdp, &len) == 0 && sdp != NULL &&
			    !leg->closed && leg->cbs != NULL && leg->cbs->reoffer != NULL) {
				leg_set_sdp(leg, sdp, len);
				leg->cbs->reoffer(leg->owner, leg->sdp, leg->sdp_len, NULL, 0);
			}
		}
		return;
	}
	if (leg == NULL || leg->role != LEG_UAS) {
		log_call(LOG_LEVEL_DEBUG, msg_call_id(req), "sip: ACK for no dialog dropped");
		return;
	}
	if (leg->state != LEG_ANSWERED)
		return;             /* a retransmitted ACK */
	leg->rtx_active = 0;
	if (msg_sdp(req, &sdp, &len) == 0 && sdp != NULL)
		leg_set_sdp(leg, sdp, len);
	leg_set_state(leg, LEG_CONFIRMED);
	if (leg->bye_pending) {
		send_bye(leg, 0);
		return;
	}
	if (!leg->closed && leg->cbs != NULL && leg->cbs->confirmed != NULL)
		leg->cbs->confirmed(leg->owner);
}

static void
handle_bye(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	struct sip_leg *leg = find_dialog(req);
	osip_transaction_t *tr;
	int q850 = msg_q850(req);

	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if (leg == NULL || leg->state == LEG_TERMINATED) {
		tx_respond(tr, req, 481, NULL, NULL, NULL);
		return;
	}
	tx_respond(tr, req, 200, NULL, NULL, NULL);
	if (leg->role == LEG_UAS && leg->state < LEG_ANSWERED && leg->inv_tr != NULL) {
		tx_respond(leg->inv_tr, leg->invite, 487, leg->local_tag, NULL, NULL);
		leg_detach_tr(leg);
	}
	leg->rtx_active = 0;
	leg->bye_pending = 0;
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: BYE received (cause %d)", q850);
	leg_end(leg, 0, q850);
}

static void
handle_cancel(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	const char *branch = top_branch(req);
	osip_transaction_t *tr;
	struct sip_leg *leg;
	int q850 = msg_q850(req);

	TAILQ_FOREACH(leg, &S.legs, entry) {
		if (leg->role == LEG_UAS && streq(leg->call_id, msg_call_id(req)) &&
		    streq(leg->inv_branch, branch))
			break;
	}
	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if (leg == NULL) {
		tx_respond(tr, req, 481, NULL, NULL, NULL);
		return;
	}
	tx_respond(tr, req, 200, NULL, NULL, NULL);
	if (leg->state >= LEG_ANSWERED || leg->inv_tr == NULL)
		return;             /* too late: the final response is out */
	tx_respond(leg->inv_tr, leg->invite, 487, leg->local_tag, NULL, NULL);
	leg_detach_tr(leg);
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: CANCEL received (cause %d)", q850);
	leg_end(leg, 0, q850);
}

/* REGISTER: always authenticated, from any source (the [sip] trusted
 * networks included); the To user must be the authenticated [user] or one
 * of its numbers. The registrar (sip_registrar.c) does the rest. */
static void
handle_register(osip_transaction_t *tr, osip_message_t *req, const struct sip_route *from)
{
	const struct cfg_user *u;
	const char *aor;
	char a[ADDR_STRLEN], name[80], tag[20], *auth_user = NULL, *extra = NULL;
	int status, ok = 0;

	random_hex(tag, 8);
	if (auth_gate(tr, req, from, tag, &auth_user, NULL) != 0)
		goto out;
	u = find_user(auth_user);
	aor = req->to != NULL && req->to->url != NULL ? req->to->url->username : NULL;
	for (size_t i = 0; u != NULL && aor != NULL && i < u->numbers.n; i++)
		ok |= strcmp(u->numbers.v[i], aor) == 0;
	if (u == NULL || aor == NULL || !(ok || strcmp(aor, u->name) == 0)) {
		safe_name(aor, name, sizeof(name));
		log_limited(&S.rl_auth, LOG_LEVEL_NOTICE, "sip: REGISTER from %s: user %s may not register %s",
		    addr_str(&from->dst, a, sizeof(a)), auth_user, name);
		tx_respond(tr, req, 403, tag, NULL, NULL);
		goto out;
	}
	status = sip_registrar_register(req, from, u->name, &extra);
	tx_respond(tr, req, status, tag, extra, NULL);
out:
	free(extra);
	free(auth_user);
}

static void
handle_other(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	osip_transaction_t *tr;
	const char *m = req->sip_method;

	if ((tr = server_tx(evt, from)) == NULL)
		return;
	if (strcmp(m, "OPTIONS") == 0) {
		if (!S.accepting)
			tx_respond(tr, req, 503, NULL, NULL, NULL);
		else
			tx_respond(tr, req, 200, NULL,
			    "Allow: " SIP_ALLOW "\r\nAccept: application/sdp\r\n"
			    "Supported: " SIP_SUPPORTED "\r\n", NULL);
	} else if (strcmp(m, "REGISTER") == 0) {
		handle_register(tr, req, from);
	} else {
		tx_respond(tr, req, 501, NULL, "Allow: " SIP_ALLOW "\r\n", NULL);
	}
}

/* A 2xx to our INVITE after the client transaction ended: resend the ACK. */
static void
handle_stray_response(osip_message_t *resp)
{
	struct sip_leg *leg;

	if (!MSG_IS_STATUS_2XX(resp) || resp->cseq == NULL || resp->cseq->method == NULL ||
	    strcmp(resp->cseq->method, "INVITE") != 0)
		return;
	TAILQ_FOREACH(leg, &S.legs, entry) {
		if (!streq(leg->call_id, msg_call_id(resp)) || !streq(leg->local_tag, from_tag(resp->from)))
			continue;
		if (leg->re_ack != NULL && msg_cseq(resp) == leg->re_ack_cseq &&
		    streq(leg->remote_tag, from_tag(resp->to))) {
			/* A retransmitted 2xx of our re-INVITE. */
			send_text(&leg->route, leg->call_id, leg->re_ack, leg->re_ack_len);
			return;
		}
		if (leg->role != LEG_UAC || leg->ack == NULL)
			continue;
		if (leg->state >= LEG_CONFIRMED && !streq(leg->remote_tag, from_tag(resp->to)) &&
		    msg_cseq(resp) == msg_cseq(leg->invite))
			fork_end(leg, resp);
		else
			send_text(&leg->route, leg->call_id, leg->ack, leg->ack_len);
		return;
	}
}

/* The first missing mandatory header of a request, or NULL. */
static const char *
missing_header(const osip_message_t *m)
{
	if (osip_list_size(&m->vias) <= 0)
		return "Via";
	if (m->from == NULL)
		return "From";
	if (m->to == NULL)
		return "To";
	if (m->call_id == NULL || m->call_id->number == NULL)
		return "Call-ID";
	if (m->cseq == NULL || m->cseq->number == NULL || m->cseq->method == NULL)
		return "CSeq";
	return NULL;
}

/* RFC 3581: record where the request really came from. */
static void
fix_via(osip_message_t *m, const struct sip_route *from)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);
	osip_generic_param_t *p = NULL;
	char ip[ADDR_STRLEN], port[8];

	if (via == NULL)
		return;
	addr_ip_str(&from->dst, ip, sizeof(ip));
	snprintf(port, sizeof(port), "%u", addr_port(&from->dst));
	if (osip_via_param_get_byname(via, "received", &p) == 0 && p != NULL) {
		osip_free(p->gvalue);
		p->gvalue = osip_strdup(ip);
	} else {
		osip_via_set_received(via, osip_strdup(ip));
	}
	p = NULL;
	if (osip_via_param_get_byname(via, "rport", &p) == 0 && p != NULL) {
		osip_free(p->gvalue);
		p->gvalue = osip_strdup(port);
	}
	osip_message_force_update(m);
}

/* libosip2 parses some values that it does not write back in a form it
 * parses again (a host with a ':' and an empty port: "[h:x]:"). A request
 * whose responses cannot be composed would leave its server transaction
 * without a response, for ever: check that it can be answered at all. */
static int
answerable(const osip_message_t *req)
{
	osip_message_t *m = NULL;
	size_t len;
	char *text = build_response(req, 400, NULL, "t", NULL, NULL, &len);
	int ok = 0;

	if (text != NULL && osip_message_init(&m) == 0) {
		ok = osip_message_parse(m, text, len) == 0;
		osip_message_free(m);
	}
	free(text);
	return ok;
}

static const char *
malformed_reason(const char *buf, size_t len)
{
	if (len < 12)
		return "too short";
	if (memmem(buf, len, "SIP/2.0", 7) == NULL)
		return "not SIP/2.0";
	if (memmem(buf, len, "\r\n\r\n", 4) == NULL && memmem(buf, len, "\n\n", 2) == NULL)
		return "truncated header";
	return "parse error";
}

void
sip_receive(const struct sip_route *from, const char *buf, size_t len)
{
	osip_event_t *evt;
	osip_message_t *m;
	const char *missing;
	char a[ADDR_STRLEN];

	S.stats.rx_msgs++;
	evt = osip_parse(buf, len);
	if (evt == NULL || evt->sip == NULL) {
		S.stats.malformed++;
		log_limited(&S.rl_bad, LOG_LEVEL_WARN, "sip: malformed message from %s: %s",
		    addr_str(&from->dst, a, sizeof(a)), malformed_reason(buf, len));
		if (evt != NULL)
			osip_event_free(evt);
		return;
	}
	m = evt->sip;
	log_msg_line("<", msg_call_id(m), buf, len, from);
	if ((missing = missing_header(m)) != NULL ||
	    (MSG_IS_REQUEST(m) && strcmp(m->cseq->method, m->sip_method) != 0 &&
	     !(MSG_IS_ACK(m) && strcmp(m->cseq->method, "ACK") == 0))) {
		char reason[64];

		S.stats.bad_requests++;
		snprintf(reason, sizeof(reason), missing != NULL ? "Missing %s Header" : "CSeq Method Mismatch",
		    missing);
		log_limited(&S.rl_bad, LOG_LEVEL_WARN, "sip: bad message from %s: %s",
		    addr_str(&from->dst, a, sizeof(a)), reason);
		if (MSG_IS_REQUEST(m) && !MSG_IS_ACK(m) && osip_list_size(&m->vias) > 0) {
			fix_via(m, from);
			respond_stateless(m, from, 400, reason);
		}
		osip_event_free(evt);
		return;
	}
	if (MSG_IS_REQUEST(m))
		fix_via(m, from);
	if (MSG_IS_REQUEST(m) && !MSG_IS_ACK(m) && !answerable(m)) {
		S.stats.malformed++;
		log_limited(&S.rl_bad, LOG_LEVEL_WARN, "sip: malformed message from %s: %s",
		    addr_str(&from->dst, a, sizeof(a)), "headers that cannot be answered");
		osip_event_free(evt);
		return;
	}
	if (osip_find_transaction_and_add_event(S.osip, evt) == 0) {
		pump();
		return;
	}
	if (MSG_IS_RESPONSE(m)) {
		handle_stray_response(m);
		osip_event_free(evt);
	} else if (MSG_IS_INVITE(m)) {
		handle_invite(evt, from);
	} else if (MSG_IS_ACK(m)) {
		handle_ack(m);
		osip_event_free(evt);
	} else if (MSG_IS_BYE(m)) {
		handle_bye(evt, from);
	} else if (MSG_IS_CANCEL(m)) {
		handle_cancel(evt, from);
	} else if (MSG_IS_UPDATE(m)) {
		handle_update(evt, from);
	} else if (MSG_IS_PRACK(m)) {
		handle_prack(evt, from);
	} else if (MSG_IS_INFO(m)) {
		handle_info(evt, from);
	} else {
		handle_other(evt, from);
	}
	pump();
}

/* ---- libosip2 callbacks (client transactions, kills) ------------------- */

static struct sip_leg *
tr_leg(osip_transaction_t *tr)
{
	return osip_transaction_get_your_instance(tr);
}

/* The route set of a dialog from the Record-Route of m, as "Route: ...\r\n"
 * lines (reversed for the UAC, RFC 3261 12.1.2), "" when none; NULL when
 * out of memory. Caller frees. */
static char *
route_lines(const osip_message_t *m, int reverse)
{
	struct sbuf rs = {0};
	int n = osip_list_size(&m->record_routes);
	char *s = NULL;

	for (int i = 0; i < n; i++) {
		osip_record_route_t *rr = osip_list_get(&m->record_routes, reverse ? n - 1 - i : i);

		if (osip_record_route_to_str(rr, &s) == 0) {
			sb_printf(&rs, "Route: %s\r\n", s);
			osip_free(s);
		}
	}
	sb_printf(&rs, "%s", "");
	return sb_done(&rs, NULL);
}

/* UAC, RFC 3262: a provisional response with Require: 100rel and an
 * RSeq gets a PRACK in its early dialog (to its Contact, along its
 * Record-Route, To with its tag). 0 when it is new (PRACKed now), EEXIST
 * when it is a retransmission (already PRACKed; not to be reported
 * again), ENOENT when it is not reliable. */
static int
uac_prack(struct sip_leg *leg, const osip_message_t *resp)
{
	osip_contact_t *c = NULL;
	char *target = NULL, *to = NULL, *routes = NULL, *text = NULL, *s = NULL, rack[64];
	unsigned long rseq = msg_header_num(resp, "rseq");
	size_t len;
	int error = ENOMEM;

	if (!msg_has_option(resp, "require", NULL, "100rel") || rseq == 0 || resp->cseq == NULL ||
	    resp->cseq->number == NULL)
		return ENOENT;
	if (leg->prack_rseq != 0 && rseq <= leg->prack_rseq)
		return EEXIST;
	if (osip_message_get_contact((osip_message_t *)resp, 0, &c) >= 0 && c != NULL &&
	    c->url != NULL && osip_uri_to_str(c->url, &s) == 0) {
		target = strdup(s);
		osip_free(s);
	} else {
		target = xstrdup(leg->target);
	}
	if (resp->to != NULL && osip_to_to_str(resp->to, &s) == 0) {
		to = strdup(s);
		osip_free(s);
	}
	routes = route_lines(resp, 1);
	if (target == NULL || to == NULL || routes == NULL)
		goto out;
	snprintf(rack, sizeof(rack), "RAck: %lu %s INVITE\r\n", rseq, resp->cseq->number);
	if ((text = compose_request(leg, "PRACK", target, to, ++leg->local_cseq, routes, rack,
	    NULL, &len)) == NULL)
		goto out;
	if ((error = client_tx(text, len, &leg->route, NULL)) != 0)
		goto out;
	leg->prack_rseq = (unsigned int)rseq;
	log_call(LOG_LEVEL_DEBUG, leg->call_id, "sip: PRACK for %d RSeq %lu", resp->status_code,
	    rseq);
out:
	free(target);
	free(to);
	free(routes);
	free(text);
	return error;
}

static void
sip_cb_ict_1xx(int type, osip_transaction_t *tr, osip_message_t *resp)
{
	struct sip_leg *leg = tr_leg(tr);
	const char *sdp;
	size_t len;

	if (leg == NULL || tr == leg->ref_tr)
		return;
	leg->got_1xx = 1;
	if (leg->closed) {
		if (leg->cancel_pending)
			send_cancel(leg, leg->cancel_q850);
		return;
	}
	if (resp->status_code <= 100)
		return;
	if (uac_prack(leg, resp) == EEXIST)
		return;         /* a retransmitted reliable 1xx */
	leg_set_state(leg, LEG_EARLY);
	if (msg_sdp(resp, &sdp, &len) == 0 && sdp != NULL)
		leg_set_sdp(leg, sdp, len);
	else
		sdp = NULL;
	if (leg->cbs != NULL && leg->cbs->progress != NULL)
		leg->cbs->progress(leg->owner, resp->status_code, sdp != NULL ? leg->sdp : NULL,
		    sdp != NULL ? leg->sdp_len : 0);
}

/* Build and send the ACK for a 2xx; learn the dialog from the response. */
static int
uac_ack(struct sip_leg *leg, const osip_message_t *resp)
{
	struct sbuf sb = {0};
	struct addr local;
	osip_contact_t *c = NULL;
	char a[ADDR_STRLEN], branch[40], *s = NULL;
	char *old_target = leg->target, *old_routes = leg->routes;
	const char *tag = from_tag(resp->to);

	free(leg->remote_tag);
	leg->remote_tag = xstrdup(tag != NULL ? tag : "");
	if (osip_to_to_str(resp->to, &s) == 0) {
		free(leg->remote_hdr);
		leg->remote_hdr = strdup(s);
		osip_free(s);
	}
	if (osip_message_get_contact(resp, 0, &c) >= 0 && c != NULL && c->url != NULL &&
	    osip_uri_to_str(c->url, &s) == 0) {
		leg->target = strdup(s);
		osip_free(s);
	}
	leg->routes = route_lines(resp, 1);
	if (leg->target != NULL && leg->routes != NULL && !dialog_usable(leg)) {
		/* Keep sending to where our INVITE went. */
		log_limited(&S.rl_bad, LOG_LEVEL_WARN, "sip: bad Contact, Record-Route or To in a %d",
		    resp->status_code);
		S.stats.bad_requests++;
		if (leg->target != old_target)
			free(leg->target);
		free(leg->routes);
		leg->target = old_target;
		leg->routes = old_routes;
		/* A To that cannot be written back: ours, with their tag if it
		 * can be, else without (a BYE the peer may refuse beats none). */
		for (int t = 1; t >= 0 && leg->invite != NULL && leg->remote_tag != NULL &&
		    !dialog_usable(leg); t--) {
			char *h = NULL;

			if (osip_to_to_str(leg->invite->to, &s) != 0)
				break;
			if (asprintf(&h, "%s%s%s", s, t && *leg->remote_tag ? ";tag=" : "",
			    t ? leg->remote_tag : "") < 0)
				h = NULL;
			osip_free(s);
			if (h == NULL)
				break;
			free(leg->remote_hdr);
			leg->remote_hdr = h;
		}
	} else {
		if (leg->target != old_target)
			free(old_target);
		free(old_routes);
	}
	if (leg->remote_tag == NULL || leg->remote_hdr == NULL || leg->target == NULL ||
	    leg->routes == NULL)
		return ENOMEM;
	if (sip_transport_local(&leg->route, &local) != 0)
		return ENOTCONN;
	memcpy(branch, "z9hG4bK", 7);
	random_hex(branch + 7, 12);
	sb_printf(&sb, "ACK %s SIP/2.0\r\n", leg->target);
	sb_printf(&sb, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", proto_name(leg->route.proto),
	    addr_str(&local, a, sizeof(a)), branch);
	sb_printf(&sb, "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s ACK\r\n",
	    leg->local_hdr, leg->remote_hdr, leg->call_id, resp->cseq->number);
	sb_printf(&sb, "%sUser-Agent: %s\r\nContent-Length: 0\r\n\r\n", leg->routes, user_agent());
	free(leg->ack);
	if ((leg->ack = sb_done(&sb, &leg->ack_len)) == NULL)
		return ENOMEM;
	return send_text(&leg->route, leg->call_id, leg->ack, leg->ack_len);
}

static void
sip_cb_ict_2xx(int type, osip_transaction_t *tr, osip_message_t *resp)
{
	struct sip_leg *leg = tr_leg(tr);
	const char *sdp;
	size_t len;

	if (leg == NULL)
		return;
	if (tr == leg->ref_tr) {
		ref_result(leg, tr, resp, resp->status_code);
		return;
	}
	if (leg->state >= LEG_CONFIRMED) {
		if (!streq(leg->remote_tag, from_tag(resp->to)))
			fork_end(leg, resp);
		return;
	}
	if (leg->fork != NULL && !leg->closed)
		leg = sip_fork_on_2xx(leg);     /* the dialog moves to the fork's head */
	if (uac_ack(leg, resp) != 0)
		log_call(LOG_LEVEL_WARN, leg->call_id, "sip: could not send ACK");
	leg_set_state(leg, LEG_CONFIRMED);
	if (leg->closed) {
		/* Hung up while the answer was on its way. */
		send_bye(leg, 16);
		return;
	}
	leg->peer_timer = msg_has_option(resp, "require", NULL, "timer") ||
	    msg_has_option(resp, "supported", "k", "timer");
	leg->peer_update = msg_allows(resp, "UPDATE");
	se_from_response(leg, resp);
	se_restart(leg, now_ms());
	if (msg_sdp(resp, &sdp, &len) == 0 && sdp != NULL)
		leg_set_sdp(leg, sdp, len);
	else
		sdp = NULL;
	if (leg->cbs != NULL && leg->cbs->answered != NULL)
		leg->cbs->answered(leg->owner, sdp != NULL ? leg->sdp : NULL, sdp != NULL ? leg->sdp_len : 0);
}

/* s with the first `old` replaced by `new`; caller frees; NULL when old
 * is not in s or out of memory. */
static char *
replace_once(const char *s, const char *old, const char *new)
{
	const char *p = strstr(s, old);
	char *r = NULL;

	if (p == NULL || asprintf(&r, "%.*s%s%s", (int)(p - s), s, new, p + strlen(old)) < 0)
		return NULL;
	return r;
}

/* text with the value of its header line `name` (": " and up to CRLF)
 * set to v; caller frees; NULL when there is no such line. */
static char *
set_header_num(const char *text, const char *name, unsigned int v)
{
	char key[40], *r = NULL;
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	if ((p = strstr(text, key)) == NULL || (e = strstr(p + 2, "\r\n")) == NULL)
		return NULL;
	p += strlen(key);
	if (asprintf(&r, "%.*s%u%s", (int)(p - text), text, v, e) < 0)
		return NULL;
	return r;
}

/* Our INVITE again after a final 401/407/422, in the same call: same
 * Call-ID and tags, CSeq one higher, a new branch, `line` (header lines)
 * added, and with min_se > 0 Session-Expires and Min-SE raised to it. 0
 * when sent; the leg's transaction becomes the new one. */
static int
uac_resend(struct sip_leg *leg, osip_transaction_t *tr, const char *line, unsigned int min_se)
{
	char branch[40], cs_old[40], *cs_new = NULL, *a = NULL, *b = NULL, *text = NULL;
	osip_message_t *m = NULL;
	osip_transaction_t *ntr = NULL;
	int error = ENOMEM;

	if (leg->inv_text == NULL || leg->inv_branch == NULL)
		return EINVAL;
	memcpy(branch, "z9hG4bK", 7);
	random_hex(branch + 7, 12);
	snprintf(cs_old, sizeof(cs_old), "\r\nCSeq: %u INVITE\r\n", leg->local_cseq);
	if (asprintf(&cs_new, "\r\nCSeq: %u INVITE\r\n%s", leg->local_cseq + 1,
	    line != NULL ? line : "") < 0) {
		cs_new = NULL;
		goto out;
	}
	if ((a = replace_once(leg->inv_text, leg->inv_branch, branch)) == NULL ||
	    (text = replace_once(a, cs_old, cs_new)) == NULL)
		goto out;
	if (min_se > 0) {
		free(a);
		if ((a = set_header_num(text, "Session-Expires", min_se)) == NULL)
			goto out;
		free(text);
		if ((text = set_header_num(a, "Min-SE", min_se)) == NULL)
			goto out;
	}
	if ((m = text_to_msg(text, strlen(text))) == NULL) {
		error = EINVAL;
		goto out;
	}
	if ((b = strdup(branch)) == NULL ||
	    (error = client_tx(text, strlen(text), &leg->route, &ntr)) != 0)
		goto out;
	osip_transaction_set_your_instance(tr, NULL);
	osip_transaction_set_your_instance(ntr, leg);
	leg->inv_tr = ntr;
	leg->local_cseq++;
	osip_message_free(leg->invite);
	leg->invite = m;
	m = NULL;
	free(leg->inv_branch);
	leg->inv_branch = b;
	b = NULL;
	free(leg->inv_text);
	leg->inv_text = text;
	text = NULL;
	pump();
out:
	if (m != NULL)
		osip_message_free(m);
	free(cs_new);
	free(a);
	free(b);
	free(text);
	return error;
}

/* A trunk's 401/407 to our INVITE: again with our credentials. */
static int
uac_auth_retry(struct sip_leg *leg, osip_transaction_t *tr, const osip_message_t *resp)
{
	struct sip_auth_cred cred = { leg->cred_user, leg->cred_pass, leg->cred_ha1 };
	char cnonce[17], *line = NULL;
	int error;

	leg->cred_tries++;
	sip_random_hex(cnonce, 8);
	if ((error = sip_auth_answer(resp, &cred, "INVITE", leg->target, cnonce, 1, &line)) != 0) {
		log_call(LOG_LEVEL_NOTICE, leg->call_id, "trunk %s: cannot answer the %d challenge",
		    leg->trunk != NULL ? leg->trunk : "-", resp->status_code);
		return error;
	}
	if ((error = uac_resend(leg, tr, line, 0)) == 0)
		log_call(LOG_LEVEL_INFO, leg->call_id, "trunk %s: %d challenge answered, INVITE again",
		    leg->trunk != NULL ? leg->trunk : "-", resp->status_code);
	free(line);
	return error;
}

/* RFC 4028 6: a 422 to our INVITE: again with its Min-SE as our interval,
 * once. */
static int
uac_422_retry(struct sip_leg *leg, osip_transaction_t *tr, const osip_message_t *resp)
{
	long min_se = (long)msg_header_num(resp, "min-se");
	long asked = (long)(cfg_session_expires() > cfg_min_se() ? cfg_session_expires() :
	    cfg_min_se());
	int error;

	leg->se_retried = 1;
	if (cfg_session_expires() == 0 || min_se <= asked || min_se > 86400)
		return EINVAL;
	if ((error = uac_resend(leg, tr, NULL, (unsigned int)min_se)) == 0)
		log_call(LOG_LEVEL_INFO, leg->call_id, "sip: 422, INVITE again with Session-Expires "
		    "and Min-SE %ld", min_se);
	return error;
}

static void
sip_cb_ict_final(int type, osip_transaction_t *tr, osip_message_t *resp)
{
	struct sip_leg *leg = tr_leg(tr);

	if (leg == NULL)
		return;
	if (tr == leg->ref_tr) {
		ref_result(leg, tr, resp, resp->status_code);
		return;
	}
	if ((resp->status_code == 401 || resp->status_code == 407) && leg->cred_user != NULL &&
	    leg->cred_tries == 0 && !leg->closed && leg->fork == NULL &&
	    uac_auth_retry(leg, tr, resp) == 0)
		return;
	if (resp->status_code == 422 && !leg->se_retried && !leg->closed && leg->fork == NULL &&
	    uac_422_retry(leg, tr, resp) == 0)
		return;
	leg_detach_tr(leg);
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INVITE failed: %d", resp->status_code);
	leg_end(leg, resp->status_code, msg_q850(resp));
}

static void
sip_cb_ict_timeout(int type, osip_transaction_t *tr, osip_message_t *msg)
{
	struct sip_leg *leg = tr_leg(tr);

	if (leg == NULL)
		return;
	if (tr == leg->ref_tr) {
		ref_result(leg, tr, NULL, 408);
		return;
	}
	leg_detach_tr(leg);
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INVITE timed out");
	leg_end(leg, 408, 0);
}

static void
sip_cb_nict_timeout(int type, osip_transaction_t *tr, osip_message_t *msg)
{
	const char *cid = tr->orig_request != NULL ? msg_call_id(tr->orig_request) : "-";
	struct sip_leg *leg = tr_leg(tr);

	log_call(LOG_LEVEL_INFO, cid, "sip: %s timed out",
	    tr->cseq != NULL && tr->cseq->method != NULL ? tr->cseq->method : "request");
	if (leg != NULL && tr == leg->ref_tr)
		ref_result(leg, tr, NULL, 408);
	if (tr->cseq != NULL && streq(tr->cseq->method, "REGISTER"))
		sip_trunk_on_response(cid, 408, NULL);
}

/* A final response to a request of ours outside INVITE (our UPDATE refresh). */
static void
sip_cb_nict_final(int type, osip_transaction_t *tr, osip_message_t *resp)
{
	struct sip_leg *leg = tr_leg(tr);

	if (leg != NULL && tr == leg->ref_tr)
		ref_result(leg, tr, resp, resp->status_code);
	if (tr->cseq != NULL && streq(tr->cseq->method, "REGISTER") && tr->orig_request != NULL)
		sip_trunk_on_response(msg_call_id(tr->orig_request), resp->status_code, resp);
}

static void
sip_cb_transport_error(int type, osip_transaction_t *tr, int error)
{
	struct sip_leg *leg = tr_leg(tr);
	const char *cid = tr->orig_request != NULL ? msg_call_id(tr->orig_request) : "-";

	log_call(LOG_LEVEL_WARN, cid, "sip: transport error on a transaction");
	if (type == OSIP_NICT_TRANSPORT_ERROR && tr->cseq != NULL &&
	    streq(tr->cseq->method, "REGISTER"))
		sip_trunk_on_response(cid, 503, NULL);
	if (leg != NULL && tr == leg->ref_tr) {
		ref_result(leg, tr, NULL, 503);
		return;
	}
	if (leg != NULL && type == OSIP_ICT_TRANSPORT_ERROR) {
		leg_detach_tr(leg);
		leg_end(leg, 503, 0);
	}
}

static void
sip_cb_kill(int type, osip_transaction_t *tr)
{
	struct sip_leg *leg = tr_leg(tr);
	struct sip_dead_tr *d;

	if (leg != NULL && leg->inv_tr == tr)
		leg_detach_tr(leg);
	if (leg != NULL && leg->ref_tr == tr)
		leg->ref_tr = NULL;
	osip_transaction_set_your_instance(tr, NULL);
	osip_remove_transaction(S.osip, tr);
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		/* Better a small leak than a use after free. */
		log_error("sip: out of memory collecting a transaction");
		return;
	}
	d->tr = tr;
	d->next = S.dead;
	S.dead = d;
	request_reap();
}

static void
tr_free(osip_transaction_t *tr)
{
	free(osip_transaction_get_reserved2(tr));
	osip_transaction_set_reserved2(tr, NULL);
	osip_transaction_free2(tr);
}

/* ---- the pump and the timers ------------------------------------------ */

static void
schedule(void)
{
	struct timeval tv = {1, 0};
	struct sip_leg *leg;
	uint64_t now = now_ms(), next = now + 1000;

	if (S.osip == NULL || S.timer == NULL)
		return;
	osip_timers_gettimeout(S.osip, &tv);
	{
		uint64_t o = now + (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1;
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			o = now;
		if (o < next)
			next = o;
	}
	TAILQ_FOREACH(leg, &S.legs, entry) {
		if (leg->rtx_active && leg->rtx_next < next)
			next = leg->rtx_next;
		if (leg->cancel_sent && leg->inv_tr != NULL && leg->cancel_deadline < next)
			next = leg->cancel_deadline;
		if (leg->re2xx.active && leg->re2xx.next < next)
			next = leg->re2xx.next;
		if (leg->rel1xx.active && leg->rel1xx.next < next)
			next = leg->rel1xx.next;
		if (leg->se != 0 && leg->state == LEG_CONFIRMED && !leg->closed && leg->se_next < next)
			next = leg->se_next;
	}
	next = next > now ? next - now : 0;
	tv.tv_sec = (time_t)(next / 1000);
	tv.tv_usec = (suseconds_t)(next % 1000) * 1000;
	evtimer_add(S.timer, &tv);
}

static void
pump(void)
{
	if (S.osip == NULL)
		return;
	if (S.in_pump) {
		S.pump_again = 1;
		return;
	}
	S.in_pump = 1;
	for (int i = 0; i < SIP_PUMP_ROUNDS; i++) {
		S.pump_again = 0;
		osip_ict_execute(S.osip);
		osip_ist_execute(S.osip);
		osip_nict_execute(S.osip);
		osip_nist_execute(S.osip);
		if (!S.pump_again)
			break;
	}
	S.in_pump = 0;
	schedule();
}

/* Our own timers of the legs; pure but for the sends it decides. */
static void
legs_tick(uint64_t now)
{
	struct sip_leg *leg, *next;

	TAILQ_FOREACH_SAFE(leg, &S.legs, entry, next) {
		if (leg->rtx_active && now >= leg->rtx_next) {
			if (now >= leg->rtx_deadline) {
				leg->rtx_active = 0;
				log_call(LOG_LEVEL_INFO, leg->call_id, "sip: no ACK for our 2xx");
				send_bye(leg, 0);
				leg_end(leg, 408, 0);
				continue;
			}
			if (leg->route.proto == SIP_PROTO_UDP)
				send_text(&leg->route, leg->call_id, leg->resp2xx, leg->resp2xx_len);
			leg->rtx_interval *= 2;
			if (leg->rtx_interval > sip_t2)
				leg->rtx_interval = sip_t2;
			leg->rtx_next = now + leg->rtx_interval;
			if (leg->rtx_next > leg->rtx_deadline)
				leg->rtx_next = leg->rtx_deadline;
		}
		if (rtx_tick(leg, &leg->re2xx, now)) {
			log_call(LOG_LEVEL_INFO, leg->call_id, "sip: no ACK for our 2xx to a re-INVITE");
			send_bye(leg, 0);
			leg_end(leg, 408, 0);
			continue;
		}
		if (leg->closed)
			leg->rel1xx.active = 0;
		if (rtx_tick(leg, &leg->rel1xx, now)) {
			/* RFC 3262 3: no PRACK, the INVITE is refused with a 5xx. */
			log_call(LOG_LEVEL_INFO, leg->call_id, "sip: no PRACK for our reliable provisional");
			leg->held_2xx = 0;
			if (!leg->closed && leg->inv_tr != NULL && leg->state < LEG_ANSWERED) {
				tx_respond(leg->inv_tr, leg->invite, 504, leg->local_tag, NULL, NULL);
				leg_detach_tr(leg);
			}
			leg_end(leg, 408, 0);
			continue;
		}
		if (leg->se != 0 && leg->state == LEG_CONFIRMED && !leg->closed && now >= leg->se_next) {
			se_fire(leg, now);
			continue;
		}
		if (leg->cancel_sent && leg->inv_tr != NULL && now >= leg->cancel_deadline) {
			/* No final response to our CANCELled INVITE: give up. */
			osip_transaction_t *tr = leg->inv_tr;
			leg_detach_tr(leg);
			sip_cb_kill(OSIP_ICT_KILL_TRANSACTION, tr);
		}
	}
}

static void
sip_on_timer(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = now_ms();

	osip_timers_ict_execute(S.osip);
	osip_timers_ist_execute(S.osip);
	osip_timers_nict_execute(S.osip);
	osip_timers_nist_execute(S.osip);
	legs_tick(now);
	pump();
}

static void
sip_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct sip_leg *leg, *next;
	struct sip_dead_tr *d;

	while ((d = S.dead) != NULL) {
		S.dead = d->next;
		tr_free(d->tr);
		free(d);
	}
	TAILQ_FOREACH_SAFE(leg, &S.legs, entry, next) {
		if (leg_done(leg)) {
			log_call(LOG_LEVEL_DEBUG, leg->call_id, "sip: dialog freed");
			leg_free(leg);
		}
	}
}

/* ---- the exported interface ------------------------------------------- */

static void
sip_osip_trace(const char *file, int line, osip_trace_level_t level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (log_get_level() < LOG_LEVEL_DEBUG)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_debug("sip: libosip2 %s:%d: %s", file != NULL ? file : "?", line, buf);
}

int
sip_init(struct event_base *base, const struct cfg *cfg, sip_invite_cb cb, void *arg)
{
	int error = 0;

	if (S.initialized)
		return EALREADY;
	memset(&S, 0, sizeof(S));
	TAILQ_INIT(&S.legs);
	S.base = base;
	S.invite_cb = cb;
	S.invite_arg = arg;
	S.accepting = 1;
	/* libosip2's own traces go to our log, at debug level. */
	osip_trace_initialize_func(OSIP_WARNING, sip_osip_trace);
	sip_auth_init();
	if (osip_init(&S.osip) != 0) {
		S.osip = NULL;
		error = ENOMEM;
		goto out;
	}
	osip_set_cb_send_message(S.osip, sip_cb_send);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_1XX_RECEIVED, sip_cb_ict_1xx);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_2XX_RECEIVED, sip_cb_ict_2xx);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_3XX_RECEIVED, sip_cb_ict_final);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_4XX_RECEIVED, sip_cb_ict_final);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_5XX_RECEIVED, sip_cb_ict_final);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_6XX_RECEIVED, sip_cb_ict_final);
	osip_set_message_callback(S.osip, OSIP_ICT_STATUS_TIMEOUT, sip_cb_ict_timeout);
	osip_set_message_callback(S.osip, OSIP_NICT_STATUS_TIMEOUT, sip_cb_nict_timeout);
	osip_set_message_callback(S.osip, OSIP_NICT_STATUS_2XX_RECEIVED, sip_cb_nict_final);
	osip_set_message_callback(S.osip, OSIP_NICT_STATUS_3XX_RECEIVED, sip_cb_nict_final);
	osip_set_message_callback(S.osip, OSIP_NICT_STATUS_4XX_RECEIVED, sip_cb_nict_final);
	osip_set_message_callback(S.osip, OSIP_NICT_STATUS_5XX_RECEIVED, sip_cb_nict_final);
	osip_set_message_callback(S.osip, OSIP_NICT_STATUS_6XX_RECEIVED, sip_cb_nict_final);
	for (int t = 0; t < OSIP_KILL_CALLBACK_COUNT; t++)
		osip_set_kill_transaction_callback(S.osip, t, sip_cb_kill);
	for (int t = 0; t < OSIP_TRANSPORT_ERROR_CALLBACK_COUNT; t++)
		osip_set_transport_error_callback(S.osip, t, sip_cb_transport_error);
	S.timer = evtimer_new(base, sip_on_timer, NULL);
	S.reaper = event_new(base, -1, 0, sip_on_reap, NULL);
	if (S.timer == NULL || S.reaper == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((error = sip_transport_init(base)) != 0)
		goto out;
	if ((error = sip_transport_apply(&cfg->sip)) != 0)
		goto out;
	if ((error = sip_registrar_init(base, cfg)) != 0)
		goto out;
	S.cfg = cfg_ref((struct cfg *)cfg);
	sip_trunk_init(base, cfg);
	S.initialized = 1;
	schedule();
	return 0;
out:
	sip_registrar_shutdown();
	sip_transport_shutdown();
	if (S.timer != NULL)
		event_free(S.timer);
	if (S.reaper != NULL)
		event_free(S.reaper);
	if (S.osip != NULL)
		osip_release(S.osip);
	memset(&S, 0, sizeof(S));
	return error;
}

int
sip_apply(const struct cfg *cfg)
{
	int error;

	if (!S.initialized)
		return EINVAL;
	if ((error = sip_transport_apply(&cfg->sip)) != 0)
		return error;
	cfg_ref((struct cfg *)cfg);
	cfg_unref(S.cfg);
	S.cfg = (struct cfg *)cfg;
	sip_registrar_apply(cfg);
	sip_trunk_apply(cfg);
	return 0;
}

void
sip_set_timers(unsigned int t1, unsigned int t2)
{
	sip_t1 = t1;
	sip_t2 = t2;
}

void
sip_set_accepting(int accepting)
{
	S.accepting = accepting;
}

static void
free_tr_list(osip_list_t *l)
{
	osip_transaction_t *tr;

	while ((tr = osip_list_get(l, 0)) != NULL) {
		osip_remove_transaction(S.osip, tr);
		tr_free(tr);
	}
}

void
sip_shutdown(void)
{
	struct sip_leg *leg;

	if (!S.initialized)
		return;
	sip_trunk_shutdown();
	sip_registrar_shutdown();
	sip_transport_shutdown();
	while ((leg = TAILQ_FIRST(&S.legs)) != NULL)
		leg_free(leg);
	sip_on_reap(-1, 0, NULL);
	free_tr_list(&S.osip->osip_ict_transactions);
	free_tr_list(&S.osip->osip_ist_transactions);
	free_tr_list(&S.osip->osip_nict_transactions);
	free_tr_list(&S.osip->osip_nist_transactions);
	osip_release(S.osip);
	event_free(S.timer);
	event_free(S.reaper);
	cfg_unref(S.cfg);
	memset(&S, 0, sizeof(S));
}

size_t
sip_leg_count(void)
{
	struct sip_leg *leg;
	size_t n = 0;

	TAILQ_FOREACH(leg, &S.legs, entry)
		n++;
	return n;
}

void
sip_get_stats(struct sip_stats *st)
{
	struct sip_tstats t;

	*st = S.stats;
	sip_transport_stats(&t);
	st->tcp_violations = t.tcp_violations;
}

int
sip_get_listen_addr(int tcp, size_t index, struct addr *out)
{
	const struct addr *a = sip_transport_listen_addr(tcp == 2 ? SIP_PROTO_TLS :
	    tcp ? SIP_PROTO_TCP : SIP_PROTO_UDP, index);

	if (a == NULL)
		return ENOENT;
	*out = *a;
	return 0;
}

void
sip_leg_attach(struct sip_leg *leg, const struct sip_leg_cbs *cbs, void *owner)
{
	leg->cbs = cbs;
	leg->owner = owner;
}

const char *
sip_leg_call_id(const struct sip_leg *leg)
{
	return leg->call_id;
}

const struct addr *
sip_leg_peer(const struct sip_leg *leg)
{
	return &leg->route.dst;
}

void
sip_leg_set_retry_after(struct sip_leg *leg, unsigned int seconds)
{
	if (leg != NULL)
		leg->retry_after = seconds;
}

int
sip_leg_respond(struct sip_leg *leg, int status, const char *sdp, int q850)
{
	char *extra = NULL, *contact = NULL, *reason = NULL, *text = NULL, more[160] = "";
	size_t len;
	int error = 0, reliable = 0;

	if (leg == NULL || leg->role != LEG_UAS || leg->closed || status < 101 || status > 699)
		return EINVAL;
	if (leg->state >= LEG_ANSWERED || leg->inv_tr == NULL)
		return EALREADY;
	if (status >= 200 && status < 300 && leg->rel1xx.active && leg->rel1xx_sdp) {
		/* RFC 3262 3: no 2xx before the PRACK of a provisional with an
		 * answer; it goes out when the PRACK comes. */
		free(leg->held_sdp);
		leg->held_sdp = sdp != NULL ? strdup(sdp) : NULL;
		leg->held_2xx = 1;
		log_call(LOG_LEVEL_DEBUG, leg->call_id, "sip: 2xx waits for the PRACK");
		return 0;
	}
	if (status > 100 && status < 200 && leg->peer_100rel) {
		if (leg->rel1xx.active) {
			log_call(LOG_LEVEL_DEBUG, leg->call_id,
			    "sip: %d not sent: the last reliable provisional has no PRACK yet", status);
			return 0;
		}
		reliable = 1;
		if (leg->rseq == 0) {
			unsigned char rb[3] = {0, 0, 0};

			RAND_bytes(rb, sizeof(rb));
			leg->rseq = 1 + ((unsigned int)rb[0] << 16 | (unsigned int)rb[1] << 8 | rb[2]);
		} else {
			leg->rseq++;
		}
		snprintf(more, sizeof(more), "Require: 100rel\r\nRSeq: %u\r\n", leg->rseq);
	} else if (status >= 200 && status < 300) {
		se_response_lines(leg, more, sizeof(more));
	}
	if (status >= 200) {
		leg->rel1xx.active = 0;
		leg->held_2xx = 0;
	}
	if (status >= 300 && leg->retry_after > 0)
		snprintf(more, sizeof(more), "Retry-After: %u\r\n", leg->retry_after);
	if ((contact = contact_line(leg, leg->called)) == NULL || (reason = reason_line(q850)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if (asprintf(&extra, "%s%s%sAllow: " SIP_ALLOW "\r\nSupported: " SIP_SUPPORTED "\r\n",
	    status < 300 ? contact : "", reason, more) < 0) {
		extra = NULL;
		error = ENOMEM;
		goto out;
	}
	text = build_response(leg->invite, status, NULL, status > 100 ? leg->local_tag : NULL, extra,
	    status < 300 ? sdp : NULL, &len);
	if (text == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((error = tx_send_text(leg->inv_tr, text, len)) != 0)
		goto out;
	if (sdp != NULL && status < 300) {
		free(leg->local_sdp);
		leg->local_sdp = strdup(sdp);
	}
	if (status < 200) {
		if (reliable) {
			rtx_start(&leg->rel1xx, text, len, 0, now_ms());
			leg->rel1xx_sdp = sdp != NULL;
			text = NULL;
		}
		leg_set_state(leg, LEG_EARLY);
	} else if (status < 300) {
		uint64_t now = now_ms();

		se_restart(leg, now);

		free(leg->resp2xx);
		leg->resp2xx = text;
		leg->resp2xx_len = len;
		text = NULL;
		leg->rtx_active = 1;
		leg->rtx_interval = sip_t1;
		leg->rtx_next = now + sip_t1;
		leg->rtx_deadline = now + 64 * sip_t1;
		leg_set_state(leg, LEG_ANSWERED);
	} else {
		leg->closed = 1;
		leg_detach_tr(leg);
		leg_set_state(leg, LEG_TERMINATED);
	}
out:
	free(text);
	free(extra);
	free(contact);
	free(reason);
	pump();
	return error;
}

/* A user part safe to put in a SIP URI. */
static int
valid_user(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("+-_.!~*()'", *s) == NULL)
			return 0;
	}
	return 1;
}

/* The identity of the caller for the INVITE being built (only while
 * sip_leg_invite_identity runs). */
static const struct sip_identity *invite_identity;
/* The trunk the INVITE being built goes to (only while
 * sip_leg_invite_trunk runs). */
static const struct cfg_trunk *invite_trunk;

/* RFC 3325 P-Asserted-Identity with the real number (we are the trusted
 * network's gateway), RFC 3323 Privacy: id when presentation is
 * restricted, RFC 5806 Diversion for a redirected call. */
static void
identity_headers(struct sbuf *sb, const struct sip_identity *id, const char *host)
{
	char name[80];
	size_t n = 0;

	for (size_t i = 0; id->calling_name != NULL && id->calling_name[i] != '\0' &&
	    n + 1 < sizeof(name); i++) {
		unsigned char c = (unsigned char)id->calling_name[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			name[n++] = (char)c;
	}
	name[n] = '\0';
	if (valid_user(id->calling)) {
		if (n > 0)
			sb_printf(sb, "P-Asserted-Identity: \"%s\" <sip:%s@%s>\r\n", name,
			    id->calling, host);
		else
			sb_printf(sb, "P-Asserted-Identity: <sip:%s@%s>\r\n", id->calling, host);
	}
	if (id->privacy)
		sb_printf(sb, "Privacy: id\r\n");
	if (valid_user(id->diversion))
		sb_printf(sb, "Diversion: <sip:%s@%s>;reason=unknown\r\n", id->diversion, host);
}

int
sip_leg_invite_identity(const char *uri, const struct sip_identity *id, const char *sdp,
                        const struct sip_leg_cbs *cbs, void *owner, struct sip_leg **out)
{
	int error;

	invite_identity = id;
	/* Presentation restricted: From says nothing of the caller. */
	if (id->privacy)
		error = sip_leg_invite_route(uri, NULL, NULL, "anonymous", "Anonymous", sdp,
		    cbs, owner, out);
	else
		error = sip_leg_invite_route(uri, NULL, NULL, id->calling, id->calling_name, sdp,
		    cbs, owner, out);
	invite_identity = NULL;
	return error;
}

int
sip_leg_invite(const char *uri, const char *calling, const char *calling_name,
               const char *sdp, const struct sip_leg_cbs *cbs, void *owner,
               struct sip_leg **out)
{
	return sip_leg_invite_route(uri, NULL, NULL, calling, calling_name, sdp, cbs, owner, out);
}

/* With route (registrar: the way the contact registered) the INVITE goes
 * there whatever the URI's host; call_id NULL makes a new Call-ID. */
int
sip_leg_invite_route(const char *uri, const struct sip_route *route, const char *call_id,
                     const char *calling, const char *calling_name, const char *sdp,
                     const struct sip_leg_cbs *cbs, void *owner, struct sip_leg **out)
{
	osip_uri_t *u = NULL;
	osip_uri_param_t *tp = NULL;
	struct sip_leg *leg = NULL;
	struct sbuf sb = {0};
	struct addr dst, local;
	enum sip_proto proto = SIP_PROTO_UDP;
	char host[ADDR_STRLEN], a[ADDR_STRLEN], h[ADDR_STRLEN], rnd[40], *text = NULL, *s = NULL;
	char name[80];
	size_t len, hl, n = 0;
	osip_message_t *m = NULL;
	int error = 0;

	*out = NULL;
	if (!S.initialized)
		return EINVAL;
	if (!valid_user(calling))
		calling = "anonymous";
	if (osip_uri_init(&u) != 0)
		return ENOMEM;
	if (osip_uri_parse(u, uri) != 0 || u->host == NULL) {
		error = EINVAL;
		goto out;
	}
	hl = strlen(u->host);
	if (hl >= sizeof(host)) {
		error = EINVAL;
		goto out;
	}
	if (u->host[0] == '[' && hl > 2) {
		memcpy(host, u->host + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		memcpy(host, u->host, hl + 1);
	}
	if (addr_from_ip(&dst, host, u->port != NULL ? (unsigned int)atoi(u->port) : 5060) != 0 &&
	    route == NULL) {
		error = EINVAL;     /* no DNS: an IP literal is needed */
		goto out;
	}
	if (osip_uri_uparam_get_byname(u, "transport", &tp) == 0 && tp != NULL && tp->gvalue != NULL &&
	    strcasecmp(tp->gvalue, "tcp") == 0)
		proto = SIP_PROTO_TCP;
	else if (tp != NULL && tp->gvalue != NULL && strcasecmp(tp->gvalue, "tls") == 0)
		proto = SIP_PROTO_TLS;
	if ((leg = calloc(1, sizeof(*leg))) == NULL) {
		error = ENOMEM;
		goto out;
	}
	TAILQ_INSERT_TAIL(&S.legs, leg, entry);
	leg->role = LEG_UAC;
	leg->closed = 1;    /* until the INVITE is on its way */
	if (route != NULL)
		leg->route = *route;
	else if ((error = sip_transport_route(proto, &dst, &leg->route)) != 0)
		goto out;
	proto = leg->route.proto;
	if ((error = sip_transport_local(&leg->route, &local)) != 0)
		goto out;
	addr_str(&local, a, sizeof(a));
	host_str(&local, h, sizeof(h));
	for (size_t i = 0; calling_name != NULL && calling_name[i] != '\0' && n + 1 < sizeof(name); i++) {
		unsigned char c = (unsigned char)calling_name[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			name[n++] = (char)c;
	}
	name[n] = '\0';
	random_hex(rnd, 16);
	if (call_id != NULL)
		leg->call_id = strdup(call_id);
	else if (asprintf(&leg->call_id, "%s@%s", rnd, h) < 0)
		leg->call_id = NULL;
	random_hex(rnd, 8);
	leg->local_tag = strdup(rnd);
	{
		/* To a trunk: its from_user and from_domain when set. */
		const char *fu = calling, *fh = h;

		if (invite_trunk != NULL && invite_trunk->from_user != NULL)
			fu = invite_trunk->from_user;
		if (invite_trunk != NULL)
			fh = invite_trunk->from_domain != NULL ? invite_trunk->from_domain :
			    invite_trunk->host;
		if (n > 0)
			error = asprintf(&leg->local_hdr, "\"%s\" <sip:%s@%s>;tag=%s", name, fu, fh,
			    rnd);
		else
			error = asprintf(&leg->local_hdr, "<sip:%s@%s>;tag=%s", fu, fh, rnd);
	}
	if (error < 0)
		leg->local_hdr = NULL;
	error = 0;
	if (osip_uri_to_str(u, &s) == 0) {
		leg->target = strdup(s);
		if (asprintf(&leg->remote_hdr, "<%s>", s) < 0)
			leg->remote_hdr = NULL;
		osip_free(s);
	}
	leg->routes = strdup("");
	leg->remote_tag = strdup("");
	leg->calling = strdup(calling);
	memcpy(rnd, "z9hG4bK", 7);
	random_hex(rnd + 7, 12);
	leg->inv_branch = strdup(rnd);
	if (leg->call_id == NULL || leg->local_tag == NULL || leg->local_hdr == NULL ||
	    leg->target == NULL || leg->remote_hdr == NULL || leg->routes == NULL ||
	    leg->remote_tag == NULL || leg->calling == NULL || leg->inv_branch == NULL) {
		error = ENOMEM;
		goto out;
	}
	leg->local_cseq = 1;
	sb_printf(&sb, "INVITE %s SIP/2.0\r\n", leg->target);
	sb_printf(&sb, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", proto_name(proto), a, leg->inv_branch);
	sb_printf(&sb, "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n",
	    leg->local_hdr, leg->remote_hdr, leg->call_id);
	sb_printf(&sb, "Contact: <sip:%s@%s%s>\r\n", calling, a,
	    proto == SIP_PROTO_TCP ? ";transport=tcp" : proto == SIP_PROTO_TLS ? ";transport=tls" : "");
	sb_printf(&sb, "Allow: " SIP_ALLOW "\r\nUser-Agent: %s\r\n", user_agent());
	/* RFC 4028: we take part in session timers; the answer says who
	 * refreshes. RFC 3262: reliable provisional responses get a PRACK. */
	sb_printf(&sb, "Supported: timer, 100rel\r\n");
	if (invite_identity != NULL)
		identity_headers(&sb, invite_identity, h);
	if (cfg_session_expires() != 0)
		sb_printf(&sb, "Session-Expires: %u\r\nMin-SE: %u\r\n",
		    cfg_session_expires() > cfg_min_se() ? cfg_session_expires() : cfg_min_se(),
		    cfg_min_se());
	sb_body(&sb, sdp);
	if ((text = sb_done(&sb, &len)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((m = text_to_msg(text, len)) == NULL || osip_message_clone(m, &leg->invite) != 0) {
		leg->invite = NULL;
		error = EINVAL;
		goto out;
	}
	if ((leg->inv_text = strdup(text)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((error = client_tx(text, len, &leg->route, &leg->inv_tr)) != 0)
		goto out;
	osip_transaction_set_your_instance(leg->inv_tr, leg);
	if (sdp != NULL)
		leg->local_sdp = strdup(sdp);
	leg->closed = 0;
	leg->cbs = cbs;
	leg->owner = owner;
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INVITE to %s from %s", uri, calling);
	*out = leg;
out:
	if (m != NULL)
		osip_message_free(m);
	free(text);
	osip_uri_free(u);
	if (error != 0 && leg != NULL) {
		leg->closed = 1;
		leg_free(leg);
	}
	if (error == 0)
		pump();
	return error;
}

int
sip_leg_invite_trunk(const struct cfg_trunk *t, const char *called,
                     const struct sip_identity *id, const char *sdp,
                     const struct sip_leg_cbs *cbs, void *owner, struct sip_leg **out)
{
	struct sip_identity tid = *id;
	struct sip_leg *leg;
	char num[80], calling[80], uri[300];
	int error;

	*out = NULL;
	if ((error = sip_trunk_number(t, &t->out, 1, called, num, sizeof(num))) != 0)
		return error;
	if (!valid_user(num))
		return EINVAL;
	if (id->calling != NULL && sip_trunk_number(t, &t->out, 0, id->calling, calling,
	    sizeof(calling)) == 0)
		tid.calling = calling;
	snprintf(uri, sizeof(uri), strchr(t->host, ':') != NULL ? "sip:%s@[%s]:%u%s" :
	    "sip:%s@%s:%u%s", num, t->host, t->port,
	    t->transport == CFG_TRANSPORT_TLS ? ";transport=tls" :
	    t->transport == CFG_TRANSPORT_TCP ? ";transport=tcp" : "");
	invite_trunk = t;
	error = sip_leg_invite_identity(uri, &tid, sdp, cbs, owner, out);
	invite_trunk = NULL;
	if (error != 0)
		return error;
	leg = *out;
	leg->trunk = strdup(t->name);
	if (t->password != NULL || t->ha1 != NULL) {
		const char *u = t->auth_user != NULL ? t->auth_user : t->username;

		leg->cred_user = u != NULL ? strdup(u) : NULL;
		leg->cred_pass = t->password != NULL ? strdup(t->password) : NULL;
		leg->cred_ha1 = t->ha1 != NULL ? strdup(t->ha1) : NULL;
	}
	log_call(LOG_LEVEL_INFO, leg->call_id, "trunk %s: INVITE %s (from %s)", t->name, num,
	    tid.calling != NULL ? tid.calling : "-");
	return 0;
}

void
sip_trunks_write(struct evbuffer *out)
{
	sip_trunk_write(out);
}

void
sip_leg_hangup(struct sip_leg *leg, int status, int q850)
{
	if (leg == NULL || leg->closed)
		return;
	if (leg->fork != NULL)
		sip_fork_on_hangup(leg, status, q850);
	if (leg->role == LEG_UAS) {
		switch (leg->state) {
		case LEG_INIT:
		case LEG_EARLY:
			if (status < 300 || status > 699)
				status = 480;
			sip_leg_respond(leg, status, NULL, q850);
			break;
		case LEG_ANSWERED:
			leg->bye_pending = 1;   /* BYE when the ACK comes (or never does) */
			break;
		case LEG_CONFIRMED:
			send_bye(leg, q850);
			break;
		case LEG_TERMINATED:
			break;
		}
	} else {
		switch (leg->state) {
		case LEG_INIT:
		case LEG_EARLY:
			leg->closed = 1;
			if (leg->got_1xx) {
				send_cancel(leg, q850);
			} else {
				leg->cancel_pending = 1;
				leg->cancel_q850 = q850;
			}
			break;
		case LEG_CONFIRMED:
			send_bye(leg, q850);
			break;
		default:
			break;
		}
	}
	leg->closed = 1;
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: hangup (status %d, cause %d)", status, q850);
	request_reap();
	pump();
}

/* ---- support for the fork (sip_fork.c) --------------------------------- */

struct sip_leg *
sip_leg_fork_head(struct sip_fork *f, const char *call_id, const struct sip_route *route,
                  const struct sip_leg_cbs *cbs, void *owner)
{
	struct sip_leg *leg = calloc(1, sizeof(*leg));

	if (leg == NULL)
		return NULL;
	TAILQ_INSERT_TAIL(&S.legs, leg, entry);
	leg->role = LEG_UAC;
	leg->route = *route;
	if ((leg->call_id = strdup(call_id)) == NULL) {
		leg->closed = 1;
		leg_free(leg);
		return NULL;
	}
	leg->cbs = cbs;
	leg->owner = owner;
	leg->fork = f;
	leg->fork_head = 1;
	return leg;
}

struct sip_fork *
sip_leg_fork(const struct sip_leg *leg, int *head)
{
	*head = leg->fork_head;
	return leg->fork;
}

void
sip_leg_set_fork(struct sip_leg *leg, struct sip_fork *f)
{
	leg->fork = f;
	if (f == NULL)
		leg->fork_head = 0;
}

void
sip_leg_fork_progress(struct sip_leg *head, int status, const char *sdp, size_t sdp_len)
{
	if (head->closed || status <= 100)
		return;
	leg_set_state(head, LEG_EARLY);
	if (sdp != NULL)
		leg_set_sdp(head, sdp, sdp_len);
	if (head->cbs != NULL && head->cbs->progress != NULL)
		head->cbs->progress(head->owner, status, sdp != NULL ? head->sdp : NULL,
		    sdp != NULL ? head->sdp_len : 0);
}

void
sip_leg_fork_end(struct sip_leg *head, int status, int q850)
{
	leg_end(head, status, q850);
}

static void
remap_tr(osip_list_t *l, struct sip_leg *from, struct sip_leg *to)
{
	for (int i = 0; i < osip_list_size(l); i++) {
		osip_transaction_t *tr = osip_list_get(l, i);
		if (osip_transaction_get_your_instance(tr) == from)
			osip_transaction_set_your_instance(tr, to);
	}
}

void
sip_leg_fork_adopt(struct sip_leg *head, struct sip_leg *branch)
{
	struct sip_leg tmp;
	const struct sip_leg_cbs *cbs = head->cbs;
	void *owner = head->owner;
	int closed = head->closed;

	/* Swap everything but the list linkage, then give the head back its
	 * owner; the branch keeps the head's empty state, closed. */
	tmp = *head;
	*head = *branch;
	*branch = tmp;
	tmp.entry = head->entry;        /* the branch's own linkage */
	head->entry = branch->entry;
	branch->entry = tmp.entry;
	head->cbs = cbs;
	head->owner = owner;
	head->closed = closed;
	head->fork = NULL;
	head->fork_head = 0;
	branch->cbs = NULL;
	branch->owner = NULL;
	branch->closed = 1;
	branch->fork = NULL;
	branch->fork_head = 0;
	remap_tr(&S.osip->osip_ict_transactions, branch, head);
	remap_tr(&S.osip->osip_nict_transactions, branch, head);
	remap_tr(&S.osip->osip_ist_transactions, branch, head);
	remap_tr(&S.osip->osip_nist_transactions, branch, head);
	request_reap();
}
