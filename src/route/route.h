/* Number routing: which [route] takes a called number, and the number as
 * it is sent on. Pure functions over a config generation. */
#ifndef PB_ROUTE_ROUTE_H
#define PB_ROUTE_ROUTE_H

#include <stddef.h>

#include "cfg/cfg.h"

/* The route of `dir` whose match has the longest prefix of `number` ("*"
 * matches anything with length 0). NULL when none matches. */
const struct cfg_route *route_find(const struct cfg *c, enum cfg_route_dir dir,
                                   const char *number);
/* Outbound: strip and prepend. 0, or ENOSPC when out is too small or
 * EINVAL when strip removes the whole number. */
int route_number(const struct cfg_route *r, const char *number, char *out, size_t len);
/* Inbound: the target URI with "{number}" replaced. 0 or ENOSPC. */
int route_target(const struct cfg_route *r, const char *number, char *out, size_t len);

#endif
