/*
 * x1_client — the gateway as the HTTPS client of one network element over
 * ETSI X1 (src/warrantd/x1_client.c): one X1 request per POST, mutual TLS under the
 * same policy as every TLS client of the gateway (lib/tls.c), the
 * element's certificate checked against the element's own CA bundle (and
 * CRL) and against the URL's host.
 *
 * Rules this module keeps for its caller (src/warrantd/x1_prov.c):
 *  - one outstanding request per key (a task's XID, a destination's DID)
 *    at a time: a second request for the same key waits for the first to
 *    finish, so two changes of one task never race at the element;
 *  - each attempt has one absolute deadline (the element's `deadline`)
 *    from connect to the last byte of the answer; a failed attempt (no
 *    connection, TLS refused, timeout, not HTTP 200, not a valid X1
 *    answer to this transaction) is tried again up to `retries` times
 *    after a pause with jitter (0.5 s doubling, ±25 %), each attempt a new
 *    X1 message with a fresh x1TransactionId;
 *  - the callback says every transaction identifier used, so that every
 *    one can be journaled, and runs exactly once, never inside
 *    x1c_send(), on the caller's loop.
 */
#ifndef WD_X1_CLIENT_H
#define WD_X1_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "x1.h"

#define X1C_ATTEMPTS_MAX	11	/* retries 0..10, plus the first */

struct event_base;
struct wd_ne;
struct x1c;

struct x1c_result {
	bool			 answered;	/* a valid X1 answer came back */
	const struct x1_answer	*answer;	/* if answered (may be an error) */
	const char		*why;		/* if not: the last failure */
	char			 txids[X1C_ATTEMPTS_MAX][X1_UUID_LEN + 1];
	size_t			 ntxids;	/* attempts made */
};
typedef void (*x1c_cb)(const struct x1c_result *, void *arg);

/* NULL (logged) if the element's certificate, key, CA or URL are unusable. */
struct x1c	*x1c_new(struct event_base *, const struct wd_ne *,
		    const char *admf);
/* Pending requests report failure (their callbacks run inside). */
void		 x1c_free(struct x1c *);
const char	*x1c_name(const struct x1c *);

/*
 * Send m (op, and its task, destination or id, copied) for key (at most
 * 64 bytes; "" = no ordering). -1 only when out of memory or the message
 * cannot be built (cb does not run).
 */
int		 x1c_send(struct x1c *, const struct x1_msg *m, const char *key,
		    x1c_cb cb, void *arg);
/* Requests queued or in flight. */
unsigned	 x1c_pending(const struct x1c *);
/* Tests: the clock for messageTimestamp (µs), NULL for the real one. */
void		 x1c_set_clock(struct x1c *, int64_t (*now)(void *), void *arg);

#endif
