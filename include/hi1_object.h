/*
 * hi1_object — the carrier's HI-1 messages about objects it holds
 * (lib/hi1_object.c): answers with one GETResponse, CREATEResponse,
 * UPDATEResponse, LISTResponse or ErrorInformation per action, and the
 * DELIVER requests the carrier sends to an authority's endpoint. Objects
 * (include/obj.h) are written in full, in the ETSI order, with Generation
 * and LastChanged, their status from the ETSI dictionaries and a
 * StatusReason or InvalidReason where they ended early. Every message built
 * here is valid under the profile's templates and ETSI's official schemas
 * (tests/unit/test_lifecycle.c checks both).
 */
#ifndef WD_HI1_OBJECT_H
#define WD_HI1_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "hi1.h"
#include "obj.h"

/* One ActionResponse (or, in a DELIVER, one ActionRequest). */
struct hi1_answer {
	uint32_t		 action_id;
	enum hi1_verb		 verb;		/* which response (or DELIVER) */
	const struct wd_error	*err;		/* ErrorInformation instead */
	const char		*identifier;	/* CREATE/UPDATE/DELIVER: Identifier */
	const struct obj	*obj;		/* the object written (may be NULL
						   for a CREATEResponse) */
	/* A task's DeliveryObjects, listed after its authorisation. */
	const char		(*deliveries)[HI1_UUID_LEN + 1];
	size_t			 ndeliveries;
	const struct obj	*list;		/* LIST: the records */
	size_t			 nlist;
	/* A DeliveryObject's result document and (last part) manifest. */
	const uint8_t		*data;
	size_t			 data_len;
	const uint8_t		*data_sha256;	/* its SHA-256 if known, or NULL */
	const uint8_t		*manifest;
	size_t			 manifest_len;
	/*
	 * Or the data streamed into the answer later (hi1_build_answer_pieces):
	 * data NULL, data_len bytes from this source, opaque here.
	 */
	const void		*data_stream;
};

/*
 * A message whose streamed Data is not in it yet: text (NUL-terminated,
 * malloc'd) with, at each cut (in order, offsets into text), the base64 of
 * cut_len[i] / 4 * 3 bytes, minus padding, from the source cut_src[i].
 */
#define HI1_PIECES_MAX		HI1_MAX_ACTIONS	/* one data a GET */
struct hi1_pieces {
	char		*text;
	size_t		 len;		/* of text */
	size_t		 ncut;
	size_t		 cut[HI1_PIECES_MAX];
	size_t		 cut_len[HI1_PIECES_MAX];	/* characters of base64 */
	size_t		 cut_bytes[HI1_PIECES_MAX];	/* bytes they encode */
	const void	*cut_src[HI1_PIECES_MAX];
};

/* Answers, in the order given. Caller frees. NULL (logged) on failure. */
char	*hi1_build_answer(const struct hi1_response_header *,
	    const struct hi1_answer *, size_t n, size_t *len);
/* The same, with each data_stream left as a cut. 0 or -1 (logged). */
int	 hi1_build_answer_pieces(const struct hi1_response_header *,
	    const struct hi1_answer *, size_t n, struct hi1_pieces *);
/*
 * A DELIVER request: h->carrier_id sends to h->authority_id, one
 * ActionRequest per answer (verb ignored), each carrying its object.
 */
char	*hi1_build_deliver(const struct hi1_response_header *,
	    const struct hi1_answer *, size_t n, size_t *len);
/* The same, with each data_stream left as a cut (a pushed part streamed). */
int	 hi1_build_deliver_pieces(const struct hi1_response_header *,
	    const struct hi1_answer *, size_t n, struct hi1_pieces *);


#endif
