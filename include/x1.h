/*
 * x1 — ETSI TS 103 221-1 ("X1") messages: the requests the gateway, as
 * ADMF, sends to network elements to provision interceptions, and the
 * reading of their answers (src/warrantd/x1.c, docs/x1.md).
 *
 * Requests are built with libxml2's tree (escaped by the serialiser) and
 * are valid under the official X1 schemas (TS 103 221-1 V1.22.1), which
 * tests/x1/nesim.py checks for every message on the wire. Answers are
 * untrusted: parsed through hi1_xml_read() (no DTD, no entity, no network,
 * bounded size, depth, attributes and elements), then read strictly by
 * hand, since the official schemas are not ours to ship: the container,
 * the message type, the transaction, the identifiers, and exactly what the
 * operation's answer carries. Anything else is a refusal with a reason.
 *
 * Nothing here does I/O or keeps state; src/warrantd/x1_client.c carries the bytes
 * and src/warrantd/x1_prov.c decides what to send.
 */
#ifndef WD_X1_H
#define WD_X1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define X1_UUID_LEN		36
#define X1_ID_LEN		64	/* admfIdentifier, neIdentifier */
#define X1_MAX_TARGETS		8
#define X1_TARGET_LEN		40	/* the longest: an expanded IPv6 */
#define X1_ANSWER_MAX		(16u * 1024 * 1024)
#define X1_HELD_MAX		100000	/* tasks in one GetAllDetails */
#define X1_TEXT_LEN		160	/* an element's errorDescription, cut */

enum x1_op {
	X1_PING = 0,
	X1_CREATE_DESTINATION,
	X1_GET_DESTINATION,
	X1_ACTIVATE,
	X1_MODIFY,
	X1_DEACTIVATE,
	X1_GET_TASK,
	X1_GET_ALL,
	X1_OP__COUNT
};

struct x1_target {
	enum wd_ne_target	 type;
	char			 value[X1_TARGET_LEN + 1];	/* X1 spelling */
};

/* What ActivateTask and ModifyTask carry. */
struct x1_task {
	char			 xid[X1_UUID_LEN + 1];
	struct x1_target	 targets[X1_MAX_TARGETS];
	size_t			 ntargets;
	const char		*delivery;	/* X2Only, X3Only, X2andX3 */
	char			 did[X1_UUID_LEN + 1];
};

/* What CreateDestination carries: where X2/X3 go (the mediation point). */
struct x1_dest {
	char			 did[X1_UUID_LEN + 1];
	char			 addr[64];
	bool			 v6;
	uint16_t		 port;
};

struct x1_msg {
	enum x1_op		 op;
	const char		*admf;		/* our carrier id */
	const char		*ne;		/* the element's name */
	char			 txid[X1_UUID_LEN + 1];	/* fresh, x1_build sets it */
	int64_t			 now_us;
	const struct x1_task	*task;		/* ACTIVATE, MODIFY */
	const struct x1_dest	*dest;		/* CREATE_DESTINATION */
	const char		*id;		/* DEACTIVATE, GET_TASK: XID;
						   GET_DESTINATION: DID */
};

/* A task an element reports holding (GetTaskDetails, GetAllDetails). */
struct x1_held {
	char			 xid[X1_UUID_LEN + 1];
	bool			 failed;	/* provisioningStatus failed */
};

struct x1_answer {
	enum x1_op		 op;
	bool			 error;		/* an ErrorResponse */
	long			 code;		/* its errorCode */
	char			 text[X1_TEXT_LEN + 1];	/* printable, cut */
	char			 txid[X1_UUID_LEN + 1];
	struct x1_held		*held;		/* GET_TASK, GET_ALL (sorted) */
	size_t			 nheld;
	char			(*dids)[X1_UUID_LEN + 1];	/* GET_ALL */
	size_t			 ndids;
};

const char	*x1_op_name(enum x1_op);	/* "ActivateTask" */

/*
 * The message as UTF-8 XML (malloc'ed, *len bytes). m->txid is filled
 * with a fresh random UUID. -1 (logged) on a message that cannot be valid:
 * a missing task or destination, a target not in X1 form.
 */
int	x1_build(struct x1_msg *m, char **out, size_t *len);

/*
 * Read an element's answer to m (op, transaction, element): 0 with *a
 * filled (a->error for an ErrorResponse, which is an answer, not a
 * failure), -1 with why (printable) when the bytes are not an acceptable
 * answer. Free with x1_answer_free().
 */
int	x1_parse(const struct x1_msg *m, const char *body, size_t len,
	    struct x1_answer *a, char *why, size_t whylen);
void	x1_answer_free(struct x1_answer *);

/*
 * A target in X1 form from an HI-1 identifier: E.164 digits, IMSI, IMEI
 * without its check digit, IPv4 dotted, IPv6 fully expanded lowercase
 * (the official patterns). -1 if the identifier has no X1 form.
 */
struct hi1_identifier;
int	x1_target_from(const struct hi1_identifier *, struct x1_target *);

/*
 * Identifiers derived, never drawn: the same task (or destination) always
 * gets the same one, so a retry or a restart can never provision twice
 * (UUID version 8, from SHA-256 of a label and the parts).
 */
void	x1_derive_uuid(const char *label, const char *a, const char *b,
	    char out[X1_UUID_LEN + 1]);
/* The HI-1 TaskDeliveryType as an X1 DeliveryType (X2andX3 by default). */
const char *x1_delivery_type(const char *hi1_delivery);

#endif
