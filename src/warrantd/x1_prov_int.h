/*
 * x1_prov_int.h — what the ADMF's files share, private to them: the
 * elements, jobs and parts (x1_prov.c: what the lifecycle asks, and life;
 * x1_prov_job.c: jobs and exchanges; x1_prov_ne.c: element health and the
 * circuit breaker; x1_prov_reconcile.c: reconciliation). The public
 * interface stays in include/x1_prov.h.
 */
#ifndef WD_X1_PROV_INT_H
#define WD_X1_PROV_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>

#include <event2/util.h>

#include "conf.h"
#include "hi1.h"
#include "x1.h"
#include "x1_client.h"
#include "x1_prov.h"

struct event;
struct event_base;
struct journal;

#define X1P_NE_MAX		32	/* elements one task can concern */
#define X1P_PAUSE_MS		2000	/* first pause after a failed exchange */
#define X1P_PAUSE_MAX_MS	300000
#define X1P_DETAIL_LEN		1024
#define X1P_PING_S		60	/* keep-alive when nothing else is sent */

enum x1p_state { XS_UNKNOWN = 0, XS_ACTIVE, XS_GONE, XS_REFUSED };
enum x1p_breaker { XB_CLOSED = 0, XB_OPEN, XB_HALF_OPEN };

struct x1p_ne {
	struct x1prov		*p;
	char			 name[X1_ID_LEN + 1];
	bool			 serves[WD_NE__COUNT];
	struct x1_dest		 dest;
	bool			 dest_ok;	/* created or seen at the element */
	bool			 dest_busy;	/* a CreateDestination under way */
	struct x1c		*c;
	unsigned		 reconcile_s;
	struct event		*tick;		/* next reconciliation */
	bool			 reconciling;
	/* XIDs whose exchanges ended while a GetAllDetails was on its way:
	   its answer may predate them, so they are not judged from it. */
	char			(*touched)[X1_UUID_LEN + 1];
	size_t			 ntouched, maxtouched;
	struct event		*ping;		/* keep-alive */
	bool			 pinging;
	bool			 known, up;	/* health, from the last exchange */
	char			 why[160];	/* ... when down */
	/*
	 * The circuit breaker, as the back ends have (src/warrantd/backend.c): after
	 * breaker_failures exchanges in a row without an answer nothing is
	 * sent for breaker_open_ms; then one Ping probes. Parts that would
	 * send meanwhile are parked, never dropped, and move when it closes.
	 */
	enum x1p_breaker	 breaker;
	unsigned		 consecutive;	/* exchanges without an answer */
	unsigned		 breaker_failures, breaker_open_ms;
	struct event		*reopen;	/* the end of the pause */
};

struct x1p_job;

/* One element's part of a job. */
struct x1p_at {
	struct x1p_job		*job;
	struct x1p_ne		*ne;
	enum x1p_state		 st;
	struct x1_task		 task;		/* the targets this element serves */
	bool			 inflight;
	enum x1_op		 op;		/* the exchange under way */
	unsigned		 failures;	/* exchanges without an answer */
	struct event		*retry;
	char			 refusal[X1_TEXT_LEN + X1_ID_LEN + 96];
	bool			 deact_refused;	/* DeactivateTask got an error */
	bool			 parked;	/* waits for the breaker to close */
};

struct x1p_job {
	TAILQ_ENTRY(x1p_job)	 entry;
	struct x1prov		*p;
	char			 owner[HI1_ID_LEN + 1];
	char			 oid[HI1_UUID_LEN + 1];
	char			 ref[64];
	char			 xid[X1_UUID_LEN + 1];
	bool			 want_active;
	bool			 report;	/* the lifecycle waits for an outcome */
	struct x1p_at		 at[X1P_NE_MAX];
	size_t			 nat;
};
TAILQ_HEAD(x1p_jobs, x1p_job);

/* The lifecycle hears once; deferred to the loop, never inside a call. */
struct x1p_report {
	TAILQ_ENTRY(x1p_report)	 entry;
	struct event	*ev;
	struct x1prov	*p;
	char		 owner[HI1_ID_LEN + 1];
	char		 oid[HI1_UUID_LEN + 1];
	bool		 ok;
	enum wd_reason	 reason;
	char		 text[X1_TEXT_LEN + X1_ID_LEN + 160];
};

struct x1prov {
	struct event_base	*base;
	struct journal		*journal;
	struct x1p_ne		*nes;
	size_t			 nne;
	struct x1p_jobs		 jobs;
	TAILQ_HEAD(, x1p_report) reports;	/* outcomes not yet delivered */
	x1prov_each_fn		 each;
	void			*src;
	x1prov_cb		 cb;
	void			*cbarg;
	bool			 started, stopping, freeing;
};

/* x1_prov.c: small things, and what the lifecycle asks. */
void	x1_prov_mask(char *);
void	x1_prov_record(struct x1prov *, int, const char *, const char *,
	    const char *, const char *);
void	x1_prov_record_exchange(struct x1prov *, const struct x1p_job *,
	    const char *, enum x1_op, const char *, const struct x1c_result *);
int	x1_prov_plan(struct x1prov *, struct x1p_job *,
	    const struct x1prov_task *, char *, size_t);

/* x1_prov_job.c: jobs and their exchanges. */
struct x1p_job	*x1_prov_find(const struct x1prov *, const char *);
bool	x1_prov_busy(const struct x1p_job *);
void	x1_prov_job_free(struct x1p_job *);
struct x1p_job	*x1_prov_job_new(struct x1prov *, const char *, const char *,
	    const char *, const char *);
struct x1p_at	*x1_prov_job_at(struct x1p_job *, struct x1p_ne *);
void	x1_prov_report(struct x1p_job *, bool, enum wd_reason, const char *);
void	x1_prov_settle(struct x1p_job *);
void	x1_prov_step(struct x1p_at *);

/* x1_prov_ne.c: element health and the circuit breaker. */
void	x1_prov_touch(struct x1p_ne *, const char *);
bool	x1_prov_touched(const struct x1p_ne *, const char *);
void	x1_prov_health(struct x1p_ne *, const struct x1c_result *);
void	x1_prov_pingcb(evutil_socket_t, short, void *);
const char	*x1_prov_breaker_name(enum x1p_breaker);
void	x1_prov_reopencb(evutil_socket_t, short, void *);
void	x1_prov_breaker_close(struct x1p_ne *);

/* x1_prov_reconcile.c: reconciliation. */
void	x1_prov_reconcile_ne(struct x1p_ne *);
void	x1_prov_tickcb(evutil_socket_t, short, void *);

#endif /* WD_X1_PROV_INT_H */
