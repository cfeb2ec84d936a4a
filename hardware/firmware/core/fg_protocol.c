/**
 * @file fg_protocol.c
 * @brief Packet writers, command parser and batch sizing of the wire protocol v1.
 */
#include "fg_protocol.h"

#include "fg_crc16.h"

void fg_put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

void fg_put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t fg_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Two's complement bytes of an int16 without relying on implementation-defined conversions. */
static uint16_t fg_i16_bits(int16_t v)
{
    return (v < 0) ? (uint16_t)(65536L + (long)v) : (uint16_t)v;
}

void fg_write_header(uint8_t *out, uint8_t ver_type, const fg_header_t *h, uint8_t n)
{
    out[0] = ver_type;
    out[1] = h->sensor_id;
    fg_put_u16le(&out[2], h->seq);
    fg_put_u32le(&out[4], h->sample_idx);
    fg_put_u32le(&out[8], h->t_us);
    out[12] = n;
    out[13] = h->cfg;
}

void fg_write_sample(uint8_t *out, const fg_sample_t *s)
{
    size_t axis;
    for (axis = 0u; axis < 3u; ++axis) {
        fg_put_u16le(&out[2u * axis], fg_i16_bits(s->acc[axis]));
        fg_put_u16le(&out[6u + 2u * axis], fg_i16_bits(s->gyr[axis]));
    }
}

size_t fg_seal_packet(uint8_t *buf, size_t body_len)
{
    fg_put_u16le(&buf[body_len], fg_crc16(buf, body_len));
    return body_len + FG_CRC_SIZE;
}

bool fg_cfg_valid(uint8_t cfg)
{
    return (cfg & 0x07u) <= (unsigned)FG_RATE_800HZ && (cfg >> 5) <= (unsigned)FG_GYR_2000DPS;
}

/* Common checks of the writers; on success *out_len is cleared and the caller writes `size` bytes. */
static fg_err_t fg_check_out(const fg_header_t *h, bool payload_ok, const uint8_t *out, size_t cap, size_t *out_len,
                             size_t size)
{
    if (h == NULL || !payload_ok || out == NULL || out_len == NULL) {
        return FG_ERR_ARG;
    }
    *out_len = 0u;
    if (!fg_cfg_valid(h->cfg)) {
        return FG_ERR_ARG;
    }
    if (cap < size) {
        return FG_ERR_NO_SPACE;
    }
    return FG_OK;
}

fg_err_t fg_write_imu6(const fg_header_t *h, const fg_sample_t *samples, size_t n, uint8_t *out, size_t cap,
                       size_t *out_len)
{
    size_t i;
    fg_err_t err;

    if (n < 1u || n > FG_MAX_IMU_SAMPLES) {
        if (out_len != NULL) {
            *out_len = 0u;
        }
        return FG_ERR_ARG;
    }
    err = fg_check_out(h, samples != NULL, out, cap, out_len, FG_IMU_PACKET_SIZE(n));
    if (err != FG_OK) {
        return err;
    }
    fg_write_header(out, (uint8_t)FG_TYPE_IMU6, h, (uint8_t)n);
    for (i = 0u; i < n; ++i) {
        fg_write_sample(&out[FG_HEADER_SIZE + FG_SAMPLE_SIZE * i], &samples[i]);
    }
    *out_len = fg_seal_packet(out, FG_HEADER_SIZE + FG_SAMPLE_SIZE * n);
    return FG_OK;
}

fg_err_t fg_write_sync_reply(const fg_header_t *h, const fg_sync_reply_t *r, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    const fg_err_t err = fg_check_out(h, r != NULL, out, cap, out_len, FG_SYNC_PACKET_SIZE);
    uint8_t *p = out + FG_HEADER_SIZE;

    if (err != FG_OK) {
        return err;
    }
    fg_write_header(out, (uint8_t)FG_TYPE_SYNC_REPLY, h, (uint8_t)FG_SYNC_PAYLOAD_SIZE);
    fg_put_u32le(&p[0], r->token);
    fg_put_u32le(&p[4], r->t_rx_us);
    fg_put_u32le(&p[8], r->t_tx_us);
    *out_len = fg_seal_packet(out, FG_HEADER_SIZE + FG_SYNC_PAYLOAD_SIZE);
    return FG_OK;
}

fg_err_t fg_write_status(const fg_header_t *h, const fg_status_t *s, uint8_t *out, size_t cap, size_t *out_len)
{
    const fg_err_t err = fg_check_out(h, s != NULL, out, cap, out_len, FG_STATUS_PACKET_SIZE);
    uint8_t *p = out + FG_HEADER_SIZE;

    if (err != FG_OK) {
        return err;
    }
    if (s->battery_pct > 100u) {
        return FG_ERR_ARG;
    }
    fg_write_header(out, (uint8_t)FG_TYPE_STATUS, h, (uint8_t)FG_STATUS_PAYLOAD_SIZE);
    p[0] = s->battery_pct;
    p[1] = s->flags;
    fg_put_u16le(&p[2], s->battery_mv);
    p[4] = s->fw_major;
    p[5] = s->fw_minor;
    p[6] = s->fw_patch;
    p[7] = 0u; /* reserved */
    fg_put_u32le(&p[8], s->overflow_samples);
    fg_put_u16le(&p[12], fg_i16_bits(s->temperature_cdeg));
    *out_len = fg_seal_packet(out, FG_HEADER_SIZE + FG_STATUS_PAYLOAD_SIZE);
    return FG_OK;
}

fg_err_t fg_write_marker(const fg_header_t *h, uint8_t kind, uint8_t value, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    const fg_err_t err = fg_check_out(h, true, out, cap, out_len, FG_MARKER_PACKET_SIZE);
    uint8_t *p = out + FG_HEADER_SIZE;

    if (err != FG_OK) {
        return err;
    }
    if (kind < (uint8_t)FG_MARKER_BUTTON || kind > (uint8_t)FG_MARKER_HOST) {
        return FG_ERR_ARG;
    }
    fg_write_header(out, (uint8_t)FG_TYPE_MARKER, h, (uint8_t)FG_MARKER_PAYLOAD_SIZE);
    p[0] = kind;
    p[1] = value;
    *out_len = fg_seal_packet(out, FG_HEADER_SIZE + FG_MARKER_PAYLOAD_SIZE);
    return FG_OK;
}

fg_err_t fg_parse_command(const uint8_t *data, size_t len, fg_command_t *cmd)
{
    size_t want;

    if ((data == NULL && len != 0u) || cmd == NULL) {
        return FG_ERR_ARG;
    }
    if (len == 0u) {
        return FG_ERR_UNKNOWN_COMMAND;
    }
    switch (data[0]) {
    case FG_CMD_START:
    case FG_CMD_STOP:
        want = 1u;
        break;
    case FG_CMD_SYNC:
        want = FG_MAX_COMMAND_SIZE;
        break;
    default:
        return FG_ERR_UNKNOWN_COMMAND;
    }
    if (len != want) {
        return FG_ERR_COMMAND_LENGTH;
    }
    cmd->code = data[0];
    cmd->token = (data[0] == (uint8_t)FG_CMD_SYNC) ? fg_get_u32le(&data[1]) : 0u;
    return FG_OK;
}

uint8_t fg_batch_size(uint8_t rate_code, uint16_t att_mtu)
{
    /* 20 packets per second at 25, 50, 100, 200, 400, 800 Hz (at least one sample per packet). */
    static const uint8_t per_rate[6] = {1u, 2u, 5u, 10u, 20u, 40u};
    unsigned n;

    if (rate_code > (uint8_t)FG_RATE_800HZ) {
        return 0u;
    }
    n = per_rate[rate_code];
    if (att_mtu != 0u) {
        unsigned fit;
        if (att_mtu < FG_MIN_ATT_MTU) {
            return 0u;
        }
        fit = ((unsigned)att_mtu - FG_ATT_OVERHEAD - FG_HEADER_SIZE - FG_CRC_SIZE) / FG_SAMPLE_SIZE;
        if (fit < n) {
            n = fit;
        }
    }
    if (n > FG_MAX_IMU_SAMPLES) {
        n = FG_MAX_IMU_SAMPLES;
    }
    return (uint8_t)n;
}
