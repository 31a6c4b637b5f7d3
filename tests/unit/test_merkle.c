/*
 * test_merkle — RFC 9162 tree hashes against the RFC 6962 8-leaf test
 * vectors and against an independent brute-force recursive definition;
 * every inclusion and consistency proof up to 64 leaves generated,
 * verified, and shown to fail when anything in it is changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "merkle.h"

static const struct {
	const char	*data;
	size_t		 len;
} vec_leaves[8] = {
	{ "", 0 },
	{ "\x00", 1 },
	{ "\x10", 1 },
	{ "\x20\x21", 2 },
	{ "\x30\x31", 2 },
	{ "\x40\x41\x42\x43", 4 },
	{ "\x50\x51\x52\x53\x54\x55\x56\x57", 8 },
	{ "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
	    16 },
};

/* Published roots of the first n of those leaves (RFC 6962 test data). */
static const char *vec_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* ---- an independent reference: the recursive definition, raw SHA256 ---- */

static void
ref_leaf(const void *d, size_t len, uint8_t out[32])
{
	uint8_t	*buf = malloc(len + 1);

	assert_non_null(buf);
	buf[0] = 0x00;
	memcpy(buf + 1, d, len);
	SHA256(buf, len + 1, out);
	free(buf);
}

static void
ref_mth(uint8_t (*d)[32], size_t n, uint8_t out[32])
{
	uint8_t	buf[65];
	size_t	k;

	if (n == 0) {
		SHA256((const uint8_t *)"", 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], 32);
		return;
	}
	for (k = 1; k * 2 < n; k *= 2)
		;
	buf[0] = 0x01;
	ref_mth(d, k, buf + 1);
	ref_mth(d + k, n - k, buf + 33);
	SHA256(buf, sizeof(buf), out);
}

static void
hex(const uint8_t *h, char out[65])
{
	int	i;

	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static merkle_hash *
random_leaves(size_t n)
{
	merkle_hash	*l = calloc(n ? n : 1, sizeof(*l));
	size_t		 i;
	uint32_t	 x = 12345;

	assert_non_null(l);
	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		ref_leaf(&x, sizeof(x), l[i]);
	}
	return l;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_rfc6962_vectors(void **state)
{
	struct merkle_tree	t;
	merkle_hash		leaves[8], root, ref;
	char			h[65];
	size_t			n;

	(void)state;
	merkle_tree_init(&t);
	for (n = 0; n <= 8; n++) {
		if (n > 0) {
			merkle_leaf_hash(vec_leaves[n - 1].data,
			    vec_leaves[n - 1].len, leaves[n - 1]);
			ref_leaf(vec_leaves[n - 1].data, vec_leaves[n - 1].len,
			    ref);
			assert_memory_equal(leaves[n - 1], ref, 32);
			merkle_tree_append(&t, leaves[n - 1]);
		}
		merkle_tree_root(&t, root);
		hex(root, h);
		assert_string_equal(h, vec_roots[n]);
		ref_mth(leaves, n, ref);
		assert_memory_equal(root, ref, 32);
		merkle_root(leaves, n, ref);
		assert_memory_equal(root, ref, 32);
	}
}

/* The incremental tree equals the recursive definition at every size. */
static void
test_bruteforce_sizes(void **state)
{
	struct merkle_tree	 t;
	merkle_hash		*l = random_leaves(1000), root, ref;
	size_t			 n;

	(void)state;
	merkle_tree_init(&t);
	for (n = 0; n <= 1000; n++) {
		if (n > 0)
			merkle_tree_append(&t, l[n - 1]);
		assert_int_equal(t.size, n);
		merkle_tree_root(&t, root);
		ref_mth(l, n, ref);
		assert_memory_equal(root, ref, 32);
		if (n % 97 == 0) {
			merkle_root(l, n, ref);
			assert_memory_equal(root, ref, 32);
		}
	}
	free(l);
}

static void
test_inclusion_all(void **state)
{
	merkle_hash	*l = random_leaves(64), root, proof[MERKLE_MAX_PROOF];
	merkle_hash	 bad;
	uint64_t	 n, i;
	int		 len, k;

	(void)state;
	for (n = 1; n <= 64; n++) {
		ref_mth(l, n, root);
		assert_int_equal(merkle_inclusion_proof(l, n, n, proof), -1);
		for (i = 0; i < n; i++) {
			len = merkle_inclusion_proof(l, n, i, proof);
			assert_true(len >= 0);
			assert_true(merkle_verify_inclusion(l[i], i, n, proof,
			    (size_t)len, root));
			/* Wrong leaf, index, size, root or hash: all fail. */
			assert_false(merkle_verify_inclusion(l[(i + 1) % 64],
			    i, n, proof, (size_t)len, root));
			if (n > 1)
				assert_false(merkle_verify_inclusion(l[i],
				    (i + 1) % n, n, proof, (size_t)len, root));
			/* (A wrong size may pass: the path's shape can be the
			 * same; the signed checkpoint binds size and root.) */
			assert_false(merkle_verify_inclusion(l[i], n, n,
			    proof, (size_t)len, root));
			if (n > 1)	/* a one-leaf tree's root is the leaf */
				assert_false(merkle_verify_inclusion(l[i], i,
				    n, proof, (size_t)len, l[i]));
			for (k = 0; k < len; k++) {
				memcpy(bad, proof[k], 32);
				proof[k][k % 32] ^= 1;
				assert_false(merkle_verify_inclusion(l[i], i,
				    n, proof, (size_t)len, root));
				memcpy(proof[k], bad, 32);
			}
			if (len > 0)
				assert_false(merkle_verify_inclusion(l[i], i,
				    n, proof, (size_t)len - 1, root));
		}
	}
	free(l);
}

static void
test_consistency_all(void **state)
{
	merkle_hash	*l = random_leaves(64), r1, r2, proof[MERKLE_MAX_PROOF];
	uint64_t	 m, n;
	int		 len, k;

	(void)state;
	for (n = 1; n <= 64; n++) {
		ref_mth(l, n, r2);
		assert_int_equal(merkle_consistency_proof(l, n, 0, proof), -1);
		assert_int_equal(merkle_consistency_proof(l, n, n + 1, proof),
		    -1);
		for (m = 1; m <= n; m++) {
			ref_mth(l, m, r1);
			len = merkle_consistency_proof(l, n, m, proof);
			assert_true(len >= 0);
			assert_int_equal(len == 0, m == n);
			assert_true(len <= MERKLE_MAX_PROOF);
			assert_true(merkle_verify_consistency(m, n, r1, r2,
			    proof, (size_t)len));
			assert_false(merkle_verify_consistency(m, n, r2, r1,
			    proof, (size_t)len) && m != n);
			if (m < n) {
				assert_false(merkle_verify_consistency(m, n,
				    r1, r1, proof, (size_t)len));
				assert_false(merkle_verify_consistency(m + 1,
				    n, r1, r2, proof, (size_t)len) &&
				    m + 1 != n);
			}
			for (k = 0; k < len; k++) {
				proof[k][0] ^= 0x80;
				assert_false(merkle_verify_consistency(m, n,
				    r1, r2, proof, (size_t)len));
				proof[k][0] ^= 0x80;
			}
		}
	}
	free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6962_vectors),
		cmocka_unit_test(test_bruteforce_sizes),
		cmocka_unit_test(test_inclusion_all),
		cmocka_unit_test(test_consistency_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
