/*
 * fuzz_backend_frame — libFuzzer target for the back-end frame decoder, the
 * code that reads a back end's untrusted bytes (src/warrantd/backend_frame.c). The
 * input is a byte stream as a connection would deliver it: frames are
 * decoded one after another, as the read callback does, until the decoder
 * needs more or fails. Every decoded Envelope is re-encoded and decoded
 * again (what it accepted must survive its own encoder: the gateway
 * re-serializes records for their digest) and each record is put through
 * the digest's canonical encoding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend_frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
roundtrip(const Warrant__Backend__Envelope *env)
{
	Warrant__Backend__Envelope	*again;
	char				 why[160];
	uint8_t				*buf, *canon = NULL;
	size_t				 len, used, clen = 0, cap = 0, i;

	if ((buf = backend_frame_encode(env, &len)) != NULL) {
		if (backend_frame_decode(buf, len, &again, &used, why,
		    sizeof(why)) !=
		    BACKEND_FRAME_OK || used != len)
			abort();	/* accepted once, refused re-encoded */
		backend_frame_free(again);
		free(buf);
	}
	if (env->body_case != WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK)
		return;
	for (i = 0; i < env->records_chunk->n_records; i++)
		if (backend_frame_canonical(&env->records_chunk->records[i]->base,
		    &canon, &clen, &cap) == -1)
			break;
	free(canon);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Warrant__Backend__Envelope	*env;
	char				 why[160];
	size_t				 used;

	while (size > 0) {
		if (backend_frame_decode(data, size, &env, &used, why, sizeof(why)) !=
		    BACKEND_FRAME_OK)
			break;
		if (used == 0 || used > size)
			abort();
		roundtrip(env);
		backend_frame_free(env);
		data += used;
		size -= used;
	}
	return 0;
}
