/*
 * desk_input.h — parsing the compliance desk's untrusted input
 * (src/warrantd/desk_input.c): bounded, checked, pure; fuzzed by tests/fuzz/fuzz_desk.
 */
#ifndef WD_DESK_INPUT_H
#define WD_DESK_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#define DESK_BODY_MAX		16384	/* bytes of an action's body */
#define DESK_TEXT_MAX		500	/* characters of a note, hold or reason */
#define DESK_REASON_MAX		256	/* bytes of a reason (StatusReason) + NUL */
#define DESK_QUEUE_DEFAULT	100
#define DESK_QUEUE_MAX		1000
#define DESK_FIELD_MAX		128	/* a filter's value */
#define DESK_REF_MAX		40	/* carrier references + NUL (OBJ_REF_LEN) */
#define DESK_ID_MAX		65	/* registry ids + NUL */

/* Valid UTF-8 without control characters, 1..max characters. */
bool		 desk_text_ok(const char *, size_t max);
/* Printable ASCII without spaces, 1..max bytes. */
bool		 desk_word_ok(const char *, size_t max);
int		 desk_hex(int c);
/*
 * The value of key in a query string (k=v&..., percent-encoded, '+' a
 * space), decoded into out. 1 found, 0 absent, -1 malformed or too long.
 */
int		 desk_query_get(const char *q, const char *key, char *out,
		    size_t outlen);

struct desk_filter {
	char	 state[DESK_FIELD_MAX + 1];
	char	 type[DESK_FIELD_MAX + 1];
	char	 authority[DESK_FIELD_MAX + 1];
	char	 holder[DESK_FIELD_MAX + 1];
	char	 carrier_ref[DESK_FIELD_MAX + 1];
	char	 authority_ref[DESK_FIELD_MAX + 1];
	char	 identifier[DESK_FIELD_MAX + 1];
	char	 sort[DESK_FIELD_MAX + 1];
	bool	 desc;
	size_t	 limit;
};

/* The queue's parameters, checked; NULL, or the name of the bad one. */
const char	*desk_filter_parse(const char *q, struct desk_filter *);

/*
 * The statistics' day: `date=YYYY-MM-DD` (years 2000..2099, a day that
 * exists) and no other parameter. 1 with *y, *m, *d set; 0 absent (the
 * caller takes today); -1 malformed.
 */
int		 desk_date_parse(const char *q, int *y, int *m, int *d);

/* An action's body (one JSON object), its fields checked for the action. */
struct desk_body {
	char	 ref[DESK_REF_MAX];
	char	 task[37];
	bool	 has_task;
	char	 text[4 * DESK_TEXT_MAX + 1];	/* reason, note or text */
	bool	 has_text;
	char	 operator[DESK_ID_MAX];		/* assign */
	bool	 has_operator;
};
const char	*desk_body_text_key(const char *action);
/* NULL, or the error code: bad-json, bad-reference, bad-task, bad-text, bad-operator. */
const char	*desk_body_parse(const char *action, const char *body, size_t len,
		    struct desk_body *);

#endif
