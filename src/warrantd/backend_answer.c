/*
 * backend_answer — what is done with a back end's answer to a call
 * (src/warrantd/backend.c makes the calls): typed errors mapped to
 * outcomes, small answers decoded and stored (or held for the caller,
 * backend_query.hold), streamed records re-serialized, digested and
 * written chunk by chunk into the results store, then made durable by the
 * finisher thread before the call's callback runs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "backend_impl.h"
#include "conf.h"
#include "log.h"
#include "strict.h"
#include "seal.h"
#include "wd_tls_policy.h"
#include "wd_wake.h"

/* --- answers ----------------------------------------------------------------- */

void
backend_finisher_submit(struct backend_call *call)
{
	struct backend_set	*set = call->set;

	call->state = CALL_FINISHING;
	pthread_mutex_lock(&set->fin_lock);
	TAILQ_INSERT_TAIL(&set->fin_queue, call, entry);
	pthread_cond_signal(&set->fin_cond);
	pthread_mutex_unlock(&set->fin_lock);
}

/* Map a typed error to what happens to the call. */
static void
call_error(struct backend_call *call, const Warrant__Backend__Error *e)
{
	struct backend	*be = call->be;
	char		 why[BACKEND_DETAIL_MAX], msg[96];
	size_t		 i;
	enum backend_outcome final;

	/* A final message: the request is over at the back end. */
	backend_call_detach(call);
	for (i = 0; e->message[i] != '\0' && i + 1 < sizeof(msg); i++)
		msg[i] = (e->message[i] >= 0x20 && e->message[i] < 0x7f) ?
		    e->message[i] : '?';
	msg[i] = '\0';
	/* Its words go to the journal and the log: no identifier in them. */
	seal_mask_identifiers(msg);
	snprintf(why, sizeof(why), "back end: %s%s%s",
	    backend_frame_error_name(e->code), msg[0] ? ": " : "", msg);
	switch (e->code) {
	case WARRANT__BACKEND__ERROR_CODE__ERROR_TEMPORARILY_UNAVAILABLE:
		backend_call_attempt_failed(call, BACKEND_UNAVAILABLE, true, true,
		    e->retry_after_ms, why);
		return;
	case WARRANT__BACKEND__ERROR_CODE__ERROR_INTERNAL:
		backend_call_attempt_failed(call, BACKEND_FAILED, false, true, 0, why);
		return;
	case WARRANT__BACKEND__ERROR_CODE__ERROR_CANCELLED:
		/* We did not ask: treat as a lost attempt. */
		backend_call_attempt_failed(call, BACKEND_UNAVAILABLE, true, true, 0, why);
		return;
	case WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_FOUND:
		final = BACKEND_NOT_FOUND;
		break;
	case WARRANT__BACKEND__ERROR_CODE__ERROR_NOT_RETAINED:
		final = BACKEND_NOT_RETAINED;
		break;
	case WARRANT__BACKEND__ERROR_CODE__ERROR_OUTSIDE_RETENTION:
		final = BACKEND_OUTSIDE_RETENTION;
		break;
	case WARRANT__BACKEND__ERROR_CODE__ERROR_UNSUPPORTED:
		final = BACKEND_UNSUPPORTED;
		break;
	default:
		final = BACKEND_MALFORMED;
		break;
	}
	/* An answer, even "no": the back end is healthy. */
	backend_breaker_success(be);
	backend_call_complete(call, final, "%s", why);
}

/* Results name of a call: "<carrier ref>.<action>.<identifier>". */
static void
call_result_name(struct backend_call *call)
{
	snprintf(call->result_name, sizeof(call->result_name), "%s.%u.%u",
	    call->q.carrier_ref, call->q.action_id, call->q.id_index);
}

int
backend_call_writer(struct backend_call *call)
{
	if (call->w != NULL)
		return 0;
	if (call->set->results == NULL)
		return -1;
	call_result_name(call);
	call->w = results_create(call->set->results, call->result_name);
	return call->w == NULL ? -1 : 0;
}

/* Subscriber, Location, PreservationAck: one record, stored. Owns env. */
static int
call_small_answer(struct backend_call *call, Warrant__Backend__Envelope *env,
    const ProtobufCMessage *msg, const char **why)
{
	struct backend_set	*set = call->set;
	size_t			 len = 0;

	if (call->state != CALL_SENT) {
		backend_frame_free(env);
		*why = "an answer after records";
		return -1;
	}
	backend_call_detach(call);
	evtimer_del(call->timer);
	backend_breaker_success(call->be);
	call->answer = env;
	call->count = 1;
	if (backend_frame_canonical(msg, &set->scratch, &len,
	    &set->scratch_cap) == -1) {
		backend_call_complete(call, BACKEND_STORAGE, "out of memory");
		return 0;
	}
	EVP_Digest(set->scratch, len, call->sha256, NULL, EVP_sha256(), NULL);
	if (call->q.hold) {
		/* The caller keeps it (carried in the acceptance): no file. */
		if ((call->held = malloc(len)) == NULL) {
			backend_call_complete(call, BACKEND_STORAGE, "out of memory");
			return 0;
		}
		memcpy(call->held, set->scratch, len);
		call->held_len = len;
		backend_call_complete(call, BACKEND_OK, "answered");
		return 0;
	}
	if (set->results == NULL) {
		backend_call_complete(call, BACKEND_OK, "answered");
		return 0;
	}
	if (backend_call_writer(call) == -1 ||
	    results_append(call->w, set->scratch, len) == -1) {
		backend_call_complete(call, BACKEND_STORAGE, "results store: cannot "
		    "write");
		return 0;
	}
	backend_finisher_submit(call);
	return 0;
}

static bool
call_answer_fits(const struct backend_call *call,
    const Warrant__Backend__Envelope *env)
{
	switch (env->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER:
		return call->q.type == WD_REQ_SUBSCRIBER;
	case WARRANT__BACKEND__ENVELOPE__BODY_LOCATION:
		return call->q.type == WD_REQ_LOCATION_RT;
	case WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION_ACK:
		return call->q.type == WD_REQ_PRESERVATION &&
		    env->preservation_ack->action == (call->q.release ?
		    WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_UNFREEZE :
		    WARRANT__BACKEND__PRESERVATION_ACTION__PRESERVATION_FREEZE);
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK:
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_SUMMARY:
		return backend_call_is_streamed(call);
	default:
		return false;
	}
}

/* One chunk: check, re-serialize each record (the digest's form), append. */
static int
call_chunk(struct backend_call *call, const Warrant__Backend__RecordsChunk *ch,
    const char **why)
{
	struct backend_set	*set = call->set;
	Warrant__Backend__Record__KindCase want;
	size_t			 i, len = 0;

	if (ch->seq != call->next_seq) {
		*why = "records chunk out of sequence";
		return -1;
	}
	if (ch->n_records > call->conn->max_chunk) {
		*why = "more records in a chunk than the hello announced";
		return -1;
	}
	want = call->q.type == WD_REQ_RECORDS ?
	    WARRANT__BACKEND__RECORD__KIND_COMM :
	    WARRANT__BACKEND__RECORD__KIND_LOCATION;
	for (i = 0; i < ch->n_records; i++) {
		if (ch->records[i]->kind_case != want) {
			*why = "a record of the wrong kind";
			return -1;
		}
		if (backend_frame_canonical(&ch->records[i]->base, &set->scratch,
		    &len, &set->scratch_cap) == -1) {
			*why = "records chunk too large";
			return -1;
		}
	}
	call->next_seq++;
	call->count += ch->n_records;
	call->state = CALL_STREAMING;
	evtimer_del(call->timer);
	backend_call_arm_deadline(call);	/* progress: the deadline starts again */
	if (len == 0)
		return 0;
	if (backend_call_writer(call) == -1 ||
	    results_append(call->w, set->scratch, len) == -1)
		backend_call_complete(call, BACKEND_STORAGE, "results store: cannot "
		    "write");
	return 0;
}

static int
call_summary(struct backend_call *call, const Warrant__Backend__RecordsSummary *s)
{
	uint8_t	sha[32];

	backend_call_detach(call);
	evtimer_del(call->timer);
	if (backend_call_writer(call) == -1) {
		backend_call_complete(call, BACKEND_STORAGE, "results store: cannot "
		    "write");
		return 0;
	}
	results_writer_sha256(call->w, sha);
	if (s->count != call->count || s->chunks != call->next_seq ||
	    CRYPTO_memcmp(s->sha256.data, sha, 32) != 0) {
		char	why[BACKEND_DETAIL_MAX];

		snprintf(why, sizeof(why), "stream does not match its summary "
		    "(%llu records in %u chunks received, %llu in %u announced%s)",
		    (unsigned long long)call->count, call->next_seq,
		    (unsigned long long)s->count, s->chunks,
		    CRYPTO_memcmp(s->sha256.data, sha, 32) ? ", digest differs" :
		    "");
		backend_call_attempt_failed(call, BACKEND_INTEGRITY, true, true, 0, why);
		return 0;
	}
	backend_breaker_success(call->be);
	memcpy(call->sha256, sha, sizeof(sha));
	backend_finisher_submit(call);
	return 0;
}

int
backend_call_frame(struct backend_call *call, Warrant__Backend__Envelope *env,
    const char **why)
{
	int	rc = 0;

	if (env->body_case == WARRANT__BACKEND__ENVELOPE__BODY_ERROR) {
		call_error(call, env->error);
		backend_frame_free(env);
		return 0;
	}
	if (!call_answer_fits(call, env)) {
		*why = "an answer of the wrong kind for its request";
		backend_frame_free(env);
		return -1;
	}
	switch (env->body_case) {
	case WARRANT__BACKEND__ENVELOPE__BODY_SUBSCRIBER:
		return call_small_answer(call, env, &env->subscriber->base, why);
	case WARRANT__BACKEND__ENVELOPE__BODY_LOCATION:
		return call_small_answer(call, env, &env->location->base, why);
	case WARRANT__BACKEND__ENVELOPE__BODY_PRESERVATION_ACK:
		return call_small_answer(call, env, &env->preservation_ack->base,
		    why);
	case WARRANT__BACKEND__ENVELOPE__BODY_RECORDS_CHUNK:
		rc = call_chunk(call, env->records_chunk, why);
		break;
	default:
		rc = call_summary(call, env->records_summary);
		break;
	}
	backend_frame_free(env);
	return rc;
}

/* --- the finisher thread ------------------------------------------------------ */

static void *
finisher_main(void *arg)
{
	struct backend_set	*set = arg;
	struct backend_call	*call;

	pthread_mutex_lock(&set->fin_lock);
	for (;;) {
		while (TAILQ_EMPTY(&set->fin_queue) && !set->fin_stop)
			pthread_cond_wait(&set->fin_cond, &set->fin_lock);
		if ((call = TAILQ_FIRST(&set->fin_queue)) == NULL)
			break;
		TAILQ_REMOVE(&set->fin_queue, call, entry);
		pthread_mutex_unlock(&set->fin_lock);
		call->fin_rc = results_finish(call->w, call->count);
		call->w = NULL;
		pthread_mutex_lock(&set->fin_lock);
		TAILQ_INSERT_TAIL(&set->fin_done, call, entry);
		if (wd_wake_signal(set->fin_wake) == -1)
			log_warn("backend: finisher wake-up");
	}
	pthread_mutex_unlock(&set->fin_lock);
	return NULL;
}

static void
finisher_collect(struct backend_set *set)
{
	struct backend_calls	 done;
	struct backend_call	*call;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&set->fin_lock);
	TAILQ_CONCAT(&done, &set->fin_done, entry);
	pthread_mutex_unlock(&set->fin_lock);
	while ((call = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, call, entry);
		call->state = CALL_NEW;
		if (call->fin_rc == 0) {
			call->stored = true;
			backend_call_complete(call, BACKEND_OK, "answered");
		} else
			backend_call_complete(call, BACKEND_STORAGE, "results store: "
			    "cannot make the result durable");
	}
}

static void
finisher_wakecb(void *arg)
{
	finisher_collect(arg);
}

int
backend_finisher_start(struct backend_set *set)
{
	if ((set->fin_wake = wd_wake_new(set->base, finisher_wakecb, set,
	    0)) == NULL)
		return -1;
	if (pthread_create(&set->fin_thread, NULL, finisher_main, set) != 0)
		return -1;
	set->fin_started = true;
	return 0;
}

void
backend_finisher_stop(struct backend_set *set)
{
	if (set->fin_started) {
		pthread_mutex_lock(&set->fin_lock);
		set->fin_stop = true;
		pthread_cond_signal(&set->fin_cond);
		pthread_mutex_unlock(&set->fin_lock);
		pthread_join(set->fin_thread, NULL);
		set->fin_started = false;
		finisher_collect(set);
	}
	wd_wake_free(set->fin_wake);
	set->fin_wake = NULL;
}
