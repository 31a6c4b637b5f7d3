/*
 * seal — encrypts the target identifiers and order references of journal
 * records, and indexes them blindly (see include/seal.h for the envelope,
 * docs/journal.md "Sealed fields" for the construction and the reasons).
 *
 * Only OpenSSL 3 primitives: X25519, HKDF-SHA256, HMAC-SHA256, AES-256-GCM.
 * Every key that encrypts here is used once (a fresh content key per
 * record, key-encryption keys salted with a fresh ephemeral key), which is
 * why the GCM nonces can be all zero.
 *
 * Everything read back (envelopes, index files, the sealed plaintext) is
 * untrusted: lengths are checked before use, GCM authenticates before a
 * byte is unpacked, and the unpacked plaintext must have the shape of the
 * clear record it fills in.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "log.h"
#include "seal.h"
#include "wd.h"
#include "wd_bytes.h"

#define SEAL_E_OFF	(1 + SEAL_AUDIT_ID_LEN + SEAL_DATA_ID_LEN)
#define SEAL_H0_LEN	(SEAL_E_OFF + 32)	/* what the wraps authenticate */
#define SEAL_WA_OFF	SEAL_H0_LEN
#define SEAL_WD_OFF	(SEAL_H0_LEN + SEAL_WRAP_LEN)
#define SEAL_IDX_MAGIC	"WJIDX001"
#define SEAL_IDX_SEQ	UINT64_MAX		/* never a record's seq */
#define SEAL_IDX_FILE_MAX 1024

struct seal_index {
	uint8_t	key[SEAL_KEY_LEN];
	uint8_t	id[SEAL_DATA_ID_LEN];
};

struct seal {
	EVP_PKEY		*audit;		/* public, or private */
	bool			 audit_private;
	uint8_t			 audit_raw[32];	/* its public key */
	uint8_t			 audit_id[SEAL_AUDIT_ID_LEN];
	bool			 have_data;
	uint8_t			 wrap_key[SEAL_KEY_LEN];
	struct seal_index	 idx[SEAL_INDEX_KEYS_MAX];	/* [0]: the data key's */
	size_t			 nidx;
};

static const uint8_t	seal_zero_nonce[12];

/*
 * Algorithms fetched once: OpenSSL 3 looks every implicit fetch up in its
 * provider tables under a lock, which was most of the cost of a record.
 * Shared read-only by every thread, kept for the process's life.
 */
static pthread_once_t	 seal_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER	*seal_aes;
static EVP_MAC		*seal_hmac;
static EVP_KDF		*seal_kdf;

static void
seal_fetch(void)
{
	seal_aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	seal_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	seal_kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

static bool
seal_algs(void)
{
	pthread_once(&seal_once, seal_fetch);
	return seal_aes != NULL && seal_hmac != NULL && seal_kdf != NULL;
}

/* ---- keys ------------------------------------------------------------------ */

struct seal *
seal_new(void)
{
	return calloc(1, sizeof(struct seal));
}

void
seal_free(struct seal *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->audit);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

static int
seal_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const char *info, uint8_t out[SEAL_KEY_LEN])
{
	EVP_KDF_CTX	*kc;
	OSSL_PARAM	 p[5], *q = p;
	int		 ok;

	if (!seal_algs() || (kc = EVP_KDF_CTX_new(seal_kdf)) == NULL)
		return -1;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(uintptr_t)ikm, ikmlen);
	if (saltlen > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)(uintptr_t)salt, saltlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)(uintptr_t)info, strlen(info));
	*q = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kc, out, SEAL_KEY_LEN, p) > 0;
	EVP_KDF_CTX_free(kc);
	return ok ? 0 : -1;
}

/* The id of an index key: public, names the key without revealing it. */
static int
seal_index_id(const uint8_t k[SEAL_KEY_LEN], uint8_t id[SEAL_DATA_ID_LEN])
{
	static const char	 label[] = "warrantd index key id v1";
	uint8_t			 h[32];
	EVP_MD_CTX		*m;
	int			 ok;

	if ((m = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(m, EVP_sha256(), NULL) > 0 &&
	    EVP_DigestUpdate(m, label, sizeof(label) - 1) > 0 &&
	    EVP_DigestUpdate(m, k, SEAL_KEY_LEN) > 0 &&
	    EVP_DigestFinal_ex(m, h, NULL) > 0;
	EVP_MD_CTX_free(m);
	memcpy(id, h, SEAL_DATA_ID_LEN);
	return ok ? 0 : -1;
}

int
seal_set_data_key(struct seal *s, const uint8_t key[SEAL_KEY_LEN])
{
	struct seal_index	ix;

	if (seal_hkdf(key, SEAL_KEY_LEN, NULL, 0,
	    "warrantd data key v1: journal wrap", s->wrap_key) == -1 ||
	    seal_hkdf(key, SEAL_KEY_LEN, NULL, 0,
	    "warrantd data key v1: blind index", ix.key) == -1 ||
	    seal_index_id(ix.key, ix.id) == -1) {
		log_warnx("seal: cannot derive keys from the data key");
		return -1;
	}
	s->have_data = true;
	/* The data key's own index key comes first. */
	if (s->nidx == SEAL_INDEX_KEYS_MAX)
		s->nidx--;
	memmove(&s->idx[1], &s->idx[0], s->nidx * sizeof(s->idx[0]));
	s->idx[0] = ix;
	s->nidx++;
	OPENSSL_cleanse(&ix, sizeof(ix));
	return 0;
}

static int
seal_audit_done(struct seal *s, EVP_PKEY *pk, const char *file)
{
	size_t	len = sizeof(s->audit_raw);
	uint8_t	h[32];
	unsigned hl;

	if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_X25519) {
		log_warnx("audit key %s: not an X25519 key in PEM (make one "
		    "with \"openssl genpkey -algorithm X25519\")", file);
		EVP_PKEY_free(pk);
		return -1;
	}
	if (EVP_PKEY_get_raw_public_key(pk, s->audit_raw, &len) != 1 ||
	    len != 32 || EVP_Digest(s->audit_raw, 32, h, &hl, EVP_sha256(),
	    NULL) != 1) {
		log_warnx("audit key %s: unusable", file);
		EVP_PKEY_free(pk);
		return -1;
	}
	memcpy(s->audit_id, h, SEAL_AUDIT_ID_LEN);
	EVP_PKEY_free(s->audit);
	s->audit = pk;
	return 0;
}

static FILE *
seal_open_pem(const char *file)
{
	FILE	*fp;

	if ((fp = fopen(file, "r")) == NULL)
		log_warn("audit key %s", file);
	return fp;
}

int
seal_set_audit_public(struct seal *s, const char *file)
{
	FILE		*fp;
	EVP_PKEY	*pk;

	if ((fp = seal_open_pem(file)) == NULL)
		return -1;
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	s->audit_private = false;
	return seal_audit_done(s, pk, file);
}

int
seal_set_audit_private(struct seal *s, const char *file)
{
	FILE		*fp;
	EVP_PKEY	*pk;

	if ((fp = seal_open_pem(file)) == NULL)
		return -1;
	pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	s->audit_private = true;
	return seal_audit_done(s, pk, file);
}

bool
seal_can_seal(const struct seal *s)
{
	return s != NULL && s->audit != NULL && s->have_data;
}

static int
seal_create_data_key(const char *path, uint8_t key[SEAL_KEY_LEN])
{
	int	fd, ok;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		log_warn("data key %s", path);
		return -1;
	}
	ok = RAND_bytes(key, SEAL_KEY_LEN) == 1 &&
	    write(fd, key, SEAL_KEY_LEN) == SEAL_KEY_LEN && fsync(fd) == 0;
	if (close(fd) == -1 || !ok) {
		log_warnx("data key %s: cannot write it", path);
		unlink(path);
		return -1;
	}
	log_info("data key %s created: keep a copy apart from the disk it "
	    "protects", path);
	return 0;
}

int
seal_read_data_key(const char *path, bool create, uint8_t key[SEAL_KEY_LEN])
{
	struct stat	st;
	uint8_t		zero[SEAL_KEY_LEN] = { 0 };
	int		fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT && create)
			return seal_create_data_key(path, key);
		log_warn("data key %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1)
		log_warn("data key %s", path);
	else if (!S_ISREG(st.st_mode))
		log_warnx("data key %s: not a regular file", path);
	else if (st.st_mode & 077)
		log_warnx("data key %s: must not be readable by group or "
		    "others (mode %03o; chmod 600 it)", path,
		    (unsigned)(st.st_mode & 0777));
	else if (st.st_size != SEAL_KEY_LEN)
		log_warnx("data key %s: must be exactly 32 bytes, not %lld",
		    path, (long long)st.st_size);
	else if (read(fd, key, SEAL_KEY_LEN) != SEAL_KEY_LEN)
		log_warn("data key %s", path);
	else if (CRYPTO_memcmp(key, zero, SEAL_KEY_LEN) == 0)
		log_warnx("data key %s: all zero bytes", path);
	else
		rc = 0;
	close(fd);
	return rc;
}

/* ---- primitives ------------------------------------------------------------ */

/* AES-256-GCM with a zero nonce (every key here is used once). */
static int
seal_gcm(bool enc, const uint8_t key[SEAL_KEY_LEN], const uint8_t *aad,
    size_t aadlen, const uint8_t *aad2, size_t aad2len, const uint8_t *in,
    size_t len, uint8_t *out, uint8_t tag[SEAL_TAG_LEN])
{
	EVP_CIPHER_CTX	*c;
	int		 n, ok;

	if (len > INT32_MAX || !seal_algs() ||
	    (c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex2(c, seal_aes, key, seal_zero_nonce, enc,
	    NULL) > 0 &&
	    EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) > 0 &&
	    (aad2len == 0 || EVP_CipherUpdate(c, NULL, &n, aad2,
	    (int)aad2len) > 0) &&
	    (len == 0 || EVP_CipherUpdate(c, out, &n, in, (int)len) > 0) &&
	    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
	    tag) > 0) &&
	    EVP_CipherFinal_ex(c, out + len, &n) > 0 &&
	    (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
	    tag) > 0);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* X25519(priv, peer) and the audit wrap key from it. */
static int
seal_audit_kek(EVP_PKEY *priv, const uint8_t peer_raw[32],
    const uint8_t e_raw[32], const uint8_t a_raw[32], uint8_t kek[SEAL_KEY_LEN])
{
	EVP_PKEY	*peer;
	EVP_PKEY_CTX	*dc = NULL;
	uint8_t		 shared[32], salt[64], zero[32] = { 0 };
	size_t		 len = sizeof(shared);
	int		 ok;

	if ((peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL,
	    peer_raw, 32)) == NULL)
		return -1;
	ok = (dc = EVP_PKEY_CTX_new(priv, NULL)) != NULL &&
	    EVP_PKEY_derive_init(dc) > 0 &&
	    EVP_PKEY_derive_set_peer(dc, peer) > 0 &&
	    EVP_PKEY_derive(dc, shared, &len) > 0 && len == 32 &&
	    CRYPTO_memcmp(shared, zero, 32) != 0;	/* a low-order point */
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(peer);
	memcpy(salt, e_raw, 32);
	memcpy(salt + 32, a_raw, 32);
	if (ok)
		ok = seal_hkdf(shared, 32, salt, 64, "warrantd seal v1 audit",
		    kek) == 0;
	OPENSSL_cleanse(shared, sizeof(shared));
	return ok ? 0 : -1;
}

static int
seal_data_kek(const struct seal *s, const uint8_t e_raw[32],
    uint8_t kek[SEAL_KEY_LEN])
{
	return seal_hkdf(s->wrap_key, SEAL_KEY_LEN, e_raw, 32,
	    "warrantd seal v1 daemon", kek);
}

/* The body's additional data: what binds it to its record and header. */
static void
seal_body_aad(uint64_t seq, int64_t time_us, uint8_t out[32])
{
	memcpy(out, "warrantd seal v1", 16);
	wd_put_be32(out + 16, (uint32_t)(seq >> 32));
	wd_put_be32(out + 20, (uint32_t)seq);
	wd_put_be32(out + 24, (uint32_t)((uint64_t)time_us >> 32));
	wd_put_be32(out + 28, (uint32_t)(uint64_t)time_us);
}

/* ---- envelopes ------------------------------------------------------------- */

/* Encrypt plain for the audit key and the data key; *env malloc'ed. */
static int
seal_env_make(const struct seal *s, uint64_t seq, int64_t time_us,
    const uint8_t *plain, size_t plen, uint8_t **env, size_t *envlen)
{
	EVP_PKEY	*eph = NULL;
	uint8_t		 cek[SEAL_KEY_LEN], kek[SEAL_KEY_LEN], aad[32], *h;
	uint8_t		 e_priv[32];
	size_t		 elen = 32;
	int		 ok;

	if ((h = malloc(SEAL_ENV_MIN + plen)) == NULL)
		return -1;
	h[0] = SEAL_ENV_VERSION;
	memcpy(h + 1, s->audit_id, SEAL_AUDIT_ID_LEN);
	memcpy(h + 1 + SEAL_AUDIT_ID_LEN, s->idx[0].id, SEAL_DATA_ID_LEN);
	seal_body_aad(seq, time_us, aad);
	/* A raw X25519 private key is 32 random bytes (clamped by X25519). */
	ok = RAND_bytes(cek, sizeof(cek)) == 1 &&
	    RAND_bytes(e_priv, sizeof(e_priv)) == 1 &&
	    (eph = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, e_priv,
	    sizeof(e_priv))) != NULL &&
	    EVP_PKEY_get_raw_public_key(eph, h + SEAL_E_OFF, &elen) == 1 &&
	    elen == 32 &&
	    seal_audit_kek(eph, s->audit_raw, h + SEAL_E_OFF, s->audit_raw,
	    kek) == 0 &&
	    seal_gcm(true, kek, h, SEAL_H0_LEN, NULL, 0, cek, SEAL_KEY_LEN,
	    h + SEAL_WA_OFF, h + SEAL_WA_OFF + SEAL_KEY_LEN) == 0 &&
	    seal_data_kek(s, h + SEAL_E_OFF, kek) == 0 &&
	    seal_gcm(true, kek, h, SEAL_H0_LEN, NULL, 0, cek, SEAL_KEY_LEN,
	    h + SEAL_WD_OFF, h + SEAL_WD_OFF + SEAL_KEY_LEN) == 0 &&
	    seal_gcm(true, cek, aad, sizeof(aad), h, SEAL_HDR_LEN, plain, plen,
	    h + SEAL_HDR_LEN, h + SEAL_HDR_LEN + plen) == 0;
	EVP_PKEY_free(eph);
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(e_priv, sizeof(e_priv));
	if (!ok) {
		free(h);
		errno = EIO;
		return -1;
	}
	*env = h;
	*envlen = SEAL_ENV_MIN + plen;
	return 0;
}

static void
seal_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Unwrap the content key with whichever key this seal holds for it. */
static int
seal_env_cek(const struct seal *s, const uint8_t *env, uint8_t cek[SEAL_KEY_LEN],
    char *err, size_t errlen)
{
	uint8_t		kek[SEAL_KEY_LEN];
	char		a[2 * SEAL_AUDIT_ID_LEN + 1], d[2 * SEAL_DATA_ID_LEN + 1];
	const uint8_t	*w = NULL;
	int		rc;

	if (s != NULL && s->audit_private &&
	    memcmp(env + 1, s->audit_id, SEAL_AUDIT_ID_LEN) == 0) {
		if (seal_audit_kek(s->audit, env + SEAL_E_OFF, env + SEAL_E_OFF,
		    s->audit_raw, kek) == -1) {
			snprintf(err, errlen, "bad ephemeral key");
			return -1;
		}
		w = env + SEAL_WA_OFF;
	} else if (s != NULL && s->have_data && memcmp(env + 1 +
	    SEAL_AUDIT_ID_LEN, s->idx[0].id, SEAL_DATA_ID_LEN) == 0) {
		if (seal_data_kek(s, env + SEAL_E_OFF, kek) == -1) {
			snprintf(err, errlen, "key derivation failed");
			return -1;
		}
		w = env + SEAL_WD_OFF;
	}
	if (w == NULL) {
		seal_hex(env + 1, SEAL_AUDIT_ID_LEN, a);
		seal_hex(env + 1 + SEAL_AUDIT_ID_LEN, SEAL_DATA_ID_LEN, d);
		snprintf(err, errlen, "sealed for audit key %s (and data key "
		    "%s); no such key given", a, d);
		return -1;
	}
	rc = seal_gcm(false, kek, env, SEAL_H0_LEN, NULL, 0, w, SEAL_KEY_LEN,
	    cek, (uint8_t *)(uintptr_t)(w + SEAL_KEY_LEN));
	OPENSSL_cleanse(kek, sizeof(kek));
	if (rc == -1)
		snprintf(err, errlen, "sealed key does not authenticate");
	return rc;
}

/* Authenticate and decrypt an envelope; *plain malloc'ed. */
static int
seal_env_open(const struct seal *s, const uint8_t *env, size_t envlen,
    uint64_t seq, int64_t time_us, uint8_t **plain, size_t *plen, char *err,
    size_t errlen)
{
	uint8_t		cek[SEAL_KEY_LEN], aad[32], *p;
	size_t		n;
	int		rc;

	if (envlen < SEAL_ENV_MIN || env[0] != SEAL_ENV_VERSION) {
		snprintf(err, errlen, "malformed envelope");
		return -1;
	}
	if (seal_env_cek(s, env, cek, err, errlen) == -1)
		return -1;
	n = envlen - SEAL_ENV_MIN;
	if ((p = malloc(n ? n : 1)) == NULL) {
		OPENSSL_cleanse(cek, sizeof(cek));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	seal_body_aad(seq, time_us, aad);
	rc = seal_gcm(false, cek, aad, sizeof(aad), env, SEAL_HDR_LEN,
	    env + SEAL_HDR_LEN, n, p,
	    (uint8_t *)(uintptr_t)(env + SEAL_HDR_LEN + n));
	OPENSSL_cleanse(cek, sizeof(cek));
	if (rc == -1) {
		free(p);
		snprintf(err, errlen, "sealed fields do not authenticate "
		    "(altered)");
		return -1;
	}
	*plain = p;
	*plen = n;
	return 0;
}

/* ---- blind index ----------------------------------------------------------- */

/*
 * Normalise as the auditor will type it: digits only for numbers (so
 * "+52 55 1234-5678" and "525512345678" are one), lower case without
 * blanks for addresses, references trimmed.
 */
int
seal_normalise(unsigned kind, const char *v, char *out, size_t outlen)
{
	size_t	n = 0, len;
	bool	digits = kind == WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN ||
		    kind == WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMSI ||
		    kind == WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMEI;

	if (kind >= SEAL_KIND_ORDER) {
		while (*v == ' ' || *v == '\t')
			v++;
		len = strlen(v);
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= outlen)
			return -1;
		memcpy(out, v, len);
		out[len] = '\0';
		return 0;
	}
	for (; *v != '\0'; v++) {
		if (digits && (*v < '0' || *v > '9'))
			continue;
		if (!digits && (*v == ' ' || *v == '\t'))
			continue;
		if (n + 1 >= outlen)
			return -1;
		out[n++] = !digits && *v >= 'A' && *v <= 'Z' ? *v + 32 : *v;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

static bool
seal_runchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

void
seal_mask_identifiers(char *s)
{
	char	*p, *start;
	int	 digits, colons, dots;

	for (p = s; *p != '\0';) {
		if (!seal_runchar(*p)) {
			p++;
			continue;
		}
		for (start = p, digits = colons = dots = 0; seal_runchar(*p);
		    p++) {
			digits += *p >= '0' && *p <= '9';
			colons += *p == ':';
			dots += *p == '.';
		}
		/* Lines and devices, IPv6, IPv4; not years or short numbers. */
		if (digits >= 7 || colons >= 2 || (dots >= 3 && digits >= 4))
			memset(start, '#', (size_t)(p - start));
	}
}

int
seal_token(const uint8_t k[SEAL_KEY_LEN], int64_t time_us, unsigned kind,
    const char *value, uint8_t out[SEAL_TOKEN_LEN])
{
	char		 norm[SEAL_VALUE_MAX], month[32];
	uint8_t		 h[32], hdr[9];
	time_t		 t = (time_t)(time_us / 1000000);
	struct tm	 tm;
	EVP_MAC		*mac;
	EVP_MAC_CTX	*mc = NULL;
	OSSL_PARAM	 params[2];
	size_t		 ml = sizeof(h);
	int		 ok;

	if (value == NULL || kind > 0xff ||
	    seal_normalise(kind, value, norm, sizeof(norm)) == -1 ||
	    gmtime_r(&t, &tm) == NULL)
		return -1;
	/* Tokens change every month: equal targets link within one only. */
	snprintf(month, sizeof(month), "%04d%02d", (tm.tm_year + 1900) % 10000,
	    tm.tm_mon + 1);
	memcpy(hdr, month, 6);
	hdr[6] = 0;
	hdr[7] = (uint8_t)kind;
	hdr[8] = 0;
	if (!seal_algs())
		return -1;
	mac = seal_hmac;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = (mc = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(mc, k, SEAL_KEY_LEN, params) > 0 &&
	    EVP_MAC_update(mc, hdr, sizeof(hdr)) > 0 &&
	    EVP_MAC_update(mc, (const uint8_t *)norm, strlen(norm)) > 0 &&
	    EVP_MAC_final(mc, h, &ml, sizeof(h)) > 0;
	EVP_MAC_CTX_free(mc);
	memcpy(out, h, SEAL_TOKEN_LEN);
	return ok ? 0 : -1;
}

struct seal_tokens {
	uint8_t		(*t)[SEAL_TOKEN_LEN];
	size_t		  n;
	int		  err;
};

static void
seal_tokens_add(const uint8_t *key, const Warrant__Record *r, unsigned kind,
    const char *v, struct seal_tokens *tk)
{
	if (tk->err != 0 || v == NULL || *v == '\0')
		return;
	if (tk->n == SEAL_TOKENS_MAX) {
		tk->err = EMSGSIZE;
		return;
	}
	if (seal_token(key, r->time_us, kind, v, tk->t[tk->n]) == 0)
		tk->n++;
}

static int
seal_token_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SEAL_TOKEN_LEN);
}

/* Tokens of every identifier and reference of r, sorted, without repeats. */
static int
seal_tokens(const uint8_t *key, const Warrant__Record *r,
    struct seal_tokens *tk)
{
	size_t	i, k, n;

	if ((tk->t = calloc(SEAL_TOKENS_MAX, SEAL_TOKEN_LEN)) == NULL)
		return -1;
	for (i = 0; i < r->n_tasks; i++) {
		const Warrant__Task *t = r->tasks[i];

		for (k = 0; k < t->n_identifiers; k++)
			seal_tokens_add(key, r, (unsigned)t->identifiers[k]->type,
			    t->identifiers[k]->value, tk);
		seal_tokens_add(key, r, SEAL_KIND_TASKREF, t->reference, tk);
	}
	for (i = 0; i < r->n_authorisations; i++)
		seal_tokens_add(key, r, SEAL_KIND_ORDER,
		    r->authorisations[i]->reference, tk);
	if (tk->err != 0) {
		free(tk->t);
		errno = tk->err;
		return -1;
	}
	if (tk->n > 1) {
		qsort(tk->t, tk->n, SEAL_TOKEN_LEN, seal_token_cmp);
		for (i = 1, n = 1; i < tk->n; i++)
			if (memcmp(tk->t[i], tk->t[n - 1], SEAL_TOKEN_LEN) != 0)
				memcpy(tk->t[n++], tk->t[i], SEAL_TOKEN_LEN);
		tk->n = n;
	}
	return 0;
}

bool
seal_index_has(const struct seal *s, const Warrant__Record *r)
{
	for (size_t i = 0; r->sealed.len >= SEAL_ENV_MIN && i < s->nidx; i++)
		if (memcmp(s->idx[i].id, r->sealed.data + 1 + SEAL_AUDIT_ID_LEN,
		    SEAL_DATA_ID_LEN) == 0)
			return true;
	return false;
}

int
seal_check_tokens(const struct seal *s, const Warrant__Record *r)
{
	struct seal_tokens	 tk = { NULL, 0, 0 };
	const uint8_t		*id;
	size_t			 i;
	int			 rc;

	if (r->sealed.len < SEAL_ENV_MIN)
		return -1;
	id = r->sealed.data + 1 + SEAL_AUDIT_ID_LEN;
	for (i = 0; i < s->nidx; i++)
		if (memcmp(s->idx[i].id, id, SEAL_DATA_ID_LEN) == 0)
			break;
	if (i == s->nidx)
		return 1;
	if (seal_tokens(s->idx[i].key, r, &tk) == -1)
		return -1;
	rc = tk.n == r->n_blind ? 0 : -1;
	for (i = 0; rc == 0 && i < tk.n; i++)
		if (r->blind[i].len != SEAL_TOKEN_LEN ||
		    memcmp(r->blind[i].data, tk.t[i], SEAL_TOKEN_LEN) != 0)
			rc = -1;
	free(tk.t);
	return rc;
}

bool
seal_index_match(const struct seal *s, const Warrant__Record *r,
    unsigned kind, const char *value)
{
	uint8_t	tok[SEAL_TOKEN_LEN];
	size_t	i, k;

	for (i = 0; i < s->nidx; i++) {
		if (seal_token(s->idx[i].key, r->time_us, kind, value, tok) == -1)
			return false;
		for (k = 0; k < r->n_blind; k++)
			if (r->blind[k].len == SEAL_TOKEN_LEN &&
			    CRYPTO_memcmp(r->blind[k].data, tok,
			    SEAL_TOKEN_LEN) == 0)
				return true;
	}
	return false;
}

/* ---- records --------------------------------------------------------------- */

/*
 * Error texts that quote the request's values are sealed too: an
 * identifier error quotes the identifier (hi1.c), a schema error libxml2's
 * message, which quotes whatever value failed (an order reference...).
 */
static bool
seal_error_text(const Warrant__Record *r)
{
	return (r->error_code == WD_ERR_IDENTIFIER ||
	    r->error_code == WD_ERR_SCHEMA) && r->error_text != NULL &&
	    *r->error_text != '\0';
}

static bool
seal_desk_sensitive(const Warrant__DeskAction *d)
{
	return d != NULL && (*d->text != '\0' || *d->query != '\0' ||
	    d->query_sha256.len > 0);
}

static bool
seal_sensitive(const Warrant__Record *r)
{
	size_t	i;

	if (r->n_tasks > 0 || r->n_authorisations > 0 || r->n_documents > 0 ||
	    seal_error_text(r))
		return true;
	for (i = 0; i < r->n_parts; i++)
		if (*r->parts[i]->ldid != '\0')
			return true;
	for (i = 0; i < r->n_transitions; i++)
		if (r->transitions[i]->approval != NULL)
			return true;
	for (i = 0; i < r->n_notifications; i++)
		if (*r->notifications[i]->text != '\0')
			return true;
	return seal_desk_sensitive(r->desk);
}

bool
seal_is_sealed(const Warrant__Record *r)
{
	return r->sealed.len > 0;
}

/* Blank a string an unpacked message owns (empty ones may be static). */
static void
seal_blank(char *s)
{
	if (s != NULL && *s != '\0')
		memset(s, 0, strlen(s));
}

static void
seal_blank_approval(Warrant__Approval *a)
{
	if (a != NULL)
		seal_blank(a->reference);
}

/* What stays in clear: every field that names a target or an order blanked. */
static void
seal_redact(Warrant__Record *c)
{
	size_t	i, k;

	for (i = 0; i < c->n_tasks; i++) {
		seal_blank(c->tasks[i]->reference);
		for (k = 0; k < c->tasks[i]->n_identifiers; k++)
			seal_blank(c->tasks[i]->identifiers[k]->value);
	}
	for (i = 0; i < c->n_authorisations; i++) {
		Warrant__Authorisation *a = c->authorisations[i];

		seal_blank(a->reference);
		seal_blank(a->court);
		for (k = 0; k < a->n_approvals; k++)
			seal_blank_approval(a->approvals[k]);
	}
	for (i = 0; i < c->n_documents; i++) {
		seal_blank(c->documents[i]->reference);
		seal_blank(c->documents[i]->name);
		for (k = 0; k < c->documents[i]->n_signatures; k++)
			seal_blank_approval(c->documents[i]->signatures[k]);
	}
	for (i = 0; i < c->n_parts; i++)
		seal_blank(c->parts[i]->ldid);
	for (i = 0; i < c->n_transitions; i++)
		seal_blank_approval(c->transitions[i]->approval);
	if (seal_error_text(c))
		seal_blank(c->error_text);
	for (i = 0; i < c->n_notifications; i++)
		seal_blank(c->notifications[i]->text);
	if (c->desk != NULL) {
		seal_blank(c->desk->text);
		seal_blank(c->desk->query);
		if (c->desk->query_sha256.len > 0)
			OPENSSL_cleanse(c->desk->query_sha256.data,
			    c->desk->query_sha256.len);
		c->desk->query_sha256.len = 0;	/* still freed with c */
	}
}

/* The plaintext: r's sensitive subtrees, borrowed, packed. */
static uint8_t *
seal_plaintext(const Warrant__Record *r, size_t *len)
{
	Warrant__Sealed		  s = WARRANT__SEALED__INIT;
	char			**ldids = NULL, **notes = NULL;
	Warrant__Approval	**apps = NULL;
	uint8_t			 *out = NULL;
	size_t			  i;

	s.n_tasks = r->n_tasks;
	s.tasks = r->tasks;
	s.n_authorisations = r->n_authorisations;
	s.authorisations = r->authorisations;
	s.n_documents = r->n_documents;
	s.documents = r->documents;
	if ((r->n_parts > 0 && (ldids = calloc(r->n_parts,
	    sizeof(*ldids))) == NULL) || (r->n_transitions > 0 &&
	    (apps = calloc(r->n_transitions, sizeof(*apps))) == NULL) ||
	    (r->n_notifications > 0 && (notes = calloc(r->n_notifications,
	    sizeof(*notes))) == NULL))
		goto out;
	for (i = 0; i < r->n_notifications; i++)
		notes[s.n_notification_texts++] = r->notifications[i]->text;
	s.notification_texts = notes;
	for (i = 0; i < r->n_parts; i++)
		ldids[s.n_part_ldids++] = r->parts[i]->ldid;
	s.part_ldids = ldids;
	for (i = 0; i < r->n_transitions; i++)
		if (r->transitions[i]->approval != NULL)
			apps[s.n_approvals++] = r->transitions[i]->approval;
	s.approvals = apps;
	if (seal_error_text(r))
		s.error_text = r->error_text;
	if (r->desk != NULL) {
		s.desk_text = r->desk->text;
		s.desk_query = r->desk->query;
		s.desk_query_sha256 = r->desk->query_sha256;
	}
	*len = warrant__sealed__get_packed_size(&s);
	if ((out = malloc(*len ? *len : 1)) != NULL)
		warrant__sealed__pack(&s, out);
out:
	free(ldids);
	free(apps);
	free(notes);
	return out;
}

static int
seal_plain_pack(const Warrant__Record *r, uint8_t **out, size_t *len)
{
	*len = warrant__record__get_packed_size(r);
	if ((*out = malloc(*len ? *len : 1)) == NULL)
		return -1;
	warrant__record__pack(r, *out);
	return 0;
}

/* A deep copy of r with the sensitive fields blanked, env and tokens set. */
static int
seal_pack_clear(const Warrant__Record *r, uint8_t *env, size_t envlen,
    const struct seal_tokens *tk, uint8_t **out, size_t *len)
{
	Warrant__Record		*c;
	ProtobufCBinaryData	*bl = NULL;
	uint8_t			*tmp;
	size_t			 tlen, i;
	int			 rc;

	if (seal_plain_pack(r, &tmp, &tlen) == -1)
		return -1;
	c = warrant__record__unpack(NULL, tlen, tmp);
	OPENSSL_cleanse(tmp, tlen);
	free(tmp);
	if (c == NULL || (tk->n > 0 && (bl = calloc(tk->n,
	    sizeof(*bl))) == NULL)) {
		warrant__record__free_unpacked(c, NULL);
		errno = ENOMEM;
		return -1;
	}
	seal_redact(c);
	for (i = 0; i < tk->n; i++) {
		bl[i].len = SEAL_TOKEN_LEN;
		bl[i].data = tk->t[i];
	}
	c->sealed.data = env;
	c->sealed.len = envlen;
	c->n_blind = tk->n;
	c->blind = bl;
	rc = seal_plain_pack(c, out, len);
	/* Not the unpacked message's to free. */
	c->sealed.data = NULL;
	c->sealed.len = 0;
	c->n_blind = 0;
	c->blind = NULL;
	free(bl);
	warrant__record__free_unpacked(c, NULL);
	return rc;
}

int
seal_pack(const struct seal *s, const Warrant__Record *r, uint8_t **out,
    size_t *len)
{
	struct seal_tokens	 tk = { NULL, 0, 0 };
	uint8_t			*plain, *env = NULL;
	size_t			 plen, envlen;
	int			 rc = -1;

	if (!seal_can_seal(s) || !seal_sensitive(r))
		return seal_plain_pack(r, out, len);
	if ((plain = seal_plaintext(r, &plen)) == NULL)
		return -1;
	if (seal_tokens(s->idx[0].key, r, &tk) == 0 &&
	    seal_env_make(s, r->seq, r->time_us, plain, plen, &env,
	    &envlen) == 0)
		rc = seal_pack_clear(r, env, envlen, &tk, out, len);
	OPENSSL_cleanse(plain, plen);
	free(plain);
	free(env);
	free(tk.t);
	return rc;
}

/* The sealed subtrees must fit the clear record they fill in. */
static const char *
seal_shape(const Warrant__Record *r, const Warrant__Sealed *x)
{
	size_t	i, n = 0;

	if (x->n_tasks != r->n_tasks ||
	    x->n_authorisations != r->n_authorisations ||
	    x->n_documents != r->n_documents || x->n_part_ldids != r->n_parts ||
	    x->n_notification_texts != r->n_notifications)
		return "sealed fields do not match the record (counts)";
	for (i = 0; i < r->n_tasks; i++)
		if (x->tasks[i]->type != r->tasks[i]->type ||
		    x->tasks[i]->action_id != r->tasks[i]->action_id ||
		    x->tasks[i]->n_identifiers != r->tasks[i]->n_identifiers ||
		    strcmp(x->tasks[i]->object_id, r->tasks[i]->object_id) != 0)
			return "sealed tasks do not match the record's";
	for (i = 0; i < r->n_authorisations; i++)
		if (strcmp(x->authorisations[i]->object_id,
		    r->authorisations[i]->object_id) != 0)
			return "sealed authorisations do not match the record's";
	for (i = 0; i < r->n_transitions; i++)
		n += r->transitions[i]->approval != NULL;
	if (n != x->n_approvals)
		return "sealed approvals do not match the record's";
	if (r->desk == NULL && (*x->desk_text != '\0' ||
	    *x->desk_query != '\0' || x->desk_query_sha256.len > 0))
		return "sealed desk fields in a record without a desk action";
	return NULL;
}

static void
seal_swap(Warrant__Record *r, Warrant__Sealed *x)
{
	size_t	i, n = 0;
	void	*t;

#define SWAP(a, b) do { t = (a); (a) = (b); (b) = t; } while (0)
	for (i = 0; i < r->n_tasks; i++)
		SWAP(r->tasks[i], x->tasks[i]);
	for (i = 0; i < r->n_authorisations; i++)
		SWAP(r->authorisations[i], x->authorisations[i]);
	for (i = 0; i < r->n_documents; i++)
		SWAP(r->documents[i], x->documents[i]);
	/*
	 * A blank ldid in the record is protobuf-c's static default, which the
	 * Sealed message (a repeated string) would free: move, do not swap.
	 */
	for (i = 0; i < r->n_parts; i++) {
		if (*r->parts[i]->ldid != '\0')
			free(r->parts[i]->ldid);
		r->parts[i]->ldid = x->part_ldids[i];
		x->part_ldids[i] = NULL;
	}
	for (i = 0; i < r->n_notifications; i++) {
		if (*r->notifications[i]->text != '\0')
			free(r->notifications[i]->text);
		r->notifications[i]->text = x->notification_texts[i];
		x->notification_texts[i] = NULL;
	}
	for (i = 0; i < r->n_transitions; i++)
		if (r->transitions[i]->approval != NULL) {
			SWAP(r->transitions[i]->approval, x->approvals[n]);
			n++;
		}
	if (*x->error_text != '\0') {
		SWAP(r->error_text, x->error_text);
	}
	if (r->desk != NULL) {
		SWAP(r->desk->text, x->desk_text);
		SWAP(r->desk->query, x->desk_query);
		{
			ProtobufCBinaryData b = r->desk->query_sha256;

			r->desk->query_sha256 = x->desk_query_sha256;
			x->desk_query_sha256 = b;
		}
	}
#undef SWAP
}

int
seal_open(const struct seal *s, Warrant__Record *r, char *err, size_t errlen)
{
	Warrant__Sealed	*x;
	uint8_t		*plain;
	size_t		 plen;
	const char	*why;

	if (r->sealed.len == 0)
		return 0;
	if (seal_env_open(s, r->sealed.data, r->sealed.len, r->seq, r->time_us,
	    &plain, &plen, err, errlen) == -1)
		return -1;
	x = warrant__sealed__unpack(NULL, plen, plain);
	OPENSSL_cleanse(plain, plen);
	free(plain);
	if (x == NULL) {
		snprintf(err, errlen, "sealed fields do not unpack");
		return -1;
	}
	if ((why = seal_shape(r, x)) != NULL) {
		snprintf(err, errlen, "%s", why);
		warrant__sealed__free_unpacked(x, NULL);
		return -1;
	}
	/* Both are unpacked with the same allocator: each frees what it holds. */
	seal_swap(r, x);
	warrant__sealed__free_unpacked(x, NULL);
	return 0;
}

/* ---- index keys for the auditor --------------------------------------------- */

static void
seal_index_name(const struct seal *s, const uint8_t id[SEAL_DATA_ID_LEN],
    char *out, size_t len)
{
	char	d[2 * SEAL_DATA_ID_LEN + 1], a[2 * SEAL_AUDIT_ID_LEN + 1];

	seal_hex(id, SEAL_DATA_ID_LEN, d);
	seal_hex(s->audit_id, SEAL_AUDIT_ID_LEN, a);
	snprintf(out, len, "index-%s-%s.sealed", d, a);
}

static int
seal_write_file(int dirfd, const char *name, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen)
{
	char	tmp[128];
	int	fd, ok;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	ok = write(fd, a, alen) == (ssize_t)alen &&
	    write(fd, b, blen) == (ssize_t)blen && fsync(fd) == 0;
	if (close(fd) == -1 || !ok || renameat(dirfd, tmp, dirfd, name) == -1 ||
	    fsync(dirfd) == -1) {
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

int
seal_index_publish(const struct seal *s, int dirfd)
{
	char		 name[96];
	uint8_t		*env;
	size_t		 envlen;
	int		 rc;

	if (!seal_can_seal(s))
		return 0;
	seal_index_name(s, s->idx[0].id, name, sizeof(name));
	if (faccessat(dirfd, name, F_OK, 0) == 0)
		return 0;
	if (seal_env_make(s, SEAL_IDX_SEQ, 0, s->idx[0].key, SEAL_KEY_LEN,
	    &env, &envlen) == -1) {
		log_warnx("seal: cannot seal the index key");
		return -1;
	}
	rc = seal_write_file(dirfd, name, (const uint8_t *)SEAL_IDX_MAGIC, 8,
	    env, envlen);
	free(env);
	if (rc == -1)
		log_warn("seal: %s", name);
	return rc;
}

/* Open one index file; 1 loaded, 0 not for this key, -1 bad. */
static int
seal_index_load_one(struct seal *s, int dirfd, const char *name)
{
	uint8_t		 buf[SEAL_IDX_FILE_MAX], *plain = NULL, id[SEAL_DATA_ID_LEN];
	char		 want[96], err[160];
	size_t		 plen;
	ssize_t		 n;
	int		 fd, rc = -1;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 8 + SEAL_ENV_MIN || memcmp(buf, SEAL_IDX_MAGIC, 8) != 0) {
		log_warnx("%s: not an index key file", name);
		return -1;
	}
	if (memcmp(buf + 8 + 1, s->audit_id, SEAL_AUDIT_ID_LEN) != 0)
		return 0;			/* for another auditor */
	if (seal_env_open(s, buf + 8, (size_t)n - 8, SEAL_IDX_SEQ, 0, &plain,
	    &plen, err, sizeof(err)) == -1)
		log_warnx("%s: %s", name, err);
	else if (plen != SEAL_KEY_LEN || seal_index_id(plain, id) == -1 ||
	    memcmp(id, buf + 8 + 1 + SEAL_AUDIT_ID_LEN, SEAL_DATA_ID_LEN) != 0)
		log_warnx("%s: the key does not match its id", name);
	else {
		seal_index_name(s, id, want, sizeof(want));
		if (strcmp(want, name) != 0)
			log_warnx("%s: misnamed (should be %s)", name, want);
		else if (s->nidx < SEAL_INDEX_KEYS_MAX) {
			memcpy(s->idx[s->nidx].key, plain, SEAL_KEY_LEN);
			memcpy(s->idx[s->nidx].id, id, SEAL_DATA_ID_LEN);
			s->nidx++;
			rc = 1;
		} else
			log_warnx("%s: more than %d index keys", name,
			    SEAL_INDEX_KEYS_MAX);
	}
	if (plain != NULL)
		OPENSSL_cleanse(plain, plen);
	free(plain);
	return rc;
}

int
seal_index_load(struct seal *s, int dirfd)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, n = 0, rc;

	if (!s->audit_private)
		return 0;
	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "index-", 6) != 0 ||
		    strlen(de->d_name) < 7 || strcmp(de->d_name +
		    strlen(de->d_name) - 7, ".sealed") != 0)
			continue;
		if ((rc = seal_index_load_one(s, dirfd, de->d_name)) == -1) {
			closedir(d);
			return -1;
		}
		n += rc;
	}
	closedir(d);
	return n;
}
