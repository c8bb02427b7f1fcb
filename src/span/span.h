/* PSTN spans and the channel-driver interface.
 *
 * This is the only header the call layer includes from span/. A span is a
 * set of B-channels with a D-channel (libpri, CPE side in the daemon); its
 * physical layer is a driver chosen by name (`sim` now, `dahdi` later). A
 * `span_call` is one call on one B-channel; it is owned by the span and
 * lives until both sides have released it (see span_call_release).
 *
 * Audio: every 20 ms (the span's clock tick) the span hands each connected
 * call one 160-byte frame received from the B-channel, in the span's law,
 * through span_call_cbs.audio, and sends the last frame written with
 * span_call_write (silence when none was written this tick).
 */
#ifndef PB_SPAN_SPAN_H
#define PB_SPAN_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "cfg/cfg.h"

struct event_base;
struct span;
struct span_call;

#define SPAN_FRAME_BYTES 160   /* 20 ms of G.711 at 8 kHz */

/* Events from a span call to its owner (the call layer). Each is called
 * from the event loop; the owner may call span_call_* from inside them,
 * but must not free the span_call (call span_call_release instead). */
struct span_call_cbs {
	/* Outbound call: PROCEEDING arrived. */
	void (*proceeding)(void *owner);
	/* ALERTING (or PROGRESS) arrived; inband != 0 when the progress
	 * indicator says in-band information is available (early media). */
	void (*alerting)(void *owner, int inband);
	void (*progress)(void *owner, int inband);
	/* CONNECT (outbound) or CONNECT ACKNOWLEDGE (inbound) */
	void (*answered)(void *owner);
	/* The far end disconnected, or the call failed: Q.850 cause. After
	 * this the span_call is released by the span; the owner drops its
	 * pointer and must not use it again. */
	void (*hangup)(void *owner, int cause);
	/* One frame of B-channel audio, len == SPAN_FRAME_BYTES, span law. */
	void (*audio)(void *owner, const uint8_t *frame, size_t len);
	/* Outbound overlap sending: SETUP ACKNOWLEDGE arrived; digits given
	 * to span_call_digit now go out in INFORMATION. May be NULL. */
	void (*setup_ack)(void *owner);
	/* A hint that a frame of this call comes soon: stage 0 first (only
	 * owner's address may be used), each next stage a step later (what
	 * the stages before asked for may be read). Prefetch only; may be
	 * NULL. */
	void (*prefetch)(void *owner, unsigned int stage);
};

/* An inbound call (PSTN to Internet) was offered on a span. The handler
 * either takes it (span_call_attach, then span_call_proceeding/alerting/
 * answer or span_call_hangup) or rejects it with span_call_hangup. */
struct span_incoming {
	struct span *span;
	struct span_call *sc;
	const char *called;
	const char *calling;
	/* Added for ISDN identity: the calling name ("" when the switch
	 * type or the far end gave none), whether the far end restricted the
	 * presentation of the calling number (it is still given, for the
	 * network's use: P-Asserted-Identity with Privacy: id), the Q.931
	 * type of number of the calling number (SPAN_TON_*), and the
	 * redirecting number ("" when the call was not diverted). */
	const char *calling_name;
	int calling_restricted;
	int calling_ton;
	const char *redirecting;
};

/* Q.931 type of number (the values of the Called/Calling Party Number IE). */
enum span_ton {
	SPAN_TON_UNKNOWN = 0,
	SPAN_TON_INTERNATIONAL = 1,
	SPAN_TON_NATIONAL = 2,
	SPAN_TON_NETWORK = 3,
	SPAN_TON_SUBSCRIBER = 4,
	SPAN_TON_ABBREVIATED = 6,
};

/* Outbound: who is calling, beyond the number (see span_call_new_party). */
struct span_party {
	const char *calling_name;       /* NULL or "": none sent */
	int calling_restricted;         /* presentation restricted */
	const char *redirecting;        /* NULL or "": none sent */
};
typedef void (*span_incoming_cb)(void *arg, const struct span_incoming *in);

/* Bring up all spans of a config generation; on reload, apply a new one:
 * unchanged spans keep running, reloadable keys are applied in place,
 * spans whose non-reloadable keys changed or that are gone drain (no new
 * calls; freed when their last call ends), new spans start. */
int span_registry_init(struct event_base *base, span_incoming_cb cb, void *arg);
int span_registry_apply(const struct cfg *cfg);
void span_registry_shutdown(void);   /* stop all spans, free them */
struct span *span_find(const char *name);   /* NULL if not found or draining */
size_t span_active_calls(void);
/* For the control interface: one line per span,
 * "span NAME up|down|draining calls=N". */
struct evbuffer;
void span_status_write(struct evbuffer *out);

/* pstnbridgectl span block/unblock: a blocked span takes no new calls
 * either way (outbound ones go to the next span of the route), its calls
 * go on; where the switch type has SERVICE messages the far end is told.
 * Blocked by the control interface or by [span] blocked; unblocking by
 * the control interface leaves a span blocked by the config blocked.
 * 0, or ENOENT when no live span has that name. */
int span_block(const char *name, int blocked);
/* One line per span with its channels, for `pstnbridgectl spans`:
 * "span NAME up|down|draining blocked=no|config|ctl calls=N free=N
 * restarting=N out_of_service=N switchtype=S clock_ticks=N
 * clock_late_1ms=N clock_late_5ms=N clock_late_max_ms=F" (the clock
 * fields "-" where the card paces the audio). */
void span_list_write(struct evbuffer *out);
/* pstnbridgectl span restart: RESTART for every idle B-channel of the
 * span (maintenance); the channels are out of the hunt until their
 * RESTART ACKNOWLEDGE (T316 resends, restart_attempts in all). 0,
 * ENOENT, or ENOTCONN when the span is down. */
int span_restart(const char *name);

const char *span_name(const struct span *s);
enum cfg_law span_law(const struct span *s);
int span_is_up(const struct span *s);   /* D-channel up, accepting calls */
/* Inbound overlap dialing: how many digits make a complete called number
 * starting with `number` (0: unknown), asked while digits are collected.
 * NULL: never known. */
typedef unsigned int (*span_number_len_cb)(const char *number);
void span_set_number_len_cb(span_number_len_cb cb);
/* Outbound overlap sending: send digit in an INFORMATION message. 0, or
 * EAGAIN when the call is not (any more) in overlap sending: the caller
 * plays the digit in-band instead. */
int span_call_digit(struct span_call *sc, char digit);
/* The tone zone of the span's calls (media/tone.h), e.g. "us". */
const char *span_tonezone(const struct span *s);

/* Place an outbound call (SETUP) on a free B-channel. 0 or an errno code;
 * *cause is set to a Q.850 cause when no call could be placed (34 when
 * all channels are busy, 38 when the span is down). */
int span_call_new(struct span *s, const char *called, const char *calling,
                  const struct span_call_cbs *cbs, void *owner,
                  struct span_call **out, int *cause);
/* The same, with the calling name, presentation and redirecting number
 * of party (NULL: none, presentation allowed). */
int span_call_new_party(struct span *s, const char *called, const char *calling,
                        const struct span_party *party, const struct span_call_cbs *cbs,
                        void *owner, struct span_call **out, int *cause);
/* Inbound: attach the owner's callbacks to an offered call. */
void span_call_attach(struct span_call *sc, const struct span_call_cbs *cbs, void *owner);
void span_call_proceeding(struct span_call *sc);
void span_call_alerting(struct span_call *sc);
void span_call_answer(struct span_call *sc);
/* Hang up with a Q.850 cause (DISCONNECT/RELEASE as the state requires).
 * The owner's callbacks are not called any more for this call; the span
 * frees it when the D-channel exchange is complete. */
void span_call_hangup(struct span_call *sc, int cause);
/* Queue one frame (SPAN_FRAME_BYTES, span law) for the next tick. */
void span_call_write(struct span_call *sc, const uint8_t *frame, size_t len);
int span_call_channel(const struct span_call *sc);   /* B-channel number */
/* The owner's call id: the span's log lines about this call carry it. */
void span_call_set_callid(struct span_call *sc, const char *callid);
struct span *span_call_span(const struct span_call *sc);

/* Sim span control (tests, demos): the far end places a call to the
 * daemon on span `name`. A called number with a '/' is dialled in
 * overlap: the digits before it go in the SETUP without Sending Complete,
 * the ones after it in one INFORMATION each (100 ms apart) once the
 * daemon has sent SETUP ACKNOWLEDGE. Its simulated telephone answers an answered call
 * with a tone of tone_hz (or echoes when tone_hz is 0) and hangs up after
 * hold_seconds (0 = never). calling is NUMBER[;name=NAME][;restricted]
 * [;redir=NUMBER]: the calling name, presentation restricted, and a
 * redirecting number in the SETUP. 0 or an errno code. */
int span_sim_originate(const char *name, const char *called, const char *calling,
                       unsigned int tone_hz, unsigned int hold_seconds);
/* Sim: the far end hangs up every call on span `name` whose called or
 * calling number is `number` (cause 16). Returns the count. */
int span_sim_hangup(const char *name, const char *number);
/* Sim test knobs. span_sim_dchannel: with up 0 no D-channel frame passes
 * either way (layer 2 goes away by its own timers), 1 restores the link.
 * span_sim_alarm: kind "red", "yellow" or "blue" reports a layer 1 alarm
 * the way the dahdi driver does, "clear" clears it. span_sim_glare: the
 * daemon's next outbound SETUP is held until the far end has sent its own
 * SETUP to called from calling on the same channel (exclusive), so the
 * two cross, its phone hanging up after hold_seconds (0: never); called
 * NULL disarms. 0 or an errno code. */
int span_sim_dchannel(const char *name, int up);
int span_sim_alarm(const char *name, const char *kind);
int span_sim_glare(const char *name, const char *called, const char *calling,
                   unsigned int hold_seconds);

#endif
