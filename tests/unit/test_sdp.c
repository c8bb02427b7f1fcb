/* SDP parsing, offer/answer and writing. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp/sdp.h"

static int
parse(const char *text, struct sdp_media *m)
{
	return sdp_parse(text, strlen(text), m);
}

static const char *offer_basic =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

static void
test_parse_basic(void)
{
	struct sdp_media m;
	char buf[ADDR_STRLEN];

	CU_ASSERT_EQUAL_FATAL(parse(offer_basic, &m), 0);
	CU_ASSERT_STRING_EQUAL(addr_str(&m.addr, buf, sizeof(buf)), "192.0.2.10:49170");
	CU_ASSERT_EQUAL(m.n_pt, 3);
	CU_ASSERT_EQUAL(m.pt[0], 0);
	CU_ASSERT_EQUAL(m.pt[1], 8);
	CU_ASSERT_EQUAL(m.pt[2], 101);
	CU_ASSERT_EQUAL(m.te_pt, 101);
	CU_ASSERT_EQUAL(m.ptime, 20);
	CU_ASSERT_EQUAL(m.dir, SDP_SENDRECV);
	CU_ASSERT_EQUAL(m.rtcp_mux, 0);
}

static void
test_parse_lf_only_and_bounds(void)
{
	struct sdp_media m;
	char *lf = strdup(offer_basic), *w = lf;

	/* bare LF line endings are accepted too */
	for (const char *r = offer_basic; *r; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
	CU_ASSERT_EQUAL(parse(lf, &m), 0);
	CU_ASSERT_EQUAL(m.te_pt, 101);
	free(lf);

	/* not NUL-terminated: only len bytes are read */
	char *copy = malloc(strlen(offer_basic));
	memcpy(copy, offer_basic, strlen(offer_basic));
	CU_ASSERT_EQUAL(sdp_parse(copy, strlen(offer_basic), &m), 0);
	free(copy);

	/* the last line cut short (lone CR, or no line end at all): libosip2
	 * alone reads past the end of such a body (ASan catches it) */
	CU_ASSERT_EQUAL(sdp_parse(offer_basic, strlen(offer_basic) - 1, &m), 0);
	CU_ASSERT_EQUAL(m.dir, SDP_SENDRECV);
	CU_ASSERT_EQUAL(sdp_parse(offer_basic, strlen(offer_basic) - 2, &m), 0);
	CU_ASSERT_EQUAL(m.dir, SDP_SENDRECV);

	/* bodies over 64 KiB are refused */
	size_t big = 70 * 1024, off;
	char *b = malloc(big + 1);
	off = (size_t)snprintf(b, big, "%s", offer_basic);
	while (off + 12 < big)
		off += (size_t)snprintf(b + off, big - off, "a=x:yyyyyy\r\n");
	CU_ASSERT_EQUAL(sdp_parse(b, off, &m), EINVAL);
	free(b);

	CU_ASSERT_EQUAL(sdp_parse(offer_basic, 0, &m), EINVAL);
	CU_ASSERT_EQUAL(sdp_parse(NULL, 10, &m), EINVAL);
}

static void
test_parse_connection_levels(void)
{
	struct sdp_media m;
	char buf[ADDR_STRLEN];
	const char *media_level =
		"v=0\r\n"
		"o=- 1 1 IN IP4 192.0.2.1\r\n"
		"s=-\r\n"
		"c=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\n"
		"m=video 5000 RTP/AVP 31\r\n"
		"c=IN IP4 192.0.2.99\r\n"
		"m=audio 6000 RTP/AVP 8\r\n"
		"c=IN IP4 198.51.100.7\r\n";
	const char *session_level =
		"v=0\r\n"
		"o=- 1 1 IN IP4 192.0.2.1\r\n"
		"s=-\r\n"
		"c=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\n"
		"m=audio 6002 RTP/AVP 8\r\n";
	const char *no_c =
		"v=0\r\n"
		"o=- 1 1 IN IP4 192.0.2.1\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"m=audio 6002 RTP/AVP 8\r\n";

	CU_ASSERT_EQUAL_FATAL(parse(media_level, &m), 0);
	CU_ASSERT_STRING_EQUAL(addr_str(&m.addr, buf, sizeof(buf)), "198.51.100.7:6000");
	CU_ASSERT_EQUAL(m.n_pt, 1);
	CU_ASSERT_EQUAL(m.pt[0], 8);
	CU_ASSERT_EQUAL(m.te_pt, -1);
	CU_ASSERT_EQUAL(m.ptime, 0);

	CU_ASSERT_EQUAL_FATAL(parse(session_level, &m), 0);
	CU_ASSERT_STRING_EQUAL(addr_str(&m.addr, buf, sizeof(buf)), "192.0.2.1:6002");

	CU_ASSERT_EQUAL(parse(no_c, &m), EINVAL);
}

static void
test_parse_ipv6(void)
{
	struct sdp_media m;
	char buf[ADDR_STRLEN];
	const char *v6 =
		"v=0\r\n"
		"o=- 1 1 IN IP6 2001:db8::1\r\n"
		"s=-\r\n"
		"c=IN IP6 2001:db8::1\r\n"
		"t=0 0\r\n"
		"m=audio 7078 RTP/AVP 0\r\n";
	const char *mismatch =
		"v=0\r\n"
		"o=- 1 1 IN IP4 192.0.2.1\r\n"
		"s=-\r\n"
		"c=IN IP4 2001:db8::1\r\n"
		"t=0 0\r\n"
		"m=audio 7078 RTP/AVP 0\r\n";

	CU_ASSERT_EQUAL_FATAL(parse(v6, &m), 0);
	CU_ASSERT_EQUAL(m.addr.u.sa.sa_family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(addr_str(&m.addr, buf, sizeof(buf)), "[2001:db8::1]:7078");
	CU_ASSERT_EQUAL(parse(mismatch, &m), EINVAL);
}

static void
test_parse_directions(void)
{
	struct sdp_media m;
	char text[512];
	static const struct {
		const char *session, *media;
		enum sdp_dir want;
	} cases[] = {
		{"", "", SDP_SENDRECV},
		{"", "a=sendonly\r\n", SDP_SENDONLY},
		{"", "a=recvonly\r\n", SDP_RECVONLY},
		{"", "a=inactive\r\n", SDP_INACTIVE},
		{"a=sendonly\r\n", "", SDP_SENDONLY},
		{"a=inactive\r\n", "a=sendrecv\r\n", SDP_SENDRECV},
		{"a=sendrecv\r\n", "a=recvonly\r\n", SDP_RECVONLY},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
		         "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		         "t=0 0\r\n%sm=audio 4000 RTP/AVP 0\r\n%s",
		         cases[i].session, cases[i].media);
		CU_ASSERT_EQUAL_FATAL(parse(text, &m), 0);
		CU_ASSERT_EQUAL(m.dir, cases[i].want);
	}
}

static void
test_parse_hold_zero_addr(void)
{
	struct sdp_media m;
	char buf[ADDR_STRLEN];
	const char *hold =
		"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
	const char *hold_recvonly =
		"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n";

	CU_ASSERT_EQUAL_FATAL(parse(hold, &m), 0);
	CU_ASSERT_STRING_EQUAL(addr_str(&m.addr, buf, sizeof(buf)), "0.0.0.0:4000");
	CU_ASSERT_EQUAL(m.dir, SDP_SENDONLY);
	CU_ASSERT_EQUAL_FATAL(parse(hold_recvonly, &m), 0);
	CU_ASSERT_EQUAL(m.dir, SDP_INACTIVE);
}

static void list_set(struct cfg_strlist *l, const char *a, const char *b);

static void
test_parse_ptime_rtcpmux_dynamic(void)
{
	struct sdp_media m;
	const char *text =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\n"
		"a=ptime:30\r\n"
		"m=audio 4000 RTP/AVP 18 97 96\r\n"
		"a=rtpmap:18 G729/8000\r\n"
		"a=rtpmap:97 PCMA/8000\r\n"
		"a=rtpmap:96 telephone-event/8000\r\n"
		"a=fmtp:96 0-16\r\n"
		"a=rtcp-mux\r\n";
	const char *media_ptime =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\na=ptime:30\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:10\r\n";

	CU_ASSERT_EQUAL_FATAL(parse(text, &m), 0);
	CU_ASSERT_EQUAL(m.ptime, 30);           /* session level */
	CU_ASSERT_EQUAL(m.rtcp_mux, 1);
	CU_ASSERT_EQUAL(m.te_pt, 96);
	CU_ASSERT_EQUAL(m.n_pt, 3);
	CU_ASSERT_EQUAL(m.pt[0], 18);
	CU_ASSERT_EQUAL(m.pt[1], SDP_PT_PCMA);   /* dynamic 97 = PCMA/8000 */
	CU_ASSERT_EQUAL(m.pt[2], 96);

	CU_ASSERT_EQUAL_FATAL(parse(media_ptime, &m), 0);
	CU_ASSERT_EQUAL(m.ptime, 10);

	/* An offer with rtcp-mux is answered with it (RFC 5761). */
	{
		struct sdp_choice c;
		struct sdp_local l;
		struct cfg_strlist pref;
		char buf[512];

		CU_ASSERT_EQUAL_FATAL(parse(text, &m), 0);
		list_set(&pref, "pcma", "pcmu");
		CU_ASSERT_EQUAL_FATAL(sdp_negotiate(&m, &pref, &c), 0);
		CU_ASSERT_EQUAL(c.rtcp_mux, 1);
		memset(&l, 0, sizeof(l));
		l.ip = "192.0.2.9";
		l.port = 30000;
		sdp_local_answer(&l, &c);
		CU_ASSERT_FATAL(sdp_write(&l, buf, sizeof(buf)) > 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=rtcp-mux\r\n"));
	}
}

static void
test_parse_malformed(void)
{
	struct sdp_media m;
	static const char *const bad[] = {
		"hello world",
		"v=0\r\n",
		"\x01\x02\x03\x04garbage\r\n",
		"m=audio 4000 RTP/AVP 0\r\n",
		/* port not a number */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio abc RTP/AVP 0\r\n",
		/* port out of range */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 70000 RTP/AVP 0\r\n",
		/* payload type not a number */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP x\r\n",
		/* bad address */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 host.example\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &m);
		if (r != EINVAL)
			fprintf(stderr, "case %zu: %d\n", i, r);
		CU_ASSERT_EQUAL(r, EINVAL);
	}
	/* an embedded NUL is not SDP */
	CU_ASSERT_EQUAL(sdp_parse("v=0\0xx", 6, &m), EINVAL);
}

static void
test_parse_no_audio(void)
{
	struct sdp_media m;
	char buf[ADDR_STRLEN];
	const char *video =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=video 4000 RTP/AVP 31\r\n";
	const char *port0 =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
	const char *savp =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n";
	const char *savp_then_avp =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 4000 RTP/SAVP 0\r\nm=audio 0 RTP/AVP 0\r\n"
		"m=audio 4002 RTP/AVP 8\r\n";

	CU_ASSERT_EQUAL(parse(video, &m), ENOENT);
	CU_ASSERT_EQUAL(parse(port0, &m), ENOENT);
	CU_ASSERT_EQUAL(parse(savp, &m), ENOENT);
	CU_ASSERT_EQUAL_FATAL(parse(savp_then_avp, &m), 0);
	CU_ASSERT_STRING_EQUAL(addr_str(&m.addr, buf, sizeof(buf)), "192.0.2.1:4002");
	CU_ASSERT_EQUAL(m.pt[0], 8);
}

static void
list_set(struct cfg_strlist *l, const char *a, const char *b)
{
	memset(l, 0, sizeof(*l));
	if (a)
		l->v[l->n++] = (char *)a;
	if (b)
		l->v[l->n++] = (char *)b;
}

static void
test_negotiate(void)
{
	struct sdp_media m;
	struct sdp_choice c;
	struct cfg_strlist pref;

	CU_ASSERT_EQUAL_FATAL(parse(offer_basic, &m), 0);

	/* our preference wins over the offer's order */
	list_set(&pref, "pcma", "pcmu");
	CU_ASSERT_EQUAL(sdp_negotiate(&m, &pref, &c), 0);
	CU_ASSERT_EQUAL(c.pt, SDP_PT_PCMA);
	CU_ASSERT_EQUAL(c.te_pt, 101);
	CU_ASSERT_EQUAL(c.dir, SDP_SENDRECV);

	list_set(&pref, "pcmu", "pcma");
	CU_ASSERT_EQUAL(sdp_negotiate(&m, &pref, &c), 0);
	CU_ASSERT_EQUAL(c.pt, SDP_PT_PCMU);

	/* only what we allow */
	list_set(&pref, "pcma", NULL);
	m.n_pt = 1;     /* offer: PCMU only */
	CU_ASSERT_EQUAL(sdp_negotiate(&m, &pref, &c), ENOENT);
}

static void
test_negotiate_g729_only(void)
{
	struct sdp_media m;
	struct sdp_choice c;
	struct cfg_strlist pref;
	const char *g729 =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n";

	CU_ASSERT_EQUAL_FATAL(parse(g729, &m), 0);
	list_set(&pref, "pcmu", "pcma");
	CU_ASSERT_EQUAL(sdp_negotiate(&m, &pref, &c), ENOENT);
}

static void
test_negotiate_directions(void)
{
	struct sdp_media m;
	struct sdp_choice c;
	struct cfg_strlist pref;
	static const enum sdp_dir offer[] = {SDP_SENDRECV, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE};
	static const enum sdp_dir want[] = {SDP_SENDRECV, SDP_RECVONLY, SDP_SENDONLY, SDP_INACTIVE};

	CU_ASSERT_EQUAL_FATAL(parse(offer_basic, &m), 0);
	m.te_pt = -1;
	list_set(&pref, "pcmu", NULL);
	for (size_t i = 0; i < 4; i++) {
		m.dir = offer[i];
		CU_ASSERT_EQUAL(sdp_negotiate(&m, &pref, &c), 0);
		CU_ASSERT_EQUAL(c.dir, want[i]);
		CU_ASSERT_EQUAL(c.te_pt, -1);   /* not offered, not answered */
	}
}

static void
test_write_answer_roundtrip(void)
{
	struct sdp_media m, back;
	struct sdp_choice c;
	struct sdp_local l;
	struct cfg_strlist pref;
	char buf[1024], abuf[ADDR_STRLEN];
	int n;

	CU_ASSERT_EQUAL_FATAL(parse(offer_basic, &m), 0);
	m.dir = SDP_SENDONLY;
	list_set(&pref, "pcma", "pcmu");
	CU_ASSERT_EQUAL_FATAL(sdp_negotiate(&m, &pref, &c), 0);

	memset(&l, 0, sizeof(l));
	l.ip = "203.0.113.5";
	l.port = 30000;
	l.sess_id = 42;
	l.sess_version = 7;
	sdp_local_answer(&l, &c);
	n = sdp_write(&l, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL((size_t)n, strlen(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "v=0\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "o=pstnbridge 42 7 IN IP4 203.0.113.5\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "s=pstnbridge\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "c=IN IP4 203.0.113.5\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "m=audio 30000 RTP/AVP 8 101\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=rtpmap:8 PCMA/8000\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=rtpmap:101 telephone-event/8000\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=fmtp:101 0-16\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=ptime:20\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=recvonly\r\n"));
	/* offer_basic has no a=rtcp-mux: the answer must not claim it. */
	CU_ASSERT_EQUAL(c.rtcp_mux, 0);
	CU_ASSERT_PTR_NULL(strstr(buf, "a=rtcp-mux"));
	/* every line ends in CRLF */
	for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
		CU_ASSERT(p > buf && p[-1] == '\r');

	CU_ASSERT_EQUAL_FATAL(sdp_parse(buf, (size_t)n, &back), 0);
	CU_ASSERT_STRING_EQUAL(addr_str(&back.addr, abuf, sizeof(abuf)), "203.0.113.5:30000");
	CU_ASSERT_EQUAL(back.n_pt, 2);
	CU_ASSERT_EQUAL(back.pt[0], SDP_PT_PCMA);
	CU_ASSERT_EQUAL(back.te_pt, 101);
	CU_ASSERT_EQUAL(back.ptime, 20);
	CU_ASSERT_EQUAL(back.dir, SDP_RECVONLY);

	/* too small a buffer */
	CU_ASSERT_EQUAL(sdp_write(&l, buf, 40), -1);
}

static void
test_write_offer_ipv6(void)
{
	struct sdp_local l;
	struct sdp_media back;
	struct cfg_strlist pref;
	char buf[1024];
	int n;

	memset(&l, 0, sizeof(l));
	l.ip = "2001:db8::5";
	l.port = 30002;
	l.sess_id = 1;
	l.sess_version = 1;
	list_set(&pref, "pcmu", "pcma");
	sdp_local_offer(&l, &pref);
	CU_ASSERT_EQUAL(l.n_pt, 2);
	CU_ASSERT_EQUAL(l.te_pt, 101);
	n = sdp_write(&l, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "c=IN IP6 2001:db8::5\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "m=audio 30002 RTP/AVP 0 8 101\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "a=sendrecv\r\n"));
	CU_ASSERT_EQUAL_FATAL(sdp_parse(buf, (size_t)n, &back), 0);
	CU_ASSERT_EQUAL(back.addr.u.sa.sa_family, AF_INET6);
	CU_ASSERT_EQUAL(back.n_pt, 3);
	CU_ASSERT_EQUAL(back.pt[0], 0);
	CU_ASSERT_EQUAL(back.pt[1], 8);
	CU_ASSERT_EQUAL(back.te_pt, 101);
}

static void
test_codec_names(void)
{
	CU_ASSERT_EQUAL(sdp_codec_pt("pcmu"), 0);
	CU_ASSERT_EQUAL(sdp_codec_pt("PCMA"), 8);
	CU_ASSERT_EQUAL(sdp_codec_pt("g729"), -1);
	CU_ASSERT_STRING_EQUAL(sdp_pt_name(0), "pcmu");
	CU_ASSERT_STRING_EQUAL(sdp_pt_name(8), "pcma");
	CU_ASSERT_PTR_NULL(sdp_pt_name(18));
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("sdp", NULL, NULL);
	CU_add_test(s, "parse PCMU+PCMA+telephone-event offer", test_parse_basic);
	CU_add_test(s, "parse LF-only, unterminated, over 64 KiB", test_parse_lf_only_and_bounds);
	CU_add_test(s, "media-level c= overrides session-level", test_parse_connection_levels);
	CU_add_test(s, "IPv6 connection address", test_parse_ipv6);
	CU_add_test(s, "directions, media level overrides session", test_parse_directions);
	CU_add_test(s, "c=0.0.0.0 hold", test_parse_hold_zero_addr);
	CU_add_test(s, "ptime, rtcp-mux, dynamic PCMA and telephone-event", test_parse_ptime_rtcpmux_dynamic);
	CU_add_test(s, "malformed text gives EINVAL", test_parse_malformed);
	CU_add_test(s, "no usable audio stream gives ENOENT", test_parse_no_audio);
	CU_add_test(s, "negotiate: our preference wins", test_negotiate);
	CU_add_test(s, "negotiate: G.729-only offer gives ENOENT", test_negotiate_g729_only);
	CU_add_test(s, "negotiate: answer direction mirrors the offer", test_negotiate_directions);
	CU_add_test(s, "write answer, parse it back", test_write_answer_roundtrip);
	CU_add_test(s, "write IPv6 offer, parse it back", test_write_offer_ipv6);
	CU_add_test(s, "codec names", test_codec_names);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
