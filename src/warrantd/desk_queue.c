/*
 * desk_queue — what the desk reads (src/warrantd/desk.c routes to it): the
 * queue of open tasks, filtered, sorted and searched (a search by
 * identifier is journaled first), and one request's view: its objects, the
 * desk's state, results' metadata, and their contents for the request types
 * `desk show-results` names.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "alert.h"
#include "desk_board.h"
#include "desk_int.h"
#include "lifecycle.h"
#include "log.h"
#include "review.h"
#include "store.h"

/* ---- the queue ---------------------------------------------------------- */

struct desk_row {
	int64_t	 deadline;	/* 0: none */
	int64_t	 created;
	json_t	*j;
	char	 key[OBJ_REF_LEN + 32];	/* ref, authority, type or state */
};

struct desk_scan {
	struct desk		*d;
	const struct desk_filter *f;
	const struct wd_conf	*conf;
	struct desk_row		*rows;
	size_t			 n, cap;
	int64_t			 now;
	bool			 oom;
};

/* The registry id of the official with this certificate fingerprint. */
const char *
desk_official_id(const struct wd_conf *conf, const char *hex)
{
	uint8_t	fp[32];

	if (strlen(hex) != 64)
		return NULL;
	for (size_t i = 0; i < 32; i++) {
		int hi = desk_hex(hex[2 * i]), lo = desk_hex(hex[2 * i + 1]);

		if (hi == -1 || lo == -1)
			return NULL;
		fp[i] = (uint8_t)(hi << 4 | lo);
	}
	const struct wd_official *o = conf_find_official(conf, fp, fp);
	return o ? o->id : NULL;
}

static bool
desk_has_identifier(const struct obj *o, const char *id)
{
	for (size_t i = 0; i < o->u.task.t.nids; i++)
		if (strcmp(o->u.task.t.ids[i].value, id) == 0)
			return true;
	return false;
}

static bool
desk_match(const struct desk_filter *f, const struct obj *o)
{
	const struct obj_task *t = &o->u.task;

	return (!f->state[0] || strcmp(f->state, obj_status_name(o->status)) == 0) &&
	    (!f->type[0] || strcmp(f->type, wd_reqtype_confname(t->t.type)) == 0) &&
	    (!f->authority[0] || strcmp(f->authority, o->owner) == 0) &&
	    (!f->holder[0] || strcmp(f->holder, t->desk.holder) == 0) &&
	    (!f->carrier_ref[0] || strcmp(f->carrier_ref, o->ref) == 0) &&
	    (!f->authority_ref[0] || strcmp(f->authority_ref, t->t.reference) == 0) &&
	    (!f->identifier[0] || desk_has_identifier(o, f->identifier));
}

/* The urgent order's ratification clock of a task's order, 0 if none. */
static int64_t
desk_ratify_by(struct desk *d, const struct obj *o)
{
	struct obj	*a;
	int64_t		 by = 0;

	if ((a = malloc(sizeof(*a))) == NULL)
		return 0;
	if (store_get(d->env.store, o->owner, o->u.task.auth_id, a) == 1 &&
	    a->kind == HI1_OBJ_AUTHORISATION && !a->u.auth.ratified)
		by = a->u.auth.ratify_by_us;
	free(a);
	return by;
}

/* One task as the queue and the request page show it. */
static json_t *
desk_task_json(struct desk *d, const struct wd_conf *conf, const struct obj *o,
    int64_t now)
{
	const struct obj_task	*t = &o->u.task;
	const char		*official = desk_official_id(conf, t->desk.official_fp);
	int64_t			 ratify = desk_ratify_by(d, o);
	enum alert_level	 l;
	json_t			*j;

	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:s,"
	    " s:b, s:s, s:i, s:s, s:b, s:i}",
	    "ref", o->ref, "task", o->oid, "authority", o->owner,
	    "authority_ref", t->t.reference,
	    "type", wd_reqtype_confname(t->t.type),
	    "state", obj_status_name(o->status),
	    "official", official ? json_string(official) : json_null(),
	    "deadline", desk_time(t->answer_by_us),
	    "deadline_missed", t->deadline_missed,
	    "ratify_by", desk_time(ratify),
	    "holder", t->desk.holder,
	    "held", t->desk.held,
	    "review", review_name((enum wd_review)t->desk.review),
	    "notes", (int)t->desk.notes,
	    "decided_by", t->desk.decided_by,
	    "flagged", t->desk.review == WD_REVIEW_AFTER && !t->desk.reviewed,
	    "identifiers", (int)t->t.nids);
	if (j == NULL)
		return NULL;
	if (t->desk.first_approver[0] != '\0')
		json_object_set_new(j, "first_approval",
		    json_string(t->desk.first_approver));
	if (t->answer_by_us != 0)
		json_object_set_new(j, "seconds_left",
		    json_integer((t->answer_by_us - now) / 1000000));
	if (ratify != 0)
		json_object_set_new(j, "ratify_seconds_left",
		    json_integer((ratify - now) / 1000000));
	if (t->desk.held)
		json_object_set_new(j, "hold_note", json_string(t->desk.hold_note));
	else if (t->desk.released_note[0] != '\0')	/* a supervisor re-opens it */
		json_object_set_new(j, "released_hold", json_true());
	if ((l = alert_level_of(d->env.alerts, o->owner, o->oid)) != ALERT_NONE)
		json_object_set_new(j, "alert", json_string(alert_level_name(l)));
	if (o->reason_code != 0) {
		json_object_set_new(j, "reason_code", json_integer(o->reason_code));
		json_object_set_new(j, "reason", json_string(o->reason));
	}
	return j;
}

static int
desk_scan_visit(const struct obj *o, void *arg)
{
	struct desk_scan	*s = arg;
	struct desk_row		*r;
	const char		*key;

	if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
	    obj_final(o) || !desk_match(s->f, o))
		return 0;
	if (s->n == s->cap) {
		size_t	 cap = s->cap ? s->cap * 2 : 64;
		void	*p = realloc(s->rows, cap * sizeof(*s->rows));

		if (p == NULL) {
			s->oom = true;
			return 1;
		}
		s->rows = p;
		s->cap = cap;
	}
	r = &s->rows[s->n];
	if ((r->j = desk_task_json(s->d, s->conf, o, s->now)) == NULL) {
		s->oom = true;
		return 1;
	}
	r->deadline = o->u.task.answer_by_us;
	r->created = o->created_us;
	key = strcmp(s->f->sort, "authority") == 0 ? o->owner :
	    strcmp(s->f->sort, "type") == 0 ? wd_reqtype_confname(o->u.task.t.type) :
	    strcmp(s->f->sort, "state") == 0 ? obj_status_name(o->status) : o->ref;
	snprintf(r->key, sizeof(r->key), "%s", key);
	s->n++;
	return 0;
}

static int
desk_row_cmp(const void *a, const void *b, void *arg)
{
	const struct desk_row	*x = a, *y = b;
	const char		*desk_sort_by = arg;
	int			 c;

	if (strcmp(desk_sort_by, "deadline") == 0) {
		/* No deadline sorts last. */
		int64_t dx = x->deadline ? x->deadline : INT64_MAX;
		int64_t dy = y->deadline ? y->deadline : INT64_MAX;

		if (dx != dy)
			return dx < dy ? -1 : 1;
	} else if (strcmp(desk_sort_by, "created") == 0) {
		if (x->created != y->created)
			return x->created < y->created ? -1 : 1;
	} else if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return x->created < y->created ? -1 : x->created > y->created;
}

/*
 * The state and type filters as the queue index holds them: -1 for none,
 * -2 for a name no open task can have (nothing matches).
 */
static int
desk_state_code(const char *name)
{
	if (name[0] == '\0')
		return -1;
	for (int i = 1; i < OST__COUNT; i++)
		if (strcmp(name, obj_status_name((enum obj_status)i)) == 0)
			return i;
	return -2;
}

static int
desk_type_code(const char *name)
{
	enum wd_reqtype t;

	if (name[0] == '\0')
		return -1;
	return wd_reqtype_from_confname(name, &t) == 0 ? (int)t : -2;
}

/*
 * The tasks a queue request may show, without reading every open task
 * where an index answers: the console's first page (no filter, by
 * deadline, earliest first) and its state and type filters are one range
 * of the store's queue indexes, and a search by carrier reference or by
 * the authority's reference (its keyed token) is one lookup. Other
 * filters (authority, holder, identifier) alone read every open task:
 * what they match is inside the encrypted bodies. Every task read is
 * still matched against every filter (desk_match). total: matches before
 * the limit.
 */
static int
desk_queue_read(struct desk *d, const struct desk_filter *f,
    struct desk_scan *s, uint64_t *total)
{
	int rc, state = desk_state_code(f->state), type = desk_type_code(f->type);

	if (!f->authority[0] && !f->holder[0] &&
	    !f->carrier_ref[0] && !f->authority_ref[0] && !f->identifier[0] &&
	    strcmp(f->sort, "deadline") == 0 && !f->desc) {
		if (state == -2 || type == -2) {
			*total = 0;
			return 0;
		}
		*total = store_queue_count_where(d->env.store, type, state);
		return store_queue_where(d->env.store, type, state, 0,
		    f->limit, desk_scan_visit, s);
	}
	if (f->carrier_ref[0])
		rc = store_by_ref_any(d->env.store, f->carrier_ref,
		    desk_scan_visit, s);
	else if (f->authority_ref[0])
		rc = store_queue_by_aref(d->env.store, f->authority_ref,
		    desk_scan_visit, s);
	else
		rc = store_open_work(d->env.store, desk_scan_visit, s);
	*total = s->n;
	return rc;
}

void
desk_queue(struct desk *d, const struct desk_request *r,
    desk_reply_cb cb, void *arg)
{
	struct desk_filter	 f;
	struct desk_scan	 s = { .d = d, .f = &f, .conf = r->conf,
	    .now = desk_now_us() };
	const char		*bad;
	json_t			*tasks, *j;
	struct desk_job		*job;
	uint64_t		 total;

	if ((bad = desk_filter_parse(r->query, &f)) != NULL) {
		char msg[96];

		snprintf(msg, sizeof(msg), "query parameter %s is malformed", bad);
		desk_error(cb, arg, 400, "bad-parameter", msg);
		return;
	}
	if (desk_queue_read(d, &f, &s, &total) == -1 || s.oom) {
		for (size_t i = 0; i < s.n; i++)
			json_decref(s.rows[i].j);
		free(s.rows);
		desk_error(cb, arg, 503, "store", "the object store cannot be read");
		return;
	}
	if (s.n > 1)	/* (qsort must not see a NULL array, even empty) */
		qsort_r(s.rows, s.n, sizeof(*s.rows), desk_row_cmp, f.sort);
	tasks = json_array();
	for (size_t i = 0; i < s.n; i++) {
		size_t k = f.desc ? s.n - 1 - i : i;

		if (i < f.limit)
			json_array_append(tasks, s.rows[k].j);
		json_decref(s.rows[k].j);
	}
	free(s.rows);
	j = json_pack("{s:I, s:o}", "total", (json_int_t)total, "tasks", tasks);
	if (f.identifier[0] == '\0') {
		desk_reply_json(cb, arg, 200, j);
		return;
	}
	/* A search by identifier is an action: journaled before answered. */
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		json_decref(j);
		desk_error(cb, arg, 503, "memory", "out of memory");
		return;
	}
	job->answer = j;
	snprintf(job->action, sizeof(job->action), "search");
	snprintf(job->query_kind, sizeof(job->query_kind), "identifier");
	EVP_Digest(f.identifier, strlen(f.identifier), job->query_sha, NULL,
	    EVP_sha256(), NULL);
	job->act.query_sha256.data = job->query_sha;
	job->act.query_sha256.len = sizeof(job->query_sha);
	job->act.matches = (uint32_t)s.n;
	job->d = d;
	job->cb = cb;
	job->arg = arg;
	snprintf(job->operator_id, sizeof(job->operator_id), "%s", r->who->id);
	snprintf(job->level, sizeof(job->level), "%s", desk_level(r->who));
	snprintf(job->fp, sizeof(job->fp), "%s", r->fingerprint);
	snprintf(job->peer, sizeof(job->peer), "%s", r->peer);
	desk_journal(job);
}

/* ---- one request ---------------------------------------------------------- */

/* Result bytes one view of a request shows at most (before base64). */
#define DESK_SHOW_MAX	(16 * 1024 * 1024)

/* A part whose contents may be shown, once its task's type is known. */
struct desk_show_part {
	json_t		*j;		/* its object in the answer */
	struct obj_part	 p;
};

/* A task of the request whose type `desk show-results` names. */
struct desk_show_task {
	char		 oid[HI1_UUID_LEN + 1];
};

struct desk_show {
	struct desk		*d;
	const struct wd_conf	*conf;
	json_t			*objects;
	char			 owner[HI1_ID_LEN + 1];
	int64_t			 now;
	size_t			 n;
	bool			 any_shown;	/* conf names a type */
	bool			 oom;
	struct desk_show_part	*parts;
	size_t			 nparts;
	struct desk_show_task	*tasks;
	size_t			 ntasks;
};

/* Remember what view-results needs; parts and tasks come in any order. */
static int
desk_show_keep(struct desk_show *s, const struct obj *o, json_t *j)
{
	if (o->kind == HI1_OBJ_DELIVERY && !o->u.part.destroyed) {
		struct desk_show_part *v = reallocarray(s->parts,
		    s->nparts + 1, sizeof(*v));

		if (v == NULL)
			return -1;
		s->parts = v;
		v[s->nparts].j = j;
		v[s->nparts++].p = o->u.part;
	} else if ((o->kind == HI1_OBJ_LDTASK || o->kind == HI1_OBJ_LITASK) &&
	    s->conf->desk_show_results[o->u.task.t.type]) {
		struct desk_show_task *v = reallocarray(s->tasks,
		    s->ntasks + 1, sizeof(*v));

		if (v == NULL)
			return -1;
		s->tasks = v;
		snprintf(v[s->ntasks++].oid, sizeof(v->oid), "%s", o->oid);
	}
	return 0;
}

static int
desk_show_visit(const struct obj *o, void *arg)
{
	struct desk_show	*s = arg;
	json_t			*j = NULL;

	snprintf(s->owner, sizeof(s->owner), "%s", o->owner);
	s->n++;
	switch (o->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		if ((j = desk_task_json(s->d, s->conf, o, s->now)) == NULL)
			return 1;
		json_object_set_new(j, "kind", json_string(o->kind ==
		    HI1_OBJ_LDTASK ? "LDTask" : "LITask"));
		json_object_set_new(j, "parts", json_integer(o->u.task.parts));
		if (o->u.task.desk.notes > 0)
			json_object_set_new(j, "last_note",
			    json_string(o->u.task.desk.last_note));
		break;
	case HI1_OBJ_AUTHORISATION:
		j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o}",
		    "kind", "Authorisation", "object", o->oid,
		    "state", obj_status_name(o->status),
		    "authority_ref", o->u.auth.a.reference,
		    "urgent", o->u.auth.a.urgent,
		    "valid_until", desk_time(o->u.auth.a.valid_until_us),
		    "ratify_by", desk_time(o->u.auth.ratified ? 0 :
		    o->u.auth.ratify_by_us));
		break;
	case HI1_OBJ_DELIVERY: {
		char hex[65];

		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", o->u.part.sha256[i]);
		/* Metadata, counts and digests: never the results. */
		j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:s, s:b, s:b}",
		    "kind", "Delivery", "object", o->oid, "task",
		    o->u.part.task_id, "sequence", (int)o->u.part.seq,
		    "parts", (int)o->u.part.parts,
		    "count", (json_int_t)o->u.part.count,
		    "size", (json_int_t)o->u.part.size, "sha256", hex,
		    "delivered", o->u.part.delivered,
		    "destroyed", o->u.part.destroyed);
		break;
	}
	default:
		j = json_pack("{s:s, s:s, s:s}", "kind",
		    o->kind == HI1_OBJ_DOCUMENT ? "Document" : "Notification",
		    "object", o->oid, "state", o->kind == HI1_OBJ_DOCUMENT ?
		    obj_status_name(o->status) : "");
		break;
	}
	if (j == NULL)
		return 1;
	json_object_set_new(j, "generation", json_integer(o->generation));
	json_object_set_new(j, "changed", desk_time(o->changed_us));
	if (s->any_shown && desk_show_keep(s, o, j) == -1) {
		json_decref(j);
		s->oom = true;
		return 1;
	}
	json_array_append_new(s->objects, j);
	return 0;
}

static bool
desk_show_task_listed(const struct desk_show *s, const char *oid)
{
	for (size_t i = 0; i < s->ntasks; i++)
		if (strcmp(s->tasks[i].oid, oid) == 0)
			return true;
	return false;
}

/*
 * Contents of the parts whose task's type `desk show-results` names, as
 * content_base64 on each part; else content_error: "not-kept" (results
 * carried in the authority's answer are not stored), "over-limit" (the
 * view already holds DESK_SHOW_MAX bytes: one answer stays bounded) or
 * "unreadable" (the stored result fails its seal or is gone: never sent
 * unchecked). Fills job's text with the tasks whose results are shown; the
 * number of parts shown, or -1 (memory).
 */
static int
desk_show_contents(struct desk_show *s, struct desk_job *job)
{
	uint8_t	*data;
	size_t	 len, tl, total = 0;
	int	 shown = 0;

	for (size_t i = 0; i < s->nparts; i++) {
		struct desk_show_part *sp = &s->parts[i];
		char *b64;

		if (!desk_show_task_listed(s, sp->p.task_id))
			continue;
		/* Carried in the authority's answer: its data was never kept. */
		if (sp->p.result_name[0] == '\0') {
			json_object_set_new(sp->j, "content_error",
			    json_string("not-kept"));
			continue;
		}
		if (total >= DESK_SHOW_MAX || sp->p.size > DESK_SHOW_MAX - total) {
			json_object_set_new(sp->j, "content_error",
			    json_string("over-limit"));
			continue;
		}
		if (lifecycle_part_read(s->d->env.lifecycle, &sp->p, &data,
		    &len) == -1) {
			log_warnx("desk: view-results %s: part %u (%s) of task %s "
			    "cannot be read", job->ref, sp->p.seq, sp->p.result_name,
			    sp->p.task_id);
			json_object_set_new(sp->j, "content_error",
			    json_string("unreadable"));
			continue;
		}
		b64 = len <= INT_MAX / 2 ? malloc(4 * ((len + 2) / 3) + 1) : NULL;
		if (b64 != NULL)
			EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
		total += len;
		OPENSSL_cleanse(data, len);
		free(data);
		if (b64 == NULL || json_object_set_new(sp->j, "content_base64",
		    json_string(b64)) == -1) {
			free(b64);
			return -1;
		}
		free(b64);
		/* The journal names the tasks viewed (no contents, ever). */
		if (strstr(job->text, sp->p.task_id) == NULL &&
		    (tl = strlen(job->text)) + HI1_UUID_LEN + 2 < sizeof(job->text))
			snprintf(job->text + tl, sizeof(job->text) - tl, "%s%s",
			    tl ? " " : "", sp->p.task_id);
		if (job->oid[0] == '\0')
			snprintf(job->oid, sizeof(job->oid), "%s", sp->p.task_id);
		shown++;
	}
	return shown;
}

/*
 * A view with contents: the answer is sent once its "view-results" record
 * (who, which request and tasks, how many parts) is durable. 0 if nothing
 * was to be shown (the caller answers), 1 if answered.
 */
static int
desk_show_results(struct desk_show *s, const struct desk_request *r,
    const char *ref, json_t *answer, desk_reply_cb cb, void *arg)
{
	struct desk_job	*job;
	int		 n;

	if (s->ntasks == 0 || s->nparts == 0)
		return 0;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		json_decref(answer);
		desk_error(cb, arg, 503, "memory", "out of memory");
		return 1;
	}
	snprintf(job->ref, sizeof(job->ref), "%s", ref);
	if ((n = desk_show_contents(s, job)) <= 0) {
		free(job);
		if (n == 0)
			return 0;
		json_decref(answer);
		desk_error(cb, arg, 503, "memory", "out of memory");
		return 1;
	}
	job->d = s->d;
	job->cb = cb;
	job->arg = arg;
	job->answer = answer;
	snprintf(job->action, sizeof(job->action), "view-results");
	snprintf(job->operator_id, sizeof(job->operator_id), "%s", r->who->id);
	snprintf(job->level, sizeof(job->level), "%s", desk_level(r->who));
	snprintf(job->fp, sizeof(job->fp), "%s", r->fingerprint);
	snprintf(job->peer, sizeof(job->peer), "%s", r->peer);
	snprintf(job->owner, sizeof(job->owner), "%s", s->owner);
	job->act.matches = (uint32_t)n;
	desk_journal(job);
	return 1;
}

void
desk_show(struct desk *d, const struct desk_request *r, const char *ref,
    desk_reply_cb cb, void *arg)
{
	struct desk_show	 s = { .d = d, .conf = r->conf, .now = desk_now_us() };
	json_t			*answer;
	int			 rc;

	if (!desk_word_ok(ref, OBJ_REF_LEN - 1)) {
		desk_error(cb, arg, 400, "bad-reference", "malformed reference");
		return;
	}
	if ((s.objects = json_array()) == NULL) {
		desk_error(cb, arg, 503, "memory", "out of memory");
		return;
	}
	for (size_t i = 0; i < WD_REQ__COUNT; i++)
		s.any_shown |= r->conf->desk_show_results[i];
	rc = store_by_ref_any(d->env.store, ref, desk_show_visit, &s);
	if (rc != 0 || s.n == 0) {
		json_decref(s.objects);
		if (s.oom)
			desk_error(cb, arg, 503, "memory", "out of memory");
		else if (rc != 0)
			desk_error(cb, arg, 503, "store", "the object store cannot "
			    "be read");
		else
			desk_error(cb, arg, 404, "not-found", "no request with "
			    "this reference");
	} else if ((answer = json_pack("{s:s, s:s, s:o}", "ref", ref,
	    "authority", s.owner, "objects", s.objects)) == NULL)
		desk_error(cb, arg, 503, "memory", "out of memory");
	else if (!desk_show_results(&s, r, ref, answer, cb, arg))
		desk_reply_json(cb, arg, 200, answer);
	free(s.parts);
	free(s.tasks);
}
