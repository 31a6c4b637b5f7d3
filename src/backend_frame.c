/*
 * backend_frame — decoding and encoding frames of the back-end protocol
 * (see include/backend_frame.h): pure functions over bytes, the only place
 * that turns a back end's untrusted bytes into protobuf-c structures.
 *
 * The checks are generic where they can be: enum values and UTF-8 are
 * checked by walking each message through its protobuf-c descriptor, so a
 * field added to proto/backend.proto is covered without code here.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend_frame.h"

/*
 * What decoding one frame may allocate: protobuf-c structures are a few
 * times larger than their wire form (a record is a pointer, a struct and
 * its strings), so 4 bytes per wire byte plus a floor covers any honest
 * frame, while 2-byte empty elements repeated half a million times (40 MiB
 * of structures from 1 MiB) are refused.
 */
#define FRAME_BUDGET(n)		(4 * 1024 * 1024 + 4 * (size_t)(n))
#define FRAME_ALLOC_HDR		16	/* keeps malloc's alignment */
#define FRAME_DEPTH_MAX		8	/* messages inside messages */
#define FRAME_RECORDS_MAX	500	/* LIMIT_MAX_RECORDS_PER_CHUNK */

struct frame_budget {
	size_t	used;
	size_t	limit;
};

static void *
frame_alloc(void *data, size_t size)
{
	struct frame_budget	*b = data;
	unsigned char		*p;

	if (size > b->limit - b->used ||
	    size + FRAME_ALLOC_HDR > b->limit - b->used)
		return NULL;
	if ((p = malloc(size + FRAME_ALLOC_HDR)) == NULL)
		return NULL;
	b->used += size + FRAME_ALLOC_HDR;
	return p + FRAME_ALLOC_HDR;
}

static void
frame_release(void *data, void *ptr)
{
	(void)data;
	if (ptr != NULL)
		free((unsigned char *)ptr - FRAME_ALLOC_HDR);
}

/* Frees what frame_alloc gave, with no budget to account to. */
static ProtobufCAllocator frame_free_allocator = {
	.alloc = NULL,
	.free = frame_release,
	.allocator_data = NULL,
};

void
backend_frame_free(Warrant__Backend__Envelope *env)
{
	if (env != NULL)
		protobuf_c_message_free_unpacked(&env->base,
		    &frame_free_allocator);
}

/* Strictly well-formed UTF-8: no overlong forms, surrogates or > U+10FFFF. */
static bool
frame_utf8(const unsigned char *s)
{
	uint32_t	cp, min;
	size_t		len, k;

	while (*s) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0)
			len = 2, cp = *s & 0x1f, min = 0x80;
		else if ((*s & 0xf0) == 0xe0)
			len = 3, cp = *s & 0x0f, min = 0x800;
		else if ((*s & 0xf8) == 0xf0)
			len = 4, cp = *s & 0x07, min = 0x10000;
		else
			return false;
		for (k = 1; k < len; k++) {
			if ((s[k] & 0xc0) != 0x80)
				return false;	/* also stops at the NUL */
			cp = (cp << 6) | (s[k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += len;
	}
	return true;
}

static int	frame_check_message(const ProtobufCMessage *, int, const char **);

/* One value of a field: the n-th of an array, or the field itself. */
static int
frame_check_value(const ProtobufCFieldDescriptor *f, const void *arr,
    size_t k, int depth, const char **why)
{
	const ProtobufCMessage	*sub;
	const char		*s;
	int			 v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_ENUM:
		v = ((const int *)arr)[k];
		if (protobuf_c_enum_descriptor_get_value(f->descriptor, v) ==
		    NULL) {
			*why = "enum value not defined by the protocol";
			return -1;
		}
		return 0;
	case PROTOBUF_C_TYPE_STRING:
		s = ((char * const *)arr)[k];
		if (s != NULL && !frame_utf8((const unsigned char *)s)) {
			*why = "string is not UTF-8";
			return -1;
		}
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = ((ProtobufCMessage * const *)arr)[k];
		return sub == NULL ? 0 : frame_check_message(sub, depth + 1, why);
	default:
		return 0;
	}
}

static int
frame_check_message(const ProtobufCMessage *m, int depth, const char **why)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)m;
	const void				*arr;
	size_t					 n, k;
	unsigned				 i;

	if (depth > FRAME_DEPTH_MAX) {
		*why = "messages nested too deep";
		return -1;
	}
	/*
	 * Unknown fields are ignored (the protocol's rule), but protobuf-c lets
	 * through a field numbered 0 in a non-minimal varint, which no encoder
	 * produces and its own parser refuses once re-encoded.
	 */
	for (i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0) {
			*why = "a field numbered 0";
			return -1;
		}
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;	/* not the member that is set */
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			arr = *(void * const *)(base + f->offset);
		} else {
			n = 1;
			arr = base + f->offset;
		}
		for (k = 0; k < n; k++)
			if (frame_check_value(f, arr, k, depth, why) == -1)
				return -1;
	}
	return 0;
}

/* Rules of the protocol's text that the schema cannot say. */
static int
frame_check_shape(const Warrant__Backend__Envelope *env, const char **why)
{
	const Warrant__Backend__RecordsChunk	*chunk;
	size_t					 i;

	switch (env->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_HELLO:
		if (env->request_id != 0) {
			*why = "hello with a request id";
			return -1;
		}
		return 0;
	case WARRANT__BACKEND__ENVELOPE__BODY_ERROR:
		if (env->error->code == WARRANT__BACKEND__ERROR_CODE__ERROR_UNSPECIFIED) {
			*why = "error without a code";
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
			*why = "chunk of more than 500 records";
			return -1;
		}
		for (i = 0; i < chunk->n_records; i++)
			if (chunk->records[i]->kind_case ==
			    WARRANT__BACKEND__RECORD__KIND__NOT_SET) {
				*why = "record without a kind";
				return -1;
			}
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_SUMMARY:
		if (env->records_summary->sha256.len != 32) {
			*why = "summary digest is not 32 bytes";
			return -1;
		}
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY__NOT_SET:
		*why = "envelope without a body";
		return -1;
	default:
		*why = "a request sent by the back end";
		return -1;
	}
	if (env->request_id == 0) {
		*why = "answer with request id 0";
		return -1;
	}
	return 0;
}

enum backend_frame_status
backend_frame_decode(const uint8_t *buf, size_t len,
    Warrant__Backend__Envelope **env, size_t *used, const char **why)
{
	struct frame_budget	 budget;
	ProtobufCAllocator	 alloc = { frame_alloc, frame_release, &budget };
	ProtobufCMessage	*m;
	uint32_t		 n;

	*env = NULL;
	*used = 0;
	*why = NULL;
	if (len < BACKEND_FRAME_HDR)
		return BACKEND_FRAME_NEED_MORE;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	if (n == 0) {
		*why = "frame of length 0";
		return BACKEND_FRAME_ERROR;
	}
	if (n > BACKEND_FRAME_MAX) {
		*why = "frame longer than 1 MiB";
		return BACKEND_FRAME_ERROR;
	}
	if (len - BACKEND_FRAME_HDR < n)
		return BACKEND_FRAME_NEED_MORE;
	budget.used = 0;
	budget.limit = FRAME_BUDGET(n);
	m = protobuf_c_message_unpack(&warrant__backend__envelope__descriptor,
	    &alloc, n, buf + BACKEND_FRAME_HDR);
	if (m == NULL) {
		*why = "not a well-formed Envelope (or too costly to decode)";
		return BACKEND_FRAME_ERROR;
	}
	*env = (Warrant__Backend__Envelope *)m;
	if (frame_check_message(m, 0, why) == -1 ||
	    frame_check_shape(*env, why) == -1) {
		backend_frame_free(*env);
		*env = NULL;
		return BACKEND_FRAME_ERROR;
	}
	*used = BACKEND_FRAME_HDR + (size_t)n;
	return BACKEND_FRAME_OK;
}

uint8_t *
backend_frame_encode(const Warrant__Backend__Envelope *env, size_t *len)
{
	size_t	 n = protobuf_c_message_get_packed_size(&env->base);
	uint8_t	*buf;

	*len = 0;
	if (n == 0 || n > BACKEND_FRAME_MAX ||
	    (buf = malloc(BACKEND_FRAME_HDR + n)) == NULL)
		return NULL;
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	protobuf_c_message_pack(&env->base, buf + BACKEND_FRAME_HDR);
	*len = BACKEND_FRAME_HDR + n;
	return buf;
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
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
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
