/*
 * answer_stream — see answer_stream.h. One cursor over the message:
 * the text between cuts is copied into the output as it comes, each cut
 * is filled from its reader one chunk at a time, its base64 written
 * straight into space reserved in the output buffer (no copy of the data
 * but the decryption's own).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "answer_stream.h"
#include "log.h"
#include "results.h"
#include "wd_b64.h"

struct astream {
	struct hi1_pieces	 pc;
	size_t			 total;		/* bytes of the answer */
	size_t			 sent;		/* bytes given to the output */
	size_t			 at;		/* of pc.text, given */
	size_t			 cut;		/* the cut being filled, or next */
	bool			 in_cut;
	uint64_t		 got;		/* bytes of the cut's data read */
	struct wd_b64		 b64;
	void			(*release)(void *);
	void			*arg;
};

struct astream *
astream_new(struct hi1_pieces *pc, void (*release)(void *), void *arg)
{
	struct astream	*s;
	size_t		 total = pc->len;

	for (size_t i = 0; i < pc->ncut; i++) {
		if (pc->cut_src[i] == NULL || pc->cut[i] > pc->len ||
		    (i > 0 && pc->cut[i] < pc->cut[i - 1]) ||
		    pc->cut_len[i] != WD_B64_LEN(pc->cut_bytes[i])) {
			log_warnx("%s: cut %zu is not a streamed part", __func__, i);
			return NULL;
		}
		total += pc->cut_len[i];
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	s->pc = *pc;
	pc->text = NULL;
	s->total = total;
	s->release = release;
	s->arg = arg;
	return s;
}

size_t
astream_length(const struct astream *s)
{
	return s->total;
}

/* The text up to the next cut (or the end). */
static int
astream_text(struct astream *s, struct evbuffer *out, size_t *added)
{
	size_t stop = s->cut < s->pc.ncut ? s->pc.cut[s->cut] : s->pc.len;

	if (stop > s->at) {
		if (evbuffer_add(out, s->pc.text + s->at, stop - s->at) == -1)
			return -1;
		*added += stop - s->at;
		s->sent += stop - s->at;
		s->at = stop;
	}
	return 0;
}

/*
 * The next chunk of the cut's part, as base64; the last one only once the
 * part's end (its SHA-256) is authenticated, with the padding.
 */
static int
astream_chunk(struct astream *s, struct evbuffer *out, size_t *added)
{
	struct results_reader	*rd = (struct results_reader *)
				    s->pc.cut_src[s->cut];
	uint64_t		 want = s->pc.cut_bytes[s->cut];
	const uint8_t		*data, *none;
	size_t			 n, k, nn;
	bool			 last;
	struct evbuffer_iovec	 iov;

	if (results_read(rd, &data, &n) != 1 || n > want - s->got) {
		log_warnx("answer: part %zu cannot be read whole after %llu "
		    "bytes", s->cut + 1, (unsigned long long)s->got);
		return -1;
	}
	s->got += n;
	if ((last = results_reader_at_end(rd))) {
		if (s->got != want || results_read(rd, &none, &nn) != 0) {
			log_warnx("answer: part %zu fails its end check",
			    s->cut + 1);
			return -1;
		}
	}
	if (evbuffer_reserve_space(out, (ev_ssize_t)WD_B64_UPDATE_MAX(n) + 4,
	    &iov, 1) < 1)
		return -1;
	k = wd_b64_update(&s->b64, iov.iov_base, data, n);
	if (last)
		k += wd_b64_final(&s->b64, (char *)iov.iov_base + k);
	iov.iov_len = k;
	if (evbuffer_commit_space(out, &iov, 1) == -1)
		return -1;
	*added += k;
	s->sent += k;
	if (last) {
		s->in_cut = false;
		s->cut++;
	}
	return 0;
}

int
astream_fill(struct astream *s, struct evbuffer *out, size_t want)
{
	size_t added = 0;

	while (added < want) {
		if (!s->in_cut) {
			if (astream_text(s, out, &added) == -1)
				return -1;
			if (s->cut == s->pc.ncut)
				break;
			s->in_cut = true;
			s->got = 0;
			wd_b64_init(&s->b64);
			continue;
		}
		if (astream_chunk(s, out, &added) == -1)
			return -1;
	}
	if (s->cut < s->pc.ncut || s->at < s->pc.len)
		return 1;
	if (s->sent != s->total) {
		log_warnx("answer: %zu bytes made of the %zu announced", s->sent,
		    s->total);
		return -1;
	}
	return 0;
}

void
astream_free(struct astream *s)
{
	if (s == NULL)
		return;
	if (s->release != NULL)
		s->release(s->arg);
	free(s->pc.text);
	free(s);
}
