/*
 * ctl_deliver — what one DELIVER message from the carrier does to the
 * output directory of `warrantctl receive` (see src/warrantctl/ctl_receive.h).
 *
 * A part is acknowledged only once it is durable: its decoded result
 * document is written to a file without a name (O_TMPFILE; where the
 * file system has none, a unique temporary name), past the page cache
 * where the file system allows it (O_DIRECT), fdatasync'ed, linked as
 * DELIVERYID.SEQ.xml (SEQ six digits or more) only if that name is free,
 * and the directory fsync'ed; the manifest (last part) goes to
 * DELIVERYID.manifest.xml first, the same way. A part whose data does not
 * match its Checksum is answered with error 420 and nothing is written, so
 * the carrier sends it again. The same part delivered again finds its
 * file with the same bytes and is acknowledged again without a second
 * file; a file with other bytes under that name is a conflict (error
 * 411), never overwritten, even when both arrive at once (link(2) never
 * replaces a name, as rename(2) would). Notifications are written as text
 * to notification-OBJECTID.txt under the same rules.
 *
 * Several workers call ctl_deliver() at once (ctl_rwork.c): each writes
 * and fdatasyncs its own file; the fsyncs of the directory are grouped:
 * a worker that has linked its name takes a ticket and either waits for
 * an fsync that started after its link or, if none is running, runs one
 * for every ticket handed out so far. A name found already there (sent
 * twice at once) is acknowledged only after such an fsync too, since the
 * worker that linked it may not have synced the directory yet.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_receive.h"
#include "hi1.h"
#include "hi1_object.h"
#include "hi1_parse.h"
#include "wd.h"

#define STORE_NAME_LEN	96

/* Text from the carrier on our terminal: no control characters. */
static const char *
safe(const char *in, char *out, size_t len)
{
	size_t	 i;

	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' :
		    in[i];
	out[i] = '\0';
	return out;
}

/* A UUID as the profile writes it: safe as a file name component. */
static bool
uuid_ok(const char *s)
{
	if (strlen(s) != HI1_UUID_LEN)
		return false;
	for (size_t i = 0; i < HI1_UUID_LEN; i++)
		if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* Does name in the directory hold exactly data? 1 yes, 0 absent, -1 no. */
static int
store_same(struct ctl_store *st, const char *name, const uint8_t *data,
    size_t len)
{
	struct stat	 sb;
	uint8_t		 buf[65536];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, rc = 1;

	if ((fd = openat(st->dirfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != len)
		rc = -1;
	while (rc == 1 && off < len) {
		n = read(fd, buf, len - off < sizeof(buf) ? len - off :
		    sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || memcmp(buf, data + off, (size_t)n) != 0)
			rc = -1;
		else
			off += (size_t)n;
	}
	close(fd);
	if (rc == -1)
		errno = EEXIST;
	return rc;
}

int
ctl_store_init(struct ctl_store *st)
{
	if (pthread_mutex_init(&st->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&st->synced, NULL) != 0) {
		pthread_mutex_destroy(&st->lock);
		return -1;
	}
	return 0;
}

void
ctl_store_cleanup(struct ctl_store *st)
{
	pthread_cond_destroy(&st->synced);
	pthread_mutex_destroy(&st->lock);
}

static void	store_say(struct ctl_store *, unsigned *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* One line of output and a counter, under the lock. */
static void
store_say(struct ctl_store *st, unsigned *counter, const char *fmt, ...)
{
	va_list	 ap;

	pthread_mutex_lock(&st->lock);
	if (counter != NULL)
		(*counter)++;
	va_start(ap, fmt);
	vfprintf(st->out, fmt, ap);
	va_end(ap);
	fflush(st->out);
	pthread_mutex_unlock(&st->lock);
}

/*
 * The directory durable with every name linked before this call: an fsync
 * of it that starts after the call, shared by every worker waiting.
 */
static int
store_dsync(struct ctl_store *st)
{
	uint64_t	 me, upto;
	int		 rc, saved = 0;

	pthread_mutex_lock(&st->lock);
	me = ++st->sync_asked;
	while (st->sync_done < me && st->sync_failed < me) {
		if (st->sync_busy) {
			pthread_cond_wait(&st->synced, &st->lock);
			continue;
		}
		st->sync_busy = true;
		upto = st->sync_asked;
		pthread_mutex_unlock(&st->lock);
		rc = fsync(st->dirfd);
		saved = errno;
		pthread_mutex_lock(&st->lock);
		st->sync_busy = false;
		st->syncs++;
		if (rc == 0)
			st->sync_done = upto;
		else
			st->sync_failed = upto;
		pthread_cond_broadcast(&st->synced);
	}
	/* A failure in our batch fails us, whatever a later fsync says. */
	rc = st->sync_done >= me && st->sync_failed < me ? 0 : -1;
	pthread_mutex_unlock(&st->lock);
	if (rc == -1)
		errno = saved != 0 ? saved : EIO;
	return rc;
}

static int
store_write(int fd, const uint8_t *data, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A part's data past the page cache (O_DIRECT): the whole pages, the last
 * one padded with zeros, then the file cut to its length. A result
 * nobody reads back at once should not fill the page cache, and on the
 * bench's machine copying 1 MiB into it cost 2-4 ms of CPU against 0.4
 * (bench/lifecycle/NOTES.md). -1 with errno EINVAL: the file system
 * wants another alignment; the caller writes it the usual way.
 */
static int
store_write_direct(int fd, uint8_t *data, size_t len)
{
	size_t	 padded = (len + CTL_DIO_ALIGN - 1) / CTL_DIO_ALIGN *
		    CTL_DIO_ALIGN;

	memset(data + len, 0, padded - len);
	if (store_write(fd, data, padded) == -1)
		return -1;
	return ftruncate(fd, (off_t)len);
}

/*
 * A file of the directory with data, durable, without a name yet: tmp[0]
 * is '\0' for an O_TMPFILE, else the unique temporary name it has. With
 * direct (data laid out as ctl_dparse leaves it), written with O_DIRECT
 * where the file system allows it.
 */
static int
store_unnamed(struct ctl_store *st, const char *name, uint8_t *data,
    size_t len, bool direct, char *tmp, size_t tmplen)
{
	static unsigned	 seq;
	unsigned	 n;
	int		 fd, rc = -1, saved, dflag = direct ? O_DIRECT : 0;

	tmp[0] = '\0';
	fd = openat(st->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC | dflag,
	    0600);
	if (fd == -1 && dflag != 0 && errno == EINVAL) {
		dflag = 0;
		fd = openat(st->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
		    0600);
	}
	if (fd == -1) {
		dflag = 0;
		n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
		snprintf(tmp, tmplen, ".%s.%ld.%u.tmp", name, (long)getpid(), n);
		fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd == -1)
		return -1;
	if (dflag != 0 && (rc = store_write_direct(fd, data, len)) == -1 &&
	    errno == EINVAL) {
		/* Not this alignment after all: from the start, buffered. */
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) == 0 &&
		    ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0)
			dflag = 0;
	}
	if (dflag == 0)
		rc = store_write(fd, data, len);
	if (rc == 0)
		rc = fdatasync(fd);
	if (rc == -1) {
		saved = errno;
		close(fd);
		if (tmp[0] != '\0')
			unlinkat(st->dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Its name, only if free: -1 with errno EEXIST if taken. */
static int
store_link(struct ctl_store *st, int fd, const char *tmp, const char *name)
{
	char	 proc[64];
	int	 rc, saved;

	if (tmp[0] == '\0') {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		return linkat(AT_FDCWD, proc, st->dirfd, name,
		    AT_SYMLINK_FOLLOW);
	}
	rc = linkat(st->dirfd, tmp, st->dirfd, name, 0);
	saved = errno;
	unlinkat(st->dirfd, tmp, 0);
	errno = saved;
	return rc;
}

/*
 * name holds data, durably: 1 if it already did, 0 if written now, -1
 * with errno (EEXIST: it holds something else).
 */
static int
store_file(struct ctl_store *st, const char *name, uint8_t *data, size_t len,
    bool direct)
{
	char	 tmp[STORE_NAME_LEN + 48];
	int	 fd, rc, saved;

	if ((rc = store_same(st, name, data, len)) == -1)
		return -1;
	if (rc == 0) {
		if ((fd = store_unnamed(st, name, data, len, direct, tmp,
		    sizeof(tmp))) == -1)
			return -1;
		rc = store_link(st, fd, tmp, name);
		saved = errno;
		close(fd);
		if (rc == -1 && saved != EEXIST) {
			errno = saved;
			return -1;
		}
		/* Linked by another worker meanwhile: the same bytes? */
		if (rc == -1 && store_same(st, name, data, len) != 1)
			return -1;
		rc = rc == -1 ? 1 : 0;
	}
	return store_dsync(st) == -1 ? -1 : rc;
}

/* A store failure as the action's error. */
static void
store_error(struct wd_error *err, uint32_t action, const char *what,
    const char *name)
{
	if (errno == EEXIST)
		wd_error_set_action(err, WD_ERR_OBJECT_EXISTS, action, "%s is "
		    "already stored as %s with other content", what, name);
	else
		wd_error_set_action(err, WD_ERR_INTERNAL, action, "cannot store "
		    "%s as %s: %s", what, name, strerror(errno));
}

/* The declared Checksum against the data's, as computed; 0 or -1. */
static int
check_sum(const struct hi1_binary *b, const char *hex, uint32_t action,
    const char *what, struct wd_error *err)
{
	if (strcmp(hex, b->checksum) == 0)
		return 0;
	wd_error_set_action(err, WD_ERR_CHECKSUM, action, "%s: SHA-256 of the "
	    "%zu bytes delivered is %.16s..., its Checksum says %.16s...",
	    what, b->len, hex, b->checksum);
	return -1;
}

/* What the profile requires of a delivered part before it is stored. */
static int
part_check(const struct hi1_delivered *it, const char sum[2][65],
    const char *what, struct wd_error *err)
{
	if (!uuid_ok(it->delivery_id) || !uuid_ok(it->object_id))
		wd_error_set_action(err, WD_ERR_SCHEMA, it->action_id,
		    "%s: DeliveryID or ObjectIdentifier is not a UUID", what);
	else if (!it->has_data)
		wd_error_set_action(err, WD_ERR_MISSING_FIELD, it->action_id,
		    "%s carries no Delivery data", what);
	else if (it->has_manifest && !it->last)
		wd_error_set_action(err, WD_ERR_SCHEMA, it->action_id, "%s "
		    "carries a Manifest but is not the last part", what);
	else if (check_sum(&it->data, sum[0], it->action_id, what, err) == 0 &&
	    (!it->has_manifest || check_sum(&it->manifest, sum[1],
	    it->action_id, "its manifest", err) == 0))
		return 0;
	return -1;
}

static int
store_part(struct ctl_store *st, const struct hi1_delivered *it,
    const char sum[2][65], struct wd_error *err)
{
	char	 what[96], name[STORE_NAME_LEN], mname[STORE_NAME_LEN], p[64];
	int	 rc = 1, mrc = 1;

	snprintf(what, sizeof(what), "part %u of delivery %.36s", it->seq,
	    it->delivery_id);
	if (part_check(it, sum, what, err) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s.%06u.xml", it->delivery_id, it->seq);
	snprintf(mname, sizeof(mname), "%s.manifest.xml", it->delivery_id);
	if (it->has_manifest && (mrc = store_file(st, mname,
	    it->manifest.data, it->manifest.len, true)) == -1) {
		store_error(err, it->action_id, "the manifest", mname);
		return -1;
	}
	if ((rc = store_file(st, name, it->data.data, it->data.len,
	    true)) == -1) {
		store_error(err, it->action_id, what, name);
		return -1;
	}
	if (rc == 1 && mrc == 1) {
		store_say(st, &st->again, "%s (LDID %s): already stored as %s, "
		    "acknowledged again\n", what, safe(it->ldid, p, sizeof(p)),
		    name);
		return 0;
	}
	store_say(st, &st->stored, "%s (LDID %s): %zu bytes, SHA-256 ok, "
	    "stored as %s%s"
	    "%s\n", what, safe(it->ldid, p, sizeof(p)), it->data.len, name,
	    it->last ? "; the last part, manifest " : "",
	    it->last && it->has_manifest ? mname : it->last ? "missing" : "");
	return 0;
}

/* A notification as a text file: the fields, then the details. */
static char *
note_text(const struct hi1_deliver *d, const struct hi1_delivered *it,
    size_t *len)
{
	char	 ts[40], assoc[HI1_MAX_ASSOC * (HI1_UUID_LEN + 2) + 1] = "";
	char	*out = NULL;
	size_t	 off = 0;
	int	 n;

	wd_time_format(it->noted_us, ts, sizeof(ts));
	for (size_t i = 0; i < it->nassoc && i < HI1_MAX_ASSOC; i++)
		off += (size_t)snprintf(assoc + off, sizeof(assoc) - off, "%s%s",
		    i ? ", " : "", it->assoc[i]);
	n = asprintf(&out, "ObjectIdentifier: %s\nOwner: %s\nFrom: %s\n"
	    "Timestamp: %s\nType: %s\nAssociatedObjects: %s\n\n%s\n",
	    it->object_id, it->owner, d->h.sender_id, ts, it->note_type, assoc,
	    it->details != NULL ? it->details : "");
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}

static int
store_note(struct ctl_store *st, const struct hi1_deliver *d,
    const struct hi1_delivered *it, struct wd_error *err)
{
	char	 name[STORE_NAME_LEN], what[64], *text;
	size_t	 len = 0;
	int	 rc;

	snprintf(what, sizeof(what), "notification %.36s", it->object_id);
	if (!uuid_ok(it->object_id)) {
		wd_error_set_action(err, WD_ERR_SCHEMA, it->action_id, "%s: "
		    "ObjectIdentifier is not a UUID", what);
		return -1;
	}
	if ((text = note_text(d, it, &len)) == NULL) {
		wd_error_set_action(err, WD_ERR_INTERNAL, it->action_id,
		    "out of memory");
		return -1;
	}
	snprintf(name, sizeof(name), "notification-%s.txt", it->object_id);
	rc = store_file(st, name, (uint8_t *)text, len, false);
	free(text);
	if (rc == -1) {
		store_error(err, it->action_id, what, name);
		return -1;
	}
	store_say(st, rc == 1 ? &st->again : &st->stored, "%s: %s %s\n", what,
	    rc == 1 ? "already stored as" : "stored as", name);
	return 0;
}

/* One action: 0 if acknowledged, -1 with err set. */
static int
deliver_one(struct ctl_store *st, const struct hi1_deliver *d,
    const struct hi1_delivered *it, const char sum[2][65],
    struct wd_error *err)
{
	char	 p[HI1_ID_LEN + 1];

	if (st->authority != NULL && strcmp(it->owner, st->authority) != 0) {
		wd_error_set_action(err, WD_ERR_WRONG_RECEIVER, it->action_id,
		    "the object belongs to %s; this endpoint receives for %s",
		    safe(it->owner, p, sizeof(p)), st->authority);
		return -1;
	}
	if (it->kind == HI1_OBJ_DELIVERY)
		return store_part(st, it, sum, err);
	return store_note(st, d, it, err);
}

static int64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A message refused as a whole. */
static char *
deliver_refuse(struct ctl_store *st, const struct hi1_msg_header *h,
    const struct wd_error *err, int *status, size_t *outlen)
{
	struct hi1_response_header	 rh;
	char				 p[sizeof(err->text)];

	store_say(st, &st->refused, "message from %s: REFUSED: error %d: %s\n",
	    h->sender_id[0] ? h->sender_id : "an unknown sender", (int)err->code,
	    safe(err->text, p, sizeof(p)));
	rh.carrier_id = h->receiver_id[0] ? h->receiver_id :
	    st->authority ? st->authority : "UNKNOWN";
	rh.authority_id = h->sender_id[0] ? h->sender_id : "UNKNOWN";
	rh.transaction_id = h->transaction_id;
	rh.timestamp_us = now_us();
	*status = wd_error_http_status(err->code);
	return hi1_build_error(&rh, NULL, err, outlen);
}

char *
ctl_deliver(struct ctl_store *st, const struct hi1_schema *schema,
    struct evbuffer *body, int *status, size_t *outlen)
{
	struct ctl_dmsg			*m;
	struct hi1_msg_header		 none;
	struct hi1_response_header	 rh;
	struct hi1_answer		 a[HI1_MAX_ACTIONS];
	struct wd_error			 err, errs[HI1_MAX_ACTIONS];
	char				 p[sizeof(err.text)], *out;

	if ((m = malloc(sizeof(*m))) == NULL)
		return NULL;
	if (ctl_dparse_buffer(schema, body, m, &err) == -1) {
		memset(&none, 0, sizeof(none));
		free(m);
		return deliver_refuse(st, &none, &err, status, outlen);
	}
	if (st->authority != NULL && strcmp(m->d.h.receiver_id, st->authority)) {
		wd_error_set(&err, WD_ERR_WRONG_RECEIVER, "the message is "
		    "addressed to %s; this endpoint receives for %s",
		    m->d.h.receiver_id, st->authority);
		out = deliver_refuse(st, &m->d.h, &err, status, outlen);
		ctl_dmsg_free(m);
		free(m);
		return out;
	}
	*status = 200;
	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < m->d.n; i++) {
		a[i].action_id = m->d.items[i].action_id;
		a[i].verb = HI1_VERB_DELIVER;
		a[i].identifier = m->d.items[i].object_id;
		if (deliver_one(st, &m->d, &m->d.items[i], m->sum[i],
		    &errs[i]) == 0)
			continue;
		a[i].err = &errs[i];
		store_say(st, &st->refused, "action %u: REFUSED: error %d: %s\n",
		    m->d.items[i].action_id, (int)errs[i].code,
		    safe(errs[i].text, p, sizeof(p)));
		if (wd_error_http_status(errs[i].code) > *status)
			*status = wd_error_http_status(errs[i].code);
	}
	rh.carrier_id = m->d.h.receiver_id;
	rh.authority_id = m->d.h.sender_id;
	rh.transaction_id = m->d.h.transaction_id;
	rh.timestamp_us = now_us();
	out = hi1_build_answer(&rh, a, m->d.n, outlen);
	ctl_dmsg_free(m);
	free(m);
	return out;
}
