/*
 * dispatch — what happens to an accepted request: each task is carried out
 * against the back end that serves its type (src/backend.c), and every
 * call's outcome is journaled — the back end, attempts, outcome, record
 * count and digest, never the data. Quick lookups (subscriber identity,
 * real-time location) are awaited for a short, configured time so that the
 * acceptance can carry their answer; everything else, and anything slower,
 * stays in the encrypted results store for delivery.
 *
 * A dispatch outlives the answer when calls are still running: it frees
 * itself when its last call has reported and ready has run.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "backend.h"
#include "conf.h"
#include "dispatch.h"
#include "hi1_delivery.h"
#include "journal.h"
#include "log.h"
#include "server.h"

#define DISPATCH_MAX_CALLS	(HI1_MAX_ACTIONS * HI1_MAX_IDS)

struct dispatch;

struct dispatch_call {
	struct dispatch		*d;
	size_t			 task;		/* index in d->req.tasks */
	size_t			 id;		/* index in the task's ids */
	bool			 awaited;
	bool			 done;
	struct dispatch_delivery out;		/* awaited and answered */
};

struct dispatch {
	struct server		*srv;
	struct hi1_request	 req;
	char			 ref[40];
	char			 official[65];
	struct event		*timer;
	dispatch_ready_cb	 ready;
	void			*arg;
	bool			 ready_called;
	size_t			 pending;	/* calls not yet reported */
	size_t			 awaited;	/* awaited calls not yet reported */
	size_t			 ncalls;
	struct dispatch_call	 calls[DISPATCH_MAX_CALLS];
};

static void
dispatch_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	(void)rcpt;
	(void)arg;
	if (status != 0)
		log_warnx("journal: could not record a back-end outcome (error %d)",
		    status);
}

/* One record per call: what was asked of whom, and how it went. */
static void
dispatch_journal(struct dispatch *d, const struct dispatch_call *k,
    const struct backend_result *r)
{
	const struct hi1_task	*t = &d->req.tasks[k->task];
	Warrant__Record		 rec = WARRANT__RECORD__INIT;
	Warrant__Task		 pt = WARRANT__TASK__INIT, *ptp = &pt;
	Warrant__Identifier	 pi = WARRANT__IDENTIFIER__INIT, *pip = &pi;
	char			 detail[256];

	pi.type = intake_pb_idtype(t->ids[k->id].type);
	pi.value = (char *)t->ids[k->id].value;
	pi.observed_us = t->has_observed ? t->observed_us : 0;
	pt.action_id = t->action_id;
	pt.object_id = (char *)t->object_id;
	pt.reference = (char *)t->reference;
	pt.type = intake_pb_reqtype(t->type);
	pt.n_identifiers = 1;
	pt.identifiers = &pip;
	rec.event = WARRANT__EVENT_TYPE__EVENT_BACKEND_RESULT;
	rec.carrier_ref = d->ref;
	rec.transaction_id = d->req.transaction_id;
	rec.authority_id = d->req.sender_id;
	rec.official_id = d->official;
	rec.n_tasks = 1;
	rec.tasks = &ptp;
	rec.error_code = r->outcome;
	rec.error_text = (char *)backend_outcome_name(r->outcome);
	if (r->outcome == BACKEND_OK) {
		rec.result_sha256.data = (uint8_t *)r->sha256;
		rec.result_sha256.len = sizeof(r->sha256);
		rec.result_count = r->count;
	}
	snprintf(detail, sizeof(detail), "back end %s, %u attempt%s, %llu ms%s%s",
	    r->backend[0] ? r->backend : "(none)", r->attempts,
	    r->attempts == 1 ? "" : "s",
	    (unsigned long long)(r->duration_us / 1000),
	    r->detail && r->detail[0] ? ": " : "", r->detail ? r->detail : "");
	rec.detail = detail;
	if (journal_append(d->srv->journal, &rec, dispatch_journaled, NULL) == -1)
		log_warnx("journal: back-end outcome of %s not recorded", d->ref);
}

/* The result document for an awaited call, if its outcome has one. */
static void
dispatch_document(struct dispatch *d, struct dispatch_call *k,
    const struct backend_result *r)
{
	const struct hi1_task	*t = &d->req.tasks[k->task];
	char			*doc = NULL;
	size_t			 len = 0;

	switch (r->outcome) {
	case BACKEND_OK:
		if (r->subscriber)
			doc = hi1_result_subscriber(d->ref, t, r->subscriber, &len);
		else if (r->location)
			doc = hi1_result_location(d->ref, t, r->location, &len);
		break;
	case BACKEND_NOT_FOUND:
		doc = hi1_result_none(d->ref, t, HI1_RESULT_NOT_FOUND, &len);
		break;
	case BACKEND_NOT_RETAINED:
		doc = hi1_result_none(d->ref, t, HI1_RESULT_NOT_RETAINED, &len);
		break;
	case BACKEND_OUTSIDE_RETENTION:
		doc = hi1_result_none(d->ref, t, HI1_RESULT_OUTSIDE_RETENTION, &len);
		break;
	default:	/* unavailable, deadline...: stays awaiting disclosure */
		break;
	}
	if (doc == NULL)
		return;
	k->out.action_id = t->action_id;
	k->out.doc = doc;
	k->out.doc_len = len;
	EVP_Digest(doc, len, k->out.sha256, NULL, EVP_sha256(), NULL);
	if (r->stored)
		snprintf(k->out.result_name, sizeof(k->out.result_name), "%s",
		    r->result_name);
}

static void
dispatch_free(struct dispatch *d)
{
	for (size_t i = 0; i < d->ncalls; i++)
		free(d->calls[i].out.doc);
	if (d->timer)
		event_free(d->timer);
	free(d);
}

/* Hand the answered awaited calls over, once. */
static void
dispatch_fire(struct dispatch *d)
{
	struct dispatch_delivery	*out;
	size_t				 n = 0;

	if (d->ready_called)
		return;
	d->ready_called = true;
	if (d->timer)
		evtimer_del(d->timer);
	out = calloc(d->ncalls ? d->ncalls : 1, sizeof(*out));
	for (size_t i = 0; out != NULL && i < d->ncalls; i++) {
		struct dispatch_call *k = &d->calls[i];

		if (k->awaited && k->out.doc != NULL) {
			out[n++] = k->out;
			memset(&k->out, 0, sizeof(k->out));	/* moved */
		}
	}
	d->ready(out, n, d->arg);
}

static void
dispatch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dispatch *d = arg;

	(void)fd;
	(void)what;
	dispatch_fire(d);
	if (d->pending == 0)
		dispatch_free(d);
}

static void
dispatch_called(const struct backend_result *r, void *arg)
{
	struct dispatch_call	*k = arg;
	struct dispatch		*d = k->d;

	k->done = true;
	d->pending--;
	dispatch_journal(d, k, r);
	if (k->awaited) {
		if (!d->ready_called)
			dispatch_document(d, k, r);
		if (--d->awaited == 0)
			dispatch_fire(d);
	}
	if (d->pending == 0 && d->ready_called)
		dispatch_free(d);
}

static void
dispatch_query(const struct dispatch *d, const struct hi1_task *t, size_t id,
    struct backend_query *q)
{
	const struct hi1_authorisation *a = &d->req.auths[t->auth_index];

	memset(q, 0, sizeof(*q));
	q->type = t->type;
	q->id = t->ids[id];
	q->id_index = (unsigned)id;	/* one stored result per identifier */
	q->action_id = t->action_id;
	snprintf(q->carrier_ref, sizeof(q->carrier_ref), "%s", d->ref);
	if (t->has_window) {
		q->start_us = t->window_start_us;
		q->end_us = t->window_end_us;
	}
	if (t->has_observed)
		q->at_us = t->observed_us;
	if (t->type == WD_REQ_PRESERVATION)
		q->until_us = a->valid_until_us;
}

/* Plan the calls: one per identifier of every served task. */
static void
dispatch_plan(struct dispatch *d, struct backend_set *set)
{
	for (size_t i = 0; i < d->req.ntasks; i++) {
		const struct hi1_task *t = &d->req.tasks[i];
		bool quick = t->type == WD_REQ_SUBSCRIBER ||
		    t->type == WD_REQ_LOCATION_RT;

		if (t->type == WD_REQ_INTERCEPTION || !backend_serves(set, t->type))
			continue;	/* provisioning is X1's, later */
		for (size_t k = 0; k < t->nids && d->ncalls < DISPATCH_MAX_CALLS; k++) {
			struct dispatch_call *c = &d->calls[d->ncalls++];

			c->d = d;
			c->task = i;
			c->id = k;
			/* One result document per task: single-identifier ones. */
			c->awaited = quick && t->nids == 1;
		}
	}
}

void
dispatch_start(struct server *srv, const struct hi1_request *req,
    const char *carrier_ref, const char *official_fp, unsigned wait_ms,
    dispatch_ready_cb ready, void *arg)
{
	struct dispatch		*d;
	struct backend_query	 q;
	struct timeval		 tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };

	if (srv->backends == NULL || (d = calloc(1, sizeof(*d))) == NULL) {
		ready(NULL, 0, arg);
		return;
	}
	d->srv = srv;
	d->req = *req;
	d->ready = ready;
	d->arg = arg;
	snprintf(d->ref, sizeof(d->ref), "%s", carrier_ref);
	snprintf(d->official, sizeof(d->official), "%s", official_fp);
	dispatch_plan(d, srv->backends);
	for (size_t i = 0; i < d->ncalls; i++) {
		struct dispatch_call *k = &d->calls[i];

		dispatch_query(d, &d->req.tasks[k->task], k->id, &q);
		if (backend_call(srv->backends, &q, dispatch_called, k) == -1) {
			log_warnx("%s: back-end call not started (out of memory)",
			    d->ref);
			continue;
		}
		d->pending++;
		if (k->awaited)
			d->awaited++;
	}
	if (d->awaited == 0 || wait_ms == 0 ||
	    (d->timer = evtimer_new(srv->base, dispatch_timeout, d)) == NULL ||
	    evtimer_add(d->timer, &tv) == -1)
		dispatch_fire(d);
	if (d->pending == 0)
		dispatch_free(d);
}

void
dispatch_free_deliveries(struct dispatch_delivery *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].doc);
	free(v);
}
