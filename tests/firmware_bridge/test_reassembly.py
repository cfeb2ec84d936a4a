"""Reassembly of one link's packets (PROTOCOL.md §3): unwrapping, gaps, duplicates, overlaps, reboots, chunking."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import BridgeError
from firmware_bridge.reassembly import Reassembler, unwrap_u32
from firmware_bridge.stream import SensorStream
from hardware.protocol import ImuBatch, SensorConfig, decode_rows, encode_imu_rows

CONFIG = SensorConfig(rate_hz=100.0)
N = 5  # samples per packet
PERIOD_US = 10_000.0
U32 = 1 << 32


def packets(
    first_idx: list[int], *, t0_us: int = 1_000, idx0: int | None = None, n: int = N, seq0: int = 0
) -> ImuBatch:
    """IMU packets of one sensor starting at the given sample indices (mod 2**32), t_us on one clock."""
    idx = np.asarray(first_idx, dtype=np.int64)
    base = idx[0] if idx0 is None else idx0
    t_us = (t0_us + (idx - base) * int(PERIOD_US)) % U32
    counts = (np.arange(idx.size * n * 6, dtype=np.int64).reshape(idx.size, n, 6) % 2000).astype(np.int16)
    counts[..., 0] = ((idx[:, None] + np.arange(n)) % 30000).astype(np.int16)  # each sample carries its index
    rows = encode_imu_rows(0, (seq0 + np.arange(idx.size)) % 65536, idx % U32, t_us, CONFIG, counts)
    return decode_rows(rows).imu


def arrivals(batch: ImuBatch, lag_us: float = 20_000.0) -> np.ndarray:
    """Arrival times: the last sample's device time plus a fixed lag (device clock = host clock here)."""
    return np.asarray(batch.t_us + (batch.n - 1) * PERIOD_US + lag_us, dtype=np.float64)


def test_unwrap_u32_matches_a_loop() -> None:
    rng = np.random.default_rng(1)
    steps = rng.integers(-(1 << 30), 1 << 30, 500)
    true = 5 * U32 + 123 + np.cumsum(steps)
    raw = true % U32
    got = unwrap_u32(raw[1:], int(raw[0]), int(true[0]))
    loop = [int(true[0])]
    for r in raw[1:]:
        d = (int(r) - loop[-1]) % U32
        loop.append(loop[-1] + (d - U32 if d >= U32 // 2 else d))
    np.testing.assert_array_equal(got, loop[1:])
    np.testing.assert_array_equal(got, true[1:])


def test_in_order_packets_append_without_gaps() -> None:
    b = packets(list(range(0, 100 * N, N)))
    r = Reassembler()
    place = r.feed(b, arrivals(b))
    assert (place.keep_from == 0).all() and (place.gap_before == 0).all()
    assert r.stats.samples == 100 * N and r.stats.lost_samples == 0 and r.stats.segments == 1
    assert r.expected_idx == 100 * N


def test_a_gap_is_exactly_the_missing_samples() -> None:
    b = packets([0, 5, 10, 30, 35, 40])  # samples 15 … 29 never arrived
    place = Reassembler().feed(b, arrivals(b))
    assert [(g.start_idx, g.n_samples) for g in place.gaps] == [(15, 15)]
    np.testing.assert_array_equal(place.gap_before, [0, 0, 0, 15, 0, 0])


def test_duplicates_are_dropped_and_overlaps_keep_their_new_tail() -> None:
    # 5 again; 3-7 all old; 12-16 brings 15 and 16 new; 0 again.
    b = packets([0, 5, 5, 3, 10, 12, 0])
    place = Reassembler().feed(b, arrivals(b))
    np.testing.assert_array_equal(place.keep_from, [0, 0, 5, 5, 0, 3, 5])
    np.testing.assert_array_equal(place.n_new, [5, 5, 0, 0, 5, 2, 0])
    np.testing.assert_array_equal(place.duplicate, [False, False, True, True, False, True, True])


def test_counters_wrap_across_two_to_the_32() -> None:
    start = U32 - 7 * N
    b = packets([(start + k * N) for k in range(20)], t0_us=U32 - 30_000)
    r = Reassembler()
    place = r.feed(b, arrivals(b) % U32 + 1e9)  # host clock: any origin
    np.testing.assert_array_equal(np.diff(place.sample_idx), N)
    np.testing.assert_array_equal(np.diff(place.t_us), N * PERIOD_US)
    assert r.stats.lost_samples == 0 and r.stats.segments == 1


def test_a_reboot_with_a_new_clock_starts_a_new_segment() -> None:
    before = packets(list(range(5000, 5000 + 50 * N, N)), t0_us=7_000_000)
    after = packets(list(range(0, 50 * N, N)), t0_us=123_456_789)  # counters restarted, clock elsewhere
    r = Reassembler()
    host_after = arrivals(before)[-1] + 3e6 + np.arange(len(after)) * N * PERIOD_US
    p1 = r.feed(before, arrivals(before))
    p2 = r.feed(after, host_after)
    assert (p1.segment == 0).all() and (p2.segment == 1).all()
    assert r.stats.reboots == 1 and r.stats.lost_samples == 0
    assert [s.reason for s in r.segments] == ["start", "reboot"]


def test_a_reboot_onto_the_same_clock_line_is_found_by_its_arrival_time() -> None:
    # The device counts samples and µs from 0 at every power-up: after a reboot, (sample_idx, t_us) repeat the
    # first power-up's pairs exactly; only the arrival time shows that the samples are new.
    first = packets(list(range(0, 100 * N, N)), t0_us=0)
    again = packets(list(range(0, 20 * N, N)), t0_us=0)
    r = Reassembler()
    p1 = r.feed(first, arrivals(first))
    p2 = r.feed(again, arrivals(again) + 60e6)  # a minute later
    assert r.stats.reboots == 1 and (p2.segment == 1).all() and not p2.duplicate.any()
    assert (p1.segment == 0).all()


def test_a_duplicate_arriving_soon_after_is_not_a_reboot() -> None:
    b = packets(list(range(0, 100 * N, N)))
    r = Reassembler()
    r.feed(b, arrivals(b))
    again = b.take([97, 98])
    p = r.feed(again, arrivals(again) + 30_000)
    assert r.stats.reboots == 0 and p.duplicate.all() and (p.n_new == 0).all()


def test_a_new_configuration_starts_a_new_segment() -> None:
    b = packets(list(range(0, 10 * N, N)))
    other = SensorConfig(rate_hz=200.0)
    rows = encode_imu_rows(0, [10], [50], [1_000 + 50 * 10_000], other, np.zeros((1, N, 6), dtype=np.int16))
    c = decode_rows(rows).imu
    r = Reassembler()
    both = ImuBatch.concat([b, dataclasses.replace(c, position=c.position + len(b))])
    r.feed(both, np.r_[arrivals(b), arrivals(b)[-1] + 50_000])
    assert [s.reason for s in r.segments] == ["start", "config"] and r.stats.reboots == 0


def test_parameters_are_checked() -> None:
    with pytest.raises(BridgeError, match="max_link_latency_s"):
        Reassembler(max_link_latency_s=0)
    b = packets([0, 5])
    with pytest.raises(BridgeError, match="t_host_us"):
        Reassembler().feed(b, [1.0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, 199), max_size=8, unique=True),
    drop=st.lists(st.integers(0, 199), max_size=30, unique=True),
    dup=st.lists(st.integers(0, 199), max_size=10, unique=True),
)
def test_chunked_feeding_equals_one_feed(cuts: list[int], drop: list[int], dup: list[int]) -> None:
    order = [k for k in range(200) if k not in drop]
    for k in sorted(dup, reverse=True):
        if k in order:
            order.insert(order.index(k) + 1, k)  # the same packet again right after itself
    b = packets([k * N for k in order])
    t = arrivals(b)
    whole = Reassembler()
    ref = whole.feed(b, t)
    parts = Reassembler()
    bounds = [0, *sorted(c for c in cuts if c < len(b)), len(b)]
    got = [parts.feed(b.take(np.arange(a, z)), t[a:z]) for a, z in itertools.pairwise(bounds)]
    for name in ("segment", "sample_idx", "t_us", "keep_from", "gap_before", "duplicate"):
        np.testing.assert_array_equal(np.concatenate([getattr(g, name) for g in got]), getattr(ref, name))
    assert parts.stats == whole.stats
    kept = sorted(set(order))
    assert whole.stats.lost_samples == N * (kept[-1] - kept[0] + 1 - len(kept))  # losses between the first and last
    assert whole.stats.duplicate_packets == len(order) - len(kept)


def test_sensor_stream_keeps_each_sample_once_and_flags_a_differing_repeat() -> None:
    b = packets(list(range(0, 40 * N, N)))
    stream = SensorStream(0, "pelvis")
    stream.add_imu(b, arrivals(b))
    same = b.take([10])
    stream.add_imu(same, arrivals(same) + 1e5)
    changed = dataclasses.replace(same, counts=same.counts + 1)
    stream.add_imu(changed, arrivals(changed) + 2e5)
    samples = stream.samples()
    np.testing.assert_array_equal(samples.sample_idx, np.arange(40 * N))
    health = stream.health()
    assert health.duplicate_packets == 2 and health.mismatched_duplicates == 1 and health.samples == 40 * N


def test_sensor_stream_ring_keeps_only_the_newest_samples() -> None:
    b = packets(list(range(0, 40 * N, N)))
    stream = SensorStream(0, "pelvis", max_samples=33)
    for k in range(0, len(b), 3):
        part = b.take(np.arange(k, min(k + 3, len(b))))
        stream.add_imu(part, arrivals(part))
    samples = stream.samples()
    np.testing.assert_array_equal(samples.sample_idx, np.arange(40 * N - 33, 40 * N))
    assert stream.health().samples == 40 * N  # the counters count everything


def test_sensor_stream_samples_equal_a_loop_over_the_kept_packets() -> None:
    # Packets of 5 then 8 samples, an overlap and a duplicate, then a reboot onto a new clock: every per-sample array
    # built at once equals the same built packet by packet from the placements.
    a = packets(list(range(0, 200, 5)))
    b = packets(list(range(200, 400, 8)), n=8, t0_us=1_000 + 200 * int(PERIOD_US))
    c = packets([390, 396, 100, 400], n=8, t0_us=1_000 + 390 * int(PERIOD_US))
    d = packets(list(range(0, 100, 5)), t0_us=55)
    parts = [(a, arrivals(a)), (b, arrivals(b)), (c, arrivals(c) + 1e5), (d, arrivals(d) + 1e9)]
    stream, reference = SensorStream(0, "pelvis"), Reassembler()
    kept = []
    for batch, arrival in parts:
        stream.add_imu(batch, arrival)
        place = reference.feed(batch, arrival)
        for p in range(len(batch)):
            first = int(batch.first[p])
            for row in range(int(place.keep_from[p]), int(place.n[p])):
                kept.append((int(place.segment[p]), int(place.sample_idx[p]) + row, int(place.t_us[p]), row))
                kept[-1] += (batch.counts[first + row],)
    samples = stream.samples()
    fits = stream.clock_fits()
    assert stream.health().reboots == 1 and len(kept) == samples.sample_idx.size
    for k, (seg, idx, t_us, row, counts) in enumerate(kept):
        assert (samples.segment[k], samples.sample_idx[k]) == (seg, idx)
        fit = fits[seg]
        assert fit is not None
        assert samples.host_us[k] == fit.host_us(t_us + row * stream.reassembler.period_us(seg))
        np.testing.assert_array_equal(samples.acc_mps2[k], CONFIG.from_counts(counts[None, :])[0][0])
        follows = k + 1 < len(kept) and kept[k + 1][:2] == (seg, idx + 1)
        assert samples.continues[k] == follows
