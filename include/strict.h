/*
 * strict — OpenSSH's StrictModes for warrantd (issue 14 section 6): before a
 * file or directory is trusted, it and every directory above it must be
 * safe from other users. Whoever can write the configuration, the registry,
 * a CA bundle or a CRL decides who may ask for interceptions; whoever can
 * write the state or journal directory can replace the journal; a key owned
 * by another user is that user's key. Each refusal names the path, what is
 * wrong with it, and the command that fixes it.
 */
#ifndef WD_STRICT_H
#define WD_STRICT_H

#include <stddef.h>
#include <sys/stat.h>

enum strict_kind {
	STRICT_CONF,	/* configuration, registry, certificates, CAs, CRLs:
			   owned by root or the service user, not writable
			   by group or others */
	STRICT_KEY,	/* private and secret keys: owned by the service
			   user, no access for group or others */
	STRICT_DIR	/* state and journal directories: owned by the
			   service user, not writable by group or others */
};

/*
 * 0 if path may be trusted as kind; -1 with the reason in why otherwise.
 * st, if not NULL, is what fstat() said of the file already open (so the
 * file checked is the file read). Every directory above path (resolved)
 * must be owned by root or the service user and not writable by group or
 * others, unless sticky (/tmp: others cannot replace what is ours).
 */
int	strict_check(const char *path, const struct stat *st, enum strict_kind,
	    char *why, size_t len);
/* The same, logged (log_warnx); -1 if refused. */
int	strict_check_log(const char *path, enum strict_kind);

#endif
