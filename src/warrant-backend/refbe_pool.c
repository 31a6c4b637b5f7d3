/*
 * refbe_srv pool — the worker threads of warrant-backend. Every SQLite call
 * happens here, never on the event loop: each worker owns one refbe_store (one
 * SQLite connection), takes requests from a bounded queue, and hands its
 * answers to the loop with refbe_srv_post()/refbe_srv_done(). A records answer is
 * stepped row by row and sent chunk by chunk; refbe_srv_post() blocks the
 * worker while the connection's output is above the high-water mark, so a
 * slow reader holds one worker, never memory.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refbe_server.h"
#include "refbe_store.h"
#include "log.h"

#define QUEUE_MAX	1024

struct worker {
	pthread_t		 thread;
	struct refbe_store		*store;
	struct refbe_srv_pool	*pool;
	int			 started;
};

struct refbe_srv_pool {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	TAILQ_HEAD(, refbe_srv_job)	 queue;
	unsigned		 queued;
	int			 stopping;
	const struct refbe_srv_opts	*opts;
	struct worker		*workers;
	unsigned		 nworkers;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint8_t *
answer_error(struct refbe_srv_job *job, const struct refbe_store_err *e, size_t *len)
{
	return refbe_wire_error(job->request_id, e->code, e->msg, len);
}

static uint8_t *
answer(struct refbe_srv_job *job, Warrant__Backend__Envelope *env, size_t *len)
{
	env->request_id = job->request_id;
	return refbe_wire_encode(env, len);
}

static uint8_t *
run_subscriber(struct worker *w, struct refbe_srv_job *job, size_t *len)
{
	const Warrant__Backend__SubscriberQuery	*q = job->env->subscriber_query;
	Warrant__Backend__Envelope		 env = WARRANT__BACKEND__ENVELOPE__INIT;
	struct refbe_store_sub			 sub;
	struct refbe_store_err			 e;

	if (refbe_store_subscriber(w->store, q->target, q->at_us ? q->at_us : now_us(),
	    &sub, &e) == -1)
		return answer_error(job, &e, len);
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER;
	env.subscriber = &sub.sub;
	return answer(job, &env, len);
}

static uint8_t *
run_location(struct worker *w, struct refbe_srv_job *job, size_t *len)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	struct refbe_store_loc		loc;
	struct refbe_store_err		e;

	if (refbe_store_location(w->store, job->env->location_query->target, now_us(),
	    &loc, &e) == -1)
		return answer_error(job, &e, len);
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_LOCATION;
	env.location = &loc.loc;
	return answer(job, &env, len);
}

static uint8_t *
run_preservation(struct worker *w, struct refbe_srv_job *job, size_t *len)
{
	const Warrant__Backend__PreservationRequest	*q = job->env->preservation;
	Warrant__Backend__Envelope			 env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__PreservationAck		 ack = WARRANT__BACKEND__PRESERVATION_ACK__INIT;
	struct refbe_store_ack				 a;
	struct refbe_store_err				 e;

	if (refbe_store_preserve(w->store, q->action, q->target, q->until_us, q->reference,
	    now_us(), &a, &e) == -1)
		return answer_error(job, &e, len);
	ack.action = q->action;
	ack.until_us = a.until_us;
	ack.records_held = a.records_held;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION_ACK;
	env.preservation_ack = &ack;
	return answer(job, &env, len);
}

static uint8_t *
run_health(struct worker *w, struct refbe_srv_job *job, size_t *len)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Health	h = WARRANT__BACKEND__HEALTH__INIT;
	struct refbe_store_meta		m;
	unsigned			queued;

	refbe_store_meta(w->store, &m);
	pthread_mutex_lock(&w->pool->mtx);
	queued = w->pool->queued;
	pthread_mutex_unlock(&w->pool->mtx);
	refbe_srv_health_counts(job, &h.in_flight);
	/* Degraded once the queue is half full: answers will be slow. */
	h.status = queued > QUEUE_MAX / 2 ? WARRANT__BACKEND__HEALTH_STATUS__HEALTH_DEGRADED :
	    WARRANT__BACKEND__HEALTH_STATUS__HEALTH_SERVING;
	h.detail = queued > QUEUE_MAX / 2 ? "request queue more than half full" : "ok";
	h.data_start_us = m.data_start_us;
	h.data_end_us = m.data_end_us;
	h.subscribers = m.subscribers;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_HEALTH;
	env.health = &h;
	return answer(job, &env, len);
}

/*
 * Stream a records answer: chunks as the statement steps, then the
 * summary. Any failure after chunks were sent ends the answer with an
 * Error, which (per the protocol) voids those chunks.
 */
static uint8_t *
run_records(struct worker *w, struct refbe_srv_job *job, size_t *len)
{
	const Warrant__Backend__RecordsQuery	*q = job->env->records_query;
	struct refbe_wire_stream			 s;
	struct refbe_store_rec			 rec;
	struct refbe_store_err			 e = { 0, "" };
	uint8_t					*frame;
	size_t					 flen;
	int					 rc, full;

	if (refbe_store_records_begin(w->store, q->kind, q->target, q->start_us, q->end_us,
	    now_us(), &e) == -1)
		return answer_error(job, &e, len);
	if (refbe_wire_stream_init(&s, job->request_id, w->pool->opts->chunk_records) == -1) {
		refbe_store_records_end(w->store);
		refbe_wire_stream_free(&s);
		return refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL, "digest", len);
	}
	while ((rc = refbe_store_records_next(w->store, &rec, &e)) == 1) {
		if (atomic_load(&job->cancelled))
			break;
		if ((full = refbe_wire_stream_add(&s, &rec.rec)) == -1) {
			rc = -1;
			e.code = WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL;
			snprintf(e.msg, sizeof(e.msg), "record not serializable");
			break;
		}
		if (full && ((frame = refbe_wire_stream_chunk(&s, &flen)) == NULL ||
		    refbe_srv_post(job, frame, flen) == -1))
			break;
	}
	refbe_store_records_end(w->store);
	if (atomic_load(&job->cancelled))
		frame = refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_CANCELLED, "cancelled", len);
	else if (rc != 0)
		frame = rc == -1 ? answer_error(job, &e, len) : refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL, "out of memory", len);
	else if (s.nrec > 0 && ((frame = refbe_wire_stream_chunk(&s, &flen)) == NULL ||
	    refbe_srv_post(job, frame, flen) == -1))
		frame = refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_CANCELLED, "cancelled", len);
	else
		frame = refbe_wire_stream_summary(&s, len);
	refbe_wire_stream_free(&s);
	return frame;
}

static void
run(struct worker *w, struct refbe_srv_job *job)
{
	uint8_t	*frame = NULL;
	size_t	 len = 0;

	if (atomic_load(&job->cancelled)) {
		frame = refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_CANCELLED, "cancelled", &len);
		refbe_srv_done(job, frame, frame ? len : 0);
		return;
	}
	switch (job->env->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER_QUERY:
		frame = run_subscriber(w, job, &len);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_LOCATION_QUERY:
		frame = run_location(w, job, &len);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_QUERY:
		frame = run_records(w, job, &len);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION:
		frame = run_preservation(w, job, &len);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_HEALTH_QUERY:
		frame = run_health(w, job, &len);
		break;
	default:
		frame = refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED, "not a request", &len);
	}
	/* Out of memory for the answer: say so in a frame that needs none. */
	if (frame == NULL)
		frame = refbe_wire_error(job->request_id,
		    WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL, "no answer", &len);
	refbe_srv_done(job, frame, frame ? len : 0);
}

static void *
worker_main(void *arg)
{
	struct worker		*w = arg;
	struct refbe_srv_pool	*p = w->pool;
	struct refbe_srv_job		*job;

	for (;;) {
		pthread_mutex_lock(&p->mtx);
		while (TAILQ_EMPTY(&p->queue) && !p->stopping)
			pthread_cond_wait(&p->cond, &p->mtx);
		if ((job = TAILQ_FIRST(&p->queue)) == NULL) {
			pthread_mutex_unlock(&p->mtx);
			return NULL;
		}
		TAILQ_REMOVE(&p->queue, job, entry);
		p->queued--;
		pthread_mutex_unlock(&p->mtx);
		run(w, job);
	}
}

struct refbe_srv_pool *
refbe_srv_pool_new(const struct refbe_srv_opts *opts)
{
	struct refbe_srv_pool	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->workers = calloc(opts->workers, sizeof(*p->workers))) == NULL) {
		log_warn("pool");
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cond, NULL);
	TAILQ_INIT(&p->queue);
	p->opts = opts;
	p->nworkers = opts->workers;
	/* Open every store here, so that a bad database stops the start. */
	for (unsigned i = 0; i < p->nworkers; i++) {
		p->workers[i].pool = p;
		if ((p->workers[i].store = refbe_store_open(opts->db, opts->retention_days)) == NULL)
			goto fail;
	}
	for (unsigned i = 0; i < p->nworkers; i++) {
		if ((errno = pthread_create(&p->workers[i].thread, NULL, worker_main,
		    &p->workers[i])) != 0) {
			log_warn("pool: pthread_create");
			goto fail;
		}
		p->workers[i].started = 1;
	}
	return p;
fail:
	refbe_srv_pool_free(p);
	return NULL;
}

int
refbe_srv_pool_submit(struct refbe_srv_pool *p, struct refbe_srv_job *job)
{
	pthread_mutex_lock(&p->mtx);
	if (p->stopping || p->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&p->mtx);
		return -1;
	}
	TAILQ_INSERT_TAIL(&p->queue, job, entry);
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	return 0;
}

void
refbe_srv_pool_free(struct refbe_srv_pool *p)
{
	struct refbe_srv_job *job;

	if (p == NULL)
		return;
	/* Queued jobs still run, cancelled, so that each gets its done. */
	pthread_mutex_lock(&p->mtx);
	p->stopping = 1;
	TAILQ_FOREACH(job, &p->queue, entry)
		atomic_store(&job->cancelled, 1);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	for (unsigned i = 0; i < p->nworkers; i++) {
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
		refbe_store_close(p->workers[i].store);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mtx);
	free(p->workers);
	free(p);
}
