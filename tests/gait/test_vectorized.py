"""Each vectorised function against a plain per-slice loop (DESIGN.md §5 rule 2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gait.events import windows
from gait.live import nearest_stride
from gait.preprocess import interpolate_bracketed, time_normalize
from gait.spatiotemporal import harmonic_ratios, vertical_excursion_m


@settings(max_examples=50, deadline=None)
@given(st.integers(5, 200), st.lists(st.integers(-20, 220), min_size=1, max_size=20), st.integers(1, 30))
def test_windows_matches_loop(n: int, starts: list[int], length: int) -> None:
    x = np.arange(n, dtype=float) * 1.5
    vals, index = windows(x, np.array(starts, dtype=np.int64), length)
    for row, s in enumerate(starts):
        expect_idx = [min(max(s + k, 0), n - 1) for k in range(length)]
        assert index[row].tolist() == expect_idx
        assert vals[row].tolist() == [x[i] for i in expect_idx]


def test_time_normalize_matches_loop() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    steps = np.array([10, 60, 115, 170, 230, 300], dtype=np.int64)
    batch = time_normalize(x, steps[:-1], steps[1:], n_points=40)
    for j in range(steps.size - 1):
        pos = steps[j] + (steps[j + 1] - steps[j]) * np.arange(40) / 40
        for k in range(3):
            np.testing.assert_allclose(batch[j, :, k], np.interp(pos, np.arange(400), x[:, k]), atol=1e-12)


def _bracketed_one(
    t: np.ndarray, x: np.ndarray, target: float, max_gap_s: float, tol_s: float
) -> tuple[np.ndarray, bool]:
    """Per-point reference for interpolate_bracketed: x (n, k) at one target time, by scalar rules."""
    n, k = x.shape
    if n < 2 or not np.isfinite(target):
        return np.full(k, np.nan), False
    r = next((j for j in range(n) if t[j] >= target), n - 1)  # first sample at or after the target
    r = min(max(r, 1), n - 1)
    lo = r - 1
    if not t[lo] - tol_s <= target <= t[r] + tol_s:
        return np.full(k, np.nan), False
    if t[r] - t[lo] <= max_gap_s:
        return np.array([np.interp(target, t, x[:, c]) for c in range(k)]), True  # clamps at the ends
    if abs(target - t[lo]) <= tol_s:
        return x[lo].copy(), True
    if abs(target - t[r]) <= tol_s:
        return x[r].copy(), True
    return np.full(k, np.nan), False


@pytest.mark.parametrize("seed", range(12))
def test_interpolate_bracketed_matches_per_point_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    dt_s = rng.choice([0.01, 0.01, 0.01, 0.05, 0.3], size=max(n - 1, 0))  # mostly 10 ms, some holes
    t = 2.0 + np.concatenate([[0.0], np.cumsum(dt_s)])[:n]
    x = rng.normal(size=(2, n, 3))  # leading axis: one slice per sensor
    tol_s = 1e-3 * 0.01
    target = np.concatenate(
        [
            rng.uniform(1.9, t[-1] + 0.1 if n else 2.1, 60),
            t,  # exact hits
            t + rng.choice([-0.5, 0.5, -2.0, 2.0], size=n) * tol_s,  # near hits, inside and outside the tolerance
            t[:1] - 0.5 * tol_s,  # just before the first and after the last sample: held, not extrapolated
            t[-1:] + 0.5 * tol_s,
            [np.nan],
        ]
    )
    values, ok = interpolate_bracketed(t, x, target, max_gap_s=0.015, tol_s=tol_s)
    assert values.shape == (2, target.size, 3) and ok.shape == (target.size,)
    for s in range(2):
        for i, tt in enumerate(target):
            expect, expect_ok = _bracketed_one(t, x[s], float(tt), 0.015, tol_s)
            assert ok[i] == expect_ok, (s, i, tt)
            np.testing.assert_allclose(values[s, i], expect, rtol=0, atol=1e-12)
    single, single_ok = interpolate_bracketed(t, x[0], target, max_gap_s=0.015, tol_s=tol_s)
    assert np.array_equal(single_ok, ok) and np.array_equal(single, values[0], equal_nan=True)


def test_harmonic_ratios_match_loop_and_physics() -> None:
    fs = 100.0
    t = np.arange(0, 12, 1 / fs)
    stride_s = 1.1
    # AP and SI at the step frequency (even harmonics of the stride), ML at the stride frequency.
    acc = np.stack(
        [
            np.sin(2 * np.pi * 2 / stride_s * t) + 0.1 * np.sin(2 * np.pi / stride_s * t),
            np.sin(2 * np.pi / stride_s * t) + 0.1 * np.sin(2 * np.pi * 2 / stride_s * t),
            np.cos(2 * np.pi * 2 / stride_s * t) + 0.2 * np.sin(2 * np.pi / stride_s * t),
        ],
        axis=-1,
    )
    start = (np.arange(8) * stride_s * fs).astype(np.int64)
    stop = start + round(stride_s * fs)
    hr = harmonic_ratios(acc, start, stop)
    for i in range(start.size):
        seg = acc[start[i] : stop[i]]
        pos = np.linspace(0, seg.shape[0], 128, endpoint=False)
        cyc = np.stack([np.interp(pos, np.arange(acc.shape[0]) - start[i], acc[:, k]) for k in range(3)], -1)
        amp = np.abs(np.fft.rfft(cyc, axis=0))[1:21]
        odd, even = amp[0::2].sum(0), amp[1::2].sum(0)
        np.testing.assert_allclose(hr[i], [even[0] / odd[0], odd[1] / even[1], even[2] / odd[2]], rtol=1e-9)
    assert (hr[:, 0] > 5).all() and (hr[:, 1] > 5).all() and (hr[:, 2] > 3).all()


def test_vertical_excursion_recovers_a_known_sinusoid() -> None:
    fs = 100.0
    t = np.arange(0, 20, 1 / fs)
    f_step = 1.8
    h_true = 0.04  # peak-to-peak metres
    acc = -(h_true / 2) * (2 * np.pi * f_step) ** 2 * np.cos(2 * np.pi * f_step * t)
    ic = (np.arange(2, 34) / f_step * fs).astype(np.int64)
    h = vertical_excursion_m(acc, ic, fs)
    np.testing.assert_allclose(np.median(h), h_true, rtol=0.05)


def test_summarize_bouts_matches_per_bout_loop() -> None:
    from gait.pipeline import GaitPipeline
    from gait.spatiotemporal import StepTable, StrideTable
    from gait.summary import summarize, summarize_bouts
    from hardware.simulator import Segment, WalkerParams, simulate_session

    schedule = (
        Segment(kind="stand", duration_s=2.0),
        Segment(kind="walk", duration_s=8.0),
        Segment(kind="stand", duration_s=3.0),
        Segment(kind="walk", duration_s=6.0),
        Segment(kind="turn", duration_s=3.0),
        Segment(kind="walk", duration_s=6.0),
        Segment(kind="stand", duration_s=2.0),
    )
    result = GaitPipeline().run(simulate_session(WalkerParams(), schedule=schedule, seed=4).recording)
    steps, strides = result.steps, result.strides
    n_bouts = len(result.bouts)
    assert n_bouts >= 2
    batch = summarize_bouts(steps, strides, n_bouts)
    for k in range(n_bouts):
        s_sel, t_sel = steps.bout == k, strides.bout == k
        one = summarize(
            StepTable(*(getattr(steps, f)[s_sel] for f in StepTable.__slots__)),
            StrideTable(*(getattr(strides, f)[t_sel] for f in StrideTable.__slots__)),
        )
        np.testing.assert_allclose(batch.cadence_spm[k], one.value("cadence_spm"), rtol=1e-12)
        np.testing.assert_allclose(batch.walking_speed_mps[k], one.value("walking_speed_mps"), rtol=1e-12)
        np.testing.assert_allclose(batch.stride_length_m[k], one.value("stride_length_m"), rtol=1e-12)
        assert batch.n_steps[k] == one.n_steps
        assert result.bouts[k].cadence_spm == batch.cadence_spm[k]


def test_contralateral_drop_matches_loop() -> None:
    from gait.kinematics import contralateral_drop_deg

    rng = np.random.default_rng(2)
    m, n_points = 12, 101
    obliquity = rng.normal(size=(m, n_points)) * 3
    side = rng.integers(-1, 2, size=m)
    fraction = rng.uniform(0.3, 0.7, size=m)
    fraction[3] = np.nan
    batch = contralateral_drop_deg(obliquity, side, fraction)
    for i in range(m):
        if side[i] < 0 or not np.isfinite(fraction[i]):
            assert np.isnan(batch[i])
            continue
        sign = 1.0 if side[i] == 0 else -1.0
        window = [sign * obliquity[i, k] for k in range(n_points) if k / (n_points - 1) <= fraction[i]]
        assert batch[i] == max(window)


def test_symmetry_ratios_match_loop() -> None:
    from gait.pipeline import GaitPipeline
    from hardware.simulator import Segment, antalgic, simulate_session

    schedule = (Segment(kind="stand", duration_s=2.0), Segment(kind="walk", duration_s=12.0))
    result = GaitPipeline().run(simulate_session(antalgic(), schedule=schedule, seed=5).recording)
    steps, strides, summary = result.steps, result.strides, result.summary
    use = strides.straight if summary.turns_excluded else np.ones_like(strides.straight)
    use_steps = steps.straight if summary.turns_excluded else np.ones_like(steps.straight)

    def ratio(values: list[float], sides: list[int]) -> float:
        left = [v for v, s in zip(values, sides, strict=True) if s == 0 and np.isfinite(v)]
        right = [v for v, s in zip(values, sides, strict=True) if s == 1 and np.isfinite(v)]
        a, b = sum(left) / len(left), sum(right) / len(right)
        return max(a, b) / min(a, b)

    swing = [float(x) for x, u in zip(strides.swing_pct, use, strict=True) if u]
    swing_sides = [int(x) for x, u in zip(strides.side, use, strict=True) if u]
    length = [float(x) for x, u in zip(steps.length_m, use_steps, strict=True) if u]
    length_sides = [int(x) for x, u in zip(steps.side, use_steps, strict=True) if u]
    assert summary.value("swing_symmetry_ratio") == pytest.approx(ratio(swing, swing_sides), rel=1e-12)
    assert summary.value("step_length_symmetry_ratio") == pytest.approx(ratio(length, length_sides), rel=1e-12)
    assert summary.value("swing_symmetry_ratio") > 1.06  # the antalgic walker's swing asymmetry


def _nearest_stride_one(stride: np.ndarray, known: np.ndarray, tolerance_idx: int) -> int:
    """Per-stride reference for nearest_stride: every known row compared, the first nearest kept."""
    best, best_distance = -1, None
    for row, (side, start, stop) in enumerate(known.tolist()):
        distance = max(abs(stride[1] - start), abs(stride[2] - stop))
        if side == stride[0] and distance <= tolerance_idx and (best_distance is None or distance < best_distance):
            best, best_distance = row, distance
    return best


_STRIDES = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 60), st.integers(0, 12)), max_size=25)


@settings(max_examples=200, deadline=None)
@given(_STRIDES, _STRIDES, st.integers(0, 6))
def test_nearest_stride_matches_pairwise_loop(
    found_rows: list[tuple[int, int, int]], known_rows: list[tuple[int, int, int]], tolerance_idx: int
) -> None:
    # dense, overlapping and repeated strides, so that a stride has several candidates and ties
    found = np.array([(side, start, start + length) for side, start, length in found_rows], dtype=np.int64)
    known = np.array([(side, start, start + length) for side, start, length in known_rows], dtype=np.int64)
    found, known = found.reshape(-1, 3), known.reshape(-1, 3)
    ids = nearest_stride(found, known, tolerance_idx=tolerance_idx)
    assert ids.tolist() == [_nearest_stride_one(f, known, tolerance_idx) for f in found.tolist()]
