/* minrelay: the floor for a userspace RTP relay, for bench/anchor.sh.
 *
 * usage: minrelay CALLS K GEN_BASE RELAY_BASE PAIRS_FILE
 *
 * Call c has two sockets on 127.0.0.1: RELAY_BASE + 4c faces side A (A
 * sends there), RELAY_BASE + 4c + 2 faces side B. A datagram on one is
 * sent out of the other to that side's peer: symmetric latching (the
 * source of the last datagram on a socket is its peer), starting from the
 * address pbload uses (127.0.0.2 / 127.0.0.3 : GEN_BASE + 2*(c % K)).
 * No parsing, no control protocol: only what every relay must do per
 * packet (epoll, recvmmsg, sendmmsg). Writes PAIRS_FILE for pbload and runs
 * until SIGTERM. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define VEC 32

struct end {
	int fd;
	struct sockaddr_in peer;        /* where this end's side is */
	struct end *twin;               /* the other end of the call */
};

static volatile sig_atomic_t done;

static void
on_term(int sig)
{
	(void)sig;
	done = 1;
}

static void
relay(struct end *in)
{
	static struct mmsghdr rx[VEC], tx[VEC];
	static struct iovec riov[VEC], tiov[VEC];
	static struct sockaddr_in from[VEC];
	static unsigned char buf[VEC][1500];
	struct end *out = in->twin;
	int n;

	do {
		for (int i = 0; i < VEC; i++) {
			riov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			rx[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
			    .msg_namelen = sizeof(from[i]), .msg_iov = &riov[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(in->fd, rx, VEC, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		/* latch on the newest source */
		in->peer = from[n - 1];
		for (int i = 0; i < n; i++) {
			tiov[i] = (struct iovec){ buf[i], rx[i].msg_len };
			tx[i].msg_hdr = (struct msghdr){ .msg_name = &out->peer,
			    .msg_namelen = sizeof(out->peer), .msg_iov = &tiov[i], .msg_iovlen = 1 };
		}
		for (int sent = 0; sent < n;) {
			int r = sendmmsg(out->fd, tx + sent, (unsigned)(n - sent), 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			sent += r;
		}
	} while (n == VEC);
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct rlimit rl;
	struct end *ends;
	int n, k, gbase, rbase, ep;
	FILE *f;

	if (argc != 6) {
		fprintf(stderr, "usage: minrelay CALLS K GEN_BASE RELAY_BASE PAIRS_FILE\n");
		return 2;
	}
	n = atoi(argv[1]);
	k = atoi(argv[2]);
	gbase = atoi(argv[3]);
	rbase = atoi(argv[4]);
	if (n < 1 || k < 1 || rbase < 1 || rbase + 4 * n > 65535)
		return 2;
	if (k > n)
		k = n;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if ((ends = calloc((size_t)n * 2, sizeof(*ends))) == NULL || (ep = epoll_create1(0)) < 0)
		return 1;
	if ((f = fopen(argv[5], "w")) == NULL) {
		perror(argv[5]);
		return 1;
	}
	for (int c = 0; c < n; c++) {
		for (int side = 0; side < 2; side++) {
			struct end *e = &ends[2 * c + side];
			struct sockaddr_in a = { .sin_family = AF_INET,
			    .sin_port = htons((uint16_t)(rbase + 4 * c + 2 * side)) };
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = e };

			inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
			e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
			if (e->fd < 0 || bind(e->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
				fprintf(stderr, "minrelay: bind port %d: %s\n", rbase + 4 * c + 2 * side,
				    strerror(errno));
				return 1;
			}
			e->twin = &ends[2 * c + 1 - side];
			e->peer.sin_family = AF_INET;
			e->peer.sin_port = htons((uint16_t)(gbase + 2 * (c % k)));
			inet_pton(AF_INET, side == 0 ? "127.0.0.2" : "127.0.0.3", &e->peer.sin_addr);
			epoll_ctl(ep, EPOLL_CTL_ADD, e->fd, &ev);
		}
		fprintf(f, "%d %d %d\n", c, rbase + 4 * c, rbase + 4 * c + 2);
	}
	fclose(f);
	while (!done) {
		int m = epoll_wait(ep, evs, 256, 200);

		for (int i = 0; i < m; i++)
			relay(evs[i].data.ptr);
	}
	return 0;
}
