/* libFuzzer target: a stream of RTP/RTCP datagrams through the receive
 * pipeline of a call, with the time under the input's control: rtp_parse,
 * the latch (strict mode, the most rules), the receive statistics, the
 * jitter buffer (audio) or the RFC 4733 decoder (telephone-event 101), and
 * the span's 20 ms ticks that pull audio out of both; RTCP by rtcp_parse
 * and the latch's RTCP check.
 *
 * The input is records: 1 byte of milliseconds since the previous packet,
 * 1 byte choosing the source (low 2 bits: one of four addresses, next bit:
 * the RTCP port), 2 bytes of length (big-endian), then the datagram. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "media/dtmf.h"
#include "media/jb.h"
#include "rtp/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PKT 1500

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *ips[4] = { "192.0.2.10", "192.0.2.10", "198.51.100.7", "203.0.113.9" };
	static const unsigned int ports[4] = { 4000, 4002, 4000, 31000 };
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_dtmf_in *din = media_dtmf_in_new(CFG_LAW_ALAW);
	struct rtp_latch latch;
	struct rtp_rxstat rx;
	struct addr sdp, sig, src;
	uint8_t frame[MEDIA_FRAME];
	uint64_t now = 1000000, next_tick = now;   /* ms */
	size_t off = 0;

	if (jb == NULL || din == NULL)
		goto out;
	memset(&rx, 0, sizeof(rx));
	addr_from_ip(&sdp, "192.0.2.10", 4000);
	addr_from_ip(&sig, "192.0.2.10", 5060);
	rtp_latch_init(&latch, CFG_LATCH_STRICT, &sdp);
	rtp_latch_set_signal(&latch, &sig);
	while (size - off >= 4) {
		size_t len = ((size_t)data[off + 2] << 8) | data[off + 3];
		unsigned int sel = data[off + 1];
		uint8_t *pkt;
		struct rtp_hdr h;

		now += data[off];
		off += 4;
		if (len > size - off)
			len = size - off;
		if (len > MAX_PKT)
			len = MAX_PKT;
		/* an exact-size copy: a read past the end is caught */
		if ((pkt = malloc(len > 0 ? len : 1)) == NULL)
			break;
		memcpy(pkt, data + off, len);
		off += len;
		addr_from_ip(&src, ips[sel & 3], ports[sel & 3] + ((sel & 4) ? 1 : 0));

		/* the span's ticks up to now */
		for (int n = 0; next_tick <= now && n < 500; n++, next_tick += 20) {
			media_jb_get(jb, frame, next_tick * 1000);
			(void)media_dtmf_in_frame(din, frame);
		}
		if (next_tick <= now)
			next_tick = now;

		if (rtcp_is_rtcp(pkt, len)) {
			struct rtcp_report r;
			if (rtcp_parse(pkt, len, &r) == 0)
				(void)rtp_latch_rtcp_ok(&latch, &src);
		} else if (rtp_parse(pkt, len, &h) == 0 &&
		    rtp_latch_on_packet(&latch, &src, h.ssrc, h.seq, now) != RTP_LATCH_DROP) {
			if (!rx.init || rx.ssrc != h.ssrc) {
				rtp_rxstat_init(&rx, h.ssrc, h.seq, 8000);
				media_jb_reset(jb);
			}
			(void)rtp_rxstat_update(&rx, h.seq, h.ts, h.pt != 101, now);
			if (h.pt == 101)
				(void)media_dtmf_in_event(din, h.payload, h.payload_len, h.ts);
			else if (h.pt == 8)
				(void)media_jb_put(jb, h.ts, h.payload, h.payload_len, now * 1000);
			(void)rtp_latch_dest_at(&latch, now);
		}
		free(pkt);
	}
	if (rx.init) {
		(void)rtp_rxstat_lost(&rx);
		(void)rtp_rxstat_fraction(&rx);
		(void)rtp_rxstat_jitter_ms(&rx);
	}
out:
	if (jb != NULL)
		media_jb_free(jb);
	if (din != NULL)
		media_dtmf_in_free(din);
	return 0;
}
