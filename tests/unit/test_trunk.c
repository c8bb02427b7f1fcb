/* Trunks: the [trunk] keys, number formats both ways, the refresh and
 * back-off schedule, matching a source (CIDR) or a user name to a trunk,
 * the client side of digest authentication (RFC 2617 vector, SHA-256,
 * opaque, auth-int only) and a trunk authenticating to us. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osip2/osip.h>
#include <osipparser2/osip_parser.h>

#include "cfg/cfg.h"
#include "core/log.h"
#include "sip/sip_int.h"
#include "sip/sip_trunk.h"

static struct cfg *
load(const char *text)
{
	struct cfg_errors errs;
	struct cfg *c = cfg_load_string("t.conf", text, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "\n%s", errs.msgs[i]);
	cfg_errors_release(&errs);
	return c;
}

static void
test_keys(void)
{
	struct cfg *c = load("[trunk carrier]\nhost = 192.0.2.10\nport = 5070\ntransport = tcp\n"
	    "username = acc\npassword = pw\nregister = yes\nregister_expires = 120\n"
	    "match = 198.51.100.0/24\nmax_calls = 2\nout_format = e164\ncountry_code = 44\n"
	    "[route r]\ndirection = inbound\nmatch = 7\ntrunk = carrier\n");
	const struct cfg_trunk *t;
	struct cfg_errors errs;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	t = cfg_trunk_find(c, "carrier");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(t->host, "192.0.2.10");
	CU_ASSERT_EQUAL(t->port, 5070);
	CU_ASSERT_EQUAL(t->transport, CFG_TRANSPORT_TCP);
	CU_ASSERT_EQUAL(t->reg, 1);
	CU_ASSERT_EQUAL(t->register_expires, 120);
	CU_ASSERT_EQUAL(t->register_retry, 30);
	CU_ASSERT_EQUAL(t->n_match, 1);
	CU_ASSERT_EQUAL(t->policy.max_calls, 2);
	CU_ASSERT_EQUAL(t->out.format, CFG_NUMFMT_E164);
	CU_ASSERT_STRING_EQUAL(t->international_prefix, "00");
	CU_ASSERT_STRING_EQUAL(c->routes[0].trunk, "carrier");
	cfg_unref(c);

	/* errors: unknown trunk, register without credentials, both target and trunk */
	c = cfg_load_string("t.conf", "[route r]\ndirection = inbound\nmatch = 7\ntrunk = nope\n",
	    &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_TRUE(errs.n == 1 && strstr(errs.msgs[0], "unknown trunk 'nope'") != NULL);
	cfg_errors_release(&errs);
	c = cfg_load_string("t.conf", "[trunk a]\nhost = 192.0.2.1\nregister = yes\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_EQUAL(errs.n, 2);
	cfg_errors_release(&errs);
	c = cfg_load_string("t.conf", "[trunk a]\nhost = 192.0.2.1\n[route r]\ndirection = inbound\n"
	    "match = 7\ntrunk = a\ntarget = sip:x@h\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_TRUE(errs.n == 1 && strstr(errs.msgs[0], "exclude") != NULL);
	cfg_errors_release(&errs);
	c = cfg_load_string("t.conf", "[trunk a]\nhost = carrier.example\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	cfg_errors_release(&errs);
}

static void
fmt(const struct cfg_trunk *t, const struct cfg_numrule *r, int strip, const char *in,
    const char *want)
{
	char out[64];
	int e = sip_trunk_number(t, r, strip, in, out, sizeof(out));

	CU_ASSERT_EQUAL(e, 0);
	if (e == 0 && strcmp(out, want) != 0)
		fprintf(stderr, "\n%s -> %s, expected %s", in, out, want);
	CU_ASSERT_TRUE(e == 0 && strcmp(out, want) == 0);
}

static void
test_number_formats(void)
{
	struct cfg *c = load("[trunk t]\nhost = 192.0.2.10\ncountry_code = 44\n"
	    "out_strip = 1\nout_format = e164\n"
	    "in_format = national\n");
	struct cfg_trunk *t;
	char out[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	t = &c->trunks[0];
	/* out: strip 1 ("9" access code), then E.164 */
	fmt(t, &t->out, 1, "902071234567", "+442071234567");
	fmt(t, &t->out, 1, "90033123456789", "+33123456789");
	fmt(t, &t->out, 1, "9+33123456789", "+33123456789");
	/* a short code is written as it is */
	fmt(t, &t->out, 1, "9112", "112");
	/* prepend after strip, before the format */
	t->out.strip = 0;
	free(t->out.prepend);
	t->out.prepend = strdup("0");
	fmt(t, &t->out, 1, "2071234567", "+442071234567");
	t->out.strip = 1;
	t->out.prepend[0] = '\0';
	/* the calling number: format only */
	fmt(t, &t->out, 0, "02071234567", "+442071234567");
	fmt(t, &t->out, 0, "5551234", "5551234");
	/* in: national */
	fmt(t, &t->in, 1, "+442071234567", "02071234567");
	fmt(t, &t->in, 1, "+33123456789", "0033123456789");
	fmt(t, &t->in, 1, "442071234567", "442071234567");   /* no + : not known as intl */
	fmt(t, &t->in, 1, "0033123456789", "0033123456789");
	/* e164-noplus and keep */
	t->in.format = CFG_NUMFMT_E164_NOPLUS;
	fmt(t, &t->in, 1, "02071234567", "442071234567");
	fmt(t, &t->in, 1, "+33123456789", "33123456789");
	t->in.format = CFG_NUMFMT_KEEP;
	fmt(t, &t->in, 1, "+33123456789", "+33123456789");
	/* a bare "+" or "+" with letters is not an international number */
	t->in.format = CFG_NUMFMT_E164;
	fmt(t, &t->in, 1, "+", "+");
	fmt(t, &t->in, 1, "+44x", "+44x");
	/* without a country code a national number stays national */
	free(t->country_code);
	t->country_code = strdup("");
	fmt(t, &t->in, 1, "02071234567", "02071234567");
	/* errors */
	CU_ASSERT_EQUAL(sip_trunk_number(t, &t->out, 1, "9", out, sizeof(out)), EINVAL);
	CU_ASSERT_EQUAL(sip_trunk_number(t, &t->out, 1, "9123456789", out, sizeof(out)), ENOSPC);
	cfg_unref(c);
}

static void
test_timing(void)
{
	/* the smaller of 90% and expiry - 30 */
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(3600), 3240);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(600), 540);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(300), 270);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(120), 90);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(61), 31);
	/* short expiries: half */
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(60), 30);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(10), 5);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(1), 1);
	CU_ASSERT_EQUAL(sip_trunk_refresh_after(0), 1);
	/* always before the expiry */
	for (unsigned int e = 1; e < 100000; e += 7)
		CU_ASSERT_TRUE(sip_trunk_refresh_after(e) < e || e == 1);
	/* back-off: doubling from the first, capped at 1800 */
	CU_ASSERT_EQUAL(sip_trunk_backoff(30, 1), 30);
	CU_ASSERT_EQUAL(sip_trunk_backoff(30, 2), 60);
	CU_ASSERT_EQUAL(sip_trunk_backoff(30, 3), 120);
	CU_ASSERT_EQUAL(sip_trunk_backoff(30, 6), 960);
	CU_ASSERT_EQUAL(sip_trunk_backoff(30, 7), 1800);
	CU_ASSERT_EQUAL(sip_trunk_backoff(30, 1000), 1800);
	CU_ASSERT_EQUAL(sip_trunk_backoff(2, 3), 8);
	CU_ASSERT_EQUAL(sip_trunk_backoff(3600, 5), 3600);
	CU_ASSERT_EQUAL(sip_trunk_backoff(0, 1), 1);
}

static void
test_matching(void)
{
	struct cfg *c = load("[trunk a]\nhost = 192.0.2.10\nmatch = 198.51.100.0/24, 2001:db8::/32\n"
	    "username = ua\npassword = pa\n"
	    "[trunk b]\nhost = 192.0.2.11\nmatch = 203.0.113.5/32\nusername = ub\n");
	struct cfg *c2;
	struct addr x;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	addr_from_ip(&x, "198.51.100.77", 5060);
	CU_ASSERT_PTR_EQUAL(sip_trunk_match(c, &x), &c->trunks[0]);
	addr_from_ip(&x, "2001:db8::1", 5060);
	CU_ASSERT_PTR_EQUAL(sip_trunk_match(c, &x), &c->trunks[0]);
	addr_from_ip(&x, "203.0.113.5", 1);
	CU_ASSERT_PTR_EQUAL(sip_trunk_match(c, &x), &c->trunks[1]);
	addr_from_ip(&x, "203.0.113.6", 1);
	CU_ASSERT_PTR_NULL(sip_trunk_match(c, &x));
	addr_from_ip(&x, "192.0.2.10", 5060);       /* the proxy itself is not matched */
	CU_ASSERT_PTR_NULL(sip_trunk_match(c, &x));
	/* by user name: only a trunk with a password */
	CU_ASSERT_PTR_EQUAL(sip_trunk_by_user(c, "ua"), &c->trunks[0]);
	CU_ASSERT_PTR_NULL(sip_trunk_by_user(c, "ub"));
	CU_ASSERT_PTR_NULL(sip_trunk_by_user(c, "uc"));
	/* a reload keeps a registration only when its keys are the same */
	c2 = load("[trunk a]\nhost = 192.0.2.10\nmatch = 198.51.100.0/25\n"
	    "username = ua\npassword = pa\nmax_calls = 3\n"
	    "[trunk b]\nhost = 192.0.2.11\nusername = ub\nport = 5080\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	CU_ASSERT_TRUE(sip_trunk_same_registration(&c->trunks[0], &c2->trunks[0]));
	CU_ASSERT_FALSE(sip_trunk_same_registration(&c->trunks[1], &c2->trunks[1]));
	cfg_unref(c2);
	cfg_unref(c);
}

static osip_message_t *
parse(const char *text)
{
	osip_message_t *m = NULL;

	CU_ASSERT_EQUAL_FATAL(osip_message_init(&m), 0);
	CU_ASSERT_EQUAL_FATAL(osip_message_parse(m, text, strlen(text)), 0);
	return m;
}

#define RESP_HEAD "SIP/2.0 %d Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n" \
	"From: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"

static void
test_client_digest(void)
{
	static const char md5[] = RESP_HEAD
	    "WWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
	    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
	    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\nContent-Length: 0\r\n\r\n";
	static const char two[] = RESP_HEAD
	    "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-512-256\r\n"
	    "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-256\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char authint[] = RESP_HEAD
	    "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"\r\n"
	    "Content-Length: 0\r\n\r\n";
	struct sip_auth_cred cred = { "Mufasa", "Circle Of Life", NULL };
	char buf[sizeof(md5) + 20], ha1[SIP_AUTH_HEX_MAX], want[SIP_AUTH_HEX_MAX], *line = NULL;
	osip_message_t *m;

	snprintf(buf, sizeof(buf), md5, 401);
	m = parse(buf);
	CU_ASSERT_EQUAL(sip_auth_answer(m, &cred, "GET", "/dir/index.html", "0a4f113b", 1, &line), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	CU_ASSERT_STRING_EQUAL(line, "Authorization: Digest username=\"Mufasa\", "
	    "realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
	    "uri=\"/dir/index.html\", response=\"6629fae49393a05397450978507c4ef1\", "
	    "algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
	    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n");
	free(line);
	/* the same from HA1 */
	sip_auth_ha1(SIP_AUTH_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
	cred.password = NULL;
	cred.ha1 = ha1;
	CU_ASSERT_EQUAL(sip_auth_answer(m, &cred, "GET", "/dir/index.html", "0a4f113b", 1, &line), 0);
	CU_ASSERT_TRUE(line != NULL && strstr(line, "6629fae49393a05397450978507c4ef1") != NULL);
	free(line);
	osip_message_free(m);

	/* 407: Proxy-Authorization, the first algorithm we know (SHA-256),
	 * no qop: the RFC 2069 form */
	snprintf(buf, sizeof(buf), two, 407);
	m = parse(buf);
	CU_ASSERT_EQUAL(sip_auth_answer(m, &cred, "INVITE", "sip:1@h", "cn", 1, &line), ENOENT);
	cred.password = "pw";
	CU_ASSERT_EQUAL(sip_auth_answer(m, &cred, "INVITE", "sip:1@h", "cn", 1, &line), 0);
	sip_auth_ha1(SIP_AUTH_SHA256, "Mufasa", "r", "pw", ha1);
	sip_auth_digest(SIP_AUTH_SHA256, ha1, "INVITE", "sip:1@h", "n1", NULL, NULL, NULL, want);
	CU_ASSERT_TRUE(line != NULL && strncmp(line, "Proxy-Authorization: Digest ", 28) == 0);
	CU_ASSERT_TRUE(line != NULL && strstr(line, want) != NULL);
	CU_ASSERT_TRUE(line != NULL && strstr(line, "algorithm=SHA-256\r\n") != NULL);
	free(line);
	osip_message_free(m);

	/* auth-int only: not answerable */
	snprintf(buf, sizeof(buf), authint, 401);
	m = parse(buf);
	CU_ASSERT_EQUAL(sip_auth_answer(m, &cred, "INVITE", "sip:1@h", "cn", 1, &line), EINVAL);
	CU_ASSERT_PTR_NULL(line);
	osip_message_free(m);
}

/* Our client answer is accepted by our own server check: a trunk that
 * authenticates to us by its username. */
static void
test_trunk_authenticates(void)
{
	struct cfg *c = load("[trunk carrier]\nhost = 192.0.2.10\nusername = carrier\n"
	    "password = s3cret\nacl = 198.51.100.0/24\n");
	const struct cfg_user *u = NULL;
	const struct cfg_trunk *t = NULL;
	const char *reason = NULL;
	char *claimed = NULL, *line = NULL, *chal, *text = NULL;
	struct sip_auth_cred cred = { "carrier", "s3cret", NULL };
	osip_message_t *resp, *req;
	struct addr src;
	time_t now = 1000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	chal = sip_auth_challenge(c, now, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(chal);
	CU_ASSERT_TRUE(asprintf(&text, "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
	    "From: <sip:a@h>;tag=1\r\nTo: <sip:1@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n%s"
	    "Content-Length: 0\r\n\r\n", chal) > 0);
	resp = parse(text);
	free(text);
	CU_ASSERT_EQUAL(sip_auth_answer(resp, &cred, "INVITE", "sip:100@192.0.2.1", "abcd", 1,
	    &line), 0);
	CU_ASSERT_TRUE_FATAL(asprintf(&text, "INVITE sip:100@192.0.2.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h;branch=z9hG4bKy\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:100@h>\r\n"
	    "Call-ID: c\r\nCSeq: 2 INVITE\r\n%sContent-Length: 0\r\n\r\n", line) > 0);
	req = parse(text);
	addr_from_ip(&src, "198.51.100.9", 5060);
	CU_ASSERT_EQUAL(sip_auth_check_trunk(req, &src, c, now, &u, &t, &claimed, &reason),
	    SIP_AUTH_OK);
	CU_ASSERT_PTR_NULL(u);
	CU_ASSERT_PTR_EQUAL(t, &c->trunks[0]);
	free(claimed);
	/* the users-only check does not take it */
	sip_auth_reset();
	CU_ASSERT_EQUAL(sip_auth_check(req, &src, c, now, &u, &claimed, &reason), SIP_AUTH_FAILED);
	free(claimed);
	/* outside the trunk's acl: refused */
	sip_auth_reset();
	addr_from_ip(&src, "203.0.113.9", 5060);
	CU_ASSERT_EQUAL(sip_auth_check_trunk(req, &src, c, now, &u, &t, &claimed, &reason),
	    SIP_AUTH_FAILED);
	CU_ASSERT_STRING_EQUAL(reason, "acl");
	CU_ASSERT_PTR_NULL(t);
	free(claimed);
	osip_message_free(req);
	osip_message_free(resp);
	free(text);
	free(line);
	free(chal);
	cfg_unref(c);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	log_init("test_trunk", 1, LOG_LEVEL_ERROR);
	parser_init();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("trunk", NULL, NULL);
	CU_add_test(s, "[trunk] keys and errors", test_keys);
	CU_add_test(s, "number formats both ways", test_number_formats);
	CU_add_test(s, "refresh and back-off schedule", test_timing);
	CU_add_test(s, "matching by source and by user", test_matching);
	CU_add_test(s, "client digest answers", test_client_digest);
	CU_add_test(s, "a trunk authenticates to us", test_trunk_authenticates);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	sip_auth_reset();
	return fails > 0 ? 1 : 0;
}
