/*
 * wd_b64 — base64 (RFC 4648, with padding, no line breaks) encoding, fast
 * and streamable. It owns nothing but a 8 KiB table (two characters for
 * each 12 bits), built once: encoding a DeliveryObject's 1 MiB of Data was
 * a sixth of the daemon's CPU for a GET of a part with OpenSSL's
 * byte-at-a-time EVP_EncodeBlock (bench/lifecycle/NOTES.md). The output is
 * the same as EVP_EncodeBlock's, byte for byte (tests/unit/test_b64.c).
 */
#ifndef WD_B64_H
#define WD_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters for len bytes, padding included. */
#define WD_B64_LEN(len)	(4 * (((size_t)(len) + 2) / 3))

/* The whole of in (len bytes) at out (WD_B64_LEN(len) bytes, no NUL). */
size_t	wd_b64_encode(char *out, const uint8_t *in, size_t len);

/*
 * In pieces: the bytes of one encoding given in any number of updates,
 * then wd_b64_final. Up to two bytes are carried from one update to the
 * next (a group of three is encoded whole).
 */
struct wd_b64 {
	uint8_t	carry[2];
	size_t	ncarry;
};

void	wd_b64_init(struct wd_b64 *);
/* The largest output of an update of len bytes. */
#define WD_B64_UPDATE_MAX(len)	WD_B64_LEN((size_t)(len) + 2)
size_t	wd_b64_update(struct wd_b64 *, char *out, const uint8_t *in, size_t len);
/* What is carried, with its padding: 0 or 4 characters. */
size_t	wd_b64_final(struct wd_b64 *, char *out);

#endif
