/*
 * https_client — one mutual-TLS HTTPS exchange per request, on the
 * caller's libevent loop (src/warrantd/https_client.h says what it owns).
 *
 * A request runs: start (from the loop, never inside hc_request), name
 * lookup (evdns; IP literals answer at once), a non-blocking TCP connect
 * on its own (a refusal is named as one), the TLS handshake with the
 * request queued behind it, then the answer read into a buffer bounded by
 * head_max + body_max: its head parsed by http_resp.c (up to interim_max
 * 1xx answers skipped), its body framed by Content-Length. One absolute
 * deadline from hc_request() covers all of it; more bytes never extend it.
 *
 * Reasons name what went wrong at the transport or HTTP level, the phase
 * it happened in and the server's address, in ASCII; they never quote the
 * body sent, nor any text of the server's.
 */
#include "config.h"

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
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "https_client.h"
#include "log.h"
#include "tls.h"

#define HC_WHY_LEN	320
#define HC_PEER_LEN	32
#define HC_WRITE_MAX	(256 * 1024)	/* per turn of the loop */
#define HC_COPY_MAX	(12 * 1024)	/* a body sent with its head, copied */
/* A streamed body is refilled below LOW, to HIGH. */
#define HC_BODY_LOW	(128 * 1024)
#define HC_BODY_HIGH	(256 * 1024)

struct hc_ctx {
	struct event_base	*base;
	struct evdns_base	*dns;		/* NULL: IP literals only */
	SSL_CTX			*ssl;
	char			 peer[HC_PEER_LEN];
	char			 resolving[HC_PEER_LEN + 32];	/* a phase */
};

struct hc_req {
	struct hc_ctx		*c;
	struct hc_url		 url;
	struct hc_limits	 lim;
	unsigned		 timeout_ms;
	bool			 only_200;
	hc_cb			 cb;
	void			*arg;
	char			 head[HC_URL_LEN + HC_HOST_LEN + 256];
	char			*body;		/* whole, or NULL: */
	size_t			 len;
	struct hc_stream	 stream;	/* ... made as it drains */
	bool			 streaming;	/* stream.free still owed */
	size_t			 filled;	/* bytes of it made */
	struct evdns_getaddrinfo_request *dnsreq;
	bool			 in_start;	/* inside evdns_getaddrinfo() */
	bool			 resolved;
	int			 dns_result;
	struct evutil_addrinfo	*ai;
	const char		*phase;		/* for a timeout's reason */
	int			 fd;		/* while connecting, else -1 */
	struct event		*startev;
	struct event		*connev;	/* awaiting the connect */
	struct event		*timer;		/* the deadline */
	struct bufferevent	*bev;
	bool			 have_head;
	struct http_response	 resp;
	unsigned		 interim;
};

static void	hc_connect(struct hc_req *);
static void	hc_readcb(struct bufferevent *, void *);
static void	hc_writecb(struct bufferevent *, void *);
static void	hc_eventcb(struct bufferevent *, short, void *);

/* ---- the context ---------------------------------------------------------- */

struct hc_ctx *
hc_ctx_new(struct event_base *base, const struct hc_config *cfg)
{
	struct hc_ctx	*c;

	if (cfg == NULL || cfg->cert == NULL || cfg->key == NULL ||
	    cfg->ca == NULL) {
		log_warnx("https client: certificate, key and CA are needed");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("https client");
		return NULL;
	}
	c->base = base;
	snprintf(c->peer, sizeof(c->peer), "%s", cfg->peer != NULL ?
	    cfg->peer : "server");
	snprintf(c->resolving, sizeof(c->resolving), "resolving the %s's name",
	    c->peer);
	if ((c->ssl = tls_client_ctx(cfg->cert, cfg->key, cfg->ca,
	    cfg->crl)) == NULL)
		goto fail;
	if (cfg->resolve) {
		/* Inactive lookups keep nothing registered on the loop. */
		c->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (c->dns == NULL)
			c->dns = evdns_base_new(base,
			    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (c->dns == NULL) {
			log_warnx("https client: cannot set up the resolver");
			goto fail;
		}
	}
	return c;
 fail:
	hc_ctx_free(c);
	return NULL;
}

void
hc_ctx_free(struct hc_ctx *c)
{
	if (c == NULL)
		return;
	if (c->dns != NULL)
		evdns_base_free(c->dns, 1);
	SSL_CTX_free(c->ssl);
	free(c);
}

/* ---- URLs ----------------------------------------------------------------- */

/* ":PORT" between p and path, or nothing (443). -1 if not 1-65535. */
static int
hc_url_port(const char *p, const char *path)
{
	unsigned long	 port = 443;

	if (p == path)
		return (int)port;
	if (*p != ':' || path - p < 2 || path - p > 6)
		return -1;
	port = 0;
	for (p++; p < path; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port == 0 || port > 65535 ? -1 : (int)port;
}

int
hc_url_parse(const char *url, bool ip_only, struct hc_url *u)
{
	const char	*h, *hend, *p, *path;
	unsigned char	 a[16];
	size_t		 n;
	bool		 v6;

	if (url == NULL || strnlen(url, HC_URL_LEN + 1) > HC_URL_LEN ||
	    strncasecmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	path = h + strcspn(h, "/");
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			return -1;
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
	if ((n = (size_t)(hend - h)) == 0 || n >= sizeof(u->host) ||
	    (size_t)(path - (url + 8)) >= sizeof(u->authority))
		return -1;
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (v6)
		u->literal = inet_pton(AF_INET6, u->host, a) == 1;
	else
		u->literal = inet_pton(AF_INET, u->host, a) == 1;
	if (v6 ? !u->literal : !u->literal && (ip_only ||
	    u->host[strspn(u->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")] != '\0'))
		return -1;
	if ((u->port = hc_url_port(p, path)) == -1)
		return -1;
	memcpy(u->authority, url + 8, (size_t)(path - (url + 8)));
	u->authority[path - (url + 8)] = '\0';
	snprintf(u->path, sizeof(u->path), "%s", *path ? path : "/");
	return 0;
}

/* ---- the end of a request --------------------------------------------------- */

/* What calls back or needs the context: released before cb runs. */
static void
hc_detach(struct hc_req *r)
{
	/* Cancelled lookups call back with EVUTIL_EAI_CANCEL: ignored. */
	if (r->dnsreq != NULL)
		evdns_getaddrinfo_cancel(r->dnsreq);
	r->dnsreq = NULL;
	if (r->ai != NULL)
		evutil_freeaddrinfo(r->ai);
	r->ai = NULL;
	if (r->streaming)
		r->stream.free(r->stream.arg);
	r->streaming = false;
}

static void
hc_release(struct hc_req *r)
{
	if (r->startev != NULL)
		event_free(r->startev);
	if (r->connev != NULL)
		event_free(r->connev);
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->fd != -1)
		close(r->fd);
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	free(r->body);
	free(r);
}

void
hc_cancel(struct hc_req *r)
{
	if (r == NULL)
		return;
	hc_detach(r);
	hc_release(r);
}

/* The end, exactly once: a (the answer) or why. cb may free the context. */
static void
hc_end(struct hc_req *r, const struct hc_answer *a, const char *why)
{
	hc_detach(r);
	r->cb(a, why, r->arg);
	hc_release(r);
}

static void
hc_fail(struct hc_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
hc_fail(struct hc_req *r, const char *fmt, ...)
{
	char	 why[HC_WHY_LEN];
	va_list	 ap;

	/* ASCII only: our words, OpenSSL's and http_resp.c's, a checked host. */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	hc_end(r, NULL, why);
}

/* ---- starting: the deadline, the name, the connect --------------------------- */

static void
hc_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_req	*r = arg;

	(void)fd;
	(void)what;
	hc_fail(r, "no answer within %u ms (%s)", r->timeout_ms, r->phase);
}

static void
hc_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct hc_req	*r = arg;

	if (result == EVUTIL_EAI_CANCEL) {
		/* hc_detach() cancelled it: r may be gone. */
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	r->dnsreq = NULL;
	r->resolved = true;
	r->dns_result = result;
	r->ai = ai;
	if (!r->in_start)
		hc_connect(r);
}

static void
hc_startcb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_req				*r = arg;
	struct evutil_addrinfo			 hints;
	struct evdns_getaddrinfo_request	*req = NULL;
	char					 port[8];

	(void)fd;
	(void)what;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%d", r->url.port);
	r->phase = r->c->resolving;
	if (r->c->dns == NULL) {
		/* An address, never a name: no lookup, nothing blocks. */
		hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
		r->resolved = true;
		r->dns_result = evutil_getaddrinfo(r->url.host, port, &hints,
		    &r->ai);
		hc_connect(r);
		return;
	}
	/* Addresses and hosts-file names answer at once, inside the call. */
	r->in_start = true;
	req = evdns_getaddrinfo(r->c->dns, r->url.host, port, &hints,
	    hc_resolved, r);
	r->in_start = false;
	if (r->resolved)
		hc_connect(r);
	else if (req == NULL)
		hc_fail(r, "cannot resolve %s", r->url.host);
	else
		r->dnsreq = req;
}

/* A non-blocking socket connecting to the first address found. */
static int
hc_socket(const struct evutil_addrinfo *ai)
{
	int	 fd, one = 1;

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

static void	hc_connectedcb(evutil_socket_t, short, void *);

static void
hc_connect(struct hc_req *r)
{
	if (r->dns_result != 0 || r->ai == NULL) {
		hc_fail(r, "cannot resolve %s: %s", r->url.host,
		    evutil_gai_strerror(r->dns_result));
		return;
	}
	r->phase = "connecting";
	if ((r->fd = hc_socket(r->ai)) == -1) {
		hc_fail(r, "cannot connect to %s port %d: %s", r->url.host,
		    r->url.port, strerror(errno));
		return;
	}
	/* TCP first, on its own: a refusal is then named as one. */
	if ((r->connev = event_new(r->c->base, r->fd, EV_WRITE,
	    hc_connectedcb, r)) == NULL || event_add(r->connev, NULL) == -1)
		hc_fail(r, "out of memory");
}

/* ---- sending ------------------------------------------------------------------ */

/*
 * More of a streamed body, when the output holds HC_BODY_LOW or less.
 * -1 if the request failed (r is gone): a body that cannot be completed
 * closes the connection short of its Content-Length, so the server never
 * takes a partial or altered message for a whole one.
 */
static int
hc_body_more(struct hc_req *r)
{
	struct evbuffer	*out = bufferevent_get_output(r->bev);
	size_t		 held = evbuffer_get_length(out), after;
	int		 rc;

	if (!r->streaming || held > HC_BODY_LOW)
		return 0;
	rc = r->stream.fill(r->stream.arg, out, HC_BODY_HIGH - held);
	after = evbuffer_get_length(out);
	if (rc != -1 && after >= held)
		r->filled += after - held;
	if (rc == -1 || after < held || r->filled > r->len ||
	    (rc == 0 && r->filled != r->len)) {
		hc_fail(r, "the message could not be completed after %zu of "
		    "its %zu bytes: connection closed (%s)", r->filled, r->len,
		    r->phase);
		return -1;
	}
	if (rc == 0) {
		r->streaming = false;
		r->stream.free(r->stream.arg);
		bufferevent_setwatermark(r->bev, EV_WRITE, 0, 0);
	}
	return 0;
}

static void
hc_writecb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)hc_body_more(arg);
}

/* Frees a body handed to an output buffer by reference. */
static void
hc_body_free(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/*
 * The head and the whole body (or its first part) behind the handshake.
 * A small whole body is copied behind the head in one piece of the buffer,
 * so the request leaves as one TLS record: a server that reads the head
 * and closes at once (an element going down) finds no unread bytes, and
 * the connection is closed rather than reset. A large one is handed over
 * by reference (no copy of a 1.4 MB message).
 */
static int
hc_queue_request(struct hc_req *r)
{
	struct evbuffer	*out = bufferevent_get_output(r->bev);
	size_t		 hlen = strlen(r->head);
	int		 rc;

	if (r->body != NULL && r->len <= HC_COPY_MAX)
		rc = evbuffer_expand(out, hlen + r->len) == -1 ||
		    evbuffer_add(out, r->head, hlen) == -1 ||
		    evbuffer_add(out, r->body, r->len) == -1 ? -1 : 0;
	else
		rc = evbuffer_add(out, r->head, hlen) == -1 ||
		    (r->body != NULL && evbuffer_add_reference(out, r->body,
		    r->len, hc_body_free, NULL) == -1) ? -1 : 0;
	if (rc == -1) {
		hc_fail(r, "out of memory");
		return -1;
	}
	/* Copied, or the output buffer owns it now. */
	if (r->body != NULL && r->len <= HC_COPY_MAX)
		free(r->body);
	r->body = NULL;
	if (r->streaming) {
		if (hc_body_more(r) == -1)
			return -1;
		if (r->streaming)
			bufferevent_setwatermark(r->bev, EV_WRITE,
			    HC_BODY_LOW, 0);
	}
	return 0;
}

/* Connected: TLS over the socket, the request queued behind the handshake. */
static void
hc_tls(struct hc_req *r)
{
	SSL	*ssl;

	if ((ssl = SSL_new(r->c->ssl)) == NULL ||
	    tls_client_expect(ssl, r->url.host) == -1) {
		ERR_clear_error();
		SSL_free(ssl);
		hc_fail(r, "out of memory");
		return;
	}
	r->bev = bufferevent_openssl_socket_new(r->c->base, r->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (r->bev == NULL) {
		SSL_free(ssl);
		hc_fail(r, "out of memory");
		return;
	}
	r->fd = -1;	/* the bufferevent's now */
	/* The server may hang up without close_notify once it answered. */
	bufferevent_openssl_set_allow_dirty_shutdown(r->bev, 1);
	bufferevent_setcb(r->bev, hc_readcb, hc_writecb, hc_eventcb, r);
	bufferevent_setwatermark(r->bev, EV_READ, 0,
	    r->lim.head_max + r->lim.body_max + 1);
	/* Big writes, not 16 KiB (libevent's default) a turn. */
	bufferevent_set_max_single_write(r->bev, HC_WRITE_MAX);
	if (hc_queue_request(r) == -1)
		return;
	if (bufferevent_enable(r->bev, EV_READ | EV_WRITE) == -1) {
		hc_fail(r, "out of memory");
		return;
	}
	r->phase = "TLS handshake";
}

static void
hc_connectedcb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_req	*r = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	(void)what;
	event_free(r->connev);
	r->connev = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		hc_fail(r, "cannot connect to %s port %d: %s", r->url.host,
		    r->url.port, strerror(err));
		return;
	}
	hc_tls(r);
}

/* ---- transport failures -------------------------------------------------------- */

/* An alert by which the server says "not this certificate". */
static bool
hc_cert_alert(unsigned long e)
{
	static const int alerts[] = { SSL_AD_BAD_CERTIFICATE,
	    SSL_AD_UNSUPPORTED_CERTIFICATE, SSL_AD_CERTIFICATE_REVOKED,
	    SSL_AD_CERTIFICATE_EXPIRED, SSL_AD_CERTIFICATE_UNKNOWN,
	    SSL_AD_UNKNOWN_CA, SSL_AD_ACCESS_DENIED,
	    SSL_AD_CERTIFICATE_REQUIRED };
	int	 reason = ERR_GET_REASON(e) - SSL_AD_REASON_OFFSET;

	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (reason == alerts[i])
			return true;
	return false;
}

/* Why the TLS layer or the socket failed, in words. */
static void
hc_transport_error(struct hc_req *r, unsigned long e, int err)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(r->bev);
	long		 vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	char		 buf[160];

	ERR_clear_error();
	if (vr != X509_V_OK) {
		hc_fail(r, "the %s's certificate is not accepted: %s",
		    r->c->peer, X509_verify_cert_error_string(vr));
		return;
	}
	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		if (hc_cert_alert(e))
			hc_fail(r, "the %s refused our certificate (%s): %s",
			    r->c->peer, r->phase, buf);
		else
			hc_fail(r, "TLS failed (%s): %s", r->phase, buf);
		return;
	}
	hc_fail(r, "%s to %s port %d: %s", r->phase, r->url.host, r->url.port,
	    err != 0 ? strerror(err) : "connection failed");
}

static void
hc_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct hc_req	*r = arg;
	int		 err = EVUTIL_SOCKET_ERROR();
	unsigned long	 e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		r->phase = "waiting for the answer";
		return;
	}
	/* An alert before the close says more than the close. */
	e = bufferevent_get_openssl_error(r->bev);
	if ((what & BEV_EVENT_EOF) && e == 0) {
		ERR_clear_error();
		hc_fail(r, "the %s closed the connection (%s)", r->c->peer,
		    r->phase);
		return;
	}
	hc_transport_error(r, e, err);
}

/* ---- the answer ------------------------------------------------------------------ */

/* The final head's status: 1 when the body is next, -1 if finished. */
static int
hc_head_final(struct hc_req *r)
{
	if (r->resp.status != 200 && r->only_200) {
		hc_fail(r, "HTTP %d", r->resp.status);
		return -1;
	}
	if (!r->resp.has_length) {
		if (r->resp.status == 200)
			hc_fail(r, "HTTP 200 without Content-Length");
		else
			hc_fail(r, "HTTP %d", r->resp.status);
		return -1;
	}
	r->have_head = true;
	r->phase = "reading the answer";
	return 1;
}

/* The head: 1 when the body is next, 0 for more bytes, -1 if finished. */
static int
hc_head(struct hc_req *r, struct evbuffer *in)
{
	struct http_resp_limits	 lim = { r->lim.head_max, r->lim.headers_max,
	    r->lim.body_max };
	size_t			 n = evbuffer_get_length(in);
	const char		*buf, *why;

	if (n > r->lim.head_max)
		n = r->lim.head_max;
	if ((buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
		hc_fail(r, "out of memory");
		return -1;
	}
	switch (http_parse_response_head(buf, n, &lim, &r->resp, &why)) {
	case HTTP_PARSE_MORE:
		return 0;
	case HTTP_PARSE_ERROR:
		if (r->resp.has_length && r->resp.content_length >
		    r->lim.body_max)
			hc_fail(r, "HTTP %d with a %llu-byte answer: at most "
			    "%zu accepted", r->resp.status,
			    (unsigned long long)r->resp.content_length,
			    r->lim.body_max);
		else
			hc_fail(r, "the answer is not acceptable HTTP: %s", why);
		return -1;
	default:
		break;
	}
	evbuffer_drain(in, r->resp.head_len);
	if (r->resp.status >= 200)
		return hc_head_final(r);
	if (r->resp.status == 101 || ++r->interim > r->lim.interim_max) {
		hc_fail(r, "HTTP %d is not an answer to a POST", r->resp.status);
		return -1;
	}
	return evbuffer_get_length(in) > 0 ? hc_head(r, in) : 0;
}

static void
hc_readcb(struct bufferevent *bev, void *arg)
{
	struct hc_req		*r = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct hc_answer	 a;
	size_t			 want;

	if (!r->have_head && hc_head(r, in) != 1)
		return;
	want = (size_t)r->resp.content_length;
	if (evbuffer_get_length(in) < want)
		return;
	if (evbuffer_get_length(in) > want) {
		hc_fail(r, "HTTP %d with more bytes than its Content-Length",
		    r->resp.status);
		return;
	}
	/* Empty: pullup of 0 bytes is NULL. */
	a.body = want > 0 ? (const char *)evbuffer_pullup(in,
	    (ev_ssize_t)want) : "";
	if (a.body == NULL) {
		hc_fail(r, "out of memory");
		return;
	}
	a.status = r->resp.status;
	a.resp = &r->resp;
	a.len = want;
	hc_end(r, &a, NULL);
}

/* ---- the interface ----------------------------------------------------------------- */

static bool
hc_spec_usable(const struct hc_ctx *c, const struct hc_spec *spec, hc_cb cb)
{
	const struct hc_limits	*l = spec->limits;

	return cb != NULL && spec->url != NULL && l != NULL &&
	    l->head_max > 0 && l->body_max > 0 &&
	    (spec->body != NULL) != (spec->stream != NULL) &&
	    (spec->stream == NULL || (spec->stream->len > 0 &&
	    spec->stream->fill != NULL && spec->stream->free != NULL)) &&
	    spec->timeout_ms > 0 && (spec->url->literal || c->dns != NULL) &&
	    (spec->content_type == NULL || strlen(spec->content_type) < 128);
}

/* The request's head for len bytes of body. 0 or -1. */
static int
hc_make_head(struct hc_req *r, const char *content_type)
{
	int	 w;

	w = snprintf(r->head, sizeof(r->head), "POST %s HTTP/1.1\r\n"
	    "Host: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\nUser-Agent: warrantd/%s\r\n\r\n",
	    r->url.path, r->url.authority, content_type != NULL ?
	    content_type : "application/xml", r->len, PACKAGE_VERSION);
	return w > 0 && (size_t)w < sizeof(r->head) ? 0 : -1;
}

struct hc_req *
hc_request(struct hc_ctx *c, const struct hc_spec *spec, hc_cb cb, void *arg)
{
	struct hc_req	*r = NULL;
	struct timeval	 tv;

	if (c == NULL || spec == NULL || !hc_spec_usable(c, spec, cb) ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	r->fd = -1;
	r->c = c;
	r->url = *spec->url;
	r->lim = *spec->limits;
	r->timeout_ms = spec->timeout_ms;
	r->only_200 = spec->only_200;
	r->cb = cb;
	r->arg = arg;
	r->phase = "waiting to start";
	r->body = spec->body;
	r->len = spec->body != NULL ? spec->len : spec->stream->len;
	if (spec->stream != NULL) {
		r->stream = *spec->stream;
		r->streaming = true;
	}
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	if (hc_make_head(r, spec->content_type) == -1 ||
	    (r->timer = evtimer_new(c->base, hc_timeoutcb, r)) == NULL ||
	    evtimer_add(r->timer, &tv) == -1 ||
	    (r->startev = event_new(c->base, -1, 0, hc_startcb, r)) == NULL) {
		hc_cancel(r);
		return NULL;
	}
	/* Started from the loop: cb never runs inside hc_request(). */
	event_active(r->startev, EV_TIMEOUT, 0);
	return r;
 fail:
	free(spec != NULL ? spec->body : NULL);
	if (spec != NULL && spec->stream != NULL && spec->stream->free != NULL)
		spec->stream->free(spec->stream->arg);
	return NULL;
}
