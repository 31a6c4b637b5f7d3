/*
 * alert_out — what the daemon does with a raised alert (src/warrantd/alert_out.h).
 *
 * journald gets one entry per alert at PRIORITY 4 (warning) or 2 (crit)
 * with fields a carrier's monitoring can match without parsing text:
 * WARRANTD_ALERT_LEVEL, WARRANTD_CLOCK, WARRANTD_REF (the carrier
 * reference), WARRANTD_DEADLINE (ISO 8601 UTC), WARRANTD_AUTHORITY,
 * WARRANTD_OBJECT, WARRANTD_TYPE. Never an identifier or an authority's
 * reference: the same rule as the journal's.
 *
 * The carrier's alert-command (a path, not a shell line) is run once per
 * raised alert with those fields in an environment of its own (nothing of
 * the daemon's is inherited), stdin from /dev/null and stdout and stderr
 * into a pipe whose lines go to the log. The event loop never waits for
 * it: the child is watched through a pidfd (or, where the kernel has none,
 * a one-second poll), killed with its process group after alert-timeout
 * (SIGTERM, then SIGKILL two seconds later), and its end is logged, a
 * failure as a warning. At most ALERT_CMD_MAX run at once; an alert beyond
 * that is logged instead (journald still has it). The hook runs as the
 * daemon's user, so it must pass the strict modes of a configuration file
 * (lib/strict.c) each time it is run.
 */
#include "config.h"

#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "alert_out.h"
#include "log.h"
#include "strict.h"
#include "wd.h"
#include "wd_time.h"

#define ALERT_CMD_MAX		8	/* hooks running at once */
#define ALERT_CMD_ENV		12	/* variables given, with the NULL */
#define ALERT_CMD_LINE		512	/* bytes of one line of its output */
#define ALERT_CMD_OUTPUT	(16 * 1024)	/* bytes logged per run */
#define ALERT_CMD_GRACE_S	2	/* SIGTERM, then SIGKILL */

/* One run of the hook. */
struct alert_run {
	struct alert_out	*out;
	pid_t			 pid;
	int			 pidfd;		/* -1: polled */
	int			 pipe;		/* its stdout and stderr; -1 closed */
	struct event		*ev_exit, *ev_out, *ev_timer;
	bool			 termed, killed;
	char			 ref[OBJ_REF_LEN];
	char			 line[ALERT_CMD_LINE];
	size_t			 len;		/* of line */
	size_t			 logged;	/* bytes of output logged */
	TAILQ_ENTRY(alert_run)	 entry;
};

struct alert_out {
	struct event_base	*base;
	char			*command;
	unsigned		 timeout_s;
	unsigned		 running;
	uint64_t		 skipped;	/* not run: too many running */
	TAILQ_HEAD(, alert_run)	 runs;
};

void
alert_out_time(int64_t us, char *buf, size_t len)
{
	if (us != 0)
		wd_time_format_s(us, buf, len);
	if (us == 0 || buf[0] == '\0')
		snprintf(buf, len, "-");
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

/* ---- the alert-command hook ---------------------------------------------- */

static void
alert_run_free(struct alert_run *r)
{
	TAILQ_REMOVE(&r->out->runs, r, entry);
	r->out->running--;
	if (r->ev_exit)
		event_free(r->ev_exit);
	if (r->ev_out)
		event_free(r->ev_out);
	if (r->ev_timer)
		event_free(r->ev_timer);
	if (r->pidfd != -1)
		close(r->pidfd);
	if (r->pipe != -1)
		close(r->pipe);
	free(r);
}

/* A line of the hook's output, to the log (bounded per run). */
static void
alert_run_line(struct alert_run *r)
{
	if (r->len == 0)
		return;
	r->line[r->len] = '\0';
	for (size_t i = 0; i < r->len; i++)	/* no control bytes in the log */
		if ((unsigned char)r->line[i] < 0x20 || r->line[i] == 0x7f)
			r->line[i] = '?';
	if (r->logged < ALERT_CMD_OUTPUT)
		log_info("alert-command[%d] %s: %s", (int)r->pid, r->ref, r->line);
	else if (r->logged - r->len < ALERT_CMD_OUTPUT)
		log_info("alert-command[%d] %s: (more output not logged)",
		    (int)r->pid, r->ref);
	r->logged += r->len;
	r->len = 0;
}

static void
alert_run_output(evutil_socket_t fd, short what, void *arg)
{
	struct alert_run	*r = arg;
	char			 buf[1024];
	ssize_t			 n;

	(void)what;
	if ((n = read(fd, buf, sizeof(buf))) == -1 && (errno == EAGAIN ||
	    errno == EINTR))
		return;
	if (n <= 0) {	/* end of output (or an error: the same to us) */
		alert_run_line(r);
		event_del(r->ev_out);
		close(r->pipe);
		r->pipe = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || r->len == sizeof(r->line) - 1)
			alert_run_line(r);
		if (buf[i] != '\n')
			r->line[r->len++] = buf[i];
	}
}

/* The child ended: say how, once, and forget it. */
static void
alert_run_reap(struct alert_run *r)
{
	int	 st;
	pid_t	 got;

	while ((got = waitpid(r->pid, &st, WNOHANG)) == -1 && errno == EINTR)
		;
	if (got == 0)
		return;		/* still running (a poll) */
	/* What it wrote before it ended (bounded: a grandchild may write on). */
	for (int i = 0; i < 64 && r->pipe != -1; i++)
		alert_run_output(r->pipe, EV_READ, r);
	if (r->pipe != -1)
		alert_run_line(r);
	if (got == -1)
		log_warn("alert-command[%d] %s: cannot learn how it ended",
		    (int)r->pid, r->ref);
	else if (r->termed || r->killed)
		log_warnx("alert-command[%d] %s: killed after %u s (alert-timeout)",
		    (int)r->pid, r->ref, r->out->timeout_s);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("alert-command[%d] %s: done", (int)r->pid, r->ref);
	else if (WIFEXITED(st))
		log_warnx("alert-command[%d] %s: failed, exit status %d",
		    (int)r->pid, r->ref, WEXITSTATUS(st));
	else
		log_warnx("alert-command[%d] %s: failed, killed by signal %d",
		    (int)r->pid, r->ref, WTERMSIG(st));
	alert_run_free(r);
}

static void
alert_run_exited(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	alert_run_reap(arg);
}

/* alert-timeout: SIGTERM to its process group, SIGKILL after the grace. */
static void
alert_run_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct alert_run	*r = arg;
	struct timeval		 tv = { ALERT_CMD_GRACE_S, 0 };

	(void)fd;
	(void)what;
	if (!r->termed) {
		r->termed = true;
		kill(-r->pid, SIGTERM);
		event_add(r->ev_timer, &tv);
		return;
	}
	r->killed = true;
	kill(-r->pid, SIGKILL);
}

/* The child's environment: the alert's fields, and a PATH. */
static void
alert_run_env(const struct alert_info *a, char env[ALERT_CMD_ENV - 1][192],
    char *envp[ALERT_CMD_ENV])
{
	char	by[32], msg[160];
	int64_t	now = (int64_t)time(NULL) * 1000000;
	size_t	n = 0;

	alert_out_time(a->deadline_us, by, sizeof(by));
	alert_out_message(a, msg, sizeof(msg));
	snprintf(env[n++], 192, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin");
	snprintf(env[n++], 192, "WARRANTD_ALERT_LEVEL=%s",
	    alert_level_name(a->level));
	snprintf(env[n++], 192, "WARRANTD_CLOCK=%s", alert_clock_name(a->clock));
	snprintf(env[n++], 192, "WARRANTD_REF=%s", a->ref);
	snprintf(env[n++], 192, "WARRANTD_DEADLINE=%s", by);
	snprintf(env[n++], 192, "WARRANTD_SECONDS_LEFT=%lld",
	    (long long)((a->deadline_us - now) / 1000000));
	snprintf(env[n++], 192, "WARRANTD_AUTHORITY=%s", a->owner);
	snprintf(env[n++], 192, "WARRANTD_OBJECT=%s", a->oid);
	snprintf(env[n++], 192, "WARRANTD_TYPE=%s", alert_out_type(a));
	snprintf(env[n++], 192, "WARRANTD_FINAL=%d", a->final ? 1 : 0);
	snprintf(env[n++], 192, "WARRANTD_MESSAGE=%s", msg);
	for (size_t i = 0; i < n; i++)
		envp[i] = env[i];
	envp[n] = NULL;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
alert_run_child(const char *path, int out, char *envp[])
{
	char	*argv[2] = { (char *)path, NULL };
	int	 null;

	setpgid(0, 0);
	if ((null = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(null, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(out, STDERR_FILENO) == -1)
		_exit(126);
	close_range(3, ~0U, 0);
	execve(path, argv, envp);
	(void)!write(STDERR_FILENO, "cannot execute alert-command\n", 29);
	_exit(127);
}

static void
alert_run_start(struct alert_out *out, const struct alert_info *a)
{
	struct alert_run	*r;
	struct timeval		 tv = { out->timeout_s, 0 }, poll = { 1, 0 };
	char			 env[ALERT_CMD_ENV - 1][192], *envp[ALERT_CMD_ENV];
	int			 fds[2];

	/* Whoever can write the hook runs code as warrantd: strict modes. */
	if (strict_check_log(out->command, STRICT_CONF) == -1) {
		log_warnx("alert-command: not run for %s (%s %s)", a->ref,
		    alert_level_name(a->level), alert_clock_name(a->clock));
		return;
	}
	if (out->running >= ALERT_CMD_MAX) {
		/* Said once per hundred: a burst must not flood the log. */
		if (out->skipped++ % 100 == 0)
			log_warnx("alert-command: %u already running; not run for "
			    "%s (%s %s) and %llu alert(s) in all since start; "
			    "journald has each", out->running, a->ref,
			    alert_level_name(a->level), alert_clock_name(a->clock),
			    (unsigned long long)out->skipped);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warnx("alert-command: out of memory; not run for %s", a->ref);
		return;
	}
	r->out = out;
	r->pidfd = r->pipe = -1;
	snprintf(r->ref, sizeof(r->ref), "%s", a->ref);
	alert_run_env(a, env, envp);
	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_warn("alert-command: pipe; not run for %s", a->ref);
		free(r);
		return;
	}
	if ((r->pid = fork()) == -1) {
		log_warn("alert-command: fork; not run for %s", a->ref);
		close(fds[0]);
		close(fds[1]);
		free(r);
		return;
	}
	if (r->pid == 0)
		alert_run_child(out->command, fds[1], envp);
	close(fds[1]);
	r->pipe = fds[0];
	setpgid(r->pid, r->pid);	/* either side may win the race */
	evutil_make_socket_nonblocking(r->pipe);
	TAILQ_INSERT_TAIL(&out->runs, r, entry);
	out->running++;
	r->pidfd = pidfd_open(r->pid, 0);
	r->ev_exit = r->pidfd != -1 ?
	    event_new(out->base, r->pidfd, EV_READ, alert_run_exited, r) :
	    event_new(out->base, -1, EV_PERSIST, alert_run_exited, r);
	r->ev_out = event_new(out->base, r->pipe, EV_READ | EV_PERSIST,
	    alert_run_output, r);
	r->ev_timer = evtimer_new(out->base, alert_run_timeout, r);
	if (r->ev_exit == NULL || r->ev_out == NULL || r->ev_timer == NULL ||
	    event_add(r->ev_exit, r->pidfd != -1 ? NULL : &poll) == -1 ||
	    event_add(r->ev_out, NULL) == -1 ||
	    event_add(r->ev_timer, &tv) == -1) {
		/* Unwatched, it must not outlive us: stop it now. */
		log_warnx("alert-command[%d] %s: cannot be watched; killed",
		    (int)r->pid, a->ref);
		kill(-r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) == -1 && errno == EINTR)
			;
		alert_run_free(r);
		return;
	}
	log_info("alert-command[%d] %s: %s %s", (int)r->pid, a->ref,
	    alert_level_name(a->level), alert_clock_name(a->clock));
}

void
alert_out_raised(const struct alert_info *a, void *arg)
{
	struct alert_out *out = arg;

	alert_out_journal(a);
	if (out != NULL && out->command != NULL && out->base != NULL)
		alert_run_start(out, a);
}

struct alert_out *
alert_out_new(struct event_base *base, const struct alert_out_config *cfg)
{
	struct alert_out *out;

	if ((out = calloc(1, sizeof(*out))) == NULL)
		return NULL;
	out->base = base;
	TAILQ_INIT(&out->runs);
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
	/* Said now, not at the first missed deadline. */
	if (cmd != NULL && access(cmd, X_OK) == -1)
		log_warn("alert-command %s cannot be run", cmd);
}

unsigned
alert_out_running(const struct alert_out *out)
{
	return out ? out->running : 0;
}

void
alert_out_free(struct alert_out *out)
{
	struct alert_run *r;

	if (out == NULL)
		return;
	/* Hooks still running do not outlive the daemon. */
	while ((r = TAILQ_FIRST(&out->runs)) != NULL) {
		log_warnx("alert-command[%d] %s: killed: warrantd stops",
		    (int)r->pid, r->ref);
		kill(-r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) == -1 && errno == EINTR)
			;
		alert_run_free(r);
	}
	free(out->command);
	free(out);
}
