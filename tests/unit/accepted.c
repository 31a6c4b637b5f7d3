/* accepted — see accepted.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "accepted.h"
#include "hi1_object.h"
#include "obj.h"

/* The objects an acceptance answers with: a task, and a part for it. */
static void
task_obj(struct obj *o, const struct hi1_response_header *h,
    const struct hi1_request *req, const char *ref, size_t i)
{
	memset(o, 0, sizeof(*o));
	o->kind = req->tasks[i].type == WD_REQ_INTERCEPTION ? HI1_OBJ_LITASK :
	    HI1_OBJ_LDTASK;
	snprintf(o->owner, sizeof(o->owner), "%s", req->sender_id);
	snprintf(o->oid, sizeof(o->oid), "%s", req->tasks[i].object_id);
	snprintf(o->ref, sizeof(o->ref), "%s", ref);
	o->generation = 1;
	o->created_us = o->changed_us = h->timestamp_us / 1000000 * 1000000;
	o->status = o->kind == HI1_OBJ_LITASK ? OST_AWAITING_PROVISIONING :
	    OST_AWAITING_DISCLOSURE;
	o->u.task.t = req->tasks[i];
	snprintf(o->u.task.auth_id, sizeof(o->u.task.auth_id), "%s",
	    req->auths[req->tasks[i].auth_index].object_id);
}

static void
part_obj(struct obj *o, const struct hi1_response_header *h,
    const struct hi1_task *t, const char *ref, const char *res, size_t rlen)
{
	memset(o, 0, sizeof(*o));
	o->kind = HI1_OBJ_DELIVERY;
	snprintf(o->owner, sizeof(o->owner), "%s", h->authority_id);
	hi1_uuid(o->oid, sizeof(o->oid));
	snprintf(o->ref, sizeof(o->ref), "%s", ref);
	o->generation = 1;
	o->created_us = o->changed_us = h->timestamp_us / 1000000 * 1000000;
	snprintf(o->u.part.task_id, sizeof(o->u.part.task_id), "%s", t->object_id);
	hi1_uuid(o->u.part.delivery_id, sizeof(o->u.part.delivery_id));
	snprintf(o->u.part.ldid, sizeof(o->u.part.ldid), "%s", t->reference);
	o->u.part.seq = o->u.part.parts = 1;
	o->u.part.last = true;
	o->u.part.count = 1;
	o->u.part.size = rlen;
	EVP_Digest(res, rlen, o->u.part.sha256, NULL, EVP_sha256(), NULL);
}

/*
 * The answer to an accepted CREATE, as intake builds it: each action's
 * CREATEResponse, tasks with their object, the task of `with` (an action
 * id, or UINT32_MAX for none) with its quick result as a DeliveryObject.
 */
char *
test_accepted(const struct hi1_response_header *h,
    const struct hi1_request *req, const char *ref, uint32_t with,
    const char *res, size_t rlen, size_t *len)
{
	struct hi1_answer	 a[HI1_MAX_ACTIONS];
	struct obj		 o[HI1_MAX_ACTIONS];
	char			*xml;

	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < req->nactions; i++) {
		const struct hi1_action *act = &req->actions[i];

		a[i].action_id = act->action_id;
		a[i].verb = HI1_VERB_CREATE;
		a[i].identifier = hi1_action_object(req, act);
		if (act->kind != HI1_OBJ_LDTASK && act->kind != HI1_OBJ_LITASK)
			continue;
		if (act->action_id == with) {
			part_obj(&o[i], h, &req->tasks[act->index], ref, res, rlen);
			a[i].data = (const uint8_t *)res;
			a[i].data_len = rlen;
		} else
			task_obj(&o[i], h, req, ref, act->index);
		a[i].obj = &o[i];
	}
	xml = hi1_build_answer(h, a, req->nactions, len);
	return xml;
}

