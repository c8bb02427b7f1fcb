/* Toll-fraud limits: prefix allow/deny, sliding windows, per-caller
 * counters and blocked sources, all with injected time. */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "call/limits.h"

static struct cfg_strlist
list(const char *first, ...)
{
	struct cfg_strlist l = { .n = 0 };
	va_list ap;

	va_start(ap, first);
	for (const char *s = first; s != NULL; s = va_arg(ap, const char *))
		l.v[l.n++] = (char *)s;
	va_end(ap);
	return l;
}

/* The documented default of [general] default_deny. */
#define DEFAULT_DENY "00", "011", "+", "0900", "0906", "0909", "1900", NULL

static void
test_prefix_default_deny(void)
{
	struct cfg_strlist dd = list(DEFAULT_DENY);
	const char *m = NULL;

	CU_ASSERT_EQUAL(limits_prefix_check("0044207946000", NULL, NULL, &dd, &m), LIMITS_DENIED);
	CU_ASSERT_STRING_EQUAL(m, "00");
	CU_ASSERT_EQUAL(limits_prefix_check("01144207946000", NULL, NULL, &dd, &m), LIMITS_DENIED);
	CU_ASSERT_STRING_EQUAL(m, "011");
	CU_ASSERT_EQUAL(limits_prefix_check("+4930123", NULL, NULL, &dd, &m), LIMITS_DENIED);
	CU_ASSERT_EQUAL(limits_prefix_check("09001234", NULL, NULL, &dd, &m), LIMITS_DENIED);
	CU_ASSERT_STRING_EQUAL(m, "0900");
	CU_ASSERT_EQUAL(limits_prefix_check("19005551234", NULL, NULL, &dd, &m), LIMITS_DENIED);
	/* national and local numbers pass */
	CU_ASSERT_EQUAL(limits_prefix_check("0301234567", NULL, NULL, &dd, &m), LIMITS_OK);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(limits_prefix_check("100", NULL, NULL, &dd, &m), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_prefix_check("0", NULL, NULL, &dd, &m), LIMITS_OK);
	/* an empty default list allows everything */
	CU_ASSERT_EQUAL(limits_prefix_check("0044", NULL, NULL, NULL, &m), LIMITS_OK);
}

static void
test_prefix_allow_lifts_default(void)
{
	struct cfg_strlist dd = list(DEFAULT_DENY);
	struct cfg_strlist allow = list("0044", NULL);
	struct cfg_strlist allow00 = list("00", NULL);
	struct cfg_strlist allow0 = list("0", NULL);
	struct cfg_strlist star = list("*", NULL);

	/* only the allowed country */
	CU_ASSERT_EQUAL(limits_prefix_check("00442079", &allow, NULL, &dd, NULL), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_prefix_check("00332079", &allow, NULL, &dd, NULL), LIMITS_DENIED);
	/* equal length: allow lifts the default */
	CU_ASSERT_EQUAL(limits_prefix_check("00332079", &allow00, NULL, &dd, NULL), LIMITS_OK);
	/* a shorter allow does not lift a longer default */
	CU_ASSERT_EQUAL(limits_prefix_check("09001234", &allow0, NULL, &dd, NULL), LIMITS_DENIED);
	CU_ASSERT_EQUAL(limits_prefix_check("0301234", &allow0, NULL, &dd, NULL), LIMITS_OK);
	/* "*" has length 0: it lifts nothing */
	CU_ASSERT_EQUAL(limits_prefix_check("0044", &star, NULL, &dd, NULL), LIMITS_DENIED);
}

static void
test_prefix_user_deny(void)
{
	struct cfg_strlist deny = list("0180", "118", NULL);
	struct cfg_strlist allow = list("118", "01805", NULL);
	struct cfg_strlist star = list("*", NULL);
	const char *m = NULL;

	CU_ASSERT_EQUAL(limits_prefix_check("01801234", NULL, &deny, NULL, &m), LIMITS_DENIED);
	CU_ASSERT_STRING_EQUAL(m, "0180");
	/* a longer allow beats a shorter deny, a deny beats an allow of equal length */
	CU_ASSERT_EQUAL(limits_prefix_check("01805123", &allow, &deny, NULL, &m), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_prefix_check("11833", &allow, &deny, NULL, &m), LIMITS_DENIED);
	CU_ASSERT_STRING_EQUAL(m, "118");
	/* deny "*": everything, unless allowed */
	CU_ASSERT_EQUAL(limits_prefix_check("123", NULL, &star, NULL, &m), LIMITS_DENIED);
	CU_ASSERT_EQUAL(limits_prefix_check("11800", &allow, &star, NULL, &m), LIMITS_OK);
}

static void
test_prefix_bad_numbers(void)
{
	struct cfg_strlist dd = list(DEFAULT_DENY);

	/* escapes and separators could hide a denied prefix: refused */
	CU_ASSERT_EQUAL(limits_prefix_check("%2B4420", NULL, NULL, &dd, NULL), LIMITS_BAD_NUMBER);
	CU_ASSERT_EQUAL(limits_prefix_check("0-0-44", NULL, NULL, &dd, NULL), LIMITS_BAD_NUMBER);
	CU_ASSERT_EQUAL(limits_prefix_check(" 0044", NULL, NULL, &dd, NULL), LIMITS_BAD_NUMBER);
	CU_ASSERT_EQUAL(limits_prefix_check("", NULL, NULL, &dd, NULL), LIMITS_BAD_NUMBER);
	CU_ASSERT_EQUAL(limits_prefix_check(NULL, NULL, NULL, &dd, NULL), LIMITS_BAD_NUMBER);
	CU_ASSERT_EQUAL(limits_prefix_check("*21#", NULL, NULL, &dd, NULL), LIMITS_OK);
}

static void
test_window(void)
{
	struct limits_window w;

	CU_ASSERT_EQUAL(limits_window_init(&w, 3), 0);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 1000, 1000), 0);
	limits_window_add(&w, 1000);
	limits_window_add(&w, 1100);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 1200, 1000), 0);
	limits_window_add(&w, 1200);
	/* full: the oldest (1000) leaves the window at 2000 */
	CU_ASSERT_EQUAL(limits_window_wait(&w, 1300, 1000), 700);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 1999, 1000), 1);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 2000, 1000), 0);
	CU_ASSERT_EQUAL(limits_window_count(&w, 1300, 1000), 3);
	limits_window_add(&w, 2000);
	/* now 1100, 1200, 2000 */
	CU_ASSERT_EQUAL(limits_window_wait(&w, 2050, 1000), 50);
	CU_ASSERT_EQUAL(limits_window_count(&w, 2050, 1000), 3);
	CU_ASSERT_EQUAL(limits_window_count(&w, 2150, 1000), 2);
	/* shrink keeps the newest: 1200, 2000 */
	CU_ASSERT_EQUAL(limits_window_resize(&w, 2), 0);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 2100, 1000), 100);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 2200, 1000), 0);
	/* grow: room again */
	CU_ASSERT_EQUAL(limits_window_resize(&w, 5), 0);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 2100, 1000), 0);
	CU_ASSERT_EQUAL(limits_window_count(&w, 2100, 1000), 2);
	/* cap 0: no limit */
	CU_ASSERT_EQUAL(limits_window_resize(&w, 0), 0);
	limits_window_add(&w, 2100);
	CU_ASSERT_EQUAL(limits_window_wait(&w, 2100, 1000), 0);
	limits_window_release(&w);
}

static void
test_calls_concurrent(void)
{
	struct limits *l = limits_new();
	struct cfg_policy p = { .max_calls = 2 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, 0), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, 1), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, 2), LIMITS_MAX_CALLS);
	CU_ASSERT_EQUAL(limits_calls(l, "user:a"), 2);
	/* another caller has its own count */
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:b", &p, 3), LIMITS_OK);
	limits_call_end(l, "user:a");
	CU_ASSERT_EQUAL(limits_calls(l, "user:a"), 1);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, 4), LIMITS_OK);
	/* a reload that raises the limit applies to the next call */
	p.max_calls = 3;
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, 5), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, 6), LIMITS_MAX_CALLS);
	/* ending more than started does not go below zero */
	for (int i = 0; i < 5; i++)
		limits_call_end(l, "user:b");
	CU_ASSERT_EQUAL(limits_calls(l, "user:b"), 0);
	limits_call_end(l, "user:nobody");
	limits_free(l);
}

static void
test_calls_per_minute(void)
{
	struct limits *l = limits_new();
	struct cfg_policy p = { .max_calls_per_minute = 3 };
	uint64_t t0 = 5000000;

	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + i * 1000), LIMITS_OK);
		limits_call_end(l, "user:a");
	}
	/* the 4th within the minute of the first is refused, even with no live call */
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + 30000), LIMITS_RATE);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + 59999), LIMITS_RATE);
	/* a refused call is not counted: at 60 s the first has left */
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + 60000), LIMITS_OK);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + 60500), LIMITS_RATE);
	CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + 61000), LIMITS_OK);
	/* no limit */
	p.max_calls_per_minute = 0;
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(limits_call_admit(l, "user:a", &p, t0 + 61000), LIMITS_OK);
	limits_free(l);
}

static void
test_ban(void)
{
	struct limits_ban *b = limits_ban_new(4);
	struct addr a, a2, c;
	unsigned int n = 0;
	uint64_t t = 1000000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	addr_parse(&a, "203.0.113.5:5060", 0);
	addr_parse(&a2, "203.0.113.5:40000", 0);   /* same IP, other port */
	addr_parse(&c, "198.51.100.7:5060", 0);
	/* limit 3 within 60 s, block 600 s */
	CU_ASSERT_EQUAL(limits_ban_fail(b, &a, t, 3, 60000, 600000, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(limits_ban_fail(b, &a2, t + 1000, 3, 60000, 600000, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &a, t + 1000), 0);
	CU_ASSERT_EQUAL(limits_ban_fail(b, &c, t + 1500, 3, 60000, 600000, &n), 0);
	CU_ASSERT_EQUAL(limits_ban_fail(b, &a, t + 2000, 3, 60000, 600000, &n), 1);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &a, t + 2000), 600000);
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &a2, t + 602000 - 1), 1);
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &c, t + 2000), 0);
	/* the block ends; the record starts clean */
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &a, t + 602000), 0);
	CU_ASSERT_EQUAL(limits_ban_fail(b, &a, t + 602000, 3, 60000, 600000, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	limits_ban_free(b);
}

static void
test_ban_window(void)
{
	struct limits_ban *b = limits_ban_new(4);
	struct addr a;
	uint64_t t = 0;

	addr_parse(&a, "203.0.113.5", 5060);
	/* failures spread wider than the window never block */
	for (int i = 0; i < 50; i++)
		CU_ASSERT_EQUAL(limits_ban_fail(b, &a, t + (uint64_t)i * 30000, 3, 60000, 600000, NULL), 0);
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &a, t + 50 * 30000), 0);
	/* limit 0: never blocked */
	for (int i = 0; i < 50; i++)
		CU_ASSERT_EQUAL(limits_ban_fail(b, &a, 2000000, 0, 60000, 600000, NULL), 0);
	CU_ASSERT_EQUAL(limits_ban_blocked(b, &a, 2000000), 0);
	limits_ban_free(b);
}

static void
test_ban_eviction(void)
{
	struct limits_ban *b = limits_ban_new(2);
	struct addr x, y, z;
	size_t known, blocked;

	addr_parse(&x, "192.0.2.1", 1);
	addr_parse(&y, "192.0.2.2", 1);
	addr_parse(&z, "192.0.2.3", 1);
	/* x blocked; y failed once; z pushes out y, not the blocked x */
	CU_ASSERT_EQUAL(limits_ban_fail(b, &x, 10, 1, 60000, 600000, NULL), 1);
	CU_ASSERT_EQUAL(limits_ban_fail(b, &y, 20, 5, 60000, 600000, NULL), 0);
	CU_ASSERT_EQUAL(limits_ban_fail(b, &z, 30, 5, 60000, 600000, NULL), 0);
	CU_ASSERT(limits_ban_blocked(b, &x, 40) > 0);
	limits_ban_stats(b, 40, &known, &blocked);
	CU_ASSERT_EQUAL(known, 2);
	CU_ASSERT_EQUAL(blocked, 1);
	limits_ban_free(b);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("limits", NULL, NULL);
	CU_add_test(s, "prefix: default deny list", test_prefix_default_deny);
	CU_add_test(s, "prefix: allow lifts the default", test_prefix_allow_lifts_default);
	CU_add_test(s, "prefix: user deny", test_prefix_user_deny);
	CU_add_test(s, "prefix: malformed numbers refused", test_prefix_bad_numbers);
	CU_add_test(s, "sliding window", test_window);
	CU_add_test(s, "per-caller concurrent calls", test_calls_concurrent);
	CU_add_test(s, "per-caller calls per minute", test_calls_per_minute);
	CU_add_test(s, "blocked source after failures", test_ban);
	CU_add_test(s, "failures outside the window", test_ban_window);
	CU_add_test(s, "blocked sources are kept on eviction", test_ban_eviction);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails > 0 ? 1 : 0;
}
