/*
 * hi1_extract — extraction of a validated request into struct hi1_request
 * (see lib/hi1.c for the whole): the context that keeps the first error
 * (hi1_fail) and the field readers bound to it, dictionary entries checked
 * against the loaded dictionaries, identifiers checked against the
 * profile's Mexican formats, and tasks (LDTaskObject, LITaskObject) with
 * the semantic rules an XSD cannot express. Authorisations, documents and
 * UPDATEs are in lib/hi1_order.c, the message around them in
 * lib/hi1_request.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>

#include "hi1.h"
#include "hi1_int.h"
#include "wd_time.h"

/* ------------------------------------------------------------------------ */
/* Extraction                                                                */

int
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
int
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
int
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

/*
 * A DictionaryEntry (common:Owner, Name, Value) whose Owner and Name must be
 * the expected ones for this element and whose Value must be known.
 */
int
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

/*
 * Every DictionaryEntry anywhere in the object (priority, desired status,
 * flags, handover formats...) must name a known dictionary and value, so
 * that nothing we do not understand is silently accepted. The shipped
 * schema only lets known values through; a value it accepts that warrantd
 * does not know is a fault of the carrier's templates (503), not of the
 * authority's message.
 */
int
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

int
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
