/*
 * test_time — the shared timestamps (lib_time.c): xs:dateTime with zones
 * and fractions, leap days and their refusals, dates, the formats and
 * their round trip, times before the epoch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wd_time.h"

#define DAY	(86400LL * 1000000)

static void
test_parse_zones(void **state)
{
	int64_t	 z, t;

	(void)state;
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00Z", &z), 0);
	assert_int_equal(z, 1709294400LL * 1000000);
	/* The same instant in Mexico City (-06:00) and at +05:30. */
	assert_int_equal(wd_time_parse("2024-03-01T06:00:00-06:00", &t), 0);
	assert_int_equal(t, z);
	assert_int_equal(wd_time_parse("2024-03-01T17:30:00+05:30", &t), 0);
	assert_int_equal(t, z);
	/* Zones that cross a day boundary. */
	assert_int_equal(wd_time_parse("2024-03-02T02:00:00+14:00", &t), 0);
	assert_int_equal(t, z);
	assert_int_equal(wd_time_parse("2024-02-29T23:00:00-13:00", &t), 0);
	assert_int_equal(t, z);
	/* Fractions: 1 to 6 digits, scaled to µs. */
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00.5Z", &t), 0);
	assert_int_equal(t, z + 500000);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00.000001Z", &t), 0);
	assert_int_equal(t, z + 1);
	/* Refused: no zone, bad zones, 7 fraction digits, empty fraction. */
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00+14:30", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00+15:00", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00+05:60", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00+0530", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00.1234567Z", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00.Z", &t), -1);
	assert_int_equal(wd_time_parse("2024-03-01T12:00:00Zjunk", &t), -1);
	assert_int_equal(wd_time_parse(NULL, &t), -1);
}

static void
test_parse_leap_days(void **state)
{
	int64_t	 a, b;

	(void)state;
	assert_int_equal(wd_time_parse("2024-02-29T00:00:00Z", &a), 0);
	assert_int_equal(wd_time_parse("2024-03-01T00:00:00Z", &b), 0);
	assert_int_equal(b - a, DAY);
	assert_int_equal(wd_time_parse("2000-02-29T00:00:00Z", &a), 0);
	assert_int_equal(wd_time_parse("2023-02-29T00:00:00Z", &a), -1);
	assert_int_equal(wd_time_parse("1900-02-29T00:00:00Z", &a), -1);
	assert_int_equal(wd_time_parse("2100-02-29T00:00:00Z", &a), -1);
	assert_int_equal(wd_time_days_in_month(2024, 2), 29);
	assert_int_equal(wd_time_days_in_month(2023, 2), 28);
	assert_int_equal(wd_time_days_in_month(2000, 2), 29);
	assert_int_equal(wd_time_days_in_month(1900, 2), 28);
	assert_int_equal(wd_time_days_in_month(2024, 13), 0);
	/* Other impossible fields: month 13, April 31, 24:00, a leap second,
	 * year 0000. */
	assert_int_equal(wd_time_parse("2024-13-01T00:00:00Z", &a), -1);
	assert_int_equal(wd_time_parse("2024-04-31T00:00:00Z", &a), -1);
	assert_int_equal(wd_time_parse("2024-03-01T24:00:00Z", &a), -1);
	assert_int_equal(wd_time_parse("2016-12-31T23:59:60Z", &a), -1);
	assert_int_equal(wd_time_parse("0000-01-01T00:00:00Z", &a), -1);
}

static void
test_parse_date(void **state)
{
	int64_t	 d, t;

	(void)state;
	assert_int_equal(wd_time_parse_date("2024-02-29", &d), 0);
	assert_int_equal(wd_time_parse("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(d, t);
	assert_int_equal(wd_time_parse_date("2023-02-29", &d), -1);
	assert_int_equal(wd_time_parse_date("2024-2-29", &d), -1);
	assert_int_equal(wd_time_parse_date("2024-02-29T", &d), -1);
	assert_int_equal(wd_time_parse_date("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
}

static void
test_format(void **state)
{
	char	 b[40];
	int64_t	 t;

	(void)state;
	wd_time_format(0, b, sizeof(b));
	assert_string_equal(b, "1970-01-01T00:00:00.000000Z");
	wd_time_format_s(0, b, sizeof(b));
	assert_string_equal(b, "1970-01-01T00:00:00Z");
	/* Before the epoch: floor, not truncation toward zero. */
	wd_time_format(-1, b, sizeof(b));
	assert_string_equal(b, "1969-12-31T23:59:59.999999Z");
	wd_time_format_s(-1, b, sizeof(b));
	assert_string_equal(b, "1969-12-31T23:59:59Z");
	/* Leap day, and the round trip through the parser. */
	assert_int_equal(wd_time_parse("2024-02-29T23:59:59.123456+00:00", &t), 0);
	wd_time_format(t, b, sizeof(b));
	assert_string_equal(b, "2024-02-29T23:59:59.123456Z");
	assert_int_equal(wd_time_parse(b, &t), 0);
	wd_time_format_s(t, b, sizeof(b));
	assert_string_equal(b, "2024-02-29T23:59:59Z");
	/* A year that does not fit four digits gives "", never garbage. */
	wd_time_format(INT64_C(400000000000) * 1000000, b, sizeof(b));
	assert_string_equal(b, "");
	/* A short buffer is cut, never overrun. */
	wd_time_format_s(0, b, 5);
	assert_string_equal(b, "1970");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_zones),
		cmocka_unit_test(test_parse_leap_days),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
