/*
 * jgen — test tool: fills a journal through the real journal API with
 * synthetic records, or forges a segment (for the tamper tests).
 *
 *	jgen [--key PEM] [--origin O] [--every K] [--segment-max B]
 *	     [--tag T] DIR N		append N records
 *	jgen --forge DIR SEGMENT	rewrite SEGMENT's records with another
 *					authority, keeping frames, CRCs, seqs
 *					and times self-consistent
 *	jgen --forge --sealed-byte DIR SEGMENT
 *					flip one byte of the first sealed
 *					envelope in SEGMENT, CRC recomputed
 *	jgen --forge --blind-byte DIR SEGMENT
 *					the same in the first blind index
 *					token
 *
 * With --audit-key PUB and --data-key FILE (created if missing) records
 * are sealed as warrantd seals them, and accepted requests name an order.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "journal.h"
#include "journal_segment.h"
#include "log.h"
#include "seal.h"

static int	ndone, nfail;

static void
on_done(int status, const struct journal_receipt *rc, void *arg)
{
	(void)rc;
	(void)arg;
	if (status != 0)
		nfail++;
	ndone++;
}

static int	with_order;	/* sealing: accepted requests name an order */

static void
fill(Warrant__Record *r, Warrant__Task *t, Warrant__Identifier *id,
    Warrant__Identifier **ids, Warrant__Task **ts, int i, const char *tag,
    char *ref, char *txn, size_t len)
{
	static Warrant__Authorisation	a = WARRANT__AUTHORISATION__INIT;
	static Warrant__Authorisation	*ap[1] = { &a };

	static const Warrant__EventType ev[] = {
		WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED,
		WARRANT__EVENT_TYPE__EVENT_BACKEND_CALL,
		WARRANT__EVENT_TYPE__EVENT_RESULT_DELIVERED,
		WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED,
	};

	snprintf(ref, len, "MXC-%s-%06d", tag, i / 4);
	snprintf(txn, len, "%08x-0000-4000-8000-%012d", i / 4, i);
	r->event = ev[i % 4];
	r->carrier_ref = i % 4 == 3 ? "" : ref;
	r->transaction_id = txn;
	r->authority_id = i % 4 == 3 ? "FGJ-CDMX" : "FGR";
	r->official_id = "3f2a9c";
	if (r->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_ACCEPTED) {
		id->type = WARRANT__IDENTIFIER_TYPE__IDENTIFIER_MSISDN;
		id->value = "525512345678";
		ids[0] = id;
		t->reference = "LDID-1";
		t->type = WARRANT__REQUEST_TYPE__REQUEST_SUBSCRIBER_IDENTITY;
		t->n_identifiers = 1;
		t->identifiers = ids;
		ts[0] = t;
		r->n_tasks = 1;
		r->tasks = ts;
		if (with_order) {
			a.object_id = "0rder-0000-4000-8000-000000000001";
			a.reference = "CAUSA-77/2026";
			a.court = "Juzgado Primero de Control";
			r->n_authorisations = 1;
			r->authorisations = ap;
		}
	}
	if (r->event == WARRANT__EVENT_TYPE__EVENT_REQUEST_REFUSED) {
		r->error_code = 403;
		r->error_text = "authority not registered";
	}
}

/* Chunks of cfg->checkpoint_records, each synced before the next, so
 * that the journal gets a checkpoint every so many records. */
static int
append_all(struct journal_config *cfg, int n, const char *tag)
{
	struct event_base	*base;
	struct journal		*j;
	int			 i, sent = 0;

	if ((base = event_base_new()) == NULL ||
	    journal_open(cfg, base, &j) == -1)
		return 1;
	for (i = 0; i < n; i++) {
		Warrant__Record r = WARRANT__RECORD__INIT;
		Warrant__Task t = WARRANT__TASK__INIT;
		Warrant__Identifier id = WARRANT__IDENTIFIER__INIT;
		Warrant__Identifier *ids[1];
		Warrant__Task *ts[1];
		char ref[64], txn[64];

		fill(&r, &t, &id, ids, ts, i, tag, ref, txn, sizeof(ref));
		while (journal_append(j, &r, on_done, NULL) == -1) {
			if (errno != EAGAIN) {
				log_warn("append");
				journal_close(j);
				return 1;
			}
			event_base_loop(base, EVLOOP_ONCE);
		}
		sent++;
		if (cfg->checkpoint_records > 0 &&
		    sent % (int)cfg->checkpoint_records == 0)
			while (ndone < sent)
				event_base_loop(base, EVLOOP_ONCE);
	}
	while (ndone < sent)
		event_base_loop(base, EVLOOP_ONCE);
	journal_close(j);
	event_base_free(base);
	return nfail != 0;
}

/* ---- forging ----------------------------------------------------------- */

struct forge {
	FILE	*out;
	int	 err;
	int	 sealed_byte;	/* flip a byte of the first envelope instead */
	int	 blind_byte;	/* ... or of the first blind index token */
	int	 done;
};

static int
forge_one(const struct jseg_rec *jr, void *arg)
{
	struct forge	*f = arg;
	Warrant__Record	 r = *jr->rec;
	uint8_t		 fh[JSEG_FRAME_HDR], *buf, *flipped = NULL;
	ProtobufCBinaryData *blind = NULL;
	uint8_t		 tok[64];
	size_t		 len;

	if (f->blind_byte) {
		/* The scan's bytes are read-only: a copy of the token list. */
		if (!f->done && r.n_blind > 0 && r.blind[0].len <= sizeof(tok)) {
			if ((blind = calloc(r.n_blind, sizeof(*blind))) == NULL)
				return f->err = 1;
			memcpy(blind, r.blind, r.n_blind * sizeof(*blind));
			memcpy(tok, r.blind[0].data, r.blind[0].len);
			tok[0] ^= 0x01;
			blind[0].data = tok;
			r.blind = blind;
			f->done = 1;
		}
	} else if (!f->sealed_byte)
		r.authority_id = "FORGED";
	else if (!f->done && r.sealed.len > 0) {
		/* The envelope's bytes are the scan's: flip in a copy. */
		if ((flipped = malloc(r.sealed.len)) == NULL)
			return f->err = 1;
		memcpy(flipped, r.sealed.data, r.sealed.len);
		flipped[r.sealed.len / 2] ^= 0x01;
		r.sealed.data = flipped;
		f->done = 1;
	}
	len = warrant__record__get_packed_size(&r);
	if ((buf = malloc(len)) == NULL) {
		free(flipped);
		free(blind);
		return f->err = 1;
	}
	warrant__record__pack(&r, buf);
	free(flipped);
	free(blind);
	jseg_frame_header(fh, buf, len);
	if (fwrite(fh, 1, sizeof(fh), f->out) != sizeof(fh) ||
	    fwrite(buf, 1, len, f->out) != len)
		f->err = 1;
	free(buf);
	return f->err;
}

static int
forge(const char *dir, const char *name, int sealed_byte, int blind_byte)
{
	struct jseg_file	 seg;
	struct jseg_scan	 s;
	struct forge		 f = { NULL, 0, sealed_byte, blind_byte, 0 };
	uint8_t			 hdr[JSEG_HDR_LEN];
	char			 tmp[1024], path[1024];
	int			 dirfd;

	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1 ||
	    strlen(name) >= sizeof(seg.name))
		return 1;
	snprintf(seg.name, sizeof(seg.name), "%s", name);
	seg.first_seq = strtoull(name + 4, NULL, 16);
	snprintf(tmp, sizeof(tmp), "%s/%s.forged", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f.out = fopen(tmp, "w")) == NULL)
		return 1;
	jseg_header(hdr, seg.first_seq);	/* the current format */
	fwrite(hdr, 1, sizeof(hdr), f.out);
	jseg_scan_init(&s, 0);
	s.next_seq = seg.first_seq;
	s.fn = forge_one;
	s.arg = &f;
	if (jseg_scan_file(dirfd, &seg, 1, &s, NULL) == -1)
		log_warnx("%s", s.err);
	if (fclose(f.out) != 0 || f.err || ((sealed_byte || blind_byte) &&
	    !f.done) ||
	    rename(tmp, path) == -1)
		return 1;
	close(dirfd);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "origin", required_argument, NULL, 'o' },
		{ "every", required_argument, NULL, 'e' },
		{ "segment-max", required_argument, NULL, 's' },
		{ "tag", required_argument, NULL, 't' },
		{ "forge", no_argument, NULL, 'F' },
		{ "sealed-byte", no_argument, NULL, 'B' },
		{ "blind-byte", no_argument, NULL, 'I' },
		{ "audit-key", required_argument, NULL, 'A' },
		{ "data-key", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct journal_config	 cfg;
	const char		*tag = "T", *audit = NULL, *data = NULL;
	struct seal		*seal = NULL;
	uint8_t			 dk[SEAL_KEY_LEN];
	int			 ch, forging = 0, sealed_byte = 0, rc;
	int			 blind_byte = 0;

	log_init("jgen", 1, 0);
	memset(&cfg, 0, sizeof(cfg));
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'k': cfg.signing_key = optarg; break;
		case 'o': cfg.origin = optarg; break;
		case 'e': cfg.checkpoint_records = (unsigned)atoi(optarg); break;
		case 's': cfg.segment_max = (size_t)atol(optarg); break;
		case 't': tag = optarg; break;
		case 'F': forging = 1; break;
		case 'B': sealed_byte = 1; break;
		case 'I': blind_byte = 1; break;
		case 'A': audit = optarg; break;
		case 'D': data = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: jgen [options] DIR N | jgen --forge "
		    "DIR SEGMENT\n");
		return 2;
	}
	if (forging)
		return forge(argv[optind], argv[optind + 1], sealed_byte,
		    blind_byte);
	if (audit != NULL) {
		if (data == NULL || (seal = seal_new()) == NULL ||
		    seal_set_audit_public(seal, audit) == -1 ||
		    seal_read_data_key(data, true, dk) == -1 ||
		    seal_set_data_key(seal, dk) == -1)
			return 2;
		cfg.seal = seal;
		with_order = 1;
	}
	cfg.dir = argv[optind];
	rc = append_all(&cfg, atoi(argv[optind + 1]), tag);
	seal_free(seal);
	return rc;
}
