/*
 * test_ldpack — unit tests of src/warrantd/ldpack.c (and the records documents of
 * src/warrantd/hi1_delivery.c it is made of): back-end answers of several sizes are
 * written into a temporary results store as backend.c writes them, packed
 * with small part bounds, and every part is read back from the store: its
 * bytes have the announced size and SHA-256, fit the bound, are valid under
 * etc/templates/ld-result.xsd, hold one identifier's records in order, and
 * all the parts' records, parsed back, are exactly the input records; the
 * manifest is valid under etc/templates/ld-manifest.xsd and says the same.
 * Hostile records come out repaired, bounded or left out with their
 * Remarks; a result that fails authentication, does not decode or cannot be
 * written leaves no part behind; 1,000,000 records go through with a
 * bounded peak of memory.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/evp.h>

#include "backend.pb-c.h"
#include "backend_frame.h"
#include "hi1.h"
#include "hi1_delivery.h"
#include "ldpack.h"
#include "results.h"
#include "xmltest.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN	1
#endif
#endif
#ifdef TEST_ASAN
/* From sanitizer/allocator_interface.h, which gcc 12 does not install. */
size_t	__sanitizer_get_current_allocated_bytes(void);
int	__sanitizer_install_malloc_and_free_hooks(
	    void (*)(const volatile void *, size_t),
	    void (*)(const volatile void *));
#endif

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define CARRIER_REF	"MXC-20261120-00000042"
#define LDID		"MX-FGR-000123"
#define DELIVERY_ID	"6ff4d3d5-fd21-4b1b-881c-b82d4a9e8477"
#define NS_R		"urn:warrantd:mx:ld-result:1"
#define T0_US		1761955200000000LL	/* 2025-11-01T00:00:00Z */
#define SMALL_PART	(16 * 1024)
#define EXPECT_MAX	1024

static char		 tmpdir[64];
static struct results	*store;
static uint8_t		 put_sha[32];	/* of the last put_records() */
static xmlSchemaPtr	 result_xsd, manifest_xsd;

/* ------------------------------------------------------------------------ */
/* the store                                                                 */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Names in the store (the .res files) that start with prefix. */
static int
stored_with_prefix(const char *prefix)
{
	char		 dir[PATH_MAX];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(dir, sizeof(dir), "%s/results", tmpdir);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, prefix) != NULL)
			n++;
	closedir(d);
	return n;
}

/* A stored result, whole, NUL-terminated; NULL if it does not read. */
static char *
read_stored(const char *name, size_t *len)
{
	struct results_reader	*rd;
	const uint8_t		*data;
	size_t			 n;
	char			*buf = NULL;
	int			 rc;

	*len = 0;
	assert_non_null(rd = results_reader_open(store, name));
	while ((rc = results_read(rd, &data, &n)) == 1) {
		assert_non_null(buf = realloc(buf, *len + n + 1));
		memcpy(buf + *len, data, n);
		*len += n;
	}
	results_reader_close(rd);
	assert_int_equal(rc, 0);
	if (buf == NULL)
		assert_non_null(buf = malloc(1));
	buf[*len] = '\0';
	return buf;
}

/* ------------------------------------------------------------------------ */
/* back-end records, and what their XML must say                             */

/* One record and everything it points to. */
struct gen {
	Warrant__Backend__Record	 r;
	Warrant__Backend__LocationRecord l;
	Warrant__Backend__CommRecord	 c;
	Warrant__Backend__Cell		 cell, cell2;
	char				 a[40], b[40], imsi[16], imei[16];
	char				 ip1[16], ip2[16];
};

static void
gen_cell(Warrant__Backend__Cell *c, size_t i)
{
	warrant__backend__cell__init(c);
	c->mcc = "334";
	c->mnc = i % 2 ? "020" : "03";
	c->lac = 4000 + (uint32_t)(i % 97);
	c->ci = 26000000 + (uint64_t)i;
	c->rat = (Warrant__Backend__RadioAccess)(1 + i % 4);
	if (i % 3 == 0) {
		c->latitude = (19000000 + (double)(i % 1000) * 37) / 1e6;
		c->longitude = -(99000000 + (double)(i % 500) * 11) / 1e6;
		c->azimuth_deg = (uint32_t)(i % 360);
	}
}

/* Historical location record i. */
static void
gen_location(struct gen *g, size_t i)
{
	warrant__backend__record__init(&g->r);
	warrant__backend__location_record__init(&g->l);
	g->r.kind_case = WARRANT__BACKEND__RECORD__KIND_LOCATION;
	g->r.location = &g->l;
	g->l.time_us = T0_US + (int64_t)i * 60000000 + (int64_t)(i % 7);
	if (i % 5 != 4) {
		gen_cell(&g->cell, i);
		g->l.cell = &g->cell;
	}
	if (i % 4 == 1) {
		g->l.latitude = (21000000 + (double)(i % 800) * 13) / 1e6;
		g->l.longitude = -(101000000 + (double)(i % 600) * 7) / 1e6;
		g->l.accuracy_m = (uint32_t)(50 + i % 900);
	}
	g->l.source = (Warrant__Backend__LocationSource)(i % 3);
	snprintf(g->imsi, sizeof(g->imsi), "3340200%08zu", i % 100000000);
	g->l.imsi = g->imsi;
	if (i % 2 == 0) {
		snprintf(g->imei, sizeof(g->imei), "35209900%07zu", i % 10000000);
		g->l.imei = g->imei;
	}
}

/* Communication record i: voice, SMS and data sessions in turn. */
static void
gen_comm(struct gen *g, size_t i)
{
	Warrant__Backend__CommRecord	*c = &g->c;

	warrant__backend__record__init(&g->r);
	warrant__backend__comm_record__init(c);
	g->r.kind_case = WARRANT__BACKEND__RECORD__KIND_COMM;
	g->r.comm = c;
	c->service = (Warrant__Backend__ServiceType)(1 + i % 3);
	c->direction = (Warrant__Backend__Direction)(i % 3);
	snprintf(g->a, sizeof(g->a), "5255%08zu", i % 100000000);
	c->a_party = g->a;
	if (c->service == WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA)
		c->b_party = "internet.mxcarrier.mx";
	else {
		snprintf(g->b, sizeof(g->b), "5281%08zu", (i * 7919) % 100000000);
		c->b_party = g->b;
	}
	c->start_us = T0_US + (int64_t)i * 61000000;
	c->duration_s = c->service == WARRANT__BACKEND__SERVICE_TYPE__SERVICE_SMS ?
	    0 : (uint32_t)(i % 3600);
	snprintf(g->imsi, sizeof(g->imsi), "3340200%08zu", i % 1000);
	c->imsi = g->imsi;
	snprintf(g->imei, sizeof(g->imei), "35209900%07zu", i % 10000000);
	c->imei = g->imei;
	gen_cell(&g->cell, i);
	c->cell_start = &g->cell;
	if (i % 2) {
		gen_cell(&g->cell2, i + 1);
		c->cell_end = &g->cell2;
	}
	if (c->service == WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA) {
		snprintf(g->ip1, sizeof(g->ip1), "10.%zu.%zu.%zu", i % 256,
		    (i / 256) % 256, 1 + i % 250);
		snprintf(g->ip2, sizeof(g->ip2), "201.141.%zu.7", i % 256);
		c->private_ip = g->ip1;
		c->public_ip = g->ip2;
		c->public_port_first = 40000 + (uint32_t)(i % 128) * 128;
		c->public_port_last = c->public_port_first + 127;
		c->bytes_up = 48213 + i;
		c->bytes_down = (uint64_t)i * 2210934;
	}
}

static void
add(char *buf, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n = strlen(buf);

	va_start(ap, fmt);
	vsnprintf(buf + n, EXPECT_MAX - n, fmt, ap);
	va_end(ap);
	assert_true(strlen(buf) < EXPECT_MAX - 1);
}

static void
add_time(char *buf, const char *path, int64_t us)
{
	time_t		 t = (time_t)(us / 1000000);
	struct tm	 tm;
	char		 s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	add(buf, "%s=%s.%06lldZ;", path, s, (long long)(us % 1000000));
}

/* Degrees from micro-degrees, as the document writes them. */
static void
add_deg(char *buf, const char *path, double v)
{
	long long	 micro = (long long)(v * 1e6 + (v < 0 ? -0.5 : 0.5));
	long long	 a = micro < 0 ? -micro : micro;

	add(buf, "%s=%s%lld.%06lld;", path, micro < 0 ? "-" : "", a / 1000000,
	    a % 1000000);
}

static void
expect_cell(char *buf, const char *name, const Warrant__Backend__Cell *c)
{
	static const char	*rats[] = { "", "GSM", "UMTS", "LTE", "NR" };
	char			 p[64];

	if (c == NULL)
		return;
	add(buf, "%s/MCC=%s;%s/MNC=%s;%s/LAC=%u;%s/CellIdentity=%llu;"
	    "%s/RadioAccess=%s;", name, c->mcc, name, c->mnc, name, c->lac,
	    name, (unsigned long long)c->ci, name, rats[c->rat]);
	if (c->latitude != 0.0 || c->longitude != 0.0) {
		snprintf(p, sizeof(p), "%s/SitePosition/Latitude", name);
		add_deg(buf, p, c->latitude);
		snprintf(p, sizeof(p), "%s/SitePosition/Longitude", name);
		add_deg(buf, p, c->longitude);
		add(buf, "%s/Azimuth=%u;", name, c->azimuth_deg);
	}
}

/*
 * What the XML of a well-formed record says, flattened as flatten() does:
 * "path=text;" for each leaf element, in document order.
 */
static void
expect(const struct gen *g, char *buf)
{
	static const char	*sources[] = { "", "Network", "GNSS" };
	static const char	*services[] = { "", "Voice", "SMS", "Data" };
	static const char	*dirs[] = { "", "Originating", "Terminating" };
	const Warrant__Backend__LocationRecord	*l = g->r.location;
	const Warrant__Backend__CommRecord	*c = g->r.comm;

	buf[0] = '\0';
	if (g->r.kind_case == WARRANT__BACKEND__RECORD__KIND_LOCATION) {
		add_time(buf, "Time", l->time_us);
		expect_cell(buf, "Cell", l->cell);
		if (l->latitude != 0.0 || l->longitude != 0.0) {
			add_deg(buf, "Position/Latitude", l->latitude);
			add_deg(buf, "Position/Longitude", l->longitude);
			add(buf, "Position/AccuracyMetres=%u;", l->accuracy_m);
		}
		if (l->source != 0)
			add(buf, "Source=%s;", sources[l->source]);
		add(buf, "IMSI=%s;", l->imsi);
		if (l->imei[0] != '\0')	/* protobuf-c's unset string is "" */
			add(buf, "IMEI=%s;", l->imei);
		return;
	}
	add(buf, "Service=%s;", services[c->service]);
	if (c->direction != 0)
		add(buf, "Direction=%s;", dirs[c->direction]);
	add(buf, "CallingParty=%s;CalledParty=%s;", c->a_party, c->b_party);
	add_time(buf, "StartTime", c->start_us);
	add(buf, "DurationSeconds=%u;IMSI=%s;IMEI=%s;", c->duration_s, c->imsi,
	    c->imei);
	expect_cell(buf, "StartCell", c->cell_start);
	expect_cell(buf, "EndCell", c->cell_end);
	if (c->service == WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA)
		add(buf, "DataSession/PrivateIP=%s;DataSession/PublicIP=%s;"
		    "DataSession/PublicPortFirst=%u;DataSession/PublicPortLast=%u;"
		    "DataSession/BytesUp=%llu;DataSession/BytesDown=%llu;",
		    c->private_ip, c->public_ip, c->public_port_first,
		    c->public_port_last, (unsigned long long)c->bytes_up,
		    (unsigned long long)c->bytes_down);
}

typedef void (*gen_fn)(struct gen *, size_t);

/*
 * Store n records as backend.c does (entries of u32 length and canonical
 * encoding, chunks of at most per_chunk records), with count as the seal's.
 */
static void
put_records(const char *name, gen_fn gen, size_t n, size_t per_chunk,
    uint64_t count)
{
	struct results_writer	*w;
	struct gen		 g;
	uint8_t			*buf = NULL;
	size_t			 len = 0, cap = 0;

	assert_non_null(w = results_create(store, name));
	for (size_t i = 0; i < n; i++) {
		gen(&g, i);
		assert_int_equal(backend_frame_canonical(&g.r.base, &buf, &len,
		    &cap), 0);
		if ((i + 1) % per_chunk == 0 || i + 1 == n) {
			assert_int_equal(results_append(w, buf, len), 0);
			len = 0;
		}
	}
	free(buf);
	results_writer_sha256(w, put_sha);
	assert_int_equal(results_finish(w, count), 0);
}

/* One small answer (subscriber, location) stored as backend.c stores it. */
static void
put_small(const char *name, const ProtobufCMessage *m)
{
	struct results_writer	*w;
	uint8_t			*buf = NULL;
	size_t			 len = 0, cap = 0;

	assert_int_equal(backend_frame_canonical(m, &buf, &len, &cap), 0);
	assert_non_null(w = results_create(store, name));
	assert_int_equal(results_append(w, buf, len), 0);
	assert_int_equal(results_finish(w, 1), 0);
	free(buf);
}

/* ------------------------------------------------------------------------ */
/* documents                                                                 */

/* The text of the first node matching xpath; "" if none. */
static void
assert_xp(xmlDocPtr doc, const char *xpath, const char *want)
{
	xmlXPathObjectPtr	 obj = xmltest_nodes(doc, xpath);
	xmlChar			*s = NULL;

	if (obj->nodesetval != NULL && obj->nodesetval->nodeNr > 0)
		s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
	xmlXPathFreeObject(obj);
	if (s == NULL)
		fail_msg("%s: absent (want \"%s\")", xpath, want);
	if (strcmp((const char *)s, want) != 0)
		fail_msg("%s: \"%s\", want \"%s\"", xpath, s, want);
	xmlFree(s);
}

static unsigned long long
num_xp(xmlDocPtr doc, const char *xpath)
{
	xmlXPathObjectPtr	 obj = xmltest_nodes(doc, xpath);
	xmlChar			*s;
	unsigned long long	 v;

	if (obj->nodesetval == NULL || obj->nodesetval->nodeNr == 0)
		fail_msg("%s: absent", xpath);
	s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
	v = strtoull((const char *)s, NULL, 10);
	xmlFree(s);
	xmlXPathFreeObject(obj);
	return v;
}

/* "path=text;" for each leaf element below n, in document order. */
static void
flatten(xmlNodePtr n, const char *path, char *buf)
{
	char		 p[128];
	xmlChar		*s;
	int		 leaf = 1;

	for (xmlNodePtr k = n->children; k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		leaf = 0;
		snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "/" : "",
		    (const char *)k->name);
		flatten(k, p, buf);
	}
	if (leaf && path[0] != '\0') {
		s = xmlNodeGetContent(n);
		add(buf, "%s=%s;", path, (const char *)s);
		xmlFree(s);
	}
}

static void
sha_hex(const void *p, size_t n, char hex[65])
{
	uint8_t	 md[32];

	assert_int_equal(EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ------------------------------------------------------------------------ */
/* packing and checking                                                      */

/* What an identifier of the task had, for checking its parts. */
struct spec {
	const char		*name;		/* stored result; NULL: none */
	gen_fn			 gen;		/* records */
	size_t			 n;		/* records stored */
	enum hi1_result_reason	 reason;	/* no data */
	const uint8_t		*sha256;	/* as journaled, or NULL */
};

static struct hi1_task
task(enum wd_reqtype type, size_t nids)
{
	struct hi1_task	 t = xmltest_task(type, LDID);

	t.nids = nids;
	for (size_t i = 0; i < nids; i++) {
		t.ids[i].type = WD_ID_MSISDN;
		snprintf(t.ids[i].value, sizeof(t.ids[i].value), "52551234%04zu",
		    i);
	}
	return t;
}

static struct ldpack *
pack(const struct hi1_task *t, const struct spec *specs, size_t part_max,
    const char *prefix, char *why)
{
	struct ldpack_outcome	 o[HI1_MAX_IDS];
	struct ldpack_args	 a;

	memset(o, 0, sizeof(o));
	for (size_t i = 0; i < t->nids; i++) {
		o[i].result = specs[i].name;
		o[i].reason = specs[i].reason;
		o[i].sha256 = specs[i].sha256;
	}
	memset(&a, 0, sizeof(a));
	a.store = store;
	a.carrier_ref = CARRIER_REF;
	a.task = t;
	a.outcomes = o;
	a.part_max = part_max;
	a.prefix = prefix;
	return ldpack_pack(&a, why, LDPACK_WHY_MAX);
}

/* Bytes of the first Record of a records document, with its indentation. */
static size_t
first_record_len(const char *xml)
{
	const char	*s = strstr(xml, "    <Record>"), *e;

	assert_non_null(s);
	assert_non_null(e = strstr(s, "    </Record>\n"));
	return (size_t)(e - s) + strlen("    </Record>\n");
}

/*
 * Check every part of pk against the input: read back, size, digest,
 * bound, schema, header, one identifier each in order, the records equal
 * the input's, parts cut where the next record would not fit; then the
 * manifest. Returns the records seen.
 */
static uint64_t
check_pack(const struct ldpack *pk, const struct hi1_task *t,
    const struct spec *specs, size_t part_max, const char *prefix)
{
	char		 want[EXPECT_MAX], got[EXPECT_MAX], hex[65], name[128];
	char		 phex[65];
	char		 path[256], *xml, *prev = NULL;
	size_t		 len, id = 0, rec = 0, prev_len = 0;
	uint64_t	 total = 0;
	struct gen	 g;
	xmlDocPtr	 doc;
	xmlXPathObjectPtr obj;

	assert_string_equal(pk->carrier_ref, CARRIER_REF);
	assert_string_equal(pk->ldid, LDID);
	for (size_t i = 0; i < pk->nparts; i++) {
		const struct ldpack_part *p = &pk->parts[i];

		assert_int_equal(p->seq, i + 1);
		snprintf(name, sizeof(name), "%s.p%zu", prefix, i + 1);
		assert_string_equal(p->name, name);
		xml = read_stored(p->name, &len);
		assert_int_equal(len, p->size);
		assert_true(len <= part_max);
		sha_hex(xml, len, hex);
		for (int k = 0; k < 32; k++)
			snprintf(phex + 2 * k, 3, "%02x", p->sha256[k]);
		assert_string_equal(phex, hex);
		doc = xmltest_valid(xml, len, result_xsd, p->name);
		assert_xp(doc, "/r:LDResult/r:CarrierReference", CARRIER_REF);
		assert_xp(doc, "/r:LDResult/r:TaskReference", LDID);
		assert_xp(doc, "/r:LDResult/r:RequestType", wd_reqtype_name(t->type));
		/* Parts go identifier by identifier, in order, none skipped. */
		if (p->id_index != id) {
			assert_int_equal(p->id_index, id + 1);
			assert_int_equal(rec, specs[id].n);
			id++;
			rec = 0;
		} else if (prev != NULL) {
			/* Cut only where the next record would not fit. */
			assert_true(prev_len + first_record_len(xml) + 200 >
			    part_max);
		}
		free(prev);
		prev = NULL;
		if (specs[id].name == NULL) {
			assert_int_equal(xmltest_count(doc, "/r:LDResult/r:NoResult"), 1);
			assert_int_equal(p->records, 0);
		} else if (t->type == WD_REQ_SUBSCRIBER) {
			assert_int_equal(xmltest_count(doc, "/r:LDResult/r:Subscriber"), 1);
			assert_int_equal(p->records, 1);
			rec++;
		} else if (t->type == WD_REQ_LOCATION_RT) {
			assert_int_equal(xmltest_count(doc, "/r:LDResult/r:Location"), 1);
			assert_int_equal(p->records, 1);
			rec++;
		} else if (specs[id].n == 0) {
			assert_xp(doc, "/r:LDResult/r:NoResult/r:Reason",
			    "NotRetained");
			assert_int_equal(p->records, 0);
		} else {
			obj = xmltest_nodes(doc, "/r:LDResult/*/r:Record");
			assert_non_null(obj->nodesetval);
			assert_int_equal(obj->nodesetval->nodeNr, p->records);
			assert_true(p->records > 0);
			for (int k = 0; k < obj->nodesetval->nodeNr; k++) {
				specs[id].gen(&g, rec++);
				expect(&g, want);
				got[0] = '\0';
				flatten(obj->nodesetval->nodeTab[k], "", got);
				assert_string_equal(got, want);
			}
			xmlXPathFreeObject(obj);
			prev = xml;
			prev_len = len;
			xml = NULL;
		}
		assert_int_equal(xmltest_count(doc, "/r:LDResult/r:Remarks"), 0);
		total += p->records;
		xmlFreeDoc(doc);
		free(xml);
	}
	free(prev);
	assert_int_equal(id, t->nids - 1);
	assert_int_equal(rec, specs[id].n);
	assert_int_equal(pk->records, total);
	assert_int_equal(pk->omitted, 0);

	/* The manifest says the same. */
	assert_non_null(xml = ldpack_manifest(pk, DELIVERY_ID, &len));
	doc = xmltest_valid(xml, len, manifest_xsd, "manifest");
	assert_xp(doc, "/mf:LDManifest/mf:DeliveryID", DELIVERY_ID);
	assert_xp(doc, "/mf:LDManifest/mf:CarrierReference", CARRIER_REF);
	assert_xp(doc, "/mf:LDManifest/mf:TaskReference", LDID);
	assert_xp(doc, "/mf:LDManifest/mf:RequestType", wd_reqtype_name(t->type));
	assert_xp(doc, "/mf:LDManifest/mf:PartFormat", NS_R);
	assert_int_equal(num_xp(doc, "/mf:LDManifest/mf:TotalParts"), pk->nparts);
	assert_int_equal(num_xp(doc, "/mf:LDManifest/mf:TotalRecords"), total);
	assert_int_equal(num_xp(doc, "/mf:LDManifest/mf:OmittedRecords"), 0);
	assert_int_equal(xmltest_count(doc, "//mf:Part"), pk->nparts);
	assert_int_equal(xmltest_count(doc, "//mf:LastSequence"), 1);
	snprintf(path, sizeof(path), "//mf:Part[%zu]/mf:LastSequence", pk->nparts);
	assert_xp(doc, path, "true");
	for (size_t i = 0; i < pk->nparts; i++) {
		char	*part;

		snprintf(path, sizeof(path), "//mf:Part[%zu]/mf:SequenceNumber",
		    i + 1);
		assert_int_equal(num_xp(doc, path), i + 1);
		snprintf(path, sizeof(path), "//mf:Part[%zu]/mf:IdentifierIndex",
		    i + 1);
		assert_int_equal(num_xp(doc, path), pk->parts[i].id_index);
		snprintf(path, sizeof(path), "//mf:Part[%zu]/mf:Records", i + 1);
		assert_int_equal(num_xp(doc, path), pk->parts[i].records);
		part = read_stored(pk->parts[i].name, &len);
		snprintf(path, sizeof(path), "//mf:Part[%zu]/mf:Size", i + 1);
		assert_int_equal(num_xp(doc, path), len);
		sha_hex(part, len, hex);
		snprintf(path, sizeof(path), "//mf:Part[%zu]/mf:Checksum", i + 1);
		assert_xp(doc, path, hex);
		free(part);
	}
	xmlFreeDoc(doc);
	free(xml);
	return total;
}

/* ------------------------------------------------------------------------ */
/* tests                                                                     */

static void
test_records_in_parts(void **state)
{
	struct spec		 specs[] = {
		{ "MXC-20261120-00000042.1.0", gen_comm, 1000, 0, NULL },
		{ NULL, NULL, 0, HI1_RESULT_NOT_RETAINED, NULL },
		{ "MXC-20261120-00000042.1.2", gen_comm, 37, 0, NULL },
		{ "MXC-20261120-00000042.1.3", gen_comm, 1, 0, NULL },
	};
	struct hi1_task		 t = task(WD_REQ_RECORDS, 4);
	struct ldpack		*pk;
	char			 why[LDPACK_WHY_MAX];

	uint8_t			 sha[3][32];

	(void)state;
	/* With the digests the journal holds (the records' canonical
	   entries, as backend.c computes them). */
	put_records(specs[0].name, gen_comm, 1000, 500, 1000);
	memcpy(sha[0], put_sha, 32);
	put_records(specs[2].name, gen_comm, 37, 10, 37);
	memcpy(sha[1], put_sha, 32);
	put_records(specs[3].name, gen_comm, 1, 500, 1);
	memcpy(sha[2], put_sha, 32);
	specs[0].sha256 = sha[0];
	specs[2].sha256 = sha[1];
	specs[3].sha256 = sha[2];
	pk = pack(&t, specs, SMALL_PART, "MXC-20261120-00000042.1.d1", why);
	if (pk == NULL)
		fail_msg("%s", why);
	assert_true(pk->nparts > 20);
	assert_int_equal(check_pack(pk, &t, specs, SMALL_PART,
	    "MXC-20261120-00000042.1.d1"), 1038);
	/* The inputs are still there; the parts are in the store. */
	assert_int_equal(stored_with_prefix("MXC-20261120-00000042.1.d1.p"),
	    (int)pk->nparts);
	assert_int_equal(stored_with_prefix("MXC-20261120-00000042.1.0.res"), 1);
	ldpack_free(pk);

	/* A larger bound: fewer parts, the same records. */
	pk = pack(&t, specs, 64 * 1024, "MXC-20261120-00000042.1.d2", why);
	if (pk == NULL)
		fail_msg("%s", why);
	assert_int_equal(check_pack(pk, &t, specs, 64 * 1024,
	    "MXC-20261120-00000042.1.d2"), 1038);
	ldpack_free(pk);
}

static void
test_locations_in_parts(void **state)
{
	const struct spec	 specs[] = {
		{ "MXC-20261120-00000042.2.0", gen_location, 0, 0, NULL },
		{ "MXC-20261120-00000042.2.1", gen_location, 4000, 0, NULL },
		{ NULL, NULL, 0, HI1_RESULT_OUTSIDE_RETENTION, NULL },
		{ "MXC-20261120-00000042.2.3", gen_location, 2, 0, NULL },
	};
	struct hi1_task		 t = task(WD_REQ_LOCATION_HIST, 4);
	struct ldpack		*pk;
	char			 why[LDPACK_WHY_MAX], *xml;
	size_t			 len;
	xmlDocPtr		 doc;

	(void)state;
	put_records(specs[0].name, gen_location, 0, 500, 0);
	put_records(specs[1].name, gen_location, 4000, 500, 4000);
	put_records(specs[3].name, gen_location, 2, 500, 2);
	pk = pack(&t, specs, 40000, "MXC-20261120-00000042.2.d", why);
	if (pk == NULL)
		fail_msg("%s", why);
	assert_int_equal(check_pack(pk, &t, specs, 40000,
	    "MXC-20261120-00000042.2.d"), 4002);
	/* The empty window is one NoResult part; the outside one says so. */
	xml = read_stored(pk->parts[0].name, &len);
	doc = xmltest_valid(xml, len, result_xsd, "empty window");
	assert_xp(doc, "/r:LDResult/r:NoResult/r:Reason", "NotRetained");
	xmlFreeDoc(doc);
	free(xml);
	for (size_t i = 0; i < pk->nparts; i++) {
		if (pk->parts[i].id_index != 2)
			continue;
		xml = read_stored(pk->parts[i].name, &len);
		doc = xmltest_valid(xml, len, result_xsd, "outside retention");
		assert_xp(doc, "/r:LDResult/r:NoResult/r:Reason",
		    "OutsideRetention");
		xmlFreeDoc(doc);
		free(xml);
	}

	/* The default bound (1 MiB): fewer parts. */
	len = pk->nparts;
	ldpack_free(pk);
	pk = pack(&t, specs, 0, "MXC-20261120-00000042.2.e", why);
	if (pk == NULL)
		fail_msg("%s", why);
	assert_true(pk->nparts >= 4 && pk->nparts < len);
	assert_int_equal(check_pack(pk, &t, specs, LDPACK_PART_DEFAULT,
	    "MXC-20261120-00000042.2.e"), 4002);
	ldpack_free(pk);
}

static void
test_small_answers(void **state)
{
	Warrant__Backend__Subscriber	 s = WARRANT__BACKEND__SUBSCRIBER__INIT;
	Warrant__Backend__Location	 l = WARRANT__BACKEND__LOCATION__INIT;
	const struct spec		 sspecs[] = {
		{ NULL, NULL, 0, HI1_RESULT_NOT_FOUND, NULL },
		{ "MXC-20261120-00000043.1.1", NULL, 1, 0, NULL },
	};
	const struct spec		 lspecs[] = {
		{ "MXC-20261120-00000043.2.0", NULL, 1, 0, NULL },
	};
	struct hi1_task			 t = task(WD_REQ_SUBSCRIBER, 2);
	struct ldpack			*pk;
	char				 why[LDPACK_WHY_MAX], *xml;
	size_t				 len;
	xmlDocPtr			 doc;

	(void)state;
	s.given_names = "María Fernanda";
	s.first_surname = "Ortiz";
	s.msisdn = "525512345678";
	s.curp = "bad curp";
	put_small(sspecs[1].name, &s.base);
	pk = pack(&t, sspecs, SMALL_PART, "MXC-20261120-00000043.1.d", why);
	if (pk == NULL)
		fail_msg("%s", why);
	assert_int_equal(pk->nparts, 2);
	assert_int_equal(pk->records, 1);
	xml = read_stored(pk->parts[0].name, &len);
	doc = xmltest_valid(xml, len, result_xsd, "subscriber not found");
	assert_xp(doc, "/r:LDResult/r:NoResult/r:Reason", "NotFound");
	xmlFreeDoc(doc);
	free(xml);
	xml = read_stored(pk->parts[1].name, &len);
	doc = xmltest_valid(xml, len, result_xsd, "subscriber");
	assert_xp(doc, "//r:Subscriber/r:Name/r:GivenNames", "María Fernanda");
	assert_xp(doc, "//r:Subscriber/r:MSISDN", "525512345678");
	xmltest_remark(doc, "Subscriber/CURP", "Omitted");
	xmlFreeDoc(doc);
	free(xml);
	ldpack_free(pk);

	t = task(WD_REQ_LOCATION_RT, 1);
	l.age_s = 42;
	l.latitude = 19.42847;
	l.longitude = -99.12766;
	put_small(lspecs[0].name, &l.base);
	pk = pack(&t, lspecs, 0, "MXC-20261120-00000043.2.d", why);
	if (pk == NULL)
		fail_msg("%s", why);
	assert_int_equal(check_pack(pk, &t, lspecs, LDPACK_PART_DEFAULT,
	    "MXC-20261120-00000043.2.d"), 1);
	xml = read_stored(pk->parts[0].name, &len);
	doc = xmltest_valid(xml, len, result_xsd, "location");
	assert_xp(doc, "//r:Location/r:Position/r:Latitude", "19.428470");
	assert_xp(doc, "//r:Location/r:AgeSeconds", "42");
	xmlFreeDoc(doc);
	free(xml);
	ldpack_free(pk);

	/* A subscriber task whose stored result is records: refused. */
	t = task(WD_REQ_SUBSCRIBER, 1);
	put_records("MXC-20261120-00000043.3.0", gen_comm, 3, 500, 3);
	{
		const struct spec bad[] = {
			{ "MXC-20261120-00000043.3.0", NULL, 1, 0, NULL } };

		assert_null(pack(&t, bad, 0, "MXC-20261120-00000043.3.d", why));
		assert_non_null(strstr(why, "is not one SubscriberIdentity"));
		assert_int_equal(stored_with_prefix("00000043.3.d"), 0);
	}
}

/* Records with hostile or malformed content. */
static void
gen_hostile(struct gen *g, size_t i)
{
	static char	 longparty[300];

	gen_comm(g, i);
	switch (i % 10) {
	case 0:		/* markup, and longer than a Party */
		memset(longparty, 'x', sizeof(longparty) - 1);
		memcpy(longparty, "<b>&amp;\"'</b>", 14);
		g->c.a_party = longparty;
		break;
	case 1:		/* not UTF-8, control characters, blanks around */
		g->c.b_party = "  52\xff\xfe" "81\x01" "23\t ";
		break;
	case 2:		/* no StartTime: the record is left out */
		g->c.start_us = 0;
		break;
	case 3:		/* identifiers and a cell in wrong formats */
		g->c.imsi = "310150123456789";
		g->c.imei = "35209900176148";
		g->cell.mcc = "33";
		break;
	case 4:		/* a data session with bad addresses and ports */
		g->c.service = WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA;
		g->c.private_ip = "10.0.0.256";
		g->c.public_ip = "2001:DB8::1";
		g->c.public_port_first = 70000;
		g->c.public_port_last = 0;
		g->c.bytes_up = 48217;
		break;
	case 5:		/* an unknown service: left out */
		g->c.service = (Warrant__Backend__ServiceType)9;
		break;
	case 6:		/* a time past year 9999: left out */
		g->c.start_us = INT64_MAX;
		break;
	case 7:		/* an unknown direction, a lowercase IPv6 */
		g->c.direction = (Warrant__Backend__Direction)7;
		g->c.service = WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA;
		g->c.public_ip = "2001:db8::1";
		break;
	default:
		break;
	}
}

static void
test_hostile_records(void **state)
{
	const struct spec	 specs[] = {
		{ "MXC-20261120-00000044.1.0", gen_hostile, 200, 0, NULL },
	};
	struct hi1_task		 t = task(WD_REQ_RECORDS, 1);
	struct ldpack		*pk;
	char			 why[LDPACK_WHY_MAX], *xml, *m, want[65];
	size_t			 len, mlen;
	uint64_t		 records = 0, omitted = 0;
	xmlDocPtr		 doc;
	xmlXPathObjectPtr	 obj;

	(void)state;
	put_records(specs[0].name, gen_hostile, 200, 500, 200);
	pk = pack(&t, specs, SMALL_PART, "MXC-20261120-00000044.1.d", why);
	if (pk == NULL)
		fail_msg("%s", why);
	for (size_t i = 0; i < pk->nparts; i++) {
		xml = read_stored(pk->parts[i].name, &len);
		assert_true(len <= SMALL_PART);
		doc = xmltest_valid(xml, len, result_xsd, pk->parts[i].name);
		assert_int_equal(xmltest_count(doc, "//r:Record"),
		    pk->parts[i].records);
		records += pk->parts[i].records;
		omitted += pk->parts[i].omitted;
		if (pk->parts[i].omitted > 0)
			xmltest_remark(doc, "CommunicationRecords/Record",
			    "Omitted");
		if (i == 0) {
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "CallingParty", "Truncated");
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "CalledParty", "Repaired");
			xmltest_remark(doc, "CommunicationRecords/Record/IMSI",
			    "Omitted");
			xmltest_remark(doc, "CommunicationRecords/Record/IMEI",
			    "Omitted");
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "StartCell", "Omitted");
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "DataSession/PrivateIP", "Omitted");
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "DataSession/PublicIP", "Omitted");
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "DataSession/PublicPortFirst", "Omitted");
			xmltest_remark(doc, "CommunicationRecords/Record/"
			    "Direction", "Omitted");
			/* Escaped, cut at 64 characters, repaired, trimmed. */
			obj = xmltest_nodes(doc, "//r:Record[1]/r:CallingParty");
			assert_int_equal(obj->nodesetval->nodeNr, 1);
			xmlXPathFreeObject(obj);
			memset(want, 'x', 64);
			memcpy(want, "<b>&amp;\"'</b>", 14);
			want[64] = '\0';
			assert_xp(doc, "//r:Record[1]/r:CallingParty", want);
			assert_non_null(strstr(xml, "&lt;b&gt;&amp;amp;"));
			assert_xp(doc, "//r:Record[2]/r:CalledParty",
			    "52\xef\xbf\xbd\xef\xbf\xbd" "81\xef\xbf\xbd" "23");
			/* The fourth record of the input (the third here). */
			assert_int_equal(xmltest_count(doc, "//r:Record[3]/r:IMSI"), 0);
			assert_int_equal(xmltest_count(doc,
			    "//r:Record[3]/r:StartCell"), 0);
			assert_xp(doc, "//r:Record[4]/r:DataSession/r:BytesUp",
			    "48217");
			assert_int_equal(xmltest_count(doc,
			    "//r:Record[4]/r:DataSession/r:PrivateIP"), 0);
			assert_xp(doc, "//r:Record[5]/r:DataSession/r:PublicIP",
			    "2001:db8::1");
		}
		xmlFreeDoc(doc);
		free(xml);
	}
	/* Three in ten are left out: times 0 and past 9999, service 9. */
	assert_int_equal(omitted, 60);
	assert_int_equal(records, 140);
	assert_int_equal(pk->records, 140);
	assert_int_equal(pk->omitted, 60);
	assert_non_null(m = ldpack_manifest(pk, DELIVERY_ID, &mlen));
	doc = xmltest_valid(m, mlen, manifest_xsd, "manifest");
	assert_int_equal(num_xp(doc, "/mf:LDManifest/mf:TotalRecords"), 140);
	assert_int_equal(num_xp(doc, "/mf:LDManifest/mf:OmittedRecords"), 60);
	xmlFreeDoc(doc);
	free(m);
	ldpack_free(pk);

	/* Every record left out: a NoResult part that says why. */
	{
		const struct spec all[] = {
			{ "MXC-20261120-00000044.2.0", gen_hostile, 1, 0, NULL } };
		struct results_writer	*w;
		struct gen		 g;
		uint8_t			*buf = NULL;
		size_t			 blen = 0, cap = 0;

		assert_non_null(w = results_create(store, all[0].name));
		for (size_t i = 0; i < 3; i++) {
			gen_hostile(&g, i == 0 ? 2 : i == 1 ? 5 : 6);
			assert_int_equal(backend_frame_canonical(&g.r.base,
			    &buf, &blen, &cap), 0);
		}
		assert_int_equal(results_append(w, buf, blen), 0);
		assert_int_equal(results_finish(w, 3), 0);
		free(buf);
		pk = pack(&t, all, SMALL_PART, "MXC-20261120-00000044.2.d", why);
		if (pk == NULL)
			fail_msg("%s", why);
		assert_int_equal(pk->nparts, 1);
		assert_int_equal(pk->records, 0);
		assert_int_equal(pk->omitted, 3);
		xml = read_stored(pk->parts[0].name, &len);
		doc = xmltest_valid(xml, len, result_xsd, "all left out");
		assert_xp(doc, "/r:LDResult/r:NoResult/r:Reason", "NotRetained");
		xmltest_remark(doc, "CommunicationRecords/Record", "Omitted");
		xmlFreeDoc(doc);
		free(xml);
		ldpack_free(pk);
	}
}

/* Flip one byte of a stored result's file, past its header. */
static void
tamper(const char *name, off_t from_end)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	uint8_t		 b;
	int		 fd;

	snprintf(path, sizeof(path), "%s/results/%s.res", tmpdir, name);
	assert_true((fd = open(path, O_RDWR)) != -1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, &b, 1, st.st_size - from_end), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, st.st_size - from_end), 1);
	close(fd);
}

#define FAIL_PREFIX	"MXC-20261120-00000045.1.d"

/* Packing fails, saying want, and leaves no part behind. */
static void
refused(const struct hi1_task *t, const struct spec *specs, const char *want)
{
	char	 why[LDPACK_WHY_MAX];

	assert_null(pack(t, specs, SMALL_PART, FAIL_PREFIX, why));
	if (strstr(why, want) == NULL)
		fail_msg("\"%s\", want \"%s\"", why, want);
	assert_null(strstr(why, "334020"));	/* an IMSI: never data */
	assert_int_equal(stored_with_prefix(FAIL_PREFIX ".p"), 0);
}

/* A stored result of raw bytes, in one chunk, sealed with count. */
static void
put_raw(const char *name, const uint8_t *p, size_t n, uint64_t count)
{
	struct results_writer	*w;

	assert_non_null(w = results_create(store, name));
	assert_int_equal(results_append(w, p, n), 0);
	assert_int_equal(results_finish(w, count), 0);
}

static void
test_failures_leave_nothing(void **state)
{
	struct spec		 specs[] = {
		{ NULL, NULL, 0, HI1_RESULT_NOT_FOUND, NULL },
		{ "MXC-20261120-00000045.1.1", gen_location, 1000, 0, NULL },
		{ "MXC-20261120-00000045.1.2", gen_location, 1000, 0, NULL },
	};
	struct hi1_task		 t = task(WD_REQ_LOCATION_HIST, 3);
	struct ldpack		*pk;
	struct rlimit		 rl, old;
	char			 why[LDPACK_WHY_MAX];
	uint8_t			 junk[8] = { 0, 0, 0, 9, 1, 2, 3, 4 };
	uint8_t			 wrong[32];

	(void)state;
	put_records(specs[1].name, gen_location, 1000, 200, 1000);
	put_records(specs[2].name, gen_location, 1000, 200, 1000);
	/* The last chunk of the third fails authentication: parts of the
	   first, second and part of the third were written by then. */
	tamper(specs[2].name, 200);
	refused(&t, specs, "identifier 2: stored result "
	    "MXC-20261120-00000045.1.2 fails authentication");

	/* Authentic, but not the result the journal recorded. */
	put_records(specs[2].name, gen_location, 1000, 200, 1000);
	memset(wrong, 0xa5, sizeof(wrong));
	specs[2].sha256 = wrong;
	refused(&t, specs, "not the one journaled");
	specs[2].sha256 = put_sha;
	assert_non_null(pk = pack(&t, specs, SMALL_PART, FAIL_PREFIX, why));
	assert_int_equal(pk->records, 2000);
	for (size_t i = 0; i < pk->nparts; i++)
		assert_int_equal(results_delete(store, pk->parts[i].name), 0);
	ldpack_free(pk);
	specs[2].sha256 = NULL;

	specs[2].name = "MXC-20261120-00000045.1.9";
	refused(&t, specs, "missing or fails authentication");

	/* A seal whose count is not the records'. */
	specs[2].name = "MXC-20261120-00000045.1.3";
	put_records(specs[2].name, gen_location, 10, 500, 11);
	refused(&t, specs, "its seal says 11");

	/* An entry that overruns its chunk, and one that does not decode. */
	specs[2].name = "MXC-20261120-00000045.1.4";
	put_raw(specs[2].name, junk, 5, 1);
	refused(&t, specs, "does not divide into records");
	specs[2].name = "MXC-20261120-00000045.1.5";
	junk[3] = 4;
	junk[4] = 0xff;		/* a tag of wire type 7: not protobuf */
	put_raw(specs[2].name, junk, 8, 1);
	refused(&t, specs, "does not decode");

	/* Records of the wrong kind for the task. */
	specs[2].name = "MXC-20261120-00000045.1.6";
	put_records(specs[2].name, gen_comm, 5, 500, 5);
	refused(&t, specs, "wrong kind");

	/* The store cannot write (files limited to 12 KiB): the small
	   NoResult part is written, the first records part is not. */
	specs[2].name = "MXC-20261120-00000045.1.1";
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	rl = old;
	rl.rlim_cur = 12 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	pk = pack(&t, specs, SMALL_PART, FAIL_PREFIX, why);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_null(pk);
	assert_non_null(strstr(why, "part 2: the results store cannot write"));
	assert_int_equal(stored_with_prefix(FAIL_PREFIX ".p"), 0);
}

static void
test_bad_arguments(void **state)
{
	const struct spec	 specs[] = {
		{ NULL, NULL, 0, HI1_RESULT_NOT_FOUND, NULL },
		{ NULL, NULL, 0, (enum hi1_result_reason)7, NULL },
	};
	struct hi1_task		 t = task(WD_REQ_RECORDS, 1);
	char			 why[LDPACK_WHY_MAX], longp[100];
	struct ldpack		*pk;
	size_t			 len;

	(void)state;
	assert_null(pack(&t, specs, LDPACK_PART_MIN - 1, "x.d", why));
	assert_non_null(strstr(why, "part bound"));
	assert_null(pack(&t, specs, LDPACK_PART_DEFAULT + 1, "x.d", why));
	assert_null(pack(&t, specs, 0, "../x", why));
	assert_non_null(strstr(why, "prefix"));
	assert_null(pack(&t, specs, 0, "x.", why));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_null(pack(&t, specs, 0, longp, why));
	t.nids = 0;
	assert_null(pack(&t, specs, 0, "x.d", why));
	t = task(WD_REQ_RECORDS, 2);
	assert_null(pack(&t, specs, 0, "x.d", why));
	assert_non_null(strstr(why, "no-data reason"));
	t = task(WD_REQ_PRESERVATION, 1);
	assert_null(pack(&t, specs, 0, "x.d", why));
	t = task(WD_REQ_RECORDS, 1);
	snprintf(t.reference, sizeof(t.reference), "not an LDID");
	assert_null(pack(&t, specs, 0, "x.d", why));
	assert_int_equal(stored_with_prefix("x.d"), 0);

	/* The manifest wants a lowercase UUID. */
	t = task(WD_REQ_RECORDS, 1);
	assert_non_null(pk = pack(&t, specs, 0, "MXC-20261120-00000046.1.d",
	    why));
	assert_null(ldpack_manifest(pk, "6FF4D3D5-FD21-4B1B-881C-B82D4A9E8477",
	    &len));
	assert_null(ldpack_manifest(pk, "6ff4d3d5-fd21-4b1b-881c-b82d4a9e847",
	    &len));
	assert_null(ldpack_manifest(pk, "6ff4d3d5-fd21-4b1b-881c-b82d4a9e84770",
	    &len));
	ldpack_free(pk);
}

/*
 * docs/results.md, section 6: the parts and the manifest shown are valid,
 * and the manifest's sizes, checksums and counts are the parts' own.
 */
static void
test_docs_example(void **state)
{
	char		 path[512], *md, *blocks[3], *p, *end, xpath[128];
	char		 hex[65];
	size_t		 n = 0;
	long		 len;
	uint64_t	 total = 0;
	FILE		*f;
	xmlDocPtr	 doc, m;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/results.md", TOP_SRCDIR);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((len = ftell(f)) > 0);
	rewind(f);
	assert_non_null(md = malloc((size_t)len + 1));
	assert_int_equal(fread(md, 1, (size_t)len, f), (size_t)len);
	md[len] = '\0';
	fclose(f);
	assert_non_null(p = strstr(md, "## 6. Results delivered in parts"));
	while (n < 3 && (p = strstr(p, "\n```xml\n")) != NULL) {
		p += strlen("\n```xml\n");
		assert_non_null(end = strstr(p, "\n```\n"));
		assert_non_null(blocks[n++] = strndup(p, (size_t)(end - p) + 1));
		p = end;
	}
	assert_int_equal(n, 3);
	m = xmltest_valid(blocks[2], strlen(blocks[2]), manifest_xsd,
	    "results.md manifest");
	assert_int_equal(num_xp(m, "/mf:LDManifest/mf:TotalParts"), 2);
	assert_int_equal(xmltest_count(m, "//mf:Part"), 2);
	assert_int_equal(xmltest_count(m, "//mf:Part[2]/mf:LastSequence"), 1);
	assert_int_equal(xmltest_count(m, "//mf:LastSequence"), 1);
	for (size_t i = 0; i < 2; i++) {
		doc = xmltest_valid(blocks[i], strlen(blocks[i]), result_xsd,
		    "results.md part");
		snprintf(xpath, sizeof(xpath), "//mf:Part[%zu]/mf:Size", i + 1);
		assert_int_equal(num_xp(m, xpath), strlen(blocks[i]));
		sha_hex(blocks[i], strlen(blocks[i]), hex);
		snprintf(xpath, sizeof(xpath), "//mf:Part[%zu]/mf:Checksum", i + 1);
		assert_xp(m, xpath, hex);
		snprintf(xpath, sizeof(xpath), "//mf:Part[%zu]/mf:Records", i + 1);
		assert_int_equal(num_xp(m, xpath), xmltest_count(doc, "//r:Record"));
		snprintf(xpath, sizeof(xpath), "//mf:Part[%zu]/mf:SequenceNumber",
		    i + 1);
		assert_int_equal(num_xp(m, xpath), i + 1);
		total += (uint64_t)xmltest_count(doc, "//r:Record");
		assert_xp(doc, "/r:LDResult/r:TaskReference", "MX-FGR-000129");
		xmlFreeDoc(doc);
		free(blocks[i]);
	}
	assert_int_equal(num_xp(m, "/mf:LDManifest/mf:TotalRecords"), total);
	assert_xp(m, "/mf:LDManifest/mf:TaskReference", "MX-FGR-000129");
	xmlFreeDoc(m);
	free(blocks[2]);
	free(md);
}

/* ------------------------------------------------------------------------ */
/* 1,000,000 records, in bounded memory                                      */

/* A compact historical location record (time, cell, source). */
static void
gen_compact(struct gen *g, size_t i)
{
	warrant__backend__record__init(&g->r);
	warrant__backend__location_record__init(&g->l);
	warrant__backend__cell__init(&g->cell);
	g->r.kind_case = WARRANT__BACKEND__RECORD__KIND_LOCATION;
	g->r.location = &g->l;
	g->l.time_us = T0_US + (int64_t)i * 1000000;
	g->cell.mcc = "334";
	g->cell.mnc = "020";
	g->cell.lac = 4101;
	g->cell.ci = 26000000 + (uint64_t)i % 5000;
	g->l.cell = &g->cell;
	g->l.source = WARRANT__BACKEND__LOCATION_SOURCE__LOCATION_SOURCE_NETWORK;
}

#ifdef TEST_ASAN
/* Under AddressSanitizer: the peak of bytes allocated, at every malloc. */
static volatile int	 measuring;
static size_t		 peak_bytes;

static void
on_malloc(const volatile void *p, size_t n)
{
	size_t	 cur;

	(void)p;
	(void)n;
	if (measuring && (cur = __sanitizer_get_current_allocated_bytes()) >
	    peak_bytes)
		peak_bytes = cur;
}

static void
on_free(const volatile void *p)
{
	(void)p;
}

/* Peak growth of the heap while packing; the parts in *pk. */
static size_t
pack_measured(const struct hi1_task *t, const struct spec *specs,
    struct ldpack **pk, char *why)
{
	size_t	 base;

	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
	base = peak_bytes = __sanitizer_get_current_allocated_bytes();
	measuring = 1;
	*pk = pack(t, specs, 0, "MXC-20261120-00000047.1.d", why);
	measuring = 0;
	return peak_bytes - base;
}
#else
static size_t
status_kib(const char *field)
{
	char	 line[256];
	size_t	 v = 0, n = strlen(field);
	FILE	*f;

	assert_non_null(f = fopen("/proc/self/status", "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0)
			v = strtoull(line + n, NULL, 10);
	fclose(f);
	return v;
}

/*
 * Without sanitizers: packed in a child whose peak RSS (VmHWM, reset
 * first) is compared with its RSS before; the parent packs again for the
 * parts (packing is deterministic but for GeneratedAt).
 */
static size_t
pack_measured(const struct hi1_task *t, const struct spec *specs,
    struct ldpack **pk, char *why)
{
	size_t	 growth = 0;
	pid_t	 pid;
	int	 fds[2], st, fd;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct ldpack	*c;
		size_t		 before;

		if ((fd = open("/proc/self/clear_refs", O_WRONLY)) != -1) {
			(void)write(fd, "5", 1);
			close(fd);
		}
		before = status_kib("VmRSS:");
		c = pack(t, specs, 0, "MXC-20261120-00000047.1.c", why);
		growth = (status_kib("VmHWM:") - before) * 1024;
		if (c == NULL)
			growth = SIZE_MAX;
		(void)write(fds[1], &growth, sizeof(growth));
		_exit(0);
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], &growth, sizeof(growth)),
	    sizeof(growth));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_not_equal(growth, SIZE_MAX);
	*pk = pack(t, specs, 0, "MXC-20261120-00000047.1.d", why);
	return growth;
}
#endif

static double
cpu_s(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	    (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

static void
test_million_records(void **state)
{
	const size_t		 n = 1000000;
	const struct spec	 specs[] = {
		{ "MXC-20261120-00000047.1.0", gen_compact, 1000000, 0, NULL },
	};
	struct hi1_task		 t = task(WD_REQ_LOCATION_HIST, 1);
	struct ldpack		*pk;
	char			 why[LDPACK_WHY_MAX], *xml;
	size_t			 len, growth, count, k, bytes = 0;
	uint64_t		 records = 0;
	struct rusage		 ru;
	double			 cpu0, cpu;
	uint8_t			 md[32];
	xmlDocPtr		 doc;

	(void)state;
	put_records(specs[0].name, gen_compact, n, 500, n);
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	cpu0 = cpu_s(&ru);
	growth = pack_measured(&t, specs, &pk, why);
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	cpu = cpu_s(&ru) - cpu0;
	if (pk == NULL)
		fail_msg("%s", why);
	/* One part and one chunk, about 2 MiB: 16 MiB is loose, and far
	   below the ~250 MiB of XML (or even the stored result) whole.
	   The time is information, never a condition. */
	fprintf(stderr, "# 1,000,000 records: %zu parts, peak growth %.2f MiB "
	    "(packed in %.1f s of CPU)\n", pk->nparts,
	    (double)growth / 1048576, cpu);
	assert_true(growth < 16 * 1024 * 1024);
	assert_int_equal(pk->records, n);
	for (size_t i = 0; i < pk->nparts; i++) {
		xml = read_stored(pk->parts[i].name, &len);
		assert_int_equal(len, pk->parts[i].size);
		assert_true(len <= LDPACK_PART_DEFAULT);
		assert_int_equal(EVP_Digest(xml, len, md, NULL, EVP_sha256(),
		    NULL), 1);
		assert_memory_equal(md, pk->parts[i].sha256, 32);
		/* Not strstr: under ASan each call measures the whole rest. */
		for (count = 0, k = 0; k + 8 <= len; k++)
			count += xml[k] == '<' &&
			    memcmp(xml + k, "<Record>", 8) == 0;
		assert_int_equal(count, pk->parts[i].records);
		/* Full parts: cut within a record of the bound. */
		if (i + 1 < pk->nparts)
			assert_true(len + 1024 > LDPACK_PART_DEFAULT);
		if (i == 0 || i + 1 == pk->nparts) {
			doc = xmltest_valid(xml, len, result_xsd, "million");
			xmlFreeDoc(doc);
		}
		records += pk->parts[i].records;
		bytes += len;
		free(xml);
	}
	assert_int_equal(records, n);
	fprintf(stderr, "# %.1f MiB of documents\n", (double)bytes / 1048576);
	ldpack_free(pk);
}

/* ------------------------------------------------------------------------ */

static void
write_key(const char *path)
{
	uint8_t	 key[32];
	int	 fd;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x11 + i * 7);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
	assert_int_equal(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
}

static int
setup(void **state)
{
	char	 key[PATH_MAX];

	(void)state;
	xmlInitParser();
	result_xsd = xmltest_compile("ld-result.xsd");
	manifest_xsd = xmltest_compile("ld-manifest.xsd");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ldpack.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(key, sizeof(key), "%s/key", tmpdir);
	write_key(key);
	return (store = results_open(tmpdir, key, 3600)) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	results_close(store);
	xmlSchemaFree(result_xsd);
	xmlSchemaFree(manifest_xsd);
	xmlCleanupParser();
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_in_parts),
		cmocka_unit_test(test_locations_in_parts),
		cmocka_unit_test(test_small_answers),
		cmocka_unit_test(test_hostile_records),
		cmocka_unit_test(test_failures_leave_nothing),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_docs_example),
		cmocka_unit_test(test_million_records),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
