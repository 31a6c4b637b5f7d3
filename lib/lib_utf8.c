/*
 * lib_utf8.c — owns the validation of UTF-8 for every program: the byte
 * checks before libxml2 sees a body, the XML-safe copies of answers, the
 * text an operator or an authority types (include/wd_utf8.h).
 */
#include <string.h>

#include "wd_utf8.h"

size_t
wd_utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
	uint32_t	 c, min;
	size_t		 n, k;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80) {
		n = 1; c = s[0]; min = 0;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2; c = s[0] & 0x1f; min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3; c = s[0] & 0x0f; min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4; c = s[0] & 0x07; min = 0x10000;
	} else
		return 0;	/* a continuation byte, C0, C1 or F5..FF */
	for (k = 1; k < n; k++) {
		if (k >= avail || (s[k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp != NULL)
		*cp = c;
	return n;
}

size_t
wd_utf8_bad_offset(const void *buf, size_t len, bool allow_nul)
{
	const unsigned char	*s = buf;
	size_t			 i = 0, n;

	while (i < len) {
		if (s[i] == 0 && !allow_nul)
			return i;
		if ((n = wd_utf8_decode(s + i, len - i, NULL)) == 0)
			return i;
		i += n;
	}
	return len;
}

bool
wd_utf8_valid(const char *s)
{
	if (s == NULL)
		return false;
	return wd_utf8_bad_offset(s, strlen(s), false) == strlen(s);
}

size_t
wd_utf8_xml_char(const unsigned char *s)
{
	uint32_t	 cp;
	size_t		 n = wd_utf8_decode(s, 4, &cp);

	if (n == 0 || cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

size_t
wd_utf8_text_char(const unsigned char *s)
{
	uint32_t	 cp;
	size_t		 n = wd_utf8_decode(s, 4, &cp);

	if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ||
	    cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

bool
wd_utf8_text_ok(const char *s, size_t maxchars)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 chars = 0, n;

	if (s == NULL || *s == '\0')
		return false;
	for (; *p != '\0'; p += n, chars++)
		if (chars == maxchars || (n = wd_utf8_text_char(p)) == 0)
			return false;
	return true;
}
