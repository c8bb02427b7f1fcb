/* Internal interface between the parts of the SIP user agent: the
 * transports (sip_transport.c), digest authentication (sip_auth.c) and the
 * libosip2 glue with the dialogs (sip.c). Not for other modules. */
#ifndef PB_SIP_SIP_INT_H
#define PB_SIP_SIP_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfg/cfg.h"
#include "core/addr.h"

struct event_base;

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

enum sip_proto { SIP_PROTO_UDP = 0, SIP_PROTO_TCP };

/* Limits of a message on a stream transport. */
#define SIP_MAX_HEADER 8192
#define SIP_MAX_BODY 65536

/* Where a message goes or came from: the transport endpoint (a UDP
 * listener or a TCP connection, by id so that a closed one is detected)
 * and the peer's address. A small value. */
struct sip_route {
	enum sip_proto proto;
	uint64_t ep;
	struct addr dst;
};

/* Counters of bad input, for logs and tests. */
struct sip_tstats {
	unsigned long tcp_violations;   /* connections closed for bad framing */
	unsigned long tcp_refused;      /* accepted over the connection limit */
};

/* Transport. */
int sip_transport_init(struct event_base *base);
/* Bind the listeners of `sip`; listeners whose address is in both the old
 * and the new list are kept. 0 or an errno code (then nothing changed). */
int sip_transport_apply(const struct cfg_sip *sip);
void sip_transport_shutdown(void);
/* Send one message. 0 or an errno code. */
int sip_transport_send(const struct sip_route *r, const char *buf, size_t len);
/* A route to `dst` for a request we originate: UDP from the first UDP
 * listener of dst's family, or a TCP connection (reused or opened). */
int sip_transport_route(enum sip_proto proto, const struct addr *dst, struct sip_route *out);
/* Our own address as the peer of route `r` sees it (for Via and Contact). */
int sip_transport_local(const struct sip_route *r, struct addr *local);
/* Bound address of the index-th listener (after port 0 is resolved). */
const struct addr *sip_transport_listen_addr(enum sip_proto proto, size_t index);
void sip_transport_stats(struct sip_tstats *st);

/* T1 and T2 of our 2xx retransmission (and the 64*T1 give-up), in ms;
 * for tests. */
void sip_set_timers(unsigned int t1, unsigned int t2);

/* Called by the transport for each datagram or framed stream message. */
void sip_receive(const struct sip_route *from, const char *buf, size_t len);

/* Digest authentication (RFC 2617 / 3261 22.4), MD5, realm "pstnbridge".
 * Pure functions: `now` is passed in (seconds of a monotonic clock). */
#define SIP_AUTH_REALM "pstnbridge"
#define SIP_AUTH_NONCE_TTL 300
#define SIP_AUTH_NONCE_LEN 64

void sip_auth_init(void);
/* Set the secret (for tests). */
void sip_auth_set_secret(const unsigned char *key, size_t len);
int sip_auth_nonce(time_t now, char *buf, size_t len);
/* 0 when the nonce is ours and fresh; ESTALE when ours but expired;
 * EINVAL when not ours. */
int sip_auth_nonce_check(const char *nonce, time_t now);
/* The expected digest response, 32 hex digits and a NUL in out. qop may
 * be NULL (RFC 2069 form) or "auth" (then nc and cnonce are used). */
int sip_auth_response(const char *user, const char *realm, const char *password,
                      const char *method, const char *uri, const char *nonce,
                      const char *nc, const char *cnonce, const char *qop,
                      char out[33]);

#endif
