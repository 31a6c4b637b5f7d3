/*
 * lifecycle_int — what the files of the lifecycle share, and nothing
 * else includes (the interface is src/warrantd/lifecycle.h): the
 * lifecycle's state, the in-memory marks, records under construction,
 * and the functions one file calls in another.
 *  lifecycle.c          clock, marks, records and their journaling, the
 *                       marks dispatch.c reports through, life;
 *  lifecycle_plan.c     planning a changing message (CREATE, UPDATE), and
 *                       the changes once recorded (gate, desk, delivery);
 *  lifecycle_task.c     what a task's outcomes make of it, X1
 *                       interceptions, progress, the legal clocks;
 *  lifecycle_pack.c     packaging results into parts, destroying them;
 *  lifecycle_deliver.c  delivery: reading parts back, pushing a window;
 *  lifecycle_read.c     the authority's reads (GET, LIST), a request's
 *                       objects.
 */
#ifndef WD_LIFECYCLE_INT_H
#define WD_LIFECYCLE_INT_H

#include <sys/queue.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hi1_object.h"
#include "journal.h"
#include "ldpack.h"
#include "lifecycle.h"
#include "obj.h"
#include "results.h"
#include "wd.h"

struct event;
struct results_reader;
struct x1prov_task;

#define LC_TICK_MS		1000
#define LC_DUE_BATCH		64	/* objects handled per tick */
#define LC_REC_TR_MAX		64	/* transitions in one record */
#define LC_KEY_LEN		(HI1_ID_LEN + HI1_UUID_LEN + 2)
#define LC_MARK_BUCKETS		4096
#define LC_WINDOW_DEFAULT	8	/* parts of a task pushed at once */

/*
 * Where a push of a task's parts stands, in memory only: the parts not
 * delivered when the push began, in sequence order, each to send, on its
 * way, or done. Without it every acknowledgement read every part of the
 * task from the store to find the next (55 ms a part at 999 parts,
 * bench/lifecycle); with it the next is at hand, and several can be in
 * flight at once without one being sent twice. The store stays the truth:
 * a part is read again (one lookup) just before it is sent, and the task
 * becomes Disclosed only when a full read of its parts says so. Lost at a
 * restart, which rebuilds it from the store.
 */
enum lc_cpart_state { LC_CP_TODO, LC_CP_SENT, LC_CP_DONE };
struct lc_cpart {
	char			 oid[HI1_UUID_LEN + 1];
	uint8_t			 state;
};
struct lc_cursor {
	struct lc_cpart		*v;
	size_t			 n;
	size_t			 next;		/* no TODO entry below this */
	size_t			 done;		/* entries in LC_CP_DONE */
};

/* What is going on with one object, in memory only. */
struct lc_mark {
	char			 key[LC_KEY_LEN];	/* owner/oid */
	unsigned		 busy;		/* records pending that change it */
	unsigned		 claims;	/* an answer may carry its result */
	unsigned		 calls;		/* back-end calls in flight */
	bool			 packing;	/* results being packaged */
	unsigned		 pushes;	/* DELIVERs on their way */
	struct lc_cursor	*cur;		/* a task's parts being pushed */
	int64_t			 retry_at;	/* next round of calls, 0 = none */
	bool			 push_wait;	/* a push failed: next at retry_at */
	TAILQ_ENTRY(lc_mark)	 entry;
	LIST_ENTRY(lc_mark)	 hentry;	/* in lifecycle.mark_hash */
};
TAILQ_HEAD(lc_marks, lc_mark);

struct lc_pack;
TAILQ_HEAD(lc_packs, lc_pack);

struct lifecycle {
	struct lifecycle_env	 env;
	struct lifecycle_config	 cfg;
	int64_t			(*now)(void *);
	void			*now_arg;
	struct event		*tick;
	struct lc_marks		 marks;
	/*
	 * The marks by key as well: every record and request looks marks up,
	 * and a task waiting for a back end keeps its mark (its retry time),
	 * so a list walk made each CREATE cost O(open tasks) (bench/lifecycle:
	 * 1300 -> 370 CREATE/s over 15 s with no back end). Seeded, so an
	 * authority cannot choose identifiers that collide.
	 */
	LIST_HEAD(, lc_mark)	 mark_hash[LC_MARK_BUCKETS];
	uint64_t		 mark_seed;
	unsigned		 pending;	/* records appended, not durable */
	unsigned		 packers;	/* packaging threads running */
	struct lc_packs		 packs;		/* ... their jobs */
	bool			 started;
	bool			 stopping;
};

/* A record under construction, with the storage its fields point into. */
struct lc_rec {
	Warrant__Record		 rec;
	char			 owner[HI1_ID_LEN + 1];
	char			 ref[OBJ_REF_LEN];
	char			 detail[768];
	Warrant__Transition	 tr[LC_REC_TR_MAX], *trp[LC_REC_TR_MAX];
	char			 oid[LC_REC_TR_MAX][HI1_UUID_LEN + 1];
	char			 trref[LC_REC_TR_MAX][OBJ_REF_LEN];
	char			 reason[LC_REC_TR_MAX][OBJ_REASON_LEN];
	char			*objects[LC_REC_TR_MAX];
	char			 objs[LC_REC_TR_MAX][HI1_UUID_LEN + 1];
	Warrant__Notification	 note, *notep;
	char			 note_oid[HI1_UUID_LEN + 1];
	char			 note_text[OBJ_NOTE_LEN];
	char			*note_assoc[HI1_MAX_ASSOC];
	char			 note_assoc_s[HI1_MAX_ASSOC][HI1_UUID_LEN + 1];
	Warrant__DeliveryPart	*parts;
	Warrant__DeliveryPart	**partp;
	struct obj_pb_task	 task;
	Warrant__Task		*taskp;
};

typedef void (*lc_done_fn)(struct lifecycle *, int status, void *arg);

/* A done callback that looks at one object again once its record is in. */
struct lc_key {
	char	 owner[HI1_ID_LEN + 1];
	char	 oid[HI1_UUID_LEN + 1];
};

/* Tasks of the order o (same request, linked to it), for its effects. */
struct lc_tasks {
	const char	*auth_id;
	struct obj	*v;
	size_t		 n, cap;
};

struct lc_parts {
	struct obj	*v;
	size_t		 n, cap;
};

/* A packaging job, on its worker thread (lifecycle_pack.c). */
struct lc_pack {
	TAILQ_ENTRY(lc_pack)	 entry;		/* in lifecycle.packs, running */
	struct lifecycle	*lc;
	struct obj		 task;
	struct ldpack_outcome	 outcomes[HI1_MAX_IDS];
	char			 names[HI1_MAX_IDS][RESULTS_NAME_MAX];
	char			 prefix[RESULTS_NAME_MAX];
	char			 delivery_id[HI1_UUID_LEN + 1];
	char			 manifest_name[RESULTS_NAME_MAX];
	uint8_t			 manifest_sha256[32];
	struct ldpack		*pk;
	char			 why[LDPACK_WHY_MAX];
	struct wd_wake		*done;
	pthread_t		 thread;
};

/* lifecycle.c: marks and records */
struct lc_mark	*lc_mark_find(struct lifecycle *, const char *owner,
		    const char *oid, bool create);
void		 lc_mark_gc(struct lifecycle *, struct lc_mark *);
bool		 lc_is_busy(struct lifecycle *, const char *owner,
		    const char *oid);
struct lc_rec	*lc_rec_new(int event, const char *owner, const char *ref,
		    const char *detail);
void		 lc_rec_free(struct lc_rec *);
int		 lc_rec_transition(struct lc_rec *, const struct obj *,
		    enum obj_status, enum wd_reason, const char *text,
		    Warrant__Cause);
void		 lc_rec_object(struct lc_rec *, const char *oid);
void		 lc_rec_note(struct lc_rec *, const char *text,
		    const char *const *assoc, size_t nassoc);
struct lc_key	*lc_key_of(const char *owner, const char *oid);
void		 lc_then_progress(struct lifecycle *, int status, void *arg);
int		 lc_emit(struct lifecycle *, struct lc_rec *, lc_done_fn done,
		    void *arg);

/* lifecycle_plan.c */
int		 lc_order_tasks(struct lifecycle *, const struct obj *auth,
		    struct lc_tasks *);

/* lifecycle_task.c */
void		 lc_change(struct lifecycle *, const struct obj *,
		    enum obj_status, enum wd_reason, const char *text,
		    Warrant__Cause, bool note, lc_done_fn done);
void		 lc_schedule_retry(struct lifecycle *, const struct obj *);
void		 lc_x1_outcome(const char *owner, const char *oid, bool ok,
		    enum wd_reason, const char *text, void *arg);
int		 lc_x1_each(void *src,
		    int (*fn)(const struct x1prov_task *, bool, void *),
		    void *fnarg);
void		 lc_progress_obj(struct lifecycle *, const struct obj *);
void		 lc_progress(struct lifecycle *, const char *owner,
		    const char *oid);

/* lifecycle_pack.c */
void		 lc_pack(struct lifecycle *, const struct obj *);
int		 lc_collect(const struct obj *, void *arg);
int		 lc_task_parts(struct lifecycle *, const struct obj *task,
		    struct lc_parts *);
void		 lc_destroy(struct lifecycle *, const struct obj *task,
		    const char *why);

/* lifecycle_deliver.c */
int		 lc_read_result(struct lifecycle *, const char *name,
		    const uint8_t *want, uint8_t **out, size_t *outlen);
struct results_reader *lc_open_part(struct lifecycle *,
		    const struct obj_part *);
bool		 lc_push_more(struct lifecycle *, const struct obj *,
		    const struct lc_mark *);
void		 lc_cursor_drop(struct lifecycle *, struct lc_mark *);
void		 lc_deliver(struct lifecycle *, const struct obj *task);
void		 lc_progress_note(struct lifecycle *, const struct obj *);

#endif
