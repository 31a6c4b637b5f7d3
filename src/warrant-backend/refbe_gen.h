/*
 * refbe_gen — the deterministic synthetic Mexican dataset for the reference back
 * end (warrant-backend --generate) and its canonical digest (--digest).
 */
#ifndef REFBE_GEN_H
#define REFBE_GEN_H

#include <stddef.h>
#include <stdint.h>

struct refbe_gen_params {
	const char	*path;		/* database to create (must not exist) */
	uint64_t	 subscribers;
	unsigned	 days;
	uint64_t	 seed;
	int64_t		 end_us;	/* end of the data, exclusive */
};

int		refbe_gen_generate(const struct refbe_gen_params *);
/* SHA-256 over a typed dump of every table in rowid order. */
int		refbe_gen_digest(const char *path, uint8_t out[32]);

/* Helpers exposed for the tests. */
uint64_t	refbe_gen_splitmix64(uint64_t *state);
int		refbe_gen_curp_valid(const char *curp);

#endif
