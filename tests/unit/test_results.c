/*
 * test_results — the encrypted results store: round trips (empty, small,
 * chunks at the size limit), the plaintext never on disk, every single byte
 * of a file flipped in turn, truncation, extension, swapped chunks, a
 * renamed file, the wrong key, key file checks, names that could escape the
 * directory, abort and crash leftovers, replacement, purge by carrier
 * reference and the expiry sweep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "results.h"

static char	tmpdir[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static const char *
tmppath(const char *name)
{
	static char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
write_key(const char *name, uint8_t fill, size_t len, mode_t mode)
{
	uint8_t	key[64];
	int	fd;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(fill + i * 7);
	if (fill == 0)
		memset(key, 0, sizeof(key));
	unlink(tmppath(name));
	assert_true((fd = open(tmppath(name), O_WRONLY | O_CREAT, mode)) != -1);
	assert_int_equal(write(fd, key, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_results.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	write_key("key", 0x11, 32, 0600);
	write_key("other.key", 0x5a, 32, 0600);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct results *
store(const char *key)
{
	return results_open(tmpdir, tmppath(key), 3600);
}

static const char *
res_path(const char *name)
{
	static char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/results/%s.res", tmpdir, name);
	return path;
}

/* Write chunks of the given sizes, filled with a pattern; return digest. */
static void
put(struct results *r, const char *name, const size_t *sizes, size_t n,
    uint64_t count, uint8_t sha[32])
{
	struct results_writer	*w;
	EVP_MD_CTX		*md;
	uint8_t			*buf, peek[32];
	size_t			 i, k;

	assert_non_null(md = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_non_null(w = results_create(r, name));
	for (i = 0; i < n; i++) {
		assert_non_null(buf = malloc(sizes[i]));
		for (k = 0; k < sizes[i]; k++)
			buf[k] = (uint8_t)(i * 31 + k);
		if (sizes[i] >= 8)
			memcpy(buf, "SECRET!!", 8);
		assert_int_equal(results_append(w, buf, sizes[i]), 0);
		EVP_DigestUpdate(md, buf, sizes[i]);
		free(buf);
	}
	EVP_DigestFinal_ex(md, sha, NULL);
	EVP_MD_CTX_free(md);
	results_writer_sha256(w, peek);
	assert_memory_equal(peek, sha, 32);
	assert_int_equal(results_finish(w, count), 0);
}

/* Read name whole; 0 if every chunk and the end authenticate. */
static int
get(struct results *r, const char *name, const size_t *sizes, size_t n,
    uint64_t count, const uint8_t sha[32])
{
	struct results_reader	*rd;
	const uint8_t		*data;
	size_t			 len, i = 0, k;
	int			 rc;

	if ((rd = results_reader_open(r, name)) == NULL)
		return -1;
	if (sizes != NULL) {
		assert_int_equal(results_reader_count(rd), count);
		assert_memory_equal(results_reader_sha256(rd), sha, 32);
	}
	while ((rc = results_read(rd, &data, &len)) == 1) {
		if (sizes != NULL) {
			assert_true(i < n);
			assert_int_equal(len, sizes[i]);
			for (k = 8; k < len; k++)
				assert_int_equal(data[k], (uint8_t)(i * 31 + k));
		}
		i++;
	}
	if (rc == 0 && sizes != NULL)
		assert_int_equal(i, n);
	/* The end is reported once; reading on is an error. */
	if (rc == 0)
		assert_int_equal(results_read(rd, &data, &len), -1);
	results_reader_close(rd);
	return rc == 0 ? 0 : -1;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat	 st;
	uint8_t		*buf;
	int		 fd;

	assert_true((fd = open(path, O_RDONLY)) != -1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_non_null(buf = malloc((size_t)st.st_size + 1));
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void
spit(const char *path, const uint8_t *buf, size_t len)
{
	int	fd;

	assert_true((fd = open(path, O_WRONLY | O_TRUNC)) != -1);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void
test_round_trip(void **state)
{
	static const size_t	 sizes[] = { 1, 100, RESULTS_CHUNK_MAX, 65537 };
	struct results		*r;
	uint8_t			 sha[32], empty[32];
	uint8_t			*buf;
	size_t			 len;

	(void)state;
	assert_non_null(r = store("key"));
	put(r, "MXC-20260301-00000001", sizes, 4, 4242, sha);
	assert_int_equal(get(r, "MXC-20260301-00000001", sizes, 4, 4242, sha), 0);

	/* The plaintext marker is nowhere in the file. */
	buf = slurp(res_path("MXC-20260301-00000001"), &len);
	assert_null(memmem(buf, len, "SECRET!!", 8));
	free(buf);

	/* An empty result still has an authenticated seal. */
	put(r, "MXC-20260301-00000002.7", NULL, 0, 0, empty);
	assert_int_equal(get(r, "MXC-20260301-00000002.7", NULL, 0, 0, empty), 0);

	/* Nothing under a name that was not written. */
	assert_null(results_reader_open(r, "MXC-20260301-00000003"));
	results_close(r);

	/* Another open of the same store (a restart) reads it back. */
	assert_non_null(r = store("key"));
	assert_int_equal(get(r, "MXC-20260301-00000001", sizes, 4, 4242, sha), 0);
	results_close(r);
}

static void
test_limits(void **state)
{
	struct results		*r;
	struct results_writer	*w;
	uint8_t			*big;

	(void)state;
	assert_non_null(r = store("key"));
	assert_non_null(w = results_create(r, "x"));
	assert_non_null(big = calloc(1, RESULTS_CHUNK_MAX + 1));
	assert_int_equal(results_append(w, big, RESULTS_CHUNK_MAX + 1), -1);
	assert_int_equal(results_append(w, big, 0), -1);
	assert_int_equal(results_append(w, big, 10), 0);
	assert_int_equal(results_written(w), 10);
	free(big);
	results_abort(w);
	results_abort(NULL);
	/* Aborted: nothing left, not even the temporary. */
	assert_null(results_reader_open(r, "x"));
	assert_int_equal(access(tmppath("results/x.res"), F_OK), -1);

	/* Names that could leave the directory or hide a file. */
	assert_false(results_name_valid("../etc/passwd"));
	assert_false(results_name_valid("a/b"));
	assert_false(results_name_valid(".hidden"));
	assert_false(results_name_valid("a..b"));
	assert_false(results_name_valid(""));
	assert_false(results_name_valid(NULL));
	assert_false(results_name_valid("a b"));
	assert_true(results_name_valid("MXC-20260301-00000001.12"));
	{
		char	long_name[RESULTS_NAME_MAX + 1];

		memset(long_name, 'a', sizeof(long_name));
		long_name[RESULTS_NAME_MAX - 1] = '\0';
		assert_true(results_name_valid(long_name));
		long_name[RESULTS_NAME_MAX - 1] = 'a';
		long_name[RESULTS_NAME_MAX] = '\0';
		assert_false(results_name_valid(long_name));
	}
	assert_null(results_create(r, "../escape"));
	assert_null(results_reader_open(r, "../escape"));
	assert_int_equal(results_delete(r, "../escape"), -1);
	results_close(r);
}

/* Every byte of a small file, flipped in turn, must be caught. */
static void
test_tamper_every_byte(void **state)
{
	static const size_t	 sizes[] = { 40, 3 };
	struct results		*r;
	uint8_t			 sha[32], *orig;
	size_t			 len, i;

	(void)state;
	assert_non_null(r = store("key"));
	put(r, "MXC-1", sizes, 2, 2, sha);
	orig = slurp(res_path("MXC-1"), &len);
	for (i = 0; i < len; i++) {
		orig[i] ^= 0x01;
		spit(res_path("MXC-1"), orig, len);
		if (get(r, "MXC-1", NULL, 0, 0, NULL) != -1)
			fail_msg("flipping byte %zu of %zu went unnoticed", i, len);
		orig[i] ^= 0x01;
	}
	spit(res_path("MXC-1"), orig, len);
	assert_int_equal(get(r, "MXC-1", sizes, 2, 2, sha), 0);

	/* Truncated by one byte, and by the whole seal. */
	spit(res_path("MXC-1"), orig, len - 1);
	assert_int_equal(get(r, "MXC-1", NULL, 0, 0, NULL), -1);
	spit(res_path("MXC-1"), orig, len - 89);
	assert_int_equal(get(r, "MXC-1", NULL, 0, 0, NULL), -1);
	/* Extended by a byte. */
	{
		uint8_t *ext = malloc(len + 1);

		assert_non_null(ext);
		memcpy(ext, orig, len);
		ext[len] = 0;
		spit(res_path("MXC-1"), ext, len + 1);
		free(ext);
	}
	assert_int_equal(get(r, "MXC-1", NULL, 0, 0, NULL), -1);
	free(orig);
	results_close(r);
}

/* Read to the end without the digest: 0 at the end, -1 on any failure. */
static int
get_skip_digest(struct results *r, const char *name, size_t *bytes)
{
	struct results_reader	*rd;
	const uint8_t		*data;
	size_t			 len;
	int			 rc;

	*bytes = 0;
	if ((rd = results_reader_open(r, name)) == NULL)
		return -1;
	results_reader_skip_digest(rd);
	while ((rc = results_read(rd, &data, &len)) == 1)
		*bytes += len;
	results_reader_close(rd);
	return rc;
}

/*
 * A reader that leaves out the SHA-256 (the streamed GET) still notices
 * every flipped byte, chunks swapped, truncation and extension: the chunks'
 * tags and the seal's count carry the whole protection.
 */
static void
test_skip_digest_still_authenticates(void **state)
{
	static const size_t	 sizes[] = { 40, 40, 3 };
	struct results		*r;
	uint8_t			 sha[32], *orig, tmp[40 + 33];
	size_t			 len, i, bytes, off;

	(void)state;
	assert_non_null(r = store("key"));
	put(r, "MXC-9", sizes, 3, 3, sha);
	assert_int_equal(get_skip_digest(r, "MXC-9", &bytes), 0);
	assert_int_equal(bytes, 83);
	orig = slurp(res_path("MXC-9"), &len);
	for (i = 0; i < len; i++) {
		orig[i] ^= 0x01;
		spit(res_path("MXC-9"), orig, len);
		if (get_skip_digest(r, "MXC-9", &bytes) != -1)
			fail_msg("flipping byte %zu of %zu went unnoticed", i, len);
		orig[i] ^= 0x01;
	}
	/* The two 40-byte chunks swapped (each frame is 5+12+40+16 bytes). */
	off = len - 89 - 3 - 33 - 2 * (40 + 33);
	memcpy(tmp, orig + off, sizeof(tmp));
	memmove(orig + off, orig + off + sizeof(tmp), sizeof(tmp));
	memcpy(orig + off + sizeof(tmp), tmp, sizeof(tmp));
	spit(res_path("MXC-9"), orig, len);
	assert_int_equal(get_skip_digest(r, "MXC-9", &bytes), -1);
	memcpy(tmp, orig + off, sizeof(tmp));
	memmove(orig + off, orig + off + sizeof(tmp), sizeof(tmp));
	memcpy(orig + off + sizeof(tmp), tmp, sizeof(tmp));
	spit(res_path("MXC-9"), orig, len);
	assert_int_equal(get_skip_digest(r, "MXC-9", &bytes), 0);
	/* Truncated. */
	spit(res_path("MXC-9"), orig, len - 1);
	assert_int_equal(get_skip_digest(r, "MXC-9", &bytes), -1);
	free(orig);
	results_close(r);
}

/* Two chunks of the same length swapped; a file under another name. */
static void
test_swap_and_rename(void **state)
{
	static const size_t	 sizes[] = { 64, 64 };
	struct results		*r;
	uint8_t			 sha[32], *buf, tmp[64 + 33];
	size_t			 len, hdr = 56 + strlen("MXC-2"), fl = 33 + 64;

	(void)state;
	assert_non_null(r = store("key"));
	put(r, "MXC-2", sizes, 2, 2, sha);
	buf = slurp(res_path("MXC-2"), &len);
	assert_int_equal(len, hdr + 2 * fl + 89);
	memcpy(tmp, buf + hdr, fl);
	memmove(buf + hdr, buf + hdr + fl, fl);
	memcpy(buf + hdr + fl, tmp, fl);
	spit(res_path("MXC-2"), buf, len);
	free(buf);
	assert_int_equal(get(r, "MXC-2", NULL, 0, 0, NULL), -1);

	put(r, "MXC-3", sizes, 2, 2, sha);
	{
		char	from[PATH_MAX];

		snprintf(from, sizeof(from), "%s", res_path("MXC-3"));
		assert_int_equal(rename(from, res_path("MXC-4")), 0);
	}
	assert_int_equal(access(res_path("MXC-4"), F_OK), 0);
	assert_null(results_reader_open(r, "MXC-4"));
	assert_null(results_reader_open(r, "MXC-3"));
	results_close(r);
}

static void
test_wrong_key(void **state)
{
	static const size_t	 sizes[] = { 10 };
	struct results		*r;
	uint8_t			 sha[32];

	(void)state;
	assert_non_null(r = store("key"));
	put(r, "MXC-5", sizes, 1, 1, sha);
	results_close(r);
	assert_non_null(r = store("other.key"));
	assert_null(results_reader_open(r, "MXC-5"));
	results_close(r);
	assert_non_null(r = store("key"));
	assert_int_equal(get(r, "MXC-5", sizes, 1, 1, sha), 0);
	results_close(r);
}

static void
test_key_file(void **state)
{
	(void)state;
	write_key("k644", 0x22, 32, 0644);
	assert_null(store("k644"));
	write_key("k31", 0x22, 31, 0600);
	assert_null(store("k31"));
	write_key("k33", 0x22, 33, 0600);
	assert_null(store("k33"));
	write_key("kzero", 0, 32, 0600);
	assert_null(store("kzero"));
	assert_null(store("missing"));
	{
		char	target[PATH_MAX];

		snprintf(target, sizeof(target), "%s", tmppath("key"));
		assert_int_equal(symlink(target, tmppath("klink")), 0);
	}
	/* A link to a good key is followed; the checks apply to the key. */
	{
		struct results *r = store("klink");

		assert_non_null(r);
		results_close(r);
	}
	assert_int_equal(mkfifo(tmppath("kfifo"), 0600), 0);
	assert_null(store("kfifo"));
}

/* A crash leaves a temporary: the next open removes it. Replacement. */
static void
test_leftovers_and_replace(void **state)
{
	static const size_t	 one[] = { 5 }, two[] = { 7, 9 };
	struct results		*r;
	struct results_writer	*w;
	uint8_t			 sha[32];
	DIR			*d;
	struct dirent		*de;
	int			 files = 0;

	(void)state;
	assert_non_null(r = store("key"));
	assert_non_null(w = results_create(r, "MXC-6"));
	assert_int_equal(results_append(w, "abc", 3), 0);
	/* "crash": the writer is never finished; reopen the store. */
	assert_non_null(d = opendir(tmppath("results")));
	while ((de = readdir(d)) != NULL)
		files += de->d_name[0] != '.' || strlen(de->d_name) > 2;
	closedir(d);
	assert_int_equal(files, 1);	/* the temporary */
	{
		struct results *r2 = store("key");

		assert_non_null(r2);
		assert_null(results_reader_open(r2, "MXC-6"));
		results_close(r2);
	}
	files = 0;
	assert_non_null(d = opendir(tmppath("results")));
	while ((de = readdir(d)) != NULL)
		files += strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0;
	closedir(d);
	assert_int_equal(files, 0);
	/* Finishing a writer whose file was removed fails cleanly. */
	assert_int_equal(results_finish(w, 1), -1);

	put(r, "MXC-7", one, 1, 1, sha);
	put(r, "MXC-7", two, 2, 2, sha);
	assert_int_equal(get(r, "MXC-7", two, 2, 2, sha), 0);
	results_close(r);
}

static void
test_purge(void **state)
{
	static const size_t	 one[] = { 5 };
	static const char	*names[] = { "MXC-8", "MXC-8.1", "MXC-8.12",
	    "MXC-80", "MXC-9.1" };
	struct results		*r;
	uint8_t			 sha[32];
	unsigned		 n;
	size_t			 i;

	(void)state;
	assert_non_null(r = store("key"));
	for (i = 0; i < 5; i++)
		put(r, names[i], one, 1, 1, sha);
	assert_int_equal(results_purge(r, "MXC-8", &n), 0);
	assert_int_equal(n, 3);
	assert_null(results_reader_open(r, "MXC-8"));
	assert_null(results_reader_open(r, "MXC-8.1"));
	assert_null(results_reader_open(r, "MXC-8.12"));
	assert_int_equal(get(r, "MXC-80", one, 1, 1, sha), 0);
	assert_int_equal(get(r, "MXC-9.1", one, 1, 1, sha), 0);
	assert_int_equal(results_purge(r, "MXC-8", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(results_purge(r, "../x", &n), -1);

	assert_true(results_exists(r, "MXC-80"));
	assert_int_equal(results_delete(r, "MXC-80"), 0);
	assert_null(results_reader_open(r, "MXC-80"));
	assert_false(results_exists(r, "MXC-80"));
	assert_int_equal(results_delete(r, "MXC-80"), 0);	/* absent: fine */

	/* In two steps (the purge thread's batches): unlink, then one sync. */
	assert_true(results_exists(r, "MXC-9.1"));
	assert_int_equal(results_unlink(r, "MXC-9.1"), 1);
	assert_false(results_exists(r, "MXC-9.1"));
	assert_null(results_reader_open(r, "MXC-9.1"));
	assert_int_equal(results_unlink(r, "MXC-9.1"), 0);	/* absent */
	assert_int_equal(results_unlink(r, "../x"), -1);
	assert_false(results_exists(r, "../x"));
	assert_int_equal(results_sync(r), 0);
	results_close(r);
}

static char	swept[8][RESULTS_NAME_MAX];
static int	nswept;

static void
on_swept(const char *name, void *arg)
{
	assert_ptr_equal(arg, &nswept);
	assert_true(nswept < 8);
	snprintf(swept[nswept++], RESULTS_NAME_MAX, "%s", name);
}

static void
age(const char *name, time_t when)
{
	struct timespec	ts[2] = { { when, 0 }, { when, 0 } };

	assert_int_equal(utimensat(AT_FDCWD, res_path(name), ts, 0), 0);
}

static void
test_sweep(void **state)
{
	static const size_t	 one[] = { 5 };
	struct results		*r;
	uint8_t			 sha[32];
	time_t			 now = time(NULL);

	(void)state;
	assert_non_null(r = store("key"));	/* keep 3600 s */
	put(r, "old", one, 1, 1, sha);
	put(r, "edge", one, 1, 1, sha);
	put(r, "young", one, 1, 1, sha);
	age("old", now - 7200);
	age("edge", now - 3600);
	age("young", now - 3599);
	nswept = 0;
	assert_int_equal(results_sweep(r, now, on_swept, &nswept), 2);
	assert_int_equal(nswept, 2);
	assert_true((strcmp(swept[0], "old") == 0 && strcmp(swept[1], "edge") == 0) ||
	    (strcmp(swept[1], "old") == 0 && strcmp(swept[0], "edge") == 0));
	assert_null(results_reader_open(r, "old"));
	assert_null(results_reader_open(r, "edge"));
	assert_int_equal(get(r, "young", one, 1, 1, sha), 0);
	assert_int_equal(results_sweep(r, now, NULL, NULL), 0);
	assert_int_equal(results_sweep(r, now + 1, NULL, NULL), 1);
	results_close(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_every_byte, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_swap_and_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_skip_digest_still_authenticates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_and_replace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	};

	log_init("test_results", 1, 0);
	return cmocka_run_group_tests_name("results", tests, NULL, NULL);
}
