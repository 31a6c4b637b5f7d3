/*
 * desk_input — the compliance desk's untrusted input (include in desk.c's
 * callers: src/warrantd/desk_input.h): query strings, texts an operator writes and
 * action bodies, each parsed into bounded, checked fields before the desk
 * looks at them. Pure (no I/O, no state), so tests/fuzz/fuzz_desk drives
 * it directly.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "desk_input.h"
#include "wd_utf8.h"

/* ---- untrusted text ----------------------------------------------------- */

/*
 * Valid UTF-8 without control characters, 1..max characters: what an
 * operator may write into the journal and the authority may read.
 */
bool
desk_text_ok(const char *s, size_t max)
{
	return wd_utf8_text_ok(s, max);
}

/* References, ids, filter words: printable ASCII without spaces. */
bool
desk_word_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

int
desk_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The value of key in a query string (k=v&k=v, percent-encoded, '+' a
 * space), decoded into out. 1 found, 0 absent, -1 malformed or too long.
 */
int
desk_query_get(const char *q, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	while (q != NULL && *q != '\0') {
		const char	*end = strchr(q, '&');
		size_t		 len = end ? (size_t)(end - q) : strlen(q);

		if (len > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
			size_t	 o = 0;

			for (size_t i = klen + 1; i < len; i++) {
				int c = (unsigned char)q[i], hi, lo;

				if (c == '%') {
					if (i + 2 >= len ||
					    (hi = desk_hex(q[i + 1])) == -1 ||
					    (lo = desk_hex(q[i + 2])) == -1)
						return -1;
					c = hi << 4 | lo;
					i += 2;
				} else if (c == '+')
					c = ' ';
				if (c == 0 || o + 1 >= outlen)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 1;
		}
		q = end ? end + 1 : NULL;
	}
	return 0;
}

int
desk_date_parse(const char *q, int *y, int *m, int *d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	char	 v[16];
	int	 rc;

	if (q == NULL || *q == '\0')
		return 0;
	/* One parameter, date, or nothing: anything else is a mistake. */
	if (strncmp(q, "date=", 5) != 0 || strchr(q, '&') != NULL)
		return -1;
	if ((rc = desk_query_get(q, "date", v, sizeof(v))) != 1)
		return -1;
	if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
		return -1;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)v[i]))
			return -1;
	*y = atoi(v);
	*m = atoi(v + 5);
	*d = atoi(v + 8);
	if (*y < 2000 || *y > 2099 || *m < 1 || *m > 12 || *d < 1 ||
	    *d > mdays[*m - 1] || (*m == 2 && *d == 29 && *y % 4 != 0))
		return -1;
	return 1;
}

static const char *const desk_filter_keys[] = {
	"state", "type", "authority", "holder", "carrier_ref", "authority_ref",
	"identifier", "sort", "order", "limit", NULL
};

/* Parse and check the queue's parameters; NULL or what is wrong. */
const char *
desk_filter_parse(const char *q, struct desk_filter *f)
{
	char	*dst[] = { f->state, f->type, f->authority, f->holder,
	    f->carrier_ref, f->authority_ref, f->identifier, f->sort };
	char	 order[DESK_FIELD_MAX + 1] = "", limit[DESK_FIELD_MAX + 1] = "";
	char	 *p;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; desk_filter_keys[i] != NULL; i++) {
		char	*out = i < 8 ? dst[i] : i == 8 ? order : limit;
		int	 rc = desk_query_get(q, desk_filter_keys[i], out,
		    DESK_FIELD_MAX + 1);

		if (rc == -1 || (rc == 1 && !desk_word_ok(out, DESK_FIELD_MAX)))
			return desk_filter_keys[i];
	}
	if (f->sort[0] == '\0')
		snprintf(f->sort, sizeof(f->sort), "deadline");
	if (strcmp(f->sort, "deadline") != 0 && strcmp(f->sort, "created") != 0 &&
	    strcmp(f->sort, "ref") != 0 && strcmp(f->sort, "authority") != 0 &&
	    strcmp(f->sort, "type") != 0 && strcmp(f->sort, "state") != 0)
		return "sort";
	if (order[0] && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
		return "order";
	f->desc = strcmp(order, "desc") == 0;
	f->limit = DESK_QUEUE_DEFAULT;
	if (limit[0]) {
		unsigned long v = strtoul(limit, &p, 10);

		if (*p != '\0' || v == 0 || v > DESK_QUEUE_MAX || limit[0] == '0')
			return "limit";
		f->limit = v;
	}
	return NULL;
}

/* ---- action bodies ------------------------------------------------------ */

static int
desk_body_str(json_t *o, const char *key, char *out, size_t outlen, bool *has)
{
	json_t *v = json_object_get(o, key);

	*has = false;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= outlen ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;	/* not a string, too long, or with a NUL */
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	*has = true;
	return 0;
}

/* The text field each action takes: reject's reason, hold's note, note's text. */
const char *
desk_body_text_key(const char *action)
{
	return strcmp(action, "reject") == 0 ? "reason" :
	    strcmp(action, "hold") == 0 ? "note" :
	    strcmp(action, "note") == 0 ? "text" : NULL;
}

const char *
desk_body_parse(const char *action, const char *body, size_t len,
    struct desk_body *b)
{
	json_t		*o;
	json_error_t	 jerr;
	const char	*key = desk_body_text_key(action), *bad = NULL;
	bool		 has_ref;

	memset(b, 0, sizeof(*b));
	if (body == NULL || len == 0 || len > DESK_BODY_MAX ||
	    (o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return "bad-json";
	if (!json_is_object(o))
		bad = "bad-json";
	else if (desk_body_str(o, "ref", b->ref, sizeof(b->ref), &has_ref) == -1 ||
	    !has_ref || !desk_word_ok(b->ref, sizeof(b->ref) - 1))
		bad = "bad-reference";
	else if (desk_body_str(o, "task", b->task, sizeof(b->task),
	    &b->has_task) == -1 || (b->has_task &&
	    !desk_word_ok(b->task, sizeof(b->task) - 1)))
		bad = "bad-task";
	else if (key != NULL && (desk_body_str(o, key, b->text, sizeof(b->text),
	    &b->has_text) == -1 || !b->has_text ||
	    !desk_text_ok(b->text, DESK_TEXT_MAX) ||
	    (strcmp(action, "reject") == 0 && strlen(b->text) >= DESK_REASON_MAX)))
		bad = "bad-text";
	else if (strcmp(action, "assign") == 0 && (desk_body_str(o, "operator",
	    b->operator, sizeof(b->operator), &b->has_operator) == -1 ||
	    !b->has_operator || !desk_word_ok(b->operator, sizeof(b->operator) - 1)))
		bad = "bad-operator";
	json_decref(o);
	return bad;
}
