/*
 * desk_action — the desk's actions (POST /desk/api/approve, reject, hold,
 * release, assign, note, reviewed, reopen; src/warrantd/desk.c routes to
 * them): the body checked against the task and the person, one journal
 * record (EVENT_DESK_ACTION), the answer once it is durable, and the
 * lifecycle told of a decision.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "desk_int.h"
#include "lifecycle.h"
#include "log.h"
#include "review.h"
#include "store.h"

/* ---- actions ---------------------------------------------------------- */

const char *const desk_actions[] = {
	"approve", "reject", "hold", "release", "assign", "note", "reviewed",
	"reopen", NULL
};

static void
desk_journaled(int status, const struct journal_receipt *rcpt, void *arg)
{
	struct desk_job *job = arg;

	job->d->pending--;
	if (status != 0) {
		log_warnx("desk: %s by %s not recorded (error %d)", job->action,
		    job->operator_id, status);
		json_decref(job->answer);
		desk_error(job->cb, job->arg, 503, "journal", "the action could "
		    "not be recorded; nothing was done, try again");
	} else {
		if (rcpt != NULL)
			json_object_set_new(job->answer, "journal_seq",
			    json_integer((json_int_t)rcpt->seq));
		for (size_t i = 0; i <= DESK_SEARCH; i++)
			if (strcmp(job->action, i < DESK_SEARCH ?
			    desk_actions[i] : "search") == 0)
				job->d->actions[i]++;
		log_info("desk: %s %s by %s (%s) from %s", job->action,
		    job->ref[0] ? job->ref : job->query_kind, job->operator_id,
		    job->level, job->peer);
		desk_reply_json(job->cb, job->arg, 200, job->answer);
	}
	free(job);
}

static void
desk_fill_record(struct desk_job *job)
{
	warrant__record__init(&job->rec);
	warrant__desk_action__init(&job->act);
	job->act.action = job->action;
	job->act.operator_id = job->operator_id;
	job->act.object_id = job->oid;
	job->act.text = job->text;
	job->act.assignee = job->assignee;
	job->act.query_kind = job->query_kind;
	job->act.query = job->query;
	job->act.level = job->level;
	job->rec.event = WARRANT__EVENT_TYPE__EVENT_DESK_ACTION;
	job->rec.authority_id = job->owner;
	job->rec.carrier_ref = job->ref;
	job->rec.official_id = job->fp;
	job->rec.peer = job->peer;
	job->rec.desk = &job->act;
}

/* Journal job's action on its own (no transition), then answer. */
void
desk_journal(struct desk_job *job)
{
	ProtobufCBinaryData	sha = job->act.query_sha256;
	uint32_t		matches = job->act.matches;

	desk_fill_record(job);
	job->act.query_sha256 = sha;
	job->act.matches = matches;
	job->d->pending++;
	if (journal_append(job->d->env.journal, &job->rec, desk_journaled,
	    job) == -1) {
		job->d->pending--;
		json_decref(job->answer);
		desk_error(job->cb, job->arg, 503, "journal", "the journal cannot "
		    "take records now; nothing was done, try again");
		free(job);
	}
}

static void
desk_decided(int status, void *arg)
{
	desk_journaled(status, NULL, arg);
}

/* The task an action names: "task" if given, else the request's only one. */
struct desk_find {
	const char	*task;
	bool		 awaiting;	/* only tasks in AwaitingApproval */
	struct obj	 o;
	size_t		 n;
};

static int
desk_find_visit(const struct obj *o, void *arg)
{
	struct desk_find *f = arg;

	if (o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK)
		return 0;
	if (f->task != NULL ? strcmp(f->task, o->oid) != 0 :
	    (f->awaiting && o->status != OST_AWAITING_APPROVAL))
		return 0;
	if (f->n++ == 0)
		f->o = *o;
	return 0;
}

/* A registered desk person in force, by registry id. */
static const struct wd_official *
desk_person(const struct wd_conf *conf, const char *id)
{
	const struct wd_official *o;

	TAILQ_FOREACH(o, &conf->officials, entry)
		if (strcmp(o->id, id) == 0 && (o->role == WD_ROLE_OPERATOR ||
		    o->role == WD_ROLE_SUPERVISOR) &&
		    conf_official_status(o, time(NULL)) == WD_OFFICIAL_OK)
			return o;
	return NULL;
}

/*
 * A supervisor re-opens what an operator closed and HI-1 never saw: a
 * review-after task marked reviewed (flagged again, even if the task has
 * ended), or a released hold while the task still awaits approval (held
 * again, with its note). A decision (approval, rejection) is never
 * re-opened: the authority has read it, or may have (docs/decisions.md).
 */
static const char *
desk_check_reopen(const struct desk_request *r, const struct obj *o,
    const char **msg, int *status)
{
	const struct obj_desk *k = &o->u.task.desk;

	if (r->who->role != WD_ROLE_SUPERVISOR) {
		*status = 403;
		*msg = "only a supervisor re-opens";
		return "forbidden";
	}
	if (k->review == WD_REVIEW_AFTER && k->reviewed)
		return NULL;
	if (k->released_note[0] != '\0' && !k->held &&
	    o->status == OST_AWAITING_APPROVAL)
		return NULL;
	*msg = "nothing to re-open: only a review-after task marked reviewed, or "
	    "a released hold on a task still awaiting approval";
	return "not-reopenable";
}

/*
 * Who may do what to this task (the body's fields are checked already).
 * NULL if allowed, else the refusal's code, with its message and status.
 */
static const char *
desk_check(const char *action, const struct desk_body *b,
    const struct desk_request *r, const struct obj *o, const char **msg,
    int *status)
{
	const struct obj_desk	*k = &o->u.task.desk;
	bool			 sup = r->who->role == WD_ROLE_SUPERVISOR;

	*status = 409;
	if (strcmp(action, "reopen") == 0)
		return desk_check_reopen(r, o, msg, status);
	/* A second look at a task carried out under review-after, even done. */
	if (strcmp(action, "reviewed") == 0) {
		if (k->review != WD_REVIEW_AFTER || k->reviewed) {
			*msg = "the task is not flagged for review";
			return "not-flagged";
		}
		return NULL;
	}
	if (obj_final(o)) {
		*msg = "the task has ended";
		return "task-ended";
	}
	if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0) {
		if (o->status != OST_AWAITING_APPROVAL) {
			*msg = "the task is not awaiting approval";
			return "not-awaiting-approval";
		}
		if (k->held && !sup) {
			*msg = "the task is on hold: release it first, or a "
			    "supervisor decides";
			return "on-hold";
		}
		if (strcmp(action, "approve") == 0 &&
		    strcmp(k->first_approver, r->who->id) == 0) {
			*msg = "four eyes: another operator must approve it too";
			return "four-eyes";
		}
	} else if (strcmp(action, "hold") == 0 && k->held) {
		*msg = "the task is already on hold";
		return "on-hold";
	} else if (strcmp(action, "release") == 0) {
		if (!k->held) {
			*msg = "the task is not on hold";
			return "not-held";
		}
		if (!sup && strcmp(k->holder, r->who->id) != 0) {
			*status = 403;
			*msg = "only the task's holder or a supervisor releases it";
			return "forbidden";
		}
	} else if (strcmp(action, "assign") == 0) {
		if (desk_person(r->conf, b->operator) == NULL) {
			*status = 400;
			*msg = "operator must name a registered desk operator in force";
			return "bad-operator";
		}
		if (!sup && k->holder[0] && strcmp(k->holder, r->who->id) != 0) {
			*status = 403;
			*msg = "the task is held by another operator: a supervisor "
			    "reassigns it";
			return "forbidden";
		}
	}
	return NULL;
}

static const char *
desk_body_message(const char *code)
{
	if (strcmp(code, "bad-reference") == 0)
		return "ref must be a carrier reference";
	if (strcmp(code, "bad-task") == 0)
		return "task must be an object identifier";
	if (strcmp(code, "bad-text") == 0)
		return "the text must be 1 to 500 characters of UTF-8 without "
		    "control characters (a reason at most 255 bytes)";
	if (strcmp(code, "bad-operator") == 0)
		return "operator must name a registered desk operator";
	return "the body must be one JSON object";
}

/* A job for the action, filled from the request, the body and the task. */
static struct desk_job *
desk_job_new(struct desk *d, const struct desk_request *r, const char *action,
    const struct desk_body *b, const struct obj *o, desk_reply_cb cb,
    void *arg)
{
	struct desk_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->d = d;
	job->cb = cb;
	job->arg = arg;
	snprintf(job->action, sizeof(job->action), "%s", action);
	snprintf(job->operator_id, sizeof(job->operator_id), "%s", r->who->id);
	snprintf(job->level, sizeof(job->level), "%s", desk_level(r->who));
	snprintf(job->fp, sizeof(job->fp), "%s", r->fingerprint);
	snprintf(job->peer, sizeof(job->peer), "%s", r->peer);
	snprintf(job->owner, sizeof(job->owner), "%s", o->owner);
	snprintf(job->ref, sizeof(job->ref), "%s", o->ref);
	snprintf(job->oid, sizeof(job->oid), "%s", o->oid);
	snprintf(job->text, sizeof(job->text), "%s", b->text);
	if (strcmp(action, "assign") == 0)
		snprintf(job->assignee, sizeof(job->assignee), "%s", b->operator);
	if ((job->answer = json_pack("{s:s, s:s, s:s, s:s}", "action", action,
	    "ref", o->ref, "task", o->oid, "operator", r->who->id)) == NULL) {
		free(job);
		return NULL;
	}
	return job;
}

/* approve and reject: the lifecycle records the transition with the action. */
static void
desk_decide(struct desk *d, struct desk_job *job)
{
	struct lc_desk_decision	 dd;
	desk_reply_cb		 cb = job->cb;
	void			*arg = job->arg;
	int			 rc;

	desk_fill_record(job);
	dd.owner = job->owner;
	dd.oid = job->oid;
	dd.approve = strcmp(job->action, "approve") == 0;
	dd.reason = job->text;
	dd.operator_fp = job->fp;
	dd.peer = job->peer;
	dd.action = &job->act;
	d->pending++;
	if ((rc = lifecycle_desk_decide(d->env.lifecycle, &dd, desk_decided,
	    job)) == 0)
		return;
	d->pending--;
	json_decref(job->answer);
	free(job);
	desk_error(cb, arg, rc == LC_DESK_NOT_FOUND ? 404 : rc == LC_DESK_ERROR ?
	    503 : 409, rc == LC_DESK_BUSY ? "busy" : rc == LC_DESK_STATE ?
	    "not-awaiting-approval" : "error", rc == LC_DESK_BUSY ? "the task "
	    "is being changed; try again" : "the decision could not be recorded");
}

void
desk_action(struct desk *d, const struct desk_request *r, const char *action,
    desk_reply_cb cb, void *arg)
{
	struct desk_body	 b;
	struct desk_find	*f;
	struct desk_job		*job;
	const char		*code, *msg = "";
	int			 status;

	/* Non-simple requests only (POST, desk_routes[]): no form or
	 * text/plain post from elsewhere. */
	if (strncasecmp(r->content_type, "application/json", 16) != 0 ||
	    (r->content_type[16] != '\0' && r->content_type[16] != ';')) {
		desk_error(cb, arg, 415, "content-type",
		    "actions need Content-Type: application/json");
		return;
	}
	if ((code = desk_body_parse(action, r->body, r->len, &b)) != NULL) {
		desk_error(cb, arg, 400, code, desk_body_message(code));
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		desk_error(cb, arg, 503, "memory", "out of memory");
		return;
	}
	f->task = b.has_task ? b.task : NULL;
	f->awaiting = strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0;
	if (store_by_ref_any(d->env.store, b.ref, desk_find_visit, f) != 0) {
		code = "store", msg = "the object store cannot be read", status = 503;
	} else if (f->n != 1) {
		code = f->n == 0 ? "not-found" : "ambiguous";
		msg = f->n == 0 ? "no such task in this request" :
		    "the request has several tasks: name one with \"task\"";
		status = f->n == 0 ? 404 : 409;
	} else
		code = desk_check(action, &b, r, &f->o, &msg, &status);
	if (code != NULL) {
		free(f);
		desk_error(cb, arg, status, code, msg);
		return;
	}
	/*
	 * Four eyes: an interception's first approval is recorded on its own;
	 * only a second operator's approval carries the transition.
	 */
	bool first = strcmp(action, "approve") == 0 && r->conf->desk_four_eyes &&
	    f->o.kind == HI1_OBJ_LITASK && f->o.u.task.desk.first_approver[0] == '\0';
	job = desk_job_new(d, r, first ? "approve-first" : action, &b, &f->o, cb,
	    arg);
	free(f);
	if (job == NULL)
		desk_error(cb, arg, 503, "memory", "out of memory");
	else if (first) {
		json_object_set_new(job->answer, "second_approval_needed",
		    json_true());
		desk_journal(job);
	} else if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0)
		desk_decide(d, job);
	else
		desk_journal(job);
}
