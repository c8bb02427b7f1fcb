/* media: the jitter buffer (ordering, loss, drift, an IP network model) and
 * DTMF both ways, all with injected time. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#include "media/dtmf.h"
#include "media/jb.h"
#include "netmodel.h"

#define TICK_US 20000ULL

/* ---- signals ---- */

static uint64_t
hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Noise whose every sample tells where it came from. */
static uint8_t
src_noise(uint32_t ts)
{
	return (uint8_t)hash64(ts);
}

static uint8_t
src_sine(uint32_t ts)
{
	return linear_to_alaw((int)(8000.0 * sin(2.0 * M_PI * 440.0 * ts / 8000.0)));
}

static void
fill(uint8_t *buf, uint32_t ts, size_t n, uint8_t (*src)(uint32_t))
{
	for (size_t i = 0; i < n; i++)
		buf[i] = src(ts + (uint32_t)i);
}

static bool
is_silence(const uint8_t *f)
{
	for (size_t i = 0; i < MEDIA_FRAME; i++)
		if (f[i] != 0xD5)
			return false;
	return true;
}

static double
energy(const uint8_t *f)
{
	double e = 0;

	for (size_t i = 0; i < MEDIA_FRAME; i++) {
		double v = alaw_to_linear(f[i]);
		e += v * v;
	}
	return e / MEDIA_FRAME;
}

/* ---- a scripted stream ---- */

struct pkt {
	uint64_t at;            /* arrival, us */
	uint32_t ts;
	size_t len;
};

static int
pkt_cmp(const void *a, const void *b)
{
	const struct pkt *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* Play packets (sorted by arrival) against ticks every 20 ms from t0; the
 * output frames go to out (nticks of them). */
static void
play(struct media_jb *jb, struct pkt *pk, size_t np, uint64_t t0, size_t nticks,
     uint8_t (*src)(uint32_t), uint8_t (*out)[MEDIA_FRAME])
{
	size_t j = 0;
	uint8_t buf[2000];

	qsort(pk, np, sizeof(*pk), pkt_cmp);
	for (size_t k = 0; k < nticks; k++) {
		uint64_t now = t0 + k * TICK_US;

		while (j < np && pk[j].at <= now) {
			fill(buf, pk[j].ts, pk[j].len, src);
			media_jb_put(jb, pk[j].ts, buf, pk[j].len, pk[j].at);
			j++;
		}
		media_jb_get(jb, out[k], now);
	}
}

static bool
is_silence_ulaw(const uint8_t *f)
{
	for (size_t i = 0; i < MEDIA_FRAME; i++)
		if (f[i] != 0xFF)
			return false;
	return true;
}

/* The timestamp whose noise equals the frame, searched near guess; -1. */
static int64_t
frame_ts(const uint8_t *f, int64_t guess)
{
	uint8_t want[MEDIA_FRAME];

	for (int64_t d = 0; d < 4000; d++) {
		for (int s = 0; s < 2; s++) {
			int64_t ts = s ? guess - d : guess + d;

			fill(want, (uint32_t)ts, MEDIA_FRAME, src_noise);
			if (memcmp(want, f, MEDIA_FRAME) == 0)
				return ts;
		}
	}
	return -1;
}

/* After the first audio, every frame is real audio continuing the previous
 * one, except `steps` times where the delay moved by a whole frame. */
static void
check_continuous(uint8_t (*out)[MEDIA_FRAME], size_t n, uint32_t ts0, unsigned long steps)
{
	size_t k = 0;
	int64_t ts, prev = -1;
	unsigned long jumps = 0, bad = 0;

	while (k < n && is_silence(out[k]))
		k++;
	CU_ASSERT_FATAL(k < n);
	ts = frame_ts(out[k], ts0);
	CU_ASSERT_FATAL(ts >= 0);
	for (; k < n; k++) {
		ts = frame_ts(out[k], prev < 0 ? ts : prev + MEDIA_FRAME);
		if (ts < 0) {
			bad++;
			continue;
		}
		if (prev >= 0 && ts != prev + MEDIA_FRAME)
			jumps++;
		prev = ts;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(jumps <= steps);
}

/* ---- jitter buffer ---- */

static void
test_jb_in_order(void)
{
	static uint8_t out[1000][MEDIA_FRAME];
	static struct pkt pk[1100];
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_jb_stats st;
	uint64_t t0 = 1000000;

	for (size_t i = 0; i < 1100; i++) {
		pk[i].ts = 5000 + (uint32_t)i * 160;
		pk[i].len = 160;
		pk[i].at = t0 + 7000 + i * TICK_US + 30000;
	}
	play(jb, pk, 1100, t0, 1000, src_noise, out);
	media_jb_stats(jb, &st);
	printf("\n  in order: frames %lu concealed %lu delay %u ms (mean %u max %u) steps %lu/%lu ",
	    st.frames, st.concealed, st.delay_ms, st.delay_mean_ms, st.delay_max_ms,
	    st.grown_ms, st.shrunk_ms);
	CU_ASSERT(!is_silence(out[10]));
	CU_ASSERT_EQUAL(st.concealed, 0);
	CU_ASSERT_EQUAL(st.late, 0);
	CU_ASSERT_EQUAL(st.duplicate, 0);
	CU_ASSERT(st.packets >= 995 && st.packets <= 1000);
	CU_ASSERT(st.delay_ms >= 20 && st.delay_ms <= 40);
	check_continuous(out, 980, 5000, (st.grown_ms + st.shrunk_ms) / 20);
	media_jb_free(jb);
}

/* 10 and 30 ms packets: the same audio comes out. */
static void
test_jb_ptime(void)
{
	static uint8_t out[600][MEDIA_FRAME];
	static struct pkt pk[1400];
	size_t sizes[] = { 80, 240, 400 };

	for (size_t z = 0; z < 3; z++) {
		struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
		struct media_jb_stats st;
		size_t len = sizes[z], np = 0;
		uint64_t t0 = 5000000;

		for (uint32_t ts = 0; ts < 650 * 160; ts += (uint32_t)len) {
			pk[np].ts = 123456 + ts;
			pk[np].len = len;
			pk[np].at = t0 + 3000 + (ts + len) * 125ULL + 15000;
			np++;
		}
		play(jb, pk, np, t0, 600, src_noise, out);
		media_jb_stats(jb, &st);
		printf("\n  ptime %zu ms: concealed %lu delay %u ms ", len / 8, st.concealed, st.delay_ms);
		CU_ASSERT_EQUAL(st.concealed, 0);
		CU_ASSERT_EQUAL(st.late, 0);
		CU_ASSERT(st.packets >= 590 * 160 / len);
		check_continuous(out, 580, 123456, (st.grown_ms + st.shrunk_ms) / 20);
		media_jb_free(jb);
	}
}

/* A steady mu-law stream with a few duplicated packets (the second copy
 * a few ms after the first, as a retransmitting sender or a looping path
 * delivers it): every frame played after the first audio is a received
 * frame, byte for byte; nothing is concealed. */
static void
test_jb_duplicate_exact(void)
{
	static uint8_t out[400][MEDIA_FRAME];
	static struct pkt pk[400];
	struct media_jb *jb = media_jb_new(CFG_LAW_ULAW, 20, 200);
	struct media_jb_stats st;
	uint64_t t0 = 3000000;
	size_t np = 0, exact = 0, audio = 0;

	for (size_t i = 0; i < 360; i++) {
		pk[np].ts = 4242 + (uint32_t)i * 160;
		pk[np].len = 160;
		pk[np].at = t0 + 7000 + i * TICK_US + (hash64(i) % 4000);
		np++;
		if (i == 40 || i == 41 || i == 200) {
			pk[np] = pk[np - 1];
			pk[np].at += 1000 + 9000 * (i == 200);
			np++;
		}
	}
	play(jb, pk, np, t0, 360, src_noise, out);
	media_jb_stats(jb, &st);
	for (size_t k = 0; k < 360; k++) {
		if (audio == 0 && is_silence_ulaw(out[k]))
			continue;
		audio++;
		if (frame_ts(out[k], 4242 + (int64_t)k * 160) >= 0)
			exact++;
	}
	printf("\n  duplicates: %lu, concealed %lu, %zu of %zu frames exact ", st.duplicate,
	    st.concealed, exact, audio);
	CU_ASSERT_EQUAL(st.duplicate, 3);
	CU_ASSERT_EQUAL(st.concealed, 0);
	CU_ASSERT(audio >= 300);
	CU_ASSERT_EQUAL(exact, audio);
	media_jb_free(jb);
}

/* Pairs swapped in flight and every packet twice: the order is restored,
 * duplicates dropped. */
static void
test_jb_reorder_duplicate(void)
{
	static uint8_t out[1000][MEDIA_FRAME];
	static struct pkt pk[2000];
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_jb_stats st;
	uint64_t t0 = 2000000;
	size_t np = 0;

	for (size_t i = 0; i < 1000; i++) {
		uint64_t at = t0 + 4000 + i * TICK_US + 40000;

		if (i % 2 == 0)
			at += 25000;    /* overtaken by the next one */
		pk[np].ts = 77 + (uint32_t)i * 160;
		pk[np].len = 160;
		pk[np].at = at;
		np++;
		pk[np] = pk[np - 1];
		pk[np].at += 3000;
		np++;
	}
	play(jb, pk, np, t0, 1000, src_noise, out);
	media_jb_stats(jb, &st);
	printf("\n  reordered: late %lu dup %lu concealed %lu delay %u ms ",
	    st.late, st.duplicate, st.concealed, st.delay_ms);
	CU_ASSERT(st.duplicate >= 990 && st.duplicate == st.packets);
	CU_ASSERT_EQUAL(st.late, 0);
	CU_ASSERT_EQUAL(st.concealed, 0);
	CU_ASSERT(st.delay_ms >= 25 && st.delay_ms <= 60);
	check_continuous(out + 20, 950, 77 + 20 * 160, 2 + (st.grown_ms + st.shrunk_ms) / 20);
	media_jb_free(jb);
}

/* A packet 500 ms late is dropped, its frame concealed, and it is never
 * played afterwards. */
static void
test_jb_late(void)
{
	static uint8_t out[400][MEDIA_FRAME];
	struct pkt pk[450];
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_jb_stats st;
	uint64_t t0 = 0;
	uint8_t want[MEDIA_FRAME];
	int found = 0;

	for (size_t i = 0; i < 450; i++) {
		pk[i].ts = (uint32_t)i * 160;
		pk[i].len = 160;
		pk[i].at = t0 + 1000 + i * TICK_US + 20000;
	}
	pk[200].at += 500000;
	play(jb, pk, 450, t0, 400, src_noise, out);
	media_jb_stats(jb, &st);
	CU_ASSERT_EQUAL(st.late, 1);
	CU_ASSERT_EQUAL(st.concealed, 1);
	fill(want, 200 * 160, MEDIA_FRAME, src_noise);
	for (size_t k = 0; k < 400; k++)
		if (memcmp(out[k], want, MEDIA_FRAME) == 0)
			found++;
	CU_ASSERT_EQUAL(found, 0);
	media_jb_free(jb);
}

/* Lost packets: the gap is filled by PLC, never silence. */
static void
test_jb_loss_concealed(void)
{
	static uint8_t out[1000][MEDIA_FRAME];
	static struct pkt pk[1100];
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_jb_stats st;
	size_t np = 0, lost = 0, quiet = 0;
	double normal;

	for (size_t i = 0; i < 1100; i++) {
		if (i > 10 && i % 37 == 0) {
			if (i < 990)
				lost++;
			continue;
		}
		pk[np].ts = 999 + (uint32_t)i * 160;
		pk[np].len = 160;
		pk[np].at = 300 + i * TICK_US + 30000;
		np++;
	}
	play(jb, pk, np, 0, 1000, src_sine, out);
	media_jb_stats(jb, &st);
	printf("\n  lost %zu: concealed %lu ", lost, st.concealed);
	CU_ASSERT_EQUAL(st.concealed, lost);
	normal = energy(out[5]);
	CU_ASSERT(normal > 1e6);
	for (size_t k = 5; k < 980; k++)
		if (energy(out[k]) < normal / 4)
			quiet++;
	CU_ASSERT_EQUAL(quiet, 0);
	media_jb_free(jb);
}

/* A timestamp jump (new talk spurt numbering) and a pause resync. */
static void
test_jb_jump_pause(void)
{
	static uint8_t out[800][MEDIA_FRAME];
	static struct pkt pk[900];
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_jb_stats st;
	size_t np = 0;

	for (size_t i = 0; i < 850; i++) {
		uint32_t ts = (uint32_t)i * 160;
		uint64_t at = 500 + i * TICK_US + 25000;

		if (i >= 300)
			ts += 3000000000u;      /* jump */
		if (i >= 500 && i < 600)
			continue;               /* two seconds of nothing */
		pk[np].ts = ts;
		pk[np].len = 160;
		pk[np].at = at;
		np++;
	}
	play(jb, pk, np, 0, 800, src_sine, out);
	media_jb_stats(jb, &st);
	printf("\n  jump+pause: resyncs %lu late %lu concealed %lu ", st.resyncs, st.late, st.concealed);
	CU_ASSERT_EQUAL(st.resyncs, 1);
	CU_ASSERT(st.concealed <= 4 + 50);     /* the jump, then the PLC fade of the pause */
	CU_ASSERT(!is_silence(out[320]));
	CU_ASSERT(is_silence(out[590]));        /* forgotten after a second */
	CU_ASSERT(!is_silence(out[700]));       /* primed again */
	media_jb_free(jb);
}

/* Bit transparency: every received byte reaches the span as it came, for
 * all 256 values of both laws (clear channel data, fax, modem tones; a
 * decode/encode round trip turns mu-law 0x7F into 0xFF), over a stream
 * with pairs swapped in flight and a packet lost now and then. Only the
 * lost packets' frames come from the PLC, and after each of those only
 * the PLC's cross-fade at the head of the next frame may differ. */
static uint8_t
src_bytes(uint32_t ts)
{
	/* every value in every 256 samples, in a different order each time */
	return (uint8_t)(ts * 167u + (ts >> 8) * 89u);
}

static void
test_jb_transparent(void)
{
	static struct pkt pk[1000];
	enum cfg_law laws[] = { CFG_LAW_ULAW, CFG_LAW_ALAW };

	for (size_t z = 0; z < 2; z++) {
		struct media_jb *jb = media_jb_new(laws[z], 20, 200);
		struct media_jb_stats st;
		uint8_t buf[MEDIA_FRAME], out[MEDIA_FRAME], want[MEDIA_FRAME];
		bool seen[256] = { false };
		size_t np = 0, j = 0, exact = 0, conc = 0, faded = 0, bad = 0, values = 0;
		size_t lost = 0;
		unsigned long conc_before = 0, grown_before = 0, shrunk_before = 0;
		size_t grown = 0;
		int64_t ts = -1, next = -1;
		bool after_gap = false;

		for (size_t i = 0; i < 1000; i++) {
			if (i > 20 && i % 41 == 0) {
				lost++;
				continue;
			}
			pk[np].ts = 4242 + (uint32_t)i * 160;
			pk[np].len = 160;
			pk[np].at = 1000 + i * TICK_US + 30000 + (i % 2 == 0 ? 25000 : 0);
			np++;
		}
		qsort(pk, np, sizeof(pk[0]), pkt_cmp);
		for (size_t k = 0; k < 1000; k++) {
			uint64_t now = k * TICK_US;

			while (j < np && pk[j].at <= now) {
				fill(buf, pk[j].ts, pk[j].len, src_bytes);
				media_jb_put(jb, pk[j].ts, buf, pk[j].len, pk[j].at);
				j++;
			}
			media_jb_get(jb, out, now);
			media_jb_stats(jb, &st);
			if (st.frames == 0)
				continue;
			if (st.grown_ms > grown_before) {
				/* a frame of concealment inserted: more delay */
				grown++;
				CU_ASSERT(next >= 0);
				grown_before = st.grown_ms;
				conc_before = st.concealed;
				after_gap = true;
				continue;
			}
			if (next >= 0)
				ts = next;
			if (st.shrunk_ms > shrunk_before)
				ts += MEDIA_FRAME;      /* a frame skipped: less delay */
			shrunk_before = st.shrunk_ms;
			if (ts < 0) {
				/* the first real frame: where the stream is */
				for (int64_t t = 4242; t < 4242 + 100 * 160 && ts < 0; t += 160) {
					fill(want, (uint32_t)t, MEDIA_FRAME, src_bytes);
					if (memcmp(want, out, MEDIA_FRAME) == 0)
						ts = t;
				}
				CU_ASSERT_FATAL(ts >= 0);
			}
			next = ts + MEDIA_FRAME;
			if (k >= 980)
				break;
			fill(want, (uint32_t)ts, MEDIA_FRAME, src_bytes);
			if (st.concealed > conc_before) {
				/* a lost packet: PLC, not its audio nor silence */
				conc++;
				CU_ASSERT(memcmp(want, out, MEDIA_FRAME) != 0);
				after_gap = true;
			} else if (memcmp(want, out, MEDIA_FRAME) == 0) {
				exact++;
				for (size_t i = 0; i < MEDIA_FRAME; i++)
					seen[out[i]] = true;
				after_gap = false;
			} else if (after_gap &&
			    memcmp(want + PLC_PITCH_OVERLAP_MAX, out + PLC_PITCH_OVERLAP_MAX,
			    MEDIA_FRAME - PLC_PITCH_OVERLAP_MAX) == 0) {
				faded++;
				after_gap = false;
			} else
				bad++;
			conc_before = st.concealed;
		}
		for (size_t v = 0; v < 256; v++)
			values += seen[v];
		printf("\n  %s: %zu frames bit-exact, %zu concealed (%zu lost), %zu inserted, "
		    "%zu cross-faded, %zu wrong, %zu byte values ",
		    laws[z] == CFG_LAW_ULAW ? "mu-law" : "A-law", exact, conc, lost, grown, faded,
		    bad, values);
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT_EQUAL(values, 256);
		CU_ASSERT(seen[0x7F] && seen[0xFF] && seen[0x55] && seen[0xD5]);
		CU_ASSERT(exact >= 900);
		CU_ASSERT(conc >= lost - 2 && conc <= lost);
		CU_ASSERT(st.grown_ms + st.shrunk_ms <= 60);
		CU_ASSERT_EQUAL(st.late, 0);
		media_jb_free(jb);
	}
}

/* ---- an IP network path after ITU-T G.1050 (tests/unit/netmodel.c) ---- */

/* Five minutes through each G.1050 profile: delay, late loss and
 * concealment printed, and held to bounds:
 * - the buffering delay never exceeds jitter_max_ms + 20 ms (the buffer
 *   moves by whole 20 ms frames);
 * - late packets are at most 2% plus those the network delayed beyond
 *   jitter_max_ms over the fastest recent packet (those cannot be waited
 *   for): the buffer aims at the 99th percentile;
 * - every concealed frame is a lost or late packet (no extra holes), and
 *   every lost or late packet is concealed (no silent gap), except those
 *   of a link failure longer than a second (the stream is then forgotten,
 *   and silence played, by design);
 * - a frame comes out on every tick while packets come. */
static void
test_jb_network(void)
{
	static struct netmodel_pkt pk[15000];
	static uint8_t out[1][MEDIA_FRAME];
	const unsigned int max_ms = 200;

	printf("\n  %-9s %6s %6s %6s %10s %9s %7s %7s %7s %7s %6s\n", "profile", "loss%",
	    "late%", "over%", "delay mean", "delay max", "conc%", "grown", "shrunk", "target",
	    "frames");
	for (size_t p = 0; p < netmodel_nprofiles; p++) {
		const struct netmodel_profile *np = &netmodel_profiles[p];
		struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, max_ms);
		struct media_jb_stats st;
		struct netmodel_result res;
		uint64_t t0 = 1000000 + 3700;
		size_t n = netmodel_run(np, 300, 0, 1000 + p, t0, max_ms, pk, &res);
		size_t j = 0, ticks = 14900, idle = 0, gap_lost = 0, gap_part = 0;
		uint8_t buf[MEDIA_FRAME];
		double loss, late, conc, over;

		CU_ASSERT_FATAL(n > 0);
		for (size_t k = 0; k < ticks; k++) {
			uint64_t now = 1000000 + k * TICK_US;

			while (j < n && pk[j].at_us <= now) {
				fill(buf, pk[j].ts, MEDIA_FRAME, src_sine);
				media_jb_put(jb, pk[j].ts, buf, MEDIA_FRAME, pk[j].at_us);
				j++;
			}
			/* Ticks with nothing heard for over a second, and
			 * before the first packet: no frame expected. */
			if (j == 0 || now > pk[j - 1].at_us + 1000000)
				idle++;
			media_jb_get(jb, out[0], now);
		}
		/* Packets lost in silences longer than a second: the first
		 * second of such a gap is concealed, the rest is silence. */
		for (size_t i = 1; i < n; i++) {
			size_t miss = pk[i].seq > pk[i - 1].seq ? pk[i].seq - pk[i - 1].seq - 1 : 0;

			if (pk[i].at_us > pk[i - 1].at_us + 1000000) {
				gap_lost += miss;
				gap_part += miss > 50 ? miss - 50 : 0;
			}
		}
		media_jb_stats(jb, &st);
		loss = 100.0 * res.lost / res.sent;
		late = 100.0 * st.late / res.sent;
		conc = 100.0 * st.concealed / st.frames;
		over = 100.0 * res.over_max / res.sent;
		printf("  %-9s %6.2f %6.2f %6.2f %7u ms %6u ms %7.2f %4lu ms %4lu ms %4u ms %6lu\n",
		    np->name, loss, late, over, st.delay_mean_ms, st.delay_max_ms, conc,
		    st.grown_ms, st.shrunk_ms, st.target_ms, st.frames);
		CU_ASSERT(st.frames + idle + 50 >= ticks);
		CU_ASSERT(late <= 2.0 + over);
		/* A path whose jitter the buffer cannot span (G.1050 H: half a
		 * second of core jitter against jitter_max_ms 200) only has to
		 * play and not lose more than the network forces. */
		if (over < 5.0) {
			CU_ASSERT(st.delay_max_ms <= max_ms + 20);
			CU_ASSERT(conc <= 100.0 * (res.lost - gap_part) / res.sent + late + 0.5);
			CU_ASSERT(conc >= (100.0 * (res.lost - gap_lost) / res.sent + late) * 0.8 - 0.5);
		}
		CU_ASSERT(st.resyncs == 0);
		media_jb_free(jb);
	}
}

/* An hour of a sender whose clock is off by ppm, with a little jitter:
 * after priming there is never a hole, the delay stays in bounds, and the
 * buffer corrects by skipping or inserting whole frames. */
static void
drift_run(double ppm)
{
	struct media_jb *jb = media_jb_new(CFG_LAW_ALAW, 20, 200);
	struct media_jb_stats st;
	uint8_t buf[MEDIA_FRAME], frame[MEDIA_FRAME];
	const size_t ticks = 180000;
	double period = 20000.0 / (1.0 + ppm * 1e-6);   /* sender's 20 ms in our us */
	uint64_t rng = 42;
	size_t i = 0;
	unsigned int dmin = 1000, dmax = 0;
	double expect;

	for (size_t k = 0; k < ticks; k++) {
		uint64_t now = 10000000 + k * TICK_US;

		for (;;) {
			/* up to 8 ms of jitter, in order */
			double at = 10000000 + 3000 + i * period + 30000;

			rng = hash64(rng + i);
			at += (double)(rng % 8000);
			if (at > (double)now)
				break;
			fill(buf, (uint32_t)i * 160, MEDIA_FRAME, src_sine);
			media_jb_put(jb, (uint32_t)i * 160, buf, MEDIA_FRAME, (uint64_t)at);
			i++;
		}
		media_jb_get(jb, frame, now);
		if (k > 500) {
			media_jb_stats(jb, &st);
			if (st.delay_ms < dmin)
				dmin = st.delay_ms;
			if (st.delay_ms > dmax)
				dmax = st.delay_ms;
		}
	}
	media_jb_stats(jb, &st);
	expect = fabs(ppm) * 1e-6 * 3600 * 1000;
	printf("\n  drift %+.0f ppm, 1 h: frames %lu concealed %lu late %lu delay %u..%u ms "
	    "grown %lu ms shrunk %lu ms (drift %.0f ms) ",
	    ppm, st.frames, st.concealed, st.late, dmin, dmax, st.grown_ms, st.shrunk_ms, expect);
	CU_ASSERT_EQUAL(st.concealed, 0);
	CU_ASSERT_EQUAL(st.late, 0);
	CU_ASSERT(dmin >= 15);
	CU_ASSERT(dmax <= 60);
	/* What was skipped or inserted is the drift, within two frames. */
	if (ppm > 0) {
		CU_ASSERT(fabs((double)st.shrunk_ms - (double)st.grown_ms - expect) <= 40);
	} else {
		CU_ASSERT(fabs((double)st.grown_ms - (double)st.shrunk_ms - expect) <= 40);
	}
	media_jb_free(jb);
}

static void
test_jb_drift_fast(void)
{
	drift_run(200);
}

static void
test_jb_drift_slow(void)
{
	drift_run(-200);
}

/* ---- DTMF ---- */

struct rx_log {
	char digits[16];
	size_t n;
};

static void
rx_log_cb(void *arg, const char *digits, int len)
{
	struct rx_log *l = arg;

	for (int i = 0; i < len && l->n + 1 < sizeof(l->digits); i++)
		l->digits[l->n++] = digits[i];
	l->digits[l->n] = '\0';
}

/* Digits a SpanDSP detector hears in frames. */
static void
detect(uint8_t (*frames)[MEDIA_FRAME], size_t n, struct rx_log *l)
{
	dtmf_rx_state_t *rx = dtmf_rx_init(NULL, rx_log_cb, l);
	int16_t amp[MEDIA_FRAME];

	memset(l, 0, sizeof(*l));
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < MEDIA_FRAME; i++)
			amp[i] = alaw_to_linear(frames[k][i]);
		dtmf_rx(rx, amp, MEDIA_FRAME);
	}
	dtmf_rx_free(rx);
}

/* Frames with a 440 Hz murmur, and the digits generated into them. */
static void
make_digits(uint8_t (*frames)[MEDIA_FRAME], size_t n, const char *digits, int on_ms,
            int off_ms, size_t start_frame)
{
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	int16_t amp[MEDIA_FRAME];

	dtmf_tx_set_timing(tx, on_ms, off_ms);
	for (size_t k = 0; k < n; k++) {
		int got = 0;

		if (k == start_frame)
			dtmf_tx_put(tx, digits, -1);
		if (k >= start_frame)
			got = dtmf_tx(tx, amp, MEDIA_FRAME);
		for (int i = 0; i < MEDIA_FRAME; i++) {
			double v = 300.0 * sin(2.0 * M_PI * 440.0 * (k * MEDIA_FRAME + i) / 8000.0);

			if (i < got)
				v += amp[i];
			frames[k][i] = linear_to_alaw((int)v);
		}
	}
	dtmf_tx_free(tx);
}

struct te_seen {
	uint8_t event;
	bool end;
	unsigned int duration;
	uint32_t ts;
	bool marker;
	size_t frame;
};

/* A digit from the PSTN: start, updates, three ends, audio muted. */
static void
test_dtmf_out(void)
{
	static uint8_t in[120][MEDIA_FRAME], sent[120][MEDIA_FRAME];
	struct te_seen seen[200];
	size_t nseen = 0, starts = 0, ends = 0, updates = 0;
	struct media_dtmf_out *out = media_dtmf_out_new(CFG_LAW_ALAW);
	struct media_dtmf_stats st;
	struct rx_log l;
	unsigned int last_dur = 0;

	make_digits(in, 120, "5", 120, 100, 30);
	detect(in, 120, &l);
	CU_ASSERT_STRING_EQUAL(l.digits, "5");  /* the input has it */

	for (size_t k = 0; k < 120; k++) {
		struct media_te_pkt pk[MEDIA_TE_MAX];
		size_t np;

		memcpy(sent[k], in[k], MEDIA_FRAME);
		media_dtmf_out_frame(out, sent[k], 7000 + (uint32_t)k * 160, pk, &np);
		for (size_t i = 0; i < np && nseen < 200; i++) {
			struct te_seen *t = &seen[nseen++];

			t->event = pk[i].payload[0];
			t->end = pk[i].payload[1] & 0x80;
			t->duration = (unsigned int)(pk[i].payload[2] << 8 | pk[i].payload[3]);
			t->ts = pk[i].ts;
			t->marker = pk[i].marker;
			t->frame = k;
		}
	}
	CU_ASSERT_FATAL(nseen > 4);
	for (size_t i = 0; i < nseen; i++) {
		CU_ASSERT_EQUAL(seen[i].event, 5);
		CU_ASSERT_EQUAL(seen[i].ts, seen[0].ts);
		CU_ASSERT(seen[i].duration >= last_dur);
		last_dur = seen[i].duration;
		if (seen[i].marker)
			starts++;
		else if (seen[i].end)
			ends++;
		else
			updates++;
		if (i > 0 && i < nseen - 2)
			CU_ASSERT_EQUAL(seen[i].frame, seen[i - 1].frame + 1);
	}
	printf("\n  out: %zu packets, start ts %u, updates %zu, ends %zu, duration %u ",
	    nseen, seen[0].ts, updates, ends, last_dur);
	CU_ASSERT_TRUE(seen[0].marker);
	CU_ASSERT_FALSE(seen[0].end);
	CU_ASSERT_EQUAL(starts, 1);
	CU_ASSERT_EQUAL(ends, 3);
	CU_ASSERT(seen[nseen - 1].end && seen[nseen - 2].end && seen[nseen - 3].end);
	CU_ASSERT_EQUAL(seen[nseen - 1].duration, seen[nseen - 3].duration);
	/* 120 ms = 960 samples, give or take the detector's timing */
	CU_ASSERT(last_dur >= 960 - 320 && last_dur <= 960 + 320);
	/* The event starts at the audio it replaces: frame 30 went in, it
	 * leaves MEDIA_DTMF_DELAY frames later with timestamp 7000 + 160 k. */
	CU_ASSERT(seen[0].ts >= 7000 + 30 * 160 && seen[0].ts <= 7000 + 33 * 160);

	/* The audio sent carries no digit; away from it, it is the input,
	 * MEDIA_DTMF_DELAY frames late. */
	detect(sent, 120, &l);
	CU_ASSERT_STRING_EQUAL(l.digits, "");
	CU_ASSERT_EQUAL(memcmp(sent[20], in[20 - MEDIA_DTMF_DELAY], MEDIA_FRAME), 0);
	CU_ASSERT_EQUAL(memcmp(sent[100], in[100 - MEDIA_DTMF_DELAY], MEDIA_FRAME), 0);
	media_dtmf_out_stats(out, &st);
	CU_ASSERT_EQUAL(st.events, 1);
	CU_ASSERT_EQUAL(st.packets, nseen);
	media_dtmf_out_free(out);
}

/* Two digits in a row are two events with their own timestamps. */
static void
test_dtmf_out_two(void)
{
	static uint8_t in[150][MEDIA_FRAME];
	struct media_dtmf_out *out = media_dtmf_out_new(CFG_LAW_ALAW);
	uint32_t ts[4];
	int digits[4];
	size_t nst = 0, ends = 0;

	make_digits(in, 150, "1#", 80, 80, 10);
	for (size_t k = 0; k < 150; k++) {
		struct media_te_pkt pk[MEDIA_TE_MAX];
		size_t np;
		int d = media_dtmf_out_frame(out, in[k], (uint32_t)k * 160, pk, &np);

		for (size_t i = 0; i < np; i++) {
			if (pk[i].marker && nst < 4) {
				ts[nst] = pk[i].ts;
				digits[nst++] = pk[i].payload[0];
			}
			if (pk[i].payload[1] & 0x80)
				ends++;
		}
		if (d)
			CU_ASSERT(d == '1' || d == '#');
	}
	CU_ASSERT_EQUAL_FATAL(nst, 2);
	CU_ASSERT_EQUAL(digits[0], 1);
	CU_ASSERT_EQUAL(digits[1], 11);
	CU_ASSERT(ts[1] > ts[0]);
	CU_ASSERT_EQUAL(ends, 6);
	media_dtmf_out_free(out);
}

static void
te(uint8_t *p, int event, bool end, unsigned int duration)
{
	p[0] = (uint8_t)event;
	p[1] = (uint8_t)((end ? 0x80 : 0) | 10);
	p[2] = (uint8_t)(duration >> 8);
	p[3] = (uint8_t)duration;
}

static size_t
tone_samples(uint8_t (*frames)[MEDIA_FRAME], size_t n)
{
	size_t c = 0;

	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < MEDIA_FRAME; i++)
			if (frames[k][i] != 0xD5)
				c++;
	return c;
}

/* An event from the Internet as a sender sends it: start, an update every
 * 20 ms, three ends; the span hears the digit for the event's duration.
 * skip drops the first packets (a lost start). */
static void
dtmf_in_run(unsigned int duration, size_t skip, bool lose_end, const char *want,
            size_t want_samples)
{
	static uint8_t fr[100][MEDIA_FRAME];
	struct media_dtmf_in *in = media_dtmf_in_new(CFG_LAW_ALAW);
	struct rx_log l;
	size_t pkt = 0, got;
	uint8_t p[4];

	for (size_t k = 0; k < 100; k++) {
		memset(fr[k], 0xD5, MEDIA_FRAME);
		if (k >= 10) {
			unsigned int d = (unsigned int)(k - 10 + 1) * 160;
			bool end = d >= duration;

			if (end)
				d = duration;
			if (pkt >= skip && !(end && lose_end) && (!end || k - 10 < duration / 160 + 3)) {
				te(p, 7, end, d);
				CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 55555), 0);
			}
			pkt++;
		}
		media_dtmf_in_frame(in, fr[k]);
	}
	detect(fr, 100, &l);
	got = tone_samples(fr, 100);
	printf("\n  in: duration %u skip %zu%s: heard \"%s\" for %zu samples ", duration, skip,
	    lose_end ? " no end" : "", l.digits, got);
	CU_ASSERT_STRING_EQUAL(l.digits, want);
	CU_ASSERT(got >= want_samples - 160 && got <= want_samples + 160);
	media_dtmf_in_free(in);
}

/* A digit injected with its duration (SIP INFO): heard for that long. */
static void
test_dtmf_in_digit(void)
{
	static uint8_t fr[40][MEDIA_FRAME];
	struct media_dtmf_in *in = media_dtmf_in_new(CFG_LAW_ALAW);
	struct rx_log l;
	size_t got;

	CU_ASSERT_EQUAL(media_dtmf_in_digit(in, 'x', 160), EINVAL);
	for (size_t k = 0; k < 40; k++) {
		memset(fr[k], 0xD5, MEDIA_FRAME);
		if (k == 5)
			CU_ASSERT_EQUAL(media_dtmf_in_digit(in, '5', 160), 0);
		media_dtmf_in_frame(in, fr[k]);
	}
	detect(fr, 40, &l);
	got = tone_samples(fr, 40);
	CU_ASSERT_STRING_EQUAL(l.digits, "5");
	CU_ASSERT(got >= 1280 - 160 && got <= 1280 + 160);
	media_dtmf_in_free(in);
}

static void
test_dtmf_in(void)
{
	dtmf_in_run(800, 0, false, "7", 800);           /* 100 ms */
	dtmf_in_run(800, 2, false, "7", 800);           /* start and one update lost */
	dtmf_in_run(1600, 0, false, "7", 1600);         /* 200 ms */
	dtmf_in_run(160, 0, false, "7", 320);           /* 20 ms: played 40 ms */
	dtmf_in_run(3200, 0, true, "7", 3040 + 1600);   /* no end: 200 ms past the last update */
}

/* Malformed and non-DTMF payloads, repeated ends and late old events
 * change nothing. */
static void
test_dtmf_in_bad(void)
{
	struct media_dtmf_in *in = media_dtmf_in_new(CFG_LAW_ALAW);
	struct media_dtmf_stats st;
	uint8_t f[MEDIA_FRAME], p[8];

	memset(f, 0xD5, sizeof(f));
	te(p, 3, false, 160);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 3, 100), EINVAL);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 0, 100), EINVAL);
	te(p, 16, false, 160);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 100), ENOTSUP);
	te(p, 200, true, 160);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 100), ENOTSUP);
	CU_ASSERT_FALSE(media_dtmf_in_frame(in, f));
	CU_ASSERT_EQUAL(tone_samples(&f, 1), 0);

	/* an event that ended; its repeated ends and an older event */
	te(p, 3, true, 320);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 1000), 0);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 1000), 0);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 1000), 0);
	te(p, 4, false, 160);
	CU_ASSERT_EQUAL(media_dtmf_in_event(in, p, 4, 900), 0);
	CU_ASSERT_TRUE(media_dtmf_in_frame(in, f));
	CU_ASSERT_TRUE(media_dtmf_in_frame(in, f));
	memset(f, 0xD5, sizeof(f));
	CU_ASSERT_FALSE(media_dtmf_in_frame(in, f));
	CU_ASSERT_EQUAL(tone_samples(&f, 1), 0);
	media_dtmf_in_stats(in, &st);
	CU_ASSERT_EQUAL(st.events, 1);
	CU_ASSERT_EQUAL(st.bad, 2);
	CU_ASSERT_EQUAL(media_dtmf_event_code('#'), 11);
	CU_ASSERT_EQUAL(media_dtmf_event_code('x'), -1);
	CU_ASSERT_EQUAL(media_dtmf_event_digit(15), 'D');
	media_dtmf_in_free(in);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("jb", NULL, NULL);
	CU_add_test(s, "in order: continuous audio, bounded delay", test_jb_in_order);
	CU_add_test(s, "10, 30 and 50 ms packets", test_jb_ptime);
	CU_add_test(s, "reordered and duplicated packets", test_jb_reorder_duplicate);
	CU_add_test(s, "duplicated packets: output still bit-exact", test_jb_duplicate_exact);
	CU_add_test(s, "late packet dropped and concealed", test_jb_late);
	CU_add_test(s, "loss concealed by PLC, never silent", test_jb_loss_concealed);
	CU_add_test(s, "timestamp jump and pause", test_jb_jump_pause);
	CU_add_test(s, "received bytes bit-exact, both laws, all 256 values", test_jb_transparent);
	CU_add_test(s, "G.1050-style network profiles", test_jb_network);
	CU_add_test(s, "drift +200 ppm for an hour", test_jb_drift_fast);
	CU_add_test(s, "drift -200 ppm for an hour", test_jb_drift_slow);
	s = CU_add_suite("dtmf", NULL, NULL);
	CU_add_test(s, "PSTN digit -> RFC 4733 start, updates, 3 ends; muted", test_dtmf_out);
	CU_add_test(s, "two digits, two events", test_dtmf_out_two);
	CU_add_test(s, "RFC 4733 events -> digit in-band for their duration", test_dtmf_in);
	CU_add_test(s, "malformed, non-DTMF, repeated and old events ignored", test_dtmf_in_bad);
	CU_add_test(s, "a digit with a duration (SIP INFO) plays that long", test_dtmf_in_digit);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
