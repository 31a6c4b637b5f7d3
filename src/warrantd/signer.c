/*
 * signer — warrantd's side of the checkpoint signer (see signer.h): the
 * fork, the requests (from the journal's writer thread, one at a time under
 * a mutex), the check of every note against the public key, and the
 * signer's death (logged once, checkpoints stop, journal_status says so).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "checkpoint.h"
#include "journal.h"
#include "log.h"
#include "signer.h"
#include "signer_impl.h"
#include "wd_bytes.h"

struct signer {
	pid_t			 pid;
	int			 fd;		/* our end of the socketpair */
	int			 pidfd;		/* -1: no pidfd, seen at use */
	struct event		*ev_exit;
	EVP_PKEY		*pub;
	char			 origin[CHECKPOINT_ORIGIN_MAX];
	pthread_mutex_t		 mu;		/* one request; broken */
	char			 broken[160];	/* "" while it signs */
};

/*
 * ---- frames -----------------------------------------------------------------
 * send and recv, not write and read: a socket's calls, the only ones the
 * child's filter allows on it (and no LD_PRELOAD'ed write wrapper of a test
 * runs in the sandbox).
 */

static int
signer_wait(int fd, short events, const struct timespec *end)
{
	struct pollfd	pfd = { fd, events, 0 };
	struct timespec	now;
	long		ms = -1;
	int		n;

	if (end != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end->tv_sec - now.tv_sec) * 1000 +
		    (end->tv_nsec - now.tv_nsec) / 1000000;
		if (ms < 0)
			ms = 0;
	}
	while ((n = poll(&pfd, 1, (int)ms)) == -1 && errno == EINTR)
		;
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

static int
signer_read_full(int fd, uint8_t *buf, size_t len, const struct timespec *end)
{
	ssize_t	n;

	while (len > 0) {
		if (end != NULL && signer_wait(fd, POLLIN, end) == -1)
			return -1;
		if ((n = recv(fd, buf, len, 0)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
signer_write_full(int fd, const uint8_t *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
signer_frame_write(int fd, const uint8_t *buf, size_t len)
{
	uint8_t	hdr[4];

	wd_put_be32(hdr, (uint32_t)len);
	if (signer_write_full(fd, hdr, sizeof(hdr)) == -1)
		return -1;
	return signer_write_full(fd, buf, len);
}

int
signer_frame_read(int fd, uint8_t *buf, size_t max, size_t *len,
    int timeout_ms)
{
	struct timespec	 end, *endp = NULL;
	uint8_t		 hdr[4];
	uint32_t	 n;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += timeout_ms / 1000;
		end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
		endp = &end;
	}
	if (signer_read_full(fd, hdr, sizeof(hdr), endp) == -1)
		return -1;
	if ((n = wd_get_be32(hdr)) == 0 || n > max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (signer_read_full(fd, buf, n, endp) == -1)
		return -1;
	*len = n;
	return 0;
}

/* ---- failure ------------------------------------------------------------------ */

/* Called with mu held: said once; the child is killed if still there. */
static void
signer_fail_locked(struct signer *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
signer_fail_locked(struct signer *s, const char *fmt, ...)
{
	va_list	ap;
	char	why[128];

	if (s->broken[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(s->broken, sizeof(s->broken), "the checkpoint signer %s", why);
	log_warnx("journal: the checkpoint signer (pid %d) %s: no new "
	    "checkpoints until warrantd is restarted (records are still "
	    "journaled; the first checkpoint after the restart covers them)",
	    (int)s->pid, why);
	if (s->pid > 0)
		kill(s->pid, SIGKILL);
}

static const char *
signer_broken(void *arg)
{
	static __thread char	 buf[sizeof(((struct signer *)0)->broken)];
	struct signer		*s = arg;

	pthread_mutex_lock(&s->mu);
	snprintf(buf, sizeof(buf), "%s", s->broken);
	pthread_mutex_unlock(&s->mu);
	return buf[0] != '\0' ? buf : NULL;
}

/* ---- signing (the journal's writer thread, or journal_close) ---------------- */

void
signer_request_make(uint8_t out[SIGNER_SIGN_LEN], const struct checkpoint *cp)
{
	out[0] = SIGNER_SIGN;
	wd_put_be64(out + 1, cp->size);
	memcpy(out + 9, cp->root, MERKLE_HASH_LEN);
}

int
signer_request_read(const uint8_t *buf, size_t len, const char *origin,
    struct checkpoint *cp)
{
	if (len != SIGNER_SIGN_LEN || buf[0] != SIGNER_SIGN)
		return -1;
	memset(cp, 0, sizeof(*cp));
	snprintf(cp->origin, sizeof(cp->origin), "%s", origin);
	cp->size = wd_get_be64(buf + 1);
	memcpy(cp->root, buf + 9, MERKLE_HASH_LEN);
	return 0;
}

char *
signer_answer_read(const uint8_t *buf, size_t len, EVP_PKEY *pub,
    const struct checkpoint *cp)
{
	struct checkpoint	 got;
	char			*note, err[128];

	if (len < 2 || len > SIGNER_FRAME_MAX || buf[0] != SIGNER_NOTE ||
	    (note = malloc(len)) == NULL)
		return NULL;
	memcpy(note, buf + 1, len - 1);
	note[len - 1] = '\0';
	if (checkpoint_verify(note, len - 1, pub, &got, err,
	    sizeof(err)) == -1 || got.size != cp->size ||
	    memcmp(got.root, cp->root, MERKLE_HASH_LEN) != 0 ||
	    strcmp(got.origin, cp->origin) != 0) {
		free(note);
		return NULL;
	}
	return note;
}

static char *
signer_sign(const struct checkpoint *cp, void *arg)
{
	struct signer	*s = arg;
	uint8_t		 req[SIGNER_SIGN_LEN], *ans;
	size_t		 len;
	char		*note = NULL;

	if (strcmp(cp->origin, s->origin) != 0) {
		log_warnx("journal: checkpoint origin %s is not the signer's %s",
		    cp->origin, s->origin);
		return NULL;
	}
	if ((ans = malloc(SIGNER_FRAME_MAX)) == NULL)
		return NULL;
	signer_request_make(req, cp);
	pthread_mutex_lock(&s->mu);
	if (s->broken[0] != '\0')
		;	/* said once already */
	else if (signer_frame_write(s->fd, req, sizeof(req)) == -1 ||
	    signer_frame_read(s->fd, ans, SIGNER_FRAME_MAX, &len,
	    SIGNER_TIMEOUT_MS) == -1)
		signer_fail_locked(s, "%s", errno == EPIPE || errno ==
		    ECONNRESET ? "closed its socket" : errno == ETIMEDOUT ?
		    "did not answer in time" : errno == EMSGSIZE ?
		    "sent a frame of a bad length" : strerror(errno));
	else if ((note = signer_answer_read(ans, len, s->pub, cp)) == NULL)
		signer_fail_locked(s, "answered with a note that does not "
		    "verify with its public key");
	pthread_mutex_unlock(&s->mu);
	free(ans);
	return note;
}

/* ---- its exit, on the loop ---------------------------------------------------- */

static void
signer_exited(evutil_socket_t fd, short what, void *arg)
{
	struct signer	*s = arg;
	int		 st = 0;
	pid_t		 r;

	(void)fd;
	(void)what;
	while ((r = waitpid(s->pid, &st, WNOHANG)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&s->mu);
	if (r != s->pid)
		signer_fail_locked(s, "is gone");
	else if (WIFSIGNALED(st))
		signer_fail_locked(s, "was killed by signal %d", WTERMSIG(st));
	else
		signer_fail_locked(s, "exited with status %d", WEXITSTATUS(st));
	if (r == s->pid)
		s->pid = -1;
	pthread_mutex_unlock(&s->mu);
}

int
signer_attach(struct signer *s, struct event_base *base)
{
	if ((s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0)) == -1) {
		log_warn("signer: pidfd_open: its exit is seen at the next "
		    "checkpoint");
		return 0;
	}
	if ((s->ev_exit = event_new(base, s->pidfd, EV_READ, signer_exited,
	    s)) == NULL || event_add(s->ev_exit, NULL) == -1) {
		log_warnx("signer: cannot watch its exit");
		return -1;
	}
	return 0;
}

/* ---- start and stop ------------------------------------------------------------ */

/* Its hello: the public key the notes verify with. */
static int
signer_hello(struct signer *s)
{
	uint8_t	buf[SIGNER_HELLO_LEN];
	size_t	len;

	if (signer_frame_read(s->fd, buf, sizeof(buf), &len,
	    SIGNER_TIMEOUT_MS) == -1 || len != SIGNER_HELLO_LEN ||
	    buf[0] != SIGNER_HELLO)
		return -1;
	s->pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, buf + 1,
	    SIGNER_PUB_LEN);
	return s->pub != NULL ? 0 : -1;
}

static void
signer_reap(struct signer *s)
{
	int	st, i;

	if (s->pid <= 0)
		return;
	for (i = 0; i < 200; i++) {	/* 2 s to see its socket close */
		if (waitpid(s->pid, &st, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(s->pid, SIGKILL);
	while (waitpid(s->pid, &st, 0) == -1 && errno == EINTR)
		;
}

struct signer *
signer_start(const char *key_path, const char *origin)
{
	struct signer	*s;
	int		 sv[2];

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return NULL;
	}
	s->fd = s->pidfd = -1;
	snprintf(s->origin, sizeof(s->origin), "%s", origin);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (s->pid = fork()) == -1) {
		log_warn("signer: cannot start");
		signer_free(s);
		return NULL;
	}
	if (s->pid == 0) {
		close(sv[0]);
		signer_child_main(sv[1], key_path, s->origin);
	}
	close(sv[1]);
	s->fd = sv[0];
	if (signer_hello(s) == -1) {
		log_warnx("signer: the checkpoint signer did not start (the "
		    "signing key %s: see above)", key_path);
		signer_free(s);
		return NULL;
	}
	log_info("journal: checkpoints signed by pid %d, the only process "
	    "holding the signing key", (int)s->pid);
	return s;
}

void
signer_journal(struct signer *s, struct journal_signer *js)
{
	js->sign = signer_sign;
	js->broken = signer_broken;
	js->arg = s;
	js->pub = s->pub;
}

pid_t
signer_pid(const struct signer *s)
{
	return s->pid;
}

void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	if (s->ev_exit != NULL)
		event_free(s->ev_exit);
	if (s->fd != -1)
		close(s->fd);		/* the child reads end of file, exits */
	signer_reap(s);
	if (s->pidfd != -1)
		close(s->pidfd);
	EVP_PKEY_free(s->pub);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
