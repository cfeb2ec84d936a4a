/**
 * @file fg_test_hooks.c
 * @brief Host-only helpers for the tests (never linked into firmware).
 */
#include "fg_test_hooks.h"

void fg_test_set_counters(fg_device_t *dev, uint16_t seq, uint32_t next_sample_idx)
{
    dev->seq = seq;
    dev->next_sample_idx = next_sample_idx;
}
