/*
 * test_wake — the one way to wake an event loop (lib_wake.c): from a
 * thread, many signals coalescing into few callbacks with nothing lost,
 * a signal sent before the loop runs, the once mode, and a child process
 * writing into the wake's fd.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "wd_wake.h"

#define SIGNALS	10000

struct counter {
	struct event_base	*base;
	struct wd_wake		*w;
	pthread_mutex_t		 mu;
	unsigned		 produced;	/* by the thread, under mu */
	unsigned		 seen;		/* by the callbacks */
	unsigned		 calls;
};

static void
count_cb(void *arg)
{
	struct counter	*c = arg;

	c->calls++;
	pthread_mutex_lock(&c->mu);
	c->seen = c->produced;
	pthread_mutex_unlock(&c->mu);
	if (c->seen == SIGNALS)
		event_base_loopbreak(c->base);
}

static void *
producer(void *arg)
{
	struct counter	*c = arg;

	for (unsigned i = 0; i < SIGNALS; i++) {
		pthread_mutex_lock(&c->mu);
		c->produced++;
		pthread_mutex_unlock(&c->mu);
		assert_int_equal(wd_wake_signal(c->w), 0);
	}
	return NULL;
}

static void
test_thread(void **state)
{
	struct counter	 c;
	pthread_t	 t;

	(void)state;
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	assert_non_null(c.base = event_base_new());
	assert_non_null(c.w = wd_wake_new(c.base, count_cb, &c, 0));
	assert_int_equal(pthread_create(&t, NULL, producer, &c), 0);
	/* Ends only when the last signal's work has been seen: none lost. */
	assert_int_equal(event_base_dispatch(c.base), 0);
	pthread_join(t, NULL);
	assert_int_equal(c.seen, SIGNALS);
	assert_true(c.calls >= 1 && c.calls <= SIGNALS);
	wd_wake_free(c.w);
	event_base_free(c.base);
	pthread_mutex_destroy(&c.mu);
}

static void
once_cb(void *arg)
{
	(*(unsigned *)arg)++;
}

static void
test_before_loop_and_once(void **state)
{
	struct event_base	*base;
	struct wd_wake		*w;
	unsigned		 n = 0;

	(void)state;
	assert_non_null(base = event_base_new());
	assert_non_null(w = wd_wake_new(base, once_cb, &n, 1));
	assert_int_equal(wd_wake_signal(w), 0);
	assert_int_equal(wd_wake_signal(w), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(n, 1);
	/* Once: a later signal calls nobody (no event left: the loop ends). */
	assert_int_equal(wd_wake_signal(w), 0);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(n, 1);
	wd_wake_free(w);
	event_base_free(base);
}

static void
test_run_and_child(void **state)
{
	struct event_base	*base;
	struct wd_wake		*w;
	unsigned		 n = 0;
	pid_t			 pid;
	int			 st;

	(void)state;
	assert_non_null(base = event_base_new());
	assert_non_null(w = wd_wake_new(base, once_cb, &n, 0));
	/* Nothing pending: wd_wake_run calls nobody. */
	wd_wake_run(w);
	assert_int_equal(n, 0);
	/* A child process wakes the parent's loop through the fd. */
	assert_true((pid = fork()) != -1);
	if (pid == 0)
		_exit(write(wd_wake_fd(w), "x", 1) == 1 ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	wd_wake_run(w);
	assert_int_equal(n, 1);
	wd_wake_free(w);
	wd_wake_free(NULL);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_before_loop_and_once),
		cmocka_unit_test(test_run_and_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
