/*
 * results — answers waiting for delivery, encrypted at rest (see results.h;
 * the format and the reasons are in docs/gateway-backends.md).
 *
 * One file per result, <state>/results/<name>.res:
 *
 *   header  "WDRESLT\0" | u32 version (1) | u32 name length | i64 created_us
 *           | salt[32] | name
 *   chunks  u8 kind (1) | u32 length L | nonce[12] | ciphertext[L] | tag[16]
 *   seal    u8 kind (2) | u32 56       | nonce[12] | ciphertext[56] | tag[16]
 *           plaintext: u64 count | u64 chunks | u64 bytes | sha256[32]
 *
 * integers big-endian. Each file has its own AES-256-GCM key, derived with
 * HKDF-SHA256 from the configured key and the file's random salt, so nonces
 * can be counters (kind, index) that never repeat under one key, whatever
 * the number of files. Every chunk's additional data is the SHA-256 of the
 * header with the chunk's kind, index and length: a byte changed anywhere,
 * chunks swapped, dropped or added, the header edited or the file renamed
 * all fail authentication. The seal, fixed-size at the end, says how many
 * chunks and bytes there are, so truncation is caught before a chunk is
 * read.
 *
 * Files are written under a temporary name (".<name>.<random>.tmp", never a
 * valid result name), fsynced, renamed into place and the directory fsynced:
 * a result is either absent or whole.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "log.h"
#include "results.h"
#include "strict.h"
#include "wd_bytes.h"

#define RES_MAGIC	"WDRESLT"	/* and its NUL: 8 bytes */
#define RES_VERSION	1
#define RES_HDR_FIXED	(8 + 4 + 4 + 8 + 32)
#define RES_SALT_OFF	(8 + 4 + 4 + 8)
#define RES_FRAME_HDR	(1 + 4 + 12)
#define RES_TAG		16
#define RES_SEAL_PLAIN	(8 + 8 + 8 + 32)
#define RES_SEAL_FRAME	(RES_FRAME_HDR + RES_SEAL_PLAIN + RES_TAG)
#define RES_KIND_DATA	1
#define RES_KIND_SEAL	2
#define RES_IOBUF	(64 * 1024)
#define RES_SUFFIX	".res"

struct results {
	int		 dirfd;
	char		 dir[PATH_MAX];
	uint8_t		 key[32];
	unsigned	 keep_s;
};

struct results_writer {
	struct results	*store;
	int		 fd;
	char		 name[RESULTS_NAME_MAX];
	char		 tmp[RESULTS_NAME_MAX + 32];
	uint8_t		 key[32];
	uint8_t		 hhash[32];	/* SHA-256 of the header */
	EVP_CIPHER_CTX	*cipher;
	EVP_MD_CTX	*sha;		/* of the plaintext */
	uint64_t	 chunks;
	uint64_t	 bytes;
	bool		 failed;
	size_t		 buffered;
	uint8_t		 buf[RES_IOBUF];
};

struct results_reader {
	int		 fd;
	char		 name[RESULTS_NAME_MAX];
	uint8_t		 key[32];
	uint8_t		 hhash[32];
	EVP_CIPHER_CTX	*cipher;
	EVP_MD_CTX	*sha;
	uint64_t	 count, chunks, bytes;
	uint8_t		 sealed_sha[32];
	uint64_t	 next;		/* index of the next chunk */
	off_t		 off;		/* of the next chunk */
	off_t		 seal_off;
	bool		 failed;
	bool		 keyed;		/* cipher holds the key */
	bool		 held;		/* the chunk in buf is returned again */
	bool		 no_digest;	/* results_reader_skip_digest */
	bool		 ended;		/* the end was checked ahead */
	size_t		 held_len;
	uint8_t		*buf;
	size_t		 bufsz;
};

/* --- small helpers --------------------------------------------------------- */

bool
results_name_valid(const char *name)
{
	size_t	n, i;

	if (name == NULL || (n = strlen(name)) == 0 ||
	    n >= RESULTS_NAME_MAX || strstr(name, "..") != NULL)
		return false;
	if (!((name[0] >= 'A' && name[0] <= 'Z') ||
	    (name[0] >= 'a' && name[0] <= 'z') ||
	    (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* "<name>.res" -> name, if it is one of ours. */
static bool
results_file_name(const char *file, char *name, size_t len)
{
	size_t	n = strlen(file), s = sizeof(RES_SUFFIX) - 1;

	if (n <= s || strcmp(file + n - s, RES_SUFFIX) != 0 || n - s >= len)
		return false;
	memcpy(name, file, n - s);
	name[n - s] = '\0';
	return results_name_valid(name);
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* pread exactly n bytes; -1 on error or a short file. */
static int
read_at(int fd, off_t off, uint8_t *p, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = pread(fd, p, n, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* The file's own key: HKDF-SHA256(master, salt). */
static int
results_derive(const uint8_t master[32], const uint8_t salt[32],
    uint8_t out[32])
{
	static const char	 info[] = "warrantd results v1";
	EVP_KDF			*kdf;
	EVP_KDF_CTX		*kctx = NULL;
	OSSL_PARAM		 params[5], *p = params;
	int			 rc = -1;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto done;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)master, 32);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)salt, 32);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, sizeof(info) - 1);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, 32, params) == 1)
		rc = 0;
 done:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

static void
frame_nonce(uint8_t nonce[12], uint8_t kind, uint64_t index)
{
	wd_put_be32(nonce, kind);
	wd_put_be64(nonce + 4, index);
}

static void
frame_aad(uint8_t aad[45], const uint8_t hhash[32], uint8_t kind,
    uint64_t index, uint32_t len)
{
	memcpy(aad, hhash, 32);
	aad[32] = kind;
	wd_put_be64(aad + 33, index);
	wd_put_be32(aad + 41, len);
}

/* --- the store ---------------------------------------------------------------- */

int
results_read_key(const char *path, uint8_t key[32])
{
	struct stat	st;
	uint8_t		zero[32] = { 0 };
	char		why[8192];
	int		fd, rc = -1;

	/* A symbolic link is followed (credentials are often linked in). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_warn("results key %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1)
		log_warn("results key %s", path);
	else if (!S_ISREG(st.st_mode))
		log_warnx("results key %s: not a regular file", path);
	else if (strict_check(path, &st, STRICT_KEY, why, sizeof(why)) == -1)
		log_warnx("results key: %s", why);
	else if (st.st_size != 32)
		log_warnx("results key %s: must be exactly 32 bytes, not %lld",
		    path, (long long)st.st_size);
	else if (read_at(fd, 0, key, 32) == -1)
		log_warn("results key %s", path);
	else if (CRYPTO_memcmp(key, zero, 32) == 0)
		log_warnx("results key %s: all zero bytes; make one with "
		    "\"head -c 32 /dev/urandom\"", path);
	else
		rc = 0;
	close(fd);
	return rc;
}

int
results_key_check(const char *key_path)
{
	uint8_t	key[32];
	int	rc;

	rc = results_read_key(key_path, key);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* A temporary is a write that was never reported done: remove it. */
static void
results_remove_temporaries(struct results *r)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;
	size_t		 n;

	if ((fd = dup(r->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.' && n > 4 &&
		    strcmp(de->d_name + n - 4, ".tmp") == 0 &&
		    unlinkat(r->dirfd, de->d_name, 0) == 0)
			log_info("results: removed the partial %s left by a "
			    "crash", de->d_name);
	}
	closedir(d);
}

struct results *
results_open(const char *state_dir, const char *key_path, unsigned keep_s)
{
	struct results	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("results");
		return NULL;
	}
	r->dirfd = -1;
	r->keep_s = keep_s;
	if ((size_t)snprintf(r->dir, sizeof(r->dir), "%s/results", state_dir) >=
	    sizeof(r->dir)) {
		log_warnx("results: state directory path too long");
		goto fail;
	}
	if (results_read_key(key_path, r->key) == -1)
		goto fail;
	if (mkdir(r->dir, 0700) == -1 && errno != EEXIST) {
		log_warn("results: cannot create %s", r->dir);
		goto fail;
	}
	if ((r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("results: %s", r->dir);
		goto fail;
	}
	results_remove_temporaries(r);
	return r;
 fail:
	results_close(r);
	return NULL;
}

void
results_close(struct results *r)
{
	if (r == NULL)
		return;
	if (r->dirfd != -1)
		close(r->dirfd);
	OPENSSL_cleanse(r->key, sizeof(r->key));
	free(r);
}

/* --- writing ------------------------------------------------------------------ */

static int
writer_flush(struct results_writer *w)
{
	if (w->buffered == 0)
		return 0;
	if (write_all(w->fd, w->buf, w->buffered) == -1) {
		log_warn("results %s: write", w->name);
		w->failed = true;
		return -1;
	}
	w->buffered = 0;
	return 0;
}

static int
writer_put(struct results_writer *w, const uint8_t *p, size_t n)
{
	size_t	k;

	while (n > 0) {
		if (w->buffered == sizeof(w->buf) && writer_flush(w) == -1)
			return -1;
		k = sizeof(w->buf) - w->buffered;
		if (k > n)
			k = n;
		memcpy(w->buf + w->buffered, p, k);
		w->buffered += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Encrypt and write one frame. */
static int
writer_frame(struct results_writer *w, uint8_t kind, uint64_t index,
    const uint8_t *plain, size_t len)
{
	uint8_t	hdr[RES_FRAME_HDR], aad[45], out[16384], tag[RES_TAG];
	size_t	k;
	int	outl;

	hdr[0] = kind;
	wd_put_be32(hdr + 1, (uint32_t)len);
	frame_nonce(hdr + 5, kind, index);
	frame_aad(aad, w->hhash, kind, index, (uint32_t)len);
	if (EVP_EncryptInit_ex(w->cipher, NULL, NULL, w->key, hdr + 5) != 1 ||
	    EVP_EncryptUpdate(w->cipher, NULL, &outl, aad, sizeof(aad)) != 1)
		goto crypto;
	if (writer_put(w, hdr, sizeof(hdr)) == -1)
		return -1;
	while (len > 0) {
		k = len < sizeof(out) ? len : sizeof(out);
		if (EVP_EncryptUpdate(w->cipher, out, &outl, plain, (int)k) != 1)
			goto crypto;
		if (writer_put(w, out, (size_t)outl) == -1)
			return -1;
		plain += k;
		len -= k;
	}
	if (EVP_EncryptFinal_ex(w->cipher, out, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(w->cipher, EVP_CTRL_GCM_GET_TAG, RES_TAG,
	    tag) != 1)
		goto crypto;
	return writer_put(w, tag, sizeof(tag));
 crypto:
	log_warnx("results %s: encryption failed", w->name);
	w->failed = true;
	return -1;
}

static void
writer_free(struct results_writer *w)
{
	if (w->fd != -1)
		close(w->fd);
	EVP_CIPHER_CTX_free(w->cipher);
	EVP_MD_CTX_free(w->sha);
	OPENSSL_cleanse(w->key, sizeof(w->key));
	OPENSSL_cleanse(w->buf, sizeof(w->buf));
	free(w);
}

static int
writer_header(struct results_writer *w)
{
	uint8_t		hdr[RES_HDR_FIXED + RESULTS_NAME_MAX];
	struct timespec	ts;
	size_t		nlen = strlen(w->name);
	int64_t		now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	memcpy(hdr, RES_MAGIC, 8);
	wd_put_be32(hdr + 8, RES_VERSION);
	wd_put_be32(hdr + 12, (uint32_t)nlen);
	wd_put_be64(hdr + 16, (uint64_t)now);
	if (RAND_bytes(hdr + RES_SALT_OFF, 32) != 1) {
		log_warnx("results %s: no random salt", w->name);
		return -1;
	}
	memcpy(hdr + RES_HDR_FIXED, w->name, nlen);
	if (EVP_Digest(hdr, RES_HDR_FIXED + nlen, w->hhash, NULL, EVP_sha256(),
	    NULL) != 1 ||
	    results_derive(w->store->key, hdr + RES_SALT_OFF, w->key) == -1) {
		log_warnx("results %s: key derivation failed", w->name);
		return -1;
	}
	return writer_put(w, hdr, RES_HDR_FIXED + nlen);
}

struct results_writer *
results_create(struct results *r, const char *name)
{
	struct results_writer	*w;
	uint8_t			 rnd[6];

	if (!results_name_valid(name)) {
		log_warnx("results: invalid result name");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("results %s", name);
		return NULL;
	}
	w->store = r;
	w->fd = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	snprintf(w->tmp, sizeof(w->tmp), ".%s.%02x%02x%02x%02x%02x%02x.tmp",
	    name, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((w->cipher = EVP_CIPHER_CTX_new()) == NULL ||
	    (w->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(w->cipher, EVP_aes_256_gcm(), NULL, NULL,
	    NULL) != 1 ||
	    EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1)
		goto fail;
	w->fd = openat(r->dirfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd == -1) {
		log_warn("results %s: create", name);
		goto fail;
	}
	if (writer_header(w) == -1) {
		unlinkat(r->dirfd, w->tmp, 0);
		goto fail;
	}
	return w;
 fail:
	writer_free(w);
	return NULL;
}

int
results_append(struct results_writer *w, const void *data, size_t len)
{
	if (w->failed)
		return -1;
	if (len == 0 || len > RESULTS_CHUNK_MAX) {
		log_warnx("results %s: chunk of %zu bytes refused", w->name, len);
		return -1;
	}
	if (EVP_DigestUpdate(w->sha, data, len) != 1) {
		w->failed = true;
		return -1;
	}
	if (writer_frame(w, RES_KIND_DATA, w->chunks, data, len) == -1)
		return -1;
	w->chunks++;
	w->bytes += len;
	return 0;
}

void
results_writer_sha256(const struct results_writer *w, uint8_t out[32])
{
	EVP_MD_CTX	*copy;

	memset(out, 0, 32);
	if ((copy = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_MD_CTX_copy_ex(copy, w->sha) == 1)
		EVP_DigestFinal_ex(copy, out, NULL);
	EVP_MD_CTX_free(copy);
}

uint64_t
results_written(const struct results_writer *w)
{
	return w->bytes;
}

int
results_finish(struct results_writer *w, uint64_t count)
{
	struct results	*r = w->store;
	uint8_t		 seal[RES_SEAL_PLAIN];
	char		 final[RESULTS_NAME_MAX + sizeof(RES_SUFFIX)];

	if (w->failed)
		goto fail;
	wd_put_be64(seal, count);
	wd_put_be64(seal + 8, w->chunks);
	wd_put_be64(seal + 16, w->bytes);
	if (EVP_DigestFinal_ex(w->sha, seal + 24, NULL) != 1 ||
	    writer_frame(w, RES_KIND_SEAL, 0, seal, sizeof(seal)) == -1 ||
	    writer_flush(w) == -1)
		goto fail;
	if (fsync(w->fd) == -1) {
		log_warn("results %s: fsync", w->name);
		goto fail;
	}
	snprintf(final, sizeof(final), "%s" RES_SUFFIX, w->name);
	if (renameat(r->dirfd, w->tmp, r->dirfd, final) == -1) {
		log_warn("results %s: rename", w->name);
		goto fail;
	}
	if (fsync(r->dirfd) == -1) {
		/* The name may not survive a crash: say it was not done. */
		log_warn("results %s: fsync of the directory", w->name);
		unlinkat(r->dirfd, final, 0);
		writer_free(w);
		return -1;
	}
	writer_free(w);
	return 0;
 fail:
	unlinkat(r->dirfd, w->tmp, 0);
	writer_free(w);
	return -1;
}

void
results_abort(struct results_writer *w)
{
	if (w == NULL)
		return;
	unlinkat(w->store->dirfd, w->tmp, 0);
	writer_free(w);
}

/* --- reading ------------------------------------------------------------------ */

/*
 * Decrypt one frame read whole into buf (header, ciphertext, tag), in place;
 * the plaintext is left at buf + RES_FRAME_HDR.
 */
static int
reader_open_frame(struct results_reader *rd, uint8_t *buf, uint8_t kind,
    uint64_t index, uint32_t len)
{
	uint8_t	nonce[12], aad[45];
	int	outl;

	frame_nonce(nonce, kind, index);
	if (buf[0] != kind || wd_get_be32(buf + 1) != len ||
	    memcmp(buf + 5, nonce, sizeof(nonce)) != 0)
		return -1;
	frame_aad(aad, rd->hhash, kind, index, len);
	/* The key is set once; each frame sets its nonce only. */
	if (EVP_DecryptInit_ex(rd->cipher, NULL, NULL, rd->keyed ? NULL :
	    rd->key, nonce) != 1 ||
	    EVP_DecryptUpdate(rd->cipher, NULL, &outl, aad, sizeof(aad)) != 1 ||
	    (len > 0 && EVP_DecryptUpdate(rd->cipher, buf + RES_FRAME_HDR,
	    &outl, buf + RES_FRAME_HDR, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(rd->cipher, EVP_CTRL_GCM_SET_TAG, RES_TAG,
	    buf + RES_FRAME_HDR + len) != 1 ||
	    EVP_DecryptFinal_ex(rd->cipher, buf + RES_FRAME_HDR + len,
	    &outl) != 1)
		return -1;
	rd->keyed = true;
	return 0;
}

/* Header and seal: everything but the chunks. */
static int
reader_check(struct results_reader *rd, const struct results *r)
{
	uint8_t		hdr[RES_HDR_FIXED + RESULTS_NAME_MAX];
	uint8_t		seal[RES_SEAL_FRAME];
	struct stat	st;
	uint32_t	nlen;
	uint64_t	expect;

	if (fstat(rd->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)(RES_HDR_FIXED + RES_SEAL_FRAME) ||
	    read_at(rd->fd, 0, hdr, RES_HDR_FIXED) == -1 ||
	    memcmp(hdr, RES_MAGIC, 8) != 0 || wd_get_be32(hdr + 8) != RES_VERSION)
		return -1;
	nlen = wd_get_be32(hdr + 12);
	if (nlen != strlen(rd->name) ||
	    read_at(rd->fd, RES_HDR_FIXED, hdr + RES_HDR_FIXED, nlen) == -1 ||
	    memcmp(hdr + RES_HDR_FIXED, rd->name, nlen) != 0)
		return -1;
	if (EVP_Digest(hdr, RES_HDR_FIXED + nlen, rd->hhash, NULL,
	    EVP_sha256(), NULL) != 1 ||
	    results_derive(r->key, hdr + RES_SALT_OFF, rd->key) == -1)
		return -1;
	rd->off = RES_HDR_FIXED + nlen;
	rd->seal_off = st.st_size - RES_SEAL_FRAME;
	if (rd->seal_off < rd->off ||
	    read_at(rd->fd, rd->seal_off, seal, sizeof(seal)) == -1 ||
	    reader_open_frame(rd, seal, RES_KIND_SEAL, 0, RES_SEAL_PLAIN) == -1)
		return -1;
	rd->count = wd_get_be64(seal + RES_FRAME_HDR);
	rd->chunks = wd_get_be64(seal + RES_FRAME_HDR + 8);
	rd->bytes = wd_get_be64(seal + RES_FRAME_HDR + 16);
	memcpy(rd->sealed_sha, seal + RES_FRAME_HDR + 24, 32);
	/* The sizes the seal vouches for must add up to the file's. */
	if (rd->chunks > (uint64_t)st.st_size || rd->bytes > (uint64_t)st.st_size)
		return -1;
	expect = (uint64_t)rd->off + rd->chunks * (RES_FRAME_HDR + RES_TAG) +
	    rd->bytes;
	return expect == (uint64_t)rd->seal_off ? 0 : -1;
}

struct results_reader *
results_reader_open(struct results *r, const char *name)
{
	struct results_reader	*rd;
	char			 file[RESULTS_NAME_MAX + sizeof(RES_SUFFIX)];

	if (!results_name_valid(name)) {
		log_warnx("results: invalid result name");
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL) {
		log_warn("results %s", name);
		return NULL;
	}
	rd->fd = -1;
	snprintf(rd->name, sizeof(rd->name), "%s", name);
	snprintf(file, sizeof(file), "%s" RES_SUFFIX, name);
	if ((rd->fd = openat(r->dirfd, file, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		if (errno != ENOENT)
			log_warn("results %s", name);
		goto fail;
	}
	if ((rd->cipher = EVP_CIPHER_CTX_new()) == NULL ||
	    (rd->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(rd->cipher, EVP_aes_256_gcm(), NULL, NULL,
	    NULL) != 1 ||
	    EVP_DigestInit_ex(rd->sha, EVP_sha256(), NULL) != 1)
		goto fail;
	if (reader_check(rd, r) == -1) {
		log_warnx("results %s: fails authentication (wrong key, or the "
		    "file was altered)", name);
		goto fail;
	}
	return rd;
 fail:
	results_reader_close(rd);
	return NULL;
}

uint64_t
results_reader_count(const struct results_reader *rd)
{
	return rd->count;
}

const uint8_t *
results_reader_sha256(const struct results_reader *rd)
{
	return rd->sealed_sha;
}

uint64_t
results_reader_bytes(const struct results_reader *rd)
{
	return rd->bytes;
}

bool
results_reader_at_end(const struct results_reader *rd)
{
	return rd->next == rd->chunks;
}

static int
reader_end(struct results_reader *rd)
{
	uint8_t	sha[32];

	if (rd->off != rd->seal_off)
		return -1;
	if (rd->no_digest)
		return 0;
	if (EVP_DigestFinal_ex(rd->sha, sha, NULL) != 1 ||
	    CRYPTO_memcmp(sha, rd->sealed_sha, 32) != 0)
		return -1;
	return 0;
}

int
results_read(struct results_reader *rd, const uint8_t **data, size_t *len)
{
	uint8_t		hdr[RES_FRAME_HDR];
	uint32_t	n;
	size_t		need;

	if (rd->failed)
		return -1;
	if (rd->held) {
		rd->held = false;
		*data = rd->buf + RES_FRAME_HDR;
		*len = rd->held_len;
		return 1;
	}
	if (rd->ended) {
		rd->failed = true;	/* the end is reported once */
		return 0;
	}
	if (rd->next == rd->chunks) {
		if (reader_end(rd) == 0) {
			rd->failed = true;	/* the end is reported once */
			return 0;
		}
		goto bad;
	}
	if (rd->off + (off_t)sizeof(hdr) > rd->seal_off ||
	    read_at(rd->fd, rd->off, hdr, sizeof(hdr)) == -1)
		goto bad;
	n = wd_get_be32(hdr + 1);
	need = RES_FRAME_HDR + (size_t)n + RES_TAG;
	if (n == 0 || n > RESULTS_CHUNK_MAX ||
	    rd->off + (off_t)need > rd->seal_off)
		goto bad;
	if (need > rd->bufsz) {
		uint8_t *nb = realloc(rd->buf, need);

		if (nb == NULL)
			goto bad;
		rd->buf = nb;
		rd->bufsz = need;
	}
	if (read_at(rd->fd, rd->off, rd->buf, need) == -1 ||
	    reader_open_frame(rd, rd->buf, RES_KIND_DATA, rd->next, n) == -1 ||
	    (!rd->no_digest &&
	    EVP_DigestUpdate(rd->sha, rd->buf + RES_FRAME_HDR, n) != 1))
		goto bad;
	rd->off += (off_t)need;
	rd->next++;
	*data = rd->buf + RES_FRAME_HDR;
	*len = n;
	return 1;
 bad:
	log_warnx("results %s: chunk %llu fails authentication", rd->name,
	    (unsigned long long)rd->next);
	rd->failed = true;
	return -1;
}

/*
 * Why the SHA-256 may be left out: each chunk's AES-GCM tag binds it to its
 * index, its length and the file's header, and the authenticated seal fixes
 * the number of chunks and bytes, so chunks that all authenticate, in order,
 * up to the seal's count are exactly the plaintext the writer sealed. The
 * digest over them can only differ if someone holding the results key wrote
 * the file, and such a writer could compute a matching seal as well: the
 * recomputation adds no protection against an attacker, only CPU (14% of a
 * streamed GET of a 1 MiB part, bench/lifecycle/NOTES.md). Readers that
 * package or verify results keep it; the streamed GET leaves it out.
 */
void
results_reader_skip_digest(struct results_reader *rd)
{
	if (rd->next == 0 && !rd->held)
		rd->no_digest = true;
}

int
results_reader_prefetch(struct results_reader *rd)
{
	const uint8_t	*data;
	size_t		 len;

	if (rd->held || rd->ended || results_read(rd, &data, &len) != 1)
		return -1;
	if (rd->next == rd->chunks) {
		if (reader_end(rd) == -1) {
			log_warnx("results %s: its end fails authentication",
			    rd->name);
			rd->failed = true;
			return -1;
		}
		rd->ended = true;
	}
	rd->held = true;
	rd->held_len = len;
	return 0;
}

void
results_reader_close(struct results_reader *rd)
{
	if (rd == NULL)
		return;
	if (rd->fd != -1)
		close(rd->fd);
	EVP_CIPHER_CTX_free(rd->cipher);
	EVP_MD_CTX_free(rd->sha);
	OPENSSL_cleanse(rd->key, sizeof(rd->key));
	if (rd->buf != NULL)
		OPENSSL_cleanse(rd->buf, rd->bufsz);
	free(rd->buf);
	free(rd);
}

/* --- deleting ----------------------------------------------------------------- */

bool
results_exists(struct results *r, const char *name)
{
	char	file[RESULTS_NAME_MAX + sizeof(RES_SUFFIX)];

	if (!results_name_valid(name))
		return false;
	snprintf(file, sizeof(file), "%s" RES_SUFFIX, name);
	return faccessat(r->dirfd, file, F_OK, 0) == 0;
}

int
results_unlink(struct results *r, const char *name)
{
	char	file[RESULTS_NAME_MAX + sizeof(RES_SUFFIX)];

	if (!results_name_valid(name)) {
		log_warnx("results: invalid result name");
		return -1;
	}
	snprintf(file, sizeof(file), "%s" RES_SUFFIX, name);
	if (unlinkat(r->dirfd, file, 0) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("results %s: delete", name);
		return -1;
	}
	return 1;
}

int
results_sync(struct results *r)
{
	if (fsync(r->dirfd) == -1) {
		log_warn("results: fsync of %s", r->dir);
		return -1;
	}
	return 0;
}

int
results_delete(struct results *r, const char *name)
{
	int	rc;

	if ((rc = results_unlink(r, name)) <= 0)
		return rc;
	/* A purge is a legal obligation: make the deletion durable too. */
	return results_sync(r);
}

/*
 * Visit every result; fn returns 1 to delete it. Deletes, fsyncs the
 * directory once, and returns how many went (-1 on error).
 */
static int
results_scan(struct results *r, int (*fn)(struct results *, const char *,
    const char *, void *), void *arg, void (*cb)(const char *, void *),
    void *cbarg)
{
	DIR		*d;
	struct dirent	*de;
	char		 name[RESULTS_NAME_MAX];
	int		 fd, n = 0, rc = 0;

	if ((fd = dup(r->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("results: %s", r->dir);
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!results_file_name(de->d_name, name, sizeof(name)) ||
		    fn(r, de->d_name, name, arg) != 1)
			continue;
		if (unlinkat(r->dirfd, de->d_name, 0) == -1) {
			log_warn("results %s: delete", name);
			rc = -1;
			continue;
		}
		n++;
		if (cb != NULL)
			cb(name, cbarg);
	}
	closedir(d);
	if (n > 0 && fsync(r->dirfd) == -1) {
		log_warn("results: fsync of %s", r->dir);
		rc = -1;
	}
	return rc == -1 ? -1 : n;
}

static int
purge_match(struct results *r, const char *file, const char *name, void *arg)
{
	const char	*ref = arg;
	size_t		 n = strlen(ref);

	(void)r;
	(void)file;
	return strncmp(name, ref, n) == 0 &&
	    (name[n] == '\0' || name[n] == '.');
}

int
results_purge(struct results *r, const char *carrier_ref, unsigned *deleted)
{
	int	n;

	if (deleted != NULL)
		*deleted = 0;
	if (!results_name_valid(carrier_ref)) {
		log_warnx("results: invalid carrier reference");
		return -1;
	}
	if ((n = results_scan(r, purge_match, (void *)carrier_ref, NULL,
	    NULL)) == -1)
		return -1;
	if (deleted != NULL)
		*deleted = (unsigned)n;
	return 0;
}

static int
sweep_match(struct results *r, const char *file, const char *name, void *arg)
{
	const time_t	*now = arg;
	struct stat	 st;

	(void)name;
	if (fstatat(r->dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return *now - st.st_mtime >= (time_t)r->keep_s;
}

int
results_sweep(struct results *r, time_t now, void (*cb)(const char *, void *),
    void *arg)
{
	return results_scan(r, sweep_match, &now, cb, arg);
}
