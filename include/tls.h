/*
 * tls — the server's mutual-TLS policy in one place: TLS 1.2 minimum, AEAD
 * suites only, client certificate required and verified against the CA bundle
 * and CRLs (leaf and chain), no session tickets, no resumption, no
 * renegotiation, no compression. A context is rebuilt on SIGHUP; connections
 * keep the one they started with (SSL_CTX is reference counted).
 */
#ifndef WD_TLS_H
#define WD_TLS_H

#include <stdint.h>
#include <time.h>
#include <openssl/ssl.h>

struct wd_conf;

/* Why the handshake refused a client certificate, for the journal. */
struct tls_refusal {
	int		failed;			/* 1 if verification failed */
	int		verify_error;		/* X509_V_ERR_* */
	char		reason[128];		/* X509_verify_cert_error_string */
	char		subject[256];		/* of the offending certificate */
	char		fingerprint[65];	/* SHA-256 hex of the leaf, if seen */
};

/* Why verification failed, in words that do not mislead (lib/tls.c). */
void	 tls_refusal_reason(int verify_error, char *buf, size_t len);
/* Build the server context; logs what is wrong (file and reason) on error. */
SSL_CTX	*tls_server_ctx(const struct wd_conf *);
/* Attach a refusal record to a new SSL, filled by the verify callback. */
void	 tls_track_refusal(SSL *, struct tls_refusal *);
/* SHA-256 of the peer's certificate DER and of its SubjectPublicKeyInfo. */
int	 tls_peer_fingerprints(SSL *, uint8_t cert_sha256[32], uint8_t spki_sha256[32]);
void	 tls_hex(const uint8_t *in, size_t len, char *out);	/* out: 2*len+1 */
void	 tls_peer_subject(SSL *, char *buf, size_t len);
/*
 * The earliest notAfter of a chain (of the verified chain of the peer): a
 * connection kept alive past it is no longer authenticated. 0 if unknown.
 */
time_t	 tls_chain_not_after(STACK_OF(X509) *);
time_t	 tls_peer_not_after(SSL *);
/* The earliest nextUpdate of the CRLs in force, 0 if none. */
time_t	 tls_crl_next_update(SSL_CTX *);
/* A private key file must be readable by its owner only; logs if not. */
int	 tls_key_file_private(const char *path);

/*
 * Client side, same policy (lib/tls.c): our certificate and key, the CAs
 * the peer must chain to, and an optional CRL file. NULL (logged) on error.
 */
SSL_CTX	*tls_client_ctx(const char *cert, const char *key, const char *ca,
	    const char *crl);
/* The peer must be host: a DNS name (also sent as SNI) or an IP literal. */
int	 tls_client_expect(SSL *, const char *host);

#endif
