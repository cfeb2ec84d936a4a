"""Pelvis and hip kinematics against simulated walkers with known truth."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gait.kinematics import KinematicsEstimator
from gait.orientation import OrientationEstimator, level_over_strides, quat_multiply
from gait.pipeline import GaitPipeline, GaitResult
from gait.preprocess import time_normalize
from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording
from hardware.simulator.walker import DEFAULT_SCHEDULE, SimulatedSession, WalkerParams, simulate_session


@cache
def session(standing: bool = True, seed: int = 3) -> SimulatedSession:
    params = WalkerParams(hip_peak_extension_right_deg=4.0, mean_tilt_deg=3.0)
    schedule = DEFAULT_SCHEDULE if standing else tuple(s for s in DEFAULT_SCHEDULE if s.kind != "stand")
    return simulate_session(params, schedule=schedule, random_mounting=True, seed=seed)


@cache
def analysed(standing: bool = True) -> GaitResult:
    return GaitPipeline(height_m=1.75).run(session(standing).recording)


def _truth_per_stride(result: GaitResult, sim: SimulatedSession) -> np.ndarray:
    k = result.kinematics
    assert k is not None
    t = sim.truth
    series = np.concatenate([t.pelvis_angles_deg, t.hip_flexion_deg.T], axis=-1)
    return time_normalize(series, k.strides.start_idx, k.strides.stop_idx, n_points=101, endpoint=True)


def test_angles_match_truth_with_standing_calibration() -> None:
    result, sim = analysed(True), session(True)
    k = result.kinematics
    assert k is not None and k.mean_tilt_available and all(k.hip_absolute_available)
    st = k.strides
    tc = _truth_per_stride(result, sim)
    used = st.pelvis_used
    assert used.sum() >= 40
    assert np.median(np.abs(st.tilt_rom_deg[used] - np.ptp(tc[used][..., 0], axis=1))) < 1.0
    assert np.median(np.abs(st.obliquity_rom_deg[used] - np.ptp(tc[used][..., 1], axis=1))) < 1.0
    assert abs(np.median(st.mean_tilt_deg[used]) - 3.0) < 1.0
    for row, true_ext in ((0, 10.0), (1, 4.0)):
        sel = st.hip_used & (st.side == row)
        assert sel.sum() >= 15
        assert abs(np.median(st.hip_peak_extension_deg[sel]) - true_ext) < 1.5
        assert abs(np.median(st.hip_sagittal_rom_deg[sel]) - (30.0 + true_ext)) < 1.5
    # The pelvic contribution to limb extension is the anterior tilt at peak extension: a few degrees here.
    assert 0.0 < np.nanmedian(st.pelvic_contribution_deg[st.hip_used]) < 6.0


def test_without_standing_ranges_are_reported_but_not_absolute_angles() -> None:
    result = analysed(False)
    k = result.kinematics
    assert k is not None
    assert not k.mean_tilt_available and k.hip_available == (True, True) and k.hip_absolute_available == (False, False)
    st = k.strides
    assert np.isnan(st.hip_peak_extension_deg).all() and np.isnan(st.mean_tilt_deg).all()
    right = st.hip_used & (st.side == 1)
    assert abs(np.median(st.hip_sagittal_rom_deg[right]) - 34.0) < 1.5
    assert any("no quiet standing" in w for w in result.warnings)


def test_pelvis_only_recording_gives_pelvis_angles_and_a_warning() -> None:
    rec = session(True).recording.select([PELVIS])
    result = GaitPipeline(height_m=1.75).run(rec)
    k = result.kinematics
    assert k is not None and k.pelvis_available and k.hip_available == (False, False)
    assert np.isfinite(k.pelvis_deg).all() and np.isnan(k.hip_flexion_deg).all()
    assert any("no thigh sensors" in w for w in result.warnings)


def _relabel(rec: Recording, names: tuple[str, ...]) -> Recording:
    return dataclasses.replace(rec, placements=names)


def test_swapped_thigh_files_are_detected_and_exchanged() -> None:
    rec = session(True).recording
    swapped = _relabel(rec, tuple({LEFT_THIGH: RIGHT_THIGH, RIGHT_THIGH: LEFT_THIGH}.get(p, p) for p in rec.placements))
    result = GaitPipeline(height_m=1.75).run(swapped)
    k = result.kinematics
    assert k is not None and k.thighs_swapped
    assert any("swapped" in w for w in result.warnings)
    right = k.strides.hip_used & (k.strides.side == 1)
    assert abs(np.median(k.strides.hip_peak_extension_deg[right]) - 4.0) < 1.5


def test_a_thigh_sensor_that_slips_is_detected_and_its_strides_excluded() -> None:
    rec = session(True).recording
    i = rec.index(LEFT_THIGH)
    slip_idx = rec.n_samples * 3 // 5
    turn = Rotation.from_euler("x", 30.0, degrees=True)  # the strap rotated 30° around the sensor's x axis
    acc = np.array(rec.acc_mps2)
    gyr = np.array(rec.gyr_dps)
    acc[i, slip_idx:] = turn.apply(acc[i, slip_idx:])
    gyr[i, slip_idx:] = turn.apply(gyr[i, slip_idx:])
    result = GaitPipeline(height_m=1.75).run(dataclasses.replace(rec, acc_mps2=acc, gyr_dps=gyr))
    k = result.kinematics
    assert k is not None
    st = k.strides
    left_after = (st.side == 0) & (st.start_idx > slip_idx + 100) & st.pelvis_used
    assert left_after.sum() >= 5
    moved = np.array([r == "thigh sensor moved" for r in st.hip_reason])
    assert moved[left_after].mean() > 0.8
    assert not moved[(st.side == 0) & (st.stop_idx < slip_idx)].any()
    assert any("left thigh sensor sat differently" in w for w in result.warnings)


def test_orientation_in_chunks_equals_one_call() -> None:
    rec = session(True).recording
    acc, gyr, fs = rec.acc_mps2[0], rec.gyr_dps[0], rec.sampling_rate_hz
    est = OrientationEstimator()
    whole = est.estimate(acc, gyr, fs)
    parts, state = [], None
    for a in range(0, rec.n_samples, 700):
        out = est.estimate(acc[a : a + 700], gyr[a : a + 700], fs, state=state)
        parts.append(out.quat_xyzw)
        state = out.state
    chunked = np.concatenate(parts)
    angle_deg = np.degrees((Rotation.from_quat(chunked).inv() * Rotation.from_quat(whole.quat_xyzw)).magnitude())
    assert angle_deg.max() < 1e-6


def test_streamed_orientation_gives_the_same_per_stride_angles() -> None:
    """The live path: filter state carried across chunks, angles of a window analysed with the same calibration."""
    result, sim = analysed(True), session(True)
    k = result.kinematics
    assert k is not None
    rec = sim.recording
    fs = rec.sampling_rate_hz
    est = KinematicsEstimator()
    acc = {name: rec.acc_mps2[rec.index(name)] for name in rec.placements}
    gyr = {name: rec.gyr_dps[rec.index(name)] for name in rec.placements}
    streamed: dict[str, list[np.ndarray]] = {name: [] for name in rec.placements}
    states: dict = {}
    for a in range(0, rec.n_samples, 512):
        chunk = est.orientations(
            {n: v[a : a + 512] for n, v in acc.items()}, {n: v[a : a + 512] for n, v in gyr.items()}, fs, states=states
        )
        states = {n: o.state for n, o in chunk.items()}
        for n, o in chunk.items():
            streamed[n].append(o.quat_xyzw)
    one_call = est.orientations(acc, gyr, fs)
    stream = {n: dataclasses.replace(one_call[n], quat_xyzw=np.concatenate(streamed[n])) for n in rec.placements}
    st = k.strides
    usable = {n: np.ones(rec.n_samples, dtype=bool) for n in rec.placements}
    args = dict(
        calibrations=k.calibrations,
        stride_start_idx=st.start_idx,
        stride_stop_idx=st.stop_idx,
        stride_side=st.side,
        stride_straight=np.array([r != "turn" for r in st.pelvis_reason]),
        stride_bout=np.zeros(st.start_idx.size, dtype=np.int64),
        usable=usable,
        ic_idx=result.ic_idx,
        ic_side=result.side,
    )
    a = est.run(acc, gyr, fs, orientations=one_call, **args)
    b = est.run(acc, gyr, fs, orientations=stream, **args)
    for name in ("tilt_rom_deg", "obliquity_rom_deg", "hip_peak_extension_deg", "hip_sagittal_rom_deg"):
        x, y = getattr(a.strides, name), getattr(b.strides, name)
        finite = np.isfinite(x)
        assert finite.any()
        assert np.max(np.abs(x[finite] - y[finite])) < 0.1, name


def test_levelling_matches_a_per_sample_loop() -> None:
    rng = np.random.default_rng(0)
    n, window = 400, 50
    quat = Rotation.from_rotvec(rng.normal(0, 0.1, (n, 3))).as_quat()
    acc = rng.normal(0, 1, (n, 3)) + np.array([0.0, 0.0, 9.81])
    fast = level_over_strides(quat, acc, window)
    earth = Rotation.from_quat(quat).apply(acc)
    half = window // 2
    for i in range(0, n, 37):
        idx = np.clip(np.arange(i - half, i - half + window), 0, n - 1)  # uniform_filter1d's centring, edges held
        mean = earth[idx].mean(axis=0)
        corr, _ = Rotation.align_vectors([[0, 0, 1]], [mean / np.linalg.norm(mean)])
        expected = corr * Rotation.from_quat(quat[i])
        got = Rotation.from_quat(fast[i])
        assert np.degrees((expected.inv() * got).magnitude()) < 1e-6
        assert np.allclose(corr.apply(mean), [0, 0, np.linalg.norm(mean)], atol=1e-9)


@pytest.mark.parametrize("n_points", [11, 101])
def test_time_normalize_endpoint_matches_a_loop(n_points: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    start = np.array([0, 40, 120])
    stop = np.array([110, 151, 299])
    fast = time_normalize(x, start, stop, n_points=n_points, endpoint=True)
    for j, (a, b) in enumerate(zip(start, stop, strict=True)):
        pos = np.linspace(a, b, n_points)
        for col in range(2):
            assert np.allclose(fast[j, :, col], np.interp(pos, np.arange(300), x[:, col]))


def test_quat_multiply_matches_scipy_composition() -> None:
    a = Rotation.random(50, random_state=0)
    b = Rotation.random(50, random_state=1)
    fast = Rotation.from_quat(quat_multiply(a.as_quat(), b.as_quat()))
    for i in range(50):
        assert np.degrees(((a[i] * b[i]).inv() * fast[i]).magnitude()) < 1e-9
    single = Rotation.random(random_state=2)
    broadcast = Rotation.from_quat(quat_multiply(a.as_quat(), single.as_quat()))
    assert np.degrees(((a * single).inv() * broadcast).magnitude()).max() < 1e-9
