/* Trunks: number formats, registration timing and source matching (pure),
 * and the registration of each [trunk] with register = yes (glue).
 *
 * One registration per trunk: its own Call-ID for its lifetime, CSeq one
 * higher per REGISTER, a 401/407 answered with the trunk's credentials
 * (the client side of sip_auth.c). The state changes in trunk_set_state()
 * only; the times come from one clock read per event. */
#include "sip/sip_trunk.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <osipparser2/osip_parser.h>

#include "core/log.h"
#include "sip/sip_int.h"

#define TRUNK_BACKOFF_MAX 1800
#define TRUNK_NUM_MAX 64

/* ---- pure ---- */

static int
starts_with(const char *s, const char *prefix)
{
	return prefix != NULL && *prefix != '\0' && strncmp(s, prefix, strlen(prefix)) == 0;
}

int
sip_trunk_number(const struct cfg_trunk *t, const struct cfg_numrule *rule, int with_strip,
                 const char *number, char *out, size_t len)
{
	char tmp[TRUNK_NUM_MAX * 2], intl[TRUNK_NUM_MAX * 2];
	const char *cc = t->country_code != NULL ? t->country_code : "";
	const char *np = t->national_prefix != NULL ? t->national_prefix : "";
	const char *ip = t->international_prefix != NULL ? t->international_prefix : "";
	const char *n = number;
	int w, have_intl = 0;

	if (with_strip) {
		size_t l = strlen(number);

		if (rule->strip > 0 && rule->strip >= l)
			return EINVAL;
		w = snprintf(tmp, sizeof(tmp), "%s%s", rule->prepend != NULL ? rule->prepend : "",
		    number + rule->strip);
		if (w < 0 || (size_t)w >= sizeof(tmp))
			return ENOSPC;
		n = tmp;
	}
	/* The number as digits of an international number, when it is one. */
	if (n[0] == '+')
		have_intl = snprintf(intl, sizeof(intl), "%s", n + 1) > 0;
	else if (starts_with(n, ip))
		have_intl = snprintf(intl, sizeof(intl), "%s", n + strlen(ip)) > 0;
	else if (*cc != '\0' && starts_with(n, np))
		have_intl = snprintf(intl, sizeof(intl), "%s%s", cc, n + strlen(np)) > 0;
	if (have_intl && (intl[0] == '\0' || strspn(intl, "0123456789") != strlen(intl)))
		have_intl = 0;
	if (!have_intl || rule->format == CFG_NUMFMT_KEEP)
		w = snprintf(out, len, "%s", n);
	else if (rule->format == CFG_NUMFMT_E164)
		w = snprintf(out, len, "+%s", intl);
	else if (rule->format == CFG_NUMFMT_E164_NOPLUS)
		w = snprintf(out, len, "%s", intl);
	else if (*cc != '\0' && starts_with(intl, cc))
		w = snprintf(out, len, "%s%s", np, intl + strlen(cc));  /* national */
	else
		w = snprintf(out, len, "%s%s", ip, intl);
	if (w < 0 || (size_t)w >= len)
		return ENOSPC;
	return 0;
}

unsigned int
sip_trunk_refresh_after(unsigned int granted)
{
	unsigned int r;

	if (granted <= 60)
		r = granted / 2;
	else if ((r = granted / 10 * 9 + granted % 10 * 9 / 10) > granted - 30)
		r = granted - 30;
	return r > 0 ? r : 1;
}

unsigned int
sip_trunk_backoff(unsigned int first, unsigned int failures)
{
	unsigned int cap = first > TRUNK_BACKOFF_MAX ? first : TRUNK_BACKOFF_MAX;
	unsigned long long d = first > 0 ? first : 1;

	for (unsigned int i = 1; i < failures && d < cap; i++)
		d *= 2;
	return d > cap ? cap : (unsigned int)d;
}

const struct cfg_trunk *
sip_trunk_match(const struct cfg *c, const struct addr *src)
{
	for (size_t i = 0; c != NULL && i < c->n_trunks; i++)
		for (size_t j = 0; j < c->trunks[i].n_match; j++)
			if (cidr_match(&c->trunks[i].match[j], src))
				return &c->trunks[i];
	return NULL;
}

const struct cfg_trunk *
sip_trunk_by_user(const struct cfg *c, const char *user)
{
	for (size_t i = 0; c != NULL && user != NULL && i < c->n_trunks; i++)
		if (c->trunks[i].username != NULL && c->trunks[i].password != NULL &&
		    strcmp(c->trunks[i].username, user) == 0)
			return &c->trunks[i];
	return NULL;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
sip_trunk_same_registration(const struct cfg_trunk *a, const struct cfg_trunk *b)
{
	return same_str(a->host, b->host) && a->port == b->port &&
	    a->transport == b->transport && same_str(a->username, b->username) &&
	    same_str(a->auth_user, b->auth_user) && same_str(a->password, b->password) &&
	    same_str(a->ha1, b->ha1) && a->reg == b->reg &&
	    a->register_expires == b->register_expires && same_str(a->from_domain, b->from_domain);
}

const char *
sip_trunk_state_name(enum sip_trunk_state s)
{
	switch (s) {
	case SIP_TRUNK_IDLE:
		return "idle";
	case SIP_TRUNK_REGISTERING:
		return "registering";
	case SIP_TRUNK_REGISTERED:
		return "registered";
	case SIP_TRUNK_FAILED:
		return "failed";
	case SIP_TRUNK_UNREGISTERING:
		return "unregistering";
	}
	return "?";
}

/* ---- glue ---- */

struct trunk {
	TAILQ_ENTRY(trunk) entry;
	char *name;                     /* owned */
	struct cfg *gen;                /* reference held; t points into it */
	const struct cfg_trunk *t;
	enum sip_trunk_state state;
	int removed;                    /* unregistering; freed on its answer */
	char call_id[48];
	char tag[20];
	unsigned int cseq;
	unsigned int asked;             /* Expires of the REGISTER in flight */
	unsigned int min_expires;       /* from a 423, 0 none */
	int challenges;                 /* answered for the current refresh */
	unsigned int failures;          /* in a row */
	unsigned int granted;           /* s, of the last 2xx */
	int last_status;
	uint64_t ep;                    /* TCP/TLS connection of the last REGISTER, or 0 */
	uint64_t next_ms;               /* when the timer fires, 0 none */
	struct event *timer;            /* owned */
};
TAILQ_HEAD(trunk_list, trunk);

static struct {
	struct event_base *base;
	struct trunk_list list;
	int initialized;
} T;

static void trunk_on_timer(evutil_socket_t fd, short what, void *arg);

static void
trunk_set_state(struct trunk *tr, enum sip_trunk_state s, const char *why)
{
	if (tr->state == s)
		return;
	log_info("trunk %s: %s -> %s (%s)", tr->name, sip_trunk_state_name(tr->state),
	    sip_trunk_state_name(s), why);
	tr->state = s;
}

static void
trunk_schedule(struct trunk *tr, uint64_t now, unsigned int secs)
{
	struct timeval tv = { secs, 0 };

	tr->next_ms = now + (uint64_t)secs * 1000;
	evtimer_add(tr->timer, &tv);
}

static void
trunk_free(struct trunk *tr)
{
	TAILQ_REMOVE(&T.list, tr, entry);
	if (tr->timer != NULL)
		event_free(tr->timer);
	cfg_unref(tr->gen);
	free(tr->name);
	free(tr);
}

static const char *
trunk_domain(const struct cfg_trunk *t)
{
	return t->from_domain != NULL && *t->from_domain != '\0' ? t->from_domain : t->host;
}

static enum sip_proto
trunk_proto(const struct cfg_trunk *t)
{
	return t->transport == CFG_TRANSPORT_TLS ? SIP_PROTO_TLS :
	    t->transport == CFG_TRANSPORT_TCP ? SIP_PROTO_TCP : SIP_PROTO_UDP;
}

static const char *
transport_param(enum sip_proto p)
{
	return p == SIP_PROTO_TLS ? ";transport=tls" : p == SIP_PROTO_TCP ? ";transport=tcp" : "";
}

/* The Request-URI of our REGISTER into buf. */
static void
register_uri(const struct cfg_trunk *t, char *buf, size_t len)
{
	if (t->from_domain != NULL && *t->from_domain != '\0')
		snprintf(buf, len, "sip:%s%s", t->from_domain, transport_param(trunk_proto(t)));
	else if (strchr(t->host, ':') != NULL)
		snprintf(buf, len, "sip:[%s]:%u%s", t->host, t->port, transport_param(trunk_proto(t)));
	else
		snprintf(buf, len, "sip:%s:%u%s", t->host, t->port, transport_param(trunk_proto(t)));
}

/* Send a REGISTER asking for `expires` (0: unregister), with the answer
 * to a challenge when auth is not NULL. */
static int
trunk_send(struct trunk *tr, unsigned int expires, const char *auth)
{
	const struct cfg_trunk *t = tr->t;
	struct sip_route route;
	struct addr dst, local;
	char uri[300], a[ADDR_STRLEN], branch[40], *text = NULL;
	enum sip_proto proto = trunk_proto(t);
	int error, n;

	if ((error = addr_from_ip(&dst, t->host, t->port)) != 0)
		return error;
	if ((error = sip_transport_route(proto, &dst, &route)) != 0 ||
	    (error = sip_transport_local(&route, &local)) != 0)
		return error;
	tr->ep = proto != SIP_PROTO_UDP ? route.ep : 0;
	register_uri(t, uri, sizeof(uri));
	addr_str(&local, a, sizeof(a));
	memcpy(branch, "z9hG4bK", 7);
	sip_random_hex(branch + 7, 12);
	tr->asked = expires;
	n = asprintf(&text, "REGISTER %s SIP/2.0\r\n"
	    "Via: SIP/2.0/%s %s;branch=%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=%s\r\n"
	    "To: <sip:%s@%s>\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u REGISTER\r\n"
	    "Contact: <sip:%s@%s%s>\r\n"
	    "Expires: %u\r\n"
	    "%s"
	    "User-Agent: %s\r\n"
	    "Content-Length: 0\r\n\r\n",
	    uri, sip_proto_name(proto), a, branch, t->username, trunk_domain(t), tr->tag,
	    t->username, trunk_domain(t), tr->call_id, ++tr->cseq, t->username, a,
	    transport_param(proto), expires, auth != NULL ? auth : "", sip_user_agent());
	if (n < 0)
		return ENOMEM;
	error = sip_request_send(text, (size_t)n, &route);
	free(text);
	return error;
}

/* Register (or refresh) now; a failure to send counts as a failure. */
static void trunk_failed(struct trunk *tr, uint64_t now, int status, const char *why);

static void
trunk_register(struct trunk *tr, uint64_t now)
{
	unsigned int ask = tr->t->register_expires;
	int error;

	if (tr->min_expires > ask)
		ask = tr->min_expires;
	tr->challenges = 0;
	if (tr->state != SIP_TRUNK_REGISTERED)
		trunk_set_state(tr, SIP_TRUNK_REGISTERING, "REGISTER sent");
	if ((error = trunk_send(tr, ask, NULL)) != 0) {
		trunk_failed(tr, now, 503, strerror(error));
		return;
	}
	/* A lost answer ends in a transaction timeout (408), reported to us. */
}

static void
trunk_failed(struct trunk *tr, uint64_t now, int status, const char *why)
{
	unsigned int wait;

	tr->last_status = status;
	if (tr->removed) {
		log_info("trunk %s: unregistered (%d)", tr->name, status);
		trunk_free(tr);
		return;
	}
	tr->failures++;
	wait = sip_trunk_backoff(tr->t->register_retry, tr->failures);
	log_notice("trunk %s: registration failed: %d %s; again in %u s (failure %u)", tr->name,
	    status, why, wait, tr->failures);
	trunk_set_state(tr, SIP_TRUNK_FAILED, why);
	trunk_schedule(tr, now, wait);
}

static void
trunk_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct trunk *tr = arg;

	(void)fd;
	(void)what;
	tr->next_ms = 0;
	if (!tr->removed && tr->t->reg)
		trunk_register(tr, sip_now_ms());
}

static struct trunk *
trunk_new(struct cfg *gen, const struct cfg_trunk *t)
{
	struct trunk *tr;
	char rnd[33];

	if ((tr = calloc(1, sizeof(*tr))) == NULL || (tr->name = strdup(t->name)) == NULL ||
	    (tr->timer = evtimer_new(T.base, trunk_on_timer, tr)) == NULL) {
		if (tr != NULL) {
			free(tr->name);
			free(tr);
		}
		log_warnx("trunk %s: out of memory", t->name);
		return NULL;
	}
	tr->gen = cfg_ref(gen);
	tr->t = t;
	sip_random_hex(rnd, 16);
	snprintf(tr->call_id, sizeof(tr->call_id), "%s-trunk", rnd);
	sip_random_hex(tr->tag, 8);
	TAILQ_INSERT_TAIL(&T.list, tr, entry);
	return tr;
}

/* The expiry the registrar granted us: the expires of our Contact, else
 * Expires, else what we asked. */
static unsigned int
granted_expires(const struct trunk *tr, const osip_message_t *resp)
{
	osip_message_t *m = (osip_message_t *)resp;
	osip_contact_t *c = NULL;
	osip_header_t *h = NULL;
	long v = -1;

	for (int i = 0; osip_message_get_contact(m, i, &c) >= 0 && c != NULL; i++) {
		osip_generic_param_t *p = NULL;

		if (c->url == NULL || c->url->username == NULL ||
		    strcmp(c->url->username, tr->t->username) != 0)
			continue;
		if (osip_contact_param_get_byname(c, "expires", &p) == 0 && p != NULL &&
		    p->gvalue != NULL) {
			v = strtol(p->gvalue, NULL, 10);
			break;
		}
	}
	if (v < 0 && osip_message_get_expires(m, 0, &h) >= 0 && h != NULL && h->hvalue != NULL)
		v = strtol(h->hvalue, NULL, 10);
	if (v <= 0 || v > 86400 * 7)
		v = tr->asked;
	return (unsigned int)v;
}

/* Whether a challenge of resp says stale=true (our credentials were right,
 * the nonce old). */
static int
challenge_stale(const struct osip_message *resp)
{
	osip_message_t *m = (osip_message_t *)resp;
	osip_www_authenticate_t *ch = NULL;

	for (int i = 0; ; i++) {
		if ((resp->status_code == 407 ? osip_message_get_proxy_authenticate(m, i, &ch) :
		    osip_message_get_www_authenticate(m, i, &ch)) < 0 || ch == NULL)
			return 0;
		if (ch->stale != NULL && strcasestr(ch->stale, "true") != NULL)
			return 1;
	}
}

void
sip_trunk_on_response(const char *call_id, int status, const struct osip_message *resp)
{
	struct trunk *tr;
	uint64_t now = sip_now_ms();
	char *auth = NULL;

	TAILQ_FOREACH(tr, &T.list, entry)
		if (call_id != NULL && strcmp(tr->call_id, call_id) == 0)
			break;
	if (tr == NULL)
		return;
	if ((status == 401 || status == 407) && resp != NULL && tr->challenges < 3) {
		struct sip_auth_cred cred = {
			tr->t->auth_user != NULL ? tr->t->auth_user : tr->t->username,
			tr->t->password, tr->t->ha1,
		};
		char uri[300], cnonce[17];
		int error;

		/* A second challenge only after stale=true (a wrong password
		 * is challenged again by some registrars). */
		register_uri(tr->t, uri, sizeof(uri));
		sip_random_hex(cnonce, 8);
		error = sip_auth_answer(resp, &cred, "REGISTER", uri, cnonce, 1, &auth);
		if (error == 0 && (tr->challenges == 0 || challenge_stale(resp))) {
			tr->challenges++;
			error = trunk_send(tr, tr->asked, auth);
			free(auth);
			if (error == 0)
				return;
			trunk_failed(tr, now, 503, strerror(error));
			return;
		}
		free(auth);
		trunk_failed(tr, now, status, error != 0 ? "challenge not answerable" :
		    "credentials refused");
		return;
	}
	if (status == 423 && resp != NULL && !tr->removed) {
		osip_header_t *h = NULL;

		if (osip_message_header_get_byname(resp, "min-expires", 0, &h) >= 0 && h != NULL &&
		    h->hvalue != NULL && strtoul(h->hvalue, NULL, 10) > tr->asked &&
		    strtoul(h->hvalue, NULL, 10) <= 86400) {
			tr->min_expires = (unsigned int)strtoul(h->hvalue, NULL, 10);
			trunk_register(tr, now);
			return;
		}
	}
	if (status >= 200 && status < 300) {
		unsigned int after;

		tr->last_status = status;
		if (tr->removed) {
			log_info("trunk %s: unregistered", tr->name);
			trunk_free(tr);
			return;
		}
		tr->granted = granted_expires(tr, resp);
		tr->failures = 0;
		after = sip_trunk_refresh_after(tr->granted);
		trunk_set_state(tr, SIP_TRUNK_REGISTERED, "200");
		log_info("trunk %s: registered for %u s, refresh in %u s", tr->name, tr->granted,
		    after);
		trunk_schedule(tr, now, after);
		return;
	}
	trunk_failed(tr, now, status, status == 408 ? "no answer" : "refused");
}

/* Take the trunks of cfg: unchanged ones keep their registration, changed
 * and removed ones unregister, new ones register. */
static void
trunk_take(const struct cfg *cfg)
{
	struct trunk *tr, *tmp;
	uint64_t now = sip_now_ms();

	TAILQ_FOREACH_SAFE(tr, &T.list, entry, tmp) {
		const struct cfg_trunk *nt;

		if (tr->removed)
			continue;
		nt = cfg != NULL ? cfg_trunk_find(cfg, tr->name) : NULL;
		if (nt != NULL && sip_trunk_same_registration(tr->t, nt)) {
			cfg_unref(tr->gen);
			tr->gen = cfg_ref((struct cfg *)cfg);
			tr->t = nt;
			continue;
		}
		evtimer_del(tr->timer);
		tr->next_ms = 0;
		if (tr->state == SIP_TRUNK_REGISTERED || tr->state == SIP_TRUNK_REGISTERING) {
			tr->removed = 1;
			tr->challenges = 0;
			trunk_set_state(tr, SIP_TRUNK_UNREGISTERING, nt == NULL ? "removed" :
			    "changed");
			if (trunk_send(tr, 0, NULL) == 0)
				continue;
		}
		trunk_free(tr);
	}
	for (size_t i = 0; cfg != NULL && i < cfg->n_trunks; i++) {
		const struct cfg_trunk *t = &cfg->trunks[i];

		TAILQ_FOREACH(tr, &T.list, entry)
			if (!tr->removed && strcmp(tr->name, t->name) == 0)
				break;
		if (tr != NULL || (tr = trunk_new((struct cfg *)cfg, t)) == NULL)
			continue;
		if (t->reg)
			trunk_schedule(tr, now, 0);   /* from the loop, once sip is up */
	}
}

int
sip_trunk_init(struct event_base *base, const struct cfg *cfg)
{
	if (!T.initialized) {
		TAILQ_INIT(&T.list);
		T.initialized = 1;
	}
	T.base = base;
	trunk_take(cfg);
	return 0;
}

void
sip_trunk_apply(const struct cfg *cfg)
{
	if (T.initialized)
		trunk_take(cfg);
}

void
sip_trunk_shutdown(void)
{
	struct trunk *tr;

	if (!T.initialized)
		return;
	while ((tr = TAILQ_FIRST(&T.list)) != NULL) {
		if (!tr->removed && tr->state == SIP_TRUNK_REGISTERED)
			trunk_send(tr, 0, NULL);        /* best effort */
		trunk_free(tr);
	}
	T.initialized = 0;
}

int
sip_trunk_uses_ep(uint64_t ep)
{
	const struct trunk *tr;

	if (!T.initialized)
		return 0;
	TAILQ_FOREACH(tr, &T.list, entry)
		if (tr->ep == ep && tr->state != SIP_TRUNK_IDLE && tr->state != SIP_TRUNK_FAILED)
			return 1;
	return 0;
}

void
sip_trunk_write(struct evbuffer *out)
{
	const struct trunk *tr;
	uint64_t now = sip_now_ms();

	if (!T.initialized)
		return;
	TAILQ_FOREACH(tr, &T.list, entry) {
		evbuffer_add_printf(out, "trunk=%s state=%s proxy=%s:%u/%s register=%s", tr->name,
		    sip_trunk_state_name(tr->state), tr->t->host, tr->t->port,
		    tr->t->transport == CFG_TRANSPORT_TLS ? "tls" :
		    tr->t->transport == CFG_TRANSPORT_TCP ? "tcp" : "udp",
		    tr->t->reg ? "yes" : "no");
		if (tr->state == SIP_TRUNK_REGISTERED)
			evbuffer_add_printf(out, " expires=%u", tr->granted);
		if (tr->last_status != 0)
			evbuffer_add_printf(out, " last=%d", tr->last_status);
		evbuffer_add_printf(out, " failures=%u", tr->failures);
		if (tr->next_ms > now)
			evbuffer_add_printf(out, " next=%llu",
			    (unsigned long long)(tr->next_ms - now + 999) / 1000);
		evbuffer_add_printf(out, "\n");
	}
}
