/*
 * auditapi — read-only access to the journal for registered auditors, over
 * the same mutual-TLS listener as intake:
 *   GET /journal/checkpoint   the newest signed checkpoint (C2SP signed note)
 *   GET /journal/proof?seq=N  an RFC 9162 inclusion proof of record N in the
 *                             newest checkpoint, in warrant-audit's format
 *                             (verify it with `warrant-audit check-proof`)
 * Only certificates registered with the auditor role get an answer (the
 * edge refuses the others by its route table, routes.c);
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
#include "auditapi.h"
#include "server.h"

static void
auditapi_send_checkpoint(struct conn *c)
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
 * The edge's route table (routes.c) sends only auditors in force here,
 * with the request counted busy: each handler releases it once, on the
 * loop thread, before its answer. A proof is answered later, from its
 * worker's result (auditapi_proof.c).
 */
void
auditapi_checkpoint(struct conn *c, char *body, size_t len)
{
	(void)len;
	free(body);
	c->close_after = c->close_after || !c->req.keep_alive;
	if (conn_release_if_dead(c))
		return;
	auditapi_send_checkpoint(c);
}

void
auditapi_unknown(struct conn *c, char *body, size_t len)
{
	(void)len;
	free(body);
	c->close_after = c->close_after || !c->req.keep_alive;
	if (conn_release_if_dead(c))
		return;
	conn_respond_text(c, 404, "unknown journal resource\n");
}
