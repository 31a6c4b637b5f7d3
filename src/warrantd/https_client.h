/*
 * https_client (hc_) — the gateway's one mutual-TLS HTTPS client
 * (src/warrantd/https_client.c), used by push delivery (push.c) and X1
 * provisioning (x1_client.c).
 *
 * It owns: the client TLS context made once from configuration (our
 * certificate and key, the CAs and CRL that sign the servers, the TLS
 * policy of lib/tls.c), the parsing of https:// URLs, and one exchange at a
 * time per request: name lookup (evdns, never the blocking resolver, or
 * IP literals only), non-blocking connect, TLS handshake verifying the
 * server's certificate against the CA (and CRL) and the URL's host (DNS
 * name or IP address), a POST with "Connection: close" whose body is given
 * whole or made as the connection drains, and a bounded answer: head
 * parsed by http_resp.c, body framed by Content-Length. One absolute
 * deadline per request covers all of it.
 *
 * What it does not own: queueing, ordering, retries and the meaning of the
 * answer (the callers'). The interface is narrow on purpose (a context,
 * a request, a completion callback carrying status and body or a reason),
 * so that the client can later move into a process of its own.
 */
#ifndef WD_HTTPS_CLIENT_H
#define WD_HTTPS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "http_resp.h"

#define HC_HOST_LEN	255
#define HC_URL_LEN	1024

struct event_base;
struct evbuffer;
struct hc_ctx;
struct hc_req;

struct hc_config {
	const char	*cert;		/* our client certificate (PEM) */
	const char	*key;		/* its key */
	const char	*ca;		/* CAs that sign the servers */
	const char	*crl;		/* their CRLs (PEM), or NULL */
	const char	*peer;		/* the server in reasons: "endpoint" */
	bool		 resolve;	/* names resolved; else IP literals only */
};

/* NULL (logged) if the certificate, key, CA or CRL cannot be used. */
struct hc_ctx	*hc_ctx_new(struct event_base *, const struct hc_config *);
/* Every request of the context must have ended or been cancelled. */
void		 hc_ctx_free(struct hc_ctx *);

/* A parsed https://HOST[:PORT][/PATH] URL. */
struct hc_url {
	char		 host[HC_HOST_LEN + 1];	/* no brackets */
	char		 authority[HC_HOST_LEN + 9];	/* for Host: */
	char		 path[HC_URL_LEN + 1];
	int		 port;
	bool		 literal;	/* host is an IP address */
};

/*
 * HOST a DNS name (unless ip_only), an IPv4 address or an IPv6 address in
 * brackets; PORT 1-65535 (default 443); PATH printable ASCII without '#'
 * (default "/"); the whole at most HC_URL_LEN bytes. 0 or -1.
 */
int		 hc_url_parse(const char *url, bool ip_only, struct hc_url *);

/*
 * A body made as the connection drains: len bytes in all, fill(arg, out,
 * want) adds about want more to out and says 1 (more to come), 0 (whole)
 * or -1 (it cannot be completed: the connection is closed short of len and
 * the request fails); free(arg) runs exactly once.
 */
struct hc_stream {
	size_t		  len;
	int		(*fill)(void *arg, struct evbuffer *out, size_t want);
	void		(*free)(void *arg);
	void		 *arg;
};

struct hc_limits {
	size_t		 head_max;	/* bytes of one answer's head */
	unsigned	 headers_max;
	size_t		 body_max;	/* bytes of the answer's body */
	unsigned	 interim_max;	/* 1xx answers before the final one */
};

struct hc_spec {
	const struct hc_url	*url;		/* copied */
	const char		*content_type;	/* of the body */
	char			*body;		/* whole, owned by hc from now on, */
	size_t			 len;
	const struct hc_stream	*stream;	/* ... or made as it drains */
	unsigned		 timeout_ms;	/* from the start to the last byte */
	const struct hc_limits	*limits;	/* copied */
	bool			 only_200;	/* other statuses fail at the head */
};

/*
 * The outcome: an answer (status 200, or any final status when only_200 is
 * false, with a Content-Length body of len bytes), or NULL and why (a
 * short reason naming the phase, never quoting the body sent).
 */
struct hc_answer {
	int				 status;
	const struct http_response	*resp;
	const char			*body;	/* len bytes, valid during cb */
	size_t				 len;
};
typedef void (*hc_cb)(const struct hc_answer *, const char *why, void *arg);

/*
 * Starts a request on the context's loop. cb runs exactly once (unless
 * the request is cancelled), on the loop, never inside hc_request(); the
 * request is gone when cb returns. NULL only when out of memory or the
 * arguments are unusable: cb does not run, and the body (or the stream's
 * free) is released.
 */
struct hc_req	*hc_request(struct hc_ctx *, const struct hc_spec *, hc_cb,
		    void *arg);
/* Ends a request that has not called back yet; cb does not run. */
void		 hc_cancel(struct hc_req *);

#endif
