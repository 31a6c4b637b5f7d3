/*
 * lib_tls_policy.c — owns the TLS policy every program applies to its
 * contexts (include/wd_tls_policy.h).
 */
#include "wd_tls_policy.h"

int
wd_tls_policy(SSL_CTX *ctx, bool server)
{
	uint64_t	 opts = SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION;

	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, WD_TLS12_CIPHERS) ||
	    !SSL_CTX_set_ciphersuites(ctx, WD_TLS13_SUITES) ||
	    !SSL_CTX_set1_groups_list(ctx, WD_TLS_GROUPS))
		return -1;
	if (server) {
		opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	SSL_CTX_set_options(ctx, opts);
	/* Idle connections give back their 34 KiB of record buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return 0;
}
