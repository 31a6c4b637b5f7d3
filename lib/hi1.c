/*
 * hi1 — the receiving side of ETSI TS 103 120 (HI-1) in warrantd's Mexican
 * profile (see include/hi1.h). This file owns the handling of untrusted XML:
 *  - libxml2 hardening: the external entity loader, parse options and the
 *    capture of libxml2's error messages (which must never reach stderr);
 *  - the byte-level checks made before any parsing (size, UTF-8, encoding
 *    declaration, DOCTYPE, attributes per tag) and the structural limits
 *    checked on the tree after parsing: the one way bytes become a tree;
 *  - reading our own files (bounded) and compiling the XSD templates, the
 *    only time the entity loader lets anything through.
 * The other parts of the receiving side, sharing lib/hi1_int.h:
 *  lib/hi1_schema.c   the templates and dictionaries, XSD validation;
 *  lib/hi1_value.c    value helpers: reading the tree, printable text,
 *                     identifier shapes, base64;
 *  lib/hi1_extract.c  extraction into struct hi1_request: its context,
 *                     identifiers and tasks, with the profile's semantic
 *                     rules that an XSD cannot express;
 *  lib/hi1_order.c    the same for authorisations, documents and UPDATEs;
 *  lib/hi1_request.c  a request message: header, actions, links;
 *  lib/hi1_parse.c    responses and DELIVER requests (include/hi1_parse.h).
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

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "hi1.h"
#include "hi1_int.h"
#include "wd_utf8.h"
#include "log.h"

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
int				 hi1_initialised;

static int	hi1_file_has_doctype(const char *);

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


void
hi1_errcap_fn(void *arg, hi1_xmlerr e)
{
	struct hi1_errcap	*cap = arg;
	size_t			 n;

	if (cap == NULL || e == NULL || cap->set)
		return;
	cap->set = 1;
	cap->code = e->code;
	cap->line = e->line;
	cap->node = e->node;
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
void
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

void
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
	/*
	 * A declaration that does not end within 512 bytes is refused rather
	 * than left to the parser: past the window we look at, a parser that
	 * honours the declaration (warrantctl receive's) would read another
	 * encoding than the one we checked.
	 */
	if ((end = memmem(buf, len < 512 ? len : 512, "?>", 2)) == NULL) {
		wd_error_set(err, WD_ERR_ENCODING, "the XML declaration does "
		    "not end within its first 512 bytes");
		return -1;
	}
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
hi1_precheck(const char *buf, size_t len, size_t max, struct wd_error *err)
{
	size_t	 off;

	if (buf == NULL || len == 0) {
		wd_error_set(err, WD_ERR_NOT_WELL_FORMED, "empty body");
		return -1;
	}
	if (len > max) {
		wd_error_set(err, WD_ERR_BODY_TOO_LARGE,
		    "body of %zu bytes exceeds the %zu-byte ceiling", len, max);
		return -1;
	}
	if ((off = wd_utf8_bad_offset(buf, len, false)) != len) {
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
hi1_check_tree(xmlNodePtr root, size_t max, struct wd_error *err)
{
	xmlNodePtr	 n = root;
	int		 depth = 1, nattr;
	size_t		 count = 0;
	xmlAttrPtr	 a;
	xmlNsPtr	 ns;

	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE) {
			if (++count > max) {
				wd_error_set(err, WD_ERR_LIMITS, "more than %zu "
				    "elements", max);
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
hi1_xml_parse_max(const char *buf, size_t len, size_t max_body,
    size_t max_elements, struct wd_error *err)
{
	struct hi1_errcap	 cap;
	struct hi1_errsave	 save;
	xmlParserCtxtPtr	 ctxt;
	xmlDocPtr		 doc;

	if (hi1_precheck(buf, len, max_body, err) == -1)
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
	if (hi1_check_tree(xmlDocGetRootElement(doc), max_elements, err) == -1) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

xmlDocPtr
hi1_xml_parse(const char *buf, size_t len, struct wd_error *err)
{
	return hi1_xml_parse_max(buf, len, HI1_MAX_BODY, HI1_MAX_ELEMENTS, err);
}

/* The same hardened path for other XML dialects (X1), with their bounds. */
struct _xmlDoc *
hi1_xml_read(const char *buf, size_t len, size_t max_body,
    size_t max_elements, struct wd_error *err)
{
	return hi1_xml_parse_max(buf, len, max_body, max_elements, err);
}

/* ------------------------------------------------------------------------ */
/* Our own files, and the schema compiled with the loader's permission       */

/* Read a whole regular file, at most HI1_MAX_FILE bytes. */
char *
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

xmlSchemaPtr
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
