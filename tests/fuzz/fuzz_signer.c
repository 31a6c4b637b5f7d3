/*
 * fuzz_signer — libFuzzer target for the checkpoint signer's wire
 * (src/warrantd/signer.h): a byte stream read as frames from a socket
 * (signer_frame_read), each read as the signer child reads a request from a
 * warrantd that may have been taken over (signer_request_read), and as
 * warrantd reads an answer from its signer (signer_answer_read). A request
 * accepted must be exactly the one signer_request_make writes for it; an
 * answer accepted must verify, so only a note signed by the key passes.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "signer_impl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY	*key;
static uint8_t	 buf[SIGNER_FRAME_MAX];

static void
one(const uint8_t *frame, size_t len)
{
	struct checkpoint	 cp;
	uint8_t			 again[SIGNER_SIGN_LEN];
	char			*note;

	if (signer_request_read(frame, len, "fuzz.example/warrantd", &cp) == 0) {
		signer_request_make(again, &cp);
		if (len != sizeof(again) || memcmp(again, frame, len) != 0)
			abort();
	} else
		memset(&cp, 0, sizeof(cp));
	if ((note = signer_answer_read(frame, len, key, &cp)) != NULL)
		abort();	/* nobody but the key's holder signs */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	len;
	int	sv[2];

	if (key == NULL && (key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		abort();
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[0]);
	while (signer_frame_read(sv[1], buf, sizeof(buf), &len, 0) == 0)
		one(buf, len);
	close(sv[1]);
	return 0;
}
