/*
 * fuzz_http — libFuzzer target for http_parse_head, the first code that
 * reads a client's bytes after TLS. The first input byte picks one of a few
 * limit sets (the daemon's defaults, tiny ones that put every limit within
 * reach of short inputs, none at all); the rest is the head. Besides
 * sanitizer reports, any broken promise of the parser aborts:
 *
 *  - an error carries one of the documented statuses;
 *  - "more" only when no end of head lies within head_max, and no bare LF
 *    (nor a CR followed by anything but LF) has arrived: those are refused
 *    at once, never left waiting;
 *  - a parsed head ends in CRLFCRLF within len and head_max, its strings are
 *    terminated, its path starts with '/', its length is within body_max;
 *  - the same bytes parse the same way again, cut at head_len or not, and
 *    every shorter prefix of a parsed head asks for more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct http_limits limit_sets[] = {
	{ 8192, 64, 256 * 1024 },	/* the daemon's defaults */
	{ 64, 4, 16 },
	{ 4, 1, 0 },
	{ 1 << 20, 100000, (size_t)-1 },
};

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_http: broken promise: %s (line %d)\n", \
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

static int
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static size_t
first_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0)
			return i + 1;
	return 0;
}

static int
has_bare_lf(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return 1;
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return 1;
	}
	return 0;
}

static void
check_ok(const char *buf, size_t len, const struct http_limits *lim,
    const struct http_request *req)
{
	struct http_request	again;
	int			status;
	size_t			step;

	CHECK(req->head_len >= 4 && req->head_len <= len);
	CHECK(req->head_len <= lim->head_max);
	CHECK(first_end(buf, len) == req->head_len);
	CHECK(terminated(req->path, sizeof(req->path)));
	CHECK(terminated(req->query, sizeof(req->query)));
	CHECK(terminated(req->content_type, sizeof(req->content_type)));
	CHECK(req->path[0] == '/');
	CHECK(req->minor == 0 || req->minor == 1);
	CHECK(req->method == HTTP_GET || req->method == HTTP_POST ||
	    req->method == HTTP_OTHER);
	CHECK(req->has_length ? req->content_length <= lim->body_max :
	    req->content_length == 0);
	for (const char *p = req->path; *p; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);

	/* The head alone, without what follows it, reads the same. */
	CHECK(http_parse_head(buf, req->head_len, lim, &again, &status) ==
	    HTTP_PARSE_OK);
	CHECK(memcmp(&again, req, sizeof(again)) == 0);
	/* Prefixes ask for more (sampled: quadratic otherwise). */
	step = req->head_len / 64 + 1;
	for (size_t i = 0; i < req->head_len; i += step)
		CHECK(http_parse_head(buf, i, lim, &again, &status) ==
		    HTTP_PARSE_MORE);
	CHECK(http_parse_head(buf, req->head_len - 1, lim, &again, &status) ==
	    HTTP_PARSE_MORE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct http_limits	*lim;
	struct http_request		 req, again;
	enum http_parse_result		 r;
	const char			*buf;
	size_t				 len;
	int				 status = 0, status2 = 0;

	if (size == 0)
		return 0;
	lim = &limit_sets[data[0] % (sizeof(limit_sets) / sizeof(limit_sets[0]))];
	buf = (const char *)data + 1;
	len = size - 1;

	r = http_parse_head(buf, len, lim, &req, &status);
	switch (r) {
	case HTTP_PARSE_OK:
		check_ok(buf, len, lim, &req);
		break;
	case HTTP_PARSE_MORE:
		CHECK(len < lim->head_max);
		CHECK(first_end(buf, len) == 0);
		CHECK(!has_bare_lf(buf, len));
		break;
	case HTTP_PARSE_ERROR:
		CHECK(status == 400 || status == 413 || status == 417 ||
		    status == 431 || status == 501 || status == 505);
		CHECK(strcmp(http_status_text(status), "Unknown") != 0);
		break;
	default:
		CHECK(!"unknown result");
	}
	/* Deterministic: the same bytes, the same answer. */
	CHECK(http_parse_head(buf, len, lim, &again, &status2) == r);
	if (r == HTTP_PARSE_ERROR)
		CHECK(status2 == status);
	return 0;
}
