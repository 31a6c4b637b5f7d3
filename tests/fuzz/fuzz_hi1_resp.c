/*
 * fuzz_hi1_resp — libFuzzer target for the readers of HI-1 messages that
 * are not requests to the carrier (include/hi1_parse.h), both over the
 * same untrusted bytes: hi1_parse_response() (an authority endpoint's
 * answer to a push, the carrier's answers read by warrantctl) and
 * hi1_parse_deliver() (a DELIVER as warrantctl receive reads it, base64
 * decoding included). The schema is loaded once from the source tree's
 * templates. Besides sanitizer reports, broken promises abort:
 *
 *  - a parsed response has 1 to 16 actions with distinct identifiers, or a
 *    message-level error, and terminated strings;
 *  - a parsed DELIVER has 1 to 16 actions of a DeliveryObject or a
 *    NotificationObject, each with its decoded data within 1 MiB;
 *  - what warrantctl receive answers to a parsed DELIVER (one
 *    DELIVERResponse per action, built by hi1_build_answer) reads back
 *    with hi1_parse_response() as exactly those acknowledgements.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hi1.h"
#include "hi1_object.h"
#include "hi1_parse.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_hi1_resp: broken promise: %s "	\
		    "(line %d)\n", #cond, __LINE__);			\
		abort();						\
	}								\
} while (0)

#define TERMINATED(a)	(memchr((a), '\0', sizeof(a)) != NULL)

static struct hi1_schema *
fuzz_schema(void)
{
	static struct hi1_schema	*schema;

	if (schema == NULL) {
		hi1_init();
		if ((schema = hi1_schema_load(TOP_SRCDIR "/etc/templates")) == NULL)
			abort();
	}
	return schema;
}

static void
check_response(const struct hi1_response *r)
{
	CHECK(TERMINATED(r->h.sender_id) && TERMINATED(r->h.receiver_id));
	CHECK(TERMINATED(r->error_text));
	CHECK(r->error || (r->nactions >= 1 && r->nactions <= HI1_MAX_ACTIONS));
	for (size_t i = 0; i < r->nactions; i++) {
		CHECK(TERMINATED(r->actions[i].identifier));
		CHECK(TERMINATED(r->actions[i].error_text));
		for (size_t k = 0; k < i; k++)
			CHECK(r->actions[k].action_id != r->actions[i].action_id);
	}
}

/* The receiver's acknowledgement of d, read back as push.c reads it. */
static void
check_round_trip(const struct hi1_deliver *d)
{
	struct hi1_response_header	 h = { d->h.receiver_id, d->h.sender_id,
					    d->h.transaction_id, 0 };
	struct hi1_answer		 a[HI1_MAX_ACTIONS];
	struct hi1_response		 r;
	struct wd_error			 err;
	char				*out;
	size_t				 len;

	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < d->n; i++) {
		a[i].action_id = d->items[i].action_id;
		a[i].verb = HI1_VERB_DELIVER;
		a[i].identifier = d->items[i].object_id;
	}
	CHECK((out = hi1_build_answer(&h, a, d->n, &len)) != NULL);
	if (hi1_parse_response(fuzz_schema(), out, len, &r, &err) != 0) {
		fprintf(stderr, "fuzz_hi1_resp: %s\n%s\n", err.text, out);
		abort();
	}
	CHECK(!r.error && r.nactions == d->n);
	CHECK(strcmp(r.h.sender_id, d->h.receiver_id) == 0);
	for (size_t i = 0; i < d->n; i++) {
		CHECK(r.actions[i].verb == HI1_VERB_DELIVER && !r.actions[i].error);
		CHECK(r.actions[i].action_id == d->items[i].action_id);
		CHECK(strcmp(r.actions[i].identifier, d->items[i].object_id) == 0);
	}
	free(out);
}

static void
check_deliver(const struct hi1_deliver *d)
{
	CHECK(d->n >= 1 && d->n <= HI1_MAX_ACTIONS);
	for (size_t i = 0; i < d->n; i++) {
		const struct hi1_delivered *it = &d->items[i];

		CHECK(it->kind == HI1_OBJ_DELIVERY ||
		    it->kind == HI1_OBJ_NOTIFICATION);
		CHECK(TERMINATED(it->object_id) && TERMINATED(it->delivery_id));
		CHECK(!it->has_data || (it->data.data != NULL &&
		    it->data.len >= 1 && it->data.len <= HI1_BINARY_MAX));
		CHECK(!it->has_manifest || (it->manifest.data != NULL &&
		    it->manifest.len >= 1 && it->manifest.len <= HI1_BINARY_MAX));
		CHECK(it->kind != HI1_OBJ_NOTIFICATION || (it->details != NULL &&
		    strlen(it->details) <= HI1_NOTE_MAX));
		CHECK(it->kind != HI1_OBJ_DELIVERY || it->seq >= 1);
	}
	check_round_trip(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hi1_response	 r;
	struct hi1_deliver	 d;
	struct wd_error		 err;

	if (hi1_parse_response(fuzz_schema(), (const char *)data, size, &r,
	    &err) == 0)
		check_response(&r);
	else
		CHECK(err.code != 0 && TERMINATED(err.text));
	if (hi1_parse_deliver(fuzz_schema(), (const char *)data, size, &d,
	    &err) == 0) {
		check_deliver(&d);
		hi1_deliver_free(&d);
	} else
		CHECK(err.code != 0 && d.n == 0);
	return 0;
}
