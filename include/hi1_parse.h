/*
 * hi1_parse — reading the HI-1 messages that are not requests to the
 * carrier, through the same hardened path as requests (lib/hi1.c: byte
 * checks, parse without DTD or entities, structural limits, XSD validation
 * against the profile's templates), and then extraction:
 *  - hi1_parse_response(): any response (CREATE/GET/UPDATE/LIST/DELIVER
 *    responses, ErrorInformation), as one outcome per ActionResponse. The
 *    gateway reads an authority's DELIVERResponse with it (src/warrantd/push.c),
 *    warrantctl the carrier's answers.
 *  - hi1_parse_deliver(): a DELIVER request, as an authority's endpoint
 *    receives it (warrantctl receive): DeliveryObjects with their result
 *    document and manifest decoded from base64 (checksums are the caller's
 *    to verify), and NotificationObjects.
 * Every string kept is bounded and printable; texts from the other side
 * (ErrorDescription) are cut, never refused for their length.
 */
#ifndef WD_HI1_PARSE_H
#define WD_HI1_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hi1.h"

#define HI1_ERRTEXT_LEN		256	/* ErrorDescription kept (bytes) */
#define HI1_NOTE_MAX		(4096 * 4)	/* NotificationDetails, bytes */
#define HI1_BINARY_MAX		(1024 * 1024)	/* decoded Data */

/* The header every HI-1 message carries. */
struct hi1_msg_header {
	char		sender_id[HI1_ID_LEN + 1];
	char		receiver_id[HI1_ID_LEN + 1];
	char		transaction_id[HI1_UUID_LEN + 1];
	int64_t		timestamp_us;
};

/* One ActionResponse. */
struct hi1_outcome {
	uint32_t	action_id;
	enum hi1_verb	verb;		/* which response (unset if error) */
	bool		error;		/* ErrorInformation instead */
	uint32_t	error_code;	/* capped at UINT32_MAX */
	char		error_text[HI1_ERRTEXT_LEN];
	/* CREATE/UPDATE/DELIVER: Identifier; GET: the object's identifier. */
	char		identifier[HI1_UUID_LEN + 1];
	enum hi1_kind	kind;		/* the HI1Object's type, if one came */
	size_t		nrecords;	/* LIST: ListResponseRecords */
};

struct hi1_response {
	struct hi1_msg_header h;
	bool		error;		/* a message-level ErrorInformation */
	uint32_t	error_code;
	char		error_text[HI1_ERRTEXT_LEN];
	struct hi1_outcome actions[HI1_MAX_ACTIONS];
	size_t		nactions;
};

/*
 * Parse and validate an untrusted response of len bytes. 0 with *resp
 * filled, or -1 with *err set (a request, or anything invalid). Only
 * structure is judged here: what the outcomes mean is the caller's.
 */
int	hi1_parse_response(const struct hi1_schema *, const char *body,
	    size_t len, struct hi1_response *resp, struct wd_error *err);

/* Decoded BinaryData. */
struct hi1_binary {
	uint8_t		*data;		/* malloc'd, len bytes */
	size_t		 len;
	char		 checksum[65];	/* as declared: lowercase hex SHA-256 */
};

/* One DELIVER action's object. */
struct hi1_delivered {
	uint32_t	action_id;
	enum hi1_kind	kind;		/* HI1_OBJ_DELIVERY or _NOTIFICATION */
	char		object_id[HI1_UUID_LEN + 1];	/* = DELIVER Identifier */
	char		owner[HI1_ID_LEN + 1];
	uint32_t	generation;	/* 0 if absent */
	char		external_id[HI1_REF_LEN + 1];	/* "" if absent */
	char		assoc[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];
	size_t		nassoc;		/* the first HI1_MAX_ASSOC kept */
	/* DeliveryObject */
	char		ldid[HI1_REF_LEN + 1];
	char		delivery_id[HI1_UUID_LEN + 1];
	uint32_t	seq;
	bool		last;
	bool		has_data;	/* Delivery/BinaryData */
	struct hi1_binary data;
	bool		has_manifest;	/* Manifest/.../BinaryData */
	struct hi1_binary manifest;
	/* NotificationObject */
	char		*details;	/* malloc'd, printable UTF-8 */
	char		note_type[64];
	bool		new_note;
	int64_t		noted_us;
};

struct hi1_deliver {
	struct hi1_msg_header h;
	struct hi1_delivered items[HI1_MAX_ACTIONS];
	size_t		n;
};

/*
 * Parse and validate an untrusted DELIVER request: every action a DELIVER
 * of a DeliveryObject or NotificationObject whose ObjectIdentifier is the
 * action's Identifier, action and object identifiers unique. 0 with *d
 * filled (free with hi1_deliver_free), or -1 with *err set and nothing to
 * free. err->has_action names the action at fault where there is one.
 */
int	hi1_parse_deliver(const struct hi1_schema *, const char *body,
	    size_t len, struct hi1_deliver *d, struct wd_error *err);
void	hi1_deliver_free(struct hi1_deliver *);

#endif
