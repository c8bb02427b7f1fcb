/* SIP transports on libevent: UDP listeners, TCP and TLS listeners and
 * TCP and TLS connections (accepted or opened by us; TLS with OpenSSL
 * through bufferevent_openssl). Each endpoint has an id; the
 * upper layer keeps ids, never pointers, so a closed connection is simply
 * not found. Stream messages are framed by the header/body boundary and
 * Content-Length, with bounded sizes. */
#include "sip/sip_int.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"

#define UDP_BURST 32            /* datagrams read per callback */
#define UDP_MAX 65535
#define TCP_MAX_CONNS 512
#define TCP_MAX_FRAMES 64       /* messages handled per read callback */

enum ep_kind { EP_UDP, EP_TCP_LISTEN, EP_TCP_CONN };

struct sip_ep {
	TAILQ_ENTRY(sip_ep) entry;
	enum ep_kind kind;
	uint64_t id;
	struct addr local;              /* bound address (port resolved) */
	struct addr peer;               /* EP_TCP_CONN: the other end */
	int fd;                         /* EP_UDP */
	struct event *ev;               /* EP_UDP: read event; owned */
	struct evconnlistener *lev;     /* EP_TCP_LISTEN; owned */
	struct bufferevent *bev;        /* EP_TCP_CONN; owned */
	int tls;                        /* a TLS listener or connection */
	uint64_t last_ms;               /* EP_TCP_CONN: last byte in or out */
};
TAILQ_HEAD(sip_ep_list, sip_ep);

static struct {
	struct event_base *base;
	struct sip_ep_list eps;
	uint64_t next_id;
	size_t nconns;
	struct sip_tstats stats;
	struct log_ratelimit rl;
	SSL_CTX *tls_server;            /* owned; NULL without a certificate */
	SSL_CTX *tls_client;            /* owned; NULL until TLS is configured */
	unsigned int idle_timeout;      /* s, [sip] tcp_idle_timeout; 0 never */
	struct event *idle_ev;          /* owned: the idle check, once a second */
} tp;

static void sip_on_udp(evutil_socket_t fd, short what, void *arg);
static void sip_on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg);
static void sip_on_tcp_read(struct bufferevent *bev, void *arg);
static void sip_on_tcp_event(struct bufferevent *bev, short what, void *arg);
static void ep_free(struct sip_ep *ep);

/* Close the connections idle for tcp_idle_timeout that nothing uses. */
static void
sip_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct sip_ep *ep, *next;
	uint64_t now = sip_now_ms();
	char buf[ADDR_STRLEN];

	(void)fd;
	(void)what;
	(void)arg;
	if (tp.idle_timeout == 0)
		return;
	TAILQ_FOREACH_SAFE(ep, &tp.eps, entry, next) {
		if (ep->kind != EP_TCP_CONN || now - ep->last_ms < (uint64_t)tp.idle_timeout * 1000 ||
		    sip_ep_in_use(ep->id))
			continue;
		log_debug("sip: %s connection %s idle for %u s: closed", ep->tls ? "tls" : "tcp",
		    addr_str(&ep->peer, buf, sizeof(buf)), tp.idle_timeout);
		ep_free(ep);
	}
}

int
sip_transport_init(struct event_base *base)
{
	memset(&tp, 0, sizeof(tp));
	tp.base = base;
	tp.next_id = 1;
	TAILQ_INIT(&tp.eps);
	if ((tp.idle_ev = event_new(base, -1, EV_PERSIST, sip_on_idle, NULL)) == NULL)
		return ENOMEM;
	{
		struct timeval tv = { 1, 0 };

		evtimer_add(tp.idle_ev, &tv);
	}
	return 0;
}

static struct sip_ep *
ep_find(uint64_t id)
{
	struct sip_ep *ep;

	TAILQ_FOREACH(ep, &tp.eps, entry) {
		if (ep->id == id)
			return ep;
	}
	return NULL;
}

static void
ep_free(struct sip_ep *ep)
{
	TAILQ_REMOVE(&tp.eps, ep, entry);
	if (ep->ev != NULL)
		event_free(ep->ev);
	if (ep->fd >= 0 && ep->kind == EP_UDP)
		close(ep->fd);
	if (ep->lev != NULL)
		evconnlistener_free(ep->lev);
	if (ep->bev != NULL) {
		bufferevent_free(ep->bev);
		tp.nconns--;
	}
	free(ep);
}

static struct sip_ep *
ep_new(enum ep_kind kind)
{
	struct sip_ep *ep = calloc(1, sizeof(*ep));

	if (ep == NULL)
		return NULL;
	ep->kind = kind;
	ep->fd = -1;
	ep->id = tp.next_id++;
	TAILQ_INSERT_TAIL(&tp.eps, ep, entry);
	return ep;
}

static int
bind_udp(const struct addr *a)
{
	struct sip_ep *ep = NULL;
	char buf[ADDR_STRLEN];
	int fd, one = 1, error = 0;
	socklen_t len;

	fd = socket(a->u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error = errno;
		goto out;
	}
	if (a->u.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &a->u.sa, a->len) < 0) {
		error = errno;
		log_warn("sip: bind udp %s", addr_str(a, buf, sizeof(buf)));
		goto out;
	}
	if ((ep = ep_new(EP_UDP)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	ep->fd = fd;
	len = sizeof(ep->local.u.ss);
	getsockname(fd, &ep->local.u.sa, &len);
	ep->local.len = len;
	ep->ev = event_new(tp.base, fd, EV_READ | EV_PERSIST, sip_on_udp, ep);
	if (ep->ev == NULL || event_add(ep->ev, NULL) < 0) {
		error = ENOMEM;
		goto out;
	}
	log_info("sip: listening on udp %s", addr_str(&ep->local, buf, sizeof(buf)));
	return 0;
out:
	if (ep != NULL)
		ep_free(ep);        /* closes fd */
	else if (fd >= 0)
		close(fd);
	return error;
}

static int
bind_tcp(const struct addr *a, int tls)
{
	struct sip_ep *ep = NULL;
	char buf[ADDR_STRLEN];
	socklen_t len;
	int fd, one = 1, error = 0;

	fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* An IPv6 listener is for IPv6 only, so [::] and 0.0.0.0 can coexist. */
	if (a->u.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &a->u.sa, a->len) < 0 || listen(fd, 64) < 0) {
		error = errno;
		log_warn("sip: bind tcp %s", addr_str(a, buf, sizeof(buf)));
		goto out;
	}
	if ((ep = ep_new(EP_TCP_LISTEN)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	ep->tls = tls;
	ep->lev = evconnlistener_new(tp.base, sip_on_accept, ep,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (ep->lev == NULL) {
		error = ENOMEM;
		goto out;
	}
	len = sizeof(ep->local.u.ss);
	getsockname(fd, &ep->local.u.sa, &len);
	ep->local.len = len;
	log_info("sip: listening on %s %s", tls ? "tls" : "tcp", addr_str(&ep->local, buf, sizeof(buf)));
	return 0;
out:
	if (ep != NULL)
		ep_free(ep);
	close(fd);
	return error;
}

/* Configured addresses of the listeners, to diff on apply. */
static struct addr cur_udp[8], cur_tcp[8], cur_tls[8];
static size_t n_cur_udp, n_cur_tcp, n_cur_tls;
static uint64_t cur_udp_ep[8], cur_tcp_ep[8], cur_tls_ep[8];

static void
tls_log_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("sip: tls: %s: %s", what, buf);
	}
}

/* The TLS contexts of a [sip] section: the server side when a certificate
 * is given, the client side always (with the certificate as a client
 * certificate). 0 or EINVAL (logged). */
static int
tls_contexts(const struct cfg_sip *sip, SSL_CTX **srv, SSL_CTX **cli)
{
	const char *cert = sip->tls_certificate, *key = sip->tls_key, *ca = sip->tls_ca;
	int have_cert = cert != NULL && cert[0] != '\0' && key != NULL && key[0] != '\0';
	int have_ca = ca != NULL && ca[0] != '\0';
	SSL_CTX *ctx[2] = { NULL, NULL };

	*srv = *cli = NULL;
	for (int i = 0; i < 2; i++) {
		if (i == 0 && !have_cert)
			continue;
		ctx[i] = SSL_CTX_new(i == 0 ? TLS_server_method() : TLS_client_method());
		if (ctx[i] == NULL)
			goto fail;
		SSL_CTX_set_min_proto_version(ctx[i], TLS1_2_VERSION);
		SSL_CTX_set_mode(ctx[i], SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (have_cert && (SSL_CTX_use_certificate_chain_file(ctx[i], cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx[i], key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx[i]) != 1)) {
			log_warnx("sip: tls: cannot load certificate %s with key %s", cert, key);
			goto fail;
		}
		if (have_ca && SSL_CTX_load_verify_locations(ctx[i], ca, NULL) != 1) {
			log_warnx("sip: tls: cannot load CA file %s", ca);
			goto fail;
		}
		if (sip->tls_verify_peer)
			SSL_CTX_set_verify(ctx[i], SSL_VERIFY_PEER |
			    (i == 0 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
		else
			SSL_CTX_set_verify(ctx[i], SSL_VERIFY_NONE, NULL);
	}
	*srv = ctx[0];
	*cli = ctx[1];
	return 0;
fail:
	tls_log_errors("setup");
	SSL_CTX_free(ctx[0]);
	SSL_CTX_free(ctx[1]);
	return EINVAL;
}

int
sip_transport_apply(const struct cfg_sip *sip)
{
	struct addr new_udp[8], new_tcp[8], new_tls[8];
	uint64_t new_udp_ep[8], new_tcp_ep[8], new_tls_ep[8];
	size_t nu = sip->n_listen_udp, nt = sip->n_listen_tcp, ns = sip->n_listen_tls;
	uint64_t first_new = tp.next_id;
	SSL_CTX *srv = NULL, *cli = NULL;
	int error = 0;

	if (nu > 8)
		nu = 8;
	if (nt > 8)
		nt = 8;
	if (ns > 8)
		ns = 8;
	if ((error = tls_contexts(sip, &srv, &cli)) != 0)
		return error;
	if (ns > 0 && srv == NULL) {
		SSL_CTX_free(cli);
		return EINVAL;
	}
	/* Bind what is new first, so that a failure changes nothing. */
	for (size_t i = 0; i < nu; i++) {
		new_udp[i] = sip->listen_udp[i];
		new_udp_ep[i] = 0;
		for (size_t j = 0; j < n_cur_udp; j++) {
			if (addr_eq(&cur_udp[j], &new_udp[i]))
				new_udp_ep[i] = cur_udp_ep[j];
		}
		if (new_udp_ep[i] == 0) {
			uint64_t id = tp.next_id;
			if ((error = bind_udp(&new_udp[i])) != 0)
				goto fail;
			new_udp_ep[i] = id;
		}
	}
	for (size_t i = 0; i < nt; i++) {
		new_tcp[i] = sip->listen_tcp[i];
		new_tcp_ep[i] = 0;
		for (size_t j = 0; j < n_cur_tcp; j++) {
			if (addr_eq(&cur_tcp[j], &new_tcp[i]))
				new_tcp_ep[i] = cur_tcp_ep[j];
		}
		if (new_tcp_ep[i] == 0) {
			uint64_t id = tp.next_id;
			if ((error = bind_tcp(&new_tcp[i], 0)) != 0)
				goto fail;
			new_tcp_ep[i] = id;
		}
	}
	for (size_t i = 0; i < ns; i++) {
		new_tls[i] = sip->listen_tls[i];
		new_tls_ep[i] = 0;
		for (size_t j = 0; j < n_cur_tls; j++) {
			if (addr_eq(&cur_tls[j], &new_tls[i]))
				new_tls_ep[i] = cur_tls_ep[j];
		}
		if (new_tls_ep[i] == 0) {
			uint64_t id = tp.next_id;
			if ((error = bind_tcp(&new_tls[i], 1)) != 0)
				goto fail;
			new_tls_ep[i] = id;
		}
	}
	/* Close the listeners that are no longer configured. */
	for (size_t j = 0; j < n_cur_udp; j++) {
		int keep = 0;
		for (size_t i = 0; i < nu; i++)
			keep |= new_udp_ep[i] == cur_udp_ep[j];
		if (!keep) {
			struct sip_ep *ep = ep_find(cur_udp_ep[j]);
			if (ep != NULL)
				ep_free(ep);
		}
	}
	for (size_t j = 0; j < n_cur_tcp; j++) {
		int keep = 0;
		for (size_t i = 0; i < nt; i++)
			keep |= new_tcp_ep[i] == cur_tcp_ep[j];
		if (!keep) {
			struct sip_ep *ep = ep_find(cur_tcp_ep[j]);
			if (ep != NULL)
				ep_free(ep);
		}
	}
	memcpy(cur_udp, new_udp, sizeof(new_udp[0]) * nu);
	memcpy(cur_udp_ep, new_udp_ep, sizeof(new_udp_ep[0]) * nu);
	n_cur_udp = nu;
	for (size_t j = 0; j < n_cur_tls; j++) {
		int keep = 0;
		for (size_t i = 0; i < ns; i++)
			keep |= new_tls_ep[i] == cur_tls_ep[j];
		if (!keep) {
			struct sip_ep *ep = ep_find(cur_tls_ep[j]);
			if (ep != NULL)
				ep_free(ep);
		}
	}
	memcpy(cur_tcp, new_tcp, sizeof(new_tcp[0]) * nt);
	memcpy(cur_tcp_ep, new_tcp_ep, sizeof(new_tcp_ep[0]) * nt);
	n_cur_tcp = nt;
	memcpy(cur_tls, new_tls, sizeof(new_tls[0]) * ns);
	memcpy(cur_tls_ep, new_tls_ep, sizeof(new_tls_ep[0]) * ns);
	n_cur_tls = ns;
	/* Connections keep the context they were made with (SSL holds a
	 * reference); new ones use the new one. */
	SSL_CTX_free(tp.tls_server);
	SSL_CTX_free(tp.tls_client);
	tp.tls_server = srv;
	tp.tls_client = cli;
	tp.idle_timeout = sip->tcp_idle_timeout;
	return 0;
fail:
	SSL_CTX_free(srv);
	SSL_CTX_free(cli);
	{
		struct sip_ep *ep, *next;
		TAILQ_FOREACH_SAFE(ep, &tp.eps, entry, next) {
			if (ep->id >= first_new && ep->kind != EP_TCP_CONN)
				ep_free(ep);
		}
	}
	return error;
}

void
sip_transport_shutdown(void)
{
	struct sip_ep *ep;

	while ((ep = TAILQ_FIRST(&tp.eps)) != NULL)
		ep_free(ep);
	n_cur_udp = n_cur_tcp = n_cur_tls = 0;
	if (tp.idle_ev != NULL)
		event_free(tp.idle_ev);
	tp.idle_ev = NULL;
	SSL_CTX_free(tp.tls_server);
	SSL_CTX_free(tp.tls_client);
	tp.tls_server = tp.tls_client = NULL;
}

const struct addr *
sip_transport_listen_addr(enum sip_proto proto, size_t index)
{
	struct sip_ep *ep;
	size_t n = proto == SIP_PROTO_UDP ? n_cur_udp : proto == SIP_PROTO_TCP ? n_cur_tcp : n_cur_tls;

	if (index >= n)
		return NULL;
	ep = ep_find(proto == SIP_PROTO_UDP ? cur_udp_ep[index] :
	    proto == SIP_PROTO_TCP ? cur_tcp_ep[index] : cur_tls_ep[index]);
	return ep != NULL ? &ep->local : NULL;
}

void
sip_transport_stats(struct sip_tstats *st)
{
	*st = tp.stats;
}

static void
sip_on_udp(evutil_socket_t fd, short what, void *arg)
{
	static char buf[UDP_MAX + 1];
	struct sip_ep *ep = arg;
	uint64_t id = ep->id;

	for (int i = 0; i < UDP_BURST; i++) {
		struct sip_route from;
		socklen_t alen = sizeof(from.dst.u.ss);
		ssize_t n;

		memset(&from, 0, sizeof(from));
		n = recvfrom(fd, buf, UDP_MAX, 0, &from.dst.u.sa, &alen);
		if (n < 0)
			break;
		from.dst.len = alen;
		from.proto = SIP_PROTO_UDP;
		from.ep = id;
		buf[n] = '\0';
		sip_receive(&from, buf, (size_t)n);
		/* The handler may have applied a config that closed us. */
		if (ep_find(id) == NULL)
			break;
	}
}

/* A connection on fd; TLS (accepting or connecting) when ctx is given. */
static struct sip_ep *
conn_new(evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen, SSL_CTX *ctx,
         int accepting)
{
	struct sip_ep *ep;
	SSL *ssl = NULL;

	if (tp.nconns >= TCP_MAX_CONNS)
		return NULL;
	if (ctx != NULL && (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if ((ep = ep_new(EP_TCP_CONN)) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	if (ssl != NULL) {
		ep->tls = 1;
		ep->bev = bufferevent_openssl_socket_new(tp.base, fd, ssl,
		    accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE);
		if (ep->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(ep->bev, 1);
		else
			SSL_free(ssl);
	} else {
		ep->bev = bufferevent_socket_new(tp.base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (ep->bev == NULL) {
		ep_free(ep);
		return NULL;
	}
	tp.nconns++;
	ep->last_ms = sip_now_ms();
	memcpy(&ep->peer.u.ss, sa, salen);
	ep->peer.len = salen;
	bufferevent_setcb(ep->bev, sip_on_tcp_read, NULL, sip_on_tcp_event, ep);
	bufferevent_setwatermark(ep->bev, EV_READ, 0, SIP_MAX_HEADER + SIP_MAX_BODY + 4096);
	bufferevent_enable(ep->bev, EV_READ | EV_WRITE);
	return ep;
}

static void
sip_on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
              int salen, void *arg)
{
	struct sip_ep *ep, *l = arg;
	char buf[ADDR_STRLEN];
	struct addr peer;
	int tls = l->tls;

	memset(&peer, 0, sizeof(peer));
	memcpy(&peer.u.ss, sa, (size_t)salen);
	peer.len = (socklen_t)salen;
	if ((tls && tp.tls_server == NULL) ||
	    (ep = conn_new(fd, sa, (socklen_t)salen, tls ? tp.tls_server : NULL, 1)) == NULL) {
		tp.stats.tcp_refused++;
		log_limited(&tp.rl, LOG_LEVEL_WARN, "sip: tcp connection from %s refused",
		    addr_str(&peer, buf, sizeof(buf)));
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	{
		socklen_t len = sizeof(ep->local.u.ss);
		getsockname(fd, &ep->local.u.sa, &len);
		ep->local.len = len;
	}
	log_debug("sip: %s connection from %s", tls ? "tls" : "tcp", addr_str(&peer, buf, sizeof(buf)));
}

/* Content-Length (or "l") of a header block of length hlen; -1 when bad. */
static long
frame_content_length(const char *h, size_t hlen)
{
	const char *p = h, *end = h + hlen;
	long cl = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v = NULL;
		size_t ll;

		if (eol == NULL)
			eol = end;
		ll = (size_t)(eol - p);
		if (ll > 15 && strncasecmp(p, "content-length", 14) == 0)
			v = p + 14;
		else if (ll > 1 && (p[0] == 'l' || p[0] == 'L') && (p[1] == ':' || p[1] == ' ' || p[1] == '\t'))
			v = p + 1;
		if (v != NULL) {
			char num[16];
			size_t n = 0;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			if (v >= eol || *v != ':') {
				p = eol + 1;
				continue;
			}
			v++;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			while (v < eol && *v >= '0' && *v <= '9' && n < sizeof(num) - 1)
				num[n++] = *v++;
			num[n] = '\0';
			if (n == 0 || n > 9)
				return -1;
			cl = strtol(num, NULL, 10);
		}
		p = eol + 1;
	}
	return cl;
}

static void
conn_violation(struct sip_ep *ep, const char *why)
{
	char buf[ADDR_STRLEN];

	tp.stats.tcp_violations++;
	log_limited(&tp.rl, LOG_LEVEL_WARN, "sip: malformed message from %s: %s; closing connection",
	    addr_str(&ep->peer, buf, sizeof(buf)), why);
	ep_free(ep);
}

static void
sip_on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct sip_ep *ep = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t id = ep->id;

	ep->last_ms = sip_now_ms();
	for (int i = 0; i < TCP_MAX_FRAMES; i++) {
		struct evbuffer_ptr pos;
		struct sip_route from;
		size_t avail = evbuffer_get_length(in), hlen;
		unsigned char *data;
		long cl;

		/* Skip CRLF keep-alives between messages. */
		while (avail > 0) {
			unsigned char c;
			evbuffer_copyout(in, &c, 1);
			if (c != '\r' && c != '\n')
				break;
			evbuffer_drain(in, 1);
			avail--;
		}
		if (avail == 0)
			return;
		pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (pos.pos < 0) {
			if (avail > SIP_MAX_HEADER)
				conn_violation(ep, "header too long");
			return;
		}
		hlen = (size_t)pos.pos + 4;
		if (hlen > SIP_MAX_HEADER) {
			conn_violation(ep, "header too long");
			return;
		}
		data = evbuffer_pullup(in, (ssize_t)hlen);
		cl = frame_content_length((const char *)data, hlen);
		if (cl < 0) {
			conn_violation(ep, "bad Content-Length");
			return;
		}
		if (cl > SIP_MAX_BODY) {
			conn_violation(ep, "body too long");
			return;
		}
		if (avail < hlen + (size_t)cl)
			return;
		{
			size_t total = hlen + (size_t)cl;
			char *msg = malloc(total + 1);

			if (msg == NULL)
				return;
			evbuffer_remove(in, msg, total);
			msg[total] = '\0';
			memset(&from, 0, sizeof(from));
			from.proto = ep->tls ? SIP_PROTO_TLS : SIP_PROTO_TCP;
			from.ep = id;
			from.dst = ep->peer;
			sip_receive(&from, msg, total);
			free(msg);
		}
		if (ep_find(id) == NULL)
			return;
	}
}

static void
sip_on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct sip_ep *ep = arg;
	char buf[ADDR_STRLEN];

	if (what & BEV_EVENT_CONNECTED) {
		socklen_t len = sizeof(ep->local.u.ss);
		getsockname(bufferevent_getfd(bev), &ep->local.u.sa, &len);
		ep->local.len = len;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		unsigned long e;

		while (ep->tls && (e = bufferevent_get_openssl_error(bev)) != 0) {
			char ebuf[256];

			ERR_error_string_n(e, ebuf, sizeof(ebuf));
			log_limited(&tp.rl, LOG_LEVEL_NOTICE, "sip: tls connection %s: %s",
			    addr_str(&ep->peer, buf, sizeof(buf)), ebuf);
		}
		log_debug("sip: %s connection %s closed", ep->tls ? "tls" : "tcp",
		    addr_str(&ep->peer, buf, sizeof(buf)));
		ep_free(ep);
	}
}

int
sip_transport_send(const struct sip_route *r, const char *buf, size_t len)
{
	struct sip_ep *ep = ep_find(r->ep);

	if (r->proto == SIP_PROTO_UDP) {
		if (ep == NULL || ep->kind != EP_UDP) {
			struct sip_route alt;
			if (sip_transport_route(SIP_PROTO_UDP, &r->dst, &alt) != 0)
				return ENOTCONN;
			ep = ep_find(alt.ep);
			if (ep == NULL)
				return ENOTCONN;
		}
		if (sendto(ep->fd, buf, len, 0, &r->dst.u.sa, r->dst.len) < 0)
			return errno;
		return 0;
	}
	if (ep == NULL || ep->kind != EP_TCP_CONN)
		return ENOTCONN;
	if (evbuffer_get_length(bufferevent_get_output(ep->bev)) > 4 * (SIP_MAX_HEADER + SIP_MAX_BODY))
		return ENOBUFS;
	if (bufferevent_write(ep->bev, buf, len) < 0)
		return ENOMEM;
	ep->last_ms = sip_now_ms();
	return 0;
}

int
sip_transport_route(enum sip_proto proto, const struct addr *dst, struct sip_route *out)
{
	struct sip_ep *ep;
	int fd;

	memset(out, 0, sizeof(*out));
	out->proto = proto;
	out->dst = *dst;
	if (proto == SIP_PROTO_UDP) {
		for (size_t i = 0; i < n_cur_udp; i++) {
			ep = ep_find(cur_udp_ep[i]);
			if (ep != NULL && ep->local.u.sa.sa_family == dst->u.sa.sa_family) {
				out->ep = ep->id;
				return 0;
			}
		}
		return ENETUNREACH;
	}
	TAILQ_FOREACH(ep, &tp.eps, entry) {
		if (ep->kind == EP_TCP_CONN && ep->tls == (proto == SIP_PROTO_TLS) &&
		    addr_eq(&ep->peer, dst)) {
			out->ep = ep->id;
			return 0;
		}
	}
	if (proto == SIP_PROTO_TLS && tp.tls_client == NULL)
		return EPROTONOSUPPORT;
	fd = socket(dst->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if ((ep = conn_new(fd, &dst->u.sa, dst->len,
	    proto == SIP_PROTO_TLS ? tp.tls_client : NULL, 0)) == NULL) {
		close(fd);
		return ENOBUFS;
	}
	if (bufferevent_socket_connect(ep->bev, &dst->u.sa, (int)dst->len) < 0) {
		ep_free(ep);
		return ECONNREFUSED;
	}
	{
		socklen_t len = sizeof(ep->local.u.ss);
		getsockname(fd, &ep->local.u.sa, &len);
		ep->local.len = len;
	}
	out->ep = ep->id;
	return 0;
}

static int
is_wildcard(const struct addr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&a->u.sin6.sin6_addr, &any6, sizeof(any6)) == 0;
}

int
sip_transport_local(const struct sip_route *r, struct addr *local)
{
	struct sip_ep *ep = ep_find(r->ep);
	unsigned int port;
	socklen_t len;
	int fd;

	if (ep == NULL) {
		struct sip_route alt;
		if (r->proto != SIP_PROTO_UDP || sip_transport_route(SIP_PROTO_UDP, &r->dst, &alt) != 0)
			return ENOTCONN;
		ep = ep_find(alt.ep);
		if (ep == NULL)
			return ENOTCONN;
	}
	*local = ep->local;
	if (ep->kind == EP_TCP_CONN) {
		/* Advertise our TCP (TLS) listener's port, not the ephemeral one. */
		size_t nl = ep->tls ? n_cur_tls : n_cur_tcp;

		for (size_t i = 0; i < nl; i++) {
			struct sip_ep *l = ep_find(ep->tls ? cur_tls_ep[i] : cur_tcp_ep[i]);
			if (l != NULL && l->local.u.sa.sa_family == local->u.sa.sa_family) {
				addr_set_port(local, addr_port(&l->local));
				break;
			}
		}
		return 0;
	}
	if (!is_wildcard(&ep->local))
		return 0;
	/* Bound to any: ask the kernel which source it would use. */
	port = addr_port(&ep->local);
	fd = socket(r->dst.u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	len = sizeof(local->u.ss);
	if (connect(fd, &r->dst.u.sa, r->dst.len) < 0 || getsockname(fd, &local->u.sa, &len) < 0) {
		int error = errno;
		close(fd);
		return error;
	}
	close(fd);
	local->len = len;
	addr_set_port(local, port);
	return 0;
}
