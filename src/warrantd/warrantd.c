/*
 * warrantd — main: options, configuration check (-t), start-up order, the
 * signals and the systemd protocol (READY only once listening, STATUS,
 * WATCHDOG from the event loop, RELOADING on SIGHUP, STOPPING on SIGTERM).
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <systemd/sd-daemon.h>

#include "backend.h"
#include "checkpoint.h"
#include "conf.h"
#include "hi1.h"
#include "journal.h"
#include "lifecycle.h"
#include "log.h"
#include "parsers.h"
#include "purge.h"
#include "push.h"
#include "results.h"
#include "seal.h"
#include "desk.h"
#include "intake.h"
#include "routes.h"
#include "server.h"
#include "signer.h"
#include "strict.h"
#include "store.h"
#include "store_sync.h"
#include "tally.h"
#include "tls.h"
#include "x1_prov.h"

#define DEFAULT_CONF	SYSCONFDIR "/warrantd/warrantd.conf"
#define DRAIN_SECONDS	10

static void
usage(void)
{
	fprintf(stderr, "usage: warrantd [-dtv] [-f file]\n"
	    "  -d       stay in the foreground, log to stderr\n"
	    "  -t       check the configuration and exit\n"
	    "  -f file  configuration (default " DEFAULT_CONF ")\n"
	    "  -v       verbose logging\n");
	exit(2);
}

static const char *warrantd_data_key_path(const struct wd_conf *, char *,
	    size_t);

/* -t: the audit key loads; the data key, if it exists yet, is sound. */
static int
warrantd_check_seal(const struct wd_conf *conf)
{
	struct seal	*s;
	uint8_t		 k[SEAL_KEY_LEN];
	char		 path[4096];
	const char	*p = warrantd_data_key_path(conf, path, sizeof(path));
	int		 rc = 0;

	if ((s = seal_new()) == NULL)
		return -1;
	if (conf->journal.audit_key == NULL)
		log_warnx("warning: no journal audit-key: target identifiers and "
		    "order references would be journaled in clear");
	else if (strict_check_log(conf->journal.audit_key, STRICT_CONF) == -1 ||
	    seal_set_audit_public(s, conf->journal.audit_key) == -1)
		rc = -1;
	if ((conf->journal.data_key != NULL || access(p, F_OK) == 0) &&
	    (seal_read_data_key(p, false, k) == -1 ||
	    strict_check_log(p, STRICT_KEY) == -1))
		rc = -1;
	OPENSSL_cleanse(k, sizeof(k));
	seal_free(s);
	return rc;
}

/* -t: everything start-up would load, without listening. */
static int warrantd_state_strict(const char *, const char *);

/* -t on a host where the daemon has not run yet: no state directory. */
static int
warrantd_check_state(const struct wd_conf *conf)
{
	char		 dir[4096];
	struct stat	 st;

	if (stat(conf->state_dir, &st) == -1 && errno == ENOENT)
		return 0;
	snprintf(dir, sizeof(dir), "%s/journal", conf->state_dir);
	return warrantd_state_strict(conf->state_dir, dir);
}

static int
warrantd_check(const char *path)
{
	struct server_gen	*gen;
	EVP_PKEY		*key = NULL;
	int			 ok = 1;

	if ((gen = server_gen_load(path, 1)) == NULL)
		return 1;
	if (gen->conf->journal.signing_key) {
		/* The loader start-up uses (journal_open): Ed25519, PEM. */
		if ((key = checkpoint_load_private(
		    gen->conf->journal.signing_key)) == NULL ||
		    tls_key_file_private(gen->conf->journal.signing_key) == -1)
			ok = 0;
		EVP_PKEY_free(key);
	}
	if (warrantd_check_seal(gen->conf) == -1)
		ok = 0;
	if (backend_check(gen->conf) == -1)
		ok = 0;
	if (warrantd_check_state(gen->conf) == -1)
		ok = 0;
	if (gen->conf->results.key != NULL &&
	    strict_check_log(gen->conf->results.key, STRICT_KEY) == -1)
		ok = 0;
	if (x1prov_check(gen->conf) == -1)
		ok = 0;
	server_gen_unref(gen);
	if (ok)
		fprintf(stderr, "configuration OK\n");
	return ok ? 0 : 1;
}

static void
sig_reload(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	server_reload(arg);
}

static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	static int	 ticks;

	(void)fd;
	(void)what;
	/* Answers in flight, back-end calls, the lifecycle's records. */
	if ((srv->nbusy == 0 && backend_pending(srv->backends) == 0 &&
	    lifecycle_idle(srv->lifecycle)) || ++ticks > DRAIN_SECONDS * 10)
		event_base_loopexit(srv->base, NULL);
}

static void
sig_stop(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv = { 0, 100000 };

	(void)what;
	if (srv->stopping)
		return;
	log_info("received signal %d, stopping", (int)sig);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: answering requests in flight");
	server_shutdown(srv);
	/* Wait for answers in flight (their journal records) before exiting. */
	srv->ev_drain = event_new(srv->base, -1, EV_PERSIST, drain_check, srv);
	if (srv->ev_drain == NULL || event_add(srv->ev_drain, &tv) == -1)
		event_base_loopexit(srv->base, NULL);
}

static void
watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	/* Runs on the loop: if the loop is stuck, systemd notices. */
	sd_notify(0, "WATCHDOG=1");
	server_notify_status(srv);
	server_check_crl(srv, time(NULL));
	/*
	 * Give freed memory back to the system: after a burst of connections
	 * glibc keeps its peak, which looks like growth to whoever watches
	 * RSS. Cheap at this interval.
	 */
	malloc_trim(0);
}

static struct event *
watchdog_start(struct server *srv)
{
	uint64_t	 usec = 0;
	struct timeval	 tv;
	struct event	*ev;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		usec = 20000000;	/* still refresh STATUS every 10 s */
	tv.tv_sec = usec / 2 / 1000000;
	tv.tv_usec = usec / 2 % 1000000;
	ev = event_new(srv->base, -1, EV_PERSIST, watchdog_tick, srv);
	if (ev)
		event_add(ev, &tv);
	return ev;
}

/*
 * Whoever can write the state or the journal directory can replace the
 * journal or the object store (strict modes). The journal directory is
 * checked only if it exists: journal_open makes it, mode 0700.
 */
static int
warrantd_state_strict(const char *state, const char *journal)
{
	struct stat st;

	if (strict_check_log(state, STRICT_DIR) == -1)
		return -1;
	if (stat(journal, &st) == -1 && errno == ENOENT)
		return 0;
	return strict_check_log(journal, STRICT_DIR);
}

/*
 * The keys for identifiers at rest (seal.h): the data key (made at first
 * start under the state directory unless configured elsewhere) and the
 * auditor's public key. Held by main for the daemon's lifetime.
 */
static struct seal	*warrantd_seal;
static uint8_t		 warrantd_data_key[SEAL_KEY_LEN];
/* The only process that holds the journal's signing key (signer.h). */
static struct signer	*warrantd_signer;

static const char *
warrantd_data_key_path(const struct wd_conf *conf, char *buf, size_t len)
{
	if (conf->journal.data_key != NULL)
		return conf->journal.data_key;
	snprintf(buf, len, "%s/data.key", conf->state_dir);
	return buf;
}

static int
warrantd_open_seal(const struct wd_conf *conf)
{
	char	path[4096];

	const char	*p = warrantd_data_key_path(conf, path, sizeof(path));

	if ((warrantd_seal = seal_new()) == NULL ||
	    seal_read_data_key(p, conf->journal.data_key == NULL,
	    warrantd_data_key) == -1 ||
	    strict_check_log(p, STRICT_KEY) == -1 ||
	    seal_set_data_key(warrantd_seal, warrantd_data_key) == -1)
		return -1;
	if (conf->journal.audit_key == NULL) {
		log_warnx("journal: no audit-key: target identifiers and order "
		    "references are journaled IN CLEAR (docs/journal.md)");
		return 0;
	}
	/* Whoever could replace it would read every record from then on. */
	if (strict_check_log(conf->journal.audit_key, STRICT_CONF) == -1)
		return -1;
	return seal_set_audit_public(warrantd_seal, conf->journal.audit_key);
}

static int
warrantd_open_journal(struct server *srv)
{
	const struct wd_conf	*conf = srv->gen->conf;
	struct journal_config	 jc;
	struct journal_signer	 js;
	char			 dir[4096];

	if (mkdir(conf->state_dir, 0700) == -1 && errno != EEXIST) {
		log_warn("cannot create state directory %s", conf->state_dir);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/journal", conf->state_dir);
	if (warrantd_state_strict(conf->state_dir, dir) == -1 ||
	    warrantd_open_seal(conf) == -1)
		return -1;
	memset(&jc, 0, sizeof(jc));
	jc.dir = dir;
	jc.segment_max = conf->journal.segment_max;
	/*
	 * A delivery's EVENT_DELIVERY_READY carries every part's digest,
	 * about 126 bytes a part: 64 KiB refused the record of a
	 * 1,000,000-record delivery (519 parts of 1 MiB), and the lifecycle
	 * packaged it again and again (bench/lifecycle). 1 MiB holds some
	 * 8,000 parts (warrantctl fetch takes at most 4096); readers of the
	 * journal accept up to JSEG_RECORD_MAX_LIMIT.
	 */
	jc.record_max = 1024 * 1024;
	/* The key itself is in the signer child, never here. */
	if (warrantd_signer != NULL) {
		signer_journal(warrantd_signer, &js);
		jc.signer = &js;
	} else if (conf->journal.signing_key != NULL) {
		log_warnx("journal: signing-key %s appeared between two readings "
		    "of the configuration at start: start again",
		    conf->journal.signing_key);
		return -1;
	}
	jc.origin = conf->journal.origin;
	jc.checkpoint_records = conf->journal.checkpoint_records;
	jc.checkpoint_interval_s = conf->journal.checkpoint_interval_s;
	jc.seal = warrantd_seal;
	return journal_open(&jc, srv->base, &srv->journal);
}

/* Each durable record, as the object store must hold it (store_sync.h). */
static void
warrantd_observe(const Warrant__Record *rec, void *arg)
{
	struct server	*srv = arg;

	store_sync_record(srv->store_sync, rec);
	tally_record(srv->tally, rec, srv->store);
}

/*
 * The object store, caught up with the journal. One that holds more than
 * the journal (restored from elsewhere) is moved aside, never trusted nor
 * deleted, and rebuilt from the journal.
 */
static int
warrantd_open_store(struct server *srv)
{
	const struct wd_conf	*conf = srv->gen->conf;
	uint8_t			 key[32], *kp = NULL;
	char			 path[4096], aside[4200];

	snprintf(path, sizeof(path), "%s/objects.db", conf->state_dir);
	/* Never in clear: the results key if there is one, else the data key. */
	if (conf->results.key != NULL) {
		if (results_read_key(conf->results.key, key) == -1)
			return -1;
	} else
		memcpy(key, warrantd_data_key, sizeof(key));
	kp = key;
	if ((srv->store = store_open(path, kp)) == NULL)
		return -1;
	if (!store_readable(srv->store)) {
		snprintf(aside, sizeof(aside), "%s.other-key.%lld", path,
		    (long long)time(NULL));
		log_warnx("object store %s does not open with its key (written "
		    "in clear, or under another key): moved to %s, rebuilding "
		    "from the journal; it may hold targets in clear: destroy "
		    "it once the rebuilt store is checked", path, aside);
		store_close(srv->store);
		if (rename(path, aside) == -1 ||
		    (srv->store = store_open(path, kp)) == NULL) {
			OPENSSL_cleanse(key, sizeof(key));
			return -1;
		}
	}
	if (store_applied(srv->store) > journal_size(srv->journal)) {
		snprintf(aside, sizeof(aside), "%s.ahead-of-journal.%lld", path,
		    (long long)time(NULL));
		log_warnx("object store %s holds records the journal does not "
		    "(%llu > %llu): moved to %s, rebuilding from the journal",
		    path, (unsigned long long)store_applied(srv->store),
		    (unsigned long long)journal_size(srv->journal), aside);
		store_close(srv->store);
		if (rename(path, aside) == -1 ||
		    (srv->store = store_open(path, kp)) == NULL) {
			OPENSSL_cleanse(key, sizeof(key));
			return -1;
		}
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (intake_recover(srv) == -1)
		return -1;
	if (store_applied(srv->store) != journal_size(srv->journal)) {
		log_warnx("object store at %llu of %llu journal records",
		    (unsigned long long)store_applied(srv->store),
		    (unsigned long long)journal_size(srv->journal));
		return -1;
	}
	if ((srv->store_sync = store_sync_new(srv->base, srv->store,
	    srv->journal)) == NULL) {
		log_warnx("object store: out of memory");
		return -1;
	}
	journal_set_observer(srv->journal, warrantd_observe, srv);
	return 0;
}

static int
warrantd_open_lifecycle(struct server *srv)
{
	const struct wd_conf	*conf = srv->gen->conf;
	struct lifecycle_env	 env;
	struct lifecycle_config	 cfg;
	struct push_config	 pc;

	if (conf->delivery.cert != NULL) {
		memset(&pc, 0, sizeof(pc));
		pc.cert = conf->delivery.cert;
		pc.key = conf->delivery.key;
		pc.ca = conf->delivery.ca;
		pc.crl = conf->delivery.crl;
		pc.timeout_ms = conf->delivery.timeout_ms;
		pc.carrier_id = conf->carrier_id;
		if ((srv->push = push_new(srv->base, &pc, srv->gen->schema)) == NULL)
			return -1;
	}
	memset(&env, 0, sizeof(env));
	env.base = srv->base;
	env.journal = srv->journal;
	env.store = srv->store;
	env.results = srv->results;
	env.purge = srv->purge;
	env.backends = srv->backends;
	env.push = srv->push;
	if (!TAILQ_EMPTY(&conf->nes) &&
	    (srv->x1 = x1prov_new(srv->base, srv->journal, conf)) == NULL)
		return -1;
	env.x1 = srv->x1;
	server_lifecycle_config(srv, &cfg);
	if ((srv->lifecycle = lifecycle_new(&env, &cfg)) == NULL)
		return -1;
	return lifecycle_start(srv->lifecycle);
}

static void
sweep_purged(const char *name, void *arg)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "result %s deleted undelivered after "
	    "the keep period", name);
	intake_record_event(arg, WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED, detail);
}

/* Undelivered results are kept for results.keep, then purged (journaled). */
static void
sweep_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (srv->results && results_sweep(srv->results, time(NULL),
	    sweep_purged, srv) == -1)
		log_warnx("results: expiry sweep failed");
}

/* The results store, when the configuration has a key. */
static int
warrantd_open_results(struct server *srv)
{
	const struct wd_conf *conf = srv->gen->conf;

	/* Orphans only: the lifecycle destroys results; this catches leftovers. */
	if (conf->results.key != NULL &&
	    (srv->results = results_open(conf->state_dir, conf->results.key,
	    conf->results.keep_s + 86400)) == NULL)
		return -1;
	if (srv->results != NULL && (srv->purge = purge_start(srv->results)) == NULL)
		return -1;
	return 0;
}

/* The back ends, when the configuration has them. */
static int
warrantd_open_backends(struct server *srv)
{
	const struct wd_conf *conf = srv->gen->conf;

	if (TAILQ_EMPTY(&conf->backends))
		return 0;
	if (srv->results == NULL)
		log_warnx("no results key: streamed back-end answers cannot be kept");
	srv->backends = backend_set_new(srv->base, conf, srv->results);
	return srv->backends ? 0 : -1;
}

static void
warrantd_run(struct server *srv)
{
	struct event	*ev_hup, *ev_term, *ev_int, *wd, *sweep;
	struct timeval	 sweep_tv = { 600, 0 };

	ev_hup = evsignal_new(srv->base, SIGHUP, sig_reload, srv);
	ev_term = evsignal_new(srv->base, SIGTERM, sig_stop, srv);
	ev_int = evsignal_new(srv->base, SIGINT, sig_stop, srv);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	wd = watchdog_start(srv);
	sweep = event_new(srv->base, -1, EV_PERSIST, sweep_tick, srv);
	if (sweep)
		event_add(sweep, &sweep_tv);
	intake_record_event(srv, WARRANT__EVENT_TYPE__EVENT_DAEMON_START,
	    "warrantd " PACKAGE_VERSION " started");
	sd_notify(0, "READY=1");
	server_notify_status(srv);
	event_base_dispatch(srv->base);
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	if (wd)
		event_free(wd);
	if (sweep)
		event_free(sweep);
	if (srv->ev_drain)
		event_free(srv->ev_drain);
}

/*
 * The parser workers, before any key is loaded (issue 12): the body limit,
 * the templates and their number come from a first reading of the
 * configuration, which holds paths, never keys.
 */
static void
warrantd_start_parsers(struct server *srv, const char *path)
{
	struct wd_conf	*conf;

	if ((conf = conf_load(path)) == NULL)
		fatalx("configuration %s is not usable; nothing started", path);
	if (conf->parsers == 0)
		log_warnx("parsers 0: request bodies are parsed inside "
		    "warrantd, beside its keys (for comparison only)");
	else if ((srv->parsers = parsers_start(conf->parsers ==
	    CONF_PARSERS_PER_CORE ? 0 : conf->parsers, conf->templates_dir,
	    conf->limits.body_max)) == NULL ||
	    parsers_attach(srv->parsers, srv->base) == -1)
		fatalx("parser workers could not be started; nothing started");
	conf_free(conf);
}

/*
 * The checkpoint signer, forked before any thread exists and before any key
 * is loaded (issue 12): from a first reading of the configuration, which
 * holds the key's path, never the key.
 */
static void
warrantd_start_signer(const char *path)
{
	struct wd_conf	*conf;

	if ((conf = conf_load(path)) == NULL)
		fatalx("configuration %s is not usable; nothing started", path);
	if (conf->journal.signing_key != NULL &&
	    (tls_key_file_private(conf->journal.signing_key) == -1 ||
	    (warrantd_signer = signer_start(conf->journal.signing_key,
	    conf->journal.origin != NULL ? conf->journal.origin :
	    "warrantd")) == NULL))
		fatalx("journal signing key not usable; refusing to start");
	conf_free(conf);
}

int
main(int argc, char *argv[])
{
	struct server	 srv;
	const char	*path = DEFAULT_CONF;
	int		 ch, foreground = 0, check = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "dtf:v")) != -1) {
		switch (ch) {
		case 'd': foreground = 1; break;
		case 't': check = 1; break;
		case 'f': path = optarg; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("warrantd", foreground || check, verbose);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A part on its way (a DELIVER or a GET's answer, 1.4-4 MiB) is
	 * allocated and freed whole: kept by malloc for the next one rather
	 * than unmapped and faulted in again, page by page (push: 6.6-7.8 ms
	 * of warrantd's CPU a part, 5.2 with these; bench/lifecycle/NOTES.md).
	 * The peak is the same; the watchdog's malloc_trim() gives it back
	 * once the transfer is over.
	 */
	mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	hi1_init();
	if (check)
		return warrantd_check(path);

	memset(&srv, 0, sizeof(srv));
	TAILQ_INIT(&srv.conns);
	srv.conf_path = path;
	srv.hooks = &routes_hooks;
	warrantd_start_signer(path);
	if (evthread_use_pthreads() == -1 || (srv.base = event_base_new()) == NULL)
		fatalx("cannot initialise libevent");
	if (warrantd_signer != NULL &&
	    signer_attach(warrantd_signer, srv.base) == -1)
		fatalx("checkpoint signer not watched; refusing to start");
	warrantd_start_parsers(&srv, path);
	if ((srv.gen = server_gen_load(path, 1)) == NULL)
		fatalx("configuration %s is not usable; nothing started", path);
	if ((srv.tally = tally_new()) == NULL)
		fatalx("out of memory");
	if (warrantd_open_journal(&srv) == -1)
		fatalx("journal is not usable; refusing to start");
	if (warrantd_open_results(&srv) == -1)
		fatalx("results store not usable; refusing to start");
	if (warrantd_open_store(&srv) == -1)
		fatalx("object store not usable; refusing to start");
	if (warrantd_open_backends(&srv) == -1)
		fatalx("back ends not usable; refusing to start");
	if (warrantd_open_lifecycle(&srv) == -1)
		fatalx("request lifecycle not usable; refusing to start");
	if (server_alert_open(&srv) == -1)
		fatalx("deadline alerts not usable; refusing to start");
	if (srv.gen->conf->desk_addr != NULL) {
		struct desk_env de = { srv.journal, srv.store, srv.lifecycle,
		    srv.backends, server_desk_stats, &srv,
		    srv.gen->conf->desk_pages ? srv.gen->conf->desk_pages :
		    DATADIR "/desk", srv.x1, srv.alert, srv.tally };

		if ((srv.desk = desk_new(&de)) == NULL)
			fatalx("out of memory");
	}
	if (server_listen(&srv) == -1)
		fatalx("cannot listen");
	warrantd_run(&srv);
	parsers_free(srv.parsers);	/* waiting requests refused, journaled */
	srv.parsers = NULL;

	intake_record_event(&srv, WARRANT__EVENT_TYPE__EVENT_DAEMON_STOP,
	    "warrantd stopped");
	/* From here on the lifecycle records what reports, and starts nothing. */
	lifecycle_stop(srv.lifecycle);
	/* Pending back-end calls report (cancelled) while the journal is open. */
	backend_set_free(srv.backends);
	push_free(srv.push);
	x1prov_free(srv.x1);	/* exchanges cut short: reconciled at start */
	journal_close(srv.journal);	/* flushes the stop record */
	signer_free(warrantd_signer);	/* after the last checkpoint */
	seal_free(warrantd_seal);
	OPENSSL_cleanse(warrantd_data_key, sizeof(warrantd_data_key));
	server_alert_close(&srv);
	lifecycle_free(srv.lifecycle);
	store_sync_free(srv.store_sync);	/* behind: the next start catches up */
	store_close(srv.store);
	purge_stop(srv.purge);
	results_close(srv.results);
	evconnlistener_free(srv.listener);
	if (srv.desk_listener)
		evconnlistener_free(srv.desk_listener);
	server_close_all(&srv);
	desk_free(srv.desk);
	tally_free(srv.tally);
	server_gen_unref(srv.gen);
	event_base_free(srv.base);
	hi1_cleanup();
	log_info("stopped");
	return 0;
}
