/*
 * push_send — test driver of tests/integration/push-receive.sh: builds one
 * HI-1 DELIVER with hi1_build_deliver() (a part of a delivery, or a
 * notification) and sends it with push_send(), as the gateway does, then
 * prints the outcome: "ok: acknowledged" (exit 0) or "failed: REASON"
 * (exit 1); 2 for usage or set-up errors.
 *
 *   push_send --url URL --cert C --key K --cacert CA --templates DIR
 *             [--carrier ID] [--authority ID] [--timeout MS]
 *             --oid UUID --delivery UUID --seq N [--last] [--manifest FILE]
 *             --data FILE [--corrupt]
 *   push_send ... --oid UUID --note TEXT
 *
 * --corrupt changes one character of the part's base64 Data after the
 * message is built, so that its bytes no longer match its Checksum.
 * --print writes the message to stdout instead of sending it (seeds for
 * tests/fuzz/corpus-hi1_resp); only --oid and the object's options count.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hi1.h"
#include "hi1_object.h"
#include "log.h"
#include "obj.h"
#include "push.h"

struct args {
	const char	*url, *cert, *key, *ca, *templates, *carrier, *authority;
	const char	*oid, *delivery, *manifest, *data, *note;
	unsigned	 timeout_ms, seq;
	bool		 last, corrupt, print;
};

static int	 done, result;

static void
sent(int ok, const char *why, void *arg)
{
	(void)arg;
	printf("%s: %s\n", ok ? "ok" : "failed", why);
	result = ok ? 0 : 1;
	done = 1;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	uint8_t	*buf;
	long	 n;

	if (f == NULL || fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) == -1 || (buf = malloc((size_t)n)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "push_send: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* One base64 character of the last Data element, changed. */
static void
corrupt(char *body)
{
	char	*p = NULL, *q;

	for (q = body; (q = strstr(q, "<delivery:Data>")) != NULL; q++)
		p = q + strlen("<delivery:Data>");
	if (p == NULL) {
		fprintf(stderr, "push_send: no Data to corrupt\n");
		exit(2);
	}
	*p = *p == 'A' ? 'B' : 'A';
}

static char *
build(const struct args *a, size_t *len)
{
	struct hi1_response_header	 h;
	struct hi1_answer		 ans;
	struct obj			 o;
	char				 tid[HI1_UUID_LEN + 1], *body;
	uint8_t				*data = NULL, *man = NULL;

	memset(&o, 0, sizeof(o));
	memset(&ans, 0, sizeof(ans));
	snprintf(o.owner, sizeof(o.owner), "%s", a->authority);
	snprintf(o.oid, sizeof(o.oid), "%s", a->oid);
	snprintf(o.ref, sizeof(o.ref), "MXC-20261207-00000042");
	o.generation = 1;
	o.created_us = o.changed_us = 1796659200000000LL;
	if (a->note != NULL) {
		o.kind = HI1_OBJ_NOTIFICATION;
		snprintf(o.u.note.text, sizeof(o.u.note.text), "%s", a->note);
	} else {
		o.kind = HI1_OBJ_DELIVERY;
		hi1_uuid(o.u.part.task_id, sizeof(o.u.part.task_id));
		snprintf(o.u.part.delivery_id, sizeof(o.u.part.delivery_id),
		    "%s", a->delivery);
		snprintf(o.u.part.ldid, sizeof(o.u.part.ldid), "MX-FGR-000123");
		o.u.part.seq = a->seq;
		o.u.part.last = a->last;
		ans.data = data = slurp(a->data, &ans.data_len);
		if (a->manifest != NULL)
			ans.manifest = man = slurp(a->manifest, &ans.manifest_len);
	}
	ans.verb = HI1_VERB_DELIVER;
	ans.obj = &o;
	hi1_uuid(tid, sizeof(tid));
	h = (struct hi1_response_header){ a->carrier, a->authority, tid,
	    1796659200000000LL };
	body = hi1_build_deliver(&h, &ans, 1, len);
	free(data);
	free(man);
	if (body == NULL) {
		fprintf(stderr, "push_send: cannot build the DELIVER\n");
		exit(2);
	}
	if (a->corrupt)
		corrupt(body);
	return body;
}

static void
options(int argc, char *argv[], struct args *a)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, 'a' },
		{ "templates", required_argument, NULL, 'T' },
		{ "carrier", required_argument, NULL, 'C' },
		{ "authority", required_argument, NULL, 'A' },
		{ "timeout", required_argument, NULL, 't' },
		{ "oid", required_argument, NULL, 'i' },
		{ "delivery", required_argument, NULL, 'd' },
		{ "seq", required_argument, NULL, 's' },
		{ "last", no_argument, NULL, 'L' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "data", required_argument, NULL, 'D' },
		{ "corrupt", no_argument, NULL, 'X' },
		{ "note", required_argument, NULL, 'n' },
		{ "print", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': a->url = optarg; break;
		case 'c': a->cert = optarg; break;
		case 'k': a->key = optarg; break;
		case 'a': a->ca = optarg; break;
		case 'T': a->templates = optarg; break;
		case 'C': a->carrier = optarg; break;
		case 'A': a->authority = optarg; break;
		case 't': a->timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': a->oid = optarg; break;
		case 'd': a->delivery = optarg; break;
		case 's': a->seq = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'L': a->last = true; break;
		case 'm': a->manifest = optarg; break;
		case 'D': a->data = optarg; break;
		case 'X': a->corrupt = true; break;
		case 'n': a->note = optarg; break;
		case 'P': a->print = true; break;
		default: exit(2);
		}
	}
	if ((!a->print && (a->url == NULL || a->cert == NULL ||
	    a->key == NULL || a->ca == NULL || a->templates == NULL)) ||
	    a->oid == NULL ||
	    (a->note == NULL && (a->delivery == NULL || a->seq == 0 ||
	    a->data == NULL))) {
		fprintf(stderr, "push_send: missing options (see its header)\n");
		exit(2);
	}
}

int
main(int argc, char *argv[])
{
	struct args		 a = { .carrier = "MXCARRIER", .authority = "FGR",
				    .timeout_ms = 10000 };
	struct push_config	 cfg;
	struct event_base	*base;
	struct hi1_schema	*schema;
	struct push		*p;
	const char		*ids[1];
	char			*body;
	size_t			 len;

	signal(SIGPIPE, SIG_IGN);
	log_init("push_send", 1, 0);
	options(argc, argv, &a);
	if (a.print) {
		body = build(&a, &len);
		fwrite(body, 1, len, stdout);
		free(body);
		return 0;
	}
	hi1_init();
	if ((schema = hi1_schema_load(a.templates)) == NULL ||
	    (base = event_base_new()) == NULL)
		return 2;
	cfg = (struct push_config){ a.cert, a.key, a.ca, NULL, a.timeout_ms,
	    a.carrier };
	if ((p = push_new(base, &cfg, schema)) == NULL)
		return 2;
	body = build(&a, &len);
	ids[0] = a.oid;
	if (push_send(p, a.url, a.authority, ids, 1, body, len, sent,
	    NULL) == -1) {
		fprintf(stderr, "push_send: %s: not an https URL\n", a.url);
		return 2;
	}
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
	push_free(p);
	event_base_free(base);
	hi1_schema_free(schema);
	hi1_cleanup();
	return result;
}
