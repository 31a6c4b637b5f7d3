/*
 * bclient — a load generator that speaks the back-end protocol
 * (proto/backend.proto, docs/backend.md) directly to warrant-backend over
 * its Unix socket, so that the back end's own throughput and latency can be
 * set beside what the gateway achieves through it (bench/backend/run).
 *
 *   bclient lookup  --socket PATH --msisdns FILE [-c CONNS] [-n INFLIGHT]
 *                   (--duration S | --requests N) [--warmup S] [--seed N]
 *   bclient records --socket PATH --msisdns FILE [-c CONNS] [-n INFLIGHT]
 *                   [--kind comm|location] (--start-us U --end-us U | --days D)
 *                   [--repeat N] [--batch N] [--full-decode]
 *   common: [--timeout S] [--kv]
 *
 * lookup: a closed loop of SubscriberQuery by MSISDN, each picked at random
 * (xorshift64*, --seed) from FILE, INFLIGHT requests outstanding in all,
 * spread over CONNS connections and pipelined on each; latency from the
 * request's write to its final answer in a log-linear histogram
 * (bench/hist.c, the one bench/loadgen uses).
 *
 * records: one RecordsQuery per line of FILE (times --repeat), INFLIGHT at
 * a time (with --batch N, in batches of N lines, each begun when the one
 * before is wholly answered: what the gateway does with the identifiers of
 * one HI-1 request submitted after another); every stream is checked against its summary (record count and
 * the SHA-256 of the protocol's RECORD DIGEST). By default chunks are
 * scanned at the wire level (records counted and hashed as the bytes they
 * arrived as, which for a canonical sender are the canonical encoding);
 * --full-decode unpacks every chunk with protobuf-c and re-serialises each
 * record for the digest, as the gateway's client does, to show that cost.
 *
 * One thread, one libevent loop: the client's own CPU is reported so that
 * what it takes from the machine is known.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "backend.pb-c.h"
#include "hist.h"

#define BODY(x)		WARRANT__BACKEND__ENVELOPE__BODY_ ## x
#define MAX_FRAME	WARRANT__BACKEND__LIMIT__LIMIT_MAX_FRAME_BYTES
#define MAX_CONNS	64
#define MAX_INFLIGHT	4096
#define MSISDN_LEN	12
#define DAY_US		(86400LL * 1000000LL)
#define NCODES		9	/* ErrorCode values 0..8 */

enum mode { MODE_LOOKUP, MODE_RECORDS };

struct opts {
	enum mode	 mode;
	const char	*socket;
	const char	*msisdns;
	unsigned	 conns;
	unsigned	 inflight;
	double		 duration;
	uint64_t	 requests;
	double		 warmup;
	uint64_t	 seed;
	int		 kind;		/* RecordsKind */
	int64_t		 start_us, end_us;
	unsigned	 days;
	unsigned	 repeat;
	unsigned	 batch;		/* records: lines per batch, 0 = none */
	bool		 full_decode;
	double		 timeout;
	bool		 kv;
};

/* One request in flight. */
struct slot {
	bool		 used;
	uint64_t	 id;
	uint64_t	 t0_ns;
	uint64_t	 first_ns;	/* records: first chunk */
	bool		 measured;	/* lookup: started after the warm-up */
	uint64_t	 records;
	uint32_t	 chunks;
	EVP_MD_CTX	*md;
};

struct bconn {
	struct bclient		*bc;
	unsigned		 index;
	struct bufferevent	*bev;
	bool			 ready;		/* hello exchanged */
	uint64_t		 next_id;
	unsigned		 quota;		/* requests it keeps in flight */
	unsigned		 busy;
	struct slot		*slots;		/* quota of them */
};

struct stats {
	uint64_t	ok;		/* Subscriber, or a verified stream */
	uint64_t	not_found;
	uint64_t	errors;		/* Error answers other than not-found */
	uint64_t	by_code[NCODES];
	uint64_t	mismatches;	/* stream count or digest wrong */
	uint64_t	records;
	uint64_t	chunks;
	uint64_t	bytes_in;	/* frame bytes received, headers included */
	uint64_t	rec_min, rec_max;
	struct hist	lat;		/* final answer, us */
	struct hist	first;		/* records: first chunk, us */
};

struct bclient {
	struct opts		 o;
	struct event_base	*base;
	struct bconn		 conns[MAX_CONNS];
	unsigned		 nready;
	char			(*msisdn)[MSISDN_LEN + 1];
	size_t			 nmsisdn;
	uint64_t		 rng;
	size_t			 next_work;	/* records: next item to send */
	size_t			 nwork;
	uint64_t		 sent;
	uint64_t		 done;
	uint64_t		 outstanding;
	bool			 stopping;	/* send nothing more */
	bool			 measuring;
	uint64_t		 measure_ns, end_ns, last_ns;
	uint64_t		 last_progress_ns;
	struct event		*tick;
	struct stats		 st;
	Warrant__Backend__Hello	*hello;		/* the server's, first connection */
	int64_t			 data_start_us, data_end_us;
	uint64_t		 subscribers;
	int			 failed;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: bclient lookup --socket PATH --msisdns FILE [-c CONNS] [-n INFLIGHT]\n"
	    "               (--duration S | --requests N) [--warmup S] [--seed N]\n"
	    "       bclient records --socket PATH --msisdns FILE [-c CONNS] [-n INFLIGHT]\n"
	    "               [--kind comm|location] (--start-us U --end-us U | --days D)\n"
	    "               [--repeat N] [--batch N] [--full-decode]\n"
	    "       common: [--timeout S] [--kv]\n");
	exit(2);
}

/* --- input ------------------------------------------------------------------ */

static bool
msisdn_valid(const char *s)
{
	if (strlen(s) != MSISDN_LEN || s[0] != '5' || s[1] != '2')
		return false;
	for (size_t i = 0; i < MSISDN_LEN; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* One MSISDN per line (blank lines and #comments skipped). */
static void
load_msisdns(struct bclient *bc, const char *path)
{
	FILE	*f;
	char	 line[128];
	size_t	 cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		err(2, "%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		n = strcspn(line, " \t\r\n#");
		line[n] = '\0';
		if (n == 0)
			continue;
		if (!msisdn_valid(line))
			errx(2, "%s: \"%s\" is not an MSISDN (52 + 10 digits)", path, line);
		if (bc->nmsisdn == cap) {
			cap = cap ? cap * 2 : 1024;
			bc->msisdn = reallocarray(bc->msisdn, cap, sizeof(*bc->msisdn));
			if (bc->msisdn == NULL)
				err(1, "reallocarray");
		}
		memcpy(bc->msisdn[bc->nmsisdn++], line, MSISDN_LEN + 1);
	}
	if (ferror(f))
		err(2, "%s", path);
	fclose(f);
	if (bc->nmsisdn == 0)
		errx(2, "%s: no MSISDN", path);
}

/* --- framing ------------------------------------------------------------------ */

static void
conn_send(struct bconn *c, Warrant__Backend__Envelope *env)
{
	size_t	 n = warrant__backend__envelope__get_packed_size(env);
	uint8_t	 small[512], *buf = small;

	if (n + 4 > sizeof(small) && (buf = malloc(n + 4)) == NULL)
		err(1, "malloc");
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	warrant__backend__envelope__pack(env, buf + 4);
	if (bufferevent_write(c->bev, buf, n + 4) == -1)
		errx(1, "connection %u: cannot queue a request", c->index);
	if (buf != small)
		free(buf);
}

static void
send_hello(struct bconn *c)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Hello		h = WARRANT__BACKEND__HELLO__INIT;

	h.version_major = 1;
	h.version_minor = 0;
	h.name = "bclient (bench/backend)";
	env.body_case = BODY(HELLO);
	env.hello = &h;
	conn_send(c, &env);
}

static void
send_health(struct bconn *c)
{
	Warrant__Backend__Envelope	env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__HealthQuery	q = WARRANT__BACKEND__HEALTH_QUERY__INIT;

	env.request_id = UINT64_MAX;	/* never one of ours otherwise */
	env.body_case = BODY(HEALTH_QUERY);
	env.health_query = &q;
	conn_send(c, &env);
}

/* --- requests ----------------------------------------------------------------- */

static struct slot *
slot_free(struct bconn *c)
{
	for (unsigned i = 0; i < c->quota; i++)
		if (!c->slots[i].used)
			return &c->slots[i];
	return NULL;
}

static struct slot *
slot_find(struct bconn *c, uint64_t id)
{
	for (unsigned i = 0; i < c->quota; i++)
		if (c->slots[i].used && c->slots[i].id == id)
			return &c->slots[i];
	return NULL;
}

/* The MSISDN of the next request, or NULL when there is no more work. */
static const char *
next_target(struct bclient *bc)
{
	if (bc->stopping)
		return NULL;
	if (bc->o.mode == MODE_LOOKUP) {
		if (bc->o.requests && bc->sent >= bc->o.requests)
			return NULL;
		return bc->msisdn[rng_next(&bc->rng) % bc->nmsisdn];
	}
	if (bc->next_work >= bc->nwork)
		return NULL;
	/* A batch starts when the previous one is wholly answered. */
	if (bc->o.batch && bc->next_work % bc->o.batch == 0 && bc->outstanding > 0)
		return NULL;
	return bc->msisdn[bc->next_work++ % bc->nmsisdn];
}

static void
send_one(struct bconn *c, struct slot *s, const char *msisdn)
{
	struct bclient			*bc = c->bc;
	Warrant__Backend__Envelope	 env = WARRANT__BACKEND__ENVELOPE__INIT;
	Warrant__Backend__Identifier	 t = WARRANT__BACKEND__IDENTIFIER__INIT;
	Warrant__Backend__SubscriberQuery sq = WARRANT__BACKEND__SUBSCRIBER_QUERY__INIT;
	Warrant__Backend__RecordsQuery	 rq = WARRANT__BACKEND__RECORDS_QUERY__INIT;

	t.type = WARRANT__BACKEND__IDENTIFIER_TYPE__IDENTIFIER_MSISDN;
	t.value = (char *)msisdn;
	env.request_id = ++c->next_id;
	if (bc->o.mode == MODE_LOOKUP) {
		sq.target = &t;
		env.body_case = BODY(SUBSCRIBER_QUERY);
		env.subscriber_query = &sq;
	} else {
		rq.kind = (Warrant__Backend__RecordsKind)bc->o.kind;
		rq.target = &t;
		rq.start_us = bc->o.start_us;
		rq.end_us = bc->o.end_us;
		env.body_case = BODY(RECORDS_QUERY);
		env.records_query = &rq;
	}
	s->used = true;
	s->id = env.request_id;
	s->records = 0;
	s->chunks = 0;
	s->first_ns = 0;
	s->t0_ns = now_ns();
	s->measured = bc->measuring;
	if (s->md != NULL && EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		errx(1, "EVP_DigestInit_ex");
	conn_send(c, &env);
	c->busy++;
	bc->sent++;
	bc->outstanding++;
}

/* Fill the connection up to its quota. */
static void
conn_fill(struct bconn *c)
{
	struct slot	*s;
	const char	*m;

	while (c->ready && c->busy < c->quota && (s = slot_free(c)) != NULL &&
	    (m = next_target(c->bc)) != NULL)
		send_one(c, s, m);
}

static void
maybe_finish(struct bclient *bc)
{
	bool more = bc->o.mode == MODE_LOOKUP ?
	    !bc->stopping && !(bc->o.requests && bc->sent >= bc->o.requests) :
	    bc->next_work < bc->nwork;

	if (!more && bc->outstanding == 0)
		event_base_loopexit(bc->base, NULL);
}

/* A final answer for slot s: account for it, then send the next request. */
static void
slot_done(struct bconn *c, struct slot *s, int code, bool ok)
{
	struct bclient	*bc = c->bc;
	uint64_t	 t = now_ns();
	bool		 count = bc->o.mode == MODE_RECORDS ||
			    (s->measured && bc->measuring && t <= bc->end_ns);

	if (count) {
		if (ok)
			bc->st.ok++;
		else if (code == WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND)
			bc->st.not_found++;
		else if (code >= 0)	/* -1: a mismatch, counted apart */
			bc->st.errors++;
		if (!ok && code >= 0 && code < NCODES)
			bc->st.by_code[code]++;
		if (ok || code == WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND)
			hist_record(&bc->st.lat, (t - s->t0_ns) / 1000);
		bc->done++;
	}
	bc->last_ns = t;
	bc->last_progress_ns = t;
	s->used = false;
	c->busy--;
	bc->outstanding--;
	if (bc->o.batch && bc->outstanding == 0)
		for (unsigned i = 0; i < bc->o.conns; i++)
			conn_fill(&bc->conns[i]);
	else
		conn_fill(c);
	maybe_finish(bc);
}

/* --- records: chunks at the wire level ------------------------------------------ */

/* A protobuf varint at *p (< end); false if truncated or over 10 bytes. */
static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return true;
		shift += 7;
	}
	return false;
}

/* Skip a field of wire type wt; false if it runs past end. */
static bool
skip_field(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;

	switch (wt) {
	case 0:
		return varint(p, end, &v);
	case 1:
		v = 8;
		break;
	case 2:
		if (!varint(p, end, &v))
			return false;
		break;
	case 5:
		v = 4;
		break;
	default:
		return false;
	}
	if (v > (uint64_t)(end - *p))
		return false;
	*p += v;
	return true;
}

/*
 * If the frame is an Envelope whose body is a RecordsChunk (field 15), set
 * its request id and chunk bytes and return 1; 0 for any other body (to be
 * unpacked the ordinary way); -1 if the bytes are not a message.
 */
static int
wire_chunk(const uint8_t *p, size_t n, uint64_t *id, const uint8_t **chunk,
    size_t *clen)
{
	const uint8_t	*end = p + n;
	uint64_t	 key, v;
	int		 found = 0;

	*id = 0;
	while (p < end) {
		if (!varint(&p, end, &key))
			return -1;
		if (key == (1 << 3 | 0)) {
			if (!varint(&p, end, id))
				return -1;
		} else if (key == (15 << 3 | 2)) {
			if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -1;
			*chunk = p;
			*clen = (size_t)v;
			p += v;
			found = 1;
		} else if ((key >> 3) >= 2) {
			return 0;	/* another body */
		} else if (!skip_field(&p, end, key & 7))
			return -1;
	}
	return found;
}

static void
digest_bytes(EVP_MD_CTX *md, const uint8_t *b, size_t n)
{
	uint8_t h[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
	    (uint8_t)(n >> 8), (uint8_t)n };

	if (EVP_DigestUpdate(md, h, 4) != 1 || EVP_DigestUpdate(md, b, n) != 1)
		errx(1, "EVP_DigestUpdate");
}

/* Count and hash the records of a chunk as they came; -1 if malformed. */
static int
wire_records(struct slot *s, const uint8_t *p, size_t n)
{
	const uint8_t	*end = p + n;
	uint64_t	 key, v;

	while (p < end) {
		if (!varint(&p, end, &key))
			return -1;
		if (key == (2 << 3 | 2)) {
			if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -1;
			digest_bytes(s->md, p, (size_t)v);
			s->records++;
			p += v;
		} else if (!skip_field(&p, end, key & 7))
			return -1;
	}
	return 0;
}

/* The gateway's way: every record re-serialised for the digest. */
static void
full_records(struct slot *s, const Warrant__Backend__RecordsChunk *ch)
{
	uint8_t	*buf = NULL;
	size_t	 cap = 0, n;

	for (size_t i = 0; i < ch->n_records; i++) {
		n = warrant__backend__record__get_packed_size(ch->records[i]);
		if (n > cap) {
			free(buf);
			cap = n * 2;
			if ((buf = malloc(cap)) == NULL)
				err(1, "malloc");
		}
		warrant__backend__record__pack(ch->records[i], buf);
		digest_bytes(s->md, buf, n);
		s->records++;
	}
	free(buf);
}

static void
chunk_seen(struct bclient *bc, struct slot *s)
{
	if (s->chunks++ == 0) {
		s->first_ns = now_ns();
		hist_record(&bc->st.first, (s->first_ns - s->t0_ns) / 1000);
	}
	bc->st.chunks++;
	bc->last_progress_ns = now_ns();
}

static void
summary_seen(struct bconn *c, struct slot *s, const Warrant__Backend__RecordsSummary *sum)
{
	struct bclient	*bc = c->bc;
	uint8_t		 d[32];
	bool		 ok;

	if (EVP_DigestFinal_ex(s->md, d, NULL) != 1)
		errx(1, "EVP_DigestFinal_ex");
	ok = sum->count == s->records && sum->chunks == s->chunks &&
	    sum->sha256.len == 32 && memcmp(sum->sha256.data, d, 32) == 0;
	if (!ok) {
		bc->st.mismatches++;
		warnx("request %" PRIu64 ": stream does not match its summary"
		    " (%" PRIu64 "/%" PRIu64 " records, %u/%u chunks)", s->id,
		    s->records, sum->count, s->chunks, sum->chunks);
	}
	bc->st.records += s->records;
	if (bc->st.rec_min > s->records)
		bc->st.rec_min = s->records;
	if (bc->st.rec_max < s->records)
		bc->st.rec_max = s->records;
	slot_done(c, s, -1, ok);
}

/* --- answers --------------------------------------------------------------------- */

static void
on_hello(struct bconn *c, Warrant__Backend__Envelope *env)
{
	struct bclient *bc = c->bc;

	if (env->body_case != BODY(HELLO) || env->hello->version_major != 1)
		errx(1, "connection %u: no protocol 1 hello from the server", c->index);
	if (env->hello->max_in_flight && c->quota > env->hello->max_in_flight)
		errx(1, "connection %u: %u in flight asked, the server takes %u",
		    c->index, c->quota, env->hello->max_in_flight);
	c->ready = true;
	if (bc->hello == NULL) {
		bc->hello = env->hello;
		env->hello = NULL;
		env->body_case = WARRANT__BACKEND__ENVELOPE__BODY__NOT_SET;
	}
	if (++bc->nready == bc->o.conns)
		send_health(&bc->conns[0]);	/* then the run starts */
}

static void start_run(struct bclient *);

static void
on_envelope(struct bconn *c, Warrant__Backend__Envelope *env)
{
	struct bclient	*bc = c->bc;
	struct slot	*s;

	if (!c->ready) {
		on_hello(c, env);
		return;
	}
	if (env->request_id == UINT64_MAX && env->body_case == BODY(HEALTH)) {
		bc->data_start_us = env->health->data_start_us;
		bc->data_end_us = env->health->data_end_us;
		bc->subscribers = env->health->subscribers;
		start_run(bc);
		return;
	}
	if (env->request_id == 0)
		errx(1, "connection %u: connection-level error from the server: %s",
		    c->index, env->body_case == BODY(ERROR) ? env->error->message : "?");
	if ((s = slot_find(c, env->request_id)) == NULL)
		errx(1, "connection %u: answer for unknown request %" PRIu64,
		    c->index, env->request_id);
	switch (env->body_case) {
	case BODY(SUBSCRIBER):
		slot_done(c, s, -1, bc->o.mode == MODE_LOOKUP);
		break;
	case BODY(ERROR):
		slot_done(c, s, (int)env->error->code, false);
		break;
	case BODY(RECORDS_CHUNK):
		chunk_seen(bc, s);
		full_records(s, env->records_chunk);
		break;
	case BODY(RECORDS_SUMMARY):
		summary_seen(c, s, env->records_summary);
		break;
	default:
		errx(1, "connection %u: unexpected answer (body %d)", c->index,
		    (int)env->body_case);
	}
}

static void
on_frame(struct bconn *c, const uint8_t *p, size_t n)
{
	Warrant__Backend__Envelope	*env;
	const uint8_t			*chunk;
	size_t				 clen;
	uint64_t			 id;
	struct slot			*s;
	int				 rc = 0;

	if (c->ready && !c->bc->o.full_decode &&
	    (rc = wire_chunk(p, n, &id, &chunk, &clen)) == 1) {
		if ((s = slot_find(c, id)) == NULL)
			errx(1, "connection %u: chunk for unknown request %" PRIu64,
			    c->index, id);
		chunk_seen(c->bc, s);
		if (wire_records(s, chunk, clen) == -1)
			errx(1, "connection %u: malformed chunk", c->index);
		return;
	}
	if (rc == -1 || (env = warrant__backend__envelope__unpack(NULL, n, p)) == NULL)
		errx(1, "connection %u: a frame that is not an Envelope", c->index);
	on_envelope(c, env);
	warrant__backend__envelope__free_unpacked(env, NULL);
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct bconn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 h[4], *p;
	size_t		 len;
	uint32_t	 n;

	while ((len = evbuffer_get_length(in)) >= 4) {
		evbuffer_copyout(in, h, 4);
		n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		    (uint32_t)h[2] << 8 | h[3];
		if (n == 0 || n > MAX_FRAME)
			errx(1, "connection %u: frame of %u bytes", c->index, n);
		if (len < 4 + (size_t)n) {
			bufferevent_setwatermark(bev, EV_READ, 4 + (size_t)n, 0);
			return;
		}
		bufferevent_setwatermark(bev, EV_READ, 0, 0);
		if ((p = evbuffer_pullup(in, 4 + (ssize_t)n)) == NULL)
			errx(1, "evbuffer_pullup");
		c->bc->st.bytes_in += 4 + n;
		on_frame(c, p + 4, n);
		evbuffer_drain(in, 4 + (size_t)n);
	}
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct bconn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		send_hello(c);
		return;
	}
	errx(1, "connection %u: %s", c->index,
	    what & BEV_EVENT_EOF ? "closed by the server" :
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* --- the run --------------------------------------------------------------------- */

static void
conn_open(struct bclient *bc, unsigned i, unsigned quota)
{
	struct bconn		*c = &bc->conns[i];
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(bc->o.socket) >= sizeof(sun.sun_path))
		errx(2, "%s: socket path too long", bc->o.socket);
	memcpy(sun.sun_path, bc->o.socket, strlen(bc->o.socket));
	c->bc = bc;
	c->index = i;
	c->quota = quota;
	if ((c->slots = calloc(quota, sizeof(*c->slots))) == NULL)
		err(1, "calloc");
	for (unsigned k = 0; k < quota; k++)
		if (bc->o.mode == MODE_RECORDS &&
		    (c->slots[k].md = EVP_MD_CTX_new()) == NULL)
			errx(1, "EVP_MD_CTX_new");
	c->bev = bufferevent_socket_new(bc->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		errx(1, "bufferevent_socket_new");
	bufferevent_setcb(c->bev, conn_readcb, NULL, conn_eventcb, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1 ||
	    bufferevent_socket_connect(c->bev, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1)
		errx(1, "%s: cannot connect", bc->o.socket);
}

static void
window_from_health(struct bclient *bc)
{
	if (bc->o.mode != MODE_RECORDS || bc->o.days == 0)
		return;
	/* The newest D days of the data: [end - D days, end]. */
	bc->o.end_us = bc->data_end_us + 1;
	bc->o.start_us = bc->o.end_us - (int64_t)bc->o.days * DAY_US;
	if (bc->o.start_us < bc->data_start_us)
		bc->o.start_us = bc->data_start_us;
}

static void
start_run(struct bclient *bc)
{
	window_from_health(bc);
	bc->measuring = bc->o.mode == MODE_RECORDS || bc->o.warmup <= 0;
	bc->measure_ns = now_ns();
	bc->last_progress_ns = bc->measure_ns;
	if (bc->measuring && bc->o.duration > 0)
		bc->end_ns = bc->measure_ns + (uint64_t)(bc->o.duration * 1e9);
	else if (bc->measuring)
		bc->end_ns = UINT64_MAX;
	for (unsigned i = 0; i < bc->o.conns; i++)
		conn_fill(&bc->conns[i]);
	event_add(bc->tick, &(struct timeval){ 0, 10000 });
}

/* Every 10 ms: end the warm-up, end the run, catch a stalled server. */
static void
tickcb(evutil_socket_t fd, short what, void *arg)
{
	struct bclient	*bc = arg;
	uint64_t	 t = now_ns();

	(void)fd;
	(void)what;
	if (!bc->measuring && t >= bc->measure_ns + (uint64_t)(bc->o.warmup * 1e9)) {
		bc->measuring = true;
		bc->measure_ns = t;
		bc->end_ns = bc->o.duration > 0 ?
		    t + (uint64_t)(bc->o.duration * 1e9) : UINT64_MAX;
	}
	if (bc->measuring && t >= bc->end_ns && !bc->stopping) {
		bc->stopping = true;	/* drain what is in flight */
		maybe_finish(bc);
	}
	if (bc->outstanding > 0 &&
	    t - bc->last_progress_ns > (uint64_t)(bc->o.timeout * 1e9)) {
		warnx("no progress for %.0f s with %" PRIu64 " requests in flight",
		    bc->o.timeout, bc->outstanding);
		bc->failed = 1;
		event_base_loopexit(bc->base, NULL);
	}
	event_add(bc->tick, &(struct timeval){ 0, 10000 });
}

/* --- report ------------------------------------------------------------------------ */

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	    ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static void
report(struct bclient *bc, double elapsed, double cpu)
{
	const struct stats	*s = &bc->st;
	const struct hist	*h = &s->lat;
	uint64_t		 answered = s->ok + s->not_found;

	printf("mode=%s conns=%u inflight=%u elapsed_s=%.3f requests=%" PRIu64
	    " ok=%" PRIu64 " not_found=%" PRIu64 " errors=%" PRIu64
	    " mismatches=%" PRIu64 " rps=%.1f",
	    bc->o.mode == MODE_LOOKUP ? "lookup" : "records", bc->o.conns,
	    bc->o.inflight, elapsed, bc->done, s->ok, s->not_found, s->errors,
	    s->mismatches, elapsed > 0 ? answered / elapsed : 0.0);
	printf(" min_us=%" PRIu64 " mean_us=%.0f p50_us=%" PRIu64 " p90_us=%"
	    PRIu64 " p99_us=%" PRIu64 " p999_us=%" PRIu64 " max_us=%" PRIu64,
	    h->count ? h->min : 0, hist_mean(h), hist_percentile(h, 50),
	    hist_percentile(h, 90), hist_percentile(h, 99),
	    hist_percentile(h, 99.9), h->max);
	if (bc->o.mode == MODE_RECORDS)
		printf(" start_us=%" PRId64 " end_us=%" PRId64 " records=%" PRIu64
		    " chunks=%" PRIu64 " records_per_s=%.0f mib_per_s=%.2f"
		    " stream_records_min=%" PRIu64 " stream_records_max=%" PRIu64
		    " first_p50_us=%" PRIu64 " first_p99_us=%" PRIu64 " decode=%s"
		    " batch=%u",
		    bc->o.start_us, bc->o.end_us, s->records, s->chunks,
		    elapsed > 0 ? s->records / elapsed : 0.0,
		    elapsed > 0 ? s->bytes_in / elapsed / 1048576.0 : 0.0,
		    s->ok + s->mismatches ? s->rec_min : 0, s->rec_max,
		    hist_percentile(&s->first, 50), hist_percentile(&s->first, 99),
		    bc->o.full_decode ? "full" : "wire", bc->o.batch);
	printf(" bytes_in=%" PRIu64 " client_cpu_ms=%.0f codes=", s->bytes_in, cpu);
	for (int i = 0, sep = 0; i < NCODES; i++)
		if (s->by_code[i]) {
			printf("%s%d:%" PRIu64, sep ? "," : "", i, s->by_code[i]);
			sep = 1;
		}
	printf(" server=\"%s\" data_start_us=%" PRId64 " data_end_us=%" PRId64
	    " subscribers=%" PRIu64 "\n", bc->hello ? bc->hello->name : "?",
	    bc->data_start_us, bc->data_end_us, bc->subscribers);
}

static void
report_human(struct bclient *bc, double elapsed, double cpu)
{
	const struct stats	*s = &bc->st;
	const struct hist	*h = &s->lat;
	uint64_t		 answered = s->ok + s->not_found;

	printf("server      %s, %" PRIu64 " subscribers\n",
	    bc->hello ? bc->hello->name : "?", bc->subscribers);
	printf("load        %s, %u connections, %u in flight",
	    bc->o.mode == MODE_LOOKUP ? "subscriber lookups" : "records streams",
	    bc->o.conns, bc->o.inflight);
	if (bc->o.batch)
		printf(", in batches of %u", bc->o.batch);
	printf("\n");
	printf("answers     %" PRIu64 " in %.3f s: %.1f/s (ok %" PRIu64
	    ", not found %" PRIu64 ", errors %" PRIu64 ", mismatches %" PRIu64 ")\n",
	    answered, elapsed, elapsed > 0 ? answered / elapsed : 0.0, s->ok,
	    s->not_found, s->errors, s->mismatches);
	printf("latency ms  min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f"
	    "  max %.3f  mean %.3f\n", (h->count ? h->min : 0) / 1e3,
	    hist_percentile(h, 50) / 1e3, hist_percentile(h, 90) / 1e3,
	    hist_percentile(h, 99) / 1e3, hist_percentile(h, 99.9) / 1e3,
	    h->max / 1e3, hist_mean(h) / 1e3);
	if (bc->o.mode == MODE_RECORDS)
		printf("records     %" PRIu64 " in %" PRIu64 " chunks: %.0f records/s,"
		    " %.2f MiB/s; %" PRIu64 "..%" PRIu64 " per stream; first chunk"
		    " p50 %.3f ms p99 %.3f ms (%s decode)\n", s->records, s->chunks,
		    elapsed > 0 ? s->records / elapsed : 0.0,
		    elapsed > 0 ? s->bytes_in / elapsed / 1048576.0 : 0.0,
		    s->ok + s->mismatches ? s->rec_min : 0, s->rec_max,
		    hist_percentile(&s->first, 50) / 1e3,
		    hist_percentile(&s->first, 99) / 1e3,
		    bc->o.full_decode ? "full" : "wire");
	printf("client CPU  %.0f ms\n", cpu);
}

/* --- options ------------------------------------------------------------------------ */

static double
num(const char *s, const char *what, double min, double max)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		errx(2, "%s: %s out of range [%g, %g]", s, what, min, max);
	return v;
}

static int64_t
num64(const char *s, const char *what)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		errx(2, "%s: %s is not an integer", s, what);
	return v;
}

enum { O_SOCKET = 256, O_MSISDNS, O_DURATION, O_REQUESTS, O_WARMUP, O_SEED,
	O_KIND, O_START, O_END, O_DAYS, O_REPEAT, O_BATCH, O_FULL, O_TIMEOUT, O_KV };

static void
parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "msisdns", required_argument, NULL, O_MSISDNS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "requests", required_argument, NULL, O_REQUESTS },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "kind", required_argument, NULL, O_KIND },
		{ "start-us", required_argument, NULL, O_START },
		{ "end-us", required_argument, NULL, O_END },
		{ "days", required_argument, NULL, O_DAYS },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "full-decode", no_argument, NULL, O_FULL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "kv", no_argument, NULL, O_KV },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "lookup") == 0)
		o->mode = MODE_LOOKUP;
	else if (strcmp(argv[1], "records") == 0)
		o->mode = MODE_RECORDS;
	else
		usage();
	o->conns = 2;
	o->inflight = 16;
	o->seed = 1;
	o->kind = WARRANT__BACKEND__RECORDS_KIND__RECORDS_COMMUNICATIONS;
	o->repeat = 1;
	o->timeout = 30;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conns = (unsigned)num(optarg, "-c", 1, MAX_CONNS); break;
		case 'n': o->inflight = (unsigned)num(optarg, "-n", 1, MAX_INFLIGHT); break;
		case O_SOCKET: o->socket = optarg; break;
		case O_MSISDNS: o->msisdns = optarg; break;
		case O_DURATION: o->duration = num(optarg, "--duration", 0.001, 86400); break;
		case O_REQUESTS: o->requests = (uint64_t)num(optarg, "--requests", 1, 1e12); break;
		case O_WARMUP: o->warmup = num(optarg, "--warmup", 0, 3600); break;
		case O_SEED: o->seed = (uint64_t)num64(optarg, "--seed"); break;
		case O_KIND:
			if (strcmp(optarg, "comm") == 0)
				o->kind = WARRANT__BACKEND__RECORDS_KIND__RECORDS_COMMUNICATIONS;
			else if (strcmp(optarg, "location") == 0)
				o->kind = WARRANT__BACKEND__RECORDS_KIND__RECORDS_LOCATION;
			else
				usage();
			break;
		case O_START: o->start_us = num64(optarg, "--start-us"); break;
		case O_END: o->end_us = num64(optarg, "--end-us"); break;
		case O_DAYS: o->days = (unsigned)num(optarg, "--days", 1, 10000); break;
		case O_REPEAT: o->repeat = (unsigned)num(optarg, "--repeat", 1, 1e6); break;
		case O_BATCH: o->batch = (unsigned)num(optarg, "--batch", 1, 1e6); break;
		case O_FULL: o->full_decode = true; break;
		case O_TIMEOUT: o->timeout = num(optarg, "--timeout", 0.1, 3600); break;
		case O_KV: o->kv = true; break;
		default: usage();
		}
	}
	if (optind != argc || o->socket == NULL || o->msisdns == NULL)
		usage();
	if (o->inflight < o->conns)
		errx(2, "-n %u: fewer in flight than connections (-c %u)",
		    o->inflight, o->conns);
	if (o->mode == MODE_LOOKUP && (o->duration > 0) == (o->requests > 0))
		errx(2, "lookup: give --duration or --requests");
	if (o->mode == MODE_RECORDS && o->days == 0 && o->start_us >= o->end_us)
		errx(2, "records: give --days D, or --start-us < --end-us");
	if (o->seed == 0)
		o->seed = 1;	/* xorshift's one fixed point */
}

static void
bclient_free(struct bclient *bc)
{
	for (unsigned i = 0; i < bc->o.conns; i++) {
		struct bconn *c = &bc->conns[i];

		if (c->bev != NULL)
			bufferevent_free(c->bev);
		for (unsigned k = 0; c->slots != NULL && k < c->quota; k++)
			EVP_MD_CTX_free(c->slots[k].md);
		free(c->slots);
	}
	if (bc->hello != NULL)
		warrant__backend__hello__free_unpacked(bc->hello, NULL);
	if (bc->tick != NULL)
		event_free(bc->tick);
	if (bc->base != NULL)
		event_base_free(bc->base);
	free(bc->msisdn);
	free(bc);
}

int
main(int argc, char **argv)
{
	struct bclient	*bc;
	double		 cpu0, elapsed;
	unsigned	 i, q;
	int		 rc;

	if ((bc = calloc(1, sizeof(*bc))) == NULL)
		err(1, "calloc");
	parse_opts(&bc->o, argc, argv);
	load_msisdns(bc, bc->o.msisdns);
	bc->rng = bc->o.seed;
	bc->nwork = bc->nmsisdn * bc->o.repeat;
	hist_init(&bc->st.lat);
	hist_init(&bc->st.first);
	bc->st.rec_min = UINT64_MAX;
	if ((bc->base = event_base_new()) == NULL ||
	    (bc->tick = evtimer_new(bc->base, tickcb, bc)) == NULL)
		errx(1, "libevent");
	cpu0 = cpu_ms();
	/* INFLIGHT spread over the connections as evenly as it divides. */
	for (i = 0; i < bc->o.conns; i++) {
		q = bc->o.inflight / bc->o.conns + (i < bc->o.inflight % bc->o.conns);
		conn_open(bc, i, q);
	}
	event_base_dispatch(bc->base);
	if (bc->o.mode == MODE_LOOKUP)
		elapsed = ((bc->end_ns < bc->last_ns ? bc->end_ns : bc->last_ns) -
		    bc->measure_ns) / 1e9;
	else
		elapsed = (bc->last_ns - bc->measure_ns) / 1e9;
	if (bc->o.kv)
		report(bc, elapsed, cpu_ms() - cpu0);
	else
		report_human(bc, elapsed, cpu_ms() - cpu0);
	fflush(stdout);
	rc = bc->failed || bc->st.errors || bc->st.mismatches ? 1 : 0;
	bclient_free(bc);
	return rc;
}
