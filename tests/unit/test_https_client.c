/*
 * test_https_client — the gateway's one mTLS HTTPS client
 * (src/warrantd/https_client.c) against a TLS server run by this test on
 * the same loop (127.0.0.1, an ephemeral port, certificates made by the
 * test). What push's and X1's tests do not already cover: URL parsing
 * (names refused where only IP addresses are allowed), the server named
 * by the context's noun when its certificate names another address, an
 * answer other than 200 refused at its head (X1) or handed over with its
 * body (push), more bytes than the Content-Length, too many interim
 * answers, the deadline, a streamed body arriving whole, and cancelling
 * (no callback, the body's free run once). Never called back inside
 * hc_request(); under ASan, nothing leaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "https_client.h"
#include "log.h"

static struct event_base	*base;
static char			 tmpdir[64];
static bool			 timed_out;

/* --- a test PKI ------------------------------------------------------------------- */

struct pki_id {
	EVP_PKEY	*key;
	X509		*cert;
};

static struct pki_id	ca, srv, srv_wrong_name, client_id;
static char		 client_pem[PATH_MAX], client_key[PATH_MAX],
			 ca_pem[PATH_MAX];

static void
pki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* cn's key and certificate: a CA if eku is NULL, else for eku and san. */
static struct pki_id
pki_make(const char *cn, const struct pki_id *issuer, const char *eku,
    const char *san)
{
	static long	 serial = 1;
	struct pki_id	 id;
	X509		*icert;

	assert_non_null(id.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	assert_non_null(id.cert = X509_new());
	X509_set_version(id.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(id.cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(id.cert), 86400);
	X509_set_pubkey(id.cert, id.key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(id.cert), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	icert = issuer ? issuer->cert : id.cert;
	X509_set_issuer_name(id.cert, X509_get_subject_name(icert));
	pki_ext(id.cert, icert, NID_basic_constraints, eku == NULL ?
	    "critical,CA:TRUE" : "critical,CA:FALSE");
	if (eku != NULL)
		pki_ext(id.cert, icert, NID_ext_key_usage, eku);
	if (san != NULL)
		pki_ext(id.cert, icert, NID_subject_alt_name, san);
	assert_true(X509_sign(id.cert, issuer ? issuer->key : id.key,
	    EVP_sha256()) > 0);
	return id;
}

static void
pki_free(struct pki_id *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	memset(id, 0, sizeof(*id));
}

static void
pki_write(const char *path, const struct pki_id *id, const char *keypath)
{
	FILE	*f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, id->cert), 1);
	fclose(f);
	if (keypath == NULL)
		return;
	assert_non_null(f = fopen(keypath, "w"));
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(f, id->key, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(f);
}

/* --- the server: reads one request, then writes answer (NULL: never) ------------- */

struct server {
	struct evconnlistener	*lst;
	SSL_CTX			*ssl;
	uint16_t		 port;
	const char		*answer;
	struct bufferevent	*bev;
	unsigned		 accepted, requests;
	char			 head[2048];
	char			*body;
	size_t			 len;
};

static struct server	 sv;

static void
sv_close(void)
{
	if (sv.bev != NULL)
		bufferevent_free(sv.bev);
	sv.bev = NULL;
}

static void
sv_writecb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (sv.requests > 0 && sv.answer != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		sv_close();
}

static void
sv_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		sv_close();
}

static void
sv_readcb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n = evbuffer_get_length(in), hl, cl;
	const char	*buf, *end, *p;

	(void)arg;
	buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	if (buf == NULL || (end = memmem(buf, n, "\r\n\r\n", 4)) == NULL)
		return;
	hl = (size_t)(end - buf) + 4;
	assert_non_null(p = strstr(buf, "Content-Length: "));
	cl = strtoul(p + 16, NULL, 10);
	if (n < hl + cl)
		return;
	assert_true(hl < sizeof(sv.head));
	memcpy(sv.head, buf, hl);
	sv.head[hl] = '\0';
	assert_non_null(sv.body = malloc(cl + 1));
	memcpy(sv.body, buf + hl, cl);
	sv.body[cl] = '\0';
	sv.len = cl;
	sv.requests++;
	evbuffer_drain(in, n);
	if (sv.answer != NULL)
		bufferevent_write(bev, sv.answer, strlen(sv.answer));
}

static void
sv_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	sv.accepted++;
	assert_null(sv.bev);
	sv.bev = bufferevent_openssl_socket_new(base, fd, SSL_new(sv.ssl),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(sv.bev);
	bufferevent_openssl_set_allow_dirty_shutdown(sv.bev, 1);
	bufferevent_setcb(sv.bev, sv_readcb, sv_writecb, sv_eventcb, NULL);
	bufferevent_enable(sv.bev, EV_READ | EV_WRITE);
}

static void
sv_listen(const struct pki_id *id, const char *answer)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	memset(&sv, 0, sizeof(sv));
	sv.answer = answer;
	assert_non_null(sv.ssl = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(SSL_CTX_use_certificate(sv.ssl, id->cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sv.ssl, id->key), 1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(sv.ssl),
	    ca.cert), 1);
	SSL_CTX_set_verify(sv.ssl, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv.lst = evconnlistener_new_bind(base, sv_acceptcb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8,
	    (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(sv.lst);
	assert_int_equal(getsockname(evconnlistener_get_fd(sv.lst),
	    (struct sockaddr *)&sin, &len), 0);
	sv.port = ntohs(sin.sin_port);
}

static void
sv_stop(void)
{
	if (sv.lst != NULL)
		evconnlistener_free(sv.lst);
	sv_close();
	SSL_CTX_free(sv.ssl);
	free(sv.body);
	memset(&sv, 0, sizeof(sv));
}

/* --- the client's side ------------------------------------------------------------- */

struct got {
	int	 done;
	bool	 answered;
	int	 status;
	char	 body[256];
	size_t	 len;
	char	 why[512];
};

static const struct hc_limits	 lim = { 4096, 32, 64, 2 };

static void
got_cb(const struct hc_answer *a, const char *why, void *arg)
{
	struct got	*g = arg;

	g->done++;
	g->answered = a != NULL;
	if (a != NULL) {
		g->status = a->status;
		g->len = a->len;
		assert_true(a->len < sizeof(g->body));
		memcpy(g->body, a->body, a->len);
		g->body[a->len] = '\0';
	} else
		snprintf(g->why, sizeof(g->why), "%s", why);
	printf("    hc: %s\n", a != NULL ? "answered" : why);
}

static void
timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = true;
}

/* The loop until g is done, or ms have passed (then g must not be done). */
static void
run_for(struct got *g, unsigned ms)
{
	struct event	*t = evtimer_new(base, timeoutcb, NULL);
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	timed_out = false;
	evtimer_add(t, &tv);
	while ((g == NULL || g->done == 0) && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static struct hc_ctx *
ctx(bool resolve)
{
	struct hc_config	 cfg = { client_pem, client_key, ca_pem, NULL,
				    "element", resolve };
	struct hc_ctx		*c;

	assert_non_null(c = hc_ctx_new(base, &cfg));
	return c;
}

/* POST body to the test server; the outcome in g. */
static void
post(bool only_200, unsigned timeout_ms, const char *body, struct got *g)
{
	struct hc_ctx	*c = ctx(false);
	struct hc_url	 u;
	char		 url[128];
	struct hc_spec	 spec = { .url = &u, .content_type = "text/plain",
	    .timeout_ms = timeout_ms, .limits = &lim, .only_200 = only_200 };

	memset(g, 0, sizeof(*g));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/x1/ne", sv.port);
	assert_int_equal(hc_url_parse(url, true, &u), 0);
	assert_non_null(spec.body = strdup(body));
	spec.len = strlen(body);
	assert_non_null(hc_request(c, &spec, got_cb, g));
	assert_int_equal(g->done, 0);	/* never inside hc_request() */
	run_for(g, timeout_ms + 5000);
	assert_int_equal(g->done, 1);
	hc_ctx_free(c);
}

static void
assert_failed(const struct got *g, const char *why)
{
	if (g->answered || strcmp(g->why, why) != 0)
		fail_msg("expected a failure \"%s\", got answered=%d \"%s\"", why,
		    g->answered, g->why);
}

/* --- cases ------------------------------------------------------------------------- */

static void
test_url(void **state)
{
	struct hc_url	 u;

	(void)state;
	assert_int_equal(hc_url_parse("https://[::1]:8443/a/b?c=d", true, &u),
	    0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.authority, "[::1]:8443");
	assert_string_equal(u.path, "/a/b?c=d");
	assert_int_equal(u.port, 8443);
	assert_true(u.literal);
	assert_int_equal(hc_url_parse("HTTPS://10.0.0.1", true, &u), 0);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/");
	assert_int_equal(hc_url_parse("https://fgr.example/hi1", false, &u), 0);
	assert_false(u.literal);
	/* A name where only addresses may be. */
	assert_int_equal(hc_url_parse("https://fgr.example/hi1", true, &u), -1);
	assert_int_equal(hc_url_parse("http://10.0.0.1/", true, &u), -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1:0/", true, &u), -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1:65536/", true, &u), -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1:44x/", true, &u), -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1:/", true, &u), -1);
	assert_int_equal(hc_url_parse("https://[::1/", true, &u), -1);
	assert_int_equal(hc_url_parse("https://[fgr]/", false, &u), -1);
	assert_int_equal(hc_url_parse("https:///x", false, &u), -1);
	assert_int_equal(hc_url_parse("https://a_b/x", false, &u), -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1/a b", true, &u), -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1/a\r\nX: y", true, &u),
	    -1);
	assert_int_equal(hc_url_parse("https://10.0.0.1/a#frag", true, &u), -1);
	assert_int_equal(hc_url_parse(NULL, true, &u), -1);
}

/* The request as sent, and a 200 answer's body handed over. */
static void
test_answered(void **state)
{
	struct got	 g;

	(void)state;
	sv_listen(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	post(true, 5000, "the request", &g);
	assert_true(g.answered);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.body, "hello");
	assert_int_equal(sv.requests, 1);
	assert_string_equal(sv.body, "the request");
	assert_non_null(strstr(sv.head, "POST /x1/ne HTTP/1.1\r\n"));
	assert_non_null(strstr(sv.head, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(sv.head, "\r\nContent-Length: 11\r\n"));
	assert_non_null(strstr(sv.head, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(sv.head, "\r\nHost: 127.0.0.1:"));
}

/* A certificate for another address: refused before any byte is sent. */
static void
test_wrong_name(void **state)
{
	struct got	 g;

	(void)state;
	sv_listen(&srv_wrong_name, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	post(true, 5000, "secret", &g);
	assert_failed(&g, "the element's certificate is not accepted: IP "
	    "address mismatch");
	assert_int_equal(sv.requests, 0);
}

/* only_200: another status fails at its head; else it comes with its body. */
static void
test_status(void **state)
{
	static const char *const a = "HTTP/1.1 503 Busy\r\n"
	    "Content-Length: 4\r\n\r\nbusy";
	struct got	 g;

	(void)state;
	sv_listen(&srv, a);
	post(true, 5000, "x", &g);
	assert_failed(&g, "HTTP 503");
	sv_stop();
	sv_listen(&srv, a);
	post(false, 5000, "x", &g);
	assert_true(g.answered);
	assert_int_equal(g.status, 503);
	assert_string_equal(g.body, "busy");
}

/* The body is bounded by body_max, and by its own Content-Length. */
static void
test_bounds(void **state)
{
	struct got	 g;
	char		 big[256];

	(void)state;
	snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 65\r\n"
	    "\r\n%065d", 0);
	sv_listen(&srv, big);
	post(true, 5000, "x", &g);
	assert_failed(&g, "HTTP 200 with a 65-byte answer: at most 64 accepted");
	sv_stop();
	snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 64\r\n"
	    "\r\n%064d", 0);
	sv_listen(&srv, big);
	post(true, 5000, "x", &g);
	assert_true(g.answered);
	assert_int_equal(g.len, 64);
	sv_stop();
	sv_listen(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc");
	post(true, 5000, "x", &g);
	assert_failed(&g, "HTTP 200 with more bytes than its Content-Length");
	sv_stop();
	/* interim_max 2: a third 100 Continue is one too many. */
	sv_listen(&srv, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n"
	    "\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 0\r\n\r\n");
	post(true, 5000, "x", &g);
	assert_failed(&g, "HTTP 100 is not an answer to a POST");
}

/* One deadline; the phase it ran out in is named. */
static void
test_deadline(void **state)
{
	struct got	 g;

	(void)state;
	sv_listen(&srv, NULL);
	post(true, 300, "x", &g);
	assert_failed(&g, "no answer within 300 ms (waiting for the answer)");
	assert_int_equal(sv.requests, 1);
}

/* A body made in pieces as the connection drains. */
struct pieces {
	size_t	 len, at;
	int	 fills, frees;
};

static int
pieces_fill(void *arg, struct evbuffer *out, size_t want)
{
	static const char	 abc[] = "abcdefghijklmnopqrstuvwxyz";
	struct pieces		*pc = arg;
	size_t			 n = want < 7 ? want : 7;

	pc->fills++;
	if (n > pc->len - pc->at)
		n = pc->len - pc->at;
	for (size_t i = 0; i < n; i++)
		evbuffer_add(out, &abc[(pc->at + i) % 26], 1);
	pc->at += n;
	return pc->at < pc->len ? 1 : 0;
}

static void
pieces_free(void *arg)
{
	((struct pieces *)arg)->frees++;
}

static void
test_stream(void **state)
{
	struct pieces	 pc = { 30, 0, 0, 0 };
	struct hc_stream st = { 30, pieces_fill, pieces_free, &pc };
	struct hc_ctx	*c = ctx(false);
	struct hc_url	 u;
	char		 url[128];
	struct hc_spec	 spec = { .url = &u, .stream = &st, .timeout_ms = 5000,
	    .limits = &lim, .only_200 = true };
	struct got	 g = { 0 };

	(void)state;
	sv_listen(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", sv.port);
	assert_int_equal(hc_url_parse(url, true, &u), 0);
	assert_non_null(hc_request(c, &spec, got_cb, &g));
	run_for(&g, 5000);
	assert_true(g.answered);
	assert_int_equal(sv.len, 30);
	assert_string_equal(sv.body, "abcdefghijklmnopqrstuvwxyzabcd");
	assert_int_equal(pc.frees, 1);
	assert_true(pc.fills >= 5);
	hc_ctx_free(c);
}

/* Cancelled: no callback, the body's free once; refused: the same. */
static void
test_cancel(void **state)
{
	struct pieces	 pc = { 30, 0, 0, 0 };
	struct hc_stream st = { 30, pieces_fill, pieces_free, &pc };
	struct hc_ctx	*c = ctx(false);
	struct hc_url	 u, name;
	char		 url[128];
	struct hc_spec	 spec = { .url = &u, .stream = &st, .timeout_ms = 200,
	    .limits = &lim };
	struct got	 g = { 0 };
	struct hc_req	*r;

	(void)state;
	sv_listen(&srv, NULL);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", sv.port);
	assert_int_equal(hc_url_parse(url, true, &u), 0);
	assert_non_null(r = hc_request(c, &spec, got_cb, &g));
	run_for(NULL, 50);
	hc_cancel(r);
	assert_int_equal(pc.frees, 1);
	run_for(NULL, 400);	/* past the deadline: nothing calls back */
	assert_int_equal(g.done, 0);
	/* A name on a context for addresses only: refused at once. */
	assert_int_equal(hc_url_parse("https://fgr.example/", false, &name), 0);
	spec.url = &name;
	assert_null(hc_request(c, &spec, got_cb, &g));
	assert_int_equal(pc.frees, 2);
	/* Neither a body nor a stream, or both: refused. */
	spec.url = &u;
	spec.stream = NULL;
	assert_null(hc_request(c, &spec, got_cb, &g));
	assert_int_equal(g.done, 0);
	hc_ctx_free(c);
}

/* Nobody listening: the refusal named with the address. */
static void
test_refused(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct got		 g;
	char			 why[128];
	int			 fd;

	(void)state;
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	memset(&sv, 0, sizeof(sv));
	sv.port = ntohs(sin.sin_port);
	post(true, 5000, "x", &g);
	snprintf(why, sizeof(why), "cannot connect to 127.0.0.1 port %u: "
	    "Connection refused", sv.port);
	assert_failed(&g, why);
}

static int
setup(void **state)
{
	(void)state;
	assert_non_null(base = event_base_new());
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sv_stop();
	event_base_free(base);
	base = NULL;
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_https_client", 1, 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_https_client.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	ca = pki_make("elements CA", NULL, NULL, NULL);
	srv = pki_make("msc1", &ca, "serverAuth", "IP:127.0.0.1");
	srv_wrong_name = pki_make("msc2", &ca, "serverAuth", "IP:10.9.9.9");
	client_id = pki_make("warrantd admf", &ca, "clientAuth", NULL);
	snprintf(client_pem, sizeof(client_pem), "%s/client.pem", tmpdir);
	snprintf(client_key, sizeof(client_key), "%s/client.key", tmpdir);
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tmpdir);
	pki_write(client_pem, &client_id, client_key);
	pki_write(ca_pem, &ca, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	pki_free(&ca);
	pki_free(&srv);
	pki_free(&srv_wrong_name);
	pki_free(&client_id);
	unlink(client_pem);
	unlink(client_key);
	unlink(ca_pem);
	rmdir(tmpdir);
	return 0;
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		T(test_answered),
		T(test_wrong_name),
		T(test_status),
		T(test_bounds),
		T(test_deadline),
		T(test_stream),
		T(test_cancel),
		T(test_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
