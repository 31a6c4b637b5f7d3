/*
 * ldpack — one disclosure (LD) task's stored results cut into the parts of
 * a delivery. For each identifier of the task, in order, the back end's
 * answer in the results store (or the reason there is none) becomes one or
 * more LDResult documents (etc/templates/ld-result.xsd) of at most
 * part_max bytes, each written into the store as "<prefix>.p<N>", N from 1;
 * a part holds one identifier's data only. The manifest (namespace
 * urn:warrantd:mx:ld-manifest:1, etc/templates/ld-manifest.xsd) lists the
 * parts with their record counts, sizes and SHA-256s. docs/results.md
 * ("Results delivered in parts") describes both for integrators; the caller
 * wraps them in DeliveryObjects.
 *
 * ldpack_pack() blocks on the disk and is meant for a worker thread: it
 * touches no event loop and no global state but libxml2's per-thread state
 * (libxml2 initialised first, as hi1_init() does), and two calls may run at
 * once on different tasks and prefixes (the store is only used through
 * readers and writers of their own). It cannot be interrupted: a 1,000,000
 * record result takes seconds.
 *
 * Memory, whatever the size of the result: one part (at most part_max
 * bytes, plus one record being tried, about 3 KiB), one chunk of the
 * stored result (RESULTS_CHUNK_MAX, 1 MiB, plus its frame), the store's
 * 64 KiB write buffer and one decoded record, plus sizeof(struct
 * ldpack_part), 160 bytes, per part written (the list returned). With the
 * default 1 MiB parts that is about 2.2 MiB: tests/unit/test_ldpack.c
 * measures the heap's peak growth over 1,000,000 records (2.1 MiB, 237
 * parts) and fails it above 16 MiB.
 *
 * Nothing here logs the contents; the reasons returned name stored results
 * and counts, never data, and the caller logs them (once).
 */
#ifndef WD_LDPACK_H
#define WD_LDPACK_H

#include <stddef.h>
#include <stdint.h>

#include "hi1.h"
#include "hi1_delivery.h"
#include "results.h"

#define LDPACK_NS		"urn:warrantd:mx:ld-manifest:1"
#define LDPACK_CONTENT_TYPE	"application/vnd.warrantd.ld-manifest+xml"
#define LDPACK_PART_DEFAULT	HI1_RESULT_MAX	/* 1 MiB: mx-delivery.xsd's Data */
#define LDPACK_PART_MIN		(16 * 1024)	/* the header, one record and
						   every Remark it can cause */
#define LDPACK_WHY_MAX		256		/* a reason, with its NUL */

/* What the back end gave for one identifier of the task. */
struct ldpack_outcome {
	const char		*result;	/* stored result name; NULL: no data */
	enum hi1_result_reason	 reason;	/* why there is none (result NULL) */
	const uint8_t		*sha256;	/* NULL, or the SHA-256 the journal
						   holds for it: the stored result
						   must be that one */
};

struct ldpack_args {
	struct results			*store;
	const char			*carrier_ref;	/* MXC-... */
	const struct hi1_task		*task;		/* a disclosing LD task */
	const struct ldpack_outcome	*outcomes;	/* task->nids, by index */
	size_t				 part_max;	/* 0: LDPACK_PART_DEFAULT */
	const char			*prefix;	/* a result name of at most
							   83 bytes */
};

struct ldpack_part {
	unsigned	 seq;		/* 1 .. nparts */
	unsigned	 id_index;	/* the task's identifier, from 0 */
	uint64_t	 records;	/* Record elements; 1 for a Subscriber or
					   Location, 0 for NoResult */
	uint64_t	 omitted;	/* records left out (Remark) */
	size_t		 size;		/* bytes of the document */
	uint8_t		 sha256[32];	/* of those bytes */
	char		 name[RESULTS_NAME_MAX];	/* "<prefix>.p<seq>" */
};

struct ldpack {
	char			 carrier_ref[HI1_REF_LEN + 1];
	char			 ldid[HI1_REF_LEN + 1];
	enum wd_reqtype		 type;
	struct ldpack_part	*parts;
	size_t			 nparts;	/* >= 1: one per identifier at least */
	uint64_t		 records;	/* sum of the parts' */
	uint64_t		 omitted;
};

/*
 * Pack the task's results. Returns the parts, durable in the store, or
 * NULL with why (LDPACK_WHY_MAX bytes suffice) saying what failed: bad
 * arguments, a stored result missing, failing authentication or not what
 * the task asked for, the store unable to write, out of memory. On failure
 * no part is left in the store. The stored results are not changed.
 */
struct ldpack	*ldpack_pack(const struct ldpack_args *, char *why, size_t whylen);
void		 ldpack_free(struct ldpack *);

/*
 * The manifest of pk for the delivery delivery_id (a lowercase UUID, as
 * ETSI's): malloc'd NUL-terminated UTF-8, length in *len, or NULL (logged)
 * if delivery_id is not a UUID or memory runs out.
 */
char		*ldpack_manifest(const struct ldpack *pk, const char *delivery_id,
		    size_t *len);

#endif
