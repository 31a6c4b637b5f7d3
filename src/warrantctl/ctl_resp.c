/*
 * ctl_resp — turns warrantd's HI-1 answer into the lines a prosecutor's
 * clerk reads: accepted or refused, the carrier's reference, and per action
 * what was done or why not. The answer comes from the carrier's server but
 * is parsed as untrusted all the same: no network, no DTD (the parse stops
 * at a DOCTYPE), no entity expansion, and every string printed is cleaned
 * of control characters and cut to length so it cannot drive the terminal.
 *
 * The request file is read the same way, only to name each action's object
 * (AuthorisationObject, LDTaskObject...) when the answer does not echo it,
 * as is the case for every action of a refused message.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "wd.h"
#include "ctl.h"

#define CORE_NS		"http://uri.etsi.org/03120/common/2019/10/Core"
#define XSI_NS		"http://www.w3.org/2001/XMLSchema-instance"
#define DELIVERY_NS	"http://uri.etsi.org/03120/common/2019/10/Delivery"
#define RESULT_NS	"urn:warrantd:mx:ld-result:1"
#define RESULT_MAX	(1024 * 1024)	/* hi1_delivery.h HI1_RESULT_MAX */
#define RESP_MAX_ACTIONS 1024	/* warrantd allows 16: more is junk */
#define RESP_TEXT_LEN	 512
#define RESP_MAX_ATTRS	 64	/* per element; warrantd accepts 16 */

struct resp_action {
	char		id[24];		/* nonNegativeInteger, as sent */
	char		type[64];	/* xsi:type without its prefix */
	char		object[64];	/* object identifier (a UUID) */
	char		ref[64];	/* carrier reference, if echoed */
	int		error;
	unsigned long	code;
	char		desc[RESP_TEXT_LEN];
	char		result[RESP_TEXT_LEN];	/* delivered result, one line */
};

struct resp_summary {
	int			 error;	/* message-level error */
	unsigned long		 code;
	char			 desc[RESP_TEXT_LEN];
	char			 ref[64];	/* the first one */
	struct resp_action	*actions;
	size_t			 nactions;
};

/* Nothing is ever fetched on behalf of a document, whatever it asks. */
static xmlParserInputPtr
resp_no_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

void
ctl_resp_init(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(resp_no_loader);
}

/*
 * Printable, single-line, bounded: control characters (C0, DEL, and C1 as
 * UTF-8) become '?', whitespace runs one space, a cut ends on a character
 * boundary with "...". libxml2 has already made the text valid UTF-8.
 */
static void
sanitize(const char *in, char *out, size_t len)
{
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 n = 0;
	int			 space = 0;

	for (; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			space = n > 0;
			continue;
		}
		/* Room for the blank, this byte and "...": n <= len - 4. */
		if (n + (space ? 5 : 4) >= len)
			break;
		if (space) {
			out[n++] = ' ';
			space = 0;
		}
		if (*p < 0x20 || *p == 0x7f)
			out[n++] = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			out[n++] = '?';
			p++;
		} else
			out[n++] = (char)*p;
	}
	if (*p != '\0') {
		while (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && (unsigned char)out[n - 1] >= 0xc0)
			n--;
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

void
ctl_clean(const char *in, char *out, size_t len)
{
	sanitize(in, out, len);
}

static int
is_el(const xmlNode *n, const char *name, const char *ns)
{
	return n->type == XML_ELEMENT_NODE &&
	    xmlStrcmp(n->name, (const xmlChar *)name) == 0 &&
	    (ns == NULL || (n->ns != NULL &&
	    xmlStrcmp(n->ns->href, (const xmlChar *)ns) == 0));
}

/* First child element with this name in the Core namespace. */
static xmlNode *
child(const xmlNode *parent, const char *name)
{
	xmlNode *n;

	if (parent == NULL)
		return NULL;
	for (n = parent->children; n != NULL; n = n->next)
		if (is_el(n, name, CORE_NS))
			return n;
	return NULL;
}

static void
text_of(const xmlNode *n, char *out, size_t len)
{
	xmlChar *s;

	out[0] = '\0';
	if (n == NULL || (s = xmlNodeGetContent(n)) == NULL)
		return;
	sanitize((const char *)s, out, len);
	xmlFree(s);
}

/* A non-negative decimal integer that fits, or -1. */
static int
number_of(const xmlNode *n, char *out, size_t len, unsigned long *val)
{
	char	buf[32];
	size_t	i;

	text_of(n, buf, sizeof(buf));
	if (buf[0] == '\0' || strlen(buf) > 18 || strlen(buf) >= len)
		return -1;
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
	if (val != NULL)
		*val = strtoul(buf, NULL, 10);
	memcpy(out, buf, i + 1);
	return 0;
}

/* xsi:type="task:LDTaskObject" gives "LDTaskObject". */
static void
type_of(xmlNode *obj, char *out, size_t len)
{
	xmlChar		*t;
	const char	*colon;

	out[0] = '\0';
	if ((t = xmlGetNsProp(obj, (const xmlChar *)"type",
	    (const xmlChar *)XSI_NS)) == NULL)
		return;
	colon = strrchr((const char *)t, ':');
	sanitize(colon ? colon + 1 : (const char *)t, out, len);
	xmlFree(t);
}

static void
no_dtd(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
	xmlParserCtxtPtr ctxt = ctx;

	(void)name;
	(void)eid;
	(void)sid;
	ctxt->_private = ctxt;		/* mark: a DOCTYPE was seen */
	xmlStopParser(ctxt);
}

/*
 * Whether no start tag has more than max attributes (namespace
 * declarations included), counting '=' outside quotes between '<' and '>'
 * in one linear pass. libxml2 2.9 spends time quadratic in the attributes
 * of one element (its duplicate check, and appending each to the tree's
 * list): a 1.5 MB file with 100,000 attributes on one element kept us busy
 * for minutes before printing anything. Every '<' starts a new count, as
 * no real tag contains one (not even in a quoted value), so text, comments
 * or stray quotes can only make the count stricter, never hide a real tag.
 */
int
ctl_attrs_bounded(const char *buf, size_t len, size_t max)
{
	size_t	 i, nattr;
	char	 quote;

	for (i = 0; i < len; i++) {
		if (buf[i] != '<')
			continue;
		nattr = 0;
		quote = 0;
		for (i++; i < len && buf[i] != '<'; i++) {
			if (quote) {
				if (buf[i] == quote)
					quote = 0;
			} else if (buf[i] == '"' || buf[i] == '\'')
				quote = buf[i];
			else if (buf[i] == '=' && ++nattr > max)
				return 0;
			else if (buf[i] == '>')
				break;
		}
		if (i < len && buf[i] == '<')
			i--;	/* the outer loop looks at this '<' */
	}
	return 1;
}

/*
 * The DOCTYPE callbacks stop the parse before any declaration is read, so
 * no entity can be defined, let alone expanded; NONET and the loader above
 * keep everything local.
 */
static xmlDoc *
parse_xml(const char *buf, size_t len, char *why, size_t whylen)
{
	xmlParserCtxtPtr	 ctxt;
	xmlDoc			*doc;
	const xmlError		*e;

	if (!ctl_attrs_bounded(buf, len, RESP_MAX_ATTRS)) {
		snprintf(why, whylen, "an element has more than %d attributes",
		    RESP_MAX_ATTRS);
		return NULL;
	}
	if (len > CTL_MAX_BODY || (ctxt = xmlNewParserCtxt()) == NULL) {
		snprintf(why, whylen, "too large or out of memory");
		return NULL;
	}
	ctxt->sax->internalSubset = no_dtd;
	ctxt->sax->externalSubset = no_dtd;
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, "response.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (ctxt->_private != NULL) {
		snprintf(why, whylen, "it has a DOCTYPE (not accepted)");
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (doc == NULL) {
		e = xmlCtxtGetLastError(ctxt);
		sanitize(e && e->message ? e->message : "not well-formed XML",
		    why, whylen);
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

/* First child element with this name in namespace ns. */
static xmlNode *
child_ns(const xmlNode *parent, const char *name, const char *ns)
{
	xmlNode *n;

	for (n = parent ? parent->children : NULL; n != NULL; n = n->next)
		if (is_el(n, name, ns))
			return n;
	return NULL;
}

/* Text of a path of result elements, e.g. "Name/GivenNames". */
static void
result_text(const xmlNode *n, const char *path, char *out, size_t len)
{
	char	 step[64];
	size_t	 k;

	while (n != NULL && *path != '\0') {
		k = strcspn(path, "/");
		snprintf(step, sizeof(step), "%.*s", (int)k, path);
		n = child_ns(n, step, RESULT_NS);
		path += k + (path[k] == '/');
	}
	text_of(n, out, len);
}

/* Truncation of a summary line is fine: it is a summary. */
static void line_printf(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
line_printf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/* One line about what a result document holds; the data, for the official. */
static void
result_line(const xmlNode *root, char *out, size_t len)
{
	char	a[96], b[96], c[96], d[96], e[96], f[96];
	xmlNode	*n;

	if ((n = child_ns(root, "Subscriber", RESULT_NS)) != NULL) {
		result_text(n, "Name/GivenNames", a, sizeof(a));
		result_text(n, "Name/FirstSurname", b, sizeof(b));
		result_text(n, "Name/SecondSurname", c, sizeof(c));
		result_text(n, "CURP", d, sizeof(d));
		result_text(n, "IMSI", e, sizeof(e));
		result_text(n, "Address/State/Name", f, sizeof(f));
		line_printf(out, len, "subscriber %s %s %s, CURP %s, IMSI %s, %s",
		    a, b, c, d, e, f);
	} else if ((n = child_ns(root, "Location", RESULT_NS)) != NULL) {
		result_text(n, "Position/Latitude", a, sizeof(a));
		result_text(n, "Position/Longitude", b, sizeof(b));
		result_text(n, "Position/AccuracyMetres", c, sizeof(c));
		result_text(n, "ServingCell/CellIdentity", d, sizeof(d));
		result_text(n, "FixTime", e, sizeof(e));
		line_printf(out, len, "location %s, %s (within %s m), cell %s, fix %s",
		    a, b, c, d, e);
	} else if ((n = child_ns(root, "NoResult", RESULT_NS)) != NULL) {
		result_text(n, "Reason", a, sizeof(a));
		line_printf(out, len, "no result: %s", a);
	} else
		line_printf(out, len, "a result of an unknown kind");
}

/*
 * A DeliveryObject carries the result base64-encoded with its SHA-256:
 * check the digest before believing a byte of it.
 */
static void
parse_delivery(xmlNode *obj, char *out, size_t len)
{
	xmlNode		*bin;
	xmlChar		*b64 = NULL;
	unsigned char	*doc = NULL, md[32];
	char		 sum[80], hex[65], why[128];
	xmlDoc		*rd;
	int		 n;
	size_t		 blen;

	bin = child_ns(child_ns(obj, "Delivery", DELIVERY_NS), "BinaryData",
	    DELIVERY_NS);
	text_of(child_ns(bin, "Checksum", DELIVERY_NS), sum, sizeof(sum));
	if (bin == NULL || (b64 = xmlNodeGetContent(child_ns(bin, "Data",
	    DELIVERY_NS))) == NULL || (blen = strlen((char *)b64)) == 0 ||
	    blen % 4 != 0 || blen / 4 * 3 > RESULT_MAX ||
	    (doc = malloc(blen / 4 * 3 + 1)) == NULL ||
	    (n = EVP_DecodeBlock(doc, b64, (int)blen)) < 0) {
		snprintf(out, len, "result unreadable");
		goto done;
	}
	n -= (b64[blen - 1] == '=') + (blen > 1 && b64[blen - 2] == '=');
	SHA256(doc, (size_t)n, md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, sum) != 0) {
		snprintf(out, len, "result DAMAGED: its SHA-256 does not match");
		goto done;
	}
	if ((rd = parse_xml((char *)doc, (size_t)n, why, sizeof(why))) == NULL) {
		snprintf(out, len, "result unreadable: %s", why);
		goto done;
	}
	result_line(xmlDocGetRootElement(rd), out, len);
	xmlFreeDoc(rd);
done:
	xmlFree(b64);
	free(doc);
}

/* The HI-1 payload of a document: RequestPayload or ResponsePayload. */
static xmlNode *
payload_of(xmlDoc *doc, const char *which)
{
	xmlNode *root = xmlDocGetRootElement(doc);

	if (root == NULL || !is_el(root, "HI1Message", CORE_NS))
		return NULL;
	return child(child(root, "Payload"), which);
}

static void
error_of(const xmlNode *ei, unsigned long *code, char *desc, size_t len)
{
	char num[24];

	if (number_of(child(ei, "ErrorCode"), num, sizeof(num), code) == -1)
		*code = 0;
	text_of(child(ei, "ErrorDescription"), desc, len);
}

/*
 * An ActionResponse: ErrorInformation, or CREATEResponse (or kin) with the
 * object's Identifier and, for tasks, the object echoed with the carrier's
 * reference as its ExternalIdentifier.
 */
static int
parse_action(xmlNode *ar, struct resp_action *a)
{
	xmlNode	*n, *obj;

	if (number_of(child(ar, "ActionIdentifier"), a->id, sizeof(a->id),
	    NULL) == -1)
		return -1;
	for (n = ar->children; n != NULL; n = n->next) {
		if (is_el(n, "ErrorInformation", CORE_NS)) {
			a->error = 1;
			error_of(n, &a->code, a->desc, sizeof(a->desc));
			return 0;
		}
		if (n->type != XML_ELEMENT_NODE ||
		    is_el(n, "ActionIdentifier", CORE_NS))
			continue;
		text_of(child(n, "Identifier"), a->object, sizeof(a->object));
		if ((obj = child(n, "HI1Object")) != NULL) {
			type_of(obj, a->type, sizeof(a->type));
			if (a->object[0] == '\0')
				text_of(child(obj, "ObjectIdentifier"),
				    a->object, sizeof(a->object));
			text_of(child(obj, "ExternalIdentifier"), a->ref,
			    sizeof(a->ref));
			if (strcmp(a->type, "DeliveryObject") == 0)
				parse_delivery(obj, a->result, sizeof(a->result));
		}
		return 0;
	}
	return -1;
}

static int
parse_response(xmlDoc *doc, struct resp_summary *s, char *why, size_t whylen)
{
	xmlNode	*rp, *ars, *n;

	if ((rp = payload_of(doc, "ResponsePayload")) == NULL) {
		snprintf(why, whylen, "not an HI-1 response message");
		return -1;
	}
	if ((n = child(rp, "ErrorInformation")) != NULL) {
		s->error = 1;
		error_of(n, &s->code, s->desc, sizeof(s->desc));
		return 0;
	}
	if ((ars = child(rp, "ActionResponses")) == NULL) {
		snprintf(why, whylen, "no ActionResponses or ErrorInformation");
		return -1;
	}
	for (n = ars->children; n != NULL; n = n->next) {
		if (!is_el(n, "ActionResponse", CORE_NS))
			continue;
		if (s->nactions == RESP_MAX_ACTIONS) {
			snprintf(why, whylen, "too many actions");
			return -1;
		}
		if (parse_action(n, &s->actions[s->nactions]) == -1) {
			snprintf(why, whylen, "malformed ActionResponse");
			return -1;
		}
		if (s->ref[0] == '\0')
			memcpy(s->ref, s->actions[s->nactions].ref,
			    sizeof(s->ref));
		s->nactions++;
	}
	return 0;
}

/* From the request we sent: action id, object type and id, in order. */
static size_t
parse_request(const char *req, size_t reqlen, struct resp_action *map)
{
	xmlDoc	*doc;
	xmlNode	*ars, *n, *obj;
	char	 why[64];
	size_t	 nmap = 0;

	if ((doc = parse_xml(req, reqlen, why, sizeof(why))) == NULL)
		return 0;
	ars = child(payload_of(doc, "RequestPayload"), "ActionRequests");
	n = ars != NULL ? ars->children : NULL;
	for (; n != NULL && nmap < RESP_MAX_ACTIONS; n = n->next) {
		if (!is_el(n, "ActionRequest", CORE_NS) ||
		    number_of(child(n, "ActionIdentifier"), map[nmap].id,
		    sizeof(map[nmap].id), NULL) == -1)
			continue;
		obj = child(child(n, "CREATE"), "HI1Object");
		if (obj != NULL) {
			type_of(obj, map[nmap].type, sizeof(map[nmap].type));
			text_of(child(obj, "ObjectIdentifier"),
			    map[nmap].object, sizeof(map[nmap].object));
		}
		nmap++;
	}
	xmlFreeDoc(doc);
	return nmap;
}

static void
out_printf(FILE *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(FILE *out, const char *fmt, ...)
{
	va_list ap;

	if (out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
}

/* "error 301: certificate not registered to any official: detail" */
static void
print_error(FILE *out, unsigned long code, const char *desc)
{
	const char *name = wd_error_text((enum wd_errcode)code);

	if (strcmp(name, "unknown error") == 0 ||
	    strncmp(desc, name, strlen(name)) == 0)
		out_printf(out, "error %lu: %s", code, desc);
	else if (desc[0] == '\0')
		out_printf(out, "error %lu: %s", code, name);
	else
		out_printf(out, "error %lu: %s: %s", code, name, desc);
}

static void
print_actions(FILE *out, const struct resp_summary *s,
    const struct resp_action *map, size_t nmap)
{
	const struct resp_action	*a, *r;
	size_t				 i, j;

	for (i = 0; i < s->nactions; i++) {
		a = &s->actions[i];
		for (r = NULL, j = 0; j < nmap && r == NULL; j++)
			if (strcmp(map[j].id, a->id) == 0)
				r = &map[j];
		out_printf(out, "  action %s", a->id);
		if (a->type[0] != '\0' || (r != NULL && r->type[0] != '\0'))
			out_printf(out, " %s", a->type[0] ? a->type : r->type);
		if (a->object[0] != '\0' || (r != NULL && r->object[0] != '\0'))
			out_printf(out, " %s",
			    a->object[0] ? a->object : r->object);
		if (a->ref[0] != '\0' && strcmp(a->ref, s->ref) != 0)
			out_printf(out, " carrier reference %s", a->ref);
		out_printf(out, ": ");
		if (a->error)
			print_error(out, a->code, a->desc);
		else
			out_printf(out, "ok");
		out_printf(out, "\n");
		if (a->result[0] != '\0')
			out_printf(out, "      %s\n", a->result);
	}
}

static int
any_error(const struct resp_summary *s)
{
	for (size_t i = 0; i < s->nactions; i++)
		if (s->actions[i].error)
			return 1;
	return s->error;
}

static enum ctl_result
report_accepted(FILE *out, const char *file, const struct resp_summary *s,
    const struct resp_action *map, size_t nmap)
{
	out_printf(out, "%s: ACCEPTED (HTTP 200)", file);
	if (s->ref[0] != '\0')
		out_printf(out, " carrier reference %s\n", s->ref);
	else
		out_printf(out, " (the answer names no carrier reference)\n");
	print_actions(out, s, map, nmap);
	if (any_error(s) || s->nactions == 0) {
		fprintf(stderr, "warrantctl: %s: HTTP 200 but the answer %s\n",
		    file, s->nactions == 0 ? "lists no actions" :
		    "reports errors");
		return CTL_FAILED;
	}
	return CTL_ACCEPTED;
}

static const char *
status_label(int status)
{
	if (status == 200)
		return "ACCEPTED";
	if (status >= 400 && status < 500)
		return "REFUSED";
	if (status >= 500)
		return "SERVER ERROR";
	return "UNEXPECTED ANSWER";
}

static enum ctl_result
report_other(FILE *out, const char *file, int status,
    const struct resp_summary *s, const struct resp_action *map, size_t nmap)
{
	out_printf(out, "%s: %s (HTTP %d)", file, status_label(status), status);
	if (s->error) {
		out_printf(out, " ");
		print_error(out, s->code, s->desc);
	}
	out_printf(out, "\n");
	print_actions(out, s, map, nmap);
	return status >= 400 && status < 500 ? CTL_REFUSED : CTL_FAILED;
}

/* An answer we cannot read: say so, or show it if it is not XML at all. */
static enum ctl_result
report_unreadable(FILE *out, const char *file, int status, const char *body,
    size_t bodylen, const char *why)
{
	char	text[128];
	size_t	i;

	if (bodylen > 0 && body[strspn(body, " \t\r\n")] != '<') {
		/* Not even known to be UTF-8: ASCII only. */
		for (i = 0; i < bodylen && i + 1 < sizeof(text); i++)
			text[i] = (unsigned char)body[i] < 0x80 ? body[i] : '?';
		text[i] = '\0';
		sanitize(text, text, sizeof(text));
		out_printf(out, "%s: %s (HTTP %d): %s\n", file,
		    status_label(status), status, text);
	} else
		out_printf(out, "%s: %s (HTTP %d), answer not understood: %s\n",
		    file, status_label(status), status, why);
	if (status == 200)
		fprintf(stderr, "warrantctl: %s: HTTP 200 but the answer could "
		    "not be read; ask the carrier for the reference\n", file);
	return status >= 400 && status < 500 ? CTL_REFUSED : CTL_FAILED;
}

enum ctl_result
ctl_resp_report(FILE *out, const char *file, int status, const char *body,
    size_t bodylen, const char *req, size_t reqlen)
{
	struct resp_summary	 s;
	struct resp_action	*map;
	xmlDoc			*doc;
	char			 why[RESP_TEXT_LEN] = "out of memory";
	size_t			 nmap = 0;
	enum ctl_result		 rc;
	int			 ok = 0;

	memset(&s, 0, sizeof(s));
	s.actions = calloc(RESP_MAX_ACTIONS, sizeof(*s.actions));
	map = calloc(RESP_MAX_ACTIONS, sizeof(*map));
	if (s.actions != NULL && map != NULL &&
	    (doc = parse_xml(body, bodylen, why, sizeof(why))) != NULL) {
		ok = parse_response(doc, &s, why, sizeof(why)) == 0;
		xmlFreeDoc(doc);
		/* The request only names actions: read it if there are some. */
		if (ok && s.nactions > 0)
			nmap = parse_request(req, reqlen, map);
	}
	if (!ok)
		rc = report_unreadable(out, file, status, body, bodylen, why);
	else if (status == 200)
		rc = report_accepted(out, file, &s, map, nmap);
	else
		rc = report_other(out, file, status, &s, map, nmap);
	free(s.actions);
	free(map);
	return rc;
}
