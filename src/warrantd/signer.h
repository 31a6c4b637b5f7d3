/*
 * signer — the journal's checkpoint signer (issue 12): a child that
 * warrantd forks at start-up, before any thread exists and before any key
 * is loaded. The child alone reads the Ed25519 signing key, then confines
 * itself (seccomp: read and write on its socket, memory, exit; not
 * dumpable, no new privileges) and signs the checkpoint bodies it builds
 * itself from a tree size and a root, for its one origin. warrantd holds
 * only the public key and verifies every note it gets back.
 *
 * A signer that dies is not replaced (warrantd cannot fork once its
 * threads run): checkpoints stop, it is logged once, journal_status()
 * (STATUS=, /healthz) says so; records are still appended and the first
 * checkpoint after a restart covers them (docs/architecture.md).
 *
 * The wire, over a socketpair: frames of a 4-byte big-endian length and
 * that many bytes, every length checked before it is read.
 *	child -> warrantd once:	'K' || 32-byte Ed25519 public key
 *	warrantd -> child:	'S' || tree size (8, big-endian) || root (32)
 *	child -> warrantd:	'N' || the signed note (1..CHECKPOINT_NOTE_MAX)
 */
#ifndef WD_SIGNER_H
#define WD_SIGNER_H

#include <sys/types.h>

struct event_base;
struct journal_signer;
struct signer;

/*
 * Fork the signer for the key at key_path and the checkpoint origin, and
 * wait for its public key. NULL (logged) if it did not start.
 */
struct signer	*signer_start(const char *key_path, const char *origin);
/* Watch for its exit on base (a pidfd): said at once, not at the next checkpoint. */
int		 signer_attach(struct signer *, struct event_base *base);
/* The journal's view: sign, broken, the public key (valid until signer_free). */
void		 signer_journal(struct signer *, struct journal_signer *);
pid_t		 signer_pid(const struct signer *);
/* After journal_close: the child sees its socket close and exits; reaped. */
void		 signer_free(struct signer *);

#endif
