/*
 * wd_wake.h — the one way for a thread, a signal handler or a child
 * process to wake an event loop (lib/lib_wake.c): a non-blocking pipe
 * whose read end the loop watches. Wakes coalesce: many signals before the
 * loop runs make one callback, so the callback takes all that is waiting.
 */
#ifndef WD_WAKE_H
#define WD_WAKE_H

struct event_base;
struct wd_wake;

/* cb(arg) runs on base's loop after one or more wd_wake_signal(). Persistent
 * unless once: a once wake calls back a single time, then is done (free it
 * from the callback or later). NULL (logged) on failure. */
struct wd_wake	*wd_wake_new(struct event_base *base, void (*cb)(void *),
		    void *arg, int once);

/* From any thread, signal handler or (by the fd) process: 0, or -1 with
 * errno. A full pipe is a wake already pending: 0. */
int		 wd_wake_signal(struct wd_wake *w);

/* The write end, for a child process to write one byte into. */
int		 wd_wake_fd(const struct wd_wake *w);

/* Runs the callback now if a wake is pending (draining it), as the loop
 * would: for a last collection before shutdown. */
void		 wd_wake_run(struct wd_wake *w);

void		 wd_wake_free(struct wd_wake *w);

#endif
