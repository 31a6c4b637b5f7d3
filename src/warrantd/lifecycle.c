/*
 * lifecycle — see src/warrantd/lifecycle.h and docs/lifecycle.md.
 *
 * The rule of this file: decide, journal, and act only once the record is
 * durable. A decision reads the store (which holds exactly what durable
 * records say), writes one record whose transitions name each object's new
 * state with the Generation it will have, and marks those objects busy
 * until the record is on disk, so that no second decision about the same
 * object can be based on a state about to change. Acting (calling a back
 * end, destroying results, pushing a delivery) happens in the record's
 * callback, after the store has applied it.
 *
 * After a crash nothing here needs its own recovery log: the store says
 * which tasks still wait for outcomes, which results are not packaged,
 * which parts are not delivered; lifecycle_start() picks all of it up.
 *
 * This file keeps the clock, the marks, records and their journaling, the
 * marks dispatch.c reports through, and the lifecycle's life; planning
 * (lifecycle_plan.c), a task's states and clocks (lifecycle_task.c),
 * packaging (lifecycle_pack.c), delivery (lifecycle_deliver.c) and the
 * authority's reads (lifecycle_read.c) are beside it (lifecycle_int.h).
 */
#include "config.h"

#include <sys/queue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "lifecycle_int.h"
#include "log.h"
#include "store.h"
#include "x1_prov.h"
#include "wd_wake.h"

/* ---- clock ---------------------------------------------------------------- */

static int64_t
lc_realtime(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
lifecycle_now(const struct lifecycle *lc)
{
	return lc->now(lc->now_arg);
}

void
lifecycle_set_clock(struct lifecycle *lc, int64_t (*now)(void *), void *arg)
{
	lc->now = now ? now : lc_realtime;
	lc->now_arg = arg;
}

/* ---- marks ---------------------------------------------------------------- */

static void
lc_key(char *key, const char *owner, const char *oid)
{
	snprintf(key, LC_KEY_LEN, "%s/%s", owner, oid);
}

/* FNV-1a over the seeded key, then murmur3's 64-bit finaliser (as edge.c). */
static size_t
lc_mark_bucket(const struct lifecycle *lc, const char *key)
{
	uint64_t h = lc->mark_seed ^ 0xcbf29ce484222325ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)(h % LC_MARK_BUCKETS);
}

struct lc_mark *
lc_mark_find(struct lifecycle *lc, const char *owner, const char *oid,
    bool create)
{
	struct lc_mark	*m;
	char		 key[LC_KEY_LEN];
	size_t		 b;

	lc_key(key, owner, oid);
	b = lc_mark_bucket(lc, key);
	LIST_FOREACH(m, &lc->mark_hash[b], hentry)
		if (strcmp(m->key, key) == 0)
			return m;
	if (!create || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	memcpy(m->key, key, sizeof(m->key));
	TAILQ_INSERT_HEAD(&lc->marks, m, entry);
	LIST_INSERT_HEAD(&lc->mark_hash[b], m, hentry);
	return m;
}

void
lc_mark_gc(struct lifecycle *lc, struct lc_mark *m)
{
	if (m != NULL && m->busy == 0 && m->claims == 0 && m->calls == 0 &&
	    !m->packing && m->pushes == 0 && m->cur == NULL &&
	    m->retry_at == 0) {
		TAILQ_REMOVE(&lc->marks, m, entry);
		LIST_REMOVE(m, hentry);
		free(m);
	}
}

bool
lc_is_busy(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct lc_mark *m = lc_mark_find(lc, owner, oid, false);

	return m != NULL && m->busy > 0;
}

/* ---- records -------------------------------------------------------------- */

struct lc_rec *
lc_rec_new(int event, const char *owner, const char *ref, const char *detail)
{
	struct lc_rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warnx("lifecycle: out of memory for a record");
		return NULL;
	}
	warrant__record__init(&r->rec);
	r->rec.event = event;
	snprintf(r->owner, sizeof(r->owner), "%s", owner);
	snprintf(r->ref, sizeof(r->ref), "%s", ref ? ref : "");
	snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	r->rec.authority_id = r->owner;
	r->rec.carrier_ref = r->ref;
	r->rec.detail = r->detail;
	r->rec.transitions = r->trp;
	r->rec.objects = r->objects;
	return r;
}

void
lc_rec_free(struct lc_rec *r)
{
	if (r == NULL)
		return;
	free(r->parts);
	free(r->partp);
	free(r);
}

/* One object's change to st, with a reason (0 = none) and its text. */
int
lc_rec_transition(struct lc_rec *r, const struct obj *o, enum obj_status st,
    enum wd_reason reason, const char *text, Warrant__Cause cause)
{
	size_t			 i = r->rec.n_transitions;
	Warrant__Transition	*t = &r->tr[i];

	if (i == LC_REC_TR_MAX)
		return -1;
	warrant__transition__init(t);
	snprintf(r->oid[i], sizeof(r->oid[i]), "%s", o->oid);
	snprintf(r->trref[i], sizeof(r->trref[i]), "%s", o->ref);
	snprintf(r->reason[i], sizeof(r->reason[i]), "%s", text ? text : "");
	t->kind = (Warrant__ObjectKind)o->kind;
	t->object_id = r->oid[i];
	t->carrier_ref = r->trref[i];
	t->generation = o->generation + 1;
	t->status = (char *)obj_status_name(st);
	t->previous_status = (char *)obj_status_name(o->status);
	t->reason_code = reason;
	t->reason_text = r->reason[i];
	t->cause = cause;
	r->trp[i] = t;
	r->rec.n_transitions++;
	return 0;
}

void
lc_rec_object(struct lc_rec *r, const char *oid)
{
	size_t i = r->rec.n_objects;

	if (i == LC_REC_TR_MAX)
		return;
	snprintf(r->objs[i], sizeof(r->objs[i]), "%s", oid);
	r->objects[i] = r->objs[i];
	r->rec.n_objects++;
}

/* A NotificationObject for the authority, about the objects named. */
void
lc_rec_note(struct lc_rec *r, const char *text, const char *const *assoc,
    size_t nassoc)
{
	warrant__notification__init(&r->note);
	hi1_uuid(r->note_oid, sizeof(r->note_oid));
	snprintf(r->note_text, sizeof(r->note_text), "%s", text);
	for (size_t i = 0; i < nassoc && i < HI1_MAX_ASSOC; i++) {
		snprintf(r->note_assoc_s[i], sizeof(r->note_assoc_s[i]), "%s",
		    assoc[i]);
		r->note_assoc[i] = r->note_assoc_s[i];
		r->note.n_associated++;
	}
	r->note.object_id = r->note_oid;
	r->note.text = r->note_text;
	r->note.associated = r->note_assoc;
	r->notep = &r->note;
	r->rec.notifications = &r->notep;
	r->rec.n_notifications = 1;
}

struct lc_pending {
	struct lifecycle	*lc;
	lc_done_fn		 done;
	void			*arg;
	char			 owner[HI1_ID_LEN + 1];
	size_t			 n;
	char			 oid[2 * LC_REC_TR_MAX][HI1_UUID_LEN + 1];
	char			 note[HI1_UUID_LEN + 1];	/* to push */
};

static void
lc_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	struct lc_pending	*p = arg;
	struct lifecycle	*lc = p->lc;

	(void)rcpt;
	lc->pending--;
	for (size_t i = 0; i < p->n; i++) {
		struct lc_mark *m = lc_mark_find(lc, p->owner, p->oid[i], false);

		if (m != NULL && m->busy > 0) {
			m->busy--;
			lc_mark_gc(lc, m);
		}
	}
	if (status != 0)
		log_warnx("lifecycle: a record for %s was not written (error %d); "
		    "the decision will be taken again", p->owner, status);
	if (p->done != NULL)
		p->done(lc, status, p->arg);
	for (size_t i = 0; i < p->n; i++) {
		struct lc_mark *m;

		if (status == 0)	/* what changed may have more to do */
			lc_progress(lc, p->owner, p->oid[i]);
		else if ((m = lc_mark_find(lc, p->owner, p->oid[i], true)) != NULL &&
		    m->retry_at == 0)	/* never at once: the journal is failing */
			m->retry_at = lifecycle_now(lc) + 5000000;
	}
	if (status == 0 && p->note[0] != '\0')
		lc_progress(lc, p->owner, p->note);
	free(p);
}

struct lc_key *
lc_key_of(const char *owner, const char *oid)
{
	struct lc_key *k = calloc(1, sizeof(*k));

	if (k != NULL) {
		snprintf(k->owner, sizeof(k->owner), "%s", owner);
		snprintf(k->oid, sizeof(k->oid), "%s", oid);
	}
	return k;
}

void
lc_then_progress(struct lifecycle *lc, int status, void *arg)
{
	struct lc_key	*k = arg;
	struct lc_mark	*m;

	if (k == NULL)
		return;
	if (status == 0)
		lc_progress(lc, k->owner, k->oid);
	else if ((m = lc_mark_find(lc, k->owner, k->oid, true)) != NULL &&
	    m->retry_at == 0)
		m->retry_at = lifecycle_now(lc) + 5000000;
	free(k);
}

/*
 * Journal r (and free it). Objects it changes are busy until it is durable;
 * done runs then, with the store already updated. -1 if it could not even
 * be queued (done does not run).
 */
int
lc_emit(struct lifecycle *lc, struct lc_rec *r, lc_done_fn done, void *arg)
{
	struct lc_pending	*p;
	struct lc_mark		*m;

	if (r == NULL)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		lc_rec_free(r);
		return -1;
	}
	p->lc = lc;
	p->done = done;
	p->arg = arg;
	snprintf(p->owner, sizeof(p->owner), "%s", r->owner);
	if (r->rec.n_notifications > 0)
		snprintf(p->note, sizeof(p->note), "%s", r->note_oid);
	for (size_t i = 0; i < r->rec.n_transitions + r->rec.n_objects; i++) {
		const char *oid = i < r->rec.n_transitions ? r->oid[i] :
		    r->objs[i - r->rec.n_transitions];

		snprintf(p->oid[p->n], sizeof(p->oid[0]), "%s", oid);
		if ((m = lc_mark_find(lc, r->owner, oid, true)) != NULL) {
			m->busy++;
			p->n++;
		}
	}
	if (journal_append(lc->env.journal, &r->rec, lc_journaled, p) == -1) {
		log_warnx("lifecycle: journal cannot take a record for %s now",
		    r->owner);
		p->done = NULL;
		lc->pending++;
		lc_journaled(-1, NULL, p);
		lc_rec_free(r);
		return -1;
	}
	lc->pending++;
	lc_rec_free(r);
	return 0;
}

/* ---- marks for dispatch.c -------------------------------------------------- */

void
lifecycle_claim(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct lc_mark *m = lc_mark_find(lc, owner, oid, true);

	if (m != NULL)
		m->claims++;
}

void
lifecycle_unclaim(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct lc_mark *m = lc_mark_find(lc, owner, oid, false);

	if (m == NULL || m->claims == 0)
		return;
	m->claims--;
	lc_mark_gc(lc, m);
	lc_progress(lc, owner, oid);
}

void
lifecycle_calls(struct lifecycle *lc, const char *owner, const char *oid,
    int delta)
{
	struct lc_mark *m = lc_mark_find(lc, owner, oid, delta > 0);

	if (m == NULL)
		return;
	if (delta > 0)
		m->calls += (unsigned)delta;
	else if (m->calls >= (unsigned)-delta)
		m->calls -= (unsigned)-delta;
	lc_mark_gc(lc, m);
}

/*
 * A call's outcome is recorded: look at its task again. If, its last call
 * reported, the task still lacks an outcome (the record did not apply to
 * it: a store that refused it, a record naming another object), asking
 * again at once would call the back end in a loop as fast as records can
 * be written; a round is booked instead, and the fault said.
 */
static void
lc_progress_reported(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct obj	*o;
	struct lc_mark	*m;

	if (lc->stopping || (o = malloc(sizeof(*o))) == NULL)
		return;
	if (store_get(lc->env.store, owner, oid, o) != 1) {
		free(o);
		return;
	}
	m = lc_mark_find(lc, owner, oid, false);
	if (o->kind == HI1_OBJ_LDTASK && !obj_final(o) && o->u.task.parts == 0 &&
	    !obj_task_outcomes_done(o) && (m == NULL || m->calls == 0)) {
		if ((m = lc_mark_find(lc, owner, oid, true)) != NULL &&
		    m->retry_at == 0) {
			m->retry_at = lifecycle_now(lc) + lc->cfg.retry_base_us;
			log_warnx("%s: task %s: a recorded outcome did not reach "
			    "the task; calls again in a round", o->ref, oid);
		}
	} else
		lc_progress_obj(lc, o);
	free(o);
}

void
lifecycle_call_reported(struct lifecycle *lc, const char *owner,
    const char *oid, bool ok)
{
	struct lc_mark *m;

	if (!ok) {
		/* Not recorded: ask again in a while rather than lose it. */
		if ((m = lc_mark_find(lc, owner, oid, true)) != NULL &&
		    m->retry_at == 0)
			m->retry_at = lifecycle_now(lc) + lc->cfg.retry_base_us;
		return;
	}
	lc_progress_reported(lc, owner, oid);
}

/* ---- life ------------------------------------------------------------------ */

static void
lc_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lifecycle_tick(arg);
}

/* The dispatch reports its calls through these (lifecycle_env.h). */
static const struct dispatch_hooks lc_dispatch_hooks = {
	lifecycle_claim, lifecycle_unclaim, lifecycle_calls,
	lifecycle_call_reported, lifecycle_gated,
};

struct lifecycle *
lifecycle_new(const struct lifecycle_env *env, const struct lifecycle_config *cfg)
{
	struct lifecycle *lc;

	if ((lc = calloc(1, sizeof(*lc))) == NULL)
		return NULL;
	lc->env = *env;
	lc->env.dispatch = &lc_dispatch_hooks;
	lc->cfg = *cfg;
	lc->now = lc_realtime;
	TAILQ_INIT(&lc->marks);
	TAILQ_INIT(&lc->packs);
	for (size_t i = 0; i < LC_MARK_BUCKETS; i++)
		LIST_INIT(&lc->mark_hash[i]);
	if (RAND_bytes((unsigned char *)&lc->mark_seed, sizeof(lc->mark_seed)) != 1)
		lc->mark_seed = (uint64_t)lc_realtime(NULL);	/* still spread */
	return lc;
}

void
lifecycle_configure(struct lifecycle *lc, const struct lifecycle_config *cfg)
{
	lc->cfg = *cfg;
}

static int
lc_open_one(const struct obj *o, void *arg)
{
	lc_progress_obj(arg, o);
	return 0;
}

int
lifecycle_start(struct lifecycle *lc)
{
	struct timeval tv = { LC_TICK_MS / 1000, (LC_TICK_MS % 1000) * 1000 };

	/* Outcomes have somewhere to go before open work asks for any. */
	if (lc->env.x1 != NULL && x1prov_start(lc->env.x1, lc_x1_each, lc,
	    lc_x1_outcome, lc) == -1)
		return -1;
	if (store_open_work(lc->env.store, lc_open_one, lc) == -1)
		return -1;
	if ((lc->tick = event_new(lc->env.base, -1, EV_PERSIST, lc_tick_cb,
	    lc)) == NULL || event_add(lc->tick, &tv) == -1)
		return -1;
	lc->started = true;
	lifecycle_tick(lc);
	return 0;
}

void
lifecycle_stop(struct lifecycle *lc)
{
	if (lc == NULL)
		return;
	lc->stopping = true;
	x1prov_stop(lc->env.x1);
	if (lc->tick != NULL)
		event_del(lc->tick);
}

bool
lifecycle_idle(const struct lifecycle *lc)
{
	const struct lc_mark *m;

	if (lc->pending > 0 || lc->packers > 0)
		return false;
	TAILQ_FOREACH(m, &lc->marks, entry)
		if (m->calls > 0 || m->pushes > 0)
			return false;
	return true;
}

void
lifecycle_free(struct lifecycle *lc)
{
	struct lc_mark	*m;
	struct lc_pack	*j;

	if (lc == NULL)
		return;
	if (lc->tick != NULL)
		event_free(lc->tick);
	/*
	 * Packaging still running at exit: wait for it, drop what it made
	 * (not recorded, so the next start packages again; the orphan sweep
	 * removes the parts).
	 */
	while ((j = TAILQ_FIRST(&lc->packs)) != NULL) {
		TAILQ_REMOVE(&lc->packs, j, entry);
		pthread_join(j->thread, NULL);
		wd_wake_free(j->done);
		ldpack_free(j->pk);
		free(j);
	}
	while ((m = TAILQ_FIRST(&lc->marks)) != NULL) {
		TAILQ_REMOVE(&lc->marks, m, entry);
		if (m->cur != NULL)
			free(m->cur->v);
		free(m->cur);
		free(m);
	}
	free(lc);
}
