/* PRI glue, shared by every driver: one libpri instance over a D-channel
 * descriptor, its read event and its one timer (libpri's schedule is
 * driven from here and nowhere else); the daemon's CPE-side event
 * handling and the call operations on top of it. */
#include "span/span_int.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "core/log.h"

/* Frames read per readable callback, at most. */
#define SPAN_PRI_READ_BURST 16
/* Address (2) + control (1) + FCS (2): anything shorter is not HDLC. */
#define SPAN_PRI_MIN_FRAME 5

#define SPAN_PRI_CHAN(c) ((c) & 0xff)

struct span_pri {
	struct pri *pri;                /* never freed: libpri has no destructor */
	int fd;                         /* not owned */
	struct span_pri_io io;          /* io.read == NULL: fd is a socket */
	struct event *ev_read;          /* owned */
	struct event *ev_timer;         /* owned */
	span_pri_event_cb cb;
	void *arg;
	int last_read;                  /* >0 a frame was read, 0 nothing left */
	char name[64];
};

static struct log_ratelimit span_pri_rl_err;
static struct log_ratelimit span_pri_rl_io;
static unsigned long span_pri_bad_frames;

static const char *
span_pri_name_of(struct pri *pri)
{
	struct span_pri *p = pri != NULL ? pri_get_userdata(pri) : NULL;

	return p != NULL ? p->name : "-";
}

/* libpri prints lines with their newline, sometimes in pieces. */
static void
span_pri_trim(char *buf, size_t len, const char *s)
{
	size_t n;

	snprintf(buf, len, "%s", s != NULL ? s : "");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
}

static void
span_pri_on_message(struct pri *pri, char *s)
{
	char buf[512];

	if (log_get_level() < LOG_LEVEL_DEBUG)
		return;
	span_pri_trim(buf, sizeof(buf), s);
	if (buf[0] != '\0')
		log_debug("pri %s: %s", span_pri_name_of(pri), buf);
}

static void
span_pri_on_error(struct pri *pri, char *s)
{
	char buf[512];

	span_pri_trim(buf, sizeof(buf), s);
	if (buf[0] != '\0')
		log_limited(&span_pri_rl_err, LOG_LEVEL_WARN, "pri %s: %s",
		    span_pri_name_of(pri), buf);
}

static int
span_pri_io_read(struct pri *pri, void *buf, int buflen)
{
	struct span_pri *p = pri_get_userdata(pri);
	ssize_t n;

	p->last_read = 0;
	if (p->io.read != NULL) {
		if ((n = p->io.read(p->io.arg, buf, (size_t)buflen)) < 0) {
			/* something else was read: try again */
			p->last_read = 1;
			return 0;
		}
		if (n == 0)
			return 0;
		goto frame;
	}
	n = recv(p->fd, buf, (size_t)buflen, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_limited(&span_pri_rl_io, LOG_LEVEL_WARN,
			    "pri %s: D-channel read: %s", p->name, strerror(errno));
		return 0;
	}
frame:
	p->last_read = 1;
	if (n < SPAN_PRI_MIN_FRAME || n > buflen) {
		span_pri_bad_frames++;
		log_limited(&span_pri_rl_io, LOG_LEVEL_WARN,
		    "pri %s: dropped D-channel frame of %zd bytes (%lu so far)",
		    p->name, n, span_pri_bad_frames);
		return 0;
	}
	return (int)n;
}

static int
span_pri_io_write(struct pri *pri, void *buf, int buflen)
{
	struct span_pri *p = pri_get_userdata(pri);
	ssize_t n;

	if (p->io.write != NULL)
		return (int)p->io.write(p->io.arg, buf, (size_t)buflen);
	n = send(p->fd, buf, (size_t)buflen, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		log_limited(&span_pri_rl_io, LOG_LEVEL_WARN,
		    "pri %s: D-channel write: %s", p->name, strerror(errno));
		return 0;
	}
	return (int)n;
}

void
span_pri_rearm(struct span_pri *p)
{
	struct timeval *next, now, tv;

	if ((next = pri_schedule_next(p->pri)) == NULL) {
		evtimer_del(p->ev_timer);
		return;
	}
	/* libpri's schedule is in wall-clock time. */
	gettimeofday(&now, NULL);
	timersub(next, &now, &tv);
	if (tv.tv_sec < 0)
		timerclear(&tv);
	evtimer_add(p->ev_timer, &tv);
}

static void
span_pri_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct span_pri *p = arg;
	pri_event *e;

	for (int i = 0; i < SPAN_PRI_READ_BURST; i++) {
		p->last_read = 0;
		if ((e = pri_check_event(p->pri)) != NULL)
			p->cb(p->arg, e);
		if (p->last_read == 0)
			break;
	}
	span_pri_rearm(p);
}

static void
span_pri_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct span_pri *p = arg;
	pri_event *e;

	if ((e = pri_schedule_run(p->pri)) != NULL)
		p->cb(p->arg, e);
	span_pri_rearm(p);
}

struct span_pri *
span_pri_new(struct event_base *base, const char *name, int fd, int nodetype,
    int switchtype, span_pri_event_cb cb, void *arg)
{
	return span_pri_new_io(base, name, fd, NULL, nodetype, switchtype, cb, arg);
}

struct span_pri *
span_pri_new_io(struct event_base *base, const char *name, int fd,
    const struct span_pri_io *io, int nodetype, int switchtype,
    span_pri_event_cb cb, void *arg)
{
	static int hooks;
	struct span_pri *p;

	if (!hooks) {
		pri_set_message(span_pri_on_message);
		pri_set_error(span_pri_on_error);
		hooks = 1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->fd = fd;
	if (io != NULL)
		p->io = *io;
	p->cb = cb;
	p->arg = arg;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, span_pri_on_read, p);
	p->ev_timer = evtimer_new(base, span_pri_on_timer, p);
	if (p->ev_read == NULL || p->ev_timer == NULL)
		goto fail;
	p->pri = pri_new_cb(fd, nodetype, switchtype, span_pri_io_read, span_pri_io_write, p);
	if (p->pri == NULL)
		goto fail;
	/* At debug level every Q.931 message is logged, decoded (the
	 * integration tests read them); otherwise only anomalies. */
	pri_set_debug(p->pri, log_get_level() >= LOG_LEVEL_DEBUG ?
	    PRI_DEBUG_Q931_ANOMALY | PRI_DEBUG_Q931_DUMP | PRI_DEBUG_Q931_STATE :
	    PRI_DEBUG_Q931_ANOMALY);
	/* The calling name: in a Display IE of the SETUP where the switch
	 * type has one, in a Facility IE (Q.SIG, NI2 name delivery). */
	pri_facility_enable(p->pri);
	/* SERVICE messages where the switch type has them (both sides). */
	if (span_pri_has_service(switchtype))
		pri_set_service_message_support(p->pri, 1);
	pri_display_options_send(p->pri, PRI_DISPLAY_OPTION_NAME_INITIAL);
	pri_display_options_receive(p->pri, PRI_DISPLAY_OPTION_NAME_INITIAL);
	if (event_add(p->ev_read, NULL) != 0)
		goto fail;
	span_pri_rearm(p);
	return p;
fail:
	/* A created libpri instance cannot be freed; it is idle from here. */
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	if (p->ev_timer != NULL)
		event_free(p->ev_timer);
	free(p);
	return NULL;
}

void
span_pri_free(struct span_pri *p)
{
	if (p == NULL)
		return;
	event_free(p->ev_read);
	event_free(p->ev_timer);
	if (p->pri != NULL)
		pri_set_userdata(p->pri, NULL);
	free(p);
}

struct pri *
span_pri_ctrl(struct span_pri *p)
{
	return p->pri;
}

int
span_pri_switch_parse(const char *name, enum cfg_span_type type)
{
	static const struct {
		const char *name;
		int sw;
	} names[] = {
		{ "euroisdn", -1 },
		{ "euroisdn_e1", PRI_SWITCH_EUROISDN_E1 },
		{ "euroisdn_t1", PRI_SWITCH_EUROISDN_T1 },
		{ "national", PRI_SWITCH_NI2 },
		{ "ni2", PRI_SWITCH_NI2 },
		{ "ni1", PRI_SWITCH_NI1 },
		{ "dms100", PRI_SWITCH_DMS100 },
		{ "4ess", PRI_SWITCH_ATT4ESS },
		{ "5ess", PRI_SWITCH_LUCENT5E },
		{ "qsig", PRI_SWITCH_QSIG },
	};
	int euro = type == CFG_SPAN_T1 ? PRI_SWITCH_EUROISDN_T1 : PRI_SWITCH_EUROISDN_E1;

	if (name == NULL || *name == '\0')
		return type == CFG_SPAN_T1 ? PRI_SWITCH_NI2 : PRI_SWITCH_EUROISDN_E1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].sw < 0 ? euro : names[i].sw;
	return -1;
}

/* ---- The daemon's side (CPE) ---- */

int
span_pri_start(struct span *s)
{
	char name[64];

	snprintf(name, sizeof(name), "%s", s->name);
	if (s->drv->pri_io != NULL)
		s->pri = span_pri_new_io(s->base, name, s->dfd, s->drv->pri_io(s),
		    s->nodetype, s->pri_switch, span_pri_on_event, s);
	else
		s->pri = span_pri_new(s->base, name, s->dfd, s->nodetype, s->pri_switch,
		    span_pri_on_event, s);
	if (s->pri == NULL)
		return ENOMEM;
	/* CONNECT ACKNOWLEDGE is ours to send, and reported when received:
	 * that is when an inbound call is answered. */
	pri_connect_ack_enable(span_pri_ctrl(s->pri), 1);
	span_pri_rearm(s->pri);
	return 0;
}

static int
span_pri_rc_cause(int cause)
{
	switch (cause) {
	case PRI_CAUSE_UNALLOCATED:
	case PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION:
	case PRI_CAUSE_REQUESTED_CHAN_UNAVAIL:
	case PRI_CAUSE_IDENTIFIED_CHANNEL_NOTEXIST:
	case PRI_CAUSE_INVALID_CALL_REFERENCE:
		return 1;
	default:
		return 0;
	}
}

int
span_pri_hangup_final(enum span_call_state st, int peer_released,
    int peer_disconnected, int cause)
{
	if (peer_released)
		return 1;
	if (peer_disconnected)
		return 0;
	switch (st) {
	case SPAN_CALL_DIALING:
	case SPAN_CALL_OFFERED:
	case SPAN_CALL_PROCEEDING:
	case SPAN_CALL_ALERTING:
	case SPAN_CALL_CONNECTING:
		/* libpri answers these causes with RELEASE COMPLETE before
		 * the call is active, and forgets the call at once. */
		return span_pri_rc_cause(cause);
	default:
		return 0;
	}
}

static struct span_call *
span_pri_call_find(struct span *s, q931_call *c)
{
	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < s->nchans; i++)
		if (s->chans[i].call != NULL && s->chans[i].call->pcall == c)
			return s->chans[i].call;
	for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
		if (s->glared[i] != NULL && s->glared[i]->pcall == c)
			return s->glared[i];
	return NULL;
}

int
span_pri_glare_yield(int nodetype, enum span_call_state ours)
{
	if (ours != SPAN_CALL_DIALING)
		return 0;
	return nodetype == PRI_CPE;
}

static void span_pri_on_guard(evutil_socket_t fd, short what, void *arg);
static void span_pri_on_t316(evutil_socket_t fd, short what, void *arg);

static void span_pri_glare_lose(struct span *s, struct span_chan *ch);

/* Our outbound call on ch asked for it as preferred and lost glare: off
 * the channel, it waits for the network to give it another one (in its
 * CALL PROCEEDING) or to refuse it. */
static void
span_pri_glare_park(struct span *s, struct span_chan *ch)
{
	struct span_call *sc = ch->call;
	size_t i;

	for (i = 0; i < SPAN_MAX_CHANS && s->glared[i] != NULL; i++)
		;
	if (i == SPAN_MAX_CHANS) {
		span_pri_glare_lose(s, ch);
		return;
	}
	log_call(LOG_LEVEL_NOTICE, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d glare: the network's call takes the channel, ours waits for another",
	    s->name, sc->channel);
	ch->call = NULL;
	s->glared[i] = sc;
}

/* Our outbound call on ch lost glare: off the channel, the owner told
 * (cause 44), and libpri's call left to the network's RELEASE COMPLETE
 * (or the release guard). */
static void
span_pri_glare_lose(struct span *s, struct span_chan *ch)
{
	struct span_call *sc = ch->call;
	struct timeval tv = { SPAN_RELEASE_GUARD_SEC, 0 };
	size_t i;

	for (i = 0; i < SPAN_MAX_CHANS && s->glared[i] != NULL; i++)
		;
	log_call(LOG_LEVEL_NOTICE, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d glare: the network's call takes the channel, ours yields",
	    s->name, sc->channel);
	ch->call = NULL;
	span_call_set_state(sc, SPAN_CALL_RELEASING);
	span_call_notify_hangup(sc, PRI_CAUSE_REQUESTED_CHAN_UNAVAIL);
	if (i == SPAN_MAX_CHANS) {
		/* no room to wait for libpri: forget its call now */
		span_pri_drop(sc);
		ch->call = sc;
		span_call_finish(sc);
		ch->call = NULL;
		return;
	}
	s->glared[i] = sc;
	if (sc->ev_guard == NULL)
		sc->ev_guard = evtimer_new(s->base, span_pri_on_guard, sc);
	if (sc->ev_guard != NULL)
		evtimer_add(sc->ev_guard, &tv);
}

void
span_pri_drop(struct span_call *sc)
{
	struct span *s = sc->span;

	if (sc->pcall != NULL && s->pri != NULL)
		pri_destroycall(span_pri_ctrl(s->pri), sc->pcall);
	sc->pcall = NULL;
}

static void
span_pri_on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct span_call *sc = arg;

	log_warnx("span=%s chan=%d clearing not completed in %d s, channel taken back",
	    sc->span->name, sc->channel, SPAN_RELEASE_GUARD_SEC);
	/* pri_destroycall checks that libpri still knows the call. */
	span_pri_drop(sc);
	span_call_finish(sc);
}

/* Start or continue clearing with pri_hangup(). */
static void
span_pri_clear(struct span_call *sc, int cause)
{
	struct span *s = sc->span;
	struct pri *ctrl = span_pri_ctrl(s->pri);
	struct timeval tv = { SPAN_RELEASE_GUARD_SEC, 0 };
	int final;

	if (sc->pcall == NULL) {
		span_call_finish(sc);
		return;
	}
	final = span_pri_hangup_final(sc->state, 0, sc->peer_disconnected, cause);
	if (!final && sc->state == SPAN_CALL_OFFERED) {
		/* libpri sends nothing for a SETUP it has not answered yet
		 * unless the cause calls for RELEASE COMPLETE: proceed first
		 * so that the DISCONNECT carries the cause. */
		pri_proceeding(ctrl, sc->pcall, sc->pri_channel, 0);
	}
	pri_hangup(ctrl, sc->pcall, cause);
	if (final) {
		sc->pcall = NULL;
		span_call_finish(sc);
	} else {
		span_call_set_state(sc, SPAN_CALL_RELEASING);
		if (sc->ev_guard == NULL)
			sc->ev_guard = evtimer_new(s->base, span_pri_on_guard, sc);
		if (sc->ev_guard != NULL)
			evtimer_add(sc->ev_guard, &tv);
	}
	span_pri_rearm(s->pri);
}

void
span_pri_hangup(struct span_call *sc, int cause)
{
	span_pri_clear(sc, cause);
}

/* Presentation indicator of a number we send: user-provided, not
 * screened; allowed or restricted. */
int
span_pri_pres(int restricted)
{
	return restricted ? PRES_PROHIB_USER_NUMBER_NOT_SCREENED :
	    PRES_ALLOWED_USER_NUMBER_NOT_SCREENED;
}

/* Presentation of a number received: restricted (or not available) is
 * not shown to the called party. */
int
span_pri_pres_restricted(int pres)
{
	return (pres & PRI_PRES_RESTRICTION) != PRI_PRES_ALLOWED;
}

static int
span_pri_has_prefix(const char *number, const char *pfx)
{
	size_t n = pfx != NULL ? strlen(pfx) : 0;

	return n > 0 && strncmp(number, pfx, n) == 0 && number[n] != '\0';
}

int
span_pri_number_out(const char *number, enum cfg_ton ton, const char *natpfx,
    const char *intpfx, char *out, size_t outlen)
{
	int plan;

	/* The longer prefix first: "00" is international, not national. */
	if (span_pri_has_prefix(number, intpfx) &&
	    (!span_pri_has_prefix(number, natpfx) || strlen(intpfx) >= strlen(natpfx))) {
		snprintf(out, outlen, "%s", number + strlen(intpfx));
		return PRI_INTERNATIONAL_ISDN;
	}
	if (span_pri_has_prefix(number, natpfx)) {
		snprintf(out, outlen, "%s", number + strlen(natpfx));
		return PRI_NATIONAL_ISDN;
	}
	snprintf(out, outlen, "%s", number);
	switch (ton) {
	case CFG_TON_NATIONAL:
		plan = PRI_NATIONAL_ISDN;
		break;
	case CFG_TON_INTERNATIONAL:
		plan = PRI_INTERNATIONAL_ISDN;
		break;
	case CFG_TON_SUBSCRIBER:
		plan = PRI_LOCAL_ISDN;
		break;
	default:
		plan = PRI_UNKNOWN;
		break;
	}
	return plan;
}

void
span_pri_number_in(const char *number, int plan, const char *natpfx, const char *intpfx,
    char *out, size_t outlen)
{
	const char *pfx = "";

	if (number[0] != '\0' && ((plan >> 4) & 0x7) == SPAN_TON_INTERNATIONAL && intpfx != NULL)
		pfx = intpfx;
	else if (number[0] != '\0' && ((plan >> 4) & 0x7) == SPAN_TON_NATIONAL && natpfx != NULL)
		pfx = natpfx;
	snprintf(out, outlen, "%s%s", pfx, number);
}

int
span_pri_setup(struct span_call *sc)
{
	struct span *s = sc->span;
	struct pri *ctrl = span_pri_ctrl(s->pri);
	char called[SPAN_NUMBER_LEN], calling[SPAN_NUMBER_LEN];
	char name[SPAN_NAME_LEN], redir[SPAN_NUMBER_LEN];
	int called_plan, calling_plan;
	struct pri_sr *sr = NULL;
	q931_call *c;
	int error = 0;

	if ((c = pri_new_call(ctrl)) == NULL)
		return ENOMEM;
	if ((sr = pri_sr_new()) == NULL) {
		pri_destroycall(ctrl, c);
		error = ENOMEM;
		goto out;
	}
	called_plan = span_pri_number_out(sc->called, s->ton, s->national_prefix,
	    s->international_prefix, called, sizeof(called));
	calling_plan = span_pri_number_out(sc->calling, s->ton, s->national_prefix,
	    s->international_prefix, calling, sizeof(calling));
	pri_sr_set_channel(sr, sc->channel, !s->channel_preferred, 0);
	pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH,
	    s->law == CFG_LAW_ALAW ? PRI_LAYER_1_ALAW : PRI_LAYER_1_ULAW);
	snprintf(name, sizeof(name), "%s", sc->calling_name);
	snprintf(redir, sizeof(redir), "%s", sc->redirecting);
	/* Overlap sending: no Sending Complete; more digits may follow in
	 * INFORMATION once the far end acknowledges the SETUP. */
	pri_set_overlapdial(ctrl, s->overlap);
	pri_sr_set_called(sr, called, called_plan, !s->overlap);
	if (calling[0] != '\0')
		pri_sr_set_caller(sr, calling, name[0] != '\0' ? name : NULL, calling_plan,
		    span_pri_pres(sc->calling_restricted));
	else
		pri_sr_set_caller(sr, NULL, name[0] != '\0' ? name : NULL, PRI_UNKNOWN,
		    PRES_NUMBER_NOT_AVAILABLE);
	if (redir[0] != '\0')
		pri_sr_set_redirecting(sr, redir, PRI_UNKNOWN,
		    PRES_ALLOWED_USER_NUMBER_NOT_SCREENED, PRI_REDIR_UNKNOWN);
	if (pri_setup(ctrl, c, sr) != 0) {
		log_warnx("span=%s chan=%d SETUP to %s failed", s->name, sc->channel, sc->called);
		pri_destroycall(ctrl, c);
		error = EIO;
		goto out;
	}
	sc->pcall = c;
out:
	if (sr != NULL)
		pri_sr_free(sr);
	span_pri_rearm(s->pri);
	return error;
}

void
span_pri_proceeding(struct span_call *sc)
{
	if (sc->pcall == NULL)
		return;
	pri_proceeding(span_pri_ctrl(sc->span->pri), sc->pcall, sc->pri_channel, 0);
	span_call_set_state(sc, SPAN_CALL_PROCEEDING);
	span_pri_rearm(sc->span->pri);
}

void
span_pri_alerting(struct span_call *sc)
{
	if (sc->pcall == NULL)
		return;
	pri_acknowledge(span_pri_ctrl(sc->span->pri), sc->pcall, sc->pri_channel, 0);
	span_call_set_state(sc, SPAN_CALL_ALERTING);
	span_pri_rearm(sc->span->pri);
}

void
span_pri_answer(struct span_call *sc)
{
	if (sc->pcall == NULL)
		return;
	pri_answer(span_pri_ctrl(sc->span->pri), sc->pcall, sc->pri_channel, 0);
	span_call_set_state(sc, SPAN_CALL_CONNECTING);
	span_pri_rearm(sc->span->pri);
}

static void
span_pri_on_digits(evutil_socket_t fd, short what, void *arg)
{
	struct span_call *sc = arg;

	if (sc->state != SPAN_CALL_OVERLAP)
		return;
	if (sc->called[0] == '\0') {
		log_info("span=%s chan=%d overlap dialing: no digits in %u s", sc->span->name,
		    sc->channel, sc->span->digit_timeout);
		span_pri_clear(sc, PRI_CAUSE_INVALID_NUMBER_FORMAT);
		return;
	}
	log_info("span=%s chan=%d overlap dialing: %u s after the last digit, number %s",
	    sc->span->name, sc->channel, sc->span->digit_timeout, sc->called);
	span_pri_overlap_done(sc);
}

/* The digits so far are complete: offer the call. */
void
span_pri_overlap_done(struct span_call *sc)
{
	struct span *s = sc->span;

	if (sc->ev_digits != NULL)
		evtimer_del(sc->ev_digits);
	log_info("span=%s chan=%d inbound call from %s to %s (overlap dialing complete)", s->name,
	    sc->channel, sc->calling[0] != '\0' ? sc->calling : "-", sc->called);
	span_call_set_state(sc, SPAN_CALL_OFFERED);
	span_incoming(s, sc);
}

/* Digits of the SETUP or an INFORMATION in overlap receiving. */
static void
span_pri_overlap_digits(struct span_call *sc, const char *digits, int complete)
{
	struct timeval tv = { sc->span->digit_timeout, 0 };
	char number[SPAN_NUMBER_LEN];

	snprintf(number, sizeof(number), "%s", sc->called);
	if (span_overlap_add(number, sizeof(number), digits, complete, 0) ||
	    span_overlap_add(number, sizeof(number), "", 0, span_overlap_want(number))) {
		snprintf(sc->called, sizeof(sc->called), "%s", number);
		span_pri_overlap_done(sc);
		return;
	}
	snprintf(sc->called, sizeof(sc->called), "%s", number);
	log_debug("span=%s chan=%d overlap dialing: %s so far", sc->span->name, sc->channel,
	    sc->called);
	if (sc->ev_digits == NULL)
		sc->ev_digits = evtimer_new(sc->span->base, span_pri_on_digits, sc);
	if (sc->ev_digits == NULL || evtimer_add(sc->ev_digits, &tv) != 0)
		span_pri_overlap_done(sc);
}

/* A SETUP without Sending Complete on a span with overlap: SETUP
 * ACKNOWLEDGE, and the number is collected. 0 when the call waits for
 * digits, 1 when the SETUP's number is complete already. */
static int
span_pri_overlap_start(struct span *s, struct span_call *sc, const char *called, int complete)
{
	char number[SPAN_NUMBER_LEN] = "";

	if (span_overlap_add(number, sizeof(number), called, complete,
	    span_overlap_want(called)))
		return 1;
	sc->called[0] = '\0';
	span_call_set_state(sc, SPAN_CALL_OVERLAP);
	pri_need_more_info(span_pri_ctrl(s->pri), sc->pcall, sc->pri_channel, 0);
	log_info("span=%s chan=%d SETUP ACKNOWLEDGE: overlap dialing, %s so far", s->name,
	    sc->channel, called[0] != '\0' ? called : "no digits");
	span_pri_overlap_digits(sc, called, 0);
	return 0;
}

static void
span_pri_on_ring(struct span *s, pri_event_ring *ring)
{
	struct pri *ctrl = span_pri_ctrl(s->pri);
	struct span_chan *ch;
	struct span_call *sc;
	int chan = SPAN_PRI_CHAN(ring->channel);

	if (ring->channel == -1 || chan == 0xff)
		ch = span_chan_pick(s);
	else
		ch = span_chan_find(s, chan);
	if (ch != NULL && ch->call != NULL && ch->call->outbound &&
	    span_pri_glare_yield(s->nodetype, ch->call->state)) {
		if (s->channel_preferred)
			span_pri_glare_park(s, ch);
		else
			span_pri_glare_lose(s, ch);
	}
	if (ch == NULL || ch->call != NULL) {
		log_info("span=%s inbound call to %s on channel %d refused: channel not available",
		    s->name, ring->callednum, chan);
		pri_hangup(ctrl, ring->call, PRI_CAUSE_REQUESTED_CHAN_UNAVAIL);
		return;
	}
	if (s->draining || s->blocked) {
		log_info("span=%s inbound call to %s refused: span %s",
		    s->name, ring->callednum, s->draining ? "draining" : "blocked");
		pri_hangup(ctrl, ring->call, PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION);
		return;
	}
	if ((sc = span_call_alloc(s, ch, 0)) == NULL) {
		pri_hangup(ctrl, ring->call, PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION);
		return;
	}
	sc->pcall = ring->call;
	if (ring->channel != -1 && chan != 0xff)
		sc->pri_channel = ring->channel;
	span_copy_number(sc->called, sizeof(sc->called), ring->callednum);
	span_pri_number_in(ring->callingnum, ring->callingplan, s->national_prefix,
	    s->international_prefix, sc->calling, sizeof(sc->calling));
	span_copy_number(sc->calling_name, sizeof(sc->calling_name), ring->callingname);
	span_copy_number(sc->redirecting, sizeof(sc->redirecting), ring->redirectingnum);
	sc->calling_restricted = sc->calling[0] != '\0' &&
	    span_pri_pres_restricted(ring->callingpres);
	sc->calling_ton = (ring->callingplan >> 4) & 0x7;
	if (s->overlap && !ring->complete &&
	    !span_pri_overlap_start(s, sc, ring->callednum, ring->complete))
		return;
	log_info("span=%s chan=%d inbound call from %s%s%s%s%s to %s%s%s", s->name, sc->channel,
	    sc->calling[0] != '\0' ? sc->calling : "-",
	    sc->calling_name[0] != '\0' ? " \"" : "", sc->calling_name,
	    sc->calling_name[0] != '\0' ? "\"" : "",
	    sc->calling_restricted ? " (restricted)" : "", sc->called,
	    sc->redirecting[0] != '\0' ? " diverted from " : "", sc->redirecting);
	span_call_set_state(sc, SPAN_CALL_OFFERED);
	span_incoming(s, sc);
}

int
span_pri_has_service(int pri_switch)
{
	return pri_switch == PRI_SWITCH_NI2 || pri_switch == PRI_SWITCH_ATT4ESS ||
	    pri_switch == PRI_SWITCH_LUCENT5E;
}

/* SERVICE change status: 0 in service, 2 out of service. */
#define SPAN_PRI_SERVICE_IN 0
#define SPAN_PRI_SERVICE_OUT 2

void
span_pri_service_sync(struct span *s)
{
	struct pri *ctrl;
	int st = s->blocked ? SPAN_PRI_SERVICE_OUT : SPAN_PRI_SERVICE_IN;

	if (s->pri == NULL || !s->dchan_up || !span_pri_has_service(s->pri_switch))
		return;
	ctrl = span_pri_ctrl(s->pri);
	for (size_t i = 0; i < s->nchans; i++)
		pri_maintenance_service(ctrl, 0, s->chans[i].num, st);
	log_info("span=%s SERVICE: %zu B-channels %s", s->name, s->nchans,
	    st == SPAN_PRI_SERVICE_OUT ? "out of service" : "in service");
	span_pri_rearm(s->pri);
}

static void
span_pri_on_service(struct span *s, int channel, int changestatus)
{
	int chan = SPAN_PRI_CHAN(channel);

	log_notice("span=%s SERVICE from the far end: channel %d %s", s->name,
	    channel == -1 || chan == 0xff ? -1 : chan,
	    changestatus == SPAN_PRI_SERVICE_IN ? "in service" : "out of service");
	for (size_t i = 0; i < s->nchans; i++)
		if (channel == -1 || chan == 0xff || s->chans[i].num == chan)
			s->chans[i].out_of_service = changestatus != SPAN_PRI_SERVICE_IN;
}

/* Arm T316 while a RESTART waits for its acknowledgement. */
static void
span_pri_t316_arm(struct span *s)
{
	struct timeval tv = { s->restart_timeout, 0 };

	for (size_t i = 0; i < s->nchans; i++) {
		if (s->chans[i].restart_sent == 0)
			continue;
		if (s->ev_t316 == NULL)
			s->ev_t316 = evtimer_new(s->base, span_pri_on_t316, s);
		if (s->ev_t316 != NULL && !evtimer_pending(s->ev_t316, NULL))
			evtimer_add(s->ev_t316, &tv);
		return;
	}
	if (s->ev_t316 != NULL)
		evtimer_del(s->ev_t316);
}

int
span_pri_t316_action(unsigned int sent, unsigned int attempts)
{
	return sent < attempts ? SPAN_T316_RESEND : SPAN_T316_GIVE_UP;
}

/* T316 expired: RESTART again for the channels still not acknowledged,
 * up to restart_attempts in all; after that the channel stays out of
 * service (restarting) until the span restarts it again. */
static void
span_pri_on_t316(evutil_socket_t fd, short what, void *arg)
{
	struct span *s = arg;
	struct pri *ctrl = span_pri_ctrl(s->pri);

	for (size_t i = 0; i < s->nchans; i++) {
		struct span_chan *ch = &s->chans[i];

		if (ch->restart_sent == 0 || !ch->restarting)
			continue;
		if (!s->dchan_up ||
		    span_pri_t316_action(ch->restart_sent, s->restart_attempts) == SPAN_T316_GIVE_UP) {
			log_error("span=%s chan=%d no RESTART ACKNOWLEDGE after %u RESTART%s: "
			    "channel left out of service", s->name, ch->num, ch->restart_sent,
			    ch->restart_sent == 1 ? "" : "s");
			ch->restart_sent = 0;
			ch->need_restart = !s->dchan_up;
			continue;
		}
		ch->restart_sent++;
		log_warnx("span=%s chan=%d T316 expired: RESTART sent again (%u of %u)", s->name,
		    ch->num, ch->restart_sent, s->restart_attempts);
		pri_reset(ctrl, ch->num);
	}
	span_pri_t316_arm(s);
	span_pri_rearm(s->pri);
}

void
span_pri_restart_lost(struct span *s)
{
	struct pri *ctrl = span_pri_ctrl(s->pri);

	for (size_t i = 0; i < s->nchans; i++) {
		struct span_chan *ch = &s->chans[i];

		if (!ch->need_restart)
			continue;
		ch->need_restart = 0;
		if (pri_reset(ctrl, ch->num) == 0) {
			ch->restarting = 1;
			ch->restart_sent = 1;
			log_info("span=%s chan=%d RESTART sent", s->name, ch->num);
		}
	}
	span_pri_t316_arm(s);
	span_pri_rearm(s->pri);
}

static void
span_pri_on_restart_ack(struct span *s, int channel)
{
	int chan = SPAN_PRI_CHAN(channel);

	log_info("span=%s RESTART ACKNOWLEDGE of channel %d", s->name,
	    channel == -1 ? -1 : chan);
	for (size_t i = 0; i < s->nchans; i++)
		if (channel == -1 || chan == 0xff || s->chans[i].num == chan) {
			s->chans[i].restarting = 0;
			s->chans[i].restart_sent = 0;
		}
	span_pri_t316_arm(s);
}

static void
span_pri_on_restart(struct span *s, int channel)
{
	int chan = SPAN_PRI_CHAN(channel);

	log_notice("span=%s RESTART of channel %d", s->name, channel == -1 ? -1 : chan);
	for (size_t i = 0; i < s->nchans; i++) {
		struct span_call *sc = s->chans[i].call;

		if (sc == NULL)
			continue;
		if (channel != -1 && chan != 0xff && sc->channel != chan)
			continue;
		span_call_notify_hangup(sc, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		span_pri_drop(sc);
		span_call_finish(sc);
	}
}

/* The far end's answer to our SETUP names the channel: with a preferred
 * channel it may be another one, and the call moves there. 0, or EBUSY
 * when that channel is not ours to take. */
static int
span_pri_rehome(struct span *s, struct span_call *sc, int channel)
{
	struct span_chan *from, *to;
	int chan = SPAN_PRI_CHAN(channel);

	if (channel <= 0 || chan == 0xff)
		return 0;
	if (chan == sc->channel) {
		/* still on its channel, unless parked by glare */
		for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
			if (s->glared[i] == sc)
				return EBUSY;
		return 0;
	}
	if ((to = span_chan_find(s, chan)) == NULL || to->call != NULL)
		return EBUSY;
	if ((from = span_chan_find(s, sc->channel)) != NULL && from->call == sc)
		from->call = NULL;
	for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
		if (s->glared[i] == sc)
			s->glared[i] = NULL;
	to->call = sc;
	log_call(LOG_LEVEL_INFO, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d the far end moved the call to channel %d", s->name,
	    sc->channel, chan);
	sc->channel = chan;
	sc->pri_channel = channel;
	return 0;
}

static int
span_pri_inband(int progressmask)
{
	return (progressmask & PRI_PROG_INBAND_AVAILABLE) != 0;
}

void
span_pri_on_event(void *arg, pri_event *e)
{
	struct span *s = arg;
	struct pri *ctrl = span_pri_ctrl(s->pri);
	struct span_call *sc = NULL;
	const struct span_call_cbs *cbs;
	int inband, cause;

	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		span_set_up(s, 1);
		if (s->blocked)
			span_pri_service_sync(s);
		break;
	case PRI_EVENT_SERVICE:
		span_pri_on_service(s, e->service.channel, e->service.changestatus);
		break;
	case PRI_EVENT_SERVICE_ACK:
		s->service_acks++;
		log_debug("span=%s SERVICE ACKNOWLEDGE channel %d status %d", s->name,
		    SPAN_PRI_CHAN(e->service_ack.channel), e->service_ack.changestatus);
		break;
	case PRI_EVENT_DCHAN_DOWN:
		span_set_up(s, 0);
		break;
	case PRI_EVENT_RESTART:
		span_pri_on_restart(s, e->restart.channel);
		break;
	case PRI_EVENT_RESTART_ACK:
		span_pri_on_restart_ack(s, e->restartack.channel);
		break;
	case PRI_EVENT_CONFIG_ERR:
		log_warnx("span=%s D-channel configuration error: %s", s->name, e->err.err);
		break;
	case PRI_EVENT_RING:
		span_pri_on_ring(s, &e->ring);
		break;
	case PRI_EVENT_SETUP_ACK:
		if ((sc = span_pri_call_find(s, e->setup_ack.call)) == NULL)
			break;
		log_info("span=%s chan=%d SETUP ACKNOWLEDGE%s", s->name, sc->channel,
		    s->overlap && sc->state == SPAN_CALL_DIALING ? ": overlap sending" : "");
		if (!s->overlap || sc->state != SPAN_CALL_DIALING)
			break;
		sc->overlap_tx = 1;
		if ((cbs = sc->cbs) != NULL && cbs->setup_ack != NULL)
			cbs->setup_ack(sc->owner);
		break;
	case PRI_EVENT_INFO_RECEIVED:
		if ((sc = span_pri_call_find(s, e->ring.call)) == NULL ||
		    sc->state != SPAN_CALL_OVERLAP)
			break;
		span_pri_overlap_digits(sc, e->ring.callednum, e->ring.complete);
		break;
	case PRI_EVENT_PROCEEDING:
		if ((sc = span_pri_call_find(s, e->proceeding.call)) == NULL ||
		    sc->state != SPAN_CALL_DIALING)
			break;
		if (span_pri_rehome(s, sc, e->proceeding.channel) != 0) {
			span_call_notify_hangup(sc, PRI_CAUSE_REQUESTED_CHAN_UNAVAIL);
			span_pri_clear(sc, PRI_CAUSE_REQUESTED_CHAN_UNAVAIL);
			break;
		}
		sc->inband |= span_pri_inband(e->proceeding.progressmask);
		span_call_set_state(sc, SPAN_CALL_PROCEEDING);
		if ((cbs = sc->cbs) != NULL && cbs->proceeding != NULL)
			cbs->proceeding(sc->owner);
		break;
	case PRI_EVENT_PROGRESS:
		if ((sc = span_pri_call_find(s, e->proceeding.call)) == NULL || !sc->outbound)
			break;
		inband = span_pri_inband(e->proceeding.progressmask);
		sc->inband |= inband;
		if (sc->state == SPAN_CALL_DIALING)
			span_call_set_state(sc, SPAN_CALL_PROCEEDING);
		if ((cbs = sc->cbs) != NULL && cbs->progress != NULL)
			cbs->progress(sc->owner, inband);
		break;
	case PRI_EVENT_RINGING:
		if ((sc = span_pri_call_find(s, e->ringing.call)) == NULL || !sc->outbound)
			break;
		inband = span_pri_inband(e->ringing.progressmask);
		sc->inband |= inband;
		if (sc->state == SPAN_CALL_DIALING || sc->state == SPAN_CALL_PROCEEDING)
			span_call_set_state(sc, SPAN_CALL_ALERTING);
		if ((cbs = sc->cbs) != NULL && cbs->alerting != NULL)
			cbs->alerting(sc->owner, inband);
		break;
	case PRI_EVENT_ANSWER:
		if ((sc = span_pri_call_find(s, e->answer.call)) == NULL || !sc->outbound)
			break;
		/* A CONNECT that crossed our DISCONNECT is not acknowledged. */
		if (sc->state == SPAN_CALL_RELEASING)
			break;
		pri_connect_ack(ctrl, sc->pcall, 0);
		span_call_set_state(sc, SPAN_CALL_CONNECTED);
		if ((cbs = sc->cbs) != NULL && cbs->answered != NULL)
			cbs->answered(sc->owner);
		break;
	case PRI_EVENT_CONNECT_ACK:
		if ((sc = span_pri_call_find(s, e->connect_ack.call)) == NULL ||
		    sc->state != SPAN_CALL_CONNECTING)
			break;
		span_call_set_state(sc, SPAN_CALL_CONNECTED);
		if ((cbs = sc->cbs) != NULL && cbs->answered != NULL)
			cbs->answered(sc->owner);
		break;
	case PRI_EVENT_HANGUP_REQ:
		/* DISCONNECT received: tell the owner, answer with RELEASE. */
		cause = e->hangup.cause;
		if ((sc = span_pri_call_find(s, e->hangup.call)) == NULL) {
			pri_hangup(ctrl, e->hangup.call, cause);
			break;
		}
		log_info("span=%s chan=%d DISCONNECT cause %d", s->name, sc->channel, cause);
		sc->peer_disconnected = 1;
		span_call_notify_hangup(sc, cause);
		/* The owner may have hung up from its callback already. */
		if (sc->state != SPAN_CALL_RELEASING && sc->state != SPAN_CALL_RELEASED)
			span_pri_clear(sc, cause);
		break;
	case PRI_EVENT_HANGUP:
		/* RELEASE or RELEASE COMPLETE received: libpri's call ends
		 * with our pri_hangup(). */
		cause = e->hangup.cause;
		sc = span_pri_call_find(s, e->hangup.call);
		pri_hangup(ctrl, e->hangup.call, cause);
		if (sc == NULL)
			break;
		log_info("span=%s chan=%d released cause %d", s->name, sc->channel, cause);
		sc->pcall = NULL;
		span_call_notify_hangup(sc, cause);
		span_call_finish(sc);
		break;
	case PRI_EVENT_HANGUP_ACK:
		/* Our clearing completed; libpri has already let the call go. */
		if ((sc = span_pri_call_find(s, e->hangup.call)) == NULL)
			break;
		sc->pcall = NULL;
		span_call_notify_hangup(sc, e->hangup.cause);
		span_call_finish(sc);
		break;
	default:
		log_debug("span=%s D-channel event %s", s->name, pri_event2str(e->e));
		break;
	}
}

/* libpri has no destructor: a span removed by a reload leaves its libpri
 * instance behind. Tell LeakSanitizer that these are expected. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libpri.so\n";
}
