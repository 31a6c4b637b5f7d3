/*
 * x1_send — test driver of tests/x1/x1-client.sh: loads a warrantd.conf,
 * takes one of its `ne` blocks and sends one X1 request to that element
 * with x1c_send(), as the gateway does, then prints the outcome:
 *
 *   answered ok [held XID...] [dids N]    exit 0
 *   answered error CODE: TEXT             exit 3
 *   failed: WHY                           exit 1
 *   attempts N                            always, after the above
 *
 *   x1_send -f CONF -n NE ping | get-all | create-destination
 *   x1_send -f CONF -n NE activate XID TYPE:VALUE... | modify XID TYPE:VALUE...
 *   x1_send -f CONF -n NE deactivate XID | get-task XID
 *   x1_send -f CONF -n NE --print OP ...   the message on stdout, not sent
 *
 * TYPE is e164, imsi, imei, ipv4 or ipv6, VALUE in X1 form. The
 * destination is the block's, its DID derived as the gateway derives it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "hi1.h"
#include "log.h"
#include "x1.h"
#include "x1_client.h"

static int	 result = 2;
static struct event_base *base;

static void
answered(const struct x1c_result *res, void *arg)
{
	const struct x1_answer *a = res->answer;

	(void)arg;
	if (!res->answered) {
		printf("failed: %s\n", res->why);
		result = 1;
	} else if (a->error) {
		printf("answered error %ld: %s\n", a->code, a->text);
		result = 3;
	} else {
		printf("answered ok");
		for (size_t i = 0; i < a->nheld; i++)
			printf(" held %s%s", a->held[i].xid,
			    a->held[i].failed ? "(failed)" : "");
		if (a->op == X1_GET_ALL)
			printf(" dids %zu", a->ndids);
		printf("\n");
		result = 0;
	}
	printf("attempts %zu\n", res->ntxids);
	event_base_loopbreak(base);
}

static int
op_of(const char *s, enum x1_op *op)
{
	static const struct { const char *n; enum x1_op op; } t[] = {
		{ "ping", X1_PING }, { "get-all", X1_GET_ALL },
		{ "create-destination", X1_CREATE_DESTINATION },
		{ "get-destination", X1_GET_DESTINATION },
		{ "activate", X1_ACTIVATE }, { "modify", X1_MODIFY },
		{ "deactivate", X1_DEACTIVATE }, { "get-task", X1_GET_TASK },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0) {
			*op = t[i].op;
			return 0;
		}
	return -1;
}

static int
targets(char **v, int n, struct x1_task *t)
{
	for (int i = 0; i < n && t->ntargets < X1_MAX_TARGETS; i++) {
		char	*colon = strchr(v[i], ':');
		int	 k;

		if (colon == NULL)
			return -1;
		*colon = '\0';
		for (k = 0; k < WD_NE__COUNT; k++)
			if (strcmp(v[i], conf_ne_target_name(k)) == 0)
				break;
		if (k == WD_NE__COUNT)
			return -1;
		t->targets[t->ntargets].type = k;
		snprintf(t->targets[t->ntargets].value,
		    sizeof(t->targets[0].value), "%s", colon + 1);
		t->ntargets++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct wd_conf	*conf;
	struct wd_ne	*ne;
	struct x1c	*c;
	struct x1_msg	 m = { 0 };
	struct x1_task	 task = { 0 };
	struct x1_dest	 dest = { 0 };
	const char	*path = NULL, *name = NULL;
	char		*body;
	size_t		 len;
	int		 ch, print = 0;

	while ((ch = getopt(argc, argv, "f:n:p")) != -1)
		switch (ch) {
		case 'f': path = optarg; break;
		case 'n': name = optarg; break;
		case 'p': print = 1; break;
		default: return 2;
		}
	argc -= optind;
	argv += optind;
	log_init("x1_send", 1, 1);
	hi1_init();
	if (path == NULL || name == NULL || argc < 1 || op_of(argv[0], &m.op))
		return 2;
	if ((conf = conf_load(path)) == NULL ||
	    (ne = conf_find_ne(conf, name)) == NULL) {
		fprintf(stderr, "x1_send: no ne \"%s\" in %s\n", name, path);
		return 2;
	}
	x1_derive_uuid("warrantd x1 did", ne->name, ne->dest_addr, dest.did);
	snprintf(dest.addr, sizeof(dest.addr), "%s", ne->dest_addr);
	dest.v6 = ne->dest_v6;
	dest.port = ne->dest_port;
	m.dest = &dest;
	if (m.op == X1_ACTIVATE || m.op == X1_MODIFY) {
		if (argc < 3 || targets(argv + 2, argc - 2, &task) == -1)
			return 2;
		snprintf(task.xid, sizeof(task.xid), "%s", argv[1]);
		snprintf(task.did, sizeof(task.did), "%s", dest.did);
		task.delivery = "X2andX3";
		m.task = &task;
	} else if (m.op == X1_DEACTIVATE || m.op == X1_GET_TASK) {
		if (argc != 2)
			return 2;
		m.id = argv[1];
	} else if (m.op == X1_GET_DESTINATION)
		m.id = dest.did;
	if (print) {
		m.admf = conf->carrier_id;
		m.ne = ne->name;
		if (x1_build(&m, &body, &len) == 0) {
			fwrite(body, 1, len, stdout);
			free(body);
			result = 0;
		} else
			result = 1;
		conf_free(conf);
		hi1_cleanup();
		return result;
	}
	if ((base = event_base_new()) == NULL ||
	    (c = x1c_new(base, ne, conf->carrier_id)) == NULL)
		return 2;
	if (x1c_send(c, &m, m.id ? m.id : task.xid, answered, NULL) == -1)
		return 2;
	event_base_dispatch(base);
	x1c_free(c);
	event_base_free(base);
	conf_free(conf);
	hi1_cleanup();
	return result;
}
