/*
 * test_ref — carrier references (src/warrantd/ref.c, issue 14 section 5). The attack
 * it closes: an authority given MXC-20260301-00000040 and, an hour later,
 * MXC-20260301-00000052 knew that eleven requests of other authorities came
 * in between. References now carry the time and 16 random digits: they
 * sort by time, never repeat, and tell nothing about each other.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

#define N	20000

static struct ref_gen	gen;
static char		refs[N][REF_LEN + 1];

static int
cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* MXC-YYYYMMDD-HHMMSS then 16 digits, nothing else. */
static void
assert_form(const char *r, const char *stamp)
{
	assert_int_equal(strlen(r), REF_LEN);
	assert_memory_equal(r, stamp, strlen(stamp));
	for (size_t i = strlen(stamp); i < REF_LEN; i++)
		assert_true(r[i] >= '0' && r[i] <= '9');
}

/* 2026-03-01 10:20:30 UTC */
#define T0	((time_t)1772360430)

static void
test_form_and_time(void **state)
{
	char	r[REF_LEN + 1];

	(void)state;
	memset(&gen, 0, sizeof(gen));
	assert_int_equal(ref_new(&gen, T0, r, sizeof(r)), 0);
	assert_form(r, "MXC-20260301-102030");
	assert_int_equal(ref_new(&gen, T0 + 86399, r, sizeof(r)), 0);
	assert_form(r, "MXC-20260302-102029");
}

/*
 * Many in one second (the worst case for uniqueness), then one per second:
 * all distinct, sorted order is time order, and consecutive ones do not
 * differ by a small step as counters do.
 */
static void
test_unique_sorted_opaque(void **state)
{
	uint64_t	a, b;
	int		close_pairs = 0;

	(void)state;
	memset(&gen, 0, sizeof(gen));
	for (int i = 0; i < N / 2; i++)
		assert_int_equal(ref_new(&gen, T0, refs[i], sizeof(refs[i])), 0);
	for (int i = N / 2; i < N; i++)
		assert_int_equal(ref_new(&gen, T0 + 1 + i, refs[i],
		    sizeof(refs[i])), 0);
	for (int i = 1; i < N; i++) {
		a = strtoull(refs[i - 1] + REF_LEN - REF_RANDOM, NULL, 10);
		b = strtoull(refs[i] + REF_LEN - REF_RANDOM, NULL, 10);
		if ((a > b ? a - b : b - a) < 1000000)
			close_pairs++;
	}
	/* A counter gives N - 1 such pairs; chance gives ~0 (p < 10^-6). */
	assert_true(close_pairs <= 1);
	/* Those of later seconds sort after those of earlier ones. */
	for (int i = N / 2 + 1; i < N; i++)
		assert_true(strcmp(refs[i - 1], refs[i]) < 0);
	qsort(refs, N, sizeof(refs[0]), cmp);
	for (int i = 1; i < N; i++)
		assert_true(strcmp(refs[i - 1], refs[i]) != 0);
}

/* The guard remembers what it gave in the current second, and only that. */
static void
test_repeat_redrawn(void **state)
{
	char		r[REF_LEN + 1];
	uint64_t	v;

	(void)state;
	memset(&gen, 0, sizeof(gen));
	assert_int_equal(ref_new(&gen, T0, r, sizeof(r)), 0);
	v = strtoull(r + REF_LEN - REF_RANDOM, NULL, 10);
	assert_int_equal(gen.n, 1);
	assert_true(gen.recent[0] == v);
	/* A new second forgets the old one's. */
	assert_int_equal(ref_new(&gen, T0 + 1, r, sizeof(r)), 0);
	assert_int_equal(gen.n, 1);
	assert_true(gen.second == T0 + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_and_time),
		cmocka_unit_test(test_unique_sorted_opaque),
		cmocka_unit_test(test_repeat_redrawn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
