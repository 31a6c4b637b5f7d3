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

/* Largest power of two strictly below n (n >= 2). */
static uint64_t
merkle_split(uint64_t n)
{
	uint64_t	k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

void
merkle_root(const merkle_hash *leaves, uint64_t n, merkle_hash out)
{
	merkle_hash	l, r;
	uint64_t	k;

	if (n == 0) {
		merkle_sha256("", 0, NULL, 0, NULL, 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaves[0], MERKLE_HASH_LEN);
		return;
	}
	k = merkle_split(n);
	merkle_root(leaves, k, l);
	merkle_root(leaves + k, n - k, r);
	merkle_node_hash(l, r, out);
}

/* PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf side first. */
static int
merkle_path(const merkle_hash *d, uint64_t n, uint64_t m, merkle_hash *proof)
{
	uint64_t	k;
	int		len;

	if (n <= 1)
		return 0;
	k = merkle_split(n);
	if (m < k) {
		len = merkle_path(d, k, m, proof);
		merkle_root(d + k, n - k, proof[len]);
	} else {
		len = merkle_path(d + k, n - k, m - k, proof);
		merkle_root(d, k, proof[len]);
	}
	return len + 1;
}

int
merkle_inclusion_proof(const merkle_hash *leaves, uint64_t n, uint64_t index,
    merkle_hash *proof)
{
	if (index >= n)
		return -1;
	return merkle_path(leaves, n, index, proof);
}

/* SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1. */
static int
merkle_subproof(const merkle_hash *d, uint64_t n, uint64_t m, bool b,
    merkle_hash *proof)
{
	uint64_t	k;
	int		len;

	if (m == n) {
		if (b)
			return 0;
		merkle_root(d, n, proof[0]);
		return 1;
	}
	k = merkle_split(n);
	if (m <= k) {
		len = merkle_subproof(d, k, m, b, proof);
		merkle_root(d + k, n - k, proof[len]);
	} else {
		len = merkle_subproof(d + k, n - k, m - k, false, proof);
		merkle_root(d, k, proof[len]);
	}
	return len + 1;
}

int
merkle_consistency_proof(const merkle_hash *leaves, uint64_t n,
    uint64_t old_size, merkle_hash *proof)
{
	if (old_size == 0 || old_size > n)
		return -1;
	return merkle_subproof(leaves, n, old_size, true, proof);
}

bool
merkle_verify_inclusion(const merkle_hash leaf, uint64_t index, uint64_t size,
    const merkle_hash *proof, size_t plen, const merkle_hash root)
{
	merkle_hash	r;
	uint64_t	fn = index, sn;
	size_t		i;

	if (index >= size)
		return false;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (i = 0; i < plen; i++) {
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, MERKLE_HASH_LEN) == 0;
}

bool
merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
    const merkle_hash old_root, const merkle_hash new_root,
    const merkle_hash *proof, size_t plen)
{
	merkle_hash	 fr, sr;
	const merkle_hash *c = proof;
	uint64_t	 fn, sn;
	size_t		 i, n = plen;

	if (old_size == 0 || old_size > new_size)
		return false;
	if (old_size == new_size)
		return plen == 0 &&
		    memcmp(old_root, new_root, MERKLE_HASH_LEN) == 0;
	if (plen == 0)
		return false;
	/* An old tree that is a perfect subtree is its own first node. */
	if ((old_size & (old_size - 1)) == 0) {
		memcpy(fr, old_root, MERKLE_HASH_LEN);
		i = 0;
	} else {
		memcpy(fr, c[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	fn = old_size - 1;
	sn = new_size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(c[i], fr, fr);
			merkle_node_hash(c[i], sr, sr);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(sr, c[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, old_root, MERKLE_HASH_LEN) == 0 &&
	    memcmp(sr, new_root, MERKLE_HASH_LEN) == 0;
}
