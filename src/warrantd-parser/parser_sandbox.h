/*
 * parser_sandbox — what a parser worker may still do once it reads
 * untrusted bytes: PR_SET_NO_NEW_PRIVS, then a seccomp filter (raw BPF, no
 * library) that allows read on its socket, write on its socket and stderr,
 * memory (no executable mappings), futex, the clocks, and exit. Any other
 * system call kills the process (SECCOMP_RET_KILL_PROCESS): no open, no
 * socket, no exec, no fork.
 */
#ifndef WD_PARSER_SANDBOX_H
#define WD_PARSER_SANDBOX_H

/* 0 once the filter is in force; -1 (errno) if it could not be: fail closed. */
int	parser_sandbox_enter(int sock);

#endif
