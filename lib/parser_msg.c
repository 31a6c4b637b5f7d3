/*
 * parser_msg — struct hi1_request <-> proto/parser.proto (see
 * include/parser_msg.h). Encoding points protobuf-c's structures at the C
 * structure's strings (no copies); reading copies back with every bound
 * checked, since the worker is untrusted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser_msg.h"

const struct codec_spec parser_job_spec = {
	.desc = &warrant__parser__parse_job__descriptor,
	.frame_max = PARSER_JOB_MAX,
	.alloc_floor = 64 * 1024,
};

const struct codec_spec parser_answer_spec = {
	.desc = &warrant__parser__parse_answer__descriptor,
	.frame_max = PARSER_ANSWER_MAX,
	.alloc_floor = 4 * 1024 * 1024,
};

uint8_t *
parser_msg_job(uint64_t id, const char *body, size_t len, size_t max_body,
    size_t *flen)
{
	Warrant__Parser__ParseJob job = WARRANT__PARSER__PARSE_JOB__INIT;

	job.id = id;
	job.body.data = (uint8_t *)body;
	job.body.len = len;
	job.max_body = (uint32_t)max_body;
	return codec_encode(&parser_job_spec, &job.base, flen);
}

/* --- encoding: every protobuf-c structure of one request, in one block ---- */

struct pm_out {
	Warrant__Parser__Request	 req;
	Warrant__Parser__Authorisation	 auth[HI1_MAX_AUTHS];
	Warrant__Parser__Authorisation	*authp[HI1_MAX_AUTHS];
	Warrant__Parser__Approval	 aappr[HI1_MAX_AUTHS][HI1_MAX_APPROVALS];
	Warrant__Parser__Approval	*aapprp[HI1_MAX_AUTHS][HI1_MAX_APPROVALS];
	char				*adocs[HI1_MAX_AUTHS][HI1_MAX_ASSOC];
	Warrant__Parser__Task		 task[HI1_MAX_ACTIONS];
	Warrant__Parser__Task		*taskp[HI1_MAX_ACTIONS];
	char				*tassoc[HI1_MAX_ACTIONS][HI1_MAX_ASSOC];
	Warrant__Parser__Identifier	 tid[HI1_MAX_ACTIONS][HI1_MAX_IDS];
	Warrant__Parser__Identifier	*tidp[HI1_MAX_ACTIONS][HI1_MAX_IDS];
	Warrant__Parser__Document	 doc[HI1_MAX_DOCS];
	Warrant__Parser__Document	*docp[HI1_MAX_DOCS];
	Warrant__Parser__Approval	 dsig[HI1_MAX_DOCS][HI1_MAX_APPROVALS];
	Warrant__Parser__Approval	*dsigp[HI1_MAX_DOCS][HI1_MAX_APPROVALS];
	Warrant__Parser__Update		 upd[HI1_MAX_UPDATES];
	Warrant__Parser__Update		*updp[HI1_MAX_UPDATES];
	Warrant__Parser__Approval	 uappr[HI1_MAX_UPDATES];
	char				*udocs[HI1_MAX_UPDATES][HI1_MAX_ASSOC];
	Warrant__Parser__Read		 rd[HI1_MAX_ACTIONS];
	Warrant__Parser__Read		*rdp[HI1_MAX_ACTIONS];
	Warrant__Parser__Action		 act[HI1_MAX_ACTIONS];
	Warrant__Parser__Action		*actp[HI1_MAX_ACTIONS];
};

#define PM_S(s)	((char *)(s))

static void
pm_approval_out(const struct hi1_approval *a, Warrant__Parser__Approval *p)
{
	warrant__parser__approval__init(p);
	p->type = PM_S(a->type);
	p->reference = PM_S(a->reference);
	p->approver = PM_S(a->approver);
	p->role = PM_S(a->role);
	p->approved_us = a->approved_us;
	p->emergency = a->emergency;
}

static void
pm_auth_out(struct pm_out *o, size_t i, const struct hi1_authorisation *a)
{
	Warrant__Parser__Authorisation *p = &o->auth[i];

	warrant__parser__authorisation__init(p);
	p->action_id = a->action_id;
	p->object_id = PM_S(a->object_id);
	p->owner = PM_S(a->owner);
	p->reference = PM_S(a->reference);
	p->urgent = a->urgent;
	p->court = PM_S(a->court);
	p->priority = PM_S(a->priority);
	p->valid_from_us = a->valid_from_us;
	p->valid_until_us = a->valid_until_us;
	p->approved_us = a->approved_us;
	p->emergency = a->emergency;
	p->emergency_flag = a->emergency_flag;
	for (size_t k = 0; k < a->napprovals && k < HI1_MAX_APPROVALS; k++) {
		pm_approval_out(&a->approvals[k], &o->aappr[i][k]);
		o->aapprp[i][k] = &o->aappr[i][k];
	}
	p->n_approvals = a->napprovals;
	p->approvals = o->aapprp[i];
	for (size_t k = 0; k < a->ndocs && k < HI1_MAX_ASSOC; k++)
		o->adocs[i][k] = PM_S(a->docs[k]);
	p->n_docs = a->ndocs;
	p->docs = o->adocs[i];
	o->authp[i] = p;
}

static void
pm_task_out(struct pm_out *o, size_t i, const struct hi1_task *t)
{
	Warrant__Parser__Task *p = &o->task[i];

	warrant__parser__task__init(p);
	p->action_id = t->action_id;
	p->object_id = PM_S(t->object_id);
	p->owner = PM_S(t->owner);
	p->reference = PM_S(t->reference);
	p->type = (uint32_t)t->type;
	for (size_t k = 0; k < t->nassoc && k < HI1_MAX_ASSOC; k++)
		o->tassoc[i][k] = PM_S(t->assoc[k]);
	p->n_assoc = t->nassoc;
	p->assoc = o->tassoc[i];
	p->auth_index = t->auth_index;
	for (size_t k = 0; k < t->nids && k < HI1_MAX_IDS; k++) {
		Warrant__Parser__Identifier *id = &o->tid[i][k];

		warrant__parser__identifier__init(id);
		id->type = (uint32_t)t->ids[k].type;
		id->value = PM_S(t->ids[k].value);
		id->addr = PM_S(t->ids[k].addr);
		id->port = t->ids[k].port;
		o->tidp[i][k] = id;
	}
	p->n_ids = t->nids;
	p->ids = o->tidp[i];
	p->has_window = t->has_window;
	p->window_start_us = t->window_start_us;
	p->window_end_us = t->window_end_us;
	p->has_observed = t->has_observed;
	p->observed_us = t->observed_us;
	p->delivery_type = PM_S(t->delivery_type);
	p->delivery_url = PM_S(t->delivery_url);
	p->emergency = t->emergency;
	o->taskp[i] = p;
}

static void
pm_doc_out(struct pm_out *o, size_t i, const struct hi1_document *d)
{
	Warrant__Parser__Document *p = &o->doc[i];

	warrant__parser__document__init(p);
	p->action_id = d->action_id;
	p->object_id = PM_S(d->object_id);
	p->owner = PM_S(d->owner);
	p->reference = PM_S(d->reference);
	p->name = PM_S(d->name);
	p->has_timespan = d->has_timespan;
	p->valid_from_us = d->valid_from_us;
	p->valid_until_us = d->valid_until_us;
	for (size_t k = 0; k < d->nsignatures && k < HI1_MAX_APPROVALS; k++) {
		pm_approval_out(&d->signatures[k], &o->dsig[i][k]);
		o->dsigp[i][k] = &o->dsig[i][k];
	}
	p->n_signatures = d->nsignatures;
	p->signatures = o->dsigp[i];
	o->docp[i] = p;
}

static void
pm_update_out(struct pm_out *o, size_t i, const struct hi1_update *u)
{
	Warrant__Parser__Update *p = &o->upd[i];

	warrant__parser__update__init(p);
	p->action_id = u->action_id;
	p->kind = (uint32_t)u->kind;
	p->object_id = PM_S(u->object_id);
	p->owner = PM_S(u->owner);
	p->generation = u->generation;
	p->cancel = u->cancel;
	p->ratify = u->ratify;
	pm_approval_out(&u->approval, &o->uappr[i]);
	p->approval = &o->uappr[i];
	p->desired_approved = u->desired_approved;
	p->extend = u->extend;
	p->valid_from_us = u->valid_from_us;
	p->valid_until_us = u->valid_until_us;
	for (size_t k = 0; k < u->ndocs && k < HI1_MAX_ASSOC; k++)
		o->udocs[i][k] = PM_S(u->docs[k]);
	p->n_docs = u->ndocs;
	p->docs = o->udocs[i];
	o->updp[i] = p;
}

static void
pm_read_out(struct pm_out *o, size_t i, const struct hi1_read *r)
{
	warrant__parser__read__init(&o->rd[i]);
	o->rd[i].action_id = r->action_id;
	o->rd[i].verb = (uint32_t)r->verb;
	o->rd[i].object_id = PM_S(r->object_id);
	o->rd[i].type = (uint32_t)r->type;
	o->rd[i].has_since = r->has_since;
	o->rd[i].since_us = r->since_us;
	o->rdp[i] = &o->rd[i];
}

static void
pm_request_out(struct pm_out *o, const struct hi1_request *r)
{
	Warrant__Parser__Request *p = &o->req;
	size_t i;

	warrant__parser__request__init(p);
	p->sender_cc = PM_S(r->sender_cc);
	p->sender_id = PM_S(r->sender_id);
	p->receiver_cc = PM_S(r->receiver_cc);
	p->receiver_id = PM_S(r->receiver_id);
	p->transaction_id = PM_S(r->transaction_id);
	p->timestamp_us = r->timestamp_us;
	for (i = 0; i < r->nauths && i < HI1_MAX_AUTHS; i++)
		pm_auth_out(o, i, &r->auths[i]);
	p->n_auths = i;
	p->auths = o->authp;
	for (i = 0; i < r->ntasks && i < HI1_MAX_ACTIONS; i++)
		pm_task_out(o, i, &r->tasks[i]);
	p->n_tasks = i;
	p->tasks = o->taskp;
	for (i = 0; i < r->ndocs && i < HI1_MAX_DOCS; i++)
		pm_doc_out(o, i, &r->docs[i]);
	p->n_docs = i;
	p->docs = o->docp;
	for (i = 0; i < r->nupdates && i < HI1_MAX_UPDATES; i++)
		pm_update_out(o, i, &r->updates[i]);
	p->n_updates = i;
	p->updates = o->updp;
	for (i = 0; i < r->nreads && i < HI1_MAX_ACTIONS; i++)
		pm_read_out(o, i, &r->reads[i]);
	p->n_reads = i;
	p->reads = o->rdp;
	for (i = 0; i < r->nactions && i < HI1_MAX_ACTIONS; i++) {
		warrant__parser__action__init(&o->act[i]);
		o->act[i].action_id = r->actions[i].action_id;
		o->act[i].verb = (uint32_t)r->actions[i].verb;
		o->act[i].kind = (uint32_t)r->actions[i].kind;
		o->act[i].index = (uint32_t)r->actions[i].index;
		o->actp[i] = &o->act[i];
	}
	p->n_actions = i;
	p->actions = o->actp;
	p->reading = r->reading;
}

uint8_t *
parser_msg_answer(uint64_t id, const struct hi1_request *req,
    const struct wd_error *err, size_t *flen)
{
	Warrant__Parser__ParseAnswer	 ans = WARRANT__PARSER__PARSE_ANSWER__INIT;
	Warrant__Parser__Refusal	 ref = WARRANT__PARSER__REFUSAL__INIT;
	struct pm_out			*o;
	uint8_t				*frame;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	ans.id = id;
	if (err != NULL) {
		ref.code = (uint32_t)err->code;
		ref.has_action = err->has_action != 0;
		ref.action_id = err->action_id;
		ref.text = PM_S(err->text);
		ans.refusal = &ref;
	}
	if (err == NULL || err->has_action) {
		pm_request_out(o, req);
		ans.request = &o->req;
	}
	frame = codec_encode(&parser_answer_spec, &ans.base, flen);
	free(o);
	return frame;
}

/* --- reading: the worker's answer, checked ---------------------------------- */

struct pm_in {
	char	*why;
	size_t	 whylen;
	bool	 bad;
};

/* Copy s into dst[size] if it fits (and is there); else the answer is bad. */
static void
pm_cpy(struct pm_in *in, char *dst, size_t size, const char *s,
    const char *field)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (in->bad)
		return;
	if (n >= size) {
		snprintf(in->why, in->whylen, "%s: %zu bytes, at most %zu",
		    field, n, size - 1);
		in->bad = true;
		return;
	}
	memcpy(dst, s != NULL ? s : "", n + 1);
}

/* A count n for an array of max; a value v in [0, lim). */
static void
pm_bound(struct pm_in *in, uint64_t v, uint64_t lim, const char *field)
{
	if (in->bad || v < lim)
		return;
	snprintf(in->why, in->whylen, "%s: %llu, at most %llu", field,
	    (unsigned long long)v, (unsigned long long)(lim ? lim - 1 : 0));
	in->bad = true;
}

#define PM_CPY(in, dst, src, f)	pm_cpy(in, dst, sizeof(dst), src, f)

static void
pm_approval_in(struct pm_in *in, const Warrant__Parser__Approval *p,
    struct hi1_approval *a)
{
	if (p == NULL)
		return;
	PM_CPY(in, a->type, p->type, "approval type");
	PM_CPY(in, a->reference, p->reference, "approval reference");
	PM_CPY(in, a->approver, p->approver, "approver");
	PM_CPY(in, a->role, p->role, "approver role");
	a->approved_us = p->approved_us;
	a->emergency = p->emergency;
}

static void
pm_auth_in(struct pm_in *in, const Warrant__Parser__Authorisation *p,
    struct hi1_authorisation *a)
{
	a->action_id = p->action_id;
	PM_CPY(in, a->object_id, p->object_id, "authorisation id");
	PM_CPY(in, a->owner, p->owner, "authorisation owner");
	PM_CPY(in, a->reference, p->reference, "authorisation reference");
	a->urgent = p->urgent;
	PM_CPY(in, a->court, p->court, "court");
	PM_CPY(in, a->priority, p->priority, "priority");
	a->valid_from_us = p->valid_from_us;
	a->valid_until_us = p->valid_until_us;
	a->approved_us = p->approved_us;
	a->emergency = p->emergency;
	a->emergency_flag = p->emergency_flag;
	pm_bound(in, p->n_approvals, HI1_MAX_APPROVALS + 1, "approvals");
	for (size_t k = 0; !in->bad && k < p->n_approvals; k++)
		pm_approval_in(in, p->approvals[k], &a->approvals[k]);
	a->napprovals = in->bad ? 0 : p->n_approvals;
	pm_bound(in, p->n_docs, HI1_MAX_ASSOC + 1, "authorisation documents");
	for (size_t k = 0; !in->bad && k < p->n_docs; k++)
		PM_CPY(in, a->docs[k], p->docs[k], "document id");
	a->ndocs = in->bad ? 0 : p->n_docs;
}

static void
pm_ids_in(struct pm_in *in, const Warrant__Parser__Task *p, struct hi1_task *t)
{
	pm_bound(in, p->n_ids, HI1_MAX_IDS + 1, "identifiers");
	for (size_t k = 0; !in->bad && k < p->n_ids; k++) {
		const Warrant__Parser__Identifier *id = p->ids[k];

		pm_bound(in, id->type, WD_ID__COUNT, "identifier type");
		t->ids[k].type = (enum wd_idtype)id->type;
		PM_CPY(in, t->ids[k].value, id->value, "identifier");
		PM_CPY(in, t->ids[k].addr, id->addr, "identifier address");
		pm_bound(in, id->port, 65536, "port");
		t->ids[k].port = (uint16_t)id->port;
	}
	t->nids = in->bad ? 0 : p->n_ids;
}

static void
pm_task_in(struct pm_in *in, const Warrant__Parser__Task *p, struct hi1_task *t)
{
	t->action_id = p->action_id;
	PM_CPY(in, t->object_id, p->object_id, "task id");
	PM_CPY(in, t->owner, p->owner, "task owner");
	PM_CPY(in, t->reference, p->reference, "task reference");
	pm_bound(in, p->type, WD_REQ__COUNT, "request type");
	t->type = (enum wd_reqtype)p->type;
	pm_bound(in, p->n_assoc, HI1_MAX_ASSOC + 1, "associated objects");
	for (size_t k = 0; !in->bad && k < p->n_assoc; k++)
		PM_CPY(in, t->assoc[k], p->assoc[k], "associated object");
	t->nassoc = in->bad ? 0 : p->n_assoc;
	/* -1 until linked; against the authorisations' count in pm_indexes. */
	pm_bound(in, (uint64_t)((int64_t)p->auth_index + 1), HI1_MAX_AUTHS + 1,
	    "authorisation index + 1");
	t->auth_index = p->auth_index;
	pm_ids_in(in, p, t);
	t->has_window = p->has_window;
	t->window_start_us = p->window_start_us;
	t->window_end_us = p->window_end_us;
	t->has_observed = p->has_observed;
	t->observed_us = p->observed_us;
	PM_CPY(in, t->delivery_type, p->delivery_type, "delivery type");
	PM_CPY(in, t->delivery_url, p->delivery_url, "delivery URL");
	t->emergency = p->emergency;
}

static void
pm_doc_in(struct pm_in *in, const Warrant__Parser__Document *p,
    struct hi1_document *d)
{
	d->action_id = p->action_id;
	PM_CPY(in, d->object_id, p->object_id, "document id");
	PM_CPY(in, d->owner, p->owner, "document owner");
	PM_CPY(in, d->reference, p->reference, "document reference");
	PM_CPY(in, d->name, p->name, "document name");
	d->has_timespan = p->has_timespan;
	d->valid_from_us = p->valid_from_us;
	d->valid_until_us = p->valid_until_us;
	pm_bound(in, p->n_signatures, HI1_MAX_APPROVALS + 1, "signatures");
	for (size_t k = 0; !in->bad && k < p->n_signatures; k++)
		pm_approval_in(in, p->signatures[k], &d->signatures[k]);
	d->nsignatures = in->bad ? 0 : p->n_signatures;
}

static void
pm_update_in(struct pm_in *in, const Warrant__Parser__Update *p,
    struct hi1_update *u)
{
	u->action_id = p->action_id;
	pm_bound(in, p->kind, HI1_OBJ__COUNT, "update kind");
	u->kind = (enum hi1_kind)p->kind;
	PM_CPY(in, u->object_id, p->object_id, "update object");
	PM_CPY(in, u->owner, p->owner, "update owner");
	u->generation = p->generation;
	u->cancel = p->cancel;
	u->ratify = p->ratify;
	pm_approval_in(in, p->approval, &u->approval);
	u->desired_approved = p->desired_approved;
	u->extend = p->extend;
	u->valid_from_us = p->valid_from_us;
	u->valid_until_us = p->valid_until_us;
	pm_bound(in, p->n_docs, HI1_MAX_ASSOC + 1, "update documents");
	for (size_t k = 0; !in->bad && k < p->n_docs; k++)
		PM_CPY(in, u->docs[k], p->docs[k], "document id");
	u->ndocs = in->bad ? 0 : p->n_docs;
}

static void
pm_read_in(struct pm_in *in, const Warrant__Parser__Read *p, struct hi1_read *r)
{
	r->action_id = p->action_id;
	pm_bound(in, p->verb, HI1_VERB_DELIVER + 1, "read verb");
	r->verb = (enum hi1_verb)p->verb;
	PM_CPY(in, r->object_id, p->object_id, "read object");
	pm_bound(in, p->type, HI1_OBJ__COUNT, "list type");
	r->type = (enum hi1_kind)p->type;
	r->has_since = p->has_since;
	r->since_us = p->since_us;
}

/* The array an action's index points into, and its capacity and count. */
static void
pm_action_array(const struct hi1_request *r, const struct hi1_action *a,
    size_t *cap, size_t *count)
{
	*cap = 1, *count = 1;		/* no array: index 0 only */
	if (a->verb == HI1_VERB_GET || a->verb == HI1_VERB_LIST)
		*cap = HI1_MAX_ACTIONS, *count = r->nreads;
	else if (a->verb == HI1_VERB_UPDATE)
		*cap = HI1_MAX_UPDATES, *count = r->nupdates;
	else if (a->kind == HI1_OBJ_LDTASK || a->kind == HI1_OBJ_LITASK)
		*cap = HI1_MAX_ACTIONS, *count = r->ntasks;
	else if (a->kind == HI1_OBJ_DOCUMENT)
		*cap = HI1_MAX_DOCS, *count = r->ndocs;
	else if (a->kind == HI1_OBJ_AUTHORISATION)
		*cap = HI1_MAX_AUTHS, *count = r->nauths;
}

/*
 * Indexes: always within the arrays (memory safety); for a parsed request
 * also within what was filled (every action's object and every task's
 * authorisation exist), as hi1_parse_request guarantees.
 */
static void
pm_indexes(struct pm_in *in, struct hi1_request *r, bool parsed)
{
	size_t cap, count;

	for (size_t i = 0; !in->bad && i < r->nactions; i++) {
		pm_action_array(r, &r->actions[i], &cap, &count);
		pm_bound(in, r->actions[i].index, parsed ? count : cap,
		    "action index");
	}
	for (size_t i = 0; parsed && !in->bad && i < r->ntasks; i++)
		pm_bound(in, (uint32_t)r->tasks[i].auth_index, r->nauths,
		    "task's authorisation");
}

static void
pm_request_in(struct pm_in *in, const Warrant__Parser__Request *p,
    struct hi1_request *r)
{
	PM_CPY(in, r->sender_cc, p->sender_cc, "sender country");
	PM_CPY(in, r->sender_id, p->sender_id, "sender");
	PM_CPY(in, r->receiver_cc, p->receiver_cc, "receiver country");
	PM_CPY(in, r->receiver_id, p->receiver_id, "receiver");
	PM_CPY(in, r->transaction_id, p->transaction_id, "transaction id");
	r->timestamp_us = p->timestamp_us;
	pm_bound(in, p->n_auths, HI1_MAX_AUTHS + 1, "authorisations");
	for (size_t k = 0; !in->bad && k < p->n_auths; k++)
		pm_auth_in(in, p->auths[k], &r->auths[k]);
	r->nauths = in->bad ? 0 : p->n_auths;
	pm_bound(in, p->n_tasks, HI1_MAX_ACTIONS + 1, "tasks");
	for (size_t k = 0; !in->bad && k < p->n_tasks; k++)
		pm_task_in(in, p->tasks[k], &r->tasks[k]);
	r->ntasks = in->bad ? 0 : p->n_tasks;
	pm_bound(in, p->n_docs, HI1_MAX_DOCS + 1, "documents");
	for (size_t k = 0; !in->bad && k < p->n_docs; k++)
		pm_doc_in(in, p->docs[k], &r->docs[k]);
	r->ndocs = in->bad ? 0 : p->n_docs;
	pm_bound(in, p->n_updates, HI1_MAX_UPDATES + 1, "updates");
	for (size_t k = 0; !in->bad && k < p->n_updates; k++)
		pm_update_in(in, p->updates[k], &r->updates[k]);
	r->nupdates = in->bad ? 0 : p->n_updates;
	pm_bound(in, p->n_reads, HI1_MAX_ACTIONS + 1, "reads");
	for (size_t k = 0; !in->bad && k < p->n_reads; k++)
		pm_read_in(in, p->reads[k], &r->reads[k]);
	r->nreads = in->bad ? 0 : p->n_reads;
	pm_bound(in, p->n_actions, HI1_MAX_ACTIONS + 1, "actions");
	for (size_t k = 0; !in->bad && k < p->n_actions; k++) {
		const Warrant__Parser__Action *a = p->actions[k];

		pm_bound(in, a->verb, HI1_VERB_DELIVER + 1, "action verb");
		pm_bound(in, a->kind, HI1_OBJ__COUNT, "action kind");
		r->actions[k].action_id = a->action_id;
		r->actions[k].verb = (enum hi1_verb)a->verb;
		r->actions[k].kind = (enum hi1_kind)a->kind;
		r->actions[k].index = a->index;
	}
	r->nactions = in->bad ? 0 : p->n_actions;
	r->reading = p->reading;
}

/* A code a parser gives: the body's (1xx, 2xx), the profile's (4xx), 503. */
static void
pm_refusal_in(struct pm_in *in, const Warrant__Parser__Refusal *p,
    struct wd_error *err)
{
	bool known = strcmp(wd_error_text((enum wd_errcode)p->code),
	    "unknown error") != 0;

	if (!known || (p->code >= 300 && p->code < 400) ||
	    (p->code >= 500 && p->code != WD_ERR_INTERNAL)) {
		snprintf(in->why, in->whylen, "refusal code %u is not a "
		    "parser's", p->code);
		in->bad = true;
		return;
	}
	err->code = (enum wd_errcode)p->code;
	err->has_action = p->has_action;
	err->action_id = p->action_id;
	PM_CPY(in, err->text, p->text, "refusal text");
}

int
parser_msg_answer_read(const Warrant__Parser__ParseAnswer *a,
    struct hi1_request *req, struct wd_error *err, bool *parsed, char *why,
    size_t whylen)
{
	struct pm_in	in = { why, whylen, false };

	/* *req is zero already (172 KiB: not cleared again per request). */
	memset(err, 0, sizeof(*err));
	*parsed = a->refusal == NULL;
	if (a->refusal != NULL)
		pm_refusal_in(&in, a->refusal, err);
	if (!in.bad && a->request == NULL && (*parsed || err->has_action)) {
		snprintf(why, whylen, "no request where one is needed");
		in.bad = true;
	}
	if (!in.bad && a->request != NULL && (*parsed || err->has_action)) {
		pm_request_in(&in, a->request, req);
		pm_indexes(&in, req, *parsed);
	}
	if (in.bad) {
		memset(req, 0, sizeof(*req));
		memset(err, 0, sizeof(*err));
		return -1;
	}
	return 0;
}
