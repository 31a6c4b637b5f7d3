/*
 * warrant-backend — main: the three modes (serve, --generate, --digest),
 * their options, and the start-up order of the server (pool and stores
 * first, so that a bad database fails before anything listens; READY only
 * once listening). See docs/backend.md.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "refbe_gen.h"
#include "refbe_server.h"
#include "log.h"

#define LOCAL_OFFSET_S	(6 * 3600)	/* America/Mexico_City, UTC-6 */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: warrant-backend [-dv] --db FILE --listen unix:PATH|HOST:PORT\n"
	    "           [--tls-cert F --tls-key F --tls-ca F] [--workers N]\n"
	    "           [--retention-days N] [--chunk-records N] [--high-water BYTES]\n"
	    "       warrant-backend --generate DB --subscribers N --days D --seed S\n"
	    "           [--end YYYY-MM-DD]\n"
	    "       warrant-backend --digest DB\n"
	    "  -d  stay in the foreground, log to stderr;  -v  verbose\n"
	    "  TCP requires mutual TLS; unix sockets are created mode 0600.\n");
	exit(2);
}

static uint64_t
number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno || v < min || v > max) {
		fprintf(stderr, "warrant-backend: %s: %s is not a number in %" PRIu64
		    "..%" PRIu64 "\n", opt, s, min, max);
		exit(2);
	}
	return v;
}

static int64_t
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* Local midnight that starts DATE (the end of the data, exclusive); by
 * default the end of the current local day. */
static int64_t
end_us(const char *date)
{
	int	y, m, d;
	char	c;
	int64_t	days;

	if (date == NULL) {
		days = ((int64_t)time(NULL) - LOCAL_OFFSET_S) / 86400 + 1;
	} else {
		if (sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &c) != 3 || y < 2000 ||
		    y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) {
			fprintf(stderr, "warrant-backend: --end: YYYY-MM-DD expected\n");
			exit(2);
		}
		days = days_from_civil(y, m, d);
	}
	return (days * 86400 + LOCAL_OFFSET_S) * 1000000;
}

static int
generate(struct refbe_gen_params *p, int have_n, int have_days, int have_seed)
{
	struct timespec	t0, t1;
	struct stat	st;

	if (!have_n || !have_days || !have_seed) {
		fprintf(stderr, "warrant-backend: --generate needs --subscribers, "
		    "--days and --seed\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (refbe_gen_generate(p) == -1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (stat(p->path, &st) == 0)
		log_info("generate: %s: %" PRIu64 " subscribers x %u days in %.1f s, "
		    "%.1f MB", p->path, p->subscribers, p->days,
		    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		    (double)st.st_size / 1e6);
	return 0;
}

static int
digest(const char *path)
{
	uint8_t md[32];

	if (refbe_gen_digest(path, md) == -1)
		return 1;
	for (int i = 0; i < 32; i++)
		printf("%02x", md[i]);
	printf("  %s\n", path);
	return 0;
}

enum { O_DB = 256, O_LISTEN, O_CERT, O_KEY, O_CA, O_WORKERS, O_RETENTION,
    O_CHUNK, O_HIGH_WATER, O_GENERATE, O_SUBSCRIBERS, O_DAYS, O_SEED, O_END,
    O_DIGEST };

static const struct option longopts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "tls-cert", required_argument, NULL, O_CERT },
	{ "tls-key", required_argument, NULL, O_KEY },
	{ "tls-ca", required_argument, NULL, O_CA },
	{ "workers", required_argument, NULL, O_WORKERS },
	{ "retention-days", required_argument, NULL, O_RETENTION },
	{ "chunk-records", required_argument, NULL, O_CHUNK },
	{ "high-water", required_argument, NULL, O_HIGH_WATER },
	{ "generate", required_argument, NULL, O_GENERATE },
	{ "subscribers", required_argument, NULL, O_SUBSCRIBERS },
	{ "days", required_argument, NULL, O_DAYS },
	{ "seed", required_argument, NULL, O_SEED },
	{ "end", required_argument, NULL, O_END },
	{ "digest", required_argument, NULL, O_DIGEST },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	struct refbe_srv_opts	 o = { .workers = 4, .retention_days = 730,
				    .chunk_records = REFBE_WIRE_MAX_CHUNK,
				    .high_water = REFBE_SRV_HIGH_WATER };
	struct refbe_gen_params	 g = { 0 };
	struct refbe_srv		*srv;
	const char		*digest_path = NULL, *end = NULL;
	int			 ch, fg = 0, verbose = 0, hn = 0, hd = 0, hs = 0, rc;

	while ((ch = getopt_long(argc, argv, "dv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': fg = 1; break;
		case 'v': verbose++; break;
		case O_DB: o.db = optarg; break;
		case O_LISTEN: o.listen = optarg; break;
		case O_CERT: o.tls_cert = optarg; break;
		case O_KEY: o.tls_key = optarg; break;
		case O_CA: o.tls_ca = optarg; break;
		case O_WORKERS: o.workers = (unsigned)number("--workers", optarg, 1, 64); break;
		case O_RETENTION:
			o.retention_days = (unsigned)number("--retention-days", optarg, 1, 36500);
			break;
		case O_CHUNK:
			o.chunk_records = (unsigned)number("--chunk-records", optarg, 1,
			    REFBE_WIRE_MAX_CHUNK);
			break;
		case O_HIGH_WATER:
			o.high_water = number("--high-water", optarg, 1024, 64 << 20);
			break;
		case O_GENERATE: g.path = optarg; break;
		case O_SUBSCRIBERS:
			g.subscribers = number("--subscribers", optarg, 1, 4000000), hn = 1;
			break;
		case O_DAYS: g.days = (unsigned)number("--days", optarg, 1, 3660), hd = 1; break;
		case O_SEED: g.seed = number("--seed", optarg, 0, UINT64_MAX), hs = 1; break;
		case O_END: end = optarg; break;
		case O_DIGEST: digest_path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (g.path || digest_path) {
		log_init("warrant-backend", 1, verbose);
		if (g.path) {
			g.end_us = end_us(end);
			return generate(&g, hn, hd, hs);
		}
		return digest(digest_path);
	}
	if (o.db == NULL || o.listen == NULL)
		usage();
	log_init("warrant-backend", fg, verbose);
	if ((srv = refbe_srv_new(&o)) == NULL)
		fatalx("not started");
	rc = refbe_srv_run(srv);
	refbe_srv_free(srv);
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}
