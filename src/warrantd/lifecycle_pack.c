/*
 * lifecycle_pack — a task's results packaged into parts on a worker thread
 * (src/warrantd/ldpack.c writes them; the manifest beside them), the parts
 * recorded once durable, and results destroyed when a task ends without
 * delivery.
 */
#include "config.h"

#include <sys/queue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lifecycle_int.h"
#include "log.h"
#include "purge.h"
#include "store.h"
#include "wd_wake.h"

/* ---- packaging results into parts (a worker thread) ----------------------- */

/* The journaled digest of a stored answer, or NULL where none was recorded
 * (a store from before digests were kept): zeros are never a SHA-256. */
static const uint8_t *
lc_sha256_or_null(const uint8_t sha[32])
{
	static const uint8_t	zero[32];

	return memcmp(sha, zero, sizeof(zero)) == 0 ? NULL : sha;
}

/* The manifest, kept in the results store beside the parts. */
static int
lc_pack_manifest(struct lc_pack *j)
{
	struct results_writer	*w;
	char			*m;
	size_t			 len = 0;

	if ((m = ldpack_manifest(j->pk, j->delivery_id, &len)) == NULL) {
		snprintf(j->why, sizeof(j->why), "manifest not built");
		return -1;
	}
	EVP_Digest(m, len, j->manifest_sha256, NULL, EVP_sha256(), NULL);
	if (snprintf(j->manifest_name, sizeof(j->manifest_name), "%s.m",
	    j->prefix) >= (int)sizeof(j->manifest_name)) {
		free(m);
		snprintf(j->why, sizeof(j->why), "manifest name too long");
		return -1;
	}
	if ((w = results_create(j->lc->env.results, j->manifest_name)) == NULL ||
	    results_append(w, m, len) == -1 || results_finish(w, 1) == -1) {
		if (w != NULL)
			results_abort(w);
		free(m);
		snprintf(j->why, sizeof(j->why), "manifest not stored");
		return -1;
	}
	free(m);
	return 0;
}

static void *
lc_pack_thread(void *arg)
{
	struct lc_pack		*j = arg;
	struct ldpack_args	 a;

	memset(&a, 0, sizeof(a));
	a.store = j->lc->env.results;
	a.carrier_ref = j->task.ref;
	a.task = &j->task.u.task.t;
	a.outcomes = j->outcomes;
	a.part_max = j->lc->cfg.part_max;
	a.prefix = j->prefix;
	if ((j->pk = ldpack_pack(&a, j->why, sizeof(j->why))) != NULL &&
	    lc_pack_manifest(j) == -1) {
		ldpack_free(j->pk);
		j->pk = NULL;
	}
	if (wd_wake_signal(j->done) == -1)
		fatal("lifecycle: packaging wake-up");
	return NULL;
}

static void lc_packed(void *);

/*
 * An answer's outcome is journaled, but its result is not in the store:
 * a result held for an acceptance (dispatch.h) when the daemon stopped
 * before it was either delivered or stored. Its identifiers are asked
 * again, like a lost outcome, rather than the task failing. true if so
 * (or if that call is under way).
 */
static bool
lc_pack_missing(struct lifecycle *lc, const struct obj *o)
{
	const struct obj_task	*t = &o->u.task;
	struct lc_mark		*m;
	struct obj		*c;
	char			 name[RESULTS_NAME_MAX];
	bool			 missing = false;

	if ((m = lc_mark_find(lc, o->owner, o->oid, false)) != NULL &&
	    m->calls > 0)
		return true;
	if ((c = malloc(sizeof(*c))) == NULL)
		return false;
	*c = *o;
	for (size_t i = 0; i < t->t.nids; i++) {
		if (t->outcome[i] != BACKEND_OK + 1)
			continue;
		snprintf(name, sizeof(name), "%s.%u.%zu", o->ref,
		    t->t.action_id, i);
		if (!results_exists(lc->env.results, name)) {
			c->u.task.outcome[i] = OBJ_OUTCOME_PENDING;
			missing = true;
		}
	}
	if (missing) {
		log_warnx("%s: task %s: a recorded result is not in the results "
		    "store (not yet stored when the daemon stopped); the back "
		    "end is asked again", o->ref, o->oid);
		if (dispatch_task(lc, &lc->env, c, false) == -1)
			lc_schedule_retry(lc, o);
	}
	free(c);
	return missing;
}

void
lc_pack(struct lifecycle *lc, const struct obj *o)
{
	const struct obj_task	*t = &o->u.task;
	struct lc_mark		*m;
	struct lc_pack		*j;

	if (lc->env.results == NULL) {
		lc_change(lc, o, OST_ERROR, WD_REASON_BACKEND_FAILED, "no results "
		    "store to keep the results in", WARRANT__CAUSE__CAUSE_GATEWAY,
		    true, NULL);
		return;
	}
	if (lc_pack_missing(lc, o))
		return;
	if ((m = lc_mark_find(lc, o->owner, o->oid, true)) == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->lc = lc;
	j->task = *o;
	for (size_t i = 0; i < t->t.nids; i++) {
		if (t->outcome[i] == BACKEND_OK + 1) {
			snprintf(j->names[i], sizeof(j->names[i]), "%s.%u.%zu",
			    o->ref, t->t.action_id, i);
			j->outcomes[i].result = j->names[i];
			/* j->task's copy: the thread outlives *o. */
			j->outcomes[i].sha256 = lc_sha256_or_null(
			    j->task.u.task.result_sha256[i]);
		} else
			j->outcomes[i].reason = t->outcome[i] - 1 ==
			    BACKEND_NOT_RETAINED ? HI1_RESULT_NOT_RETAINED :
			    t->outcome[i] - 1 == BACKEND_OUTSIDE_RETENTION ?
			    HI1_RESULT_OUTSIDE_RETENTION : HI1_RESULT_NOT_FOUND;
	}
	snprintf(j->prefix, sizeof(j->prefix), "%s.%u.d", o->ref, t->t.action_id);
	hi1_uuid(j->delivery_id, sizeof(j->delivery_id));
	if ((j->done = wd_wake_new(lc->env.base, lc_packed, j, 1)) == NULL ||
	    pthread_create(&j->thread, NULL, lc_pack_thread, j) != 0) {
		log_warnx("%s: task %s: cannot start packaging its results",
		    o->ref, o->oid);
		wd_wake_free(j->done);
		free(j);
		lc_schedule_retry(lc, o);
		return;
	}
	m->packing = true;
	lc->packers++;
	TAILQ_INSERT_TAIL(&lc->packs, j, entry);
}

/* The parts, with their digests and counts, into one record. */
static struct lc_rec *
lc_pack_record(struct lifecycle *lc, struct lc_pack *j)
{
	struct ldpack	*pk = j->pk;
	struct lc_rec	*r;
	char		 detail[160];
	int64_t		 now = lifecycle_now(lc);

	snprintf(detail, sizeof(detail), "task %s: %zu part%s, %llu records",
	    j->task.oid, pk->nparts, pk->nparts == 1 ? "" : "s",
	    (unsigned long long)pk->records);
	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_DELIVERY_READY,
	    j->task.owner, j->task.ref, detail)) == NULL)
		return NULL;
	r->parts = calloc(pk->nparts, sizeof(*r->parts));
	r->partp = calloc(pk->nparts, sizeof(*r->partp));
	if (r->parts == NULL || r->partp == NULL) {
		lc_rec_free(r);
		return NULL;
	}
	for (size_t i = 0; i < pk->nparts; i++) {
		Warrant__DeliveryPart	*p = &r->parts[i];
		struct ldpack_part	*lp = &pk->parts[i];

		warrant__delivery_part__init(p);
		if ((p->object_id = malloc(HI1_UUID_LEN + 1)) == NULL) {
			for (size_t k = 0; k < i; k++)
				free(r->parts[k].object_id);
			lc_rec_free(r);
			return NULL;
		}
		hi1_uuid(p->object_id, HI1_UUID_LEN + 1);
		p->task_id = j->task.oid;
		p->delivery_id = j->delivery_id;
		p->ldid = j->task.u.task.t.reference;
		p->sequence = lp->seq;
		p->parts = (uint32_t)pk->nparts;
		p->last = lp->seq == pk->nparts;
		p->sha256.data = lp->sha256;
		p->sha256.len = 32;
		p->count = lp->records;
		p->size = lp->size;
		p->result_name = lp->name;
		p->identifier_index = lp->id_index;
		p->keep_until_us = now + lc->cfg.keep_us;
		p->keep_warn_us = now + lc->cfg.keep_us - lc->cfg.keep_warn_us;
		if (p->last) {
			p->manifest_sha256.data = j->manifest_sha256;
			p->manifest_sha256.len = 32;
			p->manifest_name = j->manifest_name;
		}
		r->partp[i] = p;
	}
	r->rec.parts = r->partp;
	r->rec.n_parts = pk->nparts;
	return r;
}

/* Parts recorded: the back end's raw answers are no longer needed. */
static void
lc_pack_recorded(struct lifecycle *lc, int status, void *arg)
{
	struct lc_pack	*j = arg;
	struct lc_mark	*m = lc_mark_find(lc, j->task.owner, j->task.oid, false);

	if (m != NULL) {
		m->packing = false;
		lc_mark_gc(lc, m);
	}
	if (status == 0) {
		for (size_t i = 0; i < j->task.u.task.t.nids; i++)
			if (j->names[i][0] != '\0')
				purge_queue(lc->env.purge, j->names[i]);
		lc_progress(lc, j->task.owner, j->task.oid);
	} else {
		/* Not recorded: the parts are orphans; package again later. */
		for (size_t i = 0; i < j->pk->nparts; i++)
			purge_queue(lc->env.purge, j->pk->parts[i].name);
		purge_queue(lc->env.purge, j->manifest_name);
		lc_schedule_retry(lc, &j->task);
	}
	ldpack_free(j->pk);
	free(j);
}

static void
lc_packed(void *arg)
{
	struct lc_pack		*j = arg;
	struct lifecycle	*lc = j->lc;
	struct lc_rec		*r;
	struct lc_mark		*m;

	pthread_join(j->thread, NULL);
	wd_wake_free(j->done);
	lc->packers--;
	TAILQ_REMOVE(&lc->packs, j, entry);
	if (j->pk == NULL) {
		log_warnx("%s: task %s: results not packaged: %s", j->task.ref,
		    j->task.oid, j->why);
		if ((m = lc_mark_find(lc, j->task.owner, j->task.oid, false))) {
			m->packing = false;
			lc_mark_gc(lc, m);
		}
		lc_change(lc, &j->task, OST_ERROR, WD_REASON_BACKEND_FAILED,
		    "its results could not be packaged", WARRANT__CAUSE__CAUSE_GATEWAY,
		    true, NULL);
		free(j);
		return;
	}
	r = lc_pack_record(lc, j);
	if (r == NULL) {
		lc_pack_recorded(lc, -1, j);
		return;
	}
	/* The uuids live in the record's parts until it is copied. */
	{
		Warrant__DeliveryPart *parts = r->parts;
		size_t n = r->rec.n_parts;

		r->parts = NULL;	/* lc_emit frees r; we free the uuids */
		if (lc_emit(lc, r, lc_pack_recorded, j) == -1)
			lc_pack_recorded(lc, -1, j);
		for (size_t i = 0; i < n; i++)
			free(parts[i].object_id);
		free(parts);
	}
}

/* ---- destroying results ----------------------------------------------------- */

struct lc_destroy {
	char	**names;
	size_t	  n;
};

int
lc_collect(const struct obj *o, void *arg)
{
	struct lc_parts	*c = arg;
	struct obj	*nv;

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
lc_task_parts(struct lifecycle *lc, const struct obj *task, struct lc_parts *c)
{
	memset(c, 0, sizeof(*c));
	if (store_parts(lc->env.store, task->owner, task->oid, lc_collect, c) == -1) {
		free(c->v);
		c->v = NULL;
		return -1;
	}
	return 0;
}

static void
lc_destroyed(struct lifecycle *lc, int status, void *arg)
{
	struct lc_destroy *d = arg;

	for (size_t i = 0; i < d->n; i++) {
		if (status == 0)
			purge_queue(lc->env.purge, d->names[i]);
		free(d->names[i]);
	}
	free(d->names);
	free(d);
}

/*
 * A task's results are destroyed: its back end's answers and every part
 * not yet destroyed. One record says so (which parts, which task), then
 * the files go; a crash in between leaves files the orphan sweep removes.
 */
void
lc_destroy(struct lifecycle *lc, const struct obj *task, const char *why)
{
	struct lc_parts		 c;
	struct lc_rec		*r;
	struct lc_destroy	*d;
	const struct obj_task	*t = &task->u.task;
	char			 detail[256];
	size_t			 k = 0;

	if (lc_task_parts(lc, task, &c) == -1)
		return;
	snprintf(detail, sizeof(detail), "results of task %s destroyed: %s",
	    task->oid, why);
	r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED, task->owner,
	    task->ref, detail);
	d = calloc(1, sizeof(*d));
	if (r == NULL || d == NULL || (d->names = calloc(2 * c.n + t->t.nids,
	    sizeof(char *))) == NULL ||
	    (c.n > 0 && ((r->parts = calloc(c.n, sizeof(*r->parts))) == NULL ||
	    (r->partp = calloc(c.n, sizeof(*r->partp))) == NULL))) {
		lc_rec_free(r);
		free(d);
		free(c.v);
		return;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct obj_part *p = &c.v[i].u.part;

		if (p->destroyed)
			continue;
		obj_part_pb(c.v[i].oid, p, &r->parts[k]);
		r->partp[k] = &r->parts[k];
		k++;
		d->names[d->n++] = strdup(p->result_name);
		if (p->manifest_name[0] != '\0')
			d->names[d->n++] = strdup(p->manifest_name);
	}
	for (size_t i = 0; i < t->t.nids; i++) {
		char name[RESULTS_NAME_MAX];

		snprintf(name, sizeof(name), "%s.%u.%zu", task->ref,
		    t->t.action_id, i);
		d->names[d->n++] = strdup(name);
	}
	r->rec.parts = r->partp;
	r->rec.n_parts = k;
	lc_rec_object(r, task->oid);
	/* The part objects are copied by the journal before c.v goes. */
	if (lc_emit(lc, r, lc_destroyed, d) == -1) {
		for (size_t i = 0; i < d->n; i++)
			free(d->names[i]);
		free(d->names);
		free(d);
	}
	free(c.v);
}
