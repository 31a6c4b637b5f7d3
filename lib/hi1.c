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
#include "hi1_parse.h"
#include "wd_luhn.h"
#include "wd_time.h"
#include "wd_utf8.h"
#include "log.h"

#define NS_CORE		"http://uri.etsi.org/03120/common/2019/10/Core"
#define NS_COMMON	"http://uri.etsi.org/03120/common/2016/02/Common"
#define NS_TASK		"http://uri.etsi.org/03120/common/2020/09/Task"
#define NS_AUTH		"http://uri.etsi.org/03120/common/2020/09/Authorisation"
#define NS_DOC		"http://uri.etsi.org/03120/common/2020/09/Document"
#define NS_DELIVERY	"http://uri.etsi.org/03120/common/2019/10/Delivery"
#define NS_NOTIF	"http://uri.etsi.org/03120/common/2016/02/Notification"
#define NS_XSI		"http://www.w3.org/2001/XMLSchema-instance"
#define NS_DICT		"http://uri.etsi.org/03280/common/2019/10/Dictionaries"
#define NS_XSD		"http://www.w3.org/2001/XMLSchema"

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
	{ "AuthorisationDesiredStatus", { "AwaitingApproval", "EmergencyApproval",
	    "Approved", "Rejected", "Suspended", "Cancelled", "Expired" } },
	{ "ObjectType", { "Authorisation", "Document", "Notification", "Task",
	    "LDTask", "Delivery" } },
	{ "DocumentType", { "Warrant" } },
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
static int	hi1_dict_known(const struct hi1_schema *, const char *,
		    const char *, const char *);
static xmlNodePtr hi1_next_element(xmlNodePtr, xmlNodePtr);

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
	void	*node;		/* validation: the element at fault */
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

static xmlDocPtr
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
 * into dst. Only the trimmed value must fit: white space around a value is
 * insignificant for the types that collapse it (xs:dateTime, xs:integer,
 * xs:boolean), and pretty-printing clients indent those values with as
 * much as they like (the profile's string types refuse it in the schema).
 * Returns 0, or -1 if absent (dst = "") or -2 if too long.
 */
static int
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

/*
 * The xs:enumeration values of the element named name inside an xs:group
 * of dictionary entries, one by one: *it is where the search goes on.
 */
static xmlChar *
hi1_xsd_enum_next(xmlNodePtr group, const char *name, xmlNodePtr *it)
{
	xmlNodePtr	 el = NULL, n;
	xmlChar		*v;

	for (n = group; n != NULL && el == NULL; n = hi1_next_element(n, group))
		if (hi1_is(n, NS_XSD, "element") && (v = xmlGetProp(n,
		    BAD_CAST "name")) != NULL) {
			if (strcmp((const char *)v, name) == 0)
				el = n;
			xmlFree(v);
		}
	if (el == NULL)
		return NULL;
	for (n = *it != NULL ? hi1_next_element(*it, el) : el; n != NULL;
	    n = hi1_next_element(n, el))
		if (hi1_is(n, NS_XSD, "enumeration")) {
			*it = n;
			return xmlGetProp(n, BAD_CAST "value");
		}
	return NULL;
}

/*
 * Every value the schema accepts for an MX dictionary must be in the
 * dictionary file: each xs:group of dictionary entries in mx-common.xsd
 * whose Owner is MX is compared with it, so that a carrier who edits one
 * file and not the other finds out at start or reload (the templates are
 * refused), not from an authority's request.
 */
static int
hi1_dict_check_xsd(const struct hi1_schema *hs, const char *path)
{
	struct wd_error	 err;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, g, it;
	xmlChar		*owner, *name, *value;
	char		*buf;
	size_t		 len;
	int		 rv = 0, mx;

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
	for (g = root; rv == 0 && g != NULL; g = hi1_next_element(g, root)) {
		if (!hi1_is(g, NS_XSD, "group"))
			continue;
		for (mx = 0, it = NULL; (owner = hi1_xsd_enum_next(g, "Owner",
		    &it)) != NULL; xmlFree(owner))
			mx |= strcmp((const char *)owner, "MX") == 0;
		it = NULL;
		if (!mx || (name = hi1_xsd_enum_next(g, "Name", &it)) == NULL)
			continue;
		for (it = NULL; rv == 0 && (value = hi1_xsd_enum_next(g, "Value",
		    &it)) != NULL; xmlFree(value))
			if (!hi1_dict_known(hs, "MX", (const char *)name,
			    (const char *)value)) {
				log_warnx("%s:%ld: MX/%s value %s is accepted by "
				    "the schema but not in the dictionaries",
				    path, xmlGetLineNo(it), name, value);
				rv = -1;
			}
		xmlFree(name);
	}
	xmlFreeDoc(doc);
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
	snprintf(path, sizeof(path), "%s/mx-common.xsd", dir);
	if (hi1_dict_check_xsd(hs, path) == -1)
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

static int	hi1_value_error(const struct hi1_errcap *, struct wd_error *);

int
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
	else if (!cap.set || hi1_value_error(&cap, err) == -1)
		wd_error_set(err, WD_ERR_SCHEMA, "line %d: %s", cap.line,
		    cap.set ? cap.msg : "invalid");
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Times and identifiers                                                     */

int
hi1_imei_luhn_ok(const char *s)
{
	return s != NULL && strlen(s) == 15 && wd_luhn_ok(s, 15);
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

/*
 * Untrusted text in our messages: printable, bounded, one line. A value
 * too long for out is cut on a character boundary and ends with "...", so
 * that a message quoting it stays valid UTF-8 (the input is: libxml2 and
 * our own check made sure of it).
 */
static const char *
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
	enum hi1_verb	 verb;
	enum hi1_kind	 kind;		/* CREATE, UPDATE: xsi:type, resolved */
	xmlNodePtr	 obj;		/* CREATE, UPDATE: the HI1Object */
	size_t		 index;		/* into auths, tasks, docs, updates, reads */
	bool		 found;		/* the first pass got this far */
};

static int
hi1_fail(struct hi1_ctx *c, enum wd_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int	hi1_forbid(struct hi1_ctx *, xmlNodePtr, const char *,
		    const char *const *);
static int	hi1_assoc_list(struct hi1_ctx *, xmlNodePtr,
		    char [][HI1_UUID_LEN + 1], size_t *);

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
	if (wd_time_parse(buf, out) == -1)
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
	/*
	 * The schema enumerates owner, name and values of every dictionary
	 * element, and hi1_schema_load() checked them against the
	 * dictionaries: getting here is a fault of the carrier's templates.
	 */
	if (strcmp(o, owner) != 0 || strcmp(nm, name) != 0)
		return hi1_fail(c, WD_ERR_INTERNAL, "the carrier's schema "
		    "accepts %s/%s in %s, which warrantd reads as %s/%s",
		    hi1_printable(o, p1, sizeof(p1)),
		    hi1_printable(nm, p2, sizeof(p2)), (const char *)n->name,
		    owner, name);
	if (!hi1_dict_known(c->hs, o, nm, value))
		return hi1_fail(c, WD_ERR_INTERNAL, "%s: the carrier's schema "
		    "accepts %s, which is not in its dictionary %s/%s",
		    (const char *)n->name, hi1_printable(value, p3, sizeof(p3)),
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
 * that nothing we do not understand is silently accepted. The shipped
 * schema only lets known values through; a value it accepts that warrantd
 * does not know is a fault of the carrier's templates (503), not of the
 * authority's message.
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
			return hi1_fail(c, WD_ERR_INTERNAL, "%s: the carrier's "
			    "schema accepts %s, which warrantd does not know "
			    "in dictionary %s/%s", (const char *)n->name,
			    hi1_printable(v, p1, sizeof(p1)),
			    hi1_printable(o, p2, sizeof(p2)),
			    hi1_printable(nm, p3, sizeof(p3)));
	}
	return 0;
}

/* The profile's rule for each FormatName, in words (docs/profile.md 7). */
static const char *
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

/*
 * Validation failed first on a RequestValue's or TargetIdentifierValue's
 * Value: a value with none of the shapes the schema allows. The schema's
 * message would quote the last of its patterns (an IPv6 regular
 * expression, whatever the FormatName beside it); say instead what that
 * FormatName needs, with the same code (407) as a Value of another
 * format's shape gets from hi1_check_identifier(). The actions are not
 * extracted yet, so the error is for the message, naming the action in its
 * text. Returns -1 (err untouched) for any other error.
 */
static int
hi1_value_error(const struct hi1_errcap *cap, struct wd_error *err)
{
	xmlNodePtr	 v = cap->node, ft, ar;
	xmlChar		*raw;
	char		 owner[16], name[32], num[16], act[32], p[48];
	int		 i;

	if (cap->code != XML_SCHEMAV_CVC_PATTERN_VALID &&
	    cap->code != XML_SCHEMAV_CVC_MAXLENGTH_VALID)
		return -1;
	if (!hi1_is(v, NS_TASK, "Value") ||
	    (!hi1_is(v->parent, NS_TASK, "RequestValue") &&
	    !hi1_is(v->parent, NS_TASK, "TargetIdentifierValue")))
		return -1;
	ft = hi1_child(v->parent, NS_TASK, "FormatType");
	if (hi1_text(hi1_child(ft, NS_TASK, "FormatOwner"), owner,
	    sizeof(owner)) != 0 || strcmp(owner, "ETSI") != 0 ||
	    hi1_text(hi1_child(ft, NS_TASK, "FormatName"), name,
	    sizeof(name)) != 0)
		return -1;
	for (i = 0; i < WD_ID__COUNT; i++)
		if (strcmp(name, wd_idtype_name((enum wd_idtype)i)) == 0)
			break;
	if (i == WD_ID__COUNT)
		return -1;
	for (ar = v->parent; ar != NULL && !hi1_is(ar, NS_CORE,
	    "ActionRequest"); ar = ar->parent)
		;
	act[0] = '\0';
	if (ar != NULL && hi1_text(hi1_child(ar, NS_CORE, "ActionIdentifier"),
	    num, sizeof(num)) == 0 && num[0] != '\0' &&
	    hi1_all_digits(num, strlen(num)))
		snprintf(act, sizeof(act), "action %s: ", num);
	raw = xmlNodeGetContent(v);
	wd_error_set(err, WD_ERR_IDENTIFIER, "%sline %d: %s \"%s\" is not %s",
	    act, cap->line, name, hi1_printable(raw != NULL ?
	    (const char *)raw : "", p, sizeof(p)),
	    hi1_id_rule((enum wd_idtype)i));
	xmlFree(raw);
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
			    "%s is not %s", p, hi1_id_rule(id->type));
		return 0;
	case WD_ID_IMSI:
		if (!hi1_all_digits(id->value, 15) || strncmp(id->value, "334", 3))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IMSI %s is not %s",
			    p, hi1_id_rule(id->type));
		return 0;
	case WD_ID_IMEI:
		if (!hi1_all_digits(id->value, 15))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IMEI %s is not %s",
			    p, hi1_id_rule(id->type));
		if (!hi1_imei_luhn_ok(id->value))
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IMEI %s has a "
			    "wrong check digit", p);
		return 0;
	case WD_ID_IPPORT:
		if (hi1_parse_ipport(id->value, id) == -1)
			return hi1_fail(c, WD_ERR_IDENTIFIER, "IPAddressPort %s "
			    "is not %s", p, hi1_id_rule(id->type));
		return 0;
	default:
		return hi1_fail(c, WD_ERR_INTERNAL, "identifier type %d",
		    (int)id->type);
	}
}

/* For identifiers read back from our own store: the same rules. */
int
hi1_identifier_valid(struct hi1_identifier *id)
{
	struct hi1_ctx	 c;
	struct wd_error	 e;

	memset(&c, 0, sizeof(c));
	c.err = &e;
	return hi1_check_identifier(&c, id);
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
		return hi1_fail(c, WD_ERR_INTERNAL, "RequestType %s is not a "
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

/*
 * DeliveryDetails: where the authority wants results. The first https URL
 * is kept: the gateway DELIVERs there (docs/lifecycle.md); other address
 * kinds are accepted as the standard allows and recorded only in the request.
 */
static int
hi1_delivery_url(struct hi1_ctx *c, xmlNodePtr obj, const char *dest,
    struct hi1_task *t)
{
	xmlNodePtr	 dd, k;

	dd = hi1_child(obj, NS_TASK, "DeliveryDetails");
	for (k = dd ? dd->children : NULL; k != NULL; k = k->next) {
		if (!hi1_is(k, NS_TASK, dest))
			continue;
		if (hi1_field(c, hi1_child(k, NS_TASK, "DeliveryAddress"),
		    NS_TASK, "URL", t->delivery_url, sizeof(t->delivery_url),
		    0) == -1)
			return -1;
		if (t->delivery_url[0] != '\0')
			break;
	}
	return 0;
}

/* DesiredStatus of a CREATE: the one value that starts the task. */
static int
hi1_create_desired(struct hi1_ctx *c, xmlNodePtr obj, const char *dict,
    const char *want)
{
	xmlNodePtr	 ds = hi1_child(obj, NS_TASK, "DesiredStatus");
	char		 v[64];

	if (ds == NULL)
		return 0;
	if (hi1_dict_entry(c, ds, "ETSI", dict, v, sizeof(v)) == -1)
		return -1;
	if (strcmp(v, want) != 0)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "a CREATE asks for "
		    "DesiredStatus %s, not %s", want, v);
	return 0;
}

static int
hi1_extract_task(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_task *t,
    enum hi1_kind kind)
{
	static const char *const carrier[] = { "Status", "StatusReason",
	    "InvalidReason", NULL };
	xmlNodePtr	 fl;
	char		 v[64];

	if (hi1_forbid(c, obj, NS_TASK, carrier) == -1 ||
	    hi1_field(c, obj, NS_CORE, "OwnerIdentifier", t->owner,
	    sizeof(t->owner), 1) == -1 ||
	    hi1_assoc_list(c, obj, t->assoc, &t->nassoc) == -1)
		return -1;
	if (kind == HI1_OBJ_LITASK) {
		if (hi1_create_desired(c, obj, "TaskDesiredStatus", "Active") ||
		    hi1_extract_litask(c, obj, t) == -1 ||
		    hi1_delivery_url(c, obj, "DeliveryDestination", t) == -1)
			return -1;
	} else if (hi1_create_desired(c, obj, "LDTaskDesiredStatus",
	    "AwaitingDisclosure") == -1 ||
	    hi1_extract_ldtask(c, obj, t) == -1 ||
	    hi1_delivery_url(c, obj, "LDDeliveryDestination", t) == -1)
		return -1;
	fl = hi1_child(hi1_child(obj, NS_TASK, "Flags"), NS_TASK, "LDTaskFlag");
	if (fl != NULL) {
		if (hi1_dict_entry(c, fl, "ETSI", "LDTaskFlag", v, sizeof(v)) == -1)
			return -1;
		t->emergency = strcmp(v, "IsEmergency") == 0;
	}
	/* After the specific fields, whose errors say more. */
	return hi1_check_all_dicts(c, obj);
}

/* One ApprovalDetails (an order's approval, a document's signature). */
static int
hi1_approval(struct hi1_ctx *c, xmlNodePtr ad, struct hi1_approval *ap)
{
	xmlNodePtr	 who = hi1_child(ad, NS_COMMON, "ApproverDetails");
	char		 emerg[16];
	bool		 has;

	memset(ap, 0, sizeof(*ap));
	if (hi1_field(c, ad, NS_COMMON, "ApprovalType", ap->type,
	    sizeof(ap->type), 0) == -1 ||
	    hi1_field(c, ad, NS_COMMON, "ApprovalReference", ap->reference,
	    sizeof(ap->reference), 1) == -1 ||
	    hi1_field(c, who, NS_COMMON, "ApproverName", ap->approver,
	    sizeof(ap->approver), 1) == -1 ||
	    hi1_field(c, who, NS_COMMON, "ApproverRole", ap->role,
	    sizeof(ap->role), 1) == -1 ||
	    hi1_time_field(c, ad, NS_COMMON, "ApprovalTimestamp",
	    &ap->approved_us, &has) == -1 ||
	    hi1_field(c, ad, NS_COMMON, "ApprovalIsEmergency", emerg,
	    sizeof(emerg), 0) == -1)
		return -1;
	if (!has)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "ApprovalTimestamp is "
		    "missing");
	/* xs:boolean: "true" or "1". */
	ap->emergency = strcmp(emerg, "true") == 0 || strcmp(emerg, "1") == 0;
	return 0;
}

/* Every ns:name child of obj that is an ApprovalDetails, at most max. */
static int
hi1_approvals(struct hi1_ctx *c, xmlNodePtr obj, const char *ns,
    const char *name, struct hi1_approval *v, size_t *n, size_t max)
{
	xmlNodePtr	 k;

	*n = 0;
	for (k = obj->children; k != NULL; k = k->next) {
		if (!hi1_is(k, ns, name))
			continue;
		if (*n == max)
			return hi1_fail(c, WD_ERR_LIMITS, "more than %zu %s",
			    max, name);
		if (hi1_approval(c, k, &v[(*n)++]) == -1)
			return -1;
	}
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
			a->emergency = a->emergency_flag = true;
	}
	return 0;
}

/* StartTime and EndTime under ts, both required, end after start. */
static int
hi1_timespan(struct hi1_ctx *c, xmlNodePtr ts, const char *ns,
    const char *what, const char *whose, int64_t *from, int64_t *until)
{
	bool	 has_start, has_end;

	if (hi1_time_field(c, ts, ns, "StartTime", from, &has_start) == -1 ||
	    hi1_time_field(c, ts, ns, "EndTime", until, &has_end) == -1)
		return -1;
	/* Policy checks the order is in force now: it needs both ends. */
	if (!has_start || !has_end)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "%s needs StartTime "
		    "and EndTime", what);
	if (*until <= *from)
		return hi1_fail(c, WD_ERR_WINDOW_ORDER, "%s EndTime is not "
		    "after its StartTime", whose);
	return 0;
}

/* AssociatedObjects: identifiers into v (at most HI1_MAX_ASSOC). */
static int
hi1_assoc_list(struct hi1_ctx *c, xmlNodePtr obj,
    char v[][HI1_UUID_LEN + 1], size_t *n)
{
	xmlNodePtr	 list, k;

	*n = 0;
	list = hi1_child(obj, NS_CORE, "AssociatedObjects");
	for (k = list ? list->children : NULL; k != NULL; k = k->next) {
		if (!hi1_is(k, NS_CORE, "AssociatedObject"))
			continue;
		if (*n >= HI1_MAX_ASSOC)
			return hi1_fail(c, WD_ERR_LIMITS, "more than %d "
			    "associated objects", HI1_MAX_ASSOC);
		if (hi1_text(k, v[*n], HI1_UUID_LEN + 1) != 0)
			return hi1_fail(c, WD_ERR_AUTH_LINK, "an AssociatedObject "
			    "is not an object identifier");
		(*n)++;
	}
	return 0;
}

/*
 * Elements only the carrier writes (status, reasons, Generation and
 * LastChanged of an object being created): an authority's CREATE carrying
 * one is refused rather than silently ignored.
 */
static int
hi1_forbid(struct hi1_ctx *c, xmlNodePtr obj, const char *ns,
    const char *const *names)
{
	static const char *const base[] = { "Generation", "LastChanged", NULL };

	for (size_t i = 0; base[i] != NULL; i++)
		if (hi1_child(obj, NS_CORE, base[i]) != NULL)
			return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "%s is the "
			    "carrier's to set; a CREATE does not carry it",
			    base[i]);
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		if (hi1_child(obj, ns, names[i]) != NULL)
			return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "%s is the "
			    "carrier's to set; a CREATE does not carry it",
			    names[i]);
	return 0;
}

static int
hi1_extract_auth(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_authorisation *a)
{
	static const char *const carrier[] = { "AuthorisationStatus",
	    "AuthorisationDesiredStatus", "AuthorisationInvalidReason", NULL };
	xmlNodePtr	 lt, pr;
	char		 legal[64];

	if (hi1_forbid(c, obj, NS_AUTH, carrier) == -1 ||
	    hi1_field(c, obj, NS_CORE, "OwnerIdentifier", a->owner,
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
	if ((pr = hi1_child(obj, NS_AUTH, "AuthorisationPriority")) != NULL &&
	    hi1_dict_entry(c, pr, "ETSI", "AuthorisationPriority", a->priority,
	    sizeof(a->priority)) == -1)
		return -1;
	if (hi1_timespan(c, hi1_child(obj, NS_AUTH, "AuthorisationTimespan"),
	    NS_AUTH, "AuthorisationTimespan", "authorisation", &a->valid_from_us,
	    &a->valid_until_us) == -1 ||
	    hi1_approvals(c, obj, NS_AUTH, "AuthorisationApprovalDetails",
	    a->approvals, &a->napprovals, HI1_MAX_APPROVALS - 1) == -1 ||
	    hi1_extract_flags(c, obj, a) == -1 ||
	    hi1_assoc_list(c, obj, a->docs, &a->ndocs) == -1 ||
	    hi1_field(c, obj, NS_AUTH, "AuthorisationJurisdiction", a->court,
	    sizeof(a->court), 0) == -1)
		return -1;
	if (a->napprovals == 0)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "an authorisation needs "
		    "AuthorisationApprovalDetails (who approved it, when)");
	a->approved_us = a->approvals[0].approved_us;
	if (a->approvals[0].emergency)
		a->emergency = true;
	if (!a->urgent && a->court[0] == '\0')
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "a JudicialOrder needs "
		    "AuthorisationJurisdiction (the issuing court)");
	return hi1_check_all_dicts(c, obj);
}

static int
hi1_extract_document(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_document *d)
{
	static const char *const carrier[] = { "DocumentStatus", NULL };
	xmlNodePtr	 ty, ts;
	char		 type[64];

	if (hi1_forbid(c, obj, NS_DOC, carrier) == -1 ||
	    hi1_field(c, obj, NS_CORE, "OwnerIdentifier", d->owner,
	    sizeof(d->owner), 1) == -1 ||
	    hi1_field(c, obj, NS_DOC, "DocumentReference", d->reference,
	    sizeof(d->reference), 1) == -1 ||
	    hi1_field(c, obj, NS_DOC, "DocumentName", d->name,
	    sizeof(d->name), 0) == -1)
		return -1;
	if ((ty = hi1_child(obj, NS_DOC, "DocumentType")) == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "DocumentType is "
		    "missing");
	if (hi1_dict_entry(c, ty, "ETSI", "DocumentType", type,
	    sizeof(type)) == -1)
		return -1;
	if ((ts = hi1_child(obj, NS_DOC, "DocumentTimespan")) != NULL) {
		if (hi1_timespan(c, ts, NS_DOC, "DocumentTimespan", "document",
		    &d->valid_from_us, &d->valid_until_us) == -1)
			return -1;
		d->has_timespan = true;
	}
	if (hi1_approvals(c, obj, NS_DOC, "DocumentSignature", d->signatures,
	    &d->nsignatures, HI1_MAX_APPROVALS - 1) == -1)
		return -1;
	if (d->nsignatures == 0)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "a DocumentObject needs "
		    "a DocumentSignature (who signed it, when)");
	return hi1_check_all_dicts(c, obj);
}

/*
 * What an UPDATE may carry besides the object's identity: for each type,
 * the elements of the one change the profile allows. Anything else is
 * refused by name, never ignored.
 */
static int
hi1_update_only(struct hi1_ctx *c, xmlNodePtr obj, const char *ns,
    const char *const *allowed)
{
	static const char *const base[] = { "ObjectIdentifier", "CountryCode",
	    "OwnerIdentifier", "Generation", "AssociatedObjects", NULL };
	xmlNodePtr	 k;
	char		 p[64];
	size_t		 i;

	for (k = obj->children; k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		for (i = 0; base[i] != NULL && !hi1_is(k, NS_CORE, base[i]); i++)
			;
		if (base[i] != NULL)
			continue;
		for (i = 0; allowed[i] != NULL && !hi1_is(k, ns, allowed[i]); i++)
			;
		if (allowed[i] == NULL)
			return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "an UPDATE "
			    "cannot change %s", hi1_printable((const char *)
			    k->name, p, sizeof(p)));
	}
	return 0;
}

static int
hi1_update_generation(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_update *u)
{
	char		 buf[16];
	char		*end;
	unsigned long	 v;

	if (hi1_field(c, obj, NS_CORE, "Generation", buf, sizeof(buf), 0) == -1)
		return -1;
	if (buf[0] == '\0')
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "an UPDATE must quote "
		    "the Generation it changes");
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > UINT32_MAX)
		return hi1_fail(c, WD_ERR_SCHEMA, "Generation is not 1-%u",
		    UINT32_MAX);
	u->generation = (uint32_t)v;
	return 0;
}

static int
hi1_extract_update_task(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_update *u)
{
	static const char *const allowed[] = { "DesiredStatus", NULL };
	xmlNodePtr	 ds;
	char		 v[64];

	if (hi1_child(obj, NS_CORE, "AssociatedObjects") != NULL)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "an UPDATE cannot "
		    "change a task's AssociatedObjects");
	if (hi1_update_only(c, obj, NS_TASK, allowed) == -1)
		return -1;
	if ((ds = hi1_child(obj, NS_TASK, "DesiredStatus")) == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "a task UPDATE needs "
		    "DesiredStatus Cancelled");
	if (hi1_dict_entry(c, ds, "ETSI", u->kind == HI1_OBJ_LDTASK ?
	    "LDTaskDesiredStatus" : "TaskDesiredStatus", v, sizeof(v)) == -1)
		return -1;
	if (strcmp(v, "Cancelled") != 0)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "an UPDATE can only "
		    "ask for DesiredStatus Cancelled, not %s", v);
	u->cancel = true;
	return 0;
}

static int
hi1_extract_update_auth(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_update *u)
{
	static const char *const allowed[] = { "AuthorisationDesiredStatus",
	    "AuthorisationTimespan", "AuthorisationApprovalDetails", NULL };
	struct hi1_approval	 v[2];
	xmlNodePtr		 ds, ts;
	size_t			 n;
	char			 val[64];

	if (hi1_update_only(c, obj, NS_AUTH, allowed) == -1 ||
	    hi1_approvals(c, obj, NS_AUTH, "AuthorisationApprovalDetails", v,
	    &n, 1) == -1 ||
	    hi1_assoc_list(c, obj, u->docs, &u->ndocs) == -1)
		return -1;
	if (n == 1) {
		u->ratify = true;
		u->approval = v[0];
	}
	if ((ds = hi1_child(obj, NS_AUTH, "AuthorisationDesiredStatus")) != NULL) {
		if (hi1_dict_entry(c, ds, "ETSI", "AuthorisationDesiredStatus",
		    val, sizeof(val)) == -1)
			return -1;
		u->desired_approved = strcmp(val, "Approved") == 0;
		if (!u->desired_approved || !u->ratify)
			return hi1_fail(c, WD_ERR_MISSING_FIELD, "Authorisation"
			    "DesiredStatus Approved comes with the judge's "
			    "AuthorisationApprovalDetails");
	}
	if ((ts = hi1_child(obj, NS_AUTH, "AuthorisationTimespan")) != NULL) {
		if (hi1_timespan(c, ts, NS_AUTH, "AuthorisationTimespan",
		    "authorisation", &u->valid_from_us, &u->valid_until_us) == -1)
			return -1;
		u->extend = true;
	}
	if (u->ndocs > 0 && !u->ratify)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "an UPDATE links a "
		    "DocumentObject only with the ratification it supports");
	if (!u->ratify && !u->extend)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "the UPDATE changes "
		    "nothing: it ratifies (AuthorisationApprovalDetails) or "
		    "extends (AuthorisationTimespan)");
	return 0;
}

static int
hi1_extract_update(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_update *u)
{
	if (hi1_field(c, obj, NS_CORE, "OwnerIdentifier", u->owner,
	    sizeof(u->owner), 1) == -1 ||
	    hi1_update_generation(c, obj, u) == -1)
		return -1;
	if (hi1_child(obj, NS_CORE, "LastChanged") != NULL)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "LastChanged is the "
		    "carrier's to set");
	if ((u->kind == HI1_OBJ_AUTHORISATION ?
	    hi1_extract_update_auth(c, obj, u) :
	    hi1_extract_update_task(c, obj, u)) == -1)
		return -1;
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
	char			 etsi[256], owner[16], version[16];
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

/* Object types the profile knows, by xsi:type local name and namespace. */
static const struct {
	const char	*name;
	const char	*ns;
	enum hi1_kind	 kind;
} hi1_types[] = {
	{ "AuthorisationObject", NS_AUTH, HI1_OBJ_AUTHORISATION },
	{ "LDTaskObject", NS_TASK, HI1_OBJ_LDTASK },
	{ "LITaskObject", NS_TASK, HI1_OBJ_LITASK },
	{ "DocumentObject", NS_DOC, HI1_OBJ_DOCUMENT },
	{ "DeliveryObject", NS_DELIVERY, HI1_OBJ_DELIVERY },
	{ "NotificationObject", NS_NOTIF, HI1_OBJ_NOTIFICATION },
};

/*
 * xsi:type is a QName: its prefix means whatever namespace is in scope at
 * this element (xmlSearchNs), not the string "auth" or "task".
 */
enum hi1_kind
hi1_xsi_kind(struct _xmlNode *obj, bool *typed, char *name, size_t len)
{
	xmlChar			*val;
	char			 qn[128], *colon, *local;
	xmlNsPtr		 ns;

	*typed = false;
	if (len > 0)
		name[0] = '\0';
	if ((val = xmlGetNsProp(obj, BAD_CAST "type", BAD_CAST NS_XSI)) == NULL)
		return HI1_OBJ_NONE;
	*typed = true;
	/* Exact: libxml2's validator already refuses white space around it. */
	snprintf(qn, sizeof(qn), "%s", (const char *)val);
	xmlFree(val);
	if ((colon = strchr(qn, ':')) != NULL) {
		*colon = '\0';
		local = colon + 1;
	} else
		local = qn;
	if (len > 0)
		snprintf(name, len, "%s", local);
	ns = xmlSearchNs(obj->doc, obj, colon ? BAD_CAST qn : NULL);
	for (size_t i = 0; ns != NULL &&
	    i < sizeof(hi1_types) / sizeof(hi1_types[0]); i++)
		if (strcmp(local, hi1_types[i].name) == 0 &&
		    strcmp((const char *)ns->href, hi1_types[i].ns) == 0)
			return hi1_types[i].kind;
	return HI1_OBJ_NONE;
}

static int
hi1_object_type(struct hi1_ctx *c, xmlNodePtr obj, enum hi1_kind *kind)
{
	char	 name[128], p[64];
	bool	 typed;

	if ((*kind = hi1_xsi_kind(obj, &typed, name, sizeof(name))) !=
	    HI1_OBJ_NONE)
		return 0;
	if (!typed)
		return hi1_fail(c, WD_ERR_SCHEMA, "HI1Object has no xsi:type");
	return hi1_fail(c, WD_ERR_SCHEMA, "object type %s is not supported",
	    hi1_printable(name, p, sizeof(p)));
}

const char *
hi1_kind_type(enum hi1_kind k)
{
	static const char *const names[HI1_OBJ__COUNT] = {
		[HI1_OBJ_AUTHORISATION] = "Authorisation",
		[HI1_OBJ_LDTASK] = "LDTask",
		[HI1_OBJ_LITASK] = "Task",
		[HI1_OBJ_DOCUMENT] = "Document",
		[HI1_OBJ_DELIVERY] = "Delivery",
		[HI1_OBJ_NOTIFICATION] = "Notification",
	};

	return (unsigned)k < HI1_OBJ__COUNT && names[k] ? names[k] : "?";
}

const char *
hi1_verb_name(enum hi1_verb v)
{
	static const char *const names[] = { "CREATE", "GET", "UPDATE", "LIST",
	    "DELIVER" };

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

/* ObjectType of a LIST: the ETSI dictionary value to our kind. */
static int
hi1_list_type(struct hi1_ctx *c, xmlNodePtr ot, enum hi1_kind *kind)
{
	char	 v[64];

	if (hi1_dict_entry(c, ot, "ETSI", "ObjectType", v, sizeof(v)) == -1)
		return -1;
	for (int k = HI1_OBJ_AUTHORISATION; k < HI1_OBJ__COUNT; k++)
		if (strcmp(v, hi1_kind_type((enum hi1_kind)k)) == 0) {
			*kind = (enum hi1_kind)k;
			return 0;
		}
	/* The templates enumerate ObjectType: only a schema out of step. */
	return hi1_fail(c, WD_ERR_INTERNAL, "ObjectType %s is not known here",
	    v);
}

static int
hi1_skeleton_read(struct hi1_ctx *c, xmlNodePtr v, struct hi1_slot *slot)
{
	struct hi1_request	*r = c->req;
	struct hi1_read		*rd = &r->reads[r->nreads];
	xmlNodePtr		 ot;

	slot->index = r->nreads++;
	rd->action_id = slot->action;
	rd->verb = slot->verb;
	if (slot->verb == HI1_VERB_GET)
		return hi1_field(c, v, NS_CORE, "Identifier", rd->object_id,
		    sizeof(rd->object_id), 1);
	if ((ot = hi1_child(v, NS_CORE, "ObjectType")) != NULL &&
	    hi1_list_type(c, ot, &rd->type) == -1)
		return -1;
	return hi1_time_field(c, v, NS_CORE, "LastChanged", &rd->since_us,
	    &rd->has_since);
}

/* Where a created or updated object's identifier goes. */
static char *
hi1_skeleton_slot(struct hi1_ctx *c, struct hi1_slot *slot)
{
	struct hi1_request	*r = c->req;

	if ((slot->verb == HI1_VERB_UPDATE && r->nupdates == HI1_MAX_UPDATES) ||
	    (slot->verb == HI1_VERB_CREATE && slot->kind == HI1_OBJ_DOCUMENT &&
	    r->ndocs == HI1_MAX_DOCS) ||
	    (slot->verb == HI1_VERB_CREATE && slot->kind ==
	    HI1_OBJ_AUTHORISATION && r->nauths == HI1_MAX_AUTHS)) {
		hi1_fail(c, WD_ERR_LIMITS, "more than %d %s in one message",
		    slot->verb == HI1_VERB_UPDATE ? HI1_MAX_UPDATES :
		    slot->kind == HI1_OBJ_DOCUMENT ? HI1_MAX_DOCS : HI1_MAX_AUTHS,
		    slot->verb == HI1_VERB_UPDATE ? "UPDATEs" :
		    slot->kind == HI1_OBJ_DOCUMENT ? "DocumentObjects" :
		    "AuthorisationObjects");
		return NULL;
	}
	if (slot->verb == HI1_VERB_UPDATE) {
		slot->index = r->nupdates++;
		r->updates[slot->index].action_id = slot->action;
		r->updates[slot->index].kind = slot->kind;
		return r->updates[slot->index].object_id;
	}
	switch (slot->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		slot->index = r->ntasks++;
		r->tasks[slot->index].action_id = slot->action;
		r->tasks[slot->index].auth_index = -1;
		return r->tasks[slot->index].object_id;
	case HI1_OBJ_DOCUMENT:
		slot->index = r->ndocs++;
		r->docs[slot->index].action_id = slot->action;
		return r->docs[slot->index].object_id;
	default:
		slot->index = r->nauths++;
		r->auths[slot->index].action_id = slot->action;
		return r->auths[slot->index].object_id;
	}
}

/* Which of the five verbs an ActionRequest carries, and its element. */
static xmlNodePtr
hi1_verb(xmlNodePtr ar, enum hi1_verb *verb)
{
	static const char *const names[] = { "CREATE", "GET", "UPDATE", "LIST",
	    "DELIVER" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		xmlNodePtr v = hi1_child(ar, NS_CORE, names[i]);

		if (v != NULL) {
			*verb = (enum hi1_verb)i;
			return v;
		}
	}
	return NULL;
}

/* First pass over one ActionRequest: id, verb, object type, object id. */
static int
hi1_skeleton(struct hi1_ctx *c, xmlNodePtr ar, struct hi1_slot *slot)
{
	xmlNodePtr	 v, obj;
	char		*oid;

	c->in_action = 0;
	if (hi1_action_id(c, ar, &slot->action) == -1)
		return -1;
	c->in_action = 1;
	c->action = slot->action;
	if ((v = hi1_verb(ar, &slot->verb)) == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "no GET, CREATE, UPDATE or "
		    "LIST in the action");
	slot->found = true;
	if (slot->verb == HI1_VERB_DELIVER)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "DELIVER is sent by "
		    "the carrier to an authority, not to the carrier");
	if (slot->verb == HI1_VERB_GET || slot->verb == HI1_VERB_LIST)
		return hi1_skeleton_read(c, v, slot);
	if ((obj = hi1_child(v, NS_CORE, "HI1Object")) == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "%s has no HI1Object",
		    hi1_verb_name(slot->verb));
	if (hi1_object_type(c, obj, &slot->kind) == -1)
		return -1;
	if (slot->kind == HI1_OBJ_DELIVERY || slot->kind == HI1_OBJ_NOTIFICATION ||
	    (slot->verb == HI1_VERB_UPDATE && slot->kind == HI1_OBJ_DOCUMENT))
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "object type %sObject "
		    "cannot be %s by an authority", hi1_kind_type(slot->kind),
		    slot->verb == HI1_VERB_CREATE ? "created" : "changed");
	if ((oid = hi1_skeleton_slot(c, slot)) == NULL)
		return -1;
	slot->obj = obj;
	return hi1_field(c, obj, NS_CORE, "ObjectIdentifier", oid,
	    HI1_UUID_LEN + 1, 1);
}

const char *
hi1_action_object(const struct hi1_request *r, const struct hi1_action *a)
{
	if (a->verb == HI1_VERB_GET || a->verb == HI1_VERB_LIST)
		return r->reads[a->index].object_id;
	if (a->verb == HI1_VERB_UPDATE)
		return r->updates[a->index].object_id;
	switch (a->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		return r->tasks[a->index].object_id;
	case HI1_OBJ_DOCUMENT:
		return r->docs[a->index].object_id;
	case HI1_OBJ_AUTHORISATION:
		return r->auths[a->index].object_id;
	default:
		return "";
	}
}

static int
hi1_check_unique(struct hi1_ctx *c)
{
	const struct hi1_request *r = c->req;

	for (size_t i = 0; i < r->nactions; i++) {
		const struct hi1_action *a = &r->actions[i];
		const char *oid = hi1_action_object(r, a);

		c->in_action = 1;
		c->action = a->action_id;
		for (size_t k = 0; k < i; k++) {
			const struct hi1_action *b = &r->actions[k];

			if (a->action_id == b->action_id)
				return hi1_fail(c, WD_ERR_DUPLICATE_ACTION,
				    "ActionIdentifier %u is used twice",
				    a->action_id);
			/* Reads may name one object twice; changes may not. */
			if (a->verb != HI1_VERB_LIST && b->verb != HI1_VERB_LIST &&
			    a->verb != HI1_VERB_GET && b->verb != HI1_VERB_GET &&
			    oid[0] != '\0' && strcmp(oid, hi1_action_object(r, b)) == 0)
				return hi1_fail(c, WD_ERR_DUPLICATE_OBJECT,
				    "ObjectIdentifier %s is already used by "
				    "action %u", oid, b->action_id);
		}
	}
	return 0;
}

/*
 * Each task names exactly one AuthorisationObject of this message, and
 * nothing else: a task is created with its legal basis.
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

/* Does some authorisation or ratification of the message link this document? */
static bool
hi1_doc_linked(const struct hi1_request *r, const char *oid)
{
	for (size_t i = 0; i < r->nauths; i++)
		for (size_t k = 0; k < r->auths[i].ndocs; k++)
			if (strcmp(r->auths[i].docs[k], oid) == 0)
				return true;
	for (size_t i = 0; i < r->nupdates; i++)
		for (size_t k = 0; k < r->updates[i].ndocs; k++)
			if (strcmp(r->updates[i].docs[k], oid) == 0)
				return true;
	return false;
}

static bool
hi1_doc_created(const struct hi1_request *r, const char *oid)
{
	for (size_t i = 0; i < r->ndocs; i++)
		if (strcmp(r->docs[i].object_id, oid) == 0)
			return true;
	return false;
}

/*
 * Links between the objects of a changing message: tasks to their order,
 * orders (and ratifications) to documents of the message, every document
 * to an order, every order created with at least one task.
 */
static int
hi1_links(struct hi1_ctx *c)
{
	struct hi1_request *r = c->req;

	for (size_t i = 0; i < r->ntasks; i++)
		if (hi1_link(c, &r->tasks[i]) == -1)
			return -1;
	c->in_action = 1;
	for (size_t i = 0; i < r->nauths; i++) {
		const struct hi1_authorisation *a = &r->auths[i];

		c->action = a->action_id;
		for (size_t k = 0; k < a->ndocs; k++)
			if (!hi1_doc_created(r, a->docs[k]))
				return hi1_fail(c, WD_ERR_AUTH_LINK, "associated "
				    "object %s is not a DocumentObject of this "
				    "message", a->docs[k]);
	}
	for (size_t i = 0; i < r->nupdates; i++) {
		c->action = r->updates[i].action_id;
		for (size_t k = 0; k < r->updates[i].ndocs; k++)
			if (!hi1_doc_created(r, r->updates[i].docs[k]))
				return hi1_fail(c, WD_ERR_AUTH_LINK, "associated "
				    "object %s is not a DocumentObject of this "
				    "message", r->updates[i].docs[k]);
	}
	for (size_t i = 0; i < r->ndocs; i++) {
		c->action = r->docs[i].action_id;
		if (!hi1_doc_linked(r, r->docs[i].object_id))
			return hi1_fail(c, WD_ERR_AUTH_LINK, "no authorisation "
			    "of the message links this DocumentObject");
	}
	c->in_action = 0;
	/* Orders come with their tasks: an order alone asks for nothing. */
	if (r->nauths > 0 && r->ntasks == 0)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "the message has no task");
	return 0;
}

/* Second pass: the details of one CREATE or UPDATE. */
static int
hi1_extract_object(struct hi1_ctx *c, const struct hi1_slot *sl)
{
	struct hi1_request *r = c->req;

	c->in_action = 1;
	c->action = sl->action;
	if (sl->verb == HI1_VERB_UPDATE)
		return hi1_extract_update(c, sl->obj, &r->updates[sl->index]);
	switch (sl->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		return hi1_extract_task(c, sl->obj, &r->tasks[sl->index], sl->kind);
	case HI1_OBJ_DOCUMENT:
		return hi1_extract_document(c, sl->obj, &r->docs[sl->index]);
	default:
		return hi1_extract_auth(c, sl->obj, &r->auths[sl->index]);
	}
}

/*
 * Two passes. The first records every action's id, verb and object id even
 * when one of them is wrong, so that hi1_build_error() can answer each
 * action; the second extracts details and stops at the first error.
 */
static int
hi1_extract_actions(struct hi1_ctx *c, xmlNodePtr root)
{
	struct hi1_slot		 slots[HI1_MAX_ACTIONS];
	struct hi1_request	*r = c->req;
	xmlNodePtr		 ars, n;
	size_t			 nslots = 0, nreads = 0, i;

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
		if (hi1_skeleton(c, n, &slots[nslots]) == 0 || slots[nslots].found) {
			struct hi1_action *a = &r->actions[r->nactions++];

			a->action_id = slots[nslots].action;
			a->verb = slots[nslots].verb;
			a->kind = slots[nslots].kind;
			a->index = slots[nslots].index;
			nreads += a->verb == HI1_VERB_GET || a->verb == HI1_VERB_LIST;
			nslots++;
		}
	}
	if (c->failed)
		return -1;
	c->in_action = 0;
	r->reading = nreads > 0;
	if (nreads > 0 && nreads != nslots)
		return hi1_fail(c, WD_ERR_MIXED, "a message either reads (GET, "
		    "LIST) or changes (CREATE, UPDATE), not both");
	if (hi1_check_unique(c) == -1)
		return -1;
	for (i = 0; i < nslots; i++)
		if (slots[i].obj != NULL && hi1_extract_object(c, &slots[i]) == -1)
			return -1;
	return r->reading ? 0 : hi1_links(c);
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

/* ------------------------------------------------------------------------ */
/* Responses and DELIVER requests (include/hi1_parse.h)                      */

/*
 * Text of n, at most len - 1 bytes cut at a character boundary (the body
 * is valid UTF-8 by now), trimmed, line breaks and tabs made spaces and
 * other controls '?': for texts from the other side that we only report.
 */
static size_t
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

/* A validated xs:nonNegativeInteger ("+7", "007"), capped at UINT32_MAX. */
static uint32_t
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

/* ErrorCode and ErrorDescription of an ErrorInformation. */
static int
hi1_error_read(struct hi1_ctx *c, xmlNodePtr ei, uint32_t *code, char *text,
    size_t len)
{
	char	 buf[32];

	if (hi1_field(c, ei, NS_CORE, "ErrorCode", buf, sizeof(buf), 1) == -1)
		return -1;
	*code = hi1_uint_capped(buf);
	hi1_text_cut(hi1_child(ei, NS_CORE, "ErrorDescription"), text, len);
	return 0;
}

static int
hi1_msg_header(struct hi1_ctx *c, xmlNodePtr root, struct hi1_msg_header *h)
{
	xmlNodePtr	 hdr = hi1_child(root, NS_CORE, "Header");
	char		 cc[3], etsi[32];
	bool		 has;

	if (hi1_endpoint(c, hdr, "SenderIdentifier", cc, sizeof(cc),
	    h->sender_id, sizeof(h->sender_id)) == -1 ||
	    hi1_endpoint(c, hdr, "ReceiverIdentifier", cc, sizeof(cc),
	    h->receiver_id, sizeof(h->receiver_id)) == -1 ||
	    hi1_field(c, hdr, NS_CORE, "TransactionIdentifier", h->transaction_id,
	    sizeof(h->transaction_id), 1) == -1 ||
	    hi1_time_field(c, hdr, NS_CORE, "Timestamp", &h->timestamp_us,
	    &has) == -1 ||
	    hi1_field(c, hi1_child(hdr, NS_CORE, "Version"), NS_CORE,
	    "ETSIVersion", etsi, sizeof(etsi), 1) == -1)
		return -1;
	if (!has)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "Timestamp is missing");
	if (strncmp(etsi, "V1.", 3) != 0)
		return hi1_fail(c, WD_ERR_SCHEMA, "version %.16s is not V1.x.y",
		    etsi);
	return 0;
}

/* The element a response action carries, and which verb it answers. */
static xmlNodePtr
hi1_response_verb(xmlNodePtr ar, enum hi1_verb *verb)
{
	static const char *const names[] = { "CREATEResponse", "GETResponse",
	    "UPDATEResponse", "LISTResponse", "DELIVERResponse" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		xmlNodePtr v = hi1_child(ar, NS_CORE, names[i]);

		if (v != NULL) {
			*verb = (enum hi1_verb)i;
			return v;
		}
	}
	return NULL;
}

static int
hi1_outcome(struct hi1_ctx *c, xmlNodePtr ar, struct hi1_outcome *o)
{
	xmlNodePtr	 v, obj, ei;

	c->in_action = 0;
	if (hi1_action_id(c, ar, &o->action_id) == -1)
		return -1;
	c->in_action = 1;
	c->action = o->action_id;
	if ((ei = hi1_child(ar, NS_CORE, "ErrorInformation")) != NULL) {
		o->error = true;
		return hi1_error_read(c, ei, &o->error_code, o->error_text,
		    sizeof(o->error_text));
	}
	if ((v = hi1_response_verb(ar, &o->verb)) == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "no response in the action");
	if (o->verb == HI1_VERB_LIST) {
		for (xmlNodePtr r = v->children; r != NULL; r = r->next)
			o->nrecords += hi1_is(r, NS_CORE, "ListResponseRecord");
		return 0;
	}
	if (o->verb != HI1_VERB_GET && hi1_field(c, v, NS_CORE, "Identifier",
	    o->identifier, sizeof(o->identifier), 1) == -1)
		return -1;
	if ((obj = hi1_child(v, NS_CORE, "HI1Object")) == NULL)
		return 0;
	if (hi1_object_type(c, obj, &o->kind) == -1)
		return -1;
	if (o->verb == HI1_VERB_GET)
		return hi1_field(c, obj, NS_CORE, "ObjectIdentifier",
		    o->identifier, sizeof(o->identifier), 1);
	return 0;
}

static int
hi1_outcomes(struct hi1_ctx *c, xmlNodePtr payload, struct hi1_response *r)
{
	xmlNodePtr	 ars, n, ei;

	if ((ei = hi1_child(payload, NS_CORE, "ErrorInformation")) != NULL) {
		r->error = true;
		return hi1_error_read(c, ei, &r->error_code, r->error_text,
		    sizeof(r->error_text));
	}
	ars = hi1_child(payload, NS_CORE, "ActionResponses");
	for (n = ars != NULL ? ars->children : NULL; n != NULL; n = n->next) {
		if (!hi1_is(n, NS_CORE, "ActionResponse"))
			continue;
		if (r->nactions == HI1_MAX_ACTIONS)
			return hi1_fail(c, WD_ERR_LIMITS, "more than %d actions",
			    HI1_MAX_ACTIONS);
		if (hi1_outcome(c, n, &r->actions[r->nactions]) == -1)
			return -1;
		for (size_t k = 0; k < r->nactions; k++)
			if (r->actions[k].action_id ==
			    r->actions[r->nactions].action_id)
				return hi1_fail(c, WD_ERR_DUPLICATE_ACTION,
				    "ActionIdentifier %u is answered twice",
				    r->actions[k].action_id);
		r->nactions++;
	}
	c->in_action = 0;
	if (r->nactions == 0)
		return hi1_fail(c, WD_ERR_SCHEMA, "no ActionResponse");
	return 0;
}

/* Parse, check the root, validate: the tree of a message, or NULL. */
static xmlDocPtr
hi1_message(const struct hi1_schema *hs, const char *body, size_t len,
    struct wd_error *err)
{
	xmlDocPtr	 doc;

	if (hs == NULL || hs->xsd == NULL) {
		wd_error_set(err, WD_ERR_INTERNAL, "no schema loaded");
		return NULL;
	}
	if ((doc = hi1_xml_parse(body, len, err)) == NULL)
		return NULL;
	if (hi1_check_root(xmlDocGetRootElement(doc), err) == -1 ||
	    hi1_validate(hs, doc, err) == -1) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

int
hi1_parse_response(const struct hi1_schema *hs, const char *body, size_t len,
    struct hi1_response *resp, struct wd_error *err)
{
	struct hi1_ctx	 c;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, payload;
	int		 rv = -1;

	memset(resp, 0, sizeof(*resp));
	memset(err, 0, sizeof(*err));
	if ((doc = hi1_message(hs, body, len, err)) == NULL)
		return -1;
	memset(&c, 0, sizeof(c));
	c.hs = hs;
	c.err = err;
	root = xmlDocGetRootElement(doc);
	payload = hi1_child(hi1_child(root, NS_CORE, "Payload"), NS_CORE,
	    "ResponsePayload");
	if (hi1_msg_header(&c, root, &resp->h) == 0) {
		if (payload == NULL)
			hi1_fail(&c, WD_ERR_SCHEMA, "the message is not a response");
		else if (hi1_outcomes(&c, payload, resp) == 0)
			rv = 0;
	}
	xmlFreeDoc(doc);
	return rv;
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
static int
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

/* BinaryData: Data decoded, Checksum as declared. */
static int
hi1_binary(struct hi1_ctx *c, xmlNodePtr bd, struct hi1_binary *b)
{
	xmlChar	*s;
	int	 rc;

	if (hi1_field(c, bd, NS_DELIVERY, "Checksum", b->checksum,
	    sizeof(b->checksum), 1) == -1)
		return -1;
	if ((s = xmlNodeGetContent(hi1_child(bd, NS_DELIVERY, "Data"))) == NULL)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "Data is missing");
	rc = hi1_b64_decode((const char *)s, HI1_BINARY_MAX, &b->data, &b->len);
	xmlFree(s);
	if (rc == -1)
		return hi1_fail(c, WD_ERR_SCHEMA, "Data is not base64 of 1 to "
		    "%d bytes", HI1_BINARY_MAX);
	return 0;
}

static int
hi1_deliver_part(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_delivered *it)
{
	xmlNodePtr	 bd, m;
	char		 seq[16], last[8];
	unsigned long	 v;
	char		*end;

	if (hi1_field(c, hi1_child(obj, NS_DELIVERY, "Reference"), NS_DELIVERY,
	    "LDID", it->ldid, sizeof(it->ldid), 1) == -1 ||
	    hi1_field(c, obj, NS_DELIVERY, "DeliveryID", it->delivery_id,
	    sizeof(it->delivery_id), 1) == -1 ||
	    hi1_field(c, obj, NS_DELIVERY, "SequenceNumber", seq, sizeof(seq),
	    1) == -1 ||
	    hi1_field(c, obj, NS_DELIVERY, "LastSequence", last, sizeof(last),
	    1) == -1)
		return -1;
	errno = 0;
	v = strtoul(seq, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > UINT32_MAX)
		return hi1_fail(c, WD_ERR_SCHEMA, "SequenceNumber is not 1-%u",
		    UINT32_MAX);
	it->seq = (uint32_t)v;
	it->last = strcmp(last, "true") == 0 || strcmp(last, "1") == 0;
	bd = hi1_child(hi1_child(obj, NS_DELIVERY, "Delivery"), NS_DELIVERY,
	    "BinaryData");
	if (bd != NULL) {
		it->has_data = true;
		if (hi1_binary(c, bd, &it->data) == -1)
			return -1;
	}
	m = hi1_child(hi1_child(hi1_child(obj, NS_DELIVERY, "Manifest"),
	    NS_DELIVERY, "ExternalSchema"), NS_DELIVERY, "ManifestContents");
	if ((bd = hi1_child(m, NS_DELIVERY, "BinaryData")) != NULL) {
		it->has_manifest = true;
		return hi1_binary(c, bd, &it->manifest);
	}
	return 0;
}

static int
hi1_deliver_note(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_delivered *it)
{
	char	 flag[8];
	bool	 has;

	if ((it->details = malloc(HI1_NOTE_MAX + 1)) == NULL)
		return hi1_fail(c, WD_ERR_INTERNAL, "out of memory");
	if (hi1_text_cut(hi1_child(obj, NS_NOTIF, "NotificationDetails"),
	    it->details, HI1_NOTE_MAX + 1) == 0)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "NotificationDetails "
		    "is missing");
	if (hi1_field(c, hi1_child(obj, NS_NOTIF, "NotificationType"),
	    NS_COMMON, "Value", it->note_type, sizeof(it->note_type), 1) == -1 ||
	    hi1_field(c, obj, NS_NOTIF, "NewNotification", flag, sizeof(flag),
	    1) == -1 ||
	    hi1_time_field(c, obj, NS_NOTIF, "NotificationTimestamp",
	    &it->noted_us, &has) == -1)
		return -1;
	if (!has)
		return hi1_fail(c, WD_ERR_MISSING_FIELD, "NotificationTimestamp "
		    "is missing");
	it->new_note = strcmp(flag, "true") == 0 || strcmp(flag, "1") == 0;
	return 0;
}

/* The HI1Object base of a delivered object. */
static int
hi1_deliver_base(struct hi1_ctx *c, xmlNodePtr obj, struct hi1_delivered *it)
{
	xmlNodePtr	 list, k;
	char		 gen[16];

	if (hi1_object_type(c, obj, &it->kind) == -1 ||
	    hi1_field(c, obj, NS_CORE, "ObjectIdentifier", it->object_id,
	    sizeof(it->object_id), 1) == -1 ||
	    hi1_field(c, obj, NS_CORE, "OwnerIdentifier", it->owner,
	    sizeof(it->owner), 1) == -1 ||
	    hi1_field(c, obj, NS_CORE, "Generation", gen, sizeof(gen), 0) == -1 ||
	    hi1_field(c, obj, NS_CORE, "ExternalIdentifier", it->external_id,
	    sizeof(it->external_id), 0) == -1)
		return -1;
	it->generation = hi1_uint_capped(gen);
	list = hi1_child(obj, NS_CORE, "AssociatedObjects");
	for (k = list ? list->children : NULL; k != NULL; k = k->next)
		if (hi1_is(k, NS_CORE, "AssociatedObject") &&
		    it->nassoc < HI1_MAX_ASSOC &&
		    hi1_text(k, it->assoc[it->nassoc], HI1_UUID_LEN + 1) == 0)
			it->nassoc++;
	return 0;
}

static int
hi1_deliver_action(struct hi1_ctx *c, xmlNodePtr ar, struct hi1_delivered *it)
{
	xmlNodePtr	 dv, obj;
	char		 id[HI1_UUID_LEN + 1];

	c->in_action = 0;
	if (hi1_action_id(c, ar, &it->action_id) == -1)
		return -1;
	c->in_action = 1;
	c->action = it->action_id;
	if ((dv = hi1_child(ar, NS_CORE, "DELIVER")) == NULL)
		return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "only DELIVER is "
		    "accepted by a delivery endpoint");
	if ((obj = hi1_child(dv, NS_CORE, "HI1Object")) == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "DELIVER has no HI1Object");
	if (hi1_field(c, dv, NS_CORE, "Identifier", id, sizeof(id), 1) == -1 ||
	    hi1_deliver_base(c, obj, it) == -1)
		return -1;
	if (strcmp(id, it->object_id) != 0)
		return hi1_fail(c, WD_ERR_SCHEMA, "Identifier %s is not the "
		    "delivered object's ObjectIdentifier", id);
	if (it->kind == HI1_OBJ_DELIVERY)
		return hi1_deliver_part(c, obj, it);
	if (it->kind == HI1_OBJ_NOTIFICATION)
		return hi1_deliver_note(c, obj, it);
	return hi1_fail(c, WD_ERR_NOT_CHANGEABLE, "a %sObject is not "
	    "delivered", hi1_kind_type(it->kind));
}

/* The last item against those before it. */
static int
hi1_deliver_unique(struct hi1_ctx *c, const struct hi1_deliver *d)
{
	const struct hi1_delivered *a = &d->items[d->n - 1];

	for (size_t k = 0; k + 1 < d->n; k++) {
		if (d->items[k].action_id == a->action_id)
			return hi1_fail(c, WD_ERR_DUPLICATE_ACTION,
			    "ActionIdentifier %u is used twice", a->action_id);
		if (strcmp(d->items[k].object_id, a->object_id) == 0)
			return hi1_fail(c, WD_ERR_DUPLICATE_OBJECT,
			    "ObjectIdentifier %s is delivered twice",
			    a->object_id);
	}
	return 0;
}

static int
hi1_deliver_actions(struct hi1_ctx *c, xmlNodePtr root, struct hi1_deliver *d)
{
	xmlNodePtr	 ars, n;

	ars = hi1_child(hi1_child(hi1_child(root, NS_CORE, "Payload"), NS_CORE,
	    "RequestPayload"), NS_CORE, "ActionRequests");
	if (ars == NULL)
		return hi1_fail(c, WD_ERR_SCHEMA, "the message is not a request");
	for (n = ars->children; n != NULL; n = n->next) {
		if (!hi1_is(n, NS_CORE, "ActionRequest"))
			continue;
		if (d->n == HI1_MAX_ACTIONS) {
			c->in_action = 0;
			return hi1_fail(c, WD_ERR_LIMITS, "more than %d actions",
			    HI1_MAX_ACTIONS);
		}
		/* Counted first, so that hi1_deliver_free() sees its data. */
		d->n++;
		if (hi1_deliver_action(c, n, &d->items[d->n - 1]) == -1 ||
		    hi1_deliver_unique(c, d) == -1)
			return -1;
	}
	c->in_action = 0;
	return 0;
}

int
hi1_parse_deliver(const struct hi1_schema *hs, const char *body, size_t len,
    struct hi1_deliver *d, struct wd_error *err)
{
	struct hi1_ctx	 c;
	xmlDocPtr	 doc;
	xmlNodePtr	 root;
	int		 rv = -1;

	memset(d, 0, sizeof(*d));
	memset(err, 0, sizeof(*err));
	if ((doc = hi1_message(hs, body, len, err)) == NULL)
		return -1;
	memset(&c, 0, sizeof(c));
	c.hs = hs;
	c.err = err;
	root = xmlDocGetRootElement(doc);
	if (hi1_msg_header(&c, root, &d->h) == 0 &&
	    hi1_deliver_actions(&c, root, d) == 0)
		rv = 0;
	xmlFreeDoc(doc);
	if (rv == -1)
		hi1_deliver_free(d);
	return rv;
}

void
hi1_deliver_free(struct hi1_deliver *d)
{
	for (size_t i = 0; i < d->n && i < HI1_MAX_ACTIONS; i++) {
		free(d->items[i].data.data);
		free(d->items[i].manifest.data);
		free(d->items[i].details);
		memset(&d->items[i], 0, sizeof(d->items[i]));
	}
	d->n = 0;
}
