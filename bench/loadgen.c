/*
 * loadgen — the benchmark's load generator for warrantd (and, for
 * comparison, any HTTPS server): POST a file's contents to a URL over TLS
 * with a client certificate, from N connections, kept alive or one per
 * request, in closed loop or at a fixed offered rate (open loop), and
 * report throughput, errors by kind and latency percentiles.
 *
 * This file owns the process: options, the TLS client context, the request
 * bytes, the worker threads (one libevent base each, connections split
 * between them), signals and the report. lg_conn.c owns the connections,
 * hist.c the latency histogram. Nothing from the network is trusted: the
 * answers are framed with bounded buffers in lg_conn.c.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/thread.h>
#include <openssl/err.h>

#include "loadgen.h"

#define BODY_FILE_MAX	(16u << 20)

static struct lg_shared	 shared;
static struct lg_worker	*workers;
static unsigned		 workers_done;	/* atomic */

static void
usage(void)
{
	fprintf(stderr,
"usage: loadgen --url https://HOST:PORT[/PATH] --cert FILE --key FILE\n"
"               --cacert FILE (--body FILE | --body-list FILE) [-c N]\n"
"               [-t N] [--new-conn | --idle]\n"
"               [--rate R] (--duration S | --requests N) [--timeout S]\n"
"               [--idle-bytes N | --idle-head] [--max-opening N]\n"
"               [--ready-file FILE] [--fresh-uuids | --body-list FILE]\n"
"               [--json | --kv]\n"
"  -c N, --connections N  concurrent connections (default 16)\n"
"  -t N, --threads N      event-loop threads (default 1)\n"
"  (default)              keep-alive: every connection is opened first, then\n"
"                         the run starts and requests follow each other\n"
"  --new-conn             a new connection (full handshake) per request\n"
"  --idle                 open N connections, send part of a request on each\n"
"                         (--idle-bytes N, or --idle-head: the head but its\n"
"                         last CRLF; default the head and half the body)\n"
"                         and hold them until the end; --ready-file is\n"
"                         written once every connection is held or failed\n"
"  --rate R               open loop: R requests/s offered in all, latency from\n"
"                         the intended send time (default: closed loop)\n"
"  --duration S           run S seconds; --requests N: stop after N requests\n"
"  --timeout S            per request, connection included (default 10)\n"
"  --fresh-uuids          every UUID in the body (8-4-4-4-12 hex) gets a new\n"
"                         random value per request, the same one wherever the\n"
"                         same UUID stood: each CREATE is new objects\n"
"  --body-list FILE       instead of --body: FILE names one body file a line;\n"
"                         requests go through the list in order, round and\n"
"                         round, shared by all connections\n"
"  --json, --kv           machine-readable report (JSON / one key=value line)\n");
	exit(2);
}

static double
parse_num(const char *s, const char *what, double min, double max)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		errx(2, "%s: %s: expected a number in %g..%g", what, s, min, max);
	return v;
}

/* https://HOST[:PORT][/PATH], HOST a name, IPv4 or [IPv6]. */
static void
parse_url(struct lg_opts *o)
{
	char		 host[256], port[8] = "443";
	const char	*p = o->url, *end, *slash;
	struct addrinfo	 hints, *res;
	size_t		 len;
	int		 e;

	if (strncmp(p, "https://", 8) != 0)
		errx(2, "%s: only https:// URLs", o->url);
	p += 8;
	slash = strchr(p, '/');
	o->path = slash ? slash : "/hi1";
	len = slash ? (size_t)(slash - p) : strlen(p);
	if (len == 0 || len >= sizeof(o->hostport))
		errx(2, "%s: bad host", o->url);
	memcpy(o->hostport, p, len);
	o->hostport[len] = '\0';
	if (*p == '[') {
		if ((end = memchr(p, ']', len)) == NULL)
			errx(2, "%s: bad IPv6 address", o->url);
		p++;
	} else if ((end = memchr(p, ':', len)) == NULL)
		end = p + len;
	if ((size_t)(end - p) >= sizeof(host))
		errx(2, "%s: host too long", o->url);
	memcpy(host, p, (size_t)(end - p));
	host[end - p] = '\0';
	if (*end == ']')
		end++;
	if (*end == ':') {
		len = (size_t)((slash ? slash : end + strlen(end)) - (end + 1));
		if (len == 0 || len >= sizeof(port))
			errx(2, "%s: bad port", o->url);
		memcpy(port, end + 1, len);
		port[len] = '\0';
	} else if (end != (slash ? slash : p + strlen(p)))
		errx(2, "%s: bad host", o->url);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "%s: %s", o->url, gai_strerror(e));
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
parse_opts(struct lg_opts *o, int argc, char *argv[])
{
	enum { O_URL = 256, O_CERT, O_KEY, O_CACERT, O_BODY, O_NEWCONN,
	    O_IDLE, O_IDLEBYTES, O_RATE, O_DURATION, O_REQUESTS, O_TIMEOUT,
	    O_READY, O_MAXOPEN, O_JSON, O_KV, O_IDLEHEAD, O_FRESH, O_BODYLIST };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "body", required_argument, NULL, O_BODY },
		{ "connections", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "new-conn", no_argument, NULL, O_NEWCONN },
		{ "idle", no_argument, NULL, O_IDLE },
		{ "idle-bytes", required_argument, NULL, O_IDLEBYTES },
		{ "idle-head", no_argument, NULL, O_IDLEHEAD },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "requests", required_argument, NULL, O_REQUESTS },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "ready-file", required_argument, NULL, O_READY },
		{ "max-opening", required_argument, NULL, O_MAXOPEN },
		{ "json", no_argument, NULL, O_JSON },
		{ "kv", no_argument, NULL, O_KV },
		{ "fresh-uuids", no_argument, NULL, O_FRESH },
		{ "body-list", required_argument, NULL, O_BODYLIST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	o->conns = 16;
	o->threads = 1;
	o->timeout = 10;
	o->max_opening = 64;
	o->idle_bytes = -1;
	while ((ch = getopt_long(argc, argv, "c:t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_URL: o->url = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CACERT: o->cacert = optarg; break;
		case O_BODY: o->body_file = optarg; break;
		case 'c': o->conns = (unsigned)parse_num(optarg, "-c", 1, 1000000); break;
		case 't': o->threads = (unsigned)parse_num(optarg, "-t", 1, 256); break;
		case O_NEWCONN: o->mode = LG_NEWCONN; break;
		case O_IDLE: o->mode = LG_IDLE; break;
		case O_IDLEBYTES:
			o->idle_bytes = (long)parse_num(optarg, "--idle-bytes", 0, BODY_FILE_MAX);
			break;
		case O_IDLEHEAD: o->idle_bytes = -2; break;
		case O_RATE: o->rate = parse_num(optarg, "--rate", 0.001, 1e7); break;
		case O_DURATION:
			o->duration = parse_num(optarg, "--duration", 0.001, 1e6);
			break;
		case O_REQUESTS:
			o->requests = (uint64_t)parse_num(optarg, "--requests", 1, 1e12);
			break;
		case O_TIMEOUT: o->timeout = parse_num(optarg, "--timeout", 0.001, 3600); break;
		case O_READY: o->ready_file = optarg; break;
		case O_MAXOPEN:
			o->max_opening = (unsigned)parse_num(optarg, "--max-opening", 1, 100000);
			break;
		case O_JSON: o->json = true; break;
		case O_KV: o->kv = true; break;
		case O_FRESH: o->fresh_uuids = true; break;
		case O_BODYLIST: o->body_list = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || !o->url || !o->cert || !o->key || !o->cacert ||
	    !o->body_file == !o->body_list)
		usage();
	if (o->body_list && (o->fresh_uuids || o->mode == LG_IDLE))
		errx(2, "--body-list goes with neither --fresh-uuids nor --idle");
	if (o->duration == 0 && (o->requests == 0 || o->mode == LG_IDLE))
		errx(2, "--duration is needed%s", o->mode == LG_IDLE ? " with --idle" :
		    " unless --requests is given");
	if (o->threads > o->conns)
		o->threads = o->conns;
	parse_url(o);
}

static void
read_body(const char *path, char **out, size_t *len)
{
	struct stat	 sb;
	char		*buf;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1)
		err(1, "%s", path);
	if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)BODY_FILE_MAX)
		errx(1, "%s: not a regular file of at most %u bytes", path, BODY_FILE_MAX);
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		err(1, "malloc");
	if (read(fd, buf, (size_t)sb.st_size) != sb.st_size)
		errx(1, "%s: short read", path);
	close(fd);
	*out = buf;
	*len = (size_t)sb.st_size;
}

static bool
is_uuid_at(const char *p)
{
	for (unsigned k = 0; k < LG_UUID_LEN; k++) {
		if (k == 8 || k == 13 || k == 18 || k == 23) {
			if (p[k] != '-')
				return false;
		} else if (!isxdigit((unsigned char)p[k]))
			return false;
	}
	return true;
}

/* Head and body of a POST of the file's bytes; *hlen: the head's length. */
static char *
make_request(const struct lg_opts *o, const char *path, size_t *len, int *hlen)
{
	char	*body, *req;
	size_t	 blen;

	read_body(path, &body, &blen);
	*hlen = asprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: warrantd-loadgen\r\nContent-Type: application/xml\r\n"
	    "Content-Length: %zu\r\n%s\r\n", o->path, o->hostport, blen,
	    o->mode == LG_NEWCONN ? "Connection: close\r\n" : "");
	if (*hlen < 0 || (req = realloc(req, (size_t)*hlen + blen)) == NULL)
		err(1, "request");
	memcpy(req + *hlen, body, blen);
	free(body);
	*len = (size_t)*hlen + blen;
	return req;
}

/*
 * --body-list: one request per body file named in the list (one a line),
 * sent in the list's order, round and round, by whichever connection is
 * ready next: e.g. a GET of each part of a delivery in turn.
 */
static void
build_list(struct lg_shared *sh)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0, n = 0, alloc = 0;
	ssize_t	 len;
	int	 hlen;

	if ((f = fopen(sh->o->body_list, "r")) == NULL)
		err(1, "%s", sh->o->body_list);
	while ((len = getline(&line, &cap, f)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			if ((sh->reqs = reallocarray(sh->reqs, alloc, sizeof(*sh->reqs))) == NULL ||
			    (sh->req_lens = reallocarray(sh->req_lens, alloc,
			    sizeof(*sh->req_lens))) == NULL)
				err(1, "body list");
		}
		sh->reqs[n] = make_request(sh->o, line, &sh->req_lens[n], &hlen);
		n++;
	}
	free(line);
	fclose(f);
	if (n == 0)
		errx(1, "%s: no body file named", sh->o->body_list);
	sh->nreqs = n;
	sh->req = sh->reqs[0];
	sh->req_len = sh->req_lens[0];
}

/* --fresh-uuids: where the body's UUIDs are, and which are the same one. */
static void
find_uuids(struct lg_shared *sh, size_t body_at)
{
	size_t		i, d;
	unsigned	n = 0;

	for (i = body_at; i + LG_UUID_LEN <= sh->req_len; i++) {
		if (!is_uuid_at(sh->req + i) ||
		    (i > body_at && isxdigit((unsigned char)sh->req[i - 1])) ||
		    (i + LG_UUID_LEN < sh->req_len &&
		    isxdigit((unsigned char)sh->req[i + LG_UUID_LEN])))
			continue;
		if (n == LG_UUID_MAX)
			errx(1, "--fresh-uuids: more than %d UUIDs in the body", LG_UUID_MAX);
		for (d = 0; d < n; d++)
			if (memcmp(sh->req + sh->uuid_at[d], sh->req + i, LG_UUID_LEN) == 0)
				break;
		sh->uuid_at[n] = i;
		sh->uuid_of[n] = d < n ? sh->uuid_of[d] : sh->nuuid++;
		n++;
		i += LG_UUID_LEN - 1;
	}
	sh->nuuid_at = n;
	if (n == 0)
		errx(1, "--fresh-uuids: no UUID in the body");
}

/* The request bytes, sent as they are for every request (but --fresh-uuids). */
static void
build_request(struct lg_shared *sh)
{
	const struct lg_opts	*o = sh->o;
	size_t			 blen;
	int			 hlen;

	if (o->body_list) {
		build_list(sh);
		return;
	}
	sh->req = make_request(o, o->body_file, &sh->req_len, &hlen);
	blen = sh->req_len - (size_t)hlen;
	if (o->fresh_uuids)
		find_uuids(sh, (size_t)hlen);
	if (o->idle_bytes == -2)
		sh->hold_len = (size_t)hlen - 2;
	else if (o->idle_bytes < 0)
		sh->hold_len = (size_t)hlen + blen / 2;
	else
		sh->hold_len = (size_t)o->idle_bytes < sh->req_len ?
		    (size_t)o->idle_bytes : sh->req_len - 1;
}

static SSL_CTX *
tls_client_ctx(const struct lg_opts *o)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
		errx(1, "%s: cannot load the certificate", o->cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		errx(1, "%s: cannot load the key, or it does not match", o->key);
	if (SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) != 1)
		errx(1, "%s: cannot load the CA certificates", o->cacert);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Every connection must cost a full handshake, as a client's would. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
fail:
	errx(1, "cannot set up the TLS client context");
}

/* --- workers --------------------------------------------------------------- */

static void
write_ready(const struct lg_shared *sh)
{
	const char	*path = sh->o->ready_file;
	FILE		*f;
	unsigned	 held = __atomic_load_n(&sh->held, __ATOMIC_RELAXED);

	fprintf(stderr, "loadgen: %u of %u connections held\n", held, sh->o->conns);
	if (path == NULL)
		return;
	if ((f = fopen(path, "w")) == NULL) {
		warn("%s", path);
		return;
	}
	fprintf(f, "held=%u of=%u\n", held, sh->o->conns);
	if (fclose(f) == EOF)
		warn("%s", path);
}

/* LG_IDLE: a connection is held (or failed): open the next one. */
void
lg_idle_settled(struct lg_worker *w, bool held)
{
	struct lg_shared *sh = w->sh;

	(void)held;
	w->opening--;
	if (__atomic_add_fetch(&sh->settled, 1, __ATOMIC_RELAXED) == sh->o->conns)
		write_ready(sh);
	if (!w->stopping && w->next_open < w->nconns) {
		w->opening++;
		lg_conn_start(&w->conns[w->next_open++]);
	}
}

void
lg_worker_conn_off(struct lg_worker *w)
{
	if (w->active > 0)
		return;
	w->t_end = lg_now();
	event_del(w->stop_ev);
	event_base_loopexit(w->base, NULL);
}

static void
worker_stopcb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	w->stopping = true;
	w->t_end = lg_now();
	for (unsigned i = 0; i < w->nconns; i++)
		lg_conn_stop(&w->conns[i]);
	event_base_loopexit(w->base, NULL);
}

static void
worker_arm_stop(struct lg_worker *w)
{
	double		d = w->sh->o->duration;
	struct timeval	tv;

	if (d <= 0)
		return;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	evtimer_add(w->stop_ev, &tv);
}

/* LG_KEEPALIVE: every connection is up (or failed): the run starts. */
static void
worker_startcb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	worker_arm_stop(w);
	for (unsigned i = 0; i < w->nconns; i++)
		lg_conn_go(&w->conns[i]);
}

void
lg_preconnected(struct lg_worker *w)
{
	struct lg_shared *sh = w->sh;

	if (__atomic_add_fetch(&sh->preconnected, 1, __ATOMIC_ACQ_REL) !=
	    sh->o->conns)
		return;
	/* event_active() takes the base's lock: t0 is visible to all. */
	sh->t0 = lg_now();
	for (unsigned i = 0; i < sh->o->threads; i++)
		event_active(workers[i].start_ev, EV_TIMEOUT, 1);
}

static void *
worker_main(void *arg)
{
	struct lg_worker	*w = arg;
	const struct lg_opts	*o = w->sh->o;
	unsigned		 n = w->nconns;

	if (o->mode == LG_KEEPALIVE) {
		for (unsigned i = 0; i < n; i++)
			lg_conn_preconnect(&w->conns[i]);
	} else {
		worker_arm_stop(w);
		if (o->mode == LG_IDLE)
			n = n < o->max_opening ? n : o->max_opening;
		for (unsigned i = 0; i < n; i++) {
			w->opening++;
			lg_conn_start(&w->conns[i]);
		}
		w->next_open = n;
	}
	/* Not dispatch: a worker whose connections are all up must still be
	 * there when the last one elsewhere starts the run. Every end of a run
	 * calls event_base_loopexit(). */
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	if (w->t_end == 0)
		w->t_end = lg_now();
	__atomic_add_fetch(&workers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Timers are relative to the loop's cached time, which can be old by the
 * length of a busy iteration (64 handshakes done in one go take a quarter
 * of a second): send times and the run's end would then come early. So no
 * cached time, and the precise monotonic clock rather than the coarse one.
 */
static struct event_base *
base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME |
	    EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static struct lg_worker *
workers_make(struct lg_shared *sh)
{
	const struct lg_opts	*o = sh->o;
	struct lg_worker	*ws, *w;
	unsigned		 first = 0;

	if ((ws = calloc(o->threads, sizeof(*ws))) == NULL)
		err(1, "calloc");
	for (unsigned i = 0; i < o->threads; i++) {
		w = &ws[i];
		w->id = i;
		w->sh = sh;
		w->nconns = o->conns / o->threads + (i < o->conns % o->threads);
		if ((w->base = base_new()) == NULL ||
		    (w->stop_ev = evtimer_new(w->base, worker_stopcb, w)) == NULL ||
		    (w->start_ev = evtimer_new(w->base, worker_startcb, w)) == NULL)
			errx(1, "cannot make an event base");
		if ((w->conns = calloc(w->nconns, sizeof(*w->conns))) == NULL ||
		    (w->rdbuf = malloc(LG_READ_CHUNK)) == NULL)
			err(1, "calloc");
		/* Requests are shared out like connections. */
		if (o->requests)
			w->quota = o->requests / o->threads + (i < o->requests % o->threads);
		if (o->rate > 0)
			w->interval = (uint64_t)((double)o->conns * 1e9 / o->rate);
		hist_init(&w->hist);
		for (unsigned k = 0; k < w->nconns; k++)
			lg_conn_init(w, &w->conns[k], first + k);
		first += w->nconns;
	}
	return ws;
}


static void
workers_free(struct lg_worker *ws, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		/* Every connection is CS_OFF: no socket, no SSL, no event added. */
		for (unsigned k = 0; k < ws[i].nconns; k++)
			free(ws[i].conns[k].req);
		free(ws[i].conns);
		free(ws[i].rdbuf);
		event_free(ws[i].stop_ev);
		event_free(ws[i].start_ev);
		event_base_free(ws[i].base);
	}
	free(ws);
}

/* Until every worker is done; SIGINT/SIGTERM stop them all cleanly. */
static void
wait_workers(struct lg_worker *ws, unsigned n)
{
	sigset_t	set;
	struct timespec	ts = { 0, 100 * 1000 * 1000 };

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE) < n) {
		if (sigtimedwait(&set, NULL, &ts) > 0)
			for (unsigned i = 0; i < n; i++)
				event_active(ws[i].stop_ev, EV_TIMEOUT, 1);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(ws[i].thread, NULL);
}

/* --- report ---------------------------------------------------------------- */

struct lg_result {
	struct lg_stats	st;
	struct hist	hist;
	double		elapsed;
	uint64_t	errors, requests;
};

static void
merge(struct lg_result *r, const struct lg_shared *sh, struct lg_worker *ws,
    unsigned n)
{
	uint64_t	 end = sh->t0;
	uint64_t	*dst = (uint64_t *)&r->st;
	size_t		 nfields = sizeof(r->st) / sizeof(uint64_t);

	memset(r, 0, sizeof(*r));
	hist_init(&r->hist);
	for (unsigned i = 0; i < n; i++) {
		const uint64_t *src = (const uint64_t *)&ws[i].st;

		/* struct lg_stats holds only uint64_t counters. */
		for (size_t k = 0; k < nfields; k++)
			dst[k] += src[k];
		hist_merge(&r->hist, &ws[i].hist);
		if (ws[i].t_end > end)
			end = ws[i].t_end;
	}
	r->elapsed = (double)(end - sh->t0) / 1e9;
	r->errors = r->st.connect_err + r->st.tls_err + r->st.timeouts +
	    r->st.closed + r->st.bad_resp + r->st.http_err;
	r->requests = r->st.ok + r->errors;
}

static const char *
mode_name(enum lg_mode m)
{
	return m == LG_KEEPALIVE ? "keepalive" : m == LG_NEWCONN ? "newconn" : "idle";
}

static void
report_kv(const struct lg_opts *o, const struct lg_result *r, unsigned held)
{
	const struct hist	*h = &r->hist;
	const char		*sep = "";

	printf("mode=%s loop=%s conns=%u threads=%u rate=%g elapsed_s=%.3f "
	    "requests=%" PRIu64 " ok=%" PRIu64 " rps=%.1f errors=%" PRIu64
	    " err_connect=%" PRIu64 " err_tls=%" PRIu64 " err_timeout=%" PRIu64
	    " err_closed=%" PRIu64 " err_bad=%" PRIu64 " err_http=%" PRIu64
	    " handshakes=%" PRIu64 " held=%u", mode_name(o->mode),
	    o->rate > 0 ? "open" : "closed", o->conns, o->threads, o->rate,
	    r->elapsed, r->requests, r->st.ok,
	    r->elapsed > 0 ? (double)r->st.ok / r->elapsed : 0.0, r->errors,
	    r->st.connect_err, r->st.tls_err, r->st.timeouts, r->st.closed,
	    r->st.bad_resp, r->st.http_err, r->st.handshakes, held);
	printf(" min_us=%" PRIu64 " mean_us=%.0f p50_us=%" PRIu64 " p90_us=%"
	    PRIu64 " p99_us=%" PRIu64 " p999_us=%" PRIu64 " max_us=%" PRIu64,
	    h->count ? h->min : 0, hist_mean(h), hist_percentile(h, 50),
	    hist_percentile(h, 90), hist_percentile(h, 99),
	    hist_percentile(h, 99.9), h->max);
	printf(" bytes_out=%" PRIu64 " bytes_in=%" PRIu64 " status=",
	    r->st.bytes_out, r->st.bytes_in);
	for (int s = 0; s < LG_STATUS_MAX; s++)
		if (r->st.by_status[s]) {
			printf("%s%d:%" PRIu64, sep, s, r->st.by_status[s]);
			sep = ",";
		}
	printf("%s\n", *sep ? "" : "-");
}

static void
report_json(const struct lg_opts *o, const struct lg_result *r, unsigned held)
{
	const struct hist	*h = &r->hist;
	const char		*sep = "";

	printf("{\"url\":\"%s\",\"mode\":\"%s\",\"loop\":\"%s\",\"connections\":%u,"
	    "\"threads\":%u,\"offered_rate\":%g,\"elapsed_s\":%.3f,"
	    "\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"rps\":%.1f,"
	    "\"handshakes\":%" PRIu64 ",\"held\":%u,", o->url, mode_name(o->mode),
	    o->rate > 0 ? "open" : "closed", o->conns, o->threads, o->rate,
	    r->elapsed, r->requests, r->st.ok,
	    r->elapsed > 0 ? (double)r->st.ok / r->elapsed : 0.0,
	    r->st.handshakes, held);
	printf("\"errors\":{\"total\":%" PRIu64 ",\"connect\":%" PRIu64
	    ",\"tls\":%" PRIu64 ",\"timeout\":%" PRIu64 ",\"closed\":%" PRIu64
	    ",\"bad_response\":%" PRIu64 ",\"http\":%" PRIu64 "},\"status\":{",
	    r->errors, r->st.connect_err, r->st.tls_err, r->st.timeouts,
	    r->st.closed, r->st.bad_resp, r->st.http_err);
	for (int s = 0; s < LG_STATUS_MAX; s++)
		if (r->st.by_status[s]) {
			printf("%s\"%d\":%" PRIu64, sep, s, r->st.by_status[s]);
			sep = ",";
		}
	printf("},\"latency_us\":{\"min\":%" PRIu64 ",\"mean\":%.0f,\"p50\":%"
	    PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p99_9\":%" PRIu64
	    ",\"max\":%" PRIu64 "},\"bytes_out\":%" PRIu64 ",\"bytes_in\":%"
	    PRIu64 "}\n", h->count ? h->min : 0, hist_mean(h),
	    hist_percentile(h, 50), hist_percentile(h, 90),
	    hist_percentile(h, 99), hist_percentile(h, 99.9), h->max,
	    r->st.bytes_out, r->st.bytes_in);
}

static void
report_text(const struct lg_opts *o, const struct lg_result *r, unsigned held)
{
	const struct hist *h = &r->hist;

	printf("%s: %s, %s loop%s, %u connections, %u threads\n", o->url,
	    o->mode == LG_KEEPALIVE ? "keep-alive" : o->mode == LG_NEWCONN ?
	    "new connection per request" : "idle held connections",
	    o->rate > 0 ? "open" : "closed", o->rate > 0 ? " (offered rate)" : "",
	    o->conns, o->threads);
	if (o->rate > 0)
		printf("  offered    %.1f req/s\n", o->rate);
	printf("  elapsed    %.3f s, %" PRIu64 " answered 2xx, %.1f req/s, "
	    "%" PRIu64 " handshakes\n", r->elapsed, r->st.ok,
	    r->elapsed > 0 ? (double)r->st.ok / r->elapsed : 0.0, r->st.handshakes);
	if (o->mode == LG_IDLE)
		printf("  held       %u of %u connections at the end\n", held, o->conns);
	printf("  errors     %" PRIu64 ": connect %" PRIu64 ", tls %" PRIu64
	    ", timeout %" PRIu64 ", closed %" PRIu64 ", bad answer %" PRIu64
	    ", http non-2xx %" PRIu64 "\n", r->errors, r->st.connect_err,
	    r->st.tls_err, r->st.timeouts, r->st.closed, r->st.bad_resp,
	    r->st.http_err);
	for (int s = 0; s < LG_STATUS_MAX; s++)
		if (r->st.by_status[s] && (s < 200 || s > 299))
			printf("             HTTP %d: %" PRIu64 "\n", s, r->st.by_status[s]);
	printf("  latency    min %.3f  mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f  "
	    "p99.9 %.3f  max %.3f ms\n", (h->count ? h->min : 0) / 1e3,
	    hist_mean(h) / 1e3, hist_percentile(h, 50) / 1e3,
	    hist_percentile(h, 90) / 1e3, hist_percentile(h, 99) / 1e3,
	    hist_percentile(h, 99.9) / 1e3, h->max / 1e3);
}

/* 10,000 held connections need as many descriptors: raise the soft limit. */
static void
raise_nofile(unsigned conns)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= conns + 64u)
		return;
	rl.rlim_cur = rl.rlim_max < conns + 64u ? rl.rlim_max : conns + 64u;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < conns + 64u)
		warnx("open files limited to %llu: some of %u connections will fail",
		    (unsigned long long)rl.rlim_cur, conns);
}

int
main(int argc, char *argv[])
{
	static struct lg_opts	 o;
	struct lg_worker	*ws;
	struct lg_result	*r;
	sigset_t		 set;
	unsigned		 held;

	signal(SIGPIPE, SIG_IGN);
	parse_opts(&o, argc, argv);
	raise_nofile(o.conns);
	if (evthread_use_pthreads() == -1)
		errx(1, "libevent without thread support");
	shared.o = &o;
	shared.ctx = tls_client_ctx(&o);
	build_request(&shared);
	/* Only the main thread takes SIGINT/SIGTERM (sigtimedwait). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	shared.t0 = lg_now();
	ws = workers = workers_make(&shared);
	for (unsigned i = 0; i < o.threads; i++)
		if ((errno = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i])))
			err(1, "pthread_create");
	wait_workers(ws, o.threads);
	if ((r = malloc(sizeof(*r))) == NULL)
		err(1, "malloc");
	merge(r, &shared, ws, o.threads);
	held = __atomic_load_n(&shared.held, __ATOMIC_RELAXED);
	if (o.json)
		report_json(&o, r, held);
	else if (o.kv)
		report_kv(&o, r, held);
	else
		report_text(&o, r, held);
	free(r);
	workers_free(ws, o.threads);
	SSL_CTX_free(shared.ctx);
	if (shared.nreqs > 0) {
		for (size_t i = 0; i < shared.nreqs; i++)
			free(shared.reqs[i]);
		free(shared.reqs);
		free(shared.req_lens);
	} else
		free(shared.req);
	return fflush(stdout) == EOF ? 1 : 0;
}
