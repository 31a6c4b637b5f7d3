/*
 * desk_status — what the desk reports about the gateway (src/warrantd/desk.c
 * routes to it): deadlines in danger (GET /desk/api/alerts), the board and
 * statistics handed to src/warrantd/desk_board.c, the Prometheus text of
 * /metrics (requests, tasks, the desk, tally, alerts, journal, back ends,
 * network elements) and /healthz.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "desk_board.h"
#include "desk_int.h"
#include "lifecycle.h"
#include "store.h"
#include "x1_prov.h"
#include "tally.h"

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
void
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
void
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
void
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
void
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
