/*
 * backend_conn — one connection of a back end's pool: non-blocking connect
 * (Unix socket, or TCP with mutual TLS through an OpenSSL bufferevent), the
 * hello exchange, reading frames off the socket, matching answers to
 * requests by id, and reconnecting with backoff when it drops.
 *
 * Anything wrong in what the back end sends closes this connection only,
 * logged once with the reason; the calls that were on it go back to
 * src/warrantd/backend.c to be retried or failed. Reading is bounded: the input
 * buffer's high watermark is one frame, so a back end that sends faster
 * than we write results is slowed by TCP, not buffered here.
 */
#include "config.h"

#include <errno.h>
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
#include <openssl/err.h>

#include "backend_impl.h"
#include "log.h"

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);

/* Request kinds of the hello, in wd_reqtype order (backend.proto numbers). */
static const int kind_of_type[WD_REQ__COUNT] = {
	[WD_REQ_SUBSCRIBER] = WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_SUBSCRIBER,
	[WD_REQ_LOCATION_RT] =
	    WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_LOCATION_REALTIME,
	[WD_REQ_LOCATION_HIST] =
	    WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_LOCATION_HISTORY,
	[WD_REQ_RECORDS] = WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_RECORDS,
	[WD_REQ_PRESERVATION] =
	    WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_PRESERVATION,
	[WD_REQ_INTERCEPTION] = -1,
};

static void
conn_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_conn	*c = arg;
	char			 why[64];

	(void)fd;
	(void)what;
	if (c->state == BCONN_IDLE)
		backend_conn_start(c);
	else if (c->state == BCONN_OPENING) {
		snprintf(why, sizeof(why), "no hello within %u ms",
		    c->be->deadline_ms);
		backend_conn_close(c, why);
	}
}

int
backend_conn_init(struct backend *be, unsigned index)
{
	struct backend_conn	*c = &be->conns[index];

	memset(c, 0, sizeof(*c));
	c->be = be;
	c->index = index;
	TAILQ_INIT(&c->inflight);
	if ((c->timer = evtimer_new(be->set->base, conn_timercb, c)) == NULL)
		return -1;
	return 0;
}

void
backend_conn_free(struct backend_conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->timer != NULL)
		event_free(c->timer);
	c->timer = NULL;
}

unsigned
backend_conn_load(const struct backend_conn *c)
{
	return c->ninflight + c->ntombs;
}

static void
conn_arm(struct backend_conn *c, unsigned ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/*
 * Reconnect delay: exponential from 100 ms to 30 s with "equal jitter"
 * (half fixed, half random) rather than the calls' full jitter: a dead back
 * end must not be redialled at once just because the dice said 0.
 */
static unsigned
conn_backoff_ms(unsigned failures)
{
	uint64_t	d = BACKEND_RETRY_BASE_MS;

	while (failures-- > 0 && d < BACKEND_RECONNECT_CAP_MS)
		d *= 2;
	if (d > BACKEND_RECONNECT_CAP_MS)
		d = BACKEND_RECONNECT_CAP_MS;
	return (unsigned)(d / 2 + arc4random_uniform((uint32_t)(d / 2) + 1));
}

/* Our hello goes out at once: it waits in the buffer for the connection. */
static int
conn_hello(struct backend_conn *c)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Hello		hello = WARRANT__BACKEND__HELLO__INIT;

	hello.version_major = BACKEND_PROTO_MAJOR;
	hello.version_minor = BACKEND_PROTO_MINOR;
	hello.name = (char *)"warrantd " PACKAGE_VERSION;
	env.request_id = 0;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	return backend_conn_send(c, &env);
}

static int
conn_socket(struct backend_conn *c, const char **why)
{
	struct backend	*be = c->be;
	int		 fd, one = 1;

	fd = socket(be->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (be->addr.ss_family != AF_UNIX)
		/* Small pipelined requests: no Nagle delay. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&be->addr, be->addrlen) == -1 &&
	    errno != EINPROGRESS) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

void
backend_conn_start(struct backend_conn *c)
{
	struct backend	*be = c->be;
	const char	*why = "out of memory";
	SSL		*ssl;
	int		 fd;

	if (c->state != BCONN_IDLE || be->set->freeing)
		return;
	evtimer_del(c->timer);
	if ((fd = conn_socket(c, &why)) == -1)
		goto fail;
	if (be->ssl != NULL) {
		if ((ssl = SSL_new(be->ssl)) == NULL) {
			close(fd);
			goto fail;
		}
		c->bev = bufferevent_openssl_socket_new(be->set->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(be->set->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev != NULL && bufferevent_socket_connect(c->bev, NULL,
		    0) == -1) {
			bufferevent_free(c->bev);
			c->bev = NULL;
			fd = -1;
		}
	}
	if (c->bev == NULL) {
		if (fd != -1)
			close(fd);
		goto fail;
	}
	bufferevent_setcb(c->bev, conn_readcb, NULL, conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    BACKEND_FRAME_HDR + BACKEND_FRAME_MAX);
	bufferevent_enable(c->bev, EV_READ);
	c->state = BCONN_OPENING;
	c->next_id = 1;
	c->ntombs = 0;
	conn_arm(c, be->deadline_ms);
	if (conn_hello(c) == -1)
		backend_conn_close(c, "cannot send the hello");
	return;
 fail:
	/* As if the connection had been refused: same path, same backoff. */
	c->state = BCONN_OPENING;
	backend_conn_close(c, why);
}

void
backend_conn_close(struct backend_conn *c, const char *why)
{
	struct backend		*be = c->be;
	struct backend_calls	 lost;
	struct backend_call	*call;
	bool			 was_ready = c->state == BCONN_READY;
	unsigned		 i, up = 0;

	if (c->state == BCONN_IDLE)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->state = BCONN_IDLE;
	c->ntombs = 0;
	evtimer_del(c->timer);
	for (i = 0; i < be->nconns; i++)
		up += be->conns[i].state == BCONN_READY;
	/* Said once per outage, not once per connection or per retry. */
	if (was_ready || !be->down_logged) {
		log_warnx("backend %s: connection %u %s: %s", be->name, c->index,
		    was_ready ? "lost" : "failed", why);
		be->down_logged = up == 0;
	} else
		log_debug("backend %s: connection %u failed: %s", be->name,
		    c->index, why);
	c->failures = was_ready ? 0 : c->failures + 1;
	if (!be->set->freeing)
		conn_arm(c, conn_backoff_ms(c->failures));

	TAILQ_INIT(&lost);
	TAILQ_CONCAT(&lost, &c->inflight, entry);
	c->ninflight = 0;
	while ((call = TAILQ_FIRST(&lost)) != NULL) {
		TAILQ_REMOVE(&lost, call, entry);
		call->conn = NULL;
		backend_call_lost(call, why);
	}
	if (!was_ready)
		backend_opening_failed(be, why);
}

int
backend_conn_send(struct backend_conn *c, const Warrant__Backend__Envelope *env)
{
	uint8_t	*buf;
	size_t	 len;
	int	 rc;

	if (c->bev == NULL || (buf = backend_frame_encode(env, &len)) == NULL)
		return -1;
	rc = bufferevent_write(c->bev, buf, len);
	free(buf);
	return rc;
}

/*
 * Tell the back end to stop (a deadline passed): its answers for that id
 * may still come and are dropped, so the id is remembered until its final
 * message. Too many such ids means a back end that ignores Cancel: start
 * that connection afresh rather than remember without bound.
 */
void
backend_conn_cancel(struct backend_conn *c, uint64_t id)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Cancel	cancel = WARRANT__BACKEND__CANCEL__INIT;

	if (c->state != BCONN_READY)
		return;
	if (c->ntombs == BACKEND_TOMBS_MAX) {
		backend_conn_close(c, "too many requests cancelled and not "
		    "answered");
		return;
	}
	env.request_id = id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_CANCEL;
	env.cancel = &cancel;
	c->tombs[c->ntombs++] = id;
	if (backend_conn_send(c, &env) == -1)
		backend_conn_close(c, "cannot send a cancel");
}

/* --- the back end's hello --------------------------------------------------- */

static void
conn_caps(struct backend_conn *c, const Warrant__Backend__Hello *h)
{
	struct backend	*be = c->be;
	size_t		 i;
	int		 t;

	memset(c->kinds, 0, sizeof(c->kinds));
	memset(c->idtypes, 0, sizeof(c->idtypes));
	for (i = 0; i < h->n_capabilities; i++)
		for (t = 0; t < WD_REQ__COUNT; t++)
			if ((int)h->capabilities[i] == kind_of_type[t])
				c->kinds[t] = true;
	/* Identifier numbers are ours plus one. */
	for (i = 0; i < h->n_identifiers; i++)
		if ((int)h->identifiers[i] >= 1 &&
		    (int)h->identifiers[i] <= (int)WD_ID__COUNT)
			c->idtypes[h->identifiers[i] - 1] = true;
	for (t = 0; t < WD_REQ__COUNT; t++)
		if (be->serves[t] && !c->kinds[t] && !be->caps_logged) {
			log_warnx("backend %s: configured to serve %s, which it "
			    "does not announce; those calls will fail", be->name,
			    wd_reqtype_confname((enum wd_reqtype)t));
			be->caps_logged = true;
		}
	c->max_inflight = h->max_in_flight == 0 ? 1 : h->max_in_flight;
	if (c->max_inflight > BACKEND_INFLIGHT_MAX)
		c->max_inflight = BACKEND_INFLIGHT_MAX;
	c->max_chunk = h->max_records_per_chunk;
	if (c->max_chunk == 0 ||
	    c->max_chunk > WARRANT__BACKEND__LIMIT__LIMIT_MAX_RECORDS_PER_CHUNK)
		c->max_chunk = WARRANT__BACKEND__LIMIT__LIMIT_MAX_RECORDS_PER_CHUNK;
}

/* Copy a back end's text for a log line: printable ASCII, bounded. */
static void
conn_printable(const char *in, char *out, size_t len)
{
	size_t	i;

	for (i = 0; in != NULL && in[i] != '\0' && i + 1 < len; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

static int
conn_hello_frame(struct backend_conn *c, Warrant__Backend__Envelope *env)
{
	struct backend	*be = c->be;
	char		 name[64], msg[96], why[160];
	unsigned	 i, up = 0;

	if (env->body_case == WARRANT__BACKEND__ENVELOPE__BODY_ERROR &&
	    env->request_id == 0) {
		conn_printable(env->error->message, msg, sizeof(msg));
		snprintf(why, sizeof(why), "refused our hello: %s: %s",
		    backend_frame_error_name(env->error->code), msg);
		backend_conn_close(c, why);
		return -1;
	}
	if (env->body_case != WARRANT__BACKEND__ENVELOPE__BODY_HELLO) {
		backend_conn_close(c, "protocol error: a frame before the hello");
		return -1;
	}
	if (env->hello->version_major != BACKEND_PROTO_MAJOR) {
		snprintf(why, sizeof(why), "speaks protocol %u.%u, we speak %d.%d",
		    env->hello->version_major, env->hello->version_minor,
		    BACKEND_PROTO_MAJOR, BACKEND_PROTO_MINOR);
		backend_conn_close(c, why);
		return -1;
	}
	conn_caps(c, env->hello);
	c->state = BCONN_READY;
	c->failures = 0;
	evtimer_del(c->timer);
	for (i = 0; i < be->nconns; i++)
		up += be->conns[i].state == BCONN_READY;
	conn_printable(env->hello->name, name, sizeof(name));
	if (be->down_logged || up == 1)
		log_info("backend %s: up (\"%s\", protocol %u.%u)", be->name,
		    name, env->hello->version_major, env->hello->version_minor);
	be->down_logged = false;
	backend_dispatch(be);
	return 0;
}

/* --- reading ------------------------------------------------------------------ */

static int
conn_violation(struct backend_conn *c, const char *what)
{
	char	why[192];

	snprintf(why, sizeof(why), "protocol error: %.160s", what);
	backend_conn_close(c, why);
	return -1;
}

static struct backend_call *
conn_find(struct backend_conn *c, uint64_t id)
{
	struct backend_call	*call;

	TAILQ_FOREACH(call, &c->inflight, entry)
		if (call->request_id == id)
			return call;
	return NULL;
}

/* An answer for a cancelled id: dropped; its final message ends it. */
static bool
conn_tomb(struct backend_conn *c, const Warrant__Backend__Envelope *env)
{
	unsigned	i;

	for (i = 0; i < c->ntombs; i++) {
		if (c->tombs[i] != env->request_id)
			continue;
		if (env->body_case != WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK)
			c->tombs[i] = c->tombs[--c->ntombs];
		return true;
	}
	return false;
}

/* One frame; returns -1 if the connection was closed. Owns env. */
static int
conn_frame(struct backend_conn *c, Warrant__Backend__Envelope *env)
{
	struct backend_call	*call;
	const char		*why = NULL;
	char			 msg[96], text[160];
	int			 rc;

	if (c->state == BCONN_OPENING) {
		rc = conn_hello_frame(c, env);
		backend_frame_free(env);
		return rc;
	}
	if (env->request_id == 0) {
		if (env->body_case == WARRANT__BACKEND__ENVELOPE__BODY_ERROR) {
			conn_printable(env->error->message, msg, sizeof(msg));
			snprintf(text, sizeof(text), "closed by the back end: "
			    "%s: %s", backend_frame_error_name(env->error->code),
			    msg);
			backend_frame_free(env);
			backend_conn_close(c, text);
			return -1;
		}
		backend_frame_free(env);
		return conn_violation(c, "a second hello");
	}
	if ((call = conn_find(c, env->request_id)) == NULL) {
		if (conn_tomb(c, env)) {
			backend_frame_free(env);
			backend_dispatch(c->be);	/* a slot may be free */
			return c->state == BCONN_READY ? 0 : -1;
		}
		backend_frame_free(env);
		return conn_violation(c, "an answer for an unknown request id");
	}
	if (backend_call_frame(call, env, &why) == -1)
		return conn_violation(c, why);
	backend_dispatch(c->be);
	return c->state == BCONN_READY ? 0 : -1;
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct backend_conn		*c = arg;
	struct evbuffer			*in = bufferevent_get_input(bev);
	Warrant__Backend__Envelope	*env;
	enum backend_frame_status	 st;
	char				 why[160];
	uint8_t				 hdr[BACKEND_FRAME_HDR];
	const uint8_t			*p;
	size_t				 avail, n, used, flen;

	while ((avail = evbuffer_get_length(in)) > 0) {
		/* The length alone first: a huge prefix fails now. */
		n = avail < sizeof(hdr) ? avail : sizeof(hdr);
		evbuffer_copyout(in, hdr, n);
		if (backend_frame_decode(hdr, n, &env, &used, why,
		    sizeof(why)) ==
		    BACKEND_FRAME_ERROR) {
			conn_violation(c, why);
			return;
		}
		if (avail < sizeof(hdr))
			return;
		flen = sizeof(hdr) + ((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		    (size_t)hdr[2] << 8 | hdr[3]);
		if (avail < flen)
			return;
		if ((p = evbuffer_pullup(in, (ev_ssize_t)flen)) == NULL) {
			backend_conn_close(c, "out of memory");
			return;
		}
		st = backend_frame_decode(p, flen, &env, &used, why, sizeof(why));
		evbuffer_drain(in, flen);
		if (st != BACKEND_FRAME_OK) {
			conn_violation(c, why[0] ? why : "truncated frame");
			return;
		}
		if (conn_frame(c, env) == -1)
			return;
	}
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct backend_conn	*c = arg;
	unsigned long		 e;
	char			 why[160];
	int			 err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED)
		return;		/* the hello answers, or the timer fires */
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by the back end");
	else if (c->be->ssl != NULL &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		snprintf(why, sizeof(why), "TLS: ");
		ERR_error_string_n(e, why + 5, sizeof(why) - 5);
	} else
		snprintf(why, sizeof(why), "%s", err ? strerror(err) :
		    "connection error");
	backend_conn_close(c, why);
}
