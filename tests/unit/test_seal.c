/*
 * test_seal — the journal's sealed fields: a sealed record holds none of
 * its identifiers or references in its bytes, opens with the audit private
 * key and with the daemon's data key and with nothing else, refuses any
 * altered byte or a move to another seq, and its blind index finds the
 * identifier as an auditor would type it, and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "seal.h"

static char	dir[] = "/tmp/test_seal.XXXXXX";
static char	pub[256], priv[256], other[256];

static void
write_x25519(const char *privpath, const char *pubpath)
{
	EVP_PKEY	*k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	FILE		*f;

	assert_non_null(k);
	assert_non_null(f = fopen(privpath, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL),
	    1);
	fclose(f);
	if (pubpath != NULL) {
		assert_non_null(f = fopen(pubpath, "w"));
		assert_int_equal(PEM_write_PUBKEY(f, k), 1);
		fclose(f);
	}
	EVP_PKEY_free(k);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pub, sizeof(pub), "%s/audit.pub", dir);
	snprintf(priv, sizeof(priv), "%s/audit.key", dir);
	snprintf(other, sizeof(other), "%s/other.key", dir);
	write_x25519(priv, pub);
	write_x25519(other, NULL);
	return 0;
}

static int
teardown(void **state)
{
	char	cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const uint8_t	data_key[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcde";

/* A daemon's seal: the audit public key and the data key. */
static struct seal *
daemon_seal(void)
{
	struct seal	*s = seal_new();

	assert_non_null(s);
	assert_int_equal(seal_set_audit_public(s, pub), 0);
	assert_int_equal(seal_set_data_key(s, data_key), 0);
	assert_true(seal_can_seal(s));
	return s;
}

static struct seal *
auditor_seal(const char *keyfile)
{
	struct seal	*s = seal_new();

	assert_non_null(s);
	assert_int_equal(seal_set_audit_private(s, keyfile), 0);
	assert_false(seal_can_seal(s));
	return s;
}

/* An accepted request: one task with two identifiers, one order. */
struct req {
	Warrant__Record		r;
	Warrant__Task		t, *tp[1];
	Warrant__Identifier	id[2], *idp[2];
	Warrant__Authorisation	a, *ap[1];
	Warrant__Approval	ap0, *app[1];
	Warrant__DeliveryPart	p, *pp[1];
	Warrant__Notification	n, *np[1];
};

static void
req_init(struct req *q)
{
	warrant__record__init(&q->r);
	warrant__task__init(&q->t);
	warrant__authorisation__init(&q->a);
	warrant__approval__init(&q->ap0);
	warrant__delivery_part__init(&q->p);
	for (int i = 0; i < 2; i++) {
		warrant__identifier__init(&q->id[i]);
		q->idp[i] = &q->id[i];
	}
	q->r.version = 2;
	q->r.seq = 41;
	q->r.time_us = 1796601600000000LL;	/* 2026-12-07 */
	q->r.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
	q->r.carrier_ref = "MXC-20261207-00000007";
	q->r.authority_id = "FGR";
	q->id[0].type = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN;
	q->id[0].value = "+52 55 1234 5678";
	q->id[1].type = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMEI;
	q->id[1].value = "356938035643809";
	q->t.type = WARRANT__REQUEST_TYPE__REQUEST_INTERCEPTION;
	q->t.object_id = "7b0c3d2e-0000-4000-8000-000000000001";
	q->t.reference = "LIID-SECRET-9";
	q->t.n_identifiers = 2;
	q->t.identifiers = q->idp;
	q->tp[0] = &q->t;
	q->r.n_tasks = 1;
	q->r.tasks = q->tp;
	q->a.object_id = "7b0c3d2e-0000-4000-8000-000000000002";
	q->a.reference = "CAUSA-123/2026";
	q->a.court = "Juzgado Tercero de Control";
	q->ap0.reference = "CAUSA-123/2026";
	q->ap0.approver = "Jueza Ruiz";
	q->app[0] = &q->ap0;
	q->a.n_approvals = 1;
	q->a.approvals = q->app;
	q->ap[0] = &q->a;
	q->r.n_authorisations = 1;
	q->r.authorisations = q->ap;
	q->p.object_id = "7b0c3d2e-0000-4000-8000-000000000003";
	q->p.ldid = "LDID-HIDDEN-4";
	q->pp[0] = &q->p;
	q->r.n_parts = 1;
	q->r.parts = q->pp;
	warrant__notification__init(&q->n);
	q->n.object_id = "7b0c3d2e-0000-4000-8000-000000000004";
	q->n.text = "Interception LIID-SECRET-9 (MXC-20261207-00000007): lapsed";
	q->np[0] = &q->n;
	q->r.n_notifications = 1;
	q->r.notifications = q->np;
}

static bool
contains(const uint8_t *b, size_t len, const char *s)
{
	return memmem(b, len, s, strlen(s)) != NULL;
}

static Warrant__Record *
sealed_record(struct seal *s, uint8_t **bytes, size_t *len)
{
	struct req	q;

	req_init(&q);
	assert_int_equal(seal_pack(s, &q.r, bytes, len), 0);
	return warrant__record__unpack(NULL, *len, *bytes);
}

static void
test_nothing_in_clear(void **state)
{
	struct seal	*s = daemon_seal();
	Warrant__Record	*r;
	uint8_t		*b;
	size_t		 len;
	static const char *secret[] = { "1234", "5678", "356938035643809",
	    "LIID-SECRET", "CAUSA-123", "Juzgado", "LDID-HIDDEN" };

	(void)state;
	assert_non_null(r = sealed_record(s, &b, &len));
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		assert_false(contains(b, len, secret[i]));
	/* What auditors count with stays readable. */
	assert_true(contains(b, len, "MXC-20261207-00000007"));
	assert_true(seal_is_sealed(r));
	assert_int_equal(r->n_tasks, 1);
	assert_int_equal(r->tasks[0]->n_identifiers, 2);
	assert_int_equal(r->tasks[0]->identifiers[1]->type,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMEI);
	assert_string_equal(r->tasks[0]->identifiers[0]->value, "");
	assert_string_equal(r->authorisations[0]->court, "");
	/* Two identifiers, one task reference, one order reference. */
	assert_int_equal(r->n_blind, 4);
	assert_int_equal(r->blind[0].len, SEAL_TOKEN_LEN);
	warrant__record__free_unpacked(r, NULL);
	free(b);
	seal_free(s);
}

static void
check_opened(const Warrant__Record *r)
{
	assert_string_equal(r->tasks[0]->identifiers[0]->value,
	    "+52 55 1234 5678");
	assert_string_equal(r->tasks[0]->identifiers[1]->value,
	    "356938035643809");
	assert_string_equal(r->tasks[0]->reference, "LIID-SECRET-9");
	assert_string_equal(r->authorisations[0]->reference, "CAUSA-123/2026");
	assert_string_equal(r->authorisations[0]->court,
	    "Juzgado Tercero de Control");
	assert_string_equal(r->authorisations[0]->approvals[0]->reference,
	    "CAUSA-123/2026");
	assert_string_equal(r->parts[0]->ldid, "LDID-HIDDEN-4");
	assert_string_equal(r->notifications[0]->text,
	    "Interception LIID-SECRET-9 (MXC-20261207-00000007): lapsed");
}

static void
test_open_with_either_key(void **state)
{
	struct seal	*s = daemon_seal(), *a = auditor_seal(priv), *d;
	Warrant__Record	*r;
	uint8_t		*b;
	size_t		 len;
	char		 err[200];

	(void)state;
	/* The auditor, with the private key. */
	assert_non_null(r = sealed_record(s, &b, &len));
	assert_int_equal(seal_open(a, r, err, sizeof(err)), 0);
	check_opened(r);
	warrant__record__free_unpacked(r, NULL);
	/* The daemon, with its data key only. */
	assert_non_null(d = seal_new());
	assert_int_equal(seal_set_data_key(d, data_key), 0);
	r = warrant__record__unpack(NULL, len, b);
	assert_int_equal(seal_open(d, r, err, sizeof(err)), 0);
	check_opened(r);
	warrant__record__free_unpacked(r, NULL);
	free(b);
	seal_free(d);
	seal_free(a);
	seal_free(s);
}

static void
test_no_key_no_open(void **state)
{
	struct seal	*s = daemon_seal(), *o = auditor_seal(other), *d;
	Warrant__Record	*r;
	uint8_t		*b, other_data[SEAL_KEY_LEN];
	size_t		 len;
	char		 err[200];

	(void)state;
	assert_non_null(r = sealed_record(s, &b, &len));
	assert_int_equal(seal_open(o, r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such key"));
	assert_int_equal(seal_open(NULL, r, err, sizeof(err)), -1);
	/* Another daemon's data key. */
	memset(other_data, 7, sizeof(other_data));
	assert_non_null(d = seal_new());
	assert_int_equal(seal_set_data_key(d, other_data), 0);
	assert_int_equal(seal_open(d, r, err, sizeof(err)), -1);
	assert_string_equal(r->tasks[0]->identifiers[0]->value, "");
	warrant__record__free_unpacked(r, NULL);
	free(b);
	seal_free(d);
	seal_free(o);
	seal_free(s);
}

static void
test_tamper(void **state)
{
	struct seal	*s = daemon_seal(), *a = auditor_seal(priv);
	Warrant__Record	*r;
	uint8_t		*b;
	size_t		 len, i, n;
	char		 err[200];

	(void)state;
	assert_non_null(r = sealed_record(s, &b, &len));
	n = r->sealed.len;
	/* Every byte of the envelope matters, header and body. */
	for (i = 0; i < n; i += 7) {
		r->sealed.data[i] ^= 0x20;
		assert_int_equal(seal_open(a, r, err, sizeof(err)), -1);
		r->sealed.data[i] ^= 0x20;
	}
	/* Moved to another record (seq, time), it does not open either. */
	r->seq++;
	assert_int_equal(seal_open(a, r, err, sizeof(err)), -1);
	r->seq--;
	r->time_us++;
	assert_int_equal(seal_open(a, r, err, sizeof(err)), -1);
	r->time_us--;
	/* A truncated envelope is malformed, not a crash. */
	r->sealed.len = SEAL_ENV_MIN - 1;
	assert_int_equal(seal_open(a, r, err, sizeof(err)), -1);
	r->sealed.len = n;
	assert_int_equal(seal_open(a, r, err, sizeof(err)), 0);
	warrant__record__free_unpacked(r, NULL);
	free(b);
	seal_free(a);
	seal_free(s);
}

static void
test_blind_index(void **state)
{
	struct seal	*s = daemon_seal(), *a = auditor_seal(priv);
	struct seal	*o = auditor_seal(other);
	Warrant__Record	*r;
	uint8_t		*b;
	size_t		 len;
	int		 fd;

	(void)state;
	assert_true((fd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(seal_index_publish(s, fd), 0);
	assert_int_equal(seal_index_publish(s, fd), 0);	/* idempotent */
	assert_int_equal(seal_index_load(a, fd), 1);
	assert_int_equal(seal_index_load(o, fd), 0);	/* not for its key */
	assert_non_null(r = sealed_record(s, &b, &len));
	/* As the auditor types it, however written in the request. */
	assert_true(seal_index_match(a, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN, "525512345678"));
	assert_true(seal_index_match(a, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN, "+52-55-1234-5678"));
	assert_true(seal_index_match(a, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMEI, "356938035643809"));
	assert_true(seal_index_match(a, r, SEAL_KIND_ORDER, "CAUSA-123/2026"));
	assert_true(seal_index_match(a, r, SEAL_KIND_TASKREF, "LIID-SECRET-9"));
	/* Not another number, nor the same digits as another type. */
	assert_false(seal_index_match(a, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN, "525512345679"));
	assert_false(seal_index_match(a, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMSI, "525512345678"));
	assert_false(seal_index_match(o, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN, "525512345678"));
	/* Another month: tokens differ, so months do not link. */
	r->time_us += 31LL * 86400 * 1000000;
	assert_false(seal_index_match(a, r,
	    WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN, "525512345678"));
	close(fd);
	warrant__record__free_unpacked(r, NULL);
	free(b);
	seal_free(o);
	seal_free(a);
	seal_free(s);
}

static void
test_plain_records_stay_plain(void **state)
{
	struct seal	*s = daemon_seal();
	Warrant__Record	 r = WARRANT__RECORD__INIT, *u;
	uint8_t		*b;
	size_t		 len;

	(void)state;
	r.version = 2;
	r.event = WARRANT__EVENT_TYPE__EVENT_DAEMON_START;
	r.detail = "started";
	assert_int_equal(seal_pack(s, &r, &b, &len), 0);
	assert_non_null(u = warrant__record__unpack(NULL, len, b));
	assert_false(seal_is_sealed(u));
	assert_int_equal(u->n_blind, 0);
	assert_string_equal(u->detail, "started");
	warrant__record__free_unpacked(u, NULL);
	free(b);
	seal_free(s);
}

/* An invalid identifier's error text quotes it: sealed like the rest. */
static void
test_identifier_error_text(void **state)
{
	struct seal	*s = daemon_seal(), *a = auditor_seal(priv);
	Warrant__Record	 r = WARRANT__RECORD__INIT, *u;
	uint8_t		*b;
	size_t		 len;
	char		 err[200];

	(void)state;
	r.version = 2;
	r.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID;
	r.error_code = 407;
	r.error_text = "IMEI 356938035643808 has a wrong check digit";
	assert_int_equal(seal_pack(s, &r, &b, &len), 0);
	assert_false(contains(b, len, "356938035643808"));
	assert_non_null(u = warrant__record__unpack(NULL, len, b));
	assert_true(seal_is_sealed(u));
	assert_string_equal(u->error_text, "");
	assert_int_equal(seal_open(a, u, err, sizeof(err)), 0);
	assert_string_equal(u->error_text, r.error_text);
	warrant__record__free_unpacked(u, NULL);
	free(b);
	/* libxml2's schema messages quote the failing value: sealed too. */
	r.error_code = 203;
	r.error_text = "line 40: Element 'AuthorisationReference': "
	    "'CI-FED/0004512' is not a valid value";
	assert_int_equal(seal_pack(s, &r, &b, &len), 0);
	assert_false(contains(b, len, "0004512"));
	free(b);
	/* Other errors' texts name no identifier: they stay readable. */
	r.error_code = 403;
	r.error_text = "authority not registered";
	assert_int_equal(seal_pack(s, &r, &b, &len), 0);
	assert_true(contains(b, len, "authority not registered"));
	free(b);
	seal_free(a);
	seal_free(s);
}

/*
 * A desk action's note, reason and search are sealed (a note may quote an
 * order; a search's SHA-256 of a phone number is found by trying them
 * all); the action and the operator stay readable.
 */
static void
test_desk_action(void **state)
{
	struct seal		*s = daemon_seal(), *a = auditor_seal(priv);
	Warrant__Record		 r = WARRANT__RECORD__INIT, *u;
	Warrant__DeskAction	 d = WARRANT__DESK_ACTION__INIT;
	uint8_t			*b, sha[32];
	size_t			 len;
	char			 err[200];

	(void)state;
	memset(sha, 0xab, sizeof(sha));
	d.action = "search";
	d.operator_id = "op.ramirez";
	d.text = "orden CAUSA-77/2026";
	d.query_kind = "identifier";
	d.query = "LDID-QUERY-5";
	d.query_sha256.data = sha;
	d.query_sha256.len = sizeof(sha);
	r.version = 2;
	r.event = WARRANT__EVENT_TYPE__EVENT_DESK_ACTION;
	r.desk = &d;
	assert_int_equal(seal_pack(s, &r, &b, &len), 0);
	assert_false(contains(b, len, "CAUSA-77"));
	assert_false(contains(b, len, "LDID-QUERY"));
	assert_false(memmem(b, len, sha, sizeof(sha)) != NULL);
	assert_true(contains(b, len, "op.ramirez"));
	assert_non_null(u = warrant__record__unpack(NULL, len, b));
	assert_true(seal_is_sealed(u));
	assert_string_equal(u->desk->action, "search");
	assert_string_equal(u->desk->text, "");
	assert_int_equal(u->desk->query_sha256.len, 0);
	assert_int_equal(seal_open(a, u, err, sizeof(err)), 0);
	assert_string_equal(u->desk->text, d.text);
	assert_string_equal(u->desk->query, d.query);
	assert_int_equal(u->desk->query_sha256.len, 32);
	assert_memory_equal(u->desk->query_sha256.data, sha, 32);
	warrant__record__free_unpacked(u, NULL);
	free(b);
	seal_free(a);
	seal_free(s);
}

static void
test_data_key_file(void **state)
{
	uint8_t	k[SEAL_KEY_LEN], k2[SEAL_KEY_LEN];
	char	path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/data.key", dir);
	assert_int_equal(seal_read_data_key(path, false, k), -1);
	assert_int_equal(seal_read_data_key(path, true, k), 0);
	assert_int_equal(seal_read_data_key(path, false, k2), 0);
	assert_memory_equal(k, k2, sizeof(k));
	/* Readable by others: refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(seal_read_data_key(path, false, k2), -1);
}

static void
test_mask_identifiers(void **state)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "no subscriber 525512345678", "no subscriber ############" },
		{ "IMSI 334020123456789 unknown", "IMSI ############### unknown" },
		{ "no lease for 10.20.30.40:5060", "no lease for ################" },
		{ "no lease for 2001:db8::1", "no lease for ###########" },
		{ "database locked, retry", "database locked, retry" },
		{ "cafe dead beef 12", "cafe dead beef 12" },
		{ "uri.etsi.org/103120/common/2019/10/Core line 60",
		    "uri.etsi.org/103120/common/2019/10/Core line 60" },
		{ "no IMEI 3569380 here", "no IMEI ####### here" },
		{ "", "" },
	};
	char	buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", t[i].in);
		seal_mask_identifiers(buf);
		assert_string_equal(buf, t[i].out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_in_clear),
		cmocka_unit_test(test_open_with_either_key),
		cmocka_unit_test(test_no_key_no_open),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_blind_index),
		cmocka_unit_test(test_plain_records_stay_plain),
		cmocka_unit_test(test_identifier_error_text),
		cmocka_unit_test(test_mask_identifiers),
		cmocka_unit_test(test_data_key_file),
		cmocka_unit_test(test_desk_action),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
