/* Q.850 <-> SIP mapping (RFC 3398) and the Reason header (RFC 3326). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "call/cause.h"

struct pair {
	int from, to;
};

/* RFC 3398 section 7.2.4.1, plus our documented choices for 16 and 69. */
static const struct pair q850_sip[] = {
	{1, 404}, {2, 404}, {3, 404}, {16, 480}, {17, 486}, {18, 408},
	{19, 480}, {20, 480}, {21, 403}, {22, 410}, {23, 410}, {26, 404},
	{27, 502}, {28, 484}, {29, 501}, {31, 480}, {34, 503}, {38, 503},
	{41, 503}, {42, 503}, {47, 503}, {55, 403}, {57, 403}, {58, 503},
	{65, 488}, {69, 501}, {70, 488}, {79, 501}, {87, 403}, {88, 503},
	{102, 504}, {111, 500}, {127, 500},
};

/* RFC 3398 section 8.2.6.1, plus our documented choices for 487, 488,
 * 580 and 606. */
static const struct pair sip_q850[] = {
	{400, 41}, {401, 21}, {402, 21}, {403, 21}, {404, 1}, {405, 63},
	{406, 79}, {407, 21}, {408, 102}, {410, 22}, {413, 127}, {414, 127},
	{415, 79}, {416, 127}, {420, 127}, {421, 127}, {423, 127}, {480, 18},
	{481, 41}, {482, 25}, {483, 25}, {484, 28}, {485, 1}, {486, 17},
	{487, 16}, {488, 127}, {500, 41}, {501, 79}, {502, 38}, {503, 41},
	{504, 102}, {505, 127}, {513, 127}, {580, 47}, {600, 17}, {603, 21},
	{604, 1}, {606, 58},
};

static void
test_q850_to_sip_table(void)
{
	for (size_t i = 0; i < sizeof(q850_sip) / sizeof(q850_sip[0]); i++) {
		int got = cause_to_sip(q850_sip[i].from);
		if (got != q850_sip[i].to)
			fprintf(stderr, "cause %d -> %d, want %d\n", q850_sip[i].from, got,
			        q850_sip[i].to);
		CU_ASSERT_EQUAL(got, q850_sip[i].to);
	}
}

static void
test_q850_to_sip_defaults(void)
{
	/* causes the table does not name, one per class */
	CU_ASSERT_EQUAL(cause_to_sip(9), 480);     /* normal event */
	CU_ASSERT_EQUAL(cause_to_sip(30), 480);
	CU_ASSERT_EQUAL(cause_to_sip(44), 503);    /* resource unavailable */
	CU_ASSERT_EQUAL(cause_to_sip(63), 503);    /* service not available */
	CU_ASSERT_EQUAL(cause_to_sip(66), 501);    /* not implemented */
	CU_ASSERT_EQUAL(cause_to_sip(95), 400);    /* invalid message */
	CU_ASSERT_EQUAL(cause_to_sip(100), 500);   /* protocol error */
	CU_ASSERT_EQUAL(cause_to_sip(120), 500);   /* interworking */
	CU_ASSERT_EQUAL(cause_to_sip(0), 480);
	CU_ASSERT_EQUAL(cause_to_sip(-1), 500);
	CU_ASSERT_EQUAL(cause_to_sip(200), 500);
}

static void
test_sip_to_q850_table(void)
{
	for (size_t i = 0; i < sizeof(sip_q850) / sizeof(sip_q850[0]); i++) {
		int got = cause_from_sip(sip_q850[i].from);
		if (got != sip_q850[i].to)
			fprintf(stderr, "status %d -> %d, want %d\n", sip_q850[i].from, got,
			        sip_q850[i].to);
		CU_ASSERT_EQUAL(got, sip_q850[i].to);
	}
}

static void
test_sip_to_q850_defaults(void)
{
	/* RFC 3398 8.2.6.1: every unlisted status -> 31 */
	CU_ASSERT_EQUAL(cause_from_sip(409), 31);
	CU_ASSERT_EQUAL(cause_from_sip(491), 31);
	CU_ASSERT_EQUAL(cause_from_sip(499), 31);
	CU_ASSERT_EQUAL(cause_from_sip(599), 31);
	CU_ASSERT_EQUAL(cause_from_sip(699), 31);
	CU_ASSERT_EQUAL(cause_from_sip(302), 31);
	CU_ASSERT_EQUAL(cause_from_sip(200), 16);
}

/* Completeness, both ways: every value is either in the RFC's table
 * (and maps as the table says) or falls to the documented default, so no
 * cause and no status can come out unmapped or mapped by accident. */
static int
pair_find(const struct pair *t, size_t n, int from)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].from == from)
			return t[i].to;
	return -1;
}

static int
class_default(int q850)
{
	switch (q850 >> 4) {
	case 0:
	case 1:
		return 480;
	case 2:
	case 3:
		return 503;
	case 4:
		return 501;
	case 5:
		return 400;
	default:
		return 500;
	}
}

static void
test_q850_to_sip_complete(void)
{
	size_t n = sizeof(q850_sip) / sizeof(q850_sip[0]);

	/* 33 rows: the 31 of the RFC's table (22 once) and our 16 and 69 */
	CU_ASSERT_EQUAL(n, 33);
	for (int c = 0; c <= 127; c++) {
		int want = pair_find(q850_sip, n, c), got = cause_to_sip(c);

		if (want < 0)
			want = class_default(c);
		if (got != want)
			fprintf(stderr, "cause %d -> %d, want %d\n", c, got, want);
		CU_ASSERT_EQUAL(got, want);
		/* always a final failure response */
		CU_ASSERT_TRUE(got >= 400 && got <= 699);
	}
}

static void
test_sip_to_q850_complete(void)
{
	size_t n = sizeof(sip_q850) / sizeof(sip_q850[0]);

	/* 34 rows of the RFC (487, 488 and 606 without a cause there) plus
	 * our 487, 488, 580 and 606 */
	CU_ASSERT_EQUAL(n, 38);
	for (int st = 300; st <= 699; st++) {
		int want = pair_find(sip_q850, n, st), got = cause_from_sip(st);

		if (want < 0)
			want = 31;
		if (got != want)
			fprintf(stderr, "status %d -> %d, want %d\n", st, got, want);
		CU_ASSERT_EQUAL(got, want);
		CU_ASSERT_TRUE(got >= 1 && got <= 127);
	}
	/* where the two tables are each other's inverse, a round trip
	 * gives the status back (502 -> 38 -> 503 is the RFC's own) */
	CU_ASSERT_EQUAL(cause_to_sip(cause_from_sip(486)), 486);
	CU_ASSERT_EQUAL(cause_to_sip(cause_from_sip(404)), 404);
	CU_ASSERT_EQUAL(cause_to_sip(cause_from_sip(484)), 484);
	CU_ASSERT_EQUAL(cause_to_sip(cause_from_sip(410)), 410);
	CU_ASSERT_EQUAL(cause_to_sip(cause_from_sip(502)), 503);
}

static void
test_sip_reason(void)
{
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(486), "Busy Here");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(404), "Not Found");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(487), "Request Terminated");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(488), "Not Acceptable Here");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(503), "Service Unavailable");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(200), "OK");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(180), "Ringing");
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(603), "Decline");
	/* every status the mapping can produce has its own phrase */
	for (int c = 0; c <= 127; c++) {
		const char *r = cause_sip_reason(cause_to_sip(c));
		CU_ASSERT_PTR_NOT_NULL(r);
		CU_ASSERT_STRING_NOT_EQUAL(r, "Client Error");
		CU_ASSERT_STRING_NOT_EQUAL(r, "Server Error");
	}
	CU_ASSERT_STRING_EQUAL(cause_sip_reason(499), "Client Error");
}

static void
test_cause_name(void)
{
	CU_ASSERT_STRING_EQUAL(cause_name(17), "User busy");
	CU_ASSERT_STRING_EQUAL(cause_name(16), "Normal call clearing");
	CU_ASSERT_STRING_EQUAL(cause_name(1), "Unallocated number");
	CU_ASSERT_STRING_EQUAL(cause_name(34), "No circuit/channel available");
	CU_ASSERT_STRING_EQUAL(cause_name(127), "Interworking, unspecified");
	CU_ASSERT_STRING_EQUAL(cause_name(4), "Unknown cause");
	CU_ASSERT_STRING_EQUAL(cause_name(-3), "Unknown cause");
	CU_ASSERT_STRING_EQUAL(cause_name(500), "Unknown cause");
}

static void
test_reason_header(void)
{
	char buf[128], small[10];
	int n;

	n = cause_reason_header(17, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "Q.850;cause=17;text=\"User busy\"");
	CU_ASSERT_EQUAL(n, (int)strlen(buf));
	cause_reason_header(16, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "Q.850;cause=16;text=\"Normal call clearing\"");
	CU_ASSERT_EQUAL(cause_reason_header(17, small, sizeof(small)), -1);
	CU_ASSERT_EQUAL(cause_reason_header(300, buf, sizeof(buf)), -1);
	/* what we write, we read back */
	for (int c = 1; c <= 127; c++) {
		CU_ASSERT_FATAL(cause_reason_header(c, buf, sizeof(buf)) > 0);
		CU_ASSERT_EQUAL(cause_parse_reason(buf), c);
	}
}

static void
test_parse_reason(void)
{
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=17;text=\"User busy\""), 17);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=16"), 16);
	CU_ASSERT_EQUAL(cause_parse_reason("q.850 ; CAUSE = 34 ; text=\"x\""), 34);
	CU_ASSERT_EQUAL(cause_parse_reason("  Q.850;text=\"a;b,c\";cause=21"), 21);
	/* several entries: the Q.850 one wins wherever it is */
	CU_ASSERT_EQUAL(cause_parse_reason("SIP;cause=486;text=\"Busy Here\", Q.850;cause=17"), 17);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=18,SIP;cause=408"), 18);
	CU_ASSERT_EQUAL(cause_parse_reason("SIP;cause=200;text=\"Call completed, elsewhere\" ,\tQ.850 ;cause=31"), 31);
	/* none, or malformed */
	CU_ASSERT_EQUAL(cause_parse_reason("SIP;cause=486"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason(""), 0);
	CU_ASSERT_EQUAL(cause_parse_reason(NULL), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause="), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=abc"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=17x"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=0"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=128"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=99999999999"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.8500;cause=17"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;text=\"unterminated;cause=17"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850 junk;cause=17"), 0);
	CU_ASSERT_EQUAL(cause_parse_reason(",,,;;;===\"\""), 0);
	/* a malformed entry does not hide a good one after it */
	CU_ASSERT_EQUAL(cause_parse_reason("Q.850;cause=zz, Q.850;cause=41"), 41);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("cause", NULL, NULL);
	CU_add_test(s, "Q.850 -> SIP: every entry of RFC 3398 7.2.4.1", test_q850_to_sip_table);
	CU_add_test(s, "Q.850 -> SIP: unlisted causes by class", test_q850_to_sip_defaults);
	CU_add_test(s, "SIP -> Q.850: every entry of RFC 3398 8.2.6.1", test_sip_to_q850_table);
	CU_add_test(s, "SIP -> Q.850: unlisted statuses give 31", test_sip_to_q850_defaults);
	CU_add_test(s, "Q.850 -> SIP: all 128 causes", test_q850_to_sip_complete);
	CU_add_test(s, "SIP -> Q.850: all statuses 300-699", test_sip_to_q850_complete);
	CU_add_test(s, "SIP reason phrases", test_sip_reason);
	CU_add_test(s, "Q.850 cause names", test_cause_name);
	CU_add_test(s, "Reason header format and round trip", test_reason_header);
	CU_add_test(s, "Reason header parsing: entries, whitespace, junk", test_parse_reason);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
