/*
 * wd_utf8.h — the one reading of UTF-8 for every program (lib/lib_utf8.c).
 *
 * Strict RFC 3629: shortest form only, no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no truncated sequence. What counts as "text" on
 * top of that (no control characters) is wd_utf8_text_char().
 */
#ifndef WD_UTF8_H
#define WD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length (1..4) of the well-formed sequence at s, reading at most avail
 * bytes, its code point in *cp if cp is not NULL; 0 if the sequence is
 * ill-formed or cut short (avail 0 included). A NUL byte is U+0000, length
 * 1. A NUL-terminated string may pass avail 4: reading stops at the first
 * byte that is not a continuation byte, so never beyond the NUL.
 */
size_t	 wd_utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp);

/* Offset of the first byte of buf[0..len) that is not well-formed UTF-8
 * (or a NUL byte, unless allow_nul), or len if there is none. */
size_t	 wd_utf8_bad_offset(const void *buf, size_t len, bool allow_nul);

/* A NUL-terminated string is well-formed UTF-8 throughout (NULL is not). */
bool	 wd_utf8_valid(const char *s);

/* Length of the character at s (NUL-terminated) that XML 1.0 can carry
 * (U+FFFE and U+FFFF are not XML characters), 0 if not well-formed. Control
 * characters are the caller's to judge. */
size_t	 wd_utf8_xml_char(const unsigned char *s);

/* Length of one character of text at s: well-formed, an XML character and
 * no control character (C0, DEL, C1); 0 otherwise. */
size_t	 wd_utf8_text_char(const unsigned char *s);

/* s is 1..maxchars characters of text (wd_utf8_text_char each). */
bool	 wd_utf8_text_ok(const char *s, size_t maxchars);

#endif
