/*
 * backend_impl.h — what src/warrantd/backend.c (calls, retries, breaker, answers)
 * and src/warrantd/backend_conn.c (connections, TLS, hello, reading frames) share.
 * Not for use outside the backend module: see include/backend.h.
 */
#ifndef WD_BACKEND_IMPL_H
#define WD_BACKEND_IMPL_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "backend.h"
#include "backend_frame.h"
#include "results.h"

#define BACKEND_WAIT_MAX	1024	/* calls waiting for a connection, per back end */
#define BACKEND_TOMBS_MAX	64	/* abandoned request ids, per connection */
#define BACKEND_INFLIGHT_MAX	256	/* per connection, whatever the hello says */
#define BACKEND_RETRY_BASE_MS	100	/* first retry: up to this */
#define BACKEND_RETRY_CAP_MS	10000
#define BACKEND_RECONNECT_CAP_MS 30000
#define BACKEND_DETAIL_MAX	192

struct backend;
struct backend_call;
TAILQ_HEAD(backend_calls, backend_call);

enum bconn_state {
	BCONN_IDLE = 0,		/* no socket; maybe a reconnect timer */
	BCONN_OPENING,		/* connecting, TLS, our hello sent, theirs awaited */
	BCONN_READY
};

struct backend_conn {
	struct backend		*be;
	unsigned		 index;
	enum bconn_state	 state;
	struct bufferevent	*bev;
	struct event		*timer;		/* opening deadline, or reconnect */
	unsigned		 failures;	/* consecutive failed openings */
	uint64_t		 next_id;
	struct backend_calls	 inflight;	/* sent, not finally answered */
	unsigned		 ninflight;
	uint64_t		 tombs[BACKEND_TOMBS_MAX];	/* cancelled ids */
	unsigned		 ntombs;
	/* From the back end's hello. */
	unsigned		 max_inflight;
	unsigned		 max_chunk;
	bool			 kinds[WD_REQ__COUNT];
	bool			 idtypes[WD_ID__COUNT];
};

enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct backend {
	struct backend_set	*set;
	char			 name[BACKEND_NAME_MAX];
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	SSL_CTX			*ssl;		/* NULL: plain (Unix socket) */
	unsigned		 deadline_ms;
	unsigned		 retries;
	unsigned		 breaker_failures;
	unsigned		 breaker_open_ms;
	bool			 serves[WD_REQ__COUNT];
	struct backend_conn	*conns;
	unsigned		 nconns;
	struct backend_calls	 waiting;	/* for a ready connection */
	unsigned		 nwaiting;
	enum breaker_state	 breaker;
	unsigned		 consecutive;	/* failures in a row */
	int64_t			 open_until_ms;	/* monotonic */
	bool			 probing;	/* half-open: the probe is out */
	bool			 down_logged;	/* "unreachable" said once */
	bool			 caps_logged;	/* capability mismatch said once */
	TAILQ_ENTRY(backend)	 entry;
};

enum call_state {
	CALL_NEW = 0,
	CALL_QUEUED,		/* in be->waiting, deadline armed */
	CALL_SENT,		/* in conn->inflight, deadline armed */
	CALL_STREAMING,		/* chunks arriving, deadline re-armed per chunk */
	CALL_BACKOFF,		/* waiting to retry */
	CALL_FINISHING,		/* results being made durable (thread) */
	CALL_DONE		/* callback scheduled */
};

struct backend_call {
	struct backend_set	*set;
	struct backend		*be;		/* NULL if none serves the type */
	struct backend_query	 q;
	backend_cb		 cb;
	void			*arg;
	enum call_state		 state;
	unsigned		 attempts;
	bool			 probe;		/* the breaker's half-open probe */
	int64_t			 started_us;	/* monotonic */
	struct event		*timer;		/* deadline, retry, completion */
	struct backend_conn	*conn;
	uint64_t		 request_id;
	/* The answer being received. */
	struct results_writer	*w;
	uint64_t		 count;
	uint32_t		 next_seq;
	uint8_t			 sha256[32];
	int			 fin_rc;
	Warrant__Backend__Envelope *answer;	/* a small answer, till the callback */
	uint8_t			*held;		/* its stored form, when q.hold */
	size_t			 held_len;
	enum backend_outcome	 outcome;
	char			 detail[BACKEND_DETAIL_MAX];
	char			 result_name[BACKEND_RESULT_NAME_MAX];
	bool			 stored;
	TAILQ_ENTRY(backend_call) entry;	/* waiting, inflight or finisher */
	TAILQ_ENTRY(backend_call) all;		/* set->calls */
};

struct backend_set {
	struct event_base	*base;
	struct results		*results;
	struct backend		*by_type[WD_REQ__COUNT];
	TAILQ_HEAD(, backend)	 backends;
	struct backend_calls	 calls;		/* every call not yet called back */
	unsigned		 npending;
	bool			 freeing;
	/* Scratch for canonical encodings (one at a time, on the loop). */
	uint8_t			*scratch;
	size_t			 scratch_cap;
	/* The finisher thread: fsync and rename off the loop. */
	pthread_t		 fin_thread;
	bool			 fin_started;
	bool			 fin_stop;
	pthread_mutex_t		 fin_lock;
	pthread_cond_t		 fin_cond;
	struct backend_calls	 fin_queue;
	struct backend_calls	 fin_done;
	struct wd_wake		*fin_wake;
};

int64_t	backend_now_ms(void);

/* backend_conn.c */
int	backend_conn_init(struct backend *, unsigned index);
void	backend_conn_free(struct backend_conn *);
void	backend_conn_start(struct backend_conn *);
void	backend_conn_close(struct backend_conn *, const char *why);
int	backend_conn_send(struct backend_conn *, const Warrant__Backend__Envelope *);
void	backend_conn_cancel(struct backend_conn *, uint64_t request_id);
unsigned backend_conn_load(const struct backend_conn *);

/* backend.c, called from backend_conn.c */
void	backend_dispatch(struct backend *);
void	backend_opening_failed(struct backend *, const char *why);
void	backend_call_lost(struct backend_call *, const char *why);
int	backend_call_frame(struct backend_call *, Warrant__Backend__Envelope *,
	    const char **why);


/* Shared by backend.c (calls) and backend_answer.c (answers, finisher). */
void	backend_call_detach(struct backend_call *);
void	backend_call_attempt_failed(struct backend_call *,
	    enum backend_outcome, bool retryable, bool counts,
	    unsigned retry_after_ms, const char *why);
void	backend_breaker_success(struct backend *);
void	backend_call_complete(struct backend_call *, enum backend_outcome,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool	backend_call_is_streamed(const struct backend_call *);
void	backend_call_arm_deadline(struct backend_call *);
int	backend_finisher_start(struct backend_set *);
void	backend_finisher_stop(struct backend_set *);
int	backend_call_writer(struct backend_call *);
void	backend_finisher_submit(struct backend_call *);

#endif
