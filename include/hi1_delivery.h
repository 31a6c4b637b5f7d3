/*
 * hi1_delivery — the result documents that DeliveryObjects carry (the
 * envelope is lib/hi1_object.c's): for a quick lookup in the answer to its
 * CREATE, and in the parts a task's results are cut into (src/warrantd/ldpack.c).
 *
 * The result document (namespace urn:warrantd:mx:ld-result:1, schema
 * etc/templates/ld-result.xsd, shaped on TS 102 657's records) is built
 * here from the back end's decoded protobuf answer. Everything in that
 * answer is untrusted: every string is made valid UTF-8 (U+FFFD for what is
 * not), bounded, and escaped by libxml2's writer; identifiers in a wrong
 * format are left out; each change is named in a Remark, never the data.
 * docs/results.md describes the format for integrators. Records results
 * (historical location, communication records) are built here record by
 * record (hi1_records_*) and cut into parts by src/warrantd/ldpack.c.
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

/*
 * Whether carrier_ref and t can head a result document (the checks the
 * builders above log about), without logging.
 */
int	hi1_result_task_ok(const char *carrier_ref, const struct hi1_task *t);

/*
 * A records document (LocationRecords for t->type WD_REQ_LOCATION_HIST,
 * CommunicationRecords for WD_REQ_RECORDS), written one back-end Record at
 * a time and never more than max bytes once finished: what results
 * delivered in parts are made of (src/warrantd/ldpack.c). The same rules as above
 * apply to each record; a record whose required elements are not in their
 * format (Time; Service, StartTime) is left out whole, with the Remark
 * "<container>/Record" Omitted. Memory: the document so far, plus one
 * record. None of these log: *why says what failed (never data).
 *
 * _new: NULL if t or carrier_ref cannot head a result document, or out of
 *   memory. max must leave room for the header and one record with its
 *   Remarks (LDPACK_PART_MIN, 16 KiB, does).
 * _add: 1 if the record is in (written, or left out with its Remark); 0 if
 *   it would take the document over max: nothing changed, finish this one
 *   and add the record to a new document; -1 on a record of the wrong kind,
 *   out of memory, or a first record that does not fit.
 * _finish: the document, malloc'd and NUL-terminated (length in *len), or
 *   NULL; frees h either way. Without a written record it says NoResult,
 *   NotRetained (an empty window, or every record left out).
 */
struct hi1_records;

struct hi1_records	*hi1_records_new(const char *carrier_ref,
			    const struct hi1_task *t, size_t max, const char **why);
int			 hi1_records_add(struct hi1_records *,
			    const Warrant__Backend__Record *, const char **why);
uint64_t		 hi1_records_count(const struct hi1_records *);	/* written */
uint64_t		 hi1_records_omitted(const struct hi1_records *);
char			*hi1_records_finish(struct hi1_records *, size_t *len,
			    const char **why);
void			 hi1_records_free(struct hi1_records *);

#endif
