/*
 * warrantctl — the authorities' command-line client for warrantd. It sends
 * HI-1 request files to the carrier over mutual TLS, one POST per file on a
 * kept-alive connection, and tells the person at the keyboard, per file,
 * whether the carrier accepted it (with the carrier's reference) or why it
 * was refused, including a certificate refused during the TLS handshake.
 *
 * Exit status: 0 all accepted, 1 something refused (4xx or our certificate
 * refused), 2 anything else (usage, files, network, 5xx, nonsense answers).
 * The transport lives in ctl_net.c, HTTP in ctl_http.c, the reading of the
 * answer in ctl_resp.c; this file is the command line and the loop. The
 * commands that follow a request afterwards (status, list, fetch, cancel,
 * ratify, extend) are in ctl_life.c, on the same connection handling.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <libxml/parser.h>

#include "ctl.h"
#include "ctl_life.h"
#include "ctl_receive.h"

#define CTL_DEFAULT_TIMEOUT	30
#define CTL_MAX_TIMEOUT		3600

static void
usage(FILE *out)
{
	fprintf(out, "usage: warrantctl [--url URL] --cert FILE --key FILE "
	    "--cacert FILE\n"
	    "                  [--xml] [--timeout SECONDS] submit FILE...\n"
	    "       warrantctl [options] --authority ID --carrier ID "
	    "[--templates DIR] [--json]\n"
	    "                  status REF|UUID | list [--since T] [--type T] |\n"
	    "                  fetch REF|UUID -o DIR | cancel REF|UUID |\n"
	    "                  ratify REF|UUID --order FILE | "
	    "extend REF|UUID --until T\n"
	    "       warrantctl [options] [--json] desk queue [KEY=VALUE...] | "
	    "show REF |\n"
	    "                  approve REF | reject REF --reason TEXT | "
	    "hold REF --note TEXT |\n"
	    "                  release REF | reviewed REF | reopen REF | assign REF "
	    "OPERATOR |\n                  note REF TEXT   [--task UUID]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\nSubmit HI-1 (ETSI TS 103 120) request files to warrantd.\n\n"
	    "  --url URL          https://HOST[:PORT] (default %s)\n"
	    "  --cert FILE        your certificate (PEM, chain allowed)\n"
	    "  --key FILE         its private key (PEM)\n"
	    "  --cacert FILE      CA certificate(s) of the server\n"
	    "  --xml              print the server's XML, not a summary\n"
	    "  --timeout SECONDS  connect and inactivity limit (default %d)\n"
	    "  --authority ID     your authority's HI-1 identifier (status...)\n"
	    "  --carrier ID       the carrier's HI-1 identifier (status...)\n"
	    "  --templates DIR    the profile's templates (answers are "
	    "validated)\n"
	    "  --json             status, list: JSON instead of lines\n"
	    "  --help, --version\n\n"
	    "Commands: submit, status, list, fetch, cancel, ratify, extend "
	    "(docs/warrantctl.md);\n"
	    "desk (the carrier's compliance desk, docs/desk-api.md).\n"
	    "Exit status: 0 all accepted, 1 one or more refused (or a "
	    "delivery that does\nnot verify), 2 other failures.\n",
	    CTL_DEFAULT_URL, CTL_DEFAULT_TIMEOUT);
}

/* The whole file, at most CTL_MAX_BODY bytes, whatever its size claims. */
static int
read_file(const char *path, char **bufp, size_t *lenp)
{
	struct stat	 st;
	size_t		 cap = 65536, len = 0;
	ssize_t		 n;
	char		*buf = NULL, *nb;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (;;) {
		if (len == cap || buf == NULL) {
			if (buf != NULL)
				cap *= 2;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		if ((len += (size_t)n) > CTL_MAX_BODY) {
			fprintf(stderr, "warrantctl: %s: larger than the %d "
			    "bytes the server accepts\n", path, CTL_MAX_BODY);
			close(fd);
			free(buf);
			return -1;
		}
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
 fail:
	saved = errno;
	fprintf(stderr, "warrantctl: %s: %s\n", path, strerror(saved));
	if (fd != -1)
		close(fd);
	free(buf);
	return -1;
}

static enum ctl_result
report_failure(const struct ctl_state *st, const char *file,
    const struct ctl_err *err)
{
	if (err->kind == CTL_E_REFUSED) {
		fprintf(st->xml ? stderr : stdout, "%s: REFUSED by the server "
		    "during the TLS handshake: %s\n", file, err->msg);
		return CTL_REFUSED;
	}
	fprintf(stderr, "warrantctl: %s: %s%s\n", file,
	    err->kind == CTL_E_PROTOCOL ? "malformed answer: " : "", err->msg);
	return CTL_FAILED;
}

static enum ctl_result
submit(struct ctl_state *st, const char *file)
{
	struct ctl_response	 resp;
	struct ctl_err		 err;
	enum ctl_result		 rc;
	char			*body;
	size_t			 len;

	memset(&resp, 0, sizeof(resp));
	if (read_file(file, &body, &len) == -1)
		return CTL_FAILED;
	if (ctl_exchange(st, body, len, &resp, &err) == -1)
		rc = report_failure(st, file, &err);
	else if (st->xml) {
		fwrite(resp.body, 1, resp.bodylen, stdout);
		rc = ctl_resp_report(NULL, file, resp.status, resp.body,
		    resp.bodylen, body, len);
	} else
		rc = ctl_resp_report(stdout, file, resp.status, resp.body,
		    resp.bodylen, body, len);
	ctl_response_free(&resp);
	fflush(stdout);
	free(body);
	return rc;
}

static int
parse_timeout(const char *s, int *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    v > CTL_MAX_TIMEOUT)
		return -1;
	*out = (int)v;
	return 0;
}

static int
run(struct ctl_state *st, const char *cert, const char *key, const char *cacert,
    const struct ctl_life_opts *lo, const struct ctl_desk_opts *dk, char **argv,
    int argc)
{
	struct ctl_err	err;
	enum ctl_result	rc, worst = CTL_ACCEPTED;

	if ((st->ctx = ctl_tls_ctx(cert, key, cacert, &err)) == NULL) {
		fprintf(stderr, "warrantctl: %s\n", err.msg);
		return CTL_FAILED;
	}
	if (strcmp(argv[0], "desk") == 0)
		worst = ctl_desk_run(st, dk, argc - 1, argv + 1);
	else if (strcmp(argv[0], "submit") == 0) {
		ctl_resp_init();
		for (int i = 1; i < argc; i++)
			if ((rc = submit(st, argv[i])) > worst)
				worst = rc;
	} else
		worst = ctl_life_run(st, lo, argc, argv);
	ctl_close(st->conn);
	st->conn = NULL;
	SSL_CTX_free(st->ctx);
	xmlCleanupParser();
	return worst;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "url",	required_argument,	NULL, 'u' },
		{ "cert",	required_argument,	NULL, 'c' },
		{ "key",	required_argument,	NULL, 'k' },
		{ "cacert",	required_argument,	NULL, 'a' },
		{ "xml",	no_argument,		NULL, 'x' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "authority",	required_argument,	NULL, 'A' },
		{ "carrier",	required_argument,	NULL, 'C' },
		{ "templates",	required_argument,	NULL, 'T' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "since",	required_argument,	NULL, 's' },
		{ "type",	required_argument,	NULL, 'y' },
		{ "order",	required_argument,	NULL, 'O' },
		{ "until",	required_argument,	NULL, 'U' },
		{ "task",	required_argument,	NULL, 'K' },
		{ "reason",	required_argument,	NULL, 'R' },
		{ "note",	required_argument,	NULL, 'N' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_state st = { .timeout = CTL_DEFAULT_TIMEOUT };
	struct ctl_life_opts lo = { .authority = getenv("WARRANTCTL_AUTHORITY"),
	    .carrier = getenv("WARRANTCTL_CARRIER") };
	struct ctl_desk_opts dk = { 0 };
	struct ctl_err	 err;
	const char	*url = CTL_DEFAULT_URL, *cert = NULL, *key = NULL;
	const char	*cacert = NULL;
	int		 ch, rc;

	/* A server hanging up must be an error return, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	/* The authority's own endpoint: its options follow the command. */
	if (argc >= 2 && strcmp(argv[1], "receive") == 0)
		return ctl_receive_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'a':
			cacert = optarg;
			break;
		case 'x':
			st.xml = 1;
			break;
		case 't':
			if (parse_timeout(optarg, &st.timeout) == -1) {
				fprintf(stderr, "warrantctl: --timeout %s: "
				    "expected 1 to %d seconds\n", optarg,
				    CTL_MAX_TIMEOUT);
				return CTL_FAILED;
			}
			break;
		case 'A':
			lo.authority = optarg;
			break;
		case 'C':
			lo.carrier = optarg;
			break;
		case 'T':
			lo.templates = optarg;
			break;
		case 'j':
			lo.json = 1;
			break;
		case 'o':
			lo.outdir = optarg;
			break;
		case 's':
			lo.since = optarg;
			break;
		case 'y':
			lo.type = optarg;
			break;
		case 'O':
			lo.order = optarg;
			break;
		case 'U':
			lo.until = optarg;
			break;
		case 'K':
			dk.task = optarg;
			break;
		case 'R':
			dk.reason = optarg;
			break;
		case 'N':
			dk.note = optarg;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("warrantctl (warrantd) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return CTL_FAILED;
		}
	}
	argc -= optind;
	argv += optind;
	dk.json = lo.json;
	if (argc >= 1 && strcmp(argv[0], "submit") != 0 &&
	    strcmp(argv[0], "desk") != 0 && !ctl_life_command(argv[0]))
		fprintf(stderr, "warrantctl: unknown command: %s\n", argv[0]);
	else if (cert == NULL || key == NULL || cacert == NULL)
		fprintf(stderr, "warrantctl: --cert, --key and --cacert are "
		    "required\n");
	if (argc < 1 || (strcmp(argv[0], "submit") == 0 ? argc < 2 :
	    strcmp(argv[0], "desk") == 0 ? argc < 2 :
	    !ctl_life_command(argv[0])) || cert == NULL || key == NULL ||
	    cacert == NULL) {
		usage(stderr);
		return CTL_FAILED;
	}
	if (ctl_url_parse(url, &st.url, &err) == -1) {
		fprintf(stderr, "warrantctl: %s\n", err.msg);
		return CTL_FAILED;
	}
	rc = run(&st, cert, key, cacert, &lo, &dk, argv, argc);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "warrantctl: writing the results: %s\n",
		    strerror(errno));
		return CTL_FAILED;
	}
	return rc;
}
