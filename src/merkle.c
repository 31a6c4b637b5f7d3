/*
 * merkle — RFC 9162 Merkle tree hashes, the incremental compact-range tree
 * the journal keeps in memory (O(log n) hashes, whatever the journal's
 * size), and inclusion/consistency proofs with their verification.
 *
 * Proof generation works from an array of leaf hashes (the auditor's tool
 * and the journal rebuild it by reading the segments); verification needs
 * only the proof, sizes and roots, per the RFC's iterative algorithms.
 */
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "merkle.h"

/* SHA-256 over up to three pieces; OpenSSL failing here is not recoverable
 * (it means a broken library or no memory), so it is fatal. */
static void
merkle_sha256(const void *a, size_t alen, const void *b, size_t blen,
    const void *c, size_t clen, merkle_hash out)
{
	EVP_MD_CTX	*ctx;
	unsigned int	 olen = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    (clen > 0 && EVP_DigestUpdate(ctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &olen) != 1 ||
	    olen != MERKLE_HASH_LEN)
		fatalx("merkle: SHA-256 failed");
	EVP_MD_CTX_free(ctx);
}

void
merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
	static const uint8_t	zero = 0x00;

	merkle_sha256(&zero, 1, data, len, NULL, 0, out);
}

void
merkle_node_hash(const merkle_hash l, const merkle_hash r, merkle_hash out)
{
	static const uint8_t	one = 0x01;

	merkle_sha256(&one, 1, l, MERKLE_HASH_LEN, r, MERKLE_HASH_LEN, out);
}

void
merkle_tree_init(struct merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
}

void
merkle_tree_append(struct merkle_tree *t, const merkle_hash leaf)
{
	uint64_t	s;

	memcpy(t->roots[t->n++], leaf, MERKLE_HASH_LEN);
	/* Each trailing one bit of the old size is a perfect subtree of the
	 * same height as the one just completed: merge them. */
	for (s = t->size; s & 1; s >>= 1) {
		merkle_node_hash(t->roots[t->n - 2], t->roots[t->n - 1],
		    t->roots[t->n - 2]);
		t->n--;
	}
	t->size++;
}

void
merkle_tree_root(const struct merkle_tree *t, merkle_hash out)
{
	merkle_hash	h;
	unsigned	i;

	if (t->n == 0) {
		merkle_sha256("", 0, NULL, 0, NULL, 0, out);
		return;
	}
	memcpy(h, t->roots[t->n - 1], MERKLE_HASH_LEN);
	for (i = t->n - 1; i-- > 0; )
		merkle_node_hash(t->roots[i], h, h);
	memcpy(out, h, MERKLE_HASH_LEN);
}
