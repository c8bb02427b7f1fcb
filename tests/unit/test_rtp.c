/* RTP: header parsing, the address latch, and a leg on loopback. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
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
dest_at(const struct rtp_latch *l, uint64_t now, const char *want)
{
	const struct addr *d = rtp_latch_dest_at(l, now);
	char buf[ADDR_STRLEN];

	if (!d || !want) {
		if (d)
			fprintf(stderr, "dest %s, want none\n", addr_str(d, buf, sizeof(buf)));
		return d == NULL && want == NULL;
	}
	addr_str(d, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "dest %s, want %s\n", buf, want);
	return strcmp(buf, want) == 0;
}

static bool
dest_is(const struct rtp_latch *l, const char *want)
{
	return dest_at(l, l->now, want);
}

/* Feed n consecutive packets of (ssrc, seq..) from src, 20 ms apart from
 * *now; count the verdicts. */
struct feed {
	unsigned int drop, accept, changed;
	enum rtp_latch_verdict last;
	int first_ok;           /* index of the first accepted packet, -1 */
};

static struct feed
feed(struct rtp_latch *l, const struct addr *src, uint32_t ssrc, uint16_t *seq, unsigned int n,
     uint64_t *now)
{
	struct feed f = {0, 0, 0, RTP_LATCH_DROP, -1};

	for (unsigned int i = 0; i < n; i++) {
		f.last = rtp_latch_on_packet(l, src, ssrc, (*seq)++, *now);
		*now += 20;
		if (f.last == RTP_LATCH_DROP) {
			f.drop++;
			continue;
		}
		if (f.first_ok < 0)
			f.first_ok = (int)i;
		if (f.last == RTP_LATCH_CHANGED)
			f.changed++;
		else
			f.accept++;
	}
	return f;
}

static void
test_latch_off(void)
{
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000"), src = A("198.51.100.9:5555");

	rtp_latch_init(&l, CFG_LATCH_OFF, &sdp);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &src, 1, 1, 0), RTP_LATCH_ACCEPT);
	CU_ASSERT_FALSE(l.have_learned);
	CU_ASSERT_FALSE(l.nat);
	CU_ASSERT_TRUE(dest_is(&l, "192.0.2.1:4000"));
	/* RTCP from anyone too */
	CU_ASSERT_TRUE(rtp_latch_rtcp_ok(&l, &src));
}

static void
test_latch_no_rtp_yet(void)
{
	enum cfg_latch_mode modes[] = {
		CFG_LATCH_OFF, CFG_LATCH_ON_CHANGE, CFG_LATCH_RECENT, CFG_LATCH_WINDOW, CFG_LATCH_STRICT,
	};
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000"), port0 = A("192.0.2.1:0"), hold = A("0.0.0.0:4000");

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		rtp_latch_init(&l, modes[i], &sdp);
		CU_ASSERT_TRUE(dest_is(&l, "192.0.2.1:4000"));
		rtp_latch_init(&l, modes[i], NULL);
		CU_ASSERT_TRUE(dest_is(&l, NULL));
		rtp_latch_init(&l, modes[i], &port0);
		CU_ASSERT_TRUE(dest_is(&l, NULL));
		rtp_latch_init(&l, modes[i], &hold);
		CU_ASSERT_TRUE(dest_is(&l, NULL));
	}
}

/* on-change and recent: the first packet, NAT detection, rebinding to a
 * new port and to a new IP, and back. */
static void
test_latch_follow(void)
{
	enum cfg_latch_mode modes[] = { CFG_LATCH_ON_CHANGE, CFG_LATCH_RECENT, CFG_LATCH_WINDOW };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct rtp_latch l;
		struct addr sdp = A("10.0.0.5:4000");
		struct addr s1 = A("198.51.100.9:31000"), s2 = A("198.51.100.9:31744");
		struct addr s3 = A("203.0.113.7:1024");

		rtp_latch_init(&l, modes[i], &sdp);
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 7, 1, 100), RTP_LATCH_CHANGED);
		CU_ASSERT_TRUE(l.have_learned);
		CU_ASSERT_FALSE(l.have_prev);
		CU_ASSERT_TRUE(l.nat);
		CU_ASSERT_EQUAL(l.relatches, 0);
		CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));
		/* the same source again changes nothing */
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 7, 2, 120), RTP_LATCH_ACCEPT);
		CU_ASSERT_EQUAL(l.relatches, 0);
		/* the NAT rebinds: same IP, new port, at once */
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s2, 7, 3, 140), RTP_LATCH_CHANGED);
		CU_ASSERT_EQUAL(l.relatches, 1);
		CU_ASSERT_TRUE(l.have_prev);
		CU_ASSERT_TRUE(addr_eq(&l.prev, &s1));
		CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31744"));
		/* a new IP */
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s3, 9, 1, 160), RTP_LATCH_CHANGED);
		CU_ASSERT_EQUAL(l.relatches, 2);
		CU_ASSERT_TRUE(dest_is(&l, "203.0.113.7:1024"));
		/* and back: packets alternating between sources are followed */
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 7, 4, 180), RTP_LATCH_CHANGED);
		CU_ASSERT_EQUAL(l.relatches, 3);
		CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));

		/* a re-INVITE to the NAT's public address: no longer NAT */
		struct addr pub = A("198.51.100.9:4000");
		rtp_latch_set_sdp(&l, &pub);
		CU_ASSERT_FALSE(l.nat);
		CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:4000"));
	}
}

/* In every mode, a peer not behind NAT that sends from another port than
 * it receives on keeps receiving on its signalled port. */
static void
test_latch_asymmetric(void)
{
	enum cfg_latch_mode modes[] = {
		CFG_LATCH_OFF, CFG_LATCH_ON_CHANGE, CFG_LATCH_RECENT, CFG_LATCH_WINDOW, CFG_LATCH_STRICT,
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct rtp_latch l;
		struct addr sdp = A("192.0.2.1:4000"), src = A("192.0.2.1:4002");
		uint64_t now = 1000;
		uint16_t seq = 10;
		struct feed f;

		rtp_latch_init(&l, modes[i], &sdp);
		f = feed(&l, &src, 0x1234, &seq, 10, &now);
		CU_ASSERT_EQUAL(f.drop, modes[i] == CFG_LATCH_STRICT ? 3 : 0);
		CU_ASSERT_FALSE(l.nat);
		CU_ASSERT_EQUAL(l.relatches, 0);
		CU_ASSERT_TRUE(dest_is(&l, "192.0.2.1:4000"));
		/* still so long after the last packet (window mode too) */
		CU_ASSERT_TRUE(dest_at(&l, now + 100000, "192.0.2.1:4000"));
	}
}

static void
test_latch_ipv6(void)
{
	struct rtp_latch l;
	struct addr sdp = A("[2001:db8::1]:4000"), src = A("[2001:db8::2]:4000");

	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &src, 1, 1, 0), RTP_LATCH_CHANGED);
	CU_ASSERT_TRUE(l.nat);
	CU_ASSERT_TRUE(dest_is(&l, "[2001:db8::2]:4000"));
}

/* window: the learned source is used while fresh, then the SDP address
 * until the source (or another) sends again. */
static void
test_latch_window(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), s1 = A("198.51.100.9:31000");
	struct addr s2 = A("198.51.100.9:32000"), hold = A("0.0.0.0:4000");

	rtp_latch_init(&l, CFG_LATCH_WINDOW, &sdp);
	rtp_latch_set_params(&l, 2000, 4, 500);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 1, 1, 10000), RTP_LATCH_CHANGED);
	CU_ASSERT_TRUE(dest_at(&l, 10000, "198.51.100.9:31000"));
	CU_ASSERT_TRUE(dest_at(&l, 12000, "198.51.100.9:31000"));
	/* stale: back to the SDP address */
	CU_ASSERT_TRUE(dest_at(&l, 12001, "10.0.0.5:4000"));
	CU_ASSERT_TRUE(l.nat);
	/* the source sends again: fresh, no re-latch */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 1, 2, 15000), RTP_LATCH_ACCEPT);
	CU_ASSERT_TRUE(dest_at(&l, 15000, "198.51.100.9:31000"));
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));
	CU_ASSERT_EQUAL(l.relatches, 0);
	/* a fresh source after expiry */
	CU_ASSERT_TRUE(dest_at(&l, 20000, "10.0.0.5:4000"));
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s2, 1, 3, 20000), RTP_LATCH_CHANGED);
	CU_ASSERT_TRUE(dest_at(&l, 20000, "198.51.100.9:32000"));
	CU_ASSERT_EQUAL(l.relatches, 1);
	/* no usable SDP address (hold): nowhere once stale */
	rtp_latch_set_sdp(&l, &hold);
	CU_ASSERT_TRUE(dest_at(&l, 21000, "198.51.100.9:32000"));
	CU_ASSERT_TRUE(dest_at(&l, 22001, NULL));
}

/* strict, call start: learning from the signalled IPs only, after the
 * probation; a NAT is detected through the SIP source IP. */
static void
test_latch_strict_start(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), sig = A("198.51.100.9:5060");
	struct addr nat = A("198.51.100.9:31000"), attacker = A("203.0.113.66:4000");
	uint64_t now = 1000;
	uint16_t seq = 100, aseq = 7;
	struct feed f;

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_signal(&l, &sig);
	/* the attacker gets in first, with a perfect stream: never learned */
	f = feed(&l, &attacker, 0xbad, &aseq, 50, &now);
	CU_ASSERT_EQUAL(f.drop, 50);
	CU_ASSERT_FALSE(l.have_learned);
	CU_ASSERT_TRUE(dest_is(&l, "10.0.0.5:4000"));
	CU_ASSERT_FALSE(rtp_latch_rtcp_ok(&l, &attacker));
	/* the client from the NAT's public IP: 3 dropped, the 4th latches */
	f = feed(&l, &nat, 0x1111, &seq, 3, &now);
	CU_ASSERT_EQUAL(f.drop, 3);
	CU_ASSERT_FALSE(l.have_learned);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &nat, 0x1111, seq++, now), RTP_LATCH_CHANGED);
	CU_ASSERT_TRUE(l.have_learned);
	CU_ASSERT_TRUE(l.nat);
	CU_ASSERT_EQUAL(l.relatches, 0);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));
	CU_ASSERT_TRUE(rtp_latch_rtcp_ok(&l, &nat));
	/* the attacker keeps trying: still nothing */
	f = feed(&l, &attacker, 0xbad, &aseq, 50, &now);
	CU_ASSERT_EQUAL(f.drop, 50);
	/* even with the call's SSRC and the next sequence numbers */
	f = feed(&l, &attacker, 0x1111, &seq, 50, &now);
	CU_ASSERT_EQUAL(f.drop, 50);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));
	CU_ASSERT_EQUAL(l.relatches, 0);

	/* without a signalling address, the SDP IP is the only one */
	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	seq = 1;
	f = feed(&l, &nat, 0x2222, &seq, 20, &now);
	CU_ASSERT_EQUAL(f.drop, 20);
	CU_ASSERT_FALSE(l.have_learned);
}

/* strict probation: consecutive sequence numbers of one SSRC from one
 * source; anything else starts it again. */
static void
test_latch_strict_probation(void)
{
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000"), s1 = A("192.0.2.1:4000"), s2 = A("192.0.2.1:4002");
	uint64_t now = 0;

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_params(&l, 2000, 4, 500);
	/* a gap in the sequence restarts the count */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 10, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 11, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 13, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 14, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 15, now), RTP_LATCH_DROP);
	/* another SSRC restarts it */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 6, 16, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 17, now), RTP_LATCH_DROP);
	/* another source restarts it */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s2, 5, 18, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 19, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 20, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 21, now), RTP_LATCH_DROP);
	CU_ASSERT_FALSE(l.have_learned);
	/* the 4th in a row, across the sequence wrap */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 65534, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 65535, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 0, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 1, now), RTP_LATCH_CHANGED);
	CU_ASSERT_FALSE(l.nat);
	/* then every packet of the stream, in any order */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 3, now), RTP_LATCH_ACCEPT);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 2, now), RTP_LATCH_ACCEPT);

	/* probation 1: the first packet latches */
	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_params(&l, 2000, 1, 500);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 5, 10, now), RTP_LATCH_CHANGED);
}

/* strict, mid-call: a NAT rebinding (same IP, new port, the stream goes
 * on) is followed after the probation; a new IP only when signalled. */
static void
test_latch_strict_rebind(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), sig = A("198.51.100.9:5060");
	struct addr n1 = A("198.51.100.9:31000"), n2 = A("198.51.100.9:40000");
	struct addr moved = A("203.0.113.5:50000"), sig2 = A("203.0.113.5:5060");
	uint64_t now = 0;
	uint16_t seq = 1000;
	struct feed f;

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_signal(&l, &sig);
	f = feed(&l, &n1, 0xabc, &seq, 100, &now);
	CU_ASSERT_EQUAL(f.changed, 1);
	CU_ASSERT_EQUAL(f.accept, 96);
	/* two packets lost in the rebinding, then the new port */
	seq += 2;
	now += 40;
	f = feed(&l, &n2, 0xabc, &seq, 10, &now);
	CU_ASSERT_EQUAL(f.drop, 3);
	CU_ASSERT_EQUAL(f.first_ok, 3);
	CU_ASSERT_EQUAL(f.changed, 1);
	CU_ASSERT_EQUAL(l.relatches, 1);
	CU_ASSERT_TRUE(addr_eq(&l.prev, &n1));
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:40000"));
	/* the old mapping is dead: a late packet from it is not followed */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &n1, 0xabc, seq - 20, now), RTP_LATCH_DROP);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:40000"));

	/* a new IP that is not signalled: never */
	f = feed(&l, &moved, 0xabc, &seq, 50, &now);
	CU_ASSERT_EQUAL(f.drop, 50);
	/* a re-INVITE from that IP makes it allowed; the old source is
	 * silent by then, so it takes over after the probation */
	rtp_latch_set_signal(&l, &sig2);
	f = feed(&l, &moved, 0xabc, &seq, 10, &now);
	CU_ASSERT_EQUAL(f.first_ok, 3);
	CU_ASSERT_EQUAL(l.relatches, 2);
	CU_ASSERT_TRUE(dest_is(&l, "203.0.113.5:50000"));
}

/* strict, mid-call attacker behind the same NAT IP (another port): with
 * random or the call's own SSRC and guessed sequence numbers, it gets in
 * only when the real source has been silent for latch_silence_ms. */
static void
test_latch_strict_attacker_nat_ip(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), sig = A("198.51.100.9:5060");
	struct addr real = A("198.51.100.9:31000"), evil = A("198.51.100.9:31002");
	uint64_t now = 0;
	uint16_t seq = 500, eseq;
	unsigned int got = 0;

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_params(&l, 2000, 4, 500);
	rtp_latch_set_signal(&l, &sig);
	feed(&l, &real, 0x5150, &seq, 10, &now);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));

	/* interleaved with the real stream: random SSRC, and the call's SSRC
	 * with sequence numbers just ahead of the real ones */
	eseq = (uint16_t)(seq + 1);
	for (int i = 0; i < 200; i++) {
		uint32_t essrc = (i < 100) ? 0xdeadbeef : 0x5150;

		if (i == 100)
			eseq = (uint16_t)(seq + 1);
		if (rtp_latch_on_packet(&l, &evil, essrc, eseq++, now) != RTP_LATCH_DROP)
			got++;
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &real, 0x5150, seq++, now), RTP_LATCH_ACCEPT);
		now += 20;
	}
	CU_ASSERT_EQUAL(got, 0);
	CU_ASSERT_EQUAL(l.relatches, 0);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));

	/* the attacker's packets arrive first, the real source follows at
	 * once: the continuation does not count */
	eseq = (uint16_t)(seq + 1);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &evil, 0x5150, eseq++, now), RTP_LATCH_DROP);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &real, 0x5150, seq++, now), RTP_LATCH_ACCEPT);
	now += 20;
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &evil, 0x5150, eseq++, now), RTP_LATCH_DROP);

	/* the real source falls silent: after 500 ms the other one (which
	 * kept a consecutive stream) is accepted, per the rules */
	uint64_t silent_from = now - 20;
	int first = -1;
	for (int i = 0; i < 40 && first < 0; i++) {
		if (rtp_latch_on_packet(&l, &evil, 0x5150, eseq++, now) == RTP_LATCH_CHANGED)
			first = i;
		else
			CU_ASSERT_TRUE(now - silent_from < 500);
		now += 20;
	}
	CU_ASSERT(first >= 0);
	CU_ASSERT_EQUAL(l.relatches, 1);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31002"));
}

/* strict: a new SSRC from the learned source needs the probation and the
 * old SSRC's silence. */
static void
test_latch_strict_ssrc_change(void)
{
	struct rtp_latch l;
	struct addr sdp = A("192.0.2.1:4000");
	uint64_t now = 0, last_old;
	uint16_t seq = 1;
	int first = -1;
	struct feed f;

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_params(&l, 2000, 4, 500);
	f = feed(&l, &sdp, 0xaaaa, &seq, 20, &now);
	CU_ASSERT_EQUAL(f.changed, 1);
	last_old = now - 20;
	/* the new SSRC starts at once, with its own sequence */
	seq = 30000;
	for (int i = 0; i < 50 && first < 0; i++) {
		enum rtp_latch_verdict v = rtp_latch_on_packet(&l, &sdp, 0xbbbb, seq++, now);

		if (v != RTP_LATCH_DROP) {
			first = i;
			CU_ASSERT_EQUAL(v, RTP_LATCH_ACCEPT);   /* the address did not change */
			CU_ASSERT(now - last_old >= 500);
		}
		now += 20;
	}
	/* the old SSRC's last packet at 380 ms, the new one from 400 ms */
	CU_ASSERT_EQUAL(first, 24);
	CU_ASSERT_EQUAL(l.ssrc, 0xbbbb);
	CU_ASSERT_EQUAL(l.ssrc_changes, 1);
	CU_ASSERT_EQUAL(l.relatches, 0);
	/* the old SSRC is now the stranger */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &sdp, 0xaaaa, 21, now), RTP_LATCH_DROP);

	/* on-change does not look at SSRCs */
	rtp_latch_init(&l, CFG_LATCH_ON_CHANGE, &sdp);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &sdp, 1, 1, 0), RTP_LATCH_CHANGED);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &sdp, 2, 9, 0), RTP_LATCH_ACCEPT);
}

/* The per-call override: switching mode keeps what was learned. */
static void
test_latch_set_mode(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), s1 = A("198.51.100.9:31000");
	struct addr s2 = A("198.51.100.9:31002");

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_mode(&l, CFG_LATCH_ON_CHANGE);
	CU_ASSERT_EQUAL(l.mode, CFG_LATCH_ON_CHANGE);
	rtp_latch_set_mode(&l, CFG_LATCH_INHERIT);
	CU_ASSERT_EQUAL(l.mode, CFG_LATCH_ON_CHANGE);
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s1, 1, 1, 0), RTP_LATCH_CHANGED);
	rtp_latch_set_mode(&l, CFG_LATCH_STRICT);
	CU_ASSERT_TRUE(dest_is(&l, "198.51.100.9:31000"));
	/* s2 is not signalled: strict now refuses it */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &s2, 1, 2, 20), RTP_LATCH_DROP);
	rtp_latch_set_mode(&l, CFG_LATCH_OFF);
	CU_ASSERT_TRUE(dest_is(&l, "10.0.0.5:4000"));
}

/* Where RTCP goes. */
static void
test_latch_rtcp_dest(void)
{
	struct rtp_latch l;
	struct addr sdp = A("10.0.0.5:4000"), sig = A("198.51.100.9:5060");
	struct addr nat = A("198.51.100.9:31000"), rtcp_nat = A("198.51.100.9:31977");
	struct addr other = A("203.0.113.1:31977"), out;
	char buf[ADDR_STRLEN];

	rtp_latch_init(&l, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_params(&l, 2000, 1, 500);
	rtp_latch_set_signal(&l, &sig);
	/* not learned yet: the SDP address, port + 1, or the same with mux */
	CU_ASSERT_TRUE(rtp_latch_rtcp_dest(&l, 0, false, NULL, &out));
	CU_ASSERT_STRING_EQUAL(addr_str(&out, buf, sizeof(buf)), "10.0.0.5:4001");
	CU_ASSERT_TRUE(rtp_latch_rtcp_dest(&l, 0, true, NULL, &out));
	CU_ASSERT_STRING_EQUAL(addr_str(&out, buf, sizeof(buf)), "10.0.0.5:4000");
	/* behind a NAT: mux follows RTP; without, only the peer's own RTCP
	 * source is used, never a guessed port */
	CU_ASSERT_EQUAL(rtp_latch_on_packet(&l, &nat, 1, 1, 0), RTP_LATCH_CHANGED);
	CU_ASSERT_TRUE(rtp_latch_rtcp_dest(&l, 0, true, NULL, &out));
	CU_ASSERT_STRING_EQUAL(addr_str(&out, buf, sizeof(buf)), "198.51.100.9:31000");
	CU_ASSERT_FALSE(rtp_latch_rtcp_dest(&l, 0, false, NULL, &out));
	CU_ASSERT_FALSE(rtp_latch_rtcp_dest(&l, 0, false, &other, &out));
	CU_ASSERT_TRUE(rtp_latch_rtcp_dest(&l, 0, false, &rtcp_nat, &out));
	CU_ASSERT_STRING_EQUAL(addr_str(&out, buf, sizeof(buf)), "198.51.100.9:31977");
	/* RTCP accepted from the learned IP and the signalled ones only */
	CU_ASSERT_TRUE(rtp_latch_rtcp_ok(&l, &rtcp_nat));
	CU_ASSERT_TRUE(rtp_latch_rtcp_ok(&l, &sdp));
	CU_ASSERT_FALSE(rtp_latch_rtcp_ok(&l, &other));
	rtp_latch_set_mode(&l, CFG_LATCH_ON_CHANGE);
	CU_ASSERT_TRUE(rtp_latch_rtcp_ok(&l, &other));
}

/* ---- receive statistics ---- */

static void
test_rxstat_wrap_loss(void)
{
	struct rtp_rxstat s;
	uint16_t seq = 65530;

	rtp_rxstat_init(&s, 1, seq, 8000);
	for (int i = 0; i < 12; i++, seq++)
		CU_ASSERT_TRUE(rtp_rxstat_update(&s, seq, (uint32_t)i * 160, true, (uint64_t)i * 20));
	CU_ASSERT_EQUAL(rtp_rxstat_ext_max(&s), 65536 + 5);
	CU_ASSERT_EQUAL(rtp_rxstat_expected(&s), 12);
	CU_ASSERT_EQUAL(rtp_rxstat_lost(&s), 0);
	CU_ASSERT_EQUAL(rtp_rxstat_fraction(&s), 0);
	/* lose 3 of the next 8 */
	for (int i = 0; i < 8; i++, seq++)
		if (i != 2 && i != 3 && i != 6)
			rtp_rxstat_update(&s, seq, 0, false, 0);
	CU_ASSERT_EQUAL(rtp_rxstat_expected(&s), 20);
	CU_ASSERT_EQUAL(rtp_rxstat_lost(&s), 3);
	CU_ASSERT_EQUAL(rtp_rxstat_fraction(&s), 3 * 256 / 8);
	CU_ASSERT_EQUAL(rtp_rxstat_fraction(&s), 0);    /* nothing since */
	/* a late packet and a duplicate: counted received, so lost drops */
	rtp_rxstat_update(&s, (uint16_t)(seq - 6), 0, false, 0);
	rtp_rxstat_update(&s, (uint16_t)(seq - 1), 0, false, 0);
	CU_ASSERT_EQUAL(rtp_rxstat_lost(&s), 1);
	CU_ASSERT_EQUAL(s.duplicates, 2);
	CU_ASSERT_EQUAL(rtp_rxstat_expected(&s), 20);
}

static void
test_rxstat_jump(void)
{
	struct rtp_rxstat s;

	rtp_rxstat_init(&s, 1, 100, 8000);
	CU_ASSERT_TRUE(rtp_rxstat_update(&s, 100, 0, true, 0));
	CU_ASSERT_TRUE(rtp_rxstat_update(&s, 101, 160, true, 20));
	/* a stray packet far ahead is not believed */
	CU_ASSERT_FALSE(rtp_rxstat_update(&s, 20000, 320, true, 40));
	CU_ASSERT_EQUAL(rtp_rxstat_expected(&s), 2);
	CU_ASSERT_TRUE(rtp_rxstat_update(&s, 102, 320, true, 40));
	/* a restarted sender: two in a row restart the count */
	CU_ASSERT_FALSE(rtp_rxstat_update(&s, 40000, 480, true, 60));
	CU_ASSERT_TRUE(rtp_rxstat_update(&s, 40001, 640, true, 80));
	CU_ASSERT_EQUAL(s.resyncs, 1);
	CU_ASSERT_EQUAL(rtp_rxstat_expected(&s), 1);
	CU_ASSERT_EQUAL(rtp_rxstat_lost(&s), 0);
	/* a gap under the dropout limit is loss, not a restart */
	CU_ASSERT_TRUE(rtp_rxstat_update(&s, 40001 + 2999, 800, true, 100));
	CU_ASSERT_EQUAL(rtp_rxstat_lost(&s), 2998);
}

static void
test_rxstat_jitter(void)
{
	struct rtp_rxstat s;
	uint32_t ts = 1000;

	/* perfectly paced: no jitter */
	rtp_rxstat_init(&s, 1, 0, 8000);
	for (uint16_t i = 0; i < 100; i++, ts += 160)
		rtp_rxstat_update(&s, i, ts, true, 5000 + (uint64_t)i * 20);
	CU_ASSERT_EQUAL(rtp_rxstat_jitter_ms(&s), 0);
	CU_ASSERT(s.jitter < 0.001);

	/* every other packet 10 ms late: |D| is 80 units each time, and the
	 * estimate converges to it (10 ms) */
	rtp_rxstat_init(&s, 1, 0, 8000);
	for (uint16_t i = 0; i < 300; i++, ts += 160)
		rtp_rxstat_update(&s, i, ts, true, 5000 + (uint64_t)i * 20 + (i % 2 ? 10 : 0));
	CU_ASSERT(s.jitter > 79 && s.jitter < 81);
	CU_ASSERT_EQUAL(rtp_rxstat_jitter_ms(&s), 10);

	/* a timestamp jump (a new base) is not jitter */
	double before = s.jitter;
	rtp_rxstat_update(&s, 300, ts + 5000000, true, 5000 + 300 * 20);
	CU_ASSERT_EQUAL(s.ts_jumps, 1);
	CU_ASSERT(s.jitter <= before);
	/* packets that do not carry the audio clock leave it alone */
	rtp_rxstat_update(&s, 301, 1, false, 999999);
	CU_ASSERT(s.jitter <= before);

	/* the peer's timestamps 2^31 apart: a jump, not a signed overflow
	 * (found by fuzz_media; UBSan aborts on the overflow) */
	rtp_rxstat_init(&s, 1, 0, 8000);
	rtp_rxstat_update(&s, 0, 0, true, 5000);
	rtp_rxstat_update(&s, 1, 0x80000000u, true, 5000);
	CU_ASSERT_EQUAL(s.ts_jumps, 1);
	rtp_rxstat_update(&s, 2, 0, true, 5020);
	CU_ASSERT_EQUAL(s.ts_jumps, 2);
	CU_ASSERT(s.jitter < 1.0);
}

/* ---- RTCP ---- */

static void
test_rtcp_is_rtcp(void)
{
	uint8_t p[2] = {0x80, 0};

	for (int b = 0; b < 256; b++) {
		p[1] = (uint8_t)b;
		CU_ASSERT_EQUAL(rtcp_is_rtcp(p, 2), b >= 192 && b <= 223);
	}
	p[1] = 200;
	CU_ASSERT_FALSE(rtcp_is_rtcp(p, 1));
}

static void
test_rtcp_roundtrip(void)
{
	uint8_t buf[1500];
	struct rtcp_report r, q;
	size_t len;

	memset(&r, 0, sizeof(r));
	r.ssrc = 0x11223344;
	r.sr = true;
	r.ntp = 0xe1234567890abcdeULL;
	r.rtp_ts = 123456;
	r.packets = 1000;
	r.octets = 160000;
	r.n_blocks = 2;
	r.blocks[0] = (struct rtcp_block){0xaabbccdd, 64, -5, 70000, 42, 0x45678901, 655};
	r.blocks[1] = (struct rtcp_block){0x01020304, 255, 8388607, 1, 0, 0, 0};
	CU_ASSERT_EQUAL_FATAL(rtcp_build(buf, sizeof(buf), &r, "pstnbridge@test", &len), 0);
	CU_ASSERT_EQUAL(len % 4, 0);
	CU_ASSERT_EQUAL(buf[1], RTCP_SR);
	CU_ASSERT_EQUAL_FATAL(rtcp_parse(buf, len, &q), 0);
	CU_ASSERT_TRUE(q.sr);
	CU_ASSERT_EQUAL(q.ssrc, r.ssrc);
	CU_ASSERT_EQUAL(q.ntp, r.ntp);
	CU_ASSERT_EQUAL(q.rtp_ts, r.rtp_ts);
	CU_ASSERT_EQUAL(q.packets, r.packets);
	CU_ASSERT_EQUAL(q.octets, r.octets);
	CU_ASSERT_EQUAL_FATAL(q.n_blocks, 2);
	CU_ASSERT_EQUAL(memcmp(&q.blocks[0], &r.blocks[0], sizeof(r.blocks[0])), 0);
	CU_ASSERT_EQUAL(q.blocks[0].lost, -5);
	CU_ASSERT_EQUAL(q.blocks[1].lost, 8388607);
	CU_ASSERT_FALSE(q.bye);

	/* an RR without blocks, with a CNAME of every length class */
	memset(&r, 0, sizeof(r));
	r.ssrc = 7;
	for (size_t cl = 0; cl < 8; cl++) {
		char cname[9] = "abcdefgh";

		cname[cl] = '\0';
		CU_ASSERT_EQUAL_FATAL(rtcp_build(buf, sizeof(buf), &r, cname, &len), 0);
		CU_ASSERT_EQUAL(buf[1], RTCP_RR);
		CU_ASSERT_EQUAL(len % 4, 0);
		CU_ASSERT_EQUAL(rtcp_parse(buf, len, &q), 0);
		CU_ASSERT_FALSE(q.sr);
		CU_ASSERT_EQUAL(q.ssrc, 7);
		CU_ASSERT_EQUAL(q.n_blocks, 0);
	}
	/* too small a buffer */
	CU_ASSERT_EQUAL(rtcp_build(buf, 16, &r, "x", &len), ENOSPC);
	CU_ASSERT_EQUAL(rtcp_build(buf, 20, &r, "x", &len), 0);
}

static void
test_rtcp_malformed(void)
{
	uint8_t buf[512], bad[512];
	struct rtcp_report r, q;
	size_t len;

	memset(&r, 0, sizeof(r));
	r.ssrc = 1;
	r.sr = true;
	r.n_blocks = 1;
	r.blocks[0].ssrc = 2;
	CU_ASSERT_EQUAL_FATAL(rtcp_build(buf, sizeof(buf), &r, "cname", &len), 0);
	CU_ASSERT_EQUAL_FATAL(rtcp_parse(buf, len, &q), 0);

	/* truncated anywhere but between the SR and the SDES (a valid
	 * compound of one packet) */
	for (size_t n = 0; n < len; n++)
		if (n != 52)
			CU_ASSERT_EQUAL(rtcp_parse(buf, n, &q), EINVAL);
	CU_ASSERT_EQUAL(rtcp_parse(buf, 52, &q), 0);
	CU_ASSERT_EQUAL(rtcp_parse(NULL, len, &q), EINVAL);
	/* trailing garbage */
	memcpy(bad, buf, len);
	memset(bad + len, 0, 4);
	CU_ASSERT_EQUAL(rtcp_parse(bad, len + 4, &q), EINVAL);
	/* wrong version, first or second packet */
	memcpy(bad, buf, len);
	bad[0] = (uint8_t)((bad[0] & 0x3f) | 0x40);
	CU_ASSERT_EQUAL(rtcp_parse(bad, len, &q), EINVAL);
	memcpy(bad, buf, len);
	bad[52] = (uint8_t)(bad[52] & 0x3f);    /* the SDES after 28 + 24 octets */
	CU_ASSERT_EQUAL(rtcp_parse(bad, len, &q), EINVAL);
	/* a compound must start with SR or RR */
	CU_ASSERT_EQUAL(rtcp_parse(buf + 52, len - 52, &q), EINVAL);
	/* the length field pointing past the datagram, or short of it */
	memcpy(bad, buf, len);
	bad[3] = (uint8_t)(bad[3] + 20);
	CU_ASSERT_EQUAL(rtcp_parse(bad, len, &q), EINVAL);
	memcpy(bad, buf, len);
	bad[2] = 0xff;
	bad[3] = 0xff;
	CU_ASSERT_EQUAL(rtcp_parse(bad, len, &q), EINVAL);
	/* a report count that does not fit the length */
	memcpy(bad, buf, len);
	bad[0] = (uint8_t)((bad[0] & 0xe0) | 2);
	CU_ASSERT_EQUAL(rtcp_parse(bad, len, &q), EINVAL);
	/* padding on a packet that is not the last */
	memcpy(bad, buf, len);
	bad[0] |= 0x20;
	CU_ASSERT_EQUAL(rtcp_parse(bad, len, &q), EINVAL);
	/* a BYE whose SSRC count overflows its length */
	memcpy(bad, buf, len);
	bad[len] = 0x85;
	bad[len + 1] = RTCP_BYE;
	bad[len + 2] = 0;
	bad[len + 3] = 1;
	memset(bad + len + 4, 0, 4);
	CU_ASSERT_EQUAL(rtcp_parse(bad, len + 8, &q), EINVAL);
	/* and the same BYE with a count that fits is fine, and seen */
	bad[len] = 0x81;
	CU_ASSERT_EQUAL(rtcp_parse(bad, len + 8, &q), 0);
	CU_ASSERT_TRUE(q.bye);
}

static void
test_rtcp_rtt(void)
{
	uint64_t t0 = 1700000000000ULL;     /* our SR left at this Unix time */
	uint64_t sr_ntp = rtcp_ntp_from_unix_ms(t0);
	struct rtcp_block b = {0};

	/* NTP: seconds since 1900 */
	CU_ASSERT_EQUAL(rtcp_ntp_from_unix_ms(0) >> 32, 2208988800ULL);
	CU_ASSERT_EQUAL((uint32_t)rtcp_ntp_from_unix_ms(500), 0x80000000u);
	/* the peer held it 100 ms; it came back 250 ms after it left */
	b.lsr = rtcp_ntp_mid(sr_ntp);
	b.dlsr = 100 * 65536 / 1000;
	int rtt = rtcp_rtt_ms(&b, rtcp_ntp_from_unix_ms(t0 + 250));
	CU_ASSERT(rtt >= 149 && rtt <= 151);
	b.dlsr = 0;
	rtt = rtcp_rtt_ms(&b, rtcp_ntp_from_unix_ms(t0 + 40));
	CU_ASSERT(rtt >= 39 && rtt <= 41);
	/* no SR received yet by the peer */
	b.lsr = 0;
	CU_ASSERT_EQUAL(rtcp_rtt_ms(&b, rtcp_ntp_from_unix_ms(t0)), -1);
	/* nonsense (DLSR larger than the elapsed time) */
	b.lsr = rtcp_ntp_mid(sr_ntp);
	b.dlsr = 10 * 65536;
	CU_ASSERT_EQUAL(rtcp_rtt_ms(&b, rtcp_ntp_from_unix_ms(t0 + 1000)), -1);
}

static void
test_rtcp_interval(void)
{
	/* two members, small packets: the 5 s minimum, randomised by
	 * [0.5, 1.5) and divided by e - 3/2 */
	uint64_t lo = rtcp_interval_ms(2, 2, true, 100, 500, false, 0);
	uint64_t mid = rtcp_interval_ms(2, 2, true, 100, 500, false, 0.5);
	uint64_t hi = rtcp_interval_ms(2, 2, true, 100, 500, false, 0.999999);

	CU_ASSERT(lo >= 2050 && lo <= 2054);
	CU_ASSERT(mid >= 4102 && mid <= 4106);
	CU_ASSERT(hi >= 6153 && hi <= 6158);
	/* the first report: minimum halved */
	CU_ASSERT_EQUAL(rtcp_interval_ms(2, 2, true, 100, 500, true, 0.5), mid / 2);
	/* big reports on little bandwidth: above the minimum */
	CU_ASSERT(rtcp_interval_ms(2, 2, true, 2000, 500, false, 0.5) > mid);
	/* many members, few senders: a sender gets a quarter of the bandwidth */
	CU_ASSERT(rtcp_interval_ms(100, 1, true, 100, 500, false, 0.5) <
	    rtcp_interval_ms(100, 1, false, 100, 500, false, 0.5));
}

/* ---- the leg, on loopback ---- */

struct sink {
	unsigned int n;
	uint8_t last[256];
	size_t last_len;
	int last_pt;
	unsigned int timeouts;
};

static void
on_timeout(void *owner)
{
	struct sink *s = owner;

	s->timeouts++;
}

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
	int fd;

	if (addr_from_ip(bound, ip, 0) != 0 ||
	    (fd = socket(bound->u.sa.sa_family, SOCK_DGRAM, 0)) == -1)
		return -1;
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

/* Batched reads: what one wakeup delivers, and the read time it carries. */
struct burst_sink {
	unsigned int n;
	uint64_t first_us, last_us;
	bool differ;
	uint16_t seq[512];              /* of the first packets, in order */
};

static void
on_burst_media(void *owner, const struct rtp_hdr *h)
{
	struct burst_sink *s = owner;

	if (s->n == 0)
		s->first_us = h->rx_us;
	else if (h->rx_us != s->last_us)
		s->differ = true;
	s->last_us = h->rx_us;
	if (s->n < sizeof(s->seq) / sizeof(s->seq[0]))
		s->seq[s->n] = h->seq;
	s->n++;
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Send one frame and hand it to the kernel at once (a queued io_uring
 * send would otherwise wait for the loop). */
static int
lsend(struct rtp_leg *leg, const uint8_t *frame, size_t len)
{
	int error = rtp_leg_send(leg, frame, len);

	rtp_leg_flush(leg);
	return error;
}

static void
test_leg_batch_read(void)
{
	struct event_base *base = event_base_new();
	struct rtp_leg_cbs cbs = {.media = on_burst_media, .timeout = NULL};
	struct burst_sink sink = {0};
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr b_addr, leg_addr;
	uint8_t pkt[172];
	uint64_t before, after;
	int b, burst = 100, sndbuf = 1 << 20;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	memset(&cfg, 0, sizeof(cfg));
	cfg.address = "127.0.0.1";
	cfg.port_min = 42000;
	cfg.port_max = 42999;
	cfg.latch_mode = CFG_LATCH_ON_CHANGE;
	cfg.io = CFG_RTP_IO_SYSCALLS;   /* the epoll path (test_io_rx_ring: the ring's) */
	leg = rtp_leg_new(base, &cfg, "test-batch", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	b = udp_socket("127.0.0.2", &b_addr);
	CU_ASSERT_FATAL(b != -1);
	setsockopt(b, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	rtp_leg_set_remote(leg, &b_addr, 8);

	memset(pkt, 0xd5, sizeof(pkt));
	mkpkt(pkt, 2, 0, 0, 0, 0, 8);
	for (int i = 0; i < burst; i++) {
		pkt[2] = (uint8_t)(i >> 8);
		pkt[3] = (uint8_t)i;
		CU_ASSERT_EQUAL(sendto(b, pkt, sizeof(pkt), 0, &leg_addr.u.sa, leg_addr.len),
		    (ssize_t)sizeof(pkt));
	}
	usleep(20000);  /* all queued on loopback */

	/* one wakeup reads one batch of 32 (one recvmmsg), all with one
	 * read time */
	before = mono_us();
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	after = mono_us();
	CU_ASSERT_EQUAL(sink.n, 32);
	CU_ASSERT_FALSE(sink.differ);
	CU_ASSERT(sink.first_us >= before && sink.first_us <= after);
	/* level-triggered: the next wakeups take the rest, a batch each */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(sink.n, 64);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(sink.n, (unsigned int)burst);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_packets, (unsigned long)burst);
	CU_ASSERT_EQUAL(st.rx_bad, 0);

	/* a send at a given time: to the learned source, counted */
	CU_ASSERT_EQUAL(rtp_leg_send_at(leg, pkt + 12, 160, after / 1000), 0);
	rtp_leg_flush(leg);
	CU_ASSERT_EQUAL(recv(b, pkt, sizeof(pkt), 0), 172);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_packets, 1);

	close(b);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* The rate limiter's decision, with the second passed in. */
static void
test_log_ratelimit(void)
{
	struct log_ratelimit rl = {0};
	unsigned int passed = 0;

	for (int i = 0; i < 25; i++)
		passed += log_ratelimit_pass(&rl, 100, 10);
	CU_ASSERT_EQUAL(passed, 10);
	CU_ASSERT_EQUAL(rl.suppressed, 15);
	/* a new second starts a new allowance */
	CU_ASSERT_TRUE(log_ratelimit_pass(&rl, 101, 10));
	CU_ASSERT_EQUAL(rl.suppressed, 0);
	CU_ASSERT_EQUAL(rl.count, 1);
	/* max 0: nothing passes */
	CU_ASSERT_FALSE(log_ratelimit_pass(&rl, 102, 0));
}

static void
test_leg_loopback(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = NULL};
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
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_packets, 0);

	/* before any RTP: to the SDP address */
	rtp_leg_set_remote(leg, &a_addr, 0);
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	n = recv(a, rx, sizeof(rx), 0);
	CU_ASSERT_EQUAL_FATAL(n, 172);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)n, &h), 0);
	CU_ASSERT_TRUE(h.marker);
	CU_ASSERT_EQUAL(h.pt, 0);
	CU_ASSERT_EQUAL(h.payload_len, 160);
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
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
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
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

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the loop until done(arg) or max_ms have passed. */
static bool
spin(struct event_base *base, bool (*done)(const void *), const void *arg, unsigned int max_ms)
{
	uint64_t end = mono_ms() + max_ms;

	while (mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (done && done(arg))
			return true;
		usleep(1000);
	}
	return done ? done(arg) : true;
}

static void
leg_cfg(struct cfg_rtp *cfg, enum cfg_latch_mode mode)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->address = "127.0.0.1";
	cfg->port_min = 43000;
	cfg->port_max = 43999;
	cfg->latch_mode = mode;
	cfg->latch_window_ms = 2000;
	cfg->latch_probation = 4;
	cfg->latch_silence_ms = 500;
}

static size_t
rtp_pkt(uint8_t *p, int pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const char *payload)
{
	size_t n = strlen(payload);

	p[0] = 0x80;
	p[1] = (uint8_t)pt;
	p[2] = (uint8_t)(seq >> 8); p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24); p[5] = (uint8_t)(ts >> 16); p[6] = (uint8_t)(ts >> 8); p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24); p[9] = (uint8_t)(ssrc >> 16); p[10] = (uint8_t)(ssrc >> 8); p[11] = (uint8_t)ssrc;
	memcpy(p + 12, payload, n);
	return 12 + n;
}

struct leg_wait {
	const struct rtp_leg *leg;
	const struct sink *sink;
	unsigned long rejected, rx, rtcp_rx, rtcp_bad, rtcp_rejected, rtcp_tx;
	unsigned int media, timeouts;
};

static bool
leg_reached(const void *arg)
{
	const struct leg_wait *w = arg;
	struct rtp_stats st;

	rtp_leg_stats(w->leg, &st);
	return st.rx_rejected >= w->rejected && st.rx_packets >= w->rx &&
	    st.rtcp_rx >= w->rtcp_rx && st.rtcp_bad >= w->rtcp_bad &&
	    st.rtcp_rejected >= w->rtcp_rejected && st.rtcp_tx >= w->rtcp_tx &&
	    w->sink->n >= w->media && w->sink->timeouts >= w->timeouts;
}

struct probation_wait {
	const struct rtp_leg *leg;
	const struct addr *src;
	uint32_t ssrc;
	uint16_t seq;
};

/* Is the leg's latch holding src's packets up to seq on probation? */
static bool
probation_reached(const void *arg)
{
	const struct probation_wait *w = arg;

	return rtp_latch_on_probation(rtp_leg_latch(w->leg), w->src, w->ssrc, w->seq);
}

/* A strict probation's worth of packets (4, SSRC 0x600d, consecutive) with
 * payload from fd to the leg; true once the leg delivered them (and counted
 * at least `rejected` refused packets). */
static bool
leg_send_probation(struct event_base *base, struct leg_wait *w, int fd,
    const struct addr *leg_addr, const char *payload, unsigned long rejected)
{
	uint8_t pkt[512];
	size_t n;

	for (uint16_t i = 0; i < 4; i++) {
		n = rtp_pkt(pkt, 0, (uint16_t)(7 + i), 160u * i, 0x600d, payload);
		sendto(fd, pkt, n, 0, &leg_addr->u.sa, leg_addr->len);
	}
	w->rejected = rejected;
	w->media = 4;
	return spin(base, leg_reached, w, 1000);
}

/* strict on a real socket: an attacker at call start is never delivered
 * nor answered; the peer at its SDP IP is, after the probation. */
static void
test_leg_strict(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = on_timeout};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr c_addr, c2_addr, x_addr, leg_addr;
	uint8_t pkt[512], frame[160], rx[512];
	struct leg_wait w;
	int c, c2, x;
	size_t n;

	leg_cfg(&cfg, CFG_LATCH_STRICT);
	leg = rtp_leg_new(base, &cfg, "strict-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	c = udp_socket("127.0.0.1", &c_addr);          /* the SDP address */
	c2 = udp_socket("127.0.0.1", &c2_addr);        /* the peer's sending port */
	x = udp_socket("127.0.0.2", &x_addr);          /* the attacker */
	CU_ASSERT_FATAL(c != -1 && c2 != -1 && x != -1);
	rtp_leg_set_remote(leg, &c_addr, 0);

	for (uint16_t i = 0; i < 10; i++) {
		n = rtp_pkt(pkt, 0, (uint16_t)(100 + i), 160u * i, 0xbad, "evil");
		sendto(x, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	}
	memset(&w, 0, sizeof(w));
	w.leg = leg;
	w.sink = &sink;
	w.rejected = 10;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	CU_ASSERT_EQUAL(sink.n, 0);
	CU_ASSERT_FALSE(rtp_leg_latch(leg)->have_learned);
	/* our audio goes to the SDP address, nothing to the attacker */
	memset(frame, 0xd5, sizeof(frame));
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(recv(c, rx, sizeof(rx), 0), 172);
	CU_ASSERT_EQUAL(recv(x, rx, sizeof(rx), MSG_DONTWAIT), -1);

	/* the peer sends from another port of its IP: the first three are
	 * held during the probation, and all four are delivered with the 4th */
	CU_ASSERT_TRUE(leg_send_probation(base, &w, c2, &leg_addr, "good", 10));
	CU_ASSERT_EQUAL(sink.n, 4);
	CU_ASSERT_EQUAL(memcmp(sink.last, "good", 4), 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_rejected, 10);
	CU_ASSERT_EQUAL(st.rx_packets, 4);
	CU_ASSERT_EQUAL(st.rx_held, 3);
	CU_ASSERT_EQUAL(st.rx_held_dropped, 0);
	CU_ASSERT_TRUE(st.have_learned);
	CU_ASSERT_FALSE(st.nat);
	CU_ASSERT_TRUE(addr_eq(&st.learned, &c2_addr));
	CU_ASSERT_EQUAL(st.latch_mode, CFG_LATCH_STRICT);
	/* not behind NAT: still to the signalled port */
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(recv(c, rx, sizeof(rx), 0), 172);
	CU_ASSERT_EQUAL(recv(c2, rx, sizeof(rx), MSG_DONTWAIT), -1);
	CU_ASSERT_EQUAL(recv(x, rx, sizeof(rx), MSG_DONTWAIT), -1);

	/* the SIP came from the attacker's IP after all (it is the NAT):
	 * the per-call signal address makes it allowed, per the rules */
	rtp_leg_set_signal_addr(leg, &x_addr);
	rtp_leg_set_latch_mode(leg, CFG_LATCH_ON_CHANGE);
	n = rtp_pkt(pkt, 0, 1, 0, 0x77, "nat!");
	sendto(x, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	w.media = 5;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_TRUE(st.nat);
	CU_ASSERT_EQUAL(st.relatches, 1);
	CU_ASSERT_EQUAL(st.latch_mode, CFG_LATCH_ON_CHANGE);
	rtp_leg_log_summary(leg);

	close(c);
	close(c2);
	close(x);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* The family choice of a dual-stack gateway: address when it is of the
 * peer's family, address6 for IPv6 peers, none when that family is
 * missing (an empty address6, or an IPv6-only address and an IPv4 peer). */
static void
test_address_for(void)
{
	struct cfg_rtp cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.address = "192.0.2.10";
	CU_ASSERT_STRING_EQUAL(rtp_address_for(&cfg, AF_INET), "192.0.2.10");
	CU_ASSERT_PTR_NULL(rtp_address_for(&cfg, AF_INET6));
	cfg.address6 = "";
	CU_ASSERT_PTR_NULL(rtp_address_for(&cfg, AF_INET6));
	cfg.address6 = "2001:db8::10";
	CU_ASSERT_STRING_EQUAL(rtp_address_for(&cfg, AF_INET6), "2001:db8::10");
	CU_ASSERT_STRING_EQUAL(rtp_address_for(&cfg, AF_INET), "192.0.2.10");
	cfg.address6 = "192.0.2.11";            /* not IPv6: never used */
	CU_ASSERT_PTR_NULL(rtp_address_for(&cfg, AF_INET6));
	cfg.address = "::1";                    /* IPv6 only */
	cfg.address6 = NULL;
	CU_ASSERT_STRING_EQUAL(rtp_address_for(&cfg, AF_INET6), "::1");
	CU_ASSERT_PTR_NULL(rtp_address_for(&cfg, AF_INET));
	cfg.address = NULL;                     /* unset: 0.0.0.0 */
	CU_ASSERT_STRING_EQUAL(rtp_address_for(&cfg, AF_INET), "0.0.0.0");
	CU_ASSERT_PTR_NULL(rtp_address_for(&cfg, AF_INET6));
}

/* A leg bound to address6 (::1) with strict latching: our audio goes to
 * the IPv6 SDP address, the peer's from another port of that IP is used
 * after the probation, exactly as over IPv4. */
static void
test_leg_ipv6(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = on_timeout};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr c_addr, c2_addr, leg_addr;
	uint8_t frame[160], rx[512];
	struct leg_wait w;
	int c, c2;

	leg_cfg(&cfg, CFG_LATCH_STRICT);
	cfg.address6 = "::1";
	leg = rtp_leg_new_at(base, &cfg, rtp_address_for(&cfg, AF_INET6), "ipv6-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "::1", rtp_leg_port(leg));
	c = udp_socket("::1", &c_addr);
	c2 = udp_socket("::1", &c2_addr);
	CU_ASSERT_FATAL(c != -1 && c2 != -1);
	rtp_leg_set_remote(leg, &c_addr, 0);
	memset(frame, 0xd5, sizeof(frame));
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(recv(c, rx, sizeof(rx), 0), 172);
	memset(&w, 0, sizeof(w));
	w.leg = leg;
	w.sink = &sink;
	CU_ASSERT_TRUE(leg_send_probation(base, &w, c2, &leg_addr, "six!", 0));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_packets, 4);
	CU_ASSERT_EQUAL(st.rx_held, 3);
	CU_ASSERT_TRUE(st.have_learned);
	CU_ASSERT_FALSE(st.nat);
	CU_ASSERT_TRUE(addr_eq(&st.learned, &c2_addr));
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(recv(c, rx, sizeof(rx), 0), 172);
	CU_ASSERT_EQUAL(recv(c2, rx, sizeof(rx), MSG_DONTWAIT), -1);
	close(c);
	close(c2);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* RTCP on the leg: the peer's SR/RR over port + 1 and multiplexed, our
 * SR with a report block, the round trip, bad and refused RTCP. */
static void
test_leg_rtcp(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = on_timeout};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct rtp_rtcp_peer peer;
	struct addr p_addr, x_addr, leg_addr, leg_rtcp;
	uint8_t pkt[512], rx[1500], frame[160];
	struct rtcp_report r, q, ours;
	struct rtp_hdr h;
	struct leg_wait w;
	uint32_t leg_ssrc = 0;
	bool got_sr = false;
	size_t n;
	ssize_t k;
	int p, x;

	leg_cfg(&cfg, CFG_LATCH_STRICT);
	cfg.latch_probation = 1;
	leg = rtp_leg_new(base, &cfg, "rtcp-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	addr_from_ip(&leg_rtcp, "127.0.0.1", rtp_leg_port(leg) + 1);
	p = udp_socket("127.0.0.1", &p_addr);
	x = udp_socket("127.0.0.2", &x_addr);
	CU_ASSERT_FATAL(p != -1 && x != -1);
	rtp_leg_set_rtcp_mux(leg, true);
	rtp_leg_set_remote(leg, &p_addr, 0);
	memset(&w, 0, sizeof(w));
	w.leg = leg;
	w.sink = &sink;

	/* the peer's RTP, seq 1 2 4 5 (one lost) */
	for (uint16_t i = 1; i <= 5; i++) {
		if (i == 3)
			continue;
		n = rtp_pkt(pkt, 0, i, 160u * i, 0x9999, "abcd");
		sendto(p, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	}
	w.media = 4;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.expected, 5);
	CU_ASSERT_EQUAL(st.lost, 1);
	/* one frame of ours, so the first report is an SR */
	memset(frame, 0xd5, sizeof(frame));
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(recv(p, rx, sizeof(rx), 0), 172);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, 172, &h), 0);
	leg_ssrc = h.ssrc;

	/* the first report comes within 2.5 * 1.5 / 1.218 s, on the RTP port */
	w.rtcp_tx = 1;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 3500));
	k = recv(p, rx, sizeof(rx), MSG_DONTWAIT);
	CU_ASSERT_FATAL(k > 0);
	CU_ASSERT_TRUE(rtcp_is_rtcp(rx, (size_t)k));
	CU_ASSERT_EQUAL_FATAL(rtcp_parse(rx, (size_t)k, &ours), 0);
	got_sr = ours.sr;
	CU_ASSERT_TRUE(got_sr);
	CU_ASSERT_EQUAL(ours.ssrc, leg_ssrc);
	CU_ASSERT_EQUAL(ours.packets, 1);
	CU_ASSERT_EQUAL(ours.octets, 160);
	CU_ASSERT_EQUAL_FATAL(ours.n_blocks, 1);
	CU_ASSERT_EQUAL(ours.blocks[0].ssrc, 0x9999);
	CU_ASSERT_EQUAL(ours.blocks[0].lost, 1);
	CU_ASSERT_EQUAL(ours.blocks[0].ext_max, 5);
	CU_ASSERT_EQUAL(ours.blocks[0].fraction, 256 / 5);

	/* the peer's RR about us, echoing our SR: a round trip of ~0 ms */
	memset(&r, 0, sizeof(r));
	r.ssrc = 0x9999;
	r.n_blocks = 1;
	r.blocks[0].ssrc = leg_ssrc;
	r.blocks[0].fraction = 12;
	r.blocks[0].lost = 3;
	r.blocks[0].jitter = 80;
	r.blocks[0].lsr = rtcp_ntp_mid(ours.ntp);
	CU_ASSERT_EQUAL_FATAL(rtcp_build(pkt, sizeof(pkt), &r, "peer", &n), 0);
	sendto(p, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	w.rtcp_rx = 1;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_rtcp_peer(leg, &peer);
	CU_ASSERT_EQUAL(peer.reports, 1);
	CU_ASSERT_EQUAL(peer.fraction, 12);
	CU_ASSERT_EQUAL(peer.lost, 3);
	CU_ASSERT_EQUAL(peer.jitter_ms, 10);
	CU_ASSERT(peer.rtt_ms >= 0 && peer.rtt_ms < 3000);
	CU_ASSERT_EQUAL(sink.n, 4);     /* RTCP never reaches the media callback */

	/* a malformed compound on the mux port, then on the RTCP port */
	memcpy(rx, pkt, n);
	rx[3] = (uint8_t)(rx[3] + 1);
	sendto(p, rx, n, 0, &leg_addr.u.sa, leg_addr.len);
	sendto(p, rx, n, 0, &leg_rtcp.u.sa, leg_rtcp.len);
	w.rtcp_bad = 2;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	/* a good one on the RTCP port (also accepted with mux on) */
	sendto(p, pkt, n, 0, &leg_rtcp.u.sa, leg_rtcp.len);
	w.rtcp_rx = 2;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	/* strict: RTCP from a stranger's IP is refused */
	sendto(x, pkt, n, 0, &leg_rtcp.u.sa, leg_rtcp.len);
	sendto(x, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	w.rtcp_rejected = 2;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rtcp_rx, 2);
	CU_ASSERT_EQUAL(st.rtcp_bad, 2);
	CU_ASSERT_EQUAL(st.rtcp_rejected, 2);
	CU_ASSERT_EQUAL(st.rx_rejected, 0);
	rtp_leg_rtcp_peer(leg, &peer);
	CU_ASSERT_EQUAL(peer.reports, 2);

	/* without mux, RTCP on the RTP port is not taken as RTCP */
	rtp_leg_set_rtcp_mux(leg, false);
	sendto(p, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	w.rejected = 1;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rtcp_rx, 2);
	(void)q;

	close(p);
	close(x);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* The media timeout: fires after the silence, not while RTP flows, uses
 * the hold timeout on hold, and not before the remote is known. */
static void
test_leg_timeout(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = on_timeout};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct addr p_addr, leg_addr;
	struct leg_wait w;
	uint8_t pkt[64];
	uint64_t t0;
	size_t n;
	int p;

	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	leg = rtp_leg_new(base, &cfg, "timeout-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	p = udp_socket("127.0.0.1", &p_addr);
	CU_ASSERT_FATAL(p != -1);
	memset(&w, 0, sizeof(w));
	w.leg = leg;
	w.sink = &sink;
	w.timeouts = 1;

	/* no remote yet: no timer */
	rtp_leg_set_timeouts_ms(leg, 100, 0);
	CU_ASSERT_FALSE(spin(base, leg_reached, &w, 300));
	/* the timer starts with the remote */
	t0 = mono_ms();
	rtp_leg_set_remote(leg, &p_addr, 0);
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 2000));
	CU_ASSERT(mono_ms() - t0 >= 95);
	CU_ASSERT_EQUAL(sink.timeouts, 1);

	/* RTP every 40 ms for 500 ms keeps it quiet */
	rtp_leg_set_timeouts_ms(leg, 200, 0);
	t0 = mono_ms();
	for (uint16_t i = 0; mono_ms() - t0 < 500; i++) {
		n = rtp_pkt(pkt, 0, i, 160u * i, 0x42, "x");
		sendto(p, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
		spin(base, NULL, NULL, 40);
	}
	CU_ASSERT_EQUAL(sink.timeouts, 1);
	CU_ASSERT(sink.n >= 5);
	/* then silence: it fires */
	w.timeouts = 2;
	t0 = mono_ms();
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 2000));
	CU_ASSERT(mono_ms() - t0 >= 150);

	/* on hold, the hold timeout applies (0: never) */
	rtp_leg_set_hold(leg, true);
	w.timeouts = 3;
	CU_ASSERT_FALSE(spin(base, leg_reached, &w, 400));
	/* off hold again: the normal timeout, counted from now */
	t0 = mono_ms();
	rtp_leg_set_hold(leg, false);
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 2000));
	CU_ASSERT(mono_ms() - t0 >= 190);
	/* a hold timeout of its own */
	rtp_leg_set_timeouts_ms(leg, 0, 100);
	rtp_leg_set_hold(leg, true);
	w.timeouts = 4;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 2000));

	close(p);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* RFC 4733 packets share the audio's SSRC and sequence; the audio's
 * timestamp goes on; the peer's events reach the media callback. */
static void
test_leg_send_raw(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = NULL};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct addr a_addr, leg_addr;
	uint8_t frame[160], rx[512], ev[4] = {5, 0x8a, 0, 160}, pkt[64];
	struct rtp_hdr h1, h2, h3;
	struct leg_wait w;
	uint32_t next;
	size_t n;
	int a;

	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	leg = rtp_leg_new(base, &cfg, "raw-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	a = udp_socket("127.0.0.1", &a_addr);
	CU_ASSERT_FATAL(a != -1);
	rtp_leg_set_remote(leg, &a_addr, 8);
	memset(frame, 0xd5, sizeof(frame));

	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)recv(a, rx, sizeof(rx), 0), &h1), 0);
	next = rtp_leg_ts(leg);
	CU_ASSERT_EQUAL(next, h1.ts + 160);
	CU_ASSERT_EQUAL(rtp_leg_send_raw(leg, 101, true, next, ev, sizeof(ev)), 0);
	rtp_leg_flush(leg);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)recv(a, rx, sizeof(rx), 0), &h2), 0);
	CU_ASSERT_EQUAL(h2.ssrc, h1.ssrc);
	CU_ASSERT_EQUAL((uint16_t)(h2.seq - h1.seq), 1);
	CU_ASSERT_EQUAL(h2.pt, 101);
	CU_ASSERT_TRUE(h2.marker);
	CU_ASSERT_EQUAL(h2.ts, next);
	CU_ASSERT_EQUAL(h2.payload_len, 4);
	CU_ASSERT_EQUAL(memcmp(h2.payload, ev, 4), 0);
	CU_ASSERT_EQUAL(rtp_leg_ts(leg), next);         /* untouched by events */
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)recv(a, rx, sizeof(rx), 0), &h3), 0);
	CU_ASSERT_EQUAL((uint16_t)(h3.seq - h1.seq), 2);
	CU_ASSERT_EQUAL(h3.ts, next);
	CU_ASSERT_EQUAL(h3.pt, 8);
	CU_ASSERT_FALSE(h3.marker);
	CU_ASSERT_EQUAL(rtp_leg_send_raw(leg, 128, false, 0, ev, 4), EINVAL);

	/* the peer's telephone-event packets are delivered with their header */
	n = rtp_pkt(pkt, 101, 1, 0, 0x55, "\x05\x0a\x01\xa0");
	sendto(a, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	memset(&w, 0, sizeof(w));
	w.leg = leg;
	w.sink = &sink;
	w.media = 1;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	CU_ASSERT_EQUAL(sink.last_pt, 101);
	CU_ASSERT_EQUAL(sink.last_len, 4);

	close(a);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* ---- Batched sends (io_uring) ---- */

#define IO_LEGS 20
#define IO_TICKS 5

/* A tick's frames of many legs are queued, nothing leaves before the loop
 * runs its deferred submit (one io_uring_enter per tick), then every
 * frame reaches its destination, in each leg's order; with skip (the
 * default where the kernel can) no successful send posts a completion,
 * and the slots are free again after each submission. */
static void
t_io_batch_order(bool skip)
{
	struct event_base *base = event_base_new();
	struct rtp_leg *legs[IO_LEGS];
	struct rtp_io_stats before, after;
	struct cfg_rtp cfg;
	struct addr r_addr;
	struct rtp_stats st;
	uint8_t frame[160], rx[512];
	uint32_t ssrc[IO_LEGS];
	int seen[IO_LEGS], r, rcvbuf = 1 << 20;
	uint16_t last_seq[IO_LEGS];
	struct rtp_hdr h;
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	rtp_io_set_skip_success(skip);
	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	cfg.io = CFG_RTP_IO_URING;
	r = udp_socket("127.0.0.1", &r_addr);
	CU_ASSERT_FATAL(r != -1);
	setsockopt(r, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (int i = 0; i < IO_LEGS; i++) {
		legs[i] = rtp_leg_new(base, &cfg, "io-batch", NULL, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(legs[i]);
		CU_ASSERT_EQUAL(rtp_leg_io_mode(legs[i]), CFG_RTP_IO_URING);
		rtp_leg_set_remote(legs[i], &r_addr, 8);
		seen[i] = 0;
	}
	/* (each new leg submitted its receive: counted from here) */
	rtp_io_get_stats(&before);
	for (int t = 0; t < IO_TICKS; t++) {
		/* one tick: every leg's frame, tagged with its leg and tick */
		for (int i = 0; i < IO_LEGS; i++) {
			memset(frame, (uint8_t)(t * IO_LEGS + i), sizeof(frame));
			CU_ASSERT_EQUAL(rtp_leg_send(legs[i], frame, sizeof(frame)), 0);
		}
		if (t == 0)     /* queued: nothing left yet */
			CU_ASSERT_EQUAL(recv(r, rx, sizeof(rx), MSG_DONTWAIT), -1);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	rtp_io_get_stats(&after);
	CU_ASSERT_TRUE(after.active);
	CU_ASSERT_EQUAL(after.queued - before.queued, IO_LEGS * IO_TICKS);
	CU_ASSERT_EQUAL(after.submits - before.submits, IO_TICKS);
	CU_ASSERT_EQUAL(after.errors, before.errors);
	CU_ASSERT_EQUAL(after.skip_success, skip);
	CU_ASSERT_EQUAL(after.send_cqes - before.send_cqes, skip ? 0 : IO_LEGS * IO_TICKS);

	for (int k = 0; k < IO_LEGS * IO_TICKS; k++) {
		int leg = -1;

		n = recv(r, rx, sizeof(rx), 0);
		CU_ASSERT_EQUAL_FATAL(n, 172);
		CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)n, &h), 0);
		leg = h.payload[0] % IO_LEGS;
		if (seen[leg] == 0)
			ssrc[leg] = h.ssrc;
		else {
			CU_ASSERT_EQUAL(h.ssrc, ssrc[leg]);
			CU_ASSERT_EQUAL((uint16_t)(h.seq - last_seq[leg]), 1);
		}
		/* the tick's frame, in order */
		CU_ASSERT_EQUAL(h.payload[0], (uint8_t)(seen[leg] * IO_LEGS + leg));
		CU_ASSERT_EQUAL(h.payload[159], h.payload[0]);
		last_seq[leg] = h.seq;
		seen[leg]++;
	}
	CU_ASSERT_EQUAL(recv(r, rx, sizeof(rx), MSG_DONTWAIT), -1);
	for (int i = 0; i < IO_LEGS; i++) {
		CU_ASSERT_EQUAL(seen[i], IO_TICKS);
		rtp_leg_stats(legs[i], &st);
		CU_ASSERT_EQUAL(st.tx_packets, IO_TICKS);
		CU_ASSERT_EQUAL(st.tx_octets, IO_TICKS * 160);
		CU_ASSERT_EQUAL(st.tx_errors, 0);
	}

	/* a leg freed with frames still queued: they leave first */
	memset(frame, 0x77, sizeof(frame));
	CU_ASSERT_EQUAL(rtp_leg_send(legs[0], frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(rtp_leg_send(legs[1], frame, sizeof(frame)), 0);
	rtp_leg_free(legs[0]);
	CU_ASSERT_EQUAL(recv(r, rx, sizeof(rx), 0), 172);
	CU_ASSERT_EQUAL(recv(r, rx, sizeof(rx), 0), 172);
	for (int i = 1; i < IO_LEGS; i++)
		rtp_leg_free(legs[i]);
	rtp_io_get_stats(&after);
	CU_ASSERT_FALSE(after.active);          /* the last leg took the ring down */
	close(r);
	event_base_free(base);
	rtp_io_set_skip_success(true);
}

static void
test_io_batch_order(void)
{
	t_io_batch_order(true);
	t_io_batch_order(false);
}

/* Skip mode: a send's slot is free again once its submission is reaped,
 * so a long run of ticks never runs out of slots (16384) and never falls
 * back to sendto: every send goes through the ring. */
static void
test_io_skip_slots(void)
{
	struct event_base *base = event_base_new();
	struct rtp_io_stats before, after;
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr r_addr;
	uint8_t frame[160], rx[512];
	int r, got = 0;
	const int n = 20000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	leg_cfg(&cfg, CFG_LATCH_OFF);
	cfg.io = CFG_RTP_IO_URING;
	r = udp_socket("127.0.0.1", &r_addr);
	CU_ASSERT_FATAL(r != -1);
	leg = rtp_leg_new(base, &cfg, "io-skip", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	rtp_leg_set_remote(leg, &r_addr, 8);
	rtp_io_get_stats(&before);
	if (!before.skip_success) {
		CU_PASS("kernel without IORING_FEAT_CQE_SKIP: nothing to test");
		goto out;
	}
	memset(frame, 0xd5, sizeof(frame));
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
		if (i % 10 == 9) {
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
			while (recv(r, rx, sizeof(rx), MSG_DONTWAIT) > 0)
				got++;
		}
	}
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	while (recv(r, rx, sizeof(rx), MSG_DONTWAIT) > 0)
		got++;
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.queued - before.queued, (unsigned long)n);
	CU_ASSERT_EQUAL(after.send_cqes - before.send_cqes, 0);
	CU_ASSERT_EQUAL(got, n);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_packets, (unsigned long)n);
	CU_ASSERT_EQUAL(st.tx_errors, 0);
out:
	rtp_leg_free(leg);
	close(r);
	event_base_free(base);
}

/* Connected sends: the leg sends from a second socket on its RTP port,
 * connected to where RTP goes; the kernel gives that socket what comes
 * from there and the RTP socket the rest, and the leg receives both. */
static int
conn_recv(int fd, const struct addr *from_want)
{
	uint8_t rx[512];
	struct addr from;
	ssize_t n;

	from.len = sizeof(from.u);
	n = recvfrom(fd, rx, sizeof(rx), 0, &from.u.sa, &from.len);
	if (n != 172 || !addr_eq(&from, from_want))
		return -1;
	return 0;
}

static void
test_leg_connected(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg, one;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = NULL};
	struct sink sink = {0}, sink2 = {0};
	struct rtp_leg *leg, *leg2;
	struct rtp_stats st;
	struct rtp_io_stats before, after;
	struct addr a_addr, b_addr, c_addr, leg_addr;
	uint8_t frame[160], pkt[512];
	uint16_t seq = 1;
	unsigned int want;
	int a, b, c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	memset(frame, 0xd5, sizeof(frame));
	leg_cfg(&cfg, CFG_LATCH_STRICT);
	cfg.io = CFG_RTP_IO_URING;
	leg = rtp_leg_new(base, &cfg, "conn-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	a = udp_socket("127.0.0.1", &a_addr);
	b = udp_socket("127.0.0.2", &b_addr);
	c = udp_socket("127.0.0.3", &c_addr);
	CU_ASSERT_FATAL(a != -1 && b != -1 && c != -1);
	rtp_leg_set_remote(leg, &a_addr, 8);
	pump(base, leg, 0, &sink, 0);

	/* the first send connects; every send comes from the RTP port */
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
		CU_ASSERT_EQUAL(conn_recv(a, &leg_addr), 0);
	}
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.connects, 1);
	CU_ASSERT_TRUE(st.tx_connected);
	CU_ASSERT_EQUAL(st.tx_packets, 5);
	/* both sockets are in the ring's file table, and the sends named
	 * theirs by its place there */
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.files, 2);
	CU_ASSERT(after.tx_fixed >= 5);

	/* what the peer sends arrives on the connected socket: delivered */
	for (int i = 0; i < 5; i++) {
		size_t n = rtp_pkt(pkt, 8, seq++, 160u * i, 0xa, "from-a");

		CU_ASSERT_EQUAL(sendto(a, pkt, n, 0, &leg_addr.u.sa, leg_addr.len), (ssize_t)n);
	}
	pump(base, leg, 0, &sink, 5);
	CU_ASSERT_EQUAL(sink.n, 5);

	/* a third party's packets still reach the latch (on the RTP socket),
	 * which refuses them: strict */
	for (int i = 0; i < 5; i++) {
		size_t n = rtp_pkt(pkt, 8, (uint16_t)(seq + 1), 160u * 5, 0xa, "inject");

		CU_ASSERT_EQUAL(sendto(c, pkt, n, 0, &leg_addr.u.sa, leg_addr.len), (ssize_t)n);
	}
	CU_ASSERT_TRUE(spin(base, leg_reached, &(struct leg_wait){.leg = leg, .sink = &sink,
	    .rejected = 5}, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_rejected, 5);
	CU_ASSERT_EQUAL(sink.n, 5);

	/* the peer's port closes: the ICMP errors come back on the connected
	 * socket (more of them than the receive's failures allowed before
	 * epoll); its receive goes on, and so do the sends once the port is
	 * open again */
	close(a);
	for (int i = 0; i < 12; i++) {
		CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
		pump(base, leg, 0, &sink, 0);
		usleep(1000);
	}
	pump(base, leg, 0, &sink, 0);
	a = socket(AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_FATAL(a != -1);
	CU_ASSERT_EQUAL_FATAL(bind(a, &a_addr.u.sa, a_addr.len), 0);
	rtp_io_get_stats(&before);
	{
		size_t n = rtp_pkt(pkt, 8, seq++, 160u * 6, 0xa, "again");

		CU_ASSERT_EQUAL(sendto(a, pkt, n, 0, &leg_addr.u.sa, leg_addr.len), (ssize_t)n);
	}
	pump(base, leg, 0, &sink, 6);
	CU_ASSERT_EQUAL(sink.n, 6);
	rtp_io_get_stats(&after);
	CU_ASSERT(after.rx_packets > before.rx_packets);        /* through the ring */
	CU_ASSERT_EQUAL(lsend(leg, frame, sizeof(frame)), 0);
	{
		struct timeval tv = {1, 0};

		setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	CU_ASSERT_EQUAL(conn_recv(a, &leg_addr), 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_TRUE(st.tx_connected);
	CU_ASSERT_EQUAL(st.connects, 1);
	CU_ASSERT(st.tx_errors <= 12);

	/* the port is still the leg's own: a leg limited to it gets none */
	one = cfg;
	one.port_min = rtp_leg_port(leg);
	one.port_max = rtp_leg_port(leg) + 1;
	leg2 = rtp_leg_new(base, &one, "conn-taken", &cbs, &sink2);
	CU_ASSERT_PTR_NULL(leg2);
	rtp_leg_free(leg2);

	/* on-change follows every new source: the sends follow it at once,
	 * connected anew RTP_CONNECT_BURST (4) times and then from the RTP
	 * socket with the address, never to a source that has gone */
	cfg.latch_mode = CFG_LATCH_ON_CHANGE;
	leg2 = rtp_leg_new(base, &cfg, "conn-2", &cbs, &sink2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg2);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg2));
	rtp_leg_set_remote(leg2, &a_addr, 8);
	pump(base, leg2, 0, &sink2, 0);
	CU_ASSERT_EQUAL(lsend(leg2, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(conn_recv(a, &leg_addr), 0);
	want = 0;
	for (int i = 0; i < 8; i++) {
		int x = i % 2 ? c : b;
		size_t n = rtp_pkt(pkt, 8, seq++, 160u * (unsigned int)(10 + i), 0xb, "nat");

		CU_ASSERT_EQUAL(sendto(x, pkt, n, 0, &leg_addr.u.sa, leg_addr.len), (ssize_t)n);
		pump(base, leg2, 0, &sink2, ++want);
		CU_ASSERT_EQUAL(sink2.n, want);
		CU_ASSERT_EQUAL(lsend(leg2, frame, sizeof(frame)), 0);
		CU_ASSERT_EQUAL(conn_recv(x, &leg_addr), 0);
	}
	rtp_leg_stats(leg2, &st);
	CU_ASSERT(st.connects >= 4 && st.connects <= 5);
	CU_ASSERT_EQUAL(st.tx_packets, 9);
	CU_ASSERT_EQUAL(st.tx_errors, 0);

	close(a);
	close(b);
	close(c);
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.files, 4);
	/* a freed leg's places are emptied at once: its port is free (the
	 * table would hold its sockets open) and the places reused */
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	rtp_leg_free(leg);
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.files, 2);
	a = socket(AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_FATAL(a != -1);
	CU_ASSERT_EQUAL(bind(a, &leg_addr.u.sa, leg_addr.len), 0);
	close(a);
	rtp_leg_free(leg2);
	event_base_free(base);
}

/* Sends the kernel refuses (broadcast without SO_BROADCAST) are counted
 * per leg: on completion with io_uring (with skip: the send counted when
 * queued is taken back), at once with sendto. */
static void
t_io_errors(bool skip)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct rtp_io_stats before, after;
	struct addr bcast;
	uint8_t frame[160];

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	memset(frame, 0xd5, sizeof(frame));
	addr_from_ip(&bcast, "255.255.255.255", 9);
	leg_cfg(&cfg, CFG_LATCH_OFF);
	cfg.io = CFG_RTP_IO_URING;
	rtp_io_set_skip_success(skip);
	rtp_io_get_stats(&before);
	leg = rtp_leg_new(base, &cfg, "io-err", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	CU_ASSERT_EQUAL(rtp_leg_io_mode(leg), CFG_RTP_IO_URING);
	rtp_leg_set_remote(leg, &bcast, 8);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);   /* queued */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_errors, 3);
	CU_ASSERT_EQUAL(st.tx_packets, 0);
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.errors - before.errors, 3);
	rtp_leg_free(leg);

	cfg.io = CFG_RTP_IO_SYSCALLS;
	leg = rtp_leg_new(base, &cfg, "io-err-2", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	CU_ASSERT_EQUAL(rtp_leg_io_mode(leg), CFG_RTP_IO_SYSCALLS);
	rtp_leg_set_remote(leg, &bcast, 8);
	CU_ASSERT_NOT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_errors, 1);
	CU_ASSERT_EQUAL(st.tx_packets, 0);
	rtp_leg_free(leg);
	event_base_free(base);
	rtp_io_set_skip_success(true);
}

static void
test_io_errors(void)
{
	t_io_errors(true);
	t_io_errors(false);
}

/* io = syscalls: no ring, every frame leaves at once with sendto (the
 * path io = auto takes when io_uring cannot be set up). */
static void
test_io_syscalls(void)
{
	struct event_base *base = event_base_new();
	struct rtp_io_stats before, after;
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr r_addr;
	uint8_t frame[160], rx[512];
	struct rtp_hdr h1, h2;
	int r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	r = udp_socket("127.0.0.1", &r_addr);
	CU_ASSERT_FATAL(r != -1);
	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	cfg.io = CFG_RTP_IO_SYSCALLS;
	rtp_io_get_stats(&before);
	leg = rtp_leg_new(base, &cfg, "io-sys", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	CU_ASSERT_EQUAL(rtp_leg_io_mode(leg), CFG_RTP_IO_SYSCALLS);
	rtp_io_get_stats(&after);
	CU_ASSERT_FALSE(after.active);
	rtp_leg_set_remote(leg, &r_addr, 8);
	memset(frame, 1, sizeof(frame));
	CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	memset(frame, 2, sizeof(frame));
	CU_ASSERT_EQUAL(rtp_leg_send(leg, frame, sizeof(frame)), 0);
	/* no loop run, no flush: already sent */
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)recv(r, rx, sizeof(rx), MSG_DONTWAIT), &h1), 0);
	CU_ASSERT_EQUAL(h1.payload[0], 1);
	CU_ASSERT_EQUAL_FATAL(rtp_parse(rx, (size_t)recv(r, rx, sizeof(rx), MSG_DONTWAIT), &h2), 0);
	CU_ASSERT_EQUAL(h2.payload[0], 2);
	CU_ASSERT_EQUAL((uint16_t)(h2.seq - h1.seq), 1);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.tx_packets, 2);
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.queued, before.queued);
	rtp_leg_free(leg);
	close(r);
	event_base_free(base);
}

/* strict: a NAT rebinding (same IP, new port, the stream continues) loses
 * nothing: the packets of the probation are held and delivered in order
 * once the new source is accepted; a probation that fails drops them. */
static void
test_leg_strict_rebind_hold(void)
{
	struct event_base *base = event_base_new();
	struct cfg_rtp cfg;
	struct rtp_leg_cbs cbs = {.media = on_media, .timeout = NULL};
	struct sink sink = {0};
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr a_addr, b_addr, c_addr, sdp, leg_addr;
	uint8_t pkt[512];
	char pay[8];
	struct leg_wait w;
	int a, b, c;
	size_t n;

	leg_cfg(&cfg, CFG_LATCH_STRICT);
	leg = rtp_leg_new(base, &cfg, "rebind-1", &cbs, &sink);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	addr_from_ip(&leg_addr, "127.0.0.1", rtp_leg_port(leg));
	a = udp_socket("127.0.0.1", &a_addr);   /* the NAT's first mapping */
	b = udp_socket("127.0.0.1", &b_addr);   /* its mapping after the rebind */
	c = udp_socket("127.0.0.1", &c_addr);   /* a third port of the NAT */
	CU_ASSERT_FATAL(a != -1 && b != -1 && c != -1);
	addr_from_ip(&sdp, "127.0.0.1", 4000);  /* signalled, unused port */
	rtp_leg_set_remote(leg, &sdp, 0);
	memset(&w, 0, sizeof(w));
	w.leg = leg;
	w.sink = &sink;

	/* call start: seq 1..10 from A, all delivered (3 held) */
	for (uint16_t s = 1; s <= 10; s++) {
		snprintf(pay, sizeof(pay), "s%03u", s);
		n = rtp_pkt(pkt, 0, s, 160u * s, 0xabc, pay);
		sendto(a, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	}
	w.media = 10;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	CU_ASSERT_EQUAL(sink.n, 10);
	CU_ASSERT_EQUAL(memcmp(sink.last, "s010", 4), 0);
	/* the NAT rebinds: seq 11..20 from B; 11..13 on probation */
	for (uint16_t s = 11; s <= 13; s++) {
		snprintf(pay, sizeof(pay), "s%03u", s);
		n = rtp_pkt(pkt, 0, s, 160u * s, 0xabc, pay);
		sendto(b, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
		CU_ASSERT_TRUE(spin(base, probation_reached, &(struct probation_wait){
		    .leg = leg, .src = &b_addr, .ssrc = 0xabc, .seq = s}, 1000));
	}
	CU_ASSERT_EQUAL(sink.n, 10);            /* held, not delivered yet */
	for (uint16_t s = 14; s <= 20; s++) {
		snprintf(pay, sizeof(pay), "s%03u", s);
		n = rtp_pkt(pkt, 0, s, 160u * s, 0xabc, pay);
		sendto(b, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	}
	w.media = 20;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	CU_ASSERT_EQUAL(sink.n, 20);
	CU_ASSERT_EQUAL(memcmp(sink.last, "s020", 4), 0);
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_packets, 20);
	CU_ASSERT_EQUAL(st.rx_held, 6);         /* 3 at call start, 3 at the rebind */
	CU_ASSERT_EQUAL(st.rx_rejected, 0);
	CU_ASSERT_EQUAL(st.relatches, 1);
	CU_ASSERT_TRUE(addr_eq(&st.learned, &b_addr));
	CU_ASSERT_EQUAL(st.lost, 0);
	CU_ASSERT_EQUAL(st.expected, 20);

	/* C starts a probation with a new SSRC while B still sends: C's
	 * packets are held, then its probation passes but the takeover is
	 * refused (B is not silent): they are dropped, never delivered */
	for (uint16_t s = 21; s <= 24; s++) {
		n = rtp_pkt(pkt, 0, s, 160u * s, 0xabc, "bbbb");
		sendto(b, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
		n = rtp_pkt(pkt, 0, (uint16_t)(500 + s), 0, 0xc0c0, "cccc");
		sendto(c, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	}
	w.media = 24;
	w.rejected = 4;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(sink.n, 24);
	CU_ASSERT_EQUAL(memcmp(sink.last, "bbbb", 4), 0);
	CU_ASSERT_EQUAL(st.rx_held_dropped, 3);
	CU_ASSERT_EQUAL(st.rx_rejected, 4);
	CU_ASSERT_TRUE(addr_eq(&st.learned, &b_addr));

	/* a probation broken by a gap starts over: the first run is dropped */
	n = rtp_pkt(pkt, 0, 900, 0, 0xd0d0, "dddd");
	sendto(c, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	n = rtp_pkt(pkt, 0, 901, 0, 0xd0d0, "dddd");
	sendto(c, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	n = rtp_pkt(pkt, 0, 950, 0, 0xd0d0, "dddd");
	sendto(c, pkt, n, 0, &leg_addr.u.sa, leg_addr.len);
	w.rejected = 6;
	CU_ASSERT_TRUE(spin(base, leg_reached, &w, 1000));
	rtp_leg_stats(leg, &st);
	CU_ASSERT_EQUAL(st.rx_held_dropped, 5);
	CU_ASSERT_EQUAL(sink.n, 24);

	close(a);
	close(b);
	close(c);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* ---- Receives through the ring ---- */

/* Send burst packets from b to the leg, seq 0..burst-1, then run the loop
 * until all arrived (bounded); returns the loop iterations it took. */
static int
rx_burst(struct event_base *base, int b, const struct addr *to, struct burst_sink *sink,
         unsigned int burst)
{
	uint8_t pkt[172];
	int loops = 0;

	memset(pkt, 0xd5, sizeof(pkt));
	mkpkt(pkt, 2, 0, 0, 0, 0, 8);
	for (unsigned int i = 0; i < burst; i++) {
		pkt[2] = (uint8_t)(i >> 8);
		pkt[3] = (uint8_t)i;
		CU_ASSERT_EQUAL(sendto(b, pkt, sizeof(pkt), 0, &to->u.sa, to->len),
		    (ssize_t)sizeof(pkt));
	}
	usleep(20000);  /* all queued on loopback */
	while (sink->n < burst && loops < 200) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (sink->n < burst)
			usleep(1000);
		loops++;
	}
	return loops;
}

/* With io = uring, a leg's RTP comes through the ring's multishot receive:
 * a burst arrives whole and in order with far fewer wakeups than packets,
 * from the right source (the latch learns it); with too few buffers the
 * receives end (ENOBUFS), are armed again and still lose nothing; a freed
 * leg's receive is cancelled at once, so its port can be bound again. */
static void
test_io_rx_ring(void)
{
	struct event_base *base = event_base_new();
	struct rtp_leg_cbs cbs = {.media = on_burst_media, .timeout = NULL};
	struct burst_sink sink;
	struct rtp_io_stats before, after;
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct rtp_stats st;
	struct addr b_addr, leg_addr;
	const struct addr *dst;
	unsigned int burst = 200, port;
	int b, s2, loops, sndbuf = 1 << 20;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	cfg.io = CFG_RTP_IO_URING;
	b = udp_socket("127.0.0.2", &b_addr);
	CU_ASSERT_FATAL(b != -1);
	setsockopt(b, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	for (int round = 0; round < 2; round++) {
		/* round 1: 16 buffers for 200 packets */
		rtp_io_set_rx_buffers(round == 0 ? 0 : 16);
		memset(&sink, 0, sizeof(sink));
		leg = rtp_leg_new(base, &cfg, "io-rx", &cbs, &sink);
		CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
		rtp_io_get_stats(&before);
		CU_ASSERT_TRUE(before.rx_active);
		port = rtp_leg_port(leg);
		addr_from_ip(&leg_addr, "127.0.0.1", port);
		loops = rx_burst(base, b, &leg_addr, &sink, burst);
		CU_ASSERT_EQUAL(sink.n, burst);
		for (unsigned int i = 0; i < burst && i < sink.n; i++)
			CU_ASSERT_EQUAL(sink.seq[i], (uint16_t)i);
		rtp_io_get_stats(&after);
		CU_ASSERT_EQUAL(after.rx_packets - before.rx_packets, burst);
		CU_ASSERT(after.wakeups - before.wakeups < burst / 10);
		CU_ASSERT(loops < 200);
		if (round == 0) {
			CU_ASSERT_EQUAL(after.rx_nobufs, before.rx_nobufs);
		} else {
			CU_ASSERT(after.rx_nobufs > before.rx_nobufs);
			CU_ASSERT(after.rx_arms > before.rx_arms);
		}
		rtp_leg_stats(leg, &st);
		CU_ASSERT_EQUAL(st.rx_packets, (unsigned long)burst);
		CU_ASSERT_EQUAL(st.rx_bad, 0);
		/* the source the ring reported is the one the latch took */
		dst = rtp_leg_dest(leg);
		CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
		CU_ASSERT_TRUE(addr_eq(dst, &b_addr));

		/* freed: the receive is cancelled and the port free at once */
		rtp_leg_free(leg);
		s2 = socket(AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_FATAL(s2 != -1);
		CU_ASSERT_EQUAL(bind(s2, &leg_addr.u.sa, leg_addr.len), 0);
		close(s2);
		rtp_io_get_stats(&after);
		CU_ASSERT_FALSE(after.active);
	}
	rtp_io_set_rx_buffers(0);
	close(b);
	event_base_free(base);
}

/* The reap's pipeline: while one datagram is handled, the owners of the
 * next ones are hinted (cbs.prefetch stages 0, 1, 2); legs freed from a
 * callback while their datagrams wait in the same reap are neither read
 * (ASan) nor hinted nor delivered to, and the others get every packet. */
#define AHEAD_LEGS 6
#define AHEAD_ROUNDS 4
#define AHEAD_FREED 3
struct ahead_owner {
	struct rtp_leg **legs;          /* all of them; freed ones set NULL */
	struct ahead_owner *all;
	bool freed;
	unsigned int media;
	unsigned int stage_calls[3];
	unsigned int after_free;        /* hints or packets once its leg was freed */
	unsigned int bad_stage;         /* stages beyond 2 */
};
static unsigned int ahead_freed;
static bool ahead_freeing;

static void
on_ahead_prefetch(void *owner, unsigned int stage)
{
	struct ahead_owner *o = owner;

	if (o->freed && o->legs[o - o->all] == NULL)
		o->after_free++;
	if (stage > 2)
		o->bad_stage++;
	else
		o->stage_calls[stage]++;
}

static void
on_ahead_media(void *owner, const struct rtp_hdr *h)
{
	struct ahead_owner *o = owner;

	(void)h;
	if (o->freed && o->legs[o - o->all] == NULL)
		o->after_free++;
	if (o->media++ > 0 || ahead_freeing)
		return;
	/* the first packet: legs that have had none yet go, theirs queued
	 * (freeing reaps again: packets of others come in nested callbacks) */
	ahead_freeing = true;
	for (int i = 0; i < AHEAD_LEGS && ahead_freed < AHEAD_FREED; i++) {
		struct ahead_owner *x = &o->all[i];

		if (x != o && x->media == 0) {
			x->freed = true;
			ahead_freed++;
		}
	}
	for (int i = 0; i < AHEAD_LEGS; i++) {
		if (o->all[i].freed) {
			rtp_leg_free(o->legs[i]);
			o->legs[i] = NULL;
		}
	}
}

static void
test_io_rx_ahead(void)
{
	struct event_base *base = event_base_new();
	struct rtp_leg_cbs cbs = {.media = on_ahead_media, .prefetch = on_ahead_prefetch};
	struct ahead_owner own[AHEAD_LEGS];
	struct rtp_leg *legs[AHEAD_LEGS];
	struct addr b_addr, to[AHEAD_LEGS];
	struct cfg_rtp cfg;
	uint8_t pkt[172];
	unsigned int want = (AHEAD_LEGS - AHEAD_FREED) * AHEAD_ROUNDS, got = 0, hints[3] = {0};
	unsigned int freed_media = 0;
	int b, loops = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	cfg.io = CFG_RTP_IO_URING;
	b = udp_socket("127.0.0.2", &b_addr);
	CU_ASSERT_FATAL(b != -1);
	memset(own, 0, sizeof(own));
	ahead_freed = 0;
	ahead_freeing = false;
	for (int i = 0; i < AHEAD_LEGS; i++) {
		own[i].legs = legs;
		own[i].all = own;
		legs[i] = rtp_leg_new(base, &cfg, "io-ahead", &cbs, &own[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(legs[i]);
		addr_from_ip(&to[i], "127.0.0.1", rtp_leg_port(legs[i]));
	}
	/* all queued before the loop runs: one reap sees them together */
	memset(pkt, 0xd5, sizeof(pkt));
	mkpkt(pkt, 2, 0, 0, 0, 0, 8);
	for (int r = 0; r < AHEAD_ROUNDS; r++) {
		for (int i = 0; i < AHEAD_LEGS; i++) {
			pkt[3] = (uint8_t)r;
			CU_ASSERT_EQUAL(sendto(b, pkt, sizeof(pkt), 0, &to[i].u.sa, to[i].len),
			    (ssize_t)sizeof(pkt));
		}
	}
	usleep(20000);
	while (got < want && loops < 200) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		got = 0;
		for (int i = 0; i < AHEAD_LEGS; i++)
			got += own[i].freed ? 0 : own[i].media;
		if (got < want)
			usleep(1000);
		loops++;
	}
	/* a few more rounds of the loop: nothing may come for the freed */
	for (int i = 0; i < 5; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	CU_ASSERT_EQUAL(ahead_freed, AHEAD_FREED);
	CU_ASSERT_EQUAL(got, want);
	for (int i = 0; i < AHEAD_LEGS; i++) {
		CU_ASSERT_EQUAL(own[i].after_free, 0);
		CU_ASSERT_EQUAL(own[i].bad_stage, 0);
		if (own[i].freed) {
			CU_ASSERT_PTR_NULL(legs[i]);
			freed_media += own[i].media;
		} else {
			CU_ASSERT_EQUAL(own[i].media, AHEAD_ROUNDS);
		}
		for (int k = 0; k < 3; k++)
			hints[k] += own[i].stage_calls[k];
	}
	/* the first freed had none before its free, and none after */
	CU_ASSERT(freed_media <= (AHEAD_FREED - 1) * AHEAD_ROUNDS);
	/* the surviving legs' packets came behind others: every stage ran */
	for (int k = 0; k < 3; k++)
		CU_ASSERT(hints[k] > 0);
	for (int i = 0; i < AHEAD_LEGS; i++)
		rtp_leg_free(legs[i]);
	close(b);
	event_base_free(base);
}

/* A leg receiving through the ring (on-change, so that any source is
 * taken), its receive already with the kernel, and a peer socket on
 * 127.0.0.2 to send to it from. */
static struct rtp_leg *
io_rx_leg(struct event_base *base, const char *name, struct burst_sink *sink, int *peer,
          struct addr *leg_addr)
{
	static const struct rtp_leg_cbs cbs = {.media = on_burst_media, .timeout = NULL};
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct addr b_addr;

	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	cfg.io = CFG_RTP_IO_URING;
	memset(sink, 0, sizeof(*sink));
	if ((leg = rtp_leg_new(base, &cfg, name, &cbs, sink)) == NULL)
		return NULL;
	/* the receive goes to the kernel with the loop's first flush, as in
	 * the daemon long before a call's first tick */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	addr_from_ip(leg_addr, "127.0.0.1", rtp_leg_port(leg));
	if ((*peer = udp_socket("127.0.0.2", &b_addr)) == -1) {
		rtp_leg_free(leg);
		return NULL;
	}
	return leg;
}

/* Send pkt from peer to the leg, wait wait_us with no loop iteration,
 * then drain as a tick would: the time of the send in *sent, the drain's
 * time returned. */
static uint64_t
send_then_drain(struct rtp_leg *leg, int peer, const struct addr *to, const uint8_t *pkt,
                size_t len, unsigned int wait_us, uint64_t *sent)
{
	uint64_t now;

	*sent = mono_us();
	CU_ASSERT_EQUAL(sendto(peer, pkt, len, 0, &to->u.sa, to->len), (ssize_t)len);
	usleep(wait_us);
	now = mono_us();
	rtp_leg_drain(leg, now);
	return now;
}

/* rtp_leg_drain (a span's tick, before it takes a frame out of the
 * buffers) hands over what the ring has received without the loop, and
 * looks at most every 0.2 ms. */
static void
test_io_rx_drain(void)
{
	struct event_base *base = event_base_new();
	struct burst_sink sink;
	struct rtp_io_stats before, after;
	struct rtp_leg *leg;
	struct addr leg_addr;
	uint8_t pkt[172];
	uint64_t now, sent;
	int b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	leg = io_rx_leg(base, "io-drain", &sink, &b, &leg_addr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	memset(pkt, 0xd5, sizeof(pkt));
	mkpkt(pkt, 2, 0, 0, 0, 0, 8);
	rtp_io_get_stats(&before);
	for (int i = 0; i < 2; i++) {
		pkt[3] = (uint8_t)i;
		now = send_then_drain(leg, b, &leg_addr, pkt, sizeof(pkt), 2000, &sent);
		CU_ASSERT_EQUAL(sink.n, (unsigned int)i + 1);
		/* again within 0.2 ms: does not look */
		CU_ASSERT_EQUAL(sendto(b, pkt, sizeof(pkt), 0, &leg_addr.u.sa, leg_addr.len),
		    (ssize_t)sizeof(pkt));
		usleep(2000);
		rtp_leg_drain(leg, now + 100);
		CU_ASSERT_EQUAL(sink.n, (unsigned int)i + 1);
		/* the loop takes the duplicate (counted by the sink): woken by
		 * it, or the hold timer (the loop's clock: a few ms) */
		for (int k = 0; k < 100 && sink.n < (unsigned int)i + 2; k++) {
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
			if (sink.n < (unsigned int)i + 2)
				usleep(1000);
		}
		CU_ASSERT_EQUAL(sink.n, (unsigned int)i + 2);
		sink.n = (unsigned int)i + 1;
	}
	rtp_io_get_stats(&after);
	CU_ASSERT_EQUAL(after.drains - before.drains, 2);
	close(b);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* A datagram read a little late (4 ms after it came, as one can wait for a
 * tick's drain or the hold timer) carries the time it arrived: the
 * kernel's timestamp on the monotonic clock, not the time it was read.
 * One read 30 ms late (the daemon behind) carries the time it was read,
 * so that the jitter buffer grows by the lag. */
static void
test_io_rx_arrival(void)
{
	struct event_base *base = event_base_new();
	struct burst_sink sink;
	struct rtp_leg *leg;
	struct addr leg_addr;
	uint8_t pkt[172];
	uint64_t sent, read_at;
	int b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	leg = io_rx_leg(base, "io-arrival", &sink, &b, &leg_addr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	memset(pkt, 0xd5, sizeof(pkt));
	mkpkt(pkt, 2, 0, 0, 0, 0, 8);
	read_at = send_then_drain(leg, b, &leg_addr, pkt, sizeof(pkt), 4000, &sent);
	CU_ASSERT_EQUAL_FATAL(sink.n, 1);
	CU_ASSERT(sink.first_us >= sent);
	CU_ASSERT(sink.first_us < sent + 2000);
	CU_ASSERT(sink.first_us + 3000 <= read_at);

	pkt[3] = 1;
	read_at = send_then_drain(leg, b, &leg_addr, pkt, sizeof(pkt), 30000, &sent);
	CU_ASSERT_EQUAL_FATAL(sink.n, 2);
	CU_ASSERT(sink.last_us >= read_at);
	CU_ASSERT(sink.last_us < read_at + 5000);
	close(b);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* Arrivals do not wake the loop: a wakeup by the eventfd switches it off
 * for the hold time, and while drains (the ticks) come more often than
 * that, they alone take the datagrams in; with no drain, the hold timer
 * does within about a millisecond and switches the eventfd on again. */
static void
test_io_rx_hold(void)
{
	struct event_base *base = event_base_new();
	struct burst_sink sink;
	struct rtp_io_stats before, after;
	struct rtp_leg *leg;
	struct addr leg_addr;
	uint8_t pkt[172];
	unsigned int sent = 0, long_gaps = 0;
	uint64_t t0;
	size_t n;
	int b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	leg = io_rx_leg(base, "io-hold", &sink, &b, &leg_addr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(leg);
	rtp_io_get_stats(&before);
	CU_ASSERT_TRUE_FATAL(before.defer);

	/* 200 datagrams, a drain every 0.3 ms, the loop run between them.
	 * A gap between two drains that a busy machine stretched past the
	 * hold time (1 ms) may let the hold switch the eventfd on once, and
	 * the next datagram wake the loop: counted, and allowed for. */
	t0 = mono_us();
	for (int i = 0; i < 200; i++) {
		uint64_t t;

		n = rtp_pkt(pkt, 8, (uint16_t)i, 160u * (unsigned int)i, 0xc, "held");
		if (sendto(b, pkt, n, 0, &leg_addr.u.sa, leg_addr.len) == (ssize_t)n)
			sent++;
		usleep(300);
		t = mono_us();
		if (t - t0 >= 900)
			long_gaps++;
		t0 = t;
		rtp_leg_drain(leg, t);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	CU_ASSERT_EQUAL(sent, 200);
	CU_ASSERT_EQUAL(sink.n, sent);
	rtp_io_get_stats(&after);
	CU_ASSERT(long_gaps < 20);
	CU_ASSERT(after.wakeups - before.wakeups <= 2 + long_gaps);
	CU_ASSERT(after.drains - before.drains >= 100);
	CU_ASSERT(after.holds - before.holds <= long_gaps);

	/* no more drains: the hold timer takes the next one in */
	before = after;
	n = rtp_pkt(pkt, 8, 200, 160u * 200, 0xc, "held");
	CU_ASSERT_EQUAL(sendto(b, pkt, n, 0, &leg_addr.u.sa, leg_addr.len), (ssize_t)n);
	t0 = mono_us();
	for (int i = 0; i < 50 && sink.n < sent + 1; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CU_ASSERT_EQUAL(sink.n, sent + 1);
	CU_ASSERT(mono_us() - t0 < 20000);
	rtp_io_get_stats(&after);
	CU_ASSERT(after.holds > before.holds);
	/* and the eventfd is on again: the next datagram wakes the loop */
	usleep(5000);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	before = after;
	n = rtp_pkt(pkt, 8, 201, 160u * 201, 0xc, "held");
	CU_ASSERT_EQUAL(sendto(b, pkt, n, 0, &leg_addr.u.sa, leg_addr.len), (ssize_t)n);
	for (int i = 0; i < 50 && sink.n < sent + 2; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CU_ASSERT_EQUAL(sink.n, sent + 2);
	rtp_io_get_stats(&after);
	CU_ASSERT(after.wakeups > before.wakeups);
	close(b);
	rtp_leg_free(leg);
	event_base_free(base);
}

/* io = auto where io_uring cannot be set up (here a seccomp filter makes
 * io_uring_setup fail, as a container's would): the leg falls back to
 * sendto, once counted, and its frames leave at once. In a child process,
 * which keeps the filter. */
static int
io_fallback_child(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct event_base *base;
	struct rtp_io_stats before, after;
	struct cfg_rtp cfg;
	struct rtp_leg *leg;
	struct addr r_addr;
	uint8_t frame[160], rx[512];
	int r, rc = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return 10;
	if ((base = event_base_new()) == NULL || (r = udp_socket("127.0.0.1", &r_addr)) == -1)
		return 11;
	rtp_io_reset();
	rtp_io_get_stats(&before);
	leg_cfg(&cfg, CFG_LATCH_ON_CHANGE);
	cfg.io = CFG_RTP_IO_AUTO;
	if ((leg = rtp_leg_new(base, &cfg, "io-fallback", NULL, NULL)) == NULL)
		return 12;
	rtp_io_get_stats(&after);
	if (rtp_leg_io_mode(leg) != CFG_RTP_IO_SYSCALLS)
		rc = 13;
	else if (after.fallbacks != before.fallbacks + 1 || after.active)
		rc = 14;
	rtp_leg_set_remote(leg, &r_addr, 8);
	memset(frame, 0xd5, sizeof(frame));
	if (rc == 0 && (rtp_leg_send(leg, frame, sizeof(frame)) != 0 ||
	    recv(r, rx, sizeof(rx), MSG_DONTWAIT) != 172))
		rc = 15;
	rtp_leg_free(leg);
	close(r);
	event_base_free(base);
	return rc;
}

static void
test_io_fallback(void)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid != -1);
	if (pid == 0)
		_exit(io_fallback_child());
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
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
	CU_add_test(s, "io: receives through the ring: bursts whole, buffers run out, cancel",
	            test_io_rx_ring);
	CU_add_test(s, "io: receives hint the next packets' owners; a leg freed behind is not read",
	    test_io_rx_ahead);
	CU_add_test(s, "io: a tick's drain takes what arrived, at most every 0.2 ms",
	            test_io_rx_drain);
	CU_add_test(s, "io: a datagram read late carries the time it arrived", test_io_rx_arrival);
	CU_add_test(s, "io: arrivals wait for the ticks' drains, the hold timer without them",
	    test_io_rx_hold);
	CU_add_test(s, "parse: CSRCs and extension", test_parse_csrc_ext);
	CU_add_test(s, "parse: padding", test_parse_padding);
	CU_add_test(s, "parse: truncated and wrong version", test_parse_bad);
	CU_add_test(s, "latch: off mode ignores the source", test_latch_off);
	CU_add_test(s, "latch: no RTP yet, send to SDP (every mode)", test_latch_no_rtp_yet);
	CU_add_test(s, "latch: on-change/recent/window first packet, NAT, rebinding",
	    test_latch_follow);
	CU_add_test(s, "latch: asymmetric non-NAT peer keeps its SDP port (every mode)",
	    test_latch_asymmetric);
	CU_add_test(s, "latch: IPv6", test_latch_ipv6);
	CU_add_test(s, "latch: window expiry and fallback to SDP", test_latch_window);
	CU_add_test(s, "latch: strict call start, attacker never learned, NAT via SIP IP",
	    test_latch_strict_start);
	CU_add_test(s, "latch: strict probation success and failure", test_latch_strict_probation);
	CU_add_test(s, "latch: strict NAT rebinding, new IP only when signalled",
	    test_latch_strict_rebind);
	CU_add_test(s, "latch: strict mid-call attacker from the NAT IP",
	    test_latch_strict_attacker_nat_ip);
	CU_add_test(s, "latch: strict SSRC change", test_latch_strict_ssrc_change);
	CU_add_test(s, "latch: mode override keeps what was learned", test_latch_set_mode);
	CU_add_test(s, "latch: RTCP destination and acceptance", test_latch_rtcp_dest);
	CU_add_test(s, "rxstat: sequence wrap, loss, fraction, duplicates", test_rxstat_wrap_loss);
	CU_add_test(s, "rxstat: sequence jumps and restarts", test_rxstat_jump);
	CU_add_test(s, "rxstat: interarrival jitter, timestamp jumps", test_rxstat_jitter);
	CU_add_test(s, "rtcp: RFC 5761 demultiplexing", test_rtcp_is_rtcp);
	CU_add_test(s, "rtcp: SR/RR build and parse round trip", test_rtcp_roundtrip);
	CU_add_test(s, "rtcp: malformed compound packets", test_rtcp_malformed);
	CU_add_test(s, "rtcp: round trip time from LSR/DLSR", test_rtcp_rtt);
	CU_add_test(s, "rtcp: report interval", test_rtcp_interval);
	CU_add_test(s, "leg: loopback exchange, bad datagram, latch", test_leg_loopback);
	CU_add_test(s, "leg: port range exhausted", test_leg_no_port);
	CU_add_test(s, "leg: batched reads, bounded per wakeup, one read time", test_leg_batch_read);
	CU_add_test(s, "log: rate limiter per second", test_log_ratelimit);
	CU_add_test(s, "leg: strict, attacker at call start, probation", test_leg_strict);
	CU_add_test(s, "leg: RTCP mux and port + 1, SR, RTT, bad and refused", test_leg_rtcp);
	CU_add_test(s, "leg: media timeout and hold timeout", test_leg_timeout);
	CU_add_test(s, "leg: raw (RFC 4733) packets share SSRC and sequence", test_leg_send_raw);
	CU_add_test(s, "leg: address family choice (address, address6)", test_address_for);
	CU_add_test(s, "leg: bound to address6 (::1), strict latch over IPv6", test_leg_ipv6);
	CU_add_test(s, "io: a tick's sends queued, one submit, all delivered in order",
	    test_io_batch_order);
	CU_add_test(s, "io: send errors counted (io_uring and sendto)", test_io_errors);
	CU_add_test(s, "io: connected sends, the peer's packets and others' both received",
	    test_leg_connected);
	CU_add_test(s, "io: sends complete silently, slots free after each submission",
	            test_io_skip_slots);
	CU_add_test(s, "io: io = syscalls sends at once without a ring", test_io_syscalls);
	CU_add_test(s, "io: auto falls back to sendto when io_uring is refused (seccomp)",
	    test_io_fallback);
	CU_add_test(s, "leg: strict rebinding loses nothing, failed probations drop",
	    test_leg_strict_rebind_hold);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
