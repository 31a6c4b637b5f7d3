/*
 * fuzz_desk — libFuzzer target for the compliance desk's untrusted input
 * (src/warrantd/desk_input.c): the input's first byte picks the action whose body
 * rules apply (approve, reject, hold, release, assign, note); the rest is
 * both an action body (JSON), a query string for the queue and the
 * statistics' day (desk_date_parse). Checks what the parsers promise:
 * whatever they accept is bounded and valid.
 * Run: tests/fuzz/run.sh BUILDDIR [SECONDS].
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desk_input.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const actions[] = {
	"approve", "reject", "hold", "release", "assign", "note"
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct desk_body	 b;
	struct desk_filter	 f;
	const char		*action;
	char			*s;

	if (size < 1)
		return 0;
	action = actions[data[0] % 6];
	data++, size--;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (desk_body_parse(action, s, size, &b) == NULL) {
		if (!desk_word_ok(b.ref, sizeof(b.ref) - 1) ||
		    (b.has_task && !desk_word_ok(b.task, sizeof(b.task) - 1)) ||
		    (desk_body_text_key(action) != NULL &&
		    !desk_text_ok(b.text, DESK_TEXT_MAX)))
			abort();
	}
	/* As a query string (the HTTP parser hands over at most 511 bytes). */
	if (strlen(s) < 512 && desk_filter_parse(s, &f) == NULL) {
		if (f.limit == 0 || f.limit > DESK_QUEUE_MAX ||
		    strlen(f.identifier) > DESK_FIELD_MAX)
			abort();
	}
	/* As the statistics' day: accepted only as a day that exists. */
	if (strlen(s) < 512) {
		int y, m, d;

		if (desk_date_parse(s, &y, &m, &d) == 1 && (y < 2000 ||
		    y > 2099 || m < 1 || m > 12 || d < 1 || d > 31))
			abort();
	}
	free(s);
	return 0;
}
