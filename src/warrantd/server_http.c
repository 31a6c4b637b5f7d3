/*
 * server_http — the bounded HTTP/1.1 exchange of one connection (see
 * server.c): the desk's routing, the route table, reading a request's head
 * and body, the answers (whole, by reference or streamed) and the
 * bufferevent's write and event callbacks.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <systemd/sd-daemon.h>

#include "alert.h"
#include "backend.h"
#include "conf.h"
#include "edge.h"
#include "hi1.h"
#include "http.h"
#include "journal.h"
#include "lifecycle.h"
#include "log.h"
#include "parsers.h"
#include "push.h"
#include "desk.h"
#include "server.h"
#include "server_int.h"
#include "tls.h"
#include "x1_prov.h"

/* A streamed answer (conn_respond_stream) is refilled below LOW, to HIGH. */
#define CONN_BODY_LOW	(128 * 1024)
#define CONN_BODY_HIGH	(256 * 1024)
#define LINGER_SHORT_MS	1000	/* after a 408 (the sender is slow already) or
				   a 503 at admission (none may pile up) */

/* The counters /metrics shows (desk.c reads them through desk_env.stats). */
void
server_desk_stats(void *arg, struct desk_stats *out)
{
	const struct server *srv = arg;

	out->accepted = srv->stats.accepted;
	out->repeated = srv->stats.repeated;
	out->read = srv->stats.read;
	out->refused = srv->stats.refused;
	out->invalid = srv->stats.invalid;
	out->unavailable = srv->stats.unavailable;
	out->tls_refused = srv->stats.tls_refused;
	out->connections = srv->nconns;
}

/* The desk's headers, and a 405's Allow (from the desk's route table). */
static void
conn_desk_headers(struct conn *c, int status)
{
	const char *allow = status == 405 ? desk_allow(c->req.path) : NULL;

	snprintf(c->receipt, sizeof(c->receipt), "%s%s%s%s",
	    DESK_SECURITY_HEADERS, allow ? "Allow: " : "", allow ? allow : "",
	    allow ? "\r\n" : "");
}

/* The desk's answer, from desk.c (now or once its record is durable). */
static void
conn_desk_reply(int status, const char *type, char *body, size_t len,
    void *arg)
{
	struct conn *c = arg;

	if (conn_release_if_dead(c)) {
		free(body);
		return;
	}
	conn_desk_headers(c, status);
	conn_respond_type(c, status, type, body, len);
}

static void
conn_desk_request(struct conn *c, const char *body, size_t len)
{
	struct desk_request	 r = {
		.method = c->req.method, .path = c->req.path,
		.query = c->req.query, .content_type = c->req.content_type,
		.body = body, .len = len, .conf = c->gen->conf,
		.who = c->refusal.failed ? NULL : c->official,
		.fingerprint = c->fingerprint, .peer = c->peer,
	};

	desk_handle(c->srv->desk, &r, conn_desk_reply, c);
}

/*
 * On the desk listener: the desk's API only. GETs have no body; a POST's
 * is small (DESK_BODY_MAX in desk.c, 16 KiB); other methods are 405.
 */
static int
conn_route_desk(struct conn *c)
{
	struct http_request *r = &c->req;

	if (r->method == HTTP_OTHER) {	/* in no route: 405, or 404 */
		int status = desk_allow(r->path) != NULL ? 405 : 404;

		c->close_after = c->linger = true;
		conn_desk_headers(c, status);
		conn_respond(c, status, NULL, 0);
		return -1;
	}
	if (r->method == HTTP_GET) {
		if (r->has_length && r->content_length > 0) {
			c->close_after = c->linger = true;
			conn_respond(c, 400, NULL, 0);
			return -1;
		}
		server_conn_begin_busy(c);
		conn_desk_request(c, NULL, 0);
		return 1;
	}
	if (!r->has_length) {
		c->close_after = c->linger = true;
		conn_respond(c, 411, NULL, 0);
		return -1;
	}
	if (r->content_length > 16384) {
		c->close_after = c->linger = true;
		conn_respond(c, 413, NULL, 0);
		return -1;
	}
	return 0;
}

/* The first entry of the table whose path matches, and whether its method
 * does: 0 found, 404 no path, 405 only under other methods. */
static int
edge_route_find(const struct edge_route *t, size_t n, enum http_method m,
    const char *path, const struct edge_route **out)
{
	int	 status = 404;

	for (size_t i = 0; i < n; i++) {
		size_t	 len = strlen(t[i].path);

		if (t[i].path[len - 1] == '/' ? strncmp(path, t[i].path, len) != 0 :
		    strcmp(path, t[i].path) != 0)
			continue;
		if (t[i].method == m) {
			*out = &t[i];
			return 0;
		}
		status = 405;
	}
	return status;
}

/* The caller is one of the route's roles, registered and in force. */
static bool
edge_route_allowed(const struct conn *c, const struct edge_route *rt)
{
	const struct wd_official *o = c->official;

	if (rt->roles == 0)
		return true;
	return !c->refusal.failed && o != NULL &&
	    (rt->roles & EDGE_ROLE(o->role)) != 0 &&
	    conf_official_status(o, time(NULL)) == WD_OFFICIAL_OK;
}

/*
 * Route a complete head by the authorities' listener's table
 * (server_hooks). Returns 1 when the request is complete without a body
 * and has been handed on, 0 to read a body, -1 if answered.
 */
static int
conn_route(struct conn *c)
{
	struct http_request	*r = &c->req;
	const struct edge_route	*rt = NULL;
	int			 status;

	if (c->desk)
		return conn_route_desk(c);
	status = edge_route_find(c->srv->hooks->routes, c->srv->hooks->nroutes,
	    r->method, r->path, &rt);
	/* Refusals before a body close: an unread body would be taken for a
	 * head. */
	if (status == 0 && !rt->body && r->has_length && r->content_length > 0)
		status = 400;
	if (status != 0) {
		c->close_after = c->linger = true;
		conn_respond(c, status, NULL, 0);
		return -1;
	}
	if (!edge_route_allowed(c, rt)) {
		log_warnx("conn %llu from %s: %s refused to %s",
		    (unsigned long long)c->id, c->peer, r->path,
		    c->official ? c->official->id : c->fingerprint);
		c->close_after = c->close_after || rt->body || !r->keep_alive;
		c->linger = rt->body;
		conn_respond_text(c, 403, "this resource is for registered %s\n",
		    rt->who);
		return -1;
	}
	c->route = rt;
	if (!rt->body) {
		server_conn_begin_busy(c);
		rt->fn(c, NULL, 0);
		return 1;
	}
	if (!r->has_length) {
		server_conn_error_response(c, 411, WD_ERR_BAD_HTTP,
		    "a Content-Length header is required");
		return -1;
	}
	return 0;
}

/*
 * Bodies are received into memory whole, so their bytes in flight over all
 * connections are reserved from body-budget as soon as the head announces
 * them; past it the request is answered 503 before its body is read (and
 * with Expect: 100-continue, before it is even sent).
 */
static int
conn_body_reserve(struct conn *c)
{
	struct server	*srv = c->srv;
	size_t		 len = c->req.content_length;
	size_t		 budget = srv->gen->conf->limits.body_budget;

	/* (A reload may have lowered the budget below what is in flight.) */
	if (srv->body_inflight > budget || len > budget - srv->body_inflight) {
		server_conn_refuse_busy(c, &srv->stats.refused_body,
		    "request bodies being received fill body-budget");
		return -1;
	}
	srv->body_inflight += len;
	c->body_held = len;
	return 0;
}

static void
conn_read_head(struct conn *c, struct evbuffer *in)
{
	const struct wd_conf	*conf = c->gen->conf;
	struct http_limits	 lim = { conf->limits.header_max,
	    conf->limits.max_headers, conf->limits.body_max };
	size_t			 avail = evbuffer_get_length(in);
	size_t			 want = avail < lim.head_max ? avail : lim.head_max;
	const char		*buf = (const char *)evbuffer_pullup(in, want);
	int			 status = 0;

	switch (http_parse_head(buf, want, &lim, &c->req, &status)) {
	case HTTP_PARSE_MORE:
		return;
	case HTTP_PARSE_ERROR:
		log_info("conn %llu from %s: bad request head (HTTP %d)",
		    (unsigned long long)c->id, c->peer, status);
		server_conn_error_response(c, status, status == 413 ?
		    WD_ERR_BODY_TOO_LARGE : WD_ERR_BAD_HTTP,
		    status == 413 ? "the request body exceeds the configured limit" :
		    http_status_text(status));
		return;
	case HTTP_PARSE_OK:
		break;
	}
	evbuffer_drain(in, c->req.head_len);
	if (c->req.minor == 1 && !c->req.has_host) {
		log_info("conn %llu from %s: HTTP/1.1 request without Host (HTTP 400)",
		    (unsigned long long)c->id, c->peer);
		server_conn_error_response(c, 400, WD_ERR_BAD_HTTP,
		    "exactly one Host header is required");
		return;
	}
	if (conn_route(c) != 0 || conn_body_reserve(c) == -1)
		return;
	c->state = CONN_BODY;
	/* Asked to, say "go on" unless the body is on its way already. */
	if (c->req.expect_continue && evbuffer_get_length(in) < c->req.content_length)
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n");
}

static void
conn_read_body(struct conn *c, struct evbuffer *in)
{
	size_t	 len = c->req.content_length;
	char	*body;

	if (evbuffer_get_length(in) < len)
		return;
	/* Leaving the buffer, the body leaves the budget: intake frees it. */
	c->srv->body_inflight -= c->body_held;
	c->body_held = 0;
	if ((body = malloc(len + 1)) == NULL) {
		server_conn_error_response(c, 503, WD_ERR_OVERLOADED,
		    "out of memory");
		return;
	}
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	server_conn_begin_busy(c);
	if (c->desk) {
		conn_desk_request(c, body, len);
		free(body);
		return;
	}
	c->route->fn(c, body, len);
}

/*
 * An early answer (413, 431, 404...) leaves the client still sending its
 * body. Closing at once would make the kernel reset the connection and the
 * client could lose our answer, so, like a lingering close, we keep reading
 * and discarding for a short, bounded time and amount before closing.
 */
#define LINGER_MS	5000
#define LINGER_MAX	(64u << 20)

static void
conn_linger_read(struct conn *c, struct evbuffer *in)
{
	c->lingered += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->lingered > LINGER_MAX)
		server_conn_free(c);
}

void
server_conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (c->state == CONN_LINGER) {
		conn_linger_read(c, in);
		return;
	}
	if (c->state == CONN_BUSY)
		return;		/* held, bounded, read after the answer */
	if (c->state == CONN_HEAD && evbuffer_get_length(in) > 0 && !c->saw_bytes) {
		c->saw_bytes = true;
		server_conn_idle_leave(c);
		server_conn_arm(c, c->gen->conf->limits.request_timeout_ms);
	}
	if (c->state == CONN_HEAD)
		conn_read_head(c, in);
	if (c->state == CONN_BODY)
		conn_read_body(c, in);
}

void
conn_respond(struct conn *c, int status, char *body, size_t len)
{
	conn_respond_type(c, status, "application/xml; charset=utf-8", body, len);
}

/* Frees an answer handed to the output buffer by reference. */
static void
conn_body_free(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/* The status line and headers of an answer of len bytes. */
static void
conn_respond_head(struct conn *c, int status, const char *type, size_t len)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	const struct wd_conf	*conf = c->gen->conf;

	if (c->srv->stopping)
		c->close_after = true;
	if (!c->req.keep_alive)
		c->close_after = true;
	/* keepalive-requests and keepalive-time bound a connection's life. */
	if (c->requests >= conf->limits.keepalive_requests ||
	    server_now_ms() - c->born_ms >= conf->limits.keepalive_time_ms)
		c->close_after = true;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Server: warrantd\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s"
	    "Connection: %s\r\n\r\n", status, http_status_text(status), type,
	    len, c->receipt[0] ? c->receipt : "", c->close_after ? "close" : "keep-alive");
	c->receipt[0] = '\0';
}

static void
conn_respond_sent(struct conn *c)
{
	c->state = CONN_WRITING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	/* A client that does not read its answer is dropped too. */
	server_conn_arm(c, c->gen->conf->limits.request_timeout_ms);
}

void
conn_respond_type(struct conn *c, int status, const char *type, char *body,
    size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	conn_respond_head(c, status, type, len);
	/* By reference: an answer with parts is megabytes, not copied again. */
	if (body && len && evbuffer_add_reference(out, body, len,
	    conn_body_free, NULL) == 0)
		body = NULL;
	else if (body && len)
		evbuffer_add(out, body, len);
	free(body);
	conn_respond_sent(c);
}

/* The streamed answer is whole, or will never be: let it go. */
void
server_conn_body_end(struct conn *c)
{
	struct conn_body *b = c->body;

	if (b == NULL)
		return;
	c->body = NULL;
	b->free(b->arg);
	free(b);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

void
conn_respond_stream(struct conn *c, int status, const char *type, size_t len,
    const struct conn_body *body)
{
	struct evbuffer		*first = evbuffer_new();
	int			 rc = -1;

	/* The first bytes before anything is sent: a failure is still a 500. */
	if (first != NULL)
		rc = body->fill(body->arg, first, CONN_BODY_HIGH);
	if (rc == -1 || (rc == 1 && (c->body = malloc(sizeof(*c->body))) ==
	    NULL)) {
		if (first != NULL)
			evbuffer_free(first);
		body->free(body->arg);
		c->close_after = true;
		conn_respond(c, 500, NULL, 0);
		return;
	}
	conn_respond_head(c, status, type, len);
	evbuffer_add_buffer(bufferevent_get_output(c->bev), first);
	evbuffer_free(first);
	if (rc == 0)
		body->free(body->arg);
	else {
		*c->body = *body;
		bufferevent_setwatermark(c->bev, EV_WRITE, CONN_BODY_LOW, 0);
	}
	conn_respond_sent(c);
}

void
conn_vrespond_text(struct conn *c, int status, const char *fmt, va_list ap)
{
	char	*body = NULL;
	int	 len = vasprintf(&body, fmt, ap);

	if (len < 0) {
		body = NULL;
		len = 0;
	}
	conn_respond_type(c, status, "text/plain; charset=utf-8", body, (size_t)len);
}

void
conn_respond_text(struct conn *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conn_vrespond_text(c, status, fmt, ap);
	va_end(ap);
}

/* More of a streamed answer, as the output drains below CONN_BODY_LOW. */
static int
conn_body_more(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 held = evbuffer_get_length(out);
	int		 rc;

	if (held > CONN_BODY_LOW)
		return 0;
	if ((rc = c->body->fill(c->body->arg, out, CONN_BODY_HIGH - held)) == -1) {
		log_warnx("conn %llu from %s: the answer cannot be completed: "
		    "closed", (unsigned long long)c->id, c->peer);
		server_conn_free(c);
		return -1;
	}
	if (rc == 0)
		server_conn_body_end(c);
	return 0;
}

void
server_conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->state != CONN_WRITING)
		return;
	if (c->body != NULL && conn_body_more(c) == -1)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	if (c->close_after && c->linger) {
		c->state = CONN_LINGER;
		server_conn_arm(c,
		    c->short_linger ? LINGER_SHORT_MS : LINGER_MS);
		bufferevent_enable(c->bev, EV_READ);
		conn_linger_read(c, bufferevent_get_input(c->bev));
		return;
	}
	if (c->close_after) {
		server_conn_free(c);
		return;
	}
	/* Keep-alive: wait for the next request under the idle deadline. */
	c->state = CONN_HEAD;
	c->saw_bytes = false;
	server_conn_idle_enter(c);
	server_conn_arm(c, c->gen->conf->limits.idle_timeout_ms);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		server_conn_readcb(c->bev, c);
}

static void
conn_log_tls_errors(struct conn *c)
{
	unsigned long	e;
	char		buf[256];

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_debug("conn %llu from %s: %s", (unsigned long long)c->id,
		    c->peer, buf);
	}
}

void
server_conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		server_conn_handshake_done(c);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		if (c->refusal.failed) {
			c->srv->stats.tls_refused++;
			server_conn_log_stranger(c, "client certificate "
			    "refused: %s (subject %s, sha256 %s)", c->refusal.reason,
			    c->refusal.subject, c->refusal.fingerprint[0] ?
			    c->refusal.fingerprint : "-");
			c->srv->hooks->tls_refused(c->srv, c);
		} else {
			c->srv->stats.handshake_failed++;
			server_conn_log_stranger(c, "TLS handshake failed");
		}
	}
	conn_log_tls_errors(c);
	if (c->state == CONN_BUSY) {
		log_info("conn %llu from %s: the client hung up while its request "
		    "was busy: no answer will be written", (unsigned long long)c->id,
		    c->peer);
		c->dead = true;		/* intake will free it */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	server_conn_free(c);
}
