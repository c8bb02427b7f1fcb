/* The call/bridge state machine: couples one PSTN channel (span_call) with
 * one Internet leg (sip_leg + rtp_leg). It knows only the interfaces of
 * span/, sip/, rtp/ and sdp/, never their internals. */
#ifndef PB_CALL_CALL_H
#define PB_CALL_CALL_H

#include <stddef.h>

#include "cfg/cfg.h"

struct event_base;
struct evbuffer;
struct sip_invite;
struct span_incoming;

enum call_state {
	CALL_ROUTING = 0,   /* created, looking for the other side */
	CALL_PROCEEDING,    /* the other side has been asked */
	CALL_RINGING,       /* alerting, no media yet */
	CALL_EARLY,         /* alerting/progress with early media */
	CALL_UP,            /* answered, media both ways */
	CALL_RELEASING,     /* hung up, waiting for both legs to go */
};
const char *call_state_name(enum call_state s);

/* The call layer takes the current config generation (a reference). */
int call_init(struct event_base *base, struct cfg *cfg);
/* A new config generation for new calls; running calls keep theirs. */
void call_set_cfg(struct cfg *cfg);
/* While not accepting, new calls from either side are refused. */
void call_set_accepting(int accepting);
int call_accepting(void);
/* Hang up every call (BYE / DISCONNECT, cause 16). */
void call_hangup_all(void);
size_t call_count(void);
void call_shutdown(void);

/* Entry points the daemon wires to the SIP stack and the span registry. */
void call_on_sip_invite(void *arg, const struct sip_invite *inv);
void call_on_span_incoming(void *arg, const struct span_incoming *in);

/* One line per call, for the control interface. */
void call_list_write(struct evbuffer *out);

#endif
