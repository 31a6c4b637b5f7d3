/*
 * ctl_deliver — what one DELIVER message from the carrier does to the
 * output directory of `warrantctl receive` (see src/ctl_receive.h).
 *
 * A part is acknowledged only once it is durable: its decoded result
 * document is written under a temporary name, fsync'ed, renamed to
 * DELIVERYID.SEQ.xml (SEQ six digits or more) and the directory fsync'ed;
 * the manifest (last part) goes to DELIVERYID.manifest.xml first, the same
 * way. A part whose data does not match its Checksum is answered with
 * error 420 and nothing is written, so the carrier sends it again. The
 * same part delivered again finds its file with the same bytes and is
 * acknowledged again without a second file; a file with other bytes under
 * that name is a conflict (error 411), never overwritten. Notifications
 * are written as text to notification-OBJECTID.txt under the same rules.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

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

static void
sha256_hex(const uint8_t *data, size_t len, char hex[65])
{
	uint8_t		 md[32];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
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
	return fsync(fd);
}

/*
 * name holds data, durably: 1 if it already did, 0 if written now, -1
 * with errno (EEXIST: it holds something else).
 */
static int
store_file(struct ctl_store *st, const char *name, const uint8_t *data,
    size_t len)
{
	char	 tmp[STORE_NAME_LEN + 8];
	int	 fd, rc, saved;

	if ((rc = store_same(st, name, data, len)) != 0)
		return rc;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if ((fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	rc = store_write(fd, data, len);
	saved = errno;
	if (close(fd) == -1 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0 && renameat(st->dirfd, tmp, st->dirfd, name) == -1) {
		rc = -1;
		saved = errno;
	}
	if (rc == -1) {
		unlinkat(st->dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return fsync(st->dirfd) == -1 ? -1 : 0;
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

/* The declared Checksum against the data; 0 or -1 with err set. */
static int
check_sum(const struct hi1_binary *b, uint32_t action, const char *what,
    struct wd_error *err)
{
	char	 hex[65];

	sha256_hex(b->data, b->len, hex);
	if (strcmp(hex, b->checksum) == 0)
		return 0;
	wd_error_set_action(err, WD_ERR_CHECKSUM, action, "%s: SHA-256 of the "
	    "%zu bytes delivered is %.16s..., its Checksum says %.16s...",
	    what, b->len, hex, b->checksum);
	return -1;
}

/* What the profile requires of a delivered part before it is stored. */
static int
part_check(const struct hi1_delivered *it, const char *what,
    struct wd_error *err)
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
	else if (check_sum(&it->data, it->action_id, what, err) == 0 &&
	    (!it->has_manifest ||
	    check_sum(&it->manifest, it->action_id, "its manifest", err) == 0))
		return 0;
	return -1;
}

static int
store_part(struct ctl_store *st, const struct hi1_delivered *it,
    struct wd_error *err)
{
	char	 what[96], name[STORE_NAME_LEN], mname[STORE_NAME_LEN], p[64];
	int	 rc = 1, mrc = 1;

	snprintf(what, sizeof(what), "part %u of delivery %.36s", it->seq,
	    it->delivery_id);
	if (part_check(it, what, err) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s.%06u.xml", it->delivery_id, it->seq);
	snprintf(mname, sizeof(mname), "%s.manifest.xml", it->delivery_id);
	if (it->has_manifest && (mrc = store_file(st, mname,
	    it->manifest.data, it->manifest.len)) == -1) {
		store_error(err, it->action_id, "the manifest", mname);
		return -1;
	}
	if ((rc = store_file(st, name, it->data.data, it->data.len)) == -1) {
		store_error(err, it->action_id, what, name);
		return -1;
	}
	if (rc == 1 && mrc == 1) {
		st->again++;
		fprintf(st->out, "%s (LDID %s): already stored as %s, "
		    "acknowledged again\n", what, safe(it->ldid, p, sizeof(p)),
		    name);
		return 0;
	}
	st->stored++;
	fprintf(st->out, "%s (LDID %s): %zu bytes, SHA-256 ok, stored as %s%s"
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
	rc = store_file(st, name, (const uint8_t *)text, len);
	free(text);
	if (rc == -1) {
		store_error(err, it->action_id, what, name);
		return -1;
	}
	if (rc == 1)
		st->again++;
	else
		st->stored++;
	fprintf(st->out, "%s: %s %s\n", what, rc == 1 ? "already stored as" :
	    "stored as", name);
	return 0;
}

/* One action: 0 if acknowledged, -1 with err set. */
static int
deliver_one(struct ctl_store *st, const struct hi1_deliver *d,
    const struct hi1_delivered *it, struct wd_error *err)
{
	char	 p[HI1_ID_LEN + 1];

	if (st->authority != NULL && strcmp(it->owner, st->authority) != 0) {
		wd_error_set_action(err, WD_ERR_WRONG_RECEIVER, it->action_id,
		    "the object belongs to %s; this endpoint receives for %s",
		    safe(it->owner, p, sizeof(p)), st->authority);
		return -1;
	}
	if (it->kind == HI1_OBJ_DELIVERY)
		return store_part(st, it, err);
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

	st->refused++;
	fprintf(st->out, "message from %s: REFUSED: error %d: %s\n",
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
    const char *body, size_t len, int *status, size_t *outlen)
{
	struct hi1_deliver		 d;
	struct hi1_msg_header		 none;
	struct hi1_response_header	 rh;
	struct hi1_answer		 a[HI1_MAX_ACTIONS];
	struct wd_error			 err, errs[HI1_MAX_ACTIONS];
	char				 p[sizeof(err.text)], *out;

	if (hi1_parse_deliver(schema, body, len, &d, &err) == -1) {
		memset(&none, 0, sizeof(none));
		return deliver_refuse(st, &none, &err, status, outlen);
	}
	if (st->authority != NULL && strcmp(d.h.receiver_id, st->authority)) {
		wd_error_set(&err, WD_ERR_WRONG_RECEIVER, "the message is "
		    "addressed to %s; this endpoint receives for %s",
		    d.h.receiver_id, st->authority);
		out = deliver_refuse(st, &d.h, &err, status, outlen);
		hi1_deliver_free(&d);
		return out;
	}
	*status = 200;
	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < d.n; i++) {
		a[i].action_id = d.items[i].action_id;
		a[i].verb = HI1_VERB_DELIVER;
		a[i].identifier = d.items[i].object_id;
		if (deliver_one(st, &d, &d.items[i], &errs[i]) == 0)
			continue;
		a[i].err = &errs[i];
		st->refused++;
		fprintf(st->out, "action %u: REFUSED: error %d: %s\n",
		    d.items[i].action_id, (int)errs[i].code,
		    safe(errs[i].text, p, sizeof(p)));
		if (wd_error_http_status(errs[i].code) > *status)
			*status = wd_error_http_status(errs[i].code);
	}
	fflush(st->out);
	rh.carrier_id = d.h.receiver_id;
	rh.authority_id = d.h.sender_id;
	rh.transaction_id = d.h.transaction_id;
	rh.timestamp_us = now_us();
	out = hi1_build_answer(&rh, a, d.n, outlen);
	hi1_deliver_free(&d);
	return out;
}
