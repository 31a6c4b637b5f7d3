/*
 * journal_test — hooks for the journal's unit tests only: count the
 * fdatasync calls (to prove group commit) and replace the writer's I/O
 * calls (to inject EIO/ENOSPC). Not for use by the daemon.
 */
#ifndef WD_JOURNAL_TEST_H
#define WD_JOURNAL_TEST_H

#include <sys/types.h>
#include <sys/uio.h>
#include <stdint.h>

struct journal;

typedef ssize_t	(*journal_pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int	(*journal_fdatasync_fn)(int);

/* fdatasync calls made by the writer thread since open. */
uint64_t	journal_stat_syncs(const struct journal *);
/* Replace the I/O functions (NULL restores the real ones); process-wide. */
void		journal_test_set_io(journal_pwritev_fn, journal_fdatasync_fn);
/* How often the unhealthy writer probes for recovery (default 5000 ms). */
void		journal_test_set_probe_ms(unsigned);

#endif
