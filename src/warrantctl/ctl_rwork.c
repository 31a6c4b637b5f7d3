/*
 * ctl_rwork — the worker threads of `warrantctl receive`. The event loop
 * (ctl_receive.c) hands each whole request, its body moved out of the
 * connection's buffer, to the first free worker, which reads, verifies
 * and stores it and builds the answer (ctl_deliver.c); the finished job
 * comes back to the loop through a pipe, so the loop never waits on
 * parsing, hashing or fsync, and as many parts are verified and made
 * durable at once as there are workers (a worker waiting on the disk does
 * not hold a CPU, so there may be more workers than CPUs).
 *
 * The queue holds at most one job per connection (a connection carries
 * one request), so it is bounded by the receiver's connection cap. The
 * loop may drop a connection while its job runs (its deadline): the job
 * is then finished (a part stored stays stored) and its answer dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ctl_receive.h"

struct rwork {
	struct event_base	*base;
	struct ctl_store	*st;
	const struct hi1_schema	*schema;
	rwork_done_cb		 done;
	void			*arg;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct rwork_job	*todo, **todo_tail;
	struct rwork_job	*finished, **finished_tail;
	bool			 stop;
	int			 fds[2];	/* finished jobs: a byte each */
	struct event		*ev;
	pthread_t		*th;
	unsigned		 n;
};

void
rwork_job_free(struct rwork_job *job)
{
	if (job == NULL)
		return;
	if (job->body != NULL)
		evbuffer_free(job->body);
	free(job->answer);
	free(job);
}

static void
rwork_run(struct rwork *w, struct rwork_job *job)
{
	job->status = 500;
	job->answer = ctl_deliver(w->st, w->schema, job->body, &job->status,
	    &job->alen);
	evbuffer_free(job->body);
	job->body = NULL;
}

static void *
rwork_thread(void *arg)
{
	struct rwork		*w = arg;
	struct rwork_job	*job;
	ssize_t			 n;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->stop && w->todo == NULL)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		job = w->todo;
		if ((w->todo = job->next) == NULL)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->mu);

		rwork_run(w, job);

		pthread_mutex_lock(&w->mu);
		job->next = NULL;
		*w->finished_tail = job;
		w->finished_tail = &job->next;
		pthread_mutex_unlock(&w->mu);
		/* A full pipe already says there is something to collect. */
		do
			n = write(w->fds[1], "", 1);
		while (n == -1 && errno == EINTR);
	}
}

/* On the loop: the finished jobs to their connections. */
static void
rwork_collect(evutil_socket_t fd, short what, void *arg)
{
	struct rwork		*w = arg;
	struct rwork_job	*job, *next;
	char			 buf[256];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->mu);
	job = w->finished;
	w->finished = NULL;
	w->finished_tail = &w->finished;
	pthread_mutex_unlock(&w->mu);
	for (; job != NULL; job = next) {
		next = job->next;
		w->done(job, w->arg);
	}
}

struct rwork *
rwork_new(struct event_base *base, unsigned n, struct ctl_store *st,
    const struct hi1_schema *schema, rwork_done_cb done, void *arg)
{
	struct rwork	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->base = base;
	w->st = st;
	w->schema = schema;
	w->done = done;
	w->arg = arg;
	w->todo_tail = &w->todo;
	w->finished_tail = &w->finished;
	w->fds[0] = w->fds[1] = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) == -1 ||
	    (w->ev = event_new(base, w->fds[0], EV_READ | EV_PERSIST,
	    rwork_collect, w)) == NULL || event_add(w->ev, NULL) == -1 ||
	    (w->th = calloc(n, sizeof(*w->th))) == NULL)
		goto fail;
	for (; w->n < n; w->n++)
		if (pthread_create(&w->th[w->n], NULL, rwork_thread, w) != 0)
			goto fail;
	return w;
 fail:
	fprintf(stderr, "warrantctl: receive: cannot start the workers: %s\n",
	    strerror(errno));
	rwork_free(w);
	return NULL;
}

void
rwork_submit(struct rwork *w, struct rwork_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->todo_tail = job;
	w->todo_tail = &job->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
rwork_free(struct rwork *w)
{
	struct rwork_job	*job, *next;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->th[i], NULL);
	for (job = w->todo; job != NULL; job = next) {
		next = job->next;
		rwork_job_free(job);
	}
	for (job = w->finished; job != NULL; job = next) {
		next = job->next;
		rwork_job_free(job);
	}
	if (w->ev != NULL)
		event_free(w->ev);
	for (int i = 0; i < 2; i++)
		if (w->fds[i] != -1)
			close(w->fds[i]);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->th);
	free(w);
}
