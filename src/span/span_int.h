/* Internals shared by the files of src/span/: the span and span_call
 * objects, the driver table, the PRI glue and the sim driver's hooks.
 * Nothing outside src/span/ (except its unit test) includes this. */
#ifndef PB_SPAN_SPAN_INT_H
#define PB_SPAN_SPAN_INT_H

#include <sys/queue.h>

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <libpri.h>

#include "span/span.h"

#define SPAN_MAX_CHANS    31
#define SPAN_NUMBER_LEN   32
#define SPAN_NAME_LEN     64      /* calling name, as in Q.931 Display / Q.SIG */
#define SPAN_PREFIX_LEN   16      /* national / international prefix */
#define SPAN_TICK_MS      20
#define SPAN_SILENCE_ALAW 0xD5
#define SPAN_SILENCE_ULAW 0xFF
/* How long after the span comes up the channels that lost their calls
 * are restarted: layer 2 settles first (libpri's network side, for one,
 * re-establishes the link with its own SABME one T200 after the first,
 * which loses what was sent in between). */
#define SPAN_RESTART_DELAY_MS 2000
/* How long a clearing call may wait for libpri to finish before the
 * channel is taken back anyway (T305 + 2 * T308 with some margin). */
#define SPAN_RELEASE_GUARD_SEC 45

/* State of one call on one B-channel, as this side sees it. */
enum span_call_state {
	SPAN_CALL_NULL = 0,     /* allocated, nothing exchanged yet */
	SPAN_CALL_DIALING,      /* outbound: SETUP sent */
	SPAN_CALL_OFFERED,      /* inbound: SETUP received, offered to the owner */
	SPAN_CALL_PROCEEDING,   /* CALL PROCEEDING sent or received */
	SPAN_CALL_ALERTING,     /* ALERTING sent or received */
	SPAN_CALL_CONNECTING,   /* inbound: CONNECT sent, waiting for CONNECT ACK */
	SPAN_CALL_CONNECTED,
	SPAN_CALL_RELEASING,    /* clearing, waiting for the D-channel exchange */
	SPAN_CALL_RELEASED,     /* done; freed by the reaper */
	SPAN_CALL_OVERLAP,      /* inbound: SETUP ACKNOWLEDGE sent, collecting digits */
};
const char *span_call_state_name(enum span_call_state st);

struct span_call {
	struct span *span;              /* holds a reference */
	int channel;                    /* B-channel number */
	int pri_channel;                /* libpri's encoded channel */
	q931_call *pcall;               /* libpri's call; NULL once libpri is done */
	enum span_call_state state;
	int outbound;
	int inband;                     /* in-band information available */
	int peer_disconnected;          /* DISCONNECT received, RELEASE sent */
	const struct span_call_cbs *cbs;   /* NULL once the owner is gone */
	void *owner;
	int tx_ready;
	uint8_t tx[SPAN_FRAME_BYTES];   /* last frame written by the owner */
	char called[SPAN_NUMBER_LEN];
	char calling[SPAN_NUMBER_LEN];
	char calling_name[SPAN_NAME_LEN];
	int calling_restricted;         /* presentation restricted */
	int calling_ton;                /* SPAN_TON_* */
	char redirecting[SPAN_NUMBER_LEN];
	char logid[64];
	struct event *ev_guard;         /* release guard (owned) */
	struct event *ev_digits;        /* inbound overlap: inter-digit timer (owned) */
	int overlap_tx;                 /* outbound: SETUP ACKNOWLEDGE received, digits
					 * go in INFORMATION until the far end proceeds */
	TAILQ_ENTRY(span_call) dead_entry;
};

struct span_chan {
	int num;                        /* B-channel number (E1: timeslot) */
	struct span_call *call;         /* the call on it, NULL when free */
	int restarting;                 /* RESTART sent, no ACK yet: not usable */
	int need_restart;               /* lost its call with the span: not usable */
	int out_of_service;             /* the far end's SERVICE took it out: not usable */
	unsigned int restart_sent;      /* RESTARTs sent since the last acknowledged one */
};

struct span;

/* A D-channel that is not a datagram socket (DAHDI): one HDLC frame per
 * call, the 2 FCS bytes included both ways, as libpri expects them. read
 * returns the frame's length, 0 when nothing is waiting, or -1 when it
 * consumed something else (an event) and should be called again. write
 * returns the length written or -1. */
struct span_pri_io {
	ssize_t (*read)(void *arg, void *buf, size_t len);
	ssize_t (*write)(void *arg, const void *buf, size_t len);
	void *arg;
};

/* A physical layer. The driver creates the D-channel descriptor the
 * daemon's libpri runs on, and paces the B-channel audio. */
struct span_driver {
	const char *name;
	/* Start: set *dfd to the daemon side of the D-channel. */
	int (*start)(struct span *s, int *dfd);
	/* Called once the daemon's libpri instance exists. */
	void (*started)(struct span *s);
	void (*stop)(struct span *s);
	/* Reloadable keys changed (span->phones already updated). */
	void (*reload)(struct span *s);
	/* The D-channel's I/O when it is not a datagram socket (or NULL). */
	const struct span_pri_io *(*pri_io)(struct span *s);
};


struct span_pri;

struct span {
	char *name;
	int refs;                       /* registry + one per call */
	int draining;
	int blocked;                    /* no new calls: [span] blocked or blocked_ctl */
	int blocked_cfg;                /* [span] blocked = yes */
	int blocked_ctl;                /* pstnbridgectl span block */
	unsigned long service_acks;     /* SERVICE ACKNOWLEDGE received (tests, logs) */
	/* The driver's audio clock, where the daemon keeps one (sim; a DAHDI
	 * card paces its own): ticks run, and how late against their time. */
	int has_clock;
	unsigned long clock_ticks;
	unsigned long clock_late_1ms;   /* ticks run more than 1 ms late */
	unsigned long clock_late_5ms;   /* more than 5 ms */
	uint64_t clock_late_max_us;
	int up;                         /* dchan_up and not alarmed: takes calls */
	int dchan_up;                   /* libpri says the D-channel is up */
	int alarmed;                    /* the driver says layer 1 is in alarm */
	int nodetype;                   /* PRI_CPE or PRI_NETWORK (daemon's side) */
	enum cfg_span_driver driver;
	enum cfg_span_type type;
	enum cfg_law law;
	char *switchtype;               /* as configured, may be NULL */
	int pri_switch;                 /* PRI_SWITCH_* */
	struct cfg_sim_phones phones;   /* deep copy (owned) */
	struct cfg_dahdi dahdi;         /* driver = dahdi (a copy, no pointers) */
	struct span_chan chans[SPAN_MAX_CHANS];
	size_t nchans;
	enum cfg_ton ton;               /* outbound called number's type of number */
	char national_prefix[SPAN_PREFIX_LEN];
	char international_prefix[SPAN_PREFIX_LEN];
	enum cfg_hunt hunt;             /* B-channel hunting order */
	int channel_preferred;          /* SETUP's channel preferred, not exclusive */
	char tonezone[8];               /* call progress tones of its calls */
	int overlap;                    /* [span] overlap: overlap sending */
	unsigned int digit_timeout;     /* inbound overlap: seconds between digits */
	unsigned int restart_timeout;   /* T316, seconds */
	unsigned int restart_attempts;  /* RESTARTs per channel in all */
	int restart_on_up;              /* RESTART the idle channels on every span up */
	struct event *ev_t316;          /* RESTART ACKNOWLEDGE wait (owned) */
	size_t hunt_next;               /* roundrobin: index to try first */
	/* Our outbound calls that lost glare to the network's SETUP on the
	 * same channel: off their channel, kept until libpri lets them go. */
	struct span_call *glared[SPAN_MAX_CHANS];
	int dchan;                      /* D-channel timeslot, for logs */
	int dfd;                        /* D-channel descriptor (owned by driver) */
	struct span_pri *pri;           /* daemon's CPE libpri (owned) */
	struct event *ev_restart;       /* RESTART of lost channels (owned) */
	const struct span_driver *drv;
	void *drv_state;                /* owned by the driver */
	struct event_base *base;
	TAILQ_ENTRY(span) entry;
};

/* span.c */
struct event_base *span_base(void);
void span_ref(struct span *s);
void span_unref(struct span *s);
/* libpri's D-channel state, and the driver's alarm state: the span takes
 * calls when the D-channel is up and there is no alarm. Going down ends
 * its calls with cause 38; coming back sends RESTART for their channels. */
void span_set_up(struct span *s, int up);
void span_set_alarm(struct span *s, int alarmed);
struct span_chan *span_chan_find(struct span *s, int channel);
/* A free B-channel in the span's hunting order (lowest, highest, or the
 * next after the last one picked), or NULL. */
struct span_chan *span_chan_pick(struct span *s);
/* Pure: the index of the channel to take among n (free[i] != 0 when
 * usable) in hunting order, *next updated for roundrobin; -1 if none. */
int span_hunt_index(enum cfg_hunt hunt, const int *free, size_t n, size_t *next);
struct span_call *span_call_alloc(struct span *s, struct span_chan *ch, int outbound);
void span_call_set_state(struct span_call *sc, enum span_call_state st);
/* The call is over: take it off its channel and free it from the loop. */
void span_call_finish(struct span_call *sc);
/* Tell the owner the call ended (once) and forget the owner. */
void span_call_notify_hangup(struct span_call *sc, int cause);
/* Audio for the drivers' tick. */
int span_call_audio_flows(const struct span_call *sc);
void span_call_take_tx(struct span_call *sc, uint8_t *frame);
void span_call_deliver(struct span_call *sc, const uint8_t *frame);
/* The driver's clock ran a tick of s late_us after its time. */
void span_clock_tick(struct span *s, uint64_t late_us);
/* A driver's tick over its channels asks, a few channels ahead, for what
 * the next frames will touch (a hint, never a fault): stage 0, the call's
 * own memory; stage k > 0, the owner's cbs->prefetch stage k - 1. Each
 * stage comes a channel later than the one before. */
void span_call_prefetch(const struct span_call *sc, unsigned int stage);
uint8_t span_silence(enum cfg_law law);
/* Copy a number, truncated to fit (NUL-terminated). */
void span_copy_number(char *dst, size_t len, const char *src);
/* Tests: how many spans are live and draining (not yet freed). */
void span_registry_counts(size_t *live, size_t *draining);
void span_incoming(struct span *s, struct span_call *sc);
int span_phones_copy(struct cfg_sim_phones *dst, const struct cfg_sim_phones *src);
void span_phones_release(struct cfg_sim_phones *p);

/* span_pri.c: one libpri instance over one D-channel descriptor, with its
 * read event and its single timer. Used by the daemon's CPE side of every
 * span and by the sim far end. */
typedef void (*span_pri_event_cb)(void *arg, pri_event *e);
struct span_pri *span_pri_new(struct event_base *base, const char *name, int fd,
                              int nodetype, int switchtype, span_pri_event_cb cb, void *arg);
/* Same over a D-channel read and written through io (copied); fd is the
 * descriptor the loop polls for reading. */
struct span_pri *span_pri_new_io(struct event_base *base, const char *name, int fd,
                                 const struct span_pri_io *io, int nodetype, int switchtype,
                                 span_pri_event_cb cb, void *arg);
void span_pri_free(struct span_pri *p);
struct pri *span_pri_ctrl(struct span_pri *p);
/* Re-arm the timer after calls into libpri made outside its callbacks. */
void span_pri_rearm(struct span_pri *p);
int span_pri_switch_parse(const char *name, enum cfg_span_type type);
/* Daemon (CPE) side. */
int span_pri_start(struct span *s);
void span_pri_on_event(void *arg, pri_event *e);
int span_pri_setup(struct span_call *sc);
/* Pure: an outbound number as it goes into the SETUP: a national or
 * international prefix is stripped and sets the type of number, else the
 * span's ton applies. Returns the libpri numbering plan (TON and NPI). */
int span_pri_number_out(const char *number, enum cfg_ton ton, const char *natpfx,
                        const char *intpfx, char *out, size_t outlen);
/* Pure: an inbound number with the prefix of its type of number added. */
void span_pri_number_in(const char *number, int plan, const char *natpfx,
                        const char *intpfx, char *out, size_t outlen);
/* Pure: the presentation indicator we send, and whether one received
 * restricts presentation. */
int span_pri_pres(int restricted);
int span_pri_pres_restricted(int pres);
void span_pri_proceeding(struct span_call *sc);
void span_pri_alerting(struct span_call *sc);
void span_pri_answer(struct span_call *sc);
void span_pri_hangup(struct span_call *sc, int cause);
void span_pri_drop(struct span_call *sc);
/* Where the switch type has SERVICE messages (national, 4ess, 5ess): tell
 * the far end every B-channel's state (out of service while the span is
 * blocked, in service otherwise). Does nothing on other switch types or
 * while the D-channel is down. */
void span_pri_service_sync(struct span *s);
int span_pri_has_service(int pri_switch);
/* Send RESTART for the channels that lost calls while the link was down
 * (or that `span restart` marked), and wait T316 for the acknowledgements. */
void span_pri_restart_lost(struct span *s);
/* Pure: T316 expired for a channel after `sent` RESTARTs. */
enum { SPAN_T316_RESEND = 1, SPAN_T316_GIVE_UP };
int span_pri_t316_action(unsigned int sent, unsigned int attempts);
/* Pure: does pri_hangup() in this situation end libpri's call at once
 * (RELEASE COMPLETE sent, or nothing left to exchange)? */
int span_pri_hangup_final(enum span_call_state st, int peer_released,
                          int peer_disconnected, int cause);
/* Pure: a SETUP from the far end names the channel of our own outbound
 * call: does ours yield? The user side yields to the network (Q.931
 * 5.7.2); Q.SIG's symmetric links follow Q.931 Annex D: one end is
 * designated the network (pri_net) and wins, the other (pri_cpe) yields.
 * Only a call still waiting for its first answer can yield. */
int span_pri_glare_yield(int nodetype, enum span_call_state ours);

/* Pure: inbound overlap dialing. Append the digits of one INFORMATION
 * (or the SETUP) to number (size len); a '#' ends the number and is not
 * kept. Returns 1 when the number is complete: Sending Complete, '#',
 * want > 0 digits collected, or no room left; 0 when more may come. */
int span_overlap_add(char *number, size_t len, const char *digits, int sending_complete,
                     unsigned int want);
/* The call layer's length of complete called numbers (0: unknown). */
unsigned int span_overlap_want(const char *number);
/* Overlap: the far end proceeded with a call collecting digits. */
void span_pri_overlap_done(struct span_call *sc);

/* span_sim.c */
extern const struct span_driver span_sim_driver;
/* span_dahdi.c */
extern const struct span_driver span_dahdi_driver;
/* Tests: what the far end's last received SETUP carried. */
struct span_sim_setup {
	unsigned int count;             /* SETUPs received so far */
	char called[SPAN_NUMBER_LEN];
	char calling[SPAN_NUMBER_LEN];
	char calling_name[SPAN_NAME_LEN];
	char redirecting[SPAN_NUMBER_LEN];
	int calling_restricted;
	int calling_ton, called_ton;    /* SPAN_TON_* */
};
int span_sim_last_setup(const char *name, struct span_sim_setup *out);
/* Pure: the sim's CALLING argument, NUMBER[;name=NAME][;restricted]
 * [;redir=NUMBER]. 0 or EINVAL. */
int span_sim_calling_parse(const char *arg, char *number, size_t nlen, char *cname,
                           size_t clen, int *restricted, char *redir, size_t rlen);
/* Pure: is this D-channel frame (HDLC, no FCS) a Q.931 RESTART ACK? */
int span_sim_is_restart_ack(const uint8_t *frame, size_t len);
/* The phase of a sim span's 20 ms clock in us after the common grid, or
 * -1; the order in which new spans take the phases. */
int span_sim_phase_us(const struct span *s);
unsigned int span_sim_phase_order(unsigned int k);
/* Tests: send raw bytes as one D-channel frame from the far end. */
int span_sim_inject(const char *name, const void *buf, size_t len);

/* The sim phone kinds, for the far end's number lookup. */
enum span_sim_phone {
	SPAN_SIM_UNALLOCATED = 0,
	SPAN_SIM_ECHO,
	SPAN_SIM_TONE,
	SPAN_SIM_BUSY,
	SPAN_SIM_NOANSWER,
	SPAN_SIM_RINGANSWER,
	SPAN_SIM_EARLY,
	SPAN_SIM_CONGESTION,
};
enum span_sim_phone span_sim_phone_lookup(const struct cfg_sim_phones *p, const char *called);

/* A tone generator: up to two frequencies, optional on/off cadence,
 * 8 kHz, G.711 out. Phase continuous across frames. */
struct span_tone {
	double phase[2];
	double step[2];
	int nfreq;
	double amp;
	unsigned int on_ms, off_ms;     /* 0, 0: continuous */
	unsigned int pos_ms;            /* position within the cadence */
};
void span_tone_init(struct span_tone *t, unsigned int f1, unsigned int f2,
                    unsigned int on_ms, unsigned int off_ms);
void span_tone_frame(struct span_tone *t, enum cfg_law law, uint8_t *frame);

#endif
