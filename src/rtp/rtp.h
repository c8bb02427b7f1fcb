/* The RTP leg of a call: a UDP port pair from the configured range (RTP on
 * the even port, used both to receive and to send, i.e. symmetric RTP; RTCP
 * on the next, or multiplexed), with NAT-aware address learning. */
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
	uint64_t rx_us;             /* when the leg read it (CLOCK_MONOTONIC, us); 0 unknown */
};
/* 0, or EINVAL for a packet that is not RTP v2 or shorter than its header
 * (CSRCs, extension and padding are accounted for). */
int rtp_parse(const uint8_t *pkt, size_t len, struct rtp_hdr *out);

/* ---- Address learning (latch.c) ----
 *
 * Pure: no clock, no socket. Every input carries `now` in milliseconds of a
 * monotonic clock; tests drive it with injected packets and times. */
enum rtp_latch_verdict {
	RTP_LATCH_DROP = 0,     /* not accepted: drop before decoding, never answer */
	RTP_LATCH_ACCEPT,       /* accepted; the learned source did not change */
	RTP_LATCH_CHANGED,      /* accepted; the learned source changed (prev holds the old) */
};
const char *rtp_latch_verdict_name(enum rtp_latch_verdict v);

#define RTP_LATCH_WINDOW_MS 2000
#define RTP_LATCH_PROBATION 4
#define RTP_LATCH_SILENCE_MS 500
/* strict: how far ahead of the current sequence a new source may start and
 * still "continue" it (packets lost during a NAT rebinding) */
#define RTP_LATCH_MAX_GAP 100

struct rtp_latch {
	enum cfg_latch_mode mode;
	unsigned int window_ms;     /* window: freshness of the learned source */
	unsigned int probation;     /* strict: packets before a new source is used */
	unsigned int silence_ms;    /* strict: silence before another source may take over */
	struct addr sdp;            /* where the peer said it receives */
	struct addr signal;         /* strict: SIP source of the dialog (IP only) */
	struct addr learned;        /* the accepted source of inbound RTP, if any */
	bool have_learned;
	struct addr prev;           /* learned before the last change */
	bool have_prev;
	bool nat;                   /* the learned source differs in IP from sdp */
	unsigned int relatches;     /* changes of the learned address after the first */
	unsigned int ssrc_changes;  /* strict: SSRC changes accepted from the learned source */
	uint64_t now;               /* the latest time passed in */
	uint64_t last_rx;           /* when the learned source last sent */
	uint32_t ssrc;              /* the current stream (strict) */
	uint16_t seq;
	unsigned long cur_packets;  /* accepted from the current stream */
	struct {                    /* strict: a source on probation */
		bool active;
		struct addr src;
		uint32_t ssrc;
		uint16_t first_seq, seq;
		unsigned int n;
		unsigned long cur_packets;  /* cur_packets when it appeared */
	} cand;
};
/* Defaults for window_ms, probation and silence_ms. sdp may be NULL. */
void rtp_latch_init(struct rtp_latch *l, enum cfg_latch_mode mode, const struct addr *sdp);
void rtp_latch_set_params(struct rtp_latch *l, unsigned int window_ms, unsigned int probation,
                          unsigned int silence_ms);
/* Change the mode (per-user / per-route override); what was learned stays.
 * CFG_LATCH_INHERIT is ignored. */
void rtp_latch_set_mode(struct rtp_latch *l, enum cfg_latch_mode mode);
/* The peer signalled a new address (re-INVITE); what was learned stays.
 * sdp may be NULL. */
void rtp_latch_set_sdp(struct rtp_latch *l, const struct addr *sdp);
/* The source of the dialog's SIP signalling (strict mode learns from its IP).
 * sig may be NULL. */
void rtp_latch_set_signal(struct rtp_latch *l, const struct addr *sig);
/* A well-formed RTP packet arrived from src. */
enum rtp_latch_verdict rtp_latch_on_packet(struct rtp_latch *l, const struct addr *src,
                                           uint32_t ssrc, uint16_t seq, uint64_t now);
/* After RTP_LATCH_DROP: whether that packet (src, ssrc, seq) is one of a
 * strict-mode probation still under way (the source may yet be accepted;
 * the caller may hold the packet and deliver it once it is). Not for
 * packets from a disallowed source, nor once the probation was passed but
 * the takeover refused. */
bool rtp_latch_on_probation(const struct rtp_latch *l, const struct addr *src, uint32_t ssrc,
                            uint16_t seq);
/* Whether an RTCP packet from src is accepted (same rules, by IP). */
bool rtp_latch_rtcp_ok(const struct rtp_latch *l, const struct addr *src);
/* Where to send at `now`: the learned source when it differs in IP from the
 * signalled address (NAT) and, in window mode, is fresh; else the signalled
 * address. NULL when there is nowhere to send yet. */
const struct addr *rtp_latch_dest_at(const struct rtp_latch *l, uint64_t now);
/* The same at the latest time the latch was given. */
const struct addr *rtp_latch_dest(const struct rtp_latch *l);
/* Where RTCP goes: with mux, the RTP destination; else the RTP destination's
 * port + 1 when that is the signalled address, or the learned RTCP source
 * (rtcp_src, may be NULL) when it has the learned RTP source's IP. false when
 * there is nowhere safe to send. */
bool rtp_latch_rtcp_dest(const struct rtp_latch *l, uint64_t now, bool mux,
                         const struct addr *rtcp_src, struct addr *out);

/* ---- Receive statistics of one SSRC (stats.c; RFC 3550 A.1, A.3, A.8) ---- */
#define RTP_MAX_DROPOUT 3000
#define RTP_MAX_MISORDER 100
struct rtp_rxstat {
	bool init;
	uint32_t ssrc;
	uint32_t rate;              /* timestamp units per second */
	uint16_t max_seq;
	uint32_t cycles;            /* wraps of the sequence, times 65536 */
	uint32_t base_seq;
	uint32_t bad_seq;           /* a jump to here is confirmed by the next packet */
	uint32_t received;
	uint32_t expected_prior, received_prior;
	unsigned long duplicates;   /* late or duplicate packets */
	unsigned long resyncs;      /* sequence restarts accepted */
	double jitter;              /* interarrival jitter, timestamp units */
	uint32_t transit;
	bool have_transit;
	unsigned long ts_jumps;     /* timestamp discontinuities not counted as jitter */
};
void rtp_rxstat_init(struct rtp_rxstat *s, uint32_t ssrc, uint16_t seq, uint32_t rate);
/* One accepted packet. use_ts: its timestamp is on the audio clock (false
 * for a repeated telephone-event timestamp). Returns false when the
 * sequence jumped too far (the packet is not counted; two in a row restart
 * the count). */
bool rtp_rxstat_update(struct rtp_rxstat *s, uint16_t seq, uint32_t ts, bool use_ts,
                       uint64_t now);
uint32_t rtp_rxstat_ext_max(const struct rtp_rxstat *s);     /* extended highest sequence */
uint32_t rtp_rxstat_expected(const struct rtp_rxstat *s);
int32_t rtp_rxstat_lost(const struct rtp_rxstat *s);        /* may be negative (duplicates) */
/* The fraction lost since the last call, in 1/256 (RFC 3550 6.4.1). */
uint8_t rtp_rxstat_fraction(struct rtp_rxstat *s);
unsigned int rtp_rxstat_jitter_ms(const struct rtp_rxstat *s);

/* ---- RTCP (rtcp.c; RFC 3550 section 6, RFC 5761) ---- */
#define RTCP_SR 200
#define RTCP_RR 201
#define RTCP_SDES 202
#define RTCP_BYE 203
#define RTCP_APP 204
#define RTCP_MAX_BLOCKS 31

/* RFC 5761 4: on a multiplexed port, the second octet 192-223 is RTCP
 * (RTP would have marker set and payload type 64-95). */
bool rtcp_is_rtcp(const uint8_t *pkt, size_t len);

struct rtcp_block {
	uint32_t ssrc;              /* the source this block is about */
	uint8_t fraction;           /* lost since the last report, 1/256 */
	int32_t lost;               /* cumulative, 24-bit signed */
	uint32_t ext_max;           /* extended highest sequence received */
	uint32_t jitter;            /* timestamp units */
	uint32_t lsr;               /* middle 32 bits of the last SR's NTP time */
	uint32_t dlsr;              /* delay since that SR, 1/65536 s */
};
struct rtcp_report {
	uint32_t ssrc;              /* the sender of the report */
	bool sr;                    /* a sender report: the next four are set */
	uint64_t ntp;
	uint32_t rtp_ts;
	uint32_t packets, octets;
	struct rtcp_block blocks[RTCP_MAX_BLOCKS];
	unsigned int n_blocks;
	bool bye;                   /* parse: a BYE was in the compound packet */
};
/* Validate a compound packet (RFC 3550 A.2: version 2, first an SR or RR,
 * lengths adding up to the datagram, padding only in the last) and read the
 * first SR/RR and the report blocks of any further RR. 0 or EINVAL. */
int rtcp_parse(const uint8_t *pkt, size_t len, struct rtcp_report *out);
/* An SR (r->sr) or RR with its blocks, then an SDES with the CNAME.
 * 0, or ENOSPC when it does not fit in cap. */
int rtcp_build(uint8_t *buf, size_t cap, const struct rtcp_report *r, const char *cname,
               size_t *len);
/* NTP time (64-bit fixed point) of a Unix time in milliseconds. */
uint64_t rtcp_ntp_from_unix_ms(uint64_t unix_ms);
uint32_t rtcp_ntp_mid(uint64_t ntp);
/* Round trip from a block about us that arrived at NTP time `arrival`:
 * A - LSR - DLSR in ms; -1 when the block carries no LSR. */
int rtcp_rtt_ms(const struct rtcp_block *b, uint64_t arrival);
/* RFC 3550 6.3.1 interval in ms: members/senders of the session, whether we
 * sent, the average compound size in octets (with UDP/IP), the RTCP
 * bandwidth in octets/s, the first report (minimum halved), and a uniform
 * random number in [0, 1) for the randomisation. */
uint64_t rtcp_interval_ms(unsigned int members, unsigned int senders, bool we_sent,
                          double avg_size, double bw, bool initial, double rand01);

/* What the peer's reports said about our stream, kept per call. */
struct rtp_rtcp_peer {
	unsigned long reports;      /* SR/RR with a block about us */
	uint8_t fraction;           /* latest, 1/256 */
	int32_t lost;               /* cumulative */
	unsigned int jitter_ms;
	int rtt_ms;                 /* latest round trip, -1 unknown */
	int rtt_max_ms;
	bool bye;
};

/* ---- The leg (leg.c) ---- */
struct rtp_leg_cbs {
	/* An accepted inbound RTP packet (audio or telephone-event), before
	 * any decoding. */
	void (*media)(void *owner, const struct rtp_hdr *h);
	/* No accepted RTP for rtp_timeout (or rtp_hold_timeout on hold)
	 * seconds. NULL allowed. The leg stays usable; the owner may free it
	 * from this callback. */
	void (*timeout)(void *owner);
	/* A hint that a packet or frame of this leg comes soon: stage 0 first
	 * (only owner's address may be used), each next stage a step later
	 * (what the stages before asked for may be read). Prefetch only;
	 * NULL allowed. */
	void (*prefetch)(void *owner, unsigned int stage);
};

/* Bind an even port of cfg's range on cfg->address for RTP and the next
 * for RTCP. NULL on failure (no free pair, or out of memory). The latch
 * mode and its parameters, and the timeouts, come from cfg. */
struct rtp_leg *rtp_leg_new(struct event_base *base, const struct cfg_rtp *cfg,
                            const char *callid, const struct rtp_leg_cbs *cbs, void *owner);
/* The same bound to ip (NULL: cfg->address), e.g. rtp_address_for()'s. */
struct rtp_leg *rtp_leg_new_at(struct event_base *base, const struct cfg_rtp *cfg,
                               const char *ip, const char *callid,
                               const struct rtp_leg_cbs *cbs, void *owner);
/* The address a leg toward a peer of family (AF_INET, AF_INET6) binds to
 * and writes in SDP: cfg->address when it is of that family, else
 * cfg->address6 for AF_INET6; NULL when the gateway has none. */
const char *rtp_address_for(const struct cfg_rtp *cfg, int family);
void rtp_leg_free(struct rtp_leg *leg);
unsigned int rtp_leg_port(const struct rtp_leg *leg);      /* RTCP is port + 1 */
/* The remote description: where to send until RTP arrives, and the
 * payload type to send with. Starts the media timeout. */
void rtp_leg_set_remote(struct rtp_leg *leg, const struct addr *sdp_addr, int pt);
/* The effective latch mode of the call (CFG_LATCH_INHERIT is ignored). */
void rtp_leg_set_latch_mode(struct rtp_leg *leg, enum cfg_latch_mode mode);
/* The source address of the dialog's SIP (strict mode learns from its IP). */
void rtp_leg_set_signal_addr(struct rtp_leg *leg, const struct addr *sig);
/* RTCP multiplexed on the RTP port (both sides have a=rtcp-mux). */
void rtp_leg_set_rtcp_mux(struct rtp_leg *leg, bool mux);
/* Choose rtp_hold_timeout (on hold) or rtp_timeout; restarts the timer. */
void rtp_leg_set_hold(struct rtp_leg *leg, bool on_hold);
/* Override the timeouts in milliseconds (0 = off), e.g. for tests. */
void rtp_leg_set_timeouts_ms(struct rtp_leg *leg, unsigned long timeout_ms,
                             unsigned long hold_timeout_ms);
/* Send one frame of payload (G.711: 160 bytes = 160 timestamp units). */
int rtp_leg_send(struct rtp_leg *leg, const uint8_t *payload, size_t len);
/* The same with the caller's CLOCK_MONOTONIC time in ms (no clock read). */
int rtp_leg_send_at(struct rtp_leg *leg, const uint8_t *payload, size_t len, uint64_t now_ms);
/* Send a packet with its own payload type, marker and timestamp (RFC 4733
 * events), on the same SSRC and sequence as the audio. */
int rtp_leg_send_raw(struct rtp_leg *leg, int pt, bool marker, uint32_t ts,
                     const uint8_t *payload, size_t len);
/* The timestamp the next audio frame will carry. */
uint32_t rtp_leg_ts(const struct rtp_leg *leg);
const struct rtp_latch *rtp_leg_latch(const struct rtp_leg *leg);
/* Where RTP goes now (NULL: nowhere yet). */
const struct addr *rtp_leg_dest(const struct rtp_leg *leg);

struct rtp_stats {
	unsigned long rx_packets, tx_packets, rx_bad, rx_rejected;
	unsigned long tx_octets;
	unsigned long tx_errors;        /* sends the kernel refused (sendto or io_uring) */
	unsigned long rx_held;          /* strict: held during a probation, then delivered */
	unsigned long rx_held_dropped;  /* strict: held, then dropped (probation failed) */
	unsigned long connects;         /* the send socket connected to a destination */
	bool tx_connected;              /* sends go out on it now (else from the RTP socket) */
	/* inbound stream (RFC 3550 A.3, A.8), current SSRC */
	uint32_t expected;
	int32_t lost;
	unsigned int jitter_ms;
	unsigned long ssrc_changes;
	/* latch, for metrics and the CDR */
	enum cfg_latch_mode latch_mode;
	bool nat;                   /* NAT detected */
	bool have_learned;
	struct addr learned;        /* final learned address */
	unsigned int relatches;
	/* RTCP */
	unsigned long rtcp_rx, rtcp_tx, rtcp_bad, rtcp_rejected;
};
void rtp_leg_stats(const struct rtp_leg *leg, struct rtp_stats *out);
/* What the peer reported about our stream (RTCP). */
void rtp_leg_rtcp_peer(const struct rtp_leg *leg, struct rtp_rtcp_peer *out);
/* One log line with the call's RTP figures (at call end). */
void rtp_leg_log_summary(const struct rtp_leg *leg);
/* How the leg sends: CFG_RTP_IO_URING (queued, submitted once per loop
 * iteration) or CFG_RTP_IO_SYSCALLS (one sendto per packet). */
int rtp_leg_io_mode(const struct rtp_leg *leg);
/* Hand the queued datagrams of the leg's loop to the kernel now (the loop
 * does it by itself after the callbacks of an iteration). */
void rtp_leg_flush(struct rtp_leg *leg);
/* Before a span's tick takes a frame out of a call's jitter buffer: hand
 * over the packets of every leg that have arrived by now_us, which the
 * loop would only read after the tick, so that none misses its frame for
 * waiting on the tick itself (io_uring receives; a no-op with recvmmsg,
 * whose packets the loop reads in the order they came). */
void rtp_leg_drain(struct rtp_leg *leg, uint64_t now_us);

/* ---- Batched sends (io.c) ----
 *
 * One io_uring ring per process, used by the legs of one event loop: a
 * datagram is copied into a slot and queued; a deferred event submits all
 * queued datagrams at once after the callbacks that queued them (or
 * earlier when many are queued); completions are reaped right after the
 * submit and, for the few the kernel finishes later, through an eventfd
 * on the loop. */
#define RTP_IO_MAX_PKT 512          /* larger datagrams are sent with sendto */
struct rtp_io;
struct rtp_io_rx;
struct rtp_io_stats {
	unsigned long submits;      /* io_uring_enter calls that submitted */
	unsigned long queued;       /* datagrams queued */
	unsigned long errors;       /* completions with an error */
	unsigned long send_cqes;    /* completions of sends reaped (skip mode: failures only) */
	unsigned long fallbacks;    /* times io_uring could not be set up */
	unsigned long rx_packets;   /* datagrams received through the ring */
	unsigned long rx_arms;      /* multishot receives armed (a leg's first, re-arms) */
	unsigned long rx_nobufs;    /* receives ended because every buffer was in use */
	unsigned long wakeups;      /* times the ring's eventfd woke the loop */
	unsigned long drains;       /* rtp_io_drain calls that looked */
	unsigned long holds;        /* times the hold timer took in (no drain came) */
	unsigned long cqes;         /* completions reaped */
	unsigned long tx_fixed;     /* datagrams sent naming a registered socket */
	unsigned long files;        /* sockets in the ring's file table now (not a total) */
	bool active;                /* a ring exists now */
	bool rx_active;             /* and it receives too */
	bool skip_success;          /* and its sends complete only when they fail */
	bool defer;                 /* and arrivals wait for the loop (DEFER_TASKRUN) */
};
/* A reference on the loop's ring for mode (enum cfg_rtp_io); NULL means
 * send with sendto (mode syscalls, io_uring unavailable: logged once, or
 * the ring belongs to another loop). */
struct rtp_io *rtp_io_get(struct event_base *base, int mode);
/* Drop the reference; the last one submits, waits (bounded) for what is
 * in flight and frees the ring. NULL allowed. */
void rtp_io_put(struct rtp_io *io);
/* Queue one datagram on fd to dst (NULL: fd is connected to where it
 * goes); rx, fd's receive in the ring or NULL, lets the send name fd by
 * its place in the ring's file table. A failure is reported to leg when
 * it completes (rtp_leg_io_done; where not rtp_io_skips_success, every
 * completion is). 0, or EMSGSIZE (larger than RTP_IO_MAX_PKT) / ENOBUFS:
 * send it yourself. */
int rtp_io_send(struct rtp_io *io, struct rtp_leg *leg, const struct rtp_io_rx *rx, int fd,
                const struct addr *dst, const uint8_t *pkt, size_t len);
/* Submit what is queued and reap what completed. NULL allowed. */
void rtp_io_flush(struct rtp_io *io);
/* The leg is going away: its datagrams in flight are no longer counted. */
void rtp_io_forget(struct rtp_io *io, const struct rtp_leg *leg);
/* Totals over every ring of the process. */
void rtp_io_get_stats(struct rtp_io_stats *out);
/* After io_uring failed to set up, try again at the next rtp_io_get (tests). */
void rtp_io_reset(void);
/* Do io's sends complete only when they fail (IOSQE_CQE_SKIP_SUCCESS)? */
bool rtp_io_skips_success(const struct rtp_io *io);
/* Let the next ring skip successful sends' completions where the kernel
 * can (the default), or not (tests of both ways). */
void rtp_io_set_skip_success(bool on);
/* The number of receive buffers of the next ring (a power of two; 0: the
 * default), so that tests can run them out. */
void rtp_io_set_rx_buffers(unsigned int n);
/* Receive the leg's datagrams on fd through the ring (a multishot
 * receive), each with the kernel's arrival time (SO_TIMESTAMPNS); fd is
 * registered in the ring's file table for the sends on it until
 * rtp_io_recv_stop. NULL: receive them yourself (no ring, or the kernel
 * cannot). */
struct rtp_io_rx *rtp_io_recv_start(struct rtp_io *io, struct rtp_leg *leg, int fd);
/* The leg is going away: its receive is cancelled and fd leaves the file
 * table (before it closes fd, which is then free at once). */
void rtp_io_recv_stop(struct rtp_io *io, struct rtp_io_rx *rx);
/* Hand over what the ring has received by now (now_us: CLOCK_MONOTONIC),
 * at most every 0.2 ms. NULL allowed. */
void rtp_io_drain(struct rtp_io *io, uint64_t now_us);
/* io.c -> leg.c: a queued datagram of len bytes completed with res (bytes
 * sent, or -errno: the leg takes back the send it counted). */
void rtp_leg_io_done(struct rtp_leg *leg, int res, size_t len);
/* CLOCK_MONOTONIC in microseconds, the time base of received packets. */
uint64_t rtp_clock_us(void);
/* io.c -> leg.c: a datagram from src received through the ring at now_us
 * (CLOCK_MONOTONIC). */
void rtp_leg_rx(struct rtp_leg *leg, const uint8_t *pkt, size_t len, const struct addr *src,
                uint64_t now_us);
/* io.c -> leg.c: the ring cannot receive on the leg's socket fd: for its
 * RTP socket, epoll from now on; for its connected send socket, the leg
 * sends unconnected from now on. */
void rtp_leg_rx_fallback(struct rtp_leg *leg, int fd);
/* Ask for the memory a packet or a frame of the leg is about to touch: a
 * hint, never a fault (a pipeline over many legs hides the misses of one
 * behind the work of another). Stage 0, the leg itself; stage k > 0 (a
 * step after k - 1), cbs.prefetch stage k - 1 of its owner. NULL
 * allowed. */
void rtp_leg_prefetch(const struct rtp_leg *leg, unsigned int stage);

#endif
