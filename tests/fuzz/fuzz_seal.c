/*
 * fuzz_seal — libFuzzer target for opening sealed journal records
 * (lib/seal.c): the envelope, the wrapped keys, the sealed plaintext and
 * its shape against the clear record, and the blind index match — what
 * warrantd runs on its own records at every replay and warrant-audit on
 * an auditor's copy. Input: a packed Warrant__Record. The keys are fixed
 * (the audit key below, a constant data key), so the seeds in
 * tests/fuzz/corpus-seal, sealed with them by tests/unit/jgen, open and
 * the fuzzer reaches past authentication; anything it changes must fail
 * cleanly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Throwaway test key; the corpus is sealed for its public half. */
static const char audit_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VuBCIEIGAP0czvlnmNZlwc70lEAcbWRfRs7+ORGSTullb4/91q\n"
    "-----END PRIVATE KEY-----\n";
static const uint8_t data_key[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static struct seal	*auditor, *daemon_seal;

static void
init(void)
{
	char	path[] = "/tmp/fuzz_seal.XXXXXX";
	int	fd;

	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, audit_pem, sizeof(audit_pem) - 1) !=
	    (ssize_t)(sizeof(audit_pem) - 1))
		abort();
	close(fd);
	if ((auditor = seal_new()) == NULL ||
	    seal_set_audit_private(auditor, path) == -1 ||
	    (daemon_seal = seal_new()) == NULL ||
	    seal_set_data_key(daemon_seal, data_key) == -1)
		abort();
	unlink(path);
}

static void
open_with(const struct seal *s, const uint8_t *data, size_t size)
{
	Warrant__Record	*r;
	char		 err[200];
	size_t		 n = 0;

	if ((r = warrant__record__unpack(NULL, size, data)) == NULL)
		return;
	if (seal_open(s, r, err, sizeof(err)) == 0)
		/* Touch what a reader of the opened record reads. */
		for (size_t i = 0; i < r->n_tasks; i++)
			for (size_t k = 0; k < r->tasks[i]->n_identifiers; k++)
				n += strlen(r->tasks[i]->identifiers[k]->value);
	else if (err[0] == '\0')
		__builtin_trap();	/* a failure always says why */
	(void)seal_index_match(s, r, 1, "525512345678");
	warrant__record__free_unpacked(r, NULL);
	(void)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (auditor == NULL)
		init();
	open_with(auditor, data, size);
	open_with(daemon_seal, data, size);
	return 0;
}
