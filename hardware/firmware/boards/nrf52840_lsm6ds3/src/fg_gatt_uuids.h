/**
 * @file fg_gatt_uuids.h
 * @brief GATT UUIDs of the FusionGait reference sensor.
 *
 * Must equal the reference profile in hardware/profiles.py (REFERENCE_IMU): a project-generated base
 * 7cefXXXX-e4a0-47b9-a273-d142b845b5f4, one 16-bit slot per attribute. Not registered anywhere.
 */
#ifndef FG_GATT_UUIDS_H
#define FG_GATT_UUIDS_H

/* Strings, for logs and for the test that compares them with hardware/profiles.py. */
#define FG_UUID_SERVICE_STR "7cef0001-e4a0-47b9-a273-d142b845b5f4"
#define FG_UUID_DATA_STR "7cef0002-e4a0-47b9-a273-d142b845b5f4"    /* notify: one packet per notification */
#define FG_UUID_COMMAND_STR "7cef0003-e4a0-47b9-a273-d142b845b5f4" /* write: START, STOP, SYNC */

/* Zephyr's BT_UUID_128_ENCODE(w32, w1, w2, w3, w48) form of the same UUIDs. */
#define FG_UUID_SERVICE_VAL BT_UUID_128_ENCODE(0x7cef0001, 0xe4a0, 0x47b9, 0xa273, 0xd142b845b5f4)
#define FG_UUID_DATA_VAL BT_UUID_128_ENCODE(0x7cef0002, 0xe4a0, 0x47b9, 0xa273, 0xd142b845b5f4)
#define FG_UUID_COMMAND_VAL BT_UUID_128_ENCODE(0x7cef0003, 0xe4a0, 0x47b9, 0xa273, 0xd142b845b5f4)

#endif /* FG_GATT_UUIDS_H */
