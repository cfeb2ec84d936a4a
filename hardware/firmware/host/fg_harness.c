/**
 * @file fg_harness.c
 * @brief Host test harness: reads one request per line on stdin, runs it through the core, prints the result.
 *
 * Used by tests/hardware/test_firmware.py (also built with -fsanitize=address,undefined). Hex strings are written
 * without separators; "-" stands for no bytes. Requests and answers:
 *
 *   crc HEX                          -> crc XXXX
 *   cobs_enc HEX | cobs_dec HEX      -> ok HEX | err CODE
 *   frame HEX                        -> ok HEX | err CODE
 *   parse HEX                        -> ok CODE TOKEN | err CODE
 *   batch RATE_CODE MTU              -> n N
 *   imu6 SENSOR SEQ IDX T CFG C...   -> ok HEX | err CODE     (6 n counts)
 *   sync SENSOR SEQ IDX T CFG TOKEN T_RX T_TX
 *   status SENSOR SEQ IDX T CFG PCT FLAGS MV MAJ MIN PAT OVERFLOW TEMP
 *   marker SENSOR SEQ IDX T CFG KIND VALUE
 * Device scenario (every packet the device sends prints "pkt PACKET_HEX FRAME_HEX"):
 *   dev_init SENSOR CFG N | dev_configure CFG N | clock T | sink 0|1 | battery PCT MV FLAGS TEMP
 *   sample T AX AY AZ GX GY GZ | cmd HEX T_RX | serial_rx HEX T_RX | dev_status | dev_marker KIND VALUE
 *   link_lost | set_counters SEQ IDX
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_cobs.h"
#include "fg_crc16.h"
#include "fg_packetizer.h"
#include "fg_protocol.h"
#include "fg_test_hooks.h"

#define LINE_MAX_CHARS 32768
#define BYTES_MAX 4096

static fg_device_t g_dev;
static uint32_t g_clock_us;
static bool g_sink_ok = true;
static fg_status_t g_battery;

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parse a hex token into out; returns the byte count or -1. */
static long parse_hex(const char *tok, uint8_t *out, size_t cap)
{
    size_t len;
    size_t i;
    if (tok == NULL) {
        return -1;
    }
    if (strcmp(tok, "-") == 0) {
        return 0;
    }
    len = strlen(tok);
    if (len % 2u != 0u || len / 2u > cap) {
        return -1;
    }
    for (i = 0; i < len / 2u; ++i) {
        const int hi = hex_value(tok[2u * i]);
        const int lo = hex_value(tok[2u * i + 1u]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return (long)(len / 2u);
}

static void print_hex(const uint8_t *data, size_t len)
{
    size_t i;
    if (len == 0u) {
        fputs("-", stdout);
    }
    for (i = 0; i < len; ++i) {
        printf("%02x", data[i]);
    }
}

static long long next_int(void)
{
    const char *tok = strtok(NULL, " \t\r\n");
    if (tok == NULL) {
        fprintf(stderr, "harness: missing number\n");
        exit(2);
    }
    return strtoll(tok, NULL, 0);
}

static void print_result(fg_err_t err, const uint8_t *data, size_t len)
{
    if (err != FG_OK) {
        printf("err %d\n", (int)err);
        return;
    }
    fputs("ok ", stdout);
    print_hex(data, len);
    fputs("\n", stdout);
}

static uint32_t h_now(void *user)
{
    (void)user;
    return g_clock_us;
}

static bool h_send(void *user, const uint8_t *packet, size_t len)
{
    static uint8_t frame[FG_COBS_MAX_ENCODED_SIZE(FG_MAX_PACKET_SIZE) + 1u];
    size_t frame_len = 0u;
    (void)user;
    if (!g_sink_ok) {
        return false;
    }
    if (fg_frame_encode(packet, len, frame, sizeof(frame), &frame_len) != FG_OK) {
        fprintf(stderr, "harness: packet of %zu bytes does not frame\n", len);
        exit(3);
    }
    fputs("pkt ", stdout);
    print_hex(packet, len);
    fputs(" ", stdout);
    print_hex(frame, frame_len);
    fputs("\n", stdout);
    return true;
}

static void h_status(void *user, fg_status_t *status)
{
    (void)user;
    *status = g_battery;
}

static void read_header(fg_header_t *h)
{
    h->sensor_id = (uint8_t)next_int();
    h->seq = (uint16_t)next_int();
    h->sample_idx = (uint32_t)next_int();
    h->t_us = (uint32_t)next_int();
    h->cfg = (uint8_t)next_int();
}

int main(void)
{
    static char line[LINE_MAX_CHARS];
    static uint8_t in[BYTES_MAX];
    static uint8_t out[BYTES_MAX];
    static fg_sample_t samples[FG_MAX_IMU_SAMPLES + 1u];
    const fg_port_t port = {h_now, h_send, h_status, NULL};

    while (fgets(line, sizeof(line), stdin) != NULL) {
        const char *op = strtok(line, " \t\r\n");
        size_t out_len = 0u;
        long n = 0;
        fg_err_t err;

        if (op == NULL) {
            continue;
        }
        if (strcmp(op, "crc") == 0 || strcmp(op, "cobs_enc") == 0 || strcmp(op, "cobs_dec") == 0 ||
            strcmp(op, "frame") == 0 || strcmp(op, "parse") == 0 || strcmp(op, "cmd") == 0 ||
            strcmp(op, "serial_rx") == 0) {
            n = parse_hex(strtok(NULL, " \t\r\n"), in, sizeof(in));
            if (n < 0) {
                fprintf(stderr, "harness: bad hex for %s\n", op);
                return 2;
            }
        }
        if (strcmp(op, "crc") == 0) {
            printf("crc %04x\n", (unsigned)fg_crc16(in, (size_t)n));
        } else if (strcmp(op, "cobs_enc") == 0) {
            err = fg_cobs_encode(in, (size_t)n, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "cobs_dec") == 0) {
            err = fg_cobs_decode(in, (size_t)n, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "frame") == 0) {
            err = fg_frame_encode(in, (size_t)n, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "parse") == 0) {
            fg_command_t cmd;
            err = fg_parse_command(in, (size_t)n, &cmd);
            if (err != FG_OK) {
                printf("err %d\n", (int)err);
            } else {
                printf("ok %u %lu\n", (unsigned)cmd.code, (unsigned long)cmd.token);
            }
        } else if (strcmp(op, "batch") == 0) {
            const uint8_t rate = (uint8_t)next_int();
            const uint16_t mtu = (uint16_t)next_int();
            printf("n %u\n", (unsigned)fg_batch_size(rate, mtu));
        } else if (strcmp(op, "imu6") == 0) {
            fg_header_t h;
            size_t count = 0u;
            const char *tok;
            read_header(&h);
            while ((tok = strtok(NULL, " \t\r\n")) != NULL && count < 6u * (FG_MAX_IMU_SAMPLES + 1u)) {
                const int16_t v = (int16_t)strtol(tok, NULL, 0);
                fg_sample_t *s = &samples[count / 6u];
                if (count % 6u < 3u) {
                    s->acc[count % 6u] = v;
                } else {
                    s->gyr[count % 6u - 3u] = v;
                }
                ++count;
            }
            err = fg_write_imu6(&h, samples, count / 6u, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "sync") == 0) {
            fg_header_t h;
            fg_sync_reply_t r;
            read_header(&h);
            r.token = (uint32_t)next_int();
            r.t_rx_us = (uint32_t)next_int();
            r.t_tx_us = (uint32_t)next_int();
            err = fg_write_sync_reply(&h, &r, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "status") == 0) {
            fg_header_t h;
            fg_status_t s;
            read_header(&h);
            s.battery_pct = (uint8_t)next_int();
            s.flags = (uint8_t)next_int();
            s.battery_mv = (uint16_t)next_int();
            s.fw_major = (uint8_t)next_int();
            s.fw_minor = (uint8_t)next_int();
            s.fw_patch = (uint8_t)next_int();
            s.overflow_samples = (uint32_t)next_int();
            s.temperature_cdeg = (int16_t)next_int();
            err = fg_write_status(&h, &s, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "marker") == 0) {
            fg_header_t h;
            uint8_t kind;
            uint8_t value;
            read_header(&h);
            kind = (uint8_t)next_int();
            value = (uint8_t)next_int();
            err = fg_write_marker(&h, kind, value, out, sizeof(out), &out_len);
            print_result(err, out, out_len);
        } else if (strcmp(op, "dev_init") == 0) {
            const uint8_t sensor = (uint8_t)next_int();
            const uint8_t cfg = (uint8_t)next_int();
            const uint8_t per = (uint8_t)next_int();
            if (fg_device_init(&g_dev, &port, sensor, cfg, per) != FG_OK) {
                fprintf(stderr, "harness: dev_init rejected\n");
                return 2;
            }
        } else if (strcmp(op, "dev_configure") == 0) {
            const uint8_t cfg = (uint8_t)next_int();
            const uint8_t per = (uint8_t)next_int();
            (void)fg_device_configure(&g_dev, cfg, per);
        } else if (strcmp(op, "clock") == 0) {
            g_clock_us = (uint32_t)next_int();
        } else if (strcmp(op, "sink") == 0) {
            g_sink_ok = next_int() != 0;
        } else if (strcmp(op, "battery") == 0) {
            memset(&g_battery, 0, sizeof(g_battery));
            g_battery.battery_pct = (uint8_t)next_int();
            g_battery.battery_mv = (uint16_t)next_int();
            g_battery.flags = (uint8_t)next_int();
            g_battery.temperature_cdeg = (int16_t)next_int();
        } else if (strcmp(op, "sample") == 0) {
            fg_sample_t s;
            const uint32_t t = (uint32_t)next_int();
            int axis;
            for (axis = 0; axis < 3; ++axis) {
                s.acc[axis] = (int16_t)next_int();
            }
            for (axis = 0; axis < 3; ++axis) {
                s.gyr[axis] = (int16_t)next_int();
            }
            (void)fg_device_push_sample(&g_dev, &s, t);
        } else if (strcmp(op, "cmd") == 0) {
            const uint32_t t_rx = (uint32_t)next_int();
            (void)fg_device_handle_command(&g_dev, in, (size_t)n, t_rx);
        } else if (strcmp(op, "serial_rx") == 0) {
            const uint32_t t_rx = (uint32_t)next_int();
            (void)fg_device_serial_rx(&g_dev, in, (size_t)n, t_rx);
        } else if (strcmp(op, "dev_status") == 0) {
            (void)fg_device_send_status(&g_dev);
        } else if (strcmp(op, "dev_marker") == 0) {
            const uint8_t kind = (uint8_t)next_int();
            const uint8_t value = (uint8_t)next_int();
            (void)fg_device_send_marker(&g_dev, kind, value);
        } else if (strcmp(op, "link_lost") == 0) {
            fg_device_link_lost(&g_dev);
        } else if (strcmp(op, "set_counters") == 0) {
            const uint16_t seq = (uint16_t)next_int();
            const uint32_t idx = (uint32_t)next_int();
            fg_test_set_counters(&g_dev, seq, idx);
        } else if (strcmp(op, "stats") == 0) {
            const fg_device_stats_t st = fg_device_stats(&g_dev);
            printf("stats %lu %lu %lu %lu\n", (unsigned long)st.packets_sent, (unsigned long)st.send_failures,
                   (unsigned long)st.commands, (unsigned long)st.bad_commands);
        } else {
            fprintf(stderr, "harness: unknown request %s\n", op);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
