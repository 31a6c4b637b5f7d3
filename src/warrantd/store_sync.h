/*
 * store_sync.h — keeps the object store caught up with the journal
 * (src/warrantd/store_sync.c). The journal is the record of truth and the
 * store an index of it: every durable record is applied in order, and one
 * the store cannot take is never skipped.
 */
#ifndef WD_STORE_SYNC_H
#define WD_STORE_SYNC_H

#include <stdbool.h>

#include "journal.pb-c.h"

struct event_base;
struct journal;
struct store;
struct store_sync;

/* NULL if out of memory. Holds neither the store nor the journal. */
struct store_sync *store_sync_new(struct event_base *, struct store *,
		    struct journal *);
void		 store_sync_free(struct store_sync *);
/*
 * One durable record, in order (the journal's observer). Applied at once;
 * if the store refuses it (a busy database past its timeout, a full
 * disk), it and every record after it are left to a catch-up from the
 * journal on a backing-off timer (1 s doubling to 60 s), so the loop
 * waits at most one busy timeout per attempt and the store never moves
 * past a record it does not hold.
 */
void		 store_sync_record(struct store_sync *, const Warrant__Record *);
/* True while the store lags the journal (GET and the desk may be stale). */
bool		 store_sync_behind(const struct store_sync *);

#endif
