/*
 * server_alert — the daemon's side of deadlines and alerts (src/warrantd/alert.h):
 * the alert module's settings from the configuration in force, and what a
 * raised alert does here (journald and the hook through alert_out, a new
 * sd_notify STATUS line with the open alerts).
 */
#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "alert.h"
#include "alert_out.h"
#include "conf.h"
#include "lifecycle.h"
#include "log.h"
#include "server.h"

/* How far ahead of its deadline a clock can warn: the longest one's share. */
static void
server_alert_config(struct server *srv, struct alert_config *ac,
    struct alert_out_config *oc)
{
	const struct wd_conf	*c = srv->gen->conf;
	struct lifecycle_config	 lc;
	int64_t			 longest;

	server_lifecycle_config(srv, &lc);
	longest = lc.answer_old_records_us;
	for (int t = 0; t < WD_REQ__COUNT; t++)
		if (lc.answer_us[t] > longest)
			longest = lc.answer_us[t];
	if (lc.ratify_us > longest)
		longest = lc.ratify_us;
	if (lc.preservation_max_us > longest)
		longest = lc.preservation_max_us;
	memset(ac, 0, sizeof(*ac));
	ac->warn_pct = c->alert.warn_pct;
	memcpy(ac->answer_us, lc.answer_us, sizeof(ac->answer_us));
	ac->answer_old_records_us = lc.answer_old_records_us;
	ac->ratify_us = lc.ratify_us;
	ac->horizon_us = longest / 100 * (100 - (int64_t)c->alert.warn_pct);
	if (lc.keep_warn_us > ac->horizon_us)
		ac->horizon_us = lc.keep_warn_us;
	memset(oc, 0, sizeof(*oc));
	oc->command = c->alert.command;
	oc->timeout_s = c->alert.timeout_s;
}

/*
 * The STATUS line is sent once per loop turn however many alerts a scan
 * raised (the daemon runs one server: this module's one event).
 */
static struct event *server_alert_status;

static void
server_alert_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_notify_status(arg);
}

static void
server_alert_raised(const struct alert_info *a, void *arg)
{
	struct server *srv = arg;

	alert_out_raised(a, srv->alert_out);
	if (server_alert_status == NULL)
		server_notify_status(srv);
	else	/* an event already active stays one */
		event_active(server_alert_status, EV_TIMEOUT, 0);
}

int
server_alert_open(struct server *srv)
{
	struct alert_config	 ac;
	struct alert_out_config	 oc;
	struct alert_env	 env;

	server_alert_config(srv, &ac, &oc);
	if ((srv->alert_out = alert_out_new(srv->base, &oc)) == NULL)
		return -1;
	server_alert_status = evtimer_new(srv->base, server_alert_status_cb, srv);
	memset(&env, 0, sizeof(env));
	env.base = srv->base;
	env.store = srv->store;
	env.raised = server_alert_raised;
	env.raised_arg = srv;
	if ((srv->alert = alert_new(&env, &ac)) == NULL)
		return -1;
	return alert_start(srv->alert);
}

void
server_alert_reload(struct server *srv)
{
	struct alert_config	 ac;
	struct alert_out_config	 oc;

	if (srv->alert == NULL)
		return;
	server_alert_config(srv, &ac, &oc);
	alert_configure(srv->alert, &ac);
	alert_out_configure(srv->alert_out, &oc);
}

void
server_alert_close(struct server *srv)
{
	alert_free(srv->alert);
	alert_out_free(srv->alert_out);
	if (server_alert_status != NULL)
		event_free(server_alert_status);
	server_alert_status = NULL;
	srv->alert = NULL;
	srv->alert_out = NULL;
}
