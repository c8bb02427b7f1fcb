/* Trunks: upstream SIP providers and carriers ([trunk NAME]).
 *
 * The pure part (number formats, registration timing, matching a source
 * to a trunk) takes everything as arguments. The glue keeps one
 * registration per trunk with register = yes: REGISTER with digest
 * credentials (the client side of sip_auth.c), a refresh before expiry,
 * exponential back-off after a failure, and a reload that keeps the
 * registration of an unchanged trunk and unregisters a removed one. */
#ifndef PB_SIP_SIP_TRUNK_H
#define PB_SIP_SIP_TRUNK_H

#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"
#include "core/addr.h"

struct event_base;
struct evbuffer;
struct osip_message;

/* ---- pure ---- */

/* Write `number` as `rule` says (strip, prepend when with_strip, then the
 * format with t's country code and prefixes) into out. 0, ENOSPC, or
 * EINVAL when strip removes the whole number. */
int sip_trunk_number(const struct cfg_trunk *t, const struct cfg_numrule *rule, int with_strip,
                     const char *number, char *out, size_t len);
/* Seconds after a successful registration of `granted` seconds when it
 * is refreshed: the smaller of 90% and granted - 30 (half of it up to 60 s). */
unsigned int sip_trunk_refresh_after(unsigned int granted);
/* Seconds to wait after the failures-th failure in a row (1, 2, ...):
 * first * 2^(failures-1), at most max(1800, first). */
unsigned int sip_trunk_backoff(unsigned int first, unsigned int failures);
/* The first trunk of c whose `match` holds src, or NULL. */
const struct cfg_trunk *sip_trunk_match(const struct cfg *c, const struct addr *src);
/* The trunk whose username is `user` and that has a password (for a
 * provider that authenticates to us), or NULL. */
const struct cfg_trunk *sip_trunk_by_user(const struct cfg *c, const char *user);
/* Whether a and b register the same way (a reload keeps the registration). */
int sip_trunk_same_registration(const struct cfg_trunk *a, const struct cfg_trunk *b);

/* ---- glue (one set of trunks per daemon) ---- */

enum sip_trunk_state {
	SIP_TRUNK_IDLE = 0,             /* register = no */
	SIP_TRUNK_REGISTERING,          /* REGISTER in flight */
	SIP_TRUNK_REGISTERED,
	SIP_TRUNK_FAILED,               /* waiting for the back-off */
	SIP_TRUNK_UNREGISTERING,        /* removed: Expires: 0 in flight */
};
const char *sip_trunk_state_name(enum sip_trunk_state s);

int sip_trunk_init(struct event_base *base, const struct cfg *cfg);
void sip_trunk_apply(const struct cfg *cfg);
/* Unregister what is registered (best effort) and free everything. */
void sip_trunk_shutdown(void);
/* A final response (or status 408 with resp NULL: no answer) to a
 * REGISTER of ours with this Call-ID. */
void sip_trunk_on_response(const char *call_id, int status, const struct osip_message *resp);
/* Whether a trunk registers (or is registered) over connection ep. */
int sip_trunk_uses_ep(uint64_t ep);
/* One line per trunk ("trunk=NAME state=registered expires=N ..."). */
void sip_trunk_write(struct evbuffer *out);

#endif
