/*
 * lib_luhn.c — owns the Luhn check digit: the intake's IMEI check, the
 * reference back end's generator and its wire checks (include/wd_luhn.h).
 */
#include "wd_luhn.h"

char
wd_luhn_digit(const char *d, size_t n)
{
	unsigned	 sum = 0, v;

	/* From the right, every second digit of the payload is doubled. */
	for (size_t i = 0; i < n; i++) {
		v = (unsigned)(d[n - 1 - i] - '0');
		if (i % 2 == 0 && (v *= 2) > 9)
			v -= 9;
		sum += v;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

bool
wd_luhn_ok(const char *d, size_t n)
{
	if (d == 0 || n < 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	return wd_luhn_digit(d, n - 1) == d[n - 1];
}
