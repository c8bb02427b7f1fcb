#include "route/route.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const struct cfg_route *
route_find(const struct cfg *c, enum cfg_route_dir dir, const char *number)
{
	const struct cfg_route *best = NULL;
	long best_len = -1;

	for (size_t i = 0; i < c->n_routes; i++) {
		const struct cfg_route *r = &c->routes[i];

		if (r->direction != dir)
			continue;
		for (size_t j = 0; j < r->match.n; j++) {
			const char *m = r->match.v[j];
			long l;

			if (strcmp(m, "*") == 0)
				l = 0;
			else if (strncmp(number, m, strlen(m)) == 0)
				l = (long)strlen(m);
			else
				continue;
			if (l > best_len) {
				best_len = l;
				best = r;
			}
		}
	}
	return best;
}

int
route_number(const struct cfg_route *r, const char *number, char *out, size_t len)
{
	size_t n = strlen(number);
	int w;

	if (r->strip >= n && r->strip > 0)
		return EINVAL;
	w = snprintf(out, len, "%s%s", r->prepend ? r->prepend : "", number + r->strip);
	if (w < 0 || (size_t)w >= len)
		return ENOSPC;
	return 0;
}

int
route_target(const struct cfg_route *r, const char *number, char *out, size_t len)
{
	static const char tok[] = "{number}";
	const char *t = r->target ? r->target : "";
	size_t o = 0;

	while (*t) {
		const char *add = t;
		size_t addlen = 1;

		if (strncmp(t, tok, sizeof(tok) - 1) == 0) {
			add = number;
			addlen = strlen(number);
			t += sizeof(tok) - 1;
		} else {
			t++;
		}
		if (o + addlen >= len)
			return ENOSPC;
		memcpy(out + o, add, addlen);
		o += addlen;
	}
	if (o >= len)
		return ENOSPC;
	out[o] = '\0';
	return 0;
}
