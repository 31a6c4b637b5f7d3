/*
 * signer_child — the checkpoint signer's own side (see signer.h): forked by
 * warrantd, it keeps its socket and stdio only, loads the signing key,
 * confines itself (seccomp, written as raw BPF like the parser workers'
 * filter: recv and send on its socket, write on stderr, memory, exit),
 * then signs what it is asked: only a tree size and a root, under its one
 * origin. Anything else on the socket ends it. It never returns.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <openssl/evp.h>

#include "checkpoint.h"
#include "log.h"
#include "signer_impl.h"

#define SIGNER_SOCK	3	/* its socket, once the others are closed */

#if defined(__x86_64__)
#define SC_ARCH		AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SC_ARCH		AUDIT_ARCH_AARCH64
#endif

#define SC_NR		offsetof(struct seccomp_data, nr)
#define SC_ARG(n)	offsetof(struct seccomp_data, args[n])	/* low half, LE */
#define SC_LOAD(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define SC_RET(v)	BPF_STMT(BPF_RET | BPF_K, (v))
#define SC_ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	SC_RET(SECCOMP_RET_ALLOW)

/* No new files, no sockets, no processes: the key stays here. */
static int
signer_sandbox(void)
{
#ifdef SC_ARCH
	struct sock_filter f[] = {
		SC_LOAD(offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SC_ARCH, 1, 0),
		SC_RET(SECCOMP_RET_KILL_PROCESS),
		SC_LOAD(SC_NR),
		/* recv(from), send(to): its socket only. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_recvfrom, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 4),
		SC_LOAD(SC_ARG(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIGNER_SOCK, 0, 1),
		SC_RET(SECCOMP_RET_ALLOW),
		SC_RET(SECCOMP_RET_KILL_PROCESS),
		SC_LOAD(SC_NR),
		/* write: stderr only (the sanitizers' reports). */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 0, 4),
		SC_LOAD(SC_ARG(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1),
		SC_RET(SECCOMP_RET_ALLOW),
		SC_RET(SECCOMP_RET_KILL_PROCESS),
		/* mmap, mprotect: never executable. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 4),
		SC_LOAD(SC_ARG(2)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
		SC_RET(SECCOMP_RET_KILL_PROCESS),
		SC_RET(SECCOMP_RET_ALLOW),
		SC_LOAD(SC_NR),
		SC_ALLOW(__NR_munmap),
		SC_ALLOW(__NR_mremap),
		SC_ALLOW(__NR_brk),
		SC_ALLOW(__NR_madvise),
		SC_ALLOW(__NR_futex),
		SC_ALLOW(__NR_getrandom),
		SC_ALLOW(__NR_clock_gettime),
		SC_ALLOW(__NR_gettimeofday),
		SC_ALLOW(__NR_getpid),
		SC_ALLOW(__NR_gettid),
		SC_ALLOW(__NR_rt_sigreturn),
		SC_ALLOW(__NR_rt_sigprocmask),
		SC_ALLOW(__NR_sigaltstack),
		SC_ALLOW(__NR_exit),
		SC_ALLOW(__NR_exit_group),
		SC_RET(SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	errno = ENOSYS;		/* no filter for this architecture: refuse */
	return -1;
#endif
}

/*
 * Its socket as SIGNER_SOCK, stdio kept, every other descriptor warrantd
 * had at the fork closed. Signals that stop warrantd do not stop it: it
 * ends when warrantd closes the socket, after the last checkpoint.
 */
static int
signer_child_setup(int sock)
{
	long	fd, max = sysconf(_SC_OPEN_MAX);

	prctl(PR_SET_NAME, "warrantd-signer", 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Not readable nor traceable by warrantd's user (root still can). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (sock != SIGNER_SOCK && (dup2(sock, SIGNER_SOCK) == -1 ||
	    close(sock) == -1))
		return -1;
	if (syscall(SYS_close_range, SIGNER_SOCK + 1, ~0U, 0) == -1)
		for (fd = SIGNER_SOCK + 1; fd < max; fd++)
			close((int)fd);
	return 0;
}

/* The key, its public half for the hello, one signature to warm OpenSSL up. */
static EVP_PKEY *
signer_child_key(const char *key_path, const char *origin, uint8_t *hello)
{
	struct checkpoint	 cp;
	EVP_PKEY		*key;
	size_t			 plen = SIGNER_PUB_LEN;
	char			*note;

	if ((key = checkpoint_load_private(key_path)) == NULL)
		return NULL;
	hello[0] = SIGNER_HELLO;
	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	if (EVP_PKEY_get_raw_public_key(key, hello + 1, &plen) != 1 ||
	    plen != SIGNER_PUB_LEN || (note = checkpoint_sign(&cp, key)) ==
	    NULL) {
		EVP_PKEY_free(key);
		return NULL;
	}
	free(note);
	return key;
}

/* One request: exactly a size and a root. 0 answered, -1 to end. */
static int
signer_child_serve(EVP_PKEY *key, const char *origin, uint8_t *buf)
{
	struct checkpoint	 cp;
	size_t			 len;
	char			*note;
	int			 rc;

	if (signer_frame_read(SIGNER_SOCK, buf, SIGNER_FRAME_MAX, &len, -1) ==
	    -1)
		_exit(errno == EPIPE ? 0 : SIGNER_EXIT_PROTOCOL);
	if (signer_request_read(buf, len, origin, &cp) == -1)
		_exit(SIGNER_EXIT_PROTOCOL);
	if ((note = checkpoint_sign(&cp, key)) == NULL ||
	    (len = strlen(note)) + 1 > SIGNER_FRAME_MAX) {
		free(note);
		return -1;
	}
	buf[0] = SIGNER_NOTE;
	memcpy(buf + 1, note, len);
	free(note);
	rc = signer_frame_write(SIGNER_SOCK, buf, len + 1);
	return rc;
}

void
signer_child_main(int sock, const char *key_path, const char *origin)
{
	uint8_t		 hello[SIGNER_HELLO_LEN], *buf;
	EVP_PKEY	*key;

	if (signer_child_setup(sock) == -1) {
		log_warn("signer: setup");
		_exit(SIGNER_EXIT_SANDBOX);
	}
	if ((key = signer_child_key(key_path, origin, hello)) == NULL)
		_exit(SIGNER_EXIT_KEY);
	if ((buf = malloc(SIGNER_FRAME_MAX)) == NULL || signer_sandbox() == -1) {
		log_warn("signer: cannot confine itself");
		_exit(SIGNER_EXIT_SANDBOX);
	}
	if (signer_frame_write(SIGNER_SOCK, hello, sizeof(hello)) == -1)
		_exit(0);
	while (signer_child_serve(key, origin, buf) == 0)
		;
	_exit(SIGNER_EXIT_PROTOCOL);
}
