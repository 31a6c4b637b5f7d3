/*
 * fuzz_x1 — libFuzzer target for x1_parse() (src/warrantd/x1.c): a network
 * element's answer to an X1 request, the bytes the gateway reads from an
 * element it does not control. The first byte picks the operation the
 * answer is read as (every one the gateway sends); the rest is the body.
 * The request it answers has fixed identifiers, which the seeds in
 * tests/fuzz/corpus-x1 (answers of tests/x1/nesim.py) carry. Besides
 * sanitizer reports, broken promises abort:
 *
 *  - an answer read is for the transaction asked, and either an error
 *    with a printable text, or what the operation's answer must carry;
 *  - tasks an element reports are at most X1_HELD_MAX, with distinct
 *    UUIDs, and GetTaskDetails names the XID asked;
 *  - a refused body leaves a printable reason and nothing allocated.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hi1.h"
#include "x1.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_x1: broken promise: %s (line %d)\n",\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_TXID	"00000000-0000-4000-8000-000000000000"
#define FUZZ_ID		"11111111-1111-4111-8111-111111111111"

static bool
printable(const char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 init;
	struct x1_msg		 m = { 0 };
	struct x1_answer	 a;
	char			 why[256];

	if (!init) {
		hi1_init();
		init = 1;
	}
	if (size < 1)
		return 0;
	m.op = (enum x1_op)(data[0] % X1_OP__COUNT);
	m.admf = "MXCARRIER";
	m.ne = "a";
	m.id = FUZZ_ID;
	snprintf(m.txid, sizeof(m.txid), "%s", FUZZ_TXID);
	why[0] = '\0';
	if (x1_parse(&m, (const char *)data + 1, size - 1, &a, why,
	    sizeof(why)) == -1) {
		CHECK(why[0] != '\0' && printable(why));
		CHECK(a.held == NULL && a.dids == NULL);
		return 0;
	}
	CHECK(a.op == m.op);
	if (a.code != -1)	/* X1TopLevelErrorResponse names none */
		CHECK(strcmp(a.txid, FUZZ_TXID) == 0);
	if (a.error)
		CHECK(printable(a.text));
	CHECK(a.nheld <= X1_HELD_MAX && a.ndids <= X1_HELD_MAX);
	for (size_t i = 0; i < a.nheld; i++) {
		CHECK(strlen(a.held[i].xid) == X1_UUID_LEN);
		for (size_t k = i + 1; k < a.nheld; k++)
			CHECK(strcmp(a.held[i].xid, a.held[k].xid) != 0);
	}
	if (m.op == X1_GET_TASK && !a.error)
		CHECK(a.nheld == 1 && strcmp(a.held[0].xid, FUZZ_ID) == 0);
	x1_answer_free(&a);
	return 0;
}
