/*
 * backend_interop — the gateway's client (include/backend.h, libwarrant.a)
 * against the reference back end (warrant-backend): both halves of
 * proto/backend.proto were written in parallel, and this is where they
 * meet. Run by tests/integration/backend-protocol.sh:
 *
 *   backend_interop unix:PATH DB STATEDIR
 *
 * Every request kind goes through backend_call(); streamed answers land in
 * a results store in STATEDIR, and their count must equal what SQLite
 * holds (the client itself checks the SHA-256 against the summary: a
 * mismatch would be BACKEND_INTEGRITY).
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "backend.h"
#include "conf.h"
#include "log.h"
#include "results.h"

#define US	1000000LL
#define DAY_US	(86400LL * US)

static int		 failures, checks, pending;
static sqlite3		*db;
static struct event_base *base;

struct expect {
	const char		*what;
	enum backend_outcome	 outcome;
	int64_t			 count;		/* -1: do not compare */
	const char		*msisdn;	/* subscriber answers */
};

static void
check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	failures += !ok;
	printf("%s %d - ", ok ? "ok" : "not ok", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int64_t
scalar(const char *sql, int64_t a, int64_t b, int64_t c)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("not ok - %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
done(const struct backend_result *r, void *arg)
{
	struct expect *x = arg;

	check(r->outcome == x->outcome && (x->count < 0 || (int64_t)r->count == x->count) &&
	    (x->msisdn == NULL || (r->subscriber && strcmp(r->subscriber->msisdn,
	    x->msisdn) == 0)), "%s: %s (expected %s), %" PRIu64 " records (expected %"
	    PRId64 "), %u attempt(s)%s%s", x->what, backend_outcome_name(r->outcome),
	    backend_outcome_name(x->outcome), r->count, x->count, r->attempts,
	    r->detail && r->detail[0] ? ": " : "", r->detail ? r->detail : "");
	if (--pending == 0)
		event_base_loopexit(base, NULL);
}

static void
ask(struct backend_set *set, struct backend_query *q, struct expect *x)
{
	static unsigned n;

	snprintf(q->carrier_ref, sizeof(q->carrier_ref), "MXC-INTEROP-%u", ++n);
	pending++;
	if (backend_call(set, q, done, x) == -1) {
		check(0, "%s: backend_call refused", x->what);
		pending--;
	}
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	check(0, "%d calls still unanswered after 30 s", pending);
	event_base_loopexit(base, NULL);
}

static struct results *
store_open(const char *dir)
{
	char	path[512];
	uint8_t	key[32];
	int	fd;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 + 11);
	snprintf(path, sizeof(path), "%s/results.key", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || close(fd) == -1)
		return NULL;
	return results_open(dir, path, 3600);
}

int
main(int argc, char *argv[])
{
	static struct expect	 x[10];
	struct wd_conf		 conf;
	struct wd_backend	 be;
	struct backend_query	 q[10];
	struct backend_set	*set;
	struct results		*res;
	struct event		*tmo;
	struct timeval		 tv = { 30, 0 };
	char			 msisdn[16], imei[16], ip[46];
	int64_t			 now = (int64_t)time(NULL) * US, d0, d1, sub, port, at;
	sqlite3_stmt		*st;

	if (argc != 4 || strncmp(argv[1], "unix:", 5) != 0) {
		fprintf(stderr, "usage: backend_interop unix:PATH DB STATEDIR\n");
		return 2;
	}
	log_init("backend_interop", 1, 0);
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return 1;
	d0 = scalar("SELECT value FROM meta WHERE key = 'data_start_us'", 0, 0, 0);
	d1 = scalar("SELECT value FROM meta WHERE key = 'data_end_us'", 0, 0, 0);
	sub = scalar("SELECT subscriber FROM cdr GROUP BY subscriber"
	    " ORDER BY count(*) DESC, subscriber LIMIT 1", 0, 0, 0);
	snprintf(msisdn, sizeof(msisdn), "%" PRId64,
	    scalar("SELECT msisdn FROM subscriber WHERE id = ?1", sub, 0, 0));
	snprintf(imei, sizeof(imei), "%015" PRId64, scalar("SELECT imei FROM device WHERE"
	    " subscriber = ?1 AND since_us <= ?2 ORDER BY since_us DESC LIMIT 1", sub, now, 0));
	if (sqlite3_prepare_v2(db, "SELECT public_ip, port_first + 100, start_us + 5000000,"
	    " (SELECT msisdn FROM subscriber WHERE id = cgnat.subscriber) FROM cgnat"
	    " ORDER BY rowid LIMIT 1 OFFSET 3", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		return 1;
	snprintf(ip, sizeof(ip), "%s", sqlite3_column_text(st, 0));
	port = sqlite3_column_int64(st, 1);
	at = sqlite3_column_int64(st, 2);
	static char ipowner[16];
	snprintf(ipowner, sizeof(ipowner), "%" PRId64, (int64_t)sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);

	if ((base = event_base_new()) == NULL || (res = store_open(argv[3])) == NULL)
		return 1;
	memset(&conf, 0, sizeof(conf));
	TAILQ_INIT(&conf.backends);
	memset(&be, 0, sizeof(be));
	be.name = "reference";
	be.address = argv[1];
	be.unix_path = argv[1] + 5;
	for (int t = 0; t < WD_REQ__COUNT; t++)
		be.serves[t] = t != WD_REQ_INTERCEPTION;
	be.deadline_ms = 10000;
	be.retries = 1;
	be.connections = 2;
	be.breaker_failures = 5;
	be.breaker_open_ms = 1000;
	TAILQ_INSERT_TAIL(&conf.backends, &be, entry);
	if ((set = backend_set_new(base, &conf, res)) == NULL)
		return 1;

	memset(q, 0, sizeof(q));
	q[0].type = WD_REQ_SUBSCRIBER;
	q[0].id.type = WD_ID_MSISDN;
	snprintf(q[0].id.value, sizeof(q[0].id.value), "%s", msisdn);
	x[0] = (struct expect){ "subscriber by MSISDN", BACKEND_OK, -1, msisdn };
	q[1].type = WD_REQ_SUBSCRIBER;
	q[1].id.type = WD_ID_IMEI;
	snprintf(q[1].id.value, sizeof(q[1].id.value), "%s", imei);
	x[1] = (struct expect){ "subscriber by IMEI", BACKEND_OK, -1, msisdn };
	q[2].type = WD_REQ_SUBSCRIBER;
	q[2].id.type = WD_ID_IPPORT;
	snprintf(q[2].id.addr, sizeof(q[2].id.addr), "%s", ip);
	q[2].id.port = (uint16_t)port;
	snprintf(q[2].id.value, sizeof(q[2].id.value), "%s:%" PRId64, ip, port);
	q[2].at_us = at;
	x[2] = (struct expect){ "subscriber by IP and port", BACKEND_OK, -1, ipowner };
	q[3].type = WD_REQ_SUBSCRIBER;
	q[3].id.type = WD_ID_MSISDN;
	snprintf(q[3].id.value, sizeof(q[3].id.value), "529999999999");
	x[3] = (struct expect){ "unknown MSISDN", BACKEND_NOT_FOUND, -1, NULL };
	q[4].type = WD_REQ_LOCATION_RT;
	q[4].id = q[0].id;
	x[4] = (struct expect){ "real-time location", BACKEND_OK, -1, NULL };
	q[5].type = WD_REQ_RECORDS;
	q[5].id = q[0].id;
	q[5].start_us = d0;
	q[5].end_us = d1;
	x[5] = (struct expect){ "communication records (streamed)", BACKEND_OK,
	    scalar("SELECT count(*) FROM cdr WHERE subscriber = ?1 AND start_us >= ?2"
	    " AND start_us < ?3", sub, d0, d1), NULL };
	q[6].type = WD_REQ_LOCATION_HIST;
	q[6].id = q[0].id;
	q[6].start_us = d0;
	q[6].end_us = d1;
	x[6] = (struct expect){ "historical location (streamed)", BACKEND_OK,
	    scalar("SELECT count(*) FROM location WHERE subscriber = ?1 AND time_us >= ?2"
	    " AND time_us < ?3", sub, d0, d1), NULL };
	q[7].type = WD_REQ_PRESERVATION;
	q[7].id = q[0].id;
	q[7].until_us = now + 30 * DAY_US;
	x[7] = (struct expect){ "preservation (freeze)", BACKEND_OK, -1, NULL };
	/* Another subscriber: the freeze above may run first or not. */
	q[8].type = WD_REQ_RECORDS;
	q[8].id.type = WD_ID_MSISDN;
	snprintf(q[8].id.value, sizeof(q[8].id.value), "%" PRId64,
	    scalar("SELECT msisdn FROM subscriber WHERE id <> ?1 LIMIT 1", sub, 0, 0));
	q[8].start_us = now - 1000 * DAY_US;
	q[8].end_us = now - 999 * DAY_US;
	x[8] = (struct expect){ "records 1000 days ago", BACKEND_OUTSIDE_RETENTION, -1, NULL };
	for (int i = 0; i < 9; i++)
		ask(set, &q[i], &x[i]);
	tmo = evtimer_new(base, timeout_cb, NULL);
	evtimer_add(tmo, &tv);
	event_base_dispatch(base);
	event_free(tmo);
	backend_set_free(set);
	results_close(res);
	event_base_free(base);
	sqlite3_close(db);
	printf("1..%d\n", checks);
	return failures || pending ? 1 : 0;
}
