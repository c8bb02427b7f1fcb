/* SDP offer/answer (RFC 3264) for one audio stream, on libosip2's parser. */
#ifndef PB_SDP_SDP_H
#define PB_SDP_SDP_H

#include <stddef.h>

#include "cfg/cfg.h"
#include "core/addr.h"

#define SDP_MAX_PT 16

enum sdp_dir { SDP_SENDRECV = 0, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE };

/* Static payload types we handle. */
#define SDP_PT_PCMU 0
#define SDP_PT_PCMA 8

/* The audio stream of a remote description. */
struct sdp_media {
	struct addr addr;       /* connection address and m= port */
	int pt[SDP_MAX_PT];     /* payload types in the peer's order */
	size_t n_pt;
	int te_pt;              /* telephone-event payload type, -1 if none */
	int ptime;              /* ms, 0 when not given */
	enum sdp_dir dir;
	int rtcp_mux;
};

/* Parse a remote SDP body (at most 64 KiB, need not be NUL-terminated).
 * The first m=audio RTP/AVP stream with a non-zero port is used; a dynamic
 * PT whose rtpmap is PCMU/8000 or PCMA/8000 is listed as 0 or 8. c=0.0.0.0
 * (old-style hold) turns sendrecv into sendonly and recvonly into inactive.
 * 0, or EINVAL (not SDP / malformed) or ENOENT (no usable audio stream:
 * none, port 0, or only RTP/SAVP and other profiles). */
int sdp_parse(const char *body, size_t len, struct sdp_media *out);

/* What we choose from an offer: one codec, and telephone-event if both
 * sides have it. */
struct sdp_choice {
	int pt;                 /* SDP_PT_PCMU or SDP_PT_PCMA */
	int te_pt;              /* the offer's telephone-event PT, or -1 */
	enum sdp_dir dir;       /* our direction, the answer to the offer's */
	int rtcp_mux;           /* the offer has a=rtcp-mux: we accept it */
};
/* Choose from `offer` by our preference `codecs` ("pcmu", "pcma").
 * 0, or ENOENT when there is no common codec (the caller answers 488). */
int sdp_negotiate(const struct sdp_media *offer, const struct cfg_strlist *codecs,
                  struct sdp_choice *out);

/* Our side of a description. */
struct sdp_local {
	const char *ip;         /* c= and o= address */
	unsigned int port;
	unsigned long long sess_id, sess_version;
	int pt[SDP_MAX_PT];     /* in preference order */
	size_t n_pt;
	int te_pt;              /* -1 for none */
	enum sdp_dir dir;
	int rtcp_mux;           /* write a=rtcp-mux (RFC 5761) */
};
/* Build an offer (every codec of `codecs`, telephone-event 101) into l.
 * This and sdp_local_answer set only pt, n_pt, te_pt and dir: ip, port and
 * the session id/version are the caller's. An empty codec list means
 * "pcmu, pcma". */
void sdp_local_offer(struct sdp_local *l, const struct cfg_strlist *codecs);
/* Build an answer for a choice into l. */
void sdp_local_answer(struct sdp_local *l, const struct sdp_choice *c);
/* Write l as SDP text. Returns the length, or -1 if buf is too small. */
int sdp_write(const struct sdp_local *l, char *buf, size_t len);

/* Codec name <-> static payload type ("pcmu" 0, "pcma" 8); -1 / NULL. */
int sdp_codec_pt(const char *name);
const char *sdp_pt_name(int pt);

#endif
