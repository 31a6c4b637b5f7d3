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
 * The document travels as base64 (BinaryData) with its SHA-256, not as
 * XMLData: XMLData's xs:any is strict, and an official ETSI validator does
 * not know our result schema.
 */
#include "config.h"

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
	return hi1_parse_time(t, &us) == 0;
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
		n = hi1_utf8_len(s + i);
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
	hi1_format_time(us, ts, sizeof(ts));
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

/* Writer, XML declaration and the LDResult header; -1 if unusable. */
static int
res_begin(struct res_writer *rw, const char *carrier_ref,
    const struct hi1_task *t, const char *fn)
{
	struct timespec	 now;
	char		 ts[40];

	memset(rw, 0, sizeof(*rw));
	if (t == NULL || !res_type_ok(t) || !res_ldid_ok(t->reference) ||
	    !res_carrier_ref_ok(carrier_ref)) {
		log_warnx("%s: not a disclosing LD task with an LDID, or the "
		    "carrier reference is not 1-128 printable characters", fn);
		return -1;
	}
	if ((rw->buf = xmlBufferCreate()) == NULL ||
	    (rw->w = xmlNewTextWriterMemory(rw->buf, 0)) == NULL) {
		xmlBufferFree(rw->buf);
		log_warnx("%s: out of memory", fn);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	hi1_format_time((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
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
	return 0;
}

/* Remarks, end of document, and a malloc'd copy of it; NULL if it failed. */
static char *
res_finish(struct res_writer *rw, size_t *len, const char *fn)
{
	char	*out = NULL;
	int	 n;

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
	static const char	*contracts[] = { NULL, "Prepaid", "Postpaid",
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
	if ((unsigned)s->contract < sizeof(contracts) / sizeof(contracts[0]))
		res_elem(&rw, "Contract", contracts[s->contract]);
	else
		res_remark(&rw, "Subscriber/Contract", RES_OMITTED);
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
	static const char	*sources[] = { NULL, "Network", "GNSS" };
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
	if ((unsigned)l->source < sizeof(sources) / sizeof(sources[0]))
		res_elem(&rw, "Source", sources[l->source]);
	else
		res_remark(&rw, "Location/Source", RES_OMITTED);
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
/* the accepted answer with deliveries                                       */

struct res_answer {
	const struct hi1_response_header	*h;
	const char				*carrier_ref;
	const struct hi1_task_result		*results;
	size_t					 nresults;
	xmlNsPtr				 dns;	/* delivery:, once used */
};

/* BinaryData: the document as base64, with its SHA-256 in hex. */
static void
res_binary(struct hi1_out *o, xmlNsPtr dns, xmlNodePtr parent,
    const struct hi1_task_result *r)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char	*b64;
	xmlNodePtr	 bd;

	if (EVP_Digest(r->doc, r->doc_len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (b64 = malloc(4 * ((r->doc_len + 2) / 3) + 1)) == NULL) {
		log_warnx("%s: cannot digest or encode a result", __func__);
		o->oom = 1;
		return;
	}
	EVP_EncodeBlock(b64, (const unsigned char *)r->doc, (int)r->doc_len);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	bd = hi1_add(o, parent, dns, "BinaryData", NULL);
	/* Not hi1_add: the base64 text is long, and needs no escaping. */
	if (bd != NULL && xmlNewTextChild(bd, dns, BAD_CAST "Data", b64) == NULL)
		o->oom = 1;
	free(b64);
	hi1_add(o, bd, dns, "ContentType", HI1_RESULT_CONTENT_TYPE);
	hi1_add(o, bd, dns, "Checksum", hex);
	hi1_add(o, bd, dns, "ChecksumType", "SHA-256");
}

/* hi1_object_fn: a DeliveryObject for a task with a result, else the echo. */
static int
res_delivery_object(struct hi1_out *o, xmlNodePtr cr, const struct hi1_task *t,
    void *arg)
{
	struct res_answer		*a = arg;
	const struct hi1_task_result	*r = NULL;
	xmlNodePtr			 obj, n;
	char				 uuid[HI1_UUID_LEN + 1];

	for (size_t i = 0; i < a->nresults && r == NULL; i++)
		if (a->results[i].action_id == t->action_id)
			r = &a->results[i];
	if (r == NULL)
		return 0;
	if (a->dns == NULL && (a->dns = xmlNewNs(o->root, BAD_CAST NS_DELIVERY,
	    BAD_CAST "delivery")) == NULL) {
		o->oom = 1;
		return 1;
	}
	obj = hi1_add(o, cr, o->core, "HI1Object", NULL);
	if (obj != NULL && xmlNewNsProp(obj, o->xsi, BAD_CAST "type",
	    BAD_CAST "delivery:DeliveryObject") == NULL)
		o->oom = 1;
	hi1_uuid(uuid, sizeof(uuid));
	hi1_add(o, obj, o->core, "ObjectIdentifier", uuid);
	hi1_add(o, obj, o->core, "CountryCode", "MX");
	hi1_add(o, obj, o->core, "OwnerIdentifier",
	    hi1_endpoint_ok(a->h->authority_id) ? a->h->authority_id : "UNKNOWN");
	if (hi1_ref_ok(a->carrier_ref))
		hi1_add(o, obj, o->core, "ExternalIdentifier", a->carrier_ref);
	n = hi1_add(o, obj, o->core, "AssociatedObjects", NULL);
	hi1_add(o, n, o->core, "AssociatedObject", t->object_id);
	n = hi1_add(o, obj, a->dns, "Reference", NULL);
	hi1_add(o, n, a->dns, "LDID", t->reference);
	hi1_uuid(uuid, sizeof(uuid));
	hi1_add(o, obj, a->dns, "DeliveryID", uuid);
	hi1_add(o, obj, a->dns, "SequenceNumber", "0");
	hi1_add(o, obj, a->dns, "LastSequence", "true");
	n = hi1_add(o, hi1_add(o, obj, a->dns, "Manifest", NULL), a->dns,
	    "Specification", NULL);
	hi1_add(o, n, o->common, "Owner", "ETSI");
	hi1_add(o, n, o->common, "Name", "ManifestSpecification");
	hi1_add(o, n, o->common, "Value", "TS102657-XML");
	res_binary(o, a->dns, hi1_add(o, obj, a->dns, "Delivery", NULL), r);
	return 1;
}

/* Each result names a distinct disclosing LD task of req, with a document. */
static int
res_results_ok(const struct hi1_request *req,
    const struct hi1_task_result *results, size_t n)
{
	size_t	 i, k;
	int	 found;

	if (n > 0 && results == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (results[i].doc == NULL || results[i].doc_len == 0 ||
		    results[i].doc_len > HI1_RESULT_MAX)
			return 0;
		for (k = 0; k < i; k++)
			if (results[k].action_id == results[i].action_id)
				return 0;
		for (k = 0, found = 0; k < req->ntasks && !found; k++)
			found = req->tasks[k].action_id == results[i].action_id &&
			    res_type_ok(&req->tasks[k]);
		if (!found)
			return 0;
	}
	return 1;
}

char *
hi1_build_accepted_results(const struct hi1_response_header *h,
    const struct hi1_request *req, const char *carrier_ref,
    const struct hi1_task_result *results, size_t nresults, size_t *len)
{
	struct res_answer	 a;

	if (h == NULL || req == NULL ||
	    !res_results_ok(req, results, nresults)) {
		log_warnx("%s: a result names no disclosing task of the request, "
		    "repeats one, or is empty or over %d bytes", __func__,
		    HI1_RESULT_MAX);
		return NULL;
	}
	memset(&a, 0, sizeof(a));
	a.h = h;
	a.carrier_ref = carrier_ref;
	a.results = results;
	a.nresults = nresults;
	return hi1_build_accepted_with(h, req, carrier_ref, res_delivery_object,
	    &a, len);
}
