/*
 * ref — the carrier references given to authorities (issue 14 section 5):
 * MXC-YYYYMMDD-HHMMSSRRRRRRRRRRRRRRRR, the UTC second of the acceptance
 * followed by 16 random decimal digits. Sorting references sorts them by
 * time (to the second) for the desk; nothing in one tells how many others
 * were given before or since, as a counter did (MXC-YYYYMMDD-NNNNNNNN let
 * an authority count every other authority's requests between two of its
 * own); and a reference cannot be guessed from another. Unique: within one
 * second the generator remembers what it gave and draws again on a repeat.
 * Older references keep their form; nothing parses the number in them.
 */
#ifndef WD_REF_H
#define WD_REF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define REF_PREFIX	"MXC-"
#define REF_LEN		35		/* MXC-YYYYMMDD-HHMMSS + 16 digits */
#define REF_RANDOM	16
#define REF_RECENT	4096		/* remembered per second */

struct ref_gen {
	time_t		second;			/* of the references below */
	unsigned	n;
	uint64_t	recent[REF_RECENT];	/* their random parts */
};

/*
 * A new reference for an acceptance at now into out (at least REF_LEN + 1
 * bytes). -1 if the system's random generator fails (logged).
 */
int	ref_new(struct ref_gen *, time_t now, char *out, size_t len);

#endif
