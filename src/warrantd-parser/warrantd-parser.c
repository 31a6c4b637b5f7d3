/*
 * warrantd-parser — one parser worker: started by warrantd (src/warrantd/parsers.c)
 * with posix_spawn, so its memory never held a key. It loads the XSD
 * templates and dictionaries, closes every descriptor but its socket and
 * stderr, enters its sandbox (src/warrantd-parser/parser_sandbox.c) and from then on only
 * reads ParseJobs and writes ParseAnswers (proto/parser.proto) through the
 * shared codec: bytes in, a validated request or a structured refusal out.
 *
 *	warrantd-parser -s FD -T TEMPLATES_DIR
 *
 * WARRANTD_PARSER_TEST_HOOKS=1 in the environment (tests only, never in
 * production: docs/architecture.md) makes a body that starts with
 * WD-TEST-OPEN, WD-TEST-SOCKET or WD-TEST-STALL try open(2), socket(2), or
 * wait for ever, so that tests can watch the sandbox and the supervisor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "hi1.h"
#include "log.h"
#include "parser_msg.h"
#include "parser_sandbox.h"

#define PW_EXIT_PROTOCOL	3	/* the parent sent what it never sends */

static int	pw_hooks;

/* All of n bytes, or -1 (EOF or error). */
static int
pw_read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
pw_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = write(fd, p, n)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The test hooks: what the sandbox lets through, if anything, is refused. */
static int
pw_test_hook(int sock, const uint8_t *body, size_t len, struct wd_error *err)
{
	uint8_t	b;
	int	fd;

	if (!pw_hooks || len < 12 || memcmp(body, "WD-TEST-", 8) != 0)
		return 0;
	if (len >= 12 && memcmp(body + 8, "OPEN", 4) == 0) {
		fd = open("/etc/hostname", O_RDONLY);
		wd_error_set(err, WD_ERR_INTERNAL, "test hook: open() %s",
		    fd == -1 ? strerror(errno) : "succeeded");
		return -1;
	}
	if (len >= 14 && memcmp(body + 8, "SOCKET", 6) == 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		wd_error_set(err, WD_ERR_INTERNAL, "test hook: socket() %s",
		    fd == -1 ? strerror(errno) : "succeeded");
		return -1;
	}
	if (len >= 13 && memcmp(body + 8, "STALL", 5) == 0)
		(void)read(sock, &b, 1);	/* the parent sends nothing now */
	return 0;
}

/* One job: parse, answer. -1 if the parent cannot be answered. */
static int
pw_job(int sock, const struct hi1_schema *hs, const Warrant__Parser__ParseJob *job)
{
	static struct hi1_request	 req;
	struct wd_error			 err;
	uint8_t				*frame;
	size_t				 flen;
	int				 rc;

	memset(&err, 0, sizeof(err));
	if (pw_test_hook(sock, job->body.data, job->body.len, &err) == -1)
		rc = -1;
	else if (job->max_body != 0 && job->body.len > job->max_body) {
		wd_error_set(&err, WD_ERR_BODY_TOO_LARGE, "body over %u bytes",
		    job->max_body);
		rc = -1;
	} else
		rc = hi1_parse_request(hs, (const char *)job->body.data,
		    job->body.len, &req, &err);
	frame = parser_msg_answer(job->id, &req, rc == 0 ? NULL : &err, &flen);
	if (frame == NULL)
		return -1;
	rc = pw_write_all(sock, frame, flen);
	free(frame);
	return rc;
}

static void
pw_loop(int sock, const struct hi1_schema *hs)
{
	ProtobufCMessage	*m;
	uint8_t			 hdr[CODEC_HDR], *buf;
	uint32_t		 n;
	char			 why[160];

	for (;;) {
		if (pw_read_all(sock, hdr, sizeof(hdr)) == -1)
			_exit(0);	/* the parent closed: done */
		if (codec_frame_len(&parser_job_spec, hdr, &n, why,
		    sizeof(why)) == -1 || (buf = malloc(n)) == NULL)
			_exit(PW_EXIT_PROTOCOL);
		if (pw_read_all(sock, buf, n) == -1)
			_exit(0);
		m = codec_unpack(&parser_job_spec, buf, n, why, sizeof(why));
		free(buf);
		if (m == NULL)
			_exit(PW_EXIT_PROTOCOL);
		if (pw_job(sock, hs, (Warrant__Parser__ParseJob *)m) == -1)
			_exit(0);
		codec_free(m);
	}
}

/* Every descriptor but 0, 1, 2 and the socket is closed. */
static int
pw_close_others(int sock)
{
	if (sock > 3 && close_range(3, (unsigned)sock - 1, 0) == -1)
		return -1;
	return close_range((unsigned)sock + 1, ~0U, 0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: warrantd-parser -s fd -T templates-dir\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct hi1_schema	*hs;
	const char		*dir = NULL, *e;
	struct timespec		 ts;
	int			 ch, sock = -1;

	while ((ch = getopt(argc, argv, "s:T:")) != -1) {
		switch (ch) {
		case 's': sock = atoi(optarg); break;
		case 'T': dir = optarg; break;
		default: usage();
		}
	}
	if (sock < 3 || dir == NULL || optind != argc)
		usage();
	log_init("warrantd-parser", 1, 0);
	/*
	 * Stopping is warrantd's to decide: a SIGTERM or SIGINT sent to the
	 * whole group (systemd's stop, ^C) must not fail requests in flight;
	 * warrantd kills its workers itself, and a worker whose warrantd is
	 * gone reads end-of-file and exits.
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	pw_hooks = (e = getenv("WARRANTD_PARSER_TEST_HOOKS")) != NULL &&
	    strcmp(e, "1") == 0;
	hi1_init();
	if ((hs = hi1_schema_load(dir)) == NULL)
		fatalx("templates %s not usable", dir);
	/* What the sandbox would refuse later: the zone, the vDSO clock. */
	tzset();
	clock_gettime(CLOCK_REALTIME, &ts);
	if (pw_close_others(sock) == -1)
		fatal("close_range");
	if (parser_sandbox_enter(sock) == -1)
		fatal("seccomp filter not in force; refusing to parse");
	pw_loop(sock, hs);
	return 0;
}
