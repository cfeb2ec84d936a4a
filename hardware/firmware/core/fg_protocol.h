/**
 * @file fg_protocol.h
 * @brief Packet layout of the FusionGait wire protocol v1 (hardware/PROTOCOL.md §1) and its byte writers.
 *
 * Every packet is a 14-byte little-endian header, a payload, and a CRC-16/CCITT-FALSE over all bytes before it:
 *
 * | offset | size | field                                                                 |
 * |--------|------|-----------------------------------------------------------------------|
 * | 0      | 1    | ver_type: 0x11 IMU6, 0x12 sync reply, 0x13 status, 0x14 marker        |
 * | 1      | 1    | sensor_id: 0 pelvis, 1 left thigh, 2 right thigh                      |
 * | 2      | 2    | seq u16: per-link packet counter over all types (wraps)               |
 * | 4      | 4    | sample_idx u32: index of the first sample since power-up              |
 * | 8      | 4    | t_us u32: device microsecond clock at the first sample (wraps)        |
 * | 12     | 1    | n: samples (IMU6) or payload bytes (other types)                      |
 * | 13     | 1    | cfg: bits 0-2 rate code, bits 3-4 accel range, bits 5-7 gyro range  |
 * | 14     | ...  | payload                                                               |
 * | end-2  | 2    | CRC-16/CCITT-FALSE, little-endian                                     |
 *
 * Payloads: IMU6 = n x (ax ay az gx gy gz int16); sync reply = token u32, t_rx_us u32, t_tx_us u32 (12 bytes);
 * status = battery_pct u8, flags u8, battery_mv u16, fw major/minor/patch u8, reserved u8 (0), overflow_samples u32,
 * temperature_cdeg i16 (14 bytes); marker = kind u8, value u8 (2 bytes).
 *
 * All multi-byte fields are written byte by byte (never by casting a struct onto the buffer), so the output does not
 * depend on the CPU's endianness, alignment or struct padding. The reference for every byte is the Python codec
 * ``hardware/protocol.py``; the shared vectors in ``hardware/test_vectors/`` are generated from it.
 */
#ifndef FG_PROTOCOL_H
#define FG_PROTOCOL_H

#include "fg_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------ sizes */
#define FG_HEADER_SIZE 14u        /**< Bytes before the payload. */
#define FG_CRC_SIZE 2u            /**< Bytes of the trailing CRC. */
#define FG_SAMPLE_SIZE 12u        /**< Bytes of one IMU sample (6 x int16). */
#define FG_MAX_IMU_SAMPLES 41u    /**< Most samples per IMU6 packet: 508 bytes, 510 after COBS, under the 512 cap. */
#define FG_IMU_PACKET_SIZE(n) (FG_HEADER_SIZE + FG_SAMPLE_SIZE * (size_t)(n) + FG_CRC_SIZE)
#define FG_MAX_PACKET_SIZE FG_IMU_PACKET_SIZE(FG_MAX_IMU_SAMPLES) /**< 508 bytes. */

#define FG_SYNC_PAYLOAD_SIZE 12u
#define FG_STATUS_PAYLOAD_SIZE 14u
#define FG_MARKER_PAYLOAD_SIZE 2u
#define FG_SYNC_PACKET_SIZE (FG_HEADER_SIZE + FG_SYNC_PAYLOAD_SIZE + FG_CRC_SIZE)     /**< 28 bytes. */
#define FG_STATUS_PACKET_SIZE (FG_HEADER_SIZE + FG_STATUS_PAYLOAD_SIZE + FG_CRC_SIZE) /**< 30 bytes. */
#define FG_MARKER_PACKET_SIZE (FG_HEADER_SIZE + FG_MARKER_PAYLOAD_SIZE + FG_CRC_SIZE) /**< 18 bytes. */
#define FG_MAX_CONTROL_PACKET_SIZE FG_STATUS_PACKET_SIZE /**< Largest non-IMU packet. */

#define FG_MAX_COMMAND_SIZE 5u /**< Longest host write: SYNC = 0x21 + token u32. */

/** ATT bytes a notification loses to its opcode and handle: the payload of a notification is MTU - 3. */
#define FG_ATT_OVERHEAD 3u
/** Smallest ATT MTU that carries every packet type (a 30-byte status packet). */
#define FG_MIN_ATT_MTU (FG_MAX_CONTROL_PACKET_SIZE + FG_ATT_OVERHEAD)

/* ------------------------------------------------------------------------------------------------ codes */
/** ver_type: protocol version 1 in the high nibble, packet type in the low nibble. */
typedef enum fg_packet_type {
    FG_TYPE_IMU6 = 0x11,
    FG_TYPE_SYNC_REPLY = 0x12,
    FG_TYPE_STATUS = 0x13,
    FG_TYPE_MARKER = 0x14
} fg_packet_type_t;

/** First byte of a host write. */
typedef enum fg_command_code {
    FG_CMD_START = 0x01, /**< Begin streaming (the device first sends a status packet). */
    FG_CMD_STOP = 0x02,  /**< Stop streaming (the partial batch is sent first). */
    FG_CMD_SYNC = 0x21   /**< Clock sync ping: 0x21 then token u32 LE; answered by a sync reply. */
} fg_command_code_t;

/** Bits of a status packet's flags. */
#define FG_STATUS_CHARGING 0x01u
#define FG_STATUS_IMU_ERROR 0x02u
#define FG_STATUS_BUFFER_OVERFLOW 0x04u

/** Marker kinds. */
typedef enum fg_marker_kind {
    FG_MARKER_BUTTON = 1,
    FG_MARKER_STOMP = 2,
    FG_MARKER_HOST = 3
} fg_marker_kind_t;

/** cfg rate codes (bits 0-2); 6 and 7 are reserved. */
typedef enum fg_rate_code {
    FG_RATE_25HZ = 0,
    FG_RATE_50HZ = 1,
    FG_RATE_100HZ = 2,
    FG_RATE_200HZ = 3,
    FG_RATE_400HZ = 4,
    FG_RATE_800HZ = 5
} fg_rate_code_t;

/** cfg accelerometer range codes (bits 3-4): 2, 4, 8, 16 g. */
typedef enum fg_acc_code { FG_ACC_2G = 0, FG_ACC_4G = 1, FG_ACC_8G = 2, FG_ACC_16G = 3 } fg_acc_code_t;

/** cfg gyroscope range codes (bits 5-7): 125..2000 deg/s; 5-7 are reserved. */
typedef enum fg_gyr_code {
    FG_GYR_125DPS = 0,
    FG_GYR_250DPS = 1,
    FG_GYR_500DPS = 2,
    FG_GYR_1000DPS = 3,
    FG_GYR_2000DPS = 4
} fg_gyr_code_t;

/** The cfg byte from its three codes. One count is full_scale / 32768 of the coded range. */
#define FG_CFG(rate, acc, gyr) ((uint8_t)(((unsigned)(rate) & 7u) | (((unsigned)(acc) & 3u) << 3) | (((unsigned)(gyr) & 7u) << 5)))

/* ------------------------------------------------------------------------------------------------ types */
/** Header fields the caller chooses; ver_type and n follow from the writer used. */
typedef struct fg_header {
    uint8_t sensor_id;   /**< 0 pelvis, 1 left thigh, 2 right thigh. */
    uint16_t seq;        /**< Per-link packet counter. */
    uint32_t sample_idx; /**< First sample's index since power-up (next sample's for non-IMU packets). */
    uint32_t t_us;       /**< Device clock at the first sample (at sending for non-IMU packets). */
    uint8_t cfg;         /**< Rate and range codes, see FG_CFG(). */
} fg_header_t;

/** One IMU sample in raw counts (the protocol's full_scale/32768 per count). */
typedef struct fg_sample {
    int16_t acc[3]; /**< ax, ay, az */
    int16_t gyr[3]; /**< gx, gy, gz */
} fg_sample_t;

/** Sync reply payload. */
typedef struct fg_sync_reply {
    uint32_t token;   /**< Echo of the host's token. */
    uint32_t t_rx_us; /**< Device clock when the command arrived. */
    uint32_t t_tx_us; /**< Device clock when the reply left (also the header's t_us). */
} fg_sync_reply_t;

/** Status payload. */
typedef struct fg_status {
    uint8_t battery_pct;       /**< 0..100. */
    uint8_t flags;             /**< FG_STATUS_* bits. */
    uint16_t battery_mv;       /**< Battery voltage. */
    uint8_t fw_major;          /**< Firmware version. */
    uint8_t fw_minor;
    uint8_t fw_patch;
    uint32_t overflow_samples; /**< Samples dropped since power-up because a packet could not be sent. */
    int16_t temperature_cdeg;  /**< Die temperature, 0.01 degC. */
} fg_status_t;

/** A parsed host write. */
typedef struct fg_command {
    uint8_t code;   /**< An ::fg_command_code_t. */
    uint32_t token; /**< SYNC token; 0 for START and STOP. */
} fg_command_t;

/* ------------------------------------------------------------------------------------------------ bytes */
/** Write @p v at @p p as 2 little-endian bytes. */
void fg_put_u16le(uint8_t *p, uint16_t v);
/** Write @p v at @p p as 4 little-endian bytes. */
void fg_put_u32le(uint8_t *p, uint32_t v);
/** Read 4 little-endian bytes at @p p. */
uint32_t fg_get_u32le(const uint8_t *p);

/** Write the 14-byte header into @p out (which must hold FG_HEADER_SIZE bytes). */
void fg_write_header(uint8_t *out, uint8_t ver_type, const fg_header_t *h, uint8_t n);

/** Write one sample's 12 bytes (ax ay az gx gy gz, int16 LE) into @p out. */
void fg_write_sample(uint8_t *out, const fg_sample_t *s);

/**
 * Append the CRC over the first @p body_len bytes of @p buf (which must hold body_len + 2 bytes).
 * @return The packet length, body_len + FG_CRC_SIZE.
 */
size_t fg_seal_packet(uint8_t *buf, size_t body_len);

/** True when @p cfg has no reserved code (rate code <= 5, gyro code <= 4). */
bool fg_cfg_valid(uint8_t cfg);

/* ------------------------------------------------------------------------------------------------ packets */
/* Every writer: validates its input, writes the whole packet (CRC included) into out[0..cap) and sets *out_len.
 * Returns FG_OK, FG_ERR_ARG (NULL, reserved cfg code, field out of range) or FG_ERR_NO_SPACE. */

/** IMU6 packet of @p n samples (1..FG_MAX_IMU_SAMPLES); needs FG_IMU_PACKET_SIZE(n) bytes. */
fg_err_t fg_write_imu6(const fg_header_t *h, const fg_sample_t *samples, size_t n, uint8_t *out, size_t cap,
                       size_t *out_len);

/** Sync reply (28 bytes). The device sets h->t_us to r->t_tx_us. */
fg_err_t fg_write_sync_reply(const fg_header_t *h, const fg_sync_reply_t *r, uint8_t *out, size_t cap,
                             size_t *out_len);

/** Status packet (30 bytes); battery_pct must be <= 100; the reserved byte is written as 0. */
fg_err_t fg_write_status(const fg_header_t *h, const fg_status_t *s, uint8_t *out, size_t cap, size_t *out_len);

/** Marker packet (18 bytes); @p kind must be an ::fg_marker_kind_t. */
fg_err_t fg_write_marker(const fg_header_t *h, uint8_t kind, uint8_t value, uint8_t *out, size_t cap,
                         size_t *out_len);

/* ------------------------------------------------------------------------------------------------ commands */
/**
 * Parse a host write: [0x01] START, [0x02] STOP, [0x21][token u32 LE] SYNC (like ``decode_command``).
 * @return ::FG_OK, ::FG_ERR_ARG, ::FG_ERR_UNKNOWN_COMMAND (empty or unknown first byte; Python names the empty
 *         case separately) or ::FG_ERR_COMMAND_LENGTH.
 */
fg_err_t fg_parse_command(const uint8_t *data, size_t len, fg_command_t *cmd);

/* ------------------------------------------------------------------------------------------------ batching */
/**
 * Samples per IMU6 packet for a rate code and a link.
 *
 * From the rate: 20 packets per second (n = rate_hz / 20, at least 1: 1, 2, 5, 10, 20, 40 for 25..800 Hz).
 * From the link: a packet is never split across notifications, so 16 + 12 n <= att_mtu - 3, i.e.
 * n <= (att_mtu - 19) / 12 (MTU 139 gives 10). Capped at FG_MAX_IMU_SAMPLES (the serial frame cap).
 *
 * @param rate_code  An ::fg_rate_code_t.
 * @param att_mtu    Negotiated ATT MTU, or 0 for a link without one (USB serial).
 * @return n in 1..41, or 0 when the rate code is reserved or the MTU is below ::FG_MIN_ATT_MTU.
 */
uint8_t fg_batch_size(uint8_t rate_code, uint16_t att_mtu);

#ifdef __cplusplus
}
#endif

#endif /* FG_PROTOCOL_H */
