/*
 * seal — the journal's sealed fields (issue 14 §4): a record's target
 * identifiers and order references are encrypted per record, so that the
 * journal on the carrier's disk, in its backups and in an auditor's copy
 * holds no target list in clear, while every record stays a protobuf whose
 * bytes the Merkle tree commits to: verify, prove, consistency and report
 * need no key.
 *
 * Envelope (Record.sealed), all keys fresh per record:
 *	u8 version (1) | audit key id[4] | data key id[8] | E[32] |
 *	wrap_audit[48] | wrap_data[48] | body | tag[16]
 * E is an ephemeral X25519 public key. A random content key CEK encrypts
 * the Warrant__Sealed plaintext with AES-256-GCM; it is wrapped (AES-256-GCM)
 * once for the holder of the audit private key (X25519 ECDH with E, HKDF-
 * SHA256) and once for the daemon (HKDF-SHA256 of its data key, salted with
 * E), which needs it to rebuild its object store from its own journal.
 * Blind index tokens (Record.blind) let the auditor find the records of one
 * identifier without opening the others. docs/journal.md has the details
 * and the trade-offs.
 *
 * A struct seal holds keys only; sealing and opening are pure functions of
 * their inputs, so warrantd and warrant-audit share them, and calls may run
 * on any thread.
 */
#ifndef WD_SEAL_H
#define WD_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.pb-c.h"

#define SEAL_KEY_LEN		32
#define SEAL_AUDIT_ID_LEN	4
#define SEAL_DATA_ID_LEN	8
#define SEAL_TOKEN_LEN		16
#define SEAL_TOKENS_MAX		1024
#define SEAL_ENV_VERSION	1
#define SEAL_WRAP_LEN		48	/* CEK 32 + tag 16 */
#define SEAL_HDR_LEN		(1 + SEAL_AUDIT_ID_LEN + SEAL_DATA_ID_LEN + \
				    32 + 2 * SEAL_WRAP_LEN)
#define SEAL_TAG_LEN		16
#define SEAL_ENV_MIN		(SEAL_HDR_LEN + SEAL_TAG_LEN)
#define SEAL_VALUE_MAX		256	/* of a value to index */
#define SEAL_INDEX_KEYS_MAX	16	/* index keys an auditor loads */

/* Kinds of blind index tokens: identifier types 1..4, and these. */
#define SEAL_KIND_ORDER		0x40	/* Authorisation.reference */
#define SEAL_KIND_TASKREF	0x41	/* Task.reference (LDID / LIID) */

struct seal;

struct seal	*seal_new(void);
void		 seal_free(struct seal *);
/* The audit key: an X25519 public key (daemon) or private key (auditor). */
int		 seal_set_audit_public(struct seal *, const char *pemfile);
int		 seal_set_audit_private(struct seal *, const char *pemfile);
/* The daemon's 32-byte data key: seals for itself, keys the index. */
int		 seal_set_data_key(struct seal *, const uint8_t key[SEAL_KEY_LEN]);
bool		 seal_can_seal(const struct seal *);

/*
 * Read a data key file: exactly 32 bytes, a regular file not readable by
 * group or others. If create and the file does not exist, make one (0600,
 * random, fsynced). -1 logged.
 */
int		 seal_read_data_key(const char *path, bool create,
		    uint8_t key[SEAL_KEY_LEN]);

/*
 * Pack r (version, seq and time_us already set) with its sensitive fields
 * sealed and blanked, and its blind index tokens. r itself is not changed.
 * A record naming no target or order is packed as it is. *out is
 * malloc'ed. -1 with errno (ENOMEM, EMSGSIZE for too many tokens, EIO for
 * a crypto failure).
 */
int		 seal_pack(const struct seal *, const Warrant__Record *r,
		    uint8_t **out, size_t *len);
/* True if r carries a sealed envelope. */
bool		 seal_is_sealed(const Warrant__Record *r);
/*
 * Put r's sealed fields back in place, with the audit private key or else
 * the data key. 0 if done or nothing was sealed; -1 with err saying why
 * (no key for it, or the envelope does not authenticate).
 */
int		 seal_open(const struct seal *, Warrant__Record *r, char *err,
		    size_t errlen);

/*
 * A value of kind as the index sees it: digits only for MSISDN, IMSI and
 * IMEI, lower case without blanks for IP addresses, references trimmed.
 * -1 if nothing is left or it does not fit.
 */
int		 seal_normalise(unsigned kind, const char *v, char *out,
		    size_t outlen);
/*
 * Mask in place what looks like an identifier in free text that did not
 * come from us (a back end's error message, libxml2's): every run of hex
 * digits, dots and colons holding 7 or more decimal digits (MSISDN, IMSI,
 * IMEI), 2 or more colons (IPv6), or 3 dots and 4 digits (IPv4) becomes
 * '#'s, so that such text may go to the journal and the log.
 */
void		 seal_mask_identifiers(char *s);
/*
 * The blind index token of a value of kind (an IdentifierType, or
 * SEAL_KIND_*) in a record of time_us, under index key k. -1 if the value
 * is empty or too long.
 */
int		 seal_token(const uint8_t k[SEAL_KEY_LEN], int64_t time_us,
		    unsigned kind, const char *value,
		    uint8_t out[SEAL_TOKEN_LEN]);
/*
 * The daemon: make sure dirfd holds index-<data id>-<audit id>.sealed, its
 * index key sealed for the audit key, so an auditor can search. -1 logged.
 */
int		 seal_index_publish(const struct seal *, int dirfd);
/*
 * The auditor: open every index-*.sealed of dirfd with the audit private
 * key. Returns how many were loaded (files for other audit keys are
 * skipped), -1 on a file that is ours but does not open (logged).
 */
int		 seal_index_load(struct seal *, int dirfd);
/*
 * The auditor's check that search can be trusted: r, opened, carries
 * exactly the tokens of its identifiers and references under the index key
 * its envelope names. 0 yes, -1 no (a daemon hiding records from search
 * would show here), 1 no index key loaded for it.
 */
int		 seal_check_tokens(const struct seal *, const Warrant__Record *r);
/* Is the index key r's tokens were made with loaded? */
bool		 seal_index_has(const struct seal *, const Warrant__Record *r);
/* Does r carry the token of (kind, value) under any loaded index key? */
bool		 seal_index_match(const struct seal *, const Warrant__Record *r,
		    unsigned kind, const char *value);

#endif
