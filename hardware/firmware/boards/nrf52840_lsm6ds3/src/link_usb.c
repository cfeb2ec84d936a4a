/**
 * @file link_usb.c
 * @brief USB CDC ACM link: packets leave as serial frames (COBS + 0x00), commands arrive as frames.
 *
 * NOT BUILT OR RUN here. Zephyr UART API over the CDC ACM device (legacy USB device stack, usb_enable()).
 */
#include <zephyr/device.h>
#include <zephyr/drivers/uart.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/ring_buffer.h>
#include <zephyr/usb/usb_device.h>

#include "board.h"
#include "fg_cobs.h"
#include "fg_protocol.h"

#define TX_RING_BYTES 2048 /* four full frames: 200 ms of data at 200 Hz */
#define RX_RING_BYTES 64

static const struct device *const cdc = DEVICE_DT_GET_ONE(zephyr_cdc_acm_uart);
RING_BUF_DECLARE(tx_ring, TX_RING_BYTES);
RING_BUF_DECLARE(rx_ring, RX_RING_BYTES);
static uint8_t frame_buf[FG_COBS_MAX_ENCODED_SIZE(FG_MAX_PACKET_SIZE) + 1u]; /* 512 bytes */
static volatile uint32_t rx_time_us;

static void rx_work_handler(struct k_work *work)
{
    uint8_t chunk[RX_RING_BYTES];
    uint32_t n;

    (void)work;
    while ((n = ring_buf_get(&rx_ring, chunk, sizeof(chunk))) > 0u) {
        (void)fg_device_serial_rx(&g_usb_dev, chunk, n, rx_time_us);
    }
}
static K_WORK_DEFINE(rx_work, rx_work_handler);

static void uart_isr(const struct device *dev, void *user_data)
{
    (void)user_data;
    while (uart_irq_update(dev) && uart_irq_is_pending(dev)) {
        if (uart_irq_rx_ready(dev)) {
            uint8_t buf[32];
            const int n = uart_fifo_read(dev, buf, sizeof(buf));
            if (n > 0) {
                rx_time_us = board_now_us(NULL);
                (void)ring_buf_put(&rx_ring, buf, (uint32_t)n); /* overflow drops bytes: the COBS check catches it */
                k_work_submit(&rx_work);
            }
        }
        if (uart_irq_tx_ready(dev)) {
            uint8_t *data;
            const uint32_t avail = ring_buf_get_claim(&tx_ring, &data, 64);
            if (avail == 0u) {
                uart_irq_tx_disable(dev);
            } else {
                const int sent = uart_fifo_fill(dev, data, (int)avail);
                ring_buf_get_finish(&tx_ring, sent > 0 ? (uint32_t)sent : 0u);
            }
        }
    }
}

bool link_usb_send(void *user, const uint8_t *packet, size_t len)
{
    size_t frame_len = 0;
    uint32_t dtr = 0;
    unsigned int key;
    bool ok;

    (void)user;
    if (uart_line_ctrl_get(cdc, UART_LINE_CTRL_DTR, &dtr) != 0 || dtr == 0u) {
        return false; /* no host has the port open */
    }
    if (fg_frame_encode(packet, len, frame_buf, sizeof(frame_buf), &frame_len) != FG_OK) {
        return false;
    }
    key = irq_lock(); /* the ISR consumes tx_ring; whole frames or nothing */
    ok = ring_buf_space_get(&tx_ring) >= frame_len;
    if (ok) {
        (void)ring_buf_put(&tx_ring, frame_buf, (uint32_t)frame_len);
    }
    irq_unlock(key);
    if (ok) {
        uart_irq_tx_enable(cdc);
    }
    return ok;
}

int link_usb_init(void)
{
    int err;

    if (!device_is_ready(cdc)) {
        return -ENODEV;
    }
    err = usb_enable(NULL);
    if (err != 0 && err != -EALREADY) {
        return err;
    }
    uart_irq_callback_user_data_set(cdc, uart_isr, NULL);
    uart_irq_rx_enable(cdc);
    return 0;
}
