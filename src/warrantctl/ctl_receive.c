/*
 * ctl_receive — `warrantctl receive`: the command line, the mutual-TLS
 * listener and the HTTP side of a small DELIVER endpoint (what a message
 * does to the directory is ctl_deliver.c's).
 *
 * Built on libevent like the daemon, so that one slow or hostile sender
 * never holds the others up: each connection gets one absolute deadline
 * (--timeout) for handshake, request and answer, bounded buffers (16 KiB
 * of head, 4 MiB of body: the HI-1 parser's own ceiling) and carries one
 * request (Connection: close). At most RCV_CONNS connections are open; at
 * the cap the listener pauses and the kernel's backlog waits. A whole
 * request goes to the workers (ctl_rwork.c, --workers, default
 * RCV_WORKERS_DEFAULT): the loop only does TLS and HTTP, and answers once
 * a worker says the message is stored durably (or refused). Memory: at
 * most RCV_CONNS requests at once, each its body (4 MiB at most) and, while
 * a worker holds it, its decoded data (3/4 of that). The TLS
 * policy is the daemon's (lib/tls.c): the carrier's client certificate is
 * required and verified against --cacert (and --crl), and --pin restricts
 * it further to given certificates or keys.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "ctl_receive.h"
#include "hi1.h"
#include "http.h"
#include "log.h"
#include "tls.h"

#define RCV_CONNS		32
#define RCV_HEAD_MAX		(16 * 1024)
#define RCV_HEADERS_MAX		64
#define RCV_BODY_MAX		(4 * 1024 * 1024)
#define RCV_TIMEOUT_DEFAULT	60
#define RCV_TIMEOUT_MAX		3600
#define RCV_PINS_MAX		8
#define RCV_WORKERS_DEFAULT	8
#define RCV_READ_MAX		(256 * 1024)	/* per turn of the loop */
#define RCV_WORKERS_MAX		RCV_CONNS
#define RCV_EXIT_OK		0
#define RCV_EXIT_REFUSED	1
#define RCV_EXIT_FAILED		2

struct rconn;
TAILQ_HEAD(rconns, rconn);

struct rcv {
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct hi1_schema	*schema;
	struct evconnlistener	*lst;
	struct event		*sigs[2];
	struct rwork		*work;
	unsigned		 nworkers;
	struct ctl_store	 store;
	uint8_t			 pins[RCV_PINS_MAX][32];
	size_t			 npins;
	unsigned		 timeout_s;
	struct rconns		 conns;
	unsigned		 nconns;
	bool			 paused;
};

struct rconn {
	TAILQ_ENTRY(rconn)	 entry;
	struct rcv		*r;
	struct bufferevent	*bev;
	struct event		*timer;
	struct tls_refusal	 refusal;
	char			 peer[64];
	bool			 have_head;
	struct http_request	 req;
	struct rwork_job	*job;		/* with the workers */
	bool			 answered;	/* close once it is written */
};

static void
rcv_usage(FILE *out)
{
	fprintf(out, "usage: warrantctl receive --listen ADDR:PORT --cert FILE "
	    "--key FILE --cacert FILE\n"
	    "                  -o DIR [--authority ID] [--crl FILE] "
	    "[--pin SHA256]...\n"
	    "                  [--templates DIR] [--timeout SECONDS] "
	    "[--workers N]\n");
}

static void
rcv_pause_if_full(struct rcv *r)
{
	if (!r->paused && r->nconns >= RCV_CONNS) {
		evconnlistener_disable(r->lst);
		r->paused = true;
	} else if (r->paused && r->nconns < RCV_CONNS) {
		evconnlistener_enable(r->lst);
		r->paused = false;
	}
}

static void
rconn_free(struct rconn *c)
{
	struct rcv	*r = c->r;

	TAILQ_REMOVE(&r->conns, c, entry);
	r->nconns--;
	if (c->job != NULL)
		c->job->owner = NULL;	/* finished, its answer dropped */
	if (c->timer != NULL)
		event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
	rcv_pause_if_full(r);
}

/* The answer goes out, then the connection closes. */
static void
rconn_answer(struct rconn *c, int status, const char *type, const char *body,
    size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	bufferevent_disable(c->bev, EV_READ);
	c->answered = true;
	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    http_status_text(status), type, len) == -1 ||
	    evbuffer_add(out, body, len) == -1)
		rconn_free(c);
}

static void
rconn_http_error(struct rconn *c, int status, const char *why)
{
	fprintf(stderr, "warrantctl: receive: %s: HTTP %d: %s\n", c->peer,
	    status, why);
	rconn_answer(c, status, "text/plain", why, strlen(why));
}

/* The carrier's certificate, if --pin names the ones accepted. */
static bool
rconn_pinned(struct rconn *c)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(c->bev);
	uint8_t	 cert[32], spki[32];

	if (c->r->npins == 0)
		return true;
	if (ssl == NULL || tls_peer_fingerprints(ssl, cert, spki) == -1)
		return false;
	for (size_t i = 0; i < c->r->npins; i++)
		if (memcmp(c->r->pins[i], cert, 32) == 0 ||
		    memcmp(c->r->pins[i], spki, 32) == 0)
			return true;
	return false;
}

/* The request's HTTP side; true if it may go to the workers. */
static bool
rconn_acceptable(struct rconn *c, const struct http_request *req)
{
	if (req->method != HTTP_POST) {
		rconn_http_error(c, 405, "only POST of HI-1 DELIVER messages");
		return false;
	}
	if (strncasecmp(req->content_type, "application/xml", 15) != 0 ||
	    (req->content_type[15] != '\0' && req->content_type[15] != ';')) {
		rconn_http_error(c, 415, "Content-Type must be application/xml");
		return false;
	}
	if (!rconn_pinned(c)) {
		rconn_http_error(c, 403, "the client certificate is not one "
		    "of those given with --pin");
		return false;
	}
	return true;
}

/* The whole body, moved (not copied) into a job for the workers. */
static void
rconn_request(struct rconn *c, struct evbuffer *in)
{
	struct rwork_job	*job;

	bufferevent_disable(c->bev, EV_READ);
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->body = evbuffer_new()) == NULL ||
	    evbuffer_drain(in, c->req.head_len) == -1 ||
	    evbuffer_remove_buffer(in, job->body, c->req.content_length) !=
	    (int)c->req.content_length) {
		rwork_job_free(job);
		rconn_http_error(c, 500, "out of memory");
		return;
	}
	job->owner = c;
	c->job = job;
	rwork_submit(c->r->work, job);
}

/* On the loop: a worker is done with a connection's request. */
static void
rcv_donecb(struct rwork_job *job, void *arg)
{
	struct rconn	*c = job->owner;

	(void)arg;
	if (c != NULL) {
		c->job = NULL;
		if (job->answer == NULL)
			rconn_http_error(c, 500, "cannot build the answer");
		else
			rconn_answer(c, job->status, "application/xml",
			    job->answer, job->alen);
	}
	rwork_job_free(job);
}

static void
rconn_readcb(struct bufferevent *bev, void *arg)
{
	static const struct http_limits lim = { RCV_HEAD_MAX, RCV_HEADERS_MAX,
	    RCV_BODY_MAX };
	struct rconn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 n = evbuffer_get_length(in);
	const char		*buf;
	int			 status = 400;

	if (c->answered || c->job != NULL)
		return;
	if (!c->have_head) {
		buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)(n <
		    RCV_HEAD_MAX ? n : RCV_HEAD_MAX));
		switch (http_parse_head(buf, n < RCV_HEAD_MAX ? n : RCV_HEAD_MAX,
		    &lim, &c->req, &status)) {
		case HTTP_PARSE_MORE:
			return;
		case HTTP_PARSE_ERROR:
			rconn_http_error(c, status, "malformed or oversized "
			    "request");
			return;
		default:
			break;
		}
		if (!c->req.has_length) {
			rconn_http_error(c, 411, "Content-Length is required");
			return;
		}
		c->have_head = true;
	}
	/* Judged once whole, so that a refusal is not lost to a reset. */
	if (n < c->req.head_len + c->req.content_length)
		return;
	if (rconn_acceptable(c, &c->req))
		rconn_request(c, in);
}

static void
rconn_writecb(struct bufferevent *bev, void *arg)
{
	struct rconn	*c = arg;

	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		rconn_free(c);
}

static void
rconn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct rconn	*c = arg;
	unsigned long	 e;
	char		 buf[160];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (c->refusal.failed)
		fprintf(stderr, "warrantctl: receive: %s: refused in the TLS "
		    "handshake: %s (%s)\n", c->peer, c->refusal.reason,
		    c->refusal.subject[0] ? c->refusal.subject : "no subject");
	else if ((what & BEV_EVENT_ERROR) &&
	    (e = bufferevent_get_openssl_error(c->bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "warrantctl: receive: %s: TLS: %s\n", c->peer,
		    buf);
	}
	ERR_clear_error();
	rconn_free(c);
}

static void
rconn_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn	*c = arg;

	(void)fd;
	(void)what;
	fprintf(stderr, "warrantctl: receive: %s: no whole request and answer "
	    "within %u s, dropped\n", c->peer, c->r->timeout_s);
	rconn_free(c);
}

static void
rcv_peer_name(const struct sockaddr *sa, char *buf, size_t len)
{
	char	addr[INET6_ADDRSTRLEN] = "?";
	int	port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		evutil_inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s port %d", addr, port);
}

static void
rcv_acceptcb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct rcv	*r = arg;
	struct rconn	*c;
	struct timeval	 tv = { r->timeout_s, 0 };
	SSL		*ssl = NULL;
	int		 one = 1;

	(void)l;
	(void)salen;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (ssl = SSL_new(r->ctx)) == NULL ||
	    (c->timer = evtimer_new(r->base, rconn_timeoutcb, c)) == NULL) {
		fprintf(stderr, "warrantctl: receive: out of memory, a "
		    "connection dropped\n");
		SSL_free(ssl);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->r = r;
	rcv_peer_name(sa, c->peer, sizeof(c->peer));
	tls_track_refusal(ssl, &c->refusal);
	c->bev = bufferevent_openssl_socket_new(r->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		event_free(c->timer);
		free(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setwatermark(c->bev, EV_READ, 0, RCV_HEAD_MAX + RCV_BODY_MAX);
	/* A 1.4 MB body in big reads, not 16 KiB (libevent's default) a turn. */
	bufferevent_set_max_single_read(c->bev, RCV_READ_MAX);
	bufferevent_setcb(c->bev, rconn_readcb, rconn_writecb, rconn_eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &tv);
	TAILQ_INSERT_TAIL(&r->conns, c, entry);
	r->nconns++;
	rcv_pause_if_full(r);
}

static void
rcv_signalcb(evutil_socket_t sig, short what, void *arg)
{
	struct rcv	*r = arg;

	(void)what;
	fprintf(stderr, "warrantctl: receive: %s, stopping\n",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(r->base);
}

/* A --pin: 64 hex digits, or the colon-separated form openssl prints. */
static int
rcv_pin(struct rcv *r, const char *s)
{
	size_t	 k = 0;
	int	 hi = -1, v;

	if (r->npins == RCV_PINS_MAX)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			v = (*s | 0x20) - 'a' + 10;
		else
			return -1;
		if (k == 32)
			return -1;
		if (hi < 0)
			hi = v;
		else {
			r->pins[r->npins][k++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (k != 32 || hi >= 0)
		return -1;
	r->npins++;
	return 0;
}

/* An HI-1 endpoint identifier: [A-Z0-9][A-Z0-9-]{1,31}. */
static bool
rcv_id_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n < 2 || n > HI1_ID_LEN || s[0] == '-')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

struct rcv_opts {
	const char	*listen, *cert, *key, *cacert, *crl, *dir, *templates;
};

/* A number from 1 to max. */
static int
rcv_parse_count(const char *s, unsigned long max, unsigned *out)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The options; -1 (said why) on a usage error, 1 for --help. */
static int
rcv_options(int argc, char *argv[], struct rcv *r, struct rcv_opts *o)
{
	static const struct option longopts[] = {
		{ "listen",	required_argument,	NULL, 'l' },
		{ "cert",	required_argument,	NULL, 'c' },
		{ "key",	required_argument,	NULL, 'k' },
		{ "cacert",	required_argument,	NULL, 'a' },
		{ "crl",	required_argument,	NULL, 'r' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "authority",	required_argument,	NULL, 'A' },
		{ "pin",	required_argument,	NULL, 'p' },
		{ "templates",	required_argument,	NULL, 'T' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "workers",	required_argument,	NULL, 'w' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	int	 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': o->listen = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'a': o->cacert = optarg; break;
		case 'r': o->crl = optarg; break;
		case 'o': o->dir = optarg; break;
		case 'T': o->templates = optarg; break;
		case 'A':
			if (!rcv_id_ok(optarg)) {
				fprintf(stderr, "warrantctl: --authority %s: "
				    "not an HI-1 identifier\n", optarg);
				return -1;
			}
			r->store.authority = optarg;
			break;
		case 'p':
			if (rcv_pin(r, optarg) == -1) {
				fprintf(stderr, "warrantctl: --pin %s: expected "
				    "a SHA-256 in hex (at most %d pins)\n",
				    optarg, RCV_PINS_MAX);
				return -1;
			}
			break;
		case 't':
			if (rcv_parse_count(optarg, RCV_TIMEOUT_MAX,
			    &r->timeout_s) == -1) {
				fprintf(stderr, "warrantctl: --timeout %s: "
				    "expected 1 to %d seconds\n", optarg,
				    RCV_TIMEOUT_MAX);
				return -1;
			}
			break;
		case 'w':
			if (rcv_parse_count(optarg, RCV_WORKERS_MAX,
			    &r->nworkers) == -1) {
				fprintf(stderr, "warrantctl: --workers %s: "
				    "expected 1 to %d\n", optarg,
				    RCV_WORKERS_MAX);
				return -1;
			}
			break;
		case 'h':
			rcv_usage(stdout);
			return 1;
		default:
			return -1;
		}
	}
	if (optind != argc || o->listen == NULL || o->cert == NULL ||
	    o->key == NULL || o->cacert == NULL || o->dir == NULL) {
		fprintf(stderr, "warrantctl: receive needs --listen, --cert, "
		    "--key, --cacert and -o, and no other arguments\n");
		return -1;
	}
	return 0;
}

/* The output directory, created (0700) if missing. */
static int
rcv_dir(struct rcv *r, const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "warrantctl: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if ((r->store.dirfd = open(dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		fprintf(stderr, "warrantctl: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	r->store.dir = dir;
	return 0;
}

/* ADDRESS:PORT or [ADDRESS]:PORT, PORT 0-65535 (0: any free one). */
static int
rcv_parse_listen(const char *s, struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	const char		*colon = strrchr(s, ':'), *p;
	char			 host[INET6_ADDRSTRLEN];
	unsigned long		 port = 0;
	size_t			 n;
	bool			 v6 = s[0] == '[';

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
		return -1;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	n = (size_t)(colon - s) - (v6 ? 2 : 0);
	if (port > 65535 || n == 0 || n >= sizeof(host) ||
	    (v6 && colon[-1] != ']'))
		return -1;
	memcpy(host, s + (v6 ? 1 : 0), n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (!v6 && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = (int)sizeof(*s4);
		return 0;
	}
	if (v6 && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = (int)sizeof(*s6);
		return 0;
	}
	return -1;
}

static int
rcv_listen(struct rcv *r, const char *addr)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 sslen;
	char			 name[80];

	if (rcv_parse_listen(addr, &ss, &sslen) == -1) {
		fprintf(stderr, "warrantctl: --listen %s: expected ADDRESS:PORT "
		    "([ADDRESS]:PORT for IPv6), the address numeric\n", addr);
		return -1;
	}
	r->lst = evconnlistener_new_bind(r->base, rcv_acceptcb, r,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    64, (struct sockaddr *)&ss, sslen);
	if (r->lst == NULL) {
		fprintf(stderr, "warrantctl: --listen %s: %s\n", addr,
		    strerror(errno));
		return -1;
	}
	/* Port 0 picks one: say which. */
	getsockname(evconnlistener_get_fd(r->lst), (struct sockaddr *)&ss, &len);
	rcv_peer_name((struct sockaddr *)&ss, name, sizeof(name));
	printf("listening on %s, storing into %s\n", name, r->store.dir);
	fflush(stdout);
	return 0;
}

static int
rcv_setup(struct rcv *r, const struct rcv_opts *o)
{
	struct wd_conf	 conf;

	if (rcv_dir(r, o->dir) == -1)
		return -1;
	hi1_init();
	ctl_dparse_init();
	if ((r->schema = hi1_schema_load(o->templates)) == NULL)
		return -1;
	memset(&conf, 0, sizeof(conf));
	conf.tls.cert = (char *)o->cert;
	conf.tls.key = (char *)o->key;
	conf.tls.ca = (char *)o->cacert;
	conf.tls.crl = (char *)o->crl;
	if ((r->ctx = tls_server_ctx(&conf)) == NULL)
		return -1;
	if ((r->base = event_base_new()) == NULL ||
	    (r->sigs[0] = evsignal_new(r->base, SIGTERM, rcv_signalcb,
	    r)) == NULL ||
	    (r->sigs[1] = evsignal_new(r->base, SIGINT, rcv_signalcb,
	    r)) == NULL ||
	    evsignal_add(r->sigs[0], NULL) == -1 ||
	    evsignal_add(r->sigs[1], NULL) == -1) {
		fprintf(stderr, "warrantctl: cannot set up the event loop\n");
		return -1;
	}
	if ((r->work = rwork_new(r->base, r->nworkers, &r->store, r->schema,
	    rcv_donecb, r)) == NULL)
		return -1;
	return rcv_listen(r, o->listen);
}

static void
rcv_cleanup(struct rcv *r)
{
	/* The connections first: their jobs are the workers' to free. */
	while (!TAILQ_EMPTY(&r->conns))
		rconn_free(TAILQ_FIRST(&r->conns));
	rwork_free(r->work);
	if (r->lst != NULL)
		evconnlistener_free(r->lst);
	for (int i = 0; i < 2; i++)
		if (r->sigs[i] != NULL)
			event_free(r->sigs[i]);
	if (r->base != NULL)
		event_base_free(r->base);
	SSL_CTX_free(r->ctx);
	hi1_schema_free(r->schema);
	hi1_cleanup();
	if (r->store.dirfd != -1)
		close(r->store.dirfd);
}

int
ctl_receive_main(int argc, char *argv[])
{
	struct rcv	 r;
	struct rcv_opts	 o;
	int		 rc;

	memset(&r, 0, sizeof(r));
	memset(&o, 0, sizeof(o));
	TAILQ_INIT(&r.conns);
	r.store.dirfd = -1;
	r.store.out = stdout;
	r.timeout_s = RCV_TIMEOUT_DEFAULT;
	r.nworkers = RCV_WORKERS_DEFAULT;
	if (ctl_store_init(&r.store) == -1) {
		fprintf(stderr, "warrantctl: receive: cannot set up locks\n");
		return RCV_EXIT_FAILED;
	}
	o.templates = DATADIR "/templates";
	/*
	 * Each part allocates and frees a few MiB (the body made contiguous,
	 * libxml2's copy of it, the decoded data): kept by malloc for the next
	 * part rather than given back to the kernel and faulted in again,
	 * which cost as much as the parsing itself (6.2 -> 3.4 ms of CPU per
	 * 1 MiB part, bench/lifecycle/NOTES.md). The peak is the same.
	 */
	mallopt(M_MMAP_THRESHOLD, RCV_BODY_MAX * 4);
	mallopt(M_TRIM_THRESHOLD, RCV_BODY_MAX * 2);
	signal(SIGPIPE, SIG_IGN);
	log_init("warrantctl", 1, 0);
	if ((rc = rcv_options(argc, argv, &r, &o)) != 0) {
		if (rc == -1)
			rcv_usage(stderr);
		ctl_store_cleanup(&r.store);
		return rc == 1 ? RCV_EXIT_OK : RCV_EXIT_FAILED;
	}
	if (rcv_setup(&r, &o) == -1) {
		rcv_cleanup(&r);
		ctl_store_cleanup(&r.store);
		return RCV_EXIT_FAILED;
	}
	event_base_dispatch(r.base);
	rcv_cleanup(&r);	/* the workers finish what they hold */
	printf("stopped: %u stored, %u delivered again, %u refused\n",
	    r.store.stored, r.store.again, r.store.refused);
	ctl_store_cleanup(&r.store);
	if (fflush(stdout) == EOF)
		return RCV_EXIT_FAILED;
	return r.store.refused > 0 ? RCV_EXIT_REFUSED : RCV_EXIT_OK;
}
