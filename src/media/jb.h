/* Adaptive jitter buffer between RTP arrival and the span's 20 ms clock.
 *
 * Audio is G.711 in the span's law; what was received is played as the very
 * bytes that came (clear channel data, fax and modem tones pass bit-exact):
 * only concealment is encoded from linear. Packets go in with their RTP timestamp
 * (8 kHz units) and their arrival time; the span's tick takes exactly one
 * 160-byte frame out. The buffer is pure: it never reads the clock, both
 * calls are given `now` (microseconds of a monotonic clock; the same clock
 * for both).
 *
 * Any packet length is accepted (10, 20, 30 ms ... ptime): audio is kept per
 * sample in a ring indexed by timestamp, so packets are reordered for free,
 * a duplicate finds its samples already there, and a packet whose samples
 * have been played is late and dropped. Samples missing when their turn
 * comes are concealed with SpanDSP's PLC (on linear audio).
 *
 * Adaptation: the transit time (arrival minus timestamp) of the last 256
 * packets gives the fastest packet (lo) and the 99th percentile (hi); hi is
 * held, following a rise at once and a fall over about 40 s, so that a
 * quiet spell does not undo what a congested one taught. The
 * playout delay D (local clock minus the timestamp being played) is steered
 * towards the held hi plus a small margin, kept between lo + min_ms and lo + max_ms,
 * in steps of one 20 ms frame (so that 20 ms packets stay aligned with the
 * ticks): too little delay inserts a frame of concealment at once; a frame
 * too many is skipped once the excess has lasted half a second, or at once
 * when the delay is beyond max_ms. Because lo and hi follow the stream, a
 * clock drift between sender and span is absorbed the same way: a fast
 * sender makes the buffer skip a frame now and then (every 100 s at
 * 200 ppm), a slow one makes it insert one.
 *
 * A stream that stops for a second is forgotten: the next packet primes the
 * buffer anew (after hold or silence suppression, or a timestamp jump);
 * when its transit is within max_ms of the fastest one seen before the
 * pause, the path is taken as the same one and the buffer restarts at the
 * depth it had learnt (a reset, for a new stream, forgets that too).
 *
 * Measured against SpanDSP's playout buffer on G.1050 paths and under
 * +-200 ppm drift by bench/jb_compare, and behind SpanDSP's own G.1050
 * model by tests/integration/t_g1050.sh (figures in bench/README-jitter.md). */
#ifndef PB_MEDIA_JB_H
#define PB_MEDIA_JB_H

#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"

#define MEDIA_FRAME 160         /* samples (= G.711 bytes) per 20 ms tick */

struct media_jb;

struct media_jb_stats {
	unsigned long frames;           /* frames played since the first packet */
	unsigned long concealed;        /* of those, frames with samples filled in by PLC */
	unsigned long late;             /* packets dropped: their time had passed */
	unsigned long duplicate;        /* packets whose audio was already there */
	unsigned long packets;          /* packets accepted */
	unsigned long grown_ms;         /* delay added by inserting concealment */
	unsigned long shrunk_ms;        /* delay removed by skipping audio */
	unsigned long resyncs;          /* timestamp jumps or restarts after a pause */
	/* The buffering delay: how long the fastest recent packet waits
	 * before it is played (packets slower by jitter wait less). */
	unsigned int delay_ms;          /* now */
	unsigned int target_ms;         /* what the buffer steers towards */
	unsigned int delay_mean_ms;     /* over the frames played */
	unsigned int delay_max_ms;
};

/* min_ms..max_ms bound the buffering ([rtp] jitter_min_ms, jitter_max_ms);
 * max_ms is capped at 1000. NULL when out of memory. */
struct media_jb *media_jb_new(enum cfg_law law, unsigned int min_ms, unsigned int max_ms);
void media_jb_free(struct media_jb *jb);

/* Forget the stream (new SSRC, re-INVITE): the next packet primes anew. */
void media_jb_reset(struct media_jb *jb);

/* One RTP payload, in the span's law. 0, or EINVAL for an empty payload;
 * late and duplicate packets return 0 and are counted. */
int media_jb_put(struct media_jb *jb, uint32_t ts, const uint8_t *payload, size_t len,
                 uint64_t now_us);

/* The span's tick: fill frame with the next 20 ms. Silence before the first
 * packet (and after a long pause); concealment for missing audio. */
void media_jb_get(struct media_jb *jb, uint8_t frame[MEDIA_FRAME], uint64_t now_us);

/* A hint, some work ahead of media_jb_get(): start loading the buffer's
 * state into the cache. */
void media_jb_prefetch(const struct media_jb *jb);
/* The next hint, once the buffer's state has been asked for (by
 * media_jb_prefetch): where the next packet is expected to go, and the
 * adaptation's window. */
void media_jb_prefetch_data(const struct media_jb *jb);

void media_jb_stats(const struct media_jb *jb, struct media_jb_stats *out);

#endif
