/**
 * @file fg_packetizer.h
 * @brief The device side of the protocol: sample batching, control packets and host commands for one link.
 *
 * One ::fg_device_t per link (BLE or USB serial). The board layer owns the hardware and calls in:
 *
 *  - fg_device_push_sample() for every sample the IMU produced, in order, streaming or not: the sample index counts
 *    samples since power-up and is never reset by START/STOP or a reconnect;
 *  - fg_device_handle_command() with each host write (BLE write characteristic), or fg_device_serial_rx() with the
 *    raw bytes of the USB/UART path (COBS frames, 0x00-delimited);
 *  - fg_device_send_status() every few seconds while streaming and fg_device_send_marker() on a button press;
 *  - fg_device_configure() when the rate or the MTU changes, fg_device_link_lost() when the link drops.
 *
 * The core calls out through ::fg_port_t: the clock, the output sink (one whole packet per call; the USB sink
 * wraps it with fg_frame_encode()), and an optional status source.
 *
 * Packet rules:
 *  - An IMU6 packet holds `samples_per_packet` consecutive samples; its header has the first sample's index and
 *    t_us. A partial batch is sent short on STOP and on fg_device_configure(); it is dropped on
 *    fg_device_link_lost().
 *  - seq is assigned when a packet is handed to the sink and advances (mod 2^16) only when the sink accepts it, so a
 *    seq gap on the host always means link loss. An IMU6 packet the sink refuses is counted in overflow_samples (a
 *    gap of exactly that many samples, reported in the next status packet with FG_STATUS_BUFFER_OVERFLOW).
 *  - START sends a status packet (and starts streaming if stopped; a repeated START only sends the status).
 *    STOP sends the partial batch, then stops. SYNC is answered in any state with a sync reply whose header has
 *    t_us = t_tx_us and sample_idx = the next sample's index. Status and marker packets use the same header rule
 *    (t_us = clock when built, sample_idx = next sample index) and need a streaming device.
 *  - An invalid host write is ignored and counted in stats.bad_commands.
 *
 * Concurrency: the functions are not reentrant. Call all of them for one device from one execution context (a
 * single work queue or the main loop), or serialize them; the port callbacks are called from that same context.
 */
#ifndef FG_PACKETIZER_H
#define FG_PACKETIZER_H

#include "fg_common.h"
#include "fg_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Firmware version reported in status packets (override with -D). */
#ifndef FG_FW_VERSION_MAJOR
#define FG_FW_VERSION_MAJOR 1u
#endif
#ifndef FG_FW_VERSION_MINOR
#define FG_FW_VERSION_MINOR 0u
#endif
#ifndef FG_FW_VERSION_PATCH
#define FG_FW_VERSION_PATCH 0u
#endif

/** Longest COBS frame (without delimiter) accepted on the serial command path; commands need at most 6. */
#define FG_CMD_FRAME_MAX 16u

/** What the board supplies. Only @c send is required. */
typedef struct fg_port {
    /** Device microsecond clock (free-running, wraps at 2^32). Required. */
    uint32_t (*now_us)(void *user);
    /** Send one whole packet (notification or serial frame). Return true when it was queued for sending. */
    bool (*send)(void *user, const uint8_t *packet, size_t len);
    /** Fill battery, charging/IMU-error flags and temperature (optional; NULL reports zeros). The core sets the
     *  firmware version, overflow_samples and FG_STATUS_BUFFER_OVERFLOW itself. */
    void (*read_status)(void *user, fg_status_t *status);
    /** Passed back to every callback. */
    void *user;
} fg_port_t;

/** Counters for diagnostics. */
typedef struct fg_device_stats {
    uint32_t packets_sent;  /**< Packets the sink accepted. */
    uint32_t send_failures; /**< Packets the sink refused (IMU6 ones also count in overflow_samples). */
    uint32_t commands;      /**< Valid host commands handled. */
    uint32_t bad_commands;  /**< Invalid host writes ignored (unknown byte, bad length, bad serial frame). */
} fg_device_stats_t;

/** Device state. Treat as opaque: read it only through the functions below. */
typedef struct fg_device {
    fg_port_t port;
    uint8_t sensor_id;
    uint8_t cfg;
    uint8_t samples_per_packet;
    bool streaming;
    uint16_t seq;             /**< seq of the next packet sent. */
    uint32_t next_sample_idx; /**< Index the next pushed sample gets. */
    uint8_t pending_n;        /**< Samples already in imu_buf. */
    uint32_t pending_idx;     /**< First pending sample's index. */
    uint32_t pending_t_us;    /**< First pending sample's time. */
    uint32_t overflow_samples;
    bool overflow_since_status;
    fg_device_stats_t stats;
    uint8_t rx_len;   /**< Bytes in rx_frame. */
    bool rx_discard;  /**< Dropping an oversize serial frame up to the next 0x00. */
    uint8_t rx_frame[FG_CMD_FRAME_MAX];
    uint8_t ctl_buf[FG_MAX_CONTROL_PACKET_SIZE]; /**< Sync reply, status and marker packets are built here. */
    uint8_t imu_buf[FG_MAX_PACKET_SIZE];         /**< The IMU6 packet being filled, header and CRC included. */
} fg_device_t;

/**
 * Initialise a device (at power-up): seq 0, sample index 0, stopped.
 * @param port                Callbacks; copied. send and now_us must not be NULL.
 * @param sensor_id           Placement id written in every header.
 * @param cfg                 FG_CFG(rate, acc, gyr) of the samples that will be pushed.
 * @param samples_per_packet  1..FG_MAX_IMU_SAMPLES, e.g. fg_batch_size(rate, mtu).
 * @return ::FG_OK or ::FG_ERR_ARG.
 */
fg_err_t fg_device_init(fg_device_t *dev, const fg_port_t *port, uint8_t sensor_id, uint8_t cfg,
                        uint8_t samples_per_packet);

/** Change cfg and batch size (new rate or MTU). A pending partial batch is sent first, with the old cfg. */
fg_err_t fg_device_configure(fg_device_t *dev, uint8_t cfg, uint8_t samples_per_packet);

/**
 * Add the next IMU sample, taken at device time @p t_us. Always advances the sample index; while stopped the sample
 * is not sent. Sends an IMU6 packet when the batch is full.
 * @return ::FG_OK, ::FG_ERR_ARG, or ::FG_ERR_SEND when a full batch was refused by the sink (counted as overflow).
 */
fg_err_t fg_device_push_sample(fg_device_t *dev, const fg_sample_t *sample, uint32_t t_us);

/**
 * Handle one host write (the BLE command characteristic).
 * @param t_rx_us  Device clock when the write arrived (taken as early as possible; it goes into a sync reply).
 * @return ::FG_OK, a parse error (the write is ignored and counted), or the result of the packet it sent.
 */
fg_err_t fg_device_handle_command(fg_device_t *dev, const uint8_t *data, size_t len, uint32_t t_rx_us);

/**
 * Feed bytes received on the serial path: COBS frames separated by 0x00, in chunks of any size. Each complete frame
 * is decoded and handled as a command; a frame that is not valid COBS or longer than FG_CMD_FRAME_MAX is dropped up
 * to the next 0x00 and counted in stats.bad_commands.
 * @return Number of valid commands handled.
 */
size_t fg_device_serial_rx(fg_device_t *dev, const uint8_t *data, size_t len, uint32_t t_rx_us);

/** Send a status packet now (periodic status while streaming). ::FG_ERR_NOT_STREAMING when stopped. */
fg_err_t fg_device_send_status(fg_device_t *dev);

/** Send a marker packet (an ::fg_marker_kind_t and a value) at the next sample index. Needs a streaming device. */
fg_err_t fg_device_send_marker(fg_device_t *dev, uint8_t kind, uint8_t value);

/** The link dropped: stop streaming, drop the partial batch and any half-received serial frame. */
void fg_device_link_lost(fg_device_t *dev);

/** True between START and STOP (or link loss). */
bool fg_device_is_streaming(const fg_device_t *dev);

/** Counters since init. */
fg_device_stats_t fg_device_stats(const fg_device_t *dev);

/** sizeof(fg_device_t), for bindings that allocate the state themselves (the host tests via ctypes). */
size_t fg_device_sizeof(void);

#ifdef __cplusplus
}
#endif

#endif /* FG_PACKETIZER_H */
