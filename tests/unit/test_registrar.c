/* The registrar store: expiry with an injected clock, contacts added,
 * refreshed, replaced and removed, the per-user limit, keep-alive timing,
 * out-of-order refreshes, and the SQLite round trip through a temp dir. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sip/sip_registrar.h"

static struct sip_route
route_of(const char *ip, unsigned int port, enum sip_proto proto, uint64_t ep)
{
	struct sip_route r;

	memset(&r, 0, sizeof(r));
	addr_from_ip(&r.dst, ip, port);
	r.proto = proto;
	r.ep = ep;
	return r;
}

static int
bind1(struct sip_reg *reg, const char *user, const char *uri, const char *cid, unsigned int cseq,
      const struct sip_route *r, unsigned int expires, unsigned int max, time_t now)
{
	struct sip_reg_binding b = {
		.user = user, .uri = uri, .call_id = cid, .cseq = cseq, .route = r,
		.expires = expires,
	};

	return sip_reg_bind(reg, &b, max, now);
}

static void
test_expiry(void)
{
	struct sip_reg *reg = sip_reg_new();
	struct sip_route r = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 3);
	const struct sip_reg_contact *cs[4];
	time_t t0 = 1700000000;

	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:alice@10.0.0.2:5060", "c1", 1, &r, 60, 5, t0), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 59, cs, 4), 1);
	CU_ASSERT_EQUAL(cs[0]->expires, t0 + 60);
	CU_ASSERT_TRUE(addr_eq(&cs[0]->route.dst, &r.dst));
	CU_ASSERT_EQUAL(cs[0]->route.ep, 3);
	/* Not live at its expiry second; expire removes it then, not before. */
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 60, cs, 4), 0);
	CU_ASSERT_EQUAL(sip_reg_expire(reg, t0 + 59), 0);
	CU_ASSERT_EQUAL(sip_reg_expire(reg, t0 + 60), 1);
	CU_ASSERT_PTR_NULL(sip_reg_first(reg));
	/* A refresh moves the expiry. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:alice@10.0.0.2:5060", "c1", 2, &r, 60, 5, t0), 0);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:alice@10.0.0.2:5060", "c1", 3, &r, 120, 5, t0 + 50), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 100, cs, 4), 1);
	CU_ASSERT_EQUAL(cs[0]->expires, t0 + 170);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "bob", t0 + 100, cs, 4), 0);
	sip_reg_free(reg);
}

static void
test_add_replace_remove(void)
{
	struct sip_reg *reg = sip_reg_new();
	struct sip_route r1 = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 1);
	struct sip_route r2 = route_of("192.0.2.11", 40002, SIP_PROTO_TCP, 9);
	const struct sip_reg_contact *cs[4];
	time_t t0 = 1000;

	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2", "c1", 1, &r1, 300, 5, t0), 0);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.3;transport=tcp", "c2", 1, &r2, 300, 5, t0 + 1), 0);
	CU_ASSERT_EQUAL(bind1(reg, "bob", "sip:b@10.0.0.4", "c3", 1, &r1, 300, 5, t0), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 2, cs, 4), 2);
	/* Most recently refreshed first. */
	CU_ASSERT_STRING_EQUAL(cs[0]->uri, "sip:a@10.0.0.3;transport=tcp");
	CU_ASSERT_EQUAL(cs[0]->route.proto, SIP_PROTO_TCP);
	/* The same contact again (case of the URI aside) is a refresh, not a
	 * new binding; the new route replaces the old one. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "SIP:a@10.0.0.2", "c1", 2, &r2, 300, 5, t0 + 3), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 4, cs, 4), 2);
	CU_ASSERT_STRING_EQUAL(cs[0]->uri, "sip:a@10.0.0.2");
	CU_ASSERT_EQUAL(cs[0]->route.ep, 9);
	/* Expires 0 removes one binding. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2", "c1", 3, &r1, 0, 5, t0 + 5), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 5, cs, 4), 1);
	CU_ASSERT_STRING_EQUAL(cs[0]->uri, "sip:a@10.0.0.3;transport=tcp");
	/* Removing what is not there is fine. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:nobody@10.0.0.9", "c9", 1, &r1, 0, 5, t0 + 5), 0);
	/* "*": all of alice's, none of bob's. */
	CU_ASSERT_EQUAL(sip_reg_remove_user(reg, "alice"), 1);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", t0 + 6, cs, 4), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "bob", t0 + 6, cs, 4), 1);
	sip_reg_free(reg);
}

static void
test_out_of_order(void)
{
	struct sip_reg *reg = sip_reg_new();
	struct sip_route r = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 1);
	const struct sip_reg_contact *cs[2];

	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2", "c1", 5, &r, 300, 5, 100), 0);
	/* Same Call-ID, CSeq not above: refused, nothing changed. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2", "c1", 5, &r, 0, 5, 101), EAGAIN);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2", "c1", 4, &r, 900, 5, 101), EAGAIN);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", 102, cs, 2), 1);
	CU_ASSERT_EQUAL(cs[0]->expires, 400);
	/* Another Call-ID (a restarted phone) may refresh with any CSeq. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2", "c2", 1, &r, 600, 5, 110), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", 111, cs, 2), 1);
	CU_ASSERT_EQUAL(cs[0]->expires, 710);
	sip_reg_free(reg);
}

static void
test_max_contacts(void)
{
	struct sip_reg *reg = sip_reg_new();
	struct sip_route r = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 1);
	const struct sip_reg_contact *cs[8];
	char uri[64];

	for (int i = 0; i < 3; i++) {
		snprintf(uri, sizeof(uri), "sip:a@10.0.0.%d", i + 1);
		CU_ASSERT_EQUAL(bind1(reg, "alice", uri, uri, 1, &r, 300, 3, 100 + i), 0);
	}
	/* bob's contact does not count against alice. */
	CU_ASSERT_EQUAL(bind1(reg, "bob", "sip:b@10.0.0.9", "b", 1, &r, 300, 3, 90), 0);
	/* Refresh the oldest (.1): then .2 is the least recently refreshed. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.1", "x", 1, &r, 300, 3, 110), 0);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.4", "y", 1, &r, 300, 3, 111), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", 112, cs, 8), 3);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_STRING_NOT_EQUAL(cs[i]->uri, "sip:a@10.0.0.2");
	CU_ASSERT_STRING_EQUAL(cs[0]->uri, "sip:a@10.0.0.4");
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "bob", 112, cs, 8), 1);
	/* lookup reports how many there are even when out is small. */
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", 112, cs, 1), 3);
	CU_ASSERT_STRING_EQUAL(cs[0]->uri, "sip:a@10.0.0.4");
	sip_reg_free(reg);
}

static void
test_keepalive(void)
{
	struct sip_reg *reg = sip_reg_new();
	struct sip_route u = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 1);
	struct sip_route t = route_of("192.0.2.11", 40001, SIP_PROTO_TCP, 2);
	const struct sip_reg_contact *due[4];

	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@udp", "c1", 1, &u, 300, 5, 1000), 0);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@tcp", "c2", 1, &t, 300, 5, 1000), 0);
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1029, 30, due, 4), 0);
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1030, 30, due, 4), 1);   /* UDP only */
	CU_ASSERT_STRING_EQUAL(due[0]->uri, "sip:a@udp");
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1031, 30, due, 4), 0);
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1060, 30, due, 4), 1);
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 2000, 0, due, 4), 0);    /* off */
	/* A refresh restarts the interval from the REGISTER. */
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@udp", "c1", 2, &u, 300, 5, 1070), 0);
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1099, 30, due, 4), 0);
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1100, 30, due, 4), 1);
	/* None to an expired binding. */
	CU_ASSERT_EQUAL(sip_reg_keepalives_due(reg, 1400, 30, due, 4), 0);
	sip_reg_free(reg);
}

static void
test_persistence(void)
{
	char dir[] = "/tmp/test_registrar.XXXXXX", path[128];
	struct sip_reg *reg;
	struct sip_route u = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 7);
	struct sip_route t = route_of("2001:db8::5", 5061, SIP_PROTO_TCP, 8);
	const struct sip_reg_contact *cs[4];
	struct addr want;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@10.0.0.2:5062", "c1", 7, &u, 300, 5, 1000), 0);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@[2001:db8::5]:5061;transport=tcp", "c2", 1, &t, 60, 5, 1001), 0);
	CU_ASSERT_EQUAL(bind1(reg, "bob", "sip:b@10.0.0.3", "c3", 1, &u, 300, 5, 1000), 0);
	CU_ASSERT_EQUAL(bind1(reg, "bob", "sip:b@10.0.0.3", "c3", 2, &u, 0, 5, 1002), 0); /* removed */
	sip_reg_free(reg);

	/* A new store (a restarted daemon) at a time the TCP one has expired. */
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	CU_ASSERT_EQUAL(sip_reg_db_load(reg, 1100), 1);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "bob", 1100, cs, 4), 0);
	CU_ASSERT_EQUAL_FATAL(sip_reg_lookup(reg, "alice", 1100, cs, 4), 1);
	CU_ASSERT_STRING_EQUAL(cs[0]->uri, "sip:a@10.0.0.2:5062");
	CU_ASSERT_STRING_EQUAL(cs[0]->call_id, "c1");
	CU_ASSERT_EQUAL(cs[0]->cseq, 7);
	CU_ASSERT_EQUAL(cs[0]->expires, 1300);
	CU_ASSERT_EQUAL(cs[0]->route.proto, SIP_PROTO_UDP);
	CU_ASSERT_EQUAL(cs[0]->route.ep, 0);        /* the old endpoint is gone */
	CU_ASSERT_TRUE(addr_eq(&cs[0]->route.dst, &u.dst));
	sip_reg_free(reg);

	/* The same file loaded earlier still holds the TCP one, with its
	 * IPv6 source, unless the previous load deleted it: it did. */
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	CU_ASSERT_EQUAL(sip_reg_db_load(reg, 1000), 1);
	sip_reg_free(reg);

	/* An IPv6 TCP binding survives a round trip with its transport. */
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	CU_ASSERT_EQUAL(bind1(reg, "carol", "sip:c@[2001:db8::5]:5061;transport=tcp", "c4", 1, &t, 60, 5, 2000), 0);
	sip_reg_free(reg);
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	CU_ASSERT_EQUAL(sip_reg_db_load(reg, 2001), 1);
	CU_ASSERT_EQUAL_FATAL(sip_reg_lookup(reg, "carol", 2001, cs, 4), 1);
	CU_ASSERT_EQUAL(cs[0]->route.proto, SIP_PROTO_TCP);
	addr_from_ip(&want, "2001:db8::5", 5061);
	CU_ASSERT_TRUE(addr_eq(&cs[0]->route.dst, &want));
	sip_reg_free(reg);

	/* A TLS binding comes back as TLS, not as UDP. */
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	t.proto = SIP_PROTO_TLS;
	CU_ASSERT_EQUAL(bind1(reg, "dave", "sip:d@192.0.2.12:5061;transport=tls", "c5", 1, &t, 60, 5, 2000), 0);
	sip_reg_free(reg);
	reg = sip_reg_new();
	CU_ASSERT_EQUAL(sip_reg_db_open(reg, dir), 0);
	CU_ASSERT_EQUAL(sip_reg_db_load(reg, 2001), 2);
	CU_ASSERT_EQUAL_FATAL(sip_reg_lookup(reg, "dave", 2001, cs, 4), 1);
	CU_ASSERT_EQUAL(cs[0]->route.proto, SIP_PROTO_TLS);
	sip_reg_free(reg);

	snprintf(path, sizeof(path), "%s/%s", dir, SIP_REG_DB_NAME);
	unlink(path);
	rmdir(dir);
}

static void
test_db_not_writable(void)
{
	struct sip_reg *reg = sip_reg_new();
	struct sip_route u = route_of("192.0.2.10", 40000, SIP_PROTO_UDP, 7);
	const struct sip_reg_contact *cs[2];

	/* A directory that does not exist: an error, and the store works in
	 * memory. */
	CU_ASSERT_NOT_EQUAL(sip_reg_db_open(reg, "/nonexistent/pstnbridge-test"), 0);
	CU_ASSERT_EQUAL(sip_reg_db_load(reg, 0), -1);
	CU_ASSERT_EQUAL(bind1(reg, "alice", "sip:a@x", "c", 1, &u, 60, 5, 10), 0);
	CU_ASSERT_EQUAL(sip_reg_lookup(reg, "alice", 11, cs, 2), 1);
	sip_reg_free(reg);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("registrar", NULL, NULL);
	CU_add_test(s, "expiry with an injected clock", test_expiry);
	CU_add_test(s, "contacts added, refreshed, removed, *", test_add_replace_remove);
	CU_add_test(s, "out-of-order refresh refused", test_out_of_order);
	CU_add_test(s, "max contacts replaces the least recently refreshed", test_max_contacts);
	CU_add_test(s, "keep-alive timing, UDP only", test_keepalive);
	CU_add_test(s, "SQLite round trip", test_persistence);
	CU_add_test(s, "database not usable: memory only", test_db_not_writable);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails > 0 ? 1 : 0;
}
