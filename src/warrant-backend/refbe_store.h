/*
 * refbe_store — the reference back end's SQLite store: schema, indexes and every
 * query warrant-backend answers. One struct refbe_store per worker thread (an
 * SQLite connection is used by one thread at a time); the event loop never
 * touches it. Answers are filled into protobuf-c structs whose strings live
 * in fixed buffers of the answer struct, so that nothing outlives a call.
 */
#ifndef REFBE_STORE_H
#define REFBE_STORE_H

#include <stdint.h>

#include <sqlite3.h>

#include "backend.pb-c.h"

struct refbe_store;

/* A failed lookup: code is a WARRANT__BACKEND__ERROR_CODE__* value. */
struct refbe_store_err {
	int	code;
	char	msg[160];
};

struct refbe_store_meta {
	int64_t		data_start_us;	/* first instant covered by the data */
	int64_t		data_end_us;	/* end (exclusive) of the data */
	uint64_t	subscribers;
};

struct refbe_store_sub {
	Warrant__Backend__Subscriber	sub;
	Warrant__Backend__Address	addr;
	char	given[96], first[64], second[64], curp[24], rfc[16];
	char	street[128], extno[16], intno[16], colonia[96], municipality[96];
	char	cp[8], msisdn[16], imsi[16], imei[16], actdate[16];
};

struct refbe_store_loc {
	Warrant__Backend__Location	loc;
	Warrant__Backend__Cell		cell;
	char	mnc[8];
};

/* One row of a records answer, ready to serialize. */
struct refbe_store_rec {
	Warrant__Backend__Record		rec;
	Warrant__Backend__CommRecord		comm;
	Warrant__Backend__LocationRecord	loc;
	Warrant__Backend__Cell			cell1, cell2;
	char	mnc1[8], mnc2[8], a[24], b[48], imsi[16], imei[16];
	char	priv_ip[48], pub_ip[48];
};

struct refbe_store_ack {
	int64_t		until_us;
	uint64_t	records_held;
};

struct refbe_store	*refbe_store_open(const char *path, unsigned retention_days);
void		 refbe_store_close(struct refbe_store *);
int		 refbe_store_meta(struct refbe_store *, struct refbe_store_meta *);

int	refbe_store_subscriber(struct refbe_store *, const Warrant__Backend__Identifier *,
	    int64_t at_us, struct refbe_store_sub *, struct refbe_store_err *);
int	refbe_store_location(struct refbe_store *, const Warrant__Backend__Identifier *,
	    int64_t now_us, struct refbe_store_loc *, struct refbe_store_err *);
/*
 * Records: begin binds the window query (after the retention checks), next
 * steps it one row at a time (1 row, 0 end, -1 error), end resets it. Only
 * one records query per refbe_store at a time.
 */
int	refbe_store_records_begin(struct refbe_store *, Warrant__Backend__RecordsKind,
	    const Warrant__Backend__Identifier *, int64_t start_us, int64_t end_us,
	    int64_t now_us, struct refbe_store_err *);
int	refbe_store_records_next(struct refbe_store *, struct refbe_store_rec *, struct refbe_store_err *);
void	refbe_store_records_end(struct refbe_store *);
int	refbe_store_preserve(struct refbe_store *, Warrant__Backend__PreservationAction,
	    const Warrant__Backend__Identifier *, int64_t until_us,
	    const char *reference, int64_t now_us, struct refbe_store_ack *,
	    struct refbe_store_err *);

/* Schema: tables first, indexes after a bulk load (refbe_gen). */
int		 refbe_store_schema_tables(sqlite3 *);
int		 refbe_store_schema_indexes(sqlite3 *);
/* The queries, for EXPLAIN QUERY PLAN checks (NULL past the last). */
const char	*refbe_store_query_sql(unsigned i);

/* Identifier text <-> the integers the schema stores. */
int		 refbe_store_digits(const char *s, size_t n, int64_t *out);

#endif
