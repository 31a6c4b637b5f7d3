/*
 * http — see include/http.h. The parser is deliberately narrow: CRLF line
 * ends only, no obsolete line folding, no Transfer-Encoding, one
 * Content-Length. Anything ambiguous is an error rather than a guess, because
 * ambiguity between us and a proxy in front of us is how requests get
 * smuggled.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "http.h"

static int
http_is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Find "\r\n\r\n" within len bytes: returns the head length including it,
 * 0 if it is not there yet, or -1 at a bare LF or a CR followed by anything
 * but LF. Such a head can never become valid, so it is refused at once
 * rather than left to wait for an end that will not come.
 */
static ssize_t
http_head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return -1;
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return -1;
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return (ssize_t)i + 1;
	}
	return 0;
}

static int
http_parse_target(const char *t, size_t len, struct http_request *req)
{
	const char	*q;
	size_t		 plen;

	if (len == 0 || t[0] != '/')
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return -1;
	q = memchr(t, '?', len);
	plen = q ? (size_t)(q - t) : len;
	if (plen >= sizeof(req->path))
		return -1;
	memcpy(req->path, t, plen);
	req->path[plen] = '\0';
	if (q) {
		if (len - plen - 1 >= sizeof(req->query))
			return -1;
		memcpy(req->query, q + 1, len - plen - 1);
		req->query[len - plen - 1] = '\0';
	}
	return 0;
}

/* "METHOD SP target SP HTTP/1.x" */
static int
http_parse_request_line(const char *line, size_t len, struct http_request *req)
{
	const char	*sp1, *sp2, *end = line + len;

	sp1 = memchr(line, ' ', len);
	if (sp1 == NULL || sp1 == line)
		return 400;
	for (const char *p = line; p < sp1; p++)
		if (!http_is_tchar((unsigned char)*p))
			return 400;
	if (sp1 - line == 4 && memcmp(line, "POST", 4) == 0)
		req->method = HTTP_POST;
	else if (sp1 - line == 3 && memcmp(line, "GET", 3) == 0)
		req->method = HTTP_GET;
	else
		req->method = HTTP_OTHER;
	sp2 = memchr(sp1 + 1, ' ', end - sp1 - 1);
	if (sp2 == NULL)
		return 400;
	if (http_parse_target(sp1 + 1, sp2 - sp1 - 1, req) == -1)
		return 400;
	/* "HTTP/" DIGIT "." DIGIT; any version but 1.0 and 1.1 is 505. */
	if (end - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)sp2[6]) || sp2[7] != '.' ||
	    !isdigit((unsigned char)sp2[8]))
		return 400;
	if (sp2[6] != '1' || (sp2[8] != '0' && sp2[8] != '1'))
		return 505;
	req->minor = sp2[8] - '0';
	req->keep_alive = req->minor == 1;
	return 0;
}

int
http_parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	unsigned	d;

	if (len == 0 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
http_parse_length(const char *v, size_t len, const struct http_limits *lim,
    struct http_request *req)
{
	uint64_t n = 0;

	if (http_parse_decimal(v, len, UINT64_MAX, &n) == -1)
		return 400;
	if (req->has_length && req->content_length != n)
		return 400;
	if (n > lim->body_max)
		return 413;
	req->has_length = true;
	req->content_length = (size_t)n;
	return 0;
}

static int
http_token_eq(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(v, word, len) == 0;
}

/* Connection is a comma-separated list of options ("TE, close"). */
static void
http_connection_options(const char *v, size_t vlen, struct http_request *req)
{
	const char	*p = v, *end = v + vlen, *comma, *b, *e;

	while (p < end) {
		comma = memchr(p, ',', end - p);
		e = comma ? comma : end;
		for (b = p; b < e && (*b == ' ' || *b == '\t'); b++)
			;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (http_token_eq(b, e - b, "close"))
			req->keep_alive = false;
		else if (http_token_eq(b, e - b, "keep-alive") && req->minor == 0)
			req->keep_alive = true;
		p = comma ? comma + 1 : end;
	}
}

static int
http_header(const char *name, size_t nlen, const char *v, size_t vlen,
    const struct http_limits *lim, struct http_request *req)
{
	if (http_token_eq(name, nlen, "content-length"))
		return http_parse_length(v, vlen, lim, req);
	if (http_token_eq(name, nlen, "transfer-encoding"))
		return 501;
	if (http_token_eq(name, nlen, "connection")) {
		http_connection_options(v, vlen, req);
		return 0;
	}
	if (http_token_eq(name, nlen, "host")) {
		if (req->has_host)
			return 400;
		req->has_host = true;
		return 0;
	}
	/* 100-continue is the only expectation; HTTP/1.0 has none. */
	if (http_token_eq(name, nlen, "expect")) {
		if (req->minor == 0)
			return 0;
		if (!http_token_eq(v, vlen, "100-continue"))
			return 417;
		req->expect_continue = true;
		return 0;
	}
	if (http_token_eq(name, nlen, "content-type")) {
		if (vlen >= sizeof(req->content_type))
			return 400;
		memcpy(req->content_type, v, vlen);
		req->content_type[vlen] = '\0';
	}
	return 0;
}

/* One "name: value" line (without CRLF). */
static int
http_parse_field(const char *line, size_t len, const struct http_limits *lim,
    struct http_request *req)
{
	const char	*colon, *v, *vend;
	size_t		 nlen;

	colon = memchr(line, ':', len);
	if (colon == NULL || colon == line)
		return 400;
	nlen = colon - line;
	for (size_t i = 0; i < nlen; i++)
		if (!http_is_tchar((unsigned char)line[i]))
			return 400;
	v = colon + 1;
	vend = line + len;
	while (v < vend && (*v == ' ' || *v == '\t'))
		v++;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	for (const char *p = v; p < vend; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return 400;
	return http_header(line, nlen, v, vend - v, lim, req);
}

enum http_parse_result
http_parse_head(const char *buf, size_t len, const struct http_limits *lim,
    struct http_request *req, int *status)
{
	const char	*line, *eol, *end;
	ssize_t		 head;
	unsigned	 nfields = 0;
	int		 rc;

	memset(req, 0, sizeof(*req));
	head = http_head_end(buf, len > lim->head_max ? lim->head_max : len);
	if (head == -1) {
		*status = 400;
		return HTTP_PARSE_ERROR;
	}
	if (head == 0) {
		if (len >= lim->head_max) {
			*status = 431;
			return HTTP_PARSE_ERROR;
		}
		return HTTP_PARSE_MORE;
	}
	end = buf + head - 2;		/* the final empty line's CRLF */
	line = buf;
	for (int first = 1; line < end; first = 0, line = eol + 2) {
		eol = memchr(line, '\r', end - line);
		if (eol == NULL || eol[1] != '\n' || memchr(line, '\n', eol - line)) {
			*status = 400;
			return HTTP_PARSE_ERROR;
		}
		if (first)
			rc = http_parse_request_line(line, eol - line, req);
		else if (++nfields > lim->headers_max)
			rc = 431;
		else
			rc = http_parse_field(line, eol - line, lim, req);
		if (rc != 0) {
			*status = rc;
			return HTTP_PARSE_ERROR;
		}
	}
	req->head_len = (size_t)head;
	return HTTP_PARSE_OK;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
