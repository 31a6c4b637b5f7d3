/*
 * notify_listen — stands in for systemd's notification socket in
 * tests/integration/sd-notify.sh. Binds an AF_UNIX datagram socket at PATH
 * and prints every assignment of every datagram received, one per line:
 *
 *	MSG <ms since start> <sender pid> <assignment>
 *
 * e.g. "MSG 812 4242 READY=1". The sender's pid comes from the kernel
 * (SCM_CREDENTIALS), as systemd reads it for NotifyAccess=main; -1 if the
 * datagram carried none. Runs until SIGTERM/SIGINT or, if given, TIMEOUT
 * seconds; removes PATH on the way out. Output is flushed per datagram so
 * the test can follow it while the daemon runs.
 *
 * With -r, the sender of the first READY=1 is stopped (SIGSTOP) as soon as
 * that datagram is read, and "FROZEN <pid>" printed after it: the test can
 * then look at the daemon as it was when it declared itself ready (is the
 * port already accepting?) and resume it with SIGCONT.
 *
 * usage: notify_listen [-r] PATH [TIMEOUT]
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* systemd accepts datagrams up to this size; more is not a notification. */
#define NOTIFY_MAX	4096

static volatile sig_atomic_t	stop;
static int			freeze_on_ready;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
notify_bind(const char *path)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, one = 1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "notify_listen: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* Replace a stale socket of an earlier run, never another file. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "notify_listen: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* One datagram into buf, NUL-terminated; its length, or -1 if none. */
static ssize_t
notify_recv(int fd, char *buf, size_t size, int *pid)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec	 iov = { buf, size - 1 };
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	struct ucred	 cred;
	ssize_t		 len;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &control;
	msg.msg_controllen = sizeof(control);
	*pid = -1;
	if ((len = recvmsg(fd, &msg, MSG_DONTWAIT)) == -1)
		return -1;
	buf[len] = '\0';
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			*pid = (int)cred.pid;
		}
	}
	return len;
}

/* One line per assignment; control bytes shown as '?' to keep lines whole. */
static void
notify_print(long long ms, int pid, char *buf, ssize_t len)
{
	char	*line, *next;
	int	 frozen = 0;

	for (ssize_t i = 0; i < len; i++)
		if (buf[i] != '\n' && ((unsigned char)buf[i] < 0x20 ||
		    buf[i] == 0x7f))
			buf[i] = '?';
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		/* Stop first, print after: the daemon must not run on. */
		if (freeze_on_ready && pid > 0 && strcmp(line, "READY=1") == 0 &&
		    kill(pid, SIGSTOP) == 0) {
			freeze_on_ready = 0;
			frozen = 1;
		}
		printf("MSG %lld %d %s\n", ms, pid, line);
	}
	if (frozen)
		printf("FROZEN %d\n", pid);
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	struct pollfd		 pfd;
	char			 buf[NOTIFY_MAX + 1], *end;
	long long		 start, deadline = 0, wait;
	long			 timeout = 0;
	ssize_t			 len;
	int			 fd, pid;

	if (argc > 1 && strcmp(argv[1], "-r") == 0) {
		freeze_on_ready = 1;
		argc--;
		argv++;
	}
	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: notify_listen [-r] PATH [TIMEOUT]\n");
		return 2;
	}
	if (argc == 3) {
		errno = 0;
		timeout = strtol(argv[2], &end, 10);
		if (errno || *end != '\0' || timeout <= 0 || timeout > 86400) {
			fprintf(stderr, "notify_listen: %s: bad timeout\n", argv[2]);
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((fd = notify_bind(argv[1])) == -1)
		return 1;
	start = now_ms();
	if (timeout)
		deadline = start + timeout * 1000;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop) {
		wait = deadline ? deadline - now_ms() : -1;
		if (deadline && wait <= 0)
			break;
		if (poll(&pfd, 1, wait > INT_MAX ? INT_MAX : (int)wait) == -1) {
			if (errno == EINTR)
				continue;
			perror("notify_listen: poll");
			break;
		}
		while ((len = notify_recv(fd, buf, sizeof(buf), &pid)) != -1)
			notify_print(now_ms() - start, pid, buf, len);
	}
	close(fd);
	unlink(argv[1]);
	return 0;
}
