/* The RTP leg of a call: one UDP socket, symmetric RTP, address learning
 * through the latch. */
#include "rtp/rtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"

#define RTP_HDR_LEN 12
#define RTP_MAX_PKT 2048
#define RTP_MAX_PAYLOAD (1500 - 28 - RTP_HDR_LEN)
#define RTP_READ_BURST 64

struct rtp_leg {
	struct event_base *base;        /* not owned */
	struct event *ev;               /* owned */
	int fd;                         /* owned */
	unsigned int port;
	char *callid;                   /* owned */
	struct rtp_leg_cbs cbs;
	void *owner;                    /* not owned */

	struct rtp_latch latch;
	int pt;                         /* payload type we send, -1 unset */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	bool sent_first;

	struct rtp_stats stats;
	struct log_ratelimit rl_bad;
};

static void rtp_leg_on_read(evutil_socket_t fd, short what, void *arg);

/* Bind fd to an even port of [port_min, port_max], starting at a random
 * one and trying each once. */
static int
rtp_leg_bind(int fd, struct addr *local, unsigned int port_min, unsigned int port_max,
             unsigned int *port)
{
	unsigned int first, last, n, start;
	int error = EADDRINUSE;

	first = port_min + (port_min & 1);
	last = port_max - (port_max & 1);
	if (port_min == 0 || port_max > 65535 || first > last)
		return EINVAL;
	n = (last - first) / 2 + 1;
	start = arc4random_uniform(n);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int p = first + 2 * ((start + i) % n);

		addr_set_port(local, p);
		if (bind(fd, &local->u.sa, local->len) == 0) {
			*port = p;
			return 0;
		}
		error = errno;
		if (error != EADDRINUSE && error != EACCES)
			return error;
	}
	return error;
}

struct rtp_leg *
rtp_leg_new(struct event_base *base, const struct cfg_rtp *cfg, const char *callid,
            const struct rtp_leg_cbs *cbs, void *owner)
{
	struct rtp_leg *leg;
	struct addr local;
	const char *ip = cfg->address ? cfg->address : "0.0.0.0";
	int error;

	if ((leg = calloc(1, sizeof(*leg))) == NULL) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: out of memory");
		return NULL;
	}
	leg->fd = -1;
	leg->base = base;
	leg->owner = owner;
	leg->pt = -1;
	if (cbs)
		leg->cbs = *cbs;
	if ((leg->callid = strdup(callid ? callid : "-")) == NULL) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: out of memory");
		goto fail;
	}
	if (addr_from_ip(&local, ip, 0) != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: bad bind address %s", ip);
		goto fail;
	}
	leg->fd = socket(local.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (leg->fd == -1) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: socket: %s", strerror(errno));
		goto fail;
	}
	error = rtp_leg_bind(leg->fd, &local, cfg->port_min, cfg->port_max, &leg->port);
	if (error != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: no port in %s:%u-%u: %s", ip,
		         cfg->port_min, cfg->port_max, strerror(error));
		goto fail;
	}
	leg->ev = event_new(base, leg->fd, EV_READ | EV_PERSIST, rtp_leg_on_read, leg);
	if (!leg->ev || event_add(leg->ev, NULL) != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: cannot add read event");
		goto fail;
	}
	rtp_latch_init(&leg->latch, cfg->latch_mode, NULL);
	leg->ssrc = arc4random();
	leg->seq = (uint16_t)arc4random();
	leg->ts = arc4random();
	log_call(LOG_LEVEL_DEBUG, callid, "rtp: bound %s:%u", ip, leg->port);
	return leg;

fail:
	rtp_leg_free(leg);
	return NULL;
}

void
rtp_leg_free(struct rtp_leg *leg)
{
	if (!leg)
		return;
	if (leg->ev)
		event_free(leg->ev);
	if (leg->fd != -1)
		close(leg->fd);
	free(leg->callid);
	free(leg);
}

unsigned int
rtp_leg_port(const struct rtp_leg *leg)
{
	return leg->port;
}

void
rtp_leg_set_remote(struct rtp_leg *leg, const struct addr *sdp_addr, int pt)
{
	rtp_latch_set_sdp(&leg->latch, sdp_addr);
	leg->pt = pt;
}

const struct rtp_latch *
rtp_leg_latch(const struct rtp_leg *leg)
{
	return &leg->latch;
}

void
rtp_leg_stats(const struct rtp_leg *leg, struct rtp_stats *out)
{
	*out = leg->stats;
}

/* RTCP multiplexed on the RTP port (RFC 5761): packet types 192-223 sit
 * where RTP has marker + PT 64-95. */
static bool
rtp_is_rtcp(const uint8_t *pkt, size_t len)
{
	return len >= 2 && pkt[1] >= 192 && pkt[1] <= 223;
}

static void
rtp_leg_input(struct rtp_leg *leg, const uint8_t *pkt, size_t len, const struct addr *src)
{
	char sbuf[ADDR_STRLEN], dbuf[ADDR_STRLEN];
	struct rtp_hdr h;

	if (rtp_parse(pkt, len, &h) != 0) {
		leg->stats.rx_bad++;
		log_limited(&leg->rl_bad, LOG_LEVEL_WARN,
		            "call=%s rtp: dropped short/malformed packet from %s (%zu bytes)",
		            leg->callid, addr_str(src, sbuf, sizeof(sbuf)), len);
		return;
	}
	if (rtp_is_rtcp(pkt, len)) {
		leg->stats.rx_rejected++;
		return;
	}
	leg->stats.rx_packets++;
	if (rtp_latch_on_packet(&leg->latch, src)) {
		log_call(LOG_LEVEL_INFO, leg->callid, "rtp: latched to %s (sdp %s, nat=%s)",
		         addr_str(src, sbuf, sizeof(sbuf)),
		         addr_str(&leg->latch.sdp, dbuf, sizeof(dbuf)),
		         leg->latch.nat ? "yes" : "no");
	}
	if (leg->cbs.media)
		leg->cbs.media(leg->owner, &h);
}

static void
rtp_leg_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_leg *leg = arg;
	uint8_t buf[RTP_MAX_PKT];
	struct addr src;
	ssize_t n;

	for (int i = 0; i < RTP_READ_BURST; i++) {
		memset(&src, 0, sizeof(src));
		src.len = sizeof(src.u);
		n = recvfrom(fd, buf, sizeof(buf), 0, &src.u.sa, &src.len);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			log_limited(&leg->rl_bad, LOG_LEVEL_WARN, "call=%s rtp: recvfrom: %s",
			            leg->callid, strerror(errno));
			break;
		}
		rtp_leg_input(leg, buf, (size_t)n, &src);
	}
}

int
rtp_leg_send(struct rtp_leg *leg, const uint8_t *payload, size_t len)
{
	uint8_t pkt[RTP_HDR_LEN + RTP_MAX_PAYLOAD];
	const struct addr *dst;

	if (len > RTP_MAX_PAYLOAD)
		return EINVAL;
	dst = rtp_latch_dest(&leg->latch);
	if (!dst || leg->pt < 0)
		return 0;       /* nowhere to send yet: drop */
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)((leg->sent_first ? 0 : 0x80) | (leg->pt & 0x7f));
	pkt[2] = (uint8_t)(leg->seq >> 8);
	pkt[3] = (uint8_t)leg->seq;
	pkt[4] = (uint8_t)(leg->ts >> 24);
	pkt[5] = (uint8_t)(leg->ts >> 16);
	pkt[6] = (uint8_t)(leg->ts >> 8);
	pkt[7] = (uint8_t)leg->ts;
	pkt[8] = (uint8_t)(leg->ssrc >> 24);
	pkt[9] = (uint8_t)(leg->ssrc >> 16);
	pkt[10] = (uint8_t)(leg->ssrc >> 8);
	pkt[11] = (uint8_t)leg->ssrc;
	if (len)
		memcpy(pkt + RTP_HDR_LEN, payload, len);
	/* The stream advances even if this datagram is lost locally. */
	leg->seq++;
	leg->ts += (uint32_t)len;       /* G.711: one unit per byte */
	leg->sent_first = true;
	if (sendto(leg->fd, pkt, RTP_HDR_LEN + len, 0, &dst->u.sa, dst->len) == -1)
		return errno;
	leg->stats.tx_packets++;
	return 0;
}
