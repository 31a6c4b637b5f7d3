/*
 * journal_open — recovery at open, the journal's other half (journal.c
 * owns the appends; journal_int.h is what they share): the state directory
 * opened and locked, every segment scanned and checked, the newest signed
 * checkpoint found and the records checked to extend it (no rollback, no
 * rewrite), a torn tail moved to DIR/torn and cut and then recorded in the
 * journal itself, a last segment of an older format continued in a new
 * one, and the writer thread started. Damage to acknowledged records
 * refuses to open and changes nothing. Then the replay: every durable
 * record visited in order, for the daemon to rebuild its state from.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "journal.h"
#include "journal_int.h"
#include "journal_segment.h"
#include "log.h"
#include "merkle.h"
#include "seal.h"
#include "wd_bytes.h"
#include "wd_wake.h"

#define JOURNAL_SEGMENT_MAX_DEFAULT	(64 * 1024 * 1024)

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
	journal_queue_init(&j->queue);
	journal_queue_init(&j->done);
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
