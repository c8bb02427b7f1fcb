/* Spans: the sim driver end to end, with a real event loop, the daemon's
 * libpri (CPE) and the far end's libpri (NETWORK) over the socketpair. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "core/log.h"
#include "fake/loop.h"
#include "span/span.h"
#include "span/span_int.h"

#define MAX_PCM 16000

static struct event_base *base;

/* One call as its owner (the call layer) sees it. */
struct tcall {
	struct span_call *sc;
	enum cfg_law law;
	int proceeding;
	int alerting, alerting_inband;
	int progress, progress_inband;
	int answered;
	int alerting_before_answer;
	int hangups, cause;
	int frames, frames_before_answer, loud_before_answer;
	uint64_t frame_us;              /* CLOCK_MONOTONIC of the last frame */
	/* echo check: frames written carry a sequence number */
	int echo_write;
	unsigned int next_seq;
	int matched;
	/* tone check: decoded samples after answer */
	int collect;
	int skip;
	int16_t pcm[MAX_PCM];
	size_t npcm;
	/* the tick's hints (span_call_cbs.prefetch) */
	unsigned int hints[3];
	unsigned int bad_hint;          /* a stage beyond 2 */
	int gone;                       /* hung up by its owner */
	unsigned int after_gone;        /* hints or frames since */
	struct tcall *hang_up;          /* hang this one up from a frame */
};

static void
t_proceeding(void *owner)
{
	((struct tcall *)owner)->proceeding++;
}

static void
t_alerting(void *owner, int inband)
{
	struct tcall *t = owner;

	t->alerting++;
	t->alerting_inband |= inband;
	if (!t->answered)
		t->alerting_before_answer = 1;
}

static void
t_progress(void *owner, int inband)
{
	struct tcall *t = owner;

	t->progress++;
	t->progress_inband |= inband;
}

static void
t_answered(void *owner)
{
	((struct tcall *)owner)->answered++;
}

static void
t_hangup(void *owner, int cause)
{
	struct tcall *t = owner;

	t->hangups++;
	t->cause = cause;
	t->sc = NULL;
}

static int16_t
t_linear(enum cfg_law law, uint8_t b)
{
	return law == CFG_LAW_ULAW ? ulaw_to_linear(b) : alaw_to_linear(b);
}

static void
t_fill(uint8_t *frame, unsigned int seq)
{
	frame[0] = (uint8_t)seq;
	frame[1] = (uint8_t)(seq >> 8);
	for (size_t i = 2; i < SPAN_FRAME_BYTES; i++)
		frame[i] = (uint8_t)(seq * 7 + i * 3 + 1);
}

static uint64_t
t_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
t_audio(void *owner, const uint8_t *frame, size_t len)
{
	struct tcall *t = owner;

	CU_ASSERT_EQUAL(len, SPAN_FRAME_BYTES);
	t->frames++;
	t->frame_us = t_now_us();
	if (!t->answered) {
		int loud = 0;

		t->frames_before_answer++;
		for (size_t i = 0; i < len; i++)
			if (abs(t_linear(t->law, frame[i])) > 500)
				loud = 1;
		t->loud_before_answer += loud;
	}
	if (t->echo_write && t->sc != NULL) {
		uint8_t expect[SPAN_FRAME_BYTES], out[SPAN_FRAME_BYTES];
		unsigned int seq = frame[0] | (frame[1] << 8);

		if (seq < t->next_seq) {
			t_fill(expect, seq);
			if (memcmp(expect, frame, SPAN_FRAME_BYTES) == 0)
				t->matched++;
		}
		t_fill(out, t->next_seq++);
		span_call_write(t->sc, out, sizeof(out));
	}
	if (t->collect && t->answered) {
		if (t->skip > 0) {
			t->skip--;
			return;
		}
		for (size_t i = 0; i < len && t->npcm < MAX_PCM; i++)
			t->pcm[t->npcm++] = t_linear(t->law, frame[i]);
	}
}

static const struct span_call_cbs t_cbs = {
	.proceeding = t_proceeding,
	.alerting = t_alerting,
	.progress = t_progress,
	.answered = t_answered,
	.hangup = t_hangup,
	.audio = t_audio,
};

static void
t_prefetch(void *owner, unsigned int stage)
{
	struct tcall *t = owner;

	if (t->gone)
		t->after_gone++;
	if (stage > 2)
		t->bad_hint++;
	else
		t->hints[stage]++;
}

/* Frames as t_audio; the call in hang_up is hung up from one. */
static void
t_audio_hang(void *owner, const uint8_t *frame, size_t len)
{
	struct tcall *t = owner, *x = t->hang_up;

	if (t->gone)
		t->after_gone++;
	t_audio(owner, frame, len);
	if (x != NULL && t->frames > 5) {
		t->hang_up = NULL;
		x->gone = 1;
		span_call_hangup(x->sc, 16);
		x->sc = NULL;
	}
}

/* Inbound calls: what the incoming callback saw. */
struct tin {
	int offered;
	char called[32], calling[32];
	char calling_name[64], redirecting[32];
	int calling_restricted;
	struct span *span;
	struct tcall call;
	int take;
};
static struct tin tin;

static void
t_incoming(void *arg, const struct span_incoming *in)
{
	struct tin *ti = arg;

	ti->offered++;
	snprintf(ti->called, sizeof(ti->called), "%s", in->called);
	snprintf(ti->calling, sizeof(ti->calling), "%s", in->calling);
	snprintf(ti->calling_name, sizeof(ti->calling_name), "%s", in->calling_name);
	snprintf(ti->redirecting, sizeof(ti->redirecting), "%s", in->redirecting);
	ti->calling_restricted = in->calling_restricted;
	ti->span = in->span;
	if (!ti->take) {
		span_call_hangup(in->sc, 21);
		return;
	}
	memset(&ti->call, 0, sizeof(ti->call));
	ti->call.sc = in->sc;
	ti->call.law = span_law(in->span);
	span_call_attach(in->sc, &t_cbs, &ti->call);
	span_call_proceeding(in->sc);
	span_call_alerting(in->sc);
}

/* ---- loop helpers: every run is bounded ---- */

#define t_now_ms() loop_now_ms()
#define t_run_ms(ms) loop_run_ms(base, (ms))
#define RUN_UNTIL(cond, ms) LOOP_RUN_UNTIL(base, cond, ms)

/* ---- configuration built by hand ---- */

static struct cfg_span t_spans[3];
static struct cfg t_cfg;

static void
t_list(struct cfg_strlist *l, const char *number)
{
	l->v[0] = (char *)number;
	l->n = 1;
}

static void
t_span_cfg(struct cfg_span *cs, const char *name, enum cfg_span_type type, enum cfg_law law)
{
	memset(cs, 0, sizeof(*cs));
	cs->name = (char *)name;
	cs->driver = CFG_DRIVER_SIM;
	cs->type = type;
	cs->law = law;
	t_list(&cs->sim.echo, "100");
	t_list(&cs->sim.tone, "101");
	t_list(&cs->sim.busy, "102");
	t_list(&cs->sim.noanswer, "103");
	t_list(&cs->sim.ringanswer, "104");
	t_list(&cs->sim.early, "105");
	t_list(&cs->sim.congestion, "106");
	cs->sim.tone_hz = 1004;
	cs->sim.ring_seconds = 1;
}

static struct cfg *
t_cfg_one(enum cfg_span_type type, enum cfg_law law)
{
	memset(&t_cfg, 0, sizeof(t_cfg));
	t_span_cfg(&t_spans[0], "s1", type, law);
	t_cfg.spans = t_spans;
	t_cfg.n_spans = 1;
	return &t_cfg;
}

/* Start the registry with one span and wait for its D-channel. */
static struct span *
t_start(enum cfg_span_type type, enum cfg_law law)
{
	struct span *s;

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(t_cfg_one(type, law)), 0);
	s = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 3000));
	return s;
}

static void
t_stop(void)
{
	span_registry_shutdown();
	event_base_free(base);
	base = NULL;
}

static int
t_call(struct span *s, const char *called, struct tcall *t)
{
	int cause = 0, error;

	memset(t, 0, sizeof(*t));
	t->law = span_law(s);
	error = span_call_new(s, called, "4000", &t_cbs, t, &t->sc, &cause);
	CU_ASSERT_EQUAL(error, 0);
	CU_ASSERT_EQUAL(cause, 0);
	return error;
}

/* Frequency from zero crossings, measured between the first and the last
 * crossing (silence at either end does not count); 0 when too quiet. */
static double
t_freq(const int16_t *pcm, size_t n)
{
	size_t crossings = 0, first = 0, last = 0;
	double energy = 0.0;

	for (size_t i = 1; i < n; i++) {
		if ((pcm[i - 1] < 0) != (pcm[i] < 0)) {
			if (crossings++ == 0)
				first = i;
			last = i;
		}
		energy += (double)pcm[i] * pcm[i];
	}
	if (n < 800 || crossings < 10 || sqrt(energy / n) < 300.0)
		return 0.0;
	return (crossings - 1) / 2.0 / ((last - first) / 8000.0);
}

/* The control interface's status lines are exactly `want`. */
static void
t_status_is(const char *want)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *got;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	span_status_write(b);
	n = evbuffer_get_length(b);
	got = calloc(1, n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	evbuffer_remove(b, got, n);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	evbuffer_free(b);
}

/* ---- tests ---- */

static void
test_span_up(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);

	CU_ASSERT_STRING_EQUAL(span_name(s), "s1");
	CU_ASSERT_EQUAL(span_law(s), CFG_LAW_ALAW);
	CU_ASSERT_TRUE(span_is_up(s));
	CU_ASSERT_PTR_NULL(span_find("nope"));
	CU_ASSERT_EQUAL(span_active_calls(), 0);
	t_status_is("span s1 up calls=0\n");
	t_stop();
}

static void
test_span_echo(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	struct tcall t;
	int frames;

	if (t_call(s, "100", &t) != 0)
		goto out;
	CU_ASSERT_EQUAL(span_call_channel(t.sc), 1);
	CU_ASSERT_PTR_EQUAL(span_call_span(t.sc), s);
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 2000));
	CU_ASSERT_TRUE(t.proceeding >= 1);
	CU_ASSERT_TRUE(t.alerting_before_answer);
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 10, 1000));
	CU_ASSERT_EQUAL(span_active_calls(), 1);
	/* One frame every 20 ms. */
	frames = t.frames;
	t_run_ms(1000);
	CU_ASSERT_TRUE(t.frames - frames >= 45 && t.frames - frames <= 55);
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
	CU_ASSERT_EQUAL(t.hangups, 0);   /* our own hangup is not reported */
out:
	t_stop();
}

static int
t_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* No span is draining or waiting to be freed. */
static int
t_spans_gone(void)
{
	size_t live, gone;

	span_registry_counts(&live, &gone);
	return gone == 0;
}

/* Sim spans are clocked at spread phases of the 20 ms period: the first
 * three take 0, 10 and 5 ms (span_sim_phase_order), each keeps its own
 * 20 ms period, and a span that leaves frees its phase for the next. */
static void
test_span_phases(void)
{
	static const char *const names[] = { "s1", "s2", "s3" };
	static const int64_t want_us[] = { 0, 10000, 5000 };
	struct span *s[3];
	struct tcall t[3];
	int64_t off[2][9];
	int ok = 1;

	CU_ASSERT_EQUAL(span_sim_phase_order(0), 0);
	CU_ASSERT_EQUAL(span_sim_phase_order(1), 32);
	CU_ASSERT_EQUAL(span_sim_phase_order(2), 16);
	CU_ASSERT_EQUAL(span_sim_phase_order(3), 48);
	{
		unsigned char seen[64] = { 0 };

		for (unsigned int k = 0; k < 64; k++)
			seen[span_sim_phase_order(k) & 63]++;
		for (unsigned int k = 0; k < 64; k++)
			CU_ASSERT_EQUAL(seen[k], 1);
	}

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	memset(&t_cfg, 0, sizeof(t_cfg));
	for (size_t i = 0; i < 3; i++)
		t_span_cfg(&t_spans[i], names[i], CFG_SPAN_E1, CFG_LAW_ALAW);
	t_cfg.spans = t_spans;
	t_cfg.n_spans = 3;
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
	for (size_t i = 0; i < 3; i++) {
		s[i] = span_find(names[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
		CU_ASSERT_EQUAL(span_sim_phase_us(s[i]), want_us[i]);
	}
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s[0]) && span_is_up(s[1]) && span_is_up(s[2]), 3000));
	for (size_t i = 0; i < 3; i++)
		if (t_call(s[i], "100", &t[i]) != 0)
			ok = 0;
	if (!ok)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t[0].answered && t[1].answered && t[2].answered, 3000));
	/* Each span's frame after s1's, modulo the period: its phase. */
	for (size_t k = 0; k < 9; k++) {
		int f[3] = { t[0].frames, t[1].frames, t[2].frames };

		CU_ASSERT_TRUE(RUN_UNTIL(t[0].frames > f[0] && t[1].frames > f[1] &&
		    t[2].frames > f[2], 500));
		for (size_t i = 1; i < 3; i++)
			off[i - 1][k] = ((int64_t)t[i].frame_us - (int64_t)t[0].frame_us + 40000) % 20000;
	}
	for (size_t i = 1; i < 3; i++) {
		qsort(off[i - 1], 9, sizeof(off[0][0]), t_cmp_i64);
		/* the median, with room for a loaded machine */
		CU_ASSERT_TRUE(off[i - 1][4] > want_us[i] - 2500 && off[i - 1][4] < want_us[i] + 2500);
	}
	/* Still one frame per 20 ms each. */
	{
		int f0 = t[1].frames;

		t_run_ms(1000);
		CU_ASSERT_TRUE(t[1].frames - f0 >= 45 && t[1].frames - f0 <= 55);
	}
	for (size_t i = 0; i < 3; i++)
		span_call_hangup(t[i].sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
	/* s2 leaves; a new span takes its phase, the emptiest first in order */
	t_cfg.n_spans = 2;
	t_spans[1] = t_spans[2];
	CU_ASSERT_EQUAL(span_registry_apply(&t_cfg), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(t_spans_gone(), 3000));
	t_span_cfg(&t_spans[2], "s4", CFG_SPAN_T1, CFG_LAW_ULAW);
	t_cfg.n_spans = 3;
	CU_ASSERT_EQUAL(span_registry_apply(&t_cfg), 0);
	CU_ASSERT_PTR_NOT_NULL(span_find("s4"));
	CU_ASSERT_EQUAL(span_sim_phase_us(span_find("s4")), 10000);
out:
	t_stop();
}

/* A tick asks, channels ahead, for what their frames will touch: the
 * owner of each call a few channels on is hinted stages 0, 1 and 2 every
 * tick; a call hung up from another's frame is hinted no more, and the
 * calls around it go on. */
static void
test_span_tick_hints(void)
{
	static struct span_call_cbs cbs;        /* t_cbs, hinted, one hangs up another */
	struct span *s = t_start(CFG_SPAN_T1, CFG_LAW_ULAW);
	struct tcall t[8];
	int cause = 0, f0;

	cbs = t_cbs;
	cbs.audio = t_audio_hang;
	cbs.prefetch = t_prefetch;
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 8; i++) {
		t[i].law = span_law(s);
		CU_ASSERT_EQUAL(span_call_new(s, "100", "4000", &cbs, &t[i], &t[i].sc,
		    &cause), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t[i].sc);
		CU_ASSERT_EQUAL(span_call_channel(t[i].sc), i + 1);
	}
	CU_ASSERT_TRUE(RUN_UNTIL(t[7].answered && t[0].answered && t[7].frames > 10, 3000));
	/* channel 6's call goes from channel 3's frame: its hints were
	 * being asked for by the channels before */
	t[2].hang_up = &t[5];
	f0 = t[7].frames;
	CU_ASSERT_TRUE(RUN_UNTIL(t[7].frames > f0 + 20, 2000));
	CU_ASSERT_TRUE(t[5].gone);
	for (int i = 0; i < 8; i++) {
		CU_ASSERT_EQUAL(t[i].bad_hint, 0);
		CU_ASSERT_EQUAL(t[i].after_gone, 0);
		CU_ASSERT_EQUAL(t[i].hangups, 0);
	}
	/* the first channel is never ahead of another; from the fourth on
	 * every stage comes at every tick */
	CU_ASSERT_EQUAL(t[0].hints[0] + t[0].hints[1] + t[0].hints[2], 0);
	for (int i = 3; i < 8; i++) {
		if (i == 5)
			continue;
		for (int k = 0; k < 3; k++)
			CU_ASSERT(t[i].hints[k] + 2 >= (unsigned int)t[i].frames);
	}
	for (int i = 0; i < 8; i++)
		if (!t[i].gone)
			span_call_hangup(t[i].sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	t_stop();
}

static void
t_tone_case(enum cfg_span_type type, enum cfg_law law)
{
	struct span *s = t_start(type, law);
	struct tcall t;
	double f;

	if (t_call(s, "101", &t) != 0)
		goto out;
	t.collect = 1;
	t.skip = 2;
	CU_ASSERT_TRUE(RUN_UNTIL(t.npcm >= 8000, 3000));
	f = t_freq(t.pcm, t.npcm);
	CU_ASSERT_DOUBLE_EQUAL(f, 1004.0, 15.0);
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
out:
	t_stop();
}

static void
test_span_tone_alaw(void)
{
	t_tone_case(CFG_SPAN_E1, CFG_LAW_ALAW);
}

static void
test_span_tone_ulaw(void)
{
	t_tone_case(CFG_SPAN_T1, CFG_LAW_ULAW);
}

static void
t_fail_case(const char *number, int want_cause)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	struct tcall t;

	if (t_call(s, number, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.hangups > 0, 2000));
	CU_ASSERT_EQUAL(t.hangups, 1);
	CU_ASSERT_EQUAL(t.cause, want_cause);
	CU_ASSERT_EQUAL(t.answered, 0);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
out:
	t_stop();
}

static void
test_span_busy(void)
{
	t_fail_case("102", 17);
}

static void
test_span_unallocated(void)
{
	t_fail_case("999", 1);
}

static void
test_span_congestion(void)
{
	t_fail_case("106", 34);
}

static void
test_span_noanswer(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	struct tcall t;

	if (t_call(s, "103", &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.alerting > 0, 2000));
	t_run_ms(1000);
	CU_ASSERT_EQUAL(t.answered, 0);
	CU_ASSERT_EQUAL(t.hangups, 0);
	CU_ASSERT_EQUAL(span_active_calls(), 1);
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
	/* The channel is free again: the next call gets channel 1. */
	if (t_call(s, "103", &t) != 0)
		goto out;
	CU_ASSERT_EQUAL(span_call_channel(t.sc), 1);
	CU_ASSERT_TRUE(RUN_UNTIL(t.alerting > 0, 2000));
	/* Cause 34 before answer: RELEASE COMPLETE, the channel is free
	 * at once, on both sides. */
	span_call_hangup(t.sc, 34);
	CU_ASSERT_EQUAL(span_active_calls(), 0);
	if (t_call(s, "100", &t) != 0)
		goto out;
	CU_ASSERT_EQUAL(span_call_channel(t.sc), 1);
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 2000));
	CU_ASSERT_EQUAL(t.hangups, 0);
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
out:
	t_stop();
}

static void
test_span_ringanswer(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	struct tcall t;
	long t0 = t_now_ms(), dt;

	if (t_call(s, "104", &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.alerting > 0, 2000));
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered > 0, 3000));
	dt = t_now_ms() - t0;
	CU_ASSERT_TRUE(dt >= 900 && dt < 2000);
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 5, 1000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
out:
	t_stop();
}

static void
test_span_early(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	struct tcall t;

	if (t_call(s, "105", &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.alerting > 0, 2000));
	CU_ASSERT_TRUE(t.progress_inband || t.alerting_inband);
	CU_ASSERT_TRUE(t.alerting_inband);
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered > 0, 3000));
	/* Ringback came in-band before the answer. */
	CU_ASSERT_TRUE(t.frames_before_answer >= 20);
	CU_ASSERT_TRUE(t.loud_before_answer >= 20);
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 5, 1000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
out:
	t_stop();
}

static void
test_span_originate(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);

	tin.take = 1;
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5000", "4000", 0, 0), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.offered > 0, 2000));
	CU_ASSERT_STRING_EQUAL(tin.called, "5000");
	CU_ASSERT_STRING_EQUAL(tin.calling, "4000");
	CU_ASSERT_PTR_EQUAL(tin.span, s);
	if (tin.call.sc == NULL)
		goto out;
	/* The far end picks from the top. */
	CU_ASSERT_EQUAL(span_call_channel(tin.call.sc), 31);
	span_call_answer(tin.call.sc);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.answered > 0, 2000));
	tin.call.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.matched >= 5, 1000));
	CU_ASSERT_EQUAL(span_sim_hangup("s1", "5000"), 1);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.hangups > 0, 2000));
	CU_ASSERT_EQUAL(tin.call.cause, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
	CU_ASSERT_EQUAL(span_sim_hangup("s1", "5000"), 0);
out:
	t_stop();
}

/* Inbound overlap dialing, pure: digits add up; '#', Sending Complete,
 * the wanted length or a full buffer end the number. */
static void
test_span_overlap_pure(void)
{
	char n[8] = "";

	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "20", 0, 0), 0);
	CU_ASSERT_STRING_EQUAL(n, "20");
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "0", 0, 4), 0);
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "0", 0, 4), 1);
	CU_ASSERT_STRING_EQUAL(n, "2000");
	n[0] = '\0';
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "21", 0, 0), 0);
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "5#", 0, 0), 1);
	CU_ASSERT_STRING_EQUAL(n, "215");               /* '#' not kept */
	n[0] = '\0';
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "3", 1, 0), 1);      /* Sending Complete */
	CU_ASSERT_STRING_EQUAL(n, "3");
	n[0] = '\0';
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "", 0, 0), 0);       /* nothing yet */
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "1234567", 0, 0), 0);
	CU_ASSERT_EQUAL(span_overlap_add(n, sizeof(n), "8", 0, 0), 1);      /* full */
	CU_ASSERT_STRING_EQUAL(n, "1234567");
}

/* T316 and the sim's lost-acknowledgement knob, pure. */
static void
test_span_t316_pure(void)
{
	/* address, I-frame control, Q.931: PD 8, call reference 0 (global) */
	static const uint8_t rack[] = { 0x02, 0x01, 0x00, 0x02, 0x08, 0x01, 0x00, 0x4e,
		0x18, 0x03, 0xa9, 0x83, 0x81 };
	static const uint8_t rst[] = { 0x02, 0x01, 0x00, 0x02, 0x08, 0x01, 0x00, 0x46,
		0x18, 0x03, 0xa9, 0x83, 0x81 };
	static const uint8_t rr[] = { 0x02, 0x01, 0x01, 0x03 };
	static const uint8_t call2[] = { 0x02, 0x01, 0x00, 0x02, 0x08, 0x02, 0x80, 0x01, 0x4e };

	CU_ASSERT_EQUAL(span_pri_t316_action(1, 3), SPAN_T316_RESEND);
	CU_ASSERT_EQUAL(span_pri_t316_action(2, 3), SPAN_T316_RESEND);
	CU_ASSERT_EQUAL(span_pri_t316_action(3, 3), SPAN_T316_GIVE_UP);
	CU_ASSERT_EQUAL(span_pri_t316_action(1, 1), SPAN_T316_GIVE_UP);
	CU_ASSERT_TRUE(span_sim_is_restart_ack(rack, sizeof(rack)));
	CU_ASSERT_FALSE(span_sim_is_restart_ack(rst, sizeof(rst)));
	CU_ASSERT_FALSE(span_sim_is_restart_ack(rr, sizeof(rr)));
	CU_ASSERT_FALSE(span_sim_is_restart_ack(rack, 6));
	/* a two-byte call reference: the type is after it */
	CU_ASSERT_TRUE(span_sim_is_restart_ack(call2, sizeof(call2)));
	CU_ASSERT_FALSE(span_sim_is_restart_ack(call2, sizeof(call2) - 1));
}

static unsigned int
t_len4(const char *number)
{
	return number[0] == '2' ? 4 : 0;
}

/* Overlap both ways through both libpri instances: the far end dials 20
 * then 0, 0 in INFORMATION, the daemon offers 2000 (length 4) at once; an
 * outbound call to 10 waits in overlap sending for its digit 0 and is
 * answered by the far end's 100. */
static void
test_span_overlap(void)
{
	struct span *s;
	struct tcall t;
	int cause = 0;
	long t0;

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	t_cfg_one(CFG_SPAN_E1, CFG_LAW_ALAW);
	t_spans[0].overlap = 1;
	t_spans[0].digit_timeout = 5;
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
	s = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 3000));
	span_set_number_len_cb(t_len4);

	tin.take = 1;
	t0 = t_now_ms();
	CU_ASSERT_EQUAL(span_sim_originate("s1", "20/00", "4000", 0, 0), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.offered > 0, 3000));
	CU_ASSERT_STRING_EQUAL(tin.called, "2000");
	CU_ASSERT(t_now_ms() - t0 < 2000);      /* by length, not the 5 s timeout */
	if (tin.call.sc != NULL) {
		span_call_hangup(tin.call.sc, 16);
		CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	}

	memset(&t, 0, sizeof(t));
	t.law = span_law(s);
	CU_ASSERT_EQUAL_FATAL(span_call_new(s, "10", "4000", &t_cbs, &t, &t.sc, &cause), 0);
	/* no digit may go before SETUP ACKNOWLEDGE */
	CU_ASSERT_EQUAL(span_call_digit(t.sc, '0'), EAGAIN);
	CU_ASSERT_TRUE(RUN_UNTIL(t.sc->overlap_tx, 2000));
	CU_ASSERT_EQUAL(t.answered, 0);
	CU_ASSERT_EQUAL(span_call_digit(t.sc, '0'), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered > 0, 2000));
	CU_ASSERT_EQUAL(span_call_digit(t.sc, '5'), EAGAIN);        /* not in overlap any more */
	{
		struct span_sim_setup last;

		CU_ASSERT_EQUAL(span_sim_last_setup("s1", &last), 0);
		CU_ASSERT_STRING_EQUAL(last.called, "100");
	}
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	span_set_number_len_cb(NULL);
	t_stop();
}

static void
test_span_originate_tone_hold(void)
{
	long t0;

	t_start(CFG_SPAN_T1, CFG_LAW_ULAW);
	tin.take = 1;
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5001", "4001", 800, 1), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.offered > 0, 2000));
	if (tin.call.sc == NULL)
		goto out;
	tin.call.collect = 1;
	tin.call.skip = 2;
	span_call_answer(tin.call.sc);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.answered > 0, 2000));
	t0 = t_now_ms();
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.hangups > 0, 3000));
	CU_ASSERT_TRUE(t_now_ms() - t0 >= 800);
	CU_ASSERT_EQUAL(tin.call.cause, 16);
	CU_ASSERT_DOUBLE_EQUAL(t_freq(tin.call.pcm, tin.call.npcm), 800.0, 15.0);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
out:
	t_stop();
}

static void
test_span_incoming_rejected(void)
{
	t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	tin.take = 0;
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5000", "4000", 0, 0), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.offered > 0, 2000));
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
	CU_ASSERT_EQUAL(span_sim_originate("nope", "5000", "4000", 0, 0), ENOENT);
	t_stop();
}

static void
test_span_all_busy(void)
{
	struct span *s = t_start(CFG_SPAN_T1, CFG_LAW_ULAW);
	struct tcall *t = calloc(24, sizeof(*t));
	struct span_call *sc = NULL;
	int cause = 0, error;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (int i = 0; i < 23; i++) {
		if (t_call(s, "103", &t[i]) != 0)
			goto out;
		CU_ASSERT_EQUAL(span_call_channel(t[i].sc), i + 1);
	}
	CU_ASSERT_TRUE(RUN_UNTIL(t[22].alerting > 0, 3000));
	error = span_call_new(s, "103", "4000", &t_cbs, &t[23], &sc, &cause);
	CU_ASSERT_EQUAL(error, EBUSY);
	CU_ASSERT_EQUAL(cause, 34);
	CU_ASSERT_PTR_NULL(sc);
	CU_ASSERT_EQUAL(span_active_calls(), 23);
	for (int i = 0; i < 23; i++)
		span_call_hangup(t[i].sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
out:
	free(t);
	t_stop();
}

static void
test_span_reload(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW), *s2;
	struct tcall old, nw, tone;
	size_t live, draining;
	int matched;

	if (t_call(s, "100", &old) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(old.answered, 2000));
	old.echo_write = 1;

	/* Reloadable key in place: same span, new tone. */
	t_spans[0].sim.tone_hz = 600;
	CU_ASSERT_EQUAL(span_registry_apply(&t_cfg), 0);
	CU_ASSERT_PTR_EQUAL(span_find("s1"), s);
	if (t_call(s, "101", &tone) == 0) {
		tone.collect = 1;
		tone.skip = 2;
		CU_ASSERT_TRUE(RUN_UNTIL(tone.npcm >= 8000, 3000));
		CU_ASSERT_DOUBLE_EQUAL(t_freq(tone.pcm, tone.npcm), 600.0, 15.0);
		span_call_hangup(tone.sc, 16);
	}
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 1, 2000));

	/* Type changed: the old span drains, a new one starts. */
	t_spans[0].type = CFG_SPAN_T1;
	CU_ASSERT_EQUAL(span_registry_apply(&t_cfg), 0);
	s2 = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
	CU_ASSERT_PTR_NOT_EQUAL(s2, s);
	span_registry_counts(&live, &draining);
	CU_ASSERT_EQUAL(live, 1);
	CU_ASSERT_EQUAL(draining, 1);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s2), 3000));
	t_status_is("span s1 up calls=0\nspan s1 draining calls=1\n");
	CU_ASSERT_FALSE(span_is_up(s));
	/* The old call keeps its audio. */
	matched = old.matched;
	CU_ASSERT_TRUE(RUN_UNTIL(old.matched >= matched + 10, 1000));
	CU_ASSERT_EQUAL(old.hangups, 0);
	/* New calls go to the new span. */
	if (t_call(s2, "100", &nw) == 0) {
		CU_ASSERT_PTR_EQUAL(span_call_span(nw.sc), s2);
		CU_ASSERT_TRUE(RUN_UNTIL(nw.answered, 2000));
		span_call_hangup(nw.sc, 16);
	}
	/* The last call of the old span ends: the old span is freed. */
	span_call_hangup(old.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 2000));
	span_registry_counts(&live, &draining);
	CU_ASSERT_TRUE(RUN_UNTIL((span_registry_counts(&live, &draining), draining == 0), 1000));
	CU_ASSERT_EQUAL(live, 1);

	/* Removed from the config: drains and, without calls, goes. */
	t_cfg.n_spans = 0;
	CU_ASSERT_EQUAL(span_registry_apply(&t_cfg), 0);
	CU_ASSERT_PTR_NULL(span_find("s1"));
	CU_ASSERT_TRUE(RUN_UNTIL((span_registry_counts(&live, &draining), draining == 0), 1000));
	CU_ASSERT_EQUAL(live, 0);
out:
	t_stop();
}

static void
test_span_bad_frames(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	/* short, garbage, an I-frame with a garbage Q.931 message, an
	 * I-frame with a truncated SETUP, a frame for another SAPI/TEI */
	static const uint8_t f1[] = { 0x02 };
	static const uint8_t f2[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t f3[] = { 0x02, 0x01, 0x00, 0x00, 0x08, 0x02, 0x80, 0x01,
	    0x05, 0x04, 0x03, 0x80, 0x90, 0xa3, 0x18, 0xff, 0x00, 0x00 };
	static const uint8_t f4[] = { 0x02, 0x01, 0x02, 0x00, 0x08, 0x01, 0x00, 0x00 };
	static const uint8_t f5[] = { 0xfc, 0xff, 0x03, 0x00, 0x00 };
	uint8_t rnd[200];
	struct tcall t;

	srand(7);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)rand();
	CU_ASSERT_EQUAL(span_sim_inject("s1", f1, sizeof(f1)), 0);
	CU_ASSERT_EQUAL(span_sim_inject("s1", f2, sizeof(f2)), 0);
	CU_ASSERT_EQUAL(span_sim_inject("s1", f3, sizeof(f3)), 0);
	CU_ASSERT_EQUAL(span_sim_inject("s1", f4, sizeof(f4)), 0);
	CU_ASSERT_EQUAL(span_sim_inject("s1", f5, sizeof(f5)), 0);
	CU_ASSERT_EQUAL(span_sim_inject("s1", rnd, sizeof(rnd)), 0);
	t_run_ms(300);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 5000));
	/* Calls still work. */
	if (t_call(s, "100", &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 5000));
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 5, 1000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 5000));
out:
	t_stop();
}

static void
test_span_dchan_down(void)
{
	struct span *s = t_start(CFG_SPAN_E1, CFG_LAW_ALAW);
	/* Q.921 DISC command from the network side, SAPI 0, TEI 0, P=1 */
	static const uint8_t disc[] = { 0x02, 0x01, 0x53, 0x00, 0x00 };
	struct tcall t;

	if (t_call(s, "100", &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 2000));
	CU_ASSERT_EQUAL(span_sim_inject("s1", disc, sizeof(disc)), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(t.hangups > 0, 2000));
	CU_ASSERT_EQUAL(t.cause, 38);
	CU_ASSERT_EQUAL(span_active_calls(), 0);
	/* The link comes back and takes calls again. */
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 5000));
	if (t_call(s, "100", &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 5000));
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 5, 1000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 5000));
out:
	t_stop();
}

/* Every switch type: the daemon (CPE) and the sim far end (NETWORK) run
 * the same one; a call each way is set up, carries audio, and clears. */
static const struct {
	const char *name;
	enum cfg_span_type type;
	enum cfg_law law;
	int sw;
	/* the calling name reaches the far end (network) / the daemon (CPE)
	 * in the SETUP, as libpri carries it for the switch type */
	int name_out, name_in;
} t_switches[] = {
	{ "national", CFG_SPAN_T1, CFG_LAW_ULAW, PRI_SWITCH_NI2, 1, 0 },
	{ "ni1", CFG_SPAN_T1, CFG_LAW_ULAW, PRI_SWITCH_NI1, 0, 0 },
	{ "dms100", CFG_SPAN_T1, CFG_LAW_ULAW, PRI_SWITCH_DMS100, 0, 0 },
	{ "4ess", CFG_SPAN_T1, CFG_LAW_ULAW, PRI_SWITCH_ATT4ESS, 0, 0 },
	{ "5ess", CFG_SPAN_T1, CFG_LAW_ULAW, PRI_SWITCH_LUCENT5E, 0, 0 },
	{ "euroisdn_e1", CFG_SPAN_E1, CFG_LAW_ALAW, PRI_SWITCH_EUROISDN_E1, 0, 0 },
	{ "euroisdn_t1", CFG_SPAN_T1, CFG_LAW_ULAW, PRI_SWITCH_EUROISDN_T1, 0, 0 },
	{ "qsig", CFG_SPAN_E1, CFG_LAW_ALAW, PRI_SWITCH_QSIG, 1, 1 },
};

static void
t_switch_case(size_t i)
{
	struct span_party party = { "Alice", 1, "7000" };
	struct span_sim_setup setup;
	struct span *s;
	struct tcall t;
	int cause = 0;

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	t_cfg_one(t_switches[i].type, t_switches[i].law);
	t_spans[0].switchtype = (char *)t_switches[i].name;
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
	s = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->pri_switch, t_switches[i].sw);
	if (!RUN_UNTIL(span_is_up(s), 3000)) {
		fprintf(stderr, "switchtype %s: span not up\n", t_switches[i].name);
		CU_FAIL("span not up");
		goto out;
	}
	/* outbound: SETUP, answered, echo, we hang up */
	if (t_call(s, "100", &t) != 0)
		goto out;
	CU_ASSERT_EQUAL(span_sim_last_setup("s1", &setup), 0);
	if (!RUN_UNTIL(t.answered, 2000))
		fprintf(stderr, "switchtype %s: outbound call not answered\n", t_switches[i].name);
	CU_ASSERT_TRUE(t.answered);
	CU_ASSERT_TRUE(t.proceeding >= 1);
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 5, 1000));
	if (t.sc != NULL)
		span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	CU_ASSERT_EQUAL(t.hangups, 0);
	/* outbound identity: name, presentation restricted, redirecting */
	memset(&t, 0, sizeof(t));
	t.law = span_law(s);
	CU_ASSERT_EQUAL(span_call_new_party(s, "103", "4000", &party, &t_cbs, &t, &t.sc,
	    &cause), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(t.alerting > 0, 2000));
	CU_ASSERT_EQUAL(span_sim_last_setup("s1", &setup), 0);
	CU_ASSERT_STRING_EQUAL(setup.called, "103");
	CU_ASSERT_STRING_EQUAL(setup.calling, "4000");
	CU_ASSERT_TRUE(setup.calling_restricted);
	CU_ASSERT_STRING_EQUAL(setup.redirecting, "7000");
	if (t_switches[i].name_out)
		CU_ASSERT_STRING_EQUAL(setup.calling_name, "Alice");
	if (t.sc != NULL)
		span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	/* inbound identity */
	tin.take = 0;
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5001", "4001;name=Bob;restricted;redir=7001",
	    0, 0), 0);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.offered > 0, 2000));
	CU_ASSERT_STRING_EQUAL(tin.calling, "4001");
	CU_ASSERT_TRUE(tin.calling_restricted);
	CU_ASSERT_STRING_EQUAL(tin.redirecting, "7001");
	if (t_switches[i].name_in)
		CU_ASSERT_STRING_EQUAL(tin.calling_name, "Bob");
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	tin.offered = 0;
	/* inbound: the far end calls, we answer, the far end hangs up */
	tin.take = 1;
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5000", "4000", 0, 0), 0);
	if (!RUN_UNTIL(tin.offered > 0 && tin.call.sc != NULL, 2000)) {
		fprintf(stderr, "switchtype %s: inbound call not offered\n", t_switches[i].name);
		CU_FAIL("inbound call not offered");
		goto out;
	}
	CU_ASSERT_STRING_EQUAL(tin.called, "5000");
	CU_ASSERT_STRING_EQUAL(tin.calling, "4000");
	span_call_answer(tin.call.sc);
	if (!RUN_UNTIL(tin.call.answered > 0, 2000))
		fprintf(stderr, "switchtype %s: inbound call not connected\n", t_switches[i].name);
	CU_ASSERT_TRUE(tin.call.answered > 0);
	tin.call.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.matched >= 5, 1000));
	CU_ASSERT_EQUAL(span_sim_hangup("s1", "5000"), 1);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.hangups > 0, 2000));
	CU_ASSERT_EQUAL(tin.call.cause, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
out:
	t_stop();
}

static void
test_span_switchtypes(void)
{
	for (size_t i = 0; i < sizeof(t_switches) / sizeof(t_switches[0]); i++)
		t_switch_case(i);
}

static void
test_span_numbers_pure(void)
{
	char out[32];

	/* prefixes strip and set the type of number; the longer one wins */
	CU_ASSERT_EQUAL(span_pri_number_out("00441234", CFG_TON_UNKNOWN, "0", "00", out,
	    sizeof(out)), PRI_INTERNATIONAL_ISDN);
	CU_ASSERT_STRING_EQUAL(out, "441234");
	CU_ASSERT_EQUAL(span_pri_number_out("0301234", CFG_TON_UNKNOWN, "0", "00", out,
	    sizeof(out)), PRI_NATIONAL_ISDN);
	CU_ASSERT_STRING_EQUAL(out, "301234");
	/* no prefix: the span's ton */
	CU_ASSERT_EQUAL(span_pri_number_out("5551234", CFG_TON_SUBSCRIBER, "0", "00", out,
	    sizeof(out)), PRI_LOCAL_ISDN);
	CU_ASSERT_STRING_EQUAL(out, "5551234");
	CU_ASSERT_EQUAL(span_pri_number_out("5551234", CFG_TON_NATIONAL, NULL, NULL, out,
	    sizeof(out)), PRI_NATIONAL_ISDN);
	CU_ASSERT_EQUAL(span_pri_number_out("5551234", CFG_TON_INTERNATIONAL, "", "", out,
	    sizeof(out)), PRI_INTERNATIONAL_ISDN);
	CU_ASSERT_EQUAL(span_pri_number_out("5551234", CFG_TON_UNKNOWN, "0", "00", out,
	    sizeof(out)), PRI_UNKNOWN);
	/* a number that is only the prefix is left alone */
	CU_ASSERT_EQUAL(span_pri_number_out("0", CFG_TON_UNKNOWN, "0", "00", out,
	    sizeof(out)), PRI_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(out, "0");
	/* inbound: the prefix of the type of number is added */
	span_pri_number_in("441234", PRI_INTERNATIONAL_ISDN, "0", "00", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "00441234");
	span_pri_number_in("301234", PRI_NATIONAL_ISDN, "0", "00", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "0301234");
	span_pri_number_in("5551234", PRI_LOCAL_ISDN, "0", "00", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "5551234");
	span_pri_number_in("5551234", PRI_NATIONAL_ISDN, NULL, NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "5551234");
	span_pri_number_in("", PRI_NATIONAL_ISDN, "0", "00", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void
test_span_hunt_pure(void)
{
	int free[5] = { 1, 0, 1, 1, 0 }, none[3] = { 0, 0, 0 };
	size_t next = 0;

	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ASCENDING, free, 5, &next), 0);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_DESCENDING, free, 5, &next), 3);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ROUNDROBIN, free, 5, &next), 0);
	CU_ASSERT_EQUAL(next, 1);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ROUNDROBIN, free, 5, &next), 2);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ROUNDROBIN, free, 5, &next), 3);
	/* wraps around */
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ROUNDROBIN, free, 5, &next), 0);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ASCENDING, none, 3, &next), -1);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_DESCENDING, none, 3, &next), -1);
	CU_ASSERT_EQUAL(span_hunt_index(CFG_HUNT_ROUNDROBIN, none, 3, &next), -1);
}

/* A span with hunt, ton and prefixes set: the channels calls take, and the
 * numbers the far end receives. */
static void
test_span_hunt_numbers(void)
{
	static const struct {
		enum cfg_hunt hunt;
		int first, second;
	} cases[] = {
		{ CFG_HUNT_ASCENDING, 1, 1 },
		{ CFG_HUNT_DESCENDING, 31, 31 },
		{ CFG_HUNT_ROUNDROBIN, 1, 2 },
	};
	struct span_sim_setup setup;
	struct span *s;
	struct tcall t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&tin, 0, sizeof(tin));
		base = event_base_new();
		CU_ASSERT_PTR_NOT_NULL_FATAL(base);
		CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
		t_cfg_one(CFG_SPAN_E1, CFG_LAW_ALAW);
		t_spans[0].hunt = cases[i].hunt;
		t_spans[0].ton = CFG_TON_SUBSCRIBER;
		t_spans[0].national_prefix = (char *)"0";
		t_spans[0].international_prefix = (char *)"00";
		t_list(&t_spans[0].sim.noanswer, "0049103");
		CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
		s = span_find("s1");
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		if (!RUN_UNTIL(span_is_up(s), 3000)) {
			CU_FAIL("span not up");
			t_stop();
			continue;
		}
		/* 00 prefix: international, stripped; the sim phone is 103 */
		if (t_call(s, "0049103", &t) == 0) {
			CU_ASSERT_EQUAL(span_call_channel(t.sc), cases[i].first);
			CU_ASSERT_TRUE(RUN_UNTIL(t.hangups > 0 || t.proceeding > 0, 2000));
			CU_ASSERT_EQUAL(span_sim_last_setup("s1", &setup), 0);
			CU_ASSERT_STRING_EQUAL(setup.called, "49103");
			CU_ASSERT_EQUAL(setup.called_ton, SPAN_TON_INTERNATIONAL);
			/* the calling number 4000 has no prefix: subscriber */
			CU_ASSERT_EQUAL(setup.calling_ton, SPAN_TON_SUBSCRIBER);
			if (t.sc != NULL)
				span_call_hangup(t.sc, 16);
			CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
		}
		if (t_call(s, "0103", &t) == 0) {
			CU_ASSERT_EQUAL(span_call_channel(t.sc), cases[i].second);
			CU_ASSERT_TRUE(RUN_UNTIL(t.hangups > 0 || t.proceeding > 0, 2000));
			CU_ASSERT_EQUAL(span_sim_last_setup("s1", &setup), 0);
			CU_ASSERT_STRING_EQUAL(setup.called, "103");
			CU_ASSERT_EQUAL(setup.called_ton, SPAN_TON_NATIONAL);
			if (t.sc != NULL)
				span_call_hangup(t.sc, 16);
			CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
		}
		t_stop();
		t_list(&t_spans[0].sim.noanswer, "103");
	}
}

/* Glare: our SETUP and the network's cross on channel 31 (we hunt
 * descending, the far end picks from the top). The user side yields:
 * ours ends with cause 44, the network's call is offered to us on 31 and
 * can be answered; nothing is left behind. */
static void
test_span_glare(void)
{
	struct span *s;
	struct tcall t;
	int cause = 0;

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	t_cfg_one(CFG_SPAN_E1, CFG_LAW_ALAW);
	t_spans[0].hunt = CFG_HUNT_DESCENDING;
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
	s = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if (!RUN_UNTIL(span_is_up(s), 3000)) {
		CU_FAIL("span not up");
		goto out;
	}
	tin.take = 1;
	memset(&t, 0, sizeof(t));
	t.law = span_law(s);
	/* both SETUPs leave before either side reads the other's */
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5000", "4000", 0, 0), 0);
	CU_ASSERT_EQUAL(span_call_new(s, "103", "4000", &t_cbs, &t, &t.sc, &cause), 0);
	CU_ASSERT_EQUAL(span_call_channel(t.sc), 31);
	CU_ASSERT_TRUE(RUN_UNTIL(t.hangups > 0 && tin.offered > 0, 3000));
	CU_ASSERT_EQUAL(t.hangups, 1);
	CU_ASSERT_EQUAL(t.cause, 44);
	CU_ASSERT_EQUAL(tin.offered, 1);
	if (tin.call.sc == NULL) {
		CU_FAIL("the network's call was not offered");
		goto out;
	}
	CU_ASSERT_EQUAL(span_call_channel(tin.call.sc), 31);
	span_call_answer(tin.call.sc);
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.answered > 0, 2000));
	tin.call.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(tin.call.matched >= 5, 1000));
	CU_ASSERT_EQUAL(span_sim_hangup("s1", "5000"), 1);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	/* the yielded call is gone from libpri's side too */
	t_run_ms(300);
	for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
		CU_ASSERT_PTR_NULL(s->glared[i]);
	/* the network side never yields (Q.SIG too: Annex D); a placed call does not */
	CU_ASSERT_TRUE(span_pri_glare_yield(PRI_CPE, SPAN_CALL_DIALING));
	CU_ASSERT_FALSE(span_pri_glare_yield(PRI_NETWORK, SPAN_CALL_DIALING));
	CU_ASSERT_FALSE(span_pri_glare_yield(PRI_CPE, SPAN_CALL_PROCEEDING));
out:
	t_stop();
}

/* channel_select = preferred: the far end may move our call; in glare it
 * does (instead of refusing it), and both calls go on. */
static void
test_span_preferred_glare(void)
{
	struct span *s;
	struct tcall t;
	int cause = 0;

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	t_cfg_one(CFG_SPAN_E1, CFG_LAW_ALAW);
	t_spans[0].hunt = CFG_HUNT_DESCENDING;
	t_spans[0].channel_preferred = 1;
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
	s = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if (!RUN_UNTIL(span_is_up(s), 3000)) {
		CU_FAIL("span not up");
		goto out;
	}
	tin.take = 1;
	memset(&t, 0, sizeof(t));
	t.law = span_law(s);
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5000", "4000", 0, 0), 0);
	CU_ASSERT_EQUAL(span_call_new(s, "100", "4000", &t_cbs, &t, &t.sc, &cause), 0);
	CU_ASSERT_EQUAL(span_call_channel(t.sc), 31);
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered > 0 && tin.offered > 0, 3000));
	CU_ASSERT_EQUAL(t.hangups, 0);
	if (t.sc != NULL)
		CU_ASSERT_EQUAL(span_call_channel(t.sc), 30);
	if (tin.call.sc != NULL)
		CU_ASSERT_EQUAL(span_call_channel(tin.call.sc), 31);
	/* our call carries audio on its new channel */
	t.echo_write = 1;
	CU_ASSERT_TRUE(RUN_UNTIL(t.matched >= 5, 1000));
	CU_ASSERT_EQUAL(span_active_calls(), 2);
	if (t.sc != NULL)
		span_call_hangup(t.sc, 16);
	if (tin.call.sc != NULL)
		span_call_hangup(tin.call.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
		CU_ASSERT_PTR_NULL(s->glared[i]);
out:
	t_stop();
}

/* [span] blocked: no new calls either way, SERVICE out of service to the
 * far end; a reload unblocks in place (SERVICE in service). */
static void
test_span_blocked(void)
{
	struct span *s;
	struct span_call *sc = NULL;
	struct tcall t;
	int cause = 0;

	memset(&tin, 0, sizeof(tin));
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, &tin), 0);
	/* T1, national: SERVICE messages tell the far end */
	t_cfg_one(CFG_SPAN_T1, CFG_LAW_ULAW);
	t_spans[0].blocked = 1;
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(&t_cfg), 0);
	s = span_find("s1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if (!RUN_UNTIL(span_is_up(s), 3000)) {
		CU_FAIL("span not up");
		goto out;
	}
	t_status_is("span s1 up blocked calls=0\n");
	/* every B-channel out of service, acknowledged by the far end */
	CU_ASSERT_TRUE(RUN_UNTIL(s->service_acks >= 23, 3000));
	memset(&t, 0, sizeof(t));
	CU_ASSERT_EQUAL(span_call_new(s, "100", "4000", &t_cbs, &t, &sc, &cause), EAGAIN);
	CU_ASSERT_EQUAL(cause, 34);
	CU_ASSERT_PTR_NULL(sc);
	tin.take = 1;
	CU_ASSERT_EQUAL(span_sim_originate("s1", "5000", "4000", 0, 0), 0);
	t_run_ms(300);
	CU_ASSERT_EQUAL(tin.offered, 0);
	CU_ASSERT_EQUAL(span_active_calls(), 0);
	/* unblocked by a reload, in place */
	t_spans[0].blocked = 0;
	CU_ASSERT_EQUAL(span_registry_apply(&t_cfg), 0);
	CU_ASSERT_PTR_EQUAL(span_find("s1"), s);
	t_status_is("span s1 up calls=0\n");
	/* and back in service */
	CU_ASSERT_TRUE(RUN_UNTIL(s->service_acks >= 46, 3000));
	if (t_call(s, "100", &t) == 0) {
		CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 2000));
		span_call_hangup(t.sc, 16);
	}
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
out:
	t_stop();
}

static void
test_span_pure(void)
{
	struct cfg_span cs;
	struct span_tone tone;
	uint8_t frame[SPAN_FRAME_BYTES];
	int16_t pcm[8000];
	size_t n = 0;

	t_span_cfg(&cs, "x", CFG_SPAN_E1, CFG_LAW_ALAW);
	CU_ASSERT_EQUAL(span_sim_phone_lookup(&cs.sim, "100"), SPAN_SIM_ECHO);
	CU_ASSERT_EQUAL(span_sim_phone_lookup(&cs.sim, "105"), SPAN_SIM_EARLY);
	CU_ASSERT_EQUAL(span_sim_phone_lookup(&cs.sim, "1000"), SPAN_SIM_UNALLOCATED);
	CU_ASSERT_EQUAL(span_pri_switch_parse(NULL, CFG_SPAN_E1), PRI_SWITCH_EUROISDN_E1);
	CU_ASSERT_EQUAL(span_pri_switch_parse(NULL, CFG_SPAN_T1), PRI_SWITCH_NI2);
	CU_ASSERT_EQUAL(span_pri_switch_parse("euroisdn", CFG_SPAN_T1), PRI_SWITCH_EUROISDN_T1);
	CU_ASSERT_EQUAL(span_pri_switch_parse("bogus", CFG_SPAN_E1), -1);
	{
		char num[32], name[64], redir[32];
		int restricted;

		CU_ASSERT_EQUAL(span_sim_calling_parse("4001;name=Bob Smith;restricted;redir=7001",
		    num, sizeof(num), name, sizeof(name), &restricted, redir, sizeof(redir)), 0);
		CU_ASSERT_STRING_EQUAL(num, "4001");
		CU_ASSERT_STRING_EQUAL(name, "Bob Smith");
		CU_ASSERT_EQUAL(restricted, 1);
		CU_ASSERT_STRING_EQUAL(redir, "7001");
		CU_ASSERT_EQUAL(span_sim_calling_parse("4002", num, sizeof(num), name,
		    sizeof(name), &restricted, redir, sizeof(redir)), 0);
		CU_ASSERT_STRING_EQUAL(num, "4002");
		CU_ASSERT_STRING_EQUAL(name, "");
		CU_ASSERT_EQUAL(restricted, 0);
		CU_ASSERT_EQUAL(span_sim_calling_parse("4002;bogus", num, sizeof(num), name,
		    sizeof(name), &restricted, redir, sizeof(redir)), EINVAL);
		CU_ASSERT_TRUE(span_pri_pres_restricted(span_pri_pres(1)));
		CU_ASSERT_FALSE(span_pri_pres_restricted(span_pri_pres(0)));
		CU_ASSERT_TRUE(span_pri_pres_restricted(PRES_NUMBER_NOT_AVAILABLE));
	}
	CU_ASSERT_TRUE(span_pri_hangup_final(SPAN_CALL_DIALING, 0, 0, 34));
	CU_ASSERT_FALSE(span_pri_hangup_final(SPAN_CALL_DIALING, 0, 0, 16));
	CU_ASSERT_FALSE(span_pri_hangup_final(SPAN_CALL_CONNECTED, 0, 0, 34));
	CU_ASSERT_FALSE(span_pri_hangup_final(SPAN_CALL_ALERTING, 0, 1, 34));
	CU_ASSERT_TRUE(span_pri_hangup_final(SPAN_CALL_RELEASING, 1, 1, 16));
	/* Ringback cadence: 1 s of 425 Hz, then 4 s of silence. */
	span_tone_init(&tone, 425, 0, 1000, 4000);
	for (int i = 0; i < 50; i++) {
		span_tone_frame(&tone, CFG_LAW_ALAW, frame);
		for (size_t k = 0; k < SPAN_FRAME_BYTES; k++)
			pcm[n++] = alaw_to_linear(frame[k]);
	}
	CU_ASSERT_DOUBLE_EQUAL(t_freq(pcm, n), 425.0, 10.0);
	span_tone_frame(&tone, CFG_LAW_ALAW, frame);
	for (size_t k = 0; k < SPAN_FRAME_BYTES; k++)
		CU_ASSERT_TRUE(abs(alaw_to_linear(frame[k])) < 16);
}

int
main(void)
{
	CU_pSuite suite;
	const char *lvl = getenv("TEST_LOG_LEVEL");
	int failures;

	log_init("test_span", 1, lvl != NULL && log_level_parse(lvl) >= 0 ?
	    (enum log_level)log_level_parse(lvl) : LOG_LEVEL_WARN);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("span", NULL, NULL);
	CU_add_test(suite, "pure helpers", test_span_pure);
	CU_add_test(suite, "numbers: type of number and prefixes", test_span_numbers_pure);
	CU_add_test(suite, "B-channel hunting order", test_span_hunt_pure);
	CU_add_test(suite, "hunting and numbers through the sim", test_span_hunt_numbers);
	CU_add_test(suite, "glare: the user side yields", test_span_glare);
	CU_add_test(suite, "preferred channel: glare moves our call", test_span_preferred_glare);
	CU_add_test(suite, "blocked span, unblocked by reload", test_span_blocked);
	CU_add_test(suite, "span comes up", test_span_up);
	CU_add_test(suite, "echo call", test_span_echo);
	CU_add_test(suite, "sim spans clocked at spread phases", test_span_phases);
	CU_add_test(suite, "a tick hints the calls ahead; one hung up from a frame is not",
	    test_span_tick_hints);
	CU_add_test(suite, "tone A-law", test_span_tone_alaw);
	CU_add_test(suite, "tone mu-law T1", test_span_tone_ulaw);
	CU_add_test(suite, "busy 17", test_span_busy);
	CU_add_test(suite, "unallocated 1", test_span_unallocated);
	CU_add_test(suite, "congestion 34", test_span_congestion);
	CU_add_test(suite, "no answer", test_span_noanswer);
	CU_add_test(suite, "ring then answer", test_span_ringanswer);
	CU_add_test(suite, "early media", test_span_early);
	CU_add_test(suite, "far end originates", test_span_originate);
	CU_add_test(suite, "far end tone and hold", test_span_originate_tone_hold);
	CU_add_test(suite, "overlap digit collection (pure)", test_span_overlap_pure);
	CU_add_test(suite, "overlap dialing both ways", test_span_overlap);
	CU_add_test(suite, "T316 and lost RESTART ACKNOWLEDGE (pure)", test_span_t316_pure);
	CU_add_test(suite, "inbound not taken", test_span_incoming_rejected);
	CU_add_test(suite, "all channels busy", test_span_all_busy);
	CU_add_test(suite, "reload drains", test_span_reload);
	CU_add_test(suite, "bad D-channel frames", test_span_bad_frames);
	CU_add_test(suite, "D-channel down ends calls", test_span_dchan_down);
	CU_add_test(suite, "every switch type: a call each way, identity", test_span_switchtypes);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
