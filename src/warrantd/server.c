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
 *
 * Admission: a connection that has not finished its TLS handshake is a
 * stranger, held under budgets of its own (unauthenticated, per source
 * address, handshake-timeout) so that strangers can never take the slots
 * of authenticated clients, whose budget is `connections`, at most
 * connections-per-official of them per certificate, and body-budget bytes
 * of bodies being received over all of them. The listener is never paused
 * for a budget: every connection is accepted at once and, when the budget
 * of strangers is full, a stranger is shed (see server_make_room).
 *
 * This file owns the listener, the generations, timers and rate-limited
 * logs, and accepting; a connection's life is in server_conn.c, the HTTP
 * exchange in server_http.c, reload and shutdown in server_reload.c (what
 * they share in server_int.h).
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

#define conn_of(m)	((struct conn *)(void *)((char *)(m) - \
			    offsetof(struct conn, group)))
#define EDGE_LOG_PER_S	10	/* lines about strangers, and about 503s */
#define FD_RESERVE	256	/* descriptors beside the connections */
#define ACCEPT_BATCH	64	/* accepts before the loop's other work */

/* --- generations ------------------------------------------------------- */

/* What is allowed but weakens the gateway: said at start, -t and reload. */
static void
server_gen_warn(const struct wd_conf *conf)
{
	if (conf->tls.crl_none)
		log_warnx("%s: crl none: revocation is not checked, a "
		    "revoked certificate is accepted", conf->path);
	else if (conf->tls.crl == NULL)
		log_warnx("%s: no crl: revocation is not checked; a "
		    "reload that drops a crl is refused, so write crl none if "
		    "this is meant", conf->path);
}

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
	gen->crl_next_update = tls_crl_next_update(gen->ssl);
	gen->crl_warned = time(NULL);	/* tls_load_crls has just warned */
	server_gen_warn(gen->conf);
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

/* --- timers and logs ------------------------------------------------------ */

uint64_t
server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
server_conn_arm(struct conn *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* Lines held back by a rate limit are counted, then said in one line. */
void
server_log_held(struct edge_rate *r, const char *what)
{
	uint64_t held = edge_rate_take(r);

	if (held > 0)
		log_warnx("%llu more lines about %s not logged (at most %d a "
		    "second)", (unsigned long long)held, what, EDGE_LOG_PER_S);
}

static void server_vlog(struct edge_rate *, const char *, const struct conn *,
    const char *, va_list) __attribute__((format(printf, 4, 0)));

static void
server_vlog(struct edge_rate *r, const char *what, const struct conn *c,
    const char *fmt, va_list ap)
{
	char msg[512];

	if (!edge_rate_allow(r, time(NULL), EDGE_LOG_PER_S))
		return;
	server_log_held(r, what);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_info("conn %llu from %s: %s", (unsigned long long)c->id, c->peer, msg);
}

/*
 * Anyone can make strangers by the thousand: what they cause is counted in
 * the stats, and logged at most EDGE_LOG_PER_S lines a second.
 */

void
server_conn_log_stranger(const struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	server_vlog(&c->srv->log_strangers, "unauthenticated peers", c, fmt, ap);
	va_end(ap);
}

void
server_conn_log_busy(const struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	server_vlog(&c->srv->log_busy, "connections refused as busy", c, fmt, ap);
	va_end(ap);
}

/* A request begun and not received in time is answered 408, then closed. */
static void
conn_request_timeout(struct conn *c)
{
	struct server *srv = c->srv;

	srv->stats.timeouts_408++;
	log_info("conn %llu from %s: request deadline passed, answered 408",
	    (unsigned long long)c->id, c->peer);
	if (c->body_held) {
		srv->body_inflight -= c->body_held;
		c->body_held = 0;
	}
	c->short_linger = true;
	server_conn_error_response(c, 408, WD_ERR_BAD_HTTP,
	    "the request was not received within the request deadline");
}

static void
conn_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_LINGER:
		break;
	case CONN_HANDSHAKE:
		c->srv->stats.handshake_timeouts++;
		server_conn_log_stranger(c, "TLS handshake not done within "
		    "handshake-timeout, dropped");
		break;
	case CONN_BUSY:
		/* intake owns the request; it will free us when it returns. */
		log_info("conn %llu from %s: deadline passed while busy",
		    (unsigned long long)c->id, c->peer);
		c->dead = true;
		return;
	case CONN_HEAD:
	case CONN_BODY:
		if (c->state == CONN_BODY || c->saw_bytes) {
			conn_request_timeout(c);
			return;
		}
		/* FALLTHROUGH */
	default:
		log_info("conn %llu from %s: deadline passed in state %d, dropped",
		    (unsigned long long)c->id, c->peer, c->state);
		break;
	}
	server_conn_free(c);
}

/* --- accept -------------------------------------------------------------- */

/* A stranger shed to make room: counted, logged within the rate limit. */
static void
conn_shed(struct conn *c, uint64_t *counter, const char *why)
{
	(*counter)++;
	server_conn_log_stranger(c, "not authenticated after %llu ms, shed: %s",
	    (unsigned long long)(server_now_ms() - c->born_ms), why);
	server_conn_free(c);
}

/*
 * Admission of a new connection from key's address. A stranger costs the
 * attacker nothing but a socket, so refusing newcomers at a cap would let
 * whoever holds the slots keep everyone else out. Instead the newcomer is
 * always taken and, at a cap, the oldest stranger of its own address is
 * shed or, at the global cap, the oldest stranger of the address holding
 * the most. A real client's handshake takes milliseconds: to shed it an
 * attacker must open unauthenticated-per-source connections from the
 * client's own address within that time, or hold the global budget from
 * more addresses than it has slots, each holding as few as the client.
 */
static void
server_make_room(struct server *srv, const struct edge_key *key)
{
	const struct wd_conf	*conf = srv->gen->conf;
	struct edge_member	*m;

	while (edge_count(srv->sources, key) >= conf->limits.unauth_per_source &&
	    (m = edge_oldest(srv->sources, key)) != NULL)
		conn_shed(conn_of(m), &srv->stats.shed_source,
		    "its address holds unauthenticated-per-source connections");
	while (edge_members(srv->sources) >= conf->limits.unauth_max &&
	    (m = edge_greediest(srv->sources)) != NULL)
		conn_shed(conn_of(m), &srv->stats.shed_unauth,
		    "unauthenticated connections at their limit");
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

/*
 * A stranger's first byte: only now does it get TLS state (an SSL and its
 * bufferevent, some 10 KiB and a few system calls), so that strangers that
 * never speak, the cheapest attack there is, cost a socket and this struct.
 */
static void
conn_firstbytecb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct server	*srv = c->srv;

	(void)what;
	event_free(c->wait);
	c->wait = NULL;
	if ((c->ssl = SSL_new(c->gen->ssl)) == NULL) {
		log_warnx("conn %llu from %s: out of memory, dropped",
		    (unsigned long long)c->id, c->peer);
		server_conn_free(c);
		return;
	}
	tls_track_refusal(c->ssl, &c->refusal);
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, c->ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		/* libevent has freed the SSL (BEV_OPT_CLOSE_ON_FREE), not fd. */
		c->ssl = NULL;
		log_warnx("conn %llu from %s: cannot create TLS bufferevent",
		    (unsigned long long)c->id, c->peer);
		server_conn_free(c);
		return;
	}
	/* Tear TLS down without waiting for the peer's close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, server_conn_readcb, server_conn_writecb,
	    server_conn_eventcb, c);
	bufferevent_priority_set(c->bev, PRI_STRANGER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static struct conn *
conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->timer = evtimer_new(srv->base, conn_timeoutcb, c)) == NULL ||
	    (c->wait = event_new(srv->base, fd, EV_READ, conn_firstbytecb,
	    c)) == NULL) {
		log_warnx("conn: out of memory, dropping connection");
		if (c && c->timer)
			event_free(c->timer);
		free(c);
		evutil_closesocket(fd);
		return NULL;
	}
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_conn_id;
	c->gen = srv->gen;
	c->gen->refs++;
	c->state = CONN_HANDSHAKE;
	c->born_ms = server_now_ms();
	conn_peer_name(sa, c->peer, sizeof(c->peer));
	event_priority_set(c->wait, PRI_STRANGER);
	event_add(c->wait, NULL);
	return c;
}

static void
server_accept(struct server *srv, evutil_socket_t fd, struct sockaddr *sa,
    bool desk)
{
	struct conn	*c;
	struct edge_key	 key;
	int		 one = 1;

	/*
	 * Answers are small and go out as a few TLS records: without
	 * TCP_NODELAY, Nagle holds the last one until the client's delayed
	 * ACK, adding ~40 ms to every request on a kept-alive connection.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	edge_key_addr(&key, sa);
	server_make_room(srv, &key);
	if ((c = conn_new(srv, fd, sa)) == NULL)
		return;
	c->desk = desk;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	if (edge_join(srv->sources, &key, &c->group) == -1) {
		log_warnx("conn %llu from %s: out of memory, dropped",
		    (unsigned long long)c->id, c->peer);
		server_conn_free(c);
		return;
	}
	server_conn_arm(c, srv->gen->conf->limits.handshake_timeout_ms);
	/*
	 * libevent accepts until the backlog is empty: under a flood that
	 * starves the handshakes in progress, and the connections shed on
	 * the way are only closed (their descriptors freed) once the callback
	 * returns. So, every ACCEPT_BATCH, let the loop turn first.
	 */
	if (++srv->accepts_batch >= ACCEPT_BATCH && !srv->listener_paused) {
		evconnlistener_disable(srv->listener);
		srv->listener_paused = true;
		event_active(srv->ev_accept, EV_TIMEOUT, 0);
	}
}

static void
server_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)salen;
	server_accept(arg, fd, sa, false);
}

/*
 * The desk's listener: the same TLS, edge budgets and HTTP parser, but its
 * connections reach only the desk (conn_route), whoever they are.
 */
static void
server_desk_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)salen;
	server_accept(arg, fd, sa, true);
}

static void
server_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->accepts_batch = 0;
	if (srv->listener_paused && !srv->stopping) {
		evconnlistener_enable(srv->listener);
		srv->listener_paused = false;
	}
}

/*
 * Out of descriptors (EMFILE, ENFILE), the pending connection stays in the
 * backlog and the listener would be woken for it again at once: shed the
 * stranger accept would shed anyway, or, with none, pause for 100 ms.
 */
static void
server_accept_errorcb(struct evconnlistener *l, void *arg)
{
	struct server		*srv = arg;
	int			 err = EVUTIL_SOCKET_ERROR();
	struct edge_member	*m;
	struct timeval		 tv = { 0, 100000 };

	(void)l;
	if (edge_rate_allow(&srv->log_busy, time(NULL), EDGE_LOG_PER_S))
		log_warnx("accept: %s", evutil_socket_error_to_string(err));
	if (err != EMFILE && err != ENFILE)
		return;
	if ((m = edge_greediest(srv->sources)) != NULL) {
		conn_shed(conn_of(m), &srv->stats.shed_unauth,
		    "out of file descriptors");
		return;
	}
	if (!srv->listener_paused && srv->ev_accept != NULL) {
		evconnlistener_disable(srv->listener);
		srv->listener_paused = true;
		evtimer_add(srv->ev_accept, &tv);
	}
}

/*
 * Every connection costs a descriptor: make room for both budgets, or say
 * how far short the limit falls (past it, strangers are shed to make room).
 */
void
server_fd_limit(const struct wd_conf *conf)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)conf->limits.max_connections +
			    conf->limits.unauth_max + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < want)
		log_warnx("descriptor limit %llu is below connections + "
		    "unauthenticated + %d = %llu: raise LimitNOFILE",
		    (unsigned long long)rl.rlim_cur, FD_RESERVE,
		    (unsigned long long)want);
}

static uint64_t
server_seed(void)
{
	uint64_t seed = 0;

	if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
		fatalx("RAND_bytes failed");
	return seed;
}

/* desk listen on: the compliance desk's own address, if configured. */
static int
server_listen_desk(struct server *srv)
{
	const struct wd_conf	*conf = srv->gen->conf;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss);
	char			 addr[128];

	if (conf->desk_addr == NULL || srv->desk == NULL)
		return 0;
	snprintf(addr, sizeof(addr), strchr(conf->desk_addr, ':') ?
	    "[%s]:%u" : "%s:%u", strcmp(conf->desk_addr, "localhost") == 0 ?
	    "127.0.0.1" : conf->desk_addr, conf->desk_port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_warnx("cannot parse desk listen address %s", addr);
		return -1;
	}
	srv->desk_listener = evconnlistener_new_bind(srv->base,
	    server_desk_acceptcb, srv, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&ss, sslen);
	if (srv->desk_listener == NULL) {
		log_warn("cannot listen for the desk on %s", addr);
		return -1;
	}
	log_info("desk listening on %s", addr);
	return 0;
}

int
server_listen(struct server *srv)
{
	const struct wd_conf	*conf = srv->gen->conf;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss);
	char			 addr[128];

	TAILQ_INIT(&srv->idle);
	if (event_base_priority_init(srv->base, PRI_LEVELS) == -1)
		log_warnx("cannot set event priorities: strangers are not "
		    "served last");
	if ((srv->sources = edge_table_new(server_seed())) == NULL ||
	    (srv->identities = edge_table_new(server_seed())) == NULL ||
	    (srv->ev_accept = evtimer_new(srv->base, server_accept_resume,
	    srv)) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	server_fd_limit(conf);
	snprintf(addr, sizeof(addr), strchr(conf->listen_addr, ':') ?
	    "[%s]:%u" : "%s:%u", strcmp(conf->listen_addr, "localhost") == 0 ?
	    "127.0.0.1" : conf->listen_addr, conf->listen_port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_warnx("cannot parse listen address %s", addr);
		return -1;
	}
	/*
	 * A deep backlog (the kernel caps it at net.core.somaxconn) holds a
	 * burst that arrives while the loop is busy with handshakes; it is
	 * emptied at every turn of the loop, whatever the budgets.
	 */
	srv->listener = evconnlistener_new_bind(srv->base, server_acceptcb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    4096, (struct sockaddr *)&ss, sslen);
	if (srv->listener == NULL) {
		log_warn("cannot listen on %s", addr);
		return -1;
	}
	evconnlistener_set_error_cb(srv->listener, server_accept_errorcb);
	log_info("listening on %s", addr);
	return server_listen_desk(srv);
}
