/*
 * parser_msg — the parser workers' messages (proto/parser.proto) as C: a
 * ParseJob out, a ParseAnswer back, between struct hi1_request / struct
 * wd_error and frames of the shared codec (lib/codec.c). Pure functions.
 *
 * The answer comes from a worker that parsed untrusted XML and may have
 * been taken over by it, so reading it (parser_msg_answer_read) checks
 * everything the C structure relies on: every string fits its array, every
 * count its array, every enumeration its range, every index its array, the
 * refusal's code is one a parser can give. A request that passes is no
 * more dangerous to intake than one hi1_parse_request() filled itself.
 */
#ifndef WD_PARSER_MSG_H
#define WD_PARSER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "hi1.h"
#include "parser.pb-c.h"

/* A body may be up to 64 MiB (body-max's ceiling) plus its framing. */
#define PARSER_JOB_MAX		(64 * 1024 * 1024 + 1024)
#define PARSER_ANSWER_MAX	(1024 * 1024)

extern const struct codec_spec parser_job_spec;	/* warrantd -> worker */
extern const struct codec_spec parser_answer_spec;	/* worker -> warrantd */

/* The frame of a job: malloc'ed, *flen its length; NULL if out of memory. */
uint8_t	*parser_msg_job(uint64_t id, const char *body, size_t len,
	    size_t max_body, size_t *flen);

/*
 * The frame of an answer: err NULL if req is parsed and valid; with err,
 * req is sent only if err->has_action (what was extracted). NULL if out of
 * memory.
 */
uint8_t	*parser_msg_answer(uint64_t id, const struct hi1_request *req,
	    const struct wd_error *err, size_t *flen);

/*
 * Read a decoded ParseAnswer into *req and *err: 0 with *parsed true (req
 * valid, err cleared) or false (err set; req filled if err->has_action).
 * -1 (why) if the worker sent anything a parser could not have produced;
 * *req and *err are then all zero. *req must be all zero on entry (fresh
 * from calloc, as intake's is): it is 172 KiB, not cleared per request.
 */
int	parser_msg_answer_read(const Warrant__Parser__ParseAnswer *,
	    struct hi1_request *req, struct wd_error *err, bool *parsed,
	    char *why, size_t whylen);

#endif
