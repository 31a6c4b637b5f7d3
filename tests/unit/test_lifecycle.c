/*
 * test_lifecycle — the request lifecycle (src/warrantd/lifecycle.c) over a real
 * journal, object store and results store on a temporary directory, with
 * an injected clock: days of legal time pass without sleeping.
 *
 * Requests are the project's samples parsed by hi1_parse_request(); each is
 * planned, journaled and reported to the lifecycle as intake does. There is
 * no back end: calls fail as "no back end is configured" (which exercises
 * the rounds), and successful answers are written into the results store
 * and journaled by the test, as dispatch.c would.
 */
#include "config.h"

#include <sys/stat.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>

#include "backend.h"
#include "backend_frame.h"
#include "../../src/warrantd/dispatch.h"
#include "hi1.h"
#include "hi1_object.h"
#include "journal.h"
#include "log.h"
#include "obj.h"
#include "../../src/warrantd/purge.h"
#include "results.h"
#include "store.h"
#include "../../src/warrantd/lifecycle.h"
#include "../../src/warrantd/alert.h"

#define US		1000000LL
#define HOUR		(3600 * US)
#define DAY		(24 * HOUR)
#define OWNER		"FGR"

struct fx {
	char			 dir[64];
	struct event_base	*base;
	struct journal		*j;
	struct store		*st;
	struct results		*res;
	struct purge		*purge;
	struct lifecycle	*lc;
	struct lifecycle_config	 cfg;
	struct hi1_schema	*schema;
	int64_t			 now;
	int			 pending;	/* appends not yet durable */
};

static int64_t
fx_now(void *arg)
{
	return ((struct fx *)arg)->now;
}

static void
fx_observe(const Warrant__Record *rec, void *arg)
{
	assert_int_equal(store_apply(((struct fx *)arg)->st, rec), 0);
}

/* Run the loop until nothing is pending in the journal or lifecycle. */
static void
fx_pump(struct fx *f)
{
	for (int i = 0; i < 2000; i++) {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (f->pending == 0 && lifecycle_idle(f->lc) && i > 20)
			return;
		usleep(1000);
	}
	fail_msg("the lifecycle did not settle");
}

static void
fx_done(int status, const struct journal_receipt *r, void *arg)
{
	(void)r;
	assert_int_equal(status, 0);
	((struct fx *)arg)->pending--;
}

static void
fx_append(struct fx *f, Warrant__Record *rec)
{
	f->pending++;
	assert_int_equal(journal_append(f->j, rec, fx_done, f), 0);
	fx_pump(f);
}

static int
fx_replay(const Warrant__Record *rec, void *arg)
{
	struct fx *f = arg;

	return rec->seq >= store_applied(f->st) ? store_apply(f->st, rec) : 0;
}

static void
fx_open(struct fx *f)
{
	struct journal_config	 jc;
	struct lifecycle_env	 env;
	char			 path[128];
	uint8_t			 key[32];

	memset(&jc, 0, sizeof(jc));
	snprintf(path, sizeof(path), "%s/journal", f->dir);
	jc.dir = path;
	jc.segment_max = 1 << 20;
	jc.record_max = 64 * 1024;
	assert_int_equal(journal_open(&jc, f->base, &f->j), 0);
	snprintf(path, sizeof(path), "%s/results.key", f->dir);
	assert_int_equal(results_read_key(path, key), 0);
	assert_non_null(f->res = results_open(f->dir, path, 90 * 86400));
	assert_non_null(f->purge = purge_start(f->res));
	snprintf(path, sizeof(path), "%s/objects.db", f->dir);
	assert_non_null(f->st = store_open(path, key));
	assert_int_equal(journal_replay(f->j, fx_replay, f), 0);
	assert_int_equal(store_applied(f->st), journal_size(f->j));
	journal_set_observer(f->j, fx_observe, f);
	memset(&env, 0, sizeof(env));
	env.base = f->base;
	env.journal = f->j;
	env.store = f->st;
	env.results = f->res;
	env.purge = f->purge;
	assert_non_null(f->lc = lifecycle_new(&env, &f->cfg));
	lifecycle_set_clock(f->lc, fx_now, f);
	assert_int_equal(lifecycle_start(f->lc), 0);
	fx_pump(f);
}

static void
fx_close(struct fx *f)
{
	lifecycle_stop(f->lc);
	fx_pump(f);
	journal_close(f->j);
	lifecycle_free(f->lc);
	store_close(f->st);
	purge_stop(f->purge);
	results_close(f->res);
	f->j = NULL;
	f->lc = NULL;
	f->st = NULL;
	f->purge = NULL;
	f->res = NULL;
}

static int
setup(void **state)
{
	struct fx	*f;
	char		 path[128];
	uint8_t		 key[32];
	int		 fd;

	assert_non_null(f = calloc(1, sizeof(*f)));
	snprintf(f->dir, sizeof(f->dir), "/tmp/wd-lifecycle.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/results.key", f->dir);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 3);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
	assert_int_equal(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	assert_non_null(f->base = event_base_new());
	snprintf(path, sizeof(path), "%s/etc/templates", TOP_SRCDIR);
	assert_non_null(f->schema = hi1_schema_load(path));
	/* 2026-11-20T16:00:00Z: an hour after the urgent sample's approval. */
	f->now = 1795190400LL * US;
	for (int t = 0; t < WD_REQ__COUNT; t++)
		f->cfg.answer_us[t] = DAY;
	f->cfg.answer_us[WD_REQ_LOCATION_RT] = 60 * US;
	f->cfg.answer_old_records_us = 2 * DAY;
	f->cfg.keep_us = 30 * DAY;
	f->cfg.keep_warn_us = 7 * DAY;
	f->cfg.kept_after_us = DAY;
	f->cfg.ratify_us = 48 * HOUR;
	f->cfg.preservation_max_us = 90 * DAY;
	f->cfg.retry_rounds = 3;
	f->cfg.retry_base_us = 60 * US;
	f->cfg.part_max = 16 * 1024;
	f->cfg.carrier_id = "MXCARRIER";
	fx_open(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;
	char		 cmd[128];

	fx_close(f);
	hi1_schema_free(f->schema);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	(void)system(cmd);
	free(f);
	return 0;
}

/* ---- requests, as intake makes them --------------------------------------- */

static char *
read_file(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	assert_non_null(fp = fopen(path, "r"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	assert_non_null(buf = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* A sample, with its times moved so that now is inside its order. */
static void
parse(struct fx *f, const char *sample, struct hi1_request *req)
{
	char		 path[512], *body;
	struct wd_error	 err;

	snprintf(path, sizeof(path), "%s/etc/samples/%s", TOP_SRCDIR, sample);
	body = read_file(path);
	if (hi1_parse_request(f->schema, body, strlen(body), req, &err) != 0)
		fail_msg("%s: %d %s", sample, err.code, err.text);
	free(body);
}

/* Parse an XML text (an UPDATE the test writes). */
static int
parse_text(struct fx *f, const char *xml, struct hi1_request *req,
    struct wd_error *err)
{
	return hi1_parse_request(f->schema, xml, strlen(xml), req, err);
}

struct pbs {
	struct obj_pb_auth	 a[HI1_MAX_AUTHS];
	Warrant__Authorisation	*ap[HI1_MAX_AUTHS];
	struct obj_pb_task	 t[HI1_MAX_ACTIONS];
	Warrant__Task		*tp[HI1_MAX_ACTIONS];
	struct obj_pb_doc	 d[HI1_MAX_DOCS];
	Warrant__Document	*dp[HI1_MAX_DOCS];
};

/* Plan, journal and report a changing message; -1 with err if refused. */
static int
submit(struct fx *f, const struct hi1_request *req, const char *ref,
    struct wd_error *err, struct lc_plan **planp)
{
	struct lc_plan	*p;
	Warrant__Record	 rec = WARRANT__RECORD__INIT;
	struct pbs	*b;

	assert_non_null(p = calloc(1, sizeof(*p)));
	assert_non_null(b = calloc(1, sizeof(*b)));
	if (lifecycle_plan(f->lc, OWNER, req, p, err) == -1) {
		free(p);
		free(b);
		return -1;
	}
	rec.authority_id = OWNER;
	rec.carrier_ref = (char *)(p->repeat || req->nauths == 0 ? p->ref : ref);
	rec.event = p->repeat ? WARRANT__EVENT_TYPE__EVENT_REQUEST_REPEATED :
	    req->nauths > 0 ? WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED :
	    WARRANT__EVENT_TYPE__EVENT_REQUEST_UPDATED;
	if (!p->repeat) {
		for (size_t i = 0; i < req->nauths; i++) {
			obj_auth_pb(&req->auths[i], p->ratify_by_us[i], &b->a[i]);
			b->ap[i] = &b->a[i].auth;
		}
		for (size_t i = 0; i < req->ntasks; i++) {
			obj_task_pb(&req->tasks[i],
			    req->auths[req->tasks[i].auth_index].object_id,
			    p->answer_by_us[i], &b->t[i]);
			b->tp[i] = &b->t[i].task;
		}
		for (size_t i = 0; i < req->ndocs; i++) {
			obj_doc_pb(&req->docs[i], &b->d[i]);
			b->dp[i] = &b->d[i].doc;
		}
		rec.n_authorisations = req->nauths;
		rec.authorisations = b->ap;
		rec.n_tasks = req->ntasks;
		rec.tasks = b->tp;
		rec.n_documents = req->ndocs;
		rec.documents = b->dp;
		rec.n_transitions = p->ntr;
		rec.transitions = p->trp;
	}
	fx_append(f, &rec);
	free(b);
	if (planp != NULL)
		*planp = p;
	else {
		lifecycle_updated(f->lc, OWNER, req, p);
		lifecycle_plan_done(f->lc, p);
		free(p);
	}
	fx_pump(f);
	return 0;
}

static void
nobody(struct dispatch_delivery *v, size_t n, void *arg)
{
	(void)arg;
	dispatch_free_deliveries(v, n);
}

/* CREATE a sample, then start its calls as intake does. */
static void
create(struct fx *f, const char *sample, const char *ref,
    struct hi1_request *req)
{
	struct wd_error	 err;

	parse(f, sample, req);
	if (submit(f, req, ref, &err, NULL) == -1)
		fail_msg("%s: %d %s", sample, err.code, err.text);
	lifecycle_accepted(f->lc, OWNER, ref, req, "fp", 0, nobody, NULL);
	fx_pump(f);
}

static struct obj *
get(struct fx *f, const char *oid)
{
	static struct obj o;

	assert_int_equal(store_get(f->st, OWNER, oid, &o), 1);
	return &o;
}

static void
advance(struct fx *f, int64_t us)
{
	f->now += us;
	lifecycle_tick(f->lc);
	fx_pump(f);
	lifecycle_tick(f->lc);
	fx_pump(f);
}

/* How many objects of a kind the owner holds. */
struct count_ctx {
	enum hi1_kind	 kind;
	size_t		 n;
	char		 last[HI1_UUID_LEN + 1];
	char		 text[OBJ_NOTE_LEN];
};

static int
count_cb(const struct obj *o, void *arg)
{
	struct count_ctx *c = arg;

	if (o->kind == c->kind) {
		c->n++;
		snprintf(c->last, sizeof(c->last), "%s", o->oid);
		if (o->kind == HI1_OBJ_NOTIFICATION)
			snprintf(c->text, sizeof(c->text), "%s", o->u.note.text);
	}
	return 0;
}

static size_t
count_kind(struct fx *f, enum hi1_kind kind, struct count_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	assert_int_equal(store_list(f->st, OWNER, HI1_OBJ_NONE, INT64_MIN,
	    HI1_LIST_MAX, count_cb, c), 0);
	return c->n;
}

/* The journal's records of one event type. */
struct ev_ctx {
	int	 event;
	size_t	 n;
	char	 detail[256];
};

static int
ev_cb(const Warrant__Record *r, void *arg)
{
	struct ev_ctx *c = arg;

	if ((int)r->event == c->event) {
		c->n++;
		snprintf(c->detail, sizeof(c->detail), "%s", r->detail ? r->detail : "");
	}
	return 0;
}

static size_t
count_events(struct fx *f, int event)
{
	struct journal_config	 jc;
	struct journal		*j;
	struct event_base	*b;
	struct ev_ctx		 c = { event, 0, "" };
	char			 path[128];

	/* The live journal cannot replay; count through a second reader. */
	fx_close(f);
	memset(&jc, 0, sizeof(jc));
	snprintf(path, sizeof(path), "%s/journal", f->dir);
	jc.dir = path;
	jc.segment_max = 1 << 20;
	jc.record_max = 64 * 1024;
	assert_non_null(b = event_base_new());
	assert_int_equal(journal_open(&jc, b, &j), 0);
	assert_int_equal(journal_replay(j, ev_cb, &c), 0);
	journal_close(j);
	event_base_free(b);
	fx_open(f);
	return c.n;
}

/* ---- tests ---------------------------------------------------------------- */

/* Objects come from the journal, once, and are each authority's own. */
static void
test_objects_from_journal(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct obj		 o;
	struct count_ctx	 c;
	char			 path[128], *db;
	FILE			*fp;
	long			 n;

	create(f, "records.xml", "MXC-20261201-00000001", &req);
	assert_int_equal(get(f, req.auths[0].object_id)->status, OST_APPROVED);
	assert_int_equal(get(f, req.auths[0].object_id)->generation, 1);
	for (size_t i = 0; i < req.ntasks; i++) {
		struct obj *t = get(f, req.tasks[i].object_id);

		assert_int_equal(t->kind, HI1_OBJ_LDTASK);
		assert_string_equal(t->ref, "MXC-20261201-00000001");
		assert_int_equal(t->u.task.answer_by_us, f->now + DAY);
		assert_string_equal(t->u.task.t.ids[0].value,
		    req.tasks[i].ids[0].value);
	}
	/* Another authority: as if it did not exist. */
	assert_int_equal(store_get(f->st, "FGJCDMX", req.tasks[0].object_id, &o), 0);
	assert_int_equal(count_kind(f, HI1_OBJ_LDTASK, &c), 2);
	/* The store on disk holds no identifier in clear. */
	snprintf(path, sizeof(path), "%s/objects.db", f->dir);
	fx_close(f);
	assert_non_null(fp = fopen(path, "rb"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	assert_non_null(db = malloc((size_t)n + 1));
	assert_int_equal(fread(db, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	db[n] = '\0';
	assert_null(memmem(db, (size_t)n, req.tasks[0].ids[0].value,
	    strlen(req.tasks[0].ids[0].value)));
	free(db);
	/* Deleted, it is rebuilt from the journal alone, the same. */
	assert_int_equal(unlink(path), 0);
	fx_open(f);
	assert_int_equal(get(f, req.tasks[1].object_id)->u.task.t.nids,
	    req.tasks[1].nids);
	assert_int_equal(count_kind(f, HI1_OBJ_LDTASK, &c), 2);
}

/* A CREATE repeated is answered, not carried out twice; a clash is refused. */
static void
test_idempotent_create(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req, again;
	struct lc_plan		*p;
	struct wd_error		 err;
	struct count_ctx	 c;

	/* A new message holds its objects until it is recorded... */
	parse(f, "records.xml", &req);
	assert_non_null(p = calloc(2, sizeof(*p)));
	assert_int_equal(lifecycle_plan(f->lc, OWNER, &req, &p[0], &err), 0);
	assert_false(p[0].repeat);
	/* ...so the same one sent again meanwhile is told to retry. */
	assert_int_equal(lifecycle_plan(f->lc, OWNER, &req, &p[1], &err), -1);
	assert_int_equal(err.code, WD_ERR_IN_PROGRESS);
	lifecycle_plan_done(f->lc, &p[0]);
	create(f, "records.xml", "MXC-20261201-00000001", &req);
	/* Once recorded: the same message is a repeat of that reference. */
	parse(f, "records.xml", &again);
	assert_int_equal(lifecycle_plan(f->lc, OWNER, &again, &p[0], &err), 0);
	assert_true(p[0].repeat);
	assert_string_equal(p[0].ref, "MXC-20261201-00000001");
	lifecycle_plan_done(f->lc, &p[0]);
	free(p);
	/* Same identifier, other content. */
	parse(f, "records.xml", &again);
	snprintf(again.tasks[0].reference, sizeof(again.tasks[0].reference),
	    "MX-FGR-999999");
	assert_int_equal(submit(f, &again, "MXC-20261201-00000002", &err, NULL), -1);
	assert_int_equal(err.code, WD_ERR_OBJECT_EXISTS);
	assert_int_equal(err.action_id, again.tasks[0].action_id);
	/* Held and new objects in one message. */
	parse(f, "records.xml", &again);
	snprintf(again.tasks[1].object_id, sizeof(again.tasks[1].object_id),
	    "00000000-0000-4000-8000-000000000001");
	assert_int_equal(submit(f, &again, "MXC-20261201-00000002", &err, NULL), -1);
	assert_int_equal(err.code, WD_ERR_OBJECT_EXISTS);
	assert_int_equal(count_kind(f, HI1_OBJ_LDTASK, &c), 2);
}

static const char update_tmpl[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
    "xmlns:common=\"http://uri.etsi.org/03120/common/2016/02/Common\" "
    "xmlns:task=\"http://uri.etsi.org/03120/common/2020/09/Task\" "
    "xmlns:auth=\"http://uri.etsi.org/03120/common/2020/09/Authorisation\">"
    "<Header><SenderIdentifier><CountryCode>MX</CountryCode>"
    "<UniqueIdentifier>FGR</UniqueIdentifier></SenderIdentifier>"
    "<ReceiverIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>"
    "MXCARRIER</UniqueIdentifier></ReceiverIdentifier>"
    "<TransactionIdentifier>5d6f8a3e-0c1b-4e6a-9f2d-1a2b3c4d5e6f"
    "</TransactionIdentifier><Timestamp>2026-12-01T10:00:00.000000Z"
    "</Timestamp><Version><ETSIVersion>V1.12.1</ETSIVersion>"
    "<NationalProfileOwner>MX</NationalProfileOwner><NationalProfileVersion>"
    "1.0</NationalProfileVersion></Version></Header><Payload>"
    "<RequestPayload><ActionRequests><ActionRequest><ActionIdentifier>0"
    "</ActionIdentifier><UPDATE><HI1Object xsi:type=\"%s\">"
    "<ObjectIdentifier>%s</ObjectIdentifier><CountryCode>MX</CountryCode>"
    "<OwnerIdentifier>FGR</OwnerIdentifier><Generation>%u</Generation>%s"
    "</HI1Object></UPDATE></ActionRequest></ActionRequests></RequestPayload>"
    "</Payload></HI1Message>";

static const char cancel_ld[] = "<task:DesiredStatus><common:Owner>ETSI"
    "</common:Owner><common:Name>LDTaskDesiredStatus</common:Name>"
    "<common:Value>Cancelled</common:Value></task:DesiredStatus>";

static const char ratify[] = "<auth:AuthorisationApprovalDetails>"
    "<common:ApprovalType>Ratificación judicial</common:ApprovalType>"
    "<common:ApprovalReference>CP-200/2026</common:ApprovalReference>"
    "<common:ApproverDetails><common:ApproverName>Mtra. Laura Hernández"
    "</common:ApproverName><common:ApproverRole>Jueza de Control"
    "</common:ApproverRole></common:ApproverDetails><common:ApprovalTimestamp>"
    "2026-12-01T10:00:00Z</common:ApprovalTimestamp>"
    "</auth:AuthorisationApprovalDetails>";

static int
update(struct fx *f, const char *type, const char *oid, unsigned gen,
    const char *body, struct wd_error *err)
{
	struct hi1_request	 req;
	char			 xml[4096];

	snprintf(xml, sizeof(xml), update_tmpl, type, oid, gen, body);
	if (parse_text(f, xml, &req, err) == -1)
		fail_msg("update: %d %s", err->code, err->text);
	return submit(f, &req, "", err, NULL);
}

/* Each UPDATE rule: generation, existence, owner, state. */
static void
test_update_rules(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	const char		*task;
	char			 ext[512];

	create(f, "records.xml", "MXC-20261201-00000001", &req);
	task = req.tasks[0].object_id;
	/* A stale Generation. */
	assert_int_equal(update(f, "task:LDTaskObject", task, 7, cancel_ld,
	    &err), -1);
	assert_int_equal(err.code, WD_ERR_GENERATION);
	/* Nothing of that identifier for FGR. */
	assert_int_equal(update(f, "task:LDTaskObject",
	    "00000000-0000-4000-8000-0000000000aa", 1, cancel_ld, &err), -1);
	assert_int_equal(err.code, WD_ERR_NO_SUCH_OBJECT);
	/* Cancel: Cancelled, Generation 2, the reason in words. */
	assert_int_equal(update(f, "task:LDTaskObject", task,
	    get(f, task)->generation, cancel_ld, &err), 0);
	assert_int_equal(get(f, task)->status, OST_CANCELLED);
	assert_int_equal(get(f, task)->reason_code, WD_REASON_CANCELLED);
	/* Cancel again: its state does not allow it. */
	assert_int_equal(update(f, "task:LDTaskObject", task,
	    get(f, task)->generation, cancel_ld, &err), -1);
	assert_int_equal(err.code, WD_ERR_STATE);
	/* A judicial order cannot be ratified, nor extended (not preservation). */
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    req.auths[0].object_id, 1, ratify, &err), -1);
	assert_int_equal(err.code, WD_ERR_STATE);
	snprintf(ext, sizeof(ext), "<auth:AuthorisationTimespan><auth:StartTime>"
	    "2026-11-01T00:00:00-06:00</auth:StartTime><auth:EndTime>"
	    "2027-02-15T00:00:00-06:00</auth:EndTime></auth:AuthorisationTimespan>");
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    req.auths[0].object_id, 1, ext, &err), -1);
	assert_true(err.code == WD_ERR_NOT_CHANGEABLE || err.code == WD_ERR_STATE);
}

/* An urgent order not ratified in time lapses; its task is cancelled. */
static void
test_urgent_lapse(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct count_ctx	 c;
	const struct obj	*a;
	int64_t			 ratify_by;

	f->cfg.retry_rounds = 20;	/* calls keep failing: no Error first */
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "location-realtime-urgent.xml", "MXC-20261201-00000003", &req);
	a = get(f, req.auths[0].object_id);
	assert_int_equal(a->status, OST_EMERGENCY_APPROVAL);
	ratify_by = a->u.auth.ratify_by_us;
	assert_int_equal(ratify_by, req.auths[0].approved_us + 48 * HOUR);
	/* A second before: nothing. */
	advance(f, ratify_by - 1000000 - f->now);
	assert_int_equal(get(f, req.auths[0].object_id)->status,
	    OST_EMERGENCY_APPROVAL);
	advance(f, 2 * US);
	a = get(f, req.auths[0].object_id);
	assert_int_equal(a->status, OST_EXPIRED);
	assert_int_equal(a->reason_code, WD_REASON_LAPSED);
	assert_int_equal(get(f, req.tasks[0].object_id)->status, OST_CANCELLED);
	assert_int_equal(get(f, req.tasks[0].object_id)->reason_code,
	    WD_REASON_LAPSED);
	assert_true(get(f, req.tasks[0].object_id)->u.task.results_gone);
	assert_int_equal(count_kind(f, HI1_OBJ_NOTIFICATION, &c), 1);
	assert_non_null(strstr(c.text, "no fue ratificada"));
	/* The clock survives a restart: nothing lapses twice. */
	assert_int_equal(count_events(f, WARRANT__EVENT_TYPE__EVENT_URGENT_LAPSED), 1);
	advance(f, HOUR);
	assert_int_equal(count_events(f, WARRANT__EVENT_TYPE__EVENT_URGENT_LAPSED), 1);
}

/* Ratified in time: Approved, the judge's approval held, no lapse later. */
static void
test_urgent_ratified(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	const struct obj	*a;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "location-realtime-urgent.xml", "MXC-20261201-00000003", &req);
	/* Past the 48 h "new order" rule, but inside the ratification clock. */
	advance(f, 47 * HOUR);
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    req.auths[0].object_id, 1, ratify, &err), 0);
	a = get(f, req.auths[0].object_id);
	assert_int_equal(a->status, OST_APPROVED);
	assert_int_equal(a->generation, 2);
	assert_int_equal(a->u.auth.a.napprovals, 2);
	assert_string_equal(a->u.auth.a.approvals[1].approver,
	    "Mtra. Laura Hernández");
	assert_true(a->u.auth.ratified);
	advance(f, 10 * DAY);
	assert_int_equal(get(f, req.auths[0].object_id)->status, OST_APPROVED);
	advance(f, req.auths[0].valid_until_us + US - f->now);
	assert_int_equal(get(f, req.auths[0].object_id)->status, OST_EXPIRED);
	assert_int_equal(get(f, req.auths[0].object_id)->reason_code,
	    WD_REASON_ORDER_ENDED);
	assert_int_equal(count_events(f, WARRANT__EVENT_TYPE__EVENT_URGENT_LAPSED), 0);
	/* Too late for a second ratification. */
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    req.auths[0].object_id, get(f, req.auths[0].object_id)->generation,
	    ratify, &err), -1);
	assert_int_equal(err.code, WD_ERR_STATE);
}

/* A preservation ends with its order, unless extended (within the limit). */
static void
test_preservation(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	const struct obj	*t;
	char			 ext[512], start[32], end[32];
	int64_t			 until;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 300 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "preservation.xml", "MXC-20261201-00000004", &req);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->u.task.freeze_until_us, req.auths[0].valid_until_us);
	/* Extended beyond the 90-day limit: refused. */
	wd_time_format_s(req.auths[0].valid_from_us, start, sizeof(start));
	wd_time_format_s(f->now + 91 * DAY, end, sizeof(end));
	snprintf(ext, sizeof(ext), "<auth:AuthorisationTimespan><auth:StartTime>"
	    "%s</auth:StartTime><auth:EndTime>%s</auth:EndTime>"
	    "</auth:AuthorisationTimespan>", start, end);
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    req.auths[0].object_id, 1, ext, &err), -1);
	assert_int_equal(err.code, WD_ERR_EXTENSION_LIMIT);
	/* Within it: the order and its preservation move together. */
	until = (f->now + 80 * DAY) / US * US;
	wd_time_format_s(until, end, sizeof(end));
	snprintf(ext, sizeof(ext), "<auth:AuthorisationTimespan><auth:StartTime>"
	    "%s</auth:StartTime><auth:EndTime>%s</auth:EndTime>"
	    "</auth:AuthorisationTimespan>", start, end);
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    req.auths[0].object_id, 1, ext, &err), 0);
	assert_int_equal(get(f, req.auths[0].object_id)->u.auth.a.valid_until_us,
	    until);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->u.task.freeze_until_us, until);
	assert_int_equal(t->status, OST_AWAITING_DISCLOSURE);
	/* The old end passes: nothing. The new one: released, Cancelled 630. */
	advance(f, req.auths[0].valid_until_us + US - f->now);
	assert_int_equal(get(f, req.tasks[0].object_id)->status,
	    OST_AWAITING_DISCLOSURE);
	advance(f, until + US - f->now);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->status, OST_CANCELLED);
	assert_int_equal(t->reason_code, WD_REASON_PRESERVATION_ENDED);
}

/* Calls that keep failing: rounds, then Error with a reason — never silence. */
static void
test_rounds_then_error(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct count_ctx	 c;
	const struct obj	*t;

	create(f, "subscriber-imsi.xml", "MXC-20261201-00000005", &req);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->status, OST_AWAITING_DISCLOSURE);
	assert_int_equal(t->u.task.outcome[0], BACKEND_UNAVAILABLE + 1);
	/* Round 2 after the pause (and its jitter). */
	advance(f, 2 * 60 * US);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->u.task.attempts, 1);
	assert_int_equal(t->status, OST_AWAITING_DISCLOSURE);
	/* Round 3 is the last: Error, 610, and the authority is told. */
	advance(f, 4 * 60 * US);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->u.task.attempts, 2);
	assert_int_equal(t->status, OST_ERROR);
	assert_int_equal(t->reason_code, WD_REASON_BACKEND_FAILED);
	assert_int_equal(count_kind(f, HI1_OBJ_NOTIFICATION, &c), 1);
	assert_int_equal(count_events(f, WARRANT__EVENT_TYPE__EVENT_BACKEND_CALL), 2);
}

/* The answer deadline passes unanswered: journaled once. */
static void
test_answer_deadline(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "records.xml", "MXC-20261201-00000001", &req);
	advance(f, DAY - US);
	assert_false(get(f, req.tasks[0].object_id)->u.task.deadline_missed);
	advance(f, 2 * US);
	assert_true(get(f, req.tasks[0].object_id)->u.task.deadline_missed);
	advance(f, HOUR);
	assert_int_equal(count_events(f, WARRANT__EVENT_TYPE__EVENT_DEADLINE), 2);
}

/* The back end's answer, stored and journaled as dispatch.c does. */
static void
answer_subscriber_sha(struct fx *f, const struct hi1_request *req, size_t task,
    const char *ref, const uint8_t *journaled)
{
	Warrant__Backend__Subscriber	 s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	Warrant__Record			 rec = WARRANT__RECORD__INIT;
	Warrant__Task			 pt = WARRANT__TASK__INIT, *ptp = &pt;
	struct results_writer		*w;
	const struct hi1_task		*t = &req->tasks[task];
	uint8_t				*buf = NULL, sha[32];
	size_t				 len = 0, cap = 0;
	char				 name[RESULTS_NAME_MAX];

	s.given_names = "María Fernanda";
	s.first_surname = "Ortiz";
	s.msisdn = "525512345678";
	assert_int_equal(backend_frame_canonical(&s.base, &buf, &len, &cap), 0);
	snprintf(name, sizeof(name), "%s.%u.0", ref, t->action_id);
	assert_non_null(w = results_create(f->res, name));
	assert_int_equal(results_append(w, buf, len), 0);
	results_writer_sha256(w, sha);
	assert_int_equal(results_finish(w, 1), 0);
	free(buf);
	pt.action_id = t->action_id;
	pt.object_id = (char *)t->object_id;
	rec.event = WARRANT__EVENT_TYPE__EVENT_BACKEND_RESULT;
	rec.authority_id = OWNER;
	rec.carrier_ref = (char *)ref;
	rec.n_tasks = 1;
	rec.tasks = &ptp;
	rec.identifier_index = 0;
	rec.error_code = BACKEND_OK;
	rec.result_sha256.data = (uint8_t *)(journaled ? journaled : sha);
	rec.result_sha256.len = 32;
	rec.result_count = 1;
	fx_append(f, &rec);
	lifecycle_call_reported(f->lc, OWNER, t->object_id, true);
	fx_pump(f);
	fx_pump(f);
}

static void
answer_subscriber(struct fx *f, const struct hi1_request *req, size_t task,
    const char *ref)
{
	answer_subscriber_sha(f, req, task, ref, NULL);
}

/*
 * A stored answer that authenticates but is not the one whose digest the
 * journal holds (swapped on disk with another of the carrier's results) is
 * never delivered: the task ends in Error and no part exists.
 */
static void
test_delivery_not_journaled(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct count_ctx	 c;
	const struct obj	*t;
	uint8_t			 other[32];

	memset(other, 0xa5, sizeof(other));
	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000009", &err, NULL), 0);
	answer_subscriber_sha(f, &req, 0, "MXC-20261201-00000009", other);
	t = get(f, req.tasks[0].object_id);
	assert_int_equal(t->status, OST_ERROR);
	assert_int_equal(t->u.task.parts, 0);
	assert_memory_equal(t->u.task.result_sha256[0], other, 32);
	assert_int_equal(count_kind(f, HI1_OBJ_DELIVERY, &c), 0);
}

/* Results in parts, fetched with GET: Disclosed, then destroyed later. */
/* The SHA-256 of a streamed part, read to its authenticated end. */
static void
stream_sha256(const void *src, size_t len, uint8_t md[32])
{
	struct results_reader	*r = (struct results_reader *)src;
	EVP_MD_CTX		*ctx;
	const uint8_t		*data;
	size_t			 n, total = 0;
	int			 rc;

	assert_non_null(ctx = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	while ((rc = results_read(r, &data, &n)) == 1) {
		EVP_DigestUpdate(ctx, data, n);
		total += n;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(total, len);
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
}

static void
test_delivery_pull(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req, get_req;
	struct lc_read		 rd;
	struct wd_error		 err;
	struct count_ctx	 c;
	const struct obj	*t;
	Warrant__Record		 rec = WARRANT__RECORD__INIT;
	uint8_t			 md[32];
	char			 xml[2048], part[HI1_UUID_LEN + 1];
	char			 task[HI1_UUID_LEN + 1];

	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000006", &err, NULL), 0);
	snprintf(task, sizeof(task), "%s", req.tasks[0].object_id);
	answer_subscriber(f, &req, 0, "MXC-20261201-00000006");
	t = get(f, task);
	assert_int_equal(t->generation, 2);	/* it learnt of its delivery */
	assert_int_equal(t->u.task.parts, 1);
	assert_int_equal(count_kind(f, HI1_OBJ_DELIVERY, &c), 1);
	snprintf(part, sizeof(part), "%s", c.last);
	/* GET of the task lists the part; GET of the part hands it over. */
	snprintf(xml, sizeof(xml), "<?xml version=\"1.0\"?><HI1Message xmlns="
	    "\"http://uri.etsi.org/03120/common/2019/10/Core\"><Header>"
	    "<SenderIdentifier><CountryCode>MX</CountryCode><UniqueIdentifier>FGR"
	    "</UniqueIdentifier></SenderIdentifier><ReceiverIdentifier>"
	    "<CountryCode>MX</CountryCode><UniqueIdentifier>MXCARRIER"
	    "</UniqueIdentifier></ReceiverIdentifier><TransactionIdentifier>"
	    "5d6f8a3e-0c1b-4e6a-9f2d-1a2b3c4d5e6f</TransactionIdentifier>"
	    "<Timestamp>2026-12-01T10:00:00.000000Z</Timestamp><Version>"
	    "<ETSIVersion>V1.12.1</ETSIVersion><NationalProfileOwner>MX"
	    "</NationalProfileOwner><NationalProfileVersion>1.0"
	    "</NationalProfileVersion></Version></Header><Payload>"
	    "<RequestPayload><ActionRequests><ActionRequest><ActionIdentifier>0"
	    "</ActionIdentifier><GET><Identifier>%s</Identifier></GET>"
	    "</ActionRequest><ActionRequest><ActionIdentifier>1"
	    "</ActionIdentifier><GET><Identifier>%s</Identifier></GET>"
	    "</ActionRequest></ActionRequests></RequestPayload></Payload>"
	    "</HI1Message>", task, part);
	assert_int_equal(parse_text(f, xml, &get_req, &err), 0);
	assert_true(get_req.reading);
	assert_int_equal(lifecycle_read(f->lc, OWNER, &get_req, &rd), 0);
	assert_int_equal(rd.nanswers, 2);
	assert_int_equal(rd.answers[0].ndeliveries, 1);
	assert_string_equal(rd.answers[0].deliveries[0], part);
	/* The part's data is streamed: an open reader, first chunk checked. */
	assert_null(rd.answers[1].data);
	assert_non_null(rd.answers[1].data_stream);
	assert_int_equal(rd.nstreams, 1);
	assert_non_null(rd.answers[1].manifest);
	assert_int_equal(rd.nparts, 1);
	stream_sha256(rd.answers[1].data_stream, rd.answers[1].data_len, md);
	assert_memory_equal(md, rd.parts[0].sha256.data, 32);
	rec.event = WARRANT__EVENT_TYPE__EVENT_REQUEST_READ;
	rec.authority_id = OWNER;
	rec.n_parts = rd.nparts;
	rec.parts = rd.partp;
	rec.n_objects = rd.nobjects;
	rec.objects = rd.objects;
	fx_append(f, &rec);
	lifecycle_read_done(f->lc, OWNER, &rd);
	lifecycle_read_free(&rd);
	fx_pump(f);
	t = get(f, task);
	assert_int_equal(t->status, OST_DISCLOSED);
	assert_int_equal(t->u.task.keep_until_us, f->now + DAY);
	/* Kept for re-fetch a day, then destroyed (journaled). */
	advance(f, DAY + US);
	assert_true(get(f, task)->u.task.results_gone);
	assert_true(get(f, part)->u.part.destroyed);
	assert_int_equal(lifecycle_read(f->lc, OWNER, &get_req, &rd), 0);
	assert_null(rd.answers[1].data);
	assert_null(rd.answers[1].data_stream);
	assert_int_equal(rd.nparts, 0);
	lifecycle_read_free(&rd);
}

/* Results never fetched: warned, then destroyed at the keep limit. */
static void
test_keep_limit(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct count_ctx	 c;
	const struct obj	*t;
	char			 task[HI1_UUID_LEN + 1];

	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000007", &err, NULL), 0);
	snprintf(task, sizeof(task), "%s", req.tasks[0].object_id);
	answer_subscriber(f, &req, 0, "MXC-20261201-00000007");
	assert_int_equal(get(f, task)->u.task.parts, 1);
	advance(f, 23 * DAY - HOUR);
	assert_false(get(f, task)->u.task.keep_warned);
	advance(f, 2 * HOUR);
	assert_true(get(f, task)->u.task.keep_warned);
	assert_int_equal(count_kind(f, HI1_OBJ_NOTIFICATION, &c), 1);
	assert_non_null(strstr(c.text, "destroyed"));
	advance(f, 7 * DAY);
	t = get(f, task);
	assert_int_equal(t->status, OST_DISCLOSURE_NOT_AVAILABLE);
	assert_int_equal(t->reason_code, WD_REASON_RESULTS_EXPIRED);
	assert_true(t->u.task.results_gone);
	assert_int_equal(count_events(f, WARRANT__EVENT_TYPE__EVENT_RESULT_PURGED), 1);
}

/* A restart picks up calls that never reported. */
static void
test_restart_resumes_calls(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct lc_plan		*p;

	parse(f, "records.xml", &req);
	/* Accepted, but the daemon died before any call was made. */
	assert_int_equal(submit(f, &req, "MXC-20261201-00000008", &err, &p), 0);
	assert_int_equal(get(f, req.tasks[0].object_id)->u.task.outcome[0],
	    OBJ_OUTCOME_PENDING);
	fx_close(f);
	free(p);	/* its reservations died with that lifecycle */
	fx_open(f);
	assert_int_equal(get(f, req.tasks[0].object_id)->u.task.outcome[0],
	    BACKEND_UNAVAILABLE + 1);
	assert_int_equal(get(f, req.tasks[1].object_id)->u.task.outcome[0],
	    BACKEND_UNAVAILABLE + 1);
}

/* ---- deadlines and alerts (src/warrantd/alert.c), on the same clock ----------------- */

struct raised {
	struct alert_info	 v[16];
	size_t			 n;
};

static void
raised_cb(const struct alert_info *a, void *arg)
{
	struct raised *r = arg;

	assert_true(r->n < 16);
	r->v[r->n++] = *a;
}

static struct alert *
alerts_new(struct fx *f, struct raised *r, unsigned pct)
{
	struct alert_env	 env;
	struct alert_config	 cfg;
	struct alert		*al;

	memset(r, 0, sizeof(*r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.warn_pct = pct;
	cfg.horizon_us = 30 * DAY;
	memcpy(cfg.answer_us, f->cfg.answer_us, sizeof(cfg.answer_us));
	cfg.answer_old_records_us = f->cfg.answer_old_records_us;
	cfg.ratify_us = f->cfg.ratify_us;
	memset(&env, 0, sizeof(env));
	env.store = f->st;
	env.now = fx_now;
	env.now_arg = f;
	env.raised = raised_cb;
	env.raised_arg = r;
	assert_non_null(al = alert_new(&env, &cfg));
	assert_int_equal(alert_start(al), 0);	/* no base: no timer */
	return al;
}

/* Move the clock, let the lifecycle act, then look at the deadlines. */
static void
advance_scan(struct fx *f, struct alert *al, int64_t us)
{
	advance(f, us);
	alert_scan(al, false);
}

static unsigned
open_alerts(struct alert *al, enum alert_level l)
{
	struct alert_counts c;

	alert_counts(al, &c);
	return l == ALERT_CRITICAL ? c.critical : c.warning;
}

/*
 * An answer deadline of 24 h warns at 80 % (19.2 h), once however often it
 * is looked at, turns critical when missed, and closes when answered.
 */
static void
test_alert_answer(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct raised		 r;
	struct alert		*al;
	const char		*ref = "MXC-20261201-00000011";

	f->cfg.retry_rounds = 20;	/* calls keep failing: no Error first */
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, ref, &err, NULL), 0);
	al = alerts_new(f, &r, 80);
	advance_scan(f, al, 19 * HOUR);
	assert_int_equal(r.n, 0);
	assert_int_equal(alert_level_of(al, OWNER, req.tasks[0].object_id),
	    ALERT_NONE);
	advance_scan(f, al, 15 * 60 * US);	/* 19 h 15 m: warned */
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].level, ALERT_WARNING);
	assert_int_equal(r.v[0].clock, ALERT_ANSWER);
	assert_string_equal(r.v[0].ref, ref);
	assert_string_equal(r.v[0].oid, req.tasks[0].object_id);
	assert_int_equal(r.v[0].deadline_us,
	    get(f, req.tasks[0].object_id)->u.task.answer_by_us);
	advance_scan(f, al, HOUR);
	alert_scan(al, true);
	assert_int_equal(r.n, 1);		/* raised once */
	assert_int_equal(open_alerts(al, ALERT_WARNING), 1);
	advance_scan(f, al, 4 * HOUR);		/* past 24 h: missed */
	assert_true(get(f, req.tasks[0].object_id)->u.task.deadline_missed);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[1].level, ALERT_CRITICAL);
	assert_int_equal(open_alerts(al, ALERT_CRITICAL), 1);
	assert_int_equal(open_alerts(al, ALERT_WARNING), 0);
	assert_int_equal(alert_level_of(al, OWNER, req.tasks[0].object_id),
	    ALERT_CRITICAL);
	/* Answered late: the answer's clock closes (the results' has 30 d). */
	answer_subscriber(f, &req, 0, ref);
	alert_scan(al, false);
	assert_int_equal(open_alerts(al, ALERT_CRITICAL), 0);
	assert_int_equal(open_alerts(al, ALERT_WARNING), 0);
	{
		struct alert_counts c;

		alert_counts(al, &c);
		assert_int_equal(c.warned[ALERT_ANSWER], 1);
		assert_int_equal(c.missed[ALERT_ANSWER], 1);
	}
	alert_free(al);
}

/* The share is configurable: at 50 %, the same deadline warns at 12 h. */
static void
test_alert_share(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct raised		 r;
	struct alert		*al;
	struct alert_info	 out[ALERT__COUNT];
	struct alert_config	 cfg;
	const struct obj	*t;
	int64_t			 start;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000012", &err, NULL), 0);
	al = alerts_new(f, &r, 50);
	advance_scan(f, al, 12 * HOUR - US);
	assert_int_equal(r.n, 0);
	advance_scan(f, al, US);
	assert_int_equal(r.n, 1);
	/* The pure decision agrees, to the microsecond. */
	t = get(f, req.tasks[0].object_id);
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.answer_us, f->cfg.answer_us, sizeof(cfg.answer_us));
	start = t->u.task.answer_by_us - DAY;
	cfg.warn_pct = 50;
	assert_int_equal(alert_eval(t, &cfg, start + 12 * HOUR - 1, out), 0);
	assert_int_equal(alert_eval(t, &cfg, start + 12 * HOUR, out), 1);
	assert_int_equal(out[0].level, ALERT_WARNING);
	assert_int_equal(out[0].start_us, start);
	cfg.warn_pct = 99;
	assert_int_equal(alert_eval(t, &cfg, start + 12 * HOUR, out), 0);
	assert_int_equal(alert_eval(t, &cfg, start + DAY * 99 / 100, out), 1);
	assert_int_equal(out[0].level, ALERT_WARNING);
	assert_int_equal(alert_eval(t, &cfg, t->u.task.answer_by_us, out), 1);
	assert_int_equal(out[0].level, ALERT_CRITICAL);
	alert_free(al);
}

/*
 * An urgent order's ratification clock: a warning before it lapses, a
 * critical alert when it does (the order ended by it, shown for a day).
 */
static void
test_alert_ratify(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct raised		 r;
	struct alert		*al;
	const struct obj	*a;
	int64_t			 ratify_by;
	size_t			 k;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "location-realtime-urgent.xml", "MXC-20261201-00000013", &req);
	al = alerts_new(f, &r, 80);
	a = get(f, req.auths[0].object_id);
	ratify_by = a->u.auth.ratify_by_us;
	advance_scan(f, al, ratify_by - HOUR - f->now);
	for (k = 0; k < r.n && r.v[k].clock != ALERT_RATIFY; k++)
		;
	assert_true(k < r.n);
	assert_int_equal(r.v[k].level, ALERT_WARNING);
	assert_int_equal(r.v[k].type, -1);
	assert_string_equal(r.v[k].oid, req.auths[0].object_id);
	advance_scan(f, al, 2 * HOUR);
	assert_int_equal(get(f, req.auths[0].object_id)->status, OST_EXPIRED);
	assert_int_equal(r.v[r.n - 1].clock, ALERT_RATIFY);
	assert_int_equal(r.v[r.n - 1].level, ALERT_CRITICAL);
	assert_true(r.v[r.n - 1].final);
	assert_int_equal(alert_level_of(al, OWNER, req.auths[0].object_id),
	    ALERT_CRITICAL);
	/* A sweep does not raise it again; a day later it is gone. */
	k = r.n;
	alert_scan(al, true);
	assert_int_equal(r.n, k);
	advance_scan(f, al, DAY);
	assert_int_equal(alert_level_of(al, OWNER, req.auths[0].object_id),
	    ALERT_NONE);
	alert_free(al);
}

/*
 * Undelivered results: a warning when the lifecycle warns the authority,
 * critical when they are destroyed (631).
 */
static void
test_alert_keep(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct raised		 r;
	struct alert		*al;
	char			 task[HI1_UUID_LEN + 1];

	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000014", &err, NULL), 0);
	snprintf(task, sizeof(task), "%s", req.tasks[0].object_id);
	answer_subscriber(f, &req, 0, "MXC-20261201-00000014");
	al = alerts_new(f, &r, 80);
	advance_scan(f, al, 23 * DAY - HOUR);
	assert_int_equal(r.n, 0);
	advance_scan(f, al, 2 * HOUR);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].clock, ALERT_KEEP);
	assert_int_equal(r.v[0].level, ALERT_WARNING);
	advance_scan(f, al, 7 * DAY);
	assert_int_equal(get(f, task)->reason_code, WD_REASON_RESULTS_EXPIRED);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[1].clock, ALERT_KEEP);
	assert_int_equal(r.v[1].level, ALERT_CRITICAL);
	assert_true(r.v[1].final);
	alert_free(al);
}

/* A preservation's end warns first; its release is critical. */
static void
test_alert_preservation(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct raised		 r;
	struct alert		*al;
	int64_t			 until;
	size_t			 k;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 300 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "preservation.xml", "MXC-20261201-00000015", &req);
	al = alerts_new(f, &r, 80);
	until = get(f, req.tasks[0].object_id)->u.task.freeze_until_us;
	advance_scan(f, al, until - HOUR - f->now);
	for (k = 0; k < r.n && r.v[k].clock != ALERT_PRESERVATION; k++)
		;
	assert_true(k < r.n);
	assert_int_equal(r.v[k].level, ALERT_WARNING);
	advance_scan(f, al, 2 * HOUR);
	assert_int_equal(get(f, req.tasks[0].object_id)->reason_code,
	    WD_REASON_PRESERVATION_ENDED);
	assert_int_equal(r.v[r.n - 1].clock, ALERT_PRESERVATION);
	assert_int_equal(r.v[r.n - 1].level, ALERT_CRITICAL);
	alert_free(al);
}

/* After a restart, what is still in danger is raised again, once. */
static void
test_alert_restart(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct raised		 r;
	struct alert		*al;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000016", &err, NULL), 0);
	advance(f, 2 * DAY);	/* missed while nobody looked */
	assert_true(get(f, req.tasks[0].object_id)->u.task.deadline_missed);
	al = alerts_new(f, &r, 80);	/* its start is a full sweep */
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].level, ALERT_CRITICAL);
	advance_scan(f, al, HOUR);
	assert_int_equal(r.n, 1);
	alert_free(al);
}

/*
 * A warning beyond the due index's horizon (0 here) is still found, by the
 * slices of the open tasks each scan takes in turn.
 */
static void
test_alert_slice(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req;
	struct wd_error		 err;
	struct raised		 r;
	struct alert		*al;
	struct alert_config	 cfg;
	struct alert_env	 env;

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	parse(f, "subscriber-imsi.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000017", &err, NULL), 0);
	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.warn_pct = 50;
	memcpy(cfg.answer_us, f->cfg.answer_us, sizeof(cfg.answer_us));
	memset(&env, 0, sizeof(env));
	env.store = f->st;
	env.now = fx_now;
	env.now_arg = f;
	env.raised = raised_cb;
	env.raised_arg = &r;
	assert_non_null(al = alert_new(&env, &cfg));
	assert_int_equal(alert_start(al), 0);
	assert_int_equal(r.n, 0);
	advance(f, 13 * HOUR);
	alert_scan(al, false);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].level, ALERT_WARNING);
	assert_string_equal(r.v[0].oid, req.tasks[0].object_id);
	alert_free(al);
}

/* ---- the desk's queue index (store_queue) ----------------------------------- */

struct queue_ctx {
	char	 oid[8][HI1_UUID_LEN + 1];
	int64_t	 by[8];
	size_t	 n;
};

static int
queue_cb(const struct obj *o, void *arg)
{
	struct queue_ctx *q = arg;

	assert_true(q->n < 8);
	snprintf(q->oid[q->n], sizeof(q->oid[0]), "%s", o->oid);
	q->by[q->n++] = o->u.task.answer_by_us;
	return 0;
}

static size_t
queue(struct fx *f, struct queue_ctx *q, size_t offset, size_t max)
{
	memset(q, 0, sizeof(*q));
	assert_int_equal(store_queue(f->st, offset, max, queue_cb, q), 0);
	return q->n;
}

static size_t
queue_where(struct fx *f, struct queue_ctx *q, int type, int state,
    size_t offset, size_t max)
{
	memset(q, 0, sizeof(*q));
	assert_int_equal(store_queue_where(f->st, type, state, offset, max,
	    queue_cb, q), 0);
	return q->n;
}

/*
 * The console's state and type filters (store_queue_where): only the
 * tasks of that type and/or state, in deadline order, paged; their count.
 * Two records tasks and one subscriber task (sub, due first), all
 * awaiting disclosure.
 */
static void
queue_filters(struct fx *f, struct queue_ctx *q, const char *sub)
{
	const int rec = WD_REQ_RECORDS, await = OST_AWAITING_DISCLOSURE;

	assert_int_equal(store_queue_count_where(f->st, rec, -1), 2);
	assert_int_equal(store_queue_count_where(f->st, WD_REQ_SUBSCRIBER, -1), 1);
	assert_int_equal(store_queue_count_where(f->st, -1, await), 3);
	assert_int_equal(store_queue_count_where(f->st, rec, await), 2);
	assert_int_equal(store_queue_count_where(f->st, -1, OST_DISCLOSED), 0);
	assert_int_equal(store_queue_count_where(f->st, rec, OST_REJECTED), 0);
	assert_int_equal(queue_where(f, q, rec, -1, 0, 8), 2);
	for (size_t i = 0; i < q->n; i++)
		assert_string_not_equal(q->oid[i], sub);
	assert_true(q->by[0] <= q->by[1]);
	assert_int_equal(queue_where(f, q, WD_REQ_SUBSCRIBER, await, 0, 8), 1);
	assert_string_equal(q->oid[0], sub);
	assert_int_equal(queue_where(f, q, -1, await, 0, 8), 3);
	assert_string_equal(q->oid[0], sub);
	assert_true(q->by[0] <= q->by[1] && q->by[1] <= q->by[2]);
	{	/* a page of a filter: offset, max */
		char second[HI1_UUID_LEN + 1];

		snprintf(second, sizeof(second), "%s", q->oid[1]);
		assert_int_equal(queue_where(f, q, -1, await, 1, 1), 1);
		assert_string_equal(q->oid[0], second);
	}
	assert_int_equal(queue_where(f, q, rec, OST_DISCLOSED, 0, 8), 0);
}

struct aref_ctx {
	char	 ref[HI1_UTF8_SIZE(HI1_REF_LEN)];	/* the last one seen */
	size_t	 n;
};

static int
aref_cb(const struct obj *o, void *arg)
{
	struct aref_ctx *q = arg;

	assert_false(obj_final(o));
	snprintf(q->ref, sizeof(q->ref), "%s", o->u.task.t.reference);
	q->n++;
	return 0;
}

/* The search by the authority's reference: one token lookup, exact. */
static void
queue_aref(struct fx *f, const struct hi1_request *req)
{
	struct aref_ctx		 q;
	char			 ref[HI1_UTF8_SIZE(HI1_REF_LEN) + 8];

	for (size_t i = 0; i < req->ntasks; i++) {
		memset(&q, 0, sizeof(q));
		assert_int_equal(store_queue_by_aref(f->st,
		    req->tasks[i].reference, aref_cb, &q), 0);
		assert_int_equal(q.n, 1);
		assert_string_equal(q.ref, req->tasks[i].reference);
	}
	/* Blanks around it do not count; anything else is another one. */
	snprintf(ref, sizeof(ref), "  %s\t", req->tasks[0].reference);
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_queue_by_aref(f->st, ref, aref_cb, &q), 0);
	assert_int_equal(q.n, 1);
	snprintf(ref, sizeof(ref), "%sX", req->tasks[0].reference);
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_queue_by_aref(f->st, ref, aref_cb, &q), 0);
	assert_int_equal(q.n, 0);
}

struct tally_ctx {
	uint64_t	 n[WD_REQ__COUNT][OST__COUNT];
	uint64_t	 missed;
};

static void
tally_cb(int type, int st, uint64_t n, uint64_t missed, uint64_t held,
    uint64_t flagged, void *arg)
{
	struct tally_ctx *t = arg;

	assert_true(type >= 0 && type < WD_REQ__COUNT);
	assert_true(st >= 0 && st < OST__COUNT);
	assert_int_equal(held, 0);
	assert_int_equal(flagged, 0);
	t->n[type][st] += n;
	t->missed += missed;
}

/*
 * Open tasks, by answer deadline: a new request's tasks enter, a task that
 * ends leaves; a store from before the index gets it filled at its open.
 */
static void
test_queue_index(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req, rt;
	struct wd_error		 err;
	struct queue_ctx	 q;
	sqlite3			*db;
	char			 path[128];

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	parse(f, "records.xml", &req);
	assert_int_equal(submit(f, &req, "MXC-20261201-00000021", &err, NULL), 0);
	advance(f, HOUR);
	parse(f, "subscriber-imsi.xml", &rt);
	f->cfg.answer_us[WD_REQ_SUBSCRIBER] = HOUR;	/* due before the first */
	lifecycle_configure(f->lc, &f->cfg);
	assert_int_equal(submit(f, &rt, "MXC-20261201-00000022", &err, NULL), 0);
	assert_int_equal(store_queue_count(f->st), 3);
	assert_int_equal(queue(f, &q, 0, 8), 3);
	assert_string_equal(q.oid[0], rt.tasks[0].object_id);
	assert_true(q.by[0] <= q.by[1] && q.by[1] <= q.by[2]);
	assert_int_equal(queue(f, &q, 1, 1), 1);	/* a page: offset, max */
	{	/* /metrics' counts, without reading a body */
		struct tally_ctx t;

		memset(&t, 0, sizeof(t));
		assert_int_equal(store_queue_tally(f->st, tally_cb, &t), 0);
		assert_int_equal(t.n[WD_REQ_RECORDS][OST_AWAITING_DISCLOSURE], 2);
		assert_int_equal(t.n[WD_REQ_SUBSCRIBER][OST_AWAITING_DISCLOSURE], 1);
		assert_int_equal(t.missed, 0);
	}
	assert_string_equal(q.oid[0], get(f, q.oid[0])->oid);
	queue_filters(f, &q, rt.tasks[0].object_id);
	queue_aref(f, &req);
	queue_aref(f, &rt);
	/* A store written before the index: filled at its next open. */
	fx_close(f);
	snprintf(path, sizeof(path), "%s/objects.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM queue; DELETE FROM meta "
	    "WHERE key = 'queue'", NULL, NULL, NULL), SQLITE_OK);
	/* Nor the reference tokens (and no reference is there in clear). */
	{
		sqlite3_stmt	*st;
		const char	*r0 = req.tasks[0].reference;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM "
		    "queue_ref WHERE length(token) = 32 AND token <> ?1",
		    -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, r0, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 3);
		sqlite3_finalize(st);
	}
	assert_int_equal(sqlite3_exec(db, "DELETE FROM queue_ref; DELETE FROM "
	    "meta WHERE key = 'queue_ref'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	fx_open(f);
	assert_int_equal(store_queue_count(f->st), 3);
	assert_int_equal(queue(f, &q, 0, 8), 3);
	assert_string_equal(q.oid[0], rt.tasks[0].object_id);
	queue_aref(f, &req);
	queue_aref(f, &rt);
	/* The subscriber's task ends (its calls fail past every round): out. */
	f->cfg.retry_rounds = 1;
	lifecycle_configure(f->lc, &f->cfg);
	advance(f, 2 * DAY);
	advance(f, 30 * DAY);
	assert_true(obj_final(get(f, rt.tasks[0].object_id)));
	{
		size_t open = 0;

		open += !obj_final(get(f, req.tasks[0].object_id));
		open += !obj_final(get(f, req.tasks[1].object_id));
		open += !obj_final(get(f, rt.tasks[0].object_id));
		assert_true(open < 3);
		assert_int_equal(store_queue_count(f->st), open);
		assert_int_equal(queue(f, &q, 0, 8), open);
		for (size_t i = 0; i < q.n; i++)
			assert_string_not_equal(q.oid[i], rt.tasks[0].object_id);
		assert_int_equal(store_queue_count_where(f->st,
		    WD_REQ_SUBSCRIBER, -1), 0);
		assert_int_equal(queue_where(f, &q, WD_REQ_RECORDS, -1, 0, 8),
		    open);
		struct aref_ctx a = { .n = 0 };

		assert_int_equal(store_queue_by_aref(f->st,
		    rt.tasks[0].reference, aref_cb, &a), 0);
		assert_int_equal(a.n, 0);	/* final: out of the index */
	}
}

/*
 * store_day's rows, kept for the desk's statistics: the records' tasks
 * counted (this harness's journal gives every record the same time).
 */
struct day_ctx {
	size_t	 n, answered, missed;
	int64_t	 created, answered_us;
};

static int
day_cb(const struct store_day_row *r, void *arg)
{
	struct day_ctx *d = arg;

	assert_string_equal(r->owner, "FGR");
	if (r->type != WD_REQ_RECORDS)
		return 0;
	d->n++;
	d->answered += r->answered_us != 0;
	d->missed += r->missed;
	d->created = r->created_us;
	d->answered_us = r->answered_us;
	return 0;
}

static int
urgent_cb(const struct obj *o, void *arg)
{
	assert_int_equal(o->kind, HI1_OBJ_AUTHORISATION);
	assert_true(o->u.auth.a.urgent);
	snprintf(arg, HI1_UUID_LEN + 1, "%s", o->oid);
	return 0;
}

static size_t
day_read(struct fx *f, int64_t from, int64_t to, struct day_ctx *d)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(store_day(f->st, from, to, 100, day_cb, d), 0);
	return d->n;
}

/*
 * The desk's indexes (desk_board.c): every task by acceptance with its
 * first answer and missed deadline, kept once the task ends; urgent orders
 * pending ratification by clock, gone once ratified; both filled at the
 * next open for a store from before them.
 */
static void
test_desk_indexes(void **state)
{
	struct fx		*f = *state;
	struct hi1_request	 req, ur;
	struct wd_error		 err;
	struct day_ctx		 d;
	char			 oid[HI1_UUID_LEN + 1] = "";
	int64_t			 t0, by;
	sqlite3			*db;
	char			 path[128];

	f->cfg.retry_rounds = 20;
	f->cfg.retry_base_us = 30 * DAY;
	lifecycle_configure(f->lc, &f->cfg);
	create(f, "records.xml", "MXC-20261201-00000031", &req);
	t0 = get(f, req.tasks[0].object_id)->created_us;	/* its record's */
	assert_int_equal(day_read(f, t0, t0 + US, &d), 2);
	assert_int_equal(d.created, t0);
	assert_int_equal(d.answered, 0);
	assert_int_equal(day_read(f, t0 + US, t0 + DAY, &d), 0);	/* [from, to) */
	assert_int_equal(day_read(f, t0 - DAY, t0, &d), 0);
	/* The deadline passes: missed, still not answered. */
	advance(f, DAY + US);
	assert_int_equal(day_read(f, t0, t0 + US, &d), 2);
	assert_int_equal(d.missed, 2);
	assert_int_equal(d.answered, 0);
	/* An urgent order on the board until ratified. */
	advance(f, HOUR);
	create(f, "location-realtime-urgent.xml", "MXC-20261201-00000032", &ur);
	by = get(f, ur.auths[0].object_id)->u.auth.ratify_by_us;
	assert_int_equal(store_urgent(f->st, f->now, 10, urgent_cb, oid), 0);
	assert_string_equal(oid, ur.auths[0].object_id);
	oid[0] = '\0';
	assert_int_equal(store_urgent(f->st, by + US, 10, urgent_cb, oid), 0);
	assert_string_equal(oid, "");	/* since: after its clock */
	/* A store from before the indexes: filled at its open. */
	fx_close(f);
	snprintf(path, sizeof(path), "%s/objects.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM daystat; DELETE FROM "
	    "urgent; DELETE FROM meta WHERE key = 'daystat'", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	fx_open(f);
	assert_int_equal(day_read(f, t0, t0 + US, &d), 2);
	assert_int_equal(d.missed, 2);
	assert_int_equal(store_urgent(f->st, f->now, 10, urgent_cb, oid), 0);
	assert_string_equal(oid, ur.auths[0].object_id);
	assert_int_equal(update(f, "auth:AuthorisationObject",
	    ur.auths[0].object_id, 1, ratify, &err), 0);
	oid[0] = '\0';
	assert_int_equal(store_urgent(f->st, 0, 10, urgent_cb, oid), 0);
	assert_string_equal(oid, "");
	/* The records' tasks end (their calls fail past every round): answered
	 * once, at that change, and still counted on their day. */
	f->cfg.retry_rounds = 1;
	lifecycle_configure(f->lc, &f->cfg);
	advance(f, 31 * DAY);
	assert_true(obj_final(get(f, req.tasks[0].object_id)));
	assert_int_equal(day_read(f, t0, t0 + US, &d), 2);
	assert_int_equal(d.answered, 2);
	assert_true(d.answered_us >= t0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_objects_from_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urgent_lapse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urgent_ratified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rounds_then_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_not_journaled, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keep_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_ratify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_preservation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_alert_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_slice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_desk_indexes, setup, teardown),
	};

	log_init("test_lifecycle", 1, 0);
	evthread_use_pthreads();
	hi1_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
