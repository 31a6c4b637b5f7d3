/*
 * loadgen — shared definitions of the benchmark load generator: the options,
 * the per-thread worker and its connections. loadgen.c owns the process
 * (options, TLS context, threads, report); lg_conn.c owns the life of one
 * connection (connect, handshake, request, answer, schedule of the next).
 */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/ssl.h>

#include "hist.h"

#define LG_HEAD_MAX	4096		/* bytes of an answer's head */
#define LG_BODY_MAX	(16u << 20)	/* bytes of an answer's body */
#define LG_READ_CHUNK	(64u << 10)
#define LG_STATUS_MAX	600
#define LG_RETRY_MS	10		/* pause after a failed connection */

enum lg_mode {
	LG_KEEPALIVE,	/* requests follow each other on open connections */
	LG_NEWCONN,	/* one connection, hence one full handshake, per request */
	LG_IDLE,	/* open, send part of a request, hold it until the end */
};

struct lg_opts {
	const char	*url;
	const char	*path;		/* from the URL, default /hi1 */
	char		 hostport[300];	/* for the Host header */
	const char	*cert, *key, *cacert, *body_file;
	const char	*body_list;	/* a file naming one body file a line */
	const char	*ready_file;	/* LG_IDLE: written once all are settled */
	enum lg_mode	 mode;
	unsigned	 conns;
	unsigned	 threads;
	unsigned	 max_opening;	/* LG_IDLE: handshakes in progress at once */
	long		 idle_bytes;	/* LG_IDLE: bytes of the request sent;
					 * -1: head and half the body,
					 * -2: the head but its final CRLF */
	double		 rate;		/* offered req/s in all; 0 is closed loop */
	double		 duration;	/* seconds; 0: until --requests are done */
	uint64_t	 requests;	/* 0: until --duration has passed */
	double		 timeout;	/* seconds for one request, connect included */
	bool		 json, kv;
	bool		 fresh_uuids;	/* new UUIDs in the body per request */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
};

#define LG_UUID_LEN	36
#define LG_UUID_MAX	64		/* UUID occurrences in a fresh body */

/*
 * What one process sends: the same request again and again; with
 * --fresh-uuids, each connection sends its own copy whose UUIDs are
 * replaced before every request (lg_fresh_uuids).
 */
struct lg_shared {
	const struct lg_opts	*o;
	SSL_CTX			*ctx;
	char			*req;		/* head and body */
	size_t			 req_len;
	size_t			 uuid_at[LG_UUID_MAX];	/* offsets in req */
	unsigned		 uuid_of[LG_UUID_MAX];	/* which distinct one */
	unsigned		 nuuid_at, nuuid;	/* occurrences, distinct */
	/* --body-list: the requests, sent in turn by all connections. */
	char			**reqs;
	size_t			*req_lens;
	size_t			 nreqs;
	uint64_t		 next_req;	/* atomic */
	size_t			 hold_len;	/* LG_IDLE: bytes sent then held */
	uint64_t		 t0;		/* common start, CLOCK_MONOTONIC ns */
	unsigned		 preconnected;	/* LG_KEEPALIVE: atomic */
	unsigned		 settled;	/* LG_IDLE: held or failed, atomic */
	unsigned		 held;		/* LG_IDLE: held now, atomic */
};

struct lg_stats {
	uint64_t	ok;		/* 2xx answers */
	uint64_t	connect_err;	/* socket or TCP connect failed */
	uint64_t	tls_err;	/* handshake failed or TLS error/alert */
	uint64_t	timeouts;
	uint64_t	closed;		/* peer closed before the whole answer */
	uint64_t	bad_resp;	/* answer we cannot frame */
	uint64_t	http_err;	/* answers other than 2xx */
	uint64_t	handshakes;
	uint64_t	bytes_out, bytes_in;
	uint64_t	by_status[LG_STATUS_MAX];
};

enum lg_cstate {
	CS_OFF,		/* no more requests for this connection */
	CS_WAIT,	/* open loop: waiting for the next intended send time */
	CS_CONNECT,
	CS_HANDSHAKE,
	CS_WRITE,
	CS_READ,
	CS_HELD,	/* LG_IDLE: part of a request sent, nothing more to do */
};

struct lg_worker;

struct lg_conn {
	struct lg_worker	*w;
	unsigned		 index;		/* in the whole process, for phase */
	enum lg_cstate		 st;
	int			 fd;
	SSL			*ssl;
	struct event		 io;
	struct event		 timer;		/* next send (CS_WAIT) or deadline */
	size_t			 woff, wlen;
	char			*req;		/* --fresh-uuids: own copy */
	const char		*out;		/* the request being sent */
	uint64_t		 rng[2];	/* --fresh-uuids: xorshift128+ */
	char			 head[LG_HEAD_MAX];
	size_t			 hlen;
	bool			 head_done;
	bool			 server_close;
	int			 status;
	uint64_t		 clen, got;
	uint64_t		 intended;	/* when this request should start */
	uint64_t		 next_due;	/* open loop: the one after */
	bool			 pre;		/* connecting before the run starts */
};

struct lg_worker {
	unsigned		 id;
	pthread_t		 thread;
	struct lg_shared	*sh;
	struct event_base	*base;
	struct event		*stop_ev;
	struct event		*start_ev;	/* LG_KEEPALIVE: all connected */
	struct lg_conn		*conns;
	unsigned		 nconns;
	unsigned		 active;	/* connections not CS_OFF */
	unsigned		 next_open;	/* LG_IDLE ramp */
	unsigned		 opening;
	uint64_t		 quota;		/* requests to start; 0 unlimited */
	uint64_t		 started;
	uint64_t		 interval;	/* open loop: ns between a conn's sends */
	bool			 stopping;
	uint64_t		 t_end;
	char			*rdbuf;
	struct lg_stats		 st;
	struct hist		 hist;		/* us from intended start to answer */
};

uint64_t	lg_now(void);
void		lg_conn_init(struct lg_worker *, struct lg_conn *, unsigned index);
void		lg_conn_start(struct lg_conn *);
void		lg_conn_preconnect(struct lg_conn *);
void		lg_conn_go(struct lg_conn *);
void		lg_conn_stop(struct lg_conn *);
void		lg_worker_conn_off(struct lg_worker *);
void		lg_idle_settled(struct lg_worker *, bool held);
void		lg_preconnected(struct lg_worker *);

#endif
