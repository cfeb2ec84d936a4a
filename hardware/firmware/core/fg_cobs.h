/**
 * @file fg_cobs.h
 * @brief COBS (consistent overhead byte stuffing) and the serial frame of PROTOCOL.md §2: COBS(packet) || 0x00.
 *
 * Byte-for-byte equal to the Python ``cobs`` package (``cobs.cobs.encode`` / ``decode``), which the host side uses:
 *  - the empty input encodes to the single byte 0x01, and 0x01 (or nothing) decodes to the empty output;
 *  - a run of 254 non-zero bytes is closed with the code 0xFF and, when the input ends right after such a run,
 *    no further code byte is written (so 254 non-zero bytes encode to 255 bytes, 255 to 257);
 *  - a trailing zero in the input gives a trailing 0x01 block;
 *  - decoding rejects a block that runs past the end (::FG_ERR_COBS_SHORT) and a zero byte anywhere in the input
 *    (::FG_ERR_COBS_ZERO); a block with both problems is reported as too short, like the package's C extension
 *    (its pure-Python fallback, used only when the extension is missing, reports the zero byte instead).
 * Source and destination must not overlap.
 */
#ifndef FG_COBS_H
#define FG_COBS_H

#include "fg_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Upper bound of the COBS encoding of @p n bytes (one code byte per started 254-byte block). */
#define FG_COBS_MAX_ENCODED_SIZE(n) ((size_t)(n) + (size_t)(n) / 254u + 1u)

/** The longest COBS-encoded frame, delimiter excluded, a receiver accepts (PROTOCOL.md §2). */
#define FG_MAX_FRAME_BYTES 512u

/**
 * COBS-encode @p len bytes.
 *
 * @param src      Input bytes; may be NULL only when @p len is 0.
 * @param len      Input length.
 * @param dst      Output buffer; needs at most FG_COBS_MAX_ENCODED_SIZE(len) bytes.
 * @param cap      Size of @p dst.
 * @param out_len  Receives the encoded length (always at least 1).
 * @return ::FG_OK, ::FG_ERR_ARG, or ::FG_ERR_NO_SPACE (then @p dst holds a partial encoding).
 */
fg_err_t fg_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/**
 * Decode @p len COBS bytes (one frame, without its 0x00 delimiter).
 *
 * @param src      Encoded bytes; may be NULL only when @p len is 0.
 * @param len      Encoded length; 0 decodes to nothing.
 * @param dst      Output buffer; the decoded length is at most @p len - 1 (0 for empty input).
 * @param cap      Size of @p dst.
 * @param out_len  Receives the decoded length.
 * @return ::FG_OK, ::FG_ERR_ARG, ::FG_ERR_COBS_ZERO, ::FG_ERR_COBS_SHORT or ::FG_ERR_NO_SPACE.
 */
fg_err_t fg_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/**
 * Build one serial frame: the COBS encoding of @p packet followed by the 0x00 delimiter (the USB/UART path).
 *
 * Equal to ``hardware.framing.frame``. A 508-byte packet (the largest IMU6 packet) needs 511 bytes.
 *
 * @param packet   Packet bytes (at least one).
 * @param len      Packet length.
 * @param dst      Output buffer of FG_COBS_MAX_ENCODED_SIZE(len) + 1 bytes.
 * @param cap      Size of @p dst.
 * @param out_len  Receives the frame length, delimiter included.
 * @return ::FG_OK, ::FG_ERR_ARG (NULL or empty packet), ::FG_ERR_NO_SPACE, or ::FG_ERR_FRAME_TOO_LONG when the
 *         encoding is longer than ::FG_MAX_FRAME_BYTES.
 */
fg_err_t fg_frame_encode(const uint8_t *packet, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* FG_COBS_H */
