/*
 * dispatch — the back-end calls of tasks (src/warrantd/dispatch.c), the lifecycle's
 * arm: one call per identifier, each outcome journaled (back end, attempts,
 * outcome, count, digest, never data) and then reported to the lifecycle,
 * which decides what the task becomes.
 */
#ifndef WD_DISPATCH_H
#define WD_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "hi1.h"
#include "obj.h"

struct lifecycle;

/* What the dispatch tells the lifecycle about a task's back-end calls
 * (lifecycle.c fills it: lifecycle_claim, lifecycle_calls...). */
struct dispatch_hooks {
	void	(*claim)(struct lifecycle *, const char *owner, const char *oid);
	void	(*unclaim)(struct lifecycle *, const char *owner,
		    const char *oid);
	void	(*calls)(struct lifecycle *, const char *owner, const char *oid,
		    int delta);
	void	(*reported)(struct lifecycle *, const char *owner,
		    const char *oid, bool ok);
	bool	(*gated)(struct lifecycle *, const char *owner, const char *oid);
};

/*
 * What the lifecycle and its arm, the dispatch, use; neither owns any of
 * these (NULL where absent). Defined here, with the hooks above, so that
 * the dispatch needs nothing of lifecycle.h: no include cycle between the
 * two (tests/doc/include-cycles.sh).
 */
struct lifecycle_env {
	struct event_base	*base;
	struct journal		*journal;
	struct store		*store;
	struct results		*results;
	struct purge		*purge;
	struct backend_set	*backends;
	struct push		*push;
	struct x1prov		*x1;	/* interceptions at network elements */
	/* Set by lifecycle_new(): the dispatch's way back. */
	const struct dispatch_hooks *dispatch;
};

/* A quick answer to carry in the acceptance: owned by the receiver. */
struct dispatch_delivery {
	uint32_t	 action_id;
	char		 task_oid[HI1_UUID_LEN + 1];
	char		 ldid[HI1_REF_LEN + 1];
	char		*doc;		/* result document (hi1_delivery.h) */
	size_t		 doc_len;
	uint8_t		 sha256[32];	/* of doc, for the journal */
	char		 result_name[BACKEND_RESULT_NAME_MAX];	/* stored copy */
	/*
	 * No stored copy yet (held, backend_query.hold): what would be stored,
	 * the result's coordinates for backend_store(); dispatch_settle()
	 * stores it if the delivery was not recorded.
	 */
	uint8_t		*held;
	size_t		 held_len;
	char		 carrier_ref[BACKEND_REF_MAX];
	unsigned	 id_index;
	/* The DeliveryObject it travels as (lifecycle_delivered_record). */
	char		 part_oid[HI1_UUID_LEN + 1];
	char		 delivery_id[HI1_UUID_LEN + 1];
	bool		 recorded;	/* its delivery is in the journal */
};

/*
 * Called once, on the loop, when every awaited call has answered or the
 * wait is over: the deliveries (possibly none) now belong to the callee.
 */
typedef void (*dispatch_ready_cb)(struct dispatch_delivery *, size_t n, void *arg);

/*
 * Start the back-end calls of an accepted request (req is copied): one per
 * identifier of every disclosure task. Subscriber and real-time location
 * tasks with one identifier are claimed for the answer and awaited up to
 * wait_ms; the rest go on in the background. ready runs exactly once.
 */
void	dispatch_start(struct lifecycle *, const struct lifecycle_env *,
	    const char *owner, const struct hi1_request *req,
	    const char *carrier_ref, const char *official_fp, unsigned wait_ms,
	    dispatch_ready_cb ready, void *arg);
/*
 * Calls for the identifiers of a held task whose outcome is pending (a new
 * round, or after a restart); with release, a preservation's freeze is
 * released instead (every identifier). 0, or -1 if none could start.
 */
int	dispatch_task(struct lifecycle *, const struct lifecycle_env *,
	    const struct obj *task, bool release);
/*
 * After the answer: the claims of the deliveries end. A held result whose
 * delivery was not recorded is first stored (durable), then its task
 * released to the lifecycle, which delivers it like any other result.
 */
void	dispatch_settle(struct lifecycle *, const struct lifecycle_env *,
	    const char *owner, const struct dispatch_delivery *, size_t n);
void	dispatch_free_deliveries(struct dispatch_delivery *, size_t n);

#endif
