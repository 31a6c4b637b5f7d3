/*
 * store — the object store on SQLite; see include/store.h for what it
 * guarantees and why it is derived from the journal.
 *
 * One table: objects keyed by (owner, oid), with the few columns the
 * queries need (kind, carrier reference, parent task of a part, when it
 * last changed, its next clock, whether it is open work) and the object
 * itself as an encrypted protobuf body (obj_encode). The next journal
 * sequence to apply lives in the meta table and moves in the same
 * transaction as the objects, so a crash leaves the store at a record
 * boundary and replay resumes exactly there.
 *
 * Durability: WAL with synchronous=NORMAL: a commit is a write() to the WAL,
 * never an fsync on the loop; the checkpoint thread syncs and folds the WAL
 * into the database every few seconds. After a power cut the last
 * transactions may be gone: the journal has them and replay re-applies them.
 *
 * This file owns the schema, bodies at rest, checkpoints, open and close;
 * records are applied in store_apply.c, read in store_read.c (what they
 * share in store_int.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "conf.h"
#include "log.h"
#include "obj.h"
#include "store.h"
#include "store_int.h"

#define STORE_NONCE		12
#define STORE_TAG		16
#define STORE_CHECKPOINT_S	5
#define STORE_WAL_FRAMES	16384		/* 64 MiB of 4 KiB pages */
#define STORE_BODY_MAX		(256 * 1024)	/* far above any object */

static const char store_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA wal_autocheckpoint=0;"	/* the checkpoint thread does it */
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects ("
    "  owner TEXT NOT NULL, oid TEXT NOT NULL, kind INTEGER NOT NULL,"
    "  ref TEXT NOT NULL, parent TEXT NOT NULL, changed_us INTEGER NOT NULL,"
    "  due_us INTEGER NOT NULL, open INTEGER NOT NULL, body BLOB NOT NULL,"
    "  PRIMARY KEY (owner, oid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS objects_changed ON objects(owner, changed_us, oid);"
    "CREATE INDEX IF NOT EXISTS objects_due ON objects(due_us) WHERE due_us > 0;"
    "CREATE INDEX IF NOT EXISTS objects_parent ON objects(owner, parent) "
    "  WHERE parent <> '';"
    "CREATE INDEX IF NOT EXISTS objects_ref ON objects(owner, ref);"
    "CREATE INDEX IF NOT EXISTS objects_ref_any ON objects(ref);"
    "CREATE INDEX IF NOT EXISTS objects_open ON objects(open) WHERE open = 1;"
    /* The desk's queue: open tasks by answer deadline (none: last), and
       what /metrics counts of them (types, states, flags: no target). */
    "CREATE TABLE IF NOT EXISTS queue ("
    "  deadline_us INTEGER NOT NULL, created_us INTEGER NOT NULL,"
    "  owner TEXT NOT NULL, oid TEXT NOT NULL, type INTEGER NOT NULL,"
    "  state INTEGER NOT NULL, missed INTEGER NOT NULL,"
    "  held INTEGER NOT NULL, flagged INTEGER NOT NULL,"
    "  PRIMARY KEY (owner, oid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS queue_deadline ON queue(deadline_us, "
    "  created_us, owner, oid);"
    /* The console's state and type filters, each one range already in
       deadline order (the console polls a state every few seconds). */
    "CREATE INDEX IF NOT EXISTS queue_state ON queue(state, deadline_us, "
    "  created_us, owner, oid);"
    "CREATE INDEX IF NOT EXISTS queue_type ON queue(type, deadline_us, "
    "  created_us, owner, oid);"
    "CREATE INDEX IF NOT EXISTS queue_type_state ON queue(type, state, "
    "  deadline_us, created_us, owner, oid);"
    /* The authority's reference of each open task, as a keyed token
       (store_aref_token): found by one lookup, never in clear on disk. */
    "CREATE TABLE IF NOT EXISTS queue_ref ("
    "  owner TEXT NOT NULL, oid TEXT NOT NULL, token BLOB NOT NULL,"
    "  PRIMARY KEY (owner, oid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS queue_ref_token ON queue_ref(token);"
    /* The desk's day statistics: every task (open or not) by creation,
       with when it was answered (0: not yet) and whether it missed its
       deadline; no identifier, no reference (store_day). */
    /* One B-tree, keyed by creation first: a day is one range of it, and
       a task's row is found again from its own creation time. */
    "CREATE TABLE IF NOT EXISTS daystat ("
    "  created_us INTEGER NOT NULL, owner TEXT NOT NULL, oid TEXT NOT NULL,"
    "  type INTEGER NOT NULL, answered_us INTEGER NOT NULL,"
    "  missed INTEGER NOT NULL, PRIMARY KEY (created_us, owner, oid))"
    "  WITHOUT ROWID;"
    /* The desk's urgent-orders board: urgent orders by ratification
       clock, pending until ratified (store_urgent). */
    "CREATE TABLE IF NOT EXISTS urgent ("
    "  ratify_by_us INTEGER NOT NULL, owner TEXT NOT NULL, oid TEXT NOT NULL,"
    "  pending INTEGER NOT NULL, PRIMARY KEY (owner, oid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS urgent_by ON urgent(pending, ratify_by_us);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('applied', 0);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 1);";

static const char *const store_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_APPLIED_SET] = "UPDATE meta SET value = ?1 WHERE key = 'applied'",
	[ST_GET] = "SELECT owner, oid, body FROM objects WHERE owner = ?1 AND oid = ?2",
	[ST_INSERT] = "INSERT OR IGNORE INTO objects(owner, oid, kind, ref, "
	    "parent, changed_us, due_us, open, body) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_UPDATE] = "UPDATE objects SET changed_us = ?3, due_us = ?4, "
	    "open = ?5, body = ?6 WHERE owner = ?1 AND oid = ?2",
	[ST_LIST_ALL] = "SELECT owner, oid, body FROM objects WHERE owner = ?1 AND "
	    "changed_us >= ?2 ORDER BY changed_us, oid LIMIT ?3",
	[ST_LIST_KIND] = "SELECT owner, oid, body FROM objects WHERE owner = ?1 AND "
	    "changed_us >= ?2 AND kind = ?4 ORDER BY changed_us, oid LIMIT ?3",
	/*
	 * Named indexes: without statistics SQLite prefers the primary key's
	 * prefix (owner = ?) to these two-column indexes, i.e. a scan of all
	 * the authority's objects for every GET of a task (bench/lifecycle:
	 * GET slowed down as objects piled up). A partial index is only
	 * usable when the query repeats its condition (parent <> '').
	 */
	[ST_PARTS] = "SELECT owner, oid, body FROM objects INDEXED BY objects_parent "
	    "WHERE owner = ?1 AND parent = ?2 AND parent <> ''",
	[ST_BY_REF] = "SELECT owner, oid, body FROM objects INDEXED BY objects_ref "
	    "WHERE owner = ?1 AND ref = ?2",
	[ST_DUE] = "SELECT owner, oid, body FROM objects WHERE due_us > 0 AND due_us <= ?1 "
	    "ORDER BY due_us LIMIT ?2",
	[ST_OPEN] = "SELECT owner, oid, body FROM objects WHERE open = 1",
	[ST_COUNT] = "SELECT count(*) FROM objects",
	[ST_BY_REF_ANY] = "SELECT owner, oid, body FROM objects WHERE ref = ?1",
	[ST_QUEUE_PUT] = "INSERT OR REPLACE INTO queue(deadline_us, created_us, "
	    "owner, oid, type, state, missed, held, flagged) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_QUEUE_TALLY] = "SELECT type, state, count(*), sum(missed), "
	    "sum(held), sum(flagged) FROM queue GROUP BY type, state",
	[ST_OPEN_KIND] = "SELECT owner, oid, body FROM objects WHERE open = 1 "
	    "AND kind = ?1",
	[ST_QUEUE_DEL] = "DELETE FROM queue WHERE owner = ?1 AND oid = ?2",
	[ST_QUEUE] = "SELECT o.owner, o.oid, o.body FROM queue q JOIN objects o "
	    "ON o.owner = q.owner AND o.oid = q.oid ORDER BY q.deadline_us, "
	    "q.created_us, q.owner, q.oid LIMIT ?1 OFFSET ?2",
	[ST_QUEUE_COUNT] = "SELECT count(*) FROM queue",
	/*
	 * Named indexes, as above: each filter is one range of its index,
	 * already in the queue's order; a count reads the index alone.
	 * Parameters keep their numbers (?3 type, ?4 state) in every one.
	 */
#define QUEUE_SEL(ix) "SELECT o.owner, o.oid, o.body FROM queue q INDEXED BY " \
	ix " JOIN objects o ON o.owner = q.owner AND o.oid = q.oid WHERE "
#define QUEUE_ORDER " ORDER BY q.deadline_us, q.created_us, q.owner, q.oid " \
	"LIMIT ?1 OFFSET ?2"
	[ST_QUEUE_STATE] = QUEUE_SEL("queue_state") "q.state = ?4" QUEUE_ORDER,
	[ST_QUEUE_TYPE] = QUEUE_SEL("queue_type") "q.type = ?3" QUEUE_ORDER,
	[ST_QUEUE_TS] = QUEUE_SEL("queue_type_state") "q.type = ?3 AND "
	    "q.state = ?4" QUEUE_ORDER,
	[ST_QCOUNT_STATE] = "SELECT count(*) FROM queue INDEXED BY queue_state "
	    "WHERE state = ?4",
	[ST_QCOUNT_TYPE] = "SELECT count(*) FROM queue INDEXED BY queue_type "
	    "WHERE type = ?3",
	[ST_QCOUNT_TS] = "SELECT count(*) FROM queue INDEXED BY "
	    "queue_type_state WHERE type = ?3 AND state = ?4",
	[ST_AREF_PUT] = "INSERT OR REPLACE INTO queue_ref(owner, oid, token) "
	    "VALUES (?1, ?2, ?3)",
	[ST_AREF_DEL] = "DELETE FROM queue_ref WHERE owner = ?1 AND oid = ?2",
	[ST_QUEUE_AREF] = "SELECT o.owner, o.oid, o.body FROM queue_ref r "
	    "INDEXED BY queue_ref_token JOIN objects o ON o.owner = r.owner "
	    "AND o.oid = r.oid WHERE r.token = ?1",
	[ST_DAY_PUT] = "INSERT INTO daystat(created_us, owner, oid, type, "
	    "answered_us, missed) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT(created_us, owner, oid) DO UPDATE SET answered_us = "
	    "CASE WHEN "
	    "answered_us = 0 THEN excluded.answered_us ELSE answered_us END, "
	    "missed = excluded.missed",
	[ST_DAY] = "SELECT owner, type, created_us, answered_us, missed FROM "
	    "daystat WHERE created_us >= ?1 AND created_us < ?2 LIMIT ?3",
	[ST_URGENT_PUT] = "INSERT OR REPLACE INTO urgent(ratify_by_us, owner, "
	    "oid, pending) VALUES (?1, ?2, ?3, ?4)",
	[ST_URGENT_DONE] = "UPDATE urgent SET pending = 0 WHERE owner = ?1 "
	    "AND oid = ?2",
	[ST_URGENT] = "SELECT o.owner, o.oid, o.body FROM urgent u INDEXED BY "
	    "urgent_by JOIN objects o ON o.owner = u.owner AND o.oid = u.oid "
	    "WHERE u.pending = 1 AND u.ratify_by_us >= ?1 ORDER BY "
	    "u.ratify_by_us LIMIT ?2",
#undef QUEUE_SEL
#undef QUEUE_ORDER
};

/* ---- bodies at rest ------------------------------------------------------ */

static int
store_derive_key(const uint8_t in[32], const char *info, uint8_t out[32])
{
	EVP_PKEY_CTX		*pc;
	size_t			 len = 32;
	int			 ok;

	if ((pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_derive_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_key(pc, in, 32) > 0 &&
	    EVP_PKEY_CTX_add1_hkdf_info(pc, (const unsigned char *)info,
	    (int)strlen(info)) > 0 &&
	    EVP_PKEY_derive(pc, out, &len) > 0 && len == 32;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

/*
 * The token of an authority's reference: HMAC-SHA256 of the reference
 * (blanks around it trimmed) under a key of its own, derived from the data
 * key: equal references give equal tokens, and without the key a token
 * tells nothing, not even by trying references (they follow a pattern).
 * Not the auditor's blind index tokens (seal.c): another key, another use.
 */
int
store_aref_token(const struct store *s, const char *ref, uint8_t out[32])
{
	size_t	len, olen = 0;

	while (*ref == ' ' || *ref == '\t')
		ref++;
	len = strlen(ref);
	while (len > 0 && (ref[len - 1] == ' ' || ref[len - 1] == '\t'))
		len--;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, s->aref_key,
	    sizeof(s->aref_key), (const unsigned char *)ref, len, out, 32,
	    &olen) == NULL || olen != 32) {
		log_warnx("store %s: cannot compute a reference token", s->path);
		return -1;
	}
	return 0;
}

/* AAD: the row's key, so a body cannot be moved to another row. */
static int
store_aad(EVP_CIPHER_CTX *c, const char *owner, const char *oid)
{
	int n;

	return EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)owner,
	    (int)strlen(owner) + 1) > 0 &&
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)oid,
	    (int)strlen(oid)) > 0 ? 0 : -1;
}

/* nonce || ciphertext || tag; malloc'ed. */
uint8_t *
store_seal(const struct store *s, const struct obj *o, const uint8_t *in,
    size_t len, size_t *outlen)
{
	EVP_CIPHER_CTX	*c;
	uint8_t		*out;
	int		 n, ok;

	if (!s->encrypt) {
		if ((out = malloc(len ? len : 1)) != NULL)
			memcpy(out, in, len);
		*outlen = len;
		return out;
	}
	if ((out = malloc(STORE_NONCE + len + STORE_TAG)) == NULL)
		return NULL;
	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		free(out);
		return NULL;
	}
	ok = RAND_bytes(out, STORE_NONCE) == 1 &&
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key, out) > 0 &&
	    store_aad(c, o->owner, o->oid) == 0 &&
	    EVP_EncryptUpdate(c, out + STORE_NONCE, &n, in, (int)len) > 0 &&
	    EVP_EncryptFinal_ex(c, out + STORE_NONCE + n, &n) > 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, STORE_TAG,
	    out + STORE_NONCE + len) > 0;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		free(out);
		return NULL;
	}
	*outlen = STORE_NONCE + len + STORE_TAG;
	return out;
}

/* Decrypt and decode one row's body; -1 if it fails authentication. */
int
store_open_body(const struct store *s, const char *owner, const char *oid,
    const uint8_t *in, size_t len, struct obj *o)
{
	EVP_CIPHER_CTX	*c;
	uint8_t		*plain;
	size_t		 plen;
	int		 n, ok, rc;

	if (!s->encrypt)
		return obj_decode(in, len, o);
	if (len < STORE_NONCE + STORE_TAG || len > STORE_BODY_MAX)
		return -1;
	plen = len - STORE_NONCE - STORE_TAG;
	if ((plain = malloc(plen ? plen : 1)) == NULL)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		free(plain);
		return -1;
	}
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key, in) > 0 &&
	    store_aad(c, owner, oid) == 0 &&
	    EVP_DecryptUpdate(c, plain, &n, in + STORE_NONCE, (int)plen) > 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, STORE_TAG,
	    (void *)(in + len - STORE_TAG)) > 0 &&
	    EVP_DecryptFinal_ex(c, plain + n, &n) > 0;
	EVP_CIPHER_CTX_free(c);
	rc = ok ? obj_decode(plain, plen, o) : -1;
	OPENSSL_cleanse(plain, plen);
	free(plain);
	/* The row's key must be the object's own. */
	if (rc == 0 && (strcmp(o->owner, owner) != 0 || strcmp(o->oid, oid) != 0))
		rc = -1;
	return rc;
}

/* ---- checkpoints, off the loop ------------------------------------------ */

static void *
store_checkpointer(void *arg)
{
	struct store	*s = arg;
	sqlite3		*db = NULL;
	struct timespec	 ts;
	int		 nlog;

	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("store: checkpoint connection: %s", db ?
		    sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 1000);
	/*
	 * A connection opens the WAL only when it first reads the database:
	 * until then sqlite3_wal_checkpoint_v2 finds no WAL and returns
	 * SQLITE_OK having done nothing, and the WAL grew without bound (280
	 * MB after 15,000 CREATEs, every read searching it: GET at a fifth of
	 * CREATE's rate, bench/lifecycle). One read here opens it.
	 */
	if (sqlite3_exec(db, "SELECT value FROM meta WHERE key = 'applied'",
	    NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("store: checkpoint connection: %s", sqlite3_errmsg(db));
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += STORE_CHECKPOINT_S;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		pthread_mutex_unlock(&s->mu);
		/* PASSIVE: never waits for the loop's connection. */
		nlog = 0;
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    &nlog, NULL);
		/*
		 * PASSIVE copies the WAL into the database but never resets
		 * it: the WAL starts over only when a write begins with every
		 * frame copied, which does not happen while the loop writes
		 * all the time (bench/lifecycle: 2.6 GB of WAL after two
		 * minutes of requests). Past STORE_WAL_FRAMES, a TRUNCATE
		 * empties it; it holds the loop's writes off (their busy
		 * handler) only while it copies what came since the PASSIVE
		 * pass, and if it cannot start within its busy timeout it
		 * is tried again next time.
		 */
		if (nlog > STORE_WAL_FRAMES)
			sqlite3_wal_checkpoint_v2(db, NULL,
			    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(db);
	return NULL;
}

/* ---- open and close ------------------------------------------------------ */

static int
store_prepare(struct store *s)
{
	char	*err = NULL;

	if (sqlite3_exec(s->db, store_schema, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store %s: %s", s->path, err ? err : "schema");
		sqlite3_free(err);
		return -1;
	}
	for (int i = 0; i < ST__COUNT; i++)
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			log_warnx("store %s: %s", s->path, sqlite3_errmsg(s->db));
			return -1;
		}
	return 0;
}

static int
store_read_applied(struct store *s)
{
	sqlite3_stmt	*q;
	int		 rc = -1;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = "
	    "'applied'", -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) >= 0) {
		s->applied = (uint64_t)sqlite3_column_int64(q, 0);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

struct store *
store_open(const char *path, const uint8_t key[32])
{
	struct store	*s;
	int		 fd;

	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		log_warnx("store: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	/* Created 0600 before SQLite sees it (it would use the umask). */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("store %s", path);
		goto fail;
	}
	close(fd);
	/* Without a data key the tokens' key comes from zeros: bodies are in
	   clear then anyway. */
	if (store_derive_key(key ? key : s->key, "warrantd object store v1: "
	    "authority reference index", s->aref_key) == -1) {
		log_warnx("store %s: cannot derive the reference index key",
		    path);
		goto fail;
	}
	if (key == NULL)
		log_warnx("store %s: no results key: objects are kept in clear",
		    path);
	else if (store_derive_key(key, "warrantd object store v1",
	    s->key) == -1) {
		log_warnx("store %s: cannot derive the store key", path);
		goto fail;
	} else
		s->encrypt = true;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("store %s: %s", path, s->db ? sqlite3_errmsg(s->db) :
		    "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (store_prepare(s) == -1 || store_read_applied(s) == -1 ||
	    store_queue_fill(s) == -1 || store_desk_fill(s) == -1)
		goto fail;
	if (pthread_create(&s->thread, NULL, store_checkpointer, s) != 0) {
		log_warnx("store %s: cannot start the checkpoint thread", path);
		goto fail;
	}
	s->thread_started = true;
	return s;
fail:
	store_close(s);
	return NULL;
}

bool
store_readable(struct store *s)
{
	sqlite3_stmt	*q;
	struct obj	*o;
	bool		 ok = true;

	if (sqlite3_prepare_v2(s->db, "SELECT owner, oid, body FROM objects "
	    "LIMIT 1", -1, &q, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char	*owner = (const char *)sqlite3_column_text(q, 0);
		const char	*oid = (const char *)sqlite3_column_text(q, 1);
		const uint8_t	*b = sqlite3_column_blob(q, 2);
		int		 len = sqlite3_column_bytes(q, 2);

		ok = owner != NULL && oid != NULL && b != NULL &&
		    (o = malloc(sizeof(*o))) != NULL;
		if (ok) {
			ok = store_open_body(s, owner, oid, b, (size_t)len,
			    o) == 0;
			free(o);
		}
	}
	sqlite3_finalize(q);
	return ok;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	OPENSSL_cleanse(s->aref_key, sizeof(s->aref_key));
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->path);
	free(s);
}

uint64_t
store_applied(const struct store *s)
{
	return s->applied;
}
