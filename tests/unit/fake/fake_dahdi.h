/* A fake DAHDI device for the dahdi driver's unit tests.
 *
 * Spans and channels live in memory. Opening /dev/dahdi/channel gives one
 * end of a SOCK_SEQPACKET socketpair (one datagram: one HDLC frame or one
 * audio block), the other end is the test's ("peer"): what the driver
 * writes, the test reads there, and the other way round. The ioctls the
 * driver uses act on the channel as DAHDI's do; events queue per channel,
 * and while one is pending read and write fail with ELAST, as in DAHDI.
 * Install with dahdi_ops_set(&fake_dahdi_ops). */
#ifndef PB_TESTS_FAKE_DAHDI_H
#define PB_TESTS_FAKE_DAHDI_H

#include <stddef.h>

#include "span/dahdi_ops.h"

#define FAKE_DAHDI_MAX_CHANS 128
#define FAKE_DAHDI_MAX_EVENTS 64

struct fake_dahdi_chan {
	int channo;
	int spanno;
	int chanpos;
	int sigtype;
	int open;                       /* bound to a descriptor */
	int fd;                         /* the driver's end */
	int peer;                       /* the test's end (kept after close) */
	int law;                        /* DAHDI_LAW_*, as set by DAHDI_SETLAW */
	int blocksize;
	int numbufs, bufsize;           /* DAHDI_SET_BUFINFO */
	int ec_taps;                    /* DAHDI_ECHOCANCEL_PARAMS tap_length */
	int ec_sets;                    /* how often it was set */
	int flushes;
	int events[FAKE_DAHDI_MAX_EVENTS];
	size_t nevents;
	unsigned long elast;            /* reads/writes refused with ELAST */
};

/* Forget everything (closing the test's ends). */
void fake_dahdi_reset(void);
/* A span of 24 (t1: D-channel 24) or 31 (e1: D-channel 16) channels
 * numbered from basechan; deflaw is the span's DAHDI_LAW_*; hwec: whether
 * it has an echo canceller. 0 or an errno code. */
int fake_dahdi_add_span(int spanno, int t1, int basechan, int deflaw, int hwec);
struct fake_dahdi_chan *fake_dahdi_chan(int channo);
/* The test's end of channel channo, -1 when it was never opened. */
int fake_dahdi_peer(int channo);
/* Queue an event on one channel. */
void fake_dahdi_event(int channo, int event);
/* Set a span's alarms as DAHDI does: ALARM (alarms != 0) or NOALARM
 * queued on every channel of the span when the alarms change. */
void fake_dahdi_set_alarms(int spanno, int alarms);
/* A frame from the line with a bad FCS: DAHDI drops it and queues
 * DAHDI_EVENT_BADFCS on the channel. */
void fake_dahdi_bad_fcs(int channo);
/* Descriptors the driver has open now. */
int fake_dahdi_open_count(void);

extern const struct dahdi_ops fake_dahdi_ops;

#endif
