/*
 * hi1_out — internals of the HI-1 response builder (lib/hi1_response.c)
 * shared with src/warrantd/hi1_delivery.c, which writes results (DeliveryObjects)
 * into the same accepted answers. Not an API: only those two files include
 * it, and what it declares keeps the builder's guarantees (every string
 * escaped and made valid UTF-8 by hi1_add; any failure sets oom and the
 * message is not produced).
 */
#ifndef WD_HI1_OUT_H
#define WD_HI1_OUT_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "hi1.h"

struct hi1_pieces;

/* Each answer's data and manifest (a GET of 16 parts of 16 KiB: 17). */
#define HI1_SPLICE_MAX		(2 * HI1_MAX_ACTIONS)
#define HI1_SPLICE_MARK_LEN	40	/* "wd-splice-" and 30 random hex digits */

/*
 * Bytes written as base64 into the serialised message rather than through
 * the tree (a DeliveryObject's Data: up to 1 MiB, 1.4 MB of base64): the
 * tree holds a marker in their place, random per message so that no text
 * an authority sent can pose as one, and hi1_out_finish encodes the bytes
 * straight into the output where the marker is. Saves the base64 copy,
 * the text node's copy and the serialiser's growing buffer (bench/lifecycle).
 * The bytes must stay valid until hi1_out_finish. A streamed splice has
 * no bytes yet (data NULL, stream its source): hi1_out_finish_pieces
 * leaves a cut where its base64 goes, and the caller streams it there.
 */
struct hi1_splice {
	const uint8_t	*data;
	const void	*stream;
	size_t		 len;
	char		 mark[HI1_SPLICE_MARK_LEN + 1];
};

/* A response under construction; any failed allocation sets oom. */
struct hi1_out {
	xmlDocPtr	 doc;
	xmlNodePtr	 root;
	xmlNsPtr	 core, xsi, common, task, auth;
	int		 oom;
	struct hi1_splice splice[HI1_SPLICE_MAX];
	size_t		 nsplice;
};

/* Add ns:name under parent with text (made valid UTF-8, at most ~1 KiB). */
xmlNodePtr	 hi1_add(struct hi1_out *, xmlNodePtr parent, xmlNsPtr ns,
		    const char *name, const char *text);
/* [A-Z0-9][A-Z0-9-]{1,31}: the profile's endpoint and owner identifiers. */
int		 hi1_endpoint_ok(const char *);
/* ExternalIdentifier: 1-128 characters, one line, no surrounding blanks. */
int		 hi1_ref_ok(const char *);

/* A message being built: declares the namespaces on the root. 0 or -1. */
int		 hi1_out_init(struct hi1_out *);
/* Header and an empty payload ("ResponsePayload", "RequestPayload"). */
xmlNodePtr	 hi1_out_header(struct hi1_out *, const struct hi1_response_header *,
		    const char *payload_kind);
/*
 * The marker to put in the tree where the base64 of data goes (the text
 * of a node marked xmlStringTextNoenc), or NULL when the message has no
 * room for another (the caller then encodes into the tree itself).
 */
const char	*hi1_out_splice(struct hi1_out *, const uint8_t *data,
		    size_t len);
/* The marker for len bytes that the caller streams later (see above). */
const char	*hi1_out_splice_stream(struct hi1_out *, const void *stream,
		    size_t len);
/* Serialise (frees the tree): a malloc'd NUL-terminated message or NULL. */
char		*hi1_out_finish(struct hi1_out *, size_t *len);
/* The same with streamed splices left as cuts; 0 or -1 (logged). */
int		 hi1_out_finish_pieces(struct hi1_out *, struct hi1_pieces *);
/* An ActionResponse with its ActionIdentifier under list. */
xmlNodePtr	 hi1_action_response(struct hi1_out *, xmlNodePtr list, uint32_t action);
/* ErrorInformation under parent: the code and "<short name>: <detail>". */
void		 hi1_error_info(struct hi1_out *, xmlNodePtr parent,
		    enum wd_errcode code, const char *detail);

#endif
