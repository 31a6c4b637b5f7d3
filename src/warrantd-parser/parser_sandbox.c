/*
 * parser_sandbox — the seccomp filter of a parser worker (see
 * parser_sandbox.h). Written as raw BPF: a dozen allowed calls do
 * not need libseccomp, and prctl(PR_SET_SECCOMP) works under systemd's own
 * filter (@system-service allows prctl) without another dependency.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "parser_sandbox.h"

#if defined(__x86_64__)
#define PS_ARCH		AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PS_ARCH		AUDIT_ARCH_AARCH64
#endif

#define PS_NR		offsetof(struct seccomp_data, nr)
#define PS_ARG(n)	offsetof(struct seccomp_data, args[n])	/* low half, LE */

#define PS_LOAD(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define PS_RET(v)	BPF_STMT(BPF_RET | BPF_K, (v))
/* if A == nr: allow, else fall through. */
#define PS_ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	PS_RET(SECCOMP_RET_ALLOW)

int
parser_sandbox_enter(int sock)
{
#ifdef PS_ARCH
	struct sock_filter f[] = {
		PS_LOAD(offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PS_ARCH, 1, 0),
		PS_RET(SECCOMP_RET_KILL_PROCESS),
		PS_LOAD(PS_NR),
		/* read: its socket only. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_read, 0, 4),
		PS_LOAD(PS_ARG(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)sock, 0, 1),
		PS_RET(SECCOMP_RET_ALLOW),
		PS_RET(SECCOMP_RET_KILL_PROCESS),
		/* write: its socket and stderr. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 0, 5),
		PS_LOAD(PS_ARG(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)sock, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1),
		PS_RET(SECCOMP_RET_ALLOW),
		PS_RET(SECCOMP_RET_KILL_PROCESS),
		/* mmap, mprotect: never executable. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 4),
		PS_LOAD(PS_ARG(2)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
		PS_RET(SECCOMP_RET_KILL_PROCESS),
		PS_RET(SECCOMP_RET_ALLOW),
		PS_LOAD(PS_NR),
		PS_ALLOW(__NR_munmap),
		PS_ALLOW(__NR_mremap),
		PS_ALLOW(__NR_brk),
		PS_ALLOW(__NR_madvise),
		PS_ALLOW(__NR_futex),
		PS_ALLOW(__NR_clock_gettime),
		PS_ALLOW(__NR_gettimeofday),
		PS_ALLOW(__NR_getpid),
		PS_ALLOW(__NR_gettid),
		PS_ALLOW(__NR_rt_sigreturn),
		PS_ALLOW(__NR_rt_sigprocmask),
		PS_ALLOW(__NR_sigaltstack),
		PS_ALLOW(__NR_exit),
		PS_ALLOW(__NR_exit_group),
		PS_RET(SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	(void)sock;
	errno = ENOSYS;		/* no filter for this architecture: refuse */
	return -1;
#endif
}
