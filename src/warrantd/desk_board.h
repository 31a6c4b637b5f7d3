/*
 * desk_board.h — the compliance desk's urgent-orders board and a day's
 * statistics (src/warrantd/desk_board.c, docs/desk-api.md): the answers of
 * GET /desk/api/urgent and GET /desk/api/stats, built from the object
 * store's and the alerts' functions only (desk.h's environment).
 */
#ifndef WD_DESK_BOARD_H
#define WD_DESK_BOARD_H

#include <stdint.h>

#include <jansson.h>

struct desk_env;
struct wd_conf;

/* Urgent orders at most on the board, and how long a lapsed one stays. */
#define DESK_URGENT_MAX		500
#define DESK_URGENT_LAPSED_S	86400
/* Tasks a day's statistics read at most (then "truncated": true). */
#define DESK_STATS_MAX		1000000
/* Authorities named in a day's statistics; the rest are "other". */
#define DESK_STATS_AUTH_MAX	256

/* The board at now (µs): a JSON object, or NULL (store unreadable, memory). */
json_t	*desk_board_urgent(const struct desk_env *, const struct wd_conf *,
	    int64_t now);
/*
 * The statistics of the day query names (date=YYYY-MM-DD, default the day
 * of now in the daemon's time zone). *status: 200, 400 (malformed date)
 * or 503; NULL unless 200.
 */
json_t	*desk_board_stats(const struct desk_env *, const char *query,
	    int64_t now, int *status);

/* desk.c's: ISO 8601 UTC of µs (JSON null for 0); desk_queue.c's: an
 * official's id. */
json_t		*desk_time(int64_t us);
const char	*desk_official_id(const struct wd_conf *, const char *hex);

#endif
