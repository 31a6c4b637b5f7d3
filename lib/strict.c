/*
 * strict — see include/strict.h. The service user is whoever the daemon
 * runs as (geteuid()): warrantd under systemd, the tester in tests.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "strict.h"

static const char *
strict_user(void)
{
	static char	 name[64];
	struct passwd	*pw;

	if ((pw = getpwuid(geteuid())) != NULL)
		snprintf(name, sizeof(name), "%s", pw->pw_name);
	else
		snprintf(name, sizeof(name), "%u", (unsigned)geteuid());
	return name;
}

/* A directory above a trusted path. */
static int
strict_parent(const char *dir, const char *path, char *why, size_t len)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		snprintf(why, len, "strict modes: %s (above %s): %s", dir, path,
		    strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, len, "strict modes: directory %s (above %s) is "
		    "owned by uid %u, not by root or %s; run: chown root %s",
		    dir, path, (unsigned)st.st_uid, strict_user(), dir);
		return -1;
	}
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		snprintf(why, len, "strict modes: directory %s (above %s) is "
		    "writable by group or others (mode %04o); run: chmod go-w %s",
		    dir, path, (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

static int
strict_parents(const char *path, char *why, size_t len)
{
	char	 real[PATH_MAX], *slash;

	if (realpath(path, real) == NULL) {
		snprintf(why, len, "strict modes: %s: %s", path, strerror(errno));
		return -1;
	}
	while ((slash = strrchr(real, '/')) != NULL) {
		if (slash == real) {
			real[1] = '\0';
			return strict_parent(real, path, why, len);
		}
		*slash = '\0';
		if (strict_parent(real, path, why, len) == -1)
			return -1;
	}
	return 0;
}

static int
strict_self(const char *path, const struct stat *st, enum strict_kind kind,
    char *why, size_t len)
{
	const char	*what = kind == STRICT_DIR ? "directory" :
			    kind == STRICT_KEY ? "key" : "file";
	unsigned	 mode = (unsigned)(st->st_mode & 07777);
	bool		 root_ok = kind == STRICT_CONF;

	if (st->st_uid != geteuid() && !(root_ok && st->st_uid == 0)) {
		snprintf(why, len, "strict modes: %s %s is owned by uid %u, not "
		    "by %s%s; run: chown %s %s", what, path, (unsigned)st->st_uid,
		    root_ok ? "root or " : "", strict_user(),
		    root_ok ? "root" : strict_user(), path);
		return -1;
	}
	if (kind == STRICT_KEY && (st->st_mode & 077)) {
		snprintf(why, len, "strict modes: key %s is readable by group or "
		    "others (mode %04o); run: chmod 600 %s", path, mode, path);
		return -1;
	}
	if (st->st_mode & 022) {
		snprintf(why, len, "strict modes: %s %s is writable by group or "
		    "others (mode %04o); run: chmod go-w %s", what, path, mode,
		    path);
		return -1;
	}
	return 0;
}

int
strict_check(const char *path, const struct stat *st, enum strict_kind kind,
    char *why, size_t len)
{
	struct stat	own;

	if (st == NULL) {
		if (stat(path, &own) == -1) {
			snprintf(why, len, "%s: %s", path, strerror(errno));
			return -1;
		}
		st = &own;
	}
	if (kind == STRICT_DIR ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		snprintf(why, len, "%s: not a %s", path, kind == STRICT_DIR ?
		    "directory" : "regular file");
		return -1;
	}
	if (strict_self(path, st, kind, why, len) == -1)
		return -1;
	return strict_parents(path, why, len);
}

int
strict_check_log(const char *path, enum strict_kind kind)
{
	char why[PATH_MAX * 2 + 256];

	if (strict_check(path, NULL, kind, why, sizeof(why)) == 0)
		return 0;
	log_warnx("%s", why);
	return -1;
}
