/*
 * store_sync — the object store kept caught up with the journal.
 *
 * Why a module: the store used to be fed straight from the journal's
 * observer, tried three times, and a record it still refused was skipped
 * for good (the next record moved the store's position past it): a task
 * accepted under a busy database was then missing from GET and the desk
 * until someone rebuilt the store by hand. Here a refused record puts the
 * store "behind": records keep going to the journal (the durable truth,
 * and what the answer waits for) but not to the store, and a timer replays
 * the journal from the store's own position until it holds everything.
 * The replay runs on the loop, reading durable records only; a record the
 * observer reports later than the replay read it is applied once (the
 * store ignores records below its position).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "journal.h"
#include "log.h"
#include "store.h"
#include "store_sync.h"

#define SYNC_FIRST_S	1
#define SYNC_MAX_S	60

struct store_sync {
	struct store	*store;
	struct journal	*journal;
	struct event	*retry;
	bool		 behind;
	int		 wait_s;	/* the next attempt's delay */
	unsigned	 attempts;	/* catch-ups tried since it fell behind */
};

static void	sync_catch_up(evutil_socket_t, short, void *);

struct store_sync *
store_sync_new(struct event_base *base, struct store *store,
    struct journal *journal)
{
	struct store_sync	*ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	ss->store = store;
	ss->journal = journal;
	if ((ss->retry = evtimer_new(base, sync_catch_up, ss)) == NULL) {
		free(ss);
		return NULL;
	}
	return ss;
}

void
store_sync_free(struct store_sync *ss)
{
	if (ss == NULL)
		return;
	event_free(ss->retry);
	free(ss);
}

bool
store_sync_behind(const struct store_sync *ss)
{
	return ss->behind;
}

static void
sync_schedule(struct store_sync *ss)
{
	struct timeval	 tv = { ss->wait_s, 0 };

	evtimer_add(ss->retry, &tv);
	ss->wait_s = ss->wait_s * 2 > SYNC_MAX_S ? SYNC_MAX_S : ss->wait_s * 2;
}

void
store_sync_record(struct store_sync *ss, const Warrant__Record *rec)
{
	if (ss->behind)
		return;		/* the catch-up reads it from the journal */
	if (store_apply(ss->store, rec) == 0)
		return;
	ss->behind = true;
	ss->wait_s = SYNC_FIRST_S;
	ss->attempts = 0;
	log_warnx("object store behind the journal from record %llu: GET and "
	    "the desk may miss what came since; catching up from the journal",
	    (unsigned long long)store_applied(ss->store));
	sync_schedule(ss);
}

static int
sync_apply_one(const Warrant__Record *rec, void *arg)
{
	struct store_sync	*ss = arg;

	return store_apply(ss->store, rec);
}

static void
sync_catch_up(evutil_socket_t fd, short what, void *arg)
{
	struct store_sync	*ss = arg;
	uint64_t		 from = store_applied(ss->store);

	(void)fd;
	(void)what;
	ss->attempts++;
	if (journal_replay_unsealed_from(ss->journal, from, sync_apply_one,
	    ss) == 0 && store_applied(ss->store) >= journal_size(ss->journal)) {
		ss->behind = false;
		log_info("object store caught up with the journal: records "
		    "%llu to %llu applied (attempt %u)", (unsigned long long)from,
		    (unsigned long long)store_applied(ss->store), ss->attempts);
		return;
	}
	log_warnx("object store still behind the journal at record %llu of "
	    "%llu (attempt %u); next attempt in %d s",
	    (unsigned long long)store_applied(ss->store),
	    (unsigned long long)journal_size(ss->journal), ss->attempts,
	    ss->wait_s);
	sync_schedule(ss);	/* in wait_s, and doubles it for the next */
}
