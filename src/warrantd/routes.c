/*
 * routes.c — owns warrantd's route table of the authorities' and auditors'
 * listener, read top to bottom (server.h says how it is matched), and the
 * hooks by which the edge records in the journal. It sits above the edge,
 * the intake and the auditors' API and wires them: the edge calls none of
 * them by name, so no include cycle runs between them
 * (tests/doc/include-cycles.sh). The desk listener's routes are the
 * desk's (desk.c).
 */
#include "config.h"

#include "auditapi.h"
#include "conf.h"
#include "intake.h"
#include "routes.h"
#include "server.h"

#define AUDITORS	EDGE_ROLE(WD_ROLE_AUDITOR)

static const struct edge_route routes_authorities[] = {
	/* method	path			roles	 body	handler */
	/* Any caller: the intake refuses strangers and other roles itself,
	 * with HI-1 error codes, journaled (docs/errors.md). */
	{ HTTP_POST,	"/hi1",			0,	  true,	intake_request,
	    "" },
	{ HTTP_GET,	"/journal/checkpoint",	AUDITORS, false, auditapi_checkpoint,
	    "auditors" },
	{ HTTP_GET,	"/journal/proof",	AUDITORS, false, auditapi_proof,
	    "auditors" },
	{ HTTP_GET,	"/journal/",		AUDITORS, false, auditapi_unknown,
	    "auditors" },
};

const struct server_hooks routes_hooks = {
	routes_authorities,
	sizeof(routes_authorities) / sizeof(routes_authorities[0]),
	intake_tls_refused,
	intake_record_event,
};
