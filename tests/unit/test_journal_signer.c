/*
 * test_journal_signer — the journal's signing callback (include/journal.h
 * struct journal_signer) and the signer's wire (src/warrantd/signer_impl.h):
 * checkpoints signed through the callback verify with the public key the
 * journal was given, and are checked with it at the next open (another
 * key's: refused); a broken signer stops checkpoints, not appends, and
 * journal_status / journal_signing say so; a request is exactly its 41
 * bytes; an answer passes only if it signs exactly the checkpoint asked for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "checkpoint.h"
#include "journal.h"
#include "signer_impl.h"

struct fixture {
	char			 dir[64];
	struct event_base	*base;
	struct journal		*j;
	struct journal_config	 cfg;
	struct journal_signer	 js;
	EVP_PKEY		*key;		/* the signer's */
	EVP_PKEY		*pub;		/* what the journal is given */
	int			 signs;
	const char		*broken;
};

static int	ndone;

static EVP_PKEY *
public_of(EVP_PKEY *key)
{
	uint8_t	raw[32];
	size_t	len = sizeof(raw);

	assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &len), 1);
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
}

static char *
fx_sign(const struct checkpoint *cp, void *arg)
{
	struct fixture *f = arg;

	if (f->broken != NULL)
		return NULL;
	f->signs++;
	return checkpoint_sign(cp, f->key);
}

static const char *
fx_broken(void *arg)
{
	return ((struct fixture *)arg)->broken;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_journal_signer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_non_null(f->pub = public_of(f->key));
	f->js.sign = fx_sign;
	f->js.broken = fx_broken;
	f->js.arg = f;
	f->js.pub = f->pub;
	f->cfg.dir = f->dir;
	f->cfg.origin = "test.example/warrantd";
	f->cfg.checkpoint_records = 4;
	f->cfg.signer = &f->js;
	ndone = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	journal_close(f->j);
	event_base_free(f->base);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->pub);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
on_done(int status, const struct journal_receipt *rc, void *arg)
{
	(void)rc, (void)arg;
	assert_int_equal(status, 0);
	ndone++;
}

static void
append_n(struct fixture *f, int n)
{
	Warrant__Record	r = WARRANT__RECORD__INIT;
	int		i, want = ndone + n, spins = 0;

	r.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
	r.carrier_ref = "CR-1";
	for (i = 0; i < n; i++)
		assert_int_equal(journal_append(f->j, &r, on_done, NULL), 0);
	while (ndone < want) {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
		assert_true(++spins < 20000);
	}
}

/* The newest checkpoint on disk, verified with pub; its size. */
static uint64_t
latest(struct fixture *f, EVP_PKEY *pub)
{
	struct checkpoint	 cp;
	char			*note, err[128];
	size_t			 len;
	int			 dfd;

	assert_true((dfd = open(f->dir, O_RDONLY | O_DIRECTORY)) != -1);
	note = checkpoint_read(dfd, CHECKPOINT_LATEST, &len);
	close(dfd);
	if (note == NULL)
		return 0;
	assert_int_equal(checkpoint_verify(note, len, pub, &cp, err,
	    sizeof(err)), 0);
	assert_string_equal(cp.origin, "test.example/warrantd");
	free(note);
	return cp.size;
}

static void
test_callback_signs(void **state)
{
	struct fixture	*f = *state;
	EVP_PKEY	*other, *other_pub;

	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), 0);
	append_n(f, 4);		/* one batch at least: a checkpoint */
	append_n(f, 6);
	assert_true(journal_signing(f->j));
	assert_null(strstr(journal_status(f->j), "NO NEW CHECKPOINTS"));
	journal_close(f->j);		/* a last checkpoint: all 10 */
	f->j = NULL;
	assert_true(f->signs >= 2);
	assert_int_equal(latest(f, f->pub), 10);
	/* Reopened: its checkpoints are checked with the public key given. */
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), 0);
	journal_close(f->j);
	f->j = NULL;
	assert_non_null(other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_non_null(other_pub = public_of(other));
	f->js.pub = other_pub;
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), -1);
	assert_null(f->j);
	EVP_PKEY_free(other);
	EVP_PKEY_free(other_pub);
}

static void
test_callback_broken(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), 0);
	append_n(f, 5);
	journal_close(f->j);
	f->j = NULL;
	assert_int_equal(latest(f, f->pub), 5);
	assert_int_equal(journal_open(&f->cfg, f->base, &f->j), 0);
	f->broken = "the checkpoint signer was killed by signal 9";
	append_n(f, 9);		/* appends go on */
	assert_true(journal_healthy(f->j));
	assert_false(journal_signing(f->j));
	assert_non_null(strstr(journal_status(f->j), "journal ok, 14 records; "
	    "NO NEW CHECKPOINTS: the checkpoint signer was killed by signal 9"));
	journal_close(f->j);
	f->j = NULL;
	assert_int_equal(latest(f, f->pub), 5);	/* none since */
}

static void
test_wire_request(void **state)
{
	struct checkpoint	 cp, got;
	uint8_t			 req[SIGNER_SIGN_LEN], big[SIGNER_SIGN_LEN + 1];

	(void)state;
	memset(&cp, 0, sizeof(cp));
	cp.size = 0x0102030405060708ULL;
	memset(cp.root, 0xab, sizeof(cp.root));
	signer_request_make(req, &cp);
	assert_int_equal(signer_request_read(req, sizeof(req), "o", &got), 0);
	assert_true(got.size == cp.size);
	assert_memory_equal(got.root, cp.root, sizeof(cp.root));
	assert_string_equal(got.origin, "o");
	assert_int_equal(signer_request_read(req, sizeof(req) - 1, "o", &got), -1);
	memcpy(big, req, sizeof(req));
	big[sizeof(req)] = 0;
	assert_int_equal(signer_request_read(big, sizeof(big), "o", &got), -1);
	req[0] = SIGNER_NOTE;
	assert_int_equal(signer_request_read(req, sizeof(req), "o", &got), -1);
}

static void
answer(EVP_PKEY *key, const struct checkpoint *cp, uint8_t *buf, size_t *len)
{
	char	*note = checkpoint_sign(cp, key);

	assert_non_null(note);
	buf[0] = SIGNER_NOTE;
	*len = strlen(note) + 1;
	memcpy(buf + 1, note, *len - 1);
	free(note);
}

static void
test_wire_answer(void **state)
{
	struct fixture		*f = *state;
	struct checkpoint	 cp, asked;
	uint8_t			 buf[SIGNER_FRAME_MAX];
	size_t			 len;
	char			*note;
	EVP_PKEY		*other;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "test.example/warrantd");
	cp.size = 42;
	memset(cp.root, 7, sizeof(cp.root));
	answer(f->key, &cp, buf, &len);
	assert_non_null(note = signer_answer_read(buf, len, f->pub, &cp));
	free(note);
	assert_null(signer_answer_read(buf, len - 1, f->pub, &cp));
	assert_null(signer_answer_read(buf, 1, f->pub, &cp));
	asked = cp;
	asked.size = 43;
	assert_null(signer_answer_read(buf, len, f->pub, &asked));
	asked = cp;
	asked.root[31] ^= 1;
	assert_null(signer_answer_read(buf, len, f->pub, &asked));
	asked = cp;
	snprintf(asked.origin, sizeof(asked.origin), "other.example");
	assert_null(signer_answer_read(buf, len, f->pub, &asked));
	assert_non_null(other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	answer(other, &cp, buf, &len);
	assert_null(signer_answer_read(buf, len, f->pub, &cp));
	EVP_PKEY_free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_callback_signs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_broken, setup, teardown),
		cmocka_unit_test(test_wire_request),
		cmocka_unit_test_setup_teardown(test_wire_answer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
