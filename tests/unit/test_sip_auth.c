/* Digest authentication: the RFC example vectors for MD5 and SHA-256,
 * nonces with injected time (expiry, stale, nonce-count replay), the
 * check of a whole request against [user]s, the challenge lines, blocking
 * after failures and the global attempt rate. */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osip2/osip.h>
#include <osipparser2/osip_parser.h>

#include "core/log.h"
#include "sip/sip_int.h"

/* RFC 2617 3.5 */
static void
test_rfc2617_md5(void)
{
	char ha1[SIP_AUTH_HEX_MAX], r[SIP_AUTH_HEX_MAX], r33[33];

	CU_ASSERT_EQUAL(sip_auth_ha1(SIP_AUTH_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
	    ha1), 0);
	CU_ASSERT_EQUAL(sip_auth_digest(SIP_AUTH_MD5, ha1, "GET", "/dir/index.html",
	    "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", r), 0);
	CU_ASSERT_STRING_EQUAL(r, "6629fae49393a05397450978507c4ef1");
	/* the same through the MD5-only helpers */
	CU_ASSERT_EQUAL(sip_auth_response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
	    "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth",
	    r33), 0);
	CU_ASSERT_STRING_EQUAL(r33, "6629fae49393a05397450978507c4ef1");
	/* HA1 in upper case is the same secret */
	for (char *p = ha1; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	CU_ASSERT_EQUAL(sip_auth_response_ha1(ha1, "GET", "/dir/index.html",
	    "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", r33), 0);
	CU_ASSERT_STRING_EQUAL(r33, "6629fae49393a05397450978507c4ef1");
	/* a HA1 of the wrong length is refused */
	CU_ASSERT_EQUAL(sip_auth_digest(SIP_AUTH_SHA256, "abcd", "GET", "/", "n", "00000001", "c",
	    "auth", r), EINVAL);
}

/* RFC 7616 3.9.1: the same request with MD5 and with SHA-256. */
static void
test_rfc7616(void)
{
	static const char *nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
	static const char *cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	char ha1[SIP_AUTH_HEX_MAX], r[SIP_AUTH_HEX_MAX];

	CU_ASSERT_EQUAL(sip_auth_ha1(SIP_AUTH_MD5, "Mufasa", "http-auth@example.org",
	    "Circle of Life", ha1), 0);
	CU_ASSERT_EQUAL(sip_auth_digest(SIP_AUTH_MD5, ha1, "GET", "/dir/index.html", nonce,
	    "00000001", cnonce, "auth", r), 0);
	CU_ASSERT_STRING_EQUAL(r, "8ca523f5e9506fed4657c9700eebdbec");
	CU_ASSERT_EQUAL(sip_auth_ha1(SIP_AUTH_SHA256, "Mufasa", "http-auth@example.org",
	    "Circle of Life", ha1), 0);
	CU_ASSERT_EQUAL(strlen(ha1), 64);
	CU_ASSERT_EQUAL(sip_auth_digest(SIP_AUTH_SHA256, ha1, "GET", "/dir/index.html", nonce,
	    "00000001", cnonce, "auth", r), 0);
	CU_ASSERT_STRING_EQUAL(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static void
test_alg_names(void)
{
	enum sip_auth_alg a = SIP_AUTH_SHA256;

	CU_ASSERT(sip_auth_alg_parse(NULL, &a) == 0 && a == SIP_AUTH_MD5);
	CU_ASSERT(sip_auth_alg_parse("sha-256", &a) == 0 && a == SIP_AUTH_SHA256);
	CU_ASSERT(sip_auth_alg_parse("MD5", &a) == 0 && a == SIP_AUTH_MD5);
	CU_ASSERT_EQUAL(sip_auth_alg_parse("MD5-sess", &a), EINVAL);
	CU_ASSERT_EQUAL(sip_auth_alg_parse("SHA-512-256", &a), EINVAL);
	CU_ASSERT_STRING_EQUAL(sip_auth_alg_name(SIP_AUTH_SHA256), "SHA-256");
}

static const unsigned char key1[] = "test secret one";

static void
test_nonce_time(void)
{
	char n[SIP_AUTH_NONCE_LEN], bad[SIP_AUTH_NONCE_LEN];

	sip_auth_reset();
	sip_auth_set_secret(key1, sizeof(key1));
	CU_ASSERT_EQUAL_FATAL(sip_auth_nonce(1000, n, sizeof(n)), 0);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(n, 1000, 300), 0);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(n, 1300, 300), 0);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(n, 1301, 300), ESTALE);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(n, 999, 300), ESTALE);  /* from the future */
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(n, 1301, 600), 0);
	/* two nonces of the same second differ */
	CU_ASSERT_EQUAL(sip_auth_nonce(1000, bad, sizeof(bad)), 0);
	CU_ASSERT(strcmp(n, bad) != 0);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(bad, 1000, 300), 0);
	/* the old interface uses SIP_AUTH_NONCE_TTL */
	CU_ASSERT_EQUAL(sip_auth_nonce_check(n, 1000 + SIP_AUTH_NONCE_TTL + 1), ESTALE);
	/* a changed time or MAC, or another secret: not ours */
	snprintf(bad, sizeof(bad), "%s", n);
	bad[15] = bad[15] == '0' ? '1' : '0';
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(bad, 1000, 300), EINVAL);
	snprintf(bad, sizeof(bad), "%s", n);
	bad[63] = bad[63] == '0' ? '1' : '0';
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(bad, 1000, 300), EINVAL);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl("short", 1000, 300), EINVAL);
	sip_auth_set_secret((const unsigned char *)"other", 5);
	CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(n, 1000, 300), EINVAL);
}

static void
test_nonce_count(void)
{
	char n1[SIP_AUTH_NONCE_LEN], n2[SIP_AUTH_NONCE_LEN];

	sip_auth_reset();
	sip_auth_set_secret(key1, sizeof(key1));
	sip_auth_nonce(2000, n1, sizeof(n1));
	sip_auth_nonce(2001, n2, sizeof(n2));
	CU_ASSERT_EQUAL(sip_auth_nc_use(n1, 1, 2000, 300), 0);
	CU_ASSERT_EQUAL(sip_auth_nc_use(n1, 1, 2000, 300), EEXIST);     /* replay */
	CU_ASSERT_EQUAL(sip_auth_nc_use(n1, 2, 2001, 300), 0);
	CU_ASSERT_EQUAL(sip_auth_nc_use(n1, 1, 2002, 300), EEXIST);     /* going back */
	CU_ASSERT_EQUAL(sip_auth_nc_use(n1, 5, 2003, 300), 0);          /* gaps are fine */
	/* each nonce has its own count */
	CU_ASSERT_EQUAL(sip_auth_nc_use(n2, 1, 2003, 300), 0);
	CU_ASSERT_EQUAL(sip_auth_nc_use("00000000000007d00123456789abcdefdeadbeefdeadbeefdeadbeefdeadbeef", 1, 2003,
	    300), EINVAL);
}

/* Many users with many nonces: forgetting a live nonce makes older ones
 * stale rather than replayable. */
static void
test_nonce_count_eviction(void)
{
	char n[SIP_AUTH_NONCE_LEN], first[SIP_AUTH_NONCE_LEN];
	int stale = 0;

	sip_auth_reset();
	sip_auth_set_secret(key1, sizeof(key1));
	sip_auth_nonce(10000, first, sizeof(first));
	CU_ASSERT_EQUAL(sip_auth_nc_use(first, 1, 10000, 100000), 0);
	for (int i = 1; i <= 8192; i++) {
		sip_auth_nonce(10000 + i, n, sizeof(n));
		CU_ASSERT_EQUAL(sip_auth_nc_use(n, 1, 10000 + i, 100000), 0);
	}
	/* the first nonce was either kept (then a replay is seen) or is stale */
	switch (sip_auth_nc_use(first, 1, 20000, 100000)) {
	case EEXIST:
		break;
	case ESTALE:
		stale = 1;
		break;
	default:
		CU_FAIL("a forgotten nonce was accepted again");
	}
	if (stale)
		CU_ASSERT_EQUAL(sip_auth_nonce_check_ttl(first, 20000, 100000), ESTALE);
}

/* ---- whole requests ---- */

static struct cfg *
mkcfg(const char *extra)
{
	char text[2048];
	struct cfg_errors errs;
	struct cfg *c;

	snprintf(text, sizeof(text),
	    "[sip]\nlisten_udp = 127.0.0.1:5060\n%s\n"
	    "[user alice]\npassword = secret\nnumber = 555\n"
	    "[user bob]\nha1 = %s\nnumber = 556\n"
	    "[user carol]\npassword = pw\nnumber = 557\nacl = 10.0.0.0/8\n",
	    extra != NULL ? extra : "",
	    /* MD5("bob:pstnbridge:hunter2") */
	    "b71baafdb0f2845abaa3566ad630195e");
	c = cfg_load_string("t.conf", text, &errs);
	for (size_t i = 0; c == NULL && i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	cfg_errors_release(&errs);
	return c;
}

struct creds {
	const char *user, *pass, *ha1;  /* pass, or ha1 (for MD5) */
	const char *nonce, *nc, *alg;   /* alg NULL: no algorithm parameter */
	const char *qop;                /* NULL: the RFC 2069 form */
	const char *realm;
};

/* An INVITE with the Authorization of cr, parsed. */
static osip_message_t *
mkreq(const struct creds *cr)
{
	char auth[1024] = "", text[4096], ha1[SIP_AUTH_HEX_MAX], r[SIP_AUTH_HEX_MAX];
	const char *uri = "sip:100@127.0.0.1";
	enum sip_auth_alg alg = SIP_AUTH_MD5;
	osip_message_t *m = NULL;

	if (cr != NULL) {
		sip_auth_alg_parse(cr->alg, &alg);
		if (cr->ha1 != NULL)
			snprintf(ha1, sizeof(ha1), "%s", cr->ha1);
		else
			sip_auth_ha1(alg, cr->user, SIP_AUTH_REALM, cr->pass, ha1);
		CU_ASSERT_EQUAL(sip_auth_digest(alg, ha1, "INVITE", uri, cr->nonce, cr->nc, "c0ffee",
		    cr->qop, r), 0);
		snprintf(auth, sizeof(auth),
		    "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		    "response=\"%s\"%s%s%s%s%s\r\n", cr->user,
		    cr->realm != NULL ? cr->realm : SIP_AUTH_REALM, cr->nonce, uri, r,
		    cr->alg != NULL ? ", algorithm=" : "", cr->alg != NULL ? cr->alg : "",
		    cr->qop != NULL ? ", qop=auth, nc=" : "", cr->qop != NULL ? cr->nc : "",
		    cr->qop != NULL ? ", cnonce=\"c0ffee\"" : "");
	}
	snprintf(text, sizeof(text),
	    "INVITE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1\r\n"
	    "From: <sip:555@192.0.2.9>;tag=1\r\n"
	    "To: <sip:100@127.0.0.1>\r\n"
	    "Call-ID: a@b\r\n"
	    "CSeq: 1 INVITE\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n", uri, auth);
	if (osip_message_init(&m) != 0)
		return NULL;
	if (osip_message_parse(m, text, strlen(text)) != 0) {
		osip_message_free(m);
		return NULL;
	}
	return m;
}

static enum sip_auth_result
check(const struct cfg *c, const struct creds *cr, const char *src, time_t now,
      const char **reason, const struct cfg_user **u)
{
	osip_message_t *m = mkreq(cr);
	const struct cfg_user *user = NULL;
	char *claimed = NULL;
	struct addr a;
	enum sip_auth_result r;

	CU_ASSERT_FATAL(m != NULL);
	addr_parse(&a, src, 5060);
	r = sip_auth_check(m, &a, c, now, &user, &claimed, reason);
	if (u != NULL)
		*u = user;
	if (cr != NULL && r != SIP_AUTH_NONE)
		CU_ASSERT(claimed != NULL && strcmp(claimed, cr->user) == 0);
	free(claimed);
	osip_message_free(m);
	return r;
}

static void
test_check_request(void)
{
	struct cfg *c = mkcfg(NULL);
	char n[SIP_AUTH_NONCE_LEN], old[SIP_AUTH_NONCE_LEN];
	const struct cfg_user *u = NULL;
	const char *why = NULL;
	struct creds cr;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	sip_auth_reset();
	sip_auth_set_secret(key1, sizeof(key1));
	sip_auth_nonce(5000, n, sizeof(n));
	sip_auth_nonce(1000, old, sizeof(old));

	/* none: a challenge */
	CU_ASSERT_EQUAL(check(c, NULL, "192.0.2.9", 5000, &why, NULL), SIP_AUTH_NONE);
	/* right password, qop=auth */
	cr = (struct creds){ "alice", "secret", NULL, n, "00000001", "MD5", "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5001, &why, &u), SIP_AUTH_OK);
	CU_ASSERT(u != NULL && strcmp(u->name, "alice") == 0);
	/* the same nonce count again: a replay */
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5002, &why, &u), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "nonce-replay");
	CU_ASSERT_PTR_NULL(u);
	/* the next count */
	cr.nc = "00000002";
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5003, &why, NULL), SIP_AUTH_OK);
	/* wrong password and unknown user: both failures, no difference in the result */
	cr = (struct creds){ "alice", "wrong", NULL, n, "00000003", "MD5", "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5004, &why, NULL), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "wrong-password");
	cr = (struct creds){ "mallory", "secret", NULL, n, "00000001", "MD5", "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5004, &why, NULL), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "unknown-user");
	/* an expired nonce: stale with the right password, a failure with a wrong one */
	cr = (struct creds){ "alice", "secret", NULL, old, "00000001", NULL, "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5004, &why, NULL), SIP_AUTH_STALE);
	cr.pass = "wrong";
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5004, &why, NULL), SIP_AUTH_FAILED);
	/* the RFC 2069 form (no qop) is a single use of the nonce */
	sip_auth_nonce(5010, n, sizeof(n));
	cr = (struct creds){ "alice", "secret", NULL, n, NULL, NULL, NULL, NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5010, &why, NULL), SIP_AUTH_OK);
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5010, &why, NULL), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "nonce-replay");
	/* a nonce of another process (a restart) with the right password: stale */
	cr = (struct creds){ "alice", "secret", NULL,
	    "00000000000013880123456789abcdefdeadbeefdeadbeefdeadbeefdeadbeef", "00000001", NULL, "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5010, &why, NULL), SIP_AUTH_STALE);
	/* another realm */
	sip_auth_nonce(5020, n, sizeof(n));
	cr = (struct creds){ "alice", "secret", NULL, n, "00000001", NULL, "auth", "elsewhere" };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 5020, &why, NULL), SIP_AUTH_NONE);
	cfg_unref(c);
}

static void
test_check_sha256_ha1_acl(void)
{
	struct cfg *c = mkcfg(NULL), *md5only = mkcfg("auth_algorithms = MD5");
	char n[SIP_AUTH_NONCE_LEN], ha1[SIP_AUTH_HEX_MAX];
	const char *why = NULL;
	struct creds cr;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(md5only);
	sip_auth_reset();
	sip_auth_set_secret(key1, sizeof(key1));
	sip_auth_nonce(7000, n, sizeof(n));
	/* SHA-256 with a plain password */
	cr = (struct creds){ "alice", "secret", NULL, n, "00000001", "SHA-256", "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 7000, &why, NULL), SIP_AUTH_OK);
	/* not offered: refused */
	cr.nc = "00000002";
	CU_ASSERT_EQUAL(check(md5only, &cr, "192.0.2.9", 7000, &why, NULL), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "algorithm");
	/* bob has only an MD5 HA1 */
	sip_auth_ha1(SIP_AUTH_MD5, "bob", SIP_AUTH_REALM, "hunter2", ha1);
	CU_ASSERT_STRING_EQUAL(ha1, "b71baafdb0f2845abaa3566ad630195e");
	/* (the nonce count is per nonce: each user gets its own challenge) */
	sip_auth_nonce(7000, n, sizeof(n));
	cr = (struct creds){ "bob", "hunter2", NULL, n, "00000001", "MD5", "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 7000, &why, NULL), SIP_AUTH_OK);
	cr = (struct creds){ "bob", "hunter2", NULL, n, "00000002", "SHA-256", "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 7000, &why, NULL), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "no-secret-for-algorithm");
	/* carol may only come from 10.0.0.0/8 */
	sip_auth_nonce(7000, n, sizeof(n));
	cr = (struct creds){ "carol", "pw", NULL, n, "00000001", NULL, "auth", NULL };
	CU_ASSERT_EQUAL(check(c, &cr, "192.0.2.9", 7000, &why, NULL), SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(why, "acl");
	cr.nc = "00000002";
	CU_ASSERT_EQUAL(check(c, &cr, "10.1.2.3", 7000, &why, NULL), SIP_AUTH_OK);
	cfg_unref(c);
	cfg_unref(md5only);
}

static void
test_challenge(void)
{
	struct cfg *c = mkcfg(NULL), *md5only = mkcfg("auth_algorithms = MD5");
	char *s, *sha, *md5;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(md5only);
	s = sip_auth_challenge(c, 100, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	sha = strstr(s, "algorithm=SHA-256");
	md5 = strstr(s, "algorithm=MD5");
	CU_ASSERT(sha != NULL && md5 != NULL && sha < md5);
	CU_ASSERT(strstr(s, "qop=\"auth\"") != NULL);
	CU_ASSERT(strstr(s, "realm=\"pstnbridge\"") != NULL);
	CU_ASSERT(strstr(s, "stale") == NULL);
	free(s);
	s = sip_auth_challenge(md5only, 100, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(strstr(s, "SHA-256") == NULL);
	CU_ASSERT(strstr(s, "algorithm=MD5") != NULL);
	CU_ASSERT(strstr(s, "stale=true") != NULL);
	free(s);
	cfg_unref(c);
	cfg_unref(md5only);
}

static void
test_block_after_failures(void)
{
	struct cfg *c = mkcfg("auth_fail_limit = 3\nauth_fail_window = 60\nauth_block_time = 600");
	struct addr bad, good;
	uint64_t t = 50000000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	sip_auth_reset();
	addr_parse(&bad, "203.0.113.5:5060", 0);
	addr_parse(&good, "198.51.100.1:5060", 0);
	CU_ASSERT_EQUAL(sip_auth_failed(c, &bad, "INVITE", "x", "wrong-password", t), 0);
	CU_ASSERT_EQUAL(sip_auth_failed(c, &bad, "INVITE", "x\"y", "unknown-user", t + 1000), 0);
	CU_ASSERT_EQUAL(sip_auth_blocked(&bad, t + 1000), 0);
	CU_ASSERT_EQUAL(sip_auth_failed(c, &bad, "REGISTER", NULL, "wrong-password", t + 2000), 1);
	CU_ASSERT_EQUAL(sip_auth_blocked(&bad, t + 2000), 600);
	CU_ASSERT_EQUAL(sip_auth_blocked(&good, t + 2000), 0);
	CU_ASSERT_EQUAL(sip_auth_blocked(&bad, t + 2000 + 599500), 1);
	CU_ASSERT_EQUAL(sip_auth_blocked(&bad, t + 2000 + 600000), 0);
	cfg_unref(c);
}

static void
test_attempt_rate(void)
{
	struct cfg *c = mkcfg(NULL), *lim;
	uint64_t t = 9000000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	sip_auth_reset();
	/* no limit by default */
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(sip_auth_attempt(c, t), 0);
	cfg_unref(c);
	lim = cfg_load_string("t.conf", "[general]\nmax_call_attempts_per_second = 3\n", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(lim);
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t), 0);
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t + 100), 0);
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t + 200), 0);
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t + 300), 1);     /* Retry-After: 1 */
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t + 999), 1);
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t + 1000), 0);
	CU_ASSERT_EQUAL(sip_auth_attempt(lim, t + 1050), 1);
	cfg_unref(lim);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	log_init("test_sip_auth", 1, LOG_LEVEL_ERROR);
	parser_init();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sip_auth", NULL, NULL);
	CU_add_test(s, "RFC 2617 MD5 vector", test_rfc2617_md5);
	CU_add_test(s, "RFC 7616 MD5 and SHA-256 vectors", test_rfc7616);
	CU_add_test(s, "algorithm names", test_alg_names);
	CU_add_test(s, "nonce lifetime with injected time", test_nonce_time);
	CU_add_test(s, "nonce count replay", test_nonce_count);
	CU_add_test(s, "nonce count table eviction", test_nonce_count_eviction);
	CU_add_test(s, "request check: replay, stale, unknown user", test_check_request);
	CU_add_test(s, "request check: SHA-256, ha1, acl", test_check_sha256_ha1_acl);
	CU_add_test(s, "challenge lines", test_challenge);
	CU_add_test(s, "source blocked after failures", test_block_after_failures);
	CU_add_test(s, "global call attempts per second", test_attempt_rate);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	sip_auth_reset();
	return fails > 0 ? 1 : 0;
}
