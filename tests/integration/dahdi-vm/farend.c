/* farend: the PSTN side of the dahdi VM test, on the DAHDI span looped to
 * the daemon's. A libpri network side on a D-channel answers every call,
 * streams a known byte pattern on the B-channel (read-clocked, 4 blocks
 * primed) and records what arrives there; a UDP socket records the RTP
 * payloads the daemon sends to the SIP peer's SDP address. When a call
 * ends it prints what it found:
 *
 *   FAREND <name> call <n> connected chan <c>
 *   FAREND <name> call <n> a2b <found>/<sent> b2a <found>/<expected> gaps <g>
 *   FAREND <name> call <n> released cause <cause>
 *   FAREND <name> dchannel up|down,  FAREND <name> restart chan <c>
 *
 * a2b: blocks of the SIP peer's file (pattern seed -S) found byte for byte,
 * in order, in the B-channel stream; b2a: blocks this program wrote found
 * in the RTP payloads (first and last 10 not counted).
 *
 * Also: farend -W FILE -S SEED -n BLOCKS writes the SIP peer's audio file.
 *
 * Usage: farend -N name -d DCHAN -b BBASE -s ni2|euro -r RTPPORT -S SEED
 *               -F SEED -n BLOCKS [-c CPE] [-t SECONDS] [-v] */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dahdi/user.h>
#include <libpri.h>

#define BLK 160
#define PRIME 4
#define MAX_BYTES (BLK * 50 * 120)      /* two minutes */

static const char *name = "far";
static int verbose;
static volatile sig_atomic_t stop;

struct pattern {
	uint32_t x;
};

static void
pattern_init(struct pattern *p, uint32_t seed)
{
	p->x = seed != 0 ? seed : 1;
}

static void
pattern_block(struct pattern *p, uint8_t *out)
{
	for (int i = 0; i < BLK; i++) {
		p->x ^= p->x << 13;
		p->x ^= p->x >> 17;
		p->x ^= p->x << 5;
		out[i] = (uint8_t)(p->x >> 24);
		/* mu-law's negative zero: the daemon decodes and encodes
		 * Internet audio, which makes it 0xff (also zero) */
		if (out[i] == 0x7f)
			out[i] = 0x7e;
	}
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	printf("FAREND %s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
on_pri_message(struct pri *pri, char *s)
{
	if (verbose)
		printf("FAREND %s libpri: %s", name, s);
}

static void
on_pri_error(struct pri *pri, char *s)
{
	printf("FAREND %s libpri error: %s", name, s);
}

static int
open_chan(int channo, int hdlc)
{
	struct dahdi_bufferinfo bi;
	int fd, bs = BLK;

	if ((fd = open("/dev/dahdi/channel", O_RDWR | O_NONBLOCK)) < 0)
		return -1;
	if (ioctl(fd, DAHDI_SPECIFY, &channo) != 0)
		goto fail;
	memset(&bi, 0, sizeof(bi));
	bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
	bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
	bi.numbufs = hdlc ? 32 : 8;
	bi.bufsize = hdlc ? 1024 : BLK;
	if (ioctl(fd, DAHDI_SET_BUFINFO, &bi) != 0)
		goto fail;
	if (!hdlc && ioctl(fd, DAHDI_SET_BLOCKSIZE, &bs) != 0)
		goto fail;
	return fd;
fail:
	say("channel %d: %s", channo, strerror(errno));
	close(fd);
	return -1;
}

/* Blocks of pattern `seed` (from..to) found in order in buf; gaps between
 * consecutive found blocks counted. */
static int
find_blocks(uint32_t seed, int from, int to, const uint8_t *buf, size_t len, int *gaps)
{
	struct pattern p;
	uint8_t blk[BLK];
	size_t pos = 0, prev_end = (size_t)-1;
	int found = 0;

	*gaps = 0;
	pattern_init(&p, seed);
	for (int k = 0; k < to; k++) {
		const uint8_t *hit;

		pattern_block(&p, blk);
		if (k < from || pos >= len)
			continue;
		if ((hit = memmem(buf + pos, len - pos, blk, BLK)) == NULL)
			continue;
		if (prev_end != (size_t)-1 && (size_t)(hit - buf) != prev_end)
			(*gaps)++;
		found++;
		pos = prev_end = (size_t)(hit - buf) + BLK;
	}
	return found;
}

static int
write_file(const char *path, uint32_t seed, int n)
{
	struct pattern p;
	uint8_t blk[BLK];
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL)
		return 1;
	pattern_init(&p, seed);
	for (int k = 0; k < n; k++) {
		pattern_block(&p, blk);
		fwrite(blk, 1, BLK, f);
	}
	return fclose(f) != 0;
}

static void
on_signal(int sig)
{
	stop = 1;
}

int
main(int argc, char **argv)
{
	int opt, dchan = 0, bbase = 0, sw = PRI_SWITCH_NI2, node = PRI_NETWORK;
	int rtpport = 0, nblocks = 250, timeout_s = 600, calls = 0;
	uint32_t seed_sip = 1, seed_far = 2;
	const char *wfile = NULL;
	struct sockaddr_in sin;
	struct pri *pri;
	q931_call *call = NULL;
	int dfd, bfd = -1, rfd, chan = 0;
	uint8_t *brx, *rrx;
	size_t brx_len = 0, rrx_len = 0;
	struct pattern farp;
	int written = 0;
	time_t deadline;

	while ((opt = getopt(argc, argv, "N:d:b:s:r:S:F:n:W:ct:v")) != -1) {
		switch (opt) {
		case 'N': name = optarg; break;
		case 'd': dchan = atoi(optarg); break;
		case 'b': bbase = atoi(optarg); break;
		case 's': sw = strcmp(optarg, "euro") == 0 ? PRI_SWITCH_EUROISDN_E1 : PRI_SWITCH_NI2; break;
		case 'r': rtpport = atoi(optarg); break;
		case 'S': seed_sip = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'F': seed_far = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': nblocks = atoi(optarg); break;
		case 'W': wfile = optarg; break;
		case 'c': node = PRI_CPE; break;
		case 't': timeout_s = atoi(optarg); break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: see farend.c\n");
			return 2;
		}
	}
	if (wfile != NULL)
		return write_file(wfile, seed_sip, nblocks);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	brx = malloc(MAX_BYTES);
	rrx = malloc(MAX_BYTES);
	if ((dfd = open_chan(dchan, 1)) < 0 || brx == NULL || rrx == NULL)
		return 3;
	if ((rfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) < 0)
		return 3;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)rtpport);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rfd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		say("bind %d: %s", rtpport, strerror(errno));
		return 3;
	}
	pri_set_message(on_pri_message);
	pri_set_error(on_pri_error);
	if ((pri = pri_new(dfd, node, sw)) == NULL)
		return 3;
	if (verbose)
		pri_set_debug(pri, PRI_DEBUG_Q931_DUMP | PRI_DEBUG_Q921_STATE);
	say("started on D-channel %d, %s", dchan, pri_switch2str(sw));
	deadline = time(NULL) + timeout_s;
	while (!stop && time(NULL) < deadline) {
		struct pollfd pfd[3];
		struct timeval *next, now;
		pri_event *e = NULL;
		int n = 0, to = 100;

		pfd[n].fd = dfd;
		pfd[n++].events = POLLIN | POLLPRI;
		pfd[n].fd = rfd;
		pfd[n++].events = POLLIN;
		if (bfd >= 0) {
			pfd[n].fd = bfd;
			pfd[n++].events = POLLIN | POLLPRI;
		}
		if ((next = pri_schedule_next(pri)) != NULL) {
			long ms;

			gettimeofday(&now, NULL);
			ms = (next->tv_sec - now.tv_sec) * 1000 + (next->tv_usec - now.tv_usec) / 1000;
			to = ms < 0 ? 0 : ms < to ? (int)ms : to;
		}
		if (poll(pfd, (nfds_t)n, to) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLPRI) {
			int ev = 0;

			if (ioctl(dfd, DAHDI_GETEVENT, &ev) == 0 && ev != 0)
				say("DAHDI event %d on the D-channel", ev);
		}
		if (pfd[0].revents & POLLIN)
			e = pri_check_event(pri);
		if (e == NULL) {
			gettimeofday(&now, NULL);
			if ((next = pri_schedule_next(pri)) != NULL && timercmp(next, &now, <=))
				e = pri_schedule_run(pri);
		}
		/* RTP from the daemon towards the SIP peer */
		for (;;) {
			uint8_t pkt[2048];
			ssize_t r = recv(rfd, pkt, sizeof(pkt), 0);
			size_t hl;

			if (r < 12)
				break;
			hl = 12 + 4 * (size_t)(pkt[0] & 0x0f);
			if ((size_t)r <= hl || call == NULL)
				continue;
			if (rrx_len + (size_t)r - hl <= MAX_BYTES) {
				memcpy(rrx + rrx_len, pkt + hl, (size_t)r - hl);
				rrx_len += (size_t)r - hl;
			}
		}
		/* B-channel: record, and one block out for each block in */
		if (bfd >= 0 && n == 3 && (pfd[2].revents & (POLLIN | POLLPRI))) {
			uint8_t buf[BLK * 4];
			ssize_t r;

			while ((r = read(bfd, buf, sizeof(buf))) != 0) {
				if (r < 0) {
					int ev = 0;

					if (errno == ELAST)
						ioctl(bfd, DAHDI_GETEVENT, &ev);
					if (errno != ELAST)
						break;
					continue;
				}
				if (brx_len + (size_t)r <= MAX_BYTES) {
					memcpy(brx + brx_len, buf, (size_t)r);
					brx_len += (size_t)r;
				}
				for (ssize_t done = 0; done + BLK <= r; done += BLK) {
					uint8_t blk[BLK];

					pattern_block(&farp, blk);
					if (write(bfd, blk, BLK) == BLK)
						written++;
				}
			}
		}
		if (e == NULL)
			continue;
		switch (e->e) {
		case PRI_EVENT_DCHAN_UP:
			say("dchannel up");
			break;
		case PRI_EVENT_DCHAN_DOWN:
			say("dchannel down");
			break;
		case PRI_EVENT_RESTART:
			say("restart chan %d", e->restart.channel & 0xff);
			break;
		case PRI_EVENT_RING:
			calls++;
			call = e->ring.call;
			chan = e->ring.channel & 0xff;
			say("call %d ring chan %d called %s calling %s", calls, chan,
			    e->ring.callednum, e->ring.callingnum);
			pri_proceeding(pri, call, e->ring.channel, 0);
			if ((bfd = open_chan(bbase + chan, 0)) < 0) {
				pri_hangup(pri, call, PRI_CAUSE_REQUESTED_CHAN_UNAVAIL);
				call = NULL;
				break;
			}
			brx_len = rrx_len = 0;
			written = 0;
			pattern_init(&farp, seed_far);
			for (int k = 0; k < PRIME; k++) {
				uint8_t blk[BLK];

				pattern_block(&farp, blk);
				if (write(bfd, blk, BLK) == BLK)
					written++;
			}
			pri_answer(pri, call, e->ring.channel, 1);
			say("call %d connected chan %d", calls, chan);
			break;
		case PRI_EVENT_HANGUP_REQ:
		case PRI_EVENT_HANGUP:
		case PRI_EVENT_HANGUP_ACK:
			if (e->e != PRI_EVENT_HANGUP_ACK)
				pri_hangup(pri, e->hangup.call, e->hangup.cause);
			if (e->hangup.call != call || call == NULL)
				break;
			if (bfd >= 0) {
				int gaps_a, gaps_b, fa, fb, exp_b = written - 20;

				close(bfd);
				bfd = -1;
				fa = find_blocks(seed_sip, 0, nblocks, brx, brx_len, &gaps_a);
				fb = exp_b > 0 ? find_blocks(seed_far, 10, written - 10, rrx, rrx_len,
				    &gaps_b) : 0;
				say("call %d a2b %d/%d b2a %d/%d gaps %d %d (bytes: b %zu rtp %zu)",
				    calls, fa, nblocks, fb, exp_b > 0 ? exp_b : 0, gaps_a, gaps_b,
				    brx_len, rrx_len);
			}
			say("call %d released cause %d", calls, e->hangup.cause);
			call = NULL;
			break;
		default:
			break;
		}
	}
	say("exit");
	return 0;
}
