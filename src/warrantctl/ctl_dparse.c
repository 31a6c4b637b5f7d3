/*
 * ctl_dparse — how `warrantctl receive` reads one DELIVER body: the same
 * checks as hi1_parse_deliver() (hardened libxml2, the profile's schema,
 * every field and identifier), without building a tree that holds 1.4 MB
 * of base64 nor decoding and hashing it in separate passes.
 *
 * One SAX pass over the body (libxml2's own tree builder for everything
 * else) takes the text of every Delivery-namespace Data element as it
 * streams by: it is decoded (xs:base64Binary: the standard alphabet, XML
 * white space anywhere, one or two '=' only at the end, unused bits zero)
 * and hashed (SHA-256) in the same pass, and the element gets a
 * placeholder instead: base64 of a random per-message nonce and the Data's
 * index. The small tree is serialised and handed to hi1_parse_deliver(),
 * which validates it against the schema and reads every field as before;
 * each BinaryData it decodes is a placeholder that names the real data
 * and SHA-256 to put in its stead. Data that is not base64 (or decodes to
 * more than HI1_BINARY_MAX) gets a placeholder that is not base64 either,
 * so the schema refuses it as it always did; empty Data stays empty and is
 * refused the same way.
 *
 * libxml2 reads the body piece by piece from the connection's buffer (no
 * contiguous copy of it, no encoding conversion). Before the pass, what libxml2 does not bound cheaply: the body's ceiling
 * and attributes per element (libxml2 2.9's duplicate-attribute check is
 * quadratic); during it, a DOCTYPE stops the parse, and so do more
 * elements or deeper nesting than the profile's reader accepts, so the
 * tree built is bounded too. Line numbers in schema errors are those of
 * the serialised tree, not of the body.
 *
 * Memory: the body (the caller's, consumed as it is read), the decoded
 * data (at most 3/4 of the body), libxml2's window on the body (tens of
 * KiB), a tree and its serialisation without the data (a few KiB).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ctl_receive.h"
#include "hi1.h"
#include "hi1_parse.h"
#include "wd.h"

#define DP_NS_DELIVERY	"http://uri.etsi.org/03120/common/2019/10/Delivery"
#define DP_MAX_BODY	(4u * 1024 * 1024)	/* hi1.c's HI1_MAX_BODY */
#define DP_MAX_ELEMENTS	8192			/* hi1.c's HI1_MAX_ELEMENTS */
#define DP_NONCE	16
#define DP_MARK_LEN	24			/* base64 of DP_NONCE + 1 bytes */
#define DP_BUF_FIRST	(64 * 1024)
#define DP_PIECE	(16 * 1024)	/* characters decoded per room check */
/* HI1_BINARY_MAX and the most a piece may overestimate, in whole pages. */
#define DP_CAP_MAX	(HI1_BINARY_MAX + DP_PIECE)
#define DP_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOCDATA | \
			    XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* Table values besides sextets. */
#define B64_BAD		-1
#define B64_SPACE	-2
#define B64_PAD		-3

struct dp_slot {
	uint8_t		*buf;
	size_t		 len, cap;
	EVP_MD_CTX	*md;
	uint32_t	 acc;
	unsigned	 q, pad;
	bool		 bad;		/* not base64, or too long */
	bool		 used;		/* matched to a BinaryData */
	char		 sum[65];
};

struct dp_state {
	struct evbuffer	*body;		/* what libxml2 has not read yet */
	struct dp_slot	 slots[CTL_DMSG_SLOTS];
	size_t		 nslots;
	struct dp_slot	*cur;		/* inside a Data element */
	int		 depth, data_depth;
	size_t		 elements;
	uint8_t		 nonce[DP_NONCE];
	struct wd_error	*err;
	bool		 stopped;	/* err is set */
};

/*
 * One character's sextet (or B64_*), and two characters' 12 bits (or
 * DP_PAIR_BAD), indexed by the two bytes as they lie in memory: the fast
 * path decodes a quantum with two lookups. Built once, before any thread
 * parses (ctl_dparse_init).
 */
#define DP_PAIR_BAD	0x8000
static int8_t	 dp_b64[256];
static uint16_t	 dp_pair[65536];

void
ctl_dparse_init(void)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char	 two[2];
	uint16_t	 k;

	memset(dp_b64, B64_BAD, sizeof(dp_b64));
	for (int i = 0; i < 64; i++)
		dp_b64[(unsigned char)alpha[i]] = (int8_t)i;
	dp_b64[' '] = dp_b64['\t'] = dp_b64['\n'] = dp_b64['\r'] = B64_SPACE;
	dp_b64['='] = B64_PAD;
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			two[0] = (unsigned char)a;
			two[1] = (unsigned char)b;
			memcpy(&k, two, 2);
			dp_pair[k] = dp_b64[a] < 0 || dp_b64[b] < 0 ?
			    DP_PAIR_BAD : (uint16_t)(dp_b64[a] << 6 | dp_b64[b]);
		}
}

/* ---- the checks before parsing ------------------------------------------ */

/*
 * At most HI1_MAX_ATTRS '=' outside quotes in any start tag, counted as
 * hi1.c counts them (a tag starts at '<' and a name character, ends at
 * '>' or at the next '<'), over the body's pieces in turn; memchr skips
 * text (base64 has no '<') at memory speed.
 */
struct dp_scan {
	int		 state;		/* 0 text, 1 after '<', 2 in a tag */
	char		 quote;
	size_t		 nattr;
};

static bool
dp_scan(struct dp_scan *sc, const char *p, size_t n)
{
	const char	*end = p + n, *lt;
	unsigned char	 c;

	while (p < end) {
		if (sc->state == 0) {
			if ((lt = memchr(p, '<', (size_t)(end - p))) == NULL)
				return true;
			p = lt + 1;
			sc->state = 1;
			continue;
		}
		if (sc->state == 1) {
			c = (unsigned char)*p;
			sc->state = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
			    c == '_' || c == ':' || c >= 0x80 ? 2 : 0;
			sc->nattr = 0;
			sc->quote = 0;
			continue;	/* c again, in its new state */
		}
		for (; p < end; p++) {
			if (*p == '<') {
				sc->state = 0;
				break;
			}
			if (sc->quote) {
				if (*p == sc->quote)
					sc->quote = 0;
			} else if (*p == '"' || *p == '\'')
				sc->quote = *p;
			else if (*p == '=' && ++sc->nattr > HI1_MAX_ATTRS)
				return false;
			else if (*p == '>') {
				sc->state = 0;
				p++;
				break;
			}
		}
	}
	return true;
}

/*
 * The XML declaration, if any, ends within 512 bytes and names UTF-8
 * (hi1.c's rule): libxml2 here honours what the declaration names, so one
 * that ended past the window checked could switch it to Latin-1 unseen.
 */
static bool
dp_xmldecl_ok(const char *buf, size_t len)
{
	const char	*p, *end, *q;
	char		 quote;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	if (len < 6 || memcmp(buf, "<?xml", 5) != 0)
		return true;
	if ((end = memmem(buf, len < 512 ? len : 512, "?>", 2)) == NULL)
		return false;
	if ((p = memmem(buf, (size_t)(end - buf), "encoding", 8)) == NULL)
		return true;
	for (p += 8; p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n' || *p == '='); p++)
		;
	if (p >= end || (*p != '"' && *p != '\''))
		return true;
	quote = *p++;
	if ((q = memchr(p, quote, (size_t)(end - p))) == NULL)
		return true;
	return q - p == 5 && strncasecmp(p, "UTF-8", 5) == 0;
}

/*
 * The parser reads the body as UTF-8 without converting it (UTF-8 is the
 * only encoding, checked by libxml2 as it reads). So that it never
 * guesses another from the first bytes (UTF-16, UCS-4, EBCDIC), those are
 * a UTF-8 byte order mark, '<' or white space, and no NUL; a declaration
 * naming another encoding is refused (dp_xmldecl_ok).
 */
static bool
dp_start_ok(const char *body, size_t len)
{
	unsigned char	 c = (unsigned char)body[0];

	if (memchr(body, '\0', len < 4 ? len : 4) != NULL)
		return false;
	return c == '<' || c == 0xef || c == ' ' || c == '\t' || c == '\r' ||
	    c == '\n';
}

static int
dp_precheck(struct evbuffer *body, struct wd_error *err)
{
	size_t			 len = evbuffer_get_length(body), n;
	struct evbuffer_iovec	*v;
	struct dp_scan		 sc;
	const char		*head;
	int			 k;

	if (len == 0) {
		wd_error_set(err, WD_ERR_NOT_WELL_FORMED, "empty body");
		return -1;
	}
	if (len > DP_MAX_BODY) {
		wd_error_set(err, WD_ERR_BODY_TOO_LARGE, "body of %zu bytes "
		    "exceeds the %u-byte ceiling", len, DP_MAX_BODY);
		return -1;
	}
	/* The first 512 bytes made contiguous: a small copy at most. */
	n = len < 512 ? len : 512;
	if ((head = (const char *)evbuffer_pullup(body, (ev_ssize_t)n)) == NULL) {
		wd_error_set(err, WD_ERR_INTERNAL, "out of memory");
		return -1;
	}
	if (!dp_start_ok(head, n)) {
		wd_error_set(err, WD_ERR_ENCODING, "the body does not start "
		    "as UTF-8 XML does");
		return -1;
	}
	if (!dp_xmldecl_ok(head, n)) {
		wd_error_set(err, WD_ERR_ENCODING, "the XML declaration names "
		    "an encoding other than UTF-8 (only UTF-8 is accepted) or "
		    "does not end within its first 512 bytes");
		return -1;
	}
	/* Every piece, in order (about one per TLS record). */
	if ((k = evbuffer_peek(body, -1, NULL, NULL, 0)) <= 0 ||
	    (v = calloc((size_t)k, sizeof(*v))) == NULL) {
		wd_error_set(err, WD_ERR_INTERNAL, "out of memory");
		return -1;
	}
	k = evbuffer_peek(body, -1, NULL, v, k);
	memset(&sc, 0, sizeof(sc));
	for (int i = 0; i < k; i++)
		if (!dp_scan(&sc, v[i].iov_base, v[i].iov_len)) {
			free(v);
			wd_error_set(err, WD_ERR_LIMITS, "an element has more "
			    "than %d attributes", HI1_MAX_ATTRS);
			return -1;
		}
	free(v);
	return 0;
}

/* ---- Data: decoded and hashed as it streams by --------------------------- */

/*
 * Room for more bytes: the buffer doubles (at most DP_CAP_MAX), always
 * CTL_DIO_ALIGN-aligned and a multiple of it in size,
 * so that ctl_deliver.c can write it with O_DIRECT.
 */
static int
dp_slot_room(struct dp_slot *s, size_t more)
{
	size_t	 cap;
	void	*nb;

	if (s->len + more <= s->cap)
		return 0;
	if (s->len + more > DP_CAP_MAX)
		return -1;
	if ((cap = s->cap) == 0)
		cap = (more + CTL_DIO_ALIGN - 1) / CTL_DIO_ALIGN * CTL_DIO_ALIGN;
	while (cap < s->len + more)
		cap *= 2;
	if (cap > DP_CAP_MAX)
		cap = DP_CAP_MAX;
	if (posix_memalign(&nb, CTL_DIO_ALIGN, cap) != 0)
		return -1;
	if (s->len > 0)
		memcpy(nb, s->buf, s->len);
	free(s->buf);
	s->buf = nb;
	s->cap = cap;
	return 0;
}

/*
 * The first buffer of a Data element, once: as large as what is left of
 * the body can decode to (or DP_CAP_MAX), so that a part's data needs no
 * growing (and no copy); a small Data in a small rest stays small.
 */
static int
dp_slot_first(struct dp_slot *s, size_t remaining)
{
	size_t	 cap = remaining / 4 * 3 + DP_PIECE;

	if (cap > DP_CAP_MAX)
		cap = DP_CAP_MAX;
	cap = (cap + CTL_DIO_ALIGN - 1) / CTL_DIO_ALIGN * CTL_DIO_ALIGN;
	if (cap < DP_BUF_FIRST)
		cap = DP_BUF_FIRST;
	return dp_slot_room(s, cap);
}

/* One quantum of four characters done: its bytes out. */
static void
dp_quantum(struct dp_slot *s)
{
	uint32_t	 acc = s->acc << (6 * s->pad);

	s->buf[s->len++] = (uint8_t)(acc >> 16);
	if (s->pad < 2)
		s->buf[s->len++] = (uint8_t)(acc >> 8);
	if (s->pad < 1)
		s->buf[s->len++] = (uint8_t)acc;
	s->acc = 0;
	s->q = 0;
}

/* One character outside the fast path; false if it breaks the lexical form. */
static bool
dp_char(struct dp_slot *s, unsigned char ch)
{
	int	 v = dp_b64[ch];

	if (v == B64_SPACE)
		return true;
	if (v == B64_PAD) {
		/* '=' only as the 3rd or 4th character of the last quantum. */
		if (s->q < 2 || ++s->pad > 2)
			return false;
	} else if (v < 0 || s->pad > 0)
		return false;
	else
		s->acc = s->acc << 6 | (uint32_t)v;
	if (++s->q < 4)
		return true;
	/* The unused bits of the sextet before the padding must be 0. */
	if ((s->pad == 1 && (s->acc & 0x3) != 0) ||
	    (s->pad == 2 && (s->acc & 0xf) != 0))
		return false;
	dp_quantum(s);
	if (s->pad > 0)
		s->q = 4;	/* the end: nothing may follow but space */
	return true;
}

static void
dp_decode_piece(struct dp_slot *s, const unsigned char *p, size_t n)
{
	size_t		 i = 0, from = s->len;
	uint16_t	 x, y;
	uint32_t	 v;

	if (s->bad)
		return;
	/* With the q pending, (q + n) / 4 quanta at most. */
	if (dp_slot_room(s, (s->q + n) / 4 * 3) == -1) {
		s->bad = true;
		return;
	}
	while (i < n) {
		/* Whole quanta without space or padding, the common case. */
		if (s->q == 0 && s->pad == 0) {
			uint8_t	*o = s->buf + s->len;

			while (i + 4 <= n) {
				memcpy(&x, p + i, 2);
				memcpy(&y, p + i + 2, 2);
				x = dp_pair[x];
				y = dp_pair[y];
				if ((x | y) & DP_PAIR_BAD)
					break;
				v = (uint32_t)x << 12 | y;
				o[0] = (uint8_t)(v >> 16);
				o[1] = (uint8_t)(v >> 8);
				o[2] = (uint8_t)v;
				o += 3;
				i += 4;
			}
			s->len = (size_t)(o - s->buf);
		}
		if (i == n)
			break;
		if ((s->q == 4 && dp_b64[p[i]] != B64_SPACE) ||
		    (s->q < 4 && !dp_char(s, p[i]))) {
			s->bad = true;
			return;
		}
		i++;
	}
	if (s->len > HI1_BINARY_MAX) {
		s->bad = true;
		return;
	}
	if (s->len > from &&
	    EVP_DigestUpdate(s->md, s->buf + from, s->len - from) != 1)
		s->bad = true;
}

/*
 * Text of a Data element, in pieces of DP_PIECE characters: the room each
 * asks for overestimates by its white space, never by more than a piece,
 * so Data of HI1_BINARY_MAX bytes always fits DP_CAP_MAX.
 */
static void
dp_decode(struct dp_slot *s, const unsigned char *p, size_t n)
{
	size_t	 k;

	while (n > 0 && !s->bad) {
		k = n < DP_PIECE ? n : DP_PIECE;
		dp_decode_piece(s, p, k);
		p += k;
		n -= k;
	}
}

/* The end of a Data element: its hash, and the placeholder for the tree. */
static void
dp_finish(struct dp_state *st, struct dp_slot *s, char mark[DP_MARK_LEN + 1])
{
	uint8_t		 md[32], raw[DP_NONCE + 1];
	unsigned	 mdlen = 0;

	if (s->q != 0 && s->q != 4)
		s->bad = true;
	if (!s->bad && s->len > 0 &&
	    EVP_DigestFinal_ex(s->md, md, &mdlen) == 1 && mdlen == 32) {
		for (int i = 0; i < 32; i++)
			snprintf(s->sum + 2 * i, 3, "%02x", md[i]);
		memcpy(raw, st->nonce, DP_NONCE);
		raw[DP_NONCE] = (uint8_t)(s - st->slots);
		EVP_EncodeBlock((unsigned char *)mark, raw, sizeof(raw));
		return;
	}
	if (s->len == 0 && !s->bad) {
		mark[0] = '\0';		/* empty stays empty */
		return;
	}
	s->bad = true;
	snprintf(mark, DP_MARK_LEN + 1, "*not-base64*");
}

/* ---- the SAX pass --------------------------------------------------------- */

static struct dp_state *
dp_state(void *ctx)
{
	return ((xmlParserCtxtPtr)ctx)->_private;
}

/* Bytes of the body not parsed yet: libxml2's window and the rest. */
static size_t
dp_remaining(void *ctx)
{
	xmlParserCtxtPtr	 ctxt = ctx;
	size_t			 n = evbuffer_get_length(dp_state(ctx)->body);

	if (ctxt->input != NULL && ctxt->input->end > ctxt->input->cur)
		n += (size_t)(ctxt->input->end - ctxt->input->cur);
	return n;
}

static void
dp_stop(void *ctx, enum wd_errcode code, const char *why)
{
	struct dp_state	*st = dp_state(ctx);

	if (!st->stopped) {
		wd_error_set(st->err, code, "%s", why);
		st->stopped = true;
	}
	xmlStopParser(ctx);
}

static void
dp_no_dtd(void *ctx, const xmlChar *name, const xmlChar *ext,
    const xmlChar *sys)
{
	(void)name;
	(void)ext;
	(void)sys;
	dp_stop(ctx, WD_ERR_DOCTYPE, "the body contains a DOCTYPE or ENTITY "
	    "declaration");
}

static void
dp_chars(void *ctx, const xmlChar *ch, int len)
{
	struct dp_state	*st = dp_state(ctx);

	if (st->cur != NULL && st->depth == st->data_depth)
		dp_decode(st->cur, ch, (size_t)len);
	else
		xmlSAX2Characters(ctx, ch, len);
}

static void
dp_start(void *ctx, const xmlChar *name, const xmlChar *prefix,
    const xmlChar *uri, int nns, const xmlChar **ns, int nattr, int ndef,
    const xmlChar **attrs)
{
	struct dp_state	*st = dp_state(ctx);
	struct dp_slot	*s;

	if (++st->elements > DP_MAX_ELEMENTS || st->depth >= HI1_MAX_DEPTH) {
		dp_stop(ctx, WD_ERR_LIMITS, st->depth >= HI1_MAX_DEPTH ?
		    "elements nested too deep" : "too many elements");
		return;
	}
	if (st->cur != NULL)
		st->cur->bad = true;	/* an element inside Data */
	xmlSAX2StartElementNs(ctx, name, prefix, uri, nns, ns, nattr, ndef,
	    attrs);
	st->depth++;
	if (st->cur != NULL || uri == NULL ||
	    strcmp((const char *)name, "Data") != 0 ||
	    strcmp((const char *)uri, DP_NS_DELIVERY) != 0)
		return;
	if (st->nslots == CTL_DMSG_SLOTS) {
		dp_stop(ctx, WD_ERR_LIMITS, "more Data elements than a DELIVER "
		    "of 16 actions carries");
		return;
	}
	s = &st->slots[st->nslots++];
	if ((s->md = EVP_MD_CTX_new()) == NULL ||
	    dp_slot_first(s, dp_remaining(ctx)) == -1 ||
	    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		dp_stop(ctx, WD_ERR_INTERNAL, "out of memory for a Data element");
		return;
	}
	st->cur = s;
	st->data_depth = st->depth;
}

static void
dp_end(void *ctx, const xmlChar *name, const xmlChar *prefix,
    const xmlChar *uri)
{
	struct dp_state	*st = dp_state(ctx);
	char		 mark[DP_MARK_LEN + 1];

	if (st->cur != NULL && st->depth == st->data_depth) {
		dp_finish(st, st->cur, mark);
		if (mark[0] != '\0')
			xmlSAX2Characters(ctx, (const xmlChar *)mark,
			    (int)strlen(mark));
		st->cur = NULL;
	}
	st->depth--;
	xmlSAX2EndElementNs(ctx, name, prefix, uri);
}

static enum wd_errcode
dp_xml_errcode(const xmlError *e)
{
	if (e == NULL)
		return WD_ERR_NOT_WELL_FORMED;
	if ((e->code == XML_ERR_INTERNAL_ERROR && e->message != NULL &&
	    strstr(e->message, "depth")) || e->code == XML_ERR_NO_MEMORY)
		return WD_ERR_LIMITS;
	if (e->code == XML_ERR_UNKNOWN_ENCODING ||
	    e->code == XML_ERR_UNSUPPORTED_ENCODING ||
	    e->code == XML_ERR_INVALID_CHAR)
		return WD_ERR_ENCODING;
	return WD_ERR_NOT_WELL_FORMED;
}

/* The message printable and on one line, at most len - 1 bytes. */
static void
dp_xml_error(xmlParserCtxtPtr ctxt, struct wd_error *err)
{
	const xmlError	*e = xmlCtxtGetLastError(ctxt);
	char		 msg[160];
	size_t		 i;

	snprintf(msg, sizeof(msg), "%s", e != NULL && e->message != NULL ?
	    e->message : "not well-formed");
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	while (i > 0 && msg[i - 1] == ' ')
		msg[--i] = '\0';
	wd_error_set(err, dp_xml_errcode(e), "line %d: %s", e ? e->line : 0,
	    msg);
}

/* libxml2 reads the body piece by piece, never all of it at once. */
static int
dp_ioread(void *ctx, char *buf, int len)
{
	return evbuffer_remove(ctx, buf, (size_t)len);
}

/* The tree without the data; NULL with err set. */
static xmlDocPtr
dp_parse(struct dp_state *st, struct evbuffer *body)
{
	xmlParserCtxtPtr	 ctxt;
	xmlDocPtr		 doc;

	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		wd_error_set(st->err, WD_ERR_INTERNAL, "cannot allocate an XML "
		    "parser");
		return NULL;
	}
	ctxt->_private = st;
	ctxt->sax->internalSubset = dp_no_dtd;
	ctxt->sax->externalSubset = dp_no_dtd;
	ctxt->sax->characters = dp_chars;
	ctxt->sax->ignorableWhitespace = dp_chars;
	ctxt->sax->cdataBlock = NULL;
	ctxt->sax->startElementNs = dp_start;
	ctxt->sax->endElementNs = dp_end;
	/*
	 * No encoding forced (which would convert UTF-8 to UTF-8, a copy):
	 * dp_start_ok() and dp_xmldecl_ok() leave libxml2 nothing to read but
	 * UTF-8.
	 */
	doc = xmlCtxtReadIO(ctxt, dp_ioread, NULL, body, NULL, NULL,
	    DP_OPTIONS);
	if (st->stopped) {
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (ctxt->input != NULL && ctxt->input->buf != NULL &&
	    ctxt->input->buf->encoder != NULL) {
		/* Should dp_xmldecl_ok() ever miss one: never another encoding. */
		wd_error_set(st->err, WD_ERR_ENCODING, "the body was read in "
		    "an encoding other than UTF-8");
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (doc == NULL ||
	    xmlDocGetRootElement(doc) == NULL || doc->intSubset != NULL ||
	    doc->extSubset != NULL) {
		dp_xml_error(ctxt, st->err);
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

/* ---- the placeholders back to data ------------------------------------- */

/* A BinaryData as hi1_parse_deliver() decoded it: its real data. */
static int
dp_swap(struct dp_state *st, struct hi1_binary *b, char sum[65])
{
	struct dp_slot	*s;
	size_t		 i;

	if (b->len != DP_NONCE + 1 || memcmp(b->data, st->nonce, DP_NONCE) != 0 ||
	    (i = b->data[DP_NONCE]) >= st->nslots)
		return -1;
	s = &st->slots[i];
	if (s->used || s->bad || s->buf == NULL)
		return -1;
	s->used = true;
	free(b->data);
	b->data = s->buf;
	b->len = s->len;
	s->buf = NULL;
	memcpy(sum, s->sum, 65);
	return 0;
}

static int
dp_swap_all(struct dp_state *st, struct ctl_dmsg *m, struct wd_error *err)
{
	for (size_t i = 0; i < m->d.n; i++) {
		struct hi1_delivered *it = &m->d.items[i];

		if ((it->has_data &&
		    dp_swap(st, &it->data, m->sum[i][0]) == -1) ||
		    (it->has_manifest &&
		    dp_swap(st, &it->manifest, m->sum[i][1]) == -1)) {
			wd_error_set(err, WD_ERR_INTERNAL, "action %u: its Data "
			    "cannot be told apart from the others'",
			    it->action_id);
			return -1;
		}
	}
	return 0;
}

static void
dp_state_free(struct dp_state *st)
{
	for (size_t i = 0; i < st->nslots; i++) {
		free(st->slots[i].buf);
		EVP_MD_CTX_free(st->slots[i].md);
	}
}

int
ctl_dparse_buffer(const struct hi1_schema *hs, struct evbuffer *body,
    struct ctl_dmsg *m, struct wd_error *err)
{
	struct dp_state	 st;
	xmlDocPtr	 doc;
	xmlChar		*small = NULL;
	int		 slen = 0, rv = -1;

	memset(m, 0, sizeof(*m));
	memset(err, 0, sizeof(*err));
	memset(&st, 0, sizeof(st));
	st.err = err;
	st.body = body;
	if (dp_precheck(body, err) == -1)
		return -1;
	if (RAND_bytes(st.nonce, sizeof(st.nonce)) != 1) {
		wd_error_set(err, WD_ERR_INTERNAL, "no random bytes");
		return -1;
	}
	if ((doc = dp_parse(&st, body)) != NULL) {
		xmlDocDumpMemoryEnc(doc, &small, &slen, "UTF-8");
		xmlFreeDoc(doc);
		if (small == NULL || slen <= 0)
			wd_error_set(err, WD_ERR_INTERNAL, "cannot serialise the "
			    "message");
		else if (hi1_parse_deliver(hs, (const char *)small, (size_t)slen,
		    &m->d, err) == 0) {
			if (dp_swap_all(&st, m, err) == 0)
				rv = 0;
			else
				hi1_deliver_free(&m->d);
		}
		xmlFree(small);
	}
	dp_state_free(&st);
	return rv;
}

int
ctl_dparse(const struct hi1_schema *hs, const char *body, size_t len,
    struct ctl_dmsg *m, struct wd_error *err)
{
	struct evbuffer	*b;
	int		 rv;

	if ((b = evbuffer_new()) == NULL ||
	    (len > 0 && evbuffer_add_reference(b, body, len, NULL, NULL) == -1)) {
		if (b != NULL)
			evbuffer_free(b);
		memset(m, 0, sizeof(*m));
		wd_error_set(err, WD_ERR_INTERNAL, "out of memory");
		return -1;
	}
	rv = ctl_dparse_buffer(hs, b, m, err);
	evbuffer_free(b);
	return rv;
}

void
ctl_dmsg_free(struct ctl_dmsg *m)
{
	hi1_deliver_free(&m->d);
}
