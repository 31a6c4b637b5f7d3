/*
 * edge — the bookkeeping behind the connection edge's budgets, without any
 * I/O so that the policy can be unit-tested. Connections are grouped by a
 * key (the source address before the TLS handshake, the certificate's
 * identity after it) and kept in each group oldest first, so the server can
 * ask at once how many a source holds, which of them is the oldest, and
 * which is the oldest connection of the source holding the most (the one
 * to shed when every handshake slot is taken). Also the rate limit of log
 * lines about strangers. The server owns the connections and what is done
 * to them (src/warrantd/server.c, "admission").
 */
#ifndef WD_EDGE_H
#define WD_EDGE_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define EDGE_KEY_MAX	64	/* bytes of a key: an official's id at most */
#define EDGE_COUNT_MAX	1000	/* counts above this rank together */

struct edge_key {
	size_t	len;
	uint8_t	b[EDGE_KEY_MAX];
};

struct edge_group;
struct edge_table;

/* Embedded in what is counted (a connection): in one group at a time. */
struct edge_member {
	struct edge_group		*group;		/* NULL: in none */
	TAILQ_ENTRY(edge_member)	 entry;		/* in its group, oldest first */
	TAILQ_ENTRY(edge_member)	 all;		/* in the table, oldest first */
};

/* seed keys the hash: chains cannot be aimed at by choosing addresses. */
struct edge_table	*edge_table_new(uint64_t seed);
void			 edge_table_free(struct edge_table *);	/* empty */
/* Join the key's group as its newest member; -1 only out of memory. */
int			 edge_join(struct edge_table *, const struct edge_key *,
			    struct edge_member *);
void			 edge_leave(struct edge_table *, struct edge_member *);
unsigned		 edge_count(const struct edge_table *, const struct edge_key *);
size_t			 edge_members(const struct edge_table *);
/* The oldest member of the key's group, or NULL. */
struct edge_member	*edge_oldest(const struct edge_table *, const struct edge_key *);
/*
 * The one to shed: the oldest member of a group with the most members, or
 * when no group holds more than one, the oldest member of all (so that a
 * newcomer is never shed before those that came earlier). NULL if empty.
 */
struct edge_member	*edge_greediest(struct edge_table *);

/*
 * The key of a peer address: an IPv4 address, or the /64 of an IPv6 one
 * (one host is given a whole /64, and its other addresses are free to it).
 * An IPv4-mapped IPv6 address is its IPv4 address.
 */
void	edge_key_addr(struct edge_key *, const struct sockaddr *);
void	edge_key_str(struct edge_key *, const char *);	/* first 64 bytes */

/* At most per_s lines a second pass; the others are counted. */
struct edge_rate {
	time_t		window;
	unsigned	in_window;
	uint64_t	held;		/* not logged since the last edge_rate_take */
	uint64_t	held_total;	/* since start */
};

bool		edge_rate_allow(struct edge_rate *, time_t now, unsigned per_s);
uint64_t	edge_rate_take(struct edge_rate *);	/* held, and reset it */

#endif
