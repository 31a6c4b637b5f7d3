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
 */
#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "answer_stream.h"
#include "backend.h"
#include "dispatch.h"
#include "hi1_delivery.h"
#include "hi1_object.h"
#include "journal.h"
#include "ldpack.h"
#include "lifecycle.h"
#include "log.h"
#include "purge.h"
#include "push.h"
#include "results.h"
#include "store.h"
#include "x1_prov.h"
#include "wd_wake.h"

#define LC_TICK_MS		1000
#define LC_DUE_BATCH		64	/* objects handled per tick */
#define LC_REC_TR_MAX		64	/* transitions in one record */
#define LC_KEY_LEN		(HI1_ID_LEN + HI1_UUID_LEN + 2)
#define LC_MARK_BUCKETS		4096
#define LC_WINDOW_DEFAULT	8	/* parts of a task pushed at once */

/*
 * Where a push of a task's parts stands, in memory only: the parts not
 * delivered when the push began, in sequence order, each to send, on its
 * way, or done. Without it every acknowledgement read every part of the
 * task from the store to find the next (55 ms a part at 999 parts,
 * bench/lifecycle); with it the next is at hand, and several can be in
 * flight at once without one being sent twice. The store stays the truth:
 * a part is read again (one lookup) just before it is sent, and the task
 * becomes Disclosed only when a full read of its parts says so. Lost at a
 * restart, which rebuilds it from the store.
 */
enum lc_cpart_state { LC_CP_TODO, LC_CP_SENT, LC_CP_DONE };
struct lc_cpart {
	char			 oid[HI1_UUID_LEN + 1];
	uint8_t			 state;
};
struct lc_cursor {
	struct lc_cpart		*v;
	size_t			 n;
	size_t			 next;		/* no TODO entry below this */
	size_t			 done;		/* entries in LC_CP_DONE */
};

/* What is going on with one object, in memory only. */
struct lc_mark {
	char			 key[LC_KEY_LEN];	/* owner/oid */
	unsigned		 busy;		/* records pending that change it */
	unsigned		 claims;	/* an answer may carry its result */
	unsigned		 calls;		/* back-end calls in flight */
	bool			 packing;	/* results being packaged */
	unsigned		 pushes;	/* DELIVERs on their way */
	struct lc_cursor	*cur;		/* a task's parts being pushed */
	int64_t			 retry_at;	/* next round of calls, 0 = none */
	bool			 push_wait;	/* a push failed: next at retry_at */
	TAILQ_ENTRY(lc_mark)	 entry;
	LIST_ENTRY(lc_mark)	 hentry;	/* in lifecycle.mark_hash */
};
TAILQ_HEAD(lc_marks, lc_mark);

struct lc_pack;
TAILQ_HEAD(lc_packs, lc_pack);

struct lifecycle {
	struct lifecycle_env	 env;
	struct lifecycle_config	 cfg;
	int64_t			(*now)(void *);
	void			*now_arg;
	struct event		*tick;
	struct lc_marks		 marks;
	/*
	 * The marks by key as well: every record and request looks marks up,
	 * and a task waiting for a back end keeps its mark (its retry time),
	 * so a list walk made each CREATE cost O(open tasks) (bench/lifecycle:
	 * 1300 -> 370 CREATE/s over 15 s with no back end). Seeded, so an
	 * authority cannot choose identifiers that collide.
	 */
	LIST_HEAD(, lc_mark)	 mark_hash[LC_MARK_BUCKETS];
	uint64_t		 mark_seed;
	unsigned		 pending;	/* records appended, not durable */
	unsigned		 packers;	/* packaging threads running */
	struct lc_packs		 packs;		/* ... their jobs */
	bool			 started;
	bool			 stopping;
};

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

static struct lc_mark *
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

static void
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

static bool
lc_is_busy(struct lifecycle *lc, const char *owner, const char *oid)
{
	struct lc_mark *m = lc_mark_find(lc, owner, oid, false);

	return m != NULL && m->busy > 0;
}

/* ---- records -------------------------------------------------------------- */

/* A record under construction, with the storage its fields point into. */
struct lc_rec {
	Warrant__Record		 rec;
	char			 owner[HI1_ID_LEN + 1];
	char			 ref[OBJ_REF_LEN];
	char			 detail[768];
	Warrant__Transition	 tr[LC_REC_TR_MAX], *trp[LC_REC_TR_MAX];
	char			 oid[LC_REC_TR_MAX][HI1_UUID_LEN + 1];
	char			 trref[LC_REC_TR_MAX][OBJ_REF_LEN];
	char			 reason[LC_REC_TR_MAX][OBJ_REASON_LEN];
	char			*objects[LC_REC_TR_MAX];
	char			 objs[LC_REC_TR_MAX][HI1_UUID_LEN + 1];
	Warrant__Notification	 note, *notep;
	char			 note_oid[HI1_UUID_LEN + 1];
	char			 note_text[OBJ_NOTE_LEN];
	char			*note_assoc[HI1_MAX_ASSOC];
	char			 note_assoc_s[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];
	Warrant__DeliveryPart	*parts;
	Warrant__DeliveryPart	**partp;
	struct obj_pb_task	 task;
	Warrant__Task		*taskp;
};

static struct lc_rec *
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

static void
lc_rec_free(struct lc_rec *r)
{
	if (r == NULL)
		return;
	free(r->parts);
	free(r->partp);
	free(r);
}

/* One object's change to st, with a reason (0 = none) and its text. */
static int
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

static void
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
static void
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

typedef void (*lc_done_fn)(struct lifecycle *, int status, void *arg);
static void	lc_progress(struct lifecycle *, const char *owner, const char *oid);
static void	lc_progress_obj(struct lifecycle *, const struct obj *);
struct lc_key;
static struct lc_key *lc_key_of(const char *owner, const char *oid);

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

/* A done callback that looks at one object again once its record is in. */
struct lc_key {
	char	 owner[HI1_ID_LEN + 1];
	char	 oid[HI1_UUID_LEN + 1];
};

static struct lc_key *
lc_key_of(const char *owner, const char *oid)
{
	struct lc_key *k = calloc(1, sizeof(*k));

	if (k != NULL) {
		snprintf(k->owner, sizeof(k->owner), "%s", owner);
		snprintf(k->oid, sizeof(k->oid), "%s", oid);
	}
	return k;
}

static void
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
static int
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

/* Tasks of the order o (same request, linked to it), for its effects. */
struct lc_tasks {
	const char	*auth_id;
	struct obj	*v;
	size_t		 n, cap;
};

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

static int
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
static void
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

static void	lc_pack(struct lifecycle *, const struct obj *);
static void	lc_deliver(struct lifecycle *, const struct obj *);
static bool	lc_push_more(struct lifecycle *, const struct obj *,
		    const struct lc_mark *);
static void	lc_cursor_drop(struct lifecycle *, struct lc_mark *);
static void	lc_progress_note(struct lifecycle *, const struct obj *);
static void	lc_destroy(struct lifecycle *, const struct obj *, const char *why);

/* A round of calls may fix it: after a pause that doubles each round. */
static void
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
static void
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
static int
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

static void
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

static void
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

/* ---- packaging results into parts (a worker thread) ----------------------- */

/* The journaled digest of a stored answer, or NULL where none was recorded
 * (a store from before digests were kept): zeros are never a SHA-256. */
static const uint8_t *
lc_sha256_or_null(const uint8_t sha[32])
{
	static const uint8_t	zero[32];

	return memcmp(sha, zero, sizeof(zero)) == 0 ? NULL : sha;
}

struct lc_pack {
	TAILQ_ENTRY(lc_pack)	 entry;		/* in lifecycle.packs, running */
	struct lifecycle	*lc;
	struct obj		 task;
	struct ldpack_outcome	 outcomes[HI1_MAX_IDS];
	char			 names[HI1_MAX_IDS][RESULTS_NAME_MAX];
	char			 prefix[RESULTS_NAME_MAX];
	char			 delivery_id[HI1_UUID_LEN + 1];
	char			 manifest_name[RESULTS_NAME_MAX];
	uint8_t			 manifest_sha256[32];
	struct ldpack		*pk;
	char			 why[LDPACK_WHY_MAX];
	struct wd_wake		*done;
	pthread_t		 thread;
};

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

static void
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

struct lc_parts {
	struct obj	*v;
	size_t		 n, cap;
};

static int
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

static int
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
static void
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

/* ---- delivery: pull needs nothing; push sends a window of parts --------- */

/*
 * A stored result, whole (a part: at most part_max bytes). want: the
 * SHA-256 the part records, or NULL; the result's seal must say the same
 * (results_read checks every byte against the seal), so that the answer
 * can give it as the part's Checksum without hashing the data again. One
 * buffer of the size the seal gives, filled chunk by chunk.
 */
static int
lc_read_result(struct lifecycle *lc, const char *name, const uint8_t *want,
    uint8_t **out, size_t *outlen)
{
	struct results_reader	*rd;
	const uint8_t		*data;
	uint8_t			*buf = NULL;
	size_t			 len = 0, n, size;
	int			 rc = -1;

	*out = NULL;
	*outlen = 0;
	if (lc->env.results == NULL ||
	    (rd = results_reader_open(lc->env.results, name)) == NULL)
		return -1;
	if (want != NULL && CRYPTO_memcmp(results_reader_sha256(rd), want,
	    32) != 0) {
		log_warnx("result %s: its seal is not the part's SHA-256", name);
		results_reader_close(rd);
		return -1;
	}
	size = (size_t)results_reader_bytes(rd);
	if (size == 0 || size > 2 * LDPACK_PART_DEFAULT ||
	    (buf = malloc(size)) == NULL) {
		results_reader_close(rd);
		return -1;
	}
	while ((rc = results_read(rd, &data, &n)) == 1) {
		if (n > size - len) {
			rc = -1;
			break;
		}
		memcpy(buf + len, data, n);
		len += n;
	}
	results_reader_close(rd);
	if (rc != 0 || len != size) {
		OPENSSL_cleanse(buf, size);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/*
 * A part's result opened for streaming into an answer (src/warrantd/answer_stream.c):
 * its seal checked against the part's SHA-256 and size, and its first chunk
 * read and authenticated now (the whole of a part stored in one chunk, end
 * included), so that what fails here is answered as an error.
 */
static struct results_reader *
lc_open_part(struct lifecycle *lc, const struct obj_part *p)
{
	struct results_reader *rd;

	if (lc->env.results == NULL ||
	    (rd = results_reader_open(lc->env.results, p->result_name)) == NULL)
		return NULL;
	if (CRYPTO_memcmp(results_reader_sha256(rd), p->sha256, 32) != 0 ||
	    results_reader_bytes(rd) != p->size || p->size == 0 ||
	    p->size > 2 * LDPACK_PART_DEFAULT) {
		log_warnx("result %s: its seal is not the part's SHA-256 and "
		    "size", p->result_name);
		results_reader_close(rd);
		return NULL;
	}
	results_reader_skip_digest(rd);
	if (results_reader_prefetch(rd) == -1) {
		results_reader_close(rd);
		return NULL;
	}
	return rd;
}

int
lifecycle_part_read(struct lifecycle *lc, const struct obj_part *p,
    uint8_t **out, size_t *len)
{
	return lc_read_result(lc, p->result_name, p->sha256, out, len);
}

/*
 * Where to DELIVER for an authority: its registered endpoint. A task's own
 * DeliveryDetails URL is used only under that endpoint (same scheme, host
 * and port): an authority cannot send its results anywhere else.
 */
static const char *
lc_endpoint(struct lifecycle *lc, const struct obj *task)
{
	const char	*reg, *url = task->u.task.t.delivery_url;
	const char	*slash;
	size_t		 n;

	if (lc->env.push == NULL || lc->cfg.endpoint == NULL ||
	    (reg = lc->cfg.endpoint(lc->cfg.endpoint_arg, task->owner)) == NULL)
		return NULL;
	if (url[0] == '\0' || strncmp(reg, "https://", 8) != 0)
		return reg;
	slash = strchr(reg + 8, '/');
	n = slash ? (size_t)(slash - reg) : strlen(reg);
	if (strncmp(url, reg, n) == 0 && (url[n] == '/' || url[n] == '\0'))
		return url;
	return reg;
}

struct lc_push {
	struct lifecycle	*lc;
	struct obj		 obj;		/* the part or notification */
	char			 task[HI1_UUID_LEN + 1];
	char			 url[HI1_URL_LEN + 1];
	size_t			 cidx;		/* entry in the task's cursor */
};

static unsigned
lc_window(const struct lifecycle *lc)
{
	return lc->cfg.push_window > 0 ? lc->cfg.push_window : LC_WINDOW_DEFAULT;
}

/*
 * With pushes of a task on their way, only a task that may send more of
 * its parts is looked at: not one whose push failed (it waits for its
 * retry time) nor one that ended (destroying its results waits until
 * every DELIVER has come back), nor anything else.
 */
static bool
lc_push_more(struct lifecycle *lc, const struct obj *o, const struct lc_mark *m)
{
	return o->kind == HI1_OBJ_LDTASK && !obj_final(o) &&
	    o->status != OST_AWAITING_APPROVAL && o->u.task.parts > 0 &&
	    m->cur != NULL && !m->push_wait && m->pushes < lc_window(lc);
}

static void
lc_cursor_drop(struct lifecycle *lc, struct lc_mark *m)
{
	if (m == NULL || m->cur == NULL)
		return;
	free(m->cur->v);
	free(m->cur);
	m->cur = NULL;
	lc_mark_gc(lc, m);
}

/* The entry of p's part in its task's cursor, if the cursor still has it. */
static struct lc_cpart *
lc_cursor_entry(struct lc_mark *m, const struct lc_push *p)
{
	struct lc_cpart *e;

	if (m == NULL || m->cur == NULL || p->cidx >= m->cur->n)
		return NULL;
	e = &m->cur->v[p->cidx];
	return strcmp(e->oid, p->obj.oid) == 0 ? e : NULL;
}

static void
lc_push_failed(struct lifecycle *lc, struct lc_push *p, const char *why)
{
	struct lc_rec	*r;
	struct lc_mark	*m;
	char		 detail[1024];
	int64_t		 pause = 5000000;

	snprintf(detail, sizeof(detail), "DELIVER of %s to %.512s failed: %.300s",
	    p->obj.oid, p->url, why ? why : "");
	log_warnx("%s: %s", p->obj.ref, detail);
	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_DELIVERY_FAILED,
	    p->obj.owner, p->obj.ref, detail)) != NULL) {
		lc_rec_object(r, p->obj.oid);
		lc_emit(lc, r, NULL, NULL);
	}
	for (uint32_t i = 0; i < p->obj.u.part.push_failures && pause < 600000000;
	    i++)
		pause *= 2;
	if (pause > 600000000)
		pause = 600000000;
	if ((m = lc_mark_find(lc, p->obj.owner, p->task[0] ? p->task :
	    p->obj.oid, true)) != NULL) {
		/* Other parts failing in the same window keep the first time. */
		if (!m->push_wait || m->retry_at == 0)
			m->retry_at = lifecycle_now(lc) + pause;
		m->push_wait = true;
	}
}

/* An acknowledged part whose record is on its way to the journal. */
struct lc_ack {
	char	 owner[HI1_ID_LEN + 1];
	char	 task[HI1_UUID_LEN + 1];
	char	 oid[HI1_UUID_LEN + 1];
	size_t	 cidx;
};

static struct lc_ack *
lc_ack_of(const struct lc_push *p)
{
	struct lc_ack *k = calloc(1, sizeof(*k));

	if (k != NULL) {
		snprintf(k->owner, sizeof(k->owner), "%s", p->obj.owner);
		snprintf(k->task, sizeof(k->task), "%s", p->task);
		snprintf(k->oid, sizeof(k->oid), "%s", p->obj.oid);
		k->cidx = p->cidx;
	}
	return k;
}

/*
 * The record of an acknowledged part: durable, the task is looked at
 * again; not written, the part is not delivered as far as the store knows,
 * so the cursor must not say so either (it is sent again at the retry).
 */
static void
lc_part_recorded(struct lifecycle *lc, int status, void *arg)
{
	struct lc_ack	*k = arg;
	struct lc_mark	*m;
	struct lc_cpart	*e;

	if (k == NULL)
		return;
	if (status == 0) {
		/*
		 * With DELIVERs still on their way, each brings the task back
		 * when it is answered (lc_pushed): reading the task here as
		 * well (a task lists all its parts: 150 KB at 999) would only
		 * double the reads. The last record ends the delivery.
		 */
		m = lc_mark_find(lc, k->owner, k->task, false);
		if (m == NULL || m->pushes == 0)
			lc_progress(lc, k->owner, k->task);
		free(k);
		return;
	}
	if ((m = lc_mark_find(lc, k->owner, k->task, true)) != NULL) {
		if (m->cur != NULL && k->cidx < m->cur->n &&
		    (e = &m->cur->v[k->cidx])->state == LC_CP_DONE &&
		    strcmp(e->oid, k->oid) == 0) {
			e->state = LC_CP_TODO;
			m->cur->done--;
			if (k->cidx < m->cur->next)
				m->cur->next = k->cidx;
		}
		if (m->retry_at == 0)
			m->retry_at = lifecycle_now(lc) + 5000000;
	}
	free(k);
}

static void
lc_pushed(int ok, const char *why, void *arg)
{
	struct lc_push		*p = arg;
	struct lifecycle	*lc = p->lc;
	struct lc_mark		*m;
	struct lc_cpart		*e;
	struct lc_ack		*k;
	struct lc_rec		*r;
	Warrant__DeliveryPart	 part, *partp = &part;
	char			 detail[HI1_URL_LEN + 64];

	if ((m = lc_mark_find(lc, p->obj.owner, p->task[0] ? p->task :
	    p->obj.oid, false)) != NULL) {
		if (m->pushes > 0)
			m->pushes--;
		if (p->task[0] != '\0' && (e = lc_cursor_entry(m, p)) != NULL &&
		    e->state == LC_CP_SENT) {
			if (ok) {
				e->state = LC_CP_DONE;
				m->cur->done++;
			} else {
				e->state = LC_CP_TODO;	/* sent again later */
				if (p->cidx < m->cur->next)
					m->cur->next = p->cidx;
			}
		}
		lc_mark_gc(lc, m);
	}
	if (!ok) {
		lc_push_failed(lc, p, why);
		free(p);
		return;
	}
	snprintf(detail, sizeof(detail), "DELIVERed to %s", p->url);
	r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED,
	    p->obj.owner, p->obj.ref, detail);
	if (r == NULL && p->task[0] != '\0') {
		/* Not recorded: not delivered for the cursor either. */
		lc_part_recorded(lc, -1, lc_ack_of(p));
	} else if (r != NULL) {
		if (p->obj.kind == HI1_OBJ_DELIVERY) {
			obj_part_pb(p->obj.oid, &p->obj.u.part, &part);
			r->rec.parts = &partp;
			r->rec.n_parts = 1;
			r->rec.result_sha256.data = p->obj.u.part.sha256;
			r->rec.result_sha256.len = 32;
			r->rec.result_count = p->obj.u.part.count;
		} else
			lc_rec_object(r, p->obj.oid);
		if (p->task[0] != '\0') {
			k = lc_ack_of(p);
			if (lc_emit(lc, r, lc_part_recorded, k) == -1)
				lc_part_recorded(lc, -1, k);	/* done never ran */
		} else
			lc_emit(lc, r, lc_then_progress, lc_key_of(p->obj.owner,
			    p->obj.oid));
	}
	/*
	 * The window has room again: the next part goes now, not once this
	 * acknowledgement is durable (the cursor, not the store, says it was
	 * acknowledged, so it is not sent twice).
	 */
	if (p->task[0] != '\0')
		lc_progress(lc, p->obj.owner, p->task);
	free(p);
}

static int
lc_stream_fill(void *arg, struct evbuffer *out, size_t want)
{
	return astream_fill(arg, out, want);
}

static void
lc_stream_free(void *arg)
{
	astream_free(arg);
}

static void
lc_stream_release(void *arg)
{
	results_reader_close(arg);
}

/*
 * A part's DELIVER, streamed (answer_stream.h) as for a GET: the message's
 * text is built now with a cut where the Data goes, the part is read,
 * authenticated and encoded into the connection as it drains. Its seal
 * and first chunk are checked here (lc_open_part): a part failing there
 * is not sent (-1, tried again like any part that cannot be sent). One
 * failing later closes the connection short of its length: the DELIVER
 * fails (lc_pushed) and the part is sent again after the retry time.
 */
static int
lc_push_part(struct lifecycle *lc, const struct obj *o,
    const struct hi1_response_header *h, struct hi1_answer *a,
    struct push_body *body)
{
	struct results_reader	*rd;
	struct hi1_pieces	 pc;
	struct astream		*as;
	uint8_t			*man = NULL;
	size_t			 mlen = 0;
	int			 rc;

	if ((rd = lc_open_part(lc, &o->u.part)) == NULL ||
	    (o->u.part.manifest_name[0] != '\0' && lc_read_result(lc,
	    o->u.part.manifest_name, NULL, &man, &mlen) == -1)) {
		log_warnx("%s: part %s cannot be read for delivery", o->ref,
		    o->oid);
		results_reader_close(rd);
		return -1;
	}
	a->data_stream = rd;
	a->data_len = o->u.part.size;
	a->data_sha256 = o->u.part.sha256;
	a->manifest = man;
	a->manifest_len = mlen;
	rc = hi1_build_deliver_pieces(h, a, 1, &pc);
	free(man);	/* encoded into the text already */
	if (rc == -1 || pc.ncut != 1 ||
	    (as = astream_new(&pc, lc_stream_release, rd)) == NULL) {
		free(pc.text);
		results_reader_close(rd);
		return -1;
	}
	body->len = astream_length(as);
	body->fill = lc_stream_fill;
	body->free = lc_stream_free;
	body->arg = as;
	return 0;
}

/*
 * Send one part (or notification) to url; the answer comes to lc_pushed.
 * cidx: the part's entry in its task's cursor. -1 if it could not be sent.
 */
static int
lc_push(struct lifecycle *lc, const struct obj *o, const char *task_oid,
    const char *url, size_t cidx)
{
	struct hi1_response_header	 h;
	struct hi1_answer		 a;
	struct push_body		 body;
	struct lc_push			*p;
	struct lc_mark			*m;
	size_t				 len = 0;
	char				 tid[HI1_UUID_LEN + 1], *text = NULL;
	const char			*ids[1] = { o->oid };
	int				 rc;

	memset(&a, 0, sizeof(a));
	a.verb = HI1_VERB_DELIVER;
	a.obj = o;
	hi1_uuid(tid, sizeof(tid));
	h.carrier_id = lc->cfg.carrier_id;
	h.authority_id = o->owner;
	h.transaction_id = tid;
	h.timestamp_us = lifecycle_now(lc);
	if (o->kind == HI1_OBJ_DELIVERY) {
		if (lc_push_part(lc, o, &h, &a, &body) == -1)
			return -1;
	} else if ((text = hi1_build_deliver(&h, &a, 1, &len)) == NULL)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		if (text == NULL)
			body.free(body.arg);
		free(text);
		return -1;
	}
	p->lc = lc;
	p->obj = *o;
	p->cidx = cidx;
	snprintf(p->task, sizeof(p->task), "%s", task_oid ? task_oid : "");
	snprintf(p->url, sizeof(p->url), "%s", url);
	/* Either takes what it is given, also when it fails. */
	rc = text != NULL ? push_send(lc->env.push, url, o->owner, ids, 1, text,
	    len, lc_pushed, p) : push_send_body(lc->env.push, url, o->owner,
	    ids, 1, &body, lc_pushed, p);
	if (rc == -1) {
		free(p);
		return -1;
	}
	if ((m = lc_mark_find(lc, o->owner, task_oid ? task_oid : o->oid,
	    true)) != NULL)
		m->pushes++;
	return 0;
}

/*
 * Every part of the task read from the store: Disclosed if each was
 * handed over. With no endpoint (pull) this is all lc_deliver does; with
 * one, only once the cursor has seen every part acknowledged. 1 if every
 * part is delivered (the record is on its way), 0 if not, -1 on error.
 */
static int
lc_deliver_check(struct lifecycle *lc, const struct obj *task,
    struct lc_parts *c)
{
	struct lc_rec	*r;
	size_t		 delivered = 0;
	int64_t		 keep;

	if (lc_task_parts(lc, task, c) == -1)
		return -1;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].u.part.delivered)
			delivered++;
	if (c->n == 0 || delivered != c->n || c->n != task->u.task.parts)
		return 0;
	/* Every part handed over: Disclosed, data kept a while. */
	keep = lifecycle_now(lc) + lc->cfg.kept_after_us;
	if ((r = lc_rec_new(WARRANT__EVENT_TYPE__EVENT_OBJECT_CHANGED,
	    task->owner, task->ref, "every part delivered")) != NULL) {
		lc_rec_transition(r, task, OST_DISCLOSED, 0, "",
		    WARRANT__CAUSE__CAUSE_DELIVERY);
		if (keep < task->u.task.keep_until_us)
			r->tr[0].keep_until_us = keep;
		lc_emit(lc, r, NULL, NULL);
	}
	return 1;
}

/* The cursor of a push: the parts not yet delivered, from one full read. */
static int
lc_cursor_load(struct lc_mark *m, const struct obj *task,
    const struct lc_parts *c)
{
	struct lc_cursor *cur;

	if (c->n != task->u.task.parts)		/* parts still being recorded */
		return -1;
	if ((cur = calloc(1, sizeof(*cur))) == NULL ||
	    (c->n > 0 && (cur->v = calloc(c->n, sizeof(*cur->v))) == NULL)) {
		free(cur);
		return -1;
	}
	for (size_t i = 0; i < c->n; i++)
		if (!c->v[i].u.part.delivered && !c->v[i].u.part.destroyed)
			snprintf(cur->v[cur->n++].oid, sizeof(cur->v[0].oid), "%s",
			    c->v[i].oid);
	m->cur = cur;
	return 0;
}

/* Fill the window from the cursor: the next parts not yet sent. */
static void
lc_deliver_more(struct lifecycle *lc, const struct obj *task,
    struct lc_mark *m, const char *url)
{
	struct lc_cursor	*cur = m->cur;
	struct lc_cpart		*e;
	struct obj		*o;
	int			 rc;

	if ((o = malloc(sizeof(*o))) == NULL)
		return;
	while (m->pushes < lc_window(lc) && cur->next < cur->n) {
		e = &cur->v[cur->next];
		if (e->state != LC_CP_TODO) {
			cur->next++;
			continue;
		}
		/* Delivered by a GET meanwhile, destroyed, gone: not sent. */
		rc = store_get(lc->env.store, task->owner, e->oid, o);
		if (rc == -1)
			break;
		if (rc == 0 || o->kind != HI1_OBJ_DELIVERY ||
		    o->u.part.delivered || o->u.part.destroyed) {
			e->state = LC_CP_DONE;
			cur->done++;
			cur->next++;
			continue;
		}
		if (lc_push(lc, o, task->oid, url, cur->next) == -1)
			break;		/* the tick or the next record tries again */
		e->state = LC_CP_SENT;
		cur->next++;
	}
	free(o);
}

static void
lc_deliver(struct lifecycle *lc, const struct obj *task)
{
	struct lc_parts	 c;
	struct lc_mark	*m;
	const char	*url;

	memset(&c, 0, sizeof(c));
	if ((url = lc_endpoint(lc, task)) == NULL) {
		(void)lc_deliver_check(lc, task, &c);	/* pulled */
		free(c.v);
		return;
	}
	if ((m = lc_mark_find(lc, task->owner, task->oid, true)) == NULL)
		return;
	if (m->cur == NULL) {
		if (lc_deliver_check(lc, task, &c) == 0)
			(void)lc_cursor_load(m, task, &c);
		free(c.v);
		if (m->cur == NULL) {
			lc_mark_gc(lc, m);
			return;
		}
	}
	if (m->cur->done < m->cur->n) {
		lc_deliver_more(lc, task, m, url);
		return;
	}
	/*
	 * Every part the cursor knew was acknowledged. Disclosed once the
	 * store has all of it: a record still on its way brings us back
	 * here when it lands (lc_then_progress), so the cursor stays.
	 */
	if (m->pushes == 0 && lc_deliver_check(lc, task, &c) == 1)
		lc_cursor_drop(lc, m);
	free(c.v);
}

/* A notification: pushed where the authority has an endpoint. */
static void
lc_progress_note(struct lifecycle *lc, const struct obj *o)
{
	const char *url;

	if (o->u.note.delivered || lc->env.push == NULL ||
	    lc->cfg.endpoint == NULL)
		return;
	if ((url = lc->cfg.endpoint(lc->cfg.endpoint_arg, o->owner)) != NULL)
		(void)lc_push(lc, o, NULL, url, 0);
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

/* ---- the authority's reads ------------------------------------------------- */

#define LC_READ_DATA_MAX	(4u * 1024 * 1024)	/* part data in one answer */

struct lc_read_store {
	struct hi1_answer	 answers[HI1_MAX_ACTIONS];
	struct obj		 objs[HI1_MAX_ACTIONS];
	struct wd_error		 errs[HI1_MAX_ACTIONS];
	struct lc_parts		 lists[HI1_MAX_ACTIONS];
	char			(*deliveries[HI1_MAX_ACTIONS])[HI1_UUID_LEN + 1];
	struct results_reader	*readers[HI1_MAX_ACTIONS];	/* streamed data */
	uint8_t			*manifest[HI1_MAX_ACTIONS];
	Warrant__DeliveryPart	 parts[HI1_MAX_ACTIONS];
	Warrant__DeliveryPart	*partp[HI1_MAX_ACTIONS];
	char			*objects[HI1_MAX_ACTIONS];
	size_t			 data_total;
};

static int
lc_list_cb(const struct obj *o, void *arg)
{
	return lc_collect(o, arg);
}

/* A task's DeliveryObjects, for its AssociatedObjects. */
static int
lc_read_task(struct lifecycle *lc, struct lc_read_store *st, size_t i)
{
	struct lc_parts	 c;
	struct hi1_answer *a = &st->answers[i];

	if (lc_task_parts(lc, &st->objs[i], &c) == -1)
		return -1;
	if (c.n > 0 && (st->deliveries[i] = calloc(c.n,
	    sizeof(*st->deliveries[i]))) == NULL) {
		free(c.v);
		return -1;
	}
	for (size_t k = 0; k < c.n; k++)
		snprintf(st->deliveries[i][k], HI1_UUID_LEN + 1, "%s", c.v[k].oid);
	a->deliveries = (const char (*)[HI1_UUID_LEN + 1])st->deliveries[i];
	a->ndeliveries = c.n;
	free(c.v);
	return 0;
}

/* A part with its data (if still held, and within the answer's cap). */
static void
lc_read_part(struct lifecycle *lc, struct lc_read_store *st, size_t i,
    struct lc_read *out, uint32_t action)
{
	const struct obj	*o = &st->objs[i];
	const struct obj_part	*p = &o->u.part;
	struct hi1_answer	*a = &st->answers[i];
	size_t			 dlen = 0, mlen = 0;

	if (p->destroyed)
		return;		/* the envelope only: its data is gone */
	if (st->data_total + p->size > LC_READ_DATA_MAX) {
		wd_error_set_action(&st->errs[i], WD_ERR_TOO_MUCH, action, "part "
		    "%u of %u would take this answer over %u bytes of data: "
		    "GET it in another message", p->seq, p->parts,
		    LC_READ_DATA_MAX);
		a->err = &st->errs[i];
		return;
	}
	if ((st->readers[i] = lc_open_part(lc, p)) == NULL ||
	    (p->manifest_name[0] != '\0' && lc_read_result(lc, p->manifest_name,
	    NULL, &st->manifest[i], &mlen) == -1)) {
		log_warnx("%s: part %s of task %s cannot be read", o->ref, o->oid,
		    p->task_id);
		wd_error_set_action(&st->errs[i], WD_ERR_STORAGE, action, "the "
		    "part cannot be read now: retry later");
		a->err = &st->errs[i];
		return;
	}
	dlen = p->size;
	st->data_total += dlen;
	a->data_stream = st->readers[i];
	a->data_len = dlen;
	a->data_sha256 = p->sha256;
	out->nstreams++;
	a->manifest = st->manifest[i];
	a->manifest_len = mlen;
	obj_part_pb(o->oid, p, &st->parts[out->nparts]);
	st->partp[out->nparts] = &st->parts[out->nparts];
	out->nparts++;
}

/*
 * An interception the elements have not caught up with says so in its
 * InvalidReason (the LITaskObject's only reason element, docs/profile.md):
 * which element still holds it after its end, or has not been reached for
 * its provisioning. Said in the answer only, never stored: it is the
 * network's state at this moment.
 */
static void
lc_read_x1(struct lifecycle *lc, struct obj *o)
{
	char	 w[OBJ_REASON_LEN];
	size_t	 len;

	if (x1prov_task_pending(lc->env.x1, o->owner, o->oid, w,
	    sizeof(w)) == 0)
		return;
	if (o->reason_code == 0)
		o->reason_code = WD_REASON_NE_PENDING;
	len = strlen(o->reason);
	snprintf(o->reason + len, sizeof(o->reason) - len, "%s%s",
	    len ? "; " : "", w);
}

static void
lc_read_get(struct lifecycle *lc, const char *owner, struct lc_read_store *st,
    size_t i, const struct hi1_read *rd, struct lc_read *out)
{
	struct hi1_answer	*a = &st->answers[i];
	int			 rc;

	st->objects[out->nobjects++] = (char *)rd->object_id;
	if ((rc = store_get(lc->env.store, owner, rd->object_id,
	    &st->objs[i])) != 1) {
		if (rc == -1)
			wd_error_set_action(&st->errs[i], WD_ERR_STORAGE,
			    rd->action_id, "the object store cannot be read");
		else
			wd_error_set_action(&st->errs[i], WD_ERR_NO_SUCH_OBJECT,
			    rd->action_id, "no object %s is held for %s",
			    rd->object_id, owner);
		a->err = &st->errs[i];
		return;
	}
	a->obj = &st->objs[i];
	if (st->objs[i].kind == HI1_OBJ_LDTASK && lc_read_task(lc, st, i) == -1) {
		wd_error_set_action(&st->errs[i], WD_ERR_STORAGE, rd->action_id,
		    "the object store cannot be read");
		a->err = &st->errs[i];
	} else if (st->objs[i].kind == HI1_OBJ_DELIVERY)
		lc_read_part(lc, st, i, out, rd->action_id);
	else if (st->objs[i].kind == HI1_OBJ_LITASK && lc->env.x1 != NULL)
		lc_read_x1(lc, &st->objs[i]);
}

int
lifecycle_read(struct lifecycle *lc, const char *owner,
    const struct hi1_request *req, struct lc_read *out)
{
	struct lc_read_store	*st;

	memset(out, 0, sizeof(*out));
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	out->storage = st;
	out->answers = st->answers;
	out->parts = st->parts;
	out->partp = st->partp;
	out->objects = st->objects;
	for (size_t i = 0; i < req->nreads; i++) {
		const struct hi1_read	*rd = &req->reads[i];
		struct hi1_answer	*a = &st->answers[i];

		a->action_id = rd->action_id;
		a->verb = rd->verb;
		if (rd->verb == HI1_VERB_GET) {
			lc_read_get(lc, owner, st, i, rd, out);
			continue;
		}
		if (store_list(lc->env.store, owner, rd->type, rd->has_since ?
		    rd->since_us : INT64_MIN, HI1_LIST_MAX, lc_list_cb,
		    &st->lists[i]) == -1) {
			wd_error_set_action(&st->errs[i], WD_ERR_STORAGE,
			    rd->action_id, "the object store cannot be read");
			a->err = &st->errs[i];
			continue;
		}
		a->list = st->lists[i].v;
		a->nlist = st->lists[i].n;
	}
	out->nanswers = req->nreads;
	return 0;
}

void
lifecycle_read_done(struct lifecycle *lc, const char *owner,
    const struct lc_read *r)
{
	for (size_t i = 0; i < r->nparts; i++)
		lc_progress(lc, owner, r->parts[i].task_id);
}

void
lifecycle_read_free(struct lc_read *r)
{
	struct lc_read_store *st = r->storage;

	if (st == NULL)
		return;
	for (size_t i = 0; i < HI1_MAX_ACTIONS; i++) {
		free(st->lists[i].v);
		free(st->deliveries[i]);
		results_reader_close(st->readers[i]);
		free(st->manifest[i]);
	}
	free(st);
	r->storage = NULL;
}

/* ---- a request's objects --------------------------------------------------- */

int
lifecycle_objects(struct lifecycle *lc, const char *owner, const char *ref,
    struct obj **v, size_t *n)
{
	struct lc_parts c;

	memset(&c, 0, sizeof(c));
	if (store_by_ref(lc->env.store, owner, ref, lc_collect, &c) == -1) {
		free(c.v);
		return -1;
	}
	*v = c.v;
	*n = c.n;
	return 0;
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
