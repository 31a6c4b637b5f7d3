/*
 * x1_prov — the gateway as ADMF (src/warrantd/x1_prov.c, docs/x1.md): makes the
 * network elements of the `ne` blocks hold exactly the interceptions the
 * orders justify, over ETSI TS 103 221-1 X1.
 *
 * The lifecycle says what it wants of one task — provisioned, or not —
 * and hears back once: active at every element that serves the task's
 * target types, or refused (the element's reason) and rolled back. It
 * owns no task state: what must be active comes from the lifecycle (the
 * object store) whenever asked, and what is active at an element comes
 * from the element (GetAllDetails). Between the two it reconciles,
 * periodically and after every start: a task missing at an element is
 * provisioned again, a task an element holds without an open order
 * behind it (unknown, ended) is deactivated. Every X1 exchange and every
 * difference is a journal record (EVENT_X1_EXCHANGE, EVENT_X1_DIFFERENCE)
 * naming the element, the operation, the XID and the transactions, never
 * a target identifier.
 *
 * Each task's XID is derived from its owner and object identifier, so a
 * retry, a restart or a reconciliation can only ever name the same task;
 * an ActivateTask the element refuses because it already holds the XID is
 * checked with GetTaskDetails and counted as acknowledged.
 *
 * An element that cannot be reached is tried again (2 s doubling to
 * 5 min, with jitter) for as long as it takes: an interception must never
 * outlive its order because a deactivation was given up. Each failure is
 * logged as CRITICAL for a deactivation (and journaled).
 *
 * Runs on the caller's loop; a narrow message interface so that it can
 * later move into a process of its own.
 */
#ifndef WD_X1_PROV_H
#define WD_X1_PROV_H

#include <stdbool.h>
#include <stddef.h>

#include "wd.h"

struct event_base;
struct hi1_identifier;
struct journal;
struct wd_conf;
struct x1prov;

/* A task as the lifecycle knows it; nothing is kept beyond the call. */
struct x1prov_task {
	const char			*owner;		/* authority */
	const char			*oid;		/* LITaskObject identifier */
	const char			*ref;		/* carrier reference */
	const struct hi1_identifier	*ids;
	size_t				 nids;
	const char			*delivery_type;	/* HI-1 TaskDeliveryType */
};

/*
 * The outcome of an activation: ok, or refused with a reason (612, 613)
 * and words (identifiers masked). Also for a reconciliation's
 * re-provisioning that an element refuses.
 */
typedef void (*x1prov_cb)(const char *owner, const char *oid, bool ok,
    enum wd_reason reason, const char *text, void *arg);

/*
 * Every interception the orders keep open: fn(task, active, fnarg) for
 * each (active: Active; else AwaitingProvisioning). -1 if it cannot say
 * (the reconciliation then changes nothing).
 */
typedef int (*x1prov_each_fn)(void *src, int (*fn)(const struct x1prov_task *,
    bool active, void *), void *fnarg);

/* NULL if an element's client cannot be set up (logged); none: no ne. */
struct x1prov	*x1prov_new(struct event_base *, struct journal *,
		    const struct wd_conf *);
void		 x1prov_free(struct x1prov *);
/* Outcomes go to cb; reconciliation starts now, then every `reconcile`. */
int		 x1prov_start(struct x1prov *, x1prov_each_fn each, void *src,
		    x1prov_cb cb, void *cbarg);
void		 x1prov_stop(struct x1prov *);
/* Provision t (idempotent while it is under way). */
void		 x1prov_activate(struct x1prov *, const struct x1prov_task *t);
/* Remove t from every element serving its types (retried until done). */
void		 x1prov_deactivate(struct x1prov *, const struct x1prov_task *t);
/* Reconcile every element now (tests, the demo: SIGUSR2). */
void		 x1prov_reconcile(struct x1prov *);
/* Exchanges in flight or waiting for a retry. */
bool		 x1prov_idle(const struct x1prov *);
/* Each element's health, for the daemon's status line. */
void		 x1prov_status(const struct x1prov *, char *buf, size_t len);
/*
 * What the elements still owe one task, for its GET: a sentence naming
 * each element whose part is not done — a deactivation it has not
 * confirmed, or a provisioning it has not been reached for — and why in
 * general terms (no address, no element's words). 0: nothing owed (or no
 * work under way); else the number of elements, the sentence in buf.
 */
size_t		 x1prov_task_pending(const struct x1prov *, const char *owner,
		    const char *oid, char *buf, size_t len);

/* One element's health, for the desk's /metrics. */
struct x1prov_health {
	const char	*name;
	int		 up;		/* 1 answered last, 0 did not, -1 unknown */
	const char	*breaker;	/* "closed", "open", "half-open" */
	unsigned	 pending_activations;	/* parts not yet acknowledged */
	unsigned	 pending_deactivations;	/* ... not yet confirmed */
};
void		 x1prov_each_ne(const struct x1prov *,
		    void (*fn)(const struct x1prov_health *, void *), void *arg);
/* warrantd -t: TLS files usable (else -1), and a Ping to each element. */
int		 x1prov_check(const struct wd_conf *);
/* The XID of a task (x1_derive_uuid of owner and oid). */
void		 x1prov_xid(const char *owner, const char *oid, char out[37]);

#endif
