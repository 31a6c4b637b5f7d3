/*
 * test_tls_policy — the one TLS policy (lib_tls_policy.c): what a server
 * and a client context offer after it (versions, suites, options), and that
 * a client held to TLS 1.1 has no version left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "wd_tls_policy.h"

static void
check_ctx(SSL_CTX *ctx, bool server)
{
	STACK_OF(SSL_CIPHER)	*ciphers;
	SSL			*ssl;
	uint64_t		 opts;

	assert_int_equal(wd_tls_policy(ctx, server), 0);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	opts = SSL_CTX_get_options(ctx);
	assert_true(opts & SSL_OP_NO_TICKET);
	assert_true(opts & SSL_OP_NO_RENEGOTIATION);
	assert_true(opts & SSL_OP_NO_COMPRESSION);
	assert_int_equal(!!(opts & SSL_OP_CIPHER_SERVER_PREFERENCE), server);
	assert_int_equal(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	if (server)
		assert_int_equal(SSL_CTX_get_num_tickets(ctx), 0);
	/* Every suite offered: TLS 1.3, or ECDHE with an AEAD. */
	assert_non_null(ssl = SSL_new(ctx));
	assert_non_null(ciphers = SSL_get1_supported_ciphers(ssl));
	assert_true(sk_SSL_CIPHER_num(ciphers) > 0);
	for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
		const SSL_CIPHER	*c = sk_SSL_CIPHER_value(ciphers, i);
		const char		*n = SSL_CIPHER_get_name(c);

		if (strncmp(n, "TLS_", 4) == 0) {
			assert_null(strstr(n, "CCM"));
			continue;
		}
		assert_true(strncmp(n, "ECDHE-", 6) == 0);
		assert_true(SSL_CIPHER_is_aead(c));
	}
	sk_SSL_CIPHER_free(ciphers);
	SSL_free(ssl);
}

static void
test_server(void **state)
{
	SSL_CTX	*ctx;

	(void)state;
	assert_non_null(ctx = SSL_CTX_new(TLS_server_method()));
	check_ctx(ctx, true);
	SSL_CTX_free(ctx);
}

static void
test_client(void **state)
{
	SSL_CTX	*ctx;

	(void)state;
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	check_ctx(ctx, false);
	SSL_CTX_free(ctx);
}

/* A client that only speaks TLS 1.1 gets nothing. */
static void
test_old_version_refused(void **state)
{
	SSL_CTX	*ctx;

	(void)state;
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(wd_tls_policy(ctx, false), 0);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION), 1);
	assert_true(SSL_CTX_get_max_proto_version(ctx) <
	    SSL_CTX_get_min_proto_version(ctx));
	SSL_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_old_version_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
