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

enum sip_proto { SIP_PROTO_UDP = 0, SIP_PROTO_TCP, SIP_PROTO_TLS };

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
 * listener of dst's family, or a TCP or TLS connection (reused or opened;
 * TLS with the client side of [sip] tls_*). */
int sip_transport_route(enum sip_proto proto, const struct addr *dst, struct sip_route *out);
/* Our own address as the peer of route `r` sees it (for Via and Contact). */
int sip_transport_local(const struct sip_route *r, struct addr *local);
/* Bound address of the index-th listener (after port 0 is resolved). */
const struct addr *sip_transport_listen_addr(enum sip_proto proto, size_t index);
void sip_transport_stats(struct sip_tstats *st);

/* T1 and T2 of our 2xx retransmission (and the 64*T1 give-up), in ms;
 * for tests. */
void sip_set_timers(unsigned int t1, unsigned int t2);

/* Send a request outside a dialog (REGISTER of a trunk) on a new client
 * transaction: its final response or timeout comes back to
 * sip_trunk_on_response by Call-ID. 0 or an errno code. */
int sip_request_send(const char *text, size_t len, const struct sip_route *r);
/* n random bytes as 2n hex digits (out holds 2n + 1). */
void sip_random_hex(char *out, size_t nbytes);
/* [sip] user_agent. */
const char *sip_user_agent(void);
/* Whether a dialog, a transaction, a [user]'s registration or a
 * registered [trunk] still uses the connection `ep` (the transport closes
 * idle connections only when not). */
int sip_ep_in_use(uint64_t ep);
/* Milliseconds of the monotonic clock. */
uint64_t sip_now_ms(void);
/* "UDP", "TCP", "TLS". */
const char *sip_proto_name(enum sip_proto p);

/* Called by the transport for each datagram or framed stream message. */
void sip_receive(const struct sip_route *from, const char *buf, size_t len);

/* Digest authentication (RFC 2617 / 3261 22.4), MD5, realm "pstnbridge".
 * Pure functions: `now` is passed in (seconds of a monotonic clock). */
#define SIP_AUTH_REALM "pstnbridge"
#define SIP_AUTH_NONCE_TTL 300
#define SIP_AUTH_NONCE_LEN 80    /* buffer size; a nonce is 64 hex digits */

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
/* The same from HA1 = MD5(user:realm:password) in 32 hex digits, for a
 * [user] whose password is stored as ha1. */
int sip_auth_response_ha1(const char *ha1, const char *method, const char *uri,
                          const char *nonce, const char *nc, const char *cnonce,
                          const char *qop, char out[33]);

/* Digest algorithms of RFC 8760: hex digests of 32 (MD5) or 64 (SHA-256)
 * digits, in buffers of SIP_AUTH_HEX_MAX. */
enum sip_auth_alg { SIP_AUTH_MD5 = 0, SIP_AUTH_SHA256 };
#define SIP_AUTH_HEX_MAX 65
const char *sip_auth_alg_name(enum sip_auth_alg alg);
/* "MD5" (or NULL: the default), "SHA-256"; 0 or EINVAL. */
int sip_auth_alg_parse(const char *s, enum sip_auth_alg *alg);
/* H(s) in hex. */
int sip_auth_hash(enum sip_auth_alg alg, const char *s, char out[SIP_AUTH_HEX_MAX]);
/* HA1 = H(user:realm:password). */
int sip_auth_ha1(enum sip_auth_alg alg, const char *user, const char *realm,
                 const char *password, char out[SIP_AUTH_HEX_MAX]);
/* The response from HA1 (RFC 7616 3.4.1; qop NULL: the RFC 2069 form). */
int sip_auth_digest(enum sip_auth_alg alg, const char *ha1, const char *method,
                    const char *uri, const char *nonce, const char *nc, const char *cnonce,
                    const char *qop, char out[SIP_AUTH_HEX_MAX]);
/* As sip_auth_nonce_check with the lifetime given; ESTALE also for a
 * nonce older than one the nonce-count table had to forget. */
int sip_auth_nonce_check_ttl(const char *nonce, time_t now, unsigned int ttl);
/* Record nonce-count nc of a nonce of ours after a correct response: 0;
 * EEXIST when nc is not above the last one seen (a replay); ESTALE when
 * the nonce is too old to be tracked; EINVAL when not ours. */
int sip_auth_nc_use(const char *nonce, unsigned long nc, time_t now, unsigned int ttl);
/* Forget nonce counts, blocked sources and attempts (for tests). */
void sip_auth_reset(void);

/* Checking the credentials of a request (INVITE, REGISTER): */
struct osip_message;
enum sip_auth_result {
	SIP_AUTH_OK = 0,        /* *user is the [user] of cfg */
	SIP_AUTH_NONE,          /* no credentials for us, or not our nonce: 401 challenge */
	SIP_AUTH_STALE,         /* right password, expired nonce: 401 with stale=true */
	SIP_AUTH_FAILED,        /* 403, the same for every reason; call sip_auth_failed */
};
/* The Authorization of req from src against the [user]s of cfg at now
 * (seconds of the clock nonces are made with). *claimed: the user name
 * the request gave, or NULL (caller frees). *reason: a word for the log
 * ("unknown-user", "wrong-password", "nonce-replay", "acl", ...). The
 * user's acl is checked after the password. */
enum sip_auth_result sip_auth_check(const struct osip_message *req, const struct addr *src,
                                    const struct cfg *cfg, time_t now,
                                    const struct cfg_user **user, char **claimed,
                                    const char **reason);
/* The same, and (trunk not NULL) a [trunk] with a password may
 * authenticate by its username: then *user is NULL and *trunk is set. */
enum sip_auth_result sip_auth_check_trunk(const struct osip_message *req,
                                          const struct addr *src, const struct cfg *cfg,
                                          time_t now, const struct cfg_user **user,
                                          const struct cfg_trunk **trunk, char **claimed,
                                          const char **reason);
/* The client side: our credentials for a provider's challenge. */
struct sip_auth_cred {
	const char *user;
	const char *password;           /* or NULL */
	const char *ha1;                /* MD5 HA1 when no password (MD5 challenges only) */
};
/* The header line ("Authorization: Digest ...\r\n" for a 401,
 * "Proxy-Authorization: ..." for a 407) answering the first challenge of
 * resp whose algorithm (MD5, SHA-256) we can answer, with qop=auth when
 * offered (nonce-count nc, our cnonce). Caller frees *line. 0, ENOENT
 * when there is no challenge we can answer, EINVAL when it is malformed
 * (or offers only auth-int). */
int sip_auth_answer(const struct osip_message *resp, const struct sip_auth_cred *cred,
                    const char *method, const char *uri, const char *cnonce, unsigned int nc,
                    char **line);
/* The WWW-Authenticate lines of a 401: one per algorithm of [sip]
 * auth_algorithms in order, one nonce for all. Caller frees; NULL on
 * error. */
char *sip_auth_challenge(const struct cfg *cfg, time_t now, int stale);
/* 0 when src may try to authenticate at now_ms (monotonic ms); else the
 * seconds its block still lasts (then answer 403 without a challenge). */
unsigned int sip_auth_blocked(const struct addr *src, uint64_t now_ms);
/* A failed authentication: the fail2ban line
 *   auth failure from IP:PORT user="NAME" reason=WORD method=METHOD
 * is logged, and the source blocked when it reaches [sip]
 * auth_fail_limit within auth_fail_window (1 returned then). */
int sip_auth_failed(const struct cfg *cfg, const struct addr *src, const char *method,
                    const char *user, const char *reason, uint64_t now_ms);
/* A new INVITE from the network at now_ms: 0 when within [general]
 * max_call_attempts_per_second (it is counted), else the seconds for a
 * Retry-After of the 503. */
unsigned int sip_auth_attempt(const struct cfg *cfg, uint64_t now_ms);

#endif
