/*
 * journal — the append-only, tamper-evident, durable record of every event
 * (see proto/journal.proto). It is also the daemon's store of accepted
 * requests: state is rebuilt from it at start.
 *
 * Durability contract: journal_append()'s callback fires, on the event loop
 * thread, only after the record is written and fdatasync()ed (group commit:
 * one sync serves every record queued while the previous sync ran). The
 * sync runs on the journal's own writer thread, never on the loop.
 * If a write or sync fails the journal turns unhealthy: every pending and
 * later append completes with an error until journal_healthy() is true again.
 */
#ifndef WD_JOURNAL_H
#define WD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "journal.pb-c.h"

struct checkpoint;
struct event_base;
struct journal;
struct seal;

/*
 * Who signs checkpoints when the key is not in this process (the daemon's
 * signer child, src/warrantd/signer.h). sign returns the signed note for
 * cp (malloc'd) or NULL (logged); it is called from the journal's writer
 * thread and from journal_close. broken returns NULL while signing works,
 * else why it does not (for journal_status and /healthz); any thread.
 * pub verifies the checkpoints found at open; the journal takes a
 * reference.
 */
struct journal_signer {
	char		*(*sign)(const struct checkpoint *, void *arg);
	const char	*(*broken)(void *arg);
	void		*arg;
	EVP_PKEY	*pub;
};

struct journal_config {
	const char	*dir;			/* created 0700 if missing */
	size_t		 segment_max;		/* bytes per segment file */
	uint32_t	 record_max;		/* cap on one record's length */
	const char	*signing_key;		/* Ed25519 PEM for checkpoints; NULL = none */
	/* Or the key kept elsewhere (the daemon); with signing_key NULL. */
	const struct journal_signer *signer;
	const char	*origin;		/* checkpoint origin line */
	unsigned	 checkpoint_records;
	unsigned	 checkpoint_interval_s;
	/*
	 * Seals target identifiers and order references (include/seal.h);
	 * NULL or without an audit key: records are written in clear. Not
	 * owned; must outlive the journal.
	 */
	const struct seal *seal;
};

/* Outcome of an append: status 0 = durable; else errno-style code. */
struct journal_receipt {
	uint64_t	seq;
	uint8_t		leaf_hash[32];		/* RFC 9162 leaf hash of the record */
};
typedef void (*journal_done_cb)(int status, const struct journal_receipt *,
    void *arg);

/*
 * Open (or create) the journal in cfg->dir: scan and check every segment,
 * cut a torn tail (and record that), refuse damage or rollback (returns -1,
 * logging why). base is the loop the callbacks run on.
 */
int	journal_open(const struct journal_config *cfg, struct event_base *base,
	    struct journal **out);
/*
 * Queue rec for appending; seq, time_us and version are set by the journal.
 * The record is copied. Returns 0 and then cb(arg) is called exactly once,
 * later, on the loop; or returns -1 (queue full, journal unhealthy) and cb
 * is never called.
 */
int	journal_append(struct journal *, Warrant__Record *rec,
	    journal_done_cb cb, void *arg);
/*
 * fn sees every record as it becomes durable, decoded, on the loop, before
 * the append's own callback runs (so that the object store holds what an
 * answer reports). Set once, after journal_replay().
 */
typedef void (*journal_observer_cb)(const Warrant__Record *, void *arg);
void	journal_set_observer(struct journal *, journal_observer_cb fn, void *arg);
/*
 * Visit every record in order (after open, before appends), for recovery,
 * with its sealed fields opened (the observer's records are too).
 */
int	journal_replay(struct journal *,
	    int (*fn)(const Warrant__Record *, void *), void *arg);
/*
 * The same, but records before seq from are passed as stored (sealed
 * fields blank): opening is only paid for where the caller needs them.
 * A record that does not open stops the replay (-1, logged).
 */
int	journal_replay_unsealed_from(struct journal *, uint64_t from,
	    int (*fn)(const Warrant__Record *, void *), void *arg);
bool	journal_healthy(const struct journal *);
/* False once checkpoints can no longer be signed (the signer is gone). */
bool	journal_signing(const struct journal *);
/* Short reason when unhealthy, for logs, 503 answers and sd_notify STATUS. */
const char *journal_status(const struct journal *);
uint64_t journal_size(const struct journal *);	/* records so far */
/*
 * The newest signed checkpoint (C2SP signed-note text) and its tree size,
 * or NULL if none has been signed. Caller frees. For auditors and receipts.
 */
char	*journal_checkpoint_note(struct journal *, uint64_t *size);
/* When the newest checkpoint was written (µs, wall clock), 0 if none. */
int64_t	journal_checkpoint_time(const struct journal *);
/* Flush, write a final checkpoint, join the writer thread, free. */
void	journal_close(struct journal *);

#endif
