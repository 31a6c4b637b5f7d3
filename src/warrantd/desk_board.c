/*
 * desk_board — the compliance desk's urgent-orders board and a day's
 * statistics (src/warrantd/desk_board.h, docs/desk-api.md §3):
 *   GET /desk/api/urgent   urgent orders awaiting ratification, their clocks;
 *                          preservations and undelivered results in danger
 *   GET /desk/api/stats    one day: requests per authority and type, time
 *                          to answer per type, deadlines missed
 * Both read the object store through its indexes only (store_urgent: one
 * range of the pending orders; store_day: one range of a table keyed by
 * creation that holds no identifier or reference), so their cost is bounded
 * by what they show, not by what the store holds. Nothing here writes.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alert.h"
#include "desk.h"
#include "desk_board.h"
#include "desk_input.h"
#include "obj.h"
#include "store.h"
#include "wd.h"

/* ---- the urgent-orders board ------------------------------------------- */

struct board_tasks {
	const char	*order;		/* the order's ObjectIdentifier */
	char		 fp[65];	/* the first task's official, hex */
	int		 n;
};

static int
board_task_visit(const struct obj *o, void *arg)
{
	struct board_tasks *bt = arg;

	if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
	    strcmp(o->u.task.auth_id, bt->order) != 0)
		return 0;
	if (bt->n++ == 0)
		snprintf(bt->fp, sizeof(bt->fp), "%s", o->u.task.desk.official_fp);
	return 0;
}

struct board {
	const struct desk_env	*env;
	const struct wd_conf	*conf;
	json_t			*orders;
	int64_t			 now;
	bool			 oom;
};

static int
board_order_visit(const struct obj *o, void *arg)
{
	struct board		*b = arg;
	struct board_tasks	 bt = { .order = o->oid };
	const char		*official;
	enum alert_level	 l;
	int64_t			 by = o->u.auth.ratify_by_us;
	json_t			*j;

	if (o->kind != HI1_OBJ_AUTHORISATION || o->u.auth.ratified || by == 0)
		return 0;
	/* Who asked: the official of the order's tasks (same reference). */
	if (store_by_ref_any(b->env->store, o->ref, board_task_visit, &bt) == -1)
		return -1;
	official = bt.n > 0 ? desk_official_id(b->conf, bt.fp) : NULL;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:o, s:o, "
	    "s:I, s:I, s:b}",
	    "ref", o->ref, "authority", o->owner, "object", o->oid,
	    "authority_ref", o->u.auth.a.reference,
	    "court", o->u.auth.a.court,
	    "state", obj_status_name(o->status),
	    "official", official ? json_string(official) : json_null(),
	    "tasks", bt.n,
	    "started", desk_time(o->created_us),
	    "ratify_by", desk_time(by),
	    "seconds_left", (json_int_t)((by - b->now) / 1000000),
	    "clock_seconds", (json_int_t)(by > o->created_us ?
	    (by - o->created_us) / 1000000 : 0),
	    "lapsed", by <= b->now);
	if (j == NULL) {
		b->oom = true;
		return 1;
	}
	if ((l = alert_level_of(b->env->alerts, o->owner, o->oid)) != ALERT_NONE)
		json_object_set_new(j, "alert", json_string(alert_level_name(l)));
	json_array_append_new(b->orders, j);
	return 0;
}

struct board_expiring {
	json_t	*list;
	int64_t	 now;
};

/* Preservations ending and undelivered results near their keep limit. */
static void
board_expiring_visit(const struct alert_info *a, void *arg)
{
	struct board_expiring	*x = arg;
	json_t			*j;

	if (a->clock != ALERT_PRESERVATION && a->clock != ALERT_KEEP)
		return;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:b}",
	    "clock", alert_clock_name(a->clock),
	    "level", alert_level_name(a->level),
	    "ref", a->ref, "authority", a->owner, "object", a->oid,
	    "type", a->type < 0 ? "order" : wd_reqtype_confname(a->type),
	    "deadline", desk_time(a->deadline_us),
	    "seconds_left", (json_int_t)((a->deadline_us - x->now) / 1000000),
	    "final", a->final);
	if (j != NULL)
		json_array_append_new(x->list, j);
}

json_t *
desk_board_urgent(const struct desk_env *env, const struct wd_conf *conf,
    int64_t now)
{
	struct board		 b = { env, conf, json_array(), now, false };
	struct board_expiring	 x = { json_array(), now };
	int			 rc;

	if (b.orders == NULL || x.list == NULL) {
		json_decref(b.orders);
		json_decref(x.list);
		return NULL;
	}
	rc = store_urgent(env->store, now - (int64_t)DESK_URGENT_LAPSED_S *
	    1000000, DESK_URGENT_MAX, board_order_visit, &b);
	if (rc == -1 || b.oom) {
		json_decref(b.orders);
		json_decref(x.list);
		return NULL;
	}
	alert_each(env->alerts, board_expiring_visit, &x);
	return json_pack("{s:o, s:I, s:o, s:o}", "now", desk_time(now),
	    "lapsed_shown_seconds", (json_int_t)DESK_URGENT_LAPSED_S,
	    "orders", b.orders, "expiring", x.list);
}

/* ---- a day's statistics ------------------------------------------------ */

/* The histogram's upper bounds, seconds (tally.c's): then +Inf. */
static const int64_t stats_le[] = {
	60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400
};
#define STATS_NLE	(sizeof(stats_le) / sizeof(stats_le[0]))
#define STATS_HOURS	25	/* a day that leaves summer time has 25 */

struct stats_auth {
	char		 id[HI1_ID_LEN + 1];
	uint64_t	 n[WD_REQ__COUNT], answered[WD_REQ__COUNT],
			 missed[WD_REQ__COUNT];
};

struct stats_type {
	int64_t		*s;		/* seconds to answer, one per answered */
	size_t		 n, cap;
	uint64_t	 hist[STATS_NLE + 1];
};

struct stats {
	struct stats_auth	*auth;		/* DESK_STATS_AUTH_MAX + other */
	size_t			 nauth;
	struct stats_type	 type[WD_REQ__COUNT];
	uint64_t		 total, answered, missed;
	uint64_t		 hour[STATS_HOURS];
	int64_t			 from;
	bool			 oom;
};

static struct stats_auth *
stats_auth(struct stats *st, const char *id)
{
	for (size_t i = 0; i < st->nauth; i++)
		if (strcmp(st->auth[i].id, id) == 0)
			return &st->auth[i];
	if (st->nauth == DESK_STATS_AUTH_MAX) {
		snprintf(st->auth[DESK_STATS_AUTH_MAX].id, HI1_ID_LEN + 1, "other");
		return &st->auth[DESK_STATS_AUTH_MAX];
	}
	snprintf(st->auth[st->nauth].id, HI1_ID_LEN + 1, "%s", id);
	return &st->auth[st->nauth++];
}

static int
stats_answered(struct stats_type *ty, int64_t secs)
{
	size_t i;

	if (ty->n == ty->cap) {
		size_t	 cap = ty->cap ? ty->cap * 2 : 256;
		int64_t	*v = reallocarray(ty->s, cap, sizeof(*v));

		if (v == NULL)
			return -1;
		ty->s = v;
		ty->cap = cap;
	}
	ty->s[ty->n++] = secs;
	for (i = 0; i < STATS_NLE && secs > stats_le[i]; i++)
		;
	ty->hist[i]++;
	return 0;
}

static int
stats_visit(const struct store_day_row *r, void *arg)
{
	struct stats		*st = arg;
	struct stats_auth	*a;
	int64_t			 h;

	if (r->type < 0 || r->type >= WD_REQ__COUNT)
		return 0;
	a = stats_auth(st, r->owner);
	a->n[r->type]++;
	st->total++;
	h = (r->created_us - st->from) / (3600 * (int64_t)1000000);
	if (h >= 0 && h < STATS_HOURS)
		st->hour[h]++;
	if (r->missed) {
		a->missed[r->type]++;
		st->missed++;
	}
	if (r->answered_us == 0)
		return 0;
	a->answered[r->type]++;
	st->answered++;
	if (stats_answered(&st->type[r->type], r->answered_us > r->created_us ?
	    (r->answered_us - r->created_us) / 1000000 : 0) == -1) {
		st->oom = true;
		return 1;
	}
	return 0;
}

static int
stats_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p% of them at or below. */
static json_int_t
stats_pct(const struct stats_type *ty, unsigned p)
{
	size_t k = (ty->n * p + 99) / 100;

	return (json_int_t)ty->s[k > 0 ? k - 1 : 0];
}

static json_t *
stats_types_json(struct stats *st)
{
	json_t *a = json_array();

	for (int t = 0; a != NULL && t < WD_REQ__COUNT; t++) {
		struct stats_type	*ty = &st->type[t];
		json_t			*h = json_array(), *j;

		if (ty->n == 0 || h == NULL) {
			json_decref(h);
			continue;
		}
		qsort(ty->s, ty->n, sizeof(*ty->s), stats_cmp);
		for (size_t i = 0; i <= STATS_NLE; i++)
			json_array_append_new(h, json_pack("{s:o, s:I}", "le",
			    i < STATS_NLE ? json_integer(stats_le[i]) :
			    json_string("+Inf"), "count", (json_int_t)ty->hist[i]));
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
		    "type", wd_reqtype_confname((enum wd_reqtype)t),
		    "answered", (json_int_t)ty->n,
		    "p50", stats_pct(ty, 50), "p90", stats_pct(ty, 90),
		    "p99", stats_pct(ty, 99), "max", (json_int_t)ty->s[ty->n - 1],
		    "histogram", h);
		json_array_append_new(a, j);
	}
	return a;
}

static void
stats_auth_rows(json_t *a, const struct stats_auth *x)
{
	for (int t = 0; t < WD_REQ__COUNT; t++)
		if (x->n[t] > 0)
			json_array_append_new(a, json_pack(
			    "{s:s, s:s, s:I, s:I, s:I}", "authority", x->id,
			    "type", wd_reqtype_confname((enum wd_reqtype)t),
			    "requests", (json_int_t)x->n[t],
			    "answered", (json_int_t)x->answered[t],
			    "missed", (json_int_t)x->missed[t]));
}

/* By authority (registry order of first appearance), then "other". */
static json_t *
stats_auth_json(const struct stats *st)
{
	json_t *a = json_array();

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < st->nauth; i++)
		stats_auth_rows(a, &st->auth[i]);
	stats_auth_rows(a, &st->auth[DESK_STATS_AUTH_MAX]);
	return a;
}

/* [from, to) of the day, local midnight to local midnight. */
static int
stats_day(const char *query, int64_t now, int64_t *from, int64_t *to,
    char date[11], char zone[32])
{
	struct tm	 tm;
	time_t		 t = (time_t)(now / 1000000), a, b;
	int		 y, m, d, rc;

	if ((rc = desk_date_parse(query, &y, &m, &d)) == -1)
		return -1;
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	if (rc == 1) {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
	}
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((a = mktime(&tm)) == (time_t)-1)
		return -1;
	strftime(date, 11, "%Y-%m-%d", &tm);
	strftime(zone, 32, "%Z %z", &tm);
	tm.tm_mday++;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((b = mktime(&tm)) == (time_t)-1)
		return -1;
	*from = (int64_t)a * 1000000;
	*to = (int64_t)b * 1000000;
	return 0;
}

static void
stats_free(struct stats *st)
{
	for (int t = 0; t < WD_REQ__COUNT; t++)
		free(st->type[t].s);
	free(st->auth);
}

json_t *
desk_board_stats(const struct desk_env *env, const char *query, int64_t now,
    int *status)
{
	struct stats	 st = { 0 };
	char		 date[11], zone[32];
	int64_t		 to;
	json_t		*hours, *j;
	int		 rc;

	*status = 400;
	if (stats_day(query, now, &st.from, &to, date, zone) == -1)
		return NULL;
	*status = 503;
	if ((st.auth = calloc(DESK_STATS_AUTH_MAX + 1, sizeof(*st.auth))) == NULL)
		return NULL;
	rc = store_day(env->store, st.from, to, DESK_STATS_MAX + 1, stats_visit,
	    &st);
	if (rc == -1 || st.oom || (hours = json_array()) == NULL) {
		stats_free(&st);
		return NULL;
	}
	for (int64_t h = 0; h < STATS_HOURS && st.from + h * 3600000000 < to; h++)
		json_array_append_new(hours, json_integer((json_int_t)st.hour[h]));
	j = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:b, s:o, s:o, s:o}",
	    "date", date, "timezone", zone,
	    "from", desk_time(st.from), "to", desk_time(to),
	    "requests", (json_int_t)st.total,
	    "answered", (json_int_t)st.answered,
	    "missed", (json_int_t)st.missed,
	    "truncated", st.total > DESK_STATS_MAX,
	    "by_authority", stats_auth_json(&st),
	    "time_to_answer", stats_types_json(&st),
	    "per_hour", hours);
	stats_free(&st);
	if (j != NULL)
		*status = 200;
	return j;
}
