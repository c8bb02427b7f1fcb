/* The dahdi driver: a T1/E1 span on a DAHDI card (or any DAHDI span).
 *
 * The D-channel is a DAHDI channel configured as HDLC by dahdi_cfg
 * (hardhdlc on cards, dchan on software spans): one read or write per
 * frame, 2 FCS bytes at the end both ways, which is what libpri reads and
 * writes, so span_pri.c runs on it through a span_pri_io. B-channels are
 * clear channels opened with DAHDI_SPECIFY, block size 160, the span's law
 * set on each; while a call's audio flows, every 160-byte block read is
 * handed to the call and answered with one block written (the card's clock
 * paces both ways), DAHDI_TX_PRIME blocks queued ahead.
 *
 * DAHDI reports events (alarms, HDLC errors, ...) with POLLPRI or a read
 * failing with ELAST; libevent polls for reading only, so the D-channel's
 * events are also fetched every tick. Alarms take the span out of service
 * (span_set_alarm). Every system call goes through dahdi_ops. */
#include "span/span_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <dahdi/user.h>
#include <event2/event.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <spandsp/fir.h>
#include <spandsp/modem_echo.h>

#include "core/log.h"
#include "span/dahdi_ops.h"

/* Blocks queued ahead on a B-channel when audio starts: how much a late
 * loop iteration can be absorbed before DAHDI sends idle bytes. */
#define DAHDI_TX_PRIME 4
#define DAHDI_AUDIO_BUFS 8
#define DAHDI_HDLC_BUFS 32
#define DAHDI_HDLC_BUFSIZE 1024
#define DAHDI_READ_BURST 8
#define DAHDI_EVENT_BURST 32
/* Highest channel number looked at when finding the channels of a span. */
#define DAHDI_MAX_CHANNO 1024
/* Blocks read before a B-channel's error counters are logged again. */

struct dahdi_span;

struct dahdi_bchan {
	struct dahdi_span *ds;
	int num;                        /* ISDN channel number (span_chan.num) */
	int channo;                     /* DAHDI channel number */
	int fd;                         /* owned */
	struct event *ev_read;          /* owned; added while audio flows */
	struct span_call *call;         /* whose audio flows; not owned */
	int hwec;                       /* DAHDI's echo canceller is on */
	modem_echo_can_state_t *ec;     /* SpanDSP's canceller (owned) */
	uint8_t rx[SPAN_FRAME_BYTES];
	size_t rxlen;
	/* What was written, for the canceller: the block going out now
	 * was written DAHDI_TX_PRIME blocks ago. */
	uint8_t txhist[DAHDI_TX_PRIME][SPAN_FRAME_BYTES];
	unsigned int txpos;
	unsigned long blocks_in, blocks_out, write_fails, short_reads;
};

struct dahdi_span {
	struct span *span;
	const struct dahdi_ops *ops;
	int dfd;                        /* D-channel (owned) */
	int dchanno;
	struct span_pri_io io;
	struct event *ev_tick;          /* owned */
	struct dahdi_bchan b[SPAN_MAX_CHANS];   /* b[i] is span->chans[i] */
	size_t nb;
	int alarms;                     /* DAHDI_ALARM_* last seen */
	int hwec_missing_logged;
	unsigned long hdlc_aborts, hdlc_overruns, hdlc_badfcs, events;
};

static struct log_ratelimit dahdi_rl_hdlc;
static struct log_ratelimit dahdi_rl_io;
static struct log_ratelimit dahdi_rl_event;

/* ---- opening channels ---- */

static int
dahdi_is_hdlc(int sigtype)
{
	return sigtype == DAHDI_SIG_HARDHDLC ||
	    (sigtype & DAHDI_SIG_HDLCFCS) == DAHDI_SIG_HDLCFCS;
}

static int
dahdi_law_value(enum cfg_law law)
{
	return law == CFG_LAW_ULAW ? DAHDI_LAW_MULAW : DAHDI_LAW_ALAW;
}

/* Open DAHDI channel channo, with its buffers set for HDLC frames or for
 * 160-byte audio blocks; its parameters in *par. 0 or an errno code. */
static int
dahdi_chan_open(struct dahdi_span *ds, int channo, int hdlc, int *fdp,
    struct dahdi_params *par)
{
	const struct dahdi_ops *ops = ds->ops;
	const char *name = ds->span->name;
	struct dahdi_bufferinfo bi;
	int fd, error, bs = SPAN_FRAME_BYTES;
	const char *what;

	*fdp = -1;
	if ((fd = ops->open(DAHDI_OPS_CHANNEL_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		error = errno;
		log_error("span=%s open %s: %s", name, DAHDI_OPS_CHANNEL_PATH, strerror(error));
		return error;
	}
	what = "DAHDI_SPECIFY";
	if (ops->ioctl(fd, DAHDI_SPECIFY, &channo) != 0)
		goto fail;
	memset(par, 0, sizeof(*par));
	what = "DAHDI_GET_PARAMS";
	if (ops->ioctl(fd, DAHDI_GET_PARAMS, par) != 0)
		goto fail;
	memset(&bi, 0, sizeof(bi));
	bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
	bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
	bi.numbufs = hdlc ? DAHDI_HDLC_BUFS : DAHDI_AUDIO_BUFS;
	bi.bufsize = hdlc ? DAHDI_HDLC_BUFSIZE : SPAN_FRAME_BYTES;
	what = "DAHDI_SET_BUFINFO";
	if (ops->ioctl(fd, DAHDI_SET_BUFINFO, &bi) != 0)
		goto fail;
	if (!hdlc) {
		what = "DAHDI_SET_BLOCKSIZE";
		if (ops->ioctl(fd, DAHDI_SET_BLOCKSIZE, &bs) != 0)
			goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	error = errno;
	log_error("span=%s channel %d: %s: %s", name, channo, what, strerror(error));
	ops->close(fd);
	return error;
}

/* Set the law of a B-channel; with law_from_span, learn the span's first. */
static int
dahdi_chan_law(struct dahdi_span *ds, struct dahdi_bchan *b)
{
	struct span *s = ds->span;
	struct dahdi_params par;
	int law;

	if (s->dahdi.law_from_span && b == &ds->b[0]) {
		law = DAHDI_LAW_DEFAULT;
		memset(&par, 0, sizeof(par));
		if (ds->ops->ioctl(b->fd, DAHDI_SETLAW, &law) != 0 ||
		    ds->ops->ioctl(b->fd, DAHDI_GET_PARAMS, &par) != 0) {
			log_error("span=%s channel %d: cannot read the span's law: %s",
			    s->name, b->channo, strerror(errno));
			return errno;
		}
		s->law = par.curlaw == DAHDI_LAW_ALAW ? CFG_LAW_ALAW : CFG_LAW_ULAW;
		log_info("span=%s law %s, from DAHDI", s->name,
		    s->law == CFG_LAW_ALAW ? "alaw" : "ulaw");
	}
	law = dahdi_law_value(s->law);
	if (ds->ops->ioctl(b->fd, DAHDI_SETLAW, &law) != 0) {
		log_error("span=%s channel %d: DAHDI_SETLAW: %s", s->name, b->channo,
		    strerror(errno));
		return errno;
	}
	return 0;
}

/* The channels of DAHDI span `spanno`: its HDLC channel and its clear
 * channels, looked up through /dev/dahdi/ctl. */
static int
dahdi_find_span(struct dahdi_span *ds, int spanno, int *dchan, int *bchans, size_t *nb)
{
	const struct dahdi_ops *ops = ds->ops;
	struct dahdi_spaninfo si;
	struct dahdi_params par;
	int ctl, error = 0, found = 0;

	*dchan = 0;
	*nb = 0;
	if ((ctl = ops->open(DAHDI_OPS_CTL_PATH, O_RDWR | O_CLOEXEC)) < 0) {
		error = errno;
		log_error("span=%s open %s: %s", ds->span->name, DAHDI_OPS_CTL_PATH,
		    strerror(error));
		return error;
	}
	memset(&si, 0, sizeof(si));
	si.spanno = spanno;
	if (ops->ioctl(ctl, DAHDI_SPANSTAT, &si) != 0) {
		error = errno;
		log_error("span=%s DAHDI span %d: %s", ds->span->name, spanno, strerror(error));
		goto out;
	}
	for (int c = 1; c <= DAHDI_MAX_CHANNO && found < si.numchans; c++) {
		memset(&par, 0, sizeof(par));
		par.channo = c;
		if (ops->ioctl(ctl, DAHDI_GET_PARAMS, &par) != 0 || par.spanno != spanno)
			continue;
		found++;
		if (dahdi_is_hdlc(par.sigtype) && *dchan == 0)
			*dchan = c;
		else if (par.sigtype == DAHDI_SIG_CLEAR && *nb < SPAN_MAX_CHANS)
			bchans[(*nb)++] = c;
		else
			log_info("span=%s DAHDI channel %d (sigtype 0x%x) not used", ds->span->name,
			    c, par.sigtype);
	}
	if (*dchan == 0 || *nb == 0) {
		log_error("span=%s DAHDI span %d has %s (configure it with dahdi_cfg: "
		    "hardhdlc or dchan, and bchan)", ds->span->name, spanno,
		    *dchan == 0 ? "no HDLC channel" : "no clear channel");
		error = ENODEV;
	}
out:
	ops->close(ctl);
	return error;
}

/* ---- events ---- */

static int
dahdi_span_alarms(struct dahdi_span *ds)
{
	struct dahdi_spaninfo si;

	memset(&si, 0, sizeof(si));
	si.spanno = 0;          /* the span of the descriptor's channel */
	if (ds->ops->ioctl(ds->dfd, DAHDI_SPANSTAT, &si) != 0)
		return -1;
	return si.alarms;
}

static void
dahdi_set_alarms(struct dahdi_span *ds, int alarms, const char *why)
{
	char buf[128];

	ds->alarms = alarms;
	if (alarms != 0)
		log_warnx("span=%s alarm: %s (%s)", ds->span->name,
		    dahdi_ops_alarm_str(alarms, buf, sizeof(buf)), why);
	else
		log_notice("span=%s no alarm (%s)", ds->span->name, why);
	span_set_alarm(ds->span, alarms != 0);
}

/* One event of the D-channel (dchan) or of B-channel b. */
static void
dahdi_event(struct dahdi_span *ds, struct dahdi_bchan *b, int ev)
{
	const char *name = ds->span->name;
	int channo = b != NULL ? b->channo : ds->dchanno;
	int alarms;

	ds->events++;
	switch (ev) {
	case DAHDI_EVENT_ALARM:
		/* queued on every channel of the span: the D-channel's count */
		if (b != NULL)
			break;
		if ((alarms = dahdi_span_alarms(ds)) <= 0)
			alarms = DAHDI_ALARM_RED;       /* in alarm, whichever */
		dahdi_set_alarms(ds, alarms, "DAHDI_EVENT_ALARM");
		break;
	case DAHDI_EVENT_NOALARM:
		if (b != NULL)
			break;
		dahdi_set_alarms(ds, 0, "DAHDI_EVENT_NOALARM");
		break;
	case DAHDI_EVENT_REMOVED:
		if (b != NULL)
			break;
		log_error("span=%s DAHDI device removed: span out of service", name);
		ds->alarms |= DAHDI_ALARM_NOTOPEN;
		span_set_alarm(ds->span, 1);
		break;
	case DAHDI_EVENT_ABORT:
		ds->hdlc_aborts++;
		log_limited(&dahdi_rl_hdlc, LOG_LEVEL_WARN,
		    "span=%s channel %d: HDLC abort (%lu so far)", name, channo, ds->hdlc_aborts);
		break;
	case DAHDI_EVENT_OVERRUN:
		ds->hdlc_overruns++;
		log_limited(&dahdi_rl_hdlc, LOG_LEVEL_WARN,
		    "span=%s channel %d: HDLC overrun (%lu so far)", name, channo,
		    ds->hdlc_overruns);
		break;
	case DAHDI_EVENT_BADFCS:
		ds->hdlc_badfcs++;
		log_limited(&dahdi_rl_hdlc, LOG_LEVEL_WARN,
		    "span=%s channel %d: HDLC frame with bad FCS dropped (%lu so far)", name,
		    channo, ds->hdlc_badfcs);
		break;
	case DAHDI_EVENT_EC_DISABLED:
		log_info("span=%s channel %d: DAHDI disabled the echo canceller (fax/modem tone)",
		    name, channo);
		return;
	case DAHDI_EVENT_READ_OVERRUN:
	case DAHDI_EVENT_WRITE_UNDERRUN:
		log_limited(&dahdi_rl_io, LOG_LEVEL_INFO, "span=%s channel %d: %s", name,
		    channo, dahdi_ops_event_name(ev));
		return;
	default:
		log_limited(&dahdi_rl_event, LOG_LEVEL_INFO,
		    "span=%s channel %d: DAHDI event %s (%d) ignored", name, channo,
		    dahdi_ops_event_name(ev), ev);
		return;
	}
	if (b != NULL && (ev == DAHDI_EVENT_ALARM || ev == DAHDI_EVENT_NOALARM ||
	    ev == DAHDI_EVENT_REMOVED))
		log_debug("span=%s channel %d: DAHDI event %s", name, channo,
		    dahdi_ops_event_name(ev));
}

/* Fetch and handle the events waiting on fd. */
static void
dahdi_events(struct dahdi_span *ds, struct dahdi_bchan *b, int fd)
{
	for (int i = 0; i < DAHDI_EVENT_BURST; i++) {
		int ev = 0;

		if (ds->ops->ioctl(fd, DAHDI_GETEVENT, &ev) != 0) {
			log_limited(&dahdi_rl_io, LOG_LEVEL_WARN, "span=%s DAHDI_GETEVENT: %s",
			    ds->span->name, strerror(errno));
			return;
		}
		if (ev == DAHDI_EVENT_NONE)
			return;
		dahdi_event(ds, b, ev);
	}
}

/* ---- the D-channel for libpri ---- */

static ssize_t
dahdi_d_read(void *arg, void *buf, size_t len)
{
	struct dahdi_span *ds = arg;
	ssize_t n;

	if ((n = ds->ops->read(ds->dfd, buf, len)) >= 0)
		return n;
	if (errno == ELAST) {
		dahdi_events(ds, NULL, ds->dfd);
		return -1;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_limited(&dahdi_rl_io, LOG_LEVEL_WARN, "span=%s D-channel read: %s",
		    ds->span->name, strerror(errno));
	return 0;
}

static ssize_t
dahdi_d_write(void *arg, const void *buf, size_t len)
{
	struct dahdi_span *ds = arg;
	ssize_t n;

	for (int tries = 0; tries < 2; tries++) {
		if ((n = ds->ops->write(ds->dfd, buf, len)) >= 0)
			return n;
		if (errno != ELAST)
			break;
		dahdi_events(ds, NULL, ds->dfd);
	}
	log_limited(&dahdi_rl_io, LOG_LEVEL_WARN, "span=%s D-channel write: %s",
	    ds->span->name, strerror(errno));
	return -1;
}

/* ---- B-channel audio ---- */

static void
dahdi_ec_block(struct dahdi_bchan *b, enum cfg_law law, uint8_t *rx)
{
	const uint8_t *tx = b->txhist[b->txpos];

	for (size_t i = 0; i < SPAN_FRAME_BYTES; i++) {
		int16_t t, r, clean;

		if (law == CFG_LAW_ULAW) {
			t = ulaw_to_linear(tx[i]);
			r = ulaw_to_linear(rx[i]);
		} else {
			t = alaw_to_linear(tx[i]);
			r = alaw_to_linear(rx[i]);
		}
		clean = modem_echo_can_update(b->ec, t, r);
		rx[i] = law == CFG_LAW_ULAW ? linear_to_ulaw(clean) : linear_to_alaw(clean);
	}
}

static void
dahdi_bchan_write(struct dahdi_bchan *b, const uint8_t *frame)
{
	struct dahdi_span *ds = b->ds;
	ssize_t n;

	memcpy(b->txhist[b->txpos], frame, SPAN_FRAME_BYTES);
	b->txpos = (b->txpos + 1) % DAHDI_TX_PRIME;
	n = ds->ops->write(b->fd, frame, SPAN_FRAME_BYTES);
	if (n < 0 && errno == ELAST) {
		dahdi_events(ds, b, b->fd);
		n = ds->ops->write(b->fd, frame, SPAN_FRAME_BYTES);
	}
	if (n == SPAN_FRAME_BYTES) {
		b->blocks_out++;
		return;
	}
	b->write_fails++;
	log_limited(&dahdi_rl_io, LOG_LEVEL_WARN, "span=%s channel %d: write: %s (%lu failed)",
	    ds->span->name, b->channo, n < 0 ? strerror(errno) : "short", b->write_fails);
}

/* Echo cancellation for the call starting on b: DAHDI's when the channel
 * has one, else SpanDSP's here. */
static void
dahdi_ec_start(struct dahdi_bchan *b)
{
	struct dahdi_span *ds = b->ds;
	struct span *s = ds->span;
	union {
		struct dahdi_echocanparams p;
		uint8_t space[sizeof(struct dahdi_echocanparams) +
		    sizeof(struct dahdi_echocanparam)];
	} ecp;
	unsigned int ms = s->dahdi.echocancel;

	if (ms == 0)
		return;
	memset(&ecp, 0, sizeof(ecp));
	ecp.p.tap_length = ms * 8;
	ecp.p.param_count = 0;
	if (ds->ops->ioctl(b->fd, DAHDI_ECHOCANCEL_PARAMS, &ecp.p) == 0) {
		b->hwec = 1;
		log_debug("span=%s chan=%d DAHDI echo canceller on, %u ms", s->name, b->num, ms);
		return;
	}
	if (!ds->hwec_missing_logged) {
		log_info("span=%s no DAHDI echo canceller (%s): SpanDSP's, %u ms, in the daemon",
		    s->name, strerror(errno), ms);
		ds->hwec_missing_logged = 1;
	}
	if ((b->ec = modem_echo_can_init((int)ms * 8)) == NULL) {
		log_warnx("span=%s chan=%d no memory for an echo canceller", s->name, b->num);
		return;
	}
	modem_echo_can_adaption_mode(b->ec, 1);
}

static void
dahdi_ec_stop(struct dahdi_bchan *b)
{
	struct dahdi_echocanparams ecp;

	if (b->hwec) {
		memset(&ecp, 0, sizeof(ecp));
		b->ds->ops->ioctl(b->fd, DAHDI_ECHOCANCEL_PARAMS, &ecp);
		b->hwec = 0;
	}
	if (b->ec != NULL) {
		modem_echo_can_free(b->ec);
		b->ec = NULL;
	}
}

static void
dahdi_audio_start(struct dahdi_bchan *b, struct span_call *sc)
{
	struct dahdi_span *ds = b->ds;
	int flush = DAHDI_FLUSH_ALL;
	uint8_t silence[SPAN_FRAME_BYTES];

	/* Stale audio and events of the idle channel go. */
	if (ds->ops->ioctl(b->fd, DAHDI_FLUSH, &flush) != 0)
		log_limited(&dahdi_rl_io, LOG_LEVEL_WARN, "span=%s channel %d: DAHDI_FLUSH: %s",
		    ds->span->name, b->channo, strerror(errno));
	b->call = sc;
	b->rxlen = 0;
	b->txpos = 0;
	memset(silence, span_silence(ds->span->law), sizeof(silence));
	memset(b->txhist, silence[0], sizeof(b->txhist));
	dahdi_ec_start(b);
	for (int i = 0; i < DAHDI_TX_PRIME; i++)
		dahdi_bchan_write(b, silence);
	event_add(b->ev_read, NULL);
	log_call(LOG_LEVEL_DEBUG, sc->logid[0] != '\0' ? sc->logid : NULL,
	    "span=%s chan=%d audio on DAHDI channel %d", ds->span->name, b->num, b->channo);
}

static void
dahdi_audio_stop(struct dahdi_bchan *b)
{
	if (b->call == NULL)
		return;
	event_del(b->ev_read);
	dahdi_ec_stop(b);
	b->call = NULL;
	b->rxlen = 0;
	log_debug("span=%s chan=%d audio off (%lu blocks in, %lu out)", b->ds->span->name,
	    b->num, b->blocks_in, b->blocks_out);
}

/* Whether the call on channel i should have its audio flowing. */
static struct span_call *
dahdi_audio_call(struct dahdi_span *ds, size_t i)
{
	struct span_call *sc = ds->span->chans[i].call;

	return sc != NULL && span_call_audio_flows(sc) ? sc : NULL;
}

/* One block read: to the call, and one block back. */
static void
dahdi_bchan_block(struct dahdi_bchan *b, size_t i)
{
	struct dahdi_span *ds = b->ds;
	struct span_call *sc;
	uint8_t tx[SPAN_FRAME_BYTES];

	b->blocks_in++;
	if ((sc = dahdi_audio_call(ds, i)) != b->call) {
		dahdi_audio_stop(b);
		return;
	}
	if (b->ec != NULL)
		dahdi_ec_block(b, ds->span->law, b->rx);
	/* The owner may hang up from its callback; sc stays allocated until
	 * the loop frees it. */
	span_call_deliver(sc, b->rx);
	span_call_take_tx(sc, tx);
	dahdi_bchan_write(b, tx);
}

static void
dahdi_on_bchan(evutil_socket_t fd, short what, void *arg)
{
	struct dahdi_bchan *b = arg;
	struct dahdi_span *ds = b->ds;
	size_t i = (size_t)(b - ds->b);
	ssize_t n;

	for (int k = 0; k < DAHDI_READ_BURST && b->call != NULL; k++) {
		n = ds->ops->read(b->fd, b->rx + b->rxlen, SPAN_FRAME_BYTES - b->rxlen);
		if (n < 0) {
			if (errno == ELAST) {
				dahdi_events(ds, b, b->fd);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_limited(&dahdi_rl_io, LOG_LEVEL_WARN,
				    "span=%s channel %d: read: %s", ds->span->name, b->channo,
				    strerror(errno));
			return;
		}
		if (n == 0)
			return;
		b->rxlen += (size_t)n;
		if (b->rxlen < SPAN_FRAME_BYTES) {
			b->short_reads++;
			continue;
		}
		b->rxlen = 0;
		dahdi_bchan_block(b, i);
	}
}

/* ---- the tick: events, and audio on or off as the calls need it ---- */

static void
dahdi_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dahdi_span *ds = arg;

	dahdi_events(ds, NULL, ds->dfd);
	for (size_t i = 0; i < ds->nb; i++) {
		struct dahdi_bchan *b = &ds->b[i];
		struct span_call *sc = dahdi_audio_call(ds, i);

		if (sc == b->call)
			continue;
		dahdi_audio_stop(b);
		if (sc != NULL)
			dahdi_audio_start(b, sc);
	}
	if (ds->span->pri != NULL)
		span_pri_rearm(ds->span->pri);
}

/* ---- driver ---- */

static void
dahdi_free(struct dahdi_span *ds)
{
	for (size_t i = 0; i < ds->nb; i++) {
		struct dahdi_bchan *b = &ds->b[i];

		if (b->ev_read != NULL) {
			dahdi_audio_stop(b);
			event_free(b->ev_read);
		}
		if (b->fd >= 0)
			ds->ops->close(b->fd);
	}
	if (ds->ev_tick != NULL)
		event_free(ds->ev_tick);
	if (ds->dfd >= 0)
		ds->ops->close(ds->dfd);
	free(ds);
}

static int
dahdi_start(struct span *s, int *dfd)
{
	struct timeval tv = { 0, SPAN_TICK_MS * 1000 };
	struct dahdi_span *ds;
	struct dahdi_params par;
	int bchans[SPAN_MAX_CHANS], dchan, error;
	size_t nb;

	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return ENOMEM;
	ds->span = s;
	ds->ops = dahdi_ops_get();
	ds->dfd = -1;
	for (size_t i = 0; i < SPAN_MAX_CHANS; i++)
		ds->b[i].fd = -1;
	if (s->dahdi.span != 0) {
		if ((error = dahdi_find_span(ds, s->dahdi.span, &dchan, bchans, &nb)) != 0)
			goto out;
	} else {
		dchan = s->dahdi.dchannel;
		nb = s->dahdi.n_bchannels;
		if (nb == 0 || nb > SPAN_MAX_CHANS) {
			error = EINVAL;
			goto out;
		}
		memcpy(bchans, s->dahdi.bchannels, nb * sizeof(bchans[0]));
	}

	/* D-channel */
	ds->dchanno = dchan;
	if ((error = dahdi_chan_open(ds, dchan, 1, &ds->dfd, &par)) != 0)
		goto out;
	if (!dahdi_is_hdlc(par.sigtype)) {
		log_error("span=%s DAHDI channel %d is not an HDLC channel (sigtype 0x%x): "
		    "hardhdlc or dchan in system.conf", s->name, dchan, par.sigtype);
		error = EINVAL;
		goto out;
	}
	s->dchan = par.chanpos;

	/* B-channels */
	s->nchans = 0;
	for (size_t i = 0; i < nb; i++) {
		struct dahdi_bchan *b = &ds->b[i];

		b->ds = ds;
		b->channo = bchans[i];
		if ((error = dahdi_chan_open(ds, bchans[i], 0, &b->fd, &par)) != 0)
			goto out;
		ds->nb = i + 1;
		if (par.sigtype != DAHDI_SIG_CLEAR) {
			log_error("span=%s DAHDI channel %d is not a clear channel (sigtype 0x%x): "
			    "bchan in system.conf", s->name, bchans[i], par.sigtype);
			error = EINVAL;
			goto out;
		}
		if (par.chanpos < 1 || par.chanpos > SPAN_MAX_CHANS ||
		    span_chan_find(s, par.chanpos) != NULL || par.chanpos == s->dchan) {
			log_error("span=%s DAHDI channel %d: position %d in its span is not a "
			    "free B-channel number", s->name, bchans[i], par.chanpos);
			error = EINVAL;
			goto out;
		}
		b->num = par.chanpos;
		s->chans[i].num = par.chanpos;
		s->chans[i].call = NULL;
		s->nchans = i + 1;
		if ((error = dahdi_chan_law(ds, b)) != 0)
			goto out;
		if ((b->ev_read = event_new(s->base, b->fd, EV_READ | EV_PERSIST,
		    dahdi_on_bchan, b)) == NULL) {
			error = ENOMEM;
			goto out;
		}
	}
	if ((ds->ev_tick = event_new(s->base, -1, EV_PERSIST, dahdi_on_tick, ds)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	event_add(ds->ev_tick, &tv);
	ds->io.read = dahdi_d_read;
	ds->io.write = dahdi_d_write;
	ds->io.arg = ds;
	s->drv_state = ds;
	*dfd = ds->dfd;
	log_info("span=%s DAHDI: D-channel %d, B-channels %d..%d (%zu), ops %s", s->name,
	    dchan, bchans[0], bchans[nb - 1], nb, ds->ops->name);
	return 0;
out:
	s->nchans = 0;
	dahdi_free(ds);
	return error;
}

/* The span's alarm state as DAHDI has it now. */
static void
dahdi_started(struct span *s)
{
	struct dahdi_span *ds = s->drv_state;
	int alarms;

	if ((alarms = dahdi_span_alarms(ds)) < 0) {
		log_warn("span=%s DAHDI_SPANSTAT", s->name);
		return;
	}
	if (alarms != 0)
		dahdi_set_alarms(ds, alarms, "at start");
}

static void
dahdi_stop(struct span *s)
{
	struct dahdi_span *ds = s->drv_state;

	if (ds == NULL)
		return;
	log_info("span=%s DAHDI closed: %lu events, HDLC %lu aborts, %lu overruns, "
	    "%lu bad FCS", s->name, ds->events, ds->hdlc_aborts, ds->hdlc_overruns,
	    ds->hdlc_badfcs);
	dahdi_free(ds);
	s->drv_state = NULL;
	s->dfd = -1;
}

static void
dahdi_reload(struct span *s)
{
	if (s->dahdi.echocancel != 0)
		log_info("span=%s echo canceller %u ms for new calls", s->name,
		    s->dahdi.echocancel);
	else
		log_info("span=%s echo canceller off for new calls", s->name);
}

static const struct span_pri_io *
dahdi_pri_io(struct span *s)
{
	struct dahdi_span *ds = s->drv_state;

	return &ds->io;
}

const struct span_driver span_dahdi_driver = {
	.name = "dahdi",
	.start = dahdi_start,
	.started = dahdi_started,
	.stop = dahdi_stop,
	.reload = dahdi_reload,
	.pri_io = dahdi_pri_io,
};
