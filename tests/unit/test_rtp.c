/* RTP: header parsing, the address latch, and a leg on loopback. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "rtp/rtp.h"

/* ---- rtp_parse ---- */

static size_t
mkpkt(uint8_t *p, int v, int pad, int ext, int cc, int marker, int pt)
{
	p[0] = (uint8_t)((v << 6) | (pad << 5) | (ext << 4) | cc);
	p[1] = (uint8_t)((marker << 7) | pt);
	p[2] = 0x12; p[3] = 0x34;                       /* seq */
	p[4] = 0xde; p[5] = 0xad; p[6] = 0xbe; p[7] = 0xef;   /* ts */
	p[8] = 0x01; p[9] = 0x02; p[10] = 0x03; p[11] = 0x04; /* ssrc */
	return 12;
}

static void
test_parse_minimal(void)
{
	uint8_t p[64];
	struct rtp_hdr h;
	size_t n = mkpkt(p, 2, 0, 0, 0, 1, 8);

	CU_ASSERT_EQUAL_FATAL(rtp_parse(p, n, &h), 0);
	CU_ASSERT_EQUAL(h.pt, 8);
	CU_ASSERT_TRUE(h.marker);
	CU_ASSERT_EQUAL(h.seq, 0x1234);
	CU_ASSERT_EQUAL(h.ts, 0xdeadbeef);
	CU_ASSERT_EQUAL(h.ssrc, 0x01020304);
	CU_ASSERT_EQUAL(h.payload_len, 0);
	CU_ASSERT_PTR_EQUAL(h.payload, p + 12);

	memset(p + 12, 0x55, 20);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(p, 32, &h), 0);
	CU_ASSERT_EQUAL(h.payload_len, 20);
	CU_ASSERT_EQUAL(h.payload[19], 0x55);
	mkpkt(p, 2, 0, 0, 0, 0, 0);
	CU_ASSERT_EQUAL(rtp_parse(p, 12, &h), 0);
	CU_ASSERT_FALSE(h.marker);
}

static void
test_parse_csrc_ext(void)
{
	uint8_t p[128];
	struct rtp_hdr h;

	/* two CSRCs, then 4 payload bytes */
	mkpkt(p, 2, 0, 0, 2, 0, 0);
	memset(p + 12, 0xcc, 8);
	memcpy(p + 20, "abcd", 4);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(p, 24, &h), 0);
	CU_ASSERT_PTR_EQUAL(h.payload, p + 20);
	CU_ASSERT_EQUAL(h.payload_len, 4);
	/* the CSRC list itself cut short */
	CU_ASSERT_EQUAL(rtp_parse(p, 19, &h), EINVAL);
	CU_ASSERT_EQUAL(rtp_parse(p, 20, &h), 0);
	CU_ASSERT_EQUAL(h.payload_len, 0);

	/* one CSRC and an extension of 2 words, then 3 payload bytes */
	mkpkt(p, 2, 0, 1, 1, 0, 0);
	memset(p + 12, 0, 4);
	p[16] = 0xbe; p[17] = 0xde; p[18] = 0; p[19] = 2;
	memset(p + 20, 0xee, 8);
	memcpy(p + 28, "xyz", 3);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(p, 31, &h), 0);
	CU_ASSERT_PTR_EQUAL(h.payload, p + 28);
	CU_ASSERT_EQUAL(h.payload_len, 3);
	/* extension header cut, extension body cut */
	CU_ASSERT_EQUAL(rtp_parse(p, 18, &h), EINVAL);
	CU_ASSERT_EQUAL(rtp_parse(p, 27, &h), EINVAL);
	CU_ASSERT_EQUAL(rtp_parse(p, 28, &h), 0);
	/* extension length pointing far beyond the packet */
	p[18] = 0xff; p[19] = 0xff;
	CU_ASSERT_EQUAL(rtp_parse(p, 31, &h), EINVAL);
}

static void
test_parse_padding(void)
{
	uint8_t p[64];
	struct rtp_hdr h;

	/* 5 payload bytes + 3 padding bytes, the last one counting 3 */
	mkpkt(p, 2, 1, 0, 0, 0, 0);
	memcpy(p + 12, "hello", 5);
	p[17] = 0; p[18] = 0; p[19] = 3;
	CU_ASSERT_EQUAL_FATAL(rtp_parse(p, 20, &h), 0);
	CU_ASSERT_EQUAL(h.payload_len, 5);
	CU_ASSERT_EQUAL(memcmp(h.payload, "hello", 5), 0);
	/* padding count 0 is invalid */
	p[19] = 0;
	CU_ASSERT_EQUAL(rtp_parse(p, 20, &h), EINVAL);
	/* padding that eats the whole payload is fine, more is not */
	p[19] = 8;
	CU_ASSERT_EQUAL(rtp_parse(p, 20, &h), 0);
	CU_ASSERT_EQUAL(h.payload_len, 0);
	p[19] = 9;
	CU_ASSERT_EQUAL(rtp_parse(p, 20, &h), EINVAL);
	/* padding bit on a bare header: the count would eat the header */
	mkpkt(p, 2, 1, 0, 0, 0, 0);
	CU_ASSERT_EQUAL(rtp_parse(p, 12, &h), EINVAL);
}

static void
test_parse_bad(void)
{
	uint8_t p[64];
	struct rtp_hdr h;

	mkpkt(p, 2, 0, 0, 0, 0, 0);
	for (size_t n = 0; n < 12; n++)
		CU_ASSERT_EQUAL(rtp_parse(p, n, &h), EINVAL);
	CU_ASSERT_EQUAL(rtp_parse(NULL, 12, &h), EINVAL);
	for (int v = 0; v < 4; v++) {
		if (v == 2)
			continue;
		mkpkt(p, v, 0, 0, 0, 0, 0);
		CU_ASSERT_EQUAL(rtp_parse(p, 40, &h), EINVAL);
	}
	/* CSRC count 15 with a short packet */
	mkpkt(p, 2, 0, 0, 15, 0, 0);
	CU_ASSERT_EQUAL(rtp_parse(p, 64, &h), EINVAL);
}

/* ---- latch ---- */

static struct addr
A(const char *s)
{
	struct addr a;

	CU_ASSERT_EQUAL_FATAL(addr_parse(&a, s, 0), 0);
	return a;
}

static bool
dest_is(const struct rtp_latch *l, const char *want)
{
	const struct addr *d = rtp_latch_dest(l);
	char buf[ADDR_STRLEN];

	if (!d || !want)
		return d == NULL && want == NULL;
	addr_str(d, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "dest %s, want %s\n", buf, want);
	return strcmp(buf, want) == 0;
}

static void
test_latch_off(void)
{
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000"), src = A("198.51.100.9:5555");

	rtp_latch_init(&l, CFG_LATCH_OFF, &sdp);
	CU_ASSERT_FALSE(rtp_latch_on_packet(&l, &src));
	CU_ASSERT_FALSE(l.have_learned);
	CU_ASSERT_TRUE(dest_is(&l, "192.0.2.1:4000"));
}

static void
test_latch_no_rtp_yet(void)
{
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000"), port0 = A("192.0.2.1:0");

	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_TRUE(dest_is(&l, "192.0.2.1:4000"));
	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, NULL);
	CU_ASSERT_TRUE(dest_is(&l, NULL));
	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &port0);
	CU_ASSERT_TRUE(dest_is(&l, NULL));
}

static void
test_latch_nat(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), src = A("198.51.100.9:31000");

	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_TRUE(rtp_latch_on_packet(&l, &src));
	CU_ASSERT_TRUE(l.have_learned);
	CU_ASSERT_TRUE(l.nat);
	CU_ASSERT_EQUAL(l.relatches, 0);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));
	/* the same source again changes nothing */
	CU_ASSERT_FALSE(rtp_latch_on_packet(&l, &src));
	CU_ASSERT_EQUAL(l.relatches, 0);
}

static void
test_latch_same_ip_other_port(void)
{
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000"), src = A("192.0.2.1:4002");

	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_TRUE(rtp_latch_on_packet(&l, &src));
	CU_ASSERT_FALSE(l.nat);
	/* not behind a NAT: keep to the signalled port */
	CU_ASSERT_TRUE(dest_is(&l, "192.0.2.1:4000"));
}

static void
test_latch_rebind(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000");
	struct addr s1 = A("198.51.100.9:31000"), s2 = A("198.51.100.9:31744");

	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_TRUE(rtp_latch_on_packet(&l, &s1));
	CU_ASSERT_TRUE(rtp_latch_on_packet(&l, &s2));
	CU_ASSERT_EQUAL(l.relatches, 1);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31744"));
	CU_ASSERT_TRUE(rtp_latch_on_packet(&l, &s1));
	CU_ASSERT_EQUAL(l.relatches, 2);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));

	/* a re-INVITE to the NAT's public address: no longer NAT */
	struct addr pub = A("198.51.100.9:4000");
	rtp_latch_set_sdp(&l, &pub);
	CU_ASSERT_FALSE(l.nat);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:4000"));
}

static void
test_latch_ipv6(void)
{
	struct rtp_latch l;
	struct addr sdp = A("[2001:db8::1]:4000"), src = A("[2001:db8::2]:4000");

	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_TRUE(rtp_latch_on_packet(&l, &src));
	CU_ASSERT_TRUE(l.nat);
	CU_ASSERT_TRUE(dest_is(&l, "[2001:db8::2]:4000"));
}

/* ---- the leg, on loopback ---- */

struct sink {
	unsigned int n;
	uint8_t last[256];
	size_t last_len;
	int last_pt;
};

static void
on_media(void *owner, const struct rtp_hdr *h)
{
	struct sink *s = owner;

	s->n++;
	s->last_pt = h->pt;
	s->last_len = h->payload_len < sizeof(s->last) ? h->payload_len : sizeof(s->last);
	memcpy(s->last, h->payload, s->last_len);
}

static int
udp_socket(const char *ip, struct addr *bound)
{
	struct timeval tv = {1, 0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd == -1)
		return -1;
	addr_from_ip(bound, ip, 0);
	if (bind(fd, &bound->u.sa, bound->len) != 0) {
		close(fd);
		return -1;
	}
	bound->len = sizeof(bound->u);
	getsockname(fd, &bound->u.sa, &bound->len);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static unsigned long
leg_rx_bad(const struct rtp_leg *leg)
{
	struct rtp_stats st;

	rtp_leg_stats(leg, &st);
	return st.rx_bad;
}

/* Run the loop until the leg has counted `want` bad packets or the sink
 * `want_media` packets, at most about a second. */
static void
pump(struct event_base *base, const struct rtp_leg *leg, unsigned long want_bad,
     const struct sink *sink, unsigned int want_media)
{
	for (int i = 0; i < 500; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (leg_rx_bad(leg) >= want_bad && sink->n >= want_media)
			return;
		usleep(2000);
	}
}

static void
test_leg_loopback(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {on_media};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr a_addr, b_addr, leg_addr;
	uint8_t frame[160], pkt[512], rx[512];
	struct rtp_hdr h, h2;
	ssize_t n;
	int a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	memset(&cfg, 0, sizeof(cfg));
	cfg.address = "127.0.0.1";
	cfg.port_min = 41001;   /* odd: the first even port is 41002 */
	cfg.port_max = 41999;
	cfg.latch_mode = CFG_LATCH_ON_CHANGE;

	leg = rtp_leg_new(base, &cfg, "test-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	CU_ASSERT_EQUAL(rtp_leg_port(leg) % 2, 0);
	CU_ASSERT(rtp_leg_port(leg) >= 41002 && rtp_leg_port(leg) <= 41998);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));

	/* A is where the peer's SDP says it receives; B is the peer seen
	 * through a NAT (another source IP). */
	a = udp_socket("127.0.0.1", &a_addr);
	b = udp_socket("127.0.0.2", &b_addr);
	CU_ASSERT_FATAL(a != -1 && b != -1);

	/* nothing to send to yet: dropped silently */
	memset(frame, 0xd5, sizeof(frame));
	CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_packets, 0);

	/* before any RTP: to the SDP address */
	rtp_leg_set_remote(leg, &a_addr, 0);
	CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	n = recv(a, rx, sizeof(rx), 0);
	CU_ASSERT_EQUAL_FATAL(n, 172);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)n, &h), 0);
	CU_ASSERT_TRUE(h.marker);
	CU_ASSERT_EQUAL(h.pt, 0);
	CU_ASSERT_EQUAL(h.payload_len, 160);
	CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	n = recv(a, rx, sizeof(rx), 0);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)n, &h2), 0);
	CU_ASSERT_FALSE(h2.marker);
	CU_ASSERT_EQUAL(h2.ssrc, h.ssrc);
	CU_ASSERT_EQUAL((uint16_t)(h2.seq - h.seq), 1);
	CU_ASSERT_EQUAL(h2.ts - h.ts, 160);

	/* a 5-byte datagram from B: counted bad, not delivered, not latched */
	CU_ASSERT_EQUAL(sendto(b, "junk!", 5, 0, &leg_addr.u.sa, leg_addr.len), 5);
	pump(base, leg, 1, &sink, 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_bad, 1);
	CU_ASSERT_EQUAL(sink.n, 0);
	CU_ASSERT_FALSE(rtp_leg_latch(leg)->have_learned);

	/* then a good packet from B flows, and the leg latches to B */
	mkpkt(pkt, 2, 0, 0, 0, 0, 0);
	memcpy(pkt + 12, "voice", 5);
	CU_ASSERT_EQUAL(sendto(b, pkt, 17, 0, &leg_addr.u.sa, leg_addr.len), 17);
	pump(base, leg, 1, &sink, 1);
	CU_ASSERT_EQUAL_FATAL(sink.n, 1);
	CU_ASSERT_EQUAL(sink.last_len, 5);
	CU_ASSERT_EQUAL(memcmp(sink.last, "voice", 5), 0);
	CU_ASSERT_TRUE(rtp_leg_latch(leg)->have_learned);
	CU_ASSERT_TRUE(rtp_leg_latch(leg)->nat);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_packets, 1);
	CU_ASSERT_EQUAL(st.rx_bad, 1);

	/* the reply goes to B, the learned source, not A */
	CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	n = recv(b, rx, sizeof(rx), 0);
	CU_ASSERT_EQUAL(n, 172);
	n = recv(a, rx, sizeof(rx), MSG_DONTWAIT);
	CU_ASSERT_EQUAL(n, -1);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_packets, 3);

	close(a);
	close(b);
	rtp_leg_free(leg);
	event_base_free(base);
}

static void
test_leg_no_port(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg *l1, *l2;

	memset(&cfg, 0, sizeof(cfg));
	cfg.address = "127.0.0.1";
	cfg.latch_mode = CFG_LATCH_ON_CHANGE;
	/* a range with a single even port, taken by the first leg */
	for (cfg.port_min = 42000; cfg.port_min < 42100; cfg.port_min += 2) {
		cfg.port_max = cfg.port_min + 1;
		if ((l1 = rtp_leg_new(base, &cfg, "t-2", NULL, NULL)) != NULL)
			break;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(l1);
	CU_ASSERT_EQUAL(rtp_leg_port(l1), cfg.port_min);
	l2 = rtp_leg_new(base, &cfg, "t-3", NULL, NULL);
	CU_ASSERT_PTR_NULL(l2);
	rtp_leg_free(l2);
	rtp_leg_free(l1);

	/* no even port at all */
	cfg.port_min = cfg.port_max = 42101;
	CU_ASSERT_PTR_NULL(rtp_leg_new(base, &cfg, "t-4", NULL, NULL));
	event_base_free(base);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("rtp", NULL, NULL);
	CU_add_test(s, "parse: minimal 12-byte header", test_parse_minimal);
	CU_add_test(s, "parse: CSRCs and extension", test_parse_csrc_ext);
	CU_add_test(s, "parse: padding", test_parse_padding);
	CU_add_test(s, "parse: truncated and wrong version", test_parse_bad);
	CU_add_test(s, "latch: off mode ignores the source", test_latch_off);
	CU_add_test(s, "latch: no RTP yet, send to SDP", test_latch_no_rtp_yet);
	CU_add_test(s, "latch: NAT source is learned", test_latch_nat);
	CU_add_test(s, "latch: same IP other port keeps SDP", test_latch_same_ip_other_port);
	CU_add_test(s, "latch: rebinding relatches", test_latch_rebind);
	CU_add_test(s, "latch: IPv6", test_latch_ipv6);
	CU_add_test(s, "leg: loopback exchange, bad datagram, latch", test_leg_loopback);
	CU_add_test(s, "leg: port range exhausted", test_leg_no_port);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
