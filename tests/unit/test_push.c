/*
 * test_push — the gateway's DELIVER client (src/warrantd/push.c) against a FAKE
 * authority endpoint served by this test on the same event loop: HTTPS
 * with mutual TLS on 127.0.0.1, certificates made by the test (its own
 * CAs). The fake reads the DELIVER with hi1_parse_deliver(), checks the
 * part's SHA-256 itself and answers as its mode says: acknowledged, HTTP
 * 500, garbage, an HI-1 ErrorInformation, a DELIVERResponse naming another
 * object, answers from another authority, never, a trickle, a 4 GiB
 * Content-Length, chunked, no Content-Length, interim 100 Continue. The
 * client side also meets a refused connection, an endpoint certificate
 * for another name (or naming the host only in its CN) or from an unknown
 * CA, an endpoint that refuses our certificate, bad URLs, 24 sends at once
 * (at most 16 connections), and push_free() with sends pending. Every
 * case asserts the outcome and its reason; under ASan, nothing leaks.
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

#include "hi1.h"
#include "hi1_object.h"
#include "hi1_parse.h"
#include "http.h"
#include "log.h"
#include "obj.h"
#include "push.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define CARRIER		"MXCARRIER"
#define AUTHORITY	"FGR"
#define OTHER_ID	"00000000-0000-4000-8000-000000000000"

static struct event_base	*base;
static struct hi1_schema	*schema;
static char			 tmpdir[64];
static bool			 timed_out;

/* --- a test PKI ----------------------------------------------------------------- */

struct pki_id {
	EVP_PKEY	*key;
	X509		*cert;
};

static struct pki_id	ca, stranger_ca, srv, srv_wrong_name, srv_stranger,
			srv_cn_only, carrier, carrier_stranger;
static char		 carrier_pem[PATH_MAX], carrier_key[PATH_MAX],
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
	X509_NAME	*name;
	X509		*icert;

	assert_non_null(id.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	assert_non_null(id.cert = X509_new());
	X509_set_version(id.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(id.cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(id.cert), 86400);
	X509_set_pubkey(id.cert, id.key);
	name = X509_get_subject_name(id.cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
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

/* --- the fake endpoint ------------------------------------------------------------ */

enum mode { M_ACK = 0, M_500, M_GARBAGE, M_ERRINFO, M_OTHER_ID, M_MSG_ERROR,
	M_WRONG_SENDER, M_TWICE, M_NEVER, M_TRICKLE, M_HUGE, M_CHUNKED,
	M_NOLENGTH, M_INTERIM };

#define FAKE_CONNS	64

struct fconn {
	struct fake		*f;
	struct bufferevent	*bev;
	struct event		*trickle;
	char			*answer;	/* M_TRICKLE: what is left */
	size_t			 left;
	size_t			 slot;
};

struct fake {
	struct evconnlistener	*lst;
	SSL_CTX			*ssl;
	uint16_t		 port;
	enum mode		 mode;
	unsigned		 accepted, requests, open, max_open;
	bool			 checksum_ok;
	char			 ids[HI1_MAX_ACTIONS][HI1_UUID_LEN + 1];
	size_t			 nids;
	struct fconn		*conns[FAKE_CONNS];
};

static struct fake	 fake;

static void
fconn_free(struct fconn *fc)
{
	fc->f->conns[fc->slot] = NULL;
	fc->f->open--;
	if (fc->trickle != NULL)
		event_free(fc->trickle);
	free(fc->answer);
	bufferevent_free(fc->bev);
	free(fc);
}

static void
fake_writecb(struct bufferevent *bev, void *arg)
{
	struct fconn	*fc = arg;

	if (fc->answer == NULL && evbuffer_get_length(bufferevent_get_output(bev))
	    == 0 && fc->f->mode != M_NEVER)
		fconn_free(fc);
}

static void
fake_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fconn_free(arg);
}

static void
fake_tricklecb(evutil_socket_t fd, short what, void *arg)
{
	struct fconn	*fc = arg;
	struct timeval	 tv = { 0, 50000 };
	size_t		 off;

	(void)fd;
	(void)what;
	if (fc->left == 0)
		return;
	off = strlen(fc->answer) - fc->left;
	bufferevent_write(fc->bev, fc->answer + off, 1);
	fc->left--;
	evtimer_add(fc->trickle, &tv);
}

static bool
hex_matches(const uint8_t *data, size_t len, const char *hex)
{
	uint8_t		 md[32];
	char		 mine[65];

	assert_int_equal(EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(mine + 2 * i, 3, "%02x", md[i]);
	return strcmp(mine, hex) == 0;
}

/* The HI-1 answer the mode calls for, to the DELIVER in d. */
static char *
fake_hi1_answer(const struct hi1_deliver *d, size_t *len)
{
	struct hi1_response_header	 h = { AUTHORITY, CARRIER,
					    d->h.transaction_id, 0 };
	struct hi1_answer		 a[2];
	struct wd_error			 err;
	size_t				 n = 1;

	memset(a, 0, sizeof(a));
	a[0].action_id = d->items[0].action_id;
	a[0].verb = HI1_VERB_DELIVER;
	a[0].identifier = d->items[0].object_id;
	wd_error_set(&err, WD_ERR_CHECKSUM, "part 1 does not match");
	switch (fake.mode) {
	case M_ERRINFO:
		a[0].err = &err;
		break;
	case M_OTHER_ID:
		a[0].identifier = OTHER_ID;
		break;
	case M_MSG_ERROR:
		return hi1_build_error(&h, NULL, &err, len);
	case M_WRONG_SENDER:
		h.carrier_id = "FGJCDMX";
		break;
	case M_TWICE:
		a[1] = a[0];
		a[1].action_id = a[0].action_id + 1;
		n = 2;
		break;
	default:
		break;
	}
	return hi1_build_answer(&h, a, n, len);
}

static char *
fake_answer(const struct hi1_deliver *d)
{
	char	*xml, *out = NULL;
	size_t	 len = 0;

	switch (fake.mode) {
	case M_500:
		return strdup("HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	case M_GARBAGE:
		return strdup("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n"
		    "this is not xml");
	case M_HUGE:
		return strdup("HTTP/1.1 200 OK\r\n"
		    "Content-Length: 4294967296\r\n\r\n<HI1Message/>");
	case M_CHUNKED:
		return strdup("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
		    "\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
	case M_NOLENGTH:
		return strdup("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
		    "<HI1Message/>");
	default:
		break;
	}
	assert_non_null(xml = fake_hi1_answer(d, &len));
	assert_true(asprintf(&out, "%sHTTP/1.1 200 OK\r\nContent-Type: "
	    "application/xml\r\nContent-Length: %zu\r\n\r\n%s",
	    fake.mode == M_INTERIM ? "HTTP/1.1 100 Continue\r\n\r\n" : "",
	    len, xml) > 0);
	free(xml);
	return out;
}

/* A whole request in: read it as the authority's endpoint would. */
static void
fake_request(struct fconn *fc, const char *body, size_t len)
{
	struct hi1_deliver	 d;
	struct wd_error		 err;
	struct timeval		 tv = { 0, 50000 };
	char			*answer;

	fake.requests++;
	assert_int_equal(hi1_parse_deliver(schema, body, len, &d, &err), 0);
	assert_string_equal(d.h.sender_id, CARRIER);
	assert_string_equal(d.h.receiver_id, AUTHORITY);
	fake.nids = d.n;
	fake.checksum_ok = true;
	for (size_t i = 0; i < d.n; i++) {
		snprintf(fake.ids[i], sizeof(fake.ids[i]), "%s",
		    d.items[i].object_id);
		fake.checksum_ok &= d.items[i].has_data &&
		    hex_matches(d.items[i].data.data, d.items[i].data.len,
		    d.items[i].data.checksum);
	}
	if (fake.mode == M_NEVER) {
		hi1_deliver_free(&d);
		return;
	}
	answer = fake_answer(&d);
	hi1_deliver_free(&d);
	if (fake.mode == M_TRICKLE) {
		fc->answer = answer;
		fc->left = strlen(answer);
		assert_non_null(fc->trickle = evtimer_new(base, fake_tricklecb,
		    fc));
		evtimer_add(fc->trickle, &tv);
		return;
	}
	bufferevent_write(fc->bev, answer, strlen(answer));
	free(answer);
}

static void
fake_readcb(struct bufferevent *bev, void *arg)
{
	static const struct http_limits lim = { 16384, 64, 4 << 20 };
	struct fconn		*fc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http_request	 req;
	size_t			 n = evbuffer_get_length(in);
	const char		*buf;
	int			 status;

	buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	if (http_parse_head(buf, n, &lim, &req, &status) != HTTP_PARSE_OK)
		return;
	assert_int_equal(req.method, HTTP_POST);
	assert_string_equal(req.path, "/hi1/deliver");
	assert_true(req.has_length);
	if (n < req.head_len + req.content_length)
		return;
	fake_request(fc, buf + req.head_len, req.content_length);
	evbuffer_drain(in, n);
}

static void
fake_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fconn	*fc;
	size_t		 i;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	fake.accepted++;
	for (i = 0; i < FAKE_CONNS && fake.conns[i] != NULL; i++)
		;
	assert_true(i < FAKE_CONNS);
	assert_non_null(fc = calloc(1, sizeof(*fc)));
	fc->f = &fake;
	fc->slot = i;
	fake.conns[i] = fc;
	if (++fake.open > fake.max_open)
		fake.max_open = fake.open;
	fc->bev = bufferevent_openssl_socket_new(base, fd, SSL_new(fake.ssl),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(fc->bev);
	bufferevent_openssl_set_allow_dirty_shutdown(fc->bev, 1);
	bufferevent_setcb(fc->bev, fake_readcb, fake_writecb, fake_eventcb, fc);
	bufferevent_enable(fc->bev, EV_READ | EV_WRITE);
}

/* Listen with cert id, requiring clients from client_ca. */
static void
fake_listen(enum mode mode, const struct pki_id *id,
    const struct pki_id *client_ca)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	memset(&fake, 0, sizeof(fake));
	fake.mode = mode;
	assert_non_null(fake.ssl = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(SSL_CTX_use_certificate(fake.ssl, id->cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(fake.ssl, id->key), 1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(fake.ssl),
	    client_ca->cert), 1);
	SSL_CTX_set_verify(fake.ssl, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.lst = evconnlistener_new_bind(base, fake_acceptcb, &fake,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(fake.lst);
	assert_int_equal(getsockname(evconnlistener_get_fd(fake.lst),
	    (struct sockaddr *)&sin, &len), 0);
	fake.port = ntohs(sin.sin_port);
}

static void
fake_stop(void)
{
	if (fake.lst != NULL)
		evconnlistener_free(fake.lst);
	fake.lst = NULL;
	for (size_t i = 0; i < FAKE_CONNS; i++)
		if (fake.conns[i] != NULL)
			fconn_free(fake.conns[i]);
	SSL_CTX_free(fake.ssl);
	fake.ssl = NULL;
}

/* --- the gateway's side -------------------------------------------------------- */

struct got {
	int	 done;
	int	 ok;
	char	 why[512];
};

static int	 ndone;

static void
got_cb(int ok, const char *why, void *arg)
{
	struct got	*g = arg;

	g->done++;
	g->ok = ok;
	snprintf(g->why, sizeof(g->why), "%s", why);
	ndone++;
	/* The reasons, in the test's log, as the journal would get them. */
	printf("    push: %s: %s\n", ok ? "ok" : "failed", why);
}

static void
timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = true;
}

static void
run_until(int *n, int want, unsigned ms)
{
	struct event	*t = evtimer_new(base, timeoutcb, NULL);
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	timed_out = false;
	evtimer_add(t, &tv);
	while (*n < want && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	if (*n < want)
		fail_msg("timed out after %u ms (%d of %d done)", ms, *n, want);
}

/* A DELIVER of one part (sequence seq) of size bytes; its id in oid. */
static char *
make_deliver_n(unsigned seq, size_t size, char oid[HI1_UUID_LEN + 1],
    size_t *len)
{
	struct hi1_response_header	 h;
	struct hi1_answer		 a;
	struct obj			 o;
	uint8_t				*data;
	char				 tid[HI1_UUID_LEN + 1];
	char				*body;

	assert_non_null(data = malloc(size));
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)('a' + (i * 7 + seq + i / 4096) % 26);
	memset(&o, 0, sizeof(o));
	o.kind = HI1_OBJ_DELIVERY;
	snprintf(o.owner, sizeof(o.owner), "%s", AUTHORITY);
	hi1_uuid(o.oid, sizeof(o.oid));
	snprintf(o.ref, sizeof(o.ref), "MXC-20261207-00000042");
	o.generation = 1;
	o.created_us = o.changed_us = 1796659200000000LL;
	hi1_uuid(o.u.part.task_id, sizeof(o.u.part.task_id));
	hi1_uuid(o.u.part.delivery_id, sizeof(o.u.part.delivery_id));
	snprintf(o.u.part.ldid, sizeof(o.u.part.ldid), "MX-FGR-000123");
	o.u.part.seq = seq;
	o.u.part.parts = seq;
	o.u.part.last = false;
	memset(&a, 0, sizeof(a));
	a.action_id = 0;
	a.verb = HI1_VERB_DELIVER;
	a.obj = &o;
	a.data = data;
	a.data_len = size;
	hi1_uuid(tid, sizeof(tid));
	h = (struct hi1_response_header){ CARRIER, AUTHORITY, tid,
	    1796659200000000LL };
	assert_non_null(body = hi1_build_deliver(&h, &a, 1, len));
	free(data);
	snprintf(oid, HI1_UUID_LEN + 1, "%s", o.oid);
	return body;
}

static char *
make_deliver(unsigned seq, char oid[HI1_UUID_LEN + 1], size_t *len)
{
	return make_deliver_n(seq, 1000, oid, len);
}

static struct push *
client(unsigned timeout_ms)
{
	struct push_config	 cfg = { carrier_pem, carrier_key, ca_pem, NULL,
				    timeout_ms, CARRIER };
	struct push		*p;

	assert_non_null(p = push_new(base, &cfg, schema));
	return p;
}

/* One DELIVER to the fake at host; the outcome in g. */
static void
deliver(const char *host, unsigned timeout_ms, struct got *g)
{
	struct push	*p = client(timeout_ms);
	char		 url[128], oid[HI1_UUID_LEN + 1], *body;
	const char	*ids[1] = { oid };
	size_t		 len;

	memset(g, 0, sizeof(*g));
	body = make_deliver(1, oid, &len);
	snprintf(url, sizeof(url), "https://%s:%u/hi1/deliver", host, fake.port);
	ndone = 0;
	assert_int_equal(push_send(p, url, AUTHORITY, ids, 1, body, len, got_cb,
	    g), 0);
	/* Never called back inside push_send(). */
	assert_int_equal(g->done, 0);
	assert_int_equal(push_pending(p), 1);
	run_until(&ndone, 1, timeout_ms + 5000);
	assert_int_equal(g->done, 1);
	assert_int_equal(push_pending(p), 0);
	if (fake.nids > 0)
		assert_string_equal(fake.ids[0], oid);
	push_free(p);
}

/* An outcome's reason must say why. */
static void
assert_failed(const struct got *g, const char *why)
{
	if (g->ok || strstr(g->why, why) == NULL)
		fail_msg("expected a failure with \"%s\", got ok=%d \"%s\"", why,
		    g->ok, g->why);
}

static void
mode_case(enum mode mode, struct got *g)
{
	fake_listen(mode, &srv, &ca);
	deliver("127.0.0.1", 5000, g);
	assert_int_equal(fake.requests, 1);
	assert_true(fake.checksum_ok);
}

/* --- cases ----------------------------------------------------------------------- */

static void
test_acknowledged(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_ACK, &g);
	assert_true(g.ok);
	assert_string_equal(g.why, "acknowledged");
	assert_int_equal(fake.accepted, 1);
}

/* Interim 1xx answers before the final one are skipped. */
static void
test_interim(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_INTERIM, &g);
	assert_true(g.ok);
}

static void
test_http_500(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_500, &g);
	assert_failed(&g, "HTTP 500");
}

static void
test_garbage(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_GARBAGE, &g);
	assert_failed(&g, "not a valid HI-1 response");
}

static void
test_error_information(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_ERRINFO, &g);
	assert_failed(&g, "action 0 refused: error 420: ");
	assert_non_null(strstr(g.why, "part 1 does not match"));
}

static void
test_message_error(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_MSG_ERROR, &g);
	assert_failed(&g, "the endpoint refused the message: error 420");
}

static void
test_other_object(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_OTHER_ID, &g);
	assert_failed(&g, "acknowledges " OTHER_ID);
}

static void
test_acknowledged_twice(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_TWICE, &g);
	assert_failed(&g, "acknowledged twice");
}

static void
test_wrong_sender(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_WRONG_SENDER, &g);
	assert_failed(&g, "from FGJCDMX to MXCARRIER, not from FGR");
}

static void
test_huge_length(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_HUGE, &g);
	assert_failed(&g, "4294967296-byte answer");
}

static void
test_chunked(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_CHUNKED, &g);
	assert_failed(&g, "Transfer-Encoding");
}

static void
test_no_length(void **state)
{
	struct got	g;

	(void)state;
	mode_case(M_NOLENGTH, &g);
	assert_failed(&g, "without Content-Length");
}

/* Reads the message, never answers: the deadline ends it. */
static void
test_never_answers(void **state)
{
	struct got	g;

	(void)state;
	fake_listen(M_NEVER, &srv, &ca);
	deliver("127.0.0.1", 400, &g);
	assert_int_equal(fake.requests, 1);
	assert_failed(&g, "no answer within 400 ms");
}

/* A byte every 50 ms: more bytes do not move the deadline. */
static void
test_trickle(void **state)
{
	struct got	g;

	(void)state;
	fake_listen(M_TRICKLE, &srv, &ca);
	deliver("127.0.0.1", 400, &g);
	assert_failed(&g, "no answer within 400 ms");
}

static void
test_refused(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct got		 g;
	int			 fd;

	(void)state;
	/* A port that was free a moment ago and has no listener. */
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	memset(&fake, 0, sizeof(fake));
	fake.port = ntohs(sin.sin_port);
	deliver("127.0.0.1", 5000, &g);
	assert_failed(&g, "Connection refused");
}

/* The endpoint's certificate names another host. */
static void
test_wrong_name(void **state)
{
	struct got	g;

	(void)state;
	fake_listen(M_ACK, &srv_wrong_name, &ca);
	deliver("127.0.0.1", 5000, &g);
	assert_failed(&g, "certificate is not accepted: IP address mismatch");
	assert_int_equal(fake.requests, 0);
}

/* The endpoint's certificate is from a CA we do not trust. */
static void
test_unknown_ca(void **state)
{
	struct got	g;

	(void)state;
	fake_listen(M_ACK, &srv_stranger, &ca);
	deliver("127.0.0.1", 5000, &g);
	assert_failed(&g, "certificate is not accepted: unable to get local "
	    "issuer certificate");
	assert_int_equal(fake.requests, 0);
}

/* The endpoint does not accept our certificate. */
static void
test_client_refused(void **state)
{
	struct got	g;

	(void)state;
	fake_listen(M_ACK, &srv, &stranger_ca);
	deliver("127.0.0.1", 5000, &g);
	assert_failed(&g, "the endpoint refused our certificate");
	assert_int_equal(fake.requests, 0);
}

/* By name: resolved on the loop, the certificate's DNS name checked. */
static void
test_by_name(void **state)
{
	struct got	g;

	(void)state;
	fake_listen(M_ACK, &srv, &ca);
	deliver("localhost", 5000, &g);
	if (!g.ok && strstr(g.why, "cannot resolve") != NULL)
		skip();		/* no localhost in this machine's hosts file */
	assert_true(g.ok);
	fake_stop();
	fake_listen(M_ACK, &srv_wrong_name, &ca);
	deliver("localhost", 5000, &g);
	assert_failed(&g, "certificate is not accepted: hostname mismatch");
	/* CN=localhost without a subjectAltName: the CN does not count. */
	fake_stop();
	fake_listen(M_ACK, &srv_cn_only, &ca);
	deliver("localhost", 5000, &g);
	assert_failed(&g, "certificate is not accepted: hostname mismatch");
}

/* More sends than connections allowed at once: all go, in bounded numbers. */
static void
test_many(void **state)
{
	struct push	*p;
	struct got	 g[24];
	char		 url[128], oid[HI1_UUID_LEN + 1], *body;
	const char	*ids[1] = { oid };
	size_t		 len;

	(void)state;
	fake_listen(M_ACK, &srv, &ca);
	p = client(10000);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hi1/deliver", fake.port);
	ndone = 0;
	for (size_t i = 0; i < 24; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		body = make_deliver((unsigned)i + 1, oid, &len);
		assert_int_equal(push_send(p, url, AUTHORITY, ids, 1, body, len,
		    got_cb, &g[i]), 0);
	}
	assert_int_equal(push_pending(p), 24);
	run_until(&ndone, 24, 20000);
	for (size_t i = 0; i < 24; i++)
		assert_true(g[i].ok);
	assert_int_equal(fake.requests, 24);
	assert_true(fake.max_open <= 16);
	assert_int_equal(push_pending(p), 0);
	push_free(p);
}

/* Unusable arguments: -1, no callback, the body freed (ASan watches). */
static void
test_bad_urls(void **state)
{
	static const char *const bad[] = { "http://127.0.0.1/", "https://",
	    "https:///x", "https://127.0.0.1:0/", "https://127.0.0.1:65536/",
	    "https://[::1/", "https://[not-v6]:443/", "https://a b/",
	    "https://host/with space", "https://host:/", "https://ho_st/",
	    "https://host/#frag", NULL };
	struct push	*p = client(1000);
	struct got	 g;
	char		 oid[HI1_UUID_LEN + 1], *body;
	const char	*ids[1] = { oid };
	size_t		 len;

	(void)state;
	memset(&g, 0, sizeof(g));
	for (size_t i = 0; bad[i] != NULL; i++) {
		body = make_deliver(1, oid, &len);
		if (push_send(p, bad[i], AUTHORITY, ids, 1, body, len, got_cb,
		    &g) != -1)
			fail_msg("URL %s accepted", bad[i]);
	}
	body = make_deliver(1, oid, &len);
	assert_int_equal(push_send(p, "https://127.0.0.1/", AUTHORITY, ids, 0,
	    body, len, got_cb, &g), -1);
	assert_int_equal(push_pending(p), 0);
	assert_int_equal(g.done, 0);
	push_free(p);
}

/* push_free() with sends in flight and queued: each reports, once. */
static void
test_free_pending(void **state)
{
	struct push	*p;
	struct got	 g[20];
	char		 url[128], oid[HI1_UUID_LEN + 1], *body;
	const char	*ids[1] = { oid };
	size_t		 len;

	(void)state;
	fake_listen(M_NEVER, &srv, &ca);
	p = client(10000);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hi1/deliver", fake.port);
	ndone = 0;
	for (size_t i = 0; i < 20; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		body = make_deliver(1, oid, &len);
		assert_int_equal(push_send(p, url, AUTHORITY, ids, 1, body, len,
		    got_cb, &g[i]), 0);
	}
	while (fake.requests < 16 && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	push_free(p);
	for (size_t i = 0; i < 20; i++) {
		assert_int_equal(g[i].done, 1);
		assert_failed(&g[i], "shutting down");
	}
}

/* A reload's new templates replace the old before they are freed. */
static void
test_schema_replaced(void **state)
{
	struct push_config	 cfg = { carrier_pem, carrier_key, ca_pem, NULL,
				    5000, CARRIER };
	struct hi1_schema	*old, *cur;
	struct push		*p;
	struct got		 g;
	char			 url[128], oid[HI1_UUID_LEN + 1], *body;
	const char		*ids[1] = { oid };
	size_t			 len;

	(void)state;
	fake_listen(M_ACK, &srv, &ca);
	assert_non_null(old = hi1_schema_load(TOP_SRCDIR "/etc/templates"));
	assert_non_null(p = push_new(base, &cfg, old));
	assert_non_null(cur = hi1_schema_load(TOP_SRCDIR "/etc/templates"));
	push_set_schema(p, cur);
	/* ASan would see the answer read with freed templates. */
	hi1_schema_free(old);
	memset(&g, 0, sizeof(g));
	body = make_deliver(1, oid, &len);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hi1/deliver", fake.port);
	ndone = 0;
	assert_int_equal(push_send(p, url, AUTHORITY, ids, 1, body, len, got_cb,
	    &g), 0);
	run_until(&ndone, 1, 10000);
	assert_true(g.ok);
	push_free(p);
	hi1_schema_free(cur);
}

static struct push	*freed_in_cb;

static void
free_cb(int ok, const char *why, void *arg)
{
	struct push	*p = freed_in_cb;

	got_cb(ok, why, arg);
	freed_in_cb = NULL;
	/* The first to finish frees push; the others report from inside. */
	if (p != NULL) {
		push_free(p);
		assert_int_equal(ndone, 5);
	}
}

/* A callback may free push, even when a send fails at once. */
static void
test_free_in_callback(void **state)
{
	struct got	 g[5];
	char		 oid[HI1_UUID_LEN + 1], *body;
	const char	*ids[1] = { oid };
	size_t		 len;

	(void)state;
	freed_in_cb = client(5000);
	ndone = 0;
	for (size_t i = 0; i < 5; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		body = make_deliver(1, oid, &len);
		/* Port 1 on 127.0.0.1: refused, often inside connect(). */
		assert_int_equal(push_send(freed_in_cb, "https://127.0.0.1:1/",
		    AUTHORITY, ids, 1, body, len, free_cb, &g[i]), 0);
	}
	run_until(&ndone, 5, 5000);
	assert_null(freed_in_cb);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(g[i].done, 1);
	assert_failed(&g[0], "Connection refused");
	assert_failed(&g[4], "shutting down");
}

/* --- set-up ------------------------------------------------------------------------ */

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
	fake_stop();
	/* Let the loop run the frees libevent deferred. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	base = NULL;
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_push", 1, 0);
	hi1_init();
	assert_non_null(schema = hi1_schema_load(TOP_SRCDIR "/etc/templates"));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_push.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	ca = pki_make("authorities CA", NULL, NULL, NULL);
	stranger_ca = pki_make("stranger CA", NULL, NULL, NULL);
	srv = pki_make("fgr endpoint", &ca, "serverAuth",
	    "DNS:localhost,IP:127.0.0.1");
	srv_wrong_name = pki_make("other endpoint", &ca, "serverAuth",
	    "DNS:other.example,IP:10.9.9.9");
	srv_stranger = pki_make("fgr endpoint", &stranger_ca, "serverAuth",
	    "DNS:localhost,IP:127.0.0.1");
	srv_cn_only = pki_make("localhost", &ca, "serverAuth", NULL);
	carrier = pki_make("warrantd push", &ca, "clientAuth", NULL);
	carrier_stranger = pki_make("warrantd push", &stranger_ca, "clientAuth",
	    NULL);
	snprintf(carrier_pem, sizeof(carrier_pem), "%s/carrier.pem", tmpdir);
	snprintf(carrier_key, sizeof(carrier_key), "%s/carrier.key", tmpdir);
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tmpdir);
	pki_write(carrier_pem, &carrier, carrier_key);
	pki_write(ca_pem, &ca, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	pki_free(&ca);
	pki_free(&stranger_ca);
	pki_free(&srv);
	pki_free(&srv_wrong_name);
	pki_free(&srv_stranger);
	pki_free(&srv_cn_only);
	pki_free(&carrier);
	pki_free(&carrier_stranger);
	unlink(carrier_pem);
	unlink(carrier_key);
	unlink(ca_pem);
	rmdir(tmpdir);
	hi1_schema_free(schema);
	hi1_cleanup();
	return 0;
}

/* --- a body made as the connection drains (push_send_body) ---------------------- */

/* A message handed out in pieces; cut_at: fails there (or 0: never). */
struct piecewise {
	char	*msg;
	size_t	 len, at, cut_at, short_by;
	int	 fills, frees;
};

static int
piecewise_fill(void *arg, struct evbuffer *out, size_t want)
{
	struct piecewise	*pw = arg;
	size_t			 end = pw->len - pw->short_by, n;

	pw->fills++;
	assert_true(want > 0 && want <= 256 * 1024);
	if (pw->cut_at > 0 && pw->at >= pw->cut_at)
		return -1;
	n = want < 40000 ? want : 40000;	/* less than asked: called again */
	if (n > end - pw->at)
		n = end - pw->at;
	assert_int_equal(evbuffer_add(out, pw->msg + pw->at, n), 0);
	pw->at += n;
	return pw->at < end ? 1 : 0;
}

static void
piecewise_free(void *arg)
{
	struct piecewise *pw = arg;

	pw->frees++;
}

/* A DELIVER of a 1 MiB part through push_send_body; the outcome in g. */
static void
deliver_piecewise(struct piecewise *pw, struct got *g)
{
	struct push	 *p;
	struct push_body  body;
	char		  url[128], oid[HI1_UUID_LEN + 1];
	const char	 *ids[1] = { oid };

	fake_listen(M_ACK, &srv, &ca);
	p = client(10000);
	memset(g, 0, sizeof(*g));
	pw->msg = make_deliver_n(3, 1024 * 1024, oid, &pw->len);
	body = (struct push_body){ pw->len, piecewise_fill, piecewise_free, pw };
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hi1/deliver", fake.port);
	ndone = 0;
	assert_int_equal(push_send_body(p, url, AUTHORITY, ids, 1, &body, got_cb,
	    g), 0);
	assert_int_equal(pw->fills, 0);		/* nothing before the loop */
	run_until(&ndone, 1, 15000);
	assert_int_equal(g->done, 1);
	assert_int_equal(pw->frees, 1);
	push_free(p);
	assert_int_equal(pw->frees, 1);
	free(pw->msg);
}

/* Whole, in many fills as the output drains, never more than 256 KiB held. */
static void
test_body_streamed(void **state)
{
	struct piecewise	pw = { 0 };
	struct got		g;

	(void)state;
	deliver_piecewise(&pw, &g);
	assert_true(g.ok);
	assert_int_equal(fake.requests, 1);
	assert_true(fake.checksum_ok);
	assert_int_equal(pw.at, pw.len);
	assert_true(pw.fills > (int)(pw.len / (256 * 1024)));
}

/* A body that fails half way: closed short, never a whole request. */
static void
test_body_cut(void **state)
{
	struct piecewise	pw = { 0 };
	struct got		g;

	(void)state;
	pw.cut_at = 600 * 1024;
	deliver_piecewise(&pw, &g);
	assert_failed(&g, "could not be completed");
	assert_int_equal(fake.requests, 0);
	assert_true(pw.at >= pw.cut_at && pw.at < pw.len);
}

/* A body that ends before its length: the same. */
static void
test_body_short(void **state)
{
	struct piecewise	pw = { 0 };
	struct got		g;

	(void)state;
	pw.short_by = 1;
	deliver_piecewise(&pw, &g);
	assert_failed(&g, "could not be completed");
	assert_int_equal(fake.requests, 0);
}

/* Refused at once: the body is freed all the same, no callback. */
static void
test_body_refused(void **state)
{
	struct piecewise	 pw = { 0 };
	struct push_body	 body = { 10, piecewise_fill, piecewise_free, &pw };
	struct push		*p = client(1000);
	const char		*ids[1] = { OTHER_ID };
	struct got		 g = { 0 };

	(void)state;
	assert_int_equal(push_send_body(p, "http://127.0.0.1/", AUTHORITY, ids, 1,
	    &body, got_cb, &g), -1);
	assert_int_equal(pw.frees, 1);
	body.len = 0;
	assert_int_equal(push_send_body(p, "https://127.0.0.1/", AUTHORITY, ids,
	    1, &body, got_cb, &g), -1);
	assert_int_equal(pw.frees, 2);
	assert_int_equal(push_pending(p), 0);
	assert_int_equal(g.done, 0);
	assert_int_equal(pw.fills, 0);
	push_free(p);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_acknowledged),
		T(test_interim),
		T(test_http_500),
		T(test_garbage),
		T(test_error_information),
		T(test_message_error),
		T(test_other_object),
		T(test_acknowledged_twice),
		T(test_wrong_sender),
		T(test_huge_length),
		T(test_chunked),
		T(test_no_length),
		T(test_never_answers),
		T(test_trickle),
		T(test_refused),
		T(test_wrong_name),
		T(test_unknown_ca),
		T(test_client_refused),
		T(test_by_name),
		T(test_many),
		T(test_bad_urls),
		T(test_free_pending),
		T(test_free_in_callback),
		T(test_schema_replaced),
		T(test_body_streamed),
		T(test_body_cut),
		T(test_body_short),
		T(test_body_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
