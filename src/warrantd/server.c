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
#include "tls.h"
#include "x1_prov.h"

/* A streamed answer (conn_respond_stream) is refilled below LOW, to HIGH. */
#define CONN_BODY_LOW	(128 * 1024)
#define CONN_BODY_HIGH	(256 * 1024)

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_writecb(struct bufferevent *, void *);
static void	conn_body_end(struct conn *);
static void	conn_eventcb(struct bufferevent *, short, void *);
static void	conn_free(struct conn *);
static void	conn_error_response(struct conn *, int, enum wd_errcode,
		    const char *);

#define conn_of(m)	((struct conn *)(void *)((char *)(m) - \
			    offsetof(struct conn, group)))
#define EDGE_LOG_PER_S	10	/* lines about strangers, and about 503s */
#define LINGER_SHORT_MS	1000	/* after a 408 (the sender is slow already) or
				   a 503 at admission (none may pile up) */
#define SERVER_CRL_WARN_S	(7 * 86400)	/* warn this long before nextUpdate */
#define SERVER_CRL_REWARN_S	(6 * 3600)	/* ...every 6 hours */
#define FD_RESERVE	256	/* descriptors beside the connections */
#define ACCEPT_BATCH	64	/* accepts before the loop's other work */
/*
 * Event priorities (0 first): authenticated connections, and what existed
 * before the listener (journal, back ends), 0; the listener, strangers and
 * everything else 1. Under a flood of handshakes the requests of
 * authenticated clients are never queued behind the strangers' work. The
 * listener shares the strangers' level on purpose: libevent runs a lower
 * level only in turns when no higher one has work, so a listener above
 * the strangers would starve every handshake (the officials' too) and the
 * closing of the strangers shed.
 */
#define PRI_LEVELS	2
#define PRI_AUTH	0
#define PRI_STRANGER	1

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

static uint64_t
server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
conn_arm(struct conn *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* Lines held back by a rate limit are counted, then said in one line. */
static void
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
static void conn_log_stranger(const struct conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
conn_log_stranger(const struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	server_vlog(&c->srv->log_strangers, "unauthenticated peers", c, fmt, ap);
	va_end(ap);
}

static void conn_log_busy(const struct conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
conn_log_busy(const struct conn *c, const char *fmt, ...)
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
	conn_error_response(c, 408, WD_ERR_BAD_HTTP,
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
		conn_log_stranger(c, "TLS handshake not done within "
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
	conn_free(c);
}

/* --- accept -------------------------------------------------------------- */

/* A stranger shed to make room: counted, logged within the rate limit. */
static void
conn_shed(struct conn *c, uint64_t *counter, const char *why)
{
	(*counter)++;
	conn_log_stranger(c, "not authenticated after %llu ms, shed: %s",
	    (unsigned long long)(server_now_ms() - c->born_ms), why);
	conn_free(c);
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
		conn_free(c);
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
		conn_free(c);
		return;
	}
	/* Tear TLS down without waiting for the peer's close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
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
		conn_free(c);
		return;
	}
	conn_arm(c, srv->gen->conf->limits.handshake_timeout_ms);
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
static void
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

/* --- the connection's life ----------------------------------------------- */

/* Kept alive with no request begun: the first to go when slots run out. */
static void
conn_idle_enter(struct conn *c)
{
	if (!c->in_idle) {
		TAILQ_INSERT_TAIL(&c->srv->idle, c, idle_entry);
		c->in_idle = true;
	}
}

static void
conn_idle_leave(struct conn *c)
{
	if (c->in_idle) {
		TAILQ_REMOVE(&c->srv->idle, c, idle_entry);
		c->in_idle = false;
	}
}

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	edge_leave(c->state == CONN_HANDSHAKE ? srv->sources : srv->identities,
	    &c->group);
	conn_idle_leave(c);
	conn_body_end(c);	/* an answer cut short: its readers go */
	srv->body_inflight -= c->body_held;
	event_free(c->timer);
	/* BEV_OPT_CLOSE_ON_FREE frees the SSL and closes the socket. */
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else {
		if (c->wait != NULL)
			event_free(c->wait);
		evutil_closesocket(c->fd);
	}
	server_gen_unref(c->gen);
	free(c);
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
 * One certificate, one person (issue 14 section 2): the loader refuses
 * registries where two entries can match one certificate, and this refuses
 * the certificate should one still match two (or an entry that is wrong about
 * its own certificate's key) instead of letting the first in file order act.
 * c->official stays NULL, and intake answers with c->identity.
 */
static void
conn_identify(struct conn *c, const struct wd_conf *conf)
{
	const struct wd_official *who, *other;

	c->official = NULL;
	c->identity = conf_identify(conf, c->cert_sha256, c->spki_sha256,
	    &who, &other);
	switch (c->identity) {
	case WD_IDENTITY_ONE:
		c->official = who;
		break;
	case WD_IDENTITY_AMBIGUOUS:
		log_warnx("conn %llu from %s: certificate %s matches registry "
		    "entries \"%s\" (line %d) and \"%s\" (line %d): refused; "
		    "correct the registry", (unsigned long long)c->id, c->peer,
		    c->fingerprint, who->id, who->line, other->id, other->line);
		break;
	case WD_IDENTITY_INCONSISTENT:
		log_warnx("conn %llu from %s: certificate %s matches the "
		    "certificate sha256 of \"%s\" (line %d) but not its "
		    "public-key sha256: refused; correct the registry",
		    (unsigned long long)c->id, c->peer, c->fingerprint, who->id,
		    who->line);
		break;
	case WD_IDENTITY_NONE:
		break;
	}
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
			if (ok)
				c->not_after = tls_chain_not_after(
				    X509_STORE_CTX_get0_chain(xctx));
			else
				tls_refusal_reason(X509_STORE_CTX_get_error(xctx),
				    c->refusal.reason, sizeof(c->refusal.reason));
		}
		X509_STORE_CTX_free(xctx);
	}
	ERR_clear_error();
	server_gen_unref(c->gen);
	c->gen = cur;
	cur->refs++;
	conn_identify(c, cur->conf);
	if (!ok) {
		c->refusal.failed = 1;
		return -1;
	}
	return 0;
}

/* The budget of a certificate: its official's, or its own if unknown. */
static void
conn_identity_key(const struct conn *c, struct edge_key *key)
{
	edge_key_str(key, c->official ? c->official->id : c->fingerprint);
}

/*
 * 503 at once, with a hint to retry; the connection closes after it, and
 * lingers only briefly: it holds a descriptor outside every budget.
 */
static void
conn_refuse_busy(struct conn *c, uint64_t *counter, const char *why)
{
	(*counter)++;
	c->short_linger = true;
	conn_log_busy(c, "%s: answered 503", why);
	snprintf(c->receipt, sizeof(c->receipt), "Retry-After: 1\r\n");
	conn_error_response(c, 503, WD_ERR_OVERLOADED, why);
}

/*
 * Admission after the handshake, into the authenticated budget: at most
 * connections-per-official per certificate, and `connections` in all; when
 * those are taken the longest-idle kept-alive connection gives its slot up,
 * and with none idle the newcomer is answered 503. Returns -1 if refused.
 */
static int
conn_admit(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct wd_conf	*conf = srv->gen->conf;
	struct edge_key		 key;
	struct conn		*idle;

	conn_identity_key(c, &key);
	if (edge_count(srv->identities, &key) >= conf->limits.per_official) {
		conn_refuse_busy(c, &srv->stats.refused_official, "this "
		    "certificate holds connections-per-official connections");
		return -1;
	}
	if (edge_members(srv->identities) >= conf->limits.max_connections) {
		if ((idle = TAILQ_FIRST(&srv->idle)) == NULL) {
			conn_refuse_busy(c, &srv->stats.refused_full, "every "
			    "connection slot is busy");
			return -1;
		}
		srv->stats.idle_shed++;
		conn_log_busy(idle, "idle kept-alive connection closed to make "
		    "room for a new one");
		conn_free(idle);
	}
	if (edge_join(srv->identities, &key, &c->group) == -1) {
		conn_refuse_busy(c, &srv->stats.refused_full, "out of memory");
		return -1;
	}
	return 0;
}

static void
conn_handshake_done(struct conn *c)
{
	struct server_gen *gen = c->gen;

	edge_leave(c->srv->sources, &c->group);
	bufferevent_priority_set(c->bev, PRI_AUTH);
	c->state = CONN_HEAD;
	tls_peer_subject(c->ssl, c->subject, sizeof(c->subject));
	if (tls_peer_fingerprints(c->ssl, c->cert_sha256, c->spki_sha256) == 0) {
		tls_hex(c->cert_sha256, 32, c->fingerprint);
		conn_identify(c, gen->conf);
	}
	c->not_after = tls_peer_not_after(c->ssl);
	log_debug("conn %llu from %s: TLS %s %s, subject %s, official %s",
	    (unsigned long long)c->id, c->peer, SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl), c->subject,
	    c->official ? c->official->id : "(not registered)");
	if (conn_admit(c) == -1)
		return;
	conn_idle_enter(c);
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
 * What the handshake checked and time can undo, checked again before every
 * request on a kept-alive connection: the chain's validity (its earliest
 * notAfter) and the CRLs' (their earliest nextUpdate, as OpenSSL refuses
 * new handshakes past it). Revocation itself changes only by reload, and
 * a reload re-verifies the chain (conn_reverify).
 */
static void
conn_recheck_dates(struct conn *c)
{
	time_t	now = time(NULL);
	int	err;

	if (c->not_after != 0 && now > c->not_after)
		err = X509_V_ERR_CERT_HAS_EXPIRED;
	else if (c->gen->crl_next_update != 0 && now > c->gen->crl_next_update)
		err = X509_V_ERR_CRL_HAS_EXPIRED;
	else
		return;
	c->refusal.failed = 1;
	c->refusal.verify_error = err;
	tls_refusal_reason(err, c->refusal.reason, sizeof(c->refusal.reason));
	log_info("conn %llu from %s: %s, on a kept-alive connection",
	    (unsigned long long)c->id, c->peer, c->refusal.reason);
}

/*
 * While a request is busy the read side stays watched, so that a client
 * that hangs up (EOF, a TLS close_notify, a reset) is noticed before its
 * answer is written: conn_eventcb marks it dead and the handler keeps what
 * the answer would have carried (intake.c). Nothing read meanwhile is
 * parsed (one request at a time): a pipelined next request waits in the
 * input buffer, at most CONN_BUSY_HELD bytes of it; beyond that reading
 * pauses (the high watermark) until the answer is written.
 */
#define CONN_BUSY_HELD	(16 * 1024)

/*
 * A complete request goes to intake or auditapi: parsing pauses, the
 * deadline stops (the wait is ours now), and a connection from before a
 * reload has its certificate checked again.
 */
static void
conn_begin_busy(struct conn *c)
{
	c->state = CONN_BUSY;
	c->requests++;
	c->srv->nbusy++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_BUSY_HELD);
	bufferevent_enable(c->bev, EV_READ);
	evtimer_del(c->timer);
	if (conn_reverify(c) == -1)
		log_info("conn %llu from %s: certificate no longer accepted after "
		    "reload: %s", (unsigned long long)c->id, c->peer,
		    c->refusal.reason);
	else if (!c->refusal.failed)
		conn_recheck_dates(c);
	/* Refused once, refused for good: answer, then close. */
	if (c->refusal.failed)
		c->close_after = true;
}

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
		conn_begin_busy(c);
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
		conn_begin_busy(c);
		rt->fn(c, NULL, 0);
		return 1;
	}
	if (!r->has_length) {
		conn_error_response(c, 411, WD_ERR_BAD_HTTP,
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
		conn_refuse_busy(c, &srv->stats.refused_body, "request bodies "
		    "being received fill body-budget");
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
		conn_error_response(c, status, status == 413 ?
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
		conn_error_response(c, 400, WD_ERR_BAD_HTTP,
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
		conn_error_response(c, 503, WD_ERR_OVERLOADED, "out of memory");
		return;
	}
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	conn_begin_busy(c);
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
	if (c->state == CONN_BUSY)
		return;		/* held, bounded, read after the answer */
	if (c->state == CONN_HEAD && evbuffer_get_length(in) > 0 && !c->saw_bytes) {
		c->saw_bytes = true;
		conn_idle_leave(c);
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
	conn_arm(c, c->gen->conf->limits.request_timeout_ms);
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
static void
conn_body_end(struct conn *c)
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
		conn_free(c);
		return -1;
	}
	if (rc == 0)
		conn_body_end(c);
	return 0;
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
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
		conn_arm(c, c->short_linger ? LINGER_SHORT_MS : LINGER_MS);
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
	conn_idle_enter(c);
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
			conn_log_stranger(c, "client certificate refused: %s "
			    "(subject %s, sha256 %s)", c->refusal.reason,
			    c->refusal.subject, c->refusal.fingerprint[0] ?
			    c->refusal.fingerprint : "-");
			c->srv->hooks->tls_refused(c->srv, c);
		} else {
			c->srv->stats.handshake_failed++;
			conn_log_stranger(c, "TLS handshake failed");
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
	conn_free(c);
}

/* --- reload and shutdown --------------------------------------------------- */

static bool
server_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/*
 * push holds its TLS context for the daemon's life (src/warrantd/warrantd.c), so a
 * changed delivery block is said, not silently ignored. Paths only: a CRL
 * replaced in place under the same name is also read only at start.
 */
static bool
server_delivery_changed(const struct wd_conf *a, const struct wd_conf *b)
{
	return server_str_differs(a->delivery.cert, b->delivery.cert) ||
	    server_str_differs(a->delivery.key, b->delivery.key) ||
	    server_str_differs(a->delivery.ca, b->delivery.ca) ||
	    server_str_differs(a->delivery.crl, b->delivery.crl) ||
	    a->delivery.timeout_ms != b->delivery.timeout_ms;
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

/*
 * A reload must not turn revocation checking off by a line deleted or
 * lost in an edit: revoked officials would be let in without anyone
 * having decided it (issue 14 section 7). `crl none` says it was decided.
 */
static bool
server_reload_weakens(const struct wd_conf *cur, const struct wd_conf *next)
{
	if (cur->tls.crl == NULL || next->tls.crl != NULL || next->tls.crl_none)
		return false;
	log_warnx("reload refused: %s has no crl line, and the running "
	    "configuration checks revocation against %s; write crl none in "
	    "the tls block to turn revocation checking off on purpose",
	    next->path, cur->tls.crl);
	return true;
}

/*
 * The CRL in force, against the clock: a warning every few hours in the
 * week before its nextUpdate, and once past it "CRL expired" in the log
 * and the journal, since every handshake fails from then on with an alert
 * that tells the client its certificate expired.
 */
void
server_check_crl(struct server *srv, time_t now)
{
	struct server_gen	*gen = srv->gen;
	char			 when[32], detail[160];
	struct tm		 tm;

	if (gen->crl_next_update == 0 ||
	    gmtime_r(&gen->crl_next_update, &tm) == NULL)
		return;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	if (now > gen->crl_next_update) {
		if (gen->crl_expired_said)
			return;
		gen->crl_expired_said = true;
		log_warnx("CRL expired: the CRL in force (%s) passed its "
		    "nextUpdate at %s; every client is refused until a fresh "
		    "CRL is published and loaded (systemctl reload warrantd)",
		    gen->conf->tls.crl, when);
		snprintf(detail, sizeof(detail), "CRL expired: nextUpdate %s "
		    "passed; every client is refused until a fresh CRL is "
		    "loaded", when);
		srv->hooks->record_event(srv, WARRANT__EVENT_TYPE__EVENT_CRL_EXPIRED,
		    detail);
		return;
	}
	if (gen->crl_next_update - now > SERVER_CRL_WARN_S ||
	    now - gen->crl_warned < SERVER_CRL_REWARN_S)
		return;
	gen->crl_warned = now;
	log_warnx("the CRL in force (%s) passes its nextUpdate at %s, in %lld "
	    "hours: publish a fresh CRL and reload before then, or every "
	    "client will be refused", gen->conf->tls.crl, when,
	    (long long)((gen->crl_next_update - now) / 3600));
}

/* The desk's listener and console files are taken at start only. */
static bool
server_desk_changed(const struct wd_conf *a, const struct wd_conf *b)
{
	const char *pa = a->desk_pages ? a->desk_pages : "";
	const char *pb = b->desk_pages ? b->desk_pages : "";

	if ((a->desk_addr == NULL) != (b->desk_addr == NULL) ||
	    strcmp(pa, pb) != 0)
		return true;
	return a->desk_addr != NULL && (strcmp(a->desk_addr, b->desk_addr) != 0 ||
	    a->desk_port != b->desk_port);
}

void
server_reload(struct server *srv)
{
	struct server_gen *gen;

	sd_notify(0, "RELOADING=1\nSTATUS=reloading configuration");
	log_info("reloading %s", srv->conf_path);
	gen = server_gen_load(srv->conf_path, srv->gen->number + 1);
	if (gen != NULL && server_reload_weakens(srv->gen->conf, gen->conf)) {
		server_gen_unref(gen);
		gen = NULL;
	}
	if (gen == NULL) {
		log_warnx("reload failed: keeping the running configuration");
		srv->hooks->record_event(srv, WARRANT__EVENT_TYPE__EVENT_CONFIG_RELOAD,
		    "reload failed; running configuration kept");
		sd_notify(0, "READY=1\nSTATUS=reload failed, running configuration kept");
		return;
	}
	if (strcmp(gen->conf->listen_addr, srv->gen->conf->listen_addr) != 0 ||
	    gen->conf->listen_port != srv->gen->conf->listen_port ||
	    strcmp(gen->conf->state_dir, srv->gen->conf->state_dir) != 0)
		log_warnx("listen address and state directory changes need a restart");
	if (server_str_differs(gen->conf->journal.audit_key,
	    srv->gen->conf->journal.audit_key) ||
	    server_str_differs(gen->conf->journal.data_key,
	    srv->gen->conf->journal.data_key))
		log_warnx("journal audit-key and data-key changes need a restart; "
		    "records are sealed with the keys read at start");
	if (server_desk_changed(gen->conf, srv->gen->conf))
		log_warnx("desk listen and desk pages changes need a restart; "
		    "the running ones stay in use");
	if (server_backends_changed(gen->conf, srv->gen->conf))
		log_warnx("back-end and results changes need a restart; the "
		    "running ones stay in use");
	if (server_delivery_changed(gen->conf, srv->gen->conf))
		log_warnx("delivery changes (certificate, key, ca, crl, timeout) "
		    "need a restart; the running ones stay in use");
	if (!conf_nes_same(gen->conf, srv->gen->conf))
		log_warnx("ne (X1 network element) changes need a restart; the "
		    "running elements stay in use");
	/* push reads answers with the templates of the generation in force. */
	push_set_schema(srv->push, gen->schema);
	/* Parser workers restart, reading the templates again. */
	parsers_reconfigure(srv->parsers, gen->conf->templates_dir,
	    gen->conf->limits.body_max);
	if (gen->conf->parsers != srv->gen->conf->parsers)
		log_warnx("parsers changes need a restart; the running workers "
		    "stay in use");
	server_gen_unref(srv->gen);
	srv->gen = gen;
	if (srv->lifecycle != NULL) {
		struct lifecycle_config lc;

		/* New durations apply to what starts from now on. */
		server_lifecycle_config(srv, &lc);
		lifecycle_configure(srv->lifecycle, &lc);
	}
	server_alert_reload(srv);
	server_fd_limit(gen->conf);
	log_info("configuration generation %u in force", gen->number);
	srv->hooks->record_event(srv, WARRANT__EVENT_TYPE__EVENT_CONFIG_RELOAD,
	    "configuration reloaded");
	sd_notify(0, "READY=1");
	server_notify_status(srv);
}

/* The registry's DELIVER endpoint of an authority (lifecycle_config). */
static const char *
server_endpoint(void *arg, const char *authority)
{
	struct server		*srv = arg;
	struct wd_authority	*a;

	a = conf_find_authority(srv->gen->conf, authority);
	return a ? a->deliver_to : NULL;
}

/* Durations of the configuration, as the lifecycle takes them. */
void
server_lifecycle_config(struct server *srv, struct lifecycle_config *lc)
{
	const struct wd_conf *c = srv->gen->conf;

	memset(lc, 0, sizeof(*lc));
	for (int t = 0; t < WD_REQ__COUNT; t++)
		lc->answer_us[t] = (int64_t)c->deadlines.answer_s[t] * 1000000;
	lc->answer_old_records_us = (int64_t)c->deadlines.older_records_s * 1000000;
	lc->keep_us = (int64_t)c->results.keep_s * 1000000;
	lc->keep_warn_us = (int64_t)c->results.warn_before_s * 1000000;
	/* A warning "well before": never later than three quarters in. */
	if (lc->keep_warn_us > lc->keep_us / 4)
		lc->keep_warn_us = lc->keep_us / 4;
	lc->kept_after_us = (int64_t)c->results.keep_delivered_s * 1000000;
	lc->ratify_us = (int64_t)c->policy.ratify_s * 1000000;
	lc->preservation_max_us = (int64_t)c->policy.preservation_max_days *
	    86400 * 1000000;
	lc->retry_rounds = c->results.rounds;
	lc->retry_base_us = (int64_t)c->results.round_pause_s * 1000000;
	lc->part_max = c->results.part_max;
	lc->push_window = c->delivery.window;
	lc->carrier_id = c->carrier_id;
	lc->endpoint = server_endpoint;
	lc->endpoint_arg = srv;
}

void
server_shutdown(struct server *srv)
{
	struct conn *c, *next;

	srv->stopping = true;
	if (srv->listener && !srv->listener_paused)
		evconnlistener_disable(srv->listener);
	srv->listener_paused = true;
	if (srv->desk_listener)
		evconnlistener_disable(srv->desk_listener);
	/* Idle connections and strangers go now; busy ones after their answer. */
	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((c->state == CONN_HEAD && !c->saw_bytes) ||
		    c->state == CONN_HANDSHAKE)
			conn_free(c);
		else
			c->close_after = true;
	}
}

void
server_notify_status(struct server *srv)
{
	char backends[256] = "none", nes[256] = "none";
	struct alert_counts ac;

	if (srv->backends)
		backend_status(srv->backends, backends, sizeof(backends));
	if (srv->x1)
		x1prov_status(srv->x1, nes, sizeof(nes));
	server_log_held(&srv->log_strangers, "unauthenticated peers");
	server_log_held(&srv->log_busy, "connections refused as busy");
	alert_counts(srv->alert, &ac);
	sd_notifyf(0, "STATUS=%s; alerts: %u critical, %u warning; %u connections (%zu in handshake); shed %llu "
	    "strangers; accepted %llu, refused %llu, "
	    "invalid %llu, TLS refused %llu; journal: %s; back ends: %s; "
	    "network elements: %s",
	    srv->stopping ? "stopping" : "serving", ac.critical, ac.warning,
	    srv->nconns,
	    srv->sources ? edge_members(srv->sources) : 0,
	    (unsigned long long)(srv->stats.shed_source + srv->stats.shed_unauth +
	    srv->stats.handshake_timeouts),
	    (unsigned long long)srv->stats.accepted,
	    (unsigned long long)srv->stats.refused,
	    (unsigned long long)srv->stats.invalid,
	    (unsigned long long)srv->stats.tls_refused,
	    srv->journal ? journal_status(srv->journal) : "closed", backends,
	    nes);
}

void
server_close_all(struct server *srv)
{
	while (!TAILQ_EMPTY(&srv->conns))
		conn_free(TAILQ_FIRST(&srv->conns));
	edge_table_free(srv->sources);
	edge_table_free(srv->identities);
	srv->sources = srv->identities = NULL;
	if (srv->ev_accept)
		event_free(srv->ev_accept);
	srv->ev_accept = NULL;
}
