/*
 * alert — which legal clocks are in danger (src/warrantd/alert.h, docs/desk.md).
 *
 * The decision is a pure function of an object and the time (alert_eval),
 * so that the tests move a clock instead of sleeping. What is open is held
 * in memory, small (only what is in danger), and found cheaply: every scan
 * looks again at the alerts held (one indexed store_get each) and at the
 * objects whose next clock falls within the warning horizon (the store's
 * due index, most urgent first, bounded); a sweep of every open object at
 * start catches what a restart forgot, and a slice of the open tasks per
 * scan (the store's queue index, ALERT_SLICE at a time, round and round)
 * what the bounded scan could not reach in a large backlog, without ever
 * holding the event loop for a whole pass.
 *
 * A clock that ended its object (an order lapsed, a preservation released,
 * results destroyed undelivered) stays a critical alert for a day after
 * its deadline, so the desk sees it; a clock met (the task answered, the
 * order ratified) closes its alert.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "alert.h"
#include "log.h"
#include "store.h"

#define ALERT_TICK_S		1
#define ALERT_SLICE		200	/* open tasks swept per scan */
#define ALERT_RECHECK_TICKS	10	/* every alert held looked at again */
#define ALERT_BATCH		512	/* objects of the due index per scan */
#define ALERT_FINAL_KEEP_US	(86400LL * 1000000)	/* ended clocks shown */

struct alert {
	struct alert_env	 env;
	struct alert_config	 cfg;
	struct alert_info	*v;		/* open alerts */
	size_t			 n, cap;
	struct event		*tick;
	unsigned		 ticks;
	size_t			 slice_at;	/* the sweep's place in the queue */
	uint64_t		 warned[ALERT__COUNT];
	uint64_t		 missed[ALERT__COUNT];
};

static const char *const alert_clock_names[ALERT__COUNT] = {
	"answer", "ratification", "preservation", "keep"
};

const char *
alert_clock_name(enum alert_clock c)
{
	return (unsigned)c < ALERT__COUNT ? alert_clock_names[c] : "unknown";
}

const char *
alert_level_name(enum alert_level l)
{
	return l == ALERT_CRITICAL ? "critical" : l == ALERT_WARNING ?
	    "warning" : "none";
}

/* ---- the decision ---------------------------------------------------------- */

static void
alert_fill(struct alert_info *a, const struct obj *o, enum alert_clock c,
    int64_t start, int64_t deadline)
{
	memset(a, 0, sizeof(*a));
	a->clock = c;
	memcpy(a->owner, o->owner, sizeof(a->owner));
	memcpy(a->oid, o->oid, sizeof(a->oid));
	memcpy(a->ref, o->ref, sizeof(a->ref));
	a->type = o->kind == HI1_OBJ_AUTHORISATION ? -1 : (int)o->u.task.t.type;
	a->start_us = start;
	a->deadline_us = deadline;
}

/* The level of a running clock: warn_pct of [start, deadline) has run. */
static enum alert_level
alert_level_at(int64_t start, int64_t deadline, unsigned pct, int64_t now)
{
	int64_t warn;

	if (now >= deadline)
		return ALERT_CRITICAL;
	if (pct < 1 || pct > 99)
		pct = 80;
	if (start <= 0 || start >= deadline)
		return ALERT_NONE;
	warn = start + (deadline - start) / 100 * (int64_t)pct +
	    (deadline - start) % 100 * (int64_t)pct / 100;
	return now >= warn ? ALERT_WARNING : ALERT_NONE;
}

/* Adds one alert to out if its level is not NONE. */
static size_t
alert_put(struct alert_info *out, size_t n, const struct obj *o,
    enum alert_clock c, int64_t start, int64_t deadline, enum alert_level l,
    bool final)
{
	if (l == ALERT_NONE)
		return n;
	alert_fill(&out[n], o, c, start, deadline);
	out[n].level = l;
	out[n].final = final;
	return n + 1;
}

/*
 * When a task's answer clock started: its length before the deadline, as
 * the lifecycle set it (older records have their own length), else at the
 * task's creation.
 */
static int64_t
alert_answer_start(const struct obj *o, const struct alert_config *cfg)
{
	const struct obj_task	*t = &o->u.task;
	int64_t			 d = 0, by = t->answer_by_us;

	if ((unsigned)t->t.type < WD_REQ__COUNT)
		d = cfg->answer_us[t->t.type];
	if (d > 0 && t->t.type == WD_REQ_RECORDS && t->t.has_window &&
	    t->t.window_start_us < by - d - 365LL * 86400 * 1000000 &&
	    cfg->answer_old_records_us > 0)
		d = cfg->answer_old_records_us;
	return d > 0 ? by - d : o->created_us;
}

static size_t
alert_eval_task(const struct obj *o, const struct alert_config *cfg,
    int64_t now, struct alert_info *out)
{
	const struct obj_task	*t = &o->u.task;
	unsigned		 pct = cfg->warn_pct;
	size_t			 n = 0;
	bool			 fin = obj_final(o);
	bool			 recent;
	int64_t			 start;

	if (!fin && t->parts == 0 && t->answer_by_us != 0) {
		start = alert_answer_start(o, cfg);
		n = alert_put(out, n, o, ALERT_ANSWER, start, t->answer_by_us,
		    t->deadline_missed ? ALERT_CRITICAL : alert_level_at(start,
		    t->answer_by_us, pct, now), false);
	}
	if (!fin && t->freeze_until_us != 0)
		n = alert_put(out, n, o, ALERT_PRESERVATION, o->created_us,
		    t->freeze_until_us, alert_level_at(o->created_us,
		    t->freeze_until_us, pct, now), false);
	/* Undelivered results warn when the lifecycle tells the authority. */
	if (!fin && t->parts > 0 && t->parts_delivered < t->parts &&
	    t->keep_until_us != 0)
		n = alert_put(out, n, o, ALERT_KEEP, 0, t->keep_until_us,
		    now >= t->keep_until_us ? ALERT_CRITICAL :
		    t->keep_warned || now >= t->keep_warn_us ? ALERT_WARNING :
		    ALERT_NONE, false);
	if (!fin)
		return n;
	if (o->reason_code == WD_REASON_PRESERVATION_ENDED &&
	    t->freeze_until_us != 0 &&
	    now < t->freeze_until_us + ALERT_FINAL_KEEP_US)
		n = alert_put(out, n, o, ALERT_PRESERVATION, o->created_us,
		    t->freeze_until_us, ALERT_CRITICAL, true);
	recent = now < t->keep_until_us + ALERT_FINAL_KEEP_US;
	if (o->reason_code == WD_REASON_RESULTS_EXPIRED && recent)
		n = alert_put(out, n, o, ALERT_KEEP, 0, t->keep_until_us,
		    ALERT_CRITICAL, true);
	return n;
}

size_t
alert_eval(const struct obj *o, const struct alert_config *cfg, int64_t now,
    struct alert_info out[ALERT__COUNT])
{
	const struct obj_auth	*a = &o->u.auth;
	int64_t			 start;

	switch (o->kind) {
	case HI1_OBJ_LDTASK:
		return alert_eval_task(o, cfg, now, out);
	case HI1_OBJ_AUTHORISATION:
		if (a->ratify_by_us == 0 || a->ratified)
			return 0;
		/* The clock runs from the urgent order's approval. */
		start = cfg->ratify_us > 0 ? a->ratify_by_us - cfg->ratify_us :
		    o->created_us;
		if (o->status == OST_EMERGENCY_APPROVAL)
			return alert_put(out, 0, o, ALERT_RATIFY, start,
			    a->ratify_by_us, alert_level_at(start,
			    a->ratify_by_us, cfg->warn_pct, now), false);
		if (obj_final(o) && o->reason_code == WD_REASON_LAPSED &&
		    now < a->ratify_by_us + ALERT_FINAL_KEEP_US)
			return alert_put(out, 0, o, ALERT_RATIFY, start,
			    a->ratify_by_us, ALERT_CRITICAL, true);
		return 0;
	default:
		return 0;
	}
}

/* ---- the alerts held ------------------------------------------------------- */

static int64_t
alert_now(const struct alert *al)
{
	struct timespec ts;

	if (al->env.now != NULL)
		return al->env.now(al->env.now_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct alert_info *
alert_find(struct alert *al, const char *owner, const char *oid,
    enum alert_clock c)
{
	for (size_t i = 0; i < al->n; i++)
		if (al->v[i].clock == c && strcmp(al->v[i].oid, oid) == 0 &&
		    strcmp(al->v[i].owner, owner) == 0)
			return &al->v[i];
	return NULL;
}

/* A new alert, or a higher level of one held: raised once. */
static void
alert_update(struct alert *al, const struct alert_info *in, int64_t now)
{
	struct alert_info *a = alert_find(al, in->owner, in->oid, in->clock);

	if (a != NULL && a->level >= in->level) {
		a->deadline_us = in->deadline_us;	/* an extension */
		a->final = in->final;
		return;
	}
	if (a == NULL) {
		if (al->n == al->cap) {
			size_t	 cap = al->cap ? al->cap * 2 : 16;
			void	*p = realloc(al->v, cap * sizeof(*al->v));

			if (p == NULL) {
				log_warnx("alert: out of memory: %s of %s not "
				    "raised", alert_clock_name(in->clock),
				    in->ref);
				return;
			}
			al->v = p;
			al->cap = cap;
		}
		a = &al->v[al->n++];
	}
	*a = *in;
	a->raised_us = now;
	if (in->level == ALERT_CRITICAL)
		al->missed[in->clock]++;
	else
		al->warned[in->clock]++;
	if (al->env.raised != NULL)
		al->env.raised(a, al->env.raised_arg);
}

struct alert_visit {
	struct alert	*al;
	int64_t		 now;
};

static int
alert_visit(const struct obj *o, void *arg)
{
	struct alert_visit	*v = arg;
	struct alert_info	 found[ALERT__COUNT];
	size_t			 n;

	n = alert_eval(o, &v->al->cfg, v->now, found);
	for (size_t i = 0; i < n; i++)
		alert_update(v->al, &found[i], v->now);
	return 0;
}

struct alert_slice {
	struct alert_visit	*v;
	size_t			 n;
};

static int
alert_slice_one(const struct obj *o, void *arg)
{
	struct alert_slice *s = arg;

	s->n++;
	return alert_visit(o, s->v);
}

/*
 * The alerts held, looked at again: met clocks close, others may rise.
 * Every scan looks at the warnings whose deadline has passed (they turn
 * critical now, not at the next round); all of them only every few
 * seconds, so that a backlog of thousands of missed deadlines costs the
 * loop little.
 */
static void
alert_recheck(struct alert *al, int64_t now, bool all)
{
	struct alert_info	 found[ALERT__COUNT];
	struct obj		*o;
	size_t			 i = 0, n, k;
	int			 got;

	if ((o = malloc(sizeof(*o))) == NULL)
		return;
	while (i < al->n) {
		struct alert_info *a = &al->v[i];

		if (!all && (a->level == ALERT_CRITICAL || now < a->deadline_us)) {
			i++;
			continue;
		}
		got = store_get(al->env.store, a->owner, a->oid, o);
		if (got == -1) {
			i++;	/* the store failed: keep what we know */
			continue;
		}
		n = got == 1 ? alert_eval(o, &al->cfg, now, found) : 0;
		for (k = 0; k < n && found[k].clock != a->clock; k++)
			;
		if (k == n) {
			log_info("%s: %s clock of %s %s: alert closed", a->ref,
			    alert_clock_name(a->clock), a->type == -1 ?
			    "order" : "task", a->oid);
			al->v[i] = al->v[--al->n];
			continue;
		}
		alert_update(al, &found[k], now);
		i++;
	}
	free(o);
}

/* The next slice of the open tasks; back to the start after the last. */
static int
alert_slice(struct alert *al, struct alert_visit *v)
{
	struct alert_slice	 s = { v, 0 };
	int			 r;

	r = store_queue(al->env.store, al->slice_at, ALERT_SLICE, alert_slice_one,
	    &s);
	al->slice_at = s.n < ALERT_SLICE ? 0 : al->slice_at + s.n;
	return r;
}

void
alert_scan(struct alert *al, bool full)
{
	struct alert_visit	 v = { al, alert_now(al) };
	int			 r;

	alert_recheck(al, v.now, full || al->ticks % ALERT_RECHECK_TICKS == 0);
	if (full)
		r = store_open_work(al->env.store, alert_visit, &v);
	else if ((r = store_due(al->env.store, v.now + al->cfg.horizon_us,
	    ALERT_BATCH, alert_visit, &v)) == 0)
		r = alert_slice(al, &v);
	if (r == -1)
		log_warnx("alert: the deadlines cannot be read from the object "
		    "store");
}

static void
alert_tick(evutil_socket_t fd, short what, void *arg)
{
	struct alert *al = arg;

	(void)fd;
	(void)what;
	al->ticks++;
	alert_scan(al, false);
}

/* ---- life -------------------------------------------------------------------- */

struct alert *
alert_new(const struct alert_env *env, const struct alert_config *cfg)
{
	struct alert *al;

	if ((al = calloc(1, sizeof(*al))) == NULL)
		return NULL;
	al->env = *env;
	alert_configure(al, cfg);
	return al;
}

void
alert_configure(struct alert *al, const struct alert_config *cfg)
{
	al->cfg = *cfg;
	if (al->cfg.warn_pct < 1 || al->cfg.warn_pct > 99)
		al->cfg.warn_pct = 80;
	if (al->cfg.horizon_us < 0)
		al->cfg.horizon_us = 0;
}

int
alert_start(struct alert *al)
{
	struct timeval tv = { ALERT_TICK_S, 0 };

	alert_scan(al, true);
	if (al->env.base == NULL)
		return 0;
	if ((al->tick = event_new(al->env.base, -1, EV_PERSIST, alert_tick,
	    al)) == NULL || event_add(al->tick, &tv) == -1) {
		log_warnx("alert: cannot start the deadline timer");
		return -1;
	}
	return 0;
}

void
alert_free(struct alert *al)
{
	if (al == NULL)
		return;
	if (al->tick != NULL)
		event_free(al->tick);
	free(al->v);
	free(al);
}

/* ---- reading ------------------------------------------------------------------ */

static int
alert_cmp(const void *x, const void *y)
{
	const struct alert_info *a = *(const struct alert_info *const *)x;
	const struct alert_info *b = *(const struct alert_info *const *)y;

	if (a->level != b->level)
		return a->level > b->level ? -1 : 1;
	if (a->deadline_us != b->deadline_us)
		return a->deadline_us < b->deadline_us ? -1 : 1;
	return strcmp(a->oid, b->oid);
}

void
alert_each(const struct alert *al, alert_visit_cb cb, void *arg)
{
	const struct alert_info **p;

	if (al == NULL || al->n == 0)
		return;
	if ((p = calloc(al->n, sizeof(*p))) == NULL) {
		for (size_t i = 0; i < al->n; i++)	/* unsorted, not nothing */
			cb(&al->v[i], arg);
		return;
	}
	for (size_t i = 0; i < al->n; i++)
		p[i] = &al->v[i];
	qsort(p, al->n, sizeof(*p), alert_cmp);
	for (size_t i = 0; i < al->n; i++)
		cb(p[i], arg);
	free(p);
}

enum alert_level
alert_level_of(const struct alert *al, const char *owner, const char *oid)
{
	enum alert_level l = ALERT_NONE;

	for (size_t i = 0; al != NULL && i < al->n; i++)
		if (al->v[i].level > l && strcmp(al->v[i].oid, oid) == 0 &&
		    strcmp(al->v[i].owner, owner) == 0)
			l = al->v[i].level;
	return l;
}

void
alert_counts(const struct alert *al, struct alert_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (al == NULL)
		return;
	for (size_t i = 0; i < al->n; i++) {
		if (al->v[i].level == ALERT_CRITICAL)
			c->critical++;
		else
			c->warning++;
	}
	memcpy(c->warned, al->warned, sizeof(c->warned));
	memcpy(c->missed, al->missed, sizeof(c->missed));
}
