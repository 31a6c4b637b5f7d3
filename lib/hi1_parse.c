/*
 * hi1_parse — reading the HI-1 messages that are not requests to the
 * carrier (see include/hi1_parse.h): responses, as one outcome per
 * ActionResponse, and DELIVER requests with their decoded data, through
 * the same hardened path and validation as requests (lib/hi1.c,
 * lib/hi1_schema.c).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "hi1.h"
#include "hi1_int.h"
#include "hi1_parse.h"

/* ------------------------------------------------------------------------ */
/* Responses and DELIVER requests (include/hi1_parse.h)                      */

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

	if (hi1_read_endpoint(c, hdr, "SenderIdentifier", cc, sizeof(cc),
	    h->sender_id, sizeof(h->sender_id)) == -1 ||
	    hi1_read_endpoint(c, hdr, "ReceiverIdentifier", cc, sizeof(cc),
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
