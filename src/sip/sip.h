/* The SIP user agent: UDP and TCP transports on libevent, libosip2 parsing
 * and transactions (its timers driven from one libevent timer), INVITE
 * dialogs. The call layer sees a dialog as a `sip_leg`.
 *
 * Policy that belongs to SIP is done here, before the call layer sees a
 * request: malformed messages get 400 (or are dropped), an INVITE from an
 * address outside [sip] trusted is challenged with digest authentication
 * against the [user] entries (or refused with 403 when there are none). */
#ifndef PB_SIP_SIP_H
#define PB_SIP_SIP_H

#include <stddef.h>

#include "cfg/cfg.h"
#include "core/addr.h"

struct event_base;
struct evbuffer;
struct sip_leg;

/* A new INVITE dialog from the network, handed to the call layer. The call
 * layer attaches (sip_leg_attach) and answers with sip_leg_respond, or
 * rejects at once with sip_leg_hangup. All strings live as long as the leg. */
struct sip_invite {
	struct sip_leg *leg;
	const char *call_id;
	const char *called;         /* user part of the Request-URI */
	const char *calling;        /* user part of From */
	const char *calling_name;   /* display name of From, or NULL */
	const char *asserted;       /* user of P-Asserted-Identity (trusted source), or NULL */
	const char *diversion;      /* user of the first Diversion, or NULL */
	int privacy_id;             /* Privacy: id/header/user (RFC 3323) */
	const char *auth_user;      /* [user] name when authenticated, or NULL */
	const char *trunk;          /* [trunk] name: from its match networks or authenticated as it */
	int trusted;                /* source in [sip] trusted */
	struct addr source;         /* where the request came from */
	const char *sdp;            /* body, or NULL */
	size_t sdp_len;
};
typedef void (*sip_invite_cb)(void *arg, const struct sip_invite *inv);

struct sip_leg_cbs {
	/* UAC: a provisional response (180, 183); sdp when it carries one. */
	void (*progress)(void *owner, int status, const char *sdp, size_t sdp_len);
	/* UAC: 2xx; the stack has sent the ACK. */
	void (*answered)(void *owner, const char *sdp, size_t sdp_len);
	/* UAS: the ACK for our 2xx arrived. */
	void (*confirmed)(void *owner);
	/* The dialog ended from the network side or failed: BYE or CANCEL
	 * received (status 0), a final error response to our INVITE (its
	 * status), or a transaction timeout (408). q850 is the cause of a
	 * Reason header, or 0. After this the leg belongs to the stack; the
	 * owner must drop its pointer. */
	void (*ended)(void *owner, int status, int q850);
	/* A re-INVITE or UPDATE carrying an SDP offer from the peer (hold,
	 * resume, a codec or address change). The owner writes its answer,
	 * NUL-terminated, into answer and returns 0; or returns a SIP status
	 * (488) to refuse it, and the session stays as it was. With sdp NULL
	 * (a re-INVITE without an offer) the owner writes its description as
	 * an offer; the peer's answer comes in the ACK as a second call with
	 * answer NULL. NULL: such requests get 488. */
	int (*reoffer)(void *owner, const char *sdp, size_t sdp_len, char *answer,
	               size_t answer_len);
	/* A DTMF digit in a SIP INFO (application/dtmf-relay), its duration
	 * in ms. 0 (200 OK), or ENOTSUP when DTMF by INFO is not enabled for
	 * the call (415). NULL: 415. */
	int (*dtmf)(void *owner, char digit, unsigned int duration_ms);
};

int sip_init(struct event_base *base, const struct cfg *cfg, sip_invite_cb cb, void *arg);
/* Apply a new config generation (trusted list, users, user agent; the
 * listeners are kept as they are when unchanged, rebound when changed). */
int sip_apply(const struct cfg *cfg);
/* While not accepting (draining), new INVITEs get 503 and OPTIONS 503. */
void sip_set_accepting(int accepting);
void sip_shutdown(void);
/* Number of legs alive in the stack (for drain and tests). */
size_t sip_leg_count(void);

/* Counters of what the stack received and refused (for logs and tests). */
struct sip_stats {
	unsigned long rx_msgs, tx_msgs;
	unsigned long malformed;        /* not parseable: logged, dropped */
	unsigned long bad_requests;     /* missing mandatory headers: 400 or dropped */
	unsigned long auth_failures;    /* wrong user or password: 403 */
	unsigned long tcp_violations;   /* stream framing limits: connection closed */
};
void sip_get_stats(struct sip_stats *st);
/* The bound address of the index-th UDP (tcp == 0), TCP (1) or TLS (2)
 * listener, with a configured port 0 resolved. 0 or ENOENT. */
int sip_get_listen_addr(int tcp, size_t index, struct addr *out);

void sip_leg_attach(struct sip_leg *leg, const struct sip_leg_cbs *cbs, void *owner);
const char *sip_leg_call_id(const struct sip_leg *leg);
/* The address of the SIP signalling peer (source of the INVITE, or the
 * address we sent ours to). */
const struct addr *sip_leg_peer(const struct sip_leg *leg);
/* UAS: a Retry-After (seconds) for the error response still to be sent
 * (503 over a limit). */
void sip_leg_set_retry_after(struct sip_leg *leg, unsigned int seconds);

/* UAS: send a response to the INVITE: 1xx (with sdp for 183), 2xx (with
 * sdp; retransmitted until ACK), or an error; an error ends the leg.
 * q850, when non-zero, goes into a Reason header. */
int sip_leg_respond(struct sip_leg *leg, int status, const char *sdp, int q850);

/* UAC: send an INVITE to `uri` (e.g. "sip:201@127.0.0.1:5070") with
 * From user `calling`. 0 or an errno code. */
int sip_leg_invite(const char *uri, const char *calling, const char *calling_name,
                   const char *sdp, const struct sip_leg_cbs *cbs, void *owner,
                   struct sip_leg **out);

/* UAC: the same with the caller's identity from the PSTN: From carries
 * calling and calling_name, or "Anonymous" <sip:anonymous@...> when
 * privacy is set; P-Asserted-Identity always carries the number (RFC
 * 3325), Privacy: id is added when privacy is set (RFC 3323), and a
 * Diversion header (RFC 5806) when diversion is a number. */
struct sip_identity {
	const char *calling;
	const char *calling_name;       /* or NULL */
	int privacy;                    /* presentation restricted */
	const char *diversion;          /* redirecting number, or NULL */
};
int sip_leg_invite_identity(const char *uri, const struct sip_identity *id, const char *sdp,
                            const struct sip_leg_cbs *cbs, void *owner, struct sip_leg **out);

/* UAC: ring every registered contact of [user] `user` at once (each is
 * sent its INVITE the way it registered: to the source address and over
 * the connection of its REGISTER, Request-URI its Contact). The caller
 * sees one leg: the first 2xx becomes its dialog, the other contacts get
 * CANCEL (a late 2xx is ACKed and ended with BYE); progress is reported
 * once; when every contact has failed, `ended` carries the best final
 * status. ENOENT when the user has no live registration. */
int sip_leg_invite_user(const char *user, const char *calling, const char *calling_name,
                        const char *sdp, const struct sip_leg_cbs *cbs, void *owner,
                        struct sip_leg **out);
/* The address family (AF_INET, AF_INET6) of the registered contact of
 * [user] `user` refreshed last, or AF_UNSPEC when it has none. */
int sip_user_contact_family(const char *user);

/* UAC: a call to [trunk] t: the called number (and the calling number)
 * in the trunk's out format, Request-URI sip:NUMBER@host:port, From the
 * trunk's from_user/from_domain when set; a 401 or 407 is answered once
 * with the trunk's credentials (same Call-ID, CSeq + 1). */
int sip_leg_invite_trunk(const struct cfg_trunk *t, const char *called,
                         const struct sip_identity *id, const char *sdp,
                         const struct sip_leg_cbs *cbs, void *owner, struct sip_leg **out);
/* One line per [trunk] with its registration state, for the control
 * interface. */
void sip_trunks_write(struct evbuffer *out);

/* One line per live registration ("user=... contact=... via=udp
 * source=ip:port expires=N"), for the control interface. */
struct evbuffer;
void sip_registrations_write(struct evbuffer *out);

/* End the dialog from our side, whatever its state: UAS before answer -> a
 * final `status` response; UAC before answer -> CANCEL; established ->
 * BYE. q850 goes into a Reason header. No callback is called after this;
 * the stack frees the leg when its transactions are done. */
void sip_leg_hangup(struct sip_leg *leg, int status, int q850);

#endif
