/* flood: send unwanted packets to a UDP port range for a bounded time.
 *
 * usage: flood --dst IP --ports MIN-MAX --pps RATE --seconds S
 *              [--src IP[,IP...]] [--junk PCT] [--seed N]
 *
 * Every packet goes to a port drawn uniformly from MIN..MAX, from one of
 * 16 sockets per source address (so the daemon sees many wrong sources).
 * JUNK percent of the packets (default 50) are random bytes of random
 * length (1..400); the rest are well-formed RTP version 2, PCMA, 172 bytes,
 * with a per-socket SSRC and rising sequence numbers and timestamps. Paced
 * on a 1 ms grid with sendmmsg. Prints one JSON object at the end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define SOCKS_PER_SRC 16
#define MAX_SRC 8

static uint64_t rng_state = 88172645463325252ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double
mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: flood --dst IP --ports MIN-MAX --pps RATE --seconds S "
	    "[--src IP,...] [--junk PCT] [--seed N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "ports", required_argument, NULL, 'p' },
		{ "pps", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "src", required_argument, NULL, 'S' },
		{ "junk", required_argument, NULL, 'j' },
		{ "seed", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dst = "127.0.0.1";
	char srcs[256] = "127.0.0.9,127.0.0.10";
	int pmin = 0, pmax = 0, junk_pct = 50, ch, nsock = 0;
	double pps = 0, secs = 0;
	int socks[MAX_SRC * SOCKS_PER_SRC];
	uint32_t ssrc[MAX_SRC * SOCKS_PER_SRC];
	uint16_t seq[MAX_SRC * SOCKS_PER_SRC];
	struct sockaddr_in to;
	static struct mmsghdr mm[BATCH];
	static struct iovec iov[BATCH];
	static struct sockaddr_in dsts[BATCH];
	static uint8_t pkt[BATCH][400];
	uint64_t sent = 0, sent_rtp = 0, sent_junk = 0, errors = 0, ticks = 0, total;
	double t0, t1;
	int tfd;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': dst = optarg; break;
		case 'p':
			if (sscanf(optarg, "%d-%d", &pmin, &pmax) != 2)
				usage();
			break;
		case 'r': pps = atof(optarg); break;
		case 's': secs = atof(optarg); break;
		case 'S': snprintf(srcs, sizeof(srcs), "%s", optarg); break;
		case 'j': junk_pct = atoi(optarg); break;
		case 'x': rng_state ^= (uint64_t)strtoull(optarg, NULL, 10) * 2654435761ull; break;
		default: usage();
		}
	}
	if (pmin < 1 || pmax < pmin || pmax > 65535 || pps <= 0 || pps > 1e6 || secs <= 0 ||
	    secs > 600 || junk_pct < 0 || junk_pct > 100)
		usage();
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	if (inet_pton(AF_INET, dst, &to.sin_addr) != 1)
		usage();
	for (char *s = strtok(srcs, ","); s && nsock < MAX_SRC * SOCKS_PER_SRC; s = strtok(NULL, ",")) {
		for (int k = 0; k < SOCKS_PER_SRC; k++) {
			struct sockaddr_in a = { .sin_family = AF_INET };
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), sz = 4 << 20;

			if (fd < 0 || inet_pton(AF_INET, s, &a.sin_addr) != 1) {
				fprintf(stderr, "flood: bad source %s\n", s);
				return 1;
			}
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
			if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
				fprintf(stderr, "flood: bind %s: %s\n", s, strerror(errno));
				return 1;
			}
			ssrc[nsock] = (uint32_t)rng();
			seq[nsock] = (uint16_t)rng();
			socks[nsock++] = fd;
		}
	}
	total = (uint64_t)(pps * secs + 0.5);
	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	{
		struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };

		timerfd_settime(tfd, 0, &its, NULL);
	}
	t0 = mono();
	while (sent + errors < total && mono() - t0 < secs + 5) {
		uint64_t exp, due;

		if (read(tfd, &exp, sizeof(exp)) != sizeof(exp))
			continue;
		ticks += exp;
		due = (uint64_t)((double)ticks * pps / 1000.0 + 0.5);
		if (due > total)
			due = total;
		while (sent + errors < due) {
			int s = (int)(rng() % (uint64_t)nsock), m = 0, r;
			uint64_t want = due - sent - errors;

			if (want > BATCH)
				want = BATCH;
			for (; m < (int)want; m++) {
				uint8_t *p = pkt[m];
				size_t len;

				dsts[m] = to;
				dsts[m].sin_port = htons((uint16_t)(pmin + (int)(rng() % (uint64_t)(pmax - pmin + 1))));
				if ((int)(rng() % 100) < junk_pct) {
					len = 1 + rng() % 400;
					for (size_t i = 0; i < len; i++)
						p[i] = (uint8_t)rng();
					sent_junk++;
				} else {
					uint32_t ts = (uint32_t)seq[s] * 160;

					len = 172;
					p[0] = 0x80;
					p[1] = 8;
					seq[s]++;
					p[2] = seq[s] >> 8;
					p[3] = seq[s] & 0xff;
					p[4] = ts >> 24; p[5] = ts >> 16; p[6] = ts >> 8; p[7] = ts;
					p[8] = ssrc[s] >> 24; p[9] = ssrc[s] >> 16; p[10] = ssrc[s] >> 8;
					p[11] = ssrc[s];
					memset(p + 12, 0x55, 160);
					sent_rtp++;
				}
				iov[m].iov_base = p;
				iov[m].iov_len = len;
				memset(&mm[m].msg_hdr, 0, sizeof(mm[m].msg_hdr));
				mm[m].msg_hdr.msg_iov = &iov[m];
				mm[m].msg_hdr.msg_iovlen = 1;
				mm[m].msg_hdr.msg_name = &dsts[m];
				mm[m].msg_hdr.msg_namelen = sizeof(dsts[m]);
			}
			for (int done = 0; done < m;) {
				r = sendmmsg(socks[s], mm + done, (unsigned)(m - done), 0);
				if (r < 0) {
					if (errno == EINTR)
						continue;
					errors++;
					done++;
					continue;
				}
				done += r;
				sent += (uint64_t)r;
			}
		}
	}
	t1 = mono();
	printf("{\"sent\":%llu,\"sent_rtp\":%llu,\"sent_junk\":%llu,\"errors\":%llu,"
	    "\"seconds\":%.3f,\"pps\":%.0f,\"sources\":%d,\"ports\":\"%d-%d\"}\n",
	    (unsigned long long)sent, (unsigned long long)sent_rtp, (unsigned long long)sent_junk,
	    (unsigned long long)errors, t1 - t0, (double)sent / (t1 - t0), nsock, pmin, pmax);
	return 0;
}
