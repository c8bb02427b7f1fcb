/* SDP offer/answer for one audio stream (RFC 4566, RFC 3264). Parsing is
 * libosip2's; this module picks the audio stream out of it and writes our
 * own descriptions. */
#include "sdp/sdp.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* libosip2 names its media structure "struct sdp_media" as well; rename
 * its tag while its header is read. Only the tag changes: the functions and
 * the sdp_media_t typedef are other identifiers. */
#define sdp_media osip_sdp_media
#include <osipparser2/sdp_message.h>
#undef sdp_media

#define SDP_MAX_LEN (64 * 1024)
#define SDP_TE_PT_DEFAULT 101

static const struct {
	const char *name;       /* config name */
	const char *enc;        /* rtpmap encoding name */
	int pt;
} sdp_codecs[] = {
	{"pcmu", "PCMU", SDP_PT_PCMU},
	{"pcma", "PCMA", SDP_PT_PCMA},
};

#define NCODECS (sizeof(sdp_codecs) / sizeof(sdp_codecs[0]))

int
sdp_codec_pt(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < NCODECS; i++)
		if (strcasecmp(name, sdp_codecs[i].name) == 0)
			return sdp_codecs[i].pt;
	return -1;
}

const char *
sdp_pt_name(int pt)
{
	for (size_t i = 0; i < NCODECS; i++)
		if (sdp_codecs[i].pt == pt)
			return sdp_codecs[i].name;
	return NULL;
}

static const char *
sdp_pt_enc(int pt)
{
	for (size_t i = 0; i < NCODECS; i++)
		if (sdp_codecs[i].pt == pt)
			return sdp_codecs[i].enc;
	return NULL;
}

/* A decimal number in [min, max] and nothing else; -1 otherwise. */
static long
sdp_number(const char *s, long min, long max)
{
	long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v < min ? -1 : v;
}

static int
sdp_dir_from_attr(const char *field, enum sdp_dir *dir)
{
	if (strcasecmp(field, "sendrecv") == 0)
		*dir = SDP_SENDRECV;
	else if (strcasecmp(field, "sendonly") == 0)
		*dir = SDP_SENDONLY;
	else if (strcasecmp(field, "recvonly") == 0)
		*dir = SDP_RECVONLY;
	else if (strcasecmp(field, "inactive") == 0)
		*dir = SDP_INACTIVE;
	else
		return ENOENT;
	return 0;
}

/* "96 PCMU/8000" or "101 telephone-event/8000/1": the PT, and whether the
 * encoding is `enc` at 8000 Hz. */
static int
sdp_rtpmap_is(const char *value, const char *enc, int *pt)
{
	const char *p = value;
	long v = 0;
	size_t el = strlen(enc);

	if (!value || !isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		if (v > 127)
			return 0;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, enc, el) != 0 || strncmp(p + el, "/8000", 5) != 0)
		return 0;
	p += el + 5;
	if (*p != '\0' && *p != '/')
		return 0;
	*pt = (int)v;
	return 1;
}

/* Attributes at one level (-1 for the session) that matter to us. */
static void
sdp_scan_attrs(sdp_message_t *msg, int pos, struct sdp_media *out)
{
	const char *field, *value;
	enum sdp_dir dir;
	long v;
	int pt;

	for (int i = 0; (field = sdp_message_a_att_field_get(msg, pos, i)) != NULL; i++) {
		value = sdp_message_a_att_value_get(msg, pos, i);
		if (sdp_dir_from_attr(field, &dir) == 0)
			out->dir = dir;
		else if (strcasecmp(field, "rtcp-mux") == 0 && pos >= 0)
			out->rtcp_mux = 1;
		else if (strcasecmp(field, "ptime") == 0) {
			if ((v = sdp_number(value, 1, 1000)) > 0)
				out->ptime = (int)v;
		} else if (strcasecmp(field, "rtpmap") == 0 && pos >= 0) {
			if (sdp_rtpmap_is(value, "telephone-event", &pt)) {
				if (out->te_pt < 0)
					out->te_pt = pt;
				continue;
			}
			/* A dynamic PT that carries G.711 counts as the static
			 * one. */
			for (size_t c = 0; c < NCODECS; c++) {
				if (!sdp_rtpmap_is(value, sdp_codecs[c].enc, &pt) || pt < 96)
					continue;
				for (size_t k = 0; k < out->n_pt; k++)
					if (out->pt[k] == pt)
						out->pt[k] = sdp_codecs[c].pt;
			}
		}
	}
}

static int
sdp_fill_media(sdp_message_t *msg, int pos, struct sdp_media *out)
{
	const char *s, *addrtype, *ip;
	long port, v;
	int cpos;

	port = sdp_number(sdp_message_m_port_get(msg, pos), 0, 65535);
	if (port < 0)
		return EINVAL;
	if (port == 0)
		return ENOENT;

	for (int i = 0; (s = sdp_message_m_payload_get(msg, pos, i)) != NULL; i++) {
		if ((v = sdp_number(s, 0, 127)) < 0)
			return EINVAL;
		if (out->n_pt < SDP_MAX_PT)
			out->pt[out->n_pt++] = (int)v;
	}
	if (out->n_pt == 0)
		return EINVAL;

	cpos = pos;
	if (!sdp_message_c_addr_get(msg, cpos, 0))
		cpos = -1;
	ip = sdp_message_c_addr_get(msg, cpos, 0);
	addrtype = sdp_message_c_addrtype_get(msg, cpos, 0);
	if (!ip || !addrtype)
		return EINVAL;
	if (addr_from_ip(&out->addr, ip, (unsigned int)port) != 0)
		return EINVAL;
	if ((strcasecmp(addrtype, "IP4") == 0) != (out->addr.u.sa.sa_family == AF_INET))
		return EINVAL;

	sdp_scan_attrs(msg, -1, out);
	sdp_scan_attrs(msg, pos, out);

	/* c=0.0.0.0 is the old way to put a call on hold (RFC 2543): the
	 * peer wants nothing sent to it. */
	if ((out->addr.u.sa.sa_family == AF_INET && out->addr.u.sin.sin_addr.s_addr == 0) ||
	    (out->addr.u.sa.sa_family == AF_INET6 &&
	     IN6_IS_ADDR_UNSPECIFIED(&out->addr.u.sin6.sin6_addr))) {
		if (out->dir == SDP_SENDRECV)
			out->dir = SDP_SENDONLY;
		else if (out->dir == SDP_RECVONLY)
			out->dir = SDP_INACTIVE;
	}
	return 0;
}

int
sdp_parse(const char *body, size_t len, struct sdp_media *out)
{
	sdp_message_t *msg = NULL;
	char *text = NULL;
	const char *media, *proto;
	int error = ENOENT, pos;

	memset(out, 0, sizeof(*out));
	out->te_pt = -1;
	if (!body || len == 0 || len > SDP_MAX_LEN || memchr(body, '\0', len)) {
		error = EINVAL;
		goto out;
	}
	/* libosip2 reads past the end of a body whose last line is cut
	 * short (ending in a lone CR, for one): end it with CRLF ourselves,
	 * and leave spare NULs behind. */
	if ((text = calloc(1, len + 8)) == NULL) {
		error = ENOMEM;
		goto out;
	}
	memcpy(text, body, len);
	if (text[len - 1] == '\r')
		text[len] = '\n';
	else if (text[len - 1] != '\n')
		memcpy(text + len, "\r\n", 2);

	if (sdp_message_init(&msg) != 0) {
		error = ENOMEM;
		goto out;
	}
	if (sdp_message_parse(msg, text) != 0) {
		error = EINVAL;
		goto out;
	}

	for (pos = 0; (media = sdp_message_m_media_get(msg, pos)) != NULL; pos++) {
		if (strcasecmp(media, "audio") != 0)
			continue;
		proto = sdp_message_m_proto_get(msg, pos);
		/* RTP/SAVP and the others are not supported: skip. */
		if (!proto || strcasecmp(proto, "RTP/AVP") != 0)
			continue;
		memset(out, 0, sizeof(*out));
		out->te_pt = -1;
		error = sdp_fill_media(msg, pos, out);
		if (error != ENOENT)
			break;
		/* port 0: a rejected stream, look for another */
	}
out:
	if (error != 0) {
		memset(out, 0, sizeof(*out));
		out->te_pt = -1;
	}
	if (msg)
		sdp_message_free(msg);
	free(text);
	return error;
}

static bool
sdp_has_pt(const struct sdp_media *m, int pt)
{
	for (size_t i = 0; i < m->n_pt; i++)
		if (m->pt[i] == pt)
			return true;
	return false;
}

static enum sdp_dir
sdp_dir_answer(enum sdp_dir offer)
{
	switch (offer) {
	case SDP_SENDONLY:
		return SDP_RECVONLY;
	case SDP_RECVONLY:
		return SDP_SENDONLY;
	case SDP_INACTIVE:
		return SDP_INACTIVE;
	default:
		return SDP_SENDRECV;
	}
}

/* Our preference order; an empty list means "pcmu, pcma". */
static size_t
sdp_pref(const struct cfg_strlist *codecs, int *pts, size_t max)
{
	size_t n = 0;
	int pt;

	if (!codecs || codecs->n == 0) {
		for (size_t i = 0; i < NCODECS && n < max; i++)
			pts[n++] = sdp_codecs[i].pt;
		return n;
	}
	for (size_t i = 0; i < codecs->n && n < max; i++) {
		if ((pt = sdp_codec_pt(codecs->v[i])) < 0)
			continue;
		pts[n++] = pt;
	}
	return n;
}

int
sdp_negotiate(const struct sdp_media *offer, const struct cfg_strlist *codecs,
              struct sdp_choice *out)
{
	int pref[SDP_MAX_PT];
	size_t n = sdp_pref(codecs, pref, SDP_MAX_PT);

	out->pt = -1;
	out->te_pt = -1;
	out->dir = SDP_SENDRECV;
	out->rtcp_mux = 0;
	for (size_t i = 0; i < n; i++) {
		if (sdp_has_pt(offer, pref[i])) {
			out->pt = pref[i];
			out->te_pt = offer->te_pt;
			out->dir = sdp_dir_answer(offer->dir);
			out->rtcp_mux = offer->rtcp_mux;
			return 0;
		}
	}
	return ENOENT;
}

/* Fills the media fields of l (payload types, telephone-event, direction);
 * ip, port and the session id/version are the caller's to set. */
void
sdp_local_offer(struct sdp_local *l, const struct cfg_strlist *codecs)
{
	l->n_pt = sdp_pref(codecs, l->pt, SDP_MAX_PT);
	l->te_pt = SDP_TE_PT_DEFAULT;
	l->dir = SDP_SENDRECV;
	l->rtcp_mux = 1;
}

void
sdp_local_answer(struct sdp_local *l, const struct sdp_choice *c)
{
	l->pt[0] = c->pt;
	l->n_pt = 1;
	l->te_pt = c->te_pt;
	l->dir = c->dir;
	l->rtcp_mux = c->rtcp_mux;
}

static const char *
sdp_dir_name(enum sdp_dir dir)
{
	switch (dir) {
	case SDP_SENDONLY:
		return "sendonly";
	case SDP_RECVONLY:
		return "recvonly";
	case SDP_INACTIVE:
		return "inactive";
	default:
		return "sendrecv";
	}
}

struct sdp_buf {
	char *p;
	size_t len, off;
	int overflow;
};

static void __attribute__((format(printf, 2, 3)))
sdp_add(struct sdp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->off) {
		b->overflow = 1;
		return;
	}
	b->off += (size_t)n;
}

int
sdp_write(const struct sdp_local *l, char *buf, size_t len)
{
	struct sdp_buf b = {buf, len, 0, 0};
	const char *ip = l->ip ? l->ip : "0.0.0.0";
	const char *af = strchr(ip, ':') ? "IP6" : "IP4";
	const char *enc;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	sdp_add(&b, "v=0\r\n");
	sdp_add(&b, "o=pstnbridge %llu %llu IN %s %s\r\n", l->sess_id, l->sess_version, af, ip);
	sdp_add(&b, "s=pstnbridge\r\n");
	sdp_add(&b, "c=IN %s %s\r\n", af, ip);
	sdp_add(&b, "t=0 0\r\n");
	sdp_add(&b, "m=audio %u RTP/AVP", l->port);
	for (size_t i = 0; i < l->n_pt && i < SDP_MAX_PT; i++)
		sdp_add(&b, " %d", l->pt[i]);
	if (l->te_pt >= 0)
		sdp_add(&b, " %d", l->te_pt);
	sdp_add(&b, "\r\n");
	for (size_t i = 0; i < l->n_pt && i < SDP_MAX_PT; i++)
		if ((enc = sdp_pt_enc(l->pt[i])) != NULL)
			sdp_add(&b, "a=rtpmap:%d %s/8000\r\n", l->pt[i], enc);
	if (l->te_pt >= 0) {
		sdp_add(&b, "a=rtpmap:%d telephone-event/8000\r\n", l->te_pt);
		sdp_add(&b, "a=fmtp:%d 0-16\r\n", l->te_pt);
	}
	sdp_add(&b, "a=ptime:20\r\n");
	sdp_add(&b, "a=%s\r\n", sdp_dir_name(l->dir));
	if (l->rtcp_mux)
		sdp_add(&b, "a=rtcp-mux\r\n");
	if (b.overflow) {
		buf[0] = '\0';
		return -1;
	}
	return (int)b.off;
}
