/*
 * wd_b64 — see include/wd_b64.h. Six bytes at a time: read as the top 48
 * bits of a big-endian 64-bit word, four lookups of 12 bits give eight
 * characters, stored at once; with AVX2 (checked at run time), 24 bytes at
 * a time. The table is built once (pthread_once: the packaging thread and
 * the event loop may both encode).
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "wd_b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two characters for each 12 bits, as they lie in memory. */
static uint16_t		b64_pair[4096];
static pthread_once_t	b64_once = PTHREAD_ONCE_INIT;
static int		b64_avx2;	/* the CPU has AVX2 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define B64_HAVE_AVX2	1

/*
 * 24 bytes into 32 characters at a time (W. Mula and D. Lemire, "Faster
 * Base64 Encoding and Decoding using AVX2 Instructions", 2018): each
 * 128-bit lane takes 12 bytes, spread to one 3-byte group per 32 bits,
 * split into four 6-bit indices by multiplies, turned into characters by
 * one table lookup of the offset to add. Reads 28 bytes for each 24 used.
 */
__attribute__((target("avx2")))
static size_t
b64_groups_avx2(char *out, const uint8_t *in, size_t len)
{
	const __m256i	shuf = _mm256_set_epi8(
	    10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1,
	    10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
	const __m256i	shift = _mm256_setr_epi8(
	    'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
	    '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
	    '/' - 63, 'A', 0, 0,
	    'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
	    '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
	    '/' - 63, 'A', 0, 0);
	char		*w = out;
	__m256i		 v, t0, t1, t2, t3, idx, r, less;

	for (; len >= 28; in += 24, len -= 24, w += 32) {
		v = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(in + 12)),
		    _mm_loadu_si128((const __m128i *)in));
		v = _mm256_shuffle_epi8(v, shuf);
		t0 = _mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00));
		t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
		t2 = _mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0));
		t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
		idx = _mm256_or_si256(t1, t3);
		r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
		less = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx);
		r = _mm256_or_si256(r, _mm256_and_si256(less,
		    _mm256_set1_epi8(13)));
		r = _mm256_add_epi8(_mm256_shuffle_epi8(shift, r), idx);
		_mm256_storeu_si256((__m256i *)w, r);
	}
	return (size_t)(w - out);
}
#endif

static void
b64_build(void)
{
	char c[2];

	for (unsigned i = 0; i < 4096; i++) {
		c[0] = b64_alphabet[i >> 6];
		c[1] = b64_alphabet[i & 63];
		memcpy(&b64_pair[i], c, 2);
	}
#ifdef B64_HAVE_AVX2
	__builtin_cpu_init();
	b64_avx2 = __builtin_cpu_supports("avx2");
#endif
}

static inline void
b64_put4(char *w, uint32_t t)
{
	memcpy(w, &b64_pair[t >> 12], 2);
	memcpy(w + 2, &b64_pair[t & 4095], 2);
}

/* Whole groups of three only: returns the characters written. */
static size_t
b64_groups(char *out, const uint8_t *in, size_t len)
{
	char		*w = out;
	uint64_t	 v, o;
	size_t		 n;

#ifdef B64_HAVE_AVX2
	if (b64_avx2) {
		n = b64_groups_avx2(w, in, len);
		w += n;
		in += n / 4 * 3;
		len -= n / 4 * 3;
	}
#endif
	(void)n;
	/* Eight bytes loaded, six used: the last six go the slow way. */
	for (; len >= 8; in += 6, len -= 6, w += 8) {
		memcpy(&v, in, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		v = __builtin_bswap64(v);
		o = (uint64_t)b64_pair[(v >> 52) & 4095] |
		    (uint64_t)b64_pair[(v >> 40) & 4095] << 16 |
		    (uint64_t)b64_pair[(v >> 28) & 4095] << 32 |
		    (uint64_t)b64_pair[(v >> 16) & 4095] << 48;
		memcpy(w, &o, 8);
#else
		(void)o;
		b64_put4(w, (uint32_t)(v >> 40) & 0xffffff);
		b64_put4(w + 4, (uint32_t)(v >> 16) & 0xffffff);
#endif
	}
	for (; len >= 3; in += 3, len -= 3, w += 4)
		b64_put4(w, (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2]);
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
