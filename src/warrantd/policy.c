/*
 * policy — see include/policy.h. Each rule is a small function returning 0
 * or filling the error, in the order an official would want to be told:
 * who you are, whom you wrote to, when, then each action.
 */
#include "config.h"

#include <string.h>

#include "conf.h"
#include "hi1.h"
#include "policy.h"

#define US_PER_S	1000000LL
#define US_PER_DAY	(86400LL * US_PER_S)

int
policy_check_official(const struct wd_official *o, int64_t now_us,
    struct wd_error *err)
{
	if (o == NULL || o->role != WD_ROLE_OFFICIAL) {
		wd_error_set(err, WD_ERR_UNKNOWN_OFFICIAL,
		    "the client certificate is not registered to an official");
		return -1;
	}
	switch (conf_official_status(o, (time_t)(now_us / US_PER_S))) {
	case WD_OFFICIAL_OK:
		return 0;
	case WD_OFFICIAL_SUSPENDED:
		wd_error_set(err, WD_ERR_OFFICIAL_SUSPENDED,
		    "official %s of %s is suspended", o->id, o->authority->id);
		return -1;
	default:
		wd_error_set(err, WD_ERR_OFFICIAL_EXPIRED,
		    "designation of official %s of %s is not in force", o->id,
		    o->authority->id);
		return -1;
	}
}

static int
policy_check_header(const struct wd_conf *conf, const struct wd_official *o,
    const struct hi1_request *req, int64_t now_us, struct wd_error *err)
{
	int64_t skew = (int64_t)conf->policy.clock_skew_s * US_PER_S;

	if (strcmp(req->sender_id, o->authority->id) != 0) {
		wd_error_set(err, WD_ERR_SENDER_MISMATCH,
		    "message sent in the name of %s by an official of %s",
		    req->sender_id, o->authority->id);
		return -1;
	}
	if (strcmp(req->receiver_id, conf->carrier_id) != 0) {
		wd_error_set(err, WD_ERR_WRONG_RECEIVER,
		    "message addressed to %s, this carrier is %s",
		    req->receiver_id, conf->carrier_id);
		return -1;
	}
	if (req->timestamp_us < now_us - skew || req->timestamp_us > now_us + skew) {
		wd_error_set(err, WD_ERR_CLOCK_SKEW,
		    "header timestamp is %lld s away from the carrier's clock (allowed %u s)",
		    (long long)((req->timestamp_us - now_us) / US_PER_S),
		    conf->policy.clock_skew_s);
		return -1;
	}
	return 0;
}

int64_t
policy_ratify_deadline(const struct wd_conf *conf, const struct hi1_authorisation *a)
{
	return a->approved_us + (int64_t)conf->policy.ratify_s * US_PER_S;
}

static int
policy_check_authorisation(const struct wd_conf *conf,
    const struct hi1_authorisation *a, int64_t now_us, struct wd_error *err)
{
	int64_t skew = (int64_t)conf->policy.clock_skew_s * US_PER_S;

	if (now_us + skew < a->valid_from_us || now_us > a->valid_until_us) {
		wd_error_set_action(err, WD_ERR_AUTH_NOT_VALID, a->action_id,
		    "authorisation %s is not in force now", a->reference);
		return -1;
	}
	if (a->urgent && now_us > policy_ratify_deadline(conf, a)) {
		wd_error_set_action(err, WD_ERR_AUTH_NOT_VALID, a->action_id,
		    "urgent order %s was issued more than %u h ago and has not "
		    "been ratified by a judge", a->reference,
		    conf->policy.ratify_s / 3600);
		return -1;
	}
	return 0;
}

static int
policy_check_permission(const struct wd_authority *auth, const struct hi1_task *t,
    const struct hi1_authorisation *a, struct wd_error *err)
{
	const struct wd_permission *p = &auth->perms[t->type];

	if (!p->allowed) {
		wd_error_set_action(err, WD_ERR_TYPE_NOT_ALLOWED, t->action_id,
		    "%s may not request %s", auth->id, wd_reqtype_name(t->type));
		return -1;
	}
	if (p->judicial_order && a->urgent && !p->urgent) {
		wd_error_set_action(err, WD_ERR_ORDER_REQUIRED, t->action_id,
		    "%s requires a judicial order; an urgent order is not enough",
		    wd_reqtype_name(t->type));
		return -1;
	}
	return 0;
}

/*
 * Retained data (records, past locations) can only be asked for inside the
 * retention period and not in the future; interception is the opposite: it
 * is about the future and must not have ended already.
 */
static int
policy_check_window(const struct wd_conf *conf, const struct hi1_task *t,
    int64_t now_us, struct wd_error *err)
{
	int64_t oldest = now_us - (int64_t)conf->policy.retention_days * US_PER_DAY;
	int64_t skew = (int64_t)conf->policy.clock_skew_s * US_PER_S;

	/* Real-time location is about now: a window, if any, is not used. */
	if (t->type == WD_REQ_LOCATION_RT)
		return 0;
	if (t->type == WD_REQ_INTERCEPTION) {
		if (t->has_window && t->window_end_us <= now_us) {
			wd_error_set_action(err, WD_ERR_WINDOW_ORDER, t->action_id,
			    "interception period has already ended");
			return -1;
		}
		return 0;
	}
	if (t->has_window && t->window_start_us < oldest) {
		wd_error_set_action(err, WD_ERR_WINDOW_RETENTION, t->action_id,
		    "window starts before the %u-day retention period",
		    conf->policy.retention_days);
		return -1;
	}
	if (t->has_window && t->window_end_us > now_us + skew) {
		wd_error_set_action(err, WD_ERR_WINDOW_ORDER, t->action_id,
		    "window ends in the future; retained data can only be past");
		return -1;
	}
	if (t->has_observed && (t->observed_us < oldest || t->observed_us > now_us + skew)) {
		wd_error_set_action(err, WD_ERR_WINDOW_RETENTION, t->action_id,
		    "observed time is outside the retention period");
		return -1;
	}
	return 0;
}

static int
policy_check_preservation(const struct wd_conf *conf, const struct hi1_task *t,
    const struct hi1_authorisation *a, int64_t now_us, struct wd_error *err)
{
	int64_t max = now_us + (int64_t)conf->policy.preservation_max_days * US_PER_DAY;

	if (t->type == WD_REQ_PRESERVATION && a->valid_until_us > max) {
		wd_error_set_action(err, WD_ERR_AUTH_NOT_VALID, t->action_id,
		    "preservation may last at most %u days; renew it before it ends",
		    conf->policy.preservation_max_days);
		return -1;
	}
	return 0;
}

/* Objects are owned by the sender: nobody files in another's name. */
static int
policy_check_owner(const char *owner, uint32_t action, const struct hi1_request *req,
    struct wd_error *err)
{
	if (strcmp(owner, req->sender_id) != 0) {
		wd_error_set_action(err, WD_ERR_SENDER_MISMATCH, action,
		    "object owned by %s in a message from %s", owner, req->sender_id);
		return -1;
	}
	return 0;
}

int
policy_check_request(const struct wd_conf *conf, const struct wd_official *o,
    const struct hi1_request *req, int64_t now_us, struct wd_error *err)
{
	const struct hi1_authorisation	*a;
	const struct hi1_task		*t;

	if (policy_check_official(o, now_us, err) == -1 ||
	    policy_check_header(conf, o, req, now_us, err) == -1)
		return -1;
	for (size_t i = 0; i < req->nauths; i++) {
		a = &req->auths[i];
		if (policy_check_owner(a->owner, a->action_id, req, err) == -1 ||
		    policy_check_authorisation(conf, a, now_us, err) == -1)
			return -1;
	}
	for (size_t i = 0; i < req->ntasks; i++) {
		t = &req->tasks[i];
		if (t->auth_index < 0 || (size_t)t->auth_index >= req->nauths) {
			wd_error_set_action(err, WD_ERR_AUTH_LINK, t->action_id,
			    "task is not linked to an authorisation");
			return -1;
		}
		a = &req->auths[t->auth_index];
		if (policy_check_owner(t->owner, t->action_id, req, err) == -1 ||
		    policy_check_permission(o->authority, t, a, err) == -1 ||
		    policy_check_window(conf, t, now_us, err) == -1 ||
		    policy_check_preservation(conf, t, a, now_us, err) == -1)
			return -1;
	}
	for (size_t i = 0; i < req->ndocs; i++)
		if (policy_check_owner(req->docs[i].owner, req->docs[i].action_id,
		    req, err) == -1)
			return -1;
	/* UPDATE: the lifecycle checks the object is held for the sender. */
	for (size_t i = 0; i < req->nupdates; i++)
		if (policy_check_owner(req->updates[i].owner,
		    req->updates[i].action_id, req, err) == -1)
			return -1;
	return 0;
}
