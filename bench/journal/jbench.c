/*
 * jbench — how many acknowledged appends per second the journal sustains,
 * and the physical floor it is measured against. Benchmark only (built by
 * bench/journal/run, never by make check).
 *
 *	jbench journal DIR WRITERS SECONDS
 *		WRITERS appends kept in flight on one event loop, as the
 *		daemon does with concurrent requests: each acknowledgement
 *		(the callback, i.e. written and fdatasync()ed) queues the
 *		next append. DIR must not hold a journal yet.
 *	jbench fsync DIR THREADS SECONDS
 *		the same record bytes written by THREADS threads with
 *		pwrite at the end of one file, each followed by its own
 *		fdatasync: one sync per record.
 *
 * Prints one line: mode, concurrency, records, seconds, records/s, and for
 * the journal the number of fdatasync calls (records per sync).
 * The record is a realistic EVENT_REQUEST_ACCEPTED (one authorisation,
 * one task, one identifier, digests), about 600 bytes packed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "journal.h"
#include "journal_test.h"
#include "log.h"

struct bench {
	struct journal		*j;
	struct event_base	*base;
	Warrant__Record		*rec;
	double			 t_end;
	uint64_t		 done;
	uint64_t		 inflight;
	int			 failed;
};

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A record like the daemon's for an accepted request; static storage. */
static Warrant__Record *
bench_record(void)
{
	static Warrant__Record		r = WARRANT__RECORD__INIT;
	static Warrant__Authorisation	a = WARRANT__AUTHORISATION__INIT;
	static Warrant__Task		t = WARRANT__TASK__INIT;
	static Warrant__Identifier	id = WARRANT__IDENTIFIER__INIT;
	static Warrant__Authorisation	*ap[1] = { &a };
	static Warrant__Task		*tp[1] = { &t };
	static Warrant__Identifier	*ip[1] = { &id };
	static uint8_t			 digest[32];

	memset(digest, 0xa5, sizeof(digest));
	a.object_id = "43e1f69e-0370-4920-b2a0-a2c325e164f1";
	a.reference = "CI-FED/CDMX/0004512/2026";
	a.court = "Juzgado Tercero de Distrito en Materia Penal, Ciudad de "
	    "Mexico";
	a.valid_from_us = 1793512800000000;
	a.valid_until_us = 1803880799000000;
	id.type = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN;
	id.value = "525512345678";
	t.action_id = 1;
	t.object_id = "a84c47a9-8ef7-4a84-b934-b99e119e395a";
	t.reference = "MX-FGR-000123";
	t.type = WARRANT__REQUEST_TYPE__REQUEST_SUBSCRIBER_IDENTITY;
	t.n_identifiers = 1;
	t.identifiers = ip;
	r.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
	r.carrier_ref = "MXC-20261120-00000042";
	r.transaction_id = "7b861390-7f12-458f-8533-739b129d0e4e";
	r.authority_id = "FGR";
	r.official_id = "5ee31aef1995a8a77d0f5a113dacbce2a59bc2832b29145f0851"
	    "baf8803cea47";
	r.official_subject = "/O=FGR/CN=ana.lopez";
	r.request_sha256.data = digest;
	r.request_sha256.len = sizeof(digest);
	r.peer = "10.20.30.40:51234";
	r.n_authorisations = 1;
	r.authorisations = ap;
	r.n_tasks = 1;
	r.tasks = tp;
	return &r;
}

static void	bench_done(int, const struct journal_receipt *, void *);

static int
bench_append(struct bench *b)
{
	if (journal_append(b->j, b->rec, bench_done, b) == -1) {
		log_warn("journal_append");
		b->failed = 1;
		return -1;
	}
	b->inflight++;
	return 0;
}

static void
bench_done(int status, const struct journal_receipt *rc, void *arg)
{
	struct bench	*b = arg;

	(void)rc;
	b->inflight--;
	if (status != 0) {
		log_warnx("append failed: %s", strerror(status));
		b->failed = 1;
		return;
	}
	b->done++;
	if (!b->failed && now_s() < b->t_end)
		bench_append(b);
	if (b->inflight == 0)
		event_base_loopbreak(b->base);
}

static int
bench_journal(const char *dir, int writers, double secs)
{
	struct journal_config	 cfg;
	struct bench		 b;
	double			 t0, t1;
	uint64_t		 syncs;
	int			 i;

	memset(&b, 0, sizeof(b));
	memset(&cfg, 0, sizeof(cfg));
	cfg.dir = dir;
	if ((b.base = event_base_new()) == NULL ||
	    journal_open(&cfg, b.base, &b.j) == -1)
		return 1;
	b.rec = bench_record();
	syncs = journal_stat_syncs(b.j);
	t0 = now_s();
	b.t_end = t0 + secs;
	for (i = 0; i < writers; i++)
		if (bench_append(&b) == -1)
			break;
	if (b.inflight > 0)
		event_base_dispatch(b.base);
	t1 = now_s();
	syncs = journal_stat_syncs(b.j) - syncs;
	journal_close(b.j);
	event_base_free(b.base);
	if (b.failed)
		return 1;
	printf("journal writers=%d records=%" PRIu64 " seconds=%.3f rate=%.0f "
	    "syncs=%" PRIu64 " records_per_sync=%.1f record_bytes=%zu\n",
	    writers, b.done, t1 - t0, (double)b.done / (t1 - t0), syncs,
	    syncs ? (double)b.done / (double)syncs : 0.0,
	    warrant__record__get_packed_size(b.rec) + 8);
	return 0;
}

/* ---- the floor: one fdatasync per record ---------------------------------- */

struct floor {
	int		 fd;
	const uint8_t	*buf;
	size_t		 len;
	double		 t_end;
	off_t		 off;		/* next free byte, atomically */
	uint64_t	 done;		/* atomically */
	int		 failed;
};

static void *
floor_thread(void *arg)
{
	struct floor	*f = arg;
	off_t		 off;

	while (now_s() < f->t_end) {
		off = __atomic_fetch_add(&f->off, (off_t)f->len,
		    __ATOMIC_SEQ_CST);
		if (pwrite(f->fd, f->buf, f->len, off) != (ssize_t)f->len ||
		    fdatasync(f->fd) == -1) {
			f->failed = errno;
			break;
		}
		__atomic_add_fetch(&f->done, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int
bench_fsync(const char *dir, int threads, double secs)
{
	struct floor	 f;
	pthread_t	*tid;
	char		 path[4096];
	uint8_t		*buf;
	double		 t0, t1;
	int		 i, n = 0;

	memset(&f, 0, sizeof(f));
	f.len = warrant__record__get_packed_size(bench_record()) + 8;
	if ((buf = malloc(f.len)) == NULL ||
	    (tid = calloc((size_t)threads, sizeof(*tid))) == NULL)
		return 1;
	memset(buf, 0x5a, f.len);
	f.buf = buf;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/floor.dat", dir);
	if ((f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		log_warn("%s", path);
		return 1;
	}
	t0 = now_s();
	f.t_end = t0 + secs;
	for (i = 0; i < threads; i++, n++)
		if (pthread_create(&tid[i], NULL, floor_thread, &f) != 0)
			break;
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	t1 = now_s();
	close(f.fd);
	free(tid);
	free(buf);
	if (f.failed || n != threads) {
		log_warnx("floor: %s", f.failed ? strerror(f.failed) :
		    "cannot start threads");
		return 1;
	}
	printf("fsync threads=%d records=%" PRIu64 " seconds=%.3f rate=%.0f "
	    "syncs=%" PRIu64 " records_per_sync=1.0 record_bytes=%zu\n",
	    threads, f.done, t1 - t0, (double)f.done / (t1 - t0), f.done,
	    f.len);
	return 0;
}

int
main(int argc, char *argv[])
{
	int	n;
	double	secs;

	log_init("jbench", 1, 0);
	if (argc != 5 || (n = atoi(argv[3])) < 1 || n > 4096 ||
	    (secs = atof(argv[4])) <= 0) {
		fprintf(stderr, "usage: jbench journal|fsync DIR N SECONDS\n");
		return 2;
	}
	if (strcmp(argv[1], "journal") == 0)
		return bench_journal(argv[2], n, secs);
	if (strcmp(argv[1], "fsync") == 0)
		return bench_fsync(argv[2], n, secs);
	fprintf(stderr, "usage: jbench journal|fsync DIR N SECONDS\n");
	return 2;
}
