/*
 * crc32c — software CRC-32C with a slicing-by-8 table. The journal checks
 * every frame at every start, so the inner loop matters; eight tables turn
 * eight dependent table lookups per byte into eight independent ones per
 * 8 bytes. The tables are built once, lazily and thread-safely.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82F63B78u	/* 0x1EDC6F41 bit-reversed */

static uint32_t		crc32c_tab[8][256];
static pthread_once_t	crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_init(void)
{
	uint32_t	c;
	int		i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_tab[0][i];
		for (k = 1; k < 8; k++) {
			c = crc32c_tab[0][c & 0xff] ^ (c >> 8);
			crc32c_tab[k][i] = c;
		}
	}
}

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint32_t	 lo, hi;

	pthread_once(&crc32c_once, crc32c_init);
	crc = ~crc;
	while (len >= 8) {
		/* Assemble little-endian words explicitly: no alignment or
		 * host byte-order assumptions. */
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = crc32c_tab[7][lo & 0xff] ^
		    crc32c_tab[6][(lo >> 8) & 0xff] ^
		    crc32c_tab[5][(lo >> 16) & 0xff] ^
		    crc32c_tab[4][lo >> 24] ^
		    crc32c_tab[3][hi & 0xff] ^
		    crc32c_tab[2][(hi >> 8) & 0xff] ^
		    crc32c_tab[1][(hi >> 16) & 0xff] ^
		    crc32c_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = crc32c_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
