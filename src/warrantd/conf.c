/*
 * conf — the loaded configuration at run time: looking up authorities and
 * the people registered to sign for them, deciding whether a person may act
 * now, finding the back end that serves a request type, and freeing a
 * configuration. Reading the file is src/warrantd/parse.y's job;
 * once loaded a struct wd_conf is never modified, so none of this locks.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"

static void
conf_free_official(struct wd_official *o)
{
	free(o->id);
	free(o->name);
	free(o->position);
	free(o->designation);
	free(o);
}

static void
conf_free_authority(struct wd_authority *a)
{
	free(a->id);
	free(a->name);
	free(a->deliver_to);
	free(a);
}

static void
conf_free_backend(struct wd_backend *b)
{
	free(b->name);
	free(b->address);
	free(b->unix_path);
	free(b->host);
	free(b->tls.cert);
	free(b->tls.key);
	free(b->tls.ca);
	free(b);
}

void
conf_free(struct wd_conf *conf)
{
	struct wd_authority	*a;
	struct wd_official	*o;
	struct wd_backend	*b;
	struct wd_ne		*n;

	if (conf == NULL)
		return;
	while ((n = TAILQ_FIRST(&conf->nes)) != NULL) {
		TAILQ_REMOVE(&conf->nes, n, entry);
		conf_ne_free(n);
	}
	while ((o = TAILQ_FIRST(&conf->officials)) != NULL) {
		TAILQ_REMOVE(&conf->officials, o, entry);
		conf_free_official(o);
	}
	while ((a = TAILQ_FIRST(&conf->authorities)) != NULL) {
		TAILQ_REMOVE(&conf->authorities, a, entry);
		conf_free_authority(a);
	}
	while ((b = TAILQ_FIRST(&conf->backends)) != NULL) {
		TAILQ_REMOVE(&conf->backends, b, entry);
		conf_free_backend(b);
	}
	free(conf->path);
	free(conf->carrier_id);
	free(conf->listen_addr);
	free(conf->desk_addr);
	free(conf->desk_pages);
	free(conf->alert.command);
	free(conf->state_dir);
	free(conf->templates_dir);
	free(conf->tls.cert);
	free(conf->tls.key);
	free(conf->tls.ca);
	free(conf->tls.crl);
	free(conf->journal.signing_key);
	free(conf->journal.audit_key);
	free(conf->journal.data_key);
	free(conf->journal.origin);
	free(conf->results.key);
	free(conf->delivery.cert);
	free(conf->delivery.key);
	free(conf->delivery.ca);
	free(conf->delivery.crl);
	free(conf);
}

struct wd_authority *
conf_find_authority(const struct wd_conf *conf, const char *id)
{
	struct wd_authority	*a;

	if (conf == NULL || id == NULL)
		return NULL;
	TAILQ_FOREACH(a, &conf->authorities, entry)
		if (strcmp(a->id, id) == 0)
			return a;
	return NULL;
}

struct wd_backend *
conf_find_backend(const struct wd_conf *conf, const char *name)
{
	struct wd_backend	*b;

	if (conf == NULL || name == NULL)
		return NULL;
	TAILQ_FOREACH(b, &conf->backends, entry)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

struct wd_backend *
conf_backend_for(const struct wd_conf *conf, enum wd_reqtype type)
{
	struct wd_backend	*b;

	if (conf == NULL || (unsigned)type >= WD_REQ__COUNT)
		return NULL;
	TAILQ_FOREACH(b, &conf->backends, entry)
		if (b->serves[type])
			return b;
	return NULL;
}

/*
 * Fingerprints come from the peer's certificate; comparing them in constant
 * time costs nothing and keeps the lookup from leaking how close a forged
 * certificate came to a registered one.
 */
static int
fp_equal(const uint8_t a[32], const uint8_t b[32])
{
	uint8_t	diff = 0;
	size_t	i;

	for (i = 0; i < 32; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

struct wd_official *
conf_find_official(const struct wd_conf *conf, const uint8_t cert_sha256[32],
    const uint8_t spki_sha256[32])
{
	struct wd_official	*o;

	if (conf == NULL)
		return NULL;
	TAILQ_FOREACH(o, &conf->officials, entry) {
		if (cert_sha256 != NULL && o->has_cert_fp &&
		    fp_equal(o->cert_sha256, cert_sha256))
			return o;
		if (spki_sha256 != NULL && o->has_spki_fp &&
		    fp_equal(o->spki_sha256, spki_sha256))
			return o;
	}
	return NULL;
}

/*
 * Who a client certificate is, from the whole registry rather than the first
 * entry in file order: an entry matches if its certificate hash or its
 * public-key hash does. An entry that names both but whose certificate hash
 * matches while its public-key hash does not is wrong about that
 * certificate (it is also what lets the loader compare entries of different
 * kinds, src/warrantd/parse.y), and a certificate two entries match could be either
 * person: both are refused rather than guessed.
 */
enum wd_identity
conf_identify(const struct wd_conf *conf, const uint8_t cert_sha256[32],
    const uint8_t spki_sha256[32], const struct wd_official **who,
    const struct wd_official **other)
{
	struct wd_official	*o;
	bool			 by_cert, by_spki;

	*who = *other = NULL;
	if (conf == NULL)
		return WD_IDENTITY_NONE;
	TAILQ_FOREACH(o, &conf->officials, entry) {
		by_cert = o->has_cert_fp && fp_equal(o->cert_sha256, cert_sha256);
		by_spki = o->has_spki_fp && fp_equal(o->spki_sha256, spki_sha256);
		if (!by_cert && !by_spki)
			continue;
		if (by_cert && o->has_spki_fp && !by_spki) {
			*who = o;
			*other = NULL;
			return WD_IDENTITY_INCONSISTENT;
		}
		if (*who == NULL)
			*who = o;
		else if (*other == NULL)
			*other = o;
	}
	if (*other != NULL)
		return WD_IDENTITY_AMBIGUOUS;
	return *who ? WD_IDENTITY_ONE : WD_IDENTITY_NONE;
}

/* Suspension wins over dates: a suspended person is out whatever the day. */
enum wd_official_status
conf_official_status(const struct wd_official *o, time_t now)
{
	if (o == NULL)
		return WD_OFFICIAL_UNKNOWN;
	if (o->suspended)
		return WD_OFFICIAL_SUSPENDED;
	if (now < o->valid_from)
		return WD_OFFICIAL_NOT_YET_VALID;
	if (now > o->valid_until)
		return WD_OFFICIAL_EXPIRED;
	return WD_OFFICIAL_OK;
}
