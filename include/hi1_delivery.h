/*
 * hi1_delivery — results carried inside HI-1 answers. When the carrier's
 * back end answers a disclosure (LD) task quickly enough, the task's
 * CREATEResponse carries a delivery:DeliveryObject (ETSI TS 103 120
 * Delivery namespace, etc/templates/mx-delivery.xsd) instead of the usual
 * LDTaskObject echo: the result document, base64-encoded with its SHA-256.
 *
 * The result document (namespace urn:warrantd:mx:ld-result:1, schema
 * etc/templates/ld-result.xsd, shaped on TS 102 657's records) is built
 * here from the back end's decoded protobuf answer. Everything in that
 * answer is untrusted: every string is made valid UTF-8 (U+FFFD for what is
 * not), bounded, and escaped by libxml2's writer; identifiers in a wrong
 * format are left out; each change is named in a Remark, never the data.
 * docs/results.md describes the format for integrators.
 */
#ifndef WD_HI1_DELIVERY_H
#define WD_HI1_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "backend.pb-c.h"
#include "hi1.h"

#define HI1_RESULT_NS		"urn:warrantd:mx:ld-result:1"
#define HI1_RESULT_CONTENT_TYPE	"application/vnd.warrantd.ld-result+xml"
/* Largest result document carried in an answer (mx-delivery.xsd's Data). */
#define HI1_RESULT_MAX		(1024 * 1024)

/* Why a task has no data (NoResult/Reason). */
enum hi1_result_reason {
	HI1_RESULT_NOT_FOUND = 0,	/* no subscriber / no fix (BACKEND_NOT_FOUND) */
	HI1_RESULT_NOT_RETAINED,	/* not held (BACKEND_NOT_RETAINED) */
	HI1_RESULT_OUTSIDE_RETENTION	/* window too old (BACKEND_OUTSIDE_RETENTION) */
};

/*
 * Result documents for one task of a request: carrier_ref is the request's
 * carrier reference (MXC-...), t the task as parsed. Each returns a
 * malloc'd NUL-terminated UTF-8 document (length in *len) that the caller
 * frees, or NULL (logged) if the arguments are wrong (the task's type does
 * not match, carrier_ref is not 1-128 printable ASCII characters) or memory
 * runs out.
 *   _subscriber: t->type WD_REQ_SUBSCRIBER
 *   _location:   t->type WD_REQ_LOCATION_RT
 *   _none:       any disclosing type (not preservation, not interception)
 */
char	*hi1_result_subscriber(const char *carrier_ref, const struct hi1_task *t,
	    const Warrant__Backend__Subscriber *s, size_t *len);
char	*hi1_result_location(const char *carrier_ref, const struct hi1_task *t,
	    const Warrant__Backend__Location *l, size_t *len);
char	*hi1_result_none(const char *carrier_ref, const struct hi1_task *t,
	    enum hi1_result_reason reason, size_t *len);

/* One task's result document, for hi1_build_accepted_results. */
struct hi1_task_result {
	uint32_t	 action_id;	/* the task's ActionIdentifier */
	const char	*doc;		/* from hi1_result_*(); not kept */
	size_t		 doc_len;	/* 1 .. HI1_RESULT_MAX */
};

/*
 * hi1_build_accepted, where each task named in results (a disclosing LD
 * task of req, at most once) gets a DeliveryObject carrying its document;
 * every other action is answered exactly as hi1_build_accepted does. NULL
 * (logged) if a result names no such task, repeats one, or is empty or too
 * large, or if memory runs out. Caller frees with free().
 */
char	*hi1_build_accepted_results(const struct hi1_response_header *h,
	    const struct hi1_request *req, const char *carrier_ref,
	    const struct hi1_task_result *results, size_t nresults, size_t *len);

#endif
