/* The registrar: the store of bindings (pure, `now` passed in), its SQLite
 * persistence, the answer to an authenticated REGISTER, and the timer that
 * expires bindings and sends NAT keep-alives (CRLF) to UDP contacts. */
#include "sip/sip_registrar.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <osipparser2/osip_parser.h>
#include <sqlite3.h>

#include "core/log.h"
#include "sip/sip.h"

TAILQ_HEAD(sip_reg_list, sip_reg_contact);

struct sip_reg {
	struct sip_reg_list contacts;   /* owned */
	sqlite3 *db;                    /* owned, or NULL: memory only */
	int db_failed;                  /* a write failed (logged once) */
};

/* ---- the store -------------------------------------------------------- */

struct sip_reg *
sip_reg_new(void)
{
	struct sip_reg *r = calloc(1, sizeof(*r));

	if (r != NULL)
		TAILQ_INIT(&r->contacts);
	return r;
}

static void
contact_free(struct sip_reg_contact *c)
{
	free(c->user);
	free(c->uri);
	free(c->call_id);
	free(c);
}

void
sip_reg_free(struct sip_reg *r)
{
	struct sip_reg_contact *c;

	if (r == NULL)
		return;
	while ((c = TAILQ_FIRST(&r->contacts)) != NULL) {
		TAILQ_REMOVE(&r->contacts, c, entry);
		contact_free(c);
	}
	if (r->db != NULL)
		sqlite3_close(r->db);
	free(r);
}

static void
db_error(struct sip_reg *r, const char *what)
{
	if (!r->db_failed)
		log_warnx("registrar: database %s: %s (further errors not logged)", what,
		    sqlite3_errmsg(r->db));
	r->db_failed = 1;
}

/* The transport as the log, `registrations` and the store name it. */
static const char *
reg_proto_name(enum sip_proto p)
{
	return p == SIP_PROTO_TLS ? "tls" : p == SIP_PROTO_TCP ? "tcp" : "udp";
}

/* Write one binding through (insert or replace), or delete it. */
static void
db_put(struct sip_reg *r, const struct sip_reg_contact *c)
{
	static const char sql[] = "INSERT OR REPLACE INTO registrations "
	    "(user, uri, call_id, cseq, proto, ip, port, expires, updated) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	sqlite3_stmt *st = NULL;
	char ip[ADDR_STRLEN];

	if (r->db == NULL)
		return;
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(r, "insert");
		return;
	}
	addr_ip_str(&c->route.dst, ip, sizeof(ip));
	sqlite3_bind_text(st, 1, c->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, c->cseq);
	sqlite3_bind_text(st, 5, reg_proto_name(c->route.proto), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, (int)addr_port(&c->route.dst));
	sqlite3_bind_int64(st, 8, (sqlite3_int64)c->expires);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)c->updated);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_error(r, "insert");
	sqlite3_finalize(st);
}

static void
db_del(struct sip_reg *r, const struct sip_reg_contact *c)
{
	sqlite3_stmt *st = NULL;

	if (r->db == NULL)
		return;
	if (sqlite3_prepare_v2(r->db, "DELETE FROM registrations WHERE user = ?1 AND uri = ?2",
	    -1, &st, NULL) != SQLITE_OK) {
		db_error(r, "delete");
		return;
	}
	sqlite3_bind_text(st, 1, c->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->uri, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_error(r, "delete");
	sqlite3_finalize(st);
}

static void
contact_remove(struct sip_reg *r, struct sip_reg_contact *c)
{
	db_del(r, c);
	TAILQ_REMOVE(&r->contacts, c, entry);
	contact_free(c);
}

static struct sip_reg_contact *
contact_find(struct sip_reg *r, const char *user, const char *uri)
{
	struct sip_reg_contact *c;

	TAILQ_FOREACH(c, &r->contacts, entry) {
		if (strcmp(c->user, user) == 0 && strcasecmp(c->uri, uri) == 0)
			return c;
	}
	return NULL;
}

static size_t
user_count(struct sip_reg *r, const char *user, struct sip_reg_contact **oldest)
{
	struct sip_reg_contact *c;
	size_t n = 0;

	*oldest = NULL;
	TAILQ_FOREACH(c, &r->contacts, entry) {
		if (strcmp(c->user, user) != 0)
			continue;
		n++;
		if (*oldest == NULL || c->updated < (*oldest)->updated)
			*oldest = c;
	}
	return n;
}

int
sip_reg_bind(struct sip_reg *r, const struct sip_reg_binding *b, unsigned int max_contacts,
             time_t now)
{
	struct sip_reg_contact *c = contact_find(r, b->user, b->uri), *oldest;
	char *cid;

	if (c != NULL && c->call_id != NULL && b->call_id != NULL &&
	    strcmp(c->call_id, b->call_id) == 0 && b->cseq <= c->cseq && c->expires > now)
		return EAGAIN;
	if (b->expires == 0) {
		if (c != NULL)
			contact_remove(r, c);
		return 0;
	}
	if ((cid = strdup(b->call_id != NULL ? b->call_id : "")) == NULL)
		return ENOMEM;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->user = strdup(b->user)) == NULL || (c->uri = strdup(b->uri)) == NULL) {
			if (c != NULL)
				contact_free(c);
			free(cid);
			return ENOMEM;
		}
		if (max_contacts < 1)
			max_contacts = 1;
		while (user_count(r, b->user, &oldest) >= max_contacts && oldest != NULL)
			contact_remove(r, oldest);
		TAILQ_INSERT_TAIL(&r->contacts, c, entry);
	}
	free(c->call_id);
	c->call_id = cid;
	c->cseq = b->cseq;
	c->route = *b->route;
	c->expires = now + (time_t)b->expires;
	c->updated = now;
	c->next_keepalive = 0;
	db_put(r, c);
	return 0;
}

size_t
sip_reg_remove_user(struct sip_reg *r, const char *user)
{
	struct sip_reg_contact *c, *next;
	size_t n = 0;

	TAILQ_FOREACH_SAFE(c, &r->contacts, entry, next) {
		if (strcmp(c->user, user) == 0) {
			contact_remove(r, c);
			n++;
		}
	}
	return n;
}

size_t
sip_reg_expire(struct sip_reg *r, time_t now)
{
	struct sip_reg_contact *c, *next;
	size_t n = 0;

	TAILQ_FOREACH_SAFE(c, &r->contacts, entry, next) {
		if (c->expires <= now) {
			log_info("registrar: user %s contact %s expired", c->user, c->uri);
			contact_remove(r, c);
			n++;
		}
	}
	return n;
}

size_t
sip_reg_lookup(struct sip_reg *r, const char *user, time_t now,
               const struct sip_reg_contact **out, size_t max)
{
	const struct sip_reg_contact *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &r->contacts, entry) {
		if (strcmp(c->user, user) != 0 || c->expires <= now)
			continue;
		/* Insertion sort, most recently refreshed first; when out is
		 * full, a more recent one pushes the last out. */
		if (max > 0 && (n < max || out[max - 1]->updated < c->updated)) {
			size_t i = n < max ? n : max - 1;
			while (i > 0 && out[i - 1]->updated < c->updated) {
				out[i] = out[i - 1];
				i--;
			}
			out[i] = c;
		}
		n++;
	}
	return n;
}

size_t
sip_reg_keepalives_due(struct sip_reg *r, time_t now, unsigned int interval,
                       const struct sip_reg_contact **out, size_t max)
{
	struct sip_reg_contact *c;
	size_t n = 0;

	if (interval == 0)
		return 0;
	TAILQ_FOREACH(c, &r->contacts, entry) {
		if (c->route.proto != SIP_PROTO_UDP || c->expires <= now)
			continue;
		if (c->next_keepalive == 0)
			c->next_keepalive = c->updated + (time_t)interval;
		if (c->next_keepalive > now || n >= max)
			continue;
		c->next_keepalive = now + (time_t)interval;
		out[n++] = c;
	}
	return n;
}

const struct sip_reg_contact *
sip_reg_first(const struct sip_reg *r)
{
	return TAILQ_FIRST(&r->contacts);
}

const struct sip_reg_contact *
sip_reg_next(const struct sip_reg_contact *c)
{
	return TAILQ_NEXT(c, entry);
}

/* ---- persistence ------------------------------------------------------ */

int
sip_reg_db_open(struct sip_reg *r, const char *dir)
{
	static const char schema[] =
	    "PRAGMA synchronous = NORMAL;"
	    "CREATE TABLE IF NOT EXISTS registrations ("
	    " user TEXT NOT NULL, uri TEXT NOT NULL, call_id TEXT, cseq INTEGER,"
	    " proto TEXT NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL,"
	    " expires INTEGER NOT NULL, updated INTEGER NOT NULL,"
	    " PRIMARY KEY (user, uri));";
	sqlite3 *db = NULL;
	char *path = NULL;
	int error = 0;

	if (r->db != NULL)
		return EALREADY;
	if (asprintf(&path, "%s/%s", dir, SIP_REG_DB_NAME) < 0)
		return ENOMEM;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		error = EACCES;
		log_warnx("registrar: cannot open %s: %s", path, db != NULL ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	sqlite3_busy_timeout(db, 200);
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		error = EACCES;
		log_warnx("registrar: cannot use %s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	r->db = db;
	db = NULL;
	r->db_failed = 0;
out:
	if (db != NULL)
		sqlite3_close(db);
	free(path);
	return error;
}

int
sip_reg_db_load(struct sip_reg *r, time_t now)
{
	static const char sql[] = "SELECT user, uri, call_id, cseq, proto, ip, port, expires, updated "
	    "FROM registrations";
	sqlite3_stmt *st = NULL;
	int n = 0, rc;

	if (r->db == NULL)
		return -1;
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(r, "select");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *user = (const char *)sqlite3_column_text(st, 0);
		const char *uri = (const char *)sqlite3_column_text(st, 1);
		const char *cid = (const char *)sqlite3_column_text(st, 2);
		const char *proto = (const char *)sqlite3_column_text(st, 4);
		const char *ip = (const char *)sqlite3_column_text(st, 5);
		int port = sqlite3_column_int(st, 6);
		time_t expires = (time_t)sqlite3_column_int64(st, 7);
		struct sip_reg_contact *c;

		if (user == NULL || uri == NULL || proto == NULL || ip == NULL || expires <= now ||
		    port <= 0 || port > 65535 || contact_find(r, user, uri) != NULL)
			continue;
		if ((c = calloc(1, sizeof(*c))) == NULL)
			break;
		c->user = strdup(user);
		c->uri = strdup(uri);
		c->call_id = strdup(cid != NULL ? cid : "");
		if (c->user == NULL || c->uri == NULL || c->call_id == NULL ||
		    addr_from_ip(&c->route.dst, ip, (unsigned int)port) != 0) {
			contact_free(c);
			continue;
		}
		c->cseq = (unsigned int)sqlite3_column_int64(st, 3);
		c->route.proto = strcmp(proto, "tls") == 0 ? SIP_PROTO_TLS :
		    strcmp(proto, "tcp") == 0 ? SIP_PROTO_TCP : SIP_PROTO_UDP;
		c->route.ep = 0;        /* the connection or listener of before is gone */
		c->expires = expires;
		c->updated = (time_t)sqlite3_column_int64(st, 8);
		TAILQ_INSERT_TAIL(&r->contacts, c, entry);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		db_error(r, "select");
	{
		sqlite3_stmt *del = NULL;
		if (sqlite3_prepare_v2(r->db, "DELETE FROM registrations WHERE expires <= ?1", -1, &del,
		    NULL) == SQLITE_OK) {
			sqlite3_bind_int64(del, 1, (sqlite3_int64)now);
			sqlite3_step(del);
			sqlite3_finalize(del);
		}
	}
	return n;
}

/* ---- the glue --------------------------------------------------------- */

#define REG_TICK_SEC 1
#define REG_KEEPALIVE_BURST 256

static struct {
	struct sip_reg *store;          /* owned */
	struct cfg *cfg;                /* reference held */
	struct event *timer;            /* owned: expiry and keep-alives */
	struct log_ratelimit rl;
} R;

static void purge_unknown_users(const struct cfg *cfg);

static time_t
wall_now(void)
{
	return time(NULL);
}

static void
sip_on_registrar_tick(evutil_socket_t fd, short what, void *arg)
{
	const struct sip_reg_contact *due[REG_KEEPALIVE_BURST];
	time_t now = wall_now();
	size_t n;

	sip_reg_expire(R.store, now);
	n = sip_reg_keepalives_due(R.store, now, R.cfg != NULL ? R.cfg->sip.keepalive_interval : 0,
	    due, REG_KEEPALIVE_BURST);
	for (size_t i = 0; i < n; i++) {
		int error = sip_transport_send(&due[i]->route, "\r\n\r\n", 4);
		if (error != 0) {
			char a[ADDR_STRLEN];
			log_limited(&R.rl, LOG_LEVEL_INFO, "registrar: keep-alive to %s: %s",
			    addr_str(&due[i]->route.dst, a, sizeof(a)), strerror(error));
		}
	}
}

int
sip_registrar_init(struct event_base *base, const struct cfg *cfg)
{
	struct timeval tv = {REG_TICK_SEC, 0};
	const char *dir = cfg->general.state_dir;
	int n;

	memset(&R, 0, sizeof(R));
	if ((R.store = sip_reg_new()) == NULL)
		return ENOMEM;
	R.timer = event_new(base, -1, EV_PERSIST, sip_on_registrar_tick, NULL);
	if (R.timer == NULL || event_add(R.timer, &tv) < 0) {
		sip_registrar_shutdown();
		return ENOMEM;
	}
	R.cfg = cfg_ref((struct cfg *)cfg);
	if (dir == NULL || *dir == '\0' || sip_reg_db_open(R.store, dir) != 0) {
		log_warnx("registrar: state_dir %s not usable: registrations are kept in memory only",
		    dir != NULL ? dir : "(none)");
		return 0;
	}
	n = sip_reg_db_load(R.store, wall_now());
	if (n >= 0)
		log_info("registrar: %d registrations loaded from %s/%s", n, dir, SIP_REG_DB_NAME);
	purge_unknown_users(cfg);
	return 0;
}

/* Drop the bindings of users the configuration no longer has. */
static void
purge_unknown_users(const struct cfg *cfg)
{
	const struct sip_reg_contact *c = sip_reg_first(R.store);

	while (c != NULL) {
		const struct sip_reg_contact *next = sip_reg_next(c);

		if (cfg_user_find(cfg, c->user) == NULL) {
			char *user = strdup(c->user);
			if (user == NULL)
				break;
			log_info("registrar: user %s is no longer configured: %zu contacts dropped", user,
			    sip_reg_remove_user(R.store, user));
			free(user);
			next = sip_reg_first(R.store);  /* the list changed */
		}
		c = next;
	}
}

void
sip_registrar_apply(const struct cfg *cfg)
{
	if (R.store == NULL)
		return;
	cfg_ref((struct cfg *)cfg);
	cfg_unref(R.cfg);
	R.cfg = (struct cfg *)cfg;
	purge_unknown_users(cfg);
}

void
sip_registrar_shutdown(void)
{
	if (R.timer != NULL)
		event_free(R.timer);
	sip_reg_free(R.store);
	if (R.cfg != NULL)
		cfg_unref(R.cfg);
	memset(&R, 0, sizeof(R));
}

struct sip_reg *
sip_registrar_store(void)
{
	return R.store;
}

int
sip_user_contact_family(const char *user)
{
	const struct sip_reg_contact *rc;

	if (R.store == NULL || sip_reg_lookup(R.store, user, time(NULL), &rc, 1) != 1)
		return AF_UNSPEC;
	return rc->route.dst.u.sa.sa_family;
}

/* Seconds of an Expires value: digits only; -1 when bad. */
static long
parse_expires(const char *s)
{
	long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v < 100000000)
			v = v * 10 + (*s - '0');
	}
	return v;
}

/* The Contact header lines of the user's live bindings. */
static int
contact_lines(const char *user, time_t now, char **out)
{
	const struct sip_reg_contact *cs[32];
	size_t n = sip_reg_lookup(R.store, user, now, cs, 32);
	char *s = strdup(""), *t;

	if (n > 32)
		n = 32;
	for (size_t i = 0; s != NULL && i < n; i++) {
		if (asprintf(&t, "%sContact: <%s>;expires=%lld\r\n", s,
		    cs[i]->uri, (long long)(cs[i]->expires - now)) < 0)
			t = NULL;
		free(s);
		s = t;
	}
	*out = s;
	return s != NULL ? 0 : ENOMEM;
}

int
sip_registrar_register(const osip_message_t *req, const struct sip_route *from,
                       const char *user, char **extra)
{
	const struct cfg_sip *cs = &R.cfg->sip;
	osip_header_t *h = NULL;
	osip_contact_t *ct;
	long hdr_expires = -1;
	time_t now = wall_now();
	int star = 0, ncontacts, status = 200;
	unsigned int cseq;
	char *call_id = NULL, a[ADDR_STRLEN];

	*extra = NULL;
	if (R.store == NULL || R.cfg == NULL)
		return 500;
	if (osip_message_header_get_byname(req, "expires", 0, &h) >= 0 && h != NULL) {
		if ((hdr_expires = parse_expires(h->hvalue)) < 0)
			return 400;
	}
	cseq = (unsigned int)strtoul(req->cseq->number, NULL, 10);
	if (osip_call_id_to_str(req->call_id, &call_id) != 0)
		return 400;
	ncontacts = osip_list_size(&req->contacts);
	/* First pass: validate everything, change nothing. */
	for (int i = 0; i < ncontacts; i++) {
		osip_generic_param_t *p = NULL;
		long e = hdr_expires;

		ct = osip_list_get(&req->contacts, i);
		if (ct->displayname != NULL && strcmp(ct->displayname, "*") == 0 && ct->url == NULL) {
			star = 1;
			continue;
		}
		if (ct->url == NULL) {
			status = 400;
			goto out;
		}
		if (osip_contact_param_get_byname(ct, "expires", &p) == 0 && p != NULL &&
		    (e = parse_expires(p->gvalue)) < 0) {
			status = 400;
			goto out;
		}
		if (e < 0)
			e = (long)cs->register_max_expires;
		if (e > 0 && e < (long)cs->register_min_expires) {
			if (asprintf(extra, "Min-Expires: %u\r\n", cs->register_min_expires) < 0)
				*extra = NULL;
			status = 423;
			goto out;
		}
	}
	if (star && (ncontacts != 1 || hdr_expires != 0)) {
		status = 400;
		goto out;
	}
	if (star) {
		size_t n = sip_reg_remove_user(R.store, user);
		log_info("registrar: user %s unregistered all %zu contacts from %s", user, n,
		    addr_str(&from->dst, a, sizeof(a)));
	}
	for (int i = 0; !star && i < ncontacts; i++) {
		osip_generic_param_t *p = NULL;
		struct sip_reg_binding b;
		long e = hdr_expires;
		char *uri = NULL;
		int error;

		ct = osip_list_get(&req->contacts, i);
		if (osip_contact_param_get_byname(ct, "expires", &p) == 0 && p != NULL)
			e = parse_expires(p->gvalue);
		if (e < 0)
			e = (long)cs->register_max_expires;
		if (e > (long)cs->register_max_expires)
			e = (long)cs->register_max_expires;
		if (osip_uri_to_str(ct->url, &uri) != 0 || uri == NULL)
			continue;
		if (strlen(uri) >= SIP_REG_URI_MAX) {
			osip_free(uri);
			status = 400;
			goto out;
		}
		memset(&b, 0, sizeof(b));
		b.user = user;
		b.uri = uri;
		b.call_id = call_id;
		b.cseq = cseq;
		b.route = from;
		b.expires = (unsigned int)e;
		error = sip_reg_bind(R.store, &b, cs->register_max_contacts, now);
		if (error == 0 && e > 0)
			log_info("registrar: user %s registered %s via %s %s for %ld s", user, uri,
			    reg_proto_name(from->proto), addr_str(&from->dst, a, sizeof(a)), e);
		else if (error == 0)
			log_info("registrar: user %s unregistered %s via %s %s", user, uri,
			    reg_proto_name(from->proto), addr_str(&from->dst, a, sizeof(a)));
		osip_free(uri);
		if (error == EAGAIN) {
			status = 500;   /* RFC 3261 10.3 step 7: out of order */
			goto out;
		}
		if (error != 0) {
			status = 500;
			goto out;
		}
	}
	if (contact_lines(user, now, extra) != 0)
		status = 500;
out:
	osip_free(call_id);
	return status;
}

void
sip_registrations_write(struct evbuffer *out)
{
	const struct sip_reg_contact *c;
	time_t now = wall_now();
	char a[ADDR_STRLEN];

	if (R.store == NULL)
		return;
	for (c = sip_reg_first(R.store); c != NULL; c = sip_reg_next(c)) {
		if (c->expires <= now)
			continue;
		evbuffer_add_printf(out, "user=%s contact=%s via=%s source=%s expires=%lld\n",
		    c->user, c->uri, reg_proto_name(c->route.proto),
		    addr_str(&c->route.dst, a, sizeof(a)), (long long)(c->expires - now));
	}
}
