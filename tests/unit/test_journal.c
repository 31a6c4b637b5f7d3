/*
 * test_journal — the journal's durability contract: receipts and seqs,
 * replay after reopen, torn tails cut (every cut length) and recorded,
 * damage refused, segment rollover, group commit, write failures turning
 * the journal unhealthy without losing anything acknowledged, and the
 * bounded queue.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "checkpoint.h"

#include "journal.h"
#include "journal_segment.h"
#include "journal_test.h"
#include "log.h"
#include "merkle.h"

#define MAXREC	2000

struct fixture {
	char			 dir[64];
	struct event_base	*base;
	struct journal		*j;
	struct journal_config	 cfg;
};

struct done {
	int		n;
	int		status[MAXREC];
	uint64_t	seq[MAXREC];
	uint8_t		leaf[MAXREC][32];
};

static struct done	done;

/* ---- helpers ---------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture	*f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->base = event_base_new();
	assert_non_null(f->base);
	f->cfg.dir = f->dir;
	memset(&done, 0, sizeof(done));
	journal_test_set_io(NULL, NULL);
	journal_test_set_probe_ms(0);
	*state = f;
	return 0;
}

static int	fail_gate;	/* see wait_gate() */

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	/* A failed assertion may have left the failing I/O hooks closed. */
	__atomic_store_n(&fail_gate, 1, __ATOMIC_SEQ_CST);
	journal_close(f->j);
	journal_test_set_io(NULL, NULL);
	event_base_free(f->base);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
on_done(int status, const struct journal_receipt *rc, void *arg)
{
	(void)arg;
	assert_non_null(rc);
	assert_true(done.n < MAXREC);
	done.status[done.n] = status;
	done.seq[done.n] = rc->seq;
	memcpy(done.leaf[done.n], rc->leaf_hash, 32);
	done.n++;
}

static void
run_until(struct fixture *f, int n)
{
	int	spins = 0;

	while (done.n < n) {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (done.n < n) {
			usleep(1000);
			assert_true(++spins < 20000);
		}
	}
}

static void
jopen(struct fixture *f)
{
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), 0);
	assert_non_null(f->j);
}

static void
jclose(struct fixture *f)
{
	journal_close(f->j);
	f->j = NULL;
}

static int
append_ref(struct fixture *f, int i)
{
	Warrant__Record	r = WARRANT__RECORD__INIT;
	char		ref[32];

	snprintf(ref, sizeof(ref), "CR-%06d", i);
	r.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
	r.carrier_ref = ref;
	r.seq = 999999;		/* the journal's to assign, not ours */
	return journal_append(f->j, &r, on_done, NULL);
}

static void
append_n(struct fixture *f, int first, int n)
{
	int	i, base = done.n;

	for (i = 0; i < n; i++)
		assert_int_equal(append_ref(f, first + i), 0);
	run_until(f, base + n);
}

struct seen {
	int		n;
	uint64_t	seq[MAXREC];
	int		event[MAXREC];
	char		ref[MAXREC][16];
	char		detail[512];
	uint8_t		leaf[MAXREC][32];
	int64_t		time[MAXREC];
};

static struct seen	seen;

static void
leaf_of(const Warrant__Record *r, uint8_t out[32])
{
	uint8_t		*buf;
	size_t		 len;
	EVP_MD_CTX	*ctx;
	unsigned	 olen;
	static const uint8_t zero = 0;

	len = warrant__record__get_packed_size(r);
	buf = malloc(len + 1);
	assert_non_null(buf);
	warrant__record__pack(r, buf);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	EVP_DigestUpdate(ctx, &zero, 1);
	EVP_DigestUpdate(ctx, buf, len);
	EVP_DigestFinal_ex(ctx, out, &olen);
	EVP_MD_CTX_free(ctx);
	free(buf);
}

static int
on_replay(const Warrant__Record *r, void *arg)
{
	(void)arg;
	assert_true(seen.n < MAXREC);
	seen.seq[seen.n] = r->seq;
	seen.event[seen.n] = r->event;
	seen.time[seen.n] = r->time_us;
	snprintf(seen.ref[seen.n], sizeof(seen.ref[0]), "%s", r->carrier_ref);
	if (r->event == WARRANT__EVENT_TYPE__EVENT_JOURNAL_TORN_TAIL)
		snprintf(seen.detail, sizeof(seen.detail), "%s", r->detail);
	assert_int_equal(r->version, JSEG_RECORD_VERSION);
	leaf_of(r, seen.leaf[seen.n]);
	seen.n++;
	return 0;
}

static void
replay(struct fixture *f)
{
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_replay(f->j, on_replay, NULL), 0);
}

static void
path_of(struct fixture *f, uint64_t first, char *out, size_t len)
{
	char	name[JSEG_NAME_LEN];

	jseg_name(name, first);
	snprintf(out, len, "%s/%s", f->dir, name);
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void
flip_byte(const char *path, off_t off)
{
	int	fd;
	uint8_t	b;

	fd = open(path, O_RDWR);
	assert_true(fd != -1);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static int
count_segments(struct fixture *f)
{
	struct jseg_file	*segs;
	size_t			 n;
	int			 fd;

	fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd != -1);
	assert_int_equal(jseg_list(fd, &segs, &n), 0);
	free(segs);
	close(fd);
	return (int)n;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_append_receipts(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	jopen(f);
	assert_true(journal_healthy(f->j));
	append_n(f, 0, 100);
	assert_int_equal(done.n, 100);
	for (i = 0; i < 100; i++) {
		assert_int_equal(done.status[i], 0);
		assert_int_equal(done.seq[i], i);
	}
	assert_int_equal(journal_size(f->j), 100);
	/* Receipts carry SHA-256(0x00 || record) of the bytes on disk. */
	replay(f);
	assert_int_equal(seen.n, 100);
	for (i = 0; i < 100; i++) {
		assert_int_equal(seen.seq[i], i);
		assert_memory_equal(seen.leaf[i], done.leaf[i], 32);
	}
}

static void
test_reopen_replay(void **state)
{
	struct fixture	*f = *state;
	char		 want[16];
	int		 i;

	jopen(f);
	append_n(f, 0, 50);
	jclose(f);
	jopen(f);
	assert_int_equal(journal_size(f->j), 50);
	replay(f);
	assert_int_equal(seen.n, 50);
	for (i = 0; i < 50; i++) {
		snprintf(want, sizeof(want), "CR-%06d", i);
		assert_string_equal(seen.ref[i], want);
		assert_int_equal(seen.seq[i], i);
		assert_int_equal(seen.event[i],
		    WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED);
		assert_memory_equal(seen.leaf[i], done.leaf[i], 32);
		if (i > 0)
			assert_true(seen.time[i] >= seen.time[i - 1]);
	}
	/* Appends continue the sequence. */
	append_n(f, 50, 5);
	assert_int_equal(done.seq[54], 54);
}

/* The last frame cut at every length, and with a bad CRC. */
static void
test_torn_tail_every_cut(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128], copy[160], cmd[400];
	off_t		 full, last_off, cut;

	jopen(f);
	append_n(f, 0, 2);
	jclose(f);
	path_of(f, 0, seg, sizeof(seg));
	last_off = file_size(seg);
	jopen(f);
	append_n(f, 2, 1);
	jclose(f);
	full = file_size(seg);
	snprintf(copy, sizeof(copy), "%s.orig", f->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", seg, copy);
	assert_int_equal(system(cmd), 0);

	for (cut = 1; cut <= full - last_off; cut++) {
		snprintf(cmd, sizeof(cmd), "cp %s %s", copy, seg);
		assert_int_equal(system(cmd), 0);
		if (cut == full - last_off)
			flip_byte(seg, full - 1);	/* bad CRC, whole */
		else
			assert_int_equal(truncate(seg, full - cut), 0);
		jopen(f);
		/* Two good records plus the torn-tail event. */
		assert_int_equal(journal_size(f->j), 3);
		replay(f);
		assert_int_equal(seen.n, 3);
		assert_string_equal(seen.ref[1], "CR-000001");
		assert_int_equal(seen.event[2],
		    WARRANT__EVENT_TYPE__EVENT_JOURNAL_TORN_TAIL);
		assert_non_null(strstr(seen.detail, "cut"));
		snprintf(cmd, sizeof(cmd), "offset %lld ", (long long)last_off);
		assert_non_null(strstr(seen.detail, cmd));
		jclose(f);
		/* Recorded once: a clean reopen adds nothing. */
		jopen(f);
		assert_int_equal(journal_size(f->j), 3);
		jclose(f);
	}
	unlink(copy);
}

/* A crash while a new segment was being created leaves a short header. */
static void
test_torn_segment_header(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128];
	int		 fd;

	jopen(f);
	append_n(f, 0, 3);
	jclose(f);
	path_of(f, 3, seg, sizeof(seg));
	fd = open(seg, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "WJRNL0", 6), 6);
	close(fd);
	jopen(f);
	assert_int_equal(journal_size(f->j), 4);
	replay(f);
	assert_int_equal(seen.event[3],
	    WARRANT__EVENT_TYPE__EVENT_JOURNAL_TORN_TAIL);
	assert_int_equal(count_segments(f), 1);
}

/* ---- power cuts (issue 14 section 9) ------------------------------------ */

static void	make_key(struct fixture *, char *, size_t);

static uint8_t *
read_all(const char *path, off_t from, size_t *len)
{
	off_t	 size = file_size(path);
	uint8_t	*buf;
	int	 fd;

	*len = (size_t)(size - from);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(pread(fd, buf, *len, from), (ssize_t)*len);
	close(fd);
	return buf;
}

static void
zero_range(const char *path, off_t from, off_t to)
{
	static const uint8_t	zeros[8192];
	int			fd;

	assert_true(to - from <= (off_t)sizeof(zeros));
	fd = open(path, O_WRONLY);
	assert_true(fd != -1);
	assert_int_equal(pwrite(fd, zeros, (size_t)(to - from), from),
	    (ssize_t)(to - from));
	close(fd);
}

/*
 * 50 records synced (the journal closed), then 800 more: what a power cut
 * can leave beyond *synced is in their pages. Returns the segment's path.
 */
static void
two_batches(struct fixture *f, char *seg, size_t len, off_t *synced,
    off_t *full)
{
	jopen(f);
	append_n(f, 0, 50);
	jclose(f);
	path_of(f, 0, seg, len);
	*synced = file_size(seg);
	jopen(f);
	append_n(f, 50, 800);
	jclose(f);
	*full = file_size(seg);
	/* Tests below need the unsynced part to span a few pages. */
	assert_true(*full > (*synced / 4096 + 3) * 4096);
	assert_true(*synced % 4096 != 0);
}

/*
 * What is cut is in torn/, byte for byte, and the segment keeps what came
 * before it; the records are dense and end with the torn-tail record.
 */
static void
check_moved_aside(struct fixture *f, const char *seg, const uint8_t *before,
    off_t cut, size_t cutlen)
{
	char	 aside[256];
	uint8_t	*got;
	size_t	 n;

	snprintf(aside, sizeof(aside), "%s/torn/%s.at-%lld", f->dir,
	    strrchr(seg, '/') + 1, (long long)cut);
	got = read_all(aside, 0, &n);
	assert_int_equal(n, cutlen);
	assert_memory_equal(got, before, cutlen);
	free(got);
	replay(f);
	for (int i = 0; i < seen.n - 1; i++) {
		char want[16];

		snprintf(want, sizeof(want), "CR-%06d", i);
		assert_string_equal(seen.ref[i], want);
	}
	assert_int_equal(seen.event[seen.n - 1],
	    WARRANT__EVENT_TYPE__EVENT_JOURNAL_TORN_TAIL);
	snprintf(aside, sizeof(aside), "at offset %lld ", (long long)cut);
	assert_non_null(strstr(seen.detail, aside));
	assert_non_null(strstr(seen.detail, "not written back"));
	assert_non_null(strstr(seen.detail, "moved to torn/"));
}

/*
 * The case: out-of-order write-back left the rest of the first
 * unsynced page as zeros, later pages written. Before the fix the journal
 * refused to open ("bad frame length 0") and the daemon stayed down.
 */
static void
test_powercut_zero_page_before_data(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128];
	off_t		 synced, full, page_end;
	uint8_t		*before;
	size_t		 n;

	two_batches(f, seg, sizeof(seg), &synced, &full);
	page_end = (synced / 4096 + 1) * 4096;
	zero_range(seg, synced, page_end);
	before = read_all(seg, synced, &n);
	jopen(f);
	/* The 50 synced records stay, then the torn-tail record. */
	assert_int_equal(journal_size(f->j), 51);
	check_moved_aside(f, seg, before, synced, n);
	assert_int_equal(seen.n, 51);
	jclose(f);
	free(before);
	/* Recorded once; the next open finds nothing to cut. */
	jopen(f);
	assert_int_equal(journal_size(f->j), 51);
}

/* A whole page further on never written back: the frames before it stay. */
static void
test_powercut_zero_page_inside(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128], *p;
	off_t		 synced, full, page, cut;
	uint8_t		*damaged;
	size_t		 n;

	two_batches(f, seg, sizeof(seg), &synced, &full);
	page = (synced / 4096 + 2) * 4096;
	zero_range(seg, page, page + 4096);
	damaged = read_all(seg, 0, &n);
	jopen(f);
	assert_true(journal_size(f->j) > 51);
	replay(f);
	p = strstr(seen.detail, "at offset ");
	assert_non_null(p);
	cut = strtoll(p + 10, NULL, 10);
	/* Cut at the frame the zero page lies in, past the synced part. */
	assert_true(cut > synced && cut <= page);
	assert_non_null(strstr(seen.detail, "zero page at offset"));
	check_moved_aside(f, seg, damaged + cut, cut, n - (size_t)cut);
	free(damaged);
}

/*
 * A zero page inside what a signed checkpoint covers is damage to
 * acknowledged records: refused, and nothing on disk changes.
 */
static void
test_powercut_inside_checkpoint(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128], key[160], torn[160];
	off_t		 page;
	uint8_t		*before, *after;
	size_t		 n, m;
	struct stat	 st;

	make_key(f, key, sizeof(key));
	f->cfg.signing_key = key;
	f->cfg.checkpoint_records = 10;
	jopen(f);
	append_n(f, 0, 300);
	jclose(f);		/* the last checkpoint covers all 300 */
	path_of(f, 0, seg, sizeof(seg));
	page = 4096;
	zero_range(seg, page, page + 4096);
	before = read_all(seg, 0, &n);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	after = read_all(seg, 0, &m);
	assert_int_equal(n, m);
	assert_memory_equal(before, after, n);
	snprintf(torn, sizeof(torn), "%s/torn", f->dir);
	assert_int_equal(stat(torn, &st), -1);
	free(before);
	free(after);
	unlink(key);
}

/* Flipped bits are not a page left unwritten: refused, file untouched. */
static void
test_powercut_flip_refused(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128];
	off_t		 synced, full;
	uint8_t		*before, *after;
	size_t		 n, m;

	two_batches(f, seg, sizeof(seg), &synced, &full);
	flip_byte(seg, synced + JSEG_FRAME_HDR + 3);
	before = read_all(seg, 0, &n);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	after = read_all(seg, 0, &m);
	assert_int_equal(n, m);
	assert_memory_equal(before, after, n);
	free(before);
	free(after);
}

static void
test_corrupt_middle(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128];

	jopen(f);
	append_n(f, 0, 3);
	jclose(f);
	path_of(f, 0, seg, sizeof(seg));
	/* A byte inside the first frame's record. */
	flip_byte(seg, JSEG_HDR_LEN + JSEG_FRAME_HDR + 2);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	assert_null(f->j);
	/* Repair it: the journal opens again, untouched. */
	flip_byte(seg, JSEG_HDR_LEN + JSEG_FRAME_HDR + 2);
	jopen(f);
	assert_int_equal(journal_size(f->j), 3);
}

static void
test_bad_header(void **state)
{
	struct fixture	*f = *state;
	char		 seg[128];

	jopen(f);
	append_n(f, 0, 2);
	jclose(f);
	path_of(f, 0, seg, sizeof(seg));
	flip_byte(seg, 3);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
}

/* Write a segment by hand: records with the given seqs. */
static void
forge_segment(struct fixture *f, uint64_t first, const uint64_t *seqs,
    int n, bool garbage_first)
{
	char		 seg[128];
	uint8_t		 hdr[JSEG_HDR_LEN], fh[JSEG_FRAME_HDR], buf[256];
	Warrant__Record	 r = WARRANT__RECORD__INIT;
	size_t		 len;
	int		 fd, i;

	path_of(f, first, seg, sizeof(seg));
	fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	jseg_header(hdr, first);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	if (garbage_first) {
		/* A frame with a good CRC over bytes that are no record. */
		memset(buf, 0xff, 16);
		jseg_frame_header(fh, buf, 16);
		assert_int_equal(write(fd, fh, sizeof(fh)), sizeof(fh));
		assert_int_equal(write(fd, buf, 16), 16);
	}
	for (i = 0; i < n; i++) {
		r.version = JSEG_RECORD_VERSION;
		r.seq = seqs[i];
		r.time_us = 1000 + i;
		len = warrant__record__pack(&r, buf);
		jseg_frame_header(fh, buf, len);
		assert_int_equal(write(fd, fh, sizeof(fh)), sizeof(fh));
		assert_int_equal(write(fd, buf, len), (ssize_t)len);
	}
	close(fd);
}

static void
test_seq_gap(void **state)
{
	struct fixture		*f = *state;
	static const uint64_t	 dense[] = { 0, 1, 2 }, gap[] = { 0, 2, 3 };

	forge_segment(f, 0, dense, 3, false);
	jopen(f);
	assert_int_equal(journal_size(f->j), 3);
	jclose(f);
	forge_segment(f, 0, gap, 3, false);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	/* A segment that starts past the end of the previous one. */
	forge_segment(f, 0, dense, 3, false);
	forge_segment(f, 4, gap + 2, 1, false);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
}

static void
test_unparseable_record(void **state)
{
	struct fixture		*f = *state;
	static const uint64_t	 seqs[] = { 0, 1 };

	forge_segment(f, 0, seqs, 2, true);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
}

static void
test_rollover(void **state)
{
	struct fixture	*f = *state;
	struct jseg_file *segs;
	size_t		 n, i;
	int		 fd, k;

	f->cfg.segment_max = 512;
	jopen(f);
	append_n(f, 0, 100);
	for (k = 0; k < 100; k++)
		assert_int_equal(done.status[k], 0);
	jclose(f);
	assert_true(count_segments(f) > 5);
	/* Every segment is within the bound and named after its first seq. */
	fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_int_equal(jseg_list(fd, &segs, &n), 0);
	close(fd);
	jopen(f);
	replay(f);
	assert_int_equal(seen.n, 100);
	for (i = 0; i < n; i++) {
		char p[160];

		snprintf(p, sizeof(p), "%s/%s", f->dir, segs[i].name);
		assert_true(file_size(p) <= 512);
		if (i > 0)
			assert_true(segs[i].first_seq > segs[i - 1].first_seq);
	}
	assert_int_equal(segs[0].first_seq, 0);
	free(segs);
	for (k = 0; k < 100; k++)
		assert_int_equal(seen.seq[k], k);
	append_n(f, 100, 20);
	jclose(f);
	jopen(f);
	assert_int_equal(journal_size(f->j), 120);
}

static void
test_group_commit(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 before, syncs;
	int		 i;

	jopen(f);
	before = journal_stat_syncs(f->j);
	for (i = 0; i < 1000; i++)
		assert_int_equal(append_ref(f, i), 0);
	run_until(f, 1000);
	syncs = journal_stat_syncs(f->j) - before;
	assert_true(syncs >= 1);
	assert_true(syncs < 100);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(done.status[i], 0);
		assert_int_equal(done.seq[i], i);
	}
}

static int	fail_errno;
/*
 * Closed while the test queues its appends, so that the writer thread
 * cannot fail the first one before the others are queued (they would then
 * be refused at once, without a callback: a race, not the behaviour tested).
 */
static int	fail_gate = 1;

static void
wait_gate(void)
{
	while (!__atomic_load_n(&fail_gate, __ATOMIC_SEQ_CST))
		usleep(100);
}

static ssize_t
failing_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	(void)fd;
	(void)iov;
	(void)n;
	(void)off;
	wait_gate();
	errno = fail_errno;
	return -1;
}

/* Write half, then fail: the partial frame must not survive. */
static ssize_t
short_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	static int	calls;

	(void)n;
	wait_gate();
	if (calls++ % 2 == 0)
		return pwrite(fd, iov[0].iov_base, iov[0].iov_len / 2, off);
	errno = fail_errno;
	return -1;
}

static int
failing_fdatasync(int fd)
{
	(void)fd;
	wait_gate();
	errno = fail_errno;
	return -1;
}

static void
wait_healthy(struct fixture *f)
{
	int	i;

	for (i = 0; i < 2000 && !journal_healthy(f->j); i++)
		usleep(1000);
	assert_true(journal_healthy(f->j));
}

static void
check_failure(struct fixture *f, journal_pwritev_fn w, journal_fdatasync_fn s,
    int err)
{
	char	want[64];
	int	i;

	journal_test_set_probe_ms(20);
	jopen(f);
	append_n(f, 0, 10);
	fail_errno = err;
	__atomic_store_n(&fail_gate, 0, __ATOMIC_SEQ_CST);
	journal_test_set_io(w, s);
	for (i = 0; i < 5; i++)
		assert_int_equal(append_ref(f, 1000 + i), 0);
	__atomic_store_n(&fail_gate, 1, __ATOMIC_SEQ_CST);
	run_until(f, 15);
	for (i = 10; i < 15; i++)
		assert_int_equal(done.status[i], err);
	assert_false(journal_healthy(f->j));
	snprintf(want, sizeof(want), "journal write failed: %s", strerror(err));
	assert_string_equal(journal_status(f->j), want);
	/* Later appends fail at once, without a callback. */
	errno = 0;
	assert_int_equal(append_ref(f, 2000), -1);
	assert_int_equal(errno, err);
	assert_int_equal(done.n, 15);
	assert_int_equal(journal_size(f->j), 10);
	/* While the disk still fails the probe keeps it unhealthy. */
	usleep(100 * 1000);
	assert_false(journal_healthy(f->j));
	journal_test_set_io(NULL, NULL);
	wait_healthy(f);
	append_n(f, 10, 5);
	for (i = 15; i < 20; i++) {
		assert_int_equal(done.status[i], 0);
		assert_int_equal(done.seq[i], i - 5);	/* seq not advanced */
	}
	jclose(f);
	jopen(f);
	replay(f);
	assert_int_equal(seen.n, 15);
	for (i = 0; i < 15; i++) {
		snprintf(want, sizeof(want), "CR-%06d", i);
		assert_string_equal(seen.ref[i], want);
		assert_int_equal(seen.seq[i], i);
	}
}

static void
test_write_enospc(void **state)
{
	check_failure(*state, failing_pwritev, NULL, ENOSPC);
}

static void
test_sync_eio(void **state)
{
	check_failure(*state, NULL, failing_fdatasync, EIO);
}

static void
test_short_write(void **state)
{
	check_failure(*state, short_pwritev, NULL, EIO);
}

/* A write held up long enough fills the queue: appends get EAGAIN. */
static pthread_mutex_t	gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	gate_cv = PTHREAD_COND_INITIALIZER;
static int		gate_open, gate_entered;

static ssize_t
gated_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	pthread_mutex_lock(&gate_mu);
	gate_entered = 1;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	return pwritev(fd, iov, n, off);
}

static int	bounded_done;

static void
count_done(int status, const struct journal_receipt *rc, void *arg)
{
	(void)rc;
	(void)arg;
	assert_int_equal(status, 0);
	bounded_done++;
}

static void
test_bounded_queue(void **state)
{
	struct fixture	*f = *state;
	Warrant__Record	 r = WARRANT__RECORD__INIT;
	int		 i, queued = 0, spins = 0;

	jopen(f);
	gate_open = gate_entered = 0;
	journal_test_set_io(gated_pwritev, NULL);
	r.event = WARRANT__EVENT_TYPE__EVENT_BACKEND_CALL;
	assert_int_equal(journal_append(f->j, &r, count_done, NULL), 0);
	pthread_mutex_lock(&gate_mu);
	while (!gate_entered)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	queued = 1;
	for (i = 0; i < 100500; i++) {
		if (journal_append(f->j, &r, count_done, NULL) == -1) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		queued++;
	}
	assert_int_equal(queued, 100000);
	assert_true(journal_healthy(f->j));	/* full is not broken */
	pthread_mutex_lock(&gate_mu);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	while (bounded_done < queued) {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
		assert_true(++spins < 60000);
	}
	assert_int_equal(journal_size(f->j), 100000);
	assert_int_equal(journal_append(f->j, &r, count_done, NULL), 0);
	jclose(f);
}

/* A second opener of the same directory is refused. */
static void
test_locked(void **state)
{
	struct fixture	*f = *state;
	struct journal	*j2 = NULL;

	jopen(f);
	assert_int_equal(journal_open(&f->cfg, f->base, &j2), -1);
	assert_null(j2);
}


/* ---- checkpoints -------------------------------------------------------- */

/* A fresh Ed25519 key in PEM next to (not inside) the journal. */
static void
make_key(struct fixture *f, char *path, size_t len)
{
	EVP_PKEY	*k;
	FILE		*fp;

	snprintf(path, len, "%s.key", f->dir);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(fp);
	EVP_PKEY_free(k);
}

static char *
read_note(struct fixture *f, const char *name, size_t *len)
{
	int	 fd;
	char	*note;

	fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd != -1);
	note = checkpoint_read(fd, name, len);
	close(fd);
	return note;
}

static void
test_checkpoint_signed(void **state)
{
	struct fixture		*f = *state;
	struct checkpoint	 cp;
	char			 key[160], err[128], *note, *sig, name[64];
	uint8_t			 pub[32], md[32], blob[68], buf[80];
	size_t			 len, plen = sizeof(pub);
	EVP_PKEY		*k;
	merkle_hash		 root;
	int			 n;

	make_key(f, key, sizeof(key));
	f->cfg.signing_key = key;
	f->cfg.origin = "carrier.example/warrantd";
	f->cfg.checkpoint_records = 10;
	jopen(f);
	append_n(f, 0, 25);
	jclose(f);
	note = read_note(f, "checkpoint.latest", &len);
	assert_non_null(note);
	k = checkpoint_load_public(key);
	assert_non_null(k);
	assert_int_equal(checkpoint_verify(note, len, k, &cp, err,
	    sizeof(err)), 0);
	assert_string_equal(cp.origin, "carrier.example/warrantd");
	assert_int_equal(cp.size, 25);
	merkle_root((const merkle_hash *)done.leaf, 25, root);
	assert_memory_equal(cp.root, root, 32);
	/* The body, then the em-dash line with key id || signature. */
	assert_true(strncmp(note, "carrier.example/warrantd\n25\n", 28) == 0);
	sig = strstr(note, "\n\n\xe2\x80\x94 carrier.example/warrantd ");
	assert_non_null(sig);
	sig += strlen("\n\n\xe2\x80\x94 carrier.example/warrantd ");
	n = EVP_DecodeBlock(buf, (uint8_t *)sig, (int)strcspn(sig, "\n"));
	assert_int_equal(n, 69);		/* 68 bytes + one pad */
	memcpy(blob, buf, 68);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &plen), 1);
	memcpy(buf, "carrier.example/warrantd\n\x01", 26);
	memcpy(buf + 26, pub, 32);
	SHA256(buf, 58, md);
	assert_memory_equal(blob, md, 4);
	/* Any change to the body breaks the signature. */
	note[26] = '6';
	assert_int_equal(checkpoint_verify(note, len, k, &cp, err,
	    sizeof(err)), -1);
	free(note);
	/* The numbered copy exists too; an older one for size 10 or more. */
	snprintf(name, sizeof(name), "checkpoint-%016x", 25);
	note = read_note(f, name, &len);
	assert_non_null(note);
	free(note);
	EVP_PKEY_free(k);
	/* Reopen: it checks out; nothing new, so no new checkpoint. */
	jopen(f);
	assert_int_equal(journal_size(f->j), 25);
	jclose(f);
	unlink(key);
}

static void
test_checkpoint_interval(void **state)
{
	struct fixture		*f = *state;
	struct checkpoint	 cp;
	char			 key[160], err[128], *note = NULL;
	size_t			 len;
	int			 i;

	make_key(f, key, sizeof(key));
	f->cfg.signing_key = key;
	f->cfg.checkpoint_interval_s = 1;
	jopen(f);
	append_n(f, 0, 3);
	for (i = 0; i < 300 && note == NULL; i++) {
		usleep(10000);
		note = read_note(f, "checkpoint.latest", &len);
	}
	assert_non_null(note);
	assert_int_equal(checkpoint_parse(note, len, &cp, err, sizeof(err)), 0);
	assert_int_equal(cp.size, 3);
	assert_string_equal(cp.origin, "warrantd");
	free(note);
	unlink(key);
}

static void
copy_file(const char *from, const char *to)
{
	char	cmd[400];

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	assert_int_equal(system(cmd), 0);
}

/* The journal put back to an earlier state is refused. */
static void
test_rollback_refused(void **state)
{
	struct fixture	*f = *state;
	char		 key[160], seg[128], copy[160];

	make_key(f, key, sizeof(key));
	f->cfg.signing_key = key;
	jopen(f);
	append_n(f, 0, 20);
	jclose(f);
	path_of(f, 0, seg, sizeof(seg));
	snprintf(copy, sizeof(copy), "%s.seg", f->dir);
	copy_file(seg, copy);
	jopen(f);
	append_n(f, 20, 5);
	jclose(f);
	copy_file(copy, seg);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	/* Even without checkpoint.latest, the numbered one remains. */
	{
		char latest[160];

		snprintf(latest, sizeof(latest), "%s/checkpoint.latest", f->dir);
		assert_int_equal(unlink(latest), 0);
	}
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	unlink(copy);
	unlink(key);
}

/* A self-consistent journal of the same length, but other records. */
static void
test_rewrite_refused(void **state)
{
	struct fixture		*f = *state;
	static const uint64_t	 seqs[] = { 0, 1, 2, 3, 4 };
	char			 key[160];

	make_key(f, key, sizeof(key));
	f->cfg.signing_key = key;
	jopen(f);
	append_n(f, 0, 5);
	jclose(f);
	forge_segment(f, 0, seqs, 5, false);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	/* A forged checkpoint (another key) is refused as well. */
	unlink(key);
	make_key(f, key, sizeof(key));
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	unlink(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_receipts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_every_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_segment_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_powercut_zero_page_before_data,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_powercut_zero_page_inside,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_powercut_inside_checkpoint,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_powercut_flip_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unparseable_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_refused, setup, teardown),
	};

	log_init("test_journal", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
