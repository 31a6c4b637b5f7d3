/*
 * wd_bytes — big-endian integers in on-disk and on-wire formats (journal
 * segments, results files), in one place.
 */
#ifndef WD_BYTES_H
#define WD_BYTES_H

#include <stdint.h>

static inline uint32_t
wd_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
wd_get_be64(const uint8_t *p)
{
	return (uint64_t)wd_get_be32(p) << 32 | wd_get_be32(p + 4);
}

static inline void
wd_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
wd_put_be64(uint8_t *p, uint64_t v)
{
	wd_put_be32(p, (uint32_t)(v >> 32));
	wd_put_be32(p + 4, (uint32_t)v);
}

#endif
