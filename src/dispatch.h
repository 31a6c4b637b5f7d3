/*
 * dispatch.h — carrying out an accepted request against the carrier's back
 * ends (src/dispatch.c). Internal to the daemon, beside server.h.
 */
#ifndef WD_DISPATCH_H
#define WD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "hi1.h"

struct server;

/* A quick answer to carry in the acceptance: owned by the receiver. */
struct dispatch_delivery {
	uint32_t	 action_id;
	char		*doc;		/* result document (hi1_delivery.h) */
	size_t		 doc_len;
	uint8_t		 sha256[32];	/* of doc, for the journal */
	char		 result_name[BACKEND_RESULT_NAME_MAX];	/* stored copy */
};

/*
 * Called once, on the loop, when every awaited call has answered or the
 * wait is over: the deliveries (possibly none) now belong to the callee.
 */
typedef void (*dispatch_ready_cb)(struct dispatch_delivery *, size_t n, void *arg);

/*
 * Start the back-end calls of an accepted request (req is copied): one per
 * identifier of every task a back end serves. Subscriber and real-time
 * location tasks with one identifier are awaited up to wait_ms for the
 * acceptance to carry their answer; the rest go on in the background, their
 * results kept in the results store for delivery. Every call's outcome is
 * journaled. ready runs exactly once.
 */
void	dispatch_start(struct server *, const struct hi1_request *req,
	    const char *carrier_ref, const char *official_fp, unsigned wait_ms,
	    dispatch_ready_cb ready, void *arg);
void	dispatch_free_deliveries(struct dispatch_delivery *, size_t n);

#endif
