/*
 * ctl_net — warrantctl's transport: the server URL, a TCP connection made
 * within the timeout, and mutual TLS on top with the server checked against
 * the --cacert bundle and the URL's host name or address. Blocking sockets
 * are enough for a client that does one thing at a time; SO_RCVTIMEO and
 * SO_SNDTIMEO bound every read and write so nothing hangs.
 *
 * Failures are turned into sentences here, once, because only here is it
 * known whether the server refused our certificate (an alert it sent), our
 * side distrusted its certificate, or the network failed: the user needs a
 * different remedy for each.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "wd_tls_policy.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

struct ctl_conn {
	int	 fd;
	SSL	*ssl;
	int	 timeout;
	int	 alert;		/* last alert received from the peer, or -1 */
	int	 used;		/* a response was read on this connection */
	int	 broken;	/* fatal TLS error: no close_notify */
};

/* Index of our ctl_conn pointer in the SSL's ex_data, for the callback. */
static int	ctl_ssl_idx = -1;

void
ctl_err_set(struct ctl_err *err, enum ctl_errkind kind, const char *fmt, ...)
{
	va_list ap;

	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static int
url_port(const char *s, size_t n, struct ctl_url *u)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	snprintf(u->port, sizeof(u->port), "%lu", v);
	return 0;
}

/*
 * https://HOST[:PORT][/], HOST a name, an IPv4 literal or a bracketed IPv6
 * literal. The request target is always /hi1, so a path is refused rather
 * than silently ignored.
 */
int
ctl_url_parse(const char *url, struct ctl_url *u, struct ctl_err *err)
{
	const char	*h, *end, *hend, *p;
	unsigned char	 addr[sizeof(struct in6_addr)];

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "https://", 8) != 0) {
		ctl_err_set(err, CTL_E_TRANSPORT, "%s: only https:// URLs are "
		    "accepted", url);
		return -1;
	}
	h = url + 8;
	end = h + strcspn(h, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0) {
		ctl_err_set(err, CTL_E_TRANSPORT, "%s: the URL must not have "
		    "a path (requests always go to %s)", url, CTL_TARGET);
		return -1;
	}
	if (*h == '[') {
		if ((hend = memchr(h, ']', (size_t)(end - h))) == NULL)
			goto bad;
		p = hend + 1;
		h++;
	} else {
		hend = memchr(h, ':', (size_t)(end - h));
		if (hend == NULL)
			hend = end;
		p = hend;
	}
	if (hend == h || (size_t)(hend - h) >= sizeof(u->host))
		goto bad;
	memcpy(u->host, h, (size_t)(hend - h));
	if (p == end)
		snprintf(u->port, sizeof(u->port), "443");
	else if (*p != ':' || url_port(p + 1, (size_t)(end - p - 1), u) == -1)
		goto bad;
	/* In brackets an IPv6 literal; else a name or IPv4, put in Host. */
	if (url[8] == '[' ? inet_pton(AF_INET6, u->host, addr) != 1 :
	    u->host[strspn(u->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")] != '\0')
		goto bad;
	u->is_ip = inet_pton(AF_INET, u->host, addr) == 1 ||
	    inet_pton(AF_INET6, u->host, addr) == 1;
	if ((size_t)(end - (url + 8)) >= sizeof(u->authority))
		goto bad;
	memcpy(u->authority, url + 8, (size_t)(end - (url + 8)));
	return 0;
 bad:
	ctl_err_set(err, CTL_E_TRANSPORT, "%s: malformed URL (expected "
	    "https://HOST[:PORT], IPv6 as https://[ADDR]:PORT)", url);
	return -1;
}

static const char *
tls_reason(void)
{
	unsigned long	 e = ERR_peek_last_error();
	const char	*r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown error";
}

/* OpenSSL would only say "system lib": name the file and the reason. */
static int
readable(const char *path, struct ctl_err *err)
{
	if (access(path, R_OK) == 0)
		return 0;
	ctl_err_set(err, CTL_E_TRANSPORT, "%s: %s", path, strerror(errno));
	return -1;
}

SSL_CTX *
ctl_tls_ctx(const char *cert, const char *key, const char *cacert,
    struct ctl_err *err)
{
	SSL_CTX	*ctx;

	if (readable(cacert, err) == -1 || readable(cert, err) == -1 ||
	    readable(key, err) == -1)
		return NULL;

	if (ctl_ssl_idx == -1)
		ctl_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (ctl_ssl_idx == -1) {
		ctl_err_set(err, CTL_E_TRANSPORT, "OpenSSL: no ex_data index");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		ctl_err_set(err, CTL_E_TRANSPORT, "OpenSSL: %s", tls_reason());
		return NULL;
	}
	/* Only the given CA: the system store has no say over warrantd. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (wd_tls_policy(ctx, false) == -1)
		ctl_err_set(err, CTL_E_TRANSPORT, "OpenSSL: %s", tls_reason());
	else if (SSL_CTX_load_verify_file(ctx, cacert) != 1)
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "%s: cannot load CA certificates: %s", cacert,
		    tls_reason());
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "%s: cannot load certificate: %s", cert, tls_reason());
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "%s: cannot load private key: %s", key, tls_reason());
	else if (SSL_CTX_check_private_key(ctx) != 1)
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "%s does not match the certificate in %s", key, cert);
	else {
		ERR_clear_error();
		return ctx;
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A non-blocking connect awaited with poll, so a black hole costs timeout. */
static int
tcp_try(const struct addrinfo *ai, double deadline)
{
	struct pollfd	pfd;
	socklen_t	slen = sizeof(int);
	int		fd, flags, soerr = 0, left, r;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			left = (int)((deadline - mono_now()) * 1000);
			if (left <= 0) {
				errno = ETIMEDOUT;
				goto fail;
			}
			r = poll(&pfd, 1, left);
		} while (r == -1 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == -1)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;
 fail:
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

static int
tcp_connect(const struct ctl_url *u, int timeout, struct ctl_err *err)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { .tv_sec = timeout };
	double		 deadline = mono_now() + timeout;
	int		 fd = -1, r, one = 1, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (u->is_ip ? AI_NUMERICHOST : 0);
	if ((r = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		ctl_err_set(err, CTL_E_TRANSPORT, "cannot resolve %s: %s",
		    u->host, r == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		if ((fd = tcp_try(ai, deadline)) == -1)
			saved = errno;
	freeaddrinfo(res);
	if (fd == -1) {
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "cannot connect to %s port %s: %s", u->host, u->port,
		    saved == ETIMEDOUT ? "timed out" : strerror(saved));
		return -1;
	}
	/* Headers and body are two TLS records: do not let Nagle hold one. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		ctl_err_set(err, CTL_E_TRANSPORT, "setsockopt: %s",
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Alerts by which a server says "not this certificate", in plain words. */
static const struct {
	int		 desc;
	const char	*text;
} cert_alerts[] = {
	{ SSL_AD_BAD_CERTIFICATE, "bad certificate" },
	{ SSL_AD_UNSUPPORTED_CERTIFICATE, "unsupported certificate" },
	{ SSL_AD_CERTIFICATE_REVOKED, "certificate revoked" },
	{ SSL_AD_CERTIFICATE_EXPIRED, "certificate expired" },
	{ SSL_AD_CERTIFICATE_UNKNOWN, "certificate unknown" },
	{ SSL_AD_UNKNOWN_CA, "unknown CA" },
	{ SSL_AD_ACCESS_DENIED, "access denied" },
	{ SSL_AD_CERTIFICATE_REQUIRED, "certificate required" },
};

static const char *
cert_alert_text(int desc)
{
	for (size_t i = 0; i < nitems(cert_alerts); i++)
		if (cert_alerts[i].desc == desc)
			return cert_alerts[i].text;
	return NULL;
}

/*
 * Remember the peer's fatal alerts: the error queue does not always keep
 * them. Certificate alerts count whatever their level, since TLS 1.3
 * makes every alert but close_notify and user_canceled an error.
 */
static void
tls_info_cb(const SSL *ssl, int where, int ret)
{
	struct ctl_conn	*c;
	int		 desc = ret & 0xff;

	if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT ||
	    (c = SSL_get_ex_data(ssl, ctl_ssl_idx)) == NULL)
		return;
	if ((ret >> 8) == SSL3_AL_FATAL || cert_alert_text(desc) != NULL)
		c->alert = desc;
}

static void
tls_alert_err(int desc, struct ctl_err *err)
{
	const char *text = cert_alert_text(desc);

	if (text != NULL) {
		ctl_err_set(err, CTL_E_REFUSED, "%s (TLS alert %d)", text,
		    desc);
		return;
	}
	ctl_err_set(err, CTL_E_TRANSPORT, "TLS failed: the server sent alert "
	    "\"%s\" (TLS alert %d)", SSL_alert_desc_string_long(desc), desc);
}

/* A failure without an alert from the peer: our side, or the network. */
static int
tls_fail_plain(struct ctl_conn *c, int ret, const char *what, int saved,
    struct ctl_err *err)
{
	unsigned long	e = ERR_peek_error();
	int		reason = ERR_GET_REASON(e);
	long		vr = SSL_get_verify_result(c->ssl);

	c->broken = 1;
	if (SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN ||
	    (e == 0 && (saved == 0 || saved == EPIPE || saved == ECONNRESET)))
		ctl_err_set(err, CTL_E_CLOSED,
		    "%s: connection %s by the server", what,
		    saved == EPIPE || saved == ECONNRESET ? "reset" : "closed");
	else if (e == 0)
		ctl_err_set(err, CTL_E_TRANSPORT, "%s: %s", what,
		    strerror(saved));
	else if (reason > SSL_AD_REASON_OFFSET &&
	    reason <= SSL_AD_REASON_OFFSET + 255)
		tls_alert_err(reason - SSL_AD_REASON_OFFSET, err);
	else if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && vr != X509_V_OK)
		ctl_err_set(err, CTL_E_TRANSPORT, "the server's certificate "
		    "was not accepted: %s", X509_verify_cert_error_string(vr));
	else if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		ctl_err_set(err, CTL_E_CLOSED,
		    "%s: connection closed by the server", what);
	else
		ctl_err_set(err, CTL_E_TRANSPORT, "%s: TLS error: %s", what,
		    tls_reason());
	ERR_clear_error();
	return -1;
}

/* A failed SSL call: 1 to retry it (EINTR), else -1 with *err set. */
static int
tls_fail(struct ctl_conn *c, int ret, const char *what, struct ctl_err *err)
{
	int	saved = errno;

	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* Blocking socket: only a signal or SO_RCVTIMEO is here. */
		if (saved == EINTR)
			return 1;
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "%s: no progress for %d seconds (--timeout)", what,
		    c->timeout);
		break;
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL:
	case SSL_ERROR_SSL:
		if (c->alert == -1)
			return tls_fail_plain(c, ret, what, saved, err);
		tls_alert_err(c->alert, err);
		break;
	default:
		ctl_err_set(err, CTL_E_TRANSPORT, "%s: unexpected TLS state",
		    what);
		break;
	}
	c->broken = 1;
	ERR_clear_error();
	return -1;
}

static int
tls_setup(struct ctl_conn *c, SSL_CTX *ctx, const struct ctl_url *u,
    struct ctl_err *err)
{
	X509_VERIFY_PARAM *param;
	int		 r;

	if ((c->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_ex_data(c->ssl, ctl_ssl_idx, c) != 1 ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		ctl_err_set(err, CTL_E_TRANSPORT, "OpenSSL: %s", tls_reason());
		return -1;
	}
	SSL_set_info_callback(c->ssl, tls_info_cb);
	param = SSL_get0_param(c->ssl);
	/* RFC 6066: no SNI for address literals; check the IP SAN instead. */
	if (u->is_ip)
		r = X509_VERIFY_PARAM_set1_ip_asc(param, u->host);
	else
		r = SSL_set1_host(c->ssl, u->host) &&
		    SSL_set_tlsext_host_name(c->ssl, u->host);
	if (r != 1) {
		ctl_err_set(err, CTL_E_TRANSPORT,
		    "OpenSSL: cannot set peer name %s: %s", u->host,
		    tls_reason());
		return -1;
	}
	while ((r = SSL_connect(c->ssl)) != 1)
		if (tls_fail(c, r, "TLS handshake", err) == -1)
			return -1;
	return 0;
}

struct ctl_conn *
ctl_connect(SSL_CTX *ctx, const struct ctl_url *u, int timeout,
    struct ctl_err *err)
{
	struct ctl_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		ctl_err_set(err, CTL_E_TRANSPORT, "out of memory");
		return NULL;
	}
	c->timeout = timeout;
	c->alert = -1;
	if ((c->fd = tcp_connect(u, timeout, err)) == -1) {
		free(c);
		return NULL;
	}
	if (tls_setup(c, ctx, u, err) == -1) {
		ERR_clear_error();
		ctl_close(c);
		return NULL;
	}
	return c;
}

/* Courtesy close_notify, but never wait for the peer's. */
void
ctl_close(struct ctl_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		if (SSL_is_init_finished(c->ssl) && !c->broken)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	close(c->fd);
	free(c);
}

/*
 * Between requests nothing is due from the server; anything readable is a
 * close_notify, a FIN or garbage, and either way the connection is spent.
 */
int
ctl_conn_reusable(struct ctl_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int r;

	if (SSL_pending(c->ssl) > 0)
		return 0;
	while ((r = poll(&pfd, 1, 0)) == -1 && errno == EINTR)
		;
	return r == 0;
}

int
ctl_conn_used(const struct ctl_conn *c)
{
	return c->used;
}

void
ctl_conn_mark_used(struct ctl_conn *c)
{
	c->used = 1;
}

int
ctl_write(struct ctl_conn *c, const void *buf, size_t len, struct ctl_err *err)
{
	const char	*p = buf;
	size_t		 done;
	int		 r;

	while (len > 0) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_write_ex(c->ssl, p, len, &done)) == 1) {
			p += done;
			len -= done;
		} else if (tls_fail(c, r, "sending", err) == -1)
			return -1;
	}
	return 0;
}

int
ctl_read(struct ctl_conn *c, void *buf, size_t len, size_t *got,
    struct ctl_err *err)
{
	int r, e;

	*got = 0;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_read_ex(c->ssl, buf, len, got)) == 1)
			return 0;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN && c->alert == -1)
			return 0;
		if (tls_fail(c, r, "receiving", err) == -1)
			return -1;
	}
}

/* --- one exchange of a session (struct ctl_state) ------------------------- */

static void
drop_conn(struct ctl_state *st)
{
	ctl_close(st->conn);
	st->conn = NULL;
}

/*
 * One request, reconnecting when needed. A server may close an idle
 * kept-alive connection just as we reuse it; an answer that never starts
 * on a reused connection is taken for that race and the file is sent once
 * more on a fresh one, once, and never after any byte of an answer:
 * warrantd answers every request it reads, so silence means not taken.
 */
int
ctl_exchange(struct ctl_state *st, const char *body, size_t len,
    struct ctl_response *resp, struct ctl_err *err)
{
	int	attempt, reused;

	for (attempt = 0; attempt < 2; attempt++) {
		if (st->conn != NULL && !ctl_conn_reusable(st->conn))
			drop_conn(st);
		if (st->conn == NULL)
			st->conn = ctl_connect(st->ctx, &st->url, st->timeout,
			    err);
		if (st->conn == NULL)
			return -1;
		reused = ctl_conn_used(st->conn);
		if ((st->req != NULL ? ctl_http_request(st->conn, &st->url,
		    st->req, body, len, resp, err) : ctl_http_exchange(st->conn,
		    &st->url, body, len, resp, err)) == 0) {
			if (!resp->keepalive)
				drop_conn(st);
			return 0;
		}
		drop_conn(st);
		if (!reused || err->kind != CTL_E_CLOSED)
			return -1;
	}
	return -1;
}
