/**
 * @file fg_cobs.c
 * @brief COBS encode/decode matching the Python ``cobs`` package, and the serial frame writer.
 */
#include "fg_cobs.h"

fg_err_t fg_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t code_pos = 0u; /* where the code byte of the open block goes */
    size_t pos = 1u;      /* next free output byte */
    uint8_t code = 1u;    /* 1 + bytes in the open block */
    bool final_block = true; /* false only right after a full 254-byte run closed the block */
    size_t i;

    if ((src == NULL && len != 0u) || dst == NULL || out_len == NULL) {
        return FG_ERR_ARG;
    }
    *out_len = 0u;
    if (cap < 1u) {
        return FG_ERR_NO_SPACE;
    }
    for (i = 0u; i < len; ++i) {
        if (src[i] == 0u) {
            dst[code_pos] = code;
            if (pos >= cap) {
                return FG_ERR_NO_SPACE;
            }
            code_pos = pos++;
            code = 1u;
            final_block = true;
        } else {
            if (pos >= cap) {
                return FG_ERR_NO_SPACE;
            }
            dst[pos++] = src[i];
            ++code;
            if (code == 0xFFu) {
                dst[code_pos] = code;
                code = 1u;
                final_block = false;
                if (i + 1u < len) { /* open the next block only if more input follows */
                    if (pos >= cap) {
                        return FG_ERR_NO_SPACE;
                    }
                    code_pos = pos++;
                }
            }
        }
    }
    if (code != 1u || final_block) {
        dst[code_pos] = code;
    }
    *out_len = pos;
    return FG_OK;
}

fg_err_t fg_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t idx = 0u;
    size_t out = 0u;

    if ((src == NULL && len != 0u) || (dst == NULL && cap != 0u) || out_len == NULL) {
        return FG_ERR_ARG;
    }
    *out_len = 0u;
    while (idx < len) {
        const uint8_t code = src[idx];
        size_t end;
        size_t k;

        if (code == 0u) {
            return FG_ERR_COBS_ZERO;
        }
        ++idx;
        end = idx + (size_t)code - 1u;
        if (end > len) {
            return FG_ERR_COBS_SHORT;
        }
        for (k = idx; k < end; ++k) {
            if (src[k] == 0u) {
                return FG_ERR_COBS_ZERO;
            }
        }
        if (end - idx > cap - out) {
            return FG_ERR_NO_SPACE;
        }
        for (k = idx; k < end; ++k) {
            dst[out++] = src[k];
        }
        idx = end;
        if (idx < len && code < 0xFFu) {
            if (out >= cap) {
                return FG_ERR_NO_SPACE;
            }
            dst[out++] = 0u;
        }
    }
    *out_len = out;
    return FG_OK;
}

fg_err_t fg_frame_encode(const uint8_t *packet, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t enc_len = 0u;
    fg_err_t err;

    if (packet == NULL || len == 0u || dst == NULL || out_len == NULL) {
        return FG_ERR_ARG;
    }
    *out_len = 0u;
    if (len >= FG_MAX_FRAME_BYTES) { /* COBS adds at least one byte: cannot fit the cap */
        return FG_ERR_FRAME_TOO_LONG;
    }
    if (cap < 1u) {
        return FG_ERR_NO_SPACE;
    }
    err = fg_cobs_encode(packet, len, dst, cap - 1u, &enc_len);
    if (err != FG_OK) {
        return err;
    }
    if (enc_len > FG_MAX_FRAME_BYTES) {
        return FG_ERR_FRAME_TOO_LONG;
    }
    dst[enc_len] = 0u;
    *out_len = enc_len + 1u;
    return FG_OK;
}
