/*
 * xmltest — schema compilation and strict validation for the unit tests of
 * result documents (see xmltest.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "xmltest.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

xmlSchemaPtr
xmltest_compile(const char *file)
{
	xmlSchemaParserCtxtPtr	 pc;
	xmlSchemaPtr		 xsd;
	char			 path[512];

	snprintf(path, sizeof(path), "%s/etc/templates/%s", TOP_SRCDIR, file);
	assert_non_null(pc = xmlSchemaNewParserCtxt(path));
	xsd = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (xsd == NULL)
		fail_msg("%s does not compile", path);
	return xsd;
}

xmlDocPtr
xmltest_valid(const char *xml, size_t len, xmlSchemaPtr xsd, const char *what)
{
	xmlSchemaValidCtxtPtr	 vc;
	xmlDocPtr		 doc;
	int			 rc;

	assert_int_equal(strlen(xml), len);
	doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);
	if (doc == NULL)
		fail_msg("%s: not well-formed:\n%.4000s", what, xml);
	assert_non_null(vc = xmlSchemaNewValidCtxt(xsd));
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	if (rc != 0)
		fail_msg("%s: not valid:\n%.4000s", what, xml);
	return doc;
}

xmlXPathObjectPtr
xmltest_nodes(xmlDocPtr doc, const char *xpath)
{
	static const char	*ns[][2] = {
		{ "r", "urn:warrantd:mx:ld-result:1" },
		{ "mf", "urn:warrantd:mx:ld-manifest:1" },
		{ "c", "http://uri.etsi.org/03120/common/2019/10/Core" },
		{ "d", "http://uri.etsi.org/03120/common/2019/10/Delivery" },
		{ "m", "http://uri.etsi.org/03120/common/2016/02/Common" },
		{ "xsi", "http://www.w3.org/2001/XMLSchema-instance" },
	};
	xmlXPathContextPtr	 ctx;
	xmlXPathObjectPtr	 obj;

	assert_non_null(ctx = xmlXPathNewContext(doc));
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		xmlXPathRegisterNs(ctx, BAD_CAST ns[i][0], BAD_CAST ns[i][1]);
	obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
	xmlXPathFreeContext(ctx);
	if (obj == NULL)
		fail_msg("%s: does not evaluate", xpath);
	return obj;
}

int
xmltest_count(xmlDocPtr doc, const char *xpath)
{
	xmlXPathObjectPtr	 obj = xmltest_nodes(doc, xpath);
	int			 n = obj->nodesetval ? obj->nodesetval->nodeNr : 0;

	xmlXPathFreeObject(obj);
	return n;
}

void
xmltest_remark(xmlDocPtr doc, const char *field, const char *issue)
{
	char	 path[256];

	snprintf(path, sizeof(path), "/r:LDResult/r:Remarks/r:Remark"
	    "[r:Field='%s'][r:Issue='%s']", field, issue);
	if (xmltest_count(doc, path) != 1)
		fail_msg("no remark %s %s", field, issue);
}

struct hi1_task
xmltest_task(enum wd_reqtype type, const char *ldid)
{
	struct hi1_task	 t;

	memset(&t, 0, sizeof(t));
	t.action_id = 1;
	t.type = type;
	snprintf(t.object_id, sizeof(t.object_id),
	    "a84c47a9-8ef7-4a84-b934-b99e119e395a");
	snprintf(t.owner, sizeof(t.owner), "FGR");
	snprintf(t.reference, sizeof(t.reference), "%s", ldid);
	return t;
}
