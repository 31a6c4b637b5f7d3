/*
 * powercut — simulate losing the page cache in a power cut, for the
 * reliability tests (tests/reliability/powercut.sh). kill -9 cannot show a
 * missing fsync: the kernel keeps the killed process's unsynced writes and
 * writes them back later. A power cut does not.
 *
 * One source, two builds:
 *
 *  powercut.so (LD_PRELOAD into the daemon) keeps a *ledger* of what the
 *  storage has been promised, for files below $POWERCUT_DIR:
 *	O ino size		first open of an inode in this run: what it
 *				held then is taken as durable
 *	C dir name ino		a file created (its directory entry is not
 *				durable until the directory is fsynced)
 *	S ino size		fsync/fdatasync returned: the first size bytes
 *				are durable (size taken *before* the call)
 *	T ino size		ftruncate
 *	R odir oname ndir nname ino save
 *				rename; save names a hard link to the inode it
 *				replaced ("-" if none)
 *	U dir name ino save	unlink; save is a hard link to the inode
 *	D dir			fsync of a directory: its entries are durable
 *  A line is written (one write(2), O_APPEND) before the intercepted call
 *  returns, so the ledger never lags behind anything the program was told.
 *  $POWERCUT_SYNC_DELAY_MS, if set, makes every tracked sync wait that long
 *  first (a slow disk): written-but-unsynced data then exists for most of
 *  the run, not only for the microseconds of a fast disk's flush, so that
 *  a cut at a random moment usually finds some.
 *  Hard links in $POWERCUT_SAVE (same file system) keep replaced and
 *  unlinked inodes alive, so that they can be put back and inode numbers
 *  are not reused within a run.
 *
 *  powercut-apply (built with -DPOWERCUT_MAIN), run after the process was
 *  killed with SIGKILL — which stops every thread at once, so nothing is
 *  written after the "cut" — puts the files in a state the disk could hold
 *  after a power cut at that instant:
 *	directory operations since the directory's last fsync are undone,
 *	newest first (created files removed, renames reversed, replaced and
 *	unlinked files put back);
 *	every file is cut to what was durable (--mode lose, the default), or
 *	keeps a random prefix of its unsynced bytes (--mode prefix: in-order
 *	write-back interrupted), or a random length with each unsynced 4 KiB
 *	page either written or left as zeros (--mode pages: out-of-order
 *	write-back, what XFS and ext4 with delayed allocation may leave).
 *
 * Not modelled: torn or reordered *sectors* inside a synced range, a disk
 * that lies about flushes, metadata other than directory entries and sizes
 * (a shrinking ftruncate is taken as durable at once), files written through
 * stdio (glibc's fopen does not go through the interposed open), mmap.
 * Test code only; built without sanitizers (their runtime would have to be
 * preloaded first and intercepts the same calls).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef POWERCUT_MAIN

/* ===================================================================== */
/* The preloaded recorder.                                               */
/* ===================================================================== */

typedef int	(*open_fn)(const char *, int, ...);
typedef int	(*openat_fn)(int, const char *, int, ...);
typedef int	(*sync_fn)(int);
typedef int	(*rename_fn)(const char *, const char *);
typedef int	(*renameat_fn)(int, const char *, int, const char *);
typedef int	(*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int	(*unlink_fn)(const char *);
typedef int	(*unlinkat_fn)(int, const char *, int);
typedef int	(*ftruncate_fn)(int, off_t);

static open_fn		real_open, real_open64;
static openat_fn	real_openat, real_openat64;
static sync_fn		real_fsync, real_fdatasync;
static rename_fn	real_rename;
static renameat_fn	real_renameat;
static renameat2_fn	real_renameat2;
static unlink_fn	real_unlink;
static unlinkat_fn	real_unlinkat;
static ftruncate_fn	real_ftruncate, real_ftruncate64;

static char		pc_dir[PATH_MAX];
static size_t		pc_dirlen;
static char		pc_save[PATH_MAX];
static int		pc_ledger = -1;
static long		pc_delay_ms;
static unsigned long	pc_saves;
static pthread_mutex_t	pc_mu = PTHREAD_MUTEX_INITIALIZER;

/* Inodes already given an O line in this run (open-addressed set). */
#define PC_SEEN_MAX	8192
static ino_t		pc_seen[PC_SEEN_MAX];

static void *
pc_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

__attribute__((constructor)) static void
pc_init(void)
{
	const char	*d = getenv("POWERCUT_DIR"), *l = getenv("POWERCUT_LEDGER");
	const char	*s = getenv("POWERCUT_SAVE");

	real_open = (open_fn)pc_sym("open");
	real_open64 = (open_fn)pc_sym("open64");
	real_openat = (openat_fn)pc_sym("openat");
	real_openat64 = (openat_fn)pc_sym("openat64");
	real_fsync = (sync_fn)pc_sym("fsync");
	real_fdatasync = (sync_fn)pc_sym("fdatasync");
	real_rename = (rename_fn)pc_sym("rename");
	real_renameat = (renameat_fn)pc_sym("renameat");
	real_renameat2 = (renameat2_fn)pc_sym("renameat2");
	real_unlink = (unlink_fn)pc_sym("unlink");
	real_unlinkat = (unlinkat_fn)pc_sym("unlinkat");
	real_ftruncate = (ftruncate_fn)pc_sym("ftruncate");
	real_ftruncate64 = (ftruncate_fn)pc_sym("ftruncate64");
	/* Without all three the shim records nothing and changes nothing. */
	if (d == NULL || l == NULL || s == NULL || realpath(d, pc_dir) == NULL ||
	    strlen(s) >= sizeof(pc_save) || real_open == NULL)
		return;
	memcpy(pc_save, s, strlen(s) + 1);
	pc_ledger = real_open(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (pc_ledger == -1) {
		fprintf(stderr, "powercut: %s: %s\n", l, strerror(errno));
		return;
	}
	pc_dirlen = strlen(pc_dir);
	if ((d = getenv("POWERCUT_SYNC_DELAY_MS")) != NULL)
		pc_delay_ms = strtol(d, NULL, 10);
	if (pc_delay_ms < 0 || pc_delay_ms > 10000)
		pc_delay_ms = 0;
	unsetenv("LD_PRELOAD");		/* not into children */
}

static int
pc_under(const char *path)
{
	return pc_ledger != -1 && strncmp(path, pc_dir, pc_dirlen) == 0 &&
	    (path[pc_dirlen] == '\0' || path[pc_dirlen] == '/');
}

static void
pc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
pc_log(const char *fmt, ...)
{
	char	line[3 * PATH_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	if (write(pc_ledger, line, (size_t)n) != n)
		fprintf(stderr, "powercut: ledger write failed\n");
}

/* The absolute path of fd (a file or a directory). */
static int
pc_fd_path(int fd, char *buf, size_t len)
{
	char	link[64];
	ssize_t	n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, len - 1)) <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * The absolute path of the parent directory of (dirfd, path) and the last
 * component, without following the last component. Paths with ".." or
 * symbolic links in the directory part are resolved by realpath().
 */
static int
pc_split(int dirfd, const char *path, char *dir, size_t dlen, char *name,
    size_t nlen)
{
	char		 full[PATH_MAX], tmp[PATH_MAX];
	const char	*slash;

	if (path[0] == '/')
		snprintf(full, sizeof(full), "%s", path);
	else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(tmp, sizeof(tmp)) == NULL)
				return -1;
		} else if (pc_fd_path(dirfd, tmp, sizeof(tmp)) == -1)
			return -1;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", tmp, path) >=
		    sizeof(full))
			return -1;
	}
	if ((slash = strrchr(full, '/')) == NULL || slash[1] == '\0')
		return -1;
	if ((size_t)snprintf(name, nlen, "%s", slash + 1) >= nlen)
		return -1;
	full[slash - full] = '\0';
	if (realpath(full[0] ? full : "/", tmp) == NULL)
		return -1;
	return (size_t)snprintf(dir, dlen, "%s", tmp) >= dlen ? -1 : 0;
}

/* First time this run sees ino: its current contents are taken as durable. */
static void
pc_seen_once(ino_t ino, off_t size)
{
	size_t	i = (size_t)(ino * 2654435761u) % PC_SEEN_MAX, k;

	for (k = 0; k < PC_SEEN_MAX; k++, i = (i + 1) % PC_SEEN_MAX) {
		if (pc_seen[i] == ino)
			return;
		if (pc_seen[i] == 0) {
			pc_seen[i] = ino;
			pc_log("O %llu %lld\n", (unsigned long long)ino,
			    (long long)size);
			return;
		}
	}
	/* Set full: log again, harmless (O only sets a size never set). */
	pc_log("O %llu %lld\n", (unsigned long long)ino, (long long)size);
}

/* After a successful open: record creation and the first sighting. */
static void
pc_opened(int fd, int flags, int existed)
{
	char		path[PATH_MAX], dir[PATH_MAX], *slash;
	struct stat	st;

	if (fd == -1 || pc_ledger == -1 || pc_fd_path(fd, path, sizeof(path)) ==
	    -1 || !pc_under(path) || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	pthread_mutex_lock(&pc_mu);
	if ((flags & O_CREAT) && !existed && (slash = strrchr(path, '/')) != NULL) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		pc_log("C %s %s %llu\n", dir, slash + 1,
		    (unsigned long long)st.st_ino);
	} else if ((flags & O_TRUNC) && existed)
		pc_log("T %llu 0\n", (unsigned long long)st.st_ino);
	pc_seen_once(st.st_ino, (flags & O_CREAT) && !existed ? 0 : st.st_size);
	pthread_mutex_unlock(&pc_mu);
}

static int
pc_exists(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
pc_mode_wanted(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define PC_REAL(fn, name) do {						\
	if ((fn) == NULL)						\
		(fn) = pc_sym(name);					\
	if ((fn) == NULL) {						\
		errno = ENOSYS;						\
		return -1;						\
	}								\
} while (0)

static int
pc_openat_common(openat_fn fn, int dirfd, const char *path, int flags,
    mode_t mode)
{
	int	existed = 0, fd;

	if (pc_ledger != -1 && (flags & O_CREAT))
		existed = pc_exists(dirfd, path);
	fd = fn(dirfd, path, flags, mode);
	if (fd != -1 && pc_ledger != -1) {
		int saved = errno;
		pc_opened(fd, flags, existed);
		errno = saved;
	}
	return fd;
}

int
open(const char *path, int flags, ...)
{
	mode_t	mode = 0;
	va_list	ap;

	if (pc_mode_wanted(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	PC_REAL(real_openat, "openat");
	return pc_openat_common(real_openat, AT_FDCWD, path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	mode_t	mode = 0;
	va_list	ap;

	if (pc_mode_wanted(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	PC_REAL(real_openat64, "openat64");
	return pc_openat_common(real_openat64, AT_FDCWD, path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode = 0;
	va_list	ap;

	if (pc_mode_wanted(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	PC_REAL(real_openat, "openat");
	return pc_openat_common(real_openat, dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode = 0;
	va_list	ap;

	if (pc_mode_wanted(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	PC_REAL(real_openat64, "openat64");
	return pc_openat_common(real_openat64, dirfd, path, flags, mode);
}

int
creat(const char *path, mode_t mode)
{
	PC_REAL(real_openat, "openat");
	return pc_openat_common(real_openat, AT_FDCWD, path,
	    O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* Size before the sync: bytes written after it started are not covered. */
static int
pc_sync(sync_fn fn, int fd)
{
	char		path[PATH_MAX];
	struct stat	st;
	int		tracked, rc, saved;

	tracked = pc_ledger != -1 && fstat(fd, &st) == 0 &&
	    pc_fd_path(fd, path, sizeof(path)) == 0 && pc_under(path);
	if (tracked && pc_delay_ms > 0) {
		struct timespec ts = { pc_delay_ms / 1000,
		    (pc_delay_ms % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	rc = fn(fd);
	if (rc == 0 && tracked) {
		saved = errno;
		pthread_mutex_lock(&pc_mu);
		if (S_ISDIR(st.st_mode))
			pc_log("D %s\n", path);
		else if (S_ISREG(st.st_mode)) {
			pc_seen_once(st.st_ino, st.st_size);
			pc_log("S %llu %lld\n", (unsigned long long)st.st_ino,
			    (long long)st.st_size);
		}
		pthread_mutex_unlock(&pc_mu);
		errno = saved;
	}
	return rc;
}

int
fsync(int fd)
{
	PC_REAL(real_fsync, "fsync");
	return pc_sync(real_fsync, fd);
}

int
fdatasync(int fd)
{
	PC_REAL(real_fdatasync, "fdatasync");
	return pc_sync(real_fdatasync, fd);
}

static int
pc_truncate(ftruncate_fn fn, int fd, off_t len)
{
	char		path[PATH_MAX];
	struct stat	st;
	int		rc, saved;

	rc = fn(fd, len);
	if (rc == 0 && pc_ledger != -1 && fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode) && pc_fd_path(fd, path, sizeof(path)) == 0 &&
	    pc_under(path)) {
		saved = errno;
		pthread_mutex_lock(&pc_mu);
		pc_seen_once(st.st_ino, st.st_size);
		pc_log("T %llu %lld\n", (unsigned long long)st.st_ino,
		    (long long)len);
		pthread_mutex_unlock(&pc_mu);
		errno = saved;
	}
	return rc;
}

int
ftruncate(int fd, off_t len)
{
	PC_REAL(real_ftruncate, "ftruncate");
	return pc_truncate(real_ftruncate, fd, len);
}

int
ftruncate64(int fd, off_t len)
{
	PC_REAL(real_ftruncate64, "ftruncate64");
	return pc_truncate(real_ftruncate64, fd, len);
}

/* Hard-link dir/name into the save directory; its name, or "-". */
static void
pc_keep(const char *dir, const char *name, char *out, size_t len)
{
	char	from[PATH_MAX];

	snprintf(out, len, "-");
	if ((size_t)snprintf(from, sizeof(from), "%s/%s", dir, name) >=
	    sizeof(from))
		return;
	if ((size_t)snprintf(out, len, "%s/k%lu", pc_save, ++pc_saves) >= len ||
	    link(from, out) == -1)
		snprintf(out, len, "-");
}

static int
pc_renameat(int (*call)(int, const char *, int, const char *, unsigned),
    int od, const char *op, int nd, const char *np, unsigned flags)
{
	char		odir[PATH_MAX], oname[NAME_MAX + 1];
	char		ndir[PATH_MAX], nname[NAME_MAX + 1], save[PATH_MAX];
	struct stat	st, target;
	int		tracked, had, rc, saved;

	tracked = pc_ledger != -1 &&
	    pc_split(od, op, odir, sizeof(odir), oname, sizeof(oname)) == 0 &&
	    pc_split(nd, np, ndir, sizeof(ndir), nname, sizeof(nname)) == 0 &&
	    (pc_under(odir) || pc_under(ndir)) &&
	    fstatat(od, op, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	if (!tracked)
		return call(od, op, nd, np, flags);
	pthread_mutex_lock(&pc_mu);
	had = fstatat(nd, np, &target, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(target.st_mode);
	save[0] = '\0';
	if (had)
		pc_keep(ndir, nname, save, sizeof(save));
	rc = call(od, op, nd, np, flags);
	saved = errno;
	if (rc == 0)
		pc_log("R %s %s %s %s %llu %s\n", odir, oname, ndir, nname,
		    (unsigned long long)st.st_ino, had ? save : "-");
	else if (had && strcmp(save, "-") != 0)
		unlink(save);
	pthread_mutex_unlock(&pc_mu);
	errno = saved;
	return rc;
}

static int
pc_call_renameat2(int od, const char *op, int nd, const char *np, unsigned f)
{
	PC_REAL(real_renameat2, "renameat2");
	return real_renameat2(od, op, nd, np, f);
}

static int
pc_call_renameat(int od, const char *op, int nd, const char *np, unsigned f)
{
	(void)f;
	PC_REAL(real_renameat, "renameat");
	return real_renameat(od, op, nd, np);
}

int
rename(const char *op, const char *np)
{
	return pc_renameat(pc_call_renameat, AT_FDCWD, op, AT_FDCWD, np, 0);
}

int
renameat(int od, const char *op, int nd, const char *np)
{
	return pc_renameat(pc_call_renameat, od, op, nd, np, 0);
}

int
renameat2(int od, const char *op, int nd, const char *np, unsigned flags)
{
	return pc_renameat(pc_call_renameat2, od, op, nd, np, flags);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	char		dir[PATH_MAX], name[NAME_MAX + 1], save[PATH_MAX];
	struct stat	st;
	int		rc, saved;

	PC_REAL(real_unlinkat, "unlinkat");
	if (pc_ledger == -1 || (flags & AT_REMOVEDIR) ||
	    pc_split(dirfd, path, dir, sizeof(dir), name, sizeof(name)) == -1 ||
	    !pc_under(dir) || fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) ==
	    -1 || !S_ISREG(st.st_mode))
		return real_unlinkat(dirfd, path, flags);
	pthread_mutex_lock(&pc_mu);
	pc_keep(dir, name, save, sizeof(save));
	rc = real_unlinkat(dirfd, path, flags);
	saved = errno;
	if (rc == 0)
		pc_log("U %s %s %llu %s\n", dir, name,
		    (unsigned long long)st.st_ino, save);
	else if (strcmp(save, "-") != 0)
		unlink(save);
	pthread_mutex_unlock(&pc_mu);
	errno = saved;
	return rc;
}

int
unlink(const char *path)
{
	return unlinkat(AT_FDCWD, path, 0);
}

#else /* POWERCUT_MAIN */

/* ===================================================================== */
/* powercut-apply: the cut itself, after the process is gone.           */
/* ===================================================================== */

#include <ftw.h>

enum pc_mode { PC_LOSE, PC_PREFIX, PC_PAGES };

struct pc_ino {
	unsigned long long	ino;
	long long		durable;	/* -1: never seen */
};

struct pc_op {
	char	kind;			/* C R U */
	char	dir[PATH_MAX];		/* C U: the directory; R: new dir */
	char	name[NAME_MAX + 1];	/* C U: the name; R: new name */
	char	odir[PATH_MAX];		/* R: old dir */
	char	oname[NAME_MAX + 1];	/* R: old name */
	unsigned long long ino;
	char	save[PATH_MAX];
	int	done;			/* made durable by a later D */
};

static struct pc_ino	*inos;
static size_t		 ninos, capinos;
static struct pc_op	*ops;
static size_t		 nops, capops;
static enum pc_mode	 mode = PC_LOSE;
static unsigned long long stat_cut_files, stat_cut_bytes, stat_zero_pages;
static unsigned long long stat_reverted;

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (n != 0 && size > SIZE_MAX / n) {
		fprintf(stderr, "powercut-apply: too many entries\n");
		exit(2);
	}
	if ((q = realloc(p, n * size)) == NULL) {
		perror("powercut-apply: realloc");
		exit(2);
	}
	return q;
}

static struct pc_ino *
ino_get(unsigned long long ino)
{
	for (size_t i = 0; i < ninos; i++)
		if (inos[i].ino == ino)
			return &inos[i];
	if (ninos == capinos) {
		capinos = capinos ? 2 * capinos : 256;
		inos = xreallocarray(inos, capinos, sizeof(*inos));
	}
	inos[ninos].ino = ino;
	inos[ninos].durable = -1;
	return &inos[ninos++];
}

static struct pc_op *
op_new(char kind)
{
	if (nops == capops) {
		capops = capops ? 2 * capops : 256;
		ops = xreallocarray(ops, capops, sizeof(*ops));
	}
	memset(&ops[nops], 0, sizeof(ops[nops]));
	ops[nops].kind = kind;
	return &ops[nops++];
}

/* A directory fsync makes every earlier entry operation in it durable. */
static void
dir_synced(const char *dir)
{
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].done)
			continue;
		if (ops[i].kind == 'R') {
			/* Both entries must be durable; be strict: both dirs. */
			if (strcmp(ops[i].dir, dir) == 0 &&
			    strcmp(ops[i].odir, dir) == 0)
				ops[i].done = 1;
			else if (strcmp(ops[i].dir, dir) == 0)
				ops[i].dir[0] = '\0';	/* half: new side */
			else if (strcmp(ops[i].odir, dir) == 0)
				ops[i].odir[0] = '\0';
			if (ops[i].dir[0] == '\0' && ops[i].odir[0] == '\0')
				ops[i].done = 1;
		} else if (strcmp(ops[i].dir, dir) == 0)
			ops[i].done = 1;
	}
}

/* An O, S or T line: what is durable of an inode. */
static int
ledger_size(const char *line)
{
	unsigned long long	 ino;
	long long		 size;
	struct pc_ino		*pi;
	char			 kind;

	if (sscanf(line, "%c %llu %lld", &kind, &ino, &size) != 3 || size < 0)
		return -1;
	pi = ino_get(ino);
	if (kind == 'S')
		pi->durable = size;
	else if (kind == 'O' && pi->durable < 0)
		pi->durable = size;
	else if (kind == 'T' && (pi->durable < 0 || size < pi->durable))
		pi->durable = size;	/* the bytes past it are gone anyway */
	return 0;
}

/* A C, R, U or D line: directory entries, pending until a D covers them. */
static int
ledger_entry(const char *line)
{
	char			 a[PATH_MAX], b[NAME_MAX + 1], c[PATH_MAX];
	char			 d[NAME_MAX + 1], s[PATH_MAX];
	unsigned long long	 ino;
	struct pc_op		*op;

	switch (line[0]) {
	case 'C':
		if (sscanf(line, "C %4095s %255s %llu", a, b, &ino) != 3)
			return -1;
		snprintf(s, sizeof(s), "-");
		/* A new file: nothing of it is durable yet. */
		ino_get(ino)->durable = 0;
		break;
	case 'R':
		if (sscanf(line, "R %4095s %255s %4095s %255s %llu %4095s",
		    c, d, a, b, &ino, s) != 6)
			return -1;
		break;
	case 'U':
		if (sscanf(line, "U %4095s %255s %llu %4095s", a, b, &ino, s) != 4)
			return -1;
		break;
	case 'D':
		if (sscanf(line, "D %4095s", a) != 1)
			return -1;
		dir_synced(a);
		return 0;
	default:
		return -1;
	}
	op = op_new(line[0]);
	snprintf(op->dir, sizeof(op->dir), "%s", a);
	snprintf(op->name, sizeof(op->name), "%s", b);
	snprintf(op->save, sizeof(op->save), "%s", s);
	if (line[0] == 'R') {
		snprintf(op->odir, sizeof(op->odir), "%s", c);
		snprintf(op->oname, sizeof(op->oname), "%s", d);
	}
	op->ino = ino;
	return 0;
}

static int
read_ledger(const char *path)
{
	FILE		*f;
	char		 line[4 * PATH_MAX];
	unsigned	 lineno = 0;
	int		 rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;	/* nothing was opened: nothing to cut */
		perror(path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL)
			break;		/* the last line, cut short: ignore */
		rc = strchr("OST", line[0]) != NULL ? ledger_size(line) :
		    ledger_entry(line);
	}
	if (rc == -1)
		fprintf(stderr, "powercut-apply: %s:%u: bad line\n", path, lineno);
	fclose(f);
	return rc;
}

static int
path_ino(const char *dir, const char *name, unsigned long long *ino)
{
	char		p[2 * PATH_MAX];
	struct stat	st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (lstat(p, &st) == -1)
		return -1;
	*ino = st.st_ino;
	return 0;
}

/* Undo the directory operations no directory fsync covered, newest first. */
static void
revert_entries(void)
{
	char			 p[2 * PATH_MAX], q[2 * PATH_MAX];
	unsigned long long	 ino;

	for (size_t k = nops; k-- > 0; ) {
		struct pc_op *op = &ops[k];

		if (op->done)
			continue;
		snprintf(p, sizeof(p), "%s/%s", op->dir, op->name);
		switch (op->kind) {
		case 'C':
			if (path_ino(op->dir, op->name, &ino) == 0 &&
			    ino == op->ino && unlink(p) == 0)
				stat_reverted++;
			break;
		case 'R':
			/* Strict: undo unless both sides were synced (a half-
			 * synced rename is undone on the unsynced side only;
			 * the old name comes back if its side was not synced). */
			if (op->dir[0] == '\0')
				break;
			if (path_ino(op->dir, op->name, &ino) == 0 &&
			    ino == op->ino) {
				if (op->odir[0] != '\0') {
					snprintf(q, sizeof(q), "%s/%s", op->odir,
					    op->oname);
					if (link(p, q) == -1 && errno != EEXIST)
						perror(q);
				}
				if (unlink(p) == 0)
					stat_reverted++;
			}
			if (strcmp(op->save, "-") != 0 && link(op->save, p) == -1 &&
			    errno != EEXIST)
				perror(p);
			break;
		case 'U':
			if (strcmp(op->save, "-") != 0 && link(op->save, p) == 0)
				stat_reverted++;
			break;
		}
	}
}

static unsigned long long rng_state = 88172645463325252ULL;

static unsigned long long
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Zero [from, to) of fd. */
static int
zero_range(int fd, off_t from, off_t to)
{
	static const char	zeros[4096];
	ssize_t			n;

	while (from < to) {
		size_t len = (size_t)(to - from) < sizeof(zeros) ?
		    (size_t)(to - from) : sizeof(zeros);
		if ((n = pwrite(fd, zeros, len, from)) <= 0)
			return -1;
		from += n;
	}
	return 0;
}

static int
cut_file(const char *path, const struct stat *st)
{
	struct pc_ino	*pi = NULL;
	off_t		 keep, page, lo;
	int		 fd;

	for (size_t i = 0; i < ninos; i++)
		if (inos[i].ino == (unsigned long long)st->st_ino)
			pi = &inos[i];
	if (pi == NULL || pi->durable < 0 || st->st_size <= pi->durable)
		return 0;
	keep = (off_t)pi->durable;
	if (mode != PC_LOSE)
		keep += (off_t)(rng() % (unsigned long long)(st->st_size -
		    pi->durable + 1));
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		perror(path);
		return -1;
	}
	if (ftruncate(fd, keep) == -1) {
		perror(path);
		close(fd);
		return -1;
	}
	stat_cut_files++;
	stat_cut_bytes += (unsigned long long)(st->st_size - keep);
	if (mode == PC_PAGES) {
		/* Each page past the durable end: written back, or not. */
		for (page = pi->durable & ~(off_t)4095; page < keep; page += 4096) {
			lo = page < pi->durable ? (off_t)pi->durable : page;
			if (rng() % 2 == 0)
				continue;
			if (zero_range(fd, lo, page + 4096 < keep ? page + 4096 :
			    keep) == -1) {
				perror(path);
				close(fd);
				return -1;
			}
			stat_zero_pages++;
		}
	}
	close(fd);
	return 0;
}

static int
walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		return cut_file(path, st) == -1 ? 1 : 0;
	return 0;
}

int
main(int argc, char *argv[])
{
	int	ch;

	while ((ch = getopt(argc, argv, "m:s:")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "lose") == 0)
				mode = PC_LOSE;
			else if (strcmp(optarg, "prefix") == 0)
				mode = PC_PREFIX;
			else if (strcmp(optarg, "pages") == 0)
				mode = PC_PAGES;
			else
				goto usage;
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 10) * 2654435761ULL + 1;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	if (read_ledger(argv[optind]) == -1)
		return 1;
	revert_entries();
	if (nftw(argv[optind + 1], walk_cb, 32, FTW_PHYS) != 0) {
		fprintf(stderr, "powercut-apply: %s: walk failed\n",
		    argv[optind + 1]);
		return 1;
	}
	printf("powercut: %llu entries undone, %llu files cut, %llu bytes "
	    "dropped, %llu pages zeroed\n", stat_reverted, stat_cut_files,
	    stat_cut_bytes, stat_zero_pages);
	return 0;
usage:
	fprintf(stderr, "usage: powercut-apply [-m lose|prefix|pages] [-s SEED] "
	    "LEDGER DIR\n");
	return 2;
}

#endif /* POWERCUT_MAIN */
