/*
 * test_hi1 — unit tests of lib/hi1.c and lib/hi1_response.c: every sample
 * parses and is extracted field by field, every semantic failure class is
 * refused with its code and action, every attack in tests/xml-attacks is
 * refused as its README says, schema loading fails closed, times and
 * identifiers parse strictly, and every response we build validates against
 * our templates and (when ../shared is present) the official ETSI schemas.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "hi1.h"
#include "accepted.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define US	1000000LL

static struct hi1_schema	*schema;	/* hi1_schema_load() of etc/templates */
static xmlSchemaPtr		 resp_xsd;	/* the same templates, compiled here */
static char			 resp_dir[64];	/* responses kept for the official check */
static int			 resp_count;

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

static char *
read_path(const char *path, size_t *len)
{
	FILE		*f;
	char		*buf;
	long		 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static char *
sample(const char *name)
{
	char	 path[512];
	char	*s;

	snprintf(path, sizeof(path), "%s/etc/samples/%s", TOP_SRCDIR, name);
	s = read_path(path, NULL);
	if (s == NULL)
		fail_msg("cannot read %s", path);
	return s;
}

static void
write_path(const char *path, const char *data, size_t len)
{
	FILE	*f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* src with the first occurrence of from replaced by to; from must occur. */
static char *
subst(char *src, const char *from, const char *to)
{
	char	*p, *out;
	size_t	 a, b, c;

	if ((p = strstr(src, from)) == NULL)
		fail_msg("test fixture: \"%s\" not found", from);
	a = (size_t)(p - src);
	b = strlen(to);
	c = strlen(p + strlen(from));
	out = malloc(a + b + c + 1);
	assert_non_null(out);
	memcpy(out, src, a);
	memcpy(out + a, to, b);
	memcpy(out + a + b, p + strlen(from), c + 1);
	free(src);
	return out;
}

/* src without the span from the first start to the end of the next end. */
static char *
cut(char *src, const char *start, const char *end)
{
	char	*p, *q;

	p = strstr(src, start);
	q = p != NULL ? strstr(p, end) : NULL;
	if (q == NULL)
		fail_msg("test fixture: \"%s\"...\"%s\" not found", start, end);
	memmove(p, q + strlen(end), strlen(q + strlen(end)) + 1);
	return src;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	 a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int
parse(const char *body, struct hi1_request *req, struct wd_error *err)
{
	return hi1_parse_request(schema, body, strlen(body), req, err);
}

static void
expect_ok(const char *body, struct hi1_request *req)
{
	struct wd_error	 err;

	if (parse(body, req, &err) != 0)
		fail_msg("refused: %d %s", err.code, err.text);
}

/* Refused with code; action < 0 means a message-level error. */
static void
expect_refused(char *body, enum wd_errcode code, long action, const char *text)
{
	struct hi1_request	 req;
	struct wd_error		 err;

	assert_int_equal(parse(body, &req, &err), -1);
	if (err.code != code)
		fail_msg("expected %d, got %d: %s", code, err.code, err.text);
	assert_int_equal(err.has_action, action >= 0);
	if (action >= 0)
		assert_int_equal(err.action_id, (uint32_t)action);
	if (text != NULL && strstr(err.text, text) == NULL)
		fail_msg("error text \"%s\" lacks \"%s\"", err.text, text);
	free(body);
}

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A temporary copy of etc/templates, for fixtures that change a file. */
static void
templates_copy(char *dir, size_t len)
{
	const char	*names[] = { "hi1-mx.xsd", "mx-authorisation.xsd",
	    "mx-common.xsd", "mx-core.xsd", "mx-etsi280.xsd", "mx-task.xsd",
	    "mx-delivery.xsd", "mx-document.xsd", "mx-notification.xsd",
	    "mx-dictionaries.xml" };
	char		 from[512], to[512], *data;
	size_t		 n;

	snprintf(dir, len, "/tmp/test_hi1.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(from, sizeof(from), "%s/etc/templates/%s", TOP_SRCDIR,
		    names[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, names[i]);
		assert_non_null(data = read_path(from, &n));
		write_path(to, data, n);
		free(data);
	}
}

static void
templates_edit(const char *dir, const char *name, const char *from,
    const char *to)
{
	char	 path[512], *data;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(data = read_path(path, NULL));
	data = subst(data, from, to);
	write_path(path, data, strlen(data));
	free(data);
}

static void
rm_tree(const char *dir)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* ------------------------------------------------------------------------ */
/* setup                                                                     */

static int
group_setup(void **state)
{
	char	 path[512];

	(void)state;
	/*
	 * The test's own copy of the schema, compiled before hi1_init()
	 * installs the deny-all entity loader (which only hi1_schema_load()
	 * may pass).
	 */
	xmlInitParser();
	snprintf(path, sizeof(path), "%s/etc/templates/hi1-mx.xsd", TOP_SRCDIR);
	{
		xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);

		resp_xsd = pc ? xmlSchemaParse(pc) : NULL;
		xmlSchemaFreeParserCtxt(pc);
	}
	hi1_init();
	snprintf(path, sizeof(path), "%s/etc/templates", TOP_SRCDIR);
	schema = hi1_schema_load(path);
	snprintf(resp_dir, sizeof(resp_dir), "/tmp/test_hi1_resp.XXXXXX");
	if (mkdtemp(resp_dir) == NULL)
		return -1;
	return schema == NULL || resp_xsd == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rm_tree(resp_dir);
	hi1_schema_free(schema);
	xmlSchemaFree(resp_xsd);
	hi1_cleanup();
	return 0;
}

/* ------------------------------------------------------------------------ */
/* samples and extraction                                                    */

static void
test_every_sample_parses(void **state)
{
	struct hi1_request	 req;
	DIR			*d;
	struct dirent		*e;
	char			 path[512], *body;
	size_t			 n = 0, len;

	(void)state;
	snprintf(path, sizeof(path), "%s/etc/samples", TOP_SRCDIR);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		if (!ends_with(e->d_name, ".xml"))
			continue;
		snprintf(path, sizeof(path), "%s/etc/samples/%s", TOP_SRCDIR,
		    e->d_name);
		assert_non_null(body = read_path(path, &len));
		expect_ok(body, &req);
		assert_true(req.nauths >= 1);
		assert_true(req.ntasks >= 1);
		for (size_t i = 0; i < req.ntasks; i++) {
			assert_true(req.tasks[i].auth_index >= 0);
			assert_true((size_t)req.tasks[i].auth_index < req.nauths);
			assert_true(req.tasks[i].nids >= 1);
		}
		free(body);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

static void
test_extract_msisdn(void **state)
{
	struct hi1_request		 req;
	const struct hi1_authorisation	*a;
	const struct hi1_task		*t;
	char				*body = sample("subscriber-msisdn.xml");

	(void)state;
	expect_ok(body, &req);
	assert_string_equal(req.sender_cc, "MX");
	assert_string_equal(req.sender_id, "FGR");
	assert_string_equal(req.receiver_cc, "MX");
	assert_string_equal(req.receiver_id, "MXCARRIER");
	assert_string_equal(req.transaction_id, "7b861390-7f12-458f-8533-739b129d0e4e");
	assert_int_equal(req.timestamp_us, 1795190712LL * US);
	assert_int_equal(req.nauths, 1);
	assert_int_equal(req.ntasks, 1);
	a = &req.auths[0];
	assert_int_equal(a->action_id, 0);
	assert_string_equal(a->object_id, "43e1f69e-0370-4920-b2a0-a2c325e164f1");
	assert_string_equal(a->owner, "FGR");
	assert_string_equal(a->reference, "CI-FED/CDMX/0004512/2026");
	assert_false(a->urgent);
	assert_false(a->emergency);
	assert_string_equal(a->court, "Juzgado Tercero de Distrito en Materia "
	    "Penal, Ciudad de México");
	assert_string_equal(a->approvals[0].approver, "Mtra. Laura Patricia Hernández Ochoa");
	assert_string_equal(a->approvals[0].reference, "CP-123/2026");
	assert_int_equal(a->valid_from_us, 1793512800LL * US);
	assert_int_equal(a->valid_until_us, 1803880799LL * US);
	assert_int_equal(a->approved_us, 1795030200LL * US);
	t = &req.tasks[0];
	assert_int_equal(t->action_id, 1);
	assert_string_equal(t->object_id, "a84c47a9-8ef7-4a84-b934-b99e119e395a");
	assert_string_equal(t->owner, "FGR");
	assert_string_equal(t->reference, "MX-FGR-000123");
	assert_int_equal(t->type, WD_REQ_SUBSCRIBER);
	assert_int_equal(t->nassoc, 1);
	assert_string_equal(t->assoc[0], a->object_id);
	assert_int_equal(t->auth_index, 0);
	assert_int_equal(t->nids, 1);
	assert_int_equal(t->ids[0].type, WD_ID_MSISDN);
	assert_string_equal(t->ids[0].value, "525512345678");
	assert_false(t->has_window);
	assert_false(t->has_observed);
	assert_string_equal(t->delivery_type, "");
	free(body);
}

static void
test_extract_ip(void **state)
{
	struct hi1_request	 req;
	const struct hi1_task	*t;
	char			*body = sample("subscriber-ip.xml");

	(void)state;
	expect_ok(body, &req);
	t = &req.tasks[0];
	assert_int_equal(t->type, WD_REQ_SUBSCRIBER);
	assert_int_equal(t->nids, 1);
	assert_int_equal(t->ids[0].type, WD_ID_IPPORT);
	assert_string_equal(t->ids[0].value, "201.141.23.7:40123");
	assert_string_equal(t->ids[0].addr, "201.141.23.7");
	assert_int_equal(t->ids[0].port, 40123);
	assert_true(t->has_observed);
	assert_int_equal(t->observed_us, 1794782467LL * US);
	assert_string_equal(t->reference, "MX-FGR-000126");
	assert_string_equal(req.auths[0].approvals[0].reference, "CP-131/2026");

	/* IPv6, with the address stored in its canonical form. */
	body = subst(body, "201.141.23.7:40123", "[2001:db8:0:0:0:0:0:1]:443");
	expect_ok(body, &req);
	assert_int_equal(req.tasks[0].ids[0].type, WD_ID_IPPORT);
	assert_string_equal(req.tasks[0].ids[0].addr, "2001:db8::1");
	assert_int_equal(req.tasks[0].ids[0].port, 443);
	free(body);
}

static void
test_extract_interception(void **state)
{
	struct hi1_request	 req;
	const struct hi1_task	*t;
	char			*body = sample("interception.xml");

	(void)state;
	expect_ok(body, &req);
	assert_int_equal(req.ntasks, 1);
	t = &req.tasks[0];
	assert_int_equal(t->type, WD_REQ_INTERCEPTION);
	assert_string_equal(t->reference, "MX-FGR-LI-000045");
	assert_string_equal(t->delivery_type, "IRIandCC");
	assert_true(t->has_window);
	assert_int_equal(t->window_start_us, 1795240800LL * US);
	assert_int_equal(t->window_end_us, 1803880799LL * US);
	assert_int_equal(t->nids, 2);
	assert_int_equal(t->ids[0].type, WD_ID_MSISDN);
	assert_string_equal(t->ids[0].value, "525512345678");
	assert_int_equal(t->ids[1].type, WD_ID_IMSI);
	assert_string_equal(t->ids[1].value, "334020000000001");
	assert_int_equal(t->auth_index, 0);
	assert_string_equal(req.auths[0].reference, "CI-FED/CDMX/0004620/2026");
	assert_string_equal(req.auths[0].approvals[0].approver, "Mtro. Sergio Iván Castañeda Luna");
	assert_string_equal(req.transaction_id, "2742bbed-feca-4366-b2a4-ad26fc9e36ec");
	free(body);
}

static void
test_extract_urgent(void **state)
{
	struct hi1_request		 req;
	const struct hi1_authorisation	*a;
	char				*body = sample("location-realtime-urgent.xml");

	(void)state;
	expect_ok(body, &req);
	a = &req.auths[0];
	assert_true(a->urgent);
	assert_true(a->emergency);
	assert_string_equal(a->reference, "FGR/FEIDT/URG/0088/2026");
	assert_string_equal(a->approvals[0].reference, "ACU-URG-0088/2026");
	assert_string_equal(a->approvals[0].approver, "Lic. Andrea Villanueva Robles");
	assert_int_equal(a->approved_us, 1795187100LL * US);
	assert_int_equal(req.tasks[0].type, WD_REQ_LOCATION_RT);
	assert_string_equal(req.tasks[0].ids[0].value, "525598765432");

	/* Either emergency marker alone sets emergency. */
	body = cut(body, "<auth:AuthorisationFlags>", "</auth:AuthorisationFlags>");
	expect_ok(body, &req);
	assert_true(req.auths[0].emergency);
	body = subst(body, "<common:ApprovalIsEmergency>true<",
	    "<common:ApprovalIsEmergency>false<");
	expect_ok(body, &req);
	assert_false(req.auths[0].emergency);
	free(body);
}

static void
test_extract_records(void **state)
{
	struct hi1_request	 req;
	char			*body = sample("records.xml");

	(void)state;
	expect_ok(body, &req);
	assert_int_equal(req.nauths, 1);
	assert_int_equal(req.ntasks, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(req.tasks[i].type, WD_REQ_RECORDS);
		assert_int_equal(req.tasks[i].action_id, i + 1);
		assert_int_equal(req.tasks[i].auth_index, 0);
		assert_true(req.tasks[i].has_window);
		assert_true(req.tasks[i].window_end_us > req.tasks[i].window_start_us);
	}
	assert_string_equal(req.tasks[1].reference, "MX-FGR-000130");
	assert_int_equal(req.tasks[1].nids, 2);
	assert_int_equal(req.tasks[1].ids[1].type, WD_ID_IMSI);
	assert_string_equal(req.tasks[1].ids[1].value, "334020000000002");
	free(body);
}

static void
test_extract_other_types(void **state)
{
	struct hi1_request	 req;
	char			*body;

	(void)state;
	body = sample("location-history.xml");
	expect_ok(body, &req);
	assert_int_equal(req.tasks[0].type, WD_REQ_LOCATION_HIST);
	assert_true(req.tasks[0].has_window);
	free(body);
	body = sample("preservation.xml");
	expect_ok(body, &req);
	assert_int_equal(req.tasks[0].type, WD_REQ_PRESERVATION);
	free(body);
	body = sample("subscriber-imei.xml");
	expect_ok(body, &req);
	assert_int_equal(req.tasks[0].ids[0].type, WD_ID_IMEI);
	assert_string_equal(req.tasks[0].ids[0].value, "352099001761481");
	free(body);
	body = sample("subscriber-imsi.xml");
	expect_ok(body, &req);
	assert_int_equal(req.tasks[0].ids[0].type, WD_ID_IMSI);
	free(body);
}

/* xsi:type is resolved through the namespace in scope, not the prefix. */
static void
test_xsi_type_qname(void **state)
{
	struct hi1_request	 req;
	char			*body = sample("subscriber-msisdn.xml");

	(void)state;
	body = subst(body, "xsi:type=\"task:LDTaskObject\"",
	    "xmlns:t=\"http://uri.etsi.org/03120/common/2020/09/Task\" "
	    "xsi:type=\"t:LDTaskObject\"");
	expect_ok(body, &req);
	assert_int_equal(req.ntasks, 1);
	free(body);

	body = sample("subscriber-msisdn.xml");
	body = subst(body, "xsi:type=\"task:LDTaskObject\"",
	    "xmlns:task=\"urn:example:not-the-task-namespace\" "
	    "xsi:type=\"task:LDTaskObject\"");
	expect_refused(body, WD_ERR_SCHEMA, -1, NULL);
}

/* ------------------------------------------------------------------------ */
/* semantic checks                                                           */

static void
test_duplicate_action(void **state)
{
	char	*body = sample("subscriber-msisdn.xml");

	(void)state;
	body = subst(body, "<ActionIdentifier>1</ActionIdentifier>",
	    "<ActionIdentifier>0</ActionIdentifier>");
	expect_refused(body, WD_ERR_DUPLICATE_ACTION, 0, "used twice");

	body = sample("records.xml");
	body = subst(body, "<ActionIdentifier>2</ActionIdentifier>",
	    "<ActionIdentifier>1</ActionIdentifier>");
	expect_refused(body, WD_ERR_DUPLICATE_ACTION, 1, "action 1: ");
}

static void
test_duplicate_object(void **state)
{
	char	*body = sample("subscriber-msisdn.xml");

	(void)state;
	body = subst(body, "<ObjectIdentifier>a84c47a9-8ef7-4a84-b934-b99e119e395a",
	    "<ObjectIdentifier>43e1f69e-0370-4920-b2a0-a2c325e164f1");
	expect_refused(body, WD_ERR_DUPLICATE_OBJECT, 1, "already used by action 0");
}

static void
test_auth_link(void **state)
{
	char	*body, *auth, *p, *q;

	(void)state;
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<AssociatedObject>43e1f69e-0370-4920-b2a0-a2c325e164f1",
	    "<AssociatedObject>0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
	expect_refused(body, WD_ERR_AUTH_LINK, 1, "0f1e2d3c-4b5a-4968-8776-"
	    "a5b4c3d2e1f0 is not an authorisation");

	/* A task naming itself is not linked to an authorisation. */
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<AssociatedObject>43e1f69e-0370-4920-b2a0-a2c325e164f1",
	    "<AssociatedObject>a84c47a9-8ef7-4a84-b934-b99e119e395a");
	expect_refused(body, WD_ERR_AUTH_LINK, 1, NULL);

	body = sample("subscriber-msisdn.xml");
	body = cut(body, "<AssociatedObjects>", "</AssociatedObjects>");
	expect_refused(body, WD_ERR_AUTH_LINK, 1, "not linked");

	/* Two authorisations, and a task that names both. */
	body = sample("subscriber-msisdn.xml");
	p = strstr(body, "<ActionRequest>");
	q = strstr(body, "</ActionRequest>") + strlen("</ActionRequest>");
	auth = strndup(p, (size_t)(q - p));
	auth = subst(auth, "<ActionIdentifier>0<", "<ActionIdentifier>7<");
	auth = subst(auth, "<ObjectIdentifier>43e1f69e-0370-4920-b2a0-a2c325e164f1",
	    "<ObjectIdentifier>11111111-2222-4333-8444-555555555555");
	auth = subst(auth, "</ActionRequest>", "</ActionRequest></ActionRequests>");
	body = subst(body, "</ActionRequests>", auth);
	free(auth);
	{
		struct hi1_request	 req;

		expect_ok(body, &req);	/* an unused authorisation is fine */
		assert_int_equal(req.nauths, 2);
	}
	body = subst(body, "</AssociatedObjects>", "<AssociatedObject>"
	    "11111111-2222-4333-8444-555555555555</AssociatedObject>"
	    "</AssociatedObjects>");
	expect_refused(body, WD_ERR_AUTH_LINK, 1, "linked to 2 authorisations");
}

static void
test_identifier_formats(void **state)
{
	char	*body;

	(void)state;
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<task:Value>525512345678<", "<task:Value>334020000000001<");
	expect_refused(body, WD_ERR_IDENTIFIER, 1, "InternationalE164 334020000000001");

	body = sample("subscriber-imei.xml");
	body = subst(body, "<task:Value>352099001761481<", "<task:Value>352099001761482<");
	expect_refused(body, WD_ERR_IDENTIFIER, 1,
	    "action 1: IMEI 352099001761482 has a wrong check digit");

	body = sample("subscriber-imsi.xml");
	body = subst(body, "<task:Value>334", "<task:Value>310");
	expect_refused(body, WD_ERR_IDENTIFIER, 1, "IMSI 310");

	body = sample("subscriber-ip.xml");
	body = subst(body, "201.141.23.7:40123", "525512345678");
	expect_refused(body, WD_ERR_IDENTIFIER, 1, "IPAddressPort 525512345678");

	body = sample("interception.xml");
	body = subst(body, "<task:Value>525512345678<", "<task:Value>490154203237519<");
	body = subst(body, "<task:FormatName>InternationalE164<",
	    "<task:FormatName>IMEICheckDigit<");
	expect_refused(body, WD_ERR_IDENTIFIER, 1, "IMEI 490154203237519 has a "
	    "wrong check digit");
}

static void
test_missing_fields(void **state)
{
	char	*body;

	(void)state;
	body = sample("subscriber-ip.xml");
	body = cut(body, "<task:ObservedTime>", "</task:ObservedTime>");
	expect_refused(body, WD_ERR_MISSING_FIELD, 1, "ObservedTime");

	body = sample("location-history.xml");
	body = cut(body, "<task:StartTime>", "</task:StartTime>");
	body = cut(body, "<task:EndTime>", "</task:EndTime>");
	expect_refused(body, WD_ERR_MISSING_FIELD, 1, "HistoricalLocation needs "
	    "a time window");

	body = sample("records.xml");
	body = cut(body, "<task:EndTime>", "</task:EndTime>");
	expect_refused(body, WD_ERR_MISSING_FIELD, 1, "both StartTime and EndTime");

	body = sample("preservation.xml");
	body = cut(body, "<task:StartTime>", "</task:StartTime>");
	body = cut(body, "<task:EndTime>", "</task:EndTime>");
	expect_refused(body, WD_ERR_MISSING_FIELD, 1, "Preservation needs");

	body = sample("subscriber-msisdn.xml");
	body = cut(body, "<auth:AuthorisationJurisdiction>",
	    "</auth:AuthorisationJurisdiction>");
	expect_refused(body, WD_ERR_MISSING_FIELD, 0, "JudicialOrder needs "
	    "AuthorisationJurisdiction");

	/* Only an authorisation: nothing to do. */
	body = sample("subscriber-msisdn.xml");
	body = cut(body, "<ActionRequest>\n          <ActionIdentifier>1<",
	    "</ActionRequest>");
	expect_refused(body, WD_ERR_MISSING_FIELD, -1, "no task");

	/* The carrier's echo shape is not a request. */
	body = sample("subscriber-msisdn.xml");
	body = cut(body, "<task:DesiredStatus>", "</task:RequestDetails>");
	body = subst(body, "</task:Reference>", "</task:Reference><task:Status>"
	    "<common:Owner>ETSI</common:Owner><common:Name>LDTaskStatus"
	    "</common:Name><common:Value>Disclosed</common:Value></task:Status>");
	expect_refused(body, WD_ERR_NOT_CHANGEABLE, 1, "Status is the carrier's");
}

static void
test_window_order(void **state)
{
	char	*body;

	(void)state;
	body = sample("location-history.xml");
	body = subst(body, "<task:EndTime>", "<task:EndTime>1999-01-01T00:00:00Z"
	    "</task:EndTime><!-- ");
	body = subst(body, "</task:EndTime>\n", " -->\n");
	expect_refused(body, WD_ERR_WINDOW_ORDER, 1, "EndTime is not after");

	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<auth:EndTime>2027-02-28T23:59:59-06:00<",
	    "<auth:EndTime>2026-11-01T06:00:00Z<");	/* == StartTime */
	expect_refused(body, WD_ERR_WINDOW_ORDER, 0, "authorisation EndTime");

	body = sample("interception.xml");
	body = subst(body, "<task:EndTime>2027-02-28T23:59:59-06:00<",
	    "<task:EndTime>2026-11-20T00:00:00-06:00<");
	expect_refused(body, WD_ERR_WINDOW_ORDER, 1, NULL);
}

/*
 * The schema and the dictionaries must agree: a value the schema accepts
 * for an MX dictionary but the dictionary file lacks refuses the templates
 * at load (it used to refuse the authority's request with 402, the only
 * way to reach that code). Withdrawn from both, the value is the schema's
 * refusal; a value warrantd does not know that the carrier's schema lets
 * through anyway is the carrier's fault (503), not the authority's.
 */
static void
test_dictionary(void **state)
{
	struct hi1_schema	*hs, *saved = schema;
	char			 dir[64], *body;

	(void)state;
	templates_copy(dir, sizeof(dir));
	templates_edit(dir, "mx-dictionaries.xml", "<Value>Preservation</Value>",
	    "<Value>RealTimeLocation</Value>");
	assert_null(hi1_schema_load(dir));
	/* The other way round: a value in the schema only. */
	templates_edit(dir, "mx-dictionaries.xml", "<Value>RealTimeLocation"
	    "</Value>", "<Value>Preservation</Value>");
	assert_non_null(hs = hi1_schema_load(dir));
	hi1_schema_free(hs);
	templates_edit(dir, "mx-common.xsd", "<xs:enumeration value=\"UrgentOrder\"/>",
	    "<xs:enumeration value=\"UrgentOrder\"/><xs:enumeration value=\"Other\"/>");
	assert_null(hi1_schema_load(dir));
	rm_tree(dir);

	/* Withdrawn from both: the schema refuses it. */
	templates_copy(dir, sizeof(dir));
	templates_edit(dir, "mx-dictionaries.xml", "<Value>Preservation</Value>",
	    "<Value>RealTimeLocation</Value>");
	templates_edit(dir, "mx-common.xsd", "<xs:enumeration value=\"Preservation\"/>",
	    "");
	assert_non_null(hs = hi1_schema_load(dir));
	schema = hs;
	expect_refused(sample("preservation.xml"), WD_ERR_SCHEMA, -1,
	    "Preservation");
	schema = saved;
	hi1_schema_free(hs);
	rm_tree(dir);

	/* An ETSI value warrantd does not know, let through by the schema. */
	templates_copy(dir, sizeof(dir));
	templates_edit(dir, "mx-common.xsd", "<xs:enumeration value=\"AwaitingDisclosure\"/>\n"
	    "        <xs:enumeration value=\"Cancelled\"/>",
	    "<xs:enumeration value=\"AwaitingDisclosure\"/>"
	    "<xs:enumeration value=\"Whenever\"/>\n"
	    "        <xs:enumeration value=\"Cancelled\"/>");
	assert_non_null(hs = hi1_schema_load(dir));
	schema = hs;
	body = subst(sample("subscriber-msisdn.xml"), "<common:Value>AwaitingDisclosure<",
	    "<common:Value>Whenever<");
	expect_refused(body, WD_ERR_INTERNAL, 1, "the carrier's schema accepts "
	    "Whenever");
	schema = saved;
	hi1_schema_free(hs);
	rm_tree(dir);
}

/* tests/templates/semantic: schema-valid, refused only by our checks. */
static void
test_semantic_fixtures(void **state)
{
	static const struct {
		const char	*file;
		enum wd_errcode	 code;
	} want[] = {
		{ "associated-object-unknown.xml", WD_ERR_AUTH_LINK },
		{ "duplicate-action-identifier.xml", WD_ERR_DUPLICATE_ACTION },
		{ "format-value-mismatch.xml", WD_ERR_IDENTIFIER },
		{ "history-without-window.xml", WD_ERR_MISSING_FIELD },
		{ "imei-bad-luhn.xml", WD_ERR_IDENTIFIER },
		{ "imsi-foreign-15-digits.xml", WD_ERR_IDENTIFIER },
		{ "ip-lookup-without-observedtime.xml", WD_ERR_MISSING_FIELD },
		{ "judicial-order-without-jurisdiction.xml", WD_ERR_MISSING_FIELD },
		{ "ldtask-echo-shape-in-request.xml", WD_ERR_NOT_CHANGEABLE },
		{ "task-without-associated-objects.xml", WD_ERR_AUTH_LINK },
		{ "window-reversed.xml", WD_ERR_WINDOW_ORDER },
		{ "li-without-target.xml", WD_ERR_MISSING_FIELD },
		{ "missing-authorisation-reference.xml", WD_ERR_MISSING_FIELD },
		{ "xsi-type-document.xml", WD_ERR_MISSING_FIELD },
		{ "update-without-generation.xml", WD_ERR_MISSING_FIELD },
		{ "create-with-generation.xml", WD_ERR_NOT_CHANGEABLE },
		{ "update-task-reference.xml", WD_ERR_NOT_CHANGEABLE },
		{ "deliver-to-carrier.xml", WD_ERR_NOT_CHANGEABLE },
	};
	struct hi1_request	 req;
	struct wd_error		 err;
	char			 path[512], *body;
	DIR			*d;
	struct dirent		*e;
	int			 n = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/templates/semantic", TOP_SRCDIR);
	if ((d = opendir(path)) == NULL)
		skip();
	while ((e = readdir(d)) != NULL) {
		if (!ends_with(e->d_name, ".xml"))
			continue;
		snprintf(path, sizeof(path), "%s/tests/templates/semantic/%s",
		    TOP_SRCDIR, e->d_name);
		assert_non_null(body = read_path(path, NULL));
		if (parse(body, &req, &err) == 0)
			fail_msg("%s accepted", e->d_name);
		if (err.code < 400 || err.code >= 500)
			fail_msg("%s: not a semantic error: %d %s", e->d_name,
			    err.code, err.text);
		assert_true(err.has_action);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (strcmp(want[i].file, e->d_name) == 0 &&
			    want[i].code != err.code)
				fail_msg("%s: expected %d, got %d %s", e->d_name,
				    want[i].code, err.code, err.text);
		free(body);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

/* ------------------------------------------------------------------------ */
/* hardening                                                                 */

/* Every file of tests/xml-attacks, with the code its README expects. */
static void
test_attack_corpus(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	char			 path[512], *readme, *line, *save, *body, *p;
	char			 name[128];
	unsigned		 code;
	size_t			 len;
	int			 n = 0;
	double			 t0;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/xml-attacks/README", TOP_SRCDIR);
	assert_non_null(readme = read_path(path, NULL));
	for (line = strtok_r(readme, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%127s", name) != 1 || !ends_with(name, ".xml"))
			continue;
		if ((p = strstr(line, " WD_ERR_")) == NULL || p - line < 4 ||
		    sscanf(p - 4, "%u", &code) != 1)
			fail_msg("README line without an expected code: %s", line);
		snprintf(path, sizeof(path), "%s/tests/xml-attacks/%s",
		    TOP_SRCDIR, name);
		if ((body = read_path(path, &len)) == NULL)
			fail_msg("README lists %s, which is missing", name);
		t0 = now_s();
		assert_int_equal(hi1_parse_request(schema, body, len, &req,
		    &err), -1);
		if (err.code != (enum wd_errcode)code)
			fail_msg("%s: expected %u, got %d: %s", name, code,
			    err.code, err.text);
		/* Bounded: refused in well under a second, even under ASan. */
		assert_true(now_s() - t0 < 2.0);
		assert_true(err.text[0] != '\0');
		free(body);
		n++;
	}
	free(readme);
	assert_true(n >= 15);
}

static void
test_every_attack_listed(void **state)
{
	char		 path[512], *readme;
	DIR		*d;
	struct dirent	*e;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/xml-attacks/README", TOP_SRCDIR);
	assert_non_null(readme = read_path(path, NULL));
	snprintf(path, sizeof(path), "%s/tests/xml-attacks", TOP_SRCDIR);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "README") != 0 &&
		    strstr(readme, e->d_name) == NULL)
			fail_msg("tests/xml-attacks/%s is not in the README",
			    e->d_name);
	closedir(d);
	free(readme);
}

static void
test_xxe_never_reads(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	char			*body = sample("subscriber-msisdn.xml");

	(void)state;
	body = subst(body, "<HI1Message", "<!DOCTYPE HI1Message [<!ENTITY x "
	    "SYSTEM \"file:///etc/passwd\">]>\n<HI1Message");
	body = subst(body, "<UniqueIdentifier>FGR<", "<UniqueIdentifier>&x;<");
	assert_int_equal(parse(body, &req, &err), -1);
	assert_int_equal(err.code, WD_ERR_DOCTYPE);
	assert_null(strstr(req.sender_id, "root"));
	free(body);
	/* An entity reference without a DOCTYPE is just undefined. */
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<UniqueIdentifier>FGR<", "<UniqueIdentifier>&x;<");
	expect_refused(body, WD_ERR_NOT_WELL_FORMED, -1, "line");
}

static void
test_depth_limits(void **state)
{
	char	*body;
	size_t	 n;

	(void)state;
	/* Deeper than ours, shallower than libxml2's 256: our tree walk. */
	body = calloc(1, 40 * 7 + 1);
	for (n = 0; n < 40; n++)
		strcat(body, "<a>");
	for (n = 0; n < 40; n++)
		strcat(body, "</a>");
	expect_refused(body, WD_ERR_LIMITS, -1, "deeper than 32");

	/* Exactly at the limit: structure accepted, then the schema refuses. */
	body = calloc(1, 32 * 7 + 1);
	for (n = 0; n < 32; n++)
		strcat(body, "<a>");
	for (n = 0; n < 32; n++)
		strcat(body, "</a>");
	expect_refused(body, WD_ERR_SCHEMA, -1, NULL);

	/* Beyond libxml2's own cap: the parser stops, cleanly. */
	body = calloc(1, 10000 * 7 + 1);
	for (n = 0; n < 10000; n++)
		memcpy(body + n * 3, "<a>", 3);
	for (n = 0; n < 10000; n++)
		memcpy(body + 30000 + n * 4, "</a>", 4);
	expect_refused(body, WD_ERR_LIMITS, -1, "depth");
}

static void
test_attribute_limits(void **state)
{
	char	*body;
	char	 attrs[2048];
	size_t	 o = 0;

	(void)state;
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, " a%d='%d'", i, i);
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<Header>", "<Header PLACE>");
	body = subst(body, "PLACE", attrs);
	expect_refused(body, WD_ERR_LIMITS, -1, "more than 16 attributes");

	/* 16 attributes are not a limit error ('=' in values do not count). */
	o = 0;
	for (int i = 0; i < 16; i++)
		o += (size_t)snprintf(attrs + o, sizeof(attrs) - o,
		    " a%d=\"x=y=z>\"", i);
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<Header>", "<Header PLACE>");
	body = subst(body, "PLACE", attrs);
	expect_refused(body, WD_ERR_SCHEMA, -1, NULL);
}

static void
test_element_count_and_size(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	size_t			 big = 10u * 1024 * 1024, mid = 3u * 1024 * 1024;
	char			*body, *pad;
	double			 t0;
	int			 rc;

	(void)state;
	/* 10 MiB: the caller's body cap should have refused it; so do we. */
	body = sample("subscriber-msisdn.xml");
	pad = malloc(big + 1);
	memset(pad, 'x', big);
	pad[big] = '\0';
	body = subst(body, "<auth:AuthorisationJurisdiction>Juzgado",
	    "<auth:AuthorisationJurisdiction>PAD");
	body = subst(body, "PAD", pad);
	free(pad);
	t0 = now_s();
	assert_int_equal(parse(body, &req, &err), -1);
	assert_int_equal(err.code, WD_ERR_BODY_TOO_LARGE);
	assert_true(now_s() - t0 < 1.0);
	free(body);

	/* 3 MiB of valid-looking XML: within bounds, refused or parsed. */
	body = sample("subscriber-msisdn.xml");
	pad = malloc(mid + 1);
	memset(pad, 'x', mid);
	pad[mid] = '\0';
	body = subst(body, "<auth:AuthorisationJurisdiction>Juzgado",
	    "<auth:AuthorisationJurisdiction>PAD");
	body = subst(body, "PAD", pad);
	free(pad);
	t0 = now_s();
	rc = parse(body, &req, &err);
	assert_true(rc == 0 || err.code == WD_ERR_SCHEMA || err.code == WD_ERR_LIMITS);
	assert_true(now_s() - t0 < 20.0);
	free(body);

	/* Many small elements: the element cap. */
	pad = malloc(9000 * 4 + 1);
	for (int i = 0; i < 9000; i++)
		memcpy(pad + i * 4, "<x/>", 4);
	pad[9000 * 4] = '\0';
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "<Header>", "<Header>PAD");
	body = subst(body, "PAD", pad);
	free(pad);
	expect_refused(body, WD_ERR_LIMITS, -1, "more than 8192 elements");
}

static void
test_encodings(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	char			*body;
	char			*bom;

	(void)state;
	/* "utf-8" in any case, and a UTF-8 BOM, are UTF-8. */
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "encoding=\"UTF-8\"", "encoding='utf-8'");
	expect_ok(body, &req);
	bom = malloc(strlen(body) + 4);
	memcpy(bom, "\xef\xbb\xbf", 3);
	strcpy(bom + 3, body);
	expect_ok(bom, &req);
	free(bom);
	free(body);

	body = sample("subscriber-msisdn.xml");
	body = subst(body, "encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
	expect_refused(body, WD_ERR_ENCODING, -1, "UTF-16");

	body = sample("subscriber-msisdn.xml");
	body = subst(body, "Hern\xc3\xa1ndez", "Hern\xe1ndez");
	expect_refused(body, WD_ERR_ENCODING, -1, "0xe1");

	/* A UTF-16 surrogate encoded in UTF-8 (CESU) is not UTF-8. */
	body = sample("subscriber-msisdn.xml");
	body = subst(body, "Hern\xc3\xa1ndez", "Hern\xed\xa0\x80ndez");
	expect_refused(body, WD_ERR_ENCODING, -1, NULL);

	assert_int_equal(hi1_parse_request(schema, NULL, 0, &req, &err), -1);
	assert_int_equal(err.code, WD_ERR_NOT_WELL_FORMED);
	assert_int_equal(hi1_parse_request(schema, "", 0, &req, &err), -1);
	assert_int_equal(hi1_parse_request(NULL, "<a/>", 4, &req, &err), -1);
	assert_int_equal(err.code, WD_ERR_INTERNAL);
}

static void
test_error_text_has_line(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	char			*body = sample("subscriber-msisdn.xml");

	(void)state;
	body = subst(body, "<task:Reference>MX-FGR-000123</task:Reference>",
	    "<task:Reference>MX-FGR-000123</task:Reference><task:Bogus/>");
	assert_int_equal(parse(body, &req, &err), -1);
	assert_int_equal(err.code, WD_ERR_SCHEMA);
	assert_non_null(strstr(err.text, "line "));
	assert_non_null(strstr(err.text, "Bogus"));
	assert_null(strchr(err.text, '\n'));
	free(body);
}

/* libxml2 speaks only through wd_error.text, never on stderr. */
static void
test_nothing_on_stderr(void **state)
{
	const char		*bad[] = { "<a><b></a>", "<a>&undefined;</a>",
	    "<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\"/>",
	    "<?xml version=\"1.0\"?><a x='1' x='2'/>" };
	struct hi1_request	 req;
	struct wd_error		 err;
	char			 path[] = "/tmp/test_hi1_stderr.XXXXXX";
	struct stat		 st;
	int			 fd, saved;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		(void)hi1_parse_request(schema, bad[i], strlen(bad[i]), &req, &err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	unlink(path);
	assert_int_equal(st.st_size, 0);
	/* ...and the last one did fail, with libxml2's message captured. */
	assert_int_equal(err.code, WD_ERR_NOT_WELL_FORMED);
	assert_non_null(strstr(err.text, "redefined"));
}

/* ------------------------------------------------------------------------ */
/* schema loading                                                            */

static void
test_schema_load_fails_closed(void **state)
{
	struct hi1_schema	*hs;
	char			 dir[64], path[600];
	const char		*data;

	(void)state;
	assert_null(hi1_schema_load("/nonexistent/templates"));

	/* Positive control: an untouched copy loads. */
	templates_copy(dir, sizeof(dir));
	assert_non_null(hs = hi1_schema_load(dir));
	hi1_schema_free(hs);

	/* A RequestType value the daemon cannot route. */
	templates_edit(dir, "mx-dictionaries.xml", "<Value>Preservation</Value>",
	    "<Value>Preservacion</Value>");
	assert_null(hi1_schema_load(dir));
	templates_edit(dir, "mx-dictionaries.xml", "<Value>Preservacion</Value>",
	    "<Value>Preservation</Value>");

	/*
	 * The entity loader lets schema compilation read files inside the
	 * templates directory and nothing else: the same xs:include works
	 * from inside and fails from outside.
	 */
	data = "<?xml version=\"1.0\"?>\n<xs:schema xmlns:xs=\"http://www.w3.org/"
	    "2001/XMLSchema\"><xs:simpleType name=\"Extra\"><xs:restriction "
	    "base=\"xs:string\"/></xs:simpleType></xs:schema>\n";
	snprintf(path, sizeof(path), "%s/inside.xsd", dir);
	write_path(path, data, strlen(data));
	snprintf(path, sizeof(path), "%s-outside.xsd", dir);
	write_path(path, data, strlen(data));
	templates_edit(dir, "hi1-mx.xsd", "  <xs:import ", "  <xs:include "
	    "schemaLocation=\"inside.xsd\"/>\n  <xs:import ");
	assert_non_null(hs = hi1_schema_load(dir));
	hi1_schema_free(hs);
	snprintf(path, sizeof(path), "schemaLocation=\"../%s-outside.xsd\"",
	    dir + 5);
	templates_edit(dir, "hi1-mx.xsd", "schemaLocation=\"inside.xsd\"", path);
	assert_null(hi1_schema_load(dir));
	snprintf(path, sizeof(path), "%s-outside.xsd", dir);
	unlink(path);
	rm_tree(dir);

	/* A DOCTYPE in a template. */
	templates_copy(dir, sizeof(dir));
	templates_edit(dir, "mx-task.xsd", "<xs:schema", "<!DOCTYPE xs:schema>\n"
	    "<xs:schema");
	assert_null(hi1_schema_load(dir));
	rm_tree(dir);

	/* No dictionaries. */
	templates_copy(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mx-dictionaries.xml", dir);
	unlink(path);
	assert_null(hi1_schema_load(dir));
	rm_tree(dir);
}

/* ------------------------------------------------------------------------ */
/* times, Luhn, UUIDs                                                        */

static void
test_parse_time(void **state)
{
	static const struct {
		const char	*s;
		int64_t		 us;
	} good[] = {
		{ "2026-11-20T16:05:12Z", 1795190712LL * US },
		{ "2026-11-20T16:05:12.000000Z", 1795190712LL * US },
		{ "2026-11-20T16:05:12.5Z", 1795190712LL * US + 500000 },
		{ "2026-11-20T16:05:12.000001Z", 1795190712LL * US + 1 },
		{ "2026-11-01T00:00:00-06:00", 1793512800LL * US },
		{ "2026-11-01T11:30:00+05:30", 1793512800LL * US },
		{ "2024-02-29T12:00:00Z", 1709208000LL * US },
		{ "2015-09-01T12:00:00.000000+00:00", 1441108800LL * US },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59.999999Z", -1 },
	};
	static const char *bad[] = {
		"", "2026-11-20", "2026-11-20T16:05:12", "2026-11-20 16:05:12Z",
		"2023-02-29T12:00:00Z", "2026-04-31T12:00:00Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-11-20T24:00:00Z", "2026-11-20T16:60:00Z",
		"2026-11-20T16:05:60Z", "2026-11-20T16:05:12.1234567Z",
		"2026-11-20T16:05:12.Z", "2026-11-20T16:05:12+15:00",
		"2026-11-20T16:05:12+14:30", "2026-11-20T16:05:12+05:60",
		"2026-11-20T16:05:12+0", "2026-11-20T16:05:12+05:00x",
		"2026-11-20T16:05:12Zjunk", "0000-01-01T00:00:00Z",
		"+2026-11-20T16:05:12Z", "2026-11-20T16:05:1xZ",
	};
	int64_t	 us;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (wd_time_parse(good[i].s, &us) != 0)
			fail_msg("refused %s", good[i].s);
		assert_int_equal(us, good[i].us);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wd_time_parse(bad[i], &us) == 0)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(wd_time_parse(NULL, &us), -1);
}

static void
test_format_time(void **state)
{
	char	 buf[32];
	int64_t	 us;

	(void)state;
	wd_time_format(1795190712LL * US + 840211, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-20T16:05:12.840211Z");
	wd_time_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	wd_time_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(wd_time_parse(buf, &us), 0);
	assert_int_equal(us, -1);
	wd_time_format(1795190712LL * US, buf, 8);	/* truncates, terminates */
	assert_int_equal(strlen(buf), 7);
}

static void
test_luhn(void **state)
{
	(void)state;
	assert_true(hi1_imei_luhn_ok("490154203237518"));
	assert_true(hi1_imei_luhn_ok("352099001761481"));
	assert_true(hi1_imei_luhn_ok("353915100123456"));
	assert_false(hi1_imei_luhn_ok("490154203237519"));
	assert_false(hi1_imei_luhn_ok("49015420323751"));
	assert_false(hi1_imei_luhn_ok("4901542032375180"));
	assert_false(hi1_imei_luhn_ok("49015420323751a"));
	assert_false(hi1_imei_luhn_ok(""));
	assert_false(hi1_imei_luhn_ok(NULL));
}

static void
test_uuid(void **state)
{
	char	 a[37], b[37], small[8] = "xxxxxxx";

	(void)state;
	hi1_uuid(a, sizeof(a));
	hi1_uuid(b, sizeof(b));
	assert_int_equal(strlen(a), 36);
	assert_string_not_equal(a, b);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(a[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", a[i]));
	}
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	hi1_uuid(small, sizeof(small));
	assert_string_equal(small, "");
}

/* ------------------------------------------------------------------------ */
/* conformance: what an integrator's ordinary, valid messages look like     */

/* n copies of the (UTF-8) character ch; the caller frees. */
static char *
repeat(const char *ch, size_t n)
{
	size_t	 k = strlen(ch);
	char	*s = malloc(n * k + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * k, ch, k);
	s[n * k] = '\0';
	return s;
}

/* body with the text of the first <tag>...</...> replaced by value. */
static char *
set_text(char *body, const char *tag, const char *value)
{
	char	*p, *q, *out;
	size_t	 a, b;

	if ((p = strstr(body, tag)) == NULL ||
	    (q = strstr(p + strlen(tag), "</")) == NULL)
		fail_msg("test fixture: %s not found", tag);
	a = (size_t)(p - body) + strlen(tag);
	b = strlen(value);
	assert_non_null(out = malloc(a + b + strlen(q) + 1));
	memcpy(out, body, a);
	memcpy(out + a, value, b);
	strcpy(out + a + b, q);
	free(body);
	return out;
}

/*
 * XSD maxLength counts characters: names, courts and references at exactly
 * the profile's limit are accepted and extracted whole in any script
 * (2-byte "é", 3-byte "€", 4-byte U+1D538); one character more is the
 * schema's refusal (203, maxLength), never a 205 from our buffers.
 */
static void
test_text_limits_count_characters(void **state)
{
	static const struct {
		const char	*tag;
		const char	*ch;
		size_t		 limit;
	} f[] = {
		{ "<common:ApproverName>", "\xc3\xa9", 255 },
		{ "<auth:AuthorisationJurisdiction>", "\xf0\x9d\x94\xb8", 255 },
		{ "<auth:AuthorisationReference>", "\xe2\x82\xac", 128 },
		{ "<common:ApprovalReference>", "\xf0\x9d\x94\xb8", 128 },
		{ "<common:ApproverRole>", "\xc3\xb1", 255 },
		{ "<common:ApprovalType>", "\xf0\x9d\x94\xb8", 255 },
	};
	struct hi1_request	 req;
	char			*body, *at, *over;
	const char		*got;

	(void)state;
	/* All at their limit at once, in the realistic and the worst case. */
	body = sample("subscriber-msisdn.xml");
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		at = repeat(f[i].ch, f[i].limit);
		body = set_text(body, f[i].tag, at);
		free(at);
	}
	expect_ok(body, &req);
	free(body);
	for (size_t i = 0; i < 4; i++) {
		at = repeat(f[i].ch, f[i].limit);
		got = i == 0 ? req.auths[0].approvals[0].approver : i == 1 ? req.auths[0].court :
		    i == 2 ? req.auths[0].reference : req.auths[0].approvals[0].reference;
		assert_string_equal(got, at);
		free(at);
	}

	/* One character over: the schema's refusal, saying so. */
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		over = repeat(f[i].ch, f[i].limit + 1);
		body = set_text(sample("subscriber-msisdn.xml"), f[i].tag, over);
		free(over);
		expect_refused(body, WD_ERR_SCHEMA, -1, "maxLength");
	}

	/* An accented court of ordinary words, exactly 255 characters. */
	at = repeat("Juzgado Décimo de Distrito en Materia Penal, Ciudad de "
	    "México; ", 4);
	at[strlen(at) - 1] = '\0';		/* 4 x 63 - 1 = 251 characters */
	over = malloc(strlen(at) + 8);
	snprintf(over, strlen(at) + 8, "%s Ñuñ", at);	/* 255 */
	body = set_text(sample("subscriber-msisdn.xml"),
	    "<auth:AuthorisationJurisdiction>", over);
	expect_ok(body, &req);
	assert_string_equal(req.auths[0].court, over);
	free(body);
	free(at);
	free(over);
}

/*
 * body with every <tag> value wrapped in indentation, as pretty-printing
 * clients write them: the value on a line of its own, far indented.
 */
static char *
indent_values(char *body, const char *tag)
{
	static const char	 pad[] = "\n                                   "
	    "                                                            "
	    "                                                            ";
	char			*p = body, *q, *out, *val;
	size_t			 a;

	while ((p = strstr(p, tag)) != NULL) {
		p += strlen(tag);
		assert_non_null(q = strstr(p, "</"));
		assert_non_null(val = strndup(p, (size_t)(q - p)));
		a = (size_t)(p - body);
		assert_non_null(out = malloc(strlen(body) + 2 * sizeof(pad) + 1));
		memcpy(out, body, a);
		snprintf(out + a, strlen(body) + 2 * sizeof(pad) + 1 - a,
		    "%s%s%s\t %s", pad, val, pad, q);
		free(val);
		p = out + a + 1;
		free(body);
		body = out;
	}
	return body;
}

/*
 * xs:dateTime, xs:integer and xs:boolean collapse white space: a message
 * whose times, action identifiers and flags are indented on lines of their
 * own is valid, and is read exactly as the compact one.
 */
static void
test_pretty_printed(void **state)
{
	static const char	*tags[] = { "<ActionIdentifier>", "<Timestamp>",
	    "<auth:StartTime>", "<auth:EndTime>", "<task:StartTime>",
	    "<task:EndTime>", "<common:ApprovalTimestamp>",
	    "<task:ObservedTime>", "<common:ApprovalIsEmergency>",
	    "<auth:AuthorisationCreationTimestamp>" };
	static const char	*files[] = { "records.xml", "subscriber-ip.xml",
	    "location-realtime-urgent.xml", "interception.xml" };
	struct hi1_request	 want, got;
	char			*body;

	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		body = sample(files[f]);
		expect_ok(body, &want);
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			body = indent_values(body, tags[i]);
		assert_non_null(strstr(body, "<ActionIdentifier>\n   "));
		expect_ok(body, &got);
		if (memcmp(&want, &got, sizeof(want)) != 0)
			fail_msg("%s: read differently once indented", files[f]);
		free(body);
	}
	/* The flag, which the compact sample sets, is still read. */
	body = indent_values(sample("location-realtime-urgent.xml"),
	    "<common:ApprovalIsEmergency>");
	expect_ok(body, &got);
	assert_true(got.auths[0].emergency);
	free(body);
}

/*
 * An identifier with none of the profile's shapes is refused with 407 and
 * the rule of its FormatName in words, never with 203 quoting the schema's
 * regular expressions (the last of which is for IPv6 addresses).
 */
static void
test_malformed_identifiers(void **state)
{
	static const struct {
		const char	*file;
		const char	*from;
		const char	*to;
		const char	*text;
	} c[] = {
		{ "subscriber-msisdn.xml", ">525512345678<", ">5255123456<",
		  "action 1: line 99: InternationalE164 \"5255123456\" is not 52 "
		  "and 10 digits (a Mexican number, E.164 without '+')" },
		{ "subscriber-msisdn.xml", ">525512345678<", ">+525512345678<",
		  "InternationalE164 \"+525512345678\" is not 52 and 10 digits" },
		{ "subscriber-msisdn.xml", ">525512345678<", "> 525512345678<",
		  "InternationalE164 \" 525512345678\" is not 52" },
		{ "subscriber-msisdn.xml", ">525512345678<", "><",
		  "InternationalE164 \"\" is not 52" },
		{ "subscriber-imsi.xml", "<task:Value>334020000000001<",
		  "<task:Value>33402000000000<",
		  "IMSI \"33402000000000\" is not 334 and 12 digits" },
		{ "subscriber-imei.xml", "<task:Value>352099001761481<",
		  "<task:Value>35209900176148X<",
		  "IMEICheckDigit \"35209900176148X\" is not 15 digits, the last "
		  "a Luhn check digit" },
		{ "subscriber-ip.xml", "201.141.23.7:40123",
		  "[2806:10AE:7:1::23]:40123", "IPAddressPort "
		  "\"[2806:10AE:7:1::23]:40123\" is not a.b.c.d:port or [v6]:port "
		  "(lowercase hex" },
		{ "subscriber-ip.xml", "201.141.23.7:40123", "201.141.23.7:040123",
		  "with port 1-65535, without leading zeros" },
		{ "interception.xml", "<task:Value>525512345678<",
		  "<task:Value>52 55 1234 5678<",
		  "action 1: line " },
	};
	char	*body, *big;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		body = subst(sample(c[i].file), c[i].from, c[i].to);
		expect_refused(body, WD_ERR_IDENTIFIER, -1, c[i].text);
	}
	/* The schema's own words never reach the authority for these. */
	body = subst(sample("subscriber-msisdn.xml"), ">525512345678<",
	    ">5255123456<");
	{
		struct hi1_request	 req;
		struct wd_error		 err;

		assert_int_equal(parse(body, &req, &err), -1);
		assert_null(strstr(err.text, "pattern"));
		assert_null(strstr(err.text, "[0-9a-f]"));
	}
	free(body);

	/* Longer than LongString (65535): cut in the message, on a character. */
	big = repeat("\xc3\xa9", 70000);
	body = set_text(sample("subscriber-msisdn.xml"), "<task:Value>", big);
	free(big);
	{
		struct hi1_request	 req;
		struct wd_error		 err;
		const char		*e;

		assert_int_equal(parse(body, &req, &err), -1);
		assert_int_equal(err.code, WD_ERR_IDENTIFIER);
		assert_non_null(e = strstr(err.text, "...\" is not 52"));
		assert_true(e[-1] == '\xa9' && e[-2] == '\xc3');
	}
	free(body);

	/* Other schema errors are still the schema's (203). */
	body = subst(sample("subscriber-msisdn.xml"), "<task:Reference>MX-FGR-",
	    "<task:Reference>XX-FGR-");
	expect_refused(body, WD_ERR_SCHEMA, -1, "Reference");
	body = subst(sample("subscriber-msisdn.xml"), "<task:FormatName>"
	    "InternationalE164<", "<task:FormatName>E164<");
	expect_refused(body, WD_ERR_SCHEMA, -1, "FormatName");
}

/*
 * docs/errors.md is what authorities read: every code warrantd can send is
 * in its tables with the name and HTTP status of wd_error_text() and
 * wd_error_http_status(), and every code there is one warrantd knows.
 */
static void
test_errors_documented(void **state)
{
	char		 path[512], line[2048], name[256];
	int		 seen[600] = { 0 }, code, http, n = 0;
	FILE		*f;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/errors.md", TOP_SRCDIR);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "| %d | %255[^|]| %d |", &code, name, &http) != 3 ||
		    code < 100 || code > 599)
			continue;
		for (size_t k = strlen(name); k > 0 && name[k - 1] == ' '; k--)
			name[k - 1] = '\0';
		if (strcmp(wd_error_text((enum wd_errcode)code), name) != 0)
			fail_msg("docs/errors.md: %d is \"%s\", wd_error_text() "
			    "says \"%s\"", code, name,
			    wd_error_text((enum wd_errcode)code));
		if (wd_error_http_status((enum wd_errcode)code) != http)
			fail_msg("docs/errors.md: %d is HTTP %d, the code says "
			    "%d", code, http,
			    wd_error_http_status((enum wd_errcode)code));
		seen[code] = 1;
		n++;
	}
	fclose(f);
	assert_true(n >= 25);
	for (code = 100; code < 600; code++)
		if (strcmp(wd_error_text((enum wd_errcode)code),
		    "unknown error") != 0 && !seen[code])
			fail_msg("code %d (%s) is not in docs/errors.md", code,
			    wd_error_text((enum wd_errcode)code));
	assert_string_equal(wd_error_text((enum wd_errcode)402),
	    "unknown error");
}

/* ------------------------------------------------------------------------ */
/* responses                                                                 */

/*
 * A response must be well-formed, valid under our templates (compiled by the
 * test), accepted by the loaded schema (hi1_parse_request gets past
 * validation and stops at "not a request"), and is kept for the official
 * check.
 */
static void
check_response(const char *xml, size_t len, const char *tag)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	xmlSchemaValidCtxtPtr	 vc;
	xmlDocPtr		 doc;
	char			 path[256];
	int			 rc;

	assert_non_null(xml);
	assert_int_equal(strlen(xml), len);
	assert_non_null(doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
	    XML_PARSE_NONET));
	assert_non_null(vc = xmlSchemaNewValidCtxt(resp_xsd));
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeDoc(doc);
	if (rc != 0)
		fail_msg("%s: not valid under etc/templates:\n%s", tag, xml);
	assert_int_equal(hi1_parse_request(schema, xml, len, &req, &err), -1);
	if (err.code != WD_ERR_SCHEMA || strcmp(err.text, "the message is not "
	    "a request") != 0)
		fail_msg("%s: loaded schema: %d %s", tag, err.code, err.text);
	snprintf(path, sizeof(path), "%s/%s.xml", resp_dir, tag);
	write_path(path, xml, len);
	resp_count++;
}

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
test_responses_for_every_sample(void **state)
{
	struct hi1_request	 req;
	struct wd_error		 err;
	DIR			*d;
	struct dirent		*e;
	char			 path[512], tag[300], *body, *xml;
	size_t			 len;

	(void)state;
	snprintf(path, sizeof(path), "%s/etc/samples", TOP_SRCDIR);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		if (!ends_with(e->d_name, ".xml"))
			continue;
		snprintf(path, sizeof(path), "%s/etc/samples/%s", TOP_SRCDIR,
		    e->d_name);
		assert_non_null(body = read_path(path, NULL));
		expect_ok(body, &req);
		free(body);

		xml = test_accepted(header(&req), &req, "MXC-20261120-000042",
		    UINT32_MAX, NULL, 0, &len);
		snprintf(tag, sizeof(tag), "accepted-%s", e->d_name);
		check_response(xml, len, tag);
		assert_non_null(strstr(xml, req.transaction_id));
		assert_non_null(strstr(xml, "<UniqueIdentifier>MXCARRIER<"));
		free(xml);

		/* Refused for one action: that one, and 410 for the others. */
		wd_error_set_action(&err, WD_ERR_TYPE_NOT_ALLOWED,
		    req.tasks[0].action_id, "%s may not request %s", req.sender_id,
		    wd_reqtype_name(req.tasks[0].type));
		xml = hi1_build_error(header(&req), &req, &err, &len);
		snprintf(tag, sizeof(tag), "action-error-%s", e->d_name);
		check_response(xml, len, tag);
		assert_non_null(strstr(xml, "<ErrorCode>305</ErrorCode>"));
		assert_non_null(strstr(xml, "<ErrorCode>410</ErrorCode>"));
		free(xml);

		/* Refused as a whole. */
		wd_error_set(&err, WD_ERR_CLOCK_SKEW, "header timestamp is 900 s "
		    "away from the carrier's clock");
		xml = hi1_build_error(header(&req), &req, &err, &len);
		snprintf(tag, sizeof(tag), "message-error-%s", e->d_name);
		check_response(xml, len, tag);
		assert_null(strstr(xml, "ActionResponse"));
		free(xml);
	}
	closedir(d);
}

static void
test_accepted_content(void **state)
{
	struct hi1_request	 req;
	char			*body = sample("subscriber-msisdn.xml"), *xml;
	size_t			 len;

	(void)state;
	expect_ok(body, &req);
	free(body);
	xml = test_accepted(header(&req), &req, "MXC-20261120-000042",
		    UINT32_MAX, NULL, 0, &len);
	check_response(xml, len, "accepted-content");
	assert_non_null(strstr(xml, "<ReceiverIdentifier>\n      <CountryCode>MX"
	    "</CountryCode>\n      <UniqueIdentifier>FGR</UniqueIdentifier>"));
	assert_non_null(strstr(xml, "<Timestamp>2026-11-20T16:05:12.840211Z<"));
	assert_non_null(strstr(xml, "<ETSIVersion>V1.12.1<"));
	assert_non_null(strstr(xml, "<Identifier>43e1f69e-0370-4920-b2a0-a2c325e164f1<"));
	assert_non_null(strstr(xml, "xsi:type=\"task:LDTaskObject\""));
	assert_non_null(strstr(xml, "<ExternalIdentifier>MXC-20261120-000042<"));
	assert_non_null(strstr(xml, "<task:Reference>MX-FGR-000123<"));
	assert_non_null(strstr(xml, "<common:Value>AwaitingDisclosure<"));
	/* Authorisations come back as an Identifier only, in action order. */
	assert_true(strstr(xml, "<ActionIdentifier>0<") <
	    strstr(xml, "<ActionIdentifier>1<"));
	free(xml);

	/* A carrier reference the profile would refuse is left out, not sent. */
	xml = test_accepted(header(&req), &req, " two\nlines", UINT32_MAX,
	    NULL, 0, &len);
	check_response(xml, len, "accepted-bad-ref");
	assert_null(strstr(xml, "ExternalIdentifier"));
	free(xml);
}

static void
test_error_content(void **state)
{
	struct hi1_request		 req;
	struct hi1_response_header	 h;
	struct wd_error			 err;
	char				*body = sample("records.xml"), *xml;
	size_t				 len;

	(void)state;
	expect_ok(body, &req);
	free(body);
	h = *header(&req);

	/* Hostile text: markup, a control character, a cut UTF-8 sequence. */
	wd_error_set_action(&err, WD_ERR_IDENTIFIER, 2, "action 2: <b>&amp;"
	    "\x01\n\xc3");
	xml = hi1_build_error(&h, &req, &err, &len);
	check_response(xml, len, "error-escaping");
	assert_non_null(strstr(xml, "<ErrorDescription>malformed identifier: "
	    "action 2: &lt;b&gt;&amp;amp;? ?</ErrorDescription>"));
	assert_non_null(strstr(xml, "<ErrorDescription>not carried out: another "
	    "action in the message failed: action 2 failed<"));
	free(xml);

	/* The failing action is answered even if extraction never reached it. */
	wd_error_set_action(&err, WD_ERR_SCHEMA, 9, "action 9: unsupported");
	xml = hi1_build_error(&h, &req, &err, &len);
	check_response(xml, len, "error-unlisted-action");
	assert_non_null(strstr(xml, "<ActionIdentifier>9<"));
	free(xml);

	/* Without a request: a message-level error, fresh ids where needed. */
	h.authority_id = NULL;
	h.transaction_id = "not-a-uuid";
	wd_error_set(&err, WD_ERR_NOT_WELL_FORMED, "line 3: oops");
	xml = hi1_build_error(&h, NULL, &err, &len);
	check_response(xml, len, "error-no-request");
	assert_non_null(strstr(xml, "<UniqueIdentifier>UNKNOWN<"));
	assert_null(strstr(xml, "not-a-uuid"));
	assert_non_null(strstr(xml, "<ErrorCode>201<"));
	assert_non_null(strstr(xml, "<ErrorDescription>XML not well-formed: "
	    "line 3: oops<"));
	free(xml);
}

/* The official ETSI schemas, through ../shared/etsi/validate.sh. */
static void
test_responses_official(void **state)
{
	const char	*shared = getenv("WD_SHARED_DIR");
	char		 script[512], cmd[1200];
	int		 rc;

	(void)state;
	if (shared != NULL)
		snprintf(script, sizeof(script), "%s/etsi/validate.sh", shared);
	else
		snprintf(script, sizeof(script), "%s/../shared/etsi/validate.sh",
		    TOP_SRCDIR);
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "\n###########################################"
		    "###########\n# SKIPPED: official ETSI schema check (shared/"
		    " absent)\n######################################"
		    "################\n");
		skip();
	}
	assert_true(resp_count >= 30);
	snprintf(cmd, sizeof(cmd), "sh '%s' hi1 '%s'/*.xml > '%s/official.log' "
	    "2>&1", script, resp_dir, resp_dir);
	rc = system(cmd);
	if (rc != 0) {
		snprintf(cmd, sizeof(cmd), "grep -v ' validates$' '%s/official.log' "
		    ">&2", resp_dir);
		(void)system(cmd);
		fail_msg("responses not valid under the official schemas");
	}
	snprintf(cmd, sizeof(cmd), "%s/official.log", resp_dir);
	unlink(cmd);
}

/* ------------------------------------------------------------------------ */
/* threads                                                                   */

struct worker {
	char	*body[3];
	int	 failures;
};

static void *
worker_run(void *arg)
{
	struct worker		*w = arg;
	struct hi1_request	 req;
	struct wd_error		 err;

	for (int i = 0; i < 30; i++) {
		if (hi1_parse_request(schema, w->body[i % 3], strlen(w->body[i % 3]),
		    &req, &err) != 0 || req.ntasks == 0)
			w->failures++;
		/* An error path too, to exercise the error capture. */
		if (hi1_parse_request(schema, "<a><b></a>", 10, &req, &err) != -1 ||
		    err.code != WD_ERR_NOT_WELL_FORMED)
			w->failures++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct worker	 w[4];
	pthread_t	 th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i].body[0] = sample("records.xml");
		w[i].body[1] = sample("interception.xml");
		w[i].body[2] = sample("subscriber-ip.xml");
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
		for (int k = 0; k < 3; k++)
			free(w[i].body[k]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_sample_parses),
		cmocka_unit_test(test_extract_msisdn),
		cmocka_unit_test(test_extract_ip),
		cmocka_unit_test(test_extract_interception),
		cmocka_unit_test(test_extract_urgent),
		cmocka_unit_test(test_extract_records),
		cmocka_unit_test(test_extract_other_types),
		cmocka_unit_test(test_xsi_type_qname),
		cmocka_unit_test(test_duplicate_action),
		cmocka_unit_test(test_duplicate_object),
		cmocka_unit_test(test_auth_link),
		cmocka_unit_test(test_identifier_formats),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_window_order),
		cmocka_unit_test(test_dictionary),
		cmocka_unit_test(test_semantic_fixtures),
		cmocka_unit_test(test_attack_corpus),
		cmocka_unit_test(test_every_attack_listed),
		cmocka_unit_test(test_xxe_never_reads),
		cmocka_unit_test(test_depth_limits),
		cmocka_unit_test(test_attribute_limits),
		cmocka_unit_test(test_element_count_and_size),
		cmocka_unit_test(test_text_limits_count_characters),
		cmocka_unit_test(test_pretty_printed),
		cmocka_unit_test(test_malformed_identifiers),
		cmocka_unit_test(test_errors_documented),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_error_text_has_line),
		cmocka_unit_test(test_nothing_on_stderr),
		cmocka_unit_test(test_schema_load_fails_closed),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_luhn),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_responses_for_every_sample),
		cmocka_unit_test(test_accepted_content),
		cmocka_unit_test(test_error_content),
		cmocka_unit_test(test_responses_official),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
