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
	xmlNsPtr	 core, xsi, common, task;
	int		 oom;
};

/*
 * Writes the HI1Object of task t into its CREATEResponse cr (after the
 * Identifier) and returns 1, or returns 0 to let the usual echo be written.
 * On failure it sets o->oom (the whole answer then fails) and returns 1.
 */
typedef int (*hi1_object_fn)(struct hi1_out *o, xmlNodePtr cr,
    const struct hi1_task *t, void *arg);

/* Add ns:name under parent with text (made valid UTF-8, at most ~1 KiB). */
xmlNodePtr	 hi1_add(struct hi1_out *, xmlNodePtr parent, xmlNsPtr ns,
		    const char *name, const char *text);
/* Length of the valid UTF-8 sequence (an XML character) at s, or 0. */
size_t		 hi1_utf8_len(const unsigned char *s);
/* [A-Z0-9][A-Z0-9-]{1,31}: the profile's endpoint and owner identifiers. */
int		 hi1_endpoint_ok(const char *);
/* ExternalIdentifier: 1-128 characters, one line, no surrounding blanks. */
int		 hi1_ref_ok(const char *);

/* hi1_build_accepted, with obj choosing each task's HI1Object. */
char		*hi1_build_accepted_with(const struct hi1_response_header *,
		    const struct hi1_request *, const char *carrier_ref,
		    hi1_object_fn obj, void *arg, size_t *len);

#endif
