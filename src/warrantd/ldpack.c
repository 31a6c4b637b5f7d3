/*
 * ldpack — a disclosure task's stored results cut into delivery parts, and
 * the delivery's manifest (see include/ldpack.h).
 *
 * A stored result is a sequence of chunks, each a run of entries
 * [u32 big-endian length][canonical protobuf encoding] (backend.c writes
 * them; entries never span chunks). Records (historical location,
 * communication records) are streamed: read a chunk, decode each Record,
 * write it into the part being built (hi1_records_*), and when a record
 * would take the part over its bound, store the part and start the next
 * with that record. The small answers (subscriber, real-time location) are
 * one entry, made into one document by hi1_result_subscriber/_location.
 *
 * The store authenticates every chunk as it is read and the whole result
 * (count, chunks, SHA-256) at its end; parts already written when a check
 * fails are deleted with everything else of this call: a delivery is made
 * of parts of authenticated results only, or of nothing.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlwriter.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backend.pb-c.h"
#include "hi1.h"
#include "hi1_delivery.h"
#include "ldpack.h"
#include "log.h"
#include "results.h"
#include "wd_bytes.h"

#define LDPACK_PREFIX_MAX	(RESULTS_NAME_MAX - 1 - 12)	/* ".p" + 10 digits */
#define LDPACK_ENTRY_MAX	(1024 * 1024)	/* BACKEND_FRAME_MAX */

/* One call of ldpack_pack. */
struct ldpack_run {
	const struct ldpack_args	*a;
	struct ldpack			*pk;
	size_t				 cap;		/* of pk->parts */
	size_t				 part_max;
	unsigned			 id_index;	/* being packed */
	char				*why;
	size_t				 whylen;
};

static int
ldpack_fail(struct ldpack_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set the reason (the first one wins: it is the cause) and return -1. */
static int
ldpack_fail(struct ldpack_run *run, const char *fmt, ...)
{
	va_list	 ap;

	if (run->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(run->why, run->whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
ldpack_args_ok(struct ldpack_run *run)
{
	const struct ldpack_args	*a = run->a;
	char				 first[RESULTS_NAME_MAX + 16];

	if (a->store == NULL || a->outcomes == NULL || a->prefix == NULL ||
	    !hi1_result_task_ok(a->carrier_ref, a->task))
		return ldpack_fail(run, "not a disclosing LD task with an LDID, "
		    "a bad carrier reference, or no store, outcomes or prefix");
	if (a->task->nids < 1 || a->task->nids > HI1_MAX_IDS)
		return ldpack_fail(run, "a task with %zu identifiers",
		    a->task->nids);
	snprintf(first, sizeof(first), "%s.p1", a->prefix);
	if (strlen(a->prefix) > LDPACK_PREFIX_MAX || !results_name_valid(first))
		return ldpack_fail(run, "the parts' prefix is not a result name "
		    "of at most %d bytes", LDPACK_PREFIX_MAX);
	if (run->part_max < LDPACK_PART_MIN ||
	    run->part_max > LDPACK_PART_DEFAULT)
		return ldpack_fail(run, "a part bound of %zu bytes (%d to %d)",
		    run->part_max, LDPACK_PART_MIN, LDPACK_PART_DEFAULT);
	for (size_t i = 0; i < a->task->nids; i++) {
		if (a->outcomes[i].result == NULL &&
		    (unsigned)a->outcomes[i].reason >
		    HI1_RESULT_OUTSIDE_RETENTION)
			return ldpack_fail(run, "identifier %zu: unknown "
			    "no-data reason %d", i, (int)a->outcomes[i].reason);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* parts                                                                     */

/*
 * doc as the durable result name, in chunks of RESULTS_STREAM_CHUNK: a GET
 * of the part streams it chunk by chunk (src/warrantd/answer_stream.c). 0 or -1.
 */
static int
ldpack_write(struct results *store, const char *name, const char *doc,
    size_t len, uint64_t records)
{
	struct results_writer	*w;
	size_t			 off, n;
	int			 rc = 0;

	if ((w = results_create(store, name)) == NULL)
		return -1;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < RESULTS_STREAM_CHUNK ? len - off :
		    RESULTS_STREAM_CHUNK;
		rc = results_append(w, doc + off, n);
	}
	if (rc == -1) {
		results_abort(w);
		return -1;
	}
	return results_finish(w, records);
}

/* Write doc (freed here) as the next part; counts go to the totals. */
static int
ldpack_store(struct ldpack_run *run, char *doc, size_t len, uint64_t records,
    uint64_t omitted)
{
	struct ldpack		*pk = run->pk;
	struct ldpack_part	*p;
	size_t			 n;
	int			 rc = -1;

	if (pk->nparts >= UINT_MAX) {
		free(doc);
		return ldpack_fail(run, "more than %u parts", UINT_MAX);
	}
	if (pk->nparts == run->cap) {
		n = run->cap > 0 ? 2 * run->cap : 16;
		if ((p = reallocarray(pk->parts, n, sizeof(*p))) == NULL) {
			free(doc);
			return ldpack_fail(run, "out of memory");
		}
		pk->parts = p;
		run->cap = n;
	}
	/* Counted before it is written: a failure deletes it with the rest. */
	p = &pk->parts[pk->nparts++];
	memset(p, 0, sizeof(*p));
	p->seq = (unsigned)pk->nparts;
	p->id_index = run->id_index;
	p->records = records;
	p->omitted = omitted;
	p->size = len;
	snprintf(p->name, sizeof(p->name), "%s.p%u", run->a->prefix, p->seq);
	if (len == 0 || len > run->part_max)
		ldpack_fail(run, "part %u: %zu bytes, over the bound of %zu",
		    p->seq, len, run->part_max);
	else if (EVP_Digest(doc, len, p->sha256, NULL, EVP_sha256(),
	    NULL) != 1)
		ldpack_fail(run, "part %u: cannot digest", p->seq);
	else if ((rc = ldpack_write(run->a->store, p->name, doc, len,
	    records)) == -1)
		ldpack_fail(run, "part %u: the results store cannot write %s",
		    p->seq, p->name);
	free(doc);
	if (rc == 0) {
		pk->records += records;
		pk->omitted += omitted;
	}
	return rc;
}

/* The part for an identifier without data. */
static int
ldpack_none(struct ldpack_run *run, enum hi1_result_reason reason)
{
	char	*doc;
	size_t	 len = 0;

	if ((doc = hi1_result_none(run->a->carrier_ref, run->a->task, reason,
	    &len)) == NULL)
		return ldpack_fail(run, "identifier %u: cannot build the "
		    "NoResult document", run->id_index);
	return ldpack_store(run, doc, len, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* stored results                                                            */

/*
 * The next entry of a chunk: 1 with *e, *n, 0 at the chunk's end, -1 if
 * the chunk does not divide into entries.
 */
static int
ldpack_entry(const uint8_t **p, size_t *left, const uint8_t **e, size_t *n)
{
	uint32_t	 len;

	if (*left == 0)
		return 0;
	if (*left < 4)
		return -1;
	len = wd_get_be32(*p);
	if (len > LDPACK_ENTRY_MAX || len > *left - 4)
		return -1;
	*e = *p + 4;
	*n = len;
	*p += 4 + (size_t)len;
	*left -= 4 + (size_t)len;
	return 1;
}

/* The identifier's stored result, authenticated, and the one journaled. */
static struct results_reader *
ldpack_open(struct ldpack_run *run, const char *name)
{
	const uint8_t		*want = run->a->outcomes[run->id_index].sha256;
	struct results_reader	*rd;

	if ((rd = results_reader_open(run->a->store, name)) == NULL)
		ldpack_fail(run, "identifier %u: stored result %s is missing or "
		    "fails authentication", run->id_index, name);
	else if (want != NULL &&
	    CRYPTO_memcmp(results_reader_sha256(rd), want, 32) != 0) {
		ldpack_fail(run, "identifier %u: stored result %s is not the "
		    "one journaled (its SHA-256 differs)", run->id_index, name);
		results_reader_close(rd);
		rd = NULL;
	}
	return rd;
}

/* One record into the part being built; a full part is stored first. */
static int
ldpack_record(struct ldpack_run *run, struct hi1_records **h,
    const Warrant__Backend__Record *r)
{
	const char	*why;
	char		*doc;
	size_t		 len = 0;
	uint64_t	 records, omitted;
	int		 rc;

	if ((rc = hi1_records_add(*h, r, &why)) == 0) {
		records = hi1_records_count(*h);
		omitted = hi1_records_omitted(*h);
		doc = hi1_records_finish(*h, &len, &why);
		*h = NULL;
		if (doc == NULL)
			return ldpack_fail(run, "identifier %u: part %zu: %s",
			    run->id_index, run->pk->nparts + 1, why);
		if (ldpack_store(run, doc, len, records, omitted) == -1)
			return -1;
		if ((*h = hi1_records_new(run->a->carrier_ref, run->a->task,
		    run->part_max, &why)) == NULL)
			return ldpack_fail(run, "identifier %u: %s",
			    run->id_index, why);
		rc = hi1_records_add(*h, r, &why);
	}
	if (rc != 1)
		return ldpack_fail(run, "identifier %u: record of part %zu: %s",
		    run->id_index, run->pk->nparts + 1,
		    rc == 0 ? "does not fit in an empty part" : why);
	return 0;
}

/* Every entry of one chunk, as a Record, into parts; count them in *seen. */
static int
ldpack_chunk(struct ldpack_run *run, struct hi1_records **h,
    const uint8_t *data, size_t len, uint64_t *seen)
{
	Warrant__Backend__Record	*r;
	const uint8_t			*e;
	size_t				 n;
	int				 k, rc;

	while ((k = ldpack_entry(&data, &len, &e, &n)) == 1) {
		if ((r = warrant__backend__record__unpack(NULL, n, e)) == NULL)
			return ldpack_fail(run, "identifier %u: stored record "
			    "%llu does not decode", run->id_index,
			    (unsigned long long)*seen);
		(*seen)++;
		rc = ldpack_record(run, h, r);
		warrant__backend__record__free_unpacked(r, NULL);
		if (rc == -1)
			return -1;
	}
	if (k == -1)
		return ldpack_fail(run, "identifier %u: a stored chunk does not "
		    "divide into records", run->id_index);
	return 0;
}

/* Historical location or communication records: streamed into parts. */
static int
ldpack_records(struct ldpack_run *run, const char *name)
{
	struct results_reader	*rd;
	struct hi1_records	*h;
	const uint8_t		*data;
	const char		*why;
	char			*doc;
	size_t			 len;
	uint64_t		 seen = 0, records, omitted;
	int			 rc;

	if ((rd = ldpack_open(run, name)) == NULL)
		return -1;
	if ((h = hi1_records_new(run->a->carrier_ref, run->a->task,
	    run->part_max, &why)) == NULL) {
		results_reader_close(rd);
		return ldpack_fail(run, "identifier %u: %s", run->id_index, why);
	}
	while ((rc = results_read(rd, &data, &len)) == 1)
		if (ldpack_chunk(run, &h, data, len, &seen) == -1)
			break;
	if (rc == -1)
		ldpack_fail(run, "identifier %u: stored result %s fails "
		    "authentication", run->id_index, name);
	else if (rc == 0 && seen != results_reader_count(rd)) {
		ldpack_fail(run, "identifier %u: stored result %s holds %llu "
		    "records, its seal says %llu", run->id_index, name,
		    (unsigned long long)seen,
		    (unsigned long long)results_reader_count(rd));
		rc = -1;
	}
	results_reader_close(rd);
	if (rc != 0) {
		hi1_records_free(h);
		return -1;
	}
	records = hi1_records_count(h);
	omitted = hi1_records_omitted(h);
	if ((doc = hi1_records_finish(h, &len, &why)) == NULL)
		return ldpack_fail(run, "identifier %u: part %zu: %s",
		    run->id_index, run->pk->nparts + 1, why);
	return ldpack_store(run, doc, len, records, omitted);
}

/* The one entry of a small answer, decoded as the task's type wants. */
static ProtobufCMessage *
ldpack_small_decode(struct ldpack_run *run, const uint8_t *data, size_t len)
{
	const uint8_t	*e;
	size_t		 n;

	if (ldpack_entry(&data, &len, &e, &n) != 1 || len != 0)
		return NULL;
	if (run->a->task->type == WD_REQ_SUBSCRIBER)
		return (ProtobufCMessage *)warrant__backend__subscriber__unpack(
		    NULL, n, e);
	return (ProtobufCMessage *)warrant__backend__location__unpack(NULL, n,
	    e);
}

/* Subscriber identity or real-time location: one entry, one document. */
static int
ldpack_small(struct ldpack_run *run, const char *name)
{
	const struct ldpack_args	*a = run->a;
	struct results_reader		*rd;
	ProtobufCMessage		*m = NULL;
	const uint8_t			*data;
	char				*doc = NULL;
	size_t				 len, chunks = 0;
	int				 rc;

	if ((rd = ldpack_open(run, name)) == NULL)
		return -1;
	while ((rc = results_read(rd, &data, &len)) == 1)
		if (chunks++ == 0)
			m = ldpack_small_decode(run, data, len);
	if (rc == 0 && (chunks != 1 || m == NULL ||
	    results_reader_count(rd) != 1))
		ldpack_fail(run, "identifier %u: stored result %s is not one "
		    "%s answer", run->id_index, name,
		    wd_reqtype_name(a->task->type));
	else if (rc == -1)
		ldpack_fail(run, "identifier %u: stored result %s fails "
		    "authentication", run->id_index, name);
	else if (a->task->type == WD_REQ_SUBSCRIBER)
		doc = hi1_result_subscriber(a->carrier_ref, a->task,
		    (Warrant__Backend__Subscriber *)m, &len);
	else
		doc = hi1_result_location(a->carrier_ref, a->task,
		    (Warrant__Backend__Location *)m, &len);
	results_reader_close(rd);
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	if (doc == NULL)
		return ldpack_fail(run, "identifier %u: cannot build the "
		    "document", run->id_index);
	return ldpack_store(run, doc, len, 1, 0);
}

/* ------------------------------------------------------------------------ */

void
ldpack_free(struct ldpack *pk)
{
	if (pk == NULL)
		return;
	free(pk->parts);
	free(pk);
}

/* Every part written by this call is deleted; the reason is kept. */
static void
ldpack_undo(struct ldpack_run *run)
{
	struct ldpack	*pk = run->pk;

	for (size_t i = 0; i < pk->nparts; i++)
		if (results_delete(run->a->store, pk->parts[i].name) == -1)
			log_warnx("ldpack: part %s could not be deleted after "
			    "a failure", pk->parts[i].name);
	ldpack_free(pk);
	run->pk = NULL;
}

struct ldpack *
ldpack_pack(const struct ldpack_args *a, char *why, size_t whylen)
{
	struct ldpack_run		 run;
	const struct ldpack_outcome	*o;
	int				 rc = 0;

	memset(&run, 0, sizeof(run));
	run.a = a;
	run.why = why;
	run.whylen = whylen;
	why[0] = '\0';
	run.part_max = a->part_max == 0 ? LDPACK_PART_DEFAULT : a->part_max;
	if (ldpack_args_ok(&run) == -1)
		return NULL;
	if ((run.pk = calloc(1, sizeof(*run.pk))) == NULL) {
		ldpack_fail(&run, "out of memory");
		return NULL;
	}
	snprintf(run.pk->carrier_ref, sizeof(run.pk->carrier_ref), "%s",
	    a->carrier_ref);
	snprintf(run.pk->ldid, sizeof(run.pk->ldid), "%s", a->task->reference);
	run.pk->type = a->task->type;
	for (run.id_index = 0; run.id_index < a->task->nids && rc == 0;
	    run.id_index++) {
		o = &a->outcomes[run.id_index];
		if (o->result == NULL)
			rc = ldpack_none(&run, o->reason);
		else if (a->task->type == WD_REQ_SUBSCRIBER ||
		    a->task->type == WD_REQ_LOCATION_RT)
			rc = ldpack_small(&run, o->result);
		else
			rc = ldpack_records(&run, o->result);
	}
	if (rc == -1) {
		ldpack_undo(&run);
		return NULL;
	}
	return run.pk;
}

/* ------------------------------------------------------------------------ */
/* the manifest                                                              */

/* 8-4-4-4-12 lowercase hexadecimal digits (etsi:UUID). */
static int
ldpack_uuid_ok(const char *s)
{
	for (size_t i = 0; i < HI1_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[HI1_UUID_LEN] == '\0';
}

static int
ldpack_elem(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST text) < 0 ?
	    -1 : 0;
}

static int
ldpack_num(xmlTextWriterPtr w, const char *name, unsigned long long v)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%llu", v);
	return ldpack_elem(w, name, num);
}

static int
ldpack_manifest_part(xmlTextWriterPtr w, const struct ldpack_part *p,
    int last)
{
	char	 hex[65];
	int	 rc = 0;

	for (size_t i = 0; i < sizeof(p->sha256); i++)
		snprintf(hex + 2 * i, 3, "%02x", p->sha256[i]);
	rc |= xmlTextWriterStartElement(w, BAD_CAST "Part") < 0 ? -1 : 0;
	rc |= ldpack_num(w, "SequenceNumber", p->seq);
	rc |= ldpack_num(w, "IdentifierIndex", p->id_index);
	rc |= ldpack_num(w, "Records", p->records);
	rc |= ldpack_num(w, "OmittedRecords", p->omitted);
	rc |= ldpack_num(w, "Size", p->size);
	rc |= ldpack_elem(w, "Checksum", hex);
	if (last)
		rc |= ldpack_elem(w, "LastSequence", "true");
	rc |= xmlTextWriterEndElement(w) < 0 ? -1 : 0;
	return rc;
}

static int
ldpack_manifest_body(xmlTextWriterPtr w, const struct ldpack *pk,
    const char *delivery_id)
{
	struct timespec	 now;
	char		 ts[40];
	int		 rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	wd_time_format((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
	    ts, sizeof(ts));
	rc |= xmlTextWriterSetIndent(w, 1) < 0 ? -1 : 0;
	rc |= xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0 ? -1 : 0;
	rc |= xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 ? -1 : 0;
	rc |= xmlTextWriterStartElementNS(w, NULL, BAD_CAST "LDManifest",
	    BAD_CAST LDPACK_NS) < 0 ? -1 : 0;
	rc |= ldpack_elem(w, "DeliveryID", delivery_id);
	rc |= ldpack_elem(w, "CarrierReference", pk->carrier_ref);
	rc |= ldpack_elem(w, "TaskReference", pk->ldid);
	rc |= ldpack_elem(w, "RequestType", wd_reqtype_name(pk->type));
	rc |= ldpack_elem(w, "GeneratedAt", ts);
	rc |= ldpack_elem(w, "PartFormat", HI1_RESULT_NS);
	rc |= ldpack_elem(w, "ChecksumType", "SHA-256");
	rc |= ldpack_num(w, "TotalParts", pk->nparts);
	rc |= ldpack_num(w, "TotalRecords", pk->records);
	rc |= ldpack_num(w, "OmittedRecords", pk->omitted);
	rc |= xmlTextWriterStartElement(w, BAD_CAST "Parts") < 0 ? -1 : 0;
	for (size_t i = 0; i < pk->nparts && rc == 0; i++)
		rc |= ldpack_manifest_part(w, &pk->parts[i], i + 1 == pk->nparts);
	rc |= xmlTextWriterEndDocument(w) < 0 ? -1 : 0;
	return rc;
}

char *
ldpack_manifest(const struct ldpack *pk, const char *delivery_id, size_t *len)
{
	xmlBufferPtr		 buf;
	xmlTextWriterPtr	 w;
	char			*out = NULL;
	int			 rc, n;

	if (pk == NULL || pk->nparts == 0 || delivery_id == NULL ||
	    !ldpack_uuid_ok(delivery_id)) {
		log_warnx("%s: no parts, or the DeliveryID is not a lowercase "
		    "UUID", __func__);
		return NULL;
	}
	if ((buf = xmlBufferCreate()) == NULL ||
	    (w = xmlNewTextWriterMemory(buf, 0)) == NULL) {
		xmlBufferFree(buf);
		log_warnx("%s: out of memory", __func__);
		return NULL;
	}
	rc = ldpack_manifest_body(w, pk, delivery_id);
	xmlFreeTextWriter(w);		/* flushes into buf */
	n = xmlBufferLength(buf);
	if (rc == 0 && n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, xmlBufferContent(buf), (size_t)n);
		out[n] = '\0';
		*len = (size_t)n;
	}
	xmlBufferFree(buf);
	if (out == NULL)
		log_warnx("%s: cannot build the manifest", __func__);
	return out;
}
