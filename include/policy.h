/*
 * policy — may this official, at this moment, ask for this? Checks a
 * validated struct hi1_request against the registry and the legal rules:
 * sender is the official's authority, addressed to us, timestamp within the
 * clock skew, request types allowed for the authority, judicial order where
 * one is required (or an urgent order still inside its ratification
 * deadline), authorisation in force, time windows inside the retention
 * period. Pure: no I/O, "now" is a parameter, so every rule is unit-tested.
 */
#ifndef WD_POLICY_H
#define WD_POLICY_H

#include <stdint.h>

#include "conf.h"
#include "hi1.h"

int	policy_check_official(const struct wd_official *, int64_t now_us,
	    struct wd_error *);
int	policy_check_request(const struct wd_conf *, const struct wd_official *,
	    const struct hi1_request *, int64_t now_us, struct wd_error *);
/* Deadline for judicial ratification of an urgent order (µs). */
int64_t	policy_ratify_deadline(const struct wd_conf *, const struct hi1_authorisation *);

#endif
