/*
 * codec — the one framed protobuf-c codec every process and protocol of
 * warrantd uses: the back-end protocol (gateway client, src/warrantd/backend_frame.c,
 * and the reference server, src/warrant-backend/refbe_wire.c) and the parser workers' IPC
 * (lib/parser_msg.c). It owns the frame (a 4-byte big-endian length, then
 * one message), the size bounds, the bounded allocator protobuf-c decodes
 * through, and the descriptor walk that refuses what protobuf-c lets
 * through: enum values the .proto does not define, strings that are not
 * UTF-8, messages nested too deep, a field numbered 0.
 *
 * Pure functions over bytes, no I/O: fuzzed through its users' targets
 * (tests/fuzz/fuzz_backend_frame.c, tests/fuzz/fuzz_parser_msg.c).
 */
#ifndef WD_CODEC_H
#define WD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define CODEC_HDR	4	/* big-endian length of the message that follows */

/* What one protocol allows: its message, the frame's size, the memory. */
struct codec_spec {
	const ProtobufCMessageDescriptor *desc;
	size_t		frame_max;	/* bytes of message after the header */
	/*
	 * Decoding a message of n bytes may allocate alloc_floor + 4n bytes
	 * (protobuf-c's structures are a few times their wire form): a small
	 * frame of many empty repeated elements cannot grow into a large
	 * allocation.
	 */
	size_t		alloc_floor;
};

enum codec_status {
	CODEC_OK = 0,
	CODEC_NEED_MORE,	/* a frame has begun: read on */
	CODEC_ERROR		/* close the connection: why says why */
};

/* The length in a frame's header h: 0, or -1 (why) if 0 or over frame_max. */
int	codec_frame_len(const struct codec_spec *, const uint8_t h[CODEC_HDR],
	    uint32_t *len, char *why, size_t whylen);

/*
 * Look at buf[0..len), the start of a byte stream. OK: *msg is the first
 * frame's message, unpacked within its budget and checked by codec_check
 * (free it with codec_free), *used its size on the wire. NEED_MORE: the
 * frame is incomplete (its length is already checked, so a huge length
 * fails at once). ERROR: why says why, never quoting the frame's data.
 */
enum codec_status codec_decode(const struct codec_spec *, const uint8_t *buf,
	    size_t len, ProtobufCMessage **msg, size_t *used, char *why,
	    size_t whylen);

/* One message of n bytes (no header): unpacked and checked, or NULL (why). */
ProtobufCMessage *codec_unpack(const struct codec_spec *, const uint8_t *,
	    size_t n, char *why, size_t whylen);

/*
 * The generic checks on a message protobuf-c accepted: every enum value
 * defined, every string strictly UTF-8, nesting at most 8 deep, no field
 * numbered 0 among the unknown ones. 0, or -1 with why.
 */
int	codec_check(const ProtobufCMessage *, char *why, size_t whylen);

/* Frees what codec_decode/codec_unpack gave (plain malloc'ed memory). */
void	codec_free(ProtobufCMessage *);

/* The frame of m (header and message), malloc'ed; NULL if over frame_max. */
uint8_t	*codec_encode(const struct codec_spec *, const ProtobufCMessage *,
	    size_t *len);

/* Big-endian 32-bit, as in a frame's header. */
void	 codec_put_be32(uint8_t *p, uint32_t v);

#endif
