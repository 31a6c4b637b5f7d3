/*
 * hi1_object — the carrier's HI-1 messages about objects it holds
 * (src/hi1_object.c): answers with one GETResponse, CREATEResponse,
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
};

/* Answers, in the order given. Caller frees. NULL (logged) on failure. */
char	*hi1_build_answer(const struct hi1_response_header *,
	    const struct hi1_answer *, size_t n, size_t *len);
/*
 * A DELIVER request: h->carrier_id sends to h->authority_id, one
 * ActionRequest per answer (verb ignored), each carrying its object.
 */
char	*hi1_build_deliver(const struct hi1_response_header *,
	    const struct hi1_answer *, size_t n, size_t *len);


#endif
