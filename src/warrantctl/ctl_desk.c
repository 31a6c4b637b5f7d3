/*
 * ctl_desk — `warrantctl desk ...`, the compliance desk's commands over its
 * JSON API (docs/desk-api.md): queue, show, approve, reject, hold, release,
 * assign, note, reviewed, reopen. The answer is untrusted like every other:
 * parsed with jansson (bounded by CTL_MAX_BODY), and every string printed is
 * cleaned (ctl_clean). With --json the server's JSON is printed as received,
 * once it parses. Exit status as elsewhere: 0 done, 1 refused (HTTP 4xx, or our
 * certificate refused in the handshake), 2 anything else.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

#define DESK_TARGET_MAX		1024

static int
ctl_desk_usage(void)
{
	fprintf(stderr, "usage: warrantctl [options] [--json] desk queue "
	    "[KEY=VALUE...] | show REF |\n"
	    "           approve REF | reject REF --reason TEXT | hold REF "
	    "--note TEXT |\n"
	    "           release REF | reviewed REF | reopen REF |\n"
	    "           assign REF OPERATOR | note REF TEXT [--task UUID]\n");
	return CTL_FAILED;
}

/* A string of the answer, cleaned for the terminal ("" if absent). */
static const char *
ctl_desk_str(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		ctl_clean(json_string_value(v), buf, len);
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v))
		snprintf(buf, len, "yes");
	else
		buf[0] = '\0';
	return buf;
}

/* Percent-encode s onto the end of out (RFC 3986 unreserved kept). */
static int
ctl_desk_encode(char *out, size_t len, const char *s)
{
	size_t n = strlen(out);

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int w;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL)
			w = snprintf(out + n, len - n, "%c", c);
		else
			w = snprintf(out + n, len - n, "%%%02X", c);
		if (w < 0 || (size_t)w >= len - n)
			return -1;
		n += (size_t)w;
	}
	return 0;
}

static void
ctl_desk_print_task(json_t *t)
{
	char	ref[64], task[64], type[64], state[64], left[32], auth[64];
	char	off[96], holder[96], held[8];
	json_t	*sl = json_object_get(t, "seconds_left");

	left[0] = '\0';
	if (json_is_integer(sl)) {
		long long s = (long long)json_integer_value(sl);

		snprintf(left, sizeof(left), "%s%lldh%02lldm", s < 0 ? "-" : "",
		    (s < 0 ? -s : s) / 3600, ((s < 0 ? -s : s) % 3600) / 60);
	}
	printf("%s %s %s %s %s %s %s%s%s%s\n",
	    ctl_desk_str(t, "ref", ref, sizeof(ref)),
	    ctl_desk_str(t, "task", task, sizeof(task)),
	    ctl_desk_str(t, "type", type, sizeof(type)),
	    ctl_desk_str(t, "state", state, sizeof(state)),
	    left[0] ? left : "-",
	    ctl_desk_str(t, "authority", auth, sizeof(auth)),
	    ctl_desk_str(t, "official", off, sizeof(off))[0] ? off : "-",
	    ctl_desk_str(t, "holder", holder, sizeof(holder))[0] ? " holder=" : "",
	    holder, ctl_desk_str(t, "held", held, sizeof(held))[0] ? " on-hold" : "");
}

/* The answer in words (or as received with --json); the exit status. */
static int
ctl_desk_report(const struct ctl_desk_opts *o, const char *cmd,
    const struct ctl_response *resp)
{
	json_t		*j, *a;
	json_error_t	 jerr;
	char		 b1[256], b2[512];
	size_t		 i;

	if ((j = json_loadb(resp->body, resp->bodylen, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL || !json_is_object(j)) {
		json_decref(j);
		fprintf(stderr, "warrantctl: desk %s: HTTP %d and an answer that "
		    "is not a JSON object\n", cmd, resp->status);
		return CTL_FAILED;
	}
	if (resp->status != 200) {
		fprintf(stderr, "warrantctl: desk %s: HTTP %d %s: %s\n", cmd,
		    resp->status, ctl_desk_str(j, "error", b1, sizeof(b1)),
		    ctl_desk_str(j, "message", b2, sizeof(b2)));
		json_decref(j);
		return resp->status >= 400 && resp->status < 500 ?
		    CTL_REFUSED : CTL_FAILED;
	}
	if (o->json)
		fwrite(resp->body, 1, resp->bodylen, stdout), putchar('\n');
	else if (strcmp(cmd, "queue") == 0) {
		a = json_object_get(j, "tasks");
		printf("%s open tasks\n", ctl_desk_str(j, "total", b1, sizeof(b1)));
		for (i = 0; json_is_array(a) && i < json_array_size(a); i++)
			ctl_desk_print_task(json_array_get(a, i));
	} else if (strcmp(cmd, "show") == 0) {
		a = json_object_get(j, "objects");
		printf("%s (%s)\n", ctl_desk_str(j, "ref", b1, sizeof(b1)),
		    ctl_desk_str(j, "authority", b2, sizeof(b2)));
		for (i = 0; json_is_array(a) && i < json_array_size(a); i++) {
			json_t *x = json_array_get(a, i);
			char k[32], id[64], st[64];

			if (json_object_get(x, "task") != NULL &&
			    json_object_get(x, "type") != NULL) {
				printf("  ");
				ctl_desk_print_task(x);
			} else
				printf("  %s %s %s\n", ctl_desk_str(x, "kind", k,
				    sizeof(k)), ctl_desk_str(x, "object", id,
				    sizeof(id)), ctl_desk_str(x, "state", st,
				    sizeof(st)));
		}
	} else
		printf("%s %s: done by %s (journal record %s)\n", cmd,
		    ctl_desk_str(j, "ref", b1, sizeof(b1)),
		    ctl_desk_str(j, "operator", b2, sizeof(b2)),
		    ctl_desk_str(j, "journal_seq", b2 + 256, 256));
	json_decref(j);
	return CTL_ACCEPTED;
}

/* GET target, or POST body to it; the answer reported. */
static int
ctl_desk_call(struct ctl_state *st, const struct ctl_desk_opts *o,
    const char *cmd, const char *target, const char *body)
{
	struct ctl_http_req	 q = { body ? "POST" : "GET", target,
	    "application/json", body != NULL };
	struct ctl_response	 resp;
	struct ctl_err		 err;
	int			 rc;

	st->req = &q;
	memset(&resp, 0, sizeof(resp));
	if (ctl_exchange(st, body, body ? strlen(body) : 0, &resp, &err) == -1) {
		st->req = NULL;
		fprintf(stderr, "warrantctl: desk %s: %s\n", cmd, err.msg);
		return err.kind == CTL_E_REFUSED ? CTL_REFUSED : CTL_FAILED;
	}
	st->req = NULL;
	rc = ctl_desk_report(o, cmd, &resp);
	ctl_response_free(&resp);
	return rc;
}

static int
ctl_desk_queue(struct ctl_state *st, const struct ctl_desk_opts *o, int argc,
    char **argv)
{
	char target[DESK_TARGET_MAX] = "/desk/api/queue";

	for (int i = 0; i < argc; i++) {
		const char	*eq = strchr(argv[i], '=');
		char		 key[64];

		if (eq == NULL || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			fprintf(stderr, "warrantctl: desk queue: %s: expected "
			    "KEY=VALUE\n", argv[i]);
			return CTL_FAILED;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		strncat(target, i == 0 ? "?" : "&", sizeof(target) - strlen(target) - 1);
		if (ctl_desk_encode(target, sizeof(target), key) == -1 ||
		    strlen(target) + 1 >= sizeof(target) ||
		    !strcat(target, "=") ||
		    ctl_desk_encode(target, sizeof(target), eq + 1) == -1) {
			fprintf(stderr, "warrantctl: desk queue: too long\n");
			return CTL_FAILED;
		}
	}
	return ctl_desk_call(st, o, "queue", target, NULL);
}

int
ctl_desk_run(struct ctl_state *st, const struct ctl_desk_opts *o, int argc,
    char **argv)
{
	const char	*cmd = argv[0], *text_key = NULL, *text = NULL;
	char		 target[DESK_TARGET_MAX];
	json_t		*body;
	char		*s;
	int		 rc;

	if (strcmp(cmd, "queue") == 0)
		return ctl_desk_queue(st, o, argc - 1, argv + 1);
	if (argc < 2)
		return ctl_desk_usage();
	if (strcmp(cmd, "show") == 0 && argc == 2) {
		snprintf(target, sizeof(target), "/desk/api/requests/");
		if (ctl_desk_encode(target, sizeof(target), argv[1]) == -1)
			return ctl_desk_usage();
		return ctl_desk_call(st, o, cmd, target, NULL);
	}
	if (strcmp(cmd, "reject") == 0 && argc == 2 && o->reason)
		text_key = "reason", text = o->reason;
	else if (strcmp(cmd, "hold") == 0 && argc == 2 && o->note)
		text_key = "note", text = o->note;
	else if ((strcmp(cmd, "note") == 0 || strcmp(cmd, "assign") == 0) &&
	    argc == 3)
		text_key = cmd[0] == 'n' ? "text" : "operator", text = argv[2];
	else if ((strcmp(cmd, "approve") != 0 && strcmp(cmd, "release") != 0 &&
	    strcmp(cmd, "reviewed") != 0 && strcmp(cmd, "reopen") != 0) ||
	    argc != 2)
		return ctl_desk_usage();
	/* jansson escapes what we send; the server checks it again. */
	if ((body = json_pack("{s:s}", "ref", argv[1])) == NULL ||
	    (o->task && json_object_set_new(body, "task",
	    json_string(o->task)) == -1) ||
	    (text_key && json_object_set_new(body, text_key,
	    json_string(text)) == -1) ||
	    (s = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		fprintf(stderr, "warrantctl: desk %s: the arguments are not "
		    "valid UTF-8\n", cmd);
		return CTL_FAILED;
	}
	json_decref(body);
	snprintf(target, sizeof(target), "/desk/api/%s", cmd);
	rc = ctl_desk_call(st, o, cmd, target, s);
	free(s);
	return rc;
}
