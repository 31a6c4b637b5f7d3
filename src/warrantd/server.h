/*
 * server.h — the daemon's internal interfaces between main (warrantd.c),
 * the connection layer (server.c) and the request pipeline (intake.c).
 */
#ifndef WD_SERVER_H
#define WD_SERVER_H

#include <sys/queue.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "ref.h"

#include "edge.h"
#include "http.h"
#include "journal.pb-c.h"
#include "tls.h"
#include "wd.h"

struct event_base;
struct evconnlistener;
struct event;
struct bufferevent;
struct journal;
struct backend_set;
struct results;
struct purge;
struct store;
struct store_sync;
struct lifecycle;
struct push;
struct desk;
struct wd_conf;
struct wd_official;
struct hi1_schema;
struct conn;
struct server;

/*
 * Everything SIGHUP can replace, in one reference-counted bundle: a
 * connection holds the generation it was accepted under, so a reload never
 * pulls the registry, CA store or schema from under a request in flight.
 */
struct server_gen {
	int			 refs;
	unsigned		 number;
	struct wd_conf		*conf;
	SSL_CTX			*ssl;
	struct hi1_schema	*schema;
	time_t			 crl_next_update;	/* earliest, 0: none */
	time_t			 crl_warned;		/* last "nextUpdate soon" */
	bool			 crl_expired_said;	/* logged and journaled */
};

struct server_gen	*server_gen_load(const char *path, unsigned number);
void			 server_gen_unref(struct server_gen *);

enum conn_state {
	CONN_HANDSHAKE = 0,	/* not authenticated yet */
	CONN_HEAD,		/* waiting for (the rest of) a request head */
	CONN_BODY,		/* waiting for Content-Length bytes */
	CONN_BUSY,		/* request handed on; read only for a hang-up */
	CONN_WRITING,		/* response queued */
	CONN_LINGER		/* answered early; discarding the unread body */
};

struct server;

struct conn_body;
struct evbuffer;
/*
 * The route table of a listener ({method, path, role, handler}), read top
 * to bottom, the first entry whose path matches wins: an exact path, or a
 * prefix when the entry's ends in '/'. A path no entry matches is 404, one
 * matched only under another method 405; roles (EDGE_ROLE bits) other than
 * 0 are checked here (403, "for registered ..."); 0 leaves the caller to
 * the handler (the intake answers strangers with journaled HI-1 refusals).
 *
 * A handler is called on the loop thread with the connection BUSY (reading
 * paused) and c->req parsed, body NULL for routes without one; it must
 * finish with conn_release_if_dead() and, if that returns false, an answer
 * (conn_respond*). It owns body.
 */
typedef void	(*edge_handler)(struct conn *, char *body, size_t len);
#define EDGE_ROLE(role)	(1u << (role))
struct edge_route {
	enum http_method	 method;
	const char		*path;
	unsigned		 roles;		/* EDGE_ROLE bits; 0: the handler judges */
	bool			 body;		/* a Content-Length body is read first */
	edge_handler		 fn;
	const char		*who;		/* the roles, said in a 403 */
};

/*
 * What the edge hands on, given by the program (routes.c, set in
 * warrantd.c): the edge never calls up into the intake or the auditors'
 * API, so no include cycle runs through it.
 */
struct server_hooks {
	const struct edge_route	*routes;	/* the authorities' listener */
	size_t			 nroutes;
	void	(*tls_refused)(struct server *, const struct conn *);
	void	(*record_event)(struct server *, int event, const char *detail);
};

struct conn {
	uint64_t		 id;
	struct server		*srv;
	struct server_gen	*gen;
	struct bufferevent	*bev;		/* NULL until the first byte */
	struct event		*wait;		/* ...which this waits for */
	evutil_socket_t		 fd;
	SSL			*ssl;
	enum conn_state		 state;
	bool			 close_after;	/* answer, then close */
	bool			 dead;		/* peer gone while BUSY */
	bool			 saw_bytes;	/* request timer started */
	bool			 linger;	/* body left unread: drain before close */
	size_t			 lingered;	/* bytes discarded while lingering */
	bool			 short_linger;	/* answered 408 or 503 at once: linger 1 s */
	bool			 desk;		/* on the desk listener (desk.c) */
	char			 peer[64];
	/*
	 * The edge's budgets (server.c, "admission"): in srv->sources by
	 * address during the handshake, then in srv->identities by
	 * certificate; in srv->idle while kept alive with no request begun.
	 */
	struct edge_member	 group;
	bool			 in_idle;
	TAILQ_ENTRY(conn)	 idle_entry;
	uint64_t		 born_ms;	/* accepted, CLOCK_MONOTONIC */
	time_t			 not_after;	/* the chain's earliest notAfter */
	size_t			 body_held;	/* of srv->body_inflight */
	struct tls_refusal	 refusal;
	struct http_request	 req;
	struct event		*timer;		/* handshake, request and write deadline */
	/* Who is asking, fixed at the handshake. */
	uint8_t			 cert_sha256[32];
	uint8_t			 spki_sha256[32];
	char			 fingerprint[65];
	char			 subject[256];
	const struct wd_official *official;	/* in gen->conf; NULL if unknown */
	const struct edge_route	*route;		/* of the request being read */
	int			 identity;	/* enum wd_identity (conf_identify) */
	uint64_t		 requests;
	char			 receipt[512];	/* extra header lines for the next answer */
	struct conn_body	*body;		/* an answer being streamed, or NULL */
	TAILQ_ENTRY(conn)	 entry;
};

struct server_stats {
	uint64_t	accepted;	/* CREATEs and UPDATEs carried out */
	uint64_t	repeated;	/* CREATEs of objects already held */
	uint64_t	read;		/* GETs and LISTs answered */
	uint64_t	refused;
	uint64_t	invalid;
	uint64_t	tls_refused;
	uint64_t	unavailable;
	/* the edge (counted, logged at most 10 a second) */
	uint64_t	shed_source;		/* unauthenticated-per-source */
	uint64_t	shed_unauth;		/* unauthenticated, or no descriptor */
	uint64_t	handshake_timeouts;
	uint64_t	handshake_failed;
	uint64_t	refused_official;	/* connections-per-official: 503 */
	uint64_t	refused_full;		/* connections, none idle: 503 */
	uint64_t	idle_shed;		/* kept-alive, shed for a newcomer */
	uint64_t	refused_body;		/* body-budget: 503 */
	uint64_t	timeouts_408;
};

struct server {
	struct event_base	*base;
	const char		*conf_path;
	struct server_gen	*gen;		/* current */
	struct journal		*journal;
	struct backend_set	*backends;	/* NULL: no back end configured */
	struct results		*results;	/* NULL: no results key */
	struct purge		*purge;		/* deletes delivered results */
	struct store		*store;		/* the HI-1 objects held */
	struct store_sync	*store_sync;	/* it, caught up with the journal */
	struct lifecycle	*lifecycle;	/* what happens after acceptance */
	struct parsers		*parsers;	/* NULL: parsers 0, in-process */
	struct push		*push;		/* DELIVER to authorities; NULL: none */
	struct x1prov		*x1;		/* X1 elements; NULL: none */
	struct alert		*alert;		/* deadlines in danger */
	struct alert_out	*alert_out;	/* ... told to journald, the hook */
	struct tally		*tally;		/* counts of records, for /metrics */
	struct evconnlistener	*listener;
	struct desk		*desk;		/* the compliance desk; NULL: none */
	struct evconnlistener	*desk_listener;	/* desk listen on, if configured */
	bool			 listener_paused;
	bool			 stopping;
	struct event		*ev_drain;	/* waits for answers in flight at stop */
	unsigned		 nconns;		/* all, including the shed ones lingering */
	unsigned		 nbusy;
	struct edge_table	*sources;	/* in their handshake, by address */
	struct edge_table	*identities;	/* past it, by certificate */
	TAILQ_HEAD(, conn)	 idle;		/* kept alive, waiting; oldest first */
	size_t			 body_inflight;	/* bytes reserved for bodies */
	struct edge_rate	 log_strangers;	/* lines about unauthenticated peers */
	struct edge_rate	 log_busy;	/* lines about 503s at the edge */
	struct event		*ev_accept;	/* resumes the listener paused below */
	unsigned		 accepts_batch;	/* accepted since the loop last turned */
	uint64_t		 next_conn_id;
	struct ref_gen		 refs;		/* carrier references (ref.h) */
	time_t			 tls_window;	/* TLS refusal records: this second */
	unsigned		 tls_in_window;
	uint64_t		 tls_suppressed;	/* refusals not recorded one by one */
	struct server_stats	 stats;
	TAILQ_HEAD(, conn)	 conns;
	const struct server_hooks *hooks;	/* routes, journal events */
};

struct lifecycle_config;
/* The lifecycle's durations from the configuration in force. */
void	server_lifecycle_config(struct server *, struct lifecycle_config *);
int	server_listen(struct server *);
struct desk_stats;
/* For desk_env.stats: the counters of the connection layer. */
void	server_desk_stats(void *arg, struct desk_stats *);
void	server_reload(struct server *);
void	server_shutdown(struct server *);	/* stop accepting; close idle */
void	server_notify_status(struct server *);
/* Deadlines and alerts (src/warrantd/server_alert.c): at start, and at a reload. */
int	server_alert_open(struct server *);
void	server_alert_reload(struct server *);
void	server_alert_close(struct server *);
/* Periodic: warn ahead of the CRL's nextUpdate, say "CRL expired" past it. */
void	server_check_crl(struct server *, time_t now);
void	server_close_all(struct server *);	/* at exit */
/* Queue a response; takes ownership of body (malloc'ed, may be NULL). */
void	conn_respond(struct conn *, int status, char *body, size_t len);
/*
 * An answer of len bytes made as the output drains: fill(arg, out, want)
 * adds about want bytes and returns 1 (more to come), 0 (whole) or -1
 * (cannot be completed: the connection is closed there, short of len).
 * free(arg) is called once, when the answer is whole or the connection
 * goes. The first fill happens here, before anything is sent.
 */
struct conn_body {
	int	(*fill)(void *arg, struct evbuffer *out, size_t want);
	void	(*free)(void *arg);
	void	*arg;
};
void	conn_respond_stream(struct conn *, int status, const char *content_type,
	    size_t len, const struct conn_body *);
void	conn_respond_type(struct conn *, int status, const char *content_type,
	    char *body, size_t len);
/* A text/plain answer, for the auditors' resources. */
void	conn_respond_text(struct conn *, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	conn_vrespond_text(struct conn *, int status, const char *fmt, va_list)
	    __attribute__((format(printf, 3, 0)));
/* Intake finished with a request: free a connection that died meanwhile. */
bool	conn_release_if_dead(struct conn *);


#endif
