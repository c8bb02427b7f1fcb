/* RTCP (RFC 3550 section 6): compound packet validation and parsing, SR/RR
 * building, round trip time, report interval. Pure: times and random
 * numbers are passed in. Every length is checked before the bytes it
 * covers are read. */
#include "rtp/rtp.h"

#include <errno.h>
#include <string.h>

#define RTCP_HDR_LEN 4
#define RTCP_SR_INFO_LEN 20     /* NTP, RTP timestamp, packets, octets */
#define RTCP_BLOCK_LEN 24
#define RTCP_NTP_UNIX_OFFSET 2208988800ULL  /* seconds 1900 -> 1970 */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

bool
rtcp_is_rtcp(const uint8_t *pkt, size_t len)
{
	return len >= 2 && pkt[1] >= 192 && pkt[1] <= 223;
}

static void
rtcp_block_read(const uint8_t *p, struct rtcp_block *b)
{
	uint32_t lost = ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];

	b->ssrc = get32(p);
	b->fraction = p[4];
	/* sign-extend the 24-bit count */
	b->lost = (lost & 0x800000) ? (int32_t)(lost | 0xff000000) : (int32_t)lost;
	b->ext_max = get32(p + 8);
	b->jitter = get32(p + 12);
	b->lsr = get32(p + 16);
	b->dlsr = get32(p + 20);
}

static void
rtcp_blocks_read(const uint8_t *p, unsigned int rc, struct rtcp_report *out)
{
	for (unsigned int i = 0; i < rc && out->n_blocks < RTCP_MAX_BLOCKS; i++)
		rtcp_block_read(p + i * RTCP_BLOCK_LEN, &out->blocks[out->n_blocks++]);
}

int
rtcp_parse(const uint8_t *pkt, size_t len, struct rtcp_report *out)
{
	size_t off = 0;
	bool first = true;

	memset(out, 0, sizeof(*out));
	if (pkt == NULL || len < RTCP_HDR_LEN || len % 4 != 0)
		return EINVAL;
	while (off < len) {
		const uint8_t *p = pkt + off;
		size_t plen, body, need;
		unsigned int rc, pt;

		if (len - off < RTCP_HDR_LEN)
			return EINVAL;
		if ((p[0] >> 6) != 2)
			return EINVAL;
		rc = p[0] & 0x1f;
		pt = p[1];
		plen = ((size_t)get16(p + 2) + 1) * 4;
		if (plen > len - off)
			return EINVAL;
		/* padding only in the last packet of the compound */
		if ((p[0] & 0x20) && off + plen != len)
			return EINVAL;
		if (first && pt != RTCP_SR && pt != RTCP_RR)
			return EINVAL;
		body = plen - RTCP_HDR_LEN;
		switch (pt) {
		case RTCP_SR:
			need = 4 + RTCP_SR_INFO_LEN + (size_t)rc * RTCP_BLOCK_LEN;
			if (body < need)
				return EINVAL;
			if (first) {
				out->ssrc = get32(p + 4);
				out->sr = true;
				out->ntp = ((uint64_t)get32(p + 8) << 32) | get32(p + 12);
				out->rtp_ts = get32(p + 16);
				out->packets = get32(p + 20);
				out->octets = get32(p + 24);
				rtcp_blocks_read(p + 28, rc, out);
			}
			break;
		case RTCP_RR:
			need = 4 + (size_t)rc * RTCP_BLOCK_LEN;
			if (body < need)
				return EINVAL;
			if (first)
				out->ssrc = get32(p + 4);
			/* further RRs of the same sender carry more blocks */
			if (first || get32(p + 4) == out->ssrc)
				rtcp_blocks_read(p + 8, rc, out);
			break;
		case RTCP_BYE:
			if (body < (size_t)rc * 4)
				return EINVAL;
			out->bye = true;
			break;
		case RTCP_SDES:
		case RTCP_APP:
		default:
			/* skipped; its length was checked above */
			break;
		}
		first = false;
		off += plen;
	}
	return 0;
}

int
rtcp_build(uint8_t *buf, size_t cap, const struct rtcp_report *r, const char *cname, size_t *len)
{
	size_t cl = cname ? strlen(cname) : 0;
	size_t first_len, sdes_len, off;
	unsigned int n = r->n_blocks > RTCP_MAX_BLOCKS ? RTCP_MAX_BLOCKS : r->n_blocks;

	if (cl > 255)
		cl = 255;
	first_len = 8 + (r->sr ? RTCP_SR_INFO_LEN : 0) + (size_t)n * RTCP_BLOCK_LEN;
	/* SDES: header, SSRC, CNAME item (type, length, text), END, padded */
	sdes_len = (8 + 2 + cl + 1 + 3) & ~(size_t)3;
	if (first_len + sdes_len > cap)
		return ENOSPC;
	memset(buf, 0, first_len + sdes_len);
	buf[0] = (uint8_t)(0x80 | n);
	buf[1] = r->sr ? RTCP_SR : RTCP_RR;
	put16(buf + 2, (uint16_t)(first_len / 4 - 1));
	put32(buf + 4, r->ssrc);
	off = 8;
	if (r->sr) {
		put32(buf + 8, (uint32_t)(r->ntp >> 32));
		put32(buf + 12, (uint32_t)r->ntp);
		put32(buf + 16, r->rtp_ts);
		put32(buf + 20, r->packets);
		put32(buf + 24, r->octets);
		off = 28;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct rtcp_block *b = &r->blocks[i];
		uint32_t lost = (uint32_t)b->lost & 0xffffff;
		uint8_t *p = buf + off;

		put32(p, b->ssrc);
		p[4] = b->fraction;
		p[5] = (uint8_t)(lost >> 16);
		p[6] = (uint8_t)(lost >> 8);
		p[7] = (uint8_t)lost;
		put32(p + 8, b->ext_max);
		put32(p + 12, b->jitter);
		put32(p + 16, b->lsr);
		put32(p + 20, b->dlsr);
		off += RTCP_BLOCK_LEN;
	}
	buf[off] = 0x81;
	buf[off + 1] = RTCP_SDES;
	put16(buf + off + 2, (uint16_t)(sdes_len / 4 - 1));
	put32(buf + off + 4, r->ssrc);
	buf[off + 8] = 1;       /* CNAME */
	buf[off + 9] = (uint8_t)cl;
	if (cl)
		memcpy(buf + off + 10, cname, cl);
	/* the END item and the padding are the zeroes left */
	*len = first_len + sdes_len;
	return 0;
}

uint64_t
rtcp_ntp_from_unix_ms(uint64_t unix_ms)
{
	uint64_t sec = unix_ms / 1000 + RTCP_NTP_UNIX_OFFSET;
	uint64_t frac = ((unix_ms % 1000) << 32) / 1000;

	return (sec << 32) | frac;
}

uint32_t
rtcp_ntp_mid(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

int
rtcp_rtt_ms(const struct rtcp_block *b, uint64_t arrival)
{
	uint32_t a = rtcp_ntp_mid(arrival);
	uint32_t rtt;

	if (b->lsr == 0)
		return -1;
	rtt = a - b->lsr - b->dlsr;     /* 1/65536 s, modulo 2^32 */
	/* a round trip longer than a minute is a confused peer */
	if (rtt > 60u * 65536u)
		return -1;
	return (int)(((uint64_t)rtt * 1000 + 32768) / 65536);
}

uint64_t
rtcp_interval_ms(unsigned int members, unsigned int senders, bool we_sent, double avg_size,
                 double bw, bool initial, double rand01)
{
	const double e_comp = 2.71828182845904523536 - 1.5;
	double tmin = initial ? 2.5 : 5.0;
	double n = members ? members : 1;
	double t;

	if (bw <= 0)
		bw = 1;
	/* senders get a quarter of the bandwidth when they are few */
	if (senders > 0 && senders <= members / 4.0) {
		if (we_sent) {
			bw *= 0.25;
			n = senders;
		} else {
			bw *= 0.75;
			n = members - senders;
		}
	}
	t = avg_size * n / bw;
	if (t < tmin)
		t = tmin;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	t = t * (rand01 + 0.5) / e_comp;
	return (uint64_t)(t * 1000.0);
}
