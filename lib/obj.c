/*
 * obj — see include/obj.h: HI-1 objects, their ETSI states, and the one
 * rule by which journal records create and change them. Also the
 * conversions between the objects and their protobuf forms (journal
 * records, the store's StoredObject), where everything read back is
 * validated like untrusted input: a store on disk can be damaged or edited.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conf.h"
#include "log.h"
#include "obj.h"

#define OBJ_STORED_VERSION	1

/* The journal's enums are ours + 1 (0 is "unspecified"). */
_Static_assert(WARRANT__REQUEST_TYPE__REQUEST_INTERCEPTION ==
    WD_REQ_INTERCEPTION + 1, "RequestType order");
_Static_assert(WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT ==
    WD_ID_IPPORT + 1, "IdentifierType order");
_Static_assert(WARRANT__OBJECT_KIND__OBJECT_NOTIFICATION ==
    (int)HI1_OBJ_NOTIFICATION, "ObjectKind order");

/* StoredObject.flags */
#define OBJ_F_DEADLINE_MISSED	0x01
#define OBJ_F_KEEP_WARNED	0x02
#define OBJ_F_LAPSED		0x04
#define OBJ_F_RATIFIED		0x08
#define OBJ_F_DELIVERED		0x10
#define OBJ_F_DESTROYED		0x20
#define OBJ_F_RESULTS_GONE	0x40

static const char *const obj_status_names[OST__COUNT] = {
	[OST_AWAITING_APPROVAL] = "AwaitingApproval",
	[OST_AWAITING_DISCLOSURE] = "AwaitingDisclosure",
	[OST_DISCLOSED] = "Disclosed",
	[OST_DISCLOSURE_NOT_AVAILABLE] = "DisclosureNotAvailable",
	[OST_REJECTED] = "Rejected",
	[OST_CANCELLED] = "Cancelled",
	[OST_ERROR] = "Error",
	[OST_INVALID] = "Invalid",
	[OST_AWAITING_PROVISIONING] = "AwaitingProvisioning",
	[OST_ACTIVE] = "Active",
	[OST_SUSPENDED] = "Suspended",
	[OST_EXPIRED] = "Expired",
	[OST_EMERGENCY_APPROVAL] = "EmergencyApproval",
	[OST_APPROVED] = "Approved",
};

/* Which statuses each kind's ETSI dictionary has (bit per enum obj_status). */
#define B(x)	(1u << (x))
static const struct {
	const char	*dict;
	unsigned	 statuses;
} obj_dicts[HI1_OBJ__COUNT] = {
	[HI1_OBJ_LDTASK] = { "LDTaskStatus", B(OST_AWAITING_APPROVAL) |
	    B(OST_AWAITING_DISCLOSURE) | B(OST_DISCLOSED) |
	    B(OST_DISCLOSURE_NOT_AVAILABLE) | B(OST_REJECTED) |
	    B(OST_CANCELLED) | B(OST_ERROR) | B(OST_INVALID) },
	[HI1_OBJ_LITASK] = { "TaskStatus", B(OST_AWAITING_APPROVAL) |
	    B(OST_AWAITING_PROVISIONING) | B(OST_ACTIVE) | B(OST_REJECTED) |
	    B(OST_SUSPENDED) | B(OST_CANCELLED) | B(OST_EXPIRED) |
	    B(OST_ERROR) | B(OST_INVALID) },
	[HI1_OBJ_AUTHORISATION] = { "AuthorisationStatus",
	    B(OST_AWAITING_APPROVAL) | B(OST_EMERGENCY_APPROVAL) |
	    B(OST_APPROVED) | B(OST_REJECTED) | B(OST_SUSPENDED) |
	    B(OST_CANCELLED) | B(OST_EXPIRED) | B(OST_INVALID) },
	[HI1_OBJ_DOCUMENT] = { "DocumentStatus", B(OST_AWAITING_APPROVAL) |
	    B(OST_APPROVED) | B(OST_REJECTED) | B(OST_SUSPENDED) |
	    B(OST_CANCELLED) | B(OST_EXPIRED) | B(OST_INVALID) },
};
#undef B

const char *
obj_status_name(enum obj_status s)
{
	return (unsigned)s < OST__COUNT && obj_status_names[s] ?
	    obj_status_names[s] : "";
}

const char *
obj_status_dict(enum hi1_kind k)
{
	return (unsigned)k < HI1_OBJ__COUNT ? obj_dicts[k].dict : NULL;
}

int
obj_status_parse(enum hi1_kind k, const char *name, enum obj_status *out)
{
	if ((unsigned)k >= HI1_OBJ__COUNT || name == NULL)
		return -1;
	if (name[0] == '\0' && obj_dicts[k].dict == NULL) {
		*out = OST_NONE;	/* deliveries, notifications */
		return 0;
	}
	for (int i = 1; i < OST__COUNT; i++)
		if ((obj_dicts[k].statuses & (1u << i)) &&
		    strcmp(name, obj_status_names[i]) == 0) {
			*out = (enum obj_status)i;
			return 0;
		}
	return -1;
}

bool
obj_final(const struct obj *o)
{
	switch (o->status) {
	case OST_DISCLOSED:
	case OST_DISCLOSURE_NOT_AVAILABLE:
	case OST_REJECTED:
	case OST_CANCELLED:
	case OST_ERROR:
	case OST_INVALID:
	case OST_EXPIRED:
		return true;
	default:
		return false;
	}
}

bool
obj_task_outcomes_done(const struct obj *o)
{
	for (size_t i = 0; i < o->u.task.t.nids; i++)
		if (o->u.task.outcome[i] == OBJ_OUTCOME_PENDING)
			return false;
	return true;
}

static int64_t
obj_min_due(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

int64_t
obj_next_due(const struct obj *o)
{
	const struct obj_task	*t = &o->u.task;
	int64_t			 due = 0;

	switch (o->kind) {
	case HI1_OBJ_AUTHORISATION:
		if (o->status == OST_EMERGENCY_APPROVAL)
			due = o->u.auth.ratify_by_us;
		if (!obj_final(o))
			due = obj_min_due(due, o->u.auth.a.valid_until_us);
		return due;
	case HI1_OBJ_LDTASK:
		if (obj_final(o))	/* results kept for re-fetch, then destroyed */
			return t->parts > 0 && !t->results_gone ?
			    t->keep_until_us : 0;
		if (t->parts == 0 && !t->deadline_missed)
			due = t->answer_by_us;
		if (t->freeze_until_us != 0)
			due = obj_min_due(due, t->freeze_until_us);
		if (t->parts > 0 && !t->keep_warned)
			due = obj_min_due(due, t->keep_warn_us);
		if (t->parts > 0)
			due = obj_min_due(due, t->keep_until_us);
		return due;
	case HI1_OBJ_LITASK:
		return obj_final(o) ? 0 : t->t.window_end_us;
	default:
		return 0;
	}
}

/* ---- from protobuf, validating ------------------------------------------ */

/* Copy a protobuf string into dst only if it fits (bytes, with the NUL). */
static int
obj_str(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= len)
		return -1;
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

int
obj_approval_from_pb(const Warrant__Approval *p, struct hi1_approval *a)
{
	memset(a, 0, sizeof(*a));
	if (p == NULL || obj_str(a->type, sizeof(a->type), p->type) == -1 ||
	    obj_str(a->reference, sizeof(a->reference), p->reference) == -1 ||
	    obj_str(a->approver, sizeof(a->approver), p->approver) == -1 ||
	    obj_str(a->role, sizeof(a->role), p->role) == -1)
		return -1;
	a->approved_us = p->approved_us;
	a->emergency = p->emergency;
	return 0;
}

void
obj_approval_pb(const struct hi1_approval *a, Warrant__Approval *p)
{
	warrant__approval__init(p);
	p->type = (char *)a->type;
	p->reference = (char *)a->reference;
	p->approver = (char *)a->approver;
	p->role = (char *)a->role;
	p->approved_us = a->approved_us;
	p->emergency = a->emergency;
}

static int
obj_uuid_list(char v[][HI1_UUID_LEN + 1], size_t *n, char **src, size_t nsrc)
{
	if (nsrc > HI1_MAX_ASSOC)
		return -1;
	for (size_t i = 0; i < nsrc; i++)
		if (obj_str(v[i], HI1_UUID_LEN + 1, src[i]) == -1)
			return -1;
	*n = nsrc;
	return 0;
}

static int
obj_task_from_pb(const Warrant__Task *p, struct hi1_task *t, char *auth_id)
{
	memset(t, 0, sizeof(*t));
	if (p == NULL || p->n_identifiers == 0 || p->n_identifiers > HI1_MAX_IDS ||
	    obj_str(t->object_id, sizeof(t->object_id), p->object_id) == -1 ||
	    obj_str(t->reference, sizeof(t->reference), p->reference) == -1 ||
	    obj_str(t->delivery_type, sizeof(t->delivery_type),
	    p->delivery_type) == -1 ||
	    obj_str(t->delivery_url, sizeof(t->delivery_url),
	    p->delivery_url) == -1 ||
	    obj_str(auth_id, HI1_UUID_LEN + 1, p->authorisation_id) == -1)
		return -1;
	if (p->type == 0 || (int)p->type > (int)WD_REQ__COUNT)
		return -1;
	t->type = (enum wd_reqtype)(p->type - 1);
	t->action_id = p->action_id;
	t->auth_index = -1;
	t->emergency = p->emergency_flag;
	t->has_window = p->window_start_us != 0 || p->window_end_us != 0;
	t->window_start_us = p->window_start_us;
	t->window_end_us = p->window_end_us;
	for (size_t i = 0; i < p->n_identifiers; i++) {
		const Warrant__Identifier *pi = p->identifiers[i];
		struct hi1_identifier *id = &t->ids[i];

		if (pi == NULL || pi->type == 0 || (int)pi->type > (int)WD_ID__COUNT ||
		    obj_str(id->value, sizeof(id->value), pi->value) == -1)
			return -1;
		id->type = (enum wd_idtype)(pi->type - 1);
		if (hi1_identifier_valid(id) == -1)
			return -1;
		if (pi->observed_us != 0) {
			t->has_observed = true;
			t->observed_us = pi->observed_us;
		}
	}
	t->nids = p->n_identifiers;
	return 0;
}

static int
obj_auth_from_pb(const Warrant__Authorisation *p, struct hi1_authorisation *a)
{
	memset(a, 0, sizeof(*a));
	if (p == NULL || p->n_approvals > HI1_MAX_APPROVALS ||
	    obj_str(a->object_id, sizeof(a->object_id), p->object_id) == -1 ||
	    obj_str(a->reference, sizeof(a->reference), p->reference) == -1 ||
	    obj_str(a->court, sizeof(a->court), p->court) == -1 ||
	    obj_str(a->priority, sizeof(a->priority), p->priority) == -1 ||
	    obj_uuid_list(a->docs, &a->ndocs, p->documents, p->n_documents) == -1)
		return -1;
	for (size_t i = 0; i < p->n_approvals; i++)
		if (obj_approval_from_pb(p->approvals[i], &a->approvals[i]) == -1)
			return -1;
	a->napprovals = p->n_approvals;
	a->urgent = p->urgent;
	a->emergency_flag = a->emergency = p->emergency_flag;
	a->valid_from_us = p->valid_from_us;
	a->valid_until_us = p->valid_until_us;
	if (a->napprovals > 0) {
		a->approved_us = a->approvals[0].approved_us;
		a->emergency = a->emergency || a->approvals[0].emergency;
	}
	return 0;
}

static int
obj_doc_from_pb(const Warrant__Document *p, struct hi1_document *d)
{
	memset(d, 0, sizeof(*d));
	if (p == NULL || p->n_signatures > HI1_MAX_APPROVALS ||
	    obj_str(d->object_id, sizeof(d->object_id), p->object_id) == -1 ||
	    obj_str(d->reference, sizeof(d->reference), p->reference) == -1 ||
	    obj_str(d->name, sizeof(d->name), p->name) == -1)
		return -1;
	for (size_t i = 0; i < p->n_signatures; i++)
		if (obj_approval_from_pb(p->signatures[i], &d->signatures[i]) == -1)
			return -1;
	d->nsignatures = p->n_signatures;
	d->has_timespan = p->valid_from_us != 0 || p->valid_until_us != 0;
	d->valid_from_us = p->valid_from_us;
	d->valid_until_us = p->valid_until_us;
	return 0;
}

static int
obj_bytes32(uint8_t out[32], const ProtobufCBinaryData *b, bool optional)
{
	if (b->len == 0 && optional) {
		memset(out, 0, 32);
		return 0;
	}
	if (b->len != 32)
		return -1;
	memcpy(out, b->data, 32);
	return 0;
}

static int
obj_part_from_pb(const Warrant__DeliveryPart *p, struct obj_part *pt)
{
	memset(pt, 0, sizeof(*pt));
	if (p == NULL ||
	    obj_str(pt->task_id, sizeof(pt->task_id), p->task_id) == -1 ||
	    obj_str(pt->delivery_id, sizeof(pt->delivery_id), p->delivery_id) ||
	    obj_str(pt->ldid, sizeof(pt->ldid), p->ldid) == -1 ||
	    obj_str(pt->result_name, sizeof(pt->result_name), p->result_name) ||
	    obj_str(pt->manifest_name, sizeof(pt->manifest_name),
	    p->manifest_name) == -1 ||
	    obj_bytes32(pt->sha256, &p->sha256, false) == -1 ||
	    obj_bytes32(pt->manifest_sha256, &p->manifest_sha256, true) == -1 ||
	    p->sequence == 0 || p->sequence > p->parts ||
	    p->identifier_index >= HI1_MAX_IDS)
		return -1;
	pt->seq = p->sequence;
	pt->parts = p->parts;
	pt->last = p->last;
	pt->count = p->count;
	pt->size = p->size;
	pt->id_index = p->identifier_index;
	return 0;
}


/* ---- to protobuf (pointers into the source: nothing is allocated) ------- */

void
obj_task_pb(const struct hi1_task *t, const char *auth_id, int64_t answer_by_us,
    struct obj_pb_task *out)
{
	Warrant__Task *pt = &out->task;

	warrant__task__init(pt);
	pt->action_id = t->action_id;
	pt->object_id = (char *)t->object_id;
	pt->reference = (char *)t->reference;
	pt->type = (Warrant__RequestType)(t->type + 1);
	pt->window_start_us = t->has_window ? t->window_start_us : 0;
	pt->window_end_us = t->has_window ? t->window_end_us : 0;
	pt->authorisation_id = (char *)auth_id;
	pt->delivery_type = (char *)t->delivery_type;
	pt->delivery_url = (char *)t->delivery_url;
	pt->emergency_flag = t->emergency;
	pt->answer_by_us = answer_by_us;
	for (size_t k = 0; k < t->nids && k < HI1_MAX_IDS; k++) {
		Warrant__Identifier *pi = &out->id[k];

		warrant__identifier__init(pi);
		pi->type = (Warrant__IdentifierType)(t->ids[k].type + 1);
		pi->value = (char *)t->ids[k].value;
		pi->observed_us = t->has_observed ? t->observed_us : 0;
		out->idp[k] = pi;
	}
	pt->n_identifiers = t->nids;
	pt->identifiers = out->idp;
}

static void
obj_approvals_pb(const struct hi1_approval *v, size_t n, Warrant__Approval *ap,
    Warrant__Approval **app)
{
	for (size_t i = 0; i < n && i < HI1_MAX_APPROVALS; i++) {
		obj_approval_pb(&v[i], &ap[i]);
		app[i] = &ap[i];
	}
}

void
obj_auth_pb(const struct hi1_authorisation *a, int64_t ratify_by_us,
    struct obj_pb_auth *out)
{
	Warrant__Authorisation *pa = &out->auth;

	warrant__authorisation__init(pa);
	pa->object_id = (char *)a->object_id;
	pa->reference = (char *)a->reference;
	pa->urgent = a->urgent;
	pa->court = (char *)a->court;
	pa->priority = (char *)a->priority;
	pa->valid_from_us = a->valid_from_us;
	pa->valid_until_us = a->valid_until_us;
	pa->ratify_by_us = ratify_by_us;
	pa->emergency_flag = a->emergency_flag;
	obj_approvals_pb(a->approvals, a->napprovals, out->ap, out->app);
	pa->n_approvals = a->napprovals;
	pa->approvals = out->app;
	for (size_t i = 0; i < a->ndocs && i < HI1_MAX_ASSOC; i++)
		out->docs[i] = (char *)a->docs[i];
	pa->n_documents = a->ndocs;
	pa->documents = out->docs;
}

void
obj_doc_pb(const struct hi1_document *d, struct obj_pb_doc *out)
{
	Warrant__Document *pd = &out->doc;

	warrant__document__init(pd);
	pd->object_id = (char *)d->object_id;
	pd->reference = (char *)d->reference;
	pd->name = (char *)d->name;
	pd->valid_from_us = d->has_timespan ? d->valid_from_us : 0;
	pd->valid_until_us = d->has_timespan ? d->valid_until_us : 0;
	obj_approvals_pb(d->signatures, d->nsignatures, out->ap, out->app);
	pd->n_signatures = d->nsignatures;
	pd->signatures = out->app;
}

void
obj_part_pb(const char *oid, const struct obj_part *p, Warrant__DeliveryPart *pp)
{
	warrant__delivery_part__init(pp);
	pp->object_id = (char *)oid;
	pp->task_id = (char *)p->task_id;
	pp->delivery_id = (char *)p->delivery_id;
	pp->ldid = (char *)p->ldid;
	pp->sequence = p->seq;
	pp->parts = p->parts;
	pp->last = p->last;
	pp->sha256.data = (uint8_t *)p->sha256;
	pp->sha256.len = sizeof(p->sha256);
	pp->count = p->count;
	pp->size = p->size;
	pp->result_name = (char *)p->result_name;
	pp->identifier_index = p->id_index;
	if (p->manifest_name[0] != '\0') {
		pp->manifest_sha256.data = (uint8_t *)p->manifest_sha256;
		pp->manifest_sha256.len = sizeof(p->manifest_sha256);
		pp->manifest_name = (char *)p->manifest_name;
	}
}

/* ---- content digests ----------------------------------------------------- */

static void
obj_digest(const ProtobufCMessage *m, uint8_t out[32])
{
	size_t	 len = protobuf_c_message_get_packed_size(m);
	uint8_t	*buf = malloc(len ? len : 1);

	memset(out, 0, 32);
	if (buf == NULL)
		return;		/* all zeros: never equal to a real digest */
	protobuf_c_message_pack(m, buf);
	EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL);
	free(buf);
}

void
obj_content_task(const Warrant__Task *p, uint8_t out[32])
{
	Warrant__Task t = *p;

	t.action_id = 0;
	t.answer_by_us = 0;
	t.review = 0;	/* the carrier's policy, not what the authority wrote */
	obj_digest(&t.base, out);
}

void
obj_content_auth(const Warrant__Authorisation *p, uint8_t out[32])
{
	Warrant__Authorisation a = *p;

	a.ratify_by_us = 0;
	obj_digest(&a.base, out);
}

void
obj_content_doc(const Warrant__Document *p, uint8_t out[32])
{
	obj_digest(&p->base, out);
}

/* ---- what a record creates ----------------------------------------------- */

static void
obj_init(struct obj *o, enum hi1_kind kind, const Warrant__Record *rec,
    const char *oid)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	snprintf(o->owner, sizeof(o->owner), "%s", rec->authority_id ?
	    rec->authority_id : "");
	snprintf(o->oid, sizeof(o->oid), "%s", oid ? oid : "");
	snprintf(o->ref, sizeof(o->ref), "%s", rec->carrier_ref ?
	    rec->carrier_ref : "");
	o->generation = 1;
	o->created_us = o->changed_us = rec->time_us;
}

static const Warrant__Authorisation *
obj_rec_auth(const Warrant__Record *rec, const char *oid)
{
	for (size_t i = 0; i < rec->n_authorisations; i++)
		if (rec->authorisations[i]->object_id != NULL &&
		    strcmp(rec->authorisations[i]->object_id, oid) == 0)
			return rec->authorisations[i];
	return NULL;
}

static int
obj_new_task(struct obj *o, const Warrant__Record *rec, const Warrant__Task *p)
{
	const Warrant__Authorisation	*a;
	struct obj_task			*t = &o->u.task;

	obj_init(o, p->type == WARRANT__REQUEST_TYPE__REQUEST_INTERCEPTION ?
	    HI1_OBJ_LITASK : HI1_OBJ_LDTASK, rec, p->object_id);
	if (obj_task_from_pb(p, &t->t, t->auth_id) == -1)
		return -1;
	t->answer_by_us = p->answer_by_us;
	obj_content_task(p, o->content);
	if (p->review > 3)
		return -1;
	t->desk.review = (uint8_t)p->review;
	snprintf(t->desk.official_fp, sizeof(t->desk.official_fp), "%s",
	    rec->official_id ? rec->official_id : "");
	/* Under review, nothing is carried out until the desk approves. */
	if (p->review == 2)
		o->status = OST_AWAITING_APPROVAL;
	else
		o->status = o->kind == HI1_OBJ_LITASK ?
		    OST_AWAITING_PROVISIONING : OST_AWAITING_DISCLOSURE;
	/* A preservation freezes the data until its order ends. */
	if (t->t.type == WD_REQ_PRESERVATION &&
	    (a = obj_rec_auth(rec, t->auth_id)) != NULL)
		t->freeze_until_us = a->valid_until_us;
	return 0;
}

static int
obj_new_auth(struct obj *o, const Warrant__Record *rec,
    const Warrant__Authorisation *p)
{
	obj_init(o, HI1_OBJ_AUTHORISATION, rec, p->object_id);
	if (obj_auth_from_pb(p, &o->u.auth.a) == -1)
		return -1;
	o->u.auth.ratify_by_us = p->urgent ? p->ratify_by_us : 0;
	obj_content_auth(p, o->content);
	o->status = p->urgent ? OST_EMERGENCY_APPROVAL : OST_APPROVED;
	return 0;
}

static int
obj_new_part(struct obj *o, const Warrant__Record *rec,
    const Warrant__DeliveryPart *p)
{
	obj_init(o, HI1_OBJ_DELIVERY, rec, p->object_id);
	if (obj_part_from_pb(p, &o->u.part) == -1)
		return -1;
	/* Parts carried in an acceptance are born delivered. */
	o->u.part.delivered = rec->event ==
	    WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED;
	return 0;
}

static int
obj_new_note(struct obj *o, const Warrant__Record *rec,
    const Warrant__Notification *p)
{
	obj_init(o, HI1_OBJ_NOTIFICATION, rec, p->object_id);
	if (obj_str(o->u.note.text, sizeof(o->u.note.text), p->text) == -1 ||
	    obj_uuid_list(o->u.note.assoc, &o->u.note.nassoc, p->associated,
	    p->n_associated) == -1)
		return -1;
	return 0;
}

struct obj *
obj_from_record(const Warrant__Record *rec, size_t *n)
{
	bool		 accepted = rec->event ==
	    WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
	bool		 docs = accepted || rec->event ==
	    WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED;
	bool		 parts = rec->event ==
	    WARRANT__EVENT_TYPE__EVENT_DELIVERY_READY || rec->event ==
	    WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED;
	size_t		 max = 0, k = 0;
	struct obj	*v;
	int		 rc = 0;

	*n = 0;
	max = (accepted ? rec->n_tasks + rec->n_authorisations : 0) +
	    (docs ? rec->n_documents : 0) + (parts ? rec->n_parts : 0) +
	    rec->n_notifications;
	if (max == 0 || (v = calloc(max, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; accepted && rc == 0 && i < rec->n_authorisations; i++)
		rc = obj_new_auth(&v[k++], rec, rec->authorisations[i]);
	for (size_t i = 0; accepted && rc == 0 && i < rec->n_tasks; i++)
		rc = obj_new_task(&v[k++], rec, rec->tasks[i]);
	for (size_t i = 0; docs && rc == 0 && i < rec->n_documents; i++) {
		obj_init(&v[k], HI1_OBJ_DOCUMENT, rec,
		    rec->documents[i]->object_id);
		v[k].status = OST_APPROVED;
		obj_content_doc(rec->documents[i], v[k].content);
		rc = obj_doc_from_pb(rec->documents[i], &v[k++].u.doc);
	}
	for (size_t i = 0; parts && rc == 0 && i < rec->n_parts; i++)
		rc = obj_new_part(&v[k++], rec, rec->parts[i]);
	for (size_t i = 0; rc == 0 && i < rec->n_notifications; i++)
		rc = obj_new_note(&v[k++], rec, rec->notifications[i]);
	if (rc == -1) {
		log_warnx("journal record %llu: an object it creates is malformed",
		    (unsigned long long)rec->seq);
		free(v);
		return NULL;
	}
	*n = k;
	return v;
}

/* ---- what a record changes ----------------------------------------------- */

static bool
obj_listed(char **v, size_t n, const char *oid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], oid) == 0)
			return true;
	return false;
}

size_t
obj_record_targets(const Warrant__Record *rec, const char **ids, size_t max)
{
	size_t	 n = 0;

#define OBJ_ADD(id) do { if ((id) != NULL && (id)[0] != '\0' && n < max) \
	ids[n++] = (id); } while (0)
	for (size_t i = 0; i < rec->n_transitions; i++)
		OBJ_ADD(rec->transitions[i]->object_id);
	if (rec->event == WARRANT__EVENT_TYPE__EVENT_BACKEND_RESULT &&
	    rec->n_tasks == 1)
		OBJ_ADD(rec->tasks[0]->object_id);
	for (size_t i = 0; i < rec->n_parts; i++) {
		OBJ_ADD(rec->parts[i]->object_id);
		if ((rec->event == WARRANT__EVENT_TYPE__EVENT_DELIVERY_READY ||
		    rec->event == WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED) &&
		    rec->parts[i]->sequence == 1)
			OBJ_ADD(rec->parts[i]->task_id);
	}
	if (rec->event == WARRANT__EVENT_TYPE__EVENT_DESK_ACTION &&
	    rec->desk != NULL)
		OBJ_ADD(rec->desk->object_id);
	if (rec->event == WARRANT__EVENT_TYPE__EVENT_DEADLINE ||
	    rec->event == WARRANT__EVENT_TYPE__EVENT_DELIVERY_FAILED ||
	    rec->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_READ ||
	    rec->event == WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED ||
	    rec->event == WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED ||
	    rec->event == WARRANT__EVENT_TYPE__EVENT_BACKEND_CALL)
		for (size_t i = 0; i < rec->n_objects; i++)
			OBJ_ADD(rec->objects[i]);
#undef OBJ_ADD
	/* One object may be named twice (a task and its first part): dedup. */
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (strcmp(ids[i], ids[k]) == 0)
				ids[k--] = ids[--n];
	return n;
}

/* A transition: the new status, reason and whatever else it carries. */
static int
obj_apply_transition(struct obj *o, const Warrant__Record *rec,
    const Warrant__Transition *t)
{
	enum obj_status	 st;
	struct obj_auth	*a = &o->u.auth;

	if (t->generation != o->generation + 1 ||
	    obj_status_parse(o->kind, t->status ? t->status : "", &st) == -1 ||
	    strlen(t->reason_text ? t->reason_text : "") >= sizeof(o->reason)) {
		log_warnx("journal record %llu: transition of %s to %s does not "
		    "follow generation %u", (unsigned long long)rec->seq, o->oid,
		    t->status ? t->status : "", o->generation);
		return -1;
	}
	if (t->approval != NULL && o->kind == HI1_OBJ_AUTHORISATION) {
		if (a->a.napprovals >= HI1_MAX_APPROVALS ||
		    obj_approval_from_pb(t->approval,
		    &a->a.approvals[a->a.napprovals]) == -1)
			return -1;
		a->a.napprovals++;
		a->ratified = true;
		a->ratify_by_us = 0;
		for (size_t i = 0; i < t->n_documents && a->a.ndocs < HI1_MAX_ASSOC; i++)
			if (obj_str(a->a.docs[a->a.ndocs], HI1_UUID_LEN + 1,
			    t->documents[i]) == 0)
				a->a.ndocs++;
	}
	if (t->valid_until_us != 0) {
		if (o->kind == HI1_OBJ_AUTHORISATION)
			a->a.valid_until_us = t->valid_until_us;
		else if (o->kind == HI1_OBJ_LDTASK && o->u.task.freeze_until_us)
			o->u.task.freeze_until_us = t->valid_until_us;
	}
	if (o->kind == HI1_OBJ_LDTASK && st == OST_CANCELLED &&
	    t->reason_code == WD_REASON_LAPSED)
		o->u.task.lapsed = true;
	if (o->kind == HI1_OBJ_LDTASK && t->keep_until_us != 0)
		o->u.task.keep_until_us = t->keep_until_us;
	o->status = st;
	o->reason_code = t->reason_code;
	snprintf(o->reason, sizeof(o->reason), "%s", t->reason_text ?
	    t->reason_text : "");
	o->generation = t->generation;
	o->changed_us = rec->time_us;
	return 1;
}

/* A part of this object's (as a task, or as the part itself). */
static int
obj_apply_part(struct obj *o, const Warrant__Record *rec,
    const Warrant__DeliveryPart *p)
{
	bool	 self = p->object_id && strcmp(p->object_id, o->oid) == 0;

	switch (rec->event) {
	case WARRANT__EVENT_TYPE__EVENT_DELIVERY_READY:
		/* The task learns of its delivery (visible in GET: a change). */
		if (o->kind != HI1_OBJ_LDTASK || self || p->sequence != 1 ||
		    p->task_id == NULL || strcmp(p->task_id, o->oid) != 0)
			return 0;
		if (obj_str(o->u.task.delivery_id, sizeof(o->u.task.delivery_id),
		    p->delivery_id) == -1)
			return -1;
		o->u.task.parts = p->parts;
		o->u.task.keep_until_us = p->keep_until_us;
		o->u.task.keep_warn_us = p->keep_warn_us;
		o->generation++;
		o->changed_us = rec->time_us;
		return 1;
	case WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED:
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_READ:
		/* A quick result delivered in the answer: the task's only part. */
		if (o->kind == HI1_OBJ_LDTASK && !self && o->u.task.parts == 0 &&
		    p->task_id != NULL && strcmp(p->task_id, o->oid) == 0) {
			if (obj_str(o->u.task.delivery_id,
			    sizeof(o->u.task.delivery_id), p->delivery_id) == -1)
				return -1;
			o->u.task.parts = p->parts;
			return 1;
		}
		if (!self || o->kind != HI1_OBJ_DELIVERY)
			return 0;
		o->u.part.delivered = true;
		return 1;
	case WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED:
		if (!self || o->kind != HI1_OBJ_DELIVERY)
			return 0;
		o->u.part.destroyed = true;
		return 1;
	default:
		return 0;
	}
}

/*
 * A supervisor's re-open (docs/desk-api.md): a review-after task marked
 * reviewed is flagged again, and a released hold is held again with its
 * note. Both follow from the state, so a replay re-opens the same things.
 */
void
obj_desk_reopen(struct obj_desk *k)
{
	if (k->review == WD_REVIEW_AFTER && k->reviewed)
		k->reviewed = false;
	if (k->released_note[0] != '\0' && !k->held) {
		memcpy(k->hold_note, k->released_note, sizeof(k->hold_note));
		k->released_note[0] = '\0';
		k->held = true;
	}
}

/*
 * A desk action on a task: the desk's own state, not a change of the HI-1
 * object (an approval's or rejection's status change is its transition).
 */
static int
obj_apply_desk(struct obj *o, const Warrant__DeskAction *d)
{
	struct obj_desk	*k = &o->u.task.desk;
	const char	*a = d->action ? d->action : "";

	if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
	    d->object_id == NULL || strcmp(d->object_id, o->oid) != 0)
		return 0;
	if (strcmp(a, "approve") == 0 || strcmp(a, "reject") == 0) {
		k->reviewed = true;
		k->released_note[0] = '\0';	/* decided: no hold to re-open */
		return obj_str(k->decided_by, sizeof(k->decided_by),
		    d->operator_id) == -1 ? -1 : 1;
	}
	if (strcmp(a, "approve-first") == 0) {
		if (obj_str(k->first_approver, sizeof(k->first_approver),
		    d->operator_id) == -1)
			return -1;
	} else if (strcmp(a, "reviewed") == 0)
		k->reviewed = true;
	else if (strcmp(a, "hold") == 0) {
		if (obj_str(k->hold_note, sizeof(k->hold_note), d->text) == -1)
			return -1;
		k->held = true;
		k->released_note[0] = '\0';
	} else if (strcmp(a, "release") == 0) {
		/* Kept so that a supervisor can re-open the hold. */
		memcpy(k->released_note, k->hold_note, sizeof(k->released_note));
		k->held = false;
		k->hold_note[0] = '\0';
	} else if (strcmp(a, "reopen") == 0) {
		obj_desk_reopen(k);
	} else if (strcmp(a, "assign") == 0) {
		if (obj_str(k->holder, sizeof(k->holder), d->assignee) == -1)
			return -1;
	} else if (strcmp(a, "note") == 0) {
		if (obj_str(k->last_note, sizeof(k->last_note), d->text) == -1)
			return -1;
		k->notes++;
	} else
		return 0;
	return 1;
}

int
obj_apply(struct obj *o, const Warrant__Record *rec)
{
	int	 changed = 0, rc;

	for (size_t i = 0; i < rec->n_transitions; i++) {
		const Warrant__Transition *t = rec->transitions[i];

		if (t->object_id == NULL || strcmp(t->object_id, o->oid) != 0)
			continue;
		if ((rc = obj_apply_transition(o, rec, t)) == -1)
			return -1;
		changed |= rc;
	}
	for (size_t i = 0; i < rec->n_parts; i++) {
		if ((rc = obj_apply_part(o, rec, rec->parts[i])) == -1)
			return -1;
		changed |= rc;
	}
	switch (rec->event) {
	case WARRANT__EVENT_TYPE__EVENT_BACKEND_RESULT:
		if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
		    rec->n_tasks != 1 || rec->tasks[0]->object_id == NULL ||
		    strcmp(rec->tasks[0]->object_id, o->oid) != 0)
			break;
		if (rec->identifier_index >= o->u.task.t.nids ||
		    rec->error_code >= 255)
			return -1;
		/* Internal progress: not a change of the HI-1 object. */
		o->u.task.outcome[rec->identifier_index] =
		    (uint8_t)(rec->error_code + 1);
		if (rec->result_sha256.len == 32)
			memcpy(o->u.task.result_sha256[rec->identifier_index],
			    rec->result_sha256.data, 32);
		changed = 1;
		break;
	case WARRANT__EVENT_TYPE__EVENT_DESK_ACTION:
		if (rec->desk == NULL)
			break;
		if ((rc = obj_apply_desk(o, rec->desk)) == -1)
			return -1;
		changed |= rc;
		break;
	case WARRANT__EVENT_TYPE__EVENT_DEADLINE:
		if (!obj_listed(rec->objects, rec->n_objects, o->oid) ||
		    (o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK))
			break;
		if (rec->error_code == OBJ_DEADLINE_ANSWER)
			o->u.task.deadline_missed = true;
		else if (rec->error_code == OBJ_DEADLINE_KEEP_WARN)
			o->u.task.keep_warned = true;
		changed = 1;
		break;
	case WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED:
	case WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED:
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_READ:
		if (!obj_listed(rec->objects, rec->n_objects, o->oid))
			break;
		/* A notification read or DELIVERed: no longer new. */
		if (o->kind == HI1_OBJ_NOTIFICATION &&
		    rec->event != WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED) {
			o->u.note.delivered = true;
			changed = 1;
		}
		/* Tasks named: their results' data is no longer held. */
		if ((o->kind == HI1_OBJ_LDTASK || o->kind == HI1_OBJ_LITASK) &&
		    rec->event != WARRANT__EVENT_TYPE__EVENT_REQUEST_READ) {
			o->u.task.results_gone = true;
			changed = 1;
		}
		break;
	case WARRANT__EVENT_TYPE__EVENT_BACKEND_CALL:
		/* A new round of calls: failed identifiers are asked again. */
		if ((o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK) ||
		    !obj_listed(rec->objects, rec->n_objects, o->oid))
			break;
		o->u.task.attempts++;
		for (size_t i = 0; i < o->u.task.t.nids; i++)
			if (o->u.task.outcome[i] > BACKEND_OUTCOME_LAST_ANSWER + 1)
				o->u.task.outcome[i] = OBJ_OUTCOME_PENDING;
		changed = 1;
		break;
	case WARRANT__EVENT_TYPE__EVENT_DELIVERY_FAILED:
		if (!obj_listed(rec->objects, rec->n_objects, o->oid))
			break;
		if (o->kind == HI1_OBJ_DELIVERY)
			o->u.part.push_failures++;
		changed = 1;
		break;
	default:
		break;
	}
	return changed;
}

/* ---- the store's encoding ------------------------------------------------ */

static void
obj_desk_pb(const struct obj_desk *k, Warrant__DeskState *d)
{
	d->review = k->review;
	d->holder = (char *)k->holder;
	d->held = k->held;
	d->hold_note = (char *)k->hold_note;
	d->notes = k->notes;
	d->last_note = (char *)k->last_note;
	d->decided_by = (char *)k->decided_by;
	d->reviewed = k->reviewed;
	d->official_fp = (char *)k->official_fp;
	d->first_approver = (char *)k->first_approver;
	d->released_note = (char *)k->released_note;
}

/* Absent in stores written before the desk: all empty. */
static int
obj_desk_from_pb(const Warrant__DeskState *d, struct obj_desk *k)
{
	memset(k, 0, sizeof(*k));
	if (d == NULL)
		return 0;
	if (d->review > 3 ||
	    obj_str(k->holder, sizeof(k->holder), d->holder) == -1 ||
	    obj_str(k->hold_note, sizeof(k->hold_note), d->hold_note) == -1 ||
	    obj_str(k->last_note, sizeof(k->last_note), d->last_note) == -1 ||
	    obj_str(k->decided_by, sizeof(k->decided_by), d->decided_by) == -1 ||
	    obj_str(k->official_fp, sizeof(k->official_fp), d->official_fp) == -1 ||
	    obj_str(k->first_approver, sizeof(k->first_approver),
	    d->first_approver) == -1 ||
	    obj_str(k->released_note, sizeof(k->released_note),
	    d->released_note) == -1)
		return -1;
	k->review = (uint8_t)d->review;
	k->held = d->held;
	k->notes = d->notes;
	k->reviewed = d->reviewed;
	return 0;
}

uint8_t *
obj_encode(const struct obj *o, size_t *len)
{
	Warrant__StoredObject	 so = WARRANT__STORED_OBJECT__INIT;
	Warrant__Notification	 note = WARRANT__NOTIFICATION__INIT;
	Warrant__DeskState	 desk = WARRANT__DESK_STATE__INIT;
	Warrant__DeliveryPart	 part;
	struct obj_pb_task	 pt;
	struct obj_pb_auth	 pa;
	struct obj_pb_doc	 pd;
	char			*assoc[HI1_MAX_ASSOC];
	uint8_t			*buf;

	so.version = OBJ_STORED_VERSION;
	so.kind = (Warrant__ObjectKind)o->kind;
	so.owner = (char *)o->owner;
	so.object_id = (char *)o->oid;
	so.carrier_ref = (char *)o->ref;
	so.generation = o->generation;
	so.created_us = o->created_us;
	so.changed_us = o->changed_us;
	so.status = (char *)obj_status_name(o->status);
	so.reason_code = o->reason_code;
	so.reason_text = (char *)o->reason;
	so.content_sha256.data = (uint8_t *)o->content;
	so.content_sha256.len = sizeof(o->content);
	switch (o->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		obj_task_pb(&o->u.task.t, o->u.task.auth_id,
		    o->u.task.answer_by_us, &pt);
		so.task = &pt.task;
		so.freeze_until_us = o->u.task.freeze_until_us;
		so.keep_until_us = o->u.task.keep_until_us;
		so.keep_warn_us = o->u.task.keep_warn_us;
		so.outcomes.data = (uint8_t *)o->u.task.outcome;
		so.outcomes.len = o->u.task.t.nids;
		so.result_sha256s.data = (uint8_t *)o->u.task.result_sha256;
		so.result_sha256s.len = 32 * o->u.task.t.nids;
		so.attempts = o->u.task.attempts;
		so.delivery_id = (char *)o->u.task.delivery_id;
		so.parts = o->u.task.parts;
		so.flags = (o->u.task.deadline_missed ? OBJ_F_DEADLINE_MISSED : 0) |
		    (o->u.task.keep_warned ? OBJ_F_KEEP_WARNED : 0) |
		    (o->u.task.lapsed ? OBJ_F_LAPSED : 0) |
		    (o->u.task.results_gone ? OBJ_F_RESULTS_GONE : 0);
		obj_desk_pb(&o->u.task.desk, &desk);
		so.desk = &desk;
		break;
	case HI1_OBJ_AUTHORISATION:
		obj_auth_pb(&o->u.auth.a, o->u.auth.ratify_by_us, &pa);
		so.authorisation = &pa.auth;
		so.flags = o->u.auth.ratified ? OBJ_F_RATIFIED : 0;
		break;
	case HI1_OBJ_DOCUMENT:
		obj_doc_pb(&o->u.doc, &pd);
		so.document = &pd.doc;
		break;
	case HI1_OBJ_DELIVERY:
		obj_part_pb(o->oid, &o->u.part, &part);
		so.part = &part;
		so.flags = (o->u.part.delivered ? OBJ_F_DELIVERED : 0) |
		    (o->u.part.destroyed ? OBJ_F_DESTROYED : 0);
		so.push_failures = o->u.part.push_failures;
		break;
	case HI1_OBJ_NOTIFICATION:
		note.object_id = (char *)o->oid;
		note.text = (char *)o->u.note.text;
		for (size_t i = 0; i < o->u.note.nassoc; i++)
			assoc[i] = (char *)o->u.note.assoc[i];
		note.n_associated = o->u.note.nassoc;
		note.associated = assoc;
		so.notification = &note;
		so.flags = o->u.note.delivered ? OBJ_F_DELIVERED : 0;
		break;
	default:
		return NULL;
	}
	*len = warrant__stored_object__get_packed_size(&so);
	if ((buf = malloc(*len ? *len : 1)) == NULL)
		return NULL;
	warrant__stored_object__pack(&so, buf);
	return buf;
}

static int
obj_decode_kind(const Warrant__StoredObject *so, struct obj *o)
{
	struct obj_task *t = &o->u.task;

	switch (o->kind) {
	case HI1_OBJ_LDTASK:
	case HI1_OBJ_LITASK:
		if (obj_task_from_pb(so->task, &t->t, t->auth_id) == -1 ||
		    so->outcomes.len != t->t.nids ||
		    obj_str(t->delivery_id, sizeof(t->delivery_id),
		    so->delivery_id) == -1)
			return -1;
		memcpy(t->outcome, so->outcomes.data, so->outcomes.len);
		if (so->result_sha256s.len != 0 &&
		    so->result_sha256s.len != 32 * so->outcomes.len)
			return -1;
		memcpy(t->result_sha256, so->result_sha256s.data,
		    so->result_sha256s.len);
		t->answer_by_us = so->task->answer_by_us;
		t->freeze_until_us = so->freeze_until_us;
		t->keep_until_us = so->keep_until_us;
		t->keep_warn_us = so->keep_warn_us;
		t->attempts = so->attempts;
		t->parts = so->parts;
		t->deadline_missed = so->flags & OBJ_F_DEADLINE_MISSED;
		t->keep_warned = so->flags & OBJ_F_KEEP_WARNED;
		t->lapsed = so->flags & OBJ_F_LAPSED;
		t->results_gone = so->flags & OBJ_F_RESULTS_GONE;
		return obj_desk_from_pb(so->desk, &t->desk);
	case HI1_OBJ_AUTHORISATION:
		if (obj_auth_from_pb(so->authorisation, &o->u.auth.a) == -1)
			return -1;
		o->u.auth.ratify_by_us = so->authorisation->ratify_by_us;
		o->u.auth.ratified = so->flags & OBJ_F_RATIFIED;
		return 0;
	case HI1_OBJ_DOCUMENT:
		return obj_doc_from_pb(so->document, &o->u.doc);
	case HI1_OBJ_DELIVERY:
		if (obj_part_from_pb(so->part, &o->u.part) == -1)
			return -1;
		o->u.part.delivered = so->flags & OBJ_F_DELIVERED;
		o->u.part.destroyed = so->flags & OBJ_F_DESTROYED;
		o->u.part.push_failures = so->push_failures;
		return 0;
	case HI1_OBJ_NOTIFICATION:
		if (so->notification == NULL ||
		    obj_str(o->u.note.text, sizeof(o->u.note.text),
		    so->notification->text) == -1 ||
		    obj_uuid_list(o->u.note.assoc, &o->u.note.nassoc,
		    so->notification->associated,
		    so->notification->n_associated) == -1)
			return -1;
		o->u.note.delivered = so->flags & OBJ_F_DELIVERED;
		return 0;
	default:
		return -1;
	}
}

int
obj_decode(const uint8_t *buf, size_t len, struct obj *o)
{
	Warrant__StoredObject	*so;
	int			 rc = -1;

	memset(o, 0, sizeof(*o));
	if ((so = warrant__stored_object__unpack(NULL, len, buf)) == NULL)
		return -1;
	if (so->version != OBJ_STORED_VERSION || so->kind <= 0 ||
	    (int)so->kind >= (int)HI1_OBJ__COUNT || so->generation == 0 ||
	    obj_str(o->owner, sizeof(o->owner), so->owner) == -1 ||
	    obj_str(o->oid, sizeof(o->oid), so->object_id) == -1 ||
	    obj_str(o->ref, sizeof(o->ref), so->carrier_ref) == -1 ||
	    obj_str(o->reason, sizeof(o->reason), so->reason_text) == -1)
		goto out;
	o->kind = (enum hi1_kind)so->kind;
	if (obj_status_parse(o->kind, so->status, &o->status) == -1)
		goto out;
	o->generation = so->generation;
	o->created_us = so->created_us;
	o->changed_us = so->changed_us;
	o->reason_code = so->reason_code;
	if (obj_bytes32(o->content, &so->content_sha256, true) == -1)
		goto out;
	rc = obj_decode_kind(so, o);
out:
	warrant__stored_object__free_unpacked(so, NULL);
	return rc;
}
