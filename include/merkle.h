/*
 * merkle — RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing
 * over the journal's records: the leaf hash is SHA-256(0x00 || record),
 * an interior node SHA-256(0x01 || left || right). The tree over the first
 * n records is what a checkpoint signs; inclusion and consistency proofs
 * let an auditor check one record, or that a later journal extends an
 * earlier one, without trusting the daemon.
 */
#ifndef WD_MERKLE_H
#define WD_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN		32
#define MERKLE_MAX_PROOF	64	/* hashes in a proof, for any 64-bit size */

typedef uint8_t merkle_hash[MERKLE_HASH_LEN];

/*
 * Incremental tree: the compact range of perfect subtree roots covering
 * leaves [0, size), largest first (one per set bit of size). Appending is
 * O(log n), the root at the current size is O(log n), no leaves are kept.
 */
struct merkle_tree {
	uint64_t	size;
	unsigned	n;			/* roots in use */
	merkle_hash	roots[64];
};

void	merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
void	merkle_node_hash(const merkle_hash l, const merkle_hash r,
	    merkle_hash out);

void	merkle_tree_init(struct merkle_tree *);
void	merkle_tree_append(struct merkle_tree *, const merkle_hash leaf);
/* Root of the tree at its current size (SHA-256("") when empty). */
void	merkle_tree_root(const struct merkle_tree *, merkle_hash out);

/* Root over leaves[0..n) straight from the RFC's recursive definition. */
void	merkle_root(const merkle_hash *leaves, uint64_t n, merkle_hash out);

/*
 * Proofs from the leaf hashes of a tree of size n (RFC 9162 §2.1.3.1,
 * §2.1.4.1). proof must hold MERKLE_MAX_PROOF hashes; returns the number
 * written, or -1 if the indexes are out of range.
 */
int	merkle_inclusion_proof(const merkle_hash *leaves, uint64_t n,
	    uint64_t index, merkle_hash *proof);
int	merkle_consistency_proof(const merkle_hash *leaves, uint64_t n,
	    uint64_t old_size, merkle_hash *proof);

/* Verification (RFC 9162 §2.1.3.2, §2.1.4.2): true if the proof holds. */
bool	merkle_verify_inclusion(const merkle_hash leaf, uint64_t index,
	    uint64_t size, const merkle_hash *proof, size_t plen,
	    const merkle_hash root);
bool	merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
	    const merkle_hash old_root, const merkle_hash new_root,
	    const merkle_hash *proof, size_t plen);

#endif
