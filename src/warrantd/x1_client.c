/*
 * x1_client — HTTPS POST of X1 requests to one network element over mutual
 * TLS, on the caller's libevent loop (include/x1_client.h says the rules).
 *
 * The transport is push.c's, narrowed to what X1 needs: the element's URL
 * names an IP address (elements sit on the carrier's own network and are
 * configured by address; no name is resolved, so no resolver can redirect
 * a provisioning), one connection per message ("Connection: close", a
 * full handshake that re-checks the element's certificate each time), a
 * response head parsed by http_resp.c and a body of at most
 * X1_ANSWER_MAX bytes framed by Content-Length, read by x1_parse().
 *
 * Ordering: requests for one key never overlap; requests for different
 * keys run side by side up to X1C_ACTIVE_MAX connections per element.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "http_resp.h"
#include "log.h"
#include "strict.h"
#include "tls.h"
#include "x1_client.h"

#define X1C_ACTIVE_MAX		8
#define X1C_HEAD_MAX		(16 * 1024)
#define X1C_HEADERS_MAX		64
#define X1C_INTERIM_MAX		4
#define X1C_PAUSE_MS		500	/* first pause between attempts */
#define X1C_WHY_LEN		320
#define X1C_KEY_LEN		64

struct x1c_req {
	TAILQ_ENTRY(x1c_req)	 entry;
	struct x1c		*c;
	char			 key[X1C_KEY_LEN + 1];
	struct x1_msg		 m;
	struct x1_task		 task;
	struct x1_dest		 dest;
	char			 id[X1_UUID_LEN + 1];
	x1c_cb			 cb;
	void			*arg;
	struct x1c_result	 res;
	char			 why[X1C_WHY_LEN];
	/* The attempt in progress. */
	int			 fd;
	struct event		*connev;
	struct bufferevent	*bev;
	struct event		*timer;		/* deadline, or the pause */
	bool			 pausing;
	char			*body;
	size_t			 len;
	const char		*phase;
	bool			 have_head;
	struct http_response	 resp;
	unsigned		 interim;
};
TAILQ_HEAD(x1c_reqs, x1c_req);

struct x1c {
	struct event_base	*base;
	SSL_CTX			*ctx;
	char			 name[X1_ID_LEN + 1];
	char			 admf[X1_ID_LEN + 1];
	char			 host[64];	/* IP literal, no brackets */
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	char			 head[1024];	/* request head, %zu for length */
	unsigned		 deadline_ms;
	unsigned		 retries;
	struct x1c_reqs		 queue, active;
	unsigned		 nqueued, nactive;
	struct event		*kick;
	bool			 freeing;
	int64_t			(*now)(void *);
	void			*now_arg;
};

static void	x1c_attempt(struct x1c_req *);
static void	x1c_readcb(struct bufferevent *, void *);
static void	x1c_eventcb(struct bufferevent *, short, void *);

/* ---- set-up ------------------------------------------------------------------ */

/* https://ADDR[:PORT][/PATH] with ADDR an IPv4 or [IPv6] literal. */
static int
x1c_url(struct x1c *c, const char *url)
{
	const char		*h, *hend, *p, *path;
	unsigned long		 port = 443;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&c->sa;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&c->sa;
	size_t			 n;
	bool			 v6;

	if (strncasecmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	path = h + strcspn(h, "/");
	if ((v6 = *h == '[')) {
		if ((hend = memchr(h, ']', (size_t)(path - h))) == NULL)
			return -1;
		p = hend + 1;
		h++;
	} else {
		if ((hend = memchr(h, ':', (size_t)(path - h))) == NULL)
			hend = path;
		p = hend;
	}
	if ((n = (size_t)(hend - h)) == 0 || n >= sizeof(c->host))
		return -1;
	memcpy(c->host, h, n);
	c->host[n] = '\0';
	if (p != path) {
		char *end;

		if (*p != ':' || !isdigit((unsigned char)p[1]))
			return -1;
		port = strtoul(p + 1, &end, 10);
		if (end != path || port == 0 || port > 65535)
			return -1;
	}
	memset(&c->sa, 0, sizeof(c->sa));
	if (v6 ? inet_pton(AF_INET6, c->host, &s6->sin6_addr) != 1 :
	    inet_pton(AF_INET, c->host, &s4->sin_addr) != 1)
		return -1;
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		c->salen = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		c->salen = sizeof(*s4);
	}
	n = (size_t)snprintf(c->head, sizeof(c->head), "POST %s HTTP/1.1\r\n"
	    "Host: %.*s\r\nContent-Type: application/xml\r\n"
	    "Connection: close\r\nUser-Agent: warrantd/%s\r\n",
	    *path ? path : "/", (int)(path - (url + 8)), url + 8,
	    PACKAGE_VERSION);
	return n < sizeof(c->head) - 64 ? 0 : -1;
}

static void
x1c_kickcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1c	*c = arg;
	struct x1c_req	*r, *a;
	bool		 busy;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(r, &c->queue, entry) {
		if (c->nactive >= X1C_ACTIVE_MAX)
			return;
		busy = false;
		if (r->key[0] != '\0')
			TAILQ_FOREACH(a, &c->active, entry)
				busy |= strcmp(a->key, r->key) == 0;
		if (busy)
			continue;
		TAILQ_REMOVE(&c->queue, r, entry);
		c->nqueued--;
		TAILQ_INSERT_TAIL(&c->active, r, entry);
		c->nactive++;
		/* One per run: an attempt failing at once may free c. */
		event_active(c->kick, EV_TIMEOUT, 0);
		x1c_attempt(r);
		return;
	}
}

struct x1c *
x1c_new(struct event_base *base, const struct wd_ne *ne, const char *admf)
{
	struct x1c *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("x1 %s", ne->name);
		return NULL;
	}
	c->base = base;
	snprintf(c->name, sizeof(c->name), "%s", ne->name);
	snprintf(c->admf, sizeof(c->admf), "%s", admf);
	c->deadline_ms = ne->deadline_ms;
	c->retries = ne->retries < X1C_ATTEMPTS_MAX ? ne->retries :
	    X1C_ATTEMPTS_MAX - 1;
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->active);
	if (x1c_url(c, ne->url) == -1) {
		log_warnx("ne \"%s\": url %s: https://ADDRESS[:PORT]/PATH with "
		    "an IP address is required", ne->name, ne->url);
		goto fail;
	}
	/* Strict modes, as for every TLS file of ours (lib/strict.c). */
	if (strict_check_log(ne->cert, STRICT_CONF) == -1 ||
	    strict_check_log(ne->ca, STRICT_CONF) == -1 ||
	    (ne->crl != NULL && strict_check_log(ne->crl, STRICT_CONF) == -1) ||
	    strict_check_log(ne->key, STRICT_KEY) == -1 ||
	    tls_key_file_private(ne->key) == -1 ||
	    (c->ctx = tls_client_ctx(ne->cert, ne->key, ne->ca,
	    ne->crl)) == NULL) {
		log_warnx("ne \"%s\": its TLS files cannot be used", ne->name);
		goto fail;
	}
	if ((c->kick = event_new(base, -1, 0, x1c_kickcb, c)) == NULL)
		goto fail;
	return c;
 fail:
	x1c_free(c);
	return NULL;
}

const char *
x1c_name(const struct x1c *c)
{
	return c->name;
}

unsigned
x1c_pending(const struct x1c *c)
{
	return c->nqueued + c->nactive;
}

void
x1c_set_clock(struct x1c *c, int64_t (*now)(void *), void *arg)
{
	c->now = now;
	c->now_arg = arg;
}

static int64_t
x1c_now(const struct x1c *c)
{
	struct timeval tv;

	if (c->now != NULL)
		return c->now(c->now_arg);
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ---- one attempt --------------------------------------------------------------- */

/* Close what the attempt opened; the request lives on. */
static void
x1c_close(struct x1c_req *r)
{
	if (r->connev != NULL)
		event_free(r->connev);
	if (r->fd != -1)
		close(r->fd);
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->body);
	r->connev = NULL;
	r->fd = -1;
	r->bev = NULL;
	r->timer = NULL;
	r->body = NULL;
	r->have_head = false;
	r->interim = 0;
	r->pausing = false;
	memset(&r->resp, 0, sizeof(r->resp));
}

/* The end of a request, exactly once; cb may send again or free c. */
static void
x1c_finish(struct x1c_req *r, const struct x1_answer *a)
{
	struct x1c *c = r->c;

	x1c_close(r);
	TAILQ_REMOVE(&c->active, r, entry);
	c->nactive--;
	if (!TAILQ_EMPTY(&c->queue) && !c->freeing)
		event_active(c->kick, EV_TIMEOUT, 0);
	r->res.answered = a != NULL;
	r->res.answer = a;
	r->res.why = a != NULL ? NULL : r->why;
	r->cb(&r->res, r->arg);
	free(r);
}

static void
x1c_pausecb(evutil_socket_t fd, short what, void *arg)
{
	struct x1c_req *r = arg;

	(void)fd;
	(void)what;
	x1c_close(r);
	x1c_attempt(r);
}

/* This attempt failed: another after a pause, or the end. */
static void x1c_fail(struct x1c_req *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
x1c_fail(struct x1c_req *r, const char *fmt, ...)
{
	va_list		 ap;
	struct timeval	 tv;
	uint32_t	 jitter = 0;
	int64_t		 ms = X1C_PAUSE_MS;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	for (char *p = r->why; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	log_info("x1 %s: %s %s (transaction %s): %s", r->c->name,
	    x1_op_name(r->m.op), r->key, r->m.txid, r->why);
	if (r->c->freeing || r->res.ntxids > r->c->retries) {
		x1c_finish(r, NULL);
		return;
	}
	x1c_close(r);
	for (size_t i = 1; i < r->res.ntxids; i++)
		ms *= 2;
	/* ±25 %: elements that failed together do not retry together. */
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	ms = ms * 3 / 4 + (int64_t)(jitter % (uint32_t)(ms / 2 + 1));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	r->pausing = true;
	if ((r->timer = evtimer_new(r->c->base, x1c_pausecb, r)) == NULL ||
	    evtimer_add(r->timer, &tv) == -1)
		x1c_finish(r, NULL);
}

static void
x1c_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1c_req *r = arg;

	(void)fd;
	(void)what;
	x1c_fail(r, "no answer within %u ms (%s)", r->c->deadline_ms, r->phase);
}

static void
x1c_tls(struct x1c_req *r)
{
	SSL		*ssl;
	char		 len[64];

	if ((ssl = SSL_new(r->c->ctx)) == NULL ||
	    tls_client_expect(ssl, r->c->host) == -1) {
		ERR_clear_error();
		SSL_free(ssl);
		x1c_fail(r, "out of memory");
		return;
	}
	r->bev = bufferevent_openssl_socket_new(r->c->base, r->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (r->bev == NULL) {
		SSL_free(ssl);
		x1c_fail(r, "out of memory");
		return;
	}
	r->fd = -1;
	bufferevent_openssl_set_allow_dirty_shutdown(r->bev, 1);
	bufferevent_setcb(r->bev, x1c_readcb, NULL, x1c_eventcb, r);
	bufferevent_setwatermark(r->bev, EV_READ, 0,
	    X1C_HEAD_MAX + X1_ANSWER_MAX + 1);
	snprintf(len, sizeof(len), "Content-Length: %zu\r\n\r\n", r->len);
	if (bufferevent_write(r->bev, r->c->head, strlen(r->c->head)) == -1 ||
	    bufferevent_write(r->bev, len, strlen(len)) == -1 ||
	    bufferevent_write(r->bev, r->body, r->len) == -1 ||
	    bufferevent_enable(r->bev, EV_READ | EV_WRITE) == -1) {
		x1c_fail(r, "out of memory");
		return;
	}
	free(r->body);
	r->body = NULL;
	r->phase = "TLS handshake";
}

static void
x1c_connectedcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1c_req	*r = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	(void)what;
	event_free(r->connev);
	r->connev = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		x1c_fail(r, "cannot connect: %s", strerror(err));
		return;
	}
	x1c_tls(r);
}

static void
x1c_attempt(struct x1c_req *r)
{
	struct x1c	*c = r->c;
	struct timeval	 tv = { c->deadline_ms / 1000,
	    (c->deadline_ms % 1000) * 1000 };
	int		 one = 1;

	r->fd = -1;
	r->m.now_us = x1c_now(c);
	if (x1_build(&r->m, &r->body, &r->len) == -1) {
		snprintf(r->why, sizeof(r->why), "the message cannot be built");
		x1c_finish(r, NULL);
		return;
	}
	/* Every attempt is a new transaction, and the caller hears of it. */
	snprintf(r->res.txids[r->res.ntxids++], X1_UUID_LEN + 1, "%s",
	    r->m.txid);
	r->phase = "connecting";
	if ((r->timer = evtimer_new(c->base, x1c_timeoutcb, r)) == NULL ||
	    evtimer_add(r->timer, &tv) == -1) {
		x1c_fail(r, "out of memory");
		return;
	}
	r->fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (r->fd == -1) {
		x1c_fail(r, "socket: %s", strerror(errno));
		return;
	}
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(r->fd, (struct sockaddr *)&c->sa, c->salen) == -1 &&
	    errno != EINPROGRESS) {
		x1c_fail(r, "cannot connect: %s", strerror(errno));
		return;
	}
	if ((r->connev = event_new(c->base, r->fd, EV_WRITE, x1c_connectedcb,
	    r)) == NULL || event_add(r->connev, NULL) == -1)
		x1c_fail(r, "out of memory");
}

static void
x1c_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct x1c_req	*r = arg;
	unsigned long	 e;
	long		 vr;
	SSL		*ssl;
	char		 buf[160];
	int		 err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		r->phase = "waiting for the answer";
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	ssl = bufferevent_openssl_get_ssl(bev);
	vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	ERR_clear_error();
	if (vr != X509_V_OK)
		x1c_fail(r, "the element's certificate is not accepted: %s",
		    X509_verify_cert_error_string(vr));
	else if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		x1c_fail(r, "TLS failed (%s): %s", r->phase, buf);
	} else if (what & BEV_EVENT_EOF)
		x1c_fail(r, "the element closed the connection (%s)", r->phase);
	else
		x1c_fail(r, "%s: %s", r->phase, err ? strerror(err) :
		    "connection failed");
}

/* The head: 1 when the body is next, 0 for more bytes, -1 if finished. */
static int
x1c_head(struct x1c_req *r, struct evbuffer *in)
{
	static const struct http_resp_limits lim = { X1C_HEAD_MAX,
	    X1C_HEADERS_MAX, X1_ANSWER_MAX };
	size_t		 n = evbuffer_get_length(in);
	const char	*buf, *why;

	if (n > X1C_HEAD_MAX)
		n = X1C_HEAD_MAX;
	if ((buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
		x1c_fail(r, "out of memory");
		return -1;
	}
	switch (http_parse_response_head(buf, n, &lim, &r->resp, &why)) {
	case HTTP_PARSE_MORE:
		return 0;
	case HTTP_PARSE_ERROR:
		x1c_fail(r, "the answer is not acceptable HTTP: %s", why);
		return -1;
	default:
		break;
	}
	evbuffer_drain(in, r->resp.head_len);
	if (r->resp.status < 200) {
		if (r->resp.status == 101 || ++r->interim > X1C_INTERIM_MAX) {
			x1c_fail(r, "HTTP %d is not an answer", r->resp.status);
			return -1;
		}
		return evbuffer_get_length(in) > 0 ? x1c_head(r, in) : 0;
	}
	if (r->resp.status != 200) {
		x1c_fail(r, "HTTP %d", r->resp.status);
		return -1;
	}
	if (!r->resp.has_length) {
		x1c_fail(r, "HTTP 200 without Content-Length");
		return -1;
	}
	r->have_head = true;
	r->phase = "reading the answer";
	return 1;
}

static void
x1c_readcb(struct bufferevent *bev, void *arg)
{
	struct x1c_req		*r = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct x1_answer	 a;
	size_t			 want;
	const char		*body;
	char			 why[X1C_WHY_LEN - 40];

	if (!r->have_head && x1c_head(r, in) != 1)
		return;
	want = (size_t)r->resp.content_length;
	if (evbuffer_get_length(in) < want)
		return;
	if (evbuffer_get_length(in) > want) {
		x1c_fail(r, "more bytes than the Content-Length");
		return;
	}
	body = want > 0 ? (const char *)evbuffer_pullup(in,
	    (ev_ssize_t)want) : "";
	if (body == NULL) {
		x1c_fail(r, "out of memory");
		return;
	}
	if (x1_parse(&r->m, body, want, &a, why, sizeof(why)) == -1) {
		x1c_fail(r, "not an X1 answer to this request: %s", why);
		return;
	}
	x1c_finish(r, &a);
	x1_answer_free(&a);
}

/* ---- the interface ------------------------------------------------------------ */

int
x1c_send(struct x1c *c, const struct x1_msg *m, const char *key, x1c_cb cb,
    void *arg)
{
	struct x1c_req *r;

	if (c->freeing || cb == NULL || strlen(key) > X1C_KEY_LEN ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->c = c;
	r->fd = -1;
	r->cb = cb;
	r->arg = arg;
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->m = *m;
	r->m.admf = c->admf;
	r->m.ne = c->name;
	if (m->task != NULL) {
		r->task = *m->task;
		r->m.task = &r->task;
	}
	if (m->dest != NULL) {
		r->dest = *m->dest;
		r->m.dest = &r->dest;
	}
	if (m->id != NULL) {
		snprintf(r->id, sizeof(r->id), "%s", m->id);
		r->m.id = r->id;
	}
	TAILQ_INSERT_TAIL(&c->queue, r, entry);
	c->nqueued++;
	event_active(c->kick, EV_TIMEOUT, 0);
	return 0;
}

void
x1c_free(struct x1c *c)
{
	struct x1c_req *r;

	if (c == NULL)
		return;
	c->freeing = true;
	while ((r = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, r, entry);
		c->nqueued--;
		TAILQ_INSERT_TAIL(&c->active, r, entry);
		c->nactive++;
	}
	while ((r = TAILQ_FIRST(&c->active)) != NULL) {
		snprintf(r->why, sizeof(r->why), "shutting down before an "
		    "answer");
		x1c_finish(r, NULL);
	}
	if (c->kick != NULL)
		event_free(c->kick);
	SSL_CTX_free(c->ctx);
	free(c);
}
