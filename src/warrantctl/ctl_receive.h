/*
 * ctl_receive — `warrantctl receive`, a small HI-1 DELIVER endpoint for
 * authorities without a system of their own (docs/warrantctl.md):
 *  - ctl_receive.c: the command line, the mutual-TLS listener, one bounded
 *    HTTP/1.1 exchange per connection, deadlines, signals;
 *  - ctl_rwork.c: the worker threads that take each whole request off the
 *    event loop (reading, verifying, storing, the answer) and hand the
 *    answer back to it;
 *  - ctl_dparse.c: one DELIVER body read (the schema's checks, every
 *    field) with its Data decoded and hashed in one streaming pass;
 *  - ctl_deliver.c: what one DELIVER message does to the output directory
 *    (checksums verified, parts and notifications stored durably and
 *    idempotently, the directory's fsyncs grouped) and the HI-1 answer,
 *    one outcome per action.
 */
#ifndef WD_CTL_RECEIVE_H
#define WD_CTL_RECEIVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hi1.h"
#include "hi1_parse.h"

struct evbuffer;
struct hi1_schema;
struct wd_error;

/* `warrantctl receive ...`: argv[0] is "receive". Returns the exit code. */
int	ctl_receive_main(int argc, char *argv[]);

/*
 * The output directory, shared by the workers: the counters and the lines
 * written to out are under lock; the directory's fsyncs are grouped (one
 * fsync of the directory covers every name linked before it started).
 */
struct ctl_store {
	int		 dirfd;		/* the output directory */
	const char	*dir;		/* its name, for messages */
	const char	*authority;	/* accept only for this one; NULL: any */
	FILE		*out;		/* one line per part or notification */
	unsigned	 stored;	/* parts and notifications written */
	unsigned	 again;		/* delivered again, already stored */
	unsigned	 refused;	/* actions or messages refused */
	pthread_mutex_t	 lock;		/* the above and the below */
	pthread_cond_t	 synced;	/* a directory fsync is over */
	uint64_t	 sync_asked;	/* tickets handed out */
	uint64_t	 sync_done;	/* every ticket up to this one is durable */
	uint64_t	 sync_failed;	/* ... and up to this one failed */
	bool		 sync_busy;	/* a worker is in fsync(dirfd) */
	unsigned	 syncs;		/* fsyncs of the directory, for tests */
};

int	ctl_store_init(struct ctl_store *);
void	ctl_store_cleanup(struct ctl_store *);

/*
 * One DELIVER body from the carrier (consumed as it is read): parsed and
 * validated, every checksum verified, each part and notification stored
 * (a file written and
 * fdatasync'ed, linked under its name only if that name is free, the
 * directory fsync'ed, shared with the other workers' links) before it is
 * acknowledged. Safe to call from several threads at once. Returns the
 * HI-1 answer (malloc'd, *len bytes) with its HTTP status in *status, or
 * NULL if no answer could be built (then answer 500).
 */
char	*ctl_deliver(struct ctl_store *, const struct hi1_schema *,
	    struct evbuffer *body, int *status, size_t *outlen);

/* ---- ctl_dparse.c ---------------------------------------------------- */

#define CTL_DMSG_SLOTS	(2 * HI1_MAX_ACTIONS)	/* Data: a part and a manifest */
#define CTL_DIO_ALIGN	4096	/* O_DIRECT's alignment, a page */

/*
 * A DELIVER as read: the items, and each BinaryData's SHA-256 computed.
 * Every BinaryData's data is CTL_DIO_ALIGN-aligned, in an allocation that
 * reaches at least to the next multiple of CTL_DIO_ALIGN past its len (so
 * it can be written with O_DIRECT, padded, then the file truncated).
 */
struct ctl_dmsg {
	struct hi1_deliver d;
	char		 sum[HI1_MAX_ACTIONS][2][65];	/* [0] data, [1] manifest */
};

/*
 * Parse and validate an untrusted DELIVER body as hi1_parse_deliver()
 * does (the same refusals), its Data decoded and hashed in the same pass
 * (the SHA-256 in m->sum, lowercase hex, to compare with the Checksum
 * declared). 0 with *m filled (free with ctl_dmsg_free), -1 with *err.
 * Thread-safe once hi1_init() and ctl_dparse_init() have run.
 */
int	ctl_dparse(const struct hi1_schema *, const char *body, size_t len,
	    struct ctl_dmsg *m, struct wd_error *err);
/* The same over a body in pieces, which it consumes (drains). */
int	ctl_dparse_buffer(const struct hi1_schema *, struct evbuffer *body,
	    struct ctl_dmsg *m, struct wd_error *err);
/* Once, before any ctl_dparse() (its decoding tables). */
void	ctl_dparse_init(void);
void	ctl_dmsg_free(struct ctl_dmsg *);

/* ---- ctl_rwork.c ----------------------------------------------------- */

struct event_base;
struct rwork;

/* One request handed to the workers: owned by them until it comes back. */
struct rwork_job {
	struct rwork_job *next;
	struct evbuffer	*body;		/* in: exactly the request's body */
	void		*owner;		/* the loop's; NULL once it is gone */
	char		*answer;	/* out: malloc'd, or NULL (then 500) */
	size_t		 alen;
	int		 status;
};

typedef void	(*rwork_done_cb)(struct rwork_job *, void *arg);

/*
 * n worker threads, each taking one job at a time: ctl_deliver() over its
 * body. done is called on base's loop, in that thread, for each job
 * finished; it owns the job (rwork_job_free).
 */
struct rwork	*rwork_new(struct event_base *, unsigned n, struct ctl_store *,
		    const struct hi1_schema *, rwork_done_cb done, void *arg);
void		 rwork_submit(struct rwork *, struct rwork_job *);
/* Stops the threads once their current jobs are over; the rest dropped. */
void		 rwork_free(struct rwork *);
void		 rwork_job_free(struct rwork_job *);

#endif
