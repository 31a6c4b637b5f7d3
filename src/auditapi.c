/*
 * auditapi — read-only access to the journal for registered auditors, over
 * the same mutual-TLS listener as intake:
 *   GET /journal/checkpoint   the newest signed checkpoint (C2SP signed note)
 *   GET /journal/proof?seq=N  an RFC 9162 inclusion proof of record N in the
 *                             newest checkpoint, in warrant-audit's format
 *                             (verify it with `warrant-audit check-proof`)
 * Only certificates registered with the auditor role get an answer;
 * officials of authorities and unknown callers get 403. Auditors never see
 * request bodies or results: the journal holds none.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "journal.h"
#include "log.h"
#include "server.h"

/* Auditors only, and only while their registration is in force. */
static int
auditapi_allowed(struct conn *c)
{
	const struct wd_official *o = c->official;
	time_t now = time(NULL);

	if (c->refusal.failed || o == NULL || o->role != WD_ROLE_AUDITOR ||
	    conf_official_status(o, now) != WD_OFFICIAL_OK) {
		log_warnx("conn %llu from %s: journal access refused to %s",
		    (unsigned long long)c->id, c->peer,
		    o ? o->id : c->fingerprint);
		return 0;
	}
	return 1;
}

static void
auditapi_checkpoint(struct conn *c)
{
	uint64_t	 size = 0;
	char		*note = journal_checkpoint_note(c->srv->journal, &size);

	if (note == NULL) {
		conn_respond_text(c, 404, "no checkpoint has been signed yet\n");
		return;
	}
	log_info("conn %llu from %s: auditor %s fetched checkpoint %llu",
	    (unsigned long long)c->id, c->peer, c->official->id,
	    (unsigned long long)size);
	conn_respond_type(c, 200, "text/plain; charset=utf-8", note, strlen(note));
}

/*
 * conn_route() counted the request busy: exactly one conn_release_if_dead()
 * must follow, on the loop thread, before the answer. A proof is answered
 * later, from its worker's result, so auditapi_proof() takes the request
 * still busy and releases it itself; every other answer is immediate.
 */
void
auditapi_request(struct conn *c)
{
	int	allowed;

	c->close_after = c->close_after || !c->req.keep_alive;
	allowed = auditapi_allowed(c);
	if (allowed && strcmp(c->req.path, "/journal/proof") == 0) {
		auditapi_proof(c);
		return;
	}
	if (conn_release_if_dead(c))
		return;
	if (!allowed) {
		conn_respond_text(c, 403, "journal access is for registered auditors\n");
		return;
	}
	if (strcmp(c->req.path, "/journal/checkpoint") == 0)
		auditapi_checkpoint(c);
	else
		conn_respond_text(c, 404, "unknown journal resource\n");
}
