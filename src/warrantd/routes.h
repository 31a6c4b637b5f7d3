/*
 * routes.h — warrantd's edge wiring (routes.c): the authorities' and
 * auditors' listener's route table and the journal hooks, handed to the
 * edge by the program.
 */
#ifndef ROUTES_H
#define ROUTES_H

struct server_hooks;

extern const struct server_hooks	 routes_hooks;

#endif
