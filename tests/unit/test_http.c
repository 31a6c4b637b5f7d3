/*
 * test_http — the request-head parser of lib/http.c: a valid POST, every
 * split point of a head arriving in pieces, the limits (head size, number of
 * fields, body size), and everything it must refuse rather than guess:
 * Transfer-Encoding, other versions, bare LF or CR, obsolete folding,
 * conflicting or malformed Content-Length, control bytes in the target or in
 * field values. Then the query split, keep-alive and Content-Type; the
 * edges of issue 14: a bare LF refused at once (not when the deadline
 * passes), Host at most once, Expect, and canonical numbers.
 *
 * Every input is copied into a heap buffer of exactly its length, so that
 * AddressSanitizer reports any read past what the parser was given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define POST_HEAD \
	"POST /hi1?lang=es HTTP/1.1\r\n" \
	"Host: gateway.example\r\n" \
	"Content-Type: application/xml; charset=utf-8\r\n" \
	"Content-Length: 17\r\n" \
	"\r\n"
#define POST_BODY	"<HI1Message/>\r\n\r\n"

static const struct http_limits deflim = { 8192, 64, 256 * 1024 };

static struct http_request	req;
static int			status;

/* Parse the first len bytes of s from a buffer of exactly len bytes. */
static enum http_parse_result
parse_n(const char *s, size_t len, const struct http_limits *lim)
{
	enum http_parse_result	 r;
	char			*buf;

	buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, s, len);
	status = -1;
	memset(&req, 0x5a, sizeof(req));
	r = http_parse_head(buf, len, lim, &req, &status);
	free(buf);
	return r;
}

static enum http_parse_result
parse(const char *s)
{
	return parse_n(s, strlen(s), &deflim);
}

static void
expect_ok(const char *s)
{
	enum http_parse_result r = parse(s);

	if (r != HTTP_PARSE_OK)
		print_error("refused (%d, status %d): %s\n", r, status, s);
	assert_int_equal(r, HTTP_PARSE_OK);
	assert_int_equal(req.head_len, strlen(s));
}

static void
expect_status_n(const char *s, size_t len, const struct http_limits *lim,
    int want)
{
	enum http_parse_result r = parse_n(s, len, lim);

	if (r != HTTP_PARSE_ERROR || status != want)
		print_error("wanted %d, got result %d status %d for: %.*s\n",
		    want, r, status, (int)len, s);
	assert_int_equal(r, HTTP_PARSE_ERROR);
	assert_int_equal(status, want);
	assert_string_not_equal(http_status_text(want), "Unknown");
}

static void
expect_status(const char *s, int want)
{
	expect_status_n(s, strlen(s), &deflim, want);
}

/* A head: request line, then the given fields, then the empty line. */
static char *
head_with(const char *line, const char *fields)
{
	char *s;

	assert_true(asprintf(&s, "%s\r\n%s\r\n", line, fields) > 0);
	return s;
}

/* --- a valid request ------------------------------------------------------- */

static void
test_valid_post(void **state)
{
	const char	*msg = POST_HEAD POST_BODY;

	(void)state;
	assert_int_equal(parse(msg), HTTP_PARSE_OK);
	assert_int_equal(req.method, HTTP_POST);
	assert_string_equal(req.path, "/hi1");
	assert_string_equal(req.query, "lang=es");
	assert_int_equal(req.minor, 1);
	assert_true(req.keep_alive);
	assert_true(req.has_length);
	assert_int_equal(req.content_length, 17);
	assert_string_equal(req.content_type, "application/xml; charset=utf-8");
	/* The body is not part of the head, even when it holds CRLFCRLF. */
	assert_int_equal(req.head_len, strlen(POST_HEAD));
}

static void
test_get_and_other_methods(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /health HTTP/1.1\r\n\r\n"), HTTP_PARSE_OK);
	assert_int_equal(req.method, HTTP_GET);
	assert_false(req.has_length);
	assert_int_equal(req.content_length, 0);
	assert_string_equal(req.query, "");
	assert_string_equal(req.content_type, "");
	assert_int_equal(parse("PUT / HTTP/1.1\r\n\r\n"), HTTP_PARSE_OK);
	assert_int_equal(req.method, HTTP_OTHER);
	/* Methods are case-sensitive: "post" is not POST. */
	assert_int_equal(parse("post / HTTP/1.1\r\n\r\n"), HTTP_PARSE_OK);
	assert_int_equal(req.method, HTTP_OTHER);
	assert_int_equal(parse("POSTS / HTTP/1.1\r\n\r\n"), HTTP_PARSE_OK);
	assert_int_equal(req.method, HTTP_OTHER);
}

/* --- partial heads ----------------------------------------------------- */

static void
test_every_split_point(void **state)
{
	const char	*msg = POST_HEAD POST_BODY;
	size_t		 head = strlen(POST_HEAD);

	(void)state;
	for (size_t i = 0; i < head; i++) {
		if (parse_n(msg, i, &deflim) != HTTP_PARSE_MORE)
			fail_msg("prefix of %zu bytes: not HTTP_PARSE_MORE "
			    "(status %d)", i, status);
	}
	for (size_t i = head; i <= strlen(msg); i++) {
		assert_int_equal(parse_n(msg, i, &deflim), HTTP_PARSE_OK);
		assert_int_equal(req.head_len, head);
		assert_int_equal(req.content_length, 17);
	}
}

/* A head whose first bytes are bad is refused only once it is complete. */
static void
test_split_then_error(void **state)
{
	const char	*msg = "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n";

	(void)state;
	for (size_t i = 0; i < strlen(msg); i++)
		assert_int_equal(parse_n(msg, i, &deflim), HTTP_PARSE_MORE);
	expect_status(msg, 400);
}

/* --- limits ----------------------------------------------------------- */

/* A head of n bytes exactly: request line, one padding field, CRLFCRLF. */
static char *
head_of_size(size_t n)
{
	const char	*pre = "GET / HTTP/1.1\r\nX-Pad: ";
	size_t		 fixed = strlen(pre) + 4;
	char		*s;

	assert_true(n > fixed);
	s = malloc(n + 1);
	assert_non_null(s);
	memcpy(s, pre, strlen(pre));
	memset(s + strlen(pre), 'a', n - fixed);
	memcpy(s + n - 4, "\r\n\r\n", 5);
	assert_int_equal(strlen(s), n);
	return s;
}

static void
test_head_max(void **state)
{
	struct http_limits	 lim = { 256, 64, 1024 };
	char			*s;

	(void)state;
	s = head_of_size(256);
	assert_int_equal(parse_n(s, 256, &lim), HTTP_PARSE_OK);
	assert_int_equal(req.head_len, 256);
	/* Incomplete and still under the limit: wait for more. */
	assert_int_equal(parse_n(s, 255, &lim), HTTP_PARSE_MORE);
	free(s);
	s = head_of_size(257);
	expect_status_n(s, 257, &lim, 431);
	/* Refused as soon as head_max bytes hold no end of head. */
	expect_status_n(s, 256, &lim, 431);
	assert_int_equal(parse_n(s, 255, &lim), HTTP_PARSE_MORE);
	free(s);
	/* The same with the daemon's default of 8 KiB. */
	s = head_of_size(8192);
	assert_int_equal(parse_n(s, 8192, &deflim), HTTP_PARSE_OK);
	free(s);
	s = head_of_size(8193);
	expect_status_n(s, 8193, &deflim, 431);
	free(s);
}

static void
test_headers_max(void **state)
{
	struct http_limits	 lim = { 8192, 4, 1024 };
	const char		*four = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n";
	char			*s;

	(void)state;
	s = head_with("GET / HTTP/1.1", four);
	assert_int_equal(parse_n(s, strlen(s), &lim), HTTP_PARSE_OK);
	free(s);
	s = head_with("GET / HTTP/1.1", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n");
	expect_status_n(s, strlen(s), &lim, 431);
	free(s);
	lim.headers_max = 0;
	assert_int_equal(parse_n("GET / HTTP/1.1\r\n\r\n", 18, &lim),
	    HTTP_PARSE_OK);
	expect_status_n("GET / HTTP/1.1\r\nA: 1\r\n\r\n", 24, &lim, 431);
}

static void
test_body_max(void **state)
{
	struct http_limits lim = { 8192, 64, 1000 };

	(void)state;
	assert_int_equal(parse_n("POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
	    41, &lim), HTTP_PARSE_OK);
	assert_int_equal(req.content_length, 1000);
	expect_status_n("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 41,
	    &lim, 413);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 262145\r\n\r\n", 413);
	expect_ok("POST / HTTP/1.1\r\nContent-Length: 262144\r\n\r\n");
	expect_ok("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	assert_true(req.has_length);
	assert_int_equal(req.content_length, 0);
}

/* --- what is refused ------------------------------------------------------ */

static void
test_transfer_encoding(void **state)
{
	(void)state;
	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\ntransfer-ENCODING: identity\r\n\r\n", 501);
	/* Both framings at once is the smuggling case: never pick one. */
	expect_status("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", 501);
}

static void
test_versions(void **state)
{
	(void)state;
	expect_ok("GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(req.minor, 0);
	expect_ok("GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(req.minor, 1);
	expect_status("GET / HTTP/1.2\r\n\r\n", 505);
	expect_status("GET / HTTP/1.9\r\n\r\n", 505);
	expect_status("GET / HTTP/1.10\r\n\r\n", 400);
	expect_status("GET / HTTP/1.\r\n\r\n", 400);
	expect_status("GET / http/1.1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1 \r\n\r\n", 400);
	expect_status("GET / HTTPS/1.1\r\n\r\n", 400);
	expect_status("GET /\r\n\r\n", 400);		/* HTTP/0.9 */
}

/*
 * Another major version is "HTTP Version Not Supported" (RFC 9110 15.6.6),
 * like HTTP/1.2 above, not a malformed request.
 */
static void
test_version_2(void **state)
{
	(void)state;
	expect_status("GET / HTTP/2.0\r\n\r\n", 505);
	expect_status("GET / HTTP/3.0\r\n\r\n", 505);
}

static void
test_bare_lf(void **state)
{
	enum http_parse_result r;

	(void)state;
	expect_status("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\n\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n", 400);
	/* A head with LF only is refused at once, not left to wait. */
	r = parse("GET / HTTP/1.1\nHost: a\n\n");
	assert_int_equal(r, HTTP_PARSE_ERROR);
	assert_int_equal(status, 400);
}

/*
 * A bare LF or CR anywhere in what has arrived is refused before the head
 * is complete: the sender of an LF-only head would otherwise wait for the
 * request deadline.
 */
static void
test_bare_lf_at_once(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\n", 400);
	expect_status("\n", 400);
	expect_status("GET / HTTP/1.1\rX", 400);
	/* A CR at the very end may still be followed by its LF. */
	assert_int_equal(parse("GET / HTTP/1.1\r"), HTTP_PARSE_MORE);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r"), HTTP_PARSE_MORE);
}

static void
test_bare_cr(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400);
}

static void
test_obs_fold(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
	/* A folded line that looks like a field is still a fold. */
	expect_status("POST / HTTP/1.1\r\nX: a\r\n Content-Length: 5\r\n\r\n", 400);
}

static void
test_duplicate_length(void **state)
{
	(void)state;
	expect_ok("POST / HTTP/1.1\r\nContent-Length: 42\r\ncontent-length: 42\r\n\r\n");
	assert_int_equal(req.content_length, 42);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 42\r\n"
	    "Content-Length: 43\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 43\r\n"
	    "Content-Length: 42\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 42, 42\r\n\r\n", 400);
}

static void
test_length_not_digits(void **state)
{
	static const char *bad[] = { "12a", "-1", "+5", "0x10", "1 2", "1.0",
	    "", "\t", "5;", "\xd9\xa3" };
	char *s, *line;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(asprintf(&line, "Content-Length: %s\r\n", bad[i]) > 0);
		s = head_with("POST / HTTP/1.1", line);
		expect_status(s, 400);
		free(s);
		free(line);
	}
	/* Optional whitespace around the value is not part of it. */
	expect_ok("POST / HTTP/1.1\r\nContent-Length: \t 7 \t\r\n\r\n");
	assert_int_equal(req.content_length, 7);
	expect_ok("POST / HTTP/1.1\r\nContent-Length:7\r\n\r\n");
	assert_int_equal(req.content_length, 7);
}

/* No digit string may overflow into a small length. */
static void
test_length_huge(void **state)
{
	struct http_limits	 lim = { 8192, 64, (size_t)-1 };
	const char		*twenty = "POST / HTTP/1.1\r\nContent-Length: "
	    "18446744073709551617\r\n\r\n";
	const char		*nineteen = "POST / HTTP/1.1\r\nContent-Length: "
	    "9999999999999999999\r\n\r\n";

	(void)state;
	expect_status("POST / HTTP/1.1\r\nContent-Length: "
	    "99999999999999999999\r\n\r\n", 400);		/* 20 digits */
	expect_status("POST / HTTP/1.1\r\nContent-Length: "
	    "18446744073709551617\r\n\r\n", 400);		/* 2^64 + 1 */
	expect_status("POST / HTTP/1.1\r\nContent-Length: "
	    "00000000000000000000005\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: "
	    "9999999999999999999\r\n\r\n", 413);		/* 19 digits */
	/* Even with no body limit, 20 digits are refused, not wrapped. */
	expect_status_n(twenty, strlen(twenty), &lim, 400);
	assert_int_equal(parse_n(nineteen, strlen(nineteen), &lim),
	    HTTP_PARSE_OK);
	assert_true(req.content_length == 9999999999999999999ULL);
}

static void
test_target_control_bytes(void **state)
{
	static const char bad[] = { 0x01, 0x09, 0x0b, 0x1f, 0x7f, (char)0x80,
	    (char)0xff };
	char	s[64];
	int	n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		n = snprintf(s, sizeof(s), "GET /a%cb HTTP/1.1\r\n\r\n", bad[i]);
		expect_status_n(s, (size_t)n, &deflim, 400);
	}
	/* A NUL in the target, which a C string would silently cut. */
	expect_status_n("GET /a\0b HTTP/1.1\r\n\r\n", 21, &deflim, 400);
	expect_status_n("GET /a?b\0 HTTP/1.1\r\n\r\n", 22, &deflim, 400);
	expect_status("GET * HTTP/1.1\r\n\r\n", 400);
	expect_status("GET http://gw/ HTTP/1.1\r\n\r\n", 400);
	expect_status("GET  / HTTP/1.1\r\n\r\n", 400);
	expect_status("GET / / HTTP/1.1\r\n\r\n", 400);
	expect_status(" / HTTP/1.1\r\n\r\n", 400);
	expect_status("G(T / HTTP/1.1\r\n\r\n", 400);
	expect_status("\r\n\r\n", 400);
}

static void
test_target_lengths(void **state)
{
	char	path[300], query[600], *s;

	(void)state;
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[255] = '\0';			/* 255 bytes: fits */
	assert_true(asprintf(&s, "GET %s HTTP/1.1\r\n\r\n", path) > 0);
	expect_ok(s);
	assert_int_equal(strlen(req.path), 255);
	free(s);
	path[255] = 'p';
	path[256] = '\0';			/* 256 bytes: does not */
	assert_true(asprintf(&s, "GET %s HTTP/1.1\r\n\r\n", path) > 0);
	expect_status(s, 400);
	free(s);

	memset(query, 'q', sizeof(query));
	query[511] = '\0';
	assert_true(asprintf(&s, "GET /?%s HTTP/1.1\r\n\r\n", query) > 0);
	expect_ok(s);
	assert_int_equal(strlen(req.query), 511);
	free(s);
	query[511] = 'q';
	query[512] = '\0';
	assert_true(asprintf(&s, "GET /?%s HTTP/1.1\r\n\r\n", query) > 0);
	expect_status(s, 400);
	free(s);
}

static void
test_field_syntax(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\r\n: x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nX(y): 1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nX-\xc3\xb1: 1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nX: a\x1b[31m\r\n\r\n", 400);
	expect_status_n("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26, &deflim, 400);
	expect_status_n("GET / HTTP/1.1\r\nX\0: ab\r\n\r\n", 26, &deflim, 400);
	/* A tab, and bytes above 0x7f (obs-text), are allowed in values. */
	expect_ok("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n");
	expect_ok("GET / HTTP/1.1\r\nUser-Agent: se\xc3\xb1or\r\n\r\n");
	expect_ok("GET / HTTP/1.1\r\nX-Empty:\r\n\r\n");
}

/* --- query, keep-alive, content type -------------------------------------- */

static void
test_query_split(void **state)
{
	(void)state;
	expect_ok("GET /a/b?c=d&e=f HTTP/1.1\r\n\r\n");
	assert_string_equal(req.path, "/a/b");
	assert_string_equal(req.query, "c=d&e=f");
	expect_ok("GET /a?b=c?d HTTP/1.1\r\n\r\n");
	assert_string_equal(req.path, "/a");
	assert_string_equal(req.query, "b=c?d");
	expect_ok("GET /a? HTTP/1.1\r\n\r\n");
	assert_string_equal(req.path, "/a");
	assert_string_equal(req.query, "");
	expect_ok("GET /?x HTTP/1.1\r\n\r\n");
	assert_string_equal(req.path, "/");
	assert_string_equal(req.query, "x");
	expect_ok("GET /plain HTTP/1.1\r\n\r\n");
	assert_string_equal(req.path, "/plain");
	assert_string_equal(req.query, "");
}

static void
test_keep_alive(void **state)
{
	(void)state;
	expect_ok("GET / HTTP/1.1\r\n\r\n");
	assert_true(req.keep_alive);
	expect_ok("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_false(req.keep_alive);
	expect_ok("GET / HTTP/1.1\r\nconnection: Close\r\n\r\n");
	assert_false(req.keep_alive);
	expect_ok("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n");
	assert_true(req.keep_alive);
	expect_ok("GET / HTTP/1.0\r\n\r\n");
	assert_false(req.keep_alive);
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_true(req.keep_alive);
	expect_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	assert_true(req.keep_alive);
	expect_ok("GET / HTTP/1.0\r\nConnection: close\r\n\r\n");
	assert_false(req.keep_alive);
}

/*
 * Connection is a list of options (RFC 9110 7.6.1): "close" among others
 * still closes. Keeping the connection open is the unsafe default here.
 */
static void
test_connection_close_in_list(void **state)
{
	(void)state;
	expect_ok("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n");
	assert_false(req.keep_alive);
	expect_ok("GET / HTTP/1.1\r\nConnection: close, TE\r\n\r\n");
	assert_false(req.keep_alive);
}

static void
test_content_type(void **state)
{
	char	ct[200], *s;

	(void)state;
	expect_ok("POST / HTTP/1.1\r\nContent-Type:   text/xml  \r\n\r\n");
	assert_string_equal(req.content_type, "text/xml");
	expect_ok("POST / HTTP/1.1\r\ncontent-type: application/xml\r\n\r\n");
	assert_string_equal(req.content_type, "application/xml");
	memset(ct, 'x', sizeof(ct));
	ct[127] = '\0';
	assert_true(asprintf(&s, "POST / HTTP/1.1\r\nContent-Type: %s\r\n\r\n",
	    ct) > 0);
	expect_ok(s);
	assert_int_equal(strlen(req.content_type), 127);
	free(s);
	ct[127] = 'x';
	ct[128] = '\0';
	assert_true(asprintf(&s, "POST / HTTP/1.1\r\nContent-Type: %s\r\n\r\n",
	    ct) > 0);
	expect_status(s, 400);
	free(s);
}

/* RFC 9112 3.2: at most one Host (a missing one is the caller's call). */
static void
test_host(void **state)
{
	(void)state;
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(req.has_host);
	expect_ok("GET / HTTP/1.1\r\n\r\n");
	assert_false(req.has_host);
	expect_ok("GET / HTTP/1.0\r\n\r\n");
	assert_false(req.has_host);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.0\r\nHOST: a\r\nHost: b\r\n\r\n", 400);
}

static void
test_expect(void **state)
{
	(void)state;
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	    "Content-Length: 5\r\n\r\n");
	assert_true(req.expect_continue);
	expect_ok("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n");
	assert_true(req.expect_continue);
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_false(req.expect_continue);
	/* Any other expectation cannot be met. */
	expect_status("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417);
	expect_status("POST / HTTP/1.1\r\nExpect: 100-continue, x\r\n\r\n", 417);
	/* HTTP/1.0 has no expectations: ignored (RFC 9110 10.1.1). */
	expect_ok("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
	assert_false(req.expect_continue);
}

/* One way to write a number: "007" and "00" are not Content-Lengths. */
static void
test_canonical_numbers(void **state)
{
	uint64_t v = 99;

	(void)state;
	expect_status("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nContent-Length: 00\r\n\r\n", 400);
	expect_ok("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	assert_true(req.has_length);
	assert_int_equal(req.content_length, 0);
	assert_int_equal(http_parse_decimal("0", 1, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(http_parse_decimal("10", 2, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(http_parse_decimal("11", 2, 10, &v), -1);
	assert_int_equal(http_parse_decimal("01", 2, UINT64_MAX, &v), -1);
	assert_int_equal(http_parse_decimal("", 0, UINT64_MAX, &v), -1);
	assert_int_equal(http_parse_decimal("+1", 2, UINT64_MAX, &v), -1);
	assert_int_equal(http_parse_decimal(" 1", 2, UINT64_MAX, &v), -1);
	assert_int_equal(http_parse_decimal("18446744073709551615", 20,
	    UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(http_parse_decimal("18446744073709551616", 20,
	    UINT64_MAX, &v), -1);
	assert_true(v == UINT64_MAX);	/* untouched on error */
}

static void
test_status_text(void **state)
{
	static const int codes[] = { 100, 200, 400, 403, 404, 405, 408, 411,
	    413, 415, 417, 431, 500, 501, 503, 505 };

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_string_not_equal(http_status_text(codes[i]), "Unknown");
	assert_string_equal(http_status_text(431),
	    "Request Header Fields Too Large");
	assert_string_equal(http_status_text(999), "Unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_post),
		cmocka_unit_test(test_get_and_other_methods),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_split_then_error),
		cmocka_unit_test(test_head_max),
		cmocka_unit_test(test_headers_max),
		cmocka_unit_test(test_body_max),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_version_2),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_bare_lf_at_once),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_canonical_numbers),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_duplicate_length),
		cmocka_unit_test(test_length_not_digits),
		cmocka_unit_test(test_length_huge),
		cmocka_unit_test(test_target_control_bytes),
		cmocka_unit_test(test_target_lengths),
		cmocka_unit_test(test_field_syntax),
		cmocka_unit_test(test_query_split),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_connection_close_in_list),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_status_text),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
