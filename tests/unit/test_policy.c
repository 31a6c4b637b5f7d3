/*
 * test_policy — every rule of src/warrantd/policy.c, each with a case that passes and
 * one that fails, at the boundary: the registered official, sender and
 * receiver, header clock skew, permissions (type, judicial order, urgent
 * order), authorisation validity and the ratification deadline, retention
 * windows, interception windows and the preservation limit.
 *
 * policy is pure, so the fixtures are built in memory: one authority
 * ("FGR"), one official, a configuration with the documented defaults, and a
 * request that is valid at NOW with one authorisation (action 0) and one
 * task (action 1). Each test changes one thing and asserts the exact error
 * code and the action it is charged to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "hi1.h"
#include "policy.h"

#define US		1000000LL
#define DAY_US		(86400LL * US)
#define NOW_S		1781524800LL		/* 2026-06-15T12:00:00Z */
#define NOW		(NOW_S * US)
#define SKEW_S		300
#define RETENTION_D	730
#define RATIFY_S	(48 * 3600)
#define PRESERVE_D	90
#define OLDEST		(NOW - RETENTION_D * DAY_US)

#define AUTH_ACTION	0
#define TASK_ACTION	1

struct fx {
	struct wd_conf		conf;
	struct wd_authority	auth;
	struct wd_official	off;
	struct hi1_request	req;
	struct wd_error		err;
};

static struct fx	fx;

/* The registry line "allow T [judicial-order] [urgent]". */
static void
allow(enum wd_reqtype t, bool judicial, bool urgent)
{
	fx.auth.perms[t].allowed = true;
	fx.auth.perms[t].judicial_order = judicial;
	fx.auth.perms[t].urgent = urgent;
}

/* Retained data of the past ten days, under a judge's order valid now. */
static int
setup(void **state)
{
	struct hi1_authorisation	*a = &fx.req.auths[0];
	struct hi1_task			*t = &fx.req.tasks[0];

	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.conf.carrier_id = "MXCARRIER";
	fx.conf.policy.retention_days = RETENTION_D;
	fx.conf.policy.clock_skew_s = SKEW_S;
	fx.conf.policy.ratify_s = RATIFY_S;
	fx.conf.policy.preservation_max_days = PRESERVE_D;

	fx.auth.id = "FGR";
	fx.auth.kind = WD_KIND_FEDERAL_PROSECUTOR;
	allow(WD_REQ_SUBSCRIBER, false, false);
	allow(WD_REQ_LOCATION_RT, true, true);
	allow(WD_REQ_LOCATION_HIST, true, false);
	allow(WD_REQ_RECORDS, true, false);
	allow(WD_REQ_PRESERVATION, false, false);
	allow(WD_REQ_INTERCEPTION, true, false);

	fx.off.id = "ana.lopez";
	fx.off.role = WD_ROLE_OFFICIAL;
	fx.off.valid_from = NOW_S - 365 * 86400;
	fx.off.valid_until = NOW_S + 365 * 86400;
	fx.off.authority = &fx.auth;

	strcpy(fx.req.sender_cc, "MX");
	strcpy(fx.req.sender_id, "FGR");
	strcpy(fx.req.receiver_cc, "MX");
	strcpy(fx.req.receiver_id, "MXCARRIER");
	strcpy(fx.req.transaction_id, "2d5c8a40-6d0e-4a5e-9b1e-0c3f5a7b9d11");
	fx.req.timestamp_us = NOW;

	fx.req.nauths = 1;
	a->action_id = AUTH_ACTION;
	strcpy(a->owner, "FGR");
	strcpy(a->reference, "CI-FED/CDMX/0004512/2026");
	a->valid_from_us = NOW - DAY_US;
	a->valid_until_us = NOW + 30 * DAY_US;
	a->approved_us = NOW - DAY_US;

	fx.req.ntasks = 1;
	t->action_id = TASK_ACTION;
	strcpy(t->owner, "FGR");
	strcpy(t->reference, "MX-FGR-000123");
	t->type = WD_REQ_RECORDS;
	t->auth_index = 0;
	t->has_window = true;
	t->window_start_us = NOW - 10 * DAY_US;
	t->window_end_us = NOW - DAY_US;
	return 0;
}

static int
check_at(int64_t now)
{
	/* Poison the error so that a rule which fails to fill it shows. */
	memset(&fx.err, 0xa5, sizeof(fx.err));
	return policy_check_request(&fx.conf, &fx.off, &fx.req, now, &fx.err);
}

static void
expect_ok_at(int64_t now)
{
	int rc = check_at(now);

	if (rc != 0)
		print_error("refused: %d %s\n", fx.err.code, fx.err.text);
	assert_int_equal(rc, 0);
}

static void
expect_ok(void)
{
	expect_ok_at(NOW);
}

/* A message-level error: no action is charged. */
static void
expect_msg_err(enum wd_errcode code)
{
	assert_int_equal(check_at(NOW), -1);
	assert_int_equal(fx.err.code, code);
	assert_int_equal(fx.err.has_action, 0);
	assert_non_null(memchr(fx.err.text, '\0', sizeof(fx.err.text)));
	assert_true(fx.err.text[0] != '\0');
}

static void
expect_action_err_at(int64_t now, enum wd_errcode code, uint32_t action)
{
	assert_int_equal(check_at(now), -1);
	assert_int_equal(fx.err.code, code);
	assert_int_equal(fx.err.has_action, 1);
	assert_int_equal(fx.err.action_id, action);
	assert_non_null(memchr(fx.err.text, '\0', sizeof(fx.err.text)));
	assert_true(fx.err.text[0] != '\0');
}

static void
expect_action_err(enum wd_errcode code, uint32_t action)
{
	expect_action_err_at(NOW, code, action);
}

/* --- the fixture itself, and every request type on its own --------------- */

static void
test_baseline_accepted(void **state)
{
	(void)state;
	expect_ok();
}

static void
test_each_type_accepted(void **state)
{
	struct hi1_task *t = &fx.req.tasks[0];

	(void)state;
	t->type = WD_REQ_SUBSCRIBER;
	expect_ok();
	t->has_window = false;
	expect_ok();
	t->type = WD_REQ_LOCATION_RT;
	expect_ok();
	t->type = WD_REQ_LOCATION_HIST;
	t->has_window = true;
	expect_ok();
	t->type = WD_REQ_PRESERVATION;
	expect_ok();
	t->type = WD_REQ_INTERCEPTION;
	t->window_start_us = NOW;
	t->window_end_us = NOW + 30 * DAY_US;
	expect_ok();
}

/* --- the official ---------------------------------------------------------- */

static void
test_official_unknown(void **state)
{
	(void)state;
	assert_int_equal(policy_check_request(&fx.conf, NULL, &fx.req, NOW,
	    &fx.err), -1);
	assert_int_equal(fx.err.code, WD_ERR_UNKNOWN_OFFICIAL);
	assert_int_equal(fx.err.has_action, 0);
	assert_int_equal(policy_check_official(NULL, NOW, &fx.err), -1);
	assert_int_equal(fx.err.code, WD_ERR_UNKNOWN_OFFICIAL);
}

/* An auditor's certificate is registered, but not to someone who may ask. */
static void
test_official_auditor_refused(void **state)
{
	(void)state;
	fx.off.role = WD_ROLE_AUDITOR;
	fx.off.authority = NULL;
	expect_msg_err(WD_ERR_UNKNOWN_OFFICIAL);
	fx.off.role = WD_ROLE_OFFICIAL;
	fx.off.authority = &fx.auth;
	expect_ok();
}

static void
test_official_suspended(void **state)
{
	(void)state;
	fx.off.suspended = true;
	expect_msg_err(WD_ERR_OFFICIAL_SUSPENDED);
	assert_int_equal(policy_check_official(&fx.off, NOW, &fx.err), -1);
	assert_int_equal(fx.err.code, WD_ERR_OFFICIAL_SUSPENDED);
	fx.off.suspended = false;
	assert_int_equal(policy_check_official(&fx.off, NOW, &fx.err), 0);
}

static void
test_official_not_yet_valid(void **state)
{
	(void)state;
	fx.off.valid_from = NOW_S;
	expect_ok();
	fx.off.valid_from = NOW_S + 1;
	expect_msg_err(WD_ERR_OFFICIAL_EXPIRED);
	/* The first microsecond of the designation's first second counts. */
	expect_ok_at((NOW_S + 1) * US);
}

static void
test_official_expired(void **state)
{
	(void)state;
	fx.off.valid_until = NOW_S;
	expect_ok();
	/* The whole last second is still inside the designation. */
	expect_ok_at(NOW + US - 1);
	assert_int_equal(check_at(NOW + US), -1);
	assert_int_equal(fx.err.code, WD_ERR_OFFICIAL_EXPIRED);
	fx.off.valid_until = NOW_S - 1;
	expect_msg_err(WD_ERR_OFFICIAL_EXPIRED);
}

/* --- sender, receiver, owners ---------------------------------------------- */

static void
test_sender_mismatch(void **state)
{
	(void)state;
	strcpy(fx.req.sender_id, "FGJCDMX");
	expect_msg_err(WD_ERR_SENDER_MISMATCH);
	strcpy(fx.req.sender_id, "FG");		/* a prefix is not the id */
	expect_msg_err(WD_ERR_SENDER_MISMATCH);
	strcpy(fx.req.sender_id, "FGRX");
	expect_msg_err(WD_ERR_SENDER_MISMATCH);
}

static void
test_wrong_receiver(void **state)
{
	(void)state;
	strcpy(fx.req.receiver_id, "OTHERCARRIER");
	expect_msg_err(WD_ERR_WRONG_RECEIVER);
	strcpy(fx.req.receiver_id, "mxcarrier");
	expect_msg_err(WD_ERR_WRONG_RECEIVER);
	strcpy(fx.req.receiver_id, "");
	expect_msg_err(WD_ERR_WRONG_RECEIVER);
}

static void
test_authorisation_owner_mismatch(void **state)
{
	(void)state;
	fx.req.auths[0].action_id = 7;
	strcpy(fx.req.auths[0].owner, "FGJCDMX");
	expect_action_err(WD_ERR_SENDER_MISMATCH, 7);
}

static void
test_task_owner_mismatch(void **state)
{
	(void)state;
	strcpy(fx.req.tasks[0].owner, "FGJCDMX");
	expect_action_err(WD_ERR_SENDER_MISMATCH, TASK_ACTION);
	strcpy(fx.req.tasks[0].owner, "FGR");
	expect_ok();
}

/* --- header timestamp ---------------------------------------------------- */

static void
test_clock_skew_past(void **state)
{
	(void)state;
	fx.req.timestamp_us = NOW - SKEW_S * US;
	expect_ok();
	fx.req.timestamp_us = NOW - SKEW_S * US - 1;
	expect_msg_err(WD_ERR_CLOCK_SKEW);
}

static void
test_clock_skew_future(void **state)
{
	(void)state;
	fx.req.timestamp_us = NOW + SKEW_S * US;
	expect_ok();
	fx.req.timestamp_us = NOW + SKEW_S * US + 1;
	expect_msg_err(WD_ERR_CLOCK_SKEW);
}

/* The window follows the configuration, not a constant. */
static void
test_clock_skew_configured(void **state)
{
	(void)state;
	fx.conf.policy.clock_skew_s = 1;
	fx.req.timestamp_us = NOW + US;
	expect_ok();
	fx.req.timestamp_us = NOW - 2 * US;
	expect_msg_err(WD_ERR_CLOCK_SKEW);
}

/* --- permissions ----------------------------------------------------------- */

static void
test_type_not_allowed(void **state)
{
	(void)state;
	fx.auth.perms[WD_REQ_RECORDS].allowed = false;
	expect_action_err(WD_ERR_TYPE_NOT_ALLOWED, TASK_ACTION);
	/* Other types of the same authority are not affected. */
	fx.req.tasks[0].type = WD_REQ_LOCATION_HIST;
	expect_ok();
}

static void
test_type_not_allowed_interception(void **state)
{
	struct hi1_task *t = &fx.req.tasks[0];

	(void)state;
	t->type = WD_REQ_INTERCEPTION;
	t->window_start_us = NOW;
	t->window_end_us = NOW + DAY_US;
	memset(&fx.auth.perms[WD_REQ_INTERCEPTION], 0,
	    sizeof(fx.auth.perms[0]));
	expect_action_err(WD_ERR_TYPE_NOT_ALLOWED, TASK_ACTION);
}

/* "allow T judicial-order": a judge's order yes, an urgent order no. */
static void
test_judicial_order_required(void **state)
{
	(void)state;
	allow(WD_REQ_RECORDS, true, false);
	fx.req.auths[0].urgent = false;
	expect_ok();
	fx.req.auths[0].urgent = true;
	expect_action_err(WD_ERR_ORDER_REQUIRED, TASK_ACTION);
}

/* "allow T judicial-order urgent": both, while the deadline runs. */
static void
test_urgent_order_allowed(void **state)
{
	(void)state;
	fx.req.tasks[0].type = WD_REQ_LOCATION_RT;
	fx.req.tasks[0].has_window = false;
	fx.req.auths[0].urgent = false;
	expect_ok();
	fx.req.auths[0].urgent = true;
	fx.req.auths[0].emergency = true;
	expect_ok();
	/* The same urgent order for a type that needs a judge's order. */
	fx.req.tasks[0].type = WD_REQ_LOCATION_HIST;
	fx.req.tasks[0].has_window = true;
	expect_action_err(WD_ERR_ORDER_REQUIRED, TASK_ACTION);
}

/* "allow T": the authority's own order suffices, urgent or not. */
static void
test_no_order_needed(void **state)
{
	(void)state;
	fx.req.tasks[0].type = WD_REQ_SUBSCRIBER;
	fx.req.auths[0].urgent = true;
	expect_ok();
	fx.auth.perms[WD_REQ_SUBSCRIBER].allowed = false;
	expect_action_err(WD_ERR_TYPE_NOT_ALLOWED, TASK_ACTION);
}

/* --- the authorisation in force -------------------------------------------- */

/* valid_from may be up to the skew ahead of our clock. */
static void
test_authorisation_not_yet_valid(void **state)
{
	(void)state;
	fx.req.auths[0].valid_from_us = NOW;
	expect_ok();
	fx.req.auths[0].valid_from_us = NOW + SKEW_S * US;
	expect_ok();
	fx.req.auths[0].valid_from_us = NOW + SKEW_S * US + 1;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, AUTH_ACTION);
}

/*
 * No tolerance at the end: an order that ended a microsecond ago is not in
 * force, even inside the clock skew (the skew only forgives an authority
 * whose clock runs ahead when it issues an order "from now").
 */
static void
test_authorisation_expired(void **state)
{
	(void)state;
	fx.req.auths[0].valid_until_us = NOW;
	expect_ok();
	fx.req.auths[0].valid_until_us = NOW - 1;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, AUTH_ACTION);
	fx.req.auths[0].valid_until_us = NOW - SKEW_S * US;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, AUTH_ACTION);
}

static void
test_authorisation_action_id(void **state)
{
	(void)state;
	fx.req.auths[0].action_id = 12;
	fx.req.auths[0].valid_until_us = NOW - DAY_US;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, 12);
}

static void
test_ratify_deadline_value(void **state)
{
	struct hi1_authorisation a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.approved_us = NOW;
	assert_true(policy_ratify_deadline(&fx.conf, &a) == NOW + RATIFY_S * US);
	fx.conf.policy.ratify_s = 1;
	assert_true(policy_ratify_deadline(&fx.conf, &a) == NOW + US);
}

static void
test_urgent_inside_deadline(void **state)
{
	(void)state;
	fx.req.tasks[0].type = WD_REQ_LOCATION_RT;
	fx.req.tasks[0].has_window = false;
	fx.req.auths[0].urgent = true;
	fx.req.auths[0].approved_us = NOW - RATIFY_S * US;
	expect_ok();
	fx.req.auths[0].approved_us = NOW;
	expect_ok();
}

static void
test_urgent_past_deadline(void **state)
{
	(void)state;
	fx.req.tasks[0].type = WD_REQ_LOCATION_RT;
	fx.req.tasks[0].has_window = false;
	fx.req.auths[0].urgent = true;
	fx.req.auths[0].approved_us = NOW - RATIFY_S * US - 1;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, AUTH_ACTION);
	/* A judge's order approved as long ago has no deadline. */
	fx.req.auths[0].urgent = false;
	expect_ok();
}

/* --- time windows ------------------------------------------------------ */

static void
test_retention_window_start(void **state)
{
	(void)state;
	fx.req.tasks[0].window_start_us = OLDEST;
	expect_ok();
	fx.req.tasks[0].window_start_us = OLDEST - 1;
	expect_action_err(WD_ERR_WINDOW_RETENTION, TASK_ACTION);
}

static void
test_retention_configured(void **state)
{
	(void)state;
	fx.conf.policy.retention_days = 1;
	fx.req.tasks[0].window_start_us = NOW - DAY_US;
	expect_ok();
	fx.req.tasks[0].window_start_us = NOW - DAY_US - 1;
	expect_action_err(WD_ERR_WINDOW_RETENTION, TASK_ACTION);
}

/* Retained data can only be past; the skew forgives a clock running ahead. */
static void
test_window_end_future(void **state)
{
	(void)state;
	fx.req.tasks[0].window_end_us = NOW;
	expect_ok();
	fx.req.tasks[0].window_end_us = NOW + SKEW_S * US;
	expect_ok();
	fx.req.tasks[0].window_end_us = NOW + SKEW_S * US + 1;
	expect_action_err(WD_ERR_WINDOW_ORDER, TASK_ACTION);
	fx.req.tasks[0].type = WD_REQ_LOCATION_HIST;
	expect_action_err(WD_ERR_WINDOW_ORDER, TASK_ACTION);
	fx.req.tasks[0].type = WD_REQ_PRESERVATION;
	expect_action_err(WD_ERR_WINDOW_ORDER, TASK_ACTION);
}

static void
test_observed_time(void **state)
{
	struct hi1_task *t = &fx.req.tasks[0];

	(void)state;
	t->type = WD_REQ_SUBSCRIBER;
	t->has_window = false;
	t->has_observed = true;
	t->observed_us = OLDEST;
	expect_ok();
	t->observed_us = OLDEST - 1;
	expect_action_err(WD_ERR_WINDOW_RETENTION, TASK_ACTION);
	t->observed_us = NOW + SKEW_S * US;
	expect_ok();
	t->observed_us = NOW + SKEW_S * US + 1;
	expect_action_err(WD_ERR_WINDOW_RETENTION, TASK_ACTION);
}

static void
test_interception_window(void **state)
{
	struct hi1_task *t = &fx.req.tasks[0];

	(void)state;
	t->type = WD_REQ_INTERCEPTION;
	t->window_start_us = NOW - DAY_US;
	t->window_end_us = NOW + 1;
	expect_ok();
	t->window_end_us = NOW;
	expect_action_err(WD_ERR_WINDOW_ORDER, TASK_ACTION);
	t->window_end_us = NOW - DAY_US / 2;
	expect_action_err(WD_ERR_WINDOW_ORDER, TASK_ACTION);
	/* The future is what interception is about: no retention limit. */
	t->window_start_us = OLDEST - DAY_US;
	t->window_end_us = NOW + 365 * DAY_US;
	expect_ok();
}

static void
test_preservation_max(void **state)
{
	(void)state;
	fx.req.tasks[0].type = WD_REQ_PRESERVATION;
	fx.req.auths[0].valid_until_us = NOW + PRESERVE_D * DAY_US;
	expect_ok();
	fx.req.auths[0].valid_until_us = NOW + PRESERVE_D * DAY_US + 1;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, TASK_ACTION);
	/* The limit is for preservation only. */
	fx.req.tasks[0].type = WD_REQ_RECORDS;
	expect_ok();
	fx.conf.policy.preservation_max_days = 1;
	fx.req.tasks[0].type = WD_REQ_PRESERVATION;
	fx.req.auths[0].valid_until_us = NOW + DAY_US;
	expect_ok();
	fx.req.auths[0].valid_until_us = NOW + DAY_US + 1;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, TASK_ACTION);
}

/* --- links, several actions, order of the rules ---------------------------- */

static void
test_task_not_linked(void **state)
{
	(void)state;
	fx.req.tasks[0].auth_index = -1;
	expect_action_err(WD_ERR_AUTH_LINK, TASK_ACTION);
	fx.req.tasks[0].auth_index = 1;		/* == nauths */
	expect_action_err(WD_ERR_AUTH_LINK, TASK_ACTION);
	fx.req.tasks[0].auth_index = 0;
	expect_ok();
}

/* The error names the action that failed, not the first one. */
static void
test_second_task_charged(void **state)
{
	(void)state;
	fx.req.tasks[1] = fx.req.tasks[0];
	fx.req.tasks[1].action_id = 2;
	fx.req.tasks[1].type = WD_REQ_LOCATION_HIST;
	fx.req.ntasks = 2;
	expect_ok();
	fx.auth.perms[WD_REQ_LOCATION_HIST].allowed = false;
	expect_action_err(WD_ERR_TYPE_NOT_ALLOWED, 2);
}

/* Two authorisations: the task is checked against the one it names. */
static void
test_task_uses_its_authorisation(void **state)
{
	(void)state;
	fx.req.auths[1] = fx.req.auths[0];
	fx.req.auths[1].action_id = 2;
	fx.req.auths[1].urgent = true;
	fx.req.nauths = 2;
	fx.req.tasks[0].action_id = 3;
	expect_ok();
	fx.req.tasks[0].auth_index = 1;
	expect_action_err(WD_ERR_ORDER_REQUIRED, 3);
}

/* Who you are, whom you wrote to, when, then each action. */
static void
test_rule_order(void **state)
{
	(void)state;
	fx.off.suspended = true;
	strcpy(fx.req.sender_id, "FGJCDMX");
	strcpy(fx.req.receiver_id, "OTHER");
	fx.req.timestamp_us = NOW - DAY_US;
	fx.req.auths[0].valid_until_us = NOW - 1;
	fx.req.tasks[0].window_start_us = OLDEST - 1;
	expect_msg_err(WD_ERR_OFFICIAL_SUSPENDED);
	fx.off.suspended = false;
	expect_msg_err(WD_ERR_SENDER_MISMATCH);
	strcpy(fx.req.sender_id, "FGR");
	expect_msg_err(WD_ERR_WRONG_RECEIVER);
	strcpy(fx.req.receiver_id, "MXCARRIER");
	expect_msg_err(WD_ERR_CLOCK_SKEW);
	fx.req.timestamp_us = NOW;
	expect_action_err(WD_ERR_AUTH_NOT_VALID, AUTH_ACTION);
	fx.req.auths[0].valid_until_us = NOW;
	expect_action_err(WD_ERR_WINDOW_RETENTION, TASK_ACTION);
	fx.req.tasks[0].window_start_us = OLDEST;
	expect_ok();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup(f, setup)
		T(test_baseline_accepted),
		T(test_each_type_accepted),
		T(test_official_unknown),
		T(test_official_auditor_refused),
		T(test_official_suspended),
		T(test_official_not_yet_valid),
		T(test_official_expired),
		T(test_sender_mismatch),
		T(test_wrong_receiver),
		T(test_authorisation_owner_mismatch),
		T(test_task_owner_mismatch),
		T(test_clock_skew_past),
		T(test_clock_skew_future),
		T(test_clock_skew_configured),
		T(test_type_not_allowed),
		T(test_type_not_allowed_interception),
		T(test_judicial_order_required),
		T(test_urgent_order_allowed),
		T(test_no_order_needed),
		T(test_authorisation_not_yet_valid),
		T(test_authorisation_expired),
		T(test_authorisation_action_id),
		T(test_ratify_deadline_value),
		T(test_urgent_inside_deadline),
		T(test_urgent_past_deadline),
		T(test_retention_window_start),
		T(test_retention_configured),
		T(test_window_end_future),
		T(test_observed_time),
		T(test_interception_window),
		T(test_preservation_max),
		T(test_task_not_linked),
		T(test_second_task_charged),
		T(test_task_uses_its_authorisation),
		T(test_rule_order),
#undef T
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
