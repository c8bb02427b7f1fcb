/* Route selection: longest prefix per direction, strip/prepend, target. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "route/route.h"

static struct cfg_route routes[4];
static struct cfg cfg;

static void
setup_routes(void)
{
	memset(routes, 0, sizeof(routes));
	routes[0] = (struct cfg_route){.name = "any", .direction = CFG_ROUTE_OUTBOUND};
	routes[0].match.v[0] = "*";
	routes[0].match.n = 1;
	routes[1] = (struct cfg_route){.name = "national", .direction = CFG_ROUTE_OUTBOUND,
	    .strip = 1, .prepend = "0"};
	routes[1].match.v[0] = "1";
	routes[1].match.v[1] = "9";
	routes[1].match.n = 2;
	routes[2] = (struct cfg_route){.name = "local", .direction = CFG_ROUTE_OUTBOUND};
	routes[2].match.v[0] = "12";
	routes[2].match.n = 1;
	routes[3] = (struct cfg_route){.name = "in", .direction = CFG_ROUTE_INBOUND,
	    .target = "sip:{number}@192.0.2.1:5070;x={number}"};
	routes[3].match.v[0] = "2";
	routes[3].match.n = 1;
	cfg.routes = routes;
	cfg.n_routes = 4;
}

static void
test_longest_prefix(void)
{
	setup_routes();
	CU_ASSERT_STRING_EQUAL(route_find(&cfg, CFG_ROUTE_OUTBOUND, "1234")->name, "local");
	CU_ASSERT_STRING_EQUAL(route_find(&cfg, CFG_ROUTE_OUTBOUND, "1034")->name, "national");
	CU_ASSERT_STRING_EQUAL(route_find(&cfg, CFG_ROUTE_OUTBOUND, "934")->name, "national");
	CU_ASSERT_STRING_EQUAL(route_find(&cfg, CFG_ROUTE_OUTBOUND, "555")->name, "any");
	/* Direction is respected: no inbound route matches 1..., and the
	 * inbound route is not used outbound. */
	CU_ASSERT_PTR_NULL(route_find(&cfg, CFG_ROUTE_INBOUND, "1234"));
	CU_ASSERT_STRING_EQUAL(route_find(&cfg, CFG_ROUTE_INBOUND, "2001")->name, "in");
	CU_ASSERT_STRING_EQUAL(route_find(&cfg, CFG_ROUTE_OUTBOUND, "2001")->name, "any");
}

static void
test_number_rewrite(void)
{
	char out[16];

	setup_routes();
	CU_ASSERT_EQUAL(route_number(&routes[1], "1234", out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "0234");
	CU_ASSERT_EQUAL(route_number(&routes[0], "555", out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "555");
	CU_ASSERT_EQUAL(route_number(&routes[1], "1", out, sizeof(out)), EINVAL);
	CU_ASSERT_EQUAL(route_number(&routes[0], "1234567890123456", out, sizeof(out)), ENOSPC);
}

static void
test_target(void)
{
	char out[64];

	setup_routes();
	CU_ASSERT_EQUAL(route_target(&routes[3], "2001", out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "sip:2001@192.0.2.1:5070;x=2001");
	CU_ASSERT_EQUAL(route_target(&routes[3], "2001", out, 20), ENOSPC);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("route", NULL, NULL);
	CU_add_test(s, "longest prefix per direction", test_longest_prefix);
	CU_add_test(s, "strip and prepend", test_number_rewrite);
	CU_add_test(s, "inbound target template", test_target);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
