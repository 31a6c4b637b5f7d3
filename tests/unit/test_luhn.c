/*
 * test_luhn — the shared Luhn digit (lib_luhn.c) on IMEIs (15 digits) and
 * ICCIDs (19 and 20 digits, ITU-T E.118), every single-digit error caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wd_luhn.h"

static void
test_imei(void **state)
{
	(void)state;
	assert_true(wd_luhn_ok("490154203237518", 15));
	assert_true(wd_luhn_ok("352099001761481", 15));
	assert_true(wd_luhn_ok("353915100123456", 15));
	assert_false(wd_luhn_ok("490154203237519", 15));
	assert_false(wd_luhn_ok("49015420323751a", 15));
	assert_int_equal(wd_luhn_digit("49015420323751", 14), '8');
	assert_int_equal(wd_luhn_digit("35332510922839", 14), '9');
	/* A check digit of 0 (sum already a multiple of ten). */
	assert_int_equal(wd_luhn_digit("00000000000000", 14), '0');
	assert_true(wd_luhn_ok("000000000000000", 15));
}

static void
test_iccid(void **state)
{
	(void)state;
	/* 19 digits + check digit, Mexican ICCID prefix 8952. */
	assert_int_equal(wd_luhn_digit("8952140061234567890", 19), '5');
	assert_true(wd_luhn_ok("89521400612345678905", 20));
	assert_false(wd_luhn_ok("89521400612345678909", 20));
	/* Two neighbours swapped (most transpositions are caught). */
	assert_false(wd_luhn_ok("89521400612345679805", 20));
	assert_int_equal(wd_luhn_digit("895214006123456789", 18), '6');
	assert_true(wd_luhn_ok("8952140061234567896", 19));
}

static void
test_every_single_error(void **state)
{
	char	 d[16] = "490154203237518";

	(void)state;
	for (size_t i = 0; i < 15; i++) {
		char	 keep = d[i];

		for (char c = '0'; c <= '9'; c++) {
			if (c == keep)
				continue;
			d[i] = c;
			assert_false(wd_luhn_ok(d, 15));
		}
		d[i] = keep;
	}
	assert_true(wd_luhn_ok(d, 15));
}

static void
test_edges(void **state)
{
	(void)state;
	assert_false(wd_luhn_ok(NULL, 15));
	assert_false(wd_luhn_ok("", 0));
	assert_false(wd_luhn_ok("0", 1));
	assert_true(wd_luhn_ok("00", 2));
	assert_true(wd_luhn_ok("18", 2));
	assert_false(wd_luhn_ok("1 8", 3));
	/* Only the n characters given are read. */
	assert_true(wd_luhn_ok("490154203237518XYZ", 15));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imei),
		cmocka_unit_test(test_iccid),
		cmocka_unit_test(test_every_single_error),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
