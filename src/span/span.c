/* The generic span: registry, reload, the span and span_call objects and
 * the call state log. Signalling is in span_pri.c, physical layers in the
 * drivers (span_sim.c). */
#include "span/span_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "core/cache.h"
#include "core/log.h"

struct span_registry {
	struct event_base *base;
	span_incoming_cb cb;
	void *arg;
	TAILQ_HEAD(, span) live;        /* accepting calls */
	TAILQ_HEAD(, span) draining;    /* removed by a reload, calls remain */
	TAILQ_HEAD(, span) dead;        /* no reference left, freed by the reaper */
	TAILQ_HEAD(, span_call) dead_calls;
	struct event *ev_reap;
	int init;
};

static struct span_registry reg;

static void span_apply_keys(struct span *s, const struct cfg_span *cs);
static void span_set_blocked(struct span *s);
static size_t span_ncalls(const struct span *s);

static const char *const span_call_state_names[] = {
	[SPAN_CALL_NULL] = "null",
	[SPAN_CALL_DIALING] = "dialing",
	[SPAN_CALL_OFFERED] = "offered",
	[SPAN_CALL_PROCEEDING] = "proceeding",
	[SPAN_CALL_ALERTING] = "alerting",
	[SPAN_CALL_CONNECTING] = "connecting",
	[SPAN_CALL_CONNECTED] = "connected",
	[SPAN_CALL_RELEASING] = "releasing",
	[SPAN_CALL_RELEASED] = "released",
	[SPAN_CALL_OVERLAP] = "overlap",
};

const char *
span_call_state_name(enum span_call_state st)
{
	if ((size_t)st >= sizeof(span_call_state_names) / sizeof(span_call_state_names[0]))
		return "?";
	return span_call_state_names[st];
}

struct event_base *
span_base(void)
{
	return reg.base;
}

static const struct span_driver *
span_driver_find(enum cfg_span_driver d)
{
	switch (d) {
	case CFG_DRIVER_SIM:
		return &span_sim_driver;
	case CFG_DRIVER_DAHDI:
		return &span_dahdi_driver;
	default:
		return NULL;
	}
}

/* Copy of a config string list; 0 or ENOMEM. */
static int
span_strlist_copy(struct cfg_strlist *dst, const struct cfg_strlist *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n && i < CFG_MAX_LIST; i++) {
		if (src->v[i] == NULL)
			continue;
		if ((dst->v[dst->n] = strdup(src->v[i])) == NULL)
			return ENOMEM;
		dst->n++;
	}
	return 0;
}

static void
span_strlist_release(struct cfg_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	memset(l, 0, sizeof(*l));
}

void
span_phones_release(struct cfg_sim_phones *p)
{
	span_strlist_release(&p->echo);
	span_strlist_release(&p->tone);
	span_strlist_release(&p->busy);
	span_strlist_release(&p->noanswer);
	span_strlist_release(&p->ringanswer);
	span_strlist_release(&p->early);
	span_strlist_release(&p->congestion);
}

int
span_phones_copy(struct cfg_sim_phones *dst, const struct cfg_sim_phones *src)
{
	int error;

	memset(dst, 0, sizeof(*dst));
	if ((error = span_strlist_copy(&dst->echo, &src->echo)) != 0 ||
	    (error = span_strlist_copy(&dst->tone, &src->tone)) != 0 ||
	    (error = span_strlist_copy(&dst->busy, &src->busy)) != 0 ||
	    (error = span_strlist_copy(&dst->noanswer, &src->noanswer)) != 0 ||
	    (error = span_strlist_copy(&dst->ringanswer, &src->ringanswer)) != 0 ||
	    (error = span_strlist_copy(&dst->early, &src->early)) != 0 ||
	    (error = span_strlist_copy(&dst->congestion, &src->congestion)) != 0)
		goto out;
	dst->tone_hz = src->tone_hz;
	dst->ring_seconds = src->ring_seconds;
	dst->drop_restart_acks = src->drop_restart_acks;
	return 0;
out:
	span_phones_release(dst);
	return error;
}

static int
span_str_eq(const char *a, const char *b)
{
	if (a == NULL || *a == '\0')
		return b == NULL || *b == '\0';
	return b != NULL && strcmp(a, b) == 0;
}

static int
span_nodetype(const struct cfg_span *cs)
{
	if (cs->driver == CFG_DRIVER_DAHDI && cs->signalling == CFG_SIG_PRI_NET)
		return PRI_NETWORK;
	return PRI_CPE;
}

/* Keys that need a new span when they change. A dahdi span that takes
 * its law from DAHDI keeps it while the config does not set one. */
static int
span_same_hardware(const struct span *s, const struct cfg_span *cs)
{
	const struct cfg_dahdi *a = &s->dahdi, *b = &cs->dahdi;
	int same_law;

	if (a->law_from_span)
		same_law = b->law_from_span;
	else
		same_law = !b->law_from_span && s->law == cs->law;
	return s->driver == cs->driver && s->type == cs->type && same_law &&
	    span_str_eq(s->switchtype, cs->switchtype) &&
	    s->ton == cs->ton && s->hunt == cs->hunt &&
	    s->channel_preferred == cs->channel_preferred &&
	    strcmp(s->national_prefix, cs->national_prefix != NULL ? cs->national_prefix : "") == 0 &&
	    strcmp(s->international_prefix, cs->international_prefix != NULL ?
	    cs->international_prefix : "") == 0 &&
	    s->nodetype == span_nodetype(cs) && a->span == b->span &&
	    a->dchannel == b->dchannel && a->n_bchannels == b->n_bchannels &&
	    memcmp(a->bchannels, b->bchannels, sizeof(a->bchannels[0]) * a->n_bchannels) == 0;
}

static void
span_call_free(struct span_call *sc)
{
	if (sc->ev_guard != NULL)
		event_free(sc->ev_guard);
	if (sc->ev_digits != NULL)
		event_free(sc->ev_digits);
	free(sc);
}

static void
span_free(struct span *s)
{
	for (size_t i = 0; i < s->nchans; i++) {
		struct span_call *sc = s->chans[i].call;

		if (sc == NULL)
			continue;
		span_pri_drop(sc);
		s->chans[i].call = NULL;
		span_call_free(sc);
	}
	if (s->ev_restart != NULL)
		event_free(s->ev_restart);
	if (s->ev_t316 != NULL)
		event_free(s->ev_t316);
	if (s->pri != NULL)
		span_pri_free(s->pri);
	if (s->drv != NULL && s->drv_state != NULL)
		s->drv->stop(s);
	log_info("span=%s freed", s->name);
	span_phones_release(&s->phones);
	free(s->switchtype);
	free(s->name);
	free(s);
}

static void
span_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct span_call *sc;
	struct span *s;

	while ((sc = TAILQ_FIRST(&reg.dead_calls)) != NULL) {
		TAILQ_REMOVE(&reg.dead_calls, sc, dead_entry);
		s = sc->span;
		span_call_free(sc);
		span_unref(s);
	}
	while ((s = TAILQ_FIRST(&reg.dead)) != NULL) {
		TAILQ_REMOVE(&reg.dead, s, entry);
		span_free(s);
	}
}

void
span_ref(struct span *s)
{
	s->refs++;
}

void
span_unref(struct span *s)
{
	if (--s->refs > 0)
		return;
	/* Only a draining span loses its last reference (the registry
	 * holds one on every live span); free it from the loop. */
	if (s->draining)
		TAILQ_REMOVE(&reg.draining, s, entry);
	else
		TAILQ_REMOVE(&reg.live, s, entry);
	TAILQ_INSERT_TAIL(&reg.dead, s, entry);
	event_active(reg.ev_reap, EV_TIMEOUT, 1);
}

static int
span_build_chans(struct span *s)
{
	int n = s->type == CFG_SPAN_T1 ? 24 : 31;

	s->nchans = 0;
	s->dchan = s->type == CFG_SPAN_T1 ? 24 : 16;
	for (int c = 1; c <= n; c++) {
		if (c == s->dchan)
			continue;
		s->chans[s->nchans].num = c;
		s->chans[s->nchans].call = NULL;
		s->nchans++;
	}
	return 0;
}

static int
span_new(const struct cfg_span *cs, struct span **out)
{
	struct span *s;
	int error;

	*out = NULL;
	if (cs->name == NULL || *cs->name == '\0')
		return EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ENOMEM;
	s->dfd = -1;
	s->refs = 1;
	s->base = reg.base;
	s->driver = cs->driver;
	s->type = cs->type;
	s->law = cs->law;
	s->nodetype = span_nodetype(cs);
	s->dahdi = cs->dahdi;
	s->ton = cs->ton;
	s->hunt = cs->hunt;
	s->blocked = cs->blocked;
	s->blocked_cfg = cs->blocked;
	s->channel_preferred = cs->channel_preferred;
	span_apply_keys(s, cs);
	span_copy_number(s->national_prefix, sizeof(s->national_prefix), cs->national_prefix);
	span_copy_number(s->international_prefix, sizeof(s->international_prefix),
	    cs->international_prefix);
	if ((s->name = strdup(cs->name)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if (cs->switchtype != NULL && (s->switchtype = strdup(cs->switchtype)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	if ((error = span_phones_copy(&s->phones, &cs->sim)) != 0)
		goto out;
	if ((s->pri_switch = span_pri_switch_parse(cs->switchtype, cs->type)) < 0) {
		log_error("span=%s unknown switchtype %s", s->name, cs->switchtype);
		error = EINVAL;
		goto out;
	}
	if ((s->drv = span_driver_find(cs->driver)) == NULL) {
		log_error("span=%s driver not available in this build", s->name);
		error = ENOTSUP;
		goto out;
	}
	span_build_chans(s);
	*out = s;
	return 0;
out:
	span_phones_release(&s->phones);
	free(s->switchtype);
	free(s->name);
	free(s);
	return error;
}

static int
span_start(struct span *s)
{
	int error;

	if ((error = s->drv->start(s, &s->dfd)) != 0)
		return error;
	if ((error = span_pri_start(s)) != 0)
		return error;
	if (s->drv->started != NULL)
		s->drv->started(s);
	log_notice("span=%s started: driver %s, %s, %s, %zu B-channels, D-channel %d",
	    s->name, s->drv->name, s->type == CFG_SPAN_T1 ? "T1" : "E1",
	    s->law == CFG_LAW_ALAW ? "A-law" : "mu-law", s->nchans, s->dchan);
	return 0;
}

static size_t
span_ncalls(const struct span *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nchans; i++)
		if (s->chans[i].call != NULL)
			n++;
	return n;
}

static void
span_drain(struct span *s)
{
	TAILQ_REMOVE(&reg.live, s, entry);
	TAILQ_INSERT_TAIL(&reg.draining, s, entry);
	s->draining = 1;
	log_notice("span=%s draining: %zu calls left", s->name, span_ncalls(s));
	span_unref(s);
}

int
span_registry_init(struct event_base *base, span_incoming_cb cb, void *arg)
{
	if (reg.init)
		return EALREADY;
	memset(&reg, 0, sizeof(reg));
	TAILQ_INIT(&reg.live);
	TAILQ_INIT(&reg.draining);
	TAILQ_INIT(&reg.dead);
	TAILQ_INIT(&reg.dead_calls);
	if ((reg.ev_reap = event_new(base, -1, 0, span_on_reap, NULL)) == NULL)
		return ENOMEM;
	reg.base = base;
	reg.cb = cb;
	reg.arg = arg;
	reg.init = 1;
	return 0;
}

int
span_registry_apply(const struct cfg *cfg)
{
	struct span *s, *next;
	int error = 0, e;

	if (!reg.init)
		return EINVAL;
	for (s = TAILQ_FIRST(&reg.live); s != NULL; s = next) {
		const struct cfg_span *cs = NULL;

		next = TAILQ_NEXT(s, entry);
		for (size_t i = 0; i < cfg->n_spans; i++)
			if (cfg->spans[i].name != NULL && strcmp(cfg->spans[i].name, s->name) == 0)
				cs = &cfg->spans[i];
		if (cs == NULL || !span_same_hardware(s, cs)) {
			span_drain(s);
			continue;
		}
		/* Reloadable keys, in place. */
		struct cfg_sim_phones phones;

		if ((e = span_phones_copy(&phones, &cs->sim)) != 0) {
			error = e;
			continue;
		}
		span_phones_release(&s->phones);
		s->phones = phones;
		s->dahdi.echocancel = cs->dahdi.echocancel;
		span_apply_keys(s, cs);
		s->blocked_cfg = cs->blocked;
		span_set_blocked(s);
		if (s->drv->reload != NULL)
			s->drv->reload(s);
		log_info("span=%s reloaded in place", s->name);
	}
	for (size_t i = 0; i < cfg->n_spans; i++) {
		const struct cfg_span *cs = &cfg->spans[i];

		if (cs->name != NULL && span_find(cs->name) != NULL)
			continue;
		if ((e = span_new(cs, &s)) != 0) {
			error = e;
			continue;
		}
		TAILQ_INSERT_TAIL(&reg.live, s, entry);
		if ((e = span_start(s)) != 0) {
			log_error("span=%s cannot start: %s", s->name, strerror(e));
			TAILQ_REMOVE(&reg.live, s, entry);
			span_free(s);
			error = e;
		}
	}
	return error;
}

void
span_registry_shutdown(void)
{
	struct span_call *sc;
	struct span *s;

	if (!reg.init)
		return;
	while ((sc = TAILQ_FIRST(&reg.dead_calls)) != NULL) {
		TAILQ_REMOVE(&reg.dead_calls, sc, dead_entry);
		span_call_free(sc);
	}
	while ((s = TAILQ_FIRST(&reg.live)) != NULL) {
		TAILQ_REMOVE(&reg.live, s, entry);
		span_free(s);
	}
	while ((s = TAILQ_FIRST(&reg.draining)) != NULL) {
		TAILQ_REMOVE(&reg.draining, s, entry);
		span_free(s);
	}
	while ((s = TAILQ_FIRST(&reg.dead)) != NULL) {
		TAILQ_REMOVE(&reg.dead, s, entry);
		span_free(s);
	}
	event_free(reg.ev_reap);
	memset(&reg, 0, sizeof(reg));
}

struct span *
span_find(const char *name)
{
	struct span *s;

	if (!reg.init || name == NULL)
		return NULL;
	TAILQ_FOREACH(s, &reg.live, entry)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

size_t
span_active_calls(void)
{
	struct span *s;
	size_t n = 0;

	if (!reg.init)
		return 0;
	TAILQ_FOREACH(s, &reg.live, entry)
		n += span_ncalls(s);
	TAILQ_FOREACH(s, &reg.draining, entry)
		n += span_ncalls(s);
	return n;
}

void
span_status_write(struct evbuffer *out)
{
	struct span *s;

	if (!reg.init)
		return;
	TAILQ_FOREACH(s, &reg.live, entry)
		evbuffer_add_printf(out, "span %s %s%s calls=%zu\n", s->name,
		    s->up ? "up" : "down", s->blocked ? " blocked" : "", span_ncalls(s));
	TAILQ_FOREACH(s, &reg.draining, entry)
		evbuffer_add_printf(out, "span %s draining calls=%zu\n", s->name,
		    span_ncalls(s));
}

void
span_registry_counts(size_t *live, size_t *draining)
{
	struct span *s;

	*live = *draining = 0;
	if (!reg.init)
		return;
	TAILQ_FOREACH(s, &reg.live, entry)
		(*live)++;
	TAILQ_FOREACH(s, &reg.draining, entry)
		(*draining)++;
	TAILQ_FOREACH(s, &reg.dead, entry)
		(*draining)++;
}

const char *
span_name(const struct span *s)
{
	return s->name;
}

enum cfg_law
span_law(const struct span *s)
{
	return s->law;
}

/* The one place the span's blocked state changes. */
static void
span_set_blocked(struct span *s)
{
	int blocked = s->blocked_cfg || s->blocked_ctl;

	if (s->blocked == blocked)
		return;
	s->blocked = blocked;
	log_notice("span=%s %s", s->name, blocked ? "blocked: no new calls" : "unblocked");
	span_pri_service_sync(s);
}

int
span_block(const char *name, int blocked)
{
	struct span *s;

	if ((s = span_find(name)) == NULL)
		return ENOENT;
	log_info("span=%s %s by the control interface (%zu calls up)", s->name,
	    blocked ? "block" : "unblock", span_ncalls(s));
	s->blocked_ctl = blocked != 0;
	span_set_blocked(s);
	return 0;
}

void
span_clock_tick(struct span *s, uint64_t late_us)
{
	s->has_clock = 1;
	s->clock_ticks++;
	if (late_us > 1000)
		s->clock_late_1ms++;
	if (late_us > 5000)
		s->clock_late_5ms++;
	if (late_us > s->clock_late_max_us)
		s->clock_late_max_us = late_us;
}

static void
span_list_one(struct evbuffer *out, const struct span *s, const char *state)
{
	size_t nfree = 0, nrst = 0, noos = 0;

	for (size_t i = 0; i < s->nchans; i++) {
		const struct span_chan *ch = &s->chans[i];

		if (ch->restarting || ch->need_restart)
			nrst++;
		else if (ch->out_of_service)
			noos++;
		else if (ch->call == NULL)
			nfree++;
	}
	evbuffer_add_printf(out, "span %s %s blocked=%s calls=%zu free=%zu restarting=%zu"
	    " out_of_service=%zu switchtype=%s", s->name, state,
	    s->blocked_ctl ? "ctl" : s->blocked_cfg ? "config" : "no", span_ncalls(s), nfree,
	    nrst, noos, s->switchtype != NULL ? s->switchtype : "default");
	if (s->has_clock)
		evbuffer_add_printf(out, " clock_ticks=%lu clock_late_1ms=%lu clock_late_5ms=%lu"
		    " clock_late_max_ms=%.1f\n", s->clock_ticks, s->clock_late_1ms,
		    s->clock_late_5ms, (double)s->clock_late_max_us / 1000.0);
	else
		evbuffer_add_printf(out, " clock_ticks=- clock_late_1ms=- clock_late_5ms=-"
		    " clock_late_max_ms=-\n");
}

void
span_list_write(struct evbuffer *out)
{
	struct span *s;

	if (!reg.init)
		return;
	TAILQ_FOREACH(s, &reg.live, entry)
		span_list_one(out, s, s->up ? "up" : "down");
	TAILQ_FOREACH(s, &reg.draining, entry)
		span_list_one(out, s, "draining");
}

int
span_restart(const char *name)
{
	struct span *s;

	if ((s = span_find(name)) == NULL)
		return ENOENT;
	if (!s->up)
		return ENOTCONN;
	for (size_t i = 0; i < s->nchans; i++)
		if (s->chans[i].call == NULL && !s->chans[i].restarting)
			s->chans[i].need_restart = 1;
	log_notice("span=%s RESTART of the idle B-channels (control interface)", s->name);
	span_pri_restart_lost(s);
	return 0;
}

int
span_is_up(const struct span *s)
{
	return s->up && !s->draining;
}

static span_number_len_cb span_number_len;

void
span_set_number_len_cb(span_number_len_cb cb)
{
	span_number_len = cb;
}

unsigned int
span_overlap_want(const char *number)
{
	return span_number_len != NULL ? span_number_len(number) : 0;
}

int
span_overlap_add(char *number, size_t len, const char *digits, int sending_complete,
    unsigned int want)
{
	size_t n = strlen(number);

	for (const char *d = digits != NULL ? digits : ""; *d != '\0'; d++) {
		if (*d == '#')
			return 1;
		if (n + 1 >= len)
			return 1;
		number[n++] = *d;
		number[n] = '\0';
	}
	if (sending_complete)
		return 1;
	return want > 0 && n >= want;
}

int
span_call_digit(struct span_call *sc, char digit)
{
	if (sc == NULL || !sc->overlap_tx || sc->state != SPAN_CALL_DIALING ||
	    sc->pcall == NULL || sc->span->pri == NULL)
		return EAGAIN;
	if (pri_information(span_pri_ctrl(sc->span->pri), sc->pcall, digit) != 0)
		return EIO;
	log_call(LOG_LEVEL_INFO, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d INFORMATION digit %c (overlap sending)", sc->span->name,
	    sc->channel, digit);
	if (strlen(sc->called) + 1 < sizeof(sc->called))
		strncat(sc->called, &digit, 1);
	span_pri_rearm(sc->span->pri);
	return 0;
}

const char *
span_tonezone(const struct span *s)
{
	return s->tonezone[0] != '\0' ? s->tonezone : NULL;
}

/* The reloadable keys that the span reads when it needs them. */
static void
span_apply_keys(struct span *s, const struct cfg_span *cs)
{
	snprintf(s->tonezone, sizeof(s->tonezone), "%s", cs->tonezone != NULL ? cs->tonezone : "");
	s->overlap = cs->overlap;
	s->digit_timeout = cs->digit_timeout > 0 ? cs->digit_timeout : 5;
	s->restart_timeout = cs->restart_timeout > 0 ? cs->restart_timeout : 120;
	s->restart_attempts = cs->restart_attempts > 0 ? cs->restart_attempts : 3;
	s->restart_on_up = cs->restart_on_up;
}

void
span_copy_number(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strnlen(src, len - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

uint8_t
span_silence(enum cfg_law law)
{
	return law == CFG_LAW_ULAW ? SPAN_SILENCE_ULAW : SPAN_SILENCE_ALAW;
}

/* RESTART the channels that lost calls while the span was down and, with
 * restart_on_up, every idle one. */
static void
span_restart_on_up(struct span *s)
{
	if (!s->up || s->pri == NULL)
		return;
	if (s->restart_on_up) {
		size_t n = 0;

		for (size_t i = 0; i < s->nchans; i++) {
			struct span_chan *ch = &s->chans[i];

			if (ch->call == NULL && !ch->restarting && !ch->need_restart) {
				ch->need_restart = 1;
				n++;
			}
		}
		if (n > 0)
			log_notice("span=%s up: RESTART of %zu idle B-channel%s", s->name, n,
			    n == 1 ? "" : "s");
	}
	span_pri_restart_lost(s);
}

static void
span_on_restart(evutil_socket_t fd, short what, void *arg)
{
	span_restart_on_up(arg);
}

/* The one place the span goes up or down. Channels are restarted
 * SPAN_RESTART_DELAY_MS after the span comes up, at start-up as on
 * recovery: right at the D-channel's first establishment the far end may
 * still reset its layer 2 (seen with real DAHDI spans), and a reset
 * discards the RESTARTs queued in it, leaving their channels out of the
 * hunt until T316. */
static void
span_update_up(struct span *s)
{
	struct timeval tv = { SPAN_RESTART_DELAY_MS / 1000, (SPAN_RESTART_DELAY_MS % 1000) * 1000 };

	int up = s->dchan_up && !s->alarmed;

	if (s->up == up)
		return;
	s->up = up;
	log_notice("span=%s %s (D-channel %s, %s)", s->name, up ? "up" : "down",
	    s->dchan_up ? "up" : "down", s->alarmed ? "in alarm" : "no alarm");
	if (up) {
		if (s->ev_restart == NULL)
			s->ev_restart = evtimer_new(s->base, span_on_restart, s);
		if (s->ev_restart == NULL || evtimer_add(s->ev_restart, &tv) != 0)
			span_pri_restart_lost(s);
		return;
	}
	if (s->ev_restart != NULL)
		evtimer_del(s->ev_restart);
	for (size_t i = 0; i < s->nchans; i++) {
		struct span_call *sc = s->chans[i].call;

		if (sc == NULL)
			continue;
		s->chans[i].need_restart = 1;
		span_call_notify_hangup(sc, PRI_CAUSE_NETWORK_OUT_OF_ORDER);
		span_pri_drop(sc);
		span_call_finish(sc);
	}
}

void
span_set_up(struct span *s, int up)
{
	if (s->dchan_up == up)
		return;
	s->dchan_up = up;
	log_notice("span=%s D-channel %s", s->name, up ? "up" : "down");
	span_update_up(s);
}

void
span_set_alarm(struct span *s, int alarmed)
{
	if (s->alarmed == alarmed)
		return;
	s->alarmed = alarmed;
	log_notice("span=%s layer 1 %s", s->name, alarmed ? "in alarm" : "alarm cleared");
	span_update_up(s);
}

struct span_chan *
span_chan_find(struct span *s, int channel)
{
	for (size_t i = 0; i < s->nchans; i++)
		if (s->chans[i].num == channel)
			return &s->chans[i];
	return NULL;
}

int
span_hunt_index(enum cfg_hunt hunt, const int *free, size_t n, size_t *next)
{
	size_t k;

	switch (hunt) {
	case CFG_HUNT_DESCENDING:
		for (k = n; k-- > 0;)
			if (free[k])
				return (int)k;
		return -1;
	case CFG_HUNT_ROUNDROBIN:
		for (size_t i = 0; i < n; i++) {
			k = (*next + i) % n;
			if (free[k]) {
				*next = (k + 1) % n;
				return (int)k;
			}
		}
		return -1;
	default:
		for (k = 0; k < n; k++)
			if (free[k])
				return (int)k;
		return -1;
	}
}

struct span_chan *
span_chan_pick(struct span *s)
{
	int free[SPAN_MAX_CHANS], i;

	for (size_t k = 0; k < s->nchans; k++)
		free[k] = s->chans[k].call == NULL && !s->chans[k].restarting &&
		    !s->chans[k].need_restart && !s->chans[k].out_of_service;
	if ((i = span_hunt_index(s->hunt, free, s->nchans, &s->hunt_next)) < 0)
		return NULL;
	return &s->chans[i];
}

struct span_call *
span_call_alloc(struct span *s, struct span_chan *ch, int outbound)
{
	struct span_call *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->span = s;
	span_ref(s);
	sc->channel = ch->num;
	sc->pri_channel = ch->num;
	sc->outbound = outbound;
	sc->state = SPAN_CALL_NULL;
	ch->call = sc;
	return sc;
}

void
span_call_set_state(struct span_call *sc, enum span_call_state st)
{
	if (sc->state == st)
		return;
	log_call(LOG_LEVEL_INFO, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d state %s -> %s", sc->span->name, sc->channel,
	    span_call_state_name(sc->state), span_call_state_name(st));
	sc->state = st;
	if (st != SPAN_CALL_DIALING)
		sc->overlap_tx = 0;
}

void
span_call_finish(struct span_call *sc)
{
	struct span_chan *ch;

	if (sc->state == SPAN_CALL_RELEASED)
		return;
	span_call_set_state(sc, SPAN_CALL_RELEASED);
	sc->cbs = NULL;
	sc->owner = NULL;
	if ((ch = span_chan_find(sc->span, sc->channel)) != NULL && ch->call == sc)
		ch->call = NULL;
	for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
		if (sc->span->glared[i] == sc)
			sc->span->glared[i] = NULL;
	if (sc->ev_guard != NULL)
		event_del(sc->ev_guard);
	if (sc->ev_digits != NULL)
		event_del(sc->ev_digits);
	TAILQ_INSERT_TAIL(&reg.dead_calls, sc, dead_entry);
	event_active(reg.ev_reap, EV_TIMEOUT, 1);
}

void
span_call_notify_hangup(struct span_call *sc, int cause)
{
	const struct span_call_cbs *cbs = sc->cbs;
	void *owner = sc->owner;

	sc->cbs = NULL;
	sc->owner = NULL;
	if (cbs == NULL)
		return;
	log_call(LOG_LEVEL_INFO, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d hangup cause %d", sc->span->name, sc->channel, cause);
	if (cbs->hangup != NULL)
		cbs->hangup(owner, cause);
}

int
span_call_audio_flows(const struct span_call *sc)
{
	switch (sc->state) {
	case SPAN_CALL_CONNECTED:
	case SPAN_CALL_CONNECTING:
		return 1;
	case SPAN_CALL_DIALING:
	case SPAN_CALL_PROCEEDING:
	case SPAN_CALL_ALERTING:
		return sc->outbound && sc->inband;
	default:
		return 0;
	}
}

void
span_call_take_tx(struct span_call *sc, uint8_t *frame)
{
	if (sc != NULL && sc->tx_ready) {
		memcpy(frame, sc->tx, SPAN_FRAME_BYTES);
		sc->tx_ready = 0;
		return;
	}
	memset(frame, span_silence(sc != NULL ? sc->span->law : CFG_LAW_ALAW), SPAN_FRAME_BYTES);
}

void
span_call_prefetch(const struct span_call *sc, unsigned int stage)
{
	switch (stage) {
	case 0:
		/* the header, then the frame the owner wrote */
		cache_prefetch(sc, offsetof(struct span_call, tx) + SPAN_FRAME_BYTES);
		break;
	case 1:
	case 2:
	case 3:
		if (sc->cbs != NULL && sc->cbs->prefetch != NULL)
			sc->cbs->prefetch(sc->owner, stage - 1);
		break;
	default:
		break;
	}
}

void
span_call_deliver(struct span_call *sc, const uint8_t *frame)
{
	if (sc->cbs != NULL && sc->cbs->audio != NULL)
		sc->cbs->audio(sc->owner, frame, SPAN_FRAME_BYTES);
}

void
span_incoming(struct span *s, struct span_call *sc)
{
	struct span_incoming in;

	in.span = s;
	in.sc = sc;
	in.called = sc->called;
	in.calling = sc->calling;
	in.calling_name = sc->calling_name;
	in.calling_restricted = sc->calling_restricted;
	in.calling_ton = sc->calling_ton;
	in.redirecting = sc->redirecting;
	if (reg.cb != NULL)
		reg.cb(reg.arg, &in);
	if (sc->state == SPAN_CALL_OFFERED && sc->cbs == NULL) {
		log_info("span=%s chan=%d inbound call to %s not taken", s->name,
		    sc->channel, sc->called);
		span_pri_hangup(sc, PRI_CAUSE_CALL_REJECTED);
	}
}

int
span_call_new(struct span *s, const char *called, const char *calling,
    const struct span_call_cbs *cbs, void *owner, struct span_call **out, int *cause)
{
	return span_call_new_party(s, called, calling, NULL, cbs, owner, out, cause);
}

int
span_call_new_party(struct span *s, const char *called, const char *calling,
    const struct span_party *party, const struct span_call_cbs *cbs, void *owner,
    struct span_call **out, int *cause)
{
	struct span_call *sc;
	struct span_chan *ch;
	int error;

	*out = NULL;
	*cause = 0;
	if (s == NULL || called == NULL || *called == '\0' ||
	    strlen(called) >= SPAN_NUMBER_LEN ||
	    (calling != NULL && strlen(calling) >= SPAN_NUMBER_LEN)) {
		*cause = PRI_CAUSE_INVALID_NUMBER_FORMAT;
		return EINVAL;
	}
	if (s->draining) {
		*cause = PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION;
		return EAGAIN;
	}
	if (s->blocked) {
		log_info("span=%s call to %s refused: span blocked", s->name, called);
		*cause = PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION;
		return EAGAIN;
	}
	if (!s->up) {
		log_debug("span=%s call to %s refused: span down", s->name, called);
		*cause = PRI_CAUSE_NETWORK_OUT_OF_ORDER;
		return ENOTCONN;
	}
	if ((ch = span_chan_pick(s)) == NULL) {
		log_debug("span=%s call to %s refused: all channels busy", s->name, called);
		*cause = PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION;
		return EBUSY;
	}
	if ((sc = span_call_alloc(s, ch, 1)) == NULL) {
		*cause = PRI_CAUSE_SWITCH_CONGESTION;
		return ENOMEM;
	}
	sc->cbs = cbs;
	sc->owner = owner;
	snprintf(sc->called, sizeof(sc->called), "%s", called);
	snprintf(sc->calling, sizeof(sc->calling), "%s", calling != NULL ? calling : "");
	if (party != NULL) {
		snprintf(sc->calling_name, sizeof(sc->calling_name), "%s",
		    party->calling_name != NULL ? party->calling_name : "");
		span_copy_number(sc->redirecting, sizeof(sc->redirecting), party->redirecting);
		sc->calling_restricted = party->calling_restricted != 0;
	}
	if ((error = span_pri_setup(sc)) != 0) {
		sc->cbs = NULL;
		span_call_finish(sc);
		*cause = PRI_CAUSE_NETWORK_OUT_OF_ORDER;
		return error;
	}
	span_call_set_state(sc, SPAN_CALL_DIALING);
	*out = sc;
	return 0;
}

void
span_call_set_callid(struct span_call *sc, const char *callid)
{
	snprintf(sc->logid, sizeof(sc->logid), "%s", callid != NULL ? callid : "");
}

void
span_call_attach(struct span_call *sc, const struct span_call_cbs *cbs, void *owner)
{
	if (sc->state == SPAN_CALL_RELEASING || sc->state == SPAN_CALL_RELEASED)
		return;
	sc->cbs = cbs;
	sc->owner = owner;
}

void
span_call_proceeding(struct span_call *sc)
{
	if (sc->outbound || sc->state != SPAN_CALL_OFFERED)
		return;
	span_pri_proceeding(sc);
}

void
span_call_alerting(struct span_call *sc)
{
	if (sc->outbound || (sc->state != SPAN_CALL_OFFERED &&
	    sc->state != SPAN_CALL_PROCEEDING))
		return;
	span_pri_alerting(sc);
}

void
span_call_answer(struct span_call *sc)
{
	if (sc->outbound || (sc->state != SPAN_CALL_OFFERED &&
	    sc->state != SPAN_CALL_PROCEEDING && sc->state != SPAN_CALL_ALERTING))
		return;
	span_pri_answer(sc);
}

void
span_call_hangup(struct span_call *sc, int cause)
{
	if (sc == NULL)
		return;
	sc->cbs = NULL;
	sc->owner = NULL;
	if (sc->state == SPAN_CALL_RELEASING || sc->state == SPAN_CALL_RELEASED)
		return;
	if (cause <= 0 || cause > 127)
		cause = PRI_CAUSE_NORMAL_CLEARING;
	span_pri_hangup(sc, cause);
}

void
span_call_write(struct span_call *sc, const uint8_t *frame, size_t len)
{
	if (sc == NULL || frame == NULL)
		return;
	if (len > SPAN_FRAME_BYTES)
		len = SPAN_FRAME_BYTES;
	memcpy(sc->tx, frame, len);
	if (len < SPAN_FRAME_BYTES)
		memset(sc->tx + len, span_silence(sc->span->law), SPAN_FRAME_BYTES - len);
	sc->tx_ready = 1;
}

int
span_call_channel(const struct span_call *sc)
{
	return sc->channel;
}

struct span *
span_call_span(const struct span_call *sc)
{
	return sc->span;
}
