/* g1050_harness: our jitter buffer (src/media/jb.c) behind SpanDSP's own
 * G.1050 IP network model (spandsp-sim/g1050.c, built from Debian's
 * spandsp source package by tests/g1050/run.sh), with injected time.
 *
 * For each profile (a G.1050 impairment severity and speed pattern; the
 * same list as our own model's, tests/unit/netmodel.c, for comparison), a
 * 20 ms A-law stream (one packet of 160 samples every 20 ms of the
 * sender's clock) goes through g1050_put()/g1050_get(); every packet that
 * comes out is given to media_jb_put() with its arrival time, and the
 * span's 20 ms tick takes a frame with media_jb_get(). Printed per
 * profile: what the network did (loss, reordering, transit), and what the
 * buffer made of it (buffering delay mean and max, late loss, concealment
 * rate, delay steps).
 *
 * Asserted per profile, from the network's own figures (nothing measured
 * is compared with a stored result):
 * - a frame comes out on every tick while packets come (idle: ticks with
 *   nothing heard for over a second, which the buffer forgets by design);
 * - late loss <= 2 % + the packets the network delayed beyond max_ms over
 *   the fastest of the 256 packets sent before them (those cannot be
 *   waited for: the buffer aims at the 99th percentile within max_ms);
 * - where the jitter fits (under 5 % beyond max_ms): the buffering delay
 *   never exceeds max_ms + 20 ms (it moves by 20 ms frames), every lost or
 *   late packet is concealed and nothing else (within 0.5 percentage
 *   points; lost packets in gaps over a second are partly silence);
 * - no resync (a timestamp jump or clock jump that never happened).
 *
 * Usage: g1050_harness [-s seconds] [-m max_ms]. Ends with "N passed,
 * N failed" and exits 1 if any check failed. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spandsp.h>
#include "spandsp/g1050.h"

#include "media/jb.h"
#include "netmodel.h"          /* the profiles our own model runs */

#define TICK_US 20000ULL
#define T0_US 1000000ULL
#define PACKET_RATE 50
#define WIRE_BYTES 200          /* 160 bytes of audio + RTP, UDP, IPv4 */
#define RECENT 256
#define DEFAULT_MAX_MS 200      /* [rtp] jitter_max_ms default */
#define DEEP_MS 1000            /* the most jitter_max_ms allows */

static unsigned int passed, failed;

static void
check(bool ok, const char *profile, const char *what, double got, double bound)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("  FAIL %s: %s: %.2f, bound %.2f\n", profile, what, got, bound);
}

struct result {
	size_t sent, delivered, reordered, over, gap_lost, gap_part, idle, ticks;
	double tr_min, tr_mean, tr_max;
	struct media_jb_stats st;
};

static void
payload(uint8_t *buf, uint32_t ts)
{
	for (size_t i = 0; i < MEDIA_FRAME; i++)
		buf[i] = linear_to_alaw((int)(6000.0 * sin(2.0 * M_PI * 440.0 * (ts + i) / 8000.0)));
}

static int
run(const struct netmodel_profile *p, double seconds, unsigned int max_ms, long seed, struct result *r)
{
	g1050_state_t *net;
	struct media_jb *jb = NULL;
	uint8_t buf[WIRE_BYTES], frame[MEDIA_FRAME];
	double *sent_tr = NULL;         /* transit of each packet sent, or -1 */
	size_t nsend = (size_t)(seconds * PACKET_RATE), last_seq = 0;
	uint64_t last_at = 0;
	double tr_sum = 0;
	const uint32_t ts0 = 0x12345678u;
	int ret = ENOMEM;

	memset(r, 0, sizeof(*r));
	r->tr_min = 1e9;
	srand48(seed);          /* the model draws from drand48() */
	if ((net = g1050_init(p->severity, p->speed_pattern, WIRE_BYTES, PACKET_RATE)) == NULL)
		goto out;
	if ((jb = media_jb_new(CFG_LAW_ALAW, 20, max_ms)) == NULL)
		goto out;
	if ((sent_tr = calloc(nsend, sizeof(*sent_tr))) == NULL)
		goto out;
	for (size_t i = 0; i < nsend; i++)
		sent_tr[i] = -1;
	/* The span ticks while the sender sends; what is still in flight
	 * then is counted as delivered (not lost), not played. */
	r->ticks = nsend;
	for (size_t k = 0; k <= r->ticks; k++) {
		double t = (double)k / PACKET_RATE;
		uint64_t now = T0_US + k * TICK_US;
		double dep, arr;
		int seq, len;
		bool drain = k == r->ticks;

		if (drain)
			t = 1e12;       /* what is still in flight */
		else {
			uint32_t ts = ts0 + (uint32_t)k * MEDIA_FRAME;

			memset(buf, 0, sizeof(buf));
			memcpy(buf, &ts, sizeof(ts));
			if (g1050_put(net, buf, WIRE_BYTES, (int)k, t) < 0)
				goto out;
			r->sent++;
		}
		while ((len = g1050_get(net, buf, sizeof(buf), t, &seq, &dep, &arr)) >= 0) {
			uint32_t ts;
			uint64_t at = T0_US + (uint64_t)llround(arr * 1e6);
			uint8_t audio[MEDIA_FRAME];
			double tr = (arr - dep) * 1000, fastest = 1e9;

			if (len != WIRE_BYTES || seq < 0 || (size_t)seq >= nsend)
				continue;
			memcpy(&ts, buf, sizeof(ts));
			payload(audio, ts);
			if (at < last_at)
				at = last_at;   /* arrival times are ordered */
			if (!drain)
				media_jb_put(jb, ts, audio, MEDIA_FRAME, at);
			r->delivered++;
			if ((size_t)seq < last_seq)
				r->reordered++;
			else {
				size_t miss = r->delivered > 1 ? (size_t)seq - last_seq - 1 : 0;

				if (r->delivered > 1 && at > last_at + 1000000) {
					r->gap_lost += miss;
					r->gap_part += miss > PACKET_RATE ? miss - PACKET_RATE : 0;
				}
				last_seq = (size_t)seq;
			}
			last_at = at;
			sent_tr[seq] = tr;
			for (size_t j = (size_t)seq > RECENT ? (size_t)seq - RECENT : 0; j <= (size_t)seq; j++)
				if (sent_tr[j] >= 0 && sent_tr[j] < fastest)
					fastest = sent_tr[j];
			if (tr - fastest > max_ms)
				r->over++;
			tr_sum += tr;
			if (tr < r->tr_min)
				r->tr_min = tr;
			if (tr > r->tr_max)
				r->tr_max = tr;
		}
		if (drain)
			break;
		if (r->delivered == 0 || now > last_at + 1000000)
			r->idle++;
		media_jb_get(jb, frame, now);
		if (k + 1 == r->ticks)
			media_jb_stats(jb, &r->st);
	}
	r->tr_mean = r->delivered > 0 ? tr_sum / r->delivered : 0;
	ret = 0;
out:
	free(sent_tr);
	media_jb_free(jb);
	/* g1050_state_t has no release function in 0.0.6: empty its queue,
	 * then free the state. */
	if (net != NULL) {
		while (g1050_get(net, buf, sizeof(buf), 1e12, NULL, NULL, NULL) >= 0)
			;
		free(net);
	}
	return ret;
}

/* One profile at max_ms: run, print, check. Its share of packets beyond
 * max_ms of jitter goes to over. */
static int
report(const struct netmodel_profile *p, double seconds, unsigned int max_ms, long seed,
       double *over_pct)
{
	struct result r;
	char name[32];
	double loss, late, conc, over, forced, gapfree;

	if (max_ms != DEFAULT_MAX_MS)
		snprintf(name, sizeof(name), "%s@%u", p->name, max_ms);
	else
		snprintf(name, sizeof(name), "%s", p->name);
	if (run(p, seconds, max_ms, seed, &r) != 0) {
		printf("%s: out of memory\n", name);
		return ENOMEM;
	}
	loss = 100.0 * (double)(r.sent - r.delivered) / (double)r.sent;
	late = 100.0 * (double)r.st.late / (double)r.sent;
	over = 100.0 * (double)r.over / (double)r.sent;
	conc = r.st.frames > 0 ? 100.0 * (double)r.st.concealed / (double)r.st.frames : 100;
	*over_pct = over;
	printf("%-10s| %6.2f %5zu %6.1f %6.1f %6.1f | %6.2f %4u ms %4u ms %6.2f %7.2f %3lu/%-3lu %4zu\n",
	    name, loss, r.reordered, r.tr_min, r.tr_mean, r.tr_max, over,
	    r.st.delay_mean_ms, r.st.delay_max_ms, late, conc,
	    r.st.grown_ms / 20, r.st.shrunk_ms / 20, r.idle);
	check(r.delivered > r.sent / 2, name, "delivered of sent",
	    (double)r.delivered, (double)r.sent / 2);
	check(r.st.frames + r.idle + 50 >= r.ticks, name, "frames played + idle ticks",
	    (double)(r.st.frames + r.idle + 50), (double)r.ticks);
	check(late <= 2.0 + over, name, "late loss %", late, 2.0 + over);
	check(r.st.resyncs == 0, name, "resyncs", (double)r.st.resyncs, 0);
	if (over >= 5.0)
		return 0;
	/* the network's loss outside long gaps, plus the buffer's late loss */
	forced = 100.0 * (double)(r.sent - r.delivered - r.gap_part) / (double)r.sent + late;
	gapfree = 100.0 * (double)(r.sent - r.delivered - r.gap_lost) / (double)r.sent + late;
	check(r.st.delay_max_ms <= max_ms + 20, name, "buffering delay max ms",
	    r.st.delay_max_ms, max_ms + 20);
	check(conc <= forced + 0.5, name, "concealment % (upper)", conc, forced + 0.5);
	check(conc >= gapfree * 0.8 - 0.5, name, "concealment % (lower)", conc,
	    gapfree * 0.8 - 0.5);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: g1050_harness [-s seconds] [-m max_ms]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	double seconds = 300;
	unsigned int max_ms = DEFAULT_MAX_MS;
	int ch;

	while ((ch = getopt(argc, argv, "s:m:")) != -1) {
		switch (ch) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'm':
			max_ms = (unsigned int)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (seconds < 10 || seconds > 7200 || max_ms < 20 || max_ms > 1000)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("SpanDSP G.1050 model, %.0f s per profile, 20 ms packets, jitter_min_ms 20, "
	    "jitter_max_ms %u (name@ms: another max)\n", seconds, max_ms);
	printf("network: loss, reordered packets, transit min/mean/max ms, packets beyond "
	    "max_ms of jitter; buffer: buffering delay mean/max, late loss, concealed frames, "
	    "delay steps (+/- 20 ms), idle ticks\n");
	printf("%-10s| %6s %5s %6s %6s %6s | %6s %7s %7s %6s %7s %7s %4s\n", "profile", "loss%",
	    "reord", "tr min", "tr avg", "tr max", "over%", "delay", "dmax", "late%", "conceal%",
	    "steps", "idle");
	for (size_t i = 0; i < netmodel_nprofiles; i++) {
		const struct netmodel_profile *p = &netmodel_profiles[i];
		double over;

		if (report(p, seconds, max_ms, 1000 + (long)i, &over) != 0)
			return 1;
		/* Jitter beyond max_ms (G.1050 H): again with the deepest buffer. */
		if (over >= 5.0 && max_ms < DEEP_MS &&
		    report(p, seconds, DEEP_MS, 1000 + (long)i, &over) != 0)
			return 1;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed > 0 ? 1 : 0;
}
