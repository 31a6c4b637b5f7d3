/*
 * hi1_object — HI-1 messages about the objects the carrier holds; see
 * include/hi1_object.h. Built with libxml2's tree through hi1_out.h, like
 * every other answer: every string is escaped and made valid UTF-8.
 *
 * Objects are written from what the store holds (include/obj.h), which is
 * what the authority sent, as the profile keeps it, plus what only the
 * carrier sets: Generation, LastChanged, the carrier's reference in
 * ExternalIdentifier, the status and why it ended.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parserInternals.h>	/* xmlStringTextNoenc */
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "hi1.h"
#include "hi1_object.h"
#include "hi1_out.h"
#include "log.h"

#define NS_DOC		"http://uri.etsi.org/03120/common/2020/09/Document"
#define NS_DELIVERY	"http://uri.etsi.org/03120/common/2019/10/Delivery"
#define NS_NOTIF	"http://uri.etsi.org/03120/common/2016/02/Notification"
#define HI1_COUNTRY	"MX"
#define RESULT_NS	"urn:warrantd:mx:ld-result:1"
#define RESULT_TYPE	"application/vnd.warrantd.ld-result+xml"
#define MANIFEST_TYPE	"application/vnd.warrantd.ld-manifest+xml"
#define DATA_MAX	(1024 * 1024)

/* The namespaces of the object types, declared once on the root. */
struct hi1_ons {
	xmlNsPtr	doc, delivery, notif;
};

static void
obj_time(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns, const char *name,
    int64_t us)
{
	char	 ts[32];

	wd_time_format_s(us, ts, sizeof(ts));
	hi1_add(o, parent, ns, name, ts);
}

static void
obj_uint(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns, const char *name,
    unsigned long long v)
{
	char	 buf[24];

	snprintf(buf, sizeof(buf), "%llu", v);
	hi1_add(o, parent, ns, name, buf);
}

/* A DictionaryEntry element: common:Owner, Name, Value. */
static void
obj_dict(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns, const char *el,
    const char *owner, const char *name, const char *value)
{
	xmlNodePtr	 d = hi1_add(o, parent, ns, el, NULL);

	hi1_add(o, d, o->common, "Owner", owner);
	hi1_add(o, d, o->common, "Name", name);
	hi1_add(o, d, o->common, "Value", value);
}

/* ErrorCode and ErrorDescription, for StatusReason and InvalidReason. */
static void
obj_reason(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns, const char *el,
    const struct obj *ob)
{
	xmlNodePtr	 r;
	char		 desc[OBJ_REASON_LEN + 64];

	if (ob->reason_code == 0)
		return;
	r = hi1_add(o, parent, ns, el, NULL);
	obj_uint(o, r, o->core, "ErrorCode", ob->reason_code);
	snprintf(desc, sizeof(desc), "%s%s%s",
	    wd_reason_text((enum wd_reason)ob->reason_code),
	    ob->reason[0] ? ": " : "", ob->reason);
	hi1_add(o, r, o->core, "ErrorDescription", desc[0] ? desc : "ended");
}

static void
obj_approval(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns, const char *el,
    const struct hi1_approval *a)
{
	xmlNodePtr	 ad = hi1_add(o, parent, ns, el, NULL), who;

	if (a->type[0] != '\0')
		hi1_add(o, ad, o->common, "ApprovalType", a->type);
	hi1_add(o, ad, o->common, "ApprovalReference", a->reference);
	who = hi1_add(o, ad, o->common, "ApproverDetails", NULL);
	hi1_add(o, who, o->common, "ApproverName", a->approver);
	hi1_add(o, who, o->common, "ApproverRole", a->role);
	obj_time(o, ad, o->common, "ApprovalTimestamp", a->approved_us);
	if (a->emergency)
		hi1_add(o, ad, o->common, "ApprovalIsEmergency", "true");
}

/* The base of every object, up to (and without) its own elements. */
static xmlNodePtr
obj_base(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob,
    const char *type, const char *const *assoc, size_t nassoc)
{
	xmlNodePtr	 x = hi1_add(o, parent, o->core, "HI1Object", NULL), list;

	if (x != NULL && xmlNewNsProp(x, o->xsi, BAD_CAST "type",
	    BAD_CAST type) == NULL)
		o->oom = 1;
	hi1_add(o, x, o->core, "ObjectIdentifier", ob->oid);
	hi1_add(o, x, o->core, "CountryCode", HI1_COUNTRY);
	hi1_add(o, x, o->core, "OwnerIdentifier", ob->owner);
	obj_uint(o, x, o->core, "Generation", ob->generation);
	if (hi1_ref_ok(ob->ref))
		hi1_add(o, x, o->core, "ExternalIdentifier", ob->ref);
	if (nassoc > 0) {
		list = hi1_add(o, x, o->core, "AssociatedObjects", NULL);
		for (size_t i = 0; i < nassoc; i++)
			hi1_add(o, list, o->core, "AssociatedObject", assoc[i]);
	}
	obj_time(o, x, o->core, "LastChanged", ob->changed_us);
	return x;
}

static void
obj_auth(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob)
{
	const struct hi1_authorisation	*a = &ob->u.auth.a;
	const char			*docs[HI1_MAX_ASSOC];
	xmlNodePtr			 x, ts, fl;

	for (size_t i = 0; i < a->ndocs; i++)
		docs[i] = a->docs[i];
	x = obj_base(o, parent, ob, "auth:AuthorisationObject", docs, a->ndocs);
	hi1_add(o, x, o->auth, "AuthorisationReference", a->reference);
	obj_dict(o, x, o->auth, "AuthorisationLegalType", "MX",
	    "AuthorisationLegalType", a->urgent ? "UrgentOrder" : "JudicialOrder");
	if (a->priority[0] != '\0')
		obj_dict(o, x, o->auth, "AuthorisationPriority", "ETSI",
		    "AuthorisationPriority", a->priority);
	obj_dict(o, x, o->auth, "AuthorisationStatus", "ETSI",
	    "AuthorisationStatus", obj_status_name(ob->status));
	ts = hi1_add(o, x, o->auth, "AuthorisationTimespan", NULL);
	obj_time(o, ts, o->auth, "StartTime", a->valid_from_us);
	obj_time(o, ts, o->auth, "EndTime", a->valid_until_us);
	for (size_t i = 0; i < a->napprovals; i++)
		obj_approval(o, x, o->auth, "AuthorisationApprovalDetails",
		    &a->approvals[i]);
	obj_reason(o, x, o->auth, "AuthorisationInvalidReason", ob);
	if (a->emergency_flag) {
		fl = hi1_add(o, x, o->auth, "AuthorisationFlags", NULL);
		obj_dict(o, fl, o->auth, "AuthorisationFlag", "ETSI",
		    "AuthorisationFlag", "IsEmergency");
	}
	if (a->court[0] != '\0')
		hi1_add(o, x, o->auth, "AuthorisationJurisdiction", a->court);
}

/* RequestValue / TargetIdentifierValue list. */
static void
obj_identifiers(struct hi1_out *o, xmlNodePtr parent, const char *list,
    const char *item, const struct hi1_task *t)
{
	xmlNodePtr	 l = hi1_add(o, parent, o->task, list, NULL), v, ft;

	for (size_t i = 0; i < t->nids; i++) {
		v = hi1_add(o, l, o->task, item, NULL);
		ft = hi1_add(o, v, o->task, "FormatType", NULL);
		hi1_add(o, ft, o->task, "FormatOwner", "ETSI");
		hi1_add(o, ft, o->task, "FormatName", wd_idtype_name(t->ids[i].type));
		hi1_add(o, v, o->task, "Value", t->ids[i].value);
	}
}

static void
obj_delivery_url(struct hi1_out *o, xmlNodePtr x, const char *dest,
    const struct hi1_task *t)
{
	xmlNodePtr	 dd, d, a;

	if (t->delivery_url[0] == '\0')
		return;
	dd = hi1_add(o, x, o->task, "DeliveryDetails", NULL);
	d = hi1_add(o, dd, o->task, dest, NULL);
	a = hi1_add(o, d, o->task, "DeliveryAddress", NULL);
	hi1_add(o, a, o->task, "URL", t->delivery_url);
}

static void
obj_ldtask(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob,
    const struct hi1_answer *ans)
{
	const struct obj_task	*ot = &ob->u.task;
	const struct hi1_task	*t = &ot->t;
	const char		*assoc[1 + 4096];
	size_t			 n = 0;
	xmlNodePtr		 x, rd, fl;

	assoc[n++] = ot->auth_id;
	for (size_t i = 0; ans && i < ans->ndeliveries && n < 4096; i++)
		assoc[n++] = ans->deliveries[i];
	x = obj_base(o, parent, ob, "task:LDTaskObject", assoc, n);
	hi1_add(o, x, o->task, "Reference", t->reference);
	obj_dict(o, x, o->task, "Status", "ETSI", "LDTaskStatus",
	    obj_status_name(ob->status));
	obj_reason(o, x, o->task, "StatusReason", ob);
	rd = hi1_add(o, x, o->task, "RequestDetails", NULL);
	obj_dict(o, rd, o->task, "Type", "MX", "RequestType",
	    wd_reqtype_name(t->type));
	if (t->has_window) {
		obj_time(o, rd, o->task, "StartTime", t->window_start_us);
		obj_time(o, rd, o->task, "EndTime", t->window_end_us);
	}
	if (t->has_observed)
		obj_time(o, rd, o->task, "ObservedTime", t->observed_us);
	obj_identifiers(o, rd, "RequestValues", "RequestValue", t);
	obj_delivery_url(o, x, "LDDeliveryDestination", t);
	if (t->emergency) {
		fl = hi1_add(o, x, o->task, "Flags", NULL);
		obj_dict(o, fl, o->task, "LDTaskFlag", "ETSI", "LDTaskFlag",
		    "IsEmergency");
	}
}

static void
obj_litask(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob)
{
	const struct obj_task	*ot = &ob->u.task;
	const struct hi1_task	*t = &ot->t;
	const char		*assoc[1] = { ot->auth_id };
	xmlNodePtr		 x, ts, ti;

	x = obj_base(o, parent, ob, "task:LITaskObject", assoc, 1);
	hi1_add(o, x, o->task, "Reference", t->reference);
	obj_dict(o, x, o->task, "Status", "ETSI", "TaskStatus",
	    obj_status_name(ob->status));
	ts = hi1_add(o, x, o->task, "Timespan", NULL);
	obj_time(o, ts, o->task, "StartTime", t->window_start_us);
	obj_time(o, ts, o->task, "EndTime", t->window_end_us);
	ti = hi1_add(o, x, o->task, "TargetIdentifier", NULL);
	obj_identifiers(o, ti, "TargetIdentifierValues", "TargetIdentifierValue", t);
	obj_dict(o, x, o->task, "DeliveryType", "ETSI", "TaskDeliveryType",
	    t->delivery_type[0] ? t->delivery_type : "IRIandCC");
	obj_delivery_url(o, x, "DeliveryDestination", t);
	obj_reason(o, x, o->task, "InvalidReason", ob);
}

static void
obj_document(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob,
    const struct hi1_ons *ns)
{
	const struct hi1_document	*d = &ob->u.doc;
	xmlNodePtr			 x, ts;

	x = obj_base(o, parent, ob, "doc:DocumentObject", NULL, 0);
	hi1_add(o, x, ns->doc, "DocumentReference", d->reference);
	if (d->name[0] != '\0')
		hi1_add(o, x, ns->doc, "DocumentName", d->name);
	obj_dict(o, x, ns->doc, "DocumentStatus", "ETSI", "DocumentStatus",
	    obj_status_name(ob->status));
	if (d->has_timespan) {
		ts = hi1_add(o, x, ns->doc, "DocumentTimespan", NULL);
		obj_time(o, ts, ns->doc, "StartTime", d->valid_from_us);
		obj_time(o, ts, ns->doc, "EndTime", d->valid_until_us);
	}
	obj_dict(o, x, ns->doc, "DocumentType", "ETSI", "DocumentType", "Warrant");
	for (size_t i = 0; i < d->nsignatures; i++)
		obj_approval(o, x, ns->doc, "DocumentSignature", &d->signatures[i]);
}

/*
 * Data, ContentType, Checksum, ChecksumType: base64 and SHA-256 of data.
 * sha256: the digest the part already records (read back and checked by
 * the result store), or NULL to compute it: hashing 1 MiB again was a
 * fifth of the daemon's CPU for a GET of a part (bench/lifecycle).
 */
static void
obj_binary(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns,
    const uint8_t *data, const void *stream, size_t len, const uint8_t *sha256,
    const char *type)
{
	unsigned char	 md[32];
	char		 hex[65];
	unsigned char	*b64 = NULL;
	const char	*mark;
	xmlNodePtr	 bd, d, t;
	int		 n;

	if (len == 0 || len > DATA_MAX) {
		o->oom = 1;
		return;
	}
	if (sha256 == NULL && data == NULL) {
		o->oom = 1;	/* a streamed binary comes with its digest */
		return;
	}
	if (sha256 == NULL) {
		EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
		sha256 = md;
	}
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha256[i]);
	/* The base64 goes straight into the output (hi1_out.h), or here. */
	if ((mark = data != NULL ? hi1_out_splice(o, data, len) :
	    hi1_out_splice_stream(o, stream, len)) != NULL)
		n = HI1_SPLICE_MARK_LEN;
	else if (data != NULL && (b64 = malloc(4 * ((len + 2) / 3) + 1)) != NULL)
		n = EVP_EncodeBlock(b64, data, (int)len);
	else {
		o->oom = 1;
		return;
	}
	bd = hi1_add(o, parent, ns, "BinaryData", NULL);
	/*
	 * Not hi1_add: long, and base64 needs no escaping, so the text node
	 * is marked as such (xmlStringTextNoenc): the serialiser then copies
	 * it instead of escaping it byte by byte, which was a quarter of the
	 * daemon's CPU for a GET or DELIVER of a 1 MiB part (bench/lifecycle).
	 */
	if (bd == NULL || (d = xmlNewChild(bd, ns, BAD_CAST "Data", NULL)) == NULL ||
	    (t = xmlNewTextLen(mark ? BAD_CAST mark : b64, n)) == NULL)
		o->oom = 1;
	else {
		t->name = xmlStringTextNoenc;
		if (xmlAddChild(d, t) == NULL) {
			xmlFreeNode(t);
			o->oom = 1;
		}
	}
	free(b64);
	hi1_add(o, bd, ns, "ContentType", type);
	hi1_add(o, bd, ns, "Checksum", hex);
	hi1_add(o, bd, ns, "ChecksumType", "SHA-256");
}

static void
obj_delivery(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob,
    const struct hi1_answer *ans, const struct hi1_ons *ns)
{
	const struct obj_part	*p = &ob->u.part;
	const char		*assoc[1] = { p->task_id };
	xmlNodePtr		 x, r, m, es, mc, d;

	x = obj_base(o, parent, ob, "delivery:DeliveryObject", assoc, 1);
	r = hi1_add(o, x, ns->delivery, "Reference", NULL);
	hi1_add(o, r, ns->delivery, "LDID", p->ldid);
	hi1_add(o, x, ns->delivery, "DeliveryID", p->delivery_id);
	obj_uint(o, x, ns->delivery, "SequenceNumber", p->seq);
	hi1_add(o, x, ns->delivery, "LastSequence", p->last ? "true" : "false");
	if (ans != NULL && ans->manifest != NULL) {
		m = hi1_add(o, x, ns->delivery, "Manifest", NULL);
		es = hi1_add(o, m, ns->delivery, "ExternalSchema", NULL);
		hi1_add(o, es, ns->delivery, "ManifestID", RESULT_NS);
		mc = hi1_add(o, es, ns->delivery, "ManifestContents", NULL);
		obj_binary(o, mc, ns->delivery, ans->manifest, NULL,
		    ans->manifest_len, NULL, MANIFEST_TYPE);
	}
	if (ans != NULL && (ans->data != NULL || ans->data_stream != NULL)) {
		d = hi1_add(o, x, ns->delivery, "Delivery", NULL);
		obj_binary(o, d, ns->delivery, ans->data, ans->data_stream,
		    ans->data_len, ans->data_sha256, RESULT_TYPE);
	}
}

static void
obj_note(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob,
    const struct hi1_ons *ns)
{
	const struct obj_note	*n = &ob->u.note;
	const char		*assoc[HI1_MAX_ASSOC];
	xmlNodePtr		 x;

	for (size_t i = 0; i < n->nassoc; i++)
		assoc[i] = n->assoc[i];
	x = obj_base(o, parent, ob, "notification:NotificationObject", assoc,
	    n->nassoc);
	hi1_add(o, x, ns->notif, "NotificationDetails", n->text);
	obj_dict(o, x, ns->notif, "NotificationType", "ETSI", "NotificationType",
	    "General");
	hi1_add(o, x, ns->notif, "NewNotification", n->delivered ? "false" : "true");
	obj_time(o, x, ns->notif, "NotificationTimestamp", ob->created_us);
}

/* The object of an answer, as its HI1Object under parent. */
static void
hi1_object(struct hi1_out *o, xmlNodePtr parent, const struct obj *ob,
    const struct hi1_answer *ans, const struct hi1_ons *ns)
{
	switch (ob->kind) {
	case HI1_OBJ_AUTHORISATION:
		obj_auth(o, parent, ob);
		break;
	case HI1_OBJ_LDTASK:
		obj_ldtask(o, parent, ob, ans);
		break;
	case HI1_OBJ_LITASK:
		obj_litask(o, parent, ob);
		break;
	case HI1_OBJ_DOCUMENT:
		obj_document(o, parent, ob, ns);
		break;
	case HI1_OBJ_DELIVERY:
		obj_delivery(o, parent, ob, ans, ns);
		break;
	case HI1_OBJ_NOTIFICATION:
		obj_note(o, parent, ob, ns);
		break;
	default:
		log_warnx("%s: object %s of unknown kind %d", __func__, ob->oid,
		    (int)ob->kind);
		o->oom = 1;
	}
}

static void
hi1_list(struct hi1_out *o, xmlNodePtr lr, const struct hi1_answer *a)
{
	for (size_t i = 0; i < a->nlist && i < HI1_LIST_MAX; i++) {
		const struct obj	*ob = &a->list[i];
		xmlNodePtr		 r;

		r = hi1_add(o, lr, o->core, "ListResponseRecord", NULL);
		obj_dict(o, r, o->core, "ObjectType", "ETSI", "ObjectType",
		    hi1_kind_type(ob->kind));
		hi1_add(o, r, o->core, "Identifier", ob->oid);
		hi1_add(o, r, o->core, "CountryCode", HI1_COUNTRY);
		hi1_add(o, r, o->core, "OwnerIdentifier", ob->owner);
		obj_uint(o, r, o->core, "Generation", ob->generation);
		if (hi1_ref_ok(ob->ref))
			hi1_add(o, r, o->core, "ExternalIdentifier", ob->ref);
		obj_time(o, r, o->core, "LastChanged", ob->changed_us);
	}
}

static int
hi1_ons_init(struct hi1_out *o, struct hi1_ons *ns)
{
	ns->doc = xmlNewNs(o->root, BAD_CAST NS_DOC, BAD_CAST "doc");
	ns->delivery = xmlNewNs(o->root, BAD_CAST NS_DELIVERY, BAD_CAST "delivery");
	ns->notif = xmlNewNs(o->root, BAD_CAST NS_NOTIF, BAD_CAST "notification");
	return ns->doc && ns->delivery && ns->notif ? 0 : -1;
}

static void
hi1_one_answer(struct hi1_out *o, xmlNodePtr list, const struct hi1_answer *a,
    const struct hi1_ons *ns)
{
	static const char *const names[] = { "CREATEResponse", "GETResponse",
	    "UPDATEResponse", "LISTResponse", "DELIVERResponse" };
	xmlNodePtr	 ar = hi1_action_response(o, list, a->action_id), r;

	if (a->err != NULL) {
		hi1_error_info(o, ar, a->err->code, a->err->text);
		return;
	}
	if ((unsigned)a->verb >= sizeof(names) / sizeof(names[0])) {
		o->oom = 1;
		return;
	}
	r = hi1_add(o, ar, o->core, names[a->verb], NULL);
	if (a->verb == HI1_VERB_LIST) {
		hi1_list(o, r, a);
		return;
	}
	if (a->verb != HI1_VERB_GET)
		hi1_add(o, r, o->core, "Identifier", a->identifier ? a->identifier :
		    a->obj ? a->obj->oid : "");
	if (a->obj != NULL && a->verb != HI1_VERB_DELIVER)
		hi1_object(o, r, a->obj, a, ns);
}

/* The answers' tree in o; 0 or -1 (logged). */
static int
hi1_answer_tree(struct hi1_out *o, const struct hi1_response_header *h,
    const struct hi1_answer *a, size_t n)
{
	struct hi1_ons	 ns;
	xmlNodePtr	 list;

	if (h == NULL || n == 0 || n > HI1_MAX_ACTIONS) {
		log_warnx("%s: %zu answers", __func__, n);
		return -1;
	}
	if (hi1_out_init(o) == -1)
		goto oom;
	if (hi1_ons_init(o, &ns) == -1) {
		xmlFreeDoc(o->doc);
		goto oom;
	}
	list = hi1_add(o, hi1_out_header(o, h, "ResponsePayload"), o->core,
	    "ActionResponses", NULL);
	for (size_t i = 0; i < n; i++) {
		if (a[i].verb == HI1_VERB_GET && a[i].obj == NULL && a[i].err == NULL)
			o->oom = 1;	/* a GETResponse needs its object */
		hi1_one_answer(o, list, &a[i], &ns);
	}
	return 0;
 oom:
	log_warnx("%s: out of memory", __func__);
	return -1;
}

char *
hi1_build_answer(const struct hi1_response_header *h,
    const struct hi1_answer *a, size_t n, size_t *len)
{
	struct hi1_out	 o;

	if (hi1_answer_tree(&o, h, a, n) == -1)
		return NULL;
	return hi1_out_finish(&o, len);
}

int
hi1_build_answer_pieces(const struct hi1_response_header *h,
    const struct hi1_answer *a, size_t n, struct hi1_pieces *pc)
{
	struct hi1_out	 o;

	memset(pc, 0, sizeof(*pc));
	if (hi1_answer_tree(&o, h, a, n) == -1)
		return -1;
	return hi1_out_finish_pieces(&o, pc);
}

/* A DELIVER's tree, ready to be serialised. 0 or -1 (logged). */
static int
hi1_deliver_tree(struct hi1_out *o, const struct hi1_response_header *h,
    const struct hi1_answer *a, size_t n)
{
	struct hi1_ons	 ns;
	xmlNodePtr	 list, ar, dv;
	char		 id[16];

	if (h == NULL || n == 0 || n > HI1_MAX_ACTIONS) {
		log_warnx("%s: %zu objects", __func__, n);
		return -1;
	}
	if (hi1_out_init(o) == -1)
		goto oom;
	if (hi1_ons_init(o, &ns) == -1) {
		xmlFreeDoc(o->doc);
		goto oom;
	}
	list = hi1_add(o, hi1_out_header(o, h, "RequestPayload"), o->core,
	    "ActionRequests", NULL);
	for (size_t i = 0; i < n; i++) {
		if (a[i].obj == NULL) {
			o->oom = 1;
			break;
		}
		ar = hi1_add(o, list, o->core, "ActionRequest", NULL);
		snprintf(id, sizeof(id), "%u", a[i].action_id);
		hi1_add(o, ar, o->core, "ActionIdentifier", id);
		dv = hi1_add(o, ar, o->core, "DELIVER", NULL);
		hi1_add(o, dv, o->core, "Identifier", a[i].obj->oid);
		hi1_object(o, dv, a[i].obj, &a[i], &ns);
	}
	return 0;
 oom:
	log_warnx("%s: out of memory", __func__);
	return -1;
}

char *
hi1_build_deliver(const struct hi1_response_header *h,
    const struct hi1_answer *a, size_t n, size_t *len)
{
	struct hi1_out	 o;

	if (hi1_deliver_tree(&o, h, a, n) == -1)
		return NULL;
	return hi1_out_finish(&o, len);
}

int
hi1_build_deliver_pieces(const struct hi1_response_header *h,
    const struct hi1_answer *a, size_t n, struct hi1_pieces *pc)
{
	struct hi1_out	 o;

	memset(pc, 0, sizeof(*pc));
	if (hi1_deliver_tree(&o, h, a, n) == -1)
		return -1;
	return hi1_out_finish_pieces(&o, pc);
}
