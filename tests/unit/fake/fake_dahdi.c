/* The fake DAHDI device: see fake_dahdi.h. */
#include "fake_dahdi.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <dahdi/user.h>

#define FAKE_MAX_SPANS 8
#define FAKE_MAX_FILES 256

struct fake_span {
	int spanno;
	int nchans;
	int deflaw;
	int hwec;
	int alarms;
};

/* One open descriptor of the driver's. */
struct fake_file {
	int fd;
	int peer;                       /* the test's end until DAHDI_SPECIFY */
	int ctl;                        /* /dev/dahdi/ctl */
	struct fake_dahdi_chan *chan;   /* after DAHDI_SPECIFY */
};

static struct fake_dahdi_chan chans[FAKE_DAHDI_MAX_CHANS];
static size_t nchans;
static struct fake_span spans[FAKE_MAX_SPANS];
static size_t nspans;
static struct fake_file files[FAKE_MAX_FILES];
static size_t nfiles;

void
fake_dahdi_reset(void)
{
	for (size_t i = 0; i < nfiles; i++) {
		close(files[i].fd);
		if (files[i].peer >= 0)
			close(files[i].peer);
	}
	for (size_t i = 0; i < nchans; i++)
		if (chans[i].peer >= 0)
			close(chans[i].peer);
	memset(chans, 0, sizeof(chans));
	memset(spans, 0, sizeof(spans));
	memset(files, 0, sizeof(files));
	nchans = nspans = nfiles = 0;
}

static struct fake_span *
fake_span(int spanno)
{
	for (size_t i = 0; i < nspans; i++)
		if (spans[i].spanno == spanno)
			return &spans[i];
	return NULL;
}

int
fake_dahdi_add_span(int spanno, int t1, int basechan, int deflaw, int hwec)
{
	int n = t1 ? 24 : 31, d = t1 ? 24 : 16;

	if (nspans == FAKE_MAX_SPANS || nchans + (size_t)n > FAKE_DAHDI_MAX_CHANS)
		return ENOSPC;
	spans[nspans].spanno = spanno;
	spans[nspans].nchans = n;
	spans[nspans].deflaw = deflaw;
	spans[nspans].hwec = hwec;
	nspans++;
	for (int pos = 1; pos <= n; pos++) {
		struct fake_dahdi_chan *c = &chans[nchans++];

		memset(c, 0, sizeof(*c));
		c->channo = basechan + pos - 1;
		c->spanno = spanno;
		c->chanpos = pos;
		c->sigtype = pos == d ? DAHDI_SIG_HARDHDLC : DAHDI_SIG_CLEAR;
		c->fd = c->peer = -1;
	}
	return 0;
}

struct fake_dahdi_chan *
fake_dahdi_chan(int channo)
{
	for (size_t i = 0; i < nchans; i++)
		if (chans[i].channo == channo)
			return &chans[i];
	return NULL;
}

int
fake_dahdi_peer(int channo)
{
	struct fake_dahdi_chan *c = fake_dahdi_chan(channo);

	return c != NULL ? c->peer : -1;
}

void
fake_dahdi_event(int channo, int event)
{
	struct fake_dahdi_chan *c = fake_dahdi_chan(channo);

	/* DAHDI's queue is a ring that drops the oldest; this one drops
	 * the newest, which the tests never reach. */
	if (c != NULL && c->nevents < FAKE_DAHDI_MAX_EVENTS)
		c->events[c->nevents++] = event;
}

void
fake_dahdi_set_alarms(int spanno, int alarms)
{
	struct fake_span *sp = fake_span(spanno);

	if (sp == NULL || sp->alarms == alarms)
		return;
	sp->alarms = alarms;
	for (size_t i = 0; i < nchans; i++)
		if (chans[i].spanno == spanno)
			fake_dahdi_event(chans[i].channo,
			    alarms != 0 ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
}

void
fake_dahdi_bad_fcs(int channo)
{
	fake_dahdi_event(channo, DAHDI_EVENT_BADFCS);
}

int
fake_dahdi_open_count(void)
{
	return (int)nfiles;
}

static struct fake_file *
fake_file(int fd)
{
	for (size_t i = 0; i < nfiles; i++)
		if (files[i].fd == fd)
			return &files[i];
	return NULL;
}

static int
fake_open(const char *path, int flags)
{
	struct fake_file *f;
	int sv[2];

	if (nfiles == FAKE_MAX_FILES) {
		errno = EMFILE;
		return -1;
	}
	f = &files[nfiles];
	memset(f, 0, sizeof(*f));
	f->peer = -1;
	if (strcmp(path, DAHDI_OPS_CTL_PATH) == 0) {
		if ((f->fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			return -1;
		f->ctl = 1;
		nfiles++;
		return f->fd;
	}
	if (strcmp(path, DAHDI_OPS_CHANNEL_PATH) != 0) {
		errno = ENOENT;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if (flags & O_NONBLOCK)
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	f->fd = sv[0];
	f->peer = sv[1];
	nfiles++;
	return f->fd;
}

static int
fake_fail(int error)
{
	errno = error;
	return -1;
}

static void
fake_params(const struct fake_dahdi_chan *c, struct dahdi_params *p)
{
	const struct fake_span *sp = fake_span(c->spanno);

	memset(p, 0, sizeof(*p));
	p->channo = c->channo;
	p->spanno = c->spanno;
	p->chanpos = c->chanpos;
	p->sigtype = c->sigtype;
	p->sigcap = c->sigtype;
	p->curlaw = c->law != DAHDI_LAW_DEFAULT ? c->law : sp->deflaw;
	snprintf(p->name, sizeof(p->name), "FAKE/%d/%d", c->spanno, c->chanpos);
}

/* Drop what the test sent that the driver has not read. */
static void
fake_drain(int fd)
{
	char buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		continue;
}

static int
fake_ioctl(int fd, unsigned long req, void *arg)
{
	struct fake_file *f = fake_file(fd);
	struct fake_dahdi_chan *c;
	struct fake_span *sp;
	int v;

	if (f == NULL)
		return fake_fail(EBADF);
	c = f->chan;
	if (req == DAHDI_SPECIFY) {
		if (f->ctl || c != NULL)
			return fake_fail(EINVAL);
		if ((c = fake_dahdi_chan(*(int *)arg)) == NULL)
			return fake_fail(ENXIO);
		if (c->open)
			return fake_fail(EBUSY);
		if (c->peer >= 0)
			close(c->peer);
		c->open = 1;
		c->fd = f->fd;
		c->peer = f->peer;
		f->peer = -1;
		f->chan = c;
		return 0;
	}
	if (f->ctl) {
		switch (req) {
		case DAHDI_GET_PARAMS: {
			struct dahdi_params *p = arg;

			if ((c = fake_dahdi_chan(p->channo)) == NULL)
				return fake_fail(EINVAL);
			fake_params(c, p);
			return 0;
		}
		case DAHDI_SPANSTAT: {
			struct dahdi_spaninfo *si = arg;

			if ((sp = fake_span(si->spanno)) == NULL)
				return fake_fail(EINVAL);
			si->alarms = sp->alarms;
			si->numchans = si->totalchans = sp->nchans;
			si->totalspans = (int)nspans;
			return 0;
		}
		default:
			return fake_fail(ENOTTY);
		}
	}
	if (c == NULL)
		return fake_fail(EINVAL);      /* DAHDI: no channel specified yet */
	sp = fake_span(c->spanno);
	switch (req) {
	case DAHDI_GET_PARAMS:
		fake_params(c, arg);
		return 0;
	case DAHDI_SET_BUFINFO: {
		const struct dahdi_bufferinfo *bi = arg;

		if (bi->numbufs < 2 || bi->bufsize < 16 || bi->bufsize > 65535)
			return fake_fail(EINVAL);
		c->numbufs = bi->numbufs;
		c->bufsize = bi->bufsize;
		return 0;
	}
	case DAHDI_SET_BLOCKSIZE:
		v = *(int *)arg;
		if (v < 16 || v > 8192)
			return fake_fail(EINVAL);
		c->blocksize = v;
		return 0;
	case DAHDI_SETLAW:
		v = *(int *)arg;
		if (v != DAHDI_LAW_DEFAULT && v != DAHDI_LAW_MULAW && v != DAHDI_LAW_ALAW)
			return fake_fail(EINVAL);
		c->law = v;
		return 0;
	case DAHDI_GETEVENT:
		*(int *)arg = DAHDI_EVENT_NONE;
		if (c->nevents > 0) {
			*(int *)arg = c->events[0];
			memmove(c->events, c->events + 1, --c->nevents * sizeof(c->events[0]));
		}
		return 0;
	case DAHDI_SPANSTAT: {
		struct dahdi_spaninfo *si = arg;

		if (si->spanno != 0 && si->spanno != c->spanno)
			sp = fake_span(si->spanno);
		if (sp == NULL)
			return fake_fail(EINVAL);
		si->spanno = sp->spanno;
		si->alarms = sp->alarms;
		si->numchans = si->totalchans = sp->nchans;
		return 0;
	}
	case DAHDI_FLUSH:
		v = *(int *)arg;
		c->flushes++;
		if (v & DAHDI_FLUSH_EVENT)
			c->nevents = 0;
		if (v & DAHDI_FLUSH_READ)
			fake_drain(c->fd);
		return 0;
	case DAHDI_ECHOCANCEL_PARAMS: {
		const struct dahdi_echocanparams *ecp = arg;

		if (ecp->tap_length != 0 && !sp->hwec)
			return fake_fail(ENODEV);
		c->ec_taps = (int)ecp->tap_length;
		c->ec_sets++;
		return 0;
	}
	default:
		return fake_fail(ENOTTY);
	}
}

static struct fake_dahdi_chan *
fake_io_chan(int fd)
{
	struct fake_file *f = fake_file(fd);

	if (f == NULL || f->chan == NULL) {
		errno = EBADF;
		return NULL;
	}
	if (f->chan->nevents > 0) {
		f->chan->elast++;
		errno = ELAST;
		return NULL;
	}
	return f->chan;
}

static ssize_t
fake_read(int fd, void *buf, size_t len)
{
	if (fake_io_chan(fd) == NULL)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static ssize_t
fake_write(int fd, const void *buf, size_t len)
{
	if (fake_io_chan(fd) == NULL)
		return -1;
	return send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int
fake_close(int fd)
{
	struct fake_file *f = fake_file(fd);
	size_t i;

	if (f == NULL)
		return fake_fail(EBADF);
	if (f->chan != NULL) {
		/* the test's end stays for the test to see the close */
		f->chan->open = 0;
		f->chan->fd = -1;
	}
	if (f->peer >= 0)
		close(f->peer);
	close(f->fd);
	i = (size_t)(f - files);
	memmove(&files[i], &files[i + 1], (nfiles - i - 1) * sizeof(files[0]));
	nfiles--;
	return 0;
}

const struct dahdi_ops fake_dahdi_ops = {
	.name = "fake",
	.open = fake_open,
	.ioctl = fake_ioctl,
	.read = fake_read,
	.write = fake_write,
	.close = fake_close,
};
