/*
 * auditapi.h — the auditors' API (auditapi.c, auditapi_proof.c): read-only
 * journal access, GET /journal/checkpoint and GET /journal/proof?seq=N.
 * Edge handlers (server.h's edge_handler): the route table (routes.c) hands
 * them requests of auditors in force. They must not block the loop: proofs
 * re-read the journal's segments on a worker thread.
 */
#ifndef AUDITAPI_H
#define AUDITAPI_H

#include <stddef.h>

struct conn;

void	auditapi_checkpoint(struct conn *, char *body, size_t len);
void	auditapi_proof(struct conn *, char *body, size_t len);
/* Any other /journal/ resource: 404, saying so. */
void	auditapi_unknown(struct conn *, char *body, size_t len);

#endif
