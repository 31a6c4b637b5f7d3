/*
 * test_hi1_parse — the readers of HI-1 responses and DELIVER requests
 * (include/hi1_parse.h) over messages made by the carrier's own builders
 * (hi1_build_deliver, hi1_build_answer, hi1_build_error) and edited by
 * hand: what they extract, and what they refuse with which error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hi1.h"
#include "hi1_object.h"
#include "hi1_parse.h"
#include "obj.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define OID	"71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e"
#define DID	"d1079830-8e9a-4731-8fb7-36b9b961eb72"
#define TID	"2cb6e097-272b-4186-ad7e-d5d0aae4ab01"

static struct hi1_schema	*schema;
static const uint8_t		 part[] = "<r xmlns=\"urn:warrantd:mx:ld-result:1\"/>\n";
static const uint8_t		 manifest[] = "<m/>";

static char *
deliver_msg(bool last, size_t *len)
{
	struct hi1_response_header	 h = { "MXCARRIER", "FGR", TID,
					    1796659200000000LL };
	struct hi1_answer		 a;
	struct obj			 o;
	char				*body;

	memset(&o, 0, sizeof(o));
	o.kind = HI1_OBJ_DELIVERY;
	snprintf(o.owner, sizeof(o.owner), "FGR");
	snprintf(o.oid, sizeof(o.oid), OID);
	o.generation = 3;
	o.changed_us = 1796659200000000LL;
	snprintf(o.u.part.task_id, sizeof(o.u.part.task_id),
	    "2b36a78b-b628-416d-bd22-404e68a0cd36");
	snprintf(o.u.part.delivery_id, sizeof(o.u.part.delivery_id), DID);
	snprintf(o.u.part.ldid, sizeof(o.u.part.ldid), "MX-FGR-000123");
	o.u.part.seq = 7;
	o.u.part.last = last;
	memset(&a, 0, sizeof(a));
	a.action_id = 5;
	a.verb = HI1_VERB_DELIVER;
	a.obj = &o;
	a.data = part;
	a.data_len = sizeof(part) - 1;
	if (last) {
		a.manifest = manifest;
		a.manifest_len = sizeof(manifest) - 1;
	}
	assert_non_null(body = hi1_build_deliver(&h, &a, 1, len));
	return body;
}

/* Replace the first occurrence of from in *msg by to. */
static void
edit(char **msg, size_t *len, const char *from, const char *to)
{
	char	*p = strstr(*msg, from), *out;

	assert_non_null(p);
	assert_non_null(out = malloc(*len - strlen(from) + strlen(to) + 1));
	memcpy(out, *msg, (size_t)(p - *msg));
	strcpy(out + (p - *msg), to);
	strcat(out, p + strlen(from));
	free(*msg);
	*msg = out;
	*len = strlen(out);
}

static void
sha_hex(const uint8_t *d, size_t n, char hex[65])
{
	uint8_t	 md[32];

	EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
test_deliver_part(void **state)
{
	struct hi1_deliver	 d;
	struct wd_error		 err;
	char			*msg, hex[65];
	size_t			 len;

	(void)state;
	msg = deliver_msg(true, &len);
	assert_int_equal(hi1_parse_deliver(schema, msg, len, &d, &err), 0);
	assert_string_equal(d.h.sender_id, "MXCARRIER");
	assert_string_equal(d.h.receiver_id, "FGR");
	assert_string_equal(d.h.transaction_id, TID);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].action_id, 5);
	assert_int_equal(d.items[0].kind, HI1_OBJ_DELIVERY);
	assert_string_equal(d.items[0].object_id, OID);
	assert_string_equal(d.items[0].owner, "FGR");
	assert_int_equal(d.items[0].generation, 3);
	assert_string_equal(d.items[0].delivery_id, DID);
	assert_string_equal(d.items[0].ldid, "MX-FGR-000123");
	assert_int_equal(d.items[0].seq, 7);
	assert_true(d.items[0].last);
	assert_int_equal(d.items[0].nassoc, 1);
	assert_true(d.items[0].has_data);
	assert_int_equal(d.items[0].data.len, sizeof(part) - 1);
	assert_memory_equal(d.items[0].data.data, part, sizeof(part) - 1);
	sha_hex(part, sizeof(part) - 1, hex);
	assert_string_equal(d.items[0].data.checksum, hex);
	assert_true(d.items[0].has_manifest);
	assert_memory_equal(d.items[0].manifest.data, manifest,
	    sizeof(manifest) - 1);
	hi1_deliver_free(&d);
	free(msg);
}

/* Base64 as XML allows it: line breaks and spaces inside Data. */
static void
test_deliver_base64_spaces(void **state)
{
	struct hi1_deliver	 d;
	struct wd_error		 err;
	char			*msg, *p, *q, b64[128], spaced[256];
	size_t			 len, k = 0;

	(void)state;
	msg = deliver_msg(false, &len);
	assert_non_null(p = strstr(msg, "<delivery:Data>"));
	p += strlen("<delivery:Data>");
	assert_non_null(q = strchr(p, '<'));
	snprintf(b64, sizeof(b64), "%.*s", (int)(q - p), p);
	for (size_t i = 0; b64[i] != '\0'; i++) {
		spaced[k++] = b64[i];
		if (i % 8 == 7)
			spaced[k++] = i % 16 == 15 ? '\n' : ' ';
	}
	spaced[k] = '\0';
	edit(&msg, &len, b64, spaced);
	assert_int_equal(hi1_parse_deliver(schema, msg, len, &d, &err), 0);
	assert_memory_equal(d.items[0].data.data, part, sizeof(part) - 1);
	hi1_deliver_free(&d);
	free(msg);
}

static void
test_deliver_notification(void **state)
{
	struct hi1_response_header	 h = { "MXCARRIER", "FGR", TID, 0 };
	struct hi1_answer		 a;
	struct hi1_deliver		 d;
	struct wd_error			 err;
	struct obj			 o;
	char				*msg;
	size_t				 len;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.kind = HI1_OBJ_NOTIFICATION;
	snprintf(o.owner, sizeof(o.owner), "FGR");
	snprintf(o.oid, sizeof(o.oid), OID);
	o.generation = 1;
	o.created_us = o.changed_us = 1796659200000000LL;
	snprintf(o.u.note.text, sizeof(o.u.note.text),
	    "La orden urgente\tno fue ratificada.");
	snprintf(o.u.note.assoc[0], sizeof(o.u.note.assoc[0]), DID);
	o.u.note.nassoc = 1;
	memset(&a, 0, sizeof(a));
	a.obj = &o;
	assert_non_null(msg = hi1_build_deliver(&h, &a, 1, &len));
	assert_int_equal(hi1_parse_deliver(schema, msg, len, &d, &err), 0);
	assert_int_equal(d.items[0].kind, HI1_OBJ_NOTIFICATION);
	/* Controls become spaces; the text is otherwise kept. */
	assert_string_equal(d.items[0].details,
	    "La orden urgente no fue ratificada.");
	assert_string_equal(d.items[0].note_type, "General");
	assert_true(d.items[0].new_note);
	assert_int_equal(d.items[0].noted_us, 1796659200000000LL);
	assert_string_equal(d.items[0].assoc[0], DID);
	hi1_deliver_free(&d);
	free(msg);
}

/* Each edit of a valid DELIVER, and the error it must get. */
static void
test_deliver_refusals(void **state)
{
	static const struct {
		const char	*from, *to;
		enum wd_errcode	 code;
	} cases[] = {
		/* Identifier is not the delivered object's */
		{ "<Identifier>" OID, "<Identifier>" DID, WD_ERR_SCHEMA },
		/* a padding character inside the base64 */
		{ "<delivery:Data>", "<delivery:Data>=", WD_ERR_SCHEMA },
		/* a DOCTYPE */
		{ "<HI1Message", "<!DOCTYPE x><HI1Message", WD_ERR_DOCTYPE },
		/* a response is not a DELIVER */
		{ "<RequestPayload>", "<ResponsePayload>", WD_ERR_SCHEMA },
	};
	struct hi1_deliver	 d;
	struct wd_error		 err;
	char			*msg;
	size_t			 len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg = deliver_msg(false, &len);
		edit(&msg, &len, cases[i].from, cases[i].to);
		if (strcmp(cases[i].from, "<RequestPayload>") == 0)
			edit(&msg, &len, "</RequestPayload>", "</ResponsePayload>");
		if (hi1_parse_deliver(schema, msg, len, &d, &err) != -1)
			fail_msg("case %zu accepted", i);
		if (err.code != cases[i].code)
			fail_msg("case %zu: error %d (%s), expected %d", i,
			    (int)err.code, err.text, (int)cases[i].code);
		assert_int_equal(d.n, 0);
		free(msg);
	}
}

static void
test_deliver_duplicates(void **state)
{
	struct hi1_deliver	 d;
	struct wd_error		 err;
	char			*msg, *ar, *copy;
	const char		*s, *e;
	size_t			 len;

	(void)state;
	/* The same action twice: the same ActionIdentifier and object. */
	msg = deliver_msg(false, &len);
	assert_non_null(s = strstr(msg, "<ActionRequest>"));
	assert_non_null(e = strstr(msg, "</ActionRequest>"));
	e += strlen("</ActionRequest>");
	assert_non_null(ar = strndup(s, (size_t)(e - s)));
	assert_non_null(copy = malloc(strlen(ar) * 2 + 1));
	strcpy(copy, ar);
	strcat(copy, ar);
	edit(&msg, &len, ar, copy);
	assert_int_equal(hi1_parse_deliver(schema, msg, len, &d, &err), -1);
	assert_int_equal(err.code, WD_ERR_DUPLICATE_ACTION);
	/* Another ActionIdentifier, the same object. */
	edit(&msg, &len, "<ActionIdentifier>5<", "<ActionIdentifier>6<");
	assert_int_equal(hi1_parse_deliver(schema, msg, len, &d, &err), -1);
	assert_int_equal(err.code, WD_ERR_DUPLICATE_OBJECT);
	assert_true(err.has_action);
	assert_int_equal(err.action_id, 5);
	free(ar);
	free(copy);
	free(msg);
}

static void
test_response(void **state)
{
	struct hi1_response_header	 h = { "FGR", "MXCARRIER", TID, 0 };
	struct hi1_answer		 a[2];
	struct hi1_response		 r;
	struct wd_error			 err, e;
	char				*msg, desc[400];
	size_t				 len;

	(void)state;
	memset(a, 0, sizeof(a));
	a[0].action_id = 0;
	a[0].verb = HI1_VERB_DELIVER;
	a[0].identifier = OID;
	a[1].action_id = 9;
	/* A long description with a line break: cut and made one line. */
	memset(desc, 'x', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	memcpy(desc, "bad\nsum", 7);
	wd_error_set(&e, WD_ERR_CHECKSUM, "%s", desc);
	a[1].err = &e;
	assert_non_null(msg = hi1_build_answer(&h, a, 2, &len));
	assert_int_equal(hi1_parse_response(schema, msg, len, &r, &err), 0);
	assert_string_equal(r.h.sender_id, "FGR");
	assert_string_equal(r.h.receiver_id, "MXCARRIER");
	assert_false(r.error);
	assert_int_equal(r.nactions, 2);
	assert_int_equal(r.actions[0].verb, HI1_VERB_DELIVER);
	assert_string_equal(r.actions[0].identifier, OID);
	assert_true(r.actions[1].error);
	assert_int_equal(r.actions[1].action_id, 9);
	assert_int_equal(r.actions[1].error_code, 420);
	assert_non_null(strstr(r.actions[1].error_text, "bad sum"));
	assert_true(strlen(r.actions[1].error_text) < HI1_ERRTEXT_LEN);
	free(msg);

	/* A message-level error. */
	assert_non_null(msg = hi1_build_error(&h, NULL, &e, &len));
	assert_int_equal(hi1_parse_response(schema, msg, len, &r, &err), 0);
	assert_true(r.error);
	assert_int_equal(r.error_code, 420);
	assert_int_equal(r.nactions, 0);
	free(msg);

	/* A request is not a response. */
	msg = deliver_msg(false, &len);
	assert_int_equal(hi1_parse_response(schema, msg, len, &r, &err), -1);
	assert_int_equal(err.code, WD_ERR_SCHEMA);
	free(msg);
}

static size_t
slurp(const char *path, char *buf, size_t size)
{
	FILE	*f;
	size_t	 len;

	assert_non_null(f = fopen(path, "r"));
	len = fread(buf, 1, size, f);
	fclose(f);
	assert_true(len > 0 && len < size);
	return len;
}

/* A valid request that is not a DELIVER: not for a delivery endpoint. */
static void
test_deliver_other_verb(void **state)
{
	struct hi1_deliver	 d;
	struct wd_error		 err;
	char			 buf[16384];
	size_t			 len;

	(void)state;
	len = slurp(TOP_SRCDIR "/tests/lifecycle/get-request.xml", buf,
	    sizeof(buf));
	assert_int_equal(hi1_parse_deliver(schema, buf, len, &d, &err), -1);
	assert_int_equal(err.code, WD_ERR_NOT_CHANGEABLE);
	assert_non_null(strstr(err.text, "only DELIVER"));
}

/* The official-shaped example answer: GET, LIST, UPDATE, DELIVER outcomes. */
static void
test_response_example(void **state)
{
	struct hi1_response	 r;
	struct wd_error		 err;
	char			 buf[16384];
	size_t			 len;

	(void)state;
	len = slurp(TOP_SRCDIR "/tests/lifecycle/get-response.xml", buf,
	    sizeof(buf));
	assert_int_equal(hi1_parse_response(schema, buf, len, &r, &err), 0);
	assert_int_equal(r.nactions, 6);
	assert_int_equal(r.actions[0].verb, HI1_VERB_GET);
	assert_int_equal(r.actions[0].kind, HI1_OBJ_LDTASK);
	assert_string_equal(r.actions[0].identifier,
	    "2b36a78b-b628-416d-bd22-404e68a0cd36");
	assert_int_equal(r.actions[1].kind, HI1_OBJ_DELIVERY);
	assert_int_equal(r.actions[2].verb, HI1_VERB_LIST);
	assert_int_equal(r.actions[2].nrecords, 1);
	assert_int_equal(r.actions[3].verb, HI1_VERB_UPDATE);
	assert_int_equal(r.actions[3].kind, HI1_OBJ_AUTHORISATION);
	assert_int_equal(r.actions[5].verb, HI1_VERB_DELIVER);
	assert_string_equal(r.actions[5].identifier,
	    "71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e");
}

static int
setup(void **state)
{
	(void)state;
	hi1_init();
	schema = hi1_schema_load(TOP_SRCDIR "/etc/templates");
	return schema == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	hi1_schema_free(schema);
	hi1_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_part),
		cmocka_unit_test(test_deliver_base64_spaces),
		cmocka_unit_test(test_deliver_notification),
		cmocka_unit_test(test_deliver_refusals),
		cmocka_unit_test(test_deliver_duplicates),
		cmocka_unit_test(test_deliver_other_verb),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_response_example),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
