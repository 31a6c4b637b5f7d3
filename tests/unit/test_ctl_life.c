/*
 * test_ctl_life — unit tests of warrantctl's follow-up commands, without a
 * network: the requests src/warrantctl/ctl_msg.c builds (GET, LIST, cancel, ratify
 * with and without a Warrant document, extend) are read back by the
 * daemon's own hi1_parse_request() field by field and are valid under the
 * official ETSI schemas (when ../shared is present); the --order file is
 * read strictly; answers (tests/lifecycle/get-response.xml and answers
 * built by the daemon's hi1_build_answer()) are read by src/warrantctl/ctl_answer.c,
 * and hostile ones refused (DOCTYPE, 100,000 attributes, depth, invalid
 * under the templates, oversized); LIST paging skips what a page repeats
 * and stops where it cannot go on; and src/warrantctl/ctl_fetch.c writes a good
 * delivery and refuses, without writing them, a part with a flipped byte,
 * a part whose Checksum lies, a missing part, a manifest that does not add
 * up, a part whose records are not the manifest's count.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <openssl/evp.h>

#include "hi1.h"
#include "hi1_object.h"
#include "obj.h"
#include "ctl.h"
#include "ctl_life.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define US		1000000LL
#define CARRIER		"MXCARRIER"
#define AUTHORITY	"FGR"
#define REF		"MXC-20261207-00000042"
#define LDID		"MX-FGR-000123"
#define TASK_ID		"2b36a78b-b628-416d-bd22-404e68a0cd36"
#define AUTH_ID		"7dbbc880-8750-4d3c-abe7-ea4a17646045"
#define DELIVERY_ID	"d1079830-8e9a-4731-8fb7-36b9b961eb72"
#define T0		(1796601600LL * US)	/* 2026-12-07T00:00:00Z */

static struct hi1_schema	*schema;
static char			 keep_dir[64];	/* requests for the official check */
static int			 keep_count;

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

static char *
read_path(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
keep(const char *xml, size_t len)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/msg%02d.xml", keep_dir, keep_count++);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(xml, 1, len, f), len);
	fclose(f);
}

static struct ctl_msg *
msg(void)
{
	char		 why[256];
	struct ctl_msg	*m = ctl_msg_new(AUTHORITY, CARRIER, why, sizeof(why));

	if (m == NULL)
		fail_msg("ctl_msg_new: %s", why);
	return m;
}

/* Finish m, keep it for the official check, and parse it as warrantd does. */
static struct hi1_request *
sent(struct ctl_msg *m)
{
	struct hi1_request	*req = calloc(1, sizeof(*req));
	struct wd_error		 err;
	size_t			 len;
	char			*xml;

	assert_non_null(req);
	assert_non_null(xml = ctl_msg_finish(m, &len));
	keep(xml, len);
	if (hi1_parse_request(schema, xml, len, req, &err) != 0)
		fail_msg("warrantd refuses it: %d %s\n%s", err.code, err.text, xml);
	free(xml);
	return req;
}

static void
order_good(struct ctl_order *o, bool doc)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->judge, sizeof(o->judge), "Mtra. Laura Patricia Hernández "
	    "Ochoa");
	snprintf(o->role, sizeof(o->role), "Jueza de Control");
	snprintf(o->case_ref, sizeof(o->case_ref), "CP-138/2026");
	snprintf(o->type, sizeof(o->type), "Ratificación judicial");
	o->approved_us = T0 + 16 * 3600 * US;
	if (doc) {
		snprintf(o->doc_ref, sizeof(o->doc_ref), "CP-138/2026-R");
		snprintf(o->doc_name, sizeof(o->doc_name), "Resolución de "
		    "ratificación");
	}
}

/* ------------------------------------------------------------------------ */
/* requests                                                                  */

static void
test_msg_reads(void **state)
{
	struct ctl_msg		*m = msg();
	struct hi1_request	*r;

	(void)state;
	assert_int_equal(ctl_msg_get(m, TASK_ID), 0);
	assert_int_equal(ctl_msg_list(m, "ldtask", T0 + 3 * US), 0);
	assert_int_equal(ctl_msg_list(m, NULL, -1), 0);
	assert_int_equal(ctl_msg_count(m), 3);
	r = sent(m);
	assert_true(r->reading);
	assert_string_equal(r->sender_id, AUTHORITY);
	assert_string_equal(r->receiver_id, CARRIER);
	assert_int_equal(r->nreads, 3);
	assert_int_equal(r->reads[0].verb, HI1_VERB_GET);
	assert_string_equal(r->reads[0].object_id, TASK_ID);
	assert_int_equal(r->reads[1].verb, HI1_VERB_LIST);
	assert_int_equal(r->reads[1].type, HI1_OBJ_LDTASK);
	assert_true(r->reads[1].has_since);
	assert_int_equal(r->reads[1].since_us, T0 + 3 * US);
	assert_int_equal(r->reads[2].type, HI1_OBJ_NONE);
	assert_false(r->reads[2].has_since);
	free(r);
}

static void
test_msg_cancel(void **state)
{
	struct ctl_msg		*m = msg();
	struct hi1_request	*r;

	(void)state;
	assert_int_equal(ctl_msg_cancel(m, HI1_OBJ_LDTASK, TASK_ID, AUTHORITY,
	    3), 0);
	assert_int_equal(ctl_msg_cancel(m, HI1_OBJ_LITASK, AUTH_ID, AUTHORITY,
	    1), 0);
	r = sent(m);
	assert_false(r->reading);
	assert_int_equal(r->nupdates, 2);
	assert_int_equal(r->updates[0].kind, HI1_OBJ_LDTASK);
	assert_string_equal(r->updates[0].object_id, TASK_ID);
	assert_int_equal(r->updates[0].generation, 3);
	assert_true(r->updates[0].cancel);
	assert_int_equal(r->updates[1].kind, HI1_OBJ_LITASK);
	assert_true(r->updates[1].cancel);
	free(r);
}

static void
test_msg_ratify(void **state)
{
	struct ctl_order	 o;
	struct ctl_msg		*m = msg();
	struct hi1_request	*r;
	char			 doc[HI1_UUID_LEN + 1];

	(void)state;
	order_good(&o, true);
	hi1_uuid(doc, sizeof(doc));
	assert_int_equal(ctl_msg_document(m, doc, AUTHORITY, &o), 0);
	assert_int_equal(ctl_msg_ratify(m, AUTH_ID, AUTHORITY, 1, &o, doc), 0);
	r = sent(m);
	assert_int_equal(r->ndocs, 1);
	assert_string_equal(r->docs[0].object_id, doc);
	assert_string_equal(r->docs[0].reference, "CP-138/2026-R");
	assert_string_equal(r->docs[0].name, o.doc_name);
	assert_int_equal(r->docs[0].nsignatures, 1);
	assert_string_equal(r->docs[0].signatures[0].approver, o.judge);
	assert_int_equal(r->nupdates, 1);
	assert_true(r->updates[0].ratify);
	assert_true(r->updates[0].desired_approved);
	assert_false(r->updates[0].extend);
	assert_int_equal(r->updates[0].generation, 1);
	assert_string_equal(r->updates[0].approval.approver, o.judge);
	assert_string_equal(r->updates[0].approval.role, o.role);
	assert_string_equal(r->updates[0].approval.reference, o.case_ref);
	assert_string_equal(r->updates[0].approval.type, o.type);
	assert_int_equal(r->updates[0].approval.approved_us, o.approved_us);
	assert_int_equal(r->updates[0].ndocs, 1);
	assert_string_equal(r->updates[0].docs[0], doc);
	free(r);

	/* Without a document: the UPDATE alone, linking nothing. */
	order_good(&o, false);
	m = msg();
	assert_int_equal(ctl_msg_ratify(m, AUTH_ID, AUTHORITY, 2, &o, NULL), 0);
	r = sent(m);
	assert_int_equal(r->ndocs, 0);
	assert_true(r->updates[0].ratify);
	assert_int_equal(r->updates[0].ndocs, 0);
	free(r);
}

static void
test_msg_extend(void **state)
{
	struct ctl_msg		*m = msg();
	struct hi1_request	*r;

	(void)state;
	assert_int_equal(ctl_msg_extend(m, AUTH_ID, AUTHORITY, 4, T0,
	    T0 + 120 * 86400 * US), 0);
	r = sent(m);
	assert_true(r->updates[0].extend);
	assert_false(r->updates[0].ratify);
	assert_int_equal(r->updates[0].valid_from_us, T0);
	assert_int_equal(r->updates[0].valid_until_us, T0 + 120 * 86400 * US);
	free(r);
}

static void
test_msg_refusals(void **state)
{
	struct ctl_order	 o;
	struct ctl_msg		*m;
	char			 why[256];
	size_t			 len;

	(void)state;
	assert_null(ctl_msg_new("fgr", CARRIER, why, sizeof(why)));
	assert_null(ctl_msg_new(AUTHORITY, "MX CARRIER", why, sizeof(why)));
	m = msg();
	assert_int_equal(ctl_msg_get(m, "2B36A78B-B628-416D-BD22-404E68A0CD36"),
	    -1);
	assert_int_equal(ctl_msg_get(m, "../../etc/passwd"), -1);
	assert_int_equal(ctl_msg_list(m, "Warrant", -1), -1);
	assert_int_equal(ctl_msg_cancel(m, HI1_OBJ_AUTHORISATION, AUTH_ID,
	    AUTHORITY, 1), -1);
	assert_int_equal(ctl_msg_cancel(m, HI1_OBJ_LDTASK, TASK_ID, AUTHORITY,
	    0), -1);
	assert_int_equal(ctl_msg_extend(m, AUTH_ID, AUTHORITY, 1, T0, T0), -1);
	order_good(&o, false);
	snprintf(o.judge, sizeof(o.judge), "Juez\x1b[2J");
	assert_int_equal(ctl_msg_ratify(m, AUTH_ID, AUTHORITY, 1, &o, NULL), -1);
	order_good(&o, false);
	assert_int_equal(ctl_msg_document(m, AUTH_ID, AUTHORITY, &o), -1);
	assert_int_equal(ctl_msg_count(m), 0);
	for (int i = 0; i < HI1_MAX_ACTIONS; i++)
		assert_int_equal(ctl_msg_get(m, TASK_ID), 0);
	assert_int_equal(ctl_msg_get(m, TASK_ID), -1);
	free(ctl_msg_finish(m, &len));
	/* An empty message is not sent. */
	assert_null(ctl_msg_finish(msg(), &len));
}

static void
test_text_limits(void **state)
{
	char	 s[4 * 300];
	size_t	 n = 0;

	(void)state;
	/* Characters, not bytes: 255 two-byte characters are in. */
	for (int i = 0; i < 255; i++) {
		memcpy(s + n, "é", 2);
		n += 2;
	}
	s[n] = '\0';
	assert_true(ctl_text_ok(s, 255));
	memcpy(s + n, "é", 3);
	assert_false(ctl_text_ok(s, 255));
	assert_true(ctl_text_ok("CP-1", 128));
	assert_false(ctl_text_ok("", 128));
	assert_false(ctl_text_ok(" CP-1", 128));
	assert_false(ctl_text_ok("CP-1 ", 128));
	assert_false(ctl_text_ok("CP\n1", 128));
	assert_false(ctl_text_ok("CP\xc2\x85" "1", 128));	/* NEL, a C1 */
	assert_false(ctl_text_ok("CP\xff" "1", 128));
	assert_false(ctl_text_ok("\xed\xa0\x80", 128));		/* a surrogate */
	/* The display cleaner cuts within its buffer, even after a blank. */
	{
		char	 cut[10];

		ctl_clean("abcde fghijkl", cut, sizeof(cut));
		assert_string_equal(cut, "abcde...");
		ctl_clean("abcdefghijkl", cut, sizeof(cut));
		assert_string_equal(cut, "abcdef...");
		ctl_clean("ab\x01 \xc2\x85z", cut, sizeof(cut));
		assert_string_equal(cut, "ab? ?z");
	}
	assert_true(ctl_uuid_ok(TASK_ID));
	assert_false(ctl_uuid_ok("2b36a78b-b628-416d-bd22-404e68a0cd3"));
	assert_false(ctl_uuid_ok("2b36a78bxb628-416d-bd22-404e68a0cd36"));
}

/* ------------------------------------------------------------------------ */
/* the --order file                                                          */

static int
order(const char *text, struct ctl_order *o, char *why)
{
	return ctl_order_parse(text, strlen(text), o, why, 256);
}

static void
test_order_file(void **state)
{
	struct ctl_order	 o;
	char			 why[256];

	(void)state;
	assert_int_equal(order("# ratificación\r\n"
	    "judge = Mtra. Laura Patricia Hernández Ochoa\r\n"
	    "role=Jueza de Control\n"
	    "\n"
	    "  case =  CP-138/2026  \n"
	    "time = 2026-12-07T10:00:00-06:00\n"
	    "document = CP-138/2026-R\n"
	    "document-name = Resolución\n", &o, why), 0);
	assert_string_equal(o.judge, "Mtra. Laura Patricia Hernández Ochoa");
	assert_string_equal(o.role, "Jueza de Control");
	assert_string_equal(o.case_ref, "CP-138/2026");
	assert_int_equal(o.approved_us, T0 + 16 * 3600 * US);
	assert_string_equal(o.doc_ref, "CP-138/2026-R");
	assert_string_equal(o.doc_name, "Resolución");
	assert_string_equal(o.type, "");

	assert_int_equal(order("judge = J\nrole = R\ncase = C\n", &o, why), -1);
	assert_non_null(strstr(why, "time is missing"));
	assert_int_equal(order("judge = J\nrole = R\ncase = C\ntime = "
	    "2026-12-07 10:00\n", &o, why), -1);
	assert_non_null(strstr(why, "line 4"));
	assert_int_equal(order("judge = J\njudge = K\n", &o, why), -1);
	assert_non_null(strstr(why, "repeated"));
	assert_int_equal(order("judge = J\nsecretary = S\n", &o, why), -1);
	assert_non_null(strstr(why, "unknown"));
	assert_int_equal(order("judge J\n", &o, why), -1);
	assert_int_equal(order("judge = J\x07\nrole = R\ncase = C\n"
	    "time = 2026-12-07T10:00:00Z\n", &o, why), -1);
	assert_int_equal(order("judge = J\nrole = R\ncase = C\n"
	    "time = 2026-12-07T10:00:00Z\ndocument-name = N\n", &o, why), -1);
	assert_non_null(strstr(why, "document-name needs document"));
	assert_int_equal(ctl_order_parse("judge = J\0x", 11, &o, why, 256), -1);
}

/* ------------------------------------------------------------------------ */
/* answers                                                                   */

static int
read_answer(const char *xml, size_t len, struct ctl_answer *a, char *why)
{
	return ctl_answer_read(schema, xml, len, a, why, 256);
}

static void
test_answer_fixture(void **state)
{
	struct ctl_answer	 a;
	const struct ctl_action	*x;
	char			 path[512], why[256], *xml;
	size_t			 len;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/lifecycle/get-response.xml",
	    TOP_SRCDIR);
	xml = read_path(path, &len);
	if (read_answer(xml, len, &a, why) != 0)
		fail_msg("%s", why);
	assert_string_equal(a.sender, "FGR");
	assert_int_equal(a.nactions, 6);
	x = ctl_answer_find(&a, 0);
	assert_int_equal(x->reply, CTL_R_GET);
	assert_int_equal(x->obj.kind, HI1_OBJ_LDTASK);
	assert_string_equal(x->obj.id, TASK_ID);
	assert_int_equal(x->obj.generation, 3);
	assert_string_equal(x->obj.ref, REF);
	assert_string_equal(x->obj.status, "DisclosureNotAvailable");
	assert_int_equal(x->obj.reason_code, 512);
	assert_string_equal(x->obj.reason, "no data");
	assert_string_equal(x->obj.reference, LDID);
	assert_string_equal(x->obj.detail, "CommunicationRecords");
	assert_int_equal(x->obj.nassoc, 2);
	assert_string_equal(x->obj.assoc[0], AUTH_ID);
	assert_int_equal(x->obj.changed_us, T0 + 16 * 3600 * US);
	x = ctl_answer_find(&a, 1);
	assert_int_equal(x->obj.kind, HI1_OBJ_DELIVERY);
	assert_string_equal(x->obj.delivery_id, DELIVERY_ID);
	assert_int_equal(x->obj.seq, 1);
	assert_true(x->obj.last);
	assert_true(x->obj.has_manifest);
	assert_true(x->obj.has_data);
	assert_int_equal(x->obj.data.b64len, 12);
	assert_memory_equal(x->obj.data.b64, "PGE+PC9hPg==", 12);
	x = ctl_answer_find(&a, 2);
	assert_int_equal(x->reply, CTL_R_LIST);
	assert_int_equal(x->nrecords, 1);
	assert_int_equal(x->records[0].kind, HI1_OBJ_LDTASK);
	assert_string_equal(x->records[0].id, TASK_ID);
	assert_string_equal(x->records[0].ref, REF);
	x = ctl_answer_find(&a, 3);
	assert_int_equal(x->reply, CTL_R_UPDATE);
	assert_string_equal(x->identifier, AUTH_ID);
	assert_string_equal(x->obj.status, "Expired");
	assert_int_equal(x->obj.reason_code, 431);
	assert_true(x->obj.has_timespan);
	x = ctl_answer_find(&a, 4);
	assert_int_equal(x->obj.kind, HI1_OBJ_NOTIFICATION);
	assert_string_equal(x->obj.detail, "La orden urgente no fue ratificada.");
	assert_int_equal(ctl_answer_find(&a, 5)->reply, CTL_R_DELIVER);
	assert_null(ctl_answer_find(&a, 6));
	ctl_answer_free(&a);
	free(xml);
}

static struct hi1_response_header hdr = {
	CARRIER, AUTHORITY, NULL, T0
};

static void
obj_base(struct obj *o, enum hi1_kind kind, const char *oid, uint32_t gen)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	snprintf(o->owner, sizeof(o->owner), AUTHORITY);
	snprintf(o->oid, sizeof(o->oid), "%s", oid);
	snprintf(o->ref, sizeof(o->ref), REF);
	o->generation = gen;
	o->created_us = T0;
	o->changed_us = T0 + 5 * US;
}

static void
obj_task(struct obj *o)
{
	struct hi1_task	*t = &o->u.task.t;

	obj_base(o, HI1_OBJ_LDTASK, TASK_ID, 2);
	o->status = OST_AWAITING_DISCLOSURE;
	snprintf(o->u.task.auth_id, sizeof(o->u.task.auth_id), AUTH_ID);
	snprintf(t->reference, sizeof(t->reference), LDID);
	t->type = WD_REQ_RECORDS;
	t->has_window = true;
	t->window_start_us = T0 - 30 * 86400 * US;
	t->window_end_us = T0 - 86400 * US;
	t->nids = 1;
	t->ids[0].type = WD_ID_MSISDN;
	snprintf(t->ids[0].value, sizeof(t->ids[0].value), "525512345678");
}

/* Answers the daemon itself builds: a task with parts, a LIST, an error. */
static void
test_answer_built(void **state)
{
	char			 parts[3][HI1_UUID_LEN + 1];
	struct hi1_answer	 ans[3];
	struct obj		 task, list[2];
	struct ctl_answer	 a;
	struct wd_error		 err;
	char			*xml, why[256];
	size_t			 len;

	(void)state;
	obj_task(&task);
	for (int i = 0; i < 3; i++)
		hi1_uuid(parts[i], sizeof(parts[i]));
	obj_base(&list[0], HI1_OBJ_AUTHORISATION, AUTH_ID, 1);
	obj_base(&list[1], HI1_OBJ_DELIVERY, parts[0], 1);
	memset(ans, 0, sizeof(ans));
	ans[0] = (struct hi1_answer){ .action_id = 0, .verb = HI1_VERB_GET,
	    .obj = &task, .deliveries = parts, .ndeliveries = 3 };
	ans[1] = (struct hi1_answer){ .action_id = 1, .verb = HI1_VERB_LIST,
	    .list = list, .nlist = 2 };
	wd_error_set(&err, WD_ERR_NO_SUCH_OBJECT, "not held");
	ans[2] = (struct hi1_answer){ .action_id = 2, .verb = HI1_VERB_GET,
	    .err = &err };
	assert_non_null(xml = hi1_build_answer(&hdr, ans, 3, &len));
	if (read_answer(xml, len, &a, why) != 0)
		fail_msg("%s", why);
	assert_string_equal(a.sender, CARRIER);
	assert_int_equal(a.actions[0].obj.nassoc, 4);
	assert_string_equal(a.actions[0].obj.assoc[0], AUTH_ID);
	for (int i = 0; i < 3; i++)
		assert_string_equal(a.actions[0].obj.assoc[i + 1], parts[i]);
	assert_string_equal(a.actions[0].obj.status, "AwaitingDisclosure");
	assert_string_equal(a.actions[0].obj.owner, AUTHORITY);
	assert_int_equal(a.actions[1].nrecords, 2);
	assert_int_equal(a.actions[1].records[0].kind, HI1_OBJ_AUTHORISATION);
	assert_int_equal(a.actions[1].records[1].kind, HI1_OBJ_DELIVERY);
	assert_int_equal(a.actions[1].records[1].changed_us, T0 + 5 * US);
	assert_int_equal(a.actions[2].reply, CTL_R_ERROR);
	assert_int_equal(a.actions[2].code, WD_ERR_NO_SUCH_OBJECT);
	assert_non_null(strstr(a.actions[2].desc, "not held"));
	ctl_answer_free(&a);
	free(xml);

	/* A refusal of the whole message. */
	wd_error_set(&err, WD_ERR_UNKNOWN_OFFICIAL, "O=X");
	assert_non_null(xml = hi1_build_error(&hdr, NULL, &err, &len));
	assert_int_equal(read_answer(xml, len, &a, why), 0);
	assert_true(a.error);
	assert_int_equal(a.code, WD_ERR_UNKNOWN_OFFICIAL);
	ctl_answer_free(&a);
	free(xml);
}

static void
test_answer_hostile(void **state)
{
	struct ctl_answer	 a;
	char			 path[512], why[256], *xml, *big, *p;
	size_t			 len, n;
	time_t			 t;

	(void)state;
	/* DOCTYPE, entity: refused before parsing. */
	xml = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>";
	assert_int_equal(read_answer(xml, strlen(xml), &a, why), -1);
	assert_non_null(strstr(why, "DOCTYPE"));
	/* 100,000 attributes on one element: refused in one linear pass. */
	big = malloc(2 * 1024 * 1024);
	assert_non_null(big);
	p = big + sprintf(big, "<HI1Message");
	for (int i = 0; i < 100000; i++)
		p += sprintf(p, " a%d=\"1\"", i);
	p += sprintf(p, "/>");
	t = time(NULL);
	assert_int_equal(read_answer(big, (size_t)(p - big), &a, why), -1);
	assert_true(time(NULL) - t < 5);	/* a hang detector, not a timing */
	assert_non_null(strstr(why, "attributes"));
	/* 40 levels deep. */
	p = big;
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "<a>");
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "</a>");
	assert_int_equal(read_answer(big, (size_t)(p - big), &a, why), -1);
	assert_non_null(strstr(why, "deeper"));
	/* Larger than any answer may be. */
	assert_int_equal(read_answer(big, CTL_MAX_BODY + 1, &a, why), -1);
	free(big);
	/* Well-formed HI-1, but not valid under the templates. */
	snprintf(path, sizeof(path), "%s/tests/lifecycle/get-response.xml",
	    TOP_SRCDIR);
	xml = read_path(path, &len);
	assert_non_null(p = strstr(xml, "<CountryCode>MX</CountryCode><Owner"));
	n = strlen("<CountryCode>MX</CountryCode>");
	memmove(p, p + n, strlen(p + n) + 1);
	assert_int_equal(read_answer(xml, strlen(xml), &a, why), -1);
	assert_non_null(strstr(why, "not valid under the profile's templates"));
	/* Cut short. */
	assert_int_equal(read_answer(xml, len / 2, &a, why), -1);
	assert_non_null(strstr(why, "not well-formed"));
	free(xml);
	assert_int_equal(read_answer("Service Unavailable", 19, &a, why), -1);
}

static void
test_base64(void **state)
{
	uint8_t	*out;
	size_t	 len;

	(void)state;
	assert_int_equal(ctl_b64_decode("PGE+PC9hPg==", 12, 64, &out, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(out, "<a></a>", 7);
	free(out);
	assert_int_equal(ctl_b64_decode(" PGE+\nPC9h\r\nPg== ", 17, 64, &out,
	    &len), 0);
	assert_int_equal(len, 7);
	free(out);
	assert_int_equal(ctl_b64_decode("YQ==", 4, 64, &out, &len), 0);
	assert_int_equal(len, 1);
	free(out);
	assert_int_equal(ctl_b64_decode("PG=+PC9hPg==", 12, 64, &out, &len), -1);
	assert_int_equal(ctl_b64_decode("PGE*PC9hPg==", 12, 64, &out, &len), -1);
	assert_int_equal(ctl_b64_decode("PGE+PC9hPg=", 11, 64, &out, &len), -1);
	assert_int_equal(ctl_b64_decode("", 0, 64, &out, &len), -1);
	assert_int_equal(ctl_b64_decode("PGE+PC9hPg==", 12, 6, &out, &len), -1);
	assert_null(out);
}

/* ------------------------------------------------------------------------ */
/* LIST paging                                                               */

struct got {
	char		 id[2000][HI1_UUID_LEN + 1];
	uint32_t	 gen[2000];
	size_t		 n;
	size_t		 fail_at;
};

static int
collect(void *arg, const struct ctl_record *r)
{
	struct got	*g = arg;

	if (g->n + 1 == g->fail_at)
		return -1;
	memcpy(g->id[g->n], r->id, sizeof(g->id[0]));
	g->gen[g->n++] = r->generation;
	return 0;
}

static void
rec(struct ctl_record *r, int id, uint32_t gen, int64_t sec)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "00000000-0000-4000-8000-%012d", id);
	r->generation = gen;
	r->changed_us = sec * US + 250000;
}

static void
test_pager(void **state)
{
	struct ctl_record	*page = calloc(CTL_LIST_MAX, sizeof(*page));
	struct ctl_pager	*pg;
	struct got		*g = calloc(1, sizeof(*g));
	int64_t			 since = -1;

	(void)state;
	assert_non_null(page);
	assert_non_null(g);
	assert_non_null(pg = ctl_pager_new(-1));
	/* A full page ending with three objects at second 200. */
	for (int i = 0; i < CTL_LIST_MAX; i++)
		rec(&page[i], i, 1, i < CTL_LIST_MAX - 3 ? 100 + i / 10 : 200);
	assert_int_equal(ctl_pager_page(pg, page, CTL_LIST_MAX, collect, g,
	    &since), CTL_PAGER_MORE);
	assert_int_equal(since, 200 * US);
	assert_int_equal(g->n, CTL_LIST_MAX);
	/* The next page repeats them; one changed again; new ones follow. */
	rec(&page[0], CTL_LIST_MAX - 3, 1, 200);
	rec(&page[1], CTL_LIST_MAX - 2, 1, 200);
	rec(&page[2], 5000, 1, 200);
	rec(&page[3], CTL_LIST_MAX - 1, 2, 201);
	for (int i = 4; i < 9; i++)
		rec(&page[i], 6000 + i, 1, 202);
	assert_int_equal(ctl_pager_page(pg, page, 9, collect, g, &since),
	    CTL_PAGER_DONE);
	assert_int_equal(g->n, CTL_LIST_MAX + 7);
	assert_string_equal(g->id[CTL_LIST_MAX], page[2].id);
	assert_string_equal(g->id[CTL_LIST_MAX + 1], page[3].id);
	assert_int_equal(g->gen[CTL_LIST_MAX + 1], 2);
	ctl_pager_free(pg);

	/* More than a page within one second: said, not looped on. */
	assert_non_null(pg = ctl_pager_new(500 * US));
	since = 500 * US;
	g->n = 0;
	for (int i = 0; i < CTL_LIST_MAX; i++)
		rec(&page[i], i, 1, 500);
	assert_int_equal(ctl_pager_page(pg, page, CTL_LIST_MAX, collect, g,
	    &since), CTL_PAGER_MORE);
	assert_int_equal(ctl_pager_page(pg, page, CTL_LIST_MAX, collect, g,
	    &since), CTL_PAGER_STALLED);
	assert_int_equal(g->n, CTL_LIST_MAX);
	ctl_pager_free(pg);

	/* The caller's failure stops the paging. */
	assert_non_null(pg = ctl_pager_new(-1));
	g->n = 0;
	g->fail_at = 3;
	assert_int_equal(ctl_pager_page(pg, page, 10, collect, g, &since),
	    CTL_PAGER_FAILED);
	ctl_pager_free(pg);
	free(page);
	free(g);
}

/* ------------------------------------------------------------------------ */
/* fetch: a delivery of three parts                                          */

#define NPARTS	3

struct fx {
	char		 dir[96];
	char		 oid[NPARTS + 1][HI1_UUID_LEN + 1];	/* [seq] */
	char		*part[NPARTS + 1];
	size_t		 partlen[NPARTS + 1];
	uint64_t	 records[NPARTS + 1];
	char		*manifest;
	size_t		 mlen;
	char		*out;		/* what ctl_fetch said */
	size_t		 outlen;
	FILE		*outf;
	bool		 bare;		/* the carrier no longer has the data */
};

/* A result document of n communication records. */
static char *
part_doc(uint64_t n, size_t *len)
{
	char	*d = malloc(512 + 160 * n), *p;

	assert_non_null(d);
	p = d + sprintf(d, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<LDResult xmlns=\"urn:warrantd:mx:ld-result:1\">"
	    "<CarrierReference>" REF "</CarrierReference>"
	    "<TaskReference>" LDID "</TaskReference>"
	    "<RequestType>CommunicationRecords</RequestType>"
	    "<GeneratedAt>2026-12-07T16:00:00.000000Z</GeneratedAt>"
	    "<CommunicationRecords>");
	for (uint64_t i = 0; i < n; i++)
		p += sprintf(p, "<Record><StartTime>2026-11-0%" PRIu64
		    "T10:00:00.000000Z</StartTime><Type>Call</Type></Record>",
		    1 + i % 9);
	p += sprintf(p, "</CommunicationRecords></LDResult>\n");
	*len = (size_t)(p - d);
	return d;
}

/* What may be wrong with the manifest. */
struct mfault {
	int	 total_records;		/* added to TotalRecords */
	int	 total_parts;		/* added to TotalParts */
	bool	 last_on_first;		/* LastSequence on part 1 too */
	bool	 swap_seq;		/* parts 1 and 2 numbered 2, 1 */
	int	 records_of_2;		/* added to part 2's Records */
};

static void
fx_manifest(struct fx *x, const struct mfault *mf)
{
	char	*m = malloc(8192), *p, sha[65];
	uint64_t total = 0;

	assert_non_null(m);
	for (int s = 1; s <= NPARTS; s++)
		total += x->records[s];
	p = m + sprintf(m, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<LDManifest xmlns=\"urn:warrantd:mx:ld-manifest:1\">"
	    "<DeliveryID>" DELIVERY_ID "</DeliveryID>"
	    "<CarrierReference>" REF "</CarrierReference>"
	    "<TaskReference>" LDID "</TaskReference>"
	    "<RequestType>CommunicationRecords</RequestType>"
	    "<GeneratedAt>2026-12-07T16:00:00.000000Z</GeneratedAt>"
	    "<PartFormat>urn:warrantd:mx:ld-result:1</PartFormat>"
	    "<ChecksumType>SHA-256</ChecksumType>"
	    "<TotalParts>%d</TotalParts><TotalRecords>%" PRIu64 "</TotalRecords>"
	    "<OmittedRecords>0</OmittedRecords><Parts>", NPARTS + mf->total_parts,
	    total + (uint64_t)mf->total_records);
	for (int s = 1; s <= NPARTS; s++) {
		int seq = mf->swap_seq && s <= 2 ? 3 - s : s;

		ctl_sha256_hex((uint8_t *)x->part[s], x->partlen[s], sha);
		p += sprintf(p, "<Part><SequenceNumber>%d</SequenceNumber>"
		    "<IdentifierIndex>0</IdentifierIndex><Records>%" PRIu64
		    "</Records><OmittedRecords>0</OmittedRecords>"
		    "<Size>%zu</Size><Checksum>%s</Checksum>%s</Part>", seq,
		    x->records[s] + (uint64_t)(s == 2 ? mf->records_of_2 : 0),
		    x->partlen[s], sha, s == NPARTS || (s == 1 &&
		    mf->last_on_first) ? "<LastSequence>true</LastSequence>" : "");
	}
	p += sprintf(p, "</Parts></LDManifest>\n");
	free(x->manifest);
	x->manifest = m;
	x->mlen = (size_t)(p - m);
}

static void
fx_init(struct fx *x, const struct mfault *mf)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->dir, sizeof(x->dir), "%s/fetch-XXXXXX", keep_dir);
	assert_non_null(mkdtemp(x->dir));
	for (int s = 1; s <= NPARTS; s++) {
		hi1_uuid(x->oid[s], sizeof(x->oid[s]));
		x->records[s] = (uint64_t)(10 * s);
		x->part[s] = part_doc(x->records[s], &x->partlen[s]);
	}
	fx_manifest(x, mf);
	assert_non_null(x->outf = open_memstream(&x->out, &x->outlen));
}

static void
fx_free(struct fx *x)
{
	char	 cmd[128];

	for (int s = 1; s <= NPARTS; s++)
		free(x->part[s]);
	free(x->manifest);
	if (x->outf != NULL)
		fclose(x->outf);
	free(x->out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
}

/* The GET answer of parts seq[0..n), as the daemon builds it. */
static char *
fx_answer(struct fx *x, const int *seq, size_t n, size_t *len)
{
	struct hi1_answer	 ans[NPARTS];
	struct obj		 o[NPARTS];
	char			*xml;

	memset(ans, 0, sizeof(ans));
	for (size_t i = 0; i < n; i++) {
		struct obj_part *p = &o[i].u.part;

		obj_base(&o[i], HI1_OBJ_DELIVERY, x->oid[seq[i]], 1);
		snprintf(p->task_id, sizeof(p->task_id), TASK_ID);
		snprintf(p->delivery_id, sizeof(p->delivery_id), DELIVERY_ID);
		snprintf(p->ldid, sizeof(p->ldid), LDID);
		p->seq = (uint32_t)seq[i];
		p->parts = NPARTS;
		p->last = seq[i] == NPARTS;
		ans[i].action_id = (uint32_t)i;
		ans[i].verb = HI1_VERB_GET;
		ans[i].obj = &o[i];
		if (x->bare)
			continue;
		ans[i].data = (const uint8_t *)x->part[seq[i]];
		ans[i].data_len = x->partlen[seq[i]];
		if (p->last) {
			ans[i].manifest = (const uint8_t *)x->manifest;
			ans[i].manifest_len = x->mlen;
		}
	}
	assert_non_null(xml = hi1_build_answer(&hdr, ans, n, len));
	return xml;
}

/*
 * A GET of 16 parts, the last with its manifest: 17 binaries, one more
 * than hi1_out splices into the output, so both ways of writing Data are
 * in one message. Each Data is the base64 of its bytes (bytes that XML
 * would escape included), each Checksum the digest the answer gave (not
 * recomputed: a wrong one comes out as given), no marker is left, and a
 * text that looks like a marker is kept as it was.
 */
static void
test_answer_spliced(void **state)
{
	enum { N = HI1_MAX_ACTIONS, LEN = 3001 };
	static uint8_t		 data[N][LEN];
	static char		 b64[4 * ((LEN + 2) / 3) + 1];
	struct hi1_answer	 ans[N];
	struct obj		 o[N];
	struct ctl_answer	 a;
	uint8_t			 given[32];
	char			 hex[65], why[256], *xml;
	size_t			 len, nld;

	(void)state;
	memset(given, 0xab, sizeof(given));
	memset(ans, 0, sizeof(ans));
	for (int i = 0; i < N; i++) {
		struct obj_part *p = &o[i].u.part;
		char oid[HI1_UUID_LEN + 1];

		for (int k = 0; k < LEN; k++)
			data[i][k] = (uint8_t)("<&>\"x"[k % 5] + i * k);
		hi1_uuid(oid, sizeof(oid));
		obj_base(&o[i], HI1_OBJ_DELIVERY, oid, 1);
		snprintf(p->task_id, sizeof(p->task_id), TASK_ID);
		snprintf(p->delivery_id, sizeof(p->delivery_id), DELIVERY_ID);
		snprintf(p->ldid, sizeof(p->ldid), "MX-FGR-wd-splice-0123456789");
		p->seq = (uint32_t)i + 1;
		p->parts = N;
		p->last = i == N - 1;
		ans[i].action_id = (uint32_t)i;
		ans[i].verb = HI1_VERB_GET;
		ans[i].obj = &o[i];
		ans[i].data = data[i];
		ans[i].data_len = LEN;
		ans[i].data_sha256 = i == 3 ? given : NULL;
		if (p->last) {
			ans[i].manifest = data[0];
			ans[i].manifest_len = 100;
		}
	}
	assert_non_null(xml = hi1_build_answer(&hdr, ans, N, &len));
	assert_int_equal(strlen(xml), len);
	/* Every "wd-splice-" left is an LDID as it was sent, none a marker. */
	nld = 0;
	for (const char *m = xml; (m = strstr(m, "wd-splice-")) != NULL; m++) {
		assert_memory_equal(m, "wd-splice-0123456789<", 21);
		nld++;
	}
	assert_int_equal(nld, N);
	if (read_answer(xml, len, &a, why) != 0)
		fail_msg("%s", why);
	assert_int_equal(a.nactions, N);
	for (int i = 0; i < N; i++) {
		const struct ctl_binary *d = &a.actions[i].obj.data;
		int n = EVP_EncodeBlock((unsigned char *)b64, data[i], LEN);

		assert_true(a.actions[i].obj.has_data);
		assert_int_equal(d->b64len, n);
		assert_memory_equal(d->b64, b64, (size_t)n);
		if (i == 3)		/* as given */
			for (int k = 0; k < 64; k++)
				hex[k] = k % 2 ? 'b' : 'a';
		else
			ctl_sha256_hex(data[i], LEN, hex);
		hex[64] = '\0';
		assert_string_equal(d->checksum, hex);
	}
	ctl_answer_free(&a);
	free(xml);
}

/* Read an answer and give each DeliveryObject to the fetch. */
static void
fx_feed(struct fx *x, struct ctl_fetch *f, const char *xml, size_t len,
    bool manifest_first)
{
	struct ctl_answer	 a;
	char			 why[256];

	if (read_answer(xml, len, &a, why) != 0)
		fail_msg("%s", why);
	for (size_t i = 0; i < a.nactions; i++) {
		if (manifest_first && i == 0 &&
		    ctl_fetch_manifest(f, &a.actions[0].obj) != 0)
			break;
		assert_int_not_equal(ctl_fetch_part(f, &a.actions[i].obj), -1);
	}
	ctl_answer_free(&a);
	(void)x;
}

static struct ctl_fetch *
fx_fetch(struct fx *x)
{
	struct ctl_fetch *f = ctl_fetch_new(x->dir, TASK_ID, LDID, REF, NPARTS,
	    x->outf);

	assert_non_null(f);
	return f;
}

/* Whether the directory holds part seq (0: the manifest) with its bytes. */
static bool
fx_has(struct fx *x, int seq)
{
	char	 path[256], *got;
	size_t	 len;
	bool	 same;

	if (seq == 0)
		snprintf(path, sizeof(path), "%s/%s_%s_manifest.xml", x->dir,
		    TASK_ID, DELIVERY_ID);
	else
		snprintf(path, sizeof(path), "%s/%s_%s_%06d.xml", x->dir,
		    TASK_ID, DELIVERY_ID, seq);
	if (access(path, F_OK) != 0)
		return false;
	got = read_path(path, &len);
	same = seq == 0 ? len == x->mlen && memcmp(got, x->manifest, len) == 0 :
	    len == x->partlen[seq] && memcmp(got, x->part[seq], len) == 0;
	free(got);
	return same;
}

/* Files in the directory: no temporary name is ever left behind. */
static int
fx_nfiles(struct fx *x)
{
	DIR		*d = opendir(x->dir);
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp") != NULL)
			fail_msg("temporary file left: %s", e->d_name);
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n;
}

static const char *
fx_said(struct fx *x)
{
	fflush(x->outf);
	return x->out;
}

static void
test_fetch_good(void **state)
{
	struct mfault		 mf = { 0 };
	struct ctl_fetch	*f;
	struct fx		 x;
	const int		 last[] = { 3 }, rest[] = { 1, 2 };
	struct stat		 st;
	char			*xml, path[256];
	size_t			 len;

	(void)state;
	fx_init(&x, &mf);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_true(ctl_fetch_ready(f));
	assert_int_equal(ctl_fetch_have(f, 1), 0);
	xml = fx_answer(&x, rest, 2, &len);
	fx_feed(&x, f, xml, len, false);
	free(xml);
	assert_int_equal(ctl_fetch_finish(f), 0);
	assert_int_equal(ctl_fetch_parts_ok(f), 3);
	assert_int_equal(ctl_fetch_records(f), 10 + 20 + 30);
	ctl_fetch_free(f);
	for (int s = 0; s <= NPARTS; s++)
		assert_true(fx_has(&x, s));
	assert_int_equal(fx_nfiles(&x), 4);
	snprintf(path, sizeof(path), "%s/%s_%s_%06d.xml", x.dir, TASK_ID,
	    DELIVERY_ID, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_null(strstr(fx_said(&x), "MISMATCH"));
	assert_non_null(strstr(fx_said(&x), "complete: 3 parts, 60 records"));

	/* Again: the parts already there are not asked for. */
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_int_equal(ctl_fetch_have(f, 1), 1);
	assert_int_equal(ctl_fetch_have(f, 2), 1);
	assert_int_equal(ctl_fetch_finish(f), 0);
	ctl_fetch_free(f);

	/* The carrier destroyed the delivery: the directory still verifies. */
	x.bare = true;
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	assert_null(strstr(xml, "<delivery:Data>"));
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_true(ctl_fetch_ready(f));
	assert_int_equal(ctl_fetch_have(f, 1), 1);
	xml = fx_answer(&x, rest + 1, 1, &len);
	fx_feed(&x, f, xml, len, false);
	free(xml);
	assert_int_equal(ctl_fetch_finish(f), 0);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "kept from an earlier fetch"));
	/* ... unless a part there was changed since. */
	snprintf(path, sizeof(path), "%s/%s_%s_%06d.xml", x.dir, TASK_ID,
	    DELIVERY_ID, 2);
	assert_int_equal(truncate(path, 10), 0);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_int_equal(ctl_fetch_have(f, 2), 0);
	xml = fx_answer(&x, rest + 1, 1, &len);
	fx_feed(&x, f, xml, len, false);
	free(xml);
	assert_int_equal(ctl_fetch_finish(f), 1);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "part 2: the carrier sent no data"));
	fx_free(&x);
}

/* Flip one byte of part 2 in the answer's base64: its Checksum fails. */
static void
test_fetch_flipped(void **state)
{
	struct mfault		 mf = { 0 };
	struct ctl_fetch	*f;
	struct fx		 x;
	const int		 last[] = { 3 }, rest[] = { 1, 2 };
	char			*xml, *d;
	size_t			 len;

	(void)state;
	fx_init(&x, &mf);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	xml = fx_answer(&x, rest, 2, &len);
	/* The second Data element is part 2's: change one base64 digit. */
	assert_non_null(d = strstr(xml, "<delivery:Data>"));
	assert_non_null(d = strstr(d + 1, "<delivery:Data>"));
	d += strlen("<delivery:Data>") + 40;
	*d = *d == 'A' ? 'B' : 'A';
	fx_feed(&x, f, xml, len, false);
	free(xml);
	assert_int_equal(ctl_fetch_finish(f), 1);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "part 2: its SHA-256 is not its "
	    "Checksum"));
	assert_true(fx_has(&x, 1));
	assert_false(fx_has(&x, 2));
	assert_true(fx_has(&x, 3));
	assert_int_equal(fx_nfiles(&x), 3);
	fx_free(&x);
}

/* A part whose Checksum matches its (other) bytes, not the manifest's. */
static void
test_fetch_not_manifest(void **state)
{
	struct mfault		 mf = { 0 };
	struct ctl_fetch	*f;
	struct fx		 x;
	const int		 last[] = { 3 }, two[] = { 2 };
	char			*xml;
	size_t			 len;

	(void)state;
	fx_init(&x, &mf);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	/* The carrier sends part 2 with a flipped byte and its own Checksum. */
	x.part[2][x.partlen[2] - 2] ^= 0x20;
	xml = fx_answer(&x, two, 1, &len);
	fx_feed(&x, f, xml, len, false);
	free(xml);
	assert_int_equal(ctl_fetch_finish(f), 1);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "part 2: not the part the manifest "
	    "lists"));
	assert_non_null(strstr(fx_said(&x), "part 1 is missing"));
	assert_false(fx_has(&x, 2));
	fx_free(&x);
}

static void
test_fetch_missing(void **state)
{
	struct mfault		 mf = { 0 };
	struct ctl_fetch	*f;
	struct fx		 x;
	const int		 last[] = { 3 }, one[] = { 1 };
	char			*xml;
	size_t			 len;

	(void)state;
	fx_init(&x, &mf);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	xml = fx_answer(&x, one, 1, &len);
	fx_feed(&x, f, xml, len, false);
	free(xml);
	ctl_fetch_failed(f, 2, "error 412: no such object");
	assert_int_equal(ctl_fetch_finish(f), 1);
	assert_int_equal(ctl_fetch_parts_ok(f), 2);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "part 2: error 412"));
	/* Never asked at all: missing, said at the end. */
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_int_equal(ctl_fetch_have(f, 2), 0);
	assert_int_equal(ctl_fetch_finish(f), 1);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "part 2 is missing"));
	fx_free(&x);
}

/* Each way a manifest can fail to add up: nothing is written. */
static void
test_fetch_manifest_faults(void **state)
{
	const struct {
		struct mfault	 mf;
		const char	*said;
	} faults[] = {
		{ { .total_records = 1 }, "not the sum of its parts" },
		{ { .total_parts = 1 }, "TotalParts is not the number of parts" },
		{ { .last_on_first = true }, "LastSequence" },
		{ { .swap_seq = true }, "not numbered 1, 2, ... in order" },
	};
	struct ctl_fetch	*f;
	struct fx		 x;
	const int		 last[] = { 3 };
	char			*xml;
	size_t			 len;

	(void)state;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		fx_init(&x, &faults[i].mf);
		f = fx_fetch(&x);
		xml = fx_answer(&x, last, 1, &len);
		fx_feed(&x, f, xml, len, true);
		free(xml);
		assert_false(ctl_fetch_ready(f));
		assert_int_equal(ctl_fetch_finish(f), 1);
		ctl_fetch_free(f);
		if (strstr(fx_said(&x), faults[i].said) == NULL)
			fail_msg("fault %zu: said \"%s\"", i, fx_said(&x));
		assert_int_equal(fx_nfiles(&x), 0);
		fx_free(&x);
	}
}

/* The manifest's own Checksum, and a part's records against its count. */
static void
test_fetch_counts(void **state)
{
	struct mfault		 mf = { .records_of_2 = 1 };
	struct ctl_fetch	*f;
	struct fx		 x;
	const int		 last[] = { 3 }, two[] = { 2 };
	char			*xml, *c;
	size_t			 len;

	(void)state;
	fx_init(&x, &mf);
	/* TotalRecords follows the lie, so the sums agree: only the part says. */
	mf.total_records = 1;
	fx_manifest(&x, &mf);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_true(ctl_fetch_ready(f));
	xml = fx_answer(&x, two, 1, &len);
	fx_feed(&x, f, xml, len, false);
	free(xml);
	assert_int_equal(ctl_fetch_finish(f), 1);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "part 2: holds 20 records, the "
	    "manifest says 21"));
	assert_false(fx_has(&x, 2));
	fx_free(&x);

	/* The manifest damaged: its Checksum fails, nothing is believed. */
	memset(&mf, 0, sizeof(mf));
	fx_init(&x, &mf);
	f = fx_fetch(&x);
	xml = fx_answer(&x, last, 1, &len);
	assert_non_null(c = strstr(xml, "<delivery:Checksum>"));
	c += strlen("<delivery:Checksum>");
	*c = *c == '0' ? '1' : '0';
	fx_feed(&x, f, xml, len, true);
	free(xml);
	assert_false(ctl_fetch_ready(f));
	assert_int_equal(ctl_fetch_finish(f), 1);
	ctl_fetch_free(f);
	assert_non_null(strstr(fx_said(&x), "manifest's SHA-256 is not its "
	    "Checksum"));
	assert_int_equal(fx_nfiles(&x), 0);
	fx_free(&x);
}

/* The manifests of these tests are those of the real format. */
static void
test_manifest_schema(void **state)
{
	struct mfault		 mf = { 0 };
	struct fx		 x;
	xmlSchemaParserCtxtPtr	 pc;
	xmlSchemaValidCtxtPtr	 vc;
	xmlSchemaPtr		 xsd;
	xmlDocPtr		 doc;
	char			 path[512], *text;
	size_t			 len;

	(void)state;
	snprintf(path, sizeof(path), "%s/etc/templates/ld-manifest.xsd",
	    TOP_SRCDIR);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "# SKIPPED: etc/templates/ld-manifest.xsd is not "
		    "in this tree yet (branch ldpack)\n");
		skip();
	}
	text = read_path(path, &len);
	assert_non_null(pc = xmlSchemaNewMemParserCtxt(text, (int)len));
	assert_non_null(xsd = xmlSchemaParse(pc));
	xmlSchemaFreeParserCtxt(pc);
	free(text);
	fx_init(&x, &mf);
	assert_non_null(doc = xmlReadMemory(x.manifest, (int)x.mlen, NULL, NULL,
	    XML_PARSE_NONET));
	assert_non_null(vc = xmlSchemaNewValidCtxt(xsd));
	assert_int_equal(xmlSchemaValidateDoc(vc, doc), 0);
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeDoc(doc);
	xmlSchemaFree(xsd);
	fx_free(&x);
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
		fprintf(stderr, "# SKIPPED: official ETSI schema check of "
		    "warrantctl's requests (shared/ absent)\n");
		skip();
	}
	assert_true(keep_count >= 5);
	snprintf(cmd, sizeof(cmd), "sh '%s' hi1 '%s'/msg*.xml > '%s/official.log' "
	    "2>&1", script, keep_dir, keep_dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/official.log' >&2", keep_dir);
		(void)system(cmd);
		fail_msg("warrantctl's requests are not valid under the official "
		    "schemas");
	}
}

/* ------------------------------------------------------------------------ */

static int
setup(void **state)
{
	char	 dir[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/etc/templates", TOP_SRCDIR);
	if ((schema = hi1_schema_load(dir)) == NULL)
		return -1;
	ctl_resp_init();
	snprintf(keep_dir, sizeof(keep_dir), "/tmp/test_ctl_life.XXXXXX");
	return mkdtemp(keep_dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	hi1_schema_free(schema);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keep_dir);
	xmlCleanupParser();
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_reads),
		cmocka_unit_test(test_msg_cancel),
		cmocka_unit_test(test_msg_ratify),
		cmocka_unit_test(test_msg_extend),
		cmocka_unit_test(test_msg_refusals),
		cmocka_unit_test(test_text_limits),
		cmocka_unit_test(test_order_file),
		cmocka_unit_test(test_answer_fixture),
		cmocka_unit_test(test_answer_built),
		cmocka_unit_test(test_answer_spliced),
		cmocka_unit_test(test_answer_hostile),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_pager),
		cmocka_unit_test(test_fetch_good),
		cmocka_unit_test(test_fetch_flipped),
		cmocka_unit_test(test_fetch_not_manifest),
		cmocka_unit_test(test_fetch_missing),
		cmocka_unit_test(test_fetch_manifest_faults),
		cmocka_unit_test(test_fetch_counts),
		cmocka_unit_test(test_manifest_schema),
		cmocka_unit_test(test_official),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
