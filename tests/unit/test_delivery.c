/*
 * test_delivery — unit tests of src/warrantd/hi1_delivery.c: result documents built
 * from hand-made back-end answers (subscriber, location, none) are valid
 * under etc/templates/ld-result.xsd and say what the answer said; hostile
 * strings in an answer (markup, invalid UTF-8, control characters, 10 KB
 * names, malformed identifiers) come out escaped, repaired, bounded or left
 * out, with a Remark; accepted answers carrying a DeliveryObject are valid
 * under etc/templates/hi1-mx.xsd and (when ../shared is present) the
 * official ETSI schemas, and their Data decodes to the document with the
 * announced SHA-256; answers without results are byte-for-byte those of
 * hi1_build_accepted; a DeliveryObject in a request is refused; the
 * examples of docs/results.md are real and valid.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/evp.h>

#include "xmltest.h"
#include "hi1.h"
#include "hi1_delivery.h"
#include "hi1_object.h"
#include "obj.h"
#include "accepted.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define US		1000000LL
#define CARRIER_REF	"MXC-20261120-00000042"
#define NS_R		"urn:warrantd:mx:ld-result:1"

/* tests/unit/xmltest.c, under the names this file uses. */
#define compile		xmltest_compile
#define valid_doc	xmltest_valid
#define count_xp	xmltest_count
#define assert_remark	xmltest_remark

static struct hi1_schema	*schema;	/* hi1_schema_load(etc/templates) */
static xmlSchemaPtr		 hi1_xsd;	/* etc/templates/hi1-mx.xsd */
static xmlSchemaPtr		 result_xsd;	/* etc/templates/ld-result.xsd */
static char			 out_dir[64];	/* answers kept for the official check */
static int			 out_count;

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

static char *
read_path(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *
sample(const char *name)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/etc/samples/%s", TOP_SRCDIR, name);
	return read_path(path);
}

static void
keep_for_official(const char *xml, size_t len, const char *tag)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.xml", out_dir, tag);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(xml, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	out_count++;
}

/* The text of the first node matching xpath (prefixes r:, c:, d:), or NULL. */
static char *
xp(xmlDocPtr doc, const char *xpath)
{
	xmlXPathContextPtr	 ctx;
	xmlXPathObjectPtr	 obj;
	xmlChar			*s;
	char			*out = NULL;

	assert_non_null(ctx = xmlXPathNewContext(doc));
	xmlXPathRegisterNs(ctx, BAD_CAST "r", BAD_CAST NS_R);
	xmlXPathRegisterNs(ctx, BAD_CAST "c",
	    BAD_CAST "http://uri.etsi.org/03120/common/2019/10/Core");
	xmlXPathRegisterNs(ctx, BAD_CAST "d",
	    BAD_CAST "http://uri.etsi.org/03120/common/2019/10/Delivery");
	xmlXPathRegisterNs(ctx, BAD_CAST "m",
	    BAD_CAST "http://uri.etsi.org/03120/common/2016/02/Common");
	xmlXPathRegisterNs(ctx, BAD_CAST "task",
	    BAD_CAST "http://uri.etsi.org/03120/common/2020/09/Task");
	xmlXPathRegisterNs(ctx, BAD_CAST "xsi",
	    BAD_CAST "http://www.w3.org/2001/XMLSchema-instance");
	obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
	if (obj != NULL && obj->nodesetval != NULL &&
	    obj->nodesetval->nodeNr > 0) {
		s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
		out = strdup((const char *)s);
		xmlFree(s);
	}
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	return out;
}

static void
assert_xp(xmlDocPtr doc, const char *xpath, const char *want)
{
	char	*got = xp(doc, xpath);

	if (got == NULL)
		fail_msg("%s: absent (want \"%s\")", xpath, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s: \"%s\", want \"%s\"", xpath, got, want);
	free(got);
}

static void
assert_xp_absent(xmlDocPtr doc, const char *xpath)
{
	char	*got = xp(doc, xpath);

	if (got != NULL)
		fail_msg("%s: present (\"%s\")", xpath, got);
}

/* A task as hi1_parse_request would give it. */
static struct hi1_task
task(enum wd_reqtype type)
{
	return xmltest_task(type, "MX-FGR-000123");
}

static size_t
utf8_chars(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int
utf8_valid(const char *s)
{
	return xmlCheckUTF8((const unsigned char *)s) != 0;
}

/* ------------------------------------------------------------------------ */
/* result documents                                                          */

static void
test_result_subscriber(void **state)
{
	Warrant__Backend__Subscriber	 s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	Warrant__Backend__Address	 a = WARRANT__BACKEND__ADDRESS__INIT;
	struct hi1_task			 t = task(WD_REQ_SUBSCRIBER);
	xmlDocPtr			 doc;
	char				*xml, *g;
	size_t				 len;

	(void)state;
	s.given_names = "José Ángel";
	s.first_surname = "Muñoz";
	s.second_surname = "Peña";
	s.curp = "MUPJ800101HDFXXX09";
	s.rfc = "MUÑ&800101AB1";
	a.street = "Av. Insurgentes Sur";
	a.exterior_number = "1602";
	a.interior_number = "4-B";
	a.colonia = "Crédito Constructor";
	a.municipality = "Benito Juárez";
	a.state = WARRANT__BACKEND__MEXICAN_STATE__STATE_CIUDAD_DE_MEXICO;
	a.postal_code = "03940";
	s.address = &a;
	s.msisdn = "525512345678";
	s.imsi = "334020000000001";
	s.imei = "352099001761481";
	s.contract = WARRANT__BACKEND__CONTRACT_TYPE__CONTRACT_POSTPAID;
	s.activation_date = "2019-03-14";
	s.activation_us = 1552582800LL * US;

	assert_non_null(xml = hi1_result_subscriber(CARRIER_REF, &t, &s, &len));
	doc = valid_doc(xml, len, result_xsd, "subscriber result");
	assert_xp(doc, "/r:LDResult/r:CarrierReference", CARRIER_REF);
	assert_xp(doc, "/r:LDResult/r:TaskReference", "MX-FGR-000123");
	assert_xp(doc, "/r:LDResult/r:RequestType", "SubscriberIdentity");
	assert_non_null(g = xp(doc, "/r:LDResult/r:GeneratedAt"));
	assert_int_equal(strlen(g), 27);
	free(g);
	assert_xp(doc, "//r:Subscriber/r:Name/r:GivenNames", "José Ángel");
	assert_xp(doc, "//r:Subscriber/r:Name/r:FirstSurname", "Muñoz");
	assert_xp(doc, "//r:Subscriber/r:Name/r:SecondSurname", "Peña");
	assert_xp(doc, "//r:Subscriber/r:CURP", "MUPJ800101HDFXXX09");
	assert_xp(doc, "//r:Subscriber/r:RFC", "MUÑ&800101AB1");
	assert_xp(doc, "//r:Address/r:Neighbourhood", "Crédito Constructor");
	assert_xp(doc, "//r:Address/r:State/r:Code", "09");
	assert_xp(doc, "//r:Address/r:State/r:Name", "Ciudad de México");
	assert_xp(doc, "//r:Address/r:PostalCode", "03940");
	assert_xp(doc, "//r:Subscriber/r:MSISDN", "525512345678");
	assert_xp(doc, "//r:Subscriber/r:IMSI", "334020000000001");
	assert_xp(doc, "//r:Subscriber/r:IMEI", "352099001761481");
	assert_xp(doc, "//r:Subscriber/r:Contract", "Postpaid");
	assert_xp(doc, "//r:Subscriber/r:ActivationDate", "2019-03-14");
	assert_xp(doc, "//r:Subscriber/r:ActivationTime",
	    "2019-03-14T17:00:00.000000Z");
	assert_xp_absent(doc, "/r:LDResult/r:Remarks");
	/* The & of the RFC is escaped in the bytes, not only in the tree. */
	assert_non_null(strstr(xml, "<RFC>MUÑ&amp;800101AB1</RFC>"));
	assert_non_null(strstr(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
	xmlFreeDoc(doc);
	free(xml);

	/* An empty answer (every field unset) is a valid, empty Subscriber. */
	Warrant__Backend__Subscriber	 empty = WARRANT__BACKEND__SUBSCRIBER__INIT;
	assert_non_null(xml = hi1_result_subscriber(CARRIER_REF, &t, &empty, &len));
	doc = valid_doc(xml, len, result_xsd, "empty subscriber");
	assert_int_equal(count_xp(doc, "//r:Subscriber/*"), 0);
	xmlFreeDoc(doc);
	free(xml);
}

static void
test_result_location(void **state)
{
	Warrant__Backend__Location	 l = WARRANT__BACKEND__LOCATION__INIT;
	Warrant__Backend__Cell		 c = WARRANT__BACKEND__CELL__INIT;
	struct hi1_task			 t = task(WD_REQ_LOCATION_RT);
	xmlDocPtr			 doc;
	char				*xml;
	size_t				 len;

	(void)state;
	c.mcc = "334";
	c.mnc = "020";
	c.lac = 16777215;		/* a 24-bit TAC, at its limit */
	c.ci = 68719476735ULL;		/* a 36-bit NCI, at its limit */
	c.rat = WARRANT__BACKEND__RADIO_ACCESS__RAT_NR;
	c.latitude = 19.4326077;
	c.longitude = -99.1332080;
	c.azimuth_deg = 0;		/* north: written, the site is known */
	l.cell = &c;
	l.latitude = 19.427;
	l.longitude = -99.1677;
	l.accuracy_m = 150;
	l.age_s = 12;
	l.source = WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_NETWORK;
	l.fix_us = 1795190700LL * US + 5;

	assert_non_null(xml = hi1_result_location(CARRIER_REF, &t, &l, &len));
	doc = valid_doc(xml, len, result_xsd, "location result");
	assert_xp(doc, "/r:LDResult/r:RequestType", "RealTimeLocation");
	assert_xp(doc, "//r:ServingCell/r:MCC", "334");
	assert_xp(doc, "//r:ServingCell/r:MNC", "020");
	assert_xp(doc, "//r:ServingCell/r:LAC", "16777215");
	assert_xp(doc, "//r:ServingCell/r:CellIdentity", "68719476735");
	assert_xp(doc, "//r:ServingCell/r:RadioAccess", "NR");
	assert_xp(doc, "//r:ServingCell/r:SitePosition/r:Latitude", "19.432608");
	assert_xp(doc, "//r:ServingCell/r:SitePosition/r:Longitude", "-99.133208");
	assert_xp(doc, "//r:ServingCell/r:Azimuth", "0");
	assert_xp(doc, "//r:Location/r:Position/r:Latitude", "19.427000");
	assert_xp(doc, "//r:Location/r:Position/r:Longitude", "-99.167700");
	assert_xp(doc, "//r:Location/r:Position/r:AccuracyMetres", "150");
	assert_xp(doc, "//r:Location/r:FixTime", "2026-11-20T16:05:00.000005Z");
	assert_xp(doc, "//r:Location/r:AgeSeconds", "12");
	assert_xp(doc, "//r:Location/r:Source", "Network");
	xmlFreeDoc(doc);
	free(xml);

	/* Nothing but the age: no cell, no position, no time, no source. */
	Warrant__Backend__Location	 bare = WARRANT__BACKEND__LOCATION__INIT;
	assert_non_null(xml = hi1_result_location(CARRIER_REF, &t, &bare, &len));
	doc = valid_doc(xml, len, result_xsd, "bare location");
	assert_int_equal(count_xp(doc, "//r:Location/*"), 1);
	assert_xp(doc, "//r:Location/r:AgeSeconds", "0");
	xmlFreeDoc(doc);
	free(xml);
}

static void
test_result_none(void **state)
{
	static const struct {
		enum wd_reqtype		 type;
		enum hi1_result_reason	 reason;
		const char		*rtype, *text;
	} cases[] = {
		{ WD_REQ_SUBSCRIBER, HI1_RESULT_NOT_FOUND, "SubscriberIdentity",
		    "NotFound" },
		{ WD_REQ_LOCATION_RT, HI1_RESULT_NOT_FOUND, "RealTimeLocation",
		    "NotFound" },
		{ WD_REQ_LOCATION_HIST, HI1_RESULT_OUTSIDE_RETENTION,
		    "HistoricalLocation", "OutsideRetention" },
		{ WD_REQ_RECORDS, HI1_RESULT_NOT_RETAINED, "CommunicationRecords",
		    "NotRetained" },
	};
	struct hi1_task	 t;
	xmlDocPtr	 doc;
	char		*xml;
	size_t		 len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = task(cases[i].type);
		assert_non_null(xml = hi1_result_none(CARRIER_REF, &t,
		    cases[i].reason, &len));
		doc = valid_doc(xml, len, result_xsd, "none result");
		assert_xp(doc, "/r:LDResult/r:RequestType", cases[i].rtype);
		assert_xp(doc, "/r:LDResult/r:NoResult/r:Reason", cases[i].text);
		xmlFreeDoc(doc);
		free(xml);
	}
	/* No result document for what discloses nothing over HI-1. */
	t = task(WD_REQ_PRESERVATION);
	assert_null(hi1_result_none(CARRIER_REF, &t, HI1_RESULT_NOT_FOUND, &len));
	t = task(WD_REQ_INTERCEPTION);
	assert_null(hi1_result_none(CARRIER_REF, &t, HI1_RESULT_NOT_FOUND, &len));
	t = task(WD_REQ_SUBSCRIBER);
	assert_null(hi1_result_none(CARRIER_REF, &t, (enum hi1_result_reason)3,
	    &len));
	assert_null(hi1_result_none(CARRIER_REF, NULL, HI1_RESULT_NOT_FOUND,
	    &len));
}

static void
test_result_wrong_arguments(void **state)
{
	Warrant__Backend__Subscriber	 s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	Warrant__Backend__Location	 l = WARRANT__BACKEND__LOCATION__INIT;
	struct hi1_task			 sub = task(WD_REQ_SUBSCRIBER);
	struct hi1_task			 loc = task(WD_REQ_LOCATION_RT);
	char				 long_ref[200];
	size_t				 len;

	(void)state;
	/* The answer must match the task's type. */
	assert_null(hi1_result_subscriber(CARRIER_REF, &loc, &s, &len));
	assert_null(hi1_result_location(CARRIER_REF, &sub, &l, &len));
	assert_null(hi1_result_subscriber(CARRIER_REF, &sub, NULL, &len));
	assert_null(hi1_result_location(CARRIER_REF, &loc, NULL, &len));
	/* The carrier reference: one line of 1-128 printable characters. */
	assert_null(hi1_result_subscriber(NULL, &sub, &s, &len));
	assert_null(hi1_result_subscriber("", &sub, &s, &len));
	assert_null(hi1_result_subscriber("MXC-1\nX", &sub, &s, &len));
	assert_null(hi1_result_subscriber(" MXC-1", &sub, &s, &len));
	assert_null(hi1_result_subscriber("MXC-\xc3\xa9", &sub, &s, &len));
	memset(long_ref, 'A', 129);
	long_ref[129] = '\0';
	assert_null(hi1_result_subscriber(long_ref, &sub, &s, &len));
	long_ref[128] = '\0';
	free(hi1_result_subscriber(long_ref, &sub, &s, &len));
	/* A task reference that is not an LDID (the parser never gives one). */
	snprintf(sub.reference, sizeof(sub.reference), "MX-FGR");
	assert_null(hi1_result_subscriber(CARRIER_REF, &sub, &s, &len));
	snprintf(sub.reference, sizeof(sub.reference), "MX-FGR-<x>");
	assert_null(hi1_result_subscriber(CARRIER_REF, &sub, &s, &len));
}

/* ------------------------------------------------------------------------ */
/* hostile answers                                                           */

static void
test_hostile_subscriber(void **state)
{
	Warrant__Backend__Subscriber	 s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	Warrant__Backend__Address	 a = WARRANT__BACKEND__ADDRESS__INIT;
	struct hi1_task			 t = task(WD_REQ_SUBSCRIBER);
	xmlDocPtr			 doc;
	char				*xml, *big, *got;
	size_t				 len;

	(void)state;
	/* 10 KB of a two-byte character, and 10 KB of blanks around a name. */
	assert_non_null(big = malloc(10 * 1024 + 1));
	for (size_t i = 0; i < 10 * 1024; i += 2)
		memcpy(big + i, "\xc3\xb1", 2);		/* ñ */
	big[10 * 1024] = '\0';
	s.given_names = big;
	s.first_surname = "</Name><CURP>XXXX000000HXXXXXX00</CURP>&amp;]]>\"'";
	s.second_surname = "P\xff\xfe" "a\xc3(z\xed\xa0\x80 \x01\x1b[31m \xe2\x82";
	s.curp = "<CURP>";			/* malformed: left out */
	s.msisdn = "5255123456789";		/* 13 digits */
	s.imsi = "310150123456789";		/* not Mexican */
	s.imei = "35209900176148A";
	s.rfc = "XAXX010101000 ";
	s.contract = (Warrant__Backend__ContractType)7;
	s.activation_date = "2026-02-30";
	s.activation_us = -5;
	a.street = "\n\t  Calle 5 de Mayo\r\n  ";
	a.colonia = " \t ";			/* blank: absent */
	a.municipality = "Ecatepec\nde Morelos";
	a.state = (Warrant__Backend__MexicanState)99;
	a.postal_code = "0394";
	s.address = &a;

	assert_non_null(xml = hi1_result_subscriber(CARRIER_REF, &t, &s, &len));
	assert_true(utf8_valid(xml));
	assert_true(len < 8 * 1024);		/* bounded, whatever came in */
	doc = valid_doc(xml, len, result_xsd, "hostile subscriber");

	/* Cut at 255 characters, on a character boundary. */
	assert_non_null(got = xp(doc, "//r:Name/r:GivenNames"));
	assert_int_equal(utf8_chars(got), 255);
	assert_int_equal(strlen(got), 510);
	free(got);
	assert_remark(doc, "Subscriber/Name/GivenNames", "Truncated");

	/* Markup is text, escaped: the injected CURP is not an element. */
	assert_xp(doc, "//r:Name/r:FirstSurname",
	    "</Name><CURP>XXXX000000HXXXXXX00</CURP>&amp;]]>\"'");
	assert_null(strstr(xml, "<CURP>XXXX"));
	assert_non_null(strstr(xml, "&lt;/Name&gt;&lt;CURP&gt;"));
	assert_non_null(strstr(xml, "&amp;amp;]]&gt;"));
	assert_xp_absent(doc, "//r:Subscriber/r:CURP");
	assert_remark(doc, "Subscriber/CURP", "Omitted");

	/* Invalid UTF-8 and control characters: U+FFFD, one per byte. */
	assert_xp(doc, "//r:Name/r:SecondSurname",
	    "P\xef\xbf\xbd\xef\xbf\xbd" "a\xef\xbf\xbd(z"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd[31m "
	    "\xef\xbf\xbd\xef\xbf\xbd");
	assert_remark(doc, "Subscriber/Name/SecondSurname", "Repaired");

	/* One line, no surrounding blanks; blank text is absent. */
	assert_xp(doc, "//r:Address/r:Street", "Calle 5 de Mayo");
	assert_xp(doc, "//r:Address/r:Municipality", "Ecatepec de Morelos");
	assert_xp_absent(doc, "//r:Address/r:Neighbourhood");

	/* Malformed identifiers and values: left out, each named. */
	assert_xp_absent(doc, "//r:Subscriber/r:MSISDN");
	assert_xp_absent(doc, "//r:Subscriber/r:IMSI");
	assert_xp_absent(doc, "//r:Subscriber/r:IMEI");
	assert_xp_absent(doc, "//r:Subscriber/r:RFC");
	assert_xp_absent(doc, "//r:Subscriber/r:Contract");
	assert_xp_absent(doc, "//r:Subscriber/r:ActivationDate");
	assert_xp_absent(doc, "//r:Subscriber/r:ActivationTime");
	assert_xp_absent(doc, "//r:Address/r:State");
	assert_xp_absent(doc, "//r:Address/r:PostalCode");
	assert_remark(doc, "Subscriber/MSISDN", "Omitted");
	assert_remark(doc, "Subscriber/IMSI", "Omitted");
	assert_remark(doc, "Subscriber/IMEI", "Omitted");
	assert_remark(doc, "Subscriber/RFC", "Omitted");
	assert_remark(doc, "Subscriber/Contract", "Omitted");
	assert_remark(doc, "Subscriber/ActivationDate", "Omitted");
	assert_remark(doc, "Subscriber/ActivationTime", "Omitted");
	assert_remark(doc, "Subscriber/Address/State", "Omitted");
	assert_remark(doc, "Subscriber/Address/PostalCode", "Omitted");
	assert_int_equal(count_xp(doc, "//r:Remark"), 12);
	/* Remarks name fields, never the values. */
	assert_null(strstr(strstr(xml, "<Remarks>"), "5255123456789"));
	xmlFreeDoc(doc);
	free(xml);
	free(big);
}

static void
test_hostile_location(void **state)
{
	Warrant__Backend__Location	 l = WARRANT__BACKEND__LOCATION__INIT;
	Warrant__Backend__Cell		 c = WARRANT__BACKEND__CELL__INIT;
	struct hi1_task			 t = task(WD_REQ_LOCATION_RT);
	xmlDocPtr			 doc;
	char				*xml;
	size_t				 len;
	double				 zero = 0.0;

	(void)state;
	c.mcc = "33<";
	c.mnc = "020";
	c.lac = 1;
	c.ci = 1;
	l.cell = &c;
	l.latitude = zero / zero;		/* NaN */
	l.longitude = -99.1;
	l.fix_us = 253402300800LL * US;		/* year 10000 */
	l.source = (Warrant__Backend__LocationSource)9;

	assert_non_null(xml = hi1_result_location(CARRIER_REF, &t, &l, &len));
	doc = valid_doc(xml, len, result_xsd, "hostile location");
	assert_xp_absent(doc, "//r:ServingCell");
	assert_xp_absent(doc, "//r:Location/r:Position");
	assert_xp_absent(doc, "//r:Location/r:FixTime");
	assert_xp_absent(doc, "//r:Location/r:Source");
	assert_remark(doc, "Location/ServingCell", "Omitted");
	assert_remark(doc, "Location/Position", "Omitted");
	assert_remark(doc, "Location/FixTime", "Omitted");
	assert_remark(doc, "Location/Source", "Omitted");
	xmlFreeDoc(doc);
	free(xml);

	/* A cell identity over 36 bits, a latitude over 90, an azimuth of 360. */
	c.mcc = "334";
	c.ci = 68719476736ULL;
	l.latitude = 90.0000001;
	assert_non_null(xml = hi1_result_location(CARRIER_REF, &t, &l, &len));
	doc = valid_doc(xml, len, result_xsd, "out of range");
	assert_xp_absent(doc, "//r:ServingCell");
	assert_xp_absent(doc, "//r:Location/r:Position");
	xmlFreeDoc(doc);
	free(xml);
	c.ci = 7;
	c.rat = (Warrant__Backend__RadioAccess)5;
	c.latitude = 25.6866;
	c.longitude = -100.3161;
	c.azimuth_deg = 360;
	l.latitude = -90.0;
	l.longitude = 180.0;
	assert_non_null(xml = hi1_result_location(CARRIER_REF, &t, &l, &len));
	doc = valid_doc(xml, len, result_xsd, "edges");
	assert_xp(doc, "//r:ServingCell/r:CellIdentity", "7");
	assert_xp_absent(doc, "//r:ServingCell/r:RadioAccess");
	assert_xp_absent(doc, "//r:ServingCell/r:Azimuth");
	assert_xp(doc, "//r:ServingCell/r:SitePosition/r:Latitude", "25.686600");
	assert_remark(doc, "Location/ServingCell/RadioAccess", "Omitted");
	assert_remark(doc, "Location/ServingCell/Azimuth", "Omitted");
	assert_xp(doc, "//r:Location/r:Position/r:Latitude", "-90.000000");
	assert_xp(doc, "//r:Location/r:Position/r:Longitude", "180.000000");
	xmlFreeDoc(doc);
	free(xml);
}

/* ------------------------------------------------------------------------ */
/* accepted answers with deliveries                                          */

static const struct hi1_response_header *
header(const struct hi1_request *req)
{
	static struct hi1_response_header h;

	h.carrier_id = "MXCARRIER";
	h.authority_id = req->sender_id;
	h.transaction_id = req->transaction_id;
	h.timestamp_us = 1795190712LL * US + 840211;
	return &h;
}

static void
parse_sample(const char *name, struct hi1_request *req)
{
	struct wd_error	 err;
	char		*body = sample(name);

	if (hi1_parse_request(schema, body, strlen(body), req, &err) != 0)
		fail_msg("%s: %d %s", name, err.code, err.text);
	free(body);
}

/* Decode the Data of the DeliveryObject of action `action`, check it. */
static void
check_delivery(xmlDocPtr doc, unsigned action, const char *want,
    size_t want_len)
{
	unsigned char	 md[32];
	char		 path[256], hex[65], *data, *sum;
	unsigned char	*raw;
	size_t		 n, pad;
	int		 got;

	snprintf(path, sizeof(path), "//c:ActionResponse[c:ActionIdentifier="
	    "'%u']/c:CREATEResponse/c:HI1Object/d:Delivery/d:BinaryData/d:Data",
	    action);
	assert_non_null(data = xp(doc, path));
	n = strlen(data);
	assert_true(n % 4 == 0 && n > 0);
	assert_non_null(raw = malloc(n));
	got = EVP_DecodeBlock(raw, (unsigned char *)data, (int)n);
	assert_true(got >= 0);
	pad = (data[n - 1] == '=') + (data[n - 2] == '=');
	assert_int_equal((size_t)got - pad, want_len);
	assert_memory_equal(raw, want, want_len);
	snprintf(path, sizeof(path), "//c:ActionResponse[c:ActionIdentifier="
	    "'%u']/c:CREATEResponse/c:HI1Object/d:Delivery/d:BinaryData/"
	    "d:Checksum", action);
	assert_non_null(sum = xp(doc, path));
	assert_int_equal(EVP_Digest(raw, want_len, md, NULL, EVP_sha256(),
	    NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(sum, hex);
	free(sum);
	free(data);
	free(raw);
}

static void
test_accepted_with_delivery(void **state)
{
	Warrant__Backend__Subscriber	 s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	struct hi1_request		 req, back;
	struct wd_error			 err;
	xmlDocPtr			 doc;
	char				*res, *xml, *oid, *did;
	size_t				 rlen, len;

	(void)state;
	parse_sample("subscriber-msisdn.xml", &req);
	assert_int_equal(req.ntasks, 1);
	s.given_names = "Ana <María>";
	s.first_surname = "López";
	s.msisdn = "525512345678";
	assert_non_null(res = hi1_result_subscriber(CARRIER_REF, &req.tasks[0],
	    &s, &rlen));
	assert_non_null(xml = test_accepted(header(&req), &req, CARRIER_REF, req.tasks[0].action_id, res, rlen,
	    &len));
	doc = valid_doc(xml, len, hi1_xsd, "accepted with delivery");
	keep_for_official(xml, len, "accepted-subscriber-msisdn");

	/* The authorisation's answer is unchanged: its identifier only. */
	assert_xp(doc, "//c:ActionResponse[c:ActionIdentifier='0']/"
	    "c:CREATEResponse/c:Identifier", "43e1f69e-0370-4920-b2a0-a2c325e164f1");
	assert_int_equal(count_xp(doc, "//c:ActionResponse[c:ActionIdentifier="
	    "'0']//c:HI1Object"), 0);
	/* The task's: its identifier, then the DeliveryObject. */
#define T1 "//c:ActionResponse[c:ActionIdentifier='1']/c:CREATEResponse"
	assert_xp(doc, T1 "/c:Identifier", "a84c47a9-8ef7-4a84-b934-b99e119e395a");
	assert_xp(doc, T1 "/c:HI1Object/@xsi:type", "delivery:DeliveryObject");
	assert_xp(doc, T1 "/c:HI1Object/c:CountryCode", "MX");
	assert_xp(doc, T1 "/c:HI1Object/c:OwnerIdentifier", "FGR");
	assert_xp(doc, T1 "/c:HI1Object/c:Generation", "1");
	assert_xp(doc, T1 "/c:HI1Object/c:ExternalIdentifier", CARRIER_REF);
	assert_xp(doc, T1 "/c:HI1Object/c:AssociatedObjects/c:AssociatedObject",
	    "a84c47a9-8ef7-4a84-b934-b99e119e395a");
	assert_xp(doc, T1 "/c:HI1Object/c:LastChanged", "2026-11-20T16:05:12Z");
	assert_xp(doc, T1 "/c:HI1Object/d:Reference/d:LDID", "MX-FGR-000123");
	assert_xp(doc, T1 "/c:HI1Object/d:SequenceNumber", "1");
	assert_xp(doc, T1 "/c:HI1Object/d:LastSequence", "true");
	/* Honestly labelled: our own format, not TS 102 657 itself. */
	assert_int_equal(count_xp(doc, T1 "/c:HI1Object/d:Manifest"), 0);
	assert_null(strstr(xml, "TS102657-XML"));
	assert_xp(doc, T1 "/c:HI1Object/d:Delivery/d:BinaryData/d:ContentType",
	    "application/vnd.warrantd.ld-result+xml");
	assert_xp(doc, T1 "/c:HI1Object/d:Delivery/d:BinaryData/d:ChecksumType",
	    "SHA-256");
	assert_non_null(oid = xp(doc, T1 "/c:HI1Object/c:ObjectIdentifier"));
	assert_non_null(did = xp(doc, T1 "/c:HI1Object/d:DeliveryID"));
	assert_int_equal(strlen(oid), 36);
	assert_string_not_equal(oid, did);
	assert_string_not_equal(oid, "a84c47a9-8ef7-4a84-b934-b99e119e395a");
	free(oid);
	free(did);
	/* No echo beside it. */
	assert_int_equal(count_xp(doc, T1 "/c:HI1Object"), 1);
	assert_null(strstr(xml, "task:Status"));
#undef T1
	check_delivery(doc, 1, res, rlen);
	/* The loaded schema takes it too, and it is not a request. */
	assert_int_equal(hi1_parse_request(schema, xml, len, &back, &err), -1);
	assert_int_equal(err.code, WD_ERR_SCHEMA);
	assert_string_equal(err.text, "the message is not a request");
	xmlFreeDoc(doc);
	free(xml);
	free(res);
}

/* records.xml: two tasks; only action 2 has a result, action 1 is echoed. */
static void
test_accepted_mixed(void **state)
{
	struct hi1_request	 req;
	xmlDocPtr		 doc;
	char			*res, *xml;
	size_t			 rlen, len;

	(void)state;
	parse_sample("records.xml", &req);
	assert_int_equal(req.ntasks, 2);
	assert_int_equal(req.tasks[1].action_id, 2);
	assert_non_null(res = hi1_result_none(CARRIER_REF, &req.tasks[1],
	    HI1_RESULT_NOT_RETAINED, &rlen));
	assert_non_null(xml = test_accepted(header(&req), &req, CARRIER_REF, 2, res, rlen, &len));
	doc = valid_doc(xml, len, hi1_xsd, "accepted, mixed");
	keep_for_official(xml, len, "accepted-records-mixed");
	assert_xp(doc, "//c:ActionResponse[c:ActionIdentifier='1']/"
	    "c:CREATEResponse/c:HI1Object/@xsi:type", "task:LDTaskObject");
	assert_xp(doc, "//c:ActionResponse[c:ActionIdentifier='1']/"
	    "c:CREATEResponse/c:HI1Object/task:Status/m:Value",
	    "AwaitingDisclosure");
	assert_xp(doc, "//c:ActionResponse[c:ActionIdentifier='2']/"
	    "c:CREATEResponse/c:HI1Object/@xsi:type", "delivery:DeliveryObject");
	assert_xp(doc, "//c:ActionResponse[c:ActionIdentifier='2']/"
	    "c:CREATEResponse/c:HI1Object/d:Reference/d:LDID", "MX-FGR-000130");
	check_delivery(doc, 2, res, rlen);
	xmlFreeDoc(doc);
	free(xml);
	free(res);
}

/* Without results, every sample's acceptance echoes its tasks, valid. */
static void
test_accepted_without_results(void **state)
{
	static const char	*samples[] = { "subscriber-msisdn.xml",
	    "subscriber-ip.xml", "location-realtime.xml", "records.xml",
	    "preservation.xml", "interception.xml" };
	struct hi1_request	 req;
	xmlDocPtr		 doc;
	char			*a, name[64];
	size_t			 alen;

	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		parse_sample(samples[i], &req);
		assert_non_null(a = test_accepted(header(&req), &req, CARRIER_REF,
		    UINT32_MAX, NULL, 0, &alen));
		doc = valid_doc(a, alen, hi1_xsd, samples[i]);
		assert_int_equal(count_xp(doc, "//c:CREATEResponse/c:HI1Object"),
		    req.ntasks);
		assert_int_equal(count_xp(doc, "//c:HI1Object[@xsi:type="
		    "'delivery:DeliveryObject']"), 0);
		snprintf(name, sizeof(name), "accepted-%s", samples[i]);
		keep_for_official(a, alen, name);
		xmlFreeDoc(doc);
		free(a);
	}
}

/* What the builder refuses rather than send something invalid. */
static void
test_accepted_refuses_bad_results(void **state)
{
	struct hi1_request	 req;
	struct hi1_answer	 a;
	struct obj		 o;
	char			*big;
	size_t			 len;

	(void)state;
	parse_sample("records.xml", &req);
	/* a result too large for BinaryData's 1 MiB, or empty */
	assert_non_null(big = calloc(1, HI1_RESULT_MAX + 1));
	assert_null(test_accepted(header(&req), &req, CARRIER_REF, 1, big, HI1_RESULT_MAX + 1, &len));
	assert_null(test_accepted(header(&req), &req, CARRIER_REF, 1, big, 0, &len));
	free(big);
	/* no header, no answer, too many */
	memset(&a, 0, sizeof(a));
	a.verb = HI1_VERB_CREATE;
	a.identifier = req.tasks[0].object_id;
	assert_null(hi1_build_answer(NULL, &a, 1, &len));
	assert_null(hi1_build_answer(header(&req), &a, 0, &len));
	assert_null(hi1_build_answer(header(&req), &a, HI1_MAX_ACTIONS + 1, &len));
	/* a GETResponse has an object */
	a.verb = HI1_VERB_GET;
	assert_null(hi1_build_answer(header(&req), &a, 1, &len));
	/* an object of no known kind */
	memset(&o, 0, sizeof(o));
	snprintf(o.oid, sizeof(o.oid), "%s", req.tasks[0].object_id);
	o.generation = 1;
	a.obj = &o;
	assert_null(hi1_build_answer(header(&req), &a, 1, &len));
}

/* A location result of the maximal document size class still validates. */
static void
test_accepted_location(void **state)
{
	Warrant__Backend__Location	 l = WARRANT__BACKEND__LOCATION__INIT;
	struct hi1_request		 req;
	xmlDocPtr			 doc;
	char				*res, *xml;
	size_t				 rlen, len;

	(void)state;
	parse_sample("location-realtime-urgent.xml", &req);
	assert_int_equal(req.tasks[0].type, WD_REQ_LOCATION_RT);
	l.latitude = 20.6597;
	l.longitude = -103.3496;
	l.accuracy_m = 30;
	l.age_s = 4;
	l.source = WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_GNSS;
	l.fix_us = 1795190708LL * US;
	assert_non_null(res = hi1_result_location(CARRIER_REF, &req.tasks[0], &l,
	    &rlen));
	assert_non_null(xml = test_accepted(header(&req), &req, CARRIER_REF, req.tasks[0].action_id, res, rlen,
	    &len));
	doc = valid_doc(xml, len, hi1_xsd, "accepted location");
	keep_for_official(xml, len, "accepted-location-realtime-urgent");
	check_delivery(doc, req.tasks[0].action_id, res, rlen);
	xmlFreeDoc(doc);
	free(xml);
	free(res);
}

/* ------------------------------------------------------------------------ */
/* a DeliveryObject in a request                                             */

static void
test_delivery_in_request_refused(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	xmlDocPtr		 doc;
	char			 path[512], *body;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/delivery/delivery-in-request.xml",
	    TOP_SRCDIR);
	body = read_path(path);
	/* The templates cannot tell a request's CREATE from a response's... */
	doc = valid_doc(body, strlen(body), hi1_xsd, "delivery in request");
	xmlFreeDoc(doc);
	keep_for_official(body, strlen(body), "delivery-in-request");
	/* ...warrantd's semantic layer does, for that action. */
	assert_int_equal(hi1_parse_request(schema, body, strlen(body), &req,
	    &err), -1);
	assert_int_equal(err.code, WD_ERR_NOT_CHANGEABLE);
	assert_true(err.has_action);
	assert_int_equal(err.action_id, 1);
	if (strstr(err.text, "DeliveryObject cannot be created by an authority") ==
	    NULL)
		fail_msg("refused for another reason: %s", err.text);
	free(body);
}

/* ------------------------------------------------------------------------ */
/* docs/results.md                                                           */

#define DOC_MAX_BLOCKS	16

/* The ```xml blocks of a markdown text, each with its final newline. */
static size_t
xml_blocks(const char *md, char **blocks, size_t max)
{
	const char	*p = md, *start = NULL, *eol;
	size_t		 n = 0;

	for (; *p != '\0' && n < max; p = *eol ? eol + 1 : eol) {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if (start == NULL && (size_t)(eol - p) == 6 &&
		    strncmp(p, "```xml", 6) == 0)
			start = *eol ? eol + 1 : eol;
		else if (start != NULL && (size_t)(eol - p) == 3 &&
		    strncmp(p, "```", 3) == 0) {
			assert_non_null(blocks[n] = strndup(start,
			    (size_t)(p - start)));
			n++;
			start = NULL;
		}
	}
	return n;
}

/*
 * The integrators' document shows a real answer and its decoded result:
 * the answer is valid (ours and official), its Data decodes to exactly the
 * next listing with the announced checksum, and every result listing is
 * valid under ld-result.xsd.
 */
static void
test_docs_examples(void **state)
{
	char		 path[512], *md, *blocks[DOC_MAX_BLOCKS];
	size_t		 n, results = 0;
	xmlDocPtr	 doc;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/results.md", TOP_SRCDIR);
	md = read_path(path);
	n = xml_blocks(md, blocks, DOC_MAX_BLOCKS);
	assert_true(n >= 5);
	assert_non_null(strstr(blocks[0], "<HI1Message"));
	doc = valid_doc(blocks[0], strlen(blocks[0]), hi1_xsd, "results.md answer");
	keep_for_official(blocks[0], strlen(blocks[0]), "docs-results-answer");
	check_delivery(doc, 1, blocks[1], strlen(blocks[1]));
	xmlFreeDoc(doc);
	for (size_t i = 1; i < n; i++) {
		/* Manifests (section 6) are test_ldpack's. */
		if (strstr(blocks[i], "<LDManifest") != NULL) {
			results++;
			continue;
		}
		doc = valid_doc(blocks[i], strlen(blocks[i]), result_xsd,
		    "results.md result");
		results++;
		xmlFreeDoc(doc);
	}
	assert_int_equal(results, n - 1);
	for (size_t i = 0; i < n; i++)
		free(blocks[i]);
	free(md);
}

/* ------------------------------------------------------------------------ */
/* the official ETSI schemas                                                 */

static void
test_official(void **state)
{
	const char	*shared = getenv("WD_SHARED_DIR");
	char		 script[512], cmd[1200];

	(void)state;
	if (shared != NULL)
		snprintf(script, sizeof(script), "%s/etsi/validate.sh", shared);
	else
		snprintf(script, sizeof(script), "%s/../shared/etsi/validate.sh",
		    TOP_SRCDIR);
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "\n###########################################"
		    "###########\n# SKIPPED: official ETSI schema check of "
		    "deliveries (shared/ absent)\n###########################"
		    "###########################\n");
		skip();
	}
	assert_true(out_count >= 4);
	snprintf(cmd, sizeof(cmd), "sh '%s' hi1 '%s'/*.xml > '%s/official.log' "
	    "2>&1", script, out_dir, out_dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/official.log' >&2", out_dir);
		(void)system(cmd);
		fail_msg("answers with deliveries not valid under the official "
		    "schemas");
	}
}

/* ------------------------------------------------------------------------ */

static int
setup(void **state)
{
	char	 dir[512];

	(void)state;
	/* Before hi1_init(): its entity loader lets only hi1_schema_load in. */
	hi1_xsd = compile("hi1-mx.xsd");
	result_xsd = compile("ld-result.xsd");
	hi1_init();
	snprintf(dir, sizeof(dir), "%s/etc/templates", TOP_SRCDIR);
	if ((schema = hi1_schema_load(dir)) == NULL)
		return -1;
	snprintf(out_dir, sizeof(out_dir), "/tmp/wd-delivery.XXXXXX");
	return mkdtemp(out_dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out_dir);
	(void)system(cmd);
	xmlSchemaFree(hi1_xsd);
	xmlSchemaFree(result_xsd);
	hi1_schema_free(schema);
	hi1_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_subscriber),
		cmocka_unit_test(test_result_location),
		cmocka_unit_test(test_result_none),
		cmocka_unit_test(test_result_wrong_arguments),
		cmocka_unit_test(test_hostile_subscriber),
		cmocka_unit_test(test_hostile_location),
		cmocka_unit_test(test_accepted_with_delivery),
		cmocka_unit_test(test_accepted_mixed),
		cmocka_unit_test(test_accepted_without_results),
		cmocka_unit_test(test_accepted_refuses_bad_results),
		cmocka_unit_test(test_accepted_location),
		cmocka_unit_test(test_delivery_in_request_refused),
		cmocka_unit_test(test_docs_examples),
		cmocka_unit_test(test_official),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
