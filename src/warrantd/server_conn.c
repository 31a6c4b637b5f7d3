/*
 * server_conn — a connection's life at the edge (see server.c): the idle
 * list, freeing, the peer's identity and its checks again after a reload,
 * admission against the budgets of authenticated clients, the handshake's
 * end, error answers, and the request that becomes busy.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <systemd/sd-daemon.h>

#include "alert.h"
#include "backend.h"
#include "conf.h"
#include "edge.h"
#include "hi1.h"
#include "http.h"
#include "journal.h"
#include "lifecycle.h"
#include "log.h"
#include "parsers.h"
#include "push.h"
#include "desk.h"
#include "server.h"
#include "server_int.h"
#include "tls.h"
#include "x1_prov.h"

/* --- the connection's life ----------------------------------------------- */

/* Kept alive with no request begun: the first to go when slots run out. */
void
server_conn_idle_enter(struct conn *c)
{
	if (!c->in_idle) {
		TAILQ_INSERT_TAIL(&c->srv->idle, c, idle_entry);
		c->in_idle = true;
	}
}

void
server_conn_idle_leave(struct conn *c)
{
	if (c->in_idle) {
		TAILQ_REMOVE(&c->srv->idle, c, idle_entry);
		c->in_idle = false;
	}
}

void
server_conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	edge_leave(c->state == CONN_HANDSHAKE ? srv->sources : srv->identities,
	    &c->group);
	server_conn_idle_leave(c);
	/* An answer cut short: its readers go. */
	server_conn_body_end(c);
	srv->body_inflight -= c->body_held;
	event_free(c->timer);
	/* BEV_OPT_CLOSE_ON_FREE frees the SSL and closes the socket. */
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else {
		if (c->wait != NULL)
			event_free(c->wait);
		evutil_closesocket(c->fd);
	}
	server_gen_unref(c->gen);
	free(c);
}

bool
conn_release_if_dead(struct conn *c)
{
	c->srv->nbusy--;
	if (!c->dead)
		return false;
	server_conn_free(c);
	return true;
}

/*
 * One certificate, one person (issue 14 section 2): the loader refuses
 * registries where two entries can match one certificate, and this refuses
 * the certificate should one still match two (or an entry that is wrong about
 * its own certificate's key) instead of letting the first in file order act.
 * c->official stays NULL, and intake answers with c->identity.
 */
static void
conn_identify(struct conn *c, const struct wd_conf *conf)
{
	const struct wd_official *who, *other;

	c->official = NULL;
	c->identity = conf_identify(conf, c->cert_sha256, c->spki_sha256,
	    &who, &other);
	switch (c->identity) {
	case WD_IDENTITY_ONE:
		c->official = who;
		break;
	case WD_IDENTITY_AMBIGUOUS:
		log_warnx("conn %llu from %s: certificate %s matches registry "
		    "entries \"%s\" (line %d) and \"%s\" (line %d): refused; "
		    "correct the registry", (unsigned long long)c->id, c->peer,
		    c->fingerprint, who->id, who->line, other->id, other->line);
		break;
	case WD_IDENTITY_INCONSISTENT:
		log_warnx("conn %llu from %s: certificate %s matches the "
		    "certificate sha256 of \"%s\" (line %d) but not its "
		    "public-key sha256: refused; correct the registry",
		    (unsigned long long)c->id, c->peer, c->fingerprint, who->id,
		    who->line);
		break;
	case WD_IDENTITY_NONE:
		break;
	}
}

/*
 * After a reload, a kept-alive connection was authenticated against the old
 * CA store and registry. Check its certificate again against the current
 * generation, so that a revocation or suspension applies on its very next
 * request without waiting for the client to reconnect.
 */
static int
conn_reverify(struct conn *c)
{
	struct server_gen	*cur = c->srv->gen;
	X509_STORE_CTX		*xctx;
	X509			*leaf = SSL_get0_peer_certificate(c->ssl);
	int			 ok = 0;

	if (c->gen == cur)
		return 0;
	if (leaf && (xctx = X509_STORE_CTX_new()) != NULL) {
		if (X509_STORE_CTX_init(xctx, SSL_CTX_get_cert_store(cur->ssl), leaf,
		    SSL_get_peer_cert_chain(c->ssl)) == 1) {
			X509_STORE_CTX_set_purpose(xctx, X509_PURPOSE_SSL_CLIENT);
			ok = X509_verify_cert(xctx) == 1;
			if (ok)
				c->not_after = tls_chain_not_after(
				    X509_STORE_CTX_get0_chain(xctx));
			else
				tls_refusal_reason(X509_STORE_CTX_get_error(xctx),
				    c->refusal.reason, sizeof(c->refusal.reason));
		}
		X509_STORE_CTX_free(xctx);
	}
	ERR_clear_error();
	server_gen_unref(c->gen);
	c->gen = cur;
	cur->refs++;
	conn_identify(c, cur->conf);
	if (!ok) {
		c->refusal.failed = 1;
		return -1;
	}
	return 0;
}

/* The budget of a certificate: its official's, or its own if unknown. */
static void
conn_identity_key(const struct conn *c, struct edge_key *key)
{
	edge_key_str(key, c->official ? c->official->id : c->fingerprint);
}

/*
 * 503 at once, with a hint to retry; the connection closes after it, and
 * lingers only briefly: it holds a descriptor outside every budget.
 */
void
server_conn_refuse_busy(struct conn *c, uint64_t *counter,
    const char *why)
{
	(*counter)++;
	c->short_linger = true;
	server_conn_log_busy(c, "%s: answered 503", why);
	snprintf(c->receipt, sizeof(c->receipt), "Retry-After: 1\r\n");
	server_conn_error_response(c, 503, WD_ERR_OVERLOADED, why);
}

/*
 * Admission after the handshake, into the authenticated budget: at most
 * connections-per-official per certificate, and `connections` in all; when
 * those are taken the longest-idle kept-alive connection gives its slot up,
 * and with none idle the newcomer is answered 503. Returns -1 if refused.
 */
static int
conn_admit(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct wd_conf	*conf = srv->gen->conf;
	struct edge_key		 key;
	struct conn		*idle;

	conn_identity_key(c, &key);
	if (edge_count(srv->identities, &key) >= conf->limits.per_official) {
		server_conn_refuse_busy(c, &srv->stats.refused_official, "this "
		    "certificate holds connections-per-official connections");
		return -1;
	}
	if (edge_members(srv->identities) >= conf->limits.max_connections) {
		if ((idle = TAILQ_FIRST(&srv->idle)) == NULL) {
			server_conn_refuse_busy(c, &srv->stats.refused_full,
			    "every connection slot is busy");
			return -1;
		}
		srv->stats.idle_shed++;
		server_conn_log_busy(idle, "idle kept-alive connection closed "
		    "to make room for a new one");
		server_conn_free(idle);
	}
	if (edge_join(srv->identities, &key, &c->group) == -1) {
		server_conn_refuse_busy(c, &srv->stats.refused_full,
		    "out of memory");
		return -1;
	}
	return 0;
}

void
server_conn_handshake_done(struct conn *c)
{
	struct server_gen *gen = c->gen;

	edge_leave(c->srv->sources, &c->group);
	bufferevent_priority_set(c->bev, PRI_AUTH);
	c->state = CONN_HEAD;
	tls_peer_subject(c->ssl, c->subject, sizeof(c->subject));
	if (tls_peer_fingerprints(c->ssl, c->cert_sha256, c->spki_sha256) == 0) {
		tls_hex(c->cert_sha256, 32, c->fingerprint);
		conn_identify(c, gen->conf);
	}
	c->not_after = tls_peer_not_after(c->ssl);
	log_debug("conn %llu from %s: TLS %s %s, subject %s, official %s",
	    (unsigned long long)c->id, c->peer, SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl), c->subject,
	    c->official ? c->official->id : "(not registered)");
	if (conn_admit(c) == -1)
		return;
	server_conn_idle_enter(c);
	server_conn_arm(c, gen->conf->limits.idle_timeout_ms);
}

void
server_conn_error_response(struct conn *c, int status,
    enum wd_errcode code, const char *text)
{
	struct hi1_response_header	 h;
	struct wd_error			 err;
	char				 tid[HI1_UUID_LEN + 1];
	char				*body;
	size_t				 len = 0;
	struct timespec			 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	hi1_uuid(tid, sizeof(tid));
	h.carrier_id = c->gen->conf->carrier_id;
	h.authority_id = c->official && c->official->authority ?
	    c->official->authority->id : "UNKNOWN";
	h.transaction_id = tid;
	h.timestamp_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	wd_error_set(&err, code, "%s", text);
	body = hi1_build_error(&h, NULL, &err, &len);
	c->close_after = true;
	c->linger = true;
	conn_respond(c, status, body, body ? len : 0);
}

/*
 * What the handshake checked and time can undo, checked again before every
 * request on a kept-alive connection: the chain's validity (its earliest
 * notAfter) and the CRLs' (their earliest nextUpdate, as OpenSSL refuses
 * new handshakes past it). Revocation itself changes only by reload, and
 * a reload re-verifies the chain (conn_reverify).
 */
static void
conn_recheck_dates(struct conn *c)
{
	time_t	now = time(NULL);
	int	err;

	if (c->not_after != 0 && now > c->not_after)
		err = X509_V_ERR_CERT_HAS_EXPIRED;
	else if (c->gen->crl_next_update != 0 && now > c->gen->crl_next_update)
		err = X509_V_ERR_CRL_HAS_EXPIRED;
	else
		return;
	c->refusal.failed = 1;
	c->refusal.verify_error = err;
	tls_refusal_reason(err, c->refusal.reason, sizeof(c->refusal.reason));
	log_info("conn %llu from %s: %s, on a kept-alive connection",
	    (unsigned long long)c->id, c->peer, c->refusal.reason);
}

/*
 * While a request is busy the read side stays watched, so that a client that
 * hangs up (EOF, a TLS close_notify, a reset) is noticed before its answer
 * is written: server_conn_eventcb marks it dead and the handler keeps what
 * the answer would have carried (intake.c). Nothing read meanwhile is parsed
 * (one request at a time): a pipelined next request waits in the input
 * buffer, at most CONN_BUSY_HELD bytes of it; beyond that reading pauses
 * (the high watermark) until the answer is written.
 */
#define CONN_BUSY_HELD	(16 * 1024)

/*
 * A complete request goes to intake or auditapi: parsing pauses, the
 * deadline stops (the wait is ours now), and a connection from before a
 * reload has its certificate checked again.
 */
void
server_conn_begin_busy(struct conn *c)
{
	c->state = CONN_BUSY;
	c->requests++;
	c->srv->nbusy++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_BUSY_HELD);
	bufferevent_enable(c->bev, EV_READ);
	evtimer_del(c->timer);
	if (conn_reverify(c) == -1)
		log_info("conn %llu from %s: certificate no longer accepted after "
		    "reload: %s", (unsigned long long)c->id, c->peer,
		    c->refusal.reason);
	else if (!c->refusal.failed)
		conn_recheck_dates(c);
	/* Refused once, refused for good: answer, then close. */
	if (c->refusal.failed)
		c->close_after = true;
}
