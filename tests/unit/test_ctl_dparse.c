/*
 * test_ctl_dparse — warrantctl receive's streaming reader of DELIVER
 * bodies (src/warrantctl/ctl_dparse.c) against the tree reader it stands in for,
 * hi1_parse_deliver(): over messages made by hi1_build_deliver and edited
 * by hand, both accept the same messages with the same fields and bytes
 * and refuse the same ones with the same error code; the SHA-256 computed
 * while decoding is the data's; a body of two parts with manifests (the
 * Data elements told apart); the bounds checked before or during the
 * pass (attributes, DOCTYPE, elements, encoding, size).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ctl_receive.h"
#include "hi1.h"
#include "hi1_object.h"
#include "hi1_parse.h"
#include "obj.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define OID	"71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e"
#define OID2	"71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9f"
#define DID	"d1079830-8e9a-4731-8fb7-36b9b961eb72"
#define TID	"2cb6e097-272b-4186-ad7e-d5d0aae4ab01"

static struct hi1_schema	*schema;
static uint8_t			*big;		/* 1 MiB of random bytes */
#define BIG_LEN			(1024 * 1024)
static const uint8_t		 small[] = "<r xmlns=\"urn:warrantd:mx:ld-result:1\"/>\n";
static const uint8_t		 manifest[] = "<m/>";

static void
part_obj(struct obj *o, const char *oid, uint32_t seq, bool last)
{
	memset(o, 0, sizeof(*o));
	o->kind = HI1_OBJ_DELIVERY;
	snprintf(o->owner, sizeof(o->owner), "FGR");
	snprintf(o->oid, sizeof(o->oid), "%s", oid);
	o->generation = 3;
	o->changed_us = 1796659200000000LL;
	snprintf(o->u.part.task_id, sizeof(o->u.part.task_id),
	    "2b36a78b-b628-416d-bd22-404e68a0cd36");
	snprintf(o->u.part.delivery_id, sizeof(o->u.part.delivery_id), DID);
	snprintf(o->u.part.ldid, sizeof(o->u.part.ldid), "MX-FGR-000123");
	o->u.part.seq = seq;
	o->u.part.last = last;
}

/* A DELIVER of n parts (1 or 2), data each, the last with a manifest. */
static char *
msg_parts(size_t n, const uint8_t *data, size_t dlen, size_t *len)
{
	struct hi1_response_header	 h = { "MXCARRIER", "FGR", TID,
					    1796659200000000LL };
	struct hi1_answer		 a[2];
	struct obj			 o[2];
	char				*body;

	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < n; i++) {
		part_obj(&o[i], i == 0 ? OID : OID2, (uint32_t)(7 + i),
		    i + 1 == n);
		a[i].action_id = (uint32_t)(5 + i);
		a[i].verb = HI1_VERB_DELIVER;
		a[i].obj = &o[i];
		/* The second part's data: the first's, shortened. */
		a[i].data = data + i;
		a[i].data_len = dlen - i;
		if (i + 1 == n) {
			a[i].manifest = manifest;
			a[i].manifest_len = sizeof(manifest) - 1;
		}
	}
	assert_non_null(body = hi1_build_deliver(&h, a, n, len));
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
same_binary(const struct hi1_binary *a, const struct hi1_binary *b,
    const char *sum)
{
	char	 hex[65];

	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->data, b->data, a->len);
	assert_string_equal(a->checksum, b->checksum);
	sha_hex(a->data, a->len, hex);
	assert_string_equal(sum, hex);
}

/*
 * ctl_dparse_buffer over msg in pieces of at most piece bytes, each its
 * own chain of the buffer (as TLS records arrive): the same outcome, the
 * same error code and the same data's SHA-256 as over msg in one piece.
 */
static void
same_in_pieces(const char *msg, size_t len, size_t piece, int rc,
    const struct wd_error *whole, const struct ctl_dmsg *wm, const char *what)
{
	struct evbuffer	*b;
	struct ctl_dmsg	*m;
	struct wd_error	 err;
	int		 r;

	assert_non_null(b = evbuffer_new());
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(evbuffer_add_reference(b, msg + off,
		    len - off < piece ? len - off : piece, NULL, NULL), 0);
	assert_non_null(m = malloc(sizeof(*m)));
	r = ctl_dparse_buffer(schema, b, m, &err);
	if (r != rc)
		fail_msg("%s in pieces of %zu: %d (%s), %d in one", what, piece,
		    r, r ? err.text : "", rc);
	if (r == -1 && err.code != whole->code)
		fail_msg("%s in pieces of %zu: error %d (%s) against %d (%s)",
		    what, piece, (int)err.code, err.text, (int)whole->code,
		    whole->text);
	if (r == 0) {
		assert_int_equal(m->d.n, wm->d.n);
		for (size_t i = 0; i < m->d.n; i++)
			assert_string_equal(m->sum[i][0], wm->sum[i][0]);
		ctl_dmsg_free(m);
	}
	free(m);
	evbuffer_free(b);
}

/*
 * Both readers over msg: both accept it with the same items, or both
 * refuse it with the same code (and so does ctl_dparse_buffer over msg in
 * pieces). Returns whether it was accepted.
 */
static bool
agree(const char *msg, size_t len, const char *what)
{
	struct hi1_deliver	 d;
	struct ctl_dmsg		*m;
	struct wd_error		 e1, e2;
	int			 r1, r2;

	assert_non_null(m = malloc(sizeof(*m)));
	r1 = hi1_parse_deliver(schema, msg, len, &d, &e1);
	r2 = ctl_dparse(schema, msg, len, m, &e2);
	if (r1 != r2)
		fail_msg("%s: hi1_parse_deliver %d (%s), ctl_dparse %d (%s)",
		    what, r1, r1 ? e1.text : "", r2, r2 ? e2.text : "");
	same_in_pieces(msg, len, 7, r2, &e2, m, what);
	same_in_pieces(msg, len, 16384, r2, &e2, m, what);
	if (r1 == -1) {
		if (e1.code != e2.code)
			fail_msg("%s: error %d (%s) against %d (%s)", what,
			    (int)e1.code, e1.text, (int)e2.code, e2.text);
		free(m);
		return false;
	}
	assert_string_equal(d.h.sender_id, m->d.h.sender_id);
	assert_string_equal(d.h.receiver_id, m->d.h.receiver_id);
	assert_string_equal(d.h.transaction_id, m->d.h.transaction_id);
	assert_int_equal(d.n, m->d.n);
	for (size_t i = 0; i < d.n; i++) {
		const struct hi1_delivered *a = &d.items[i], *b = &m->d.items[i];

		assert_int_equal(a->action_id, b->action_id);
		assert_int_equal(a->kind, b->kind);
		assert_string_equal(a->object_id, b->object_id);
		assert_string_equal(a->delivery_id, b->delivery_id);
		assert_string_equal(a->ldid, b->ldid);
		assert_int_equal(a->seq, b->seq);
		assert_int_equal(a->last, b->last);
		assert_int_equal(a->has_data, b->has_data);
		assert_int_equal(a->has_manifest, b->has_manifest);
		if (a->has_data)
			same_binary(&a->data, &b->data, m->sum[i][0]);
		if (a->has_manifest)
			same_binary(&a->manifest, &b->manifest, m->sum[i][1]);
	}
	hi1_deliver_free(&d);
	ctl_dmsg_free(m);
	free(m);
	return true;
}

/* A part of 1 MiB, the largest, and a body of two parts. */
static void
test_parts(void **state)
{
	struct ctl_dmsg	*m;
	struct wd_error	 err;
	char		*msg, hex[65];
	size_t		 len;

	(void)state;
	msg = msg_parts(1, big, BIG_LEN, &len);
	assert_true(agree(msg, len, "a 1 MiB part"));
	assert_non_null(m = malloc(sizeof(*m)));
	assert_int_equal(ctl_dparse(schema, msg, len, m, &err), 0);
	sha_hex(big, BIG_LEN, hex);
	assert_string_equal(m->sum[0][0], hex);
	assert_string_equal(m->d.items[0].data.checksum, hex);
	ctl_dmsg_free(m);
	free(m);
	free(msg);

	msg = msg_parts(2, big, 300000, &len);
	assert_true(agree(msg, len, "two parts"));
	free(msg);
	msg = msg_parts(1, small, sizeof(small) - 1, &len);
	assert_true(agree(msg, len, "a small part"));
	free(msg);
}

/* The b64 text of the last Data element of msg (the part's; the manifest
 * comes before it). */
static char *
part_data(const char *msg)
{
	const char	*p = NULL, *q;

	for (q = msg; (q = strstr(q, "<delivery:Data>")) != NULL; q++)
		p = q;
	assert_non_null(p);
	p += strlen("<delivery:Data>");
	assert_non_null(q = strchr(p, '<'));
	return strndup(p, (size_t)(q - p));
}

/* What XML allows inside Data, read the same as the tree reader does. */
static void
test_data_forms(void **state)
{
	char	*msg, *b64, *spaced, *cdata, *ref;
	size_t	 len, k = 0, n;

	(void)state;
	msg = msg_parts(1, big, 1000, &len);
	b64 = part_data(msg);
	n = strlen(b64);
	/* Spaces, tabs, line breaks (CRLF too) anywhere. */
	assert_non_null(spaced = malloc(n * 3 + 8));
	spaced[k++] = '\n';
	for (size_t i = 0; i < n; i++) {
		spaced[k++] = b64[i];
		if (i % 7 == 6)
			spaced[k++] = i % 3 == 0 ? '\t' : ' ';
		if (i % 76 == 75) {
			spaced[k++] = '\r';
			spaced[k++] = '\n';
		}
	}
	spaced[k++] = ' ';
	spaced[k] = '\0';
	edit(&msg, &len, b64, spaced);
	assert_true(agree(msg, len, "spaced base64"));
	free(msg);
	/* A CDATA section, a character reference, a comment. */
	msg = msg_parts(1, big, 1000, &len);
	assert_non_null(cdata = malloc(n + 32));
	snprintf(cdata, n + 32, "%.10s<![CDATA[%s]]>", b64, b64 + 10);
	edit(&msg, &len, b64, cdata);
	assert_true(agree(msg, len, "CDATA"));
	free(msg);
	msg = msg_parts(1, big, 1000, &len);
	assert_non_null(ref = malloc(n + 32));
	snprintf(ref, n + 32, "&#%d;%.9s<!-- x -->%s", b64[0], b64 + 1,
	    b64 + 10);
	edit(&msg, &len, b64, ref);
	assert_true(agree(msg, len, "a character reference and a comment"));
	free(msg);
	free(b64);
	free(spaced);
	free(cdata);
	free(ref);
}

/* Each edit of the Data of a valid DELIVER: both readers refuse it. */
static void
test_data_refusals(void **state)
{
	static const char *tails[] = {
		"=",		/* padding then more */
		"A",		/* a quantum unfinished */
		"AB=C",		/* padding inside a quantum */
		"A===",		/* three padding characters */
		"*",		/* not in the alphabet */
		"-_",		/* the URL-safe alphabet */
		"<x/>",		/* an element inside Data */
	};
	char	*msg, *b64, *to;
	size_t	 len;

	(void)state;
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		msg = msg_parts(1, big, 999, &len);	/* no padding */
		b64 = part_data(msg);
		assert_non_null(to = malloc(strlen(b64) + 16));
		snprintf(to, strlen(b64) + 16, "%s%s", b64, tails[i]);
		edit(&msg, &len, b64, to);
		assert_false(agree(msg, len, tails[i]));
		free(to);
		free(b64);
		free(msg);
	}
	/* Empty Data. */
	msg = msg_parts(1, big, 999, &len);
	b64 = part_data(msg);
	edit(&msg, &len, b64, "");
	assert_false(agree(msg, len, "empty Data"));
	free(b64);
	free(msg);
	/* Data that decodes to 3 bytes more than a part may hold. */
	msg = msg_parts(1, big, BIG_LEN, &len);
	b64 = part_data(msg);
	assert_non_null(to = malloc(strlen(b64) + 8));
	snprintf(to, strlen(b64) + 8, "AAAA%s", b64);
	edit(&msg, &len, b64, to);
	assert_false(agree(msg, len, "1 MiB + 3"));
	free(to);
	free(b64);
	free(msg);
}

/* Padding whose unused bits are not 0 is not canonical base64: refused. */
static void
test_padding_bits(void **state)
{
	struct ctl_dmsg	*m;
	struct wd_error	 err;
	char		*msg, *b64, *to;
	size_t		 len, n;

	(void)state;
	msg = msg_parts(1, big, 1000, &len);	/* 1000 = 3 * 333 + 1: "==" */
	b64 = part_data(msg);
	n = strlen(b64);
	assert_string_equal(b64 + n - 2, "==");
	assert_non_null(to = strdup(b64));
	/* The sextet before "==" keeps 2 bits of data; set one unused bit. */
	to[n - 3] = to[n - 3] == 'A' ? 'B' : (char)(to[n - 3] ^ 1);
	edit(&msg, &len, b64, to);
	assert_non_null(m = malloc(sizeof(*m)));
	assert_int_equal(ctl_dparse(schema, msg, len, m, &err), -1);
	assert_int_equal(err.code, WD_ERR_SCHEMA);
	free(m);
	free(to);
	free(b64);
	free(msg);
}

#define SP64	"                                                                "

/* Edits of the message around the data: the same refusals. */
static void
test_message_refusals(void **state)
{
	static const struct {
		const char	*from, *to, *what;
	} cases[] = {
		{ "<Identifier>" OID, "<Identifier>" DID, "Identifier" },
		{ "<HI1Message", "<!DOCTYPE x><HI1Message", "DOCTYPE" },
		{ "<HI1Message", "<!DOCTYPE x [<!ENTITY a \"b\">]><HI1Message",
		    "ENTITY" },
		{ "<RequestPayload>", "<ResponsePayload>", "a response" },
		{ "encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"", "encoding" },
		{ "<Header>", "<Header a=\"1\" b=\"1\" c=\"1\" d=\"1\" e=\"1\" "
		    "f=\"1\" g=\"1\" h=\"1\" i=\"1\" j=\"1\" k=\"1\" l=\"1\" "
		    "m=\"1\" n=\"1\" o=\"1\" p=\"1\" q=\"1\">", "17 attributes" },
		{ "</HI1Message>", "", "not well-formed" },
		{ "MXCARRIER", "MX\xc3\x28", "bad UTF-8" },
		{ "<delivery:Data>", "<delivery:Data>&x;", "an entity" },
		/*
		 * A declaration ending past the 512 bytes checked: read
		 * as Latin-1 by a parser that honours it (fuzz finding).
		 */
		{ "encoding=\"UTF-8\"", SP64 SP64 SP64 SP64 SP64 SP64 SP64 SP64
		    SP64 SP64 "encoding=\"ISO-8859-1\"", "a long declaration" },
		/* A UTF-16 byte order mark: never read as UTF-16. */
		{ "<?xml", "\xfe\xff<?xml", "a UTF-16 BOM" },
	};
	char	*msg;
	size_t	 len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg = msg_parts(1, big, 5000, &len);
		if (strstr(msg, cases[i].from) == NULL) {
			free(msg);
			fail_msg("%s: no %s in the message", cases[i].what,
			    cases[i].from);
		}
		edit(&msg, &len, cases[i].from, cases[i].to);
		if (strcmp(cases[i].from, "<RequestPayload>") == 0)
			edit(&msg, &len, "</RequestPayload>", "</ResponsePayload>");
		assert_false(agree(msg, len, cases[i].what));
		free(msg);
	}
}

/* Bounds the pass enforces itself, before the tree reader would. */
static void
test_bounds(void **state)
{
	struct ctl_dmsg	*m;
	struct wd_error	 err;
	char		*msg, *many;
	size_t		 len, k = 0;

	(void)state;
	assert_non_null(m = malloc(sizeof(*m)));
	/* 10,000 elements: refused while parsing, the tree never whole. */
	assert_non_null(many = malloc(10000 * 4 + 64));
	for (int i = 0; i < 10000; i++)
		k += (size_t)sprintf(many + k, "<a/>");
	msg = msg_parts(1, small, sizeof(small) - 1, &len);
	edit(&msg, &len, "<Header>", many);
	assert_int_equal(ctl_dparse(schema, msg, len, m, &err), -1);
	assert_int_equal(err.code, WD_ERR_LIMITS);
	free(msg);
	free(many);
	/* More than 4 MiB. */
	assert_non_null(many = calloc(1, 4 * 1024 * 1024 + 2));
	memset(many, ' ', 4 * 1024 * 1024 + 1);
	msg = msg_parts(1, small, sizeof(small) - 1, &len);
	edit(&msg, &len, "<Header>", many);
	assert_int_equal(ctl_dparse(schema, msg, len, m, &err), -1);
	assert_int_equal(err.code, WD_ERR_BODY_TOO_LARGE);
	free(msg);
	free(many);
	/* Nothing. */
	assert_int_equal(ctl_dparse(schema, "", 0, m, &err), -1);
	assert_int_equal(err.code, WD_ERR_NOT_WELL_FORMED);
	free(m);
}

static int
setup(void **state)
{
	(void)state;
	hi1_init();
	ctl_dparse_init();
	if ((big = malloc(BIG_LEN + 1)) == NULL ||
	    RAND_bytes(big, BIG_LEN) != 1)
		return -1;
	schema = hi1_schema_load(TOP_SRCDIR "/etc/templates");
	return schema == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	hi1_schema_free(schema);
	hi1_cleanup();
	free(big);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_data_forms),
		cmocka_unit_test(test_data_refusals),
		cmocka_unit_test(test_padding_bits),
		cmocka_unit_test(test_message_refusals),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
