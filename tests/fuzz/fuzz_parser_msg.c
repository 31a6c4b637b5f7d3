/*
 * fuzz_parser_msg — libFuzzer target for what warrantd reads from a parser
 * worker (src/warrantd/parsers.c): a byte stream of frames (lib/codec.c), each a
 * ParseAnswer read into a struct hi1_request (lib/parser_msg.c), as if
 * from a worker a hostile body took over. Whatever is accepted must
 * survive its own encoder: re-encoded and read again, the same request and
 * refusal come back, byte for byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parser_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct hi1_request	req, again;

static void
roundtrip(const struct wd_error *err, bool parsed)
{
	struct wd_error		 err2;
	ProtobufCMessage	*m;
	uint8_t			*frame;
	size_t			 flen, used;
	char			 why[160];
	bool			 parsed2;

	if ((frame = parser_msg_answer(1, &req, parsed ? NULL : err, &flen)) == NULL)
		return;
	if (codec_decode(&parser_answer_spec, frame, flen, &m, &used, why,
	    sizeof(why)) != CODEC_OK)
		abort();	/* accepted once, refused re-encoded */
	memset(&again, 0, sizeof(again));
	if (parser_msg_answer_read((Warrant__Parser__ParseAnswer *)m, &again,
	    &err2, &parsed2, why, sizeof(why)) == -1 || parsed2 != parsed)
		abort();
	if ((parsed || err->has_action) && memcmp(&req, &again, sizeof(req)) != 0)
		abort();
	if (!parsed && memcmp(err, &err2, sizeof(err2)) != 0)
		abort();
	codec_free(m);
	free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wd_error		 err;
	ProtobufCMessage	*m;
	size_t			 used;
	char			 why[160];
	bool			 parsed;

	while (size > 0) {
		if (codec_decode(&parser_answer_spec, data, size, &m, &used, why,
		    sizeof(why)) != CODEC_OK)
			break;
		if (used == 0 || used > size)
			abort();
		memset(&req, 0, sizeof(req));
		if (parser_msg_answer_read((Warrant__Parser__ParseAnswer *)m, &req,
		    &err, &parsed, why, sizeof(why)) == 0)
			roundtrip(&err, parsed);
		codec_free(m);
		data += used;
		size -= used;
	}
	return 0;
}
