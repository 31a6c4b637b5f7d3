/*
 * journal — the daemon's durable, append-only record of every event (see
 * include/journal.h for the contract, docs/journal.md for the guarantees,
 * include/journal_segment.h for the bytes on disk).
 *
 * Threads: journal_append() runs on the event loop thread; it assigns the
 * seq, packs and queues the record. One writer thread takes everything
 * queued, writes it with pwritev and makes it durable with ONE fdatasync
 * per batch (group commit), then hands the completions back through a pipe
 * watched by the loop, where the callbacks run. The mutex guards only the
 * queues and the counters shared by the two threads; the segment fd and
 * offsets belong to the writer thread while it runs.
 *
 * Failure: a failed write or sync is never retried silently. The file is
 * cut back to the last durable offset, the seq counter is rewound to the
 * first unwritten record, every pending append fails with the errno and so
 * does every later one, until a periodic probe (truncate + sync) succeeds.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "checkpoint.h"
#include "journal.h"
#include "journal_segment.h"
#include "journal_test.h"
#include "log.h"
#include "merkle.h"
#include "seal.h"
#include "wd_bytes.h"
#include "wd_wake.h"

#define JOURNAL_SEGMENT_MAX_DEFAULT	(64 * 1024 * 1024)
#define JOURNAL_PENDING_MAX		100000
#define JOURNAL_PENDING_BYTES_MAX	(64 * 1024 * 1024)
#define JOURNAL_PROBE_MS_DEFAULT	5000
#define JOURNAL_IOV			64

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

static journal_pwritev_fn	journal_pwritev = pwritev;
static journal_fdatasync_fn	journal_fdatasync = fdatasync;
static unsigned			journal_probe_ms = JOURNAL_PROBE_MS_DEFAULT;

static void	journal_notify(struct journal *);

/* ---- test hooks ---------------------------------------------------------- */

uint64_t
journal_stat_syncs(const struct journal *j)
{
	return __atomic_load_n(&j->syncs, __ATOMIC_SEQ_CST);
}

void
journal_test_set_io(journal_pwritev_fn w, journal_fdatasync_fn s)
{
	journal_pwritev = w ? w : pwritev;
	journal_fdatasync = s ? s : fdatasync;
}

void
journal_test_set_probe_ms(unsigned ms)
{
	journal_probe_ms = ms ? ms : JOURNAL_PROBE_MS_DEFAULT;
}

/* ---- small helpers -------------------------------------------------------- */

static void
jqueue_init(struct jqueue *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

/* Append the list first..last (last->next ignored) to q. */
static void
jqueue_put(struct jqueue *q, struct jentry *first, struct jentry *last)
{
	last->next = NULL;
	*q->tail = first;
	q->tail = &last->next;
}

static struct jentry *
jqueue_take(struct jqueue *q)
{
	struct jentry	*h = q->head;

	jqueue_init(q);
	return h;
}

static int64_t
journal_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
journal_sync(struct journal *j, int fd)
{
	__atomic_add_fetch(&j->syncs, 1, __ATOMIC_SEQ_CST);
	return journal_fdatasync(fd);
}

/* Write iov fully at off, through the (hookable) pwritev. */
static int
journal_write_iov(int fd, struct iovec *iov, int n, off_t off)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = journal_pwritev(fd, iov, n, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		off += r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* ---- the writer ----------------------------------------------------------- */

/*
 * Start a new segment for records from seq on: header written and synced,
 * then the directory synced, so the file exists after a crash. Only then
 * does it replace the current one.
 */
static int
journal_roll(struct journal *j, uint64_t seq)
{
	char		name[JSEG_NAME_LEN];
	uint8_t		hdr[JSEG_HDR_LEN];
	struct iovec	iov;
	int		fd, saved;

	jseg_name(name, seq);
	jseg_header(hdr, seq);
	iov.iov_base = hdr;
	iov.iov_len = sizeof(hdr);
	if ((fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (journal_write_iov(fd, &iov, 1, 0) == -1 ||
	    journal_sync(j, fd) == -1 || fsync(j->dirfd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(j->dirfd, name, 0);
		errno = saved;
		return -1;
	}
	if (j->fd != -1)
		close(j->fd);
	j->fd = fd;
	j->seg_size = JSEG_HDR_LEN;
	return 0;
}

/* Write the n entries from e on at the end of the segment. */
static int
journal_write_run(struct journal *j, struct jentry *e, size_t n)
{
	struct iovec	iov[JOURNAL_IOV];
	off_t		off = (off_t)j->seg_size, chunk;
	int		k;

	while (n > 0) {
		chunk = 0;
		for (k = 0; k < JOURNAL_IOV && n > 0; k++, n--, e = e->next) {
			iov[k].iov_base = e->frame;
			iov[k].iov_len = e->len;
			chunk += (off_t)e->len;
		}
		if (journal_write_iov(j->fd, iov, k, off) == -1)
			return -1;
		off += chunk;
	}
	return 0;
}

/* Records first..last are durable: account for them and hand them back. */
static void
journal_complete(struct journal *j, struct jentry *first, struct jentry *last)
{
	struct jentry	*e;
	size_t		 n = 0, bytes = 0;

	for (e = first; ; e = e->next) {
		e->status = 0;
		merkle_tree_append(&j->tree, e->rc.leaf_hash);
		n++;
		bytes += e->len;
		if (e == last)
			break;
	}
	pthread_mutex_lock(&j->mu);
	j->durable = last->rc.seq + 1;
	j->pending_n -= n;
	j->pending_bytes -= bytes;
	jqueue_put(&j->done, first, last);
	journal_notify(j);
	pthread_mutex_unlock(&j->mu);
}

/*
 * A write or sync failed for the records from first on: cut the segment
 * back to its durable length, fail those records and everything queued
 * behind them, rewind the seq counter, and turn unhealthy.
 */
static void
journal_fail(struct journal *j, struct jentry *first, int err)
{
	struct jentry	*e, *last = NULL, *queued;
	/* The entries belong to the loop once queued as done: read it now. */
	uint64_t	 seq = first->rc.seq;

	if (ftruncate(j->fd, (off_t)j->seg_size) == -1)
		log_warn("journal: cannot cut segment back to %" PRIu64
		    " bytes", j->seg_size);
	pthread_mutex_lock(&j->mu);
	if ((queued = jqueue_take(&j->queue)) != NULL) {
		for (last = first; last->next != NULL; last = last->next)
			;
		last->next = queued;
	}
	for (e = first; e != NULL; e = e->next) {
		e->status = err;
		j->pending_n--;
		j->pending_bytes -= e->len;
		last = e;
	}
	jqueue_put(&j->done, first, last);
	j->next_seq = j->durable;
	j->error = err;
	snprintf(j->status, sizeof(j->status), "journal write failed: %s",
	    strerror(err));
	journal_notify(j);
	pthread_mutex_unlock(&j->mu);
	log_warnx("journal: write failed at seq %" PRIu64 ": %s; refusing "
	    "appends until the disk recovers", seq, strerror(err));
}

/* Write a batch: one run per segment touched, one fdatasync per run. */
static void
journal_write_batch(struct journal *j, struct jentry *e)
{
	struct jentry	*x, *last, *rest;
	uint64_t	 total;
	size_t		 n;

	while (e != NULL) {
		if (j->seg_size > JSEG_HDR_LEN &&
		    j->seg_size + e->len > j->segment_max &&
		    journal_roll(j, e->rc.seq) == -1) {
			journal_fail(j, e, errno);
			return;
		}
		total = n = 0;
		last = e;
		for (x = e; x != NULL && (n == 0 ||
		    j->seg_size + total + x->len <= j->segment_max);
		    x = x->next) {
			total += x->len;
			n++;
			last = x;
		}
		rest = last->next;
		if (journal_write_run(j, e, n) == -1 ||
		    journal_sync(j, j->fd) == -1) {
			journal_fail(j, e, errno);
			return;
		}
		j->seg_size += total;
		journal_complete(j, e, last);
		e = rest;
	}
}

/*
 * Unhealthy: can the disk take a write again? Cut back to the durable end,
 * then write a block of zeros past it, sync, and cut it off again. A probe
 * that wrote nothing would pass on a full disk and make the journal flap;
 * zeros are what a crash in the middle would leave, and the next start
 * cuts zero fill as a torn tail.
 */
static int
journal_probe(struct journal *j)
{
	static uint8_t	zeros[4096];
	struct iovec	iov = { zeros, sizeof(zeros) };

	if (ftruncate(j->fd, (off_t)j->seg_size) == -1 ||
	    journal_write_iov(j->fd, &iov, 1, (off_t)j->seg_size) == -1 ||
	    journal_sync(j, j->fd) == -1 ||
	    ftruncate(j->fd, (off_t)j->seg_size) == -1 ||
	    journal_sync(j, j->fd) == -1) {
		/* Leave nothing of the attempt behind. */
		if (ftruncate(j->fd, (off_t)j->seg_size) == -1)
			log_warn("journal: probe: cannot cut back");
		return -1;
	}
	return 0;
}

/* ---- checkpoints ------------------------------------------------------------ */

/*
 * Sign the tree over the durable records and store it as
 * checkpoint-<size in hex> and checkpoint.latest. A failure is logged and
 * retried at the next trigger: it loses no record, only the proof of them.
 */
static void
journal_checkpoint(struct journal *j)
{
	struct checkpoint	 cp;
	char			 name[64], *note;

	memset(&cp, 0, sizeof(cp));
	memcpy(cp.origin, j->origin, sizeof(cp.origin));
	cp.size = j->tree.size;
	merkle_tree_root(&j->tree, cp.root);
	clock_gettime(CLOCK_MONOTONIC, &j->cp_time);
	note = j->signer.sign != NULL ? j->signer.sign(&cp, j->signer.arg) :
	    checkpoint_sign(&cp, j->key);
	if (note == NULL)
		return;
	snprintf(name, sizeof(name), "checkpoint-%016" PRIx64, cp.size);
	if (checkpoint_write(j->dirfd, name, note) == -1 ||
	    checkpoint_write(j->dirfd, CHECKPOINT_LATEST, note) == -1)
		log_warn("journal: %s: cannot write checkpoint at size %"
		    PRIu64, j->dir, cp.size);
	else {
		j->cp_have = true;
		j->cp_size = cp.size;
		pthread_mutex_lock(&j->mu);
		free(j->cp_note);
		j->cp_note = note;
		j->cp_note_size = cp.size;
		j->cp_wall_us = journal_now_us();
		pthread_mutex_unlock(&j->mu);
		return;
	}
	free(note);
}

static uint64_t
journal_cp_unsigned(const struct journal *j)
{
	if (j->key == NULL)
		return 0;
	return j->tree.size - (j->cp_have ? j->cp_size : 0);
}

/* Enough records since the last checkpoint? */
static bool
journal_cp_due(const struct journal *j)
{
	return j->cp_records > 0 && journal_cp_unsigned(j) >= j->cp_records;
}

/* When the interval trigger fires, if anything is waiting to be signed. */
static bool
journal_cp_deadline(const struct journal *j, struct timespec *ts)
{
	if (j->cp_interval_s == 0 || journal_cp_unsigned(j) == 0)
		return false;
	*ts = j->cp_time;
	ts->tv_sec += j->cp_interval_s;
	return true;
}

static void
journal_deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void *
journal_writer(void *arg)
{
	struct journal	*j = arg;
	struct jentry	*batch;
	struct timespec	 ts;
	int		 rc;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		if (j->error != 0) {
			/* Appends are refused meanwhile: the queue is empty. */
			if (j->stopping)
				break;
			journal_deadline(&ts, journal_probe_ms);
			rc = pthread_cond_timedwait(&j->cv, &j->mu, &ts);
			if (rc != ETIMEDOUT || j->stopping)
				continue;
			pthread_mutex_unlock(&j->mu);
			rc = journal_probe(j);
			pthread_mutex_lock(&j->mu);
			if (rc == 0) {
				j->error = 0;
				j->status[0] = '\0';
				log_info("journal: disk writable again, "
				    "accepting appends from seq %" PRIu64,
				    j->next_seq);
			}
			continue;
		}
		if (j->queue.head == NULL) {
			if (j->stopping)
				break;
			if (!journal_cp_deadline(j, &ts)) {
				pthread_cond_wait(&j->cv, &j->mu);
				continue;
			}
			if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) ==
			    ETIMEDOUT && j->queue.head == NULL) {
				pthread_mutex_unlock(&j->mu);
				journal_checkpoint(j);
				pthread_mutex_lock(&j->mu);
			}
			continue;
		}
		batch = jqueue_take(&j->queue);
		pthread_mutex_unlock(&j->mu);
		journal_write_batch(j, batch);
		if (journal_cp_due(j))
			journal_checkpoint(j);
		pthread_mutex_lock(&j->mu);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ---- completions on the loop thread ------------------------------------- */

/* Called with mu held. */
static void
journal_notify(struct journal *j)
{
	if (j->signalled || j->wake == NULL)
		return;
	j->signalled = true;
	if (wd_wake_signal(j->wake) == -1)
		log_warn("journal: completion wake-up");
}

/* Put a record's sealed fields back (the daemon's data key). -1 logged. */
static int
journal_unseal(const struct journal *j, Warrant__Record *rec)
{
	char	err[160];

	if (!seal_is_sealed(rec))
		return 0;
	if (seal_open(j->seal, rec, err, sizeof(err)) == 0)
		return 0;
	log_warnx("journal: record %llu: %s (is this daemon's data key the "
	    "one that wrote it?)", (unsigned long long)rec->seq, err);
	return -1;
}

/* The durable record, decoded for the observer (the object store). */
static void
journal_observe(struct journal *j, const struct jentry *e)
{
	Warrant__Record	*rec;

	rec = warrant__record__unpack(NULL, e->len - JSEG_FRAME_HDR,
	    e->frame + JSEG_FRAME_HDR);
	if (rec == NULL) {
		log_warnx("journal: record %llu cannot be decoded for the store",
		    (unsigned long long)e->rc.seq);
		return;
	}
	/* The store needs what was sealed; this daemon sealed it. */
	if (journal_unseal(j, rec) == -1) {
		warrant__record__free_unpacked(rec, NULL);
		return;
	}
	j->observer(rec, j->observer_arg);
	warrant__record__free_unpacked(rec, NULL);
}

void
journal_set_observer(struct journal *j, journal_observer_cb fn, void *arg)
{
	j->observer = fn;
	j->observer_arg = arg;
}

static void
journal_run_done(struct journal *j)
{
	struct jentry	*e, *next;

	pthread_mutex_lock(&j->mu);
	j->signalled = false;
	e = jqueue_take(&j->done);
	pthread_mutex_unlock(&j->mu);
	for (; e != NULL; e = next) {
		next = e->next;
		if (e->status == 0 && j->observer != NULL)
			journal_observe(j, e);
		if (e->cb != NULL)
			e->cb(e->status, &e->rc, e->arg);
		free(e);
	}
}

static void
journal_on_done(void *arg)
{
	journal_run_done(arg);
}

/* ---- append --------------------------------------------------------------- */

/*
 * Stamp a copy of rec with the next seq and time, pack it into a frame.
 * Called with mu held (or before the writer runs), so seqs are dense.
 */
static struct jentry *
journal_make_entry(struct journal *j, const Warrant__Record *rec)
{
	Warrant__Record	 r = *rec;
	struct jentry	*e;
	uint8_t		*packed = NULL;
	size_t		 len;
	int64_t		 now;

	now = journal_now_us();
	if (now < j->last_time_us)
		now = j->last_time_us;		/* the clock stepped back */
	r.version = JSEG_RECORD_VERSION;
	r.seq = j->next_seq;
	r.time_us = now;
	/* Sealed fields are the journal's to write, never the caller's. */
	r.sealed.len = 0;
	r.sealed.data = NULL;
	r.n_blind = 0;
	r.blind = NULL;
	if (seal_can_seal(j->seal)) {
		if (seal_pack(j->seal, &r, &packed, &len) == -1)
			return NULL;
	} else
		len = warrant__record__get_packed_size(&r);
	if (len == 0 || len > j->record_max) {
		free(packed);
		errno = EMSGSIZE;
		return NULL;
	}
	if ((e = malloc(sizeof(*e) + JSEG_FRAME_HDR + len)) == NULL) {
		free(packed);
		return NULL;
	}
	if (packed != NULL) {
		memcpy(e->frame + JSEG_FRAME_HDR, packed, len);
		free(packed);
	} else
		warrant__record__pack(&r, e->frame + JSEG_FRAME_HDR);
	jseg_frame_header(e->frame, e->frame + JSEG_FRAME_HDR, len);
	merkle_leaf_hash(e->frame + JSEG_FRAME_HDR, len, e->rc.leaf_hash);
	e->rc.seq = r.seq;
	e->len = JSEG_FRAME_HDR + len;
	e->next = NULL;
	e->cb = NULL;
	e->arg = NULL;
	e->status = 0;
	j->next_seq++;
	j->last_time_us = now;
	return e;
}

int
journal_append(struct journal *j, Warrant__Record *rec, journal_done_cb cb,
    void *arg)
{
	struct jentry	*e;
	int		 err = 0;

	if (rec == NULL || rec->base.descriptor != &warrant__record__descriptor) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&j->mu);
	if (j->error != 0)
		err = j->error;
	else if (j->stopping)
		err = ESHUTDOWN;
	else if (j->pending_n >= JOURNAL_PENDING_MAX ||
	    j->pending_bytes >= JOURNAL_PENDING_BYTES_MAX)
		err = EAGAIN;
	else if ((e = journal_make_entry(j, rec)) == NULL)
		err = errno;
	if (err != 0) {
		pthread_mutex_unlock(&j->mu);
		errno = err;
		return -1;
	}
	e->cb = cb;
	e->arg = arg;
	j->pending_n++;
	j->pending_bytes += e->len;
	jqueue_put(&j->queue, e, e);
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

bool
journal_healthy(const struct journal *j)
{
	/* The mutex is not part of the journal's logical state. */
	pthread_mutex_t	*mu = (pthread_mutex_t *)&j->mu;
	bool		 ok;

	pthread_mutex_lock(mu);
	ok = j->error == 0;
	pthread_mutex_unlock(mu);
	return ok;
}

bool
journal_signing(const struct journal *j)
{
	return j->signer.broken == NULL ||
	    j->signer.broken(j->signer.arg) == NULL;
}

const char *
journal_status(const struct journal *j)
{
	static __thread char	 buf[sizeof(j->status)];
	pthread_mutex_t		*mu = (pthread_mutex_t *)&j->mu;
	const char		*why = j->signer.broken != NULL ?
	    j->signer.broken(j->signer.arg) : NULL;

	pthread_mutex_lock(mu);
	if (j->error == 0 && why != NULL)
		snprintf(buf, sizeof(buf), "journal ok, %" PRIu64 " records; "
		    "NO NEW CHECKPOINTS: %s", j->durable, why);
	else if (j->error == 0)
		snprintf(buf, sizeof(buf), "journal ok, %" PRIu64 " records",
		    j->durable);
	else
		snprintf(buf, sizeof(buf), "%s", j->status);
	pthread_mutex_unlock(mu);
	return buf;
}

char *
journal_checkpoint_note(struct journal *j, uint64_t *size)
{
	char	*note = NULL;
	size_t	 len;

	pthread_mutex_lock(&j->mu);
	if (j->cp_note != NULL) {
		note = strdup(j->cp_note);
		*size = j->cp_note_size;
	}
	pthread_mutex_unlock(&j->mu);
	if (note != NULL || !j->cp_at_open)
		return note;
	/*
	 * Nothing signed since start: the newest note on disk was checked at
	 * open (journal_cp_read). A small file, read once per request.
	 */
	if ((note = checkpoint_read(j->dirfd, CHECKPOINT_LATEST, &len)) != NULL)
		*size = j->cp_found.size;
	return note;
}

int64_t
journal_checkpoint_time(const struct journal *j)
{
	pthread_mutex_t	*mu = (pthread_mutex_t *)&j->mu;
	int64_t		 t;

	pthread_mutex_lock(mu);
	t = j->cp_wall_us;
	pthread_mutex_unlock(mu);
	return t;
}

uint64_t
journal_size(const struct journal *j)
{
	pthread_mutex_t	*mu = (pthread_mutex_t *)&j->mu;
	uint64_t	 n;

	pthread_mutex_lock(mu);
	n = j->durable;
	pthread_mutex_unlock(mu);
	return n;
}

/* ---- replay --------------------------------------------------------------- */

struct journal_replay_ctx {
	const struct journal	*j;
	uint64_t		 unseal_from;
	int			(*fn)(const Warrant__Record *, void *);
	void			*arg;
	int			 failed;
};

static int
journal_replay_one(const struct jseg_rec *r, void *arg)
{
	struct journal_replay_ctx	*c = arg;
	Warrant__Record			*own;

	if (r->seq < c->unseal_from || !seal_is_sealed(r->rec)) {
		if (c->fn(r->rec, c->arg) != 0)
			c->failed = 1;
		return c->failed;
	}
	/* The scan owns r->rec: open a copy of our own. */
	if ((own = warrant__record__unpack(NULL, r->len, r->bytes)) == NULL) {
		log_warnx("journal: replay: record %" PRIu64 " does not unpack",
		    r->seq);
		c->failed = 1;
	} else if (journal_unseal(c->j, own) == -1 || c->fn(own, c->arg) != 0)
		c->failed = 1;
	warrant__record__free_unpacked(own, NULL);
	return c->failed;
}

int
journal_replay(struct journal *j, int (*fn)(const Warrant__Record *, void *),
    void *arg)
{
	return journal_replay_unsealed_from(j, 0, fn, arg);
}

int
journal_replay_unsealed_from(struct journal *j, uint64_t from,
    int (*fn)(const Warrant__Record *, void *), void *arg)
{
	struct journal_replay_ctx	 c = { j, from, fn, arg, 0 };
	struct jseg_file		*segs = NULL;
	struct jseg_scan		 s;
	size_t				 i, n;
	int				 rv = 0;

	jseg_scan_init(&s, j->record_max);
	s.limit = journal_size(j);	/* only what is durable */
	s.fn = journal_replay_one;
	s.arg = &c;
	if (jseg_list(j->dirfd, &segs, &n) == -1) {
		log_warn("journal: %s", j->dir);
		return -1;
	}
	for (i = 0; i < n && !s.stopped && s.next_seq < s.limit; i++) {
		if (jseg_scan_file(j->dirfd, &segs[i], i + 1 == n, &s,
		    NULL) == -1) {
			log_warnx("journal: replay: %s", s.err);
			rv = -1;
			break;
		}
	}
	if (rv == 0 && c.failed) {
		log_warnx("journal: replay stopped by its caller at seq %"
		    PRIu64, s.next_seq);
		rv = -1;
	} else if (rv == 0 && s.next_seq < s.limit) {
		log_warnx("journal: replay found %" PRIu64 " records, expected %"
		    PRIu64, s.next_seq, s.limit);
		rv = -1;
	}
	free(segs);
	return rv;
}

/* ---- open ----------------------------------------------------------------- */

static int
journal_load_one(const struct jseg_rec *r, void *arg)
{
	struct journal	*j = arg;
	merkle_hash	 leaf;

	merkle_leaf_hash(r->bytes, r->len, leaf);
	merkle_tree_append(&j->tree, leaf);
	if (j->cp_have && j->tree.size == j->cp_found.size)
		merkle_tree_root(&j->tree, j->cp_prefix_root);
	return 0;
}

static int
journal_open_segment(struct journal *j, const struct jseg_file *f,
    uint64_t size)
{
	if ((j->fd = openat(j->dirfd, f->name, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("journal: %s/%s", j->dir, f->name);
		return -1;
	}
	j->seg_size = size;
	return 0;
}

/* A new file in DIR/torn for what is cut, never one already there. */
static int
journal_torn_create(struct journal *j, int tdir, const char *seg,
    uint64_t off, char *name, size_t nlen)
{
	int fd;

	for (int i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(name, nlen, "%s.at-%" PRIu64, seg, off);
		else
			snprintf(name, nlen, "%s.at-%" PRIu64 ".%d", seg, off, i);
		fd = openat(tdir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	log_warn("journal: %s/torn: %s", j->dir, name);
	return -1;
}

/* Copy [off, off + len) of seg into DIR/torn/name, durably. */
static int
journal_torn_copy(struct journal *j, int tdir, const char *seg, uint64_t off,
    uint64_t len, char *name, size_t nlen)
{
	uint8_t		buf[65536];
	ssize_t		r;
	size_t		want;
	int		in, out = -1, rv = -1;

	if ((in = openat(j->dirfd, seg, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (out = journal_torn_create(j, tdir, seg, off, name, nlen)) == -1)
		goto done;
	while (len > 0) {
		want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		if ((r = pread(in, buf, want, (off_t)off)) <= 0) {
			if (r == 0)
				errno = EIO;	/* the file shrank under us */
			goto done;
		}
		if (write(out, buf, (size_t)r) != r)
			goto done;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	rv = fsync(out);
done:
	if (rv == -1)
		log_warn("journal: %s: cannot move the torn tail of %s aside",
		    j->dir, seg);
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	return rv;
}

/*
 * What is cut goes to DIR/torn, never away: it was never acknowledged, but
 * it is evidence (of a power cut, or of whatever else wrote there), and an
 * auditor or the carrier may want it. A whole segment is renamed there;
 * a tail is copied, synced, and only then cut from the segment.
 */
static int
journal_torn_aside(struct journal *j, const char *seg, uint64_t off,
    uint64_t len, char *name, size_t nlen)
{
	int	tdir, rv;

	if (mkdirat(j->dirfd, "torn", 0700) == -1 && errno != EEXIST) {
		log_warn("journal: %s/torn", j->dir);
		return -1;
	}
	if ((tdir = openat(j->dirfd, "torn", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("journal: %s/torn", j->dir);
		return -1;
	}
	if (off < JSEG_HDR_LEN) {
		snprintf(name, nlen, "%s.at-0", seg);
		rv = renameat(j->dirfd, seg, tdir, name);
		if (rv == -1)
			log_warn("journal: %s: cannot move %s aside", j->dir, seg);
	} else
		rv = journal_torn_copy(j, tdir, seg, off, len, name, nlen);
	if (rv == 0 && (fsync(tdir) == -1 || fsync(j->dirfd) == -1)) {
		log_warn("journal: %s: cannot sync %s/torn", j->dir, j->dir);
		rv = -1;
	}
	close(tdir);
	return rv;
}

/*
 * A crash or a power cut left the last append incomplete: the bytes after
 * the last good frame go to DIR/torn (journal_torn_aside) and are cut, so
 * the next append starts on a frame boundary. A segment whose header
 * itself is incomplete (a crash while rolling over) is moved there whole.
 */
static int
journal_cut_tail(struct journal *j, struct jseg_file *segs, size_t *n,
    const struct jseg_scan *s, uint64_t prev_size, char *detail, size_t dlen)
{
	struct jseg_file	*last = &segs[*n - 1];
	char			 aside[JSEG_NAME_LEN + 48];

	if (journal_torn_aside(j, last->name, s->torn_off, s->torn_len, aside,
	    sizeof(aside)) == -1)
		return -1;
	snprintf(detail, dlen, "torn tail: cut %" PRIu64 " bytes at offset %"
	    PRIu64 " of %s (seq %" PRIu64 " onwards): %s; moved to torn/%s",
	    s->torn_len, s->torn_off, last->name, s->next_seq, s->torn_why,
	    aside);
	log_warnx("journal: %s: %s", j->dir, detail);
	if (s->torn_off < JSEG_HDR_LEN) {
		if (--*n == 0)
			return journal_roll(j, s->next_seq);
		return journal_open_segment(j, &segs[*n - 1], prev_size);
	}
	if (journal_open_segment(j, last, s->torn_off) == -1)
		return -1;
	if (ftruncate(j->fd, (off_t)s->torn_off) == -1 || fsync(j->fd) == -1) {
		log_warn("journal: %s/%s: cannot cut torn tail", j->dir,
		    last->name);
		return -1;
	}
	return 0;
}

/* The highest checkpoint-<hex> file in the directory, if any. */
static int
journal_cp_highest(struct journal *j, uint64_t *size)
{
	DIR		*d;
	struct dirent	*de;
	char		*end;
	uint64_t	 v;
	int		 fd, found = 0;

	if ((fd = dup(j->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "checkpoint-", 11) != 0 ||
		    strlen(de->d_name) != 27)
			continue;
		errno = 0;
		v = strtoull(de->d_name + 11, &end, 16);
		if (*end != '\0' || errno != 0)
			continue;
		if (!found || v > *size)
			*size = v;
		found = 1;
	}
	closedir(d);
	return found;
}

static int
journal_cp_read(struct journal *j, const char *name, struct checkpoint *cp)
{
	char	*note, err[128];
	size_t	 len;
	int	 rv;

	if ((note = checkpoint_read(j->dirfd, name, &len)) == NULL) {
		if (errno == ENOENT)
			return 1;
		log_warn("journal: %s/%s", j->dir, name);
		return -1;
	}
	rv = j->key != NULL ?
	    checkpoint_verify(note, len, j->key, cp, err, sizeof(err)) :
	    checkpoint_parse(note, len, cp, err, sizeof(err));
	free(note);
	if (rv == -1)
		log_warnx("journal: %s/%s: refusing to run: %s", j->dir, name,
		    err);
	return rv;
}

/*
 * The newest checkpoint: checkpoint.latest, or a numbered one beyond it
 * (should .latest have been replaced by an older copy or removed).
 */
static int
journal_cp_load(struct journal *j)
{
	struct checkpoint	cp;
	char			name[64];
	uint64_t		high = 0;
	int			rv;

	if ((rv = journal_cp_read(j, CHECKPOINT_LATEST, &j->cp_found)) == -1)
		return -1;
	j->cp_have = rv == 0;
	if (journal_cp_highest(j, &high) &&
	    (!j->cp_have || high > j->cp_found.size)) {
		snprintf(name, sizeof(name), "checkpoint-%016" PRIx64, high);
		if (journal_cp_read(j, name, &cp) != 0)
			return -1;
		j->cp_found = cp;
		j->cp_have = true;
	}
	j->cp_at_open = j->cp_have;
	if (j->cp_have) {	/* its age, for /metrics: when it was written */
		struct stat sb;

		if (fstatat(j->dirfd, CHECKPOINT_LATEST, &sb, 0) == 0)
			j->cp_wall_us = (int64_t)sb.st_mtim.tv_sec * 1000000 +
			    sb.st_mtim.tv_nsec / 1000;
	}
	if (j->cp_have) {
		j->cp_size = j->cp_found.size;
		merkle_root(NULL, 0, j->cp_prefix_root);	/* size 0 */
	}
	return 0;
}

/* The journal must extend its newest checkpoint: no rollback, no rewrite. */
static int
journal_cp_check(struct journal *j, const char *where)
{
	if (!j->cp_have)
		return 0;
	if (j->cp_found.size > j->tree.size) {
		log_warnx("journal: %s: refusing to run: %" PRIu64 " records "
		    "but a signed checkpoint covers %" PRIu64 ": records were "
		    "removed (rollback or truncation)%s", j->dir, j->tree.size,
		    j->cp_found.size, where);
		return -1;
	}
	if (memcmp(j->cp_prefix_root, j->cp_found.root, MERKLE_HASH_LEN)) {
		log_warnx("journal: %s: refusing to run: the first %" PRIu64
		    " records do not match the signed checkpoint: the journal "
		    "was rewritten", j->dir, j->cp_found.size);
		return -1;
	}
	return 0;
}

/*
 * Records are written in the current format only: a journal whose last
 * segment has an older format goes on in a new segment (the old ones stay
 * as they are, and verifiable).
 */
static int
journal_upgrade(struct journal *j)
{
	uint8_t		hdr[JSEG_HDR_LEN];
	uint32_t	v;

	if (pread(j->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		log_warn("journal: %s: cannot read the last segment's header",
		    j->dir);
		return -1;
	}
	if ((v = wd_get_be32(hdr + 8)) == JSEG_VERSION)
		return 0;
	log_info("journal: %s: last segment has format %u: records from seq "
	    "%" PRIu64 " go into a new segment of format %u", j->dir, v,
	    j->next_seq, JSEG_VERSION);
	if (journal_roll(j, j->next_seq) == -1) {
		log_warn("journal: %s: cannot start a segment of format %u",
		    j->dir, JSEG_VERSION);
		return -1;
	}
	return 0;
}

/* Scan and check every segment; leave the last one open for appending. */
static int
journal_load(struct journal *j, char *detail, size_t dlen)
{
	struct jseg_file	*segs = NULL;
	struct jseg_scan	 s;
	size_t			 i, n;
	uint64_t		 size = 0, prev_size = 0;
	char			 where[768] = "";
	int			 rv = -1;

	if (jseg_list(j->dirfd, &segs, &n) == -1) {
		log_warn("journal: %s", j->dir);
		return -1;
	}
	if (journal_cp_load(j) == -1)
		goto out;
	jseg_scan_init(&s, j->record_max);
	s.fn = journal_load_one;
	s.arg = j;
	for (i = 0; i < n; i++) {
		prev_size = size;
		if (jseg_scan_file(j->dirfd, &segs[i], i + 1 == n, &s,
		    &size) == -1) {
			log_warnx("journal: %s: damaged, refusing to run: %s; "
			    "acknowledged records may be at stake, so nothing "
			    "was changed: run warrant-audit verify --journal %s "
			    "and restore the segment from a backup "
			    "(docs/journal.md)", j->dir, s.err, j->dir);
			goto out;
		}
	}
	j->next_seq = j->durable = s.next_seq;
	j->last_time_us = s.last_time_us == INT64_MIN ? 0 : s.last_time_us;
	/*
	 * A signed checkpoint covers only records that were durable: damage
	 * before its end is damage to acknowledged records, not a torn tail.
	 */
	if (s.torn)
		snprintf(where, sizeof(where), " (damage at offset %" PRIu64
		    " of %s, seq %" PRIu64 ": %s; acknowledged records are at "
		    "stake and nothing was changed: run warrant-audit verify "
		    "--journal %s and restore the segment from a backup, "
		    "docs/journal.md)", s.torn_off, segs[n - 1].name,
		    s.next_seq, s.torn_why, j->dir);
	if (journal_cp_check(j, where) == -1)
		goto out;
	if (n == 0) {
		if ((rv = journal_roll(j, 0)) == -1)
			log_warn("journal: %s: cannot create first segment",
			    j->dir);
	} else if (s.torn)
		rv = journal_cut_tail(j, segs, &n, &s, prev_size, detail,
		    dlen);
	else
		rv = journal_open_segment(j, &segs[n - 1], size);
	if (rv == 0)
		rv = journal_upgrade(j);
out:
	free(segs);
	return rv;
}

/* Record the torn tail in the journal itself, durably, before anything. */
static int
journal_record_torn(struct journal *j, const char *detail)
{
	Warrant__Record	 r = WARRANT__RECORD__INIT;
	struct jentry	*e;

	r.event = WARRANT__EVENT_TYPE__EVENT_JOURNAL_TORN_TAIL;
	r.detail = (char *)detail;
	if ((e = journal_make_entry(j, &r)) == NULL) {
		log_warn("journal: torn tail record");
		return -1;
	}
	j->pending_n++;
	j->pending_bytes += e->len;
	journal_write_batch(j, e);
	if (j->error != 0) {
		log_warnx("journal: %s: cannot record the torn tail: %s",
		    j->dir, strerror(j->error));
		return -1;
	}
	return 0;
}

static int
journal_init_sync(struct journal *j)
{
	pthread_condattr_t	ca;

	if (pthread_mutex_init(&j->mu, NULL) != 0)
		return -1;
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&j->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return -1;
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

static int
journal_open_dir(struct journal *j)
{
	if (mkdir(j->dir, 0700) == -1 && errno != EEXIST) {
		log_warn("journal: mkdir %s", j->dir);
		return -1;
	}
	if ((j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("journal: %s", j->dir);
		return -1;
	}
	/* Two writers would interleave frames: one process at a time. */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) == -1) {
		log_warn("journal: %s: locked by another process", j->dir);
		return -1;
	}
	return 0;
}

int
journal_open(const struct journal_config *cfg, struct event_base *base,
    struct journal **out)
{
	struct journal	*j;
	char		 detail[512] = "";

	*out = NULL;
	if (cfg->dir == NULL || base == NULL) {
		log_warnx("journal: no directory or event base");
		return -1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->dir = strdup(cfg->dir)) == NULL) {
		log_warn("journal: open");
		free(j);
		return -1;
	}
	j->dirfd = j->fd = -1;
	j->base = base;
	j->segment_max = cfg->segment_max ? cfg->segment_max :
	    JOURNAL_SEGMENT_MAX_DEFAULT;
	j->record_max = cfg->record_max ? cfg->record_max :
	    JSEG_RECORD_MAX_DEFAULT;
	if (j->record_max > JSEG_RECORD_MAX_LIMIT)
		j->record_max = JSEG_RECORD_MAX_LIMIT;
	jqueue_init(&j->queue);
	jqueue_init(&j->done);
	merkle_tree_init(&j->tree);
	if (journal_init_sync(j) == -1) {
		log_warnx("journal: cannot create mutex");
		free(j->dir);
		free(j);
		return -1;
	}
	if (cfg->signer != NULL && cfg->signer->pub != NULL &&
	    EVP_PKEY_up_ref(cfg->signer->pub) == 1) {
		j->signer = *cfg->signer;
		j->key = cfg->signer->pub;
	} else if (cfg->signer != NULL) {
		log_warnx("journal: the signer has no public key");
		goto fail;
	} else if (cfg->signing_key != NULL &&
	    (j->key = checkpoint_load_private(cfg->signing_key)) == NULL)
		goto fail;
	snprintf(j->origin, sizeof(j->origin), "%s",
	    cfg->origin != NULL ? cfg->origin : "warrantd");
	j->cp_records = cfg->checkpoint_records;
	j->cp_interval_s = cfg->checkpoint_interval_s;
	j->seal = cfg->seal;
	clock_gettime(CLOCK_MONOTONIC, &j->cp_time);
	if (journal_open_dir(j) == -1 ||
	    journal_load(j, detail, sizeof(detail)) == -1)
		goto fail;
	/* The auditor's way to the blind index key (seal.h). */
	if (seal_index_publish(j->seal, j->dirfd) == -1)
		goto fail;
	if ((j->wake = wd_wake_new(base, journal_on_done, j, 0)) == NULL)
		goto fail;
	if (detail[0] != '\0' && journal_record_torn(j, detail) == -1)
		goto fail;
	if (pthread_create(&j->thread, NULL, journal_writer, j) != 0) {
		log_warnx("journal: cannot start writer thread");
		goto fail;
	}
	j->thread_started = true;
	log_info("journal: %s: %" PRIu64 " records", j->dir, j->durable);
	*out = j;
	return 0;
fail:
	journal_close(j);
	return -1;
}

/* ---- close ---------------------------------------------------------------- */

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->thread_started) {
		pthread_mutex_lock(&j->mu);
		j->stopping = true;
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->thread, NULL);
	}
	if (j->wake != NULL)
		journal_run_done(j);	/* callbacks of the last batch */
	/* Sign everything written, if the journal opened at all. */
	if (j->thread_started && j->key != NULL &&
	    (!j->cp_have || j->tree.size > j->cp_size))
		journal_checkpoint(j);
	EVP_PKEY_free(j->key);
	wd_wake_free(j->wake);
	if (j->fd != -1)
		close(j->fd);
	if (j->dirfd != -1)
		close(j->dirfd);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j->cp_note);
	free(j->dir);
	free(j);
}
