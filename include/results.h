/*
 * results — the store of answers waiting for delivery: one file per result
 * under <state>/results/, encrypted at rest with AES-256-GCM under the
 * configured 32-byte key, written chunk by chunk so that a result of any size
 * never sits whole in memory, and made durable (fsync of the file and of the
 * directory) before results_finish() returns.
 *
 * A result's name starts with the carrier reference; the back-end calls
 * name theirs "<reference>.<action>.<identifier>" ("MXC-20260301-00000042.3.0")
 * since a request holds several tasks: results_purge() removes every result
 * of a reference.
 *
 * The contents are subscriber data: nothing here logs them, and a file that
 * fails authentication (tampered, truncated, extended, renamed, or written
 * under another key) is refused as a whole. docs/gateway-backends.md gives
 * the file format and the reasons.
 */
#ifndef WD_RESULTS_H
#define WD_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RESULTS_NAME_MAX	96		/* bytes of a name, with the NUL */
#define RESULTS_CHUNK_MAX	(1024 * 1024)	/* plaintext bytes of one chunk */
/*
 * The chunk size of results meant to be streamed (the parts of a delivery,
 * src/warrantd/ldpack.c): each chunk is authenticated on its own, so a reader can
 * hand one on as soon as it is read; a multiple of 3, so that each chunk is
 * whole groups of base64.
 */
#define RESULTS_STREAM_CHUNK	(48 * 1024)

struct results;
struct results_writer;
struct results_reader;

/*
 * Open the store in state_dir/results (created 0700), reading the key file:
 * exactly 32 bytes, a regular file not readable by group or others. Partial
 * files left by a crash are removed: they were never reported done. keep_s:
 * age after which results_sweep() deletes a result. NULL on error (logged).
 */
struct results		*results_open(const char *state_dir, const char *key_path,
			    unsigned keep_s);
void			 results_close(struct results *);	/* wipes the key */
/* Read the key file with the same checks (for keys derived from it). */
int			 results_read_key(const char *key_path, uint8_t key[32]);
/* The key file's checks alone (for warrantd -t): 0 if usable, else logged. */
int			 results_key_check(const char *key_path);

/* [A-Za-z0-9][A-Za-z0-9._-]*, at most RESULTS_NAME_MAX - 1 bytes, no "..". */
bool			 results_name_valid(const char *);

/*
 * Start writing result name. Nothing is visible under the name until
 * results_finish(); a finished result of the same name is replaced then.
 */
struct results_writer	*results_create(struct results *, const char *name);
/* Encrypt and write one chunk of 0 < len <= RESULTS_CHUNK_MAX bytes. */
int			 results_append(struct results_writer *, const void *, size_t);
/* SHA-256 of the plaintext appended so far (to check a summary). */
void			 results_writer_sha256(const struct results_writer *,
			    uint8_t out[32]);
/*
 * Seal with the record count and the SHA-256 of all the plaintext, fsync,
 * rename into place, fsync the directory. Frees the writer; on error the
 * partial file is removed. Returns 0 only when the result is durable. This
 * blocks on the disk: it may run on another thread than the appends.
 */
int			 results_finish(struct results_writer *, uint64_t count);
/* Give up: remove the partial file and free the writer. NULL is fine. */
void			 results_abort(struct results_writer *);
uint64_t		 results_written(const struct results_writer *);	/* plaintext bytes */

/*
 * Open a finished result for delivery. Its seal (count, SHA-256, number of
 * chunks) is authenticated here, before any chunk is read. NULL if missing
 * or if it fails authentication (logged without contents).
 */
struct results_reader	*results_reader_open(struct results *, const char *name);
uint64_t		 results_reader_count(const struct results_reader *);
const uint8_t		*results_reader_sha256(const struct results_reader *);
/* Plaintext bytes, as the (authenticated) seal says. */
uint64_t		 results_reader_bytes(const struct results_reader *);
/* Every chunk has been read: the next results_read checks the end. */
bool			 results_reader_at_end(const struct results_reader *);
/*
 * Next chunk, in order: 1 and *data, *len (valid until the next call),
 * 0 at the authenticated end (where the SHA-256 of everything read is also
 * checked against the seal), -1 on any failure (then stop: the result is
 * not trustworthy, and what was read before must be discarded). Each chunk
 * returned has passed its own authentication (AES-GCM, bound to its index
 * and to the file); a streaming reader that hands chunks on before the end
 * must still fail whatever it sent when the end does not check (src/
 * answer_stream.c withholds the last chunk until it has).
 */
int			 results_read(struct results_reader *, const uint8_t **data,
			    size_t *len);
/*
 * Read and authenticate the next chunk now (and, if it is the last, the
 * end: the SHA-256 against the seal), so that a failure can still be
 * answered cleanly; the next results_read returns that chunk. At the end,
 * results_read returning 0 leaves the last chunk's data valid. 0 or -1.
 */
int			 results_reader_prefetch(struct results_reader *);
/*
 * Before the first read: do not recompute the SHA-256 of the plaintext
 * (every chunk and the count are still authenticated; why this is enough
 * is explained at the definition). The end still checks the chunk count.
 */
void			 results_reader_skip_digest(struct results_reader *);
void			 results_reader_close(struct results_reader *);

/* Whether a finished result of that name is in the store. */
bool			 results_exists(struct results *, const char *name);

/* Delete one result (after delivery), durably. 0 if deleted or absent. */
int			 results_delete(struct results *, const char *name);
/*
 * The same in two steps, to make several deletions durable at once:
 * results_unlink (1 deleted, 0 absent, -1 error; not yet durable), then
 * results_sync (the directory's fsync: 0, or -1 logged).
 */
int			 results_unlink(struct results *, const char *name);
int			 results_sync(struct results *);
/* Delete every result of a carrier reference: name and name.*; count out. */
int			 results_purge(struct results *, const char *carrier_ref,
			    unsigned *deleted);
/*
 * Delete results older than keep_s at now, calling cb with each name
 * deleted (to journal the purge). Returns the number deleted, -1 on error.
 */
int			 results_sweep(struct results *, time_t now,
			    void (*cb)(const char *name, void *arg), void *arg);

#endif
