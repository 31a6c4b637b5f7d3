/*
 * desk_int — what the files of the desk's API share, and nothing else
 * includes (the interface is src/warrantd/desk.h): the desk's state, a job
 * whose record is being written, and the functions one file calls in another.
 *  desk.c         the console's files, answers, the route table and routing;
 *  desk_queue.c   the queue (GET queue) and one request's view (GET requests/);
 *  desk_action.c  the actions (POST approve, reject, ...) and their records;
 *  desk_status.c  alerts, the board's hand-off, /metrics and /healthz.
 */
#ifndef WD_DESK_INT_H
#define WD_DESK_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "desk.h"
#include "desk_input.h"
#include "hi1.h"
#include "journal.h"
#include "obj.h"

struct wd_official;

/* The actions' names, NULL-terminated (desk_action.c). */
extern const char *const desk_actions[];
#define DESK_SEARCH	8	/* desk.actions[]: searches by identifier */
#define DESK_NPAGES	8	/* the console's files: desk_page_names[], desk.c */

struct desk_page {
	char	*data;		/* NULL: not loaded */
	size_t	 len;
};

struct desk {
	struct desk_env	 env;
	struct desk_page pages[DESK_NPAGES];
	unsigned	 pending;
	uint64_t	 actions[DESK_SEARCH + 1];	/* by desk_actions[], and searches */
};

/* One request while its record is written: everything the reply needs. */
struct desk_job {
	struct desk		*d;
	desk_reply_cb		 cb;
	void			*arg;
	json_t			*answer;	/* sent once durable */
	Warrant__Record		 rec;
	Warrant__DeskAction	 act;
	char			 action[16];
	char			 operator_id[OBJ_DESK_ID_LEN];
	char			 level[16];
	char			 fp[65];
	char			 peer[64];
	char			 owner[HI1_ID_LEN + 1];
	char			 ref[OBJ_REF_LEN];
	char			 oid[HI1_UUID_LEN + 1];
	char			 text[4 * DESK_TEXT_MAX + 1];
	char			 assignee[OBJ_DESK_ID_LEN];
	char			 query_kind[16];
	char			 query[DESK_FIELD_MAX + 1];
	uint8_t			 query_sha[32];
};

/* desk.c: answers */
void		 desk_reply_json(desk_reply_cb, void *arg, int status,
		    json_t *);
void		 desk_error(desk_reply_cb, void *arg, int status,
		    const char *code, const char *msg);
const char	*desk_level(const struct wd_official *);
int64_t		 desk_now_us(void);

/* desk_queue.c */
void		 desk_queue(struct desk *, const struct desk_request *,
		    desk_reply_cb, void *arg);
void		 desk_show(struct desk *, const struct desk_request *,
		    const char *ref, desk_reply_cb, void *arg);

/* desk_action.c */
void		 desk_journal(struct desk_job *);
void		 desk_action(struct desk *, const struct desk_request *,
		    const char *action, desk_reply_cb, void *arg);

/* desk_status.c */
void		 desk_alerts(struct desk *, desk_reply_cb, void *arg);
void		 desk_board(struct desk *, const struct desk_request *,
		    const char *p, desk_reply_cb, void *arg);
void		 desk_metrics(struct desk *, desk_reply_cb, void *arg);
void		 desk_healthz(struct desk *, desk_reply_cb, void *arg);

#endif
