/* pbload: RTP load generator for the pstnbridge benchmarks.
 *
 * Two ways to get streams:
 *   echo mode (--sip HOST:PORT): places N calls to an echo number with a
 *     minimal SIP UAC over UDP (INVITE with a PCMA offer, ACK, BYE at the
 *     end); each call is one stream: the generator sends 50 packets/s to
 *     the daemon's port and the same payload comes back through the span's
 *     echo.
 *   relay mode (--pairs FILE): a relay (rtpengine, the bare relay) already
 *     has N relayed calls; each line "c PORT_A PORT_B" says where side A and
 *     side B of call c send. Each call is two streams, A->B and B->A.
 *
 * Every packet is 12 bytes of RTP header and 160 bytes of A-law; the payload
 * carries a tag (magic, stream, sequence, phase, send time) at offsets 0 and
 * 80, so an echo that shifts the audio by part of a frame still returns one
 * whole tag. Receive times are the kernel's (SO_TIMESTAMPNS).
 *
 * The run is a list of phases (--phase NAME:SECONDS ...); the first is a
 * warm-up that is not reported. For each reported phase: packets sent,
 * received, loss, late packets, round-trip and excess latency percentiles,
 * the longest gap in any stream, and the measured process's CPU (from
 * /proc/PID/stat and schedstat), RSS and packet rates, the datagrams the
 * kernel dropped (at the generator's sockets, at any UDP socket of the
 * host, in the input backlogs) and how late the generator sent behind its
 * schedule. --on-phase NAME:CMD runs CMD (sh -c) when phase NAME starts,
 * --on-end CMD when the last one ends (before the calls end), waiting for
 * it. Everything is bounded in time.
 * Output: one JSON object on stdout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PKT_LEN 172
#define PAYLOAD_LEN 160
#define TAG_LEN 24
#define TAG_MAGIC 0x50425431u           /* "PBT1" */
#define SLOTS 20                        /* 1 ms send slots per 20 ms */
#define BATCH 64
#define MAX_PHASES 8
#define HIST_US 10                      /* histogram bucket width */
#define HIST_N 100000                   /* up to 1 s */
#define DEDUP 256                       /* per stream window of sequence numbers */
#define FRAME_NS 20000000LL             /* one 20 ms frame */
#define SHRINK_TOL_NS 4000000LL         /* a skip whose round trip fell by its frames +- this */
#define LATE_US 10000                   /* later than the stream's best by half a tick */

enum call_state { C_IDLE = 0, C_INVITING, C_UP, C_FAILED, C_BYEING, C_DONE, C_DROPPED };

struct call {
	enum call_state state;
	int status;                     /* final INVITE status */
	int tries;
	uint64_t t_invite, t_200;       /* ns */
	uint64_t t_retx;                /* next retransmission */
	char to[256];                   /* To header value of the 2xx (with tag) */
	char ruri[256];                 /* Contact of the 2xx */
	struct sockaddr_in media;       /* the daemon's RTP address */
};

struct phase_stat {
	uint64_t sent, rx, dup, late, foreign, untagged;
	uint64_t jb_inserted, jb_skipped;       /* frames, seen in the echo (stream_jb) */
	uint64_t jb_shrunk;             /* of jb_skipped: the buffer taking back delay */
	uint32_t *hist_rtt, *hist_exc, *hist_exc_jb;
	uint32_t *hist_late;            /* per packet sent: how late, behind its slot's schedule */
	uint64_t n_late;                /* packets in hist_late */
	uint32_t *st_sent, *st_rx;      /* per stream: the worst call's loss */
	uint64_t max_gap_us;            /* longest time between two arrivals of a stream */
	uint32_t max_run_lost;          /* longest run of missing sequence numbers */
	double t0, t1;                  /* s, monotonic */
	unsigned long long cpu_ticks0, cpu_ticks1, sched0, sched1, wait0, wait1;
	unsigned int threads;           /* of the measured process, at the phase's end */
	unsigned long long host_busy0, host_busy1, host_tot0, host_tot1;
	long rss_kb;
	uint64_t gen_rx_all0, gen_rx_all1;  /* every datagram the generator got */
	/* datagrams the kernel dropped: at the generator's sockets (their
	 * receive buffers full), at every UDP socket of the host (Udp
	 * RcvbufErrors: the generator's and the process measured's on a
	 * quiet machine) and in the CPUs' input backlogs (softnet_stat) */
	uint64_t gen_drops0, gen_drops1, host_rcvbuf0, host_rcvbuf1, backlog0, backlog1;
	struct rusage ru0, ru1;
};

struct stream {
	int sock;                       /* sends from */
	int rx_sock;                    /* expects its tag back on */
	struct sockaddr_in dst;
	uint16_t rtp_seq;
	uint32_t rtp_ts, ssrc;
	uint32_t seq;                   /* tag sequence, 1.. */
	int active;
	uint32_t rx_max;                /* highest tag seq received */
	uint8_t seen[DEDUP / 8];
	uint64_t best_rtt;              /* ns, lowest so far */
	uint64_t last_rtt;              /* ns, of the highest tag received */
	/* The daemon's jitter buffer moves its delay by whole frames: a frame
	 * it inserts (concealment) comes back untagged or as a repeated tag,
	 * a frame it skips is a tag that never comes. jb_k counts the
	 * frames it is ahead by so far; rtt - jb_k x 20 ms is the round trip
	 * without the buffer's own steps. */
	int64_t jb_k;
	int64_t best_norm;              /* ns, lowest rtt - jb_k x 20 ms */
	int have_norm;
	uint64_t last_rx;               /* ns, realtime */
	int last_rx_phase;
};

static struct {
	int relay;                      /* relay mode */
	int n;                          /* calls */
	int nstreams;
	int nsocks;
	int pid;                        /* process measured */
	const char *local_a, *local_b;
	int rtp_base;
	struct sockaddr_in sip_dst;
	const char *number;             /* may hold one %d: call / per_number */
	int per_number;
	double setup_rate;
	int setup_window;
	double setup_timeout;
	char runid[32];
	const char *pairs;
	int nphases;
	char *phase_name[MAX_PHASES];
	double phase_len[MAX_PHASES];
	char *phase_cmd[MAX_PHASES];
	const char *end_cmd;            /* --on-end: run (and waited for) after the last phase */
	double drain;
	int quiet;
	int rx_poll;                    /* read the RTP sockets on the 1 ms grid */
} opt = {
	.n = 20, .local_a = "127.0.0.2", .local_b = "127.0.0.3", .rtp_base = 40000,
	.number = "100", .setup_rate = 200, .setup_window = 200, .setup_timeout = 120,
	.drain = 0.5,
};

static struct call *calls;
static struct stream *streams;
static FILE *dump_file;                 /* --dump */
static int *socks;
static int sip_fd = -1;
static int ep = -1;
static struct phase_stat ph[MAX_PHASES];
static int cur_phase = -1;
static uint64_t gen_rx_all, rx_bad_len, tx_err, overruns, max_stall, sip_rx, sip_unmatched;
static volatile sig_atomic_t stop_flag;
static int sip_local_port;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pbload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
note(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "pbload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static uint64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t
real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ---- the measured process ---- */

static unsigned long long
proc_ticks(int pid)
{
	char path[64], buf[2048], *s;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((s = strrchr(buf, ')')) == NULL)
		return 0;
	/* after ") ": state is field 3; utime 14, stime 15 */
	if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* Nanoseconds on CPU, all threads (schedstat); 0 when not available.
 * wait: nanoseconds spent runnable but waiting for a CPU (summed over the
 * threads: those of one process on one core wait for each other too);
 * threads: how many there are. */
static unsigned long long
proc_sched_ns(int pid, unsigned long long *wait, unsigned int *threads)
{
	char path[64];
	unsigned long long sum = 0;
	struct dirent *d;
	DIR *dir;

	*wait = 0;
	*threads = 0;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		char p2[320];
		unsigned long long v, w;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid, d->d_name);
		if ((f = fopen(p2, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu %llu", &v, &w) == 2) {
			sum += v;
			*wait += w;
			(*threads)++;
		}
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/* Busy and total jiffies of all CPUs (/proc/stat). */
static void
host_cpu(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

/* Datagrams dropped at the receive buffers of all UDP sockets of the host
 * (Udp RcvbufErrors of /proc/net/snmp). */
static uint64_t
host_udp_rcvbuf_errors(void)
{
	char head[512], vals[512];
	uint64_t v = 0;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (f == NULL)
		return 0;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		char *hs, *vs, *h, *x;

		if (strncmp(head, "Udp:", 4) != 0 || strncmp(vals, "Udp:", 4) != 0)
			continue;
		h = strtok_r(head + 4, " \n", &hs);
		x = strtok_r(vals + 4, " \n", &vs);
		for (; h != NULL && x != NULL; h = strtok_r(NULL, " \n", &hs), x = strtok_r(NULL, " \n", &vs))
			if (strcmp(h, "RcvbufErrors") == 0)
				v = strtoull(x, NULL, 10);
		break;
	}
	fclose(f);
	return v;
}

/* Packets dropped in the CPUs' input backlogs (netdev_max_backlog): the
 * second column of /proc/net/softnet_stat, one row per CPU. */
static uint64_t
host_backlog_drops(void)
{
	unsigned int processed, dropped;
	char line[512];
	uint64_t v = 0;
	FILE *f = fopen("/proc/net/softnet_stat", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &processed, &dropped) == 2)
			v += dropped;
	fclose(f);
	return v;
}

static long
proc_rss_kb(int pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

static int
proc_alive(int pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* ---- sockets ---- */

static int
udp_bind(const char *ip, int port, int bufsz)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	if (bufsz > 0) {
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	}
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		die("bad address %s", ip);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("bind %s:%d: %s", ip, port, strerror(errno));
	return fd;
}

static void
ep_add(int fd, uint32_t key)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = key };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* ---- the tag in the payload ---- */

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t
tag_sum(const uint8_t *t)
{
	uint8_t s = 0x5a;

	for (int i = 0; i < TAG_LEN - 1; i++)
		s = (uint8_t)(s * 31 + t[i]);
	return s;
}

static void
tag_write(uint8_t *t, uint32_t stream, uint32_t seq, int phase, uint64_t tx_ns)
{
	put32(t, TAG_MAGIC);
	put32(t + 4, stream);
	put32(t + 8, seq);
	t[12] = (uint8_t)phase;
	t[13] = t[14] = t[15] = 0;
	put32(t + 16, (uint32_t)(tx_ns >> 32));
	put32(t + 20, (uint32_t)tx_ns);
	/* the last byte is the check sum: overwrite the low byte of the time */
	t[23] = tag_sum(t);
}

/* Find the first whole tag in a payload; 0 when found. */
static int
tag_find(const uint8_t *p, size_t len, uint32_t *stream, uint32_t *seq, int *phase,
    uint64_t *tx_ns)
{
	for (size_t off = 0; off + TAG_LEN <= len; off++) {
		const uint8_t *t = p + off;

		if (t[0] != 0x50 || get32(t) != TAG_MAGIC || tag_sum(t) != t[23])
			continue;
		*stream = get32(t + 4);
		*seq = get32(t + 8);
		*phase = t[12];
		*tx_ns = (uint64_t)get32(t + 16) << 32 | (get32(t + 20) & 0xffffff00u);
		return 0;
	}
	return -1;
}

/* ---- sending ---- */

/* slot -> list of streams sending in that 1 ms slot, grouped by socket */
static int *slot_list[SLOTS];
static int slot_n[SLOTS];

static int
cmp_by_sock(const void *a, const void *b)
{
	int x = streams[*(const int *)a].sock, y = streams[*(const int *)b].sock;

	return (x > y) - (x < y);
}

static void
slots_build(void)
{
	for (int s = 0; s < SLOTS; s++) {
		slot_list[s] = calloc((size_t)opt.nstreams / SLOTS + 2, sizeof(int));
		slot_n[s] = 0;
	}
	for (int i = 0; i < opt.nstreams; i++) {
		int s = i % SLOTS;

		slot_list[s][slot_n[s]++] = i;
	}
	for (int s = 0; s < SLOTS; s++)
		qsort(slot_list[s], (size_t)slot_n[s], sizeof(int), cmp_by_sock);
}

/* Send the packets of one 1 ms slot; sched_ns is the slot's time on the
 * schedule (realtime), written in the tags: a late generator shows up as
 * latency instead of hiding the daemon's. */
static void
send_slot(int slot, int phase, uint64_t sched_ns)
{
	static struct mmsghdr mm[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t pkt[BATCH][PKT_LEN];
	int *list = slot_list[slot], n = slot_n[slot], i = 0;

	while (i < n) {
		int sock = streams[list[i]].sock, m = 0, done = 0;
		uint64_t now = sched_ns;

		while (i < n && m < BATCH && streams[list[i]].sock == sock) {
			struct stream *st = &streams[list[i]];
			uint8_t *p = pkt[m];

			if (!st->active) {
				i++;
				continue;
			}
			st->rtp_seq++;
			st->rtp_ts += PAYLOAD_LEN;
			st->seq++;
			p[0] = 0x80;
			p[1] = 8;       /* PCMA */
			p[2] = st->rtp_seq >> 8;
			p[3] = st->rtp_seq & 0xff;
			put32(p + 4, st->rtp_ts);
			put32(p + 8, st->ssrc);
			memset(p + 12, 0xd5, PAYLOAD_LEN);
			tag_write(p + 12, (uint32_t)list[i], st->seq, phase, now);
			if (phase >= 0 && phase < MAX_PHASES && ph[phase].st_sent)
				ph[phase].st_sent[list[i]]++;
			memcpy(p + 12 + 80, p + 12, TAG_LEN);
			iov[m].iov_base = p;
			iov[m].iov_len = PKT_LEN;
			memset(&mm[m].msg_hdr, 0, sizeof(mm[m].msg_hdr));
			mm[m].msg_hdr.msg_iov = &iov[m];
			mm[m].msg_hdr.msg_iovlen = 1;
			mm[m].msg_hdr.msg_name = &st->dst;
			mm[m].msg_hdr.msg_namelen = sizeof(st->dst);
			m++;
			i++;
		}
		if (m > 0 && phase >= 0 && phase < MAX_PHASES && ph[phase].hist_late) {
			uint64_t t = real_ns();
			uint64_t b = t > sched_ns ? (t - sched_ns) / 1000 / HIST_US : 0;

			ph[phase].hist_late[b < HIST_N ? b : HIST_N - 1] += (uint32_t)m;
			ph[phase].n_late += (uint64_t)m;
		}
		while (done < m) {
			int r = sendmmsg(socks[sock], mm + done, (unsigned)(m - done), 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* the first failed: count it and go on */
				tx_err++;
				done++;
				continue;
			}
			done += r;
			if (phase >= 0 && phase < MAX_PHASES)
				ph[phase].sent += (uint64_t)r;
		}
	}
}

/* ---- receiving ---- */

/* echo mode: the daemon's RTP port of each stream (it sends from it) */
static int32_t port_stream[65536];

static void
hist_add(uint32_t *h, uint64_t ns)
{
	uint64_t b = ns / 1000 / HIST_US;

	h[b < HIST_N ? b : HIST_N - 1]++;
}

/* An untagged frame (concealment, silence) from the daemon's port of a
 * stream that has started: a frame its jitter buffer inserted. */
static void
on_untagged(uint16_t src_port)
{
	int32_t sid = port_stream[src_port];

	if (cur_phase < 0 || sid < 0 || sid >= opt.nstreams || streams[sid].rx_max == 0)
		return;
	streams[sid].jb_k++;
	ph[cur_phase].jb_inserted++;
}

static void
on_rtp(int sock, const uint8_t *p, size_t len, uint64_t rx_ns, uint16_t src_port)
{
	struct stream *st;
	struct phase_stat *ps;
	uint32_t sid, seq;
	uint64_t tx_ns, rtt;
	int phase;

	gen_rx_all++;
	if (len < 12 + TAG_LEN) {
		rx_bad_len++;
		return;
	}
	if (tag_find(p + 12, len - 12, &sid, &seq, &phase, &tx_ns) != 0) {
		if (cur_phase >= 0)
			ph[cur_phase].untagged++;
		on_untagged(src_port);
		return;
	}
	if (sid >= (uint32_t)opt.nstreams || phase < 0 || phase >= opt.nphases) {
		rx_bad_len++;
		return;
	}
	ps = &ph[phase];
	st = &streams[sid];
	rtt = rx_ns > tx_ns ? rx_ns - tx_ns : 0;
	if (st->rx_sock != sock) {
		ps->foreign++;
		return;
	}
	/* duplicates (two tags, concealment repeats) count once */
	if (seq + DEDUP <= st->rx_max) {
		ps->dup++;
		return;
	}
	if (seq > st->rx_max) {
		if (st->rx_max > 0 && seq - st->rx_max > 1) {
			/* frames skipped (or late and concealed: then their
			 * concealment came back untagged, and the two cancel) */
			uint32_t m = seq - st->rx_max - 1;
			int64_t fell = (int64_t)st->last_rtt - (int64_t)rtt;

			st->jb_k -= (int64_t)m;
			ps->jb_skipped += m;
			/* The round trip fell by the frames skipped: the buffer
			 * dropped them to take back delay it had added (a late or
			 * lost packet's frame is concealed in its place instead,
			 * and what follows keeps its time). */
			if (st->last_rtt > 0 && llabs(fell - (int64_t)m * FRAME_NS) <= SHRINK_TOL_NS)
				ps->jb_shrunk += m;
		}
		st->last_rtt = rtt;
		for (uint32_t s = st->rx_max + 1; s < seq && s + DEDUP > seq; s++)
			st->seen[(s % DEDUP) / 8] &= (uint8_t)~(1u << (s % 8));
		if (seq - st->rx_max > 1 && st->rx_max > 0 && seq - st->rx_max - 1 > ps->max_run_lost)
			ps->max_run_lost = seq - st->rx_max - 1;
		if (seq >= st->rx_max + DEDUP)
			memset(st->seen, 0, sizeof(st->seen));
		st->rx_max = seq;
	} else if (st->seen[(seq % DEDUP) / 8] & (1u << (seq % 8))) {
		/* a tag again: concealment that repeated its frame */
		ps->dup++;
		st->jb_k++;
		ps->jb_inserted++;
		return;
	} else {
		st->jb_k++;     /* came after all: it was not skipped */
		if (ps->jb_skipped > 0)
			ps->jb_skipped--;
	}
	st->seen[(seq % DEDUP) / 8] |= (uint8_t)(1u << (seq % 8));
	ps->rx++;
	if (ps->st_rx)
		ps->st_rx[sid]++;
	if (st->best_rtt == 0 || rtt < st->best_rtt)
		st->best_rtt = rtt;
	hist_add(ps->hist_rtt, rtt);
	hist_add(ps->hist_exc, rtt - st->best_rtt);
	{
		int64_t norm = (int64_t)rtt - st->jb_k * 20000000;

		if (!st->have_norm || norm < st->best_norm) {
			st->best_norm = norm;
			st->have_norm = 1;
		}
		hist_add(ps->hist_exc_jb, (uint64_t)(norm - st->best_norm));
	}
	if (rtt - st->best_rtt >= (uint64_t)LATE_US * 1000)
		ps->late++;
	if (dump_file != NULL && phase == opt.nphases - 1) {
		/* --dump: one record per echoed packet of the last phase */
		uint64_t rec[5] = { rx_ns, tx_ns, sid, seq, (uint64_t)st->jb_k };

		if (fwrite(rec, sizeof(rec), 1, dump_file) != 1) {
			fclose(dump_file);
			dump_file = NULL;
		}
	}
	if (st->last_rx != 0 && st->last_rx_phase == phase && rx_ns > st->last_rx &&
	    (rx_ns - st->last_rx) / 1000 > ps->max_gap_us)
		ps->max_gap_us = (rx_ns - st->last_rx) / 1000;
	st->last_rx = rx_ns;
	st->last_rx_phase = phase;
}

static void
drain_sock(int sock)
{
	static struct mmsghdr mm[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t buf[BATCH][512];
	static uint8_t ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
	static struct sockaddr_in src[BATCH];

	for (int rounds = 0; rounds < 64; rounds++) {
		int r;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &src[i];
			mm[i].msg_hdr.msg_namelen = sizeof(src[i]);
			mm[i].msg_hdr.msg_control = ctl[i];
			mm[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		r = recvmmsg(socks[sock], mm, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;
		for (int i = 0; i < r; i++) {
			uint64_t rx_ns = 0;
			struct cmsghdr *c;

			for (c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c; c = CMSG_NXTHDR(&mm[i].msg_hdr, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rx_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
				}
			}
			if (rx_ns == 0)
				rx_ns = real_ns();
			on_rtp(sock, buf[i], mm[i].msg_len, rx_ns, ntohs(src[i].sin_port));
		}
		if (r < BATCH)
			return;
	}
}

/* ---- SIP (echo mode) ---- */

static void
sip_send(const char *msg, size_t len)
{
	if (sendto(sip_fd, msg, len, 0, (struct sockaddr *)&opt.sip_dst, sizeof(opt.sip_dst)) < 0)
		tx_err++;
}

static const char *
call_number(int i)
{
	static char buf[64];

	if (strchr(opt.number, '%') == NULL)
		return opt.number;
	snprintf(buf, sizeof(buf), opt.number, opt.per_number > 0 ? i / opt.per_number : 0);
	return buf;
}

static void
sip_invite(int i)
{
	struct call *c = &calls[i];
	char sdp[512], msg[2048], dst[64];
	int sock = streams[i].sock, port = opt.rtp_base + 2 * sock, sl, ml;

	inet_ntop(AF_INET, &opt.sip_dst.sin_addr, dst, sizeof(dst));
	sl = snprintf(sdp, sizeof(sdp),
	    "v=0\r\no=- %d 1 IN IP4 %s\r\ns=pbload\r\nc=IN IP4 %s\r\nt=0 0\r\n"
	    "m=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n",
	    i + 1, opt.local_a, opt.local_a, port);
	ml = snprintf(msg, sizeof(msg),
	    "INVITE sip:%s@%s:%d SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s-%d-i%d;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:bench@%s>;tag=f%s%d\r\n"
	    "To: <sip:%s@%s>\r\n"
	    "Call-ID: %s-%d@pbload\r\n"
	    "CSeq: 1 INVITE\r\n"
	    "Contact: <sip:bench@%s:%d>\r\n"
	    "Content-Type: application/sdp\r\n"
	    "Content-Length: %d\r\n\r\n%s",
	    call_number(i), dst, ntohs(opt.sip_dst.sin_port),
	    opt.local_a, sip_local_port, opt.runid, i, c->tries,
	    opt.local_a, opt.runid, i,
	    call_number(i), dst,
	    opt.runid, i,
	    opt.local_a, sip_local_port,
	    sl, sdp);
	sip_send(msg, (size_t)ml);
	if (c->tries == 0)
		c->t_invite = mono_ns();
	c->tries++;
	c->t_retx = mono_ns() + (uint64_t)(500ull << (c->tries < 4 ? c->tries - 1 : 3)) * 1000000ull;
	c->state = C_INVITING;
}

/* ACK for a 2xx (own transaction) or for a failure (same branch). */
static void
sip_ack(int i, int ok, const char *to)
{
	struct call *c = &calls[i];
	char msg[2048], dst[64];
	int ml;

	inet_ntop(AF_INET, &opt.sip_dst.sin_addr, dst, sizeof(dst));
	if (ok)
		ml = snprintf(msg, sizeof(msg),
		    "ACK %s SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s-%d-a;rport\r\n"
		    "Max-Forwards: 70\r\nFrom: <sip:bench@%s>;tag=f%s%d\r\nTo: %s\r\n"
		    "Call-ID: %s-%d@pbload\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		    c->ruri, opt.local_a, sip_local_port, opt.runid, i, opt.local_a, opt.runid, i,
		    to, opt.runid, i);
	else
		ml = snprintf(msg, sizeof(msg),
		    "ACK sip:%s@%s:%d SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s-%d-i%d;rport\r\n"
		    "Max-Forwards: 70\r\nFrom: <sip:bench@%s>;tag=f%s%d\r\nTo: %s\r\n"
		    "Call-ID: %s-%d@pbload\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		    call_number(i), dst, ntohs(opt.sip_dst.sin_port), opt.local_a, sip_local_port,
		    opt.runid, i, c->tries - 1, opt.local_a, opt.runid, i, to, opt.runid, i);
	sip_send(msg, (size_t)ml);
}

static void
sip_bye(int i)
{
	struct call *c = &calls[i];
	char msg[2048];
	int ml;

	ml = snprintf(msg, sizeof(msg),
	    "BYE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s-%d-b%d;rport\r\n"
	    "Max-Forwards: 70\r\nFrom: <sip:bench@%s>;tag=f%s%d\r\nTo: %s\r\n"
	    "Call-ID: %s-%d@pbload\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
	    c->ruri, opt.local_a, sip_local_port, opt.runid, i, c->tries, opt.local_a,
	    opt.runid, i, c->to, opt.runid, i);
	sip_send(msg, (size_t)ml);
	c->tries++;
	c->t_retx = mono_ns() + 1000000000ull;
	c->state = C_BYEING;
}

/* The value of header NAME (or its compact form) in msg, copied to out. */
static int
sip_header(const char *msg, const char *name, char compact, char *out, size_t cap)
{
	const char *p = msg;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		const char *v = NULL, *e;

		p += 2;
		if (p[0] == '\r')
			break;
		if (strncasecmp(p, name, nl) == 0 && (p[nl] == ':' || p[nl] == ' '))
			v = p + nl;
		else if (compact && tolower((unsigned char)p[0]) == compact &&
		    (p[1] == ':' || p[1] == ' '))
			v = p + 1;
		if (v == NULL)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != ':')
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		e = strstr(v, "\r\n");
		if (e == NULL)
			e = v + strlen(v);
		if ((size_t)(e - v) >= cap)
			return -1;
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = '\0';
		return 0;
	}
	return -1;
}

/* Answer a request from the daemon (a BYE, OPTIONS) with 200. */
static void
sip_answer_request(const char *msg, const struct sockaddr_in *from)
{
	char via[512], fr[512], to[512], cid[256], cseq[128], out[2048];
	int n;

	if (sip_header(msg, "Via", 'v', via, sizeof(via)) || sip_header(msg, "From", 'f', fr, sizeof(fr)) ||
	    sip_header(msg, "To", 't', to, sizeof(to)) || sip_header(msg, "Call-ID", 'i', cid, sizeof(cid)) ||
	    sip_header(msg, "CSeq", 0, cseq, sizeof(cseq)))
		return;
	n = snprintf(out, sizeof(out), "SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\n"
	    "Call-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n", via, fr, to, cid, cseq);
	sendto(sip_fd, out, (size_t)n, 0, (const struct sockaddr *)from, sizeof(*from));
	if (strncmp(msg, "BYE ", 4) == 0) {
		const char *p = strstr(cid, opt.runid);

		if (p && p[strlen(opt.runid)] == '-') {
			int i = atoi(p + strlen(opt.runid) + 1);

			if (i >= 0 && i < opt.n && calls[i].state == C_UP) {
				calls[i].state = C_DROPPED;
				streams[i].active = 0;
			}
		}
	}
}

static void
sip_on_message(char *msg, size_t len, const struct sockaddr_in *from)
{
	char cid[256], cseq[128], to[256], contact[256];
	const char *p;
	int status, i;
	struct call *c;

	msg[len] = '\0';
	sip_rx++;
	if (strncmp(msg, "SIP/2.0 ", 8) != 0) {
		sip_answer_request(msg, from);
		return;
	}
	status = atoi(msg + 8);
	if (sip_header(msg, "Call-ID", 'i', cid, sizeof(cid)) || sip_header(msg, "CSeq", 0, cseq, sizeof(cseq)))
		goto unmatched;
	if ((p = strstr(cid, opt.runid)) == NULL || p[strlen(opt.runid)] != '-')
		goto unmatched;
	i = atoi(p + strlen(opt.runid) + 1);
	if (i < 0 || i >= opt.n)
		goto unmatched;
	c = &calls[i];
	if (strstr(cseq, "INVITE")) {
		if (status < 200) {
			if (c->state == C_INVITING)
				c->t_retx = mono_ns() + 30ull * 1000000000ull;   /* provisional: stop retransmitting */
			return;
		}
		if (sip_header(msg, "To", 't', to, sizeof(to)))
			goto unmatched;
		if (status >= 300) {
			sip_ack(i, 0, to);
			if (c->state == C_INVITING) {
				c->state = C_FAILED;
				c->status = status;
			}
			return;
		}
		if (c->state != C_INVITING) {
			if (c->state == C_UP || c->state == C_BYEING)
				sip_ack(i, 1, c->to);   /* retransmitted 2xx */
			return;
		}
		snprintf(c->to, sizeof(c->to), "%s", to);
		c->ruri[0] = '\0';
		if (sip_header(msg, "Contact", 'm', contact, sizeof(contact)) == 0) {
			char *a = strchr(contact, '<'), *b;

			if (a && (b = strchr(a, '>'))) {
				*b = '\0';
				snprintf(c->ruri, sizeof(c->ruri), "%s", a + 1);
			} else {
				snprintf(c->ruri, sizeof(c->ruri), "%s", contact);
				if ((b = strchr(c->ruri, ';')))
					*b = '\0';
			}
		}
		if (c->ruri[0] == '\0') {
			char dst[64];

			inet_ntop(AF_INET, &opt.sip_dst.sin_addr, dst, sizeof(dst));
			snprintf(c->ruri, sizeof(c->ruri), "sip:%s@%s:%d", call_number(i), dst,
			    ntohs(opt.sip_dst.sin_port));
		}
		c->status = status;
		c->t_200 = mono_ns();
		sip_ack(i, 1, c->to);
		{
			const char *body = strstr(msg, "\r\n\r\n"), *m, *ci;
			char ip[64] = "";
			int port = 0;

			if (body && (m = strstr(body, "m=audio ")))
				port = atoi(m + 8);
			if (body && (ci = strstr(body, "c=IN IP4 ")))
				sscanf(ci + 9, "%63[0-9.]", ip);
			memset(&c->media, 0, sizeof(c->media));
			c->media.sin_family = AF_INET;
			c->media.sin_port = htons((uint16_t)port);
			if (port <= 0 || inet_pton(AF_INET, ip, &c->media.sin_addr) != 1) {
				c->state = C_FAILED;
				c->status = 999;
				return;
			}
		}
		c->state = C_UP;
		streams[i].dst = c->media;
		port_stream[ntohs(c->media.sin_port)] = (int32_t)i;
		return;
	}
	if (strstr(cseq, "BYE")) {
		if (status >= 200 && c->state == C_BYEING)
			c->state = C_DONE;
		return;
	}
unmatched:
	sip_unmatched++;
}

static void
sip_drain(void)
{
	char buf[4096];
	struct sockaddr_in from;
	socklen_t fl;

	for (int k = 0; k < 256; k++) {
		ssize_t r;

		fl = sizeof(from);
		r = recvfrom(sip_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (r <= 0)
			return;
		sip_on_message(buf, (size_t)r, &from);
	}
}

/* ---- the loop ---- */

static int tfd = -1;

/* Wait up to ms for events; drain RTP and SIP; returns timer expirations. */
static uint64_t
poll_once(int ms)
{
	struct epoll_event evs[256];
	uint64_t exp = 0;
	int n = epoll_wait(ep, evs, 256, ms);

	for (int i = 0; i < n; i++) {
		uint32_t k = evs[i].data.u32;

		if (k == 0xffffffffu) {
			uint64_t e;

			if (read(tfd, &e, sizeof(e)) == sizeof(e))
				exp += e;
		} else if (k == 0xfffffffeu)
			sip_drain();
		else
			drain_sock((int)k);
	}
	if (opt.rx_poll)        /* nobody sleeps on them: read them all now */
		for (int k = 0; k < (opt.relay ? 2 : 1) * opt.nsocks; k++)
			drain_sock(k);
	return exp;
}

static pid_t
run_cmd(const char *cmd)
{
	pid_t p = fork();

	if (p == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (p < 0)
		note("fork: %s", strerror(errno));
	return p;
}

/* Datagrams the generator's own sockets dropped (SO_MEMINFO). */
static uint64_t
gen_sock_drops(void)
{
	uint64_t v = 0;

	for (int k = 0; socks != NULL && k < (opt.relay ? 2 : 1) * opt.nsocks; k++) {
		uint32_t mi[SK_MEMINFO_VARS];
		socklen_t len = sizeof(mi);

		if (getsockopt(socks[k], SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
		    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
			v += mi[SK_MEMINFO_DROPS];
	}
	return v;
}

static void
phase_mark(struct phase_stat *s, int end)
{
	if (!end) {
		s->t0 = mono_ns() / 1e9;
		s->cpu_ticks0 = proc_ticks(opt.pid);
		s->sched0 = proc_sched_ns(opt.pid, &s->wait0, &s->threads);
		host_cpu(&s->host_busy0, &s->host_tot0);
		s->gen_rx_all0 = gen_rx_all;
		s->gen_drops0 = gen_sock_drops();
		s->host_rcvbuf0 = host_udp_rcvbuf_errors();
		s->backlog0 = host_backlog_drops();
		getrusage(RUSAGE_SELF, &s->ru0);
	} else {
		s->t1 = mono_ns() / 1e9;
		s->cpu_ticks1 = proc_ticks(opt.pid);
		s->sched1 = proc_sched_ns(opt.pid, &s->wait1, &s->threads);
		host_cpu(&s->host_busy1, &s->host_tot1);
		s->rss_kb = proc_rss_kb(opt.pid);
		s->gen_rx_all1 = gen_rx_all;
		s->gen_drops1 = gen_sock_drops();
		s->host_rcvbuf1 = host_udp_rcvbuf_errors();
		s->backlog1 = host_backlog_drops();
		getrusage(RUSAGE_SELF, &s->ru1);
	}
}

static void
setup_calls(void)
{
	uint64_t t0 = mono_ns(), deadline = t0 + (uint64_t)(opt.setup_timeout * 1e9);
	int next = 0, pending = 0, finished = 0;

	while (finished < opt.n && mono_ns() < deadline && !stop_flag) {
		uint64_t now = mono_ns();
		/* pace: calls allowed by now at setup_rate */
		int allowed = (int)((double)(now - t0) / 1e9 * opt.setup_rate) + 1;

		pending = 0;
		finished = 0;
		for (int i = 0; i < next; i++) {
			if (calls[i].state == C_INVITING) {
				pending++;
				if (now >= calls[i].t_retx) {
					if (calls[i].tries >= 7) {
						calls[i].state = C_FAILED;
						calls[i].status = 408;
					} else
						sip_invite(i);
				}
			} else
				finished++;
		}
		while (next < opt.n && next < allowed && pending < opt.setup_window) {
			sip_invite(next++);
			pending++;
		}
		poll_once(1);
	}
	for (int i = 0; i < opt.n; i++)
		if (calls[i].state == C_INVITING || calls[i].state == C_IDLE) {
			calls[i].state = C_FAILED;
			calls[i].status = 408;
		}
}

static void
teardown_calls(double timeout_s)
{
	uint64_t deadline = mono_ns() + (uint64_t)(timeout_s * 1e9);
	int left;

	for (int i = 0; i < opt.n; i++) {
		calls[i].tries = 0;
		if (calls[i].state == C_UP)
			sip_bye(i);
		if (i % 50 == 49)
			poll_once(0);
	}
	do {
		uint64_t now = mono_ns();

		left = 0;
		for (int i = 0; i < opt.n; i++) {
			if (calls[i].state != C_BYEING)
				continue;
			left++;
			if (now >= calls[i].t_retx && calls[i].tries < 5)
				sip_bye(i);
		}
		poll_once(5);
	} while (left > 0 && mono_ns() < deadline);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double
hist_pct(const uint32_t *h, uint64_t total, double pct)
{
	uint64_t want, acc = 0;

	if (total == 0)
		return -1;
	want = (uint64_t)(pct / 100.0 * (double)total + 0.5);
	if (want < 1)
		want = 1;
	for (int b = 0; b < HIST_N; b++) {
		acc += h[b];
		if (acc >= want)
			return (b + 0.5) * HIST_US / 1000.0;
	}
	return HIST_N * HIST_US / 1000.0;
}

static double
hist_max(const uint32_t *h)
{
	for (int b = HIST_N - 1; b >= 0; b--)
		if (h[b])
			return (b + 1) * HIST_US / 1000.0;
	return -1;
}

static double
ru_s(const struct rusage *a, const struct rusage *b)
{
	return (double)(b->ru_utime.tv_sec - a->ru_utime.tv_sec) +
	    (double)(b->ru_utime.tv_usec - a->ru_utime.tv_usec) * 1e-6 +
	    (double)(b->ru_stime.tv_sec - a->ru_stime.tv_sec) +
	    (double)(b->ru_stime.tv_usec - a->ru_stime.tv_usec) * 1e-6;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pbload [options]\n"
	    "  --sip HOST:PORT     echo mode: place --calls N calls to --number (100)\n"
	    "  --pairs FILE        relay mode: lines \"c PORT_A PORT_B\" (--calls N of them)\n"
	    "  --calls N           calls (default 20)\n"
	    "  --number NUM        called number (100); may hold one %%d, replaced by\n"
	    "                      call / --per-number C (routes of C channels each)\n"
	    "  --socks K           generator sockets per side (default 20)\n"
	    "  --rtp-base PORT     first generator port (default 40000; ports base+2k)\n"
	    "  --local-a IP --local-b IP   generator addresses (127.0.0.2, 127.0.0.3)\n"
	    "  --relay-ip IP       relay mode: where the relay listens (127.0.0.1)\n"
	    "  --pid PID           process to measure (CPU, RSS)\n"
	    "  --phase NAME:SECS   a phase; the first is the warm-up (repeatable)\n"
	    "  --on-phase NAME:CMD run CMD with sh -c when phase NAME starts\n"
	    "  --on-end CMD        run CMD with sh -c when the last phase ends, and wait for it\n"
	    "  --setup-rate R      INVITEs per second (200); --setup-window W outstanding (200)\n"
	    "  --setup-timeout S   give up on call setup after S seconds (120)\n"
	    "  --runid ID          Call-ID prefix\n"
	    "  --dump FILE         every echoed packet of the last phase: five\n"
	    "                      native u64 (rx ns, scheduled tx ns, stream, tag\n"
	    "                      sequence, jitter buffer steps so far)\n"
	    "  --rx-poll           read the RTP sockets on the 1 ms grid instead of\n"
	    "                      waiting on them: the process under test then does\n"
	    "                      not pay, inside its sends, for waking the generator\n"
	    "                      (on a network that is the far machine's work)\n"
	    "  --quiet\n");
	exit(2);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sip", required_argument, NULL, 's' },
		{ "pairs", required_argument, NULL, 'P' },
		{ "calls", required_argument, NULL, 'n' },
		{ "socks", required_argument, NULL, 'k' },
		{ "rtp-base", required_argument, NULL, 'b' },
		{ "local-a", required_argument, NULL, 'A' },
		{ "local-b", required_argument, NULL, 'B' },
		{ "relay-ip", required_argument, NULL, 'R' },
		{ "pid", required_argument, NULL, 'p' },
		{ "phase", required_argument, NULL, 'h' },
		{ "on-phase", required_argument, NULL, 'o' },
		{ "on-end", required_argument, NULL, 'E' },
		{ "number", required_argument, NULL, 'N' },
		{ "per-number", required_argument, NULL, 'C' },
		{ "setup-rate", required_argument, NULL, 'r' },
		{ "setup-window", required_argument, NULL, 'w' },
		{ "setup-timeout", required_argument, NULL, 't' },
		{ "runid", required_argument, NULL, 'i' },
		{ "dump", required_argument, NULL, 'D' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rx-poll", no_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	const char *relay_ip = "127.0.0.1";
	struct rlimit rl;
	int ch, nup = 0, nfail = 0, ndropped = 0, nbye_ok = 0, nbye_missing = 0;
	char *sip = NULL;
	uint64_t *setup_ms = NULL;
	int nsetup = 0, ksocks = 20;
	long rss_before;
	double t_setup = 0, t_start;

	memset(port_stream, 0xff, sizeof(port_stream));     /* -1: none */

	snprintf(opt.runid, sizeof(opt.runid), "pb%x", (unsigned)getpid());
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': sip = optarg; break;
		case 'P': opt.pairs = optarg; opt.relay = 1; break;
		case 'n': opt.n = atoi(optarg); break;
		case 'k': ksocks = atoi(optarg); break;
		case 'b': opt.rtp_base = atoi(optarg); break;
		case 'A': opt.local_a = optarg; break;
		case 'B': opt.local_b = optarg; break;
		case 'R': relay_ip = optarg; break;
		case 'p': opt.pid = atoi(optarg); break;
		case 'N': opt.number = optarg; break;
		case 'C': opt.per_number = atoi(optarg); break;
		case 'r': opt.setup_rate = atof(optarg); break;
		case 'w': opt.setup_window = atoi(optarg); break;
		case 't': opt.setup_timeout = atof(optarg); break;
		case 'i': snprintf(opt.runid, sizeof(opt.runid), "%s", optarg); break;
		case 'q': opt.quiet = 1; break;
		case 'X': opt.rx_poll = 1; break;
		case 'D':
			if ((dump_file = fopen(optarg, "w")) == NULL)
				die("--dump %s: %s", optarg, strerror(errno));
			break;
		case 'h': {
			char *c = strchr(optarg, ':');

			if (!c || opt.nphases >= MAX_PHASES)
				usage();
			*c = '\0';
			opt.phase_name[opt.nphases] = optarg;
			opt.phase_len[opt.nphases] = atof(c + 1);
			opt.nphases++;
			break;
		}
		case 'E':
			opt.end_cmd = optarg;
			break;
		case 'o': {
			char *c = strchr(optarg, ':');
			int found = 0;

			if (!c)
				usage();
			*c = '\0';
			for (int i = 0; i < opt.nphases; i++)
				if (strcmp(opt.phase_name[i], optarg) == 0) {
					opt.phase_cmd[i] = c + 1;
					found = 1;
				}
			if (!found)
				die("--on-phase %s: no such phase (give --phase first)", optarg);
			break;
		}
		default:
			usage();
		}
	}
	if ((sip == NULL) == (opt.pairs == NULL) || opt.n < 1 || opt.n > 20000 || ksocks < 1)
		usage();
	if (opt.nphases < 2) {
		/* default: 3 s warm-up, 10 s measured */
		opt.phase_name[0] = "warmup";
		opt.phase_len[0] = 3;
		opt.phase_name[1] = "load";
		opt.phase_len[1] = 10;
		opt.nphases = 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGCHLD, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	opt.nstreams = opt.relay ? 2 * opt.n : opt.n;
	opt.nsocks = ksocks > opt.n ? opt.n : ksocks;
	calls = calloc((size_t)opt.n, sizeof(*calls));
	streams = calloc((size_t)opt.nstreams, sizeof(*streams));
	socks = calloc((size_t)opt.nsocks * 2, sizeof(*socks));
	for (int p = 0; p < opt.nphases; p++) {
		ph[p].hist_rtt = calloc(HIST_N, sizeof(uint32_t));
		ph[p].hist_exc = calloc(HIST_N, sizeof(uint32_t));
		ph[p].hist_exc_jb = calloc(HIST_N, sizeof(uint32_t));
		ph[p].hist_late = calloc(HIST_N, sizeof(uint32_t));
		ph[p].st_sent = calloc((size_t)opt.nstreams, sizeof(uint32_t));
		ph[p].st_rx = calloc((size_t)opt.nstreams, sizeof(uint32_t));
		if (!ph[p].hist_rtt || !ph[p].hist_exc || !ph[p].hist_exc_jb || !ph[p].hist_late)
			die("out of memory");
	}
	if (!calls || !streams || !socks)
		die("out of memory");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll: %s", strerror(errno));

	/* sockets: side A (and B in relay mode) k at base + 2k */
	for (int k = 0; k < opt.nsocks; k++) {
		socks[k] = udp_bind(opt.local_a, opt.rtp_base + 2 * k, 4 << 20);
		if (!opt.rx_poll)
			ep_add(socks[k], (uint32_t)k);
		if (opt.relay) {
			socks[opt.nsocks + k] = udp_bind(opt.local_b, opt.rtp_base + 2 * k, 4 << 20);
			if (!opt.rx_poll)
				ep_add(socks[opt.nsocks + k], (uint32_t)(opt.nsocks + k));
		}
	}
	/* streams: echo mode: stream i = call i, socket (i % K) by slot so a
	 * slot's packets share sockets; relay mode: 2c = A->B, 2c+1 = B->A */
	srand((unsigned)getpid());
	for (int i = 0; i < opt.nstreams; i++) {
		struct stream *st = &streams[i];
		int c = opt.relay ? i / 2 : i, k = c % opt.nsocks;

		if (!opt.relay) {
			st->sock = st->rx_sock = k;
		} else if (i % 2 == 0) {
			st->sock = k;
			st->rx_sock = opt.nsocks + k;
		} else {
			st->sock = opt.nsocks + k;
			st->rx_sock = k;
		}
		st->rtp_seq = (uint16_t)rand();
		st->rtp_ts = (uint32_t)rand();
		st->ssrc = (uint32_t)rand() ^ (uint32_t)i;
	}
	slots_build();

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	{
		struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };

		timerfd_settime(tfd, 0, &its, NULL);
	}
	ep_add(tfd, 0xffffffffu);

	rss_before = proc_rss_kb(opt.pid);
	t_start = mono_ns() / 1e9;
	if (opt.relay) {
		FILE *f = fopen(opt.pairs, "r");
		struct sockaddr_in ra = { .sin_family = AF_INET };

		if (!f)
			die("%s: %s", opt.pairs, strerror(errno));
		inet_pton(AF_INET, relay_ip, &ra.sin_addr);
		for (int c = 0; c < opt.n; c++) {
			int idx, pa, pb;

			if (fscanf(f, "%d %d %d", &idx, &pa, &pb) != 3 || idx != c)
				die("%s: bad line %d", opt.pairs, c + 1);
			streams[2 * c].dst = ra;
			streams[2 * c].dst.sin_port = htons((uint16_t)pa);
			streams[2 * c + 1].dst = ra;
			streams[2 * c + 1].dst.sin_port = htons((uint16_t)pb);
			streams[2 * c].active = streams[2 * c + 1].active = 1;
			calls[c].state = C_UP;
		}
		fclose(f);
		nup = opt.n;
	} else {
		char host[64];
		int port;

		if (sscanf(sip, "%63[^:]:%d", host, &port) != 2)
			usage();
		opt.sip_dst.sin_family = AF_INET;
		opt.sip_dst.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &opt.sip_dst.sin_addr) != 1)
			die("bad SIP address %s", sip);
		sip_fd = udp_bind(opt.local_a, 0, 4 << 20);
		{
			struct sockaddr_in a;
			socklen_t al = sizeof(a);

			getsockname(sip_fd, (struct sockaddr *)&a, &al);
			sip_local_port = ntohs(a.sin_port);
		}
		ep_add(sip_fd, 0xfffffffeu);
		setup_calls();
		t_setup = mono_ns() / 1e9 - t_start;
		setup_ms = calloc((size_t)opt.n, sizeof(*setup_ms));
		for (int i = 0; i < opt.n; i++) {
			if (calls[i].state == C_UP) {
				nup++;
				streams[i].active = 1;
				setup_ms[nsetup++] = (calls[i].t_200 - calls[i].t_invite) / 1000;
			} else
				nfail++;
		}
		note("%d calls up, %d failed in %.1f s", nup, nfail, t_setup);
	}

	/* media: phases on a 1 ms grid; missed slots are caught up */
	{
		long tick = 0;
		long bounds[MAX_PHASES + 1];
		long rss_calls_idle = proc_rss_kb(opt.pid);
		uint64_t drain_end, base_real;
		struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };

		bounds[0] = 0;
		for (int p = 0; p < opt.nphases; p++)
			bounds[p + 1] = bounds[p] + (long)(opt.phase_len[p] * 1000 + 0.5);
		/* restart the 1 ms grid: slot k is due at base_real + (k + 1) ms */
		timerfd_settime(tfd, 0, &its, NULL);
		base_real = real_ns();
		cur_phase = 0;
		phase_mark(&ph[0], 0);
		if (opt.phase_cmd[0])
			run_cmd(opt.phase_cmd[0]);
		while (cur_phase < opt.nphases && !stop_flag) {
			uint64_t exp = poll_once(50);

			if (exp > 1)
				overruns += exp - 1;
			if (exp > max_stall)
				max_stall = exp;
			for (uint64_t e = 0; e < exp && cur_phase < opt.nphases; e++) {
				if (tick == bounds[cur_phase + 1]) {
					phase_mark(&ph[cur_phase], 1);
					cur_phase++;
					if (cur_phase == opt.nphases)
						break;
					phase_mark(&ph[cur_phase], 0);
					if (opt.phase_cmd[cur_phase])
						run_cmd(opt.phase_cmd[cur_phase]);
					note("phase %s", opt.phase_name[cur_phase]);
				}
				send_slot((int)(tick % SLOTS), cur_phase,
				    base_real + (uint64_t)(tick + 1) * 1000000ull);
				tick++;
			}
		}
		if (cur_phase < opt.nphases) {
			/* stopped by a signal: close the phase in progress */
			phase_mark(&ph[cur_phase], 1);
			opt.nphases = cur_phase + 1;
		} else if (opt.end_cmd != NULL) {
			/* before the calls end (the command is bounded by whoever
			 * gave it) */
			pid_t p = run_cmd(opt.end_cmd);

			while (p > 0 && waitpid(p, NULL, 0) < 0 && errno == EINTR)
				;
		}
		drain_end = mono_ns() + (uint64_t)(opt.drain * 1e9);
		while (mono_ns() < drain_end)
			poll_once(5);
		cur_phase = -1;

		for (int i = 0; i < opt.n; i++)
			if (calls[i].state == C_DROPPED)
				ndropped++;
		if (!opt.relay) {
			teardown_calls(15);
			for (int i = 0; i < opt.n; i++) {
				if (calls[i].state == C_DONE)
					nbye_ok++;
				else if (calls[i].state == C_BYEING)
					nbye_missing++;
			}
		}

		/* ---- output ---- */
		printf("{\"mode\":\"%s\",\"calls\":%d,\"streams\":%d,\"gen_sockets\":%d,"
		    "\"gen_rx\":\"%s\",\"calls_up\":%d,\"calls_failed\":%d,\"calls_dropped\":%d,"
		    "\"bye_ok\":%d,\"bye_unanswered\":%d,\"setup_s\":%.3f,",
		    opt.relay ? "relay" : "echo", opt.n, opt.nstreams, opt.relay ? 2 * opt.nsocks : opt.nsocks,
		    opt.rx_poll ? "poll" : "epoll", nup, nfail, ndropped, nbye_ok, nbye_missing, t_setup);
		if (nsetup > 0) {
			qsort(setup_ms, (size_t)nsetup, sizeof(*setup_ms), cmp_u64);
			printf("\"invite_to_200_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},",
			    setup_ms[nsetup / 2] / 1000.0, setup_ms[(size_t)(nsetup * 0.99)] / 1000.0,
			    setup_ms[nsetup - 1] / 1000.0);
		}
		printf("\"pid\":%d,\"pid_alive_at_end\":%s,\"rss_kb_start\":%ld,\"rss_kb_calls_up\":%ld,",
		    opt.pid, proc_alive(opt.pid) ? "true" : "false", rss_before, rss_calls_idle);
		printf("\"gen_timer_overruns\":%llu,\"gen_max_stall_ms\":%llu,\"gen_tx_errors\":%llu,"
		    "\"gen_rx_bad\":%llu,\"sip_unmatched\":%llu,\"late_threshold_ms\":%d,\"phases\":[",
		    (unsigned long long)overruns, (unsigned long long)max_stall, (unsigned long long)tx_err,
		    (unsigned long long)rx_bad_len, (unsigned long long)sip_unmatched, LATE_US / 1000);
		for (int p = 1; p < opt.nphases; p++) {
			struct phase_stat *s = &ph[p];
			double win = s->t1 - s->t0, hz = (double)sysconf(_SC_CLK_TCK);
			double cpu_s = (double)(s->cpu_ticks1 - s->cpu_ticks0) / hz;
			double sched_s = (double)(s->sched1 - s->sched0) / 1e9;
			double cpu_best = s->sched1 > 0 ? sched_s : cpu_s;
			double worst = 0;
			unsigned int over = 0;

			/* the call that lost most of what it sent in the phase */
			for (int k = 0; s->st_sent && s->st_rx && k < opt.nstreams; k++) {
				double l;

				if (s->st_sent[k] == 0 || s->st_rx[k] >= s->st_sent[k])
					continue;
				l = 100.0 * (double)(s->st_sent[k] - s->st_rx[k]) / (double)s->st_sent[k];
				if (l > worst)
					worst = l;
				if (l > 0.1)
					over++;
			}
			uint64_t streams_active = 0;
			double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
			double host_pct = s->host_tot1 > s->host_tot0 ? 100.0 *
			    (double)(s->host_busy1 - s->host_busy0) / (double)(s->host_tot1 - s->host_tot0) : 0.0;

			for (int i = 0; i < opt.nstreams; i++)
				streams_active += streams[i].active ? 1 : 0;
			if (win <= 0)
				win = 1e-9;
			printf("%s{\"name\":\"%s\",\"window_s\":%.3f,\"streams_active\":%llu,"
			    "\"cpu_pct\":%.2f,\"cpu_pct_ticks\":%.2f,\"cpu_us_per_stream_s\":%.2f,"
			    "\"cpu_us_per_packet\":%.3f,"
			    "\"pps_in\":%.0f,\"pps_out\":%.0f,\"rss_kb\":%ld,"
			    "\"sent\":%llu,\"received\":%llu,\"lost\":%lld,\"loss_pct\":%.4f,"
			    "\"late\":%llu,\"duplicates\":%llu,\"untagged\":%llu,\"foreign\":%llu,"
			    "\"rtt_ms\":{\"min\":%.2f,\"p50\":%.2f,\"p99\":%.2f,\"p99_9\":%.2f,\"max\":%.2f},"
			    "\"excess_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f},"
			    "\"excess_beyond_jb_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,"
			    "\"max\":%.3f},\"jb_frames_inserted\":%llu,\"jb_frames_skipped\":%llu,"
			    "\"jb_frames_shrunk\":%llu,"
			    "\"max_gap_ms\":%.1f,\"max_lost_run\":%u,\"gen_cpu_pct\":%.2f,"
			    "\"max_stream_loss_pct\":%.4f,\"streams_over_0_1pct_loss\":%u,"
			    "\"runqueue_wait_pct\":%.2f,\"threads\":%u,"
			    "\"host_busy_pct\":%.2f,\"other_cpu_pct\":%.2f,"
			    "\"gen_send_late_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f},"
			    "\"gen_sock_drops\":%llu,\"host_udp_rcvbuf_errors\":%llu,"
			    "\"host_backlog_drops\":%llu}",
			    p > 1 ? "," : "", opt.phase_name[p], win, (unsigned long long)streams_active,
			    100.0 * cpu_best / win, 100.0 * cpu_s / win,
			    streams_active ? 1e6 * cpu_best / ((double)streams_active * win) : 0.0,
			    s->sent > 0 ? 1e6 * cpu_best / (double)s->sent : 0.0,
			    (double)s->sent / win, (double)(s->gen_rx_all1 - s->gen_rx_all0) / win, s->rss_kb,
			    (unsigned long long)s->sent, (unsigned long long)s->rx,
			    (long long)s->sent - (long long)s->rx,
			    s->sent ? 100.0 * ((double)s->sent - (double)s->rx) / (double)s->sent : 0.0,
			    (unsigned long long)s->late, (unsigned long long)s->dup,
			    (unsigned long long)s->untagged, (unsigned long long)s->foreign,
			    hist_pct(s->hist_rtt, s->rx, 0), hist_pct(s->hist_rtt, s->rx, 50),
			    hist_pct(s->hist_rtt, s->rx, 99), hist_pct(s->hist_rtt, s->rx, 99.9),
			    hist_max(s->hist_rtt),
			    hist_pct(s->hist_exc, s->rx, 50), hist_pct(s->hist_exc, s->rx, 99),
			    hist_pct(s->hist_exc, s->rx, 99.9), hist_max(s->hist_exc),
			    hist_pct(s->hist_exc_jb, s->rx, 50), hist_pct(s->hist_exc_jb, s->rx, 99),
			    hist_pct(s->hist_exc_jb, s->rx, 99.9), hist_max(s->hist_exc_jb),
			    (unsigned long long)s->jb_inserted, (unsigned long long)s->jb_skipped,
			    (unsigned long long)(s->jb_shrunk < s->jb_skipped ? s->jb_shrunk : s->jb_skipped),
			    s->max_gap_us / 1000.0, s->max_run_lost, 100.0 * ru_s(&s->ru0, &s->ru1) / win,
			    worst, over,
			    100.0 * (double)(s->wait1 - s->wait0) / 1e9 / win, s->threads, host_pct,
			    host_pct * ncpu - 100.0 * cpu_best / win - 100.0 * ru_s(&s->ru0, &s->ru1) / win,
			    hist_pct(s->hist_late, s->n_late, 50), hist_pct(s->hist_late, s->n_late, 99),
			    hist_pct(s->hist_late, s->n_late, 99.9), hist_max(s->hist_late),
			    (unsigned long long)(s->gen_drops1 - s->gen_drops0),
			    (unsigned long long)(s->host_rcvbuf1 - s->host_rcvbuf0),
			    (unsigned long long)(s->backlog1 - s->backlog0));
		}
		printf("]}\n");
	}
	if (dump_file != NULL)
		fclose(dump_file);
	return 0;
}
