/* Parallel forking to the registered contacts of a user.
 *
 * sip_leg_invite_user() sends one INVITE per live contact (the branches,
 * all with the same Call-ID, each with its own From tag) and gives its
 * caller a head leg without a transaction of its own. The branches report
 * to the fork; the fork reports to the head's owner: the first progress,
 * the best final status once every branch has failed. The first 2xx moves
 * the winning branch's dialog into the head (sip.c does the move), so the
 * owner keeps one leg for the whole call; the other branches get CANCEL
 * with Reason Q.850 cause 26 (non-selected user clearing), and a 2xx that
 * still arrives from one of them is ACKed and ended with BYE by sip.c. */
#include "sip/sip_registrar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "sip/sip.h"

#define SIP_FORK_MAX 32
#define FORK_CAUSE_ELSEWHERE 26         /* Q.850: non-selected user clearing */

struct fork_branch {
	struct sip_fork *f;
	struct sip_leg *leg;            /* not owned; NULL once it ended or was hung up */
};

struct sip_fork {
	struct sip_leg *head;           /* not owned; NULL while the branches are set up */
	struct fork_branch br[SIP_FORK_MAX];
	size_t n, live;
	int progressed;
	int best_status, best_q850;
};

/* How much a final status says about the user (RFC 3261 16.7, roughly):
 * a global failure or busy beats other errors, which beat timeouts and
 * transport failures. */
static int
status_rank(int status)
{
	if (status >= 600)
		return 4;
	if (status == 486)
		return 3;
	if (status == 408 || status == 503 || status == 0)
		return 1;
	return 2;
}

static void
fork_free(struct sip_fork *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->br[i].leg != NULL)
			sip_leg_set_fork(f->br[i].leg, NULL);
	}
	if (f->head != NULL)
		sip_leg_set_fork(f->head, NULL);
	free(f);
}

static void
fork_on_progress(void *owner, int status, const char *sdp, size_t sdp_len)
{
	struct fork_branch *b = owner;
	struct sip_fork *f = b->f;

	if (f->head == NULL)
		return;
	if (f->n == 1) {
		sip_leg_fork_progress(f->head, status, sdp, sdp_len);
		return;
	}
	/* Early media of one of several phones would be a guess: ringing. */
	if (!f->progressed)
		sip_leg_fork_progress(f->head, 180, NULL, 0);
	f->progressed = 1;
}

static void
fork_on_answered(void *owner, const char *sdp, size_t sdp_len)
{
	/* Not reached: sip_fork_on_2xx() moves the dialog to the head first. */
}

static void
fork_on_ended(void *owner, int status, int q850)
{
	struct fork_branch *b = owner;
	struct sip_fork *f = b->f;
	struct sip_leg *head;

	if (b->leg == NULL)
		return;
	/* The ended leg belongs to the stack now, and no longer to us. */
	sip_leg_set_fork(b->leg, NULL);
	b->leg = NULL;
	f->live--;
	if (f->best_status == 0 || status_rank(status) > status_rank(f->best_status)) {
		f->best_status = status;
		f->best_q850 = q850;
	}
	if (f->live > 0 || f->head == NULL)
		return;
	head = f->head;
	status = f->best_status > 0 ? f->best_status : 480;
	q850 = f->best_q850;
	log_call(LOG_LEVEL_INFO, sip_leg_call_id(head), "sip: fork: every contact failed, %d",
	    status);
	fork_free(f);
	sip_leg_fork_end(head, status, q850);
}

static const struct sip_leg_cbs fork_branch_cbs = {
	.progress = fork_on_progress,
	.answered = fork_on_answered,
	.ended = fork_on_ended,
};

int
sip_leg_invite_user(const char *user, const char *calling, const char *calling_name,
                    const char *sdp, const struct sip_leg_cbs *cbs, void *owner,
                    struct sip_leg **out)
{
	const struct sip_reg_contact *cs[SIP_FORK_MAX];
	struct sip_reg *store = sip_registrar_store();
	struct sip_fork *f = NULL;
	struct sip_route first;
	char *call_id = NULL;
	size_t n;
	int error = 0;

	*out = NULL;
	if (store == NULL)
		return ENOENT;
	n = sip_reg_lookup(store, user, time(NULL), cs, SIP_FORK_MAX);
	if (n == 0)
		return ENOENT;
	if (n > SIP_FORK_MAX)
		n = SIP_FORK_MAX;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct fork_branch *b = &f->br[f->n];
		struct sip_route r = cs[i]->route;
		struct sip_leg *leg = NULL;

		b->f = f;
		error = sip_leg_invite_route(cs[i]->uri, &r, call_id, calling, calling_name, sdp,
		    &fork_branch_cbs, b, &leg);
		if (error != 0 && r.proto == SIP_PROTO_TCP) {
			/* The connection of the REGISTER is gone: try the Contact itself. */
			error = sip_leg_invite_route(cs[i]->uri, NULL, call_id, calling, calling_name,
			    sdp, &fork_branch_cbs, b, &leg);
		}
		if (error != 0) {
			log_info("sip: fork: user %s contact %s: %s", user, cs[i]->uri, strerror(error));
			continue;
		}
		if (call_id == NULL && (call_id = strdup(sip_leg_call_id(leg))) == NULL) {
			sip_leg_hangup(leg, 0, 0);
			error = ENOMEM;
			continue;
		}
		b->leg = leg;
		sip_leg_set_fork(leg, f);
		if (f->n == 0)
			first = r;
		f->n++;
		f->live++;
		log_call(LOG_LEVEL_INFO, call_id, "sip: fork: user %s branch %zu to %s", user, f->n,
		    cs[i]->uri);
	}
	if (f->live == 0) {
		if (error == 0)
			error = EHOSTUNREACH;
		goto out;
	}
	f->head = sip_leg_fork_head(f, call_id, &first, cbs, owner);
	if (f->head == NULL) {
		error = ENOMEM;
		goto out;
	}
	*out = f->head;
	f = NULL;
out:
	if (f != NULL) {
		for (size_t i = 0; i < f->n; i++) {
			struct sip_leg *leg = f->br[i].leg;
			if (leg != NULL) {
				f->br[i].leg = NULL;
				sip_leg_set_fork(leg, NULL);
				sip_leg_hangup(leg, 0, 0);
			}
		}
		fork_free(f);
	}
	free(call_id);
	return error;
}

struct sip_leg *
sip_fork_on_2xx(struct sip_leg *leg)
{
	int head = 0;
	struct sip_fork *f = sip_leg_fork(leg, &head);
	struct sip_leg *h;

	if (f == NULL || head || f->head == NULL)
		return leg;
	h = f->head;
	for (size_t i = 0; i < f->n; i++) {
		struct sip_leg *other = f->br[i].leg;

		f->br[i].leg = NULL;
		if (other == NULL || other == leg)
			continue;
		sip_leg_set_fork(other, NULL);
		sip_leg_hangup(other, 487, FORK_CAUSE_ELSEWHERE);
	}
	sip_leg_set_fork(leg, NULL);
	log_call(LOG_LEVEL_INFO, sip_leg_call_id(h), "sip: fork: answered, the other contacts cancelled");
	fork_free(f);
	sip_leg_fork_adopt(h, leg);
	return h;
}

void
sip_fork_on_hangup(struct sip_leg *head, int status, int q850)
{
	int is_head = 0;
	struct sip_fork *f = sip_leg_fork(head, &is_head);

	if (f == NULL || !is_head)
		return;
	for (size_t i = 0; i < f->n; i++) {
		struct sip_leg *leg = f->br[i].leg;

		f->br[i].leg = NULL;
		if (leg == NULL)
			continue;
		sip_leg_set_fork(leg, NULL);
		sip_leg_hangup(leg, status, q850);
	}
	fork_free(f);
}

void
sip_fork_on_free(struct sip_leg *leg)
{
	int head = 0;
	struct sip_fork *f = sip_leg_fork(leg, &head);

	if (f == NULL)
		return;
	if (head) {
		f->head = NULL;
		sip_leg_set_fork(leg, NULL);
		fork_free(f);
		return;
	}
	for (size_t i = 0; i < f->n; i++) {
		if (f->br[i].leg == leg) {
			f->br[i].leg = NULL;
			f->live--;
		}
	}
	sip_leg_set_fork(leg, NULL);
}
