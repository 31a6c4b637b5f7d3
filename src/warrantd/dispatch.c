/*
 * dispatch — what happens to an accepted request: each task is carried out
 * against the back end that serves its type (src/warrantd/backend.c), and every
 * call's outcome is journaled — the back end, attempts, outcome, record
 * count and digest, never the data. Quick lookups (subscriber identity,
 * real-time location) are awaited for a short, configured time so that the
 * acceptance can carry their answer; everything else, and anything slower,
 * stays in the encrypted results store for delivery.
 *
 * An awaited call holds its answer (backend_query.hold): the result carried
 * in the acceptance is never written to the results store, where it would
 * only be deleted again once delivered. A held result that is not carried
 * (answered after the wait, a client gone, a delivery not recorded) is
 * stored and made durable first: before its outcome is journaled if it came
 * late, before its task is released to the lifecycle otherwise.
 *
 * A dispatch outlives the answer when calls are still running: it frees
 * itself when its last call has reported and ready has run. Each outcome
 * goes to the lifecycle (its dispatch_hooks) once its record is
 * durable, so that what the lifecycle decides rests on the journal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backend.h"
#include "conf.h"
#include "dispatch.h"
#include "hi1_delivery.h"
#include "journal.h"
#include "log.h"

#define DISPATCH_MAX_CALLS	(HI1_MAX_ACTIONS * HI1_MAX_IDS)

struct dispatch;

struct dispatch_call {
	struct dispatch		*d;
	size_t			 task;		/* index in d->tasks */
	size_t			 id;		/* index in the task's ids */
	bool			 awaited;
	bool			 done;
	struct dispatch_delivery out;		/* awaited and answered */
};

struct dispatch {
	struct lifecycle	*lc;
	struct lifecycle_env	 env;
	char			 owner[HI1_ID_LEN + 1];
	char			 transaction_id[HI1_UUID_LEN + 1];
	struct hi1_task		 tasks[HI1_MAX_ACTIONS];	/* not the whole
							   request: it is big */
	size_t			 ntasks;
	bool			 release;	/* preservation: unfreeze */
	int64_t			 until_us[HI1_MAX_ACTIONS];	/* freeze until */
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

/* Who is told once an outcome's record is durable. */
struct dispatch_report {
	struct lifecycle	*lc;
	const struct dispatch_hooks *hooks;
	char			 owner[HI1_ID_LEN + 1];
	char			 task[HI1_UUID_LEN + 1];
};

static void
dispatch_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	struct dispatch_report *r = arg;

	(void)rcpt;
	if (status != 0)
		log_warnx("journal: could not record a back-end outcome (error %d)",
		    status);
	/*
	 * The call counts as in flight until its outcome is in the store:
	 * counted off earlier, anything that looked at the task meanwhile (an
	 * awaited answer handed over, another record) saw no call and no
	 * outcome, and called the back end a second time.
	 */
	r->hooks->calls(r->lc, r->owner, r->task, -1);
	r->hooks->reported(r->lc, r->owner, r->task, status == 0);
	free(r);
}

/* One record per call: what was asked of whom, and how it went. */
static void
dispatch_journal(struct dispatch *d, const struct dispatch_call *k,
    const struct backend_result *r)
{
	const struct hi1_task	*t = &d->tasks[k->task];
	Warrant__Record		 rec = WARRANT__RECORD__INIT;
	Warrant__Task		 pt = WARRANT__TASK__INIT, *ptp = &pt;
	Warrant__Identifier	 pi = WARRANT__IDENTIFIER__INIT, *pip = &pi;
	struct dispatch_report	*rep;
	char			 detail[256];

	pi.type = (Warrant__IdentifierType)(t->ids[k->id].type + 1);
	pi.value = (char *)t->ids[k->id].value;
	pi.observed_us = t->has_observed ? t->observed_us : 0;
	pt.action_id = t->action_id;
	pt.object_id = (char *)t->object_id;
	pt.reference = (char *)t->reference;
	pt.type = (Warrant__RequestType)(t->type + 1);
	pt.n_identifiers = 1;
	pt.identifiers = &pip;
	rec.event = WARRANT__EVENT_TYPE__EVENT_BACKEND_RESULT;
	rec.carrier_ref = d->ref;
	rec.transaction_id = d->transaction_id;
	rec.authority_id = d->owner;
	rec.official_id = d->official;
	rec.n_tasks = 1;
	rec.tasks = &ptp;
	rec.identifier_index = (uint32_t)k->id;
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
	if ((rep = calloc(1, sizeof(*rep))) != NULL) {
		rep->lc = d->lc;
		rep->hooks = d->env.dispatch;
		snprintf(rep->owner, sizeof(rep->owner), "%s", d->owner);
		snprintf(rep->task, sizeof(rep->task), "%s", t->object_id);
	}
	if (rep == NULL || journal_append(d->env.journal, &rec,
	    dispatch_journaled, rep) == -1) {
		log_warnx("journal: back-end outcome of %s not recorded", d->ref);
		/* The task stays pending; the lifecycle asks again later. */
		d->env.dispatch->calls(d->lc, d->owner, t->object_id, -1);
		d->env.dispatch->reported(d->lc, d->owner, t->object_id, false);
		free(rep);
	}
}

/* The result document for an awaited call, if its outcome has one. */
static void
dispatch_document(struct dispatch *d, struct dispatch_call *k,
    const struct backend_result *r)
{
	const struct hi1_task	*t = &d->tasks[k->task];
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
	snprintf(k->out.task_oid, sizeof(k->out.task_oid), "%s", t->object_id);
	snprintf(k->out.ldid, sizeof(k->out.ldid), "%s", t->reference);
	k->out.doc = doc;
	k->out.doc_len = len;
	EVP_Digest(doc, len, k->out.sha256, NULL, EVP_sha256(), NULL);
	if (r->stored)
		snprintf(k->out.result_name, sizeof(k->out.result_name), "%s",
		    r->result_name);
	if (r->data != NULL && (k->out.held = malloc(r->len)) != NULL) {
		memcpy(k->out.held, r->data, r->len);
		k->out.held_len = r->len;
		k->out.id_index = r->query->id_index;
		snprintf(k->out.carrier_ref, sizeof(k->out.carrier_ref), "%s",
		    r->query->carrier_ref);
	}
	if (r->data != NULL && k->out.held == NULL) {	/* cannot keep it */
		free(k->out.doc);
		k->out.doc = NULL;
	}
}

static void
dispatch_held_free(struct dispatch_delivery *v)
{
	if (v->held != NULL)
		OPENSSL_cleanse(v->held, v->held_len);
	free(v->held);
	v->held = NULL;
}

static void
dispatch_free(struct dispatch *d)
{
	for (size_t i = 0; i < d->ncalls; i++) {
		free(d->calls[i].out.doc);
		dispatch_held_free(&d->calls[i].out);
	}
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
	for (size_t i = 0; i < d->ncalls; i++) {
		struct dispatch_call *k = &d->calls[i];

		if (!k->awaited)
			continue;
		if (out != NULL && k->out.doc != NULL) {
			out[n++] = k->out;
			memset(&k->out, 0, sizeof(k->out));	/* moved */
		} else if (k->out.held != NULL)	/* stored, then released */
			dispatch_settle(d->lc, &d->env, d->owner, &k->out, 1);
		else	/* nothing to carry: the lifecycle takes it over */
			d->env.dispatch->unclaim(d->lc, d->owner,
			    d->tasks[k->task].object_id);
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

/* A call's outcome is final (and its result, if any, kept): report it. */
static void
dispatch_report(struct dispatch_call *k, const struct backend_result *r)
{
	struct dispatch		*d = k->d;

	d->pending--;
	dispatch_journal(d, k, r);	/* counts the call off once recorded */
	if (k->awaited) {
		if (!d->ready_called && k->out.doc == NULL)
			dispatch_document(d, k, r);
		if (--d->awaited == 0)
			dispatch_fire(d);
	}
	if (d->pending == 0 && d->ready_called)
		dispatch_free(d);
}

/* A held result that will not be carried, on its way to the store. */
struct dispatch_late {
	struct dispatch_call	*k;
	struct backend_result	 r;	/* the call's, pointing below */
	struct backend_query	 q;
	char			 backend[BACKEND_NAME_MAX];
	char			 detail[192];	/* as backend_impl.h's */
};

static void
dispatch_late_stored(const struct backend_result *sr, void *arg)
{
	struct dispatch_late	*l = arg;

	l->r.stored = sr->outcome == BACKEND_OK;
	if (l->r.stored)
		snprintf(l->r.result_name, sizeof(l->r.result_name), "%s",
		    sr->result_name);
	else {
		l->r.outcome = BACKEND_STORAGE;
		l->r.detail = "results store: cannot make the result durable";
	}
	dispatch_report(l->k, &l->r);
	free(l);
}

/*
 * The back end's answer is held but will not be carried (it came after the
 * wait): stored first, so that its outcome is journaled as it is for every
 * other result, durable in the store. 0 if under way; -1 if not started.
 */
static int
dispatch_store_late(struct dispatch_call *k, const struct backend_result *r)
{
	struct dispatch_late	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->k = k;
	l->r = *r;
	l->q = *r->query;
	l->q.hold = false;
	l->r.query = &l->q;
	l->r.data = NULL;
	l->r.len = 0;
	l->r.subscriber = NULL;
	l->r.location = NULL;
	l->r.preservation = NULL;
	snprintf(l->backend, sizeof(l->backend), "%s", r->backend);
	snprintf(l->detail, sizeof(l->detail), "%s", r->detail ? r->detail : "");
	l->r.backend = l->backend;
	l->r.detail = l->detail;
	if (backend_store(k->d->env.backends, &l->q, r->data, r->len,
	    dispatch_late_stored, l) == -1) {
		free(l);
		return -1;
	}
	return 0;
}

static void
dispatch_called(const struct backend_result *r, void *arg)
{
	struct dispatch_call	*k = arg;
	struct dispatch		*d = k->d;
	struct backend_result	 failed;

	k->done = true;
	if (r->outcome == BACKEND_OK && r->data != NULL) {
		/* Held: carried in the acceptance, or stored before reported. */
		if (k->awaited && !d->ready_called) {
			dispatch_document(d, k, r);
			if (k->out.held != NULL)
				goto report;
		}
		if (dispatch_store_late(k, r) == 0)
			return;	/* reported once stored */
		log_warnx("%s: a held back-end answer cannot be stored",
		    d->ref);
		failed = *r;
		failed.outcome = BACKEND_STORAGE;
		failed.detail = "results store: cannot write";
		failed.data = NULL;
		dispatch_report(k, &failed);
		return;
	}
 report:
	dispatch_report(k, r);
}

static void
dispatch_query(const struct dispatch *d, const struct hi1_task *t, size_t id,
    struct backend_query *q)
{
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
	if (t->type == WD_REQ_PRESERVATION) {
		q->until_us = d->until_us[t - d->tasks];
		q->release = d->release;
	}
}

/*
 * Plan the calls: one per identifier whose outcome is pending in mask (NULL:
 * all), for every disclosure task. Interception is provisioned over X1,
 * not here.
 */
static void
dispatch_plan(struct dispatch *d, const uint8_t (*mask)[HI1_MAX_IDS],
    bool await)
{
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct hi1_task *t = &d->tasks[i];
		bool quick = await && (t->type == WD_REQ_SUBSCRIBER ||
		    t->type == WD_REQ_LOCATION_RT) && t->nids == 1;

		if (t->type == WD_REQ_INTERCEPTION)
			continue;
		for (size_t k = 0; k < t->nids && d->ncalls < DISPATCH_MAX_CALLS; k++) {
			struct dispatch_call *c;

			if (mask != NULL && mask[i][k] != OBJ_OUTCOME_PENDING)
				continue;
			c = &d->calls[d->ncalls++];
			c->d = d;
			c->task = i;
			c->id = k;
			/* One result document per task: single-identifier ones. */
			c->awaited = quick;
		}
		if (quick)
			d->env.dispatch->claim(d->lc, d->owner, t->object_id);
	}
}

/* Start every planned call; the caller then waits or fires. */
static void
dispatch_run(struct dispatch *d)
{
	struct backend_query	 q;

	d->pending++;	/* held: no report may free d during the loop */
	for (size_t i = 0; i < d->ncalls; i++) {
		struct dispatch_call *k = &d->calls[i];
		const struct hi1_task *t = &d->tasks[k->task];

		dispatch_query(d, t, k->id, &q);
		/* Awaited: held for the acceptance, stored only if not carried. */
		q.hold = k->awaited && d->env.results != NULL;
		d->env.dispatch->calls(d->lc, d->owner, t->object_id, +1);
		if (d->env.backends == NULL) {
			struct backend_result r;

			memset(&r, 0, sizeof(r));
			r.outcome = BACKEND_UNAVAILABLE;
			r.query = &q;
			r.backend = "";
			r.detail = "no back end is configured";
			d->pending++;
			if (k->awaited)
				d->awaited++;
			dispatch_called(&r, k);
			continue;
		}
		if (backend_call(d->env.backends, &q, dispatch_called, k) == -1) {
			log_warnx("%s: back-end call not started (out of memory)",
			    d->ref);
			d->env.dispatch->calls(d->lc, d->owner, t->object_id, -1);
			continue;
		}
		d->pending++;
		if (k->awaited)
			d->awaited++;
	}
	d->pending--;
}

static struct dispatch *
dispatch_new(struct lifecycle *lc, const struct lifecycle_env *env,
    const char *owner, const char *ref, const char *official)
{
	struct dispatch *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->lc = lc;
	d->env = *env;
	snprintf(d->owner, sizeof(d->owner), "%s", owner);
	snprintf(d->ref, sizeof(d->ref), "%s", ref);
	snprintf(d->official, sizeof(d->official), "%s", official ? official : "");
	return d;
}

void
dispatch_start(struct lifecycle *lc, const struct lifecycle_env *env,
    const char *owner, const struct hi1_request *req, const char *carrier_ref,
    const char *official_fp, unsigned wait_ms, dispatch_ready_cb ready,
    void *arg)
{
	struct dispatch		*d;
	struct timeval		 tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };

	if ((d = dispatch_new(lc, env, owner, carrier_ref, official_fp)) == NULL) {
		log_warnx("%s: back-end calls not started (out of memory); the "
		    "lifecycle will start them", carrier_ref);
		ready(NULL, 0, arg);
		return;
	}
	snprintf(d->transaction_id, sizeof(d->transaction_id), "%s",
	    req->transaction_id);
	for (size_t i = 0; i < req->ntasks && i < HI1_MAX_ACTIONS; i++) {
		const struct hi1_task *t = &req->tasks[i];

		/* Under review: the desk's approval starts it (lc_progress). */
		if (env->dispatch->gated(lc, owner, t->object_id))
			continue;
		d->tasks[d->ntasks] = *t;
		if (t->auth_index >= 0 && (size_t)t->auth_index < req->nauths)
			d->until_us[d->ntasks] = req->auths[t->auth_index].valid_until_us;
		d->ntasks++;
	}
	d->ready = ready;
	d->arg = arg;
	dispatch_plan(d, NULL, wait_ms > 0);
	dispatch_run(d);
	if (d->awaited == 0 || wait_ms == 0 ||
	    (d->timer = evtimer_new(env->base, dispatch_timeout, d)) == NULL ||
	    evtimer_add(d->timer, &tv) == -1)
		dispatch_fire(d);
	if (d->pending == 0)
		dispatch_free(d);
}

static void
dispatch_nobody(struct dispatch_delivery *v, size_t n, void *arg)
{
	(void)arg;
	dispatch_free_deliveries(v, n);
}

int
dispatch_task(struct lifecycle *lc, const struct lifecycle_env *env,
    const struct obj *task, bool release)
{
	struct dispatch		*d;
	uint8_t			 mask[HI1_MAX_ACTIONS][HI1_MAX_IDS];

	if ((d = dispatch_new(lc, env, task->owner, task->ref, NULL)) == NULL)
		return -1;
	/* A request of one task, rebuilt from what the store holds. */
	d->tasks[0] = task->u.task.t;
	d->tasks[0].auth_index = -1;
	d->ntasks = 1;
	d->release = release;
	d->until_us[0] = task->u.task.freeze_until_us;
	memset(mask, 0, sizeof(mask));
	if (!release)
		memcpy(mask[0], task->u.task.outcome, sizeof(mask[0]));
	d->ready = dispatch_nobody;
	dispatch_plan(d, mask, false);
	if (d->ncalls == 0) {
		dispatch_free(d);
		return -1;
	}
	dispatch_run(d);
	dispatch_fire(d);
	if (d->pending == 0)
		dispatch_free(d);
	return 0;
}

/* A task's claim ends once its held result is durable (or could not be). */
struct dispatch_settling {
	struct lifecycle		*lc;
	const struct dispatch_hooks	*hooks;
	char				 owner[HI1_ID_LEN + 1];
	char				 oid[HI1_UUID_LEN + 1];
	char				 ref[BACKEND_REF_MAX];
};

static void
dispatch_settled(const struct backend_result *sr, void *arg)
{
	struct dispatch_settling *s = arg;

	if (sr->outcome != BACKEND_OK)
		log_warnx("%s: task %s: its result, not delivered in the "
		    "acceptance, could not be stored (%s)", s->ref, s->oid,
		    sr->detail ? sr->detail : "?");
	s->hooks->unclaim(s->lc, s->owner, s->oid);
	free(s);
}

void
dispatch_settle(struct lifecycle *lc, const struct lifecycle_env *env,
    const char *owner, const struct dispatch_delivery *v, size_t n)
{
	struct dispatch_settling	*s;
	struct backend_query		 q;

	for (size_t i = 0; v != NULL && i < n; i++) {
		if (v[i].held == NULL || v[i].recorded) {
			env->dispatch->unclaim(lc, owner, v[i].task_oid);
			continue;
		}
		memset(&q, 0, sizeof(q));
		snprintf(q.carrier_ref, sizeof(q.carrier_ref), "%s",
		    v[i].carrier_ref);
		q.action_id = v[i].action_id;
		q.id_index = v[i].id_index;
		if ((s = calloc(1, sizeof(*s))) != NULL) {
			s->lc = lc;
			s->hooks = env->dispatch;
			snprintf(s->owner, sizeof(s->owner), "%s", owner);
			snprintf(s->oid, sizeof(s->oid), "%s", v[i].task_oid);
			snprintf(s->ref, sizeof(s->ref), "%s", v[i].carrier_ref);
		}
		if (s == NULL || backend_store(env->backends, &q, v[i].held,
		    v[i].held_len, dispatch_settled, s) == -1) {
			log_warnx("%s: task %s: its result, not delivered in the "
			    "acceptance, cannot be stored", v[i].carrier_ref,
			    v[i].task_oid);
			free(s);
			env->dispatch->unclaim(lc, owner, v[i].task_oid);
		}
	}
}

void
dispatch_free_deliveries(struct dispatch_delivery *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].doc);
		dispatch_held_free(&v[i]);
	}
	free(v);
}
