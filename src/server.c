/*
 * server — the network edge: the listener, TLS connections through
 * libevent's OpenSSL bufferevents, the bounded HTTP/1.1 exchange and the
 * deadlines that keep slow or hostile clients from holding resources.
 *
 * A connection serves one request at a time: while a request is with intake
 * (parsing, journaling) reading is paused, so memory per connection is
 * bounded by head_max + body_max and pipelining cannot pile up work.
 * Deadlines are absolute: the request timer starts at the first byte of a
 * request and is never extended by more bytes, so trickling does not help.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <systemd/sd-daemon.h>

#include "backend.h"
#include "conf.h"
#include "hi1.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "server.h"
#include "tls.h"

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_writecb(struct bufferevent *, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);
static void	conn_free(struct conn *);

/* --- generations ------------------------------------------------------- */

struct server_gen *
server_gen_load(const char *path, unsigned number)
{
	struct server_gen *gen;

	if ((gen = calloc(1, sizeof(*gen))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	gen->refs = 1;
	gen->number = number;
	if ((gen->conf = conf_load(path)) == NULL ||
	    (gen->ssl = tls_server_ctx(gen->conf)) == NULL ||
	    (gen->schema = hi1_schema_load(gen->conf->templates_dir)) == NULL) {
		server_gen_unref(gen);
		return NULL;
	}
	return gen;
}

void
server_gen_unref(struct server_gen *gen)
{
	if (gen == NULL || --gen->refs > 0)
		return;
	hi1_schema_free(gen->schema);
	SSL_CTX_free(gen->ssl);
	conf_free(gen->conf);
	free(gen);
}

/* --- timers -------------------------------------------------------------- */

static void
conn_arm(struct conn *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

static void
conn_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CONN_LINGER) {
		conn_free(c);
		return;
	}
	log_info("conn %llu from %s: deadline passed in state %d, dropped",
	    (unsigned long long)c->id, c->peer, c->state);
	if (c->state == CONN_BUSY) {
		/* intake owns the request; it will free us when it returns. */
		c->dead = true;
		return;
	}
	conn_free(c);
}

/* --- accept -------------------------------------------------------------- */

static void
server_pause_if_full(struct server *srv)
{
	unsigned max = srv->gen->conf->limits.max_connections;

	if (!srv->listener_paused && srv->nconns >= max) {
		evconnlistener_disable(srv->listener);
		srv->listener_paused = true;
		log_warnx("connection limit %u reached: not accepting until one closes", max);
	} else if (srv->listener_paused && srv->nconns < max && !srv->stopping) {
		evconnlistener_enable(srv->listener);
		srv->listener_paused = false;
	}
}

static void
conn_peer_name(const struct sockaddr *sa, char *buf, size_t len)
{
	char	addr[INET6_ADDRSTRLEN] = "?";
	int	port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s:%d", addr, port);
}

static void
server_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;
	int		 one = 1;

	(void)l;
	(void)salen;
	/*
	 * Answers are small and go out as a few TLS records: without
	 * TCP_NODELAY, Nagle holds the last one until the client's delayed
	 * ACK, adding ~40 ms to every request on a kept-alive connection.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ssl = SSL_new(srv->gen->ssl)) == NULL ||
	    (c->timer = evtimer_new(srv->base, conn_timeoutcb, c)) == NULL) {
		log_warnx("conn: out of memory, dropping connection");
		if (c) {
			SSL_free(c->ssl);
			free(c);
		}
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->gen = srv->gen;
	c->gen->refs++;
	c->state = CONN_HANDSHAKE;
	conn_peer_name(sa, c->peer, sizeof(c->peer));
	tls_track_refusal(c->ssl, &c->refusal);
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, c->ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("conn: cannot create TLS bufferevent");
		SSL_free(c->ssl);
		evutil_closesocket(fd);
		server_gen_unref(c->gen);
		event_free(c->timer);
		free(c);
		return;
	}
	/* Tear TLS down without waiting for the peer's close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	conn_arm(c, srv->gen->conf->limits.request_timeout_ms);
	server_pause_if_full(srv);
}

static void
server_accept_errorcb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: log, the listener keeps going. */
	log_warn("accept");
}

int
server_listen(struct server *srv)
{
	const struct wd_conf	*conf = srv->gen->conf;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss);
	char			 addr[128];

	snprintf(addr, sizeof(addr), strchr(conf->listen_addr, ':') ?
	    "[%s]:%u" : "%s:%u", strcmp(conf->listen_addr, "localhost") == 0 ?
	    "127.0.0.1" : conf->listen_addr, conf->listen_port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_warnx("cannot parse listen address %s", addr);
		return -1;
	}
	srv->listener = evconnlistener_new_bind(srv->base, server_acceptcb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    511, (struct sockaddr *)&ss, sslen);
	if (srv->listener == NULL) {
		log_warn("cannot listen on %s", addr);
		return -1;
	}
	evconnlistener_set_error_cb(srv->listener, server_accept_errorcb);
	log_info("listening on %s", addr);
	return 0;
}

/* --- the connection's life ----------------------------------------------- */

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	event_free(c->timer);
	/* BEV_OPT_CLOSE_ON_FREE frees the SSL and closes the socket. */
	bufferevent_free(c->bev);
	server_gen_unref(c->gen);
	free(c);
	server_pause_if_full(srv);
}

bool
conn_release_if_dead(struct conn *c)
{
	c->srv->nbusy--;
	if (!c->dead)
		return false;
	conn_free(c);
	return true;
}

/*
 * After a reload, a kept-alive connection was authenticated against the old
 * CA store and registry. Check its certificate again against the current
 * generation, so that a revocation or suspension applies on its very next
 * request without waiting for the client to reconnect.
 */
static int
conn_reverify(struct conn *c)
{
	struct server_gen	*cur = c->srv->gen;
	X509_STORE_CTX		*xctx;
	X509			*leaf = SSL_get0_peer_certificate(c->ssl);
	int			 ok = 0;

	if (c->gen == cur)
		return 0;
	if (leaf && (xctx = X509_STORE_CTX_new()) != NULL) {
		if (X509_STORE_CTX_init(xctx, SSL_CTX_get_cert_store(cur->ssl), leaf,
		    SSL_get_peer_cert_chain(c->ssl)) == 1) {
			X509_STORE_CTX_set_purpose(xctx, X509_PURPOSE_SSL_CLIENT);
			ok = X509_verify_cert(xctx) == 1;
			if (!ok)
				snprintf(c->refusal.reason, sizeof(c->refusal.reason),
				    "%s", X509_verify_cert_error_string(
				    X509_STORE_CTX_get_error(xctx)));
		}
		X509_STORE_CTX_free(xctx);
	}
	ERR_clear_error();
	server_gen_unref(c->gen);
	c->gen = cur;
	cur->refs++;
	c->official = conf_find_official(cur->conf, c->cert_sha256, c->spki_sha256);
	if (!ok) {
		c->refusal.failed = 1;
		return -1;
	}
	return 0;
}

static void
conn_handshake_done(struct conn *c)
{
	struct server_gen *gen = c->gen;

	tls_peer_subject(c->ssl, c->subject, sizeof(c->subject));
	if (tls_peer_fingerprints(c->ssl, c->cert_sha256, c->spki_sha256) == 0) {
		tls_hex(c->cert_sha256, 32, c->fingerprint);
		c->official = conf_find_official(gen->conf, c->cert_sha256,
		    c->spki_sha256);
	}
	log_debug("conn %llu from %s: TLS %s %s, subject %s, official %s",
	    (unsigned long long)c->id, c->peer, SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl), c->subject,
	    c->official ? c->official->id : "(not registered)");
	c->state = CONN_HEAD;
	conn_arm(c, gen->conf->limits.idle_timeout_ms);
}

static void
conn_error_response(struct conn *c, int status, enum wd_errcode code,
    const char *text)
{
	struct hi1_response_header	 h;
	struct wd_error			 err;
	char				 tid[HI1_UUID_LEN + 1];
	char				*body;
	size_t				 len = 0;
	struct timespec			 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	hi1_uuid(tid, sizeof(tid));
	h.carrier_id = c->gen->conf->carrier_id;
	h.authority_id = c->official && c->official->authority ?
	    c->official->authority->id : "UNKNOWN";
	h.transaction_id = tid;
	h.timestamp_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	wd_error_set(&err, code, "%s", text);
	body = hi1_build_error(&h, NULL, &err, &len);
	c->close_after = true;
	c->linger = true;
	conn_respond(c, status, body, body ? len : 0);
}

/*
 * A complete request goes to intake or auditapi: reading pauses (one request
 * at a time), the deadline stops (the wait is ours now), and a connection
 * from before a reload has its certificate checked again.
 */
static void
conn_begin_busy(struct conn *c)
{
	c->state = CONN_BUSY;
	c->requests++;
	c->srv->nbusy++;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->timer);
	if (conn_reverify(c) == -1)
		log_info("conn %llu from %s: certificate no longer accepted after "
		    "reload: %s", (unsigned long long)c->id, c->peer,
		    c->refusal.reason);
}

/*
 * Route a complete head: POST /hi1 for authorities, GET /journal/... for
 * auditors (read-only, no body). Returns 1 when the request is complete
 * without a body and has been handed on, 0 to read a body, -1 if answered.
 */
static int
conn_route(struct conn *c)
{
	struct http_request *r = &c->req;

	if (strncmp(r->path, "/journal/", 9) == 0 && r->method == HTTP_GET &&
	    (!r->has_length || r->content_length == 0)) {
		conn_begin_busy(c);
		auditapi_request(c);
		return 1;
	}
	/* Unknown routes close: an unread body would be taken for a head. */
	if (strcmp(r->path, "/hi1") != 0) {
		c->close_after = c->linger = true;
		conn_respond(c, 404, NULL, 0);
		return -1;
	}
	if (r->method != HTTP_POST) {
		c->close_after = c->linger = true;
		conn_respond(c, 405, NULL, 0);
		return -1;
	}
	if (!r->has_length) {
		conn_error_response(c, 411, WD_ERR_BAD_HTTP,
		    "a Content-Length header is required");
		return -1;
	}
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
		conn_error_response(c, status, status == 413 ?
		    WD_ERR_BODY_TOO_LARGE : WD_ERR_BAD_HTTP,
		    status == 413 ? "the request body exceeds the configured limit" :
		    http_status_text(status));
		return;
	case HTTP_PARSE_OK:
		break;
	}
	evbuffer_drain(in, c->req.head_len);
	if (conn_route(c) != 0)
		return;
	c->state = CONN_BODY;
}

static void
conn_read_body(struct conn *c, struct evbuffer *in)
{
	size_t	 len = c->req.content_length;
	char	*body;

	if (evbuffer_get_length(in) < len)
		return;
	if ((body = malloc(len + 1)) == NULL) {
		conn_error_response(c, 503, WD_ERR_OVERLOADED, "out of memory");
		return;
	}
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	conn_begin_busy(c);
	intake_request(c, body, len);
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
		conn_free(c);
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (c->state == CONN_LINGER) {
		conn_linger_read(c, in);
		return;
	}
	if (c->state == CONN_HEAD && evbuffer_get_length(in) > 0 && !c->saw_bytes) {
		c->saw_bytes = true;
		conn_arm(c, c->gen->conf->limits.request_timeout_ms);
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

void
conn_respond_type(struct conn *c, int status, const char *type, char *body,
    size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->srv->stopping)
		c->close_after = true;
	if (!c->req.keep_alive)
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
	if (body && len)
		evbuffer_add(out, body, len);
	free(body);
	c->state = CONN_WRITING;
	bufferevent_disable(c->bev, EV_READ);
	/* A client that does not read its answer is dropped too. */
	conn_arm(c, c->gen->conf->limits.request_timeout_ms);
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

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->state != CONN_WRITING ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	if (c->close_after && c->linger) {
		c->state = CONN_LINGER;
		conn_arm(c, LINGER_MS);
		bufferevent_enable(c->bev, EV_READ);
		conn_linger_read(c, bufferevent_get_input(c->bev));
		return;
	}
	if (c->close_after) {
		conn_free(c);
		return;
	}
	/* Keep-alive: wait for the next request under the idle deadline. */
	c->state = CONN_HEAD;
	c->saw_bytes = false;
	conn_arm(c, c->gen->conf->limits.idle_timeout_ms);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		conn_readcb(c->bev, c);
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

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn_handshake_done(c);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		if (c->refusal.failed) {
			c->srv->stats.tls_refused++;
			log_warnx("conn %llu from %s: client certificate refused: %s "
			    "(subject %s, sha256 %s)", (unsigned long long)c->id,
			    c->peer, c->refusal.reason, c->refusal.subject,
			    c->refusal.fingerprint[0] ? c->refusal.fingerprint : "-");
			intake_tls_refused(c->srv, c);
		} else
			log_info("conn %llu from %s: TLS handshake failed",
			    (unsigned long long)c->id, c->peer);
	}
	conn_log_tls_errors(c);
	if (c->state == CONN_BUSY) {
		c->dead = true;		/* intake will free it */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	conn_free(c);
}

/* --- reload and shutdown --------------------------------------------------- */

static bool
server_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* Back ends and the results store are built once, at start. */
static bool
server_backends_changed(const struct wd_conf *a, const struct wd_conf *b)
{
	const struct wd_backend *x = TAILQ_FIRST(&a->backends);
	const struct wd_backend *y = TAILQ_FIRST(&b->backends);

	if (server_str_differs(a->results.key, b->results.key) ||
	    a->results.keep_s != b->results.keep_s)
		return true;
	for (; x != NULL && y != NULL; x = TAILQ_NEXT(x, entry),
	    y = TAILQ_NEXT(y, entry))
		if (strcmp(x->name, y->name) != 0 ||
		    strcmp(x->address, y->address) != 0 ||
		    memcmp(x->serves, y->serves, sizeof(x->serves)) != 0 ||
		    x->deadline_ms != y->deadline_ms || x->retries != y->retries ||
		    x->connections != y->connections)
			return true;
	return x != NULL || y != NULL;
}

void
server_reload(struct server *srv)
{
	struct server_gen *gen;

	sd_notify(0, "RELOADING=1\nSTATUS=reloading configuration");
	log_info("reloading %s", srv->conf_path);
	gen = server_gen_load(srv->conf_path, srv->gen->number + 1);
	if (gen == NULL) {
		log_warnx("reload failed: keeping the running configuration");
		intake_record_event(srv, WARRANT__EVENT_TYPE__EVENT_CONFIG_RELOAD,
		    "reload failed; running configuration kept");
		sd_notify(0, "READY=1\nSTATUS=reload failed, running configuration kept");
		return;
	}
	if (strcmp(gen->conf->listen_addr, srv->gen->conf->listen_addr) != 0 ||
	    gen->conf->listen_port != srv->gen->conf->listen_port ||
	    strcmp(gen->conf->state_dir, srv->gen->conf->state_dir) != 0)
		log_warnx("listen address and state directory changes need a restart");
	if (server_backends_changed(gen->conf, srv->gen->conf))
		log_warnx("back-end and results changes need a restart; the "
		    "running ones stay in use");
	server_gen_unref(srv->gen);
	srv->gen = gen;
	log_info("configuration generation %u in force", gen->number);
	intake_record_event(srv, WARRANT__EVENT_TYPE__EVENT_CONFIG_RELOAD,
	    "configuration reloaded");
	sd_notify(0, "READY=1");
	server_notify_status(srv);
}

void
server_shutdown(struct server *srv)
{
	struct conn *c, *next;

	srv->stopping = true;
	if (srv->listener && !srv->listener_paused)
		evconnlistener_disable(srv->listener);
	srv->listener_paused = true;
	/* Idle connections go now; busy ones close after their answer. */
	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_HEAD && !c->saw_bytes)
			conn_free(c);
		else
			c->close_after = true;
	}
}

void
server_notify_status(struct server *srv)
{
	char backends[256] = "none";

	if (srv->backends)
		backend_status(srv->backends, backends, sizeof(backends));
	sd_notifyf(0, "STATUS=%s; %u connections; accepted %llu, refused %llu, "
	    "invalid %llu, TLS refused %llu; journal: %s; back ends: %s",
	    srv->stopping ? "stopping" : "serving", srv->nconns,
	    (unsigned long long)srv->stats.accepted,
	    (unsigned long long)srv->stats.refused,
	    (unsigned long long)srv->stats.invalid,
	    (unsigned long long)srv->stats.tls_refused,
	    srv->journal ? journal_status(srv->journal) : "closed", backends);
}

void
server_close_all(struct server *srv)
{
	while (!TAILQ_EMPTY(&srv->conns))
		conn_free(TAILQ_FIRST(&srv->conns));
}
