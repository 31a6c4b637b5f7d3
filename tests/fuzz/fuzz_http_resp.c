/*
 * fuzz_http_resp — libFuzzer target for http_parse_response_head, the
 * first code that reads an authority endpoint's bytes after TLS when the
 * gateway pushes a delivery (src/warrantd/push.c). The first input byte picks a
 * limit set (push's own, tiny ones that put every limit within reach, none
 * at all); the rest is the answer. Besides sanitizer reports, any broken
 * promise aborts:
 *
 *  - an error comes with a reason;
 *  - "more" only when no end of head lies within head_max;
 *  - a parsed head ends at its first CRLFCRLF, within len and head_max,
 *    with a status of 100-599, HTTP/1.0 or 1.1, a Content-Length within
 *    body_max if there is one, a terminated Content-Type;
 *  - the same bytes parse the same way again, cut at head_len or not, and
 *    every shorter prefix of a parsed head asks for more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_resp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct http_resp_limits limit_sets[] = {
	{ 16384, 64, 1024 * 1024 },	/* push.c's */
	{ 64, 4, 16 },
	{ 4, 1, 0 },
	{ 1 << 20, 100000, UINT64_MAX },
};

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_http_resp: broken promise: %s "	\
		    "(line %d)\n", #cond, __LINE__);			\
		abort();						\
	}								\
} while (0)

static size_t
first_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0)
			return i + 1;
	return 0;
}

static void
check_ok(const char *buf, size_t len, const struct http_resp_limits *lim,
    const struct http_response *r)
{
	struct http_response	 again;
	const char		*why;
	size_t			 step;

	CHECK(r->head_len >= 4 && r->head_len <= len);
	CHECK(r->head_len <= lim->head_max);
	CHECK(first_end(buf, len) == r->head_len);
	CHECK(r->status >= 100 && r->status <= 599);
	CHECK(r->minor == 0 || r->minor == 1);
	CHECK(memchr(r->content_type, '\0', sizeof(r->content_type)) != NULL);
	CHECK(r->has_length ? r->content_length <= lim->body_max :
	    r->content_length == 0);
	CHECK(memcmp(buf, "HTTP/1.", 7) == 0);

	CHECK(http_parse_response_head(buf, r->head_len, lim, &again, &why) ==
	    HTTP_PARSE_OK);
	CHECK(memcmp(&again, r, sizeof(again)) == 0);
	step = r->head_len / 64 + 1;
	for (size_t i = 0; i < r->head_len; i += step)
		CHECK(http_parse_response_head(buf, i, lim, &again, &why) ==
		    HTTP_PARSE_MORE);
	CHECK(http_parse_response_head(buf, r->head_len - 1, lim, &again,
	    &why) == HTTP_PARSE_MORE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct http_resp_limits	*lim;
	struct http_response		 r, again;
	enum http_parse_result		 res;
	const char			*buf, *why, *why2;
	size_t				 len;

	if (size == 0)
		return 0;
	lim = &limit_sets[data[0] % (sizeof(limit_sets) / sizeof(limit_sets[0]))];
	buf = (const char *)data + 1;
	len = size - 1;

	res = http_parse_response_head(buf, len, lim, &r, &why);
	switch (res) {
	case HTTP_PARSE_OK:
		CHECK(why == NULL);
		check_ok(buf, len, lim, &r);
		break;
	case HTTP_PARSE_MORE:
		CHECK(len < lim->head_max);
		CHECK(first_end(buf, len) == 0);
		break;
	case HTTP_PARSE_ERROR:
		CHECK(why != NULL && why[0] != '\0');
		break;
	default:
		CHECK(!"unknown result");
	}
	CHECK(http_parse_response_head(buf, len, lim, &again, &why2) == res);
	if (res == HTTP_PARSE_ERROR)
		CHECK(strcmp(why, why2) == 0);
	return 0;
}
