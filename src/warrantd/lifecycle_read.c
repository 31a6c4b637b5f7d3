/*
 * lifecycle_read — the authority's reads (HI-1 GET and LIST): tasks, parts
 * with their data up to a bound, X1 state, answered from the store; and a
 * request's objects.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle_int.h"
#include "log.h"
#include "store.h"
#include "x1_prov.h"

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
