/* Call progress tones with SpanDSP's cadenced tone generator. */
#include "media/tone.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

struct media_tone {
	tone_gen_descriptor_t *desc;    /* owned */
	tone_gen_state_t *gen;          /* owned */
	enum cfg_law law;
};

struct media_tone_zone {
	const char *name;
	struct media_tone_spec tones[3];        /* ringback, busy, congestion */
};

/* ITU-T E.180 supplement, national tones. */
static const struct media_tone_zone media_tone_zones[] = {
	{ "us", {
		{ 440, 480, -19, { 2000, 4000, 0, 0 } },
		{ 480, 620, -24, { 500, 500, 0, 0 } },
		{ 480, 620, -24, { 250, 250, 0, 0 } } } },
	{ "uk", {
		{ 400, 450, -19, { 400, 200, 400, 2000 } },
		{ 400, 0, -13, { 375, 375, 0, 0 } },
		{ 400, 0, -13, { 400, 350, 225, 525 } } } },
	{ "de", {
		{ 425, 0, -13, { 1000, 4000, 0, 0 } },
		{ 425, 0, -13, { 480, 480, 0, 0 } },
		{ 425, 0, -13, { 240, 240, 0, 0 } } } },
	{ "fr", {
		{ 440, 0, -13, { 1500, 3500, 0, 0 } },
		{ 440, 0, -13, { 500, 500, 0, 0 } },
		{ 440, 0, -13, { 250, 250, 0, 0 } } } },
	{ "nl", {
		{ 425, 0, -13, { 1000, 4000, 0, 0 } },
		{ 425, 0, -13, { 500, 500, 0, 0 } },
		{ 425, 0, -13, { 250, 250, 0, 0 } } } },
	{ "it", {
		{ 425, 0, -13, { 1000, 4000, 0, 0 } },
		{ 425, 0, -13, { 500, 500, 0, 0 } },
		{ 425, 0, -13, { 200, 200, 0, 0 } } } },
	{ "au", {
		{ 400, 450, -19, { 400, 200, 400, 2000 } },
		{ 425, 0, -13, { 375, 375, 0, 0 } },
		{ 425, 0, -13, { 375, 375, 0, 0 } } } },
	{ "jp", {
		{ 400, -16, -13, { 1000, 2000, 0, 0 } },
		{ 400, 0, -13, { 500, 500, 0, 0 } },
		{ 400, 0, -13, { 500, 500, 0, 0 } } } },
};

static const char *const media_tone_kind_names[] = { "ringback", "busy", "congestion" };

const char *
media_tone_kind_name(enum media_tone_kind k)
{
	if ((unsigned)k >= sizeof(media_tone_kind_names) / sizeof(media_tone_kind_names[0]))
		return "?";
	return media_tone_kind_names[k];
}

const struct media_tone_spec *
media_tone_spec(const char *zone, enum media_tone_kind k)
{
	if ((unsigned)k > MEDIA_TONE_CONGESTION)
		return NULL;
	if (zone == NULL || *zone == '\0')
		zone = MEDIA_TONE_ZONE_DEFAULT;
	for (size_t i = 0; i < sizeof(media_tone_zones) / sizeof(media_tone_zones[0]); i++)
		if (strcmp(media_tone_zones[i].name, zone) == 0)
			return &media_tone_zones[i].tones[k];
	return NULL;
}

struct media_tone *
media_tone_new(const char *zone, enum media_tone_kind k, enum cfg_law law)
{
	const struct media_tone_spec *sp = media_tone_spec(zone, k);
	struct media_tone *t;
	int l2;

	if (sp == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	/* A modulated tone's second level is the modulation depth (%). */
	l2 = sp->f2 < 0 ? 50 : sp->level;
	t->desc = tone_gen_descriptor_init(NULL, sp->f1, sp->level, sp->f2, l2,
	    sp->cadence[0], sp->cadence[1], sp->cadence[2], sp->cadence[3], sp->cadence[1] != 0);
	if (t->desc == NULL || (t->gen = tone_gen_init(NULL, t->desc)) == NULL) {
		media_tone_free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->law = law;
	return t;
}

void
media_tone_linear(struct media_tone *t, int16_t *out, size_t len)
{
	int n;

	while (len > 0) {
		n = tone_gen(t->gen, out, len > 8000 ? 8000 : (int)len);
		if (n <= 0) {
			/* a cadence without repeat has ended: silence */
			memset(out, 0, len * sizeof(*out));
			return;
		}
		out += n;
		len -= (size_t)n;
	}
}

void
media_tone_frame(struct media_tone *t, uint8_t *out, size_t len)
{
	int16_t lin[160];
	size_t n;

	while (len > 0) {
		n = len > 160 ? 160 : len;
		media_tone_linear(t, lin, n);
		for (size_t i = 0; i < n; i++)
			out[i] = t->law == CFG_LAW_ULAW ? linear_to_ulaw(lin[i]) :
			    linear_to_alaw(lin[i]);
		out += n;
		len -= n;
	}
}

void
media_tone_free(struct media_tone *t)
{
	if (t == NULL)
		return;
	if (t->gen != NULL)
		tone_gen_free(t->gen);
	if (t->desc != NULL)
		tone_gen_descriptor_free(t->desc);
	free(t);
}
