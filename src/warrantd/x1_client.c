/*
 * x1_client — HTTPS POST of X1 requests to one network element over mutual
 * TLS, on the caller's libevent loop (include/x1_client.h says the rules).
 *
 * The transport is the gateway's one HTTPS client (https_client.c), set up
 * for what X1 needs: the element's URL names an IP address (elements sit
 * on the carrier's own network and are configured by address; no name is
 * resolved, so no resolver can redirect a provisioning), one connection
 * per message ("Connection: close", a full handshake that re-checks the
 * element's certificate each time), an answer other than HTTP 200 refused
 * at its head, a body of at most X1_ANSWER_MAX bytes framed by
 * Content-Length, read here by x1_parse().
 *
 * Ordering: requests for one key never overlap; requests for different
 * keys run side by side up to X1C_ACTIVE_MAX connections per element.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/time.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "conf.h"
#include "https_client.h"
#include "log.h"
#include "strict.h"
#include "tls.h"
#include "x1_client.h"

#define X1C_ACTIVE_MAX		8
#define X1C_HEAD_MAX		(16 * 1024)
#define X1C_HEADERS_MAX		64
#define X1C_INTERIM_MAX		4
#define X1C_PAUSE_MS		500	/* first pause between attempts */
#define X1C_WHY_LEN		320
#define X1C_KEY_LEN		64

struct x1c_req {
	TAILQ_ENTRY(x1c_req)	 entry;
	struct x1c		*c;
	char			 key[X1C_KEY_LEN + 1];
	struct x1_msg		 m;
	struct x1_task		 task;
	struct x1_dest		 dest;
	char			 id[X1_UUID_LEN + 1];
	x1c_cb			 cb;
	void			*arg;
	struct x1c_result	 res;
	char			 why[X1C_WHY_LEN];
	/* The attempt in progress, or the pause before the next. */
	struct hc_req		*hr;
	struct event		*timer;		/* the pause */
	bool			 pausing;
};
TAILQ_HEAD(x1c_reqs, x1c_req);

struct x1c {
	struct event_base	*base;
	struct hc_ctx		*hc;
	struct hc_url		 url;		/* an IP address */
	char			 name[X1_ID_LEN + 1];
	char			 admf[X1_ID_LEN + 1];
	unsigned		 deadline_ms;
	unsigned		 retries;
	struct x1c_reqs		 queue, active;
	unsigned		 nqueued, nactive;
	struct event		*kick;
	bool			 freeing;
	int64_t			(*now)(void *);
	void			*now_arg;
};

static void	x1c_attempt(struct x1c_req *);

/* ---- set-up ------------------------------------------------------------------ */

static void
x1c_kickcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1c	*c = arg;
	struct x1c_req	*r, *a;
	bool		 busy;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(r, &c->queue, entry) {
		if (c->nactive >= X1C_ACTIVE_MAX)
			return;
		busy = false;
		if (r->key[0] != '\0')
			TAILQ_FOREACH(a, &c->active, entry)
				busy |= strcmp(a->key, r->key) == 0;
		if (busy)
			continue;
		TAILQ_REMOVE(&c->queue, r, entry);
		c->nqueued--;
		TAILQ_INSERT_TAIL(&c->active, r, entry);
		c->nactive++;
		/* One per run: an attempt failing at once may free c. */
		event_active(c->kick, EV_TIMEOUT, 0);
		x1c_attempt(r);
		return;
	}
}

struct x1c *
x1c_new(struct event_base *base, const struct wd_ne *ne, const char *admf)
{
	struct x1c *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("x1 %s", ne->name);
		return NULL;
	}
	c->base = base;
	snprintf(c->name, sizeof(c->name), "%s", ne->name);
	snprintf(c->admf, sizeof(c->admf), "%s", admf);
	c->deadline_ms = ne->deadline_ms;
	c->retries = ne->retries < X1C_ATTEMPTS_MAX ? ne->retries :
	    X1C_ATTEMPTS_MAX - 1;
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->active);
	if (hc_url_parse(ne->url, true, &c->url) == -1) {
		log_warnx("ne \"%s\": url %s: https://ADDRESS[:PORT]/PATH with "
		    "an IP address is required", ne->name, ne->url);
		goto fail;
	}
	/* Strict modes, as for every TLS file of ours (lib/strict.c). */
	if (strict_check_log(ne->cert, STRICT_CONF) == -1 ||
	    strict_check_log(ne->ca, STRICT_CONF) == -1 ||
	    (ne->crl != NULL && strict_check_log(ne->crl, STRICT_CONF) == -1) ||
	    strict_check_log(ne->key, STRICT_KEY) == -1 ||
	    tls_key_file_private(ne->key) == -1 ||
	    (c->hc = hc_ctx_new(base, &(struct hc_config){ .cert = ne->cert,
	    .key = ne->key, .ca = ne->ca, .crl = ne->crl, .peer = "element",
	    .resolve = false })) == NULL) {
		log_warnx("ne \"%s\": its TLS files cannot be used", ne->name);
		goto fail;
	}
	if ((c->kick = event_new(base, -1, 0, x1c_kickcb, c)) == NULL)
		goto fail;
	return c;
 fail:
	x1c_free(c);
	return NULL;
}

const char *
x1c_name(const struct x1c *c)
{
	return c->name;
}

unsigned
x1c_pending(const struct x1c *c)
{
	return c->nqueued + c->nactive;
}

void
x1c_set_clock(struct x1c *c, int64_t (*now)(void *), void *arg)
{
	c->now = now;
	c->now_arg = arg;
}

static int64_t
x1c_now(const struct x1c *c)
{
	struct timeval tv;

	if (c->now != NULL)
		return c->now(c->now_arg);
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ---- one attempt --------------------------------------------------------------- */

/* Close what the attempt opened; the request lives on. */
static void
x1c_close(struct x1c_req *r)
{
	hc_cancel(r->hr);
	if (r->timer != NULL)
		event_free(r->timer);
	r->hr = NULL;
	r->timer = NULL;
	r->pausing = false;
}

/* The end of a request, exactly once; cb may send again or free c. */
static void
x1c_finish(struct x1c_req *r, const struct x1_answer *a)
{
	struct x1c *c = r->c;

	x1c_close(r);
	TAILQ_REMOVE(&c->active, r, entry);
	c->nactive--;
	if (!TAILQ_EMPTY(&c->queue) && !c->freeing)
		event_active(c->kick, EV_TIMEOUT, 0);
	r->res.answered = a != NULL;
	r->res.answer = a;
	r->res.why = a != NULL ? NULL : r->why;
	r->cb(&r->res, r->arg);
	free(r);
}

static void
x1c_pausecb(evutil_socket_t fd, short what, void *arg)
{
	struct x1c_req *r = arg;

	(void)fd;
	(void)what;
	x1c_close(r);
	x1c_attempt(r);
}

/* This attempt failed: another after a pause, or the end. */
static void x1c_fail(struct x1c_req *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
x1c_fail(struct x1c_req *r, const char *fmt, ...)
{
	va_list		 ap;
	struct timeval	 tv;
	uint32_t	 jitter = 0;
	int64_t		 ms = X1C_PAUSE_MS;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	for (char *p = r->why; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	log_info("x1 %s: %s %s (transaction %s): %s", r->c->name,
	    x1_op_name(r->m.op), r->key, r->m.txid, r->why);
	if (r->c->freeing || r->res.ntxids > r->c->retries) {
		x1c_finish(r, NULL);
		return;
	}
	x1c_close(r);
	for (size_t i = 1; i < r->res.ntxids; i++)
		ms *= 2;
	/* ±25 %: elements that failed together do not retry together. */
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	ms = ms * 3 / 4 + (int64_t)(jitter % (uint32_t)(ms / 2 + 1));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	r->pausing = true;
	if ((r->timer = evtimer_new(r->c->base, x1c_pausecb, r)) == NULL ||
	    evtimer_add(r->timer, &tv) == -1)
		x1c_finish(r, NULL);
}

static void	x1c_done(const struct hc_answer *, const char *, void *);

static void
x1c_attempt(struct x1c_req *r)
{
	static const struct hc_limits lim = { X1C_HEAD_MAX, X1C_HEADERS_MAX,
	    X1_ANSWER_MAX, X1C_INTERIM_MAX };
	struct x1c	*c = r->c;
	struct hc_spec	 spec = { .url = &c->url,
	    .content_type = "application/xml", .timeout_ms = c->deadline_ms,
	    .limits = &lim, .only_200 = true };

	r->m.now_us = x1c_now(c);
	if (x1_build(&r->m, &spec.body, &spec.len) == -1) {
		snprintf(r->why, sizeof(r->why), "the message cannot be built");
		x1c_finish(r, NULL);
		return;
	}
	/* Every attempt is a new transaction, and the caller hears of it. */
	snprintf(r->res.txids[r->res.ntxids++], X1_UUID_LEN + 1, "%s",
	    r->m.txid);
	if ((r->hr = hc_request(c->hc, &spec, x1c_done, r)) == NULL)
		x1c_fail(r, "out of memory");
}

/* The attempt's end: a transport or HTTP failure, or an answer to read. */
static void
x1c_done(const struct hc_answer *ha, const char *why, void *arg)
{
	struct x1c_req		*r = arg;
	struct x1_answer	 a;
	char			 pwhy[X1C_WHY_LEN - 40];

	r->hr = NULL;	/* gone once this returns */
	if (ha == NULL) {
		x1c_fail(r, "%s", why);
		return;
	}
	if (x1_parse(&r->m, ha->body, ha->len, &a, pwhy, sizeof(pwhy)) == -1) {
		x1c_fail(r, "not an X1 answer to this request: %s", pwhy);
		return;
	}
	x1c_finish(r, &a);
	x1_answer_free(&a);
}

/* ---- the interface ------------------------------------------------------------ */

int
x1c_send(struct x1c *c, const struct x1_msg *m, const char *key, x1c_cb cb,
    void *arg)
{
	struct x1c_req *r;

	if (c->freeing || cb == NULL || strlen(key) > X1C_KEY_LEN ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->c = c;
	r->cb = cb;
	r->arg = arg;
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->m = *m;
	r->m.admf = c->admf;
	r->m.ne = c->name;
	if (m->task != NULL) {
		r->task = *m->task;
		r->m.task = &r->task;
	}
	if (m->dest != NULL) {
		r->dest = *m->dest;
		r->m.dest = &r->dest;
	}
	if (m->id != NULL) {
		snprintf(r->id, sizeof(r->id), "%s", m->id);
		r->m.id = r->id;
	}
	TAILQ_INSERT_TAIL(&c->queue, r, entry);
	c->nqueued++;
	event_active(c->kick, EV_TIMEOUT, 0);
	return 0;
}

void
x1c_free(struct x1c *c)
{
	struct x1c_req *r;

	if (c == NULL)
		return;
	c->freeing = true;
	while ((r = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, r, entry);
		c->nqueued--;
		TAILQ_INSERT_TAIL(&c->active, r, entry);
		c->nactive++;
	}
	while ((r = TAILQ_FIRST(&c->active)) != NULL) {
		snprintf(r->why, sizeof(r->why), "shutting down before an "
		    "answer");
		x1c_finish(r, NULL);
	}
	if (c->kick != NULL)
		event_free(c->kick);
	hc_ctx_free(c->hc);
	free(c);
}
