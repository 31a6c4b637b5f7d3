/*
 * desk.h — the carrier's compliance desk (issue 10, docs/desk-api.md): its
 * JSON API under /desk/api/ on the desk listener. The connection layer
 * (server.c) hands it one parsed request as a message and gets one answer
 * back through a callback; the desk reaches the objects and the journal
 * only through the store's, the lifecycle's and the journal's functions, so
 * that it can move into a process of its own.
 */
#ifndef WD_DESK_H
#define WD_DESK_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct desk;
struct journal;
struct store;
struct lifecycle;
struct alert;
struct tally;
struct backend_set;
struct wd_conf;
struct wd_official;
struct x1prov;

/* The connection layer's counters, for /metrics (read through a callback). */
struct desk_stats {
	uint64_t	 accepted, repeated, read, refused, invalid, unavailable;
	uint64_t	 tls_refused;
	unsigned	 connections;
};

struct desk_env {
	struct journal		*journal;
	struct store		*store;
	struct lifecycle	*lifecycle;
	struct backend_set	*backends;	/* NULL: none configured */
	void			(*stats)(void *arg, struct desk_stats *);
	void			*stats_arg;
	const char		*pages;		/* the console's files (a directory) */
	const struct x1prov	*x1;		/* NULL: no network element */
	struct alert		*alerts;	/* deadlines in danger (alert.h) */
	struct tally		*tally;		/* counts of records (tally.h) */
};

/*
 * Headers every answer on the desk's listener carries: the console runs
 * under a CSP without inline scripts or other origins, is never framed,
 * and nothing is sniffed or cached.
 */
#define DESK_SECURITY_HEADERS \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; " \
	"style-src 'self'; connect-src 'self'; img-src 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"X-Frame-Options: DENY\r\n"

/* One request, as the connection layer parsed it (copied by the desk). */
struct desk_request {
	enum http_method	 method;
	const char		*path;
	const char		*query;
	const char		*content_type;
	const char		*body;		/* NULL: none */
	size_t			 len;
	const struct wd_conf	*conf;		/* the registry in force */
	const struct wd_official *who;		/* registered person, or NULL */
	const char		*fingerprint;	/* of the client certificate */
	const char		*peer;
};

/* The answer: body is malloc'ed and passes to the callee. */
typedef void (*desk_reply_cb)(int status, const char *content_type,
    char *body, size_t len, void *arg);

struct desk	*desk_new(const struct desk_env *);
void		 desk_free(struct desk *);
/* Exactly one reply, now or once what the request did is journaled. */
void		 desk_handle(struct desk *, const struct desk_request *,
		    desk_reply_cb, void *arg);
/*
 * The methods the desk's route table has for path, for the Allow header of
 * a 405 ("GET", "POST"); NULL when it has none (404). The connection layer
 * adds it to the desk's 405s and answers other methods with it.
 */
const char	*desk_allow(const char *path);
/* Replies still owed (for a clean stop). */
unsigned	 desk_pending(const struct desk *);

#endif
