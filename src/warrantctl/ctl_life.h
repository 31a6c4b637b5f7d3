/*
 * ctl_life — warrantctl's follow-up commands for an authority: status,
 * list, fetch, cancel, ratify and extend (docs/warrantctl.md). Four parts:
 *  - ctl_msg.c builds the HI-1 requests (GET, LIST, UPDATE, and the
 *    Warrant DocumentObject CREATEd beside a ratification);
 *  - ctl_answer.c reads the carrier's answers: bounded, hardened parse,
 *    validation against the profile's templates, then extraction;
 *  - ctl_fetch.c checks a delivery part by part against its checksums and
 *    its manifest and writes the verified parts to a directory;
 *  - ctl_life.c is the commands themselves.
 * The daemon uses none of this.
 */
#ifndef WD_CTL_LIFE_H
#define WD_CTL_LIFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hi1.h"

#define CTL_LIST_MAX		HI1_LIST_MAX	/* records in one LIST answer */
#define CTL_ASSOC_MAX		4096	/* AssociatedObjects in an answer */
#define CTL_TEXT_MAX		255	/* characters: names, roles */
#define CTL_REF_MAX		128	/* characters: references */
#define CTL_DATA_MAX		(1024 * 1024)	/* decoded BinaryData */
#define CTL_ORDER_MAX		(64 * 1024)	/* an --order file */

/* ---- ctl_msg.c: requests --------------------------------------------- */

/* A judge's ratification of an urgent order (the --order file). */
struct ctl_order {
	char	judge[4 * CTL_TEXT_MAX + 1];	/* ApproverName */
	char	role[4 * CTL_TEXT_MAX + 1];	/* ApproverRole */
	char	case_ref[4 * CTL_REF_MAX + 1];	/* ApprovalReference */
	char	type[4 * CTL_TEXT_MAX + 1];	/* ApprovalType, "" if none */
	int64_t	approved_us;			/* ApprovalTimestamp */
	char	doc_ref[4 * CTL_REF_MAX + 1];	/* a Warrant document, "" if none */
	char	doc_name[4 * CTL_TEXT_MAX + 1];	/* its DocumentName, "" if none */
};

struct ctl_msg;

/*
 * A request from authority to carrier (both [A-Z0-9][A-Z0-9-]{1,31}), with
 * a fresh TransactionIdentifier; actions are numbered from 0 as they are
 * added, at most HI1_MAX_ACTIONS. Every adder returns 0, or -1 if the
 * message is full or an argument is not what the profile accepts
 * (ctl_msg_error says which). ctl_msg_new returns NULL, with why, if the
 * identifiers are not acceptable or memory runs out.
 */
struct ctl_msg	*ctl_msg_new(const char *authority, const char *carrier,
		    char *why, size_t whylen);
void		 ctl_msg_free(struct ctl_msg *);
size_t		 ctl_msg_count(const struct ctl_msg *);
/* Why the last adder returned -1. */
const char	*ctl_msg_error(const struct ctl_msg *);
int		 ctl_msg_get(struct ctl_msg *, const char *oid);
/* type: an ETSI ObjectType value or NULL; since_us < 0: no LastChanged. */
int		 ctl_msg_list(struct ctl_msg *, const char *type, int64_t since_us);
/* UPDATE of a task (LD or LI): DesiredStatus Cancelled. */
int		 ctl_msg_cancel(struct ctl_msg *, enum hi1_kind, const char *oid,
		    const char *owner, uint32_t generation);
/* CREATE of the order's Warrant DocumentObject, identifier oid. */
int		 ctl_msg_document(struct ctl_msg *, const char *oid,
		    const char *owner, const struct ctl_order *);
/* UPDATE ratifying an authorisation; doc_oid links the document or NULL. */
int		 ctl_msg_ratify(struct ctl_msg *, const char *oid, const char *owner,
		    uint32_t generation, const struct ctl_order *,
		    const char *doc_oid);
/* UPDATE extending an authorisation: same StartTime, later EndTime. */
int		 ctl_msg_extend(struct ctl_msg *, const char *oid, const char *owner,
		    uint32_t generation, int64_t start_us, int64_t end_us);
/*
 * The serialised message (malloc'd, NUL-terminated); frees the builder.
 * NULL (the builder freed too) if it has no action or memory ran out.
 */
char		*ctl_msg_finish(struct ctl_msg *, size_t *len);

/*
 * Reads an --order file: UTF-8 "key = value" lines (docs/warrantctl.md).
 * 0, or -1 with why naming the line and what is wrong.
 */
int		 ctl_order_parse(const char *buf, size_t len, struct ctl_order *,
		    char *why, size_t whylen);
/* Text the profile takes: valid UTF-8, one line, no control characters,
   no blanks at either end, 1 to maxchars characters. */
bool		 ctl_text_ok(const char *, size_t maxchars);
bool		 ctl_uuid_ok(const char *);

/* ---- ctl_answer.c: answers ------------------------------------------- */

/* One ListResponseRecord. */
struct ctl_record {
	enum hi1_kind	 kind;
	char		 type[16];		/* ObjectType value */
	char		 id[HI1_UUID_LEN + 1];
	uint32_t	 generation;
	char		 ref[4 * CTL_REF_MAX + 1];	/* ExternalIdentifier */
	int64_t		 changed_us;
};

/* A BinaryData: the base64 text (in the answer's tree) and its Checksum. */
struct ctl_binary {
	const char	*b64;		/* NULL: absent */
	size_t		 b64len;
	char		 checksum[65];	/* lowercase hex SHA-256 */
};

/* An HI1Object of a GET or UPDATE answer, as far as warrantctl uses it. */
struct ctl_object {
	enum hi1_kind	 kind;
	char		 id[HI1_UUID_LEN + 1];
	char		 owner[HI1_ID_LEN + 1];
	uint32_t	 generation;
	char		 ref[4 * CTL_REF_MAX + 1];	/* ExternalIdentifier */
	int64_t		 changed_us;
	char		 (*assoc)[HI1_UUID_LEN + 1];	/* AssociatedObjects */
	size_t		 nassoc;
	char		 status[40];	/* status dictionary value, "" if none */
	unsigned long	 reason_code;	/* StatusReason / InvalidReason */
	char		 reason[512];
	char		 reference[4 * CTL_REF_MAX + 1];	/* LDID, order... */
	char		 detail[4 * CTL_TEXT_MAX + 1];	/* RequestType, LegalType,
							   notification text */
	/* Authorisation */
	bool		 has_timespan;
	int64_t		 start_us, end_us;
	size_t		 napprovals;
	/* Delivery */
	char		 delivery_id[HI1_UUID_LEN + 1];
	uint32_t	 seq;
	bool		 last;
	bool		 has_manifest;
	struct ctl_binary manifest;
	bool		 has_data;
	struct ctl_binary data;
};

enum ctl_reply {
	CTL_R_ERROR = 0,	/* ErrorInformation */
	CTL_R_GET,
	CTL_R_CREATE,
	CTL_R_UPDATE,
	CTL_R_LIST,
	CTL_R_DELIVER
};

struct ctl_action {
	uint32_t		 id;
	enum ctl_reply		 reply;
	unsigned long		 code;		/* CTL_R_ERROR */
	char			 desc[512];
	char			 identifier[HI1_UUID_LEN + 1];	/* CREATE, UPDATE */
	bool			 has_object;
	struct ctl_object	 obj;
	struct ctl_record	*records;	/* CTL_R_LIST */
	size_t			 nrecords;
};

struct ctl_answer {
	void			*doc;		/* the parsed tree (xmlDoc) */
	char			 sender[HI1_ID_LEN + 1];
	bool			 error;		/* message-level ErrorInformation */
	unsigned long		 code;
	char			 desc[512];
	struct ctl_action	*actions;
	size_t			 nactions;
};

/*
 * An answer body: at most CTL_MAX_BODY bytes, no DOCTYPE or entities,
 * bounded attributes, depth and elements, valid under the templates'
 * hi1-mx.xsd (hs), then extracted. Every string kept is cleaned of control
 * characters. 0, or -1 with why (the answer is then not understood).
 */
int	ctl_answer_read(const struct hi1_schema *hs, const char *body,
	    size_t len, struct ctl_answer *, char *why, size_t whylen);
void	ctl_answer_free(struct ctl_answer *);
/*
 * Any XML document from the carrier (answers, manifests, result parts),
 * with the bounds and hardening above but no validation: a tree to free
 * with xmlFreeDoc(), or NULL with why.
 */
struct _xmlDoc *ctl_xml_parse(const char *buf, size_t len, char *why,
	    size_t whylen);
/* The action answering action id, or NULL. */
const struct ctl_action *ctl_answer_find(const struct ctl_answer *, uint32_t id);
/*
 * Paging through LIST: the carrier answers at most CTL_LIST_MAX records,
 * oldest change first, changed at or after the LastChanged asked (whole
 * seconds). After a full page the next is asked from the page's latest
 * second; the records of that second come again and are skipped (same
 * object, same Generation: an object changed since then is given again,
 * in its new state). A full page of one second cannot be paged past.
 */
typedef int (*ctl_record_fn)(void *arg, const struct ctl_record *);
struct ctl_pager;
enum {
	CTL_PAGER_DONE = 0,	/* the last page */
	CTL_PAGER_MORE = 1,	/* ask again from *since_us */
	CTL_PAGER_FAILED = -1,	/* fn returned -1 */
	CTL_PAGER_STALLED = -2	/* a full page gave nothing new */
};
struct ctl_pager *ctl_pager_new(int64_t since_us);	/* < 0: all time */
void	ctl_pager_free(struct ctl_pager *);
/* One page's records: fn for each not given before. */
int	ctl_pager_page(struct ctl_pager *, const struct ctl_record *, size_t n,
	    ctl_record_fn fn, void *arg, int64_t *since_us);
/*
 * Base64 to bytes, at most max: malloc'd into *out (freed by the caller).
 * 0, or -1 if it is not base64 or decodes to more than max bytes.
 */
int	ctl_b64_decode(const char *b64, size_t len, size_t max, uint8_t **out,
	    size_t *outlen);
/* 64 lowercase hex digits of the SHA-256 of data (hex >= 65 bytes). */
void	ctl_sha256_hex(const uint8_t *data, size_t len, char *hex);
/* "Task" for LITask and kin: the ObjectType value of a kind. */
enum hi1_kind ctl_kind_of_type(const char *objecttype);

/* ---- ctl_fetch.c: checking a delivery ------------------------------- */

struct ctl_fetch;

/*
 * One task's delivery: its identifier, its LDID and the carrier's
 * reference (both checked against the manifest), the number of parts the
 * task lists, and the directory the parts go to (existing). Problems are
 * printed to out as they are found, one line each.
 */
struct ctl_fetch *ctl_fetch_new(const char *dir, const char *task_id,
		    const char *ldid, const char *carrier_ref, size_t nparts,
		    FILE *out);
void		 ctl_fetch_free(struct ctl_fetch *);
/*
 * The last part's DeliveryObject, first: its manifest is checked (its
 * Checksum, its format and sums, that it describes this delivery) and
 * written beside the parts. -1 if the delivery cannot be checked at all.
 */
int		 ctl_fetch_manifest(struct ctl_fetch *, const struct ctl_object *);
/*
 * A part's DeliveryObject: its data decoded and checked against its
 * Checksum and the manifest's entry (size, SHA-256, records), then written
 * (temporary name, fsync, rename). A part that fails is not written.
 * 0 if the part is now in the directory, 1 if it failed a check (said on
 * out), -1 on a local error (disk).
 */
int		 ctl_fetch_part(struct ctl_fetch *, const struct ctl_object *);
/* Whether the manifest was read and checked: parts can be checked. */
bool		 ctl_fetch_ready(const struct ctl_fetch *);
/*
 * Whether part seq is already in the directory, intact (after the
 * manifest): then it need not be asked for again. 1 or 0.
 */
int		 ctl_fetch_have(struct ctl_fetch *, uint32_t seq);
/* A part the carrier could not give (its error); counted as missing. */
void		 ctl_fetch_failed(struct ctl_fetch *, uint32_t seq, const char *why);
/*
 * After every part was tried: each of 1..n present and verified, else
 * says which are missing. 0 if the delivery is complete and verified, 1
 * if anything did not match or is missing.
 */
int		 ctl_fetch_finish(struct ctl_fetch *);
/* Parts written or found intact, and records in them. */
size_t		 ctl_fetch_parts_ok(const struct ctl_fetch *);
uint64_t	 ctl_fetch_records(const struct ctl_fetch *);

/* ---- ctl_life.c: the commands ---------------------------------------- */

struct ctl_state;

struct ctl_life_opts {
	const char	*authority;	/* --authority (SenderIdentifier) */
	const char	*carrier;	/* --carrier (ReceiverIdentifier) */
	const char	*templates;	/* --templates DIR */
	const char	*outdir;	/* fetch -o DIR */
	const char	*since;		/* list --since */
	const char	*type;		/* list --type */
	const char	*order;		/* ratify --order FILE */
	const char	*until;		/* extend --until */
	int		 json;		/* status, list: --json */
};

/* Whether name is one of the commands below. */
bool	ctl_life_command(const char *name);
/* Runs command argv[0] with its operands; the exit status (enum ctl_result). */
int	ctl_life_run(struct ctl_state *, const struct ctl_life_opts *,
	    int argc, char **argv);

#endif
