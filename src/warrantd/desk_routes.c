/*
 * desk_routes.c — owns the matching of the desk listener's route table
 * (desk_routes.h says how); the table and its handlers are desk.c's.
 */
#include "config.h"

#include <string.h>

#include "desk_routes.h"

static bool
desk_route_matches(const struct desk_route *rt, const char *path)
{
	return rt->prefix ? strncmp(path, rt->path, strlen(rt->path)) == 0 :
	    strcmp(path, rt->path) == 0;
}

int
desk_route_find(const struct desk_route *t, size_t n, enum http_method m,
    const char *path, const struct desk_route **out)
{
	int	 status = 404;

	for (size_t i = 0; i < n; i++) {
		if (!desk_route_matches(&t[i], path))
			continue;
		if (t[i].method == m) {
			*out = &t[i];
			return 0;
		}
		status = 405;
	}
	return status;
}

const char *
desk_route_allow(const struct desk_route *t, size_t n, const char *path)
{
	bool	 get = false, post = false;

	for (size_t i = 0; i < n; i++) {
		if (!desk_route_matches(&t[i], path))
			continue;
		get |= t[i].method == HTTP_GET;
		post |= t[i].method == HTTP_POST;
	}
	if (get && post)
		return "GET, POST";
	return get ? "GET" : post ? "POST" : NULL;
}

unsigned
desk_route_roles(const struct desk_route *t, size_t n)
{
	unsigned	 roles = 0;

	for (size_t i = 0; i < n; i++)
		roles |= t[i].roles;
	return roles;
}
