/*
 * conf_ne — the `ne "name" { ... }` blocks of warrantd.conf: network
 * elements the gateway provisions interceptions at over ETSI X1
 * (docs/x1.md). parse.y owns the grammar; this file owns what each keyword
 * accepts, so that the grammar stays a list of rules and every check of a
 * value lives next to the others. Each setter returns NULL or a sentence
 * saying what is wrong; parse.y prints it with the file and line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

enum ne_seen {
	NS_URL, NS_CERT, NS_KEY, NS_CA, NS_CRL, NS_SERVES, NS_DEST,
	NS_DEADLINE, NS_RETRIES, NS_RECONCILE, NS_BREAKER, NS__COUNT
};
_Static_assert(NS__COUNT <= 16, "struct wd_ne.seen is too small");

static const char *const ne_targets[WD_NE__COUNT] = {
	[WD_NE_E164] = "e164", [WD_NE_IMSI] = "imsi", [WD_NE_IMEI] = "imei",
	[WD_NE_IPV4] = "ipv4", [WD_NE_IPV6] = "ipv6",
};

static char	 ne_why[256];

static const char *ne_err(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static const char *
ne_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ne_why, sizeof(ne_why), fmt, ap);
	va_end(ap);
	return ne_why;
}

const char *
conf_ne_target_name(enum wd_ne_target t)
{
	return (unsigned)t < WD_NE__COUNT ? ne_targets[t] : "";
}

struct wd_ne *
conf_find_ne(const struct wd_conf *conf, const char *name)
{
	struct wd_ne *n;

	TAILQ_FOREACH(n, &conf->nes, entry)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* Names travel as the X1 neIdentifier (an xs:token) and in the journal. */
static bool
ne_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

const char *
conf_ne_new(struct wd_conf *conf, const char *name, int line,
    struct wd_ne **out)
{
	struct wd_ne *n;

	*out = NULL;
	if (!ne_valid_name(name))
		return ne_err("ne \"%s\": name must be 1 to 64 of letters, "
		    "digits, '.', '_' and '-', starting with a letter or digit",
		    name);
	if (conf_find_ne(conf, name) != NULL)
		return ne_err("ne \"%s\" is defined twice", name);
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->name = strdup(name)) == NULL) {
		free(n);
		return "out of memory";
	}
	n->line = line;
	n->deadline_ms = 10000;
	n->retries = 3;
	n->reconcile_s = 300;
	n->breaker_failures = 5;
	n->breaker_open_ms = 30000;
	TAILQ_INSERT_TAIL(&conf->nes, n, entry);
	*out = n;
	return NULL;
}

void
conf_ne_free(struct wd_ne *n)
{
	if (n == NULL)
		return;
	free(n->name);
	free(n->url);
	free(n->cert);
	free(n->key);
	free(n->ca);
	free(n->crl);
	free(n->dest_addr);
	free(n);
}

/* https://HOST[:PORT]/PATH, printable ASCII, no fragment or credentials. */
static const char *
ne_check_url(const char *u)
{
	size_t n = strlen(u);

	if (strncasecmp(u, "https://", 8) != 0 || n <= 8 || n > 512)
		return ne_err("url \"%.64s\": an https:// URL of at most 512 "
		    "bytes is required (X1 runs over mutual TLS)", u);
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#' || *p == '@')
			return ne_err("url \"%.64s\": spaces, '#', '@' and "
			    "non-ASCII are not allowed", u);
	return NULL;
}

/* "IPv4:port" or "[IPv6]:port": where the element delivers X2/X3. */
static const char *
ne_set_dest(struct wd_ne *n, const char *v)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*colon, *h = v, *hend;
	unsigned char	 a[16];
	long		 port;
	char		*end;

	if (v[0] == '[') {
		if ((hend = strchr(v, ']')) == NULL || hend[1] != ':')
			goto bad;
		h = v + 1;
		colon = hend + 1;
	} else {
		if ((colon = strrchr(v, ':')) == NULL ||
		    memchr(v, ':', (size_t)(colon - v)) != NULL)
			goto bad;
		hend = colon;
	}
	if ((size_t)(hend - h) >= sizeof(host))
		goto bad;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	n->dest_v6 = v[0] == '[';
	if (inet_pton(n->dest_v6 ? AF_INET6 : AF_INET, host, a) != 1)
		goto bad;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || !isdigit((unsigned char)colon[1]) || port < 1 ||
	    port > 65535)
		goto bad;
	if ((n->dest_addr = strdup(host)) == NULL)
		return "out of memory";
	n->dest_port = (uint16_t)port;
	return NULL;
 bad:
	return ne_err("destination \"%.64s\": expected \"IPv4:port\" or "
	    "\"[IPv6]:port\"", v);
}

static const char *
ne_serve(struct wd_ne *n, const char *v)
{
	for (int t = 0; t < WD_NE__COUNT; t++)
		if (strcmp(v, ne_targets[t]) == 0) {
			if (n->serves[t])
				return ne_err("serves: %s given twice", v);
			n->serves[t] = true;
			return NULL;
		}
	return ne_err("serves: unknown target type \"%.32s\" (e164, imsi, imei, "
	    "ipv4, ipv6)", v);
}

static const struct {
	const char	*kw;
	enum ne_seen	 slot;
} ne_kws[] = {
	{ "url", NS_URL }, { "certificate", NS_CERT }, { "key", NS_KEY },
	{ "ca", NS_CA }, { "crl", NS_CRL }, { "serves", NS_SERVES },
	{ "destination", NS_DEST }, { "deadline", NS_DEADLINE },
	{ "retries", NS_RETRIES }, { "reconcile", NS_RECONCILE },
	{ "breaker", NS_BREAKER },
};

/* -1 (and ne_why) if kw was given before; serves may span one line only. */
static int
ne_once(struct wd_ne *n, const char *kw, int line, bool again_ok)
{
	for (size_t i = 0; i < sizeof(ne_kws) / sizeof(ne_kws[0]); i++) {
		if (strcmp(ne_kws[i].kw, kw) != 0)
			continue;
		if (n->seen[ne_kws[i].slot] != 0 &&
		    !(again_ok && n->seen[ne_kws[i].slot] == line)) {
			ne_err("%s given more than once", kw);
			return -1;
		}
		n->seen[ne_kws[i].slot] = line;
		return 0;
	}
	ne_err("\"%s\" is not valid in an ne block", kw);
	return -1;
}

const char *
conf_ne_set(struct wd_ne *n, const char *kw, int line, const char *v)
{
	char	**dst = NULL;

	if (ne_once(n, kw, line, strcmp(kw, "serves") == 0) == -1)
		return ne_why;
	if (strcmp(kw, "serves") == 0)
		return ne_serve(n, v);
	if (strcmp(kw, "destination") == 0)
		return ne_set_dest(n, v);
	if (strcmp(kw, "url") == 0) {
		if (ne_check_url(v) != NULL)
			return ne_why;
		dst = &n->url;
	} else if (strcmp(kw, "certificate") == 0)
		dst = &n->cert;
	else if (strcmp(kw, "key") == 0)
		dst = &n->key;
	else if (strcmp(kw, "ca") == 0)
		dst = &n->ca;
	else if (strcmp(kw, "crl") == 0)
		dst = &n->crl;
	if (dst == NULL)
		return ne_err("\"%s\" takes a number or duration", kw);
	if (v[0] == '\0')
		return ne_err("%s: empty string", kw);
	if ((*dst = strdup(v)) == NULL)
		return "out of memory";
	return NULL;
}

const char *
conf_ne_number(struct wd_ne *n, const char *kw, int line, int64_t v)
{
	if (v < 0)	/* parse.y reported the bad value already */
		return NULL;
	if (ne_once(n, kw, line, false) == -1)
		return ne_why;
	if (strcmp(kw, "deadline") == 0) {
		if (v < 100 || v > 600000)
			return "deadline: 100ms..10m";
		n->deadline_ms = (unsigned)v;
	} else if (strcmp(kw, "retries") == 0) {
		if (v > 10)
			return "retries: 0..10";
		n->retries = (unsigned)v;
	} else if (strcmp(kw, "reconcile") == 0) {
		if (v < 1000 || v > 86400000)
			return "reconcile: 1s..1d";
		n->reconcile_s = (unsigned)(v / 1000);
	} else
		return ne_err("\"%s\" takes a string", kw);
	return NULL;
}

/* breaker N failures DURATION: as a back end's (docs/config.md). */
const char *
conf_ne_breaker(struct wd_ne *n, int line, int64_t failures, int64_t ms)
{
	if (failures < 0 || ms < 0)	/* parse.y reported the bad value */
		return NULL;
	if (ne_once(n, "breaker", line, false) == -1)
		return ne_why;
	if (failures < 1 || failures > 1000)
		return "breaker failures: 1..1000";
	if (ms < 1000 || ms > 3600000)
		return "breaker open time: 1s..1h";
	n->breaker_failures = (unsigned)failures;
	n->breaker_open_ms = (unsigned)ms;
	return NULL;
}

/* What the block lacks: everything but crl, deadline, retries, reconcile. */
const char *
conf_ne_end(struct wd_ne *n)
{
	static const struct { enum ne_seen slot; const char *kw; } req[] = {
		{ NS_URL, "url" }, { NS_CERT, "certificate" },
		{ NS_KEY, "key" }, { NS_CA, "ca" }, { NS_SERVES, "serves" },
		{ NS_DEST, "destination" },
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (n->seen[req[i].slot] == 0) {
			snprintf(ne_why, sizeof(ne_why), "ne \"%s\": %s is "
			    "required", n->name, req[i].kw);
			return ne_why;
		}
	return NULL;
}

static bool
ne_str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Elements are set up once, at start: a reload that changes them must say
 * so (the running ones stay in use), never drop one silently.
 */
bool
conf_nes_same(const struct wd_conf *a, const struct wd_conf *b)
{
	const struct wd_ne *x = TAILQ_FIRST(&a->nes);
	const struct wd_ne *y = TAILQ_FIRST(&b->nes);

	for (; x != NULL && y != NULL; x = TAILQ_NEXT(x, entry),
	    y = TAILQ_NEXT(y, entry))
		if (!ne_str_same(x->name, y->name) ||
		    !ne_str_same(x->url, y->url) ||
		    !ne_str_same(x->cert, y->cert) ||
		    !ne_str_same(x->key, y->key) || !ne_str_same(x->ca, y->ca) ||
		    !ne_str_same(x->crl, y->crl) ||
		    !ne_str_same(x->dest_addr, y->dest_addr) ||
		    x->dest_port != y->dest_port ||
		    memcmp(x->serves, y->serves, sizeof(x->serves)) != 0 ||
		    x->deadline_ms != y->deadline_ms ||
		    x->retries != y->retries || x->reconcile_s != y->reconcile_s ||
		    x->breaker_failures != y->breaker_failures ||
		    x->breaker_open_ms != y->breaker_open_ms)
			return false;
	return x == NULL && y == NULL;
}
