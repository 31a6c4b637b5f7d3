/*
 * hi1_request — an authority's request message, end to end (see lib/hi1.c
 * for the whole): hi1_parse_request() parses, validates and extracts the
 * header and the actions in two passes (every action's skeleton first, so
 * that a refusal can answer each action; then the objects' details), and
 * checks the links between the objects of the message. Also the object
 * types and verbs by name, and the helpers the reading of responses and
 * DELIVERs shares (lib/hi1_parse.c).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>

#include "hi1.h"
#include "hi1_int.h"

/* One action as found in the first pass. */
struct hi1_slot {
	uint32_t	 action;
	enum hi1_verb	 verb;
	enum hi1_kind	 kind;		/* CREATE, UPDATE: xsi:type, resolved */
	xmlNodePtr	 obj;		/* CREATE, UPDATE: the HI1Object */
	size_t		 index;		/* into auths, tasks, docs, updates, reads */
	bool		 found;		/* the first pass got this far */
};

/* ------------------------------------------------------------------------ */
/* The message: header, actions, links                                       */

int
hi1_read_endpoint(struct hi1_ctx *c, xmlNodePtr hdr, const char *name, char *cc,
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
	if (hi1_read_endpoint(c, hdr, "SenderIdentifier", r->sender_cc,
	    sizeof(r->sender_cc), r->sender_id, sizeof(r->sender_id)) == -1 ||
	    hi1_read_endpoint(c, hdr, "ReceiverIdentifier", r->receiver_cc,
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
int
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

int
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

int
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
