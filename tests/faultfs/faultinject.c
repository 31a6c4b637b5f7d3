/*
 * faultinject — LD_PRELOAD shim for the journal's fault tests: makes the
 * write and sync calls of a process fail on files below one directory, at
 * will, while the process runs. warrantd's journal cannot be told to fail
 * from outside (its I/O hooks are for unit tests), and a full or broken
 * disk cannot be produced on demand without root, so the calls themselves
 * are intercepted.
 *
 * Environment (read once, at load):
 *	FAULT_DIR	only file descriptors whose path is this directory or
 *			lies below it are affected (/proc/self/fd/N)
 *	FAULT_FLAG	a file: while it exists the faults are on; it may hold
 *			one line "OPS ERRNO", e.g. "write ENOSPC" or "sync EIO"
 *	FAULT_OPS	default OPS when the flag is empty: "write", "sync" or
 *			"write,sync" (the default)
 *	FAULT_ERRNO	default ERRNO: ENOSPC, EIO, EDQUOT, EROFS or a number
 *			(default EIO)
 *	FAULT_LOG	optional file: one line per injected fault, so that a
 *			test can prove the shim fired and not something else
 *
 * "write" covers write, pwrite, pwrite64, writev, pwritev, pwritev64,
 * pwritev2; "sync" covers fsync and fdatasync. Everything else passes
 * through untouched, and nothing is affected while FAULT_FLAG is absent
 * (one access(2) per call). Test code only: never loaded by the daemon in
 * production.
 *
 * Under AddressSanitizer the ASan runtime must come first in LD_PRELOAD;
 * its interceptors then call into this shim (dlsym RTLD_NEXT), which calls
 * libc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAULT_WRITE	0x1
#define FAULT_SYNC	0x2

typedef ssize_t	(*write_fn)(int, const void *, size_t);
typedef ssize_t	(*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t	(*writev_fn)(int, const struct iovec *, int);
typedef ssize_t	(*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t	(*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef ssize_t	(*pwritev64_fn)(int, const struct iovec *, int, off64_t);
typedef ssize_t	(*pwritev2_fn)(int, const struct iovec *, int, off_t, int);
typedef int	(*sync_fn)(int);

static write_fn		real_write;
static pwrite_fn	real_pwrite;
static pwrite64_fn	real_pwrite64;
static writev_fn	real_writev;
static pwritev_fn	real_pwritev;
static pwritev64_fn	real_pwritev64;
static pwritev2_fn	real_pwritev2;
static sync_fn		real_fsync, real_fdatasync;

static char	fault_dir[PATH_MAX];
static size_t	fault_dirlen;
static char	fault_flag[PATH_MAX];
static char	fault_log[PATH_MAX];
static int	fault_ops_default = FAULT_WRITE | FAULT_SYNC;
static int	fault_errno_default = EIO;

static void *
fault_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static int
fault_parse_errno(const char *s, int dflt)
{
	static const struct { const char *name; int val; } names[] = {
		{ "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT },
		{ "EROFS", EROFS }, { "EFBIG", EFBIG },
	};
	char	*end;
	long	 v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(s, names[i].name, strlen(names[i].name)) == 0)
			return names[i].val;
	v = strtol(s, &end, 10);
	return end != s && v > 0 && v < 4096 ? (int)v : dflt;
}

static int
fault_parse_ops(const char *s, int dflt)
{
	int	ops = 0;

	if (strstr(s, "write") != NULL)
		ops |= FAULT_WRITE;
	if (strstr(s, "sync") != NULL)
		ops |= FAULT_SYNC;
	return ops ? ops : dflt;
}

static void
fault_copy_env(char *dst, size_t len, const char *name)
{
	const char	*v = getenv(name);

	if (v != NULL && strlen(v) < len)
		memcpy(dst, v, strlen(v) + 1);
}

__attribute__((constructor)) static void
fault_init(void)
{
	const char	*v;

	real_write = (write_fn)fault_sym("write");
	real_pwrite = (pwrite_fn)fault_sym("pwrite");
	real_pwrite64 = (pwrite64_fn)fault_sym("pwrite64");
	real_writev = (writev_fn)fault_sym("writev");
	real_pwritev = (pwritev_fn)fault_sym("pwritev");
	real_pwritev64 = (pwritev64_fn)fault_sym("pwritev64");
	real_pwritev2 = (pwritev2_fn)fault_sym("pwritev2");
	real_fsync = (sync_fn)fault_sym("fsync");
	real_fdatasync = (sync_fn)fault_sym("fdatasync");
	fault_copy_env(fault_dir, sizeof(fault_dir), "FAULT_DIR");
	/* "/a/b/" and "/a/b" name the same directory. */
	fault_dirlen = strlen(fault_dir);
	while (fault_dirlen > 1 && fault_dir[fault_dirlen - 1] == '/')
		fault_dir[--fault_dirlen] = '\0';
	fault_copy_env(fault_flag, sizeof(fault_flag), "FAULT_FLAG");
	fault_copy_env(fault_log, sizeof(fault_log), "FAULT_LOG");
	if ((v = getenv("FAULT_OPS")) != NULL)
		fault_ops_default = fault_parse_ops(v, fault_ops_default);
	if ((v = getenv("FAULT_ERRNO")) != NULL)
		fault_errno_default = fault_parse_errno(v, fault_errno_default);
}

/* Is fd the directory or a file below it? */
static int
fault_fd_matches(int fd)
{
	char	link[64], path[PATH_MAX];
	ssize_t	n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return strncmp(path, fault_dir, fault_dirlen) == 0 &&
	    (path[fault_dirlen] == '\0' || path[fault_dirlen] == '/');
}

/* The errno to fail this call with, or 0 to let it through. */
static int
fault_check(int fd, int op)
{
	char	buf[128];
	int	ffd, ops = fault_ops_default, err = fault_errno_default;
	ssize_t	n;

	if (fault_dirlen == 0 || fault_flag[0] == '\0' ||
	    access(fault_flag, F_OK) == -1 || !fault_fd_matches(fd))
		return 0;
	if ((ffd = open(fault_flag, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(ffd, buf, sizeof(buf) - 1);
		close(ffd);
		if (n > 0) {
			buf[n] = '\0';
			ops = fault_parse_ops(buf, ops);
			if (strchr(buf, ' ') != NULL)
				err = fault_parse_errno(strchr(buf, ' ') + 1, err);
		}
	}
	return (ops & op) ? err : 0;
}

static void
fault_note(const char *call, int fd, int err)
{
	char	line[160];
	int	lfd, len;

	if (fault_log[0] == '\0' || real_write == NULL)
		return;
	len = snprintf(line, sizeof(line), "%s fd %d: %s\n", call, fd,
	    strerror(err));
	if ((lfd = open(fault_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1)
		return;
	if (real_write(lfd, line, (size_t)len) == -1) {
		/* Nothing to do: the log is only a witness. */
	}
	close(lfd);
}

/* Fail the call with errno if the fault is on for it. */
#define FAULT_GATE(call, fd, op) do {					\
	int	_e = fault_check((fd), (op));				\
	if (_e != 0) {							\
		fault_note((call), (fd), _e);				\
		errno = _e;						\
		return -1;						\
	}								\
} while (0)

/*
 * Resolve the next definition on first use too: another library's
 * constructor may write before ours ran. If dlsym fails (a static binary?)
 * behave as a missing call would.
 */
#define FAULT_REAL(fn, name) do {					\
	if ((fn) == NULL)						\
		(fn) = fault_sym(name);					\
	if ((fn) == NULL) {						\
		errno = ENOSYS;						\
		return -1;						\
	}								\
} while (0)

ssize_t
write(int fd, const void *buf, size_t len)
{
	FAULT_REAL(real_write, "write");
	FAULT_GATE("write", fd, FAULT_WRITE);
	return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	FAULT_REAL(real_pwrite, "pwrite");
	FAULT_GATE("pwrite", fd, FAULT_WRITE);
	return real_pwrite(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	FAULT_REAL(real_pwrite64, "pwrite64");
	FAULT_GATE("pwrite64", fd, FAULT_WRITE);
	return real_pwrite64(fd, buf, len, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	FAULT_REAL(real_writev, "writev");
	FAULT_GATE("writev", fd, FAULT_WRITE);
	return real_writev(fd, iov, n);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	FAULT_REAL(real_pwritev, "pwritev");
	FAULT_GATE("pwritev", fd, FAULT_WRITE);
	return real_pwritev(fd, iov, n, off);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
	FAULT_REAL(real_pwritev64, "pwritev64");
	FAULT_GATE("pwritev64", fd, FAULT_WRITE);
	return real_pwritev64(fd, iov, n, off);
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	FAULT_REAL(real_pwritev2, "pwritev2");
	FAULT_GATE("pwritev2", fd, FAULT_WRITE);
	return real_pwritev2(fd, iov, n, off, flags);
}

int
fsync(int fd)
{
	FAULT_REAL(real_fsync, "fsync");
	FAULT_GATE("fsync", fd, FAULT_SYNC);
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	FAULT_REAL(real_fdatasync, "fdatasync");
	FAULT_GATE("fdatasync", fd, FAULT_SYNC);
	return real_fdatasync(fd);
}
