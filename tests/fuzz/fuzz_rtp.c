/* libFuzzer target: RTP and RTCP packets from the network (rtp_parse,
 * rtcp_is_rtcp, rtcp_parse, and the round trip time of each report block).
 * The input is one datagram, copied to an exact-size buffer so that a read
 * past its end is caught by ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_hdr h;
	struct rtcp_report r;
	uint8_t *pkt = malloc(size > 0 ? size : 1);

	if (pkt == NULL)
		return 0;
	memcpy(pkt, data, size);
	if (rtp_parse(pkt, size, &h) == 0) {
		/* the payload lies inside the packet */
		if (h.payload < pkt || h.payload + h.payload_len > pkt + size)
			abort();
		if (h.payload_len > 0 && h.payload[h.payload_len - 1] == 0xff)
			h.pt ^= 1;      /* touch the last payload byte */
	}
	if (rtcp_is_rtcp(pkt, size) && rtcp_parse(pkt, size, &r) == 0) {
		if (r.n_blocks > RTCP_MAX_BLOCKS)
			abort();
		for (size_t i = 0; i < r.n_blocks; i++)
			(void)rtcp_rtt_ms(&r.blocks[i], r.ntp);
	}
	/* rtcp_parse is also called on whatever arrives on the RTCP port */
	(void)rtcp_parse(pkt, size, &r);
	free(pkt);
	return 0;
}
