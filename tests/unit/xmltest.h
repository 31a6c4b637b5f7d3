/*
 * xmltest — what the unit tests of result documents share: compiling one
 * of our templates (etc/templates/ under TOP_SRCDIR) and parsing a document
 * strictly and validating it, failing the test with the document if either
 * goes wrong; counting nodes by XPath; the task a result answers. Used by
 * test_delivery and test_ldpack.
 */
#ifndef WD_XMLTEST_H
#define WD_XMLTEST_H

#include <stddef.h>

#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>

#include "hi1.h"

/* etc/templates/<file>, compiled; the test fails if it does not compile. */
xmlSchemaPtr	xmltest_compile(const char *file);
/* xml (len bytes, NUL-terminated) parsed without network and valid; freed
   by the caller. what names it in the failure. */
xmlDocPtr	xmltest_valid(const char *xml, size_t len, xmlSchemaPtr xsd,
		    const char *what);

/*
 * The nodes matching xpath (freed by the caller), with the prefixes r:
 * (ld-result), mf: (ld-manifest), c: (HI-1 Core), d: (Delivery), m:
 * (Common) and xsi:; the test fails if xpath does not evaluate.
 */
xmlXPathObjectPtr xmltest_nodes(xmlDocPtr, const char *xpath);
int		xmltest_count(xmlDocPtr, const char *xpath);
/* A task as hi1_parse_request would give it: action 1, owner FGR. */
struct hi1_task	xmltest_task(enum wd_reqtype type, const char *ldid);
/* The result document has exactly one Remark with this Field and Issue. */
void		xmltest_remark(xmlDocPtr, const char *field, const char *issue);

#endif
