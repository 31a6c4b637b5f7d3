/*
 * wd_tls_policy.h — the one TLS policy (versions, suites, groups, options)
 * of every TLS context the programs make, towards authorities, back ends
 * and from warrantctl (lib/lib_tls_policy.c). Certificates, keys and
 * verification stay with each caller.
 */
#ifndef WD_TLS_POLICY_H
#define WD_TLS_POLICY_H

#include <stdbool.h>

#include <openssl/ssl.h>

/*
 * TLS 1.2 suites: ECDHE only (forward secrecy) and AEAD only (GCM,
 * ChaCha20-Poly1305). Every TLS 1.3 suite is AEAD; we list them to pin the
 * order and to exclude the CCM-8 suites' short tags.
 */
#define WD_TLS12_CIPHERS "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
			"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
			"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define WD_TLS13_SUITES	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:" \
			"TLS_AES_128_GCM_SHA256"
#define WD_TLS_GROUPS	"X25519:P-256:P-384"

/*
 * Applies the policy to ctx: TLS 1.2 and up, the suites and groups above,
 * no tickets or session cache (every connection a full handshake with a
 * fresh chain and CRL check), no renegotiation, no compression (CRIME);
 * a server also prefers its own order. 0, or -1 (OpenSSL's error queue
 * says why).
 */
int	 wd_tls_policy(SSL_CTX *ctx, bool server);

#endif
