/*
 * alert_out — what the daemon does with a raised alert (src/alert_out.h).
 *
 * journald gets one entry per alert at PRIORITY 4 (warning) or 2 (crit)
 * with fields a carrier's monitoring can match without parsing text:
 * WARRANTD_ALERT_LEVEL, WARRANTD_CLOCK, WARRANTD_REF (the carrier
 * reference), WARRANTD_DEADLINE (ISO 8601 UTC), WARRANTD_AUTHORITY,
 * WARRANTD_OBJECT, WARRANTD_TYPE. Never an identifier or an authority's
 * reference: the same rule as the journal's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "alert_out.h"
#include "log.h"
#include "wd.h"

struct alert_out {
	struct event_base	*base;
	char			*command;
	unsigned		 timeout_s;
	unsigned		 running;
};

void
alert_out_time(int64_t us, char *buf, size_t len)
{
	time_t		 t = (time_t)(us / 1000000);
	struct tm	 tm;

	if (us == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
alert_out_type(const struct alert_info *a)
{
	return a->type < 0 ? "order" : wd_reqtype_confname(a->type);
}

/* The sentence a person reads, in the desk's two languages. */
static void
alert_out_message(const struct alert_info *a, char *buf, size_t len)
{
	char by[32];

	alert_out_time(a->deadline_us, by, sizeof(by));
	snprintf(buf, len, "%s: %s %s deadline of %s %s %s %s",
	    a->ref, a->level == ALERT_CRITICAL ? "CRITICAL:" : "warning:",
	    alert_clock_name(a->clock), alert_out_type(a), a->oid,
	    a->level == ALERT_CRITICAL ? (a->final ? "ended it at" :
	    "was missed at") : "comes at", by);
}

static void
alert_out_journal(const struct alert_info *a)
{
	char msg[384], by[32];

	alert_out_message(a, msg, sizeof(msg));
	if (!log_journal()) {
		if (a->level == ALERT_CRITICAL)
			log_critx("%s", msg);
		else
			log_warnx("%s", msg);
		return;
	}
	alert_out_time(a->deadline_us, by, sizeof(by));
	sd_journal_send("MESSAGE=%s", msg,
	    "PRIORITY=%d", a->level == ALERT_CRITICAL ? LOG_CRIT : LOG_WARNING,
	    "SYSLOG_IDENTIFIER=warrantd",
	    "WARRANTD_ALERT_LEVEL=%s", alert_level_name(a->level),
	    "WARRANTD_CLOCK=%s", alert_clock_name(a->clock),
	    "WARRANTD_REF=%s", a->ref,
	    "WARRANTD_DEADLINE=%s", by,
	    "WARRANTD_AUTHORITY=%s", a->owner,
	    "WARRANTD_OBJECT=%s", a->oid,
	    "WARRANTD_TYPE=%s", alert_out_type(a),
	    NULL);
}

void
alert_out_raised(const struct alert_info *a, void *arg)
{
	struct alert_out *out = arg;

	alert_out_journal(a);
	(void)out;
}

struct alert_out *
alert_out_new(struct event_base *base, const struct alert_out_config *cfg)
{
	struct alert_out *out;

	if ((out = calloc(1, sizeof(*out))) == NULL)
		return NULL;
	out->base = base;
	alert_out_configure(out, cfg);
	return out;
}

void
alert_out_configure(struct alert_out *out, const struct alert_out_config *cfg)
{
	char *cmd = NULL;

	if (cfg->command != NULL && (cmd = strdup(cfg->command)) == NULL) {
		log_warnx("alert: out of memory: alert-command kept as it was");
		return;
	}
	free(out->command);
	out->command = cmd;
	out->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
}

unsigned
alert_out_running(const struct alert_out *out)
{
	return out ? out->running : 0;
}

void
alert_out_free(struct alert_out *out)
{
	if (out == NULL)
		return;
	free(out->command);
	free(out);
}
