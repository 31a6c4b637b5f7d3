/*
 * backend — calls to the carrier's back ends (see include/backend.h and
 * docs/gateway-backends.md): the set built from the configuration, each
 * call's attempts (deadline, retries with exponential backoff and full
 * jitter) and the circuit breaker of each back end. What is done with an
 * answer, and the finisher thread that makes results durable, are
 * src/warrantd/backend_answer.c's; connections src/warrantd/backend_conn.c's.
 *
 * Every call ends in exactly one callback, always from the event loop and
 * never from inside backend_call(): completion is posted as a zero timeout.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "backend_impl.h"
#include "conf.h"
#include "log.h"
#include "strict.h"
#include "seal.h"
#include "wd_tls_policy.h"
#include "wd_wake.h"

static void	call_attempt(struct backend_call *);

int64_t
backend_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *
backend_outcome_name(enum backend_outcome o)
{
	static const char *names[BACKEND__OUTCOMES] = {
		[BACKEND_OK] = "ok",
		[BACKEND_NOT_FOUND] = "not-found",
		[BACKEND_NOT_RETAINED] = "not-retained",
		[BACKEND_OUTSIDE_RETENTION] = "outside-retention",
		[BACKEND_MALFORMED] = "malformed",
		[BACKEND_UNSUPPORTED] = "unsupported",
		[BACKEND_FAILED] = "failed",
		[BACKEND_UNAVAILABLE] = "unavailable",
		[BACKEND_DEADLINE] = "deadline",
		[BACKEND_INTEGRITY] = "integrity",
		[BACKEND_STORAGE] = "storage",
		[BACKEND_CANCELLED] = "cancelled",
	};

	if ((unsigned)o >= BACKEND__OUTCOMES)
		return "?";
	return names[o];
}

/* --- the circuit breaker ------------------------------------------------------ */

static const char *
breaker_name(enum breaker_state s)
{
	return s == BREAKER_CLOSED ? "closed" : s == BREAKER_OPEN ? "open" :
	    "half-open";
}

/* Open long enough: the next call may probe. */
static void
breaker_tick(struct backend *be)
{
	if (be->breaker == BREAKER_OPEN && backend_now_ms() >= be->open_until_ms) {
		be->breaker = BREAKER_HALF_OPEN;
		be->probing = false;
		log_info("backend %s: breaker half-open: the next call probes",
		    be->name);
	}
}

/* May this call make an attempt now? */
static bool
breaker_admit(struct backend *be, struct backend_call *call)
{
	breaker_tick(be);
	if (be->breaker == BREAKER_CLOSED || call->probe)
		return true;
	if (be->breaker == BREAKER_OPEN || be->probing)
		return false;
	be->probing = true;
	call->probe = true;
	return true;
}

static void
breaker_failure(struct backend *be)
{
	be->consecutive++;
	if (be->breaker == BREAKER_HALF_OPEN ||
	    (be->breaker == BREAKER_CLOSED &&
	    be->consecutive >= be->breaker_failures)) {
		if (be->breaker == BREAKER_CLOSED)
			log_warnx("backend %s: breaker open after %u consecutive "
			    "failures: calls fail at once for %u ms", be->name,
			    be->consecutive, be->breaker_open_ms);
		else
			log_warnx("backend %s: probe failed, breaker open again "
			    "for %u ms", be->name, be->breaker_open_ms);
		be->breaker = BREAKER_OPEN;
		be->open_until_ms = backend_now_ms() + be->breaker_open_ms;
		be->probing = false;
	}
}

void
backend_breaker_success(struct backend *be)
{
	be->consecutive = 0;
	if (be->breaker != BREAKER_CLOSED)
		log_info("backend %s: breaker closed", be->name);
	be->breaker = BREAKER_CLOSED;
	be->probing = false;
}

/* --- completion -------------------------------------------------------------- */

static void
call_run_callback(struct backend_call *call)
{
	struct backend_set	*set = call->set;
	struct backend_result	 res;
	Warrant__Backend__Envelope *a = call->answer;

	memset(&res, 0, sizeof(res));
	res.outcome = call->outcome;
	res.query = &call->q;
	res.backend = call->be != NULL ? call->be->name : "";
	res.attempts = call->attempts;
	res.duration_us = (uint64_t)(now_us() - call->started_us);
	res.detail = call->detail;
	if (call->outcome == BACKEND_OK) {
		res.count = call->count;
		memcpy(res.sha256, call->sha256, sizeof(res.sha256));
		res.stored = call->stored;
		memcpy(res.result_name, call->result_name,
		    sizeof(res.result_name));
		if (a != NULL && a->body_case ==
		    WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER)
			res.subscriber = a->subscriber;
		else if (a != NULL && a->body_case ==
		    WARRANT__BACKEND__ENVELOPE__BODY_LOCATION)
			res.location = a->location;
		else if (a != NULL && a->body_case ==
		    WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION_ACK)
			res.preservation = a->preservation_ack;
	}
	if (call->outcome == BACKEND_OK && call->held != NULL) {
		res.data = call->held;
		res.len = call->held_len;
	}
	TAILQ_REMOVE(&set->calls, call, all);
	set->npending--;
	call->cb(&res, call->arg);
	backend_frame_free(call->answer);
	if (call->held != NULL)
		OPENSSL_cleanse(call->held, call->held_len);
	free(call->held);
	event_free(call->timer);
	free(call);
}

/* Leave whatever list or connection the call is on. */
void
backend_call_detach(struct backend_call *call)
{
	struct backend_conn	*c = call->conn;

	if (call->state == CALL_QUEUED) {
		TAILQ_REMOVE(&call->be->waiting, call, entry);
		call->be->nwaiting--;
		call->state = CALL_NEW;
	} else if (c != NULL) {
		TAILQ_REMOVE(&c->inflight, call, entry);
		c->ninflight--;
		call->conn = NULL;
	}
}

/* Give up on the request at the back end too: detach and cancel it. */
static void
call_abandon(struct backend_call *call)
{
	struct backend_conn	*c = call->conn;
	uint64_t		 id = call->request_id;

	backend_call_detach(call);
	results_abort(call->w);
	call->w = NULL;
	if (c != NULL)
		backend_conn_cancel(c, id);
}

void
backend_call_complete(struct backend_call *call, enum backend_outcome outcome,
    const char *fmt, ...)
{
	struct timeval	tv = { 0, 0 };
	va_list		ap;

	evtimer_del(call->timer);
	if (call->state == CALL_QUEUED || call->conn != NULL)
		call_abandon(call);
	results_abort(call->w);
	call->w = NULL;
	if (call->probe && call->be != NULL)
		call->be->probing = false;
	call->probe = false;
	call->outcome = outcome;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(call->detail, sizeof(call->detail), fmt, ap);
		va_end(ap);
	}
	call->state = CALL_DONE;
	if (outcome != BACKEND_OK)
		log_debug("backend %s: %s action %u: %s (%s) after %u attempts",
		    call->be ? call->be->name : "-", call->q.carrier_ref,
		    call->q.action_id, backend_outcome_name(outcome),
		    call->detail, call->attempts);
	if (call->set->freeing)
		call_run_callback(call);
	else
		evtimer_add(call->timer, &tv);
}

/*
 * Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], so that
 * calls that failed together do not come back together. A back end's
 * retry_after hint is honoured up to the cap.
 */
static unsigned
call_backoff_ms(unsigned attempt, unsigned retry_after_ms)
{
	uint64_t	d = BACKEND_RETRY_BASE_MS;
	unsigned	ms;

	while (--attempt > 0 && d < BACKEND_RETRY_CAP_MS)
		d *= 2;
	if (d > BACKEND_RETRY_CAP_MS)
		d = BACKEND_RETRY_CAP_MS;
	ms = arc4random_uniform((uint32_t)d + 1);
	if (retry_after_ms > ms)
		ms = retry_after_ms < BACKEND_RETRY_CAP_MS ? retry_after_ms :
		    BACKEND_RETRY_CAP_MS;
	return ms;
}

/*
 * An attempt failed. counts: the back end's health is in question (the
 * breaker hears of it). Retried if retryable and attempts remain.
 */
void
backend_call_attempt_failed(struct backend_call *call, enum backend_outcome outcome,
    bool retryable, bool counts, unsigned retry_after_ms, const char *why)
{
	struct backend	*be = call->be;
	struct timeval	 tv;
	unsigned	 ms;

	evtimer_del(call->timer);
	if (call->state == CALL_QUEUED || call->conn != NULL)
		call_abandon(call);
	results_abort(call->w);
	call->w = NULL;
	snprintf(call->detail, sizeof(call->detail), "%s", why);
	if (counts)
		breaker_failure(be);
	if (call->probe) {
		be->probing = false;
		call->probe = false;
	}
	if (!retryable || call->attempts > be->retries || call->set->freeing) {
		backend_call_complete(call, outcome, NULL);
		return;
	}
	ms = call_backoff_ms(call->attempts, retry_after_ms);
	log_debug("backend %s: %s action %u: attempt %u failed (%s); retry in "
	    "%u ms", be->name, call->q.carrier_ref, call->q.action_id,
	    call->attempts, why, ms);
	call->state = CALL_BACKOFF;
	call->outcome = outcome;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(call->timer, &tv);
}

static void
call_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_call	*call = arg;
	char			 why[64];

	(void)fd;
	(void)what;
	switch (call->state) {
	case CALL_DONE:
		call_run_callback(call);
		break;
	case CALL_BACKOFF:
		call_attempt(call);
		break;
	case CALL_QUEUED:
	case CALL_SENT:
	case CALL_STREAMING:
		snprintf(why, sizeof(why), "%s within %u ms",
		    call->state == CALL_QUEUED ? "no connection ready" :
		    "no answer", call->be->deadline_ms);
		backend_call_attempt_failed(call, BACKEND_DEADLINE, true, true, 0, why);
		break;
	default:
		break;
	}
}

void
backend_call_arm_deadline(struct backend_call *call)
{
	unsigned	ms = call->be->deadline_ms;
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(call->timer, &tv);
}

/* --- sending ----------------------------------------------------------------- */

/* The Envelope of a query, pointing into the call and the given storage. */
struct query_msgs {
	Warrant__Backend__Envelope		env;
	Warrant__Backend__Identifier		id;
	Warrant__Backend__SubscriberQuery	sq;
	Warrant__Backend__LocationQuery		lq;
	Warrant__Backend__RecordsQuery		rq;
	Warrant__Backend__PreservationRequest	pr;
};

static void
call_envelope(const struct backend_call *call, struct query_msgs *m)
{
	const struct backend_query *q = &call->q;

	warrant__backend__envelope__init(&m->env);
	warrant__backend__identifier__init(&m->id);
	m->env.request_id = call->request_id;
	m->id.type = (Warrant__Backend__IdentifierType)(q->id.type + 1);
	m->id.value = (char *)(q->id.type == WD_ID_IPPORT ? q->id.addr :
	    q->id.value);
	m->id.port = q->id.type == WD_ID_IPPORT ? q->id.port : 0;
	switch (q->type) {
	case WD_REQ_SUBSCRIBER:
		warrant__backend__subscriber_query__init(&m->sq);
		m->sq.target = &m->id;
		m->sq.at_us = q->at_us;
		m->env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER_QUERY;
		m->env.subscriber_query = &m->sq;
		break;
	case WD_REQ_LOCATION_RT:
		warrant__backend__location_query__init(&m->lq);
		m->lq.target = &m->id;
		m->env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_LOCATION_QUERY;
		m->env.location_query = &m->lq;
		break;
	case WD_REQ_LOCATION_HIST:
	case WD_REQ_RECORDS:
		warrant__backend__records_query__init(&m->rq);
		m->rq.kind = q->type == WD_REQ_RECORDS ?
		    WARRANT__BACKEND__RECORDS_KIND__RECORDS_COMMUNICATIONS :
		    WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION;
		m->rq.target = &m->id;
		m->rq.start_us = q->start_us;
		m->rq.end_us = q->end_us;
		m->env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_QUERY;
		m->env.records_query = &m->rq;
		break;
	default:	/* WD_REQ_PRESERVATION; the query was checked */
		warrant__backend__preservation_request__init(&m->pr);
		m->pr.action = q->release ?
		    WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_UNFREEZE :
		    WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE;
		m->pr.target = &m->id;
		m->pr.until_us = q->release ? 0 : q->until_us;
		m->pr.reference = (char *)q->carrier_ref;
		m->env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION;
		m->env.preservation = &m->pr;
		break;
	}
}

bool
backend_call_is_streamed(const struct backend_call *call)
{
	return call->q.type == WD_REQ_LOCATION_HIST ||
	    call->q.type == WD_REQ_RECORDS;
}

static void
call_send(struct backend_call *call, struct backend_conn *c)
{
	struct query_msgs	m;

	call->request_id = c->next_id++;
	call_envelope(call, &m);
	if (backend_conn_send(c, &m.env) == -1) {
		backend_call_attempt_failed(call, BACKEND_UNAVAILABLE, true, true, 0,
		    "cannot send the request");
		return;
	}
	TAILQ_INSERT_TAIL(&c->inflight, call, entry);
	c->ninflight++;
	call->conn = c;
	call->state = CALL_SENT;
	call->count = 0;
	call->next_seq = 0;
}

static struct backend_conn *
backend_pick(struct backend *be)
{
	struct backend_conn	*c, *best = NULL;
	unsigned		 i;

	for (i = 0; i < be->nconns; i++) {
		c = &be->conns[i];
		if (c->state != BCONN_READY ||
		    backend_conn_load(c) >= c->max_inflight)
			continue;
		if (best == NULL || backend_conn_load(c) < backend_conn_load(best))
			best = c;
	}
	return best;
}

/* Calls wait and no connection is coming: open one now, whatever backoff. */
static void
backend_ensure_opening(struct backend *be)
{
	unsigned	i;

	for (i = 0; i < be->nconns; i++)
		if (be->conns[i].state == BCONN_OPENING)
			return;
	for (i = 0; i < be->nconns; i++)
		if (be->conns[i].state == BCONN_IDLE) {
			backend_conn_start(&be->conns[i]);
			return;
		}
}

void
backend_dispatch(struct backend *be)
{
	struct backend_call	*call;
	struct backend_conn	*c;

	while ((call = TAILQ_FIRST(&be->waiting)) != NULL &&
	    (c = backend_pick(be)) != NULL) {
		TAILQ_REMOVE(&be->waiting, call, entry);
		be->nwaiting--;
		call->state = CALL_NEW;
		if (!c->kinds[call->q.type] || (call->q.type == WD_REQ_SUBSCRIBER &&
		    !c->idtypes[call->q.id.type])) {
			/* It answered its hello: healthy, just not for this. */
			backend_breaker_success(be);
			backend_call_complete(call, BACKEND_UNSUPPORTED, "the back end "
			    "does not announce %s for %s",
			    wd_reqtype_confname(call->q.type),
			    wd_idtype_name(call->q.id.type));
			continue;
		}
		call_send(call, c);
	}
	if (!TAILQ_EMPTY(&be->waiting))
		backend_ensure_opening(be);
}

/* An opening failed; if nothing else may serve the waiting calls, fail them. */
void
backend_opening_failed(struct backend *be, const char *why)
{
	struct backend_call	*call;
	char			 text[BACKEND_DETAIL_MAX];
	unsigned		 i;

	for (i = 0; i < be->nconns; i++)
		if (be->conns[i].state != BCONN_IDLE)
			return;
	snprintf(text, sizeof(text), "cannot connect: %s", why);
	while ((call = TAILQ_FIRST(&be->waiting)) != NULL)
		backend_call_attempt_failed(call, BACKEND_UNAVAILABLE, true, true, 0,
		    text);
}

void
backend_call_lost(struct backend_call *call, const char *why)
{
	char	text[BACKEND_DETAIL_MAX];

	/* backend_conn_close() has taken it off the connection already. */
	snprintf(text, sizeof(text), "connection lost: %s", why);
	backend_call_attempt_failed(call, BACKEND_UNAVAILABLE, true, true, 0, text);
}

static void
call_attempt(struct backend_call *call)
{
	struct backend	*be = call->be;

	if (!breaker_admit(be, call)) {
		char last[sizeof(call->detail)];

		/* backend_call_complete writes call->detail: never its own source. */
		memcpy(last, call->detail, sizeof(last));
		backend_call_complete(call, BACKEND_UNAVAILABLE, "breaker %s%s%s",
		    breaker_name(be->breaker), last[0] ?
		    "; last failure: " : "", last);
		return;
	}
	if (be->nwaiting >= BACKEND_WAIT_MAX) {
		backend_call_complete(call, BACKEND_UNAVAILABLE,
		    "%u calls already wait for this back end", be->nwaiting);
		return;
	}
	call->attempts++;
	call->state = CALL_QUEUED;
	TAILQ_INSERT_TAIL(&be->waiting, call, entry);
	be->nwaiting++;
	backend_call_arm_deadline(call);
	/* Last: dispatching may fail the attempt at once (nothing listens). */
	backend_dispatch(be);
}

/* --- the set ----------------------------------------------------------------- */

static SSL_CTX *
backend_tls(const struct wd_backend *wb)
{
	SSL_CTX		*ctx;
	unsigned long	 e;
	char		 buf[256];

	/* Strict modes, as for our own TLS files (lib/strict.c). */
	if (strict_check_log(wb->tls.cert, STRICT_CONF) == -1 ||
	    strict_check_log(wb->tls.ca, STRICT_CONF) == -1 ||
	    strict_check_log(wb->tls.key, STRICT_KEY) == -1)
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	/* TLS to a back end: the same policy as towards authorities. */
	if (wd_tls_policy(ctx, false) == -1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, wb->tls.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, wb->tls.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, wb->tls.ca, NULL) != 1)
		goto fail;
	/* The back end's certificate must chain to its own CA. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
 fail:
	e = ERR_get_error();
	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("backend %s: tls: %s", wb->name, e ? buf : "cannot set up");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static int
backend_address(struct backend *be, const struct wd_backend *wb)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&be->addr;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&be->addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&be->addr;

	memset(&be->addr, 0, sizeof(be->addr));
	if (wb->unix_path != NULL) {
		if (strlen(wb->unix_path) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, wb->unix_path, strlen(wb->unix_path) + 1);
		be->addrlen = sizeof(*sun);
	} else if (inet_pton(AF_INET, wb->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(wb->port);
		be->addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, wb->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(wb->port);
		be->addrlen = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

static struct backend *
backend_new(struct backend_set *set, const struct wd_backend *wb)
{
	struct backend	*be;
	unsigned	 i;

	if ((be = calloc(1, sizeof(*be))) == NULL) {
		log_warn("backend %s", wb->name);
		return NULL;
	}
	be->set = set;
	TAILQ_INIT(&be->waiting);
	snprintf(be->name, sizeof(be->name), "%s", wb->name);
	be->deadline_ms = wb->deadline_ms;
	be->retries = wb->retries;
	be->breaker_failures = wb->breaker_failures;
	be->breaker_open_ms = wb->breaker_open_ms;
	memcpy(be->serves, wb->serves, sizeof(be->serves));
	TAILQ_INSERT_TAIL(&set->backends, be, entry);	/* freed with the set */
	if (backend_address(be, wb) == -1) {
		log_warnx("backend %s: bad address %s", wb->name, wb->address);
		return NULL;
	}
	if (wb->tls.cert != NULL && (be->ssl = backend_tls(wb)) == NULL)
		return NULL;
	if ((be->conns = calloc(wb->connections, sizeof(*be->conns))) == NULL) {
		log_warn("backend %s", wb->name);
		return NULL;
	}
	be->nconns = wb->connections;
	for (i = 0; i < be->nconns; i++)
		if (backend_conn_init(be, i) == -1) {
			be->nconns = i;
			log_warnx("backend %s: out of memory", wb->name);
			return NULL;
		}
	for (i = 0; i < WD_REQ__COUNT; i++)
		if (wb->serves[i])
			set->by_type[i] = be;
	return be;
}

struct backend_set *
backend_set_new(struct event_base *base, const struct wd_conf *conf,
    struct results *results)
{
	struct backend_set	*set;
	struct wd_backend	*wb;
	struct backend		*be;
	unsigned		 i;

	if ((set = calloc(1, sizeof(*set))) == NULL) {
		log_warn("backend");
		return NULL;
	}
	set->base = base;
	set->results = results;
	TAILQ_INIT(&set->backends);
	TAILQ_INIT(&set->calls);
	TAILQ_INIT(&set->fin_queue);
	TAILQ_INIT(&set->fin_done);
	pthread_mutex_init(&set->fin_lock, NULL);
	pthread_cond_init(&set->fin_cond, NULL);
	if (backend_finisher_start(set) == -1) {
		log_warn("backend: cannot start the results finisher");
		backend_set_free(set);
		return NULL;
	}
	TAILQ_FOREACH(wb, &conf->backends, entry)
		if (backend_new(set, wb) == NULL) {
			backend_set_free(set);
			return NULL;
		}
	/* The pools fill in the background; calls wait for them. */
	TAILQ_FOREACH(be, &set->backends, entry)
		for (i = 0; i < be->nconns; i++)
			backend_conn_start(&be->conns[i]);
	return set;
}

void
backend_set_free(struct backend_set *set)
{
	struct backend		*be;
	struct backend_call	*call;
	unsigned		 i;

	if (set == NULL)
		return;
	set->freeing = true;
	backend_finisher_stop(set);	/* durable results are called back as such */
	while ((call = TAILQ_FIRST(&set->calls)) != NULL) {
		if (call->state == CALL_DONE)
			call_run_callback(call);
		else
			backend_call_complete(call, BACKEND_CANCELLED, "shutting down");
	}
	while ((be = TAILQ_FIRST(&set->backends)) != NULL) {
		TAILQ_REMOVE(&set->backends, be, entry);
		for (i = 0; i < be->nconns; i++)
			backend_conn_free(&be->conns[i]);
		free(be->conns);
		SSL_CTX_free(be->ssl);
		free(be);
	}
	pthread_mutex_destroy(&set->fin_lock);
	pthread_cond_destroy(&set->fin_cond);
	free(set->scratch);
	free(set);
}

/* --- calls ------------------------------------------------------------------- */

/* What the protocol cannot carry, refused before any attempt. */
static const char *
query_check(const struct backend_query *q)
{
	size_t	n, i;

	if ((unsigned)q->type >= WD_REQ__COUNT || q->type == WD_REQ_INTERCEPTION)
		return "request type not served by back ends";
	if ((unsigned)q->id.type >= WD_ID__COUNT)
		return "unknown identifier type";
	if (q->id.type == WD_ID_IPPORT && (q->type != WD_REQ_SUBSCRIBER ||
	    q->at_us == 0 || q->id.port == 0 || q->id.addr[0] == '\0'))
		return "IP + port needs a subscriber query, a port and an instant";
	if (q->id.type != WD_ID_IPPORT && q->id.value[0] == '\0')
		return "empty identifier";
	if ((q->type == WD_REQ_LOCATION_HIST || q->type == WD_REQ_RECORDS) &&
	    q->start_us >= q->end_us)
		return "window does not end after it starts";
	if (q->type == WD_REQ_PRESERVATION && !q->release && q->until_us <= 0)
		return "preservation without an end";
	n = strnlen(q->carrier_ref, sizeof(q->carrier_ref));
	if (n == 0 || n == sizeof(q->carrier_ref))
		return "carrier reference missing or too long";
	for (i = 0; i < n; i++)
		if (!((q->carrier_ref[i] >= 'A' && q->carrier_ref[i] <= 'Z') ||
		    (q->carrier_ref[i] >= 'a' && q->carrier_ref[i] <= 'z') ||
		    (q->carrier_ref[i] >= '0' && q->carrier_ref[i] <= '9') ||
		    (i > 0 && q->carrier_ref[i] == '-')))
			return "carrier reference is not [A-Za-z0-9-]";
	return NULL;
}

int
backend_call(struct backend_set *set, const struct backend_query *q,
    backend_cb cb, void *arg)
{
	struct backend_call	*call;
	const char		*why;

	if (set == NULL || set->freeing)
		return -1;
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		log_warn("backend call");
		return -1;
	}
	if ((call->timer = evtimer_new(set->base, call_timercb, call)) == NULL) {
		log_warnx("backend call: cannot make a timer");
		free(call);
		return -1;
	}
	call->set = set;
	call->q = *q;
	call->q.carrier_ref[sizeof(call->q.carrier_ref) - 1] = '\0';
	call->q.id.value[sizeof(call->q.id.value) - 1] = '\0';
	call->q.id.addr[sizeof(call->q.id.addr) - 1] = '\0';
	call->cb = cb;
	call->arg = arg;
	call->started_us = now_us();
	TAILQ_INSERT_TAIL(&set->calls, call, all);
	set->npending++;
	if ((why = query_check(q)) != NULL)
		backend_call_complete(call, BACKEND_MALFORMED, "%s", why);
	else if ((call->be = set->by_type[q->type]) == NULL)
		backend_call_complete(call, BACKEND_UNAVAILABLE, "no back end serves %s",
		    wd_reqtype_confname(q->type));
	else
		call_attempt(call);
	return 0;
}

/* A call that only stores what a held call answered: no back end. */
int
backend_store(struct backend_set *set, const struct backend_query *q,
    const uint8_t *data, size_t len, backend_cb cb, void *arg)
{
	struct backend_call	*call;

	if (set == NULL || set->freeing || set->results == NULL || len == 0 ||
	    len > RESULTS_CHUNK_MAX)
		return -1;
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		log_warn("backend store");
		return -1;
	}
	if ((call->timer = evtimer_new(set->base, call_timercb, call)) == NULL) {
		log_warnx("backend store: cannot make a timer");
		free(call);
		return -1;
	}
	call->set = set;
	call->q = *q;
	call->q.carrier_ref[sizeof(call->q.carrier_ref) - 1] = '\0';
	call->cb = cb;
	call->arg = arg;
	call->started_us = now_us();
	call->count = 1;
	EVP_Digest(data, len, call->sha256, NULL, EVP_sha256(), NULL);
	TAILQ_INSERT_TAIL(&set->calls, call, all);
	set->npending++;
	if (backend_call_writer(call) == -1 || results_append(call->w, data, len) == -1)
		backend_call_complete(call, BACKEND_STORAGE, "results store: cannot write");
	else
		backend_finisher_submit(call);
	return 0;
}

int
backend_check(const struct wd_conf *conf)
{
	struct wd_backend	*wb;
	SSL_CTX			*ctx;
	int			 rc = 0;

	TAILQ_FOREACH(wb, &conf->backends, entry) {
		if (wb->tls.cert == NULL)
			continue;
		if ((ctx = backend_tls(wb)) == NULL)
			rc = -1;
		SSL_CTX_free(ctx);
	}
	if (conf->results.key != NULL && results_key_check(conf->results.key) == -1)
		rc = -1;
	return rc;
}

bool
backend_serves(const struct backend_set *set, enum wd_reqtype type)
{
	return set != NULL && (unsigned)type < WD_REQ__COUNT &&
	    set->by_type[type] != NULL;
}

unsigned
backend_pending(const struct backend_set *set)
{
	return set == NULL ? 0 : set->npending;
}

void
backend_status(const struct backend_set *set, char *buf, size_t len)
{
	struct backend	*be;
	size_t		 off = 0;
	unsigned	 i, up;
	int		 n;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (set == NULL)
		return;
	TAILQ_FOREACH(be, &set->backends, entry) {
		breaker_tick(be);
		for (i = up = 0; i < be->nconns; i++)
			up += be->conns[i].state == BCONN_READY;
		n = snprintf(buf + off, len - off, "%s%s %u/%u up %s",
		    off ? ", " : "", be->name, up, be->nconns,
		    breaker_name(be->breaker));
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
}

void
backend_each(const struct backend_set *set, backend_each_cb fn, void *arg)
{
	struct backend	*be;
	unsigned	 i, up;

	if (set == NULL)
		return;
	TAILQ_FOREACH(be, &set->backends, entry) {
		breaker_tick(be);
		for (i = up = 0; i < be->nconns; i++)
			up += be->conns[i].state == BCONN_READY;
		fn(be->name, up, be->nconns, breaker_name(be->breaker), arg);
	}
}
