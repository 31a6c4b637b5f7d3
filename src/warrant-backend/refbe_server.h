/*
 * refbe_srv — warrant-backend, the reference back end: the wire (frames,
 * validation, streamed records), the worker pool that runs queries off the
 * event loop, and the server (listener, connections, dispatch). Private to
 * src/warrant-backend/; the protocol itself is proto/backend.proto.
 */
#ifndef REFBE_SRV_H
#define REFBE_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <openssl/evp.h>

#include "backend.pb-c.h"

#define REFBE_SRV_NAME		"warrant-backend " PACKAGE_VERSION " (reference, SQLite)"
#define REFBE_SRV_VERSION_MAJOR	1
#define REFBE_SRV_VERSION_MINOR	0
#define REFBE_WIRE_MAX_FRAME		((size_t)WARRANT__BACKEND__LIMIT__LIMIT_MAX_FRAME_BYTES)
#define REFBE_WIRE_MAX_CHUNK		((unsigned)WARRANT__BACKEND__LIMIT__LIMIT_MAX_RECORDS_PER_CHUNK)
#define REFBE_WIRE_MAX_RECORD	(64 * 1024)	/* one serialized Record, at most */
#define REFBE_SRV_MAX_IN_FLIGHT	64		/* unanswered requests per connection */
#define REFBE_SRV_MAX_CONNS		256
#define REFBE_SRV_HIGH_WATER		(2 * 1024 * 1024)	/* output bytes: stop producing;
							   resume below half */
#define REFBE_SRV_HELLO_TIMEOUT	10		/* seconds for TLS + hello */

/* --- wire (backend_wire.c) ------------------------------------------------ */

/* Length of the frame whose 4-byte header is h; -1 if 0 or over the cap. */
int		 refbe_wire_frame_len(const uint8_t h[4], uint32_t *len);
/* Which top-level field numbers (1..31) an Envelope's bytes hold; -1 if
 * they are not protobuf. Lets a receiver refuse a body it never accepts
 * (a RecordsChunk sent to a server) before unpacking allocates for it. */
int		 refbe_wire_peek_fields(const uint8_t *, size_t, uint32_t *mask);
/* Unpack and check every enum (defined values only) and string (UTF-8). */
Warrant__Backend__Envelope *refbe_wire_decode(const uint8_t *, size_t, char *why, size_t);
int		 refbe_wire_valid(const ProtobufCMessage *, char *why, size_t);
/* Request content (identifiers, windows): 0, or an ErrorCode and why. */
int		 refbe_wire_check_request(const Warrant__Backend__Envelope *, int64_t now_us,
		    char *why, size_t);
/* A whole frame (4-byte length + Envelope), malloc'd. */
uint8_t		*refbe_wire_encode(const Warrant__Backend__Envelope *, size_t *len);
uint8_t		*refbe_wire_error(uint64_t request_id, int code, const char *msg, size_t *len);

/*
 * A records answer in the making: each Record is serialized once, and those
 * bytes are both hashed (RecordsSummary.sha256) and copied into the chunk.
 */
struct refbe_wire_stream {
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
int		 refbe_wire_stream_init(struct refbe_wire_stream *, uint64_t request_id, unsigned per_chunk);
/* 1 if the chunk is now full (flush it), 0 if not, -1 on error. */
int		 refbe_wire_stream_add(struct refbe_wire_stream *, const Warrant__Backend__Record *);
uint8_t		*refbe_wire_stream_chunk(struct refbe_wire_stream *, size_t *len);
uint8_t		*refbe_wire_stream_summary(struct refbe_wire_stream *, size_t *len);
void		 refbe_wire_stream_free(struct refbe_wire_stream *);

/* --- server and pool ---------------------------------------------------- */

struct refbe_srv;
struct refbe_srv_conn;
struct refbe_srv_pool;

/* One request in the hands of the pool; owned by the loop. */
struct refbe_srv_job {
	TAILQ_ENTRY(refbe_srv_job)	 entry;		/* pool queue */
	struct refbe_srv_conn	*conn;
	uint64_t		 request_id;
	Warrant__Backend__Envelope *env;	/* the request, owned */
	atomic_int		 cancelled;
};

struct refbe_srv_opts {
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
int		 refbe_srv_post(struct refbe_srv_job *, uint8_t *frame, size_t len);
void		 refbe_srv_done(struct refbe_srv_job *, uint8_t *frame, size_t len);
void		 refbe_srv_health_counts(struct refbe_srv_job *, uint32_t *in_flight);

struct refbe_srv_pool *refbe_srv_pool_new(const struct refbe_srv_opts *);
int		 refbe_srv_pool_submit(struct refbe_srv_pool *, struct refbe_srv_job *);
void		 refbe_srv_pool_free(struct refbe_srv_pool *);	/* cancels queued jobs, joins */

/* backend_server.c, driven by main */
struct refbe_srv	*refbe_srv_new(const struct refbe_srv_opts *);
int		 refbe_srv_run(struct refbe_srv *);		/* until SIGTERM/SIGINT */
void		 refbe_srv_free(struct refbe_srv *);

#endif
