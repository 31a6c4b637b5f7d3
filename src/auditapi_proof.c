/*
 * auditapi_proof — GET /journal/proof?seq=N. Being written; until then the
 * resource answers 501 and auditors use `warrant-audit prove` on a copy of
 * the journal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"

void
auditapi_proof(struct conn *c)
{
	static const char msg[] = "proofs over the network are not available yet; "
	    "use warrant-audit prove on a copy of the journal\n";
	char *body = strdup(msg);

	conn_respond_type(c, 501, "text/plain; charset=utf-8", body,
	    body ? strlen(body) : 0);
}
