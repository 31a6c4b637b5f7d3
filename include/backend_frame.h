/*
 * backend_frame — the wire format of the back-end protocol as the gateway
 * (the client) sees it, as pure functions: bytes in, a checked Envelope or
 * "need more" or an error out; an Envelope in, a length-prefixed frame out.
 * No I/O and no state, so tests/fuzz/fuzz_backend_frame.c can drive it.
 *
 * A decoded frame has passed every check that needs no connection state:
 * length 1..1 MiB, a well-formed Envelope, a body a server may send, every
 * enum value defined by proto/backend.proto 1.0, every string UTF-8, and
 * the shape rules (request id 0 only for hello and connection errors, a
 * chunk of at most LIMIT_MAX_RECORDS_PER_CHUNK records each with its kind,
 * a 32-byte summary digest). Decoding is also bounded in memory: protobuf-c
 * allocates through a budget, so a small frame cannot expand into a large
 * allocation (many empty repeated elements).
 */
#ifndef WD_BACKEND_FRAME_H
#define WD_BACKEND_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "backend.pb-c.h"

#define BACKEND_FRAME_MAX	1048576		/* LIMIT_MAX_FRAME_BYTES */
#define BACKEND_FRAME_HDR	4		/* big-endian length */
#define BACKEND_PROTO_MAJOR	1
#define BACKEND_PROTO_MINOR	0

enum backend_frame_status {
	BACKEND_FRAME_OK = 0,
	BACKEND_FRAME_NEED_MORE,	/* a frame has begun: read on */
	BACKEND_FRAME_ERROR		/* close the connection: *why says why */
};

/*
 * Look at buf[0..len), the start of what a server sent. OK: *env is the
 * first frame's Envelope (free it with backend_frame_free) and *used its
 * size on the wire. NEED_MORE: the frame is incomplete (its length is
 * already checked, so a huge length prefix fails at once, not after the
 * bytes). ERROR: why says why, never quoting data from the frame.
 * Framing, budget and the generic checks are lib/codec.c's.
 */
enum backend_frame_status backend_frame_decode(const uint8_t *buf, size_t len,
	    Warrant__Backend__Envelope **env, size_t *used, char *why,
	    size_t whylen);
void	backend_frame_free(Warrant__Backend__Envelope *);

/* The frame of env (length prefix and Envelope), malloc'ed; NULL if over 1 MiB. */
uint8_t	*backend_frame_encode(const Warrant__Backend__Envelope *, size_t *len);

/*
 * Append to *buf (grown as needed, *cap its size) one record as the RECORD
 * DIGEST counts it: 32-bit big-endian length and canonical encoding.
 * Returns -1 only if out of memory or over BACKEND_FRAME_MAX.
 */
int	backend_frame_canonical(const ProtobufCMessage *, uint8_t **buf,
	    size_t *len, size_t *cap);

/* "not-found" etc. for an ErrorCode; "?" if not one. */
const char *backend_frame_error_name(int code);

#endif
