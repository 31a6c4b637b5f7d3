/*
 * bgen — the deterministic synthetic Mexican dataset for the reference back
 * end (warrant-backend --generate) and its canonical digest (--digest).
 */
#ifndef BGEN_H
#define BGEN_H

#include <stddef.h>
#include <stdint.h>

struct bgen_params {
	const char	*path;		/* database to create (must not exist) */
	uint64_t	 subscribers;
	unsigned	 days;
	uint64_t	 seed;
	int64_t		 end_us;	/* end of the data, exclusive */
};

int		bgen_generate(const struct bgen_params *);
/* SHA-256 over a typed dump of every table in rowid order. */
int		bgen_digest(const char *path, uint8_t out[32]);

/* Helpers exposed for the tests. */
uint64_t	bgen_splitmix64(uint64_t *state);
int		bgen_curp_valid(const char *curp);

#endif
