/*
 * hi1_value — value helpers of the receiving side of HI-1 (see lib/hi1.c
 * for the whole): reading elements and their text off a parsed tree,
 * making untrusted text printable for our messages, the shapes of the
 * profile's identifiers (IMEI check digit, address and port), numbers and
 * base64 as the schema's types allow them. No error context here: callers
 * say what is wrong.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "hi1.h"
#include "hi1_int.h"
#include "wd_luhn.h"

/* ------------------------------------------------------------------------ */
/* Reading the tree                                                          */

int
hi1_is(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr
hi1_child(xmlNodePtr parent, const char *ns, const char *name)
{
	xmlNodePtr	 n;

	if (parent == NULL)
		return NULL;
	for (n = parent->children; n != NULL; n = n->next)
		if (hi1_is(n, ns, name))
			return n;
	return NULL;
}

static int
hi1_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Copy the text of a simple-content element, trimmed of XML white space,
 * into dst. Only the trimmed value must fit: white space around a value is
 * insignificant for the types that collapse it (xs:dateTime, xs:integer,
 * xs:boolean), and pretty-printing clients indent those values with as
 * much as they like (the profile's string types refuse it in the schema).
 * Returns 0, or -1 if absent (dst = "") or -2 if too long.
 */
int
hi1_text(xmlNodePtr n, char *dst, size_t len)
{
	xmlNodePtr	 t;
	size_t		 off = 0, keep = 0, k;
	const char	*s;

	dst[0] = '\0';
	if (n == NULL)
		return -1;
	for (t = n->children; t != NULL; t = t->next) {
		if (t->type != XML_TEXT_NODE && t->type != XML_CDATA_SECTION_NODE)
			continue;
		s = (const char *)t->content;
		for (k = 0; s != NULL && s[k] != '\0'; k++) {
			if (off == 0 && hi1_is_space(s[k]))
				continue;
			if (off + 1 >= len) {
				/* Past the room: trailing, unless text follows. */
				if (hi1_is_space(s[k]))
					continue;
				dst[0] = '\0';
				return -2;
			}
			dst[off++] = s[k];
			if (!hi1_is_space(s[k]))
				keep = off;
		}
	}
	dst[keep] = '\0';
	return 0;
}

/* Next element after n in document order, staying inside root. */
xmlNodePtr
hi1_next_element(xmlNodePtr n, xmlNodePtr root)
{
	do {
		if (n->type == XML_ELEMENT_NODE && n->children != NULL)
			n = n->children;
		else {
			while (n != root && n->next == NULL)
				n = n->parent;
			if (n == root)
				return NULL;
			n = n->next;
		}
	} while (n->type != XML_ELEMENT_NODE);
	return n;
}

/*
 * Text of n, at most len - 1 bytes cut at a character boundary (the body
 * is valid UTF-8 by now), trimmed, line breaks and tabs made spaces and
 * other controls '?': for texts from the other side that we only report.
 */
size_t
hi1_text_cut(xmlNodePtr n, char *dst, size_t len)
{
	xmlChar			*s = n != NULL ? xmlNodeGetContent(n) : NULL;
	const unsigned char	*p = s;
	size_t			 k = 0, cl;

	dst[0] = '\0';
	if (s == NULL)
		return 0;
	while (*p != '\0' && hi1_is_space((char)*p))
		p++;
	for (; *p != '\0'; p += cl) {
		cl = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 1;
		if (k + cl >= len)
			break;
		if (cl == 1 && hi1_is_space((char)*p))
			dst[k++] = ' ';
		else if (cl == 1 && (*p < 0x20 || *p == 0x7f))
			dst[k++] = '?';
		else {
			memcpy(dst + k, p, cl);
			k += cl;
		}
	}
	while (k > 0 && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
	xmlFree(s);
	return k;
}


/* ------------------------------------------------------------------------ */
/* Identifiers and printable text                                            */

int
hi1_imei_luhn_ok(const char *s)
{
	return s != NULL && strlen(s) == 15 && wd_luhn_ok(s, 15);
}

int
hi1_all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Port: 1-65535, decimal, no sign, no leading zero. */
static int
hi1_parse_port(const char *s, uint16_t *port)
{
	size_t	 n = strlen(s);
	long	 v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * "a.b.c.d:port" or "[v6]:port". The address is checked by inet_pton() and
 * stored in its canonical inet_ntop() form, so that lookups compare like
 * with like whatever spelling the authority used.
 */
int
hi1_parse_ipport(const char *s, struct hi1_identifier *id)
{
	unsigned char	 bin[16];
	char		 addr[64];
	const char	*sep, *colon;
	int		 af;
	size_t		 n;

	if (s[0] == '[') {
		if ((sep = strchr(s, ']')) == NULL || sep[1] != ':')
			return -1;
		af = AF_INET6;
		n = (size_t)(sep - s - 1);
		s++;
		colon = sep + 1;
	} else {
		if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':'))
			return -1;
		af = AF_INET;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(af, addr, bin) != 1 ||
	    inet_ntop(af, bin, id->addr, sizeof(id->addr)) == NULL)
		return -1;
	return hi1_parse_port(colon + 1, &id->port);
}

/*
 * Untrusted text in our messages: printable, bounded, one line. A value
 * too long for out is cut on a character boundary and ends with "...", so
 * that a message quoting it stays valid UTF-8 (the input is: libxml2 and
 * our own check made sure of it).
 */
const char *
hi1_printable(const char *in, char *out, size_t len)
{
	size_t	 i;

	if (len == 0)
		return out;
	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ?
		    '?' : in[i];
	if (in[i] != '\0' && len > 4) {
		for (i = len - 4; i > 0 && ((unsigned char)out[i] & 0xc0) == 0x80;)
			i--;	/* out[i] starts a character: cut before it */
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* The profile's rule for each FormatName, in words (docs/profile.md 7). */
const char *
hi1_id_rule(enum wd_idtype t)
{
	switch (t) {
	case WD_ID_MSISDN:
		return "52 and 10 digits (a Mexican number, E.164 without '+')";
	case WD_ID_IMSI:
		return "334 and 12 digits (a Mexican IMSI)";
	case WD_ID_IMEI:
		return "15 digits, the last a Luhn check digit";
	case WD_ID_IPPORT:
		return "a.b.c.d:port or [v6]:port (lowercase hex, no embedded "
		    "IPv4) with port 1-65535, without leading zeros";
	default:
		return "a supported format";
	}
}

/* A validated xs:nonNegativeInteger ("+7", "007"), capped at UINT32_MAX. */
uint32_t
hi1_uint_capped(const char *s)
{
	uint64_t	 v = 0;

	if (*s == '+')
		s++;
	for (; isdigit((unsigned char)*s); s++)
		if ((v = v * 10 + (uint64_t)(*s - '0')) > UINT32_MAX)
			return UINT32_MAX;
	return (uint32_t)v;
}

/* One base64 sextet, -1 for anything else. */
static int
hi1_b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/*
 * xs:base64Binary: the standard alphabet, XML white space anywhere,
 * padding only at the end. out is malloc'd; -1 if not base64, empty, or
 * decoded longer than max.
 */
int
hi1_b64_decode(const char *s, size_t max, uint8_t **out, size_t *outlen)
{
	size_t		 n = strlen(s), k = 0, pad = 0, q = 0;
	uint32_t	 acc = 0;
	uint8_t		*buf;
	int		 v;

	/* n is bounded by the message's ceiling (HI1_MAX_BODY). */
	if ((buf = malloc(n / 4 * 3 + 3)) == NULL)
		return -1;
	for (; *s != '\0'; s++) {
		if (hi1_is_space(*s))
			continue;
		if (*s == '=' && q >= 2 && ++pad <= 2) {
			q++;
		} else if (pad > 0 || (v = hi1_b64_value((unsigned char)*s)) < 0)
			goto bad;
		else {
			acc = acc << 6 | (uint32_t)v;
			q++;
		}
		if (q < 4)
			continue;
		acc <<= 6 * pad;
		buf[k++] = (uint8_t)(acc >> 16);
		if (pad < 2)
			buf[k++] = (uint8_t)(acc >> 8);
		if (pad < 1)
			buf[k++] = (uint8_t)acc;
		acc = 0;
		q = 0;
	}
	if (q != 0 || k > max || k == 0)
		goto bad;
	*out = buf;
	*outlen = k;
	return 0;
 bad:
	free(buf);
	return -1;
}
