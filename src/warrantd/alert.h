/*
 * alert.h — deadlines that are in danger (issue 10, docs/desk.md): each
 * legal clock of the lifecycle (answer deadlines, urgent orders'
 * ratification, preservation expiry, undelivered results' keep limit)
 * raises a warning once a configurable share of its time has run and a
 * critical alert once it is missed. The alert module reads the object store
 * only through its functions and keeps the open alerts in memory: they are
 * derived from the objects' absolute clocks, so a restart raises again what
 * is still in danger, which is what the person on call must hear.
 *
 * What it raises goes out through one callback (journald, the alert-command
 * hook, counters): the module itself decides, it does not talk to anyone.
 */
#ifndef WD_ALERT_H
#define WD_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obj.h"
#include "wd.h"

struct event_base;
struct store;
struct alert;

enum alert_clock {
	ALERT_ANSWER,		/* a task's answer deadline (LFTR art. 190) */
	ALERT_RATIFY,		/* an urgent order's ratification (CNPP 303) */
	ALERT_PRESERVATION,	/* a preservation's freeze ends */
	ALERT_KEEP,		/* undelivered results reach their keep limit */
	ALERT__COUNT
};

enum alert_level {
	ALERT_NONE,
	ALERT_WARNING,		/* warn-at share of the time has run */
	ALERT_CRITICAL		/* missed */
};

/* One clock of one object, as evaluated and as reported. */
struct alert_info {
	enum alert_clock	 clock;
	enum alert_level	 level;
	char			 owner[HI1_ID_LEN + 1];
	char			 oid[HI1_UUID_LEN + 1];
	char			 ref[OBJ_REF_LEN];
	int			 type;		/* enum wd_reqtype; -1: an order */
	int64_t			 start_us;	/* when the clock started */
	int64_t			 deadline_us;
	int64_t			 raised_us;	/* when it reached its level */
	bool			 final;		/* the clock ended its object */
};

/* "answer", "ratification", "preservation", "keep". */
const char	*alert_clock_name(enum alert_clock);
/* "warning", "critical". */
const char	*alert_level_name(enum alert_level);

struct alert_config {
	unsigned	 warn_pct;	/* alert-warn, default 80 */
	/*
	 * The clocks' lengths (the lifecycle's): a clock started its length
	 * before its deadline. 0: from the object's creation instead.
	 */
	int64_t		 answer_us[WD_REQ__COUNT];
	int64_t		 answer_old_records_us;
	int64_t		 ratify_us;
	/*
	 * How far ahead of a clock its warning can come (the longest clock
	 * configured times the share left after warn_pct, or the results'
	 * warn-before): objects due within it are looked at every second.
	 */
	int64_t		 horizon_us;
};

/*
 * Pure: the clocks of object o that are in danger at now, warning once
 * cfg->warn_pct percent (1..99) of their time has run. Returns how many
 * were written to out.
 */
size_t		 alert_eval(const struct obj *o, const struct alert_config *cfg,
		    int64_t now, struct alert_info out[ALERT__COUNT]);

typedef void (*alert_raised_cb)(const struct alert_info *, void *arg);

struct alert_env {
	struct event_base	*base;		/* NULL: tests call alert_scan */
	struct store		*store;
	int64_t			(*now)(void *);	/* NULL: the wall clock */
	void			*now_arg;
	alert_raised_cb		 raised;	/* each new or higher level */
	void			*raised_arg;
};

struct alert	*alert_new(const struct alert_env *, const struct alert_config *);
void		 alert_free(struct alert *);
void		 alert_configure(struct alert *, const struct alert_config *);
/* A sweep of every open object now, then a scan every second. */
int		 alert_start(struct alert *);
/*
 * One scan: the alerts held are looked at again, objects whose next clock
 * falls within the warning horizon are evaluated, and the next slice of the
 * open tasks; full sweeps every object open (at start). Tests call it after
 * moving their clock.
 */
void		 alert_scan(struct alert *, bool full);

/* The open alerts, most urgent first (critical, then earliest deadline). */
typedef void (*alert_visit_cb)(const struct alert_info *, void *arg);
void		 alert_each(const struct alert *, alert_visit_cb, void *arg);
/* The open alert of one object's clock at its highest level, or NONE. */
enum alert_level alert_level_of(const struct alert *, const char *owner,
		    const char *oid);

struct alert_counts {
	unsigned	 warning, critical;		/* open now */
	uint64_t	 warned[ALERT__COUNT];		/* raised since start */
	uint64_t	 missed[ALERT__COUNT];
};
void		 alert_counts(const struct alert *, struct alert_counts *);

#endif
