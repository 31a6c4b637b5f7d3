/*
 * backend_client — protocol test client for warrant-backend, run by
 * tests/integration/backend-protocol.sh and backend-tls.sh.
 *
 *   backend_client protocol unix:PATH DB   the whole protocol, see main()
 *   backend_client tls HOST:PORT CA CERT KEY   mutual TLS: hello + health
 *   backend_client tls-refused HOST:PORT CA [CERT KEY]   must be refused
 *
 * Expected answers are computed here from the SQLite file opened directly,
 * with this file's own queries and its own row-to-Record mapping, so that
 * a mistake in the server's store or wire code shows up as a mismatch.
 * Output is one "ok"/"not ok" line per check; exit 0 only if all passed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#include "backend.pb-c.h"

#define US		1000000LL
#define DAY_US		(86400LL * US)
#define E(x)		WARRANT__BACKEND__ERROR_CODE__ERROR_ ## x
#define BODY(x)		WARRANT__BACKEND__ENVELOPE__BODY_ ## x
#define ID(x)		WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_ ## x

static int	failures, checks;

static void
check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	printf("%s %d - ", ok ? "ok" : "not ok", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	printf("not ok - fatal: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US + ts.tv_nsec / 1000;
}

/* --- connection ------------------------------------------------------------ */

struct conn {
	int	 fd;
	SSL	*ssl;
};

static void
set_timeout(int fd)
{
	struct timeval tv = { 15, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int
conn_unix(struct conn *c, const char *path)
{
	struct sockaddr_un sun;

	memset(c, 0, sizeof(*c));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (c->fd != -1)
			close(c->fd);
		return -1;
	}
	set_timeout(c->fd);
	return 0;
}

static int
conn_tcp(struct conn *c, const char *spec)
{
	struct addrinfo	 hints, *res;
	char		 host[128], *port;

	memset(c, 0, sizeof(*c));
	snprintf(host, sizeof(host), "%s", spec);
	if ((port = strrchr(host, ':')) == NULL)
		return -1;
	*port++ = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	c->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (c->fd == -1 || connect(c->fd, res->ai_addr, res->ai_addrlen) == -1) {
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	set_timeout(c->fd);
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int
io_write(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = c->ssl ? SSL_write(c->ssl, p, (int)len) : write(c->fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int	last_eof;	/* the last failed read met EOF, not a timeout */

/* 1 read, 0 EOF, -1 error or timeout */
static int
io_read(struct conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	last_eof = 0;
	while (len > 0) {
		ssize_t n = c->ssl ? SSL_read(c->ssl, p, (int)len) : read(c->fd, p, len);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			last_eof = 1;
			return 0;
		}
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

static int
send_env(struct conn *c, const Warrant__Backend__Envelope *env)
{
	size_t	 n = warrant__backend__envelope__get_packed_size(env);
	uint8_t	*buf = malloc(4 + n);
	int	 rc;

	if (buf == NULL)
		die("malloc");
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	warrant__backend__envelope__pack(env, buf + 4);
	rc = io_write(c, buf, 4 + n);
	free(buf);
	return rc;
}

/* NULL on EOF, timeout or a frame that does not parse. */
static Warrant__Backend__Envelope *
recv_env(struct conn *c)
{
	Warrant__Backend__Envelope	*env;
	uint8_t				 h[4], *buf;
	uint32_t			 n;

	if (io_read(c, h, 4) != 1)
		return NULL;
	n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (n == 0 || n > WARRANT__BACKEND__LIMIT__LIMIT_MAX_FRAME_BYTES) {
		printf("# server sent a frame of %u bytes\n", n);
		return NULL;
	}
	if ((buf = malloc(n)) == NULL)
		die("malloc");
	if (io_read(c, buf, n) != 1) {
		free(buf);
		return NULL;
	}
	env = warrant__backend__envelope__unpack(NULL, n, buf);
	free(buf);
	return env;
}

/* The connection ends (EOF) within the timeout, possibly after frames. */
static int
closed_by_peer(struct conn *c, int *err_code)
{
	Warrant__Backend__Envelope *env;

	*err_code = -1;
	while ((env = recv_env(c)) != NULL) {
		if (env->body_case == BODY(ERROR) && env->request_id == 0)
			*err_code = env->error->code;
		warrant__backend__envelope__free_unpacked(env, NULL);
	}
	/* recv_env returned NULL: EOF or a timeout; tell them apart. */
	return last_eof;
}

static int
hello(struct conn *c, Warrant__Backend__Hello **out)
{
	Warrant__Backend__Envelope	 env = WARRANT__BACKEND__ENVELOPE__INIT, *ans;
	Warrant__Backend__Hello		 h = WARRANT__BACKEND__HELLO__INIT;

	h.version_major = 1;
	h.version_minor = 0;
	h.name = "backend_client";
	env.body_case = BODY(HELLO);
	env.hello = &h;
	if (send_env(c, &env) == -1 || (ans = recv_env(c)) == NULL)
		return -1;
	if (ans->body_case != BODY(HELLO) || ans->request_id != 0) {
		warrant__backend__envelope__free_unpacked(ans, NULL);
		return -1;
	}
	if (out) {
		*out = ans->hello;
		ans->hello = NULL;
		ans->body_case = WARRANT__BACKEND__ENVELOPE__BODY__NOT_SET;
	}
	warrant__backend__envelope__free_unpacked(ans, NULL);
	return 0;
}

/* One request, one final answer (chunks are not expected here). */
static Warrant__Backend__Envelope *
call(struct conn *c, Warrant__Backend__Envelope *req)
{
	Warrant__Backend__Envelope *ans;

	if (send_env(c, req) == -1 || (ans = recv_env(c)) == NULL)
		die("no answer to request %" PRIu64, req->request_id);
	if (ans->request_id != req->request_id)
		die("answer for %" PRIu64 " instead of %" PRIu64, ans->request_id,
		    req->request_id);
	return ans;
}

/* --- requests ---------------------------------------------------------------- */

static Warrant__Backend__Identifier ident_buf[16];
static unsigned ident_next;

static Warrant__Backend__Identifier *
ident(Warrant__Backend__IdentifierType type, const char *value, uint32_t port)
{
	Warrant__Backend__Identifier *t = &ident_buf[ident_next++ % 16];

	warrant__backend__identifier__init(t);
	t->type = type;
	t->value = (char *)value;
	t->port = port;
	return t;
}

static Warrant__Backend__Envelope *
ask_subscriber(struct conn *c, uint64_t id, Warrant__Backend__Identifier *t, int64_t at)
{
	Warrant__Backend__Envelope		env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__SubscriberQuery	q = WARRANT__BACKEND__SUBSCRIBER_QUERY__INIT;

	q.target = t;
	q.at_us = at;
	env.request_id = id;
	env.body_case = BODY(SUBSCRIBER_QUERY);
	env.subscriber_query = &q;
	return call(c, &env);
}

static void
records_req(Warrant__Backend__Envelope *env, Warrant__Backend__RecordsQuery *q,
    uint64_t id, int kind, Warrant__Backend__Identifier *t, int64_t start, int64_t end)
{
	warrant__backend__envelope__init(env);
	warrant__backend__records_query__init(q);
	q->kind = (Warrant__Backend__RecordsKind)kind;
	q->target = t;
	q->start_us = start;
	q->end_us = end;
	env->request_id = id;
	env->body_case = BODY(RECORDS_QUERY);
	env->records_query = q;
}

static int
error_is(Warrant__Backend__Envelope *ans, int code)
{
	return ans->body_case == BODY(ERROR) && (int)ans->error->code == code;
}

/* --- expected answers from SQLite ------------------------------------------- */

static sqlite3 *db;

static sqlite3_stmt *
prep(const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("%s: %s", sql, sqlite3_errmsg(db));
	return st;
}

static int64_t
scalar(const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt	*st = prep(sql);
	int64_t		 v = -1;

	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

struct xcell {
	Warrant__Backend__Cell	cell;
	char			mnc[8];
};

static void
load_cell(int64_t id, struct xcell *x)
{
	sqlite3_stmt *st = prep("SELECT mnc, lac, ci, rat, latitude, longitude, azimuth"
	    " FROM cell WHERE id = ?1");

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW)
		die("cell %" PRId64, id);
	warrant__backend__cell__init(&x->cell);
	snprintf(x->mnc, sizeof(x->mnc), "%s", sqlite3_column_text(st, 0));
	x->cell.mcc = "334";
	x->cell.mnc = x->mnc;
	x->cell.lac = (uint32_t)sqlite3_column_int64(st, 1);
	x->cell.ci = (uint64_t)sqlite3_column_int64(st, 2);
	x->cell.rat = (Warrant__Backend__RadioAccess)sqlite3_column_int(st, 3);
	x->cell.latitude = sqlite3_column_double(st, 4);
	x->cell.longitude = sqlite3_column_double(st, 5);
	x->cell.azimuth_deg = (uint32_t)sqlite3_column_int(st, 6);
	sqlite3_finalize(st);
}

/* The digest as the proto defines it: BE32 length || packed Record. */
static void
digest_record(EVP_MD_CTX *md, const Warrant__Backend__Record *r)
{
	size_t	 n = warrant__backend__record__get_packed_size(r);
	uint8_t	*b = malloc(n + 1), h[4];

	if (b == NULL)
		die("malloc");
	warrant__backend__record__pack(r, b);
	h[0] = (uint8_t)(n >> 24);
	h[1] = (uint8_t)(n >> 16);
	h[2] = (uint8_t)(n >> 8);
	h[3] = (uint8_t)n;
	EVP_DigestUpdate(md, h, 4);
	EVP_DigestUpdate(md, b, n);
	free(b);
}

/* Expected count and digest of a CDR window for a subscriber id. */
static uint64_t
expect_cdr(int64_t sub, int64_t start, int64_t end, uint8_t md_out[32])
{
	sqlite3_stmt	*st = prep("SELECT d.service, d.direction, d.other, d.start_us,"
	    " d.duration_s, d.imei, s.msisdn, s.imsi, d.private_ip, d.public_ip,"
	    " d.port_first, d.port_last, d.bytes_up, d.bytes_down, d.cell_start,"
	    " d.cell_end FROM cdr d, subscriber s WHERE s.id = d.subscriber AND"
	    " d.subscriber = ?1 AND d.start_us >= ?2 AND d.start_us < ?3"
	    " ORDER BY d.start_us, d.rowid");
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	uint64_t	 n = 0;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	sqlite3_bind_int64(st, 1, sub);
	sqlite3_bind_int64(st, 2, start);
	sqlite3_bind_int64(st, 3, end);
	while (sqlite3_step(st) == SQLITE_ROW) {
		Warrant__Backend__Record	r = WARRANT__BACKEND__RECORD__INIT;
		Warrant__Backend__CommRecord	c = WARRANT__BACKEND__COMM_RECORD__INIT;
		struct xcell			c1, c2;
		char				own[16], other[16] = "", imsi[16], imei[16];
		char				a[48], b[48], priv[48] = "", pub[48] = "";
		int				dir = sqlite3_column_int(st, 1);
		int				svc = sqlite3_column_int(st, 0);

		snprintf(own, sizeof(own), "%012" PRId64, (int64_t)sqlite3_column_int64(st, 6));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			snprintf(other, sizeof(other), "%012" PRId64, (int64_t)sqlite3_column_int64(st, 2));
		snprintf(imsi, sizeof(imsi), "%015" PRId64, (int64_t)sqlite3_column_int64(st, 7));
		snprintf(imei, sizeof(imei), "%015" PRId64, (int64_t)sqlite3_column_int64(st, 5));
		snprintf(a, sizeof(a), "%s", dir == 1 ? own : other);
		if (svc == 3)
			snprintf(b, sizeof(b), "internet.mnc%.3s.mcc334.gprs", imsi + 3);
		else
			snprintf(b, sizeof(b), "%s", dir == 1 ? other : own);
		if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
			snprintf(priv, sizeof(priv), "%s", sqlite3_column_text(st, 8));
			snprintf(pub, sizeof(pub), "%s", sqlite3_column_text(st, 9));
		}
		c.service = (Warrant__Backend__ServiceType)svc;
		c.direction = (Warrant__Backend__Direction)dir;
		c.a_party = a;
		c.b_party = b;
		c.start_us = sqlite3_column_int64(st, 3);
		c.duration_s = (uint32_t)sqlite3_column_int64(st, 4);
		c.imsi = imsi;
		c.imei = imei;
		load_cell(sqlite3_column_int64(st, 14), &c1);
		c.cell_start = &c1.cell;
		if (sqlite3_column_type(st, 15) != SQLITE_NULL) {
			load_cell(sqlite3_column_int64(st, 15), &c2);
			c.cell_end = &c2.cell;
		}
		c.private_ip = priv;
		c.public_ip = pub;
		c.public_port_first = (uint32_t)sqlite3_column_int(st, 10);
		c.public_port_last = (uint32_t)sqlite3_column_int(st, 11);
		c.bytes_up = (uint64_t)sqlite3_column_int64(st, 12);
		c.bytes_down = (uint64_t)sqlite3_column_int64(st, 13);
		r.kind_case = WARRANT__BACKEND__RECORD__KIND_COMM;
		r.comm = &c;
		digest_record(md, &r);
		n++;
	}
	sqlite3_finalize(st);
	EVP_DigestFinal_ex(md, md_out, NULL);
	EVP_MD_CTX_free(md);
	return n;
}

/* Expected count and digest of a location window, by subscriber or IMEI. */
static uint64_t
expect_loc(const char *col, int64_t key, int64_t start, int64_t end, uint8_t md_out[32])
{
	char		 sql[512];
	sqlite3_stmt	*st;
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	uint64_t	 n = 0;

	snprintf(sql, sizeof(sql), "SELECT l.time_us, l.cell, l.latitude, l.longitude,"
	    " l.accuracy_m, l.source, s.imsi, l.imei FROM location l, subscriber s"
	    " WHERE s.id = l.subscriber AND l.%s = ?1 AND l.time_us >= ?2 AND"
	    " l.time_us < ?3 ORDER BY l.time_us, l.rowid", col);
	st = prep(sql);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	sqlite3_bind_int64(st, 1, key);
	sqlite3_bind_int64(st, 2, start);
	sqlite3_bind_int64(st, 3, end);
	while (sqlite3_step(st) == SQLITE_ROW) {
		Warrant__Backend__Record	 r = WARRANT__BACKEND__RECORD__INIT;
		Warrant__Backend__LocationRecord l = WARRANT__BACKEND__LOCATION_RECORD__INIT;
		struct xcell			 c;
		char				 imsi[16], imei[16];

		l.time_us = sqlite3_column_int64(st, 0);
		load_cell(sqlite3_column_int64(st, 1), &c);
		l.cell = &c.cell;
		l.latitude = sqlite3_column_double(st, 2);
		l.longitude = sqlite3_column_double(st, 3);
		l.accuracy_m = (uint32_t)sqlite3_column_int(st, 4);
		l.source = (Warrant__Backend__LocationSource)sqlite3_column_int(st, 5);
		snprintf(imsi, sizeof(imsi), "%015" PRId64, (int64_t)sqlite3_column_int64(st, 6));
		snprintf(imei, sizeof(imei), "%015" PRId64, (int64_t)sqlite3_column_int64(st, 7));
		l.imsi = imsi;
		l.imei = imei;
		r.kind_case = WARRANT__BACKEND__RECORD__KIND_LOCATION;
		r.location = &l;
		digest_record(md, &r);
		n++;
	}
	sqlite3_finalize(st);
	EVP_DigestFinal_ex(md, md_out, NULL);
	EVP_MD_CTX_free(md);
	return n;
}

/* --- records answers ---------------------------------------------------------- */

struct stream {
	uint64_t	 id;
	uint64_t	 records;
	uint32_t	 chunks, next_seq;
	int		 final;		/* 0 pending, 1 summary, 2 error */
	int		 error;
	int		 seq_ok;
	int		 max_chunk;
	EVP_MD_CTX	*md;
	uint8_t		 own[32];	/* digest of what arrived */
	Warrant__Backend__RecordsSummary *sum;
	Warrant__Backend__Envelope	*sum_env;
};

static void
stream_init(struct stream *s, uint64_t id)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->seq_ok = 1;
	s->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
}

static void
stream_free(struct stream *s)
{
	EVP_MD_CTX_free(s->md);
	if (s->sum_env)
		warrant__backend__envelope__free_unpacked(s->sum_env, NULL);
}

/* Feed one answer; 1 if it was for this stream. Takes env. */
static int
stream_feed(struct stream *s, Warrant__Backend__Envelope *env)
{
	if (env->request_id != s->id)
		return 0;
	switch (env->body_case) {
	case BODY(RECORDS_CHUNK):
		if (env->records_chunk->seq != s->next_seq++)
			s->seq_ok = 0;
		s->chunks++;
		if ((int)env->records_chunk->n_records > s->max_chunk)
			s->max_chunk = (int)env->records_chunk->n_records;
		for (size_t i = 0; i < env->records_chunk->n_records; i++)
			digest_record(s->md, env->records_chunk->records[i]);
		s->records += env->records_chunk->n_records;
		warrant__backend__envelope__free_unpacked(env, NULL);
		return 1;
	case BODY(RECORDS_SUMMARY):
		s->final = 1;
		s->sum = env->records_summary;
		s->sum_env = env;
		EVP_DigestFinal_ex(s->md, s->own, NULL);
		return 1;
	case BODY(ERROR):
		s->final = 2;
		s->error = env->error->code;
		warrant__backend__envelope__free_unpacked(env, NULL);
		return 1;
	default:
		s->final = 3;
		warrant__backend__envelope__free_unpacked(env, NULL);
		return 1;
	}
}

static void
records_check(struct conn *c, const char *what, uint64_t id, int kind,
    Warrant__Backend__Identifier *t, int64_t start, int64_t end,
    uint64_t want_n, const uint8_t want_md[32], unsigned per_chunk)
{
	Warrant__Backend__Envelope	 req, *env;
	Warrant__Backend__RecordsQuery	 q;
	struct stream			 s;

	records_req(&req, &q, id, kind, t, start, end);
	if (send_env(c, &req) == -1)
		die("send");
	stream_init(&s, id);
	while (!s.final && (env = recv_env(c)) != NULL)
		if (!stream_feed(&s, env))
			warrant__backend__envelope__free_unpacked(env, NULL);
	check(s.final == 1, "%s: ends with a summary (final %d, error %d)", what,
	    s.final, s.error);
	if (s.final == 1) {
		check(s.sum->count == want_n && s.records == want_n,
		    "%s: %" PRIu64 " records (summary %" PRIu64 ", expected from SQLite %"
		    PRIu64 ")", what, s.records, s.sum->count, want_n);
		check(s.sum->sha256.len == 32 && memcmp(s.sum->sha256.data, want_md, 32) == 0,
		    "%s: summary SHA-256 equals the one computed from SQLite", what);
		check(memcmp(s.own, want_md, 32) == 0,
		    "%s: SHA-256 of the records received equals SQLite's", what);
		check(s.sum->chunks == s.chunks && s.seq_ok,
		    "%s: %u chunks, numbered from 0", what, s.chunks);
		check(s.max_chunk <= (int)per_chunk, "%s: at most %u records per chunk "
		    "(largest %d)", what, per_chunk, s.max_chunk);
		check(want_n <= per_chunk || s.chunks > 1, "%s: spans several chunks", what);
	}
	stream_free(&s);
}

/* --- the protocol suite --------------------------------------------------------- */

struct target {
	int64_t	id;
	char	msisdn[16], imsi[16], imei[16], given[96], curp[24];
	int	state;
};

static void
load_target(struct target *t, int64_t id, int64_t at)
{
	sqlite3_stmt *st = prep("SELECT msisdn, imsi, given_names, curp, state"
	    " FROM subscriber WHERE id = ?1");

	memset(t, 0, sizeof(*t));
	t->id = id;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW)
		die("subscriber %" PRId64, id);
	snprintf(t->msisdn, sizeof(t->msisdn), "%012" PRId64, (int64_t)sqlite3_column_int64(st, 0));
	snprintf(t->imsi, sizeof(t->imsi), "%015" PRId64, (int64_t)sqlite3_column_int64(st, 1));
	snprintf(t->given, sizeof(t->given), "%s", sqlite3_column_text(st, 2));
	snprintf(t->curp, sizeof(t->curp), "%s", sqlite3_column_text(st, 3));
	t->state = sqlite3_column_int(st, 4);
	sqlite3_finalize(st);
	snprintf(t->imei, sizeof(t->imei), "%015" PRId64, scalar("SELECT imei FROM device"
	    " WHERE subscriber = ?1 AND since_us <= ?2 ORDER BY since_us DESC LIMIT 1",
	    id, at));
}

static void
check_subscriber(struct conn *c, const struct target *t, int64_t now)
{
	Warrant__Backend__Envelope	*a;
	sqlite3_stmt			*st;
	char				 ip[48];
	int64_t				 sub, port, start;
	const struct {
		const char *what;
		Warrant__Backend__IdentifierType type;
		const char *value;
	} by[] = {
		{ "MSISDN", ID(MSISDN), t->msisdn },
		{ "IMSI", ID(IMSI), t->imsi },
		{ "IMEI", ID(IMEI), t->imei },
	};

	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++) {
		a = ask_subscriber(c, 10 + i, ident(by[i].type, by[i].value, 0), 0);
		check(a->body_case == BODY(SUBSCRIBER) &&
		    strcmp(a->subscriber->msisdn, t->msisdn) == 0 &&
		    strcmp(a->subscriber->imsi, t->imsi) == 0 &&
		    strcmp(a->subscriber->imei, t->imei) == 0 &&
		    strcmp(a->subscriber->curp, t->curp) == 0 &&
		    strcmp(a->subscriber->given_names, t->given) == 0 &&
		    a->subscriber->address != NULL &&
		    (int)a->subscriber->address->state == t->state &&
		    strlen(a->subscriber->activation_date) == 10,
		    "subscriber by %s %s: %s, CURP %s", by[i].what, by[i].value,
		    a->body_case == BODY(SUBSCRIBER) ? a->subscriber->given_names : "?",
		    a->body_case == BODY(SUBSCRIBER) ? a->subscriber->curp : "?");
		warrant__backend__envelope__free_unpacked(a, NULL);
	}
	/* CGNAT: a mapping's public address, a port inside its block, an
	 * instant inside its window designate its subscriber. */
	st = prep("SELECT public_ip, port_first + 7, start_us + 1000000, subscriber"
	    " FROM cgnat ORDER BY rowid LIMIT 1 OFFSET 17");
	if (sqlite3_step(st) != SQLITE_ROW)
		die("no cgnat row");
	snprintf(ip, sizeof(ip), "%s", sqlite3_column_text(st, 0));
	port = sqlite3_column_int64(st, 1);
	start = sqlite3_column_int64(st, 2);
	sub = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	struct target owner;
	load_target(&owner, sub, start);
	a = ask_subscriber(c, 13, ident(ID(IP_PORT), ip, (uint32_t)port), start);
	check(a->body_case == BODY(SUBSCRIBER) &&
	    strcmp(a->subscriber->msisdn, owner.msisdn) == 0,
	    "subscriber by IP %s port %" PRId64 " at an instant: MSISDN %s", ip, port,
	    owner.msisdn);
	warrant__backend__envelope__free_unpacked(a, NULL);
	a = ask_subscriber(c, 14, ident(ID(IP_PORT), ip, (uint32_t)port), 1000000);
	check(error_is(a, E(NOT_FOUND)), "same IP and port in 1970: NOT_FOUND");
	warrant__backend__envelope__free_unpacked(a, NULL);
	a = ask_subscriber(c, 15, ident(ID(MSISDN), "529999999999", 0), 0);
	check(scalar("SELECT count(*) FROM subscriber WHERE msisdn = 529999999999", 0, 0) == 0 &&
	    error_is(a, E(NOT_FOUND)), "unknown MSISDN: NOT_FOUND");
	warrant__backend__envelope__free_unpacked(a, NULL);
	a = ask_subscriber(c, 16, ident(ID(MSISDN), "12345", 0), 0);
	check(error_is(a, E(MALFORMED)), "MSISDN 12345: MALFORMED, connection kept");
	warrant__backend__envelope__free_unpacked(a, NULL);
	a = ask_subscriber(c, 17, ident(ID(IMEI), "353325100000004", 0), 0);
	check(error_is(a, E(MALFORMED)), "IMEI with a bad Luhn digit: MALFORMED");
	warrant__backend__envelope__free_unpacked(a, NULL);
	(void)now;
}

static void
check_location(struct conn *c, const struct target *t, int64_t now)
{
	Warrant__Backend__Envelope	 req = WARRANT__BACKEND__ENVELOPE__INIT, *a;
	Warrant__Backend__LocationQuery	 q = WARRANT__BACKEND__LOCATION_QUERY__INIT;
	int64_t				 fix;

	fix = scalar("SELECT max(time_us) FROM location WHERE subscriber = ?1"
	    " AND time_us <= ?2", t->id, now);
	q.target = ident(ID(MSISDN), t->msisdn, 0);
	req.request_id = 20;
	req.body_case = BODY(LOCATION_QUERY);
	req.location_query = &q;
	a = call(c, &req);
	check(a->body_case == BODY(LOCATION) && a->location->fix_us == fix &&
	    a->location->cell && strcmp(a->location->cell->mcc, "334") == 0 &&
	    a->location->latitude > 14 && a->location->latitude < 33 &&
	    a->location->longitude > -118.5 && a->location->longitude < -86.5 &&
	    a->location->accuracy_m > 0 && a->location->source != 0,
	    "real-time location of %s: latest fix of SQLite, inside Mexico", t->msisdn);
	warrant__backend__envelope__free_unpacked(a, NULL);
	q.target = ident(ID(IP_PORT), "187.188.0.1", 1024);
	req.request_id = 21;
	a = call(c, &req);
	check(error_is(a, E(MALFORMED)), "location by IP and port: MALFORMED");
	warrant__backend__envelope__free_unpacked(a, NULL);
}

static void
check_records(struct conn *c, const struct target *t, int64_t now, int64_t d0,
    int64_t d1, unsigned per_chunk)
{
	Warrant__Backend__Envelope	 req, *a;
	Warrant__Backend__RecordsQuery	 q;
	uint8_t				 md[32];
	uint64_t			 n;
	int64_t				 imei;

	n = expect_cdr(t->id, d0, d1, md);
	records_check(c, "CDRs by MSISDN, whole data", 30, 2,
	    ident(ID(MSISDN), t->msisdn, 0), d0, d1, n, md, per_chunk);
	n = expect_cdr(t->id, d0 + DAY_US / 3, d0 + DAY_US + 7 * 3600 * US, md);
	records_check(c, "CDRs by IMSI, a 31-hour window", 31, 2,
	    ident(ID(IMSI), t->imsi, 0), d0 + DAY_US / 3, d0 + DAY_US + 7 * 3600 * US,
	    n, md, per_chunk);
	n = expect_loc("subscriber", t->id, d0, d1, md);
	records_check(c, "location history by MSISDN", 32, 1,
	    ident(ID(MSISDN), t->msisdn, 0), d0, d1, n, md, per_chunk);
	imei = strtoll(t->imei, NULL, 10);
	n = expect_loc("imei", imei, d0, d1, md);
	records_check(c, "location history by IMEI", 33, 1,
	    ident(ID(IMEI), t->imei, 0), d0, d1, n, md, per_chunk);
	n = expect_cdr(t->id, d1 + DAY_US, d1 + 2 * DAY_US, md);
	records_check(c, "CDRs in a window after the data: empty answer", 34, 2,
	    ident(ID(MSISDN), t->msisdn, 0), d1 + DAY_US, d1 + 2 * DAY_US, n, md, per_chunk);

	records_req(&req, &q, 35, 2, ident(ID(MSISDN), t->msisdn, 0),
	    now - 1000 * DAY_US, now - 999 * DAY_US);
	a = call(c, &req);
	check(error_is(a, E(OUTSIDE_RETENTION)), "window 1000 days ago: OUTSIDE_RETENTION");
	warrant__backend__envelope__free_unpacked(a, NULL);
	records_req(&req, &q, 36, 2, ident(ID(MSISDN), t->msisdn, 0),
	    d0 - 20 * DAY_US, d0 - 10 * DAY_US);
	a = call(c, &req);
	check(error_is(a, E(NOT_RETAINED)), "window before the data, inside retention: "
	    "NOT_RETAINED");
	warrant__backend__envelope__free_unpacked(a, NULL);
	records_req(&req, &q, 37, 2, ident(ID(MSISDN), t->msisdn, 0), d1, d0);
	a = call(c, &req);
	check(error_is(a, E(MALFORMED)), "window with end before start: MALFORMED");
	warrant__backend__envelope__free_unpacked(a, NULL);
}

static void
check_preservation(struct conn *c, const struct target *t, int64_t now)
{
	Warrant__Backend__Envelope		 req = WARRANT__BACKEND__ENVELOPE__INIT, *a;
	Warrant__Backend__PreservationRequest	 p = WARRANT__BACKEND__PRESERVATION_REQUEST__INIT;
	Warrant__Backend__RecordsQuery		 q;
	int64_t					 until = now + 90 * DAY_US, held;

	held = scalar("SELECT (SELECT count(*) FROM cdr WHERE subscriber = ?1) +"
	    " (SELECT count(*) FROM location WHERE subscriber = ?1)", t->id, 0);
	p.action = WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE;
	p.target = ident(ID(IMSI), t->imsi, 0);
	p.until_us = until;
	p.reference = "FGR/CDMX/0042/2026";
	req.request_id = 40;
	req.body_case = BODY(PRESERVATION);
	req.preservation = &p;
	a = call(c, &req);
	check(a->body_case == BODY(PRESERVATION_ACK) && a->preservation_ack->until_us == until &&
	    (int64_t)a->preservation_ack->records_held == held,
	    "freeze: acknowledged until the date asked, %" PRId64 " records held", held);
	warrant__backend__envelope__free_unpacked(a, NULL);
	/* Frozen records are exempt from retention: an old window is now
	 * legal to ask, and there is simply nothing that old. */
	records_req(&req, &q, 41, 2, ident(ID(MSISDN), t->msisdn, 0),
	    now - 1000 * DAY_US, now - 999 * DAY_US);
	a = call(c, &req);
	check(error_is(a, E(NOT_RETAINED)), "frozen subscriber, window 1000 days ago: "
	    "NOT_RETAINED instead of OUTSIDE_RETENTION");
	warrant__backend__envelope__free_unpacked(a, NULL);
	warrant__backend__envelope__init(&req);
	req.request_id = 42;
	req.body_case = BODY(PRESERVATION);
	req.preservation = &p;
	p.action = WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_UNFREEZE;
	p.until_us = 0;
	a = call(c, &req);
	check(a->body_case == BODY(PRESERVATION_ACK) && a->preservation_ack->until_us == 0,
	    "unfreeze: acknowledged, no freeze left");
	warrant__backend__envelope__free_unpacked(a, NULL);
	req.request_id = 43;
	a = call(c, &req);
	check(error_is(a, E(NOT_FOUND)), "unfreeze again: NOT_FOUND");
	warrant__backend__envelope__free_unpacked(a, NULL);
	p.action = WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE;
	p.until_us = now - DAY_US;
	req.request_id = 44;
	a = call(c, &req);
	check(error_is(a, E(MALFORMED)), "freeze until a past date: MALFORMED");
	warrant__backend__envelope__free_unpacked(a, NULL);
}

static void
check_health(struct conn *c, uint64_t id, int64_t subs)
{
	Warrant__Backend__Envelope	req = WARRANT__BACKEND__ENVELOPE__INIT, *a;
	Warrant__Backend__HealthQuery	h = WARRANT__BACKEND__HEALTH_QUERY__INIT;

	req.request_id = id;
	req.body_case = BODY(HEALTH_QUERY);
	req.health_query = &h;
	a = call(c, &req);
	check(a->body_case == BODY(HEALTH) &&
	    a->health->status == WARRANT__BACKEND__HEALTH_STATUS__HEALTH_SERVING &&
	    (subs < 0 || (int64_t)a->health->subscribers == subs) &&
	    a->health->data_end_us > a->health->data_start_us,
	    "health: SERVING, %" PRIu64 " subscribers",
	    a->body_case == BODY(HEALTH) ? a->health->subscribers : 0);
	warrant__backend__envelope__free_unpacked(a, NULL);
}

/*
 * Pipelining: one write carries a long records query and small requests
 * with unordered ids; every id gets exactly one final answer, whatever the
 * order, and chunks of the stream never get mixed into other answers.
 */
static void
check_pipeline(struct conn *c, const struct target *t, const struct target *u,
    int64_t d0, int64_t d1)
{
	static const uint64_t ids[] = { 907, 3, 55, 1000000007, 12 };
	Warrant__Backend__Envelope		 env[5], *a;
	Warrant__Backend__RecordsQuery		 rq;
	Warrant__Backend__SubscriberQuery	 sq[3];
	Warrant__Backend__HealthQuery		 hq = WARRANT__BACKEND__HEALTH_QUERY__INIT;
	struct stream				 s;
	uint8_t					 md[32];
	uint64_t				 n = expect_cdr(t->id, d0, d1, md);
	int					 got[5] = { 0 }, order = 0, pos_records = -1;
	int					 ok = 1, finals = 0;

	records_req(&env[0], &rq, ids[0], 2, ident(ID(MSISDN), t->msisdn, 0), d0, d1);
	for (int i = 1; i < 4; i++) {
		warrant__backend__envelope__init(&env[i]);
		warrant__backend__subscriber_query__init(&sq[i - 1]);
		sq[i - 1].target = ident(i == 2 ? ID(IMSI) : ID(MSISDN),
		    i == 2 ? u->imsi : u->msisdn, 0);
		env[i].request_id = ids[i];
		env[i].body_case = BODY(SUBSCRIBER_QUERY);
		env[i].subscriber_query = &sq[i - 1];
	}
	sq[2].target = ident(ID(MSISDN), "529999999999", 0);
	warrant__backend__envelope__init(&env[4]);
	env[4].request_id = ids[4];
	env[4].body_case = BODY(HEALTH_QUERY);
	env[4].health_query = &hq;
	for (int i = 0; i < 5; i++)
		if (send_env(c, &env[i]) == -1)
			die("send");
	stream_init(&s, ids[0]);
	while (finals < 5 && (a = recv_env(c)) != NULL) {
		int k;
		for (k = 0; k < 5 && ids[k] != a->request_id; k++)
			;
		if (k == 5) {
			ok = 0;
			warrant__backend__envelope__free_unpacked(a, NULL);
			continue;
		}
		if (k == 0) {
			stream_feed(&s, a);
			if (s.final) {
				got[0]++, finals++;
				pos_records = order++;
			}
			continue;
		}
		got[k]++, finals++, order++;
		if ((k == 1 || k == 2) && (a->body_case != BODY(SUBSCRIBER) ||
		    strcmp(a->subscriber->msisdn, u->msisdn) != 0))
			ok = 0;
		if (k == 3 && !error_is(a, E(NOT_FOUND)))
			ok = 0;
		if (k == 4 && a->body_case != BODY(HEALTH))
			ok = 0;
		warrant__backend__envelope__free_unpacked(a, NULL);
	}
	for (int k = 0; k < 5; k++)
		if (got[k] != 1)
			ok = 0;
	check(ok && s.final == 1 && s.records == n && s.sum->count == n &&
	    memcmp(s.sum->sha256.data, md, 32) == 0,
	    "pipelined ids 907 3 55 1000000007 12: one right answer each "
	    "(the records summary, asked first, was final answer %d of 5)", pos_records + 1);
	stream_free(&s);
}

/*
 * Backpressure: 60 streams (some 400 KB, more than the kernel's socket
 * buffers hold) asked at once and not read for a second — the daemon runs
 * with a small --high-water, so its workers must wait — then read: chunks
 * of different requests interleave, and every stream still ends with the
 * right count and digest.
 */
static void
check_backpressure(struct conn *c, int64_t d0, int64_t d1)
{
	enum { N = 60 };
	static Warrant__Backend__Identifier	 ids[N];
	static char				 msisdn[N][16];
	Warrant__Backend__Envelope		 req, *a;
	Warrant__Backend__RecordsQuery		 q;
	struct stream				 s[N];
	uint8_t					 md[N][32];
	uint64_t				 want[N];
	int					 finals = 0, ok = 1;
	uint64_t				 total = 0;

	for (int k = 0; k < N; k++) {
		int64_t id = k + 1;
		snprintf(msisdn[k], sizeof(msisdn[k]), "%012" PRId64,
		    scalar("SELECT msisdn FROM subscriber WHERE id = ?1", id, 0));
		warrant__backend__identifier__init(&ids[k]);
		ids[k].type = ID(MSISDN);
		ids[k].value = msisdn[k];
		want[k] = k % 2 ? expect_loc("subscriber", id, d0, d1, md[k]) :
		    expect_cdr(id, d0, d1, md[k]);
		total += want[k];
		records_req(&req, &q, 500 + (uint64_t)k, k % 2 ? 1 : 2, &ids[k], d0, d1);
		if (send_env(c, &req) == -1)
			die("send");
		stream_init(&s[k], 500 + (uint64_t)k);
	}
	sleep(1);
	while (finals < N && (a = recv_env(c)) != NULL) {
		uint64_t k = a->request_id - 500;
		if (a->request_id < 500 || k >= N) {
			ok = 0;
			warrant__backend__envelope__free_unpacked(a, NULL);
			continue;
		}
		stream_feed(&s[k], a);
		finals += s[k].final != 0;
	}
	for (int k = 0; k < N; k++) {
		if (s[k].final != 1 || s[k].records != want[k] ||
		    memcmp(s[k].sum->sha256.data, md[k], 32) != 0 ||
		    memcmp(s[k].own, md[k], 32) != 0)
			ok = 0;
		stream_free(&s[k]);
	}
	check(ok && finals == N, "backpressure: %d streams (%" PRIu64 " records) asked at "
	    "once, read a second later: all complete and correct", N, total);
}

/* Cancel: the stream ends with ERROR_CANCELLED, or a summary if it won. */
static void
check_cancel(struct conn *c, const struct target *t, int64_t d0, int64_t d1)
{
	Warrant__Backend__Envelope	 req, cancel = WARRANT__BACKEND__ENVELOPE__INIT, *a;
	Warrant__Backend__RecordsQuery	 q;
	Warrant__Backend__Cancel	 cc = WARRANT__BACKEND__CANCEL__INIT;
	struct stream			 s;

	records_req(&req, &q, 60, 1, ident(ID(MSISDN), t->msisdn, 0), d0, d1);
	cancel.request_id = 60;
	cancel.body_case = BODY(CANCEL);
	cancel.cancel = &cc;
	if (send_env(c, &req) == -1 || send_env(c, &cancel) == -1)
		die("send");
	stream_init(&s, 60);
	while (!s.final && (a = recv_env(c)) != NULL)
		if (!stream_feed(&s, a))
			warrant__backend__envelope__free_unpacked(a, NULL);
	check(s.final == 1 || (s.final == 2 && s.error == E(CANCELLED)),
	    "cancel: the stream ends with %s", s.final == 1 ? "its summary (finished first)" :
	    "ERROR_CANCELLED");
	stream_free(&s);
	check_health(c, 61, scalar("SELECT count(*) FROM subscriber", 0, 0));
}

/* --- hostile input: each on its own connection --------------------------------- */

static void
garbage(const char *path, const char *what, const uint8_t *bytes, size_t len,
    int do_hello, int want_code)
{
	struct conn	c;
	int		code, closed;

	if (conn_unix(&c, path) == -1)
		die("connect %s", path);
	if (do_hello && hello(&c, NULL) == -1)
		die("hello");
	if (io_write(&c, bytes, len) == -1)
		die("write");
	closed = closed_by_peer(&c, &code);
	check(closed && code == want_code,
	    "%s: Error %d (request_id 0), then the back end closed the connection",
	    what, code);
	conn_close(&c);
}

static size_t
frame_of(const Warrant__Backend__Envelope *env, uint8_t *buf, size_t cap)
{
	size_t n = warrant__backend__envelope__get_packed_size(env);

	if (n + 4 > cap)
		die("frame too big");
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	warrant__backend__envelope__pack(env, buf + 4);
	return n + 4;
}

static void
check_garbage(const char *path)
{
	Warrant__Backend__Envelope		 env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__SubscriberQuery	 q = WARRANT__BACKEND__SUBSCRIBER_QUERY__INIT;
	Warrant__Backend__RecordsChunk		 chunk = WARRANT__BACKEND__RECORDS_CHUNK__INIT;
	Warrant__Backend__Hello			 h = WARRANT__BACKEND__HELLO__INIT;
	static const uint8_t big[] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };
	static const uint8_t zero[] = { 0, 0, 0, 0 };
	static const uint8_t junk[] = { 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t					 buf[512];
	size_t					 n;

	garbage(path, "length prefix 0xFFFFFFFF", big, sizeof(big), 1, E(MALFORMED));
	garbage(path, "length prefix 0", zero, sizeof(zero), 1, E(MALFORMED));
	garbage(path, "length 1 MiB + 1", (const uint8_t[]){ 0, 0x10, 0, 1 }, 4, 0,
	    E(MALFORMED));
	garbage(path, "malformed protobuf", junk, sizeof(junk), 1, E(MALFORMED));

	q.target = ident((Warrant__Backend__IdentifierType)99, "525512345678", 0);
	env.request_id = 5;
	env.body_case = BODY(SUBSCRIBER_QUERY);
	env.subscriber_query = &q;
	n = frame_of(&env, buf, sizeof(buf));
	garbage(path, "unknown enum value 99 in Identifier.type", buf, n, 1, E(MALFORMED));
	garbage(path, "a request before the hello", buf, n, 0, E(MALFORMED));

	q.target = ident(ID(MSISDN), "52551234\xff\xfe", 0);
	n = frame_of(&env, buf, sizeof(buf));
	garbage(path, "string that is not UTF-8", buf, n, 1, E(MALFORMED));

	q.target = ident(ID(MSISDN), "525512345678", 0);
	env.request_id = 0;
	n = frame_of(&env, buf, sizeof(buf));
	garbage(path, "request with request_id 0", buf, n, 1, E(MALFORMED));

	warrant__backend__envelope__init(&env);
	env.request_id = 9;
	env.body_case = BODY(RECORDS_CHUNK);
	env.records_chunk = &chunk;
	n = frame_of(&env, buf, sizeof(buf));
	garbage(path, "an answer (RecordsChunk) sent to the back end", buf, n, 1,
	    E(MALFORMED));

	warrant__backend__envelope__init(&env);
	h.version_major = 2;
	h.name = "from the future";
	env.body_case = BODY(HELLO);
	env.hello = &h;
	n = frame_of(&env, buf, sizeof(buf));
	garbage(path, "hello with major version 2", buf, n, 0, E(UNSUPPORTED));
}

static int
suite(const char *path, const char *dbpath)
{
	struct conn			 c;
	Warrant__Backend__Hello		*h = NULL;
	struct target			 t, u;
	int64_t				 now = now_us(), d0, d1, subs, best;
	unsigned			 per_chunk;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("%s: %s", dbpath, sqlite3_errmsg(db));
	d0 = scalar("SELECT value FROM meta WHERE key = 'data_start_us'", 0, 0);
	d1 = scalar("SELECT value FROM meta WHERE key = 'data_end_us'", 0, 0);
	subs = scalar("SELECT count(*) FROM subscriber", 0, 0);
	/* The busiest line, so that its records span several chunks. */
	best = scalar("SELECT subscriber FROM cdr GROUP BY subscriber"
	    " ORDER BY count(*) DESC, subscriber LIMIT 1", 0, 0);
	load_target(&t, best, now);
	load_target(&u, best == 1 ? 2 : 1, now);

	if (conn_unix(&c, path) == -1)
		die("connect %s: %s", path, strerror(errno));
	(void)hello(&c, &h);
	check(h != NULL && h->version_major == 1 && h->n_capabilities == 5 &&
	    h->max_records_per_chunk > 0 && h->max_records_per_chunk <= 500 &&
	    h->max_in_flight > 0, "hello: version %u.%u, %zu capabilities, %u records "
	    "per chunk", h ? h->version_major : 0, h ? h->version_minor : 0,
	    h ? h->n_capabilities : 0, h ? h->max_records_per_chunk : 0);
	if (h == NULL)
		die("no hello");
	per_chunk = h->max_records_per_chunk;
	warrant__backend__hello__free_unpacked(h, NULL);

	check_health(&c, 1, subs);
	check_subscriber(&c, &t, now);
	check_location(&c, &t, now);
	check_records(&c, &t, now, d0, d1, per_chunk);
	check_preservation(&c, &t, now);
	check_pipeline(&c, &t, &u, d0, d1);
	check_backpressure(&c, d0, d1);
	check_cancel(&c, &t, d0, d1);
	conn_close(&c);

	check_garbage(path);

	/* After all that, the daemon still serves a new connection. */
	if (conn_unix(&c, path) == -1)
		die("connect after the garbage: %s", strerror(errno));
	check(hello(&c, NULL) == 0, "new connection after the garbage: hello answered");
	check_health(&c, 2, subs);
	conn_close(&c);
	sqlite3_close(db);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}

/* --- TLS ---------------------------------------------------------------------- */

static int
tls_connect(struct conn *c, const char *spec, const char *ca, const char *cert,
    const char *key)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());
	int	 rc = -1;

	if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    (cert && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)))
		die("TLS client context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (conn_tcp(c, spec) == -1)
		die("connect %s", spec);
	if ((c->ssl = SSL_new(ctx)) != NULL && SSL_set_fd(c->ssl, c->fd) == 1 &&
	    SSL_set1_host(c->ssl, "localhost") == 1 && SSL_connect(c->ssl) == 1)
		rc = 0;
	SSL_CTX_free(ctx);
	return rc;
}

static int
tls_mode(int argc, char *argv[], int refused)
{
	struct conn	c;
	int		ok;

	if (argc < 4 || (!refused && argc < 6))
		die("usage");
	ok = tls_connect(&c, argv[2], argv[3], argc > 5 ? argv[4] : NULL,
	    argc > 5 ? argv[5] : NULL) == 0 && hello(&c, NULL) == 0;
	if (refused)
		check(!ok, "TLS connection %s refused", argc > 5 ? "with that certificate" :
		    "without a client certificate");
	else {
		check(ok, "mutual TLS connection: hello answered");
		if (ok)
			check_health(&c, 1, -1);
	}
	conn_close(&c);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "protocol") == 0 &&
	    strncmp(argv[2], "unix:", 5) == 0)
		return suite(argv[2] + 5, argv[3]);
	if (argc >= 2 && strcmp(argv[1], "tls") == 0)
		return tls_mode(argc, argv, 0);
	if (argc >= 2 && strcmp(argv[1], "tls-refused") == 0)
		return tls_mode(argc, argv, 1);
	fprintf(stderr, "usage: backend_client protocol unix:PATH DB\n"
	    "       backend_client tls HOST:PORT CA CERT KEY\n"
	    "       backend_client tls-refused HOST:PORT CA [CERT KEY]\n");
	return 2;
}
