/*
 * parsers — warrantd's pool of parser workers (warrantd-parser, see
 * src/warrantd-parser/warrantd-parser.c): it starts them, hands each an HI-1 request body and
 * resumes the request when the answer comes back, checked like a back
 * end's (lib/parser_msg.c). It supervises them: a worker that dies, sends
 * what a parser cannot, or takes longer than PARSERS_TIMEOUT_S on one body
 * is killed, its request refused with WD_ERR_INTERNAL (the caller journals
 * it as any refusal), and it is started again, after a growing delay if it
 * keeps failing. One job per worker at a time; jobs wait in order.
 */
#ifndef WD_PARSERS_H
#define WD_PARSERS_H

#include <stdbool.h>
#include <stddef.h>

#include "hi1.h"

#define PARSERS_MAX		64
#define PARSERS_TIMEOUT_S	10	/* one body, at most */
#define PARSERS_QUEUE_MAX	4096	/* bodies waiting for a worker */

struct event_base;
struct parsers;

/*
 * The answer is in *req and *err (the storage given to parsers_submit):
 * parsed true, req valid; false, err says why (and req holds what was
 * extracted if err->has_action).
 */
typedef void	(*parsers_done_fn)(void *arg, bool parsed);

/*
 * Start n workers (0: one per core, at most PARSERS_MAX) of the program
 * beside this one (dirname of /proc/self/exe)/warrantd-parser, or else
 * SBINDIR/warrantd-parser, loading templates_dir. NULL if none started.
 * No event loop yet: parsers_attach() gives it.
 */
struct parsers	*parsers_start(unsigned n, const char *templates_dir,
		    size_t max_body);
int		 parsers_attach(struct parsers *, struct event_base *);
unsigned	 parsers_count(const struct parsers *);
/* The pids of the running workers (tests, status): the number written. */
size_t		 parsers_pids(const struct parsers *, int *pids, size_t max);

/*
 * Parse body (copied: the caller may free it on return) into *req, which
 * must be all zero (fresh from calloc, as intake's job is). done runs later,
 * from the event loop, exactly once; -1 (err set, done never runs) if the
 * queue is full or memory short.
 */
int		 parsers_submit(struct parsers *, const char *body, size_t len,
		    struct hi1_request *req, struct wd_error *err,
		    parsers_done_fn done, void *arg);

/*
 * A reload: every worker restarts (a busy one after its body) and reads the
 * templates again, as warrantd itself does: they may have changed in place.
 */
void		 parsers_reconfigure(struct parsers *, const char *templates_dir,
		    size_t max_body);

/* Stop every worker; pending jobs are answered (WD_ERR_INTERNAL) first. */
void		 parsers_free(struct parsers *);

#endif
