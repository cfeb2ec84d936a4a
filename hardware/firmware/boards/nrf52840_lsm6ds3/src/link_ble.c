/**
 * @file link_ble.c
 * @brief BLE link: the FusionGait GATT service (data notify + command write), MTU handling, reconnects.
 *
 * NOT BUILT OR RUN here. Zephyr Bluetooth host API.
 *
 * - One packet per notification on the data characteristic; the batch size follows the ATT MTU
 *   (fg_batch_size(rate, mtu)), so a packet is never split.
 * - Command writes arrive on the Bluetooth RX thread: they are stamped (t_rx_us) and queued, then handled by the
 *   core on the system work queue.
 * - A refused notification (no TX buffer: -ENOMEM) makes send() return false; the core counts the samples as
 *   overflow and reports them in the next status packet.
 */
#include <string.h>

#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/bluetooth/conn.h>
#include <zephyr/bluetooth/gatt.h>
#include <zephyr/bluetooth/uuid.h>
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "board.h"
#include "fg_gatt_uuids.h"
#include "fg_protocol.h"

LOG_MODULE_REGISTER(fg_ble, LOG_LEVEL_INF);

static struct bt_uuid_128 svc_uuid = BT_UUID_INIT_128(FG_UUID_SERVICE_VAL);
static struct bt_uuid_128 data_uuid = BT_UUID_INIT_128(FG_UUID_DATA_VAL);
static struct bt_uuid_128 cmd_uuid = BT_UUID_INIT_128(FG_UUID_COMMAND_VAL);

static struct bt_conn *current_conn;
static bool notify_enabled;

struct cmd_event {
    uint8_t len;
    uint8_t data[FG_MAX_COMMAND_SIZE];
    uint32_t t_rx_us;
};
K_MSGQ_DEFINE(cmd_queue, sizeof(struct cmd_event), 8, 4);

enum link_event { LINK_MTU, LINK_LOST };
K_MSGQ_DEFINE(link_queue, sizeof(uint8_t), 4, 1);

static ssize_t on_command_write(struct bt_conn *conn, const struct bt_gatt_attr *attr, const void *buf, uint16_t len,
                                uint16_t offset, uint8_t flags);
static void data_ccc_changed(const struct bt_gatt_attr *attr, uint16_t value);

BT_GATT_SERVICE_DEFINE(fg_svc, BT_GATT_PRIMARY_SERVICE(&svc_uuid),
                       BT_GATT_CHARACTERISTIC(&data_uuid.uuid, BT_GATT_CHRC_NOTIFY, BT_GATT_PERM_NONE, NULL, NULL,
                                              NULL),
                       BT_GATT_CCC(data_ccc_changed, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE),
                       BT_GATT_CHARACTERISTIC(&cmd_uuid.uuid, BT_GATT_CHRC_WRITE | BT_GATT_CHRC_WRITE_WITHOUT_RESP,
                                              BT_GATT_PERM_WRITE, NULL, on_command_write, NULL), );

static void work_handler(struct k_work *work)
{
    struct cmd_event ev;
    uint8_t link_ev;

    (void)work;
    while (k_msgq_get(&link_queue, &link_ev, K_NO_WAIT) == 0) {
        if (link_ev == LINK_LOST) {
            fg_device_link_lost(&g_ble_dev);
        } else if (current_conn != NULL) {
            const uint8_t n = fg_batch_size(imu_rate_code(), bt_gatt_get_mtu(current_conn));
            if (n > 0u) {
                (void)fg_device_configure(&g_ble_dev, imu_cfg(), n); /* sends a pending partial batch first */
            } else {
                LOG_WRN("ATT MTU %u is below %u: packets cannot be sent", bt_gatt_get_mtu(current_conn),
                        (unsigned)FG_MIN_ATT_MTU);
            }
        }
    }
    while (k_msgq_get(&cmd_queue, &ev, K_NO_WAIT) == 0) {
        (void)fg_device_handle_command(&g_ble_dev, ev.data, ev.len, ev.t_rx_us);
    }
}
static K_WORK_DEFINE(ble_work, work_handler);

static ssize_t on_command_write(struct bt_conn *conn, const struct bt_gatt_attr *attr, const void *buf, uint16_t len,
                                uint16_t offset, uint8_t flags)
{
    struct cmd_event ev = {.t_rx_us = board_now_us(NULL)};

    (void)conn;
    (void)attr;
    (void)flags;
    if (offset != 0u || len > FG_MAX_COMMAND_SIZE) {
        return BT_GATT_ERR(BT_ATT_ERR_INVALID_ATTRIBUTE_LEN);
    }
    ev.len = (uint8_t)len;
    memcpy(ev.data, buf, len);
    if (k_msgq_put(&cmd_queue, &ev, K_NO_WAIT) != 0) {
        return BT_GATT_ERR(BT_ATT_ERR_PREPARE_QUEUE_FULL);
    }
    k_work_submit(&ble_work);
    return len;
}

static void data_ccc_changed(const struct bt_gatt_attr *attr, uint16_t value)
{
    (void)attr;
    notify_enabled = (value == BT_GATT_CCC_NOTIFY);
}

bool link_ble_send(void *user, const uint8_t *packet, size_t len)
{
    (void)user;
    if (current_conn == NULL || !notify_enabled || len > (size_t)bt_gatt_get_mtu(current_conn) - FG_ATT_OVERHEAD) {
        return false;
    }
    /* attrs[1] is the data characteristic's value attribute. */
    return bt_gatt_notify(current_conn, &fg_svc.attrs[1], packet, (uint16_t)len) == 0;
}

static void queue_link_event(uint8_t ev)
{
    (void)k_msgq_put(&link_queue, &ev, K_NO_WAIT);
    k_work_submit(&ble_work);
}

static void mtu_updated(struct bt_conn *conn, uint16_t tx, uint16_t rx)
{
    (void)conn;
    LOG_INF("ATT MTU tx %u rx %u", tx, rx);
    queue_link_event(LINK_MTU);
}

static struct bt_gatt_cb gatt_callbacks = {.att_mtu_updated = mtu_updated};

static void exchange_done(struct bt_conn *conn, uint8_t err, struct bt_gatt_exchange_params *params)
{
    (void)conn;
    (void)params;
    if (err != 0u) {
        LOG_WRN("MTU exchange failed: %u", err);
    }
}
static struct bt_gatt_exchange_params exchange_params = {.func = exchange_done};

static void connected(struct bt_conn *conn, uint8_t err)
{
    if (err != 0u) {
        return;
    }
    current_conn = bt_conn_ref(conn);
    (void)bt_gatt_exchange_mtu(conn, &exchange_params); /* ask for CONFIG_BT_L2CAP_TX_MTU (247) */
    queue_link_event(LINK_MTU);
}

static void disconnected(struct bt_conn *conn, uint8_t reason)
{
    (void)reason;
    if (current_conn == conn) {
        bt_conn_unref(current_conn);
        current_conn = NULL;
    }
    notify_enabled = false;
    queue_link_event(LINK_LOST);
}

BT_CONN_CB_DEFINE(conn_callbacks) = {.connected = connected, .disconnected = disconnected};

static const struct bt_data ad[] = {
    BT_DATA_BYTES(BT_DATA_FLAGS, (BT_LE_AD_GENERAL | BT_LE_AD_NO_BREDR)),
    BT_DATA_BYTES(BT_DATA_UUID128_ALL, FG_UUID_SERVICE_VAL),
};
static const struct bt_data sd[] = {
    BT_DATA(BT_DATA_NAME_COMPLETE, CONFIG_BT_DEVICE_NAME, sizeof(CONFIG_BT_DEVICE_NAME) - 1),
};

int link_ble_init(void)
{
    int err = bt_enable(NULL);
    if (err != 0) {
        return err;
    }
    bt_gatt_cb_register(&gatt_callbacks);
    return bt_le_adv_start(BT_LE_ADV_CONN_FAST_1, ad, ARRAY_SIZE(ad), sd, ARRAY_SIZE(sd));
}
