/* The sim driver: a software T1/E1 span. The D-channel is a socketpair
 * (one HDLC frame per datagram) between the daemon's CPE libpri and a
 * far-end NETWORK-side libpri in this process; the far end's telephones
 * are chosen by called number.
 *
 * B-channel audio is paced by a 20 ms clock per span, as a card's
 * interrupt paces the spans it carries. The spans' clocks are spread over
 * the 20 ms period (SIM_PHASES, 312.5 us apart; a new span takes the
 * phase that carries the fewest channels), as spans that take their
 * timing from separate lines or cards are: a tick then frames the calls of
 * one or two spans, not of all of them, so when a call's audio leaves does
 * not depend on how many calls the other spans carry, and the loop's work
 * is spread over the period instead of coming in one burst every 20 ms.
 *
 * The spans of one phase share a periodic timerfd on CLOCK_MONOTONIC,
 * started on the phase's place in a grid common to all (the kernel keeps
 * the period: no drift, microsecond precision, no re-arming call per tick;
 * libevent's own timers round epoll's timeout up to the next millisecond,
 * or cost a timerfd_settime per loop iteration with
 * EVENT_BASE_FLAG_PRECISE_TIMER); without timerfd, a one-shot libevent
 * timer re-armed from a monotonic deadline. */
#include "span/span_int.h"

#include <sys/socket.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "core/log.h"

#define SIM_TICKS_PER_SEC (1000 / SPAN_TICK_MS)
#define SIM_CATCHUP_TICKS 5
#define SIM_PHASE_BITS 6
#define SIM_PHASES (1u << SIM_PHASE_BITS)      /* clock phases in the 20 ms period */
#define SIM_PHASE_NS (SPAN_TICK_MS * 1000000L / SIM_PHASES)   /* 312.5 us apart */
#define SIM_AHEAD 4     /* a tick asks for the memory of this many channels ahead */
#define SIM_DEFAULT_TONE_HZ 1004

enum sim_line_state {
	SIM_LINE_IDLE = 0,
	SIM_LINE_CALLING,       /* far end sent SETUP (originated call) */
	SIM_LINE_RINGING,       /* far end sent ALERTING, not answered */
	SIM_LINE_ANSWERED,
	SIM_LINE_CLEARING,      /* waiting for the exchange to complete */
	SIM_LINE_DIGITS,        /* SETUP ACKNOWLEDGE sent, collecting digits (overlap) */
};

enum sim_play {
	SIM_PLAY_SILENCE = 0,
	SIM_PLAY_ECHO,
	SIM_PLAY_TONE,
};

/* The far end of one B-channel. */
struct sim_line {
	int chan;
	q931_call *call;                /* far end's libpri call */
	int pri_channel;
	enum sim_line_state state;
	enum span_sim_phone phone;
	int originated;
	char called[SPAN_NUMBER_LEN];
	char calling[SPAN_NUMBER_LEN];
	unsigned int tone_hz;           /* originated: tone once answered, 0 = echo */
	unsigned int ticks;             /* ticks in the current state */
	unsigned int ring_ticks;        /* answer after (0: never) */
	unsigned int hold_ticks;        /* hang up after answer (0: never) */
	enum sim_play play;
	struct span_tone tone;
	uint8_t echo[SPAN_FRAME_BYTES];
	int have_echo;
	/* Originated in overlap: digits still to send in INFORMATION, once
	 * the daemon has acknowledged the SETUP. */
	char more[SPAN_NUMBER_LEN];
	size_t more_pos;
	int setup_acked;
};

/* Ticks between two INFORMATION digits, and how long the far end waits
 * for the digits of an overlap SETUP. */
#define SIM_DIGIT_TICKS 5
#define SIM_DIGITS_WAIT_TICKS (10 * SIM_TICKS_PER_SEC)

struct sim_far {
	struct span *span;
	struct span_sim_setup last;     /* the last SETUP received (tests) */
	int fd[2];                      /* [0] daemon (CPE), [1] far end; owned */
	struct span_pri *pri;           /* far end, NETWORK side (owned) */
	struct sim_clock *clock;        /* not owned: the tick of its phase */
	struct sim_far *next;           /* on clock->fars */
	struct sim_line lines[SPAN_MAX_CHANS];
	unsigned int acks_dropped;      /* RESTART ACKNOWLEDGEs lost on purpose (tests) */
	struct span_pri_io io;          /* the far end's D-channel, for the knobs */
	/* Test knobs (pstnbridgectl sim dchannel/alarm/glare). */
	int link_down;                  /* no D-channel frame passes either way */
	const char *alarm;              /* layer 1 alarm reported, or NULL */
	int glare;                      /* armed: cross the daemon's next SETUP */
	char glare_called[SPAN_NUMBER_LEN];
	char glare_calling[SPAN_NUMBER_LEN];
	unsigned int glare_hold;        /* seconds the crossing call lasts */
	uint8_t held[512];              /* the daemon's SETUP, held for glare */
	size_t held_len;
	struct event *ev_glare;         /* owned: sends the crossing SETUP */
};

/* The 20 ms tick of the sim spans of one phase of one event base. */
struct sim_clock {
	struct event_base *base;        /* not owned */
	unsigned int phase;             /* SIM_PHASE_NS steps after the grid, < SIM_PHASES */
	size_t nchans;                  /* B-channels of its spans */
	struct event *ev;               /* owned */
	int tfd;                        /* owned periodic timerfd, or -1 */
	struct timespec deadline;       /* next tick, CLOCK_MONOTONIC (no timerfd) */
	struct sim_far *fars;           /* the spans it ticks */
	unsigned long late;
	struct sim_clock *next;
};

static struct sim_clock *sim_clocks;
static int64_t sim_grid_ns;             /* phase 0's first tick, ns: all clocks' grid */
static bool sim_grid_set;

static const char *const sim_line_state_names[] = {
	"idle", "calling", "ringing", "answered", "clearing", "digits",
};

/* ---- tones ---- */

void
span_tone_init(struct span_tone *t, unsigned int f1, unsigned int f2,
    unsigned int on_ms, unsigned int off_ms)
{
	memset(t, 0, sizeof(*t));
	t->step[0] = 2.0 * M_PI * f1 / 8000.0;
	t->step[1] = 2.0 * M_PI * f2 / 8000.0;
	t->nfreq = f2 != 0 ? 2 : 1;
	/* About -10 dBm0 in all. */
	t->amp = t->nfreq == 2 ? 4000.0 : 8000.0;
	t->on_ms = on_ms;
	t->off_ms = off_ms;
}

void
span_tone_frame(struct span_tone *t, enum cfg_law law, uint8_t *frame)
{
	int on = 1;

	if (t->on_ms + t->off_ms > 0) {
		on = t->pos_ms < t->on_ms;
		t->pos_ms = (t->pos_ms + SPAN_TICK_MS) % (t->on_ms + t->off_ms);
	}
	for (size_t i = 0; i < SPAN_FRAME_BYTES; i++) {
		double v = 0.0;

		for (int k = 0; k < t->nfreq; k++) {
			if (on)
				v += t->amp * sin(t->phase[k]);
			t->phase[k] += t->step[k];
			if (t->phase[k] >= 2.0 * M_PI)
				t->phase[k] -= 2.0 * M_PI;
		}
		frame[i] = law == CFG_LAW_ULAW ? linear_to_ulaw((int)lrint(v)) :
		    linear_to_alaw((int)lrint(v));
	}
}

/* ---- phones ---- */

static int
sim_list_has(const struct cfg_strlist *l, const char *number)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] != NULL && strcmp(l->v[i], number) == 0)
			return 1;
	return 0;
}

enum span_sim_phone
span_sim_phone_lookup(const struct cfg_sim_phones *p, const char *called)
{
	if (called == NULL)
		return SPAN_SIM_UNALLOCATED;
	if (sim_list_has(&p->echo, called))
		return SPAN_SIM_ECHO;
	if (sim_list_has(&p->tone, called))
		return SPAN_SIM_TONE;
	if (sim_list_has(&p->busy, called))
		return SPAN_SIM_BUSY;
	if (sim_list_has(&p->noanswer, called))
		return SPAN_SIM_NOANSWER;
	if (sim_list_has(&p->ringanswer, called))
		return SPAN_SIM_RINGANSWER;
	if (sim_list_has(&p->early, called))
		return SPAN_SIM_EARLY;
	if (sim_list_has(&p->congestion, called))
		return SPAN_SIM_CONGESTION;
	return SPAN_SIM_UNALLOCATED;
}

/* ---- far end lines ---- */

static struct pri *
sim_ctrl(struct sim_far *far)
{
	return span_pri_ctrl(far->pri);
}

static void
sim_line_set_state(struct sim_far *far, struct sim_line *l, enum sim_line_state st)
{
	if (l->state == st)
		return;
	log_debug("span=%s chan=%d far end %s -> %s", far->span->name, l->chan,
	    sim_line_state_names[l->state], sim_line_state_names[st]);
	l->state = st;
	l->ticks = 0;
	if (st == SIM_LINE_IDLE) {
		l->call = NULL;
		l->play = SIM_PLAY_SILENCE;
		l->have_echo = 0;
		l->originated = 0;
		l->ring_ticks = l->hold_ticks = 0;
		l->more[0] = '\0';
		l->more_pos = 0;
		l->setup_acked = 0;
	}
}

static struct sim_line *
sim_line_by_call(struct sim_far *far, q931_call *c)
{
	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < far->span->nchans; i++)
		if (far->lines[i].state != SIM_LINE_IDLE && far->lines[i].call == c)
			return &far->lines[i];
	return NULL;
}

static struct sim_line *
sim_line_by_chan(struct sim_far *far, int chan)
{
	for (size_t i = 0; i < far->span->nchans; i++)
		if (far->lines[i].chan == chan)
			return &far->lines[i];
	return NULL;
}

static void
sim_line_play(struct sim_far *far, struct sim_line *l, enum sim_play play, unsigned int hz)
{
	l->play = play;
	if (play == SIM_PLAY_TONE)
		span_tone_init(&l->tone, hz, 0, 0, 0);
}

static void
sim_line_ringback(struct sim_far *far, struct sim_line *l)
{
	l->play = SIM_PLAY_TONE;
	if (far->span->type == CFG_SPAN_T1)
		span_tone_init(&l->tone, 440, 480, 2000, 4000);
	else
		span_tone_init(&l->tone, 425, 0, 1000, 4000);
}

/* The far-end phone hangs up (or rejects) with a cause. */
static void
sim_line_hangup(struct sim_far *far, struct sim_line *l, int cause)
{
	int rc = 0;

	if (l->call == NULL)
		return;
	/* libpri rejects an unanswered SETUP with these causes by RELEASE
	 * COMPLETE and forgets the call at once. */
	if (l->state != SIM_LINE_ANSWERED && l->state != SIM_LINE_CLEARING &&
	    (cause == PRI_CAUSE_UNALLOCATED || cause == PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION ||
	    cause == PRI_CAUSE_REQUESTED_CHAN_UNAVAIL))
		rc = 1;
	log_debug("span=%s chan=%d far end hangs up, cause %d", far->span->name, l->chan, cause);
	pri_hangup(sim_ctrl(far), l->call, cause);
	if (rc)
		sim_line_set_state(far, l, SIM_LINE_IDLE);
	else
		sim_line_set_state(far, l, SIM_LINE_CLEARING);
}

static void
sim_line_answer(struct sim_far *far, struct sim_line *l)
{
	pri_answer(sim_ctrl(far), l->call, l->pri_channel, 0);
	sim_line_set_state(far, l, SIM_LINE_ANSWERED);
	if (l->phone == SPAN_SIM_TONE)
		sim_line_play(far, l, SIM_PLAY_TONE, far->span->phones.tone_hz != 0 ?
		    far->span->phones.tone_hz : SIM_DEFAULT_TONE_HZ);
	else
		sim_line_play(far, l, SIM_PLAY_ECHO, 0);
}

static void sim_line_offer(struct sim_far *far, struct sim_line *l);

/* A SETUP from the daemon reached the far end. */
static void
sim_on_setup(struct sim_far *far, pri_event_ring *ring)
{
	struct pri *ctrl = sim_ctrl(far);
	struct span *s = far->span;
	struct sim_line *l;

	l = sim_line_by_chan(far, ring->channel & 0xff);
	if ((l == NULL || l->state != SIM_LINE_IDLE) && ring->flexible) {
		/* Preferred, not exclusive: the network picks another
		 * channel, from the top (as it does for its own calls). */
		l = NULL;
		for (size_t i = s->nchans; i-- > 0;)
			if (far->lines[i].state == SIM_LINE_IDLE) {
				l = &far->lines[i];
				break;
			}
		if (l != NULL) {
			log_info("span=%s far end: channel %d busy, call moved to %d", s->name,
			    ring->channel & 0xff, l->chan);
			ring->channel = l->chan;
		}
	}
	if (l == NULL || l->state != SIM_LINE_IDLE) {
		log_info("span=%s far end: SETUP on unavailable channel %d", s->name,
		    ring->channel & 0xff);
		pri_hangup(ctrl, ring->call, PRI_CAUSE_REQUESTED_CHAN_UNAVAIL);
		return;
	}
	memset(&far->last, 0, sizeof(far->last));
	span_copy_number(far->last.called, sizeof(far->last.called), ring->callednum);
	span_copy_number(far->last.calling, sizeof(far->last.calling), ring->callingnum);
	span_copy_number(far->last.calling_name, sizeof(far->last.calling_name), ring->callingname);
	span_copy_number(far->last.redirecting, sizeof(far->last.redirecting),
	    ring->redirectingnum);
	far->last.calling_restricted = span_pri_pres_restricted(ring->callingpres);
	far->last.calling_ton = (ring->callingplan >> 4) & 0x7;
	far->last.called_ton = (ring->calledplan >> 4) & 0x7;
	far->last.count++;
	l->call = ring->call;
	l->pri_channel = ring->channel;
	l->originated = 0;
	span_copy_number(l->called, sizeof(l->called), ring->callednum);
	span_copy_number(l->calling, sizeof(l->calling), ring->callingnum);
	l->phone = span_sim_phone_lookup(&s->phones, ring->callednum);
	l->ring_ticks = 0;
	l->hold_ticks = 0;
	if (s->overlap && !ring->complete && l->phone == SPAN_SIM_UNALLOCATED) {
		/* Overlap: ask for more digits. */
		sim_line_set_state(far, l, SIM_LINE_DIGITS);
		pri_need_more_info(ctrl, l->call, l->pri_channel, 0);
		log_info("span=%s chan=%d far end: SETUP ACKNOWLEDGE, %s so far", s->name,
		    l->chan, l->called);
		return;
	}
	sim_line_offer(far, l);
}

/* More digits of an overlap SETUP reached the far end. */
static void
sim_on_info(struct sim_far *far, pri_event_ring *info)
{
	struct sim_line *l = sim_line_by_call(far, info->call);
	struct span *s = far->span;

	if (l == NULL || l->state != SIM_LINE_DIGITS)
		return;
	if (strlen(l->called) + strlen(info->callednum) < sizeof(l->called))
		strcat(l->called, info->callednum);
	snprintf(far->last.called, sizeof(far->last.called), "%s", l->called);
	l->phone = span_sim_phone_lookup(&s->phones, l->called);
	log_info("span=%s chan=%d far end: INFORMATION, number %s", s->name, l->chan, l->called);
	if (l->phone != SPAN_SIM_UNALLOCATED || info->complete)
		sim_line_offer(far, l);
}

/* The far-end telephone of l->phone takes the call. */
static void
sim_line_offer(struct sim_far *far, struct sim_line *l)
{
	struct pri *ctrl = sim_ctrl(far);
	struct span *s = far->span;
	unsigned int ring_ticks = s->phones.ring_seconds * SIM_TICKS_PER_SEC;

	sim_line_set_state(far, l, SIM_LINE_RINGING);
	switch (l->phone) {
	case SPAN_SIM_UNALLOCATED:
		sim_line_hangup(far, l, PRI_CAUSE_UNALLOCATED);
		break;
	case SPAN_SIM_CONGESTION:
		sim_line_hangup(far, l, PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION);
		break;
	case SPAN_SIM_BUSY:
		pri_proceeding(ctrl, l->call, l->pri_channel, 0);
		sim_line_hangup(far, l, PRI_CAUSE_USER_BUSY);
		break;
	case SPAN_SIM_ECHO:
	case SPAN_SIM_TONE:
		pri_proceeding(ctrl, l->call, l->pri_channel, 0);
		pri_acknowledge(ctrl, l->call, l->pri_channel, 0);
		sim_line_answer(far, l);
		break;
	case SPAN_SIM_NOANSWER:
		pri_proceeding(ctrl, l->call, l->pri_channel, 0);
		pri_acknowledge(ctrl, l->call, l->pri_channel, 0);
		break;
	case SPAN_SIM_RINGANSWER:
		pri_proceeding(ctrl, l->call, l->pri_channel, 0);
		pri_acknowledge(ctrl, l->call, l->pri_channel, 0);
		l->ring_ticks = ring_ticks > 0 ? ring_ticks : 1;
		break;
	case SPAN_SIM_EARLY:
		pri_proceeding(ctrl, l->call, l->pri_channel, 0);
		pri_progress(ctrl, l->call, l->pri_channel, 1);
		pri_acknowledge(ctrl, l->call, l->pri_channel, 1);
		sim_line_ringback(far, l);
		l->ring_ticks = ring_ticks > 0 ? ring_ticks : 1;
		break;
	}
}

static void
sim_on_event(void *arg, pri_event *e)
{
	struct sim_far *far = arg;
	struct span *s = far->span;
	struct sim_line *l;

	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		log_info("span=%s far end D-channel up", s->name);
		break;
	case PRI_EVENT_DCHAN_DOWN:
		log_info("span=%s far end D-channel down", s->name);
		for (size_t i = 0; i < s->nchans; i++) {
			l = &far->lines[i];
			if (l->state == SIM_LINE_IDLE)
				continue;
			pri_destroycall(sim_ctrl(far), l->call);
			sim_line_set_state(far, l, SIM_LINE_IDLE);
		}
		break;
	case PRI_EVENT_RESTART:
		/* The daemon restarts channels it lost calls on. */
		for (size_t i = 0; i < s->nchans; i++) {
			int chan = e->restart.channel & 0xff;

			l = &far->lines[i];
			if (e->restart.channel != -1 && chan != 0xff && l->chan != chan)
				continue;
			if (l->state == SIM_LINE_IDLE)
				continue;
			log_info("span=%s chan=%d far end: call cleared by RESTART", s->name, l->chan);
			pri_destroycall(sim_ctrl(far), l->call);
			sim_line_set_state(far, l, SIM_LINE_IDLE);
		}
		break;
	case PRI_EVENT_RING:
		sim_on_setup(far, &e->ring);
		break;
	case PRI_EVENT_INFO_RECEIVED:
		sim_on_info(far, &e->ring);
		break;
	case PRI_EVENT_SETUP_ACK:
		/* The daemon collects the digits of our overlap call. */
		if ((l = sim_line_by_call(far, e->setup_ack.call)) != NULL &&
		    l->state == SIM_LINE_CALLING) {
			l->setup_acked = 1;
			l->ticks = 0;
		}
		break;
	case PRI_EVENT_ANSWER:
		/* The daemon answered a call the far end placed. */
		if ((l = sim_line_by_call(far, e->answer.call)) == NULL ||
		    l->state != SIM_LINE_CALLING)
			break;
		sim_line_set_state(far, l, SIM_LINE_ANSWERED);
		if (l->tone_hz != 0)
			sim_line_play(far, l, SIM_PLAY_TONE, l->tone_hz);
		else
			sim_line_play(far, l, SIM_PLAY_ECHO, 0);
		break;
	case PRI_EVENT_HANGUP_REQ:
		l = sim_line_by_call(far, e->hangup.call);
		pri_hangup(sim_ctrl(far), e->hangup.call, e->hangup.cause);
		if (l != NULL)
			sim_line_set_state(far, l, SIM_LINE_CLEARING);
		break;
	case PRI_EVENT_HANGUP:
		l = sim_line_by_call(far, e->hangup.call);
		pri_hangup(sim_ctrl(far), e->hangup.call, e->hangup.cause);
		if (l != NULL)
			sim_line_set_state(far, l, SIM_LINE_IDLE);
		break;
	case PRI_EVENT_HANGUP_ACK:
		if ((l = sim_line_by_call(far, e->hangup.call)) != NULL)
			sim_line_set_state(far, l, SIM_LINE_IDLE);
		break;
	default:
		log_debug("span=%s far end event %s", s->name, pri_event2str(e->e));
		break;
	}
}

/* ---- the 20 ms tick ---- */

static void
sim_line_timers(struct sim_far *far, struct sim_line *l)
{
	l->ticks++;
	switch (l->state) {
	case SIM_LINE_CALLING:
		if (l->setup_acked && l->more[l->more_pos] != '\0' &&
		    l->ticks % SIM_DIGIT_TICKS == 0) {
			log_info("span=%s chan=%d far end: INFORMATION digit %c", far->span->name,
			    l->chan, l->more[l->more_pos]);
			pri_information(sim_ctrl(far), l->call, l->more[l->more_pos++]);
		}
		break;
	case SIM_LINE_DIGITS:
		if (l->ticks >= SIM_DIGITS_WAIT_TICKS)
			sim_line_hangup(far, l, PRI_CAUSE_INVALID_NUMBER_FORMAT);
		break;
	case SIM_LINE_RINGING:
		if (l->ring_ticks != 0 && l->ticks >= l->ring_ticks)
			sim_line_answer(far, l);
		break;
	case SIM_LINE_ANSWERED:
		if (l->originated && l->hold_ticks != 0 && l->ticks >= l->hold_ticks)
			sim_line_hangup(far, l, PRI_CAUSE_NORMAL_CLEARING);
		break;
	case SIM_LINE_CLEARING:
		if (l->ticks >= SPAN_RELEASE_GUARD_SEC * SIM_TICKS_PER_SEC) {
			log_warnx("span=%s chan=%d far end clearing timed out",
			    far->span->name, l->chan);
			pri_destroycall(sim_ctrl(far), l->call);
			sim_line_set_state(far, l, SIM_LINE_IDLE);
		}
		break;
	default:
		break;
	}
}

/* What the far-end phone sends towards the daemon this tick. */
static void
sim_line_produce(struct sim_far *far, struct sim_line *l, uint8_t *frame)
{
	enum cfg_law law = far->span->law;
	int audible = l->state == SIM_LINE_ANSWERED ||
	    (l->state == SIM_LINE_RINGING && l->phone == SPAN_SIM_EARLY);

	if (audible && l->play == SIM_PLAY_TONE) {
		span_tone_frame(&l->tone, law, frame);
		return;
	}
	if (audible && l->play == SIM_PLAY_ECHO && l->have_echo) {
		memcpy(frame, l->echo, SPAN_FRAME_BYTES);
		return;
	}
	memset(frame, span_silence(law), SPAN_FRAME_BYTES);
}

static void
sim_tick(struct sim_far *far)
{
	struct span *s = far->span;
	uint8_t down[SPAN_FRAME_BYTES], up[SPAN_FRAME_BYTES];

	for (size_t i = 0; i < s->nchans; i++) {
		struct sim_line *l = &far->lines[i];
		struct span_call *sc;

		/* the channels ahead: one step of their memory each */
		for (size_t k = 1; k <= SIM_AHEAD && i + k < s->nchans; k++) {
			if ((sc = s->chans[i + k].call) != NULL)
				span_call_prefetch(sc, SIM_AHEAD - k);
		}
		if (l->state != SIM_LINE_IDLE)
			sim_line_timers(far, l);
		sim_line_produce(far, l, down);
		sc = s->chans[i].call;
		if (sc != NULL && span_call_audio_flows(sc)) {
			span_call_take_tx(sc, up);
			if (l->state == SIM_LINE_ANSWERED) {
				memcpy(l->echo, up, SPAN_FRAME_BYTES);
				l->have_echo = 1;
			}
			/* Last: the owner may hang up from its callback. */
			span_call_deliver(sc, down);
		} else if (sc != NULL) {
			sc->tx_ready = 0;
		}
	}
	span_pri_rearm(far->pri);
}

static void
sim_ts_add_ms(struct timespec *ts, long ms)
{
	ts->tv_nsec += ms * 1000000L;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

static int
sim_ts_before_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* The time from now to ts as a timeval, 0 when ts is due. */
static void
sim_ts_until(const struct timespec *ts, const struct timespec *now, struct timeval *tv)
{
	long ns = (ts->tv_sec - now->tv_sec) * 1000000000L + (ts->tv_nsec - now->tv_nsec);

	if (ns < 0)
		ns = 0;
	tv->tv_sec = ns / 1000000000L;
	tv->tv_usec = (ns % 1000000000L) / 1000;
}

/* Run one tick of every span of ck, late_us after its time. */
static void
sim_clock_run(struct sim_clock *ck, uint64_t late_us)
{
	struct sim_far *far, *next;

	for (far = ck->fars; far != NULL; far = next) {
		next = far->next;
		span_clock_tick(far->span, late_us);
		sim_tick(far);
	}
}

static int64_t
sim_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* A tick of `phase` on the grid common to all clocks, ns: its ticks are
 * whole periods from it. */
static int64_t
sim_phase_ns(unsigned int phase)
{
	return sim_grid_ns + (int64_t)phase * SIM_PHASE_NS;
}

static void
sim_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sim_clock *ck = arg;
	struct timespec now;
	struct timeval tv;
	int n = 0;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	while (sim_ts_before_eq(&ck->deadline, &now) && n < SIM_CATCHUP_TICKS) {
		sim_clock_run(ck, (uint64_t)(sim_ts_ns(&now) - sim_ts_ns(&ck->deadline)) / 1000);
		sim_ts_add_ms(&ck->deadline, SPAN_TICK_MS);
		n++;
	}
	if (sim_ts_before_eq(&ck->deadline, &now)) {
		/* Too far behind to catch up: start again from now. */
		if (ck->late++ % 100 == 0)
			log_info("span: sim audio clock late, resynchronised");
		ck->deadline = now;
		sim_ts_add_ms(&ck->deadline, SPAN_TICK_MS);
	}
	/* One-shot, re-armed for the deadline: the interval never drifts. */
	if (n > 0)
		clock_gettime(CLOCK_MONOTONIC, &now);
	sim_ts_until(&ck->deadline, &now, &tv);
	evtimer_add(ck->ev, &tv);
}

/* The timerfd expired (count times since the last read). Its expiries
 * are the clock's places on the grid, so the latest was `since` ago. */
static void
sim_on_tfd(evutil_socket_t fd, short what, void *arg)
{
	struct sim_clock *ck = arg;
	const int64_t period = SPAN_TICK_MS * 1000000LL;
	struct timespec now;
	uint64_t count = 0;
	int64_t since;

	(void)what;
	if (read(fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	since = (sim_ts_ns(&now) - sim_phase_ns(ck->phase)) % period;
	if (since < 0)
		since += period;
	if (count > SIM_CATCHUP_TICKS) {
		/* Too far behind to catch up: the missed ticks are lost. */
		if (ck->late++ % 100 == 0)
			log_info("span: sim audio clock late (%llu ticks), resynchronised",
			    (unsigned long long)count);
		count = SIM_CATCHUP_TICKS;
	}
	/* the oldest expiry first: count periods before the latest */
	while (count-- > 0)
		sim_clock_run(ck, (uint64_t)(since + (int64_t)count * period) / 1000);
}

/* The first tick of phase `phase` after now, on the grid common to all
 * clocks (started with the first clock), in nanoseconds arithmetic: the
 * grid may have started days ago. */
static void
sim_clock_first(unsigned int phase, struct timespec *first)
{
	const int64_t period = SPAN_TICK_MS * 1000000LL;
	struct timespec now;
	int64_t now_ns, at;

	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ns = sim_ts_ns(&now);
	if (!sim_grid_set) {
		sim_grid_ns = now_ns + period;
		sim_grid_set = true;
	}
	at = sim_phase_ns(phase);
	if (now_ns >= at)       /* whole periods past it, and one more */
		at += ((now_ns - at) / period + 1) * period;
	first->tv_sec = (time_t)(at / 1000000000LL);
	first->tv_nsec = (long)(at % 1000000000LL);
}

/* A periodic timerfd for ck from its first tick; 0 or errno. */
static int
sim_clock_tfd(struct sim_clock *ck, const struct timespec *first)
{
	struct itimerspec its;

	if ((ck->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
		return errno;
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_nsec = SPAN_TICK_MS * 1000000L;
	its.it_value = *first;
	if (timerfd_settime(ck->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0 ||
	    (ck->ev = event_new(ck->base, ck->tfd, EV_READ | EV_PERSIST, sim_on_tfd, ck)) == NULL ||
	    event_add(ck->ev, NULL) != 0) {
		if (ck->ev != NULL)
			event_free(ck->ev);
		ck->ev = NULL;
		close(ck->tfd);
		ck->tfd = -1;
		return ENOMEM;
	}
	return 0;
}

/* The clock of `phase` on base, or NULL. */
static struct sim_clock *
sim_clock_find(struct event_base *base, unsigned int phase)
{
	struct sim_clock *ck;

	for (ck = sim_clocks; ck != NULL; ck = ck->next)
		if (ck->base == base && ck->phase == phase)
			return ck;
	return NULL;
}

/* Pure: the k-th phase in the order new spans take them, the bits of k
 * reversed (0, 1/2, 1/4, 3/4, 1/8, ... of the period): whatever the number
 * of spans, the phases in use are about evenly apart. */
unsigned int
span_sim_phase_order(unsigned int k)
{
	unsigned int p = 0;

	for (unsigned int b = 0; b < SIM_PHASE_BITS; b++)
		if (k & (1u << b))
			p |= 1u << (SIM_PHASE_BITS - 1 - b);
	return p;
}

/* Put far on the tick of the phase of base that carries the fewest
 * channels (the first of equals in span_sim_phase_order), creating that
 * tick if it has none. */
static int
sim_clock_join(struct sim_far *far, struct event_base *base)
{
	struct sim_clock *ck = NULL, *c;
	unsigned int phase = 0;
	size_t best = (size_t)-1;
	struct timespec first, now;
	struct timeval tv;

	for (unsigned int k = 0; k < SIM_PHASES; k++) {
		unsigned int p = span_sim_phase_order(k);
		size_t n = (c = sim_clock_find(base, p)) != NULL ? c->nchans : 0;

		if (n < best) {
			best = n;
			phase = p;
			ck = c;
		}
	}
	if (ck == NULL) {
		if ((ck = calloc(1, sizeof(*ck))) == NULL)
			return ENOMEM;
		ck->base = base;
		ck->phase = phase;
		sim_clock_first(phase, &first);
		if (sim_clock_tfd(ck, &first) != 0) {
			if ((ck->ev = evtimer_new(base, sim_on_tick, ck)) == NULL) {
				free(ck);
				return ENOMEM;
			}
			ck->deadline = first;
			clock_gettime(CLOCK_MONOTONIC, &now);
			sim_ts_until(&ck->deadline, &now, &tv);
			evtimer_add(ck->ev, &tv);
		}
		ck->next = sim_clocks;
		sim_clocks = ck;
	}
	far->clock = ck;
	far->next = ck->fars;
	ck->fars = far;
	ck->nchans += far->span->nchans;
	return 0;
}

/* Test hook: the phase of span s's clock in microseconds after the
 * common grid (rounded down), or -1 (not a sim span). */
int
span_sim_phase_us(const struct span *s)
{
	const struct sim_far *far;

	if (s == NULL || s->drv != &span_sim_driver || (far = s->drv_state) == NULL ||
	    far->clock == NULL)
		return -1;
	return (int)(far->clock->phase * SIM_PHASE_NS / 1000);
}

/* Take far off its tick; the last span's leaving frees the tick. */
static void
sim_clock_leave(struct sim_far *far)
{
	struct sim_clock *ck = far->clock, **pc;
	struct sim_far **pf;

	if (ck == NULL)
		return;
	for (pf = &ck->fars; *pf != NULL; pf = &(*pf)->next) {
		if (*pf == far) {
			*pf = far->next;
			break;
		}
	}
	far->clock = NULL;
	ck->nchans -= far->span->nchans;
	if (ck->fars != NULL)
		return;
	for (pc = &sim_clocks; *pc != NULL; pc = &(*pc)->next) {
		if (*pc == ck) {
			*pc = ck->next;
			break;
		}
	}
	event_free(ck->ev);
	if (ck->tfd != -1)
		close(ck->tfd);
	free(ck);
}

/* ---- the far end's D-channel ---- */

/* Q.931 in an I-frame: address (2), control (2), protocol discriminator,
 * call reference length and value, message type. */
#define SIM_Q931_PD_OFF 4
#define SIM_Q931_RESTART_ACK 0x4e
#define SIM_LOST_PD 0x41

#define SIM_Q931_SETUP 0x05

/* Pure: the Q.931 message type in this D-channel frame, or -1 when it
 * carries none (not an I-frame, not Q.931). */
static int
sim_q931_type(const uint8_t *f, size_t len)
{
	size_t crlen;

	if (len < SIM_Q931_PD_OFF + 3 || (f[2] & 0x01) != 0 || f[SIM_Q931_PD_OFF] != 0x08)
		return -1;
	crlen = f[SIM_Q931_PD_OFF + 1] & 0x0f;
	if (len <= SIM_Q931_PD_OFF + 2 + crlen)
		return -1;
	return f[SIM_Q931_PD_OFF + 2 + crlen];
}

/* Pure: is this D-channel frame a Q.931 RESTART ACKNOWLEDGE? */
int
span_sim_is_restart_ack(const uint8_t *f, size_t len)
{
	return sim_q931_type(f, len) == SIM_Q931_RESTART_ACK;
}

/* The test knobs on the far end's receive side: with the link down every
 * frame is lost; with glare armed the daemon's next SETUP is held until
 * the far end has sent its own SETUP on the same channel (ev_glare). */
static ssize_t
sim_far_read(void *arg, void *buf, size_t len)
{
	struct sim_far *far = arg;
	ssize_t n = recv(far->fd[1], buf, len, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return 0;       /* nothing (or a socket error: the link is gone) */
	if (far->link_down)
		return -1;      /* lost; read on */
	if (far->glare && (size_t)n <= len && (size_t)n <= sizeof(far->held) &&
	    sim_q931_type(buf, (size_t)n) == SIM_Q931_SETUP) {
		far->glare = 0;
		memcpy(far->held, buf, (size_t)n);
		far->held_len = (size_t)n;
		log_info("span=%s far end: glare, the daemon's SETUP waits for ours",
		    far->span->name);
		event_active(far->ev_glare, EV_TIMEOUT, 1);
		return -1;
	}
	return n;
}

/* The test knob drop_restart_acks: the first N RESTART ACKNOWLEDGEs are
 * lost for Q.931 (their protocol discriminator is one the daemon ignores)
 * while layer 2 carries the frame as usual. */
static ssize_t
sim_far_write(void *arg, const void *buf, size_t len)
{
	struct sim_far *far = arg;
	uint8_t copy[512];
	ssize_t n;

	if (far->link_down)
		return (ssize_t)len;    /* lost on the way */
	if (far->acks_dropped < far->span->phones.drop_restart_acks && len <= sizeof(copy) &&
	    span_sim_is_restart_ack(buf, len)) {
		memcpy(copy, buf, len);
		copy[SIM_Q931_PD_OFF] = SIM_LOST_PD;
		far->acks_dropped++;
		log_info("span=%s far end: RESTART ACKNOWLEDGE lost (test, %u of %u)",
		    far->span->name, far->acks_dropped, far->span->phones.drop_restart_acks);
		buf = copy;
	}
	n = send(far->fd[1], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n < 0 ? 0 : n;
}

static int sim_far_place(struct sim_far *far, struct sim_line *l, const char *called,
    const char *calling_arg, unsigned int tone_hz, unsigned int hold_seconds);

/* Glare: the far end sends its own SETUP on the channel of the daemon's
 * outbound call, then takes the daemon's held SETUP as if it had crossed
 * ours on the link. */
static void
sim_on_glare(evutil_socket_t fd, short what, void *arg)
{
	struct sim_far *far = arg;
	struct span *s = far->span;
	struct sim_line *l = NULL;
	int error = ENOENT;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->nchans; i++) {
		struct span_call *sc = s->chans[i].call;

		if (sc != NULL && sc->outbound && sc->state == SPAN_CALL_DIALING &&
		    far->lines[i].state == SIM_LINE_IDLE) {
			l = &far->lines[i];
			break;
		}
	}
	if (l != NULL)
		error = sim_far_place(far, l, far->glare_called, far->glare_calling, 0,
		    far->glare_hold);
	if (error != 0)
		log_warnx("span=%s far end: no glare SETUP: %s", s->name, strerror(error));
	else
		log_info("span=%s chan=%d far end: glare, our SETUP crosses the daemon's",
		    s->name, l->chan);
	/* the daemon's SETUP arrives now, after ours left */
	if (far->held_len > 0 && send(far->fd[0], far->held, far->held_len,
	    MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_warn("span=%s far end: glare SETUP lost", s->name);
	far->held_len = 0;
	span_pri_rearm(far->pri);
}

/* ---- driver ---- */

static int
sim_start(struct span *s, int *dfd)
{
	struct sim_far *far;
	char name[80];
	int error;

	if ((far = calloc(1, sizeof(*far))) == NULL)
		return ENOMEM;
	far->span = s;
	far->fd[0] = far->fd[1] = -1;
	for (size_t i = 0; i < s->nchans; i++)
		far->lines[i].chan = s->chans[i].num;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, far->fd) != 0) {
		error = errno;
		log_warn("span=%s socketpair", s->name);
		goto out;
	}
	snprintf(name, sizeof(name), "%s/far", s->name);
	far->io.read = sim_far_read;
	far->io.write = sim_far_write;
	far->io.arg = far;
	far->pri = span_pri_new_io(s->base, name, far->fd[1], &far->io, PRI_NETWORK,
	    s->pri_switch, sim_on_event, far);
	if (far->pri == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((far->ev_glare = event_new(s->base, -1, 0, sim_on_glare, far)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((error = sim_clock_join(far, s->base)) != 0)
		goto out;
	s->drv_state = far;
	*dfd = far->fd[0];
	return 0;
out:
	if (far->ev_glare != NULL)
		event_free(far->ev_glare);
	if (far->pri != NULL)
		span_pri_free(far->pri);
	if (far->fd[0] != -1)
		close(far->fd[0]);
	if (far->fd[1] != -1)
		close(far->fd[1]);
	free(far);
	return error;
}

static void
sim_stop(struct span *s)
{
	struct sim_far *far = s->drv_state;

	if (far == NULL)
		return;
	for (size_t i = 0; i < s->nchans; i++)
		if (far->lines[i].state != SIM_LINE_IDLE)
			pri_destroycall(sim_ctrl(far), far->lines[i].call);
	sim_clock_leave(far);
	event_free(far->ev_glare);
	span_pri_free(far->pri);
	close(far->fd[0]);
	close(far->fd[1]);
	free(far);
	s->drv_state = NULL;
	s->dfd = -1;
}

static void
sim_reload(struct span *s)
{
	log_info("span=%s sim telephones reloaded (tone %u Hz, ring %u s)", s->name,
	    s->phones.tone_hz, s->phones.ring_seconds);
}

const struct span_driver span_sim_driver = {
	.name = "sim",
	.start = sim_start,
	.started = NULL,
	.stop = sim_stop,
	.reload = sim_reload,
};

/* ---- control ---- */

static struct sim_far *
sim_far_find(const char *name, int *error)
{
	struct span *s;

	if ((s = span_find(name)) == NULL) {
		*error = ENOENT;
		return NULL;
	}
	if (s->driver != CFG_DRIVER_SIM || s->drv_state == NULL) {
		*error = EINVAL;
		return NULL;
	}
	return s->drv_state;
}

int
span_sim_last_setup(const char *name, struct span_sim_setup *out)
{
	struct sim_far *far;
	int error;

	if ((far = sim_far_find(name, &error)) == NULL)
		return error;
	*out = far->last;
	return 0;
}

/* CALLING is NUMBER[;name=NAME][;restricted][;redir=NUMBER]. 0 or EINVAL. */
int
span_sim_calling_parse(const char *arg, char *number, size_t nlen, char *cname,
    size_t clen, int *restricted, char *redir, size_t rlen)
{
	const char *p = arg != NULL ? arg : "", *end;
	size_t n;

	number[0] = cname[0] = redir[0] = '\0';
	*restricted = 0;
	end = strchr(p, ';');
	n = end != NULL ? (size_t)(end - p) : strlen(p);
	if (n >= nlen)
		return EINVAL;
	memcpy(number, p, n);
	number[n] = '\0';
	while (end != NULL) {
		p = end + 1;
		end = strchr(p, ';');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 10 && strncmp(p, "restricted", 10) == 0)
			*restricted = 1;
		else if (n > 5 && strncmp(p, "name=", 5) == 0 && n - 5 < clen) {
			memcpy(cname, p + 5, n - 5);
			cname[n - 5] = '\0';
		} else if (n > 6 && strncmp(p, "redir=", 6) == 0 && n - 6 < rlen) {
			memcpy(redir, p + 6, n - 6);
			redir[n - 6] = '\0';
		} else
			return EINVAL;
	}
	return 0;
}

int
span_sim_originate(const char *name, const char *called, const char *calling_arg,
    unsigned int tone_hz, unsigned int hold_seconds)
{
	char calling[SPAN_NUMBER_LEN], cname[SPAN_NAME_LEN], redir[SPAN_NUMBER_LEN];
	int restricted;
	struct sim_far *far;
	struct sim_line *l = NULL;
	struct span *s;
	int error = 0;

	if (called == NULL || *called == '\0' || strlen(called) >= SPAN_NUMBER_LEN ||
	    span_sim_calling_parse(calling_arg, calling, sizeof(calling), cname, sizeof(cname),
	    &restricted, redir, sizeof(redir)) != 0)
		return EINVAL;
	if ((far = sim_far_find(name, &error)) == NULL)
		return error;
	s = far->span;
	if (!s->up)
		return ENOTCONN;
	/* The far end picks from the top, the daemon from the bottom. */
	for (size_t i = s->nchans; i-- > 0;) {
		if (far->lines[i].state == SIM_LINE_IDLE && s->chans[i].call == NULL &&
		    !s->chans[i].restarting && !s->chans[i].need_restart) {
			l = &far->lines[i];
			break;
		}
	}
	if (l == NULL)
		return EBUSY;
	return sim_far_place(far, l, called, calling_arg, tone_hz, hold_seconds);
}

/* The far end's SETUP on line l (exclusive); the arguments are those of
 * span_sim_originate. 0 or an errno code. */
static int
sim_far_place(struct sim_far *far, struct sim_line *l, const char *called,
    const char *calling_arg, unsigned int tone_hz, unsigned int hold_seconds)
{
	char called_buf[SPAN_NUMBER_LEN], calling_buf[SPAN_NUMBER_LEN];
	char calling[SPAN_NUMBER_LEN], cname[SPAN_NAME_LEN], redir[SPAN_NUMBER_LEN];
	int restricted;
	struct span *s = far->span;
	struct pri_sr *sr = NULL;
	q931_call *c;
	char *slash;
	int error = 0;

	if (span_sim_calling_parse(calling_arg, calling, sizeof(calling), cname, sizeof(cname),
	    &restricted, redir, sizeof(redir)) != 0)
		return EINVAL;
	if ((c = pri_new_call(sim_ctrl(far))) == NULL)
		return ENOMEM;
	if ((sr = pri_sr_new()) == NULL) {
		pri_destroycall(sim_ctrl(far), c);
		error = ENOMEM;
		goto out;
	}
	snprintf(called_buf, sizeof(called_buf), "%s", called);
	if ((slash = strchr(called_buf, '/')) != NULL)
		*slash = '\0';         /* overlap: the rest goes in INFORMATION */
	snprintf(calling_buf, sizeof(calling_buf), "%s", calling);
	pri_sr_set_channel(sr, l->chan, 1, 0);
	pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH,
	    s->law == CFG_LAW_ALAW ? PRI_LAYER_1_ALAW : PRI_LAYER_1_ULAW);
	pri_set_overlapdial(sim_ctrl(far), slash != NULL);
	pri_sr_set_called(sr, called_buf, PRI_UNKNOWN, slash == NULL);
	pri_sr_set_caller(sr, calling_buf[0] != '\0' ? calling_buf : NULL,
	    cname[0] != '\0' ? cname : NULL, PRI_UNKNOWN, span_pri_pres(restricted));
	if (redir[0] != '\0')
		pri_sr_set_redirecting(sr, redir, PRI_UNKNOWN,
		    PRES_ALLOWED_USER_NUMBER_NOT_SCREENED, PRI_REDIR_UNKNOWN);
	if (pri_setup(sim_ctrl(far), c, sr) != 0) {
		pri_destroycall(sim_ctrl(far), c);
		error = EIO;
		goto out;
	}
	l->call = c;
	l->pri_channel = l->chan;
	l->originated = 1;
	l->phone = SPAN_SIM_ECHO;
	l->tone_hz = tone_hz;
	l->hold_ticks = hold_seconds * SIM_TICKS_PER_SEC;
	l->ring_ticks = 0;
	snprintf(l->called, sizeof(l->called), "%s", called_buf);
	snprintf(l->calling, sizeof(l->calling), "%s", calling_buf);
	sim_line_set_state(far, l, SIM_LINE_CALLING);
	snprintf(l->more, sizeof(l->more), "%s", slash != NULL ? slash + 1 : "");
	l->more_pos = 0;
	log_info("span=%s chan=%d far end calls %s from %s", s->name, l->chan, called,
	    calling_buf[0] != '\0' ? calling_buf : "-");
out:
	if (sr != NULL)
		pri_sr_free(sr);
	span_pri_rearm(far->pri);
	return error;
}

int
span_sim_hangup(const char *name, const char *number)
{
	struct sim_far *far;
	int error, n = 0;

	if (number == NULL || (far = sim_far_find(name, &error)) == NULL)
		return 0;
	for (size_t i = 0; i < far->span->nchans; i++) {
		struct sim_line *l = &far->lines[i];

		if (l->state == SIM_LINE_IDLE || l->state == SIM_LINE_CLEARING)
			continue;
		if (strcmp(l->called, number) != 0 && strcmp(l->calling, number) != 0)
			continue;
		sim_line_hangup(far, l, PRI_CAUSE_NORMAL_CLEARING);
		n++;
	}
	span_pri_rearm(far->pri);
	return n;
}

int
span_sim_inject(const char *name, const void *buf, size_t len)
{
	struct sim_far *far;
	int error;

	if ((far = sim_far_find(name, &error)) == NULL)
		return error;
	if (send(far->fd[1], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return errno;
	return 0;
}

int
span_sim_dchannel(const char *name, int up)
{
	struct sim_far *far;
	int error;

	if ((far = sim_far_find(name, &error)) == NULL)
		return error;
	if (far->link_down == !up)
		return 0;
	far->link_down = !up;
	log_notice("span=%s far end: D-channel link %s (test)", name,
	    up ? "restored" : "cut, no frame passes");
	span_pri_rearm(far->pri);
	return 0;
}

int
span_sim_alarm(const char *name, const char *kind)
{
	static const char *const kinds[] = { "red", "yellow", "blue" };
	struct sim_far *far;
	const char *alarm = NULL;
	int error;

	if (kind == NULL)
		return EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			alarm = kinds[i];
	if (alarm == NULL && strcmp(kind, "clear") != 0)
		return EINVAL;
	if ((far = sim_far_find(name, &error)) == NULL)
		return error;
	if (alarm != NULL)
		log_warnx("span=%s alarm: %s (sim)", name, alarm);
	else if (far->alarm != NULL)
		log_notice("span=%s no alarm (sim)", name);
	far->alarm = alarm;
	span_set_alarm(far->span, alarm != NULL);
	return 0;
}

int
span_sim_glare(const char *name, const char *called, const char *calling,
    unsigned int hold_seconds)
{
	char number[SPAN_NUMBER_LEN], cname[SPAN_NAME_LEN], redir[SPAN_NUMBER_LEN];
	struct sim_far *far;
	int restricted, error;

	if ((far = sim_far_find(name, &error)) == NULL)
		return error;
	if (called == NULL) {
		far->glare = 0;
		return 0;
	}
	if (*called == '\0' || strchr(called, '/') != NULL ||
	    strlen(called) >= sizeof(far->glare_called) || calling == NULL ||
	    strlen(calling) >= sizeof(far->glare_calling) ||
	    span_sim_calling_parse(calling, number, sizeof(number), cname, sizeof(cname),
	    &restricted, redir, sizeof(redir)) != 0)
		return EINVAL;
	snprintf(far->glare_called, sizeof(far->glare_called), "%s", called);
	snprintf(far->glare_calling, sizeof(far->glare_calling), "%s", calling);
	far->glare_hold = hold_seconds;
	far->glare = 1;
	log_info("span=%s far end: glare armed, the daemon's next SETUP crosses a call to %s",
	    name, called);
	return 0;
}
