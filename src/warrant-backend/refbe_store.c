/*
 * refbe_store — see refbe_store.h. The schema models what a carrier's systems
 * hold, one table per source: subscriber (HLR/HSS + billing), device (IMEI
 * use periods seen by the EIR/HSS), cell (radio planning), location (GMLC
 * and network events), cdr (mediation), cgnat (CGNAT port-block logs) and
 * preservation (freezes ordered by authorities).
 *
 * Numbers (MSISDN, IMSI, IMEI) are stored as integers: half the bytes of
 * text in the biggest tables, and an index probe is an integer compare.
 * Every query is answered by an index; docs/backend.md shows the plans and
 * tests/unit/test_backend_store.c checks them with EXPLAIN QUERY PLAN.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "refbe_store.h"
#include "log.h"

#define US	1000000LL
#define DAY_US	(86400LL * US)

static const char schema_tables[] =
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE subscriber (id INTEGER PRIMARY KEY, msisdn INTEGER NOT NULL,"
	" imsi INTEGER NOT NULL, given_names TEXT NOT NULL,"
	" first_surname TEXT NOT NULL, second_surname TEXT NOT NULL,"
	" curp TEXT NOT NULL, rfc TEXT, street TEXT, ext_number TEXT,"
	" int_number TEXT, colonia TEXT, municipality TEXT,"
	" state INTEGER NOT NULL, postal_code TEXT, contract INTEGER NOT NULL,"
	" activation_us INTEGER NOT NULL);"
	"CREATE TABLE device (subscriber INTEGER NOT NULL, imei INTEGER NOT NULL,"
	" since_us INTEGER NOT NULL, until_us INTEGER NOT NULL);"
	"CREATE TABLE cell (id INTEGER PRIMARY KEY, mnc TEXT NOT NULL,"
	" lac INTEGER NOT NULL, ci INTEGER NOT NULL, rat INTEGER NOT NULL,"
	" latitude REAL NOT NULL, longitude REAL NOT NULL, azimuth INTEGER NOT NULL);"
	"CREATE TABLE location (subscriber INTEGER NOT NULL,"
	" time_us INTEGER NOT NULL, cell INTEGER NOT NULL, latitude REAL NOT NULL,"
	" longitude REAL NOT NULL, accuracy_m INTEGER NOT NULL,"
	" source INTEGER NOT NULL, imei INTEGER NOT NULL);"
	"CREATE TABLE cdr (subscriber INTEGER NOT NULL, service INTEGER NOT NULL,"
	" direction INTEGER NOT NULL, other INTEGER, start_us INTEGER NOT NULL,"
	" duration_s INTEGER NOT NULL, imei INTEGER NOT NULL, cell_start INTEGER,"
	" cell_end INTEGER, private_ip TEXT, public_ip TEXT, port_first INTEGER,"
	" port_last INTEGER, bytes_up INTEGER, bytes_down INTEGER);"
	"CREATE TABLE cgnat (public_ip TEXT NOT NULL, port_first INTEGER NOT NULL,"
	" port_last INTEGER NOT NULL, start_us INTEGER NOT NULL,"
	" end_us INTEGER NOT NULL, subscriber INTEGER NOT NULL,"
	" private_ip TEXT NOT NULL);"
	"CREATE TABLE preservation (subscriber INTEGER NOT NULL,"
	" reference TEXT NOT NULL, until_us INTEGER NOT NULL,"
	" created_us INTEGER NOT NULL, PRIMARY KEY (subscriber, reference))"
	" WITHOUT ROWID;";

/*
 * The window indexes end in the time column: a target's rows are one
 * contiguous index range, already in answer order (time, then rowid, which
 * every index carries), so records stream without a sort.
 */
static const char schema_indexes[] =
	"CREATE UNIQUE INDEX subscriber_msisdn ON subscriber (msisdn);"
	"CREATE UNIQUE INDEX subscriber_imsi ON subscriber (imsi);"
	"CREATE INDEX device_imei ON device (imei, since_us);"
	"CREATE INDEX device_subscriber ON device (subscriber, since_us);"
	"CREATE INDEX location_subscriber ON location (subscriber, time_us);"
	"CREATE INDEX location_imei ON location (imei, time_us);"
	"CREATE INDEX cdr_subscriber ON cdr (subscriber, start_us);"
	"CREATE INDEX cdr_imei ON cdr (imei, start_us);"
	"CREATE INDEX cgnat_ip ON cgnat (public_ip, start_us);"
	"PRAGMA analysis_limit=2000;"	/* sampled statistics: enough for the planner */
	"ANALYZE;";

#define CELL_COLS(c)	c ".mnc, " c ".lac, " c ".ci, " c ".rat, " c ".latitude, " \
			c ".longitude, " c ".azimuth"

#define LOC_SELECT	"SELECT l.time_us, l.latitude, l.longitude, l.accuracy_m," \
			" l.source, l.imei, s.imsi, " CELL_COLS("c") \
			" FROM location l JOIN subscriber s ON s.id = l.subscriber" \
			" JOIN cell c ON c.id = l.cell"
#define CDR_SELECT	"SELECT d.service, d.direction, d.other, d.start_us," \
			" d.duration_s, d.imei, s.msisdn, s.imsi, d.private_ip," \
			" d.public_ip, d.port_first, d.port_last, d.bytes_up," \
			" d.bytes_down, d.cell_end IS NOT NULL, " CELL_COLS("c1") ", " \
			CELL_COLS("c2") \
			" FROM cdr d JOIN subscriber s ON s.id = d.subscriber" \
			" LEFT JOIN cell c1 ON c1.id = d.cell_start" \
			" LEFT JOIN cell c2 ON c2.id = d.cell_end"

enum {
	Q_META, Q_BY_MSISDN, Q_BY_IMSI, Q_BY_IMEI, Q_BY_IP, Q_SUBSCRIBER,
	Q_IMEI_OF, Q_IMEI_KNOWN, Q_LAST_FIX_SUB, Q_LAST_FIX_IMEI,
	Q_LOC_SUB, Q_LOC_IMEI, Q_CDR_SUB, Q_CDR_IMEI, Q_FROZEN,
	Q_FREEZE, Q_UNFREEZE, Q_HELD, Q__COUNT
};

static const char *const queries[Q__COUNT] = {
	[Q_META] = "SELECT key, value FROM meta",
	[Q_BY_MSISDN] = "SELECT id FROM subscriber WHERE msisdn = ?1",
	[Q_BY_IMSI] = "SELECT id FROM subscriber WHERE imsi = ?1",
	/* The SIM in that device at ?2: the use period that began last. */
	[Q_BY_IMEI] = "SELECT subscriber, until_us FROM device"
	    " WHERE imei = ?1 AND since_us <= ?2 ORDER BY since_us DESC LIMIT 1",
	/* Sessions are shorter than ?4 (meta cgnat_max_session_us): the scan
	 * covers one IP's blocks over that span, not its whole history. */
	[Q_BY_IP] = "SELECT subscriber FROM cgnat WHERE public_ip = ?1"
	    " AND start_us <= ?2 AND start_us > ?2 - ?4 AND end_us > ?2"
	    " AND port_first <= ?3 AND port_last >= ?3"
	    " ORDER BY start_us DESC LIMIT 1",
	[Q_SUBSCRIBER] = "SELECT msisdn, imsi, given_names, first_surname,"
	    " second_surname, curp, rfc, street, ext_number, int_number, colonia,"
	    " municipality, state, postal_code, contract, activation_us"
	    " FROM subscriber WHERE id = ?1",
	[Q_IMEI_OF] = "SELECT imei FROM device WHERE subscriber = ?1"
	    " AND since_us <= ?2 ORDER BY since_us DESC LIMIT 1",
	[Q_IMEI_KNOWN] = "SELECT 1 FROM device WHERE imei = ?1 LIMIT 1",
	[Q_LAST_FIX_SUB] = LOC_SELECT " WHERE l.subscriber = ?1 AND l.time_us <= ?2"
	    " ORDER BY l.time_us DESC LIMIT 1",
	[Q_LAST_FIX_IMEI] = LOC_SELECT " WHERE l.imei = ?1 AND l.time_us <= ?2"
	    " ORDER BY l.time_us DESC LIMIT 1",
	[Q_LOC_SUB] = LOC_SELECT " WHERE l.subscriber = ?1 AND l.time_us >= ?2"
	    " AND l.time_us < ?3 ORDER BY l.time_us, l.rowid",
	[Q_LOC_IMEI] = LOC_SELECT " WHERE l.imei = ?1 AND l.time_us >= ?2"
	    " AND l.time_us < ?3 ORDER BY l.time_us, l.rowid",
	[Q_CDR_SUB] = CDR_SELECT " WHERE d.subscriber = ?1 AND d.start_us >= ?2"
	    " AND d.start_us < ?3 ORDER BY d.start_us, d.rowid",
	[Q_CDR_IMEI] = CDR_SELECT " WHERE d.imei = ?1 AND d.start_us >= ?2"
	    " AND d.start_us < ?3 ORDER BY d.start_us, d.rowid",
	[Q_FROZEN] = "SELECT max(until_us) FROM preservation WHERE subscriber = ?1"
	    " AND until_us > ?2",
	[Q_FREEZE] = "INSERT INTO preservation VALUES (?1, ?2, ?3, ?4)"
	    " ON CONFLICT (subscriber, reference) DO UPDATE SET until_us = ?3",
	[Q_UNFREEZE] = "DELETE FROM preservation WHERE subscriber = ?1"
	    " AND reference = ?2",
	[Q_HELD] = "SELECT (SELECT count(*) FROM cdr WHERE subscriber = ?1) +"
	    " (SELECT count(*) FROM location WHERE subscriber = ?1)",
};

struct refbe_store {
	sqlite3			*db;
	sqlite3_stmt		*q[Q__COUNT];
	sqlite3_stmt		*cur;		/* records query being stepped */
	Warrant__Backend__RecordsKind cur_kind;
	struct refbe_store_meta	 meta;
	int64_t			 nat_max_us;
	unsigned		 retention_days;
};

const char *
refbe_store_query_sql(unsigned i)
{
	return i < Q__COUNT ? queries[i] : NULL;
}

int
refbe_store_schema_tables(sqlite3 *db)
{
	char *err = NULL;

	if (sqlite3_exec(db, schema_tables, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("schema: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int
refbe_store_schema_indexes(sqlite3 *db)
{
	char *err = NULL;

	if (sqlite3_exec(db, schema_indexes, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("schema indexes: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* --- open ------------------------------------------------------------------ */

static int
store_load_meta(struct refbe_store *s)
{
	sqlite3_stmt	*st = s->q[Q_META];
	int		 rc, seen = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);
		if (k == NULL)
			continue;
		if (strcmp(k, "data_start_us") == 0)
			s->meta.data_start_us = v, seen |= 1;
		else if (strcmp(k, "data_end_us") == 0)
			s->meta.data_end_us = v, seen |= 2;
		else if (strcmp(k, "subscribers") == 0)
			s->meta.subscribers = (uint64_t)v, seen |= 4;
		else if (strcmp(k, "cgnat_max_session_us") == 0)
			s->nat_max_us = v, seen |= 8;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || seen != 15) {
		log_warnx("store: table meta lacks data_start_us, data_end_us, "
		    "subscribers or cgnat_max_session_us");
		return -1;
	}
	return 0;
}

struct refbe_store *
refbe_store_open(const char *path, unsigned retention_days)
{
	struct refbe_store	*s;
	char		*err = NULL;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("store");
		return NULL;
	}
	s->retention_days = retention_days;
	/* One connection per worker thread: no SQLite mutex needed. */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		log_warnx("store: %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL: readers never wait for the preservation writer nor it for them. */
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA foreign_keys=OFF; PRAGMA query_only=OFF", NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: %s: %s", path, err ? err : "pragma");
		sqlite3_free(err);
		goto fail;
	}
	for (int i = 0; i < Q__COUNT; i++)
		if (sqlite3_prepare_v3(s->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &s->q[i], NULL) != SQLITE_OK) {
			log_warnx("store: %s: %s (is it a warrant-backend database?)",
			    path, sqlite3_errmsg(s->db));
			goto fail;
		}
	if (store_load_meta(s) == -1)
		goto fail;
	return s;
fail:
	refbe_store_close(s);
	return NULL;
}

void
refbe_store_close(struct refbe_store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < Q__COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	free(s);
}

int
refbe_store_meta(struct refbe_store *s, struct refbe_store_meta *m)
{
	*m = s->meta;
	return 0;
}

/* --- helpers --------------------------------------------------------------- */

static int
store_err(struct refbe_store_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
store_err(struct refbe_store_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int
store_dberr(struct refbe_store *s, struct refbe_store_err *e, sqlite3_stmt *st)
{
	int rc = sqlite3_errcode(s->db);

	log_warnx("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(s->db));
	sqlite3_reset(st);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE,
		    "database busy");
	return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL, "database error");
}

int
refbe_store_digits(const char *p, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

/* Copy a text column into a fixed buffer; "" for NULL. The database is
 * ours, but a value that does not fit is an error, never silently cut. */
static int
col_text(sqlite3_stmt *st, int c, char *buf, size_t len)
{
	const unsigned char	*t = sqlite3_column_text(st, c);
	size_t			 n = (size_t)sqlite3_column_bytes(st, c);

	if (t == NULL) {
		buf[0] = '\0';
		return 0;
	}
	if (n >= len) {
		log_warnx("store: column %s: %zu bytes, at most %zu",
		    sqlite3_column_name(st, c), n, len - 1);
		return -1;
	}
	memcpy(buf, t, n + 1);
	return 0;
}

static void
fmt_digits(char *buf, size_t len, int width, int64_t v)
{
	snprintf(buf, len, "%0*" PRId64, width, v);
}

/* The one-value statements: 1 row, 0 none, -1 error. */
static int
step_one(struct refbe_store *s, sqlite3_stmt *st, struct refbe_store_err *e)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	return store_dberr(s, e, st);
}

/*
 * The subscriber an MSISDN, IMSI or IMEI designates at `at`: *id > 0, or
 * NOT_FOUND. For an IMEI, the line whose SIM was in the device then.
 */
static int
store_resolve(struct refbe_store *s, const Warrant__Backend__Identifier *t,
    int64_t at, int64_t *id, struct refbe_store_err *e)
{
	sqlite3_stmt	*st;
	int64_t		 num;
	int		 rc;

	if (refbe_store_digits(t->value, strlen(t->value), &num) == -1)
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED,
		    "identifier is not digits");
	switch (t->type) {
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_MSISDN:
		st = s->q[Q_BY_MSISDN];
		break;
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMSI:
		st = s->q[Q_BY_IMSI];
		break;
	case WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMEI:
		st = s->q[Q_BY_IMEI];
		sqlite3_bind_int64(st, 2, at);
		break;
	default:
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED,
		    "identifier type not served here");
	}
	sqlite3_bind_int64(st, 1, num);
	if ((rc = step_one(s, st, e)) <= 0)
		return rc == 0 ? store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
		    "no subscriber for this identifier") : -1;
	*id = sqlite3_column_int64(st, 0);
	if (st == s->q[Q_BY_IMEI] && sqlite3_column_int64(st, 1) <= at) {
		sqlite3_reset(st);
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
		    "device not in use at that instant");
	}
	sqlite3_reset(st);
	return 0;
}

static int
store_resolve_ip(struct refbe_store *s, const Warrant__Backend__Identifier *t,
    int64_t at, int64_t *id, struct refbe_store_err *e)
{
	sqlite3_stmt	*st = s->q[Q_BY_IP];
	unsigned char	 bin[16];
	char		 canon[INET6_ADDRSTRLEN];
	int		 af = strchr(t->value, ':') ? AF_INET6 : AF_INET, rc;

	/* The table holds inet_ntop's spelling: compare in that spelling. */
	if (inet_pton(af, t->value, bin) != 1 ||
	    inet_ntop(af, bin, canon, sizeof(canon)) == NULL)
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED,
		    "not an IP address");
	sqlite3_bind_text(st, 1, canon, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_int(st, 3, (int)t->port);
	sqlite3_bind_int64(st, 4, s->nat_max_us);
	if ((rc = step_one(s, st, e)) <= 0)
		return rc == 0 ? store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
		    "no CGNAT mapping for this address, port and instant") : -1;
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* --- subscriber ------------------------------------------------------------ */

static int
store_sub_row(sqlite3_stmt *st, struct refbe_store_sub *o)
{
	Warrant__Backend__Subscriber	*p = &o->sub;
	Warrant__Backend__Address	*a = &o->addr;
	int				 state = sqlite3_column_int(st, 12);
	int				 contract = sqlite3_column_int(st, 14);

	fmt_digits(o->msisdn, sizeof(o->msisdn), 12, sqlite3_column_int64(st, 0));
	fmt_digits(o->imsi, sizeof(o->imsi), 15, sqlite3_column_int64(st, 1));
	if (col_text(st, 2, o->given, sizeof(o->given)) == -1 ||
	    col_text(st, 3, o->first, sizeof(o->first)) == -1 ||
	    col_text(st, 4, o->second, sizeof(o->second)) == -1 ||
	    col_text(st, 5, o->curp, sizeof(o->curp)) == -1 ||
	    col_text(st, 6, o->rfc, sizeof(o->rfc)) == -1 ||
	    col_text(st, 7, o->street, sizeof(o->street)) == -1 ||
	    col_text(st, 8, o->extno, sizeof(o->extno)) == -1 ||
	    col_text(st, 9, o->intno, sizeof(o->intno)) == -1 ||
	    col_text(st, 10, o->colonia, sizeof(o->colonia)) == -1 ||
	    col_text(st, 11, o->municipality, sizeof(o->municipality)) == -1 ||
	    col_text(st, 13, o->cp, sizeof(o->cp)) == -1)
		return -1;
	/* Never send an enum value the protocol does not define. */
	if (state < 1 || state > 32 || contract < 1 || contract > 3) {
		log_warnx("store: subscriber with state %d, contract %d", state, contract);
		return -1;
	}
	warrant__backend__address__init(a);
	a->street = o->street;
	a->exterior_number = o->extno;
	a->interior_number = o->intno;
	a->colonia = o->colonia;
	a->municipality = o->municipality;
	a->state = (Warrant__Backend__MexicanState)state;
	a->postal_code = o->cp;
	warrant__backend__subscriber__init(p);
	p->given_names = o->given;
	p->first_surname = o->first;
	p->second_surname = o->second;
	p->curp = o->curp;
	p->rfc = o->rfc;
	p->address = a;
	p->msisdn = o->msisdn;
	p->imsi = o->imsi;
	p->imei = o->imei;
	p->contract = (Warrant__Backend__ContractType)contract;
	p->activation_us = sqlite3_column_int64(st, 15);
	{
		time_t		secs = (time_t)((p->activation_us - 6 * 3600 * US) / US);
		struct tm	tm;
		/* The contract date, in Mexico City's time (UTC-6). */
		gmtime_r(&secs, &tm);
		strftime(o->actdate, sizeof(o->actdate), "%Y-%m-%d", &tm);
	}
	p->activation_date = o->actdate;
	return 0;
}

int
refbe_store_subscriber(struct refbe_store *s, const Warrant__Backend__Identifier *t,
    int64_t at, struct refbe_store_sub *o, struct refbe_store_err *e)
{
	sqlite3_stmt	*st;
	int64_t		 id;
	int		 rc;

	rc = t->type == WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT ?
	    store_resolve_ip(s, t, at, &id, e) : store_resolve(s, t, at, &id, e);
	if (rc == -1)
		return -1;
	memset(o, 0, sizeof(*o));
	st = s->q[Q_IMEI_OF];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	if ((rc = step_one(s, st, e)) == -1)
		return -1;
	if (rc == 1) {
		fmt_digits(o->imei, sizeof(o->imei), 15, sqlite3_column_int64(st, 0));
		sqlite3_reset(st);
	}
	st = s->q[Q_SUBSCRIBER];
	sqlite3_bind_int64(st, 1, id);
	if ((rc = step_one(s, st, e)) <= 0)
		return rc == 0 ? store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL,
		    "subscriber row missing") : -1;
	if (sqlite3_column_int64(st, 15) > at) {
		sqlite3_reset(st);
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
		    "line not yet active at that instant");
	}
	rc = store_sub_row(st, o);
	sqlite3_reset(st);
	if (rc == -1)
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL,
		    "subscriber row not usable");
	return 0;
}

/* --- cells and location ----------------------------------------------------- */

/* Seven cell columns from c: mnc, lac, ci, rat, latitude, longitude, azimuth. */
static int
store_cell(sqlite3_stmt *st, int c, Warrant__Backend__Cell *cell, char *mnc, size_t len)
{
	int rat = sqlite3_column_int(st, c + 3);

	if (col_text(st, c, mnc, len) == -1 || rat < 1 || rat > 4)
		return -1;
	warrant__backend__cell__init(cell);
	cell->mcc = "334";
	cell->mnc = mnc;
	cell->lac = (uint32_t)sqlite3_column_int64(st, c + 1);
	cell->ci = (uint64_t)sqlite3_column_int64(st, c + 2);
	cell->rat = (Warrant__Backend__RadioAccess)rat;
	cell->latitude = sqlite3_column_double(st, c + 4);
	cell->longitude = sqlite3_column_double(st, c + 5);
	cell->azimuth_deg = (uint32_t)sqlite3_column_int(st, c + 6);
	return 0;
}

static int
source_ok(int v)
{
	return v == WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_NETWORK ||
	    v == WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_GNSS;
}

int
refbe_store_location(struct refbe_store *s, const Warrant__Backend__Identifier *t,
    int64_t now, struct refbe_store_loc *o, struct refbe_store_err *e)
{
	sqlite3_stmt	*st;
	int64_t		 id, num;
	int		 rc, src;

	if (t->type == WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMEI) {
		if (refbe_store_digits(t->value, strlen(t->value), &num) == -1)
			return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED,
			    "identifier is not digits");
		st = s->q[Q_LAST_FIX_IMEI];
		sqlite3_bind_int64(st, 1, num);
	} else {
		if (store_resolve(s, t, now, &id, e) == -1)
			return -1;
		st = s->q[Q_LAST_FIX_SUB];
		sqlite3_bind_int64(st, 1, id);
	}
	sqlite3_bind_int64(st, 2, now);
	if ((rc = step_one(s, st, e)) <= 0)
		return rc == 0 ? store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
		    "no position known for this target") : -1;
	memset(o, 0, sizeof(*o));
	warrant__backend__location__init(&o->loc);
	src = sqlite3_column_int(st, 4);
	if (!source_ok(src) || store_cell(st, 7, &o->cell, o->mnc, sizeof(o->mnc)) == -1) {
		sqlite3_reset(st);
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL,
		    "location row not usable");
	}
	o->loc.cell = &o->cell;
	o->loc.fix_us = sqlite3_column_int64(st, 0);
	o->loc.latitude = sqlite3_column_double(st, 1);
	o->loc.longitude = sqlite3_column_double(st, 2);
	o->loc.accuracy_m = (uint32_t)sqlite3_column_int(st, 3);
	o->loc.source = (Warrant__Backend__LocationSource)src;
	o->loc.age_s = (uint32_t)((now - o->loc.fix_us) / US);
	sqlite3_reset(st);
	return 0;
}

/* --- records --------------------------------------------------------------- */

static int
store_frozen(struct refbe_store *s, int64_t id, int64_t now, struct refbe_store_err *e, int *frozen)
{
	sqlite3_stmt	*st = s->q[Q_FROZEN];
	int		 rc;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if ((rc = step_one(s, st, e)) == -1)
		return -1;
	*frozen = rc == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL;
	sqlite3_reset(st);
	return 0;
}

/*
 * Retention (LFTR art. 190 II: 24 months, retention_days) applies unless
 * an authority froze the subscriber's records. A window entirely before the
 * first data held is NOT_RETAINED: legal to ask, but nothing was kept.
 */
int
refbe_store_records_begin(struct refbe_store *s, Warrant__Backend__RecordsKind kind,
    const Warrant__Backend__Identifier *t, int64_t start, int64_t end,
    int64_t now, struct refbe_store_err *e)
{
	int64_t	 id = 0, num = 0;
	int	 by_imei = t->type == WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_IMEI;
	int	 frozen = 0, loc = kind == WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION;

	refbe_store_records_end(s);
	if (by_imei) {
		sqlite3_stmt *st = s->q[Q_IMEI_KNOWN];
		int rc;
		if (refbe_store_digits(t->value, strlen(t->value), &num) == -1)
			return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED,
			    "identifier is not digits");
		sqlite3_bind_int64(st, 1, num);
		if ((rc = step_one(s, st, e)) <= 0)
			return rc == 0 ? store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
			    "device never seen") : -1;
		sqlite3_reset(st);
	} else if (store_resolve(s, t, now, &id, e) == -1 ||
	    store_frozen(s, id, now, e, &frozen) == -1)
		return -1;
	if (!frozen && start < now - (int64_t)s->retention_days * DAY_US)
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_OUTSIDE_RETENTION,
		    "window starts more than %u days ago", s->retention_days);
	if (end <= s->meta.data_start_us)
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_RETAINED,
		    "no records held before the window's end");
	s->cur = s->q[loc ? (by_imei ? Q_LOC_IMEI : Q_LOC_SUB) :
	    (by_imei ? Q_CDR_IMEI : Q_CDR_SUB)];
	s->cur_kind = kind;
	sqlite3_bind_int64(s->cur, 1, by_imei ? num : id);
	sqlite3_bind_int64(s->cur, 2, start);
	sqlite3_bind_int64(s->cur, 3, end);
	return 0;
}

static int
store_loc_row(sqlite3_stmt *st, struct refbe_store_rec *o)
{
	Warrant__Backend__LocationRecord *l = &o->loc;
	int src = sqlite3_column_int(st, 4);

	if (!source_ok(src) || store_cell(st, 7, &o->cell1, o->mnc1, sizeof(o->mnc1)) == -1)
		return -1;
	warrant__backend__location_record__init(l);
	l->time_us = sqlite3_column_int64(st, 0);
	l->latitude = sqlite3_column_double(st, 1);
	l->longitude = sqlite3_column_double(st, 2);
	l->accuracy_m = (uint32_t)sqlite3_column_int(st, 3);
	l->source = (Warrant__Backend__LocationSource)src;
	fmt_digits(o->imei, sizeof(o->imei), 15, sqlite3_column_int64(st, 5));
	fmt_digits(o->imsi, sizeof(o->imsi), 15, sqlite3_column_int64(st, 6));
	l->imei = o->imei;
	l->imsi = o->imsi;
	l->cell = &o->cell1;
	o->rec.kind_case = WARRANT__BACKEND__RECORD__KIND_LOCATION;
	o->rec.location = l;
	return 0;
}

/* Columns of CDR_SELECT: 0 service, 1 direction, 2 other, 3 start, 4
 * duration, 5 imei, 6 msisdn, 7 imsi, 8-13 data, 14 has end cell, 15 cell
 * start (7 columns), 22 cell end (7 columns). */
static int
store_cdr_row(sqlite3_stmt *st, struct refbe_store_rec *o)
{
	Warrant__Backend__CommRecord	*c = &o->comm;
	int				 svc = sqlite3_column_int(st, 0);
	int				 dir = sqlite3_column_int(st, 1);
	char				 own[16], other[16];

	if (svc < 1 || svc > 3 || dir < 1 || dir > 2)
		return -1;
	warrant__backend__comm_record__init(c);
	c->service = (Warrant__Backend__ServiceType)svc;
	c->direction = (Warrant__Backend__Direction)dir;
	fmt_digits(own, sizeof(own), 12, sqlite3_column_int64(st, 6));
	if (sqlite3_column_type(st, 2) == SQLITE_NULL)
		other[0] = '\0';
	else
		fmt_digits(other, sizeof(other), 12, sqlite3_column_int64(st, 2));
	fmt_digits(o->imsi, sizeof(o->imsi), 15, sqlite3_column_int64(st, 7));
	fmt_digits(o->imei, sizeof(o->imei), 15, sqlite3_column_int64(st, 5));
	snprintf(o->a, sizeof(o->a), "%s", dir == 1 ? own : other);
	if (svc == WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA)
		/* 3GPP TS 23.003 APN with the operator part of the line's IMSI. */
		snprintf(o->b, sizeof(o->b), "internet.mnc%.3s.mcc334.gprs", o->imsi + 3);
	else
		snprintf(o->b, sizeof(o->b), "%s", dir == 1 ? other : own);
	c->a_party = o->a;
	c->b_party = o->b;
	c->start_us = sqlite3_column_int64(st, 3);
	c->duration_s = (uint32_t)sqlite3_column_int64(st, 4);
	c->imsi = o->imsi;
	c->imei = o->imei;
	if (store_cell(st, 15, &o->cell1, o->mnc1, sizeof(o->mnc1)) == -1)
		return -1;
	c->cell_start = &o->cell1;
	if (sqlite3_column_int(st, 14)) {
		if (store_cell(st, 22, &o->cell2, o->mnc2, sizeof(o->mnc2)) == -1)
			return -1;
		c->cell_end = &o->cell2;
	}
	if (col_text(st, 8, o->priv_ip, sizeof(o->priv_ip)) == -1 ||
	    col_text(st, 9, o->pub_ip, sizeof(o->pub_ip)) == -1)
		return -1;
	c->private_ip = o->priv_ip;
	c->public_ip = o->pub_ip;
	c->public_port_first = (uint32_t)sqlite3_column_int(st, 10);
	c->public_port_last = (uint32_t)sqlite3_column_int(st, 11);
	c->bytes_up = (uint64_t)sqlite3_column_int64(st, 12);
	c->bytes_down = (uint64_t)sqlite3_column_int64(st, 13);
	o->rec.kind_case = WARRANT__BACKEND__RECORD__KIND_COMM;
	o->rec.comm = c;
	return 0;
}

int
refbe_store_records_next(struct refbe_store *s, struct refbe_store_rec *o, struct refbe_store_err *e)
{
	int rc;

	if (s->cur == NULL)
		return 0;
	rc = sqlite3_step(s->cur);
	if (rc == SQLITE_DONE) {
		refbe_store_records_end(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		store_dberr(s, e, s->cur);
		s->cur = NULL;
		return -1;
	}
	warrant__backend__record__init(&o->rec);
	rc = s->cur_kind == WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION ?
	    store_loc_row(s->cur, o) : store_cdr_row(s->cur, o);
	if (rc == -1) {
		refbe_store_records_end(s);
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL,
		    "record row not usable");
	}
	return 1;
}

void
refbe_store_records_end(struct refbe_store *s)
{
	if (s->cur) {
		sqlite3_reset(s->cur);
		sqlite3_clear_bindings(s->cur);
	}
	s->cur = NULL;
}

/* --- preservation ----------------------------------------------------------- */

static int
store_exec(struct refbe_store *s, const char *sql, struct refbe_store_err *e)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("store: %s: %s", sql, sqlite3_errmsg(s->db));
		return store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE,
		    "database busy");
	}
	return 0;
}

int
refbe_store_preserve(struct refbe_store *s, Warrant__Backend__PreservationAction action,
    const Warrant__Backend__Identifier *t, int64_t until, const char *ref,
    int64_t now, struct refbe_store_ack *ack, struct refbe_store_err *e)
{
	sqlite3_stmt	*st;
	int64_t		 id;
	int		 rc;

	memset(ack, 0, sizeof(*ack));
	if (store_resolve(s, t, now, &id, e) == -1)
		return -1;
	if (store_exec(s, "BEGIN IMMEDIATE", e) == -1)
		return -1;
	if (action == WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE) {
		st = s->q[Q_FREEZE];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, until);
		sqlite3_bind_int64(st, 4, now);
	} else {
		st = s->q[Q_UNFREEZE];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
	}
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		store_dberr(s, e, st);
		goto rollback;
	}
	sqlite3_reset(st);
	if (action == WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_UNFREEZE &&
	    sqlite3_changes(s->db) == 0) {
		store_err(e, WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND,
		    "no freeze with this reference for this target");
		goto rollback;
	}
	st = s->q[Q_FROZEN];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if (step_one(s, st, e) == -1)
		goto rollback;
	ack->until_us = sqlite3_column_int64(st, 0);	/* NULL reads as 0 */
	sqlite3_reset(st);
	st = s->q[Q_HELD];
	sqlite3_bind_int64(st, 1, id);
	if (step_one(s, st, e) == -1)
		goto rollback;
	ack->records_held = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return store_exec(s, "COMMIT", e);
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
