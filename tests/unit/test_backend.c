/*
 * test_backend — the gateway side of the back-end protocol against a FAKE
 * back end served by this test on the same event loop (a Unix socket in a
 * temporary directory). The fake can answer normally, answer out of order,
 * be down at start, die in the middle of a stream, be slower than the
 * deadline, send garbage, send a 4 GiB length prefix, accept and never say
 * hello, answer hello and then nothing, send unknown request ids, undefined
 * enum values, a chunk after the summary, a wrong digest, typed errors and
 * retryable errors. Each case asserts the outcome, the attempts, what the
 * breaker did, and (under ASan) that nothing leaks. The fake computes the
 * record digest on its own, from the protocol's text, not with the code
 * under test.
 *
 * Over TCP the fake speaks mutual TLS with certificates made by the test
 * (its own CAs): the right ones connect, a server or a client certificate
 * from another CA is refused in the handshake.
 *
 * The streaming test sends 1,000,000 records through the fake into the
 * encrypted results store and asserts that the process's resident memory
 * (from /proc/self/statm, sampled every 20 ms) stays under its baseline
 * plus 64 MiB; the figures are printed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "backend.h"
#include "conf.h"
#include "log.h"
#include "results.h"

/*
 * ASan keeps freed memory in quarantine (256 MiB by default), which would
 * count in the resident set of the streaming test although the program
 * freed it: keep the quarantine small so that RSS measures the program.
 */
const char	*__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=8";
}

#define RSS_BOUND	(64 * 1024 * 1024)
#define MILLION		1000000

/* --- the fake back end ------------------------------------------------------- */

enum hello_mode { HELLO_OK = 0, HELLO_NONE, HELLO_GARBAGE, HELLO_HUGE,
	HELLO_VERSION2, HELLO_NO_RECORDS };
enum answer_mode { ANSWER_NORMAL = 0, ANSWER_REVERSE, ANSWER_NEVER,
	ANSWER_SLOW, ANSWER_ERROR, ANSWER_FAIL_N, ANSWER_GARBAGE, ANSWER_HUGE,
	ANSWER_UNKNOWN_ID, ANSWER_UNKNOWN_ENUM, ANSWER_DIE, ANSWER_AFTER_SUMMARY,
	ANSWER_BAD_DIGEST, ANSWER_SHORT_COUNT };

#define FAKE_HELD_MAX	64

struct fconn;

struct delayed {
	struct fconn			*fc;
	struct event			*ev;
	Warrant__Backend__Envelope	*env;
};

struct fconn {
	struct fake			*f;
	struct bufferevent		*bev;
	unsigned			 index;
	Warrant__Backend__Envelope	*held[FAKE_HELD_MAX];
	unsigned			 nheld;
	struct delayed			*delayed[FAKE_HELD_MAX];
	unsigned			 ndelayed;
	/* one records stream at a time */
	bool				 streaming;
	uint64_t			 sid;
	bool				 comm;
	uint64_t			 next, total;
	uint32_t			 seq;
	EVP_MD_CTX			*sha;
};

struct fake {
	struct event_base	*base;
	char			 path[100];	/* fits sun_path */
	struct evconnlistener	*lst;
	SSL_CTX			*ssl;		/* TCP + TLS instead of Unix */
	uint16_t		 port;
	struct fconn		*conns[64];
	enum hello_mode		 hello;
	enum answer_mode	 answer;
	bool			 first_only;	/* modes apply to connection 0 only */
	int			 error_code;
	unsigned		 fail_left;
	unsigned		 delay_ms;
	unsigned		 hold;
	uint64_t		 nrecords;
	unsigned		 chunk;
	unsigned		 die_after;	/* chunks */
	unsigned		 accepted, closed, requests, cancels;
};

static struct fake	 fake;
static struct event_base *base;
static char		 tmpdir[64];
static struct results	*store;
static struct wd_conf	*conf;
static struct backend_set *set;

static enum hello_mode
fc_hello(const struct fconn *fc)
{
	return fc->f->first_only && fc->index > 0 ? HELLO_OK : fc->f->hello;
}

static enum answer_mode
fc_answer(const struct fconn *fc)
{
	return fc->f->first_only && fc->index > 0 ? ANSWER_NORMAL : fc->f->answer;
}

static void
fsend(struct fconn *fc, const Warrant__Backend__Envelope *env)
{
	size_t	 n = protobuf_c_message_get_packed_size(&env->base);
	uint8_t	*buf = malloc(n + 4);

	assert_non_null(buf);
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	protobuf_c_message_pack(&env->base, buf + 4);
	bufferevent_write(fc->bev, buf, n + 4);
	free(buf);
}

static void
fsend_raw(struct fconn *fc, const void *p, size_t n)
{
	bufferevent_write(fc->bev, p, n);
}

static void
fsend_error(struct fconn *fc, uint64_t id, int code, unsigned retry_after)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Error		e = WARRANT__BACKEND__ERROR__INIT;

	e.code = code;
	e.message = "fake says so";
	e.retry_after_ms = retry_after;
	env.request_id = id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_ERROR;
	env.error = &e;
	fsend(fc, &env);
}

static void
fconn_free(struct fconn *fc)
{
	struct fake	*f = fc->f;
	unsigned	 i;

	for (i = 0; i < fc->nheld; i++)
		warrant__backend__envelope__free_unpacked(fc->held[i], NULL);
	for (i = 0; i < fc->ndelayed; i++) {
		event_free(fc->delayed[i]->ev);
		warrant__backend__envelope__free_unpacked(fc->delayed[i]->env,
		    NULL);
		free(fc->delayed[i]);
	}
	EVP_MD_CTX_free(fc->sha);
	bufferevent_free(fc->bev);
	for (i = 0; i < 64; i++)
		if (f->conns[i] == fc)
			f->conns[i] = NULL;
	f->closed++;
	free(fc);
}

/* --- what the fake answers --- */

static void
fill_cell(Warrant__Backend__Cell *cell, uint64_t i)
{
	warrant__backend__cell__init(cell);
	cell->mcc = "334";
	cell->mnc = "020";
	cell->lac = (uint32_t)(i % 65000) + 1;
	cell->ci = i + 1;
	cell->rat = WARRANT__BACKEND__RADIO_ACCESS__RAT_LTE;
	cell->latitude = 19.4326;
	cell->longitude = -99.1332;
}

static void
answer_subscriber(struct fconn *fc, const Warrant__Backend__Envelope *q,
    uint64_t id, int contract)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Subscriber	s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	Warrant__Backend__Address	a = WARRANT__BACKEND__ADDRESS__INIT;

	a.street = "Paseo de la Reforma";
	a.exterior_number = "222";
	a.state = WARRANT__BACKEND__MEXICAN_STATE__STATE_CIUDAD_DE_MEXICO;
	a.postal_code = "06600";
	s.given_names = "Ana";
	s.first_surname = "López";
	s.address = &a;
	/* Echo the target, so out-of-order answers can be matched. */
	s.msisdn = q->subscriber_query->target->value;
	s.imsi = "334020123456789";
	s.contract = contract;
	env.request_id = id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER;
	env.subscriber = &s;
	fsend(fc, &env);
}

static void
answer_location(struct fconn *fc, uint64_t id)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Location	l = WARRANT__BACKEND__LOCATION__INIT;
	Warrant__Backend__Cell		cell;

	fill_cell(&cell, 7);
	l.cell = &cell;
	l.latitude = 19.43;
	l.longitude = -99.13;
	l.accuracy_m = 150;
	l.source = WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_NETWORK;
	l.fix_us = 1767225600000000LL;
	env.request_id = id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_LOCATION;
	env.location = &l;
	fsend(fc, &env);
}

static void
answer_preservation(struct fconn *fc, const Warrant__Backend__Envelope *q)
{
	Warrant__Backend__Envelope	 env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__PreservationAck ack = WARRANT__BACKEND__PRESERVATION_ACK__INIT;

	ack.action = q->preservation->action;
	ack.until_us = q->preservation->until_us;
	ack.records_held = 12;
	env.request_id = q->request_id;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION_ACK;
	env.preservation_ack = &ack;
	fsend(fc, &env);
}

/* Record i of a stream, and its digest contribution (the protocol's text). */
static void
stream_record(struct fconn *fc, uint64_t i, Warrant__Backend__Record *r,
    Warrant__Backend__LocationRecord *lr, Warrant__Backend__CommRecord *cr,
    Warrant__Backend__Cell *cell)
{
	uint8_t	buf[512], len[4];
	size_t	n;

	warrant__backend__record__init(r);
	fill_cell(cell, i);
	if (fc->comm) {
		warrant__backend__comm_record__init(cr);
		cr->service = WARRANT__BACKEND__SERVICE_TYPE__SERVICE_VOICE;
		cr->direction = WARRANT__BACKEND__DIRECTION__DIRECTION_ORIGINATING;
		cr->a_party = "525512345678";
		cr->b_party = "525587654321";
		cr->start_us = 1767225600000000LL + (int64_t)i * 1000000;
		cr->duration_s = (uint32_t)(i % 600);
		cr->cell_start = cell;
		r->kind_case = WARRANT__BACKEND__RECORD__KIND_COMM;
		r->comm = cr;
	} else {
		warrant__backend__location_record__init(lr);
		lr->time_us = 1767225600000000LL + (int64_t)i * 1000000;
		lr->cell = cell;
		lr->accuracy_m = 300;
		lr->source = WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_NETWORK;
		r->kind_case = WARRANT__BACKEND__RECORD__KIND_LOCATION;
		r->location = lr;
	}
	n = protobuf_c_message_pack(&r->base, buf);
	assert_true(n < sizeof(buf));
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	EVP_DigestUpdate(fc->sha, len, 4);
	EVP_DigestUpdate(fc->sha, buf, n);
}

static void
stream_summary(struct fconn *fc)
{
	Warrant__Backend__Envelope	 env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__RecordsSummary s = WARRANT__BACKEND__RECORDS_SUMMARY__INIT;
	uint8_t				 sha[32];
	enum answer_mode		 mode = fc_answer(fc);

	EVP_DigestFinal_ex(fc->sha, sha, NULL);
	if (mode == ANSWER_BAD_DIGEST)
		sha[5] ^= 1;
	s.count = fc->total - (mode == ANSWER_SHORT_COUNT);
	s.chunks = fc->seq;
	s.sha256.data = sha;
	s.sha256.len = 32;
	env.request_id = fc->sid;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_SUMMARY;
	env.records_summary = &s;
	fsend(fc, &env);
	fc->streaming = false;
}

/* Write chunks while the socket keeps up; the write callback resumes. */
static void
stream_pump(struct fconn *fc)
{
	struct fake			*f = fc->f;
	Warrant__Backend__Envelope	 env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__RecordsChunk	 ch = WARRANT__BACKEND__RECORDS_CHUNK__INIT;
	Warrant__Backend__Record	 rec[500], *recp[500];
	Warrant__Backend__LocationRecord lr[500];
	Warrant__Backend__CommRecord	 cr[500];
	Warrant__Backend__Cell		 cell[500];
	unsigned			 k;

	while (fc->streaming &&
	    evbuffer_get_length(bufferevent_get_output(fc->bev)) < 256 * 1024) {
		if (fc->next == fc->total) {
			stream_summary(fc);
			if (fc_answer(fc) == ANSWER_AFTER_SUMMARY) {
				/* One more chunk for the finished request. */
				stream_record(fc, fc->next, &rec[0], &lr[0],
				    &cr[0], &cell[0]);
				recp[0] = &rec[0];
				ch.seq = fc->seq;
				ch.n_records = 1;
				ch.records = recp;
				env.request_id = fc->sid;
				env.body_case =
				    WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK;
				env.records_chunk = &ch;
				fsend(fc, &env);
			}
			return;
		}
		if (fc_answer(fc) == ANSWER_DIE && fc->seq == f->die_after) {
			fconn_free(fc);
			return;
		}
		for (k = 0; k < f->chunk && fc->next < fc->total; k++) {
			stream_record(fc, fc->next++, &rec[k], &lr[k], &cr[k],
			    &cell[k]);
			recp[k] = &rec[k];
		}
		ch.seq = fc->seq++;
		ch.n_records = k;
		ch.records = recp;
		env.request_id = fc->sid;
		env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK;
		env.records_chunk = &ch;
		fsend(fc, &env);
	}
}

static void
fake_writecb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	stream_pump(arg);
}

static void
stream_start(struct fconn *fc, const Warrant__Backend__Envelope *q)
{
	fc->streaming = true;
	fc->sid = q->request_id;
	fc->comm = q->records_query->kind ==
	    WARRANT__BACKEND__RECORDS_KIND__RECORDS_COMMUNICATIONS;
	fc->next = 0;
	fc->total = fc->f->nrecords;
	fc->seq = 0;
	EVP_MD_CTX_free(fc->sha);
	assert_non_null(fc->sha = EVP_MD_CTX_new());
	EVP_DigestInit_ex(fc->sha, EVP_sha256(), NULL);
	stream_pump(fc);
}

/* A normal answer to q, under request id id. */
static void
answer(struct fconn *fc, const Warrant__Backend__Envelope *q, uint64_t id)
{
	switch (q->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER_QUERY:
		answer_subscriber(fc, q, id,
		    WARRANT__BACKEND__CONTRACT_TYPE__CONTRACT_POSTPAID);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_LOCATION_QUERY:
		answer_location(fc, id);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION:
		answer_preservation(fc, q);
		break;
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_QUERY:
		stream_start(fc, q);
		break;
	default:
		fail_msg("the fake got an unexpected body %d", q->body_case);
	}
}

static void
fake_hello(struct fconn *fc)
{
	static const Warrant__Backend__RequestKind all[] = { 1, 2, 3, 4, 5 };
	static const Warrant__Backend__RequestKind norec[] = { 1, 2, 3, 5 };
	static const Warrant__Backend__IdentifierType ids[] = { 1, 2, 3, 4 };
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Hello		h = WARRANT__BACKEND__HELLO__INIT;

	switch (fc_hello(fc)) {
	case HELLO_NONE:
		return;
	case HELLO_GARBAGE:
		fsend_raw(fc, "\x00\x00\x00\x03\xff\xff\xff", 7);
		return;
	case HELLO_HUGE:
		fsend_raw(fc, "\xff\xff\xff\xff", 4);
		return;
	default:
		break;
	}
	h.version_major = fc_hello(fc) == HELLO_VERSION2 ? 2 : 1;
	h.name = "fake-backend";
	h.capabilities = (Warrant__Backend__RequestKind *)
	    (fc_hello(fc) == HELLO_NO_RECORDS ? norec : all);
	h.n_capabilities = fc_hello(fc) == HELLO_NO_RECORDS ? 4 : 5;
	h.identifiers = (Warrant__Backend__IdentifierType *)ids;
	h.n_identifiers = 4;
	h.max_in_flight = 32;
	h.max_records_per_chunk = 500;
	h.retention_days = 730;
	env.body_case = WARRANT__BACKEND__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	fsend(fc, &env);
}

static void
fake_delayedcb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed	*d = arg;
	struct fconn	*fc = d->fc;
	unsigned	 i;

	(void)fd;
	(void)what;
	answer(fc, d->env, d->env->request_id);
	for (i = 0; i < fc->ndelayed; i++)
		if (fc->delayed[i] == d)
			fc->delayed[i] = fc->delayed[--fc->ndelayed];
	event_free(d->ev);
	warrant__backend__envelope__free_unpacked(d->env, NULL);
	free(d);
}

/* A query; returns false if fc was freed. Takes env. */
static bool
fake_query(struct fconn *fc, Warrant__Backend__Envelope *env)
{
	struct fake	*f = fc->f;
	struct delayed	*d;
	struct timeval	 tv;
	uint64_t	 id = env->request_id;
	unsigned	 idx = fc->index % 64;

	f->requests++;
	switch (fc_answer(fc)) {
	case ANSWER_REVERSE:
	case ANSWER_NEVER:
		assert_true(fc->nheld < FAKE_HELD_MAX);
		fc->held[fc->nheld++] = env;
		if (fc_answer(fc) == ANSWER_REVERSE && fc->nheld == f->hold)
			while (fc->nheld > 0) {
				env = fc->held[--fc->nheld];
				answer(fc, env, env->request_id);
				warrant__backend__envelope__free_unpacked(env, NULL);
			}
		return true;
	case ANSWER_SLOW:
		assert_non_null(d = calloc(1, sizeof(*d)));
		d->fc = fc;
		d->env = env;
		d->ev = evtimer_new(f->base, fake_delayedcb, d);
		tv.tv_sec = f->delay_ms / 1000;
		tv.tv_usec = (f->delay_ms % 1000) * 1000;
		evtimer_add(d->ev, &tv);
		fc->delayed[fc->ndelayed++] = d;
		return true;
	case ANSWER_ERROR:
		fsend_error(fc, id, f->error_code, 0);
		break;
	case ANSWER_FAIL_N:
		if (f->fail_left > 0) {
			f->fail_left--;
			fsend_error(fc, id, WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE, 1);
		} else
			answer(fc, env, id);
		break;
	case ANSWER_GARBAGE:
		fsend_raw(fc, "\x00\x00\x00\x04\xde\xad\xbe\xef", 8);
		break;
	case ANSWER_HUGE:
		fsend_raw(fc, "\xff\xff\xff\xff\x0a\x0b", 6);
		break;
	case ANSWER_UNKNOWN_ID:
		answer(fc, env, id + 1000);
		break;
	case ANSWER_UNKNOWN_ENUM:
		answer_subscriber(fc, env, id, 42);
		break;
	default:
		answer(fc, env, id);
		break;
	}
	warrant__backend__envelope__free_unpacked(env, NULL);
	return f->conns[idx] == fc;	/* not freed meanwhile (DIE) */
}

static void
fake_cancel(struct fconn *fc, uint64_t id)
{
	unsigned	i;

	fc->f->cancels++;
	for (i = 0; i < fc->nheld; i++)
		if (fc->held[i]->request_id == id) {
			warrant__backend__envelope__free_unpacked(fc->held[i], NULL);
			fc->held[i] = fc->held[--fc->nheld];
			fsend_error(fc, id, WARRANT__BACKEND__ERROR_CODE__ERROR_CANCELLED,
			    0);
			return;
		}
	/* SLOW answers are sent late, as their one final message. */
}

static void
fake_readcb(struct bufferevent *bev, void *arg)
{
	struct fconn			*fc = arg;
	struct evbuffer			*in = bufferevent_get_input(bev);
	Warrant__Backend__Envelope	*env;
	uint8_t				 hdr[4];
	size_t				 n;

	while (evbuffer_get_length(in) >= 4) {
		evbuffer_copyout(in, hdr, 4);
		n = (size_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
		assert_true(n > 0 && n <= 1048576);
		if (evbuffer_get_length(in) < n + 4)
			return;
		evbuffer_drain(in, 4);
		env = warrant__backend__envelope__unpack(NULL, n,
		    evbuffer_pullup(in, (ev_ssize_t)n));
		evbuffer_drain(in, n);
		assert_non_null(env);
		if (env->body_case == WARRANT__BACKEND__ENVELOPE__BODY_HELLO) {
			assert_int_equal(env->hello->version_major, 1);
			warrant__backend__envelope__free_unpacked(env, NULL);
			fake_hello(fc);
		} else if (env->body_case == WARRANT__BACKEND__ENVELOPE__BODY_CANCEL) {
			fake_cancel(fc, env->request_id);
			warrant__backend__envelope__free_unpacked(env, NULL);
		} else if (!fake_query(fc, env))
			return;		/* the fake closed this connection */
	}
}

static void
fake_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fconn_free(arg);
}

static void
fake_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fake	*f = arg;
	struct fconn	*fc;

	(void)l;
	(void)sa;
	(void)salen;
	assert_non_null(fc = calloc(1, sizeof(*fc)));
	fc->f = f;
	fc->index = f->accepted++;
	f->conns[fc->index % 64] = fc;
	if (f->ssl != NULL)
		fc->bev = bufferevent_openssl_socket_new(f->base, fd,
		    SSL_new(f->ssl), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
	else
		fc->bev = bufferevent_socket_new(f->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(fc->bev);
	bufferevent_setcb(fc->bev, fake_readcb, fake_writecb, fake_eventcb, fc);
	bufferevent_setwatermark(fc->bev, EV_WRITE, 64 * 1024, 0);
	bufferevent_enable(fc->bev, EV_READ | EV_WRITE);
}

static void
fake_listen(void)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fake.path);
	unlink(fake.path);
	fake.lst = evconnlistener_new_bind(base, fake_acceptcb, &fake,
	    LEV_OPT_CLOSE_ON_FREE, 16, (struct sockaddr *)&sun, sizeof(sun));
	assert_non_null(fake.lst);
}

/* TCP on 127.0.0.1, an ephemeral port, TLS with ctx. */
static void
fake_listen_tls(SSL_CTX *ctx)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.ssl = ctx;
	fake.lst = evconnlistener_new_bind(base, fake_acceptcb, &fake,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(fake.lst);
	assert_int_equal(getsockname(evconnlistener_get_fd(fake.lst),
	    (struct sockaddr *)&sin, &len), 0);
	fake.port = ntohs(sin.sin_port);
}

static void
fake_stop(void)
{
	unsigned	i;

	if (fake.lst != NULL)
		evconnlistener_free(fake.lst);
	fake.lst = NULL;
	unlink(fake.path);
	for (i = 0; i < 64; i++)
		if (fake.conns[i] != NULL)
			fconn_free(fake.conns[i]);
	SSL_CTX_free(fake.ssl);
	fake.ssl = NULL;
}

/* --- the gateway's side ------------------------------------------------------- */

struct got {
	int		 done;
	int		 order;
	enum backend_outcome outcome;
	unsigned	 attempts;
	uint64_t	 count;
	uint64_t	 duration_us;
	uint8_t		 sha[32];
	bool		 stored;
	uint8_t		 held[4096];	/* a held answer's stored form */
	size_t		 held_len;
	char		 name[BACKEND_RESULT_NAME_MAX];
	char		 detail[256];
	char		 backend[64];
	char		 msisdn[32];
	uint32_t	 action;
	bool		 has_subscriber, has_location, has_preservation;
	int		 contract;
	int64_t		 until_us;
};

static int	ndone;
static bool	timed_out;

static void
on_result(const struct backend_result *r, void *arg)
{
	struct got	*g = arg;

	assert_int_equal(g->done, 0);		/* exactly once */
	g->done = 1;
	g->order = ndone++;
	g->outcome = r->outcome;
	g->attempts = r->attempts;
	g->count = r->count;
	g->duration_us = r->duration_us;
	memcpy(g->sha, r->sha256, 32);
	g->stored = r->stored;
	if (r->data != NULL) {
		assert_true(r->len <= sizeof(g->held));
		memcpy(g->held, r->data, r->len);
		g->held_len = r->len;
	}
	snprintf(g->name, sizeof(g->name), "%s", r->result_name);
	snprintf(g->detail, sizeof(g->detail), "%s", r->detail);
	snprintf(g->backend, sizeof(g->backend), "%s", r->backend);
	g->action = r->query->action_id;
	if ((g->has_subscriber = r->subscriber != NULL)) {
		snprintf(g->msisdn, sizeof(g->msisdn), "%s", r->subscriber->msisdn);
		g->contract = r->subscriber->contract;
	}
	if ((g->has_preservation = r->preservation != NULL))
		g->until_us = r->preservation->until_us;
	g->has_location = r->location != NULL;
}

static void
timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = true;
	event_base_loopbreak(base);
}

/* Run the loop until *n reaches want, or ms pass. */
static void
run_until(int *n, int want, unsigned ms)
{
	struct event	*t = evtimer_new(base, timeoutcb, NULL);
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	timed_out = false;
	evtimer_add(t, &tv);
	while (*n < want && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	if (*n < want)
		fail_msg("timed out after %u ms (%d of %d done)", ms, *n, want);
}

static void
run_for(unsigned ms)
{
	struct event	*t = evtimer_new(base, timeoutcb, NULL);
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	timed_out = false;
	evtimer_add(t, &tv);
	while (!timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

/* What the module logs (to stderr, log_init to_stderr), captured. */
static char	logtext[32768];
static int	saved_stderr = -1;

static void
log_capture(void)
{
	char	path[PATH_MAX];
	int	fd;

	snprintf(path, sizeof(path), "%s/log", tmpdir);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) != -1);
	fflush(stderr);
	assert_true((saved_stderr = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	close(fd);
}

static int
log_release(const char *what)
{
	char		 path[PATH_MAX];
	const char	*p;
	ssize_t		 n;
	int		 fd, count = 0;

	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) != -1);
	close(saved_stderr);
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	n = read(fd, logtext, sizeof(logtext) - 1);
	close(fd);
	logtext[n > 0 ? n : 0] = '\0';
	for (p = logtext; (p = strstr(p, what)) != NULL; p++)
		count++;
	return count;
}

static struct wd_conf *
mkconf(unsigned deadline_ms, unsigned retries, unsigned conns,
    unsigned breaker, unsigned open_ms)
{
	struct wd_conf		*c;
	struct wd_backend	*b;
	char			 addr[PATH_MAX + 8];

	assert_non_null(c = calloc(1, sizeof(*c)));
	TAILQ_INIT(&c->authorities);
	TAILQ_INIT(&c->officials);
	TAILQ_INIT(&c->backends);
	assert_non_null(b = calloc(1, sizeof(*b)));
	snprintf(addr, sizeof(addr), "unix:%s", fake.path);
	b->name = strdup("hlr-test");
	b->address = strdup(addr);
	b->unix_path = strdup(fake.path);
	for (int t = 0; t < WD_REQ_INTERCEPTION; t++)
		b->serves[t] = true;
	b->deadline_ms = deadline_ms;
	b->retries = retries;
	b->connections = conns;
	b->breaker_failures = breaker;
	b->breaker_open_ms = open_ms;
	TAILQ_INSERT_TAIL(&c->backends, b, entry);
	return c;
}

/* A set over the fake, with these settings. */
static void
start(unsigned deadline_ms, unsigned retries, unsigned conns,
    unsigned breaker, unsigned open_ms)
{
	conf = mkconf(deadline_ms, retries, conns, breaker, open_ms);
	assert_non_null(set = backend_set_new(base, conf, store));
	assert_true(backend_serves(set, WD_REQ_RECORDS));
	assert_false(backend_serves(set, WD_REQ_INTERCEPTION));
}

static unsigned	refno;

static struct backend_query
mkquery(enum wd_reqtype type, const char *msisdn, uint32_t action)
{
	struct backend_query	q;

	memset(&q, 0, sizeof(q));
	q.type = type;
	q.id.type = WD_ID_MSISDN;
	snprintf(q.id.value, sizeof(q.id.value), "%s", msisdn);
	q.start_us = 1767225600000000LL;
	q.end_us = q.start_us + 86400000000LL;
	q.until_us = q.end_us;
	snprintf(q.carrier_ref, sizeof(q.carrier_ref), "MXC-20260301-%08u",
	    ++refno);
	q.action_id = action;
	return q;
}

static void
call(enum wd_reqtype type, const char *msisdn, uint32_t action, struct got *g)
{
	struct backend_query	q = mkquery(type, msisdn, action);

	memset(g, 0, sizeof(*g));
	assert_int_equal(backend_call(set, &q, on_result, g), 0);
	/* Never called back from inside backend_call. */
	assert_int_equal(g->done, 0);
}

/* The stored result's plaintext digest and count, read back. */
static void
assert_stored(const struct got *g)
{
	struct results_reader	*rd;
	const uint8_t		*data;
	size_t			 len;
	EVP_MD_CTX		*md;
	uint8_t			 sha[32];
	int			 rc;

	assert_true(g->stored);
	assert_non_null(rd = results_reader_open(store, g->name));
	assert_int_equal(results_reader_count(rd), g->count);
	assert_memory_equal(results_reader_sha256(rd), g->sha, 32);
	assert_non_null(md = EVP_MD_CTX_new());
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((rc = results_read(rd, &data, &len)) == 1)
		EVP_DigestUpdate(md, data, len);
	assert_int_equal(rc, 0);
	EVP_DigestFinal_ex(md, sha, NULL);
	EVP_MD_CTX_free(md);
	assert_memory_equal(sha, g->sha, 32);
	results_reader_close(rd);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	char	key[PATH_MAX];
	uint8_t	k[32];
	int	fd;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_backend.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	memset(&fake, 0, sizeof(fake));
	fake.chunk = 500;
	fake.nrecords = 1234;
	snprintf(fake.path, sizeof(fake.path), "%s/sock", tmpdir);
	if ((base = event_base_new()) == NULL)
		return -1;
	fake.base = base;
	snprintf(key, sizeof(key), "%s/results.key", tmpdir);
	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)(i * 13 + 1);
	if ((fd = open(key, O_WRONLY | O_CREAT, 0600)) == -1 ||
	    write(fd, k, sizeof(k)) != (ssize_t)sizeof(k))
		return -1;
	close(fd);
	if ((store = results_open(tmpdir, key, 3600)) == NULL)
		return -1;
	ndone = 0;
	refno = 0;
	set = NULL;
	conf = NULL;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	backend_set_free(set);
	set = NULL;
	fake_stop();
	results_close(store);
	conf_free(conf);
	event_base_free(base);
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the cases ---------------------------------------------------------------- */

static void
test_answers(void **state)
{
	struct got	s, l, p, h, r;

	(void)state;
	fake_listen();
	start(2000, 3, 2, 5, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &s);
	call(WD_REQ_LOCATION_RT, "525512345678", 1, &l);
	call(WD_REQ_PRESERVATION, "525512345678", 2, &p);
	call(WD_REQ_LOCATION_HIST, "525512345678", 3, &h);
	call(WD_REQ_RECORDS, "525512345678", 4, &r);
	run_until(&ndone, 5, 10000);

	assert_int_equal(s.outcome, BACKEND_OK);
	assert_int_equal(s.attempts, 1);
	assert_string_equal(s.backend, "hlr-test");
	assert_true(s.has_subscriber);
	assert_string_equal(s.msisdn, "525512345678");
	assert_int_equal(s.count, 1);
	assert_string_equal(s.name, "MXC-20260301-00000001.0.0");
	assert_stored(&s);
	assert_int_equal(l.outcome, BACKEND_OK);
	assert_true(l.has_location);
	assert_stored(&l);
	assert_int_equal(p.outcome, BACKEND_OK);
	assert_true(p.has_preservation);
	assert_int_equal(p.until_us, 1767225600000000LL + 86400000000LL);
	assert_stored(&p);
	/* Streams: 1234 records in 3 chunks, digest checked and stored. */
	assert_int_equal(h.outcome, BACKEND_OK);
	assert_false(h.has_location);
	assert_int_equal(h.count, 1234);
	assert_stored(&h);
	assert_int_equal(r.outcome, BACKEND_OK);
	assert_int_equal(r.count, 1234);
	assert_stored(&r);
	assert_memory_not_equal(h.sha, r.sha, 32);
	assert_int_equal(fake.requests, 5);
	assert_int_equal(backend_pending(set), 0);

	/* A task's second identifier is a result of its own. */
	{
		struct backend_query	q = mkquery(WD_REQ_SUBSCRIBER,
					    "525512345679", 0);

		q.id_index = 1;
		memset(&s, 0, sizeof(s));
		assert_int_equal(backend_call(set, &q, on_result, &s), 0);
		run_until(&ndone, 6, 5000);
		assert_int_equal(s.outcome, BACKEND_OK);
		assert_string_equal(s.name, "MXC-20260301-00000006.0.1");
		assert_stored(&s);
	}
}

/*
 * hold: a small answer is handed over in its stored form, nothing written;
 * backend_store() then stores exactly that (durable, same digest).
 */
static void
test_held(void **state)
{
	struct backend_query	q;
	struct got		h, st, rec;
	uint8_t			sha[32];
	char			name[BACKEND_RESULT_NAME_MAX];

	(void)state;
	fake_listen();
	start(2000, 3, 2, 5, 30000);
	q = mkquery(WD_REQ_SUBSCRIBER, "525512345678", 7);
	q.hold = true;
	memset(&h, 0, sizeof(h));
	assert_int_equal(backend_call(set, &q, on_result, &h), 0);
	run_until(&ndone, 1, 10000);
	assert_int_equal(h.outcome, BACKEND_OK);
	assert_true(h.has_subscriber);
	assert_false(h.stored);
	assert_true(h.held_len > 4);
	EVP_Digest(h.held, h.held_len, sha, NULL, EVP_sha256(), NULL);
	assert_memory_equal(sha, h.sha, 32);
	snprintf(name, sizeof(name), "%s.7.0", q.carrier_ref);
	assert_false(results_exists(store, name));

	/* Not carried after all: stored under the call's name, durable. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(backend_store(set, &q, h.held, h.held_len, on_result,
	    &st), 0);
	assert_int_equal(st.done, 0);	/* never from inside */
	run_until(&ndone, 2, 10000);
	assert_int_equal(st.outcome, BACKEND_OK);
	assert_int_equal(st.count, 1);
	assert_string_equal(st.name, name);
	assert_memory_equal(st.sha, h.sha, 32);
	assert_stored(&st);
	assert_true(results_exists(store, name));
	assert_int_equal(fake.requests, 1);	/* no second call */

	/* Streamed answers are stored whatever hold says. */
	q = mkquery(WD_REQ_RECORDS, "525512345678", 8);
	q.hold = true;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(backend_call(set, &q, on_result, &rec), 0);
	run_until(&ndone, 3, 10000);
	assert_int_equal(rec.outcome, BACKEND_OK);
	assert_int_equal(rec.held_len, 0);
	assert_stored(&rec);
	assert_int_equal(backend_pending(set), 0);
}

static void
test_out_of_order(void **state)
{
	struct got	g[8];
	char		msisdn[32];
	unsigned	i;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_REVERSE;
	fake.hold = 8;
	start(2000, 0, 1, 5, 30000);	/* one connection: all pipelined on it */
	for (i = 0; i < 8; i++) {
		snprintf(msisdn, sizeof(msisdn), "5255000000%02u", i);
		call(WD_REQ_SUBSCRIBER, msisdn, (uint32_t)i, &g[i]);
	}
	assert_int_equal(backend_pending(set), 8);
	run_until(&ndone, 8, 5000);
	for (i = 0; i < 8; i++) {
		snprintf(msisdn, sizeof(msisdn), "5255000000%02u", i);
		assert_int_equal(g[i].outcome, BACKEND_OK);
		/* Each answer reached its own call, whatever the order. */
		assert_string_equal(g[i].msisdn, msisdn);
		assert_int_equal(g[i].action, (uint32_t)i);
	}
	/* Answered last-first: the last call completed first. */
	assert_true(g[7].order < g[0].order);
	assert_int_equal(fake.accepted, 1);
}

static void
test_down_at_start(void **state)
{
	struct got	g;
	char		status[256];

	(void)state;
	start(500, 2, 2, 100, 30000);	/* nothing listens */
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &g);
	run_until(&ndone, 1, 5000);
	assert_int_equal(g.outcome, BACKEND_UNAVAILABLE);
	assert_int_equal(g.attempts, 3);	/* the first and two retries */
	assert_non_null(strstr(g.detail, "cannot connect"));
	backend_status(set, status, sizeof(status));
	assert_string_equal(status, "hlr-test 0/2 up closed");

	/* It comes up: the next call connects and is answered. */
	fake_listen();
	call(WD_REQ_SUBSCRIBER, "525512345678", 1, &g);
	run_until(&ndone, 2, 5000);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_true(g.attempts >= 1);
}

static void
test_breaker(void **state)
{
	struct got	g[4], p;
	char		status[256];
	int		i;

	(void)state;
	start(300, 0, 1, 3, 300);	/* open after 3, half-open after 300 ms */
	for (i = 0; i < 3; i++) {
		call(WD_REQ_SUBSCRIBER, "525512345678", (uint32_t)i, &g[i]);
		run_until(&ndone, i + 1, 3000);
		assert_int_equal(g[i].outcome, BACKEND_UNAVAILABLE);
		assert_int_equal(g[i].attempts, 1);
	}
	backend_status(set, status, sizeof(status));
	assert_non_null(strstr(status, " open"));
	/* Open: fails at once, no attempt. */
	fake_listen();
	call(WD_REQ_SUBSCRIBER, "525512345678", 3, &g[3]);
	run_until(&ndone, 4, 1000);
	assert_int_equal(g[3].outcome, BACKEND_UNAVAILABLE);
	assert_int_equal(g[3].attempts, 0);
	assert_non_null(strstr(g[3].detail, "breaker open"));
	assert_int_equal(fake.requests, 0);

	/* Half-open: one probe goes; while it is out, others fail fast. */
	run_for(350);
	fake.answer = ANSWER_SLOW;
	fake.delay_ms = 100;
	call(WD_REQ_SUBSCRIBER, "525512345678", 4, &p);
	call(WD_REQ_SUBSCRIBER, "525512345678", 5, &g[0]);
	run_until(&ndone, 5, 1000);
	assert_int_equal(g[0].outcome, BACKEND_UNAVAILABLE);
	assert_int_equal(g[0].attempts, 0);
	assert_non_null(strstr(g[0].detail, "half-open"));
	run_until(&ndone, 6, 2000);
	assert_int_equal(p.outcome, BACKEND_OK);
	assert_int_equal(p.attempts, 1);
	backend_status(set, status, sizeof(status));
	assert_string_equal(status, "hlr-test 1/1 up closed");

	/* A failing probe opens it again. */
	fake.answer = ANSWER_ERROR;
	fake.error_code = WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL;
	for (i = 0; i < 3; i++) {
		call(WD_REQ_SUBSCRIBER, "525512345678", 10, &g[i]);
		run_until(&ndone, 7 + i, 2000);
		assert_int_equal(g[i].outcome, BACKEND_FAILED);
	}
	backend_status(set, status, sizeof(status));
	assert_non_null(strstr(status, " open"));
	run_for(350);
	call(WD_REQ_SUBSCRIBER, "525512345678", 11, &p);
	run_until(&ndone, 10, 2000);
	assert_int_equal(p.outcome, BACKEND_FAILED);
	assert_int_equal(p.attempts, 1);
	backend_status(set, status, sizeof(status));
	assert_non_null(strstr(status, " open"));
}

static void
test_typed_errors(void **state)
{
	static const struct { int code; enum backend_outcome want; } cases[] = {
		{ WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND, BACKEND_NOT_FOUND },
		{ WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_RETAINED,
		    BACKEND_NOT_RETAINED },
		{ WARRANT__BACKEND__ERROR_CODE__ERROR_OUTSIDE_RETENTION,
		    BACKEND_OUTSIDE_RETENTION },
		{ WARRANT__BACKEND__ERROR_CODE__ERROR_MALFORMED, BACKEND_MALFORMED },
		{ WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED,
		    BACKEND_UNSUPPORTED },
	};
	struct got	g;
	size_t		i;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_ERROR;
	/* Breaker of 1: a typed answer must not count as a failure. */
	start(1000, 3, 1, 1, 30000);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake.error_code = cases[i].code;
		call(WD_REQ_RECORDS, "525512345678", (uint32_t)i, &g);
		run_until(&ndone, (int)i + 1, 2000);
		assert_int_equal(g.outcome, cases[i].want);
		assert_int_equal(g.attempts, 1);	/* never retried */
		assert_non_null(strstr(g.detail, "fake says so"));
	}
	assert_int_equal(fake.requests, 5);

	/* The back end answered each time: the breaker stayed closed. */
	call(WD_REQ_SUBSCRIBER, "525512345678", 9, &g);
	run_until(&ndone, 6, 2000);
	assert_int_equal(g.attempts, 1);
}

/* Temporarily unavailable twice, then an answer: three attempts. */
static void
test_retry_then_ok(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_FAIL_N;
	fake.fail_left = 2;
	start(1000, 3, 1, 5, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 9, &g);
	run_until(&ndone, 1, 5000);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_int_equal(g.attempts, 3);
	assert_int_equal(fake.requests, 3);
}

static void
test_retries_exhausted(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_FAIL_N;
	fake.fail_left = 100;
	start(1000, 2, 1, 100, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &g);
	run_until(&ndone, 1, 5000);
	assert_int_equal(g.outcome, BACKEND_UNAVAILABLE);
	assert_int_equal(g.attempts, 3);
	assert_non_null(strstr(g.detail, "temporarily-unavailable"));
	assert_int_equal(fake.requests, 3);
}

static void
test_die_mid_stream(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_DIE;
	fake.first_only = true;		/* the reconnection behaves */
	fake.die_after = 2;
	fake.nrecords = 5000;
	start(2000, 3, 1, 5, 30000);
	call(WD_REQ_RECORDS, "525512345678", 0, &g);
	run_until(&ndone, 1, 10000);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_int_equal(g.attempts, 2);
	/* Only the whole second stream is stored, not the first's chunks. */
	assert_int_equal(g.count, 5000);
	assert_stored(&g);
	assert_int_equal(fake.accepted, 2);
}

static void
test_slow_beyond_deadline(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_SLOW;
	fake.delay_ms = 400;
	start(150, 1, 1, 100, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &g);
	run_until(&ndone, 1, 3000);
	assert_int_equal(g.outcome, BACKEND_DEADLINE);
	assert_int_equal(g.attempts, 2);
	assert_non_null(strstr(g.detail, "no answer within 150 ms"));
	/* The late answers arrive for cancelled ids: dropped, no reconnect. */
	run_for(700);
	assert_int_equal(fake.cancels, 2);
	assert_int_equal(fake.accepted, 1);
	assert_int_equal(fake.closed, 0);
	fake.answer = ANSWER_NORMAL;
	call(WD_REQ_SUBSCRIBER, "525512345678", 1, &g);
	run_until(&ndone, 2, 2000);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_int_equal(fake.accepted, 1);
}

static void
test_never_answers(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_NEVER;
	start(100, 2, 1, 100, 30000);
	call(WD_REQ_RECORDS, "525512345678", 0, &g);
	run_until(&ndone, 1, 3000);
	assert_int_equal(g.outcome, BACKEND_DEADLINE);
	assert_int_equal(g.attempts, 3);
	/* Each deadline cancelled its request; the fake said "cancelled". */
	run_for(100);
	assert_int_equal(fake.cancels, 3);
	assert_int_equal(fake.closed, 0);
}

static void
test_silent_accept(void **state)
{
	struct got	g;
	uint64_t	max_us;

	(void)state;
	fake_listen();
	fake.hello = HELLO_NONE;	/* accepts, never says hello */
	start(100, 2, 1, 100, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &g);
	run_until(&ndone, 1, 5000);
	assert_true(g.outcome == BACKEND_DEADLINE ||
	    g.outcome == BACKEND_UNAVAILABLE);
	assert_int_equal(g.attempts, 3);
	/* Three deadlines and two backoffs of at most 100 and 200 ms. */
	max_us = (3 * 100 + 100 + 200 + 300) * 1000;
	if (g.duration_us > max_us)
		fail_msg("took %llu us", (unsigned long long)g.duration_us);
	assert_int_equal(fake.requests, 0);
}

/* Hostile bytes: each closes the connection; the retry gets an answer. */
static void
hostile(enum hello_mode hm, enum answer_mode am, const char *want_log)
{
	struct got	g;
	int		n;

	fake_listen();
	fake.hello = hm;
	fake.answer = am;
	fake.first_only = true;
	log_capture();
	start(1000, 3, 1, 100, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &g);
	run_until(&ndone, 1, 5000);
	n = log_release(want_log);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_true(g.attempts <= 2);
	assert_int_equal(fake.accepted, 2);
	assert_true(fake.closed >= 1);
	/* Logged, once; and never the answer's contents. */
	if (n != 1)
		fail_msg("expected \"%s\" once in:\n%s", want_log, logtext);
	assert_null(strstr(logtext, "525512345678"));
	assert_null(strstr(logtext, "López"));
}

static void
test_garbage(void **state)
{
	(void)state;
	hostile(HELLO_OK, ANSWER_GARBAGE, "not a well-formed Envelope");
}

static void
test_garbage_hello(void **state)
{
	(void)state;
	hostile(HELLO_GARBAGE, ANSWER_NORMAL, "not a well-formed");
}

static void
test_huge_prefix(void **state)
{
	(void)state;
	hostile(HELLO_OK, ANSWER_HUGE, "longer than 1 MiB");
}

static void
test_huge_prefix_hello(void **state)
{
	(void)state;
	hostile(HELLO_HUGE, ANSWER_NORMAL, "longer than 1 MiB");
}

static void
test_unknown_id(void **state)
{
	(void)state;
	hostile(HELLO_OK, ANSWER_UNKNOWN_ID, "unknown request id");
}

static void
test_unknown_enum(void **state)
{
	(void)state;
	hostile(HELLO_OK, ANSWER_UNKNOWN_ENUM, "enum value");
}

static void
test_wrong_version(void **state)
{
	(void)state;
	hostile(HELLO_VERSION2, ANSWER_NORMAL, "speaks protocol 2.0");
}

static void
test_chunk_after_summary(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_AFTER_SUMMARY;
	fake.nrecords = 10;
	start(1000, 3, 1, 100, 30000);
	call(WD_REQ_RECORDS, "525512345678", 0, &g);
	run_until(&ndone, 1, 5000);
	/* The answer was whole; the extra chunk only costs the connection. */
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_int_equal(g.count, 10);
	assert_stored(&g);
	run_for(100);
	assert_int_equal(fake.closed, 1);
}

static void
test_bad_digest(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.answer = ANSWER_BAD_DIGEST;
	start(1000, 1, 1, 100, 30000);
	call(WD_REQ_LOCATION_HIST, "525512345678", 0, &g);
	run_until(&ndone, 1, 5000);
	assert_int_equal(g.outcome, BACKEND_INTEGRITY);
	assert_int_equal(g.attempts, 2);
	assert_non_null(strstr(g.detail, "digest differs"));
	/* Nothing stored under its name. */
	assert_null(results_reader_open(store, "MXC-20260301-00000001.0.0"));

	fake.answer = ANSWER_SHORT_COUNT;
	call(WD_REQ_LOCATION_HIST, "525512345678", 0, &g);
	run_until(&ndone, 2, 5000);
	assert_int_equal(g.outcome, BACKEND_INTEGRITY);
	assert_non_null(strstr(g.detail, "1234 records in 3 chunks received, "
	    "1233 in 3 announced"));
}

static void
test_capabilities(void **state)
{
	struct got	g;

	(void)state;
	fake_listen();
	fake.hello = HELLO_NO_RECORDS;
	start(1000, 3, 1, 1, 30000);
	call(WD_REQ_RECORDS, "525512345678", 0, &g);
	run_until(&ndone, 1, 2000);
	assert_int_equal(g.outcome, BACKEND_UNSUPPORTED);
	assert_int_equal(fake.requests, 0);
	call(WD_REQ_LOCATION_HIST, "525512345678", 1, &g);
	run_until(&ndone, 2, 2000);
	assert_int_equal(g.outcome, BACKEND_OK);
}

static void
test_refused_at_once(void **state)
{
	struct backend_query	 q;
	struct got		 g[5];
	struct wd_backend	*b;

	(void)state;
	fake_listen();
	conf = mkconf(1000, 3, 1, 5, 30000);
	b = TAILQ_FIRST(&conf->backends);
	b->serves[WD_REQ_PRESERVATION] = false;
	assert_non_null(set = backend_set_new(base, conf, store));
	memset(g, 0, sizeof(g));

	q = mkquery(WD_REQ_PRESERVATION, "525512345678", 0);
	assert_int_equal(backend_call(set, &q, on_result, &g[0]), 0);
	q = mkquery(WD_REQ_SUBSCRIBER, "", 0);
	assert_int_equal(backend_call(set, &q, on_result, &g[1]), 0);
	q = mkquery(WD_REQ_RECORDS, "525512345678", 0);
	q.end_us = q.start_us;
	assert_int_equal(backend_call(set, &q, on_result, &g[2]), 0);
	q = mkquery(WD_REQ_INTERCEPTION, "525512345678", 0);
	assert_int_equal(backend_call(set, &q, on_result, &g[3]), 0);
	q = mkquery(WD_REQ_SUBSCRIBER, "525512345678", 0);
	snprintf(q.carrier_ref, sizeof(q.carrier_ref), "../../etc");
	assert_int_equal(backend_call(set, &q, on_result, &g[4]), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(g[i].done, 0);
	run_until(&ndone, 5, 1000);
	assert_int_equal(g[0].outcome, BACKEND_UNAVAILABLE);
	assert_non_null(strstr(g[0].detail, "no back end serves preservation"));
	assert_int_equal(g[1].outcome, BACKEND_MALFORMED);
	assert_int_equal(g[2].outcome, BACKEND_MALFORMED);
	assert_int_equal(g[3].outcome, BACKEND_MALFORMED);
	assert_int_equal(g[4].outcome, BACKEND_MALFORMED);
	for (int i = 0; i < 5; i++)
		assert_int_equal(g[i].attempts, 0);
	assert_int_equal(fake.requests, 0);
}

/* Freeing the set calls back what is pending, once, as cancelled. */
static void
test_free_pending(void **state)
{
	struct got	g[3];

	(void)state;
	fake_listen();
	fake.answer = ANSWER_NEVER;
	start(5000, 3, 1, 5, 30000);
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &g[0]);
	call(WD_REQ_RECORDS, "525512345678", 1, &g[1]);
	run_for(100);
	assert_int_equal(fake.requests, 2);
	call(WD_REQ_LOCATION_RT, "525512345678", 2, &g[2]);
	backend_set_free(set);
	set = NULL;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g[i].done, 1);
		assert_int_equal(g[i].outcome, BACKEND_CANCELLED);
	}
}

/* A streamed answer without a store fails cleanly; small ones still work. */
static void
test_no_store(void **state)
{
	struct got	s, r;

	(void)state;
	fake_listen();
	conf = mkconf(1000, 0, 1, 5, 30000);
	assert_non_null(set = backend_set_new(base, conf, NULL));
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, &s);
	call(WD_REQ_RECORDS, "525512345678", 1, &r);
	run_until(&ndone, 2, 3000);
	assert_int_equal(s.outcome, BACKEND_OK);
	assert_false(s.stored);
	assert_true(s.has_subscriber);
	assert_int_equal(r.outcome, BACKEND_STORAGE);
}

static long
rss_bytes(void)
{
	FILE	*f = fopen("/proc/self/statm", "r");
	long	 size, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static long	rss_peak;

static void
rss_samplecb(evutil_socket_t fd, short what, void *arg)
{
	long	r = rss_bytes();

	(void)fd;
	(void)what;
	(void)arg;
	if (r > rss_peak)
		rss_peak = r;
}

static void
test_stream_million(void **state)
{
	struct got	 g;
	struct event	*sampler;
	struct timeval	 tv = { 0, 20000 };
	struct stat	 st;
	char		 path[PATH_MAX];
	long		 baseline;
	struct timespec	 t0, t1;

	(void)state;
	fake_listen();
	fake.nrecords = MILLION;
	start(10000, 0, 1, 5, 30000);
	run_for(50);		/* connected, hello done */
	baseline = rss_peak = rss_bytes();
	sampler = event_new(base, -1, EV_PERSIST, rss_samplecb, NULL);
	evtimer_add(sampler, &tv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	call(WD_REQ_RECORDS, "525512345678", 0, &g);
	run_until(&ndone, 1, 600000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	event_free(sampler);
	rss_samplecb(-1, 0, NULL);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_int_equal(g.count, MILLION);
	snprintf(path, sizeof(path), "%s/results/%s.res", tmpdir, g.name);
	assert_int_equal(stat(path, &st), 0);
	printf("stream of %d records: %.1f s, results file %.1f MiB, "
	    "RSS baseline %.1f MiB, peak %.1f MiB (+%.1f MiB, bound +%d MiB)\n",
	    MILLION, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	    st.st_size / 1048576.0, baseline / 1048576.0, rss_peak / 1048576.0,
	    (rss_peak - baseline) / 1048576.0, RSS_BOUND / 1048576);
	assert_true(rss_peak - baseline < RSS_BOUND);
	assert_stored(&g);
}

/* --- TLS ---------------------------------------------------------------------- */

struct pki_id {
	EVP_PKEY	*key;
	X509		*cert;
};

static void
pki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A P-256 key and a certificate for cn, self-signed if ca is NULL. */
static struct pki_id
pki_make(const char *cn, const struct pki_id *ca, bool is_ca)
{
	static long	 serial = 1;
	struct pki_id	 id;
	X509_NAME	*name;

	assert_non_null(id.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	assert_non_null(id.cert = X509_new());
	X509_set_version(id.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(id.cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(id.cert), 86400);
	X509_set_pubkey(id.cert, id.key);
	name = X509_get_subject_name(id.cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(id.cert, ca ? X509_get_subject_name(ca->cert) : name);
	pki_ext(id.cert, ca ? ca->cert : id.cert, NID_basic_constraints,
	    is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	assert_true(X509_sign(id.cert, ca ? ca->key : id.key, EVP_sha256()) > 0);
	return id;
}

static void
pki_free(struct pki_id *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
}

static char *
pki_write(const char *name, const struct pki_id *id, bool with_key)
{
	char	path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, id->cert), 1);
	fclose(f);
	if (with_key) {
		snprintf(path, sizeof(path), "%s/%s.key", tmpdir, name);
		assert_non_null(f = fopen(path, "w"));
		assert_int_equal(PEM_write_PrivateKey(f, id->key, NULL, NULL, 0,
		    NULL, NULL), 1);
		fclose(f);
		/* The daemon refuses keys others can read (strict modes). */
		assert_int_equal(chmod(path, 0600), 0);
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	}
	return strdup(path);
}

/* The fake's TLS: its certificate, and the CA its clients must chain to. */
static SSL_CTX *
pki_server(const struct pki_id *id, const struct pki_id *client_ca)
{
	SSL_CTX	*ctx;

	assert_non_null(ctx = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(SSL_CTX_use_certificate(ctx, id->cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, id->key), 1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx),
	    client_ca->cert), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
}

/* ca1 issues the back end's and our certificates; ca2 is a stranger. */
static void
tls_case(bool server_from_ca2, bool client_from_ca2, struct got *g)
{
	struct pki_id		 ca1, ca2, srv, cli;
	struct wd_backend	*b;
	char			 addr[64];

	ca1 = pki_make("backend CA", NULL, true);
	ca2 = pki_make("other CA", NULL, true);
	srv = pki_make("hlr.backend", server_from_ca2 ? &ca2 : &ca1, false);
	cli = pki_make("warrantd", client_from_ca2 ? &ca2 : &ca1, false);
	fake_listen_tls(pki_server(&srv, &ca1));

	conf = mkconf(1000, 1, 1, 100, 30000);
	b = TAILQ_FIRST(&conf->backends);
	free(b->unix_path);
	b->unix_path = NULL;
	free(b->address);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", fake.port);
	b->address = strdup(addr);
	b->host = strdup("127.0.0.1");
	b->port = fake.port;
	b->tls.cert = pki_write("client.pem", &cli, true);
	b->tls.ca = pki_write("ca.pem", &ca1, false);
	{
		char key[PATH_MAX];

		snprintf(key, sizeof(key), "%s.key", b->tls.cert);
		b->tls.key = strdup(key);
	}
	assert_non_null(set = backend_set_new(base, conf, store));
	call(WD_REQ_SUBSCRIBER, "525512345678", 0, g);
	run_until(&ndone, 1, 5000);
	pki_free(&ca1);
	pki_free(&ca2);
	pki_free(&srv);
	pki_free(&cli);
}

static void
test_tls(void **state)
{
	struct got	g;
	char		status[128];

	(void)state;
	tls_case(false, false, &g);
	assert_int_equal(g.outcome, BACKEND_OK);
	assert_int_equal(g.attempts, 1);
	assert_true(g.has_subscriber);
	assert_stored(&g);
	backend_status(set, status, sizeof(status));
	assert_string_equal(status, "hlr-test 1/1 up closed");
}

/* A back end whose certificate is not from its configured CA. */
static void
test_tls_wrong_server(void **state)
{
	struct got	g;

	(void)state;
	log_capture();
	tls_case(true, false, &g);
	assert_int_equal(log_release("certificate verify failed"), 1);
	assert_int_equal(g.outcome, BACKEND_UNAVAILABLE);
	assert_int_equal(g.attempts, 2);
	assert_non_null(strstr(g.detail, "TLS"));
	assert_int_equal(fake.requests, 0);
}

/* Our certificate is not from the CA the back end trusts. */
static void
test_tls_client_refused(void **state)
{
	struct got	g;

	(void)state;
	tls_case(false, true, &g);
	assert_int_not_equal(g.outcome, BACKEND_OK);
	assert_int_equal(g.attempts, 2);
	assert_int_equal(fake.requests, 0);
}

/* What warrantd -t checks: TLS files and the results key, no connection. */
static void
test_check(void **state)
{
	struct pki_id		 ca, cli;
	struct wd_backend	*b;
	char			 key[PATH_MAX];

	(void)state;
	ca = pki_make("backend CA", NULL, true);
	cli = pki_make("warrantd", &ca, false);
	conf = mkconf(1000, 1, 1, 5, 30000);
	b = TAILQ_FIRST(&conf->backends);
	b->tls.cert = pki_write("client.pem", &cli, true);
	b->tls.ca = pki_write("ca.pem", &ca, false);
	snprintf(key, sizeof(key), "%s.key", b->tls.cert);
	b->tls.key = strdup(key);
	snprintf(key, sizeof(key), "%s/results.key", tmpdir);
	conf->results.key = strdup(key);
	assert_int_equal(backend_check(conf), 0);
	assert_int_equal(fake.accepted, 0);

	/* Our key does not match our certificate. */
	free(b->tls.key);
	b->tls.key = pki_write("ca.pem", &ca, true);
	snprintf(key, sizeof(key), "%s.key", b->tls.key);
	free(b->tls.key);
	b->tls.key = strdup(key);
	log_capture();
	assert_int_equal(backend_check(conf), -1);
	assert_int_equal(log_release("backend hlr-test: tls:"), 1);

	/* A results key readable by others. */
	free(b->tls.cert);
	b->tls.cert = NULL;
	assert_int_equal(chmod(conf->results.key, 0640), 0);
	assert_int_equal(backend_check(conf), -1);
	assert_int_equal(chmod(conf->results.key, 0600), 0);
	assert_int_equal(backend_check(conf), 0);
	pki_free(&ca);
	pki_free(&cli);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_at_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_breaker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retries_exhausted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_die_mid_stream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slow_beyond_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_never_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_silent_accept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_hello, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_huge_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_prefix_hello, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_enum, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chunk_after_summary, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused_at_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_pending, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_wrong_server, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_client_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_million, setup,
		    teardown),
	};

	log_init("test_backend", 1, getenv("TEST_VERBOSE") != NULL);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
