/*
 * test_x1 — src/warrantd/x1.c and src/warrantd/conf_ne.c without the network: targets in X1
 * form, derived identifiers, the strict reading of elements' answers
 * (another transaction, element or ADMF, the wrong type, a DTD, a
 * duplicated task, an error's words cut and made printable), and the
 * `ne` blocks of the configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "hi1.h"
#include "log.h"
#include "x1.h"

#define TX	"00000000-0000-4000-8000-000000000000"
#define XID	"11111111-1111-4111-8111-111111111111"
#define XID2	"22222222-2222-4222-8222-222222222222"

static const char *
answer(const char *type, const char *ne, const char *tx, const char *body)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "<?xml version=\"1.0\"?>\n"
	    "<a:X1Response xmlns:a=\"http://uri.etsi.org/03221/X1/2017/10\" "
	    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
	    "<a:x1ResponseMessage xsi:type=\"a:%s\">"
	    "<a:admfIdentifier>MXCARRIER</a:admfIdentifier>"
	    "<a:neIdentifier>%s</a:neIdentifier>"
	    "<a:messageTimestamp>2026-12-07T10:00:00.000000Z</a:messageTimestamp>"
	    "<a:version>v1.22.1</a:version>"
	    "<a:x1TransactionId>%s</a:x1TransactionId>%s"
	    "</a:x1ResponseMessage></a:X1Response>", type, ne, tx, body);
	return buf;
}

static int
parse(enum x1_op op, const char *body, struct x1_answer *a, char *why)
{
	struct x1_msg m = { 0 };

	m.op = op;
	m.admf = "MXCARRIER";
	m.ne = "msc1";
	m.id = XID;
	snprintf(m.txid, sizeof(m.txid), "%s", TX);
	return x1_parse(&m, body, strlen(body), a, why, 256);
}

#define OK	"<a:oK>AcknowledgedAndCompleted</a:oK>"
#define TASK(x, st) \
	"<a:taskResponseDetails><a:taskDetails><a:xId>" x "</a:xId>" \
	"<a:targetIdentifiers><a:targetIdentifier><a:e164Number>1</a:e164Number>" \
	"</a:targetIdentifier></a:targetIdentifiers><a:deliveryType>X2andX3" \
	"</a:deliveryType><a:listOfDIDs/></a:taskDetails><a:taskStatus>" \
	"<a:provisioningStatus>" st "</a:provisioningStatus><a:listOfFaults/>" \
	"</a:taskStatus></a:taskResponseDetails>"

static void
test_answers(void **state)
{
	struct x1_answer	 a;
	char			 why[256];

	(void)state;
	assert_int_equal(parse(X1_ACTIVATE, answer("ActivateTaskResponse",
	    "msc1", TX, OK), &a, why), 0);
	assert_false(a.error);
	x1_answer_free(&a);
	/* Another transaction, another element, the wrong type: refused. */
	assert_int_equal(parse(X1_ACTIVATE, answer("ActivateTaskResponse",
	    "msc1", XID2, OK), &a, why), -1);
	assert_non_null(strstr(why, "transaction"));
	assert_int_equal(parse(X1_ACTIVATE, answer("ActivateTaskResponse",
	    "msc2", TX, OK), &a, why), -1);
	assert_int_equal(parse(X1_ACTIVATE, answer("PingResponse", "msc1", TX,
	    OK), &a, why), -1);
	assert_int_equal(parse(X1_ACTIVATE, answer("ActivateTaskResponse",
	    "msc1", TX, "<a:oK>Maybe</a:oK>"), &a, why), -1);
	/* An ErrorResponse is an answer; its words made printable and cut. */
	assert_int_equal(parse(X1_ACTIVATE, answer("ErrorResponse", "msc1", TX,
	    "<a:requestMessageType>ActivateTask</a:requestMessageType>"
	    "<a:errorInformation><a:errorCode>1005</a:errorCode>"
	    "<a:errorDescription>no\tcapacity</a:errorDescription>"
	    "</a:errorInformation>"), &a, why), 0);
	assert_true(a.error);
	assert_int_equal(a.code, 1005);
	assert_string_equal(a.text, "no?capacity");
	x1_answer_free(&a);
	/* No DTD, ever. */
	assert_int_equal(parse(X1_PING, "<?xml version=\"1.0\"?><!DOCTYPE x "
	    "[<!ENTITY e \"x\">]><x>&e;</x>", &a, why), -1);
	/* GetAllDetails: tasks and destinations; a task twice is refused. */
	assert_int_equal(parse(X1_GET_ALL, answer("GetAllDetailsResponse",
	    "msc1", TX, "<a:neStatusDetails/><a:listOfTaskResponseDetails>"
	    TASK(XID, "complete") TASK(XID2, "failed")
	    "</a:listOfTaskResponseDetails><a:listOfDestinationResponseDetails/>"),
	    &a, why), 0);
	assert_int_equal(a.nheld, 2);
	assert_string_equal(a.held[1].xid, XID2);
	assert_true(a.held[1].failed);
	x1_answer_free(&a);
	assert_int_equal(parse(X1_GET_ALL, answer("GetAllDetailsResponse",
	    "msc1", TX, "<a:neStatusDetails/><a:listOfTaskResponseDetails>"
	    TASK(XID, "complete") TASK(XID, "complete")
	    "</a:listOfTaskResponseDetails><a:listOfDestinationResponseDetails/>"),
	    &a, why), -1);
	/* GetTaskDetails must be about the XID asked. */
	assert_int_equal(parse(X1_GET_TASK, answer("GetTaskDetailsResponse",
	    "msc1", TX, TASK(XID2, "complete")), &a, why), -1);
	assert_int_equal(parse(X1_GET_TASK, answer("GetTaskDetailsResponse",
	    "msc1", TX, TASK(XID, "complete")), &a, why), 0);
	x1_answer_free(&a);
}

static void
test_targets(void **state)
{
	struct hi1_identifier	 id = { 0 };
	struct x1_target	 t;
	char			 u1[37], u2[37];

	(void)state;
	id.type = WD_ID_IMEI;
	snprintf(id.value, sizeof(id.value), "356938035643809");
	assert_int_equal(x1_target_from(&id, &t), 0);
	assert_string_equal(t.value, "35693803564380");	/* no check digit */
	id.type = WD_ID_IPPORT;
	snprintf(id.addr, sizeof(id.addr), "2001:db8::1");
	assert_int_equal(x1_target_from(&id, &t), 0);
	assert_int_equal(t.type, WD_NE_IPV6);
	assert_string_equal(t.value, "2001:0db8:0000:0000:0000:0000:0000:0001");
	snprintf(id.addr, sizeof(id.addr), "192.0.2.1");
	assert_int_equal(x1_target_from(&id, &t), 0);
	assert_string_equal(t.value, "192.0.2.1");
	id.type = WD_ID_MSISDN;
	snprintf(id.value, sizeof(id.value), "52551234567x");
	assert_int_equal(x1_target_from(&id, &t), -1);
	/* Derived: the same parts, the same UUID (version 8); others differ. */
	x1_derive_uuid("l", "FGR", "t1", u1);
	x1_derive_uuid("l", "FGR", "t1", u2);
	assert_string_equal(u1, u2);
	assert_int_equal(u1[14], '8');
	x1_derive_uuid("l", "FG", "Rt1", u2);
	assert_string_not_equal(u1, u2);
}

static const char *
conf_file(const char *ne)
{
	static char	 path[] = "/tmp/test_x1.XXXXXX";
	int		 fd;
	FILE		*f;

	snprintf(path, sizeof(path), "/tmp/test_x1.XXXXXX");
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		fail();
	fprintf(f, "carrier \"MXCARRIER\"\nstate \"/tmp\"\ntemplates \"/tmp\"\n"
	    "tls {\n\tcertificate \"/x\"\n\tkey \"/x\"\n\tca \"/x\"\n}\n%s", ne);
	fclose(f);
	return path;
}

static struct wd_conf *
load(const char *ne)
{
	const char	*p = conf_file(ne);
	struct wd_conf	*c = conf_load(p);

	unlink(p);
	return c;
}

#define NE_OK \
	"ne \"msc1\" {\n url \"https://10.0.0.1:8443/X1\"\n certificate \"/c\"\n" \
	" key \"/k\"\n ca \"/ca\"\n serves e164 imsi\n destination \"[2001:db8::9]:4000\"\n" \
	" deadline 2s\n retries 0\n reconcile 1m\n}\n"

static void
test_conf(void **state)
{
	struct wd_conf	*c;
	struct wd_ne	*n;

	(void)state;
	assert_non_null(c = load(NE_OK));
	assert_non_null(n = conf_find_ne(c, "msc1"));
	assert_true(n->serves[WD_NE_E164] && n->serves[WD_NE_IMSI]);
	assert_false(n->serves[WD_NE_IMEI]);
	assert_true(n->dest_v6);
	assert_string_equal(n->dest_addr, "2001:db8::9");
	assert_int_equal(n->dest_port, 4000);
	assert_int_equal(n->deadline_ms, 2000);
	assert_int_equal(n->retries, 0);
	assert_int_equal(n->reconcile_s, 60);
	conf_free(c);
	/* What is refused. */
	assert_null(load("ne \"a\" { url \"http://10.0.0.1/\" }\n"));
	assert_null(load("ne \"a\" {\n url \"https://10.0.0.1/\"\n certificate "
	    "\"/c\"\n key \"/k\"\n ca \"/ca\"\n serves e164\n}\n"));	/* dest */
	assert_null(load("ne \"a\" {\n url \"https://10.0.0.1/\"\n certificate "
	    "\"/c\"\n key \"/k\"\n ca \"/ca\"\n serves msisdn\n destination "
	    "\"10.0.0.9:1\"\n}\n"));
	assert_null(load("ne \"a\" {\n url \"https://10.0.0.1/\"\n certificate "
	    "\"/c\"\n key \"/k\"\n ca \"/ca\"\n serves e164\n destination "
	    "\"10.0.0.9\"\n}\n"));
	assert_null(load(NE_OK NE_OK));	/* twice */
}

#define NE_HEAD \
	"ne \"msc1\" {\n url \"https://10.0.0.1:8443/X1\"\n certificate \"/c\"\n" \
	" key \"/k\"\n ca \"/ca\"\n serves e164\n destination \"10.0.0.9:1\"\n"

/* breaker N failures DURATION: defaults, a value, what is refused. */
static void
test_conf_breaker(void **state)
{
	struct wd_conf	*c;
	struct wd_ne	*n;

	(void)state;
	assert_non_null(c = load(NE_OK));
	assert_non_null(n = conf_find_ne(c, "msc1"));
	assert_int_equal(n->breaker_failures, 5);
	assert_int_equal(n->breaker_open_ms, 30000);
	conf_free(c);
	assert_non_null(c = load(NE_HEAD " breaker 3 failures 2m\n}\n"));
	assert_non_null(n = conf_find_ne(c, "msc1"));
	assert_int_equal(n->breaker_failures, 3);
	assert_int_equal(n->breaker_open_ms, 120000);
	conf_free(c);
	assert_null(load(NE_HEAD " breaker 0 failures 2s\n}\n"));
	assert_null(load(NE_HEAD " breaker 1001 failures 2s\n}\n"));
	assert_null(load(NE_HEAD " breaker 3 failures 500ms\n}\n"));
	assert_null(load(NE_HEAD " breaker 3 failures 2h\n}\n"));
	assert_null(load(NE_HEAD " breaker 3 failures 2\n}\n"));	/* unit */
	assert_null(load(NE_HEAD " breaker 3 failures 2s\n breaker 4 failures "
	    "2s\n}\n"));	/* twice */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_conf_breaker),
	};

	log_init("test_x1", 1, 0);
	hi1_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
