/* Toll-fraud limits: prefix policy, sliding windows, per-caller counters
 * and the blocked-source table. Pure: time comes in as `now` (ms). */
#include "call/limits.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

static const char *const verdict_names[] = {
	"ok", "bad-number", "denied-prefix", "max-calls", "max-calls-per-minute",
};

const char *
limits_verdict_name(enum limits_verdict v)
{
	if ((unsigned int)v >= sizeof(verdict_names) / sizeof(verdict_names[0]))
		return "?";
	return verdict_names[v];
}

/* ---- destination prefixes ---- */

/* Length of the longest prefix of l that number starts with ("*": 0), or
 * -1 when none matches; *which is set to it. */
static int
longest(const struct cfg_strlist *l, const char *number, const char **which)
{
	int best = -1;

	for (size_t i = 0; l != NULL && i < l->n; i++) {
		const char *p = l->v[i];
		size_t n;

		if (strcmp(p, "*") == 0) {
			if (best < 0) {
				best = 0;
				*which = p;
			}
			continue;
		}
		n = strlen(p);
		if (strncmp(number, p, n) == 0 && (int)n > best) {
			best = (int)n;
			*which = p;
		}
	}
	return best;
}

enum limits_verdict
limits_prefix_check(const char *number, const struct cfg_strlist *allow,
                    const struct cfg_strlist *deny, const struct cfg_strlist *default_deny,
                    const char **matched)
{
	const char *wa = NULL, *wd = NULL, *wdd = NULL;
	int la, ld, ldd;

	if (matched != NULL)
		*matched = NULL;
	if (number == NULL || *number == '\0' ||
	    number[strspn(number, "0123456789*#+")] != '\0')
		return LIMITS_BAD_NUMBER;
	la = longest(allow, number, &wa);
	ld = longest(deny, number, &wd);
	ldd = longest(default_deny, number, &wdd);
	if (ld >= 0 && ld >= la && ld >= ldd) {
		/* the user's own deny: wins ties with allow */
		if (matched != NULL)
			*matched = wd;
		return LIMITS_DENIED;
	}
	if (ldd >= 0 && ldd > la) {
		/* a default deny: an allow at least as long lifts it */
		if (matched != NULL)
			*matched = wdd;
		return LIMITS_DENIED;
	}
	return LIMITS_OK;
}

/* ---- sliding windows ---- */

int
limits_window_init(struct limits_window *w, unsigned int cap)
{
	memset(w, 0, sizeof(*w));
	return limits_window_resize(w, cap);
}

void
limits_window_release(struct limits_window *w)
{
	free(w->t);
	memset(w, 0, sizeof(*w));
}

/* The i-th oldest event kept (0 = oldest). */
static uint64_t
win_at(const struct limits_window *w, unsigned int i)
{
	unsigned int start = w->n < w->cap ? 0 : w->head;

	return w->t[(start + i) % w->cap];
}

int
limits_window_resize(struct limits_window *w, unsigned int cap)
{
	uint64_t *t = NULL;
	unsigned int keep;

	if (cap == w->cap)
		return 0;
	if (cap > 0 && (t = calloc(cap, sizeof(*t))) == NULL)
		return ENOMEM;
	keep = w->n < cap ? w->n : cap;
	for (unsigned int i = 0; i < keep; i++)
		t[i] = win_at(w, w->n - keep + i);
	free(w->t);
	w->t = t;
	w->cap = cap;
	w->n = keep;
	w->head = cap > 0 ? keep % cap : 0;
	return 0;
}

uint64_t
limits_window_wait(const struct limits_window *w, uint64_t now, uint64_t span)
{
	uint64_t oldest;

	if (w->cap == 0 || w->n < w->cap)
		return 0;
	oldest = win_at(w, 0);
	if (now >= oldest + span)
		return 0;
	return oldest + span - now;
}

void
limits_window_add(struct limits_window *w, uint64_t now)
{
	if (w->cap == 0)
		return;
	if (w->n < w->cap) {
		w->t[w->n++] = now;
		w->head = w->n % w->cap;
		return;
	}
	w->t[w->head] = now;
	w->head = (w->head + 1) % w->cap;
}

unsigned int
limits_window_count(const struct limits_window *w, uint64_t now, uint64_t span)
{
	unsigned int c = 0;

	for (unsigned int i = 0; i < w->n; i++) {
		uint64_t t = win_at(w, i);
		if (t <= now && now - t < span)
			c++;
	}
	return c;
}

/* ---- per-caller counters ---- */

struct limits_entry {
	LIST_ENTRY(limits_entry) entry;
	char *key;                      /* owned */
	unsigned int calls;             /* live calls */
	struct limits_window minute;    /* new calls, for max_calls_per_minute */
};

struct limits {
	LIST_HEAD(, limits_entry) entries;
};

struct limits *
limits_new(void)
{
	struct limits *l = calloc(1, sizeof(*l));

	if (l != NULL)
		LIST_INIT(&l->entries);
	return l;
}

void
limits_free(struct limits *l)
{
	struct limits_entry *e;

	if (l == NULL)
		return;
	while ((e = LIST_FIRST(&l->entries)) != NULL) {
		LIST_REMOVE(e, entry);
		limits_window_release(&e->minute);
		free(e->key);
		free(e);
	}
	free(l);
}

static struct limits_entry *
entry_find(const struct limits *l, const char *key)
{
	struct limits_entry *e;

	LIST_FOREACH(e, &l->entries, entry)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

enum limits_verdict
limits_call_admit(struct limits *l, const char *key, const struct cfg_policy *p, uint64_t now)
{
	struct limits_entry *e;

	if ((e = entry_find(l, key)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return LIMITS_MAX_CALLS;
		if ((e->key = strdup(key)) == NULL) {
			free(e);
			return LIMITS_MAX_CALLS;
		}
		LIST_INSERT_HEAD(&l->entries, e, entry);
	}
	if (p->max_calls > 0 && e->calls >= p->max_calls)
		return LIMITS_MAX_CALLS;
	if (limits_window_resize(&e->minute, p->max_calls_per_minute) != 0)
		return LIMITS_MAX_CALLS;
	if (limits_window_wait(&e->minute, now, 60000) > 0)
		return LIMITS_RATE;
	limits_window_add(&e->minute, now);
	e->calls++;
	return LIMITS_OK;
}

void
limits_call_end(struct limits *l, const char *key)
{
	struct limits_entry *e = entry_find(l, key);

	if (e != NULL && e->calls > 0)
		e->calls--;
}

unsigned int
limits_calls(const struct limits *l, const char *key)
{
	const struct limits_entry *e = entry_find(l, key);

	return e != NULL ? e->calls : 0;
}

/* ---- blocked sources ---- */

struct ban_entry {
	bool used;
	struct addr ip;                 /* port 0 */
	struct limits_window fails;
	uint64_t last;                  /* time of the last failure */
	uint64_t until;                 /* blocked before this time; 0: not blocked */
};

struct limits_ban {
	struct ban_entry *e;            /* owned, max entries */
	size_t max;
};

struct limits_ban *
limits_ban_new(size_t max)
{
	struct limits_ban *b = calloc(1, sizeof(*b));

	if (b == NULL || max == 0)
		goto fail;
	if ((b->e = calloc(max, sizeof(*b->e))) == NULL)
		goto fail;
	b->max = max;
	return b;
fail:
	free(b);
	return NULL;
}

void
limits_ban_free(struct limits_ban *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->max; i++)
		limits_window_release(&b->e[i].fails);
	free(b->e);
	free(b);
}

static struct ban_entry *
ban_find(struct limits_ban *b, const struct addr *ip)
{
	for (size_t i = 0; i < b->max; i++)
		if (b->e[i].used && addr_ip_eq(&b->e[i].ip, ip))
			return &b->e[i];
	return NULL;
}

/* A slot for a new address: a free one, else the unblocked one that
 * failed least recently, else the one whose block ends first. */
static struct ban_entry *
ban_slot(struct limits_ban *b, uint64_t now)
{
	struct ban_entry *best = NULL;

	for (size_t i = 0; i < b->max; i++) {
		struct ban_entry *e = &b->e[i];
		bool blocked = e->until > now, bblocked;

		if (!e->used)
			return e;
		if (best == NULL) {
			best = e;
			continue;
		}
		bblocked = best->until > now;
		if (bblocked && !blocked)
			best = e;
		else if (bblocked == blocked &&
		    (blocked ? e->until < best->until : e->last < best->last))
			best = e;
	}
	return best;
}

uint64_t
limits_ban_blocked(struct limits_ban *b, const struct addr *ip, uint64_t now)
{
	struct ban_entry *e = ban_find(b, ip);

	if (e == NULL || e->until <= now)
		return 0;
	return e->until - now;
}

int
limits_ban_fail(struct limits_ban *b, const struct addr *ip, uint64_t now, unsigned int limit,
                uint64_t window, uint64_t block, unsigned int *count)
{
	struct ban_entry *e = ban_find(b, ip);
	unsigned int n;

	if (count != NULL)
		*count = 0;
	if (e == NULL) {
		e = ban_slot(b, now);
		limits_window_release(&e->fails);
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->ip = *ip;
		addr_set_port(&e->ip, 0);
	}
	if (e->until != 0 && e->until <= now) {
		/* a block that ended starts a clean record */
		e->until = 0;
		e->fails.n = 0;
		e->fails.head = 0;
	}
	e->last = now;
	if (limits_window_resize(&e->fails, limit) != 0 || limit == 0)
		return 0;
	limits_window_add(&e->fails, now);
	n = limits_window_count(&e->fails, now, window);
	if (count != NULL)
		*count = n;
	if (e->until == 0 && n >= limit) {
		e->until = now + block;
		return 1;
	}
	return 0;
}

void
limits_ban_stats(struct limits_ban *b, uint64_t now, size_t *known, size_t *blocked)
{
	*known = *blocked = 0;
	for (size_t i = 0; i < b->max; i++) {
		if (!b->e[i].used)
			continue;
		(*known)++;
		if (b->e[i].until > now)
			(*blocked)++;
	}
}
