/*
 * checkpoint — C2SP tlog-checkpoint bodies in C2SP signed notes, with
 * Ed25519 through OpenSSL 3 EVP (see include/checkpoint.h).
 *
 *	<origin>\n<tree size>\n<base64 root hash>\n
 *	\n
 *	— <origin> <base64(key id || signature)>\n
 *
 * The key name is the origin. Notes read from disk or from an auditor are
 * untrusted: they are size-bounded, parsed strictly (decimal size without
 * leading zeros, exactly 32 bytes of hash) and only signature lines for
 * our key name and key id are considered, as the signed-note spec says.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "checkpoint.h"
#include "log.h"

#define SIG_PREFIX	"\xe2\x80\x94 "		/* U+2014 EM DASH, space */
#define ED25519_SIG	64
#define ED25519_PUB	32

static EVP_PKEY *
checkpoint_load(const char *path, int private)
{
	FILE		*fp;
	EVP_PKEY	*k;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("checkpoint: %s", path);
		return NULL;
	}
	k = private ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) :
	    PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	if (k == NULL && !private) {
		rewind(fp);
		k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	}
	fclose(fp);
	if (k == NULL) {
		log_warnx("checkpoint: %s: not a PEM %s key", path,
		    private ? "private" : "public");
		return NULL;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		log_warnx("checkpoint: %s: not an Ed25519 key", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

EVP_PKEY *
checkpoint_load_private(const char *path)
{
	return checkpoint_load(path, 1);
}

EVP_PKEY *
checkpoint_load_public(const char *path)
{
	return checkpoint_load(path, 0);
}

int
checkpoint_keyid(EVP_PKEY *key, const char *name, uint8_t id[4])
{
	uint8_t		pub[ED25519_PUB], md[EVP_MAX_MD_SIZE];
	size_t		plen = sizeof(pub);
	unsigned	mdlen;
	EVP_MD_CTX	*ctx;
	int		ok;

	if (EVP_PKEY_get_raw_public_key(key, pub, &plen) != 1 ||
	    plen != ED25519_PUB || (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	    EVP_DigestUpdate(ctx, "\n\x01", 2) == 1 &&
	    EVP_DigestUpdate(ctx, pub, plen) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(id, md, 4);
	return 0;
}

/* Standard base64 with padding; out holds 4 * ((len + 2) / 3) + 1. */
static void
b64_encode(const uint8_t *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* Strict decode of exactly want bytes; -1 on anything else. */
static int
b64_decode(const char *in, size_t len, uint8_t *out, size_t want)
{
	uint8_t	buf[128];
	size_t	pad = 0;
	int	n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf))
		return -1;
	if (in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len)) <
	    0 || (size_t)n - pad != want)
		return -1;
	memcpy(out, buf, want);
	return 0;
}

static int
checkpoint_body(const struct checkpoint *cp, char *out, size_t outlen)
{
	char	root[64];
	int	n;

	b64_encode(cp->root, MERKLE_HASH_LEN, root);
	n = snprintf(out, outlen, "%s\n%" PRIu64 "\n%s\n", cp->origin,
	    cp->size, root);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

char *
checkpoint_sign(const struct checkpoint *cp, EVP_PKEY *key)
{
	char		 body[CHECKPOINT_ORIGIN_MAX + 128], sigb64[128], *note;
	uint8_t		 blob[4 + ED25519_SIG];
	size_t		 siglen = ED25519_SIG, len;
	int		 blen;
	EVP_MD_CTX	*ctx;

	if ((blen = checkpoint_body(cp, body, sizeof(body))) == -1 ||
	    checkpoint_keyid(key, cp->origin, blob) == -1 ||
	    (ctx = EVP_MD_CTX_new()) == NULL) {
		log_warnx("checkpoint: cannot sign");
		return NULL;
	}
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, blob + 4, &siglen, (uint8_t *)body,
	    (size_t)blen) != 1 || siglen != ED25519_SIG) {
		EVP_MD_CTX_free(ctx);
		log_warnx("checkpoint: Ed25519 signing failed");
		return NULL;
	}
	EVP_MD_CTX_free(ctx);
	b64_encode(blob, sizeof(blob), sigb64);
	len = (size_t)blen + strlen(cp->origin) + strlen(sigb64) + 16;
	if ((note = malloc(len)) == NULL) {
		log_warn("checkpoint");
		return NULL;
	}
	snprintf(note, len, "%s\n" SIG_PREFIX "%s %s\n", body, cp->origin,
	    sigb64);
	return note;
}

static int
parse_fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL)
		snprintf(err, errlen, "%s", why);
	return -1;
}

/* Length of the body: up to and including the newline before "\n\n". */
static size_t
checkpoint_body_len(const char *note, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len; i++)
		if (note[i] == '\n' && note[i + 1] == '\n')
			return i + 1;
	return 0;
}

int
checkpoint_parse(const char *note, size_t len, struct checkpoint *cp,
    char *err, size_t errlen)
{
	const char	*p = note, *end, *nl;
	size_t		 blen;
	uint64_t	 v = 0;

	memset(cp, 0, sizeof(*cp));
	if (len > CHECKPOINT_NOTE_MAX || memchr(note, '\0', len) != NULL ||
	    (blen = checkpoint_body_len(note, len)) == 0)
		return parse_fail(err, errlen, "not a signed note");
	end = note + blen;
	/* origin */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == p || (size_t)(nl - p) >= sizeof(cp->origin))
		return parse_fail(err, errlen, "bad origin line");
	memcpy(cp->origin, p, (size_t)(nl - p));
	/* tree size: decimal, no sign, no leading zero */
	p = nl + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || nl == p || nl - p > 20 || (*p == '0' && nl - p > 1))
		return parse_fail(err, errlen, "bad tree size line");
	for (; p < nl; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return parse_fail(err, errlen, "bad tree size line");
		v = v * 10 + (uint64_t)(*p - '0');
	}
	cp->size = v;
	/* root hash; extension lines after it are allowed and ignored */
	p = nl + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL ||
	    b64_decode(p, (size_t)(nl - p), cp->root, MERKLE_HASH_LEN) == -1)
		return parse_fail(err, errlen, "bad root hash line");
	return 0;
}

static int
checkpoint_sig_ok(const char *note, size_t blen, const uint8_t *blob,
    EVP_PKEY *pub)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, blob + 4, ED25519_SIG, (const uint8_t *)note,
	    blen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

int
checkpoint_verify(const char *note, size_t len, EVP_PKEY *pub,
    struct checkpoint *cp, char *err, size_t errlen)
{
	const char	*p, *end = note + len, *nl, *sp;
	uint8_t		 id[4], blob[4 + ED25519_SIG];
	size_t		 blen, nlen, plen = strlen(SIG_PREFIX);

	if (checkpoint_parse(note, len, cp, err, errlen) == -1)
		return -1;
	if (checkpoint_keyid(pub, cp->origin, id) == -1)
		return parse_fail(err, errlen, "bad public key");
	blen = checkpoint_body_len(note, len);
	nlen = strlen(cp->origin);
	for (p = note + blen + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return parse_fail(err, errlen, "unterminated signature");
		if ((size_t)(nl - p) < plen || memcmp(p, SIG_PREFIX, plen) != 0)
			return parse_fail(err, errlen, "bad signature line");
		sp = p + plen;
		if ((size_t)(nl - sp) <= nlen || memcmp(sp, cp->origin, nlen) ||
		    sp[nlen] != ' ')
			continue;		/* someone else's signature */
		sp += nlen + 1;
		if (b64_decode(sp, (size_t)(nl - sp), blob, sizeof(blob)) ==
		    -1 || memcmp(blob, id, 4) != 0)
			continue;		/* another key of that name */
		if (checkpoint_sig_ok(note, blen, blob, pub))
			return 0;
		return parse_fail(err, errlen, "signature does not verify");
	}
	return parse_fail(err, errlen, "no signature by this key");
}

char *
checkpoint_read(int dirfd, const char *path, size_t *len)
{
	char	*buf;
	ssize_t	 n;
	int	 fd;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(CHECKPOINT_NOTE_MAX + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	/* One byte more than allowed tells an oversized file apart. */
	n = read(fd, buf, CHECKPOINT_NOTE_MAX + 1);
	close(fd);
	if (n < 0 || n > CHECKPOINT_NOTE_MAX) {
		free(buf);
		errno = n < 0 ? errno : EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

int
checkpoint_write(int dirfd, const char *name, const char *note)
{
	char	tmp[128];
	size_t	len = strlen(note);
	int	fd, saved;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	errno = 0;
	if (write(fd, note, len) != (ssize_t)len) {
		if (errno == 0)
			errno = ENOSPC;
		goto fail;
	}
	if (fsync(fd) == -1)
		goto fail;
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) == -1 || fsync(dirfd) == -1) {
		saved = errno;
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return 0;
fail:
	saved = errno;
	close(fd);
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}
