/*
 * codec — frames of protobuf-c messages (include/codec.h): the only place
 * that turns another process's untrusted bytes into protobuf-c structures,
 * for the back-end protocol and the parser workers alike.
 *
 * The checks are generic: enum values and UTF-8 are checked by walking each
 * message through its protobuf-c descriptor, so a field added to a .proto
 * is covered without code here.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "wd_utf8.h"

#define CODEC_DEPTH_MAX	8	/* messages inside messages */

void
codec_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* "1 MiB" for round sizes, else bytes: the limit as the protocol states it. */
static void
codec_size_text(size_t n, char *buf, size_t len)
{
	if (n >= 1048576 && n % 1048576 == 0)
		snprintf(buf, len, "%zu MiB", n / 1048576);
	else
		snprintf(buf, len, "%zu bytes", n);
}

int
codec_frame_len(const struct codec_spec *spec, const uint8_t h[CODEC_HDR],
    uint32_t *len, char *why, size_t whylen)
{
	char	max[32];

	*len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
	if (*len == 0) {
		snprintf(why, whylen, "frame of length 0");
		return -1;
	}
	if (*len > spec->frame_max) {
		codec_size_text(spec->frame_max, max, sizeof(max));
		snprintf(why, whylen, "frame longer than %s", max);
		return -1;
	}
	return 0;
}

/* --- the bounded allocator ------------------------------------------------ */

struct codec_budget {
	size_t	left;
	bool	refused;
};

static void *
codec_alloc(void *data, size_t size)
{
	struct codec_budget *b = data;

	if (size > b->left) {
		b->refused = true;
		return NULL;
	}
	b->left -= size;
	return malloc(size);
}

static void
codec_release(void *data, void *p)
{
	(void)data;
	free(p);
}

void
codec_free(ProtobufCMessage *m)
{
	/* Plain malloc'ed blocks: protobuf-c's default allocator frees them. */
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

/* --- the descriptor walk -------------------------------------------------- */

static int	codec_check_message(const ProtobufCMessage *, int, char *, size_t);

/* One value of a field: the k-th of an array, or the field itself. */
static int
codec_check_value(const ProtobufCFieldDescriptor *f, const void *arr,
    size_t k, int depth, char *why, size_t whylen)
{
	const ProtobufCMessage	*sub;
	const char		*s;
	int			 v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_ENUM:
		v = ((const int *)arr)[k];
		if (protobuf_c_enum_descriptor_get_value(f->descriptor, v) ==
		    NULL) {
			snprintf(why, whylen, "field %s: undefined enum value %d",
			    f->name, v);
			return -1;
		}
		return 0;
	case PROTOBUF_C_TYPE_STRING:
		s = ((char * const *)arr)[k];
		if (s != NULL && !wd_utf8_valid(s)) {
			snprintf(why, whylen, "field %s: not UTF-8", f->name);
			return -1;
		}
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = ((ProtobufCMessage * const *)arr)[k];
		return sub == NULL ? 0 :
		    codec_check_message(sub, depth + 1, why, whylen);
	default:
		return 0;
	}
}

static int
codec_check_message(const ProtobufCMessage *m, int depth, char *why,
    size_t whylen)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)m;
	const void				*arr;
	size_t					 n, k;
	unsigned				 i;

	if (depth > CODEC_DEPTH_MAX) {
		snprintf(why, whylen, "messages nested too deep");
		return -1;
	}
	/*
	 * Unknown fields are ignored (newer minor versions add some), but
	 * protobuf-c lets through a field numbered 0 in a non-minimal varint,
	 * which no encoder produces and its own parser refuses re-encoded.
	 */
	for (i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0) {
			snprintf(why, whylen, "a field numbered 0");
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
			if (codec_check_value(f, arr, k, depth, why, whylen) == -1)
				return -1;
	}
	return 0;
}

int
codec_check(const ProtobufCMessage *m, char *why, size_t whylen)
{
	return codec_check_message(m, 0, why, whylen);
}

/* --- decoding and encoding ------------------------------------------------ */

ProtobufCMessage *
codec_unpack(const struct codec_spec *spec, const uint8_t *buf, size_t n,
    char *why, size_t whylen)
{
	struct codec_budget	 b = { spec->alloc_floor + 4 * n, false };
	ProtobufCAllocator	 a = { codec_alloc, codec_release, &b };
	ProtobufCMessage	*m;

	if ((m = protobuf_c_message_unpack(spec->desc, &a, n, buf)) == NULL) {
		snprintf(why, whylen, "frame of %zu bytes is not a well-formed "
		    "%s%s", n, spec->desc->short_name, b.refused ?
		    " within the memory allowed for it" : "");
		return NULL;
	}
	if (codec_check(m, why, whylen) == -1) {
		codec_free(m);
		return NULL;
	}
	return m;
}

enum codec_status
codec_decode(const struct codec_spec *spec, const uint8_t *buf, size_t len,
    ProtobufCMessage **msg, size_t *used, char *why, size_t whylen)
{
	uint32_t	n;

	*msg = NULL;
	*used = 0;
	if (whylen > 0)
		why[0] = '\0';
	if (len < CODEC_HDR)
		return CODEC_NEED_MORE;
	if (codec_frame_len(spec, buf, &n, why, whylen) == -1)
		return CODEC_ERROR;
	if (len - CODEC_HDR < n)
		return CODEC_NEED_MORE;
	if ((*msg = codec_unpack(spec, buf + CODEC_HDR, n, why, whylen)) == NULL)
		return CODEC_ERROR;
	*used = CODEC_HDR + (size_t)n;
	return CODEC_OK;
}

uint8_t *
codec_encode(const struct codec_spec *spec, const ProtobufCMessage *m,
    size_t *len)
{
	size_t	 n = protobuf_c_message_get_packed_size(m);
	uint8_t	*buf;

	*len = 0;
	if (n == 0 || n > spec->frame_max ||
	    (buf = malloc(CODEC_HDR + n)) == NULL)
		return NULL;
	codec_put_be32(buf, (uint32_t)n);
	protobuf_c_message_pack(m, buf + CODEC_HDR);
	*len = CODEC_HDR + n;
	return buf;
}
