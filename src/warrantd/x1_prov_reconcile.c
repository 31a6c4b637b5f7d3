/*
 * x1_prov_reconcile — the ADMF's reconciliation (see x1_prov.c): what
 * the object store says must be active compared with an element's
 * GetAllDetails, the differences journaled and put right, on a timer per
 * element.
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
	x1_prov_record(p, WARRANT__EVENT_TYPE__EVENT_X1_DIFFERENCE, owner, ref,
	    oid, d);
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
	if (held || !active || x1_prov_find(p, xid) != NULL ||
	    x1_prov_touched(r->ne, xid)) {
		r->tolerated += !active;
		return 0;
	}
	/* Active in the orders, absent at the element: provision it again. */
	r->missing++;
	x1p_difference(p, r->ne, t->owner, t->ref, t->oid, xid, "is missing "
	    "at the element although its order is open: provisioning it "
	    "again");
	if ((j = x1_prov_job_new(p, t->owner, t->oid, t->ref, xid)) == NULL)
		return 0;
	j->want_active = true;
	j->report = true;
	if (x1_prov_plan(p, j, t, why, sizeof(why)) == -1 ||
	    (at = x1_prov_job_at(j, r->ne)) == NULL) {
		x1_prov_job_free(j);
		return 0;
	}
	/* Only this element: the others answered for themselves. */
	j->at[0] = *at;
	j->at[0].job = j;
	j->nat = 1;
	x1_prov_step(&j->at[0]);
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
	x1_prov_health(ne, res);
	x1_prov_record_exchange(p, NULL, ne->name, X1_GET_ALL, NULL, res);
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

		if (r.seen[i] || x1_prov_find(p, xid) != NULL ||
		    x1_prov_touched(ne, xid))
			continue;
		/* Held without an open order behind it: remove it. */
		rogue++;
		x1p_difference(p, ne, "", "", "", xid, "is held by the element "
		    "without an open order (unknown or ended): deactivating it");
		if ((j = x1_prov_job_new(p, "", "", "", xid)) == NULL ||
		    (at = x1_prov_job_at(j, ne)) == NULL) {
			if (j != NULL)
				x1_prov_job_free(j);
			continue;
		}
		x1_prov_step(at);
	}
	free(r.seen);
	log_info("x1 %s: reconciled: %zu task%s held, %zu missing, %zu without "
	    "an order, %zu being provisioned", ne->name, r.a->nheld,
	    r.a->nheld == 1 ? "" : "s", r.missing, rogue, r.tolerated);
}

void
x1_prov_reconcile_ne(struct x1p_ne *ne)
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

void
x1_prov_tickcb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	x1_prov_reconcile_ne(arg);
}

void
x1prov_reconcile(struct x1prov *p)
{
	for (size_t i = 0; p != NULL && i < p->nne; i++)
		x1_prov_reconcile_ne(&p->nes[i]);
}
