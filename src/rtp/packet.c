/* RTP fixed header parsing (RFC 3550 section 5.1). Every length is checked
 * before the bytes it covers are read. */
#include "rtp/rtp.h"

#include <errno.h>
#include <string.h>

#define RTP_HDR_LEN 12

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

int
rtp_parse(const uint8_t *pkt, size_t len, struct rtp_hdr *out)
{
	size_t off, end, cc, pad = 0;

	memset(out, 0, sizeof(*out));
	if (!pkt || len < RTP_HDR_LEN)
		return EINVAL;
	if ((pkt[0] >> 6) != 2)
		return EINVAL;
	cc = pkt[0] & 0x0f;
	off = RTP_HDR_LEN + 4 * cc;
	if (off > len)
		return EINVAL;
	if (pkt[0] & 0x10) {
		/* extension: 16-bit profile field, 16-bit length in words */
		if (off + 4 > len)
			return EINVAL;
		off += 4 + 4 * (size_t)get16(pkt + off + 2);
		if (off > len)
			return EINVAL;
	}
	end = len;
	if (pkt[0] & 0x20) {
		/* the last octet counts the padding, itself included */
		pad = pkt[len - 1];
		if (pad == 0 || pad > end - off)
			return EINVAL;
		end -= pad;
	}
	out->marker = (pkt[1] & 0x80) != 0;
	out->pt = pkt[1] & 0x7f;
	out->seq = get16(pkt + 2);
	out->ts = get32(pkt + 4);
	out->ssrc = get32(pkt + 8);
	out->payload = pkt + off;
	out->payload_len = end - off;
	return 0;
}
