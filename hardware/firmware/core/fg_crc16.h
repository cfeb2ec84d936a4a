/**
 * @file fg_crc16.h
 * @brief CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR.
 *
 * Equal to Python's ``binascii.crc_hqx(data, 0xFFFF)``; the check value of the nine ASCII bytes "123456789" is
 * 0x29B1, and the CRC of no bytes is the initial value 0xFFFF. Table driven (one 512-byte table in flash).
 */
#ifndef FG_CRC16_H
#define FG_CRC16_H

#include "fg_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Initial register value of CRC-16/CCITT-FALSE. */
#define FG_CRC16_INIT 0xFFFFu

/**
 * Continue a CRC over more bytes (for data that arrives in pieces).
 *
 * @param crc   Register value so far: ::FG_CRC16_INIT for the first piece.
 * @param data  Bytes to add; may be NULL only when @p len is 0.
 * @param len   Number of bytes.
 * @return The updated register value.
 */
uint16_t fg_crc16_update(uint16_t crc, const uint8_t *data, size_t len);

/** CRC-16/CCITT-FALSE of @p len bytes at @p data (NULL allowed when @p len is 0). */
uint16_t fg_crc16(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FG_CRC16_H */
