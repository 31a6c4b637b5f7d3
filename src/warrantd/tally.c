/*
 * tally — counts of what the journal records, for /metrics (src/warrantd/tally.h).
 *
 * The journal is the one place where everything the gateway did is
 * written, so the counts come from its records as they become durable,
 * never from the code paths that wrote them: a new path that journals is
 * counted without anyone remembering to.
 *
 * A task is "answered" (LFTR art. 190: the carrier's part is done) when
 * its results are packaged for the authority (EVENT_DELIVERY_READY, its
 * first part), when they are carried in the acceptance itself, when an
 * interception becomes Active, or when it reaches a final state without
 * results (no data, error, rejected, cancelled, expired). The time to
 * answer is from its acceptance record to that record.
 *
 * Labels are bounded: request types and ETSI states are fixed lists, and
 * authorities are registry ids (at most TALLY_AUTH_MAX distinct, the rest
 * counted as "other"; anything that is not a plain id is "unknown").
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj.h"
#include "store.h"
#include "tally.h"
#include "wd.h"

#define TALLY_AUTH_MAX		64
#define TALLY_ANSWERED		0	/* outcome index: results ready */
#define TALLY_ACCEPTED		0	/* asked[] outcome: accepted */
#define TALLY_REFUSED		1
/*
 * lifecycle_plan.c writes this detail on results carried in the acceptance, and
 * begins with it that of an EVENT_DELIVERY_FAILED for such results whose
 * answer was never written (lifecycle_undelivered).
 */
#define TALLY_AT_ONCE		"carried in the acceptance"

static const double tally_le[] = {	/* seconds: a minute .. two days */
	1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400
};
#define TALLY_NLE	(sizeof(tally_le) / sizeof(tally_le[0]))

struct tally_auth {
	char		 id[HI1_ID_LEN + 1];
	uint64_t	 asked[WD_REQ__COUNT][2];
	uint64_t	 answered[WD_REQ__COUNT][OST__COUNT];	/* 0: results */
};

struct tally_hist {
	uint64_t	 bucket[TALLY_NLE];	/* cumulative at output */
	uint64_t	 count;
	double		 sum;
};

struct tally {
	struct tally_auth	 auth[TALLY_AUTH_MAX + 2];	/* + other, unknown */
	size_t			 nauth;
	struct tally_hist	 hist[WD_REQ__COUNT];
	uint64_t		 push_failed;
};

struct tally *
tally_new(void)
{
	struct tally *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	snprintf(t->auth[TALLY_AUTH_MAX].id, HI1_ID_LEN + 1, "other");
	snprintf(t->auth[TALLY_AUTH_MAX + 1].id, HI1_ID_LEN + 1, "unknown");
	return t;
}

void
tally_free(struct tally *t)
{
	free(t);
}

/* The row of an authority: a registry id is letters, digits, '-', '_', '.'. */
static struct tally_auth *
tally_auth(struct tally *t, const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > HI1_ID_LEN)
		return &t->auth[TALLY_AUTH_MAX + 1];
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && strchr("-_.", id[i]) == NULL)
			return &t->auth[TALLY_AUTH_MAX + 1];
	for (size_t i = 0; i < t->nauth; i++)
		if (strcmp(t->auth[i].id, id) == 0)
			return &t->auth[i];
	if (t->nauth == TALLY_AUTH_MAX)
		return &t->auth[TALLY_AUTH_MAX];
	memcpy(t->auth[t->nauth].id, id, n + 1);
	return &t->auth[t->nauth++];
}

static void
tally_answered(struct tally *t, const struct obj *o, unsigned outcome,
    int64_t when_us)
{
	unsigned		 ty = (unsigned)o->u.task.t.type;
	struct tally_hist	*h;
	double			 s;

	if (ty >= WD_REQ__COUNT || outcome >= OST__COUNT)
		return;
	tally_auth(t, o->owner)->answered[ty][outcome]++;
	h = &t->hist[ty];
	s = when_us > o->created_us ? (double)(when_us - o->created_us) / 1e6 : 0;
	for (size_t i = 0; i < TALLY_NLE; i++)
		if (s <= tally_le[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum += s;
}

/* A task named by a record, as the store holds it after the record. */
static int
tally_task(struct store *st, const char *owner, const char *oid, struct obj *o)
{
	return oid != NULL && store_get(st, owner, oid, o) == 1 &&
	    (o->kind == HI1_OBJ_LDTASK || o->kind == HI1_OBJ_LITASK) ? 0 : -1;
}

/* Transitions of tasks into a state that answers them without results. */
static void
tally_transitions(struct tally *t, const Warrant__Record *rec,
    struct store *st, struct obj *o)
{
	bool at_once = rec->event ==
	    WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED && rec->detail != NULL &&
	    strcmp(rec->detail, TALLY_AT_ONCE) == 0;

	for (size_t i = 0; i < rec->n_transitions; i++) {
		const Warrant__Transition *tr = rec->transitions[i];

		if (tr->status == NULL || tr->previous_status == NULL ||
		    strcmp(tr->status, tr->previous_status) == 0 ||
		    tally_task(st, rec->authority_id, tr->object_id, o) == -1)
			continue;
		if (at_once && o->status == OST_DISCLOSED)
			tally_answered(t, o, TALLY_ANSWERED, rec->time_us);
		else if (o->kind == HI1_OBJ_LITASK && o->status == OST_ACTIVE)
			tally_answered(t, o, OST_ACTIVE, rec->time_us);
		else if (obj_final(o) && o->u.task.parts == 0)
			tally_answered(t, o, o->status, rec->time_us);
	}
}

void
tally_record(struct tally *t, const Warrant__Record *rec, struct store *st)
{
	struct obj	*o;
	int		 out = -1;

	switch (rec->event) {
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED:
		out = TALLY_ACCEPTED;
		break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED:
		out = TALLY_REFUSED;
		break;
	case WARRANT__EVENT_TYPE__EVENT_DELIVERY_FAILED:
		/* Not a push: an answer that carried results was not written. */
		if (rec->detail == NULL || strncmp(rec->detail, TALLY_AT_ONCE,
		    strlen(TALLY_AT_ONCE)) != 0)
			t->push_failed++;
		break;
	default:
		break;
	}
	/* The journal's request types are ours + 1 (0: unspecified). */
	for (size_t i = 0; out != -1 && i < rec->n_tasks; i++)
		if (rec->tasks[i]->type >= 1 &&
		    (unsigned)rec->tasks[i]->type <= WD_REQ__COUNT)
			tally_auth(t, rec->authority_id)->
			    asked[rec->tasks[i]->type - 1][out]++;
	if (rec->n_transitions == 0 && rec->event !=
	    WARRANT__EVENT_TYPE__EVENT_DELIVERY_READY)
		return;
	if ((o = malloc(sizeof(*o))) == NULL)
		return;		/* a count lost, nothing else */
	if (rec->event == WARRANT__EVENT_TYPE__EVENT_DELIVERY_READY)
		for (size_t i = 0; i < rec->n_parts; i++)
			if (rec->parts[i]->sequence == 1 && tally_task(st,
			    rec->authority_id, rec->parts[i]->task_id, o) == 0)
				tally_answered(t, o, TALLY_ANSWERED, rec->time_us);
	tally_transitions(t, rec, st, o);
	free(o);
}

/* ---- the text ----------------------------------------------------------------- */

static const char *
tally_outcome(unsigned i)
{
	return i == TALLY_ANSWERED ? "ResultsReady" : obj_status_name(i);
}

static void
tally_requests(const struct tally *t, FILE *f)
{
	fprintf(f, "# HELP warrantd_authority_tasks_total Tasks asked for since "
	    "start, by authority, request type and outcome of the request.\n"
	    "# TYPE warrantd_authority_tasks_total counter\n");
	for (size_t a = 0; a < TALLY_AUTH_MAX + 2; a++)
		for (int ty = 0; ty < WD_REQ__COUNT; ty++)
			for (int k = 0; k < 2; k++)
				if (t->auth[a].asked[ty][k] > 0)
					fprintf(f, "warrantd_authority_tasks_total{"
					    "authority=\"%s\",type=\"%s\",outcome="
					    "\"%s\"} %llu\n", t->auth[a].id,
					    wd_reqtype_confname(ty), k ? "refused" :
					    "accepted", (unsigned long long)
					    t->auth[a].asked[ty][k]);
	fprintf(f, "# HELP warrantd_authority_answers_total Tasks answered since "
	    "start, by authority, request type and how (ResultsReady or the "
	    "ETSI state reached without results).\n"
	    "# TYPE warrantd_authority_answers_total counter\n");
	for (size_t a = 0; a < TALLY_AUTH_MAX + 2; a++)
		for (int ty = 0; ty < WD_REQ__COUNT; ty++)
			for (unsigned k = 0; k < OST__COUNT; k++)
				if (t->auth[a].answered[ty][k] > 0)
					fprintf(f, "warrantd_authority_answers_total{"
					    "authority=\"%s\",type=\"%s\",outcome="
					    "\"%s\"} %llu\n", t->auth[a].id,
					    wd_reqtype_confname(ty), tally_outcome(k),
					    (unsigned long long)
					    t->auth[a].answered[ty][k]);
}

static void
tally_histograms(const struct tally *t, FILE *f)
{
	fprintf(f, "# HELP warrantd_time_to_answer_seconds From a task's "
	    "acceptance to its answer, by request type.\n"
	    "# TYPE warrantd_time_to_answer_seconds histogram\n");
	for (int ty = 0; ty < WD_REQ__COUNT; ty++) {
		const struct tally_hist	*h = &t->hist[ty];
		const char		*name = wd_reqtype_confname(ty);
		uint64_t		 cum = 0;

		for (size_t i = 0; i < TALLY_NLE; i++) {
			cum += h->bucket[i];
			fprintf(f, "warrantd_time_to_answer_seconds_bucket{type="
			    "\"%s\",le=\"%g\"} %llu\n", name, tally_le[i],
			    (unsigned long long)cum);
		}
		fprintf(f, "warrantd_time_to_answer_seconds_bucket{type=\"%s\","
		    "le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
		fprintf(f, "warrantd_time_to_answer_seconds_sum{type=\"%s\"} "
		    "%.6f\n", name, h->sum);
		fprintf(f, "warrantd_time_to_answer_seconds_count{type=\"%s\"} "
		    "%llu\n", name, (unsigned long long)h->count);
	}
}

int
tally_text(const struct tally *t, char **out, size_t *len)
{
	FILE *f;

	*out = NULL;
	*len = 0;
	if ((f = open_memstream(out, len)) == NULL)
		return -1;
	if (t != NULL) {
		tally_requests(t, f);
		tally_histograms(t, f);
		fprintf(f, "# HELP warrantd_deliveries_retried_total Pushes to "
		    "authorities' endpoints that failed and are tried again, "
		    "since start.\n"
		    "# TYPE warrantd_deliveries_retried_total counter\n"
		    "warrantd_deliveries_retried_total %llu\n",
		    (unsigned long long)t->push_failed);
	}
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
