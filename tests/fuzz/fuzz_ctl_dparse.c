/*
 * fuzz_ctl_dparse — libFuzzer target for warrantctl receive's streaming
 * reader of DELIVER bodies (src/warrantctl/ctl_dparse.c), against the tree reader it
 * stands in for, over the same untrusted bytes. Besides sanitizer
 * reports, broken promises abort:
 *
 *  - never more lenient: whatever ctl_dparse accepts, hi1_parse_deliver
 *    accepts too, with the same actions and the same decoded bytes (it
 *    may refuse more: non-canonical base64 padding, bounds it checks
 *    while parsing);
 *  - the SHA-256 it computed while decoding is the decoded bytes';
 *  - each decoded Data is page-aligned (ctl_deliver writes it with
 *    O_DIRECT);
 *  - the same body in pieces of 13 bytes, each its own chain of the
 *    buffer (ctl_dparse_buffer), gets the same outcome and error code.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "ctl_receive.h"
#include "hi1.h"
#include "hi1_parse.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_ctl_dparse: broken promise: %s "	\
		    "(line %d)\n", #cond, __LINE__);			\
		abort();						\
	}								\
} while (0)

static struct hi1_schema *
fuzz_schema(void)
{
	static struct hi1_schema	*schema;

	if (schema == NULL) {
		hi1_init();
		ctl_dparse_init();
		if ((schema = hi1_schema_load(TOP_SRCDIR "/etc/templates")) == NULL)
			abort();
	}
	return schema;
}

static void
check_binary(const struct hi1_binary *a, const struct hi1_binary *b,
    const char *sum)
{
	uint8_t	 md[32];
	char	 hex[65];

	CHECK(a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
	CHECK(strcmp(a->checksum, b->checksum) == 0);
	CHECK((uintptr_t)a->data % CTL_DIO_ALIGN == 0);
	EVP_Digest(a->data, a->len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	CHECK(strcmp(hex, sum) == 0);
}

static int
in_pieces(const uint8_t *data, size_t size, struct ctl_dmsg *m,
    struct wd_error *err)
{
	struct evbuffer	*b;
	int		 rc;

	if ((b = evbuffer_new()) == NULL)
		abort();
	for (size_t off = 0; off < size; off += 13)
		if (evbuffer_add_reference(b, data + off, size - off < 13 ?
		    size - off : 13, NULL, NULL) == -1)
			abort();
	rc = ctl_dparse_buffer(fuzz_schema(), b, m, err);
	evbuffer_free(b);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctl_dmsg	 m, m2;
	struct hi1_deliver	 d;
	struct wd_error		 err, err2, e;
	int			 rc, rc2;

	rc = ctl_dparse(fuzz_schema(), (const char *)data, size, &m, &err);
	rc2 = in_pieces(data, size, &m2, &err2);
	CHECK(rc == rc2);
	if (rc == -1) {
		CHECK(err.code != 0 && err.code == err2.code);
		return 0;
	}
	ctl_dmsg_free(&m2);
	CHECK(hi1_parse_deliver(fuzz_schema(), (const char *)data, size, &d,
	    &e) == 0);
	CHECK(d.n == m.d.n && d.n >= 1 && d.n <= HI1_MAX_ACTIONS);
	for (size_t i = 0; i < d.n; i++) {
		CHECK(d.items[i].action_id == m.d.items[i].action_id);
		CHECK(strcmp(d.items[i].object_id, m.d.items[i].object_id) == 0);
		CHECK(d.items[i].has_data == m.d.items[i].has_data);
		CHECK(d.items[i].has_manifest == m.d.items[i].has_manifest);
		if (m.d.items[i].has_data)
			check_binary(&m.d.items[i].data, &d.items[i].data,
			    m.sum[i][0]);
		if (m.d.items[i].has_manifest)
			check_binary(&m.d.items[i].manifest,
			    &d.items[i].manifest, m.sum[i][1]);
	}
	hi1_deliver_free(&d);
	ctl_dmsg_free(&m);
	return 0;
}
