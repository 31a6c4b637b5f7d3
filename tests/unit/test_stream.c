/*
 * test_stream — a GET answer streamed from the results store
 * (src/warrantd/answer_stream.c) and its base64 (lib/wd_b64.c): the base64 is
 * EVP_EncodeBlock's, whole and in any split; a part of several chunks
 * (odd sizes: base64 groups cross chunks) comes out as the text with the
 * part's base64 in place, whatever the amount asked each time; a chunk
 * altered on disk ends the answer before that chunk's bytes, and the text
 * after the part is never sent; a part shorter or longer than announced
 * is refused likewise; the readers are released once, also when the
 * answer is dropped half way (a client gone: ASan sees no leak); a GET
 * answer of 16 streamed parts, one with its manifest, has a cut for each
 * part, in order, and no marker left in its text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "answer_stream.h"
#include "hi1_object.h"
#include "obj.h"
#include "results.h"
#include "wd_b64.h"

static char	tmpdir[64];

static uint32_t	rnd_state = 12345;

static uint32_t
rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void
fill_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* ---- base64 ------------------------------------------------------------ */

static void
test_b64_whole_and_split(void **state)
{
	uint8_t	 in[3000];
	char	 a[4100], b[4100];
	size_t	 n, k, at;
	struct wd_b64 s;

	(void)state;
	fill_bytes(in, sizeof(in));
	for (size_t len = 0; len <= sizeof(in); len += len < 40 ? 1 : 97) {
		n = wd_b64_encode(a, in, len);
		assert_int_equal(n, WD_B64_LEN(len));
		assert_int_equal(EVP_EncodeBlock((unsigned char *)b, in, (int)len),
		    (int)n);
		assert_memory_equal(a, b, n);
		/* The same in random pieces, some of one or two bytes. */
		wd_b64_init(&s);
		k = 0;
		for (at = 0; at < len; at += n) {
			n = rnd() % 7 == 0 ? rnd() % 3 : rnd() % 200;
			if (n > len - at)
				n = len - at;
			k += wd_b64_update(&s, b + k, in + at, n);
		}
		k += wd_b64_final(&s, b + k);
		assert_int_equal(k, WD_B64_LEN(len));
		assert_memory_equal(a, b, k);
	}
}

/* ---- the streamed answer ------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct results *store;

static int
setup(void **state)
{
	char	path[PATH_MAX];
	uint8_t	key[32];
	int	fd;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_stream.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	memset(key, 0x42, sizeof(key));
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) == -1 ||
	    write(fd, key, sizeof(key)) != (ssize_t)sizeof(key))
		return -1;
	close(fd);
	return (store = results_open(tmpdir, path, 3600)) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	results_close(store);
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define NCHUNK	4
static const size_t chunk_sizes[NCHUNK] = { 3001, 4096, 17, 2000 };
#define PART_LEN	(3001 + 4096 + 17 + 2000)

static uint8_t	part[PART_LEN];

static void
write_part(const char *name)
{
	struct results_writer	*w;
	size_t			 at = 0;

	fill_bytes(part, sizeof(part));
	assert_non_null(w = results_create(store, name));
	for (size_t i = 0; i < NCHUNK; i++) {
		assert_int_equal(results_append(w, part + at, chunk_sizes[i]), 0);
		at += chunk_sizes[i];
	}
	assert_int_equal(results_finish(w, 1), 0);
}

/* Flip one byte of chunk k's ciphertext on disk. */
static void
corrupt_chunk(const char *name, size_t k)
{
	char	path[PATH_MAX];
	off_t	off = 8 + 4 + 4 + 8 + 32 + (off_t)strlen(name);
	uint8_t	b;
	int	fd;

	for (size_t i = 0; i < k; i++)
		off += 17 + (off_t)chunk_sizes[i] + 16;
	off += 17 + 5;
	snprintf(path, sizeof(path), "%s/results/%s.res", tmpdir, name);
	assert_true((fd = open(path, O_RDWR)) != -1);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static int released;

static void
release_reader(void *arg)
{
	results_reader_close(arg);
	released++;
}

#define HEAD	"<m><Data>"
#define TAIL	"</Data><Checksum>x</Checksum></m>"

/* HEAD, the part (announced as len bytes) from rd, TAIL. */
static struct astream *
make_stream(struct results_reader *rd, size_t len)
{
	struct hi1_pieces	 pc;
	struct astream		*s;

	memset(&pc, 0, sizeof(pc));
	assert_true(asprintf(&pc.text, "%s%s", HEAD, TAIL) > 0);
	pc.len = strlen(pc.text);
	pc.ncut = 1;
	pc.cut[0] = strlen(HEAD);
	pc.cut_bytes[0] = len;
	pc.cut_len[0] = WD_B64_LEN(len);
	pc.cut_src[0] = rd;
	assert_non_null(s = astream_new(&pc, release_reader, rd));
	assert_null(pc.text);
	assert_int_equal(astream_length(s), strlen(HEAD) + WD_B64_LEN(len) +
	    strlen(TAIL));
	return s;
}

static struct results_reader *
open_part(const char *name)
{
	struct results_reader *rd;

	assert_non_null(rd = results_reader_open(store, name));
	assert_int_equal(results_reader_bytes(rd), PART_LEN);
	assert_int_equal(results_reader_prefetch(rd), 0);
	return rd;
}

/* Fill until done or failed, want bytes at a time; the status. */
static int
drain(struct astream *s, struct evbuffer *out, size_t want)
{
	int rc;

	while ((rc = astream_fill(s, out, want)) == 1)
		;
	return rc;
}

static char *
expected(size_t *len)
{
	char *e = malloc(strlen(HEAD) + WD_B64_LEN(PART_LEN) + strlen(TAIL) + 1);

	assert_non_null(e);
	strcpy(e, HEAD);
	*len = strlen(HEAD);
	*len += wd_b64_encode(e + *len, part, PART_LEN);
	memcpy(e + *len, TAIL, strlen(TAIL) + 1);
	*len += strlen(TAIL);
	return e;
}

static void
test_stream_whole(void **state)
{
	static const size_t wants[] = { 1, 7, 100, 4096, 1 << 20 };
	struct evbuffer	*out;
	char		*e;
	size_t		 elen;

	(void)state;
	write_part("p1");
	e = expected(&elen);
	for (size_t w = 0; w < sizeof(wants) / sizeof(wants[0]); w++) {
		struct astream *s = make_stream(open_part("p1"), PART_LEN);

		assert_non_null(out = evbuffer_new());
		released = 0;
		assert_int_equal(drain(s, out, wants[w]), 0);
		assert_int_equal(evbuffer_get_length(out), elen);
		assert_memory_equal(evbuffer_pullup(out, -1), e, elen);
		/* Whole: asking again adds nothing. */
		assert_int_equal(astream_fill(s, out, 100), 0);
		assert_int_equal(evbuffer_get_length(out), elen);
		astream_free(s);
		assert_int_equal(released, 1);
		evbuffer_free(out);
	}
	free(e);
}

/*
 * Chunk k altered: what went out is a prefix of the answer that stops
 * short of chunk k's bytes, and the text after the part never goes.
 */
static void
test_stream_corrupt_chunk(void **state)
{
	struct results_reader	*rd;
	struct evbuffer		*out;
	struct astream		*s;
	char			*e;
	size_t			 elen, n, before;

	(void)state;
	write_part("p2");
	e = expected(&elen);
	/* The first chunk is checked before the answer begins. */
	corrupt_chunk("p2", 0);
	assert_non_null(rd = results_reader_open(store, "p2"));
	assert_int_equal(results_reader_prefetch(rd), -1);
	results_reader_close(rd);
	for (size_t k = 1; k < NCHUNK; k++) {
		write_part("p2");
		free(e);
		e = expected(&elen);
		corrupt_chunk("p2", k);
		s = make_stream(open_part("p2"), PART_LEN);
		assert_non_null(out = evbuffer_new());
		released = 0;
		assert_int_equal(drain(s, out, 100), -1);
		n = evbuffer_get_length(out);
		before = 0;
		for (size_t i = 0; i < k; i++)
			before += chunk_sizes[i];
		assert_true(n <= strlen(HEAD) + before / 3 * 4);
		assert_memory_equal(evbuffer_pullup(out, -1), e, n);
		astream_free(s);
		assert_int_equal(released, 1);
		evbuffer_free(out);
	}
	free(e);
}

/* A part that is not the size announced: the tail never goes out. */
static void
test_stream_wrong_size(void **state)
{
	static const size_t lens[] = { PART_LEN - 1, PART_LEN + 1, PART_LEN - 3 };
	struct evbuffer	*out;
	struct astream	*s;
	char		*e;
	size_t		 elen;

	(void)state;
	write_part("p3");
	e = expected(&elen);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		s = make_stream(open_part("p3"), lens[i]);
		assert_non_null(out = evbuffer_new());
		assert_int_equal(drain(s, out, 1000), -1);
		assert_true(evbuffer_get_length(out) < strlen(HEAD) +
		    WD_B64_LEN(PART_LEN));
		assert_int_equal(evbuffer_search(out, "</Data>", 7, NULL).pos, -1);
		astream_free(s);
		evbuffer_free(out);
	}
	free(e);
}

/* Dropped half way (the client went): the reader is released once. */
static void
test_stream_dropped(void **state)
{
	struct evbuffer	*out;
	struct astream	*s;

	(void)state;
	write_part("p4");
	s = make_stream(open_part("p4"), PART_LEN);
	assert_non_null(out = evbuffer_new());
	released = 0;
	assert_int_equal(astream_fill(s, out, 10), 1);
	astream_free(s);
	assert_int_equal(released, 1);
	astream_free(NULL);
	evbuffer_free(out);
}

/* ---- a GET answer with its parts' data left as cuts ---------------------- */

static void
test_pieces_sixteen(void **state)
{
	static struct obj		objs[HI1_MAX_ACTIONS];
	struct hi1_answer		a[HI1_MAX_ACTIONS];
	struct hi1_response_header	h = { "MXCARRIER", "FGR",
					    "5d6f8a3e-0c1b-4e6a-9f2d-1a2b3c4d5e6f",
					    1764583200000000 };
	struct hi1_pieces		pc;
	static const uint8_t		manifest[] = "<LDManifest/>";
	static const uint8_t		sha[32];
	int				src[HI1_MAX_ACTIONS];

	(void)state;
	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < HI1_MAX_ACTIONS; i++) {
		struct obj *o = &objs[i];

		memset(o, 0, sizeof(*o));
		o->kind = HI1_OBJ_DELIVERY;
		snprintf(o->oid, sizeof(o->oid),
		    "00000000-0000-4000-8000-0000000000%02zu", i);
		snprintf(o->owner, sizeof(o->owner), "FGR");
		o->generation = 1;
		o->u.part.seq = (uint32_t)i + 1;
		o->u.part.parts = HI1_MAX_ACTIONS;
		a[i].action_id = (uint32_t)i;
		a[i].verb = HI1_VERB_GET;
		a[i].obj = o;
		a[i].data_stream = &src[i];
		a[i].data_len = 1000 + i;
		a[i].data_sha256 = sha;
	}
	/* The first part carries the manifest: a splice of its own. */
	a[0].manifest = manifest;
	a[0].manifest_len = sizeof(manifest) - 1;
	assert_int_equal(hi1_build_answer_pieces(&h, a, HI1_MAX_ACTIONS, &pc), 0);
	assert_int_equal(pc.ncut, HI1_MAX_ACTIONS);
	for (size_t i = 0; i < pc.ncut; i++) {
		assert_ptr_equal(pc.cut_src[i], &src[i]);
		assert_int_equal(pc.cut_bytes[i], 1000 + i);
		assert_int_equal(pc.cut_len[i], WD_B64_LEN(1000 + i));
		assert_true(i == 0 || pc.cut[i] > pc.cut[i - 1]);
		/* Each cut is where a Data element's text goes. */
		assert_true(pc.cut[i] >= 15);
		assert_memory_equal(pc.text + pc.cut[i] - 15, "<delivery:Data>", 15);
	}
	assert_null(strstr(pc.text, "wd-splice-"));
	assert_int_equal(strlen(pc.text), pc.len);
	free(pc.text);
	/* Without cuts to take, a streamed part is an error, never a marker. */
	assert_null(hi1_build_answer(&h, a, HI1_MAX_ACTIONS, &(size_t){ 0 }));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_whole_and_split),
		cmocka_unit_test(test_pieces_sixteen),
		cmocka_unit_test_setup_teardown(test_stream_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_corrupt_chunk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stream_wrong_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stream_dropped, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
