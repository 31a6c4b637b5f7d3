/*
 * answer_stream — an HI-1 answer whose parts' data is streamed from the
 * results store into the connection, chunk by chunk, instead of built
 * whole in memory (issue 9, bench/lifecycle/NOTES.md): the message's text
 * up to a part's Data, then for each chunk of the stored part: read,
 * authenticated (AES-GCM) and encoded as base64 straight into the output
 * buffer, then the text after it, and so on. The server asks for more as
 * its output drains (server.c, conn_respond_stream). A pushed part's
 * DELIVER is streamed the same way (lifecycle_deliver.c lc_push_part, push.c
 * push_send_body): there, an answer cut short is a failed DELIVER.
 *
 * Memory per answer, whatever the size of its parts: one chunk of each
 * open part (RESULTS_STREAM_CHUNK, 48 KiB, for parts packaged since the
 * streaming; a part stored whole is one chunk of up to 1 MiB), the
 * message's text without the data (a few KiB), and what the server lets
 * the output buffer hold (server.c: refilled below 128 KiB, to 256 KiB).
 *
 * What is sent: a chunk only once it has passed its authentication; the
 * last chunk of a part only once the SHA-256 of the whole part has been
 * checked against the seal (which the lifecycle checked against the
 * part's recorded digest, given as the Checksum). A chunk that fails, or a
 * part whose size differs from the one announced, ends the answer there:
 * the connection is closed before Content-Length is reached, so no client
 * can take a partial or altered part for a whole one. The first chunk is
 * authenticated before the answer begins (lifecycle_deliver.c, lc_open_part):
 * what fails there is answered as an error.
 */
#ifndef WD_ANSWER_STREAM_H
#define WD_ANSWER_STREAM_H

#include <stddef.h>

#include <event2/buffer.h>

#include "hi1_object.h"

struct astream;

/*
 * Takes pc's text; each cut's source is a struct results_reader (its
 * owner, freed by release(arg) with the answer: the readers must outlive
 * it). NULL on failure: then nothing is taken (release is not called).
 */
struct astream	*astream_new(struct hi1_pieces *pc, void (*release)(void *),
		    void *arg);
/* Bytes of the whole answer (its Content-Length). */
size_t		 astream_length(const struct astream *);
/*
 * About want more bytes into out: 1 if there is more to come, 0 once the
 * answer is whole, -1 if it cannot be completed (logged: close the
 * connection without sending anything more).
 */
int		 astream_fill(struct astream *, struct evbuffer *out, size_t want);
/* Frees what is left, the readers too (release); NULL is fine. */
void		 astream_free(struct astream *);

#endif
