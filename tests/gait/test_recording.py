from __future__ import annotations

import numpy as np
import pytest

from gait.errors import RecordingError
from gait.preprocess import (
    SensorStream,
    bridge_gaps,
    bridgeable,
    interpolate_bracketed,
    lowpass,
    to_common_time_base,
)
from gait.recording import Recording


def _rec(n: int = 50, sensors: int = 2) -> Recording:
    acc = np.zeros((sensors, n, 3))
    acc[..., 2] = 9.81
    return Recording(
        acc_mps2=acc,
        gyr_dps=np.zeros((sensors, n, 3)),
        sampling_rate_hz=100,
        placements=("pelvis", "left_thigh"),
    )


def test_arrays_are_read_only_copies() -> None:
    acc = np.zeros((1, 10, 3))
    rec = Recording(acc_mps2=acc, gyr_dps=np.zeros((1, 10, 3)), sampling_rate_hz=50, placements=("pelvis",))
    acc[0, 0, 0] = 5.0
    assert rec.acc_mps2[0, 0, 0] == 0.0
    with pytest.raises(ValueError):
        rec.acc_mps2[0, 0, 0] = 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"acc_mps2": np.zeros((10, 3))}, "acc_mps2: expected shape"),
        ({"gyr_dps": np.zeros((2, 9, 3))}, "gyr_dps: expected the shape"),
        ({"placements": ("pelvis",)}, "placements: expected 2 names"),
        ({"placements": ("pelvis", "pelvis")}, "unique"),
        ({"sampling_rate_hz": 0}, "sampling_rate_hz"),
        ({"frame": "world"}, "frame"),
        ({"valid": np.ones((2, 3), dtype=bool)}, "valid: expected shape"),
    ],
)
def test_constructor_names_the_bad_argument(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "acc_mps2": np.zeros((2, 10, 3)),
        "gyr_dps": np.zeros((2, 10, 3)),
        "sampling_rate_hz": 100,
        "placements": ("pelvis", "left_thigh"),
    }
    base.update(kwargs)
    with pytest.raises(RecordingError, match=message):
        Recording(**base)  # type: ignore[arg-type]


def test_nan_marked_valid_is_rejected_and_nan_default_is_a_gap() -> None:
    acc = np.zeros((1, 5, 3))
    acc[0, 2, 1] = np.nan
    rec = Recording(acc_mps2=acc, gyr_dps=np.zeros((1, 5, 3)), sampling_rate_hz=10, placements=("pelvis",))
    assert rec.valid.tolist() == [[True, True, False, True, True]]
    with pytest.raises(RecordingError, match="sample 2 of sensor 'pelvis' is marked valid"):
        Recording(
            acc_mps2=acc, gyr_dps=np.zeros((1, 5, 3)), sampling_rate_hz=10, placements=("pelvis",),
            valid=np.ones((1, 5), dtype=bool),
        )  # fmt: skip


def test_implausible_values_name_the_units() -> None:
    acc = np.zeros((1, 5, 3))
    acc[0, 3, 0] = 1e4
    with pytest.raises(RecordingError, match="check the units"):
        Recording(acc_mps2=acc, gyr_dps=np.zeros((1, 5, 3)), sampling_rate_hz=10, placements=("pelvis",))


def test_select_slice_and_index() -> None:
    rec = _rec()
    sub = rec.select(["left_thigh"]).slice(10, 20)
    assert sub.placements == ("left_thigh",)
    assert sub.n_samples == 10
    assert sub.start_time_s == pytest.approx(0.1)
    with pytest.raises(RecordingError, match="no sensor 'right_thigh'"):
        rec.index("right_thigh")


def test_common_time_base_keeps_gaps_and_aligns_rates() -> None:
    t = np.arange(0, 10, 0.01)
    keep = np.ones(t.size, dtype=bool)
    keep[300:350] = False  # 0.5 s lost
    sig = np.stack([np.sin(t), np.cos(t), 9.81 + 0 * t], axis=-1)
    fast_t = np.arange(0, 10, 0.005)
    fast = np.stack([np.sin(fast_t), np.cos(fast_t), 9.81 + 0 * fast_t], axis=-1)
    rec = to_common_time_base(
        [
            SensorStream("pelvis", t[keep], sig[keep], sig[keep]),
            SensorStream("left_thigh", fast_t, fast, fast),
        ],
        sampling_rate_hz=100,
    )
    assert rec.sampling_rate_hz == 100
    p, th = rec.index("pelvis"), rec.index("left_thigh")
    assert not rec.valid[p, 300:350].any()
    assert rec.valid[p, :300].all() and rec.valid[p, 350:1000].all()
    np.testing.assert_allclose(rec.acc_mps2[p, :300], sig[:300], atol=1e-9)
    np.testing.assert_allclose(rec.acc_mps2[th, 100:900, 0], np.sin(t[100:900]), atol=2e-3)


def test_interpolate_bracketed_leaves_wide_gaps_unbridged() -> None:
    t_s = np.arange(0, 100) * 0.01
    t_s = t_s[(t_s < 0.295) | (t_s > 0.505)]  # samples 0.30 ... 0.50 lost: a 0.22 s interval
    x = np.stack([t_s, 2.0 * t_s, -t_s], axis=-1)  # linear, so interpolation is exact
    target_s = np.arange(0, 99) * 0.01 + 0.005
    values, ok = interpolate_bracketed(t_s, x, target_s, max_gap_s=0.015)
    in_gap = (target_s > 0.29) & (target_s < 0.51)
    assert not ok[in_gap].any() and np.isnan(values[in_gap]).all()
    assert ok[~in_gap].all()
    np.testing.assert_allclose(values[~in_gap], np.stack([target_s, 2 * target_s, -target_s], -1)[~in_gap])
    # The same gap is bridged once max_gap_s allows it.
    _, ok_wide = interpolate_bracketed(t_s, x, target_s, max_gap_s=0.25)
    assert ok_wide.all()


def test_interpolate_bracketed_keeps_exact_hits_across_a_gap() -> None:
    t_s = np.array([0.0, 0.01, 0.02, 0.5, 0.51])
    x = np.arange(10.0).reshape(5, 2)
    tol_s = 1e-5
    target_s = np.array([0.02, 0.5, 0.02 + 0.5 * tol_s, 0.5 - 0.5 * tol_s, 0.02 + 2 * tol_s, 0.5 - 2 * tol_s, 0.3])
    values, ok = interpolate_bracketed(t_s, x, target_s, max_gap_s=0.015, tol_s=tol_s)
    assert ok.tolist() == [True, True, True, True, False, False, False]
    np.testing.assert_array_equal(values[:4], x[[2, 3, 2, 3]])  # the sample itself, not a blend across the gap
    assert np.isnan(values[4:]).all()
    # Exact hits need no tolerance; the ends are hits too, nothing beyond them is extrapolated.
    values0, ok0 = interpolate_bracketed(t_s, x, np.array([0.0, 0.02, 0.5, 0.51, -1e-9, 0.51 + 1e-9]), max_gap_s=0.015)
    assert ok0.tolist() == [True, True, True, True, False, False]
    np.testing.assert_array_equal(values0[:4], x[[0, 2, 3, 4]])


@pytest.mark.parametrize("n_samples", [0, 1])
def test_interpolate_bracketed_needs_two_samples(n_samples: int) -> None:
    t_s = np.array([0.5, 0.6])[:n_samples]
    values, ok = interpolate_bracketed(
        t_s, np.ones((n_samples, 3)), np.array([0.4, 0.5, 0.6]), max_gap_s=1.0, tol_s=0.1
    )
    assert ok.shape == (3,) and not ok.any()
    assert values.shape == (3, 3) and np.isnan(values).all()


def test_sensor_stream_rejects_time_going_backwards() -> None:
    t = np.array([0.0, 0.01, 0.02, 0.015])
    with pytest.raises(RecordingError, match="sample 3"):
        SensorStream("pelvis", t, np.zeros((4, 3)), np.zeros((4, 3)))


def test_bridgeable_marks_only_short_interior_gaps_and_bridge_fills_all() -> None:
    x = np.arange(20.0)[:, None] * np.ones((1, 3))
    valid = np.ones(20, dtype=bool)
    valid[[0, 5, 6, 10, 11, 12, 13, 14]] = False
    usable = bridgeable(valid, max_gap_samples=2)
    assert usable.tolist() == [not v for v in [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]]
    filled = bridge_gaps(x, valid)
    np.testing.assert_allclose(filled[1:, 0], np.arange(1.0, 20.0))  # interior gaps: linear
    assert filled[0, 0] == 1.0  # leading edge holds the first valid value
    assert np.array_equal(x[valid], filled[valid])


def test_lowpass_vectorised_matches_per_slice_loop() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 500, 3))
    batch = lowpass(x, 5.0, 100.0, axis=-2)
    for i in range(4):
        for k in range(3):
            np.testing.assert_allclose(batch[i, :, k], lowpass(x[i, :, k], 5.0, 100.0, axis=-1), atol=1e-12)
