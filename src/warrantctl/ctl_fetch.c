/*
 * ctl_fetch — checking one task's delivery as warrantctl fetches it, and
 * writing what passes (see src/warrantctl/ctl_life.h). The carrier's DeliveryObjects
 * each carry one part (a result document, base64, with the SHA-256 of the
 * decoded bytes in Checksum); the last also carries the manifest
 * (urn:warrantd:mx:ld-manifest:1): every part with its size, SHA-256 and
 * record count, and the totals. The caller gives the last part first, so
 * that every part can be checked against the manifest before it is
 * written:
 *  - the manifest: its own Checksum, the delivery it names (DeliveryID,
 *    task LDID, carrier reference), parts 1..n in order with LastSequence
 *    on the last only, n the number of parts the task lists, totals that
 *    are the sums of the parts';
 *  - each part: its DeliveryID and LDID, its LastSequence flag, its bytes
 *    against its Checksum and against the manifest's size and SHA-256, its
 *    Record elements against the manifest's count;
 *  - at the end, every part 1..n present.
 * A part that fails any check is not written at all; one that passes is
 * written under a temporary name in the directory, fsync'ed, renamed to
 * its final name (<task>_<delivery>_<seq>.xml, the manifest beside as
 * <task>_<delivery>_manifest.xml) and the directory fsync'ed, so a final
 * name always holds a complete, verified part. Files are 0600: results
 * are subscriber data. A part already in the directory with the manifest's
 * SHA-256 counts as present, so a fetch can be run again.
 *
 * Memory: the manifest's part list (about 150 bytes a part, the manifest
 * is at most 1 MiB) and one decoded part (at most 1 MiB) at a time.
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
#include <unistd.h>

#include <libxml/tree.h>

#include "ctl.h"
#include "ctl_life.h"

#define NS_MANIFEST	"urn:warrantd:mx:ld-manifest:1"
#define NS_RESULT	"urn:warrantd:mx:ld-result:1"
#define FETCH_NAME_MAX	128
#define FETCH_MAX_PARTS	CTL_ASSOC_MAX	/* a task lists at most this many */

enum part_state {
	PART_PENDING = 0,
	PART_OK,		/* written, or found intact */
	PART_FAILED		/* a check failed: said once */
};

struct fetch_part {
	uint32_t	 index;		/* IdentifierIndex */
	uint64_t	 records, omitted, size;
	char		 sha[65];
	bool		 last;
	enum part_state	 state;
};

struct ctl_fetch {
	int		 dirfd;
	char		 task_id[HI1_UUID_LEN + 1];
	char		 ldid[4 * CTL_REF_MAX + 1];
	char		 ref[4 * CTL_REF_MAX + 1];
	size_t		 nparts;	/* the task's DeliveryObjects */
	FILE		*out;
	bool		 have_manifest;
	char		 delivery_id[HI1_UUID_LEN + 1];
	struct fetch_part *parts;	/* [seq - 1] */
	uint64_t	 total_records;
	size_t		 nok;
	uint64_t	 records_ok;
	unsigned	 problems;
};

static void fetch_say(struct ctl_fetch *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* One line about this task's delivery (the caller named the task). */
static void
fetch_say(struct ctl_fetch *f, const char *fmt, ...)
{
	va_list	 ap;

	if (f->out == NULL)
		return;
	fputs("  ", f->out);
	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fputc('\n', f->out);
}

/* A check failed: said, counted. */
static int fetch_problem(struct ctl_fetch *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
fetch_problem(struct ctl_fetch *f, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fetch_say(f, "MISMATCH: %s", line);
	f->problems++;
	return 1;
}

struct ctl_fetch *
ctl_fetch_new(const char *dir, const char *task_id, const char *ldid,
    const char *carrier_ref, size_t nparts, FILE *out)
{
	struct ctl_fetch	*f;

	if (!ctl_uuid_ok(task_id) || nparts == 0 || nparts > FETCH_MAX_PARTS ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "warrantctl: %s: %s\n", dir, strerror(errno));
		free(f);
		return NULL;
	}
	snprintf(f->task_id, sizeof(f->task_id), "%s", task_id);
	snprintf(f->ldid, sizeof(f->ldid), "%s", ldid ? ldid : "");
	snprintf(f->ref, sizeof(f->ref), "%s", carrier_ref ? carrier_ref : "");
	f->nparts = nparts;
	f->out = out;
	return f;
}

void
ctl_fetch_free(struct ctl_fetch *f)
{
	if (f == NULL)
		return;
	close(f->dirfd);
	free(f->parts);
	free(f);
}

bool
ctl_fetch_ready(const struct ctl_fetch *f)
{
	return f->have_manifest;
}

size_t
ctl_fetch_parts_ok(const struct ctl_fetch *f)
{
	return f->nok;
}

uint64_t
ctl_fetch_records(const struct ctl_fetch *f)
{
	return f->records_ok;
}

/* ------------------------------------------------------------------------ */
/* files                                                                     */

static void
fetch_name(const struct ctl_fetch *f, uint32_t seq, char *name, size_t len)
{
	/* Both identifiers are checked UUIDs: nothing else reaches the path. */
	if (seq == 0)
		snprintf(name, len, "%s_%s_manifest.xml", f->task_id,
		    f->delivery_id);
	else
		snprintf(name, len, "%s_%s_%06" PRIu32 ".xml", f->task_id,
		    f->delivery_id, seq);
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Temporary name, fsync, rename, fsync of the directory. */
static int
fetch_write(struct ctl_fetch *f, const char *name, const uint8_t *data,
    size_t len)
{
	char	 tmp[FETCH_NAME_MAX + 8];
	int	 fd, saved;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if ((fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		goto fail;
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(f->dirfd, tmp, 0);
		errno = saved;
		goto fail;
	}
	if (close(fd) == -1 || renameat(f->dirfd, tmp, f->dirfd, name) == -1) {
		saved = errno;
		unlinkat(f->dirfd, tmp, 0);
		errno = saved;
		goto fail;
	}
	if (fsync(f->dirfd) == -1)
		goto fail;
	return 0;
 fail:
	fprintf(stderr, "warrantctl: writing %s: %s\n", name, strerror(errno));
	return -1;
}

/* A regular file of the directory, whole, at most CTL_DATA_MAX bytes. */
static uint8_t *
fetch_read(struct ctl_fetch *f, const char *name, size_t *len)
{
	struct stat	 st;
	uint8_t		*buf;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	if ((fd = openat(f->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CTL_DATA_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size && ((n = read(fd, buf + got,
	    (size_t)st.st_size - got)) > 0 || (n == -1 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

/* Whether name exists, regular, with exactly the size and SHA-256 given. */
static bool
fetch_present(struct ctl_fetch *f, const char *name, uint64_t size,
    const char *sha)
{
	uint8_t		*buf;
	size_t		 len;
	char		 hex[65];
	bool		 ok;

	if ((buf = fetch_read(f, name, &len)) == NULL)
		return false;
	ctl_sha256_hex(buf, len, hex);
	ok = len == size && strcmp(hex, sha) == 0;
	free(buf);
	return ok;
}

/* ------------------------------------------------------------------------ */
/* the manifest                                                              */

static bool
m_is(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, NS_MANIFEST) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

/* The next element sibling (or first child) that must be name. */
static xmlNodePtr
m_next(xmlNodePtr n, bool first, const char *name)
{
	for (n = n == NULL ? NULL : first ? n->children : n->next; n != NULL &&
	    n->type != XML_ELEMENT_NODE; n = n->next)
		;
	return m_is(n, name) ? n : NULL;
}

/* Element text, exactly (no blanks: the manifest is ours, not pretty). */
static int
m_text(const xmlNode *n, char *out, size_t len)
{
	xmlChar	*s;
	int	 rc = -1;

	if (n != NULL && (s = xmlNodeGetContent(n)) != NULL) {
		if (strlen((char *)s) < len) {
			memcpy(out, s, strlen((char *)s) + 1);
			rc = 0;
		}
		xmlFree(s);
	}
	return rc;
}

/* An unsigned decimal, no sign, no blanks, at most max. */
static int
m_number(const xmlNode *n, uint64_t max, uint64_t *v)
{
	char		 buf[24], *end;

	if (m_text(n, buf, sizeof(buf)) == -1 || buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno != 0 || *end != '\0' || *v > max ? -1 : 0;
}

static bool
hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* One Part into f->parts[seq - 1]; n is the Part element. */
static int
m_part(struct ctl_fetch *f, xmlNodePtr part, uint64_t seq, size_t total,
    const char **what)
{
	struct fetch_part	*p = &f->parts[seq - 1];
	xmlNodePtr		 k;
	uint64_t		 v, idx;

	*what = "a Part is incomplete or malformed";
	if ((k = m_next(part, true, "SequenceNumber")) == NULL ||
	    m_number(k, UINT32_MAX, &v) == -1)
		return -1;
	if (v != seq) {
		*what = "its parts are not numbered 1, 2, ... in order";
		return -1;
	}
	if ((k = m_next(k, false, "IdentifierIndex")) == NULL ||
	    m_number(k, UINT32_MAX, &idx) == -1 ||
	    (k = m_next(k, false, "Records")) == NULL ||
	    m_number(k, UINT64_MAX, &p->records) == -1 ||
	    (k = m_next(k, false, "OmittedRecords")) == NULL ||
	    m_number(k, UINT64_MAX, &p->omitted) == -1 ||
	    (k = m_next(k, false, "Size")) == NULL ||
	    m_number(k, CTL_DATA_MAX, &p->size) == -1 || p->size == 0 ||
	    (k = m_next(k, false, "Checksum")) == NULL ||
	    m_text(k, p->sha, sizeof(p->sha)) == -1 || !hex64(p->sha))
		return -1;
	p->index = (uint32_t)idx;
	p->last = m_next(k, false, "LastSequence") != NULL;
	if (p->last != (seq == total)) {
		*what = "LastSequence is not on its last part, or not only there";
		return -1;
	}
	return 0;
}

/* The header fields: what this manifest says it describes. */
static int
m_header(struct ctl_fetch *f, xmlNodePtr root, const struct ctl_object *o,
    xmlNodePtr *after, const char **what)
{
	char		 v[4 * CTL_REF_MAX + 1];
	xmlNodePtr	 k;

	*what = "its header is incomplete or malformed";
	if ((k = m_next(root, true, "DeliveryID")) == NULL ||
	    m_text(k, v, sizeof(v)) == -1)
		return -1;
	if (strcmp(v, o->delivery_id) != 0 || !ctl_uuid_ok(v)) {
		*what = "it names another DeliveryID";
		return -1;
	}
	if ((k = m_next(k, false, "CarrierReference")) == NULL ||
	    m_text(k, v, sizeof(v)) == -1)
		return -1;
	if (f->ref[0] != '\0' && strcmp(v, f->ref) != 0) {
		*what = "it names another carrier reference";
		return -1;
	}
	if ((k = m_next(k, false, "TaskReference")) == NULL ||
	    m_text(k, v, sizeof(v)) == -1)
		return -1;
	if (f->ldid[0] != '\0' && strcmp(v, f->ldid) != 0) {
		*what = "it names another task (LDID)";
		return -1;
	}
	if ((k = m_next(k, false, "RequestType")) == NULL ||
	    (k = m_next(k, false, "GeneratedAt")) == NULL ||
	    (k = m_next(k, false, "PartFormat")) == NULL ||
	    m_text(k, v, sizeof(v)) == -1 || strcmp(v, NS_RESULT) != 0 ||
	    (k = m_next(k, false, "ChecksumType")) == NULL ||
	    m_text(k, v, sizeof(v)) == -1 || strcmp(v, "SHA-256") != 0)
		return -1;
	*after = k;
	return 0;
}

/* The whole manifest document, checked and kept in f. */
static int
m_read(struct ctl_fetch *f, xmlNodePtr root, const struct ctl_object *o,
    const char **what)
{
	xmlNodePtr	 k, parts, p;
	uint64_t	 total, records, omitted, sum_r = 0, sum_o = 0, seq = 0;

	if (!m_is(root, "LDManifest")) {
		*what = "it is not an LDManifest (urn:warrantd:mx:ld-manifest:1)";
		return -1;
	}
	if (m_header(f, root, o, &k, what) == -1)
		return -1;
	*what = "its totals are missing or malformed";
	if ((k = m_next(k, false, "TotalParts")) == NULL ||
	    m_number(k, FETCH_MAX_PARTS, &total) == -1 ||
	    (k = m_next(k, false, "TotalRecords")) == NULL ||
	    m_number(k, UINT64_MAX, &records) == -1 ||
	    (k = m_next(k, false, "OmittedRecords")) == NULL ||
	    m_number(k, UINT64_MAX, &omitted) == -1 ||
	    (parts = m_next(k, false, "Parts")) == NULL)
		return -1;
	if (total != f->nparts) {
		*what = "its TotalParts is not the number of parts the task lists";
		return -1;
	}
	if ((f->parts = calloc(f->nparts, sizeof(*f->parts))) == NULL) {
		*what = "out of memory";
		return -1;
	}
	for (p = m_next(parts, true, "Part"); p != NULL;
	    p = m_next(p, false, "Part")) {
		if (++seq > total) {
			*what = "it lists more parts than its TotalParts";
			return -1;
		}
		if (m_part(f, p, seq, total, what) == -1)
			return -1;
		sum_r += f->parts[seq - 1].records;
		sum_o += f->parts[seq - 1].omitted;
		if (sum_r < f->parts[seq - 1].records ||
		    sum_o < f->parts[seq - 1].omitted) {
			*what = "its record counts overflow";
			return -1;
		}
	}
	if (seq != total) {
		*what = "it lists fewer parts than its TotalParts";
		return -1;
	}
	if (sum_r != records || sum_o != omitted) {
		*what = "its TotalRecords or OmittedRecords is not the sum of "
		    "its parts'";
		return -1;
	}
	f->total_records = records;
	return 0;
}

/* The manifest's bytes checked; written beside the parts if fresh. */
static int
manifest_check(struct ctl_fetch *f, const struct ctl_object *o,
    const uint8_t *buf, size_t len, bool fresh)
{
	char		 why[256], name[FETCH_NAME_MAX];
	const char	*what = NULL;
	xmlDocPtr	 doc;
	int		 rc = -1;

	if ((doc = ctl_xml_parse((const char *)buf, len, why, sizeof(why))) ==
	    NULL) {
		fetch_problem(f, "the manifest cannot be read: %s", why);
		return -1;
	}
	if (m_read(f, xmlDocGetRootElement(doc), o, &what) == -1)
		fetch_problem(f, "the manifest does not add up: %s", what);
	else {
		fetch_name(f, 0, name, sizeof(name));
		if (!fresh || (rc = fetch_write(f, name, buf, len)) == 0) {
			rc = 0;
			f->have_manifest = true;
			fetch_say(f, "manifest: delivery %s, %zu parts, %" PRIu64
			    " records%s", f->delivery_id, f->nparts,
			    f->total_records, fresh ? "" : " (kept from an "
			    "earlier fetch: the carrier no longer sends it)");
		}
	}
	xmlFreeDoc(doc);
	return rc;
}

/*
 * The carrier no longer holds the delivery (fetched before and destroyed,
 * or cancelled, or lapsed): the manifest an earlier fetch verified and
 * wrote is all there is to check the directory against.
 */
static int
manifest_kept(struct ctl_fetch *f, const struct ctl_object *o)
{
	char	 name[FETCH_NAME_MAX];
	uint8_t	*buf;
	size_t	 len;
	int	 rc;

	fetch_name(f, 0, name, sizeof(name));
	if ((buf = fetch_read(f, name, &len)) == NULL) {
		fetch_problem(f, "the carrier no longer sends this delivery "
		    "(fetched and destroyed before, cancelled or lapsed) and "
		    "the directory has no copy of it");
		return -1;
	}
	rc = manifest_check(f, o, buf, len, false);
	free(buf);
	return rc;
}

int
ctl_fetch_manifest(struct ctl_fetch *f, const struct ctl_object *o)
{
	uint8_t		*buf = NULL;
	size_t		 len;
	char		 hex[65];
	int		 rc;

	if (o->kind != HI1_OBJ_DELIVERY || !o->last || o->seq != f->nparts ||
	    !ctl_uuid_ok(o->delivery_id)) {
		fetch_problem(f, "the last of its %zu DeliveryObjects is not "
		    "the last part of a delivery", f->nparts);
		return -1;
	}
	snprintf(f->delivery_id, sizeof(f->delivery_id), "%s", o->delivery_id);
	if (!o->has_manifest && !o->has_data)
		return manifest_kept(f, o);
	if (!o->has_manifest || o->manifest.b64 == NULL ||
	    ctl_b64_decode(o->manifest.b64, o->manifest.b64len, CTL_DATA_MAX,
	    &buf, &len) == -1) {
		fetch_problem(f, "the last part carries no manifest, or not "
		    "base64 of at most %d bytes", CTL_DATA_MAX);
		return -1;
	}
	ctl_sha256_hex(buf, len, hex);
	if (strcmp(hex, o->manifest.checksum) != 0) {
		fetch_problem(f, "the manifest's SHA-256 is not its Checksum "
		    "(damaged)");
		rc = -1;
	} else
		rc = manifest_check(f, o, buf, len, true);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* parts                                                                     */

/* Record elements of an LDResult document, or -1 if it is not one. */
static int64_t
part_records(const uint8_t *data, size_t len, char *ldid, size_t ldidlen)
{
	char		 why[128];
	xmlDocPtr	 doc;
	xmlNodePtr	 root, k, r;
	int64_t		 n = -1;

	if ((doc = ctl_xml_parse((const char *)data, len, why, sizeof(why))) ==
	    NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	ldid[0] = '\0';
	for (k = root->ns && strcmp((char *)root->ns->href, NS_RESULT) == 0 &&
	    strcmp((char *)root->name, "LDResult") == 0 ? root->children : NULL;
	    k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE || k->ns == NULL ||
		    strcmp((char *)k->ns->href, NS_RESULT) != 0)
			continue;
		if (strcmp((char *)k->name, "TaskReference") == 0) {
			xmlChar *s = xmlNodeGetContent(k);

			snprintf(ldid, ldidlen, "%s", s ? (char *)s : "");
			xmlFree(s);
		} else if (strcmp((char *)k->name, "Subscriber") == 0 ||
		    strcmp((char *)k->name, "Location") == 0)
			n = 1;
		else if (strcmp((char *)k->name, "NoResult") == 0)
			n = 0;
		else if (strcmp((char *)k->name, "LocationRecords") == 0 ||
		    strcmp((char *)k->name, "CommunicationRecords") == 0) {
			n = 0;
			for (r = k->children; r != NULL; r = r->next)
				n += r->type == XML_ELEMENT_NODE &&
				    r->ns == k->ns &&
				    strcmp((char *)r->name, "Record") == 0;
		}
	}
	xmlFreeDoc(doc);
	return n;
}

/* The part's own fields against the manifest and the task. */
static int
part_envelope(struct ctl_fetch *f, const struct ctl_object *o)
{
	if (o->kind != HI1_OBJ_DELIVERY)
		return fetch_problem(f, "object %s is not a DeliveryObject",
		    o->id);
	if (o->seq == 0 || o->seq > f->nparts)
		return fetch_problem(f, "DeliveryObject %s has SequenceNumber "
		    "%" PRIu32 ", outside 1..%zu", o->id, o->seq, f->nparts);
	if (strcmp(o->delivery_id, f->delivery_id) != 0)
		return fetch_problem(f, "part %" PRIu32 " belongs to another "
		    "delivery (%s)", o->seq, o->delivery_id);
	if (o->last != (o->seq == f->nparts))
		return fetch_problem(f, "part %" PRIu32 " has LastSequence %s",
		    o->seq, o->last ? "true" : "false");
	if (f->ldid[0] != '\0' && strcmp(o->reference, f->ldid) != 0)
		return fetch_problem(f, "part %" PRIu32 " names another task "
		    "(LDID)", o->seq);
	return 0;
}

/* Decoded bytes against Checksum, the manifest's entry and its records. */
static int
part_check(struct ctl_fetch *f, const struct ctl_object *o,
    const uint8_t *data, size_t len)
{
	struct fetch_part	*p = &f->parts[o->seq - 1];
	char			 hex[65], ldid[4 * CTL_REF_MAX + 1];
	int64_t			 records;

	ctl_sha256_hex(data, len, hex);
	if (strcmp(hex, o->data.checksum) != 0)
		return fetch_problem(f, "part %" PRIu32 ": its SHA-256 is not "
		    "its Checksum (damaged in transit or at the carrier)",
		    o->seq);
	if (len != p->size || strcmp(hex, p->sha) != 0)
		return fetch_problem(f, "part %" PRIu32 ": not the part the "
		    "manifest lists (%zu bytes, manifest %" PRIu64 ")", o->seq,
		    len, p->size);
	if ((records = part_records(data, len, ldid, sizeof(ldid))) < 0)
		return fetch_problem(f, "part %" PRIu32 ": not a result "
		    "document (LDResult)", o->seq);
	if ((uint64_t)records != p->records)
		return fetch_problem(f, "part %" PRIu32 ": holds %" PRId64
		    " records, the manifest says %" PRIu64, o->seq, records,
		    p->records);
	if (f->ldid[0] != '\0' && strcmp(ldid, f->ldid) != 0)
		return fetch_problem(f, "part %" PRIu32 ": the document names "
		    "another task (LDID)", o->seq);
	return 0;
}

static void
part_ok(struct ctl_fetch *f, uint32_t seq, const char *how)
{
	struct fetch_part	*p = &f->parts[seq - 1];

	p->state = PART_OK;
	f->nok++;
	f->records_ok += p->records;
	fetch_say(f, "part %" PRIu32 "/%zu: %" PRIu64 " records, %" PRIu64
	    " bytes, %s", seq, f->nparts, p->records, p->size, how);
}

/* A part without data: fine if the directory already holds it intact. */
static int
part_absent(struct ctl_fetch *f, const struct ctl_object *o)
{
	struct fetch_part	*p = &f->parts[o->seq - 1];
	char			 name[FETCH_NAME_MAX];

	fetch_name(f, o->seq, name, sizeof(name));
	if (fetch_present(f, name, p->size, p->sha)) {
		part_ok(f, o->seq, "already here");
		return 0;
	}
	p->state = PART_FAILED;
	return fetch_problem(f, "part %" PRIu32 ": the carrier sent no data "
	    "(fetched and destroyed before, or the order lapsed)", o->seq);
}

int
ctl_fetch_part(struct ctl_fetch *f, const struct ctl_object *o)
{
	struct fetch_part	*p;
	uint8_t			*data;
	size_t			 len;
	char			 name[FETCH_NAME_MAX];
	int			 rc;

	if (!f->have_manifest)
		return fetch_problem(f, "no manifest to check parts against");
	if (part_envelope(f, o) != 0)
		return 1;
	p = &f->parts[o->seq - 1];
	if (p->state != PART_PENDING)
		return p->state == PART_OK ? 0 : 1;
	if (!o->has_data)
		return part_absent(f, o);
	if (o->data.b64 == NULL || ctl_b64_decode(o->data.b64, o->data.b64len,
	    CTL_DATA_MAX, &data, &len) == -1) {
		p->state = PART_FAILED;
		return fetch_problem(f, "part %" PRIu32 ": Data is not base64 "
		    "of at most %d bytes", o->seq, CTL_DATA_MAX);
	}
	if ((rc = part_check(f, o, data, len)) != 0)
		p->state = PART_FAILED;
	else {
		fetch_name(f, o->seq, name, sizeof(name));
		if ((rc = fetch_write(f, name, data, len)) == 0)
			part_ok(f, o->seq, "written");
	}
	free(data);
	return rc;
}

int
ctl_fetch_have(struct ctl_fetch *f, uint32_t seq)
{
	struct fetch_part	*p;
	char			 name[FETCH_NAME_MAX];

	if (!f->have_manifest || seq == 0 || seq > f->nparts)
		return 0;
	p = &f->parts[seq - 1];
	if (p->state == PART_PENDING) {
		fetch_name(f, seq, name, sizeof(name));
		if (fetch_present(f, name, p->size, p->sha))
			part_ok(f, seq, "already here");
	}
	return p->state == PART_OK;
}

void
ctl_fetch_failed(struct ctl_fetch *f, uint32_t seq, const char *why)
{
	if (f->have_manifest && seq >= 1 && seq <= f->nparts) {
		if (f->parts[seq - 1].state != PART_PENDING)
			return;
		f->parts[seq - 1].state = PART_FAILED;
	}
	fetch_problem(f, "part %" PRIu32 ": %s", seq, why);
}

int
ctl_fetch_finish(struct ctl_fetch *f)
{
	for (size_t i = 0; f->have_manifest && i < f->nparts; i++)
		if (f->parts[i].state == PART_PENDING)
			fetch_problem(f, "part %zu is missing", i + 1);
	if (!f->have_manifest)
		return 1;
	if (f->problems == 0 && f->nok == f->nparts)
		fetch_say(f, "complete: %zu parts, %" PRIu64 " records, every "
		    "checksum and the manifest verified", f->nok,
		    f->records_ok);
	return f->problems == 0 && f->nok == f->nparts ? 0 : 1;
}
