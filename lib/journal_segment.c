/*
 * journal_segment — reads and checks the journal's segment files (format in
 * include/journal_segment.h). Everything here treats the disk as untrusted:
 * lengths are bounded before use, every frame's CRC is checked before its
 * record is unpacked, and errors name the file, offset and seq so that an
 * operator or auditor can find the damage.
 *
 * The only damage tolerated is a torn tail, and only in the last segment:
 * what a crash during an append can leave behind (a partial frame, a frame
 * whose bytes did not all reach the disk, or zero fill). Anything else is
 * reported as an error for the caller to refuse.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal_segment.h"
#include "seal.h"
#include "wd_bytes.h"

void
jseg_header(uint8_t out[JSEG_HDR_LEN], uint64_t first_seq)
{
	memcpy(out, JSEG_MAGIC, 8);
	wd_put_be32(out + 8, JSEG_VERSION);
	wd_put_be32(out + 12, (uint32_t)(first_seq >> 32));
	wd_put_be32(out + 16, (uint32_t)first_seq);
	wd_put_be32(out + 20, crc32c(0, out, 20));
}

void
jseg_frame_header(uint8_t out[JSEG_FRAME_HDR], const uint8_t *rec, size_t len)
{
	wd_put_be32(out, (uint32_t)len);
	wd_put_be32(out + 4, crc32c(0, rec, len));
}

void
jseg_name(char out[JSEG_NAME_LEN], uint64_t first_seq)
{
	snprintf(out, JSEG_NAME_LEN, "seg-%016" PRIx64 ".wj", first_seq);
}

void
jseg_scan_init(struct jseg_scan *s, uint32_t record_max)
{
	memset(s, 0, sizeof(*s));
	s->record_max = record_max ? record_max : JSEG_RECORD_MAX_DEFAULT;
	if (s->record_max > JSEG_RECORD_MAX_LIMIT)
		s->record_max = JSEG_RECORD_MAX_LIMIT;
	s->last_time_us = INT64_MIN;
	s->limit = UINT64_MAX;
}

/* seg-<16 lowercase hex>.wj, nothing else: other files are not ours. */
static int
jseg_parse_name(const char *name, uint64_t *seq)
{
	const char	*p;
	uint64_t	 v = 0;
	int		 i;

	if (strlen(name) != 23 || strncmp(name, "seg-", 4) != 0 ||
	    strcmp(name + 20, ".wj") != 0)
		return -1;
	for (i = 0, p = name + 4; i < 16; i++, p++) {
		if (*p >= '0' && *p <= '9')
			v = v << 4 | (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v << 4 | (uint64_t)(*p - 'a' + 10);
		else
			return -1;
	}
	*seq = v;
	return 0;
}

static int
jseg_cmp(const void *a, const void *b)
{
	const struct jseg_file *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int
jseg_list(int dirfd, struct jseg_file **out, size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	struct jseg_file *v = NULL, *nv;
	size_t		 cnt = 0, cap = 0;
	uint64_t	 seq;
	int		 fd;

	if ((fd = dup(dirfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (jseg_parse_name(de->d_name, &seq) == -1)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		v[cnt].first_seq = seq;
		memcpy(v[cnt].name, de->d_name, 24);
		cnt++;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), jseg_cmp);
	*out = v;
	*n = cnt;
	return 0;
fail:
	free(v);
	closedir(d);
	return -1;
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	while (len-- > 0)
		if (*p++ != 0)
			return false;
	return true;
}

/*
 * Write-back out of order (XFS, ext4 with delayed allocation) can leave,
 * after a power cut, pages of the unsynced tail as zeros while later pages
 * hold data. Synced bytes are never zeroed, and a batch always ends on a
 * frame boundary, so a page that never reached the disk shows as zeros
 * from the first unsynced frame's start to the end of its page, or as a
 * whole zero page further on, overlapping the first bad frame. Flipped
 * bits or rewritten bytes do not look like that: they stay errors.
 */
#define JSEG_PAGE	4096
#define JSEG_ZERO_RUN	32

static bool
jseg_unwritten(const uint8_t *buf, size_t len, uint64_t off, uint64_t end,
    struct jseg_scan *s)
{
	uint64_t	pg = (off / JSEG_PAGE + 1) * JSEG_PAGE, e;

	if (end > len)
		end = len;
	e = pg < len ? pg : len;
	if (e - off >= 4 && all_zero(buf + off, e - off)) {
		snprintf(s->torn_why, sizeof(s->torn_why), "zeros from offset "
		    "%" PRIu64 " to %" PRIu64 " with data after: a page not "
		    "written back", off, e);
		return true;
	}
	/*
	 * A page written back early, then appended to in the cache: on disk
	 * it ends in zeros from where it was then. A run of 32 zero bytes up
	 * to the page's end is not what a record holds.
	 */
	if (e - off > JSEG_ZERO_RUN && e < len && e - JSEG_ZERO_RUN < end &&
	    all_zero(buf + e - JSEG_ZERO_RUN, JSEG_ZERO_RUN)) {
		snprintf(s->torn_why, sizeof(s->torn_why), "zeros before "
		    "offset %" PRIu64 " inside the frame at %" PRIu64 ", data "
		    "after: a page written back before its last append", e, off);
		return true;
	}
	for (; pg < end; pg += JSEG_PAGE) {
		e = pg + JSEG_PAGE < len ? pg + JSEG_PAGE : len;
		if (all_zero(buf + pg, e - pg)) {
			snprintf(s->torn_why, sizeof(s->torn_why), "zero page "
			    "at offset %" PRIu64 " inside the frame at %" PRIu64
			    ": a page not written back", pg, off);
			return true;
		}
	}
	return false;
}

static int
jseg_header_check(const char *name, const uint8_t *buf, struct jseg_scan *s)
{
	char		 want[JSEG_NAME_LEN];
	uint64_t	 first;
	uint32_t	 v;

	if (memcmp(buf, JSEG_MAGIC, 8) != 0 ||
	    wd_get_be32(buf + 20) != crc32c(0, buf, 20)) {
		snprintf(s->err, sizeof(s->err), "%s: offset 0: bad segment "
		    "header (magic or CRC)", name);
		return -1;
	}
	v = wd_get_be32(buf + 8);
	if (v < JSEG_VERSION_MIN || v > JSEG_VERSION) {
		snprintf(s->err, sizeof(s->err), "%s: offset 0: unknown "
		    "format version %u", name, v);
		return -1;
	}
	/* Going back to clear records would be a downgrade, never ours. */
	if (v < s->seg_version) {
		snprintf(s->err, sizeof(s->err), "%s: offset 0: format version "
		    "%u after a segment of version %u", name, v, s->seg_version);
		return -1;
	}
	s->seg_version = v;
	first = wd_get_be64(buf + 12);
	jseg_name(want, first);
	if (first != s->next_seq || strcmp(want, name) != 0) {
		snprintf(s->err, sizeof(s->err), "%s: offset 0: segment starts "
		    "at seq %" PRIu64 ", expected seq %" PRIu64 " (%s)", name,
		    first, s->next_seq, first > s->next_seq ? "records missing" :
		    "records repeated or misnamed");
		return -1;
	}
	return 0;
}

/* A sealed envelope and tokens are well-formed (not that they open). */
static const char *
jseg_sealed_check(const Warrant__Record *r, uint32_t seg_version)
{
	size_t	i;

	if (seg_version < 2)
		return r->sealed.len != 0 || r->n_blind != 0 ?
		    "sealed fields in a format 1 segment" : NULL;
	if (r->sealed.len != 0 && (r->sealed.len < SEAL_ENV_MIN ||
	    r->sealed.data[0] != SEAL_ENV_VERSION))
		return "malformed sealed envelope";
	if (r->n_blind > SEAL_TOKENS_MAX ||
	    (r->n_blind != 0 && r->sealed.len == 0))
		return "blind index tokens without a sealed envelope";
	for (i = 0; i < r->n_blind; i++)
		if (r->blind[i].len != SEAL_TOKEN_LEN)
			return "malformed blind index token";
	return NULL;
}

/* Checks on the unpacked record; the frame itself is already sound. */
static int
jseg_record_check(const char *name, uint64_t off, const Warrant__Record *r,
    struct jseg_scan *s)
{
	const char	*why = NULL;

	/* Format 1 segments hold version 1 records, format 2 version 2. */
	if (r->version != s->seg_version)
		why = "unknown record version";
	else if (r->seq != s->next_seq)
		why = r->seq > s->next_seq ? "seq gap" : "seq repeated";
	else if (r->time_us < s->last_time_us)
		why = "time goes backwards";
	else
		why = jseg_sealed_check(r, s->seg_version);
	if (why == NULL)
		return 0;
	snprintf(s->err, sizeof(s->err), "%s: offset %" PRIu64 ", seq %"
	    PRIu64 ": %s (record has version %u, seq %" PRIu64 ", time %"
	    PRId64 ")", name, off, s->next_seq, why, r->version, r->seq,
	    r->time_us);
	return -1;
}

static int
jseg_frame(const char *name, const uint8_t *buf, size_t len, uint64_t off,
    bool is_last, struct jseg_scan *s)
{
	size_t		 rem = len - off;
	uint32_t	 flen, fcrc;
	Warrant__Record	*r;
	struct jseg_rec	 jr;
	int		 rv;
	const char	*why;

	if (rem < JSEG_FRAME_HDR) {
		why = "incomplete frame header";
		goto torn;
	}
	flen = wd_get_be32(buf + off);
	fcrc = wd_get_be32(buf + off + 4);
	if (flen == 0 || flen > s->record_max) {
		if (is_last && all_zero(buf + off, rem)) {
			snprintf(s->torn_why, sizeof(s->torn_why), "zero fill "
			    "to the end of the file");
			goto torn_quiet;
		}
		if (is_last && jseg_unwritten(buf, len, off, off +
		    JSEG_FRAME_HDR, s))
			goto torn_quiet;
		snprintf(s->err, sizeof(s->err), "%s: offset %" PRIu64 ", seq %"
		    PRIu64 ": bad frame length %u (max %u)", name, off,
		    s->next_seq, flen, s->record_max);
		return -1;
	}
	if (flen > rem - JSEG_FRAME_HDR) {
		why = "incomplete frame";
		goto torn;
	}
	if (crc32c(0, buf + off + JSEG_FRAME_HDR, flen) != fcrc) {
		why = "CRC mismatch of the last frame";
		if (off + JSEG_FRAME_HDR + flen == len)
			goto torn;
		why = "CRC mismatch";
		if (is_last && jseg_unwritten(buf, len, off, off +
		    JSEG_FRAME_HDR + flen, s))
			goto torn_quiet;
		goto bad;
	}
	r = warrant__record__unpack(NULL, flen, buf + off + JSEG_FRAME_HDR);
	if (r == NULL) {
		why = "record does not unpack";
		goto bad;
	}
	if (jseg_record_check(name, off, r, s) == -1) {
		warrant__record__free_unpacked(r, NULL);
		return -1;
	}
	s->next_seq++;
	s->last_time_us = r->time_us;
	rv = 0;
	if (s->fn != NULL) {
		jr.segment = name;
		jr.offset = off;
		jr.seq = r->seq;
		jr.bytes = buf + off + JSEG_FRAME_HDR;
		jr.len = flen;
		jr.rec = r;
		rv = s->fn(&jr, s->arg);
	}
	warrant__record__free_unpacked(r, NULL);
	if (rv != 0)
		s->stopped = true;
	return JSEG_FRAME_HDR + flen;
torn:
	if (!is_last)
		goto bad;
	snprintf(s->torn_why, sizeof(s->torn_why), "%s", why);
torn_quiet:
	s->torn = true;
	s->torn_off = off;
	s->torn_len = rem;
	return 0;
bad:
	snprintf(s->err, sizeof(s->err), "%s: offset %" PRIu64 ", seq %" PRIu64
	    ": %s", name, off, s->next_seq, why);
	return -1;
}

int
jseg_parse(const char *name, const uint8_t *buf, size_t len, bool is_last,
    struct jseg_scan *s)
{
	uint64_t	off;
	int		n;

	s->torn = false;
	s->end_off = 0;
	if (len < JSEG_HDR_LEN) {
		/* A crash while the segment was being created. */
		if (is_last) {
			s->torn = true;
			s->torn_off = 0;
			s->torn_len = len;
			snprintf(s->torn_why, sizeof(s->torn_why), "incomplete "
			    "segment header");
			return 0;
		}
		snprintf(s->err, sizeof(s->err), "%s: offset 0: short segment "
		    "header (%zu bytes)", name, len);
		return -1;
	}
	if (jseg_header_check(name, buf, s) == -1)
		return -1;
	off = s->end_off = JSEG_HDR_LEN;
	while (off < len) {
		if (s->next_seq >= s->limit) {
			s->stopped = true;
			return 0;
		}
		if ((n = jseg_frame(name, buf, len, off, is_last, s)) == -1)
			return -1;
		if (n == 0)
			return 0;		/* torn tail */
		off += (uint64_t)n;
		s->end_off = off;
		if (s->stopped)
			return 0;
	}
	return 0;
}

int
jseg_scan_file(int dirfd, const struct jseg_file *f, bool is_last,
    struct jseg_scan *s, uint64_t *size)
{
	struct stat	 st;
	void		*m = NULL;
	int		 fd, rv;

	if ((fd = openat(dirfd, f->name, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(s->err, sizeof(s->err), "%s: %s", f->name,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size > 0 && (m = mmap(NULL, (size_t)st.st_size, PROT_READ,
	    MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		snprintf(s->err, sizeof(s->err), "%s: mmap: %s", f->name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	rv = jseg_parse(f->name, m, (size_t)st.st_size, is_last, s);
	if (m != NULL)
		munmap(m, (size_t)st.st_size);
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	return rv;
}
