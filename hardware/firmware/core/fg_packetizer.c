/**
 * @file fg_packetizer.c
 * @brief Sample batching, control packets and the host command handler (see fg_packetizer.h for the rules).
 */
#include "fg_packetizer.h"

#include <string.h>

#include "fg_cobs.h"

static bool fg_batch_size_valid(uint8_t n)
{
    return n >= 1u && n <= FG_MAX_IMU_SAMPLES;
}

fg_err_t fg_device_init(fg_device_t *dev, const fg_port_t *port, uint8_t sensor_id, uint8_t cfg,
                        uint8_t samples_per_packet)
{
    if (dev == NULL || port == NULL || port->send == NULL || port->now_us == NULL || !fg_cfg_valid(cfg) ||
        !fg_batch_size_valid(samples_per_packet)) {
        return FG_ERR_ARG;
    }
    memset(dev, 0, sizeof(*dev));
    dev->port = *port;
    dev->sensor_id = sensor_id;
    dev->cfg = cfg;
    dev->samples_per_packet = samples_per_packet;
    return FG_OK;
}

/* Hand a finished packet to the sink; seq advances only when it is accepted. */
static fg_err_t fg_send(fg_device_t *dev, const uint8_t *packet, size_t len)
{
    if (!dev->port.send(dev->port.user, packet, len)) {
        dev->stats.send_failures++;
        return FG_ERR_SEND;
    }
    dev->seq = (uint16_t)(dev->seq + 1u);
    dev->stats.packets_sent++;
    return FG_OK;
}

/* Header of a control packet: now, and the index of the next sample. */
static fg_header_t fg_control_header(const fg_device_t *dev, uint32_t t_us)
{
    fg_header_t h;
    h.sensor_id = dev->sensor_id;
    h.seq = dev->seq;
    h.sample_idx = dev->next_sample_idx;
    h.t_us = t_us;
    h.cfg = dev->cfg;
    return h;
}

/* Send the pending batch (full or partial) as one IMU6 packet. */
static fg_err_t fg_flush(fg_device_t *dev)
{
    fg_header_t h;
    size_t len;
    const uint8_t n = dev->pending_n;

    if (n == 0u) {
        return FG_OK;
    }
    h.sensor_id = dev->sensor_id;
    h.seq = dev->seq;
    h.sample_idx = dev->pending_idx;
    h.t_us = dev->pending_t_us;
    h.cfg = dev->cfg;
    fg_write_header(dev->imu_buf, (uint8_t)FG_TYPE_IMU6, &h, n);
    len = fg_seal_packet(dev->imu_buf, FG_HEADER_SIZE + FG_SAMPLE_SIZE * (size_t)n);
    dev->pending_n = 0u;
    if (fg_send(dev, dev->imu_buf, len) != FG_OK) {
        dev->overflow_samples += n;
        dev->overflow_since_status = true;
        return FG_ERR_SEND;
    }
    return FG_OK;
}

fg_err_t fg_device_configure(fg_device_t *dev, uint8_t cfg, uint8_t samples_per_packet)
{
    fg_err_t err;

    if (dev == NULL || !fg_cfg_valid(cfg) || !fg_batch_size_valid(samples_per_packet)) {
        return FG_ERR_ARG;
    }
    err = fg_flush(dev);
    dev->cfg = cfg;
    dev->samples_per_packet = samples_per_packet;
    return err;
}

fg_err_t fg_device_push_sample(fg_device_t *dev, const fg_sample_t *sample, uint32_t t_us)
{
    uint32_t idx;

    if (dev == NULL || sample == NULL) {
        return FG_ERR_ARG;
    }
    idx = dev->next_sample_idx;
    dev->next_sample_idx = idx + 1u; /* wraps at 2^32 */
    if (!dev->streaming) {
        return FG_OK;
    }
    if (dev->pending_n == 0u) {
        dev->pending_idx = idx;
        dev->pending_t_us = t_us;
    }
    fg_write_sample(&dev->imu_buf[FG_HEADER_SIZE + FG_SAMPLE_SIZE * (size_t)dev->pending_n], sample);
    dev->pending_n++;
    if (dev->pending_n >= dev->samples_per_packet) {
        return fg_flush(dev);
    }
    return FG_OK;
}

static fg_err_t fg_send_status_now(fg_device_t *dev)
{
    fg_status_t st;
    fg_header_t h;
    size_t len = 0u;
    fg_err_t err;

    memset(&st, 0, sizeof(st));
    if (dev->port.read_status != NULL) {
        dev->port.read_status(dev->port.user, &st);
    }
    if (st.battery_pct > 100u) {
        st.battery_pct = 100u;
    }
    st.fw_major = (uint8_t)FG_FW_VERSION_MAJOR;
    st.fw_minor = (uint8_t)FG_FW_VERSION_MINOR;
    st.fw_patch = (uint8_t)FG_FW_VERSION_PATCH;
    st.overflow_samples = dev->overflow_samples;
    st.flags = (uint8_t)(st.flags & (uint8_t)~FG_STATUS_BUFFER_OVERFLOW);
    if (dev->overflow_since_status) {
        st.flags = (uint8_t)(st.flags | FG_STATUS_BUFFER_OVERFLOW);
    }
    h = fg_control_header(dev, dev->port.now_us(dev->port.user));
    err = fg_write_status(&h, &st, dev->ctl_buf, sizeof(dev->ctl_buf), &len);
    if (err != FG_OK) {
        return err;
    }
    err = fg_send(dev, dev->ctl_buf, len);
    if (err == FG_OK) {
        dev->overflow_since_status = false;
    }
    return err;
}

fg_err_t fg_device_send_status(fg_device_t *dev)
{
    if (dev == NULL) {
        return FG_ERR_ARG;
    }
    if (!dev->streaming) {
        return FG_ERR_NOT_STREAMING;
    }
    return fg_send_status_now(dev);
}

fg_err_t fg_device_send_marker(fg_device_t *dev, uint8_t kind, uint8_t value)
{
    fg_header_t h;
    size_t len = 0u;
    fg_err_t err;

    if (dev == NULL) {
        return FG_ERR_ARG;
    }
    if (!dev->streaming) {
        return FG_ERR_NOT_STREAMING;
    }
    h = fg_control_header(dev, dev->port.now_us(dev->port.user));
    err = fg_write_marker(&h, kind, value, dev->ctl_buf, sizeof(dev->ctl_buf), &len);
    if (err != FG_OK) {
        return err;
    }
    return fg_send(dev, dev->ctl_buf, len);
}

static fg_err_t fg_reply_sync(fg_device_t *dev, uint32_t token, uint32_t t_rx_us)
{
    fg_sync_reply_t r;
    fg_header_t h;
    size_t len = 0u;
    fg_err_t err;

    r.token = token;
    r.t_rx_us = t_rx_us;
    r.t_tx_us = dev->port.now_us(dev->port.user);
    h = fg_control_header(dev, r.t_tx_us);
    err = fg_write_sync_reply(&h, &r, dev->ctl_buf, sizeof(dev->ctl_buf), &len);
    if (err != FG_OK) {
        return err;
    }
    return fg_send(dev, dev->ctl_buf, len);
}

fg_err_t fg_device_handle_command(fg_device_t *dev, const uint8_t *data, size_t len, uint32_t t_rx_us)
{
    fg_command_t cmd;
    fg_err_t err;

    if (dev == NULL) {
        return FG_ERR_ARG;
    }
    err = fg_parse_command(data, len, &cmd);
    if (err != FG_OK) {
        dev->stats.bad_commands++;
        return err;
    }
    dev->stats.commands++;
    switch (cmd.code) {
    case FG_CMD_START:
        dev->streaming = true;
        return fg_send_status_now(dev);
    case FG_CMD_STOP:
        err = dev->streaming ? fg_flush(dev) : FG_OK;
        dev->streaming = false;
        return err;
    default: /* FG_CMD_SYNC: fg_parse_command accepts nothing else */
        return fg_reply_sync(dev, cmd.token, t_rx_us);
    }
}

size_t fg_device_serial_rx(fg_device_t *dev, const uint8_t *data, size_t len, uint32_t t_rx_us)
{
    uint8_t decoded[FG_CMD_FRAME_MAX];
    size_t handled = 0u;
    size_t i;

    if (dev == NULL || data == NULL) {
        return 0u;
    }
    for (i = 0u; i < len; ++i) {
        const uint8_t b = data[i];
        if (b != 0u) {
            if (dev->rx_discard) {
                continue;
            }
            if (dev->rx_len >= FG_CMD_FRAME_MAX) { /* oversize: drop up to the next delimiter */
                dev->rx_discard = true;
                dev->rx_len = 0u;
                dev->stats.bad_commands++;
                continue;
            }
            dev->rx_frame[dev->rx_len++] = b;
            continue;
        }
        /* 0x00: end of a frame */
        if (dev->rx_discard) {
            dev->rx_discard = false;
        } else if (dev->rx_len > 0u) {
            size_t n = 0u;
            if (fg_cobs_decode(dev->rx_frame, dev->rx_len, decoded, sizeof(decoded), &n) != FG_OK) {
                dev->stats.bad_commands++;
            } else {
                const fg_err_t err = fg_device_handle_command(dev, decoded, n, t_rx_us);
                if (err != FG_ERR_UNKNOWN_COMMAND && err != FG_ERR_COMMAND_LENGTH) {
                    handled++;
                }
            }
        }
        dev->rx_len = 0u;
    }
    return handled;
}

void fg_device_link_lost(fg_device_t *dev)
{
    if (dev == NULL) {
        return;
    }
    dev->streaming = false;
    dev->pending_n = 0u;
    dev->rx_len = 0u;
    dev->rx_discard = false;
}

bool fg_device_is_streaming(const fg_device_t *dev)
{
    return dev != NULL && dev->streaming;
}

fg_device_stats_t fg_device_stats(const fg_device_t *dev)
{
    fg_device_stats_t none;
    if (dev != NULL) {
        return dev->stats;
    }
    memset(&none, 0, sizeof(none));
    return none;
}

size_t fg_device_sizeof(void)
{
    return sizeof(fg_device_t);
}
