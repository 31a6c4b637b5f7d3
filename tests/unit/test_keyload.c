/*
 * test_keyload — the one loader of the journal signing key, used by start-up
 * (journal_open) and by `warrantd -t` (checkpoint_load_private): an Ed25519
 * PEM key loads; an RSA key, a public key, garbage, an empty or a missing
 * file do not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "checkpoint.h"

static char	 dir[] = "/tmp/wd-keyload-XXXXXX";

static const char *
path(const char *name)
{
	static char	 p[64];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void
write_key(const char *name, EVP_PKEY *k, int private)
{
	FILE	*f;

	assert_non_null(f = fopen(path(name), "w"));
	assert_int_equal(private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_PUBKEY(f, k), 1);
	fclose(f);
}

static int
setup(void **state)
{
	EVP_PKEY	*ed, *rsa;
	FILE		*f;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (ed == NULL || rsa == NULL)
		return -1;
	write_key("ed.pem", ed, 1);
	write_key("ed.pub", ed, 0);
	write_key("rsa.pem", rsa, 1);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
	if ((f = fopen(path("junk.pem"), "w")) == NULL)
		return -1;
	fputs("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
	    "-----END PRIVATE KEY-----\n", f);
	fclose(f);
	if ((f = fopen(path("empty.pem"), "w")) == NULL)
		return -1;
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	static const char *const names[] = { "ed.pem", "ed.pub", "rsa.pem",
	    "junk.pem", "empty.pem" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path(names[i]));
	return rmdir(dir);
}

static void
test_ed25519_loads(void **state)
{
	EVP_PKEY	*k;

	(void)state;
	assert_non_null(k = checkpoint_load_private(path("ed.pem")));
	assert_int_equal(EVP_PKEY_get_id(k), EVP_PKEY_ED25519);
	EVP_PKEY_free(k);
	/* The auditors' side reads the public half of the same file. */
	assert_non_null(k = checkpoint_load_public(path("ed.pem")));
	EVP_PKEY_free(k);
	assert_non_null(k = checkpoint_load_public(path("ed.pub")));
	EVP_PKEY_free(k);
}

static void
test_refusals(void **state)
{
	(void)state;
	assert_null(checkpoint_load_private(path("rsa.pem")));
	assert_null(checkpoint_load_private(path("ed.pub")));
	assert_null(checkpoint_load_private(path("junk.pem")));
	assert_null(checkpoint_load_private(path("empty.pem")));
	assert_null(checkpoint_load_private(path("missing.pem")));
	assert_null(checkpoint_load_public(path("rsa.pem")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ed25519_loads),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
