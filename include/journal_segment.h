/*
 * journal_segment — the journal's on-disk format, shared by the daemon's
 * journal (src/warrantd/journal.c) and the auditor's tool (src/warrant-audit/warrant-audit.c), so that
 * both read the bytes with exactly the same checks.
 *
 * A segment file seg-<16 hex digits of its first seq>.wj holds
 *	header:	"WJRNL001" | u32be format version | u64be first seq |
 *		u32be CRC32C of the preceding 20 bytes
 *	frames:	u32be length | u32be CRC32C of the record | packed
 *		Warrant__Record (length bytes)
 *
 * Format 1 holds records of version 1 (everything in clear). Format 2
 * holds records of version 2, which may carry a sealed envelope and blind
 * index tokens (include/seal.h). Both are read; only format 2 is written,
 * and a journal never goes back from 2 to 1.
 */
#ifndef WD_JOURNAL_SEGMENT_H
#define WD_JOURNAL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.pb-c.h"

#define JSEG_MAGIC		"WJRNL001"
#define JSEG_VERSION		2	/* written */
#define JSEG_VERSION_MIN	1	/* still read */
#define JSEG_HDR_LEN		24
#define JSEG_FRAME_HDR		8
#define JSEG_RECORD_VERSION	2	/* of records in format 2 segments */
#define JSEG_RECORD_MAX_DEFAULT	(64 * 1024)
#define JSEG_RECORD_MAX_LIMIT	(16 * 1024 * 1024) /* whatever the config says */
#define JSEG_NAME_LEN		32	/* "seg-" 16 hex ".wj" NUL, rounded */

struct jseg_file {
	uint64_t	first_seq;
	char		name[JSEG_NAME_LEN];
};

/* One record as met during a scan. */
struct jseg_rec {
	const char		*segment;	/* file name */
	uint64_t		 offset;	/* of the frame in the file */
	uint64_t		 seq;
	const uint8_t		*bytes;		/* the packed record */
	size_t			 len;
	const Warrant__Record	*rec;
};

typedef int (*jseg_rec_fn)(const struct jseg_rec *, void *);

/* State carried from segment to segment during a scan. */
struct jseg_scan {
	uint32_t	 record_max;
	uint64_t	 next_seq;	/* in: expected; out: after the last */
	int64_t		 last_time_us;
	uint32_t	 seg_version;	/* in/out: of the last segment header read */
	uint64_t	 limit;		/* stop before this seq (UINT64_MAX) */
	jseg_rec_fn	 fn;		/* optional; nonzero return stops */
	void		*arg;
	/* out */
	bool		 torn;		/* torn tail found (last segment only) */
	uint64_t	 torn_off;	/* where the good data ends */
	uint64_t	 torn_len;	/* bytes after it */
	char		 torn_why[128];	/* what made it a torn tail */
	uint64_t	 end_off;	/* end of the good data */
	bool		 stopped;	/* fn or limit ended the scan */
	char		 err[512];	/* why -1 was returned */
};

void	jseg_header(uint8_t out[JSEG_HDR_LEN], uint64_t first_seq);
void	jseg_frame_header(uint8_t out[JSEG_FRAME_HDR], const uint8_t *rec,
	    size_t len);
void	jseg_name(char out[JSEG_NAME_LEN], uint64_t first_seq);
/* Segment files in dirfd, sorted by first seq. *out is malloc'ed. */
int	jseg_list(int dirfd, struct jseg_file **out, size_t *n);
/*
 * Check one segment image: header, frames, CRCs, records, dense seq and
 * non-decreasing time. If is_last, what a crash or a power cut can leave
 * after the last synced frame is reported as a torn tail rather than an
 * error: an incomplete frame, a bad CRC on a frame ending at EOF, zero
 * fill to EOF, or a bad frame that overlaps a page never written back
 * (zeros from the frame's start to the end of its 4 KiB page, or a whole
 * zero page inside the frame), whatever follows it.
 * Returns 0 (ok or torn), -1 with s->err set.
 */
int	jseg_parse(const char *name, const uint8_t *buf, size_t len,
	    bool is_last, struct jseg_scan *s);
/* jseg_parse on a file in dirfd, mapped read-only. */
int	jseg_scan_file(int dirfd, const struct jseg_file *f, bool is_last,
	    struct jseg_scan *s, uint64_t *size);
void	jseg_scan_init(struct jseg_scan *s, uint32_t record_max);

#endif
