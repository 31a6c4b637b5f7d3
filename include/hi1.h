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

#define HI1_MAX_ACTIONS		16
#define HI1_MAX_IDS		8
#define HI1_MAX_ASSOC		4
#define HI1_UUID_LEN		36
#define HI1_ID_LEN		32	/* authority / carrier ids */
#define HI1_REF_LEN		128	/* LDID, LIID, order references */
#define HI1_TEXT_LEN		256	/* court, judge */
#define HI1_MAX_DEPTH		32	/* element nesting accepted */
#define HI1_MAX_ATTRS		16	/* attributes on any element */

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
	char		reference[HI1_REF_LEN + 1];
	bool		urgent;		/* LegalType UrgentOrder */
	char		court[HI1_TEXT_LEN + 1];	/* AuthorisationJurisdiction */
	char		approver[HI1_TEXT_LEN + 1];	/* judge or prosecutor */
	char		case_number[HI1_REF_LEN + 1];	/* ApprovalReference */
	int64_t		valid_from_us;	/* AuthorisationTimespan */
	int64_t		valid_until_us;
	int64_t		approved_us;	/* ApprovalTimestamp (first) */
	bool		emergency;	/* IsEmergency flag or ApprovalIsEmergency */
};

struct hi1_task {
	uint32_t	action_id;
	char		object_id[HI1_UUID_LEN + 1];
	char		owner[HI1_ID_LEN + 1];
	char		reference[HI1_REF_LEN + 1];	/* LDID or LIID */
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
};

struct hi1_request {
	char		sender_cc[3];
	char		sender_id[HI1_ID_LEN + 1];
	char		receiver_cc[3];
	char		receiver_id[HI1_ID_LEN + 1];
	char		transaction_id[HI1_UUID_LEN + 1];
	int64_t		timestamp_us;
	struct hi1_authorisation auths[HI1_MAX_ACTIONS];
	size_t		nauths;
	struct hi1_task	tasks[HI1_MAX_ACTIONS];
	size_t		ntasks;
};

struct hi1_schema;

/* Library set-up: hardening of libxml2 globals. Call once at start. */
void	hi1_init(void);
void	hi1_cleanup(void);

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
 * authorisation links, window end after start). Fills *req and returns 0, or
 * returns -1 with *err set. Never trusts len or the content; thread-safe
 * given distinct req/err (the schema is only read).
 */
int	hi1_parse_request(const struct hi1_schema *, const char *body, size_t len,
	    struct hi1_request *req, struct wd_error *err);

/* Parse an RFC 3339 / xs:dateTime with zone into µs since the epoch. */
int	hi1_parse_time(const char *s, int64_t *out_us);
/* Format µs since epoch as YYYY-MM-DDTHH:MM:SS.ffffffZ (buf >= 32). */
void	hi1_format_time(int64_t us, char *buf, size_t len);
int	hi1_imei_luhn_ok(const char *digits15);

/* Header fields of a response. */
struct hi1_response_header {
	const char	*carrier_id;	/* our sender id */
	const char	*authority_id;	/* receiver; "UNKNOWN" if not known */
	const char	*transaction_id;/* echo the request's, or a fresh UUID */
	int64_t		 timestamp_us;
};

/* Accepted: one CREATEResponse per action, tasks echoed with carrier ref. */
char	*hi1_build_accepted(const struct hi1_response_header *,
	    const struct hi1_request *, const char *carrier_ref, size_t *len);
/*
 * Refused: if err->has_action and req != NULL, ActionResponses where that
 * action carries the error and every other action WD_ERR_ACTION_NOT_DONE;
 * otherwise a message-level ErrorInformation. Caller frees with free().
 */
char	*hi1_build_error(const struct hi1_response_header *,
	    const struct hi1_request *, const struct wd_error *, size_t *len);

/* A fresh random lowercase UUID v4 (buf >= 37). */
void	hi1_uuid(char *buf, size_t len);

#endif
