/*
 * accepted — for tests: the answer to an accepted CREATE as intake builds
 * it (src/warrantd/intake.c): each action's CREATEResponse, tasks with their object
 * as the store holds it after the acceptance, and optionally one task's
 * quick result as a one-part DeliveryObject.
 */
#ifndef WD_TEST_ACCEPTED_H
#define WD_TEST_ACCEPTED_H

#include <stddef.h>
#include <stdint.h>

#include "hi1.h"

/* with: the action id of the task carrying res, or UINT32_MAX for none. */
char	*test_accepted(const struct hi1_response_header *,
	    const struct hi1_request *, const char *carrier_ref, uint32_t with,
	    const char *res, size_t rlen, size_t *len);

#endif
