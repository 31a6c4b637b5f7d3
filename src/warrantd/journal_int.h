/*
 * journal_int — what the two files of the journal's writing side share,
 * and nothing else includes (the interface is include/journal.h): the
 * journal's state, its queued entries, and the functions of journal.c that
 * journal_open.c calls.
 *  src/warrantd/journal.c       appends: the writer thread, group commit,
 *                               checkpoints, completions, close;
 *  src/warrantd/journal_open.c  recovery at open, and replay.
 */
#ifndef WD_JOURNAL_INT_H
#define WD_JOURNAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "checkpoint.h"
#include "journal.h"
#include "merkle.h"

struct event_base;
struct seal;
struct wd_wake;

struct jentry {
	struct jentry		*next;
	journal_done_cb		 cb;
	void			*arg;
	int			 status;
	struct journal_receipt	 rc;
	size_t			 len;		/* frame header + record */
	uint8_t			 frame[];
};

struct jqueue {
	struct jentry		*head;
	struct jentry		**tail;
};

struct journal {
	char			*dir;
	int			 dirfd;
	size_t			 segment_max;
	uint32_t		 record_max;
	struct event_base	*base;
	struct wd_wake		*wake;		/* the writer wakes the loop */
	pthread_t		 thread;
	bool			 thread_started;

	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	/* Shared with the writer thread, under mu. */
	struct jqueue		 queue;		/* loop -> writer */
	struct jqueue		 done;		/* writer -> loop */
	size_t			 pending_n;
	size_t			 pending_bytes;
	uint64_t		 next_seq;	/* next to assign */
	uint64_t		 durable;	/* records written and synced */
	int64_t			 last_time_us;
	int			 error;		/* 0 = healthy */
	char			 status[160];
	bool			 stopping;
	bool			 signalled;
	uint64_t		 syncs;

	/* The writer thread's (open and close's when it is not running). */
	int			 fd;		/* current (last) segment */
	uint64_t		 seg_size;	/* its durable length */
	struct merkle_tree	 tree;		/* over the durable records */

	/* Checkpoints (the writer's too); no key, no checkpoints. */
	EVP_PKEY		*key;		/* private, or the signer's public */
	struct journal_signer	 signer;	/* sign NULL: key signs here */
	char			 origin[CHECKPOINT_ORIGIN_MAX];
	unsigned		 cp_records;
	unsigned		 cp_interval_s;
	bool			 cp_have;	/* one exists on disk */
	uint64_t		 cp_size;	/* the newest one's size */
	struct timespec		 cp_time;	/* when it was written */
	/* At open: the newest checkpoint found, and the prefix root. */
	struct checkpoint	 cp_found;
	merkle_hash		 cp_prefix_root;
	/* The newest note this process signed, for auditors (under mu). */
	char			*cp_note;
	uint64_t		 cp_note_size;
	bool			 cp_at_open;	/* a checkpoint existed at open (fixed) */
	int64_t			 cp_wall_us;	/* when the newest was written (mu) */
	/* Seals identifiers and references; NULL: records in clear. */
	const struct seal	*seal;
	/* Told of every durable record, on the loop, before its callback. */
	journal_observer_cb	 observer;
	void			*observer_arg;
};

/* src/warrantd/journal.c, called by journal_open.c */
void		 journal_queue_init(struct jqueue *);
int		 journal_roll(struct journal *, uint64_t);
void		 journal_write_batch(struct journal *, struct jentry *);
void		*journal_writer(void *);
void		 journal_on_done(void *);
struct jentry	*journal_make_entry(struct journal *, const Warrant__Record *);
int		 journal_unseal(const struct journal *, Warrant__Record *);

#endif /* WD_JOURNAL_INT_H */
