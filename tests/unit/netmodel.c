/* An IP network path after ITU-T G.1050 Appendix II (see netmodel.h).
 *
 * Units inside: milliseconds (double) from the departure of the first
 * packet. Probabilities that G.1050 gives per packet are turned into per
 * 1 ms slice ones, p_ms = 1 - (1 - p)^(1 / packet interval), so that a
 * state lasts as long in time whatever the slicing; the per-packet access
 * link filter coefficient is turned into a per-ms one the same way, and the
 * impulse height scaled so that one impulse raises the filtered delay as
 * much as one per-packet step would. */
#include "netmodel.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_MS 16384           /* slices kept per segment */
#define PKT_MS 20.0             /* packet interval */
#define PKT_BYTES 200           /* 160 G.711 + RTP 12 + UDP 8 + IP 20 */
#define WIN 256                 /* packets looked back for over_max */

/* G.1050 Table 10 (the few speed patterns used here), bit/s. The sender
 * is side A: its access link's upstream rate counts; the receiver is side
 * B: its access link's downstream rate. */
struct nm_speed {
	int pattern;
	double lan_a, access_a_up, access_b_down, lan_b;
};

static const struct nm_speed nm_speeds[] = {
	{ 1,     4e6,  128e3,  768e3,   4e6 },      /* 802.11b-ish LANs, slow uplink */
	{ 29,   20e6,  384e3, 1536e3, 100e6 },      /* DSL */
	{ 168, 100e6,   13e6,   13e6, 100e6 },      /* fast links */
};

/* G.1050 Tables 5-9: impairment severities (as SpanDSP's model has
 * them; regional core delay). */
struct nm_severity {
	char name;
	double lan_occ, access_occ;             /* percent */
	int lan_mtu, access_mtu;                /* bytes */
	double lan_jitter;                      /* ms, uniform */
	double core_ms, core_jitter_ms, core_loss_pct;
	double flap_s, flap_ms, fail_s, fail_ms;
	double reorder_pct;
};

static const struct nm_severity nm_severities[] = {
	{ '0',  0,  0, 1508,  512, 0,     0,   0, 0,       0,   0,    0,    0, 0 },
	{ 'A',  1,  0, 1508,  512, 1.5,   4,   5, 0,       0,   0,    0,    0, 0 },
	{ 'B',  2,  1, 1508,  512, 1.5,   8,  10, 0.01, 3600,   2, 3600,   64, 0 },
	{ 'C',  3,  2, 1508, 1508, 1.5,  16,  16, 0.02, 1800,   4, 1800,  128, 0 },
	{ 'D',  5,  4, 1508, 1508, 1.5,  32,  40, 0.04,  900,   8,  900,  256, 0 },
	{ 'E',  8,  8, 1508, 1508, 1.5,  64,  70, 0.1,   480,  16,  480,  400, 0 },
	{ 'F', 12, 15, 1508, 1508, 1.5, 128, 100, 0.2,   240,  32,  240,  800, 0 },
	{ 'G', 16, 30, 1508, 1508, 1.5, 256, 150, 0.5,   120,  64,  120, 1600, 0 },
	{ 'H', 20, 50, 1508, 1508, 1.5, 512, 500, 1.0,    60, 128,   60, 3000, 1.0 },
};

const struct netmodel_profile netmodel_profiles[] = {
	{ "none/168", 0, 168 },
	{ "A/168",    1, 168 },
	{ "B/29",     2, 29 },
	{ "C/29",     3, 29 },
	{ "D/29",     4, 29 },
	{ "D/1",      4, 1 },
	{ "E/29",     5, 29 },
	{ "F/29",     6, 29 },
	{ "G/29",     7, 29 },
	{ "H/29",     8, 29 },
};
const size_t netmodel_nprofiles = sizeof(netmodel_profiles) / sizeof(netmodel_profiles[0]);

/* ---- random numbers ---- */

static uint64_t
nm_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Uniform in [0, 1). */
static double
nm_rand(uint64_t *rng)
{
	*rng += 0x9e3779b97f4a7c15ULL;
	return (double)(nm_mix(*rng) >> 11) / 9007199254740992.0;
}

/* A per-packet probability as a per-ms one. */
static double
nm_per_ms(double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return 1;
	return 1.0 - pow(1.0 - p, 1.0 / PKT_MS);
}

/* ---- LAN and access link segments ---- */

struct nm_slice {
	double delay;           /* ms */
	bool lost;
};

struct nm_link {
	bool lan;
	double p_change[2];     /* per ms: low->high, high->low */
	double p_impulse[2];    /* per ms, in the low and high loss states */
	double height;          /* ms, largest impulse */
	double coeff;           /* per-ms decay of the congestion filter */
	double serial;          /* ms, serialisation of our packet */
	double jitter;          /* ms, uniform */
	double p_loss;          /* in the high loss state */
	int high;
	double congestion;      /* ms, filter output */
	uint64_t rng;
	int64_t next;           /* next slice to compute */
	struct nm_slice ring[RING_MS];
	double last_exit;
};

static void
nm_link_init(struct nm_link *l, bool lan, double rate, double occ, int mtu, double jitter,
             uint64_t seed)
{
	double mtu_ms = mtu * 8.0 / rate * 1000.0;

	memset(l, 0, sizeof(*l));
	l->lan = lan;
	l->serial = PKT_BYTES * 8.0 / rate * 1000.0;
	l->jitter = jitter;
	l->rng = nm_mix(seed);
	if (lan) {
		/* G.1050 II.6.1: impulses only in the high loss state, half
		 * the time, uniform up to (MTU bit times)(1 + occ/40); no
		 * filter. */
		l->p_change[0] = nm_per_ms(0.004 * occ);
		l->p_change[1] = nm_per_ms(0.1);
		l->p_impulse[0] = 0;
		l->p_impulse[1] = 0.5;
		l->coeff = 0;
		l->height = mtu_ms * (1.0 + occ / 40.0);
		l->p_loss = 0.001 * occ;
	} else {
		/* G.1050 II.6.2: filter A = 0.25 per packet. */
		double coeff_pkt = 0.75;

		l->p_change[0] = nm_per_ms(0.0002 * occ);
		l->p_change[1] = nm_per_ms(0.2 / (1.0 + occ));
		l->p_impulse[0] = nm_per_ms(0.001 + occ / 2000.0);
		l->p_impulse[1] = nm_per_ms(0.3 + 0.4 * occ / 100.0);
		l->coeff = 1.0 - nm_per_ms(1.0 - coeff_pkt);
		l->height = (1.0 - coeff_pkt) / (1.0 - l->coeff) * mtu_ms * (1.0 + occ / 40.0);
		l->p_loss = 0.0005 * occ;
	}
}

static void
nm_link_step(struct nm_link *l, struct nm_slice *s)
{
	int was = l->high;
	double impulse = 0;

	s->delay = l->serial + l->jitter * nm_rand(&l->rng);
	s->lost = false;
	/* The state at the start of the slice decides; then it may change. */
	if (nm_rand(&l->rng) < l->p_change[was])
		l->high = !l->high;
	if (nm_rand(&l->rng) < l->p_impulse[was]) {
		impulse = l->height;
		if (!was || l->lan)
			impulse *= nm_rand(&l->rng);
	}
	if (was && nm_rand(&l->rng) < l->p_loss)
		s->lost = true;
	l->congestion = l->congestion * l->coeff + impulse * (1.0 - l->coeff);
	s->delay += l->congestion;
}

static const struct nm_slice *
nm_link_slice(struct nm_link *l, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	while (l->next <= ms) {
		nm_link_step(l, &l->ring[l->next % RING_MS]);
		l->next++;
	}
	if (ms <= l->next - RING_MS)
		ms = l->next - RING_MS + 1;     /* not expected: keep in range */
	return &l->ring[ms % RING_MS];
}

/* ---- core ---- */

struct nm_core {
	double base, jitter, p_loss, p_reorder, flap_ms;
	int64_t flap_every, flap_in, fail_every, fail_in, fail_len, fail_left;
	double flap_now;
	uint64_t rng;
	int64_t next;
	struct nm_slice ring[RING_MS];
	double last_exit;
};

static void
nm_core_init(struct nm_core *c, const struct nm_severity *sv, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->rng = nm_mix(seed);
	c->base = sv->core_ms;
	c->jitter = sv->core_jitter_ms;
	c->p_loss = sv->core_loss_pct / 100.0;
	c->p_reorder = sv->reorder_pct / 100.0;
	c->flap_ms = sv->flap_ms;
	c->flap_every = (int64_t)(sv->flap_s * 1000);
	c->fail_every = (int64_t)(sv->fail_s * 1000);
	c->fail_len = (int64_t)sv->fail_ms;
	/* The path is found somewhere into its first quiet period. */
	if (c->flap_every > 0)
		c->flap_in = 1 + (int64_t)(c->flap_every * nm_rand(&c->rng));
	if (c->fail_every > 0)
		c->fail_in = 1 + (int64_t)(c->fail_every * nm_rand(&c->rng));
}

static void
nm_core_step(struct nm_core *c, struct nm_slice *s)
{
	s->lost = false;
	s->delay = c->base + c->jitter * nm_rand(&c->rng);
	if (c->flap_every > 0 && --c->flap_in <= 0) {
		/* The route changes: the extra delay comes or goes. */
		c->flap_now = c->flap_now > 0 ? 0 : c->flap_ms;
		c->flap_in = c->flap_every;
	}
	s->delay += c->flap_now;
	if (nm_rand(&c->rng) < c->p_loss)
		s->lost = true;
	if (c->fail_left > 0) {
		s->lost = true;
		if (--c->fail_left == 0)
			c->fail_in = c->fail_every;
	} else if (c->fail_every > 0 && --c->fail_in <= 0) {
		s->lost = true;
		c->fail_left = c->fail_len - 1;
		if (c->fail_left <= 0)
			c->fail_in = c->fail_every;
	}
}

static const struct nm_slice *
nm_core_slice(struct nm_core *c, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	while (c->next <= ms) {
		nm_core_step(c, &c->ring[c->next % RING_MS]);
		c->next++;
	}
	if (ms <= c->next - RING_MS)
		ms = c->next - RING_MS + 1;
	return &c->ring[ms % RING_MS];
}

/* ---- the path ---- */

struct nm_path {
	struct nm_link seg[4];  /* LAN A, access A, access B, LAN B */
	struct nm_core core;
};

static const struct nm_speed *
nm_speed_find(int pattern)
{
	for (size_t i = 0; i < sizeof(nm_speeds) / sizeof(nm_speeds[0]); i++)
		if (nm_speeds[i].pattern == pattern)
			return &nm_speeds[i];
	return &nm_speeds[0];
}

static const struct nm_severity *
nm_severity_find(int severity)
{
	if (severity < 0 || (size_t)severity >= sizeof(nm_severities) / sizeof(nm_severities[0]))
		severity = 0;
	return &nm_severities[severity];
}

static int64_t
nm_slot(double t)
{
	return (int64_t)floor(t + 0.5);
}

/* One FIFO segment over the packets in the order they enter it. */
static void
nm_link_pass(struct nm_link *l, double *t, bool *lost, const size_t *order, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		const struct nm_slice *s;

		if (lost[i])
			continue;
		s = nm_link_slice(l, nm_slot(t[i]));
		if (s->lost) {
			lost[i] = true;
			continue;
		}
		t[i] += s->delay;
		if (t[i] < l->last_exit)
			t[i] = l->last_exit;
		l->last_exit = t[i];
	}
}

static void
nm_core_pass(struct nm_core *c, double *t, bool *lost, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct nm_slice *s;

		if (lost[i])
			continue;
		s = nm_core_slice(c, nm_slot(t[i]));
		if (s->lost) {
			lost[i] = true;
			continue;
		}
		t[i] += s->delay;
		if (t[i] < c->last_exit) {
			/* Overtook the one before: kept so only by chance. */
			if (nm_rand(&c->rng) >= c->p_reorder)
				t[i] = c->last_exit;
		} else
			c->last_exit = t[i];
	}
}

static const double *nm_sort_t;

static int
nm_cmp_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (nm_sort_t[x] != nm_sort_t[y])
		return nm_sort_t[x] < nm_sort_t[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int
nm_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

size_t
netmodel_run(const struct netmodel_profile *p, double seconds, double ppm, uint64_t seed,
             uint64_t t0_us, unsigned int max_ms, struct netmodel_pkt *pk,
             struct netmodel_result *res)
{
	const struct nm_severity *sv = nm_severity_find(p->severity);
	const struct nm_speed *sp = nm_speed_find(p->speed_pattern);
	size_t sent = (size_t)(seconds * 1000.0 / PKT_MS), n = 0, nd = 0;
	double period = PKT_MS / (1.0 + ppm * 1e-6), *t = NULL, *dep = NULL, *tr = NULL;
	bool *lost = NULL;
	size_t *order = NULL;
	struct nm_path *path = NULL;
	uint32_t maxseq = 0;
	double sum = 0;

	memset(res, 0, sizeof(*res));
	if (pk == NULL || sent == 0)
		return 0;
	t = calloc(sent, sizeof(*t));
	dep = calloc(sent, sizeof(*dep));
	tr = calloc(sent, sizeof(*tr));
	lost = calloc(sent, sizeof(*lost));
	order = calloc(sent, sizeof(*order));
	path = calloc(1, sizeof(*path));
	if (t == NULL || dep == NULL || tr == NULL || lost == NULL || order == NULL ||
	    path == NULL)
		goto out;

	nm_link_init(&path->seg[0], true, sp->lan_a, sv->lan_occ, sv->lan_mtu, sv->lan_jitter,
	    seed * 5 + 1);
	nm_link_init(&path->seg[1], false, sp->access_a_up, sv->access_occ, sv->access_mtu, 0,
	    seed * 5 + 2);
	nm_core_init(&path->core, sv, seed * 5 + 3);
	nm_link_init(&path->seg[2], false, sp->access_b_down, sv->access_occ, sv->access_mtu,
	    0, seed * 5 + 4);
	nm_link_init(&path->seg[3], true, sp->lan_b, sv->lan_occ, sv->lan_mtu, sv->lan_jitter,
	    seed * 5 + 5);

	for (size_t i = 0; i < sent; i++) {
		dep[i] = t[i] = i * period;
		order[i] = i;
	}
	/* Up to the core, packets stay in the order sent. */
	nm_link_pass(&path->seg[0], t, lost, order, sent);
	nm_link_pass(&path->seg[1], t, lost, order, sent);
	nm_core_pass(&path->core, t, lost, sent);
	/* After it, in the order they come out of it. */
	nm_sort_t = t;
	qsort(order, sent, sizeof(*order), nm_cmp_idx);
	nm_link_pass(&path->seg[2], t, lost, order, sent);
	nm_link_pass(&path->seg[3], t, lost, order, sent);
	qsort(order, sent, sizeof(*order), nm_cmp_idx);

	res->sent = sent;
	for (size_t k = 0; k < sent; k++) {
		size_t i = order[k];

		if (lost[i]) {
			res->lost++;
			continue;
		}
		pk[n].sent_us = t0_us + (uint64_t)llround(dep[i] * 1000.0);
		pk[n].at_us = t0_us + (uint64_t)llround(t[i] * 1000.0);
		pk[n].ts = (uint32_t)i * 160;
		pk[n].seq = (uint32_t)i;
		pk[n].len = 160;
		if (n > 0 && pk[n].seq < maxseq)
			res->reordered++;
		if (pk[n].seq > maxseq)
			maxseq = pk[n].seq;
		n++;
	}
	/* Transit statistics, and what a buffer of max_ms cannot wait for. */
	for (size_t i = 0; i < sent; i++) {
		double lo;

		if (lost[i])
			continue;
		tr[nd++] = t[i] - dep[i];
		sum += t[i] - dep[i];
		lo = t[i] - dep[i];
		for (size_t j = i >= WIN ? i - WIN : 0; j < i; j++)
			if (!lost[j] && t[j] - dep[j] < lo)
				lo = t[j] - dep[j];
		if (t[i] - dep[i] - lo > max_ms)
			res->over_max++;
	}
	if (nd > 0) {
		size_t k99 = nd * 99 / 100;

		qsort(tr, nd, sizeof(*tr), nm_cmp_double);
		res->min_ms = tr[0];
		res->max_ms = tr[nd - 1];
		res->p99_ms = tr[k99 < nd ? k99 : nd - 1];
		res->mean_ms = sum / nd;
	}
out:
	free(t);
	free(dep);
	free(tr);
	free(lost);
	free(order);
	free(path);
	return n;
}

void
netmodel_describe(const struct netmodel_profile *p, char *buf, size_t len)
{
	const struct nm_severity *sv = nm_severity_find(p->severity);
	const struct nm_speed *sp = nm_speed_find(p->speed_pattern);

	snprintf(buf, len, "G.1050 severity %c, speed pattern %d: LAN %g/%g Mbit/s %g%%, "
	    "access %g/%g kbit/s %g%%, core %g ms + %g ms jitter, loss %g%%, "
	    "flap %g ms/%g s, failure %g ms/%g s, reorder %g%%",
	    sv->name, sp->pattern, sp->lan_a / 1e6, sp->lan_b / 1e6, sv->lan_occ,
	    sp->access_a_up / 1e3, sp->access_b_down / 1e3, sv->access_occ,
	    sv->core_ms, sv->core_jitter_ms, sv->core_loss_pct, sv->flap_ms, sv->flap_s,
	    sv->fail_ms, sv->fail_s, sv->reorder_pct);
}
