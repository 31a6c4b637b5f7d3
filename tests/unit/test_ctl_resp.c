/*
 * test_ctl_resp — unit tests of src/warrantctl/ctl_resp.c, warrantctl's reading of
 * the carrier's answer and of the request file that names its actions:
 * both are untrusted, and neither may drive it into libxml2's quadratic
 * handling of an element with a huge number of attributes. A refused
 * message's actions are named from the request when it is sane, left
 * unnamed when it is hostile; a hostile answer is reported as not
 * understood, with the reason.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char *
read_sample(const char *name, size_t *len)
{
	char	 path[512], *buf;
	FILE	*f;
	long	 n;

	snprintf(path, sizeof(path), "%s/etc/samples/%s", TOP_SRCDIR, name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* doc with nattr attributes added to its first <tag>; the old one is freed. */
static char *
with_attributes(char *doc, const char *tag, size_t nattr, size_t *len)
{
	char	*p, *out;
	size_t	 head, taglen = strlen(tag), n = 0, cap;

	if ((p = strstr(doc, tag)) == NULL)
		fail_msg("fixture: %s not found", tag);
	head = (size_t)(p - doc) + taglen - 1;	/* up to the '>' */
	cap = strlen(doc) + nattr * 16 + 1;
	assert_non_null(out = malloc(cap));
	memcpy(out, doc, head);
	n = head;
	for (size_t i = 0; i < nattr; i++)
		n += (size_t)snprintf(out + n, cap - n, " a%06zu=\"v\"", i);
	n += (size_t)snprintf(out + n, cap - n, "%s", doc + head);
	free(doc);
	*len = n;
	return out;
}

/* What ctl_resp_report prints for this answer to this request. */
static char *
report(int status, const char *ans, size_t anslen, const char *req,
    size_t reqlen, enum ctl_result *rc)
{
	char	*text = NULL;
	size_t	 n = 0;
	FILE	*out;

	assert_non_null(out = open_memstream(&text, &n));
	*rc = ctl_resp_report(out, "req.xml", status, ans, anslen, req, reqlen);
	assert_int_equal(fclose(out), 0);
	return text;
}

static void
expect_in(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("output lacks \"%s\":\n%s", want, text);
}

static void
expect_not_in(const char *text, const char *unwanted)
{
	if (strstr(text, unwanted) != NULL)
		fail_msg("output has \"%s\":\n%s", unwanted, text);
}

/* A sane request names each refused action by its object. */
static void
test_actions_named_from_request(void **state)
{
	enum ctl_result	 rc;
	char		*ans, *req, *text;
	size_t		 anslen, reqlen;

	(void)state;
	ans = read_sample("responses/action-refused.xml", &anslen);
	req = read_sample("records.xml", &reqlen);
	text = report(400, ans, anslen, req, reqlen, &rc);
	assert_int_equal(rc, CTL_REFUSED);
	expect_in(text, "req.xml: REFUSED (HTTP 400)\n");
	expect_in(text, "  action 0 AuthorisationObject ");
	expect_in(text, "  action 2 LDTaskObject ");
	expect_in(text, "error 404: ");
	free(text);
	free(ans);
	free(req);
}

/*
 * 100,000 attributes on the request's Header: the actions are still all
 * reported, without names, and at once (libxml2 would take minutes).
 */
static void
test_hostile_request_not_parsed(void **state)
{
	enum ctl_result	 rc;
	char		*ans, *req, *text;
	size_t		 anslen, reqlen;

	(void)state;
	ans = read_sample("responses/action-refused.xml", &anslen);
	req = read_sample("records.xml", &reqlen);
	req = with_attributes(req, "<Header>", 100000, &reqlen);
	text = report(400, ans, anslen, req, reqlen, &rc);
	assert_int_equal(rc, CTL_REFUSED);
	expect_in(text, "  action 0: error 410: ");
	expect_in(text, "  action 2: error 404: ");
	expect_not_in(text, "LDTaskObject");
	free(text);
	free(ans);
	free(req);
}

/*
 * A request file that is not well-formed: its actions are listed by number.
 * libxml2's message about it, cut to the reader's small buffer, used to
 * overflow that buffer by one byte when a blank fell just before the cut
 * (found by tests/fuzz/fuzz_ctl_resp). "Opening and ending tag mismatch:
 * NAME line 15 and CountryCode", with names of every length, puts a blank
 * at every place near the cut.
 */
static void
test_broken_request(void **state)
{
	static const char	 tag[] = "<CountryCode>MX</CountryCode>";
	enum ctl_result		 rc;
	char			*ans, *req, *text, *p, name[64];
	size_t			 anslen, reqlen;

	(void)state;
	for (size_t i = 1; i < 48; i++) {
		for (size_t k = 0; k < i; k++)
			name[k] = (char)('a' + k % 26);
		name[i] = '\0';
		ans = read_sample("responses/action-refused.xml", &anslen);
		req = read_sample("records.xml", &reqlen);
		assert_non_null(p = strstr(req, tag));
		assert_non_null(text = malloc(reqlen + 64));
		snprintf(text, reqlen + 64, "%.*s<%s>MX</CountryCode>%s",
		    (int)(p - req), req, name, p + strlen(tag));
		free(req);
		req = text;
		text = report(400, ans, anslen, req, strlen(req), &rc);
		assert_int_equal(rc, CTL_REFUSED);
		expect_in(text, "  action 2: error 404: ");
		expect_not_in(text, "LDTaskObject");
		free(text);
		free(ans);
		free(req);
	}
}

/* 64 attributes are read; 65 are not; 100,000 neither, at once. */
static void
test_hostile_answer(void **state)
{
	static const size_t	 counts[] = { 0, 64, 65, 100000 };
	enum ctl_result		 rc;
	char			*ans, *req, *text;
	size_t			 anslen, reqlen;

	(void)state;
	req = read_sample("records.xml", &reqlen);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		ans = read_sample("responses/action-refused.xml", &anslen);
		ans = with_attributes(ans, "<ActionResponses>", counts[i],
		    &anslen);
		text = report(400, ans, anslen, req, reqlen, &rc);
		assert_int_equal(rc, CTL_REFUSED);
		if (counts[i] <= 64) {
			expect_in(text, "  action 2 LDTaskObject ");
			expect_not_in(text, "not understood");
		} else
			expect_in(text, "req.xml: REFUSED (HTTP 400), answer not "
			    "understood: an element has more than 64 attributes");
		free(text);
		free(ans);
	}
	free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions_named_from_request),
		cmocka_unit_test(test_hostile_request_not_parsed),
		cmocka_unit_test(test_broken_request),
		cmocka_unit_test(test_hostile_answer),
	};

	ctl_resp_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
