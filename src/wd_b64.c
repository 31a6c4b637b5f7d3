/*
 * wd_b64 — see include/wd_b64.h. Six bytes at a time: read as the top 48
 * bits of a big-endian 64-bit word, four lookups of 12 bits give eight
 * characters. The table is built once (pthread_once: the packaging thread
 * and the event loop may both encode).
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "wd_b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char		b64_pair[4096][2];
static pthread_once_t	b64_once = PTHREAD_ONCE_INIT;

static void
b64_build(void)
{
	for (unsigned i = 0; i < 4096; i++) {
		b64_pair[i][0] = b64_alphabet[i >> 6];
		b64_pair[i][1] = b64_alphabet[i & 63];
	}
}

static inline uint64_t
b64_load_be48(const uint8_t *p)
{
	return (uint64_t)p[0] << 40 | (uint64_t)p[1] << 32 |
	    (uint64_t)p[2] << 24 | (uint64_t)p[3] << 16 |
	    (uint64_t)p[4] << 8 | (uint64_t)p[5];
}

/* Whole groups of three only: returns the characters written. */
static size_t
b64_groups(char *out, const uint8_t *in, size_t len)
{
	char		*w = out;
	uint64_t	 v;
	uint32_t	 t;

	for (; len >= 6; in += 6, len -= 6, w += 8) {
		v = b64_load_be48(in);
		memcpy(w, b64_pair[(v >> 36) & 4095], 2);
		memcpy(w + 2, b64_pair[(v >> 24) & 4095], 2);
		memcpy(w + 4, b64_pair[(v >> 12) & 4095], 2);
		memcpy(w + 6, b64_pair[v & 4095], 2);
	}
	if (len >= 3) {
		t = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
		memcpy(w, b64_pair[t >> 12], 2);
		memcpy(w + 2, b64_pair[t & 4095], 2);
		w += 4;
	}
	return (size_t)(w - out);
}

/* One to two bytes, padded. */
static size_t
b64_tail(char *out, const uint8_t *in, size_t len)
{
	uint32_t t = (uint32_t)in[0] << 16 | (len > 1 ? (uint32_t)in[1] << 8 : 0);

	out[0] = b64_alphabet[t >> 18];
	out[1] = b64_alphabet[(t >> 12) & 63];
	out[2] = len > 1 ? b64_alphabet[(t >> 6) & 63] : '=';
	out[3] = '=';
	return 4;
}

size_t
wd_b64_encode(char *out, const uint8_t *in, size_t len)
{
	size_t	whole = len - len % 3, n;

	pthread_once(&b64_once, b64_build);
	n = b64_groups(out, in, whole);
	if (len > whole)
		n += b64_tail(out + n, in + whole, len - whole);
	return n;
}

void
wd_b64_init(struct wd_b64 *s)
{
	memset(s, 0, sizeof(*s));
	pthread_once(&b64_once, b64_build);
}

size_t
wd_b64_update(struct wd_b64 *s, char *out, const uint8_t *in, size_t len)
{
	uint8_t	g[3];
	size_t	n = 0, k, whole;

	if (s->ncarry > 0) {
		if (s->ncarry + len < 3) {
			memcpy(s->carry + s->ncarry, in, len);
			s->ncarry += len;
			return 0;
		}
		k = 3 - s->ncarry;
		memcpy(g, s->carry, s->ncarry);
		memcpy(g + s->ncarry, in, k);
		n = b64_groups(out, g, 3);
		in += k;
		len -= k;
		s->ncarry = 0;
	}
	whole = len - len % 3;
	n += b64_groups(out + n, in, whole);
	memcpy(s->carry, in + whole, len - whole);
	s->ncarry = len - whole;
	return n;
}

size_t
wd_b64_final(struct wd_b64 *s, char *out)
{
	size_t n = s->ncarry > 0 ? b64_tail(out, s->carry, s->ncarry) : 0;

	s->ncarry = 0;
	return n;
}
