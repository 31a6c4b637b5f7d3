/*
 * hi1 — the receiving side of ETSI TS 103 120 (HI-1) in warrantd's Mexican
 * profile (see include/hi1.h). This file owns:
 *  - libxml2 hardening: the external entity loader, parse options and the
 *    capture of libxml2's error messages (which must never reach stderr);
 *  - loading the XSD templates and the MX dictionaries;
 *  - the byte-level checks made before any parsing (size, UTF-8, encoding
 *    declaration, DOCTYPE, attributes per tag) and the structural limits
 *    checked on the tree after parsing;
 *  - XSD validation, extraction into struct hi1_request, and the profile's
 *    semantic rules that an XSD cannot express.
 * Responses are built in hi1_response.c; rules that need "now" or the
 * registry are in policy.c.
 *
 * Why so defensive: the body comes from the network. A client's certificate
 * tells us who sent it, not that it is harmless; a prosecutor's office can be
 * compromised, and an XML parser is a large attack surface (XXE, entity
 * expansion, deep nesting, quadratic attribute checks, encoding tricks).
 * Every check below fails closed with a specific wd_errcode so that the
 * authority knows what to fix.
 *
 * Threads: hi1_init() and hi1_schema_load() run on the main thread, at start
 * and on reload. hi1_parse_request() may run on any number of threads at
 * once: it only reads the shared struct hi1_schema (libxml2 2.9 allows a
 * compiled xmlSchemaPtr to be shared read-only by validation contexts), and
 * the libxml2 error handlers it installs are per-thread globals in a
 * threaded libxml2 build (Debian's is).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "hi1.h"
#include "log.h"

#define NS_CORE		"http://uri.etsi.org/03120/common/2019/10/Core"
#define NS_COMMON	"http://uri.etsi.org/03120/common/2016/02/Common"
#define NS_TASK		"http://uri.etsi.org/03120/common/2020/09/Task"
#define NS_AUTH		"http://uri.etsi.org/03120/common/2020/09/Authorisation"
#define NS_XSI		"http://www.w3.org/2001/XMLSchema-instance"
#define NS_DICT		"http://uri.etsi.org/03280/common/2019/10/Dictionaries"

/*
 * Absolute ceiling on a body, whatever the configured HTTP body cap (256 KiB
 * by default): the largest legitimate message, 16 actions, is well under
 * 100 KiB. This keeps hi1_parse_request() bounded even if a caller forgets
 * its own cap, and keeps len within libxml2's int.
 */
#define HI1_MAX_BODY		(4u * 1024 * 1024)
/* Elements in a whole message; 16 actions need about a thousand. */
#define HI1_MAX_ELEMENTS	8192
/* Our own files (templates, dictionaries) are bounded too. */
#define HI1_MAX_FILE		(1u * 1024 * 1024)
#define HI1_MAX_DICT		512

/*
 * Parse options, chosen one by one:
 *  XML_PARSE_NONET    never touch the network, even if a reference slipped
 *                     through to the entity loader;
 *  XML_PARSE_NOCDATA  CDATA sections become plain text, so extraction sees
 *                     one kind of text node.
 * Deliberately absent:
 *  XML_PARSE_NOENT    entity substitution: XXE and entity expansion bombs;
 *  XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR, XML_PARSE_DTDVALID
 *                     fetching or applying a DTD: file and network reads,
 *                     attribute defaults that change the message;
 *  XML_PARSE_XINCLUDE pulls other documents into this one;
 *  XML_PARSE_HUGE     lifts libxml2's own caps (depth 256, 10 MB text);
 *  XML_PARSE_RECOVER  we want a hard failure, never a repaired tree.
 * DOCTYPE is refused before parsing anyway; these are the second wall.
 */
#define HI1_PARSE_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOCDATA)

struct hi1_dict_entry {
	char	owner[16];
	char	name[64];
	char	value[64];
};

struct hi1_schema {
	xmlSchemaPtr		 xsd;
	struct hi1_dict_entry	*dict;
	size_t			 ndict;
};

/*
 * The few ETSI dictionaries (TS 103 120 clauses 7 and 8, values from its
 * ETSIDictionaryDefinitions) that the profile's messages use. MX values come
 * from the loaded mx-dictionaries.xml instead, so the profile can grow
 * without a rebuild.
 */
static const struct {
	const char	*name;
	const char	*values[8];
} hi1_etsi_dicts[] = {
	{ "AuthorisationPriority", { "High", "Routine" } },
	{ "AuthorisationFlag", { "IsEmergency", "IsConsensual", "IsTest" } },
	{ "LDTaskDesiredStatus", { "AwaitingApproval", "AwaitingDisclosure",
	    "Disclosed", "Rejected", "Cancelled" } },
	{ "TaskDesiredStatus", { "AwaitingApproval", "AwaitingProvisioning",
	    "Active", "Rejected", "Suspended", "Cancelled", "Expired" } },
	{ "TaskDeliveryType", { "IRIOnly", "CCOnly", "IRIandCC" } },
	{ "LDTaskFlag", { "IsTest", "IsEmergency", "IsNonLocal", "IsLocal" } },
	{ "TaskFlag", { "IsTest", "IsEmergency", "IsNonLocal", "IsLocal" } },
	{ "HandoverFormat", { "TS102232-2", "TS102232-3", "TS102232-4",
	    "TS102232-5", "TS102232-6", "TS102232-7" } },
	{ "LDHandoverFormat", { "TS102657", "EncapsulatedTS102657", "TS103120",
	    "TS103707" } },
};

/* ------------------------------------------------------------------------ */
/* libxml2 hardening: entity loader and error capture                        */

/*
 * The directory whose files the entity loader may open, set only while
 * hi1_schema_load() compiles our templates (xs:include/xs:import of sibling
 * .xsd files go through the loader). Thread-local on purpose: even if a
 * reload ever ran beside request parsing, only the compiling thread would
 * see the permission; every other load, on every thread, is denied.
 */
static _Thread_local const char	*hi1_loader_dir;
static xmlExternalEntityLoader	 hi1_saved_loader;
static int			 hi1_initialised;

static int	hi1_file_has_doctype(const char *);
static const char *hi1_printable(const char *, char *, size_t);

static int
hi1_loader_allowed(const char *url)
{
	char	 real[PATH_MAX];
	size_t	 n;

	if (hi1_loader_dir == NULL || url == NULL)
		return 0;
	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	if (url[0] != '/' || realpath(url, real) == NULL)
		return 0;
	n = strlen(hi1_loader_dir);
	if (strncmp(real, hi1_loader_dir, n) != 0 || real[n] != '/')
		return 0;
	/* Our templates obey the same rule as requests: no DTD, no entities. */
	if (hi1_file_has_doctype(real))
		return 0;
	return 1;
}

static xmlParserInputPtr
hi1_entity_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	if (hi1_loader_allowed(url))
		return xmlNoNetExternalEntityLoader(url, id, ctxt);
	/* Deny: returning NULL makes libxml2 report a load failure. */
	return NULL;
}

/* What we keep of libxml2's errors: the first one, with its line. */
struct hi1_errcap {
	int	set;
	int	code;
	int	line;
	char	file[96];
	char	msg[200];
};

struct hi1_errsave {
	xmlStructuredErrorFunc	 serror;
	void			*sctx;
	xmlGenericErrorFunc	 gerror;
	void			*gctx;
};

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError	*hi1_xmlerr;
#else
typedef xmlErrorPtr	 hi1_xmlerr;
#endif

static void
hi1_errcap_fn(void *arg, hi1_xmlerr e)
{
	struct hi1_errcap	*cap = arg;
	size_t			 n;

	if (cap == NULL || e == NULL || cap->set)
		return;
	cap->set = 1;
	cap->code = e->code;
	cap->line = e->line;
	snprintf(cap->file, sizeof(cap->file), "%s", e->file ? e->file : "");
	snprintf(cap->msg, sizeof(cap->msg), "%s",
	    e->message ? e->message : "unknown XML error");
	/* libxml2 messages end with a newline; ours do not. */
	n = strlen(cap->msg);
	while (n > 0 && (cap->msg[n - 1] == '\n' || cap->msg[n - 1] == ' '))
		cap->msg[--n] = '\0';
}

static void
hi1_generic_noop(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Route this thread's libxml2 errors into cap, saving what was there. */
static void
hi1_errcap_push(struct hi1_errcap *cap, struct hi1_errsave *save)
{
	memset(cap, 0, sizeof(*cap));
	save->serror = xmlStructuredError;
	save->sctx = xmlStructuredErrorContext;
	save->gerror = xmlGenericError;
	save->gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(cap, hi1_errcap_fn);
	xmlSetGenericErrorFunc(NULL, hi1_generic_noop);
}

static void
hi1_errcap_pop(const struct hi1_errsave *save)
{
	xmlSetStructuredErrorFunc(save->sctx, save->serror);
	xmlSetGenericErrorFunc(save->gctx, save->gerror);
}

void
hi1_init(void)
{
	if (hi1_initialised)
		return;
	/* Must run before any thread uses libxml2. */
	xmlInitParser();
	hi1_saved_loader = xmlGetExternalEntityLoader();
	xmlSetExternalEntityLoader(hi1_entity_loader);
	hi1_initialised = 1;
}

void
hi1_cleanup(void)
{
	if (!hi1_initialised)
		return;
	xmlSetExternalEntityLoader(hi1_saved_loader);
	xmlCleanupParser();
	hi1_initialised = 0;
}

/* ------------------------------------------------------------------------ */
/* Byte-level checks, before libxml2 sees anything                           */

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, and no NUL (not an XML character, and a way to hide UTF-16).
 * Returns the offset of the first bad byte, or len.
 */
static size_t
hi1_utf8_bad_offset(const unsigned char *s, size_t len)
{
	size_t		 i = 0, need, k;
	uint32_t	 cp, min;

	while (i < len) {
		unsigned char c = s[i];

		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3; cp = c & 0x07; min = 0x10000;
		} else
			return i;
		if (len - i <= need)
			return i;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return len;
}

/*
 * An XML declaration that names an encoding other than UTF-8 is refused:
 * we decode UTF-8 only, and a body that says otherwise is either broken or
 * trying to make two parsers disagree about what it says.
 */
static int
hi1_check_xmldecl(const char *buf, size_t len, struct wd_error *err)
{
	const char	*p, *end, *q;
	char		 quote, name[32], pr[32];
	size_t		 n;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	if (len < 6 || memcmp(buf, "<?xml", 5) != 0 ||
	    !isspace((unsigned char)buf[5]))
		return 0;
	if ((end = memmem(buf, len < 512 ? len : 512, "?>", 2)) == NULL)
		return 0;	/* the parser will call it not well-formed */
	if ((p = memmem(buf, (size_t)(end - buf), "encoding", 8)) == NULL)
		return 0;
	for (p += 8; p < end && (isspace((unsigned char)*p) || *p == '='); p++)
		;
	if (p >= end || (*p != '"' && *p != '\''))
		return 0;
	quote = *p++;
	if ((q = memchr(p, quote, (size_t)(end - p))) == NULL)
		return 0;
	n = (size_t)(q - p);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, p, n);
	name[n] = '\0';
	if (strcasecmp(name, "UTF-8") != 0) {
		wd_error_set(err, WD_ERR_ENCODING,
		    "the XML declaration names encoding \"%s\"; only UTF-8 is "
		    "accepted", hi1_printable(name, pr, sizeof(pr)));
		return -1;
	}
	return 0;
}

/*
 * Count attributes (and namespace declarations, which are attributes too) of
 * each start tag by counting '=' outside quotes between '<' and '>'. A real
 * start tag cannot contain '<', so the count is exact for real tags; a '<'
 * inside a comment can only make us stricter. Done before parsing because
 * libxml2 2.9 checks duplicate attributes in quadratic time.
 */
static int
hi1_check_attr_counts(const char *buf, size_t len, struct wd_error *err)
{
	size_t	 i, line = 1, nattr;
	char	 quote;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n')
			line++;
		if (buf[i] != '<' || i + 1 >= len ||
		    !(isalpha((unsigned char)buf[i + 1]) || buf[i + 1] == '_' ||
		    buf[i + 1] == ':' || (unsigned char)buf[i + 1] >= 0x80))
			continue;
		nattr = 0;
		quote = 0;
		for (i++; i < len && buf[i] != '<'; i++) {
			if (buf[i] == '\n')
				line++;
			if (quote) {
				if (buf[i] == quote)
					quote = 0;
			} else if (buf[i] == '"' || buf[i] == '\'')
				quote = buf[i];
			else if (buf[i] == '=')
				nattr++;
			else if (buf[i] == '>')
				break;
		}
		if (nattr > HI1_MAX_ATTRS) {
			wd_error_set(err, WD_ERR_LIMITS, "line %zu: an element has "
			    "more than %d attributes", line, HI1_MAX_ATTRS);
			return -1;
		}
		if (i < len && buf[i] == '<')
			i--;	/* let the outer loop look at this '<' */
	}
	return 0;
}

static int
hi1_precheck(const char *buf, size_t len, struct wd_error *err)
{
	size_t	 off;

	if (buf == NULL || len == 0) {
		wd_error_set(err, WD_ERR_NOT_WELL_FORMED, "empty body");
		return -1;
	}
	if (len > HI1_MAX_BODY) {
		wd_error_set(err, WD_ERR_BODY_TOO_LARGE,
		    "body of %zu bytes exceeds the %u-byte ceiling", len,
		    HI1_MAX_BODY);
		return -1;
	}
	if ((off = hi1_utf8_bad_offset((const unsigned char *)buf, len)) != len) {
		wd_error_set(err, WD_ERR_ENCODING, "byte 0x%02x at offset %zu "
		    "is not valid UTF-8", (unsigned char)buf[off], off);
		return -1;
	}
	if (hi1_check_xmldecl(buf, len, err) == -1)
		return -1;
	/* Both spellings, case-sensitively as XML is: no DTD, no entities. */
	if (memmem(buf, len, "<!DOCTYPE", 9) != NULL ||
	    memmem(buf, len, "<!ENTITY", 8) != NULL) {
		wd_error_set(err, WD_ERR_DOCTYPE, "the body contains a DOCTYPE "
		    "or ENTITY declaration");
		return -1;
	}
	return hi1_check_attr_counts(buf, len, err);
}

/* ------------------------------------------------------------------------ */
/* Parsing and structural limits                                             */

/*
 * Walk the tree iteratively (no recursion on untrusted depth) and enforce
 * depth, attributes per element and the element count. libxml2 itself stops
 * at depth 256 without XML_PARSE_HUGE, so deeper bodies never get here.
 */
static int
hi1_check_tree(xmlNodePtr root, struct wd_error *err)
{
	xmlNodePtr	 n = root;
	int		 depth = 1, nattr;
	size_t		 count = 0;
	xmlAttrPtr	 a;
	xmlNsPtr	 ns;

	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE) {
			if (++count > HI1_MAX_ELEMENTS) {
				wd_error_set(err, WD_ERR_LIMITS, "more than %d "
				    "elements", HI1_MAX_ELEMENTS);
				return -1;
			}
			if (depth > HI1_MAX_DEPTH) {
				wd_error_set(err, WD_ERR_LIMITS, "line %ld: elements "
				    "nested deeper than %d", xmlGetLineNo(n),
				    HI1_MAX_DEPTH);
				return -1;
			}
			nattr = 0;
			for (a = n->properties; a != NULL; a = a->next)
				nattr++;
			for (ns = n->nsDef; ns != NULL; ns = ns->next)
				nattr++;
			if (nattr > HI1_MAX_ATTRS) {
				wd_error_set(err, WD_ERR_LIMITS, "line %ld: element "
				    "has %d attributes, at most %d accepted",
				    xmlGetLineNo(n), nattr, HI1_MAX_ATTRS);
				return -1;
			}
			if (n->children != NULL) {
				n = n->children;
				depth++;
				continue;
			}
		} else if (n->type == XML_ENTITY_REF_NODE ||
		    n->type == XML_DTD_NODE || n->type == XML_ENTITY_DECL) {
			wd_error_set(err, WD_ERR_DOCTYPE, "entity reference or "
			    "declaration in the document");
			return -1;
		}
		while (n != root && n->next == NULL) {
			n = n->parent;
			depth--;
		}
		if (n == root)
			break;
		n = n->next;
	}
	return 0;
}

/* libxml2 reports its depth cap as an "internal error" mentioning depth. */
static enum wd_errcode
hi1_parse_errcode(const struct hi1_errcap *cap)
{
	if (cap->code == XML_ERR_INTERNAL_ERROR && strstr(cap->msg, "depth"))
		return WD_ERR_LIMITS;
	if (cap->code == XML_ERR_NO_MEMORY)
		return WD_ERR_LIMITS;
	if (cap->code == XML_ERR_UNKNOWN_ENCODING ||
	    cap->code == XML_ERR_UNSUPPORTED_ENCODING ||
	    cap->code == XML_ERR_INVALID_CHAR)
		return WD_ERR_ENCODING;
	return WD_ERR_NOT_WELL_FORMED;
}

/*
 * The one way this module turns bytes into a tree, for requests and for our
 * own dictionary file alike.
 */
static xmlDocPtr
hi1_xml_parse(const char *buf, size_t len, struct wd_error *err)
{
	struct hi1_errcap	 cap;
	struct hi1_errsave	 save;
	xmlParserCtxtPtr	 ctxt;
	xmlDocPtr		 doc;

	if (hi1_precheck(buf, len, err) == -1)
		return NULL;
	hi1_errcap_push(&cap, &save);
	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		hi1_errcap_pop(&save);
		wd_error_set(err, WD_ERR_INTERNAL, "cannot allocate an XML parser");
		return NULL;
	}
	/* "UTF-8" forces the decoder whatever the document claims. */
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, "UTF-8",
	    HI1_PARSE_OPTIONS);
	xmlFreeParserCtxt(ctxt);
	hi1_errcap_pop(&save);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		if (cap.set)
			wd_error_set(err, hi1_parse_errcode(&cap), "line %d: %s",
			    cap.line, cap.msg);
		else
			wd_error_set(err, WD_ERR_NOT_WELL_FORMED,
			    "no root element");
		xmlFreeDoc(doc);
		return NULL;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		wd_error_set(err, WD_ERR_DOCTYPE, "the document has a DTD");
		xmlFreeDoc(doc);
		return NULL;
	}
	if (hi1_check_tree(xmlDocGetRootElement(doc), err) == -1) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* ------------------------------------------------------------------------ */
/* Schema and dictionaries                                                   */

/* Read a whole regular file, at most HI1_MAX_FILE bytes. */
static char *
hi1_read_file(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	errno = 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || (size_t)st.st_size > HI1_MAX_FILE ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		if (errno == 0)
			errno = EFBIG;
		close(fd);
		return NULL;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return buf;
}

static int
hi1_file_has_doctype(const char *path)
{
	char	*buf;
	size_t	 len;
	int	 bad;

	if ((buf = hi1_read_file(path, &len)) == NULL)
		return 1;
	bad = memmem(buf, len, "<!DOCTYPE", 9) != NULL ||
	    memmem(buf, len, "<!ENTITY", 8) != NULL;
	free(buf);
	return bad;
}

static int
hi1_is(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr
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
 * into dst. Returns 0, or -1 if absent (dst = "") or -2 if too long.
 */
static int
hi1_text(xmlNodePtr n, char *dst, size_t len)
{
	xmlNodePtr	 t;
	size_t		 off = 0, k;
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
				dst[0] = '\0';
				return -2;
			}
			dst[off++] = s[k];
		}
	}
	while (off > 0 && hi1_is_space(dst[off - 1]))
		off--;
	dst[off] = '\0';
	return 0;
}

static int
hi1_dict_add(struct hi1_schema *hs, const char *owner, const char *name,
    const char *value)
{
	struct hi1_dict_entry	*e;

	if (hs->ndict >= HI1_MAX_DICT)
		return -1;
	e = &hs->dict[hs->ndict++];
	snprintf(e->owner, sizeof(e->owner), "%s", owner);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->value, sizeof(e->value), "%s", value);
	return 0;
}

/*
 * Values the code maps to behaviour must be ones it knows: a RequestType the
 * daemon cannot route, or a legal type it cannot classify, is a
 * configuration error found at start, not a surprise at request time.
 */
static int
hi1_dict_value_known(const char *name, const char *value)
{
	enum wd_reqtype	 t;

	if (strcmp(name, "RequestType") == 0)
		return wd_reqtype_from_name(value, &t) == 0 &&
		    t != WD_REQ_INTERCEPTION;
	if (strcmp(name, "AuthorisationLegalType") == 0)
		return strcmp(value, "JudicialOrder") == 0 ||
		    strcmp(value, "UrgentOrder") == 0;
	return 1;
}

static int
hi1_dict_load_one(struct hi1_schema *hs, xmlNodePtr d, const char *path)
{
	char		 owner[16], name[64], value[64];
	xmlNodePtr	 es, e;

	if (hi1_text(hi1_child(d, NS_DICT, "Owner"), owner, sizeof(owner)) ||
	    hi1_text(hi1_child(d, NS_DICT, "Name"), name, sizeof(name)) ||
	    (es = hi1_child(d, NS_DICT, "DictionaryEntries")) == NULL) {
		log_warnx("%s:%ld: Dictionary without Owner, Name or "
		    "DictionaryEntries", path, xmlGetLineNo(d));
		return -1;
	}
	if (strcmp(owner, "MX") != 0)
		return 0;	/* ETSI's own are in hi1_etsi_dicts */
	for (e = es->children; e != NULL; e = e->next) {
		if (!hi1_is(e, NS_DICT, "DictionaryEntry"))
			continue;
		if (hi1_text(hi1_child(e, NS_DICT, "Value"), value,
		    sizeof(value)) != 0 || value[0] == '\0') {
			log_warnx("%s:%ld: DictionaryEntry without a usable "
			    "Value", path, xmlGetLineNo(e));
			return -1;
		}
		if (!hi1_dict_value_known(name, value)) {
			log_warnx("%s:%ld: %s value %s is not known to warrantd",
			    path, xmlGetLineNo(e), name, value);
			return -1;
		}
		if (hi1_dict_add(hs, owner, name, value) == -1) {
			log_warnx("%s: more than %d dictionary values", path,
			    HI1_MAX_DICT);
			return -1;
		}
	}
	return 0;
}

static int
hi1_dict_has(const struct hi1_schema *hs, const char *owner, const char *name)
{
	for (size_t i = 0; i < hs->ndict; i++)
		if (strcmp(hs->dict[i].owner, owner) == 0 &&
		    strcmp(hs->dict[i].name, name) == 0)
			return 1;
	return 0;
}

static int
hi1_dict_load(struct hi1_schema *hs, const char *path)
{
	struct wd_error	 err;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, d;
	char		*buf;
	size_t		 len;
	int		 rv = 0;

	if ((buf = hi1_read_file(path, &len)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	memset(&err, 0, sizeof(err));
	doc = hi1_xml_parse(buf, len, &err);
	free(buf);
	if (doc == NULL) {
		log_warnx("%s: %s", path, err.text);
		return -1;
	}
	root = xmlDocGetRootElement(doc);
	if (!hi1_is(root, NS_DICT, "Dictionaries")) {
		log_warnx("%s: root is not an ETSI Dictionaries element", path);
		rv = -1;
	}
	for (d = root->children; rv == 0 && d != NULL; d = d->next)
		if (hi1_is(d, NS_DICT, "Dictionary"))
			rv = hi1_dict_load_one(hs, d, path);
	xmlFreeDoc(doc);
	if (rv == 0 && (!hi1_dict_has(hs, "MX", "RequestType") ||
	    !hi1_dict_has(hs, "MX", "AuthorisationLegalType"))) {
		log_warnx("%s: MX dictionaries RequestType and "
		    "AuthorisationLegalType are required", path);
		rv = -1;
	}
	return rv;
}

static xmlSchemaPtr
hi1_xsd_compile(const char *dir, const char *path)
{
	struct hi1_errcap	 cap;
	struct hi1_errsave	 save;
	xmlSchemaParserCtxtPtr	 pctxt;
	xmlSchemaPtr		 xsd = NULL;

	if (hi1_file_has_doctype(path)) {
		log_warnx("%s: unreadable, or has a DOCTYPE", path);
		return NULL;
	}
	hi1_errcap_push(&cap, &save);
	hi1_loader_dir = dir;
	if ((pctxt = xmlSchemaNewParserCtxt(path)) != NULL) {
		xmlSchemaSetParserStructuredErrors(pctxt, hi1_errcap_fn, &cap);
		xsd = xmlSchemaParse(pctxt);
		xmlSchemaFreeParserCtxt(pctxt);
	}
	hi1_loader_dir = NULL;
	hi1_errcap_pop(&save);
	if (xsd == NULL)
		log_warnx("%s:%d: %s", cap.file[0] ? cap.file : path, cap.line,
		    cap.set ? cap.msg : "schema does not compile");
	return xsd;
}

struct hi1_schema *
hi1_schema_load(const char *templates_dir)
{
	struct hi1_schema	*hs;
	char			 dir[PATH_MAX], path[PATH_MAX + 32];

	if (!hi1_initialised)
		hi1_init();
	if (templates_dir == NULL || realpath(templates_dir, dir) == NULL) {
		log_warn("templates directory %s",
		    templates_dir ? templates_dir : "(null)");
		return NULL;
	}
	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (hs->dict = calloc(HI1_MAX_DICT, sizeof(*hs->dict))) == NULL) {
		log_warn("%s", __func__);
		free(hs);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/hi1-mx.xsd", dir);
	if ((hs->xsd = hi1_xsd_compile(dir, path)) == NULL)
		goto fail;
	snprintf(path, sizeof(path), "%s/mx-dictionaries.xml", dir);
	if (hi1_dict_load(hs, path) == -1)
		goto fail;
	return hs;
fail:
	hi1_schema_free(hs);
	return NULL;
}

void
hi1_schema_free(struct hi1_schema *hs)
{
	if (hs == NULL)
		return;
	if (hs->xsd != NULL)
		xmlSchemaFree(hs->xsd);
	free(hs->dict);
	free(hs);
}

static int
hi1_validate(const struct hi1_schema *hs, xmlDocPtr doc, struct wd_error *err)
{
	struct hi1_errcap	 cap;
	struct hi1_errsave	 save;
	xmlSchemaValidCtxtPtr	 vctxt;
	int			 rc;

	hi1_errcap_push(&cap, &save);
	/* One context per call: contexts are not shareable, the schema is. */
	if ((vctxt = xmlSchemaNewValidCtxt(hs->xsd)) == NULL) {
		hi1_errcap_pop(&save);
		wd_error_set(err, WD_ERR_INTERNAL, "cannot allocate a validator");
		return -1;
	}
	xmlSchemaSetValidStructuredErrors(vctxt, hi1_errcap_fn, &cap);
	rc = xmlSchemaValidateDoc(vctxt, doc);
	xmlSchemaFreeValidCtxt(vctxt);
	hi1_errcap_pop(&save);
	if (rc == 0)
		return 0;
	if (rc < 0)
		wd_error_set(err, WD_ERR_INTERNAL, "schema validator failed");
	else
		wd_error_set(err, WD_ERR_SCHEMA, "line %d: %s", cap.line,
		    cap.set ? cap.msg : "invalid");
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Times and identifiers                                                     */

static int
hi1_digits(const char *s, size_t n, int *out)
{
	int	 v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
hi1_days_in_month(int year, int mon)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int	 leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

/* "[.ffffff](Z|+hh:mm|-hh:mm)" after the seconds. */
static int
hi1_parse_zone(const char *p, int64_t *frac_us, int64_t *offset_s)
{
	int	 n = 0, hh, mm;

	*frac_us = 0;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, n++) {
			if (n >= 6)
				return -1;
			*frac_us = *frac_us * 10 + (*p - '0');
		}
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			*frac_us *= 10;
	}
	if (p[0] == 'Z' && p[1] == '\0') {
		*offset_s = 0;
		return 0;
	}
	if (strlen(p) != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':' ||
	    hi1_digits(p + 1, 2, &hh) || hi1_digits(p + 4, 2, &mm) ||
	    mm > 59 || hh > 14 || (hh == 14 && mm != 0))
		return -1;
	*offset_s = (hh * 3600 + mm * 60) * (p[0] == '-' ? -1 : 1);
	return 0;
}

int
hi1_parse_time(const char *s, int64_t *out_us)
{
	struct tm	 tm;
	int		 y, mo, d, h, mi, se;
	int64_t		 frac, off;
	time_t		 t;

	if (s == NULL || strnlen(s, 40) < 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    hi1_digits(s, 4, &y) || hi1_digits(s + 5, 2, &mo) ||
	    hi1_digits(s + 8, 2, &d) || hi1_digits(s + 11, 2, &h) ||
	    hi1_digits(s + 14, 2, &mi) || hi1_digits(s + 17, 2, &se))
		return -1;
	/* xs:dateTime allows 24:00:00 and year 0000 is not one; we take neither. */
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > hi1_days_in_month(y, mo) ||
	    h > 23 || mi > 59 || se > 59)
		return -1;
	if (hi1_parse_zone(s + 19, &frac, &off) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	/* Fields are in range, so timegm() has nothing to normalise. */
	t = timegm(&tm);
	*out_us = ((int64_t)t - off) * 1000000 + frac;
	return 0;
}

void
hi1_format_time(int64_t us, char *buf, size_t len)
{
	struct tm	 tm;
	int64_t		 sec = us / 1000000, frac = us % 1000000;
	time_t		 t;

	if (frac < 0) {		/* floor, so that -1 µs is 23:59:59.999999 */
		frac += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (len == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long long)frac);
}

int
hi1_imei_luhn_ok(const char *s)
{
	int	 sum = 0, d;

	if (s == NULL || strlen(s) != 15)
		return 0;
	for (int i = 14; i >= 0; i--) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		d = s[i] - '0';
		/* Every second digit from the right, the check digit excluded. */
		if ((14 - i) % 2 == 1 && (d *= 2) > 9)
			d -= 9;
		sum += d;
	}
	return sum % 10 == 0;
}

static int
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
static int
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

/* Untrusted text in our messages: printable, bounded, one line. */
static const char *
hi1_printable(const char *in, char *out, size_t len)
{
	size_t	 i;

	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ?
		    '?' : in[i];
	out[i] = '\0';
	return out;
}

/* ------------------------------------------------------------------------ */
/* Extraction                                                                */

struct hi1_ctx {
	const struct hi1_schema	*hs;
	struct hi1_request	*req;
	struct wd_error		*err;
	int			 in_action;
	uint32_t		 action;
	int			 failed;	/* keep the first error only */
};

/* One action as found in the first pass. */
struct hi1_slot {
	uint32_t	 action;
	xmlNodePtr	 obj;
	int		 is_task;
	const char	*type;		/* xsi:type, resolved */
	size_t		 index;		/* into auths[] or tasks[] */
};

static int
hi1_fail(struct hi1_ctx *c, enum wd_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
hi1_fail(struct hi1_ctx *c, enum wd_errcode code, const char *fmt, ...)
{
	char	 msg[sizeof(c->err->text)];
	va_list	 ap;

	if (c->failed)
		return -1;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->in_action)
		wd_error_set_action(c->err, code, c->action, "action %u: %s",
		    c->action, msg);
	else
		wd_error_set(c->err, code, "%s", msg);
	return -1;
}

/* Text of child ns:name of parent into dst; required or not. */
static int
hi1_field(struct hi1_ctx *c, xmlNodePtr parent, const char *ns,
    const char *name, char *dst, size_t len, int required)
{
	xmlNodePtr	 n = hi1_child(parent, ns, name);

	switch (hi1_text(n, dst, len)) {
	case 0:
		if (dst[0] != '\0' || !required)
			return 0;
		/* FALLTHROUGH */
	case -1:
		if (!required)
			return 0;
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "%s is missing", name);
	default:
		return hi1_fail(c, WD_ERR_LIMITS, "%s is longer than %zu bytes",
		    name, len - 1);
	}
}

/* Optional time child; *present tells whether it was there. */
static int
hi1_time_field(struct hi1_ctx *c, xmlNodePtr parent, const char *ns,
    const char *name, int64_t *out, bool *present)
{
	char	 buf[64];

	*present = false;
	if (hi1_field(c, parent, ns, name, buf, sizeof(buf), 0) == -1)
		return -1;
	if (buf[0] == '\0')
		return 0;
	if (hi1_parse_time(buf, out) == -1)
		return hi1_fail(c, WD_ERR_SCHEMA, "%s is not a valid date and "
		    "time with a zone", name);
	*present = true;
	return 0;
}

static int
hi1_dict_known(const struct hi1_schema *hs, const char *owner,
    const char *name, const char *value)
{
	if (strcmp(owner, "MX") == 0) {
		for (size_t i = 0; i < hs->ndict; i++)
			if (strcmp(hs->dict[i].name, name) == 0 &&
			    strcmp(hs->dict[i].value, value) == 0)
				return 1;
		return 0;
	}
	if (strcmp(owner, "ETSI") != 0)
		return 0;
	for (size_t i = 0; i < sizeof(hi1_etsi_dicts) / sizeof(hi1_etsi_dicts[0]); i++) {
		if (strcmp(hi1_etsi_dicts[i].name, name) != 0)
			continue;
		for (size_t k = 0; k < 8 && hi1_etsi_dicts[i].values[k]; k++)
			if (strcmp(hi1_etsi_dicts[i].values[k], value) == 0)
				return 1;
	}
	return 0;
}

/*
 * A DictionaryEntry (common:Owner, Name, Value) whose Owner and Name must be
 * the expected ones for this element and whose Value must be known.
 */
static int
hi1_dict_entry(struct hi1_ctx *c, xmlNodePtr n, const char *owner,
    const char *name, char *value, size_t len)
{
	char	 o[64], nm[64], p1[64], p2[64], p3[64];

	if (hi1_field(c, n, NS_COMMON, "Owner", o, sizeof(o), 1) == -1 ||
	    hi1_field(c, n, NS_COMMON, "Name", nm, sizeof(nm), 1) == -1 ||
	    hi1_field(c, n, NS_COMMON, "Value", value, len, 1) == -1)
		return -1;
	if (strcmp(o, owner) != 0 || strcmp(nm, name) != 0)
		return hi1_fail(c, WD_ERR_DICTIONARY, "%s must be a value of "
		    "dictionary %s/%s, not %s/%s", (const char *)n->name, owner,
		    name, hi1_printable(o, p1, sizeof(p1)),
		    hi1_printable(nm, p2, sizeof(p2)));
	if (!hi1_dict_known(c->hs, o, nm, value))
		return hi1_fail(c, WD_ERR_DICTIONARY, "%s is not a value of "
		    "dictionary %s/%s", hi1_printable(value, p3, sizeof(p3)),
		    owner, name);
	return 0;
}

/* Next element after n in document order, staying inside root. */
static xmlNodePtr
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
 * Every DictionaryEntry anywhere in the object (priority, desired status,
 * flags, handover formats...) must name a known dictionary and value, so
 * that nothing we do not understand is silently accepted.
 */
static int
hi1_check_all_dicts(struct hi1_ctx *c, xmlNodePtr obj)
{
	char		 o[64], nm[64], v[64], p1[64], p2[64], p3[64];
	xmlNodePtr	 n, first;

	for (n = obj; n != NULL; n = hi1_next_element(n, obj)) {
		for (first = n->children; first != NULL &&
		    first->type != XML_ELEMENT_NODE; first = first->next)
			;
		if (!hi1_is(first, NS_COMMON, "Owner"))
			continue;
		if (hi1_field(c, n, NS_COMMON, "Owner", o, sizeof(o), 1) == -1 ||
		    hi1_field(c, n, NS_COMMON, "Name", nm, sizeof(nm), 1) == -1 ||
		    hi1_field(c, n, NS_COMMON, "Value", v, sizeof(v), 1) == -1)
			return -1;
		if (!hi1_dict_known(c->hs, o, nm, v))
			return hi1_fail(c, WD_ERR_DICTIONARY, "%s: %s is not a "
			    "value of dictionary %s/%s", (const char *)n->name,
			    hi1_printable(v, p1, sizeof(p1)),
			    hi1_printable(o, p2, sizeof(p2)),
			    hi1_printable(nm, p3, sizeof(p3)));
	}
	return 0;
}

/* The value must match its FormatName: the profile's Mexican formats. */
static int
hi1_check_identifier(struct hi1_ctx *c, struct hi1_identifier *id)
{
	char	 p[64];

	hi1_printable(id->value, p, sizeof(p));
	switch (id->type) {
	case WD_ID_MSISDN:
		if (!hi1_all_digits(id->value, 12) || strncmp(id->value, "52", 2))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "InternationalE164 "
			    "%s is not 52 and 10 digits", p);
		return 0;
	case WD_ID_IMSI:
		if (!hi1_all_digits(id->value, 15) || strncmp(id->value, "334", 3))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IMSI %s is not "
			    "334 and 12 digits", p);
		return 0;
	case WD_ID_IMEI:
		if (!hi1_all_digits(id->value, 15))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IMEI %s is not "
			    "15 digits", p);
		if (!hi1_imei_luhn_ok(id->value))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IMEI %s has a "
			    "wrong check digit", p);
		return 0;
	case WD_ID_IPPORT:
		if (hi1_parse_ipport(id->value, id) == -1)
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IPAddressPort %s "
			    "is not a.b.c.d:port or [v6]:port with port "
			    "1-65535", p);
		return 0;
	default:
		return hi1_fail(c, WD_ERR_INTERNAL, "identifier type %d",
		    (int)id->type);
	}
}

/* RequestValue or TargetIdentifierValue: FormatType and Value. */
static int
hi1_identifier(struct hi1_ctx *c, xmlNodePtr v, struct hi1_task *t)
{
	struct hi1_identifier	*id;
	xmlNodePtr		 ft;
	char			 owner[64], name[64], p1[64], p2[64];
	int			 i;

	if (t->nids >= HI1_MAX_IDS)
		return hi1_fail(c, WD_ERR_LIMITS, "more than %d identifiers",
		    HI1_MAX_IDS);
	id = &t->ids[t->nids];
	memset(id, 0, sizeof(*id));
	ft = hi1_child(v, NS_TASK, "FormatType");
	if (hi1_field(c, ft, NS_TASK, "FormatOwner", owner, sizeof(owner), 1) ||
	    hi1_field(c, ft, NS_TASK, "FormatName", name, sizeof(name), 1) ||
	    hi1_field(c, v, NS_TASK, "Value", id->value, sizeof(id->value), 1))
		return -1;
	for (i = 0; i < WD_ID__COUNT; i++)
		if (strcmp(name, wd_idtype_name((enum wd_idtype)i)) == 0)
			break;
	if (strcmp(owner, "ETSI") != 0 || i == WD_ID__COUNT)
		return hi1_fail(c, WD_ERR_IDENTIFIER, "identifier format %s/%s "
		    "is not supported", hi1_printable(owner, p1, sizeof(p1)),
		    hi1_printable(name, p2, sizeof(p2)));
	id->type = (enum wd_idtype)i;
	if (hi1_check_identifier(c, id) == -1)
		return -1;
	t->nids++;
	return 0;
}

/* All identifiers under list (RequestValues or TargetIdentifierValues). */
static int
hi1_identifiers(struct hi1_ctx *c, xmlNodePtr list, const char *item,
    struct hi1_task *t)
{
	xmlNodePtr	 n;

	if (list != NULL)
		for (n = list->children; n != NULL; n = n->next)
			if (hi1_is(n, NS_TASK, item) &&
			    hi1_identifier(c, n, t) == -1)
				return -1;
	if (t->nids == 0)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "the task names no "
		    "identifier");
	for (size_t i = 0; i < t->nids; i++)
		if (t->ids[i].type == WD_ID_IPPORT && !t->has_observed)
			return hi1_fail(c, WD_ERR_MISSING_FIELD, "IPAddressPort "
			    "%s needs an ObservedTime: many subscribers share "
			    "an address", t->ids[i].value);
	return 0;
}

/* StartTime and EndTime under parent: both or neither, end after start. */
static int
hi1_window(struct hi1_ctx *c, xmlNodePtr parent, const char *ns,
    struct hi1_task *t)
{
	bool	 has_start, has_end;

	if (hi1_time_field(c, parent, ns, "StartTime", &t->window_start_us,
	    &has_start) == -1 ||
	    hi1_time_field(c, parent, ns, "EndTime", &t->window_end_us,
	    &has_end) == -1)
		return -1;
	if (has_start != has_end)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "a time window needs "
		    "both StartTime and EndTime");
	t->has_window = has_start;
	if (t->has_window && t->window_end_us <= t->window_start_us)
		return hi1_fail(c, WD_ERR_WINDOW_ORDER, "EndTime is not after "
		    "StartTime");
	return 0;
}

/* AssociatedObjects of the HI1Object base, for tasks. */
static int
hi1_assoc(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_task *t)
{
	xmlNodePtr	 list, n;

	list = hi1_child(obj, NS_CORE, "AssociatedObjects");
	for (n = list ? list->children : NULL; n != NULL; n = n->next) {
		if (!hi1_is(n, NS_CORE, "AssociatedObject"))
			continue;
		if (t->nassoc >= HI1_MAX_ASSOC)
			return hi1_fail(c, WD_ERR_LIMITS, "more than %d "
			    "associated objects", HI1_MAX_ASSOC);
		if (hi1_text(n, t->assoc[t->nassoc], sizeof(t->assoc[0])) != 0)
			return hi1_fail(c, WD_ERR_AUTH_LINK, "an AssociatedObject "
			    "is not an object identifier");
		t->nassoc++;
	}
	return 0;
}

static int
hi1_extract_ldtask(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_task *t)
{
	xmlNodePtr	 rd;
	char		 type[64];

	rd = hi1_child(obj, NS_TASK, "RequestDetails");
	if (hi1_field(c, obj, NS_TASK, "Reference", t->reference,
	    sizeof(t->reference), 1) == -1)
		return -1;
	if (rd == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "RequestDetails is "
		    "missing");
	if (hi1_child(rd, NS_TASK, "Type") == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "RequestDetails/Type "
		    "is missing");
	if (hi1_dict_entry(c, hi1_child(rd, NS_TASK, "Type"), "MX",
	    "RequestType", type, sizeof(type)) == -1)
		return -1;
	if (wd_reqtype_from_name(type, &t->type) == -1 ||
	    t->type == WD_REQ_INTERCEPTION)
		return hi1_fail(c, WD_ERR_DICTIONARY, "RequestType %s is not a "
		    "disclosure type", type);
	if (hi1_window(c, rd, NS_TASK, t) == -1 ||
	    hi1_time_field(c, rd, NS_TASK, "ObservedTime", &t->observed_us,
	    &t->has_observed) == -1)
		return -1;
	if (!t->has_window && (t->type == WD_REQ_LOCATION_HIST ||
	    t->type == WD_REQ_RECORDS || t->type == WD_REQ_PRESERVATION))
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "%s needs a time "
		    "window (StartTime and EndTime)", type);
	return hi1_identifiers(c, hi1_child(rd, NS_TASK, "RequestValues"),
	    "RequestValue", t);
}

static int
hi1_extract_litask(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_task *t)
{
	xmlNodePtr	 ts, ti, dt;

	t->type = WD_REQ_INTERCEPTION;
	if (hi1_field(c, obj, NS_TASK, "Reference", t->reference,
	    sizeof(t->reference), 1) == -1)
		return -1;
	ts = hi1_child(obj, NS_TASK, "Timespan");
	if (hi1_window(c, ts, NS_TASK, t) == -1)
		return -1;
	if (!t->has_window)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "an interception "
		    "needs a Timespan with StartTime and EndTime");
	if ((dt = hi1_child(obj, NS_TASK, "DeliveryType")) == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "DeliveryType is "
		    "missing");
	if (hi1_dict_entry(c, dt, "ETSI", "TaskDeliveryType", t->delivery_type,
	    sizeof(t->delivery_type)) == -1)
		return -1;
	ti = hi1_child(obj, NS_TASK, "TargetIdentifier");
	return hi1_identifiers(c, hi1_child(ti, NS_TASK,
	    "TargetIdentifierValues"), "TargetIdentifierValue", t);
}

static int
hi1_extract_task(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_task *t,
    const char *type)
{
	if (hi1_field(c, obj, NS_CORE, "OwnerIdentifier", t->owner,
	    sizeof(t->owner), 1) == -1 || hi1_assoc(c, obj, t) == -1)
		return -1;
	if (strcmp(type, "LITaskObject") == 0) {
		if (hi1_extract_litask(c, obj, t) == -1)
			return -1;
	} else if (hi1_extract_ldtask(c, obj, t) == -1)
		return -1;
	/* After the specific fields, whose errors say more. */
	return hi1_check_all_dicts(c, obj);
}

/* The first AuthorisationApprovalDetails: who approved, when, reference. */
static int
hi1_extract_approval(struct hi1_ctx *c, xmlNodePtr obj,
    struct hi1_authorisation *a, bool *has)
{
	xmlNodePtr	 ad;
	char		 emerg[16];

	*has = false;
	if ((ad = hi1_child(obj, NS_AUTH, "AuthorisationApprovalDetails")) == NULL)
		return 0;
	if (hi1_field(c, ad, NS_COMMON, "ApprovalReference", a->case_number,
	    sizeof(a->case_number), 0) == -1 ||
	    hi1_field(c, hi1_child(ad, NS_COMMON, "ApproverDetails"), NS_COMMON,
	    "ApproverName", a->approver, sizeof(a->approver), 0) == -1 ||
	    hi1_time_field(c, ad, NS_COMMON, "ApprovalTimestamp",
	    &a->approved_us, has) == -1 ||
	    hi1_field(c, ad, NS_COMMON, "ApprovalIsEmergency", emerg,
	    sizeof(emerg), 0) == -1)
		return -1;
	/* xs:boolean: "true" or "1". */
	if (strcmp(emerg, "true") == 0 || strcmp(emerg, "1") == 0)
		a->emergency = true;
	return 0;
}

static int
hi1_extract_flags(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_authorisation *a)
{
	xmlNodePtr	 fl, n;
	char		 v[64];

	fl = hi1_child(obj, NS_AUTH, "AuthorisationFlags");
	for (n = fl ? fl->children : NULL; n != NULL; n = n->next) {
		if (!hi1_is(n, NS_AUTH, "AuthorisationFlag"))
			continue;
		if (hi1_dict_entry(c, n, "ETSI", "AuthorisationFlag", v,
		    sizeof(v)) == -1)
			return -1;
		if (strcmp(v, "IsEmergency") == 0)
			a->emergency = true;
	}
	return 0;
}

static int
hi1_extract_auth_times(struct hi1_ctx *c, xmlNodePtr obj,
    struct hi1_authorisation *a)
{
	xmlNodePtr	 ts = hi1_child(obj, NS_AUTH, "AuthorisationTimespan");
	bool		 has_start, has_end;

	if (hi1_time_field(c, ts, NS_AUTH, "StartTime", &a->valid_from_us,
	    &has_start) == -1 ||
	    hi1_time_field(c, ts, NS_AUTH, "EndTime", &a->valid_until_us,
	    &has_end) == -1)
		return -1;
	/* Policy checks the order is in force now: it needs both ends. */
	if (!has_start || !has_end)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "AuthorisationTimespan "
		    "needs StartTime and EndTime");
	if (a->valid_until_us <= a->valid_from_us)
		return hi1_fail(c, WD_ERR_WINDOW_ORDER, "authorisation EndTime "
		    "is not after its StartTime");
	return 0;
}

static int
hi1_extract_auth(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_authorisation *a)
{
	xmlNodePtr	 lt;
	char		 legal[64];
	bool		 approved;

	if (hi1_field(c, obj, NS_CORE, "OwnerIdentifier", a->owner,
	    sizeof(a->owner), 1) == -1 ||
	    hi1_field(c, obj, NS_AUTH, "AuthorisationReference", a->reference,
	    sizeof(a->reference), 1) == -1)
		return -1;
	/* Without a legal type policy cannot tell a judge's order from an urgent one. */
	if ((lt = hi1_child(obj, NS_AUTH, "AuthorisationLegalType")) == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "AuthorisationLegalType "
		    "is missing");
	if (hi1_dict_entry(c, lt, "MX", "AuthorisationLegalType", legal,
	    sizeof(legal)) == -1)
		return -1;
	a->urgent = strcmp(legal, "UrgentOrder") == 0;
	if (hi1_extract_auth_times(c, obj, a) == -1 ||
	    hi1_extract_approval(c, obj, a, &approved) == -1 ||
	    hi1_extract_flags(c, obj, a) == -1 ||
	    hi1_field(c, obj, NS_AUTH, "AuthorisationJurisdiction", a->court,
	    sizeof(a->court), 0) == -1)
		return -1;
	if (!a->urgent && a->court[0] == '\0')
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "a JudicialOrder needs "
		    "AuthorisationJurisdiction (the issuing court)");
	/* The ratification deadline of an urgent order runs from its approval. */
	if (a->urgent && !approved)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "an UrgentOrder needs "
		    "AuthorisationApprovalDetails/ApprovalTimestamp");
	return hi1_check_all_dicts(c, obj);
}

/* ------------------------------------------------------------------------ */
/* The message: header, actions, links                                       */

static int
hi1_endpoint(struct hi1_ctx *c, xmlNodePtr hdr, const char *name, char *cc,
    size_t cclen, char *id, size_t idlen)
{
	xmlNodePtr	 ep = hi1_child(hdr, NS_CORE, name);

	if (ep == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "%s is missing", name);
	if (hi1_field(c, ep, NS_CORE, "CountryCode", cc, cclen, 1) == -1 ||
	    hi1_field(c, ep, NS_CORE, "UniqueIdentifier", id, idlen, 1) == -1)
		return -1;
	return 0;
}

static int
hi1_extract_header(struct hi1_ctx *c, xmlNodePtr root)
{
	struct hi1_request	*r = c->req;
	xmlNodePtr		 hdr, ver;
	char			 etsi[32], owner[16], version[16];
	bool			 has;

	hdr = hi1_child(root, NS_CORE, "Header");
	ver = hi1_child(hdr, NS_CORE, "Version");
	if (hi1_endpoint(c, hdr, "SenderIdentifier", r->sender_cc,
	    sizeof(r->sender_cc), r->sender_id, sizeof(r->sender_id)) == -1 ||
	    hi1_endpoint(c, hdr, "ReceiverIdentifier", r->receiver_cc,
	    sizeof(r->receiver_cc), r->receiver_id, sizeof(r->receiver_id)) == -1 ||
	    hi1_field(c, hdr, NS_CORE, "TransactionIdentifier", r->transaction_id,
	    sizeof(r->transaction_id), 1) == -1 ||
	    hi1_time_field(c, hdr, NS_CORE, "Timestamp", &r->timestamp_us,
	    &has) == -1 ||
	    hi1_field(c, ver, NS_CORE, "ETSIVersion", etsi, sizeof(etsi), 1) ||
	    hi1_field(c, ver, NS_CORE, "NationalProfileOwner", owner,
	    sizeof(owner), 1) ||
	    hi1_field(c, ver, NS_CORE, "NationalProfileVersion", version,
	    sizeof(version), 1))
		return -1;
	if (!has)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "Timestamp is missing");
	/* Namespaces are stable across V1.x; a V2 would be another protocol. */
	if (strncmp(etsi, "V1.", 3) != 0 || strcmp(owner, "MX") != 0 ||
	    strcmp(version, "1.0") != 0)
		return hi1_fail(c, WD_ERR_SCHEMA, "version %.16s/%.8s/%.8s is not "
		    "V1.x.y of the MX profile 1.0", etsi, owner, version);
	return 0;
}

/* ActionIdentifier: xs:nonNegativeInteger ("+7", "007" are lexical forms). */
static int
hi1_action_id(struct hi1_ctx *c, xmlNodePtr ar, uint32_t *out)
{
	char		 buf[32];
	const char	*p = buf;
	uint64_t	 v = 0;

	if (hi1_field(c, ar, NS_CORE, "ActionIdentifier", buf, sizeof(buf), 1))
		return -1;
	if (*p == '+')
		p++;
	if (*p == '\0')
		return hi1_fail(c, WD_ERR_SCHEMA, "ActionIdentifier is empty");
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return hi1_fail(c, WD_ERR_SCHEMA, "ActionIdentifier is "
			    "not a number");
		if ((v = v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return hi1_fail(c, WD_ERR_LIMITS, "ActionIdentifier is "
			    "above %u", UINT32_MAX);
	}
	*out = (uint32_t)v;
	return 0;
}

/*
 * xsi:type is a QName: its prefix means whatever namespace is in scope at
 * this element (xmlSearchNs), not the string "auth" or "task".
 */
static int
hi1_object_type(struct hi1_ctx *c, xmlNodePtr obj, int *is_task,
    const char **local)
{
	static const char	*types[] = { "AuthorisationObject",
	    "LDTaskObject", "LITaskObject" };
	xmlChar			*val;
	char			 qn[128], p[64], *colon, *name;
	xmlNsPtr		 ns;
	int			 rv = -1;

	if ((val = xmlGetNsProp(obj, BAD_CAST "type", BAD_CAST NS_XSI)) == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "HI1Object has no xsi:type");
	/* Exact: libxml2's validator already refuses white space around it. */
	snprintf(qn, sizeof(qn), "%s", (const char *)val);
	xmlFree(val);
	if ((colon = strchr(qn, ':')) != NULL) {
		*colon = '\0';
		name = colon + 1;
	} else
		name = qn;
	ns = xmlSearchNs(obj->doc, obj, colon ? BAD_CAST qn : NULL);
	for (int i = 0; ns != NULL && i < 3; i++) {
		if (strcmp(name, types[i]) != 0 || strcmp((const char *)ns->href,
		    i == 0 ? NS_AUTH : NS_TASK) != 0)
			continue;
		*is_task = i != 0;
		*local = types[i];
		rv = 0;
	}
	if (rv == -1)
		return hi1_fail(c, WD_ERR_SCHEMA, "object type %s is not "
		    "supported", hi1_printable(name, p, sizeof(p)));
	return 0;
}

/* First pass over one ActionRequest: id, object type, object id. */
static int
hi1_skeleton(struct hi1_ctx *c, xmlNodePtr ar, struct hi1_slot *slot)
{
	struct hi1_request	*r = c->req;
	char			*oid;
	xmlNodePtr		 obj;

	c->in_action = 0;
	if (hi1_action_id(c, ar, &slot->action) == -1)
		return -1;
	c->in_action = 1;
	c->action = slot->action;
	obj = hi1_child(hi1_child(ar, NS_CORE, "CREATE"), NS_CORE, "HI1Object");
	if (obj == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "only CREATE of an HI1Object "
		    "is supported");
	if (hi1_object_type(c, obj, &slot->is_task, &slot->type) == -1)
		return -1;
	slot->obj = obj;
	if (slot->is_task) {
		slot->index = r->ntasks++;
		r->tasks[slot->index].action_id = slot->action;
		r->tasks[slot->index].auth_index = -1;
		oid = r->tasks[slot->index].object_id;
	} else {
		slot->index = r->nauths++;
		r->auths[slot->index].action_id = slot->action;
		oid = r->auths[slot->index].object_id;
	}
	return hi1_field(c, obj, NS_CORE, "ObjectIdentifier", oid,
	    HI1_UUID_LEN + 1, 1);
}

static const char *
hi1_slot_oid(const struct hi1_request *r, const struct hi1_slot *s)
{
	return s->is_task ? r->tasks[s->index].object_id :
	    r->auths[s->index].object_id;
}

static int
hi1_check_unique(struct hi1_ctx *c, const struct hi1_slot *slots, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < i; k++) {
			c->in_action = 1;
			c->action = slots[i].action;
			if (slots[i].action == slots[k].action)
				return hi1_fail(c, WD_ERR_DUPLICATE_ACTION,
				    "ActionIdentifier %u is used twice",
				    slots[i].action);
			if (strcmp(hi1_slot_oid(c->req, &slots[i]),
			    hi1_slot_oid(c->req, &slots[k])) == 0)
				return hi1_fail(c, WD_ERR_DUPLICATE_OBJECT,
				    "ObjectIdentifier %s is already used by "
				    "action %u", hi1_slot_oid(c->req, &slots[i]),
				    slots[k].action);
		}
	}
	return 0;
}

/*
 * Each task names exactly one AuthorisationObject of this message, and
 * nothing else: the profile has no stored objects to refer to.
 */
static int
hi1_link(struct hi1_ctx *c, struct hi1_task *t)
{
	struct hi1_request	*r = c->req;
	int			 found = -1, n = 0;
	size_t			 i, k;

	c->in_action = 1;
	c->action = t->action_id;
	for (i = 0; i < t->nassoc; i++) {
		for (k = 0; k < r->nauths; k++)
			if (strcmp(t->assoc[i], r->auths[k].object_id) == 0)
				break;
		if (k == r->nauths)
			return hi1_fail(c, WD_ERR_AUTH_LINK, "associated object "
			    "%s is not an authorisation of this message",
			    t->assoc[i]);
		if (found != (int)k)
			n++;
		found = (int)k;
	}
	if (n == 0)
		return hi1_fail(c, WD_ERR_AUTH_LINK, "the task is not linked to "
		    "an authorisation of this message");
	if (n > 1)
		return hi1_fail(c, WD_ERR_AUTH_LINK, "the task is linked to %d "
		    "authorisations; exactly one is needed", n);
	t->auth_index = found;
	return 0;
}

/*
 * Two passes. The first records every action's id and object id even when
 * one of them is wrong, so that hi1_build_error() can answer each action;
 * the second extracts details and stops at the first error.
 */
static int
hi1_extract_actions(struct hi1_ctx *c, xmlNodePtr root)
{
	struct hi1_slot		 slots[HI1_MAX_ACTIONS];
	struct hi1_request	*r = c->req;
	xmlNodePtr		 ars, n;
	size_t			 nslots = 0, i;

	ars = hi1_child(hi1_child(hi1_child(root, NS_CORE, "Payload"), NS_CORE,
	    "RequestPayload"), NS_CORE, "ActionRequests");
	if (ars == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "the message is not a request");
	for (n = ars->children; n != NULL; n = n->next) {
		if (!hi1_is(n, NS_CORE, "ActionRequest"))
			continue;
		if (nslots == HI1_MAX_ACTIONS) {
			c->in_action = 0;
			return hi1_fail(c, WD_ERR_LIMITS, "more than %d actions",
			    HI1_MAX_ACTIONS);
		}
		memset(&slots[nslots], 0, sizeof(slots[0]));
		if (hi1_skeleton(c, n, &slots[nslots]) == 0 ||
		    slots[nslots].obj != NULL)
			nslots++;
	}
	if (c->failed || hi1_check_unique(c, slots, nslots) == -1)
		return -1;
	for (i = 0; i < nslots; i++) {
		c->action = slots[i].action;
		if (slots[i].is_task) {
			if (hi1_extract_task(c, slots[i].obj,
			    &r->tasks[slots[i].index], slots[i].type) == -1)
				return -1;
		} else if (hi1_extract_auth(c, slots[i].obj,
		    &r->auths[slots[i].index]) == -1)
			return -1;
	}
	for (i = 0; i < r->ntasks; i++)
		if (hi1_link(c, &r->tasks[i]) == -1)
			return -1;
	c->in_action = 0;
	if (r->ntasks == 0)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "the message has no task");
	return 0;
}

static int
hi1_check_root(xmlNodePtr root, struct wd_error *err)
{
	char	 p1[64], p2[96];

	if (hi1_is(root, NS_CORE, "HI1Message"))
		return 0;
	wd_error_set(err, WD_ERR_SCHEMA, "root element %s in namespace %s is "
	    "not an HI-1 message (%s)", hi1_printable((const char *)root->name,
	    p1, sizeof(p1)), root->ns ? hi1_printable((const char *)
	    root->ns->href, p2, sizeof(p2)) : "(none)", NS_CORE);
	return -1;
}

int
hi1_parse_request(const struct hi1_schema *hs, const char *body, size_t len,
    struct hi1_request *req, struct wd_error *err)
{
	struct hi1_ctx	 c;
	xmlDocPtr	 doc;
	xmlNodePtr	 root;
	int		 rv = -1;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (hs == NULL || hs->xsd == NULL) {
		wd_error_set(err, WD_ERR_INTERNAL, "no schema loaded");
		return -1;
	}
	if ((doc = hi1_xml_parse(body, len, err)) == NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	if (hi1_check_root(root, err) == 0 && hi1_validate(hs, doc, err) == 0) {
		memset(&c, 0, sizeof(c));
		c.hs = hs;
		c.req = req;
		c.err = err;
		if (hi1_extract_header(&c, root) == 0 &&
		    hi1_extract_actions(&c, root) == 0)
			rv = 0;
	}
	xmlFreeDoc(doc);
	return rv;
}
