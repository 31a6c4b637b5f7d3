/*
 * lifecycle_plan — the authority's changing messages and the desk's
 * decisions (src/warrantd/lifecycle.c keeps the marks and records): a CREATE
 * or UPDATE planned into one record (objects reserved, transitions checked),
 * and what is done once such a change is recorded: accepted, gated for
 * review, decided at the desk, updated, delivered, released.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle_int.h"
#include "log.h"
#include "store.h"

/* ---- planning a changing message ----------------------------------------- */

static void
lc_reserve(struct lifecycle *lc, struct lc_plan *p, const char *oid)
{
	struct lc_mark *m;

	if (p->nreserved == LC_PLAN_MAX ||
	    (m = lc_mark_find(lc, p->owner, oid, true)) == NULL)
		return;
	m->busy++;
	snprintf(p->reserved[p->nreserved++], HI1_UUID_LEN + 1, "%s", oid);
}

void
lifecycle_plan_done(struct lifecycle *lc, struct lc_plan *p)
{
	for (size_t i = 0; i < p->nreserved; i++) {
		struct lc_mark *m = lc_mark_find(lc, p->owner, p->reserved[i],
		    false);

		if (m != NULL && m->busy > 0) {
			m->busy--;
			lc_mark_gc(lc, m);
		}
	}
	/* What the message changed may now have work (a cancel: destroy). */
	for (size_t i = 0; i < p->nreserved; i++)
		lc_progress(lc, p->owner, p->reserved[i]);
	p->nreserved = 0;
}

/* The answer deadline of a new task (LFTR art. 190; docs/config.md). */
static int64_t
lc_answer_by(const struct lifecycle *lc, const struct hi1_task *t, int64_t now)
{
	int64_t d = lc->cfg.answer_us[t->type];

	if (t->type == WD_REQ_RECORDS && t->has_window &&
	    t->window_start_us < now - 365LL * 86400 * 1000000)
		d = lc->cfg.answer_old_records_us;
	return d > 0 ? now + d : 0;
}

/* A CREATE's object against the store: 0 new, 1 held identically, -1 refused. */
static int
lc_plan_create(struct lifecycle *lc, struct lc_plan *p, uint32_t action,
    const char *oid, const uint8_t content[32], enum hi1_kind kind,
    struct obj *held, struct wd_error *err)
{
	int rc;

	if (lc_is_busy(lc, p->owner, oid)) {
		wd_error_set_action(err, WD_ERR_IN_PROGRESS, action, "object %s "
		    "is being created or changed by another message", oid);
		return -1;
	}
	if ((rc = store_get(lc->env.store, p->owner, oid, held)) == -1) {
		wd_error_set(err, WD_ERR_STORAGE, "the object store cannot be read");
		return -1;
	}
	if (rc == 0)
		return 0;
	if (held->kind != kind || memcmp(held->content, content, 32) != 0) {
		wd_error_set_action(err, WD_ERR_OBJECT_EXISTS, action, "object %s "
		    "was created by %s with other content", oid, held->ref);
		return -1;
	}
	snprintf(p->ref, sizeof(p->ref), "%s", held->ref);
	return 1;
}

static int
lc_plan_creates(struct lifecycle *lc, const struct hi1_request *req,
    struct lc_plan *p, struct obj *held, struct wd_error *err)
{
	size_t		 nheld = 0, nnew = 0, k = 0;
	int		 rc;
	uint32_t	 first = 0;
	uint8_t		 c[32];
	int64_t		 now = lifecycle_now(lc);

	for (size_t i = 0; i < req->nactions; i++) {
		const struct hi1_action *a = &req->actions[i];

		if (a->verb != HI1_VERB_CREATE)
			continue;
		if (a->kind == HI1_OBJ_AUTHORISATION) {
			const struct hi1_authorisation *au = &req->auths[a->index];
			struct obj_pb_auth pa;

			p->ratify_by_us[a->index] = au->urgent ?
			    au->approved_us + lc->cfg.ratify_us : 0;
			obj_auth_pb(au, 0, &pa);
			obj_content_auth(&pa.auth, c);
		} else if (a->kind == HI1_OBJ_DOCUMENT) {
			struct obj_pb_doc pd;

			obj_doc_pb(&req->docs[a->index], &pd);
			obj_content_doc(&pd.doc, c);
		} else {
			const struct hi1_task *t = &req->tasks[a->index];
			struct obj_pb_task pt;

			p->answer_by_us[a->index] = lc_answer_by(lc, t, now);
			obj_task_pb(t, req->auths[t->auth_index].object_id, 0, &pt);
			obj_content_task(&pt.task, c);
		}
		rc = lc_plan_create(lc, p, a->action_id, hi1_action_object(req, a),
		    c, a->kind == HI1_OBJ_LITASK || a->kind == HI1_OBJ_LDTASK ?
		    (req->tasks[a->index].type == WD_REQ_INTERCEPTION ?
		    HI1_OBJ_LITASK : HI1_OBJ_LDTASK) : a->kind, held, err);
		if (rc == -1)
			return -1;
		if (rc == 1 && nheld++ == 0)
			first = a->action_id;
		nnew += rc == 0;
		k++;
	}
	if (nheld > 0 && (nnew > 0 || req->nupdates > 0)) {
		wd_error_set_action(err, WD_ERR_OBJECT_EXISTS, first, "the message "
		    "repeats objects already held (%s) and %s", p->ref, nnew > 0 ?
		    "creates new ones" : "changes others");
		return -1;
	}
	p->repeat = k > 0 && nheld == k;
	return 0;
}

/* A transition in the plan (the request's own record carries it). */
static Warrant__Transition *
lc_plan_transition(struct lc_plan *p, const struct obj *o, enum obj_status st,
    enum wd_reason reason)
{
	Warrant__Transition	*t;
	size_t			 i = p->ntr;

	if (i == LC_PLAN_MAX)
		return NULL;
	t = &p->tr[i];
	warrant__transition__init(t);
	snprintf(p->oid[i], sizeof(p->oid[i]), "%s", o->oid);
	snprintf(p->refs[i], sizeof(p->refs[i]), "%s", o->ref);
	t->kind = (Warrant__ObjectKind)o->kind;
	t->object_id = p->oid[i];
	t->carrier_ref = p->refs[i];
	t->generation = o->generation + 1;
	t->status = (char *)obj_status_name(st);
	t->previous_status = (char *)obj_status_name(o->status);
	t->reason_code = reason;
	t->reason_text = (char *)"";
	t->cause = WARRANT__CAUSE__CAUSE_AUTHORITY;
	p->trp[i] = t;
	p->ntr++;
	return t;
}

static int
lc_collect_tasks(const struct obj *o, void *arg)
{
	struct lc_tasks	*c = arg;
	struct obj	*nv;

	if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
	    (c->auth_id != NULL && strcmp(o->u.task.auth_id, c->auth_id) != 0))
		return 0;
	if (c->n == c->cap) {
		if ((nv = reallocarray(c->v, c->cap ? c->cap * 2 : 8,
		    sizeof(*nv))) == NULL)
			return -1;
		c->v = nv;
		c->cap = c->cap ? c->cap * 2 : 8;
	}
	c->v[c->n++] = *o;
	return 0;
}

int
lc_order_tasks(struct lifecycle *lc, const struct obj *auth, struct lc_tasks *c)
{
	memset(c, 0, sizeof(*c));
	c->auth_id = auth->oid;
	return store_by_ref(lc->env.store, auth->owner, auth->ref,
	    lc_collect_tasks, c);
}

static int
lc_plan_cancel(struct lc_plan *p, const struct hi1_update *u,
    const struct obj *o, struct wd_error *err)
{
	if (obj_final(o)) {
		wd_error_set_action(err, WD_ERR_STATE, u->action_id, "task %s is "
		    "%s: there is nothing to cancel", o->oid,
		    obj_status_name(o->status));
		return -1;
	}
	if (lc_plan_transition(p, o, OST_CANCELLED, WD_REASON_CANCELLED) == NULL)
		return -1;
	return 0;
}

static int
lc_plan_ratify(struct lifecycle *lc, struct lc_plan *p,
    const struct hi1_update *u, const struct obj *o, Warrant__Transition *t,
    struct wd_error *err)
{
	size_t k = p->ntr - 1;

	if (!o->u.auth.a.urgent || o->status != OST_EMERGENCY_APPROVAL) {
		/* No order reference: this text goes to the journal and log. */
		wd_error_set_action(err, WD_ERR_STATE, u->action_id, "the order "
		    "is %s %s: only an urgent order awaiting ratification can be "
		    "ratified", o->u.auth.a.urgent ?
		    "an urgent order now" : "a judicial order,",
		    obj_status_name(o->status));
		return -1;
	}
	if (lifecycle_now(lc) >= o->u.auth.ratify_by_us) {
		wd_error_set_action(err, WD_ERR_STATE, u->action_id, "the "
		    "ratification deadline of the order has passed: it lapses");
		return -1;
	}
	obj_approval_pb(&u->approval, &p->approval[k]);
	t->approval = &p->approval[k];
	t->status = (char *)obj_status_name(OST_APPROVED);
	for (size_t i = 0; i < u->ndocs; i++)
		p->docs[k][i] = (char *)u->docs[i];
	t->n_documents = u->ndocs;
	t->documents = p->docs[k];
	return 0;
}

/* An extension: every task of the order is a preservation still in force. */
static int
lc_plan_extend(struct lifecycle *lc, struct lc_plan *p,
    const struct hi1_update *u, const struct obj *o, Warrant__Transition *t,
    struct wd_error *err)
{
	struct lc_tasks	 c;
	int64_t		 max = lifecycle_now(lc) + lc->cfg.preservation_max_us;
	int		 rc = -1;

	if (u->valid_from_us != o->u.auth.a.valid_from_us) {
		wd_error_set_action(err, WD_ERR_NOT_CHANGEABLE, u->action_id,
		    "an extension keeps the order's StartTime");
		return -1;
	}
	if (u->valid_until_us <= o->u.auth.a.valid_until_us) {
		wd_error_set_action(err, WD_ERR_STATE, u->action_id, "the new "
		    "EndTime is not later than the current one");
		return -1;
	}
	if (u->valid_until_us > max) {
		wd_error_set_action(err, WD_ERR_EXTENSION_LIMIT, u->action_id,
		    "a preservation may be extended to at most %lld days from "
		    "now", (long long)(lc->cfg.preservation_max_us / 86400000000LL));
		return -1;
	}
	if (lc_order_tasks(lc, o, &c) == -1) {
		wd_error_set(err, WD_ERR_STORAGE, "the object store cannot be read");
		return -1;
	}
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].u.task.t.type != WD_REQ_PRESERVATION) {
			wd_error_set_action(err, WD_ERR_NOT_CHANGEABLE, u->action_id,
			    "only an order for preservation can be extended; "
			    "task %s is %s", c.v[i].oid,
			    wd_reqtype_name(c.v[i].u.task.t.type));
			goto out;
		}
	t->valid_until_us = u->valid_until_us;
	/* The preservations follow their order. */
	for (size_t i = 0; i < c.n; i++) {
		Warrant__Transition *tt;

		if (obj_final(&c.v[i]))
			continue;
		if ((tt = lc_plan_transition(p, &c.v[i], c.v[i].status, 0)) == NULL)
			goto out;
		tt->valid_until_us = u->valid_until_us;
		lc_reserve(lc, p, c.v[i].oid);
	}
	rc = 0;
out:
	free(c.v);
	return rc;
}

static int
lc_plan_update(struct lifecycle *lc, struct lc_plan *p,
    const struct hi1_update *u, struct obj *o, struct wd_error *err)
{
	Warrant__Transition	*t;
	int			 rc;

	if (lc_is_busy(lc, p->owner, u->object_id)) {
		wd_error_set_action(err, WD_ERR_IN_PROGRESS, u->action_id, "object "
		    "%s is being changed now: retry", u->object_id);
		return -1;
	}
	if ((rc = store_get(lc->env.store, p->owner, u->object_id, o)) == -1) {
		wd_error_set(err, WD_ERR_STORAGE, "the object store cannot be read");
		return -1;
	}
	if (rc == 0 || o->kind != u->kind) {
		wd_error_set_action(err, WD_ERR_NO_SUCH_OBJECT, u->action_id, "no "
		    "%sObject %s is held for %s", hi1_kind_type(u->kind),
		    u->object_id, p->owner);
		return -1;
	}
	if (o->generation != u->generation) {
		wd_error_set_action(err, WD_ERR_GENERATION, u->action_id, "object "
		    "%s is at Generation %u, not %u: GET it and decide again",
		    o->oid, o->generation, u->generation);
		return -1;
	}
	if (u->cancel)
		rc = lc_plan_cancel(p, u, o, err);
	else if ((t = lc_plan_transition(p, o, o->status, 0)) == NULL)
		rc = -1;
	else {
		rc = 0;
		if (u->ratify)
			rc = lc_plan_ratify(lc, p, u, o, t, err);
		if (rc == 0 && u->extend)
			rc = lc_plan_extend(lc, p, u, o, t, err);
	}
	if (rc == 0) {
		snprintf(p->ref, sizeof(p->ref), "%s", o->ref);
		lc_reserve(lc, p, o->oid);
	}
	return rc;
}

int
lifecycle_plan(struct lifecycle *lc, const char *owner,
    const struct hi1_request *req, struct lc_plan *p, struct wd_error *err)
{
	struct obj	*o;
	int		 rc = -1;

	memset(p, 0, sizeof(*p));
	snprintf(p->owner, sizeof(p->owner), "%s", owner);
	if ((o = malloc(sizeof(*o))) == NULL) {
		wd_error_set(err, WD_ERR_INTERNAL, "out of memory");
		return -1;
	}
	if (lc_plan_creates(lc, req, p, o, err) == -1)
		goto out;
	for (size_t i = 0; i < req->nupdates; i++)
		if (lc_plan_update(lc, p, &req->updates[i], o, err) == -1)
			goto out;
	if (!p->repeat)
		for (size_t i = 0; i < req->nactions; i++)
			if (req->actions[i].verb == HI1_VERB_CREATE)
				lc_reserve(lc, p, hi1_action_object(req,
				    &req->actions[i]));
	rc = 0;
out:
	if (rc == -1)
		lifecycle_plan_done(lc, p);
	free(o);
	return rc;
}
/* ---- the authority's changes, once recorded -------------------------------- */

void
lifecycle_accepted(struct lifecycle *lc, const char *owner, const char *ref,
    const struct hi1_request *req, const char *official_fp, unsigned wait_ms,
    lifecycle_ready_cb ready, void *arg)
{
	dispatch_start(lc, &lc->env, owner, req, ref, official_fp, wait_ms,
	    ready, arg);
}

bool
lifecycle_gated(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct obj	*o;
	bool		 gated = false;

	if ((o = malloc(sizeof(*o))) == NULL)
		return true;	/* unsure: the desk's approval starts it */
	if (store_get(lc->env.store, owner, oid, o) == 1)
		gated = o->status == OST_AWAITING_APPROVAL;
	free(o);
	return gated;
}

struct lc_desk_done {
	lifecycle_desk_cb	 cb;
	void			*arg;
};

static void
lc_desk_journaled(struct lifecycle *lc, int status, void *arg)
{
	struct lc_desk_done *d = arg;

	(void)lc;
	d->cb(status, d->arg);
	free(d);
}

int
lifecycle_desk_decide(struct lifecycle *lc, const struct lc_desk_decision *dd,
    lifecycle_desk_cb cb, void *arg)
{
	struct obj		*o;
	struct lc_rec		*r = NULL;
	struct lc_mark		*m;
	struct lc_desk_done	*d = NULL;
	enum obj_status		 st;
	int			 rc;

	if ((o = malloc(sizeof(*o))) == NULL)
		return LC_DESK_ERROR;
	if ((rc = store_get(lc->env.store, dd->owner, dd->oid, o)) != 1) {
		free(o);
		return rc == 0 ? LC_DESK_NOT_FOUND : LC_DESK_ERROR;
	}
	if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
	    o->status != OST_AWAITING_APPROVAL) {
		free(o);
		return LC_DESK_STATE;
	}
	m = lc_mark_find(lc, dd->owner, dd->oid, false);
	if (m != NULL && m->busy > 0) {
		free(o);
		return LC_DESK_BUSY;
	}
	st = !dd->approve ? OST_REJECTED : o->kind == HI1_OBJ_LITASK ?
	    OST_AWAITING_PROVISIONING : OST_AWAITING_DISCLOSURE;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_DESK_ACTION, dd->owner,
	    o->ref, NULL)) == NULL ||
	    lc_rec_transition(r, o, st, dd->approve ? WD_REASON_NONE :
	    WD_REASON_REJECTED, dd->approve ? NULL : dd->reason,
	    WARRANT__CAUSE__CAUSE_DESK) == -1) {
		free(d);
		lc_rec_free(r);
		free(o);
		return LC_DESK_ERROR;
	}
	free(o);
	r->rec.official_id = (char *)dd->operator_fp;
	r->rec.peer = (char *)(dd->peer ? dd->peer : "");
	r->rec.desk = dd->action;
	d->cb = cb;
	d->arg = arg;
	/* Once durable, lc_journaled() looks at the task: an approval starts it. */
	if (lc_emit(lc, r, lc_desk_journaled, d) == -1) {
		free(d);
		return LC_DESK_ERROR;
	}
	return 0;
}

void
lifecycle_updated(struct lifecycle *lc, const char *owner,
    const struct hi1_request *req, const struct lc_plan *plan)
{
	struct obj	*o;

	(void)req;
	if ((o = malloc(sizeof(*o))) == NULL)
		return;
	for (size_t i = 0; i < plan->ntr; i++) {
		const Warrant__Transition *t = plan->trp[i];

		if (store_get(lc->env.store, owner, t->object_id, o) != 1 ||
		    o->kind != HI1_OBJ_LDTASK ||
		    o->u.task.t.type != WD_REQ_PRESERVATION)
			continue;
		/* A preservation cancelled: release; extended: freeze longer. */
		if (o->status == OST_CANCELLED)
			dispatch_task(lc, &lc->env, o, true);
		else if (t->valid_until_us != 0) {
			memset(o->u.task.outcome, 0, sizeof(o->u.task.outcome));
			dispatch_task(lc, &lc->env, o, false);
		}
	}
	free(o);
	/* Cancelled tasks: the record's progress destroys their results. */
}

/* Quick results carried in the answer: one part each, born delivered. */
size_t
lifecycle_delivered_record(struct lifecycle *lc, const char *owner,
    const char *ref, struct dispatch_delivery *v, size_t n,
    Warrant__Record *rec, void **storage)
{
	struct lc_rec	*r;
	struct obj	*o;
	size_t		 k = 0;

	*storage = NULL;
	if (n == 0 || n > LC_REC_TR_MAX || (r = lc_rec_new(
	    WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED, owner, ref,
	    "carried in the acceptance")) == NULL ||
	    (o = malloc(sizeof(*o))) == NULL)
		return 0;
	r->parts = calloc(n, sizeof(*r->parts));
	r->partp = calloc(n, sizeof(*r->partp));
	for (size_t i = 0; r->parts && r->partp && i < n; i++) {
		Warrant__DeliveryPart *p = &r->parts[k];

		if (store_get(lc->env.store, owner, v[i].task_oid, o) != 1 ||
		    obj_final(o))
			continue;
		hi1_uuid(v[i].part_oid, sizeof(v[i].part_oid));
		hi1_uuid(v[i].delivery_id, sizeof(v[i].delivery_id));
		v[i].recorded = true;
		warrant__delivery_part__init(p);
		p->object_id = (char *)v[i].part_oid;
		p->task_id = (char *)v[i].task_oid;
		p->delivery_id = (char *)v[i].delivery_id;
		p->ldid = (char *)v[i].ldid;
		p->sequence = p->parts = 1;
		p->last = true;
		p->sha256.data = (uint8_t *)v[i].sha256;
		p->sha256.len = 32;
		p->count = 1;
		p->size = v[i].doc_len;
		p->result_name = (char *)v[i].result_name;
		r->partp[k++] = p;
		lc_rec_transition(r, o, OST_DISCLOSED, 0, "",
		    WARRANT__CAUSE__CAUSE_AUTHORITY);
		lc_rec_object(r, o->oid);	/* its data is not kept */
	}
	free(o);
	r->rec.parts = r->partp;
	r->rec.n_parts = k;
	*rec = r->rec;
	*storage = r;
	return k;
}

/*
 * Quick results recorded as carried in an answer that was then never
 * written: the client hung up after that record was durable. One record
 * says so, naming each task and its part; the caller keeps the stored
 * copies (the part's GET hands them over, the keep sweep ends them).
 */
void
lifecycle_undelivered(struct lifecycle *lc, const char *owner,
    const char *ref, const struct dispatch_delivery *v, size_t n)
{
	struct lc_rec	*r;

	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_DELIVERY_FAILED, owner,
	    ref, "carried in the acceptance, not delivered: the client hung "
	    "up before the answer was written; kept for GET")) == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i].recorded) {
			lc_rec_object(r, v[i].task_oid);
			lc_rec_object(r, v[i].part_oid);
		}
	log_warnx("%s: the client hung up before the answer carrying its "
	    "results was written: recorded as not delivered", ref);
	if (lc_emit(lc, r, NULL, NULL) == -1)
		log_warnx("%s: results not delivered, and the journal could not "
		    "record it", ref);
}

void
lifecycle_release(struct lifecycle *lc, const char *owner,
    const struct dispatch_delivery *v, size_t n)
{
	/* Held results not delivered are stored first (dispatch.h). */
	dispatch_settle(lc, &lc->env, owner, v, n);
}

void
lifecycle_record_free(void *storage)
{
	lc_rec_free(storage);
}
