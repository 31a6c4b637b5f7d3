/*
 * hi1 — ETSI TS 103 120 (HI-1) messages in warrantd's Mexican profile:
 * hardened parsing of untrusted request bodies, XSD validation against our
 * templates, extraction into struct hi1_request, the profile's semantic
 * checks that a schema cannot express, and building the response messages.
 * Policy (who may ask for what, time windows against "now") is not here:
 * see policy.h.
 */
#ifndef WD_HI1_H
#define WD_HI1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd.h"
#include "wd_time.h"

#define HI1_MAX_ACTIONS		16
#define HI1_MAX_IDS		8
#define HI1_MAX_ASSOC		4
#define HI1_UUID_LEN		36
#define HI1_ID_LEN		32	/* authority / carrier ids */
#define HI1_REF_LEN		128	/* LDID, LIID, order references */
#define HI1_TEXT_LEN		255	/* court, judge */
/*
 * Bytes that hold n characters of UTF-8 text: the profile's limits are XSD
 * maxLength, which counts characters, and a character takes up to 4 bytes.
 * Free-text fields (order references, court, judge) are sized with it, so
 * that every value the schema accepts is extracted whole.
 */
#define HI1_UTF8_SIZE(n)	(4 * (n) + 1)
#define HI1_MAX_DEPTH		32	/* element nesting accepted */
#define HI1_MAX_ATTRS		16	/* attributes on any element */
#define HI1_MAX_APPROVALS	3	/* 2 in a CREATE, + a ratification */
#define HI1_MAX_AUTHS		8	/* authorisations in one message */
#define HI1_MAX_DOCS		2	/* documents in one message */
#define HI1_MAX_UPDATES		4	/* UPDATEs in one message */
#define HI1_URL_LEN		512	/* a DeliveryDetails https URL we keep */
#define HI1_LIST_MAX		1000	/* ListResponseRecords in one answer */

/* The verbs of an ActionRequest (TS 103 120 clause 6.4). */
enum hi1_verb {
	HI1_VERB_CREATE = 0,
	HI1_VERB_GET,
	HI1_VERB_UPDATE,
	HI1_VERB_LIST,
	HI1_VERB_DELIVER
};

/* HI1Object types; values are the journal's ObjectKind. */
enum hi1_kind {
	HI1_OBJ_NONE = 0,
	HI1_OBJ_AUTHORISATION,
	HI1_OBJ_LDTASK,
	HI1_OBJ_LITASK,
	HI1_OBJ_DOCUMENT,
	HI1_OBJ_DELIVERY,
	HI1_OBJ_NOTIFICATION,
	HI1_OBJ__COUNT
};

/* One ApprovalDetails (an order's approval, a document's signature). */
struct hi1_approval {
	char		type[HI1_UTF8_SIZE(HI1_TEXT_LEN)];	/* ApprovalType */
	char		reference[HI1_UTF8_SIZE(HI1_REF_LEN)];	/* ApprovalReference */
	char		approver[HI1_UTF8_SIZE(HI1_TEXT_LEN)];	/* ApproverName */
	char		role[HI1_UTF8_SIZE(HI1_TEXT_LEN)];	/* ApproverRole */
	int64_t		approved_us;			/* ApprovalTimestamp */
	bool		emergency;			/* ApprovalIsEmergency */
};

struct hi1_identifier {
	enum wd_idtype	type;
	char		value[64];	/* as written (digits, or addr:port) */
	char		addr[46];	/* WD_ID_IPPORT: address, no brackets */
	uint16_t	port;		/* WD_ID_IPPORT */
};

struct hi1_authorisation {
	uint32_t	action_id;
	char		object_id[HI1_UUID_LEN + 1];
	char		owner[HI1_ID_LEN + 1];
	char		reference[HI1_UTF8_SIZE(HI1_REF_LEN)];
	bool		urgent;		/* LegalType UrgentOrder */
	char		court[HI1_UTF8_SIZE(HI1_TEXT_LEN)];	/* AuthorisationJurisdiction */
	char		priority[16];	/* AuthorisationPriority, "" if absent */
	int64_t		valid_from_us;	/* AuthorisationTimespan */
	int64_t		valid_until_us;
	int64_t		approved_us;	/* ApprovalTimestamp (first) */
	bool		emergency;	/* IsEmergency flag or ApprovalIsEmergency */
	bool		emergency_flag;	/* AuthorisationFlags IsEmergency */
	struct hi1_approval approvals[HI1_MAX_APPROVALS];
	size_t		napprovals;
	char		docs[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];	/* AssociatedObjects */
	size_t		ndocs;
};

/* A DocumentObject: the judge's resolution, by reference (no body). */
struct hi1_document {
	uint32_t	action_id;
	char		object_id[HI1_UUID_LEN + 1];
	char		owner[HI1_ID_LEN + 1];
	char		reference[HI1_UTF8_SIZE(HI1_REF_LEN)];	/* DocumentReference */
	char		name[HI1_UTF8_SIZE(HI1_TEXT_LEN)];	/* DocumentName */
	bool		has_timespan;
	int64_t		valid_from_us;
	int64_t		valid_until_us;
	struct hi1_approval signatures[HI1_MAX_APPROVALS];
	size_t		nsignatures;
};

/*
 * An UPDATE: the object it names, the Generation it changes, and the one
 * kind of change the profile allows for its type (docs/lifecycle.md).
 */
struct hi1_update {
	uint32_t	action_id;
	enum hi1_kind	kind;
	char		object_id[HI1_UUID_LEN + 1];
	char		owner[HI1_ID_LEN + 1];
	uint32_t	generation;
	bool		cancel;		/* task: DesiredStatus Cancelled */
	bool		ratify;		/* order: the judge's approval added */
	struct hi1_approval approval;
	bool		desired_approved;	/* AuthorisationDesiredStatus */
	bool		extend;		/* order: a later AuthorisationTimespan */
	int64_t		valid_from_us;
	int64_t		valid_until_us;
	char		docs[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];
	size_t		ndocs;
};

/* A GET or a LIST. */
struct hi1_read {
	uint32_t	action_id;
	enum hi1_verb	verb;
	char		object_id[HI1_UUID_LEN + 1];	/* GET */
	enum hi1_kind	type;		/* LIST: ObjectType, HI1_OBJ_NONE = all */
	bool		has_since;	/* LIST: LastChanged */
	int64_t		since_us;
};

/* The actions of a message in the order they came. */
struct hi1_action {
	uint32_t	action_id;
	enum hi1_verb	verb;
	enum hi1_kind	kind;		/* CREATE, UPDATE: the object's type */
	size_t		index;		/* into auths, tasks, docs, updates, reads */
};

struct hi1_task {
	uint32_t	action_id;
	char		object_id[HI1_UUID_LEN + 1];
	char		owner[HI1_ID_LEN + 1];
	char		reference[HI1_REF_LEN + 1];	/* LDID or LIID (ASCII) */
	enum wd_reqtype	type;
	char		assoc[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];
	size_t		nassoc;
	int		auth_index;	/* index into hi1_request.auths, after linking */
	struct hi1_identifier ids[HI1_MAX_IDS];
	size_t		nids;
	bool		has_window;
	int64_t		window_start_us;
	int64_t		window_end_us;
	bool		has_observed;
	int64_t		observed_us;	/* IP + port lookups */
	char		delivery_type[16];	/* LITask: IRIOnly|CCOnly|IRIandCC */
	char		delivery_url[HI1_URL_LEN + 1];	/* first https URL in
						   DeliveryDetails, "" if none */
	bool		emergency;	/* Flags IsEmergency */
};

struct hi1_request {
	char		sender_cc[3];
	char		sender_id[HI1_ID_LEN + 1];
	char		receiver_cc[3];
	char		receiver_id[HI1_ID_LEN + 1];
	char		transaction_id[HI1_UUID_LEN + 1];
	int64_t		timestamp_us;
	struct hi1_authorisation auths[HI1_MAX_AUTHS];
	size_t		nauths;
	struct hi1_task	tasks[HI1_MAX_ACTIONS];
	size_t		ntasks;
	struct hi1_document docs[HI1_MAX_DOCS];
	size_t		ndocs;
	struct hi1_update updates[HI1_MAX_UPDATES];
	size_t		nupdates;
	struct hi1_read	reads[HI1_MAX_ACTIONS];
	size_t		nreads;
	struct hi1_action actions[HI1_MAX_ACTIONS];
	size_t		nactions;
	bool		reading;	/* GET/LIST only (else CREATE/UPDATE only) */
};

struct hi1_schema;

/* Library set-up: hardening of libxml2 globals. Call once at start. */
void	hi1_init(void);
void	hi1_cleanup(void);
/*
 * Untrusted XML of another dialect (X1 answers, src/warrantd/x1.c) through the same
 * hardened path as requests: UTF-8 only, no DOCTYPE or entity, no network,
 * attributes, depth and elements bounded. NULL with err on refusal; the
 * caller frees the document with xmlFreeDoc().
 */
/*
 * The object kind an HI1Object's xsi:type names, in the namespace its prefix
 * has at that element; HI1_OBJ_NONE if it has none (*typed false) or names
 * a type the profile does not know. name gets its local part (len may be 0).
 */
struct _xmlNode;
enum hi1_kind	 hi1_xsi_kind(struct _xmlNode *, bool *typed, char *name,
		    size_t len);
struct _xmlDoc;
struct _xmlDoc	*hi1_xml_read(const char *buf, size_t len, size_t max_body,
		    size_t max_elements, struct wd_error *err);

/*
 * Compile templates_dir/hi1-mx.xsd and load templates_dir/mx-dictionaries.xml.
 * Returns NULL (logging why, with file and line) if either fails: the daemon
 * must not start with a validator that cannot validate.
 */
struct hi1_schema *hi1_schema_load(const char *templates_dir);
void	hi1_schema_free(struct hi1_schema *);

/*
 * Parse and validate an untrusted body of len bytes: hardened parse, schema
 * validation, extraction, profile semantics (unique action and object ids,
 * dictionary values, identifier formats and Luhn digits, task to
 * authorisation links, window end after start, which verb may carry which
 * object and fields; a message either reads (GET, LIST) or changes
 * (CREATE, UPDATE)). Rules that need the objects already held (existence,
 * Generation, state) are the lifecycle's. Fills *req and returns 0, or
 * returns -1 with *err set. Never trusts len or the content; thread-safe
 * given distinct req/err (the schema is only read).
 */
int	hi1_parse_request(const struct hi1_schema *, const char *body, size_t len,
	    struct hi1_request *req, struct wd_error *err);
/*
 * Validate a parsed document against the templates: 0, or -1 with err
 * (203 with the line and the schema's message). warrantctl checks the
 * carrier's answers with it (src/warrantctl/ctl_answer.c).
 */
struct _xmlDoc;
int	hi1_validate(const struct hi1_schema *, struct _xmlDoc *,
	    struct wd_error *err);

/* 15 digits, the last the Luhn digit of the others (wd_luhn.h). */
int	hi1_imei_luhn_ok(const char *digits15);
/* id->type and id->value checked as in a request (addr, port filled): 0 or -1. */
int	hi1_identifier_valid(struct hi1_identifier *id);

/* Header fields of a response. */
struct hi1_response_header {
	const char	*carrier_id;	/* our sender id */
	const char	*authority_id;	/* receiver; "UNKNOWN" if not known */
	const char	*transaction_id;/* echo the request's, or a fresh UUID */
	int64_t		 timestamp_us;
};

/*
 * Refused: if err->has_action and req != NULL, ActionResponses where that
 * action carries the error and every other action WD_ERR_ACTION_NOT_DONE;
 * otherwise a message-level ErrorInformation. Caller frees with free().
 */
char	*hi1_build_error(const struct hi1_response_header *,
	    const struct hi1_request *, const struct wd_error *, size_t *len);

/* A fresh random lowercase UUID v4 (buf >= 37). */
void	hi1_uuid(char *buf, size_t len);

/* Names: "LDTask", "Authorisation"... (the ETSI ObjectType dictionary). */
const char	*hi1_kind_type(enum hi1_kind);
const char	*hi1_verb_name(enum hi1_verb);	/* "GET", "CREATE"... */
/* The action's id and object, for answers: the object id or "". */
const char	*hi1_action_object(const struct hi1_request *, const struct hi1_action *);

#endif
