/*
 * x1_prov_ne — the ADMF's view of one network element (see x1_prov.c):
 * the XIDs touched while a reconciliation is on its way, health from the
 * last exchange, the keep-alive Ping, and the circuit breaker.
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

/* ---- element health ------------------------------------------------------------- */

void
x1_prov_touch(struct x1p_ne *ne, const char *xid)
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

bool
x1_prov_touched(const struct x1p_ne *ne, const char *xid)
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
void
x1_prov_health(struct x1p_ne *ne, const struct x1c_result *res)
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
	x1_prov_health(ne, res);
	/* Back after an outage: it may have lost (or kept) what it held. */
	if (was_open && ne->breaker == XB_CLOSED)
		x1_prov_reconcile_ne(ne);
}

void
x1_prov_pingcb(evutil_socket_t fd, short what, void *arg)
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

/* ---- the circuit breaker --------------------------------------------------- */

const char *
x1_prov_breaker_name(enum x1p_breaker b)
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
	    x1_prov_breaker_name(ne->breaker), what);
	x1_prov_record(ne->p, WARRANT__EVENT_TYPE__EVENT_X1_BREAKER, "", "", "",
	    d);
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
void
x1_prov_reopencb(evutil_socket_t fd, short what, void *arg)
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
void
x1_prov_breaker_close(struct x1p_ne *ne)
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
				x1_prov_step(&j->at[i]);
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
			x1_prov_breaker_close(ne);
		return;
	}
	ne->consecutive++;
	if (ne->p->stopping)
		return;
	if (ne->breaker == XB_HALF_OPEN || (ne->breaker == XB_CLOSED &&
	    ne->consecutive >= ne->breaker_failures))
		x1p_breaker_open(ne);
}
