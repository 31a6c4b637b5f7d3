/*
 * audit_seal — warrant-audit's side of the sealed fields (include/seal.h):
 * opening a record with the audit private key for show, and search, which
 * finds the records naming one identifier or order through the blind index
 * and opens only those.
 */
#ifndef WD_AUDIT_SEAL_H
#define WD_AUDIT_SEAL_H

#include <stdint.h>

#include "journal_segment.h"
#include "seal.h"

/* The auditor's keys: the private key, and the journal's index keys. */
struct seal	*audit_seal_load(const char *keyfile, const char *dir);

/*
 * The record of jr with its sealed fields opened: a fresh copy (free with
 * warrant__record__free_unpacked) or NULL, with *why saying why not (no
 * key, or it does not open). why points into a static buffer.
 */
Warrant__Record	*audit_seal_open(const struct seal *, const struct jseg_rec *jr,
		    const char **why);

/* "TYPE:VALUE" (msisdn, imsi, imei, ip) to an IdentifierType; -1 if bad. */
int		 audit_seal_parse_identifier(const char *s, unsigned *kind,
		    const char **value);

struct audit_search {
	unsigned	 kind;		/* IdentifierType or SEAL_KIND_* */
	const char	*value;
	int64_t		 since, until;	/* [since, until) */
	int		 json;
};

/* search: exit status as warrant-audit's (0 found or not, 1 damage, 2 error). */
int		 audit_search(const char *dir, const char *keyfile,
		    const struct audit_search *q);

#endif
