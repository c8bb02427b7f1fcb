/* Receive statistics of one RTP source: the extended sequence number with
 * wraps, expected and lost packets (RFC 3550 A.1, A.3) and the interarrival
 * jitter (A.8). Pure: the arrival time is passed in. */
#include "rtp/rtp.h"

#include <string.h>

/* A timestamp step larger than this many seconds of the clock is a
 * discontinuity (a new talkspurt base, a restarted sender), not jitter. */
#define RTP_TS_JUMP_S 10

static void
rtp_rxstat_restart(struct rtp_rxstat *s, uint16_t seq)
{
	s->max_seq = seq;
	s->cycles = 0;
	s->base_seq = seq;
	s->bad_seq = 65536 + 1;         /* matches no 16-bit sequence */
	s->received = 0;
	s->expected_prior = 0;
	s->received_prior = 0;
	s->have_transit = false;
}

void
rtp_rxstat_init(struct rtp_rxstat *s, uint32_t ssrc, uint16_t seq, uint32_t rate)
{
	memset(s, 0, sizeof(*s));
	s->init = true;
	s->ssrc = ssrc;
	s->rate = rate ? rate : 8000;
	rtp_rxstat_restart(s, seq);
}

static void
rtp_rxstat_jitter(struct rtp_rxstat *s, uint32_t ts, uint64_t now)
{
	uint32_t arrival = (uint32_t)(now * s->rate / 1000);
	uint32_t transit = arrival - ts;
	uint32_t d;

	if (!s->have_transit) {
		s->transit = transit;
		s->have_transit = true;
		return;
	}
	/* |D(i-1,i)| modulo 2^32, without a signed negation (the peer picks
	 * the timestamps: a difference of 2^31 must not overflow) */
	d = transit - s->transit;
	if (d > 0x80000000u)
		d = 0u - d;
	s->transit = transit;
	if (d > RTP_TS_JUMP_S * s->rate) {
		s->ts_jumps++;
		return;
	}
	s->jitter += ((double)d - s->jitter) / 16.0;
}

bool
rtp_rxstat_update(struct rtp_rxstat *s, uint16_t seq, uint32_t ts, bool use_ts, uint64_t now)
{
	uint16_t delta = (uint16_t)(seq - s->max_seq);

	if (s->received == 0 && seq == s->max_seq) {
		/* the first packet */
	} else if (delta == 0) {
		/* a duplicate counts as received (lost may go negative) */
		s->duplicates++;
	} else if (delta < RTP_MAX_DROPOUT) {
		/* in order, maybe with a gap; a smaller number means a wrap */
		if (seq < s->max_seq)
			s->cycles += 65536;
		s->max_seq = seq;
	} else if (delta <= 65536 - RTP_MAX_MISORDER) {
		/* A big jump: believe it only when the next packet follows it
		 * (the sender restarted), else it is a stray packet. */
		if ((uint32_t)seq != s->bad_seq) {
			s->bad_seq = (uint32_t)((seq + 1) & 0xffff);
			return false;
		}
		rtp_rxstat_restart(s, seq);
		s->resyncs++;
	} else {
		/* late or duplicate, within the misorder window */
		s->duplicates++;
	}
	s->received++;
	if (use_ts)
		rtp_rxstat_jitter(s, ts, now);
	return true;
}

uint32_t
rtp_rxstat_ext_max(const struct rtp_rxstat *s)
{
	return s->cycles + s->max_seq;
}

uint32_t
rtp_rxstat_expected(const struct rtp_rxstat *s)
{
	if (!s->init || s->received == 0)
		return 0;
	return rtp_rxstat_ext_max(s) - s->base_seq + 1;
}

int32_t
rtp_rxstat_lost(const struct rtp_rxstat *s)
{
	int64_t lost = (int64_t)rtp_rxstat_expected(s) - (int64_t)s->received;

	/* the 24-bit signed range of a report block */
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	return (int32_t)lost;
}

uint8_t
rtp_rxstat_fraction(struct rtp_rxstat *s)
{
	uint32_t expected = rtp_rxstat_expected(s);
	uint32_t exp_int = expected - s->expected_prior;
	uint32_t rec_int = s->received - s->received_prior;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;

	s->expected_prior = expected;
	s->received_prior = s->received;
	if (exp_int == 0 || lost_int <= 0)
		return 0;
	lost_int = (lost_int << 8) / exp_int;
	return (uint8_t)(lost_int > 255 ? 255 : lost_int);
}

unsigned int
rtp_rxstat_jitter_ms(const struct rtp_rxstat *s)
{
	if (!s->init || s->rate == 0)
		return 0;
	return (unsigned int)(s->jitter * 1000.0 / s->rate + 0.5);
}
