/*
 * journal — the daemon's durable, append-only record of every event (see
 * include/journal.h for the contract, docs/journal.md for the guarantees,
 * include/journal_segment.h for the bytes on disk). This file owns the
 * appends: the writer thread, group commit, checkpoints, completions on the
 * loop, and close. Recovery at open (segments scanned and checked against
 * the newest checkpoint, a torn tail set aside) and the replay of the
 * records at start are in journal_open.c; what both share is in
 * journal_int.h.
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
#include <sys/uio.h>

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
#include "journal_int.h"
#include "journal_segment.h"
#include "journal_test.h"
#include "log.h"
#include "merkle.h"
#include "seal.h"
#include "wd_wake.h"

#define JOURNAL_PENDING_MAX		100000
#define JOURNAL_PENDING_BYTES_MAX	(64 * 1024 * 1024)
#define JOURNAL_PROBE_MS_DEFAULT	5000
#define JOURNAL_IOV			64

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

void
journal_queue_init(struct jqueue *q)
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

	journal_queue_init(q);
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
int
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
void
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

void *
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
int
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

void
journal_on_done(void *arg)
{
	journal_run_done(arg);
}

/* ---- append --------------------------------------------------------------- */

/*
 * Stamp a copy of rec with the next seq and time, pack it into a frame.
 * Called with mu held (or before the writer runs), so seqs are dense.
 */
struct jentry *
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
