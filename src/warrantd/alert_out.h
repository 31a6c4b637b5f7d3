/*
 * alert_out.h — where a raised alert goes (src/warrantd/alert_out.c): journald with
 * PRIORITY and structured fields (WARRANTD_REF=, WARRANTD_DEADLINE=, ...),
 * or a log line outside systemd, and the carrier's alert-command hook.
 */
#ifndef WD_ALERT_OUT_H
#define WD_ALERT_OUT_H

#include "alert.h"

struct event_base;
struct alert_out;

struct alert_out_config {
	const char	*command;	/* alert-command; NULL: none (copied) */
	unsigned	 timeout_s;	/* alert-timeout: killed after, default 30 */
};

struct alert_out *alert_out_new(struct event_base *,
		    const struct alert_out_config *);
void		  alert_out_configure(struct alert_out *,
		    const struct alert_out_config *);
/* alert_env.raised: tell journald (or the log) and run the hook. */
void		  alert_out_raised(const struct alert_info *, void *out);
/* Hooks still running (killed by alert_out_free). */
unsigned	  alert_out_running(const struct alert_out *);
void		  alert_out_free(struct alert_out *);

/* ISO 8601 UTC of µs since the epoch ("-" for 0), for fields and hooks. */
void		  alert_out_time(int64_t us, char *buf, size_t len);

#endif
