/*
 * push — the gateway as an HTTPS client with mutual TLS, sending HI-1
 * DELIVER messages to an authority's delivery endpoint (src/warrantd/push.c).
 *
 * One message at a time per call; the caller (the lifecycle) decides what
 * to send, keeps the order of a delivery's parts, journals each outcome
 * and retries with backoff across restarts. This module only carries one
 * message and judges the answer: a delivery counts as acknowledged only
 * when the endpoint answers HTTP 200 with an HI-1 message valid under the
 * profile's templates whose ActionResponses are one DELIVERResponse per
 * action sent, each naming the object delivered. Anything else (refused
 * connection, TLS failure, timeout, another status, garbage, an
 * ErrorInformation) is a failure with a reason for the journal.
 *
 * Everything runs on the caller's libevent loop and never blocks on the
 * network; every byte from the endpoint is bounded (answers over 1 MiB are
 * refused) and parsed by the same hardened libxml2 path as requests.
 * One connection per message (Connection: close), at most 16 at once; the
 * rest wait in order. A body is either given whole or made as the
 * connection drains (push_send_body: a pushed part streamed from the
 * results store, never whole in memory). The endpoint's certificate must chain to ca (and
 * pass crl, if given) and name the URL's host (DNS name or IP address).
 */
#ifndef WD_PUSH_H
#define WD_PUSH_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct hi1_schema;
struct push;

struct push_config {
	const char	*cert;		/* the carrier's client certificate (PEM) */
	const char	*key;		/* its key (mode 0600) */
	const char	*ca;		/* CAs that sign authorities' endpoints */
	const char	*crl;		/* their CRLs (PEM), or NULL: not checked */
	unsigned	 timeout_ms;	/* connect + send + answer, default 30 s */
	const char	*carrier_id;	/* the sender of our messages */
};

/* NULL (logged) if the certificate, key, CA or CRL cannot be used. */
struct push	*push_new(struct event_base *, const struct push_config *,
		    const struct hi1_schema *);
/*
 * The templates answers are validated with, when a reload replaces them:
 * push keeps only a pointer, so call this before the old schema is freed.
 */
void		 push_set_schema(struct push *, const struct hi1_schema *);
/*
 * Pending sends report failure (their cb runs inside push_free, where
 * push_send() returns -1).
 */
void		 push_free(struct push *);

/*
 * ok: 1 if acknowledged as above, 0 if not (why: a short reason, never
 * the message's contents). Runs exactly once, on the loop, never before
 * push_send() returns.
 */
typedef void (*push_cb)(int ok, const char *why, void *arg);

/*
 * POST body (a DELIVER message, owned by push from now on, also when -1 is
 * returned) to url (https://host[:port]/path), expecting DELIVERResponses
 * for the object identifiers in ids (n of them, 1 to HI1_MAX_ACTIONS) from
 * authority. -1 only when out of memory, url is not an https URL or the
 * arguments are unusable (cb does not run).
 */
int		 push_send(struct push *, const char *url, const char *authority,
		    const char *const *ids, size_t n, char *body, size_t len,
		    push_cb cb, void *arg);
/*
 * A body made as the connection drains (a DELIVER whose part is streamed
 * from the results store, src/warrantd/answer_stream.h): len bytes in all (the
 * Content-Length), fill(arg, out, want) adds about want more of them to
 * out and says 1 (more to come), 0 (whole) or -1 (it cannot be completed:
 * the connection is closed short of len, and the send fails); free(arg)
 * runs exactly once, when the send ends or could not start.
 */
struct push_body {
	size_t		  len;
	int		(*fill)(void *arg, struct evbuffer *out, size_t want);
	void		(*free)(void *arg);
	void		 *arg;
};

/*
 * As push_send, with the body made as it goes: push holds at most
 * 256 KiB of it in the connection's output at a time. -1 in the same
 * cases (body->free has run then too).
 */
int		 push_send_body(struct push *, const char *url,
		    const char *authority, const char *const *ids, size_t n,
		    const struct push_body *body, push_cb cb, void *arg);
/* Sends in progress. */
unsigned	 push_pending(const struct push *);

#endif
