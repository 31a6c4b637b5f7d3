/*
 * http — a strict, bounded parser for the request head of HTTP/1.1, the only
 * HTTP the daemon speaks. Pure functions over bytes (no I/O), so they can be
 * fuzzed directly. Only what warrantd needs: request line, headers,
 * Content-Length bodies. Transfer-Encoding is refused (501): request
 * smuggling and unbounded chunk streams are not worth supporting.
 */
#ifndef WD_HTTP_H
#define WD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method { HTTP_GET = 0, HTTP_POST, HTTP_OTHER };

struct http_limits {
	size_t		head_max;	/* bytes of request line + headers */
	unsigned	headers_max;	/* number of header fields */
	size_t		body_max;
};

struct http_request {
	enum http_method method;
	char		 path[256];
	char		 query[512];
	int		 minor;		/* HTTP/1.minor */
	bool		 keep_alive;
	bool		 has_length;
	size_t		 content_length;
	bool		 has_host;	/* one Host field (two are refused) */
	bool		 expect_continue; /* HTTP/1.1 "Expect: 100-continue" */
	char		 content_type[128];
	size_t		 head_len;	/* bytes consumed by the head */
};

enum http_parse_result {
	HTTP_PARSE_OK = 0,		/* head complete, req filled */
	HTTP_PARSE_MORE,		/* need more bytes */
	HTTP_PARSE_ERROR		/* *status set: 400, 413, 417, 431, 501, 505 */
};

/*
 * A head is refused as soon as its bytes show it is bad in a way no later
 * byte can mend (a bare LF or CR), not when the deadline passes. A second
 * Host field is an error; a missing one is not (HTTP/1.0 needs none): the
 * caller refuses an HTTP/1.1 request without has_host. Numbers are
 * canonical (http_parse_decimal), in Content-Length as in queries.
 */

enum http_parse_result http_parse_head(const char *buf, size_t len,
	    const struct http_limits *, struct http_request *, int *status);
const char	*http_status_text(int status);
/*
 * A canonical decimal number: digits only, no sign, no spaces, no leading
 * zero (but "0" itself), at most max. Returns 0, or -1 for anything else.
 */
int		 http_parse_decimal(const char *s, size_t len, uint64_t max,
		    uint64_t *out);

#endif
