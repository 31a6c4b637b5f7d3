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
 *
 * This file owns small things (XIDs, masking, journal records), what the
 * lifecycle asks, and life (start, stop, status, checks); jobs and their
 * exchanges are in x1_prov_job.c, element health and the circuit breaker
 * in x1_prov_ne.c, reconciliation in x1_prov_reconcile.c (what they share
 * in x1_prov_int.h).
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
#include "x1_prov_int.h"

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
void
x1_prov_mask(char *s)
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

void
x1_prov_record(struct x1prov *p, int event, const char *owner, const char *ref,
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
void
x1_prov_record_exchange(struct x1prov *p, const struct x1p_job *job,
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
	x1_prov_mask(why);
	if (k < sizeof(d))
		snprintf(d + k, sizeof(d) - k, " outcome=%s", why);
	x1_prov_record(p, WARRANT__EVENT_TYPE__EVENT_X1_EXCHANGE,
	    job ? job->owner : "", job ? job->ref : "", job ? job->oid : "", d);
}

/* ---- what the lifecycle asks -------------------------------------------------- */

/*
 * The parts of t's job: every element serving one of its targets' types,
 * with the targets it serves. 0, or -1 with why (a type nobody serves).
 */
int
x1_prov_plan(struct x1prov *p, struct x1p_job *j, const struct x1prov_task *t,
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
			if (at == NULL &&
			    (at = x1_prov_job_at(j, &p->nes[k])) == NULL) {
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
	if ((j = x1_prov_find(p, xid)) != NULL) {
		/* Under way; a rollback is never turned back into activation. */
		return;
	}
	if ((j = x1_prov_job_new(p, t->owner, t->oid, t->ref, xid)) == NULL)
		return;
	j->want_active = true;
	j->report = true;
	if (x1_prov_plan(p, j, t, why, sizeof(why)) == -1) {
		log_warnx("x1: task %s cannot be provisioned: %s", t->oid, why);
		x1_prov_report(j, false, WD_REASON_NE_UNSERVED, why);
		x1_prov_job_free(j);
		return;
	}
	log_info("x1: task %s (xid %s): provisioning at %zu element%s", t->oid,
	    xid, j->nat, j->nat == 1 ? "" : "s");
	for (size_t i = 0; i < j->nat; i++)
		x1_prov_step(&j->at[i]);
}

void
x1prov_deactivate(struct x1prov *p, const struct x1prov_task *t)
{
	struct x1p_job	*j;
	char		 xid[X1_UUID_LEN + 1], why[160];

	if (p == NULL || p->stopping)
		return;
	x1prov_xid(t->owner, t->oid, xid);
	if ((j = x1_prov_find(p, xid)) == NULL) {
		if ((j = x1_prov_job_new(p, t->owner, t->oid, t->ref,
		    xid)) == NULL)
			return;
	} else if (!j->want_active)
		return;		/* already being removed */
	/* A job under way becomes a removal, at every element concerned;
	   the order behind it has ended, so no outcome is owed. */
	j->want_active = false;
	j->report = false;
	if (x1_prov_plan(p, j, t, why, sizeof(why)) == -1 && j->nat == 0) {
		x1_prov_job_free(j);	/* provisioned nowhere */
		return;
	}
	for (size_t i = 0; i < j->nat; i++) {
		if (j->at[i].st != XS_GONE)
			j->at[i].st = XS_UNKNOWN;
		x1_prov_step(&j->at[i]);
	}
	x1_prov_settle(j);
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
	if ((ne->reopen = evtimer_new(p->base, x1_prov_reopencb, ne)) == NULL ||
	    (ne->tick = event_new(p->base, -1, EV_PERSIST, x1_prov_tickcb,
	    ne)) == NULL ||
	    (ne->ping = event_new(p->base, -1, EV_PERSIST, x1_prov_pingcb,
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
		if (x1_prov_busy(j))
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
		x1_prov_job_free(j);
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
	if ((j = x1_prov_find(p, xid)) == NULL)
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
		    ne->up ? 1 : 0, x1_prov_breaker_name(ne->breaker), 0, 0 };

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
