/*
 * bsrv — warrant-backend, the reference back end: the wire (frames,
 * validation, streamed records), the worker pool that runs queries off the
 * event loop, and the server (listener, connections, dispatch). Private to
 * src/warrant-backend/; the protocol itself is proto/backend.proto.
 */
#ifndef BSRV_H
#define BSRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <openssl/evp.h>

#include "backend.pb-c.h"

#define BSRV_NAME		"warrant-backend " PACKAGE_VERSION " (reference, SQLite)"
#define BSRV_VERSION_MAJOR	1
#define BSRV_VERSION_MINOR	0
#define BWIRE_MAX_FRAME		((size_t)WARRANT__BACKEND__LIMIT__LIMIT_MAX_FRAME_BYTES)
#define BWIRE_MAX_CHUNK		((unsigned)WARRANT__BACKEND__LIMIT__LIMIT_MAX_RECORDS_PER_CHUNK)
#define BWIRE_MAX_RECORD	(64 * 1024)	/* one serialized Record, at most */
#define BSRV_MAX_IN_FLIGHT	64		/* unanswered requests per connection */
#define BSRV_MAX_CONNS		256
#define BSRV_HIGH_WATER		(2 * 1024 * 1024)	/* output bytes: stop producing;
							   resume below half */
#define BSRV_HELLO_TIMEOUT	10		/* seconds for TLS + hello */

/* --- wire (backend_wire.c) ------------------------------------------------ */

/* Length of the frame whose 4-byte header is h; -1 if 0 or over the cap. */
int		 bwire_frame_len(const uint8_t h[4], uint32_t *len);
/* Which top-level field numbers (1..31) an Envelope's bytes hold; -1 if
 * they are not protobuf. Lets a receiver refuse a body it never accepts
 * (a RecordsChunk sent to a server) before unpacking allocates for it. */
int		 bwire_peek_fields(const uint8_t *, size_t, uint32_t *mask);
/* Unpack and check every enum (defined values only) and string (UTF-8). */
Warrant__Backend__Envelope *bwire_decode(const uint8_t *, size_t, char *why, size_t);
int		 bwire_valid(const ProtobufCMessage *, char *why, size_t);
/* Request content (identifiers, windows): 0, or an ErrorCode and why. */
int		 bwire_check_request(const Warrant__Backend__Envelope *, int64_t now_us,
		    char *why, size_t);
/* A whole frame (4-byte length + Envelope), malloc'd. */
uint8_t		*bwire_encode(const Warrant__Backend__Envelope *, size_t *len);
uint8_t		*bwire_error(uint64_t request_id, int code, const char *msg, size_t *len);

/*
 * A records answer in the making: each Record is serialized once, and those
 * bytes are both hashed (RecordsSummary.sha256) and copied into the chunk.
 */
struct bwire_stream {
	uint64_t	 request_id;
	unsigned	 per_chunk;
	uint32_t	 seq;		/* next chunk number */
	uint64_t	 count;		/* records so far */
	uint32_t	 nrec;		/* in the chunk being built */
	EVP_MD_CTX	*md;
	uint8_t		*body;		/* RecordsChunk field 2 entries */
	size_t		 len, cap;
	uint8_t		*rec;		/* one packed Record */
	size_t		 rcap;
};
int		 bwire_stream_init(struct bwire_stream *, uint64_t request_id, unsigned per_chunk);
/* 1 if the chunk is now full (flush it), 0 if not, -1 on error. */
int		 bwire_stream_add(struct bwire_stream *, const Warrant__Backend__Record *);
uint8_t		*bwire_stream_chunk(struct bwire_stream *, size_t *len);
uint8_t		*bwire_stream_summary(struct bwire_stream *, size_t *len);
void		 bwire_stream_free(struct bwire_stream *);

/* --- server and pool ---------------------------------------------------- */

struct bsrv;
struct bsrv_conn;
struct bsrv_pool;

/* One request in the hands of the pool; owned by the loop. */
struct bsrv_job {
	TAILQ_ENTRY(bsrv_job)	 entry;		/* pool queue */
	struct bsrv_conn	*conn;
	uint64_t		 request_id;
	Warrant__Backend__Envelope *env;	/* the request, owned */
	atomic_int		 cancelled;
};

struct bsrv_opts {
	const char	*db;
	const char	*listen;
	const char	*tls_cert, *tls_key, *tls_ca;
	unsigned	 workers;
	unsigned	 retention_days;
	unsigned	 chunk_records;
	size_t		 high_water;	/* output bytes per connection */
};

/* Called from worker threads. post: hand a frame to the connection, waiting
 * while its output is above the high-water mark (returns -1 if the job was
 * cancelled meanwhile: the frame is dropped). done: the final frame (may be
 * NULL) and the end of the job; the worker must not touch it afterwards. */
int		 bsrv_post(struct bsrv_job *, uint8_t *frame, size_t len);
void		 bsrv_done(struct bsrv_job *, uint8_t *frame, size_t len);
void		 bsrv_health_counts(struct bsrv_job *, uint32_t *in_flight);

struct bsrv_pool *bsrv_pool_new(const struct bsrv_opts *);
int		 bsrv_pool_submit(struct bsrv_pool *, struct bsrv_job *);
void		 bsrv_pool_free(struct bsrv_pool *);	/* cancels queued jobs, joins */

/* backend_server.c, driven by main */
struct bsrv	*bsrv_new(const struct bsrv_opts *);
int		 bsrv_run(struct bsrv *);		/* until SIGTERM/SIGINT */
void		 bsrv_free(struct bsrv *);

#endif
