/**
 * @file imu_lsm6ds3.c
 * @brief LSM6DS3 / LSM6DS3TR-C over I2C: accelerometer + gyroscope into the FIFO, drained in whole samples.
 *
 * NOT BUILT OR RUN here. Register addresses and codes follow the ST LSM6DS3 / LSM6DS3TR-C datasheets and must be
 * checked on hardware (FIFO pattern order in particular).
 *
 * Ranges: +-16 g and +-2000 dps. The protocol's count is full_scale / 32768 (hardware/protocol.py). The LSM6DS3
 * accelerometer at +-16 g is 0.488 mg/LSB, i.e. 16/32768 g: sent unchanged. Its gyroscope at +-2000 dps is
 * 70 mdps/LSB, not 2000/32768 = 61.035 mdps/LSB, so gyro counts are rescaled by 70 / 61.03515625 = 3584/3125 and
 * saturated at int16 before packing.
 */
#include <zephyr/device.h>
#include <zephyr/drivers/i2c.h>
#include <zephyr/kernel.h>

#include "board.h"
#include "fg_protocol.h"

#define REG_FIFO_CTRL1 0x06
#define REG_FIFO_CTRL2 0x07
#define REG_FIFO_CTRL3 0x08
#define REG_FIFO_CTRL5 0x0A
#define REG_WHO_AM_I 0x0F
#define REG_CTRL1_XL 0x10
#define REG_CTRL2_G 0x11
#define REG_CTRL3_C 0x12
#define REG_FIFO_STATUS1 0x3A
#define REG_FIFO_STATUS3 0x3C
#define REG_FIFO_DATA_OUT_L 0x3E

#define WHO_AM_I_LSM6DS3 0x69
#define WHO_AM_I_LSM6DS3TR_C 0x6A

#define ODR_104HZ 0x4 /* ODR codes of CTRL1_XL / CTRL2_G / FIFO_CTRL5 */
#define ODR_208HZ 0x5
#define FS_XL_16G 0x1   /* CTRL1_XL FS_XL bits: 00 2g, 01 16g, 10 4g, 11 8g */
#define FS_G_2000DPS 0x3
#define FIFO_MODE_CONTINUOUS 0x6
#define WORDS_PER_SAMPLE 6u /* gyro x y z, then accel x y z (FIFO pattern 0 is gyro x) */

static const struct i2c_dt_spec imu = I2C_DT_SPEC_GET(DT_ALIAS(fg_imu));
static uint8_t g_rate_code;

static int reg_write(uint8_t reg, uint8_t value)
{
    return i2c_reg_write_byte_dt(&imu, reg, value);
}

static int16_t rescale_gyro(int16_t raw)
{
    const int32_t scaled = ((int32_t)raw * 3584 + (raw >= 0 ? 1562 : -1562)) / 3125; /* rounded */
    return (int16_t)(scaled > INT16_MAX ? INT16_MAX : (scaled < INT16_MIN ? INT16_MIN : scaled));
}

int imu_init(uint8_t rate_code)
{
    uint8_t who = 0;
    const uint8_t odr = (rate_code == FG_RATE_200HZ) ? ODR_208HZ : ODR_104HZ;
    int err;

    if (!i2c_is_ready_dt(&imu)) {
        return -ENODEV;
    }
    err = i2c_reg_read_byte_dt(&imu, REG_WHO_AM_I, &who);
    if (err != 0) {
        return err;
    }
    if (who != WHO_AM_I_LSM6DS3 && who != WHO_AM_I_LSM6DS3TR_C) {
        return -ENODEV;
    }
    g_rate_code = (rate_code == FG_RATE_200HZ) ? FG_RATE_200HZ : FG_RATE_100HZ;
    err = reg_write(REG_CTRL3_C, 0x01); /* SW_RESET */
    if (err != 0) {
        return err;
    }
    k_msleep(10);
    const uint8_t setup[][2] = {
        {REG_CTRL3_C, 0x44},                                          /* BDU, IF_INC */
        {REG_CTRL1_XL, (uint8_t)((odr << 4) | (FS_XL_16G << 2))},     /* accel ODR, +-16 g */
        {REG_CTRL2_G, (uint8_t)((odr << 4) | (FS_G_2000DPS << 2))},   /* gyro ODR, +-2000 dps */
        {REG_FIFO_CTRL1, 0x00},                                       /* no watermark: polled */
        {REG_FIFO_CTRL2, 0x00},
        {REG_FIFO_CTRL3, 0x09},                                       /* gyro and accel, no decimation */
        {REG_FIFO_CTRL5, (uint8_t)((odr << 3) | FIFO_MODE_CONTINUOUS)}, /* FIFO ODR, continuous mode */
    };
    for (size_t i = 0; i < ARRAY_SIZE(setup); ++i) {
        err = reg_write(setup[i][0], setup[i][1]);
        if (err != 0) {
            return err;
        }
    }
    return 0;
}

uint8_t imu_rate_code(void)
{
    return g_rate_code;
}

uint32_t imu_period_us(void)
{
    return (g_rate_code == FG_RATE_200HZ) ? 4808u : 9615u; /* 1 / 208 Hz, 1 / 104 Hz */
}

uint8_t imu_cfg(void)
{
    return FG_CFG(g_rate_code, FG_ACC_16G, FG_GYR_2000DPS);
}

int imu_read_fifo(fg_sample_t *out, size_t max, uint32_t *t_last_us)
{
    uint8_t st[4];
    uint16_t unread_words;
    uint16_t pattern;
    size_t count = 0;
    int err;

    err = i2c_burst_read_dt(&imu, REG_FIFO_STATUS1, st, sizeof(st));
    *t_last_us = board_now_us(NULL);
    if (err != 0) {
        return err;
    }
    unread_words = (uint16_t)(st[0] | ((st[1] & 0x0F) << 8));
    pattern = (uint16_t)(st[2] | ((st[3] & 0x03) << 8));
    /* Re-align to a sample boundary after an overrun by discarding words until the pattern is gyro x. */
    while (pattern % WORDS_PER_SAMPLE != 0u && unread_words > 0u) {
        uint8_t skip[2];
        err = i2c_burst_read_dt(&imu, REG_FIFO_DATA_OUT_L, skip, 2);
        if (err != 0) {
            return err;
        }
        pattern++;
        unread_words--;
    }
    while (unread_words >= WORDS_PER_SAMPLE && count < max) {
        uint8_t raw[12];
        int16_t w[6];
        for (size_t i = 0; i < WORDS_PER_SAMPLE; ++i) {
            err = i2c_burst_read_dt(&imu, REG_FIFO_DATA_OUT_L, &raw[2 * i], 2);
            if (err != 0) {
                return err;
            }
            w[i] = (int16_t)((uint16_t)raw[2 * i] | ((uint16_t)raw[2 * i + 1] << 8));
        }
        out[count].gyr[0] = rescale_gyro(w[0]);
        out[count].gyr[1] = rescale_gyro(w[1]);
        out[count].gyr[2] = rescale_gyro(w[2]);
        out[count].acc[0] = w[3];
        out[count].acc[1] = w[4];
        out[count].acc[2] = w[5];
        count++;
        unread_words = (uint16_t)(unread_words - WORDS_PER_SAMPLE);
    }
    return (int)count;
}
