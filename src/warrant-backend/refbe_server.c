/*
 * refbe_srv — warrant-backend's network side: the listener (Unix socket, or TCP
 * with mutual TLS), connections, frames, the hello, dispatch to the worker
 * pool and the answers' way back.
 *
 * Everything here runs on the event loop and never blocks: SQLite lives in
 * the pool (backend_pool.c). Workers hand frames back through one mailbox
 * (a mutex-protected list and an event activated from their thread); the
 * loop alone touches bufferevents and alone frees connections and jobs. A
 * connection that is closed while jobs run stays allocated (dead) until the
 * last job's done arrives, so workers never see freed memory.
 *
 * Bytes from the network are untrusted: a bad length, bytes that are not an
 * Envelope, an undefined enum, an answer sent to us, a reused request id:
 * the connection gets one Error (request_id 0) and is closed; others go on.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <systemd/sd-daemon.h>

#include "refbe_server.h"
#include "log.h"
#include "wd_wake.h"

#define ERR_CODE(x)	WARRANT__BACKEND__ERROR_CODE__ERROR_ ## x
#define BODY(x)		WARRANT__BACKEND__ENVELOPE__BODY_ ## x
/* Answer bodies: a client never sends them (fields 11 13 15 16 18 20). */
#define ANSWER_FIELDS	(1u << 11 | 1u << 13 | 1u << 15 | 1u << 16 | 1u << 18 | 1u << 20)
#define CLOSE_GRACE	5	/* seconds to flush the Error before closing */

struct refbe_srv_out {
	TAILQ_ENTRY(refbe_srv_out)	 entry;
	struct refbe_srv_conn	*conn;
	struct refbe_srv_job		*done;		/* the job ends with this item */
	uint8_t			*frame;
	size_t			 len;
};
TAILQ_HEAD(refbe_srv_outq, refbe_srv_out);

struct refbe_srv_conn {
	TAILQ_ENTRY(refbe_srv_conn)	 entry;
	struct refbe_srv		*srv;
	struct bufferevent	*bev;		/* NULL once dead */
	struct event		*ev_timer;	/* hello deadline, then close grace */
	char			 peer[96];
	int			 hello;
	int			 closing;	/* flushing an Error, then close */
	int			 paused;	/* reading stopped: output too full */
	int			 dead;
	struct refbe_srv_job		*jobs[REFBE_SRV_MAX_IN_FLIGHT];
	unsigned		 njobs;
	/* Shared with workers, under mtx: */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	size_t			 in_mail;	/* bytes posted, not yet in output */
	size_t			 outlen;	/* output length last seen by the loop */
};

struct refbe_srv {
	const struct refbe_srv_opts	*opts;
	struct event_base	*base;
	struct evconnlistener	*listener;
	SSL_CTX			*ssl;
	char			*unix_path;
	struct refbe_srv_pool	*pool;
	pthread_mutex_t		 mail_mtx;
	struct refbe_srv_outq	 mail;
	struct event		*ev_term, *ev_int, *ev_watchdog;
	TAILQ_HEAD(, refbe_srv_conn)	 conns;
	unsigned		 nconns;	/* live (not dead) */
	atomic_uint		 in_flight;
	uint64_t		 serial, served, refused;
	struct wd_wake		*mail_wake;	/* workers wake the loop */
};

static void	conn_close(struct refbe_srv_conn *);
static void	conn_process(struct refbe_srv_conn *);

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- worker side ----------------------------------------------------------- */

static void
mail_push(struct refbe_srv *srv, struct refbe_srv_conn *c, struct refbe_srv_job *done,
    uint8_t *frame, size_t len)
{
	struct refbe_srv_out *o;

	/* Without memory the job must still end: retry, the loop frees some. */
	while ((o = calloc(1, sizeof(*o))) == NULL) {
		log_warn("mailbox");
		sleep(1);
	}
	o->conn = c;
	o->done = done;
	o->frame = frame;
	o->len = frame ? len : 0;
	pthread_mutex_lock(&srv->mail_mtx);
	TAILQ_INSERT_TAIL(&srv->mail, o, entry);
	pthread_mutex_unlock(&srv->mail_mtx);
	if (wd_wake_signal(srv->mail_wake) == -1)
		log_warn("mailbox: wake-up");
}

int
refbe_srv_post(struct refbe_srv_job *job, uint8_t *frame, size_t len)
{
	struct refbe_srv_conn *c = job->conn;

	pthread_mutex_lock(&c->mtx);
	if (c->in_mail + c->outlen > c->srv->opts->high_water)
		log_debug("%s: request %llu waits for the client to read", c->peer,
		    (unsigned long long)job->request_id);
	while (c->in_mail + c->outlen > c->srv->opts->high_water &&
	    !atomic_load(&job->cancelled))
		pthread_cond_wait(&c->cond, &c->mtx);
	if (atomic_load(&job->cancelled)) {
		pthread_mutex_unlock(&c->mtx);
		free(frame);
		return -1;
	}
	c->in_mail += len;
	pthread_mutex_unlock(&c->mtx);
	mail_push(c->srv, c, NULL, frame, len);
	return 0;
}

void
refbe_srv_done(struct refbe_srv_job *job, uint8_t *frame, size_t len)
{
	struct refbe_srv_conn *c = job->conn;

	if (frame) {
		pthread_mutex_lock(&c->mtx);
		c->in_mail += len;
		pthread_mutex_unlock(&c->mtx);
	}
	mail_push(c->srv, c, job, frame, len);
}

void
refbe_srv_health_counts(struct refbe_srv_job *job, uint32_t *in_flight)
{
	*in_flight = atomic_load(&job->conn->srv->in_flight);
}

/* --- loop side: jobs and flow ------------------------------------------------- */

static void
conn_free(struct refbe_srv_conn *c)
{
	TAILQ_REMOVE(&c->srv->conns, c, entry);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

static void
job_end(struct refbe_srv_conn *c, struct refbe_srv_job *job)
{
	for (unsigned i = 0; i < c->njobs; i++)
		if (c->jobs[i] == job) {
			c->jobs[i] = c->jobs[--c->njobs];
			break;
		}
	warrant__backend__envelope__free_unpacked(job->env, NULL);
	free(job);
	atomic_fetch_sub(&c->srv->in_flight, 1);
	c->srv->served++;
}

static void
conn_cancel_all(struct refbe_srv_conn *c)
{
	for (unsigned i = 0; i < c->njobs; i++)
		atomic_store(&c->jobs[i]->cancelled, 1);
	pthread_mutex_lock(&c->mtx);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mtx);
}

/*
 * Tell workers how full the output is, and stop reading requests from a
 * client that does not read its answers (resume below the low-water mark).
 */
static void
conn_flow(struct refbe_srv_conn *c)
{
	size_t out;

	if (c->dead)
		return;
	out = evbuffer_get_length(bufferevent_get_output(c->bev));
	pthread_mutex_lock(&c->mtx);
	c->outlen = out;
	if (c->in_mail + out <= c->srv->opts->high_water)
		pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mtx);
	if (c->closing)
		return;
	if (!c->paused && out > c->srv->opts->high_water) {
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	} else if (c->paused && out <= c->srv->opts->high_water / 2) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		conn_process(c);	/* frames may be waiting in the input */
	}
}

static void
mail_cb(void *arg)
{
	struct refbe_srv		*srv = arg;
	struct refbe_srv_outq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct refbe_srv_out		*o;
	struct refbe_srv_conn	*c;

	pthread_mutex_lock(&srv->mail_mtx);
	TAILQ_CONCAT(&q, &srv->mail, entry);
	pthread_mutex_unlock(&srv->mail_mtx);
	while ((o = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, o, entry);
		c = o->conn;
		pthread_mutex_lock(&c->mtx);
		c->in_mail -= o->len;
		pthread_mutex_unlock(&c->mtx);
		/* After a protocol error only the Error goes out. */
		if (o->frame && !c->dead && !c->closing &&
		    bufferevent_write(c->bev, o->frame, o->len) == -1)
			log_warnx("%s: cannot queue an answer", c->peer);
		free(o->frame);
		if (o->done)
			job_end(c, o->done);
		free(o);
		/* A dead connection's last job has ended: no item names it now. */
		if (c->dead && c->njobs == 0)
			conn_free(c);
		else
			conn_flow(c);
	}
}

/* --- loop side: answers from the loop itself ----------------------------------- */

static void
conn_write(struct refbe_srv_conn *c, uint8_t *frame, size_t len)
{
	if (frame && !c->dead && bufferevent_write(c->bev, frame, len) == -1)
		log_warnx("%s: cannot queue an answer", c->peer);
	free(frame);
}

static void
conn_error(struct refbe_srv_conn *c, uint64_t id, int code, const char *msg)
{
	size_t	 len = 0;
	uint8_t	*frame = refbe_wire_error(id, code, msg, &len);

	conn_write(c, frame, len);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct refbe_srv_conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->hello && !c->closing)
		log_warnx("%s: no hello within %d s; closing", c->peer, REFBE_SRV_HELLO_TIMEOUT);
	conn_close(c);
}

/* Protocol error: log once, send Error{0}, close once it is flushed. */
static void
conn_fail(struct refbe_srv_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conn_fail(struct refbe_srv_conn *c, const char *fmt, ...)
{
	struct timeval	tv = { CLOSE_GRACE, 0 };
	char		why[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx("%s: protocol error: %s; closing the connection", c->peer, why);
	c->srv->refused++;
	conn_error(c, 0, ERR_CODE(MALFORMED), why);
	c->closing = 1;
	conn_cancel_all(c);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	evtimer_add(c->ev_timer, &tv);
}

/* --- loop side: requests ------------------------------------------------------- */

static void
conn_hello(struct refbe_srv_conn *c, const Warrant__Backend__Hello *in)
{
	static Warrant__Backend__RequestKind kinds[] = {
		WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_SUBSCRIBER,
		WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_LOCATION_REALTIME,
		WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_LOCATION_HISTORY,
		WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_RECORDS,
		WARRANT__BACKEND__REQUEST_KIND__REQUEST_KIND_PRESERVATION,
	};
	static Warrant__Backend__IdentifierType ids[] = {
		WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_MSISDN,
		WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMSI,
		WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMEI,
		WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT,
	};
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Hello		h = WARRANT__BACKEND__HELLO__INIT;
	char				msg[128];
	uint8_t				*frame;
	size_t				len = 0;

	if (in->version_major != REFBE_SRV_VERSION_MAJOR) {
		snprintf(msg, sizeof(msg), "protocol major %u not supported (this is %d.%d)",
		    in->version_major, REFBE_SRV_VERSION_MAJOR, REFBE_SRV_VERSION_MINOR);
		log_warnx("%s: %s; closing", c->peer, msg);
		conn_error(c, 0, ERR_CODE(UNSUPPORTED), msg);
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return;
	}
	c->hello = 1;
	evtimer_del(c->ev_timer);
	log_info("%s: hello from \"%.64s\", protocol %u.%u", c->peer,
	    in->name ? in->name : "", in->version_major, in->version_minor);
	h.version_major = REFBE_SRV_VERSION_MAJOR;
	h.version_minor = REFBE_SRV_VERSION_MINOR;
	h.name = REFBE_SRV_NAME;
	h.n_capabilities = sizeof(kinds) / sizeof(kinds[0]);
	h.capabilities = kinds;
	h.n_identifiers = sizeof(ids) / sizeof(ids[0]);
	h.identifiers = ids;
	h.max_in_flight = REFBE_SRV_MAX_IN_FLIGHT;
	h.max_records_per_chunk = c->srv->opts->chunk_records;
	h.retention_days = c->srv->opts->retention_days;
	env.body_case = BODY(HELLO);
	env.hello = &h;
	frame = refbe_wire_encode(&env, &len);
	conn_write(c, frame, len);
}

static struct refbe_srv_job *
conn_job(struct refbe_srv_conn *c, uint64_t id)
{
	for (unsigned i = 0; i < c->njobs; i++)
		if (c->jobs[i]->request_id == id)
			return c->jobs[i];
	return NULL;
}

/* A request that passed every check: to the pool, unless we are full. */
static void
conn_submit(struct refbe_srv_conn *c, Warrant__Backend__Envelope *env)
{
	struct refbe_srv_job	*job;
	uint64_t	 id = env->request_id;

	if (c->njobs >= REFBE_SRV_MAX_IN_FLIGHT) {
		warrant__backend__envelope__free_unpacked(env, NULL);
		conn_error(c, id, ERR_CODE(TEMPORARILY_UNAVAILABLE),
		    "too many requests in flight on this connection");
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		log_warn("job");
		warrant__backend__envelope__free_unpacked(env, NULL);
		conn_error(c, id, ERR_CODE(TEMPORARILY_UNAVAILABLE), "out of memory");
		return;
	}
	job->conn = c;
	job->request_id = id;
	job->env = env;
	c->jobs[c->njobs++] = job;
	atomic_fetch_add(&c->srv->in_flight, 1);
	if (refbe_srv_pool_submit(c->srv->pool, job) == -1) {
		c->jobs[--c->njobs] = NULL;
		atomic_fetch_sub(&c->srv->in_flight, 1);
		warrant__backend__envelope__free_unpacked(env, NULL);
		free(job);
		conn_error(c, id, ERR_CODE(TEMPORARILY_UNAVAILABLE), "request queue full");
	}
}

static void
conn_request(struct refbe_srv_conn *c, Warrant__Backend__Envelope *env)
{
	struct refbe_srv_job	*job;
	char		 why[160];
	int		 code;

	if (env->request_id == 0) {
		conn_fail(c, "request with request_id 0");
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	if (env->body_case == BODY(CANCEL)) {
		if ((job = conn_job(c, env->request_id)) != NULL) {
			atomic_store(&job->cancelled, 1);
			pthread_mutex_lock(&c->mtx);
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->mtx);
		}
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	if (conn_job(c, env->request_id) != NULL) {
		conn_fail(c, "request_id %llu reused while unanswered",
		    (unsigned long long)env->request_id);
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	if ((code = refbe_wire_check_request(env, now_us(), why, sizeof(why))) != 0) {
		log_debug("%s: request %llu refused: %s", c->peer,
		    (unsigned long long)env->request_id, why);
		conn_error(c, env->request_id, code, why);
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	conn_submit(c, env);
}

static void
conn_frame(struct refbe_srv_conn *c, const uint8_t *buf, size_t len)
{
	Warrant__Backend__Envelope	*env;
	uint32_t			 fields;
	char				 why[160];

	if (refbe_wire_peek_fields(buf, len, &fields) == -1) {
		conn_fail(c, "frame of %zu bytes is not protobuf", len);
		return;
	}
	if (fields & ANSWER_FIELDS) {
		conn_fail(c, "an answer message was sent to the back end");
		return;
	}
	if ((env = refbe_wire_decode(buf, len, why, sizeof(why))) == NULL) {
		conn_fail(c, "%s", why);
		return;
	}
	if (!c->hello || env->body_case == BODY(HELLO)) {
		if (c->hello)
			conn_fail(c, "second hello");
		else if (env->body_case != BODY(HELLO) || env->request_id != 0)
			conn_fail(c, "the first frame must be a hello with request_id 0");
		else
			conn_hello(c, env->hello);
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	if (env->body_case == BODY(ERROR)) {
		/* The client's complaint about us: worth a line, then its close. */
		log_warnx("%s: client reports error %d: %.128s", c->peer,
		    env->error->code, env->error->message ? env->error->message : "");
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	if (env->body_case == WARRANT__BACKEND__ENVELOPE__BODY__NOT_SET &&
	    env->request_id != 0) {
		/* A message of a newer minor: well-formed, just not ours. */
		conn_error(c, env->request_id, ERR_CODE(UNSUPPORTED), "unknown request");
		warrant__backend__envelope__free_unpacked(env, NULL);
		return;
	}
	conn_request(c, env);
}

/* Take every complete frame from the input while we may. */
static void
conn_process(struct refbe_srv_conn *c)
{
	struct evbuffer	*in;
	uint8_t		 hdr[4], *buf;
	uint32_t	 len;

	while (!c->dead && !c->closing && !c->paused) {
		in = bufferevent_get_input(c->bev);
		if (evbuffer_get_length(in) < 4)
			return;
		evbuffer_copyout(in, hdr, 4);
		if (refbe_wire_frame_len(hdr, &len) == -1) {
			conn_fail(c, "frame length %u (must be 1..%zu)", len, REFBE_WIRE_MAX_FRAME);
			return;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			return;
		evbuffer_drain(in, 4);
		if ((buf = evbuffer_pullup(in, len)) == NULL) {
			log_warnx("%s: out of memory for a frame", c->peer);
			conn_close(c);
			return;
		}
		conn_frame(c, buf, len);
		if (!c->dead)
			evbuffer_drain(bufferevent_get_input(c->bev), len);
		if (!c->dead && !c->paused &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    c->srv->opts->high_water)
			conn_flow(c);
	}
}

/* --- loop side: connection events ------------------------------------------------ */

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct refbe_srv_conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn_close(c);
		return;
	}
	conn_flow(c);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct refbe_srv_conn	*c = arg;
	unsigned long		 e;
	char			 buf[256], subject[256];
	SSL			*ssl;

	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done: the client certificate was verified. */
		if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL &&
		    SSL_get0_peer_certificate(ssl) != NULL) {
			X509_NAME_oneline(X509_get_subject_name(
			    SSL_get0_peer_certificate(ssl)), subject, sizeof(subject));
			log_info("%s: TLS client %s", c->peer, subject);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if ((e = bufferevent_get_openssl_error(bev)) != 0) {
			ERR_error_string_n(e, buf, sizeof(buf));
			log_warnx("%s: TLS: %s", c->peer, buf);
		} else if (EVUTIL_SOCKET_ERROR() != 0)
			log_warnx("%s: %s", c->peer,
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	} else if (what & BEV_EVENT_EOF)
		log_debug("%s: closed by the client", c->peer);
	conn_close(c);
}

static void
conn_close(struct refbe_srv_conn *c)
{
	if (c->dead)
		return;
	if (c->njobs)
		log_debug("%s: closing with %u requests unanswered", c->peer, c->njobs);
	c->dead = 1;
	conn_cancel_all(c);
	bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->ev_timer);
	c->ev_timer = NULL;
	c->srv->nconns--;
	if (c->njobs == 0)
		conn_free(c);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct refbe_srv		*srv = arg;
	struct refbe_srv_conn	*c;
	struct timeval		 tv = { REFBE_SRV_HELLO_TIMEOUT, 0 };
	char			 host[INET6_ADDRSTRLEN], serv[8];
	SSL			*ssl = NULL;
	int			 one = 1;

	(void)l;
	if (srv->nconns >= REFBE_SRV_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("refusing a connection: %u open", srv->nconns);
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (sa->sa_family == AF_UNIX)
		snprintf(c->peer, sizeof(c->peer), "unix#%llu",
		    (unsigned long long)++srv->serial);
	else {
		if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv,
		    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			snprintf(host, sizeof(host), "?"), snprintf(serv, sizeof(serv), "?");
		snprintf(c->peer, sizeof(c->peer), "%s:%s#%llu", host, serv,
		    (unsigned long long)++srv->serial);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	if (srv->ssl) {
		if ((ssl = SSL_new(srv->ssl)) != NULL)
			c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
			    BUFFEREVENT_SSL_ACCEPTING,
			    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	} else
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL || (c->ev_timer = evtimer_new(srv->base, timer_cb, c)) == NULL) {
		log_warnx("%s: cannot set up the connection", c->peer);
		if (c->bev)
			bufferevent_free(c->bev);	/* closes fd, frees ssl */
		else	/* libevent freed ssl (CLOSE_ON_FREE), not fd */
			evutil_closesocket(fd);
		srv->nconns--;
		conn_free(c);
		return;
	}
	if (srv->ssl)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	/* The input never holds more than one frame and its header. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 + REFBE_WIRE_MAX_FRAME);
	bufferevent_setwatermark(c->bev, EV_WRITE, srv->opts->high_water / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->ev_timer, &tv);
	log_debug("%s: connected", c->peer);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: log, keep serving the connections we have. */
	log_warn("accept");
}

/* --- listening ------------------------------------------------------------------ */

/*
 * TLS 1.3 only (both ends are ours), client certificate required and
 * verified against the back end's own CA, no tickets, no renegotiation.
 */
static SSL_CTX *
tls_ctx(const struct refbe_srv_opts *o)
{
	SSL_CTX		*ctx;
	struct stat	 st;
	char		 buf[256];

	if (stat(o->tls_key, &st) == 0 && (st.st_mode & 077)) {
		log_warnx("%s: TLS key must not be readable by group or others "
		    "(mode %03o)", o->tls_key, st.st_mode & 0777);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1) {
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		log_warnx("TLS (%s, %s, %s): %s", o->tls_cert, o->tls_key, o->tls_ca, buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(o->tls_ca));
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	return ctx;
}

/* unix:/path — mode 0600: only the gateway's user may connect. */
static int
listen_unix(struct refbe_srv *srv, const char *path)
{
	struct sockaddr_un	sun;
	struct stat		st;
	mode_t			old;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("%s: socket path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A stale socket from a previous run; never remove anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("%s exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("bind %s", path);
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0600) == -1 || listen(fd, 128) == -1) {
		log_warn("listen %s", sun.sun_path);
		close(fd);
		unlink(sun.sun_path);
		return -1;
	}
	if ((srv->unix_path = strdup(path)) == NULL ||
	    (srv->listener = evconnlistener_new(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd)) == NULL) {
		log_warnx("cannot listen on %s", sun.sun_path);
		close(fd);
		unlink(sun.sun_path);
		return -1;
	}
	return 0;
}

/* HOST:PORT or [V6]:PORT, numeric only. */
static int
listen_tcp(struct refbe_srv *srv, const char *spec)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[256], *port;
	int		 rc;

	if (strlen(spec) >= sizeof(host)) {
		log_warnx("%s: address too long", spec);
		return -1;
	}
	strcpy(host, spec);
	if ((port = strrchr(host, ':')) == NULL || port[1] == '\0') {
		log_warnx("%s: expected unix:/path, HOST:PORT or [V6]:PORT", spec);
		return -1;
	}
	*port++ = '\0';
	memmove(host, host + (host[0] == '['), strlen(host) + 1);
	if (host[0] && host[strlen(host) - 1] == ']')
		host[strlen(host) - 1] = '\0';
	if (!srv->opts->tls_cert || !srv->opts->tls_key || !srv->opts->tls_ca) {
		log_warnx("TCP needs --tls-cert, --tls-key and --tls-ca (mutual TLS)");
		return -1;
	}
	if ((srv->ssl = tls_ctx(srv->opts)) == NULL)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	srv->listener = evconnlistener_new_bind(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (srv->listener == NULL) {
		log_warn("listen %s", spec);
		return -1;
	}
	return 0;
}

/* --- systemd and signals ---------------------------------------------------------- */

static void
notify_status(struct refbe_srv *srv)
{
	sd_notifyf(0, "STATUS=%u connections, %u requests in flight, %llu answered, "
	    "%llu protocol errors", srv->nconns, atomic_load(&srv->in_flight),
	    (unsigned long long)srv->served, (unsigned long long)srv->refused);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* From the loop: a stuck loop stops the pings and systemd notices. */
	sd_notify(0, "WATCHDOG=1");
	notify_status(arg);
}

/* Stop: close every connection (jobs are cancelled), join the workers,
 * let the mailbox free what they left, leave the loop. */
static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct refbe_srv		*srv = arg;
	struct refbe_srv_conn	*c, *next;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	evconnlistener_disable(srv->listener);
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_close(c);
	}
	refbe_srv_pool_free(srv->pool);
	srv->pool = NULL;
	mail_cb(srv);
	event_base_loopexit(srv->base, NULL);
}

struct refbe_srv *
refbe_srv_new(const struct refbe_srv_opts *opts)
{
	struct refbe_srv	*srv;
	uint64_t	 usec = 0;
	struct timeval	 tv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		log_warn("server");
		return NULL;
	}
	srv->opts = opts;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->mail);
	pthread_mutex_init(&srv->mail_mtx, NULL);
	if (evthread_use_pthreads() == -1 || (srv->base = event_base_new()) == NULL ||
	    (srv->mail_wake = wd_wake_new(srv->base, mail_cb, srv, 0)) == NULL ||
	    (srv->ev_term = evsignal_new(srv->base, SIGTERM, stop_cb, srv)) == NULL ||
	    (srv->ev_int = evsignal_new(srv->base, SIGINT, stop_cb, srv)) == NULL ||
	    (srv->ev_watchdog = event_new(srv->base, -1, EV_PERSIST, watchdog_cb,
	    srv)) == NULL) {
		log_warnx("cannot initialise libevent");
		goto fail;
	}
	if ((srv->pool = refbe_srv_pool_new(opts)) == NULL)
		goto fail;
	if (strncmp(opts->listen, "unix:", 5) == 0 ?
	    listen_unix(srv, opts->listen + 5) == -1 : listen_tcp(srv, opts->listen) == -1)
		goto fail;
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	if (sd_watchdog_enabled(0, &usec) <= 0)
		usec = 20000000;	/* STATUS every 10 s all the same */
	tv.tv_sec = (time_t)(usec / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	event_add(srv->ev_watchdog, &tv);
	evsignal_add(srv->ev_term, NULL);
	evsignal_add(srv->ev_int, NULL);
	return srv;
fail:
	refbe_srv_free(srv);
	return NULL;
}

int
refbe_srv_run(struct refbe_srv *srv)
{
	log_info("listening on %s (%s), %u workers, %u records per chunk",
	    srv->opts->listen, srv->ssl ? "mutual TLS" : "no TLS",
	    srv->opts->workers, srv->opts->chunk_records);
	sd_notify(0, "READY=1");
	notify_status(srv);
	return event_base_dispatch(srv->base) == -1 ? -1 : 0;
}

void
refbe_srv_free(struct refbe_srv *srv)
{
	struct refbe_srv_conn *c, *next;

	if (srv == NULL)
		return;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_close(c);
	}
	refbe_srv_pool_free(srv->pool);
	if (srv->mail_wake)
		mail_cb(srv);
	if (srv->listener)
		evconnlistener_free(srv->listener);
	if (srv->unix_path) {
		unlink(srv->unix_path);
		free(srv->unix_path);
	}
	SSL_CTX_free(srv->ssl);
	wd_wake_free(srv->mail_wake);
	if (srv->ev_term)
		event_free(srv->ev_term);
	if (srv->ev_int)
		event_free(srv->ev_int);
	if (srv->ev_watchdog)
		event_free(srv->ev_watchdog);
	if (srv->base)
		event_base_free(srv->base);
	pthread_mutex_destroy(&srv->mail_mtx);
	free(srv);
}
