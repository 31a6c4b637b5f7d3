/*
 * test_backend_wire — the back-end protocol's wire rules (src/warrant-backend/refbe_wire.c):
 * frame lengths, the top-level field scan, the enum and UTF-8 checks done
 * after unpacking, the request content checks, and the hand-written records
 * chunk encoder, which must produce exactly protobuf-c's bytes and the
 * digest the proto defines.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "refbe_server.h"

#define BODY(x)	WARRANT__BACKEND__ENVELOPE__BODY_ ## x
#define ID(x)	WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_ ## x
#define MALFORMED WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED
#define NOW	1795000000000000LL

static void
test_frame_len(void **state)
{
	uint32_t len;

	(void)state;
	assert_int_equal(refbe_wire_frame_len((const uint8_t[]){ 0, 0, 0, 0 }, &len), -1);
	assert_int_equal(refbe_wire_frame_len((const uint8_t[]){ 0, 0, 0, 1 }, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(refbe_wire_frame_len((const uint8_t[]){ 0, 0x10, 0, 0 }, &len), 0);
	assert_int_equal(len, 1048576);
	assert_int_equal(refbe_wire_frame_len((const uint8_t[]){ 0, 0x10, 0, 1 }, &len), -1);
	assert_int_equal(refbe_wire_frame_len((const uint8_t[]){ 0xff, 0xff, 0xff, 0xff }, &len), -1);
	assert_int_equal(len, 0xffffffffu);
}

/* Pack an envelope into a static buffer. */
static uint8_t packed[4096];

static size_t
pack(const Warrant__Backend__Envelope *env)
{
	size_t n = warrant__backend__envelope__get_packed_size(env);

	assert_true(n <= sizeof(packed));
	return warrant__backend__envelope__pack(env, packed);
}

static void
test_peek_fields(void **state)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__HealthQuery	hq = WARRANT__BACKEND__HEALTH_QUERY__INIT;
	uint32_t			mask;
	size_t				n;

	(void)state;
	env.request_id = 300;
	env.body_case = BODY(HEALTH_QUERY);
	env.health_query = &hq;
	n = pack(&env);
	assert_int_equal(refbe_wire_peek_fields(packed, n, &mask), 0);
	assert_int_equal(mask, 1u << 1 | 1u << 19);
	/* Truncated varint, group wire types, a length beyond the end. */
	assert_int_equal(refbe_wire_peek_fields((const uint8_t[]){ 0x08, 0x80 }, 2, &mask), -1);
	assert_int_equal(refbe_wire_peek_fields((const uint8_t[]){ 0x0b }, 1, &mask), -1);
	assert_int_equal(refbe_wire_peek_fields((const uint8_t[]){ 0x7a, 0x05, 1 }, 3, &mask), -1);
	/* Field number 0 does not exist. */
	assert_int_equal(refbe_wire_peek_fields((const uint8_t[]){ 0x00, 0x01 }, 2, &mask), -1);
	/* An answer body is seen even when a request follows it. */
	assert_int_equal(refbe_wire_peek_fields((const uint8_t[]){ 0x7a, 0x00, 0x9a, 0x01, 0x00 },
	    5, &mask), 0);
	assert_true(mask & 1u << 15);
	assert_true(mask & 1u << 19);
}

static Warrant__Backend__Envelope *
decode(size_t n, char *why)
{
	return refbe_wire_decode(packed, n, why, 160);
}

static void
test_decode_enums(void **state)
{
	Warrant__Backend__Envelope		 env = WARRANT__BACKEND__ENVELOPE__INIT, *d;
	Warrant__Backend__SubscriberQuery	 q = WARRANT__BACKEND__SUBSCRIBER_QUERY__INIT;
	Warrant__Backend__Identifier		 t = WARRANT__BACKEND__IDENTIFIER__INIT;
	Warrant__Backend__Hello			 h = WARRANT__BACKEND__HELLO__INIT;
	Warrant__Backend__RequestKind		 kinds[2] = { 1, 77 };
	char					 why[160];

	(void)state;
	t.type = ID(MSISDN);
	t.value = "525512345678";
	q.target = &t;
	env.request_id = 1;
	env.body_case = BODY(SUBSCRIBER_QUERY);
	env.subscriber_query = &q;
	assert_non_null(d = decode(pack(&env), why));
	warrant__backend__envelope__free_unpacked(d, NULL);

	/* An undefined value in a nested message. */
	t.type = (Warrant__Backend__IdentifierType)99;
	assert_null(decode(pack(&env), why));
	assert_non_null(strstr(why, "undefined enum value 99"));
	/* Negative numbers are not defined either. */
	t.type = (Warrant__Backend__IdentifierType)-1;
	assert_null(decode(pack(&env), why));

	/* An undefined value inside a repeated enum. */
	warrant__backend__envelope__init(&env);
	h.version_major = 1;
	h.n_capabilities = 2;
	h.capabilities = kinds;
	env.body_case = BODY(HELLO);
	env.hello = &h;
	assert_null(decode(pack(&env), why));
	assert_non_null(strstr(why, "capabilities"));
	kinds[1] = 5;
	assert_non_null(d = decode(pack(&env), why));
	assert_int_equal(d->hello->n_capabilities, 2);
	warrant__backend__envelope__free_unpacked(d, NULL);
}

static void
test_decode_utf8(void **state)
{
	static const char *bad[] = {
		"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"abc\xc3", "\xc3\x28",
	};
	Warrant__Backend__Envelope		 env = WARRANT__BACKEND__ENVELOPE__INIT, *d;
	Warrant__Backend__PreservationRequest	 p = WARRANT__BACKEND__PRESERVATION_REQUEST__INIT;
	char					 why[160];

	(void)state;
	env.request_id = 2;
	env.body_case = BODY(PRESERVATION);
	env.preservation = &p;
	p.reference = "FGJ/Nuevo León/Álvarez/😀";
	assert_non_null(d = decode(pack(&env), why));
	warrant__backend__envelope__free_unpacked(d, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.reference = (char *)bad[i];
		assert_null(decode(pack(&env), why));
		assert_non_null(strstr(why, "not UTF-8"));
	}
	/* Not a message at all. */
	assert_null(refbe_wire_decode((const uint8_t *)"\xff\xff\xff", 3, why, sizeof(why)));
}

/*
 * Unknown fields are kept by protobuf-c (about 30 bytes each for 3 bytes on
 * the wire): a frame made of them must fail within its memory budget,
 * while a few of them (a newer minor's additions) are accepted.
 */
static void
test_decode_budget(void **state)
{
	size_t				 n = 300000;
	uint8_t				*buf = malloc(n);
	Warrant__Backend__Envelope	*d;
	char				 why[160];

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i + 3 <= n; i += 3) {
		buf[i] = 0xf8;		/* field 31, varint */
		buf[i + 1] = 0x01;
		buf[i + 2] = 0x00;
	}
	assert_null(refbe_wire_decode(buf, n, why, sizeof(why)));
	assert_non_null(strstr(why, "memory"));
	assert_non_null(d = refbe_wire_decode(buf, 30, why, sizeof(why)));
	assert_int_equal(d->body_case, WARRANT__BACKEND__ENVELOPE__BODY__NOT_SET);
	warrant__backend__envelope__free_unpacked(d, NULL);
	free(buf);
}

static int
check_id(Warrant__Backend__IdentifierType type, const char *value, uint32_t port,
    int64_t at)
{
	Warrant__Backend__Envelope		env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__SubscriberQuery	q = WARRANT__BACKEND__SUBSCRIBER_QUERY__INIT;
	Warrant__Backend__Identifier		t = WARRANT__BACKEND__IDENTIFIER__INIT;
	char					why[160];

	t.type = type;
	t.value = (char *)value;
	t.port = port;
	q.target = &t;
	q.at_us = at;
	env.request_id = 1;
	env.body_case = BODY(SUBSCRIBER_QUERY);
	env.subscriber_query = &q;
	return refbe_wire_check_request(&env, NOW, why, sizeof(why));
}

static void
test_check_identifiers(void **state)
{
	(void)state;
	assert_int_equal(check_id(ID(MSISDN), "525512345678", 0, 0), 0);
	assert_int_equal(check_id(ID(MSISDN), "5255123456789", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(MSISDN), "445512345678", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(MSISDN), "52551234567a", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(IMSI), "334020123456789", 0, 0), 0);
	assert_int_equal(check_id(ID(IMSI), "310020123456789", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(IMSI), "33402012345678", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(IMEI), "490154203237518", 0, 0), 0);
	assert_int_equal(check_id(ID(IMEI), "490154203237519", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(IMEI), "49015420323751", 0, 0), MALFORMED);
	assert_int_equal(check_id(ID(IP_PORT), "187.188.0.1", 1024, NOW), 0);
	assert_int_equal(check_id(ID(IP_PORT), "2001:db8::1", 443, NOW), 0);
	assert_int_equal(check_id(ID(IP_PORT), "187.188.0.1", 0, NOW), MALFORMED);
	assert_int_equal(check_id(ID(IP_PORT), "187.188.0.1", 65536, NOW), MALFORMED);
	assert_int_equal(check_id(ID(IP_PORT), "187.188.0.1", 1024, 0), MALFORMED);
	assert_int_equal(check_id(ID(IP_PORT), "187.188.0.256", 1024, NOW), MALFORMED);
	assert_int_equal(check_id(ID(IP_PORT), "localhost", 1024, NOW), MALFORMED);
	assert_int_equal(check_id(WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_UNSPECIFIED,
	    "525512345678", 0, 0), MALFORMED);
}

static void
test_check_windows(void **state)
{
	Warrant__Backend__Envelope		env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__RecordsQuery		q = WARRANT__BACKEND__RECORDS_QUERY__INIT;
	Warrant__Backend__PreservationRequest	p = WARRANT__BACKEND__PRESERVATION_REQUEST__INIT;
	Warrant__Backend__Identifier		t = WARRANT__BACKEND__IDENTIFIER__INIT;
	char					why[160];

	(void)state;
	t.type = ID(MSISDN);
	t.value = "525512345678";
	q.target = &t;
	q.kind = WARRANT__BACKEND__RECORDS_KIND__RECORDS_COMMUNICATIONS;
	q.start_us = NOW - 1000;
	q.end_us = NOW;
	env.request_id = 1;
	env.body_case = BODY(RECORDS_QUERY);
	env.records_query = &q;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), 0);
	q.start_us = NOW;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), MALFORMED);
	q.start_us = NOW - 1000;
	q.kind = WARRANT__BACKEND__RECORDS_KIND__RECORDS_UNSPECIFIED;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), MALFORMED);
	q.kind = WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION;
	t.type = ID(IP_PORT);
	t.value = "187.188.0.1";
	t.port = 1024;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), MALFORMED);
	q.target = NULL;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), MALFORMED);

	t.type = ID(IMSI);
	t.value = "334020123456789";
	p.target = &t;
	p.action = WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE;
	p.until_us = NOW + 1;
	p.reference = "FGR/0042";
	env.body_case = BODY(PRESERVATION);
	env.preservation = &p;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), 0);
	p.until_us = NOW;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), MALFORMED);
	p.action = WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_UNFREEZE;
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), 0);
	p.reference = "";
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)), MALFORMED);
	/* Answers are not requests. */
	env.body_case = BODY(HEALTH);
	assert_int_equal(refbe_wire_check_request(&env, NOW, why, sizeof(why)),
	    WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED);
}

/* A record with every kind of field: strings, doubles, nested, 64-bit. */
static void
make_record(Warrant__Backend__Record *r, Warrant__Backend__CommRecord *c,
    Warrant__Backend__Cell *cell, int i)
{
	static char a[8][16];

	warrant__backend__record__init(r);
	warrant__backend__comm_record__init(c);
	warrant__backend__cell__init(cell);
	snprintf(a[i % 8], sizeof(a[0]), "5255%08d", i);
	cell->mcc = "334";
	cell->mnc = "020";
	cell->lac = 9001;
	cell->ci = (uint64_t)i << 30;
	cell->rat = WARRANT__BACKEND__RADIO_ACCESS__RAT_LTE;
	cell->latitude = 19.4326 + i;
	cell->longitude = -99.1332;
	c->service = WARRANT__BACKEND__SERVICE_TYPE__SERVICE_VOICE;
	c->direction = WARRANT__BACKEND__DIRECTION__DIRECTION_ORIGINATING;
	c->a_party = a[i % 8];
	c->b_party = "523312345678";
	c->start_us = NOW + i;
	c->duration_s = (uint32_t)i * 7;
	c->imsi = "334020123456789";
	c->imei = "490154203237518";
	c->cell_start = cell;
	c->bytes_down = (uint64_t)i << 40;
	r->kind_case = WARRANT__BACKEND__RECORD__KIND_COMM;
	r->comm = c;
}

static void
test_stream_matches_protobuf_c(void **state)
{
	Warrant__Backend__Record	 r[5], *rp[5];
	Warrant__Backend__CommRecord	 c[5];
	Warrant__Backend__Cell		 cell[5];
	struct refbe_wire_stream		 s;
	EVP_MD_CTX			*md = EVP_MD_CTX_new();
	uint8_t				 want[32], *f, buf[8192];
	size_t				 flen;
	int				 chunk = 0, first = 0;

	(void)state;
	assert_int_equal(refbe_wire_stream_init(&s, 1234567, 2), 0);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (int i = 0; i < 5; i++) {
		make_record(&r[i], &c[i], &cell[i], i);
		rp[i] = &r[i];
		size_t n = warrant__backend__record__pack(&r[i], buf);
		uint8_t h[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
		    (uint8_t)n };
		EVP_DigestUpdate(md, h, 4);
		EVP_DigestUpdate(md, buf, n);
		int full = refbe_wire_stream_add(&s, &r[i]);
		assert_int_equal(full, i % 2 == 1);
		if (full || i == 4) {
			/* The same chunk packed by protobuf-c, byte for byte. */
			Warrant__Backend__Envelope	 env = WARRANT__BACKEND__ENVELOPE__INIT;
			Warrant__Backend__RecordsChunk	 ch = WARRANT__BACKEND__RECORDS_CHUNK__INIT;
			ch.seq = (uint32_t)chunk;
			ch.n_records = (size_t)(i - first + 1);
			ch.records = &rp[first];
			env.request_id = 1234567;
			env.body_case = BODY(RECORDS_CHUNK);
			env.records_chunk = &ch;
			assert_non_null(f = refbe_wire_stream_chunk(&s, &flen));
			size_t n2 = warrant__backend__envelope__pack(&env, buf);
			assert_int_equal(flen, n2 + 4);
			assert_int_equal(f[0] << 24 | f[1] << 16 | f[2] << 8 | f[3], n2);
			assert_memory_equal(f + 4, buf, n2);
			free(f);
			chunk++;
			first = i + 1;
		}
	}
	EVP_DigestFinal_ex(md, want, NULL);
	EVP_MD_CTX_free(md);
	assert_non_null(f = refbe_wire_stream_summary(&s, &flen));
	Warrant__Backend__Envelope *e = warrant__backend__envelope__unpack(NULL, flen - 4, f + 4);
	assert_non_null(e);
	assert_int_equal(e->request_id, 1234567);
	assert_int_equal(e->body_case, BODY(RECORDS_SUMMARY));
	assert_int_equal(e->records_summary->count, 5);
	assert_int_equal(e->records_summary->chunks, 3);
	assert_int_equal(e->records_summary->sha256.len, 32);
	assert_memory_equal(e->records_summary->sha256.data, want, 32);
	warrant__backend__envelope__free_unpacked(e, NULL);
	free(f);
	refbe_wire_stream_free(&s);
}

static void
test_stream_empty(void **state)
{
	struct refbe_wire_stream		 s;
	uint8_t				*f, want[32];
	size_t				 flen;
	unsigned			 mdlen;
	Warrant__Backend__Envelope	*e;

	(void)state;
	/* 0 and more than the protocol's cap both mean the cap. */
	assert_int_equal(refbe_wire_stream_init(&s, 9, 100000), 0);
	assert_int_equal(s.per_chunk, 500);
	assert_non_null(f = refbe_wire_stream_summary(&s, &flen));
	assert_non_null(e = warrant__backend__envelope__unpack(NULL, flen - 4, f + 4));
	EVP_Digest("", 0, want, &mdlen, EVP_sha256(), NULL);
	assert_int_equal(e->records_summary->count, 0);
	assert_int_equal(e->records_summary->chunks, 0);
	assert_memory_equal(e->records_summary->sha256.data, want, 32);
	warrant__backend__envelope__free_unpacked(e, NULL);
	free(f);
	refbe_wire_stream_free(&s);
}

static void
test_error_frame(void **state)
{
	Warrant__Backend__Envelope	*e;
	uint8_t				*f;
	size_t				 len;

	(void)state;
	assert_non_null(f = refbe_wire_error(77, WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE,
	    "busy", &len));
	assert_non_null(e = warrant__backend__envelope__unpack(NULL, len - 4, f + 4));
	assert_int_equal(e->request_id, 77);
	assert_int_equal(e->error->code, WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE);
	assert_string_equal(e->error->message, "busy");
	assert_true(e->error->retry_after_ms > 0);
	warrant__backend__envelope__free_unpacked(e, NULL);
	free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_len),
		cmocka_unit_test(test_peek_fields),
		cmocka_unit_test(test_decode_enums),
		cmocka_unit_test(test_decode_utf8),
		cmocka_unit_test(test_decode_budget),
		cmocka_unit_test(test_check_identifiers),
		cmocka_unit_test(test_check_windows),
		cmocka_unit_test(test_stream_matches_protobuf_c),
		cmocka_unit_test(test_stream_empty),
		cmocka_unit_test(test_error_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
