/*
 * fuzz_ctl — libFuzzer target for what warrantctl reads from the carrier
 * when it follows a request (src/warrantctl/ctl_answer.c, src/warrantctl/ctl_fetch.c). The first
 * byte picks the reader, the rest is its input:
 *   0  an answer: ctl_answer_read() (bounds, hardened parse, templates,
 *      extraction), and the base64 of every BinaryData it holds;
 *   1  a manifest, carried as a delivery's last part with a Checksum that
 *      matches (so the manifest's own checks run, not only the digest);
 *   2  a result part, against a one-part manifest made for it (so its
 *      records are counted).
 * Files a check lets through are written to a scratch directory (on
 * /dev/shm when there is one), removed at exit. Run: tests/fuzz/run.sh BUILDDIR [SECONDS].
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hi1.h"
#include "ctl.h"
#include "ctl_life.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define TASK	"2b36a78b-b628-416d-bd22-404e68a0cd36"
#define DELIV	"d1079830-8e9a-4731-8fb7-36b9b961eb72"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 scratch[64];

static void
fuzz_cleanup(void)
{
	char	 cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_ctl: cannot remove %s\n", scratch);
}

static struct hi1_schema *
fuzz_schema(void)
{
	static struct hi1_schema	*schema;

	if (schema == NULL) {
		/* tmpfs if there is one: parts that pass are fsync'ed. */
		snprintf(scratch, sizeof(scratch), "%s/fuzz_ctl.XXXXXX",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if ((schema = hi1_schema_load(TOP_SRCDIR "/etc/templates")) ==
		    NULL || mkdtemp(scratch) == NULL)
			abort();	/* a fuzzer without a schema tests nothing */
		ctl_resp_init();
		atexit(fuzz_cleanup);
	}
	return schema;
}

static void
fuzz_answer(const uint8_t *data, size_t size)
{
	struct ctl_answer	 a;
	char			 why[256];
	uint8_t			*out;
	size_t			 len;

	if (ctl_answer_read(fuzz_schema(), (const char *)data, size, &a, why,
	    sizeof(why)) == -1)
		return;
	for (size_t i = 0; i < a.nactions; i++) {
		const struct ctl_object *o = &a.actions[i].obj;

		if (o->has_data && o->data.b64 != NULL && ctl_b64_decode(
		    o->data.b64, o->data.b64len, CTL_DATA_MAX, &out, &len) == 0)
			free(out);
		if (o->has_manifest && o->manifest.b64 != NULL && ctl_b64_decode(
		    o->manifest.b64, o->manifest.b64len, CTL_DATA_MAX, &out,
		    &len) == 0)
			free(out);
	}
	ctl_answer_free(&a);
}

/* A BinaryData holding data, with its true Checksum. */
static char *
fuzz_binary(const uint8_t *data, size_t size, struct ctl_binary *b)
{
	char	*b64 = malloc(4 * ((size + 2) / 3) + 1);

	if (b64 == NULL)
		abort();
	b->b64len = (size_t)EVP_EncodeBlock((unsigned char *)b64, data,
	    (int)size);
	b->b64 = b64;
	ctl_sha256_hex(data, size, b->checksum);
	return b64;
}

static void
fuzz_object(struct ctl_object *o, uint32_t seq)
{
	memset(o, 0, sizeof(*o));
	o->kind = HI1_OBJ_DELIVERY;
	snprintf(o->id, sizeof(o->id), TASK);
	snprintf(o->delivery_id, sizeof(o->delivery_id), DELIV);
	snprintf(o->reference, sizeof(o->reference), "MX-FGR-1");
	o->seq = seq;
	o->last = true;
}

static void
fuzz_manifest(const uint8_t *data, size_t size)
{
	struct ctl_object	 o;
	struct ctl_fetch	*f;
	char			*b64;

	fuzz_schema();
	if (size == 0 || size > CTL_DATA_MAX)
		return;
	fuzz_object(&o, 3);
	o.has_manifest = true;
	b64 = fuzz_binary(data, size, &o.manifest);
	if ((f = ctl_fetch_new(scratch, TASK, "MX-FGR-1", "MXC-1", 3, NULL)) ==
	    NULL)
		abort();
	ctl_fetch_manifest(f, &o);
	ctl_fetch_finish(f);
	ctl_fetch_free(f);
	free(b64);
}

static void
fuzz_part(const uint8_t *data, size_t size)
{
	struct ctl_object	 o;
	struct ctl_fetch	*f;
	char			 sha[65], *m, *b64m, *b64d;
	int			 n;

	fuzz_schema();
	if (size == 0 || size > CTL_DATA_MAX || (m = malloc(2048)) == NULL)
		return;
	ctl_sha256_hex(data, size, sha);
	n = snprintf(m, 2048, "<LDManifest xmlns=\"urn:warrantd:mx:ld-manifest:1\">"
	    "<DeliveryID>" DELIV "</DeliveryID><CarrierReference>MXC-1"
	    "</CarrierReference><TaskReference>MX-FGR-1</TaskReference>"
	    "<RequestType>CommunicationRecords</RequestType><GeneratedAt>"
	    "2026-12-07T16:00:00.000000Z</GeneratedAt><PartFormat>"
	    "urn:warrantd:mx:ld-result:1</PartFormat><ChecksumType>SHA-256"
	    "</ChecksumType><TotalParts>1</TotalParts><TotalRecords>1"
	    "</TotalRecords><OmittedRecords>0</OmittedRecords><Parts><Part>"
	    "<SequenceNumber>1</SequenceNumber><IdentifierIndex>0"
	    "</IdentifierIndex><Records>1</Records><OmittedRecords>0"
	    "</OmittedRecords><Size>%zu</Size><Checksum>%s</Checksum>"
	    "<LastSequence>true</LastSequence></Part></Parts></LDManifest>",
	    size, sha);
	fuzz_object(&o, 1);
	o.has_manifest = o.has_data = true;
	b64m = fuzz_binary((const uint8_t *)m, (size_t)n, &o.manifest);
	b64d = fuzz_binary(data, size, &o.data);
	if ((f = ctl_fetch_new(scratch, TASK, "MX-FGR-1", "MXC-1", 1, NULL)) ==
	    NULL)
		abort();
	if (ctl_fetch_manifest(f, &o) != 0)
		abort();	/* the manifest made here is right */
	ctl_fetch_part(f, &o);
	ctl_fetch_finish(f);
	ctl_fetch_free(f);
	free(b64m);
	free(b64d);
	free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_answer(data + 1, size - 1);
		break;
	case 1:
		fuzz_manifest(data + 1, size - 1);
		break;
	default:
		fuzz_part(data + 1, size - 1);
		break;
	}
	return 0;
}
