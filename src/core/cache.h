/* Cache-line hints for the media path: asking for memory some work ahead
 * of its use, so that the misses of one call overlap the work on another. */
#ifndef PB_CORE_CACHE_H
#define PB_CORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* What the hints take a cache line to be; the structures every packet
 * touches (calls, legs) are aligned to it. */
#define CACHE_LINE 64

/* Ask for every line of [p, p + len), to be read or to be written: hints,
 * never a fault (p may even be stale). */
static inline void
cache_prefetch(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHE_LINE - 1), end = (uintptr_t)p + len;

	for (; a < end; a += CACHE_LINE)
		__builtin_prefetch((const void *)a, 0);
}

static inline void
cache_prefetch_write(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHE_LINE - 1), end = (uintptr_t)p + len;

	for (; a < end; a += CACHE_LINE)
		__builtin_prefetch((const void *)a, 1);
}

#endif
