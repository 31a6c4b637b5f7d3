/*
 * lifecycle — what happens to an accepted request after its acceptance
 * (src/warrantd/lifecycle.c, docs/lifecycle.md): the state machine of the HI-1
 * objects the gateway holds, driven by the authority (UPDATE, GET of its
 * results), the back ends (outcomes of calls), the legal clocks (urgent
 * orders' ratification, preservation expiry, answer deadlines, how long
 * undelivered results are kept) and delivery (parts made, fetched, pushed).
 *
 * It owns no storage: every decision is one journal record (include/obj.h
 * says how each record changes the objects), the object store applies it
 * once durable, and only then does the lifecycle act on it (call a back
 * end, destroy results, answer). Its interface to the daemon is a handful
 * of calls and callbacks on the event loop; it never reaches into the
 * server's structures, so it can move into a process of its own.
 *
 * Clocks read lifecycle_now(), which tests replace (lifecycle_set_clock)
 * to run days of legal time without sleeping; every deadline is absolute
 * and stored on its object, so clocks survive restarts.
 */
#ifndef WD_LIFECYCLE_H
#define WD_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hi1.h"
#include "obj.h"
#include "dispatch.h"	/* struct lifecycle_env */

struct event_base;
struct journal;
struct store;
struct results;
struct purge;
struct backend_set;
struct lifecycle;
struct push;
struct x1prov;

/* Durations, all in microseconds (the configuration's, docs/config.md). */
struct lifecycle_config {
	int64_t		 answer_us[WD_REQ__COUNT];	/* answer deadline by type */
	int64_t		 answer_old_records_us;	/* records older than a year */
	int64_t		 keep_us;		/* undelivered results, max */
	int64_t		 keep_warn_us;		/* warn this long before */
	int64_t		 ratify_us;		/* urgent orders */
	int64_t		 preservation_max_us;	/* one extension, at most */
	unsigned	 retry_rounds;		/* rounds of back-end calls */
	int64_t		 retry_base_us;		/* first pause between rounds */
	size_t		 part_max;		/* bytes of a result document */
	int64_t		 kept_after_us;		/* delivered results, re-fetchable */
	unsigned	 push_window;		/* parts of a task in flight, 0: 4 */
	const char	*carrier_id;
	/* The authority's registered DELIVER endpoint (https URL) or NULL. */
	const char	*(*endpoint)(void *arg, const char *authority);
	void		*endpoint_arg;
};


struct lifecycle	*lifecycle_new(const struct lifecycle_env *,
			    const struct lifecycle_config *);
void			 lifecycle_free(struct lifecycle *);
/* A reload: new durations (the objects keep the deadlines they have). */
void			 lifecycle_configure(struct lifecycle *,
			    const struct lifecycle_config *);
/* Tests: the clock the lifecycle reads (µs since the epoch). */
void			 lifecycle_set_clock(struct lifecycle *,
			    int64_t (*now)(void *), void *arg);
int64_t			 lifecycle_now(const struct lifecycle *);
/*
 * Start: resume the work the store says is open (back-end calls that did
 * not report, results not packaged, deliveries not acknowledged) and run
 * the clocks every second. Call once the store has caught up.
 */
int			 lifecycle_start(struct lifecycle *);
/* Stopping: decisions still journaled, but nothing new is started. */
void			 lifecycle_stop(struct lifecycle *);
/* Run the clocks now (the timer's work; tests call it after moving time). */
void			 lifecycle_tick(struct lifecycle *);
/* Calls in flight and records pending, for a clean stop. */
bool			 lifecycle_idle(const struct lifecycle *);

/*
 * A changing message (CREATE, UPDATE) against what is held: each CREATE's
 * object new, or held with identical content (then the whole message must
 * be a repeat); each UPDATE's object held, its Generation current, the
 * change allowed in its state. Fills the plan with the transitions the
 * updates cause (the caller journals them with the request) and reserves
 * the objects until lifecycle_plan_done(). -1 with err (per action).
 */
#define LC_PLAN_MAX	(HI1_MAX_ACTIONS + HI1_MAX_UPDATES * (1 + HI1_MAX_ACTIONS))
struct lc_plan {
	bool			 repeat;	/* every object held, identical */
	char			 ref[OBJ_REF_LEN];	/* repeat/update: its ref */
	int64_t			 answer_by_us[HI1_MAX_ACTIONS];	/* per task */
	int64_t			 ratify_by_us[HI1_MAX_ACTIONS];	/* per auth */
	/* Transitions caused by the updates (and what the record needs). */
	Warrant__Transition	 tr[LC_PLAN_MAX];
	Warrant__Transition	*trp[LC_PLAN_MAX];
	Warrant__Approval	 approval[LC_PLAN_MAX];
	char			*docs[LC_PLAN_MAX][HI1_MAX_ASSOC];
	char			 oid[LC_PLAN_MAX][HI1_UUID_LEN + 1];
	char			 refs[LC_PLAN_MAX][OBJ_REF_LEN];
	size_t			 ntr;
	/* Reserved objects. */
	char			 owner[HI1_ID_LEN + 1];
	char			 reserved[LC_PLAN_MAX][HI1_UUID_LEN + 1];
	size_t			 nreserved;
};
int	lifecycle_plan(struct lifecycle *, const char *owner,
	    const struct hi1_request *, struct lc_plan *, struct wd_error *err);
void	lifecycle_plan_done(struct lifecycle *, struct lc_plan *);

/*
 * After the request's record is durable (and applied): start the back-end
 * calls of new tasks, carry out what updates decided (stop and destroy a
 * cancelled task's work, extend a preservation at the back end).
 * Quick tasks (subscriber identity, real-time location with one identifier)
 * are awaited up to wait_ms, and ready gets their result documents to carry
 * in the answer (possibly none): see dispatch.h.
 */
struct dispatch_delivery;
typedef void (*lifecycle_ready_cb)(struct dispatch_delivery *, size_t n,
    void *arg);
void	lifecycle_accepted(struct lifecycle *, const char *owner,
	    const char *ref, const struct hi1_request *, const char *official_fp,
	    unsigned wait_ms, lifecycle_ready_cb ready, void *arg);
void	lifecycle_updated(struct lifecycle *, const char *owner,
	    const struct hi1_request *, const struct lc_plan *);
/*
 * Quick results carried in an answer: the caller journals their delivery
 * (lifecycle_delivered_record fills the parts and the task's transition),
 * then releases the claim; a task whose result was not delivered is then
 * handled like any other (packaged for pull or push).
 */
size_t	lifecycle_delivered_record(struct lifecycle *, const char *owner,
	    const char *ref, struct dispatch_delivery *, size_t n,
	    Warrant__Record *rec, void **storage);
void	lifecycle_record_free(void *storage);
void	lifecycle_release(struct lifecycle *, const char *owner,
	    const struct dispatch_delivery *, size_t n);
/* Recorded as carried, but the client hung up before the answer was written. */
void	lifecycle_undelivered(struct lifecycle *, const char *owner,
	    const char *ref, const struct dispatch_delivery *, size_t n);

/*
 * A reading message (GET, LIST): the answers, the parts whose data it hands
 * over (the caller journals them delivered in the request's record) and
 * whatever buffers they need, freed by lifecycle_read_free().
 */
struct hi1_answer;
struct lc_read {
	struct hi1_answer	*answers;
	size_t			 nanswers;
	Warrant__DeliveryPart	*parts;		/* handed over */
	Warrant__DeliveryPart	**partp;
	size_t			 nparts;
	char			**objects;	/* GET: what was asked */
	size_t			 nobjects;
	/*
	 * Answers whose part data is streamed (data_stream: an open
	 * struct results_reader, its first chunk authenticated), closed by
	 * lifecycle_read_free: build with hi1_build_answer_pieces.
	 */
	size_t			 nstreams;
	void			*storage;
};
int	lifecycle_read(struct lifecycle *, const char *owner,
	    const struct hi1_request *, struct lc_read *);
/* After the read's record is durable: tasks whose parts are all delivered. */
void	lifecycle_read_done(struct lifecycle *, const char *owner,
	    const struct lc_read *);
void	lifecycle_read_free(struct lc_read *);

/*
 * For dispatch.c: tasks whose result an answer may carry are claimed until
 * the answer is decided; calls in flight are counted; each outcome is
 * reported once its record is durable (ok) or could not be written.
 */
void	lifecycle_claim(struct lifecycle *, const char *owner, const char *oid);
void	lifecycle_unclaim(struct lifecycle *, const char *owner, const char *oid);
void	lifecycle_calls(struct lifecycle *, const char *owner, const char *oid,
	    int delta);
void	lifecycle_call_reported(struct lifecycle *, const char *owner,
	    const char *oid, bool ok);

/*
 * The compliance desk (src/warrantd/desk.c) on a task waiting in AwaitingApproval:
 * approve (AwaitingDisclosure, or AwaitingProvisioning for an
 * interception; the back-end calls start once the record is durable) or
 * reject (Rejected, StatusReason 622 with the operator's reason, which the
 * authority reads in its GET). One EVENT_DESK_ACTION record carries the
 * transition and the action (whose strings must live until cb runs). cb
 * runs once the record is durable (status 0) or failed; returns 0 (cb will
 * run) or an LC_DESK_* refusal (cb will not).
 */
#define LC_DESK_NOT_FOUND	1
#define LC_DESK_STATE		2	/* not awaiting approval */
#define LC_DESK_BUSY		3	/* another change is being recorded */
#define LC_DESK_ERROR		4
struct lc_desk_decision {
	const char		*owner;
	const char		*oid;
	bool			 approve;
	const char		*reason;	/* rejection */
	const char		*operator_fp;	/* Record.official_id */
	const char		*peer;		/* Record.peer */
	Warrant__DeskAction	*action;
};
typedef void (*lifecycle_desk_cb)(int status, void *arg);
int	lifecycle_desk_decide(struct lifecycle *, const struct lc_desk_decision *,
	    lifecycle_desk_cb, void *arg);
/*
 * A result part's contents, whole, checked against its seal and SHA-256:
 * for the desk's view-results (docs/desk-api.md). The caller frees *out.
 */
int	lifecycle_part_read(struct lifecycle *, const struct obj_part *,
	    uint8_t **out, size_t *len);
/* A task the desk has not approved yet: its calls must not start. */
bool	lifecycle_gated(struct lifecycle *, const char *owner, const char *oid);

/* Objects of one request (for a CREATE's answer and its repeat). */
int	lifecycle_objects(struct lifecycle *, const char *owner, const char *ref,
	    struct obj **v, size_t *n);

#endif
