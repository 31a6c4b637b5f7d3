/*
 * lg_conn — the life of one load-generator connection: non-blocking TCP
 * connect, TLS handshake with our client certificate, the request written
 * with partial writes, the answer framed by its Content-Length, then the
 * next request on the same connection or a new one.
 *
 * Latency is measured from the request's *intended* start: in open loop
 * (--rate) each connection has a fixed schedule, and a request that starts
 * late because the server was slow to answer the previous one is charged
 * that delay. Otherwise a stalled server would be sampled less often
 * exactly when it is slow (coordinated omission) and the tail would hide.
 * In closed loop the intended start is the actual start.
 *
 * Raw SSL on our own events rather than OpenSSL bufferevents: one copy
 * less, and every SSL_ERROR is seen and counted by kind.
 */
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "loadgen.h"

static void	conn_iocb(evutil_socket_t, short, void *);
static void	conn_timercb(evutil_socket_t, short, void *);
static void	conn_next(struct lg_conn *, uint64_t delay);
static void	conn_handshake(struct lg_conn *);
static void	conn_write(struct lg_conn *);
static void	conn_read(struct lg_conn *);

#define NS	1000000000ull

uint64_t
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void
conn_wait_io(struct lg_conn *c, short what)
{
	event_del(&c->io);
	event_assign(&c->io, c->w->base, c->fd, what, conn_iocb, c);
	event_add(&c->io, NULL);
}

static void
conn_arm_at(struct lg_conn *c, uint64_t when)
{
	uint64_t	now = lg_now(), d = when > now ? when - now : 0;
	struct timeval	tv = { (time_t)(d / NS), (suseconds_t)(d % NS / 1000) };

	evtimer_add(&c->timer, &tv);
}

/*
 * Drop the TCP and TLS state; the connection object stays for reuse.
 * polite: the TLS session is sound, send a close_notify if it fits at once
 * (never wait for the peer's); after a TLS or socket error, just close.
 */
static void
conn_close(struct lg_conn *c, bool polite)
{
	event_del(&c->io);
	evtimer_del(&c->timer);
	if (c->ssl) {
		if (polite)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	ERR_clear_error();
}

static void
conn_off(struct lg_conn *c, bool polite)
{
	conn_close(c, polite);
	if (c->st == CS_OFF)
		return;
	c->st = CS_OFF;
	c->w->active--;
	lg_worker_conn_off(c->w);
}

/* Count a failure of kind *what, then go on with a fresh connection. */
static void
conn_fail(struct lg_conn *c, uint64_t *what)
{
	bool setup = what == &c->w->st.connect_err || what == &c->w->st.tls_err;
	bool was_held = c->st == CS_HELD;

	(*what)++;
	if (c->pre) {
		/* Its first request will try again, inside the run. */
		conn_close(c, false);
		c->pre = false;
		c->st = CS_WAIT;
		lg_preconnected(c->w);
		return;
	}
	if (c->w->sh->o->mode == LG_IDLE) {
		/* Held connections are not replaced: we measure what stays. */
		if (was_held)
			__atomic_sub_fetch(&c->w->sh->held, 1, __ATOMIC_RELAXED);
		else
			lg_idle_settled(c->w, false);
		conn_off(c, false);
		return;
	}
	conn_close(c, false);
	/* A pause after a refused connection, so a dead server is not spun on. */
	conn_next(c, setup ? LG_RETRY_MS * 1000000ull : 0);
}

static void
conn_connect(struct lg_conn *c)
{
	const struct lg_opts	*o = c->w->sh->o;
	int			 one = 1;

	c->st = CS_CONNECT;
	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		conn_fail(c, &c->w->st.connect_err);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) == -1 &&
	    errno != EINPROGRESS) {
		conn_fail(c, &c->w->st.connect_err);
		return;
	}
	conn_wait_io(c, EV_WRITE);
}

/* xorshift128+: cheap, and only has to make UUIDs that never repeat. */
static uint64_t
conn_rand(struct lg_conn *c)
{
	uint64_t	s1 = c->rng[0];
	const uint64_t	s0 = c->rng[1];

	c->rng[0] = s0;
	s1 ^= s1 << 23;
	c->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return c->rng[1] + s0;
}

/*
 * --fresh-uuids: every UUID of the body gets a new random (version 4)
 * value, the same new value wherever the same old one stood, so that the
 * links between the message's objects hold and the request is new objects,
 * not a repeat that the server answers from its store. Same length: the
 * head's Content-Length stays right.
 */
static void
conn_fresh_uuids(struct lg_conn *c)
{
	static const char	 hex[] = "0123456789abcdef";
	const struct lg_shared	*sh = c->w->sh;
	char			 u[LG_UUID_MAX][LG_UUID_LEN];
	unsigned		 i, k, d;
	uint64_t		 r[2];

	for (i = 0; i < sh->nuuid; i++) {
		r[0] = conn_rand(c);
		r[1] = conn_rand(c);
		for (k = 0, d = 0; k < LG_UUID_LEN; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23) {
				u[i][k] = '-';
				continue;
			}
			u[i][k] = hex[(r[d / 16] >> (4 * (d % 16))) & 15];
			d++;
		}
		u[i][14] = '4';				/* version 4 */
		u[i][19] = hex[8 + (r[1] >> 60 & 3)];	/* variant 10xx */
	}
	for (i = 0; i < sh->nuuid_at; i++)
		memcpy(c->req + sh->uuid_at[i], u[sh->uuid_of[i]], LG_UUID_LEN);
}

static void
conn_begin(struct lg_conn *c)
{
	struct lg_worker	*w = c->w;

	w->started++;
	c->out = w->sh->req;
	c->wlen = w->sh->req_len;
	if (c->req != NULL) {
		conn_fresh_uuids(c);
		c->out = c->req;
	} else if (w->sh->nreqs > 0) {
		/* --body-list: the next request of the list, whoever sends it. */
		uint64_t k = __atomic_fetch_add(&w->sh->next_req, 1,
		    __ATOMIC_RELAXED) % w->sh->nreqs;

		c->out = w->sh->reqs[k];
		c->wlen = w->sh->req_lens[k];
	}
	if (w->sh->o->mode == LG_IDLE)
		c->wlen = w->sh->hold_len;
	conn_arm_at(c, lg_now() + (uint64_t)(w->sh->o->timeout * NS));
	if (c->ssl != NULL) {
		c->st = CS_WRITE;
		c->woff = 0;
		conn_write(c);
		return;
	}
	conn_connect(c);
}

static void
conn_connected(struct lg_conn *c)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
		conn_fail(c, &c->w->st.connect_err);
		return;
	}
	if ((c->ssl = SSL_new(c->w->sh->ctx)) == NULL ||
	    !SSL_set_fd(c->ssl, c->fd)) {
		conn_fail(c, &c->w->st.tls_err);
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->st = CS_HANDSHAKE;
	conn_handshake(c);
}

/* After SSL_* returned r <= 0: wait for the socket, or fail by kind. */
static void
conn_ssl_wait(struct lg_conn *c, int r)
{
	struct lg_stats *st = &c->w->st;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_wait_io(c, EV_READ);
		return;
	case SSL_ERROR_WANT_WRITE:
		conn_wait_io(c, EV_WRITE);
		return;
	case SSL_ERROR_ZERO_RETURN:
		conn_fail(c, &st->closed);
		return;
	case SSL_ERROR_SYSCALL:
		/* EOF or reset from the peer; in a handshake that is a refusal. */
		conn_fail(c, c->st == CS_HANDSHAKE ? &st->tls_err : &st->closed);
		return;
	default:
		conn_fail(c, &st->tls_err);
		return;
	}
}

static void
conn_handshake(struct lg_conn *c)
{
	int r;

	if ((r = SSL_do_handshake(c->ssl)) != 1) {
		conn_ssl_wait(c, r);
		return;
	}
	c->w->st.handshakes++;
	if (c->pre) {
		c->pre = false;
		c->st = CS_WAIT;
		evtimer_del(&c->timer);
		lg_preconnected(c->w);
		return;
	}
	c->st = CS_WRITE;
	c->woff = 0;
	conn_write(c);
}

static void
conn_hold(struct lg_conn *c)
{
	c->st = CS_HELD;
	evtimer_del(&c->timer);
	__atomic_add_fetch(&c->w->sh->held, 1, __ATOMIC_RELAXED);
	lg_idle_settled(c->w, true);
	/* Readable now means the server answered or hung up: it is counted. */
	conn_wait_io(c, EV_READ);
}

static void
conn_write(struct lg_conn *c)
{
	const char	*req = c->out;
	int		 n;

	while (c->woff < c->wlen) {
		n = SSL_write(c->ssl, req + c->woff, (int)(c->wlen - c->woff));
		if (n <= 0) {
			conn_ssl_wait(c, n);
			return;
		}
		c->woff += (size_t)n;
		c->w->st.bytes_out += (uint64_t)n;
	}
	if (c->w->sh->o->mode == LG_IDLE) {
		conn_hold(c);
		return;
	}
	c->st = CS_READ;
	c->hlen = c->got = c->clen = 0;
	c->head_done = c->server_close = false;
	c->status = 0;
	conn_wait_io(c, EV_READ);
}

/* One header line of the answer; the status line was checked already. */
static int
conn_header(struct lg_conn *c, const char *line, size_t len)
{
	char	 num[24];
	char	*end;

	if (len > 15 && strncasecmp(line, "content-length:", 15) == 0) {
		line += 15;
		len -= 15;
		while (len && (*line == ' ' || *line == '\t'))
			line++, len--;
		if (len == 0 || len >= sizeof(num))
			return -1;
		memcpy(num, line, len);
		num[len] = '\0';
		errno = 0;
		c->clen = strtoull(num, &end, 10);
		if (errno || (*end && *end != ' ' && *end != '\t') ||
		    c->clen > LG_BODY_MAX)
			return -1;
	} else if (len > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0)
		return -1;	/* both servers frame with Content-Length */
	else if (len > 11 && strncasecmp(line, "connection:", 11) == 0 &&
	    memmem(line, len, "close", 5) != NULL)
		c->server_close = true;
	return 0;
}

static int
conn_parse_head(struct lg_conn *c, size_t end)
{
	const char	*p = c->head, *eol, *stop = c->head + end;
	bool		 have_len = false;

	if (end < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return -1;
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if ((eol = memmem(p, (size_t)(stop - p), "\r\n", 2)) == NULL)
		return -1;
	for (p = eol + 2; p < stop - 2; p = eol + 2) {
		if ((eol = memmem(p, (size_t)(stop - p), "\r\n", 2)) == NULL)
			return -1;
		if (strncasecmp(p, "content-length:", 15) == 0)
			have_len = true;
		if (conn_header(c, p, (size_t)(eol - p)) == -1)
			return -1;
	}
	return have_len ? 0 : -1;
}

/* Feed answer bytes: 1 complete, 0 more needed, -1 unframeable. */
static int
conn_parse(struct lg_conn *c, const char *data, size_t n)
{
	size_t	 take, from;
	char	*e;

	if (!c->head_done) {
		take = n < LG_HEAD_MAX - c->hlen ? n : LG_HEAD_MAX - c->hlen;
		from = c->hlen > 3 ? c->hlen - 3 : 0;
		memcpy(c->head + c->hlen, data, take);
		c->hlen += take;
		e = memmem(c->head + from, c->hlen - from, "\r\n\r\n", 4);
		if (e == NULL)
			return c->hlen == LG_HEAD_MAX ? -1 : 0;
		c->head_done = true;
		if (conn_parse_head(c, (size_t)(e + 4 - c->head)) == -1)
			return -1;
		c->got = (uint64_t)(c->head + c->hlen - (e + 4)) + (n - take);
	} else
		c->got += n;
	if (c->got > c->clen)
		return -1;	/* we never pipeline: extra bytes are an error */
	return c->got == c->clen;
}

static void
conn_done(struct lg_conn *c)
{
	struct lg_worker	*w = c->w;
	uint64_t		 now = lg_now();

	evtimer_del(&c->timer);
	w->st.by_status[c->status]++;
	if (c->status >= 200 && c->status < 300) {
		w->st.ok++;
		hist_record(&w->hist, (now - c->intended) / 1000);
	} else
		w->st.http_err++;
	if (w->sh->o->mode == LG_NEWCONN || c->server_close)
		conn_close(c, true);
	conn_next(c, 0);
}

static void
conn_read(struct lg_conn *c)
{
	struct lg_worker	*w = c->w;
	int			 n, r;

	for (;;) {
		n = SSL_read(c->ssl, w->rdbuf, LG_READ_CHUNK);
		if (n <= 0) {
			conn_ssl_wait(c, n);
			return;
		}
		w->st.bytes_in += (uint64_t)n;
		if (c->st == CS_HELD) {
			/* An early answer (timeout, refusal) to a held request. */
			conn_fail(c, &w->st.closed);
			return;
		}
		if ((r = conn_parse(c, w->rdbuf, (size_t)n)) == -1) {
			conn_fail(c, &w->st.bad_resp);
			return;
		}
		if (r == 1) {
			conn_done(c);
			return;
		}
	}
}

static void
conn_iocb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->st) {
	case CS_CONNECT:
		conn_connected(c);
		break;
	case CS_HANDSHAKE:
		conn_handshake(c);
		break;
	case CS_WRITE:
		conn_write(c);
		break;
	case CS_READ:
	case CS_HELD:
		conn_read(c);
		break;
	case CS_OFF:
	case CS_WAIT:
		break;
	}
}

static void
conn_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->st == CS_WAIT)
		conn_next(c, 0);
	else if (c->st != CS_OFF && c->st != CS_HELD)
		conn_fail(c, &c->w->st.timeouts);
}

/*
 * Start the next request of this connection, now or at its intended time,
 * or retire the connection when the run is over. delay: a pause first.
 */
static void
conn_next(struct lg_conn *c, uint64_t delay)
{
	struct lg_worker	*w = c->w;
	const struct lg_opts	*o = w->sh->o;
	uint64_t		 now = lg_now(), at;

	if (w->stopping || (w->quota && w->started >= w->quota)) {
		conn_off(c, true);
		return;
	}
	if (o->rate > 0) {
		/* A retry pause delays the send but does not move the schedule:
		 * the request is still charged from its intended time. */
		at = c->next_due > now + delay ? c->next_due : now + delay;
		if (at <= now + 1000) {
			c->intended = c->next_due;
			c->next_due += w->interval;
			conn_begin(c);
			return;
		}
		c->st = CS_WAIT;
		conn_arm_at(c, at);
		return;
	}
	if (delay) {
		c->st = CS_WAIT;
		conn_arm_at(c, now + delay);
		return;
	}
	c->intended = now;
	conn_begin(c);
}

void
lg_conn_init(struct lg_worker *w, struct lg_conn *c, unsigned index)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->index = index;
	c->fd = -1;
	c->st = CS_OFF;
	evtimer_assign(&c->timer, w->base, conn_timercb, c);
	event_assign(&c->io, w->base, -1, 0, conn_iocb, c);
	if (w->sh->o->fresh_uuids) {
		if ((c->req = malloc(w->sh->req_len)) == NULL ||
		    RAND_bytes((unsigned char *)c->rng, sizeof(c->rng)) != 1) {
			fprintf(stderr, "loadgen: out of memory or randomness\n");
			exit(1);
		}
		memcpy(c->req, w->sh->req, w->sh->req_len);
	}
}

/* New-connection and idle runs start at once, from t0. */
void
lg_conn_start(struct lg_conn *c)
{
	c->st = CS_WAIT;
	c->w->active++;
	if (c->w->sh->o->mode == LG_IDLE) {
		c->intended = lg_now();
		conn_begin(c);
		return;
	}
	lg_conn_go(c);
}

/*
 * Keep-alive runs connect every connection first, so that the handshakes
 * are not charged to the first requests (nor crowd the open-loop schedule);
 * lg_preconnected() starts the run once all are up or failed.
 */
void
lg_conn_preconnect(struct lg_conn *c)
{
	c->w->active++;
	c->pre = true;
	conn_arm_at(c, lg_now() + (uint64_t)(c->w->sh->o->timeout * NS));
	conn_connect(c);
}

/* The start of the run proper (after lg_conn_preconnect, if any). */
void
lg_conn_go(struct lg_conn *c)
{
	const struct lg_opts *o = c->w->sh->o;

	if (o->rate > 0)
		c->next_due = c->w->sh->t0 + (uint64_t)((double)c->index * NS / o->rate);
	conn_next(c, 0);
}

/* The end of the run: held connections count as held to the end. */
void
lg_conn_stop(struct lg_conn *c)
{
	/* Stopped mid-handshake or mid-request: the session is not idle. */
	conn_off(c, c->st == CS_HELD || c->st == CS_WAIT);
}
