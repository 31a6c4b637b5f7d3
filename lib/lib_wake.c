/*
 * lib_wake.c — owns waking an event loop from elsewhere: the journal's
 * writer thread, the results finisher, the proof builders, the reference
 * back end's workers (include/wd_wake.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "wd_wake.h"

struct wd_wake {
	int		 fd[2];
	struct event	*ev;
	void		(*cb)(void *);
	void		*arg;
};

static int
wake_drain(struct wd_wake *w)
{
	char	 buf[64];
	ssize_t	 n;
	int	 got = 0;

	while ((n = read(w->fd[0], buf, sizeof(buf))) > 0)
		got = 1;
	return got;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wd_wake	*w = arg;

	(void)fd;
	(void)what;
	wake_drain(w);
	w->cb(w->arg);
}

struct wd_wake *
wd_wake_new(struct event_base *base, void (*cb)(void *), void *arg, int once)
{
	struct wd_wake	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("wake");
		return NULL;
	}
	w->cb = cb;
	w->arg = arg;
	if (pipe2(w->fd, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("wake: pipe");
		free(w);
		return NULL;
	}
	/* Added before anyone can signal it, so no wake is ever lost. */
	if ((w->ev = event_new(base, w->fd[0], EV_READ | (once ? 0 : EV_PERSIST),
	    wake_cb, w)) == NULL || event_add(w->ev, NULL) == -1) {
		log_warnx("wake: cannot watch the pipe");
		wd_wake_free(w);
		return NULL;
	}
	return w;
}

int
wd_wake_signal(struct wd_wake *w)
{
	static const char	 one = 1;
	int			 saved = errno;

	if (write(w->fd[1], &one, 1) == -1 && errno != EAGAIN)
		return -1;
	errno = saved;
	return 0;
}

int
wd_wake_fd(const struct wd_wake *w)
{
	return w->fd[1];
}

void
wd_wake_run(struct wd_wake *w)
{
	if (wake_drain(w))
		w->cb(w->arg);
}

void
wd_wake_free(struct wd_wake *w)
{
	if (w == NULL)
		return;
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->fd[0] != -1)
		close(w->fd[0]);
	if (w->fd[1] != -1)
		close(w->fd[1]);
	free(w);
}
