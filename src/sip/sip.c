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

/* Our own 2xx retransmission timers (libosip2 has its own T1 and T2). */
static unsigned int sip_t1 = 500, sip_t2 = 4000;   /* ms */
#define SIP_PUMP_ROUNDS 16
#define SIP_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS"

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

	/* UAC */
	int got_1xx;
	int cancel_pending, cancel_sent;
	uint64_t cancel_deadline;
	char *ack;                      /* ACK for our 2xx, to resend */
	size_t ack_len;

	/* What the call layer sees (struct sip_invite, callbacks). */
	char *called, *calling, *calling_name, *auth_user;
	char *sdp;                      /* last body received */
	size_t sdp_len;
	struct addr source;
	int trusted;
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
	return p == SIP_PROTO_TCP ? "TCP" : "UDP";
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

/* Compose a response to `req`. to_tag is added when To has none. extra is
 * more header lines ("Name: value\r\n"). Any missing mandatory header of
 * req is left out (for 400). */
static char *
build_response(const osip_message_t *req, int status, const char *reason,
               const char *to_tag, const char *extra, const char *body, size_t *len)
{
	struct sbuf sb = {0};
	char *s = NULL;
	size_t blen = body != NULL ? strlen(body) : 0;

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
	if (body != NULL)
		sb_printf(&sb, "Content-Type: application/sdp\r\n");
	sb_printf(&sb, "Content-Length: %zu\r\n\r\n", blen);
	if (body != NULL)
		sb_append(&sb, body, blen);
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
	TAILQ_REMOVE(&S.legs, leg, entry);
	if (leg->inv_tr != NULL)
		osip_transaction_set_your_instance(leg->inv_tr, NULL);
	if (leg->invite != NULL)
		osip_message_free(leg->invite);
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
	free(leg->auth_user);
	free(leg->sdp);
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

static char *
contact_line(const struct sip_leg *leg, const char *user)
{
	struct addr local;
	char a[ADDR_STRLEN], *s = NULL;

	if (sip_transport_local(&leg->route, &local) != 0)
		return strdup("");
	addr_str(&local, a, sizeof(a));
	if (asprintf(&s, "Contact: <sip:%s%s%s%s>\r\n", user != NULL ? user : "",
	    user != NULL && *user ? "@" : "", a,
	    leg->route.proto == SIP_PROTO_TCP ? ";transport=tcp" : "") < 0)
		return NULL;
	return s;
}

/* Compose and send an in-dialog request (BYE) on a new client transaction. */
static int
send_in_dialog(struct sip_leg *leg, const char *method, const char *extra)
{
	struct sbuf sb = {0};
	struct addr local;
	char a[ADDR_STRLEN], branch[40], *text;
	size_t len;
	int error;

	if ((error = sip_transport_local(&leg->route, &local)) != 0)
		return error;
	memcpy(branch, "z9hG4bK", 7);
	random_hex(branch + 7, 12);
	sb_printf(&sb, "%s %s SIP/2.0\r\n", method, leg->target);
	sb_printf(&sb, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", proto_name(leg->route.proto),
	    addr_str(&local, a, sizeof(a)), branch);
	sb_printf(&sb, "Max-Forwards: 70\r\n");
	sb_printf(&sb, "From: %s\r\n", leg->local_hdr);
	sb_printf(&sb, "To: %s\r\n", leg->remote_hdr);
	sb_printf(&sb, "Call-ID: %s\r\n", leg->call_id);
	sb_printf(&sb, "CSeq: %u %s\r\n", ++leg->local_cseq, method);
	sb_printf(&sb, "%s%s", leg->routes, extra != NULL ? extra : "");
	sb_printf(&sb, "User-Agent: %s\r\nContent-Length: 0\r\n\r\n", user_agent());
	if ((text = sb_done(&sb, &len)) == NULL)
		return ENOMEM;
	error = client_tx(text, len, &leg->route, NULL);
	free(text);
	return error;
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

/* Check the Authorization of req. 0 with *user set (caller frees), ENOENT
 * when there is none, ESTALE for an expired nonce of ours, EACCES
 * otherwise (*user set to the claimed name when there is one). */
static int
auth_check(const osip_message_t *req, time_t now, char **user)
{
	osip_authorization_t *a = NULL;
	char *uname = NULL, *realm = NULL, *nonce = NULL, *uri = NULL, *resp = NULL;
	char *qop = NULL, *nc = NULL, *cnonce = NULL, *alg = NULL, expect[33];
	const struct cfg_user *u;
	int error = EACCES, r;

	*user = NULL;
	if (osip_message_get_authorization(req, 0, &a) < 0 || a == NULL)
		return ENOENT;
	uname = unquote(a->username);
	realm = unquote(a->realm);
	nonce = unquote(a->nonce);
	uri = unquote(a->uri);
	resp = unquote(a->response);
	qop = unquote(a->message_qop);
	nc = unquote(a->nonce_count);
	cnonce = unquote(a->cnonce);
	alg = unquote(a->algorithm);
	if (uname != NULL)
		*user = strdup(uname);
	if (a->auth_type == NULL || strcasecmp(a->auth_type, "Digest") != 0)
		goto out;
	if (uname == NULL || realm == NULL || nonce == NULL || uri == NULL || resp == NULL)
		goto out;
	if (strcmp(realm, SIP_AUTH_REALM) != 0)
		goto out;
	if (alg != NULL && strcasecmp(alg, "MD5") != 0)
		goto out;
	if (qop != NULL && strcmp(qop, "auth") != 0)
		goto out;
	r = sip_auth_nonce_check(nonce, now);
	if (r == EINVAL)
		goto out;
	if ((u = find_user(uname)) == NULL || u->password == NULL)
		goto out;
	if (sip_auth_response(uname, realm, u->password, req->sip_method, uri, nonce, nc, cnonce,
	    qop, expect) != 0)
		goto out;
	if (strcasecmp(expect, resp) != 0)
		goto out;
	/* Right password, old nonce: ask again with stale=true. */
	error = r == ESTALE ? ESTALE : 0;
out:
	osip_free(uname);
	osip_free(realm);
	osip_free(nonce);
	osip_free(uri);
	osip_free(resp);
	osip_free(qop);
	osip_free(nc);
	osip_free(cnonce);
	osip_free(alg);
	return error;
}

static char *
challenge_line(int stale)
{
	char nonce[SIP_AUTH_NONCE_LEN], *s = NULL;

	if (sip_auth_nonce(now_sec(), nonce, sizeof(nonce)) != 0)
		return NULL;
	if (asprintf(&s, "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", algorithm=MD5, qop=\"auth\"%s\r\n",
	    SIP_AUTH_REALM, nonce, stale ? ", stale=true" : "") < 0)
		return NULL;
	return s;
}

/* ---- incoming requests ------------------------------------------------ */

static void
handle_invite(osip_event_t *evt, const struct sip_route *from)
{
	osip_message_t *req = evt->sip;
	osip_transaction_t *tr;
	struct sip_leg *leg;
	struct sip_invite inv;
	const char *sdp;
	size_t sdp_len;
	char a[ADDR_STRLEN], *auth_user = NULL, *extra = NULL, tag[20];
	int trusted;

	/* A re-INVITE (To tag): not supported yet, the session stays. */
	if (from_tag(req->to) != NULL) {
		leg = find_dialog(req);
		if ((tr = server_tx(evt, from)) != NULL)
			tx_respond(tr, req, leg != NULL ? 488 : 481, NULL, NULL, NULL);
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
	if (msg_sdp(req, &sdp, &sdp_len) != 0) {
		tx_respond(tr, req, 415, NULL, "Accept: application/sdp\r\n", NULL);
		return;
	}
	if (req->req_uri == NULL || req->req_uri->username == NULL || req->req_uri->username[0] == '\0') {
		tx_respond(tr, req, 404, NULL, NULL, NULL);
		return;
	}
	trusted = is_trusted(&from->dst);
	if (!trusted) {
		int r;
		char name[80];

		if (S.cfg == NULL || S.cfg->n_users == 0) {
			log_limited(&S.rl_auth, LOG_LEVEL_NOTICE, "sip: INVITE from untrusted %s refused",
			    addr_str(&from->dst, a, sizeof(a)));
			tx_respond(tr, req, 403, NULL, NULL, NULL);
			return;
		}
		r = auth_check(req, now_sec(), &auth_user);
		if (r == ENOENT || r == ESTALE) {
			free(auth_user);
			if ((extra = challenge_line(r == ESTALE)) == NULL) {
				tx_respond(tr, req, 500, NULL, NULL, NULL);
				return;
			}
			random_hex(tag, 8);
			tx_respond(tr, req, 401, tag, extra, NULL);
			free(extra);
			return;
		}
		if (r != 0) {
			S.stats.auth_failures++;
			safe_name(auth_user, name, sizeof(name));
			log_notice("auth failure from %s user=%s", addr_str(&from->dst, a, sizeof(a)), name);
			free(auth_user);
			tx_respond(tr, req, 403, NULL, NULL, NULL);
			return;
		}
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
	    leg->invite == NULL || leg->inv_branch == NULL) {
		log_call(LOG_LEVEL_WARN, msg_call_id(req), "sip: out of memory for a new dialog");
		leg->closed = 1;
		tx_respond(tr, req, 503, NULL, NULL, NULL);
		leg_detach_tr(leg);
		return;
	}
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INVITE from %s to %s, calling %s%s%s",
	    addr_str(&from->dst, a, sizeof(a)), leg->called, leg->calling,
	    trusted ? " (trusted)" : "", leg->auth_user != NULL ? " (authenticated)" : "");
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
	inv.auth_user = leg->auth_user;
	inv.trusted = leg->trusted;
	inv.source = leg->source;
	inv.sdp = leg->sdp;
	inv.sdp_len = leg->sdp_len;
	S.invite_cb(S.invite_arg, &inv);
}

static void
handle_ack(osip_message_t *req)
{
	struct sip_leg *leg = find_dialog(req);
	const char *sdp;
	size_t len;

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
			    "Allow: " SIP_ALLOW "\r\nAccept: application/sdp\r\n", NULL);
	} else if (strcmp(m, "REGISTER") == 0) {
		/* No registrar yet. */
		tx_respond(tr, req, 403, NULL, NULL, NULL);
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
		if (leg->role == LEG_UAC && streq(leg->call_id, msg_call_id(resp)) &&
		    streq(leg->local_tag, from_tag(resp->from)) && leg->ack != NULL) {
			send_text(&leg->route, leg->call_id, leg->ack, leg->ack_len);
			return;
		}
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

static void
sip_cb_ict_1xx(int type, osip_transaction_t *tr, osip_message_t *resp)
{
	struct sip_leg *leg = tr_leg(tr);
	const char *sdp;
	size_t len;

	if (leg == NULL)
		return;
	leg->got_1xx = 1;
	if (leg->closed) {
		if (leg->cancel_pending)
			send_cancel(leg, 0);
		return;
	}
	if (resp->status_code <= 100)
		return;
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
	struct sbuf sb = {0}, rs = {0};
	struct addr local;
	osip_contact_t *c = NULL;
	char a[ADDR_STRLEN], branch[40], *s = NULL;
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
		free(leg->target);
		leg->target = strdup(s);
		osip_free(s);
	}
	for (int i = osip_list_size(&resp->record_routes) - 1; i >= 0; i--) {
		osip_record_route_t *rr = osip_list_get(&resp->record_routes, i);
		if (osip_record_route_to_str(rr, &s) == 0) {
			sb_printf(&rs, "Route: %s\r\n", s);
			osip_free(s);
		}
	}
	sb_printf(&rs, "%s", "");
	free(leg->routes);
	leg->routes = sb_done(&rs, NULL);
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

	if (leg == NULL || leg->state >= LEG_CONFIRMED)
		return;
	if (uac_ack(leg, resp) != 0)
		log_call(LOG_LEVEL_WARN, leg->call_id, "sip: could not send ACK");
	leg_set_state(leg, LEG_CONFIRMED);
	if (leg->closed) {
		/* Hung up while the answer was on its way. */
		send_bye(leg, 16);
		return;
	}
	if (msg_sdp(resp, &sdp, &len) == 0 && sdp != NULL)
		leg_set_sdp(leg, sdp, len);
	else
		sdp = NULL;
	if (leg->cbs != NULL && leg->cbs->answered != NULL)
		leg->cbs->answered(leg->owner, sdp != NULL ? leg->sdp : NULL, sdp != NULL ? leg->sdp_len : 0);
}

static void
sip_cb_ict_final(int type, osip_transaction_t *tr, osip_message_t *resp)
{
	struct sip_leg *leg = tr_leg(tr);

	if (leg == NULL)
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
	leg_detach_tr(leg);
	log_call(LOG_LEVEL_INFO, leg->call_id, "sip: INVITE timed out");
	leg_end(leg, 408, 0);
}

static void
sip_cb_nict_timeout(int type, osip_transaction_t *tr, osip_message_t *msg)
{
	const char *cid = tr->orig_request != NULL ? msg_call_id(tr->orig_request) : "-";

	log_call(LOG_LEVEL_INFO, cid, "sip: %s timed out",
	    tr->cseq != NULL && tr->cseq->method != NULL ? tr->cseq->method : "request");
}

static void
sip_cb_transport_error(int type, osip_transaction_t *tr, int error)
{
	struct sip_leg *leg = tr_leg(tr);
	const char *cid = tr->orig_request != NULL ? msg_call_id(tr->orig_request) : "-";

	log_call(LOG_LEVEL_WARN, cid, "sip: transport error on a transaction");
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
	S.cfg = cfg_ref((struct cfg *)cfg);
	S.initialized = 1;
	schedule();
	return 0;
out:
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
	const struct addr *a = sip_transport_listen_addr(tcp ? SIP_PROTO_TCP : SIP_PROTO_UDP, index);

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

int
sip_leg_respond(struct sip_leg *leg, int status, const char *sdp, int q850)
{
	char *extra = NULL, *contact = NULL, *reason = NULL, *text = NULL;
	size_t len;
	int error = 0;

	if (leg == NULL || leg->role != LEG_UAS || leg->closed || status < 101 || status > 699)
		return EINVAL;
	if (leg->state >= LEG_ANSWERED || leg->inv_tr == NULL)
		return EALREADY;
	if ((contact = contact_line(leg, leg->called)) == NULL || (reason = reason_line(q850)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if (asprintf(&extra, "%s%sAllow: " SIP_ALLOW "\r\n", status < 300 ? contact : "", reason) < 0) {
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
	if (status < 200) {
		leg_set_state(leg, LEG_EARLY);
	} else if (status < 300) {
		uint64_t now = now_ms();

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

int
sip_leg_invite(const char *uri, const char *calling, const char *calling_name,
               const char *sdp, const struct sip_leg_cbs *cbs, void *owner,
               struct sip_leg **out)
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
	if (addr_from_ip(&dst, host, u->port != NULL ? (unsigned int)atoi(u->port) : 5060) != 0) {
		error = EINVAL;     /* no DNS: an IP literal is needed */
		goto out;
	}
	if (osip_uri_uparam_get_byname(u, "transport", &tp) == 0 && tp != NULL && tp->gvalue != NULL &&
	    strcasecmp(tp->gvalue, "tcp") == 0)
		proto = SIP_PROTO_TCP;
	if ((leg = calloc(1, sizeof(*leg))) == NULL) {
		error = ENOMEM;
		goto out;
	}
	TAILQ_INSERT_TAIL(&S.legs, leg, entry);
	leg->role = LEG_UAC;
	leg->closed = 1;    /* until the INVITE is on its way */
	if ((error = sip_transport_route(proto, &dst, &leg->route)) != 0 ||
	    (error = sip_transport_local(&leg->route, &local)) != 0)
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
	if (asprintf(&leg->call_id, "%s@%s", rnd, h) < 0)
		leg->call_id = NULL;
	random_hex(rnd, 8);
	leg->local_tag = strdup(rnd);
	if (n > 0)
		error = asprintf(&leg->local_hdr, "\"%s\" <sip:%s@%s>;tag=%s", name, calling, h, rnd);
	else
		error = asprintf(&leg->local_hdr, "<sip:%s@%s>;tag=%s", calling, h, rnd);
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
	    proto == SIP_PROTO_TCP ? ";transport=tcp" : "");
	sb_printf(&sb, "Allow: " SIP_ALLOW "\r\nUser-Agent: %s\r\n", user_agent());
	if (sdp != NULL)
		sb_printf(&sb, "Content-Type: application/sdp\r\n");
	sb_printf(&sb, "Content-Length: %zu\r\n\r\n", sdp != NULL ? strlen(sdp) : 0);
	if (sdp != NULL)
		sb_append(&sb, sdp, strlen(sdp));
	if ((text = sb_done(&sb, &len)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((m = text_to_msg(text, len)) == NULL || osip_message_clone(m, &leg->invite) != 0) {
		leg->invite = NULL;
		error = EINVAL;
		goto out;
	}
	if ((error = client_tx(text, len, &leg->route, &leg->inv_tr)) != 0)
		goto out;
	osip_transaction_set_your_instance(leg->inv_tr, leg);
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

void
sip_leg_hangup(struct sip_leg *leg, int status, int q850)
{
	if (leg == NULL || leg->closed)
		return;
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
			if (leg->got_1xx)
				send_cancel(leg, q850);
			else
				leg->cancel_pending = 1;
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
