/*
 * qbench — the compliance desk's queue with many open tasks (issue 10,
 * bench/desk/README.md): fills an object store (encrypted bodies, as the
 * daemon's) with N open tasks through store_apply() of acceptance records
 * built from etc/samples/records.xml, then times the desk's own handler
 * (src/warrantd/desk.c, desk_handle) for the console's first page and a search by
 * carrier reference, and, for comparison, searches that still read every
 * open task. The HTTP and TLS layers are left out: they cost the same
 * whatever the queue holds.
 *
 * With "stats" after RUNS it fills another store with a day of TASKS
 * tasks instead (created over today, local time, half of them answered
 * 1 s to 2 h later) and times a day's statistics (GET /desk/api/stats,
 * src/warrantd/desk_board.c) and the urgent-orders board.
 *
 * usage: qbench TOP_SRCDIR STATE_DIR [TASKS [RUNS [stats]]]
 * Prints one line per figure: "name runs p50_ms p99_ms max_ms total".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "desk.h"
#include "hi1.h"
#include "journal.h"
#include "log.h"
#include "obj.h"
#include "store.h"

#define OWNER	"FGR"

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "r")) == NULL || fseek(f, 0, SEEK_END) == -1 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) == -1 ||
	    (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "qbench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* N/2 acceptances of records.xml (two tasks each), fresh ids, spread clocks. */
static bool	 day_mode;	/* "stats": a day of tasks, half answered */
static unsigned	 retried;	/* store_apply tried again */

/*
 * store_apply as the daemon does it: a record the store failed to apply
 * (rolled back: SQLite busy past its timeout while the checkpoint thread
 * truncates the WAL, on a loaded machine) is tried again, up to 3 times.
 */
static int
apply(struct store *st, const Warrant__Record *rec)
{
	for (int i = 0; i < 3; i++) {
		if (store_apply(st, rec) == 0)
			return 0;
		retried++;
	}
	return -1;
}
static int64_t	 day_start;	/* local midnight today, µs */

/* The day mode's answer: both tasks of acceptance i Disclosed, later. */
static void
answer(struct store *st, const struct hi1_request *req, unsigned i,
    int64_t created)
{
	Warrant__Transition	 tr[2], *trp[2];
	Warrant__Record		 rec;

	warrant__record__init(&rec);
	for (size_t k = 0; k < 2; k++) {
		warrant__transition__init(&tr[k]);
		tr[k].object_id = (char *)req->tasks[k].object_id;
		tr[k].status = "Disclosed";
		tr[k].previous_status = "AwaitingDisclosure";
		tr[k].generation = 2;
		trp[k] = &tr[k];
	}
	rec.seq = (uint64_t)i * 2 + 1;
	rec.time_us = created + (int64_t)(1 + (i * 7919u) % 7200) * 1000000;
	rec.event = WARRANT__EVENT_TYPE__EVENT_OBJECT_CHANGED;
	rec.authority_id = OWNER;
	rec.n_transitions = 2;
	rec.transitions = trp;
	if (apply(st, &rec) == -1) {
		fprintf(stderr, "qbench: answer %u not applied\n", i);
		exit(1);
	}
}

static void
fill(struct store *st, const struct hi1_request *tmpl, unsigned n)
{
	struct hi1_request	*req;
	struct obj_pb_auth	 a;
	struct obj_pb_task	 t[2];
	Warrant__Authorisation	*ap[1];
	Warrant__Task		*tp[2];
	Warrant__Record		 rec;
	char			 ref[32];
	int64_t			 now = (int64_t)time(NULL) * 1000000;
	double			 t0 = mono_ms();

	if ((req = malloc(sizeof(*req))) == NULL)
		exit(1);
	for (unsigned i = 0; i < (n + 1) / 2; i++) {
		*req = *tmpl;
		hi1_uuid(req->auths[0].object_id, sizeof(req->auths[0].object_id));
		warrant__record__init(&rec);
		snprintf(ref, sizeof(ref), "MXC-20261207-%08u", i);
		obj_auth_pb(&req->auths[0], 0, &a);
		ap[0] = &a.auth;
		for (size_t k = 0; k < 2; k++) {
			hi1_uuid(req->tasks[k].object_id,
			    sizeof(req->tasks[k].object_id));
			snprintf(req->tasks[k].reference,
			    sizeof(req->tasks[k].reference), "MX-FGR-%07u-%zu",
			    i, k);
			/* Deadlines over the next day, in no order. */
			obj_task_pb(&req->tasks[k], req->auths[0].object_id,
			    now + (int64_t)((i * 7919u + k * 104729u) % 86400) *
			    1000000 + 3600000000LL, &t[k]);
			t[k].task.review = i % 2 ? 2 : 1;	/* half wait */
			tp[k] = &t[k].task;
		}
		rec.seq = day_mode ? (uint64_t)i * 2 : i;
		rec.time_us = now;
		if (day_mode)	/* spread over today, in creation order */
			rec.time_us = day_start + (int64_t)((double)i /
			    ((n + 1) / 2) * 86399e6);
		rec.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED;
		rec.authority_id = OWNER;
		rec.carrier_ref = ref;
		rec.n_authorisations = 1;
		rec.authorisations = ap;
		rec.n_tasks = 2;
		rec.tasks = tp;
		if (apply(st, &rec) == -1) {
			fprintf(stderr, "qbench: store_apply failed at %u\n", i);
			exit(1);
		}
		if (day_mode && i % 2 == 0)
			answer(st, req, i, rec.time_us);
	}
	free(req);
	printf("# filled %u tasks in %.1f s\n", (n + 1) / 2 * 2,
	    (mono_ms() - t0) / 1e3);
	printf("# store_apply tried again %u times\n", retried);
}

struct answer {
	int	 status;
	size_t	 len;
};

static void
reply(int status, const char *type, char *body, size_t len, void *arg)
{
	struct answer *a = arg;

	(void)type;
	a->status = status;
	a->len = len;
	free(body);
}

static int
dcmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Time one kind of call: at most runs times and about 60 s. A query
 * ending in '=' gets a number below nrefs in fmt's form (%08u or %07u-0). */
static void
measure(struct desk *d, struct desk_request *r, const char *name,
    const char *path, const char *query, unsigned runs, unsigned nrefs)
{
	double		*v, start = mono_ms();
	unsigned	 n = 0;
	struct answer	 a = { 0, 0 };
	char		 q[128];

	if ((v = calloc(runs, sizeof(*v))) == NULL)
		exit(1);
	r->path = path;
	for (; n < runs && (n < 5 || mono_ms() - start < 60000); n++) {
		unsigned k = (n * 48271u) % nrefs;

		if (query != NULL && strcmp(query, "carrier_ref=") == 0) {
			snprintf(q, sizeof(q), "%sMXC-20261207-%08u", query, k);
			r->query = q;
		} else if (query != NULL && strcmp(query, "authority_ref=") == 0) {
			snprintf(q, sizeof(q), "%sMX-FGR-%07u-0", query, k);
			r->query = q;
		} else
			r->query = query ? query : "";
		double t0 = mono_ms();
		desk_handle(d, r, reply, &a);
		v[n] = mono_ms() - t0;
		if (a.status != 200) {
			fprintf(stderr, "qbench: %s: HTTP %d\n", name, a.status);
			exit(1);
		}
	}
	qsort(v, n, sizeof(*v), dcmp);
	printf("%s %u %.2f %.2f %.2f %zu\n", name, n, v[n / 2],
	    v[(n * 99 + 99) / 100 - 1], v[n - 1], a.len);
	fflush(stdout);
	free(v);
}

int
main(int argc, char *argv[])
{
	struct hi1_schema	*schema;
	struct hi1_request	*tmpl;
	struct wd_error		 err;
	struct wd_official	 op;
	struct wd_conf		*conf;
	struct desk_env		 env;
	struct desk_request	 r;
	struct store		*st;
	struct desk		*d;
	struct event_base	*base;
	struct journal		*j;
	struct journal_config	 jc;
	char			 path[4096], *body;
	uint8_t			 key[32];
	size_t			 len;
	unsigned		 n, runs;

	if (argc < 3) {
		fprintf(stderr, "usage: qbench TOP_SRCDIR STATE_DIR [TASKS [RUNS]]\n");
		return 2;
	}
	n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 100000;
	runs = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 200;
	day_mode = argc > 5 && strcmp(argv[5], "stats") == 0;
	{
		time_t		 now = time(NULL);
		struct tm	 tm;

		localtime_r(&now, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		day_start = (int64_t)mktime(&tm) * 1000000;
	}
	log_init("qbench", 1, 0);
	hi1_init();
	snprintf(path, sizeof(path), "%s/etc/templates", argv[1]);
	if ((schema = hi1_schema_load(path)) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/etc/samples/records.xml", argv[1]);
	body = slurp(path, &len);
	if ((tmpl = calloc(1, sizeof(*tmpl))) == NULL ||
	    hi1_parse_request(schema, body, len, tmpl, &err) != 0 ||
	    tmpl->nauths != 1 || tmpl->ntasks != 2) {
		fprintf(stderr, "qbench: records.xml: not one order with two "
		    "tasks\n");
		return 1;
	}
	free(body);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 13 + 5);
	snprintf(path, sizeof(path), "%s/objects.db", argv[2]);
	if ((st = store_open(path, key)) == NULL)
		return 1;
	if (store_applied(st) == 0)
		fill(st, tmpl, n);
	else
		printf("# store already filled: %llu records\n",
		    (unsigned long long)store_applied(st));

	/* A registry with nobody in it but the operator asking. */
	snprintf(path, sizeof(path), "%s/warrantd.conf", argv[2]);
	{
		FILE *f = fopen(path, "w");

		if (f == NULL)
			return 1;
		fprintf(f, "carrier \"MXCARRIER\"\nstate \"%s\"\ntemplates \"%s/etc/"
		    "templates\"\ntls {\n\tcertificate \"/c\"\n\tkey \"/k\"\n\t"
		    "ca \"/a\"\n}\n", argv[2], argv[1]);
		fclose(f);
	}
	if ((conf = conf_load(path)) == NULL)
		return 1;
	memset(&op, 0, sizeof(op));
	op.id = "bench.op";
	op.name = "Bench";
	op.role = WD_ROLE_OPERATOR;
	op.valid_from = 0;
	op.valid_until = time(NULL) + 86400;
	/* /metrics reads the journal's counters: an empty one. */
	if ((base = event_base_new()) == NULL)
		return 1;
	memset(&jc, 0, sizeof(jc));
	snprintf(path, sizeof(path), "%s/journal", argv[2]);
	jc.dir = path;
	jc.segment_max = 1 << 20;
	jc.record_max = 64 * 1024;
	if (journal_open(&jc, base, &j) != 0)
		return 1;
	memset(&env, 0, sizeof(env));
	env.store = st;
	env.journal = j;
	snprintf(path, sizeof(path), "%s/etc/desk", argv[1]);
	env.pages = path;
	if ((d = desk_new(&env)) == NULL)
		return 1;
	memset(&r, 0, sizeof(r));
	r.method = HTTP_GET;
	r.conf = conf;
	r.who = &op;
	r.fingerprint = "00";
	r.peer = "127.0.0.1:1";

	printf("# name runs p50_ms p99_ms max_ms bytes\n");
	if (day_mode) {
		measure(d, &r, "stats_day", "/desk/api/stats", "", runs, 1);
		measure(d, &r, "stats_other_day", "/desk/api/stats",
		    "date=2026-01-01", runs, 1);
		measure(d, &r, "urgent_board", "/desk/api/urgent", "", runs, 1);
		goto out;
	}
	measure(d, &r, "first_page", "/desk/api/queue", "", runs, 1);
	measure(d, &r, "search_carrier_ref", "/desk/api/queue",
	    "carrier_ref=", runs, (n + 1) / 2);
	measure(d, &r, "search_authority_ref", "/desk/api/queue",
	    "authority_ref=", runs, (n + 1) / 2);
	measure(d, &r, "filter_state", "/desk/api/queue",
	    "state=AwaitingApproval", runs, 1);
	measure(d, &r, "metrics", "/metrics", NULL, runs, 1);
out:
	desk_free(d);
	journal_close(j);
	event_base_free(base);
	conf_free(conf);
	store_close(st);
	hi1_schema_free(schema);
	free(tmpl);
	hi1_cleanup();
	return 0;
}
