/*
 * ctl_http — one HTTP/1.1 exchange for warrantctl: POST the file to /hi1
 * and read the answer back, everything bounded (a 64 KiB head, 8 KiB lines,
 * a 16 MiB body). warrantd always answers with Content-Length; a body that
 * runs to the close is read too, chunked encoding is refused with a clear
 * message rather than half-supported. Whether the connection may carry the
 * next file is decided here, from the headers and from what is left over.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"

#define HTTP_MAX_LINE		8192
#define HTTP_MAX_HEADERS	100
#define HTTP_MAX_INTERIM	8	/* 1xx answers skipped */

/* What the response head says about the body and the connection. */
struct http_head {
	int		status;
	int		minor;		/* HTTP/1.minor */
	long long	clen;		/* -1: no Content-Length */
	int		te;		/* any Transfer-Encoding */
	int		close;		/* Connection: close */
	int		keepalive;	/* Connection: keep-alive (HTTP/1.0) */
};

/* Our own read buffer: anything left in it afterwards was never asked for. */
struct rbuf {
	struct ctl_conn	*c;
	char		 buf[16384];
	size_t		 pos, len;
	size_t		 total;		/* bytes of response received so far */
	int		 eof;
};

static int
rb_fill(struct rbuf *rb, struct ctl_err *err)
{
	size_t got;

	if (ctl_read(rb->c, rb->buf, sizeof(rb->buf), &got, err) == -1) {
		/* Once the answer has begun, a close truncates it. */
		if (rb->total > 0 && err->kind == CTL_E_CLOSED)
			err->kind = CTL_E_TRANSPORT;
		return -1;
	}
	rb->pos = 0;
	rb->len = got;
	rb->total += got;
	rb->eof = got == 0;
	return 0;
}

/* More of the head, which must not end here. */
static int
rb_more(struct rbuf *rb, struct ctl_err *err)
{
	if (rb_fill(rb, err) == -1)
		return -1;
	if (!rb->eof)
		return 0;
	if (rb->total == 0)
		ctl_err_set(err, CTL_E_CLOSED,
		    "connection closed by the server before it answered");
	else
		ctl_err_set(err, CTL_E_PROTOCOL,
		    "response ends inside its header");
	return -1;
}

/* One header line without its CR LF; counts against the head budget. */
static int
rb_line(struct rbuf *rb, char *line, size_t *headbytes, struct ctl_err *err)
{
	size_t n = 0;
	char ch;

	for (;;) {
		if (rb->pos == rb->len && rb_more(rb, err) == -1)
			return -1;
		ch = rb->buf[rb->pos++];
		if (++*headbytes > CTL_MAX_HEAD || n + 1 >= HTTP_MAX_LINE) {
			ctl_err_set(err, CTL_E_PROTOCOL,
			    "response header too large");
			return -1;
		}
		if (ch == '\n')
			break;
		if (ch == '\0') {
			ctl_err_set(err, CTL_E_PROTOCOL,
			    "NUL byte in response header");
			return -1;
		}
		line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* "HTTP/1.x NNN[ reason]" */
static int
parse_status(const char *line, struct http_head *h)
{
	const unsigned char *l = (const unsigned char *)line;

	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit(l[7]) || l[8] != ' ' ||
	    !isdigit(l[9]) || !isdigit(l[10]) || !isdigit(l[11]) ||
	    (l[12] != ' ' && l[12] != '\0'))
		return -1;
	h->minor = l[7] - '0';
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return h->status >= 100 && h->status <= 599 ? 0 : -1;
}

/* Connection: a comma-separated list of tokens, any case. */
static void
parse_connection(char *v, struct http_head *h)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(v, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (strcasecmp(tok, "close") == 0)
			h->close = 1;
		else if (strcasecmp(tok, "keep-alive") == 0)
			h->keepalive = 1;
	}
}

static int
parse_clen(const char *v, struct http_head *h)
{
	long long n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (!isdigit((unsigned char)*v) || n > CTL_MAX_BODY)
			return -1;
		n = n * 10 + (*v - '0');
	}
	if (n > CTL_MAX_BODY)
		return -1;
	/* Two different lengths is how responses get smuggled: refuse. */
	if (h->clen != -1 && h->clen != n)
		return -1;
	h->clen = n;
	return 0;
}

static int
parse_header(char *line, struct http_head *h, struct ctl_err *err)
{
	char	*colon, *v, *end;

	if ((colon = strchr(line, ':')) == NULL || colon == line ||
	    strcspn(line, " \t") < (size_t)(colon - line)) {
		ctl_err_set(err, CTL_E_PROTOCOL, "malformed response header");
		return -1;
	}
	*colon = '\0';
	v = colon + 1 + strspn(colon + 1, " \t");
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (strcasecmp(line, "Content-Length") == 0) {
		if (parse_clen(v, h) == -1) {
			ctl_err_set(err, CTL_E_PROTOCOL, "bad or oversized "
			    "Content-Length in the response");
			return -1;
		}
	} else if (strcasecmp(line, "Transfer-Encoding") == 0)
		h->te = 1;
	else if (strcasecmp(line, "Connection") == 0)
		parse_connection(v, h);
	return 0;
}

static int
read_head(struct rbuf *rb, struct http_head *h, struct ctl_err *err)
{
	char	 line[HTTP_MAX_LINE];
	size_t	 headbytes = 0;
	int	 nhdr = 0;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	if (rb_line(rb, line, &headbytes, err) == -1)
		return -1;
	if (parse_status(line, h) == -1) {
		ctl_err_set(err, CTL_E_PROTOCOL,
		    "the server did not answer in HTTP/1.x");
		return -1;
	}
	for (;;) {
		if (rb_line(rb, line, &headbytes, err) == -1)
			return -1;
		if (line[0] == '\0')
			return 0;
		if (++nhdr > HTTP_MAX_HEADERS) {
			ctl_err_set(err, CTL_E_PROTOCOL,
			    "too many response headers");
			return -1;
		}
		if (parse_header(line, h, err) == -1)
			return -1;
	}
}

/* Exactly n bytes: what is buffered first, then straight from TLS. */
static int
read_exact(struct rbuf *rb, char *dst, size_t n, struct ctl_err *err)
{
	size_t	take, got;

	take = rb->len - rb->pos < n ? rb->len - rb->pos : n;
	memcpy(dst, rb->buf + rb->pos, take);
	rb->pos += take;
	for (; take < n; take += got) {
		if (ctl_read(rb->c, dst + take, n - take, &got, err) == -1 &&
		    err->kind != CTL_E_CLOSED)
			return -1;
		if (got == 0) {
			ctl_err_set(err, CTL_E_PROTOCOL,
			    "response body truncated (%zu of %zu bytes)",
			    take, n);
			return -1;
		}
	}
	return 0;
}

/* No length given: the body runs to a clean close, within the cap. */
static int
read_to_close(struct rbuf *rb, struct ctl_response *resp, struct ctl_err *err)
{
	size_t	 cap = 65536, n = 0;
	char	*p, *nb;

	if ((p = malloc(cap + 1)) == NULL)
		goto nomem;
	for (;;) {
		if (rb->pos == rb->len) {
			if (rb_fill(rb, err) == -1)
				goto fail;
			if (rb->eof)
				break;
		}
		if (n + (rb->len - rb->pos) > CTL_MAX_BODY) {
			ctl_err_set(err, CTL_E_PROTOCOL,
			    "response body larger than %d bytes", CTL_MAX_BODY);
			goto fail;
		}
		while (n + (rb->len - rb->pos) > cap) {
			cap *= 2;
			if ((nb = realloc(p, cap + 1)) == NULL)
				goto nomem;
			p = nb;
		}
		memcpy(p + n, rb->buf + rb->pos, rb->len - rb->pos);
		n += rb->len - rb->pos;
		rb->pos = rb->len;
	}
	p[n] = '\0';
	resp->body = p;
	resp->bodylen = n;
	return 0;
 nomem:
	ctl_err_set(err, CTL_E_TRANSPORT, "out of memory");
 fail:
	free(p);
	return -1;
}

static int
read_body(struct rbuf *rb, const struct http_head *h, struct ctl_response *resp,
    struct ctl_err *err)
{
	if (h->status == 204 || h->status == 304) {
		if ((resp->body = strdup("")) == NULL)
			goto nomem;
		return 0;
	}
	if (h->te) {
		ctl_err_set(err, CTL_E_PROTOCOL, "the server used "
		    "Transfer-Encoding, which warrantctl does not support");
		return -1;
	}
	if (h->clen == -1)
		return read_to_close(rb, resp, err);
	if ((resp->body = malloc((size_t)h->clen + 1)) == NULL)
		goto nomem;
	if (read_exact(rb, resp->body, (size_t)h->clen, err) == -1)
		return -1;
	resp->body[h->clen] = '\0';
	resp->bodylen = (size_t)h->clen;
	return 0;
 nomem:
	ctl_err_set(err, CTL_E_TRANSPORT, "out of memory");
	return -1;
}

static int
send_request(struct ctl_conn *c, const struct ctl_url *u,
    const struct ctl_http_req *q, const char *body, size_t len,
    struct ctl_err *err)
{
	char	head[2048];
	int	n;

	n = snprintf(head, sizeof(head),
	    "%s %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: warrantctl/" PACKAGE_VERSION "\r\n"
	    "Accept: %s\r\n"
	    "%s%s%s"
	    "Content-Length: %zu\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n", q->method, q->target, u->authority, q->type,
	    q->body_type ? "Content-Type: " : "", q->body_type ? q->type : "",
	    q->body_type ? "\r\n" : "", len);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		ctl_err_set(err, CTL_E_TRANSPORT, "request header too long");
		return -1;
	}
	if (ctl_write(c, head, (size_t)n, err) == -1 ||
	    (len > 0 && ctl_write(c, body, len, err) == -1))
		return -1;
	return 0;
}

static int
read_response(struct rbuf *rb, struct ctl_response *resp, struct ctl_err *err)
{
	struct http_head	h;
	int			i;

	for (i = 0; i <= HTTP_MAX_INTERIM; i++) {
		if (read_head(rb, &h, err) == -1)
			return -1;
		if (h.status >= 200 || h.status == 101)
			break;
	}
	if (h.status < 200) {
		ctl_err_set(err, CTL_E_PROTOCOL,
		    "unexpected HTTP %d from the server", h.status);
		return -1;
	}
	if (read_body(rb, &h, resp, err) == -1) {
		ctl_response_free(resp);
		return -1;
	}
	resp->status = h.status;
	/* Unasked-for bytes: we no longer know where the next answer starts. */
	resp->keepalive = !h.close && (h.minor >= 1 || h.keepalive) &&
	    (h.clen != -1 || h.status == 204 || h.status == 304) &&
	    rb->pos == rb->len;
	return 0;
}

/*
 * A server may answer before it has read the whole body (413) and hang up,
 * and a server refusing our certificate under TLS 1.3 says so only after
 * the handshake: either way the upload fails on EPIPE or ECONNRESET with
 * the explanation already waiting, so read before blaming the network.
 */
int
ctl_http_exchange(struct ctl_conn *c, const struct ctl_url *u, const char *body,
    size_t len, struct ctl_response *resp, struct ctl_err *err)
{
	static const struct ctl_http_req hi1 = { "POST", CTL_TARGET,
	    "application/xml", true };

	return ctl_http_request(c, u, &hi1, body, len, resp, err);
}

int
ctl_http_request(struct ctl_conn *c, const struct ctl_url *u,
    const struct ctl_http_req *q, const char *body, size_t len,
    struct ctl_response *resp, struct ctl_err *err)
{
	struct ctl_err	 serr;
	struct rbuf	*rb;
	int		 sent, rc;

	memset(resp, 0, sizeof(*resp));
	sent = send_request(c, u, q, body, len, &serr) == 0;
	if (!sent && serr.kind != CTL_E_CLOSED) {
		*err = serr;
		return -1;
	}
	if ((rb = calloc(1, sizeof(*rb))) == NULL) {
		ctl_err_set(err, CTL_E_TRANSPORT, "out of memory");
		return -1;
	}
	rb->c = c;
	rc = read_response(rb, resp, err);
	free(rb);
	if (rc == -1 && !sent && err->kind != CTL_E_REFUSED)
		*err = serr;
	if (rc == -1)
		return -1;
	ctl_conn_mark_used(c);
	if (!sent)
		resp->keepalive = 0;
	return 0;
}

void
ctl_response_free(struct ctl_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->bodylen = 0;
}
