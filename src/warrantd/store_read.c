/*
 * store_read — reading the object store (see store.c): one object, lists,
 * a task's parts, by reference, what is due or open, the desk's queue with
 * its filters and counts, its day statistics and its urgent board.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "conf.h"
#include "log.h"
#include "obj.h"
#include "store.h"
#include "store_int.h"

/* ---- reading ------------------------------------------------------------- */

/*
 * Visit the rows a bound statement returns (owner, oid, body). A row that
 * fails to decrypt or decode is logged and skipped: one damaged row must
 * not hide the others.
 */
int
store_visit(struct store *s, sqlite3_stmt *q, store_visit_cb cb, void *arg)
{
	struct obj	*o;
	int		 rc = 0, step;

	if ((o = malloc(sizeof(*o))) == NULL) {
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return -1;
	}
	while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const char	*owner = (const char *)sqlite3_column_text(q, 0);
		const char	*oid = (const char *)sqlite3_column_text(q, 1);
		const uint8_t	*b = sqlite3_column_blob(q, 2);
		int		 len = sqlite3_column_bytes(q, 2);

		if (owner == NULL || oid == NULL || b == NULL ||
		    store_open_body(s, owner, oid, b, (size_t)len, o) == -1) {
			log_warnx("store %s: object %s of %s is damaged and was "
			    "skipped", s->path, oid ? oid : "?",
			    owner ? owner : "?");
			continue;
		}
		rc = cb(o, arg);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		log_warnx("store %s: %s", s->path, sqlite3_errmsg(s->db));
		rc = -1;
	}
	free(o);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

static int
store_copy_one(const struct obj *o, void *arg)
{
	memcpy(arg, o, sizeof(*o));
	return 1;
}

int
store_get(struct store *s, const char *owner, const char *oid, struct obj *out)
{
	sqlite3_stmt	*q = s->st[ST_GET];
	int		 rc;

	sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, oid, -1, SQLITE_STATIC);
	rc = store_visit(s, q, store_copy_one, out);
	return rc == 1 ? 1 : rc;
}

int
store_list(struct store *s, const char *owner, enum hi1_kind kind,
    int64_t since_us, size_t max, store_visit_cb cb, void *arg)
{
	sqlite3_stmt *q = s->st[kind == HI1_OBJ_NONE ? ST_LIST_ALL : ST_LIST_KIND];

	sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, since_us);
	sqlite3_bind_int64(q, 3, (int64_t)max);
	if (kind != HI1_OBJ_NONE)
		sqlite3_bind_int(q, 4, kind);
	return store_visit(s, q, cb, arg);
}

/* Parts come back in sequence order whatever the index returns. */
struct store_parts_ctx {
	struct obj	*v;
	size_t		 n, cap;
};

static int
store_collect(const struct obj *o, void *arg)
{
	struct store_parts_ctx	*c = arg;
	struct obj		*nv;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;

		if ((nv = reallocarray(c->v, ncap, sizeof(*nv))) == NULL)
			return -1;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = *o;
	return 0;
}

static int
store_part_cmp(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;

	return x->u.part.seq < y->u.part.seq ? -1 : x->u.part.seq > y->u.part.seq;
}

int
store_parts(struct store *s, const char *owner, const char *task_oid,
    store_visit_cb cb, void *arg)
{
	sqlite3_stmt		*q = s->st[ST_PARTS];
	struct store_parts_ctx	 c = { NULL, 0, 0 };
	int			 rc;

	sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, task_oid, -1, SQLITE_STATIC);
	if ((rc = store_visit(s, q, store_collect, &c)) == 0 && c.n > 0) {
		qsort(c.v, c.n, sizeof(*c.v), store_part_cmp);
		for (size_t i = 0; i < c.n && rc == 0; i++)
			rc = cb(&c.v[i], arg);
	}
	free(c.v);
	return rc;
}

int
store_by_ref(struct store *s, const char *owner, const char *ref,
    store_visit_cb cb, void *arg)
{
	sqlite3_stmt *q = s->st[ST_BY_REF];

	sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ref, -1, SQLITE_STATIC);
	return store_visit(s, q, cb, arg);
}

int
store_by_ref_any(struct store *s, const char *ref, store_visit_cb cb,
    void *arg)
{
	sqlite3_stmt *q = s->st[ST_BY_REF_ANY];

	sqlite3_bind_text(q, 1, ref, -1, SQLITE_STATIC);
	return store_visit(s, q, cb, arg);
}

int
store_due(struct store *s, int64_t now_us, size_t max, store_visit_cb cb,
    void *arg)
{
	sqlite3_stmt *q = s->st[ST_DUE];

	sqlite3_bind_int64(q, 1, now_us);
	sqlite3_bind_int64(q, 2, (int64_t)max);
	return store_visit(s, q, cb, arg);
}

int
store_open_work(struct store *s, store_visit_cb cb, void *arg)
{
	return store_visit(s, s->st[ST_OPEN], cb, arg);
}

int
store_queue(struct store *s, size_t offset, size_t max, store_visit_cb cb,
    void *arg)
{
	sqlite3_stmt *q = s->st[ST_QUEUE];

	sqlite3_bind_int64(q, 1, (int64_t)max);
	sqlite3_bind_int64(q, 2, (int64_t)offset);
	return store_visit(s, q, cb, arg);
}

uint64_t
store_queue_count(struct store *s)
{
	sqlite3_stmt	*q = s->st[ST_QUEUE_COUNT];
	uint64_t	 n = 0;

	if (sqlite3_step(q) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return n;
}

/* The statement for a filter: by type (-1: any), by state (-1: any). */
static sqlite3_stmt *
store_queue_stmt(struct store *s, int type, int state, bool count)
{
	enum store_stmt	 k;

	if (type >= 0 && state >= 0)
		k = count ? ST_QCOUNT_TS : ST_QUEUE_TS;
	else if (type >= 0)
		k = count ? ST_QCOUNT_TYPE : ST_QUEUE_TYPE;
	else
		k = count ? ST_QCOUNT_STATE : ST_QUEUE_STATE;
	sqlite3_bind_int(s->st[k], 3, type);
	sqlite3_bind_int(s->st[k], 4, state);
	return s->st[k];
}

int
store_queue_where(struct store *s, int type, int state, size_t offset,
    size_t max, store_visit_cb cb, void *arg)
{
	sqlite3_stmt *q;

	if (type < 0 && state < 0)
		return store_queue(s, offset, max, cb, arg);
	q = store_queue_stmt(s, type, state, false);
	sqlite3_bind_int64(q, 1, (int64_t)max);
	sqlite3_bind_int64(q, 2, (int64_t)offset);
	return store_visit(s, q, cb, arg);
}

int
store_queue_by_aref(struct store *s, const char *ref, store_visit_cb cb,
    void *arg)
{
	sqlite3_stmt	*q = s->st[ST_QUEUE_AREF];
	uint8_t		 tok[32];

	if (store_aref_token(s, ref, tok) == -1)
		return -1;
	sqlite3_bind_blob(q, 1, tok, sizeof(tok), SQLITE_TRANSIENT);
	return store_visit(s, q, cb, arg);
}

uint64_t
store_queue_count_where(struct store *s, int type, int state)
{
	sqlite3_stmt	*q;
	uint64_t	 n = 0;

	if (type < 0 && state < 0)
		return store_queue_count(s);
	q = store_queue_stmt(s, type, state, true);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return n;
}

int
store_queue_tally(struct store *s, store_tally_cb cb, void *arg)
{
	sqlite3_stmt	*q = s->st[ST_QUEUE_TALLY];
	int		 step;

	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		cb(sqlite3_column_int(q, 0), sqlite3_column_int(q, 1),
		    (uint64_t)sqlite3_column_int64(q, 2),
		    (uint64_t)sqlite3_column_int64(q, 3),
		    (uint64_t)sqlite3_column_int64(q, 4),
		    (uint64_t)sqlite3_column_int64(q, 5), arg);
	sqlite3_reset(q);
	if (step != SQLITE_DONE) {
		log_warnx("store %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int
store_open_kind(struct store *s, enum hi1_kind kind, store_visit_cb cb,
    void *arg)
{
	sqlite3_stmt *q = s->st[ST_OPEN_KIND];

	sqlite3_bind_int(q, 1, (int)kind);
	return store_visit(s, q, cb, arg);
}

int
store_day(struct store *s, int64_t from_us, int64_t to_us, size_t max,
    store_day_cb cb, void *arg)
{
	sqlite3_stmt	*q = s->st[ST_DAY];
	struct store_day_row r;
	int		 rc = 0, step;

	sqlite3_bind_int64(q, 1, from_us);
	sqlite3_bind_int64(q, 2, to_us);
	sqlite3_bind_int64(q, 3, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(q, 0);

		r.owner = owner ? owner : "";
		r.type = sqlite3_column_int(q, 1);
		r.created_us = sqlite3_column_int64(q, 2);
		r.answered_us = sqlite3_column_int64(q, 3);
		r.missed = sqlite3_column_int(q, 4) != 0;
		rc = cb(&r, arg);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		log_warnx("store %s: %s", s->path, sqlite3_errmsg(s->db));
		rc = -1;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

int
store_urgent(struct store *s, int64_t since_us, size_t max, store_visit_cb cb,
    void *arg)
{
	sqlite3_stmt *q = s->st[ST_URGENT];

	sqlite3_bind_int64(q, 1, since_us);
	sqlite3_bind_int64(q, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	return store_visit(s, q, cb, arg);
}

uint64_t
store_count(struct store *s)
{
	sqlite3_stmt	*q = s->st[ST_COUNT];
	uint64_t	 n = 0;

	if (sqlite3_step(q) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return n;
}
