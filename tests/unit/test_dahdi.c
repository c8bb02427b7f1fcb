/* The dahdi driver against the fake DAHDI device (tests/unit/fake/): open
 * and configuration of the channels, Q.931 over the HDLC D-channel with a
 * real libpri far end on the fake's other side, audio both ways, every
 * DAHDI event the driver handles, alarms taking calls down with cause 38
 * and the span coming back with RESTART, echo cancellation both ways. */
#include <sys/socket.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <dahdi/user.h>
#include <event2/event.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "cfg/cfg.h"
#include "core/log.h"
#include "fake/loop.h"
#include "fake/fake_dahdi.h"
#include "span/dahdi_ops.h"
#include "span/span.h"
#include "span/span_int.h"

#define MAX_FRAMES 400

static struct event_base *base;
static struct cfg *tcfg;

/* ---- loop helpers: every run is bounded ---- */

#define t_now_ms() loop_now_ms()
#define t_run_ms(ms) loop_run_ms(base, (ms))
#define RUN_UNTIL(cond, ms) LOOP_RUN_UNTIL(base, cond, ms)

/* ---- log capture: stderr into a file while a test looks ---- */

static enum log_level t_level = LOG_LEVEL_WARN;
static FILE *t_logf;
static int t_log_saved = -1;
static char t_logbuf[65536];

static void
t_log_begin(void)
{
	fflush(stderr);
	t_logf = tmpfile();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t_logf);
	t_log_saved = dup(2);
	dup2(fileno(t_logf), 2);
	log_set_level(LOG_LEVEL_DEBUG);
}

static const char *
t_log_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(t_log_saved, 2);
	close(t_log_saved);
	t_log_saved = -1;
	rewind(t_logf);
	n = fread(t_logbuf, 1, sizeof(t_logbuf) - 1, t_logf);
	t_logbuf[n] = '\0';
	fclose(t_logf);
	t_logf = NULL;
	log_set_level(t_level);
	return t_logbuf;
}

/* ---- the owner of a call (the call layer's part) ---- */

struct tcall {
	struct span_call *sc;
	int answered;
	int hangups, cause;
	int nframes;
	uint8_t frames[MAX_FRAMES][SPAN_FRAME_BYTES];
	/* what the owner writes back each frame */
	int write_mode;                 /* 0 nothing, 1 pattern, 2 noise */
	unsigned int wseq;
	uint32_t rnd;
};

static void
t_pattern(uint8_t *frame, unsigned int seq, unsigned int salt)
{
	for (size_t i = 0; i < SPAN_FRAME_BYTES; i++)
		frame[i] = (uint8_t)(seq * 31 + i * 7 + salt);
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

static void
t_audio(void *owner, const uint8_t *frame, size_t len)
{
	struct tcall *t = owner;
	uint8_t out[SPAN_FRAME_BYTES];

	CU_ASSERT_EQUAL(len, SPAN_FRAME_BYTES);
	if (t->nframes < MAX_FRAMES)
		memcpy(t->frames[t->nframes], frame, SPAN_FRAME_BYTES);
	t->nframes++;
	if (t->sc == NULL)
		return;
	if (t->write_mode == 1) {
		t_pattern(out, t->wseq++, 0x55);
		span_call_write(t->sc, out, sizeof(out));
	} else if (t->write_mode == 2) {
		for (size_t i = 0; i < SPAN_FRAME_BYTES; i++) {
			t->rnd = t->rnd * 1103515245u + 12345u;
			out[i] = linear_to_ulaw((int16_t)((int)(t->rnd >> 16 & 0x1fff) - 4096));
		}
		span_call_write(t->sc, out, sizeof(out));
	}
}

static const struct span_call_cbs t_cbs = {
	.answered = t_answered,
	.hangup = t_hangup,
	.audio = t_audio,
};

/* Inbound calls are answered into tin_call. */
static struct tcall tin_call;
static int tin_offered;

static void
t_incoming(void *arg, const struct span_incoming *in)
{
	tin_offered++;
	memset(&tin_call, 0, sizeof(tin_call));
	tin_call.sc = in->sc;
	span_call_attach(in->sc, &t_cbs, &tin_call);
	span_call_answer(in->sc);
}

/* ---- the far end: libpri on the fake's other side of the D-channel ---- */

struct far {
	struct span_pri *pri;
	int up, downs;
	q931_call *call;
	int chan;
	int rings, answers, hangup_reqs, hangups;
	int restarts, restart_chan;
	char called[32];
};
static struct far far;

static void
far_on_event(void *arg, pri_event *e)
{
	struct far *f = arg;
	struct pri *ctrl = span_pri_ctrl(f->pri);

	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		f->up = 1;
		break;
	case PRI_EVENT_DCHAN_DOWN:
		f->up = 0;
		f->downs++;
		break;
	case PRI_EVENT_RING:
		f->rings++;
		f->call = e->ring.call;
		f->chan = e->ring.channel & 0xff;
		snprintf(f->called, sizeof(f->called), "%.31s", e->ring.callednum);
		pri_proceeding(ctrl, f->call, e->ring.channel, 0);
		pri_answer(ctrl, f->call, e->ring.channel, 0);
		break;
	case PRI_EVENT_ANSWER:
		f->answers++;
		break;
	case PRI_EVENT_HANGUP_REQ:
		f->hangup_reqs++;
		pri_hangup(ctrl, e->hangup.call, e->hangup.cause);
		break;
	case PRI_EVENT_HANGUP:
		f->hangups++;
		pri_hangup(ctrl, e->hangup.call, e->hangup.cause);
		if (e->hangup.call == f->call)
			f->call = NULL;
		break;
	case PRI_EVENT_HANGUP_ACK:
		f->hangups++;
		if (e->hangup.call == f->call)
			f->call = NULL;
		break;
	case PRI_EVENT_RESTART:
		f->restarts++;
		f->restart_chan = e->restart.channel & 0xff;
		if (f->call != NULL) {
			pri_destroycall(ctrl, f->call);
			f->call = NULL;
		}
		break;
	default:
		break;
	}
}

/* Start one span from config text over the fake, with the far end on
 * D-channel dchan; wait until it is up unless want_up is 0. */
static struct span *
t_start(const char *conf, const char *name, int dchan, int nodetype, int sw, int want_up)
{
	struct cfg_errors errs;
	struct span *s;

	memset(&far, 0, sizeof(far));
	memset(&tin_call, 0, sizeof(tin_call));
	tin_offered = 0;
	base = event_base_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	tcfg = cfg_load_string("t.conf", conf, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	cfg_errors_release(&errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tcfg);
	dahdi_ops_set(&fake_dahdi_ops);
	CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(span_registry_apply(tcfg), 0);
	s = span_find(name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_TRUE_FATAL(fake_dahdi_peer(dchan) >= 0);
	far.pri = span_pri_new(base, "far", fake_dahdi_peer(dchan), nodetype, sw,
	    far_on_event, &far);
	CU_ASSERT_PTR_NOT_NULL_FATAL(far.pri);
	if (want_up)
		CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 3000));
	return s;
}

static void
t_stop(void)
{
	if (far.pri != NULL)
		span_pri_free(far.pri);
	far.pri = NULL;
	span_registry_shutdown();
	CU_ASSERT_EQUAL(fake_dahdi_open_count(), 0);
	fake_dahdi_reset();
	dahdi_ops_set(NULL);
	cfg_unref(tcfg);
	tcfg = NULL;
	event_base_free(base);
	base = NULL;
}

static const char conf_t1[] =
    "[span d1]\ndriver = dahdi\ntype = t1\nspan = 1\n";

/* A T1 span 1 on channels 1-24 and the span started on it. */
static struct span *
t_start_t1(const char *conf, int hwec)
{
	fake_dahdi_reset();
	CU_ASSERT_EQUAL_FATAL(fake_dahdi_add_span(1, 1, 1, DAHDI_LAW_MULAW, hwec), 0);
	return t_start(conf, "d1", 24, PRI_NETWORK, PRI_SWITCH_NI2, 1);
}

/* Read every block waiting at the test's end of channel channo. */
static int
t_read_blocks(int channo, uint8_t (*out)[SPAN_FRAME_BYTES], int max)
{
	uint8_t buf[2048];
	int n = 0;
	ssize_t r;

	while ((r = recv(fake_dahdi_peer(channo), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		CU_ASSERT_EQUAL(r, SPAN_FRAME_BYTES);
		if (n < max && out != NULL)
			memcpy(out[n], buf, SPAN_FRAME_BYTES);
		n++;
	}
	return n;
}

/* Wait (bounded) until want blocks came out of channel channo; how many. */
static int
t_wait_blocks(int channo, uint8_t (*out)[SPAN_FRAME_BYTES], int max, int want, int ms)
{
	long until = t_now_ms() + ms;
	int n = 0;

	for (;;) {
		n += t_read_blocks(channo, out != NULL ? out + (n < max ? n : max) : NULL,
		    n < max ? max - n : 0);
		if (n >= want || t_now_ms() >= until)
			return n;
		t_run_ms(5);
	}
}

static void
t_send_block(int channo, const uint8_t *frame)
{
	CU_ASSERT_EQUAL(send(fake_dahdi_peer(channo), frame, SPAN_FRAME_BYTES, MSG_DONTWAIT),
	    SPAN_FRAME_BYTES);
}

static int
t_call(struct span *s, struct tcall *t)
{
	int cause = 0, error;

	memset(t, 0, sizeof(*t));
	error = span_call_new(s, "5551234", "4000", &t_cbs, t, &t->sc, &cause);
	CU_ASSERT_EQUAL(error, 0);
	return error;
}

/* ---- tests ---- */

static void
test_open_by_span(void)
{
	struct span *s = t_start_t1(conf_t1, 0);
	struct fake_dahdi_chan *c;

	CU_ASSERT_EQUAL(s->nchans, 23);
	CU_ASSERT_EQUAL(s->dchan, 24);
	for (int ch = 1; ch <= 23; ch++) {
		c = fake_dahdi_chan(ch);
		CU_ASSERT_TRUE(c->open);
		CU_ASSERT_EQUAL(c->law, DAHDI_LAW_MULAW);
		CU_ASSERT_EQUAL(c->blocksize, SPAN_FRAME_BYTES);
		CU_ASSERT_EQUAL(c->bufsize, SPAN_FRAME_BYTES);
		CU_ASSERT_EQUAL(s->chans[ch - 1].num, ch);
	}
	c = fake_dahdi_chan(24);
	CU_ASSERT_TRUE(c->open);
	CU_ASSERT_EQUAL(c->bufsize, 1024);
	CU_ASSERT_EQUAL(span_law(s), CFG_LAW_ULAW);
	CU_ASSERT_TRUE(far.up);
	t_stop();
}

static void
test_open_by_channels(void)
{
	static const char conf[] =
	    "[span e]\ndriver = dahdi\ntype = e1\nswitchtype = euroisdn_e1\n"
	    "signalling = pri_net\ndchannel = 116\nbchannels = 101-105, 117\n";
	struct span *s;
	struct tcall t;
	struct fake_dahdi_chan *c;

	fake_dahdi_reset();
	CU_ASSERT_EQUAL_FATAL(fake_dahdi_add_span(2, 0, 101, DAHDI_LAW_ALAW, 0), 0);
	/* The daemon is the network side here: the far end is the user. */
	s = t_start(conf, "e", 116, PRI_CPE, PRI_SWITCH_EUROISDN_E1, 1);
	CU_ASSERT_EQUAL(s->nchans, 6);
	CU_ASSERT_EQUAL(s->dchan, 16);
	CU_ASSERT_EQUAL(s->chans[5].num, 17);
	/* no law key: the span's, A-law */
	CU_ASSERT_EQUAL(span_law(s), CFG_LAW_ALAW);
	CU_ASSERT_EQUAL(fake_dahdi_chan(117)->law, DAHDI_LAW_ALAW);
	CU_ASSERT_FALSE(fake_dahdi_chan(106)->open);
	CU_ASSERT_FALSE(fake_dahdi_chan(131)->open);
	/* A call goes out on channel 1 of the span (DAHDI channel 101). */
	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	CU_ASSERT_EQUAL(far.chan, 1);
	CU_ASSERT_TRUE(t_wait_blocks(101, NULL, 0, 1, 1000) > 0);
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0 && far.call == NULL, 3000));
	c = fake_dahdi_chan(101);
	CU_ASSERT_TRUE(c->flushes >= 1);
out:
	t_stop();
}

static void
test_open_failures(void)
{
	static const char *const confs[] = {
		/* the D-channel named is a clear channel */
		"[span d1]\ndriver = dahdi\ntype = t1\ndchannel = 5\nbchannels = 1-4\n",
		/* a channel DAHDI does not have */
		"[span d1]\ndriver = dahdi\ntype = t1\ndchannel = 24\nbchannels = 1, 99\n",
		/* a span DAHDI does not have */
		"[span d1]\ndriver = dahdi\ntype = t1\nspan = 7\n",
		/* a B-channel that is the HDLC channel of another span */
		"[span d1]\ndriver = dahdi\ntype = t1\ndchannel = 24\nbchannels = 1, 48\n",
	};

	for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		struct cfg_errors errs;
		struct cfg *c;

		fake_dahdi_reset();
		CU_ASSERT_EQUAL_FATAL(fake_dahdi_add_span(1, 1, 1, DAHDI_LAW_MULAW, 0), 0);
		CU_ASSERT_EQUAL_FATAL(fake_dahdi_add_span(2, 1, 25, DAHDI_LAW_MULAW, 0), 0);
		base = event_base_new();
		c = cfg_load_string("t.conf", confs[i], &errs);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		dahdi_ops_set(&fake_dahdi_ops);
		CU_ASSERT_EQUAL_FATAL(span_registry_init(base, t_incoming, NULL), 0);
		t_log_begin();
		CU_ASSERT_NOT_EQUAL(span_registry_apply(c), 0);
		t_log_end();
		CU_ASSERT_PTR_NULL(span_find("d1"));
		/* nothing left open */
		CU_ASSERT_EQUAL(fake_dahdi_open_count(), 0);
		span_registry_shutdown();
		dahdi_ops_set(NULL);
		cfg_unref(c);
		event_base_free(base);
		base = NULL;
	}
	fake_dahdi_reset();
}

static void
test_outbound_audio(void)
{
	struct span *s = t_start_t1(conf_t1, 0);
	uint8_t blocks[64][SPAN_FRAME_BYTES], frame[SPAN_FRAME_BYTES];
	struct tcall t;
	int n, got;

	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered && far.answers == 0 && far.rings == 1, 3000));
	CU_ASSERT_STRING_EQUAL(far.called, "5551234");
	CU_ASSERT_EQUAL(far.chan, span_call_channel(t.sc));
	CU_ASSERT_EQUAL(span_call_channel(t.sc), 1);
	/* Audio starts: the queue is primed with silence. */
	n = t_wait_blocks(1, blocks, 64, 4, 1000);
	t_run_ms(30);
	n += t_read_blocks(1, NULL, 0);
	CU_ASSERT_EQUAL(n, 4);
	for (int i = 0; i < n && i < 64; i++)
		for (size_t k = 0; k < SPAN_FRAME_BYTES; k++)
			CU_ASSERT_EQUAL_FATAL(blocks[i][k], SPAN_SILENCE_ULAW);
	/* Blocks from the line reach the owner byte for byte, and what the
	 * owner writes goes out one block for each block in. */
	t.write_mode = 1;
	for (unsigned int i = 0; i < 20; i++) {
		t_pattern(frame, i, 0x11);
		t_send_block(1, frame);
	}
	CU_ASSERT_TRUE(RUN_UNTIL(t.nframes >= 20, 2000));
	CU_ASSERT_EQUAL(t.nframes, 20);
	for (unsigned int i = 0; i < 20 && i < (unsigned int)t.nframes; i++) {
		t_pattern(frame, i, 0x11);
		CU_ASSERT_EQUAL(memcmp(t.frames[i], frame, SPAN_FRAME_BYTES), 0);
	}
	got = t_read_blocks(1, blocks, 64);
	CU_ASSERT_EQUAL(got, 20);
	for (int i = 0; i < got; i++) {
		t_pattern(frame, (unsigned int)i, 0x55);
		CU_ASSERT_EQUAL(memcmp(blocks[i], frame, SPAN_FRAME_BYTES), 0);
	}
	/* A block that arrives in two pieces is one block. */
	t_pattern(frame, 99, 0x11);
	CU_ASSERT_EQUAL(send(fake_dahdi_peer(1), frame, 60, 0), 60);
	CU_ASSERT_EQUAL(send(fake_dahdi_peer(1), frame + 60, 100, 0), 100);
	CU_ASSERT_TRUE(RUN_UNTIL(t.nframes == 21, 1000));
	CU_ASSERT_EQUAL(memcmp(t.frames[20], frame, SPAN_FRAME_BYTES), 0);
	/* Hang up: released both sides, the audio stops. */
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0 && far.call == NULL, 3000));
	CU_ASSERT_EQUAL(far.hangup_reqs, 1);
	t_run_ms(50);
	t_send_block(1, frame);
	t_run_ms(50);
	CU_ASSERT_EQUAL(t.nframes, 21);
out:
	t_stop();
}

static void
test_inbound(void)
{
	struct span *s = t_start_t1(conf_t1, 0);
	struct pri *ctrl = span_pri_ctrl(far.pri);
	uint8_t frame[SPAN_FRAME_BYTES];
	struct pri_sr *sr;
	char called[] = "2000", calling[] = "5559999";
	q931_call *c;

	(void)s;
	c = pri_new_call(ctrl);
	sr = pri_sr_new();
	pri_sr_set_channel(sr, 5, 1, 0);
	pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, PRI_LAYER_1_ULAW);
	pri_sr_set_called(sr, called, PRI_UNKNOWN, 1);
	pri_sr_set_caller(sr, calling, NULL, PRI_UNKNOWN, PRES_ALLOWED_USER_NUMBER_NOT_SCREENED);
	CU_ASSERT_EQUAL(pri_setup(ctrl, c, sr), 0);
	pri_sr_free(sr);
	far.call = c;
	span_pri_rearm(far.pri);
	CU_ASSERT_TRUE(RUN_UNTIL(tin_call.answered, 3000));
	CU_ASSERT_EQUAL(tin_offered, 1);
	CU_ASSERT_EQUAL(span_call_channel(tin_call.sc), 5);
	CU_ASSERT_EQUAL(t_wait_blocks(5, NULL, 0, 4, 1000), 4);
	t_pattern(frame, 7, 3);
	t_send_block(5, frame);
	CU_ASSERT_TRUE(RUN_UNTIL(tin_call.nframes == 1, 1000));
	CU_ASSERT_EQUAL(memcmp(tin_call.frames[0], frame, SPAN_FRAME_BYTES), 0);
	/* The far end hangs up. */
	pri_hangup(ctrl, c, PRI_CAUSE_NORMAL_CLEARING);
	span_pri_rearm(far.pri);
	CU_ASSERT_TRUE(RUN_UNTIL(tin_call.hangups == 1 && span_active_calls() == 0, 3000));
	CU_ASSERT_EQUAL(tin_call.cause, 16);
	t_stop();
}

/* Every event the D-channel can report is fetched and logged, and the
 * D-channel carries calls afterwards. */
static void
test_events(void)
{
	static const struct {
		int ev;
		const char *logged;
	} evs[] = {
		{ DAHDI_EVENT_ABORT, "HDLC abort" },
		{ DAHDI_EVENT_OVERRUN, "HDLC overrun" },
		{ DAHDI_EVENT_BADFCS, "bad FCS" },
		{ DAHDI_EVENT_BITSCHANGED, "DAHDI event bitschanged (13) ignored" },
		{ DAHDI_EVENT_DIALCOMPLETE, "DAHDI event dialcomplete (9) ignored" },
		{ DAHDI_EVENT_ONHOOK, "DAHDI event onhook (1) ignored" },
		{ DAHDI_EVENT_RINGOFFHOOK, "DAHDI event ringoffhook (2) ignored" },
		{ DAHDI_EVENT_TIMER_EXPIRED, "DAHDI event timer-expired (15) ignored" },
		{ DAHDI_EVENT_POLARITY, "DAHDI event polarity (17) ignored" },
		{ 77, "DAHDI event unknown (77) ignored" },
	};
	struct span *s = t_start_t1(conf_t1, 0);
	const char *log;
	struct tcall t;

	t_log_begin();
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		fake_dahdi_event(24, evs[i].ev);
	/* A frame from the line with a bad FCS: dropped, counted. */
	fake_dahdi_bad_fcs(24);
	CU_ASSERT_TRUE(RUN_UNTIL(fake_dahdi_chan(24)->nevents == 0, 1000));
	t_run_ms(30);
	log = t_log_end();
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		CU_ASSERT_PTR_NOT_NULL(strstr(log, evs[i].logged));
		if (strstr(log, evs[i].logged) == NULL)
			fprintf(stderr, "not logged: %s\n", evs[i].logged);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "bad FCS dropped (2 so far)"));
	CU_ASSERT_TRUE(span_is_up(s));

	/* Events pending while Q.931 arrives: the read fails with ELAST,
	 * the events are taken, the frames are read. */
	if (t_call(s, &t) != 0)
		goto out;
	fake_dahdi_event(24, DAHDI_EVENT_ABORT);
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	CU_ASSERT_TRUE(fake_dahdi_chan(24)->elast > 0);
	/* B-channel events are taken too. */
	CU_ASSERT_EQUAL(t_wait_blocks(1, NULL, 0, 4, 1000), 4);
	t_log_begin();
	fake_dahdi_event(1, DAHDI_EVENT_WRITE_UNDERRUN);
	fake_dahdi_event(1, DAHDI_EVENT_READ_OVERRUN);
	fake_dahdi_event(1, DAHDI_EVENT_EC_DISABLED);
	/* alarms are the D-channel's business: logged, not acted on */
	fake_dahdi_event(1, DAHDI_EVENT_ALARM);
	fake_dahdi_event(1, DAHDI_EVENT_NOALARM);
	t_send_block(1, t.frames[0]);
	CU_ASSERT_TRUE(RUN_UNTIL(t.nframes == 1, 1000));
	log = t_log_end();
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "channel 1: write-underrun"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "channel 1: read-overrun"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "channel 1: DAHDI disabled the echo canceller"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "channel 1: DAHDI event alarm"));
	CU_ASSERT_PTR_NULL(strstr(log, "alarm: "));
	CU_ASSERT_TRUE(span_is_up(s));
	CU_ASSERT_PTR_NOT_NULL(t.sc);
	CU_ASSERT_EQUAL(fake_dahdi_chan(1)->nevents, 0);
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
out:
	t_stop();
}

/* A call on span s is answered by the far end, then hung up by us. */
static void
t_call_answer_hangup(struct span *s)
{
	struct tcall t;

	if (t_call(s, &t) != 0)
		return;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
}

/* The same span without the RESTART of idle channels on span up. */
static const char conf_t1_lost_only[] =
    "[span d1]\ndriver = dahdi\ntype = t1\nspan = 1\nrestart_on_up = no\n";

/* An alarm ends the calls with 38 and refuses new ones with 38; when it
 * clears the span comes back by itself and restarts the lost channel. */
static void
t_alarm_case(int alarm, const char *name)
{
	struct span *s = t_start_t1(conf_t1_lost_only, 0);
	struct tcall t, t2;
	struct span_call *sc;
	char want[64];
	const char *log;
	int cause, chan;

	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	chan = span_call_channel(t.sc);
	t_log_begin();
	fake_dahdi_set_alarms(1, alarm);
	CU_ASSERT_TRUE(RUN_UNTIL(t.hangups == 1, 1000));
	CU_ASSERT_EQUAL(t.cause, 38);
	CU_ASSERT_FALSE(span_is_up(s));
	CU_ASSERT_EQUAL(span_active_calls(), 0);
	cause = 0;
	CU_ASSERT_EQUAL(span_call_new(s, "5551234", "4000", &t_cbs, &t2, &sc, &cause), ENOTCONN);
	CU_ASSERT_EQUAL(cause, 38);
	/* still down a while later */
	t_run_ms(100);
	CU_ASSERT_FALSE(span_is_up(s));
	fake_dahdi_set_alarms(1, 0);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 1000));
	CU_ASSERT_TRUE(RUN_UNTIL(far.restarts == 1, SPAN_RESTART_DELAY_MS + 3000));
	CU_ASSERT_EQUAL(far.restart_chan, chan);
	log = t_log_end();
	snprintf(want, sizeof(want), "alarm: %s", name);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "no alarm (DAHDI_EVENT_NOALARM)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "RESTART sent"));
	/* and takes calls again */
	t_run_ms(100);
	t_call_answer_hangup(s);
out:
	t_stop();
}

/* restart_on_up (the default): every idle B-channel is restarted
 * SPAN_RESTART_DELAY_MS after start-up, and again after the span comes
 * back from an alarm. */
static void
test_restart_on_up(void)
{
	struct span *s = t_start_t1(conf_t1, 0);

	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 1000));
	t_run_ms(SPAN_RESTART_DELAY_MS / 2);
	CU_ASSERT_EQUAL(far.restarts, 0);
	CU_ASSERT_TRUE(RUN_UNTIL(far.restarts == 23, SPAN_RESTART_DELAY_MS + 1000));
	t_run_ms(200);
	CU_ASSERT_EQUAL(far.restarts, 23);
	fake_dahdi_set_alarms(1, DAHDI_ALARM_RED);
	CU_ASSERT_TRUE(RUN_UNTIL(!span_is_up(s), 1000));
	fake_dahdi_set_alarms(1, 0);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 1000));
	/* not at once on recovery: after SPAN_RESTART_DELAY_MS */
	t_run_ms(SPAN_RESTART_DELAY_MS / 2);
	CU_ASSERT_EQUAL(far.restarts, 23);
	CU_ASSERT_TRUE(RUN_UNTIL(far.restarts == 46, SPAN_RESTART_DELAY_MS + 3000));
	t_run_ms(200);
	t_call_answer_hangup(s);
	t_stop();
}

static void
test_alarm_red(void)
{
	t_alarm_case(DAHDI_ALARM_RED, "red");
}

static void
test_alarm_yellow(void)
{
	t_alarm_case(DAHDI_ALARM_YELLOW, "yellow");
}

static void
test_alarm_blue(void)
{
	t_alarm_case(DAHDI_ALARM_BLUE | DAHDI_ALARM_LOS, "blue los");
}

static void
test_alarm_at_start(void)
{
	struct span *s;

	fake_dahdi_reset();
	CU_ASSERT_EQUAL_FATAL(fake_dahdi_add_span(1, 1, 1, DAHDI_LAW_MULAW, 0), 0);
	fake_dahdi_set_alarms(1, DAHDI_ALARM_RED);
	s = t_start(conf_t1, "d1", 24, PRI_NETWORK, PRI_SWITCH_NI2, 0);
	/* the D-channel of the fake works, the alarm keeps the span down */
	CU_ASSERT_TRUE(RUN_UNTIL(s->dchan_up, 3000));
	CU_ASSERT_FALSE(span_is_up(s));
	fake_dahdi_set_alarms(1, 0);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 1000));
	t_stop();
}

static void
test_removed(void)
{
	struct span *s = t_start_t1(conf_t1, 0);

	t_log_begin();
	fake_dahdi_event(24, DAHDI_EVENT_REMOVED);
	CU_ASSERT_TRUE(RUN_UNTIL(!span_is_up(s), 1000));
	CU_ASSERT_PTR_NOT_NULL(strstr(t_log_end(), "DAHDI device removed"));
	t_stop();
}

/* Loss of the D-channel (the far end's layer 2 disconnects): calls end
 * with 38, the link comes back, the lost channel is restarted. */
static void
test_dchannel_loss(void)
{
	struct span *s = t_start_t1(conf_t1, 0);
	/* Q.921 DISC command from the network side, SAPI 0, TEI 0, P=1, FCS */
	static const uint8_t disc[] = { 0x02, 0x01, 0x53, 0x00, 0x00 };
	struct tcall t;

	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	CU_ASSERT_EQUAL(send(fake_dahdi_peer(24), disc, sizeof(disc), 0), (ssize_t)sizeof(disc));
	CU_ASSERT_TRUE(RUN_UNTIL(t.hangups == 1, 2000));
	CU_ASSERT_EQUAL(t.cause, 38);
	CU_ASSERT_TRUE(RUN_UNTIL(span_is_up(s), 5000));
	CU_ASSERT_TRUE(RUN_UNTIL(far.restarts >= 1, SPAN_RESTART_DELAY_MS + 3000));
	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
out:
	t_stop();
}

static void
test_echocancel_dahdi(void)
{
	struct span *s = t_start_t1("[span d1]\ndriver = dahdi\ntype = t1\nspan = 1\n"
	    "echocancel = 32\n", 1);
	struct tcall t;

	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	CU_ASSERT_TRUE(RUN_UNTIL(fake_dahdi_chan(1)->ec_taps == 256, 1000));
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
	CU_ASSERT_TRUE(RUN_UNTIL(fake_dahdi_chan(1)->ec_taps == 0, 1000));
	CU_ASSERT_EQUAL(fake_dahdi_chan(1)->ec_sets, 2);
out:
	t_stop();
}

/* Without a DAHDI canceller, SpanDSP's runs in the daemon. The line
 * returns what was sent at half amplitude plus a quieter near-end talker
 * (-18 dB); measured over the last blocks: the energy the owner hears,
 * relative to the echo's and to the talker's. */
struct t_echo {
	double heard_echo, heard_near;
};

static struct t_echo
t_echo_run(const char *conf)
{
	struct span *s = t_start_t1(conf, 0);
	uint8_t blocks[8][SPAN_FRAME_BYTES], echo[SPAN_FRAME_BYTES];
	double e_heard = 0.0, e_echo = 0.0, e_near = 0.0;
	struct t_echo r = { 1.0, 1.0 };
	uint32_t rnd = 777;
	struct tcall t;
	int sent = 0, n;
	const int total = 300, measure = 50;

	if (t_call(s, &t) != 0)
		goto out;
	CU_ASSERT_TRUE(RUN_UNTIL(t.answered, 3000));
	t.write_mode = 2;
	t.rnd = 12345;
	/* Primed blocks first, then one echo per block the driver writes. */
	CU_ASSERT_EQUAL(t_wait_blocks(1, NULL, 0, 4, 1000), 4);
	memset(echo, SPAN_SILENCE_ULAW, sizeof(echo));
	for (int i = 0; i < 4; i++)
		t_send_block(1, echo);
	sent = 4;
	while (sent < total) {
		if ((n = t_wait_blocks(1, blocks, 8, 1, 1000)) == 0)
			break;
		for (int b = 0; b < n && b < 8 && sent < total; b++, sent++) {
			for (size_t k = 0; k < SPAN_FRAME_BYTES; k++) {
				int e = ulaw_to_linear(blocks[b][k]) / 2, v;

				rnd = rnd * 1103515245u + 12345u;
				v = (int)(rnd >> 16 & 0x3ff) - 512;
				echo[k] = linear_to_ulaw((int16_t)(e + v));
				if (sent >= total - measure) {
					e_echo += (double)e * e;
					e_near += (double)v * v;
				}
			}
			t_send_block(1, echo);
		}
	}
	CU_ASSERT_TRUE(RUN_UNTIL(t.nframes >= total, 2000));
	for (int i = total - measure; i < total && i < t.nframes && i < MAX_FRAMES; i++)
		for (size_t k = 0; k < SPAN_FRAME_BYTES; k++) {
			double v = ulaw_to_linear(t.frames[i][k]);

			e_heard += v * v;
		}
	if (e_echo > 0.0 && e_near > 0.0) {
		r.heard_echo = e_heard / e_echo;
		r.heard_near = e_heard / e_near;
	}
	span_call_hangup(t.sc, 16);
	CU_ASSERT_TRUE(RUN_UNTIL(span_active_calls() == 0, 3000));
out:
	t_stop();
	return r;
}

static void
test_echocancel_spandsp(void)
{
	struct t_echo off, on;

	/* The owner writes mu-law noise (about -13 dBm0). */
	off = t_echo_run("[span d1]\ndriver = dahdi\ntype = t1\nspan = 1\n");
	on = t_echo_run("[span d1]\ndriver = dahdi\ntype = t1\nspan = 1\necho"
	    "cancel = 16\n");
	/* without: echo and talker both heard */
	CU_ASSERT_TRUE(off.heard_echo > 0.95);
	CU_ASSERT_TRUE(off.heard_near > 10.0);
	/* with: the echo is mostly gone (the talker alone is 0.06 of it),
	 * the talker is still heard */
	CU_ASSERT_TRUE(on.heard_echo < 0.12);
	CU_ASSERT_TRUE(on.heard_near > 0.5 && on.heard_near < 2.0);
	if (on.heard_echo >= 0.12 || getenv("TEST_LOG_LEVEL") != NULL)
		fprintf(stderr, "heard/echo %.3f, heard/talker %.3f without; %.3f, %.3f with "
		    "SpanDSP's canceller\n", off.heard_echo, off.heard_near, on.heard_echo,
		    on.heard_near);
}

static void
test_reload(void)
{
	struct span *s = t_start_t1(conf_t1, 0);
	struct cfg_errors errs;
	struct cfg *c2;

	/* echocancel is applied in place; the span keeps running */
	c2 = cfg_load_string("t.conf", "[span d1]\ndriver = dahdi\ntype = t1\nspan = 1\n"
	    "echocancel = 64\n", &errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	CU_ASSERT_EQUAL(span_registry_apply(c2), 0);
	CU_ASSERT_PTR_EQUAL(span_find("d1"), s);
	CU_ASSERT_EQUAL(s->dahdi.echocancel, 64);
	CU_ASSERT_TRUE(span_is_up(s));
	cfg_unref(c2);
	t_stop();
}

static void
test_names(void)
{
	char buf[64];

	CU_ASSERT_STRING_EQUAL(dahdi_ops_event_name(DAHDI_EVENT_BADFCS), "hdlc-bad-fcs");
	CU_ASSERT_STRING_EQUAL(dahdi_ops_event_name(DAHDI_EVENT_DTMFUP | '5'), "dtmfup");
	CU_ASSERT_STRING_EQUAL(dahdi_ops_event_name(4000), "unknown");
	CU_ASSERT_STRING_EQUAL(dahdi_ops_alarm_str(0, buf, sizeof(buf)), "none");
	CU_ASSERT_STRING_EQUAL(dahdi_ops_alarm_str(DAHDI_ALARM_RED | DAHDI_ALARM_LOS, buf,
	    sizeof(buf)), "red los");
	CU_ASSERT_STRING_EQUAL(dahdi_ops_alarm_str(DAHDI_ALARM_YELLOW | DAHDI_ALARM_BLUE, buf,
	    6), "yello");
	CU_ASSERT_PTR_EQUAL(dahdi_ops_get(), &dahdi_ops_kernel);
}

int
main(void)
{
	CU_pSuite suite;
	const char *lvl = getenv("TEST_LOG_LEVEL");
	int failures;

	if (lvl != NULL && log_level_parse(lvl) >= 0)
		t_level = (enum log_level)log_level_parse(lvl);
	log_init("test_dahdi", 1, t_level);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("dahdi", NULL, NULL);
	CU_add_test(suite, "names", test_names);
	CU_add_test(suite, "open by span number", test_open_by_span);
	CU_add_test(suite, "open by channel numbers, law from span, pri_net", test_open_by_channels);
	CU_add_test(suite, "open failures leave nothing open", test_open_failures);
	CU_add_test(suite, "outbound call, audio both ways", test_outbound_audio);
	CU_add_test(suite, "inbound call", test_inbound);
	CU_add_test(suite, "every event fetched and logged", test_events);
	CU_add_test(suite, "RESTART of idle channels on span up", test_restart_on_up);
	CU_add_test(suite, "red alarm", test_alarm_red);
	CU_add_test(suite, "yellow alarm", test_alarm_yellow);
	CU_add_test(suite, "blue alarm", test_alarm_blue);
	CU_add_test(suite, "alarm at start", test_alarm_at_start);
	CU_add_test(suite, "device removed", test_removed);
	CU_add_test(suite, "D-channel loss", test_dchannel_loss);
	CU_add_test(suite, "echo canceller: DAHDI's", test_echocancel_dahdi);
	CU_add_test(suite, "echo canceller: SpanDSP's", test_echocancel_spandsp);
	CU_add_test(suite, "reload echocancel in place", test_reload);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
