/*
 * ctl_msg — the HI-1 requests warrantctl builds for an authority (see
 * src/warrantctl/ctl_life.h): GET, LIST, UPDATE of a task (DesiredStatus Cancelled)
 * or of an authorisation (the judge's ratification, a later EndTime), and
 * the Warrant DocumentObject CREATEd beside a ratification; and the
 * reading of the --order file that says what the judge ratified.
 *
 * Built with libxml2's tree through hi1_out.h, as the carrier builds its
 * answers, so every string is escaped by the serialiser. Strings from the
 * user are checked here first (valid UTF-8, one line, the profile's length
 * in characters) and refused with a reason, never silently repaired:
 * hi1_add() would replace what it cannot carry, and a judge's name must go
 * out exactly as written or not at all. Element order follows the
 * templates; tests/unit/test_ctl_life.c parses every kind back with the
 * daemon's own hi1_parse_request() and checks it under the official
 * schemas.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>

#include "hi1.h"
#include "hi1_object.h"
#include "hi1_out.h"
#include "ctl_life.h"
#include "wd_utf8.h"

#define NS_DOC		"http://uri.etsi.org/03120/common/2020/09/Document"
#define MSG_COUNTRY	"MX"

struct ctl_msg {
	struct hi1_out	 o;
	xmlNsPtr	 doc;		/* Document namespace */
	xmlNodePtr	 list;		/* ActionRequests */
	size_t		 n;
	char		 why[256];	/* why the last adder failed */
};

static int msg_fail(struct ctl_msg *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
msg_fail(struct ctl_msg *m, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	return -1;
}

bool
ctl_text_ok(const char *s, size_t maxchars)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len;

	if (s == NULL || (len = strlen(s)) == 0 || isspace(p[0]) ||
	    isspace(p[len - 1]))
		return false;
	return wd_utf8_text_ok(s, maxchars);
}

bool
ctl_uuid_ok(const char *s)
{
	if (s == NULL || strlen(s) != HI1_UUID_LEN)
		return false;
	for (size_t i = 0; i < HI1_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isdigit((unsigned char)s[i]) &&
		    (s[i] < 'a' || s[i] > 'f'))
			return false;
	}
	return true;
}

struct ctl_msg *
ctl_msg_new(const char *authority, const char *carrier, char *why,
    size_t whylen)
{
	struct hi1_response_header	 h;
	struct timespec			 now;
	struct ctl_msg			*m;

	if (!hi1_endpoint_ok(authority) || !hi1_endpoint_ok(carrier)) {
		snprintf(why, whylen, "--authority and --carrier must be 2-32 "
		    "upper-case letters, digits or '-' (as in the HI-1 header)");
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL || hi1_out_init(&m->o) == -1) {
		snprintf(why, whylen, "out of memory");
		free(m);
		return NULL;
	}
	m->doc = xmlNewNs(m->o.root, BAD_CAST NS_DOC, BAD_CAST "doc");
	/* From the authority to the carrier; a fresh TransactionIdentifier. */
	memset(&h, 0, sizeof(h));
	h.carrier_id = authority;
	h.authority_id = carrier;
	clock_gettime(CLOCK_REALTIME, &now);
	h.timestamp_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	m->list = hi1_add(&m->o, hi1_out_header(&m->o, &h, "RequestPayload"),
	    m->o.core, "ActionRequests", NULL);
	if (m->doc == NULL || m->list == NULL || m->o.oom) {
		snprintf(why, whylen, "out of memory");
		ctl_msg_free(m);
		return NULL;
	}
	return m;
}

void
ctl_msg_free(struct ctl_msg *m)
{
	if (m == NULL)
		return;
	xmlFreeDoc(m->o.doc);
	free(m);
}

size_t
ctl_msg_count(const struct ctl_msg *m)
{
	return m->n;
}

const char *
ctl_msg_error(const struct ctl_msg *m)
{
	return m->why;
}

/* A new ActionRequest and its verb element. */
static xmlNodePtr
msg_action(struct ctl_msg *m, const char *verb)
{
	xmlNodePtr	 ar;
	char		 id[16];

	if (m->n == HI1_MAX_ACTIONS) {
		msg_fail(m, "more than %d actions in one message",
		    HI1_MAX_ACTIONS);
		return NULL;
	}
	snprintf(id, sizeof(id), "%zu", m->n++);
	ar = hi1_add(&m->o, m->list, m->o.core, "ActionRequest", NULL);
	hi1_add(&m->o, ar, m->o.core, "ActionIdentifier", id);
	return hi1_add(&m->o, ar, m->o.core, verb, NULL);
}

static void
msg_time(struct ctl_msg *m, xmlNodePtr parent, xmlNsPtr ns, const char *name,
    int64_t us)
{
	char	 ts[32];

	wd_time_format_s(us, ts, sizeof(ts));
	hi1_add(&m->o, parent, ns, name, ts);
}

static void
msg_dict(struct ctl_msg *m, xmlNodePtr parent, xmlNsPtr ns, const char *el,
    const char *name, const char *value)
{
	xmlNodePtr	 d = hi1_add(&m->o, parent, ns, el, NULL);

	hi1_add(&m->o, d, m->o.common, "Owner", "ETSI");
	hi1_add(&m->o, d, m->o.common, "Name", name);
	hi1_add(&m->o, d, m->o.common, "Value", value);
}

int
ctl_msg_get(struct ctl_msg *m, const char *oid)
{
	xmlNodePtr	 v;

	if (!ctl_uuid_ok(oid))
		return msg_fail(m, "%s is not an object identifier (a lowercase "
		    "UUID)", oid);
	if ((v = msg_action(m, "GET")) == NULL)
		return -1;
	hi1_add(&m->o, v, m->o.core, "Identifier", oid);
	return m->o.oom ? msg_fail(m, "out of memory") : 0;
}

int
ctl_msg_list(struct ctl_msg *m, const char *type, int64_t since_us)
{
	xmlNodePtr	 v;

	if (type != NULL && ctl_kind_of_type(type) == HI1_OBJ_NONE)
		return msg_fail(m, "%s is not an ObjectType", type);
	if ((v = msg_action(m, "LIST")) == NULL)
		return -1;
	/* The dictionary's spelling, whatever the case given. */
	if (type != NULL)
		msg_dict(m, v, m->o.core, "ObjectType", "ObjectType",
		    hi1_kind_type(ctl_kind_of_type(type)));
	if (since_us >= 0)
		msg_time(m, v, m->o.core, "LastChanged", since_us);
	return m->o.oom ? msg_fail(m, "out of memory") : 0;
}

/* The HI1Object of an UPDATE (or CREATE), up to its Generation. */
static xmlNodePtr
msg_object(struct ctl_msg *m, xmlNodePtr verb, const char *xsitype,
    const char *oid, const char *owner, uint32_t generation)
{
	xmlNodePtr	 x;
	char		 gen[16];

	x = hi1_add(&m->o, verb, m->o.core, "HI1Object", NULL);
	if (x != NULL && xmlNewNsProp(x, m->o.xsi, BAD_CAST "type",
	    BAD_CAST xsitype) == NULL)
		m->o.oom = 1;
	hi1_add(&m->o, x, m->o.core, "ObjectIdentifier", oid);
	hi1_add(&m->o, x, m->o.core, "CountryCode", MSG_COUNTRY);
	hi1_add(&m->o, x, m->o.core, "OwnerIdentifier", owner);
	if (generation > 0) {
		snprintf(gen, sizeof(gen), "%u", generation);
		hi1_add(&m->o, x, m->o.core, "Generation", gen);
	}
	return x;
}

static int
msg_check_object(struct ctl_msg *m, const char *oid, const char *owner,
    uint32_t generation)
{
	if (!ctl_uuid_ok(oid))
		return msg_fail(m, "%s is not an object identifier", oid);
	if (!hi1_endpoint_ok(owner))
		return msg_fail(m, "owner %s is not an authority identifier",
		    owner);
	if (generation == 0)
		return msg_fail(m, "an UPDATE quotes a Generation of 1 or more");
	return 0;
}

int
ctl_msg_cancel(struct ctl_msg *m, enum hi1_kind kind, const char *oid,
    const char *owner, uint32_t generation)
{
	xmlNodePtr	 v, x;
	int		 ld = kind == HI1_OBJ_LDTASK;

	if (kind != HI1_OBJ_LDTASK && kind != HI1_OBJ_LITASK)
		return msg_fail(m, "only a task can be cancelled");
	if (msg_check_object(m, oid, owner, generation) == -1 ||
	    (v = msg_action(m, "UPDATE")) == NULL)
		return -1;
	x = msg_object(m, v, ld ? "task:LDTaskObject" : "task:LITaskObject",
	    oid, owner, generation);
	msg_dict(m, x, m->o.task, "DesiredStatus", ld ? "LDTaskDesiredStatus" :
	    "TaskDesiredStatus", "Cancelled");
	return m->o.oom ? msg_fail(m, "out of memory") : 0;
}

/* The order's text fields, as the profile limits them. */
static int
msg_check_order(struct ctl_msg *m, const struct ctl_order *o)
{
	if (!ctl_text_ok(o->judge, CTL_TEXT_MAX) ||
	    !ctl_text_ok(o->role, CTL_TEXT_MAX) ||
	    !ctl_text_ok(o->case_ref, CTL_REF_MAX) ||
	    (o->type[0] != '\0' && !ctl_text_ok(o->type, CTL_TEXT_MAX)) ||
	    (o->doc_ref[0] != '\0' && !ctl_text_ok(o->doc_ref, CTL_REF_MAX)) ||
	    (o->doc_name[0] != '\0' && !ctl_text_ok(o->doc_name, CTL_TEXT_MAX)))
		return msg_fail(m, "the order's texts must be one line of "
		    "valid UTF-8, without blanks at either end, names and roles "
		    "at most %d characters, references %d", CTL_TEXT_MAX,
		    CTL_REF_MAX);
	return 0;
}

/* common:ApprovalDetails: the judge's approval (or signature). */
static void
msg_approval(struct ctl_msg *m, xmlNodePtr parent, xmlNsPtr ns, const char *el,
    const struct ctl_order *o)
{
	xmlNodePtr	 ad = hi1_add(&m->o, parent, ns, el, NULL), who;

	if (o->type[0] != '\0')
		hi1_add(&m->o, ad, m->o.common, "ApprovalType", o->type);
	hi1_add(&m->o, ad, m->o.common, "ApprovalReference", o->case_ref);
	who = hi1_add(&m->o, ad, m->o.common, "ApproverDetails", NULL);
	hi1_add(&m->o, who, m->o.common, "ApproverName", o->judge);
	hi1_add(&m->o, who, m->o.common, "ApproverRole", o->role);
	msg_time(m, ad, m->o.common, "ApprovalTimestamp", o->approved_us);
}

int
ctl_msg_document(struct ctl_msg *m, const char *oid, const char *owner,
    const struct ctl_order *o)
{
	xmlNodePtr	 v, x;

	if (msg_check_object(m, oid, owner, 1) == -1 ||
	    msg_check_order(m, o) == -1)
		return -1;
	if (o->doc_ref[0] == '\0')
		return msg_fail(m, "the order names no document");
	if ((v = msg_action(m, "CREATE")) == NULL)
		return -1;
	x = msg_object(m, v, "doc:DocumentObject", oid, owner, 0);
	hi1_add(&m->o, x, m->doc, "DocumentReference", o->doc_ref);
	if (o->doc_name[0] != '\0')
		hi1_add(&m->o, x, m->doc, "DocumentName", o->doc_name);
	msg_dict(m, x, m->doc, "DocumentType", "DocumentType", "Warrant");
	msg_approval(m, x, m->doc, "DocumentSignature", o);
	return m->o.oom ? msg_fail(m, "out of memory") : 0;
}

int
ctl_msg_ratify(struct ctl_msg *m, const char *oid, const char *owner,
    uint32_t generation, const struct ctl_order *o, const char *doc_oid)
{
	xmlNodePtr	 v, x, l;

	if (msg_check_object(m, oid, owner, generation) == -1 ||
	    msg_check_order(m, o) == -1)
		return -1;
	if (doc_oid != NULL && !ctl_uuid_ok(doc_oid))
		return msg_fail(m, "%s is not an object identifier", doc_oid);
	if ((v = msg_action(m, "UPDATE")) == NULL)
		return -1;
	x = msg_object(m, v, "auth:AuthorisationObject", oid, owner, generation);
	if (doc_oid != NULL) {
		l = hi1_add(&m->o, x, m->o.core, "AssociatedObjects", NULL);
		hi1_add(&m->o, l, m->o.core, "AssociatedObject", doc_oid);
	}
	msg_dict(m, x, m->o.auth, "AuthorisationDesiredStatus",
	    "AuthorisationDesiredStatus", "Approved");
	msg_approval(m, x, m->o.auth, "AuthorisationApprovalDetails", o);
	return m->o.oom ? msg_fail(m, "out of memory") : 0;
}

int
ctl_msg_extend(struct ctl_msg *m, const char *oid, const char *owner,
    uint32_t generation, int64_t start_us, int64_t end_us)
{
	xmlNodePtr	 v, x, ts;

	if (msg_check_object(m, oid, owner, generation) == -1)
		return -1;
	if (end_us <= start_us)
		return msg_fail(m, "the new EndTime is not after the StartTime");
	if ((v = msg_action(m, "UPDATE")) == NULL)
		return -1;
	x = msg_object(m, v, "auth:AuthorisationObject", oid, owner, generation);
	ts = hi1_add(&m->o, x, m->o.auth, "AuthorisationTimespan", NULL);
	msg_time(m, ts, m->o.auth, "StartTime", start_us);
	msg_time(m, ts, m->o.auth, "EndTime", end_us);
	return m->o.oom ? msg_fail(m, "out of memory") : 0;
}

char *
ctl_msg_finish(struct ctl_msg *m, size_t *len)
{
	char	*out = NULL;

	/* hi1_out_finish frees the tree, whatever happens. */
	if (m->n == 0)
		xmlFreeDoc(m->o.doc);
	else
		out = hi1_out_finish(&m->o, len);
	free(m);
	return out;
}

/* ------------------------------------------------------------------------ */
/* the --order file                                                          */

struct order_key {
	const char	*name;
	size_t		 off;		/* into struct ctl_order */
	size_t		 size;
	size_t		 maxchars;	/* 0: a time */
	bool		 required;
};

#define OK_FIELD(n, f, max, req) \
	{ n, offsetof(struct ctl_order, f), \
	  sizeof(((struct ctl_order *)0)->f), max, req }

static const struct order_key order_keys[] = {
	OK_FIELD("judge", judge, CTL_TEXT_MAX, true),
	OK_FIELD("role", role, CTL_TEXT_MAX, true),
	OK_FIELD("case", case_ref, CTL_REF_MAX, true),
	{ "time", 0, 0, 0, true },
	OK_FIELD("approval-type", type, CTL_TEXT_MAX, false),
	OK_FIELD("document", doc_ref, CTL_REF_MAX, false),
	OK_FIELD("document-name", doc_name, CTL_TEXT_MAX, false),
};
#define ORDER_NKEYS	(sizeof(order_keys) / sizeof(order_keys[0]))

/* One "key = value" line into o; seen marks the keys already given. */
static int
order_line(char *line, size_t lineno, struct ctl_order *o, bool *seen,
    char *why, size_t whylen)
{
	char	*eq, *key, *val, *end;
	size_t	 k;

	if ((eq = strchr(line, '=')) == NULL) {
		snprintf(why, whylen, "line %zu: expected key = value", lineno);
		return -1;
	}
	*eq = '\0';
	key = line + strspn(line, " \t");
	for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); )
		*--end = '\0';
	val = eq + 1 + strspn(eq + 1, " \t");
	for (end = val + strlen(val); end > val &&
	    (end[-1] == ' ' || end[-1] == '\t'); )
		*--end = '\0';
	for (k = 0; k < ORDER_NKEYS && strcmp(order_keys[k].name, key) != 0; k++)
		;
	if (k == ORDER_NKEYS || seen[k]) {
		snprintf(why, whylen, "line %zu: %s key \"%.32s\"", lineno,
		    k == ORDER_NKEYS ? "unknown" : "repeated", key);
		return -1;
	}
	seen[k] = true;
	if (order_keys[k].maxchars == 0) {
		if (wd_time_parse(val, &o->approved_us) == -1) {
			snprintf(why, whylen, "line %zu: time must be like "
			    "2026-12-07T10:00:00-06:00 (a date, a time and a "
			    "zone)", lineno);
			return -1;
		}
		return 0;
	}
	if (!ctl_text_ok(val, order_keys[k].maxchars) ||
	    strlen(val) >= order_keys[k].size) {
		snprintf(why, whylen, "line %zu: %s must be 1 to %zu characters "
		    "of text on one line", lineno, key, order_keys[k].maxchars);
		return -1;
	}
	memcpy((char *)o + order_keys[k].off, val, strlen(val) + 1);
	return 0;
}

int
ctl_order_parse(const char *buf, size_t len, struct ctl_order *o, char *why,
    size_t whylen)
{
	bool	 seen[ORDER_NKEYS] = { false };
	char	*copy, *line, *next;
	size_t	 lineno = 0;
	int	 rc = 0;

	memset(o, 0, sizeof(*o));
	if (len > CTL_ORDER_MAX || memchr(buf, '\0', len) != NULL) {
		snprintf(why, whylen, "not a text file of at most %d bytes",
		    CTL_ORDER_MAX);
		return -1;
	}
	if ((copy = strndup(buf, len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (line = copy; line != NULL && rc == 0; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (line[strspn(line, " \t")] == '\0' ||
		    line[strspn(line, " \t")] == '#')
			continue;
		rc = order_line(line, lineno, o, seen, why, whylen);
	}
	free(copy);
	for (size_t k = 0; rc == 0 && k < ORDER_NKEYS; k++)
		if (order_keys[k].required && !seen[k]) {
			snprintf(why, whylen, "%s is missing", order_keys[k].name);
			rc = -1;
		}
	if (rc == 0 && o->doc_name[0] != '\0' && o->doc_ref[0] == '\0') {
		snprintf(why, whylen, "document-name needs document (its "
		    "reference)");
		rc = -1;
	}
	return rc;
}
