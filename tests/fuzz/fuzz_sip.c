/* libFuzzer target: the SIP receive path (sip_receive, what the UDP and TCP
 * transports call for every message), libosip2's transactions behind it,
 * and a fake call layer that parses the INVITE's SDP (sdp_parse,
 * sdp_negotiate) and answers, rejects or hangs up.
 *
 * One input is a sequence of messages separated by a line "@@@@". Each
 * input runs on a fresh SIP stack (sip_init ... sip_shutdown), so a crash
 * reproduces from its input alone and LeakSanitizer sees every leak.
 *
 * A message may start with a directive line "!FLAGS" where FLAGS are:
 *   t  from the trusted source (127.0.0.2) instead of 127.0.0.1
 *   T  as if it came over TCP (a connection that is gone)
 *   S  write it to a real TCP connection to the stack's TCP listener (the
 *      stream framing: Content-Length, size limits; bytes as they come,
 *      so a message may be split or several; responses read back). One
 *      connection per input, from 127.0.0.2 when its first chunk has 't'.
 *   u  first start an outgoing call (UAC) to the fuzzing peer
 *   a  the call layer answers the current inbound call (200 with SDP)
 *   r  the call layer rings (180) / sends early media (183 with SDP)
 *   h  the call layer hangs up the current call (before the message)
 *   d  drain: new calls refused (503)
 * The rest of the chunk is the datagram, after these substitutions taken
 * from what the stack sent so far (the peer sockets are read back):
 *   $TAG     the latest tag the stack chose (To of a response, From of a request)
 *   $CALLID  the Call-ID of the latest request the stack sent
 *   $BRANCH  the top Via branch of that request
 *   $CSEQ    its CSeq number
 *   $NONCE   the latest nonce of a 401
 *   $AUTH    a correct Authorization value for user alice (password
 *            "secret") for this message's method and Request-URI
 * so that dialogs, CANCELs, ACKs and the digest path are reachable.
 *
 * Beyond the sanitizers, one property is checked: a request (not ACK) that
 * starts a new transaction (an RFC 3261 branch not seen before in this
 * input for its method) gets a response at once, or is counted as
 * malformed or bad. A request left without one is a stuck transaction.
 * And a dialog that is up (ACK received, or 2xx to our INVITE) and hung up
 * by the call layer sends its BYE to the peer at once. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <osipparser2/osip_parser.h>

#include "cfg/cfg.h"
#include "core/addr.h"
#include "core/log.h"
#include "sdp/sdp.h"
#include "sip/sip.h"
#include "sip/sip_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\n@@@@\n"
#define MAX_MSG 65535
#define MAX_MSGS 16

static struct event_base *base;
static struct cfg *cfg;
static int peer_fd[2] = {-1, -1};       /* 127.0.0.1 (untrusted), 127.0.0.2 (trusted) */
static struct addr peer_addr[2];
static struct addr stack_addr, stack_tcp;
static int stream_fd = -1;              /* the 'S' connection of this input */

/* What the fuzzing peer learned from the stack's messages. */
static struct {
	char tag[64], callid[256], branch[128], cseq[16], nonce[128];
	unsigned long responses;        /* responses the peers received */
	unsigned long byes;             /* BYE requests the peers received */
	char seen[MAX_MSGS][160];       /* "METHOD branch" of the requests sent */
	size_t n_seen;
} L;

/* The fake call layer. */
static struct {
	struct sip_leg *in;     /* the current inbound call, until ended */
	struct sip_leg *out;    /* the current outbound call, until ended */
	char answer[1024];      /* SDP answer for `in`, "" when none */
	int in_up, in_tcp;      /* `in` confirmed; its INVITE came over "TCP" */
	int out_up;             /* `out` answered */
	int bye_due;            /* a dialog that was up was hung up */
	unsigned long byes0;    /* L.byes then */
} C;
static int cur_tcp;             /* the message being handed in came over "TCP" */

static void loop_once(void);

/* Hang up the call in *slot (&C.in or &C.out); a dialog that is up owes
 * the peer a BYE (checked by check_bye). */
static void
hangup(struct sip_leg **slot, int status, int q850)
{
	struct sip_leg *leg = *slot;
	int up = slot == &C.in ? C.in_up && !C.in_tcp : C.out_up;

	if (leg == NULL)
		return;
	*slot = NULL;
	if (up && !C.bye_due) {
		C.bye_due = 1;
		C.byes0 = L.byes;
	}
	sip_leg_hangup(leg, status, q850);
}

static void
check_bye(void)
{
	if (C.bye_due && L.byes == C.byes0) {
		fprintf(stderr, "fuzz_sip: a dialog that was up was hung up without a BYE\n");
		abort();
	}
	C.bye_due = 0;
}

/* ---- the fake call layer ---------------------------------------------- */

static void
f_progress(void *owner, int status, const char *sdp, size_t len)
{
	struct sdp_media m;

	if (sdp != NULL)
		(void)sdp_parse(sdp, len, &m);
}

static void
f_answered(void *owner, const char *sdp, size_t len)
{
	struct sdp_media m;
	struct sdp_choice ch;

	if (sdp == NULL || sdp_parse(sdp, len, &m) != 0 ||
	    sdp_negotiate(&m, &cfg->rtp.codecs, &ch) != 0) {
		/* What the real call layer does with an unusable answer. */
		C.out_up = 1;
		hangup(&C.out, 488, 65);
		return;
	}
	C.out_up = 1;
}

static void
f_confirmed(void *owner)
{
	if (owner == &C.in)
		C.in_up = 1;
}

static void
f_ended(void *owner, int status, int q850)
{
	struct sip_leg **slot = owner;

	*slot = NULL;
}

static const struct sip_leg_cbs f_cbs = {
	f_progress, f_answered, f_confirmed, f_ended,
};

static void
must(int error)
{
	if (error != 0) {
		fprintf(stderr, "fuzz_sip: the stack could not send a response to a new call: %s\n",
		    strerror(error));
		abort();
	}
}

static void
f_invite(void *arg, const struct sip_invite *inv)
{
	struct sdp_media offer;
	struct sdp_choice ch;
	struct sdp_local l;
	const char *n = inv->called;
	char last = n[0] != '\0' ? n[strlen(n) - 1] : '0';

	if (C.in != NULL) {
		/* One call at a time here: the later one is refused. */
		sip_leg_hangup(inv->leg, 486, 17);
		return;
	}
	if (inv->sdp == NULL || sdp_parse(inv->sdp, inv->sdp_len, &offer) != 0) {
		sip_leg_hangup(inv->leg, 488, 0);
		return;
	}
	if (sdp_negotiate(&offer, &cfg->rtp.codecs, &ch) != 0) {
		sip_leg_hangup(inv->leg, 488, 65);
		return;
	}
	sdp_local_answer(&l, &ch);
	l.ip = "127.0.0.1";
	l.port = 10000;
	l.sess_id = 1;
	l.sess_version = 1;
	if (sdp_write(&l, C.answer, sizeof(C.answer)) < 0) {
		sip_leg_hangup(inv->leg, 500, 0);
		return;
	}
	sip_leg_attach(inv->leg, &f_cbs, &C.in);
	C.in = inv->leg;
	C.in_up = 0;
	C.in_tcp = cur_tcp;
	/* The last digit of the number says what the "PSTN" does at once; the
	 * stack must be able to send what the call layer asks for. */
	switch (last) {
	case '1':
		sip_leg_hangup(inv->leg, 486, 17);
		C.in = NULL;
		break;
	case '2':
		must(sip_leg_respond(inv->leg, 180, NULL, 0));
		break;
	case '3':
		must(sip_leg_respond(inv->leg, 183, C.answer, 0));
		break;
	case '4':
		must(sip_leg_respond(inv->leg, 200, C.answer, 0));
		break;
	case '5':
		must(sip_leg_respond(inv->leg, 200, C.answer, 0));
		sip_leg_hangup(inv->leg, 0, 16);
		C.in = NULL;
		break;
	default:
		break;      /* later, by directive */
	}
}

/* ---- the fuzzing peer ------------------------------------------------- */

static void
copy_token(char *dst, size_t cap, const char *p, const char *end, const char *stop)
{
	size_t n = 0;

	while (p < end && n + 1 < cap && strchr(stop, *p) == NULL)
		dst[n++] = *p++;
	dst[n] = '\0';
}

/* The value of header `name` ("\r\nTo: ") in msg, or NULL. */
static const char *
hdr(const char *msg, size_t len, const char *name, const char **end)
{
	const char *p = memmem(msg, len, name, strlen(name));
	const char *e;

	if (p == NULL)
		return NULL;
	p += strlen(name);
	e = memmem(p, len - (size_t)(p - msg), "\r\n", 2);
	*end = e != NULL ? e : msg + len;
	return p;
}

/* Learn tags, Call-ID, branch and nonce from one message of the stack. */
static void
learn(const char *msg, size_t len)
{
	const char *v, *e, *t;
	int response = len > 8 && memcmp(msg, "SIP/2.0 ", 8) == 0;

	L.responses += response;
	L.byes += len > 4 && memcmp(msg, "BYE ", 4) == 0;

	if ((v = hdr(msg, len, response ? "\r\nTo: " : "\r\nFrom: ", &e)) != NULL &&
	    (t = memmem(v, (size_t)(e - v), ";tag=", 5)) != NULL)
		copy_token(L.tag, sizeof(L.tag), t + 5, e, ";>\r\n ");
	if ((v = hdr(msg, len, "nonce=\"", &e)) != NULL)
		copy_token(L.nonce, sizeof(L.nonce), v, e, "\"");
	if (response)
		return;
	if ((v = hdr(msg, len, "\r\nCall-ID: ", &e)) != NULL)
		copy_token(L.callid, sizeof(L.callid), v, e, "\r\n");
	if ((v = hdr(msg, len, ";branch=", &e)) != NULL)
		copy_token(L.branch, sizeof(L.branch), v, e, ";\r\n ");
	if ((v = hdr(msg, len, "\r\nCSeq: ", &e)) != NULL)
		copy_token(L.cseq, sizeof(L.cseq), v, e, " \r\n");
}

static void
drain_peers(void)
{
	static char buf[MAX_MSG + 1];

	for (int i = 0; i < 2; i++) {
		ssize_t n;

		while ((n = recv(peer_fd[i], buf, MAX_MSG, MSG_DONTWAIT)) > 0) {
			buf[n] = '\0';
			learn(buf, (size_t)n);
		}
	}
}

static void
drain_stream(void)
{
	static char buf[MAX_MSG + 1];
	ssize_t n;

	while (stream_fd >= 0 && (n = recv(stream_fd, buf, MAX_MSG, MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			close(stream_fd);       /* closed by the stack */
			stream_fd = -1;
			break;
		}
		buf[n] = '\0';
		/* messages run together: learn from each start of a line
		 * that begins a response */
		for (char *q = buf; q != NULL && q < buf + n;) {
			char *next = memmem(q + 1, (size_t)(buf + n - q - 1), "\nSIP/2.0 ", 9);
			size_t l = next != NULL ? (size_t)(next + 1 - q) : (size_t)(buf + n - q);

			learn(q, l);
			q = next != NULL ? next + 1 : NULL;
		}
	}
	if (n == 0 && stream_fd >= 0) {
		close(stream_fd);
		stream_fd = -1;
	}
}

static void
loop_once(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
	drain_peers();
	drain_stream();
}

/* Write a chunk to the stack's TCP listener, on one connection per input. */
static void
stream_send(const char *msg, size_t len, int trusted)
{
	if (stream_fd < 0) {
		struct addr src;

		if ((stream_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return;
		/* from the trusted address when the first chunk says so */
		if (addr_from_ip(&src, trusted ? "127.0.0.2" : "127.0.0.1", 0) != 0 ||
		    bind(stream_fd, &src.u.sa, src.len) < 0 ||
		    connect(stream_fd, &stack_tcp.u.sa, stack_tcp.len) < 0) {
			close(stream_fd);
			stream_fd = -1;
			return;
		}
	}
	if (send(stream_fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		close(stream_fd);
		stream_fd = -1;
		return;
	}
	/* accept, read, answer */
	for (int i = 0; i < 3; i++)
		loop_once();
}

/* Append s[0..n) to out, bounded by MAX_MSG. */
static void
put(char *out, size_t *olen, const char *s, size_t n)
{
	if (*olen + n > MAX_MSG)
		n = MAX_MSG - *olen;
	memcpy(out + *olen, s, n);
	*olen += n;
}

static void
auth_value(const char *msg, size_t len, char *out, size_t cap)
{
	char method[32], uri[256], resp[33];
	const char *sp = memchr(msg, ' ', len), *end = msg + len;

	copy_token(method, sizeof(method), msg, end, " \r\n");
	uri[0] = '\0';
	if (sp != NULL)
		copy_token(uri, sizeof(uri), sp + 1, end, " \r\n");
	if (sip_auth_response("alice", SIP_AUTH_REALM, "secret", method, uri, L.nonce,
	    "00000001", "0a4f113b", "auth", resp) != 0)
		resp[0] = '\0';
	snprintf(out, cap, "Digest username=\"alice\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
	    "response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"",
	    SIP_AUTH_REALM, L.nonce, uri, resp);
}

/* The chunk with its placeholders replaced; *$AUTH last, it needs the rest. */
static size_t
expand(const char *in, size_t len, char *out)
{
	static const char *names[] = { "$TAG", "$CALLID", "$BRANCH", "$CSEQ", "$NONCE" };
	const char *vals[] = { L.tag, L.callid, L.branch, L.cseq, L.nonce };
	static char tmp[MAX_MSG + 1];
	size_t olen = 0, tlen = 0;

	for (size_t i = 0; i < len;) {
		size_t k;

		if (in[i] == '$') {
			for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
				size_t nl = strlen(names[k]);
				if (len - i >= nl && memcmp(in + i, names[k], nl) == 0) {
					put(tmp, &tlen, vals[k], strlen(vals[k]));
					i += nl;
					break;
				}
			}
			if (k < sizeof(names) / sizeof(names[0]))
				continue;
		}
		put(tmp, &tlen, in + i, 1);
		i++;
	}
	for (size_t i = 0; i < tlen;) {
		if (tlen - i >= 5 && memcmp(tmp + i, "$AUTH", 5) == 0) {
			char a[1024];
			auth_value(tmp, tlen, a, sizeof(a));
			put(out, &olen, a, strlen(a));
			i += 5;
			continue;
		}
		put(out, &olen, tmp + i, 1);
		i++;
	}
	return olen;
}

/* Whether msg is a request that starts a new transaction, which must then
 * be answered; remembers it. */
static int
new_transaction(const char *msg, size_t len)
{
	osip_message_t *m = NULL;
	osip_via_t *via;
	osip_generic_param_t *b = NULL;
	char key[160];
	int fresh = 0;

	if (osip_message_init(&m) != 0)
		return 0;
	if (osip_message_parse(m, msg, len) != 0 || !MSG_IS_REQUEST(m) || MSG_IS_ACK(m) ||
	    m->sip_method == NULL || (via = osip_list_get(&m->vias, 0)) == NULL ||
	    osip_via_param_get_byname(via, "branch", &b) != 0 || b == NULL ||
	    b->gvalue == NULL || strncmp(b->gvalue, "z9hG4bK", 7) != 0)
		goto out;
	snprintf(key, sizeof(key), "%s %s", m->sip_method, b->gvalue);
	fresh = 1;
	for (size_t i = 0; i < L.n_seen; i++)
		if (strcmp(L.seen[i], key) == 0)
			fresh = 0;
	if (fresh && L.n_seen < MAX_MSGS)
		snprintf(L.seen[L.n_seen++], sizeof(L.seen[0]), "%s", key);
out:
	osip_message_free(m);
	return fresh;
}

static void
start_uac(void)
{
	char uri[128], ip[ADDR_STRLEN];
	const char *offer =
	    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	    "m=audio 10002 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

	if (C.out != NULL)
		return;
	C.out_up = 0;
	addr_ip_str(&peer_addr[0], ip, sizeof(ip));
	snprintf(uri, sizeof(uri), "sip:100@%s:%u", ip, addr_port(&peer_addr[0]));
	if (sip_leg_invite(uri, "555", "Fuzz \"Peer\"", offer, &f_cbs, &C.out, &C.out) != 0)
		C.out = NULL;
}

static void
one_message(const char *chunk, size_t len)
{
	static char msg[MAX_MSG + 1];
	struct sip_route from;
	struct sip_stats st0, st1;
	unsigned long resp0;
	int trusted = 0, tcp = 0, stream = 0, expect;

	if (len > 0 && chunk[0] == '!') {
		const char *eol = memchr(chunk, '\n', len);
		size_t fl = eol != NULL ? (size_t)(eol - chunk) : len;

		for (size_t i = 1; i < fl; i++) {
			switch (chunk[i]) {
			case 't': trusted = 1; break;
			case 'T': tcp = 1; break;
			case 'S': stream = 1; break;
			case 'u': start_uac(); break;
			case 'd': sip_set_accepting(0); break;
			case 'a':
				if (C.in != NULL)
					sip_leg_respond(C.in, 200, C.answer, 0);
				break;
			case 'r':
				if (C.in != NULL)
					sip_leg_respond(C.in, C.answer[0] ? 183 : 180,
					    C.answer[0] ? C.answer : NULL, 0);
				break;
			case 'h':
				hangup(&C.in, 480, 16);
				hangup(&C.out, 0, 16);
				break;
			default: break;
			}
		}
		loop_once();
		check_bye();
		chunk += fl;
		len -= fl;
		if (len > 0) {      /* the newline */
			chunk++;
			len--;
		}
	}
	if (len == 0)
		return;
	len = expand(chunk, len, msg);
	msg[len] = '\0';        /* as the transports leave it */
	memset(&from, 0, sizeof(from));
	from.proto = tcp ? SIP_PROTO_TCP : SIP_PROTO_UDP;
	from.ep = tcp ? 0xdeadbeef : 0;
	from.dst = peer_addr[trusted];
	if (!tcp) {
		/* the UDP listener's endpoint: the route of the stack's own
		 * requests to the peer names it */
		struct sip_route r;
		if (sip_transport_route(SIP_PROTO_UDP, &from.dst, &r) == 0)
			from.ep = r.ep;
	}
	expect = new_transaction(msg, len) && !tcp && !stream && len < 32768;
	if (stream) {
		cur_tcp = 1;    /* its BYE is not counted on the stream */
		stream_send(msg, len, trusted);
		check_bye();
		return;
	}
	sip_get_stats(&st0);
	resp0 = L.responses;
	cur_tcp = tcp;
	sip_receive(&from, msg, len);
	loop_once();
	check_bye();
	sip_get_stats(&st1);
	if (expect && L.responses == resp0 && st1.malformed == st0.malformed &&
	    st1.bad_requests == st0.bad_requests) {
		fprintf(stderr, "fuzz_sip: a new request got no response: a stuck transaction\n");
		abort();
	}
}

/* ---- setup ------------------------------------------------------------ */

static int
bind_peer(const char *ip, struct addr *a)
{
	socklen_t len = sizeof(a->u.ss);
	int fd;

	if (addr_from_ip(a, ip, 0) != 0)
		return -1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, &a->u.sa, a->len) < 0 || getsockname(fd, &a->u.sa, &len) < 0) {
		close(fd);
		return -1;
	}
	a->len = len;
	return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *lv = getenv("FUZZ_LOG_LEVEL");
	char text[512];
	int level = lv != NULL ? log_level_parse(lv) : -1;

	log_init("fuzz_sip", 1, level >= 0 ? (enum log_level)level : LOG_LEVEL_ERROR);
	if ((base = event_base_new()) == NULL)
		abort();
	if ((peer_fd[0] = bind_peer("127.0.0.1", &peer_addr[0])) < 0 ||
	    (peer_fd[1] = bind_peer("127.0.0.2", &peer_addr[1])) < 0) {
		fprintf(stderr, "fuzz_sip: cannot bind the peer sockets on 127.0.0.1 and 127.0.0.2\n");
		abort();
	}
	srandom((unsigned int)getpid());
	for (int attempt = 0; attempt < 50 && cfg == NULL; attempt++) {
		unsigned int port = 20000 + (unsigned int)(random() % 40000);

		/* state_dir: registrations in memory only (a variant without
		 * it for a tree whose config does not know the key yet) */
		snprintf(text, sizeof(text),
		    "%s"
		    "[sip]\n"
		    "listen_udp = 127.0.0.1:%u\n"
		    "listen_tcp = 127.0.0.1:%u\n"
		    "trusted = 127.0.0.2/32\n"
		    "[rtp]\n"
		    "codecs = pcma, pcmu\n"
		    "[user alice]\n"
		    "password = secret\n"
		    "number = 555\n", attempt % 2 ? "" :
		    "[general]\nstate_dir = /nonexistent/pstnbridge-fuzz\n", port, port);
		if ((cfg = cfg_load_string("fuzz.conf", text, NULL)) == NULL)
			continue;
		if (sip_init(base, cfg, f_invite, NULL) != 0) {
			cfg_unref(cfg);
			cfg = NULL;
			continue;
		}
		if (sip_get_listen_addr(0, 0, &stack_addr) != 0 ||
		    sip_get_listen_addr(1, 0, &stack_tcp) != 0)
			abort();
		sip_shutdown();
	}
	if (cfg == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	int n = 0;

	if (sip_init(base, cfg, f_invite, NULL) != 0)
		abort();
	memset(&L, 0, sizeof(L));
	memset(&C, 0, sizeof(C));
	drain_peers();
	while (p <= end && n++ < MAX_MSGS) {
		const char *sep = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
		const char *e = sep != NULL ? sep : end;

		one_message(p, (size_t)(e - p));
		if (sep == NULL)
			break;
		p = sep + strlen(SEP);
	}
	/* Whatever is still alive: the stack must be able to let it go. */
	hangup(&C.in, 503, 41);
	hangup(&C.out, 0, 41);
	loop_once();
	check_bye();
	if (stream_fd >= 0) {
		close(stream_fd);
		stream_fd = -1;
	}
	loop_once();
	sip_shutdown();
	drain_peers();
	return 0;
}
