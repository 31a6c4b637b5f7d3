/*
 * ctl_life — warrantctl's commands for following a request after it was
 * submitted (see src/warrantctl/ctl_life.h and docs/warrantctl.md):
 *   status REF|UUID          what the carrier holds, one line per object
 *   list [--since T] [--type T]   every object, paging through LIST's cap
 *   fetch REF|UUID -o DIR    the results, every part verified before written
 *   cancel REF|UUID          DesiredStatus Cancelled for the open tasks
 *   ratify REF|UUID --order FILE   the judge's ratification of an urgent order
 *   extend REF|UUID --until T      a later EndTime for the authorisation
 * A carrier reference (MXC-...) is resolved with LIST (its objects carry it
 * as ExternalIdentifier; the reference's date bounds the search), objects
 * are read with GET, at most HI1_MAX_ACTIONS per message, and changed with
 * UPDATE quoting the Generation just read. One answer is in memory at a
 * time. Exit status as for submit: 0 done, 1 refused by the carrier or a
 * delivery that does not verify, 2 anything else.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hi1.h"
#include "hi1_object.h"
#include "log.h"
#include "ctl.h"
#include "ctl_life.h"

#define LIFE_MAX_OBJECTS	1024	/* objects of one carrier reference */
#define LIFE_FETCH_BATCH	4	/* DeliveryObjects per GET (~1.4 MB each) */
#define DAY_US			(86400LL * 1000000)

struct life {
	struct ctl_state		*st;
	const struct ctl_life_opts	*o;
	struct hi1_schema		*hs;
	FILE				*out;	/* summaries: stderr under --xml */
	const char			*cmd;	/* "status REF", for messages */
	bool				 json_first;
};

/* The objects a command works on, copied out of their answers. */
struct life_objs {
	struct ctl_object	*v;
	size_t			 n;
};

bool
ctl_life_command(const char *name)
{
	static const char *const names[] = { "status", "list", "fetch",
	    "cancel", "ratify", "extend" };

	for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]);
	    i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static void
objs_free(struct life_objs *os)
{
	for (size_t i = 0; i < os->n; i++)
		free(os->v[i].assoc);
	free(os->v);
	os->v = NULL;
	os->n = 0;
}

static void
fmt_time(int64_t us, char *buf, size_t len)
{
	wd_time_format_s(us, buf, len);
}

/* ------------------------------------------------------------------------ */
/* one exchange                                                              */

/* A refusal of the whole message (status: HTTP) or of one action (0). */
static enum ctl_result
life_refused(struct life *L, int status, unsigned long code, const char *desc)
{
	if (status == 0) {
		fprintf(L->out, "%s: REFUSED error %lu: %s\n", L->cmd, code, desc);
		return CTL_REFUSED;
	}
	fprintf(L->out, "%s: %s (HTTP %d) error %lu: %s\n", L->cmd,
	    status >= 500 ? "SERVER ERROR" : "REFUSED", status, code, desc);
	return status >= 400 && status < 500 ? CTL_REFUSED : CTL_FAILED;
}

/*
 * Send the message m (freed) and read the answer into ans. CTL_ACCEPTED
 * when ans holds ActionResponses to look at (some may be errors); else the
 * failure was said and ans is empty.
 */
static enum ctl_result
life_send(struct life *L, struct ctl_msg *m, struct ctl_answer *ans)
{
	struct ctl_response	 resp;
	struct ctl_err		 err;
	char			*body, why[512];
	size_t			 len;
	enum ctl_result		 rc;
	int			 sent;

	memset(ans, 0, sizeof(*ans));
	if ((body = ctl_msg_finish(m, &len)) == NULL) {
		fprintf(stderr, "warrantctl: %s: cannot build the request\n",
		    L->cmd);
		return CTL_FAILED;
	}
	if (L->st->xml)
		printf("<!-- warrantctl: %s: sent -->\n%s", L->cmd, body);
	sent = ctl_exchange(L->st, body, len, &resp, &err);
	free(body);
	if (sent == -1) {
		fprintf(stderr, "warrantctl: %s: %s%s\n", L->cmd,
		    err.kind == CTL_E_PROTOCOL ? "malformed answer: " : "",
		    err.msg);
		return err.kind == CTL_E_REFUSED ? CTL_REFUSED : CTL_FAILED;
	}
	if (L->st->xml) {
		printf("<!-- warrantctl: %s: received, HTTP %d -->\n", L->cmd,
		    resp.status);
		fwrite(resp.body, 1, resp.bodylen, stdout);
		putchar('\n');
	}
	rc = CTL_ACCEPTED;
	if (ctl_answer_read(L->hs, resp.body, resp.bodylen, ans, why,
	    sizeof(why)) == -1) {
		if (resp.bodylen == 0)
			snprintf(why, sizeof(why), "no body");
		fprintf(stderr, "warrantctl: %s: %sHTTP %d, answer not "
		    "understood: %s\n", L->cmd, resp.status >= 500 ?
		    "SERVER ERROR, " : "", resp.status, why);
		rc = CTL_FAILED;
	} else if (ans->error) {
		rc = life_refused(L, resp.status, ans->code, ans->desc);
		ctl_answer_free(ans);
	} else if (resp.status >= 500) {
		fprintf(stderr, "warrantctl: %s: HTTP %d\n", L->cmd, resp.status);
		ctl_answer_free(ans);
		rc = CTL_FAILED;
	}
	ctl_response_free(&resp);
	return rc;
}

/* The answer to action id: NULL (said) if the carrier left it out. */
static const struct ctl_action *
life_action(struct life *L, const struct ctl_answer *ans, uint32_t id,
    enum ctl_reply want)
{
	const struct ctl_action	*a = ctl_answer_find(ans, id);

	if (a == NULL || (a->reply != want && a->reply != CTL_R_ERROR)) {
		fprintf(stderr, "warrantctl: %s: the answer has no %s for action "
		    "%" PRIu32 "\n", L->cmd, a == NULL ? "response" :
		    "fitting response", id);
		return NULL;
	}
	return a;
}

static struct ctl_msg *
life_msg(struct life *L)
{
	struct ctl_msg	*m;
	char		 why[256];

	if ((m = ctl_msg_new(L->o->authority, L->o->carrier, why,
	    sizeof(why))) == NULL)
		fprintf(stderr, "warrantctl: %s\n", why);
	return m;
}

/* An adder refused: say why, drop the message. */
static enum ctl_result
life_msg_failed(struct life *L, struct ctl_msg *m)
{
	fprintf(stderr, "warrantctl: %s: %s\n", L->cmd, ctl_msg_error(m));
	ctl_msg_free(m);
	return CTL_FAILED;
}

/* ------------------------------------------------------------------------ */
/* LIST, paged                                                               */

/* One LIST; its records through the pager. *more: another page is due. */
static enum ctl_result
list_page(struct life *L, const char *type, int64_t *since_us,
    struct ctl_pager *pg, ctl_record_fn fn, void *arg, bool *more)
{
	struct ctl_answer	 ans;
	const struct ctl_action	*a;
	struct ctl_msg		*m;
	enum ctl_result		 rc;
	int			 r;

	*more = false;
	if ((m = life_msg(L)) == NULL)
		return CTL_FAILED;
	if (ctl_msg_list(m, type, *since_us) == -1)
		return life_msg_failed(L, m);
	if ((rc = life_send(L, m, &ans)) != CTL_ACCEPTED)
		return rc;
	if ((a = life_action(L, &ans, 0, CTL_R_LIST)) == NULL)
		rc = CTL_FAILED;
	else if (a->reply == CTL_R_ERROR)
		rc = life_refused(L, 0, a->code, a->desc);
	else if ((r = ctl_pager_page(pg, a->records, a->nrecords, fn, arg,
	    since_us)) == CTL_PAGER_STALLED) {
		fprintf(stderr, "warrantctl: %s: more than %d objects changed "
		    "within one second; LIST cannot page past them, so the list "
		    "is incomplete\n", L->cmd, CTL_LIST_MAX);
		rc = CTL_FAILED;
	} else if (r == CTL_PAGER_FAILED)
		rc = CTL_FAILED;
	else
		*more = r == CTL_PAGER_MORE;
	ctl_answer_free(&ans);
	return rc;
}

/*
 * Every record of type (NULL: all) changed at or after since_us (< 0: all
 * time), each once, to fn in the carrier's order (ctl_pager_page says how
 * pages follow each other).
 */
static enum ctl_result
life_list(struct life *L, const char *type, int64_t since_us,
    ctl_record_fn fn, void *arg)
{
	struct ctl_pager	*pg;
	enum ctl_result		 rc;
	bool			 more = true;

	if ((pg = ctl_pager_new(since_us)) == NULL) {
		fprintf(stderr, "warrantctl: out of memory\n");
		return CTL_FAILED;
	}
	for (rc = CTL_ACCEPTED; rc == CTL_ACCEPTED && more; )
		rc = list_page(L, type, &since_us, pg, fn, arg, &more);
	ctl_pager_free(pg);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* from a reference or an identifier to objects                              */

struct life_ids {
	struct life	*L;
	char		(*v)[HI1_UUID_LEN + 1];
	size_t		 n;
	const char	*ref;
};

static int
ids_collect(void *arg, const struct ctl_record *r)
{
	struct life_ids	*ids = arg;
	struct life	*L = ids->L;

	/* Parts are read by fetch only: a GET hands them over. */
	if (strcmp(r->ref, ids->ref) != 0 || r->kind == HI1_OBJ_DELIVERY)
		return 0;
	if (ids->n == LIFE_MAX_OBJECTS) {
		fprintf(stderr, "warrantctl: %s: more than %d objects carry "
		    "this reference\n", L->cmd, LIFE_MAX_OBJECTS);
		return -1;
	}
	memcpy(ids->v[ids->n++], r->id, sizeof(ids->v[0]));
	return 0;
}

/* MXC-YYYYMMDD-...: its objects changed on or after that day (UTC). */
static int64_t
ref_since(const char *ref)
{
	char	 ts[32];
	int64_t	 us;

	if (strncmp(ref, "MXC-", 4) != 0 || strlen(ref) < 13 || ref[12] != '-')
		return -1;
	snprintf(ts, sizeof(ts), "%.4s-%.2s-%.2sT00:00:00Z", ref + 4, ref + 8,
	    ref + 10);
	/* A day earlier: never miss an object for a clock's sake. */
	return wd_time_parse(ts, &us) == 0 ? us - DAY_US : -1;
}

/*
 * target is an object's UUID, or a carrier reference whose objects (of
 * type, or all but deliveries) LIST finds. 0 with the identifiers, or the
 * failure.
 */
static enum ctl_result
life_resolve(struct life *L, const char *target, const char *type,
    struct life_ids *ids)
{
	enum ctl_result	 rc;

	memset(ids, 0, sizeof(*ids));
	ids->L = L;
	if ((ids->v = calloc(LIFE_MAX_OBJECTS, sizeof(*ids->v))) == NULL) {
		fprintf(stderr, "warrantctl: out of memory\n");
		return CTL_FAILED;
	}
	if (ctl_uuid_ok(target)) {
		memcpy(ids->v[ids->n++], target, sizeof(ids->v[0]));
		return CTL_ACCEPTED;
	}
	if (!ctl_text_ok(target, CTL_REF_MAX)) {
		fprintf(stderr, "warrantctl: %s: neither an object identifier "
		    "(a lowercase UUID) nor a carrier reference\n", target);
		return CTL_FAILED;
	}
	ids->ref = target;
	if ((rc = life_list(L, type, ref_since(target), ids_collect, ids)) !=
	    CTL_ACCEPTED)
		return rc;
	if (ids->n == 0) {
		fprintf(L->out, "%s: the carrier holds no %s%s with this "
		    "reference for you\n", L->cmd, type ? type : "objects",
		    type ? " object" : "");
		return CTL_REFUSED;
	}
	return CTL_ACCEPTED;
}

/* Copied out of its answer, whose tree goes (and BinaryData with it). */
static int
obj_copy(struct ctl_object *dst, const struct ctl_object *src)
{
	*dst = *src;
	memset(&dst->manifest, 0, sizeof(dst->manifest));
	memset(&dst->data, 0, sizeof(dst->data));
	if (src->nassoc == 0)
		return 0;
	if ((dst->assoc = calloc(src->nassoc, sizeof(*dst->assoc))) == NULL) {
		fprintf(stderr, "warrantctl: out of memory\n");
		dst->nassoc = 0;
		return -1;
	}
	memcpy(dst->assoc, src->assoc, src->nassoc * sizeof(*dst->assoc));
	return 0;
}

/* GET of ids[0..n), at most HI1_MAX_ACTIONS: the objects copied into os. */
static enum ctl_result
get_batch(struct life *L, char (*ids)[HI1_UUID_LEN + 1], size_t n,
    struct life_objs *os)
{
	struct ctl_answer	 ans;
	const struct ctl_action	*a;
	struct ctl_msg		*m;
	enum ctl_result		 rc, worst = CTL_ACCEPTED;

	if ((m = life_msg(L)) == NULL)
		return CTL_FAILED;
	for (size_t i = 0; i < n; i++)
		if (ctl_msg_get(m, ids[i]) == -1)
			return life_msg_failed(L, m);
	if ((rc = life_send(L, m, &ans)) != CTL_ACCEPTED)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		if ((a = life_action(L, &ans, i, CTL_R_GET)) == NULL) {
			worst = CTL_FAILED;
			continue;
		}
		if (a->reply == CTL_R_GET && (!a->has_object ||
		    strcmp(a->obj.id, ids[i]) != 0)) {
			fprintf(stderr, "warrantctl: %s: the answer to the GET "
			    "of %s is another object\n", L->cmd, ids[i]);
			worst = CTL_FAILED;
			continue;
		}
		if (a->reply == CTL_R_ERROR) {
			fprintf(L->out, "%s: %s: error %lu: %s\n", L->cmd, ids[i],
			    a->code, a->desc);
			if (worst < CTL_REFUSED)
				worst = CTL_REFUSED;
			continue;
		}
		if (obj_copy(&os->v[os->n], &a->obj) == -1) {
			worst = CTL_FAILED;
			break;
		}
		os->n++;
	}
	ctl_answer_free(&ans);
	return worst;
}

/* GET of every identifier, HI1_MAX_ACTIONS a message. */
static enum ctl_result
life_get(struct life *L, const struct life_ids *ids, struct life_objs *os)
{
	enum ctl_result	 rc, worst = CTL_ACCEPTED;
	size_t		 k;

	memset(os, 0, sizeof(*os));
	if ((os->v = calloc(ids->n, sizeof(*os->v))) == NULL) {
		fprintf(stderr, "warrantctl: out of memory\n");
		return CTL_FAILED;
	}
	for (size_t i = 0; i < ids->n; i += k) {
		k = ids->n - i < HI1_MAX_ACTIONS ? ids->n - i : HI1_MAX_ACTIONS;
		if ((rc = get_batch(L, ids->v + i, k, os)) > worst)
			worst = rc;
		if (rc == CTL_FAILED)
			break;
	}
	return worst;
}

/* Resolve and read: the objects of target (type: a LIST filter). */
static enum ctl_result
life_objects(struct life *L, const char *target, const char *type,
    struct life_objs *os)
{
	struct life_ids	 ids;
	enum ctl_result	 rc;

	memset(os, 0, sizeof(*os));
	if ((rc = life_resolve(L, target, type, &ids)) == CTL_ACCEPTED)
		rc = life_get(L, &ids, os);
	free(ids.v);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* status and list: output                                                   */

static void
json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static bool
task_open(const struct ctl_object *o)
{
	static const char *const open[] = { "AwaitingApproval",
	    "AwaitingDisclosure", "AwaitingProvisioning", "Active",
	    "Suspended" };

	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++)
		if (strcmp(o->status, open[i]) == 0)
			return true;
	return false;
}

/* A task's parts: its AssociatedObjects after its authorisation. */
static size_t
task_parts(const struct ctl_object *o)
{
	return o->kind == HI1_OBJ_LDTASK && o->nassoc > 1 ? o->nassoc - 1 : 0;
}

/* "3 parts, all delivered" and kin; "" for objects without parts. */
static void
parts_text(const struct ctl_object *o, char *buf, size_t len)
{
	size_t	 n = task_parts(o);

	buf[0] = '\0';
	if (o->kind != HI1_OBJ_LDTASK)
		return;
	if (n == 0)
		snprintf(buf, len, "no results delivered");
	else
		snprintf(buf, len, "%zu part%s, %s", n, n == 1 ? "" : "s",
		    strcmp(o->status, "Disclosed") == 0 ? "all delivered" :
		    task_open(o) ? "not all fetched yet" : "delivery ended");
}

static void
status_line(FILE *out, const struct ctl_object *o)
{
	char	 t[32], parts[64], from[32], until[32];

	fmt_time(o->changed_us, t, sizeof(t));
	parts_text(o, parts, sizeof(parts));
	fprintf(out, "  %s %s %s", hi1_kind_type(o->kind), o->id,
	    o->status[0] ? o->status : "-");
	if (o->reason_code != 0)
		fprintf(out, " (%lu: %s)", o->reason_code, o->reason);
	fprintf(out, ", generation %" PRIu32 ", changed %s", o->generation, t);
	if (o->reference[0] != '\0' || o->detail[0] != '\0')
		fprintf(out, ": %s%s%s", o->reference,
		    o->reference[0] && o->detail[0] ? " " : "", o->detail);
	if (o->has_timespan) {
		fmt_time(o->start_us, from, sizeof(from));
		fmt_time(o->end_us, until, sizeof(until));
		fprintf(out, ", %s to %s", from, until);
	}
	if (parts[0] != '\0')
		fprintf(out, ", %s", parts);
	fputc('\n', out);
}

static void
status_json(FILE *out, const struct ctl_object *o, bool first)
{
	char	 t[32], parts[64];

	fmt_time(o->changed_us, t, sizeof(t));
	parts_text(o, parts, sizeof(parts));
	fprintf(out, "%s\n  {\"type\": ", first ? "" : ",");
	json_str(out, hi1_kind_type(o->kind));
	fprintf(out, ", \"id\": ");
	json_str(out, o->id);
	fprintf(out, ", \"status\": ");
	json_str(out, o->status);
	fprintf(out, ", \"reason_code\": %lu, \"reason\": ", o->reason_code);
	json_str(out, o->reason);
	fprintf(out, ", \"generation\": %" PRIu32 ", \"last_changed\": ",
	    o->generation);
	json_str(out, t);
	fprintf(out, ", \"carrier_reference\": ");
	json_str(out, o->ref);
	fprintf(out, ", \"reference\": ");
	json_str(out, o->reference);
	fprintf(out, ", \"detail\": ");
	json_str(out, o->detail);
	fprintf(out, ", \"parts\": %zu, \"parts_text\": ", task_parts(o));
	json_str(out, parts);
	fputc('}', out);
}

static int
cmd_status(struct life *L, const char *target)
{
	struct life_objs	 os;
	enum ctl_result		 rc;

	rc = life_objects(L, target, NULL, &os);
	if (os.n > 0 && L->o->json) {
		fprintf(L->out, "{\"target\": ");
		json_str(L->out, target);
		fprintf(L->out, ", \"objects\": [");
		for (size_t i = 0; i < os.n; i++)
			status_json(L->out, &os.v[i], i == 0);
		fprintf(L->out, "\n]}\n");
	} else if (os.n > 0) {
		fprintf(L->out, "%s: %zu object%s\n", target, os.n,
		    os.n == 1 ? "" : "s");
		for (size_t i = 0; i < os.n; i++)
			status_line(L->out, &os.v[i]);
	}
	objs_free(&os);
	return rc;
}

static int
list_print(void *arg, const struct ctl_record *r)
{
	struct life	*L = arg;
	char		 t[32];

	fmt_time(r->changed_us, t, sizeof(t));
	if (!L->o->json) {
		fprintf(L->out, "%s %s generation %" PRIu32 " changed %s%s%s\n",
		    r->type, r->id, r->generation, t, r->ref[0] ? " " : "",
		    r->ref);
		return 0;
	}
	fprintf(L->out, "%s\n  {\"type\": ", L->json_first ? "" : ",");
	json_str(L->out, r->type);
	fprintf(L->out, ", \"id\": ");
	json_str(L->out, r->id);
	fprintf(L->out, ", \"generation\": %" PRIu32 ", \"last_changed\": ",
	    r->generation);
	json_str(L->out, t);
	fprintf(L->out, ", \"carrier_reference\": ");
	json_str(L->out, r->ref);
	fputc('}', L->out);
	L->json_first = false;
	return 0;
}

/* --since: RFC 3339, or a date (midnight UTC). */
static int
parse_since(const char *s, int64_t *us)
{
	char	 ts[32];

	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		snprintf(ts, sizeof(ts), "%sT00:00:00Z", s);
		s = ts;
	}
	return wd_time_parse(s, us);
}

static int
cmd_list(struct life *L, const char *target)
{
	const char	*type = NULL;
	int64_t		 since = -1;
	enum ctl_result	 rc;

	(void)target;
	if (L->o->type != NULL &&
	    (type = hi1_kind_type(ctl_kind_of_type(L->o->type)))[0] == '?') {
		fprintf(stderr, "warrantctl: --type %s: one of Authorisation, "
		    "LDTask, Task, Document, Delivery, Notification\n",
		    L->o->type);
		return CTL_FAILED;
	}
	if (L->o->since != NULL && parse_since(L->o->since, &since) == -1) {
		fprintf(stderr, "warrantctl: --since %s: a date (2026-12-01) or "
		    "a time with its zone (2026-12-01T08:00:00-06:00)\n",
		    L->o->since);
		return CTL_FAILED;
	}
	if (L->o->json)
		fprintf(L->out, "[");
	L->json_first = true;
	rc = life_list(L, type, since, list_print, L);
	if (L->o->json)
		fprintf(L->out, "\n]\n");
	return rc;
}

/* ------------------------------------------------------------------------ */
/* cancel, ratify, extend                                                    */

/* Each UPDATE's answer, one line each; the worst outcome. */
static enum ctl_result
updates_report(struct life *L, const struct ctl_answer *ans, size_t n,
    const char *done)
{
	const struct ctl_action	*a;
	enum ctl_result		 worst = CTL_ACCEPTED;

	for (uint32_t i = 0; i < n; i++) {
		if ((a = ctl_answer_find(ans, i)) == NULL) {
			fprintf(stderr, "warrantctl: %s: no answer to action %"
			    PRIu32 "\n", L->cmd, i);
			worst = CTL_FAILED;
		} else if (a->reply == CTL_R_ERROR) {
			fprintf(L->out, "  action %" PRIu32 ": REFUSED error %lu: "
			    "%s\n", i, a->code, a->desc);
			if (worst < CTL_REFUSED)
				worst = CTL_REFUSED;
		} else if (a->has_object)
			fprintf(L->out, "  %s %s: %s, now %s, generation %" PRIu32
			    "\n", hi1_kind_type(a->obj.kind), a->obj.id,
			    a->reply == CTL_R_CREATE ? "created" : done,
			    a->obj.status[0] ? a->obj.status : "-",
			    a->obj.generation);
		else
			fprintf(L->out, "  %s: %s\n", a->identifier,
			    a->reply == CTL_R_CREATE ? "created" : done);
	}
	return worst;
}

static enum ctl_result
life_update(struct life *L, struct ctl_msg *m, const char *done)
{
	struct ctl_answer	 ans;
	enum ctl_result		 rc;
	size_t			 n = ctl_msg_count(m);

	if ((rc = life_send(L, m, &ans)) != CTL_ACCEPTED)
		return rc;
	rc = updates_report(L, &ans, n, done);
	ctl_answer_free(&ans);
	return rc;
}

static int
cmd_cancel(struct life *L, const char *target)
{
	struct life_objs	 os;
	struct ctl_msg		*m = NULL;
	enum ctl_result		 rc;
	size_t			 ended = 0, cancelled = 0;

	if ((rc = life_objects(L, target, NULL, &os)) != CTL_ACCEPTED)
		goto done;
	if ((m = life_msg(L)) == NULL) {
		rc = CTL_FAILED;
		goto done;
	}
	for (size_t i = 0; i < os.n; i++) {
		const struct ctl_object *o = &os.v[i];

		if (o->kind != HI1_OBJ_LDTASK && o->kind != HI1_OBJ_LITASK)
			continue;
		if (!task_open(o)) {
			fprintf(L->out, "  %s %s: already %s, left as it is\n",
			    hi1_kind_type(o->kind), o->id, o->status);
			cancelled += strcmp(o->status, "Cancelled") == 0;
			ended++;
		} else if (ctl_msg_cancel(m, o->kind, o->id, o->owner,
		    o->generation) == -1) {
			rc = life_msg_failed(L, m);
			m = NULL;
			goto done;
		}
	}
	if (ctl_msg_count(m) == 0) {
		if (ended == 0)
			fprintf(L->out, "%s: no task to cancel\n", L->cmd);
		/* Already cancelled (a retry) is done; ended otherwise is not. */
		if (ended == 0 || cancelled < ended)
			rc = CTL_REFUSED;
		goto done;
	}
	rc = life_update(L, m, "cancellation accepted");
	m = NULL;
 done:
	ctl_msg_free(m);
	objs_free(&os);
	return rc;
}

/* The one authorisation of target (urgent: only urgent orders count). */
static const struct ctl_object *
pick_auth(struct life *L, const struct life_objs *os, bool urgent)
{
	const struct ctl_object	*found = NULL;
	size_t			 n = 0;

	for (size_t i = 0; i < os->n; i++) {
		if (os->v[i].kind != HI1_OBJ_AUTHORISATION ||
		    (urgent && strcmp(os->v[i].detail, "UrgentOrder") != 0))
			continue;
		found = &os->v[i];
		n++;
	}
	if (n == 0)
		fprintf(L->out, "%s: no %sauthorisation found\n", L->cmd,
		    urgent ? "urgent " : "");
	else if (n > 1)
		fprintf(L->out, "%s: more than one %sauthorisation; name it by "
		    "its identifier instead\n", L->cmd, urgent ? "urgent " : "");
	return n == 1 ? found : NULL;
}

/* The --order file: read whole (one byte more than allowed says "too big"). */
static int
read_order(const char *path, struct ctl_order *order)
{
	char	 buf[CTL_ORDER_MAX + 1], why[256];
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	while (len < sizeof(buf)) {
		if ((n = read(fd, buf + len, sizeof(buf) - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (ctl_order_parse(buf, len, order, why, sizeof(why)) == -1) {
		fprintf(stderr, "warrantctl: %s: %s\n", path, why);
		return -1;
	}
	return 0;
 fail:
	fprintf(stderr, "warrantctl: %s: %s\n", path, strerror(errno));
	return -1;
}

static int
cmd_ratify(struct life *L, const char *target)
{
	struct ctl_order	 order;
	struct life_objs	 os;
	const struct ctl_object	*a;
	struct ctl_msg		*m = NULL;
	char			 doc[HI1_UUID_LEN + 1];
	enum ctl_result		 rc;

	memset(&os, 0, sizeof(os));
	if (L->o->order == NULL) {
		fprintf(stderr, "warrantctl: ratify needs --order FILE\n");
		return CTL_FAILED;
	}
	if (read_order(L->o->order, &order) == -1)
		return CTL_FAILED;
	rc = life_objects(L, target, ctl_uuid_ok(target) ? NULL :
	    "Authorisation", &os);
	if (rc != CTL_ACCEPTED)
		goto done;
	if ((a = pick_auth(L, &os, true)) == NULL) {
		rc = CTL_REFUSED;
		goto done;
	}
	if ((m = life_msg(L)) == NULL) {
		rc = CTL_FAILED;
		goto done;
	}
	hi1_uuid(doc, sizeof(doc));
	if ((order.doc_ref[0] != '\0' &&
	    ctl_msg_document(m, doc, a->owner, &order) == -1) ||
	    ctl_msg_ratify(m, a->id, a->owner, a->generation, &order,
	    order.doc_ref[0] != '\0' ? doc : NULL) == -1) {
		rc = life_msg_failed(L, m);
		m = NULL;
		goto done;
	}
	rc = life_update(L, m, "ratification accepted");
	m = NULL;
 done:
	ctl_msg_free(m);
	objs_free(&os);
	return rc;
}

static int
cmd_extend(struct life *L, const char *target)
{
	struct life_objs	 os;
	const struct ctl_object	*a;
	struct ctl_msg		*m = NULL;
	int64_t			 until;
	char			 t[32];
	enum ctl_result		 rc;

	memset(&os, 0, sizeof(os));
	if (L->o->until == NULL || wd_time_parse(L->o->until, &until) == -1) {
		fprintf(stderr, "warrantctl: extend needs --until with a date, "
		    "a time and a zone (2027-03-01T00:00:00-06:00)\n");
		return CTL_FAILED;
	}
	rc = life_objects(L, target, ctl_uuid_ok(target) ? NULL :
	    "Authorisation", &os);
	if (rc != CTL_ACCEPTED || (a = pick_auth(L, &os, false)) == NULL) {
		rc = rc != CTL_ACCEPTED ? rc : CTL_REFUSED;
		goto done;
	}
	if (!a->has_timespan || until <= a->end_us) {
		fmt_time(a->end_us, t, sizeof(t));
		fprintf(L->out, "%s: --until must be later than the current "
		    "EndTime, %s\n", L->cmd, t);
		rc = CTL_FAILED;
		goto done;
	}
	/* Whole seconds, as the templates write times. */
	until -= until % 1000000;
	if ((m = life_msg(L)) == NULL) {
		rc = CTL_FAILED;
		goto done;
	}
	if (ctl_msg_extend(m, a->id, a->owner, a->generation, a->start_us,
	    until) == -1) {
		rc = life_msg_failed(L, m);
		m = NULL;
		goto done;
	}
	rc = life_update(L, m, "extension accepted");
	m = NULL;
 done:
	ctl_msg_free(m);
	objs_free(&os);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* fetch                                                                     */

/* Parts still to ask for, by sequence number, in order. */
struct fetch_queue {
	uint32_t	*seq;
	size_t		 n;
};

/* One GET of up to batch parts; those the cap left out go back in q. */
static enum ctl_result
fetch_batch(struct life *L, struct ctl_fetch *f, const struct ctl_object *task,
    struct fetch_queue *q, size_t batch)
{
	struct ctl_answer	 ans;
	const struct ctl_action	*a;
	struct ctl_msg		*m;
	uint32_t		 again[LIFE_FETCH_BATCH];
	size_t			 k = q->n < batch ? q->n : batch, nagain = 0;
	enum ctl_result		 rc;

	if ((m = life_msg(L)) == NULL)
		return CTL_FAILED;
	for (size_t i = 0; i < k; i++)
		if (ctl_msg_get(m, task->assoc[q->seq[i]]) == -1)
			return life_msg_failed(L, m);
	if ((rc = life_send(L, m, &ans)) != CTL_ACCEPTED)
		return rc;
	for (uint32_t i = 0; i < k && rc == CTL_ACCEPTED; i++) {
		a = life_action(L, &ans, i, CTL_R_GET);
		if (a != NULL && a->reply == CTL_R_ERROR &&
		    (a->code == WD_ERR_TOO_MUCH || a->code == WD_ERR_ACTION_NOT_DONE) &&
		    k > 1)
			again[nagain++] = q->seq[i];
		else if (a == NULL || a->reply == CTL_R_ERROR)
			ctl_fetch_failed(f, q->seq[i], a ? a->desc : "no answer");
		else if (!a->has_object ||
		    strcmp(a->obj.id, task->assoc[q->seq[i]]) != 0)
			ctl_fetch_failed(f, q->seq[i], "answered with another "
			    "object");
		else if (ctl_fetch_part(f, &a->obj) == -1)
			rc = CTL_FAILED;
	}
	ctl_answer_free(&ans);
	/* The left-out first, so parts still come in order. */
	memmove(q->seq + nagain, q->seq + k, (q->n - k) * sizeof(*q->seq));
	memcpy(q->seq, again, nagain * sizeof(*q->seq));
	q->n = q->n - k + nagain;
	return rc;
}

/* The last part (with the manifest), alone. */
static enum ctl_result
fetch_manifest(struct life *L, struct ctl_fetch *f, const struct ctl_object *task)
{
	struct ctl_answer	 ans;
	const struct ctl_action	*a;
	struct ctl_msg		*m;
	size_t			 last = task->nassoc - 1;
	enum ctl_result		 rc;

	if ((m = life_msg(L)) == NULL)
		return CTL_FAILED;
	if (ctl_msg_get(m, task->assoc[last]) == -1)
		return life_msg_failed(L, m);
	if ((rc = life_send(L, m, &ans)) != CTL_ACCEPTED)
		return rc;
	if ((a = life_action(L, &ans, 0, CTL_R_GET)) == NULL)
		rc = CTL_FAILED;
	else if (a->reply == CTL_R_ERROR)
		ctl_fetch_failed(f, (uint32_t)last, a->desc);
	else if (!a->has_object || strcmp(a->obj.id, task->assoc[last]) != 0)
		ctl_fetch_failed(f, (uint32_t)last, "answered with another object");
	else if (ctl_fetch_manifest(f, &a->obj) == 0 &&
	    ctl_fetch_part(f, &a->obj) == -1)
		rc = CTL_FAILED;
	ctl_answer_free(&ans);
	return rc;
}

static enum ctl_result
fetch_task(struct life *L, const struct ctl_object *task)
{
	struct ctl_fetch	*f;
	struct fetch_queue	 q = { NULL, 0 };
	size_t			 nparts = task_parts(task), batch = LIFE_FETCH_BATCH;
	enum ctl_result		 rc;

	fprintf(L->out, "%s %s %s (%s): %zu part%s\n", hi1_kind_type(task->kind),
	    task->id, task->reference, task->status, nparts,
	    nparts == 1 ? "" : "s");
	if (nparts == 0) {
		if (!task_open(task))
			return CTL_ACCEPTED;
		fprintf(L->out, "  no results yet: try again later\n");
		return CTL_REFUSED;
	}
	if ((f = ctl_fetch_new(L->o->outdir, task->id, task->reference,
	    task->ref, nparts, L->out)) == NULL ||
	    (q.seq = calloc(nparts, sizeof(*q.seq))) == NULL) {
		fprintf(stderr, "warrantctl: %s: cannot start the fetch of task "
		    "%s\n", L->cmd, task->id);
		ctl_fetch_free(f);
		return CTL_FAILED;
	}
	rc = fetch_manifest(L, f, task);
	for (uint32_t s = 1; rc == CTL_ACCEPTED && ctl_fetch_ready(f) &&
	    s < nparts; s++)
		if (!ctl_fetch_have(f, s))
			q.seq[q.n++] = s;
	while (rc == CTL_ACCEPTED && q.n > 0) {
		size_t before = q.n;

		rc = fetch_batch(L, f, task, &q, batch);
		/* Nothing came: the cap is below this batch; one at a time. */
		if (q.n == before)
			batch = 1;
	}
	if (rc == CTL_ACCEPTED && ctl_fetch_finish(f) != 0)
		rc = CTL_REFUSED;
	free(q.seq);
	ctl_fetch_free(f);
	return rc;
}

static int
cmd_fetch(struct life *L, const char *target)
{
	struct life_objs	 os;
	enum ctl_result		 rc, worst;
	size_t			 ntasks = 0;

	if (L->o->outdir == NULL) {
		fprintf(stderr, "warrantctl: fetch needs -o DIR\n");
		return CTL_FAILED;
	}
	if (mkdir(L->o->outdir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "warrantctl: %s: %s\n", L->o->outdir,
		    strerror(errno));
		return CTL_FAILED;
	}
	worst = life_objects(L, target, ctl_uuid_ok(target) ? NULL : "LDTask",
	    &os);
	for (size_t i = 0; worst != CTL_FAILED && i < os.n; i++) {
		if (os.v[i].kind != HI1_OBJ_LDTASK)
			continue;
		ntasks++;
		if ((rc = fetch_task(L, &os.v[i])) > worst)
			worst = rc;
	}
	if (worst == CTL_ACCEPTED && ntasks == 0) {
		fprintf(L->out, "%s: not a disclosure (LD) task: it has no "
		    "results\n", L->cmd);
		worst = CTL_REFUSED;
	}
	objs_free(&os);
	return worst;
}

/* ------------------------------------------------------------------------ */

static const struct {
	const char	*name;
	int		(*run)(struct life *, const char *target);
} life_cmds[] = {
	{ "status", cmd_status },
	{ "list", cmd_list },
	{ "fetch", cmd_fetch },
	{ "cancel", cmd_cancel },
	{ "ratify", cmd_ratify },
	{ "extend", cmd_extend },
};

static int
life_setup(struct life *L, struct ctl_state *st, const struct ctl_life_opts *o)
{
	const char	*tdir = o->templates ? o->templates : DATADIR "/templates";

	memset(L, 0, sizeof(*L));
	L->st = st;
	L->o = o;
	L->out = st->xml ? stderr : stdout;
	L->cmd = "warrantctl";
	if (o->authority == NULL || o->carrier == NULL) {
		fprintf(stderr, "warrantctl: --authority and --carrier are "
		    "required (or WARRANTCTL_AUTHORITY, WARRANTCTL_CARRIER)\n");
		return -1;
	}
	/* What the templates' loader says goes to stderr, as ours. */
	log_init("warrantctl", 1, 0);
	/* Before ctl_resp_init(): the templates import each other. */
	if ((L->hs = hi1_schema_load(tdir)) == NULL) {
		fprintf(stderr, "warrantctl: cannot load the templates in %s "
		    "(--templates DIR)\n", tdir);
		return -1;
	}
	ctl_resp_init();
	return 0;
}

int
ctl_life_run(struct ctl_state *st, const struct ctl_life_opts *o, int argc,
    char **argv)
{
	struct life	 L = { .hs = NULL };
	char		 cmd[192];
	int		 rc = CTL_FAILED;
	size_t		 i;

	for (i = 0; i < sizeof(life_cmds) / sizeof(life_cmds[0]) &&
	    strcmp(life_cmds[i].name, argv[0]) != 0; i++)
		;
	if (i == sizeof(life_cmds) / sizeof(life_cmds[0]) ||
	    argc != (strcmp(argv[0], "list") == 0 ? 1 : 2)) {
		fprintf(stderr, "warrantctl: %s takes %s\n", argv[0],
		    strcmp(argv[0], "list") == 0 ? "no operand" :
		    "one carrier reference or object identifier");
		return CTL_FAILED;
	}
	if (life_setup(&L, st, o) == -1)
		goto done;
	snprintf(cmd, sizeof(cmd), "%s%s%.128s", argv[0], argc > 1 ? " " : "",
	    argc > 1 ? argv[1] : "");
	L.cmd = cmd;
	rc = life_cmds[i].run(&L, argc > 1 ? argv[1] : NULL);
 done:
	hi1_schema_free(L.hs);
	return rc;
}
