/* Batched RTP sends: the legs of all calls queue their datagrams on one
 * io_uring ring per event loop, and the ring is submitted once per loop
 * iteration (a deferred event that runs after the callbacks that queued,
 * e.g. the span tick that produced every call's frame) instead of one
 * sendto per packet. Completions that the kernel finishes inline are
 * reaped right after the submit; the rare ones that complete later
 * signal an eventfd (io_uring_register_eventfd_async) that the loop
 * watches. A failed send is counted on its leg (rtp_leg_io_done).
 *
 * One thread: the ring, its slots and its events belong to the loop that
 * created them. Legs hold a reference; the last one tears the ring down. */
#include "rtp/rtp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <liburing.h>

#include "core/log.h"

#define RTP_IO_ENTRIES 1024     /* submission queue; the completion queue is twice */
#define RTP_IO_CHUNK 256        /* slots allocated at a time */
#define RTP_IO_MAX_CHUNKS 64    /* 16384 datagrams in flight at most */
#define RTP_IO_SUBMIT_AT 512    /* submit early when this many are queued */
#define RTP_IO_EXIT_WAIT_MS 200 /* teardown: how long to wait for late completions */

struct rtp_io_slot {
	struct rtp_leg *leg;            /* not owned; NULL once the leg is freed */
	struct rtp_io_slot *next;       /* free list */
	bool busy;
	struct msghdr msg;
	struct iovec iov;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} dst;
	uint8_t pkt[RTP_IO_MAX_PKT];
};

struct rtp_io {
	struct event_base *base;        /* not owned */
	struct io_uring ring;
	int efd;                        /* owned: eventfd of late completions */
	struct event *ev_efd;           /* owned */
	struct event *ev_flush;         /* owned: deferred submit */
	bool flush_pending;
	unsigned int refs;
	unsigned int queued;            /* prepared, not yet submitted */
	unsigned int inflight;          /* submitted, not yet completed */
	struct rtp_io_slot *chunks[RTP_IO_MAX_CHUNKS];   /* owned */
	unsigned int n_chunks;
	struct rtp_io_slot *free;
	struct rtp_io_stats stats;
};

/* One ring per process: the daemon has one loop. A leg of another loop
 * (or a loop whose ring could not be set up) sends with sendto. */
static struct rtp_io *rtp_io_the;
static bool rtp_io_failed;              /* io_uring_queue_init failed: do not retry */
static struct rtp_io_stats rtp_io_totals;

static void rtp_io_on_flush(evutil_socket_t fd, short what, void *arg);
static void rtp_io_on_efd(evutil_socket_t fd, short what, void *arg);

static int
rtp_io_ring_init(struct io_uring *ring)
{
	/* Newest flags first; each is only an optimisation. */
	static const unsigned int flags[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int error = ENOSYS;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = flags[i];
		if ((error = -io_uring_queue_init_params(RTP_IO_ENTRIES, ring, &p)) == 0)
			return 0;
		if (error != EINVAL)
			break;
	}
	return error;
}

static int
rtp_io_create(struct event_base *base, struct rtp_io **out)
{
	struct rtp_io *io;
	int error;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return ENOMEM;
	io->base = base;
	io->efd = -1;
	if ((error = rtp_io_ring_init(&io->ring)) != 0) {
		free(io);
		return error;
	}
	if ((io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		error = errno;
		goto fail;
	}
	if ((error = -io_uring_register_eventfd_async(&io->ring, io->efd)) != 0)
		goto fail;
	io->ev_efd = event_new(base, io->efd, EV_READ | EV_PERSIST, rtp_io_on_efd, io);
	io->ev_flush = event_new(base, -1, 0, rtp_io_on_flush, io);
	if (io->ev_efd == NULL || io->ev_flush == NULL || event_add(io->ev_efd, NULL) != 0) {
		error = ENOMEM;
		goto fail;
	}
	*out = io;
	return 0;

fail:
	if (io->ev_efd)
		event_free(io->ev_efd);
	if (io->ev_flush)
		event_free(io->ev_flush);
	if (io->efd != -1)
		close(io->efd);
	io_uring_queue_exit(&io->ring);
	free(io);
	return error;
}

struct rtp_io *
rtp_io_get(struct event_base *base, int mode)
{
	int error;

	if (mode == CFG_RTP_IO_SYSCALLS)
		return NULL;
	if (rtp_io_the != NULL) {
		if (rtp_io_the->base != base)
			return NULL;
		rtp_io_the->refs++;
		return rtp_io_the;
	}
	if (rtp_io_failed)
		return NULL;
	if ((error = rtp_io_create(base, &rtp_io_the)) != 0) {
		rtp_io_failed = true;
		rtp_io_totals.fallbacks++;
		log_msg(mode == CFG_RTP_IO_URING ? LOG_LEVEL_WARN : LOG_LEVEL_NOTICE,
		    "rtp: io_uring unavailable (%s): sending with sendto, one system call per packet",
		    strerror(error));
		return NULL;
	}
	rtp_io_the->refs = 1;
	log_msg(LOG_LEVEL_DEBUG, "rtp: io_uring ring of %u entries for RTP sends", RTP_IO_ENTRIES);
	return rtp_io_the;
}

/* Reap what completed, without a system call. */
static void
rtp_io_reap(struct rtp_io *io)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&io->ring, head, cqe) {
		struct rtp_io_slot *s = io_uring_cqe_get_data(cqe);

		n++;
		if (s == NULL)
			continue;
		if (s->leg != NULL)
			rtp_leg_io_done(s->leg, cqe->res, s->iov.iov_len);
		if (cqe->res < 0)
			io->stats.errors++;
		s->busy = false;
		s->leg = NULL;
		s->next = io->free;
		io->free = s;
		io->inflight--;
	}
	io_uring_cq_advance(&io->ring, n);
}

void
rtp_io_flush(struct rtp_io *io)
{
	int r;

	if (io == NULL)
		return;
	if (io->queued > 0) {
		for (int tries = 0; tries < 3; tries++) {
			r = io_uring_submit(&io->ring);
			if (r >= 0) {
				io->stats.submits++;
				io->inflight += (unsigned int)r;
				io->queued -= (unsigned int)r > io->queued ? io->queued : (unsigned int)r;
				if (io->queued == 0)
					break;
			} else if (r != -EBUSY && r != -EAGAIN && r != -EINTR) {
				log_msg(LOG_LEVEL_WARN, "rtp: io_uring_submit: %s", strerror(-r));
				break;
			}
			/* the completion queue is full: make room */
			rtp_io_reap(io);
		}
	}
	rtp_io_reap(io);
}

static void
rtp_io_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_io *io = arg;

	(void)fd;
	(void)what;
	io->flush_pending = false;
	rtp_io_flush(io);
}

static void
rtp_io_on_efd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_msg(LOG_LEVEL_WARN, "rtp: io_uring eventfd: %s", strerror(errno));
	rtp_io_reap(arg);
}

static struct rtp_io_slot *
rtp_io_slot_get(struct rtp_io *io)
{
	struct rtp_io_slot *s, *c;

	if (io->free == NULL && io->n_chunks < RTP_IO_MAX_CHUNKS) {
		if ((c = calloc(RTP_IO_CHUNK, sizeof(*c))) != NULL) {
			io->chunks[io->n_chunks++] = c;
			for (unsigned int i = 0; i < RTP_IO_CHUNK; i++) {
				c[i].next = io->free;
				io->free = &c[i];
			}
		}
	}
	if (io->free == NULL) {
		/* every slot is queued or in flight: submit, then reap */
		rtp_io_flush(io);
	}
	if ((s = io->free) != NULL)
		io->free = s->next;
	return s;
}

int
rtp_io_send(struct rtp_io *io, struct rtp_leg *leg, int fd, const struct addr *dst,
            const uint8_t *pkt, size_t len)
{
	struct io_uring_sqe *sqe;
	struct rtp_io_slot *s;

	if (len > RTP_IO_MAX_PKT || dst->len > sizeof(s->dst))
		return EMSGSIZE;
	if ((s = rtp_io_slot_get(io)) == NULL)
		return ENOBUFS;
	if ((sqe = io_uring_get_sqe(&io->ring)) == NULL) {
		rtp_io_flush(io);
		if ((sqe = io_uring_get_sqe(&io->ring)) == NULL) {
			s->next = io->free;
			io->free = s;
			return ENOBUFS;
		}
	}
	s->busy = true;
	s->leg = leg;
	memcpy(s->pkt, pkt, len);
	memcpy(&s->dst, &dst->u, dst->len);
	s->iov.iov_base = s->pkt;
	s->iov.iov_len = len;
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.msg_name = &s->dst;
	s->msg.msg_namelen = dst->len;
	s->msg.msg_iov = &s->iov;
	s->msg.msg_iovlen = 1;
	io_uring_prep_sendmsg(sqe, fd, &s->msg, MSG_DONTWAIT);
	io_uring_sqe_set_data(sqe, s);
	io->queued++;
	io->stats.queued++;
	if (io->queued >= RTP_IO_SUBMIT_AT)
		rtp_io_flush(io);
	else if (!io->flush_pending) {
		io->flush_pending = true;
		event_active(io->ev_flush, EV_TIMEOUT, 1);
	}
	return 0;
}

void
rtp_io_forget(struct rtp_io *io, const struct rtp_leg *leg)
{
	for (unsigned int c = 0; c < io->n_chunks; c++)
		for (unsigned int i = 0; i < RTP_IO_CHUNK; i++)
			if (io->chunks[c][i].busy && io->chunks[c][i].leg == leg)
				io->chunks[c][i].leg = NULL;
}

void
rtp_io_put(struct rtp_io *io)
{
	bool leak = false;

	if (io == NULL || --io->refs > 0)
		return;
	rtp_io_flush(io);
	/* Late completions still use their slots' memory: wait, bounded. */
	for (int i = 0; io->inflight > 0 && i < RTP_IO_EXIT_WAIT_MS; i++) {
		struct __kernel_timespec ts = { 0, 1000000 };
		struct io_uring_cqe *cqe;

		io_uring_wait_cqe_timeout(&io->ring, &cqe, &ts);
		rtp_io_reap(io);
	}
	if (io->inflight > 0) {
		log_msg(LOG_LEVEL_WARN, "rtp: %u io_uring sends never completed", io->inflight);
		leak = true;
	}
	rtp_io_totals.submits += io->stats.submits;
	rtp_io_totals.queued += io->stats.queued;
	rtp_io_totals.errors += io->stats.errors;
	event_free(io->ev_efd);
	event_free(io->ev_flush);
	io_uring_queue_exit(&io->ring);
	close(io->efd);
	if (!leak)
		for (unsigned int c = 0; c < io->n_chunks; c++)
			free(io->chunks[c]);
	if (rtp_io_the == io)
		rtp_io_the = NULL;
	free(io);
}

void
rtp_io_get_stats(struct rtp_io_stats *out)
{
	*out = rtp_io_totals;
	if (rtp_io_the != NULL) {
		out->submits += rtp_io_the->stats.submits;
		out->queued += rtp_io_the->stats.queued;
		out->errors += rtp_io_the->stats.errors;
		out->active = true;
	}
}

void
rtp_io_reset(void)
{
	rtp_io_failed = false;
}
