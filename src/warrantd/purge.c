/*
 * purge — deletes delivered results from the results store on a thread of
 * its own. A deletion is made durable (the store fsyncs its directory), and
 * a directory fsync can stall for as long as the disk likes: that must
 * never happen on the event loop, where every connection would wait.
 *
 * The queue is bounded; a result that does not fit is left for the expiry
 * sweep (results.keep), which deletes and journals it — nothing delivered
 * is kept forever, and memory stays bounded.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "purge.h"
#include "results.h"

#define PURGE_QUEUE_MAX	4096

struct purge {
	struct results	*store;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 stopping;
	size_t		 head, count;
	char		 names[PURGE_QUEUE_MAX][BACKEND_RESULT_NAME_MAX];
};

/*
 * Delete what is queued, up to PURGE_BATCH names, then make the deletions
 * durable with one directory fsync: under load, one fsync for many
 * results (group commit, as the journal's), alone, one each as before.
 */
#define PURGE_BATCH	64

static void *
purge_main(void *arg)
{
	struct purge	*p = arg;
	char		 name[BACKEND_RESULT_NAME_MAX];
	unsigned	 n, gone;
	int		 rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->count == 0 && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->count == 0)
			break;		/* stopping, and everything deleted */
		for (n = gone = 0; p->count > 0 && n < PURGE_BATCH; n++) {
			memcpy(name, p->names[p->head], sizeof(name));
			p->head = (p->head + 1) % PURGE_QUEUE_MAX;
			p->count--;
			pthread_mutex_unlock(&p->mu);
			if ((rc = results_unlink(p->store, name)) == -1)
				log_warnx("results: a delivered result was not "
				    "deleted; the expiry sweep will");
			gone += rc == 1;
			pthread_mutex_lock(&p->mu);
		}
		pthread_mutex_unlock(&p->mu);
		if (gone > 0 && results_sync(p->store) == -1)
			log_warnx("results: %u deletions of delivered results "
			    "may not be durable; the expiry sweep will redo them",
			    gone);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct purge *
purge_start(struct results *store)
{
	struct purge *p;

	if (store == NULL || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->store = store;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, purge_main, p) != 0) {
		log_warnx("results: cannot start the purge thread");
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return NULL;
	}
	return p;
}

void
purge_queue(struct purge *p, const char *name)
{
	if (p == NULL || name[0] == '\0')
		return;
	pthread_mutex_lock(&p->mu);
	if (p->count < PURGE_QUEUE_MAX) {
		snprintf(p->names[(p->head + p->count) % PURGE_QUEUE_MAX],
		    BACKEND_RESULT_NAME_MAX, "%s", name);
		p->count++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void
purge_stop(struct purge *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
