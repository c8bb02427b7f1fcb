/* The RTP leg of a call: an RTP/RTCP port pair, symmetric RTP, address
 * learning through the latch, receive statistics, RTCP reports and the
 * media timeout. The callbacks read the clock once and hand each datagram
 * to the pure latch, statistics and RTCP functions. */
#include "rtp/rtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/cache.h"
#include "core/log.h"

#define RTP_HDR_LEN 12
#define RTP_MAX_PKT 2048
#define RTP_MAX_PAYLOAD (1500 - 28 - RTP_HDR_LEN)
#define RTP_READ_BATCH 32
/* strict: packets held while their source is on probation */
#define RTP_HOLD_MAX 8
#define RTP_HOLD_PKT 512
#define RTP_CLOCK_RATE 8000
#define RTCP_MAX_PKT 1500
#define RTCP_UDP_IP_OVERHEAD 28
/* RTCP bandwidth: 5% of a G.711 session (64 kbit/s payload plus headers,
 * about 10000 octets/s), in octets per second */
#define RTCP_BW 500.0

struct rtp_leg {
	/* What every packet and every frame touches, together first. */
	struct rtp_leg_cbs cbs;
	void *owner;                    /* not owned */
	int fd;                         /* owned: RTP, even port */
	int pt;                         /* payload type we send, -1 unset */
	uint32_t ssrc;
	uint16_t seq;
	bool sent_first;
	bool mux;
	uint32_t ts;                    /* of the next audio frame */
	uint32_t last_tx_ts;
	uint64_t last_tx_ms;            /* when the last audio frame was sent */
	uint64_t last_rx;               /* accepted RTP, or when the timer started */
	struct rtp_io *io;              /* reference; NULL: send with sendto */
	unsigned int io_pending;        /* datagrams queued or in flight on io */
	struct rtp_io_rx *io_rx;        /* RTP received through io; NULL: epoll (ev) */
	/* The send socket: the RTP port again, connected to where RTP goes
	 * (see rtp_leg_connect); -1 while there is none. */
	int cfd;                        /* owned */
	bool cconn;                     /* cfd is connected to cdst */
	/* strict: the packets of a source on probation, delivered if it is
	 * accepted; allocated while a probation runs */
	struct rtp_hold *held;          /* owned */
	bool remote_set;
	bool hold;

	struct addr cdst;               /* where cfd was last connected, or tried to */
	struct rtp_io_rx *io_crx;       /* cfd's receive in the ring */
	uint64_t connect_ms;            /* the last connect */
	bool no_connect;                /* cfd failed for good: fd alone */

	struct rtp_rxstat rx;           /* the peer's current SSRC */
	struct rtp_stats stats;
	struct rtp_latch latch;

	struct event_base *base;        /* not owned */
	struct event *ev;               /* owned: RTP socket readable */
	struct event *ev_rtcp;          /* owned: RTCP socket readable */
	struct event *ev_timeout;       /* owned: media timeout */
	struct event *ev_report;        /* owned: next RTCP report */
	int fd_rtcp;                    /* owned: RTCP, port + 1 */
	unsigned int port;
	char *callid;                   /* owned */
	unsigned long timeout_ms, hold_timeout_ms;

	/* RTCP */
	struct addr rtcp_src;           /* the accepted source of the peer's RTCP */
	unsigned long tx_at_report;     /* tx_packets at the last report */
	double rtcp_avg;                /* average compound size, octets */
	bool rtcp_initial;
	bool have_peer_sr;
	uint32_t peer_lsr;              /* middle of the NTP time of its last SR */
	uint64_t peer_sr_at;            /* when that SR arrived */
	struct rtp_rtcp_peer peer;

	struct log_ratelimit rl_bad;
	struct log_ratelimit rl_rejected;
	struct log_ratelimit rl_rtcp;
	struct log_ratelimit rl_latch;
};

struct rtp_hold {
	struct addr src;
	uint32_t ssrc;
	unsigned int n;
	struct {
		uint16_t len;
		uint64_t rx_us;
		uint8_t pkt[RTP_HOLD_PKT];
	} p[RTP_HOLD_MAX];
};

static void rtp_leg_on_read(evutil_socket_t fd, short what, void *arg);
static void rtp_leg_on_rtcp(evutil_socket_t fd, short what, void *arg);
static void rtp_leg_on_timeout(evutil_socket_t fd, short what, void *arg);
static void rtp_leg_on_report(evutil_socket_t fd, short what, void *arg);

/* Receive buffers and message headers of rtp_leg_read, set up once (one
 * event loop thread; a read does not nest in another). */
static uint8_t rtp_rx_buf[RTP_READ_BATCH][RTP_MAX_PKT];
static struct iovec rtp_rx_iov[RTP_READ_BATCH];
static struct addr rtp_rx_src[RTP_READ_BATCH];
static struct mmsghdr rtp_rx_msgs[RTP_READ_BATCH];
static bool rtp_rx_ready;

static uint64_t
rtp_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
rtp_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
rtp_leg_socket(const struct addr *local, int *fd)
{
	*fd = socket(local->u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return *fd == -1 ? errno : 0;
}

/* Bind an even port p of [port_min, port_max] and p + 1, starting at a
 * random pair and trying each once. */
static int
rtp_leg_bind(struct addr *local, unsigned int port_min, unsigned int port_max, int *fd,
             int *fd_rtcp, unsigned int *port)
{
	unsigned int first, n, start;
	int error = EADDRINUSE;

	first = port_min + (port_min & 1);
	if (port_min == 0 || port_max > 65535 || first + 1 > port_max)
		return EINVAL;
	n = (port_max - 1 - first) / 2 + 1;
	start = arc4random_uniform(n);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int p = first + 2 * ((start + i) % n);
		int a, b;

		if ((error = rtp_leg_socket(local, &a)) != 0)
			return error;
		addr_set_port(local, p);
		if (bind(a, &local->u.sa, local->len) != 0) {
			error = errno;
			close(a);
			if (error != EADDRINUSE && error != EACCES)
				return error;
			continue;
		}
		if ((error = rtp_leg_socket(local, &b)) != 0) {
			close(a);
			return error;
		}
		addr_set_port(local, p + 1);
		if (bind(b, &local->u.sa, local->len) != 0) {
			error = errno;
			close(a);
			close(b);
			if (error != EADDRINUSE && error != EACCES)
				return error;
			continue;
		}
		*fd = a;
		*fd_rtcp = b;
		*port = p;
		return 0;
	}
	return error;
}

/* The IPv4 address the legs bind to: [rtp] address, or every address. */
static const char *
rtp_address4(const struct cfg_rtp *cfg)
{
	return cfg->address ? cfg->address : "0.0.0.0";
}

const char *
rtp_address_for(const struct cfg_rtp *cfg, int family)
{
	const char *ip = rtp_address4(cfg);
	struct addr a;

	if (addr_from_ip(&a, ip, 0) == 0 && a.u.sa.sa_family == family)
		return ip;
	if (family == AF_INET6 && cfg->address6 != NULL && cfg->address6[0] != '\0' &&
	    addr_from_ip(&a, cfg->address6, 0) == 0 && a.u.sa.sa_family == AF_INET6)
		return cfg->address6;
	return NULL;
}

struct rtp_leg *
rtp_leg_new(struct event_base *base, const struct cfg_rtp *cfg, const char *callid,
            const struct rtp_leg_cbs *cbs, void *owner)
{
	return rtp_leg_new_at(base, cfg, NULL, callid, cbs, owner);
}

struct rtp_leg *
rtp_leg_new_at(struct event_base *base, const struct cfg_rtp *cfg, const char *ip,
               const char *callid, const struct rtp_leg_cbs *cbs, void *owner)
{
	struct rtp_leg *leg;
	struct addr local;
	int error;

	if (ip == NULL)
		ip = rtp_address4(cfg);

	/* on a cache line of its own: its first two lines are the hot ones */
	if (posix_memalign((void **)&leg, CACHE_LINE, sizeof(*leg)) != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: out of memory");
		return NULL;
	}
	memset(leg, 0, sizeof(*leg));
	leg->fd = leg->fd_rtcp = leg->cfd = -1;
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
	error = rtp_leg_bind(&local, cfg->port_min, cfg->port_max, &leg->fd, &leg->fd_rtcp,
	    &leg->port);
	if (error != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: no port pair in %s:%u-%u: %s", ip,
		         cfg->port_min, cfg->port_max, strerror(error));
		goto fail;
	}
	leg->ev = event_new(base, leg->fd, EV_READ | EV_PERSIST, rtp_leg_on_read, leg);
	leg->ev_rtcp = event_new(base, leg->fd_rtcp, EV_READ | EV_PERSIST, rtp_leg_on_rtcp, leg);
	leg->ev_timeout = evtimer_new(base, rtp_leg_on_timeout, leg);
	leg->ev_report = evtimer_new(base, rtp_leg_on_report, leg);
	if (!leg->ev || !leg->ev_rtcp || !leg->ev_timeout || !leg->ev_report ||
	    event_add(leg->ev_rtcp, NULL) != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: cannot add events");
		goto fail;
	}
	rtp_latch_init(&leg->latch, cfg->latch_mode, NULL);
	rtp_latch_set_params(&leg->latch,
	    cfg->latch_window_ms ? cfg->latch_window_ms : RTP_LATCH_WINDOW_MS,
	    cfg->latch_probation ? cfg->latch_probation : RTP_LATCH_PROBATION,
	    cfg->latch_silence_ms);
	leg->timeout_ms = (unsigned long)cfg->rtp_timeout * 1000;
	leg->hold_timeout_ms = (unsigned long)cfg->rtp_hold_timeout * 1000;
	leg->ssrc = arc4random();
	leg->seq = (uint16_t)arc4random();
	leg->ts = arc4random();
	leg->rtcp_avg = 100;
	leg->rtcp_initial = true;
	leg->peer.rtt_ms = -1;
	leg->peer.rtt_max_ms = -1;
	/* Last, once the leg is whole: RTP (not RTCP, a packet every few
	 * seconds) through the ring. */
	leg->io = rtp_io_get(base, cfg->io);
	if (leg->io != NULL)
		leg->io_rx = rtp_io_recv_start(leg->io, leg, leg->fd);
	if (leg->io_rx == NULL && event_add(leg->ev, NULL) != 0) {
		log_call(LOG_LEVEL_ERROR, callid, "rtp: cannot add events");
		goto fail;
	}
	log_call(LOG_LEVEL_DEBUG, callid, strchr(ip, ':') ?
	         "rtp: bound [%s]:%u (rtcp %u), latch %s, io %s%s" :
	         "rtp: bound %s:%u (rtcp %u), latch %s, io %s%s", ip, leg->port, leg->port + 1,
	         cfg_latch_mode_name(leg->latch.mode), leg->io ? "uring" : "syscalls",
	         leg->io && !leg->io_rx ? " (receives recvmmsg)" : "");
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
	if (leg->io_rx != NULL)
		rtp_io_recv_stop(leg->io, leg->io_rx);
	if (leg->io_crx != NULL)
		rtp_io_recv_stop(leg->io, leg->io_crx);
	if (leg->io != NULL) {
		/* queued datagrams name our descriptor: hand them over first
		 * (where only failures complete, the leg does not count them) */
		bool skip = rtp_io_skips_success(leg->io);

		if (skip || leg->io_pending > 0)
			rtp_io_flush(leg->io);
		if (skip || leg->io_pending > 0)
			rtp_io_forget(leg->io, leg);
		rtp_io_put(leg->io);
	}
	free(leg->held);
	if (leg->ev)
		event_free(leg->ev);
	if (leg->ev_rtcp)
		event_free(leg->ev_rtcp);
	if (leg->ev_timeout)
		event_free(leg->ev_timeout);
	if (leg->ev_report)
		event_free(leg->ev_report);
	if (leg->fd != -1)
		close(leg->fd);
	if (leg->cfd != -1)
		close(leg->cfd);
	if (leg->fd_rtcp != -1)
		close(leg->fd_rtcp);
	free(leg->callid);
	free(leg);
}

unsigned int
rtp_leg_port(const struct rtp_leg *leg)
{
	return leg->port;
}

/* ---- Timers ---- */

static void
rtp_timer_add(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(ev, &tv);
}

static unsigned long
rtp_leg_limit(const struct rtp_leg *leg)
{
	return leg->hold ? leg->hold_timeout_ms : leg->timeout_ms;
}

/* (Re)arm the media timeout for the time left at now. */
static void
rtp_leg_timeout_arm(struct rtp_leg *leg, uint64_t now)
{
	unsigned long limit = rtp_leg_limit(leg);
	uint64_t idle = now > leg->last_rx ? now - leg->last_rx : 0;

	evtimer_del(leg->ev_timeout);
	if (!leg->remote_set || limit == 0)
		return;
	rtp_timer_add(leg->ev_timeout, idle >= limit ? 0 : limit - idle);
}

static void
rtp_leg_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_leg *leg = arg;
	uint64_t now = rtp_clock_ms(CLOCK_MONOTONIC);
	unsigned long limit = rtp_leg_limit(leg);

	(void)fd;
	(void)what;
	if (limit == 0)
		return;
	if (now - leg->last_rx < limit) {
		rtp_leg_timeout_arm(leg, now);
		return;
	}
	log_call(LOG_LEVEL_NOTICE, leg->callid, "rtp: media timeout, no RTP for %lu ms%s", limit,
	         leg->hold ? " (on hold)" : "");
	/* the last thing: the owner may free the leg */
	if (leg->cbs.timeout)
		leg->cbs.timeout(leg->owner);
}

static void
rtp_leg_report_arm(struct rtp_leg *leg)
{
	unsigned int senders = (leg->stats.tx_packets > 0) + (leg->stats.rx_packets > 0);
	uint64_t ms;

	ms = rtcp_interval_ms(2, senders, leg->stats.tx_packets != leg->tx_at_report,
	    leg->rtcp_avg, RTCP_BW, leg->rtcp_initial, arc4random() / 4294967296.0);
	leg->rtcp_initial = false;
	rtp_timer_add(leg->ev_report, ms);
}

void
rtp_leg_set_remote(struct rtp_leg *leg, const struct addr *sdp_addr, int pt)
{
	uint64_t now = rtp_clock_ms(CLOCK_MONOTONIC);

	rtp_latch_set_sdp(&leg->latch, sdp_addr);
	leg->pt = pt;
	if (!leg->remote_set && sdp_addr != NULL) {
		leg->remote_set = true;
		leg->last_rx = now;
		rtp_leg_timeout_arm(leg, now);
		rtp_leg_report_arm(leg);
	}
}

void
rtp_leg_set_latch_mode(struct rtp_leg *leg, enum cfg_latch_mode mode)
{
	if (mode == CFG_LATCH_INHERIT || mode == leg->latch.mode)
		return;
	log_call(LOG_LEVEL_DEBUG, leg->callid, "rtp: latch mode %s", cfg_latch_mode_name(mode));
	rtp_latch_set_mode(&leg->latch, mode);
}

void
rtp_leg_set_signal_addr(struct rtp_leg *leg, const struct addr *sig)
{
	rtp_latch_set_signal(&leg->latch, sig);
}

void
rtp_leg_set_rtcp_mux(struct rtp_leg *leg, bool mux)
{
	leg->mux = mux;
}

void
rtp_leg_set_hold(struct rtp_leg *leg, bool on_hold)
{
	uint64_t now = rtp_clock_ms(CLOCK_MONOTONIC);

	if (leg->hold == on_hold)
		return;
	leg->hold = on_hold;
	leg->last_rx = now;
	rtp_leg_timeout_arm(leg, now);
}

void
rtp_leg_set_timeouts_ms(struct rtp_leg *leg, unsigned long timeout_ms,
                        unsigned long hold_timeout_ms)
{
	leg->timeout_ms = timeout_ms;
	leg->hold_timeout_ms = hold_timeout_ms;
	rtp_leg_timeout_arm(leg, rtp_clock_ms(CLOCK_MONOTONIC));
}

const struct rtp_latch *
rtp_leg_latch(const struct rtp_leg *leg)
{
	return &leg->latch;
}

const struct addr *
rtp_leg_dest(const struct rtp_leg *leg)
{
	return rtp_latch_dest_at(&leg->latch, rtp_clock_ms(CLOCK_MONOTONIC));
}

uint32_t
rtp_leg_ts(const struct rtp_leg *leg)
{
	return leg->ts;
}

void
rtp_leg_stats(const struct rtp_leg *leg, struct rtp_stats *out)
{
	*out = leg->stats;
	if (leg->rx.init) {
		out->expected = rtp_rxstat_expected(&leg->rx);
		out->lost = rtp_rxstat_lost(&leg->rx);
		out->jitter_ms = rtp_rxstat_jitter_ms(&leg->rx);
	}
	out->latch_mode = leg->latch.mode;
	out->nat = leg->latch.nat;
	out->have_learned = leg->latch.have_learned;
	out->learned = leg->latch.learned;
	out->relatches = leg->latch.relatches;
	out->tx_connected = leg->cconn;
}

void
rtp_leg_rtcp_peer(const struct rtp_leg *leg, struct rtp_rtcp_peer *out)
{
	*out = leg->peer;
}

void
rtp_leg_log_summary(const struct rtp_leg *leg)
{
	struct rtp_stats st;
	char lbuf[ADDR_STRLEN];

	rtp_leg_stats(leg, &st);
	log_call(LOG_LEVEL_INFO, leg->callid,
	    "rtp: summary latch=%s nat=%s learned=%s relatches=%u rx=%lu tx=%lu bad=%lu "
	    "rejected=%lu held=%lu tx_errors=%lu expected=%u lost=%d jitter=%ums "
	    "rtcp_rx=%lu rtcp_tx=%lu connects=%lu "
	    "peer_reports=%lu peer_fraction=%u/256 peer_lost=%d peer_jitter=%ums rtt=%dms",
	    cfg_latch_mode_name(st.latch_mode), st.nat ? "yes" : "no",
	    st.have_learned ? addr_str(&st.learned, lbuf, sizeof(lbuf)) : "none",
	    st.relatches, st.rx_packets, st.tx_packets, st.rx_bad, st.rx_rejected,
	    st.rx_held, st.tx_errors, st.expected, st.lost, st.jitter_ms, st.rtcp_rx, st.rtcp_tx,
	    st.connects, leg->peer.reports, leg->peer.fraction, leg->peer.lost, leg->peer.jitter_ms,
	    leg->peer.rtt_ms);
}

/* ---- RTCP ---- */

static void
rtp_leg_rtcp_input(struct rtp_leg *leg, const uint8_t *pkt, size_t len, const struct addr *src,
                   uint64_t now)
{
	char sbuf[ADDR_STRLEN];
	struct rtcp_report r;

	if (!rtp_latch_rtcp_ok(&leg->latch, src)) {
		leg->stats.rtcp_rejected++;
		log_limited(&leg->rl_rejected, LOG_LEVEL_WARN,
		            "call=%s rtp: dropped RTCP from %s (not an accepted source)",
		            leg->callid, addr_str(src, sbuf, sizeof(sbuf)));
		return;
	}
	if (rtcp_parse(pkt, len, &r) != 0) {
		leg->stats.rtcp_bad++;
		log_limited(&leg->rl_rtcp, LOG_LEVEL_WARN,
		            "call=%s rtp: dropped malformed RTCP from %s (%zu bytes)",
		            leg->callid, addr_str(src, sbuf, sizeof(sbuf)), len);
		return;
	}
	leg->stats.rtcp_rx++;
	leg->rtcp_avg += ((double)(len + RTCP_UDP_IP_OVERHEAD) - leg->rtcp_avg) / 16.0;
	if (!addr_eq(&leg->rtcp_src, src)) {
		log_call(LOG_LEVEL_DEBUG, leg->callid, "rtp: RTCP from %s",
		         addr_str(src, sbuf, sizeof(sbuf)));
		leg->rtcp_src = *src;
	}
	if (r.sr) {
		leg->have_peer_sr = true;
		leg->peer_lsr = rtcp_ntp_mid(r.ntp);
		leg->peer_sr_at = now;
	}
	for (unsigned int i = 0; i < r.n_blocks; i++) {
		const struct rtcp_block *b = &r.blocks[i];
		int rtt;

		if (b->ssrc != leg->ssrc)
			continue;
		leg->peer.reports++;
		leg->peer.fraction = b->fraction;
		leg->peer.lost = b->lost;
		leg->peer.jitter_ms = (unsigned int)((uint64_t)b->jitter * 1000 / RTP_CLOCK_RATE);
		rtt = rtcp_rtt_ms(b, rtcp_ntp_from_unix_ms(rtp_clock_ms(CLOCK_REALTIME)));
		if (rtt >= 0) {
			leg->peer.rtt_ms = rtt;
			if (rtt > leg->peer.rtt_max_ms)
				leg->peer.rtt_max_ms = rtt;
		}
	}
	if (r.bye && !leg->peer.bye) {
		leg->peer.bye = true;
		log_call(LOG_LEVEL_INFO, leg->callid, "rtp: peer sent RTCP BYE");
	}
}

/* Our SR (when we sent RTP since the last report) or RR. */
static void
rtp_leg_report_send(struct rtp_leg *leg, uint64_t now)
{
	uint8_t buf[RTCP_MAX_PKT];
	struct rtcp_report r;
	struct addr dst;
	size_t len;
	char cname[96];

	memset(&r, 0, sizeof(r));
	r.ssrc = leg->ssrc;
	r.sr = leg->stats.tx_packets != leg->tx_at_report;
	if (r.sr) {
		r.ntp = rtcp_ntp_from_unix_ms(rtp_clock_ms(CLOCK_REALTIME));
		r.rtp_ts = leg->last_tx_ts + (uint32_t)((now - leg->last_tx_ms) * RTP_CLOCK_RATE / 1000);
		r.packets = (uint32_t)leg->stats.tx_packets;
		r.octets = (uint32_t)leg->stats.tx_octets;
	}
	if (leg->rx.init && leg->rx.received > 0) {
		struct rtcp_block *b = &r.blocks[r.n_blocks++];

		b->ssrc = leg->rx.ssrc;
		b->fraction = rtp_rxstat_fraction(&leg->rx);
		b->lost = rtp_rxstat_lost(&leg->rx);
		b->ext_max = rtp_rxstat_ext_max(&leg->rx);
		b->jitter = (uint32_t)leg->rx.jitter;
		if (leg->have_peer_sr) {
			b->lsr = leg->peer_lsr;
			b->dlsr = (uint32_t)((now - leg->peer_sr_at) * 65536 / 1000);
		}
	}
	leg->tx_at_report = leg->stats.tx_packets;
	snprintf(cname, sizeof(cname), "pstnbridge-%08x", leg->ssrc);
	if (rtcp_build(buf, sizeof(buf), &r, cname, &len) != 0)
		return;
	leg->rtcp_avg += ((double)(len + RTCP_UDP_IP_OVERHEAD) - leg->rtcp_avg) / 16.0;
	if (!rtp_latch_rtcp_dest(&leg->latch, now, leg->mux, &leg->rtcp_src, &dst))
		return;
	if (sendto(leg->mux ? leg->fd : leg->fd_rtcp, buf, len, 0, &dst.u.sa, dst.len) == -1)
		return;
	leg->stats.rtcp_tx++;
}

static void
rtp_leg_on_report(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_leg *leg = arg;

	(void)fd;
	(void)what;
	rtp_leg_report_send(leg, rtp_clock_ms(CLOCK_MONOTONIC));
	rtp_leg_report_arm(leg);
}

/* ---- RTP in ---- */

static void rtp_leg_deliver(struct rtp_leg *leg, struct rtp_hdr *hp, const struct addr *src,
                            uint64_t now, uint64_t now_us);

static void
rtp_leg_hold_drop(struct rtp_leg *leg)
{
	leg->stats.rx_held_dropped += leg->held->n;
	leg->stats.rx_rejected += leg->held->n;
	free(leg->held);
	leg->held = NULL;
}

/* strict: src is on probation with this packet; keep it (bounded: the
 * oldest goes) until the source is accepted or replaced. */
static void
rtp_leg_hold(struct rtp_leg *leg, const uint8_t *pkt, size_t len, const struct addr *src,
             uint32_t ssrc, uint64_t now_us)
{
	struct rtp_hold *hd = leg->held;

	if (hd != NULL && hd->n > 0 && (!addr_eq(&hd->src, src) || hd->ssrc != ssrc ||
	    leg->latch.cand.n == 1))
		rtp_leg_hold_drop(leg);         /* another probation began */
	if (len > RTP_HOLD_PKT) {
		leg->stats.rx_rejected++;
		return;
	}
	if ((hd = leg->held) == NULL) {
		if ((hd = leg->held = malloc(sizeof(*hd))) == NULL) {
			leg->stats.rx_rejected++;
			return;
		}
		hd->n = 0;
	}
	if (hd->n == RTP_HOLD_MAX) {
		memmove(&hd->p[0], &hd->p[1], sizeof(hd->p[0]) * (RTP_HOLD_MAX - 1));
		hd->n--;
		leg->stats.rx_held_dropped++;
		leg->stats.rx_rejected++;
	}
	hd->src = *src;
	hd->ssrc = ssrc;
	hd->p[hd->n].len = (uint16_t)len;
	hd->p[hd->n].rx_us = now_us;
	memcpy(hd->p[hd->n].pkt, pkt, len);
	hd->n++;
}

/* The held packets of the accepted source, in arrival order. */
static void
rtp_leg_hold_deliver(struct rtp_leg *leg, uint64_t now)
{
	struct rtp_hold *hd = leg->held;
	struct rtp_hdr h;

	leg->held = NULL;
	for (unsigned int i = 0; i < hd->n; i++) {
		if (rtp_parse(hd->p[i].pkt, hd->p[i].len, &h) != 0)
			continue;       /* parsed once already */
		leg->stats.rx_held++;
		rtp_leg_deliver(leg, &h, &hd->src, now, hd->p[i].rx_us);
	}
	free(hd);
}

static void
rtp_leg_input(struct rtp_leg *leg, const uint8_t *pkt, size_t len, const struct addr *src,
              uint64_t now, uint64_t now_us)
{
	char sbuf[ADDR_STRLEN], obuf[ADDR_STRLEN], dbuf[ADDR_STRLEN];
	enum rtp_latch_verdict v;
	struct rtp_hdr h;

	if (leg->mux && rtcp_is_rtcp(pkt, len)) {
		rtp_leg_rtcp_input(leg, pkt, len, src, now);
		return;
	}
	if (rtp_parse(pkt, len, &h) != 0) {
		leg->stats.rx_bad++;
		log_limited(&leg->rl_bad, LOG_LEVEL_WARN,
		            "call=%s rtp: dropped short/malformed packet from %s (%zu bytes)",
		            leg->callid, addr_str(src, sbuf, sizeof(sbuf)), len);
		return;
	}
	if (rtcp_is_rtcp(pkt, len)) {
		/* RTCP on the RTP port without rtcp-mux */
		leg->stats.rx_rejected++;
		return;
	}
	v = rtp_latch_on_packet(&leg->latch, src, h.ssrc, h.seq, now);
	if (v == RTP_LATCH_DROP && rtp_latch_on_probation(&leg->latch, src, h.ssrc, h.seq)) {
		rtp_leg_hold(leg, pkt, len, src, h.ssrc, now_us);
		return;
	}
	if (v == RTP_LATCH_DROP) {
		if (leg->held != NULL && leg->held->n > 0 && addr_eq(&leg->held->src, src) &&
		    leg->held->ssrc == h.ssrc)
			rtp_leg_hold_drop(leg);
		leg->stats.rx_rejected++;
		log_limited(&leg->rl_rejected, LOG_LEVEL_WARN,
		            "call=%s rtp: dropped packet from %s ssrc %08x (latch %s)", leg->callid,
		            addr_str(src, sbuf, sizeof(sbuf)), h.ssrc,
		            cfg_latch_mode_name(leg->latch.mode));
		return;
	}
	if (v == RTP_LATCH_CHANGED) {
		/* Rate-limited: a flood under on-change re-latches on every
		 * packet. */
		log_limited(&leg->rl_latch,
		    leg->latch.mode == CFG_LATCH_RECENT ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
		    "call=%s rtp: %s %s -> %s (sdp %s, nat=%s, latch %s, relatches %u)",
		    leg->callid, leg->latch.have_prev ? "re-latched" : "latched",
		    leg->latch.have_prev ? addr_str(&leg->latch.prev, obuf, sizeof(obuf)) : "none",
		    addr_str(src, sbuf, sizeof(sbuf)),
		    addr_str(&leg->latch.sdp, dbuf, sizeof(dbuf)), leg->latch.nat ? "yes" : "no",
		    cfg_latch_mode_name(leg->latch.mode), leg->latch.relatches);
	}
	/* the source passed its probation: what it sent meanwhile first */
	if (leg->held != NULL && leg->held->n > 0) {
		if (addr_eq(&leg->held->src, src) && leg->held->ssrc == h.ssrc)
			rtp_leg_hold_deliver(leg, now);
		else if (!leg->latch.cand.active)
			rtp_leg_hold_drop(leg);
	}
	rtp_leg_deliver(leg, &h, src, now, now_us);
}

/* An accepted packet: counted, into the statistics, to the owner. */
static void
rtp_leg_deliver(struct rtp_leg *leg, struct rtp_hdr *hp, const struct addr *src, uint64_t now,
                uint64_t now_us)
{
	char sbuf[ADDR_STRLEN];
	struct rtp_hdr h = *hp;

	leg->stats.rx_packets++;
	leg->last_rx = now;
	if (!leg->rx.init || leg->rx.ssrc != h.ssrc) {
		if (leg->rx.init) {
			leg->stats.ssrc_changes++;
			log_limited(&leg->rl_latch, LOG_LEVEL_INFO,
			    "call=%s rtp: peer SSRC %08x -> %08x from %s", leg->callid,
			    leg->rx.ssrc, h.ssrc, addr_str(src, sbuf, sizeof(sbuf)));
		}
		rtp_rxstat_init(&leg->rx, h.ssrc, h.seq, RTP_CLOCK_RATE);
	}
	rtp_rxstat_update(&leg->rx, h.seq, h.ts, leg->pt < 0 || h.pt == leg->pt, now);
	h.rx_us = now_us;
	if (leg->cbs.media)
		leg->cbs.media(leg->owner, &h);
}

/* Read one batch (one recvmmsg, at most RTP_READ_BATCH datagrams) per
 * wakeup and return: the event is level-triggered, so what is left comes
 * next time round, and no call ends on an EAGAIN. The clock is read once
 * per wakeup. */
static void
rtp_leg_read(struct rtp_leg *leg, int fd, bool rtcp)
{
	struct mmsghdr *msgs = rtp_rx_msgs;
	struct addr *src = rtp_rx_src;
	uint64_t now_us = rtp_clock_us();
	uint64_t now = now_us / 1000;
	int n;

	if (!rtp_rx_ready) {
		for (unsigned int i = 0; i < RTP_READ_BATCH; i++) {
			rtp_rx_iov[i].iov_base = rtp_rx_buf[i];
			rtp_rx_iov[i].iov_len = sizeof(rtp_rx_buf[i]);
			msgs[i].msg_hdr.msg_name = &src[i].u;
			msgs[i].msg_hdr.msg_iov = &rtp_rx_iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		rtp_rx_ready = true;
	}
	for (unsigned int i = 0; i < RTP_READ_BATCH; i++)
		msgs[i].msg_hdr.msg_namelen = sizeof(src[i].u);
	n = recvmmsg(fd, msgs, RTP_READ_BATCH, MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNREFUSED)
			log_limited(&leg->rl_bad, LOG_LEVEL_WARN, "call=%s rtp: recvmmsg: %s",
			            leg->callid, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		socklen_t nl = msgs[i].msg_hdr.msg_namelen;

		if (nl > sizeof(src[i].u))
			nl = sizeof(src[i].u);
		/* the bytes past the kernel's address are not stale */
		memset((char *)&src[i].u + nl, 0, sizeof(src[i].u) - nl);
		src[i].len = nl;
		if (rtcp)
			rtp_leg_rtcp_input(leg, rtp_rx_buf[i], msgs[i].msg_len, &src[i], now);
		else
			rtp_leg_input(leg, rtp_rx_buf[i], msgs[i].msg_len, &src[i], now, now_us);
	}
}

void
rtp_leg_rx(struct rtp_leg *leg, const uint8_t *pkt, size_t len, const struct addr *src,
           uint64_t now_us)
{
	rtp_leg_input(leg, pkt, len, src, now_us / 1000, now_us);
}

void
rtp_leg_prefetch(const struct rtp_leg *leg, unsigned int stage)
{
	if (leg == NULL)
		return;
	switch (stage) {
	case 0:
		/* the hot lines, the stream's statistics, the latch's state and
		 * the addresses a packet is checked against and a frame sent to */
		cache_prefetch(leg, 2 * CACHE_LINE);
		__builtin_prefetch(&leg->rx);
		__builtin_prefetch(&leg->stats);
		__builtin_prefetch(&leg->latch);
		__builtin_prefetch(&leg->latch.now);
		__builtin_prefetch(&leg->latch.learned);
		__builtin_prefetch(&leg->latch.learned.len);
		__builtin_prefetch(&leg->latch.sdp);
		__builtin_prefetch(&leg->latch.sdp.len);
		break;
	case 1:
	case 2:
	case 3:
		if (leg->cbs.prefetch != NULL)
			leg->cbs.prefetch(leg->owner, stage - 1);
		break;
	default:
		break;
	}
}

/* No more connected sends for the leg: cfd's receive cancelled and the
 * socket closed, so that what its peer sends reaches fd again. */
static void
rtp_leg_disconnect(struct rtp_leg *leg)
{
	if (leg->io_crx != NULL) {
		rtp_io_recv_stop(leg->io, leg->io_crx);
		leg->io_crx = NULL;
	}
	if (leg->cfd != -1) {
		/* queued sends name it: handed over first */
		if (leg->io != NULL)
			rtp_io_flush(leg->io);
		close(leg->cfd);
		leg->cfd = -1;
	}
	leg->cconn = false;
	leg->no_connect = true;
}

void
rtp_leg_rx_fallback(struct rtp_leg *leg, int fd)
{
	if (fd == leg->cfd) {
		/* the ring cannot receive on the send socket: without it */
		leg->io_crx = NULL;
		log_call(LOG_LEVEL_NOTICE, leg->callid, "rtp: sending unconnected from now on");
		rtp_leg_disconnect(leg);
		return;
	}
	if (leg->cfd != -1)
		rtp_leg_disconnect(leg);        /* epoll reads fd alone */
	leg->io_rx = NULL;
	if (event_add(leg->ev, NULL) != 0)
		log_call(LOG_LEVEL_ERROR, leg->callid, "rtp: cannot add the receive event");
}

static void
rtp_leg_on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	rtp_leg_read(arg, fd, false);
}

static void
rtp_leg_on_rtcp(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	rtp_leg_read(arg, fd, true);
}

/* ---- RTP out ---- */

/* Connected sends. A send on an unconnected socket costs the kernel a
 * route lookup and a copy of the address each time; on a connected one
 * it has neither (the route is cached, and the ring's send carries no
 * message header). So each leg has a second socket on its RTP port
 * (SO_REUSEPORT, set on both once the first is bound: no other leg can
 * take the port, which is only shared with the same user's sockets
 * that ask), connected to where RTP goes now. The kernel hands the
 * connected socket what comes from that address and fd everything else,
 * and both are received through the ring with the source address, so
 * the latch sees every packet as before: a new source (a NAT rebinding,
 * an attacker) still arrives, on fd. When the destination changes
 * (latched, re-latched, re-INVITE), the socket is connected anew: the
 * first RTP_CONNECT_BURST times at once, then once a second (a flood under
 * latch_mode on-change re-latches on every packet); meanwhile, and
 * whenever the connected socket cannot be had, the leg sends from fd with
 * the address, as it would without it. Only with the ring's receives:
 * true when cfd is connected to dst. */
#define RTP_CONNECT_BURST 4
#define RTP_CONNECT_EVERY_MS 1000

static bool
rtp_leg_connect(struct rtp_leg *leg, const struct addr *dst, uint64_t now)
{
	char dbuf[ADDR_STRLEN];
	struct addr local;
	socklen_t ll = sizeof(local.u);
	int one = 1, error;

	if (leg->cconn && addr_eq(&leg->cdst, dst))
		return true;
	if (leg->no_connect || leg->io_rx == NULL)
		return false;
	if (leg->stats.connects >= RTP_CONNECT_BURST &&
	    now < leg->connect_ms + RTP_CONNECT_EVERY_MS)
		return false;
	if (!leg->cconn && addr_eq(&leg->cdst, dst) && now < leg->connect_ms + RTP_CONNECT_EVERY_MS)
		return false;   /* failed for this address a moment ago */
	leg->connect_ms = now;
	leg->cdst = *dst;
	leg->cconn = false;
	if (leg->cfd == -1) {
		memset(&local, 0, sizeof(local));
		if (getsockname(leg->fd, &local.u.sa, &ll) != 0 ||
		    setsockopt(leg->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
		    rtp_leg_socket(&local, &leg->cfd) != 0) {
			error = errno;
			goto fail;
		}
		local.len = ll;
		if (setsockopt(leg->cfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
		    bind(leg->cfd, &local.u.sa, local.len) != 0) {
			error = errno;
			goto fail;
		}
		if ((leg->io_crx = rtp_io_recv_start(leg->io, leg, leg->cfd)) == NULL) {
			error = ENOTSUP;
			goto fail;
		}
	}
	if (connect(leg->cfd, &dst->u.sa, dst->len) != 0) {
		/* e.g. no route (the send from fd says so): tried again when
		 * the destination changes, or after a second */
		log_limited(&leg->rl_bad, LOG_LEVEL_DEBUG, "call=%s rtp: connect to %s: %s",
		            leg->callid, addr_str(dst, dbuf, sizeof(dbuf)), strerror(errno));
		return false;
	}
	leg->cconn = true;
	leg->stats.connects++;
	return true;

fail:
	log_call(LOG_LEVEL_NOTICE, leg->callid, "rtp: no connected send socket (%s): "
	         "sending unconnected", strerror(error));
	rtp_leg_disconnect(leg);
	return false;
}

/* Send to dst (the latch's destination, looked up once by the caller). */
static int
rtp_leg_write(struct rtp_leg *leg, const struct addr *dst, int pt, bool marker, uint32_t ts,
              const uint8_t *payload, size_t len, uint64_t now)
{
	uint8_t pkt[RTP_HDR_LEN + RTP_MAX_PAYLOAD];

	if (len > RTP_MAX_PAYLOAD || pt < 0 || pt > 127)
		return EINVAL;
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	pkt[2] = (uint8_t)(leg->seq >> 8);
	pkt[3] = (uint8_t)leg->seq;
	pkt[4] = (uint8_t)(ts >> 24);
	pkt[5] = (uint8_t)(ts >> 16);
	pkt[6] = (uint8_t)(ts >> 8);
	pkt[7] = (uint8_t)ts;
	pkt[8] = (uint8_t)(leg->ssrc >> 24);
	pkt[9] = (uint8_t)(leg->ssrc >> 16);
	pkt[10] = (uint8_t)(leg->ssrc >> 8);
	pkt[11] = (uint8_t)leg->ssrc;
	if (len)
		memcpy(pkt + RTP_HDR_LEN, payload, len);
	/* The stream advances even if this datagram is lost locally. */
	leg->seq++;
	/* Counted when handed over; a queued datagram that fails is taken
	 * back when its completion says so (rtp_leg_io_done). */
	if (leg->io != NULL &&
	    ((rtp_leg_connect(leg, dst, now) &&
	      rtp_io_send(leg->io, leg, leg->io_crx, leg->cfd, NULL, pkt, RTP_HDR_LEN + len) == 0) ||
	     rtp_io_send(leg->io, leg, leg->io_rx, leg->fd, dst, pkt, RTP_HDR_LEN + len) == 0)) {
		if (!rtp_io_skips_success(leg->io))
			leg->io_pending++;      /* every send completes */
	} else if (sendto(leg->fd, pkt, RTP_HDR_LEN + len, 0, &dst->u.sa, dst->len) == -1) {
		leg->stats.tx_errors++;
		return errno;
	}
	leg->stats.tx_packets++;
	leg->stats.tx_octets += len;
	return 0;
}

void
rtp_leg_io_done(struct rtp_leg *leg, int res, size_t len)
{
	size_t payload = len > RTP_HDR_LEN ? len - RTP_HDR_LEN : 0;

	if (!rtp_io_skips_success(leg->io) && leg->io_pending > 0)
		leg->io_pending--;
	if (res >= 0)
		return;
	/* take back what the send counted */
	if (leg->stats.tx_packets > 0)
		leg->stats.tx_packets--;
	leg->stats.tx_octets -= leg->stats.tx_octets >= payload ? payload : leg->stats.tx_octets;
	leg->stats.tx_errors++;
	/* refused: an ICMP error on the connected socket, the peer's port
	 * is closed (it may open again) */
	log_limited(&leg->rl_bad, res == -ECONNREFUSED ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
	            "call=%s rtp: send: %s", leg->callid, strerror(-res));
}

int
rtp_leg_io_mode(const struct rtp_leg *leg)
{
	return leg->io != NULL ? CFG_RTP_IO_URING : CFG_RTP_IO_SYSCALLS;
}

void
rtp_leg_flush(struct rtp_leg *leg)
{
	rtp_io_flush(leg->io);
}

void
rtp_leg_drain(struct rtp_leg *leg, uint64_t now_us)
{
	if (leg->io_rx != NULL)
		rtp_io_drain(leg->io, now_us);
}

int
rtp_leg_send_at(struct rtp_leg *leg, const uint8_t *payload, size_t len, uint64_t now_ms)
{
	const struct addr *dst;
	uint32_t ts = leg->ts;
	int error;

	if (len > RTP_MAX_PAYLOAD)
		return EINVAL;
	if (leg->pt < 0 || (dst = rtp_latch_dest_at(&leg->latch, now_ms)) == NULL)
		return 0;       /* nowhere to send yet: drop */
	error = rtp_leg_write(leg, dst, leg->pt, !leg->sent_first, ts, payload, len, now_ms);
	leg->ts += (uint32_t)len;       /* G.711: one unit per byte */
	leg->sent_first = true;
	leg->last_tx_ts = ts;
	leg->last_tx_ms = now_ms;
	return error;
}

int
rtp_leg_send(struct rtp_leg *leg, const uint8_t *payload, size_t len)
{
	return rtp_leg_send_at(leg, payload, len, rtp_clock_ms(CLOCK_MONOTONIC));
}

int
rtp_leg_send_raw(struct rtp_leg *leg, int pt, bool marker, uint32_t ts, const uint8_t *payload,
                 size_t len)
{
	uint64_t now = rtp_clock_ms(CLOCK_MONOTONIC);
	const struct addr *dst = rtp_latch_dest_at(&leg->latch, now);

	if (dst == NULL)
		return 0;       /* nowhere to send yet: drop */
	return rtp_leg_write(leg, dst, pt, marker, ts, payload, len, now);
}
