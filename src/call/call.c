/* The bridge: one call couples a span_call (PSTN) with a sip_leg and an
 * rtp_leg (Internet). Each side reports to the call through callbacks; the
 * call decides what the other side is told. A call is freed, from the loop,
 * once neither side holds it any more. */
#include "call/call.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <spandsp.h>

#include "call/cause.h"
#include "call/limits.h"
#include "core/cache.h"
#include "core/log.h"
#include "media/dtmf.h"
#include "media/jb.h"
#include "media/tone.h"
#include "route/route.h"
#include "rtp/rtp.h"
#include "sdp/sdp.h"
#include "sip/sip.h"
#include "sip/sip_trunk.h"
#include "span/span.h"

#define CALL_NUM_MAX 64
#define CALL_PAYLOAD_MAX 1600   /* 200 ms of G.711: the largest packet we take */

enum call_dir { CALL_FROM_SIP = 0, CALL_FROM_PSTN };

struct call {
	/* What every packet and every frame touches, on one cache line
	 * (calls are aligned to it). */
	struct span_call *sc;           /* owned by the span; NULL once it ended or we hung it up */
	struct rtp_leg *rtp;            /* owned */
	struct media_jb *jb;            /* owned: Internet-to-PSTN jitter buffer */
	struct media_dtmf_out *dout;    /* owned: PSTN DTMF to RFC 4733, when negotiated */
	struct media_dtmf_in *din;      /* owned: RFC 4733 to PSTN DTMF, when negotiated */
	enum cfg_law law;               /* the span's law */
	int pt;                         /* negotiated codec, -1 until known */
	int te_pt;                      /* negotiated telephone-event, -1 if none */
	uint32_t rx_ssrc;
	uint32_t te_ts_sent;            /* overlap sending: the RFC 4733 event sent last */
	bool rx_ssrc_set;
	bool te_ts_set;
	bool tx_muted;                  /* the peer holds: our direction is recvonly/inactive */

	char id[12];
	enum call_state state;
	enum call_dir dir;
	struct cfg *cfg;                /* owned reference: the generation this call started with */
	struct sip_leg *sip;            /* owned by the SIP stack; NULL once it ended or we hung it up */
	const char *rtp_ip;             /* its address (in cfg): bound, and in our SDP */
	char called[CALL_NUM_MAX];
	char calling[CALL_NUM_MAX];
	char span[32];
	int chan;
	char sip_callid[128];
	char sdp[1024];                 /* our description (offer or answer) */
	unsigned long long sdp_sess;    /* its o= session id and version */
	unsigned long long sdp_ver;
	bool dtmf_info;                 /* DTMF from SIP INFO is played to the PSTN */
	bool answered;                  /* the call reached CALL_UP */
	char limit_key[80];             /* counted in call_limits under this key, or "" */
	unsigned int max_duration;      /* seconds from the answer, 0: no limit */
	struct event *ev_limit;         /* owned: the max_duration timer */
	struct log_ratelimit rl_dtmf;

	struct event *ev_free;          /* owned: deferred free */
	TAILQ_ENTRY(call) entry;

	/* Local ringback to the SIP caller while the PSTN alerts without
	 * in-band information (span_tonezone of the call's span). */
	char tonezone[8];
	struct media_tone *ringback;    /* owned, NULL when not playing */
	struct event *ev_ringback;      /* owned: the 20 ms tick of ringback */
};

static TAILQ_HEAD(, call) calls = TAILQ_HEAD_INITIALIZER(calls);
static struct event_base *call_base;
static struct cfg *call_cfg;            /* owned reference: the generation for new calls */
static int call_accepting_flag = 1;
static size_t call_n;
static struct limits *call_limits;      /* owned: per-user counters, kept across reloads */
static unsigned long long call_sdp_sess;

static const char *const state_names[] = {
	"routing", "proceeding", "ringing", "early", "up", "releasing",
};

const char *
call_state_name(enum call_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[s];
}

static void call_release(struct call *c, int q850, int sip_status);

/* A caller's max_duration is reached: both sides are hung up, cause 16. */
static void
call_on_max_duration(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	if (c->state == CALL_RELEASING)
		return;
	log_call(LOG_LEVEL_NOTICE, c->id, "max_duration of %u s reached: hanging up",
	    c->max_duration);
	call_release(c, 16, 0);
}

static void
call_limit_timer_start(struct call *c)
{
	struct timeval tv = { .tv_sec = (time_t)c->max_duration, .tv_usec = 0 };

	if (c->max_duration == 0 || c->ev_limit)
		return;
	if (!(c->ev_limit = evtimer_new(call_base, call_on_max_duration, c)) ||
	    evtimer_add(c->ev_limit, &tv) != 0) {
		log_call(LOG_LEVEL_ERROR, c->id, "no max_duration timer: hanging up");
		call_release(c, 47, 503);
	}
}

/* ---- local ringback ---- */

static void
call_ringback_stop(struct call *c)
{
	if (!c->ringback)
		return;
	if (c->ev_ringback)
		evtimer_del(c->ev_ringback);
	media_tone_free(c->ringback);
	c->ringback = NULL;
	log_call(LOG_LEVEL_DEBUG, c->id, "local ringback stopped");
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
call_on_ringback(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	uint8_t frame[160];

	if (!c->ringback || !c->rtp || c->tx_muted)
		return;
	media_tone_frame(c->ringback, frame, sizeof(frame));
	rtp_leg_send_at(c->rtp, frame, sizeof(frame), now_us() / 1000u);
}

/* Ringback of the call's tone zone, as RTP in the negotiated law, every
 * 20 ms until the state leaves ringing (in-band media, answer, end). */
static void
call_ringback_start(struct call *c)
{
	struct timeval tv = { 0, 20000 };

	if (c->ringback || !c->rtp || c->pt < 0)
		return;
	if (!c->ev_ringback &&
	    !(c->ev_ringback = event_new(call_base, -1, EV_PERSIST, call_on_ringback, c)))
		return;
	c->ringback = media_tone_new(c->tonezone[0] ? c->tonezone : NULL, MEDIA_TONE_RINGBACK,
	    c->pt == SDP_PT_PCMU ? CFG_LAW_ULAW : CFG_LAW_ALAW);
	if (!c->ringback || evtimer_add(c->ev_ringback, &tv) != 0) {
		log_call(LOG_LEVEL_WARN, c->id, "no local ringback (tone zone %s)",
		    c->tonezone[0] ? c->tonezone : "default");
		call_ringback_stop(c);
		return;
	}
	log_call(LOG_LEVEL_INFO, c->id, "local ringback (%s): no in-band information from the PSTN",
	    c->tonezone[0] ? c->tonezone : MEDIA_TONE_ZONE_DEFAULT);
}

static void
call_set_state(struct call *c, enum call_state s)
{
	if (c->state == s)
		return;
	log_call(LOG_LEVEL_INFO, c->id, "state %s -> %s", call_state_name(c->state),
	    call_state_name(s));
	c->state = s;
	if (s != CALL_RINGING && s != CALL_PROCEEDING)
		call_ringback_stop(c);
	if (s == CALL_UP) {
		c->answered = true;
		call_limit_timer_start(c);
	}
}

static void
call_on_free(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	log_call(LOG_LEVEL_INFO, c->id, "freed");
	TAILQ_REMOVE(&calls, c, entry);
	call_n--;
	if (c->rtp) {
		rtp_leg_log_summary(c->rtp);
		rtp_leg_free(c->rtp);
	}
	if (c->jb) {
		struct media_jb_stats st;

		media_jb_stats(c->jb, &st);
		log_call(LOG_LEVEL_INFO, c->id,
		    "jitter buffer: frames %lu concealed %lu late %lu duplicate %lu delay mean %u max %u ms",
		    st.frames, st.concealed, st.late, st.duplicate, st.delay_mean_ms, st.delay_max_ms);
		media_jb_free(c->jb);
	}
	if (c->dout)
		media_dtmf_out_free(c->dout);
	if (c->din)
		media_dtmf_in_free(c->din);
	if (c->ev_limit)
		event_free(c->ev_limit);
	if (c->ev_ringback)
		event_free(c->ev_ringback);
	media_tone_free(c->ringback);
	if (c->limit_key[0] && call_limits)
		limits_call_end(call_limits, c->limit_key);
	event_free(c->ev_free);
	cfg_unref(c->cfg);
	free(c);
}

/* Hang up whatever side still holds the call, then free it from the loop. */
static void
call_release(struct call *c, int q850, int sip_status)
{
	if (q850 <= 0)
		q850 = 16;
	if (sip_status < 400)
		sip_status = cause_to_sip(q850);
	call_set_state(c, CALL_RELEASING);
	if (c->sc) {
		struct span_call *sc = c->sc;
		c->sc = NULL;
		span_call_hangup(sc, q850);
	}
	if (c->sip) {
		struct sip_leg *leg = c->sip;
		c->sip = NULL;
		sip_leg_hangup(leg, sip_status, q850);
	}
	event_active(c->ev_free, 0, 0);
}

static struct call *
call_new(enum call_dir dir)
{
	struct call *c;

	if (posix_memalign((void **)&c, CACHE_LINE, sizeof(*c)) != 0)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->ev_free = event_new(call_base, -1, 0, call_on_free, c);
	if (!c->ev_free) {
		free(c);
		return NULL;
	}
	snprintf(c->id, sizeof(c->id), "%08x", arc4random());
	c->dir = dir;
	c->pt = -1;
	c->te_pt = -1;
	c->cfg = cfg_ref(call_cfg);
	c->dtmf_info = c->cfg->sip.dtmf_info == CFG_DTMF_INFO_YES;
	TAILQ_INSERT_TAIL(&calls, c, entry);
	call_n++;
	return c;
}

/* ---- media ---- */

static enum cfg_law
pt_law(int pt)
{
	return pt == SDP_PT_PCMU ? CFG_LAW_ULAW : CFG_LAW_ALAW;
}

static void
law_convert(uint8_t *buf, size_t len, enum cfg_law from, enum cfg_law to)
{
	if (from == to)
		return;
	for (size_t i = 0; i < len; i++)
		buf[i] = from == CFG_LAW_ALAW ? alaw_to_ulaw(buf[i]) : ulaw_to_alaw(buf[i]);
}

static void
call_on_rtp_media(void *owner, const struct rtp_hdr *h)
{
	struct call *c = owner;
	uint8_t buf[CALL_PAYLOAD_MAX];
	size_t len = h->payload_len;

	if (c->te_pt >= 0 && h->pt == c->te_pt && c->sc && h->payload_len >= 4 &&
	    h->payload[0] <= 15 && (!c->te_ts_set || h->ts != c->te_ts_sent) &&
	    span_call_digit(c->sc, media_dtmf_event_digit(h->payload[0])) == 0) {
		/* overlap sending: the digit went in an INFORMATION message */
		c->te_ts_sent = h->ts;
		c->te_ts_set = true;
		return;
	}
	if (c->te_pt >= 0 && h->pt == c->te_pt) {
		if (c->te_ts_set && h->ts == c->te_ts_sent)
			return;         /* the rest of a digit sent in INFORMATION */
		if (c->din && media_dtmf_in_event(c->din, h->payload, h->payload_len, h->ts) == EINVAL)
			log_limited(&c->rl_dtmf, LOG_LEVEL_NOTICE,
			    "call=%s rtp: malformed telephone-event payload (%zu bytes)", c->id,
			    h->payload_len);
		return;
	}
	if ((h->pt != SDP_PT_PCMU && h->pt != SDP_PT_PCMA) || !c->jb)
		return; /* comfort noise and other codecs are not played */
	if (len > sizeof(buf))
		len = sizeof(buf);
	memcpy(buf, h->payload, len);
	law_convert(buf, len, pt_law(h->pt), c->law);
	if (!c->rx_ssrc_set || h->ssrc != c->rx_ssrc) {
		if (c->rx_ssrc_set)
			media_jb_reset(c->jb);
		c->rx_ssrc = h->ssrc;
		c->rx_ssrc_set = true;
	}
	/* the leg's read time: no clock read per packet */
	media_jb_put(c->jb, h->ts, buf, len, h->rx_us != 0 ? h->rx_us : now_us());
}

static void call_release(struct call *c, int q850, int sip_status);

/* No RTP for rtp_timeout (rtp_hold_timeout on hold): the Internet side is
 * gone; both sides are hung up with cause 102 (recovery on timer expiry). */
static void
call_on_rtp_timeout(void *owner)
{
	struct call *c = owner;

	if (c->state == CALL_RELEASING)
		return;
	log_call(LOG_LEVEL_NOTICE, c->id, "media timeout: no RTP received, hanging up");
	call_release(c, 102, 408);
}

/* The hint that a packet or a frame of the call comes next (from the RTP
 * leg's and the span's pipelines), one step a stage: 0, the call's hot
 * line; 1, the jitter buffer's state and the leg; 2, the buffer's audio. */
static void
call_prefetch(void *owner, unsigned int stage)
{
	const struct call *c = owner;

	switch (stage) {
	case 0:
		cache_prefetch(c, CACHE_LINE);
		break;
	case 1:
		if (c->jb != NULL)
			media_jb_prefetch(c->jb);
		rtp_leg_prefetch(c->rtp, 0);
		break;
	case 2:
		if (c->jb != NULL)
			media_jb_prefetch_data(c->jb);
		break;
	default:
		break;
	}
}

static const struct rtp_leg_cbs call_rtp_cbs = {
	.media = call_on_rtp_media,
	.timeout = call_on_rtp_timeout,
	.prefetch = call_prefetch,
};

/* The span's clock: one frame from the PSTN goes out as RTP, one frame of
 * Internet audio goes to the PSTN. */
static void
call_on_span_audio(void *owner, const uint8_t *frame, size_t len)
{
	struct call *c = owner;
	uint8_t buf[SPAN_FRAME_BYTES];
	uint64_t now = now_us();

	if (!c->sc || len != SPAN_FRAME_BYTES)
		return;
	/* what arrived before this tick is in the buffers before it plays */
	rtp_leg_drain(c->rtp, now);
	if (c->jb)
		media_jb_prefetch(c->jb);       /* while the frame is sent */
	if (c->pt >= 0 && !c->tx_muted) {
		memcpy(buf, frame, len);
		if (c->dout) {
			struct media_te_pkt pkts[MEDIA_TE_MAX];
			size_t n = 0;

			/* In-band DTMF becomes RFC 4733 events; the tone is muted. */
			media_dtmf_out_frame(c->dout, buf, rtp_leg_ts(c->rtp), pkts, &n);
			for (size_t i = 0; i < n; i++)
				rtp_leg_send_raw(c->rtp, c->te_pt, pkts[i].marker, pkts[i].ts,
				    pkts[i].payload, MEDIA_TE_LEN);
		}
		law_convert(buf, len, c->law, pt_law(c->pt));
		rtp_leg_send_at(c->rtp, buf, len, now / 1000);
	}
	if (c->jb)
		media_jb_get(c->jb, buf, now);
	else
		memset(buf, c->law == CFG_LAW_ALAW ? 0xD5 : 0xFF, sizeof(buf));
	if (c->din)
		media_dtmf_in_frame(c->din, buf);
	span_call_write(c->sc, buf, sizeof(buf));
}

/* Media state once the codec and telephone-event are known, and the span's
 * law: the jitter buffer, and the DTMF relays when telephone-event was
 * negotiated (otherwise DTMF passes in-band untouched). */
static int
call_media_start(struct call *c)
{
	if (!c->jb) {
		c->jb = media_jb_new(c->law, c->cfg->rtp.jitter_min_ms, c->cfg->rtp.jitter_max_ms);
		if (!c->jb)
			return ENOMEM;
	}
	if (c->te_pt >= 0) {
		if (!c->dout)
			c->dout = media_dtmf_out_new(c->law);
		if (!c->din)
			c->din = media_dtmf_in_new(c->law);
		if (!c->dout || !c->din)
			return ENOMEM;
	}
	return 0;
}

/* The address family of a SIP URI's host ("sip:u@[::1]:5060" is IPv6). */
static int
call_uri_family(const char *uri)
{
	const char *h = strchr(uri, '@');

	if (h == NULL)
		h = strchr(uri, ':');
	return h != NULL && h[1] == '[' ? AF_INET6 : AF_INET;
}

/* Can the leg send to a (new) remote SDP address? Its family must be the
 * leg's; an unset or unspecified one (an old-style hold) always does. */
static bool
call_rtp_family_ok(const struct call *c, const struct addr *a)
{
	int leg = strchr(c->rtp_ip, ':') != NULL ? AF_INET6 : AF_INET;

	if (!addr_is_set(a) || a->u.sa.sa_family == leg)
		return true;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_addr.s_addr == 0;
	return IN6_IS_ADDR_UNSPECIFIED(&a->u.sin6.sin6_addr);
}

/* The RTP leg toward a peer of family (AF_INET, AF_INET6), with the latch
 * mode of the user or route that applies. EAFNOSUPPORT when [rtp] has no
 * address of that family, EADDRINUSE when no port is free. */
static int
call_rtp_open(struct call *c, const struct cfg_user *user, const struct cfg_route *route,
    int family)
{
	enum cfg_latch_mode mode = cfg_latch_mode_effective(c->cfg, user, route);

	if ((c->rtp_ip = rtp_address_for(&c->cfg->rtp, family)) == NULL) {
		log_call(LOG_LEVEL_NOTICE, c->id, "rtp: the peer is %s but [rtp] has no %s address"
		    " (%s)", family == AF_INET6 ? "IPv6" : "IPv4", family == AF_INET6 ? "IPv6" :
		    "IPv4", family == AF_INET6 ? "set address6" : "address is IPv6");
		return EAFNOSUPPORT;
	}
	c->rtp = rtp_leg_new_at(call_base, &c->cfg->rtp, c->rtp_ip, c->id, &call_rtp_cbs, c);
	if (!c->rtp)
		return EADDRINUSE;
	rtp_leg_set_latch_mode(c->rtp, mode);
	log_call(LOG_LEVEL_DEBUG, c->id, "rtp: latch mode %s", cfg_latch_mode_name(mode));
	return 0;
}

static void
call_build_sdp(struct call *c, const struct sdp_choice *answer_to)
{
	struct sdp_local l;

	if (answer_to)
		sdp_local_answer(&l, answer_to);
	else
		sdp_local_offer(&l, &c->cfg->rtp.codecs);
	l.ip = c->rtp_ip;
	l.port = rtp_leg_port(c->rtp);
	l.sess_id = ++call_sdp_sess + ((unsigned long long)arc4random() << 20);
	l.sess_version = 1;
	c->sdp_sess = l.sess_id;
	c->sdp_ver = l.sess_version;
	if (sdp_write(&l, c->sdp, sizeof(c->sdp)) < 0)
		c->sdp[0] = '\0';
}

/* ---- re-INVITE / UPDATE and SIP INFO, both directions of call ---- */

/* Our description again: an answer to a new offer, or (answer_to NULL) an
 * offer with our codecs; the version goes up only when it changes. */
static int
call_rebuild_sdp(struct call *c, const struct sdp_choice *answer_to, char *out, size_t len)
{
	struct sdp_local l;
	char prev[sizeof(c->sdp)];

	if (answer_to)
		sdp_local_answer(&l, answer_to);
	else
		sdp_local_offer(&l, &c->cfg->rtp.codecs);
	l.ip = c->rtp_ip;
	l.port = rtp_leg_port(c->rtp);
	l.sess_id = c->sdp_sess;
	l.sess_version = c->sdp_ver;
	if (sdp_write(&l, prev, sizeof(prev)) < 0)
		return ENOSPC;
	if (strcmp(prev, c->sdp) != 0) {
		l.sess_version = ++c->sdp_ver;
		if (sdp_write(&l, c->sdp, sizeof(c->sdp)) < 0)
			return ENOSPC;
	}
	if (strlen(c->sdp) >= len)
		return ENOSPC;
	memcpy(out, c->sdp, strlen(c->sdp) + 1);
	return 0;
}

static const char *const call_dir_names[] = { "sendrecv", "sendonly", "recvonly", "inactive" };

/* The peer's new offer (hold, resume, codec or address change) from a
 * re-INVITE or UPDATE: the RTP leg is told (its latch rules apply to the
 * new address), hold switches the media timeout to rtp_hold_timeout; we
 * answer. answer NULL: it is the answer to the offer we made in a 2xx. */
static int
call_on_sip_reoffer(void *owner, const char *sdp, size_t sdp_len, char *answer, size_t answer_len)
{
	struct call *c = owner;
	struct sdp_media offer;
	struct sdp_choice choice;
	bool hold;

	if (c->state == CALL_RELEASING || !c->rtp)
		return 481;
	if (!sdp)
		return call_rebuild_sdp(c, NULL, answer, answer_len) == 0 ? 0 : 500;
	if (sdp_parse(sdp, sdp_len, &offer) != 0 ||
	    sdp_negotiate(&offer, &c->cfg->rtp.codecs, &choice) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "re-offer without a usable audio stream: 488");
		return 488;
	}
	if (!call_rtp_family_ok(c, &offer.addr)) {
		log_call(LOG_LEVEL_NOTICE, c->id, "re-offer moves the media to another address"
		    " family than the RTP leg's (%s): 488", c->rtp_ip);
		return 488;
	}
	hold = offer.dir != SDP_SENDRECV;
	if (choice.pt != c->pt)
		log_call(LOG_LEVEL_INFO, c->id, "codec %s -> %s", sdp_pt_name(c->pt),
		    sdp_pt_name(choice.pt));
	log_call(LOG_LEVEL_INFO, c->id, "re-offer: %s, our direction %s", call_dir_names[offer.dir],
	    call_dir_names[choice.dir]);
	c->pt = choice.pt;
	c->te_pt = choice.te_pt;
	c->tx_muted = choice.dir == SDP_RECVONLY || choice.dir == SDP_INACTIVE;
	rtp_leg_set_rtcp_mux(c->rtp, offer.rtcp_mux != 0);
	rtp_leg_set_remote(c->rtp, &offer.addr, choice.pt);
	rtp_leg_set_hold(c->rtp, hold);
	if (c->sc && call_media_start(c) != 0)
		return 500;
	if (!answer)
		return 0;
	return call_rebuild_sdp(c, &choice, answer, answer_len) == 0 ? 0 : 500;
}

/* A digit from SIP INFO, played to the PSTN like an RFC 4733 event. */
static int
call_on_sip_dtmf(void *owner, char digit, unsigned int duration_ms)
{
	struct call *c = owner;

	if (!c->dtmf_info)
		return ENOTSUP;
	if (!c->sc || c->state == CALL_RELEASING)
		return EINVAL;
	if (span_call_digit(c->sc, digit) == 0)
		return 0;       /* overlap sending: in INFORMATION */
	if (!c->din && !(c->din = media_dtmf_in_new(c->law)))
		return ENOMEM;
	log_call(LOG_LEVEL_INFO, c->id, "DTMF %c (%u ms) from SIP INFO to the PSTN", digit,
	    duration_ms);
	return media_dtmf_in_digit(c->din, digit, duration_ms);
}

/* ---- SIP to PSTN ---- */

static void
sip_side_on_alerting(void *owner, int inband)
{
	struct call *c = owner;

	if (!c->sip || c->state >= CALL_UP)
		return;
	if (inband) {
		if (c->state != CALL_EARLY)
			sip_leg_respond(c->sip, 183, c->sdp, 0);
		call_set_state(c, CALL_EARLY);
	} else if (c->state < CALL_RINGING) {
		/* 180 with our SDP answer (RFC 3960, gateway model): the
		 * caller plays the ringback we generate. */
		sip_leg_respond(c->sip, 180, c->sdp, 0);
		call_set_state(c, CALL_RINGING);
		call_ringback_start(c);
	}
}

static void
sip_side_on_progress(void *owner, int inband)
{
	struct call *c = owner;

	if (inband)
		sip_side_on_alerting(owner, inband);
	else if (c->state < CALL_PROCEEDING)
		call_set_state(c, CALL_PROCEEDING);
	if (!inband && c->sip && c->state == CALL_PROCEEDING && !c->ringback) {
		/* PROGRESS without in-band information: 183 with our SDP,
		 * and ringback of our own. */
		sip_leg_respond(c->sip, 183, c->sdp, 0);
		call_ringback_start(c);
	}
}

static void
sip_side_on_proceeding(void *owner)
{
	struct call *c = owner;

	if (c->state < CALL_PROCEEDING)
		call_set_state(c, CALL_PROCEEDING);
}

static void
sip_side_on_answered(void *owner)
{
	struct call *c = owner;

	if (!c->sip)
		return;
	if (sip_leg_respond(c->sip, 200, c->sdp, 0) != 0) {
		call_release(c, 41, 500);
		return;
	}
	call_set_state(c, CALL_UP);
}

static void
call_on_span_hangup(void *owner, int cause)
{
	struct call *c = owner;

	log_call(LOG_LEVEL_INFO, c->id, "pstn hangup cause %d (%s)", cause, cause_name(cause));
	c->sc = NULL;
	call_release(c, cause, c->answered ? 0 : cause_to_sip(cause));
}

/* Overlap sending: the PSTN waits for more digits; 183 with our SDP lets
 * the caller send them (RFC 4733 or SIP INFO) in the early dialog. */
static void
sip_side_on_setup_ack(void *owner)
{
	struct call *c = owner;

	if (!c->sip || c->state >= CALL_RINGING)
		return;
	log_call(LOG_LEVEL_INFO, c->id, "overlap sending: digits from the caller go to the PSTN");
	sip_leg_respond(c->sip, 183, c->sdp, 0);
}

static const struct span_call_cbs sip_side_span_cbs = {
	.setup_ack = sip_side_on_setup_ack,
	.proceeding = sip_side_on_proceeding,
	.alerting = sip_side_on_alerting,
	.progress = sip_side_on_progress,
	.answered = sip_side_on_answered,
	.hangup = call_on_span_hangup,
	.audio = call_on_span_audio,
	.prefetch = call_prefetch,
};

static void
call_on_sip_ended(void *owner, int status, int q850)
{
	struct call *c = owner;
	int cause = q850 ? q850 : (status ? cause_from_sip(status) : 16);

	log_call(LOG_LEVEL_INFO, c->id, "sip side ended (status %d, cause %d)", status, cause);
	c->sip = NULL;
	call_release(c, cause, 0);
}

static void
sip_side_on_confirmed(void *owner)
{
	struct call *c = owner;

	log_call(LOG_LEVEL_DEBUG, c->id, "ACK received");
}

static const struct sip_leg_cbs sip_side_sip_cbs = {
	.confirmed = sip_side_on_confirmed,
	.ended = call_on_sip_ended,
	.reoffer = call_on_sip_reoffer,
	.dtmf = call_on_sip_dtmf,
};

/* Over [general] max_calls: new calls get 503 with this Retry-After. */
#define CALL_RETRY_AFTER 10

static bool
call_over_global_limit(void)
{
	unsigned int max = call_cfg ? call_cfg->general.max_calls : 0;

	return max > 0 && call_n >= max;
}

/* The toll-fraud policy of a call from SIP, once its route is known: the
 * destination prefixes (checked on the number as dialled and as it goes
 * to the PSTN), then the caller's concurrent and per-minute limits. An
 * authenticated user gets its allow/deny lists over [general]
 * default_deny; a trusted source only [sip] trusted_deny (when set). 0
 * when the call may go on; otherwise it is released with 403 (cause 21)
 * and EACCES returned. */
static int
call_policy(struct call *c, const struct sip_invite *inv, const char *number)
{
	const struct cfg_user *u = inv->auth_user ? cfg_user_find(c->cfg, inv->auth_user) : NULL;
	const struct cfg_trunk *t = !u && inv->trunk ? cfg_trunk_find(c->cfg, inv->trunk) : NULL;
	const struct cfg_policy *pol = u ? &u->policy : t ? &t->policy : NULL;
	const char *kind = u ? "user" : t ? "trunk" : "trusted";
	const struct cfg_strlist *allow = NULL, *deny = NULL, *dflt = NULL;
	const char *nums[2] = { c->called, number }, *m = NULL, *who;
	enum limits_verdict v = LIMITS_OK;
	char src[ADDR_STRLEN], key[sizeof(c->limit_key)];
	size_t i;

	if (pol) {
		allow = &pol->allow;
		deny = &pol->deny;
		dflt = &c->cfg->general.default_deny;
		who = u ? u->name : t->name;
	} else if (inv->trusted) {
		if (c->cfg->sip.trusted_deny.n == 0)
			return 0;
		deny = &c->cfg->sip.trusted_deny;
		who = addr_str(&inv->source, src, sizeof(src));
	} else {
		dflt = &c->cfg->general.default_deny;
		who = addr_str(&inv->source, src, sizeof(src));
	}
	for (i = 0; i < 2 && v == LIMITS_OK; i++)
		v = limits_prefix_check(nums[i], allow, deny, dflt, &m);
	if (v != LIMITS_OK) {
		log_call(LOG_LEVEL_NOTICE, c->id, "%s %s: %s %s%s%s: 403", kind, who, limits_verdict_name(v), nums[i - 1], m ? " by prefix " : "", m ? m : "");
		call_release(c, 21, 403);
		return EACCES;
	}
	if (!pol)
		return 0;
	snprintf(key, sizeof(key), "%s:%s", kind, who);
	v = limits_call_admit(call_limits, key, pol, now_us() / 1000);
	if (v != LIMITS_OK) {
		log_call(LOG_LEVEL_NOTICE, c->id, "%s %s: over %s (%u live calls): 403", kind, who,
		    limits_verdict_name(v), limits_calls(call_limits, key));
		call_release(c, 21, 403);
		return EACCES;
	}
	snprintf(c->limit_key, sizeof(c->limit_key), "%s", key);
	c->max_duration = pol->max_duration;
	return 0;
}

/* A call from a [trunk]: the called number after in_strip/in_prepend and
 * both numbers in its in_format, before routing. */
static int
call_trunk_in_numbers(struct call *c, const char *name)
{
	const struct cfg_trunk *t = cfg_trunk_find(c->cfg, name);
	char n[CALL_NUM_MAX];
	int err;

	if (!t)
		return 0;
	if ((err = sip_trunk_number(t, &t->in, 1, c->called, n, sizeof(n))) != 0)
		return err;
	snprintf(c->called, sizeof(c->called), "%s", n);
	if (c->calling[0] && sip_trunk_number(t, &t->in, 0, c->calling, n, sizeof(n)) == 0)
		snprintf(c->calling, sizeof(c->calling), "%s", n);
	return 0;
}

void
call_on_sip_invite(void *arg, const struct sip_invite *inv)
{
	const struct cfg_route *r;
	struct sdp_media offer;
	struct sdp_choice choice;
	struct call *c;
	char number[CALL_NUM_MAX];
	size_t refused = 0;
	int cause = 3, err;

	if (!call_accepting_flag) {
		sip_leg_hangup(inv->leg, 503, 0);
		return;
	}
	if (!inv->trusted && !inv->auth_user && !inv->trunk) {
		/* The SIP stack challenges; this is the last line of defence. */
		char src[ADDR_STRLEN];

		log_warnx("sip: call from untrusted unauthenticated %s refused (call-id %s)",
		    addr_str(&inv->source, src, sizeof(src)), inv->call_id);
		sip_leg_hangup(inv->leg, 403, 0);
		return;
	}
	if (call_over_global_limit()) {
		log_notice("sip: [general] max_calls (%u) reached: 503 (call-id %s)",
		    call_cfg->general.max_calls, inv->call_id);
		sip_leg_set_retry_after(inv->leg, CALL_RETRY_AFTER);
		sip_leg_hangup(inv->leg, 503, 34);
		return;
	}
	c = call_new(CALL_FROM_SIP);
	if (!c) {
		sip_leg_hangup(inv->leg, 503, 47);
		return;
	}
	c->sip = inv->leg;
	sip_leg_attach(c->sip, &sip_side_sip_cbs, c);
	if (inv->auth_user) {
		const struct cfg_user *u = cfg_user_find(c->cfg, inv->auth_user);

		if (u && u->dtmf_info != CFG_DTMF_INFO_INHERIT)
			c->dtmf_info = u->dtmf_info == CFG_DTMF_INFO_YES;
	}
	snprintf(c->sip_callid, sizeof(c->sip_callid), "%s", inv->call_id ? inv->call_id : "-");
	snprintf(c->called, sizeof(c->called), "%s", inv->called ? inv->called : "");
	/* The asserted identity (RFC 3325, trusted sources only) is the
	 * caller's number, whatever From says (anonymous with privacy). */
	snprintf(c->calling, sizeof(c->calling), "%s", inv->asserted ? inv->asserted :
	    inv->calling ? inv->calling : "");
	if (inv->trunk && call_trunk_in_numbers(c, inv->trunk) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "trunk %s: %s not usable after in_strip: 404",
		    inv->trunk, c->called);
		call_release(c, 1, 404);
		return;
	}
	{
		char src[ADDR_STRLEN];
		log_call(LOG_LEVEL_INFO, c->id, "sip INVITE %s -> %s from %s%s%s (call-id %s)",
		    c->calling, c->called, addr_str(&inv->source, src, sizeof(src)),
		    inv->auth_user ? " user " : "", inv->auth_user ? inv->auth_user : "",
		    c->sip_callid);
	}

	if (!inv->sdp || sdp_parse(inv->sdp, inv->sdp_len, &offer) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "no usable SDP offer: 488");
		call_release(c, 65, 488);
		return;
	}
	if (sdp_negotiate(&offer, &c->cfg->rtp.codecs, &choice) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "no common codec: 488");
		call_release(c, 65, 488);
		return;
	}
	r = route_find(c->cfg, CFG_ROUTE_OUTBOUND, c->called);
	if (!r || route_number(r, c->called, number, sizeof(number)) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "no route for %s: 404", c->called);
		call_release(c, 3, 404);
		return;
	}
	if (call_policy(c, inv, number) != 0)
		return;
	/* RTP in the family of the offer's c= (the SIP source's without one) */
	if ((err = call_rtp_open(c, inv->auth_user ? cfg_user_find(c->cfg, inv->auth_user) : NULL,
	    r, addr_is_set(&offer.addr) ? offer.addr.u.sa.sa_family :
	    inv->source.u.sa.sa_family)) != 0) {
		if (err == EAFNOSUPPORT) {
			call_release(c, 65, 488);
			return;
		}
		log_call(LOG_LEVEL_ERROR, c->id, "no RTP port free");
		call_release(c, 47, 503);
		return;
	}
	c->pt = choice.pt;
	c->te_pt = choice.te_pt;
	rtp_leg_set_signal_addr(c->rtp, &inv->source);
	rtp_leg_set_rtcp_mux(c->rtp, offer.rtcp_mux != 0);
	rtp_leg_set_remote(c->rtp, &offer.addr, choice.pt);
	call_build_sdp(c, &choice);

	for (size_t i = 0; i < r->spans.n; i++) {
		struct span *s = span_find(r->spans.v[i]);
		/* Privacy: id: the number goes with presentation restricted,
		 * the name not at all. */
		struct span_party party = { inv->privacy_id ? NULL : inv->calling_name,
		    inv->privacy_id, inv->diversion };
		int why = 38;

		if (!s)
			continue;
		c->law = span_law(s);
		if (span_call_new_party(s, number, c->calling, &party, &sip_side_span_cbs, c,
		    &c->sc, &why) == 0) {
			snprintf(c->span, sizeof(c->span), "%s", span_name(s));
			snprintf(c->tonezone, sizeof(c->tonezone), "%s",
			    span_tonezone(s) ? span_tonezone(s) : "");
			c->chan = span_call_channel(c->sc);
			if (call_media_start(c) != 0) {
				call_release(c, 47, 503);
				return;
			}
			span_call_set_callid(c->sc, c->id);
			log_call(LOG_LEVEL_INFO, c->id, "route %s: SETUP %s on span %s channel %d",
			    r->name, number, c->span, c->chan);
			call_set_state(c, CALL_PROCEEDING);
			return;
		}
		cause = why;
		refused++;
		log_call(LOG_LEVEL_DEBUG, c->id, "span %s refused: cause %d", r->spans.v[i], why);
	}
	if (refused > 0)
		log_call(LOG_LEVEL_NOTICE, c->id, "route %s: %zu of %zu spans refused, last cause %d",
		    r->name, refused, r->spans.n, cause);
	if (cause == 3)
		cause = 38; /* no span of the route exists or is up */
	/* All B-channels busy (34) or congestion (42): 503, and the caller
	 * may try again after CALL_RETRY_AFTER. */
	if ((cause == 34 || cause == 42) && c->sip)
		sip_leg_set_retry_after(c->sip, CALL_RETRY_AFTER);
	call_release(c, cause, cause_to_sip(cause));
}

/* ---- PSTN to SIP ---- */

static void
pstn_side_on_sip_progress(void *owner, int status, const char *sdp, size_t sdp_len)
{
	struct call *c = owner;

	if (!c->sc || c->state >= CALL_RINGING)
		return;
	span_call_alerting(c->sc);
	call_set_state(c, CALL_RINGING);
}

static int
pstn_side_take_answer(struct call *c, const char *sdp, size_t sdp_len)
{
	struct sdp_media ans;

	if (!sdp || sdp_parse(sdp, sdp_len, &ans) != 0 || !call_rtp_family_ok(c, &ans.addr))
		return EINVAL;
	for (size_t i = 0; i < ans.n_pt; i++) {
		if (ans.pt[i] != SDP_PT_PCMU && ans.pt[i] != SDP_PT_PCMA)
			continue;
		for (size_t j = 0; j < c->cfg->rtp.codecs.n; j++) {
			if (sdp_codec_pt(c->cfg->rtp.codecs.v[j]) == ans.pt[i]) {
				c->pt = ans.pt[i];
				c->te_pt = ans.te_pt;
				if (c->sip)
					rtp_leg_set_signal_addr(c->rtp, sip_leg_peer(c->sip));
				rtp_leg_set_rtcp_mux(c->rtp, ans.rtcp_mux != 0);
				rtp_leg_set_remote(c->rtp, &ans.addr, c->pt);
				return 0;
			}
		}
	}
	return ENOENT;
}

static void
pstn_side_on_sip_answered(void *owner, const char *sdp, size_t sdp_len)
{
	struct call *c = owner;

	if (!c->sc)
		return;
	if (pstn_side_take_answer(c, sdp, sdp_len) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "answer without a usable SDP: hanging up");
		call_release(c, 65, 488);
		return;
	}
	if (call_media_start(c) != 0) {
		call_release(c, 47, 503);
		return;
	}
	span_call_answer(c->sc);
	call_set_state(c, CALL_UP);
}

static const struct sip_leg_cbs pstn_side_sip_cbs = {
	.progress = pstn_side_on_sip_progress,
	.answered = pstn_side_on_sip_answered,
	.ended = call_on_sip_ended,
	.reoffer = call_on_sip_reoffer,
	.dtmf = call_on_sip_dtmf,
};

static void
pstn_side_on_answered(void *owner)
{
	/* CONNECT ACKNOWLEDGE: nothing to do, media already flows. */
}

static const struct span_call_cbs pstn_side_span_cbs = {
	.answered = pstn_side_on_answered,
	.hangup = call_on_span_hangup,
	.audio = call_on_span_audio,
	.prefetch = call_prefetch,
};

/* The [user] one of whose numbers is `number`, or NULL. */
static const struct cfg_user *
call_user_by_number(const struct cfg *cfg, const char *number)
{
	for (size_t i = 0; i < cfg->n_users; i++) {
		for (size_t j = 0; j < cfg->users[i].numbers.n; j++) {
			if (strcmp(cfg->users[i].numbers.v[j], number) == 0)
				return &cfg->users[i];
		}
	}
	return NULL;
}

/* The built-in directory: a called number of a [user] rings that user's
 * registered contacts (all at once), before any inbound [route]. True when
 * the call was taken (placed or released); false when no user has it. */
static bool
call_to_user(struct call *c)
{
	const struct cfg_user *u = call_user_by_number(c->cfg, c->called);
	int family, err;

	if (u == NULL)
		return false;
	/* RTP in the family of the contact refreshed last (a fork to contacts
	 * of both families gets that family's SDP) */
	if ((family = sip_user_contact_family(u->name)) == AF_UNSPEC)
		family = AF_INET;
	if ((err = call_rtp_open(c, u, NULL, family)) != 0) {
		if (err == EAFNOSUPPORT) {
			call_release(c, 65, 488);
			return true;
		}
		log_call(LOG_LEVEL_ERROR, c->id, "no RTP port free");
		call_release(c, 47, 503);
		return true;
	}
	call_build_sdp(c, NULL);
	err = sip_leg_invite_user(u->name, c->calling, NULL, c->sdp, &pstn_side_sip_cbs, c, &c->sip);
	if (err == ENOENT) {
		log_call(LOG_LEVEL_NOTICE, c->id, "user %s (number %s) is not registered", u->name,
		    c->called);
		c->sip = NULL;
		call_release(c, 20, 480);
		return true;
	}
	if (err != 0) {
		log_call(LOG_LEVEL_ERROR, c->id, "cannot call user %s: %s", u->name, strerror(err));
		c->sip = NULL;
		call_release(c, 41, 500);
		return true;
	}
	snprintf(c->sip_callid, sizeof(c->sip_callid), "%s", sip_leg_call_id(c->sip));
	log_call(LOG_LEVEL_INFO, c->id, "user %s: INVITE to its contacts (call-id %s)", u->name,
	    c->sip_callid);
	span_call_proceeding(c->sc);
	call_set_state(c, CALL_PROCEEDING);
	return true;
}

void
call_on_span_incoming(void *arg, const struct span_incoming *in)
{
	struct sip_identity id;
	const struct cfg_route *r;
	const struct cfg_trunk *t;
	struct call *c;
	char uri[512];
	int family, err;

	if (!call_accepting_flag) {
		span_call_hangup(in->sc, 42);
		return;
	}
	if (call_over_global_limit()) {
		log_notice("pstn: [general] max_calls (%u) reached: cause 34",
		    call_cfg->general.max_calls);
		span_call_hangup(in->sc, 34);
		return;
	}
	c = call_new(CALL_FROM_PSTN);
	if (!c) {
		span_call_hangup(in->sc, 47);
		return;
	}
	c->sc = in->sc;
	span_call_attach(c->sc, &pstn_side_span_cbs, c);
	span_call_set_callid(c->sc, c->id);
	c->law = span_law(in->span);
	c->chan = span_call_channel(in->sc);
	snprintf(c->span, sizeof(c->span), "%s", span_name(in->span));
	snprintf(c->called, sizeof(c->called), "%s", in->called ? in->called : "");
	snprintf(c->calling, sizeof(c->calling), "%s", in->calling ? in->calling : "");
	log_call(LOG_LEVEL_INFO, c->id, "pstn SETUP %s -> %s on span %s channel %d%s%s%s",
	    c->calling, c->called, c->span, c->chan,
	    in->calling_restricted ? " (presentation restricted)" : "",
	    in->redirecting != NULL && in->redirecting[0] != '\0' ? " diverted from " : "",
	    in->redirecting != NULL ? in->redirecting : "");

	if (call_to_user(c))
		return;
	r = route_find(c->cfg, CFG_ROUTE_INBOUND, c->called);
	if (!r || route_target(r, c->called, uri, sizeof(uri)) != 0) {
		log_call(LOG_LEVEL_NOTICE, c->id, "no inbound route for %s", c->called);
		call_release(c, 1, 404);
		return;
	}
	/* RTP in the family of the trunk's host or the route's URI host */
	if (r->trunk && (t = cfg_trunk_find(c->cfg, r->trunk)) != NULL && t->host != NULL)
		family = strchr(t->host, ':') != NULL ? AF_INET6 : AF_INET;
	else
		family = call_uri_family(uri);
	if ((err = call_rtp_open(c, NULL, r, family)) != 0) {
		if (err == EAFNOSUPPORT) {
			call_release(c, 65, 488);
			return;
		}
		log_call(LOG_LEVEL_ERROR, c->id, "no RTP port free");
		call_release(c, 47, 503);
		return;
	}
	call_build_sdp(c, NULL);
	id.calling = c->calling;
	id.calling_name = in->calling_name != NULL && in->calling_name[0] != '\0' ?
	    in->calling_name : NULL;
	id.privacy = in->calling_restricted;
	id.diversion = in->redirecting != NULL && in->redirecting[0] != '\0' ?
	    in->redirecting : NULL;
	if (r->trunk)       /* a [trunk]: its proxy, number format and credentials */
		snprintf(uri, sizeof(uri), "trunk %s", r->trunk);
	if (r->trunk ? sip_leg_invite_trunk(cfg_trunk_find(c->cfg, r->trunk), c->called, &id,
	    c->sdp, &pstn_side_sip_cbs, c, &c->sip) != 0 :
	    sip_leg_invite_identity(uri, &id, c->sdp, &pstn_side_sip_cbs, c, &c->sip) != 0) {
		log_call(LOG_LEVEL_ERROR, c->id, "cannot send INVITE to %s", uri);
		c->sip = NULL;
		call_release(c, 41, 500);
		return;
	}
	snprintf(c->sip_callid, sizeof(c->sip_callid), "%s", sip_leg_call_id(c->sip));
	log_call(LOG_LEVEL_INFO, c->id, "route %s: INVITE %s (call-id %s)", r->name, uri,
	    c->sip_callid);
	span_call_proceeding(c->sc);
	call_set_state(c, CALL_PROCEEDING);
}

/* ---- the module ---- */

/* Inbound overlap dialing: the length of the numbers of the inbound route
 * that a number being dialled falls in (0: unknown). */
static unsigned int
call_number_len(const char *number)
{
	const struct cfg_route *r;

	if (!call_cfg || !(r = route_find(call_cfg, CFG_ROUTE_INBOUND, number)))
		return 0;
	return r->digits;
}

int
call_init(struct event_base *base, struct cfg *cfg)
{
	call_base = base;
	span_set_number_len_cb(call_number_len);
	if (!call_limits && !(call_limits = limits_new()))
		return ENOMEM;
	call_cfg = cfg_ref(cfg);
	return 0;
}

void
call_set_cfg(struct cfg *cfg)
{
	struct cfg *old = call_cfg;

	call_cfg = cfg_ref(cfg);
	cfg_unref(old);
}

void
call_set_accepting(int accepting)
{
	call_accepting_flag = accepting;
}

int
call_accepting(void)
{
	return call_accepting_flag;
}

void
call_hangup_all(void)
{
	struct call *c;

	TAILQ_FOREACH(c, &calls, entry)
		if (c->state != CALL_RELEASING)
			call_release(c, 16, 503);
}

size_t
call_count(void)
{
	return call_n;
}

void
call_shutdown(void)
{
	struct call *c;

	call_hangup_all();
	while ((c = TAILQ_FIRST(&calls)) != NULL)
		call_on_free(-1, 0, c);
	if (call_cfg)
		cfg_unref(call_cfg);
	call_cfg = NULL;
	limits_free(call_limits);
	call_limits = NULL;
}

void
call_list_write(struct evbuffer *out)
{
	struct call *c;

	TAILQ_FOREACH(c, &calls, entry) {
		char local[ADDR_STRLEN] = "-", remote[ADDR_STRLEN] = "-";
		struct rtp_stats st = {0};

		if (c->rtp) {
			const struct addr *d = rtp_leg_dest(c->rtp);

			snprintf(local, sizeof(local), strchr(c->rtp_ip, ':') ? "[%s]:%u" : "%s:%u",
			    c->rtp_ip, rtp_leg_port(c->rtp));
			if (d)
				addr_str(d, remote, sizeof(remote));
			rtp_leg_stats(c->rtp, &st);
		}
		evbuffer_add_printf(out,
		    "id=%s state=%s span=%s chan=%d sip=%s rtp_local=%s rtp_remote=%s rx=%lu tx=%lu"
		    " called=%s calling=%s latch=%s nat=%s relatches=%u rejected=%lu bad=%lu\n",
		    c->id, call_state_name(c->state), c->span[0] ? c->span : "-", c->chan,
		    c->sip_callid[0] ? c->sip_callid : "-", local, remote, st.rx_packets,
		    st.tx_packets, c->called[0] ? c->called : "-", c->calling[0] ? c->calling : "-",
		    c->rtp ? cfg_latch_mode_name(st.latch_mode) : "-", st.nat ? "yes" : "no",
		    st.relatches, st.rx_rejected, st.rx_bad);
	}
}
