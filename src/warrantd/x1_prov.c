/*
 * x1_prov — the ADMF: provisioning, deprovisioning and reconciliation of
 * interceptions at network elements over X1 (include/x1_prov.h says the
 * rules, docs/x1.md the why).
 *
 * A job is what is wanted of one XID (active or not) at the elements it
 * concerns; each element's part of it moves on its own (a destination
 * first, then the task; a refusal checked with GetTaskDetails) and the job
 * reports once every part has settled. Jobs live only while work is under
 * way: the object store says what must be active, the elements what is,
 * and the reconciliation compares the two; nothing here needs to survive
 * a restart.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "conf.h"
#include "hi1.h"
#include "journal.h"
#include "log.h"
#include "x1.h"
#include "x1_client.h"
#include "x1_prov.h"

#define X1P_NE_MAX		32	/* elements one task can concern */
#define X1P_PAUSE_MS		2000	/* first pause after a failed exchange */
#define X1P_PAUSE_MAX_MS	300000
#define X1P_DETAIL_LEN		1024
#define X1P_PING_S		60	/* keep-alive when nothing else is sent */

enum x1p_state { XS_UNKNOWN = 0, XS_ACTIVE, XS_GONE, XS_REFUSED };
enum x1p_breaker { XB_CLOSED = 0, XB_OPEN, XB_HALF_OPEN };

struct x1p_ne {
	struct x1prov		*p;
	char			 name[X1_ID_LEN + 1];
	bool			 serves[WD_NE__COUNT];
	struct x1_dest		 dest;
	bool			 dest_ok;	/* created or seen at the element */
	bool			 dest_busy;	/* a CreateDestination under way */
	struct x1c		*c;
	unsigned		 reconcile_s;
	struct event		*tick;		/* next reconciliation */
	bool			 reconciling;
	/* XIDs whose exchanges ended while a GetAllDetails was on its way:
	   its answer may predate them, so they are not judged from it. */
	char			(*touched)[X1_UUID_LEN + 1];
	size_t			 ntouched, maxtouched;
	struct event		*ping;		/* keep-alive */
	bool			 pinging;
	bool			 known, up;	/* health, from the last exchange */
	char			 why[160];	/* ... when down */
	/*
	 * The circuit breaker, as the back ends have (src/warrantd/backend.c): after
	 * breaker_failures exchanges in a row without an answer nothing is
	 * sent for breaker_open_ms; then one Ping probes. Parts that would
	 * send meanwhile are parked, never dropped, and move when it closes.
	 */
	enum x1p_breaker	 breaker;
	unsigned		 consecutive;	/* exchanges without an answer */
	unsigned		 breaker_failures, breaker_open_ms;
	struct event		*reopen;	/* the end of the pause */
};

struct x1p_job;

/* One element's part of a job. */
struct x1p_at {
	struct x1p_job		*job;
	struct x1p_ne		*ne;
	enum x1p_state		 st;
	struct x1_task		 task;		/* the targets this element serves */
	bool			 inflight;
	enum x1_op		 op;		/* the exchange under way */
	unsigned		 failures;	/* exchanges without an answer */
	struct event		*retry;
	char			 refusal[X1_TEXT_LEN + X1_ID_LEN + 96];
	bool			 deact_refused;	/* DeactivateTask got an error */
	bool			 parked;	/* waits for the breaker to close */
};

struct x1p_job {
	TAILQ_ENTRY(x1p_job)	 entry;
	struct x1prov		*p;
	char			 owner[HI1_ID_LEN + 1];
	char			 oid[HI1_UUID_LEN + 1];
	char			 ref[64];
	char			 xid[X1_UUID_LEN + 1];
	bool			 want_active;
	bool			 report;	/* the lifecycle waits for an outcome */
	struct x1p_at		 at[X1P_NE_MAX];
	size_t			 nat;
};
TAILQ_HEAD(x1p_jobs, x1p_job);

struct x1prov {
	struct event_base	*base;
	struct journal		*journal;
	struct x1p_ne		*nes;
	size_t			 nne;
	struct x1p_jobs		 jobs;
	TAILQ_HEAD(, x1p_report) reports;	/* outcomes not yet delivered */
	x1prov_each_fn		 each;
	void			*src;
	x1prov_cb		 cb;
	void			*cbarg;
	bool			 started, stopping, freeing;
};

static void	x1p_step(struct x1p_at *);
static void	x1p_settle(struct x1p_job *);
static void	x1p_reopencb(evutil_socket_t, short, void *);
static void	x1p_reconcile_ne(struct x1p_ne *);

/* ---- small things ------------------------------------------------------------- */

void
x1prov_xid(const char *owner, const char *oid, char out[37])
{
	x1_derive_uuid("warrantd x1 xid", owner, oid, out);
}

/*
 * Elements' words go to the journal and to the authority: a run that
 * looks like an identifier (7 or more of digits, hex letters, '.' and ':'
 * with at least 4 digits) is masked, in case an element quotes a target.
 */
static void
x1p_mask(char *s)
{
	for (char *p = s; *p != '\0'; ) {
		size_t	 n = strspn(p, "0123456789abcdefABCDEF.:");
		size_t	 digits = 0;

		for (size_t i = 0; i < n; i++)
			digits += isdigit((unsigned char)p[i]) != 0;
		if (n >= 7 && digits >= 4)
			memset(p, '#', n);
		p += n ? n : 1;
	}
}

static void
x1p_journaled(int status, const struct journal_receipt *r, void *arg)
{
	(void)r;
	(void)arg;
	if (status != 0)
		log_warnx("x1: a journal record was not written (error %d)",
		    status);
}

static void
x1p_record(struct x1prov *p, int event, const char *owner, const char *ref,
    const char *oid, const char *detail)
{
	Warrant__Record	 rec = WARRANT__RECORD__INIT;
	char		*objs[1];

	rec.event = event;
	rec.authority_id = (char *)(owner ? owner : "");
	rec.carrier_ref = (char *)(ref ? ref : "");
	rec.detail = (char *)detail;
	if (oid != NULL && oid[0] != '\0') {
		objs[0] = (char *)oid;
		rec.objects = objs;
		rec.n_objects = 1;
	}
	if (journal_append(p->journal, &rec, x1p_journaled, NULL) == -1)
		log_warnx("x1: journal cannot take a record now: %s", detail);
}

/* One EVENT_X1_EXCHANGE: element, operation, XID, transactions, outcome. */
static void
x1p_record_exchange(struct x1prov *p, const struct x1p_job *job,
    const char *ne, enum x1_op op, const char *id,
    const struct x1c_result *res)
{
	char	 d[X1P_DETAIL_LEN], why[X1_TEXT_LEN + 96];
	size_t	 k;

	k = (size_t)snprintf(d, sizeof(d), "ne=%s op=%s%s%s transactions=", ne,
	    x1_op_name(op), id ? (op == X1_CREATE_DESTINATION ||
	    op == X1_GET_DESTINATION ? " did=" : " xid=") : "", id ? id : "");
	for (size_t i = 0; i < res->ntxids && k < sizeof(d); i++)
		k += (size_t)snprintf(d + k, sizeof(d) - k, "%s%s", i ? "," : "",
		    res->txids[i]);
	if (!res->answered)
		snprintf(why, sizeof(why), "no answer: %s", res->why);
	else if (res->answer->error)
		snprintf(why, sizeof(why), "error %ld: %s", res->answer->code,
		    res->answer->text);
	else
		snprintf(why, sizeof(why), "acknowledged");
	x1p_mask(why);
	if (k < sizeof(d))
		snprintf(d + k, sizeof(d) - k, " outcome=%s", why);
	x1p_record(p, WARRANT__EVENT_TYPE__EVENT_X1_EXCHANGE,
	    job ? job->owner : "", job ? job->ref : "", job ? job->oid : "", d);
}

/* ---- element health ------------------------------------------------------------- */

static void
x1p_touch(struct x1p_ne *ne, const char *xid)
{
	void *v;

	if (!ne->reconciling)
		return;
	if (ne->ntouched == ne->maxtouched) {
		size_t n = ne->maxtouched ? ne->maxtouched * 2 : 16;

		if ((v = reallocarray(ne->touched, n,
		    sizeof(*ne->touched))) == NULL) {
			/* Cannot remember: judge nothing from this answer. */
			ne->ntouched = SIZE_MAX;
			return;
		}
		ne->touched = v;
		ne->maxtouched = n;
	}
	if (ne->ntouched != SIZE_MAX)
		snprintf(ne->touched[ne->ntouched++], X1_UUID_LEN + 1, "%s", xid);
}

static bool
x1p_touched(const struct x1p_ne *ne, const char *xid)
{
	if (ne->ntouched == SIZE_MAX)
		return true;
	for (size_t i = 0; i < ne->ntouched; i++)
		if (strcmp(ne->touched[i], xid) == 0)
			return true;
	return false;
}

static void	x1p_breaker_result(struct x1p_ne *, bool);

/* Every exchange says whether the element answers; changes are logged. */
static void
x1p_health(struct x1p_ne *ne, const struct x1c_result *res)
{
	bool up = res->answered;

	x1p_breaker_result(ne, up);

	if (!up)
		snprintf(ne->why, sizeof(ne->why), "%s", res->why);
	if (ne->known && ne->up == up)
		return;
	if (up)
		log_info("x1 %s: the element answers%s", ne->name,
		    ne->known ? " again" : "");
	else
		log_warnx("x1 %s: the element does not answer: %s", ne->name,
		    ne->why);
	ne->known = true;
	ne->up = up;
}

static void
x1p_pinged(const struct x1c_result *res, void *arg)
{
	struct x1p_ne *ne = arg;

	bool was_open = ne->breaker != XB_CLOSED;

	ne->pinging = false;
	if (ne->p->freeing)
		return;
	x1p_health(ne, res);
	/* Back after an outage: it may have lost (or kept) what it held. */
	if (was_open && ne->breaker == XB_CLOSED)
		x1p_reconcile_ne(ne);
}

static void
x1p_pingcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1p_ne	*ne = arg;
	struct x1_msg	 m = { 0 };

	(void)fd;
	(void)what;
	/* While the breaker is open its own probe is the only Ping. */
	if (ne->pinging || ne->p->stopping || ne->breaker == XB_OPEN)
		return;
	m.op = X1_PING;
	ne->pinging = true;
	if (x1c_send(ne->c, &m, "", x1p_pinged, ne) == -1)
		ne->pinging = false;
}

/* ---- jobs --------------------------------------------------------------------- */

static struct x1p_job *
x1p_find(const struct x1prov *p, const char *xid)
{
	struct x1p_job *j;

	TAILQ_FOREACH(j, &p->jobs, entry)
		if (strcmp(j->xid, xid) == 0)
			return j;
	return NULL;
}

static bool
x1p_busy(const struct x1p_job *j)
{
	for (size_t i = 0; i < j->nat; i++)
		if (j->at[i].inflight || j->at[i].retry != NULL)
			return true;
	return false;
}

static void
x1p_job_free(struct x1p_job *j)
{
	TAILQ_REMOVE(&j->p->jobs, j, entry);
	for (size_t i = 0; i < j->nat; i++)
		if (j->at[i].retry != NULL)
			event_free(j->at[i].retry);
	free(j);
}

static struct x1p_job *
x1p_job_new(struct x1prov *p, const char *owner, const char *oid,
    const char *ref, const char *xid)
{
	struct x1p_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_warn("x1");
		return NULL;
	}
	j->p = p;
	snprintf(j->owner, sizeof(j->owner), "%s", owner ? owner : "");
	snprintf(j->oid, sizeof(j->oid), "%s", oid ? oid : "");
	snprintf(j->ref, sizeof(j->ref), "%s", ref ? ref : "");
	snprintf(j->xid, sizeof(j->xid), "%s", xid);
	TAILQ_INSERT_TAIL(&p->jobs, j, entry);
	return j;
}

static struct x1p_at *
x1p_job_at(struct x1p_job *j, struct x1p_ne *ne)
{
	for (size_t i = 0; i < j->nat; i++)
		if (j->at[i].ne == ne)
			return &j->at[i];
	if (j->nat == X1P_NE_MAX)
		return NULL;
	memset(&j->at[j->nat], 0, sizeof(j->at[0]));
	j->at[j->nat].job = j;
	j->at[j->nat].ne = ne;
	snprintf(j->at[j->nat].task.xid, sizeof(j->at[0].task.xid), "%s",
	    j->xid);
	return &j->at[j->nat++];
}

/* The lifecycle hears once; deferred to the loop, never inside a call. */
struct x1p_report {
	TAILQ_ENTRY(x1p_report)	 entry;
	struct event	*ev;
	struct x1prov	*p;
	char		 owner[HI1_ID_LEN + 1];
	char		 oid[HI1_UUID_LEN + 1];
	bool		 ok;
	enum wd_reason	 reason;
	char		 text[X1_TEXT_LEN + X1_ID_LEN + 160];
};

static void
x1p_reportcb(evutil_socket_t fd, short what, void *arg)
{
	struct x1p_report *r = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&r->p->reports, r, entry);
	event_free(r->ev);
	if (!r->p->stopping && r->p->cb != NULL)
		r->p->cb(r->owner, r->oid, r->ok, r->reason, r->text,
		    r->p->cbarg);
	free(r);
}

static void
x1p_report(struct x1p_job *j, bool ok, enum wd_reason reason,
    const char *text)
{
	struct x1p_report	*r;

	if (!j->report || j->oid[0] == '\0')
		return;
	j->report = false;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("x1");
		return;
	}
	r->p = j->p;
	snprintf(r->owner, sizeof(r->owner), "%s", j->owner);
	snprintf(r->oid, sizeof(r->oid), "%s", j->oid);
	r->ok = ok;
	r->reason = reason;
	snprintf(r->text, sizeof(r->text), "%s", text ? text : "");
	if ((r->ev = event_new(j->p->base, -1, 0, x1p_reportcb, r)) == NULL) {
		/* The next start's open work asks again. */
		log_warnx("x1: cannot report the outcome of %s", j->oid);
		free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&j->p->reports, r, entry);
	event_active(r->ev, EV_TIMEOUT, 0);
}

/*
 * Everything settled? A refusal turns the job into a rollback (and is
 * reported); all acknowledged is reported; a job with nothing left to do
 * is dropped.
 */
static void
x1p_settle(struct x1p_job *j)
{
	bool	 all = true, refused = false;
	char	 text[X1_TEXT_LEN + X1_ID_LEN + 160];

	for (size_t i = 0; i < j->nat; i++) {
		if (j->at[i].st == XS_REFUSED && j->want_active && !refused) {
			refused = true;
			snprintf(text, sizeof(text), "%s", j->at[i].refusal);
		}
		all &= j->at[i].st == (j->want_active ? XS_ACTIVE : XS_GONE);
	}
	if (refused) {
		log_warnx("x1: task %s (xid %s): %s; rolling back at every "
		    "element", j->oid, j->xid, text);
		j->want_active = false;
		x1p_report(j, false, WD_REASON_NE_REFUSED, text);
		for (size_t i = 0; i < j->nat; i++) {
			if (j->at[i].st == XS_REFUSED)
				j->at[i].st = XS_UNKNOWN;
			x1p_step(&j->at[i]);
		}
		return;
	}
	if (!all || x1p_busy(j))
		return;
	if (j->want_active) {
		log_info("x1: task %s (xid %s) active at %zu element%s", j->oid,
		    j->xid, j->nat, j->nat == 1 ? "" : "s");
		x1p_report(j, true, WD_REASON_NONE, "");
	} else
		log_info("x1: xid %s deactivated at %zu element%s", j->xid,
		    j->nat, j->nat == 1 ? "" : "s");
	x1p_job_free(j);
}

/* ---- exchanges ---------------------------------------------------------------- */

static void	x1p_answered(const struct x1c_result *, void *);
static void	x1p_later(struct x1p_at *, const char *);

static void
x1p_send(struct x1p_at *at, enum x1_op op)
{
	struct x1_msg	 m = { 0 };
	const char	*key = at->job->xid;

	m.op = op;
	switch (op) {
	case X1_CREATE_DESTINATION:
		m.dest = &at->ne->dest;
		key = at->ne->dest.did;
		at->ne->dest_busy = true;
		break;
	case X1_GET_DESTINATION:
		m.id = at->ne->dest.did;
		key = at->ne->dest.did;
		break;
	case X1_ACTIVATE:
		snprintf(at->task.did, sizeof(at->task.did), "%s",
		    at->ne->dest.did);
		m.task = &at->task;
		break;
	default:
		m.id = at->job->xid;
		break;
	}
	at->op = op;
	at->inflight = true;
	if (x1c_send(at->ne->c, &m, key, x1p_answered, at) == -1) {
		at->inflight = false;
		if (op == X1_CREATE_DESTINATION)
			at->ne->dest_busy = false;
		/* Out of memory: never left hanging, tried again later. */
		x1p_later(at, "the request could not be queued");
	}
}

static void
x1p_retrycb(evutil_socket_t fd, short what, void *arg)
{
	struct x1p_at *at = arg;

	(void)fd;
	(void)what;
	event_free(at->retry);
	at->retry = NULL;
	x1p_step(at);
}

/* No answer: again after a pause, as long as it takes. */
static void
x1p_later(struct x1p_at *at, const char *why)
{
	struct timeval	 tv;
	uint32_t	 jitter = 0;
	int64_t		 ms = X1P_PAUSE_MS;

	at->failures++;
	for (unsigned i = 1; i < at->failures && ms < X1P_PAUSE_MAX_MS; i++)
		ms *= 2;
	if (ms > X1P_PAUSE_MAX_MS)
		ms = X1P_PAUSE_MAX_MS;
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	ms = ms * 3 / 4 + (int64_t)(jitter % (uint32_t)(ms / 2 + 1));
	if (at->job->want_active)
		log_warnx("x1 %s: task %s (xid %s) not provisioned yet, trying "
		    "again in %lld ms: %s", at->ne->name, at->job->oid,
		    at->job->xid, (long long)ms, why);
	else
		log_warnx("CRITICAL: x1 %s: xid %s is still active at the "
		    "element and could not be deactivated (attempt %u), trying "
		    "again in %lld ms: %s", at->ne->name, at->job->xid,
		    at->failures, (long long)ms, why);
	if (at->job->p->stopping || at->job->p->freeing)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((at->retry = evtimer_new(at->job->p->base, x1p_retrycb,
	    at)) == NULL || evtimer_add(at->retry, &tv) == -1)
		log_warnx("x1: cannot schedule a retry for xid %s",
		    at->job->xid);
}

/* What to send next for this element's part, if anything. */
static void
x1p_step(struct x1p_at *at)
{
	struct x1prov *p = at->job->p;

	if (at->inflight || at->retry != NULL || p->stopping || p->freeing)
		return;
	if (at->ne->breaker != XB_CLOSED) {
		at->parked = true;	/* x1p_breaker_close moves it */
		return;
	}
	if (at->job->want_active) {
		if (at->st == XS_ACTIVE || at->st == XS_REFUSED)
			return;
		if (at->ne->dest_ok)
			x1p_send(at, X1_ACTIVATE);
		else if (!at->ne->dest_busy)
			x1p_send(at, X1_CREATE_DESTINATION);
		/* else: parked until the destination is settled. */
	} else if (at->st != XS_GONE)
		x1p_send(at, X1_DEACTIVATE);
}

/* The destination is settled at ne: every part parked on it moves. */
static void
x1p_dest_settled(struct x1p_ne *ne)
{
	struct x1p_job	*j, *next;

	ne->dest_busy = false;
	for (j = TAILQ_FIRST(&ne->p->jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		for (size_t i = 0; i < j->nat; i++)
			if (j->at[i].ne == ne)
				x1p_step(&j->at[i]);
	}
}

static void
x1p_refuse(struct x1p_at *at, const char *op, const struct x1_answer *a)
{
	at->st = XS_REFUSED;
	snprintf(at->refusal, sizeof(at->refusal), "network element %s "
	    "refused %s: error %ld: %s", at->ne->name, op, a->code, a->text);
	x1p_mask(at->refusal);
}

/* An answer (possibly an ErrorResponse) to what at sent. */
static void
x1p_answer(struct x1p_at *at, const struct x1_answer *a)
{
	struct x1p_ne *ne = at->ne;
	bool held;

	switch (at->op) {
	case X1_CREATE_DESTINATION:
		if (!a->error) {
			ne->dest_ok = true;
			x1p_dest_settled(ne);
		} else {
			/* Already there (a restart)? Ask before refusing. */
			x1p_refuse(at, "CreateDestination", a);
			at->st = XS_UNKNOWN;
			x1p_send(at, X1_GET_DESTINATION);
		}
		return;
	case X1_GET_DESTINATION:
		if (!a->error)
			ne->dest_ok = true;
		else
			at->st = XS_REFUSED;	/* the refusal said above */
		x1p_dest_settled(ne);
		return;
	case X1_ACTIVATE:
		if (!a->error)
			at->st = XS_ACTIVE;
		else {
			/* Held already (a retry, a restart)? Then it is done. */
			x1p_refuse(at, "ActivateTask", a);
			at->st = XS_UNKNOWN;
			x1p_send(at, X1_GET_TASK);
		}
		return;
	case X1_DEACTIVATE:
		if (!a->error)
			at->st = XS_GONE;
		else {
			at->deact_refused = true;
			x1p_send(at, X1_GET_TASK);	/* gone already? */
		}
		return;
	case X1_GET_TASK:
		held = !a->error && a->nheld == 1;
		if (at->job->want_active)
			at->st = held && !a->held[0].failed ? XS_ACTIVE :
			    XS_REFUSED;
		else if (!held)
			at->st = XS_GONE;
		else if (at->deact_refused) {
			/* Held, and DeactivateTask refused: insist, slowly. */
			at->st = XS_UNKNOWN;
			x1p_later(at, "the element refuses to deactivate it");
		} else
			at->st = XS_UNKNOWN;	/* step sends DeactivateTask */
		at->deact_refused = false;
		return;
	default:
		return;
	}
}

static void
x1p_answered(const struct x1c_result *res, void *arg)
{
	struct x1p_at	*at = arg;
	struct x1p_job	*j = at->job;
	struct x1prov	*p = j->p;
	const char	*id = at->op == X1_CREATE_DESTINATION ||
	    at->op == X1_GET_DESTINATION ? at->ne->dest.did : j->xid;

	at->inflight = false;
	if (p->freeing)		/* no answer, and nothing more will be sent */
		return;
	x1p_health(at->ne, res);
	x1p_touch(at->ne, j->xid);
	x1p_record_exchange(p, j, at->ne->name, at->op, id, res);
	if (!res->answered) {
		if (at->op == X1_CREATE_DESTINATION)
			at->ne->dest_busy = false;
		x1p_later(at, res->why);
		if (at->op == X1_CREATE_DESTINATION)
			x1p_dest_settled(at->ne);
		return;
	}
	at->failures = 0;
	x1p_answer(at, res->answer);
	x1p_step(at);
	x1p_settle(j);
}

/* ---- the circuit breaker --------------------------------------------------- */

static const char *
x1p_breaker_name(enum x1p_breaker b)
{
	return b == XB_OPEN ? "open" : b == XB_HALF_OPEN ? "half-open" :
	    "closed";
}

/* Deactivations at ne not confirmed yet: what the breaker holds back. */
static unsigned
x1p_pending_deact(const struct x1p_ne *ne)
{
	const struct x1p_job	*j;
	unsigned		 n = 0;

	TAILQ_FOREACH(j, &ne->p->jobs, entry)
		for (size_t i = 0; i < j->nat; i++)
			n += j->at[i].ne == ne && !j->want_active &&
			    j->at[i].st != XS_GONE;
	return n;
}

/* Opened and closed are journaled: an auditor sees why nothing was sent. */
static void
x1p_breaker_record(struct x1p_ne *ne, const char *what)
{
	char d[X1P_DETAIL_LEN];

	snprintf(d, sizeof(d), "ne=%s breaker=%s %s", ne->name,
	    x1p_breaker_name(ne->breaker), what);
	x1p_record(ne->p, WARRANT__EVENT_TYPE__EVENT_X1_BREAKER, "", "", "", d);
}

static void
x1p_breaker_open(struct x1p_ne *ne)
{
	struct timeval	 tv;
	unsigned	 pending = x1p_pending_deact(ne);
	bool		 again = ne->breaker == XB_HALF_OPEN;
	char		 what[160];

	ne->breaker = XB_OPEN;
	snprintf(what, sizeof(what), "after %u exchanges without an answer%s: "
	    "nothing is sent for %u ms, then one Ping probes; %u deactivation%s "
	    "pending", ne->consecutive, again ? " (the probe failed)" : "",
	    ne->breaker_open_ms, pending, pending == 1 ? "" : "s");
	if (pending > 0)
		log_warnx("CRITICAL: x1 %s: breaker open %s", ne->name, what);
	else
		log_warnx("x1 %s: breaker open %s", ne->name, what);
	/* A failed probe is a Ping: logged, but it changes nothing to journal. */
	if (!again)
		x1p_breaker_record(ne, what);
	tv.tv_sec = ne->breaker_open_ms / 1000;
	tv.tv_usec = (ne->breaker_open_ms % 1000) * 1000;
	if (evtimer_add(ne->reopen, &tv) == -1) {
		/* Never stuck open: without a timer, probe with the next part. */
		log_warnx("x1 %s: cannot time the breaker; half-open now",
		    ne->name);
		ne->breaker = XB_HALF_OPEN;
	}
}

/* The pause is over: one Ping probes; its outcome opens or closes. */
static void
x1p_reopencb(evutil_socket_t fd, short what, void *arg)
{
	struct x1p_ne	*ne = arg;
	struct x1_msg	 m = { 0 };

	(void)fd;
	(void)what;
	if (ne->p->stopping || ne->breaker != XB_OPEN)
		return;
	ne->breaker = XB_HALF_OPEN;
	log_info("x1 %s: breaker half-open: a Ping probes", ne->name);
	if (ne->pinging)
		return;		/* its answer is the probe */
	m.op = X1_PING;
	ne->pinging = true;
	if (x1c_send(ne->c, &m, "", x1p_pinged, ne) == -1) {
		ne->pinging = false;
		ne->consecutive++;
		x1p_breaker_open(ne);
	}
}

/* Every part parked on the breaker moves again. */
static void
x1p_breaker_close(struct x1p_ne *ne)
{
	struct x1p_job	*j, *next;
	unsigned	 pending = x1p_pending_deact(ne);
	char		 what[96];

	ne->breaker = XB_CLOSED;
	event_del(ne->reopen);
	snprintf(what, sizeof(what), "the element answers again; %u "
	    "deactivation%s pending", pending, pending == 1 ? "" : "s");
	log_info("x1 %s: breaker closed: %s", ne->name, what);
	x1p_breaker_record(ne, what);
	for (j = TAILQ_FIRST(&ne->p->jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		for (size_t i = 0; i < j->nat; i++)
			if (j->at[i].ne == ne && j->at[i].parked) {
				j->at[i].parked = false;
				x1p_step(&j->at[i]);
			}
	}
}

/* Each exchange's outcome, whatever sent it (parts, pings, reconciliation). */
static void
x1p_breaker_result(struct x1p_ne *ne, bool answered)
{
	if (answered) {
		ne->consecutive = 0;
		if (ne->breaker != XB_CLOSED && !ne->p->stopping)
			x1p_breaker_close(ne);
		return;
	}
	ne->consecutive++;
	if (ne->p->stopping)
		return;
	if (ne->breaker == XB_HALF_OPEN || (ne->breaker == XB_CLOSED &&
	    ne->consecutive >= ne->breaker_failures))
		x1p_breaker_open(ne);
}

/* ---- what the lifecycle asks -------------------------------------------------- */

/*
 * The parts of t's job: every element serving one of its targets' types,
 * with the targets it serves. 0, or -1 with why (a type nobody serves).
 */
static int
x1p_plan(struct x1prov *p, struct x1p_job *j, const struct x1prov_task *t,
    char *why, size_t len)
{
	struct x1_target	 tg[X1_MAX_TARGETS];
	size_t			 n = 0;

	for (size_t i = 0; i < t->nids && n < X1_MAX_TARGETS; i++) {
		bool served = false;

		if (x1_target_from(&t->ids[i], &tg[n]) == -1) {
			snprintf(why, len, "identifier %zu (%s) has no X1 form",
			    i + 1, wd_idtype_name(t->ids[i].type));
			return -1;
		}
		for (size_t k = 0; k < p->nne; k++)
			served |= p->nes[k].serves[tg[n].type];
		if (!served) {
			snprintf(why, len, "no network element intercepts "
			    "targets of type %s", conf_ne_target_name(tg[n].type));
			return -1;
		}
		n++;
	}
	for (size_t k = 0; k < p->nne; k++) {
		struct x1p_at *at = NULL;

		for (size_t i = 0; i < n; i++) {
			if (!p->nes[k].serves[tg[i].type])
				continue;
			if (at == NULL && (at = x1p_job_at(j, &p->nes[k])) == NULL) {
				snprintf(why, len, "more than %d elements",
				    X1P_NE_MAX);
				return -1;
			}
			at->task.ntargets = 0;	/* filled below, once */
		}
		if (at == NULL)
			continue;
		at->task.delivery = x1_delivery_type(t->delivery_type);
		for (size_t i = 0; i < n; i++)
			if (p->nes[k].serves[tg[i].type])
				at->task.targets[at->task.ntargets++] = tg[i];
	}
	return 0;
}

void
x1prov_activate(struct x1prov *p, const struct x1prov_task *t)
{
	struct x1p_job	*j;
	char		 xid[X1_UUID_LEN + 1], why[160];

	if (p == NULL || p->stopping)
		return;
	x1prov_xid(t->owner, t->oid, xid);
	if ((j = x1p_find(p, xid)) != NULL) {
		/* Under way; a rollback is never turned back into activation. */
		return;
	}
	if ((j = x1p_job_new(p, t->owner, t->oid, t->ref, xid)) == NULL)
		return;
	j->want_active = true;
	j->report = true;
	if (x1p_plan(p, j, t, why, sizeof(why)) == -1) {
		log_warnx("x1: task %s cannot be provisioned: %s", t->oid, why);
		x1p_report(j, false, WD_REASON_NE_UNSERVED, why);
		x1p_job_free(j);
		return;
	}
	log_info("x1: task %s (xid %s): provisioning at %zu element%s", t->oid,
	    xid, j->nat, j->nat == 1 ? "" : "s");
	for (size_t i = 0; i < j->nat; i++)
		x1p_step(&j->at[i]);
}

void
x1prov_deactivate(struct x1prov *p, const struct x1prov_task *t)
{
	struct x1p_job	*j;
	char		 xid[X1_UUID_LEN + 1], why[160];

	if (p == NULL || p->stopping)
		return;
	x1prov_xid(t->owner, t->oid, xid);
	if ((j = x1p_find(p, xid)) == NULL) {
		if ((j = x1p_job_new(p, t->owner, t->oid, t->ref, xid)) == NULL)
			return;
	} else if (!j->want_active)
		return;		/* already being removed */
	/* A job under way becomes a removal, at every element concerned;
	   the order behind it has ended, so no outcome is owed. */
	j->want_active = false;
	j->report = false;
	if (x1p_plan(p, j, t, why, sizeof(why)) == -1 && j->nat == 0) {
		x1p_job_free(j);	/* provisioned nowhere */
		return;
	}
	for (size_t i = 0; i < j->nat; i++) {
		if (j->at[i].st != XS_GONE)
			j->at[i].st = XS_UNKNOWN;
		x1p_step(&j->at[i]);
	}
	x1p_settle(j);
}

/* ---- reconciliation --------------------------------------------------------- */

struct x1p_rec {
	struct x1p_ne		*ne;
	const struct x1_answer	*a;
	bool			*seen;
	size_t			 missing, tolerated;
};

static void
x1p_difference(struct x1prov *p, const struct x1p_ne *ne, const char *owner,
    const char *ref, const char *oid, const char *xid, const char *what)
{
	char d[X1P_DETAIL_LEN];

	snprintf(d, sizeof(d), "ne=%s xid=%s %s", ne->name, xid, what);
	log_warnx("CRITICAL: x1 %s: xid %s %s", ne->name, xid, what);
	x1p_record(p, WARRANT__EVENT_TYPE__EVENT_X1_DIFFERENCE, owner, ref, oid,
	    d);
}

static int
x1p_held_cmp(const void *key, const void *h)
{
	return strcmp(key, ((const struct x1_held *)h)->xid);
}

/* One open task: is it at ne as it should be? */
static int
x1p_rec_task(const struct x1prov_task *t, bool active, void *arg)
{
	struct x1p_rec	*r = arg;
	struct x1prov	*p = r->ne->p;
	struct x1p_job	*j;
	struct x1p_at	*at;
	const struct x1_held *h;
	char		 xid[X1_UUID_LEN + 1], why[160];
	bool		 held = false, serves = false;

	for (size_t i = 0; i < t->nids; i++) {
		struct x1_target tg;

		if (x1_target_from(&t->ids[i], &tg) == 0 &&
		    r->ne->serves[tg.type])
			serves = true;
	}
	if (!serves)
		return 0;
	x1prov_xid(t->owner, t->oid, xid);
	if (r->a->nheld > 0 && (h = bsearch(xid, r->a->held, r->a->nheld,
	    sizeof(*h), x1p_held_cmp)) != NULL) {
		r->seen[h - r->a->held] = true;
		held = !h->failed;
	}
	if (held || !active || x1p_find(p, xid) != NULL ||
	    x1p_touched(r->ne, xid)) {
		r->tolerated += !active;
		return 0;
	}
	/* Active in the orders, absent at the element: provision it again. */
	r->missing++;
	x1p_difference(p, r->ne, t->owner, t->ref, t->oid, xid, "is missing "
	    "at the element although its order is open: provisioning it "
	    "again");
	if ((j = x1p_job_new(p, t->owner, t->oid, t->ref, xid)) == NULL)
		return 0;
	j->want_active = true;
	j->report = true;
	if (x1p_plan(p, j, t, why, sizeof(why)) == -1 ||
	    (at = x1p_job_at(j, r->ne)) == NULL) {
		x1p_job_free(j);
		return 0;
	}
	/* Only this element: the others answered for themselves. */
	j->at[0] = *at;
	j->at[0].job = j;
	j->nat = 1;
	x1p_step(&j->at[0]);
	return 0;
}

static void
x1p_reconciled(const struct x1c_result *res, void *arg)
{
	struct x1p_ne	*ne = arg;
	struct x1prov	*p = ne->p;
	struct x1p_rec	 r = { ne, NULL, NULL, 0, 0 };
	size_t		 rogue = 0;

	ne->reconciling = false;
	if (p->freeing)
		return;
	x1p_health(ne, res);
	x1p_record_exchange(p, NULL, ne->name, X1_GET_ALL, NULL, res);
	if (p->stopping)
		return;
	if (!res->answered || res->answer->error || p->each == NULL) {
		log_warnx("x1 %s: reconciliation not done: %s", ne->name,
		    !res->answered ? res->why : res->answer->error ?
		    res->answer->text : "nothing to compare with");
		return;
	}
	r.a = res->answer;
	for (size_t i = 0; i < r.a->ndids; i++)
		if (strcmp(r.a->dids[i], ne->dest.did) == 0)
			ne->dest_ok = true;
	if ((r.seen = calloc(r.a->nheld + 1, sizeof(bool))) == NULL ||
	    p->each(p->src, x1p_rec_task, &r) == -1) {
		log_warnx("x1 %s: reconciliation: the orders cannot be read",
		    ne->name);
		free(r.seen);
		return;
	}
	for (size_t i = 0; i < r.a->nheld; i++) {
		const char	*xid = r.a->held[i].xid;
		struct x1p_job	*j;
		struct x1p_at	*at;

		if (r.seen[i] || x1p_find(p, xid) != NULL ||
		    x1p_touched(ne, xid))
			continue;
		/* Held without an open order behind it: remove it. */
		rogue++;
		x1p_difference(p, ne, "", "", "", xid, "is held by the element "
		    "without an open order (unknown or ended): deactivating it");
		if ((j = x1p_job_new(p, "", "", "", xid)) == NULL ||
		    (at = x1p_job_at(j, ne)) == NULL) {
			if (j != NULL)
				x1p_job_free(j);
			continue;
		}
		x1p_step(at);
	}
	free(r.seen);
	log_info("x1 %s: reconciled: %zu task%s held, %zu missing, %zu without "
	    "an order, %zu being provisioned", ne->name, r.a->nheld,
	    r.a->nheld == 1 ? "" : "s", r.missing, rogue, r.tolerated);
}

static void
x1p_reconcile_ne(struct x1p_ne *ne)
{
	struct x1_msg m = { 0 };

	if (ne->reconciling || ne->p->stopping)
		return;
	if (ne->breaker != XB_CLOSED) {
		log_warnx("x1 %s: reconciliation put off: the breaker is %s",
		    ne->name, ne->breaker == XB_OPEN ? "open" : "half-open");
		return;
	}
	m.op = X1_GET_ALL;
	ne->reconciling = true;
	ne->ntouched = 0;
	if (x1c_send(ne->c, &m, "", x1p_reconciled, ne) == -1) {
		ne->reconciling = false;
		log_warnx("x1 %s: GetAllDetails cannot be sent", ne->name);
	}
}

static void
x1p_tickcb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	x1p_reconcile_ne(arg);
}

void
x1prov_reconcile(struct x1prov *p)
{
	for (size_t i = 0; p != NULL && i < p->nne; i++)
		x1p_reconcile_ne(&p->nes[i]);
}

/* ---- life ---------------------------------------------------------------------- */

static int
x1p_ne_init(struct x1prov *p, struct x1p_ne *ne, const struct wd_ne *c,
    const char *admf)
{
	ne->p = p;
	snprintf(ne->name, sizeof(ne->name), "%s", c->name);
	memcpy(ne->serves, c->serves, sizeof(ne->serves));
	x1_derive_uuid("warrantd x1 did", c->name, c->dest_addr, ne->dest.did);
	snprintf(ne->dest.addr, sizeof(ne->dest.addr), "%s", c->dest_addr);
	ne->dest.v6 = c->dest_v6;
	ne->dest.port = c->dest_port;
	ne->reconcile_s = c->reconcile_s;
	ne->breaker_failures = c->breaker_failures ? c->breaker_failures : 5;
	ne->breaker_open_ms = c->breaker_open_ms ? c->breaker_open_ms : 30000;
	if ((ne->c = x1c_new(p->base, c, admf)) == NULL)
		return -1;
	if ((ne->reopen = evtimer_new(p->base, x1p_reopencb, ne)) == NULL ||
	    (ne->tick = event_new(p->base, -1, EV_PERSIST, x1p_tickcb,
	    ne)) == NULL ||
	    (ne->ping = event_new(p->base, -1, EV_PERSIST, x1p_pingcb,
	    ne)) == NULL)
		return -1;
	return 0;
}

struct x1prov *
x1prov_new(struct event_base *base, struct journal *journal,
    const struct wd_conf *conf)
{
	struct x1prov		*p;
	const struct wd_ne	*c;
	size_t			 n = 0;

	TAILQ_FOREACH(c, &conf->nes, entry)
		n++;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (n > 0 && (p->nes = calloc(n, sizeof(*p->nes))) == NULL)) {
		free(p);
		log_warn("x1");
		return NULL;
	}
	p->base = base;
	p->journal = journal;
	TAILQ_INIT(&p->jobs);
	TAILQ_INIT(&p->reports);
	TAILQ_FOREACH(c, &conf->nes, entry)
		if (x1p_ne_init(p, &p->nes[p->nne++], c, conf->carrier_id) == -1) {
			x1prov_free(p);
			return NULL;
		}
	return p;
}

int
x1prov_start(struct x1prov *p, x1prov_each_fn each, void *src, x1prov_cb cb,
    void *cbarg)
{
	p->each = each;
	p->src = src;
	p->cb = cb;
	p->cbarg = cbarg;
	p->started = true;
	for (size_t i = 0; i < p->nne; i++) {
		struct timeval tv = { p->nes[i].reconcile_s, 0 };
		struct timeval ping = { X1P_PING_S, 0 };

		if (event_add(p->nes[i].tick, &tv) == -1 ||
		    event_add(p->nes[i].ping, &ping) == -1)
			return -1;
	}
	/* After every start: the elements may hold what a crash left. */
	x1prov_reconcile(p);
	return 0;
}

void
x1prov_stop(struct x1prov *p)
{
	if (p == NULL)
		return;
	p->stopping = true;
	for (size_t i = 0; i < p->nne; i++) {
		if (p->nes[i].tick != NULL)
			event_del(p->nes[i].tick);
		if (p->nes[i].ping != NULL)
			event_del(p->nes[i].ping);
		if (p->nes[i].reopen != NULL)
			event_del(p->nes[i].reopen);
	}
}

bool
x1prov_idle(const struct x1prov *p)
{
	const struct x1p_job *j;

	if (p == NULL)
		return true;
	TAILQ_FOREACH(j, &p->jobs, entry)
		if (x1p_busy(j))
			return false;
	for (size_t i = 0; i < p->nne; i++)
		if (p->nes[i].reconciling)
			return false;
	return true;
}

void
x1prov_free(struct x1prov *p)
{
	struct x1p_job		*j;
	struct x1p_report	*r;

	if (p == NULL)
		return;
	p->freeing = true;
	p->stopping = true;
	/* Clients first: their callbacks still see the jobs. */
	for (size_t i = 0; i < p->nne; i++)
		x1c_free(p->nes[i].c);
	while ((j = TAILQ_FIRST(&p->jobs)) != NULL)
		x1p_job_free(j);
	while ((r = TAILQ_FIRST(&p->reports)) != NULL) {
		TAILQ_REMOVE(&p->reports, r, entry);
		event_free(r->ev);
		free(r);
	}
	for (size_t i = 0; i < p->nne; i++) {
		if (p->nes[i].tick != NULL)
			event_free(p->nes[i].tick);
		if (p->nes[i].ping != NULL)
			event_free(p->nes[i].ping);
		if (p->nes[i].reopen != NULL)
			event_free(p->nes[i].reopen);
		free(p->nes[i].touched);
	}
	free(p->nes);
	free(p);
}

/* "msc up, pgw DOWN (2 tasks waiting)": for sd_notify's STATUS. */
void
x1prov_status(const struct x1prov *p, char *buf, size_t len)
{
	const struct x1p_job	*j;
	size_t			 off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; p != NULL && i < p->nne && off < len; i++) {
		const struct x1p_ne	*ne = &p->nes[i];
		unsigned		 waiting = 0;

		TAILQ_FOREACH(j, &p->jobs, entry)
			for (size_t k = 0; k < j->nat; k++)
				waiting += j->at[k].ne == ne &&
				    j->at[k].failures > 0;
		off += (size_t)snprintf(buf + off, len - off, "%s%s %s%s", i ? ", " :
		    "", ne->name, !ne->known ? "unknown" : ne->up ? "up" : "DOWN",
		    ne->breaker == XB_CLOSED ? "" : ne->breaker == XB_OPEN ?
		    " (breaker open)" : " (breaker half-open)");
		if (waiting > 0 && off < len)
			off += (size_t)snprintf(buf + off, len - off,
			    " (%u task%s waiting)", waiting, waiting == 1 ? "" : "s");
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
}

/* For GET: which elements have not done their part of oid's job, and why. */
size_t
x1prov_task_pending(const struct x1prov *p, const char *owner, const char *oid,
    char *buf, size_t len)
{
	const struct x1p_job	*j;
	char			 xid[X1_UUID_LEN + 1];
	size_t			 n = 0, off;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (p == NULL)
		return 0;
	x1prov_xid(owner, oid, xid);
	if ((j = x1p_find(p, xid)) == NULL)
		return 0;
	off = (size_t)snprintf(buf, len, "%s", j->want_active ?
	    "not yet provisioned at network element" :
	    "still active: deactivation not yet confirmed by network element");
	for (size_t i = 0; i < j->nat && off < len; i++) {
		const struct x1p_at	*at = &j->at[i];
		const struct x1p_ne	*ne = at->ne;

		if (at->st == (j->want_active ? XS_ACTIVE : XS_GONE) ||
		    (j->want_active && at->failures == 0 && !at->parked))
			continue;	/* done, or simply under way */
		off += (size_t)snprintf(buf + off, len - off, "%s %s (%s)",
		    n ? "," : "", ne->name, ne->breaker != XB_CLOSED ?
		    "unreachable, breaker open" : ne->known && !ne->up ?
		    "unreachable, retrying" : at->deact_refused ||
		    at->failures > 0 ? "retrying" : "request under way");
		n++;
	}
	if (n == 0)
		buf[0] = '\0';
	return n;
}

void
x1prov_each_ne(const struct x1prov *p,
    void (*fn)(const struct x1prov_health *, void *), void *arg)
{
	for (size_t i = 0; p != NULL && i < p->nne; i++) {
		const struct x1p_ne	*ne = &p->nes[i];
		const struct x1p_job	*j;
		struct x1prov_health	 h = { ne->name, !ne->known ? -1 :
		    ne->up ? 1 : 0, x1p_breaker_name(ne->breaker), 0, 0 };

		TAILQ_FOREACH(j, &p->jobs, entry)
			for (size_t k = 0; k < j->nat; k++) {
				if (j->at[k].ne != ne)
					continue;
				if (j->want_active)
					h.pending_activations +=
					    j->at[k].st != XS_ACTIVE;
				else
					h.pending_deactivations +=
					    j->at[k].st != XS_GONE;
			}
		fn(&h, arg);
	}
}

struct x1p_check {
	const char	*name;
	bool		 done, up;
	char		 why[320];
};

static void
x1p_checked(const struct x1c_result *res, void *arg)
{
	struct x1p_check *c = arg;

	c->done = true;
	c->up = res->answered && !res->answer->error;
	snprintf(c->why, sizeof(c->why), "%s", !res->answered ? res->why :
	    res->answer->error ? res->answer->text : "Ping acknowledged");
}

/*
 * warrantd -t: every element's TLS files and URL must be usable (else -1);
 * each is sent one Ping, and whether it answered is said, but an element
 * that does not answer does not fail the check: the daemon must start to
 * keep deactivating what it can.
 */
int
x1prov_check(const struct wd_conf *conf)
{
	struct event_base	*base;
	const struct wd_ne	*n;
	int			 rc = 0;

	if (TAILQ_EMPTY(&conf->nes))
		return 0;
	if ((base = event_base_new()) == NULL)
		return -1;
	TAILQ_FOREACH(n, &conf->nes, entry) {
		struct wd_ne		 once = *n;
		struct x1c		*c;
		struct x1_msg		 m = { 0 };
		struct x1p_check	 chk = { n->name, false, false, "" };

		once.retries = 0;
		if ((c = x1c_new(base, &once, conf->carrier_id)) == NULL) {
			rc = -1;
			continue;
		}
		m.op = X1_PING;
		if (x1c_send(c, &m, "", x1p_checked, &chk) == 0)
			event_base_dispatch(base);
		x1c_free(c);
		if (chk.up)
			log_info("ne \"%s\": reachable (%s)", n->name, chk.why);
		else
			log_warnx("ne \"%s\": NOT reachable: %s", n->name,
			    chk.done ? chk.why : "not sent");
	}
	event_base_free(base);
	return rc;
}
