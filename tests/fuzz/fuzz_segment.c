/*
 * fuzz_segment — libFuzzer target for the journal's segment reader, the
 * code that reads untrusted bytes from disk at every start and in
 * warrant-audit. Input: one flag byte (is this the last segment, where a
 * torn tail is tolerated) and a segment image. The seq expected is taken
 * from the image's own header so that the fuzzer gets past it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "journal_segment.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
visit(const struct jseg_rec *r, void *arg)
{
	size_t	*n = arg;

	/* Touch what a visitor would read. */
	*n += r->len + strlen(r->rec->carrier_ref) + r->rec->n_tasks;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jseg_scan	s;
	char			name[JSEG_NAME_LEN];
	uint64_t		first = 0;
	size_t			n = 0;
	int			i;

	if (size < 1)
		return 0;
	if (size >= 1 + 20)
		for (i = 0; i < 8; i++)
			first = first << 8 | data[1 + 12 + i];
	jseg_name(name, first);
	jseg_scan_init(&s, 4096);
	s.next_seq = first;
	s.fn = visit;
	s.arg = &n;
	if (jseg_parse(name, data + 1, size - 1, data[0] & 1, &s) == 0 &&
	    s.torn && s.torn_off + s.torn_len != size - 1)
		__builtin_trap();	/* a torn tail always runs to EOF */
	return 0;
}
