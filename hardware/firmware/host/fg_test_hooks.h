/**
 * @file fg_test_hooks.h
 * @brief Host-only helpers for the tests (never linked into firmware).
 */
#ifndef FG_TEST_HOOKS_H
#define FG_TEST_HOOKS_H

#include "fg_packetizer.h"

/** Jump the packet counter and the sample index, to test their wrap without sending 65 536 packets. */
void fg_test_set_counters(fg_device_t *dev, uint16_t seq, uint32_t next_sample_idx);

#endif /* FG_TEST_HOOKS_H */
