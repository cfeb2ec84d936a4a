/**
 * @file fg_common.h
 * @brief Result codes shared by every module of the FusionGait protocol core.
 *
 * The core is plain C11 for a microcontroller: no heap, no stdio, fixed buffers, only <stdint.h>, <stddef.h>,
 * <stdbool.h> and <string.h>. Every function that can fail returns an ::fg_err_t; functions that produce bytes write
 * them into a caller-supplied buffer and report the length through an out-parameter.
 */
#ifndef FG_COMMON_H
#define FG_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of a core call: ::FG_OK or a negative error. */
typedef enum fg_err {
    FG_OK = 0,                   /**< Success. */
    FG_ERR_ARG = -1,             /**< A NULL pointer, or a value outside what the protocol allows. */
    FG_ERR_NO_SPACE = -2,        /**< The output buffer is too small. */
    FG_ERR_COBS_ZERO = -3,       /**< COBS input contains a zero byte (Python: "zero byte found in input"). */
    FG_ERR_COBS_SHORT = -4,      /**< COBS input ends inside a block ("not enough input bytes for length code"). */
    FG_ERR_FRAME_TOO_LONG = -5,  /**< The COBS-encoded packet exceeds the 512-byte serial frame cap. */
    FG_ERR_UNKNOWN_COMMAND = -6, /**< First byte of a host write is not START, STOP or SYNC. */
    FG_ERR_COMMAND_LENGTH = -7,  /**< A host write has the wrong length for its command. */
    FG_ERR_NOT_STREAMING = -8,   /**< The call needs a streaming device (after START). */
    FG_ERR_SEND = -9             /**< The board's send callback refused the packet. */
} fg_err_t;

#ifdef __cplusplus
}
#endif

#endif /* FG_COMMON_H */
