/*
 * auditapi_proof — GET /journal/proof?seq=N: the RFC 9162 inclusion proof of
 * record N in the newest signed checkpoint (or ?leaf-sha256=HEX: of the
 * record with that leaf hash, the only thing an authority's receipt
 * holds), in warrant-audit's text format,
 * built by the same code as `warrant-audit prove` (journal_audit.c). The
 * auditor checks it with `warrant-audit check-proof` against the checkpoint
 * from GET /journal/checkpoint and the journal's public key.
 *
 * A proof re-reads every segment up to the checkpoint's size, so it never
 * runs on the event loop: each request gets a detached worker thread that
 * writes the proof into a memory buffer. At most PROOF_MAX_RUNNING run at
 * once (503 beyond): threads and memory stay bounded whatever auditors do.
 *
 * Handing back: the worker owns nothing but its job and never touches the
 * connection, the server or libevent. It signals the job's once-only wake
 * (wd_wake.h) when done; the wake was registered on the loop thread before
 * the worker started, so the loop wakes up, and there
 * conn_release_if_dead() balances the busy count taken by conn_route() and
 * the answer goes out. If the loop has already exited when the worker
 * finishes (the stop's drain deadline passed), the job is abandoned at exit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "journal.h"
#include "journal_audit.h"
#include "log.h"
#include "auditapi.h"
#include "server.h"
#include "wd_wake.h"

#define PROOF_MAX_RUNNING	2
#define PROOF_TYPE		"text/plain; charset=utf-8"

struct proof_job {
	/* Set on the loop thread before the worker starts, then read-only. */
	struct conn	*c;		/* the loop thread's only */
	uint64_t	 seq;
	bool		 by_leaf;	/* seq is found from leaf by the worker */
	uint8_t		 leaf[32];
	char		 dir[PATH_MAX];
	char		*note;		/* newest checkpoint, signed note */
	size_t		 notelen;
	uint64_t	 size;		/* its tree size */
	struct wd_wake	*wake;		/* done signal, once */
	/* Written by the worker, read by the loop once done is set. */
	int		 done;
	int		 rv;		/* JAUDIT_* */
	bool		 not_found;	/* by_leaf: no such record signed */
	char		*buf;		/* the proof text */
	size_t		 len;
	char		 err[PATH_MAX + 1024];
};

static unsigned	proof_running;		/* loop thread only */

static void
proof_job_free(struct proof_job *job)
{
	wd_wake_free(job->wake);
	free(job->note);
	free(job->buf);
	free(job);
}

/* Finish a request answered on the loop thread: release, then answer. */
static void
proof_answer(struct conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
proof_answer(struct conn *c, int status, const char *fmt, ...)
{
	va_list	ap;

	if (conn_release_if_dead(c))
		return;
	va_start(ap, fmt);
	conn_vrespond_text(c, status, fmt, ap);
	va_end(ap);
}

/*
 * "seq=N", N a canonical decimal (http_parse_decimal: no sign, no leading
 * zero) within uint64_t; nothing else. "seq=01" names no record: a number
 * is written one way only, as in Content-Length and the receipts.
 */
static int
proof_parse_query(const char *q, uint64_t *seq, bool *by_leaf,
    uint8_t leaf[32])
{
	static const char	hex[] = "0123456789abcdef";
	const char		*p, *hi, *lo;

	*by_leaf = false;
	if (strncmp(q, "seq=", 4) == 0)
		return http_parse_decimal(q + 4, strlen(q + 4), UINT64_MAX, seq);
	/* 64 lowercase hex digits, as the receipt writes them. */
	if (strncmp(q, "leaf-sha256=", 12) != 0 || strlen(q + 12) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		p = q + 12 + 2 * i;
		if (p[0] == '\0' || p[1] == '\0' ||
		    (hi = strchr(hex, p[0])) == NULL ||
		    (lo = strchr(hex, p[1])) == NULL)
			return -1;
		leaf[i] = (uint8_t)((hi - hex) << 4 | (lo - hex));
	}
	*by_leaf = true;
	return 0;
}

/* ---- the worker --------------------------------------------------------- */

static void *
proof_worker(void *arg)
{
	struct proof_job	*job = arg;
	FILE			*out;
	struct wd_wake		*wake = job->wake;

	if ((out = open_memstream(&job->buf, &job->len)) == NULL) {
		log_warn("proof of seq %" PRIu64 ": open_memstream", job->seq);
		snprintf(job->err, sizeof(job->err), "out of memory");
		job->rv = JAUDIT_ERROR;
	} else {
		if (job->by_leaf) {
			job->rv = jaudit_find_leaf(job->dir, job->leaf,
			    job->size, &job->seq, job->err, sizeof(job->err));
			job->not_found = job->rv == JAUDIT_FAIL &&
			    strncmp(job->err, "no record", 9) == 0;
		}
		if (job->rv == JAUDIT_OK)
			job->rv = jaudit_prove_note(job->dir, job->seq,
			    job->note, job->notelen, out, job->err,
			    sizeof(job->err));
		if (fclose(out) == EOF && job->rv == JAUDIT_OK) {
			log_warn("proof of seq %" PRIu64, job->seq);
			job->rv = JAUDIT_ERROR;
		}
	}
	/*
	 * Publish, then signal. After the signal the loop may free job (and
	 * the wake) at any moment: nothing below may touch them.
	 */
	__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
	if (wd_wake_signal(wake) == -1)
		fatal("proof: wake-up");
	return NULL;
}

/* ---- back on the loop ---------------------------------------------------- */

/* ?leaf-sha256= of a record not (yet) under the newest checkpoint. */
static void
proof_not_found(struct conn *c, const struct proof_job *job)
{
	char *body = NULL;

	if (asprintf(&body, "%s (checkpoint of %" PRIu64 " records): not in the "
	    "journal, or not signed yet; ask again after the next checkpoint\n",
	    job->err, job->size) == -1)
		body = NULL;
	conn_respond_type(c, 404, PROOF_TYPE, body, body ? strlen(body) : 0);
}

static void
proof_done(void *arg)
{
	static const char	 msg500[] = "the proof could not be built; the "
	    "operator's log says why\n";
	struct proof_job	*job = arg;
	struct conn		*c = job->c;
	char			*body;

	proof_running--;
	/* Only the worker's signal wakes the loop for this job. */
	if (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE))
		fatalx("proof of seq %" PRIu64 ": woken before the worker "
		    "finished", job->seq);
	if (conn_release_if_dead(c)) {
		proof_job_free(job);
		return;
	}
	if (job->not_found) {
		proof_not_found(c, job);
	} else if (job->rv == JAUDIT_OK) {
		log_info("conn %llu from %s: auditor %s fetched the proof of "
		    "seq %" PRIu64 " at size %" PRIu64, (unsigned long long)c->id,
		    c->peer, c->official->id, job->seq, job->size);
		conn_respond_type(c, 200, PROOF_TYPE, job->buf, job->len);
		job->buf = NULL;	/* the connection owns it now */
	} else {
		/* The journal disagrees with its own checkpoint, or I/O. */
		log_warnx("conn %llu from %s: proof of seq %" PRIu64 " at size %"
		    PRIu64 " failed: %s", (unsigned long long)c->id, c->peer,
		    job->seq, job->size, job->err);
		body = strdup(msg500);
		conn_respond_type(c, 500, PROOF_TYPE, body,
		    body != NULL ? strlen(body) : 0);
	}
	proof_job_free(job);
}

/*
 * Everything a worker needs, copied from the connection and the journal on
 * the loop thread; NULL after answering c.
 */
static struct proof_job *
proof_job_new(struct conn *c, uint64_t seq, char *note, uint64_t size)
{
	struct proof_job	*job;
	int			 n;

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		log_warn("proof");
		free(note);
		proof_answer(c, 503, "out of memory, try again later\n");
		return NULL;
	}
	job->c = c;
	job->seq = seq;
	job->note = note;
	job->notelen = strlen(note);
	job->size = size;
	n = snprintf(job->dir, sizeof(job->dir), "%s/journal",
	    c->gen->conf->state_dir);
	if (n < 0 || (size_t)n >= sizeof(job->dir)) {
		log_warnx("proof: state directory name too long");
		goto fail;
	}
	/* Registered before the worker exists, so its signal cannot be lost. */
	if ((job->wake = wd_wake_new(c->srv->base, proof_done, job, 1)) == NULL)
		goto fail;
	return job;
fail:
	proof_job_free(job);
	proof_answer(c, 500, "the proof could not be started\n");
	return NULL;
}

/* A detached worker with every signal blocked: they are the loop's. */
static int
proof_start(struct proof_job *job)
{
	pthread_attr_t	attr;
	pthread_t	tid;
	sigset_t	all, old;
	int		rv;

	if ((rv = pthread_attr_init(&attr)) != 0) {
		errno = rv;
		return -1;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rv = pthread_create(&tid, &attr, proof_worker, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rv != 0) {
		errno = rv;
		return -1;
	}
	return 0;
}

void
auditapi_proof(struct conn *c, char *body, size_t len)
{
	struct proof_job	*job;
	uint64_t		 seq = 0, size = 0, have;
	uint8_t			 leaf[32] = { 0 };
	bool			 by_leaf;
	char			*note;

	(void)len;
	free(body);
	c->close_after = c->close_after || !c->req.keep_alive;
	if (proof_parse_query(c->req.query, &seq, &by_leaf, leaf) == -1) {
		proof_answer(c, 400, "usage: GET /journal/proof?seq=N, N a "
		    "record's sequence number in decimal without leading zeros, "
		    "or ?leaf-sha256=HEX, the 64 lowercase hex digits of a "
		    "receipt\n");
		return;
	}
	have = journal_size(c->srv->journal);
	if (!by_leaf && seq >= have) {
		proof_answer(c, 404, "no record %" PRIu64 ": the journal holds "
		    "%" PRIu64 " records\n", seq, have);
		return;
	}
	if ((note = journal_checkpoint_note(c->srv->journal, &size)) == NULL) {
		proof_answer(c, 404, "no checkpoint has been signed yet\n");
		return;
	}
	if (!by_leaf && seq >= size) {
		free(note);
		proof_answer(c, 404, "record %" PRIu64 " is not signed yet: the "
		    "newest checkpoint covers %" PRIu64 " records; ask again "
		    "after the next one\n", seq, size);
		return;
	}
	if (proof_running >= PROOF_MAX_RUNNING) {
		free(note);
		log_info("conn %llu from %s: proof refused, %u already being "
		    "built", (unsigned long long)c->id, c->peer, proof_running);
		snprintf(c->receipt, sizeof(c->receipt), "Retry-After: 1\r\n");
		proof_answer(c, 503, "busy with other proofs, try again in a "
		    "moment\n");
		return;
	}
	if ((job = proof_job_new(c, seq, note, size)) == NULL)
		return;
	job->by_leaf = by_leaf;
	memcpy(job->leaf, leaf, sizeof(job->leaf));
	if (proof_start(job) == -1) {
		/* The wake stays registered: signal it so that proof_done()
		 * answers from the job's error. */
		log_warn("proof: pthread_create");
		snprintf(job->err, sizeof(job->err), "no worker thread");
		job->rv = JAUDIT_ERROR;
		__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
		if (wd_wake_signal(job->wake) == -1)
			fatal("proof: wake-up");
	}
	proof_running++;
}
