/*
 * tls — see include/tls.h. Every choice here is also explained in the
 * README's security section; keep the two in step.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "log.h"
#include "strict.h"
#include "tls.h"
#include "wd_tls_policy.h"

static int tls_refusal_index = -1;

/* How long ahead of a CRL's nextUpdate the log starts warning. */
#define TLS_CRL_WARN_S	(7 * 86400)

static void
tls_log_errors(const char *what, const char *path)
{
	unsigned long	e;
	char		buf[256];

	e = ERR_get_error();
	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("%s %s: %s", what, path, e ? buf : "unknown error");
	ERR_clear_error();
}

void
tls_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
tls_cert_fingerprints(X509 *cert, uint8_t cert_sha256[32], uint8_t spki_sha256[32])
{
	unsigned char	*der = NULL;
	unsigned int	 mdlen = 0;
	int		 len;

	if (!X509_digest(cert, EVP_sha256(), cert_sha256, &mdlen) || mdlen != 32)
		return -1;
	if (spki_sha256 == NULL)
		return 0;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0)
		return -1;
	if (!EVP_Digest(der, len, spki_sha256, &mdlen, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	return 0;
}

int
tls_peer_fingerprints(SSL *ssl, uint8_t cert_sha256[32], uint8_t spki_sha256[32])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	if (cert == NULL)
		return -1;
	return tls_cert_fingerprints(cert, cert_sha256, spki_sha256);
}

void
tls_peer_subject(SSL *ssl, char *buf, size_t len)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	buf[0] = '\0';
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), buf, (int)len);
}

/*
 * OpenSSL's words, except where they mislead: past the nextUpdate of our
 * CRL it says "CRL has expired" and the client's alert says "certificate
 * expired", though nothing is wrong with the client's certificate.
 */
void
tls_refusal_reason(int verify_error, char *buf, size_t len)
{
	if (verify_error == X509_V_ERR_CRL_HAS_EXPIRED)
		snprintf(buf, len, "CRL expired: the carrier's CRL is past its "
		    "nextUpdate (the client certificate is not at fault)");
	else
		snprintf(buf, len, "%s", X509_verify_cert_error_string(
		    verify_error));
}

/*
 * Verification itself is OpenSSL's; this callback only remembers why a
 * chain was refused (revoked, expired, unknown CA...) so that the refusal
 * can be journaled with who tried. It never turns a failure into success.
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *xctx)
{
	SSL			*ssl;
	struct tls_refusal	*r;
	X509			*cert;
	uint8_t			 fp[32];

	if (ok)
		return ok;
	ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	r = ssl ? SSL_get_ex_data(ssl, tls_refusal_index) : NULL;
	if (r == NULL || r->failed)
		return ok;
	r->failed = 1;
	r->verify_error = X509_STORE_CTX_get_error(xctx);
	tls_refusal_reason(r->verify_error, r->reason, sizeof(r->reason));
	/*
	 * Past our CRL's nextUpdate OpenSSL would send the client a
	 * certificate_expired alert, about a certificate that is fine: send
	 * handshake_failure instead (the fault is ours, and the log and the
	 * journal say "CRL expired").
	 */
	if (r->verify_error == X509_V_ERR_CRL_HAS_EXPIRED)
		X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
	cert = X509_STORE_CTX_get_current_cert(xctx);
	if (cert) {
		X509_NAME_oneline(X509_get_subject_name(cert), r->subject,
		    sizeof(r->subject));
		if (tls_cert_fingerprints(cert, fp, NULL) == 0)
			tls_hex(fp, sizeof(fp), r->fingerprint);
	}
	return ok;
}

void
tls_track_refusal(SSL *ssl, struct tls_refusal *r)
{
	memset(r, 0, sizeof(*r));
	SSL_set_ex_data(ssl, tls_refusal_index, r);
}

/*
 * A CRL must be signed by one of the CAs we trust: another CA's CRL covers
 * none of our clients, and OpenSSL, finding no CRL of their issuer, would
 * refuse every one of them ("unable to get certificate CRL"). Checked by
 * name and by signature, against the CA certificates already in store.
 */
static int
tls_crl_issued_here(X509_STORE *store, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT)	*objs = X509_STORE_get0_objects(store);
	X509			*ca;
	EVP_PKEY		*pub;

	for (int i = 0; objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (ca == NULL || X509_NAME_cmp(X509_get_subject_name(ca),
		    X509_CRL_get_issuer(crl)) != 0)
			continue;
		if ((pub = X509_get0_pubkey(ca)) != NULL &&
		    X509_CRL_verify(crl, pub) == 1)
			return 1;
	}
	ERR_clear_error();
	return 0;
}

/*
 * Ahead of a CRL's nextUpdate the desk has days to publish a fresh one;
 * past it OpenSSL refuses every client. Say so at start and at reload.
 */
static void
tls_crl_warn_soon(const char *path, X509_CRL *crl)
{
	const ASN1_TIME	*next = X509_CRL_get0_nextUpdate(crl);
	struct tm	 tm;
	time_t		 t, now = time(NULL);

	memset(&tm, 0, sizeof(tm));
	if (next == NULL || ASN1_TIME_to_tm(next, &tm) != 1)
		return;
	t = timegm(&tm);
	if (t - now < TLS_CRL_WARN_S)
		log_warnx("CRL file %s: nextUpdate %04d-%02d-%02d %02d:%02d UTC "
		    "is in %lld hours; publish a fresh CRL and reload before "
		    "then, or every client will be refused (CRL expired)", path,
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, (long long)((t - now) / 3600));
}

static int
tls_load_crls(X509_STORE *store, const char *path)
{
	STACK_OF(X509_INFO)	*infos;
	X509_INFO		*xi;
	BIO			*bio;
	char			 issuer[256];
	int			 n = 0;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		tls_log_errors("cannot open CRL file", path);
		return -1;
	}
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (infos == NULL) {
		tls_log_errors("cannot parse CRL file", path);
		return -1;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->crl == NULL)
			continue;
		/*
		 * A CRL past its nextUpdate makes OpenSSL refuse every client
		 * ("CRL has expired"): say so now, at start or reload, instead
		 * of leaving the desk to discover it from refusals.
		 */
		if (X509_CRL_get0_nextUpdate(xi->crl) != NULL &&
		    X509_cmp_time(X509_CRL_get0_nextUpdate(xi->crl), NULL) < 0) {
			log_warnx("CRL file %s: a CRL is past its nextUpdate; "
			    "publish a fresh one", path);
			sk_X509_INFO_pop_free(infos, X509_INFO_free);
			return -1;
		}
		if (!tls_crl_issued_here(store, xi->crl)) {
			X509_NAME_oneline(X509_CRL_get_issuer(xi->crl), issuer,
			    sizeof(issuer));
			log_warnx("CRL file %s: a CRL issued by %s, which is not "
			    "a configured CA: refused (with it every client "
			    "would be refused)", path, issuer);
			sk_X509_INFO_pop_free(infos, X509_INFO_free);
			return -1;
		}
		tls_crl_warn_soon(path, xi->crl);
		if (X509_STORE_add_crl(store, xi->crl))
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (n == 0) {
		log_warnx("CRL file %s holds no CRL", path);
		return -1;
	}
	return 0;
}

static int
tls_set_policy(SSL_CTX *ctx)
{
	/*
	 * No tickets, no session cache (wd_tls_policy.h): every connection
	 * does a full handshake with a fresh chain and CRL check, so a
	 * revocation takes effect on the very next connection.
	 */
	if (wd_tls_policy(ctx, true) == -1)
		return -1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    tls_verify_cb);
	SSL_CTX_set_verify_depth(ctx, 4);
	return 0;
}

static int
tls_load_trust(SSL_CTX *ctx, const struct wd_conf *conf)
{
	X509_STORE		*store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_NAME)	*names;

	if (!SSL_CTX_load_verify_locations(ctx, conf->tls.ca, NULL)) {
		tls_log_errors("cannot load CA bundle", conf->tls.ca);
		return -1;
	}
	/*
	 * Tell clients which CAs we accept, so they pick the right cert. This
	 * also proves the bundle holds a certificate: OpenSSL happily loads a
	 * file with only a CRL, leaving no trust anchor and refusing everyone.
	 */
	if ((names = SSL_load_client_CA_file(conf->tls.ca)) == NULL ||
	    sk_X509_NAME_num(names) == 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		log_warnx("CA bundle %s holds no CA certificate", conf->tls.ca);
		ERR_clear_error();
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (conf->tls.crl) {
		if (tls_load_crls(store, conf->tls.crl) == -1)
			return -1;
		/* Check the CRL of the leaf and of every CA in the chain. */
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
	}
	/* Clients must hold a certificate issued for client authentication. */
	X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT);
	return 0;
}

/* Readable by its owner only, the service user (strict modes). */
int
tls_key_file_private(const char *path)
{
	return strict_check_log(path, STRICT_KEY);
}

/* Whoever can write these chooses whom we trust (strict modes). */
static int
tls_files_strict(const char *cert, const char *ca, const char *crl)
{
	if (strict_check_log(cert, STRICT_CONF) == -1 ||
	    strict_check_log(ca, STRICT_CONF) == -1 ||
	    (crl != NULL && strict_check_log(crl, STRICT_CONF) == -1))
		return -1;
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct wd_conf *conf)
{
	SSL_CTX	*ctx;

	if (tls_refusal_index == -1)
		tls_refusal_index = SSL_get_ex_new_index(0, "refusal", NULL, NULL, NULL);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_log_errors("cannot create TLS context", "");
		return NULL;
	}
	if (tls_set_policy(ctx) == -1) {
		tls_log_errors("cannot set TLS policy", "");
		goto fail;
	}
	if (tls_files_strict(conf->tls.cert, conf->tls.ca, conf->tls.crl) == -1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->tls.cert) != 1) {
		tls_log_errors("cannot load certificate", conf->tls.cert);
		goto fail;
	}
	if (tls_key_file_private(conf->tls.key) == -1)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->tls.key, SSL_FILETYPE_PEM) != 1) {
		tls_log_errors("cannot load private key", conf->tls.key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("private key %s does not match certificate %s",
		    conf->tls.key, conf->tls.cert);
		ERR_clear_error();
		goto fail;
	}
	if (tls_load_trust(ctx, conf) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The client side (the gateway pushing to an authority's endpoint) under
 * the same policy: TLS 1.2+, the same AEAD suites and groups, no tickets,
 * no resumption, no renegotiation, no compression. The peer must present a
 * chain to ca (the system store is never used) issued for server
 * authentication, checked against crl if one is given; its name or
 * address is checked per connection (tls_client_expect).
 */
SSL_CTX *
tls_client_ctx(const char *cert, const char *key, const char *ca,
    const char *crl)
{
	SSL_CTX		*ctx;
	X509_STORE	*store;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_log_errors("cannot create TLS context", "");
		return NULL;
	}
	if (tls_set_policy(ctx) == -1) {
		tls_log_errors("cannot set TLS policy", "");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (tls_files_strict(cert, ca, crl) == -1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_log_errors("cannot load certificate", cert);
		goto fail;
	}
	if (tls_key_file_private(key) == -1)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_log_errors("cannot use private key", key);
		goto fail;
	}
	if (SSL_CTX_load_verify_file(ctx, ca) != 1) {
		tls_log_errors("cannot load CA bundle", ca);
		goto fail;
	}
	store = SSL_CTX_get_cert_store(ctx);
	if (crl != NULL) {
		if (tls_load_crls(store, crl) == -1)
			goto fail;
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
	}
	X509_STORE_set_purpose(store, X509_PURPOSE_SSL_SERVER);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_client_expect(SSL *ssl, const char *host)
{
	unsigned char	 addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		/* RFC 6066: no SNI for an address; its IP SAN is checked. */
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) == 1 ? 0 : -1;
	if (SSL_set1_host(ssl, host) != 1 ||
	    SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	/* A DNS subjectAltName only (RFC 6125), no partial wildcards. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	return 0;
}

/*
 * The earliest notAfter of a certificate chain, as a time_t: the moment the
 * chain stops verifying. 0 if there is no chain or a date cannot be read.
 */
time_t
tls_chain_not_after(STACK_OF(X509) *chain)
{
	time_t		 min = 0, t;
	struct tm	 tm;

	for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		memset(&tm, 0, sizeof(tm));
		if (ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(chain, i)),
		    &tm) != 1)
			return 0;
		t = timegm(&tm);
		if (min == 0 || t < min)
			min = t;
	}
	return min;
}

time_t
tls_peer_not_after(SSL *ssl)
{
	return tls_chain_not_after(SSL_get0_verified_chain(ssl));
}

/*
 * The earliest nextUpdate of the CRLs in ctx's store: past it OpenSSL
 * refuses every new handshake ("CRL has expired"), and the server refuses
 * requests on connections kept alive from before. 0 if there is none.
 */
time_t
tls_crl_next_update(SSL_CTX *ctx)
{
	STACK_OF(X509_OBJECT)	*objs;
	const ASN1_TIME		*next;
	X509_OBJECT		*o;
	time_t			 min = 0, t;
	struct tm		 tm;

	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	for (int i = 0; objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		o = sk_X509_OBJECT_value(objs, i);
		if (X509_OBJECT_get_type(o) != X509_LU_CRL ||
		    (next = X509_CRL_get0_nextUpdate(X509_OBJECT_get0_X509_CRL(o))) == NULL)
			continue;
		memset(&tm, 0, sizeof(tm));
		if (ASN1_TIME_to_tm(next, &tm) != 1)
			continue;
		t = timegm(&tm);
		if (min == 0 || t < min)
			min = t;
	}
	return min;
}
