/*
 * store — the persistent object store: every HI-1 object the gateway holds
 * (include/obj.h), per owning authority, on SQLite (src/warrantd/store.c).
 *
 * The store is DERIVED from the journal, which stays the source of truth:
 * store_apply() takes each record once it is durable, in journal order, and
 * records in the same SQLite transaction the next sequence number it
 * expects; at start the daemon replays the journal from store_applied()
 * on, so a store that missed records (kill -9, power cut: SQLite runs with
 * synchronous=NORMAL) catches up, and a lost or damaged store can be
 * deleted and rebuilt from the journal alone. Nothing else writes objects.
 *
 * The interface is narrow on purpose — apply a record, get one object, list
 * an authority's objects, find due clocks and open work — so that a
 * high-availability deployment can put the same operations on PostgreSQL.
 * Every operation is short and indexed (one B-tree lookup or range scan);
 * the loop never waits on a disk sync: commits write the WAL without
 * fsync, and a background thread checkpoints it.
 *
 * Objects are keyed by (owner, object id): an authority reaches only its
 * own, and another authority's object with the same identifier is, to it,
 * an object that does not exist. Bodies are encrypted (AES-256-GCM, a key
 * derived from the results key, the key bound to owner and id) because they
 * hold target identifiers: a copied disk or backup reveals no target.
 */
#ifndef WD_STORE_H
#define WD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.pb-c.h"
#include "obj.h"

struct store;

/* Return non-zero from a visitor to stop early (the call then returns it). */
typedef int (*store_visit_cb)(const struct obj *, void *arg);

/*
 * Open (or create) the store at path (mode 0600). key: 32 bytes that
 * encrypt bodies (NULL: stored in clear, logged as a warning; tests only).
 * NULL on error, logged.
 */
struct store	*store_open(const char *path, const uint8_t key[32]);
void		 store_close(struct store *);
/* The next journal sequence the store expects (0 for a new store). */
uint64_t	 store_applied(const struct store *);
/*
 * False if the store's objects do not open with its key: written in clear
 * before it was always encrypted, or under another key. The caller moves
 * it aside and rebuilds it from the journal rather than serve nothing.
 */
bool		 store_readable(struct store *);
/*
 * Apply one durable record (obj.h's rule). Records below store_applied()
 * are skipped (replay after a partial catch-up). 0, or -1 if the database
 * cannot be written (logged; the daemon must not go on acknowledging).
 */
int		 store_apply(struct store *, const Warrant__Record *rec);

/* One object: 1 found, 0 not held for this owner, -1 error. */
int		 store_get(struct store *, const char *owner, const char *oid,
		    struct obj *out);
/*
 * An owner's objects of a kind (HI1_OBJ_NONE: all) changed at or after
 * since_us, oldest change first (then by id), at most max.
 */
int		 store_list(struct store *, const char *owner, enum hi1_kind kind,
		    int64_t since_us, size_t max, store_visit_cb, void *arg);
/* Parts of a task (DeliveryObjects), in sequence order. */
int		 store_parts(struct store *, const char *owner, const char *task_oid,
		    store_visit_cb, void *arg);
/* Objects of one carrier reference (the request's objects). */
int		 store_by_ref(struct store *, const char *owner, const char *ref,
		    store_visit_cb, void *arg);
/* The same for the carrier's desk, whoever the owner (references are unique). */
int		 store_by_ref_any(struct store *, const char *ref,
		    store_visit_cb, void *arg);
/* Objects with a clock due at or before now_us (obj_next_due), at most max. */
int		 store_due(struct store *, int64_t now_us, size_t max,
		    store_visit_cb, void *arg);
/*
 * Work left open: tasks not final, parts neither delivered nor destroyed,
 * notifications not delivered. For recovery at start.
 */
int		 store_open_work(struct store *, store_visit_cb, void *arg);
/*
 * The compliance desk's queue: open tasks (LDTask, LITask not final) by
 * answer deadline, earliest first (none: last), then by creation; from
 * offset, at most max. One indexed range, whatever the number of tasks.
 */
int		 store_queue(struct store *, size_t offset, size_t max,
		    store_visit_cb, void *arg);
uint64_t	 store_queue_count(struct store *);
/*
 * The same, of one request type and/or one state (-1: any): one range of
 * an index in the queue's order, and its count from the index alone.
 */
int		 store_queue_where(struct store *, int type, int state,
		    size_t offset, size_t max, store_visit_cb, void *arg);
uint64_t	 store_queue_count_where(struct store *, int type, int state);
/*
 * The open tasks with this authority's reference (any authority): one
 * lookup of a keyed token of it (HMAC-SHA256, a key derived from the
 * store's key: results key, else data key), so the reference is never on disk in clear.
 */
int		 store_queue_by_aref(struct store *, const char *ref,
		    store_visit_cb, void *arg);
/*
 * The open tasks counted by request type and state, without reading a
 * body: how many, how many past their answer deadline, on hold, and
 * carried out under review-after but not looked at yet (for /metrics).
 */
typedef void (*store_tally_cb)(int type, int state, uint64_t n,
    uint64_t missed, uint64_t held, uint64_t flagged, void *arg);
int		 store_queue_tally(struct store *, store_tally_cb, void *arg);
/* The open objects of one kind (parts not delivered, notifications...). */
int		 store_open_kind(struct store *, enum hi1_kind, store_visit_cb,
		    void *arg);
/*
 * The compliance desk's day statistics: every task created in
 * [from_us, to_us) — open or not — as its owner, request type, creation,
 * first answer (tally.c's meaning: results packaged, interception active,
 * or final; 0: not yet) and whether it missed its answer deadline; at most
 * max, read from one range of a table keyed by creation, without opening
 * a body (no identifier or reference is read).
 */
struct store_day_row {
	const char	*owner;
	int		 type;		/* enum wd_reqtype */
	int64_t		 created_us, answered_us;
	bool		 missed;
};
typedef int (*store_day_cb)(const struct store_day_row *, void *arg);
int		 store_day(struct store *, int64_t from_us, int64_t to_us,
		    size_t max, store_day_cb, void *arg);
/*
 * Urgent orders not ratified whose ratification clock ends at or after
 * since_us (lapsed ones included), earliest first, at most max.
 */
int		 store_urgent(struct store *, int64_t since_us, size_t max,
		    store_visit_cb, void *arg);
/* Objects held, for status lines. */
uint64_t	 store_count(struct store *);

#endif
