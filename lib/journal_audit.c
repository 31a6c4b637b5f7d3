/*
 * journal_audit — the auditor's reading of a journal directory and the
 * inclusion proofs built from it (see include/journal_audit.h). One copy of
 * this code serves warrant-audit and warrantd's GET /journal/proof, so a
 * proof fetched over the network is byte for byte what `warrant-audit
 * prove` prints on a copy of the same journal.
 *
 * Everything read here is untrusted: segments go through jseg_scan_file()
 * (bounded by the format's record limit), checkpoints through
 * checkpoint_read() (bounded by CHECKPOINT_NOTE_MAX).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "checkpoint.h"
#include "journal_audit.h"
#include "journal_segment.h"
#include "log.h"
#include "merkle.h"

/* ---- reading the journal ------------------------------------------------- */

static int
jaudit_record(const struct jseg_rec *r, void *arg)
{
	struct jaudit_journal	*aj = arg;
	void			*p;
	size_t			 cap;

	if (aj->n == aj->cap) {
		cap = aj->cap ? aj->cap * 2 : 1024;
		if ((p = reallocarray(aj->leaves, cap, sizeof(merkle_hash))) ==
		    NULL)
			goto fail;
		aj->leaves = p;
		if ((p = reallocarray(aj->loc, cap, sizeof(*aj->loc))) == NULL)
			goto fail;
		aj->loc = p;
		aj->cap = cap;
	}
	merkle_leaf_hash(r->bytes, r->len, aj->leaves[aj->n]);
	aj->loc[aj->n].seg = aj->cur_seg;
	aj->loc[aj->n].off = r->offset;
	if (aj->n == 0)
		aj->first_us = r->rec->time_us;
	aj->last_us = r->rec->time_us;
	aj->n++;
	if (aj->fn != NULL && aj->fn(r, aj->arg) != 0)
		goto fail;
	return 0;
fail:
	aj->failed = true;
	return -1;
}

int
jaudit_load(struct jaudit_journal *aj, const char *dir, uint64_t limit,
    jseg_rec_fn fn, void *arg)
{
	struct jseg_scan	s;
	size_t			i;

	memset(aj, 0, sizeof(*aj));
	aj->dir = dir;
	aj->dirfd = -1;
	aj->fn = fn;
	aj->arg = arg;
	if ((aj->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    jseg_list(aj->dirfd, &aj->segs, &aj->nsegs) == -1) {
		log_warn("%s", dir);
		return -1;
	}
	if (aj->nsegs == 0) {
		snprintf(aj->err, sizeof(aj->err), "no segment files");
		return 0;
	}
	/* Bounds are the format's, not a configuration's. */
	jseg_scan_init(&s, JSEG_RECORD_MAX_LIMIT);
	s.limit = limit;
	s.fn = jaudit_record;
	s.arg = aj;
	for (i = 0; i < aj->nsegs && s.next_seq < limit; i++) {
		aj->cur_seg = (uint32_t)i;
		if (jseg_scan_file(aj->dirfd, &aj->segs[i], i + 1 == aj->nsegs,
		    &s, NULL) == -1) {
			snprintf(aj->err, sizeof(aj->err), "%s", s.err);
			break;
		}
		if (aj->failed) {
			log_warnx("%s: out of memory or stopped", dir);
			return -1;
		}
		if (s.stopped)		/* the limit: the rest is not wanted */
			break;
		if (s.torn) {
			snprintf(aj->err, sizeof(aj->err), "%s: offset %" PRIu64
			    ", seq %" PRIu64 ": torn tail of %" PRIu64 " bytes "
			    "(an interrupted write that warrantd has not yet "
			    "cut)", aj->segs[i].name, s.torn_off, s.next_seq,
			    s.torn_len);
			break;
		}
	}
	return 0;
}

void
jaudit_free(struct jaudit_journal *aj)
{
	if (aj->dirfd != -1)
		close(aj->dirfd);
	free(aj->segs);
	free(aj->leaves);
	free(aj->loc);
	aj->dirfd = -1;
	aj->segs = NULL;
	aj->leaves = NULL;
	aj->loc = NULL;
}

void
jaudit_where(const struct jaudit_journal *aj, uint64_t seq, char *out,
    size_t len)
{
	if (seq < aj->n)
		snprintf(out, len, "%s offset %" PRIu64,
		    aj->segs[aj->loc[seq].seg].name, aj->loc[seq].off);
	else if (aj->nsegs > 0)
		snprintf(out, len, "end of %s", aj->segs[aj->nsegs - 1].name);
	else
		snprintf(out, len, "empty journal");
}

/* ---- checkpoints --------------------------------------------------------- */

int
jaudit_cp_read(int dirfd, const char *name, EVP_PKEY *pub,
    struct jaudit_cp *out, char *err, size_t errlen)
{
	char	*note, why[128];
	size_t	 len;
	int	 rv;

	snprintf(out->name, sizeof(out->name), "%s", name);
	if ((note = checkpoint_read(dirfd, name, &len)) == NULL) {
		snprintf(err, errlen, "checkpoint %s: %s", name,
		    strerror(errno));
		return -1;
	}
	rv = pub != NULL ?
	    checkpoint_verify(note, len, pub, &out->cp, why, sizeof(why)) :
	    checkpoint_parse(note, len, &out->cp, why, sizeof(why));
	free(note);
	if (rv == -1)
		snprintf(err, errlen, "checkpoint %s: %s", name, why);
	return rv;
}

int
jaudit_prefix_matches(const struct jaudit_journal *aj,
    const struct checkpoint *cp, const char *what, char *err, size_t errlen)
{
	merkle_hash	root;

	if (cp->size > aj->n) {
		snprintf(err, errlen, "%s signs %" PRIu64 " records, the "
		    "journal has %" PRIu64 ": records were removed", what,
		    cp->size, aj->n);
		return -1;
	}
	merkle_root(aj->leaves, cp->size, root);
	if (memcmp(root, cp->root, MERKLE_HASH_LEN) != 0) {
		snprintf(err, errlen, "the journal's first %" PRIu64 " records "
		    "do not match %s: they were altered", cp->size, what);
		return -1;
	}
	return 0;
}

/* ---- base64 -------------------------------------------------------------- */

void
jaudit_b64(const uint8_t *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

uint8_t *
jaudit_b64_dec(const char *in, size_t len, size_t *outlen)
{
	uint8_t	*out;
	int	 n;
	size_t	 pad = 0;

	/* EVP_DecodeBlock takes an int; a proof file is far smaller. */
	if (len == 0 || len % 4 != 0 || len > INT32_MAX ||
	    (out = malloc(len / 4 * 3)) == NULL)
		return NULL;
	if (in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n - pad;
	return out;
}

/* ---- inclusion proofs ---------------------------------------------------- */

/* A copy of the bytes of the record being proved, taken during the scan. */
struct jaudit_grab {
	uint64_t	 seq;
	uint8_t		*bytes;
	size_t		 len;
};

static int
jaudit_grab_one(const struct jseg_rec *jr, void *arg)
{
	struct jaudit_grab	*g = arg;

	if (jr->seq != g->seq || g->bytes != NULL)
		return 0;
	if ((g->bytes = malloc(jr->len)) == NULL)
		return -1;
	memcpy(g->bytes, jr->bytes, jr->len);
	g->len = jr->len;
	return 0;
}

static void
jaudit_not_covered(uint64_t seq, uint64_t size, char *err, size_t errlen)
{
	snprintf(err, errlen, "seq %" PRIu64 " is not covered by the checkpoint "
	    "(size %" PRIu64 "); newer records are signed by the next one",
	    seq, size);
}

/* The proof text, once the journal has been matched against cp. */
static int
jaudit_emit(const struct jaudit_journal *aj, const struct checkpoint *cp,
    const struct jaudit_grab *g, FILE *out, char *err, size_t errlen)
{
	merkle_hash	 proof[MERKLE_MAX_PROOF];
	char		*enc, h[JAUDIT_B64_LEN(MERKLE_HASH_LEN)];
	int		 n, i;

	if (g->seq >= cp->size || g->bytes == NULL ||
	    (n = merkle_inclusion_proof(aj->leaves, cp->size, g->seq,
	    proof)) < 0) {
		jaudit_not_covered(g->seq, cp->size, err, errlen);
		return JAUDIT_FAIL;
	}
	if ((enc = malloc(JAUDIT_B64_LEN(g->len))) == NULL) {
		log_warn("proof of seq %" PRIu64, g->seq);
		snprintf(err, errlen, "out of memory");
		return JAUDIT_ERROR;
	}
	jaudit_b64(g->bytes, g->len, enc);
	fprintf(out, "%s\norigin %s\ntree-size %" PRIu64 "\nseq %" PRIu64
	    "\nrecord %s\n", JAUDIT_PROOF_MAGIC, cp->origin, cp->size, g->seq,
	    enc);
	free(enc);
	for (i = 0; i < n; i++) {
		jaudit_b64(proof[i], MERKLE_HASH_LEN, h);
		fprintf(out, "path %s\n", h);
	}
	if (fflush(out) == EOF || ferror(out)) {
		log_warn("proof of seq %" PRIu64 ": write", g->seq);
		snprintf(err, errlen, "cannot write the proof");
		return JAUDIT_ERROR;
	}
	return JAUDIT_OK;
}

int
jaudit_prove(const char *dir, uint64_t seq, const char *cpfile, FILE *out,
    char *err, size_t errlen)
{
	struct jaudit_journal	 aj;
	struct jaudit_grab	 g = { seq, NULL, 0 };
	struct jaudit_cp	 cp;
	int			 rv = JAUDIT_FAIL;

	if (jaudit_load(&aj, dir, JAUDIT_NO_LIMIT, jaudit_grab_one, &g) == -1) {
		snprintf(err, errlen, "%s: cannot read the journal", dir);
		rv = JAUDIT_ERROR;
	} else if (aj.err[0] != '\0')
		snprintf(err, errlen, "%s: %s", dir, aj.err);
	else if (jaudit_cp_read(cpfile ? AT_FDCWD : aj.dirfd, cpfile ? cpfile :
	    CHECKPOINT_LATEST, NULL, &cp, err, errlen) == 0 &&
	    jaudit_prefix_matches(&aj, &cp.cp, "the checkpoint", err,
	    errlen) == 0)
		rv = jaudit_emit(&aj, &cp.cp, &g, out, err, errlen);
	free(g.bytes);
	jaudit_free(&aj);
	return rv;
}

int
jaudit_find_leaf(const char *dir, const uint8_t leaf[32], uint64_t limit,
    uint64_t *seq, char *err, size_t errlen)
{
	struct jaudit_journal	aj;
	int			rv = JAUDIT_FAIL;

	if (jaudit_load(&aj, dir, limit, NULL, NULL) == -1) {
		snprintf(err, errlen, "%s: cannot read the journal", dir);
		rv = JAUDIT_ERROR;
	} else if (aj.err[0] != '\0')
		snprintf(err, errlen, "%s: %s", dir, aj.err);
	else {
		snprintf(err, errlen, "no record with this leaf hash among the "
		    "%" PRIu64 " signed", aj.n);
		for (uint64_t i = 0; i < aj.n; i++)
			if (memcmp(aj.leaves[i], leaf, MERKLE_HASH_LEN) == 0) {
				*seq = i;
				rv = JAUDIT_OK;
				break;
			}
	}
	jaudit_free(&aj);
	return rv;
}

int
jaudit_prove_note(const char *dir, uint64_t seq, const char *note,
    size_t notelen, FILE *out, char *err, size_t errlen)
{
	struct jaudit_journal	 aj;
	struct jaudit_grab	 g = { seq, NULL, 0 };
	struct checkpoint	 cp;
	char			 why[128];
	int			 rv = JAUDIT_FAIL;

	if (checkpoint_parse(note, notelen, &cp, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "checkpoint: %s", why);
		return JAUDIT_FAIL;
	}
	/* Not worth a scan of the whole journal. */
	if (seq >= cp.size) {
		jaudit_not_covered(seq, cp.size, err, errlen);
		return JAUDIT_FAIL;
	}
	/*
	 * Only what the checkpoint signs: those records are durable and will
	 * not change, while the writer may be halfway through the next one.
	 */
	if (jaudit_load(&aj, dir, cp.size, jaudit_grab_one, &g) == -1) {
		snprintf(err, errlen, "%s: cannot read the journal", dir);
		rv = JAUDIT_ERROR;
	} else if (aj.err[0] != '\0')
		snprintf(err, errlen, "%s: %s", dir, aj.err);
	else if (jaudit_prefix_matches(&aj, &cp, "the checkpoint", err,
	    errlen) == 0)
		rv = jaudit_emit(&aj, &cp, &g, out, err, errlen);
	free(g.bytes);
	jaudit_free(&aj);
	return rv;
}
