/*
 * store_apply — records applied to the object store (see store.c): one
 * transaction per record, the objects and their index rows (the queue, its
 * carrier references, the desk's day statistics and urgent board), and the
 * indexes rebuilt from the objects at open.
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

/* ---- applying records ---------------------------------------------------- */

static int
store_step_done(struct store *s, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		log_warnx("store %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

static bool
store_is_open(const struct obj *o)
{
	switch (o->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		return !obj_final(o);
	case HI1_OBJ_DELIVERY:
		return !o->u.part.delivered && !o->u.part.destroyed;
	case HI1_OBJ_NOTIFICATION:
		return !o->u.note.delivered;
	default:
		return false;
	}
}

/* A task's authority reference token: there while the task is open. */
static int
store_aref_put(struct store *s, const struct obj *o)
{
	sqlite3_stmt	*q = s->st[obj_final(o) ? ST_AREF_DEL : ST_AREF_PUT];
	uint8_t		 tok[32];

	if (!obj_final(o)) {
		if (store_aref_token(s, o->u.task.t.reference, tok) == -1)
			return -1;
		sqlite3_bind_blob(q, 3, tok, sizeof(tok), SQLITE_TRANSIENT);
	}
	sqlite3_bind_text(q, 1, o->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, o->oid, -1, SQLITE_STATIC);
	return store_step_done(s, q);
}

/* A task's place in the desk's queue: there while open, by its deadline. */
static int
store_queue_put(struct store *s, const struct obj *o)
{
	sqlite3_stmt *q;

	if (o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK)
		return 0;
	q = s->st[obj_final(o) ? ST_QUEUE_DEL : ST_QUEUE_PUT];
	if (obj_final(o)) {
		sqlite3_bind_text(q, 1, o->owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, o->oid, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(q, 1, o->u.task.answer_by_us != 0 ?
		    o->u.task.answer_by_us : INT64_MAX);
		sqlite3_bind_int64(q, 2, o->created_us);
		sqlite3_bind_text(q, 3, o->owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, o->oid, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 5, (int)o->u.task.t.type);
		sqlite3_bind_int(q, 6, (int)o->status);
		sqlite3_bind_int(q, 7, o->u.task.deadline_missed);
		sqlite3_bind_int(q, 8, o->u.task.desk.held);
		sqlite3_bind_int(q, 9, o->u.task.desk.review == WD_REVIEW_AFTER &&
		    !o->u.task.desk.reviewed);
	}
	if (store_step_done(s, q) == -1)
		return -1;
	return store_aref_put(s, o);
}

/*
 * A task is answered (the carrier's part done, as tally.c counts it) once
 * its results are packaged, an interception is active, or it is final.
 */
static bool
store_task_answered(const struct obj *o)
{
	return o->u.task.parts > 0 || o->status == OST_DISCLOSED ||
	    (o->kind == HI1_OBJ_LITASK && o->status == OST_ACTIVE) ||
	    obj_final(o);
}

/*
 * The desk's rows of o: a task's day statistics (its first answer time is
 * kept), an urgent order's ratification clock (pending until ratified).
 */
static int
store_desk_put(struct store *s, const struct obj *o)
{
	sqlite3_stmt *q;

	if (o->kind == HI1_OBJ_LDTASK || o->kind == HI1_OBJ_LITASK) {
		q = s->st[ST_DAY_PUT];
		sqlite3_bind_int64(q, 1, o->created_us);
		sqlite3_bind_text(q, 2, o->owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, o->oid, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 4, (int)o->u.task.t.type);
		sqlite3_bind_int64(q, 5, store_task_answered(o) ?
		    (o->changed_us > 0 ? o->changed_us : 1) : 0);
		sqlite3_bind_int(q, 6, o->u.task.deadline_missed);
		return store_step_done(s, q);
	}
	if (o->kind != HI1_OBJ_AUTHORISATION || !o->u.auth.a.urgent)
		return 0;
	if (o->u.auth.ratified) {	/* its clock is gone: off the board */
		q = s->st[ST_URGENT_DONE];
		sqlite3_bind_text(q, 1, o->owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, o->oid, -1, SQLITE_STATIC);
		return store_step_done(s, q);
	}
	if (o->u.auth.ratify_by_us == 0)
		return 0;
	q = s->st[ST_URGENT_PUT];
	sqlite3_bind_int64(q, 1, o->u.auth.ratify_by_us);
	sqlite3_bind_text(q, 2, o->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, o->oid, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, !o->u.auth.ratified);
	return store_step_done(s, q);
}

/* What the desk's rows hold of o: they are written again only if it changed. */
static int64_t
store_desk_sig(const struct obj *o)
{
	if (o->kind == HI1_OBJ_LDTASK || o->kind == HI1_OBJ_LITASK)
		return (int64_t)store_task_answered(o) << 1 |
		    o->u.task.deadline_missed;
	if (o->kind == HI1_OBJ_AUTHORISATION)
		return o->u.auth.ratified ? -1 : o->u.auth.ratify_by_us;
	return 0;
}

/*
 * Write o: insert (if new; an existing row is kept) or update; the desk's
 * rows too when desk is set (a new object, or what they hold changed).
 */
static int
store_put(struct store *s, const struct obj *o, bool insert, bool desk)
{
	sqlite3_stmt	*q = s->st[insert ? ST_INSERT : ST_UPDATE];
	uint8_t		*plain, *body;
	size_t		 plen, blen;
	int		 rc;

	if ((plain = obj_encode(o, &plen)) == NULL)
		return -1;
	body = store_seal(s, o, plain, plen, &blen);
	OPENSSL_cleanse(plain, plen);
	free(plain);
	if (body == NULL)
		return -1;
	sqlite3_bind_text(q, 1, o->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, o->oid, -1, SQLITE_STATIC);
	if (insert) {
		sqlite3_bind_int(q, 3, o->kind);
		sqlite3_bind_text(q, 4, o->ref, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, o->kind == HI1_OBJ_DELIVERY ?
		    o->u.part.task_id : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 6, o->changed_us);
		sqlite3_bind_int64(q, 7, obj_next_due(o));
		sqlite3_bind_int(q, 8, store_is_open(o));
		sqlite3_bind_blob(q, 9, body, (int)blen, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(q, 3, o->changed_us);
		sqlite3_bind_int64(q, 4, obj_next_due(o));
		sqlite3_bind_int(q, 5, store_is_open(o));
		sqlite3_bind_blob(q, 6, body, (int)blen, SQLITE_STATIC);
	}
	rc = store_step_done(s, q);
	free(body);
	if (rc == 0 && desk)
		rc = store_desk_put(s, o);
	return rc == 0 ? store_queue_put(s, o) : rc;
}

/* Apply the record's changes to the objects it names. */
static int
store_apply_changes(struct store *s, const Warrant__Record *rec)
{
	const char	*ids[STORE_TARGETS_MAX];
	const char	*owner = rec->authority_id ? rec->authority_id : "";
	struct obj	*o;
	size_t		 n;
	int		 rc = 0, r;

	n = obj_record_targets(rec, ids, STORE_TARGETS_MAX);
	if (n == 0)
		return 0;
	if ((o = malloc(sizeof(*o))) == NULL)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((r = store_get(s, owner, ids[i], o)) == -1)
			rc = -1;
		else if (r == 0 && rec->event !=
		    WARRANT__EVENT_TYPE__EVENT_REQUEST_READ)	/* a GET may miss */
			log_warnx("journal record %llu names %s, which the store "
			    "does not hold for %s", (unsigned long long)rec->seq,
			    ids[i], owner);
		else {
			int64_t sig = store_desk_sig(o);

			if ((r = obj_apply(o, rec)) == 1)
				rc = store_put(s, o, false,
				    sig != store_desk_sig(o));
			else if (r == -1)
				log_warnx("journal record %llu: change of %s "
				    "not applied", (unsigned long long)rec->seq,
				    ids[i]);
		}
	}
	free(o);
	return rc;
}

int
store_apply(struct store *s, const Warrant__Record *rec)
{
	struct obj	*v;
	size_t		 n = 0;
	int		 rc = 0;

	if (rec->seq < s->applied)
		return 0;
	if (store_step_done(s, s->st[ST_BEGIN]) == -1)
		return -1;
	v = obj_from_record(rec, &n);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = store_put(s, &v[i], true, true);
	free(v);
	if (rc == 0)
		rc = store_apply_changes(s, rec);
	if (rc == 0) {
		sqlite3_bind_int64(s->st[ST_APPLIED_SET], 1, (int64_t)rec->seq + 1);
		rc = store_step_done(s, s->st[ST_APPLIED_SET]);
	}
	if (rc == 0 && store_step_done(s, s->st[ST_COMMIT]) == 0) {
		s->applied = rec->seq + 1;
		return 0;
	}
	store_step_done(s, s->st[ST_ROLLBACK]);
	log_warnx("store %s: record %llu not applied", s->path,
	    (unsigned long long)rec->seq);
	return -1;
}

static int
store_queue_fill_one(const struct obj *o, void *arg)
{
	return store_queue_put(arg, o) == -1 ? -1 : 0;
}

/*
 * A store written before the queue table (or queue_ref) existed: its open
 * tasks are put in once, in one transaction, and meta says so. A store whose key does not
 * open its objects (store_readable) fills nothing here: it is rebuilt.
 */
int
store_queue_fill(struct store *s)
{
	sqlite3_stmt	*q;
	bool		 done;
	int		 rc;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM meta WHERE key "
	    "IN ('queue', 'queue_ref')", -1, &q, NULL) != SQLITE_OK)
		return -1;
	done = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 2;
	sqlite3_finalize(q);
	/* Under another key it is rebuilt from the journal (warrantd.c). */
	if (done || !store_readable(s))
		return 0;
	if (store_step_done(s, s->st[ST_BEGIN]) == -1)
		return -1;
	rc = store_visit(s, s->st[ST_OPEN], store_queue_fill_one, s);
	if (rc == 0 && sqlite3_exec(s->db, "INSERT OR IGNORE INTO meta(key, "
	    "value) VALUES ('queue', 1), ('queue_ref', 1)", NULL, NULL,
	    NULL) != SQLITE_OK)
		rc = -1;
	if (rc == 0 && store_step_done(s, s->st[ST_COMMIT]) == 0)
		return 0;
	store_step_done(s, s->st[ST_ROLLBACK]);
	log_warnx("store %s: the desk's queue index cannot be built",
	    s->path);
	return -1;
}

static int
store_desk_fill_one(const struct obj *o, void *arg)
{
	return store_desk_put(arg, o) == -1 ? -1 : 0;
}

/*
 * A store written before the desk's day statistics and urgent orders
 * existed: its tasks and orders are put in once, in one transaction.
 */
int
store_desk_fill(struct store *s)
{
	sqlite3_stmt	*q;
	char		 sql[160];
	bool		 done;
	int		 rc;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM meta WHERE key "
	    "= 'daystat'", -1, &q, NULL) != SQLITE_OK)
		return -1;
	done = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
	sqlite3_finalize(q);
	if (done || !store_readable(s))
		return 0;
	snprintf(sql, sizeof(sql), "SELECT owner, oid, body FROM objects "
	    "WHERE kind IN (%d, %d, %d)", HI1_OBJ_LDTASK, HI1_OBJ_LITASK,
	    HI1_OBJ_AUTHORISATION);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	if ((rc = store_step_done(s, s->st[ST_BEGIN])) == 0)
		rc = store_visit(s, q, store_desk_fill_one, s);
	sqlite3_finalize(q);
	if (rc == 0 && sqlite3_exec(s->db, "INSERT OR IGNORE INTO meta(key, "
	    "value) VALUES ('daystat', 1)", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	if (rc == 0 && store_step_done(s, s->st[ST_COMMIT]) == 0)
		return 0;
	store_step_done(s, s->st[ST_ROLLBACK]);
	log_warnx("store %s: the desk's statistics cannot be built", s->path);
	return -1;
}
