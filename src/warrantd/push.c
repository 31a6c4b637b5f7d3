/*
 * push — the gateway as an HTTPS client with mutual TLS, carrying one HI-1
 * DELIVER message per call to an authority's endpoint and judging the
 * answer (src/warrantd/push.h says what counts as acknowledged).
 *
 * The exchange itself (name lookup with evdns, connect, the handshake
 * checking the endpoint's certificate, CRL and name, the POST with
 * "Connection: close", the answer bounded by PUSH_HEAD_MAX +
 * PUSH_ANSWER_MAX, one absolute deadline of timeout_ms from its start that
 * more bytes never extend) is https_client.c's; a body is given whole
 * (push_send) or made as the connection drains (push_send_body).
 *
 * One connection per message: the lifecycle sends a delivery's parts one
 * at a time, each part is up to 1 MiB, and a fresh full handshake per
 * message re-checks the endpoint's certificate (and CRL) every time, as
 * the server side does. At most PUSH_ACTIVE_MAX requests are open at once;
 * further sends wait in order.
 *
 * This module judges the answer: its body by hi1_parse_response(). Reasons
 * name what went wrong at the transport, HTTP or HI-1 level and never
 * quote the message sent; texts from the endpoint are cut and made
 * printable.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hi1.h"
#include "hi1_parse.h"
#include "https_client.h"
#include "log.h"
#include "push.h"

#define PUSH_ANSWER_MAX		(1024 * 1024)
#define PUSH_HEAD_MAX		(16 * 1024)
#define PUSH_HEADERS_MAX	64
#define PUSH_INTERIM_MAX	4	/* 1xx answers before the final one */
#define PUSH_ACTIVE_MAX		16
#define PUSH_TIMEOUT_DEFAULT	30000
#define PUSH_WHY_LEN		320

struct push_send {
	TAILQ_ENTRY(push_send)	 entry;
	struct push		*p;
	struct hc_url		 url;
	char			 authority[HI1_ID_LEN + 1];
	char			(*ids)[HI1_UUID_LEN + 1];
	size_t			 nids;
	char			*body;		/* whole, or NULL: */
	size_t			 len;
	struct push_body	 stream;	/* ... made as it drains */
	bool			 streaming;	/* stream.free still owed */
	push_cb			 cb;
	void			*arg;
	struct hc_req		*hr;		/* the exchange, once started */
};
TAILQ_HEAD(push_sends, push_send);

struct push {
	struct event_base	*base;
	struct hc_ctx		*hc;
	const struct hi1_schema	*schema;
	char			 carrier_id[HI1_ID_LEN + 1];
	unsigned		 timeout_ms;
	struct push_sends	 queue;		/* not started yet */
	struct push_sends	 active;	/* exchanging */
	unsigned		 nqueued, nactive;
	struct event		*kick;		/* starts queued sends */
	bool			 freeing;	/* push_send() refuses */
};

static void	push_start(struct push_send *);

static void
push_kickcb(evutil_socket_t fd, short what, void *arg)
{
	struct push	*p = arg;
	struct push_send *s;

	(void)fd;
	(void)what;
	if (p->nactive >= PUSH_ACTIVE_MAX || (s = TAILQ_FIRST(&p->queue)) == NULL)
		return;
	TAILQ_REMOVE(&p->queue, s, entry);
	p->nqueued--;
	TAILQ_INSERT_TAIL(&p->active, s, entry);
	p->nactive++;
	/* One per run: a send failing at once may call back and free p. */
	if (p->nactive < PUSH_ACTIVE_MAX && !TAILQ_EMPTY(&p->queue))
		event_active(p->kick, EV_TIMEOUT, 0);
	push_start(s);
}

struct push *
push_new(struct event_base *base, const struct push_config *cfg,
    const struct hi1_schema *schema)
{
	struct push	*p;
	struct hc_config hcc;

	if (cfg == NULL || cfg->cert == NULL || cfg->key == NULL ||
	    cfg->ca == NULL || cfg->carrier_id == NULL || schema == NULL) {
		log_warnx("push: certificate, key, CA and carrier id are needed");
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("push");
		return NULL;
	}
	p->base = base;
	p->schema = schema;
	p->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : PUSH_TIMEOUT_DEFAULT;
	snprintf(p->carrier_id, sizeof(p->carrier_id), "%s", cfg->carrier_id);
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->active);
	hcc = (struct hc_config){ .cert = cfg->cert, .key = cfg->key,
	    .ca = cfg->ca, .crl = cfg->crl, .peer = "endpoint",
	    .resolve = true };
	if ((p->hc = hc_ctx_new(base, &hcc)) == NULL)
		goto fail;
	if ((p->kick = event_new(base, -1, 0, push_kickcb, p)) == NULL) {
		log_warnx("push: out of memory");
		goto fail;
	}
	return p;
 fail:
	push_free(p);
	return NULL;
}

void
push_set_schema(struct push *p, const struct hi1_schema *schema)
{
	if (p != NULL && schema != NULL)
		p->schema = schema;
}

unsigned
push_pending(const struct push *p)
{
	return p->nqueued + p->nactive;
}

/*
 * The end of a send, exactly once: detached from push before the callback
 * runs, so that the callback may send again or even free push.
 */
static void
push_finish(struct push_send *s, int ok, const char *why)
{
	struct push	*p = s->p;

	TAILQ_REMOVE(&p->active, s, entry);
	p->nactive--;
	if (!TAILQ_EMPTY(&p->queue))
		event_active(p->kick, EV_TIMEOUT, 0);
	hc_cancel(s->hr);
	if (s->streaming)
		s->stream.free(s->stream.arg);
	free(s->body);
	free(s->ids);
	s->cb(ok, why, s->arg);
	free(s);
}

static void
push_fail(struct push_send *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
push_fail(struct push_send *s, const char *fmt, ...)
{
	char	 why[PUSH_WHY_LEN];
	size_t	 n;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* Cut short: not in the middle of a UTF-8 character. */
	if ((n = strlen(why)) == sizeof(why) - 1) {
		while (n > 0 && ((unsigned char)why[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && (unsigned char)why[n - 1] >= 0xc0)
			n--;
		why[n] = '\0';
	}
	push_finish(s, 0, why);
}

void
push_free(struct push *p)
{
	struct push_send	*s;

	if (p == NULL)
		return;
	p->freeing = true;
	/* Queued ones first: finishing an active one would start them. */
	while ((s = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, s, entry);
		p->nqueued--;
		TAILQ_INSERT_TAIL(&p->active, s, entry);
		p->nactive++;
	}
	while ((s = TAILQ_FIRST(&p->active)) != NULL)
		push_finish(s, 0, "shutting down before an answer");
	if (p->kick != NULL)
		event_free(p->kick);
	hc_ctx_free(p->hc);
	free(p);
}

/* A send queued on p, started from the loop; -1 if the arguments are unusable. */
static int
push_queue(struct push *p, struct push_send *s, const char *url,
    const char *authority, const char *const *ids, size_t n, size_t len,
    push_cb cb, void *arg)
{
	if (n == 0 || n > HI1_MAX_ACTIONS || cb == NULL || authority == NULL ||
	    strlen(authority) > HI1_ID_LEN || url == NULL ||
	    strnlen(url, HI1_URL_LEN + 1) > HI1_URL_LEN ||
	    hc_url_parse(url, false, &s->url) == -1 ||
	    (s->ids = calloc(n, sizeof(*s->ids))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == NULL || strlen(ids[i]) > HI1_UUID_LEN) {
			free(s->ids);
			return -1;
		}
		snprintf(s->ids[i], sizeof(s->ids[i]), "%s", ids[i]);
	}
	snprintf(s->authority, sizeof(s->authority), "%s", authority);
	s->p = p;
	s->nids = n;
	s->len = len;
	s->cb = cb;
	s->arg = arg;
	TAILQ_INSERT_TAIL(&p->queue, s, entry);
	p->nqueued++;
	/* Started from the loop: cb never runs inside push_send(). */
	event_active(p->kick, EV_TIMEOUT, 0);
	return 0;
}

int
push_send(struct push *p, const char *url, const char *authority,
    const char *const *ids, size_t n, char *body, size_t len, push_cb cb,
    void *arg)
{
	struct push_send	*s = NULL;

	if (p->freeing || body == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	s->body = body;
	if (push_queue(p, s, url, authority, ids, n, len, cb, arg) == -1)
		goto fail;
	return 0;
 fail:
	free(s);
	free(body);
	return -1;
}

int
push_send_body(struct push *p, const char *url, const char *authority,
    const char *const *ids, size_t n, const struct push_body *body,
    push_cb cb, void *arg)
{
	struct push_send	*s = NULL;

	if (body == NULL || body->fill == NULL || body->free == NULL)
		return -1;
	if (p->freeing || body->len == 0 ||
	    (s = calloc(1, sizeof(*s))) == NULL ||
	    push_queue(p, s, url, authority, ids, n, body->len, cb, arg) == -1) {
		free(s);
		body->free(body->arg);
		return -1;
	}
	s->stream = *body;
	s->streaming = true;
	return 0;
}

static void	push_done(const struct hc_answer *, const char *, void *);

/* The exchange, the body handed over to https_client. */
static void
push_start(struct push_send *s)
{
	static const struct hc_limits lim = { PUSH_HEAD_MAX, PUSH_HEADERS_MAX,
	    PUSH_ANSWER_MAX, PUSH_INTERIM_MAX };
	struct hc_stream	 stream;
	struct hc_spec		 spec = { .url = &s->url,
	    .content_type = "application/xml", .body = s->body, .len = s->len,
	    .timeout_ms = s->p->timeout_ms, .limits = &lim };

	if (s->streaming) {
		stream = (struct hc_stream){ s->stream.len, s->stream.fill,
		    s->stream.free, s->stream.arg };
		spec.stream = &stream;
	}
	s->body = NULL;
	s->streaming = false;
	if ((s->hr = hc_request(s->p->hc, &spec, push_done, s)) == NULL)
		push_fail(s, "out of memory");
}

/* Is id one of those sent, and not acknowledged yet? Marks it. */
static bool
push_claim(struct push_send *s, const char *id, bool *seen)
{
	for (size_t i = 0; i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0 && !seen[i]) {
			seen[i] = true;
			return true;
		}
	return false;
}

/* An HI-1 answer: acknowledged only if every object is, and nothing else. */
static void
push_judge_hi1(struct push_send *s, const struct hi1_response *r)
{
	bool	 seen[HI1_MAX_ACTIONS] = { false };

	if (r->error) {
		push_fail(s, "the endpoint refused the message: error %u: %s",
		    r->error_code, r->error_text);
		return;
	}
	if (strcmp(r->h.sender_id, s->authority) != 0 ||
	    strcmp(r->h.receiver_id, s->p->carrier_id) != 0) {
		push_fail(s, "the answer is from %s to %s, not from %s to %s",
		    r->h.sender_id, r->h.receiver_id, s->authority,
		    s->p->carrier_id);
		return;
	}
	for (size_t i = 0; i < r->nactions; i++) {
		const struct hi1_outcome *o = &r->actions[i];

		if (o->error) {
			push_fail(s, "action %u refused: error %u: %s",
			    o->action_id, o->error_code, o->error_text);
			return;
		}
		if (o->verb != HI1_VERB_DELIVER) {
			push_fail(s, "action %u answered with a %s response, not "
			    "DELIVERResponse", o->action_id,
			    hi1_verb_name(o->verb));
			return;
		}
		if (!push_claim(s, o->identifier, seen)) {
			push_fail(s, "action %u acknowledges %s, which is not "
			    "one of the objects sent or is acknowledged twice",
			    o->action_id, o->identifier);
			return;
		}
	}
	if (r->nactions != s->nids) {
		push_fail(s, "%zu acknowledgements for %zu objects sent",
		    r->nactions, s->nids);
		return;
	}
	push_finish(s, 1, "acknowledged");
}

static void
push_judge(struct push_send *s, int status, const char *body, size_t len)
{
	struct hi1_response	 r;
	struct wd_error		 err;
	char			 pr[96];
	size_t			 i;

	if (hi1_parse_response(s->p->schema, body, len, &r, &err) == -1) {
		if (status != 200) {
			push_fail(s, "HTTP %d", status);
			return;
		}
		/* A libxml2 message about the answer, not our message. */
		for (i = 0; err.text[i] != '\0' && i + 1 < sizeof(pr); i++)
			pr[i] = isprint((unsigned char)err.text[i]) ?
			    err.text[i] : '?';
		pr[i] = '\0';
		push_fail(s, "the answer is not a valid HI-1 response: error %d: "
		    "%s", (int)err.code, pr);
		return;
	}
	if (status == 200)
		push_judge_hi1(s, &r);
	else if (r.error)
		push_fail(s, "HTTP %d: error %u: %s", status,
		    r.error_code, r.error_text);
	else if (r.nactions > 0 && r.actions[0].error)
		push_fail(s, "HTTP %d: action %u: error %u: %s", status,
		    r.actions[0].action_id, r.actions[0].error_code,
		    r.actions[0].error_text);
	else
		push_fail(s, "HTTP %d", status);
}


/* The exchange's end: a transport or HTTP failure, or an answer to judge. */
static void
push_done(const struct hc_answer *a, const char *why, void *arg)
{
	struct push_send	*s = arg;

	s->hr = NULL;	/* gone once this returns */
	if (a == NULL)
		push_fail(s, "%s", why);
	else
		push_judge(s, a->status, a->body, a->len);
}
