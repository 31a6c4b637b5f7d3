/*
 * x1_prov_job — the ADMF's jobs and their exchanges (see x1_prov.c): a
 * job per XID and its parts at the elements, the outcome reported once every
 * part has settled, and each part's next X1 exchange, its answer and its
 * retries.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "conf.h"
#include "hi1.h"
#include "journal.h"
#include "log.h"
#include "x1.h"
#include "x1_client.h"
#include "x1_prov.h"
#include "x1_prov_int.h"

/* ---- jobs --------------------------------------------------------------------- */

struct x1p_job *
x1_prov_find(const struct x1prov *p, const char *xid)
{
	struct x1p_job *j;

	TAILQ_FOREACH(j, &p->jobs, entry)
		if (strcmp(j->xid, xid) == 0)
			return j;
	return NULL;
}

bool
x1_prov_busy(const struct x1p_job *j)
{
	for (size_t i = 0; i < j->nat; i++)
		if (j->at[i].inflight || j->at[i].retry != NULL)
			return true;
	return false;
}

void
x1_prov_job_free(struct x1p_job *j)
{
	TAILQ_REMOVE(&j->p->jobs, j, entry);
	for (size_t i = 0; i < j->nat; i++)
		if (j->at[i].retry != NULL)
			event_free(j->at[i].retry);
	free(j);
}

struct x1p_job *
x1_prov_job_new(struct x1prov *p, const char *owner, const char *oid,
    const char *ref, const char *xid)
{
	struct x1p_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_warn("x1");
		return NULL;
	}
	j->p = p;
	snprintf(j->owner, sizeof(j->owner), "%s", owner ? owner : "");
	snprintf(j->oid, sizeof(j->oid), "%s", oid ? oid : "");
	snprintf(j->ref, sizeof(j->ref), "%s", ref ? ref : "");
	snprintf(j->xid, sizeof(j->xid), "%s", xid);
	TAILQ_INSERT_TAIL(&p->jobs, j, entry);
	return j;
}

struct x1p_at *
x1_prov_job_at(struct x1p_job *j, struct x1p_ne *ne)
{
	for (size_t i = 0; i < j->nat; i++)
		if (j->at[i].ne == ne)
			return &j->at[i];
	if (j->nat == X1P_NE_MAX)
		return NULL;
	memset(&j->at[j->nat], 0, sizeof(j->at[0]));
	j->at[j->nat].job = j;
	j->at[j->nat].ne = ne;
	snprintf(j->at[j->nat].task.xid, sizeof(j->at[0].task.xid), "%s",
	    j->xid);
	return &j->at[j->nat++];
}

static void
x1p_reportcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1p_report *r = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&r->p->reports, r, entry);
	event_free(r->ev);
	if (!r->p->stopping && r->p->cb != NULL)
		r->p->cb(r->owner, r->oid, r->ok, r->reason, r->text,
		    r->p->cbarg);
	free(r);
}

void
x1_prov_report(struct x1p_job *j, bool ok, enum wd_reason reason,
    const char *text)
{
	struct x1p_report	*r;

	if (!j->report || j->oid[0] == '\0')
		return;
	j->report = false;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("x1");
		return;
	}
	r->p = j->p;
	snprintf(r->owner, sizeof(r->owner), "%s", j->owner);
	snprintf(r->oid, sizeof(r->oid), "%s", j->oid);
	r->ok = ok;
	r->reason = reason;
	snprintf(r->text, sizeof(r->text), "%s", text ? text : "");
	if ((r->ev = event_new(j->p->base, -1, 0, x1p_reportcb, r)) == NULL) {
		/* The next start's open work asks again. */
		log_warnx("x1: cannot report the outcome of %s", j->oid);
		free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&j->p->reports, r, entry);
	event_active(r->ev, EV_TIMEOUT, 0);
}

/*
 * Everything settled? A refusal turns the job into a rollback (and is
 * reported); all acknowledged is reported; a job with nothing left to do
 * is dropped.
 */
void
x1_prov_settle(struct x1p_job *j)
{
	bool	 all = true, refused = false;
	char	 text[X1_TEXT_LEN + X1_ID_LEN + 160];

	for (size_t i = 0; i < j->nat; i++) {
		if (j->at[i].st == XS_REFUSED && j->want_active && !refused) {
			refused = true;
			snprintf(text, sizeof(text), "%s", j->at[i].refusal);
		}
		all &= j->at[i].st == (j->want_active ? XS_ACTIVE : XS_GONE);
	}
	if (refused) {
		log_warnx("x1: task %s (xid %s): %s; rolling back at every "
		    "element", j->oid, j->xid, text);
		j->want_active = false;
		x1_prov_report(j, false, WD_REASON_NE_REFUSED, text);
		for (size_t i = 0; i < j->nat; i++) {
			if (j->at[i].st == XS_REFUSED)
				j->at[i].st = XS_UNKNOWN;
			x1_prov_step(&j->at[i]);
		}
		return;
	}
	if (!all || x1_prov_busy(j))
		return;
	if (j->want_active) {
		log_info("x1: task %s (xid %s) active at %zu element%s", j->oid,
		    j->xid, j->nat, j->nat == 1 ? "" : "s");
		x1_prov_report(j, true, WD_REASON_NONE, "");
	} else
		log_info("x1: xid %s deactivated at %zu element%s", j->xid,
		    j->nat, j->nat == 1 ? "" : "s");
	x1_prov_job_free(j);
}

/* ---- exchanges ---------------------------------------------------------------- */

static void	x1p_answered(const struct x1c_result *, void *);
static void	x1p_later(struct x1p_at *, const char *);

static void
x1p_send(struct x1p_at *at, enum x1_op op)
{
	struct x1_msg	 m = { 0 };
	const char	*key = at->job->xid;

	m.op = op;
	switch (op) {
	case X1_CREATE_DESTINATION:
		m.dest = &at->ne->dest;
		key = at->ne->dest.did;
		at->ne->dest_busy = true;
		break;
	case X1_GET_DESTINATION:
		m.id = at->ne->dest.did;
		key = at->ne->dest.did;
		break;
	case X1_ACTIVATE:
		snprintf(at->task.did, sizeof(at->task.did), "%s",
		    at->ne->dest.did);
		m.task = &at->task;
		break;
	default:
		m.id = at->job->xid;
		break;
	}
	at->op = op;
	at->inflight = true;
	if (x1c_send(at->ne->c, &m, key, x1p_answered, at) == -1) {
		at->inflight = false;
		if (op == X1_CREATE_DESTINATION)
			at->ne->dest_busy = false;
		/* Out of memory: never left hanging, tried again later. */
		x1p_later(at, "the request could not be queued");
	}
}

static void
x1p_retrycb(evutil_socket_t fd, short what, void *arg)
{
	struct x1p_at *at = arg;

	(void)fd;
	(void)what;
	event_free(at->retry);
	at->retry = NULL;
	x1_prov_step(at);
}

/* No answer: again after a pause, as long as it takes. */
static void
x1p_later(struct x1p_at *at, const char *why)
{
	struct timeval	 tv;
	uint32_t	 jitter = 0;
	int64_t		 ms = X1P_PAUSE_MS;

	at->failures++;
	for (unsigned i = 1; i < at->failures && ms < X1P_PAUSE_MAX_MS; i++)
		ms *= 2;
	if (ms > X1P_PAUSE_MAX_MS)
		ms = X1P_PAUSE_MAX_MS;
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	ms = ms * 3 / 4 + (int64_t)(jitter % (uint32_t)(ms / 2 + 1));
	if (at->job->want_active)
		log_warnx("x1 %s: task %s (xid %s) not provisioned yet, trying "
		    "again in %lld ms: %s", at->ne->name, at->job->oid,
		    at->job->xid, (long long)ms, why);
	else
		log_warnx("CRITICAL: x1 %s: xid %s is still active at the "
		    "element and could not be deactivated (attempt %u), trying "
		    "again in %lld ms: %s", at->ne->name, at->job->xid,
		    at->failures, (long long)ms, why);
	if (at->job->p->stopping || at->job->p->freeing)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((at->retry = evtimer_new(at->job->p->base, x1p_retrycb,
	    at)) == NULL || evtimer_add(at->retry, &tv) == -1)
		log_warnx("x1: cannot schedule a retry for xid %s",
		    at->job->xid);
}

/* What to send next for this element's part, if anything. */
void
x1_prov_step(struct x1p_at *at)
{
	struct x1prov *p = at->job->p;

	if (at->inflight || at->retry != NULL || p->stopping || p->freeing)
		return;
	if (at->ne->breaker != XB_CLOSED) {
		at->parked = true;	/* x1_prov_breaker_close moves it */
		return;
	}
	if (at->job->want_active) {
		if (at->st == XS_ACTIVE || at->st == XS_REFUSED)
			return;
		if (at->ne->dest_ok)
			x1p_send(at, X1_ACTIVATE);
		else if (!at->ne->dest_busy)
			x1p_send(at, X1_CREATE_DESTINATION);
		/* else: parked until the destination is settled. */
	} else if (at->st != XS_GONE)
		x1p_send(at, X1_DEACTIVATE);
}

/* The destination is settled at ne: every part parked on it moves. */
static void
x1p_dest_settled(struct x1p_ne *ne)
{
	struct x1p_job	*j, *next;

	ne->dest_busy = false;
	for (j = TAILQ_FIRST(&ne->p->jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		for (size_t i = 0; i < j->nat; i++)
			if (j->at[i].ne == ne)
				x1_prov_step(&j->at[i]);
	}
}

static void
x1p_refuse(struct x1p_at *at, const char *op, const struct x1_answer *a)
{
	at->st = XS_REFUSED;
	snprintf(at->refusal, sizeof(at->refusal), "network element %s "
	    "refused %s: error %ld: %s", at->ne->name, op, a->code, a->text);
	x1_prov_mask(at->refusal);
}

/* An answer (possibly an ErrorResponse) to what at sent. */
static void
x1p_answer(struct x1p_at *at, const struct x1_answer *a)
{
	struct x1p_ne *ne = at->ne;
	bool held;

	switch (at->op) {
	case X1_CREATE_DESTINATION:
		if (!a->error) {
			ne->dest_ok = true;
			x1p_dest_settled(ne);
		} else {
			/* Already there (a restart)? Ask before refusing. */
			x1p_refuse(at, "CreateDestination", a);
			at->st = XS_UNKNOWN;
			x1p_send(at, X1_GET_DESTINATION);
		}
		return;
	case X1_GET_DESTINATION:
		if (!a->error)
			ne->dest_ok = true;
		else
			at->st = XS_REFUSED;	/* the refusal said above */
		x1p_dest_settled(ne);
		return;
	case X1_ACTIVATE:
		if (!a->error)
			at->st = XS_ACTIVE;
		else {
			/* Held already (a retry, a restart)? Then it is done. */
			x1p_refuse(at, "ActivateTask", a);
			at->st = XS_UNKNOWN;
			x1p_send(at, X1_GET_TASK);
		}
		return;
	case X1_DEACTIVATE:
		if (!a->error)
			at->st = XS_GONE;
		else {
			at->deact_refused = true;
			x1p_send(at, X1_GET_TASK);	/* gone already? */
		}
		return;
	case X1_GET_TASK:
		held = !a->error && a->nheld == 1;
		if (at->job->want_active)
			at->st = held && !a->held[0].failed ? XS_ACTIVE :
			    XS_REFUSED;
		else if (!held)
			at->st = XS_GONE;
		else if (at->deact_refused) {
			/* Held, and DeactivateTask refused: insist, slowly. */
			at->st = XS_UNKNOWN;
			x1p_later(at, "the element refuses to deactivate it");
		} else
			at->st = XS_UNKNOWN;	/* step sends DeactivateTask */
		at->deact_refused = false;
		return;
	default:
		return;
	}
}

static void
x1p_answered(const struct x1c_result *res, void *arg)
{
	struct x1p_at	*at = arg;
	struct x1p_job	*j = at->job;
	struct x1prov	*p = j->p;
	const char	*id = at->op == X1_CREATE_DESTINATION ||
	    at->op == X1_GET_DESTINATION ? at->ne->dest.did : j->xid;

	at->inflight = false;
	if (p->freeing)		/* no answer, and nothing more will be sent */
		return;
	x1_prov_health(at->ne, res);
	x1_prov_touch(at->ne, j->xid);
	x1_prov_record_exchange(p, j, at->ne->name, at->op, id, res);
	if (!res->answered) {
		if (at->op == X1_CREATE_DESTINATION)
			at->ne->dest_busy = false;
		x1p_later(at, res->why);
		if (at->op == X1_CREATE_DESTINATION)
			x1p_dest_settled(at->ne);
		return;
	}
	at->failures = 0;
	x1p_answer(at, res->answer);
	x1_prov_step(at);
	x1_prov_settle(j);
}
