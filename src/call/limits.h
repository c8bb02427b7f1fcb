/* Toll-fraud limits: the destination prefix policy, sliding-window rates,
 * per-caller call counters and the table of sources blocked after failed
 * authentications.
 *
 * Pure decisions: every function that depends on time takes `now` in
 * milliseconds of a monotonic clock; nothing here reads a clock or a
 * socket. The counters are kept across config reloads (a reload changes
 * the limits, not the calls already counted). */
#ifndef PB_CALL_LIMITS_H
#define PB_CALL_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"
#include "core/addr.h"

/* Why a call is refused. */
enum limits_verdict {
	LIMITS_OK = 0,
	LIMITS_BAD_NUMBER,      /* characters other than digits, *, #, + */
	LIMITS_DENIED,          /* a deny prefix matched */
	LIMITS_MAX_CALLS,       /* the caller's concurrent calls */
	LIMITS_RATE,            /* the caller's calls per minute */
};
const char *limits_verdict_name(enum limits_verdict v);

/* May `number` be called? The longest matching prefix of the three lists
 * decides ("*" matches any number with length 0); at equal length a deny
 * prefix beats an allow prefix, and an allow prefix beats a default_deny
 * prefix. No match: allowed. Any list may be NULL. *matched (when not
 * NULL) is set to the deciding deny prefix, or NULL. A number with other
 * characters than digits, '*', '#', '+' (for example "%2B44") is refused. */
enum limits_verdict limits_prefix_check(const char *number, const struct cfg_strlist *allow,
                                        const struct cfg_strlist *deny,
                                        const struct cfg_strlist *default_deny,
                                        const char **matched);

/* The times of the last `cap` events, to allow at most cap events in any
 * window of a given span. Embedded state: _init / _release. */
struct limits_window {
	uint64_t *t;            /* owned: ring of event times, oldest at head when full */
	unsigned int cap, head, n;
};
int limits_window_init(struct limits_window *w, unsigned int cap);
void limits_window_release(struct limits_window *w);
/* Change the capacity, keeping the newest events. 0 or ENOMEM. */
int limits_window_resize(struct limits_window *w, unsigned int cap);
/* 0 when one more event at `now` keeps at most cap events within any
 * `span` ms; otherwise the ms until it would. cap 0 never waits. */
uint64_t limits_window_wait(const struct limits_window *w, uint64_t now, uint64_t span);
void limits_window_add(struct limits_window *w, uint64_t now);
/* Events within the last `span` ms before now. */
unsigned int limits_window_count(const struct limits_window *w, uint64_t now, uint64_t span);

/* Per-caller counters, by key ("user:alice", "trunk:carrier"). */
struct limits;
struct limits *limits_new(void);
void limits_free(struct limits *l);
/* Admit a new call of `key` under policy p at now: LIMITS_OK counts it (a
 * live call and a new call in the minute; end it with limits_call_end),
 * LIMITS_MAX_CALLS or LIMITS_RATE refuse it without counting. ENOMEM is
 * reported as LIMITS_MAX_CALLS. The prefix policy is not checked here. */
enum limits_verdict limits_call_admit(struct limits *l, const char *key,
                                      const struct cfg_policy *p, uint64_t now);
void limits_call_end(struct limits *l, const char *key);
/* Live calls of key. */
unsigned int limits_calls(const struct limits *l, const char *key);

/* Sources blocked after failed authentications: at most `max` addresses
 * are remembered (the least recently failed unblocked one is forgotten
 * first). Only the IP counts, not the port. */
struct limits_ban;
struct limits_ban *limits_ban_new(size_t max);
void limits_ban_free(struct limits_ban *b);
/* 0 when ip is not blocked at now, else the ms the block still lasts. */
uint64_t limits_ban_blocked(struct limits_ban *b, const struct addr *ip, uint64_t now);
/* Count a failure of ip at now. When this makes `limit` failures within
 * `window` ms (limit 0: never), ip is blocked for `block` ms and 1 is
 * returned; otherwise 0. The number of failures in the window goes to
 * *count when not NULL. */
int limits_ban_fail(struct limits_ban *b, const struct addr *ip, uint64_t now,
                    unsigned int limit, uint64_t window, uint64_t block, unsigned int *count);
/* Addresses remembered and blocked at now. */
void limits_ban_stats(struct limits_ban *b, uint64_t now, size_t *known, size_t *blocked);

#endif
