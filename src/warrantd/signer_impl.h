/*
 * signer_impl — what the two sides of the signer (signer.c in warrantd,
 * signer_child.c in the forked child) share: the frame types and bounds
 * and the framed reads and writes (signer.h describes the wire).
 */
#ifndef WD_SIGNER_IMPL_H
#define WD_SIGNER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"

#define SIGNER_HELLO		'K'
#define SIGNER_SIGN		'S'
#define SIGNER_NOTE		'N'
#define SIGNER_PUB_LEN		32
#define SIGNER_HELLO_LEN	(1 + SIGNER_PUB_LEN)
#define SIGNER_SIGN_LEN		(1 + 8 + MERKLE_HASH_LEN)
#define SIGNER_FRAME_MAX	(1 + CHECKPOINT_NOTE_MAX)
#define SIGNER_TIMEOUT_MS	10000	/* an answer; the start (key load) too */

/* Exit statuses of the child, for warrantd's log. */
#define SIGNER_EXIT_KEY		3	/* the key did not load */
#define SIGNER_EXIT_SANDBOX	4	/* could not confine itself */
#define SIGNER_EXIT_PROTOCOL	5	/* a frame that is not a sign request */

/* One frame of len bytes; -1 on any failure (errno set). */
int	signer_frame_write(int fd, const uint8_t *buf, size_t len);
/*
 * One frame into buf (at most max bytes), its length in *len; timeout_ms
 * -1 waits for ever. 0, or -1 with errno: EPIPE at end of file,
 * EMSGSIZE for a length out of [1, max], ETIMEDOUT.
 */
int	signer_frame_read(int fd, uint8_t *buf, size_t max, size_t *len,
	    int timeout_ms);
/* warrantd: the request for cp (its size and root; the origin is the signer's). */
void	signer_request_make(uint8_t out[SIGNER_SIGN_LEN],
	    const struct checkpoint *);
/*
 * The child: a request frame into cp under origin; -1 unless it is exactly
 * one. Untrusted (a warrantd taken over).
 */
int	signer_request_read(const uint8_t *buf, size_t len, const char *origin,
	    struct checkpoint *cp);
/*
 * warrantd: the note in an answer frame, NUL-terminated, malloc'd, if it is
 * one and verifies with pub as exactly cp; else NULL.
 */
char	*signer_answer_read(const uint8_t *buf, size_t len, EVP_PKEY *pub,
	    const struct checkpoint *cp);
/* The child: never returns. */
void	signer_child_main(int sock, const char *key_path, const char *origin)
	    __attribute__((noreturn));

#endif
