/*
 * obj — the HI-1 objects the gateway holds for each authority (ETSI TS
 * 103 120: AuthorisationObject, LDTaskObject, LITaskObject, DocumentObject,
 * DeliveryObject, NotificationObject), their states, and how a journal
 * record changes them.
 *
 * The journal is the source of truth (docs/lifecycle.md): an object is
 * created by the record that accepted it and changed only by later records.
 * obj_apply() is that rule, written once: the object store (store.c) runs
 * it when a record becomes durable and again when start-up replays records
 * the store missed, so the store can always be rebuilt from the journal and
 * never holds a state the journal does not justify. It is pure: no I/O, no
 * clock, no configuration — every deadline is an absolute time carried in
 * the records.
 *
 * Status values are exactly those of the ETSI dictionaries LDTaskStatus,
 * TaskStatus, AuthorisationStatus and DocumentStatus.
 */
#ifndef WD_OBJ_H
#define WD_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hi1.h"
#include "journal.pb-c.h"
#include "wd.h"

enum obj_status {
	OST_NONE = 0,
	OST_AWAITING_APPROVAL,
	OST_AWAITING_DISCLOSURE,
	OST_DISCLOSED,
	OST_DISCLOSURE_NOT_AVAILABLE,
	OST_REJECTED,
	OST_CANCELLED,
	OST_ERROR,
	OST_INVALID,
	OST_AWAITING_PROVISIONING,
	OST_ACTIVE,
	OST_SUSPENDED,
	OST_EXPIRED,
	OST_EMERGENCY_APPROVAL,
	OST_APPROVED,
	OST__COUNT
};

#define OBJ_REASON_LEN		256
#define OBJ_NAME_LEN		96	/* results store names */
#define OBJ_NOTE_LEN		2048
#define OBJ_REF_LEN		40	/* carrier references */

/* Per identifier of a task: the back end's outcome, once reported. */
#define OBJ_OUTCOME_PENDING	0	/* else enum backend_outcome + 1 */
/*
 * Outcomes up to this one are answers (data, or why there is none); the
 * rest are failures a new round of calls may fix. Must match
 * enum backend_outcome (include/backend.h), checked there.
 */
#define BACKEND_OUTCOME_LAST_ANSWER	3	/* BACKEND_OUTSIDE_RETENTION */

/*
 * The compliance desk's view of a task (src/warrantd/desk.c): changed only by
 * EVENT_DESK_ACTION records, never a change the authority sees (no
 * Generation, no LastChanged).
 */
#define OBJ_DESK_ID_LEN		65	/* registry ids: 64 + NUL */
#define OBJ_DESK_TEXT_LEN	512
struct obj_desk {
	uint8_t		 review;	/* enum wd_review at acceptance */
	char		 holder[OBJ_DESK_ID_LEN];
	bool		 held;
	char		 hold_note[OBJ_DESK_TEXT_LEN];
	uint32_t	 notes;
	char		 last_note[OBJ_DESK_TEXT_LEN];
	char		 decided_by[OBJ_DESK_ID_LEN];
	bool		 reviewed;	/* review-after: looked at */
	char		 official_fp[65];	/* who asked (hex SHA-256) */
	char		 first_approver[OBJ_DESK_ID_LEN];	/* four-eyes */
	char		 released_note[OBJ_DESK_TEXT_LEN];	/* "": nothing to re-open */
};

struct obj_task {
	struct hi1_task	 t;		/* as created: type, identifiers, window */
	char		 auth_id[HI1_UUID_LEN + 1];
	int64_t		 answer_by_us;	/* the answer deadline (LFTR art. 190) */
	int64_t		 freeze_until_us;	/* preservation: freeze ends */
	int64_t		 keep_until_us;	/* undelivered results destroyed then */
	int64_t		 keep_warn_us;	/* ... and warned about then */
	uint8_t		 outcome[HI1_MAX_IDS];
	/* SHA-256 of each identifier's stored answer, as journaled in its
	 * BACKEND_RESULT (zeros: none): packaging refuses any other. */
	uint8_t		 result_sha256[HI1_MAX_IDS][32];
	uint32_t	 attempts;	/* rounds of back-end calls */
	char		 delivery_id[HI1_UUID_LEN + 1];
	uint32_t	 parts;		/* delivery parts made; 0 = none yet */
	uint32_t	 parts_delivered;
	bool		 deadline_missed;	/* answer_by passed unanswered */
	bool		 keep_warned;
	bool		 lapsed;	/* delivered under an order that lapsed */
	bool		 results_gone;	/* results and parts' data destroyed */
	struct obj_desk	 desk;
};

struct obj_auth {
	struct hi1_authorisation a;	/* as created, approvals added */
	int64_t		 ratify_by_us;	/* urgent and not ratified: lapses then */
	bool		 ratified;
};

struct obj_part {
	char		 task_id[HI1_UUID_LEN + 1];
	char		 delivery_id[HI1_UUID_LEN + 1];
	char		 ldid[HI1_REF_LEN + 1];	/* the task's Reference */
	uint32_t	 seq;		/* 1..parts */
	uint32_t	 parts;
	bool		 last;
	uint8_t		 sha256[32];
	uint64_t	 count;
	uint64_t	 size;
	uint32_t	 id_index;
	char		 result_name[OBJ_NAME_LEN];
	uint8_t		 manifest_sha256[32];	/* last part */
	char		 manifest_name[OBJ_NAME_LEN];
	bool		 delivered;	/* acknowledged (push) or fetched (pull) */
	bool		 destroyed;	/* the data is no longer held */
	uint32_t	 push_failures;
};

struct obj_note {
	char		 text[OBJ_NOTE_LEN];
	char		 assoc[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];
	size_t		 nassoc;
	bool		 delivered;	/* DELIVERed to the authority's endpoint */
};

struct obj {
	enum hi1_kind	 kind;
	char		 owner[HI1_ID_LEN + 1];
	char		 oid[HI1_UUID_LEN + 1];
	char		 ref[OBJ_REF_LEN];	/* the carrier reference */
	uint32_t	 generation;	/* 1 at CREATE, +1 on every change */
	int64_t		 created_us;
	int64_t		 changed_us;	/* LastChanged */
	enum obj_status	 status;
	uint32_t	 reason_code;	/* enum wd_reason; 0 = none */
	char		 reason[OBJ_REASON_LEN];
	uint8_t		 content[32];	/* what was created (obj_content_*) */
	union {
		struct obj_task		task;	/* LDTASK, LITASK */
		struct obj_auth		auth;
		struct hi1_document	doc;
		struct obj_part		part;	/* DELIVERY */
		struct obj_note		note;	/* NOTIFICATION */
	} u;
};

const char	*obj_status_name(enum obj_status);	/* "AwaitingDisclosure" */
/* The dictionary a kind's status comes from: "LDTaskStatus"...; NULL if none. */
const char	*obj_status_dict(enum hi1_kind);
/* Status by dictionary value, only if the kind's dictionary has it. */
int		 obj_status_parse(enum hi1_kind, const char *, enum obj_status *);
/* No further change is possible (for tasks and orders). */
bool		 obj_final(const struct obj *);
/* The earliest clock that still has to act on o, or 0 if none. */
int64_t		 obj_next_due(const struct obj *);
/* For tasks: every identifier's outcome is in. */
bool		 obj_task_outcomes_done(const struct obj *);

/*
 * How a record changes the objects: called with the objects the record
 * names, looked up by the caller (store.c), in the record's order.
 *  - obj_from_record(): objects a record creates (an accepted CREATE: its
 *    authorisations, tasks and documents; a DELIVERY_READY: its parts; any
 *    record: its notifications). n is set; each gets generation 1,
 *    created_us = changed_us = rec->time_us. Returns a malloc'ed array
 *    (free()), NULL with n = 0 if the record creates nothing or on error.
 *  - obj_apply(): one change to an existing object; returns 1 if it changed
 *    (generation and changed_us then follow the record), 0 if the record
 *    does not concern it, -1 if the change is inconsistent with it
 *    (logged; the object is left as it was).
 * Objects named by a record are keyed by (owner, object id); the owner is
 * rec->authority_id.
 */
struct obj	*obj_from_record(const Warrant__Record *rec, size_t *n);
int		 obj_apply(struct obj *, const Warrant__Record *rec);
/* The object ids a record changes (not creates), in order; count in n. */
size_t		 obj_record_targets(const Warrant__Record *rec,
		    const char **ids, size_t max);

/* EVENT_DEADLINE records: which clock (Record.error_code). */
#define OBJ_DEADLINE_ANSWER	1	/* the answer deadline passed */
#define OBJ_DEADLINE_KEEP_WARN	2	/* undelivered results near their end */

/*
 * Protobuf forms for the journal's writers: they point into the source
 * (nothing is allocated), so the source must outlive the message.
 */
struct obj_pb_task {
	Warrant__Task		 task;
	Warrant__Identifier	 id[HI1_MAX_IDS], *idp[HI1_MAX_IDS];
};
struct obj_pb_auth {
	Warrant__Authorisation	 auth;
	Warrant__Approval	 ap[HI1_MAX_APPROVALS], *app[HI1_MAX_APPROVALS];
	char			*docs[HI1_MAX_ASSOC];
};
struct obj_pb_doc {
	Warrant__Document	 doc;
	Warrant__Approval	 ap[HI1_MAX_APPROVALS], *app[HI1_MAX_APPROVALS];
};
void		 obj_task_pb(const struct hi1_task *, const char *auth_id,
		    int64_t answer_by_us, struct obj_pb_task *);
void		 obj_auth_pb(const struct hi1_authorisation *, int64_t ratify_by_us,
		    struct obj_pb_auth *);
void		 obj_doc_pb(const struct hi1_document *, struct obj_pb_doc *);
/* A supervisor's re-open of the desk's state (EVENT_DESK_ACTION "reopen"). */
void		 obj_desk_reopen(struct obj_desk *);
void		 obj_part_pb(const char *oid, const struct obj_part *,
		    Warrant__DeliveryPart *);
void		 obj_approval_pb(const struct hi1_approval *, Warrant__Approval *);
/*
 * The digest of what an authority created, to tell a repeated CREATE
 * (identical: answered with what is held) from a conflicting one. Volatile
 * fields (action number, deadlines the carrier computes) are left out.
 */
void		 obj_content_task(const Warrant__Task *, uint8_t out[32]);
void		 obj_content_auth(const Warrant__Authorisation *, uint8_t out[32]);
void		 obj_content_doc(const Warrant__Document *, uint8_t out[32]);
int		 obj_approval_from_pb(const Warrant__Approval *, struct hi1_approval *);

/*
 * The store's encoding of an object: a Warrant__Record-independent,
 * versioned byte string (protobuf). obj_decode() validates everything it
 * reads as untrusted (bounded strings, known enums) and returns -1 on any
 * inconsistency.
 */
uint8_t		*obj_encode(const struct obj *, size_t *len);
int		 obj_decode(const uint8_t *, size_t, struct obj *);

#endif
