/*
 * store_int.h — what the object store's files share, private to them:
 * the prepared statements and struct store (store.c: the schema, bodies at
 * rest, checkpoints, open and close; store_apply.c: records applied, and
 * the indexes rebuilt at open; store_read.c: reading). The public
 * interface stays in include/store.h.
 */
#ifndef WD_STORE_INT_H
#define WD_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "obj.h"
#include "store.h"

#define STORE_TARGETS_MAX	256

enum store_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_APPLIED_SET,
	ST_GET, ST_INSERT, ST_UPDATE,
	ST_LIST_ALL, ST_LIST_KIND, ST_PARTS, ST_BY_REF, ST_DUE, ST_OPEN, ST_COUNT,
	ST_BY_REF_ANY, ST_QUEUE_PUT, ST_QUEUE_DEL, ST_QUEUE, ST_QUEUE_COUNT,
	ST_QUEUE_TALLY, ST_OPEN_KIND,
	ST_QUEUE_STATE, ST_QUEUE_TYPE, ST_QUEUE_TS,
	ST_QCOUNT_STATE, ST_QCOUNT_TYPE, ST_QCOUNT_TS,
	ST_AREF_PUT, ST_AREF_DEL, ST_QUEUE_AREF,
	ST_DAY_PUT, ST_DAY, ST_URGENT_PUT, ST_URGENT_DONE, ST_URGENT,
	ST__COUNT
};

struct store {
	sqlite3		*db;
	sqlite3_stmt	*st[ST__COUNT];
	uint64_t	 applied;
	bool		 encrypt;
	uint8_t		 key[32];
	uint8_t		 aref_key[32];	/* queue_ref's tokens */
	char		*path;
	/* The checkpoint thread, with its own connection. */
	pthread_t	 thread;
	bool		 thread_started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 stopping;
};

/* store.c: bodies at rest. */
int	store_aref_token(const struct store *, const char *, uint8_t [32]);
uint8_t	*store_seal(const struct store *, const struct obj *, const uint8_t *,
	    size_t, size_t *);
int	store_open_body(const struct store *, const char *, const char *,
	    const uint8_t *, size_t, struct obj *);

/* store_apply.c: the indexes rebuilt from the objects at open. */
int	store_queue_fill(struct store *);
int	store_desk_fill(struct store *);

/* store_read.c: the rows a bound statement returns. */
int	store_visit(struct store *, sqlite3_stmt *, store_visit_cb, void *);

#endif /* WD_STORE_INT_H */
