/*
 * hi1_delivery — results inside HI-1 answers (see include/hi1_delivery.h):
 * the result documents (urn:warrantd:mx:ld-result:1, ld-result.xsd) built
 * from the back end's decoded answers, and the accepted answer whose
 * disclosed tasks carry a delivery:DeliveryObject (mx-delivery.xsd).
 *
 * The back end's answer is untrusted, like anything from the network: a
 * string may hold invalid UTF-8, characters XML cannot carry, markup, or
 * megabytes. Result documents are therefore written with libxml2's text
 * writer (it escapes markup), every string first made valid one-line UTF-8
 * and bounded here, and every identifier checked against its format; what
 * had to be changed or left out is named in a Remark (the field, never the
 * value), so that the authority knows the document is not the raw record.
 *
 * Records (historical location, communication records) are written one at
 * a time into a document that must stay under a bound (hi1_records_*): the
 * writer's output lands in a buffer of ours, so that a record that would
 * take the document over the bound is cut off again and goes to the next
 * part (src/warrantd/ldpack.c).
 *
 * The document travels as base64 (BinaryData) with its SHA-256, not as
 * XMLData: XMLData's xs:any is strict, and an official ETSI validator does
 * not know our result schema.
 */
#include "config.h"

#include <arpa/inet.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <openssl/evp.h>

#include "hi1.h"
#include "hi1_delivery.h"
#include "hi1_out.h"
#include "log.h"
#include "wd_utf8.h"

#define NS_DELIVERY	"http://uri.etsi.org/03120/common/2019/10/Delivery"

#define RES_TEXT_MAX	255		/* characters of ld-result.xsd's Text */
#define RES_BUF		(4 * RES_TEXT_MAX + 1)
#define RES_MAX_REMARKS	64		/* ld-result.xsd's Remarks */
#define RES_FIELD_LEN	80
#define RES_TIME_MAX	253402300799999999LL	/* 9999-12-31T23:59:59.999999Z */
#define RES_LAC_MAX	16777215U	/* 24-bit TAC */
#define RES_CI_MAX	68719476735ULL	/* 36-bit NR cell identity */
#define RES_STATES	32

enum res_issue { RES_OMITTED, RES_TRUNCATED, RES_REPAIRED };

static const char *res_issue_names[] = { "Omitted", "Truncated", "Repaired" };

/* LocationSource, by the protocol's numbers. */
static const char *const res_sources[] = { NULL, "Network", "GNSS" };
#define RES_NSOURCES	(sizeof(res_sources) / sizeof(res_sources[0]))

/* A result document being written; any writer error sets failed. */
struct res_writer {
	xmlBufferPtr		 buf;
	xmlTextWriterPtr	 w;
	int			 failed;
	char			 field[RES_MAX_REMARKS][RES_FIELD_LEN];
	enum res_issue		 issue[RES_MAX_REMARKS];
	size_t			 nremarks;
};

/* INEGI codes 1-32, in order. */
static const char *res_state_names[RES_STATES] = {
	"Aguascalientes", "Baja California", "Baja California Sur", "Campeche",
	"Coahuila de Zaragoza", "Colima", "Chiapas", "Chihuahua",
	"Ciudad de México", "Durango", "Guanajuato", "Guerrero", "Hidalgo",
	"Jalisco", "México", "Michoacán de Ocampo", "Morelos", "Nayarit",
	"Nuevo León", "Oaxaca", "Puebla", "Querétaro", "Quintana Roo",
	"San Luis Potosí", "Sinaloa", "Sonora", "Tabasco", "Tamaulipas",
	"Tlaxcala", "Veracruz de Ignacio de la Llave", "Yucatán", "Zacatecas"
};

/* ------------------------------------------------------------------------ */
/* formats of what the back end sends                                        */

static int
res_digits(const char *s, const char *prefix, size_t len)
{
	size_t	 plen = strlen(prefix);

	if (strnlen(s, len + 1) != len || strncmp(s, prefix, plen) != 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int res_msisdn_ok(const char *s) { return res_digits(s, "52", 12); }
static int res_imsi_ok(const char *s) { return res_digits(s, "334", 15); }
static int res_imei_ok(const char *s) { return res_digits(s, "", 15); }
static int res_postal_ok(const char *s) { return res_digits(s, "", 5); }
static int res_mcc_ok(const char *s) { return res_digits(s, "", 3); }

static int
res_mnc_ok(const char *s)
{
	return res_digits(s, "", 2) || res_digits(s, "", 3);
}

static int
res_class(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

#define RES_UPPER	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define RES_DIGIT	"0123456789"

/* [A-Z]{4}[0-9]{6}[HMX][A-Z]{5}[0-9A-Z][0-9] */
static int
res_curp_ok(const char *s)
{
	static const char	*pat[18] = { RES_UPPER, RES_UPPER, RES_UPPER,
	    RES_UPPER, RES_DIGIT, RES_DIGIT, RES_DIGIT, RES_DIGIT, RES_DIGIT,
	    RES_DIGIT, "HMX", RES_UPPER, RES_UPPER, RES_UPPER, RES_UPPER,
	    RES_UPPER, RES_UPPER RES_DIGIT, RES_DIGIT };

	if (strnlen(s, 19) != 18)
		return 0;
	for (size_t i = 0; i < 18; i++)
		if (!res_class(s[i], pat[i]))
			return 0;
	return 1;
}

/* [A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}: Ñ is two bytes in UTF-8. */
static int
res_rfc_ok(const char *s)
{
	size_t	 i = 0, letters = 0, k;

	if (strnlen(s, 20) > 16)
		return 0;
	while (letters < 4) {
		if (res_class(s[i], RES_UPPER "&"))
			i++;
		else if ((unsigned char)s[i] == 0xc3 &&
		    (unsigned char)s[i + 1] == 0x91)
			i += 2;
		else
			break;
		letters++;
	}
	if (letters < 3)
		return 0;
	for (k = 0; k < 6; k++, i++)
		if (!res_class(s[i], RES_DIGIT))
			return 0;
	for (k = 0; k < 3; k++, i++)
		if (!res_class(s[i], RES_UPPER RES_DIGIT))
			return 0;
	return s[i] == '\0';
}

/* YYYY-MM-DD, a real day of year 0001 or later (xs:date). */
static int
res_date_ok(const char *s)
{
	char	 t[32];
	int64_t	 us;

	if (strnlen(s, 11) != 10 || s[4] != '-' || s[7] != '-' ||
	    strncmp(s, "0000", 4) == 0)
		return 0;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	snprintf(t, sizeof(t), "%sT00:00:00Z", s);
	return wd_time_parse(t, &us) == 0;
}

/* MX-[A-Z0-9]+(-[A-Za-z0-9]+)+, at most 64 characters (etsi:LDID). */
static int
res_ldid_ok(const char *s)
{
	size_t	 n = strnlen(s, 65), i, seg = 0, segs = 0;

	if (n > 64 || strncmp(s, "MX-", 3) != 0)
		return 0;
	for (i = 3; i <= n; i++) {
		if (i == n || s[i] == '-') {
			if (seg == 0)
				return 0;
			segs++;
			seg = 0;
		} else if (res_class(s[i], RES_UPPER RES_DIGIT) ||
		    (segs > 0 && s[i] >= 'a' && s[i] <= 'z'))
			seg++;
		else
			return 0;
	}
	return segs >= 2;
}

/* The carrier reference: 1-128 printable ASCII, no surrounding blanks. */
static int
res_carrier_ref_ok(const char *s)
{
	if (s == NULL || !hi1_ref_ok(s))
		return 0;
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* ------------------------------------------------------------------------ */
/* the writer                                                                */

static void
res_remark(struct res_writer *rw, const char *field, enum res_issue issue)
{
	for (size_t i = 0; i < rw->nremarks; i++)
		if (rw->issue[i] == issue && strcmp(rw->field[i], field) == 0)
			return;
	if (rw->nremarks == RES_MAX_REMARKS)
		return;
	snprintf(rw->field[rw->nremarks], RES_FIELD_LEN, "%s", field);
	rw->issue[rw->nremarks++] = issue;
}

static void
res_rc(struct res_writer *rw, int rc)
{
	if (rc < 0)
		rw->failed = 1;
}

static void
res_start(struct res_writer *rw, const char *name)
{
	if (!rw->failed)
		res_rc(rw, xmlTextWriterStartElement(rw->w, BAD_CAST name));
}

static void
res_end(struct res_writer *rw)
{
	if (!rw->failed)
		res_rc(rw, xmlTextWriterEndElement(rw->w));
}

/* name with text, which is valid UTF-8 here; nothing if text is NULL/"". */
static void
res_elem(struct res_writer *rw, const char *name, const char *text)
{
	if (!rw->failed && text != NULL && text[0] != '\0')
		res_rc(rw, xmlTextWriterWriteElement(rw->w, BAD_CAST name,
		    BAD_CAST text));
}

static void
res_uint(struct res_writer *rw, const char *name, unsigned long long v)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%llu", v);
	res_elem(rw, name, num);
}

static int
res_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Untrusted text made fit for a Text element, into out (RES_BUF bytes):
 * invalid UTF-8 and characters XML cannot carry become U+FFFD (Repaired),
 * tabs and line breaks spaces, surrounding blanks go, and it is cut after
 * max characters (Truncated). Returns out, "" when nothing is left. Work is
 * bounded by max, whatever the input's length.
 */
static const char *
res_clean(struct res_writer *rw, const char *field, const char *in,
    size_t max, char *out)
{
	const unsigned char	*s = (const unsigned char *)(in ? in : "");
	const unsigned char	*src;
	size_t			 i = 0, o = 0, n, chars = 0, keep = 0;

	while (res_blank(s[i]))
		i++;
	for (; s[i] != '\0'; chars++) {
		if (chars == max) {
			while (res_blank(s[i]))
				i++;
			if (s[i] != '\0')
				res_remark(rw, field, RES_TRUNCATED);
			break;
		}
		n = wd_utf8_xml_char(s + i);
		src = s + i;
		if (n == 0 || (n == 1 && s[i] < 0x20 && !res_blank(s[i]))) {
			res_remark(rw, field, RES_REPAIRED);
			src = (const unsigned char *)"\xef\xbf\xbd";
			i++;
			n = 3;
		} else if (res_blank(s[i])) {
			src = (const unsigned char *)" ";
			i++;
		} else
			i += n;
		memcpy(out + o, src, n);	/* o + n <= 4 * max */
		o += n;
		if (out[o - 1] != ' ')
			keep = o;
	}
	out[keep] = '\0';
	return out;
}

/* A checked identifier, or NULL (absent, or malformed: Omitted). */
static const char *
res_ident(struct res_writer *rw, const char *field, const char *in,
    int (*ok)(const char *))
{
	if (in == NULL || in[0] == '\0')
		return NULL;
	if (!ok(in)) {
		res_remark(rw, field, RES_OMITTED);
		return NULL;
	}
	return in;
}

/* An instant, written if set (non-zero) and writable (else Omitted). */
static void
res_time(struct res_writer *rw, const char *name, const char *field,
    int64_t us)
{
	char	 ts[40];

	if (us == 0)
		return;
	if (us < 0 || us > RES_TIME_MAX) {
		res_remark(rw, field, RES_OMITTED);
		return;
	}
	wd_time_format(us, ts, sizeof(ts));
	res_elem(rw, name, ts);
}

/*
 * Degrees with six decimals, without printf's %f: its decimal point
 * follows the locale, and the document's must not.
 */
static int
res_coord(double v, double limit, char *buf, size_t len)
{
	long long	 micro;
	unsigned long long a;

	if (!isfinite(v) || v > limit || v < -limit)
		return -1;
	/* Rounded half away from zero; |v| <= 180 keeps it exact enough. */
	micro = (long long)(v * 1e6 + (v < 0 ? -0.5 : 0.5));
	a = micro < 0 ? (unsigned long long)-micro : (unsigned long long)micro;
	snprintf(buf, len, "%s%llu.%06llu", micro < 0 ? "-" : "", a / 1000000,
	    a % 1000000);
	return 0;
}

/*
 * A position; (0, 0) is proto3's "not set" (and in the Gulf of Guinea, far
 * from any Mexican cell). Returns 1 if written.
 */
static int
res_position(struct res_writer *rw, const char *name, const char *field,
    double lat, double lon, unsigned accuracy_m)
{
	char	 la[32], lo[32];

	if (lat == 0.0 && lon == 0.0)
		return 0;
	if (res_coord(lat, 90.0, la, sizeof(la)) == -1 ||
	    res_coord(lon, 180.0, lo, sizeof(lo)) == -1) {
		res_remark(rw, field, RES_OMITTED);
		return 0;
	}
	res_start(rw, name);
	res_elem(rw, "Latitude", la);
	res_elem(rw, "Longitude", lo);
	if (accuracy_m > 0)
		res_uint(rw, "AccuracyMetres", accuracy_m);
	res_end(rw);
	return 1;
}

/* An enumeration by its names: nothing for 0 (unset), Omitted if unknown. */
static void
res_enum(struct res_writer *rw, const char *name, const char *field,
    const char *const *names, size_t n, int v)
{
	if (v >= 0 && (size_t)v < n)
		res_elem(rw, name, names[v]);
	else
		res_remark(rw, field, RES_OMITTED);
}

static void
res_cell(struct res_writer *rw, const char *name, const char *field,
    const Warrant__Backend__Cell *c)
{
	static const char	*rats[] = { NULL, "GSM", "UMTS", "LTE", "NR" };
	char			 sub[RES_FIELD_LEN];

	if (c == NULL || ((c->mcc == NULL || c->mcc[0] == '\0') &&
	    (c->mnc == NULL || c->mnc[0] == '\0') && c->lac == 0 && c->ci == 0))
		return;
	if (c->mcc == NULL || c->mnc == NULL || !res_mcc_ok(c->mcc) ||
	    !res_mnc_ok(c->mnc) || c->lac > RES_LAC_MAX || c->ci > RES_CI_MAX) {
		res_remark(rw, field, RES_OMITTED);
		return;
	}
	res_start(rw, name);
	res_elem(rw, "MCC", c->mcc);
	res_elem(rw, "MNC", c->mnc);
	res_uint(rw, "LAC", c->lac);
	res_uint(rw, "CellIdentity", c->ci);
	if ((unsigned)c->rat < sizeof(rats) / sizeof(rats[0]))
		res_elem(rw, "RadioAccess", rats[c->rat]);
	else {
		snprintf(sub, sizeof(sub), "%s/RadioAccess", field);
		res_remark(rw, sub, RES_OMITTED);
	}
	snprintf(sub, sizeof(sub), "%s/SitePosition", field);
	/* An azimuth of 0 is north, and also "not set": only with a site. */
	if (res_position(rw, "SitePosition", sub, c->latitude, c->longitude, 0)) {
		if (c->azimuth_deg <= 359)
			res_uint(rw, "Azimuth", c->azimuth_deg);
		else {
			snprintf(sub, sizeof(sub), "%s/Azimuth", field);
			res_remark(rw, sub, RES_OMITTED);
		}
	}
	res_end(rw);
}

/* ------------------------------------------------------------------------ */
/* documents                                                                 */

static int
res_type_ok(const struct hi1_task *t)
{
	return t->type == WD_REQ_SUBSCRIBER || t->type == WD_REQ_LOCATION_RT ||
	    t->type == WD_REQ_LOCATION_HIST || t->type == WD_REQ_RECORDS;
}

int
hi1_result_task_ok(const char *carrier_ref, const struct hi1_task *t)
{
	return t != NULL && res_type_ok(t) && res_ldid_ok(t->reference) &&
	    res_carrier_ref_ok(carrier_ref);
}

/* The task and carrier reference a result document can name; logged if not. */
static int
res_args_ok(const char *carrier_ref, const struct hi1_task *t, const char *fn)
{
	if (!hi1_result_task_ok(carrier_ref, t)) {
		log_warnx("%s: not a disclosing LD task with an LDID, or the "
		    "carrier reference is not 1-128 printable characters", fn);
		return 0;
	}
	return 1;
}

/* XML declaration and the LDResult header, into rw's writer. */
static void
res_header(struct res_writer *rw, const char *carrier_ref,
    const struct hi1_task *t)
{
	struct timespec	 now;
	char		 ts[40];

	clock_gettime(CLOCK_REALTIME, &now);
	wd_time_format((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
	    ts, sizeof(ts));
	res_rc(rw, xmlTextWriterSetIndent(rw->w, 1));
	res_rc(rw, xmlTextWriterSetIndentString(rw->w, BAD_CAST "  "));
	res_rc(rw, xmlTextWriterStartDocument(rw->w, NULL, "UTF-8", NULL));
	if (!rw->failed)
		res_rc(rw, xmlTextWriterStartElementNS(rw->w, NULL,
		    BAD_CAST "LDResult", BAD_CAST HI1_RESULT_NS));
	res_elem(rw, "CarrierReference", carrier_ref);
	res_elem(rw, "TaskReference", t->reference);
	res_elem(rw, "RequestType", wd_reqtype_name(t->type));
	res_elem(rw, "GeneratedAt", ts);
}

/* Writer, XML declaration and the LDResult header; -1 if unusable. */
static int
res_begin(struct res_writer *rw, const char *carrier_ref,
    const struct hi1_task *t, const char *fn)
{
	memset(rw, 0, sizeof(*rw));
	if (!res_args_ok(carrier_ref, t, fn))
		return -1;
	if ((rw->buf = xmlBufferCreate()) == NULL ||
	    (rw->w = xmlNewTextWriterMemory(rw->buf, 0)) == NULL) {
		xmlBufferFree(rw->buf);
		log_warnx("%s: out of memory", fn);
		return -1;
	}
	res_header(rw, carrier_ref, t);
	return 0;
}

/* Remarks and the end of the document (the writer is then flushed). */
static void
res_tail(struct res_writer *rw)
{
	if (rw->nremarks > 0) {
		res_start(rw, "Remarks");
		for (size_t i = 0; i < rw->nremarks; i++) {
			res_start(rw, "Remark");
			res_elem(rw, "Field", rw->field[i]);
			res_elem(rw, "Issue", res_issue_names[rw->issue[i]]);
			res_end(rw);
		}
		res_end(rw);
	}
	if (!rw->failed)
		res_rc(rw, xmlTextWriterEndDocument(rw->w));
}

/* Remarks, end of document, and a malloc'd copy of it; NULL if it failed. */
static char *
res_finish(struct res_writer *rw, size_t *len, const char *fn)
{
	char	*out = NULL;
	int	 n;

	res_tail(rw);
	xmlFreeTextWriter(rw->w);	/* flushes into buf */
	n = xmlBufferLength(rw->buf);
	if (!rw->failed && n > 0 && (size_t)n <= HI1_RESULT_MAX &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, xmlBufferContent(rw->buf), (size_t)n);
		out[n] = '\0';
		if (len != NULL)
			*len = (size_t)n;
	}
	xmlBufferFree(rw->buf);
	if (out == NULL)
		log_warnx("%s: cannot build the result document", fn);
	return out;
}

static void
res_name(struct res_writer *rw, const Warrant__Backend__Subscriber *s)
{
	char	 g[RES_BUF], f[RES_BUF], m[RES_BUF];

	res_clean(rw, "Subscriber/Name/GivenNames", s->given_names,
	    RES_TEXT_MAX, g);
	res_clean(rw, "Subscriber/Name/FirstSurname", s->first_surname,
	    RES_TEXT_MAX, f);
	res_clean(rw, "Subscriber/Name/SecondSurname", s->second_surname,
	    RES_TEXT_MAX, m);
	if (g[0] == '\0' && f[0] == '\0' && m[0] == '\0')
		return;
	res_start(rw, "Name");
	res_elem(rw, "GivenNames", g);
	res_elem(rw, "FirstSurname", f);
	res_elem(rw, "SecondSurname", m);
	res_end(rw);
}

static void
res_address(struct res_writer *rw, const Warrant__Backend__Address *a)
{
	static const char	*names[5] = { "Street", "ExteriorNumber",
	    "InteriorNumber", "Neighbourhood", "Municipality" };
	const char		*in[5], *postal;
	char			 text[5][RES_BUF], field[RES_FIELD_LEN], code[4];
	int			 any = 0, state = 0;

	if (a == NULL)
		return;
	in[0] = a->street;
	in[1] = a->exterior_number;
	in[2] = a->interior_number;
	in[3] = a->colonia;
	in[4] = a->municipality;
	for (int i = 0; i < 5; i++) {
		snprintf(field, sizeof(field), "Subscriber/Address/%s", names[i]);
		any |= res_clean(rw, field, in[i], RES_TEXT_MAX, text[i])[0] != '\0';
	}
	if (a->state >= 1 && a->state <= RES_STATES)
		state = (int)a->state;
	else if (a->state != 0)
		res_remark(rw, "Subscriber/Address/State", RES_OMITTED);
	postal = res_ident(rw, "Subscriber/Address/PostalCode", a->postal_code,
	    res_postal_ok);
	if (!any && state == 0 && postal == NULL)
		return;
	res_start(rw, "Address");
	for (int i = 0; i < 5; i++)
		res_elem(rw, names[i], text[i]);
	if (state != 0) {
		snprintf(code, sizeof(code), "%02d", state);
		res_start(rw, "State");
		res_elem(rw, "Code", code);
		res_elem(rw, "Name", res_state_names[state - 1]);
		res_end(rw);
	}
	res_elem(rw, "PostalCode", postal);
	res_end(rw);
}

char *
hi1_result_subscriber(const char *carrier_ref, const struct hi1_task *t,
    const Warrant__Backend__Subscriber *s, size_t *len)
{
	static const char *const contracts[] = { NULL, "Prepaid", "Postpaid",
	    "Corporate" };
	struct res_writer	 rw;

	if (s == NULL || t == NULL || t->type != WD_REQ_SUBSCRIBER) {
		log_warnx("%s: no answer, or not a SubscriberIdentity task",
		    __func__);
		return NULL;
	}
	if (res_begin(&rw, carrier_ref, t, __func__) == -1)
		return NULL;
	res_start(&rw, "Subscriber");
	res_name(&rw, s);
	res_elem(&rw, "CURP", res_ident(&rw, "Subscriber/CURP", s->curp,
	    res_curp_ok));
	res_elem(&rw, "RFC", res_ident(&rw, "Subscriber/RFC", s->rfc,
	    res_rfc_ok));
	res_address(&rw, s->address);
	res_elem(&rw, "MSISDN", res_ident(&rw, "Subscriber/MSISDN", s->msisdn,
	    res_msisdn_ok));
	res_elem(&rw, "IMSI", res_ident(&rw, "Subscriber/IMSI", s->imsi,
	    res_imsi_ok));
	res_elem(&rw, "IMEI", res_ident(&rw, "Subscriber/IMEI", s->imei,
	    res_imei_ok));
	res_enum(&rw, "Contract", "Subscriber/Contract", contracts,
	    sizeof(contracts) / sizeof(contracts[0]), s->contract);
	res_elem(&rw, "ActivationDate", res_ident(&rw,
	    "Subscriber/ActivationDate", s->activation_date, res_date_ok));
	res_time(&rw, "ActivationTime", "Subscriber/ActivationTime",
	    s->activation_us);
	res_end(&rw);
	return res_finish(&rw, len, __func__);
}

char *
hi1_result_location(const char *carrier_ref, const struct hi1_task *t,
    const Warrant__Backend__Location *l, size_t *len)
{
	struct res_writer	 rw;

	if (l == NULL || t == NULL || t->type != WD_REQ_LOCATION_RT) {
		log_warnx("%s: no answer, or not a RealTimeLocation task",
		    __func__);
		return NULL;
	}
	if (res_begin(&rw, carrier_ref, t, __func__) == -1)
		return NULL;
	res_start(&rw, "Location");
	res_cell(&rw, "ServingCell", "Location/ServingCell", l->cell);
	res_position(&rw, "Position", "Location/Position", l->latitude,
	    l->longitude, l->accuracy_m);
	res_time(&rw, "FixTime", "Location/FixTime", l->fix_us);
	res_uint(&rw, "AgeSeconds", l->age_s);
	res_enum(&rw, "Source", "Location/Source", res_sources, RES_NSOURCES,
	    l->source);
	res_end(&rw);
	return res_finish(&rw, len, __func__);
}

char *
hi1_result_none(const char *carrier_ref, const struct hi1_task *t,
    enum hi1_result_reason reason, size_t *len)
{
	static const char	*reasons[] = { "NotFound", "NotRetained",
	    "OutsideRetention" };
	struct res_writer	 rw;

	if ((unsigned)reason >= sizeof(reasons) / sizeof(reasons[0])) {
		log_warnx("%s: unknown reason %d", __func__, (int)reason);
		return NULL;
	}
	if (res_begin(&rw, carrier_ref, t, __func__) == -1)
		return NULL;
	res_start(&rw, "NoResult");
	res_elem(&rw, "Reason", reasons[reason]);
	res_end(&rw);
	return res_finish(&rw, len, __func__);
}

/* ------------------------------------------------------------------------ */
/* records documents, one record at a time (results delivered in parts)      */

#define RES_PARTY_MAX	64		/* characters of ld-result.xsd's Party */
#define RES_IP_MAX	45		/* ld-result.xsd's IPAddress */
#define RES_PORT_MAX	65535U
#define RES_SLACK	(64 * 1024)	/* over the bound: one record being tried */
#define RES_LREC	"LocationRecords/Record/"
#define RES_CREC	"CommunicationRecords/Record/"
#define RES_DATA	RES_CREC "DataSession/"
#define RES_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const res_services[] = { NULL, "Voice", "SMS", "Data" };
static const char *const res_directions[] = { NULL, "Originating",
    "Terminating" };

/* The document's bytes: the writer's output lands here, and can be cut. */
struct res_bytes {
	char	*p;
	size_t	 len, cap;
	size_t	 limit;		/* capacity the doubling stops at */
};

struct hi1_records {
	struct res_writer	 rw;		/* rw.buf unused: output in out */
	struct res_bytes	 out;
	size_t			 max;		/* bytes of the finished document */
	const char		*container;	/* LocationRecords, CommunicationRecords */
	Warrant__Backend__Record__KindCase kind;
	char			 omitted_field[RES_FIELD_LEN];	/* <container>/Record */
	uint64_t		 written, omitted;
};

/* An address as the protocol writes it: dotted quad, or lowercase IPv6. */
static int
res_ip_ok(const char *s)
{
	unsigned char	 bin[16];
	size_t		 n = strnlen(s, RES_IP_MAX + 1);

	if (n == 0 || n > RES_IP_MAX)
		return 0;
	if (inet_pton(AF_INET, s, bin) == 1)
		return 1;
	return strspn(s, "0123456789abcdef:.") == n &&
	    inet_pton(AF_INET6, s, bin) == 1;
}

static int
res_when_ok(int64_t us)
{
	return us > 0 && us <= RES_TIME_MAX;
}

/* A port of a CGNAT block: absent if 0 (unset), Omitted if over 65535. */
static void
res_port(struct res_writer *rw, const char *name, const char *field,
    uint32_t v)
{
	if (v > RES_PORT_MAX)
		res_remark(rw, field, RES_OMITTED);
	else if (v > 0)
		res_uint(rw, name, v);
}

/* Its required elements (Time; Service and StartTime) can be written. */
static int
res_record_ok(const Warrant__Backend__Record *r)
{
	const Warrant__Backend__CommRecord	*c = r->comm;

	if (r->kind_case == WARRANT__BACKEND__RECORD__KIND_LOCATION)
		return r->location != NULL && res_when_ok(r->location->time_us);
	return c != NULL && c->service > 0 &&
	    (size_t)c->service < RES_NELEM(res_services) &&
	    res_when_ok(c->start_us);
}

static void
res_location_record(struct res_writer *rw,
    const Warrant__Backend__LocationRecord *l)
{
	res_start(rw, "Record");
	res_time(rw, "Time", RES_LREC "Time", l->time_us);
	res_cell(rw, "Cell", RES_LREC "Cell", l->cell);
	res_position(rw, "Position", RES_LREC "Position", l->latitude,
	    l->longitude, l->accuracy_m);
	res_enum(rw, "Source", RES_LREC "Source", res_sources, RES_NSOURCES,
	    l->source);
	res_elem(rw, "IMSI", res_ident(rw, RES_LREC "IMSI", l->imsi,
	    res_imsi_ok));
	res_elem(rw, "IMEI", res_ident(rw, RES_LREC "IMEI", l->imei,
	    res_imei_ok));
	res_end(rw);
}

/*
 * A data session's addresses, port block and volume: written for a Data
 * record, or any record that carries one of them. The volume is written as
 * given (0 is a plausible count; proto3 cannot tell it from "unset").
 */
static void
res_data_session(struct res_writer *rw, const Warrant__Backend__CommRecord *c)
{
	if (c->service != WARRANT__BACKEND__SERVICE_TYPE__SERVICE_DATA &&
	    (c->private_ip == NULL || c->private_ip[0] == '\0') &&
	    (c->public_ip == NULL || c->public_ip[0] == '\0') &&
	    c->public_port_first == 0 && c->public_port_last == 0 &&
	    c->bytes_up == 0 && c->bytes_down == 0)
		return;
	res_start(rw, "DataSession");
	res_elem(rw, "PrivateIP", res_ident(rw, RES_DATA "PrivateIP",
	    c->private_ip, res_ip_ok));
	res_elem(rw, "PublicIP", res_ident(rw, RES_DATA "PublicIP",
	    c->public_ip, res_ip_ok));
	res_port(rw, "PublicPortFirst", RES_DATA "PublicPortFirst",
	    c->public_port_first);
	res_port(rw, "PublicPortLast", RES_DATA "PublicPortLast",
	    c->public_port_last);
	res_uint(rw, "BytesUp", c->bytes_up);
	res_uint(rw, "BytesDown", c->bytes_down);
	res_end(rw);
}

static void
res_comm_record(struct res_writer *rw, const Warrant__Backend__CommRecord *c)
{
	char	 a[RES_BUF], b[RES_BUF];

	res_start(rw, "Record");
	res_elem(rw, "Service", res_services[c->service]);
	res_enum(rw, "Direction", RES_CREC "Direction", res_directions,
	    RES_NELEM(res_directions), c->direction);
	res_elem(rw, "CallingParty", res_clean(rw, RES_CREC "CallingParty",
	    c->a_party, RES_PARTY_MAX, a));
	res_elem(rw, "CalledParty", res_clean(rw, RES_CREC "CalledParty",
	    c->b_party, RES_PARTY_MAX, b));
	res_time(rw, "StartTime", RES_CREC "StartTime", c->start_us);
	res_uint(rw, "DurationSeconds", c->duration_s);
	res_elem(rw, "IMSI", res_ident(rw, RES_CREC "IMSI", c->imsi,
	    res_imsi_ok));
	res_elem(rw, "IMEI", res_ident(rw, RES_CREC "IMEI", c->imei,
	    res_imei_ok));
	res_cell(rw, "StartCell", RES_CREC "StartCell", c->cell_start);
	res_cell(rw, "EndCell", RES_CREC "EndCell", c->cell_end);
	res_data_session(rw, c);
	res_end(rw);
}

/* xmlOutputBuffer's write callback: append to the document's bytes. */
static int
res_bytes_write(void *ctx, const char *data, int n)
{
	struct res_bytes	*b = ctx;
	size_t			 need, ncap;
	char			*p;

	if (n <= 0)
		return n;
	need = b->len + (size_t)n + 1;		/* and the final NUL */
	if (need > b->cap) {
		ncap = b->cap > 0 ? b->cap : 16384;
		while (ncap < need)
			ncap *= 2;
		if (ncap > b->limit && need <= b->limit)
			ncap = b->limit;
		if ((p = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = p;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, (size_t)n);
	b->len += (size_t)n;
	return n;
}

/* Everything the writer holds, into out; -1 if the writer failed. */
static int
res_flush(struct hi1_records *h)
{
	if (!h->rw.failed && xmlTextWriterFlush(h->rw.w) < 0)
		h->rw.failed = 1;
	return h->rw.failed ? -1 : 0;
}

static size_t
res_remark_len(const char *field, enum res_issue issue)
{
	return sizeof("    <Remark>\n      <Field></Field>\n"
	    "      <Issue></Issue>\n    </Remark>\n") - 1 + strlen(field) +
	    strlen(res_issue_names[issue]);
}

/*
 * Bytes the document still needs once its last record is written: the
 * container's end tag, the Remarks and the document's end, exactly as the
 * writer indents them (tests/unit/test_ldpack.c checks parts cut at the
 * bound), with room for the omitted-record remark if it is not in yet, so
 * that an omitted record always fits.
 */
static size_t
res_tail_len(const struct hi1_records *h)
{
	const struct res_writer	*rw = &h->rw;
	size_t			 n, k, remarks = 0;
	int			 have = 0;

	n = sizeof("  </>\n</LDResult>\n") - 1 + strlen(h->container);
	for (k = 0; k < rw->nremarks; k++) {
		remarks += res_remark_len(rw->field[k], rw->issue[k]);
		have |= rw->issue[k] == RES_OMITTED &&
		    strcmp(rw->field[k], h->omitted_field) == 0;
	}
	if (!have && k < RES_MAX_REMARKS) {
		remarks += res_remark_len(h->omitted_field, RES_OMITTED);
		k++;
	}
	if (k > 0)
		remarks += sizeof("  <Remarks>\n  </Remarks>\n") - 1;
	return n + remarks;
}

struct hi1_records *
hi1_records_new(const char *carrier_ref, const struct hi1_task *t, size_t max,
    const char **why)
{
	struct hi1_records	*h;
	xmlOutputBufferPtr	 o;

	if (!hi1_result_task_ok(carrier_ref, t) ||
	    (t->type != WD_REQ_LOCATION_HIST && t->type != WD_REQ_RECORDS)) {
		*why = "not a HistoricalLocation or CommunicationRecords task "
		    "with an LDID, or a bad carrier reference";
		return NULL;
	}
	*why = "out of memory";
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->max = max;
	h->out.limit = max + RES_SLACK;
	if (t->type == WD_REQ_LOCATION_HIST) {
		h->container = "LocationRecords";
		h->kind = WARRANT__BACKEND__RECORD__KIND_LOCATION;
	} else {
		h->container = "CommunicationRecords";
		h->kind = WARRANT__BACKEND__RECORD__KIND_COMM;
	}
	snprintf(h->omitted_field, sizeof(h->omitted_field), "%s/Record",
	    h->container);
	if ((o = xmlOutputBufferCreateIO(res_bytes_write, NULL, &h->out,
	    NULL)) == NULL) {
		free(h);
		return NULL;
	}
	if ((h->rw.w = xmlNewTextWriter(o)) == NULL) {
		xmlOutputBufferClose(o);
		free(h);
		return NULL;
	}
	res_header(&h->rw, carrier_ref, t);
	if (res_flush(h) == -1) {
		hi1_records_free(h);
		return NULL;
	}
	return h;
}

int
hi1_records_add(struct hi1_records *h, const Warrant__Backend__Record *r,
    const char **why)
{
	struct res_writer	*rw = &h->rw;
	size_t			 mark = h->out.len, nremarks = rw->nremarks;
	int			 first = h->written == 0;

	*why = "out of memory";
	if (rw->failed)
		return -1;
	if (r == NULL || r->kind_case != h->kind) {
		*why = "a record of the wrong kind for the task";
		return -1;
	}
	if (!res_record_ok(r)) {
		res_remark(rw, h->omitted_field, RES_OMITTED);
		h->omitted++;
		return 1;
	}
	if (first)
		res_start(rw, h->container);
	if (h->kind == WARRANT__BACKEND__RECORD__KIND_LOCATION)
		res_location_record(rw, r->location);
	else
		res_comm_record(rw, r->comm);
	if (res_flush(h) == -1)
		return -1;
	if (h->out.len + res_tail_len(h) <= h->max) {
		h->written++;
		return 1;
	}
	if (first) {
		/* The container is open: nothing to go back to. */
		rw->failed = 1;
		*why = "one record does not fit in a document of the bound";
		return -1;
	}
	/* Back to the end of the previous record: the writer is there too. */
	h->out.len = mark;
	rw->nremarks = nremarks;
	return 0;
}

uint64_t
hi1_records_count(const struct hi1_records *h)
{
	return h->written;
}

uint64_t
hi1_records_omitted(const struct hi1_records *h)
{
	return h->omitted;
}

char *
hi1_records_finish(struct hi1_records *h, size_t *len, const char **why)
{
	struct res_writer	*rw = &h->rw;
	char			*doc = NULL;

	*why = "out of memory";
	if (h->written == 0) {
		res_start(rw, "NoResult");
		res_elem(rw, "Reason", "NotRetained");
	}
	res_end(rw);		/* the container, or NoResult */
	res_tail(rw);
	res_flush(h);
	xmlFreeTextWriter(rw->w);	/* closes the output buffer */
	rw->w = NULL;
	if (!rw->failed && (h->out.p == NULL || h->out.len > h->max)) {
		*why = "the document is over its bound";
		rw->failed = 1;
	}
	if (!rw->failed) {
		h->out.p[h->out.len] = '\0';	/* room kept by res_bytes_write */
		doc = h->out.p;
		*len = h->out.len;
		h->out.p = NULL;
	}
	hi1_records_free(h);
	return doc;
}

void
hi1_records_free(struct hi1_records *h)
{
	if (h == NULL)
		return;
	xmlFreeTextWriter(h->rw.w);	/* closes the output buffer */
	free(h->out.p);
	free(h);
}

