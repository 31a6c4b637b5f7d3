/*
 * test_parser_msg — the parser workers' messages (lib/parser_msg.c over
 * lib/codec.c): every sample, invalid and semantic template of the tree is
 * parsed as a worker would, its answer framed, decoded and read back as
 * warrantd does, and must come back the same, byte for byte (a parsed
 * request, a refusal, a refusal with what was extracted). Then answers a
 * compromised worker could send, each refused with the reason.
 */
#include "config.h"

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hi1.h"
#include "parser_msg.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static struct hi1_schema	*schema;
static struct hi1_request	 req, back;

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*buf = malloc(1 << 22);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 22, f);
	fclose(f);
	return buf;
}

/* Parse as a worker, frame, decode and read as warrantd: the same comes back. */
static int
roundtrip(const char *path)
{
	struct wd_error		 err, err2;
	ProtobufCMessage	*m;
	uint8_t			*frame;
	size_t			 len, flen, used;
	char			*body = slurp(path, &len), why[160];
	bool			 parsed;
	int			 rc;

	rc = hi1_parse_request(schema, body, len, &req, &err);
	free(body);
	assert_non_null(frame = parser_msg_answer(7, &req, rc == 0 ? NULL : &err,
	    &flen));
	assert_int_equal(codec_decode(&parser_answer_spec, frame, flen, &m, &used,
	    why, sizeof(why)), CODEC_OK);
	assert_int_equal(used, flen);
	assert_int_equal(((Warrant__Parser__ParseAnswer *)m)->id, 7);
	memset(&back, 0, sizeof(back));
	if (parser_msg_answer_read((Warrant__Parser__ParseAnswer *)m, &back, &err2,
	    &parsed, why, sizeof(why)) == -1)
		fail_msg("%s: refused: %s", path, why);
	assert_int_equal(parsed, rc == 0);
	if (rc != 0) {
		assert_int_equal(err2.code, err.code);
		assert_int_equal(err2.has_action, err.has_action);
		assert_int_equal(err2.action_id, err.action_id);
		assert_string_equal(err2.text, err.text);
	}
	if (rc == 0)
		assert_memory_equal(&back, &req, sizeof(req));
	else if (err.has_action) {
		/*
		 * Cut short, extraction may leave a half-written element past
		 * a count (never read): what is sent is what the counts hold,
		 * and it survives a second trip unchanged.
		 */
		uint8_t	*frame2;
		size_t	 flen2;

		assert_non_null(frame2 = parser_msg_answer(7, &back, &err2,
		    &flen2));
		assert_int_equal(flen2, flen);
		assert_memory_equal(frame2, frame, flen);
		free(frame2);
	}
	codec_free(m);
	free(frame);
	return rc == 0 ? 1 : err.has_action ? 2 : 0;
}

static void
test_roundtrip(void **state)
{
	static const char *dirs[] = { "etc/samples", "tests/templates/invalid",
	    "tests/templates/semantic", "tests/xml-attacks" };
	unsigned	 kinds[3] = { 0, 0, 0 };
	char		 dir[512], path[1024];
	struct dirent	*de;
	DIR		*d;

	(void)state;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", TOP_SRCDIR, dirs[i]);
		assert_non_null(d = opendir(dir));
		while ((de = readdir(d)) != NULL) {
			if (strstr(de->d_name, ".xml") == NULL)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			kinds[roundtrip(path)]++;
		}
		closedir(d);
	}
	/* Each kind of answer was seen: parsed, refused, refused per action. */
	assert_true(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
}

/* A valid answer (the first sample's) to break one field at a time. */
static Warrant__Parser__ParseAnswer *
valid_answer(uint8_t **frame)
{
	struct wd_error		 err;
	ProtobufCMessage	*m;
	size_t			 len, flen;
	char			*body, path[1024], why[160];

	snprintf(path, sizeof(path), "%s/etc/samples/location-history.xml",
	    TOP_SRCDIR);
	body = slurp(path, &len);
	assert_int_equal(hi1_parse_request(schema, body, len, &req, &err), 0);
	free(body);
	assert_non_null(*frame = parser_msg_answer(1, &req, NULL, &flen));
	assert_non_null(m = codec_unpack(&parser_answer_spec, *frame + CODEC_HDR,
	    flen - CODEC_HDR, why, sizeof(why)));
	return (Warrant__Parser__ParseAnswer *)m;
}

static void
refused(Warrant__Parser__ParseAnswer *a, const char *want)
{
	struct wd_error	err;
	bool		parsed;
	char		why[160] = "";

	memset(&back, 0, sizeof(back));
	assert_int_equal(parser_msg_answer_read(a, &back, &err, &parsed, why,
	    sizeof(why)), -1);
	if (strstr(why, want) == NULL)
		fail_msg("refused for \"%s\", expected \"%s\"", why, want);
}

static void
test_hostile(void **state)
{
	Warrant__Parser__ParseAnswer	*a;
	Warrant__Parser__Refusal	 r = WARRANT__PARSER__REFUSAL__INIT;
	Warrant__Parser__Request	*q;
	struct wd_error			 err;
	uint8_t				*frame;
	char				 why[160], *s;
	bool				 parsed;
	size_t				 n;
	uint32_t			 u;
	int32_t				 k;

	(void)state;
	a = valid_answer(&frame);
	q = a->request;
	assert_true(q->n_tasks > 0 && q->n_actions > 0 && q->tasks[0]->n_ids > 0);
	memset(&back, 0, sizeof(back));
	assert_int_equal(parser_msg_answer_read(a, &back, &err, &parsed, why,
	    sizeof(why)), 0);
	assert_true(parsed);

	s = q->transaction_id;
	q->transaction_id = "0123456789012345678901234567890123456789";
	refused(a, "transaction id");
	q->transaction_id = s;

	n = q->n_tasks;
	q->n_tasks = HI1_MAX_ACTIONS + 1;	/* the array is not that long: */
	refused(a, "tasks");			/* refused before it is read */
	q->n_tasks = n;

	u = q->actions[0]->index;
	q->actions[0]->index = (uint32_t)q->n_tasks;	/* past the filled tasks */
	refused(a, "action index");
	q->actions[0]->index = u;

	k = q->tasks[0]->auth_index;
	q->tasks[0]->auth_index = (int32_t)q->n_auths;	/* no such order */
	refused(a, "task's authorisation");
	q->tasks[0]->auth_index = 1000;
	refused(a, "authorisation index");
	q->tasks[0]->auth_index = k;

	u = q->tasks[0]->ids[0]->type;
	q->tasks[0]->ids[0]->type = 99;
	refused(a, "identifier type");
	q->tasks[0]->ids[0]->type = u;

	u = q->tasks[0]->type;
	q->tasks[0]->type = 1000;
	refused(a, "request type");
	q->tasks[0]->type = u;

	/* A refusal a parser cannot give: a policy decision, or a storage one. */
	r.code = WD_ERR_UNKNOWN_OFFICIAL;
	r.text = "x";
	a->refusal = &r;
	refused(a, "not a parser's");
	r.code = WD_ERR_STORAGE;
	refused(a, "not a parser's");
	/* Per action without the request it is about. */
	r.code = WD_ERR_IDENTIFIER;
	r.has_action = true;
	a->request = NULL;
	refused(a, "no request");
	a->refusal = NULL;
	refused(a, "no request");
	a->request = q;

	/* And after all that, the untouched answer still reads. */
	memset(&back, 0, sizeof(back));
	assert_int_equal(parser_msg_answer_read(a, &back, &err, &parsed, why,
	    sizeof(why)), 0);
	assert_memory_equal(&back, &req, sizeof(req));
	codec_free(&a->base);
	free(frame);
}

/* What the codec refuses before the reader sees it: framing, UTF-8, memory. */
static void
test_codec(void **state)
{
	ProtobufCMessage	*m;
	uint8_t			 big[4] = { 0x00, 0x10, 0x00, 0x01 };	/* 1 MiB + 1 */
	uint8_t			 bad[] = { 0, 0, 0, 5, 0x12, 0x03, 0x0a, 0x01, 0xff };
	size_t			 used;
	char			 why[160];

	(void)state;
	assert_int_equal(codec_decode(&parser_answer_spec, big, sizeof(big), &m,
	    &used, why, sizeof(why)), CODEC_ERROR);
	assert_non_null(strstr(why, "longer than 1 MiB"));
	/* ParseAnswer{ request: Request{ sender_cc: "\xff" } } */
	assert_int_equal(codec_decode(&parser_answer_spec, bad, sizeof(bad), &m,
	    &used, why, sizeof(why)), CODEC_ERROR);
	assert_non_null(strstr(why, "not UTF-8"));
	assert_int_equal(codec_decode(&parser_answer_spec, bad, 6, &m, &used, why,
	    sizeof(why)), CODEC_NEED_MORE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_codec),
	};
	char	path[512];
	int	rc;

	hi1_init();
	snprintf(path, sizeof(path), "%s/etc/templates", TOP_SRCDIR);
	if ((schema = hi1_schema_load(path)) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hi1_schema_free(schema);
	hi1_cleanup();
	return rc;
}
