/*
 * test_crc32c — CRC-32C against the RFC 3720 §B.4 vectors and the usual
 * check value, and that incremental use equals one pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crc32c.h"

static void
test_rfc3720_vectors(void **state)
{
	uint8_t	buf[32];
	int	i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x8A9136AA);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x62A8AB43);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x46DD794E);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x113FDB5C);
}

static void
test_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283);
	assert_int_equal(crc32c(0, "", 0), 0);
}

/* Every split point, so the 8-byte fast path and the tail both agree. */
static void
test_incremental(void **state)
{
	uint8_t		buf[100], big[101];
	uint32_t	whole, c;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	whole = crc32c(0, buf, sizeof(buf));
	for (i = 0; i <= sizeof(buf); i++) {
		c = crc32c(0, buf, i);
		c = crc32c(c, buf + i, sizeof(buf) - i);
		assert_int_equal(c, whole);
	}
	/* An unaligned copy gives the same answer; one flipped bit does not. */
	memcpy(big + 1, buf, sizeof(buf));
	assert_int_equal(crc32c(0, big + 1, sizeof(buf)), whole);
	big[50] ^= 0x10;
	assert_int_not_equal(crc32c(0, big + 1, sizeof(buf)), whole);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3720_vectors),
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
