/*
 * edge — see include/edge.h. A table is a hash of groups (chained, grown by
 * doubling) plus the groups ranked by how many members they hold: one list
 * per count, so that the largest group is found without scanning and every
 * join or leave moves one group by one rank.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"

struct edge_group {
	struct edge_key			 key;
	uint64_t			 hash;
	unsigned			 n;
	TAILQ_HEAD(, edge_member)	 members;
	struct edge_group		*next;		/* hash chain */
	TAILQ_ENTRY(edge_group)		 rank;		/* in by_count[rank] */
};
TAILQ_HEAD(edge_groups, edge_group);

struct edge_table {
	uint64_t		 seed;
	struct edge_group	**buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 ngroups;
	size_t			 nmembers;
	unsigned		 top;		/* no group ranks higher */
	struct edge_groups	 by_count[EDGE_COUNT_MAX + 1];
	TAILQ_HEAD(, edge_member) all;		/* every member, oldest first */
};

#define EDGE_BUCKETS_MIN	64

static unsigned
edge_rank(unsigned n)
{
	return n > EDGE_COUNT_MAX ? EDGE_COUNT_MAX : n;
}

/* FNV-1a over the seeded key, then a 64-bit finaliser (murmur3's). */
static uint64_t
edge_hash(uint64_t seed, const struct edge_key *k)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL ^ k->len;

	for (size_t i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct edge_table *
edge_table_new(uint64_t seed)
{
	struct edge_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->buckets = calloc(EDGE_BUCKETS_MIN, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	t->seed = seed;
	t->nbuckets = EDGE_BUCKETS_MIN;
	for (size_t i = 0; i <= EDGE_COUNT_MAX; i++)
		TAILQ_INIT(&t->by_count[i]);
	TAILQ_INIT(&t->all);
	return t;
}

void
edge_table_free(struct edge_table *t)
{
	struct edge_group *g, *next;

	if (t == NULL)
		return;
	/* Members left behind are the caller's; their groups are ours. */
	for (size_t i = 0; i < t->nbuckets; i++)
		for (g = t->buckets[i]; g != NULL; g = next) {
			next = g->next;
			free(g);
		}
	free(t->buckets);
	free(t);
}

static struct edge_group *
edge_find(const struct edge_table *t, const struct edge_key *k, uint64_t h)
{
	struct edge_group *g;

	for (g = t->buckets[h & (t->nbuckets - 1)]; g != NULL; g = g->next)
		if (g->hash == h && g->key.len == k->len &&
		    memcmp(g->key.b, k->b, k->len) == 0)
			return g;
	return NULL;
}

/* More groups than twice the buckets: double them (if memory allows). */
static void
edge_grow(struct edge_table *t)
{
	struct edge_group	**nb, *g, *next;
	size_t			  n = t->nbuckets * 2;

	if (t->ngroups <= t->nbuckets * 2 || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (g = t->buckets[i]; g != NULL; g = next) {
			next = g->next;
			g->next = nb[g->hash & (n - 1)];
			nb[g->hash & (n - 1)] = g;
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

static void
edge_rerank(struct edge_table *t, struct edge_group *g, unsigned before)
{
	unsigned r = edge_rank(g->n);

	if (before > 0)
		TAILQ_REMOVE(&t->by_count[edge_rank(before)], g, rank);
	if (g->n > 0)
		TAILQ_INSERT_TAIL(&t->by_count[r], g, rank);
	if (r > t->top)
		t->top = r;
}

int
edge_join(struct edge_table *t, const struct edge_key *k, struct edge_member *m)
{
	uint64_t		 h = edge_hash(t->seed, k);
	struct edge_group	*g;

	if ((g = edge_find(t, k, h)) == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL)
			return -1;
		g->key = *k;
		g->hash = h;
		TAILQ_INIT(&g->members);
		g->next = t->buckets[h & (t->nbuckets - 1)];
		t->buckets[h & (t->nbuckets - 1)] = g;
		t->ngroups++;
		edge_grow(t);
	}
	TAILQ_INSERT_TAIL(&g->members, m, entry);
	TAILQ_INSERT_TAIL(&t->all, m, all);
	m->group = g;
	g->n++;
	t->nmembers++;
	edge_rerank(t, g, g->n - 1);
	return 0;
}

static void
edge_unlink(struct edge_table *t, struct edge_group *g)
{
	struct edge_group **p = &t->buckets[g->hash & (t->nbuckets - 1)];

	while (*p != g)
		p = &(*p)->next;
	*p = g->next;
	t->ngroups--;
	free(g);
}

void
edge_leave(struct edge_table *t, struct edge_member *m)
{
	struct edge_group *g = m->group;

	if (g == NULL)
		return;
	TAILQ_REMOVE(&g->members, m, entry);
	TAILQ_REMOVE(&t->all, m, all);
	m->group = NULL;
	g->n--;
	t->nmembers--;
	edge_rerank(t, g, g->n + 1);
	if (g->n == 0)
		edge_unlink(t, g);
}

unsigned
edge_count(const struct edge_table *t, const struct edge_key *k)
{
	struct edge_group *g = edge_find(t, k, edge_hash(t->seed, k));

	return g ? g->n : 0;
}

size_t
edge_members(const struct edge_table *t)
{
	return t->nmembers;
}

struct edge_member *
edge_oldest(const struct edge_table *t, const struct edge_key *k)
{
	struct edge_group *g = edge_find(t, k, edge_hash(t->seed, k));

	return g ? TAILQ_FIRST(&g->members) : NULL;
}

struct edge_member *
edge_greediest(struct edge_table *t)
{
	struct edge_group *g;

	while (t->top > 0 && TAILQ_EMPTY(&t->by_count[t->top]))
		t->top--;
	if (t->top <= 1)
		return TAILQ_FIRST(&t->all);
	g = TAILQ_FIRST(&t->by_count[t->top]);
	return TAILQ_FIRST(&g->members);
}

void
edge_key_addr(struct edge_key *k, const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4 = (const void *)sa;
	const struct sockaddr_in6	*s6 = (const void *)sa;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		k->len = 4;
		memcpy(k->b, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		k->len = 4;
		memcpy(k->b, s6->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		k->len = 8;
		memcpy(k->b, s6->sin6_addr.s6_addr, 8);
	}
}

void
edge_key_str(struct edge_key *k, const char *s)
{
	size_t len = strlen(s);

	memset(k, 0, sizeof(*k));
	k->len = len < EDGE_KEY_MAX ? len : EDGE_KEY_MAX;
	memcpy(k->b, s, k->len);
}

bool
edge_rate_allow(struct edge_rate *r, time_t now, unsigned per_s)
{
	if (now != r->window) {
		r->window = now;
		r->in_window = 0;
	}
	if (r->in_window >= per_s) {
		r->held++;
		r->held_total++;
		return false;
	}
	r->in_window++;
	return true;
}

uint64_t
edge_rate_take(struct edge_rate *r)
{
	uint64_t held = r->held;

	r->held = 0;
	return held;
}
