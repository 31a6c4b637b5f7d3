/*
 * ctl — the insides of warrantctl, the authorities' client: the server URL,
 * the mutual-TLS connection to warrantd (ctl_net.c), one HTTP/1.1 exchange
 * over it (ctl_http.c) and the reading of the HI-1 answer into a summary a
 * person can act on (ctl_resp.c). The daemon uses none of this.
 */
#ifndef WD_CTL_H
#define WD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <openssl/ssl.h>

#define CTL_MAX_BODY	(16 * 1024 * 1024)	/* request file, answer */
#define CTL_MAX_HEAD	(64 * 1024)		/* status line + headers */
#define CTL_DEFAULT_URL	"https://127.0.0.1:8443"
#define CTL_TARGET	"/hi1"

/* Outcome of one file, ordered by severity: the exit code is the worst. */
enum ctl_result {
	CTL_ACCEPTED = 0,
	CTL_REFUSED = 1,	/* 4xx, or our certificate refused by TLS */
	CTL_FAILED = 2		/* usage, files, network, 5xx, junk */
};

enum ctl_errkind {
	CTL_E_TRANSPORT = 1,	/* connect, TLS, timeout, I/O */
	CTL_E_CLOSED,		/* closed before any byte of the answer */
	CTL_E_REFUSED,		/* peer sent a certificate alert */
	CTL_E_PROTOCOL		/* the answer is not acceptable HTTP */
};

struct ctl_err {
	enum ctl_errkind kind;
	char		 msg[512];
};

void	ctl_err_set(struct ctl_err *, enum ctl_errkind, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

struct ctl_url {
	char	host[256];	/* without brackets */
	char	port[6];
	char	authority[270];	/* Host header: [host]:port as given */
	int	is_ip;		/* literal: check the IP SAN, no SNI */
};

int	ctl_url_parse(const char *, struct ctl_url *, struct ctl_err *);

/* ctl_net.c: TLS context and connection with bounded, timed I/O. */
struct ctl_conn;

SSL_CTX	*ctl_tls_ctx(const char *cert, const char *key,
	    const char *cacert, struct ctl_err *);
struct ctl_conn *ctl_connect(SSL_CTX *, const struct ctl_url *, int timeout,
	    struct ctl_err *);
void	 ctl_close(struct ctl_conn *);
int	 ctl_conn_reusable(struct ctl_conn *);
int	 ctl_conn_used(const struct ctl_conn *);
void	 ctl_conn_mark_used(struct ctl_conn *);
int	 ctl_write(struct ctl_conn *, const void *, size_t,
	    struct ctl_err *);
/* Up to len bytes into buf; 0 with *got == 0 at a clean close. */
int	 ctl_read(struct ctl_conn *, void *, size_t, size_t *got,
	    struct ctl_err *);

/* ctl_http.c: one POST and its response on an open connection. */
struct ctl_response {
	int	 status;
	char	*body;		/* bodylen bytes, then a NUL */
	size_t	 bodylen;
	int	 keepalive;	/* connection may carry another request */
};

int	ctl_http_exchange(struct ctl_conn *, const struct ctl_url *,
	    const char *body, size_t len, struct ctl_response *,
	    struct ctl_err *);
/* Any method and target (the desk's API): type is Accept, and Content-Type
 * when body_type. */
struct ctl_http_req {
	const char	*method;
	const char	*target;
	const char	*type;
	bool		 body_type;
};
int	ctl_http_request(struct ctl_conn *, const struct ctl_url *,
	    const struct ctl_http_req *, const char *body, size_t len,
	    struct ctl_response *, struct ctl_err *);
void	ctl_response_free(struct ctl_response *);

/* ctl_resp.c: summary of an HI-1 answer; the request names the actions. */
/* No start tag of buf has more than max attributes (one linear pass). */
int	ctl_attrs_bounded(const char *buf, size_t len, size_t max);
void	ctl_resp_init(void);
enum ctl_result ctl_resp_report(FILE *, const char *file, int status,
	    const char *body, size_t bodylen, const char *req, size_t reqlen);
/* Printable, one line, cut with "..." to fit len: text from the server. */
void	ctl_clean(const char *in, char *out, size_t len);

/* warrantctl.c: the session every command uses, and one exchange on it. */
struct ctl_state {
	SSL_CTX		*ctx;
	struct ctl_url	 url;
	struct ctl_conn	*conn;		/* kept between requests if possible */
	int		 timeout;
	int		 xml;		/* --xml: raw answers on stdout */
	const struct ctl_http_req *req;	/* NULL: POST /hi1 (XML) */
};

int	ctl_exchange(struct ctl_state *, const char *body, size_t len,
	    struct ctl_response *, struct ctl_err *);

/* ctl_desk.c: warrantctl desk ... (the compliance desk's API). */
struct ctl_desk_opts {
	int		 json;
	const char	*task;
	const char	*reason;
	const char	*note;
};
int	ctl_desk_run(struct ctl_state *, const struct ctl_desk_opts *,
	    int argc, char **argv);

#endif
