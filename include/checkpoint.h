/*
 * checkpoint — signed statements of the journal's Merkle tree: the C2SP
 * tlog-checkpoint body ("<origin>\n<size>\n<base64 root>\n") in a C2SP
 * signed note, signed with Ed25519. An auditor who keeps one checkpoint can
 * later prove that the journal was only appended to (consistency proof) and
 * that a record is in it (inclusion proof); rolling the journal back or
 * rewriting it needs the signing key.
 */
#ifndef WD_CHECKPOINT_H
#define WD_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "merkle.h"

#define CHECKPOINT_NOTE_MAX	8192	/* larger files are not ours */
#define CHECKPOINT_ORIGIN_MAX	256
#define CHECKPOINT_LATEST	"checkpoint.latest"

struct checkpoint {
	char		origin[CHECKPOINT_ORIGIN_MAX];
	uint64_t	size;
	merkle_hash	root;
};

/* Ed25519 keys from PEM files; public accepts a public or private key. */
EVP_PKEY	*checkpoint_load_private(const char *path);
EVP_PKEY	*checkpoint_load_public(const char *path);
/* Signed-note key id: SHA-256(name || 0x0A || 0x01 || pubkey)[0..4). */
int		 checkpoint_keyid(EVP_PKEY *, const char *name, uint8_t id[4]);
/* The signed note for cp, signed by key under name (cp->origin). */
char		*checkpoint_sign(const struct checkpoint *, EVP_PKEY *key);
/* Parse the note's body only: no signature check. */
int		 checkpoint_parse(const char *note, size_t len,
		    struct checkpoint *, char *err, size_t errlen);
/* Parse and verify that a signature by pub under cp's origin is valid. */
int		 checkpoint_verify(const char *note, size_t len, EVP_PKEY *pub,
		    struct checkpoint *, char *err, size_t errlen);
/* Read a note file (bounded by CHECKPOINT_NOTE_MAX), NUL-terminated. */
char		*checkpoint_read(int dirfd, const char *path, size_t *len);
/* Write name in dirfd atomically and durably (temp, fsync, rename, fsync). */
int		 checkpoint_write(int dirfd, const char *name, const char *note);

#endif
