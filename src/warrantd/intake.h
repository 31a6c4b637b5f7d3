/*
 * intake.h — the HI-1 request pipeline (intake.c): what the program and the
 * edge's route table (routes.c) call. The edge itself never calls it: it
 * reaches it through server_hooks.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stddef.h>

#include "journal.pb-c.h"
#include "wd.h"

struct conn;
struct server;

int	intake_recover(struct server *);		/* replay the journal */
/* POST /hi1, an edge handler: owns body. */
void	intake_request(struct conn *, char *body, size_t len);
void	intake_tls_refused(struct server *, const struct conn *);
void	intake_record_event(struct server *, int event, const char *detail);
/* The journal's names for request and identifier types. */
Warrant__RequestType	 intake_pb_reqtype(enum wd_reqtype);
Warrant__IdentifierType	 intake_pb_idtype(enum wd_idtype);

#endif
