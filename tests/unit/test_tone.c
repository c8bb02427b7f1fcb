/* media tone: the call progress tones generated for each zone are measured
 * as a receiver would (G.711 decoded, SpanDSP Goertzel filters for the
 * frequencies, energy per 5 ms for the cadence) against the national tones
 * of the ITU-T E.180 supplement, written out here independently of the
 * generator's table. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#include "media/tone.h"

#define RATE 8000
#define SECONDS 13
#define NSAMP (RATE * SECONDS)
#define BLOCK 40                        /* 5 ms */
#define MAX_RUNS 64

struct expect {
	const char *zone;
	enum media_tone_kind kind;
	int f1, f2;                     /* f2 < 0: f1 modulated, f2 0: single */
	int cadence[4];                 /* ms on, off, on, off (0: cycle ends) */
};

static const struct expect expects[] = {
	{ "us", MEDIA_TONE_RINGBACK, 440, 480, { 2000, 4000, 0, 0 } },
	{ "uk", MEDIA_TONE_RINGBACK, 400, 450, { 400, 200, 400, 2000 } },
	{ "de", MEDIA_TONE_RINGBACK, 425, 0, { 1000, 4000, 0, 0 } },
	{ "fr", MEDIA_TONE_RINGBACK, 440, 0, { 1500, 3500, 0, 0 } },
	{ "nl", MEDIA_TONE_RINGBACK, 425, 0, { 1000, 4000, 0, 0 } },
	{ "it", MEDIA_TONE_RINGBACK, 425, 0, { 1000, 4000, 0, 0 } },
	{ "au", MEDIA_TONE_RINGBACK, 400, 450, { 400, 200, 400, 2000 } },
	{ "jp", MEDIA_TONE_RINGBACK, 400, -16, { 1000, 2000, 0, 0 } },
	{ "us", MEDIA_TONE_BUSY, 480, 620, { 500, 500, 0, 0 } },
	{ "us", MEDIA_TONE_CONGESTION, 480, 620, { 250, 250, 0, 0 } },
	{ "uk", MEDIA_TONE_BUSY, 400, 0, { 375, 375, 0, 0 } },
	{ "de", MEDIA_TONE_BUSY, 425, 0, { 480, 480, 0, 0 } },
};

static int16_t sig[NSAMP];

/* Generate through the G.711 path and decode, as the far phone would. */
static int
gen(const char *zone, enum media_tone_kind kind, enum cfg_law law)
{
	struct media_tone *t = media_tone_new(zone, kind, law);
	uint8_t frame[160];

	if (t == NULL)
		return ENOENT;
	for (size_t i = 0; i < NSAMP; i += 160) {
		media_tone_frame(t, frame, sizeof(frame));
		for (size_t k = 0; k < 160; k++)
			sig[i + k] = law == CFG_LAW_ULAW ? ulaw_to_linear(frame[k]) :
			    alaw_to_linear(frame[k]);
	}
	media_tone_free(t);
	return 0;
}

static double
goertzel_at(const int16_t *x, int n, double f)
{
	goertzel_descriptor_t d;
	goertzel_state_t s;

	make_goertzel_descriptor(&d, (float)f, n);
	goertzel_init(&s, &d);
	goertzel_update(&s, x, n);
	return goertzel_result(&s);
}

/* Lengths in ms of the alternating on/off runs, the first one on. */
static size_t
runs_of(const int16_t *x, size_t n, int *runs)
{
	size_t nr = 0;
	int cur = 1, len = 0;

	for (size_t b = 0; b + BLOCK <= n; b += BLOCK) {
		double e = 0;
		int on;

		for (size_t i = 0; i < BLOCK; i++)
			e += (double)x[b + i] * x[b + i];
		on = sqrt(e / BLOCK) > 100.0;
		if (on != cur) {
			if (nr == MAX_RUNS)
				break;
			runs[nr++] = len;
			len = 0;
			cur = on;
		}
		len += BLOCK * 1000 / RATE;
	}
	return nr;      /* the last run is partial and not counted */
}

static void
check_one(const struct expect *ex, enum cfg_law law)
{
	int runs[MAX_RUNS], ncad = 0;
	size_t nr;
	double e1, e2, eoff;

	CU_ASSERT_EQUAL_FATAL(gen(ex->zone, ex->kind, law), 0);
	/* Frequencies: 50 ms from the middle of the first on period
	 * (20 Hz bins), against a frequency 150 Hz away from both. */
	e1 = goertzel_at(sig + 80, 400, ex->f1);
	eoff = goertzel_at(sig + 80, 400, ex->f1 + 150 + (ex->f2 > 0 ? ex->f2 - ex->f1 : 0));
	if (e1 <= 20 * eoff)
		printf("\n%s %s: %d Hz %g, off %g\n", ex->zone, media_tone_kind_name(ex->kind),
		    ex->f1, e1, eoff);
	CU_ASSERT(e1 > 20 * eoff);
	if (ex->f2 > 0) {
		e2 = goertzel_at(sig + 80, 400, ex->f2);
		CU_ASSERT(e2 > 20 * eoff);
		CU_ASSERT(e2 > e1 / 10 && e2 < e1 * 10);
	} else if (ex->f2 == 0) {
		/* single: nothing 50 Hz off */
		CU_ASSERT(goertzel_at(sig + 80, 400, ex->f1 + 60) < e1 / 20);
	}
	/* Cadence: every full run within 10 ms of the expected one. */
	for (int i = 0; i < 4 && ex->cadence[i] != 0; i++)
		ncad++;
	nr = runs_of(sig, NSAMP, runs);
	CU_ASSERT(nr >= 2);
	for (size_t i = 0; i < nr; i++) {
		int want = ex->cadence[i % (size_t)ncad];

		if (abs(runs[i] - want) > 10) {
			printf("\n%s %s run %zu: %d ms, want %d\n", ex->zone,
			    media_tone_kind_name(ex->kind), i, runs[i], want);
			CU_FAIL("cadence");
			break;
		}
	}
}

static void
test_tone_zones(void)
{
	for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
		check_one(&expects[i], CFG_LAW_ALAW);
		check_one(&expects[i], CFG_LAW_ULAW);
	}
}

/* The measurement itself tells a wrong tone from the right one. */
static void
test_tone_detects_wrong(void)
{
	int runs[MAX_RUNS];
	size_t nr;

	CU_ASSERT_EQUAL_FATAL(gen("de", MEDIA_TONE_RINGBACK, CFG_LAW_ALAW), 0);
	/* 425 Hz is not 440 Hz */
	CU_ASSERT(goertzel_at(sig + 80, 400, 440) * 20 < goertzel_at(sig + 80, 400, 425) ||
	    goertzel_at(sig + 80, 400, 440) < goertzel_at(sig + 80, 400, 425));
	nr = runs_of(sig, NSAMP, runs);
	CU_ASSERT(nr >= 2);
	CU_ASSERT(abs(runs[0] - 2000) > 10);    /* not the US cadence */
	CU_ASSERT(abs(runs[0] - 1000) <= 10);
}

static void
test_tone_unknown_zone(void)
{
	CU_ASSERT_PTR_NULL(media_tone_new("xx", MEDIA_TONE_RINGBACK, CFG_LAW_ALAW));
	CU_ASSERT_PTR_NULL(media_tone_spec("xx", MEDIA_TONE_BUSY));
	CU_ASSERT_PTR_NOT_NULL(media_tone_spec(NULL, MEDIA_TONE_RINGBACK));
	CU_ASSERT_EQUAL(media_tone_spec(NULL, MEDIA_TONE_RINGBACK)->f1, 440);
}

/* Frames continue the cadence: 20 ms blocks give the same signal as one
 * long block. */
static void
test_tone_continuous(void)
{
	struct media_tone *a = media_tone_new("uk", MEDIA_TONE_RINGBACK, CFG_LAW_ALAW);
	struct media_tone *b = media_tone_new("uk", MEDIA_TONE_RINGBACK, CFG_LAW_ALAW);
	static uint8_t x[RATE * 4], y[RATE * 4];

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	media_tone_frame(a, x, sizeof(x));
	for (size_t i = 0; i < sizeof(y); i += 160)
		media_tone_frame(b, y + i, 160);
	CU_ASSERT_EQUAL(memcmp(x, y, sizeof(x)), 0);
	media_tone_free(a);
	media_tone_free(b);
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("tone", NULL, NULL);
	CU_add_test(s, "every zone's tones: frequencies and cadence (E.180)", test_tone_zones);
	CU_add_test(s, "the measurement tells 425 Hz 1/4 s from 440 Hz 2/4 s",
	    test_tone_detects_wrong);
	CU_add_test(s, "unknown zone refused, default us", test_tone_unknown_zone);
	CU_add_test(s, "frames continue phase and cadence", test_tone_continuous);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
