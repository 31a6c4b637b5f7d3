/*
 * bwire — the back-end protocol on the wire (proto/backend.proto): frames,
 * the checks every received Envelope passes before anything acts on it,
 * and the streamed records answer with its digest.
 *
 * Framing, the decoding budget and the descriptor walk (an undefined enum
 * value or a string that is not UTF-8 is a protocol error, as the proto's
 * header says) are the shared codec's (lib/codec.c), as on the gateway's
 * side; here are the server's own rules.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "refbe_server.h"
#include "codec.h"
#include "log.h"
#include "wd_luhn.h"

/*
 * The server's side of the protocol: requests are small, so 64 KiB plus
 * four bytes per wire byte is all a request frame may cost to decode.
 */
static const struct codec_spec refbe_wire_spec = {
	.desc = &warrant__backend__envelope__descriptor,
	.frame_max = REFBE_WIRE_MAX_FRAME,
	.alloc_floor = 64 * 1024,
};

int
refbe_wire_frame_len(const uint8_t h[4], uint32_t *len)
{
	char	why[64];

	return codec_frame_len(&refbe_wire_spec, h, len, why, sizeof(why));
}

static int
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return 0;
	}
	return -1;
}

int
refbe_wire_peek_fields(const uint8_t *p, size_t n, uint32_t *mask)
{
	const uint8_t	*end = p + n;
	uint64_t	 tag, v;

	*mask = 0;
	while (p < end) {
		if (varint(&p, end, &tag) == -1 || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
			return -1;
		if (tag >> 3 < 32)
			*mask |= 1u << (tag >> 3);
		switch (tag & 7) {
		case 0:
			if (varint(&p, end, &v) == -1)
				return -1;
			break;
		case 1:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 2:
			if (varint(&p, end, &v) == -1 || v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* --- validation ------------------------------------------------------------ */

int
refbe_wire_valid(const ProtobufCMessage *m, char *why, size_t len)
{
	return codec_check(m, why, len);
}

Warrant__Backend__Envelope *
refbe_wire_decode(const uint8_t *buf, size_t n, char *why, size_t len)
{
	return (Warrant__Backend__Envelope *)codec_unpack(&refbe_wire_spec, buf, n,
	    why, len);
}

/* --- request content ------------------------------------------------------- */

static int
all_digits(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789") == n;
}

#define MALFORMED	WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED

static int
check_id(const Warrant__Backend__Identifier *t, int ip_ok, char *why, size_t len)
{
	unsigned char bin[16];

	if (t == NULL || t->value == NULL) {
		snprintf(why, len, "no target identifier");
		return MALFORMED;
	}
	switch (t->type) {
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_MSISDN:
		if (all_digits(t->value, 12) && strncmp(t->value, "52", 2) == 0)
			return 0;
		snprintf(why, len, "MSISDN must be 52 and 10 digits");
		return MALFORMED;
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMSI:
		if (all_digits(t->value, 15) && strncmp(t->value, "334", 3) == 0)
			return 0;
		snprintf(why, len, "IMSI must be 15 digits with MCC 334");
		return MALFORMED;
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMEI:
		if (all_digits(t->value, 15) && wd_luhn_ok(t->value, 15))
			return 0;
		snprintf(why, len, "IMEI must be 15 digits with a valid Luhn digit");
		return MALFORMED;
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT:
		if (!ip_ok) {
			snprintf(why, len, "IP and port identify subscribers only");
			return MALFORMED;
		}
		if (strlen(t->value) >= INET6_ADDRSTRLEN ||
		    (inet_pton(AF_INET, t->value, bin) != 1 &&
		    inet_pton(AF_INET6, t->value, bin) != 1)) {
			snprintf(why, len, "not an IP address");
			return MALFORMED;
		}
		if (t->port == 0 || t->port > 65535) {
			snprintf(why, len, "port must be 1..65535");
			return MALFORMED;
		}
		return 0;
	default:
		snprintf(why, len, "no identifier type");
		return MALFORMED;
	}
}

int
refbe_wire_check_request(const Warrant__Backend__Envelope *env, int64_t now, char *why,
    size_t len)
{
	const Warrant__Backend__RecordsQuery		*rq;
	const Warrant__Backend__PreservationRequest	*pr;
	int						 rc;

	switch (env->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER_QUERY:
		if ((rc = check_id(env->subscriber_query->target, 1, why, len)))
			return rc;
		if (env->subscriber_query->target->type ==
		    WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT &&
		    env->subscriber_query->at_us == 0) {
			snprintf(why, len, "IP and port need the instant (at_us)");
			return MALFORMED;
		}
		return 0;
	case WARRANT__BACKEND__ENVELOPE__BODY_LOCATION_QUERY:
		return check_id(env->location_query->target, 0, why, len);
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_QUERY:
		rq = env->records_query;
		if ((rc = check_id(rq->target, 0, why, len)))
			return rc;
		if (rq->kind == WARRANT__BACKEND__RECORDS_KIND__RECORDS_UNSPECIFIED) {
			snprintf(why, len, "records kind not given");
			return MALFORMED;
		}
		if (rq->start_us >= rq->end_us) {
			snprintf(why, len, "window must have start_us < end_us");
			return MALFORMED;
		}
		return 0;
	case WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION:
		pr = env->preservation;
		if ((rc = check_id(pr->target, 0, why, len)))
			return rc;
		if (pr->action == WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_UNSPECIFIED) {
			snprintf(why, len, "preservation action not given");
			return MALFORMED;
		}
		if (pr->reference == NULL || pr->reference[0] == '\0' ||
		    strlen(pr->reference) > 128) {
			snprintf(why, len, "reference must be 1..128 bytes");
			return MALFORMED;
		}
		if (pr->action == WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE &&
		    pr->until_us <= now) {
			snprintf(why, len, "a freeze must end in the future");
			return MALFORMED;
		}
		return 0;
	case WARRANT__BACKEND__ENVELOPE__BODY_HEALTH_QUERY:
		return 0;
	default:
		snprintf(why, len, "not a request");
		return WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED;
	}
}

/* --- encoding -------------------------------------------------------------- */

uint8_t *
refbe_wire_encode(const Warrant__Backend__Envelope *env, size_t *len)
{
	uint8_t	*buf;

	if ((buf = codec_encode(&refbe_wire_spec, &env->base, len)) == NULL)
		log_warnx("answer of %zu bytes: no frame (over the limit or out "
		    "of memory)", warrant__backend__envelope__get_packed_size(env));
	return buf;
}

uint8_t *
refbe_wire_error(uint64_t id, int code, const char *msg, size_t *len)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Error		err = WARRANT__BACKEND__ERROR__INIT;

	err.code = (Warrant__Backend__ErrorCode)code;
	err.message = (char *)msg;
	if (code == WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE)
		err.retry_after_ms = 500;
	env.request_id = id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_ERROR;
	env.error = &err;
	return refbe_wire_encode(&env, len);
}

/* --- streamed records -------------------------------------------------------- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

static int
grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t	*p;
	size_t	 n = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if ((p = realloc(*buf, n)) == NULL) {
		log_warn("records buffer");
		return -1;
	}
	*buf = p;
	*cap = n;
	return 0;
}

int
refbe_wire_stream_init(struct refbe_wire_stream *s, uint64_t id, unsigned per_chunk)
{
	memset(s, 0, sizeof(*s));
	s->request_id = id;
	s->per_chunk = per_chunk == 0 || per_chunk > REFBE_WIRE_MAX_CHUNK ?
	    REFBE_WIRE_MAX_CHUNK : per_chunk;
	if ((s->md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
		log_warnx("records digest: cannot initialise SHA-256");
		return -1;
	}
	return 0;
}

/*
 * The record's canonical bytes (protobuf-c packs fields in number order,
 * skips proto3 defaults, keeps no unknown fields here) go to the digest as
 * BE32 length || bytes and into the chunk as field 2 (tag 0x12).
 */
int
refbe_wire_stream_add(struct refbe_wire_stream *s, const Warrant__Backend__Record *r)
{
	size_t	n = warrant__backend__record__get_packed_size(r);
	uint8_t	hdr[4];

	if (n > REFBE_WIRE_MAX_RECORD) {
		log_warnx("record of %zu bytes exceeds %d", n, REFBE_WIRE_MAX_RECORD);
		return -1;
	}
	if (grow(&s->rec, &s->rcap, n) == -1 || grow(&s->body, &s->cap, s->len + n + 11) == -1)
		return -1;
	warrant__backend__record__pack(r, s->rec);
	codec_put_be32(hdr, (uint32_t)n);
	if (!EVP_DigestUpdate(s->md, hdr, 4) || !EVP_DigestUpdate(s->md, s->rec, n))
		return -1;
	s->body[s->len++] = 0x12;
	s->len += put_varint(s->body + s->len, n);
	memcpy(s->body + s->len, s->rec, n);
	s->len += n;
	s->nrec++;
	s->count++;
	/* 500 records of at most 64 KiB would not fit 1 MiB: cut at 768 KiB. */
	return s->nrec >= s->per_chunk || s->len >= 768 * 1024;
}

/* Envelope{1: request_id, 15: RecordsChunk{1: seq, 2: records...}} */
uint8_t *
refbe_wire_stream_chunk(struct refbe_wire_stream *s, size_t *len)
{
	uint8_t	 head[32], chead[16], *buf;
	size_t	 hl = 0, cl = 0, clen, total;

	if (s->seq != 0) {
		chead[cl++] = 0x08;
		cl += put_varint(chead + cl, s->seq);
	}
	clen = cl + s->len;
	if (s->request_id != 0) {
		head[hl++] = 0x08;
		hl += put_varint(head + hl, s->request_id);
	}
	head[hl++] = 0x7a;		/* field 15, length-delimited */
	hl += put_varint(head + hl, clen);
	total = hl + clen;
	if ((buf = malloc(4 + total)) == NULL) {
		log_warn("records chunk");
		return NULL;
	}
	codec_put_be32(buf, (uint32_t)total);
	memcpy(buf + 4, head, hl);
	memcpy(buf + 4 + hl, chead, cl);
	memcpy(buf + 4 + hl + cl, s->body, s->len);
	*len = 4 + total;
	s->seq++;
	s->nrec = 0;
	s->len = 0;
	return buf;
}

uint8_t *
refbe_wire_stream_summary(struct refbe_wire_stream *s, size_t *len)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__RecordsSummary sum = WARRANT__BACKEND__RECORDS_SUMMARY__INIT;
	uint8_t				md[32];
	unsigned			mdlen = 0;

	if (!EVP_DigestFinal_ex(s->md, md, &mdlen) || mdlen != sizeof(md)) {
		log_warnx("records digest: SHA-256 failed");
		return NULL;
	}
	sum.count = s->count;
	sum.chunks = s->seq;
	sum.sha256.data = md;
	sum.sha256.len = sizeof(md);
	env.request_id = s->request_id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_SUMMARY;
	env.records_summary = &sum;
	return refbe_wire_encode(&env, len);
}

void
refbe_wire_stream_free(struct refbe_wire_stream *s)
{
	EVP_MD_CTX_free(s->md);
	free(s->body);
	free(s->rec);
	memset(s, 0, sizeof(*s));
}
