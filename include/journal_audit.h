/*
 * journal_audit — reading a journal directory the way an auditor does:
 * every segment with the daemon's own checks (journal_segment.c), the
 * RFC 9162 leaf hash of every record, checkpoints checked against them, and
 * inclusion proofs in warrant-audit's text format.
 *
 * Shared by warrant-audit (offline, on a copy of the journal) and warrantd's
 * GET /journal/proof (live, on a worker thread), so that an auditor gets the
 * same proof, built by the same code, whichever way he asks. No global
 * state: every call owns what it allocates, so calls may run concurrently.
 *
 * Outcomes follow warrant-audit's exit status: JAUDIT_OK, JAUDIT_FAIL (the
 * journal or checkpoint does not verify, or the record is not covered; err
 * says what and where, nothing is logged), JAUDIT_ERROR (I/O error or out
 * of memory; logged once here, err says so briefly).
 */
#ifndef WD_JOURNAL_AUDIT_H
#define WD_JOURNAL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "checkpoint.h"
#include "journal_segment.h"
#include "merkle.h"

#define JAUDIT_OK		0
#define JAUDIT_FAIL		1
#define JAUDIT_ERROR		2

#define JAUDIT_PROOF_MAGIC	"warrant-audit inclusion proof v1"
#define JAUDIT_NO_LIMIT		UINT64_MAX

/* Where each record lives, to name it in messages. */
struct jaudit_loc {
	uint32_t	seg;
	uint64_t	off;
};

struct jaudit_journal {
	const char		*dir;
	int			 dirfd;
	struct jseg_file	*segs;
	size_t			 nsegs;
	uint64_t		 n;		/* records read */
	size_t			 cap;
	merkle_hash		*leaves;	/* n leaf hashes */
	struct jaudit_loc	*loc;
	int64_t			 first_us, last_us;
	uint32_t		 cur_seg;
	bool			 failed;	/* allocation or visitor failed */
	/* an optional visitor, for show and report */
	jseg_rec_fn		 fn;
	void			*arg;
	char			 err[600];	/* set if the journal is bad */
};

/*
 * Read the segments of dir, the first limit records at most (JAUDIT_NO_LIMIT
 * for all; a live journal is read up to what a checkpoint signs, so that an
 * append in progress is not taken for a torn tail). fn, if not NULL, sees
 * every record. Returns -1 on I/O errors or if fn fails (logged); damage is
 * not an error here: aj->err says what and where, and the records before it
 * are kept. Call jaudit_free() in every case.
 */
int	jaudit_load(struct jaudit_journal *aj, const char *dir, uint64_t limit,
	    jseg_rec_fn fn, void *arg);
void	jaudit_free(struct jaudit_journal *aj);
/* "seg-….wj offset N" for record seq, or the end of the journal. */
void	jaudit_where(const struct jaudit_journal *aj, uint64_t seq, char *out,
	    size_t len);

/* A checkpoint and the file it came from. */
struct jaudit_cp {
	char			 name[256];
	struct checkpoint	 cp;
};

/*
 * Read the note name (relative to dirfd, or AT_FDCWD) and parse it, and
 * verify its signature if pub is not NULL. -1 with err naming it if bad.
 */
int	jaudit_cp_read(int dirfd, const char *name, EVP_PKEY *pub,
	    struct jaudit_cp *out, char *err, size_t errlen);
/*
 * The root of the journal's first cp->size records must be cp's root.
 * -1 with err ("what signs N records, the journal has M..." or "...they
 * were altered") otherwise.
 */
int	jaudit_prefix_matches(const struct jaudit_journal *aj,
	    const struct checkpoint *cp, const char *what, char *err,
	    size_t errlen);

/* Base64: out holds 4 * ((len + 2) / 3) + 1 bytes. */
void	 jaudit_b64(const uint8_t *in, size_t len, char *out);
#define JAUDIT_B64_LEN(n)	(4 * (((n) + 2) / 3) + 1)
/* Decode base64 (padded, any length) into a fresh buffer; NULL if bad. */
uint8_t	*jaudit_b64_dec(const char *in, size_t len, size_t *outlen);

/*
 * Write the inclusion proof of record seq to out: against the checkpoint
 * file cpfile, or the journal's checkpoint.latest if cpfile is NULL. The
 * whole journal must be sound. Nothing is written unless JAUDIT_OK.
 */
int	jaudit_prove(const char *dir, uint64_t seq, const char *cpfile,
	    FILE *out, char *err, size_t errlen);
/*
 * The same against a checkpoint given as note text (the newest the daemon
 * signed; its signature is not checked here, the auditor does that), for a
 * journal being appended to: only the records the checkpoint signs are read.
 */
/*
 * The seq of the record whose leaf hash is leaf, among the first limit:
 * authorities hold receipts with the leaf hash only (issue 14 section 5:
 * the journal's sequence is not theirs to see). JAUDIT_FAIL if none.
 */
int	jaudit_find_leaf(const char *dir, const uint8_t leaf[32], uint64_t limit,
	    uint64_t *seq, char *err, size_t errlen);
int	jaudit_prove_note(const char *dir, uint64_t seq, const char *note,
	    size_t notelen, FILE *out, char *err, size_t errlen);

#endif
