/*
 * push — the gateway as an HTTPS client with mutual TLS, carrying one HI-1
 * DELIVER message per call to an authority's endpoint and judging the
 * answer (src/warrantd/push.h says what counts as acknowledged).
 *
 * A body is given whole (push_send) or made as the connection drains
 * (push_send_body: refilled below PUSH_BODY_LOW to PUSH_BODY_HIGH; one that
 * cannot be completed closes the connection short of its length).
 *
 * One connection per message, closed after the answer ("Connection:
 * close"): the lifecycle sends a delivery's parts one at a time, each part
 * is up to 1 MiB, and a fresh full handshake per message re-checks the
 * endpoint's certificate (and CRL) every time, as the server side does.
 * At most PUSH_ACTIVE_MAX connections are open at once; further sends wait
 * in order. Each send has one absolute deadline (timeout_ms) from its
 * start covering the name lookup, connect, handshake, sending and the whole
 * answer: more bytes never extend it.
 *
 * Everything is on the caller's libevent loop: names are resolved with
 * evdns (never the blocking resolver), the answer is read into a buffer
 * bounded by PUSH_HEAD_MAX + PUSH_ANSWER_MAX, its head parsed by
 * http_resp.c and its body by hi1_parse_response(). Reasons name what went
 * wrong at the transport, HTTP or HI-1 level and never quote the message
 * sent; texts from the endpoint are cut and made printable.
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "hi1.h"
#include "hi1_parse.h"
#include "http_resp.h"
#include "log.h"
#include "push.h"
#include "tls.h"

#define PUSH_ANSWER_MAX		(1024 * 1024)
#define PUSH_HEAD_MAX		(16 * 1024)
#define PUSH_HEADERS_MAX	64
#define PUSH_INTERIM_MAX	4	/* 1xx answers before the final one */
#define PUSH_ACTIVE_MAX		16
#define PUSH_TIMEOUT_DEFAULT	30000
#define PUSH_WHY_LEN		320
#define PUSH_WRITE_MAX		(256 * 1024)	/* per turn of the loop */
/* A streamed body (push_send_body) is refilled below LOW, to HIGH. */
#define PUSH_BODY_LOW		(128 * 1024)
#define PUSH_BODY_HIGH		(256 * 1024)

struct push_send {
	TAILQ_ENTRY(push_send)	 entry;
	struct push		*p;
	char			 host[256];	/* no brackets */
	int			 port;
	char			 head[HI1_URL_LEN + 512];
	char			 authority[HI1_ID_LEN + 1];
	char			(*ids)[HI1_UUID_LEN + 1];
	size_t			 nids;
	char			*body;		/* whole, or NULL: */
	size_t			 len;
	struct push_body	 stream;	/* ... made as it drains */
	bool			 streaming;	/* stream.free still owed */
	size_t			 filled;	/* bytes of it made */
	push_cb			 cb;
	void			*arg;
	struct evdns_getaddrinfo_request *dnsreq;
	bool			 in_start;	/* inside evdns_getaddrinfo() */
	bool			 resolved;
	int			 dns_result;
	struct evutil_addrinfo	*ai;
	const char		*phase;		/* for a timeout's reason */
	int			 fd;		/* while connecting, else -1 */
	struct event		*connev;	/* ... awaiting the connect */
	struct bufferevent	*bev;
	struct event		*timer;
	bool			 have_head;
	struct http_response	 resp;
	unsigned		 interim;
};
TAILQ_HEAD(push_sends, push_send);

struct push {
	struct event_base	*base;
	struct evdns_base	*dns;
	SSL_CTX			*ctx;
	const struct hi1_schema	*schema;
	char			 carrier_id[HI1_ID_LEN + 1];
	unsigned		 timeout_ms;
	struct push_sends	 queue;		/* not started yet */
	struct push_sends	 active;	/* connecting or exchanging */
	unsigned		 nqueued, nactive;
	struct event		*kick;		/* starts queued sends */
	bool			 freeing;	/* push_send() refuses */
};

static void	push_start(struct push_send *);
static void	push_connect(struct push_send *);
static void	push_connectedcb(evutil_socket_t, short, void *);
static void	push_body_free(const void *, size_t, void *);
static void	push_readcb(struct bufferevent *, void *);
static void	push_writecb(struct bufferevent *, void *);
static int	push_body_more(struct push_send *);
static void	push_eventcb(struct bufferevent *, short, void *);

static void
push_kickcb(evutil_socket_t fd, short what, void *arg)
{
	struct push	*p = arg;
	struct push_send *s;

	(void)fd;
	(void)what;
	if (p->nactive >= PUSH_ACTIVE_MAX || (s = TAILQ_FIRST(&p->queue)) == NULL)
		return;
	TAILQ_REMOVE(&p->queue, s, entry);
	p->nqueued--;
	TAILQ_INSERT_TAIL(&p->active, s, entry);
	p->nactive++;
	/* One per run: a send failing at once may call back and free p. */
	if (p->nactive < PUSH_ACTIVE_MAX && !TAILQ_EMPTY(&p->queue))
		event_active(p->kick, EV_TIMEOUT, 0);
	push_start(s);
}

struct push *
push_new(struct event_base *base, const struct push_config *cfg,
    const struct hi1_schema *schema)
{
	struct push	*p;

	if (cfg == NULL || cfg->cert == NULL || cfg->key == NULL ||
	    cfg->ca == NULL || cfg->carrier_id == NULL || schema == NULL) {
		log_warnx("push: certificate, key, CA and carrier id are needed");
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("push");
		return NULL;
	}
	p->base = base;
	p->schema = schema;
	p->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : PUSH_TIMEOUT_DEFAULT;
	snprintf(p->carrier_id, sizeof(p->carrier_id), "%s", cfg->carrier_id);
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->active);
	if ((p->ctx = tls_client_ctx(cfg->cert, cfg->key, cfg->ca,
	    cfg->crl)) == NULL)
		goto fail;
	/* Inactive lookups keep nothing registered on the loop. */
	p->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (p->dns == NULL)
		p->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (p->dns == NULL ||
	    (p->kick = event_new(base, -1, 0, push_kickcb, p)) == NULL) {
		log_warnx("push: cannot set up the resolver");
		goto fail;
	}
	return p;
 fail:
	push_free(p);
	return NULL;
}

void
push_set_schema(struct push *p, const struct hi1_schema *schema)
{
	if (p != NULL && schema != NULL)
		p->schema = schema;
}

unsigned
push_pending(const struct push *p)
{
	return p->nqueued + p->nactive;
}

/*
 * The end of a send, exactly once: detached from push before the callback
 * runs, so that the callback may send again or even free push.
 */
static void
push_finish(struct push_send *s, int ok, const char *why)
{
	struct push	*p = s->p;

	TAILQ_REMOVE(&p->active, s, entry);
	p->nactive--;
	if (!TAILQ_EMPTY(&p->queue))
		event_active(p->kick, EV_TIMEOUT, 0);
	/* Cancelled lookups call back with EVUTIL_EAI_CANCEL: ignored. */
	if (s->dnsreq != NULL)
		evdns_getaddrinfo_cancel(s->dnsreq);
	if (s->ai != NULL)
		evutil_freeaddrinfo(s->ai);
	if (s->connev != NULL)
		event_free(s->connev);
	if (s->fd != -1)
		close(s->fd);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->streaming)
		s->stream.free(s->stream.arg);
	free(s->body);
	free(s->ids);
	s->cb(ok, why, s->arg);
	free(s);
}

static void
push_fail(struct push_send *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
push_fail(struct push_send *s, const char *fmt, ...)
{
	char	 why[PUSH_WHY_LEN];
	size_t	 n;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* Cut short: not in the middle of a UTF-8 character. */
	if ((n = strlen(why)) == sizeof(why) - 1) {
		while (n > 0 && ((unsigned char)why[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && (unsigned char)why[n - 1] >= 0xc0)
			n--;
		why[n] = '\0';
	}
	push_finish(s, 0, why);
}

void
push_free(struct push *p)
{
	struct push_send	*s;

	if (p == NULL)
		return;
	p->freeing = true;
	/* Queued ones first: finishing an active one would start them. */
	while ((s = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, s, entry);
		p->nqueued--;
		TAILQ_INSERT_TAIL(&p->active, s, entry);
		p->nactive++;
	}
	while ((s = TAILQ_FIRST(&p->active)) != NULL)
		push_finish(s, 0, "shutting down before an answer");
	if (p->kick != NULL)
		event_free(p->kick);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 1);
	SSL_CTX_free(p->ctx);
	free(p);
}

/*
 * https://HOST[:PORT][/PATH]: HOST a DNS name, an IPv4 address or an IPv6
 * address in brackets; PATH printable ASCII (default "/"). Fills s->host,
 * s->port and the request head for len bytes of body. 0 or -1.
 */
static int
push_url(struct push_send *s, const char *url, size_t len)
{
	const char	*h, *hend, *p, *path;
	unsigned long	 port = 443;
	unsigned char	 a6[16];
	size_t		 n;
	int		 w;

	if (url == NULL || strnlen(url, HI1_URL_LEN + 1) > HI1_URL_LEN ||
	    strncasecmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	path = h + strcspn(h, "/");
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			return -1;
	if (*h == '[') {
		if ((hend = memchr(h, ']', (size_t)(path - h))) == NULL)
			return -1;
		p = hend + 1;
		h++;
	} else {
		if ((hend = memchr(h, ':', (size_t)(path - h))) == NULL)
			hend = path;
		p = hend;
	}
	if ((n = (size_t)(hend - h)) == 0 || n >= sizeof(s->host))
		return -1;
	memcpy(s->host, h, n);
	s->host[n] = '\0';
	if (h[-1] == '[' ? inet_pton(AF_INET6, s->host, a6) != 1 :
	    s->host[strspn(s->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")] != '\0')
		return -1;
	if (p != path) {
		if (*p != ':' || path - p < 2 || path - p > 6)
			return -1;
		port = 0;
		for (p++; p < path; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return -1;
	}
	s->port = (int)port;
	w = snprintf(s->head, sizeof(s->head), "POST %s HTTP/1.1\r\n"
	    "Host: %.*s\r\nContent-Type: application/xml\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n"
	    "User-Agent: warrantd/%s\r\n\r\n", *path ? path : "/",
	    (int)(path - (url + 8)), url + 8, len, PACKAGE_VERSION);
	return w > 0 && (size_t)w < sizeof(s->head) ? 0 : -1;
}

/* A send queued on p, started from the loop; -1 if the arguments are unusable. */
static int
push_queue(struct push *p, struct push_send *s, const char *url,
    const char *authority, const char *const *ids, size_t n, size_t len,
    push_cb cb, void *arg)
{
	if (n == 0 || n > HI1_MAX_ACTIONS || cb == NULL || authority == NULL ||
	    strlen(authority) > HI1_ID_LEN || push_url(s, url, len) == -1 ||
	    (s->ids = calloc(n, sizeof(*s->ids))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == NULL || strlen(ids[i]) > HI1_UUID_LEN) {
			free(s->ids);
			return -1;
		}
		snprintf(s->ids[i], sizeof(s->ids[i]), "%s", ids[i]);
	}
	snprintf(s->authority, sizeof(s->authority), "%s", authority);
	s->p = p;
	s->nids = n;
	s->len = len;
	s->cb = cb;
	s->arg = arg;
	s->phase = "waiting to start";
	s->fd = -1;
	TAILQ_INSERT_TAIL(&p->queue, s, entry);
	p->nqueued++;
	/* Started from the loop: cb never runs inside push_send(). */
	event_active(p->kick, EV_TIMEOUT, 0);
	return 0;
}

int
push_send(struct push *p, const char *url, const char *authority,
    const char *const *ids, size_t n, char *body, size_t len, push_cb cb,
    void *arg)
{
	struct push_send	*s = NULL;

	if (p->freeing || body == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	s->body = body;
	if (push_queue(p, s, url, authority, ids, n, len, cb, arg) == -1)
		goto fail;
	return 0;
 fail:
	free(s);
	free(body);
	return -1;
}

int
push_send_body(struct push *p, const char *url, const char *authority,
    const char *const *ids, size_t n, const struct push_body *body,
    push_cb cb, void *arg)
{
	struct push_send	*s = NULL;

	if (body == NULL || body->fill == NULL || body->free == NULL)
		return -1;
	if (p->freeing || body->len == 0 ||
	    (s = calloc(1, sizeof(*s))) == NULL ||
	    push_queue(p, s, url, authority, ids, n, body->len, cb, arg) == -1) {
		free(s);
		body->free(body->arg);
		return -1;
	}
	s->stream = *body;
	s->streaming = true;
	return 0;
}

static void
push_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct push_send	*s = arg;

	(void)fd;
	(void)what;
	push_fail(s, "no answer within %u ms (%s)", s->p->timeout_ms, s->phase);
}

static void
push_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct push_send	*s = arg;

	if (result == EVUTIL_EAI_CANCEL) {
		/* push_finish() cancelled it: s may be gone. */
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	s->dnsreq = NULL;
	s->resolved = true;
	s->dns_result = result;
	s->ai = ai;
	if (!s->in_start)
		push_connect(s);
}

static void
push_start(struct push_send *s)
{
	struct evutil_addrinfo			 hints;
	struct evdns_getaddrinfo_request	*req;
	struct timeval				 tv;
	char					 port[8];

	tv.tv_sec = s->p->timeout_ms / 1000;
	tv.tv_usec = (s->p->timeout_ms % 1000) * 1000;
	if ((s->timer = evtimer_new(s->p->base, push_timeoutcb, s)) == NULL ||
	    evtimer_add(s->timer, &tv) == -1) {
		push_fail(s, "out of memory");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%d", s->port);
	s->phase = "resolving the endpoint's name";
	/* Addresses and hosts-file names answer at once, inside the call. */
	s->in_start = true;
	req = evdns_getaddrinfo(s->p->dns, s->host, port, &hints,
	    push_resolved, s);
	s->in_start = false;
	if (s->resolved)
		push_connect(s);
	else if (req == NULL)
		push_fail(s, "cannot resolve %s", s->host);
	else
		s->dnsreq = req;
}

/* A non-blocking socket connecting to the first address found. */
static int
push_socket(struct push_send *s)
{
	struct evutil_addrinfo	*ai = s->ai;
	int			 fd, one = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	/* Head and body are separate records: no Nagle delay between. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		one = errno;
		close(fd);
		errno = one;
		return -1;
	}
	return fd;
}

static void
push_connect(struct push_send *s)
{
	if (s->dns_result != 0 || s->ai == NULL) {
		push_fail(s, "cannot resolve %s: %s", s->host,
		    evutil_gai_strerror(s->dns_result));
		return;
	}
	s->phase = "connecting";
	if ((s->fd = push_socket(s)) == -1) {
		push_fail(s, "cannot connect to %s port %d: %s", s->host,
		    s->port, strerror(errno));
		return;
	}
	/* TCP first, on its own: a refusal is then named as one. */
	if ((s->connev = event_new(s->p->base, s->fd, EV_WRITE,
	    push_connectedcb, s)) == NULL || event_add(s->connev, NULL) == -1)
		push_fail(s, "out of memory");
}

/* Connected: TLS over the socket, the request queued behind the handshake. */
static void
push_tls(struct push_send *s)
{
	SSL	*ssl;

	if ((ssl = SSL_new(s->p->ctx)) == NULL ||
	    tls_client_expect(ssl, s->host) == -1) {
		ERR_clear_error();
		SSL_free(ssl);
		push_fail(s, "out of memory");
		return;
	}
	s->bev = bufferevent_openssl_socket_new(s->p->base, s->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		SSL_free(ssl);
		push_fail(s, "out of memory");
		return;
	}
	s->fd = -1;	/* the bufferevent's now */
	/* The endpoint may hang up without close_notify once it answered. */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, push_readcb, push_writecb, push_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0,
	    PUSH_HEAD_MAX + PUSH_ANSWER_MAX + 1);
	/* 1.4 MB in big writes, not 16 KiB (libevent's default) a turn. */
	bufferevent_set_max_single_write(s->bev, PUSH_WRITE_MAX);
	if (bufferevent_write(s->bev, s->head, strlen(s->head)) == -1 ||
	    (s->body != NULL && evbuffer_add_reference(bufferevent_get_output(
	    s->bev), s->body, s->len, push_body_free, NULL) == -1)) {
		push_fail(s, "out of memory");
		return;
	}
	/* The output buffer owns the body now (no copy of 1.4 MB). */
	s->body = NULL;
	/* Or its first 256 KiB, more each time the output drains. */
	if (s->streaming) {
		if (push_body_more(s) == -1)
			return;
		if (s->streaming)
			bufferevent_setwatermark(s->bev, EV_WRITE,
			    PUSH_BODY_LOW, 0);
	}
	if (bufferevent_enable(s->bev, EV_READ | EV_WRITE) == -1) {
		push_fail(s, "out of memory");
		return;
	}
	s->phase = "TLS handshake";
}

/*
 * More of a streamed body, when the output holds PUSH_BODY_LOW or less.
 * -1 if the send failed (s is gone): a body that cannot be completed
 * closes the connection short of its Content-Length, so the endpoint
 * never takes a partial or altered part for a whole one.
 */
static int
push_body_more(struct push_send *s)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	size_t		 held = evbuffer_get_length(out), after;
	int		 rc;

	if (!s->streaming || held > PUSH_BODY_LOW)
		return 0;
	rc = s->stream.fill(s->stream.arg, out, PUSH_BODY_HIGH - held);
	after = evbuffer_get_length(out);
	if (rc != -1 && after >= held)
		s->filled += after - held;
	if (rc == -1 || after < held || s->filled > s->len ||
	    (rc == 0 && s->filled != s->len)) {
		push_fail(s, "the message could not be completed after %zu of "
		    "its %zu bytes: connection closed (%s)", s->filled, s->len,
		    s->phase);
		return -1;
	}
	if (rc == 0) {
		s->streaming = false;
		s->stream.free(s->stream.arg);
		bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	}
	return 0;
}

static void
push_writecb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)push_body_more(arg);
}

/* Frees a message body handed to an output buffer by reference. */
static void
push_body_free(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static void
push_connectedcb(evutil_socket_t fd, short what, void *arg)
{
	struct push_send	*s = arg;
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	(void)what;
	event_free(s->connev);
	s->connev = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		push_fail(s, "cannot connect to %s port %d: %s", s->host,
		    s->port, strerror(err));
		return;
	}
	push_tls(s);
}

/* An alert by which the endpoint says "not this certificate". */
static bool
push_cert_alert(unsigned long e)
{
	static const int alerts[] = { SSL_AD_BAD_CERTIFICATE,
	    SSL_AD_UNSUPPORTED_CERTIFICATE, SSL_AD_CERTIFICATE_REVOKED,
	    SSL_AD_CERTIFICATE_EXPIRED, SSL_AD_CERTIFICATE_UNKNOWN,
	    SSL_AD_UNKNOWN_CA, SSL_AD_ACCESS_DENIED,
	    SSL_AD_CERTIFICATE_REQUIRED };
	int	 r = ERR_GET_REASON(e) - SSL_AD_REASON_OFFSET;

	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (r == alerts[i])
			return true;
	return false;
}

/* Why the TLS layer or the socket failed, in words. */
static void
push_transport_error(struct push_send *s, unsigned long e, int err)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(s->bev);
	long		 vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	char		 buf[160];

	ERR_clear_error();
	if (vr != X509_V_OK) {
		push_fail(s, "the endpoint's certificate is not accepted: %s",
		    X509_verify_cert_error_string(vr));
		return;
	}
	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		push_fail(s, "%s (%s): %s", push_cert_alert(e) ?
		    "the endpoint refused our certificate" : "TLS failed",
		    s->phase, buf);
		return;
	}
	push_fail(s, "%s to %s port %d: %s", s->phase, s->host, s->port,
	    err != 0 ? strerror(err) : "connection failed");
}

static void
push_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct push_send	*s = arg;
	int			 err = EVUTIL_SOCKET_ERROR();
	unsigned long		 e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		s->phase = "waiting for the answer";
		return;
	}
	/* An alert before the close says more than the close. */
	e = bufferevent_get_openssl_error(s->bev);
	if ((what & BEV_EVENT_EOF) && e == 0) {
		push_fail(s, "the endpoint closed the connection (%s)", s->phase);
		return;
	}
	push_transport_error(s, e, err);
}

/* Is id one of those sent, and not acknowledged yet? Marks it. */
static bool
push_claim(struct push_send *s, const char *id, bool *seen)
{
	for (size_t i = 0; i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0 && !seen[i]) {
			seen[i] = true;
			return true;
		}
	return false;
}

/* An HI-1 answer: acknowledged only if every object is, and nothing else. */
static void
push_judge_hi1(struct push_send *s, const struct hi1_response *r)
{
	bool	 seen[HI1_MAX_ACTIONS] = { false };

	if (r->error) {
		push_fail(s, "the endpoint refused the message: error %u: %s",
		    r->error_code, r->error_text);
		return;
	}
	if (strcmp(r->h.sender_id, s->authority) != 0 ||
	    strcmp(r->h.receiver_id, s->p->carrier_id) != 0) {
		push_fail(s, "the answer is from %s to %s, not from %s to %s",
		    r->h.sender_id, r->h.receiver_id, s->authority,
		    s->p->carrier_id);
		return;
	}
	for (size_t i = 0; i < r->nactions; i++) {
		const struct hi1_outcome *o = &r->actions[i];

		if (o->error) {
			push_fail(s, "action %u refused: error %u: %s",
			    o->action_id, o->error_code, o->error_text);
			return;
		}
		if (o->verb != HI1_VERB_DELIVER) {
			push_fail(s, "action %u answered with a %s response, not "
			    "DELIVERResponse", o->action_id,
			    hi1_verb_name(o->verb));
			return;
		}
		if (!push_claim(s, o->identifier, seen)) {
			push_fail(s, "action %u acknowledges %s, which is not "
			    "one of the objects sent or is acknowledged twice",
			    o->action_id, o->identifier);
			return;
		}
	}
	if (r->nactions != s->nids) {
		push_fail(s, "%zu acknowledgements for %zu objects sent",
		    r->nactions, s->nids);
		return;
	}
	push_finish(s, 1, "acknowledged");
}

static void
push_judge(struct push_send *s, const char *body, size_t len)
{
	struct hi1_response	 r;
	struct wd_error		 err;
	char			 pr[96];
	size_t			 i;

	if (hi1_parse_response(s->p->schema, body, len, &r, &err) == -1) {
		if (s->resp.status != 200) {
			push_fail(s, "HTTP %d", s->resp.status);
			return;
		}
		/* A libxml2 message about the answer, not our message. */
		for (i = 0; err.text[i] != '\0' && i + 1 < sizeof(pr); i++)
			pr[i] = isprint((unsigned char)err.text[i]) ?
			    err.text[i] : '?';
		pr[i] = '\0';
		push_fail(s, "the answer is not a valid HI-1 response: error %d: "
		    "%s", (int)err.code, pr);
		return;
	}
	if (s->resp.status == 200)
		push_judge_hi1(s, &r);
	else if (r.error)
		push_fail(s, "HTTP %d: error %u: %s", s->resp.status,
		    r.error_code, r.error_text);
	else if (r.nactions > 0 && r.actions[0].error)
		push_fail(s, "HTTP %d: action %u: error %u: %s", s->resp.status,
		    r.actions[0].action_id, r.actions[0].error_code,
		    r.actions[0].error_text);
	else
		push_fail(s, "HTTP %d", s->resp.status);
}

/* The head: 1 when the body is next, 0 for more bytes, -1 if finished. */
static int
push_head(struct push_send *s, struct evbuffer *in)
{
	static const struct http_resp_limits lim = { PUSH_HEAD_MAX,
	    PUSH_HEADERS_MAX, PUSH_ANSWER_MAX };
	size_t		 n = evbuffer_get_length(in);
	const char	*buf, *why;

	if (n > PUSH_HEAD_MAX)
		n = PUSH_HEAD_MAX;
	if ((buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
		push_fail(s, "out of memory");
		return -1;
	}
	switch (http_parse_response_head(buf, n, &lim, &s->resp, &why)) {
	case HTTP_PARSE_MORE:
		return 0;
	case HTTP_PARSE_ERROR:
		if (s->resp.has_length && s->resp.content_length > PUSH_ANSWER_MAX)
			push_fail(s, "HTTP %d with a %llu-byte answer: at most "
			    "%d accepted", s->resp.status,
			    (unsigned long long)s->resp.content_length,
			    PUSH_ANSWER_MAX);
		else
			push_fail(s, "the answer is not acceptable HTTP: %s", why);
		return -1;
	default:
		break;
	}
	evbuffer_drain(in, s->resp.head_len);
	if (s->resp.status < 200) {
		if (s->resp.status == 101 || ++s->interim > PUSH_INTERIM_MAX) {
			push_fail(s, "HTTP %d is not an answer to a POST",
			    s->resp.status);
			return -1;
		}
		return evbuffer_get_length(in) > 0 ? push_head(s, in) : 0;
	}
	if (!s->resp.has_length) {
		if (s->resp.status == 200)
			push_fail(s, "HTTP 200 without Content-Length");
		else
			push_fail(s, "HTTP %d", s->resp.status);
		return -1;
	}
	s->have_head = true;
	s->phase = "reading the answer";
	return 1;
}

static void
push_readcb(struct bufferevent *bev, void *arg)
{
	struct push_send	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 want;
	const char		*body;

	if (!s->have_head && push_head(s, in) != 1)
		return;
	want = (size_t)s->resp.content_length;
	if (evbuffer_get_length(in) < want)
		return;
	if (evbuffer_get_length(in) > want) {
		push_fail(s, "HTTP %d with more bytes than its Content-Length",
		    s->resp.status);
		return;
	}
	/* Empty: pullup of 0 bytes is NULL; the judge refuses "". */
	body = want > 0 ? (const char *)evbuffer_pullup(in, (ev_ssize_t)want) :
	    "";
	if (body == NULL) {
		push_fail(s, "out of memory");
		return;
	}
	push_judge(s, body, want);
}
