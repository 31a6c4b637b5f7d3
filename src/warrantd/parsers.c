/*
 * parsers — the pool of parser workers (include/parsers.h): spawning,
 * handing out bodies, reading answers, and supervision (kill, refuse,
 * restart with backoff). Runs on warrantd's event loop; the workers are
 * separate programs, so nothing here trusts what comes back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "codec.h"
#include "log.h"
#include "parser_msg.h"
#include "parsers.h"

extern char **environ;

#define PARSERS_BACKOFF_MAX_MS	10000	/* between restarts of a failing worker */
#define PARSERS_STABLE_S	60	/* up this long: its failures are forgotten */
#define PARSERS_ENV_MAX		8	/* variables passed on to a worker */

struct parsers_job {
	TAILQ_ENTRY(parsers_job) entry;
	uint64_t		 id;
	uint8_t			*frame;
	size_t			 flen;
	struct hi1_request	*req;
	struct wd_error		*err;
	parsers_done_fn		 done;
	void			*arg;
};
TAILQ_HEAD(parsers_queue, parsers_job);

struct parsers_worker {
	struct parsers		*p;
	unsigned		 idx;
	pid_t			 pid;		/* -1: not running */
	int			 fd;
	struct bufferevent	*bev;
	struct parsers_job	*job;		/* the body it has now */
	struct event		*timer;		/* the job's time bound */
	struct event		*restart;	/* the backoff */
	unsigned		 fails;		/* in a row */
	time_t			 started;
	bool			 retire;	/* restart after this job */
};

struct parsers {
	struct event_base	*base;
	char			 exe[PATH_MAX];
	char			 templates[PATH_MAX];
	char			*env[PARSERS_ENV_MAX + 1];	/* copies */
	size_t			 max_body;
	unsigned		 n;
	struct parsers_worker	 w[PARSERS_MAX];
	struct parsers_queue	 queue;
	size_t			 queued;
	uint64_t		 next_id;
};

static void	parsers_dispatch(struct parsers *);
static void	parsers_worker_attach(struct parsers_worker *);
static void	parsers_worker_schedule(struct parsers_worker *);

/* --- starting and stopping a worker --------------------------------------- */

static int
parsers_find_exe(struct parsers *p)
{
	char	self[PATH_MAX], *slash;
	ssize_t	n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
		log_warn("parsers: /proc/self/exe");
		return -1;
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((size_t)snprintf(p->exe, sizeof(p->exe), "%s/warrantd-parser",
	    self) >= sizeof(p->exe) || access(p->exe, X_OK) == -1) {
		log_warn("parsers: %s", p->exe);
		return -1;
	}
	return 0;
}

/*
 * The worker's environment: only what it reads (the test hooks' switch)
 * and the sanitizers' settings of a test build. Nothing else is passed on:
 * no LD_PRELOAD (a shim of ours would break its sandbox, another's would
 * run in it), no variable that is none of its business.
 */
static const char *parsers_env_keep[] = {
	"WARRANTD_PARSER_TEST_HOOKS=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
	"LSAN_OPTIONS=",
};

static void
parsers_make_env(struct parsers *p)
{
	size_t n = 0;

	for (char **e = environ; *e != NULL; e++)
		for (size_t k = 0; k < sizeof(parsers_env_keep) /
		    sizeof(parsers_env_keep[0]) && n < PARSERS_ENV_MAX; k++)
			if (strncmp(*e, parsers_env_keep[k],
			    strlen(parsers_env_keep[k])) == 0)
				if ((p->env[n] = strdup(*e)) != NULL)
					n++;
	p->env[n] = NULL;
}

/*
 * posix_spawn: the child shares our memory only until it execs (vfork
 * semantics), runs nothing of ours, and the program it becomes never
 * held a key. Its end of the socketpair is the one descriptor it keeps.
 */
static int
parsers_worker_spawn(struct parsers_worker *w)
{
	struct parsers	*p = w->p;
	char		 fdarg[16];
	char		*argv[] = { "warrantd-parser", "-s", fdarg, "-T",
			    p->templates, NULL };
	int		 sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("parsers: socketpair");
		return -1;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	if (fcntl(sv[1], F_SETFD, 0) == -1)
		rc = errno;
	else
		rc = posix_spawn(&w->pid, p->exe, NULL, NULL, argv, p->env);
	if (rc != 0) {
		log_warnx("parsers: cannot start %s: %s", p->exe, strerror(rc));
		close(sv[0]);
		close(sv[1]);
		w->pid = -1;
		return -1;
	}
	close(sv[1]);
	w->fd = sv[0];
	w->started = time(NULL);
	w->retire = false;
	if (fcntl(w->fd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("parsers: nonblocking");
	if (p->base != NULL)
		parsers_worker_attach(w);
	log_debug("parser worker %u started (pid %d)", w->idx, (int)w->pid);
	return 0;
}

/* Kill and reap: how it ended, for the log and the refused request. */
static void
parsers_worker_kill(struct parsers_worker *w, char *how, size_t len)
{
	int st = 0;

	snprintf(how, len, "not running");
	if (w->bev != NULL) {
		bufferevent_free(w->bev);	/* closes the socket */
		w->bev = NULL;
	} else if (w->pid != -1)
		close(w->fd);
	if (w->timer != NULL)
		evtimer_del(w->timer);
	if (w->pid <= 0)	/* never kill(0 or -1, ...): only our child */
		return;
	if (waitpid(w->pid, &st, WNOHANG) == 0) {
		kill(w->pid, SIGKILL);
		while (waitpid(w->pid, &st, 0) == -1 && errno == EINTR)
			;
	}
	if (WIFSIGNALED(st))
		snprintf(how, len, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else if (WIFEXITED(st))
		snprintf(how, len, "exited with status %d", WEXITSTATUS(st));
	w->pid = -1;
	w->fd = -1;
}

static void
parsers_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parsers_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->pid == -1 && parsers_worker_spawn(w) == -1) {
		parsers_worker_schedule(w);
		return;
	}
	parsers_dispatch(w->p);
}

/* Start again: at once if it had been up a while, else after a backoff. */
static void
parsers_worker_schedule(struct parsers_worker *w)
{
	struct timeval	tv = { 0, 0 };
	unsigned	ms;

	if (time(NULL) - w->started >= PARSERS_STABLE_S)
		w->fails = 0;
	if (w->fails > 0) {
		ms = w->fails >= 7 ? PARSERS_BACKOFF_MAX_MS :
		    100u << (w->fails - 1);
		if (ms > PARSERS_BACKOFF_MAX_MS)
			ms = PARSERS_BACKOFF_MAX_MS;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		log_warnx("parser worker %u failed %u times in a row: started "
		    "again in %u ms", w->idx, w->fails + 1, ms);
	}
	w->fails++;
	if (w->restart != NULL)
		evtimer_add(w->restart, &tv);
}

/* The job ends: its storage holds the answer, or err says why not. */
static void
parsers_job_done(struct parsers_job *job, bool parsed)
{
	job->done(job->arg, parsed);
	free(job->frame);
	free(job);
}

static void
parsers_job_refuse(struct parsers_job *job, const char *text)
{
	memset(job->req, 0, sizeof(*job->req));
	wd_error_set(job->err, WD_ERR_INTERNAL, "%s", text);
	parsers_job_done(job, false);
}

/*
 * A worker failed (died, timed out, or broke the protocol): its request is
 * refused, nothing decided on it; the worker is killed and started again.
 */
static void
parsers_worker_fail(struct parsers_worker *w, const char *what)
{
	struct parsers_job	*job = w->job;
	char			 how[96], text[200];

	w->job = NULL;
	parsers_worker_kill(w, how, sizeof(how));
	log_warnx("parser worker %u %s; %s%s", w->idx, what, how,
	    job ? "; its request is refused" : "");
	parsers_worker_schedule(w);
	if (job != NULL) {
		snprintf(text, sizeof(text), "the request could not be parsed: "
		    "its parser worker failed (%s); nothing was decided on it",
		    how);
		parsers_job_refuse(job, text);
	}
	parsers_dispatch(w->p);
}

/* --- the conversation ----------------------------------------------------- */

static void
parsers_answer(struct parsers_worker *w, const Warrant__Parser__ParseAnswer *a)
{
	struct parsers_job	*job = w->job;
	char			 why[160], what[200];
	bool			 parsed;

	if (job == NULL || a->id != job->id) {
		parsers_worker_fail(w, job ? "answered another job" :
		    "answered without a job");
		return;
	}
	if (parser_msg_answer_read(a, job->req, job->err, &parsed, why,
	    sizeof(why)) == -1) {
		snprintf(what, sizeof(what), "sent an invalid answer (%s)", why);
		parsers_worker_fail(w, what);
		return;
	}
	w->job = NULL;
	evtimer_del(w->timer);
	parsers_job_done(job, parsed);
	if (w->retire) {
		char how[96];

		parsers_worker_kill(w, how, sizeof(how));
		w->fails = 0;
		if (parsers_worker_spawn(w) == -1)
			parsers_worker_schedule(w);
	}
	parsers_dispatch(w->p);
}

static void
parsers_readcb(struct bufferevent *bev, void *arg)
{
	struct parsers_worker	*w = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	ProtobufCMessage	*m;
	uint8_t			 hdr[CODEC_HDR];
	const uint8_t		*buf;
	uint32_t		 n;
	size_t			 used;
	char			 why[160], what[200];

	while (w->bev == bev && evbuffer_get_length(in) >= CODEC_HDR) {
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if (codec_frame_len(&parser_answer_spec, hdr, &n, why,
		    sizeof(why)) == -1) {
			snprintf(what, sizeof(what), "sent a bad frame (%s)", why);
			return parsers_worker_fail(w, what);
		}
		if (evbuffer_get_length(in) < CODEC_HDR + (size_t)n)
			return;
		if ((buf = evbuffer_pullup(in, CODEC_HDR + (ssize_t)n)) == NULL)
			return parsers_worker_fail(w, "could not be read (memory)");
		if (codec_decode(&parser_answer_spec, buf, CODEC_HDR + n, &m,
		    &used, why, sizeof(why)) != CODEC_OK) {
			snprintf(what, sizeof(what), "sent a bad answer (%s)", why);
			return parsers_worker_fail(w, what);
		}
		evbuffer_drain(in, used);
		parsers_answer(w, (Warrant__Parser__ParseAnswer *)m);
		codec_free(m);
	}
}

static void
parsers_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	parsers_worker_fail(arg, what & BEV_EVENT_EOF ? "closed its socket" :
	    "socket error");
}

static void
parsers_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	char what[64];

	(void)fd;
	(void)ev;
	snprintf(what, sizeof(what), "exceeded its time bound of %d s on one "
	    "body", PARSERS_TIMEOUT_S);
	parsers_worker_fail(arg, what);
}

static void
parsers_worker_attach(struct parsers_worker *w)
{
	w->bev = bufferevent_socket_new(w->p->base, w->fd, BEV_OPT_CLOSE_ON_FREE);
	if (w->bev == NULL) {
		log_warnx("parsers: no bufferevent");
		return;
	}
	bufferevent_setcb(w->bev, parsers_readcb, NULL, parsers_eventcb, w);
	bufferevent_enable(w->bev, EV_READ | EV_WRITE);
}

/* --- the pool --------------------------------------------------------------- */

static void
parsers_dispatch(struct parsers *p)
{
	struct parsers_job	*job;
	struct timeval		 tv = { PARSERS_TIMEOUT_S, 0 };

	for (unsigned i = 0; i < p->n && !TAILQ_EMPTY(&p->queue); i++) {
		struct parsers_worker *w = &p->w[i];

		if (w->pid == -1 || w->bev == NULL || w->job != NULL)
			continue;
		job = TAILQ_FIRST(&p->queue);
		TAILQ_REMOVE(&p->queue, job, entry);
		p->queued--;
		w->job = job;
		evtimer_add(w->timer, &tv);
		if (bufferevent_write(w->bev, job->frame, job->flen) == -1) {
			parsers_worker_fail(w, "could not be written to");
			return;
		}
	}
}

struct parsers *
parsers_start(unsigned n, const char *templates_dir, size_t max_body)
{
	struct parsers	*p;
	long		 cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned	 up = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	TAILQ_INIT(&p->queue);
	p->n = n != 0 ? n : cores > 0 ? (unsigned)cores : 1;
	if (p->n > PARSERS_MAX)
		p->n = PARSERS_MAX;
	for (unsigned i = 0; i < p->n; i++) {
		p->w[i].p = p;
		p->w[i].idx = i;
		p->w[i].fd = -1;
		p->w[i].pid = -1;
	}
	p->max_body = max_body;
	snprintf(p->templates, sizeof(p->templates), "%s", templates_dir);
	parsers_make_env(p);
	if (parsers_find_exe(p) == -1) {
		parsers_free(p);
		return NULL;
	}
	for (unsigned i = 0; i < p->n; i++)
		if (parsers_worker_spawn(&p->w[i]) == 0)
			up++;
	if (up == 0) {
		parsers_free(p);
		return NULL;
	}
	log_info("%u parser workers started (%s)", up, p->exe);
	return p;
}

int
parsers_attach(struct parsers *p, struct event_base *base)
{
	p->base = base;
	for (unsigned i = 0; i < p->n; i++) {
		struct parsers_worker *w = &p->w[i];

		w->timer = evtimer_new(base, parsers_timeout_cb, w);
		w->restart = evtimer_new(base, parsers_restart_cb, w);
		if (w->timer == NULL || w->restart == NULL)
			return -1;
		if (w->pid != -1)
			parsers_worker_attach(w);
		else
			parsers_worker_schedule(w);
	}
	return 0;
}

unsigned
parsers_count(const struct parsers *p)
{
	return p->n;
}

size_t
parsers_pids(const struct parsers *p, int *pids, size_t max)
{
	size_t k = 0;

	for (unsigned i = 0; i < p->n && k < max; i++)
		if (p->w[i].pid != -1)
			pids[k++] = (int)p->w[i].pid;
	return k;
}

int
parsers_submit(struct parsers *p, const char *body, size_t len,
    struct hi1_request *req, struct wd_error *err, parsers_done_fn done,
    void *arg)
{
	struct parsers_job *job;

	if (p->queued >= PARSERS_QUEUE_MAX) {
		wd_error_set(err, WD_ERR_OVERLOADED, "too many requests wait "
		    "for a parser");
		return -1;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->frame = parser_msg_job(++p->next_id, body, len, p->max_body,
	    &job->flen)) == NULL) {
		free(job);
		wd_error_set(err, WD_ERR_INTERNAL, "out of memory");
		return -1;
	}
	job->id = p->next_id;
	job->req = req;
	job->err = err;
	job->done = done;
	job->arg = arg;
	TAILQ_INSERT_TAIL(&p->queue, job, entry);
	p->queued++;
	parsers_dispatch(p);
	return 0;
}

void
parsers_reconfigure(struct parsers *p, const char *templates_dir,
    size_t max_body)
{
	/* Always: the files may have changed under the same directory. */
	if (p == NULL)
		return;
	snprintf(p->templates, sizeof(p->templates), "%s", templates_dir);
	p->max_body = max_body;
	for (unsigned i = 0; i < p->n; i++) {
		struct parsers_worker	*w = &p->w[i];
		char			 how[96];

		if (w->job != NULL) {
			w->retire = true;
			continue;
		}
		parsers_worker_kill(w, how, sizeof(how));
		w->fails = 0;
		if (parsers_worker_spawn(w) == -1)
			parsers_worker_schedule(w);
	}
	log_info("parser workers restarted with templates %s", p->templates);
}

void
parsers_free(struct parsers *p)
{
	struct parsers_job	*job;
	char			 how[96];

	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->n; i++) {
		struct parsers_worker *w = &p->w[i];

		job = w->job;
		w->job = NULL;
		parsers_worker_kill(w, how, sizeof(how));
		if (job != NULL)
			parsers_job_refuse(job, "the daemon stopped before "
			    "the request was parsed");
		if (w->timer)
			event_free(w->timer);
		if (w->restart)
			event_free(w->restart);
	}
	while ((job = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, job, entry);
		parsers_job_refuse(job, "the daemon stopped before the "
		    "request was parsed");
	}
	for (size_t i = 0; p->env[i] != NULL; i++)
		free(p->env[i]);
	free(p);
}
