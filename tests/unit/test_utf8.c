/*
 * test_utf8 — the shared UTF-8 reading (lib_utf8.c): well-formed sequences
 * of every length and their limits, overlong forms, surrogates, > U+10FFFF,
 * NUL, truncated sequences, and what counts as text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wd_utf8.h"

#define U(s)	((const unsigned char *)(s))

static void
test_decode_lengths(void **state)
{
	uint32_t	cp;

	(void)state;
	assert_int_equal(wd_utf8_decode(U("A"), 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(wd_utf8_decode(U("\xc2\x80"), 2, &cp), 2);
	assert_int_equal(cp, 0x80);
	assert_int_equal(wd_utf8_decode(U("\xdf\xbf"), 2, &cp), 2);
	assert_int_equal(cp, 0x7ff);
	assert_int_equal(wd_utf8_decode(U("\xe0\xa0\x80"), 3, &cp), 3);
	assert_int_equal(cp, 0x800);
	assert_int_equal(wd_utf8_decode(U("\xef\xbf\xbd"), 3, &cp), 3);
	assert_int_equal(cp, 0xfffd);
	assert_int_equal(wd_utf8_decode(U("\xf0\x90\x80\x80"), 4, &cp), 4);
	assert_int_equal(cp, 0x10000);
	assert_int_equal(wd_utf8_decode(U("\xf4\x8f\xbf\xbf"), 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	/* NUL is U+0000, one byte. */
	assert_int_equal(wd_utf8_decode(U("\0"), 1, &cp), 1);
	assert_int_equal(cp, 0);
	assert_int_equal(wd_utf8_decode(U("A"), 0, NULL), 0);
}

static void
test_decode_refusals(void **state)
{
	(void)state;
	/* Overlong: '/' in two, three and four bytes; U+07FF in three. */
	assert_int_equal(wd_utf8_decode(U("\xc0\xaf"), 2, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xc1\xbf"), 2, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xe0\x80\xaf"), 3, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xe0\x9f\xbf"), 3, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xf0\x80\x80\xaf"), 4, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xf0\x8f\xbf\xbf"), 4, NULL), 0);
	/* Surrogates, both halves and their edges. */
	assert_int_equal(wd_utf8_decode(U("\xed\xa0\x80"), 3, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xed\xbf\xbf"), 3, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xed\x9f\xbf"), 3, NULL), 3);
	assert_int_equal(wd_utf8_decode(U("\xee\x80\x80"), 3, NULL), 3);
	/* Above U+10FFFF, and lead bytes that never start a character. */
	assert_int_equal(wd_utf8_decode(U("\xf4\x90\x80\x80"), 4, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xf5\x80\x80\x80"), 4, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xff"), 1, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\x80"), 1, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xbf"), 1, NULL), 0);
	/* Truncated: by the length given, or by the NUL of a string. */
	assert_int_equal(wd_utf8_decode(U("\xe2\x82\xac"), 2, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xf0\x9f\x93"), 3, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xe2\x82"), 4, NULL), 0);
	assert_int_equal(wd_utf8_decode(U("\xc3"), 4, NULL), 0);
	/* A continuation byte that is not one. */
	assert_int_equal(wd_utf8_decode(U("\xc3\x41"), 2, NULL), 0);
}

static void
test_bad_offset(void **state)
{
	static const char	 ok[] = "Fiscal\xc3\xad" "a \xe2\x82\xac \xf0\x9f\x93\x9e";
	static const char	 nul[] = "ab\0cd";
	static const char	 cut[] = "abc\xe2\x82";

	(void)state;
	assert_int_equal(wd_utf8_bad_offset(ok, strlen(ok), false), strlen(ok));
	assert_int_equal(wd_utf8_bad_offset("", 0, false), 0);
	assert_int_equal(wd_utf8_bad_offset(nul, 5, false), 2);
	assert_int_equal(wd_utf8_bad_offset(nul, 5, true), 5);
	assert_int_equal(wd_utf8_bad_offset(cut, 5, false), 3);
	assert_int_equal(wd_utf8_bad_offset("a\xc0\xafz", 4, false), 1);
	assert_int_equal(wd_utf8_bad_offset("ab\xed\xa0\x80", 5, false), 2);
	assert_true(wd_utf8_valid(ok));
	assert_true(wd_utf8_valid(""));
	assert_false(wd_utf8_valid(NULL));
	assert_false(wd_utf8_valid(cut));
	assert_false(wd_utf8_valid("\xf4\x90\x80\x80"));
}

static void
test_xml_and_text(void **state)
{
	char	 long_ok[1200];

	(void)state;
	/* Noncharacters U+FFFE/U+FFFF are no XML; U+FFFD is. */
	assert_int_equal(wd_utf8_xml_char(U("\xef\xbf\xbe")), 0);
	assert_int_equal(wd_utf8_xml_char(U("\xef\xbf\xbf")), 0);
	assert_int_equal(wd_utf8_xml_char(U("\xef\xbf\xbd")), 3);
	assert_int_equal(wd_utf8_xml_char(U("\t")), 1);
	/* Text: no C0 (tab included), DEL or C1; NBSP is text. */
	assert_int_equal(wd_utf8_text_char(U("\t")), 0);
	assert_int_equal(wd_utf8_text_char(U("\x7f")), 0);
	assert_int_equal(wd_utf8_text_char(U("\xc2\x85")), 0);
	assert_int_equal(wd_utf8_text_char(U("\xc2\x9f")), 0);
	assert_int_equal(wd_utf8_text_char(U("\xc2\xa0")), 2);
	assert_true(wd_utf8_text_ok("Llam\xc3\xa9 a la fiscal\xc3\xad" "a", 500));
	assert_true(wd_utf8_text_ok("\xf0\x9f\x93\x9e ok", 500));
	assert_false(wd_utf8_text_ok("", 500));
	assert_false(wd_utf8_text_ok(NULL, 500));
	assert_false(wd_utf8_text_ok("a\nb", 500));
	assert_false(wd_utf8_text_ok("\xc0\xaf", 500));
	assert_false(wd_utf8_text_ok("\xe2\x82", 500));
	/* The bound counts characters, not bytes: 500 two-byte ones fit. */
	for (size_t i = 0; i < 500; i++)
		memcpy(long_ok + 2 * i, "\xc3\xb1", 2);
	long_ok[1000] = '\0';
	assert_true(wd_utf8_text_ok(long_ok, 500));
	assert_false(wd_utf8_text_ok(long_ok, 499));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_bad_offset),
		cmocka_unit_test(test_xml_and_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
