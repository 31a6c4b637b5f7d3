/*
 * review — the compliance desk's review policy (issue 10): which new tasks
 * are carried out at once, which wait in AwaitingApproval for an operator,
 * and which are carried out but flagged for a second look. Pure: the
 * registry's review-policy for the authority and request type, else the
 * built-in defaults (docs/desk-api.md).
 */
#ifndef WD_REVIEW_H
#define WD_REVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "hi1.h"

/* Records whose window starts this long before now are "older records". */
#define REVIEW_OLD_RECORDS_US	(365LL * 86400 * 1000000)

/* The policy for one new task; never WD_REVIEW_DEFAULT. */
enum wd_review	review_policy(const struct wd_authority *,
		    const struct hi1_task *, bool urgent, int64_t now_us);
/* "auto", "review", "review-after". */
const char	*review_name(enum wd_review);

#endif
