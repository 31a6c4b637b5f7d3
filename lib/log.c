/*
 * log — see include/log.h. Under systemd (JOURNAL_STREAM set and -d not
 * given) lines go to journald through sd_journal_send so that request id,
 * authority and official are searchable fields (journalctl
 * WARRANT_AUTHORITY=FGR); otherwise to stderr with a timestamp.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static const char	*log_progname = "warrantd";
static int		 log_to_stderr = 1;
static int		 log_verbose;

void
log_init(const char *progname, int to_stderr, int verbose)
{
	log_progname = progname;
	log_verbose = verbose;
	/* Only use journald when systemd connected our stderr to it. */
	log_to_stderr = to_stderr || getenv("JOURNAL_STREAM") == NULL;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_emit(int prio, const struct log_ctx *ctx, const char *msg)
{
	static const char *names[] = { "emerg", "alert", "crit", "error",
	    "warning", "notice", "info", "debug" };
	char		 stamp[32];
	struct timespec	 ts;
	struct tm	 tm;

	if (!log_to_stderr) {
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio,
		    "SYSLOG_IDENTIFIER=%s", log_progname,
		    "WARRANT_REQUEST=%s", ctx && ctx->request_id ? ctx->request_id : "",
		    "WARRANT_AUTHORITY=%s", ctx && ctx->authority ? ctx->authority : "",
		    "WARRANT_OFFICIAL=%s", ctx && ctx->official ? ctx->official : "",
		    NULL);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ctx)
		fprintf(stderr, "%s.%03ldZ %s[%d] %s: [%s %s %s] %s\n", stamp,
		    ts.tv_nsec / 1000000, log_progname, (int)getpid(),
		    names[prio], ctx->request_id ? ctx->request_id : "-",
		    ctx->authority ? ctx->authority : "-",
		    ctx->official ? ctx->official : "-", msg);
	else
		fprintf(stderr, "%s.%03ldZ %s[%d] %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, log_progname, (int)getpid(),
		    names[prio], msg);
}

static void log_vmsg(int, const struct log_ctx *, int, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static void
log_vmsg(int prio, const struct log_ctx *ctx, int with_errno,
    const char *fmt, va_list ap)
{
	char	msg[2048];
	int	saved = errno;
	size_t	len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	log_emit(prio, ctx, msg);
	errno = saved;
}

#define LOG_FN(name, prio, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vmsg(prio, NULL, with_errno, fmt, ap);		\
	va_end(ap);						\
}

LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_critx, LOG_CRIT, 0)

int
log_journal(void)
{
	return !log_to_stderr;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_ctx_info(const struct log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, ctx, 0, fmt, ap);
	va_end(ap);
}

void
log_ctx_warnx(const struct log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, ctx, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, NULL, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
