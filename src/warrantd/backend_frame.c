/*
 * backend_frame — decoding and encoding frames of the back-end protocol
 * (see include/backend_frame.h): pure functions over bytes, the only place
 * that turns a back end's untrusted bytes into protobuf-c structures.
 *
 * The framing, the memory budget and the generic checks (enum values,
 * UTF-8) are the shared codec's (lib/codec.c); here are the protocol's
 * own rules for what a server may send.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_frame.h"
#include "codec.h"

#define FRAME_RECORDS_MAX	500	/* LIMIT_MAX_RECORDS_PER_CHUNK */

/*
 * The client's side of the protocol (lib/codec.c does the framing, the
 * budget and the descriptor walk): a chunk of 500 small records takes a few
 * hundred KiB of structures from a few KiB on the wire, hence the floor.
 */
static const struct codec_spec backend_frame_spec = {
	.desc = &warrant__backend__envelope__descriptor,
	.frame_max = BACKEND_FRAME_MAX,
	.alloc_floor = 4 * 1024 * 1024,
};

void
backend_frame_free(Warrant__Backend__Envelope *env)
{
	codec_free(env != NULL ? &env->base : NULL);
}

/* Rules of the protocol's text that the schema cannot say. */
static int
frame_check_shape(const Warrant__Backend__Envelope *env, char *why,
    size_t whylen)
{
	const Warrant__Backend__RecordsChunk	*chunk;
	size_t					 i;

	switch (env->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_HELLO:
		if (env->request_id != 0) {
			snprintf(why, whylen, "hello with a request id");
			return -1;
		}
		return 0;
	case WARRANT__BACKEND__ENVELOPE__BODY_ERROR:
		if (env->error->code == WARRANT__BACKEND__ERROR_CODE__ERROR_UNSPECIFIED) {
			snprintf(why, whylen, "error without a code");
			return -1;
		}
		return 0;
	case WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER:
	case WARRANT__BACKEND__ENVELOPE__BODY_LOCATION:
	case WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION_ACK:
	case WARRANT__BACKEND__ENVELOPE__BODY_HEALTH:
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK:
		chunk = env->records_chunk;
		if (chunk->n_records > FRAME_RECORDS_MAX) {
			snprintf(why, whylen, "chunk of more than 500 records");
			return -1;
		}
		for (i = 0; i < chunk->n_records; i++)
			if (chunk->records[i]->kind_case ==
			    WARRANT__BACKEND__RECORD__KIND__NOT_SET) {
				snprintf(why, whylen, "record without a kind");
				return -1;
			}
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_SUMMARY:
		if (env->records_summary->sha256.len != 32) {
			snprintf(why, whylen, "summary digest is not 32 bytes");
			return -1;
		}
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY__NOT_SET:
		snprintf(why, whylen, "envelope without a body");
		return -1;
	default:
		snprintf(why, whylen, "a request sent by the back end");
		return -1;
	}
	if (env->request_id == 0) {
		snprintf(why, whylen, "answer with request id 0");
		return -1;
	}
	return 0;
}

enum backend_frame_status
backend_frame_decode(const uint8_t *buf, size_t len,
    Warrant__Backend__Envelope **env, size_t *used, char *why, size_t whylen)
{
	ProtobufCMessage	*m;

	*env = NULL;
	switch (codec_decode(&backend_frame_spec, buf, len, &m, used, why,
	    whylen)) {
	case CODEC_NEED_MORE:
		return BACKEND_FRAME_NEED_MORE;
	case CODEC_ERROR:
		return BACKEND_FRAME_ERROR;
	default:
		break;
	}
	*env = (Warrant__Backend__Envelope *)m;
	if (frame_check_shape(*env, why, whylen) == -1) {
		backend_frame_free(*env);
		*env = NULL;
		*used = 0;
		return BACKEND_FRAME_ERROR;
	}
	return BACKEND_FRAME_OK;
}

uint8_t *
backend_frame_encode(const Warrant__Backend__Envelope *env, size_t *len)
{
	return codec_encode(&backend_frame_spec, &env->base, len);
}

int
backend_frame_canonical(const ProtobufCMessage *m, uint8_t **buf, size_t *len,
    size_t *cap)
{
	size_t	 n = protobuf_c_message_get_packed_size(m), need, ncap;
	uint8_t	*p;

	if (n > BACKEND_FRAME_MAX)
		return -1;
	need = *len + 4 + n;
	if (need > *cap) {
		ncap = *cap ? *cap : 4096;
		while (ncap < need)
			ncap *= 2;
		if ((p = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = p;
		*cap = ncap;
	}
	p = *buf + *len;
	codec_put_be32(p, (uint32_t)n);
	protobuf_c_message_pack(m, p + 4);
	*len = need;
	return 0;
}

const char *
backend_frame_error_name(int code)
{
	static const char *names[] = {
		[WARRANT__BACKEND__ERROR_CODE__ERROR_UNSPECIFIED] = "unspecified",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND] = "not-found",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_RETAINED] = "not-retained",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_OUTSIDE_RETENTION] =
		    "outside-retention",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE] =
		    "temporarily-unavailable",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED] = "malformed",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED] = "unsupported",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_CANCELLED] = "cancelled",
		[WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL] = "internal",
	};

	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[code];
}
