/*
 * log — the daemon's only way to speak: to the systemd journal with
 * structured fields when running under systemd, to stderr otherwise.
 * fatal()/fatalx() log once and exit; nothing else in the code exits.
 */
#ifndef WD_LOG_H
#define WD_LOG_H

#include <stdarg.h>

/* Structured context attached to log lines about one request. */
struct log_ctx {
	const char	*request_id;	/* carrier reference or connection id */
	const char	*authority;
	const char	*official;
};

void	log_init(const char *progname, int to_stderr, int verbose);
void	log_setverbose(int verbose);
int	log_getverbose(void);
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line at PRIORITY 2 (crit) that does not exit: a missed legal deadline. */
void	log_critx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Non-zero when lines go to journald (whose own fields callers may add). */
int	log_journal(void);
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_info/log_warnx, with request context as journal fields. */
void	log_ctx_info(const struct log_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_ctx_warnx(const struct log_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
