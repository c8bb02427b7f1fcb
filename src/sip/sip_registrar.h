/* The registrar: where the [user] entries are reached (internal to the SIP
 * module).
 *
 * The store (struct sip_reg) holds the bindings of users to contacts with
 * the route the REGISTER came by (transport, connection, source address),
 * so that a user behind NAT is called the way it registered. Its decisions
 * take `now` (wall-clock seconds, since bindings survive a restart); when a
 * database is attached every change is written through to SQLite.
 *
 * The glue (sip_registrar_*) owns the one store of the daemon, answers
 * REGISTER requests after sip.c has authenticated them, sends the NAT
 * keep-alives and expires bindings from a libevent timer.
 *
 * The fork (sip_fork.c) rings all contacts of a user at once for
 * sip_leg_invite_user(). */
#ifndef PB_SIP_SIP_REGISTRAR_H
#define PB_SIP_SIP_REGISTRAR_H

#include <sys/queue.h>

#include <stdio.h>
#include <time.h>

#include <osipparser2/osip_message.h>

#include "cfg/cfg.h"
#include "sip/sip.h"
#include "sip/sip_int.h"

#define SIP_REG_URI_MAX 512
#define SIP_REG_DB_NAME "registrations.db"

struct sip_reg;

/* One binding, as the store keeps it. */
struct sip_reg_contact {
	TAILQ_ENTRY(sip_reg_contact) entry;
	char *user;                     /* [user] name; owned */
	char *uri;                      /* Contact URI as registered; owned */
	char *call_id;                  /* of the REGISTER that made it; owned */
	unsigned int cseq;
	struct sip_route route;         /* how the REGISTER came (ep 0 after a restart) */
	time_t expires;                 /* absolute, wall clock */
	time_t updated;                 /* when it was last refreshed */
	time_t next_keepalive;          /* UDP: when the next keep-alive is due */
};

/* What one Contact of a REGISTER asks. */
struct sip_reg_binding {
	const char *user;
	const char *uri;
	const char *call_id;
	unsigned int cseq;
	const struct sip_route *route;
	unsigned int expires;           /* seconds, already within the limits; 0 removes */
};

struct sip_reg *sip_reg_new(void);
void sip_reg_free(struct sip_reg *r);
/* Add, refresh or (expires 0) remove one binding. A new binding beyond
 * max_contacts replaces the user's least recently refreshed one. EAGAIN:
 * the same Call-ID with a CSeq not above the stored one (out of order). */
int sip_reg_bind(struct sip_reg *r, const struct sip_reg_binding *b, unsigned int max_contacts,
                 time_t now);
/* Remove every binding of user ("Contact: *"); the number removed. */
size_t sip_reg_remove_user(struct sip_reg *r, const char *user);
/* Remove the bindings whose time is up; the number removed. */
size_t sip_reg_expire(struct sip_reg *r, time_t now);
/* The live bindings of user, most recently refreshed first; the number
 * found (at most max are put in out). */
size_t sip_reg_lookup(struct sip_reg *r, const char *user, time_t now,
                      const struct sip_reg_contact **out, size_t max);
/* The UDP bindings whose keep-alive is due (their next one is scheduled
 * `interval` later); interval 0 means none. */
size_t sip_reg_keepalives_due(struct sip_reg *r, time_t now, unsigned int interval,
                              const struct sip_reg_contact **out, size_t max);
/* All bindings, for listing. */
const struct sip_reg_contact *sip_reg_first(const struct sip_reg *r);
const struct sip_reg_contact *sip_reg_next(const struct sip_reg_contact *c);

/* Persistence: open (or create) DIR/registrations.db and write every
 * later change through. 0 or an errno code (then the store stays in
 * memory only). */
int sip_reg_db_open(struct sip_reg *r, const char *dir);
/* Load the bindings of the database that are still live at `now` (and
 * delete the others); the number loaded, or -1 on error. */
int sip_reg_db_load(struct sip_reg *r, time_t now);

/* The glue (one registrar per daemon). */
int sip_registrar_init(struct event_base *base, const struct cfg *cfg);
void sip_registrar_apply(const struct cfg *cfg);
void sip_registrar_shutdown(void);
/* The store of the daemon (NULL before init). */
struct sip_reg *sip_registrar_store(void);
/* Answer a REGISTER of the authenticated `user` that came by `from`:
 * the status, and in *extra (caller frees) the header lines of the
 * response (Contact list, Min-Expires). */
int sip_registrar_register(const osip_message_t *req, const struct sip_route *from,
                           const char *user, char **extra);

/* Provided by sip.c for the fork. */
struct sip_fork;
/* sip_leg_invite() with the route given (NULL: from the URI) and the
 * Call-ID given (NULL: a new one). */
int sip_leg_invite_route(const char *uri, const struct sip_route *route, const char *call_id,
                         const char *calling, const char *calling_name, const char *sdp,
                         const struct sip_leg_cbs *cbs, void *owner, struct sip_leg **out);
/* A UAC leg without a transaction that stands for the fork `f`. */
struct sip_leg *sip_leg_fork_head(struct sip_fork *f, const char *call_id,
                                  const struct sip_route *route,
                                  const struct sip_leg_cbs *cbs, void *owner);
struct sip_fork *sip_leg_fork(const struct sip_leg *leg, int *head);
/* Make leg a branch of f (or of no fork with NULL). */
void sip_leg_set_fork(struct sip_leg *leg, struct sip_fork *f);
/* Tell the head's owner: progress, or the end of the call attempt. */
void sip_leg_fork_progress(struct sip_leg *head, int status, const char *sdp, size_t sdp_len);
void sip_leg_fork_end(struct sip_leg *head, int status, int q850);
/* Move the dialog of `branch` (its 2xx is being handled) into `head`;
 * `branch` is left closed and empty, for the reaper. */
void sip_leg_fork_adopt(struct sip_leg *head, struct sip_leg *branch);

/* The fork (sip_fork.c), hooks called by sip.c. */
/* A 2xx arrived on `leg`: when it is a live branch of a fork, the dialog
 * moves into the fork's head leg, the other branches are hung up and the
 * head is returned; otherwise `leg` is returned. */
struct sip_leg *sip_fork_on_2xx(struct sip_leg *leg);
/* The head of a fork is hung up by its owner: hang up every branch. */
void sip_fork_on_hangup(struct sip_leg *head, int status, int q850);
/* A leg that belongs to a fork is freed. */
void sip_fork_on_free(struct sip_leg *leg);

#endif
