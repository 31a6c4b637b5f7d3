/*
 * hist — see hist.h. The bucket index of a value v >= 2^S (S sub-bucket
 * bits) is built from its exponent and its top S bits:
 *	shift = msb(v) - S + 1,  index = (shift << (S - 1)) + (v >> shift)
 * where v >> shift always lies in [2^(S-1), 2^S), so consecutive powers of
 * two map to consecutive runs of 2^(S-1) buckets with no gap or overlap.
 */
#include <string.h>

#include "hist.h"

#define HIST_VALUE_MAX	((UINT64_C(1) << HIST_MAX_BITS) - 1)

static unsigned
hist_msb(uint64_t v)
{
	return 63 - (unsigned)__builtin_clzll(v);
}

static unsigned
hist_index(uint64_t v)
{
	unsigned shift;

	if (v < (UINT64_C(1) << HIST_SUB_BITS))
		return (unsigned)v;
	shift = hist_msb(v) - HIST_SUB_BITS + 1;
	return (shift << (HIST_SUB_BITS - 1)) + (unsigned)(v >> shift);
}

/* Highest value that falls in bucket i. */
static uint64_t
hist_bucket_high(unsigned i)
{
	unsigned	shift;
	uint64_t	mant;

	if (i < (1u << HIST_SUB_BITS))
		return i;
	shift = (i >> (HIST_SUB_BITS - 1)) - 1;
	mant = i - (shift << (HIST_SUB_BITS - 1));
	return ((mant + 1) << shift) - 1;
}

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void
hist_record(struct hist *h, uint64_t v)
{
	if (v > HIST_VALUE_MAX)
		v = HIST_VALUE_MAX;
	h->buckets[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void
hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t	rank, seen = 0, v;

	if (h->count == 0)
		return 0;
	if (p <= 0)
		return h->min;
	/* The smallest value with at least p% of the values at or below it. */
	rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			v = hist_bucket_high(i);
			if (v < h->min)
				v = h->min;
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double
hist_mean(const struct hist *h)
{
	return h->count ? (double)(h->sum / h->count) : 0.0;
}
