/*
 * x1 — building ETSI TS 103 221-1 requests and reading the answers of
 * network elements (include/x1.h says the rules). No I/O, no state.
 *
 * Answers are read by hand after the hardened parse: only the elements the
 * operation's answer must have are looked at, in the X1 namespace, each
 * text bounded and checked against the pattern the official schema gives
 * it (UUIDs, the oK values). An answer that names another transaction,
 * another ADMF or another element is refused: it is not an answer to what
 * we asked, whatever it says.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "hi1.h"
#include "log.h"
#include "x1.h"

#define X1_NS		"http://uri.etsi.org/03221/X1/2017/10"
#define X1_NS280	"http://uri.etsi.org/03280/common/2017/07"
#define X1_NSXSI	"http://www.w3.org/2001/XMLSchema-instance"
#define X1_VERSION	"v1.22.1"
#define X1_MAX_ELEMENTS	(40u * X1_HELD_MAX + 1000)

static const char *const x1_ops[X1_OP__COUNT] = {
	[X1_PING] = "Ping",
	[X1_CREATE_DESTINATION] = "CreateDestination",
	[X1_GET_DESTINATION] = "GetDestinationDetails",
	[X1_ACTIVATE] = "ActivateTask",
	[X1_MODIFY] = "ModifyTask",
	[X1_DEACTIVATE] = "DeactivateTask",
	[X1_GET_TASK] = "GetTaskDetails",
	[X1_GET_ALL] = "GetAllDetails",
};

/* The TargetIdentifier element for each kind we provision. */
static const char *const x1_target_elems[WD_NE__COUNT] = {
	[WD_NE_E164] = "e164Number", [WD_NE_IMSI] = "imsi",
	[WD_NE_IMEI] = "imei", [WD_NE_IPV4] = "ipv4Address",
	[WD_NE_IPV6] = "ipv6Address",
};

const char *
x1_op_name(enum x1_op op)
{
	return (unsigned)op < X1_OP__COUNT ? x1_ops[op] : "?";
}

/* ---- identifiers ------------------------------------------------------------ */

static void
x1_uuid_format(const unsigned char b[16], char out[X1_UUID_LEN + 1])
{
	snprintf(out, X1_UUID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
	    b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	    b[15]);
}

void
x1_derive_uuid(const char *label, const char *a, const char *b,
    char out[X1_UUID_LEN + 1])
{
	unsigned char	 md[32];
	unsigned int	 mdlen = 0;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	/* NUL-separated: ("ab", "c") and ("a", "bc") never collide. */
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, label, strlen(label) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, a, strlen(a) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, b, strlen(b) + 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
		/* Cannot happen with a working libcrypto; never a random id. */
		log_warnx("x1: SHA-256 failed; aborting");
		abort();
	}
	EVP_MD_CTX_free(ctx);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);	/* version 8 */
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);	/* RFC 9562 variant */
	x1_uuid_format(md, out);
}

static bool
x1_uuid_ok(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != X1_UUID_LEN)
		return false;
	for (size_t i = 0; i < X1_UUID_LEN; i++)
		if (pat[i] == '-' ? s[i] != '-' :
		    !(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

const char *
x1_delivery_type(const char *d)
{
	if (d != NULL && strcmp(d, "IRIOnly") == 0)
		return "X2Only";
	if (d != NULL && strcmp(d, "CCOnly") == 0)
		return "X3Only";
	return "X2andX3";
}

int
x1_target_from(const struct hi1_identifier *id, struct x1_target *t)
{
	unsigned char	 a[16];
	size_t		 n = strlen(id->value);

	memset(t, 0, sizeof(*t));
	switch (id->type) {
	case WD_ID_MSISDN:
		t->type = WD_NE_E164;
		break;
	case WD_ID_IMSI:
		t->type = WD_NE_IMSI;
		break;
	case WD_ID_IMEI:
		/* X1's IMEI is the 14 digits without HI-1's check digit. */
		if (n != 15)
			return -1;
		t->type = WD_NE_IMEI;
		memcpy(t->value, id->value, 14);
		return 0;
	case WD_ID_IPPORT:
		if (inet_pton(AF_INET, id->addr, a) == 1) {
			t->type = WD_NE_IPV4;
			snprintf(t->value, sizeof(t->value), "%u.%u.%u.%u",
			    a[0], a[1], a[2], a[3]);
			return 0;
		}
		if (inet_pton(AF_INET6, id->addr, a) != 1)
			return -1;
		/* The official pattern: eight groups of four, lowercase. */
		t->type = WD_NE_IPV6;
		for (int i = 0, k = 0; i < 8; i++)
			k += snprintf(t->value + k, sizeof(t->value) - (size_t)k,
			    "%s%02x%02x", i ? ":" : "", a[2 * i], a[2 * i + 1]);
		return 0;
	default:
		return -1;
	}
	if (n == 0 || n > 15 || strspn(id->value, "0123456789") != n)
		return -1;
	memcpy(t->value, id->value, n);
	return 0;
}

/* ---- building ----------------------------------------------------------------- */

struct x1_build {
	xmlDocPtr	 doc;
	xmlNsPtr	 ns, ns280;
	bool		 failed;
};

static xmlNodePtr
x1_add(struct x1_build *b, xmlNodePtr parent, xmlNsPtr ns, const char *name,
    const char *text)
{
	xmlNodePtr n;

	if (b->failed)
		return NULL;
	/* xmlNewTextChild escapes; xmlNewChild would not. */
	if ((n = xmlNewTextChild(parent, ns, (const xmlChar *)name,
	    (const xmlChar *)text)) == NULL)
		b->failed = true;
	return n;
}

static void
x1_build_task(struct x1_build *b, xmlNodePtr msg, const struct x1_task *t)
{
	xmlNodePtr td, ids, ti, dids;

	td = x1_add(b, msg, b->ns, "taskDetails", NULL);
	x1_add(b, td, b->ns, "xId", t->xid);
	ids = x1_add(b, td, b->ns, "targetIdentifiers", NULL);
	for (size_t i = 0; i < t->ntargets; i++) {
		ti = x1_add(b, ids, b->ns, "targetIdentifier", NULL);
		x1_add(b, ti, b->ns, x1_target_elems[t->targets[i].type],
		    t->targets[i].value);
	}
	x1_add(b, td, b->ns, "deliveryType", t->delivery);
	dids = x1_add(b, td, b->ns, "listOfDIDs", NULL);
	x1_add(b, dids, b->ns, "dId", t->did);
}

static void
x1_build_dest(struct x1_build *b, xmlNodePtr msg, const struct x1_dest *d)
{
	xmlNodePtr	 dd, da, ip, addr, port;
	char		 p[8];

	dd = x1_add(b, msg, b->ns, "destinationDetails", NULL);
	x1_add(b, dd, b->ns, "dId", d->did);
	x1_add(b, dd, b->ns, "deliveryType", "X2andX3");
	da = x1_add(b, dd, b->ns, "deliveryAddress", NULL);
	ip = x1_add(b, da, b->ns, "ipAddressAndPort", NULL);
	addr = x1_add(b, ip, b->ns280, "address", NULL);
	x1_add(b, addr, b->ns280, d->v6 ? "IPv6Address" : "IPv4Address",
	    d->addr);
	port = x1_add(b, ip, b->ns280, "port", NULL);
	snprintf(p, sizeof(p), "%u", d->port);
	x1_add(b, port, b->ns280, "TCPPort", p);
}

/* What the message needs, checked before anything is built. */
static int
x1_build_check(const struct x1_msg *m)
{
	const struct x1_task *t = m->task;

	if ((unsigned)m->op >= X1_OP__COUNT || m->admf == NULL ||
	    m->ne == NULL || m->admf[0] == '\0' || m->ne[0] == '\0')
		return -1;
	switch (m->op) {
	case X1_ACTIVATE:
	case X1_MODIFY:
		if (t == NULL || !x1_uuid_ok(t->xid) || !x1_uuid_ok(t->did) ||
		    t->ntargets == 0 || t->ntargets > X1_MAX_TARGETS ||
		    t->delivery == NULL)
			return -1;
		for (size_t i = 0; i < t->ntargets; i++)
			if ((unsigned)t->targets[i].type >= WD_NE__COUNT ||
			    t->targets[i].value[0] == '\0')
				return -1;
		return 0;
	case X1_CREATE_DESTINATION:
		return m->dest != NULL && x1_uuid_ok(m->dest->did) &&
		    m->dest->port != 0 ? 0 : -1;
	case X1_DEACTIVATE:
	case X1_GET_TASK:
	case X1_GET_DESTINATION:
		return m->id != NULL && x1_uuid_ok(m->id) ? 0 : -1;
	default:
		return 0;
	}
}

int
x1_build(struct x1_msg *m, char **out, size_t *len)
{
	struct x1_build	 b = { 0 };
	xmlNodePtr	 root, msg;
	xmlNsPtr	 xsi;
	xmlChar		*mem = NULL;
	char		 ts[80], type[64];
	int		 size = 0;

	*out = NULL;
	if (x1_build_check(m) == -1) {
		log_warnx("x1: %s for %s: incomplete message not built",
		    x1_op_name(m->op), m->ne ? m->ne : "?");
		return -1;
	}
	hi1_uuid(m->txid, sizeof(m->txid));
	wd_time_format(m->now_us, ts, sizeof(ts));
	snprintf(type, sizeof(type), "x1:%sRequest", x1_op_name(m->op));
	if ((b.doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL ||
	    (root = xmlNewDocNode(b.doc, NULL, (const xmlChar *)"X1Request",
	    NULL)) == NULL)
		goto fail;
	xmlDocSetRootElement(b.doc, root);
	if ((b.ns = xmlNewNs(root, (const xmlChar *)X1_NS,
	    (const xmlChar *)"x1")) == NULL ||
	    (b.ns280 = xmlNewNs(root, (const xmlChar *)X1_NS280,
	    (const xmlChar *)"c")) == NULL ||
	    (xsi = xmlNewNs(root, (const xmlChar *)X1_NSXSI,
	    (const xmlChar *)"xsi")) == NULL)
		goto fail;
	xmlSetNs(root, b.ns);
	msg = x1_add(&b, root, b.ns, "x1RequestMessage", NULL);
	if (msg == NULL || xmlNewNsProp(msg, xsi, (const xmlChar *)"type",
	    (const xmlChar *)type) == NULL)
		goto fail;
	x1_add(&b, msg, b.ns, "admfIdentifier", m->admf);
	x1_add(&b, msg, b.ns, "neIdentifier", m->ne);
	x1_add(&b, msg, b.ns, "messageTimestamp", ts);
	x1_add(&b, msg, b.ns, "version", X1_VERSION);
	x1_add(&b, msg, b.ns, "x1TransactionId", m->txid);
	if (m->op == X1_ACTIVATE || m->op == X1_MODIFY)
		x1_build_task(&b, msg, m->task);
	else if (m->op == X1_CREATE_DESTINATION)
		x1_build_dest(&b, msg, m->dest);
	else if (m->op == X1_DEACTIVATE || m->op == X1_GET_TASK)
		x1_add(&b, msg, b.ns, "xId", m->id);
	else if (m->op == X1_GET_DESTINATION)
		x1_add(&b, msg, b.ns, "dId", m->id);
	if (b.failed)
		goto fail;
	xmlDocDumpMemoryEnc(b.doc, &mem, &size, "UTF-8");
	if (mem == NULL || size <= 0 || (*out = malloc((size_t)size)) == NULL)
		goto fail;
	memcpy(*out, mem, (size_t)size);
	*len = (size_t)size;
	xmlFree(mem);
	xmlFreeDoc(b.doc);
	return 0;
 fail:
	log_warnx("x1: %s for %s: out of memory", x1_op_name(m->op), m->ne);
	xmlFree(mem);
	xmlFreeDoc(b.doc);
	return -1;
}

/* ---- reading answers -------------------------------------------------------- */

struct x1_read {
	char	*why;
	size_t	 whylen;
};

static int x1_bad(struct x1_read *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
x1_bad(struct x1_read *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, r->whylen, fmt, ap);
	va_end(ap);
	for (char *p = r->why; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	return -1;
}

static bool
x1_is(xmlNodePtr n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, X1_NS) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

/* The next element sibling (comments, whitespace and PIs skipped). */
static xmlNodePtr
x1_next(xmlNodePtr n)
{
	while (n != NULL && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

static xmlNodePtr
x1_child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (x1_is(n, name))
			return n;
	return NULL;
}

/*
 * The text of n, without surrounding whitespace; only text children (no
 * element inside). -1 if absent, mixed or longer than len - 1.
 */
static int
x1_text(xmlNodePtr n, char *dst, size_t len)
{
	size_t	 k = 0, s, e;

	if (n == NULL)
		return -1;
	for (xmlNodePtr c = n->children; c != NULL; c = c->next) {
		size_t l;

		if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
			continue;
		if (c->type != XML_TEXT_NODE || c->content == NULL)
			return -1;
		if ((l = strlen((const char *)c->content)) >= len - k)
			return -1;
		memcpy(dst + k, c->content, l);
		k += l;
	}
	dst[k] = '\0';
	for (s = 0; s < k && isspace((unsigned char)dst[s]); s++)
		;
	for (e = k; e > s && isspace((unsigned char)dst[e - 1]); e--)
		;
	memmove(dst, dst + s, e - s);
	dst[e - s] = '\0';
	return 0;
}

static int
x1_child_text(struct x1_read *r, xmlNodePtr parent, const char *name,
    char *dst, size_t len)
{
	if (x1_text(x1_child(parent, name), dst, len) == -1)
		return x1_bad(r, "%s is missing or not a short text", name);
	return 0;
}

/* The message's xsi:type, resolved: its local name if in the X1 namespace. */
static int
x1_msg_type(struct x1_read *r, xmlNodePtr msg, char *dst, size_t len)
{
	xmlChar		*v;
	const char	*colon, *local;
	char		 prefix[64];
	xmlNsPtr	 ns;
	int		 rc = -1;

	if ((v = xmlGetNsProp(msg, (const xmlChar *)"type",
	    (const xmlChar *)X1_NSXSI)) == NULL)
		return x1_bad(r, "the response message has no xsi:type");
	colon = strchr((const char *)v, ':');
	local = colon ? colon + 1 : (const char *)v;
	if (colon != NULL && (size_t)(colon - (const char *)v) < sizeof(prefix)) {
		memcpy(prefix, v, (size_t)(colon - (const char *)v));
		prefix[colon - (const char *)v] = '\0';
		ns = xmlSearchNs(msg->doc, msg, (const xmlChar *)prefix);
	} else
		ns = colon ? NULL : xmlSearchNs(msg->doc, msg, NULL);
	if (ns == NULL || strcmp((const char *)ns->href, X1_NS) != 0)
		x1_bad(r, "the response's type is not an X1 type");
	else if (strlen(local) >= len)
		x1_bad(r, "the response's type is too long");
	else {
		snprintf(dst, len, "%s", local);
		rc = 0;
	}
	xmlFree(v);
	return rc;
}

static int
x1_read_error(struct x1_read *r, xmlNodePtr msg, struct x1_answer *a)
{
	xmlNodePtr	 ei = x1_child(msg, "errorInformation");
	char		 code[24], *end;
	char		 text[4 * X1_TEXT_LEN];

	if (ei == NULL || x1_child_text(r, ei, "errorCode", code,
	    sizeof(code)) == -1)
		return x1_bad(r, "an ErrorResponse without errorCode");
	a->code = strtol(code, &end, 10);
	if (*end != '\0' || end == code)
		return x1_bad(r, "errorCode is not an integer");
	/* A long description is cut, not refused: it is only words. */
	if (x1_text(x1_child(ei, "errorDescription"), text, sizeof(text)) == -1)
		snprintf(text, sizeof(text), "(no usable description)");
	for (size_t i = 0; i < X1_TEXT_LEN && text[i] != '\0'; i++)
		a->text[i] = isprint((unsigned char)text[i]) ? text[i] : '?';
	a->error = true;
	return 0;
}

static int
x1_read_ok(struct x1_read *r, xmlNodePtr msg)
{
	char ok[32];

	if (x1_child_text(r, msg, "oK", ok, sizeof(ok)) == -1)
		return -1;
	if (strcmp(ok, "AcknowledgedAndCompleted") != 0 &&
	    strcmp(ok, "Acknowledged") != 0)
		return x1_bad(r, "oK is \"%.32s\"", ok);
	return 0;
}

/* One taskResponseDetails: its XID and whether provisioning failed. */
static int
x1_read_held(struct x1_read *r, xmlNodePtr trd, struct x1_held *h)
{
	char	 st[32];

	if (x1_child_text(r, x1_child(trd, "taskDetails"), "xId", h->xid,
	    sizeof(h->xid)) == -1 || !x1_uuid_ok(h->xid))
		return x1_bad(r, "a task without a valid xId");
	if (x1_child_text(r, x1_child(trd, "taskStatus"), "provisioningStatus",
	    st, sizeof(st)) == -1)
		return -1;
	if (strcmp(st, "failed") == 0)
		h->failed = true;
	else if (strcmp(st, "complete") != 0 &&
	    strcmp(st, "awaitingProvisioning") != 0)
		return x1_bad(r, "provisioningStatus \"%.32s\"", st);
	return 0;
}

static int
x1_held_cmp(const void *a, const void *b)
{
	return strcmp(((const struct x1_held *)a)->xid,
	    ((const struct x1_held *)b)->xid);
}

static int
x1_read_get_all(struct x1_read *r, xmlNodePtr msg, struct x1_answer *a)
{
	xmlNodePtr	 lt = x1_child(msg, "listOfTaskResponseDetails");
	xmlNodePtr	 ld = x1_child(msg, "listOfDestinationResponseDetails");
	size_t		 n = 0, nd = 0;

	if (lt == NULL || ld == NULL)
		return x1_bad(r, "GetAllDetailsResponse lacks its lists");
	for (xmlNodePtr c = x1_next(lt->children); c; c = x1_next(c->next))
		n++;
	for (xmlNodePtr c = x1_next(ld->children); c; c = x1_next(c->next))
		nd++;
	if (n > X1_HELD_MAX || nd > X1_HELD_MAX)
		return x1_bad(r, "more than %d tasks or destinations",
		    X1_HELD_MAX);
	if ((n > 0 && (a->held = calloc(n, sizeof(*a->held))) == NULL) ||
	    (nd > 0 && (a->dids = calloc(nd, sizeof(*a->dids))) == NULL))
		return x1_bad(r, "out of memory");
	for (xmlNodePtr c = x1_next(lt->children); c; c = x1_next(c->next)) {
		if (!x1_is(c, "taskResponseDetails"))
			return x1_bad(r, "unexpected element in the task list");
		if (x1_read_held(r, c, &a->held[a->nheld]) == -1)
			return -1;
		a->nheld++;
	}
	/* Sorted (callers bsearch), and a task listed twice is refused:
	   n log n, since an element may list up to X1_HELD_MAX. */
	if (a->nheld > 1)
		qsort(a->held, a->nheld, sizeof(*a->held), x1_held_cmp);
	for (size_t i = 1; i < a->nheld; i++)
		if (strcmp(a->held[i - 1].xid, a->held[i].xid) == 0)
			return x1_bad(r, "xId %s listed twice", a->held[i].xid);
	for (xmlNodePtr c = x1_next(ld->children); c; c = x1_next(c->next)) {
		if (!x1_is(c, "destinationResponseDetails") ||
		    x1_child_text(r, x1_child(c, "destinationDetails"), "dId",
		    a->dids[a->ndids], sizeof(a->dids[0])) == -1 ||
		    !x1_uuid_ok(a->dids[a->ndids]))
			return x1_bad(r, "a destination without a valid dId");
		a->ndids++;
	}
	return 0;
}

/* The body of the message for its operation. */
static int
x1_read_body(struct x1_read *r, const struct x1_msg *m, xmlNodePtr msg,
    struct x1_answer *a)
{
	xmlNodePtr	 d;
	char		 id[X1_UUID_LEN + 1];

	switch (m->op) {
	case X1_GET_ALL:
		return x1_read_get_all(r, msg, a);
	case X1_GET_TASK:
		if ((d = x1_child(msg, "taskResponseDetails")) == NULL)
			return x1_bad(r, "no taskResponseDetails");
		if ((a->held = calloc(1, sizeof(*a->held))) == NULL)
			return x1_bad(r, "out of memory");
		if (x1_read_held(r, d, a->held) == -1)
			return -1;
		a->nheld = 1;
		if (strcmp(a->held->xid, m->id) != 0)
			return x1_bad(r, "details of xId %s, not %s",
			    a->held->xid, m->id);
		return 0;
	case X1_GET_DESTINATION:
		d = x1_child(msg, "destinationResponseDetails");
		if (x1_child_text(r, x1_child(d, "destinationDetails"), "dId",
		    id, sizeof(id)) == -1 || strcmp(id, m->id) != 0)
			return x1_bad(r, "not the details of dId %s", m->id);
		return 0;
	default:
		return x1_read_ok(r, msg);
	}
}

/* The common head: ours, theirs, this transaction. */
static int
x1_read_head(struct x1_read *r, const struct x1_msg *m, xmlNodePtr msg,
    struct x1_answer *a)
{
	char	 admf[X1_ID_LEN + 1], ne[X1_ID_LEN + 1], v[32];

	if (x1_child_text(r, msg, "admfIdentifier", admf, sizeof(admf)) == -1 ||
	    x1_child_text(r, msg, "neIdentifier", ne, sizeof(ne)) == -1 ||
	    x1_child_text(r, msg, "version", v, sizeof(v)) == -1)
		return -1;
	if (strcmp(admf, m->admf) != 0 || strcmp(ne, m->ne) != 0)
		return x1_bad(r, "the answer is from %.64s to %.64s, not from "
		    "%.64s to %.64s", ne, admf, m->ne, m->admf);
	if (strncmp(v, "v1.", 3) != 0)
		return x1_bad(r, "version \"%.32s\" is not X1 v1", v);
	if (x1_child_text(r, msg, "x1TransactionId", a->txid,
	    sizeof(a->txid)) == -1)
		return -1;
	if (strcmp(a->txid, m->txid) != 0)
		return x1_bad(r, "the answer is for transaction %s, not %s",
		    x1_uuid_ok(a->txid) ? a->txid : "(not a UUID)", m->txid);
	return 0;
}

static int
x1_read(struct x1_read *r, const struct x1_msg *m, xmlNodePtr root,
    struct x1_answer *a)
{
	xmlNodePtr	 msg;
	char		 type[64], want[64];

	if (x1_is(root, "X1TopLevelErrorResponse")) {
		a->error = true;
		a->code = -1;
		snprintf(a->text, sizeof(a->text), "the element could not "
		    "read the request (X1TopLevelErrorResponse)");
		return 0;
	}
	if (!x1_is(root, "X1Response"))
		return x1_bad(r, "the root element is not an X1Response");
	msg = x1_next(root->children);
	if (!x1_is(msg, "x1ResponseMessage") || x1_next(msg->next) != NULL)
		return x1_bad(r, "not exactly one x1ResponseMessage");
	if (x1_msg_type(r, msg, type, sizeof(type)) == -1 ||
	    x1_read_head(r, m, msg, a) == -1)
		return -1;
	if (strcmp(type, "ErrorResponse") == 0)
		return x1_read_error(r, msg, a);
	snprintf(want, sizeof(want), "%sResponse", x1_op_name(m->op));
	if (strcmp(type, want) != 0)
		return x1_bad(r, "a %.40s to a %s", type, want);
	return x1_read_body(r, m, msg, a);
}

int
x1_parse(const struct x1_msg *m, const char *body, size_t len,
    struct x1_answer *a, char *why, size_t whylen)
{
	struct x1_read	 r = { why, whylen };
	struct wd_error	 err;
	xmlDocPtr	 doc;
	int		 rc;

	memset(a, 0, sizeof(*a));
	a->op = m->op;
	if ((doc = hi1_xml_read(body, len, X1_ANSWER_MAX, X1_MAX_ELEMENTS,
	    &err)) == NULL)
		return x1_bad(&r, "not acceptable XML: %s", err.text);
	rc = x1_read(&r, m, xmlDocGetRootElement(doc), a);
	xmlFreeDoc(doc);
	if (rc == -1)
		x1_answer_free(a);
	return rc;
}

void
x1_answer_free(struct x1_answer *a)
{
	free(a->held);
	free(a->dids);
	a->held = NULL;
	a->dids = NULL;
	a->nheld = a->ndids = 0;
}
