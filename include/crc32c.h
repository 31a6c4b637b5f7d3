/*
 * crc32c — CRC-32C (Castagnoli, iSCSI polynomial 0x1EDC6F41, reflected),
 * the checksum of every journal frame. Chosen over CRC-32 for its better
 * error detection on storage-sized blocks (RFC 3720 §B.4 is the reference).
 */
#ifndef WD_CRC32C_H
#define WD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC over len more bytes; start with crc = 0. The pre- and
 * post-inversion are done inside, so crc32c(crc32c(0, a), b) == crc32c(0, ab).
 */
uint32_t	crc32c(uint32_t crc, const void *buf, size_t len);

#endif
