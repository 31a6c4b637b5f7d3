/*
 * http_resp — see include/http_resp.h. What the other end of a push sends
 * is as untrusted as what a client sends us: every rule here fails closed
 * with a reason, and nothing ambiguous (two lengths, a length and a
 * Transfer-Encoding, bare LF) is guessed at.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http_resp.h"

static int
resp_is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t
resp_head_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

static int
resp_token_eq(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(v, word, len) == 0;
}

/* "HTTP/1.x" SP 3DIGIT [SP reason]; the reason is text without controls. */
static const char *
resp_status_line(const char *line, size_t len, struct http_response *r)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ')
		return "the status line is not HTTP/1.0 or HTTP/1.1";
	for (int i = 9; i < 12; i++)
		if (!isdigit((unsigned char)line[i]))
			return "the status code is not three digits";
	r->minor = line[7] - '0';
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (r->status < 100 || r->status > 599)
		return "the status code is out of range";
	if (len > 12 && line[12] != ' ')
		return "the status code is not followed by a space";
	for (size_t i = 13; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			return "control character in the reason phrase";
	r->close = r->minor == 0;
	return NULL;
}

static const char *
resp_length(const char *v, size_t len, const struct http_resp_limits *lim,
    struct http_response *r)
{
	uint64_t	 n = 0;

	if (len == 0 || len > 19)
		return "Content-Length is not a number of at most 19 digits";
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return "Content-Length is not a number";
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (r->has_length && r->content_length != n)
		return "two different Content-Length headers";
	r->has_length = true;
	r->content_length = n;
	if (n > lim->body_max)
		return "Content-Length exceeds the cap on answers";
	return NULL;
}

static void
resp_connection(const char *v, size_t vlen, struct http_response *r)
{
	const char	*p = v, *end = v + vlen, *comma, *b, *e;

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		e = comma ? comma : end;
		for (b = p; b < e && (*b == ' ' || *b == '\t'); b++)
			;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (resp_token_eq(b, (size_t)(e - b), "close"))
			r->close = true;
		p = comma ? comma + 1 : end;
	}
}

static const char *
resp_field(const char *line, size_t len, const struct http_resp_limits *lim,
    struct http_response *r)
{
	const char	*colon, *v, *vend;
	size_t		 nlen;

	if ((colon = memchr(line, ':', len)) == NULL || colon == line)
		return "a header line without a name and a colon";
	nlen = (size_t)(colon - line);
	for (size_t i = 0; i < nlen; i++)
		if (!resp_is_tchar((unsigned char)line[i]))
			return "a header name with characters outside a token";
	v = colon + 1;
	vend = line + len;
	while (v < vend && (*v == ' ' || *v == '\t'))
		v++;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	for (const char *p = v; p < vend; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return "control character in a header value";
	if (resp_token_eq(line, nlen, "content-length"))
		return resp_length(v, (size_t)(vend - v), lim, r);
	if (resp_token_eq(line, nlen, "transfer-encoding"))
		return "Transfer-Encoding is not accepted (Content-Length only)";
	if (resp_token_eq(line, nlen, "connection"))
		resp_connection(v, (size_t)(vend - v), r);
	else if (resp_token_eq(line, nlen, "content-type")) {
		if ((size_t)(vend - v) >= sizeof(r->content_type))
			return "Content-Type is too long";
		memcpy(r->content_type, v, (size_t)(vend - v));
		r->content_type[vend - v] = '\0';
	}
	return NULL;
}

enum http_parse_result
http_parse_response_head(const char *buf, size_t len,
    const struct http_resp_limits *lim, struct http_response *r,
    const char **why)
{
	const char	*line, *eol, *end;
	size_t		 head;
	unsigned	 nfields = 0;

	memset(r, 0, sizeof(*r));
	*why = NULL;
	head = resp_head_end(buf, len > lim->head_max ? lim->head_max : len);
	if (head == 0) {
		if (len < lim->head_max)
			return HTTP_PARSE_MORE;
		*why = "the answer's head is longer than its cap";
		return HTTP_PARSE_ERROR;
	}
	end = buf + head - 2;
	for (line = buf; line < end && *why == NULL; line = eol + 2) {
		eol = memchr(line, '\r', (size_t)(end - line));
		if (eol == NULL || eol[1] != '\n' ||
		    memchr(line, '\n', (size_t)(eol - line)) != NULL) {
			*why = "a line of the head does not end in CRLF";
			break;
		}
		if (line == buf)
			*why = resp_status_line(line, (size_t)(eol - line), r);
		else if (++nfields > lim->headers_max)
			*why = "too many header fields";
		else
			*why = resp_field(line, (size_t)(eol - line), lim, r);
	}
	if (*why != NULL)
		return HTTP_PARSE_ERROR;
	r->head_len = head;
	return HTTP_PARSE_OK;
}
