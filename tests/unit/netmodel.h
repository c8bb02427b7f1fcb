/* An IP network path after ITU-T G.1050 (2007) Appendix II, for feeding
 * jitter buffers with injected time.
 *
 * SpanDSP's own model lives in its spandsp-sim test library, which Debian
 * does not package (no g1050_* symbol in libspandsp.so.2); only the spandsp
 * source package has it. tests/integration/t_g1050.sh (tests/g1050/)
 * fetches that and runs the jitter buffer behind SpanDSP's model; this file
 * stays so that the unit tests and bench/jb_compare run offline in every
 * `make check` (no network, no foreign code). It is our own implementation
 * of the algorithm the Appendix describes, with the parameters SpanDSP's
 * model uses (G.1050 Tables 5-10: the impairment severities A to H and the
 * speed patterns); tests/g1050/harness.c runs the same profile list. The
 * model:
 *
 * - five segments: sender LAN, sender access link, core, receiver access
 *   link, receiver LAN;
 * - each LAN and access link is sliced in 1 ms steps; every slice has a
 *   delay (serialisation + uniform jitter + congestion) and a loss flag,
 *   from a two-state (Gilbert-Elliott) loss model whose state sets the
 *   chance of a queueing impulse; LAN impulses are not filtered, access
 *   link impulses go through a one-pole filter; a packet takes the values
 *   of the slice it enters in; a link is a FIFO (no overtaking);
 * - the core adds a base delay, uniform jitter, a route flap that toggles
 *   an extra delay, periodic link failures (all lost), random loss, and
 *   lets a packet overtake the one before only with the reorder chance.
 *
 * Deterministic: the same profile and seed give the same trace. */
#ifndef PB_TESTS_NETMODEL_H
#define PB_TESTS_NETMODEL_H

#include <stddef.h>
#include <stdint.h>

/* A path: a G.1050 impairment severity and a G.1050 speed pattern. */
struct netmodel_profile {
	const char *name;
	int severity;           /* 0 (none), 1..8 = A..H */
	int speed_pattern;      /* 1..168 as numbered in G.1050 Table 10 */
};

/* The profiles the tests and the jitter buffer comparison run. */
extern const struct netmodel_profile netmodel_profiles[];
extern const size_t netmodel_nprofiles;

struct netmodel_pkt {
	uint64_t sent_us;       /* departure, receiver's clock */
	uint64_t at_us;         /* arrival */
	uint32_t ts;            /* RTP timestamp, 8 kHz */
	uint32_t seq;           /* index of the packet in the stream */
	size_t len;             /* samples */
};

struct netmodel_result {
	size_t sent, lost;
	size_t over_max;        /* delivered more than max_ms after the fastest
	                         * of the 256 packets sent before it */
	size_t reordered;       /* delivered before an earlier one */
	double min_ms, mean_ms, p99_ms, max_ms;  /* transit of delivered packets */
};

/* Send a 20 ms G.711 packet (200 bytes on the wire) every 20 ms of the
 * sender's clock for `seconds`, from t0_us; the sender's clock runs ppm
 * fast (negative: slow) against the receiver's. Fills pk (room for
 * seconds * 50 packets) with the packets that arrive, sorted by arrival;
 * returns how many. max_ms is only used to count over_max. NULL pk or
 * out of memory: 0. */
size_t netmodel_run(const struct netmodel_profile *p, double seconds, double ppm,
                    uint64_t seed, uint64_t t0_us, unsigned int max_ms,
                    struct netmodel_pkt *pk, struct netmodel_result *res);

/* One line describing the path's parameters. */
void netmodel_describe(const struct netmodel_profile *p, char *buf, size_t len);

#endif
