/*
 * ctl_answer — reading the carrier's answers to warrantctl's GET, LIST and
 * UPDATE requests (see src/warrantctl/ctl_life.h). The answer comes from the
 * carrier's server over mutual TLS, and is read as untrusted all the same:
 *  - bounded: at most CTL_MAX_BODY bytes, no DOCTYPE or ENTITY anywhere
 *    (refused before libxml2 sees the bytes), at most ANSWER_MAX_ATTRS
 *    attributes on any start tag (counted in one linear pass first:
 *    libxml2 2.9 spends quadratic time on an element's attributes), depth
 *    and element count checked on the tree without recursion;
 *  - parsed from memory without network, DTD, entity substitution or
 *    XInclude; then validated against the profile's templates (hi1-mx.xsd,
 *    through hi1_validate) before anything is extracted, so every element
 *    read below has the shape, length and pattern the templates give it;
 *  - extracted into fixed-size fields; text shown to a person is cleaned
 *    of control characters by ctl_clean(). BinaryData stays in the tree
 *    (pointers into it) until the caller decodes it, so a large part is in
 *    memory once, not twice.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "wd.h"
#include "hi1.h"
#include "ctl.h"
#include "ctl_life.h"

#define NS_CORE		"http://uri.etsi.org/03120/common/2019/10/Core"
#define NS_COMMON	"http://uri.etsi.org/03120/common/2016/02/Common"
#define NS_TASK		"http://uri.etsi.org/03120/common/2020/09/Task"
#define NS_AUTH		"http://uri.etsi.org/03120/common/2020/09/Authorisation"
#define NS_DOC		"http://uri.etsi.org/03120/common/2020/09/Document"
#define NS_DELIVERY	"http://uri.etsi.org/03120/common/2019/10/Delivery"
#define NS_NOTIF	"http://uri.etsi.org/03120/common/2016/02/Notification"
#define NS_XSI		"http://www.w3.org/2001/XMLSchema-instance"

#define ANSWER_MAX_ATTRS	32	/* warrantd writes 8, on the root */
#define ANSWER_MAX_DEPTH	32
/*
 * 16 objects of 4096 AssociatedObjects, 1000 LIST records of 12, or a
 * 1 MiB result document of short records.
 */
#define ANSWER_MAX_ELEMENTS	(200 * 1000)
#define ANSWER_PARSE_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOCDATA | \
				 XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static int answer_fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
answer_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Depth and element count, iteratively; entity nodes refused. */
static int
answer_tree_bounded(xmlNodePtr root, char *why, size_t whylen)
{
	xmlNodePtr	 n = root;
	size_t		 count = 0;
	int		 depth = 1;

	while (n != NULL) {
		if (n->type == XML_ENTITY_REF_NODE || n->type == XML_DTD_NODE ||
		    n->type == XML_ENTITY_DECL)
			return answer_fail(why, whylen, "it has entities");
		if (n->type == XML_ELEMENT_NODE) {
			if (++count > ANSWER_MAX_ELEMENTS || depth > ANSWER_MAX_DEPTH)
				return answer_fail(why, whylen, "more than %d "
				    "elements, or nested deeper than %d",
				    ANSWER_MAX_ELEMENTS, ANSWER_MAX_DEPTH);
			if (n->children != NULL) {
				n = n->children;
				depth++;
				continue;
			}
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

xmlDocPtr
ctl_xml_parse(const char *buf, size_t len, char *why, size_t whylen)
{
	xmlParserCtxtPtr	 ctxt;
	xmlDocPtr		 doc;
	const xmlError		*e;
	char			 msg[160];

	if (len == 0 || len > CTL_MAX_BODY) {
		answer_fail(why, whylen, "empty, or larger than %d bytes",
		    CTL_MAX_BODY);
		return NULL;
	}
	if (memmem(buf, len, "<!DOCTYPE", 9) != NULL ||
	    memmem(buf, len, "<!ENTITY", 8) != NULL) {
		answer_fail(why, whylen, "it has a DOCTYPE or ENTITY (not "
		    "accepted)");
		return NULL;
	}
	/* libxml2's work is quadratic in one element's attributes. */
	if (!ctl_attrs_bounded(buf, len, ANSWER_MAX_ATTRS)) {
		answer_fail(why, whylen, "an element has more than %d "
		    "attributes", ANSWER_MAX_ATTRS);
		return NULL;
	}
	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		answer_fail(why, whylen, "out of memory");
		return NULL;
	}
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, "answer.xml", "UTF-8",
	    ANSWER_PARSE_OPTIONS);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		e = xmlCtxtGetLastError(ctxt);
		ctl_clean(e && e->message ? e->message : "no root element", msg,
		    sizeof(msg));
		answer_fail(why, whylen, "not well-formed XML: %s", msg);
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (doc->intSubset != NULL || doc->extSubset != NULL ||
	    answer_tree_bounded(xmlDocGetRootElement(doc), why, whylen) == -1) {
		if (doc->intSubset != NULL || doc->extSubset != NULL)
			answer_fail(why, whylen, "it has a DTD");
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

/* ------------------------------------------------------------------------ */
/* extraction (after validation: shapes are the templates')                  */

static bool
is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr
el(const xmlNode *parent, const char *ns, const char *name)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (is_el(n, ns, name))
			return n;
	return NULL;
}

/*
 * The text of n cleaned of control characters, or "" if n is NULL; whole
 * if it fits in len (identifiers must), else cut with "...".
 */
static void
text(const xmlNode *n, char *out, size_t len)
{
	xmlChar	*s;
	char	 tmp[4 * CTL_TEXT_MAX + 8];

	out[0] = '\0';
	if (n == NULL || (s = xmlNodeGetContent(n)) == NULL)
		return;
	/* ctl_clean keeps room for "...": give it some to spare. */
	if (len + 4 <= sizeof(tmp)) {
		ctl_clean((const char *)s, tmp, len + 4);
		if (strlen(tmp) < len) {
			memcpy(out, tmp, strlen(tmp) + 1);
			xmlFree(s);
			return;
		}
	}
	ctl_clean((const char *)s, out, len);
	xmlFree(s);
}

/* Decimal (validated by the schema); 0 if absent or out of range. */
static unsigned long
number(const xmlNode *n)
{
	char		 buf[24], *end;
	unsigned long	 v;

	text(n, buf, sizeof(buf));
	errno = 0;
	v = strtoul(buf, &end, 10);
	return errno != 0 || end == buf || *end != '\0' ? 0 : v;
}

static int64_t
when(const xmlNode *n)
{
	char	 buf[40];
	int64_t	 us;

	text(n, buf, sizeof(buf));
	return wd_time_parse(buf, &us) == 0 ? us : 0;
}

/* common:Value of a dictionary entry element. */
static void
dict_value(const xmlNode *entry, char *out, size_t len)
{
	text(el(entry, NS_COMMON, "Value"), out, len);
}

/* ErrorCode and ErrorDescription of an ErrorInformation or reason. */
static void
error_info(const xmlNode *ei, unsigned long *code, char *desc, size_t len)
{
	*code = number(el(ei, NS_CORE, "ErrorCode"));
	text(el(ei, NS_CORE, "ErrorDescription"), desc, len);
}

/* The base64 Data of a BinaryData, where it lies in the tree. */
static void
binary(const xmlNode *bd, struct ctl_binary *b)
{
	xmlNodePtr	 d = el(bd, NS_DELIVERY, "Data");

	memset(b, 0, sizeof(*b));
	text(el(bd, NS_DELIVERY, "Checksum"), b->checksum, sizeof(b->checksum));
	/* One text node (NOCDATA merges sections): else left NULL, unreadable. */
	if (d != NULL && d->children != NULL && d->children->next == NULL &&
	    d->children->type == XML_TEXT_NODE && d->children->content != NULL) {
		b->b64 = (const char *)d->children->content;
		b->b64len = strlen(b->b64);
	}
}

static int
object_assoc(const xmlNode *x, struct ctl_object *o)
{
	xmlNodePtr	 l = el(x, NS_CORE, "AssociatedObjects"), k;
	size_t		 n = 0;

	for (k = l ? l->children : NULL; k != NULL; k = k->next)
		n += is_el(k, NS_CORE, "AssociatedObject");
	if (n == 0)
		return 0;
	if (n > CTL_ASSOC_MAX ||
	    (o->assoc = calloc(n, sizeof(*o->assoc))) == NULL)
		return -1;
	for (k = l->children; k != NULL; k = k->next)
		if (is_el(k, NS_CORE, "AssociatedObject"))
			text(k, o->assoc[o->nassoc++], sizeof(o->assoc[0]));
	return 0;
}

static void
object_auth(const xmlNode *x, struct ctl_object *o)
{
	xmlNodePtr	 ts = el(x, NS_AUTH, "AuthorisationTimespan");

	text(el(x, NS_AUTH, "AuthorisationReference"), o->reference,
	    sizeof(o->reference));
	dict_value(el(x, NS_AUTH, "AuthorisationLegalType"), o->detail,
	    sizeof(o->detail));
	dict_value(el(x, NS_AUTH, "AuthorisationStatus"), o->status,
	    sizeof(o->status));
	if (ts != NULL) {
		o->has_timespan = true;
		o->start_us = when(el(ts, NS_AUTH, "StartTime"));
		o->end_us = when(el(ts, NS_AUTH, "EndTime"));
	}
	for (xmlNodePtr k = x->children; k != NULL; k = k->next)
		o->napprovals += is_el(k, NS_AUTH, "AuthorisationApprovalDetails");
	if (el(x, NS_AUTH, "AuthorisationInvalidReason") != NULL)
		error_info(el(x, NS_AUTH, "AuthorisationInvalidReason"),
		    &o->reason_code, o->reason, sizeof(o->reason));
}

static void
object_task(const xmlNode *x, struct ctl_object *o)
{
	xmlNodePtr	 r;

	text(el(x, NS_TASK, "Reference"), o->reference, sizeof(o->reference));
	dict_value(el(x, NS_TASK, "Status"), o->status, sizeof(o->status));
	if ((r = el(x, NS_TASK, "StatusReason")) != NULL ||
	    (r = el(x, NS_TASK, "InvalidReason")) != NULL)
		error_info(r, &o->reason_code, o->reason, sizeof(o->reason));
	if (o->kind == HI1_OBJ_LDTASK)
		dict_value(el(el(x, NS_TASK, "RequestDetails"), NS_TASK, "Type"),
		    o->detail, sizeof(o->detail));
	else
		snprintf(o->detail, sizeof(o->detail), "Interception");
}

static void
object_delivery(const xmlNode *x, struct ctl_object *o)
{
	xmlNodePtr	 bd;
	char		 last[8];

	text(el(el(x, NS_DELIVERY, "Reference"), NS_DELIVERY, "LDID"),
	    o->reference, sizeof(o->reference));
	text(el(x, NS_DELIVERY, "DeliveryID"), o->delivery_id,
	    sizeof(o->delivery_id));
	o->seq = (uint32_t)number(el(x, NS_DELIVERY, "SequenceNumber"));
	text(el(x, NS_DELIVERY, "LastSequence"), last, sizeof(last));
	o->last = strcmp(last, "true") == 0;
	bd = el(el(el(el(x, NS_DELIVERY, "Manifest"), NS_DELIVERY,
	    "ExternalSchema"), NS_DELIVERY, "ManifestContents"), NS_DELIVERY,
	    "BinaryData");
	if ((o->has_manifest = bd != NULL))
		binary(bd, &o->manifest);
	bd = el(el(x, NS_DELIVERY, "Delivery"), NS_DELIVERY, "BinaryData");
	if ((o->has_data = bd != NULL))
		binary(bd, &o->data);
}

static int
object(const xmlNode *x, struct ctl_object *o)
{
	bool	 typed;

	memset(o, 0, sizeof(*o));
	if ((o->kind = hi1_xsi_kind((xmlNodePtr)x, &typed, NULL, 0)) ==
	    HI1_OBJ_NONE)
		return -1;
	text(el(x, NS_CORE, "ObjectIdentifier"), o->id, sizeof(o->id));
	text(el(x, NS_CORE, "OwnerIdentifier"), o->owner, sizeof(o->owner));
	o->generation = (uint32_t)number(el(x, NS_CORE, "Generation"));
	text(el(x, NS_CORE, "ExternalIdentifier"), o->ref, sizeof(o->ref));
	o->changed_us = when(el(x, NS_CORE, "LastChanged"));
	if (object_assoc(x, o) == -1)
		return -1;
	switch (o->kind) {
	case HI1_OBJ_AUTHORISATION:
		object_auth(x, o);
		break;
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		object_task(x, o);
		break;
	case HI1_OBJ_DOCUMENT:
		text(el(x, NS_DOC, "DocumentReference"), o->reference,
		    sizeof(o->reference));
		dict_value(el(x, NS_DOC, "DocumentStatus"), o->status,
		    sizeof(o->status));
		break;
	case HI1_OBJ_DELIVERY:
		object_delivery(x, o);
		break;
	default:
		text(el(x, NS_NOTIF, "NotificationDetails"), o->detail,
		    sizeof(o->detail));
		break;
	}
	return 0;
}

enum hi1_kind
ctl_kind_of_type(const char *type)
{
	for (int k = HI1_OBJ_AUTHORISATION; type != NULL && k < HI1_OBJ__COUNT;
	    k++)
		if (strcasecmp(type, hi1_kind_type((enum hi1_kind)k)) == 0)
			return (enum hi1_kind)k;
	return HI1_OBJ_NONE;
}

static int
list_records(const xmlNode *lr, struct ctl_action *a)
{
	xmlNodePtr		 k;
	struct ctl_record	*r;
	size_t			 n = 0;

	for (k = lr->children; k != NULL; k = k->next)
		n += is_el(k, NS_CORE, "ListResponseRecord");
	if (n == 0)
		return 0;
	if (n > CTL_LIST_MAX || (a->records = calloc(n, sizeof(*r))) == NULL)
		return -1;
	for (k = lr->children; k != NULL; k = k->next) {
		if (!is_el(k, NS_CORE, "ListResponseRecord"))
			continue;
		r = &a->records[a->nrecords++];
		dict_value(el(k, NS_CORE, "ObjectType"), r->type, sizeof(r->type));
		r->kind = ctl_kind_of_type(r->type);
		text(el(k, NS_CORE, "Identifier"), r->id, sizeof(r->id));
		r->generation = (uint32_t)number(el(k, NS_CORE, "Generation"));
		text(el(k, NS_CORE, "ExternalIdentifier"), r->ref, sizeof(r->ref));
		r->changed_us = when(el(k, NS_CORE, "LastChanged"));
	}
	return 0;
}

static int
action(const xmlNode *ar, struct ctl_action *a)
{
	static const struct {
		const char	*name;
		enum ctl_reply	 reply;
	} replies[] = {
		{ "ErrorInformation", CTL_R_ERROR },
		{ "GETResponse", CTL_R_GET },
		{ "CREATEResponse", CTL_R_CREATE },
		{ "UPDATEResponse", CTL_R_UPDATE },
		{ "LISTResponse", CTL_R_LIST },
		{ "DELIVERResponse", CTL_R_DELIVER },
	};
	xmlNodePtr	 r = NULL, obj;
	size_t		 i;

	a->id = (uint32_t)number(el(ar, NS_CORE, "ActionIdentifier"));
	for (i = 0; r == NULL && i < sizeof(replies) / sizeof(replies[0]); i++)
		if ((r = el(ar, NS_CORE, replies[i].name)) != NULL)
			a->reply = replies[i].reply;
	if (r == NULL)
		return -1;
	if (a->reply == CTL_R_ERROR) {
		error_info(r, &a->code, a->desc, sizeof(a->desc));
		return 0;
	}
	if (a->reply == CTL_R_LIST)
		return list_records(r, a);
	text(el(r, NS_CORE, "Identifier"), a->identifier, sizeof(a->identifier));
	if ((obj = el(r, NS_CORE, "HI1Object")) == NULL)
		return 0;
	a->has_object = true;
	return object(obj, &a->obj);
}

static int
answer_extract(xmlDocPtr doc, struct ctl_answer *ans, char *why, size_t whylen)
{
	xmlNodePtr	 root = xmlDocGetRootElement(doc), rp, ars, k;
	size_t		 n = 0;

	text(el(el(el(root, NS_CORE, "Header"), NS_CORE, "SenderIdentifier"),
	    NS_CORE, "UniqueIdentifier"), ans->sender, sizeof(ans->sender));
	rp = el(el(root, NS_CORE, "Payload"), NS_CORE, "ResponsePayload");
	if (rp == NULL)
		return answer_fail(why, whylen, "not an HI-1 response");
	if (el(rp, NS_CORE, "ErrorInformation") != NULL) {
		ans->error = true;
		error_info(el(rp, NS_CORE, "ErrorInformation"), &ans->code,
		    ans->desc, sizeof(ans->desc));
		return 0;
	}
	ars = el(rp, NS_CORE, "ActionResponses");
	for (k = ars ? ars->children : NULL; k != NULL; k = k->next)
		n += is_el(k, NS_CORE, "ActionResponse");
	if (n == 0 || n > HI1_MAX_ACTIONS ||
	    (ans->actions = calloc(n, sizeof(*ans->actions))) == NULL)
		return answer_fail(why, whylen, "no actions, or out of memory");
	for (k = ars->children; k != NULL; k = k->next) {
		if (!is_el(k, NS_CORE, "ActionResponse"))
			continue;
		if (action(k, &ans->actions[ans->nactions++]) == -1)
			return answer_fail(why, whylen, "action %zu cannot be "
			    "read (unknown object type, or out of memory)",
			    ans->nactions - 1);
	}
	return 0;
}

int
ctl_answer_read(const struct hi1_schema *hs, const char *body, size_t len,
    struct ctl_answer *ans, char *why, size_t whylen)
{
	struct wd_error	 err;
	xmlDocPtr	 doc;
	char		 msg[sizeof(err.text)];

	memset(ans, 0, sizeof(*ans));
	if ((doc = ctl_xml_parse(body, len, why, whylen)) == NULL)
		return -1;
	if (hi1_validate(hs, doc, &err) == -1) {
		ctl_clean(err.text, msg, sizeof(msg));
		xmlFreeDoc(doc);
		return answer_fail(why, whylen, "not valid under the profile's "
		    "templates: %s", msg);
	}
	ans->doc = doc;
	if (answer_extract(doc, ans, why, whylen) == -1) {
		ctl_answer_free(ans);
		return -1;
	}
	return 0;
}

void
ctl_answer_free(struct ctl_answer *ans)
{
	for (size_t i = 0; i < ans->nactions; i++) {
		free(ans->actions[i].obj.assoc);
		free(ans->actions[i].records);
	}
	free(ans->actions);
	xmlFreeDoc(ans->doc);
	memset(ans, 0, sizeof(*ans));
}

const struct ctl_action *
ctl_answer_find(const struct ctl_answer *ans, uint32_t id)
{
	for (size_t i = 0; i < ans->nactions; i++)
		if (ans->actions[i].id == id)
			return &ans->actions[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* LIST pages                                                                */

struct ctl_pager {
	int64_t		 sec;		/* the boundary: the latest second */
	struct {
		char		id[HI1_UUID_LEN + 1];
		uint32_t	gen;
	}		 v[CTL_LIST_MAX];	/* given at that second */
	size_t		 n;
};

struct ctl_pager *
ctl_pager_new(int64_t since_us)
{
	struct ctl_pager	*pg;

	if ((pg = calloc(1, sizeof(*pg))) != NULL)
		pg->sec = since_us < 0 ? INT64_MIN : since_us / 1000000;
	return pg;
}

void
ctl_pager_free(struct ctl_pager *pg)
{
	free(pg);
}

static bool
pager_seen(const struct ctl_pager *pg, const struct ctl_record *r)
{
	if (r->changed_us / 1000000 != pg->sec)
		return false;
	for (size_t i = 0; i < pg->n; i++)
		if (pg->v[i].gen == r->generation && strcmp(pg->v[i].id, r->id) == 0)
			return true;
	return false;
}

/* The new boundary: the page's latest second, and who was given at it. */
static void
pager_mark(struct ctl_pager *pg, const struct ctl_record *r, size_t n)
{
	int64_t	 max = pg->sec;

	for (size_t i = 0; i < n; i++)
		if (r[i].changed_us / 1000000 > max)
			max = r[i].changed_us / 1000000;
	if (max != pg->sec)
		pg->n = 0;
	pg->sec = max;
	for (size_t i = 0; i < n && pg->n < CTL_LIST_MAX; i++)
		if (r[i].changed_us / 1000000 == max && !pager_seen(pg, &r[i])) {
			memcpy(pg->v[pg->n].id, r[i].id, sizeof(pg->v[0].id));
			pg->v[pg->n++].gen = r[i].generation;
		}
}

int
ctl_pager_page(struct ctl_pager *pg, const struct ctl_record *r, size_t n,
    ctl_record_fn fn, void *arg, int64_t *since_us)
{
	size_t	 fresh = 0;

	for (size_t i = 0; i < n; i++) {
		if (pager_seen(pg, &r[i]))
			continue;
		fresh++;
		if (fn(arg, &r[i]) == -1)
			return CTL_PAGER_FAILED;
	}
	pager_mark(pg, r, n);
	if (n < CTL_LIST_MAX)
		return CTL_PAGER_DONE;
	if (fresh == 0)
		return CTL_PAGER_STALLED;
	*since_us = pg->sec * 1000000;
	return CTL_PAGER_MORE;
}

/* ------------------------------------------------------------------------ */
/* BinaryData                                                                */

int
ctl_b64_decode(const char *b64, size_t len, size_t max, uint8_t **out,
    size_t *outlen)
{
	char		*clean;
	uint8_t		*buf;
	size_t		 n = 0, pad = 0;
	int		 got;

	*out = NULL;
	*outlen = 0;
	/* xs:base64Binary may carry blanks; EVP_DecodeBlock takes none. */
	if (len / 4 > max / 3 + 2 || len > (size_t)INT32_MAX ||
	    (clean = malloc(len + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (b64[i] != ' ' && b64[i] != '\t' && b64[i] != '\n' &&
		    b64[i] != '\r')
			clean[n++] = b64[i];
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > max + 2 ||
	    (buf = malloc(n / 4 * 3 + 1)) == NULL) {
		free(clean);
		return -1;
	}
	pad = (clean[n - 1] == '=') + (clean[n - 2] == '=');
	/* '=' only as the padding at the very end. */
	if (memchr(clean, '=', n - pad) != NULL ||
	    (got = EVP_DecodeBlock(buf, (unsigned char *)clean, (int)n)) < 0 ||
	    (size_t)got < pad || (size_t)got - pad > max) {
		free(clean);
		free(buf);
		return -1;
	}
	free(clean);
	*out = buf;
	*outlen = (size_t)got - pad;
	return 0;
}

void
ctl_sha256_hex(const uint8_t *data, size_t len, char *hex)
{
	unsigned char	 md[32];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}
