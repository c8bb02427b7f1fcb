/* The RTP leg of a call: one UDP socket from the configured range, used both
 * to receive and to send (symmetric RTP), with NAT-aware address learning. */
#ifndef PB_RTP_RTP_H
#define PB_RTP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"
#include "core/addr.h"

struct event_base;
struct rtp_leg;

/* A parsed RTP header (RFC 3550). */
struct rtp_hdr {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	const uint8_t *payload;     /* into the packet */
	size_t payload_len;
};
/* 0, or EINVAL for a packet that is not RTP v2 or shorter than its header
 * (CSRCs, extension and padding are accounted for). */
int rtp_parse(const uint8_t *pkt, size_t len, struct rtp_hdr *out);

/* Address learning, kept pure so tests drive it with injected packets. */
struct rtp_latch {
	enum cfg_latch_mode mode;
	struct addr sdp;            /* where the peer said it receives */
	struct addr learned;        /* the source of inbound RTP, if any */
	bool have_learned;
	bool nat;                   /* the learned source differs from sdp */
	unsigned int relatches;
};
void rtp_latch_init(struct rtp_latch *l, enum cfg_latch_mode mode, const struct addr *sdp);
/* The peer signalled a new address (re-INVITE); what was learned stays.
 * sdp may be NULL. */
void rtp_latch_set_sdp(struct rtp_latch *l, const struct addr *sdp);
/* A packet arrived from src. Returns true when the learned address changed
 * (the caller logs it). */
bool rtp_latch_on_packet(struct rtp_latch *l, const struct addr *src);
/* Where to send now: the learned source when it differs in IP from the
 * signalled address (NAT), else the signalled address. NULL when there is
 * nowhere to send yet. */
const struct addr *rtp_latch_dest(const struct rtp_latch *l);

struct rtp_leg_cbs {
	/* An accepted inbound RTP packet's payload. */
	void (*media)(void *owner, const struct rtp_hdr *h);
};

/* Bind a socket from cfg's port range on cfg->address. NULL on failure
 * (no free port, or out of memory). */
struct rtp_leg *rtp_leg_new(struct event_base *base, const struct cfg_rtp *cfg,
                            const char *callid, const struct rtp_leg_cbs *cbs, void *owner);
void rtp_leg_free(struct rtp_leg *leg);
unsigned int rtp_leg_port(const struct rtp_leg *leg);
/* The remote description: where to send until RTP arrives, and the
 * payload type to send with. */
void rtp_leg_set_remote(struct rtp_leg *leg, const struct addr *sdp_addr, int pt);
/* Send one frame of payload (G.711: 160 bytes = 160 timestamp units). */
int rtp_leg_send(struct rtp_leg *leg, const uint8_t *payload, size_t len);
const struct rtp_latch *rtp_leg_latch(const struct rtp_leg *leg);

struct rtp_stats {
	unsigned long rx_packets, tx_packets, rx_bad, rx_rejected;
};
void rtp_leg_stats(const struct rtp_leg *leg, struct rtp_stats *out);

#endif
