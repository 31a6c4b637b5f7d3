/*
 * lifecycle_task — a task's states over time (src/warrantd/lifecycle.c
 * keeps the marks and records): what its back-end outcomes make of it and
 * when a round of calls is retried, interceptions provisioned at network
 * elements (src/warrantd/x1_prov.c), what to do next with an object
 * (lc_progress), and the legal clocks: an authorisation's lapse, an order's
 * end, deadlines, and the tick that finds what is due.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lifecycle_int.h"
#include "log.h"
#include "store.h"
#include "x1_prov.h"

/* ---- what a task's outcomes make of it ------------------------------------ */

static void
lc_note_task(struct lc_rec *r, const struct obj *o, const char *what)
{
	char		 text[OBJ_NOTE_LEN];
	const char	*assoc[1] = { o->oid };

	snprintf(text, sizeof(text), "%s %s (%s): %s", o->kind == HI1_OBJ_LITASK ?
	    "Interception" : wd_reqtype_name(o->u.task.t.type),
	    o->u.task.t.reference, o->ref, what);
	lc_rec_note(r, text, assoc, 1);
}

/* Change one task (or order) to st, with a notification where it matters. */
void
lc_change(struct lifecycle *lc, const struct obj *o, enum obj_status st,
    enum wd_reason reason, const char *text, Warrant__Cause cause, bool note,
    lc_done_fn done)
{
	struct lc_rec	*r;
	char		 why[OBJ_REASON_LEN + 64];

	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_OBJECT_CHANGED, o->owner,
	    o->ref, text)) == NULL)
		return;
	lc_rec_transition(r, o, st, reason, text, cause);
	if (note) {
		snprintf(why, sizeof(why), "%s%s%s", wd_reason_text(reason),
		    text && text[0] ? ": " : "", text ? text : "");
		lc_note_task(r, o, why);
	}
	lc_emit(lc, r, done, done ? lc_key_of(o->owner, o->oid) : NULL);
}

/* A round of calls may fix it: after a pause that doubles each round. */
void
lc_schedule_retry(struct lifecycle *lc, const struct obj *o)
{
	struct lc_mark	*m = lc_mark_find(lc, o->owner, o->oid, true);
	int64_t		 pause = lc->cfg.retry_base_us;
	uint32_t	 jitter = 0;

	if (m == NULL || m->retry_at != 0)
		return;
	for (uint32_t i = 0; i < o->u.task.attempts && pause < 3600000000LL; i++)
		pause *= 2;
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	m->retry_at = lifecycle_now(lc) + pause + (int64_t)(jitter %
	    (uint32_t)(pause / 4 + 1));
}

static enum wd_reason
lc_no_data_reason(uint8_t oc)
{
	switch (oc - 1) {
	case BACKEND_NOT_RETAINED:
		return WD_REASON_NOT_RETAINED;
	case BACKEND_OUTSIDE_RETENTION:
		return WD_REASON_OUTSIDE_RETENTION;
	default:
		return WD_REASON_NOT_FOUND;
	}
}

/* Every identifier has an outcome: what the task becomes. */
static void
lc_outcomes(struct lifecycle *lc, const struct obj *o)
{
	const struct obj_task	*t = &o->u.task;
	bool			 data = false, refused = false, failed = false;
	enum wd_reason		 none = WD_REASON_NONE;
	char			 why[128];

	for (size_t i = 0; i < t->t.nids; i++) {
		uint8_t oc = t->outcome[i];

		if (oc == BACKEND_OK + 1)
			data = true;
		else if (oc - 1 <= BACKEND_OUTCOME_LAST_ANSWER)
			none = lc_no_data_reason(oc);
		else if (oc - 1 == BACKEND_MALFORMED || oc - 1 == BACKEND_UNSUPPORTED)
			refused = true;
		else
			failed = true;
	}
	if (refused) {
		lc_change(lc, o, OST_ERROR, WD_REASON_BACKEND_REFUSED, "", 
		    WARRANT__CAUSE__CAUSE_BACKEND, true, NULL);
		return;
	}
	if (failed) {
		if (t->attempts + 1 < lc->cfg.retry_rounds) {
			lc_schedule_retry(lc, o);
			return;
		}
		snprintf(why, sizeof(why), "%u rounds of calls", t->attempts + 1);
		lc_change(lc, o, OST_ERROR, WD_REASON_BACKEND_FAILED, why,
		    WARRANT__CAUSE__CAUSE_BACKEND, true, NULL);
		return;
	}
	if (t->t.type == WD_REQ_PRESERVATION) {
		/* Frozen: the task waits for its order's end (a clock). */
		if (!data)
			lc_change(lc, o, OST_DISCLOSURE_NOT_AVAILABLE, none, "",
			    WARRANT__CAUSE__CAUSE_BACKEND, true, NULL);
		return;
	}
	if (!data) {
		lc_change(lc, o, OST_DISCLOSURE_NOT_AVAILABLE, none, "",
		    WARRANT__CAUSE__CAUSE_BACKEND, true, NULL);
		return;
	}
	lc_pack(lc, o);
}

/* ---- interceptions at network elements (src/warrantd/x1_prov.c) -------------------- */

static void
lc_x1_task(const struct obj *o, struct x1prov_task *t)
{
	t->owner = o->owner;
	t->oid = o->oid;
	t->ref = o->ref;
	t->ids = o->u.task.t.ids;
	t->nids = o->u.task.t.nids;
	t->delivery_type = o->u.task.t.delivery_type;
}

/*
 * An interception is provisioned while its order is open and removed once
 * it is final, whatever ended it (cancel, lapse, end time, refusal). With
 * no element configured it waits in AwaitingProvisioning, as it always did.
 */
static void
lc_x1_progress(struct lifecycle *lc, const struct obj *o)
{
	struct x1prov_task t;

	if (lc->env.x1 == NULL)
		return;
	lc_x1_task(o, &t);
	if (obj_final(o))
		x1prov_deactivate(lc->env.x1, &t);
	else if (o->status == OST_AWAITING_PROVISIONING)
		x1prov_activate(lc->env.x1, &t);
}

/* The elements' verdict on an activation: Active, or Error with why. */
void
lc_x1_outcome(const char *owner, const char *oid, bool ok,
    enum wd_reason reason, const char *text, void *arg)
{
	struct lifecycle	*lc = arg;
	struct obj		*o;

	/* Busy: a record about it is pending, and brings it back here. */
	if (lc->stopping || lc_is_busy(lc, owner, oid) ||
	    (o = malloc(sizeof(*o))) == NULL)
		return;
	if (store_get(lc->env.store, owner, oid, o) == 1 &&
	    o->kind == HI1_OBJ_LITASK && !obj_final(o)) {
		if (ok && o->status == OST_AWAITING_PROVISIONING)
			lc_change(lc, o, OST_ACTIVE, WD_REASON_NONE,
			    "provisioned at every network element serving its "
			    "targets", WARRANT__CAUSE__CAUSE_NETWORK, false, NULL);
		else if (!ok)
			lc_change(lc, o, OST_ERROR, reason, text,
			    WARRANT__CAUSE__CAUSE_NETWORK, true, NULL);
	}
	free(o);
}

struct lc_x1_each {
	int	(*fn)(const struct x1prov_task *, bool, void *);
	void	*arg;
};

static int
lc_x1_each_one(const struct obj *o, void *arg)
{
	struct lc_x1_each	*e = arg;
	struct x1prov_task	 t;

	if (o->kind != HI1_OBJ_LITASK || obj_final(o))
		return 0;
	lc_x1_task(o, &t);
	return e->fn(&t, o->status == OST_ACTIVE, e->arg);
}

/* Every open interception, for the reconciliation. */
int
lc_x1_each(void *src, int (*fn)(const struct x1prov_task *, bool, void *),
    void *fnarg)
{
	struct lifecycle	*lc = src;
	struct lc_x1_each	 e = { fn, fnarg };

	return store_open_work(lc->env.store, lc_x1_each_one, &e);
}

static void
lc_progress_task(struct lifecycle *lc, const struct obj *o, struct lc_mark *m)
{
	if (o->status == OST_AWAITING_APPROVAL)
		return;		/* the desk decides first (lifecycle_desk_decide) */
	if (o->kind == HI1_OBJ_LITASK) {
		lc_x1_progress(lc, o);
		return;
	}
	if (obj_final(o)) {
		lc_cursor_drop(lc, m);
		if (!o->u.task.results_gone && (o->status != OST_DISCLOSED ||
		    o->u.task.parts == 0))
			lc_destroy(lc, o, "the task ended");
		return;
	}
	if (o->u.task.parts > 0) {
		/*
		 * A failed push booked the next one (lc_push_failed): it comes
		 * when lc_retries says so, not whenever a record about the task
		 * or its parts lands, or an endpoint that is down would be
		 * pushed to as fast as records can be written.
		 */
		if (m == NULL || !m->push_wait)
			lc_deliver(lc, o);
		return;
	}
	if (!obj_task_outcomes_done(o)) {
		/* Nothing in flight (a restart, a lost record): ask again. */
		if ((m == NULL || (m->calls == 0 && m->retry_at == 0)) &&
		    dispatch_task(lc, &lc->env, o, false) == -1)
			log_warnx("%s: task %s: calls could not start", o->ref,
			    o->oid);
		return;
	}
	lc_outcomes(lc, o);
}

void
lc_progress_obj(struct lifecycle *lc, const struct obj *o)
{
	struct lc_mark *m = lc_mark_find(lc, o->owner, o->oid, false);

	/* A pending record, an answer's claim, packaging: not now. */
	if (m != NULL && (m->busy > 0 || m->claims > 0 || m->packing))
		return;
	/* Pushes on their way: only more of the same, up to the window. */
	if (m != NULL && m->pushes > 0 && !lc_push_more(lc, o, m))
		return;
	switch (o->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		lc_progress_task(lc, o, m);
		break;
	case HI1_OBJ_DELIVERY:
		lc_progress(lc, o->owner, o->u.part.task_id);
		break;
	case HI1_OBJ_NOTIFICATION:
		if (m == NULL || !m->push_wait)	/* as for parts */
			lc_progress_note(lc, o);
		break;
	default:
		break;
	}
}

void
lc_progress(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct obj	*o;
	int		 rc;

	if (lc->stopping)	/* the next start picks it up from the store */
		return;
	if ((o = malloc(sizeof(*o))) == NULL)
		return;
	if ((rc = store_get(lc->env.store, owner, oid, o)) == 1)
		lc_progress_obj(lc, o);
	else if (rc == -1)
		log_warnx("lifecycle: object %s of %s cannot be read", oid, owner);
	free(o);
}
/* ---- legal clocks ----------------------------------------------------------- */

/*
 * An urgent order not ratified in time (CNPP art. 303): the order expires,
 * its tasks still running are cancelled (their results, undelivered, are
 * then destroyed), results already delivered are marked as obtained under
 * a lapsed order, and the authority is told. One record says all of it.
 */
static void
lc_lapse(struct lifecycle *lc, const struct obj *auth)
{
	struct lc_tasks	 c;
	struct lc_rec	*r;
	char		 detail[768], text[OBJ_NOTE_LEN];
	const char	*assoc[1] = { auth->oid };
	size_t		 delivered = 0;

	if (lc_order_tasks(lc, auth, &c) == -1)
		return;
	/* The order's reference is sealed in the journal: not in its detail. */
	snprintf(detail, sizeof(detail), "urgent order %s not ratified by its "
	    "deadline", auth->oid);
	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_URGENT_LAPSED, auth->owner,
	    auth->ref, detail)) == NULL) {
		free(c.v);
		return;
	}
	lc_rec_transition(r, auth, OST_EXPIRED, WD_REASON_LAPSED, "",
	    WARRANT__CAUSE__CAUSE_CLOCK);
	for (size_t i = 0; i < c.n; i++) {
		const struct obj *t = &c.v[i];

		if (!obj_final(t))
			lc_rec_transition(r, t, OST_CANCELLED, WD_REASON_LAPSED, "",
			    WARRANT__CAUSE__CAUSE_CLOCK);
		else if (t->status == OST_DISCLOSED) {
			/* Delivered before the lapse: say so, on the task. */
			lc_rec_transition(r, t, OST_DISCLOSED, WD_REASON_LAPSED,
			    "results were delivered before the order lapsed",
			    WARRANT__CAUSE__CAUSE_CLOCK);
			delivered++;
		}
	}
	snprintf(text, sizeof(text), "ES: La orden urgente %s no fue ratificada "
	    "por un juez dentro del plazo; quedó sin efecto, sus tareas fueron "
	    "canceladas y los resultados no entregados, destruidos%s. EN: Urgent "
	    "order %s was not ratified by a judge in time; it lapsed, its tasks "
	    "were cancelled and undelivered results destroyed%s.",
	    auth->u.auth.a.reference, delivered ? "; los ya entregados quedan "
	    "registrados como obtenidos bajo una orden caducada" : "",
	    auth->u.auth.a.reference, delivered ? "; results already delivered "
	    "are recorded as obtained under a lapsed order" : "");
	lc_rec_note(r, text, assoc, 1);
	log_warnx("%s: %s: lapsed (%zu task%s, %zu delivered before)", auth->ref,
	    detail, c.n, c.n == 1 ? "" : "s", delivered);
	lc_emit(lc, r, NULL, NULL);
	free(c.v);
}

/* An order past its EndTime: expired; its interceptions end with it. */
static void
lc_order_end(struct lifecycle *lc, const struct obj *auth)
{
	struct lc_tasks	 c;
	struct lc_rec	*r;

	if (lc_order_tasks(lc, auth, &c) == -1)
		return;
	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_OBJECT_CHANGED,
	    auth->owner, auth->ref, "the order's period ended")) != NULL) {
		lc_rec_transition(r, auth, OST_EXPIRED, WD_REASON_ORDER_ENDED, "",
		    WARRANT__CAUSE__CAUSE_CLOCK);
		for (size_t i = 0; i < c.n; i++)
			if (c.v[i].kind == HI1_OBJ_LITASK && !obj_final(&c.v[i]))
				lc_rec_transition(r, &c.v[i], OST_EXPIRED,
				    WD_REASON_ORDER_ENDED, "",
				    WARRANT__CAUSE__CAUSE_CLOCK);
		lc_emit(lc, r, NULL, NULL);
	}
	free(c.v);
}

/* A deadline warned or missed: one record, and the log says it loudly. */
static void
lc_deadline(struct lifecycle *lc, const struct obj *t, int which,
    const char *what, bool note)
{
	struct lc_rec *r;

	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_DEADLINE, t->owner, t->ref,
	    what)) == NULL)
		return;
	r->rec.error_code = (uint32_t)which;
	lc_rec_object(r, t->oid);
	if (note)
		lc_note_task(r, t, what);
	log_warnx("%s: task %s (%s): %s", t->ref, t->oid,
	    wd_reqtype_name(t->u.task.t.type), what);
	lc_emit(lc, r, NULL, NULL);
}

static void
lc_release_done(struct lifecycle *lc, int status, void *arg)
{
	struct lc_key	*k = arg;
	struct obj	*o;

	if (status == 0 && (o = malloc(sizeof(*o))) != NULL) {
		if (store_get(lc->env.store, k->owner, k->oid, o) == 1 &&
		    dispatch_task(lc, &lc->env, o, true) == -1)
			log_warnx("%s: preservation of task %s not released at "
			    "the back end", o->ref, o->oid);
		free(o);
	}
	free(k);
}

static void
lc_due_task(struct lifecycle *lc, const struct obj *o, int64_t now)
{
	const struct obj_task	*t = &o->u.task;
	char			 what[160];

	if (o->kind == HI1_OBJ_LITASK) {
		if (!obj_final(o) && now >= t->t.window_end_us)
			lc_change(lc, o, OST_EXPIRED, WD_REASON_ORDER_ENDED, "",
			    WARRANT__CAUSE__CAUSE_CLOCK, false, NULL);
		return;
	}
	if (obj_final(o)) {
		if (t->parts > 0 && !t->results_gone && now >= t->keep_until_us)
			lc_destroy(lc, o, "kept for re-fetch until its limit");
		return;
	}
	if (t->freeze_until_us != 0 && now >= t->freeze_until_us) {
		lc_change(lc, o, OST_CANCELLED, WD_REASON_PRESERVATION_ENDED, "",
		    WARRANT__CAUSE__CAUSE_CLOCK, true, lc_release_done);
		return;
	}
	if (t->parts > 0 && now >= t->keep_until_us) {
		lc_change(lc, o, OST_DISCLOSURE_NOT_AVAILABLE,
		    WD_REASON_RESULTS_EXPIRED, "", WARRANT__CAUSE__CAUSE_CLOCK,
		    true, NULL);
		return;
	}
	if (t->parts > 0 && !t->keep_warned && now >= t->keep_warn_us) {
		snprintf(what, sizeof(what), "results not delivered will be "
		    "destroyed in %lld h", (long long)((t->keep_until_us - now) /
		    3600000000LL));
		lc_deadline(lc, o, OBJ_DEADLINE_KEEP_WARN, what, true);
		return;
	}
	if (t->parts == 0 && !t->deadline_missed && t->answer_by_us != 0 &&
	    now >= t->answer_by_us) {
		snprintf(what, sizeof(what), "answer deadline passed %lld s ago "
		    "without an answer", (long long)((now - t->answer_by_us) /
		    1000000));
		lc_deadline(lc, o, OBJ_DEADLINE_ANSWER, what, false);
	}
}

static int
lc_due_one(const struct obj *o, void *arg)
{
	struct lifecycle	*lc = arg;
	int64_t			 now = lifecycle_now(lc);

	if (lc_is_busy(lc, o->owner, o->oid))
		return 0;
	switch (o->kind) {
	case HI1_OBJ_AUTHORISATION:
		if (o->status == OST_EMERGENCY_APPROVAL &&
		    now >= o->u.auth.ratify_by_us)
			lc_lapse(lc, o);
		else if (!obj_final(o) && now >= o->u.auth.a.valid_until_us)
			lc_order_end(lc, o);
		break;
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		lc_due_task(lc, o, now);
		break;
	default:
		break;
	}
	return 0;
}

/* A new round of calls for a task whose last round failed. */
static void
lc_round(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct obj	*o;
	struct lc_rec	*r;
	bool		 failed = false;
	char		 detail[64];

	if ((o = malloc(sizeof(*o))) == NULL)
		return;
	if (store_get(lc->env.store, owner, oid, o) != 1)
		goto out;
	if ((o->kind == HI1_OBJ_LDTASK) && !obj_final(o) && o->u.task.parts == 0 &&
	    obj_task_outcomes_done(o))
		for (size_t i = 0; i < o->u.task.t.nids; i++)
			failed |= o->u.task.outcome[i] - 1 >
			    BACKEND_OUTCOME_LAST_ANSWER;
	if (!failed || o->u.task.attempts + 1 >= lc->cfg.retry_rounds) {
		lc_progress_obj(lc, o);
		goto out;
	}
	snprintf(detail, sizeof(detail), "round %u of back-end calls",
	    o->u.task.attempts + 2);
	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_BACKEND_CALL, owner,
	    o->ref, detail)) != NULL) {
		lc_rec_object(r, oid);
		lc_emit(lc, r, NULL, NULL);	/* then progress starts the calls */
	}
out:
	free(o);
}

/* Marks whose retry time has come: look at them again. */
static void
lc_retries(struct lifecycle *lc, int64_t now)
{
	struct lc_mark	*m;
	char		 keys[LC_DUE_BATCH][LC_KEY_LEN];
	size_t		 n = 0;

	TAILQ_FOREACH(m, &lc->marks, entry)
		if (m->retry_at != 0 && m->retry_at <= now && n < LC_DUE_BATCH) {
			memcpy(keys[n++], m->key, LC_KEY_LEN);
			m->retry_at = 0;
			m->push_wait = false;
		}
	for (size_t i = 0; i < n; i++) {
		char *slash = strchr(keys[i], '/');

		if (slash == NULL)
			continue;
		*slash = '\0';
		if ((m = lc_mark_find(lc, keys[i], slash + 1, false)) != NULL)
			lc_mark_gc(lc, m);
		lc_round(lc, keys[i], slash + 1);
	}
}

void
lifecycle_tick(struct lifecycle *lc)
{
	int64_t now = lifecycle_now(lc);

	if (lc->stopping)
		return;
	lc_retries(lc, now);
	if (store_due(lc->env.store, now, LC_DUE_BATCH, lc_due_one, lc) == -1)
		log_warnx("lifecycle: the clocks cannot read the object store");
}
