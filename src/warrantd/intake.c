/*
 * intake — the pipeline of one HI-1 request, from a complete body to the
 * answer: who is asking, is it well-formed and valid in the profile, is it
 * allowed, then one journal record, and only once that record is on disk,
 * the answer. Every request that arrives whole gets exactly one record
 * (accepted, refused or invalid), so the journal can say who asked for what
 * even when the answer was no.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "conf.h"
#include "answer_stream.h"
#include "dispatch.h"
#include "hi1.h"
#include "hi1_object.h"
#include "journal.h"
#include "lifecycle.h"
#include "log.h"
#include "seal.h"
#include "obj.h"
#include "parsers.h"
#include "policy.h"
#include "purge.h"
#include "review.h"
#include "intake.h"
#include "server.h"
#include "store.h"
#include "tls.h"

/* One request in flight; owned by intake from intake_request to the answer. */
struct intake_job {
	struct conn		*c;		/* freed if dead when released */
	struct server		*srv;
	struct hi1_request	 req;
	char			 owner[HI1_ID_LEN + 1];
	bool			 parsed;
	bool			 extracted;	/* failed a per-action check: actions known */
	struct wd_error		 err;
	Warrant__EventType	 event;
	char			 ref[40];
	uint8_t			 body_sha256[32];
	/* A changing message: what the lifecycle planned (reserved objects). */
	struct lc_plan		*plan;
	/* A reading message: the answers and the parts they hand over. */
	struct lc_read		 read;
	/* Quick answers from the back ends, carried in the acceptance. */
	struct dispatch_delivery *deliveries;
	size_t			 ndeliveries;
	bool			 deliver;	/* recorded: carry them */
	/* Storage for the journal record's repeated fields. */
	struct obj_pb_auth	 pb_auth[HI1_MAX_AUTHS];
	Warrant__Authorisation	*pb_authp[HI1_MAX_AUTHS];
	struct obj_pb_task	 pb_task[HI1_MAX_ACTIONS];
	Warrant__Task		*pb_taskp[HI1_MAX_ACTIONS];
	struct obj_pb_doc	 pb_doc[HI1_MAX_DOCS];
	Warrant__Document	*pb_docp[HI1_MAX_DOCS];
};

static int64_t
intake_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

Warrant__RequestType
intake_pb_reqtype(enum wd_reqtype t)
{
	return (unsigned)t < WD_REQ__COUNT ? (Warrant__RequestType)(t + 1) :
	    WARRANT__REQUEST_TYPE__REQUEST_TYPE_UNSPECIFIED;
}

Warrant__IdentifierType
intake_pb_idtype(enum wd_idtype t)
{
	return (unsigned)t < WD_ID__COUNT ? (Warrant__IdentifierType)(t + 1) :
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_UNSPECIFIED;
}

/* What was asked, under which authorisation: never any subscriber data. */
static void
intake_record_request(struct intake_job *j, Warrant__Record *rec)
{
	const struct hi1_request *r = &j->req;

	for (size_t i = 0; i < r->nauths; i++) {
		obj_auth_pb(&r->auths[i], j->plan->ratify_by_us[i], &j->pb_auth[i]);
		j->pb_authp[i] = &j->pb_auth[i].auth;
	}
	for (size_t i = 0; i < r->ntasks; i++) {
		const struct hi1_task *t = &r->tasks[i];

		obj_task_pb(t, r->auths[t->auth_index].object_id,
		    j->plan->answer_by_us[i], &j->pb_task[i]);
		/* The desk's review gate (src/warrantd/review.c), decided once, here. */
		j->pb_task[i].task.review = review_policy(
		    j->c->official ? j->c->official->authority : NULL, t,
		    r->auths[t->auth_index].urgent, intake_now_us());
		j->pb_taskp[i] = &j->pb_task[i].task;
	}
	for (size_t i = 0; i < r->ndocs; i++) {
		obj_doc_pb(&r->docs[i], &j->pb_doc[i]);
		j->pb_docp[i] = &j->pb_doc[i].doc;
	}
	rec->n_authorisations = r->nauths;
	rec->authorisations = j->pb_authp;
	rec->n_tasks = r->ntasks;
	rec->tasks = j->pb_taskp;
	rec->n_documents = r->ndocs;
	rec->documents = j->pb_docp;
	rec->n_transitions = j->plan->ntr;
	rec->transitions = j->plan->trp;
}

/*
 * An identifier error quotes the identifier, a schema error libxml2's
 * message quotes the value that failed: the journal seals both texts
 * (seal.c), the log holds none of the first and the second masked
 * (issue 14 §4).
 */
static void
intake_log_error(const struct intake_job *j, const struct log_ctx *ctx,
    const char *what)
{
	char	text[sizeof(j->err.text)];

	snprintf(text, sizeof(text), "%s", j->err.code == WD_ERR_IDENTIFIER ?
	    "(the identifier is not logged; the journal has it, sealed)" :
	    j->err.text);
	if (j->err.code == WD_ERR_SCHEMA)
		seal_mask_identifiers(text);
	log_ctx_warnx(ctx, "%s: request %s: error %d %s: %s", j->c->peer, what,
	    j->err.code, wd_error_text(j->err.code), text);
}

static void
intake_log(const struct intake_job *j, const char *what)
{
	const struct conn	*c = j->c;
	struct log_ctx		 ctx = {
		.request_id = j->ref[0] ? j->ref : NULL,
		.authority = c->official && c->official->authority ?
		    c->official->authority->id : NULL,
		.official = c->official ? c->official->id : c->fingerprint,
	};

	switch (j->event) {
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED:
		log_ctx_info(&ctx, "%s: %s accepted (%zu tasks)", c->peer, j->ref,
		    j->req.ntasks);
		break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED:
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_REPEATED:
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_READ:
		log_ctx_info(&ctx, "%s: %s %s", c->peer, j->ref[0] ? j->ref : "",
		    what);
		break;
	default:
		intake_log_error(j, &ctx, what);
	}
}

static bool
intake_is_write_outcome(const struct intake_job *j)
{
	return j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED ||
	    j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED ||
	    j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_REPEATED;
}

/* The quick result of a task, if the answer carries one. */
static const struct dispatch_delivery *
intake_delivery_of(const struct intake_job *j, const char *task_oid)
{
	for (size_t i = 0; j->deliver && i < j->ndeliveries; i++)
		if (j->deliveries[i].recorded &&
		    strcmp(j->deliveries[i].task_oid, task_oid) == 0)
			return &j->deliveries[i];
	return NULL;
}

/*
 * A changing message's answer: for each action, in order, its CREATE or
 * UPDATE response with the object as it now is (tasks echoed, or their
 * quick result as a DeliveryObject; orders and documents by identifier).
 */
static char *
intake_build_changed(struct intake_job *j, const struct hi1_response_header *h,
    size_t *len)
{
	struct hi1_answer		 a[HI1_MAX_ACTIONS];
	struct obj			*o;
	const struct dispatch_delivery	*dv;
	char				*body;
	size_t				 n = j->req.nactions;

	if ((o = calloc(n ? n : 1, sizeof(*o))) == NULL)
		return NULL;
	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < n; i++) {
		const struct hi1_action *act = &j->req.actions[i];
		const char *oid = hi1_action_object(&j->req, act);
		bool task = act->kind == HI1_OBJ_LDTASK || act->kind == HI1_OBJ_LITASK;

		a[i].action_id = act->action_id;
		a[i].verb = act->verb;
		a[i].identifier = oid;
		if (act->verb == HI1_VERB_CREATE && !task)
			continue;
		dv = task ? intake_delivery_of(j, oid) : NULL;
		if (store_get(j->c->srv->store, j->owner, dv ? dv->part_oid :
		    oid, &o[i]) != 1)
			continue;	/* answered by identifier alone */
		a[i].obj = &o[i];
		if (dv != NULL) {
			a[i].data = (const uint8_t *)dv->doc;
			a[i].data_len = dv->doc_len;
		}
	}
	body = hi1_build_answer(h, a, n, len);
	free(o);
	return body;
}

/* The read's buffers and readers, held by a streamed answer. */
static void
intake_read_release(void *arg)
{
	struct lc_read *r = arg;

	lifecycle_read_free(r);
	free(r);
}

static int
intake_stream_fill(void *arg, struct evbuffer *out, size_t want)
{
	return astream_fill(arg, out, want);
}

static void
intake_stream_free(void *arg)
{
	astream_free(arg);
}

/*
 * A read whose parts' data is streamed (answer_stream.h): the answer's
 * text is built now, the data goes into the connection as it drains; the
 * read's readers go with it. -1 (nothing taken) if it cannot be built.
 */
static int
intake_answer_stream(struct intake_job *j, const struct hi1_response_header *h)
{
	struct hi1_pieces	 pc;
	struct lc_read		*r;
	struct astream		*s;
	struct conn_body	 body;

	if (hi1_build_answer_pieces(h, j->read.answers, j->read.nanswers,
	    &pc) == -1)
		return -1;
	if ((r = malloc(sizeof(*r))) == NULL ||
	    (s = astream_new(&pc, intake_read_release, r)) == NULL) {
		free(r);
		free(pc.text);
		return -1;
	}
	*r = j->read;
	memset(&j->read, 0, sizeof(j->read));
	body.fill = intake_stream_fill;
	body.free = intake_stream_free;
	body.arg = s;
	conn_respond_stream(j->c, 200, "application/xml; charset=utf-8",
	    astream_length(s), &body);
	return 0;
}

static void
intake_answer(struct intake_job *j)
{
	struct conn			*c = j->c;
	struct hi1_response_header	 h;
	char				 tid[HI1_UUID_LEN + 1];
	char				*body;
	size_t				 len = 0;
	int				 status;

	h.carrier_id = c->gen->conf->carrier_id;
	h.authority_id = j->parsed || j->extracted ? j->req.sender_id :
	    c->official && c->official->authority ? c->official->authority->id :
	    "UNKNOWN";
	if (j->parsed || j->extracted)
		h.transaction_id = j->req.transaction_id;
	else {
		hi1_uuid(tid, sizeof(tid));
		h.transaction_id = tid;
	}
	h.timestamp_us = intake_now_us();
	status = 200;
	if (intake_is_write_outcome(j))
		body = intake_build_changed(j, &h, &len);
	else if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_READ &&
	    j->read.nstreams > 0) {
		if (intake_answer_stream(j, &h) == 0)
			return;
		body = NULL;
	} else if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_READ)
		body = hi1_build_answer(&h, j->read.answers, j->read.nanswers, &len);
	else {
		body = hi1_build_error(&h, j->parsed || j->extracted ? &j->req : NULL,
		    &j->err, &len);
		status = wd_error_http_status(j->err.code);
	}
	if (body == NULL) {
		status = 500;
		len = 0;
	}
	if (status >= 400)
		c->close_after = c->close_after || status == 413;
	conn_respond(c, status, body, len);
}

/*
 * The journal receipt, as an HTTP header of the acceptance: the record's
 * RFC 9162 leaf hash, with which an authority can later ask an auditor to
 * prove that its request is in the journal (GET /journal/proof?leaf-sha256=).
 * Not the record's sequence number, nor the size of a checkpoint: both
 * count every authority's requests (issue 14 section 5), and the journal's
 * sequence is the auditors' business.
 */
static void
intake_receipt(struct conn *c, const struct journal_receipt *rcpt)
{
	char	leaf[65];

	tls_hex(rcpt->leaf_hash, sizeof(rcpt->leaf_hash), leaf);
	snprintf(c->receipt, sizeof(c->receipt),
	    "Warrant-Receipt: leaf-sha256=%s\r\n", leaf);
}

static void
intake_job_free(struct intake_job *j)
{
	struct lifecycle *lc = j->srv->lifecycle;	/* j->c may be gone */

	if (j->plan != NULL) {
		lifecycle_plan_done(lc, j->plan);
		free(j->plan);
	}
	lifecycle_read_free(&j->read);
	dispatch_free_deliveries(j->deliveries, j->ndeliveries);
	free(j);
}

/*
 * The end of a request: answer it, unless its client has gone (the edge
 * watches for a hang-up while the request is busy, server.c). Results
 * carried in the answer are delivered only if the answer is written: then
 * their stored copies go. A client gone before its results were recorded
 * as carried leaves them to the lifecycle (packaged for GET, as after
 * answer-within); one gone after that record was durable is recorded as
 * not delivered, and the copies stay for GET.
 */
static void
intake_finish(struct intake_job *j)
{
	struct server	*srv = j->srv;
	bool		 dead = conn_release_if_dead(j->c);

	if (!dead)
		intake_answer(j);
	else if (j->deliver) {
		lifecycle_undelivered(srv->lifecycle, j->owner, j->ref,
		    j->deliveries, j->ndeliveries);
		/*
		 * Recorded as delivered one journal write before the client
		 * was found gone: a held result (no stored copy) is stored
		 * by lifecycle_release as if its delivery were not recorded,
		 * so that "kept for GET" holds.
		 */
		for (size_t i = 0; i < j->ndeliveries; i++)
			if (j->deliveries[i].held != NULL)
				j->deliveries[i].recorded = false;
	}
	/*
	 * Delivered and recorded as such: a stored copy is not needed (a held
	 * result has none: lifecycle_release stores only what was not).
	 */
	for (size_t i = 0; !dead && j->deliver && i < j->ndeliveries; i++)
		if (j->deliveries[i].recorded &&
		    j->deliveries[i].result_name[0] != '\0')
			purge_queue(srv->purge, j->deliveries[i].result_name);
	/* Claims end: whatever was not delivered, the lifecycle delivers. */
	lifecycle_release(srv->lifecycle, j->owner, j->deliveries, j->ndeliveries);
	intake_job_free(j);
}

static void
intake_delivery_recorded(int status, const struct journal_receipt *rcpt,
    void *arg)
{
	struct intake_job *j = arg;

	(void)rcpt;
	if (status != 0) {
		j->deliver = false;	/* never hand over what is not recorded */
		for (size_t i = 0; i < j->ndeliveries; i++)
			j->deliveries[i].recorded = false;
	}
	intake_finish(j);
}

/* Record the results about to be delivered (digests, not data): one record. */
static void
intake_record_deliveries(struct intake_job *j)
{
	struct server	*srv = j->c->srv;
	Warrant__Record	 rec = WARRANT__RECORD__INIT;
	void		*storage = NULL;

	if (lifecycle_delivered_record(srv->lifecycle, j->owner, j->ref,
	    j->deliveries, j->ndeliveries, &rec, &storage) == 0) {
		lifecycle_record_free(storage);
		intake_finish(j);
		return;
	}
	rec.transaction_id = j->req.transaction_id;
	rec.official_id = j->c->fingerprint;
	j->deliver = true;
	if (journal_append(srv->journal, &rec, intake_delivery_recorded, j) == -1) {
		lifecycle_record_free(storage);
		intake_delivery_recorded(-1, NULL, j);
		return;
	}
	lifecycle_record_free(storage);
}

static void
intake_results_ready(struct dispatch_delivery *v, size_t n, void *arg)
{
	struct intake_job *j = arg;

	j->deliveries = v;
	j->ndeliveries = v ? n : 0;
	if (j->ndeliveries > 0 && j->c->dead)
		log_info("%s: the client hung up before its answer: its results "
		    "are not carried, they are kept for GET", j->ref);
	if (j->ndeliveries == 0 || j->c->dead)
		intake_finish(j);
	else
		intake_record_deliveries(j);
}

/* The request's record is durable (and the store holds its objects). */
static void
intake_journaled_ok(struct intake_job *j, const struct journal_receipt *rcpt)
{
	struct server	*srv = j->c->srv;
	struct conn	*c = j->c;

	switch (j->event) {
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED:
		srv->stats.accepted++;
		if (!c->dead)
			intake_receipt(c, rcpt);
		intake_log(j, "accepted");
		lifecycle_updated(srv->lifecycle, j->owner, &j->req, j->plan);
		/* Accepted is accepted: carried out even if the client left. */
		lifecycle_accepted(srv->lifecycle, j->owner, j->ref, &j->req,
		    c->fingerprint, c->gen->conf->results.answer_within_ms,
		    intake_results_ready, j);
		return;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED:
		srv->stats.accepted++;
		if (!c->dead)
			intake_receipt(c, rcpt);
		intake_log(j, "updated");
		lifecycle_updated(srv->lifecycle, j->owner, &j->req, j->plan);
		break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_REPEATED:
		srv->stats.repeated++;
		intake_log(j, "repeated: answered with the objects held");
		break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_READ:
		srv->stats.read++;
		intake_log(j, "read");
		lifecycle_read_done(srv->lifecycle, j->owner, &j->read);
		break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED:
		srv->stats.refused++;
		intake_log(j, "refused");
		break;
	default:
		srv->stats.invalid++;
		intake_log(j, "invalid");
	}
	intake_finish(j);
}

static void
intake_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	struct intake_job	*j = arg;
	struct server		*srv = j->c->srv;

	if (status == 0) {
		intake_journaled_ok(j, rcpt);
		return;
	}
	srv->stats.unavailable++;
	wd_error_set(&j->err, WD_ERR_STORAGE, "%s", journal_status(srv->journal));
	j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;	/* not accepted */
	j->parsed = j->extracted = false;
	intake_log(j, "not recorded");
	intake_finish(j);
}

/* A carrier reference: opaque, unique, sortable by time (src/warrantd/ref.c). */
static int
intake_new_ref(struct intake_job *j, int64_t now)
{
	return ref_new(&j->c->srv->refs, (time_t)(now / 1000000), j->ref,
	    sizeof(j->ref));
}

/* A changing message against what is held: new, repeated, or refused. */
static void
intake_decide_change(struct intake_job *j, int64_t now)
{
	struct lifecycle *lc = j->srv->lifecycle;	/* j->c may be gone */

	if ((j->plan = calloc(1, sizeof(*j->plan))) == NULL) {
		wd_error_set(&j->err, WD_ERR_INTERNAL, "out of memory");
		return;
	}
	if (lifecycle_plan(lc, j->owner, &j->req, j->plan, &j->err) == -1) {
		free(j->plan);
		j->plan = NULL;
		return;
	}
	if (j->plan->repeat) {
		j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_REPEATED;
		snprintf(j->ref, sizeof(j->ref), "%s", j->plan->ref);
	} else if (j->req.ntasks > 0 || j->req.nauths > 0) {
		j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
		if (intake_new_ref(j, now) == -1) {
			/* The plan is released with the job. */
			j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;
			wd_error_set(&j->err, WD_ERR_INTERNAL, "no carrier "
			    "reference could be made");
		}
	} else {
		j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED;
		snprintf(j->ref, sizeof(j->ref), "%s", j->plan->ref);
	}
}

/*
 * Before the body is read: who is asking and in which Content-Type. 0 if
 * the body is to be parsed; -1 with the outcome decided (j->event, j->err).
 */
static int
intake_decide_sender(struct intake_job *j)
{
	struct conn		*c = j->c;
	const char		*ct = c->req.content_type;

	j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED;
	if (c->refusal.failed) {
		wd_error_set(&j->err, WD_ERR_UNKNOWN_OFFICIAL,
		    "client certificate no longer accepted: %s", c->refusal.reason);
		return -1;
	}
	if (c->identity == WD_IDENTITY_AMBIGUOUS ||
	    c->identity == WD_IDENTITY_INCONSISTENT) {
		/* Which entries is the carrier's business: its log says. */
		wd_error_set(&j->err, WD_ERR_UNKNOWN_OFFICIAL, "the client "
		    "certificate matches %s; the carrier must correct its "
		    "registry", c->identity == WD_IDENTITY_AMBIGUOUS ?
		    "more than one registered person" :
		    "a registry entry that names another public key");
		return -1;
	}
	if (policy_check_official(c->official, intake_now_us(), &j->err) == -1)
		return -1;
	snprintf(j->owner, sizeof(j->owner), "%s", c->official->authority->id);
	j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;
	if (strncasecmp(ct, "application/xml", 15) != 0 ||
	    (ct[15] != '\0' && ct[15] != ';' && ct[15] != ' ')) {
		wd_error_set(&j->err, WD_ERR_BAD_CONTENT_TYPE,
		    "Content-Type is \"%s\", expected application/xml", ct);
		return -1;
	}
	return 0;
}

/* After the parse (j->req, j->err): policy, then reading or changing. */
static void
intake_decide_parsed(struct intake_job *j, bool parsed)
{
	struct conn	*c = j->c;
	int64_t		 now = intake_now_us();

	if (!parsed) {
		/* Per-action errors come after extraction: answer per action. */
		j->extracted = j->err.has_action;
		return;
	}
	j->parsed = true;
	if (policy_check_request(c->gen->conf, c->official, &j->req, now,
	    &j->err) == -1) {
		if (wd_error_http_status(j->err.code) == 403)
			j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED;
		return;
	}
	if (j->req.reading) {
		if (lifecycle_read(c->srv->lifecycle, j->owner, &j->req,
		    &j->read) == -1)
			wd_error_set(&j->err, WD_ERR_INTERNAL, "out of memory");
		else
			j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_READ;
		return;
	}
	intake_decide_change(j, now);
}

/* The request's record: who, what, and the outcome. */
static void
intake_fill_record(struct intake_job *j, Warrant__Record *rec)
{
	struct conn *c = j->c;

	rec->event = j->event;
	rec->carrier_ref = j->ref;
	rec->transaction_id = j->parsed ? j->req.transaction_id : "";
	rec->authority_id = c->official && c->official->authority ?
	    (char *)c->official->authority->id : (j->parsed ? j->req.sender_id : "");
	rec->official_id = c->fingerprint;
	rec->official_subject = c->subject;
	rec->error_code = intake_is_write_outcome(j) ||
	    j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_READ ? 0 : j->err.code;
	rec->error_text = rec->error_code == 0 ? "" : j->err.text;
	rec->request_sha256.data = j->body_sha256;
	rec->request_sha256.len = sizeof(j->body_sha256);
	rec->peer = c->peer;
	if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED ||
	    j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED)
		intake_record_request(j, rec);
	if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_READ) {
		/* What was asked, and which parts' data it hands over. */
		rec->n_objects = j->read.nobjects;
		rec->objects = j->read.objects;
		rec->n_parts = j->read.nparts;
		rec->parts = j->read.partp;
	}
}

/* The outcome is decided: one journal record, then the answer. */
static void
intake_commit(struct intake_job *j)
{
	struct server		*srv = j->c->srv;
	Warrant__Record		 rec = WARRANT__RECORD__INIT;

	intake_fill_record(j, &rec);
	if (journal_append(srv->journal, &rec, intake_journaled, j) == -1) {
		/* Queue full or journal failed: the callback will not run. */
		srv->stats.unavailable++;
		if (!journal_healthy(srv->journal))
			wd_error_set(&j->err, WD_ERR_STORAGE, "%s",
			    journal_status(srv->journal));
		else
			wd_error_set(&j->err, WD_ERR_OVERLOADED,
			    "the journal cannot take more requests now");
		j->parsed = j->extracted = false;
		j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;
		if (!conn_release_if_dead(j->c))
			intake_answer(j);
		intake_job_free(j);
	}
}

/* A parser worker answered (src/warrantd/parsers.c): the request resumes. */
static void
intake_parsed(void *arg, bool parsed)
{
	struct intake_job *j = arg;

	intake_decide_parsed(j, parsed);
	intake_commit(j);
}

/*
 * The body goes to a parser worker (the event loop carries on), or, with
 * parsers 0, is parsed here. -1: decided now (the pool refused it).
 */
static int
intake_parse(struct intake_job *j, const char *body, size_t len)
{
	struct server	*srv = j->c->srv;
	bool		 parsed;

	if (srv->parsers != NULL) {
		if (parsers_submit(srv->parsers, body, len, &j->req, &j->err,
		    intake_parsed, j) == 0)
			return 0;
		j->extracted = false;
		return -1;
	}
	parsed = hi1_parse_request(j->c->gen->schema, body, len, &j->req,
	    &j->err) == 0;
	intake_parsed(j, parsed);
	return 0;
}

void
intake_request(struct conn *c, char *body, size_t len)
{
	struct server		*srv = c->srv;
	struct intake_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		free(body);
		if (!conn_release_if_dead(c))
			conn_respond(c, 503, NULL, 0);
		return;
	}
	j->c = c;
	j->srv = srv;
	EVP_Digest(body, len, j->body_sha256, NULL, EVP_sha256(), NULL);
	if (!journal_healthy(srv->journal)) {
		/* Nothing can be recorded, so nothing is decided: retry later. */
		free(body);
		srv->stats.unavailable++;
		wd_error_set(&j->err, WD_ERR_STORAGE, "%s", journal_status(srv->journal));
		if (!conn_release_if_dead(c))
			intake_answer(j);
		intake_job_free(j);
		return;
	}
	if (intake_decide_sender(j) == -1 || intake_parse(j, body, len) == -1)
		intake_commit(j);
	free(body);
}

static void
intake_event_done(int status, const struct journal_receipt *rcpt, void *arg)
{
	(void)rcpt;
	(void)arg;
	if (status != 0)
		log_warnx("journal: could not record an event (error %d)", status);
}

/*
 * TLS refusals are journaled (who tried, when, why), but at most
 * INTAKE_TLS_RECORDS_PER_S a second: anyone can make certificates, and one
 * record per handshake would let a stranger fill the disk and so stop all
 * intake. Refusals beyond the rate are counted, logged, and the count goes
 * into the next record.
 */
#define INTAKE_TLS_RECORDS_PER_S	10

void
intake_tls_refused(struct server *srv, const struct conn *c)
{
	Warrant__Record	rec = WARRANT__RECORD__INIT;
	time_t		now = time(NULL);
	char		detail[128];

	if (now != srv->tls_window) {
		srv->tls_window = now;
		srv->tls_in_window = 0;
	}
	if (srv->tls_in_window >= INTAKE_TLS_RECORDS_PER_S) {
		srv->tls_suppressed++;
		return;
	}
	srv->tls_in_window++;
	rec.event = WARRANT__EVENT_TYPE__EVENT_TLS_REFUSED;
	rec.official_id = (char *)c->refusal.fingerprint;
	rec.official_subject = (char *)c->refusal.subject;
	rec.error_code = WD_ERR_UNKNOWN_OFFICIAL;
	rec.error_text = (char *)c->refusal.reason;
	rec.peer = (char *)c->peer;
	if (srv->tls_suppressed > 0) {
		snprintf(detail, sizeof(detail), "%llu earlier TLS refusals "
		    "counted but not recorded one by one (rate limit)",
		    (unsigned long long)srv->tls_suppressed);
		rec.detail = detail;
	}
	if (journal_healthy(srv->journal) &&
	    journal_append(srv->journal, &rec, intake_event_done, NULL) == 0)
		srv->tls_suppressed = 0;
	else
		log_warnx("journal unavailable: TLS refusal of %s not recorded",
		    c->peer);
}

void
intake_record_event(struct server *srv, int event, const char *detail)
{
	Warrant__Record rec = WARRANT__RECORD__INIT;

	rec.event = event;
	rec.detail = (char *)detail;
	if (srv->journal && journal_healthy(srv->journal) &&
	    journal_append(srv->journal, &rec, intake_event_done, NULL) == 0)
		return;
	/* Never silently: the log keeps what the journal could not. */
	log_warnx("journal unavailable: event %d not recorded (%s)", event,
	    detail ? detail : "");
}

static int
intake_replay_one(const Warrant__Record *rec, void *arg)
{
	struct server		*srv = arg;

	/* The object store catches up with what it missed (store.h). */
	if (srv->store != NULL && rec->seq >= store_applied(srv->store) &&
	    store_apply(srv->store, rec) == -1)
		return -1;

	if (rec->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED)
		srv->stats.accepted++;
	return 0;
}

int
intake_recover(struct server *srv)
{
	/* Only the records the store has not applied need their sealed fields. */
	if (journal_replay_unsealed_from(srv->journal, srv->store != NULL ?
	    store_applied(srv->store) : UINT64_MAX, intake_replay_one, srv) == -1)
		return -1;
	log_info("journal holds %llu records, %llu accepted requests",
	    (unsigned long long)journal_size(srv->journal),
	    (unsigned long long)srv->stats.accepted);
	return 0;
}
