/* Batched RTP sends and receives on one io_uring ring per event loop.
 *
 * Sends: the legs of all calls queue their datagrams, and the ring is
 * submitted once per loop iteration (a deferred event that runs after the
 * callbacks that queued, e.g. the span tick that produced every call's
 * frame) instead of one sendto per packet. A failed send is counted on its
 * leg (rtp_leg_io_done).
 *
 * Where the kernel can skip the completions of successful requests
 * (IORING_FEAT_CQE_SKIP, 5.17), sends post a completion only when they
 * fail. A send with MSG_DONTWAIT is never parked for a retry (the kernel
 * marks it no-wait: a full socket buffer fails it with EAGAIN), and the
 * message header is copied when the request is prepared, so every send of
 * a submission has been carried out, or has posted its failure, when
 * io_uring_submit returns: its slot is free again after that submission's
 * completions are reaped, without a completion per packet to reap.
 *
 * A send names its destination (sendmsg with the address), or goes out on
 * a socket the leg connected to it (dst NULL: a plain send, no message
 * header for the kernel to copy and no route to look up).
 *
 * Receives: each leg's RTP socket has one multishot recvmsg in the ring,
 * which takes its buffers from a ring of provided buffers shared by all
 * legs. What arrived on any socket is reaped in one go when the ring's
 * eventfd wakes the loop: no epoll readiness and no recvmmsg per packet.
 * A receive that ends (buffers ran out) is armed again after the reap; a
 * kernel without multishot receives (before 6.0) makes the legs fall back
 * to epoll and recvmmsg (rtp_leg_rx_fallback).
 *
 * The kernel completes the receives in the loop's thread only when the
 * loop asks (IORING_SETUP_DEFER_TASKRUN, 6.1): an arriving datagram wakes
 * nobody. The eventfd is signalled when work appears where there was none;
 * that wakeup switches it off until RTP_IO_HOLD_US pass without a take in:
 * meanwhile the span clocks' drains (one before each tick's frames) take
 * in, or the hold timer when no tick came (rtp_io_on_efd). The kernel
 * runs a bounded batch of that work per io_uring_enter and flags what it
 * left, so a take in enters again while it does (rtp_io_take_in). Each
 * datagram carries the kernel's receive timestamp, the time the jitter
 * buffer judges it by (rtp_io_arrival). Where deferred work is refused
 * (before 6.1) the kernel runs it when the thread next enters or leaves
 * a system call (IORING_SETUP_COOP_TASKRUN), waking it for every datagram.
 *
 * Sends name their socket by its place in the ring's table of registered
 * files where it has one (the receive's socket, registered when the
 * receive starts): no file reference is taken and dropped per send. The
 * place is emptied when the receive stops, after the next submit, so
 * that the table does not hold the socket open.
 *
 * One thread: the ring, its slots and its events belong to the loop that
 * created them. Legs hold a reference; the last one tears the ring down. */
#include "rtp/rtp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <liburing.h>

#include "core/log.h"

#define RTP_IO_ENTRIES 1024     /* submission queue; the completion queue is twice */
#define RTP_IO_CHUNK 256        /* slots allocated at a time */
#define RTP_IO_MAX_CHUNKS 64    /* 16384 datagrams in flight at most */
#define RTP_IO_SUBMIT_AT 512    /* submit early when this many are queued */
#define RTP_IO_EXIT_WAIT_MS 200 /* teardown: how long to wait for late completions */
#define RTP_IO_RX_BUFS 2048     /* provided receive buffers, a power of two */
#define RTP_IO_CQ_ENTRIES 8192  /* room for every buffer's completion and the sends' */
#define RTP_IO_RX_BUF 2048      /* bytes each: io_uring_recvmsg_out, address, timestamp, datagram */
#define RTP_IO_RX_BGID 1        /* their buffer group */
#define RTP_IO_RX_FAILS 8       /* receives ended by errors in a row before epoll */
#define RTP_IO_FILES 16384      /* registered sockets, at most (two per leg) */
#define RTP_IO_TAG_RX 1u        /* user_data bit: a receive (else a send slot) */
#define RTP_IO_DRAIN_US 200     /* rtp_io_drain: at most this often (under a phase of the sim clocks) */
#define RTP_IO_HOLD_US 1000     /* deferred work: no take in for this long switches the
                                 * eventfd on (checked on the loop's coarse timer: a few ms
                                 * at most) */
#define RTP_IO_LAG_US 10000     /* a datagram taken in later than this after it came:
                                 * the daemon is behind (rtp_io_arrival) */
#define RTP_IO_RUN_MAX 64       /* io_uring_enter calls to run the work held for us, at most */
#define RTP_IO_RUN_BATCH 16     /* completions under which one enter ran it all (the kernel's
                                 * batch is 20 items of work, each one or more) */

/* A leg's multishot receive. Owned by the ring: the kernel may still
 * complete it after the leg is gone (leg NULL), and it is freed with its
 * last completion. */
struct rtp_io_rx {
	struct rtp_leg *leg;            /* not owned; NULL once the leg let go */
	int fd;                         /* not owned */
	int fixed;                      /* fd's place in the ring's file table; -1 none */
	bool armed;                     /* a receive is in the ring */
	bool rearm;                     /* on the ring's re-arm list */
	unsigned int fails;             /* ends with an error in a row */
	struct rtp_io_rx *prev, *next;  /* every receive of the ring */
	struct rtp_io_rx *next_rearm;
};

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

/* Slots whose sends were queued since the last whole submission (skip
 * mode), in order. */
struct rtp_io_slots {
	struct rtp_io_slot *head, *tail;
	unsigned int n;
};

struct rtp_io {
	struct event_base *base;        /* not owned */
	struct io_uring ring;
	int efd;                        /* owned: eventfd, signalled on completions */
	bool efd_edge;                  /* watched edge-triggered, never read */
	struct event *ev_efd;           /* owned */
	bool efd_off;                   /* its signal is off: drains and ev_hold take in */
	struct event *ev_hold;          /* owned: the latest a datagram is taken in */
	struct event *ev_flush;         /* owned: deferred submit */
	bool flush_pending;
	unsigned int refs;
	unsigned int queued;            /* entries prepared, not yet submitted */
	unsigned int inflight;          /* sends prepared, not yet completed */
	bool skip;                      /* sends complete silently (IOSQE_CQE_SKIP_SUCCESS) */
	struct rtp_io_slots sent;       /* skip: queued or submitted, slots not yet free */
	struct rtp_io_slot *chunks[RTP_IO_MAX_CHUNKS];   /* owned */
	unsigned int n_chunks;
	struct rtp_io_slot *free;
	struct rtp_io_stats stats;

	/* receives */
	bool rx_ok;                     /* multishot receives are set up */
	bool rx_unsupported;            /* the kernel refused one: epoll from now on */
	struct io_uring_buf_ring *br;   /* owned (mmap) */
	size_t br_size;
	uint8_t *rx_bufs;               /* owned: rx_nbufs x RTP_IO_RX_BUF */
	unsigned int rx_nbufs;
	unsigned int rx_returned;       /* buffers given back, not yet published */
	struct msghdr rx_msg;           /* the layout of every receive */
	struct rtp_io_rx *rx_all;
	struct rtp_io_rx *rx_rearm;
	bool reaping;
	uint64_t drained_us;            /* the last rtp_io_drain */
	uint64_t taken_us;              /* the last take in (a drain, a wakeup, the hold) */

	/* registered files: the sockets sends name by their place in the
	 * ring's table (no file reference taken and dropped per send) */
	int *file_next;                 /* owned: per place, the next of its list; -1 end */
	int file_free;                  /* list of places unused */
	int file_gone;                  /* list of places to empty after the next submit */
};

/* One ring per process: the daemon has one loop. A leg of another loop
 * (or a loop whose ring could not be set up) sends with sendto. */
static struct rtp_io *rtp_io_the;
static bool rtp_io_failed;              /* io_uring_queue_init failed: do not retry */
static struct rtp_io_stats rtp_io_totals;
static unsigned int rtp_io_rx_nbufs = RTP_IO_RX_BUFS;  /* rtp_io_set_rx_buffers */
static bool rtp_io_no_skip;             /* rtp_io_set_skip_success(false) */

static void rtp_io_on_flush(evutil_socket_t fd, short what, void *arg);
static void rtp_io_on_efd(evutil_socket_t fd, short what, void *arg);
static void rtp_io_on_hold(evutil_socket_t fd, short what, void *arg);
static void rtp_io_schedule(struct rtp_io *io);

/* Does the kernel say it holds work for this thread (IORING_SQ_TASKRUN)?
 * false where it cannot say (a ring without IORING_SETUP_TASKRUN_FLAG). */
static bool
rtp_io_work_flagged(const struct rtp_io *io)
{
	return (io->ring.flags & IORING_SETUP_TASKRUN_FLAG) &&
	    (IO_URING_READ_ONCE(*io->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

/* After io_uring_queue_exit: nothing of the kernel's uses them now. */
static void
rtp_io_rx_teardown(struct rtp_io *io)
{
	struct rtp_io_rx *rx, *next;

	for (rx = io->rx_all; rx != NULL; rx = next) {
		next = rx->next;
		free(rx);
	}
	io->rx_all = io->rx_rearm = NULL;
	if (io->br != NULL)
		munmap(io->br, io->br_size);
	free(io->rx_bufs);
	io->br = NULL;
	io->rx_bufs = NULL;
}

static int
rtp_io_ring_init(struct io_uring *ring, unsigned int *features)
{
	/* Newest flags first; each is only an optimisation. */
	static const unsigned int flags[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
		    IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
		    IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int error = ENOSYS;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = flags[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = RTP_IO_CQ_ENTRIES;
		if ((error = -io_uring_queue_init_params(RTP_IO_ENTRIES, ring, &p)) == 0) {
			*features = p.features;
			return 0;
		}
		if (error != EINVAL)
			break;
	}
	return error;
}

/* The provided buffers of the receives. Without them (a kernel before
 * 5.19) the legs receive with epoll and recvmmsg. */
static void
rtp_io_rx_setup(struct rtp_io *io)
{
	struct io_uring_buf_reg reg;
	void *mem;
	int mask, error;

	io->rx_nbufs = rtp_io_rx_nbufs;
	mask = io_uring_buf_ring_mask(io->rx_nbufs);
	io->br_size = io->rx_nbufs * sizeof(struct io_uring_buf);
	mem = mmap(NULL, io->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (mem == MAP_FAILED)
		return;
	if ((io->rx_bufs = malloc((size_t)io->rx_nbufs * RTP_IO_RX_BUF)) == NULL) {
		munmap(mem, io->br_size);
		return;
	}
	io->br = mem;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)(uintptr_t)mem;
	reg.ring_entries = io->rx_nbufs;
	reg.bgid = RTP_IO_RX_BGID;
	if ((error = io_uring_register_buf_ring(&io->ring, &reg, 0)) != 0) {
		log_msg(LOG_LEVEL_INFO, "rtp: io_uring without provided buffers (%s): "
		        "receiving with recvmmsg", strerror(-error));
		munmap(mem, io->br_size);
		free(io->rx_bufs);
		io->br = NULL;
		io->rx_bufs = NULL;
		return;
	}
	io_uring_buf_ring_init(io->br);
	for (unsigned int i = 0; i < io->rx_nbufs; i++)
		io_uring_buf_ring_add(io->br, io->rx_bufs + (size_t)i * RTP_IO_RX_BUF,
		                      RTP_IO_RX_BUF, (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(io->br, (int)io->rx_nbufs);
	/* room for either address, rounded so that the control messages
	 * after it are aligned */
	io->rx_msg.msg_namelen = (sizeof(struct sockaddr_in6) + 7) & ~(size_t)7;
	io->rx_msg.msg_controllen = CMSG_SPACE(sizeof(struct timespec));
	io->rx_ok = true;
}

/* The table of registered files, as large as the process may open (at
 * most RTP_IO_FILES); without it (a kernel before 5.19 or a refusal),
 * sends name their socket by descriptor. */
static void
rtp_io_files_setup(struct rtp_io *io)
{
	struct rlimit rl;
	unsigned int n = RTP_IO_FILES;
	int error;

	io->file_free = io->file_gone = -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (unsigned int)rl.rlim_cur;
	if (n < 16 || (io->file_next = malloc(n * sizeof(*io->file_next))) == NULL)
		return;
	if ((error = io_uring_register_files_sparse(&io->ring, n)) != 0) {
		log_msg(LOG_LEVEL_INFO, "rtp: io_uring without registered files (%s)", strerror(-error));
		free(io->file_next);
		io->file_next = NULL;
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		io->file_next[i] = i + 1 < n ? (int)i + 1 : -1;
	io->file_free = 0;
}

/* Put fd in a free place of the table: its index, or -1 (table full or
 * the update refused: sends then name fd itself). */
static int
rtp_io_file_add(struct rtp_io *io, int fd)
{
	int i = io->file_free;

	if (i < 0)
		return -1;
	if (io_uring_register_files_update(&io->ring, (unsigned int)i, &fd, 1) != 1)
		return -1;
	io->file_free = io->file_next[i];
	io->stats.files++;
	return i;
}

/* The table holds its socket open: empty the place (after the next
 * submit, so that sends queued before still find it) and reuse it. */
static void
rtp_io_file_drop(struct rtp_io *io, struct rtp_io_rx *rx)
{
	if (rx->fixed < 0)
		return;
	io->file_next[rx->fixed] = io->file_gone;
	io->file_gone = rx->fixed;
	rx->fixed = -1;
}

static void
rtp_io_files_release(struct rtp_io *io)
{
	int i, none = -1;

	while ((i = io->file_gone) >= 0) {
		io->file_gone = io->file_next[i];
		if (io_uring_register_files_update(&io->ring, (unsigned int)i, &none, 1) != 1) {
			/* the place keeps its socket: never reused */
			log_msg(LOG_LEVEL_WARN, "rtp: io_uring file table: place %d not emptied", i);
			continue;
		}
		io->file_next[i] = io->file_free;
		io->file_free = i;
		io->stats.files--;
	}
}

static int
rtp_io_create(struct event_base *base, struct rtp_io **out)
{
	struct rtp_io *io;
	unsigned int features = 0;
	int error;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return ENOMEM;
	io->base = base;
	io->efd = -1;
	if ((error = rtp_io_ring_init(&io->ring, &features)) != 0) {
		free(io);
		return error;
	}
	io->skip = (features & IORING_FEAT_CQE_SKIP) != 0 && !rtp_io_no_skip;
	if ((io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		error = errno;
		goto fail;
	}
	/* every completion (the receives are not async work) */
	if ((error = -io_uring_register_eventfd(&io->ring, io->efd)) != 0)
		goto fail;
	rtp_io_rx_setup(io);
	rtp_io_files_setup(io);
	/* Edge-triggered where the loop can (epoll): every signal is a new
	 * edge, so the counter need not be read (one system call less per
	 * wakeup); else level-triggered and read. */
	io->efd_edge = (event_base_get_features(base) & EV_FEATURE_ET) != 0;
	io->ev_efd = event_new(base, io->efd, EV_READ | EV_PERSIST | (io->efd_edge ? EV_ET : 0),
	                       rtp_io_on_efd, io);
	io->ev_flush = event_new(base, -1, 0, rtp_io_on_flush, io);
	io->ev_hold = evtimer_new(base, rtp_io_on_hold, io);
	if (io->ev_efd == NULL || io->ev_flush == NULL || io->ev_hold == NULL ||
	    event_add(io->ev_efd, NULL) != 0) {
		error = ENOMEM;
		goto fail;
	}
	*out = io;
	return 0;

fail:
	if (io->ev_efd)
		event_free(io->ev_efd);
	if (io->ev_hold)
		event_free(io->ev_hold);
	if (io->ev_flush)
		event_free(io->ev_flush);
	if (io->efd != -1)
		close(io->efd);
	io_uring_queue_exit(&io->ring);
	rtp_io_rx_teardown(io);
	free(io->file_next);
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

static void
rtp_io_rx_unlink(struct rtp_io *io, struct rtp_io_rx *rx)
{
	if (rx->prev != NULL)
		rx->prev->next = rx->next;
	else
		io->rx_all = rx->next;
	if (rx->next != NULL)
		rx->next->prev = rx->prev;
	free(rx);
}

/* The clock of one reap: CLOCK_MONOTONIC (the time base of packets) and
 * the offset of CLOCK_REALTIME from it (the kernel's receive timestamps),
 * read when the first datagram needs them. */
struct rtp_io_clock {
	uint64_t mono_us;               /* 0: not read yet */
	int64_t real_minus_mono_us;
};

/* When the jitter buffer is to take the datagram as arrived: the kernel's
 * timestamp of it (SO_TIMESTAMPNS, taken when it reached the socket's
 * host), on the monotonic clock. A datagram taken in at a tick's drain or
 * at the hold timer has waited a little by design (the tick drains before
 * it plays, so no frame misses it); judged by the time it is taken in, it
 * would look late by that wait, and the buffers would grow for nothing.
 * A wait longer than RTP_IO_LAG_US is the daemon falling behind (a core
 * too busy): then now, so that the buffers grow by that lag instead of
 * dropping what comes after its frame. Without a timestamp, or with one a
 * wall-clock step put in the future: now too. */
static uint64_t
rtp_io_arrival(struct io_uring_recvmsg_out *o, struct msghdr *msg, struct rtp_io_clock *clk)
{
	struct cmsghdr *c;
	struct timespec ts, rt;
	int64_t t;

	if (clk->mono_us == 0) {
		clk->mono_us = rtp_clock_us();
		clock_gettime(CLOCK_REALTIME, &rt);
		clk->real_minus_mono_us = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000 -
		    (int64_t)clk->mono_us;
	}
	for (c = io_uring_recvmsg_cmsg_firsthdr(o, msg); c != NULL;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
		    c->cmsg_len < CMSG_LEN(sizeof(ts)))
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		t = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - clk->real_minus_mono_us;
		if (t <= (int64_t)clk->mono_us && t + RTP_IO_LAG_US >= (int64_t)clk->mono_us)
			return (uint64_t)t;
		break;
	}
	return clk->mono_us;
}

/* A completion of a receive: a datagram in a provided buffer (handed to
 * the leg, the buffer given back), and/or the end of the receive. */
static void
rtp_io_rx_done(struct rtp_io *io, struct rtp_io_rx *rx, int res, unsigned int flags,
               struct rtp_io_clock *clk)
{
	if (flags & IORING_CQE_F_BUFFER) {
		unsigned int bid = flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *buf = io->rx_bufs + (size_t)(bid & (io->rx_nbufs - 1)) * RTP_IO_RX_BUF;
		struct io_uring_recvmsg_out *o;

		if (res > 0 && rx->leg != NULL &&
		    (o = io_uring_recvmsg_validate(buf, res, &io->rx_msg)) != NULL) {
			struct addr src;
			size_t nl = o->namelen < sizeof(src.u) ? o->namelen : sizeof(src.u);

			memset(&src, 0, sizeof(src));
			memcpy(&src.u, io_uring_recvmsg_name(o), nl);
			src.len = (socklen_t)nl;
			rx->fails = 0;
			io->stats.rx_packets++;
			rtp_leg_rx(rx->leg, io_uring_recvmsg_payload(o, &io->rx_msg),
			           io_uring_recvmsg_payload_length(o, res, &io->rx_msg), &src,
			           rtp_io_arrival(o, &io->rx_msg, clk));
		}
		io_uring_buf_ring_add(io->br, buf, RTP_IO_RX_BUF, (unsigned short)bid,
		                      io_uring_buf_ring_mask(io->rx_nbufs), (int)io->rx_returned++);
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	/* the receive ended */
	rx->armed = false;
	if (rx->leg == NULL) {
		if (!rx->rearm)
			rtp_io_rx_unlink(io, rx);
		return;
	}
	if (res == -EINVAL || res == -EOPNOTSUPP || res == -ENOTSUP ||
	    (res < 0 && res != -ENOBUFS && res != -EINTR &&
	     /* a connected socket's ICMP error (the peer's port closed) ends
	      * its receive once; armed again, it goes on */
	     res != -ECONNREFUSED && ++rx->fails >= RTP_IO_RX_FAILS)) {
		struct rtp_leg *leg = rx->leg;
		int fd = rx->fd;

		if (res == -EINVAL || res == -EOPNOTSUPP || res == -ENOTSUP) {
			if (!io->rx_unsupported)
				log_msg(LOG_LEVEL_NOTICE, "rtp: io_uring multishot receive refused (%s): "
				        "receiving with recvmmsg", strerror(-res));
			io->rx_unsupported = true;
		} else {
			log_msg(LOG_LEVEL_WARN, "rtp: io_uring receive failed %u times (%s): "
			        "this leg receives with recvmmsg", rx->fails, strerror(-res));
		}
		rtp_io_file_drop(io, rx);
		rtp_io_schedule(io);
		if (!rx->rearm)
			rtp_io_rx_unlink(io, rx);
		else
			rx->leg = NULL;
		rtp_leg_rx_fallback(leg, fd);
		return;
	}
	if (res == -ENOBUFS)
		io->stats.rx_nobufs++;
	if (!rx->rearm) {
		rx->rearm = true;
		rx->next_rearm = io->rx_rearm;
		io->rx_rearm = rx;
	}
	rtp_io_schedule(io);
}

/* The receive of the k-th completion from the head, of n ready; NULL
 * when it is not a receive's. */
static struct rtp_io_rx *
rtp_io_rx_ahead(const struct rtp_io *io, unsigned int k, unsigned int n)
{
	const struct io_uring *r = &io->ring;
	uint64_t data;

	if (k >= n)
		return NULL;
	data = r->cq.cqes[io_uring_cqe_index(r, *r->cq.khead + k, r->cq.ring_mask)].user_data;
	if (!(data & RTP_IO_TAG_RX))
		return NULL;
	return (struct rtp_io_rx *)(uintptr_t)(data & ~(uint64_t)RTP_IO_TAG_RX);
}

/* While one datagram is handled, ask for the memory of the next ones, one
 * pointer further for each step closer (RTP_IO_AHEAD steps): the receive,
 * its leg, the leg's owner, the owner's buffers. With a few hundred calls
 * these are cache misses in a row for every packet, which the pipeline
 * overlaps. Each pointer is read fresh from memory that is still valid: a
 * callback may have freed a leg since (rx->leg is then NULL). */
#define RTP_IO_AHEAD 5
static void
rtp_io_reap_ahead(const struct rtp_io *io, unsigned int n)
{
	struct rtp_io_rx *rx;

	if ((rx = rtp_io_rx_ahead(io, RTP_IO_AHEAD, n)) != NULL)
		__builtin_prefetch(rx);
	for (unsigned int k = 1; k < RTP_IO_AHEAD; k++) {
		if ((rx = rtp_io_rx_ahead(io, k, n)) != NULL)
			rtp_leg_prefetch(rx->leg, RTP_IO_AHEAD - 1 - k);
	}
}

/* Reap what completed, without a system call. One completion at a time
 * and marked seen before it is handled: a leg's callback may flush the
 * ring again (a nested reap goes on where this one is). */
static void
rtp_io_reap(struct rtp_io *io)
{
	struct io_uring_cqe *cqe;
	struct rtp_io_clock clk = { 0, 0 };
	unsigned int n;

	while ((n = io_uring_cq_ready(&io->ring)) > 0) {
		unsigned int head;
		uint64_t data = 0;
		int res = 0;
		unsigned int flags = 0;

		io_uring_for_each_cqe(&io->ring, head, cqe) {
			data = cqe->user_data;
			res = cqe->res;
			flags = cqe->flags;
			break;
		}
		if (n > 1)
			rtp_io_reap_ahead(io, n);
		io_uring_cq_advance(&io->ring, 1);
		io->stats.cqes++;
		if (data & RTP_IO_TAG_RX) {
			rtp_io_rx_done(io, (struct rtp_io_rx *)(uintptr_t)(data & ~(uint64_t)RTP_IO_TAG_RX),
			               res, flags, &clk);
		} else if (data != 0) {
			struct rtp_io_slot *s = (struct rtp_io_slot *)(uintptr_t)data;

			io->stats.send_cqes++;
			if (res < 0)
				io->stats.errors++;
			if (io->skip) {
				/* a failure; the slot is freed with its submission */
				if (s->busy && s->leg != NULL)
					rtp_leg_io_done(s->leg, res < 0 ? res : -EIO, s->iov.iov_len);
				s->leg = NULL;
				continue;
			}
			if (s->leg != NULL)
				rtp_leg_io_done(s->leg, res, s->iov.iov_len);
			s->busy = false;
			s->leg = NULL;
			s->next = io->free;
			io->free = s;
			io->inflight--;
		}
	}
	if (io->rx_returned > 0) {
		io_uring_buf_ring_advance(io->br, (int)io->rx_returned);
		io->rx_returned = 0;
	}
}

static struct io_uring_sqe *
rtp_io_sqe(struct rtp_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

	if (sqe == NULL) {
		rtp_io_flush(io);
		sqe = io_uring_get_sqe(&io->ring);
	}
	return sqe;
}

static void
rtp_io_rx_arm(struct rtp_io *io, struct rtp_io_rx *rx)
{
	struct io_uring_sqe *sqe;

	if ((sqe = rtp_io_sqe(io)) == NULL) {
		rx->rearm = true;               /* try again at the next flush */
		rx->next_rearm = io->rx_rearm;
		io->rx_rearm = rx;
		rtp_io_schedule(io);
		return;
	}
	io_uring_prep_recvmsg_multishot(sqe, rx->fd, &io->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RTP_IO_RX_BGID;
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)rx | RTP_IO_TAG_RX);
	rx->armed = true;
	io->queued++;
	io->stats.rx_arms++;
}

/* Arm the receives that ended (their buffers are back by now). */
static void
rtp_io_rx_rearm(struct rtp_io *io)
{
	struct rtp_io_rx *list = io->rx_rearm, *rx;

	io->rx_rearm = NULL;
	while ((rx = list) != NULL) {
		list = rx->next_rearm;
		rx->rearm = false;
		if (rx->leg == NULL) {
			if (!rx->armed)
				rtp_io_rx_unlink(io, rx);
		} else if (!rx->armed) {
			rtp_io_rx_arm(io, rx);
		}
	}
}

static void
rtp_io_schedule(struct rtp_io *io)
{
	if (!io->flush_pending) {
		io->flush_pending = true;
		event_active(io->ev_flush, EV_TIMEOUT, 1);
	}
}

struct rtp_io_rx *
rtp_io_recv_start(struct rtp_io *io, struct rtp_leg *leg, int fd)
{
	struct rtp_io_rx *rx;

	if (io == NULL || !io->rx_ok || io->rx_unsupported)
		return NULL;
	if ((rx = calloc(1, sizeof(*rx))) == NULL)
		return NULL;
	/* the kernel's arrival time with each datagram (rtp_io_arrival);
	 * without it, the time it is taken in */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int)) == -1)
		log_msg(LOG_LEVEL_DEBUG, "rtp: SO_TIMESTAMPNS: %s", strerror(errno));
	rx->leg = leg;
	rx->fd = fd;
	rx->fixed = rtp_io_file_add(io, fd);
	rx->next = io->rx_all;
	if (io->rx_all != NULL)
		io->rx_all->prev = rx;
	io->rx_all = rx;
	rtp_io_rx_arm(io, rx);
	/* submitted with the loop's next flush, not here: nothing is handed
	 * to the leg while its owner is still setting it up (a packet that
	 * comes meanwhile waits in the socket) */
	rtp_io_schedule(io);
	return rx;
}

void
rtp_io_recv_stop(struct rtp_io *io, struct rtp_io_rx *rx)
{
	struct io_uring_sqe *sqe;

	rx->leg = NULL;
	rtp_io_file_drop(io, rx);
	if (!rx->armed) {
		if (!rx->rearm)
			rtp_io_rx_unlink(io, rx);
		rtp_io_flush(io);       /* the table lets go of the socket */
		return;                 /* else freed when the re-arm list is run */
	}
	/* The ring holds the socket until the receive is cancelled: cancel
	 * now, so the port is free again when the leg closes it. */
	if ((sqe = rtp_io_sqe(io)) == NULL) {
		log_msg(LOG_LEVEL_WARN, "rtp: io_uring full: a receive is cancelled at teardown");
		return;
	}
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)rx | RTP_IO_TAG_RX, 0);
	io_uring_sqe_set_data64(sqe, 0);
	io->queued++;
	rtp_io_flush(io);
	/* the kernel lets go of the socket when the cancellation's task work
	 * has run (here, at the latest); the completions it posts are reaped
	 * by the loop */
	for (int i = 0; i < RTP_IO_RUN_MAX; i++) {
		io_uring_get_events(&io->ring);
		if (!rtp_io_work_flagged(io))
			break;
	}
}

/* Skip mode, after a whole submission and its reap: every send of it is
 * done (its failures were posted before io_uring_submit returned and are
 * reaped), so its slots are free. */
static void
rtp_io_release_sent(struct rtp_io *io)
{
	struct rtp_io_slot *sl;

	for (sl = io->sent.head; sl != NULL; sl = sl->next) {
		sl->busy = false;
		sl->leg = NULL;
	}
	io->sent.tail->next = io->free;
	io->free = io->sent.head;
	io->inflight -= io->sent.n;
	io->sent.head = io->sent.tail = NULL;
	io->sent.n = 0;
}

void
rtp_io_flush(struct rtp_io *io)
{
	int r;

	if (io == NULL)
		return;
	if (io->rx_rearm != NULL && !io->reaping) {
		io->reaping = true;
		rtp_io_reap(io);        /* the buffers back before the receives */
		rtp_io_rx_rearm(io);
		io->reaping = false;
	}
	if (io->queued > 0) {
		for (int tries = 0; tries < 3; tries++) {
			r = io_uring_submit(&io->ring);
			if (r >= 0) {
				io->stats.submits++;
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
	if (io->queued == 0 && io->sent.n > 0)
		rtp_io_release_sent(io);
	if (io->file_gone >= 0 && io->queued == 0)
		rtp_io_files_release(io);
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

/* Have the kernel run the work it holds for this thread (the receives'
 * completions), then reap. With DEFER_TASKRUN it runs that work only in
 * our io_uring_enter, a bounded number of items each time, and flags what
 * it left (IORING_SQ_TASKRUN): enter again while it does, bounded. Without
 * the flag (an old kernel) one enter, which cannot say more. */
static void
rtp_io_take_in(struct rtp_io *io)
{
	if (!(io->ring.flags & IORING_SETUP_TASKRUN_FLAG)) {
		io_uring_get_events(&io->ring);
		rtp_io_reap(io);
		return;
	}
	rtp_io_reap(io);
	for (int i = 0; i < RTP_IO_RUN_MAX && rtp_io_work_flagged(io); i++) {
		unsigned long before = io->stats.cqes;

		io_uring_get_events(&io->ring);
		rtp_io_reap(io);
		/* fewer than the kernel's batch: it ran all it held, and the
		 * flag is of datagrams that came since (the next drain's) */
		if (io->stats.cqes - before < RTP_IO_RUN_BATCH)
			break;
	}
	/* completions the full queue kept aside (bounded: each round frees
	 * the queue) */
	for (int i = 0; i < 4 && io_uring_cq_has_overflow(&io->ring); i++) {
		io_uring_get_events(&io->ring);
		rtp_io_reap(io);
	}
}

/* Arm the hold timer to fire us microseconds from now. */
static void
rtp_io_hold(struct rtp_io *io, uint64_t us)
{
	struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };

	event_add(io->ev_hold, &tv);
}

/* After a take in at taken_us: the hold timer goes by it; receives to
 * arm again and sends queued by the callbacks go to the kernel now, or
 * with the loop's flush at the end of this iteration. */
static void
rtp_io_took_in(struct rtp_io *io, uint64_t taken_us, bool now)
{
	io->taken_us = taken_us;
	if (io->rx_rearm == NULL && io->queued == 0)
		return;
	if (now)
		rtp_io_flush(io);
	else
		rtp_io_schedule(io);
}

/* Take in what has arrived, now. At most once per RTP_IO_DRAIN_US: the
 * calls of one tick share one drain. */
void
rtp_io_drain(struct rtp_io *io, uint64_t now_us)
{
	if (io == NULL || now_us < io->drained_us + RTP_IO_DRAIN_US)
		return;
	io->drained_us = now_us;
	io->stats.drains++;
	rtp_io_take_in(io);
	rtp_io_took_in(io, now_us, false);
}

/* Work for this thread waits: first clear the eventfd where it is
 * level-triggered (a signal after this point is seen), then take in.
 *
 * With DEFER_TASKRUN, the kernel wakes nobody for an arriving datagram;
 * it signals the eventfd when the first one finds no work waiting. Here
 * that signal is then switched off until RTP_IO_HOLD_US pass with no
 * take in: the span clocks' drains, each before its calls' frames, take
 * in meanwhile, and the hold timer when none came, so a datagram waits
 * unseen for about that long at most and the loop wakes for the ticks
 * instead of once per few packets. */
static void
rtp_io_on_efd(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_io *io = arg;
	uint64_t v;

	(void)what;
	if (!io->efd_edge && read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_msg(LOG_LEVEL_WARN, "rtp: io_uring eventfd: %s", strerror(errno));
	io->stats.wakeups++;
	if ((io->ring.flags & IORING_SETUP_DEFER_TASKRUN) && !io->efd_off) {
		io_uring_cq_eventfd_toggle(&io->ring, false);
		io->efd_off = true;
		rtp_io_hold(io, RTP_IO_HOLD_US);
	}
	rtp_io_take_in(io);
	rtp_io_took_in(io, rtp_clock_us(), true);
}

/* The hold timer: armed once when the eventfd goes off, not at every
 * drain, and run on the loop's coarse clock (it may fire early or late by
 * a kernel tick), so it checks the time of the last take in itself. While
 * one came within RTP_IO_HOLD_US, it waits for the rest; else it takes in
 * and lets the eventfd wake the loop again. Work the kernel queued while
 * the eventfd was off signalled nothing: look once more after switching
 * it on (a full barrier between the two). */
static void
rtp_io_on_hold(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_io *io = arg;
	uint64_t now = rtp_clock_us();

	(void)fd;
	(void)what;
	if (now < io->taken_us + RTP_IO_HOLD_US) {
		rtp_io_hold(io, io->taken_us + RTP_IO_HOLD_US - now);
		return;
	}
	io->stats.holds++;
	rtp_io_take_in(io);
	io_uring_cq_eventfd_toggle(&io->ring, true);
	io->efd_off = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (rtp_io_work_flagged(io) || io_uring_cq_ready(&io->ring) > 0)
		rtp_io_take_in(io);
	rtp_io_took_in(io, rtp_clock_us(), true);
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
rtp_io_send(struct rtp_io *io, struct rtp_leg *leg, const struct rtp_io_rx *rx, int fd,
            const struct addr *dst, const uint8_t *pkt, size_t len)
{
	unsigned char sqe_flags = 0;

	struct io_uring_sqe *sqe;
	struct rtp_io_slot *s;

	if (len > RTP_IO_MAX_PKT || (dst != NULL && dst->len > sizeof(s->dst)))
		return EMSGSIZE;
	if ((s = rtp_io_slot_get(io)) == NULL)
		return ENOBUFS;
	if ((sqe = rtp_io_sqe(io)) == NULL) {
		s->next = io->free;
		io->free = s;
		return ENOBUFS;
	}
	s->busy = true;
	s->leg = leg;
	memcpy(s->pkt, pkt, len);
	s->iov.iov_base = s->pkt;
	s->iov.iov_len = len;
	if (rx != NULL && rx->fixed >= 0) {
		fd = rx->fixed;
		sqe_flags = IOSQE_FIXED_FILE;
		io->stats.tx_fixed++;
	}
	if (dst == NULL) {
		io_uring_prep_send(sqe, fd, s->pkt, len, MSG_DONTWAIT);
	} else {
		memcpy(&s->dst, &dst->u, dst->len);
		memset(&s->msg, 0, sizeof(s->msg));
		s->msg.msg_name = &s->dst;
		s->msg.msg_namelen = dst->len;
		s->msg.msg_iov = &s->iov;
		s->msg.msg_iovlen = 1;
		io_uring_prep_sendmsg(sqe, fd, &s->msg, MSG_DONTWAIT);
	}
	io_uring_sqe_set_data(sqe, s);
	sqe->flags |= sqe_flags;
	if (io->skip) {
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		s->next = NULL;
		if (io->sent.tail != NULL)
			io->sent.tail->next = s;
		else
			io->sent.head = s;
		io->sent.tail = s;
		io->sent.n++;
	}
	io->queued++;
	io->inflight++;
	io->stats.queued++;
	if (io->queued >= RTP_IO_SUBMIT_AT)
		rtp_io_flush(io);
	else
		rtp_io_schedule(io);
	return 0;
}

void
rtp_io_forget(struct rtp_io *io, const struct rtp_leg *leg)
{
	if (io->skip) {
		for (struct rtp_io_slot *sl = io->sent.head; sl != NULL; sl = sl->next)
			if (sl->leg == leg)
				sl->leg = NULL;
		return;
	}
	for (unsigned int c = 0; c < io->n_chunks; c++)
		for (unsigned int i = 0; i < RTP_IO_CHUNK; i++)
			if (io->chunks[c][i].busy && io->chunks[c][i].leg == leg)
				io->chunks[c][i].leg = NULL;
}

static void
rtp_io_add_stats(struct rtp_io_stats *to, const struct rtp_io_stats *from)
{
	to->submits += from->submits;
	to->queued += from->queued;
	to->errors += from->errors;
	to->send_cqes += from->send_cqes;
	to->rx_packets += from->rx_packets;
	to->rx_arms += from->rx_arms;
	to->rx_nobufs += from->rx_nobufs;
	to->wakeups += from->wakeups;
	to->drains += from->drains;
	to->holds += from->holds;
	to->cqes += from->cqes;
	to->tx_fixed += from->tx_fixed;
}

void
rtp_io_put(struct rtp_io *io)
{
	bool leak = false;

	if (io == NULL || --io->refs > 0)
		return;
	rtp_io_flush(io);
	/* Late completions still use their slots' memory, and cancelled
	 * receives end with a completion: wait, bounded. */
	for (int i = 0; (io->inflight > 0 || io->rx_all != NULL) && i < RTP_IO_EXIT_WAIT_MS; i++) {
		struct __kernel_timespec ts = { 0, 1000000 };
		struct io_uring_cqe *cqe;

		io_uring_wait_cqe_timeout(&io->ring, &cqe, &ts);
		rtp_io_reap(io);
		rtp_io_rx_rearm(io);    /* frees the ended ones of gone legs */
	}
	if (io->inflight > 0) {
		log_msg(LOG_LEVEL_WARN, "rtp: %u io_uring sends never completed", io->inflight);
		leak = true;
	}
	rtp_io_add_stats(&rtp_io_totals, &io->stats);
	event_free(io->ev_efd);
	event_free(io->ev_flush);
	event_free(io->ev_hold);
	io_uring_queue_exit(&io->ring);
	rtp_io_rx_teardown(io);
	free(io->file_next);
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
		rtp_io_add_stats(out, &rtp_io_the->stats);
		out->active = true;
		out->rx_active = rtp_io_the->rx_ok && !rtp_io_the->rx_unsupported;
		out->skip_success = rtp_io_the->skip;
		out->defer = (rtp_io_the->ring.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
		out->files = rtp_io_the->stats.files;
	}
}

void
rtp_io_reset(void)
{
	rtp_io_failed = false;
}

bool
rtp_io_skips_success(const struct rtp_io *io)
{
	return io != NULL && io->skip;
}

void
rtp_io_set_skip_success(bool on)
{
	rtp_io_no_skip = !on;
}

void
rtp_io_set_rx_buffers(unsigned int n)
{
	if (n == 0 || (n & (n - 1)) != 0 || n > 32768)
		n = RTP_IO_RX_BUFS;
	rtp_io_rx_nbufs = n;
}
