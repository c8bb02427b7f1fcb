/* Call progress tones generated in the daemon (SpanDSP tone_gen): the
 * ringback an Internet caller hears while the PSTN side alerts without
 * in-band information, and busy and congestion tones, per country.
 *
 * The tone sets follow the national tones listed in the ITU-T E.180
 * supplement (frequencies in Hz, cadences in ms). A generator is DSP state
 * with _new/_free; media_tone_frame fills one block of G.711 at a time,
 * phase and cadence continuing from the block before. */
#ifndef PB_MEDIA_TONE_H
#define PB_MEDIA_TONE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"

enum media_tone_kind {
	MEDIA_TONE_RINGBACK = 0,
	MEDIA_TONE_BUSY,
	MEDIA_TONE_CONGESTION,
};
const char *media_tone_kind_name(enum media_tone_kind k);

/* The tone zones known, as the values of the tonezone keys. */
#define MEDIA_TONE_ZONES "us|uk|de|fr|nl|it|au|jp"
#define MEDIA_TONE_ZONE_DEFAULT "us"

/* One tone: f1 alone, f1 + f2 added, or (f2 < 0) f1 amplitude modulated
 * by -f2; cadence on/off/on/off in ms (a zero ends the cycle; all zero:
 * continuous). */
struct media_tone_spec {
	int f1, f2;
	int level;                      /* dBm0 of each frequency */
	int cadence[4];
};

/* The spec of a kind of tone in a zone; NULL for an unknown zone. */
const struct media_tone_spec *media_tone_spec(const char *zone, enum media_tone_kind k);

struct media_tone;
/* A generator for zone (NULL: MEDIA_TONE_ZONE_DEFAULT) and kind, writing
 * law. NULL on an unknown zone (errno EINVAL) or out of memory. */
struct media_tone *media_tone_new(const char *zone, enum media_tone_kind k, enum cfg_law law);
/* The next len samples as G.711 in the generator's law. */
void media_tone_frame(struct media_tone *t, uint8_t *out, size_t len);
/* The same as 16-bit linear samples (tests). */
void media_tone_linear(struct media_tone *t, int16_t *out, size_t len);
void media_tone_free(struct media_tone *t);

#endif
