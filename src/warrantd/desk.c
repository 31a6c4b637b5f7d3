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
 *
 * This file keeps the console's files, the answers, the route table and
 * the routing; the queue and one request's view are desk_queue.c's, the
 * actions desk_action.c's, alerts, /metrics and /healthz desk_status.c's
 * (what they share: desk_int.h).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "desk_board.h"
#include "desk_int.h"
#include "desk_routes.h"
#include "log.h"
#include "review.h"

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
_Static_assert(sizeof(desk_page_names) / sizeof(desk_page_names[0]) ==
    DESK_NPAGES, "DESK_NPAGES (desk_int.h) is not desk_page_names[]'s count");
#define DESK_PAGE_MAX	(256 * 1024)

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

void
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

void
desk_error(desk_reply_cb cb, void *arg, int status, const char *code,
    const char *msg)
{
	desk_reply_json(cb, arg, status, json_pack("{s:s, s:s}", "error", code,
	    "message", msg));
}

const char *
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

int64_t
desk_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
