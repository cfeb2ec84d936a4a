/**
 * @file main.c
 * @brief FusionGait reference sensor on an nRF52840 with an LSM6DS3(TR-C), Zephyr RTOS.
 *
 * NOT BUILT OR RUN in this repository (no Zephyr SDK here): a plausible, small porting example of the core's contract.
 *
 * The IMU runs from power-up at 100 or 200 Hz; a delayable work item drains its FIFO every 25 ms and pushes each
 * sample to both link states (BLE and USB), which send only while their host has sent START. A status packet goes
 * out every 5 s while streaming, and the user button sends a marker.
 */
#include <zephyr/drivers/gpio.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "board.h"
#include "fg_protocol.h"

LOG_MODULE_REGISTER(fg_main, LOG_LEVEL_INF);

#define FIFO_POLL_MS 25
#define STATUS_PERIOD_MS 5000
#define RATE_CODE FG_RATE_200HZ /* or FG_RATE_100HZ */

fg_device_t g_ble_dev;
fg_device_t g_usb_dev;

static fg_sample_t fifo_samples[32]; /* 25 ms at 200 Hz is 5 samples; room for a late poll */

uint32_t board_now_us(void *user)
{
    (void)user;
    /* 64-bit cycle counter (RTC-based on nRF52: 32768 Hz, ~30.5 us steps) to microseconds, then wrap at 2^32. */
    return (uint32_t)k_cyc_to_us_floor64(k_cycle_get_64());
}

void board_read_status(void *user, fg_status_t *status)
{
    (void)user;
    /* Battery gauge and die temperature are board-specific (SAADC divider, TEMP peripheral) and not wired here:
     * zeros say "unknown". */
    status->battery_pct = 0;
    status->battery_mv = 0;
    status->flags = 0;
    status->temperature_cdeg = 0;
}

static void fifo_work_handler(struct k_work *work);
static K_WORK_DELAYABLE_DEFINE(fifo_work, fifo_work_handler);

static void fifo_work_handler(struct k_work *work)
{
    uint32_t t_last_us = 0;
    const int n = imu_read_fifo(fifo_samples, ARRAY_SIZE(fifo_samples), &t_last_us);

    if (n < 0) {
        LOG_WRN("IMU FIFO read failed: %d", n);
    }
    for (int i = 0; i < n; ++i) {
        /* Newest sample at the read time, earlier ones one nominal period apart (see README: timing). */
        const uint32_t t_us = t_last_us - (uint32_t)(n - 1 - i) * imu_period_us();
        (void)fg_device_push_sample(&g_ble_dev, &fifo_samples[i], t_us);
        (void)fg_device_push_sample(&g_usb_dev, &fifo_samples[i], t_us);
    }
    k_work_reschedule(k_work_delayable_from_work(work), K_MSEC(FIFO_POLL_MS));
}

static void status_work_handler(struct k_work *work)
{
    (void)fg_device_send_status(&g_ble_dev); /* FG_ERR_NOT_STREAMING when stopped: nothing sent */
    (void)fg_device_send_status(&g_usb_dev);
    k_work_reschedule(k_work_delayable_from_work(work), K_MSEC(STATUS_PERIOD_MS));
}
static K_WORK_DELAYABLE_DEFINE(status_work, status_work_handler);

/* User button -> marker, on the work queue. */
static const struct gpio_dt_spec button = GPIO_DT_SPEC_GET_OR(DT_ALIAS(sw0), gpios, {0});
static struct gpio_callback button_cb;
static uint8_t button_presses;

static void marker_work_handler(struct k_work *work)
{
    (void)work;
    button_presses++;
    (void)fg_device_send_marker(&g_ble_dev, FG_MARKER_BUTTON, button_presses);
    (void)fg_device_send_marker(&g_usb_dev, FG_MARKER_BUTTON, button_presses);
}
static K_WORK_DEFINE(marker_work, marker_work_handler);

static void button_isr(const struct device *dev, struct gpio_callback *cb, uint32_t pins)
{
    (void)dev;
    (void)cb;
    (void)pins;
    k_work_submit(&marker_work);
}

int main(void)
{
    const fg_port_t ble_port = {board_now_us, link_ble_send, board_read_status, NULL};
    const fg_port_t usb_port = {board_now_us, link_usb_send, board_read_status, NULL};
    int err;

    err = imu_init(RATE_CODE);
    if (err != 0) {
        LOG_ERR("IMU init failed: %d", err);
        return err;
    }
    /* BLE: batch for the ATT MTU we ask for (247); link_ble re-configures on connection and every MTU update.
     * USB: no MTU, batch from the rate alone. */
    (void)fg_device_init(&g_ble_dev, &ble_port, FG_SENSOR_ID, imu_cfg(), fg_batch_size(imu_rate_code(), 247));
    (void)fg_device_init(&g_usb_dev, &usb_port, FG_SENSOR_ID, imu_cfg(), fg_batch_size(imu_rate_code(), 0));

    err = link_ble_init();
    if (err != 0) {
        LOG_ERR("BLE init failed: %d", err);
    }
    err = link_usb_init();
    if (err != 0) {
        LOG_WRN("USB CDC init failed: %d (BLE only)", err);
    }
    if (button.port != NULL && gpio_pin_configure_dt(&button, GPIO_INPUT) == 0 &&
        gpio_pin_interrupt_configure_dt(&button, GPIO_INT_EDGE_TO_ACTIVE) == 0) {
        gpio_init_callback(&button_cb, button_isr, BIT(button.pin));
        gpio_add_callback(button.port, &button_cb);
    }
    k_work_schedule(&fifo_work, K_MSEC(FIFO_POLL_MS));
    k_work_schedule(&status_work, K_MSEC(STATUS_PERIOD_MS));
    return 0;
}
