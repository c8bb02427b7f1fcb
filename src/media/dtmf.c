/* DTMF: in-band detection to RFC 4733 events, and events to in-band tones. */
#include "media/dtmf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp.h>

#define TE_DUR_MAX 0xFFFF       /* the duration field is 16 bits */
#define TE_MIN_PLAY (40 * 8)    /* samples: shortest digit played */
#define TE_LOST_END (200 * 8)   /* samples past the last duration without an end */
#define TE_ON_MS 60000          /* generator on-time: the event decides */
#define TE_END_PACKETS 3
#define TE_VOLUME_DEFAULT 10

static const char te_digits[] = "0123456789*#ABCD";

int
media_dtmf_event_code(char digit)
{
	const char *p;

	if (digit == '\0')
		return -1;
	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	if ((p = strchr(te_digits, digit)) == NULL)
		return -1;
	return (int)(p - te_digits);
}

char
media_dtmf_event_digit(int code)
{
	if (code < 0 || code > 15)
		return '\0';
	return te_digits[code];
}

static int16_t
dtmf_decode(enum cfg_law law, uint8_t b)
{
	return law == CFG_LAW_ALAW ? alaw_to_linear(b) : ulaw_to_linear(b);
}

static uint8_t
dtmf_encode(enum cfg_law law, int16_t v)
{
	return law == CFG_LAW_ALAW ? linear_to_alaw(v) : linear_to_ulaw(v);
}

static uint8_t
dtmf_silence(enum cfg_law law)
{
	return law == CFG_LAW_ALAW ? 0xD5 : 0xFF;
}

/* ---- PSTN to Internet ---- */

enum out_state { OUT_IDLE = 0, OUT_ACTIVE, OUT_ENDING };

struct media_dtmf_out {
	enum cfg_law law;
	dtmf_rx_state_t *rx;            /* owned */

	/* Audio held back, oldest at line_pos. */
	uint8_t line[MEDIA_DTMF_DELAY][MEDIA_FRAME];
	bool mute[MEDIA_DTMF_DELAY];
	size_t line_pos;

	/* Transitions reported by the detector during one frame. */
	int trans[4];
	int trans_level[4];
	size_t ntrans;

	enum out_state state;
	uint8_t event, volume;
	uint32_t ev_ts;
	uint32_t duration;
	unsigned int ends_left;

	struct media_dtmf_stats st;
};

static void
dtmf_out_on_tone(void *arg, int code, int level, int delay)
{
	struct media_dtmf_out *out = arg;

	(void)delay;
	if (out->ntrans < sizeof(out->trans) / sizeof(out->trans[0])) {
		out->trans[out->ntrans] = code;
		out->trans_level[out->ntrans] = level;
		out->ntrans++;
	}
}

struct media_dtmf_out *
media_dtmf_out_new(enum cfg_law law)
{
	struct media_dtmf_out *out;

	if ((out = calloc(1, sizeof(*out))) == NULL)
		return NULL;
	out->law = law;
	if ((out->rx = dtmf_rx_init(NULL, NULL, NULL)) == NULL) {
		free(out);
		return NULL;
	}
	dtmf_rx_set_realtime_callback(out->rx, dtmf_out_on_tone, out);
	memset(out->line, dtmf_silence(law), sizeof(out->line));
	return out;
}

void
media_dtmf_out_free(struct media_dtmf_out *out)
{
	if (out == NULL)
		return;
	dtmf_rx_free(out->rx);
	free(out);
}

static void
dtmf_out_packet(struct media_dtmf_out *out, struct media_te_pkt *pkts, size_t *npkts,
                bool marker, bool end)
{
	struct media_te_pkt *p;
	uint32_t d = out->duration > TE_DUR_MAX ? TE_DUR_MAX : out->duration;

	if (*npkts >= MEDIA_TE_MAX)
		return;
	p = &pkts[(*npkts)++];
	p->marker = marker;
	p->ts = out->ev_ts;
	p->payload[0] = out->event;
	p->payload[1] = (uint8_t)((end ? 0x80 : 0) | (out->volume & 0x3f));
	p->payload[2] = (uint8_t)(d >> 8);
	p->payload[3] = (uint8_t)d;
	out->st.packets++;
}

static uint8_t
dtmf_volume(int level)
{
	/* SpanDSP reports the level in dBm0; the field is its negation. */
	if (level >= 0 || level < -63)
		return TE_VOLUME_DEFAULT;
	return (uint8_t)-level;
}

int
media_dtmf_out_frame(struct media_dtmf_out *out, uint8_t frame[MEDIA_FRAME],
                     uint32_t audio_ts, struct media_te_pkt pkts[MEDIA_TE_MAX],
                     size_t *npkts)
{
	int16_t amp[MEDIA_FRAME];
	uint8_t send[MEDIA_FRAME];
	bool send_mute;
	int started = 0;

	*npkts = 0;
	for (size_t i = 0; i < MEDIA_FRAME; i++)
		amp[i] = dtmf_decode(out->law, frame[i]);
	out->ntrans = 0;
	dtmf_rx(out->rx, amp, MEDIA_FRAME);

	/* The delay line: the oldest frame goes out, this one goes in. */
	memcpy(send, out->line[out->line_pos], MEDIA_FRAME);
	send_mute = out->mute[out->line_pos];
	memcpy(out->line[out->line_pos], frame, MEDIA_FRAME);
	out->mute[out->line_pos] = out->state == OUT_ACTIVE;
	out->line_pos = (out->line_pos + 1) % MEDIA_DTMF_DELAY;

	/* An update for an event that goes on; its end packets repeated. */
	if (out->state == OUT_ACTIVE) {
		out->duration += MEDIA_FRAME;
		send_mute = true;
	} else if (out->state == OUT_ENDING) {
		dtmf_out_packet(out, pkts, npkts, false, true);
		if (--out->ends_left == 0)
			out->state = OUT_IDLE;
	}

	for (size_t t = 0; t < out->ntrans; t++) {
		int code = out->trans[t];
		int ev = media_dtmf_event_code((char)code);

		if (code != 0 && ev >= 0 && out->state != OUT_ACTIVE) {
			/* A digit starts: what is still held back is muted,
			 * and the event starts with the frame sent now. */
			while (out->state == OUT_ENDING) {
				dtmf_out_packet(out, pkts, npkts, false, true);
				if (--out->ends_left == 0)
					out->state = OUT_IDLE;
			}
			for (size_t i = 0; i < MEDIA_DTMF_DELAY; i++)
				out->mute[i] = true;
			send_mute = true;
			out->state = OUT_ACTIVE;
			out->event = (uint8_t)ev;
			out->volume = dtmf_volume(out->trans_level[t]);
			out->ev_ts = audio_ts;
			out->duration = MEDIA_FRAME;
			out->st.events++;
			started = code;
			dtmf_out_packet(out, pkts, npkts, true, false);
		} else if (code == 0 && out->state == OUT_ACTIVE) {
			/* The digit ended: first of the end packets. The tail
			 * still held back stays muted. */
			dtmf_out_packet(out, pkts, npkts, false, true);
			out->state = OUT_ENDING;
			out->ends_left = TE_END_PACKETS - 1;
		}
	}
	if (out->state == OUT_ACTIVE && started == 0)
		dtmf_out_packet(out, pkts, npkts, false, false);

	if (send_mute)
		memset(frame, dtmf_silence(out->law), MEDIA_FRAME);
	else
		memcpy(frame, send, MEDIA_FRAME);
	return started;
}

void
media_dtmf_out_stats(const struct media_dtmf_out *out, struct media_dtmf_stats *st)
{
	*st = out->st;
}

/* ---- Internet to PSTN ---- */

struct media_dtmf_in {
	enum cfg_law law;
	dtmf_tx_state_t *tx;            /* owned */
	bool have_event;                /* ev_ts is valid */
	bool playing;
	bool ended;                     /* the E bit was seen */
	uint8_t event;
	uint32_t ev_ts;
	uint32_t duration;              /* the longest duration received */
	uint32_t played;                /* samples generated */
	struct media_dtmf_stats st;
};

struct media_dtmf_in *
media_dtmf_in_new(enum cfg_law law)
{
	struct media_dtmf_in *in;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	in->law = law;
	if ((in->tx = dtmf_tx_init(NULL)) == NULL) {
		free(in);
		return NULL;
	}
	return in;
}

void
media_dtmf_in_free(struct media_dtmf_in *in)
{
	if (in == NULL)
		return;
	dtmf_tx_free(in->tx);
	free(in);
}

static void
dtmf_in_start(struct media_dtmf_in *in, uint8_t event, unsigned int volume)
{
	char digit[2] = { media_dtmf_event_digit(event), '\0' };
	int level = -(int)volume;

	if (level > -3)
		level = -3;
	if (level < -30)
		level = -30;
	/* A fresh generator: whatever played before stops here. */
	dtmf_tx_init(in->tx);
	dtmf_tx_set_level(in->tx, level, 0);
	dtmf_tx_set_timing(in->tx, TE_ON_MS, 0);
	dtmf_tx_put(in->tx, digit, 1);
	in->playing = true;
	in->played = 0;
	in->st.events++;
}

int
media_dtmf_in_event(struct media_dtmf_in *in, const uint8_t *payload, size_t len,
                    uint32_t ts)
{
	uint8_t event;
	bool end;
	unsigned int volume;
	uint32_t duration;

	if (len < MEDIA_TE_LEN) {
		in->st.bad++;
		return EINVAL;
	}
	event = payload[0];
	end = (payload[1] & 0x80) != 0;
	volume = payload[1] & 0x3f;
	duration = ((uint32_t)payload[2] << 8) | payload[3];
	if (event > 15)
		return ENOTSUP;

	if (in->have_event && ts == in->ev_ts) {
		/* The same event: a repeated end changes nothing. */
		if (in->ended || event != in->event)
			return 0;
		in->st.packets++;
		if (duration > in->duration)
			in->duration = duration;
		in->ended = end;
		return 0;
	}
	if (in->have_event && (int32_t)(ts - in->ev_ts) < 0)
		return 0;       /* an older event, arriving late */

	/* A new event; its start packet may have been lost. */
	in->st.packets++;
	in->have_event = true;
	in->ev_ts = ts;
	in->event = event;
	in->duration = duration;
	in->ended = end;
	dtmf_in_start(in, event, volume);
	return 0;
}

int
media_dtmf_in_digit(struct media_dtmf_in *in, char digit, unsigned int duration_ms)
{
	int code = media_dtmf_event_code(digit);

	if (code < 0)
		return EINVAL;
	if (duration_ms < 40)
		duration_ms = 40;
	if (duration_ms > 5000)
		duration_ms = 5000;
	/* Not an RFC 4733 event: the event timestamps are left alone. */
	in->event = (uint8_t)code;
	in->duration = duration_ms * 8;
	in->ended = true;
	dtmf_in_start(in, (uint8_t)code, 10);
	return 0;
}

bool
media_dtmf_in_frame(struct media_dtmf_in *in, uint8_t frame[MEDIA_FRAME])
{
	int16_t amp[MEDIA_FRAME];
	uint32_t total, n = MEDIA_FRAME;
	int got;

	if (!in->playing)
		return false;
	if (in->ended) {
		total = in->duration > TE_MIN_PLAY ? in->duration : TE_MIN_PLAY;
		if (total - in->played < n)
			n = total - in->played;
	} else if (in->played >= in->duration + TE_LOST_END) {
		n = 0;
		total = in->played;
	} else
		total = UINT32_MAX;
	got = n > 0 ? dtmf_tx(in->tx, amp, (int)n) : 0;
	for (int i = 0; i < got; i++)
		frame[i] = dtmf_encode(in->law, amp[i]);
	in->played += n;
	if (in->played >= total) {
		in->playing = false;
		dtmf_tx_init(in->tx);
	}
	return got > 0;
}

void
media_dtmf_in_stats(const struct media_dtmf_in *in, struct media_dtmf_stats *st)
{
	*st = in->st;
}
