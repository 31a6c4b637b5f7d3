/*
 * test_backend_store — the reference back end's queries (src/warrant-backend/refbe_store.c)
 * against a small generated database: every query is answered through an
 * index (EXPLAIN QUERY PLAN: no full scan of a table, no sort for the
 * window queries), and the store's answers and typed errors.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "refbe_gen.h"
#include "refbe_store.h"

#define US	1000000LL
#define DAY_US	(86400LL * US)
#define E(x)	WARRANT__BACKEND__ERROR_CODE__ERROR_ ## x
#define ID(x)	WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_ ## x

static char		 dir[] = "/tmp/test_backend_store.XXXXXX";
static char		 path[64];
static int64_t		 now, d0, d1;
static struct refbe_store	*store;
static sqlite3		*db;

static int64_t
scalar(const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
setup(void **state)
{
	struct refbe_gen_params p = { path, 120, 4, 99, 0 };

	(void)state;
	now = (int64_t)time(NULL) * US;
	/* Data that ends tomorrow, so "now" is inside it. */
	p.end_us = (now / DAY_US + 1) * DAY_US;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/s.db", dir);
	if (refbe_gen_generate(&p) == -1 || (store = refbe_store_open(path, 730)) == NULL ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	d0 = scalar("SELECT value FROM meta WHERE key = 'data_start_us'");
	d1 = scalar("SELECT value FROM meta WHERE key = 'data_end_us'");
	return 0;
}

static int
teardown(void **state)
{
	char p[96];

	(void)state;
	refbe_store_close(store);
	sqlite3_close(db);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
	return 0;
}

/*
 * Every step of every plan is a SEARCH through an index or a primary key;
 * the only SCAN allowed is of meta (a handful of rows read at open). The
 * window queries come out of their index in answer order: no temp b-tree.
 */
static void
test_query_plans(void **state)
{
	const char	*sql;
	char		 explain[4096];

	(void)state;
	for (unsigned i = 0; (sql = refbe_store_query_sql(i)) != NULL; i++) {
		sqlite3_stmt	*st;
		int		 searches = 0;

		snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", sql);
		assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);
			print_message("# %u: %s\n", i, d);
			if (strncmp(d, "SEARCH", 6) == 0)
				searches++;
			/* SCAN CONSTANT ROW: a SELECT without FROM, no table. */
			if (strncmp(d, "SCAN", 4) == 0 && strcmp(d, "SCAN meta") != 0 &&
			    strcmp(d, "SCAN CONSTANT ROW") != 0)
				fail_msg("query %u scans: %s\n%s", i, d, sql);
			if (strstr(d, "TEMP B-TREE"))
				fail_msg("query %u sorts: %s\n%s", i, d, sql);
			if (strncmp(d, "SEARCH", 6) == 0 && !strstr(d, "INDEX") &&
			    !strstr(d, "PRIMARY KEY"))
				fail_msg("query %u searches without an index: %s", i, d);
		}
		sqlite3_finalize(st);
		assert_true(searches > 0 || strstr(sql, "FROM meta") != NULL ||
		    strncmp(sql, "INSERT", 6) == 0);
	}
}

static void
test_subscriber(void **state)
{
	Warrant__Backend__Identifier	t = WARRANT__BACKEND__IDENTIFIER__INIT;
	struct refbe_store_sub		s;
	struct refbe_store_err		e;
	char				msisdn[16];

	(void)state;
	snprintf(msisdn, sizeof(msisdn), "%lld",
	    (long long)scalar("SELECT msisdn FROM subscriber WHERE id = 7"));
	t.type = ID(MSISDN);
	t.value = msisdn;
	assert_int_equal(refbe_store_subscriber(store, &t, now, &s, &e), 0);
	assert_string_equal(s.sub.msisdn, msisdn);
	assert_int_equal(strlen(s.sub.imsi), 15);
	assert_int_equal(strlen(s.sub.imei), 15);
	assert_int_equal(strlen(s.sub.curp), 18);
	assert_true(s.addr.state >= 1 && s.addr.state <= 32);
	assert_int_equal(strlen(s.sub.activation_date), 10);
	/* Before the line existed. */
	assert_int_equal(refbe_store_subscriber(store, &t, 1000000, &s, &e), -1);
	assert_int_equal(e.code, E(NOT_FOUND));
	t.value = "520000000000";
	assert_int_equal(refbe_store_subscriber(store, &t, now, &s, &e), -1);
	assert_int_equal(e.code, E(NOT_FOUND));
}

static void
test_records_errors(void **state)
{
	Warrant__Backend__Identifier	t = WARRANT__BACKEND__IDENTIFIER__INIT;
	struct refbe_store_err		e;
	struct refbe_store_rec		r;
	char				imsi[16];
	long				n = 0;

	(void)state;
	snprintf(imsi, sizeof(imsi), "%lld",
	    (long long)scalar("SELECT imsi FROM subscriber WHERE id = 3"));
	t.type = ID(IMSI);
	t.value = imsi;
	assert_int_equal(refbe_store_records_begin(store, WARRANT__BACKEND__RECORDS_KIND__RECORDS_COMMUNICATIONS,
	    &t, d0, d1, now, &e), 0);
	while (refbe_store_records_next(store, &r, &e) == 1) {
		assert_int_equal(r.rec.kind_case, WARRANT__BACKEND__RECORD__KIND_COMM);
		assert_string_equal(r.comm.imsi, imsi);
		n++;
	}
	assert_int_equal(n, scalar("SELECT count(*) FROM cdr WHERE subscriber = 3"));
	assert_int_equal(refbe_store_records_begin(store, WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION,
	    &t, now - 800 * DAY_US, now, now, &e), -1);
	assert_int_equal(e.code, E(OUTSIDE_RETENTION));
	assert_int_equal(refbe_store_records_begin(store, WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION,
	    &t, d0 - 30 * DAY_US, d0, now, &e), -1);
	assert_int_equal(e.code, E(NOT_RETAINED));
	t.type = ID(IMEI);
	t.value = "490154203237518";
	assert_int_equal(refbe_store_records_begin(store, WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION,
	    &t, d0, d1, now, &e), -1);
	assert_int_equal(e.code, E(NOT_FOUND));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_plans),
		cmocka_unit_test(test_subscriber),
		cmocka_unit_test(test_records_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
