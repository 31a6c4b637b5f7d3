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
#include "hi1.h"
#include "journal.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "dispatch.h"
#include "hi1_delivery.h"
#include "purge.h"
#include "tls.h"

/* One request in flight; owned by intake from intake_request to the answer. */
struct intake_job {
	struct conn		*c;
	struct hi1_request	 req;
	bool			 parsed;
	bool			 extracted;	/* failed a per-action check: actions known */
	struct wd_error		 err;
	Warrant__EventType	 event;
	char			 ref[40];
	uint8_t			 body_sha256[32];
	/* Quick answers from the back ends, carried in the acceptance. */
	struct dispatch_delivery *deliveries;
	size_t			 ndeliveries;
	size_t			 unrecorded;	/* delivery records not yet durable */
	bool			 deliver;	/* all recorded: carry them */
	/* Storage for the journal record's repeated fields. */
	Warrant__Authorisation	 pb_auth[HI1_MAX_ACTIONS], *pb_authp[HI1_MAX_ACTIONS];
	Warrant__Task		 pb_task[HI1_MAX_ACTIONS], *pb_taskp[HI1_MAX_ACTIONS];
	Warrant__Identifier	 pb_id[HI1_MAX_ACTIONS][HI1_MAX_IDS];
	Warrant__Identifier	*pb_idp[HI1_MAX_ACTIONS][HI1_MAX_IDS];
};

static int64_t
intake_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const Warrant__RequestType reqtype_pb[WD_REQ__COUNT] = {
	[WD_REQ_SUBSCRIBER] = WARRANT__REQUEST_TYPE__REQUEST_SUBSCRIBER_IDENTITY,
	[WD_REQ_LOCATION_RT] = WARRANT__REQUEST_TYPE__REQUEST_REALTIME_LOCATION,
	[WD_REQ_LOCATION_HIST] = WARRANT__REQUEST_TYPE__REQUEST_HISTORICAL_LOCATION,
	[WD_REQ_RECORDS] = WARRANT__REQUEST_TYPE__REQUEST_COMMUNICATION_RECORDS,
	[WD_REQ_PRESERVATION] = WARRANT__REQUEST_TYPE__REQUEST_PRESERVATION,
	[WD_REQ_INTERCEPTION] = WARRANT__REQUEST_TYPE__REQUEST_INTERCEPTION,
};

static const Warrant__IdentifierType idtype_pb[WD_ID__COUNT] = {
	[WD_ID_MSISDN] = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN,
	[WD_ID_IMSI] = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMSI,
	[WD_ID_IMEI] = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMEI,
	[WD_ID_IPPORT] = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT,
};

Warrant__RequestType
intake_pb_reqtype(enum wd_reqtype t)
{
	return (unsigned)t < WD_REQ__COUNT ? reqtype_pb[t] :
	    WARRANT__REQUEST_TYPE__REQUEST_TYPE_UNSPECIFIED;
}

Warrant__IdentifierType
intake_pb_idtype(enum wd_idtype t)
{
	return (unsigned)t < WD_ID__COUNT ? idtype_pb[t] :
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_UNSPECIFIED;
}

/* What was asked, under which authorisation: never any subscriber data. */
static void
intake_record_request(struct intake_job *j, const struct wd_conf *conf,
    Warrant__Record *rec)
{
	const struct hi1_request *r = &j->req;

	for (size_t i = 0; i < r->nauths; i++) {
		const struct hi1_authorisation *a = &r->auths[i];
		Warrant__Authorisation *pa = &j->pb_auth[i];

		warrant__authorisation__init(pa);
		pa->object_id = (char *)a->object_id;
		pa->reference = (char *)a->reference;
		pa->urgent = a->urgent;
		pa->court = (char *)a->court;
		pa->valid_from_us = a->valid_from_us;
		pa->valid_until_us = a->valid_until_us;
		if (a->urgent)
			pa->ratify_by_us = policy_ratify_deadline(conf, a);
		j->pb_authp[i] = pa;
	}
	for (size_t i = 0; i < r->ntasks; i++) {
		const struct hi1_task *t = &r->tasks[i];
		Warrant__Task *pt = &j->pb_task[i];

		warrant__task__init(pt);
		pt->action_id = t->action_id;
		pt->object_id = (char *)t->object_id;
		pt->reference = (char *)t->reference;
		pt->type = intake_pb_reqtype(t->type);
		pt->window_start_us = t->has_window ? t->window_start_us : 0;
		pt->window_end_us = t->has_window ? t->window_end_us : 0;
		for (size_t k = 0; k < t->nids; k++) {
			Warrant__Identifier *pi = &j->pb_id[i][k];

			warrant__identifier__init(pi);
			pi->type = intake_pb_idtype(t->ids[k].type);
			pi->value = (char *)t->ids[k].value;
			pi->observed_us = t->has_observed ? t->observed_us : 0;
			j->pb_idp[i][k] = pi;
		}
		pt->n_identifiers = t->nids;
		pt->identifiers = j->pb_idp[i];
		j->pb_taskp[i] = pt;
	}
	rec->n_authorisations = r->nauths;
	rec->authorisations = j->pb_authp;
	rec->n_tasks = r->ntasks;
	rec->tasks = j->pb_taskp;
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

	if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED)
		log_ctx_info(&ctx, "%s: %s accepted (%zu tasks)", c->peer, j->ref,
		    j->req.ntasks);
	else
		log_ctx_warnx(&ctx, "%s: request %s: error %d %s: %s", c->peer, what,
		    j->err.code, wd_error_text(j->err.code), j->err.text);
}

static char *
intake_build_with_results(struct intake_job *j,
    const struct hi1_response_header *h, size_t *len)
{
	struct hi1_task_result	 r[HI1_MAX_ACTIONS];
	size_t			 n = 0;

	for (size_t i = 0; i < j->ndeliveries && n < HI1_MAX_ACTIONS; i++, n++) {
		r[n].action_id = j->deliveries[i].action_id;
		r[n].doc = j->deliveries[i].doc;
		r[n].doc_len = j->deliveries[i].doc_len;
	}
	return hi1_build_accepted_results(h, &j->req, j->ref, r, n, len);
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
	if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED &&
	    j->deliver && j->ndeliveries > 0) {
		body = intake_build_with_results(j, &h, &len);
		status = 200;
	} else if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED) {
		body = hi1_build_accepted(&h, &j->req, j->ref, &len);
		status = 200;
	} else {
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
 * sequence number and RFC 9162 leaf hash, and the signed checkpoint that
 * covers it (or "next" if it will be in the next one). With it an authority
 * can later ask an auditor to prove that its request is in the journal.
 */
static void
intake_receipt(struct conn *c, const struct journal_receipt *rcpt)
{
	char		 leaf[65], cp[32] = "next";
	uint64_t	 size = 0;
	char		*note = journal_checkpoint_note(c->srv->journal, &size);

	if (note != NULL && size > rcpt->seq)
		snprintf(cp, sizeof(cp), "%llu", (unsigned long long)size);
	free(note);
	tls_hex(rcpt->leaf_hash, sizeof(rcpt->leaf_hash), leaf);
	snprintf(c->receipt, sizeof(c->receipt),
	    "Warrant-Receipt: seq=%llu; leaf-sha256=%s; checkpoint=%s\r\n",
	    (unsigned long long)rcpt->seq, leaf, cp);
}

static void
intake_job_free(struct intake_job *j)
{
	dispatch_free_deliveries(j->deliveries, j->ndeliveries);
	free(j);
}

/* The end of a request: answer it, unless its client has gone. */
static void
intake_finish(struct intake_job *j)
{
	struct server *srv = j->c->srv;

	if (conn_release_if_dead(j->c)) {
		intake_job_free(j);	/* undelivered results stay stored */
		return;
	}
	intake_answer(j);
	/* Delivered and recorded as such: the stored copies are not needed. */
	for (size_t i = 0; j->deliver && i < j->ndeliveries; i++)
		purge_queue(srv->purge, j->deliveries[i].result_name);
	intake_job_free(j);
}

static void
intake_delivery_recorded(int status, const struct journal_receipt *rcpt,
    void *arg)
{
	struct intake_job *j = arg;

	(void)rcpt;
	if (status != 0)
		j->deliver = false;	/* never hand over what is not recorded */
	if (--j->unrecorded == 0)
		intake_finish(j);
}

/* Record each result about to be delivered (its digest, not its data). */
static void
intake_record_deliveries(struct intake_job *j)
{
	Warrant__Record	rec = WARRANT__RECORD__INIT;

	j->deliver = true;
	j->unrecorded = 1;	/* held until every append is queued */
	for (size_t i = 0; i < j->ndeliveries; i++) {
		rec.event = WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED;
		rec.carrier_ref = j->ref;
		rec.transaction_id = j->req.transaction_id;
		rec.authority_id = j->req.sender_id;
		rec.official_id = j->c->fingerprint;
		rec.result_sha256.data = j->deliveries[i].sha256;
		rec.result_sha256.len = sizeof(j->deliveries[i].sha256);
		rec.result_count = 1;
		rec.detail = "carried in the acceptance";
		if (journal_append(j->c->srv->journal, &rec,
		    intake_delivery_recorded, j) == 0)
			j->unrecorded++;
		else
			j->deliver = false;
	}
	intake_delivery_recorded(0, NULL, j);
}

static void
intake_results_ready(struct dispatch_delivery *v, size_t n, void *arg)
{
	struct intake_job *j = arg;

	j->deliveries = v;
	j->ndeliveries = v ? n : 0;
	if (j->ndeliveries == 0 || j->c->dead)
		intake_finish(j);
	else
		intake_record_deliveries(j);
}

static void
intake_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	struct intake_job	*j = arg;
	struct server		*srv = j->c->srv;
	struct conn		*c = j->c;

	if (status == 0 && j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED) {
		srv->stats.accepted++;
		if (!c->dead)
			intake_receipt(c, rcpt);
		intake_log(j, "accepted");
		/* Accepted is accepted: carried out even if the client left. */
		if (srv->backends != NULL) {
			dispatch_start(srv, &j->req, j->ref, c->fingerprint,
			    c->gen->conf->results.answer_within_ms,
			    intake_results_ready, j);
			return;
		}
		intake_finish(j);
		return;
	}
	if (status != 0) {
		srv->stats.unavailable++;
		wd_error_set(&j->err, WD_ERR_STORAGE, "%s", journal_status(srv->journal));
		j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;	/* not accepted */
		j->parsed = j->extracted = false;
		intake_log(j, "not recorded");
	} else {
		if (j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED)
			srv->stats.refused++;
		else
			srv->stats.invalid++;
		log_debug("journal seq %llu for refusal", (unsigned long long)rcpt->seq);
		intake_log(j, j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED ?
		    "refused" : "invalid");
	}
	intake_finish(j);
}

/* Decide the outcome; fills j->event, j->err, j->ref. */
static void
intake_decide(struct intake_job *j, const char *body, size_t len)
{
	struct conn		*c = j->c;
	struct server_gen	*gen = c->gen;
	const char		*ct = c->req.content_type;
	int64_t			 now = intake_now_us();
	time_t			 day = (time_t)(now / 1000000);
	struct tm		 tm;

	j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED;
	if (c->refusal.failed) {
		wd_error_set(&j->err, WD_ERR_UNKNOWN_OFFICIAL,
		    "client certificate no longer accepted: %s", c->refusal.reason);
		return;
	}
	if (policy_check_official(c->official, now, &j->err) == -1)
		return;
	j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;
	if (strncasecmp(ct, "application/xml", 15) != 0 ||
	    (ct[15] != '\0' && ct[15] != ';' && ct[15] != ' ')) {
		wd_error_set(&j->err, WD_ERR_BAD_CONTENT_TYPE,
		    "Content-Type is \"%s\", expected application/xml", ct);
		return;
	}
	if (hi1_parse_request(gen->schema, body, len, &j->req, &j->err) == -1) {
		/* Per-action errors come after extraction: answer per action. */
		j->extracted = j->err.has_action;
		return;
	}
	j->parsed = true;
	if (policy_check_request(gen->conf, c->official, &j->req, now, &j->err) == -1) {
		if (wd_error_http_status(j->err.code) == 403)
			j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED;
		return;
	}
	j->event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
	gmtime_r(&day, &tm);
	snprintf(j->ref, sizeof(j->ref), "MXC-%04d%02d%02d-%08llu",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    (unsigned long long)c->srv->next_ref++);
}

void
intake_request(struct conn *c, char *body, size_t len)
{
	struct server		*srv = c->srv;
	struct intake_job	*j;
	Warrant__Record		 rec = WARRANT__RECORD__INIT;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		free(body);
		if (!conn_release_if_dead(c))
			conn_respond(c, 503, NULL, 0);
		return;
	}
	j->c = c;
	EVP_Digest(body, len, j->body_sha256, NULL, EVP_sha256(), NULL);
	if (!journal_healthy(srv->journal)) {
		/* Nothing can be recorded, so nothing is decided: retry later. */
		free(body);
		srv->stats.unavailable++;
		wd_error_set(&j->err, WD_ERR_STORAGE, "%s", journal_status(srv->journal));
		if (!conn_release_if_dead(c))
			intake_answer(j);
		free(j);
		return;
	}
	intake_decide(j, body, len);
	free(body);

	rec.event = j->event;
	rec.carrier_ref = j->ref;
	rec.transaction_id = j->parsed ? j->req.transaction_id : "";
	rec.authority_id = c->official && c->official->authority ?
	    (char *)c->official->authority->id : (j->parsed ? j->req.sender_id : "");
	rec.official_id = c->fingerprint;
	rec.official_subject = c->subject;
	rec.error_code = j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED ?
	    0 : j->err.code;
	rec.error_text = j->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED ?
	    "" : j->err.text;
	rec.request_sha256.data = j->body_sha256;
	rec.request_sha256.len = sizeof(j->body_sha256);
	rec.peer = c->peer;
	if (j->parsed)
		intake_record_request(j, c->gen->conf, &rec);
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
		if (!conn_release_if_dead(c))
			intake_answer(j);
		free(j);
	}
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
	const char		*dash;
	unsigned long long	 n;

	if (rec->event != WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED ||
	    rec->carrier_ref == NULL || (dash = strrchr(rec->carrier_ref, '-')) == NULL)
		return 0;
	/* References are never reused, even after a gap left by a failed write. */
	n = strtoull(dash + 1, NULL, 10);
	if (n >= srv->next_ref)
		srv->next_ref = n + 1;
	srv->stats.accepted++;
	return 0;
}

int
intake_recover(struct server *srv)
{
	srv->next_ref = 1;
	if (journal_replay(srv->journal, intake_replay_one, srv) == -1)
		return -1;
	log_info("journal holds %llu records, %llu accepted requests; next "
	    "reference number %llu", (unsigned long long)journal_size(srv->journal),
	    (unsigned long long)srv->stats.accepted,
	    (unsigned long long)srv->next_ref);
	return 0;
}
