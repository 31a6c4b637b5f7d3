/*
 * purge.h — deleting delivered results off the event loop (src/warrantd/purge.c).
 */
#ifndef WD_PURGE_H
#define WD_PURGE_H

struct results;
struct purge;

struct purge	*purge_start(struct results *);
/* Queue a result for deletion; never blocks. */
void		 purge_queue(struct purge *, const char *name);
/* Delete what is queued, stop the thread, free. NULL is fine. */
void		 purge_stop(struct purge *);

#endif
