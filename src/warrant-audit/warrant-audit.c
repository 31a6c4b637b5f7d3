/*
 * warrant-audit — the auditor's tool: checks a warrantd journal without
 * the daemon and without trusting it.
 *
 *	verify		every frame, CRC, seq and time, and every signed
 *			checkpoint against the Merkle tree of the records
 *	show		records, filtered, as text or JSON lines
 *	prove		an inclusion proof for one record
 *	check-proof	verify a proof with a checkpoint and the public key
 *	consistency	prove the journal extends an older checkpoint
 *	report		counts of events per authority over a period
 *	search		with the audit key: the records naming an identifier
 *			or order, found through the blind index (audit_seal.c)
 *
 * It reads the segments with the daemon's own checks (journal_segment.c)
 * through journal_audit.c, which also builds the inclusion proofs that
 * warrantd serves to auditors: both hand out the same proofs.
 * Exit status: 0 verified, 1 verification failed (the first bad place is
 * named), 2 usage or I/O error.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit_seal.h"
#include "checkpoint.h"
#include "http.h"
#include "journal_audit.h"
#include "journal_segment.h"
#include "log.h"
#include "merkle.h"
#include "wd_time.h"

#define EXIT_BAD	1
#define EXIT_USAGE	2

/* ---- formatting ------------------------------------------------------------- */

static void
fmt_time(int64_t us, char *out, size_t len)
{
	wd_time_format(us, out, len);
	if (out[0] == '\0')	/* a year that does not fit */
		snprintf(out, len, "%" PRId64, us);
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC) to µs since the epoch. */
static int
parse_time(const char *s, int64_t *us)
{
	if (wd_time_parse_date(s, us) == 0 || wd_time_parse(s, us) == 0)
		return 0;
	log_warnx("bad time \"%s\" (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", s);
	return -1;
}

static const char *
event_name(int e)
{
	const ProtobufCEnumValue	*v;

	v = protobuf_c_enum_descriptor_get_value(&warrant__event_type__descriptor,
	    e);
	return v != NULL ? v->name : "UNKNOWN";
}

static void
json_str(FILE *fp, const char *k, const char *v)
{
	const unsigned char	*p;

	fprintf(fp, ",\"%s\":\"", k);
	for (p = (const unsigned char *)(v ? v : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void
hex(const uint8_t *p, size_t len, char *out)
{
	size_t	i;

	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* ---- checkpoints ------------------------------------------------------------ */

static int
acp_cmp(const void *a, const void *b)
{
	const struct jaudit_cp	*x = a, *y = b;

	return x->cp.size < y->cp.size ? -1 : x->cp.size > y->cp.size;
}

/* Every checkpoint in the journal directory, plus extra (may be NULL). */
static int
acp_collect(struct jaudit_journal *aj, EVP_PKEY *pub, const char *extra,
    struct jaudit_cp **out, size_t *n, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	struct jaudit_cp	*v = NULL, *nv;
	size_t		 cnt = 0, cap = 0;
	int		 fd, rv = 0;

	if ((fd = dup(aj->dirfd)) == -1 || (d = fdopendir(fd)) == NULL)
		return -1;
	rewinddir(d);		/* the offset is shared with aj->dirfd */
	while (rv == 0) {
		const char *name = NULL;
		int dfd = aj->dirfd;

		if ((de = readdir(d)) != NULL) {
			if ((strncmp(de->d_name, "checkpoint-", 11) != 0 ||
			    strlen(de->d_name) != 27) &&
			    strcmp(de->d_name, CHECKPOINT_LATEST) != 0)
				continue;
			name = de->d_name;
		} else if (extra != NULL) {
			name = extra;
			dfd = AT_FDCWD;
			extra = NULL;
		} else
			break;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				rv = -1;
				break;
			}
			v = nv;
		}
		if (jaudit_cp_read(dfd, name, pub, &v[cnt], err, errlen) == -1)
			rv = 1;
		cnt++;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), acp_cmp);
	*out = v;
	*n = cnt;
	return rv;
}

/*
 * Check the checkpoints, smallest first, against the records' tree. A
 * mismatch is pinned between the last checkpoint that matched and the
 * first that did not: that is as close as signatures can tell.
 */
static int
acp_check(struct jaudit_journal *aj, struct jaudit_cp *v, size_t n,
    char *err, size_t errlen)
{
	struct merkle_tree	t;
	merkle_hash		root;
	uint64_t		good = 0;
	char			w1[128], w2[128];
	size_t			i;

	merkle_tree_init(&t);
	for (i = 0; i < n; i++) {
		if (v[i].cp.size > aj->n) {
			jaudit_where(aj, aj->n, w1, sizeof(w1));
			snprintf(err, errlen, "checkpoint %s signs %" PRIu64
			    " records but the journal has %" PRIu64 " (ends at "
			    "%s): records were removed or cut off", v[i].name,
			    v[i].cp.size, aj->n, w1);
			return -1;
		}
		while (t.size < v[i].cp.size)
			merkle_tree_append(&t, aj->leaves[t.size]);
		merkle_tree_root(&t, root);
		if (memcmp(root, v[i].cp.root, MERKLE_HASH_LEN) != 0) {
			jaudit_where(aj, good, w1, sizeof(w1));
			jaudit_where(aj, v[i].cp.size - 1, w2, sizeof(w2));
			snprintf(err, errlen, "records seq %" PRIu64 "..%" PRIu64
			    " (%s to %s) do not match signed checkpoint %s: "
			    "they were altered", good, v[i].cp.size - 1, w1, w2,
			    v[i].name);
			return -1;
		}
		good = v[i].cp.size;
	}
	return 0;
}

/* ---- verify -------------------------------------------------------------------- */

/*
 * Sealed records are verified like any other: their bytes are the leaves.
 * With the audit key, verify also opens each one and checks its blind
 * index tokens, so that search's answers can be trusted.
 */
struct vseal {
	struct seal	*seal;		/* NULL: count only */
	uint64_t	 sealed, unchecked;
	char		 bad[400];	/* the first record that fails */
};

static int
count_sealed(const struct jseg_rec *jr, void *arg)
{
	struct vseal	*v = arg;
	Warrant__Record	*r;
	const char	*why;
	int		 t;

	if (!seal_is_sealed(jr->rec))
		return 0;
	v->sealed++;
	if (v->seal == NULL || v->bad[0] != '\0')
		return 0;
	if ((r = audit_seal_open(v->seal, jr, &why)) == NULL) {
		snprintf(v->bad, sizeof(v->bad), "%s offset %" PRIu64 ", seq %"
		    PRIu64 ": sealed fields do not open: %s", jr->segment,
		    jr->offset, jr->seq, why);
		return 0;
	}
	if ((t = seal_check_tokens(v->seal, r)) == 1)
		v->unchecked++;
	else if (t == -1)
		snprintf(v->bad, sizeof(v->bad), "%s offset %" PRIu64 ", seq %"
		    PRIu64 ": blind index tokens do not match the sealed "
		    "identifiers (search would miss this record)", jr->segment,
		    jr->offset, jr->seq);
	warrant__record__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_verify(const char *dir, const char *pubfile, const char *extra,
    const char *keyfile)
{
	struct jaudit_journal	 aj;
	struct jaudit_cp	*cps = NULL;
	size_t		 ncp = 0;
	EVP_PKEY	*pub;
	char		 err[1024] = "", t1[40], t2[40];
	struct vseal	 vs;
	int		 rv = EXIT_BAD;

	memset(&vs, 0, sizeof(vs));
	if ((pub = checkpoint_load_public(pubfile)) == NULL)
		return EXIT_USAGE;
	if (keyfile != NULL && (vs.seal = audit_seal_load(keyfile, dir)) == NULL) {
		EVP_PKEY_free(pub);
		return EXIT_USAGE;
	}
	if (jaudit_load(&aj, dir, JAUDIT_NO_LIMIT, count_sealed, &vs) == -1) {
		EVP_PKEY_free(pub);
		seal_free(vs.seal);
		jaudit_free(&aj);
		return EXIT_USAGE;
	}
	if (aj.err[0] != '\0')
		snprintf(err, sizeof(err), "%s", aj.err);
	else if (acp_collect(&aj, pub, extra, &cps, &ncp, err,
	    sizeof(err)) != 0) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s: %s", dir,
			    strerror(errno));
	} else if (ncp == 0)
		snprintf(err, sizeof(err), "no signed checkpoint: nothing to "
		    "verify the records against");
	else if (acp_check(&aj, cps, ncp, err, sizeof(err)) == 0) {
		rv = 0;
		if (vs.bad[0] != '\0') {
			snprintf(err, sizeof(err), "%s", vs.bad);
			rv = EXIT_BAD;
		}
	}
	if (rv != 0)
		printf("FAIL: %s: %s\n", dir, err);
	else {
		fmt_time(aj.first_us, t1, sizeof(t1));
		fmt_time(aj.last_us, t2, sizeof(t2));
		printf("OK: %s: %" PRIu64 " records in %zu segments, %zu "
		    "checkpoints verified (newest signs %" PRIu64 " records), "
		    "first %s, last %s\n", dir, aj.n, aj.nsegs, ncp,
		    cps[ncp - 1].cp.size, aj.n ? t1 : "-", aj.n ? t2 : "-");
		if (aj.n > cps[ncp - 1].cp.size)
			printf("note: the last %" PRIu64 " records are not "
			    "signed yet\n", aj.n - cps[ncp - 1].cp.size);
		printf("sealed: %" PRIu64 " records hold sealed targets and "
		    "references (verified as they are; show --key opens "
		    "them)\n", vs.sealed);
		if (vs.seal != NULL)
			printf("sealed: all %" PRIu64 " open with the audit key; "
			    "blind index tokens checked on %" PRIu64 "%s\n",
			    vs.sealed, vs.sealed - vs.unchecked, vs.unchecked ?
			    " (the others' index keys are not sealed for this "
			    "audit key)" : "");
	}
	free(cps);
	seal_free(vs.seal);
	EVP_PKEY_free(pub);
	jaudit_free(&aj);
	return rv;
}

/* ---- show ------------------------------------------------------------------------ */

struct show {
	int64_t		 since, until;		/* [since, until) */
	const char	*authority;
	const char	*request;		/* carrier ref or transaction */
	int		 json;
	uint64_t	 shown;
	struct seal	*seal;			/* --key: open sealed fields */
};

static const char *
enum_name(const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue	*e;

	e = protobuf_c_enum_descriptor_get_value(d, v);
	return e != NULL ? e->name : "UNKNOWN";
}

static void
show_json_tasks(const Warrant__Record *r)
{
	const Warrant__Task	*t;
	size_t			 i, k;

	printf(",\"authorisations\":[");
	for (i = 0; i < r->n_authorisations; i++) {
		printf("%s{\"urgent\":%s", i ? "," : "",
		    r->authorisations[i]->urgent ? "true" : "false");
		json_str(stdout, "reference", r->authorisations[i]->reference);
		json_str(stdout, "court", r->authorisations[i]->court);
		printf("}");
	}
	printf("],\"tasks\":[");
	for (i = 0; i < r->n_tasks; i++) {
		t = r->tasks[i];
		printf("%s{\"type\":\"%s\"", i ? "," : "",
		    enum_name(&warrant__request_type__descriptor, t->type));
		json_str(stdout, "reference", t->reference);
		printf(",\"identifiers\":[");
		for (k = 0; k < t->n_identifiers; k++) {
			printf("%s{\"type\":\"%s\"", k ? "," : "",
			    enum_name(&warrant__identifier_type__descriptor,
			    t->identifiers[k]->type));
			json_str(stdout, "value", t->identifiers[k]->value);
			printf("}");
		}
		printf("]}");
	}
	printf("]");
}

static void
show_json_lifecycle(const Warrant__Record *r)
{
	char	 h[65];

	printf(",\"transitions\":[");
	for (size_t i = 0; i < r->n_transitions; i++) {
		const Warrant__Transition *t = r->transitions[i];

		printf("%s{\"kind\":\"%s\",\"generation\":%u,\"reason_code\":%u",
		    i ? "," : "", enum_name(&warrant__object_kind__descriptor,
		    t->kind), t->generation, t->reason_code);
		json_str(stdout, "object_id", t->object_id);
		json_str(stdout, "from", t->previous_status);
		json_str(stdout, "to", t->status);
		json_str(stdout, "reason", t->reason_text);
		json_str(stdout, "cause", enum_name(&warrant__cause__descriptor,
		    t->cause));
		printf("}");
	}
	printf("],\"parts\":[");
	for (size_t i = 0; i < r->n_parts; i++) {
		const Warrant__DeliveryPart *p = r->parts[i];

		h[0] = '\0';
		if (p->sha256.len == 32)
			hex(p->sha256.data, 32, h);
		printf("%s{\"sequence\":%u,\"parts\":%u,\"count\":%" PRIu64
		    ",\"size\":%" PRIu64, i ? "," : "", p->sequence, p->parts,
		    p->count, p->size);
		json_str(stdout, "object_id", p->object_id);
		json_str(stdout, "task_id", p->task_id);
		json_str(stdout, "delivery_id", p->delivery_id);
		json_str(stdout, "sha256", h);
		printf("}");
	}
	printf("],\"objects\":[");
	for (size_t i = 0; i < r->n_objects; i++) {
		printf("%s{\"n\":%zu", i ? "," : "", i);
		json_str(stdout, "object_id", r->objects[i]);
		printf("}");
	}
	printf("]");
}

/* The compliance desk's action: who (registry id, level) did what. */
static void
show_json_desk(const Warrant__Record *r)
{
	const Warrant__DeskAction	*d = r->desk;
	char				 h[65] = "";

	if (d == NULL)
		return;
	if (d->query_sha256.len == 32)
		hex(d->query_sha256.data, 32, h);
	printf(",\"desk\":{\"matches\":%u", d->matches);
	json_str(stdout, "action", d->action);
	json_str(stdout, "operator_id", d->operator_id);
	json_str(stdout, "level", d->level);
	json_str(stdout, "object_id", d->object_id);
	json_str(stdout, "text", d->text);
	json_str(stdout, "assignee", d->assignee);
	json_str(stdout, "query_kind", d->query_kind);
	json_str(stdout, "query", d->query);
	json_str(stdout, "query_sha256", h);
	printf("}");
}

static void
show_json(const Warrant__Record *r, const char *when, const char *sealed)
{
	char	h[65] = "";

	printf("{\"seq\":%" PRIu64 ",\"time_us\":%" PRId64, r->seq, r->time_us);
	json_str(stdout, "time", when);
	json_str(stdout, "event", event_name(r->event));
	json_str(stdout, "carrier_ref", r->carrier_ref);
	json_str(stdout, "transaction_id", r->transaction_id);
	json_str(stdout, "authority_id", r->authority_id);
	json_str(stdout, "official_id", r->official_id);
	json_str(stdout, "official_subject", r->official_subject);
	json_str(stdout, "peer", r->peer);
	printf(",\"error_code\":%u", r->error_code);
	json_str(stdout, "error_text", r->error_text);
	json_str(stdout, "detail", r->detail);
	if (r->request_sha256.len == 32)
		hex(r->request_sha256.data, 32, h);
	json_str(stdout, "request_sha256", h);
	printf(",\"result_count\":%" PRIu64, r->result_count);
	json_str(stdout, "sealed", sealed);
	show_json_tasks(r);
	show_json_lifecycle(r);
	show_json_desk(r);
	printf("}\n");
}

/*
 * The lifecycle's part of a record, on the same line (show prints one line
 * per record): which objects changed, how and why; parts with digests.
 */
static void
show_lifecycle(const Warrant__Record *r)
{
	char	 h[65];

	for (size_t i = 0; i < r->n_transitions; i++) {
		const Warrant__Transition *t = r->transitions[i];

		printf(" change=%s:%s:%u:%s->%s", enum_name(
		    &warrant__object_kind__descriptor, t->kind) + 7, t->object_id,
		    t->generation, *t->previous_status ? t->previous_status : "-",
		    t->status);
		if (t->reason_code != 0)
			printf(":%u", t->reason_code);
		printf(":%s", enum_name(&warrant__cause__descriptor, t->cause) + 6);
	}
	for (size_t i = 0; i < r->n_parts; i++) {
		const Warrant__DeliveryPart *p = r->parts[i];

		h[0] = '\0';
		if (p->sha256.len == 32)
			hex(p->sha256.data, 32, h);
		printf(" part=%s:%u/%u:%" PRIu64 ":%.16s", p->object_id,
		    p->sequence, p->parts, p->count, h);
	}
	for (size_t i = 0; i < r->n_objects; i++)
		printf(" object=%s", r->objects[i]);
	for (size_t i = 0; i < r->n_notifications; i++)
		printf(" notification=%s", r->notifications[i]->object_id);
}

/* Sealed records opened with --key: the targets and orders, on the line. */
static void
show_targets(const Warrant__Record *r)
{
	for (size_t i = 0; i < r->n_tasks; i++)
		for (size_t k = 0; k < r->tasks[i]->n_identifiers; k++)
			printf(" target=%s:%s", enum_name(
			    &warrant__identifier_type__descriptor,
			    r->tasks[i]->identifiers[k]->type) + 11,
			    r->tasks[i]->identifiers[k]->value);
	for (size_t i = 0; i < r->n_authorisations; i++)
		printf(" order=\"%s\"", r->authorisations[i]->reference);
}

static int
show_one(const struct jseg_rec *jr, void *arg)
{
	struct show		*sh = arg;
	const Warrant__Record	*r = jr->rec;
	Warrant__Record		*opened = NULL;
	const char		*sealed = "no";
	char			 when[40];

	if (r->time_us < sh->since || r->time_us >= sh->until)
		return 0;
	if (sh->authority != NULL && strcmp(sh->authority, r->authority_id))
		return 0;
	if (sh->request != NULL && strcmp(sh->request, r->carrier_ref) &&
	    strcmp(sh->request, r->transaction_id))
		return 0;
	fmt_time(r->time_us, when, sizeof(when));
	sh->shown++;
	/* Without the key the clear part is shown, and what is missing said. */
	if (seal_is_sealed(jr->rec)) {
		if ((opened = audit_seal_open(sh->seal, jr, &sealed)) != NULL) {
			r = opened;
			sealed = "opened";
		}
	}
	if (sh->json) {
		show_json(r, when, sealed);
		warrant__record__free_unpacked(opened, NULL);
		return 0;
	}
	printf("%" PRIu64 " %s %s", r->seq, when, event_name(r->event));
	if (*r->carrier_ref)
		printf(" ref=%s", r->carrier_ref);
	if (*r->transaction_id)
		printf(" txn=%s", r->transaction_id);
	if (*r->authority_id)
		printf(" authority=%s", r->authority_id);
	if (*r->official_id)
		printf(" official=%.16s", r->official_id);
	if (r->error_code != 0)
		printf(" error=%u \"%s\"", r->error_code, r->error_text);
	for (size_t i = 0; i < r->n_tasks; i++)
		printf(" task=%u:%s", r->tasks[i]->action_id,
		    enum_name(&warrant__request_type__descriptor, r->tasks[i]->type));
	if (r->result_sha256.len == 32) {
		char h[65];

		hex(r->result_sha256.data, 32, h);
		printf(" count=%" PRIu64 " sha256=%.16s", r->result_count, h);
	}
	show_lifecycle(r);
	if (opened != NULL)
		show_targets(r);
	else if (seal_is_sealed(r))
		printf(" [%s]", sealed);
	if (r->desk != NULL)
		printf(" desk=%s:%s%s%s", r->desk->action, r->desk->operator_id,
		    *r->desk->assignee ? "->" : "", r->desk->assignee);
	if (*r->detail)
		printf(" detail=\"%s\"", r->detail);
	printf("\n");
	warrant__record__free_unpacked(opened, NULL);
	return 0;
}

static int
cmd_show(const char *dir, struct show *sh)
{
	struct jaudit_journal	aj;
	int		rv;

	if (jaudit_load(&aj, dir, JAUDIT_NO_LIMIT, show_one, sh) == -1) {
		jaudit_free(&aj);
		return EXIT_USAGE;
	}
	rv = 0;
	if (aj.err[0] != '\0') {
		fprintf(stderr, "warrant-audit: %s: stopped at damage: %s\n",
		    dir, aj.err);
		rv = EXIT_BAD;
	}
	jaudit_free(&aj);
	return rv;
}

/* ---- report ----------------------------------------------------------------------- */

enum { R_ACCEPTED, R_REFUSED, R_INVALID, R_DELIVERED, R_RATIFIED, R_LAPSED,
    R_OTHER, R_N };

struct rauth {
	char		name[64];
	uint64_t	c[R_N];
};

struct report {
	int64_t		 from, to;
	struct rauth	*a;
	size_t		 n, cap;
	uint64_t	 events[64];
	uint64_t	 total;
	int		 oom;
};

static int
report_one(const struct jseg_rec *jr, void *arg)
{
	struct report		*rp = arg;
	const Warrant__Record	*r = jr->rec;
	struct rauth		*a = NULL, *na;
	size_t			 i;
	int			 k;

	if (r->time_us < rp->from || r->time_us >= rp->to)
		return 0;
	rp->total++;
	rp->events[(unsigned)r->event < 64 ? r->event : 0]++;
	switch (r->event) {
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED: k = R_ACCEPTED; break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED: k = R_REFUSED; break;
	case WARRANT__EVENT_TYPE__EVENT_REQUEST_INVALID: k = R_INVALID; break;
	case WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED: k = R_DELIVERED; break;
	case WARRANT__EVENT_TYPE__EVENT_URGENT_RATIFIED: k = R_RATIFIED; break;
	case WARRANT__EVENT_TYPE__EVENT_URGENT_LAPSED: k = R_LAPSED; break;
	default: k = R_OTHER; break;
	}
	if (*r->authority_id == '\0')
		return 0;
	for (i = 0; i < rp->n; i++)
		if (strncmp(rp->a[i].name, r->authority_id,
		    sizeof(rp->a[i].name) - 1) == 0) {
			a = &rp->a[i];
			break;
		}
	if (a == NULL) {
		if (rp->n == rp->cap) {
			rp->cap = rp->cap ? rp->cap * 2 : 16;
			if ((na = reallocarray(rp->a, rp->cap, sizeof(*na))) ==
			    NULL) {
				rp->oom = 1;
				return -1;
			}
			rp->a = na;
		}
		a = &rp->a[rp->n++];
		memset(a, 0, sizeof(*a));
		snprintf(a->name, sizeof(a->name), "%s", r->authority_id);
	}
	a->c[k]++;
	return 0;
}

static int
cmd_report(const char *dir, struct report *rp)
{
	struct jaudit_journal	aj;
	char		t1[40], t2[40];
	size_t		i;
	int		rv = 0;

	if (jaudit_load(&aj, dir, JAUDIT_NO_LIMIT, report_one, rp) == -1 ||
	    rp->oom) {
		jaudit_free(&aj);
		free(rp->a);
		return EXIT_USAGE;
	}
	fmt_time(rp->from, t1, sizeof(t1));
	fmt_time(rp->to, t2, sizeof(t2));
	printf("journal %s, %s to %s: %" PRIu64 " events\n", dir, t1, t2,
	    rp->total);
	for (i = 0; i < 64; i++)
		if (rp->events[i] > 0)
			printf("  %-28s %" PRIu64 "\n", event_name((int)i),
			    rp->events[i]);
	printf("%-24s %9s %9s %9s %9s %9s %9s\n", "authority", "accepted",
	    "refused", "invalid", "delivered", "ratified", "lapsed");
	for (i = 0; i < rp->n; i++)
		printf("%-24s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
		    " %9" PRIu64 " %9" PRIu64 "\n", rp->a[i].name,
		    rp->a[i].c[R_ACCEPTED], rp->a[i].c[R_REFUSED],
		    rp->a[i].c[R_INVALID], rp->a[i].c[R_DELIVERED],
		    rp->a[i].c[R_RATIFIED], rp->a[i].c[R_LAPSED]);
	if (aj.err[0] != '\0') {
		printf("WARNING: the journal is damaged, counts stop there: "
		    "%s\n", aj.err);
		rv = EXIT_BAD;
	}
	free(rp->a);
	jaudit_free(&aj);
	return rv;
}

/* ---- proofs ------------------------------------------------------------------------ */

#define PROOF_FILE_MAX	(4 * 1024 * 1024)

/* A checkpoint from a file (or the journal's latest), signature optional. */
static int
load_cp(int dirfd, const char *path, EVP_PKEY *pub, struct checkpoint *cp)
{
	struct jaudit_cp	a;
	char			err[PATH_MAX + 256];

	if (jaudit_cp_read(dirfd, path, pub, &a, err, sizeof(err)) == -1) {
		printf("FAIL: %s\n", err);
		return -1;
	}
	*cp = a.cp;
	return 0;
}

/* The journal's root over its first size records must be cp's. */
static int
prefix_matches(const struct jaudit_journal *aj, const struct checkpoint *cp,
    const char *what)
{
	char	err[512];

	if (jaudit_prefix_matches(aj, cp, what, err, sizeof(err)) == -1) {
		printf("FAIL: %s\n", err);
		return -1;
	}
	return 0;
}

static int
cmd_prove(const char *dir, uint64_t seq, const char *cpfile)
{
	char	err[PATH_MAX + 1024];

	switch (jaudit_prove(dir, seq, cpfile, stdout, err, sizeof(err))) {
	case JAUDIT_OK:
		return 0;
	case JAUDIT_FAIL:
		printf("FAIL: %s\n", err);
		return EXIT_BAD;
	default:
		return EXIT_USAGE;	/* logged */
	}
}

/*
 * An authority's receipt names its record by leaf hash only (issue 14
 * section 5): find the record among all, then prove it as by --seq.
 */
static int
cmd_prove_leaf(const char *dir, const char *hex, const char *cpfile)
{
	static const char	digits[] = "0123456789abcdef";
	uint8_t			leaf[32];
	uint64_t		seq;
	const char		*hi, *lo;
	char			err[PATH_MAX + 1024];

	for (int i = 0; i < 32; i++) {
		if (strlen(hex) != 64 || hex[2 * i] == '\0' ||
		    (hi = strchr(digits, hex[2 * i])) == NULL ||
		    (lo = strchr(digits, hex[2 * i + 1])) == NULL) {
			fprintf(stderr, "warrant-audit: --leaf: the receipt's "
			    "leaf-sha256, 64 lowercase hex digits\n");
			return EXIT_USAGE;
		}
		leaf[i] = (uint8_t)((hi - digits) << 4 | (lo - digits));
	}
	switch (jaudit_find_leaf(dir, leaf, JAUDIT_NO_LIMIT, &seq, err,
	    sizeof(err))) {
	case JAUDIT_OK:
		return cmd_prove(dir, seq, cpfile);
	case JAUDIT_FAIL:
		printf("FAIL: %s\n", err);
		return EXIT_BAD;
	default:
		return EXIT_USAGE;	/* logged */
	}
}

struct proof {
	char		 origin[CHECKPOINT_ORIGIN_MAX];
	uint64_t	 size, seq;
	uint8_t		*record;
	size_t		 rlen;
	merkle_hash	 path[MERKLE_MAX_PROOF];
	size_t		 n;
};

static int
proof_line(struct proof *p, char *line)
{
	char	*v = strchr(line, ' '), *end;
	uint8_t	*d;
	size_t	 len;

	if (v == NULL)
		return -1;
	*v++ = '\0';
	errno = 0;
	if (strcmp(line, "origin") == 0)
		snprintf(p->origin, sizeof(p->origin), "%s", v);
	else if (strcmp(line, "tree-size") == 0)
		p->size = strtoull(v, &end, 10);
	else if (strcmp(line, "seq") == 0)
		p->seq = strtoull(v, &end, 10);
	else if (strcmp(line, "record") == 0 && p->record == NULL) {
		if ((p->record = jaudit_b64_dec(v, strlen(v), &p->rlen)) == NULL)
			return -1;
	} else if (strcmp(line, "path") == 0 && p->n < MERKLE_MAX_PROOF) {
		if ((d = jaudit_b64_dec(v, strlen(v), &len)) == NULL)
			return -1;
		if (len == MERKLE_HASH_LEN)
			memcpy(p->path[p->n++], d, len);
		free(d);
		if (len != MERKLE_HASH_LEN)
			return -1;
	} else
		return -1;
	if ((strcmp(line, "tree-size") == 0 || strcmp(line, "seq") == 0) &&
	    (errno != 0 || *end != '\0' || end == v))
		return -1;
	return 0;
}

static int
proof_read(const char *path, struct proof *p)
{
	FILE	*fp;
	char	*line = NULL;
	size_t	 cap = 0, total = 0;
	ssize_t	 n;
	int	 first = 1, rv = 0;

	memset(p, 0, sizeof(*p));
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (rv == 0 && (n = getline(&line, &cap, fp)) != -1) {
		total += (size_t)n;
		if (total > PROOF_FILE_MAX)
			rv = -1;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (first)
			rv = strcmp(line, JAUDIT_PROOF_MAGIC) == 0 ? 0 : -1;
		else if (rv == 0)
			rv = proof_line(p, line);
		first = 0;
	}
	free(line);
	fclose(fp);
	if (rv == -1 || first || p->record == NULL)
		log_warnx("%s: not a warrant-audit inclusion proof", path);
	return rv == -1 || first || p->record == NULL ? -1 : 0;
}

static int
cmd_check_proof(const char *proofile, const char *cpfile, const char *pubfile)
{
	struct proof		 p;
	struct checkpoint	 cp;
	Warrant__Record		*r;
	EVP_PKEY		*pub;
	merkle_hash		 leaf;
	int			 rv = EXIT_BAD;

	if ((pub = checkpoint_load_public(pubfile)) == NULL)
		return EXIT_USAGE;
	if (proof_read(proofile, &p) == -1) {
		EVP_PKEY_free(pub);
		free(p.record);
		return EXIT_USAGE;
	}
	r = warrant__record__unpack(NULL, p.rlen, p.record);
	merkle_leaf_hash(p.record, p.rlen, leaf);
	if (load_cp(AT_FDCWD, cpfile, pub, &cp) == -1)
		;
	else if (strcmp(cp.origin, p.origin) != 0 || cp.size != p.size)
		printf("FAIL: the proof is for %s at size %" PRIu64 ", the "
		    "checkpoint is %s at size %" PRIu64 "\n", p.origin, p.size,
		    cp.origin, cp.size);
	else if (r == NULL || r->seq != p.seq)
		printf("FAIL: the proof's record is not record seq %" PRIu64
		    "\n", p.seq);
	else if (!merkle_verify_inclusion(leaf, p.seq, p.size, p.path, p.n,
	    cp.root))
		printf("FAIL: the inclusion proof does not lead to the signed "
		    "root: record seq %" PRIu64 " is not in the journal as "
		    "signed\n", p.seq);
	else {
		printf("OK: record seq %" PRIu64 " (%s%s%s) is in the journal "
		    "%s signed at size %" PRIu64 "\n", p.seq,
		    event_name(r->event), *r->carrier_ref ? " " : "",
		    r->carrier_ref, cp.origin, cp.size);
		rv = 0;
	}
	if (r != NULL)
		warrant__record__free_unpacked(r, NULL);
	free(p.record);
	EVP_PKEY_free(pub);
	return rv;
}

static int
cmd_consistency(const char *dir, const char *oldfile, const char *pubfile)
{
	struct jaudit_journal		 aj;
	struct checkpoint	 old, cur;
	merkle_hash		 proof[MERKLE_MAX_PROOF];
	EVP_PKEY		*pub = NULL;
	char			 h[64];
	int			 n = 0, i, rv = EXIT_BAD;

	if (pubfile != NULL && (pub = checkpoint_load_public(pubfile)) == NULL)
		return EXIT_USAGE;
	if (jaudit_load(&aj, dir, JAUDIT_NO_LIMIT, NULL, NULL) == -1) {
		rv = EXIT_USAGE;
		goto out;
	}
	if (aj.err[0] != '\0') {
		printf("FAIL: %s: %s\n", dir, aj.err);
		goto out;
	}
	if (load_cp(AT_FDCWD, oldfile, pub, &old) == -1 ||
	    prefix_matches(&aj, &old, "the old checkpoint") == -1)
		goto out;
	/* The newest signed state, or the journal as it is. */
	if (faccessat(aj.dirfd, CHECKPOINT_LATEST, F_OK, 0) == 0) {
		if (load_cp(aj.dirfd, CHECKPOINT_LATEST, pub, &cur) == -1 ||
		    prefix_matches(&aj, &cur, "checkpoint.latest") == -1)
			goto out;
	} else {
		cur = old;
		cur.size = aj.n;
		merkle_root(aj.leaves, aj.n, cur.root);
	}
	if (cur.size < old.size) {
		printf("FAIL: checkpoint.latest (size %" PRIu64 ") is older "
		    "than the old checkpoint (size %" PRIu64 ")\n", cur.size,
		    old.size);
		goto out;
	}
	if (old.size > 0 && (n = merkle_consistency_proof(aj.leaves,
	    cur.size, old.size, proof)) >= 0 &&
	    !merkle_verify_consistency(old.size, cur.size, old.root, cur.root,
	    proof, (size_t)n)) {
		printf("FAIL: consistency proof does not verify\n");
		goto out;
	}
	printf("OK: the journal at size %" PRIu64 " extends the checkpoint "
	    "at size %" PRIu64 "\n", cur.size, old.size);
	for (i = 0; i < n; i++) {
		jaudit_b64(proof[i], MERKLE_HASH_LEN, h);
		printf("proof %s\n", h);
	}
	rv = 0;
out:
	jaudit_free(&aj);
	EVP_PKEY_free(pub);
	return rv;
}

/* ---- main ---------------------------------------------------------------------------- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: warrant-audit verify --journal DIR --pubkey FILE "
	    "[--checkpoint FILE] [--key FILE]\n"
	    "       warrant-audit show --journal DIR [--since T] [--until T] "
	    "[--authority ID]\n"
	    "                     [--request REF] [--json]\n"
	    "       warrant-audit prove --journal DIR --seq N | --leaf HEX "
	    "[--checkpoint FILE]\n"
	    "       warrant-audit check-proof --proof FILE --checkpoint FILE "
	    "--pubkey FILE\n"
	    "       warrant-audit consistency --journal DIR --old FILE "
	    "[--pubkey FILE]\n"
	    "       warrant-audit report --journal DIR --from DATE --to DATE\n"
	    "       warrant-audit search --journal DIR --key FILE\n"
	    "                     (--identifier TYPE:VALUE | --order REF | "
	    "--task-ref REF)\n"
	    "                     [--since T] [--until T] [--json]\n"
	    "show takes --key FILE too (the audit private key) to open sealed "
	    "fields.\n"
	    "TYPE: msisdn, imsi, imei, ip\n"
	    "T and DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)\n");
	exit(EXIT_USAGE);
}

struct opts {
	const char	*journal, *pubkey, *checkpoint, *since, *until;
	const char	*authority, *request, *proof, *old, *from, *to, *seq;
	const char	*key, *identifier, *order, *taskref;
	const char	*leaf;
	int		 json;
};

static void
parse_opts(int argc, char *argv[], struct opts *o)
{
	static const struct option lo[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "authority", required_argument, NULL, 'a' },
		{ "request", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'J' },
		{ "seq", required_argument, NULL, 'n' },
		{ "leaf", required_argument, NULL, 'l' },
		{ "proof", required_argument, NULL, 'p' },
		{ "old", required_argument, NULL, 'o' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'K' },
		{ "identifier", required_argument, NULL, 'i' },
		{ "order", required_argument, NULL, 'O' },
		{ "task-ref", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'j': o->journal = optarg; break;
		case 'k': o->pubkey = optarg; break;
		case 'c': o->checkpoint = optarg; break;
		case 's': o->since = optarg; break;
		case 'u': o->until = optarg; break;
		case 'a': o->authority = optarg; break;
		case 'r': o->request = optarg; break;
		case 'J': o->json = 1; break;
		case 'n': o->seq = optarg; break;
		case 'l': o->leaf = optarg; break;
		case 'p': o->proof = optarg; break;
		case 'o': o->old = optarg; break;
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'K': o->key = optarg; break;
		case 'i': o->identifier = optarg; break;
		case 'O': o->order = optarg; break;
		case 'T': o->taskref = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
}

/* Exactly one of --identifier, --order, --task-ref. */
static int
cmd_search(const struct opts *o)
{
	struct audit_search	q;

	memset(&q, 0, sizeof(q));
	q.since = INT64_MIN;
	q.until = INT64_MAX;
	q.json = o->json;
	if (!o->journal || !o->key || (!!o->identifier + !!o->order +
	    !!o->taskref) != 1 || (o->since && parse_time(o->since,
	    &q.since)) || (o->until && parse_time(o->until, &q.until)))
		usage();
	if (o->identifier != NULL && audit_seal_parse_identifier(o->identifier,
	    &q.kind, &q.value) == -1)
		usage();
	if (o->order != NULL) {
		q.kind = SEAL_KIND_ORDER;
		q.value = o->order;
	} else if (o->taskref != NULL) {
		q.kind = SEAL_KIND_TASKREF;
		q.value = o->taskref;
	}
	return audit_search(o->journal, o->key, &q);
}

/* Canonical decimal only, as the daemon's GET /journal/proof?seq=N. */
static uint64_t
parse_seq(const char *s)
{
	uint64_t	v;

	if (http_parse_decimal(s, strlen(s), UINT64_MAX, &v) == -1)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	struct opts	o;
	struct show	sh;
	struct report	rp;
	const char	*cmd;
	int		 rv;

	log_init("warrant-audit", 1, 0);
	if (argc < 2)
		usage();
	cmd = argv[1];
	parse_opts(argc - 1, argv + 1, &o);
	if (strcmp(cmd, "verify") == 0) {
		if (!o.journal || !o.pubkey)
			usage();
		return cmd_verify(o.journal, o.pubkey, o.checkpoint, o.key);
	}
	if (strcmp(cmd, "show") == 0) {
		memset(&sh, 0, sizeof(sh));
		sh.since = INT64_MIN;
		sh.until = INT64_MAX;
		if (!o.journal || (o.since && parse_time(o.since, &sh.since)) ||
		    (o.until && parse_time(o.until, &sh.until)))
			usage();
		sh.authority = o.authority;
		sh.request = o.request;
		sh.json = o.json;
		if (o.key && (sh.seal = audit_seal_load(o.key, NULL)) == NULL)
			return EXIT_USAGE;
		rv = cmd_show(o.journal, &sh);
		seal_free(sh.seal);
		return rv;
	}
	if (strcmp(cmd, "search") == 0)
		return cmd_search(&o);
	if (strcmp(cmd, "prove") == 0) {
		if (!o.journal || !o.seq == !o.leaf)
			usage();
		if (o.leaf)
			return cmd_prove_leaf(o.journal, o.leaf, o.checkpoint);
		return cmd_prove(o.journal, parse_seq(o.seq), o.checkpoint);
	}
	if (strcmp(cmd, "check-proof") == 0) {
		if (!o.proof || !o.checkpoint || !o.pubkey)
			usage();
		return cmd_check_proof(o.proof, o.checkpoint, o.pubkey);
	}
	if (strcmp(cmd, "consistency") == 0) {
		if (!o.journal || !o.old)
			usage();
		return cmd_consistency(o.journal, o.old, o.pubkey);
	}
	if (strcmp(cmd, "report") == 0) {
		memset(&rp, 0, sizeof(rp));
		if (!o.journal || !o.from || !o.to ||
		    parse_time(o.from, &rp.from) || parse_time(o.to, &rp.to))
			usage();
		return cmd_report(o.journal, &rp);
	}
	usage();
}
