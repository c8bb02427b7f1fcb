/* Digest authentication (RFC 3261 22.4 with RFC 2617 / 7616 qop=auth,
 * MD5 and SHA-256 per RFC 8760) and the guards in front of it: nonces
 * bound to time by an HMAC of a random per-process secret, nonce-count
 * replay checks, sources blocked after repeated failures, and the global
 * rate of call attempts.
 *
 * The decisions take `now` from the caller; the state (nonce counts,
 * blocked sources, the attempt window) is per process and survives a
 * config reload. */
#include "sip/sip_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <osipparser2/osip_parser.h>

#include "call/limits.h"
#include "core/log.h"
#include "sip/sip_trunk.h"

static unsigned char auth_secret[32];
static int auth_have_secret;

/* Nonce counts seen: NC_BUCKETS buckets of NC_WAYS entries by a hash of
 * the nonce. Entries are added only for a correct response, so only
 * users who know a password can fill the table; when an entry must be
 * evicted, every nonce issued up to its time counts as stale from then on
 * (nc_floor), so an evicted nonce cannot be replayed. */
#define NC_BUCKETS 1024
#define NC_WAYS 4
struct nc_entry {
	char nonce[SIP_AUTH_NONCE_LEN];
	unsigned long nc;
	long long ts;                   /* the nonce's time */
};
static struct nc_entry nc_table[NC_BUCKETS][NC_WAYS];
static long long nc_floor = -1;

#define BAN_MAX 4096
static struct limits_ban *auth_ban;             /* owned */
static struct limits_window auth_attempts;     /* INVITEs in the last second */
static struct log_ratelimit rl_blocked, rl_attempts;

void
sip_auth_init(void)
{
	if (RAND_bytes(auth_secret, sizeof(auth_secret)) != 1) {
		/* Unlikely; fall back to something that is at least not fixed. */
		for (size_t i = 0; i < sizeof(auth_secret); i++)
			auth_secret[i] = (unsigned char)random();
	}
	auth_have_secret = 1;
}

void
sip_auth_set_secret(const unsigned char *key, size_t len)
{
	memset(auth_secret, 0, sizeof(auth_secret));
	memcpy(auth_secret, key, len < sizeof(auth_secret) ? len : sizeof(auth_secret));
	auth_have_secret = 1;
}

void
sip_auth_reset(void)
{
	memset(nc_table, 0, sizeof(nc_table));
	nc_floor = -1;
	limits_ban_free(auth_ban);
	auth_ban = NULL;
	limits_window_release(&auth_attempts);
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- digest math ---- */

const char *
sip_auth_alg_name(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_SHA256 ? "SHA-256" : "MD5";
}

int
sip_auth_alg_parse(const char *s, enum sip_auth_alg *alg)
{
	if (s == NULL || strcasecmp(s, "MD5") == 0)
		*alg = SIP_AUTH_MD5;
	else if (strcasecmp(s, "SHA-256") == 0)
		*alg = SIP_AUTH_SHA256;
	else
		return EINVAL;
	return 0;
}

static size_t
alg_hexlen(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_SHA256 ? 64 : 32;
}

int
sip_auth_hash(enum sip_auth_alg alg, const char *s, char out[SIP_AUTH_HEX_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *md_type = alg == SIP_AUTH_SHA256 ? EVP_sha256() : EVP_md5();

	if (EVP_Digest(s, strlen(s), md, &mdlen, md_type, NULL) != 1 ||
	    mdlen * 2 != alg_hexlen(alg))
		return EIO;
	hex(md, mdlen, out);
	return 0;
}

int
sip_auth_ha1(enum sip_auth_alg alg, const char *user, const char *realm, const char *password,
             char out[SIP_AUTH_HEX_MAX])
{
	char *s = NULL;
	int error;

	if (asprintf(&s, "%s:%s:%s", user, realm, password) < 0)
		return ENOMEM;
	error = sip_auth_hash(alg, s, out);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return error;
}

int
sip_auth_digest(enum sip_auth_alg alg, const char *ha1_in, const char *method, const char *uri,
                const char *nonce, const char *nc, const char *cnonce, const char *qop,
                char out[SIP_AUTH_HEX_MAX])
{
	char ha1[SIP_AUTH_HEX_MAX], ha2[SIP_AUTH_HEX_MAX], *s = NULL;
	size_t n = alg_hexlen(alg);
	int error = 0;

	if (ha1_in == NULL || strlen(ha1_in) != n)
		return EINVAL;
	/* Lower case: the hex digits are hashed as text. */
	for (size_t i = 0; i < n; i++)
		ha1[i] = (char)tolower((unsigned char)ha1_in[i]);
	ha1[n] = '\0';
	if (asprintf(&s, "%s:%s", method, uri) < 0) {
		s = NULL;
		error = ENOMEM;
		goto out;
	}
	if ((error = sip_auth_hash(alg, s, ha2)) != 0)
		goto out;
	free(s);
	s = NULL;
	if (qop != NULL && *qop != '\0') {
		if (nc == NULL || cnonce == NULL) {
			error = EINVAL;
			goto out;
		}
		if (asprintf(&s, "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2) < 0)
			s = NULL;
	} else if (asprintf(&s, "%s:%s:%s", ha1, nonce, ha2) < 0) {
		s = NULL;
	}
	if (s == NULL) {
		error = ENOMEM;
		goto out;
	}
	error = sip_auth_hash(alg, s, out);
out:
	free(s);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return error;
}

int
sip_auth_response(const char *user, const char *realm, const char *password,
                  const char *method, const char *uri, const char *nonce,
                  const char *nc, const char *cnonce, const char *qop,
                  char out[33])
{
	char ha1[SIP_AUTH_HEX_MAX], r[SIP_AUTH_HEX_MAX];
	int error;

	if ((error = sip_auth_ha1(SIP_AUTH_MD5, user, realm, password, ha1)) != 0)
		return error;
	if ((error = sip_auth_digest(SIP_AUTH_MD5, ha1, method, uri, nonce, nc, cnonce, qop,
	    r)) != 0)
		return error;
	memcpy(out, r, 33);
	return 0;
}

int
sip_auth_response_ha1(const char *ha1, const char *method, const char *uri,
                      const char *nonce, const char *nc, const char *cnonce,
                      const char *qop, char out[33])
{
	char r[SIP_AUTH_HEX_MAX];
	int error;

	if ((error = sip_auth_digest(SIP_AUTH_MD5, ha1, method, uri, nonce, nc, cnonce, qop,
	    r)) != 0)
		return error;
	memcpy(out, r, 33);
	return 0;
}

/* ---- nonces ---- */

/* A nonce: 16 hex digits of its time, 16 of randomness (two clients
 * challenged in the same second get different nonces, each with its own
 * nonce count), and 32 of an HMAC-SHA256 of both under the secret. */
#define NONCE_HEX 64

/* The MAC part of a nonce for its first 32 hex digits. */
static int
nonce_mac(const char *head, char out[33])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!auth_have_secret)
		sip_auth_init();
	if (HMAC(EVP_sha256(), auth_secret, sizeof(auth_secret),
	    (const unsigned char *)head, 32, mac, &maclen) == NULL || maclen < 16)
		return EIO;
	hex(mac, 16, out);
	return 0;
}

int
sip_auth_nonce(time_t now, char *buf, size_t len)
{
	unsigned char rnd[8];
	char head[33], rhex[17], mac[33];
	int error;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return EIO;
	hex(rnd, sizeof(rnd), rhex);
	snprintf(head, sizeof(head), "%016llx%s", (unsigned long long)now, rhex);
	if ((error = nonce_mac(head, mac)) != 0)
		return error;
	if ((size_t)snprintf(buf, len, "%s%s", head, mac) >= len)
		return ENOSPC;
	return 0;
}

/* The time of a nonce of ours, or -1 when it is not ours. */
static long long
nonce_time(const char *nonce)
{
	char ts[17], mac[33];
	unsigned long long t;
	char *end;

	if (nonce == NULL || strlen(nonce) != NONCE_HEX ||
	    strspn(nonce, "0123456789abcdef") != NONCE_HEX)
		return -1;
	if (nonce_mac(nonce, mac) != 0 || CRYPTO_memcmp(mac, nonce + 32, 32) != 0)
		return -1;
	memcpy(ts, nonce, 16);
	ts[16] = '\0';
	t = strtoull(ts, &end, 16);
	if (*end != '\0' || t > (unsigned long long)INT64_MAX / 2)
		return -1;
	return (long long)t;
}

int
sip_auth_nonce_check_ttl(const char *nonce, time_t now, unsigned int ttl)
{
	long long t = nonce_time(nonce);

	if (t < 0)
		return EINVAL;
	if (t > (long long)now || (long long)now - t > (long long)ttl || t <= nc_floor)
		return ESTALE;
	return 0;
}

int
sip_auth_nonce_check(const char *nonce, time_t now)
{
	return sip_auth_nonce_check_ttl(nonce, now, SIP_AUTH_NONCE_TTL);
}

static unsigned int
nonce_bucket(const char *nonce)
{
	unsigned int h = 2166136261u;

	for (const char *p = nonce; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % NC_BUCKETS;
}

int
sip_auth_nc_use(const char *nonce, unsigned long nc, time_t now, unsigned int ttl)
{
	long long t = nonce_time(nonce);
	struct nc_entry *b, *e = NULL, *victim = NULL;

	if (t < 0)
		return EINVAL;
	b = nc_table[nonce_bucket(nonce)];
	for (int i = 0; i < NC_WAYS; i++) {
		if (b[i].nonce[0] != '\0' && strcmp(b[i].nonce, nonce) == 0) {
			e = &b[i];
			break;
		}
	}
	if (e != NULL) {
		if (nc <= e->nc)
			return EEXIST;
		e->nc = nc;
		return 0;
	}
	if (t <= nc_floor)
		return ESTALE;
	for (int i = 0; i < NC_WAYS; i++) {
		struct nc_entry *c = &b[i];

		if (c->nonce[0] == '\0' || (long long)now - c->ts > (long long)ttl) {
			victim = c;     /* free, or its nonce has expired */
			break;
		}
		if (victim == NULL || c->ts < victim->ts)
			victim = c;
	}
	if (victim->nonce[0] != '\0' && (long long)now - victim->ts <= (long long)ttl &&
	    victim->ts > nc_floor)
		nc_floor = victim->ts;  /* a live nonce is forgotten: older ones are stale */
	snprintf(victim->nonce, sizeof(victim->nonce), "%s", nonce);
	victim->nc = nc;
	victim->ts = t;
	return 0;
}

/* ---- checking a request ---- */

static char *
unquote(const char *s)
{
	return s != NULL ? osip_strdup_without_quote(s) : NULL;
}

static bool
alg_offered(const struct cfg *cfg, enum sip_auth_alg alg)
{
	const char *name = sip_auth_alg_name(alg);

	if (cfg == NULL || cfg->sip.auth_algorithms.n == 0)
		return true;
	for (size_t i = 0; i < cfg->sip.auth_algorithms.n; i++)
		if (strcasecmp(cfg->sip.auth_algorithms.v[i], name) == 0)
			return true;
	return false;
}

/* HA1 of user u for alg into out; ENOENT when u has no secret for alg. */
static int
user_ha1(const struct cfg_user *u, enum sip_auth_alg alg, char out[SIP_AUTH_HEX_MAX])
{
	const char *stored = alg == SIP_AUTH_SHA256 ? u->ha1_sha256 : u->ha1;

	if (u->password != NULL)
		return sip_auth_ha1(alg, u->name, SIP_AUTH_REALM, u->password, out);
	if (stored == NULL || strlen(stored) != alg_hexlen(alg))
		return ENOENT;
	snprintf(out, SIP_AUTH_HEX_MAX, "%s", stored);
	return 0;
}

static const struct cfg_user *
find_user(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; cfg != NULL && name != NULL && i < cfg->n_users; i++)
		if (cfg->users[i].name != NULL && strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

static bool
acl_allows(const struct cfg_policy *p, const struct addr *src)
{
	if (p->n_acl == 0)
		return true;
	for (size_t i = 0; i < p->n_acl; i++)
		if (cidr_match(&p->acl[i], src))
			return true;
	return false;
}

enum sip_auth_result
sip_auth_check(const struct osip_message *req, const struct addr *src, const struct cfg *cfg,
               time_t now, const struct cfg_user **user, char **claimed, const char **reason)
{
	return sip_auth_check_trunk(req, src, cfg, now, user, NULL, claimed, reason);
}

/* The secret of the one who claims `uname`: a [user], or (when trunk is
 * not NULL) a [trunk] with that username and a password. HA1 into ha1;
 * ENOENT when nobody has it, EINVAL when no secret for alg. */
static int
claimant_ha1(const struct cfg *cfg, const char *uname, enum sip_auth_alg alg,
             const struct cfg_user **u, const struct cfg_trunk **trunk,
             const struct cfg_policy **policy, char ha1[SIP_AUTH_HEX_MAX])
{
	const struct cfg_trunk *t;

	if ((*u = find_user(cfg, uname)) != NULL) {
		*policy = &(*u)->policy;
		return user_ha1(*u, alg, ha1) != 0 ? EINVAL : 0;
	}
	if (trunk == NULL || cfg == NULL || (t = sip_trunk_by_user(cfg, uname)) == NULL)
		return ENOENT;
	*trunk = t;
	*policy = &t->policy;
	return sip_auth_ha1(alg, uname, SIP_AUTH_REALM, t->password, ha1) != 0 ? EINVAL : 0;
}

enum sip_auth_result
sip_auth_check_trunk(const struct osip_message *req, const struct addr *src,
                     const struct cfg *cfg, time_t now, const struct cfg_user **user,
                     const struct cfg_trunk **trunk, char **claimed, const char **reason)
{
	osip_authorization_t *a = NULL;
	char *uname = NULL, *realm = NULL, *nonce = NULL, *uri = NULL, *resp = NULL;
	char *qop = NULL, *nc = NULL, *cnonce = NULL, *algs = NULL;
	char ha1[SIP_AUTH_HEX_MAX], expect[SIP_AUTH_HEX_MAX], got[SIP_AUTH_HEX_MAX];
	const struct cfg_user *u = NULL;
	const struct cfg_trunk *t = NULL;
	const struct cfg_policy *policy = NULL;
	enum sip_auth_result res = SIP_AUTH_FAILED;
	enum sip_auth_alg alg;
	unsigned int ttl = cfg != NULL && cfg->sip.auth_nonce_ttl > 0 ? cfg->sip.auth_nonce_ttl :
	    SIP_AUTH_NONCE_TTL;
	unsigned long ncv = 1;
	size_t hl;
	int r, stale = 0;

	*user = NULL;
	if (trunk != NULL)
		*trunk = NULL;
	*claimed = NULL;
	*reason = "malformed";
	/* The first credentials for our realm (a proxy may add others). */
	for (int i = 0; osip_message_get_authorization(req, i, &a) >= 0 && a != NULL; i++) {
		char *rl = unquote(a->realm);
		bool ours = rl != NULL && strcmp(rl, SIP_AUTH_REALM) == 0;

		osip_free(rl);
		if (ours)
			break;
		a = NULL;
	}
	if (a == NULL) {
		/* None, or none for us: not a failure, a challenge. */
		*reason = "no-credentials";
		return SIP_AUTH_NONE;
	}
	uname = unquote(a->username);
	realm = unquote(a->realm);
	nonce = unquote(a->nonce);
	uri = unquote(a->uri);
	resp = unquote(a->response);
	qop = unquote(a->message_qop);
	nc = unquote(a->nonce_count);
	cnonce = unquote(a->cnonce);
	algs = unquote(a->algorithm);
	if (uname != NULL)
		*claimed = strdup(uname);
	if (a->auth_type == NULL || strcasecmp(a->auth_type, "Digest") != 0)
		goto out;
	if (uname == NULL || *uname == '\0' || nonce == NULL || uri == NULL || resp == NULL)
		goto out;
	if (sip_auth_alg_parse(algs, &alg) != 0 || !alg_offered(cfg, alg)) {
		*reason = "algorithm";
		goto out;
	}
	if (qop != NULL && strcmp(qop, "auth") != 0) {
		*reason = "qop";
		goto out;
	}
	if (qop != NULL) {
		char *end;

		if (nc == NULL || cnonce == NULL || strlen(nc) != 8 ||
		    strspn(nc, "0123456789abcdefABCDEF") != 8)
			goto out;
		ncv = strtoul(nc, &end, 16);
	}
	hl = alg_hexlen(alg);
	if (strlen(resp) != hl || strspn(resp, "0123456789abcdefABCDEF") != hl)
		goto out;
	for (size_t i = 0; i <= hl; i++)
		got[i] = (char)tolower((unsigned char)resp[i]);
	/* Expired, or not ours at all (made by the process before a
	 * restart): with the right password that is a new challenge with
	 * stale=true, with a wrong one a failure like any other. */
	r = sip_auth_nonce_check_ttl(nonce, now, ttl);
	stale = r != 0;
	r = claimant_ha1(cfg, uname, alg, &u, trunk != NULL ? &t : NULL, &policy, ha1);
	if (r == ENOENT) {
		/* The same work and the same answer as a wrong password. */
		if (sip_auth_ha1(alg, uname, SIP_AUTH_REALM, "-", ha1) == 0)
			sip_auth_digest(alg, ha1, req->sip_method, uri, nonce, nc, cnonce, qop, expect);
		*reason = "unknown-user";
		goto out;
	}
	if (r != 0) {
		*reason = "no-secret-for-algorithm";
		goto out;
	}
	if (sip_auth_digest(alg, ha1, req->sip_method, uri, nonce, nc, cnonce, qop, expect) != 0)
		goto out;
	if (CRYPTO_memcmp(expect, got, hl) != 0) {
		*reason = "wrong-password";
		goto out;
	}
	if (stale) {
		/* Right password, old nonce: ask again with stale=true. */
		*reason = "stale-nonce";
		res = SIP_AUTH_STALE;
		goto out;
	}
	r = sip_auth_nc_use(nonce, ncv, now, ttl);
	if (r == ESTALE) {
		*reason = "stale-nonce";
		res = SIP_AUTH_STALE;
		goto out;
	}
	if (r != 0) {
		*reason = "nonce-replay";
		goto out;
	}
	if (!acl_allows(policy, src)) {
		*reason = "acl";
		goto out;
	}
	*user = u;
	if (trunk != NULL)
		*trunk = t;
	*reason = "ok";
	res = SIP_AUTH_OK;
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	osip_free(uname);
	osip_free(realm);
	osip_free(nonce);
	osip_free(uri);
	osip_free(resp);
	osip_free(qop);
	osip_free(nc);
	osip_free(cnonce);
	osip_free(algs);
	return res;
}

char *
sip_auth_challenge(const struct cfg *cfg, time_t now, int stale)
{
	static const char *const all[] = { "SHA-256", "MD5" };
	char nonce[SIP_AUTH_NONCE_LEN], *s = NULL, *line = NULL, *cat;
	const char *const *algs = all;
	size_t n = 2;

	if (sip_auth_nonce(now, nonce, sizeof(nonce)) != 0)
		return NULL;
	if (cfg != NULL && cfg->sip.auth_algorithms.n > 0) {
		algs = (const char *const *)cfg->sip.auth_algorithms.v;
		n = cfg->sip.auth_algorithms.n;
	}
	if ((s = strdup("")) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&line, "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", "
		    "algorithm=%s, qop=\"auth\"%s\r\n", SIP_AUTH_REALM, nonce, algs[i],
		    stale ? ", stale=true" : "") < 0)
			goto fail;
		if (asprintf(&cat, "%s%s", s, line) < 0)
			goto fail;
		free(s);
		free(line);
		line = NULL;
		s = cat;
	}
	return s;
fail:
	free(line);
	free(s);
	return NULL;
}

/* ---- guards ---- */

static struct limits_ban *
ban_table(void)
{
	if (auth_ban == NULL)
		auth_ban = limits_ban_new(BAN_MAX);
	return auth_ban;
}

unsigned int
sip_auth_blocked(const struct addr *src, uint64_t now_ms)
{
	struct limits_ban *b = ban_table();
	uint64_t left;
	char ip[ADDR_STRLEN];

	if (b == NULL || (left = limits_ban_blocked(b, src, now_ms)) == 0)
		return 0;
	log_limited(&rl_blocked, LOG_LEVEL_NOTICE, "auth: request from blocked %s refused (%llu s left)",
	    addr_ip_str(src, ip, sizeof(ip)), (unsigned long long)(left + 999) / 1000);
	return (unsigned int)((left + 999) / 1000);
}

/* A user name as it goes into the log line: printable, no quote or
 * backslash (fail2ban's and a reader's parsing stays simple), bounded. */
static void
log_name(const char *in, char *out, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < len && i < 64; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = isgraph(c) && c != '"' && c != '\\' ? (char)c : '?';
	}
	out[j] = '\0';
}

int
sip_auth_failed(const struct cfg *cfg, const struct addr *src, const char *method,
                const char *user, const char *reason, uint64_t now_ms)
{
	struct limits_ban *b = ban_table();
	char a[ADDR_STRLEN], ip[ADDR_STRLEN], name[80];
	unsigned int limit = 10, window = 60, block = 600, count = 0;

	if (cfg != NULL) {
		limit = cfg->sip.auth_fail_limit;
		window = cfg->sip.auth_fail_window;
		block = cfg->sip.auth_block_time;
	}
	log_name(user, name, sizeof(name));
	/* The stable line fail2ban matches; see pstnbridge.conf(5). */
	log_notice("auth failure from %s user=\"%s\" reason=%s method=%s",
	    addr_str(src, a, sizeof(a)), name, reason != NULL ? reason : "-",
	    method != NULL ? method : "-");
	if (b == NULL || limits_ban_fail(b, src, now_ms, limit, (uint64_t)window * 1000,
	    (uint64_t)block * 1000, &count) == 0)
		return 0;
	log_warnx("auth: blocking %s for %u s after %u failed authentications within %u s",
	    addr_ip_str(src, ip, sizeof(ip)), block, count, window);
	return 1;
}

unsigned int
sip_auth_attempt(const struct cfg *cfg, uint64_t now_ms)
{
	unsigned int cap = cfg != NULL ? cfg->general.max_call_attempts_per_second : 0;
	uint64_t wait;

	if (limits_window_resize(&auth_attempts, cap) != 0 || cap == 0)
		return 0;
	if ((wait = limits_window_wait(&auth_attempts, now_ms, 1000)) > 0) {
		log_limited(&rl_attempts, LOG_LEVEL_NOTICE,
		    "sip: over max_call_attempts_per_second (%u): 503", cap);
		return (unsigned int)((wait + 999) / 1000);
	}
	limits_window_add(&auth_attempts, now_ms);
	return 0;
}

/* ---- the client side: answering a provider's challenge ---- */

/* Whether the quoted or bare comma list `list` has the token `tok`. */
static bool
token_in(const char *list, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = list; p != NULL && *p != '\0'; ) {
		p += strspn(p, "\" ,\t");
		if (strncasecmp(p, tok, n) == 0 && (p[n] == '\0' || strchr("\" ,\t", p[n]) != NULL))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* A header value safe between quotes (no quote, backslash or control). */
static bool
quotable(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || *s == 0x7f)
			return false;
	return s != NULL;
}

int
sip_auth_answer(const struct osip_message *resp, const struct sip_auth_cred *cred,
                const char *method, const char *uri, const char *cnonce, unsigned int nc,
                char **line)
{
	osip_message_t *m = (osip_message_t *)resp;
	osip_www_authenticate_t *ch = NULL;
	char *realm = NULL, *nonce = NULL, *opaque = NULL, *qops = NULL;
	char ha1[SIP_AUTH_HEX_MAX], r[SIP_AUTH_HEX_MAX], ncs[9];
	enum sip_auth_alg alg = SIP_AUTH_MD5;
	int proxy = resp->status_code == 407, error = ENOENT, qop;

	*line = NULL;
	for (int i = 0; ; i++) {
		int got = proxy ? osip_message_get_proxy_authenticate(m, i, &ch) :
		    osip_message_get_www_authenticate(m, i, &ch);
		char *a;

		if (got < 0 || ch == NULL) {
			ch = NULL;
			break;
		}
		if (ch->auth_type == NULL || strcasecmp(ch->auth_type, "Digest") != 0)
			continue;
		a = unquote(ch->algorithm);
		if (sip_auth_alg_parse(a, &alg) == 0 &&
		    (cred->password != NULL || (alg == SIP_AUTH_MD5 && cred->ha1 != NULL))) {
			osip_free(a);
			break;
		}
		osip_free(a);
	}
	if (ch == NULL)
		goto out;
	error = EINVAL;
	realm = unquote(ch->realm);
	nonce = unquote(ch->nonce);
	opaque = unquote(ch->opaque);
	qops = unquote(ch->qop_options);
	if (realm == NULL || nonce == NULL || !quotable(realm) || !quotable(nonce) ||
	    !quotable(cred->user) || !quotable(uri) || (opaque != NULL && !quotable(opaque)))
		goto out;
	qop = qops != NULL && token_in(qops, "auth");
	if (qops != NULL && !qop)
		goto out;               /* auth-int only */
	snprintf(ncs, sizeof(ncs), "%08x", nc);
	if (cred->password != NULL)
		error = sip_auth_ha1(alg, cred->user, realm, cred->password, ha1);
	else
		error = snprintf(ha1, sizeof(ha1), "%s", cred->ha1) == 32 ? 0 : EINVAL;
	if (error != 0)
		goto out;
	if ((error = sip_auth_digest(alg, ha1, method, uri, nonce, qop ? ncs : NULL,
	    qop ? cnonce : NULL, qop ? "auth" : NULL, r)) != 0)
		goto out;
	if (asprintf(line, "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
	    "uri=\"%s\", response=\"%s\", algorithm=%s%s%s%s%s%s%s%s%s\r\n",
	    proxy ? "Proxy-Authorization" : "Authorization", cred->user, realm, nonce, uri, r,
	    sip_auth_alg_name(alg), qop ? ", qop=auth, nc=" : "", qop ? ncs : "",
	    qop ? ", cnonce=\"" : "", qop ? cnonce : "", qop ? "\"" : "",
	    opaque != NULL ? ", opaque=\"" : "", opaque != NULL ? opaque : "",
	    opaque != NULL ? "\"" : "") < 0) {
		*line = NULL;
		error = ENOMEM;
		goto out;
	}
	error = 0;
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	osip_free(realm);
	osip_free(nonce);
	osip_free(opaque);
	osip_free(qops);
	return error;
}
