/*
 * review — which new tasks the compliance desk must approve first
 * (include/review.h). The defaults follow the issue: an interception, and
 * communication records reaching back more than 12 months, wait for an
 * operator; an urgent real-time location never does (a life may depend on
 * minutes), nor does the rest. An authority's review-policy line overrides
 * the default for its type, except that an urgent real-time location is
 * always carried out at once: a registry typo must not hold it back.
 */
#include "config.h"

#include "review.h"

enum wd_review
review_policy(const struct wd_authority *a, const struct hi1_task *t,
    bool urgent, int64_t now_us)
{
	enum wd_review r = a != NULL && (unsigned)t->type < WD_REQ__COUNT ?
	    a->review[t->type] : WD_REVIEW_DEFAULT;

	if (t->type == WD_REQ_LOCATION_RT && urgent)
		return WD_REVIEW_AUTO;
	if (r != WD_REVIEW_DEFAULT)
		return r;
	if (t->type == WD_REQ_INTERCEPTION)
		return WD_REVIEW_GATE;
	if (t->type == WD_REQ_RECORDS && t->has_window &&
	    t->window_start_us < now_us - REVIEW_OLD_RECORDS_US)
		return WD_REVIEW_GATE;
	return WD_REVIEW_AUTO;
}

const char *
review_name(enum wd_review r)
{
	switch (r) {
	case WD_REVIEW_GATE:
		return "review";
	case WD_REVIEW_AFTER:
		return "review-after";
	default:
		return "auto";
	}
}
