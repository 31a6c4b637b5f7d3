/*
 * hi1_order — extraction of the legal side of a validated request (see
 * lib/hi1.c for the whole): AuthorisationObjects (the orders) with their
 * approvals, timespan and flags, DocumentObjects with their signatures,
 * the elements only the carrier writes (refused in a CREATE), and what an
 * UPDATE may change (ratify or extend an order, cancel a task).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "hi1.h"
#include "hi1_int.h"

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
int
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
int
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

int
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

int
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

int
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
