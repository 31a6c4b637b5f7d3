/*
 * ctl_receive — `warrantctl receive`, a small HI-1 DELIVER endpoint for
 * authorities without a system of their own (docs/warrantctl.md):
 *  - ctl_receive.c: the command line, the mutual-TLS listener, one bounded
 *    HTTP/1.1 exchange per connection, deadlines, signals;
 *  - ctl_deliver.c: what one DELIVER message does to the output directory
 *    (checksums verified, parts and notifications stored durably and
 *    idempotently) and the HI-1 answer, one outcome per action.
 */
#ifndef WD_CTL_RECEIVE_H
#define WD_CTL_RECEIVE_H

#include <stddef.h>
#include <stdio.h>

struct hi1_schema;

/* `warrantctl receive ...`: argv[0] is "receive". Returns the exit code. */
int	ctl_receive_main(int argc, char *argv[]);

struct ctl_store {
	int		 dirfd;		/* the output directory */
	const char	*dir;		/* its name, for messages */
	const char	*authority;	/* accept only for this one; NULL: any */
	FILE		*out;		/* one line per part or notification */
	unsigned	 stored;	/* parts and notifications written */
	unsigned	 again;		/* delivered again, already stored */
	unsigned	 refused;	/* actions or messages refused */
};

/*
 * One DELIVER body from the carrier: parsed and validated, every checksum
 * verified, each part and notification stored (temporary name, fsync,
 * rename, fsync of the directory) before it is acknowledged. Returns the
 * HI-1 answer (malloc'd, *len bytes) with its HTTP status in *status, or
 * NULL if no answer could be built (then answer 500).
 */
char	*ctl_deliver(struct ctl_store *, const struct hi1_schema *,
	    const char *body, size_t len, int *status, size_t *outlen);

#endif
