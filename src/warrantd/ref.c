/*
 * ref — see include/ref.h. The random part comes from OpenSSL's CSPRNG
 * (RAND_bytes), reduced to 16 decimal digits without bias by rejection.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "log.h"
#include "ref.h"

#define REF_MOD		10000000000000000ULL		/* 10^16 */
/* The largest multiple of 10^16 below 2^64: draws above it are redrawn. */
#define REF_LIMIT	(UINT64_MAX - UINT64_MAX % REF_MOD)

static int
ref_random(uint64_t *out)
{
	uint64_t	v;

	do {
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1) {
			log_warnx("carrier reference: the random generator "
			    "failed");
			return -1;
		}
	} while (v >= REF_LIMIT);
	*out = v % REF_MOD;
	return 0;
}

static int
ref_seen(const struct ref_gen *g, uint64_t r)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->recent[i] == r)
			return 1;
	return 0;
}

int
ref_new(struct ref_gen *g, time_t now, char *out, size_t len)
{
	struct tm	tm;
	uint64_t	r;

	if (now != g->second) {
		g->second = now;
		g->n = 0;
	}
	do {
		if (ref_random(&r) == -1)
			return -1;
	} while (ref_seen(g, r));
	/*
	 * Past REF_RECENT in one second the chance of a repeat among 10^16
	 * is still below 10^-9; the list only bounds its memory.
	 */
	if (g->n < REF_RECENT)
		g->recent[g->n++] = r;
	gmtime_r(&now, &tm);
	snprintf(out, len, REF_PREFIX "%04d%02d%02d-%02d%02d%02d%016" PRIu64,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, r);
	return 0;
}
