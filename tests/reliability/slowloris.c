/*
 * slowloris — a hostile but authenticated client of warrantd for the
 * reliability tests (tests/reliability/hostile.sh, soak.sh). It owns the
 * three attacks that need many sockets at once, which warrantctl, curl and
 * openssl s_client cannot produce:
 *
 *   --trickle N     N connections with a valid client certificate, each
 *                   sending a well-formed request one byte every --interval
 *                   ms: the daemon must drop each one at its request
 *                   deadline, counted from the first byte, however steadily
 *                   bytes keep coming.
 *   --idle N        N connections opened and held for --hold seconds: bare
 *                   TCP (--tcp-only: the TLS handshake never starts) or
 *                   TLS with the handshake done and then silence. Reports
 *                   how many the kernel and the daemon took, and when the
 *                   daemon dropped them. With --reconnect MS, a connection
 *                   the daemon closes is opened again MS later, so that N
 *                   stay pressed on it for the whole hold.
 *   --handshakes N  N full handshakes, --concurrency at a time, with the
 *                   given certificate or none (a rogue or missing one is
 *                   the point): how many the daemon accepted (answered an
 *                   HTTP request afterwards) or refused, and the rate.
 *
 * --from ADDR --sources K spreads the connections over K consecutive IPv4
 * source addresses from ADDR (127.0.0.2 and up: every 127/8 address is
 * loopback on Linux), as attackers on K hosts would be.
 *
 * One thread, non-blocking sockets and poll(2); OpenSSL directly (no
 * session reuse: each connection costs the daemon a full handshake). The
 * result is one line of key=value pairs on stdout, for the scripts. A
 * test tool: it trusts its command line, never the server's bytes (every
 * read goes to a fixed buffer and is only counted).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum sl_mode { SL_NONE, SL_TRICKLE, SL_IDLE, SL_HANDSHAKES };

enum sl_state {
	ST_FREE = 0,		/* slot unused (handshakes mode) */
	ST_CONNECTING,		/* TCP connect in progress */
	ST_HANDSHAKE,		/* TLS handshake in progress */
	ST_SENDING,		/* trickling, or sending the probe request */
	ST_WAITING,		/* idle hold, or waiting for an answer */
	ST_CLOSED		/* done: closed by the server or failed */
};

struct sl_conn {
	int		 fd;
	SSL		*ssl;
	enum sl_state	 state;
	double		 t_open;	/* connect() issued */
	double		 t_up;		/* TCP established */
	double		 t_first;	/* first request byte sent */
	double		 t_next;	/* next trickle byte due */
	double		 t_end;		/* closed */
	double		 t_reopen;	/* --reconnect: open again then */
	size_t		 sent;
	size_t		 got;		/* answer bytes received */
	int		 closed_by_peer;
	int		 handshake_ok;
	int		 failed;	/* connect or TLS failure */
};

static struct {
	enum sl_mode	 mode;
	const char	*cert, *key, *cacert, *body_file, *ready_file;
	struct sockaddr_in addr;
	unsigned	 n, concurrency;
	unsigned	 interval_ms;
	double		 hold_s, max_time_s;
	int		 tcp_only;
	int		 reconnect_ms;	/* -1: never */
	struct in_addr	 from;		/* source addresses; 0: the kernel's */
	unsigned	 sources;
} opt = { .interval_ms = 1000, .hold_s = 10, .max_time_s = 120,
    .concurrency = 32, .reconnect_ms = -1, .sources = 1 };

static SSL_CTX		*ctx;
static char		*request;
static size_t		 request_len;
static volatile sig_atomic_t stop;
static unsigned		 opened;	/* connections opened, for --sources */
static unsigned		 reopened, shed_total, failed_total;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: slowloris --connect HOST:PORT [--cert F --key F] [--cacert F]\n"
"                 (--trickle N [--interval MS] [--body FILE] |\n"
"                  --idle N [--tcp-only] [--hold S] [--ready-file F]\n"
"                         [--reconnect MS] |\n"
"                  --handshakes N [--concurrency C])\n"
"                 [--max-time S] [--from IPV4 [--sources K]]\n");
	exit(2);
}

static unsigned
num(const char *s, unsigned min, unsigned max)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		errx(2, "%s: expected a number in %u..%u", s, min, max);
	return (unsigned)v;
}

static void
parse_addr(const char *s)
{
	char		 host[64];
	const char	*colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		errx(2, "%s: expected IPv4:PORT", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	opt.addr.sin_family = AF_INET;
	opt.addr.sin_port = htons((uint16_t)num(colon + 1, 1, 65535));
	if (inet_pton(AF_INET, host, &opt.addr.sin_addr) != 1)
		errx(2, "%s: expected an IPv4 address", host);
}

static void
parse_args(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, 'a' },
		{ "trickle", required_argument, NULL, 'T' },
		{ "interval", required_argument, NULL, 'i' },
		{ "body", required_argument, NULL, 'b' },
		{ "idle", required_argument, NULL, 'I' },
		{ "tcp-only", no_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'h' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "handshakes", required_argument, NULL, 'H' },
		{ "concurrency", required_argument, NULL, 'n' },
		{ "max-time", required_argument, NULL, 'm' },
		{ "reconnect", required_argument, NULL, 'R' },
		{ "from", required_argument, NULL, 'f' },
		{ "sources", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch, have_addr = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C': parse_addr(optarg); have_addr = 1; break;
		case 'c': opt.cert = optarg; break;
		case 'k': opt.key = optarg; break;
		case 'a': opt.cacert = optarg; break;
		case 'T': opt.mode = SL_TRICKLE; opt.n = num(optarg, 1, 100000); break;
		case 'i': opt.interval_ms = num(optarg, 1, 3600000); break;
		case 'b': opt.body_file = optarg; break;
		case 'I': opt.mode = SL_IDLE; opt.n = num(optarg, 1, 1000000); break;
		case 't': opt.tcp_only = 1; break;
		case 'h': opt.hold_s = num(optarg, 0, 86400); break;
		case 'r': opt.ready_file = optarg; break;
		case 'H': opt.mode = SL_HANDSHAKES; opt.n = num(optarg, 1, 10000000); break;
		case 'n': opt.concurrency = num(optarg, 1, 10000); break;
		case 'm': opt.max_time_s = num(optarg, 1, 86400); break;
		case 'R': opt.reconnect_ms = (int)num(optarg, 0, 3600000); break;
		case 'f':
			if (inet_pton(AF_INET, optarg, &opt.from) != 1)
				errx(2, "%s: expected an IPv4 address", optarg);
			break;
		case 's': opt.sources = num(optarg, 1, 65536); break;
		default: usage();
		}
	}
	if (argc != optind || !have_addr || opt.mode == SL_NONE ||
	    (opt.cert == NULL) != (opt.key == NULL))
		usage();
}

static void
tls_init(void)
{
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		errx(1, "SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No resumption: every connection is a full handshake for the server. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (opt.cert && (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1))
		errx(1, "%s, %s: cannot load the client certificate", opt.cert,
		    opt.key);
	if (opt.cacert) {
		if (SSL_CTX_load_verify_locations(ctx, opt.cacert, NULL) != 1)
			errx(1, "%s: cannot load", opt.cacert);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
}

/* The request to trickle (or the probe after a handshake). */
static void
request_init(void)
{
	char	*body = NULL, hdr[256];
	size_t	 blen = 0;
	FILE	*f;
	long	 sz;
	int	 n;

	if (opt.mode == SL_HANDSHAKES) {
		/* Any answer proves the handshake was accepted; 404 is cheap. */
		request = strdup("GET /slowloris-probe HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n");
		if (request == NULL)
			err(1, "strdup");
		request_len = strlen(request);
		return;
	}
	if (opt.body_file) {
		if ((f = fopen(opt.body_file, "rb")) == NULL ||
		    fseek(f, 0, SEEK_END) == -1 || (sz = ftell(f)) < 0 ||
		    sz > (1L << 24) || fseek(f, 0, SEEK_SET) == -1)
			err(1, "%s", opt.body_file);
		blen = (size_t)sz;
		if ((body = malloc(blen + 1)) == NULL ||
		    fread(body, 1, blen, f) != blen)
			err(1, "%s", opt.body_file);
		fclose(f);
	} else {
		body = strdup("<x/>");
		if (body == NULL)
			err(1, "strdup");
		blen = strlen(body);
	}
	n = snprintf(hdr, sizeof(hdr), "POST /hi1 HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/xml\r\nContent-Length: %zu\r\n\r\n", blen);
	request_len = (size_t)n + blen;
	if ((request = malloc(request_len)) == NULL)
		err(1, "malloc");
	memcpy(request, hdr, (size_t)n);
	memcpy(request + n, body, blen);
	free(body);
}

static void
conn_close(struct sl_conn *c, int by_peer)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = ST_CLOSED;
	c->closed_by_peer = by_peer;
	c->t_end = now();
	ERR_clear_error();
}

static void
conn_open(struct sl_conn *c)
{
	int	one = 1;

	memset(c, 0, sizeof(*c));
	c->t_open = now();
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		c->failed = 1;
		conn_close(c, 0);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.from.s_addr != 0) {
		struct sockaddr_in src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(ntohl(opt.from.s_addr) +
		    opened % opt.sources);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			c->failed = 1;
			conn_close(c, 0);
			return;
		}
	}
	opened++;
	if (connect(c->fd, (struct sockaddr *)&opt.addr, sizeof(opt.addr)) ==
	    -1 && errno != EINPROGRESS) {
		c->failed = 1;
		conn_close(c, 0);
		return;
	}
	c->state = ST_CONNECTING;
}

/* The TCP connection is up: start TLS, or hold it bare. */
static void
conn_up(struct sl_conn *c)
{
	c->t_up = now();
	if (opt.mode == SL_IDLE && opt.tcp_only) {
		c->state = ST_WAITING;
		return;
	}
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		c->failed = 1;
		conn_close(c, 0);
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->state = ST_HANDSHAKE;
}

static void
conn_handshake(struct sl_conn *c)
{
	int	r = SSL_do_handshake(c->ssl), e;

	if (r == 1) {
		c->handshake_ok = 1;
		if (opt.mode == SL_IDLE)
			c->state = ST_WAITING;
		else {
			c->state = ST_SENDING;
			c->t_next = now();
		}
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	c->failed = 1;
	conn_close(c, 1);
}

/* Read and count whatever the server sends; notice it closing. */
static void
conn_read(struct sl_conn *c)
{
	char	buf[16384];
	ssize_t	n;
	int	r, e;

	if (c->ssl == NULL) {
		n = read(c->fd, buf, sizeof(buf));
		if (n > 0)
			c->got += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(c, 1);
		return;
	}
	for (;;) {
		r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0) {
			c->got += (size_t)r;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		/* An alert after a TLS 1.3 handshake is a refusal too. */
		if (c->got == 0 && c->state != ST_WAITING && c->sent == 0)
			c->failed = 1;
		conn_close(c, 1);
		return;
	}
}

/* Send the next byte (trickle) or the whole probe (handshakes). */
static void
conn_send(struct sl_conn *c, double t)
{
	size_t	len;
	int	r, e;

	if (c->sent >= request_len) {
		c->state = ST_WAITING;
		return;
	}
	if (opt.mode == SL_TRICKLE) {
		if (t < c->t_next)
			return;
		len = 1;
	} else
		len = request_len - c->sent;
	r = SSL_write(c->ssl, request + c->sent, (int)len);
	if (r > 0) {
		if (c->sent == 0)
			c->t_first = t;
		c->sent += (size_t)r;
		c->t_next = t + opt.interval_ms / 1000.0;
		if (c->sent >= request_len)
			c->state = ST_WAITING;
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	conn_close(c, 1);
}

static short
conn_events(const struct sl_conn *c)
{
	switch (c->state) {
	case ST_CONNECTING:
		return POLLOUT;
	case ST_HANDSHAKE:
		/* OpenSSL tells which one it wants; poll both, it is cheap. */
		return POLLIN | (SSL_want_write(c->ssl) ? POLLOUT : 0);
	case ST_SENDING:
		return POLLIN | (opt.mode == SL_HANDSHAKES ? POLLOUT : 0);
	case ST_WAITING:
		return POLLIN;
	default:
		return 0;
	}
}

static void
conn_step(struct sl_conn *c, short rev, double t)
{
	int		e = 0;
	socklen_t	elen = sizeof(e);

	if (c->state == ST_CONNECTING && (rev & (POLLOUT | POLLERR | POLLHUP))) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1 ||
		    e != 0) {
			c->failed = 1;
			conn_close(c, 0);
			return;
		}
		conn_up(c);
	}
	if (c->state == ST_HANDSHAKE)
		conn_handshake(c);
	if (c->state == ST_SENDING)
		conn_send(c, t);
	if ((c->state == ST_WAITING || c->state == ST_SENDING) &&
	    (rev & (POLLIN | POLLHUP | POLLERR)))
		conn_read(c);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* min, median, max of n values (sorted in place). */
static void
stats(double *v, size_t n, double out[3])
{
	out[0] = out[1] = out[2] = -1;
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	out[0] = v[0];
	out[1] = v[n / 2];
	out[2] = v[n - 1];
}

static void
write_ready(void)
{
	FILE *f;

	if (opt.ready_file && (f = fopen(opt.ready_file, "w")) != NULL)
		fclose(f);
}

/* --reconnect: count a closed connection, and open it again in time. */
static void
reconnect(struct sl_conn *c, double t)
{
	if (c->t_reopen == 0)
		c->t_reopen = t + opt.reconnect_ms / 1000.0;
	if (t < c->t_reopen)
		return;
	/* Counted as it goes; those still closed at the end, by report_all. */
	shed_total += c->closed_by_peer && !c->failed;
	failed_total += c->failed;
	reopened++;
	conn_open(c);
}

/* Trickle and idle: all connections at once, until done or time is up. */
static void
run_all(struct sl_conn *cs)
{
	struct pollfd	*pfd;
	size_t		*idx, k, live;
	double		 t0 = now(), t, until, ready_at = -1;
	unsigned	 i;

	if ((pfd = calloc(opt.n, sizeof(*pfd))) == NULL ||
	    (idx = calloc(opt.n, sizeof(*idx))) == NULL)
		err(1, "calloc");
	for (i = 0; i < opt.n; i++)
		conn_open(&cs[i]);
	until = t0 + (opt.mode == SL_IDLE ? opt.hold_s : opt.max_time_s);
	while (!stop && (t = now()) < until) {
		for (i = 0, k = 0, live = 0; i < opt.n; i++) {
			if (cs[i].state == ST_CLOSED && opt.reconnect_ms >= 0)
				reconnect(&cs[i], t);
			if (cs[i].state == ST_CLOSED)
				continue;
			live++;
			/* Trickling sockets wake on the clock, not on poll. */
			pfd[k].fd = cs[i].fd;
			pfd[k].events = conn_events(&cs[i]);
			pfd[k].revents = 0;
			idx[k++] = i;
		}
		if (live == 0 && opt.mode != SL_IDLE)
			break;
		if (ready_at < 0) {
			for (i = 0; i < opt.n; i++)
				if (cs[i].state == ST_CONNECTING ||
				    cs[i].state == ST_HANDSHAKE)
					break;
			if (i == opt.n) {
				ready_at = t - t0;
				write_ready();
			}
		}
		if (poll(pfd, k, opt.mode == SL_TRICKLE ? 50 : 200) == -1 &&
		    errno != EINTR)
			err(1, "poll");
		t = now();
		for (size_t j = 0; j < k; j++)
			conn_step(&cs[idx[j]], pfd[j].revents, t);
	}
	if (ready_at < 0)
		write_ready();
	free(pfd);
	free(idx);
}

static void
report_all(struct sl_conn *cs)
{
	double		*drop, st[3];
	unsigned	 i, up = 0, hs = 0, byp = 0, open = 0, failed = 0, ans = 0;
	size_t		 nd = 0, maxsent = 0;

	if ((drop = calloc(opt.n, sizeof(*drop))) == NULL)
		err(1, "calloc");
	for (i = 0; i < opt.n; i++) {
		struct sl_conn *c = &cs[i];

		up += c->t_up > 0;
		hs += c->handshake_ok;
		failed += c->failed;
		ans += c->got > 0;
		if (c->sent > maxsent)
			maxsent = c->sent;
		if (c->state != ST_CLOSED)
			open++;
		else if (c->closed_by_peer && !c->failed) {
			byp++;
			/* trickle: from the first request byte; idle: from up */
			if (opt.mode == SL_TRICKLE && c->t_first > 0)
				drop[nd++] = c->t_end - c->t_first;
			else if (opt.mode == SL_IDLE && c->t_up > 0)
				drop[nd++] = c->t_end - c->t_up;
		}
	}
	stats(drop, nd, st);
	printf("mode=%s conns=%u connected=%u handshakes=%u failed=%u "
	    "closed_by_server=%u still_open=%u answered=%u max_bytes_sent=%zu "
	    "request_bytes=%zu drop_min=%.2f drop_median=%.2f drop_max=%.2f "
	    "opened=%u reopened=%u closed_by_server_total=%u failed_total=%u\n",
	    opt.mode == SL_TRICKLE ? "trickle" : "idle", opt.n, up, hs, failed,
	    byp, open, ans, maxsent, request_len, st[0], st[1], st[2], opened,
	    reopened, shed_total + byp, failed_total + failed);
	free(drop);
}

/* Handshakes: N in all, at most C at a time. */
static void
run_handshakes(void)
{
	struct sl_conn	*cs;
	struct pollfd	*pfd;
	unsigned	 started = 0, done = 0, ok = 0, refused = 0, errs = 0, i;
	double		 t0 = now(), t;

	if ((cs = calloc(opt.concurrency, sizeof(*cs))) == NULL ||
	    (pfd = calloc(opt.concurrency, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	for (i = 0; i < opt.concurrency; i++)
		cs[i].state = ST_FREE;
	while (!stop && done < opt.n && (t = now()) < t0 + opt.max_time_s) {
		for (i = 0; i < opt.concurrency; i++) {
			struct sl_conn *c = &cs[i];

			if (c->state == ST_CLOSED) {
				done++;
				if (c->got > 0)
					ok++;
				else if (c->t_up > 0)
					refused++;
				else
					errs++;
				c->state = ST_FREE;
			}
			if (c->state == ST_FREE && started < opt.n) {
				conn_open(c);
				started++;
			}
			pfd[i].fd = c->state == ST_FREE ? -1 : c->fd;
			pfd[i].events = c->state == ST_FREE ? 0 : conn_events(c);
			pfd[i].revents = 0;
		}
		if (poll(pfd, opt.concurrency, 200) == -1 && errno != EINTR)
			err(1, "poll");
		t = now();
		for (i = 0; i < opt.concurrency; i++)
			if (cs[i].state != ST_FREE && cs[i].state != ST_CLOSED)
				conn_step(&cs[i], pfd[i].revents, t);
	}
	t = now() - t0;
	printf("mode=handshakes n=%u done=%u ok=%u refused=%u errors=%u "
	    "seconds=%.2f rate=%.1f\n", opt.n, done, ok, refused, errs, t,
	    t > 0 ? done / t : 0);
	for (i = 0; i < opt.concurrency; i++)
		if (cs[i].state != ST_FREE && cs[i].state != ST_CLOSED)
			conn_close(&cs[i], 0);
	free(cs);
	free(pfd);
}

/* Many sockets: raise the soft descriptor limit to the hard one. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && opt.n + 16 > rl.rlim_cur &&
	    opt.mode != SL_HANDSHAKES)
		errx(2, "%u connections need more descriptors than the limit "
		    "(%llu): raise ulimit -n", opt.n,
		    (unsigned long long)rl.rlim_cur);
}

int
main(int argc, char *argv[])
{
	struct sl_conn		*cs;
	struct sigaction	 sa;

	parse_args(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	tls_init();
	request_init();
	if (opt.mode == SL_HANDSHAKES)
		run_handshakes();
	else {
		if ((cs = calloc(opt.n, sizeof(*cs))) == NULL)
			err(1, "calloc");
		run_all(cs);
		report_all(cs);
		for (unsigned i = 0; i < opt.n; i++)
			if (cs[i].state != ST_CLOSED)
				conn_close(&cs[i], 0);
		free(cs);
	}
	free(request);
	SSL_CTX_free(ctx);
	return 0;
}
