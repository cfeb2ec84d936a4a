/**
 * @file board.h
 * @brief Glue between the board's parts (IMU, BLE link, USB link) and the protocol core.
 *
 * Threading: every call into the core (fg_device_*) runs on the system work queue. Interrupts and the Bluetooth
 * RX thread only queue events (commands with their arrival time, received serial bytes) and submit work.
 */
#ifndef FG_BOARD_H
#define FG_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_packetizer.h"

/* Sensor placement of this unit (0 pelvis, 1 left thigh, 2 right thigh); set per device at build time. */
#ifndef FG_SENSOR_ID
#define FG_SENSOR_ID 0
#endif

/* The device microsecond clock (wraps at 2^32), shared by both links. */
uint32_t board_now_us(void *user);
/* Battery, charging flag and die temperature for status packets. */
void board_read_status(void *user, fg_status_t *status);

/* One protocol state per link; both receive every sample so their sample indices stay equal since power-up. */
extern fg_device_t g_ble_dev;
extern fg_device_t g_usb_dev;

/* The IMU: configure rate and ranges; read all complete samples from its FIFO. */
int imu_init(uint8_t rate_code);
/* Reads up to max samples; sets *t_last_us to the clock at the read. Returns the count or a negative errno. */
int imu_read_fifo(fg_sample_t *out, size_t max, uint32_t *t_last_us);
uint32_t imu_period_us(void);
uint8_t imu_rate_code(void);
uint8_t imu_cfg(void);

/* BLE link: GATT service, advertising; commands and MTU changes are forwarded to g_ble_dev on the work queue. */
int link_ble_init(void);
bool link_ble_send(void *user, const uint8_t *packet, size_t len);

/* USB CDC ACM link: packets leave as COBS frames; received bytes go to fg_device_serial_rx(&g_usb_dev, ...). */
int link_usb_init(void);
bool link_usb_send(void *user, const uint8_t *packet, size_t len);

#endif /* FG_BOARD_H */
