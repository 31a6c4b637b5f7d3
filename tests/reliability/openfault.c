/*
 * openfault — LD_PRELOAD shim for tests/reliability/diskfaults.sh: makes
 * the *creation* of files fail (open/openat with O_CREAT) below one
 * directory, for names with a given prefix, while a flag file exists. It
 * complements tests/faultfs/faultinject.so (write and sync faults, loaded
 * beside it): a full disk or a dying one refuses new files too, and the
 * journal creates files at two points — a new segment at rollover and a
 * checkpoint's temporary file — which write and sync faults never reach
 * first.
 *
 * Environment (read once, at load):
 *	OPENFAULT_DIR	the directory (files directly in it or below)
 *	OPENFAULT_FLAG	while this file exists the fault is on; it may hold
 *			"ERRNO [PREFIX]": ENOSPC (default), EIO, EDQUOT,
 *			EROFS or EMFILE, and only names starting with PREFIX
 *			("seg-", ".checkpoint") fail; read at every creation
 *	OPENFAULT_MATCH	the default PREFIX; every name if unset
 *	OPENFAULT_LOG	optional: one line per injected failure
 *
 * Test code only. Under ASan the ASan runtime must come first in
 * LD_PRELOAD (then this shim, then libc).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int	(*openat_fn)(int, const char *, int, ...);

static openat_fn	real_openat, real_openat64;
static char		of_dir[PATH_MAX], of_flag[PATH_MAX], of_log[PATH_MAX];
static char		of_match[NAME_MAX + 1];
static size_t		of_dirlen;

static void
of_copy_env(char *dst, size_t len, const char *name)
{
	const char *v = getenv(name);

	if (v != NULL && strlen(v) < len)
		memcpy(dst, v, strlen(v) + 1);
}

__attribute__((constructor)) static void
of_init(void)
{
	char dir[PATH_MAX];

	real_openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
	real_openat64 = (openat_fn)dlsym(RTLD_NEXT, "openat64");
	of_copy_env(dir, sizeof(dir), "OPENFAULT_DIR");
	/* Compare resolved paths: the daemon may name the directory otherwise. */
	if (getenv("OPENFAULT_DIR") == NULL || realpath(dir, of_dir) == NULL)
		of_dir[0] = '\0';
	of_dirlen = strlen(of_dir);
	of_copy_env(of_flag, sizeof(of_flag), "OPENFAULT_FLAG");
	of_copy_env(of_log, sizeof(of_log), "OPENFAULT_LOG");
	of_copy_env(of_match, sizeof(of_match), "OPENFAULT_MATCH");
}

/*
 * The flag file's "ERRNO [PREFIX]": the errno to fail with and the name
 * prefix it applies to (default OPENFAULT_MATCH), so that a test can move
 * the fault from one point to another without restarting the daemon.
 */
static int
of_flag_read(char *prefix, size_t len)
{
	static const struct { const char *name; int val; } names[] = {
		{ "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT },
		{ "EROFS", EROFS }, { "EMFILE", EMFILE },
	};
	char	buf[128], word[64], pfx[64];
	ssize_t	n;
	int	fd, err = ENOSPC;

	if (strlen(of_match) < len)
		memcpy(prefix, of_match, strlen(of_match) + 1);
	if ((fd = real_openat(AT_FDCWD, of_flag, O_RDONLY | O_CLOEXEC)) == -1)
		return err;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return err;
	buf[n] = '\0';
	word[0] = '\0';
	if (sscanf(buf, "%63s %63s", word, pfx) == 2 && strlen(pfx) < len)
		memcpy(prefix, pfx, strlen(pfx) + 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(word, names[i].name) == 0)
			err = names[i].val;
	return err;
}

/* The errno to fail creating (dirfd, path) with, or 0. */
static int
of_check(int dirfd, const char *path, int flags)
{
	char		 full[PATH_MAX], parent[PATH_MAX], res[PATH_MAX];
	char		 prefix[NAME_MAX + 1], link[64];
	const char	*base, *slash;
	ssize_t		 n;
	int		 err;

	if (!(flags & O_CREAT) || of_dirlen == 0 || of_flag[0] == '\0' ||
	    access(of_flag, F_OK) == -1)
		return 0;
	if (path[0] == '/')
		snprintf(full, sizeof(full), "%s", path);
	else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(parent, sizeof(parent)) == NULL)
				return 0;
		} else {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			if ((n = readlink(link, parent, sizeof(parent) - 1)) <= 0)
				return 0;
			parent[n] = '\0';
		}
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", parent, path) >=
		    sizeof(full))
			return 0;
	}
	if ((slash = strrchr(full, '/')) == NULL)
		return 0;
	base = slash + 1;
	err = of_flag_read(prefix, sizeof(prefix));
	if (prefix[0] != '\0' && strncmp(base, prefix, strlen(prefix)) != 0)
		return 0;
	memcpy(parent, full, (size_t)(slash - full));
	parent[slash - full] = '\0';
	if (realpath(parent[0] ? parent : "/", res) == NULL)
		return 0;
	if (strncmp(res, of_dir, of_dirlen) != 0 ||
	    (res[of_dirlen] != '\0' && res[of_dirlen] != '/'))
		return 0;
	return err;
}

static void
of_note(const char *path, int err)
{
	char	line[PATH_MAX + 64];
	int	fd, len;

	if (of_log[0] == '\0')
		return;
	len = snprintf(line, sizeof(line), "open %s: %s\n", path, strerror(err));
	if (len <= 0 || (size_t)len >= sizeof(line))
		return;
	if ((fd = real_openat(AT_FDCWD, of_log, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) == -1)
		return;
	if (write(fd, line, (size_t)len) == -1) {
		/* Only a witness: nothing to do. */
	}
	close(fd);
}

/* Resolved on first use too: another constructor may open files first. */
static int
of_open(int is64, int dirfd, const char *path, int flags, mode_t mode)
{
	openat_fn	fn;
	int		e;

	if (real_openat == NULL)
		real_openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
	if (real_openat64 == NULL)
		real_openat64 = (openat_fn)dlsym(RTLD_NEXT, "openat64");
	fn = is64 ? real_openat64 : real_openat;
	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((e = of_check(dirfd, path, flags)) != 0) {
		of_note(path, e);
		errno = e;
		return -1;
	}
	return fn(dirfd, path, flags, mode);
}

static mode_t
of_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

int
open(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = of_mode(flags, ap);
	va_end(ap);
	return of_open(0, AT_FDCWD, path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = of_mode(flags, ap);
	va_end(ap);
	return of_open(1, AT_FDCWD, path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = of_mode(flags, ap);
	va_end(ap);
	return of_open(0, dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode;

	va_start(ap, flags);
	mode = of_mode(flags, ap);
	va_end(ap);
	return of_open(1, dirfd, path, flags, mode);
}

int
creat(const char *path, mode_t mode)
{
	return of_open(0, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC,
	    mode);
}
