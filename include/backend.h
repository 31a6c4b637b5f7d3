/*
 * backend — warrantd's client side of the carrier back-end protocol
 * (proto/backend.proto): carry out an accepted task (subscriber identity,
 * real-time or historical location, communication records, preservation)
 * against the back end the configuration names for its type, and say how it
 * went.
 *
 * This header was written first and committed early so that the daemon
 * (src/warrantd/warrantd.c, src/warrantd/intake.c) can be wired to it while the module is
 * written; docs/gateway-backends.md describes the behaviour and the reasons.
 *
 * Everything runs on the caller's libevent loop and never blocks on the
 * network: bufferevents (OpenSSL ones for TCP back ends), one connection pool
 * per back end with request-id multiplexing, a deadline per attempt, bounded
 * retries with exponential backoff and full jitter for retryable errors and
 * connection failures, and a circuit breaker per back end. Bytes from a back
 * end are untrusted: a frame over 1 MiB, a malformed message, an unknown
 * request id or enum value closes that connection (logged once) and the calls
 * on it are retried or failed; the daemon goes on.
 *
 * Streamed answers (historical location and communication records) are
 * written chunk by chunk into the encrypted results store
 * (results.h) and are never held whole in memory; the callback gets the
 * record count, the SHA-256 (checked against the back end's own summary) and
 * the name of the stored result. Small answers (subscriber, one location,
 * preservation) are handed decoded, and stored too, unless the caller holds
 * them (backend_query.hold: an answer carried in the acceptance needs no
 * stored copy; the caller stores it with backend_store() if it cannot be
 * delivered at once).
 *
 * The module writes no journal records: the callback carries what the
 * daemon journals (back end, attempts, outcome, count, SHA-256, duration).
 * It never logs answer contents or identifiers.
 */
#ifndef WD_BACKEND_H
#define WD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.pb-c.h"
#include "hi1.h"
#include "wd.h"

struct event_base;
struct wd_conf;
struct results;
struct backend_set;

#define BACKEND_NAME_MAX	64		/* as in the configuration */
#define BACKEND_REF_MAX		64		/* carrier reference */
#define BACKEND_RESULT_NAME_MAX	96		/* results store name */

/* How a call ended. Values are stable: they are journaled. */
enum backend_outcome {
	BACKEND_OK = 0,
	BACKEND_NOT_FOUND,		/* no such subscriber / identifier */
	BACKEND_NOT_RETAINED,		/* data of that kind is not kept */
	BACKEND_OUTSIDE_RETENTION,	/* window older than what is kept */
	BACKEND_MALFORMED,		/* the back end refused our request */
	BACKEND_UNSUPPORTED,		/* type or identifier not served there */
	BACKEND_FAILED,			/* the back end's own fault (INTERNAL) */
	BACKEND_UNAVAILABLE,		/* retries exhausted, breaker open,
					   no back end serves the type, queue full */
	BACKEND_DEADLINE,		/* the last attempt ran out of time */
	BACKEND_INTEGRITY,		/* stream did not match its summary,
					   on every attempt */
	BACKEND_STORAGE,		/* the results store could not write */
	BACKEND_CANCELLED,		/* backend_set_free() with the call pending */
	BACKEND__OUTCOMES
};
/* obj.h tells answers from failures by this boundary. */
_Static_assert(BACKEND_OUTSIDE_RETENTION == 3, "BACKEND_OUTCOME_LAST_ANSWER");

/* What to ask. Copied by backend_call(); nothing is kept by reference. */
struct backend_query {
	enum wd_reqtype		 type;		/* not WD_REQ_INTERCEPTION */
	struct hi1_identifier	 id;		/* the target */
	int64_t			 start_us;	/* window [start, end): historical */
	int64_t			 end_us;	/*  location, records */
	int64_t			 at_us;		/* subscriber: instant (required for
						   IP + port), 0 = now */
	int64_t			 until_us;	/* preservation: freeze until */
	bool			 release;	/* preservation: unfreeze instead */
	char			 carrier_ref[BACKEND_REF_MAX];	/* MXC-...; also the
						   preservation reference */
	uint32_t		 action_id;	/* HI-1 action of the task */
	unsigned		 id_index;	/* which identifier of the task (a
						   task may name several) */
	bool			 hold;		/* a small answer is not stored:
						   the callback gets its stored
						   form (data, len) to keep */
};

/*
 * Handed to the callback; valid only during it (copy what you keep).
 *
 * Every answer that arrived is also in the results store (when the set has
 * one) as result_name, "<carrier_ref>.<action_id>.<id_index>", durable
 * before the callback runs (a small answer to a query with hold excepted:
 * then stored is false and data, len are what would have been stored):
 * streamed ones (historical location, communication records) only there,
 * chunk by chunk; small ones (subscriber, location, preservation) there as one record and
 * decoded here too. count and sha256 follow the protocol's RECORD DIGEST:
 * SHA-256 over, for each record, its 32-bit big-endian length and its
 * canonical encoding; a small answer counts as one record.
 */
struct backend_result {
	enum backend_outcome		 outcome;
	const struct backend_query	*query;		/* as given */
	const char			*backend;	/* its name; "" if none */
	unsigned			 attempts;	/* 0: failed fast */
	uint64_t			 duration_us;	/* backend_call to callback */
	const char			*detail;	/* why, for logs and the
							   journal; never data */
	/* BACKEND_OK only: */
	uint64_t			 count;		/* records */
	uint8_t				 sha256[32];	/* checked against the
							   back end's summary */
	bool				 stored;	/* in the results store */
	char				 result_name[BACKEND_RESULT_NAME_MAX];
	/* A held small answer (query.hold): its stored form, for backend_store(). */
	const uint8_t			*data;
	size_t				 len;
	/* The decoded small answer, NULL for other types (see backend.pb-c.h). */
	const Warrant__Backend__Subscriber	*subscriber;
	const Warrant__Backend__Location	*location;
	const Warrant__Backend__PreservationAck	*preservation;
};

/* Runs exactly once per accepted call, on the loop thread. */
typedef void (*backend_cb)(const struct backend_result *, void *arg);

/*
 * Build the back ends conf names (conf->backends): TLS contexts, pools
 * (connecting at once, in the background), breakers. results is the store
 * answers go to (the daemon owns it: delivery, purge and expiry use it too);
 * with NULL nothing is stored and streamed answers fail with BACKEND_STORAGE.
 * The set keeps a pointer to results and nothing of conf. Returns NULL,
 * having logged why, if a TLS file cannot be loaded.
 */
struct backend_set	*backend_set_new(struct event_base *, const struct wd_conf *,
			    struct results *);
/*
 * Close every connection; every pending callback runs first, with
 * BACKEND_CANCELLED. Call before the event base and results store are freed.
 */
void			 backend_set_free(struct backend_set *);

/*
 * Start a call. Returns 0: cb will run exactly once, on the loop, never
 * before backend_call() returns (even when it fails at once, e.g. no back
 * end serves the type or its breaker is open). Returns -1 only if out of
 * memory: cb will not run.
 */
int			 backend_call(struct backend_set *, const struct backend_query *,
			    backend_cb cb, void *arg);

/*
 * Store a held small answer (backend_result.data, len of a call made with
 * hold) as result "<carrier_ref>.<action_id>.<id_index>" of q, one record:
 * written, then made durable on the finisher thread. cb runs once, on the
 * loop, never before this returns: BACKEND_OK with stored set once the
 * result is durable, BACKEND_STORAGE if it could not be. -1 (cb will not
 * run) if the set is being freed, has no results store, or is out of memory.
 */
int			 backend_store(struct backend_set *, const struct backend_query *,
			    const uint8_t *data, size_t len, backend_cb cb, void *arg);

/*
 * For warrantd -t: every back end's TLS files load and match, and the
 * results key is usable. Connects to nothing; logs each problem; -1 if any.
 */
int			 backend_check(const struct wd_conf *);

/* Whether a back end is configured for this request type. */
bool			 backend_serves(const struct backend_set *, enum wd_reqtype);
/* Calls accepted whose callback has not run yet (drain at stop). */
unsigned		 backend_pending(const struct backend_set *);
/* One line for sd_notify STATUS: "hlr-main 4/4 up closed, cdr 0/2 up open". */
void			 backend_status(const struct backend_set *, char *buf, size_t len);
/* The same, one call per back end (the desk's /metrics and /healthz). */
typedef void (*backend_each_cb)(const char *name, unsigned up, unsigned conns,
    const char *breaker, void *arg);
void			 backend_each(const struct backend_set *, backend_each_cb,
			    void *arg);

const char		*backend_outcome_name(enum backend_outcome);	/* "not-found" */

#endif
