/*
 * test_desk — the compliance desk's pure parts: the review policy
 * (src/warrantd/review.c: defaults, overrides, the urgent location that is never
 * held), the registry's desk keywords (operator blocks, level, desk listen,
 * review-policy and their errors) and the desk's untrusted input
 * (src/warrantd/desk_input.c: texts, query strings, action bodies), and the desk's
 * state of a task as its records change it (lib/obj.c: hold, release,
 * re-open, decisions), and the matcher of the desk's route table
 * (src/warrantd/desk_routes.c: 404, 405 and its Allow, prefixes, first match wins).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>

#include <cmocka.h>

#include "conf.h"
#include "desk_input.h"
#include "desk_routes.h"
#include "obj.h"
#include "review.h"

#define NOW	((int64_t)1796669759 * 1000000)
#define DAY	((int64_t)86400 * 1000000)

#define PREFIX \
	"carrier \"MXCARRIER\"\n" \
	"state \"/var/lib/warrantd\"\n" \
	"templates \"/usr/share/warrantd/templates\"\n" \
	"tls {\n" \
	"\tcertificate \"/s.pem\"\n\tkey \"/s.key\"\n\tca \"/ca.pem\"\n" \
	"}\n"
#define FP_A	"3fa1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9c"
#define FP_B	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FP_C	"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* conf_load of text, its complaints (stderr) discarded. */
static struct wd_conf *
load(const char *text)
{
	char		 path[] = "/tmp/test_desk.XXXXXX";
	int		 fd, saved, null;
	struct wd_conf	*c;

	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY);
	dup2(null, STDERR_FILENO);
	c = conf_load(path);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	unlink(path);
	return c;
}

static struct hi1_task
task(enum wd_reqtype type, int64_t start)
{
	struct hi1_task t;

	memset(&t, 0, sizeof(t));
	t.type = type;
	if (start != 0) {
		t.has_window = true;
		t.window_start_us = start;
		t.window_end_us = NOW;
	}
	return t;
}

static void
test_review_defaults(void **state)
{
	struct wd_authority	a;
	struct hi1_task		t;

	(void)state;
	memset(&a, 0, sizeof(a));
	t = task(WD_REQ_INTERCEPTION, 0);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_GATE);
	t = task(WD_REQ_RECORDS, NOW - 400 * DAY);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_GATE);
	t = task(WD_REQ_RECORDS, NOW - 300 * DAY);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_AUTO);
	t = task(WD_REQ_SUBSCRIBER, 0);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_AUTO);
	t = task(WD_REQ_LOCATION_RT, 0);
	assert_int_equal(review_policy(&a, &t, true, NOW), WD_REVIEW_AUTO);
	assert_int_equal(review_policy(NULL, &t, false, NOW), WD_REVIEW_AUTO);
}

static void
test_review_overrides(void **state)
{
	struct wd_authority	a;
	struct hi1_task		t;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.review[WD_REQ_SUBSCRIBER] = WD_REVIEW_AFTER;
	a.review[WD_REQ_INTERCEPTION] = WD_REVIEW_AUTO;
	a.review[WD_REQ_LOCATION_RT] = WD_REVIEW_GATE;
	t = task(WD_REQ_SUBSCRIBER, 0);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_AFTER);
	t = task(WD_REQ_INTERCEPTION, 0);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_AUTO);
	/* A routine location follows the registry; an urgent one never waits. */
	t = task(WD_REQ_LOCATION_RT, 0);
	assert_int_equal(review_policy(&a, &t, false, NOW), WD_REVIEW_GATE);
	assert_int_equal(review_policy(&a, &t, true, NOW), WD_REVIEW_AUTO);
	assert_string_equal(review_name(WD_REVIEW_AFTER), "review-after");
	assert_string_equal(review_name(WD_REVIEW_GATE), "review");
	assert_string_equal(review_name(WD_REVIEW_AUTO), "auto");
}

static void
test_conf_desk(void **state)
{
	struct wd_conf		*c;
	struct wd_official	*o;
	struct wd_authority	*a;
	int			 n = 0;

	(void)state;
	c = load(PREFIX "desk listen on 127.0.0.1 port 9443\ndesk four-eyes\n"
	    "authority \"FGR\" {\n\tname \"F\"\n\tkind federal-prosecutor\n"
	    "\treview-policy preservation review-after\n"
	    "\treview-policy interception auto\n}\n"
	    "operator \"op.a\" {\n\tname \"A\"\n\tcertificate sha256 \"" FP_A "\"\n"
	    /* both hashes: beside a key-only entry (one certificate, one person) */
	    "\tpublic-key sha256 \"" FP_C "\"\n"
	    "\tvalid 2026-01-01 to 2027-12-31\n}\n"
	    "operator \"sup.b\" {\n\tname \"B\"\n\tpublic-key sha256 \"" FP_B "\"\n"
	    "\tvalid 2026-01-01 to 2027-12-31\n\tlevel supervisor\n}\n");
	assert_non_null(c);
	for (size_t i = 0; i < WD_REQ__COUNT; i++)
		assert_false(c->desk_show_results[i]);	/* default: none */
	assert_string_equal(c->desk_addr, "127.0.0.1");
	assert_int_equal(c->desk_port, 9443);
	assert_true(c->desk_four_eyes);
	assert_non_null(a = conf_find_authority(c, "FGR"));
	assert_int_equal(a->review[WD_REQ_PRESERVATION], WD_REVIEW_AFTER);
	assert_int_equal(a->review[WD_REQ_INTERCEPTION], WD_REVIEW_AUTO);
	assert_int_equal(a->review[WD_REQ_RECORDS], WD_REVIEW_DEFAULT);
	TAILQ_FOREACH(o, &c->officials, entry) {
		if (strcmp(o->id, "op.a") == 0)
			assert_int_equal(o->role, WD_ROLE_OPERATOR);
		else if (strcmp(o->id, "sup.b") == 0)
			assert_int_equal(o->role, WD_ROLE_SUPERVISOR);
		assert_null(o->authority);
		n++;
	}
	assert_int_equal(n, 2);
	conf_free(c);
	c = load(PREFIX "desk show-results communication-records "
	    "subscriber-identity\ndesk show-results preservation\n");
	assert_non_null(c);
	assert_true(c->desk_show_results[WD_REQ_RECORDS]);
	assert_true(c->desk_show_results[WD_REQ_PRESERVATION]);
	assert_false(c->desk_show_results[WD_REQ_INTERCEPTION]);
	conf_free(c);
	/* Without desk listen, no desk. */
	assert_non_null(c = load(PREFIX));
	assert_null(c->desk_addr);
	assert_false(c->desk_four_eyes);
	conf_free(c);
}

static void
test_conf_desk_errors(void **state)
{
	static const char *const bad[] = {
		PREFIX "desk listen on example.org port 9443\n",
		PREFIX "desk listen on 127.0.0.1 port 0\n",
		PREFIX "desk four-eyes\ndesk four-eyes\n",
		PREFIX "desk show-results teleportation\n",
		PREFIX "desk show-results interception interception\n",
		PREFIX "desk show-results\n",
		PREFIX "desk listen on 127.0.0.1 port 9443\n"
		    "desk listen on 127.0.0.1 port 9444\n",
		PREFIX "operator \"op.a\" {\n\tname \"A\"\n\tcertificate sha256 \""
		    FP_A "\"\n\tvalid 2026-01-01 to 2027-12-31\n\tlevel admin\n}\n",
		PREFIX "auditor \"au\" {\n\tname \"A\"\n\tcertificate sha256 \""
		    FP_A "\"\n\tvalid 2026-01-01 to 2027-12-31\n\tlevel supervisor\n}\n",
		PREFIX "authority \"FGR\" {\n\tname \"F\"\n\tkind federal-prosecutor\n"
		    "\treview-policy interception maybe\n}\n",
		PREFIX "authority \"FGR\" {\n\tname \"F\"\n\tkind federal-prosecutor\n"
		    "\treview-policy teleportation review\n}\n",
		PREFIX "authority \"FGR\" {\n\tname \"F\"\n\tkind federal-prosecutor\n"
		    "\treview-policy interception review\n"
		    "\treview-policy interception auto\n}\n",
		/* An operator's fingerprint may not be an official's too. */
		PREFIX "auditor \"au\" {\n\tname \"A\"\n\tcertificate sha256 \""
		    FP_A "\"\n\tvalid 2026-01-01 to 2027-12-31\n}\n"
		    "operator \"op.a\" {\n\tname \"A\"\n\tcertificate sha256 \""
		    FP_A "\"\n\tvalid 2026-01-01 to 2027-12-31\n}\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wd_conf *c = load(bad[i]);

		if (c != NULL)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void
test_text(void **state)
{
	char	long_ok[501 * 2 + 1], *p = long_ok;

	(void)state;
	assert_true(desk_text_ok("Llamé a la fiscalía", 500));
	assert_true(desk_text_ok("\xf0\x9f\x93\x9e ok", 500));
	assert_false(desk_text_ok("", 500));
	assert_false(desk_text_ok(NULL, 500));
	assert_false(desk_text_ok("a\tb", 500));
	assert_false(desk_text_ok("a\x7f", 500));
	assert_false(desk_text_ok("\xc0\xaf", 500));		/* overlong '/' */
	assert_false(desk_text_ok("\xed\xa0\x80", 500));	/* surrogate */
	assert_false(desk_text_ok("\xc2\x85", 500));		/* C1 control */
	assert_false(desk_text_ok("\xe2\x82", 500));		/* cut short */
	assert_false(desk_text_ok("\xf4\x90\x80\x80", 500));	/* > U+10FFFF */
	/* 500 characters of two bytes each pass; 501 do not. */
	for (int i = 0; i < 500; i++, p += 2)
		memcpy(p, "\xc3\xa9", 2);
	*p = '\0';
	assert_true(desk_text_ok(long_ok, 500));
	memcpy(p, "\xc3\xa9", 3);
	assert_false(desk_text_ok(long_ok, 500));
	assert_true(desk_word_ok("MXC-20261207-00000001", 39));
	assert_false(desk_word_ok("MXC 1", 39));
	assert_false(desk_word_ok("", 39));
	assert_false(desk_word_ok("é", 39));
}

static void
test_query(void **state)
{
	char			 v[16];
	struct desk_filter	 f;

	(void)state;
	assert_int_equal(desk_query_get("a=1&b=x%2Fy+z", "b", v, sizeof(v)), 1);
	assert_string_equal(v, "x/y z");
	assert_int_equal(desk_query_get("a=1&ab=2", "b", v, sizeof(v)), 0);
	assert_int_equal(desk_query_get("b=%zz", "b", v, sizeof(v)), -1);
	assert_int_equal(desk_query_get("b=%4", "b", v, sizeof(v)), -1);
	assert_int_equal(desk_query_get("b=%", "b", v, sizeof(v)), -1);
	assert_int_equal(desk_query_get("b=%00", "b", v, sizeof(v)), -1);
	assert_int_equal(desk_query_get("b=0123456789abcdef", "b", v, sizeof(v)), -1);
	assert_int_equal(desk_query_get("", "b", v, sizeof(v)), 0);

	assert_null(desk_filter_parse("", &f));
	assert_string_equal(f.sort, "deadline");
	assert_int_equal(f.limit, DESK_QUEUE_DEFAULT);
	assert_false(f.desc);
	assert_null(desk_filter_parse("state=AwaitingApproval&sort=created&"
	    "order=desc&limit=1000&identifier=528112345678", &f));
	assert_string_equal(f.state, "AwaitingApproval");
	assert_string_equal(f.identifier, "528112345678");
	assert_true(f.desc);
	assert_int_equal(f.limit, 1000);
	assert_string_equal(desk_filter_parse("limit=0", &f), "limit");
	assert_string_equal(desk_filter_parse("limit=1001", &f), "limit");
	assert_string_equal(desk_filter_parse("limit=01", &f), "limit");
	assert_string_equal(desk_filter_parse("limit=1x", &f), "limit");
	assert_string_equal(desk_filter_parse("sort=evil", &f), "sort");
	assert_string_equal(desk_filter_parse("order=up", &f), "order");
	assert_string_equal(desk_filter_parse("state=a+b", &f), "state");
}

static void
test_body(void **state)
{
	struct desk_body b;

	(void)state;
	assert_null(desk_body_parse("approve", "{\"ref\":\"MXC-1\"}", 15, &b));
	assert_string_equal(b.ref, "MXC-1");
	assert_false(b.has_task);
#define P(act, s) desk_body_parse(act, s, strlen(s), &b)
	assert_null(P("reject", "{\"ref\":\"MXC-1\",\"task\":\"t-1\","
	    "\"reason\":\"Sin orden\"}"));
	assert_true(b.has_task);
	assert_string_equal(b.text, "Sin orden");
	assert_string_equal(P("reject", "{\"ref\":\"MXC-1\"}"), "bad-text");
	/* jansson refuses a NUL inside a string: the whole body is bad. */
	assert_string_equal(P("reject", "{\"ref\":\"MXC-1\",\"reason\":\"a\\u0000b\"}"),
	    "bad-json");
	assert_string_equal(P("note", "{\"ref\":\"MXC-1\",\"text\":\"a\\nb\"}"),
	    "bad-text");
	assert_string_equal(P("note", "{\"ref\":\"MXC-1\",\"text\":7}"), "bad-text");
	assert_string_equal(P("approve", "{\"ref\":\"MXC-1\",\"ref\":\"MXC-2\"}"),
	    "bad-json");
	assert_string_equal(P("approve", "[\"MXC-1\"]"), "bad-json");
	assert_string_equal(P("approve", "{\"ref\":"), "bad-json");
	assert_string_equal(P("approve", "{}"), "bad-reference");
	assert_string_equal(P("approve", "{\"ref\":\"MXC 1\"}"), "bad-reference");
	assert_string_equal(P("approve", "{\"ref\":\"MXC-1\",\"task\":\"\"}"),
	    "bad-task");
	assert_string_equal(P("assign", "{\"ref\":\"MXC-1\"}"), "bad-operator");
	assert_null(P("assign", "{\"ref\":\"MXC-1\",\"operator\":\"op.diaz\"}"));
	assert_string_equal(b.operator, "op.diaz");
	/* A reason must fit StatusReason: 255 bytes. */
	{
		char big[400];

		snprintf(big, sizeof(big), "{\"ref\":\"M\",\"reason\":\"%0300d\"}", 0);
		assert_string_equal(P("reject", big), "bad-text");
		assert_null(P("hold", "{\"ref\":\"M\",\"note\":\"espera\"}"));
	}
#undef P
	assert_string_equal(desk_body_parse("approve", NULL, 0, &b), "bad-json");
}

/* Apply one desk action by op to task o, as a journal record would. */
static int
desk_apply(struct obj *o, const char *action, const char *op, const char *text)
{
	Warrant__Record		rec = WARRANT__RECORD__INIT;
	Warrant__DeskAction	act = WARRANT__DESK_ACTION__INIT;

	act.action = (char *)action;
	act.operator_id = (char *)op;
	act.object_id = o->oid;
	act.text = (char *)text;
	rec.event = WARRANT__EVENT_TYPE__EVENT_DESK_ACTION;
	rec.desk = &act;
	return obj_apply(o, &rec);
}

/* The statistics' day: one strict parameter, a day that exists. */
static void
test_date(void **state)
{
	int y = 0, m = 0, d = 0;
	static const char *const bad[] = {
		"date=2026-13-01", "date=2026-02-29", "date=1999-12-31",
		"date=2026-1-01", "date=2026-01-01&x=1", "x=1", "date=",
		"date=2026-01-01T", "date=2026%2D01-01x", "date=20260101..",
		"date=2026-00-10", "date=2026-04-31", "date=+026-01-01",
	};

	(void)state;
	assert_int_equal(desk_date_parse(NULL, &y, &m, &d), 0);
	assert_int_equal(desk_date_parse("", &y, &m, &d), 0);
	assert_int_equal(desk_date_parse("date=2028-02-29", &y, &m, &d), 1);
	assert_int_equal(y, 2028);
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);
	assert_int_equal(desk_date_parse("date=2026%2D12%2D07", &y, &m, &d), 1);
	assert_int_equal(d, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(desk_date_parse(bad[i], &y, &m, &d), -1);
}

static void
test_reopen(void **state)
{
	struct obj		*o = calloc(1, sizeof(*o));
	const struct obj_desk	*k = &o->u.task.desk;

	(void)state;
	assert_non_null(o);
	o->kind = HI1_OBJ_LDTASK;
	snprintf(o->oid, sizeof(o->oid), "00000000-0000-4000-8000-000000000001");
	o->status = OST_AWAITING_APPROVAL;
	/* Nothing closed: nothing to re-open. */
	assert_int_equal(desk_apply(o, "reopen", "sup.b", ""), 1);
	assert_false(k->held);
	assert_false(k->reviewed);
	/* A released hold comes back with its note. */
	desk_apply(o, "hold", "op.a", "Falta el oficio");
	desk_apply(o, "release", "sup.b", "");
	assert_false(k->held);
	assert_string_equal(k->hold_note, "");
	desk_apply(o, "reopen", "sup.b", "");
	assert_true(k->held);
	assert_string_equal(k->hold_note, "Falta el oficio");
	assert_string_equal(k->released_note, "");
	/* Once: a second re-open changes nothing. */
	desk_apply(o, "release", "sup.b", "");
	desk_apply(o, "reopen", "sup.b", "");
	desk_apply(o, "release", "sup.b", "");
	assert_false(k->held);
	/* A decision ends what a hold could re-open. */
	desk_apply(o, "approve", "op.a", "");
	assert_string_equal(k->released_note, "");
	desk_apply(o, "reopen", "sup.b", "");
	assert_false(k->held);
	/* review-after: reviewed, then flagged again by a re-open. */
	memset(&o->u.task.desk, 0, sizeof(o->u.task.desk));
	o->u.task.desk.review = WD_REVIEW_AFTER;
	desk_apply(o, "reviewed", "op.a", "");
	assert_true(k->reviewed);
	desk_apply(o, "reopen", "sup.b", "");
	assert_false(k->reviewed);
	/* Another task's record changes nothing here. */
	o->u.task.desk.reviewed = true;
	{
		Warrant__Record		rec = WARRANT__RECORD__INIT;
		Warrant__DeskAction	act = WARRANT__DESK_ACTION__INIT;

		act.action = "reopen";
		act.object_id = "00000000-0000-4000-8000-000000000002";
		rec.event = WARRANT__EVENT_TYPE__EVENT_DESK_ACTION;
		rec.desk = &act;
		assert_int_equal(obj_apply(o, &rec), 0);
		assert_true(k->reviewed);
	}
	free(o);
}

/* ---- the route table's matcher ---------------------------------------------- */

#define PEOPLE	(DESK_ROLE(WD_ROLE_OPERATOR) | DESK_ROLE(WD_ROLE_SUPERVISOR))
static const struct desk_route rt_table[] = {
	{ HTTP_GET,	"/",			false, PEOPLE, false, NULL },
	{ HTTP_GET,	"/desk/api/queue",	false, PEOPLE, false, NULL },
	{ HTTP_GET,	"/desk/api/requests/",	true,  PEOPLE, false, NULL },
	{ HTTP_POST,	"/desk/api/approve",	false, PEOPLE, true,  NULL },
	{ HTTP_GET,	"/both",		false, 0,      false, NULL },
	{ HTTP_POST,	"/both",		false, DESK_ROLE(WD_ROLE_AUDITOR),
	    true, NULL },
};
#define RT_N	(sizeof(rt_table) / sizeof(rt_table[0]))

static void
test_routes(void **state)
{
	const struct desk_route *rt;

	(void)state;
	rt = NULL;
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/desk/api/queue", &rt), 0);
	assert_ptr_equal(rt, &rt_table[1]);
	/* "/" is exact, not a prefix of everything. */
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/etc/passwd", &rt), 404);
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/desk/api/queueX", &rt), 404);
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/desk/api/nope", &rt), 404);
	assert_null(desk_route_allow(rt_table, RT_N, "/desk/api/nope"));
	/* A prefix: what follows is the handler's. */
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/desk/api/requests/MXC-1", &rt), 0);
	assert_ptr_equal(rt, &rt_table[2]);
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/desk/api/requests", &rt), 404);
	/* A method not in the table for the path: 405, and what is allowed. */
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_POST,
	    "/desk/api/queue", &rt), 405);
	assert_string_equal(desk_route_allow(rt_table, RT_N, "/desk/api/queue"),
	    "GET");
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET,
	    "/desk/api/approve", &rt), 405);
	assert_string_equal(desk_route_allow(rt_table, RT_N,
	    "/desk/api/approve"), "POST");
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_OTHER,
	    "/desk/api/requests/X", &rt), 405);
	assert_string_equal(desk_route_allow(rt_table, RT_N,
	    "/desk/api/requests/X"), "GET");
	/* One path under two methods: each finds its own entry. */
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_POST, "/both",
	    &rt), 0);
	assert_ptr_equal(rt, &rt_table[5]);
	assert_int_equal(desk_route_find(rt_table, RT_N, HTTP_GET, "/both",
	    &rt), 0);
	assert_ptr_equal(rt, &rt_table[4]);
	assert_string_equal(desk_route_allow(rt_table, RT_N, "/both"),
	    "GET, POST");
	assert_int_equal(desk_route_roles(rt_table, RT_N),
	    PEOPLE | DESK_ROLE(WD_ROLE_AUDITOR));
	assert_int_equal(desk_route_roles(rt_table, 4), PEOPLE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_review_defaults),
		cmocka_unit_test(test_review_overrides),
		cmocka_unit_test(test_conf_desk),
		cmocka_unit_test(test_conf_desk_errors),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
