/*
 * hist — a log-linear latency histogram in the manner of HdrHistogram:
 * values below 2^HIST_SUB_BITS microseconds each have their own bucket,
 * above that every power of two is cut into 2^(HIST_SUB_BITS-1) equal
 * buckets, so any recorded value is known to within 1/512 of itself
 * (0.2%) at a fixed, small memory cost whatever the spread of values.
 * Counts are exact; min, max and the sum are kept exactly on the side.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	10
#define HIST_MAX_BITS	40	/* 2^40 us is 12.7 days: more clamps */
#define HIST_BUCKETS	(((HIST_MAX_BITS - HIST_SUB_BITS + 1) << \
			    (HIST_SUB_BITS - 1)) + (1 << (HIST_SUB_BITS - 1)))

struct hist {
	uint64_t	count;
	uint64_t	min;
	uint64_t	max;
	long double	sum;
	uint64_t	buckets[HIST_BUCKETS];
};

void		hist_init(struct hist *);
void		hist_record(struct hist *, uint64_t value);
void		hist_merge(struct hist *into, const struct hist *from);
/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket reaching that rank, never above the exact maximum. 0 if empty. */
uint64_t	hist_percentile(const struct hist *, double p);
double		hist_mean(const struct hist *);

#endif
