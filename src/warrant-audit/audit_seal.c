/*
 * audit_seal — warrant-audit with the audit private key (see audit_seal.h):
 * opening sealed records for show, and search.
 *
 * search answers "was this identifier (or order) named between these
 * dates, and under which order" without opening every record: a sealed
 * record is opened only if it carries the blind index token of the value
 * for its month; the opened record is then checked to really name the
 * value (a token is 128 bits, but a match is confirmed, never assumed).
 * Records in clear (format 1 segments, or written without an audit key)
 * are compared directly, so one search covers a journal's whole history.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "audit_seal.h"
#include "journal_audit.h"
#include "log.h"
#include "wd_time.h"

#define EXIT_BAD	1
#define EXIT_USAGE	2

struct seal *
audit_seal_load(const char *keyfile, const char *dir)
{
	struct seal	*s;
	int		 fd, n = 0;

	if ((s = seal_new()) == NULL || seal_set_audit_private(s, keyfile) == -1) {
		seal_free(s);
		return NULL;
	}
	if (dir != NULL) {
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			log_warn("%s", dir);
			seal_free(s);
			return NULL;
		}
		n = seal_index_load(s, fd);
		close(fd);
		if (n == -1) {
			seal_free(s);
			return NULL;
		}
		if (n == 0)
			log_warnx("%s: no index-*.sealed file for this audit key: "
			    "sealed records can be opened but not searched", dir);
	}
	return s;
}

Warrant__Record *
audit_seal_open(const struct seal *s, const struct jseg_rec *jr,
    const char **why)
{
	static char	 err[200];
	Warrant__Record	*r;

	if (s == NULL) {
		*why = "sealed: targets and references need the audit key "
		    "(--key)";
		return NULL;
	}
	if ((r = warrant__record__unpack(NULL, jr->len, jr->bytes)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if (seal_open(s, r, err, sizeof(err)) == -1) {
		warrant__record__free_unpacked(r, NULL);
		*why = err;
		return NULL;
	}
	return r;
}

int
audit_seal_parse_identifier(const char *s, unsigned *kind, const char **value)
{
	static const struct {
		const char	*name;
		unsigned	 kind;
	} t[] = {
		{ "msisdn", WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN },
		{ "imsi", WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMSI },
		{ "imei", WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IMEI },
		{ "ip", WARRANT__IDENTIFIER_TYPE__IDENTIFIER_IP_PORT },
	};
	const char	*colon = strchr(s, ':');
	size_t		 i;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if ((size_t)(colon - s) == strlen(t[i].name) &&
		    strncasecmp(s, t[i].name, strlen(t[i].name)) == 0) {
			*kind = t[i].kind;
			*value = colon + 1;
			return 0;
		}
	return -1;
}

/* ---- search ------------------------------------------------------------------ */

struct search_run {
	const struct audit_search	*q;
	const struct seal		*seal;
	char				 want[SEAL_VALUE_MAX];
	uint64_t			 matched, sealed, opened, unreadable;
	uint64_t			 unindexed;	/* no index key for them */
};

static bool
search_same(const struct search_run *sr, const char *v)
{
	char	n[SEAL_VALUE_MAX];

	return seal_normalise(sr->q->kind, v, n, sizeof(n)) == 0 &&
	    strcmp(n, sr->want) == 0;
}

/* Does the (opened or clear) record name the value? */
static bool
search_names(const struct search_run *sr, const Warrant__Record *r)
{
	size_t	i, k;

	for (i = 0; i < r->n_tasks; i++) {
		const Warrant__Task *t = r->tasks[i];

		if (sr->q->kind == SEAL_KIND_TASKREF && search_same(sr,
		    t->reference))
			return true;
		for (k = 0; k < t->n_identifiers; k++)
			if ((unsigned)t->identifiers[k]->type == sr->q->kind &&
			    search_same(sr, t->identifiers[k]->value))
				return true;
	}
	for (i = 0; i < r->n_authorisations; i++)
		if (sr->q->kind == SEAL_KIND_ORDER && search_same(sr,
		    r->authorisations[i]->reference))
			return true;
	return false;
}

static void
search_when(int64_t us, char *out, size_t len)
{
	wd_time_format_s(us, out, len);
	if (out[0] == '\0')
		snprintf(out, len, "%" PRId64, us);
}

static void
search_json_str(const char *k, const char *v)
{
	const unsigned char	*p;

	printf(",\"%s\":\"", k);
	for (p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static const char *
search_event(int e)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
	    &warrant__event_type__descriptor, e);

	return v != NULL ? v->name : "UNKNOWN";
}

/* One line per matching record: when, what, for whom, under which order. */
static void
search_print(const struct search_run *sr, const Warrant__Record *r,
    bool sealed)
{
	char	when[40];
	size_t	i;

	search_when(r->time_us, when, sizeof(when));
	if (sr->q->json) {
		printf("{\"seq\":%" PRIu64, r->seq);
		search_json_str("time", when);
		search_json_str("event", search_event(r->event));
		search_json_str("carrier_ref", r->carrier_ref);
		search_json_str("authority_id", r->authority_id);
		printf(",\"sealed\":%s,\"orders\":[", sealed ? "true" : "false");
		for (i = 0; i < r->n_authorisations; i++) {
			printf("%s{\"urgent\":%s", i ? "," : "",
			    r->authorisations[i]->urgent ? "true" : "false");
			search_json_str("reference",
			    r->authorisations[i]->reference);
			search_json_str("court", r->authorisations[i]->court);
			printf("}");
		}
		printf("],\"tasks\":[");
		for (i = 0; i < r->n_tasks; i++) {
			printf("%s{\"n\":%zu", i ? "," : "", i);
			search_json_str("reference", r->tasks[i]->reference);
			printf("}");
		}
		printf("]}\n");
		return;
	}
	printf("%" PRIu64 " %s %s", r->seq, when, search_event(r->event));
	if (*r->carrier_ref)
		printf(" ref=%s", r->carrier_ref);
	if (*r->authority_id)
		printf(" authority=%s", r->authority_id);
	for (i = 0; i < r->n_authorisations; i++)
		printf(" order=\"%s\"%s court=\"%s\"",
		    r->authorisations[i]->reference,
		    r->authorisations[i]->urgent ? " (urgent)" : "",
		    r->authorisations[i]->court);
	for (i = 0; i < r->n_tasks; i++)
		if (*r->tasks[i]->reference)
			printf(" task=\"%s\"", r->tasks[i]->reference);
	printf("%s\n", sealed ? "" : " (in clear)");
}

static int
search_one(const struct jseg_rec *jr, void *arg)
{
	struct search_run	*sr = arg;
	Warrant__Record		*r;
	const char		*why;

	if (jr->rec->time_us < sr->q->since || jr->rec->time_us >= sr->q->until)
		return 0;
	if (!seal_is_sealed(jr->rec)) {
		if (search_names(sr, jr->rec)) {
			sr->matched++;
			search_print(sr, jr->rec, false);
		}
		return 0;
	}
	sr->sealed++;
	if (!seal_index_has(sr->seal, jr->rec)) {
		sr->unindexed++;
		return 0;
	}
	if (!seal_index_match(sr->seal, jr->rec, sr->q->kind, sr->q->value))
		return 0;
	sr->opened++;
	if ((r = audit_seal_open(sr->seal, jr, &why)) == NULL) {
		sr->unreadable++;
		fprintf(stderr, "warrant-audit: record %" PRIu64 ": %s\n",
		    jr->seq, why);
		return 0;
	}
	if (search_names(sr, r)) {
		sr->matched++;
		search_print(sr, r, true);
	}
	warrant__record__free_unpacked(r, NULL);
	return 0;
}

int
audit_search(const char *dir, const char *keyfile, const struct audit_search *q)
{
	struct jaudit_journal	 aj;
	struct search_run	 sr;
	struct seal		*s;
	int			 rv = 0;

	memset(&sr, 0, sizeof(sr));
	sr.q = q;
	if (seal_normalise(q->kind, q->value, sr.want, sizeof(sr.want)) == -1) {
		log_warnx("nothing to search for in \"%s\"", q->value);
		return EXIT_USAGE;
	}
	if ((s = audit_seal_load(keyfile, dir)) == NULL)
		return EXIT_USAGE;
	sr.seal = s;
	if (jaudit_load(&aj, dir, JAUDIT_NO_LIMIT, search_one, &sr) == -1) {
		jaudit_free(&aj);
		seal_free(s);
		return EXIT_USAGE;
	}
	if (!q->json)
		printf("%" PRIu64 " records name it; %" PRIu64 " of %" PRIu64
		    " sealed records in the period opened (index matches)\n",
		    sr.matched, sr.opened, sr.sealed);
	/* A missing or replaced index file must not look like "no match". */
	if (sr.unindexed > 0) {
		fprintf(stderr, "warrant-audit: %" PRIu64 " sealed records in "
		    "the period were NOT searched: their index key "
		    "(index-*.sealed) is missing for this audit key; "
		    "show --key reads them one by one\n", sr.unindexed);
		rv = EXIT_BAD;
	}
	if (sr.unreadable > 0) {
		fprintf(stderr, "warrant-audit: %" PRIu64 " matching records "
		    "did not open\n", sr.unreadable);
		rv = EXIT_BAD;
	}
	if (aj.err[0] != '\0') {
		fprintf(stderr, "warrant-audit: %s: stopped at damage: %s\n",
		    dir, aj.err);
		rv = EXIT_BAD;
	}
	jaudit_free(&aj);
	seal_free(s);
	return rv;
}
