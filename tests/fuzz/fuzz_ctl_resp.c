/*
 * fuzz_ctl_resp — libFuzzer target for warrantctl's reading of an answer
 * (src/warrantctl/ctl_resp.c): the carrier's HI-1 response, its DeliveryObjects and
 * their result documents, and the request file read back to name the
 * actions. Both are untrusted. The input is the answer, then optionally a
 * NUL byte and the request; its length's parity picks HTTP 200 or 400 (the
 * accepted and the refused reports). Nothing is printed but warrantctl's
 * own complaints on stderr. Run: tests/fuzz/run.sh BUILDDIR [SECONDS].
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;
	const uint8_t	*nul;
	char		*ans, *req;
	size_t		 alen, rlen;

	if (!ready) {
		ctl_resp_init();
		ready = 1;
	}
	nul = memchr(data, '\0', size);
	alen = nul != NULL ? (size_t)(nul - data) : size;
	rlen = nul != NULL ? size - alen - 1 : 0;
	/* NUL-terminated copies, as ctl_http and read_file hand them over. */
	if ((ans = malloc(alen + 1)) == NULL)
		return 0;
	if ((req = malloc(rlen + 1)) == NULL) {
		free(ans);
		return 0;
	}
	memcpy(ans, data, alen);
	ans[alen] = '\0';
	if (rlen > 0)
		memcpy(req, nul + 1, rlen);
	req[rlen] = '\0';
	(void)ctl_resp_report(NULL, "fuzz.xml", size % 2 ? 400 : 200, ans, alen,
	    req, rlen);
	free(ans);
	free(req);
	return 0;
}
