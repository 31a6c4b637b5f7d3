/*
 * desk_routes.h — the shape of the desk listener's route table and its
 * matcher (desk_routes.c); the table itself is the desk's (desk.c,
 * desk_routes[]). The same shape as the authorities' listener's
 * (struct edge_route, server.h): read top to bottom, the first entry whose
 * path matches under the request's method wins; a path no entry has is 404,
 * one only under other methods 405 (with the Allow the table gives).
 * Pure: no I/O, no state, unit-tested (tests/unit/test_desk.c).
 */
#ifndef WD_DESK_ROUTES_H
#define WD_DESK_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "desk.h"

struct desk_route;
typedef void	(*desk_handler)(struct desk *, const struct desk_request *,
		    const struct desk_route *, desk_reply_cb, void *arg);

#define DESK_ROLE(role)	(1u << (role))	/* enum wd_role (conf.h) */

struct desk_route {
	enum http_method	 method;
	const char		*path;
	bool			 prefix;	/* path is a prefix (ends in '/') */
	unsigned		 roles;		/* DESK_ROLE bits; 0: anyone */
	bool			 body;		/* the request carries one */
	desk_handler		 fn;
};

/* 0 and *out: the route; 404: no entry has path; 405: only other methods. */
int		 desk_route_find(const struct desk_route *, size_t n,
		    enum http_method, const char *path,
		    const struct desk_route **out);
/* The methods entries have for path, for an Allow header ("GET", "POST",
 * "GET, POST"); NULL when none has it. */
const char	*desk_route_allow(const struct desk_route *, size_t n,
		    const char *path);
/* The roles any entry admits (a caller with none of them learns nothing of
 * the table: 403 for every path). */
unsigned	 desk_route_roles(const struct desk_route *, size_t n);

#endif
