/*
 * fuzz_hi1 — libFuzzer target for the whole untrusted path of a request
 * body: hi1_parse_request() (byte checks, hardened parse, limits, schema,
 * extraction, semantics) and, when a body is accepted or refused, the
 * answers built on what was extracted: a CREATE's acceptance as intake
 * builds it (tests/unit/accepted.c, with a quick result for its first
 * task), and the refusal. The schema is loaded once from
 * the source tree's templates. Run: tests/fuzz/run.sh BUILDDIR [SECONDS].
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accepted.h"
#include "hi1.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct hi1_schema *
fuzz_schema(void)
{
	static struct hi1_schema	*schema;

	if (schema == NULL) {
		hi1_init();
		if ((schema = hi1_schema_load(TOP_SRCDIR "/etc/templates")) == NULL)
			abort();	/* a fuzzer without a schema tests nothing */
	}
	return schema;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hi1_response_header	 h;
	struct hi1_request		 req;
	struct wd_error			 err;
	char				*out;
	size_t				 len;

	if (hi1_parse_request(fuzz_schema(), (const char *)data, size, &req,
	    &err) == 0) {
		h = (struct hi1_response_header){ "MXCARRIER", req.sender_id,
		    req.transaction_id, req.timestamp_us };
		/* Only a CREATE is accepted with new objects. */
		if (req.ntasks > 0 && !req.reading && req.nupdates == 0) {
			out = test_accepted(&h, &req, "MXC-FUZZ-1",
			    req.tasks[0].action_id, "<r/>", 4, &len);
			if (out == NULL || strlen(out) != len)
				abort();
			free(out);
		}
		/* The per-action refusal of the first action, as policy would. */
		wd_error_set_action(&err, WD_ERR_TYPE_NOT_ALLOWED,
		    req.ntasks > 0 ? req.tasks[0].action_id : 0, "fuzz");
	}
	/* Whatever was extracted, refused: must always build. */
	h = (struct hi1_response_header){ "MXCARRIER", req.sender_id,
	    req.transaction_id, 0 };
	out = hi1_build_error(&h, &req, &err, &len);
	if (out == NULL || strlen(out) != len)
		abort();
	free(out);
	return 0;
}
