/*
 * hi1_response — the carrier's HI-1 messages (see include/hi1.h): the
 * building blocks (header, escaping, ActionResponses) every answer uses,
 * and refusals (per action, or for the whole message), plus fresh UUIDs.
 * Answers about objects (GET, CREATE, UPDATE, LIST, DELIVER) are built in
 * lib/hi1_object.c on these blocks.
 *
 * Built with libxml2's tree API, never by printf: every string that came
 * from the request or from an error text is escaped by the serialiser, and
 * is first made valid UTF-8 without the control characters XML 1.0 forbids,
 * so that what we send always parses. Namespaces and prefixes are those of
 * the ETSI examples; every message built here validates against our
 * templates and the official schemas (tests/unit/test_hi1.c checks both).
 *
 * include/hi1_out.h shares a few of these internals with src/warrantd/hi1_delivery.c,
 * which answers with results (a DeliveryObject) in the same messages.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hi1.h"
#include "hi1_object.h"
#include "hi1_out.h"
#include "log.h"
#include "wd_b64.h"
#include "wd_utf8.h"

#define NS_CORE		"http://uri.etsi.org/03120/common/2019/10/Core"
#define NS_COMMON	"http://uri.etsi.org/03120/common/2016/02/Common"
#define NS_TASK		"http://uri.etsi.org/03120/common/2020/09/Task"
#define NS_AUTH		"http://uri.etsi.org/03120/common/2020/09/Authorisation"
#define NS_XSI		"http://www.w3.org/2001/XMLSchema-instance"

#define HI1_ETSI_VERSION	"V1.12.1"
#define HI1_PROFILE_OWNER	"MX"
#define HI1_PROFILE_VERSION	"1.0"
#define HI1_COUNTRY		"MX"

/* One ActionResponse to write, in ActionIdentifier order. */
struct hi1_entry {
	uint32_t			 action;
	const struct hi1_authorisation	*auth;
	const struct hi1_task		*task;
};

/*
 * Copy in to out as XML-safe UTF-8: invalid bytes and control characters
 * (other than tab) become '?', newlines a space, and a sequence that would
 * not fit is dropped whole rather than cut.
 */
static const char *
hi1_xml_safe(const char *in, char *out, size_t len)
{
	const unsigned char	*s = (const unsigned char *)(in ? in : "");
	size_t			 i = 0, o = 0, n;

	while (s[i] != '\0' && o + 1 < len) {
		n = wd_utf8_xml_char(s + i);
		if (n == 0 || (n == 1 && ((s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f))) {
			out[o++] = (s[i] == '\n' || s[i] == '\r') ? ' ' : '?';
			i++;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

/* The profile's endpoint identifiers: [A-Z0-9][A-Z0-9-]{1,31}. */
int
hi1_endpoint_ok(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) < 2 || n > 32 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-'))
			return 0;
	return 1;
}

/* ExternalIdentifier in the profile: 1-128 characters, one line, trimmed. */
int
hi1_ref_ok(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 128 ||
	    s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return 0;
	return strpbrk(s, "\r\n") == NULL;
}

static int
hi1_uuid_ok(const char *s)
{
	if (s == NULL || strlen(s) != HI1_UUID_LEN)
		return 0;
	for (size_t i = 0; i < HI1_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

void
hi1_uuid(char *buf, size_t len)
{
	unsigned char	 b[16];

	if (len < HI1_UUID_LEN + 1) {
		if (len > 0)
			buf[0] = '\0';
		return;
	}
	if (RAND_bytes(b, sizeof(b)) != 1) {
		log_warnx("%s: RAND_bytes failed, using getrandom", __func__);
		if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
			fatal("%s: no randomness for a UUID", __func__);
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Add ns:name under parent with (escaped, made-safe) text, or empty. */
xmlNodePtr
hi1_add(struct hi1_out *o, xmlNodePtr parent, xmlNsPtr ns, const char *name,
    const char *text)
{
	char		 safe[1024];
	xmlNodePtr	 n;

	if (parent == NULL)
		return NULL;
	n = xmlNewTextChild(parent, ns, BAD_CAST name, text == NULL ? NULL :
	    BAD_CAST hi1_xml_safe(text, safe, sizeof(safe)));
	if (n == NULL)
		o->oom = 1;
	return n;
}

int
hi1_out_init(struct hi1_out *o)
{
	memset(o, 0, sizeof(*o));
	if ((o->doc = xmlNewDoc(BAD_CAST "1.0")) == NULL ||
	    (o->root = xmlNewNode(NULL, BAD_CAST "HI1Message")) == NULL) {
		xmlFreeDoc(o->doc);
		return -1;
	}
	xmlDocSetRootElement(o->doc, o->root);
	o->core = xmlNewNs(o->root, BAD_CAST NS_CORE, NULL);
	o->xsi = xmlNewNs(o->root, BAD_CAST NS_XSI, BAD_CAST "xsi");
	o->common = xmlNewNs(o->root, BAD_CAST NS_COMMON, BAD_CAST "common");
	o->task = xmlNewNs(o->root, BAD_CAST NS_TASK, BAD_CAST "task");
	o->auth = xmlNewNs(o->root, BAD_CAST NS_AUTH, BAD_CAST "auth");
	if (o->core == NULL || o->xsi == NULL || o->common == NULL ||
	    o->task == NULL || o->auth == NULL) {
		xmlFreeDoc(o->doc);
		return -1;
	}
	xmlSetNs(o->root, o->core);
	return 0;
}

static void
hi1_endpoint(struct hi1_out *o, xmlNodePtr hdr, const char *name,
    const char *id)
{
	xmlNodePtr	 ep = hi1_add(o, hdr, o->core, name, NULL);

	hi1_add(o, ep, o->core, "CountryCode", HI1_COUNTRY);
	hi1_add(o, ep, o->core, "UniqueIdentifier", id);
}

/* Header and an empty ResponsePayload; returns the ResponsePayload. */
static xmlNodePtr
hi1_header(struct hi1_out *o, const struct hi1_response_header *h)
{
	return hi1_out_header(o, h, "ResponsePayload");
}

/* Header and an empty payload of the given kind; returns the payload. */
xmlNodePtr
hi1_out_header(struct hi1_out *o, const struct hi1_response_header *h,
    const char *payload_kind)
{
	xmlNodePtr	 hdr, ver, payload;
	char		 tid[HI1_UUID_LEN + 1], ts[32];

	hdr = hi1_add(o, o->root, o->core, "Header", NULL);
	hi1_endpoint(o, hdr, "SenderIdentifier", h->carrier_id);
	/* A receiver the schema would refuse is not echoed: we say we do not know. */
	hi1_endpoint(o, hdr, "ReceiverIdentifier",
	    hi1_endpoint_ok(h->authority_id) ? h->authority_id : "UNKNOWN");
	if (hi1_uuid_ok(h->transaction_id))
		snprintf(tid, sizeof(tid), "%s", h->transaction_id);
	else
		hi1_uuid(tid, sizeof(tid));
	hi1_add(o, hdr, o->core, "TransactionIdentifier", tid);
	wd_time_format(h->timestamp_us, ts, sizeof(ts));
	hi1_add(o, hdr, o->core, "Timestamp", ts);
	ver = hi1_add(o, hdr, o->core, "Version", NULL);
	hi1_add(o, ver, o->core, "ETSIVersion", HI1_ETSI_VERSION);
	hi1_add(o, ver, o->core, "NationalProfileOwner", HI1_PROFILE_OWNER);
	hi1_add(o, ver, o->core, "NationalProfileVersion", HI1_PROFILE_VERSION);
	payload = hi1_add(o, o->root, o->core, "Payload", NULL);
	return hi1_add(o, payload, o->core, payload_kind, NULL);
}

static const char *
hi1_out_mark(struct hi1_out *o, const uint8_t *data, const void *stream,
    size_t len)
{
	struct hi1_splice	*sp;
	unsigned char		 rnd[15];

	if (o->nsplice == HI1_SPLICE_MAX || len > INT_MAX / 2 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	sp = &o->splice[o->nsplice++];
	sp->data = data;
	sp->stream = stream;
	sp->len = len;
	memcpy(sp->mark, "wd-splice-", 10);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(sp->mark + 10 + 2 * i, 3, "%02x", rnd[i]);
	return sp->mark;
}

const char *
hi1_out_splice(struct hi1_out *o, const uint8_t *data, size_t len)
{
	return data == NULL ? NULL : hi1_out_mark(o, data, NULL, len);
}

const char *
hi1_out_splice_stream(struct hi1_out *o, const void *stream, size_t len)
{
	return stream == NULL ? NULL : hi1_out_mark(o, NULL, stream, len);
}

/*
 * The serialised message with each marker replaced by the base64 of its
 * bytes, in one buffer; a streamed splice becomes a cut of pc (NULL: an
 * error). Markers are found in order, each once; one missing is an error
 * (never a message with a marker in it).
 */
static char *
hi1_out_spliced(const struct hi1_out *o, const char *mem, size_t size,
    size_t *len, struct hi1_pieces *pc)
{
	const char	*at = mem, *end = mem + size, *m;
	char		*out, *w;
	size_t		 total = size, ncut = 0;

	for (size_t i = 0; i < o->nsplice; i++) {
		if (o->splice[i].data != NULL)
			total += WD_B64_LEN(o->splice[i].len);
		else if (pc == NULL || ++ncut > HI1_PIECES_MAX) {
			log_warnx("%s: a streamed splice cannot be taken",
			    __func__);
			return NULL;
		}
		total -= HI1_SPLICE_MARK_LEN;
	}
	if ((out = malloc(total + 1)) == NULL)
		return NULL;
	w = out;
	for (size_t i = 0; i < o->nsplice; i++) {
		const struct hi1_splice *sp = &o->splice[i];

		if ((m = memmem(at, (size_t)(end - at), sp->mark,
		    HI1_SPLICE_MARK_LEN)) == NULL) {
			log_warnx("%s: marker %zu not in the message", __func__, i);
			free(out);
			return NULL;
		}
		memcpy(w, at, (size_t)(m - at));
		w += m - at;
		if (sp->data != NULL)
			w += wd_b64_encode(w, sp->data, sp->len);
		else {
			pc->cut[pc->ncut] = (size_t)(w - out);
			pc->cut_len[pc->ncut] = WD_B64_LEN(sp->len);
			pc->cut_bytes[pc->ncut] = sp->len;
			pc->cut_src[pc->ncut++] = sp->stream;
		}
		at = m + HI1_SPLICE_MARK_LEN;
	}
	memcpy(w, at, (size_t)(end - at));
	w += end - at;
	*w = '\0';
	*len = (size_t)(w - out);
	return out;
}

static char *
hi1_out_serialise(struct hi1_out *o, size_t *len, struct hi1_pieces *pc)
{
	xmlChar		*mem = NULL;
	char		*out = NULL;
	size_t		 n = 0;
	int		 size = 0;

	if (!o->oom)
		xmlDocDumpFormatMemoryEnc(o->doc, &mem, &size, "UTF-8", 1);
	if (mem != NULL && size > 0 && o->nsplice > 0)
		out = hi1_out_spliced(o, (const char *)mem, (size_t)size, &n, pc);
	else if (mem != NULL && size > 0 &&
	    (out = malloc((size_t)size + 1)) != NULL) {
		memcpy(out, mem, (size_t)size);
		out[size] = '\0';
		n = (size_t)size;
	}
	if (out != NULL && len != NULL)
		*len = n;
	xmlFree(mem);
	xmlFreeDoc(o->doc);
	if (out == NULL)
		log_warnx("%s: cannot build the HI-1 response", __func__);
	return out;
}

/* Serialise and hand over a malloc'd, NUL-terminated copy. */
char *
hi1_out_finish(struct hi1_out *o, size_t *len)
{
	return hi1_out_serialise(o, len, NULL);
}

int
hi1_out_finish_pieces(struct hi1_out *o, struct hi1_pieces *pc)
{
	memset(pc, 0, sizeof(*pc));
	if ((pc->text = hi1_out_serialise(o, &pc->len, pc)) == NULL) {
		pc->ncut = 0;
		return -1;
	}
	return 0;
}

/* Every action of req, plus extra (if not already there), by action id. */
static size_t
hi1_entries(const struct hi1_request *req, struct hi1_entry *e, size_t max,
    const uint32_t *extra)
{
	struct hi1_entry	 tmp;
	size_t			 n = 0, i, k;
	int			 seen = 0;

	for (i = 0; i < req->nactions && n < max; i++) {
		const struct hi1_action *a = &req->actions[i];

		e[n] = (struct hi1_entry){ a->action_id, NULL, NULL };
		if (a->verb == HI1_VERB_CREATE && a->kind == HI1_OBJ_AUTHORISATION)
			e[n].auth = &req->auths[a->index];
		else if (a->verb == HI1_VERB_CREATE && (a->kind == HI1_OBJ_LDTASK ||
		    a->kind == HI1_OBJ_LITASK))
			e[n].task = &req->tasks[a->index];
		n++;
	}
	for (i = 0; extra != NULL && i < n; i++)
		seen |= e[i].action == *extra;
	if (extra != NULL && !seen && n < max)
		e[n++] = (struct hi1_entry){ *extra, NULL, NULL };
	for (i = 1; i < n; i++)		/* insertion sort: n <= 33 */
		for (k = i; k > 0 && e[k - 1].action > e[k].action; k--) {
			tmp = e[k];
			e[k] = e[k - 1];
			e[k - 1] = tmp;
		}
	return n;
}

xmlNodePtr
hi1_action_response(struct hi1_out *o, xmlNodePtr list, uint32_t action)
{
	xmlNodePtr	 ar = hi1_add(o, list, o->core, "ActionResponse", NULL);
	char		 id[16];

	snprintf(id, sizeof(id), "%u", action);
	hi1_add(o, ar, o->core, "ActionIdentifier", id);
	return ar;
}

/* ErrorInformation: ErrorCode and "<short name>: <detail>". */
void
hi1_error_info(struct hi1_out *o, xmlNodePtr parent, enum wd_errcode code,
    const char *detail)
{
	xmlNodePtr	 ei = hi1_add(o, parent, o->core, "ErrorInformation", NULL);
	char		 num[16], desc[512];

	snprintf(num, sizeof(num), "%u", (unsigned)code);
	if (detail != NULL && detail[0] != '\0')
		snprintf(desc, sizeof(desc), "%s: %s", wd_error_text(code), detail);
	else
		snprintf(desc, sizeof(desc), "%s", wd_error_text(code));
	hi1_add(o, ei, o->core, "ErrorCode", num);
	hi1_add(o, ei, o->core, "ErrorDescription", desc);
}

char *
hi1_build_error(const struct hi1_response_header *h,
    const struct hi1_request *req, const struct wd_error *err, size_t *len)
{
	struct hi1_entry	 e[2 * HI1_MAX_ACTIONS + 1];
	struct hi1_out		 o;
	xmlNodePtr		 rp, list;
	char			 other[64];
	size_t			 n;

	if (h == NULL || err == NULL) {
		log_warnx("%s: no header or no error", __func__);
		return NULL;
	}
	if (hi1_out_init(&o) == -1) {
		log_warnx("%s: out of memory", __func__);
		return NULL;
	}
	rp = hi1_header(&o, h);
	if (!err->has_action || req == NULL) {
		hi1_error_info(&o, rp, err->code, err->text);
		return hi1_out_finish(&o, len);
	}
	n = hi1_entries(req, e, sizeof(e) / sizeof(e[0]), &err->action_id);
	snprintf(other, sizeof(other), "action %u failed", err->action_id);
	list = hi1_add(&o, rp, o.core, "ActionResponses", NULL);
	for (size_t i = 0; i < n; i++) {
		if (e[i].action == err->action_id)
			hi1_error_info(&o, hi1_action_response(&o, list,
			    e[i].action), err->code, err->text);
		else
			hi1_error_info(&o, hi1_action_response(&o, list,
			    e[i].action), WD_ERR_ACTION_NOT_DONE, other);
	}
	return hi1_out_finish(&o, len);
}
