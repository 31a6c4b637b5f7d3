/*
 * lifecycle_deliver — delivering a task's parts: pull needs nothing but
 * reading a part back (digest checked); push sends a window of parts to the
 * authority's endpoint (src/warrantd/push.c), records each acknowledgement,
 * and keeps the in-memory cursor of what is sent, on its way or done.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "answer_stream.h"
#include "lifecycle_int.h"
#include "log.h"
#include "push.h"
#include "store.h"

/* ---- delivery: pull needs nothing; push sends a window of parts --------- */

/*
 * A stored result, whole (a part: at most part_max bytes). want: the
 * SHA-256 the part records, or NULL; the result's seal must say the same
 * (results_read checks every byte against the seal), so that the answer
 * can give it as the part's Checksum without hashing the data again. One
 * buffer of the size the seal gives, filled chunk by chunk.
 */
int
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
struct results_reader *
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
bool
lc_push_more(struct lifecycle *lc, const struct obj *o, const struct lc_mark *m)
{
	return o->kind == HI1_OBJ_LDTASK && !obj_final(o) &&
	    o->status != OST_AWAITING_APPROVAL && o->u.task.parts > 0 &&
	    m->cur != NULL && !m->push_wait && m->pushes < lc_window(lc);
}

void
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

void
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
void
lc_progress_note(struct lifecycle *lc, const struct obj *o)
{
	const char *url;

	if (o->u.note.delivered || lc->env.push == NULL ||
	    lc->cfg.endpoint == NULL)
		return;
	if ((url = lc->cfg.endpoint(lc->cfg.endpoint_arg, o->owner)) != NULL)
		(void)lc_push(lc, o, NULL, url, 0);
}
