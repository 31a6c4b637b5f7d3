/*
 * desk — the carrier's compliance desk API (issue 10, docs/desk-api.md):
 *   GET  /desk/api/me                 who the certificate is
 *   GET  /desk/api/queue?...          open tasks: filter, sort, search
 *   GET  /desk/api/requests/REF       one request: its objects, the desk's state
 *   GET  /desk/api/alerts             deadlines in danger (src/warrantd/alert.h)
 *   GET  /desk/api/urgent             the urgent-orders board (desk_board.c)
 *   GET  /desk/api/stats?date=        a day's statistics (desk_board.c)
 *   POST /desk/api/{approve,reject,hold,release,assign,note,reviewed,reopen}
 *   GET  /metrics, /healthz, and the console's files
 * all read from one route table (desk_routes[], at the end; matched by
 * desk_routes.c): 403 to who is no desk person, else 404, 405 from it.
 * Only registered desk operators and supervisors whose registration is in
 * force get an answer; officials, auditors and unknown certificates get 403.
 * Every action, and every search by identifier, is one journal record
 * (EVENT_DESK_ACTION, with the operator's fingerprint and registry id) and
 * is answered only once that record is durable. State-changing calls must
 * be POST with Content-Type application/json: a browser sends neither
 * cross-origin without a CORS preflight we never grant, so a page elsewhere
 * cannot make an operator's browser act (CSRF).
 *
 * Operators see what was asked (types, identifiers, references, clocks) and
 * results' metadata (parts, counts, digests), never result contents, except
 * for the request types `desk show-results` names: then a request's view
 * carries its parts' contents and is journaled first ("view-results").
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "alert.h"
#include "backend.h"
#include "conf.h"
#include "desk.h"
#include "desk_board.h"
#include "desk_input.h"
#include "desk_routes.h"
#include "journal.h"
#include "lifecycle.h"
#include "log.h"
#include "obj.h"
#include "review.h"
#include "store.h"
#include "x1_prov.h"
#include "tally.h"
#include "wd_time.h"


static const char *const desk_actions[] = {
	"approve", "reject", "hold", "release", "assign", "note", "reviewed",
	"reopen", NULL
};
#define DESK_SEARCH	8	/* desk.actions[]: searches by identifier */

/* The console's files: fixed names, read once at start (no paths from requests). */
static const struct desk_page_name {
	const char	*path;		/* as requested */
	const char	*file;		/* in desk_env.pages */
	const char	*type;
} desk_page_names[] = {
	{ "/", "index.html", "text/html; charset=utf-8" },
	{ "/index.html", "index.html", "text/html; charset=utf-8" },
	{ "/request.html", "request.html", "text/html; charset=utf-8" },
	{ "/urgent.html", "urgent.html", "text/html; charset=utf-8" },
	{ "/stats.html", "stats.html", "text/html; charset=utf-8" },
	{ "/board.js", "board.js", "text/javascript; charset=utf-8" },
	{ "/desk.js", "desk.js", "text/javascript; charset=utf-8" },
	{ "/desk.css", "desk.css", "text/css; charset=utf-8" },
};
#define DESK_NPAGES	(sizeof(desk_page_names) / sizeof(desk_page_names[0]))
#define DESK_PAGE_MAX	(256 * 1024)

struct desk_page {
	char	*data;		/* NULL: not loaded */
	size_t	 len;
};

struct desk {
	struct desk_env	 env;
	struct desk_page pages[DESK_NPAGES];
	unsigned	 pending;
	uint64_t	 actions[DESK_SEARCH + 1];	/* by desk_actions[], and searches */
};

/* One request while its record is written: everything the reply needs. */
struct desk_job {
	struct desk		*d;
	desk_reply_cb		 cb;
	void			*arg;
	json_t			*answer;	/* sent once durable */
	Warrant__Record		 rec;
	Warrant__DeskAction	 act;
	char			 action[16];
	char			 operator_id[OBJ_DESK_ID_LEN];
	char			 level[16];
	char			 fp[65];
	char			 peer[64];
	char			 owner[HI1_ID_LEN + 1];
	char			 ref[OBJ_REF_LEN];
	char			 oid[HI1_UUID_LEN + 1];
	char			 text[4 * DESK_TEXT_MAX + 1];
	char			 assignee[OBJ_DESK_ID_LEN];
	char			 query_kind[16];
	char			 query[DESK_FIELD_MAX + 1];
	uint8_t			 query_sha[32];
};

/* One of the console's files, whole, at most DESK_PAGE_MAX bytes. */
static int
desk_page_load(const char *dir, const char *file, struct desk_page *pg)
{
	char	 path[PATH_MAX];
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if ((pg->data = malloc(DESK_PAGE_MAX + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(pg->data, 1, DESK_PAGE_MAX + 1, f);
	if (ferror(f) || n > DESK_PAGE_MAX) {
		log_warnx("desk: %s: unreadable or larger than %d bytes", path,
		    DESK_PAGE_MAX);
		free(pg->data);
		pg->data = NULL;
		fclose(f);
		return -1;
	}
	fclose(f);
	pg->len = n;
	return 0;
}

struct desk *
desk_new(const struct desk_env *env)
{
	struct desk	*d;
	size_t		 loaded = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->env = *env;
	for (size_t i = 0; env->pages != NULL && i < DESK_NPAGES; i++)
		loaded += desk_page_load(env->pages, desk_page_names[i].file,
		    &d->pages[i]) == 0;
	if (loaded < DESK_NPAGES)
		log_warnx("desk: the console's files are not all in %s: the "
		    "console is incomplete (the API works)", env->pages ?
		    env->pages : "(none)");
	return d;
}

void
desk_free(struct desk *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < DESK_NPAGES; i++)
		free(d->pages[i].data);
	free(d);
}

/* ---- answers ---------------------------------------------------------- */

static void
desk_reply_json(desk_reply_cb cb, void *arg, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s == NULL) {
		cb(500, "application/json", NULL, 0, arg);
		return;
	}
	cb(status, "application/json", s, strlen(s), arg);
}

static void
desk_error(desk_reply_cb cb, void *arg, int status, const char *code,
    const char *msg)
{
	desk_reply_json(cb, arg, status, json_pack("{s:s, s:s}", "error", code,
	    "message", msg));
}

static const char *
desk_level(const struct wd_official *o)
{
	return o->role == WD_ROLE_SUPERVISOR ? "supervisor" : "operator";
}

/* ISO 8601 UTC of µs since the epoch, or JSON null for 0. */
json_t *
desk_time(int64_t us)
{
	char		 buf[32];

	if (us != 0)
		wd_time_format_s(us, buf, sizeof(buf));
	return us == 0 || buf[0] == '\0' ? json_null() : json_string(buf);
}

static int64_t
desk_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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

static void	desk_journal(struct desk_job *);

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

static void
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

static void
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

/* ---- actions ---------------------------------------------------------- */

static void
desk_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	struct desk_job *job = arg;

	job->d->pending--;
	if (status != 0) {
		log_warnx("desk: %s by %s not recorded (error %d)", job->action,
		    job->operator_id, status);
		json_decref(job->answer);
		desk_error(job->cb, job->arg, 503, "journal", "the action could "
		    "not be recorded; nothing was done, try again");
	} else {
		if (rcpt != NULL)
			json_object_set_new(job->answer, "journal_seq",
			    json_integer((json_int_t)rcpt->seq));
		for (size_t i = 0; i <= DESK_SEARCH; i++)
			if (strcmp(job->action, i < DESK_SEARCH ?
			    desk_actions[i] : "search") == 0)
				job->d->actions[i]++;
		log_info("desk: %s %s by %s (%s) from %s", job->action,
		    job->ref[0] ? job->ref : job->query_kind, job->operator_id,
		    job->level, job->peer);
		desk_reply_json(job->cb, job->arg, 200, job->answer);
	}
	free(job);
}

static void
desk_fill_record(struct desk_job *job)
{
	warrant__record__init(&job->rec);
	warrant__desk_action__init(&job->act);
	job->act.action = job->action;
	job->act.operator_id = job->operator_id;
	job->act.object_id = job->oid;
	job->act.text = job->text;
	job->act.assignee = job->assignee;
	job->act.query_kind = job->query_kind;
	job->act.query = job->query;
	job->act.level = job->level;
	job->rec.event = WARRANT__EVENT_TYPE__EVENT_DESK_ACTION;
	job->rec.authority_id = job->owner;
	job->rec.carrier_ref = job->ref;
	job->rec.official_id = job->fp;
	job->rec.peer = job->peer;
	job->rec.desk = &job->act;
}

/* Journal job's action on its own (no transition), then answer. */
static void
desk_journal(struct desk_job *job)
{
	ProtobufCBinaryData	sha = job->act.query_sha256;
	uint32_t		matches = job->act.matches;

	desk_fill_record(job);
	job->act.query_sha256 = sha;
	job->act.matches = matches;
	job->d->pending++;
	if (journal_append(job->d->env.journal, &job->rec, desk_journaled,
	    job) == -1) {
		job->d->pending--;
		json_decref(job->answer);
		desk_error(job->cb, job->arg, 503, "journal", "the journal cannot "
		    "take records now; nothing was done, try again");
		free(job);
	}
}

static void
desk_decided(int status, void *arg)
{
	desk_journaled(status, NULL, arg);
}

/* The task an action names: "task" if given, else the request's only one. */
struct desk_find {
	const char	*task;
	bool		 awaiting;	/* only tasks in AwaitingApproval */
	struct obj	 o;
	size_t		 n;
};

static int
desk_find_visit(const struct obj *o, void *arg)
{
	struct desk_find *f = arg;

	if (o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK)
		return 0;
	if (f->task != NULL ? strcmp(f->task, o->oid) != 0 :
	    (f->awaiting && o->status != OST_AWAITING_APPROVAL))
		return 0;
	if (f->n++ == 0)
		f->o = *o;
	return 0;
}

/* A registered desk person in force, by registry id. */
static const struct wd_official *
desk_person(const struct wd_conf *conf, const char *id)
{
	const struct wd_official *o;

	TAILQ_FOREACH(o, &conf->officials, entry)
		if (strcmp(o->id, id) == 0 && (o->role == WD_ROLE_OPERATOR ||
		    o->role == WD_ROLE_SUPERVISOR) &&
		    conf_official_status(o, time(NULL)) == WD_OFFICIAL_OK)
			return o;
	return NULL;
}

/*
 * A supervisor re-opens what an operator closed and HI-1 never saw: a
 * review-after task marked reviewed (flagged again, even if the task has
 * ended), or a released hold while the task still awaits approval (held
 * again, with its note). A decision (approval, rejection) is never
 * re-opened: the authority has read it, or may have (docs/decisions.md).
 */
static const char *
desk_check_reopen(const struct desk_request *r, const struct obj *o,
    const char **msg, int *status)
{
	const struct obj_desk *k = &o->u.task.desk;

	if (r->who->role != WD_ROLE_SUPERVISOR) {
		*status = 403;
		*msg = "only a supervisor re-opens";
		return "forbidden";
	}
	if (k->review == WD_REVIEW_AFTER && k->reviewed)
		return NULL;
	if (k->released_note[0] != '\0' && !k->held &&
	    o->status == OST_AWAITING_APPROVAL)
		return NULL;
	*msg = "nothing to re-open: only a review-after task marked reviewed, or "
	    "a released hold on a task still awaiting approval";
	return "not-reopenable";
}

/*
 * Who may do what to this task (the body's fields are checked already).
 * NULL if allowed, else the refusal's code, with its message and status.
 */
static const char *
desk_check(const char *action, const struct desk_body *b,
    const struct desk_request *r, const struct obj *o, const char **msg,
    int *status)
{
	const struct obj_desk	*k = &o->u.task.desk;
	bool			 sup = r->who->role == WD_ROLE_SUPERVISOR;

	*status = 409;
	if (strcmp(action, "reopen") == 0)
		return desk_check_reopen(r, o, msg, status);
	/* A second look at a task carried out under review-after, even done. */
	if (strcmp(action, "reviewed") == 0) {
		if (k->review != WD_REVIEW_AFTER || k->reviewed) {
			*msg = "the task is not flagged for review";
			return "not-flagged";
		}
		return NULL;
	}
	if (obj_final(o)) {
		*msg = "the task has ended";
		return "task-ended";
	}
	if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0) {
		if (o->status != OST_AWAITING_APPROVAL) {
			*msg = "the task is not awaiting approval";
			return "not-awaiting-approval";
		}
		if (k->held && !sup) {
			*msg = "the task is on hold: release it first, or a "
			    "supervisor decides";
			return "on-hold";
		}
		if (strcmp(action, "approve") == 0 &&
		    strcmp(k->first_approver, r->who->id) == 0) {
			*msg = "four eyes: another operator must approve it too";
			return "four-eyes";
		}
	} else if (strcmp(action, "hold") == 0 && k->held) {
		*msg = "the task is already on hold";
		return "on-hold";
	} else if (strcmp(action, "release") == 0) {
		if (!k->held) {
			*msg = "the task is not on hold";
			return "not-held";
		}
		if (!sup && strcmp(k->holder, r->who->id) != 0) {
			*status = 403;
			*msg = "only the task's holder or a supervisor releases it";
			return "forbidden";
		}
	} else if (strcmp(action, "assign") == 0) {
		if (desk_person(r->conf, b->operator) == NULL) {
			*status = 400;
			*msg = "operator must name a registered desk operator in force";
			return "bad-operator";
		}
		if (!sup && k->holder[0] && strcmp(k->holder, r->who->id) != 0) {
			*status = 403;
			*msg = "the task is held by another operator: a supervisor "
			    "reassigns it";
			return "forbidden";
		}
	}
	return NULL;
}

static const char *
desk_body_message(const char *code)
{
	if (strcmp(code, "bad-reference") == 0)
		return "ref must be a carrier reference";
	if (strcmp(code, "bad-task") == 0)
		return "task must be an object identifier";
	if (strcmp(code, "bad-text") == 0)
		return "the text must be 1 to 500 characters of UTF-8 without "
		    "control characters (a reason at most 255 bytes)";
	if (strcmp(code, "bad-operator") == 0)
		return "operator must name a registered desk operator";
	return "the body must be one JSON object";
}

/* A job for the action, filled from the request, the body and the task. */
static struct desk_job *
desk_job_new(struct desk *d, const struct desk_request *r, const char *action,
    const struct desk_body *b, const struct obj *o, desk_reply_cb cb,
    void *arg)
{
	struct desk_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->d = d;
	job->cb = cb;
	job->arg = arg;
	snprintf(job->action, sizeof(job->action), "%s", action);
	snprintf(job->operator_id, sizeof(job->operator_id), "%s", r->who->id);
	snprintf(job->level, sizeof(job->level), "%s", desk_level(r->who));
	snprintf(job->fp, sizeof(job->fp), "%s", r->fingerprint);
	snprintf(job->peer, sizeof(job->peer), "%s", r->peer);
	snprintf(job->owner, sizeof(job->owner), "%s", o->owner);
	snprintf(job->ref, sizeof(job->ref), "%s", o->ref);
	snprintf(job->oid, sizeof(job->oid), "%s", o->oid);
	snprintf(job->text, sizeof(job->text), "%s", b->text);
	if (strcmp(action, "assign") == 0)
		snprintf(job->assignee, sizeof(job->assignee), "%s", b->operator);
	if ((job->answer = json_pack("{s:s, s:s, s:s, s:s}", "action", action,
	    "ref", o->ref, "task", o->oid, "operator", r->who->id)) == NULL) {
		free(job);
		return NULL;
	}
	return job;
}

/* approve and reject: the lifecycle records the transition with the action. */
static void
desk_decide(struct desk *d, struct desk_job *job)
{
	struct lc_desk_decision	 dd;
	desk_reply_cb		 cb = job->cb;
	void			*arg = job->arg;
	int			 rc;

	desk_fill_record(job);
	dd.owner = job->owner;
	dd.oid = job->oid;
	dd.approve = strcmp(job->action, "approve") == 0;
	dd.reason = job->text;
	dd.operator_fp = job->fp;
	dd.peer = job->peer;
	dd.action = &job->act;
	d->pending++;
	if ((rc = lifecycle_desk_decide(d->env.lifecycle, &dd, desk_decided,
	    job)) == 0)
		return;
	d->pending--;
	json_decref(job->answer);
	free(job);
	desk_error(cb, arg, rc == LC_DESK_NOT_FOUND ? 404 : rc == LC_DESK_ERROR ?
	    503 : 409, rc == LC_DESK_BUSY ? "busy" : rc == LC_DESK_STATE ?
	    "not-awaiting-approval" : "error", rc == LC_DESK_BUSY ? "the task "
	    "is being changed; try again" : "the decision could not be recorded");
}

static void
desk_action(struct desk *d, const struct desk_request *r, const char *action,
    desk_reply_cb cb, void *arg)
{
	struct desk_body	 b;
	struct desk_find	*f;
	struct desk_job		*job;
	const char		*code, *msg = "";
	int			 status;

	/* Non-simple requests only (POST, desk_routes[]): no form or
	 * text/plain post from elsewhere. */
	if (strncasecmp(r->content_type, "application/json", 16) != 0 ||
	    (r->content_type[16] != '\0' && r->content_type[16] != ';')) {
		desk_error(cb, arg, 415, "content-type",
		    "actions need Content-Type: application/json");
		return;
	}
	if ((code = desk_body_parse(action, r->body, r->len, &b)) != NULL) {
		desk_error(cb, arg, 400, code, desk_body_message(code));
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		desk_error(cb, arg, 503, "memory", "out of memory");
		return;
	}
	f->task = b.has_task ? b.task : NULL;
	f->awaiting = strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0;
	if (store_by_ref_any(d->env.store, b.ref, desk_find_visit, f) != 0) {
		code = "store", msg = "the object store cannot be read", status = 503;
	} else if (f->n != 1) {
		code = f->n == 0 ? "not-found" : "ambiguous";
		msg = f->n == 0 ? "no such task in this request" :
		    "the request has several tasks: name one with \"task\"";
		status = f->n == 0 ? 404 : 409;
	} else
		code = desk_check(action, &b, r, &f->o, &msg, &status);
	if (code != NULL) {
		free(f);
		desk_error(cb, arg, status, code, msg);
		return;
	}
	/*
	 * Four eyes: an interception's first approval is recorded on its own;
	 * only a second operator's approval carries the transition.
	 */
	bool first = strcmp(action, "approve") == 0 && r->conf->desk_four_eyes &&
	    f->o.kind == HI1_OBJ_LITASK && f->o.u.task.desk.first_approver[0] == '\0';
	job = desk_job_new(d, r, first ? "approve-first" : action, &b, &f->o, cb,
	    arg);
	free(f);
	if (job == NULL)
		desk_error(cb, arg, 503, "memory", "out of memory");
	else if (first) {
		json_object_set_new(job->answer, "second_approval_needed",
		    json_true());
		desk_journal(job);
	} else if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0)
		desk_decide(d, job);
	else
		desk_journal(job);
}

/* ---- the console's files ------------------------------------------------ */

/* GET of one of the console's files (its route in desk_routes[]). */
static void
desk_page(struct desk *d, const struct desk_request *r, desk_reply_cb cb,
    void *arg)
{
	for (size_t i = 0; i < DESK_NPAGES; i++) {
		const struct desk_page *pg = &d->pages[i];
		char *copy;

		if (strcmp(r->path, desk_page_names[i].path) != 0)
			continue;
		if (pg->data == NULL)
			desk_error(cb, arg, 404, "not-found", "the console is "
			    "not installed");
		else if ((copy = malloc(pg->len ? pg->len : 1)) == NULL)
			desk_error(cb, arg, 503, "memory", "out of memory");
		else {
			memcpy(copy, pg->data, pg->len);
			cb(200, desk_page_names[i].type, copy, pg->len, arg);
		}
		return;
	}
	desk_error(cb, arg, 404, "not-found", "no such resource");
}

unsigned
desk_pending(const struct desk *d)
{
	return d->pending;
}

/* ---- alerts ------------------------------------------------------------------ */

struct desk_alerts {
	json_t	*list;
	int64_t	 now;
};

static void
desk_alert_visit(const struct alert_info *a, void *arg)
{
	struct desk_alerts	*x = arg;
	json_t			*j;

	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:b}",
	    "level", alert_level_name(a->level),
	    "clock", alert_clock_name(a->clock),
	    "ref", a->ref, "authority", a->owner, "object", a->oid,
	    "type", a->type < 0 ? "order" : wd_reqtype_confname(a->type),
	    "deadline", desk_time(a->deadline_us),
	    "seconds_left", (json_int_t)((a->deadline_us - x->now) / 1000000),
	    "raised", desk_time(a->raised_us),
	    "final", a->final);
	if (j != NULL)
		json_array_append_new(x->list, j);
}

/* GET /desk/api/alerts: the open alerts, critical first, then by deadline. */
static void
desk_alerts(struct desk *d, desk_reply_cb cb, void *arg)
{
	struct desk_alerts	 x = { json_array(), desk_now_us() };
	struct alert_counts	 c;

	alert_counts(d->env.alerts, &c);
	alert_each(d->env.alerts, desk_alert_visit, &x);
	desk_reply_json(cb, arg, 200, json_pack("{s:{s:i, s:i}, s:o}", "open",
	    "critical", (int)c.critical, "warning", (int)c.warning,
	    "alerts", x.list));
}

/* GET /desk/api/urgent and /desk/api/stats (desk_board.c). */
static void
desk_board(struct desk *d, const struct desk_request *r, const char *p,
    desk_reply_cb cb, void *arg)
{
	json_t	*j;
	int	 status = 503;

	if (p[0] == 'u') {
		if (r->query != NULL && r->query[0] != '\0') {
			desk_error(cb, arg, 400, "bad-parameter",
			    "the board takes no parameter");
			return;
		}
		j = desk_board_urgent(&d->env, r->conf, desk_now_us());
	} else
		j = desk_board_stats(&d->env, r->query, desk_now_us(), &status);
	if (j != NULL)
		desk_reply_json(cb, arg, 200, j);
	else if (status == 400)
		desk_error(cb, arg, 400, "bad-parameter", "date must be "
		    "YYYY-MM-DD (the only parameter)");
	else
		desk_error(cb, arg, 503, "store", "the object store cannot be read");
}

/* ---- metrics and health ---------------------------------------------------- */

struct desk_count {
	uint64_t	 open[WD_REQ__COUNT][OST__COUNT];
	uint64_t	 missed[WD_REQ__COUNT];
	uint64_t	 flagged;
	uint64_t	 held;
	uint64_t	 parts_pending;		/* neither delivered nor destroyed */
	uint64_t	 parts_retrying;	/* ... whose push failed before */
};

static int
desk_count_visit(const struct obj *o, void *arg)
{
	struct desk_count *k = arg;

	/* An open part: neither delivered nor destroyed (store.h). */
	if (o->kind == HI1_OBJ_DELIVERY && !o->u.part.delivered &&
	    !o->u.part.destroyed) {
		k->parts_pending++;
		k->parts_retrying += o->u.part.push_failures > 0;
	}
	return 0;
}

static void
desk_count_row(int type, int state, uint64_t n, uint64_t missed, uint64_t held,
    uint64_t flagged, void *arg)
{
	struct desk_count *k = arg;

	if ((unsigned)type >= WD_REQ__COUNT || (unsigned)state >= OST__COUNT)
		return;
	k->open[type][state] += n;
	k->missed[type] += missed;
	k->held += held;
	k->flagged += flagged;
}

/* A growing text buffer: appends stop (and say so) once memory runs out. */
struct desk_text {
	char	*s;
	size_t	 len, cap;
	bool	 oom;
};

static void __attribute__((format(printf, 2, 3)))
desk_printf(struct desk_text *t, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		if (t->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len :
		    0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->s != NULL && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t	 cap = (t->cap ? t->cap : 4096) * 2 + (size_t)n;
		char	*p = realloc(t->s, cap);

		if (p == NULL) {
			t->oom = true;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
}

static void
desk_metric_head(struct desk_text *t, const char *name, const char *type,
    const char *help)
{
	desk_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family per pass: a family's samples must follow its own TYPE line. */
struct desk_backend_pass {
	struct desk_text	*t;
	int			 which;	/* 0 up, 1 pool size, 2 breaker */
};

static void
desk_metric_backend(const char *name, unsigned up, unsigned conns,
    const char *breaker, void *arg)
{
	struct desk_backend_pass *p = arg;

	if (p->which == 0)
		desk_printf(p->t, "warrantd_backend_connections_up{backend=\"%s\"} "
		    "%u\n", name, up);
	else if (p->which == 1)
		desk_printf(p->t, "warrantd_backend_connections{backend=\"%s\"} "
		    "%u\n", name, conns);
	else
		desk_printf(p->t, "warrantd_backend_breaker_open{backend=\"%s\"} "
		    "%d\n", name, strcmp(breaker, "closed") != 0);
}

/* The connection layer's counters. */
static void
desk_metrics_requests(struct desk_text *t, const struct desk_stats *st)
{
	desk_metric_head(t, "warrantd_requests_total", "counter",
	    "HI-1 requests answered since start, by outcome.");
	desk_printf(t, "warrantd_requests_total{outcome=\"accepted\"} %llu\n"
	    "warrantd_requests_total{outcome=\"repeated\"} %llu\n"
	    "warrantd_requests_total{outcome=\"read\"} %llu\n"
	    "warrantd_requests_total{outcome=\"refused\"} %llu\n"
	    "warrantd_requests_total{outcome=\"invalid\"} %llu\n"
	    "warrantd_requests_total{outcome=\"unavailable\"} %llu\n",
	    (unsigned long long)st->accepted, (unsigned long long)st->repeated,
	    (unsigned long long)st->read, (unsigned long long)st->refused,
	    (unsigned long long)st->invalid, (unsigned long long)st->unavailable);
	desk_metric_head(t, "warrantd_tls_refused_total", "counter",
	    "Client certificates refused in the TLS handshake since start.");
	desk_printf(t, "warrantd_tls_refused_total %llu\n",
	    (unsigned long long)st->tls_refused);
	desk_metric_head(t, "warrantd_connections", "gauge",
	    "Connections open on both listeners.");
	desk_printf(t, "warrantd_connections %u\n", st->connections);
}

/* Open tasks, from the object store. */
static void
desk_metrics_tasks(struct desk_text *t, const struct desk_count *k)
{
	desk_metric_head(t, "warrantd_open_tasks", "gauge",
	    "Tasks not in a final state, by request type and ETSI status.");
	for (int ty = 0; ty < WD_REQ__COUNT; ty++)
		for (int s = 0; s < OST__COUNT; s++)
			if (k->open[ty][s] > 0)
				desk_printf(t, "warrantd_open_tasks{type=\"%s\","
				    "state=\"%s\"} %llu\n", wd_reqtype_confname(ty),
				    obj_status_name(s),
				    (unsigned long long)k->open[ty][s]);
	desk_metric_head(t, "warrantd_open_tasks_deadline_missed", "gauge",
	    "Open tasks whose answer deadline has passed, by request type.");
	for (int ty = 0; ty < WD_REQ__COUNT; ty++)
		desk_printf(t, "warrantd_open_tasks_deadline_missed{type=\"%s\"} "
		    "%llu\n", wd_reqtype_confname(ty),
		    (unsigned long long)k->missed[ty]);
	desk_metric_head(t, "warrantd_open_tasks_flagged", "gauge",
	    "Tasks carried out under review-after, not yet looked at.");
	desk_printf(t, "warrantd_open_tasks_flagged %llu\n",
	    (unsigned long long)k->flagged);
	desk_metric_head(t, "warrantd_open_tasks_held", "gauge",
	    "Open tasks the desk put on hold.");
	desk_printf(t, "warrantd_open_tasks_held %llu\n",
	    (unsigned long long)k->held);
	desk_metric_head(t, "warrantd_deliveries_pending", "gauge",
	    "Result parts neither delivered to the authority nor destroyed.");
	desk_printf(t, "warrantd_deliveries_pending %llu\n",
	    (unsigned long long)k->parts_pending);
	desk_metric_head(t, "warrantd_deliveries_retrying", "gauge",
	    "Pending parts whose push to the authority has failed at least "
	    "once (tried again with backoff).");
	desk_printf(t, "warrantd_deliveries_retrying %llu\n",
	    (unsigned long long)k->parts_retrying);
}

/* The desk's own actions. */
static void
desk_metrics_desk(const struct desk *d, struct desk_text *t)
{
	desk_metric_head(t, "warrantd_desk_actions_total", "counter",
	    "Desk actions journaled since start, by action.");
	for (size_t i = 0; desk_actions[i] != NULL; i++)
		desk_printf(t, "warrantd_desk_actions_total{action=\"%s\"} %llu\n",
		    desk_actions[i], (unsigned long long)d->actions[i]);
	desk_printf(t, "warrantd_desk_actions_total{action=\"search\"} %llu\n",
	    (unsigned long long)d->actions[DESK_SEARCH]);
}

/* What the journal's records counted (src/warrantd/tally.c). */
static void
desk_metrics_tally(const struct desk *d, struct desk_text *t)
{
	char	*s;
	size_t	 len;

	if (tally_text(d->env.tally, &s, &len) == -1) {
		t->oom = true;
		return;
	}
	desk_printf(t, "%s", s);
	free(s);
}

/* Deadlines warned and missed (src/warrantd/alert.h), by legal clock. */
static void
desk_metrics_alerts(const struct desk *d, struct desk_text *t)
{
	struct alert_counts c;

	alert_counts(d->env.alerts, &c);
	desk_metric_head(t, "warrantd_deadlines_warned_total", "counter",
	    "Deadline warnings raised since start, by legal clock.");
	for (int i = 0; i < ALERT__COUNT; i++)
		desk_printf(t, "warrantd_deadlines_warned_total{clock=\"%s\"} "
		    "%llu\n", alert_clock_name(i),
		    (unsigned long long)c.warned[i]);
	desk_metric_head(t, "warrantd_deadlines_missed_total", "counter",
	    "Deadlines missed (critical alerts raised) since start, by legal "
	    "clock.");
	for (int i = 0; i < ALERT__COUNT; i++)
		desk_printf(t, "warrantd_deadlines_missed_total{clock=\"%s\"} "
		    "%llu\n", alert_clock_name(i),
		    (unsigned long long)c.missed[i]);
	desk_metric_head(t, "warrantd_alerts_open", "gauge",
	    "Deadline alerts open now, by level.");
	desk_printf(t, "warrantd_alerts_open{level=\"warning\"} %u\n"
	    "warrantd_alerts_open{level=\"critical\"} %u\n", c.warning,
	    c.critical);
}

/* The journal and the back ends. */
static void
desk_metrics_journal(const struct desk *d, struct desk_text *t)
{
	int64_t cp;

	desk_metric_head(t, "warrantd_journal_records", "gauge",
	    "Records in the journal.");
	desk_printf(t, "warrantd_journal_records %llu\n",
	    (unsigned long long)journal_size(d->env.journal));
	desk_metric_head(t, "warrantd_journal_healthy", "gauge",
	    "1 while the journal accepts records, else 0.");
	desk_printf(t, "warrantd_journal_healthy %d\n",
	    journal_healthy(d->env.journal) ? 1 : 0);
	desk_metric_head(t, "warrantd_journal_checkpoint_age_seconds", "gauge",
	    "Seconds since the newest signed checkpoint was written (absent: "
	    "none yet).");
	if ((cp = journal_checkpoint_time(d->env.journal)) != 0)
		desk_printf(t, "warrantd_journal_checkpoint_age_seconds %.3f\n",
		    (double)(desk_now_us() - cp) / 1e6);
	static const char *const fam[3][2] = {
		{ "warrantd_backend_connections_up",
		    "Connections of a back end's pool that are ready." },
		{ "warrantd_backend_connections", "Size of a back end's pool." },
		{ "warrantd_backend_breaker_open",
		    "1 while a back end's circuit breaker is open or half-open." },
	};

	for (int i = 0; i < 3; i++) {
		struct desk_backend_pass p = { t, i };

		desk_metric_head(t, fam[i][0], "gauge", fam[i][1]);
		backend_each(d->env.backends, desk_metric_backend, &p);
	}
}

/* One family per pass over the network elements, as for the back ends. */
struct desk_ne_pass {
	struct desk_text	*t;
	int			 which;
};

static void
desk_metric_ne(const struct x1prov_health *h, void *arg)
{
	struct desk_ne_pass *p = arg;

	switch (p->which) {
	case 0:
		if (h->up >= 0)
			desk_printf(p->t, "warrantd_ne_up{ne=\"%s\"} %d\n",
			    h->name, h->up);
		break;
	case 1:
		desk_printf(p->t, "warrantd_ne_breaker_open{ne=\"%s\"} %d\n",
		    h->name, strcmp(h->breaker, "closed") != 0);
		break;
	case 2:
		desk_printf(p->t, "warrantd_ne_pending_deactivations{ne=\"%s\"} "
		    "%u\n", h->name, h->pending_deactivations);
		break;
	default:
		desk_printf(p->t, "warrantd_ne_pending_activations{ne=\"%s\"} "
		    "%u\n", h->name, h->pending_activations);
		break;
	}
}

/*
 * The network elements (docs/x1.md): element names are the operator's
 * (letters, digits, '.', '_', '-'), never a subscriber's datum.
 */
static void
desk_metrics_ne(const struct desk *d, struct desk_text *t)
{
	static const char *const fam[4][2] = {
		{ "warrantd_ne_up", "1 if the network element answered the "
		    "last X1 exchange, 0 if not (absent before the first)." },
		{ "warrantd_ne_breaker_open", "1 while a network element's "
		    "circuit breaker is open or half-open." },
		{ "warrantd_ne_pending_deactivations", "Interceptions ended "
		    "whose deactivation the element has not confirmed yet." },
		{ "warrantd_ne_pending_activations", "Interceptions the element "
		    "has not acknowledged yet." },
	};

	if (d->env.x1 == NULL)
		return;
	for (int i = 0; i < 4; i++) {
		struct desk_ne_pass p = { t, i };

		desk_metric_head(t, fam[i][0], "gauge", fam[i][1]);
		x1prov_each_ne(d->env.x1, desk_metric_ne, &p);
	}
}

/*
 * GET /metrics, the Prometheus text format (version 0.0.4). Counts only:
 * no identifier, reference or subscriber datum is ever a label.
 */
static void
desk_metrics(struct desk *d, desk_reply_cb cb, void *arg)
{
	struct desk_count	*k;
	struct desk_stats	 st;
	struct desk_text	 t = { 0 };

	memset(&st, 0, sizeof(st));
	if (d->env.stats != NULL)
		d->env.stats(d->env.stats_arg, &st);
	/* Counted from the store's queue index and open parts: no full scan. */
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    store_queue_tally(d->env.store, desk_count_row, k) == -1 ||
	    store_open_kind(d->env.store, HI1_OBJ_DELIVERY, desk_count_visit,
	    k) == -1) {
		free(k);
		cb(503, "text/plain; charset=utf-8", NULL, 0, arg);
		return;
	}
	desk_metrics_requests(&t, &st);
	desk_metrics_tasks(&t, k);
	desk_metrics_desk(d, &t);
	desk_metrics_alerts(d, &t);
	desk_metrics_tally(d, &t);
	desk_metrics_journal(d, &t);
	desk_metrics_ne(d, &t);
	free(k);
	if (t.oom) {
		free(t.s);
		cb(503, "text/plain; charset=utf-8", NULL, 0, arg);
		return;
	}
	cb(200, "text/plain; version=0.0.4; charset=utf-8", t.s, t.len, arg);
}

struct desk_health {
	json_t	*backends;
	bool	 ok;
};

static void
desk_health_backend(const char *name, unsigned up, unsigned conns,
    const char *breaker, void *arg)
{
	struct desk_health *h = arg;

	if (up == 0 || strcmp(breaker, "closed") != 0)
		h->ok = false;
	json_array_append_new(h->backends, json_pack("{s:s, s:i, s:i, s:s}",
	    "name", name, "up", (int)up, "connections", (int)conns,
	    "breaker", breaker));
}

/* GET /healthz: listening (it answers), journal writable, back ends reachable. */
static void
desk_healthz(struct desk *d, desk_reply_cb cb, void *arg)
{
	struct desk_health	 h = { json_array(), true };
	/* Appends working, and checkpoints still signed. */
	bool			 journal = journal_healthy(d->env.journal) &&
	    journal_signing(d->env.journal);

	backend_each(d->env.backends, desk_health_backend, &h);
	desk_reply_json(cb, arg, journal && h.ok ? 200 : 503, json_pack(
	    "{s:s, s:b, s:s, s:o}", "status", journal && h.ok ? "ok" :
	    "degraded", "listening", 1, "journal", journal ? "ok" :
	    journal_status(d->env.journal), "backends", h.backends));
}

/* ---- routing ---------------------------------------------------------- */

static void
desk_route_page(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	(void)rt;
	desk_page(d, r, cb, arg);
}

static void
desk_route_metrics(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	(void)r, (void)rt;
	desk_metrics(d, cb, arg);
}

static void
desk_route_healthz(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	(void)r, (void)rt;
	desk_healthz(d, cb, arg);
}

/* GET /desk/api/me: who the certificate is. */
static void
desk_route_me(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	(void)d, (void)rt;
	desk_reply_json(cb, arg, 200, json_pack("{s:s, s:s, s:s}", "id",
	    r->who->id, "name", r->who->name, "level", desk_level(r->who)));
}

static void
desk_route_queue(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	(void)rt;
	desk_queue(d, r, cb, arg);
}

static void
desk_route_alerts(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	(void)r, (void)rt;
	desk_alerts(d, cb, arg);
}

#define DESK_API	"/desk/api/"
#define DESK_API_LEN	(sizeof(DESK_API) - 1)

/* urgent, stats: the name after /desk/api/ says which board. */
static void
desk_route_board(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	desk_board(d, r, rt->path + DESK_API_LEN, cb, arg);
}

/* requests/REF: the rest of the path is the reference. */
static void
desk_route_show(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	desk_show(d, r, r->path + strlen(rt->path), cb, arg);
}

/* The action is the name after /desk/api/ (one of desk_actions[]). */
static void
desk_route_action(struct desk *d, const struct desk_request *r,
    const struct desk_route *rt, desk_reply_cb cb, void *arg)
{
	desk_action(d, r, rt->path + DESK_API_LEN, cb, arg);
}

#define DESK_PEOPLE	(DESK_ROLE(WD_ROLE_OPERATOR) | DESK_ROLE(WD_ROLE_SUPERVISOR))
#define DESK_PAGE(path)	\
	{ HTTP_GET, path, false, DESK_PEOPLE, false, desk_route_page }
#define DESK_ACTION(name) \
	{ HTTP_POST, DESK_API name, false, DESK_PEOPLE, true, desk_route_action }

/*
 * The desk listener's routes, read top to bottom (desk_routes.h). Every one
 * is for desk people in force, /healthz and /metrics too (a monitoring
 * system gets a certificate registered as an operator: docs/desk-api.md).
 * The console's pages are desk_page_names[]'s; the actions desk_actions[]'s.
 */
static const struct desk_route desk_routes[] = {
	/* method	path			prefix	roles	body	handler */
	DESK_PAGE("/"),
	DESK_PAGE("/index.html"),
	DESK_PAGE("/request.html"),
	DESK_PAGE("/urgent.html"),
	DESK_PAGE("/stats.html"),
	DESK_PAGE("/board.js"),
	DESK_PAGE("/desk.js"),
	DESK_PAGE("/desk.css"),
	{ HTTP_GET,	"/metrics",		false, DESK_PEOPLE, false,
	    desk_route_metrics },
	{ HTTP_GET,	"/healthz",		false, DESK_PEOPLE, false,
	    desk_route_healthz },
	{ HTTP_GET,	DESK_API "me",		false, DESK_PEOPLE, false,
	    desk_route_me },
	{ HTTP_GET,	DESK_API "queue",	false, DESK_PEOPLE, false,
	    desk_route_queue },
	{ HTTP_GET,	DESK_API "alerts",	false, DESK_PEOPLE, false,
	    desk_route_alerts },
	{ HTTP_GET,	DESK_API "urgent",	false, DESK_PEOPLE, false,
	    desk_route_board },
	{ HTTP_GET,	DESK_API "stats",	false, DESK_PEOPLE, false,
	    desk_route_board },
	{ HTTP_GET,	DESK_API "requests/",	true,  DESK_PEOPLE, false,
	    desk_route_show },
	DESK_ACTION("approve"),
	DESK_ACTION("reject"),
	DESK_ACTION("hold"),
	DESK_ACTION("release"),
	DESK_ACTION("assign"),
	DESK_ACTION("note"),
	DESK_ACTION("reviewed"),
	DESK_ACTION("reopen"),
};
#define DESK_NROUTES	(sizeof(desk_routes) / sizeof(desk_routes[0]))

const char *
desk_allow(const char *path)
{
	return desk_route_allow(desk_routes, DESK_NROUTES, path);
}

/* The caller holds one of roles, registered and in force. */
static bool
desk_allowed(const struct desk_request *r, unsigned roles)
{
	const struct wd_official *o = r->who;

	if (roles == 0)
		return true;
	return o != NULL && (roles & DESK_ROLE(o->role)) != 0 &&
	    conf_official_status(o, time(NULL)) == WD_OFFICIAL_OK;
}

/*
 * 404 and 405 only to callers some route admits: to anyone else (an
 * official, an auditor, a stranger, a suspended person) every path is 403,
 * as the desk answered before it had a table.
 */
void
desk_handle(struct desk *d, const struct desk_request *r, desk_reply_cb cb,
    void *arg)
{
	const struct desk_route	*rt = NULL;
	int			 status;

	status = desk_route_find(desk_routes, DESK_NROUTES, r->method, r->path,
	    &rt);
	if (!desk_allowed(r, status == 0 ? rt->roles :
	    desk_route_roles(desk_routes, DESK_NROUTES))) {
		log_warnx("desk: %s refused to %s from %s", r->path, r->who ?
		    r->who->id : r->fingerprint, r->peer);
		desk_error(cb, arg, 403, "forbidden", "this certificate is not a "
		    "desk operator's in force");
	} else if (status == 404)
		desk_error(cb, arg, 404, "not-found", "no such resource");
	else if (status == 405)
		desk_error(cb, arg, 405, "method", r->method == HTTP_GET ?
		    "actions are POST" : "only GET here");
	else if (!rt->body && r->body != NULL && r->len > 0)
		desk_error(cb, arg, 400, "bad-request", "no body here");
	else
		rt->fn(d, r, rt, cb, arg);
}
