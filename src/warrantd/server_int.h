/*
 * server_int.h — what the server's files share, private to them: the
 * listener and generations (server.c), a connection's life
 * (server_conn.c), the HTTP exchange (server_http.c), reload and shutdown
 * (server_reload.c). Public interfaces stay in server.h.
 */
#ifndef WD_SERVER_INT_H
#define WD_SERVER_INT_H

#include <stdint.h>

#include "server.h"

struct bufferevent;
struct edge_rate;
struct wd_conf;

/*
 * Event priorities (0 first): authenticated connections, and what existed
 * before the listener (journal, back ends), 0; the listener, strangers and
 * everything else 1. Under a flood of handshakes the requests of
 * authenticated clients are never queued behind the strangers' work. The
 * listener shares the strangers' level on purpose: libevent runs a lower
 * level only in turns when no higher one has work, so a listener above
 * the strangers would starve every handshake (the officials' too) and the
 * closing of the strangers shed.
 */
#define PRI_LEVELS	2
#define PRI_AUTH	0
#define PRI_STRANGER	1

/* server.c: timers, rate-limited logs, descriptors. */
uint64_t	server_now_ms(void);
void	server_conn_arm(struct conn *, unsigned);
void	server_log_held(struct edge_rate *, const char *);
void	server_conn_log_stranger(const struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	server_conn_log_busy(const struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	server_fd_limit(const struct wd_conf *);

/* server_conn.c: a connection's life. */
void	server_conn_idle_enter(struct conn *);
void	server_conn_idle_leave(struct conn *);
void	server_conn_free(struct conn *);
void	server_conn_refuse_busy(struct conn *, uint64_t *, const char *);
void	server_conn_handshake_done(struct conn *);
void	server_conn_error_response(struct conn *, int, enum wd_errcode,
	    const char *);
void	server_conn_begin_busy(struct conn *);

/* server_http.c: the exchange and the bufferevent's callbacks. */
void	server_conn_readcb(struct bufferevent *, void *);
void	server_conn_writecb(struct bufferevent *, void *);
void	server_conn_eventcb(struct bufferevent *, short, void *);
void	server_conn_body_end(struct conn *);

#endif /* WD_SERVER_INT_H */
