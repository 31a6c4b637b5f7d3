/*
 * test_edge — the bookkeeping of the connection edge's budgets
 * (src/warrantd/edge.c): groups counted by key, members oldest first, the oldest
 * member of the largest group (what the server sheds when every handshake
 * slot is taken), keys of addresses (IPv4, IPv6 by /64, mapped IPv4), a
 * table grown well past its first size, and the log rate limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"

struct item {
	int			id;
	struct edge_member	m;
};

#define item_of(mp)	((struct item *)(void *)((char *)(mp) - \
			    offsetof(struct item, m)))

static void
key4(struct edge_key *k, const char *addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	sin.sin_port = htons((uint16_t)(rand() & 0xffff));
	edge_key_addr(k, (struct sockaddr *)&sin);
}

static void
key6(struct edge_key *k, const char *addr)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	edge_key_addr(k, (struct sockaddr *)&sin6);
}

static int
same_key(const struct edge_key *a, const struct edge_key *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static void
test_count_and_oldest(void **state)
{
	struct edge_table	*t = edge_table_new(42);
	struct edge_key		 a, b;
	struct item		 it[5];

	(void)state;
	assert_non_null(t);
	key4(&a, "192.0.2.1");
	key4(&b, "192.0.2.2");
	assert_int_equal(edge_count(t, &a), 0);
	assert_null(edge_oldest(t, &a));
	for (int i = 0; i < 5; i++) {
		it[i].id = i;
		it[i].m.group = NULL;
		assert_int_equal(edge_join(t, i < 3 ? &a : &b, &it[i].m), 0);
	}
	assert_int_equal(edge_count(t, &a), 3);
	assert_int_equal(edge_count(t, &b), 2);
	assert_int_equal(edge_members(t), 5);
	assert_int_equal(item_of(edge_oldest(t, &a))->id, 0);
	assert_int_equal(item_of(edge_oldest(t, &b))->id, 3);
	/* The oldest leaves: the next one is the oldest. */
	edge_leave(t, &it[0].m);
	assert_null(it[0].m.group);
	assert_int_equal(item_of(edge_oldest(t, &a))->id, 1);
	assert_int_equal(edge_count(t, &a), 2);
	/* Leaving twice is harmless. */
	edge_leave(t, &it[0].m);
	assert_int_equal(edge_members(t), 4);
	for (int i = 1; i < 5; i++)
		edge_leave(t, &it[i].m);
	assert_int_equal(edge_members(t), 0);
	assert_int_equal(edge_count(t, &a), 0);
	assert_null(edge_greediest(t));
	edge_table_free(t);
}

/* The oldest member of the group holding the most, as groups grow and shrink. */
static void
test_greediest(void **state)
{
	struct edge_table	*t = edge_table_new(7);
	struct edge_key		 k[3];
	struct item		 it[10];
	/* 0: 1 member (the oldest of all), 1: 4 members, 2: 3 members. */
	static const int	 grp[10] = { 0, 1, 2, 1, 2, 1, 2, 1, -1, -1 };

	(void)state;
	assert_non_null(t);
	key4(&k[0], "198.51.100.7");
	key4(&k[1], "203.0.113.9");
	key4(&k[2], "203.0.113.10");
	for (int i = 0; i < 8; i++) {
		it[i].id = i;
		assert_int_equal(edge_join(t, &k[grp[i]], &it[i].m), 0);
	}
	/* Not the oldest of all (0, alone at its address): the oldest of 1. */
	assert_int_equal(item_of(edge_greediest(t))->id, 1);
	edge_leave(t, &it[1].m);
	edge_leave(t, &it[3].m);
	/* 1 holds 2 now, 2 holds 3: 2's oldest. */
	assert_int_equal(item_of(edge_greediest(t))->id, 2);
	edge_leave(t, &it[2].m);
	edge_leave(t, &it[4].m);
	edge_leave(t, &it[6].m);
	/* 0 holds 1, 1 holds 2 (5 and 7). */
	assert_int_equal(item_of(edge_greediest(t))->id, 5);
	edge_leave(t, &it[5].m);
	edge_leave(t, &it[7].m);
	assert_int_equal(item_of(edge_greediest(t))->id, 0);
	edge_leave(t, &it[0].m);
	assert_null(edge_greediest(t));
	edge_table_free(t);
}

/* When every group holds one, the oldest of all goes, never a newcomer. */
static void
test_greediest_all_single(void **state)
{
	struct edge_table	*t = edge_table_new(3);
	struct edge_key		 k;
	struct item		 it[4];
	char			 addr[32];

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 10 + i);
		key4(&k, addr);
		it[i].id = i;
		assert_int_equal(edge_join(t, &k, &it[i].m), 0);
	}
	/* 1 left and came back: now the newest. */
	edge_leave(t, &it[1].m);
	key4(&k, "192.0.2.11");
	assert_int_equal(edge_join(t, &k, &it[1].m), 0);
	for (int want = 0, n = 0; n < 4; n++) {
		static const int order[] = { 0, 2, 3, 1 };

		want = order[n];
		assert_int_equal(item_of(edge_greediest(t))->id, want);
		edge_leave(t, &it[want].m);
	}
	assert_null(edge_greediest(t));
	edge_table_free(t);
}

/* Counts past EDGE_COUNT_MAX still count, and still rank first. */
static void
test_large_group(void **state)
{
	struct edge_table	*t = edge_table_new(1);
	struct edge_key		 big, small;
	size_t			 n = EDGE_COUNT_MAX + 50;
	struct item		*it = calloc(n + 1, sizeof(*it));

	(void)state;
	assert_non_null(t);
	assert_non_null(it);
	key4(&big, "10.0.0.1");
	key4(&small, "10.0.0.2");
	assert_int_equal(edge_join(t, &small, &it[n].m), 0);
	for (size_t i = 0; i < n; i++) {
		it[i].id = (int)i;
		assert_int_equal(edge_join(t, &big, &it[i].m), 0);
	}
	assert_int_equal(edge_count(t, &big), n);
	assert_int_equal(item_of(edge_greediest(t))->id, 0);
	/* While the big group holds more than one, its oldest goes first. */
	for (size_t i = 0; i + 1 < n; i++) {
		assert_int_equal(item_of(edge_greediest(t))->id, (int)i);
		edge_leave(t, &it[i].m);
	}
	edge_leave(t, &it[n - 1].m);
	assert_ptr_equal(edge_greediest(t), &it[n].m);
	edge_leave(t, &it[n].m);
	edge_table_free(t);
	free(it);
}

/* Thousands of groups: the table grows, nothing is lost or confused. */
static void
test_many_groups(void **state)
{
	struct edge_table	*t = edge_table_new(99);
	enum { N = 5000 };
	struct item		*it = calloc(2 * N, sizeof(*it));
	struct edge_key		 k;
	char			 addr[32];

	(void)state;
	assert_non_null(t);
	assert_non_null(it);
	for (int i = 0; i < 2 * N; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i % N) >> 16,
		    ((i % N) >> 8) & 0xff, (i % N) & 0xff);
		key4(&k, addr);
		it[i].id = i;
		assert_int_equal(edge_join(t, &k, &it[i].m), 0);
	}
	assert_int_equal(edge_members(t), 2 * N);
	for (int i = 0; i < N; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		key4(&k, addr);
		assert_int_equal(edge_count(t, &k), 2);
		assert_int_equal(item_of(edge_oldest(t, &k))->id, i);
	}
	for (int i = 0; i < 2 * N; i++)
		edge_leave(t, &it[i].m);
	assert_int_equal(edge_members(t), 0);
	edge_table_free(t);
	free(it);
}

static void
test_address_keys(void **state)
{
	struct edge_key a, b;

	(void)state;
	/* IPv4: the address, whatever the port. */
	key4(&a, "192.0.2.1");
	key4(&b, "192.0.2.1");
	assert_int_equal(a.len, 4);
	assert_true(same_key(&a, &b));
	key4(&b, "192.0.2.2");
	assert_false(same_key(&a, &b));
	/* IPv6: one /64 is one source. */
	key6(&a, "2001:db8:1:2::1");
	key6(&b, "2001:db8:1:2:ffff:ffff:ffff:ffff");
	assert_int_equal(a.len, 8);
	assert_true(same_key(&a, &b));
	key6(&b, "2001:db8:1:3::1");
	assert_false(same_key(&a, &b));
	/* An IPv4-mapped address is the IPv4 address. */
	key6(&a, "::ffff:192.0.2.1");
	key4(&b, "192.0.2.1");
	assert_true(same_key(&a, &b));
	/* Names: truncated, never overflowing. */
	edge_key_str(&a, "ana.lopez");
	assert_int_equal(a.len, 9);
	edge_key_str(&b, "ana.lopez");
	assert_true(same_key(&a, &b));
	edge_key_str(&b, "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789");
	assert_int_equal(b.len, EDGE_KEY_MAX);
}

static void
test_rate(void **state)
{
	struct edge_rate	r;
	int			passed = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 25; i++)
		passed += edge_rate_allow(&r, 1000, 10);
	assert_int_equal(passed, 10);
	assert_int_equal(r.held_total, 15);
	/* A new second: ten more pass; what was held is told once. */
	assert_true(edge_rate_allow(&r, 1001, 10));
	assert_int_equal(edge_rate_take(&r), 15);
	assert_int_equal(edge_rate_take(&r), 0);
	assert_int_equal(r.held_total, 15);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_oldest),
		cmocka_unit_test(test_greediest),
		cmocka_unit_test(test_greediest_all_single),
		cmocka_unit_test(test_large_group),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
