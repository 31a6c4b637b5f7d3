/*
 * server_reload — the server's generations changing and ending (see
 * server.c): what a reload may change and what it refuses, the CRL's dates,
 * the lifecycle's configuration, shutdown, systemd's status, and closing
 * every connection.
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

#define SERVER_CRL_WARN_S	(7 * 86400)	/* warn this long before nextUpdate */
#define SERVER_CRL_REWARN_S	(6 * 3600)	/* ...every 6 hours */

/* --- reload and shutdown --------------------------------------------------- */

static bool
server_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/*
 * push holds its TLS context for the daemon's life (src/warrantd/warrantd.c), so a
 * changed delivery block is said, not silently ignored. Paths only: a CRL
 * replaced in place under the same name is also read only at start.
 */
static bool
server_delivery_changed(const struct wd_conf *a, const struct wd_conf *b)
{
	return server_str_differs(a->delivery.cert, b->delivery.cert) ||
	    server_str_differs(a->delivery.key, b->delivery.key) ||
	    server_str_differs(a->delivery.ca, b->delivery.ca) ||
	    server_str_differs(a->delivery.crl, b->delivery.crl) ||
	    a->delivery.timeout_ms != b->delivery.timeout_ms;
}

/* Back ends and the results store are built once, at start. */
static bool
server_backends_changed(const struct wd_conf *a, const struct wd_conf *b)
{
	const struct wd_backend *x = TAILQ_FIRST(&a->backends);
	const struct wd_backend *y = TAILQ_FIRST(&b->backends);

	if (server_str_differs(a->results.key, b->results.key) ||
	    a->results.keep_s != b->results.keep_s)
		return true;
	for (; x != NULL && y != NULL; x = TAILQ_NEXT(x, entry),
	    y = TAILQ_NEXT(y, entry))
		if (strcmp(x->name, y->name) != 0 ||
		    strcmp(x->address, y->address) != 0 ||
		    memcmp(x->serves, y->serves, sizeof(x->serves)) != 0 ||
		    x->deadline_ms != y->deadline_ms || x->retries != y->retries ||
		    x->connections != y->connections)
			return true;
	return x != NULL || y != NULL;
}

/*
 * A reload must not turn revocation checking off by a line deleted or
 * lost in an edit: revoked officials would be let in without anyone
 * having decided it (issue 14 section 7). `crl none` says it was decided.
 */
static bool
server_reload_weakens(const struct wd_conf *cur, const struct wd_conf *next)
{
	if (cur->tls.crl == NULL || next->tls.crl != NULL || next->tls.crl_none)
		return false;
	log_warnx("reload refused: %s has no crl line, and the running "
	    "configuration checks revocation against %s; write crl none in "
	    "the tls block to turn revocation checking off on purpose",
	    next->path, cur->tls.crl);
	return true;
}

/*
 * The CRL in force, against the clock: a warning every few hours in the
 * week before its nextUpdate, and once past it "CRL expired" in the log
 * and the journal, since every handshake fails from then on with an alert
 * that tells the client its certificate expired.
 */
void
server_check_crl(struct server *srv, time_t now)
{
	struct server_gen	*gen = srv->gen;
	char			 when[32], detail[160];
	struct tm		 tm;

	if (gen->crl_next_update == 0 ||
	    gmtime_r(&gen->crl_next_update, &tm) == NULL)
		return;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	if (now > gen->crl_next_update) {
		if (gen->crl_expired_said)
			return;
		gen->crl_expired_said = true;
		log_warnx("CRL expired: the CRL in force (%s) passed its "
		    "nextUpdate at %s; every client is refused until a fresh "
		    "CRL is published and loaded (systemctl reload warrantd)",
		    gen->conf->tls.crl, when);
		snprintf(detail, sizeof(detail), "CRL expired: nextUpdate %s "
		    "passed; every client is refused until a fresh CRL is "
		    "loaded", when);
		srv->hooks->record_event(srv, WARRANT__EVENT_TYPE__EVENT_CRL_EXPIRED,
		    detail);
		return;
	}
	if (gen->crl_next_update - now > SERVER_CRL_WARN_S ||
	    now - gen->crl_warned < SERVER_CRL_REWARN_S)
		return;
	gen->crl_warned = now;
	log_warnx("the CRL in force (%s) passes its nextUpdate at %s, in %lld "
	    "hours: publish a fresh CRL and reload before then, or every "
	    "client will be refused", gen->conf->tls.crl, when,
	    (long long)((gen->crl_next_update - now) / 3600));
}

/* The desk's listener and console files are taken at start only. */
static bool
server_desk_changed(const struct wd_conf *a, const struct wd_conf *b)
{
	const char *pa = a->desk_pages ? a->desk_pages : "";
	const char *pb = b->desk_pages ? b->desk_pages : "";

	if ((a->desk_addr == NULL) != (b->desk_addr == NULL) ||
	    strcmp(pa, pb) != 0)
		return true;
	return a->desk_addr != NULL && (strcmp(a->desk_addr, b->desk_addr) != 0 ||
	    a->desk_port != b->desk_port);
}

void
server_reload(struct server *srv)
{
	struct server_gen *gen;

	sd_notify(0, "RELOADING=1\nSTATUS=reloading configuration");
	log_info("reloading %s", srv->conf_path);
	gen = server_gen_load(srv->conf_path, srv->gen->number + 1);
	if (gen != NULL && server_reload_weakens(srv->gen->conf, gen->conf)) {
		server_gen_unref(gen);
		gen = NULL;
	}
	if (gen == NULL) {
		log_warnx("reload failed: keeping the running configuration");
		srv->hooks->record_event(srv, WARRANT__EVENT_TYPE__EVENT_CONFIG_RELOAD,
		    "reload failed; running configuration kept");
		sd_notify(0, "READY=1\nSTATUS=reload failed, running configuration kept");
		return;
	}
	if (strcmp(gen->conf->listen_addr, srv->gen->conf->listen_addr) != 0 ||
	    gen->conf->listen_port != srv->gen->conf->listen_port ||
	    strcmp(gen->conf->state_dir, srv->gen->conf->state_dir) != 0)
		log_warnx("listen address and state directory changes need a restart");
	if (server_str_differs(gen->conf->journal.audit_key,
	    srv->gen->conf->journal.audit_key) ||
	    server_str_differs(gen->conf->journal.data_key,
	    srv->gen->conf->journal.data_key))
		log_warnx("journal audit-key and data-key changes need a restart; "
		    "records are sealed with the keys read at start");
	if (server_desk_changed(gen->conf, srv->gen->conf))
		log_warnx("desk listen and desk pages changes need a restart; "
		    "the running ones stay in use");
	if (server_backends_changed(gen->conf, srv->gen->conf))
		log_warnx("back-end and results changes need a restart; the "
		    "running ones stay in use");
	if (server_delivery_changed(gen->conf, srv->gen->conf))
		log_warnx("delivery changes (certificate, key, ca, crl, timeout) "
		    "need a restart; the running ones stay in use");
	if (!conf_nes_same(gen->conf, srv->gen->conf))
		log_warnx("ne (X1 network element) changes need a restart; the "
		    "running elements stay in use");
	/* push reads answers with the templates of the generation in force. */
	push_set_schema(srv->push, gen->schema);
	/* Parser workers restart, reading the templates again. */
	parsers_reconfigure(srv->parsers, gen->conf->templates_dir,
	    gen->conf->limits.body_max);
	if (gen->conf->parsers != srv->gen->conf->parsers)
		log_warnx("parsers changes need a restart; the running workers "
		    "stay in use");
	server_gen_unref(srv->gen);
	srv->gen = gen;
	if (srv->lifecycle != NULL) {
		struct lifecycle_config lc;

		/* New durations apply to what starts from now on. */
		server_lifecycle_config(srv, &lc);
		lifecycle_configure(srv->lifecycle, &lc);
	}
	server_alert_reload(srv);
	server_fd_limit(gen->conf);
	log_info("configuration generation %u in force", gen->number);
	srv->hooks->record_event(srv, WARRANT__EVENT_TYPE__EVENT_CONFIG_RELOAD,
	    "configuration reloaded");
	sd_notify(0, "READY=1");
	server_notify_status(srv);
}

/* The registry's DELIVER endpoint of an authority (lifecycle_config). */
static const char *
server_endpoint(void *arg, const char *authority)
{
	struct server		*srv = arg;
	struct wd_authority	*a;

	a = conf_find_authority(srv->gen->conf, authority);
	return a ? a->deliver_to : NULL;
}

/* Durations of the configuration, as the lifecycle takes them. */
void
server_lifecycle_config(struct server *srv, struct lifecycle_config *lc)
{
	const struct wd_conf *c = srv->gen->conf;

	memset(lc, 0, sizeof(*lc));
	for (int t = 0; t < WD_REQ__COUNT; t++)
		lc->answer_us[t] = (int64_t)c->deadlines.answer_s[t] * 1000000;
	lc->answer_old_records_us = (int64_t)c->deadlines.older_records_s * 1000000;
	lc->keep_us = (int64_t)c->results.keep_s * 1000000;
	lc->keep_warn_us = (int64_t)c->results.warn_before_s * 1000000;
	/* A warning "well before": never later than three quarters in. */
	if (lc->keep_warn_us > lc->keep_us / 4)
		lc->keep_warn_us = lc->keep_us / 4;
	lc->kept_after_us = (int64_t)c->results.keep_delivered_s * 1000000;
	lc->ratify_us = (int64_t)c->policy.ratify_s * 1000000;
	lc->preservation_max_us = (int64_t)c->policy.preservation_max_days *
	    86400 * 1000000;
	lc->retry_rounds = c->results.rounds;
	lc->retry_base_us = (int64_t)c->results.round_pause_s * 1000000;
	lc->part_max = c->results.part_max;
	lc->push_window = c->delivery.window;
	lc->carrier_id = c->carrier_id;
	lc->endpoint = server_endpoint;
	lc->endpoint_arg = srv;
}

void
server_shutdown(struct server *srv)
{
	struct conn *c, *next;

	srv->stopping = true;
	if (srv->listener && !srv->listener_paused)
		evconnlistener_disable(srv->listener);
	srv->listener_paused = true;
	if (srv->desk_listener)
		evconnlistener_disable(srv->desk_listener);
	/* Idle connections and strangers go now; busy ones after their answer. */
	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((c->state == CONN_HEAD && !c->saw_bytes) ||
		    c->state == CONN_HANDSHAKE)
			server_conn_free(c);
		else
			c->close_after = true;
	}
}

void
server_notify_status(struct server *srv)
{
	char backends[256] = "none", nes[256] = "none";
	struct alert_counts ac;

	if (srv->backends)
		backend_status(srv->backends, backends, sizeof(backends));
	if (srv->x1)
		x1prov_status(srv->x1, nes, sizeof(nes));
	server_log_held(&srv->log_strangers, "unauthenticated peers");
	server_log_held(&srv->log_busy, "connections refused as busy");
	alert_counts(srv->alert, &ac);
	sd_notifyf(0, "STATUS=%s; alerts: %u critical, %u warning; %u connections (%zu in handshake); shed %llu "
	    "strangers; accepted %llu, refused %llu, "
	    "invalid %llu, TLS refused %llu; journal: %s; back ends: %s; "
	    "network elements: %s",
	    srv->stopping ? "stopping" : "serving", ac.critical, ac.warning,
	    srv->nconns,
	    srv->sources ? edge_members(srv->sources) : 0,
	    (unsigned long long)(srv->stats.shed_source + srv->stats.shed_unauth +
	    srv->stats.handshake_timeouts),
	    (unsigned long long)srv->stats.accepted,
	    (unsigned long long)srv->stats.refused,
	    (unsigned long long)srv->stats.invalid,
	    (unsigned long long)srv->stats.tls_refused,
	    srv->journal ? journal_status(srv->journal) : "closed", backends,
	    nes);
}

void
server_close_all(struct server *srv)
{
	while (!TAILQ_EMPTY(&srv->conns))
		server_conn_free(TAILQ_FIRST(&srv->conns));
	edge_table_free(srv->sources);
	edge_table_free(srv->identities);
	srv->sources = srv->identities = NULL;
	if (srv->ev_accept)
		event_free(srv->ev_accept);
	srv->ev_accept = NULL;
}
