/* Where to send RTP: the address the peer signalled, or the source of its
 * RTP when that shows the peer is behind a NAT, learned by one of the
 * latch modes. Pure: no clock, no socket; `now` is passed in. */
#include "rtp/rtp.h"

#include <string.h>

const char *
rtp_latch_verdict_name(enum rtp_latch_verdict v)
{
	switch (v) {
	case RTP_LATCH_DROP:
		return "drop";
	case RTP_LATCH_ACCEPT:
		return "accept";
	case RTP_LATCH_CHANGED:
		return "changed";
	}
	return "?";
}

/* An address we can send to: set, a port, and not 0.0.0.0 / :: (an old
 * style hold). */
static bool
rtp_latch_usable(const struct addr *a)
{
	if (!addr_is_set(a) || addr_port(a) == 0)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_addr.s_addr != 0;
	return !IN6_IS_ADDR_UNSPECIFIED(&a->u.sin6.sin6_addr);
}

static void
rtp_latch_update_nat(struct rtp_latch *l)
{
	l->nat = l->have_learned && !addr_ip_eq(&l->learned, &l->sdp);
}

void
rtp_latch_init(struct rtp_latch *l, enum cfg_latch_mode mode, const struct addr *sdp)
{
	memset(l, 0, sizeof(*l));
	l->mode = mode == CFG_LATCH_INHERIT ? CFG_LATCH_STRICT : mode;
	l->window_ms = RTP_LATCH_WINDOW_MS;
	l->probation = RTP_LATCH_PROBATION;
	l->silence_ms = RTP_LATCH_SILENCE_MS;
	if (sdp)
		l->sdp = *sdp;
}

void
rtp_latch_set_params(struct rtp_latch *l, unsigned int window_ms, unsigned int probation,
                     unsigned int silence_ms)
{
	l->window_ms = window_ms;
	l->probation = probation > 0 ? probation : 1;
	l->silence_ms = silence_ms;
}

void
rtp_latch_set_mode(struct rtp_latch *l, enum cfg_latch_mode mode)
{
	if (mode == CFG_LATCH_INHERIT)
		return;
	l->mode = mode;
	l->cand.active = false;
}

void
rtp_latch_set_sdp(struct rtp_latch *l, const struct addr *sdp)
{
	if (sdp)
		l->sdp = *sdp;
	else
		memset(&l->sdp, 0, sizeof(l->sdp));
	rtp_latch_update_nat(l);
}

void
rtp_latch_set_signal(struct rtp_latch *l, const struct addr *sig)
{
	if (sig)
		l->signal = *sig;
	else
		memset(&l->signal, 0, sizeof(l->signal));
}

/* strict: the IPs learning is allowed from. */
static bool
rtp_latch_allowed(const struct rtp_latch *l, const struct addr *src)
{
	if (rtp_latch_usable(&l->sdp) && addr_ip_eq(src, &l->sdp))
		return true;
	return addr_is_set(&l->signal) && addr_ip_eq(src, &l->signal);
}

/* Make src (with its stream) the learned source. */
static enum rtp_latch_verdict
rtp_latch_learn(struct rtp_latch *l, const struct addr *src, uint32_t ssrc, uint16_t seq,
                uint64_t now)
{
	bool changed = !l->have_learned || !addr_eq(&l->learned, src);

	if (changed) {
		l->have_prev = l->have_learned;
		if (l->have_learned) {
			l->prev = l->learned;
			l->relatches++;
		}
		l->learned = *src;
		l->have_learned = true;
		rtp_latch_update_nat(l);
	} else if (ssrc != l->ssrc)
		l->ssrc_changes++;
	l->ssrc = ssrc;
	l->seq = seq;
	l->last_rx = now;
	l->cur_packets = 1;
	l->cand.active = false;
	return changed ? RTP_LATCH_CHANGED : RTP_LATCH_ACCEPT;
}

/* strict: src sends (ssrc, seq) and is not the current stream. */
static enum rtp_latch_verdict
rtp_latch_strict(struct rtp_latch *l, const struct addr *src, uint32_t ssrc, uint16_t seq,
                 uint64_t now)
{
	bool from_cur = l->have_learned && addr_eq(&l->learned, src);
	bool silent, continues;

	if (!from_cur && !rtp_latch_allowed(l, src))
		return RTP_LATCH_DROP;
	/* Probation: consecutive packets of one SSRC from one source. */
	if (l->cand.active && addr_eq(&l->cand.src, src) && l->cand.ssrc == ssrc &&
	    (uint16_t)(l->cand.seq + 1) == seq) {
		l->cand.seq = seq;
		l->cand.n++;
	} else {
		l->cand.active = true;
		l->cand.src = *src;
		l->cand.ssrc = ssrc;
		l->cand.first_seq = l->cand.seq = seq;
		l->cand.n = 1;
		l->cand.cur_packets = l->cur_packets;
	}
	if (l->cand.n < l->probation)
		return RTP_LATCH_DROP;
	if (!l->have_learned)
		return rtp_latch_learn(l, src, ssrc, seq, now);
	/* Media has flowed: the current stream must have gone quiet, or the
	 * newcomer picks up its sequence where it stopped (a NAT rebinding)
	 * while it sent nothing more. */
	silent = now >= l->last_rx && now - l->last_rx >= l->silence_ms;
	continues = l->cand.ssrc == l->ssrc && l->cand.cur_packets == l->cur_packets &&
	    (uint16_t)(l->cand.first_seq - l->seq) >= 1 &&
	    (uint16_t)(l->cand.first_seq - l->seq) <= RTP_LATCH_MAX_GAP;
	if (!silent && !continues)
		return RTP_LATCH_DROP;
	return rtp_latch_learn(l, src, ssrc, seq, now);
}

enum rtp_latch_verdict
rtp_latch_on_packet(struct rtp_latch *l, const struct addr *src, uint32_t ssrc, uint16_t seq,
                    uint64_t now)
{
	if (now > l->now)
		l->now = now;
	if (!addr_is_set(src))
		return RTP_LATCH_DROP;
	switch (l->mode) {
	case CFG_LATCH_OFF:
	case CFG_LATCH_INHERIT:
		return RTP_LATCH_ACCEPT;
	case CFG_LATCH_ON_CHANGE:
	case CFG_LATCH_RECENT:
	case CFG_LATCH_WINDOW:
		if (l->have_learned && addr_eq(&l->learned, src)) {
			l->ssrc = ssrc;
			l->seq = seq;
			l->last_rx = now;
			l->cur_packets++;
			return RTP_LATCH_ACCEPT;
		}
		return rtp_latch_learn(l, src, ssrc, seq, now);
	case CFG_LATCH_STRICT:
		if (l->have_learned && addr_eq(&l->learned, src) && ssrc == l->ssrc) {
			l->seq = seq;
			l->last_rx = now;
			l->cur_packets++;
			return RTP_LATCH_ACCEPT;
		}
		return rtp_latch_strict(l, src, ssrc, seq, now);
	}
	return RTP_LATCH_DROP;
}

bool
rtp_latch_on_probation(const struct rtp_latch *l, const struct addr *src, uint32_t ssrc,
                       uint16_t seq)
{
	return l->mode == CFG_LATCH_STRICT && l->cand.active && l->cand.n < l->probation &&
	    l->cand.ssrc == ssrc && l->cand.seq == seq && addr_eq(&l->cand.src, src);
}

bool
rtp_latch_rtcp_ok(const struct rtp_latch *l, const struct addr *src)
{
	if (!addr_is_set(src))
		return false;
	if (l->mode != CFG_LATCH_STRICT)
		return true;
	if (l->have_learned && addr_ip_eq(&l->learned, src))
		return true;
	return rtp_latch_allowed(l, src);
}

const struct addr *
rtp_latch_dest_at(const struct rtp_latch *l, uint64_t now)
{
	bool sdp_ok = rtp_latch_usable(&l->sdp);

	if (l->mode == CFG_LATCH_OFF || !l->have_learned)
		return sdp_ok ? &l->sdp : NULL;
	/* Same IP as signalled: not behind a NAT. Keep to the signalled port,
	 * which a peer that sends from another port still listens on. */
	if (sdp_ok && addr_ip_eq(&l->learned, &l->sdp))
		return &l->sdp;
	/* window: a stale source is not used */
	if (l->mode == CFG_LATCH_WINDOW && now > l->last_rx && now - l->last_rx > l->window_ms)
		return sdp_ok ? &l->sdp : NULL;
	return &l->learned;
}

const struct addr *
rtp_latch_dest(const struct rtp_latch *l)
{
	return rtp_latch_dest_at(l, l->now);
}

bool
rtp_latch_rtcp_dest(const struct rtp_latch *l, uint64_t now, bool mux, const struct addr *rtcp_src,
                    struct addr *out)
{
	const struct addr *d = rtp_latch_dest_at(l, now);

	if (d == NULL)
		return false;
	*out = *d;
	if (mux)
		return true;
	if (d == &l->sdp) {
		addr_set_port(out, addr_port(d) + 1 > 65535 ? 0 : addr_port(d) + 1);
		return addr_port(out) != 0;
	}
	/* Behind a NAT the mapping of the RTCP port is unknown until the
	 * peer's RTCP shows it: never guess a port on someone's NAT. */
	if (rtcp_src != NULL && addr_is_set(rtcp_src) && addr_ip_eq(rtcp_src, d)) {
		*out = *rtcp_src;
		return true;
	}
	return false;
}
