/* Adaptive jitter buffer with SpanDSP packet loss concealment.
 *
 * Times are kept in 8 kHz samples: the local clock L = now_us / 125, the
 * sender's clock is the RTP timestamp, unwrapped to 64 bits around the play
 * position p (the timestamp of the next sample to play). The playout delay
 * is D = L - p at a tick. A packet's audio is on time when the tick that
 * plays its first frame has not passed yet: for a packet arriving at a
 * whose first sample falls in the frame starting at f, that needs D >= a - f.
 * This "required delay" of each packet is what the adaptation looks at, so
 * packets of any length and alignment are judged the same way.
 *
 * The frame grid (p modulo 160) is chosen at priming so that 20 ms packets
 * fill whole frames, and kept: the delay moves in steps of one frame.
 *
 * The ring keeps the G.711 bytes as received: a sample that was received
 * and not touched by PLC goes out as the very byte that came in (clear
 * channel data, fax and modem tones pass bit-exact; a decode/encode round
 * trip would turn mu-law 0x7F into 0xFF). Only concealment, and the PLC's
 * cross-fade of the first real samples after it, are encoded from linear.
 *
 * The percentiles of the window come from a histogram of the required
 * delays in HBIN-sample bins, kept up to date as packets enter and leave
 * the window: the bin that holds the 99th percentile is found by counting,
 * and the exact value within it by one pass over the window (no sort). */
#include "media/jb.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#include "core/cache.h"

#define RING_MIN 4096                   /* samples of audio kept: 0.5 s ... */
#define RING_MAX 16384                  /* ... to 2 s, 4 x (max_ms + 40 ms) */
#define BEHIND_MAX 8000                 /* a packet further behind is a jump */
#define WIN 256                         /* packets the adaptation looks at */
#define RECALC_EVERY 8                  /* packets between target updates */
#define HOLD_DECAY 256                  /* recalcs for the hold to fall by 1/e (~40 s) */
#define MARGIN 16                       /* samples of delay above the 99th percentile */
#define SHRINK_HYST 16                  /* excess over one frame before a skip */
#define SHRINK_AFTER 25                 /* ticks the excess must last */
#define SHRINK_EVERY 5                  /* ticks between two skips */
#define JUMP_PACKETS 3                  /* consecutive jumps before a resync */
#define IDLE_US 1000000                 /* a pause after which the stream is new */
#define INIT_MIN (40 * 8)               /* first delay, at least 40 ms */
#define HBIN_SHIFT 6                    /* histogram bins of 64 samples (8 ms) */
#define HBIN (1 << HBIN_SHIFT)
#define HBINS 256                       /* 2 s of required delays */
#define HBASE_BELOW (HBINS / 4)         /* bins kept below lo at a rebase */

/* Per sample of the ring, two bits (one bitmap each, never both set;
 * their words interleaved, so that a frame's state is six adjacent words):
 * received and not yet played, and played (behind p). Neither: empty. */

struct media_jb {
	/* What every packet and tick touches, together at the start. */
	enum cfg_law law;
	bool primed;                    /* a packet came: p is valid */
	bool first_tick;                /* primed, but p not yet set by a tick */
	bool started;                   /* real audio has been played */
	bool paused;                    /* unprimed by a pause, not a reset */
	size_t ring;                    /* samples in audio[], a power of 2 */
	int64_t ahead_max;              /* ring / 2: a packet further ahead is a jump */
	/* Into audio[], interleaved by 64-sample word (a word of each
	 * side by side): received and not played, and played. */
	uint64_t *have_bits;
	uint64_t *played_bits;          /* have_bits + 1 */
	int64_t p;                      /* timestamp of the next sample to play */
	int64_t d_play;                 /* D at the last tick */
	uint64_t last_arrival_us;
	int64_t lo, hi, target;
	int64_t min, max;               /* bounds of D - lo, samples */
	unsigned int jumps;
	unsigned int since_shrink;
	unsigned int excess_ticks;      /* consecutive ticks with a frame too many */
	unsigned int since_calc;
	size_t nwin, win_pos;
	int64_t hbase;                  /* required delay at the start of bin 0 */
	int64_t in_next;                /* where the packet after the last stored starts */
	size_t in_bin;                  /* the bin of the last required delay added */

	/* Real frames played but not yet given to the PLC (its history is
	 * only needed at a gap): their count and the last two's timestamps,
	 * whose audio is still in the ring. */
	unsigned long plc_lag;
	int64_t plc_ts[2];
	bool plc_gap;                   /* the PLC's last frame was concealment */

	unsigned long frames, concealed, late, duplicate, packets, resyncs;
	uint64_t grown, shrunk;         /* samples */
	uint64_t delay_sum;             /* samples, over the ticks counted in frames */
	int64_t delay_max;

	int64_t hold;                   /* hi, falling back slowly */
	int64_t last_lo, depth;         /* lo and hold - lo when it paused */
	uint16_t hist[HBINS];           /* window entries per bin (edges: beyond) */
	int32_t win[WIN];               /* required delays of recent packets, from hbase */

	plc_state_t plc;

	/* The ring, then the two bitmaps; G.711 bytes as received, indexed
	 * by timestamp & (ring - 1). */
	uint8_t audio[];
};

static int64_t
jb_local(uint64_t now_us)
{
	return (int64_t)(now_us / 125);
}

static size_t
jb_slot(const struct media_jb *jb, int64_t ts)
{
	return (size_t)((uint64_t)ts & (jb->ring - 1));
}

static uint64_t
jb_lowmask(size_t n)
{
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

/* n (1 to 64) bits of a slot bitmap (every other word from map) from slot
 * s on, wrapping at the ring's end (a multiple of 64 slots). */
static uint64_t
jb_bits(const struct media_jb *jb, const uint64_t *map, size_t s, size_t n)
{
	size_t w = s >> 6, off = s & 63;
	uint64_t v = map[2 * w] >> off;

	if (off + n > 64)
		v |= map[2 * ((w + 1) & (jb->ring / 64 - 1))] << (64 - off);
	return v & jb_lowmask(n);
}

static void
jb_bits_put(const struct media_jb *jb, uint64_t *map, size_t s, size_t n, uint64_t v)
{
	size_t w = s >> 6, off = s & 63;
	uint64_t m = jb_lowmask(n) << off;

	map[2 * w] = (map[2 * w] & ~m) | ((v << off) & m);
	if (off + n > 64) {
		w = (w + 1) & (jb->ring / 64 - 1);
		m = jb_lowmask(off + n - 64);
		map[2 * w] = (map[2 * w] & ~m) | ((v >> (64 - off)) & m);
	}
}

/* Samples [ts, ts + n), n <= 64, found received (have) and played. */
static void
jb_range(const struct media_jb *jb, int64_t ts, size_t n, uint64_t *have, uint64_t *played)
{
	size_t s = jb_slot(jb, ts);

	*have = jb_bits(jb, jb->have_bits, s, n);
	*played = jb_bits(jb, jb->played_bits, s, n);
}

static void
jb_range_set(struct media_jb *jb, int64_t ts, size_t n, uint64_t have, uint64_t played)
{
	size_t s = jb_slot(jb, ts);

	jb_bits_put(jb, jb->have_bits, s, n, have);
	jb_bits_put(jb, jb->played_bits, s, n, played);
}

/* Bytes into and out of the ring, wrapping at its end. */
static void
jb_copy_in(struct media_jb *jb, int64_t ts, const uint8_t *buf, size_t n)
{
	size_t s = jb_slot(jb, ts), first = jb->ring - s < n ? jb->ring - s : n;

	memcpy(jb->audio + s, buf, first);
	memcpy(jb->audio, buf + first, n - first);
}

static void
jb_copy_out(const struct media_jb *jb, int64_t ts, uint8_t *buf, size_t n)
{
	size_t s = jb_slot(jb, ts), first = jb->ring - s < n ? jb->ring - s : n;

	memcpy(buf, jb->audio + s, first);
	memcpy(buf + first, jb->audio, n - first);
}

/* Non-negative remainder. */
static int64_t
jb_mod(int64_t a, int64_t m)
{
	int64_t r = a % m;

	return r < 0 ? r + m : r;
}

static uint8_t
jb_silence(enum cfg_law law)
{
	return law == CFG_LAW_ALAW ? 0xD5 : 0xFF;
}

/* G.711 to linear by table (SpanDSP's functions, computed once). */
static int16_t jb_linear[2][256];
static bool jb_linear_ready;

static void
jb_decode(enum cfg_law law, const uint8_t *in, int16_t *out)
{
	const int16_t *t = jb_linear[law == CFG_LAW_ALAW];

	for (size_t i = 0; i < MEDIA_FRAME; i++)
		out[i] = t[in[i]];
}

/* Give the PLC the real frames played since it last saw audio. After real
 * audio, plc_rx() of a real frame only appends it to its circular history
 * of PLC_HISTORY_LEN (under two frames) samples: the last two frames, with
 * the history's position first moved on by the frames before them, leave
 * it as all of them would have. Done before the PLC is used and before
 * the ring's slots of those frames may be written again. */
_Static_assert(PLC_HISTORY_LEN <= 2 * MEDIA_FRAME, "two frames fill the PLC history");

static void
jb_plc_sync(struct media_jb *jb)
{
	int16_t rx[MEDIA_FRAME];
	uint8_t raw[MEDIA_FRAME];
	unsigned long n = jb->plc_lag, keep = n < 2 ? n : 2;
	plc_state_t *s = &jb->plc;

	if (n == 0)
		return;
	if (n > keep)
		s->buf_ptr = (int)(((unsigned long)s->buf_ptr +
		    (n - keep) % PLC_HISTORY_LEN * MEDIA_FRAME) % PLC_HISTORY_LEN);
	for (size_t i = 2 - keep; i < 2; i++) {
		jb_copy_out(jb, jb->plc_ts[i], raw, MEDIA_FRAME);
		jb_decode(jb->law, raw, rx);
		plc_rx(s, rx, MEDIA_FRAME);
	}
	jb->plc_lag = 0;
}

static void
jb_clear(struct media_jb *jb)
{
	jb_plc_sync(jb);
	memset(jb->have_bits, 0, jb->ring / 4);
}

struct media_jb *
media_jb_new(enum cfg_law law, unsigned int min_ms, unsigned int max_ms)
{
	struct media_jb *jb;
	size_t ring = RING_MIN;

	if (max_ms > 1000)
		max_ms = 1000;
	if (min_ms > max_ms)
		min_ms = max_ms;
	/* Half the ring ahead of the play position holds the deepest delay
	 * with room for a faster path; the other half what was played. */
	while (ring < RING_MAX && ring < 4 * (max_ms + 40) * 8)
		ring *= 2;
	if ((jb = calloc(1, sizeof(*jb) + ring + ring / 4)) == NULL)
		return NULL;
	if (!jb_linear_ready) {
		for (int b = 0; b < 256; b++) {
			jb_linear[0][b] = ulaw_to_linear((uint8_t)b);
			jb_linear[1][b] = alaw_to_linear((uint8_t)b);
		}
		jb_linear_ready = true;
	}
	jb->ring = ring;
	jb->ahead_max = (int64_t)ring / 2;
	jb->have_bits = (uint64_t *)(void *)(jb->audio + ring);
	jb->played_bits = jb->have_bits + 1;
	jb->law = law;
	jb->min = (int64_t)min_ms * 8;
	jb->max = (int64_t)max_ms * 8;
	plc_init(&jb->plc);
	return jb;
}

void
media_jb_free(struct media_jb *jb)
{
	if (jb == NULL)
		return;
	plc_release(&jb->plc);
	free(jb);
}

/* Forget the stream but keep the statistics and the PLC history. */
static void
jb_unprime(struct media_jb *jb)
{
	/* What the path taught survives a pause: its fastest transit (the
	 * timestamps go on with time through a pause) and its jitter. */
	if (jb->primed && !jb->first_tick) {
		jb->paused = true;
		jb->last_lo = jb->lo;
		jb->depth = jb->hold > jb->lo ? jb->hold - jb->lo : 0;
	}
	jb_clear(jb);
	jb->primed = false;
	jb->first_tick = false;
	jb->nwin = jb->win_pos = 0;
	jb->since_calc = 0;
	jb->jumps = 0;
}

void
media_jb_reset(struct media_jb *jb)
{
	jb_unprime(jb);
	jb->paused = false;
}

static size_t
jb_bin(const struct media_jb *jb, int64_t v)
{
	int64_t b;

	if (v < jb->hbase)
		return 0;
	b = (v - jb->hbase) >> HBIN_SHIFT;
	return b >= HBINS ? HBINS - 1 : (size_t)b;
}

/* The window keeps required delays from hbase in 32 bits (half the memory
 * to go through at a recalc); one more than 2^31 samples (three days) away
 * is kept as that far. */
static int32_t
jb_win_rel(const struct media_jb *jb, int64_t v)
{
	v -= jb->hbase;
	if (v > INT32_MAX)
		return INT32_MAX;
	return v < -INT32_MAX ? -INT32_MAX : (int32_t)v;
}

static int64_t
jb_win(const struct media_jb *jb, size_t i)
{
	return jb->hbase + jb->win[i];
}

/* Count the window into bins anew, with lo a quarter of the way up. */
static void
jb_rebase(struct media_jb *jb, int64_t lo)
{
	int64_t old = jb->hbase;

	jb->hbase = lo - (int64_t)HBASE_BELOW * HBIN;
	memset(jb->hist, 0, sizeof(jb->hist));
	for (size_t i = 0; i < jb->nwin; i++) {
		int64_t v = old + jb->win[i];

		jb->win[i] = jb_win_rel(jb, v);
		jb->hist[jb_bin(jb, v)]++;
	}
}

static int
jb_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The k-th smallest (from 0) of the window: its bin by counting, then its
 * place among the values of that bin. An edge bin holds everything beyond
 * it, so its values are sorted (rare: a rebase keeps lo in the middle). */
static int64_t
jb_kth(const struct media_jb *jb, size_t k)
{
	uint16_t sub[HBIN];
	int64_t edge[WIN], start;
	size_t b = 0, below = 0, n = 0;

	while (below + jb->hist[b] <= k)
		below += jb->hist[b++];
	k -= below;
	if (b == 0 || b == HBINS - 1) {
		for (size_t i = 0; i < jb->nwin; i++)
			if (jb_bin(jb, jb_win(jb, i)) == b)
				edge[n++] = jb_win(jb, i);
		qsort(edge, n, sizeof(edge[0]), jb_cmp);
		return edge[k];
	}
	start = jb->hbase + ((int64_t)b << HBIN_SHIFT);
	memset(sub, 0, sizeof(sub));
	for (size_t i = 0; i < jb->nwin; i++)
		if (jb_win(jb, i) >= start && jb_win(jb, i) < start + HBIN)
			sub[jb_win(jb, i) - start]++;
	for (b = 0; k >= sub[b]; b++)
		k -= sub[b];
	return start + (int64_t)b;
}

/* The smallest and the k-th smallest of the window, as jb_kth() finds
 * them, with one pass over the window for both when neither is in an edge
 * bin. */
static void
jb_lo_kth(const struct media_jb *jb, size_t k, int64_t *lo, int64_t *kth)
{
	uint16_t sub0[HBIN], sub1[HBIN];
	uint32_t r0, r1;
	size_t b0 = 0, b1, below = 0, i;

	while (jb->hist[b0] == 0)
		b0++;
	b1 = b0;
	while (below + jb->hist[b1] <= k)
		below += jb->hist[b1++];
	k -= below;
	if (b0 == 0 || b1 == HBINS - 1) {
		*lo = jb_kth(jb, 0);
		*kth = jb_kth(jb, k + below);
		return;
	}
	/* Bins from hbase, as the window is kept (an unsigned difference
	 * below HBIN: inside the bin). */
	r0 = (uint32_t)b0 << HBIN_SHIFT;
	r1 = (uint32_t)b1 << HBIN_SHIFT;
	memset(sub1, 0, sizeof(sub1));
	if (b0 == b1) {
		for (i = 0; i < jb->nwin; i++) {
			uint32_t d1 = (uint32_t)jb->win[i] - r1;

			if (d1 < HBIN)
				sub1[d1]++;
		}
		for (i = 0; sub1[i] == 0; i++)
			;
		*lo = jb->hbase + r1 + (int64_t)i;
	} else {
		memset(sub0, 0, sizeof(sub0));
		for (i = 0; i < jb->nwin; i++) {
			uint32_t d0 = (uint32_t)jb->win[i] - r0;
			uint32_t d1 = (uint32_t)jb->win[i] - r1;

			if (d1 < HBIN)
				sub1[d1]++;
			else if (d0 < HBIN)
				sub0[d0]++;
		}
		for (i = 0; sub0[i] == 0; i++)
			;
		*lo = jb->hbase + r0 + (int64_t)i;
	}
	for (i = 0; k >= sub1[i]; i++)
		k -= sub1[i];
	*kth = jb->hbase + r1 + (int64_t)i;
}

/* lo, hi (99th percentile) and the target delay from the window. */
static void
jb_recalc(struct media_jb *jb)
{
	size_t hi_i, lo_bin;

	jb->since_calc = 0;
	if (jb->nwin == 0)
		return;
	hi_i = jb->nwin * 99 / 100;
	if (hi_i >= jb->nwin)
		hi_i = jb->nwin - 1;
	jb_lo_kth(jb, hi_i, &jb->lo, &jb->hi);
	/* Keep lo off the low edge and the spread inside the bins. */
	lo_bin = jb_bin(jb, jb->lo);
	if (lo_bin < HBASE_BELOW / 2 || lo_bin > HBINS / 2)
		jb_rebase(jb, jb->lo);
	if (jb->hi >= jb->hold)
		jb->hold = jb->hi;
	else
		jb->hold -= (jb->hold - jb->hi + HOLD_DECAY - 1) / HOLD_DECAY;
	jb->target = jb->hold + MARGIN;
	if (jb->target < jb->lo + jb->min)
		jb->target = jb->lo + jb->min;
	if (jb->target > jb->lo + jb->max)
		jb->target = jb->lo + jb->max;
}

static void
jb_window_add(struct media_jb *jb, int64_t req, bool now)
{
	if (jb->nwin == 0)
		jb_rebase(jb, req);
	if (jb->nwin == WIN)
		jb->hist[jb_bin(jb, jb_win(jb, jb->win_pos))]--;
	jb->win[jb->win_pos] = jb_win_rel(jb, req);
	jb->in_bin = jb_bin(jb, req);
	jb->hist[jb->in_bin]++;
	jb->win_pos = (jb->win_pos + 1) % WIN;
	if (jb->nwin < WIN)
		jb->nwin++;
	if (now || ++jb->since_calc >= RECALC_EVERY)
		jb_recalc(jb);
}

/* The first packet of a stream: p starts at its timestamp (so that the
 * frame grid matches it); the first tick moves p back by the delay. */
static void
jb_prime(struct media_jb *jb, uint32_t ts, int64_t l)
{
	int64_t init = jb->min > INIT_MIN ? jb->min : INIT_MIN, tr;
	bool same;

	jb_clear(jb);
	jb->primed = true;
	jb->first_tick = true;
	jb->p = ts;
	tr = l - jb->p;
	/* After a pause on the same path, start from what it taught, with
	 * this packet on time; else from a first guess. */
	same = jb->paused && tr - jb->last_lo <= jb->max && jb->last_lo - tr <= jb->max;
	jb->lo = same && jb->last_lo < tr ? jb->last_lo : tr;
	if (same && init < jb->depth + MARGIN)
		init = jb->depth + MARGIN;
	if (same && init < tr - jb->lo + MARGIN)
		init = tr - jb->lo + MARGIN;
	if (init > jb->max)
		init = jb->max;
	jb->hi = tr;
	jb->target = jb->lo + init;
	jb->hold = same ? jb->target - MARGIN : jb->lo;
	jb->paused = false;
	jb->d_play = jb->target;
	jb->nwin = jb->win_pos = 0;
	jb->since_calc = 0;
	jb->jumps = 0;
}

/* Whether every sample of [ts, ts + len), all behind p, was played. */
static bool
jb_played(const struct media_jb *jb, int64_t ts, size_t len)
{
	if (ts < jb->p - jb->ahead_max)
		return false;   /* slots reused since */
	for (size_t i = 0; i < len; i += 64) {
		size_t n = len - i < 64 ? len - i : 64;
		uint64_t have, played;

		jb_range(jb, ts + (int64_t)i, n, &have, &played);
		if (played != jb_lowmask(n))
			return false;
	}
	return true;
}

int
media_jb_put(struct media_jb *jb, uint32_t ts, const uint8_t *payload, size_t len,
             uint64_t now_us)
{
	int64_t l = jb_local(now_us), ts64, req, from;
	size_t fresh = 0, s;

	if (len == 0 || len > (size_t)jb->ahead_max)
		return EINVAL;
	if (jb->primed && !jb->first_tick &&
	    now_us > jb->last_arrival_us + IDLE_US)
		jb_unprime(jb);
	if (!jb->primed)
		jb_prime(jb, ts, l);
	ts64 = jb->p + (int32_t)(ts - (uint32_t)jb->p);
	/* Where its state and audio go, fetched while it is judged. */
	s = jb_slot(jb, ts64);
	__builtin_prefetch(jb->have_bits + 2 * (s >> 6), 1);
	__builtin_prefetch(jb->audio + s, 1);

	/* Far outside the window: a timestamp jump when it persists. */
	if (ts64 + (int64_t)len <= jb->p - BEHIND_MAX ||
	    ts64 + (int64_t)len > jb->p + jb->ahead_max) {
		if (++jb->jumps < JUMP_PACKETS) {
			jb->late++;
			return 0;
		}
		jb->resyncs++;
		jb_prime(jb, ts, l);
		ts64 = jb->p;
	}
	jb->jumps = 0;
	jb->last_arrival_us = now_us;
	if (jb->first_tick && ts64 < jb->p && jb->p - ts64 <= jb->max)
		jb->p = ts64;   /* nothing played yet: an earlier packet overtaken */

	/* The required delay, against the frame grid of p. */
	req = l - (ts64 - jb_mod(ts64 - jb->p, MEDIA_FRAME));

	if (ts64 + (int64_t)len <= jb->p) {
		/* Its time has passed: a copy of what was played, or late. */
		if (jb_played(jb, ts64, len)) {
			jb->duplicate++;
			return 0;
		}
		jb->late++;
		jb_window_add(jb, req, true);
		return 0;
	}
	from = ts64 < jb->p ? jb->p - ts64 : 0;
	/* Samples not there yet are stored, 64 at a time. */
	for (size_t i = (size_t)from; i < len; i += 64) {
		size_t n = len - i < 64 ? len - i : 64;
		int64_t at = ts64 + (int64_t)i;
		uint64_t have, played, miss;

		jb_range(jb, at, n, &have, &played);
		miss = ~have & jb_lowmask(n);
		if (miss == jb_lowmask(n))
			jb_copy_in(jb, at, payload + i, n);
		else
			for (uint64_t m = miss; m != 0; m &= m - 1) {
				size_t b = (size_t)__builtin_ctzll(m);

				jb->audio[jb_slot(jb, at + (int64_t)b)] = payload[i + b];
			}
		jb_range_set(jb, at, n, have | miss, played & ~miss);
		fresh += (size_t)__builtin_popcountll(miss);
	}
	if (fresh == 0 && from == 0) {
		jb->duplicate++;
		return 0;
	}
	if (from > 0)
		jb->late++;     /* its head came too late */
	jb->packets++;
	jb->in_next = ts64 + (int64_t)len;
	jb_window_add(jb, req, req > jb->d_play || req < jb->lo);
	return 0;
}

static uint8_t
jb_encode(enum cfg_law law, int16_t v)
{
	return law == CFG_LAW_ALAW ? linear_to_alaw(v) : linear_to_ulaw(v);
}

/* Decide the delay step of this tick: +1 frame, -1 frame or 0. Too little
 * delay is corrected at once; a frame too many only once it has lasted half
 * a second (and not more often than every 100 ms), or at once beyond max. */
static int
jb_step(struct media_jb *jb, int64_t d)
{
	jb->since_shrink++;
	if (d < jb->target) {
		jb->excess_ticks = 0;
		return 1;
	}
	if (d - MEDIA_FRAME >= jb->target && d - jb->lo > jb->max) {
		jb->since_shrink = 0;
		jb->excess_ticks = 0;
		return -1;
	}
	if (d - MEDIA_FRAME < jb->target + SHRINK_HYST) {
		jb->excess_ticks = 0;
		return 0;
	}
	if (++jb->excess_ticks >= SHRINK_AFTER && jb->since_shrink >= SHRINK_EVERY) {
		jb->since_shrink = 0;
		jb->excess_ticks = 0;
		return -1;
	}
	return 0;
}

/* plc_fillin() starting a gap first straightens its circular history with
 * a memcpy between overlapping ranges (undefined behaviour, and fatal under
 * AddressSanitizer); doing that rotation here, with memmove, leaves it
 * nothing to do. */
static void
jb_fillin(struct media_jb *jb, int16_t *amp)
{
	plc_state_t *s = &jb->plc;

	jb_plc_sync(jb);
	jb->plc_gap = true;
	if (s->missing_samples == 0 && s->buf_ptr > 0 && s->buf_ptr < PLC_HISTORY_LEN) {
		int16_t head[PLC_HISTORY_LEN];
		size_t n = (size_t)s->buf_ptr;

		memcpy(head, s->history, n * sizeof(head[0]));
		memmove(s->history, s->history + n, (PLC_HISTORY_LEN - n) * sizeof(head[0]));
		memcpy(s->history + PLC_HISTORY_LEN - n, head, n * sizeof(head[0]));
		s->buf_ptr = 0;
	}
	plc_fillin(s, amp, MEDIA_FRAME);
}

/* The frame at p into frame, PLC over the holes. SpanDSP's PLC is only
 * ever given whole frames (shorter blocks make it copy overlapping
 * memory): a frame with holes is concealed whole, and its real samples
 * put back. A real sample goes out as received unless the PLC changed it
 * (its cross-fade after a gap). Returns the number of samples concealed;
 * the frame is left alone (silence to play) before the audio starts. */
static size_t
jb_take(struct media_jb *jb, uint8_t frame[MEDIA_FRAME])
{
	int16_t amp[MEDIA_FRAME], rx[MEDIA_FRAME];
	uint8_t raw[MEDIA_FRAME];
	uint64_t h[(MEDIA_FRAME + 63) / 64];     /* received, by sample */
	size_t got = 0, missing;

	/* What was received is played now: its state goes to played. */
	for (size_t i = 0; i < MEDIA_FRAME; i += 64) {
		size_t n = MEDIA_FRAME - i < 64 ? MEDIA_FRAME - i : 64;
		uint64_t played;

		jb_range(jb, jb->p + (int64_t)i, n, &h[i / 64], &played);
		jb_range_set(jb, jb->p + (int64_t)i, n, 0, h[i / 64]);
		got += (size_t)__builtin_popcountll(h[i / 64]);
	}
#define JB_HAVE(i) ((h[(i) / 64] >> ((i) % 64)) & 1)
	missing = MEDIA_FRAME - got;
	if (missing == 0) {
		/* Real audio: played as received, but for what the PLC
		 * cross-fades after a gap (it changes nothing otherwise). */
		jb_copy_out(jb, jb->p, frame, MEDIA_FRAME);
		jb->p += MEDIA_FRAME;
		jb->started = true;
		if (!jb->plc_gap) {
			/* The PLC only needs it at the next gap. */
			jb->plc_ts[0] = jb->plc_ts[1];
			jb->plc_ts[1] = jb->p - MEDIA_FRAME;
			jb->plc_lag++;
			return 0;
		}
		jb_plc_sync(jb);
		jb_decode(jb->law, frame, rx);
		memcpy(amp, rx, sizeof(amp));
		plc_rx(&jb->plc, amp, MEDIA_FRAME);
		jb->plc_gap = false;
		for (size_t i = 0; i < MEDIA_FRAME; i++)
			if (amp[i] != rx[i])
				frame[i] = jb_encode(jb->law, amp[i]);
		return 0;
	}
	jb_copy_out(jb, jb->p, raw, MEDIA_FRAME);
	jb->p += MEDIA_FRAME;
	if (!jb->started && missing < MEDIA_FRAME) {
		/* The very first audio may start late in the frame. */
		jb->started = true;
		jb_plc_sync(jb);
		jb_decode(jb->law, raw, rx);
		for (size_t i = 0; i < MEDIA_FRAME; i++)
			amp[i] = JB_HAVE(i) ? rx[i] : 0;
		plc_rx(&jb->plc, amp, MEDIA_FRAME);
		jb->plc_gap = false;
		for (size_t i = 0; i < MEDIA_FRAME; i++)
			frame[i] = JB_HAVE(i) && amp[i] == rx[i] ? raw[i] : jb_encode(jb->law, amp[i]);
		return 0;
	}
	if (!jb->started)
		return 0;
	jb_fillin(jb, amp);
	for (size_t i = 0; i < MEDIA_FRAME; i++)
		frame[i] = JB_HAVE(i) ? raw[i] : jb_encode(jb->law, amp[i]);
#undef JB_HAVE
	return missing;
}

void
media_jb_get(struct media_jb *jb, uint8_t frame[MEDIA_FRAME], uint64_t now_us)
{
	int16_t amp[MEDIA_FRAME];
	int64_t l = jb_local(now_us), d;
	size_t s;

	if (jb->primed && !jb->first_tick && now_us > jb->last_arrival_us + IDLE_US)
		jb_unprime(jb);
	if (!jb->primed) {
		memset(frame, jb_silence(jb->law), MEDIA_FRAME);
		return;
	}
	if (jb->first_tick) {
		int64_t p = l - jb->target;

		/* Back to the grid of the first packet: never less delay. */
		jb->p = p - jb_mod(p - jb->p, MEDIA_FRAME);
		jb->first_tick = false;
		jb->since_shrink = 0;
	}
	d = l - jb->p;
	if (d - jb->target > jb->max + (int64_t)jb->ring / 4 ||
	    jb->target - d > jb->max + (int64_t)jb->ring / 4) {
		/* The clocks jumped: start over at the target delay. */
		int64_t p = l - jb->target;

		jb_clear(jb);
		jb->p = p - jb_mod(p - jb->p, MEDIA_FRAME);
		d = l - jb->p;
		jb->resyncs++;
	}

	/* The frame's audio and state, fetched while the step is decided. */
	s = jb_slot(jb, jb->p);
	cache_prefetch(jb->audio + s, MEDIA_FRAME);
	cache_prefetch(jb->have_bits + 2 * (s >> 6), 2 * sizeof(uint64_t));

	switch (jb_step(jb, d)) {
	case 1:
		/* More delay: one frame of concealment, p stays. */
		if (jb->started) {
			jb_fillin(jb, amp);
			for (size_t i = 0; i < MEDIA_FRAME; i++)
				frame[i] = jb_encode(jb->law, amp[i]);
			jb->grown += MEDIA_FRAME;
		}
		d += MEDIA_FRAME;
		break;
	case -1:
		/* Less delay: a frame is skipped. */
		for (size_t i = 0; i < MEDIA_FRAME; i += 64)
			jb_range_set(jb, jb->p + (int64_t)i,
			    MEDIA_FRAME - i < 64 ? MEDIA_FRAME - i : 64, 0, 0);
		jb->p += MEDIA_FRAME;
		jb->shrunk += MEDIA_FRAME;
		d -= MEDIA_FRAME;
		/* FALLTHROUGH */
	default:
		if (jb_take(jb, frame) > 0)
			jb->concealed++;
		break;
	}
	jb->d_play = d;
	if (jb->started) {
		jb->frames++;
		if (d > jb->lo) {
			jb->delay_sum += (uint64_t)(d - jb->lo);
			if (d - jb->lo > jb->delay_max)
				jb->delay_max = d - jb->lo;
		}
	} else
		memset(frame, jb_silence(jb->law), MEDIA_FRAME);
}

void
media_jb_prefetch(const struct media_jb *jb)
{
	cache_prefetch(jb, 4 * CACHE_LINE);       /* what every packet and tick touches */
}

void
media_jb_prefetch_data(const struct media_jb *jb)
{
	size_t s;

	if (!jb->primed)
		return;
	/* where the next packet goes (the bitmaps follow the ring: past its
	 * end is still the buffer's memory), and the adaptation's window; a
	 * tick's frame is asked for by media_jb_get itself */
	s = jb_slot(jb, jb->in_next);
	cache_prefetch_write(jb->audio + s, MEDIA_FRAME);
	cache_prefetch_write(jb->have_bits + 2 * (s >> 6), 2 * sizeof(uint64_t));
	cache_prefetch_write(&jb->win[jb->win_pos], sizeof(jb->win[0]));
	cache_prefetch_write(&jb->hist[jb->in_bin], sizeof(jb->hist[0]));
}

void
media_jb_stats(const struct media_jb *jb, struct media_jb_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->frames = jb->frames;
	out->concealed = jb->concealed;
	out->late = jb->late;
	out->duplicate = jb->duplicate;
	out->packets = jb->packets;
	out->grown_ms = (unsigned long)(jb->grown / 8);
	out->shrunk_ms = (unsigned long)(jb->shrunk / 8);
	out->resyncs = jb->resyncs;
	if (jb->primed && jb->d_play > jb->lo)
		out->delay_ms = (unsigned int)((jb->d_play - jb->lo) / 8);
	if (jb->primed && jb->target > jb->lo)
		out->target_ms = (unsigned int)((jb->target - jb->lo) / 8);
	if (jb->frames > 0)
		out->delay_mean_ms = (unsigned int)(jb->delay_sum / jb->frames / 8);
	out->delay_max_ms = (unsigned int)(jb->delay_max / 8);
}
