/*
 * test_backend_gen — the synthetic dataset of warrant-backend --generate:
 * same seed, same data (canonical digest); another seed or end date,
 * other data; and every identifier well formed: IMEIs Luhn-valid, IMSIs
 * with MCC 334 and a real Mexican MNC, MSISDNs 52 + 10 digits and unique,
 * CURPs with their check digit, coordinates inside Mexico, CGNAT mappings
 * that never give one (address, port, instant) to two subscribers.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "refbe_gen.h"
#include "wd_luhn.h"

#define END_US	1795500000000000LL	/* a fixed end: 2026-11-24 */

static char	dir[] = "/tmp/test_backend_gen.XXXXXX";
static char	db_a[64], db_b[64], db_c[64], db_d[64];
static sqlite3	*db;

static int
setup(void **state)
{
	struct refbe_gen_params p = { db_a, 150, 3, 20261124, END_US };

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(db_a, sizeof(db_a), "%s/a.db", dir);
	snprintf(db_b, sizeof(db_b), "%s/b.db", dir);
	snprintf(db_c, sizeof(db_c), "%s/c.db", dir);
	snprintf(db_d, sizeof(db_d), "%s/d.db", dir);
	p.path = db_a;
	if (refbe_gen_generate(&p) == -1)
		return -1;
	p.path = db_b;
	if (refbe_gen_generate(&p) == -1)
		return -1;
	p.path = db_c;
	p.seed++;
	if (refbe_gen_generate(&p) == -1)
		return -1;
	p.path = db_d;
	p.seed--;
	p.end_us += 86400000000LL;
	if (refbe_gen_generate(&p) == -1)
		return -1;
	return sqlite3_open_v2(db_a, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	char path[96];

	(void)state;
	sqlite3_close(db);
	for (const char *n = "abcd"; *n; n++) {
		snprintf(path, sizeof(path), "%s/%c.db", dir, *n);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%c.db-wal", dir, *n);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%c.db-shm", dir, *n);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

static void
test_splitmix_vectors(void **state)
{
	uint64_t s = 0;

	(void)state;
	/* The reference outputs of splitmix64 from state 0. */
	assert_true(refbe_gen_splitmix64(&s) == 0xe220a8397b1dcdafULL);
	assert_true(refbe_gen_splitmix64(&s) == 0x6e789e6aa1b965f4ULL);
	assert_true(refbe_gen_splitmix64(&s) == 0x06c45d188009454fULL);
}

static void
test_luhn_and_curp(void **state)
{
	(void)state;
	assert_true(wd_luhn_ok("490154203237518", 15));
	assert_false(wd_luhn_ok("490154203237517", 15));
	assert_false(wd_luhn_ok("49015420323751a", 15));
	assert_int_equal(wd_luhn_digit("49015420323751", 14), '8');
	assert_int_equal(wd_luhn_digit("35332510922839", 14), '9');
	/* A CURP's last character is RENAPO's check digit. */
	assert_true(refbe_gen_curp_valid("AAJD730720MSRLMN32"));
	assert_false(refbe_gen_curp_valid("AAJD730720MSRLMN33"));
	assert_false(refbe_gen_curp_valid("AAJD730720MSRLMN3"));
}

static void
test_same_seed_same_data(void **state)
{
	uint8_t a[32], b[32], c[32], d[32];

	(void)state;
	assert_int_equal(refbe_gen_digest(db_a, a), 0);
	assert_int_equal(refbe_gen_digest(db_b, b), 0);
	assert_int_equal(refbe_gen_digest(db_c, c), 0);
	assert_int_equal(refbe_gen_digest(db_d, d), 0);
	assert_memory_equal(a, b, 32);
	assert_memory_not_equal(a, c, 32);
	assert_memory_not_equal(a, d, 32);
}

static void
test_refuses_to_overwrite(void **state)
{
	struct refbe_gen_params p = { db_a, 10, 1, 1, END_US };

	(void)state;
	assert_int_equal(refbe_gen_generate(&p), -1);
	p.subscribers = 0;
	p.path = "/nonexistent/x.db";
	assert_int_equal(refbe_gen_generate(&p), -1);
}

/* Run sql; every row's first column is text or an integer to check. */
static int
each(const char *sql, int (*ok)(sqlite3_stmt *), long *rows)
{
	sqlite3_stmt	*st;
	int		 bad = 0;

	*rows = 0;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		(*rows)++;
		if (!ok(st) && bad++ < 3)
			print_error("bad row for %s: %s\n", sql, sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return bad;
}

static int
imei_ok(sqlite3_stmt *st)
{
	char d[32];

	snprintf(d, sizeof(d), "%015lld", (long long)sqlite3_column_int64(st, 0));
	return strlen(d) == 15 && wd_luhn_ok(d, 15);
}

static int
imsi_ok(sqlite3_stmt *st)
{
	static const char *mnc[] = { "020", "030", "050", "090", "140" };
	char d[32];

	snprintf(d, sizeof(d), "%lld", (long long)sqlite3_column_int64(st, 0));
	if (strlen(d) != 15 || strncmp(d, "334", 3) != 0)
		return 0;
	for (size_t i = 0; i < 5; i++)
		if (strncmp(d + 3, mnc[i], 3) == 0)
			return 1;
	return 0;
}

static int
msisdn_ok(sqlite3_stmt *st)
{
	char d[32];

	snprintf(d, sizeof(d), "%lld", (long long)sqlite3_column_int64(st, 0));
	/* 52, an area code (no 0 or 1 first), 10 national digits. */
	return strlen(d) == 12 && strncmp(d, "52", 2) == 0 && d[2] >= '2';
}

static int
curp_ok(sqlite3_stmt *st)
{
	return refbe_gen_curp_valid((const char *)sqlite3_column_text(st, 0));
}

static int
in_mexico(sqlite3_stmt *st)
{
	double lat = sqlite3_column_double(st, 0), lon = sqlite3_column_double(st, 1);

	return lat > 14.5 && lat < 32.72 && lon > -117.2 && lon < -86.7;
}

static int
zero(sqlite3_stmt *st)
{
	return sqlite3_column_int64(st, 0) == 0;
}

static void
test_identifiers(void **state)
{
	long n;

	(void)state;
	assert_int_equal(each("SELECT imei FROM device", imei_ok, &n), 0);
	assert_true(n > 150);		/* some subscribers changed devices */
	assert_int_equal(each("SELECT DISTINCT imei FROM cdr", imei_ok, &n), 0);
	assert_int_equal(each("SELECT DISTINCT imei FROM location", imei_ok, &n), 0);
	assert_int_equal(each("SELECT imsi FROM subscriber", imsi_ok, &n), 0);
	assert_int_equal(n, 150);
	assert_int_equal(each("SELECT msisdn FROM subscriber", msisdn_ok, &n), 0);
	assert_int_equal(each("SELECT DISTINCT other FROM cdr WHERE other IS NOT NULL",
	    msisdn_ok, &n), 0);
	assert_true(n > 100);
	assert_int_equal(each("SELECT curp FROM subscriber", curp_ok, &n), 0);
	assert_int_equal(each("SELECT count(*) - count(DISTINCT msisdn) FROM subscriber",
	    zero, &n), 0);
	assert_int_equal(each("SELECT count(*) - count(DISTINCT imsi) FROM subscriber",
	    zero, &n), 0);
	/* One IMEI, one device: never handed to two subscribers. */
	assert_int_equal(each("SELECT count(DISTINCT imei) - count(*) FROM device",
	    zero, &n), 0);
	assert_int_equal(each("SELECT count(*) FROM subscriber WHERE state NOT BETWEEN 1"
	    " AND 32 OR contract NOT BETWEEN 1 AND 3", zero, &n), 0);
}

static void
test_geography_and_events(void **state)
{
	long n;

	(void)state;
	assert_int_equal(each("SELECT latitude, longitude FROM cell", in_mexico, &n), 0);
	assert_int_equal(each("SELECT latitude, longitude FROM location", in_mexico, &n), 0);
	/* Every service and both directions occur; SMS have no duration. */
	assert_int_equal(each("SELECT 4 - count(*) FROM (SELECT DISTINCT service, direction"
	    " FROM cdr WHERE service < 3)", zero, &n), 0);
	assert_int_equal(each("SELECT count(*) FROM cdr WHERE service = 2 AND"
	    " (duration_s <> 0 OR cell_end IS NOT NULL)", zero, &n), 0);
	assert_int_equal(each("SELECT count(*) FROM cdr WHERE service = 3 AND"
	    " (public_ip IS NULL OR port_last - port_first <> 511)", zero, &n), 0);
	/* Everything inside the data window. */
	assert_int_equal(each("SELECT count(*) FROM location, meta a, meta b WHERE"
	    " a.key = 'data_start_us' AND b.key = 'data_end_us' AND"
	    " (time_us < a.value OR time_us >= b.value)", zero, &n), 0);
}

static void
test_cgnat_unambiguous(void **state)
{
	long n;

	(void)state;
	assert_int_equal(each("SELECT count(*) FROM cgnat x JOIN cgnat y ON"
	    " x.public_ip = y.public_ip AND x.port_first = y.port_first AND"
	    " x.subscriber <> y.subscriber AND x.start_us < y.end_us AND"
	    " y.start_us < x.end_us", zero, &n), 0);
	assert_int_equal(each("SELECT count(*) FROM cgnat, meta WHERE meta.key ="
	    " 'cgnat_max_session_us' AND end_us - start_us > meta.value", zero, &n), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splitmix_vectors),
		cmocka_unit_test(test_luhn_and_curp),
		cmocka_unit_test(test_same_seed_same_data),
		cmocka_unit_test(test_refuses_to_overwrite),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_geography_and_events),
		cmocka_unit_test(test_cgnat_unambiguous),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
