/*
 * hi1_out — internals of the HI-1 response builder (src/hi1_response.c)
 * shared with src/hi1_delivery.c, which writes results (DeliveryObjects)
 * into the same accepted answers. Not an API: only those two files include
 * it, and what it declares keeps the builder's guarantees (every string
 * escaped and made valid UTF-8 by hi1_add; any failure sets oom and the
 * message is not produced).
 */
#ifndef WD_HI1_OUT_H
#define WD_HI1_OUT_H

#include <stddef.h>

#include <libxml/tree.h>

#include "hi1.h"

/* A response under construction; any failed allocation sets oom. */
struct hi1_out {
	xmlDocPtr	 doc;
	xmlNodePtr	 root;
	xmlNsPtr	 core, xsi, common, task, auth;
	int		 oom;
};

/* Add ns:name under parent with text (made valid UTF-8, at most ~1 KiB). */
xmlNodePtr	 hi1_add(struct hi1_out *, xmlNodePtr parent, xmlNsPtr ns,
		    const char *name, const char *text);
/* Length of the valid UTF-8 sequence (an XML character) at s, or 0. */
size_t		 hi1_utf8_len(const unsigned char *s);
/* [A-Z0-9][A-Z0-9-]{1,31}: the profile's endpoint and owner identifiers. */
int		 hi1_endpoint_ok(const char *);
/* ExternalIdentifier: 1-128 characters, one line, no surrounding blanks. */
int		 hi1_ref_ok(const char *);

/* A message being built: declares the namespaces on the root. 0 or -1. */
int		 hi1_out_init(struct hi1_out *);
/* Header and an empty payload ("ResponsePayload", "RequestPayload"). */
xmlNodePtr	 hi1_out_header(struct hi1_out *, const struct hi1_response_header *,
		    const char *payload_kind);
/* Serialise (frees the tree): a malloc'd NUL-terminated message or NULL. */
char		*hi1_out_finish(struct hi1_out *, size_t *len);
/* An ActionResponse with its ActionIdentifier under list. */
xmlNodePtr	 hi1_action_response(struct hi1_out *, xmlNodePtr list, uint32_t action);
/* ErrorInformation under parent: the code and "<short name>: <detail>". */
void		 hi1_error_info(struct hi1_out *, xmlNodePtr parent,
		    enum wd_errcode code, const char *detail);

#endif
