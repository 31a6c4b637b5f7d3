/*
 * http_resp — a strict, bounded parser for the head of an HTTP/1.1
 * response, for the gateway's own requests as a client (src/warrantd/push.c). Pure
 * functions over bytes (no I/O), fuzzed by tests/fuzz/fuzz_http_resp.c.
 * The mirror of include/http.h for the other direction, and as narrow:
 * CRLF line ends only, no obsolete folding, no Transfer-Encoding (a body
 * must be framed by one Content-Length, or the status must need no body).
 */
#ifndef WD_HTTP_RESP_H
#define WD_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"	/* enum http_parse_result */

struct http_resp_limits {
	size_t		head_max;	/* bytes of status line + headers */
	unsigned	headers_max;	/* number of header fields */
	uint64_t	body_max;	/* a larger Content-Length is an error */
};

struct http_response {
	int		 status;	/* 100-599 */
	int		 minor;		/* HTTP/1.minor */
	bool		 has_length;
	uint64_t	 content_length;
	bool		 close;		/* Connection: close */
	char		 content_type[128];
	size_t		 head_len;	/* bytes of the head, final CRLF included */
};

/*
 * HTTP_PARSE_OK: resp filled; HTTP_PARSE_MORE: no end of head yet (and
 * fewer than head_max bytes); HTTP_PARSE_ERROR: *why says what is wrong
 * (a constant string).
 */
enum http_parse_result http_parse_response_head(const char *buf, size_t len,
	    const struct http_resp_limits *, struct http_response *,
	    const char **why);

#endif
