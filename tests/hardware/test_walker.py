"""Tests of the walking-body simulator: physics consistency, ground truth, presets, and realism vs real recordings."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import signal
from scipy.spatial.transform import Rotation

from gait.frames import GRAVITY_MPS2
from gait.recording import Recording
from hardware.simulator import (
    DEFAULT_SCHEDULE,
    PRESETS,
    Segment,
    SimulatedSession,
    SimulatorError,
    WalkerParams,
    antalgic,
    anterior_tilt_compensation,
    body_angular_velocity_dps,
    default_mounting,
    healthy,
    pelvic_drop,
    pendulum_excursion_m,
    reduced_hip_extension,
    sample_linear,
    simulate_session,
    slow_short_steps,
)

FS_HZ = 100.0
DATASETS = Path(__file__).parents[2].parent / "shared" / "datasets"
SHORT = (
    Segment(kind="stand", duration_s=2.0),
    Segment(kind="walk", duration_s=14.0),
    Segment(kind="stand", duration_s=2.0),
)


def clean(params: WalkerParams, **changes: float) -> WalkerParams:
    """The same subject with ideal sensors (no noise, bias, drift or scale error)."""
    return dataclasses.replace(
        params,
        acc_noise_mps2=0.0,
        gyr_noise_dps=0.0,
        acc_bias_mps2=0.0,
        gyr_bias_dps=0.0,
        gyr_bias_drift_dps_per_sqrt_s=0.0,
        scale_error=0.0,
        **changes,
    )


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session(healthy(), seed=1)


@pytest.fixture(scope="module")
def clean_session() -> SimulatedSession:
    return simulate_session(clean(healthy()), seed=1)


def all_ics(
    truth_left: NDArray[np.int64], truth_right: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    idx = np.concatenate([truth_left, truth_right])
    is_left = np.concatenate([np.ones(truth_left.size, bool), np.zeros(truth_right.size, bool)])
    order = np.argsort(idx, kind="stable")
    return idx[order], is_left[order]


def steady_window(s: SimulatedSession, which: int = 0) -> tuple[int, int]:
    """Sample range of the ``which``-th straight walking part, without its first and last two strides."""
    t = s.truth
    straight = t.walking & ~t.turning
    edges = np.flatnonzero(np.diff(np.concatenate([[0], straight.view(np.int8), [0]])))
    starts, stops = edges[::2], edges[1::2]
    a, b = int(starts[which]), int(stops[which])
    ics, _ = all_ics(t.ic_left_idx, t.ic_right_idx)
    inside = ics[(ics >= a) & (ics < b)]
    return int(inside[4]), int(inside[-5])


def segment_orientation(s: SimulatedSession) -> Rotation:
    """True pelvis orientation (segment to world) rebuilt from the truth angles and heading."""
    t = s.truth
    angles = t.pelvis_angles_deg
    return Rotation.from_euler(
        "ZXY", np.stack([t.heading_deg + angles[:, 2], angles[:, 1], angles[:, 0]], axis=-1), degrees=True
    )


# ------------------------------------------------------------------------------------------------ standing
def test_standing_is_gravity_only_with_ideal_sensors(clean_session: SimulatedSession) -> None:
    rec = clean_session.recording
    still = slice(20, 280)  # inside the first 3 s stand
    norm = np.linalg.norm(rec.acc_mps2[:, still], axis=-1)
    np.testing.assert_allclose(norm, GRAVITY_MPS2, atol=1e-6)
    np.testing.assert_allclose(rec.gyr_dps[:, still], 0.0, atol=1e-6)


def test_standing_with_sensor_errors_stays_within_error_budget(session: SimulatedSession) -> None:
    rec, p = session.recording, session.params
    still = slice(20, 280)
    norm = np.linalg.norm(rec.acc_mps2[:, still].mean(axis=1), axis=-1)
    budget = 5 * (p.acc_bias_mps2 + p.scale_error * GRAVITY_MPS2)
    assert np.all(np.abs(norm - GRAVITY_MPS2) < budget)
    gyr = rec.gyr_dps[:, still]
    assert np.all(np.abs(gyr.mean(axis=1)) < 5 * p.gyr_bias_dps)
    np.testing.assert_allclose(gyr.std(axis=1), p.gyr_noise_dps, rtol=0.3)
    np.testing.assert_allclose(rec.acc_mps2[:, still].std(axis=1), p.acc_noise_mps2, rtol=0.3)


def test_gravity_direction_follows_mounting() -> None:
    s = simulate_session(clean(healthy()), schedule=SHORT, random_mounting=True, seed=7)
    up_mps2 = np.array([0.0, 0.0, GRAVITY_MPS2])
    for k, name in enumerate(s.recording.placements):
        expected = s.mounting[name].inv().apply(up_mps2)  # segment "up" seen in the sensor frame
        measured = s.recording.acc_mps2[k, 20:180].mean(axis=0)
        np.testing.assert_allclose(measured, expected, atol=1e-6)
    assert not np.allclose(s.mounting["pelvis"].as_matrix(), default_mounting()["pelvis"].as_matrix())


def test_default_mounting_puts_sensor_x_up(clean_session: SimulatedSession) -> None:
    acc = clean_session.recording.acc_mps2[:, 100]
    np.testing.assert_allclose(acc, np.tile([GRAVITY_MPS2, 0.0, 0.0], (3, 1)), atol=1e-6)
    for rot in default_mounting().values():
        assert np.isclose(np.linalg.det(rot.as_matrix()), 1.0)


# ------------------------------------------------------------------------------------------------- events
def test_initial_contacts_alternate_and_final_contacts_interleave(session: SimulatedSession) -> None:
    t = session.truth
    ics, is_left = all_ics(t.ic_left_idx, t.ic_right_idx)
    assert ics.size > 60
    assert np.all(is_left[1:] != is_left[:-1])
    assert np.all(np.diff(ics) > 0)
    # Each side's FC lies between its previous IC and its next IC, after the opposite IC (double support).
    for own_ic, own_fc, other_ic in (
        (t.ic_left_idx, t.fc_left_idx, t.ic_right_idx),
        (t.ic_right_idx, t.fc_right_idx, t.ic_left_idx),
    ):
        assert own_fc.size == own_ic.size
        assert np.all(own_fc < own_ic)
        assert np.all(own_fc[1:] > own_ic[:-1])
        after = np.searchsorted(other_ic, own_fc)  # first opposite IC after each FC
        before = other_ic[np.clip(after - 1, 0, None)]
        assert np.all(before[1:] > own_ic[:-1][: before.size - 1])  # opposite IC came before this FC
    assert t.walking[ics].all()


def test_cadence_from_truth_events_matches_params(session: SimulatedSession) -> None:
    t = session.truth
    for which in (0, 1):
        a, b = steady_window(session, which)
        ics, _ = all_ics(t.ic_left_idx, t.ic_right_idx)
        ics = ics[(ics >= a) & (ics <= b)]
        cadence = 60.0 * (ics.size - 1) / ((ics[-1] - ics[0]) / FS_HZ)
        assert cadence == pytest.approx(session.params.steady_cadence_spm, rel=0.02)
    assert t.cadence_spm == pytest.approx(session.params.steady_cadence_spm)


@pytest.mark.parametrize("params", [healthy(), antalgic(side="right"), antalgic(side="left")])
def test_stance_fraction_and_step_time_ratio_from_truth_events(params: WalkerParams) -> None:
    s = simulate_session(params, schedule=SHORT, seed=3)
    t = s.truth
    for ic, fc, expected in (
        (t.ic_left_idx, t.fc_left_idx, params.stance_fraction_left),
        (t.ic_right_idx, t.fc_right_idx, params.stance_fraction_right),
    ):
        stance = (fc[1:] - ic[:-1]) / (ic[1:] - ic[:-1])
        assert np.median(stance) == pytest.approx(expected, abs=0.015)
    ics, is_left = all_ics(t.ic_left_idx, t.ic_right_idx)
    steps = np.diff(ics)
    ends_left = is_left[1:]
    ratio = np.median(steps[ends_left]) / np.median(steps[~ends_left])
    assert ratio == pytest.approx(params.step_time_ratio, abs=0.04)
    ds_fraction = params.stance_fraction_left + params.stance_fraction_right - 1.0
    assert ds_fraction > 0


def test_step_length_cadence_and_speed_agree(session: SimulatedSession) -> None:
    t, p = session.truth, session.params
    assert t.step_length_m * t.cadence_spm / 60.0 == pytest.approx(p.speed_mps, rel=1e-9)
    assert t.stride_length_m * t.cadence_spm / 120.0 == pytest.approx(p.speed_mps, rel=1e-9)
    a, b = steady_window(session)
    assert np.mean(t.speed_mps[a:b]) == pytest.approx(p.speed_mps, rel=0.02)
    # Distance walked in the first straight part, from the truth speed, over the truth ICs: step length.
    ics, _ = all_ics(t.ic_left_idx, t.ic_right_idx)
    ics = ics[(ics >= a) & (ics <= b)]
    distance_m = np.sum(t.speed_mps[ics[0] : ics[-1]]) / FS_HZ
    assert distance_m / (ics.size - 1) == pytest.approx(t.step_length_m, rel=0.03)


def test_speed_cadence_relation_is_realistic() -> None:
    # Walk ratio ≈ 0.0061 m/(steps/min) for 1.75 m: ≈ 111 steps/min and ≈ 0.68 m at 1.25 m/s.
    p = healthy()
    assert 100 < p.steady_cadence_spm < 118
    assert 0.62 < p.steady_step_length_m < 0.76
    slow = slow_short_steps()
    assert slow.steady_cadence_spm < p.steady_cadence_spm
    assert slow.steady_step_length_m < p.steady_step_length_m
    given_cadence = WalkerParams(cadence_spm=120.0)
    assert given_cadence.steady_step_length_m == pytest.approx(60 * 1.25 / 120)


# ------------------------------------------------------------------------------------- physics consistency
def integrate_body_rates(start: Rotation, gyr_dps: NDArray[np.float64], fs_hz: float) -> Rotation:
    """Orientation from body rates: R_{k+1} = R_k exp(ω_{k+½} dt), midpoint rates."""
    mid = 0.5 * (gyr_dps[1:] + gyr_dps[:-1])
    steps = Rotation.from_rotvec(np.radians(mid) / fs_hz)
    out = [start]
    for step in steps:  # a few thousand samples
        out.append(out[-1] * step)
    return Rotation.concatenate(out)


@pytest.mark.parametrize("transients", [0.0, 1.0])
def test_integrated_pelvis_gyro_reproduces_truth_angle_roms(transients: float) -> None:
    s = simulate_session(clean(healthy(), contact_transient_scale=transients), schedule=SHORT, seed=2)
    t = s.truth
    a, b = steady_window(s)
    truth_rot = segment_orientation(s)
    # (copy: scipy Rotation.apply rejects the read-only arrays of a Recording)
    gyr_segment = s.mounting["pelvis"].apply(np.array(s.recording.gyr_dps[0, a:b]))  # sensor -> segment frame
    estimate = integrate_body_rates(truth_rot[a], gyr_segment, FS_HZ)
    heading = Rotation.from_euler("Z", t.heading_deg[a:b, None], degrees=True)
    rot, obl, tilt = (heading.inv() * estimate).as_euler("ZXY", degrees=True).T
    est_rom = np.ptp(np.stack([tilt, obl, rot], axis=-1), axis=0)
    true_rom = np.ptp(t.pelvis_angles_deg[a:b], axis=0)
    np.testing.assert_allclose(est_rom, true_rom, atol=0.5)
    np.testing.assert_allclose(true_rom, [3.0, 8.0, 10.0], atol=0.3)  # 2 × the default amplitudes


def test_double_integrated_vertical_acceleration_gives_pendulum_excursion(clean_session: SimulatedSession) -> None:
    s = clean_session
    t = s.truth
    a, b = steady_window(s)
    sensor_to_world = segment_orientation(s) * s.mounting["pelvis"]
    vertical = sensor_to_world.apply(np.array(s.recording.acc_mps2[0]))[:, 2] - GRAVITY_MPS2
    sos = signal.butter(2, [0.5, 10.0], btype="band", fs=FS_HZ, output="sos")
    hp = signal.butter(2, 0.5, btype="high", fs=FS_HZ, output="sos")
    velocity = signal.sosfiltfilt(hp, np.cumsum(signal.sosfiltfilt(sos, vertical)) / FS_HZ)
    position = signal.sosfiltfilt(hp, np.cumsum(velocity) / FS_HZ)
    ics, _ = all_ics(t.ic_left_idx, t.ic_right_idx)
    ics = ics[(ics >= a) & (ics <= b)]
    excursion = np.median([np.ptp(position[i:j]) for i, j in itertools.pairwise(ics)])
    expected = float(
        pendulum_excursion_m(
            step_length_m=t.step_length_m, sensor_height_m=t.sensor_height_m, pendulum_k=s.params.pendulum_k
        )
    )
    assert 0.03 < expected < 0.05
    assert excursion == pytest.approx(expected, rel=0.2)
    assert t.vertical_excursion_m == pytest.approx(expected)


def test_thigh_inclination_is_hip_flexion_minus_tilt(session: SimulatedSession) -> None:
    t = session.truth
    a, b = steady_window(session)
    approx = t.hip_flexion_deg[:, a:b] - t.pelvis_angles_deg[None, a:b, 0]
    np.testing.assert_allclose(t.thigh_inclination_deg[:, a:b], approx, atol=1.5)
    np.testing.assert_allclose(t.hip_flexion_deg[:, a:b].max(axis=1), 30.0, atol=0.2)
    np.testing.assert_allclose(t.hip_flexion_deg[:, a:b].min(axis=1), -10.0, atol=0.2)


def test_hip_peak_extension_in_late_stance(session: SimulatedSession) -> None:
    t = session.truth
    a, b = steady_window(session)
    ic = t.ic_left_idx[(t.ic_left_idx >= a) & (t.ic_left_idx < b)]
    fc = t.fc_left_idx[np.searchsorted(t.fc_left_idx, ic[:-1])]
    peak_ext = np.array([i + np.argmin(t.hip_flexion_deg[0, i:j]) for i, j in itertools.pairwise(ic)])
    phase_ext = (peak_ext - ic[:-1]) / np.diff(ic)
    phase_fc = (fc - ic[:-1]) / np.diff(ic)
    assert np.all((phase_ext > 0.4) & (phase_ext < phase_fc))


def test_gait_initiation_and_termination_ramp_smoothly(clean_session: SimulatedSession) -> None:
    t = clean_session.truth
    start = int(np.argmax(t.walking))
    stop = t.walking.size - int(np.argmax(t.walking[::-1]))
    assert t.speed_mps[start] < 0.2
    assert t.speed_mps[start + 300] > 0.95 * clean_session.params.speed_mps
    assert t.speed_mps[stop - 1] < 0.3
    first_step_s = (min(t.ic_left_idx[0], t.ic_right_idx[0]) - start) / FS_HZ
    assert 0.3 < first_step_s < 1.0
    # No jump: sample-to-sample changes of the sacral acceleration stay below the steady walking ones.
    acc = clean_session.recording.acc_mps2[0]
    a, b = steady_window(clean_session)
    steady_jump = np.abs(np.diff(acc[a:b], axis=0)).max()
    ramp_jump = np.abs(np.diff(acc[start - 50 : start + 100], axis=0)).max()
    assert ramp_jump < steady_jump


def test_turn_changes_heading_at_lower_speed(session: SimulatedSession) -> None:
    t = session.truth
    assert t.heading_deg[0] == pytest.approx(0.0)
    assert t.heading_deg[-1] == pytest.approx(180.0)
    turning = np.flatnonzero(t.turning)
    assert turning.size == pytest.approx(300, abs=1)
    assert np.all(t.walking[turning])
    mid = turning[turning.size // 2]
    assert t.speed_mps[mid] < 0.8 * session.params.speed_mps
    yaw_rate = session.recording.gyr_dps[0, mid, 0]  # default pelvis sensor x = up
    assert yaw_rate > 60.0  # turning left (counter-clockwise) at ≈ 90°/s


# ---------------------------------------------------------------------------------------------- presets
def steady_truth(params: WalkerParams) -> tuple[SimulatedSession, slice]:
    s = simulate_session(params, schedule=SHORT, seed=4)
    a, b = steady_window(s)
    return s, slice(a, b)


def test_presets_exist_and_build() -> None:
    assert set(PRESETS) == {
        "healthy",
        "reduced_hip_extension",
        "anterior_tilt_compensation",
        "pelvic_drop",
        "antalgic",
        "slow_short_steps",
    }
    for make in PRESETS.values():
        assert isinstance(make(), WalkerParams)


def test_reduced_hip_extension_preset() -> None:
    s, w = steady_truth(reduced_hip_extension(side="right"))
    hip = s.truth.hip_flexion_deg[:, w]
    assert hip[1].min() == pytest.approx(0.0, abs=0.3)
    assert hip[0].min() == pytest.approx(-10.0, abs=0.3)


def test_anterior_tilt_compensation_keeps_thigh_extension() -> None:
    s, w = steady_truth(anterior_tilt_compensation())
    h, hw = steady_truth(healthy())
    assert np.mean(s.truth.pelvis_angles_deg[w, 0]) == pytest.approx(6.0, abs=0.3)
    assert s.truth.hip_flexion_deg[:, w].min() == pytest.approx(-4.0, abs=0.3)
    # Thigh extension (≈ hip − tilt) is preserved: the pelvis supplies what the hips lack.
    np.testing.assert_allclose(
        s.truth.thigh_inclination_deg[:, w].min(axis=1), h.truth.thigh_inclination_deg[:, hw].min(axis=1), atol=1.5
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_pelvic_drop_preset_drops_contralateral_side(side: str) -> None:
    s, w = steady_truth(pelvic_drop(side=side))  # type: ignore[arg-type]
    obliquity = s.truth.pelvis_angles_deg[w, 1]
    # Left single support: right side drops = obliquity more positive (left side up).
    if side == "left":
        assert obliquity.max() == pytest.approx(4.0 + 5.0, abs=1.5)
        assert obliquity.min() == pytest.approx(-4.0, abs=0.5)
    else:
        assert obliquity.min() == pytest.approx(-4.0 - 5.0, abs=1.5)
        assert obliquity.max() == pytest.approx(4.0, abs=0.5)


def test_obliquity_and_rotation_phase_conventions(session: SimulatedSession) -> None:
    t = session.truth
    a, b = steady_window(session)
    left_ic = t.ic_left_idx[(t.ic_left_idx >= a) & (t.ic_left_idx < b)]
    right_ic = t.ic_right_idx[(t.ic_right_idx >= a) & (t.ic_right_idx < b)]
    # Rotation: the leading leg's side is forward at its IC (left forward = clockwise = negative).
    assert np.all(t.pelvis_angles_deg[left_ic, 2] < -3.0)
    assert np.all(t.pelvis_angles_deg[right_ic, 2] > 3.0)
    # Obliquity: stance side up (contralateral drop) in the loading response.
    assert np.all(t.pelvis_angles_deg[left_ic + 12, 1] > 2.5)
    assert np.all(t.pelvis_angles_deg[right_ic + 12, 1] < -2.5)


def test_slow_short_steps_preset() -> None:
    s, w = steady_truth(slow_short_steps())
    assert s.truth.cadence_spm < 90
    assert np.mean(s.truth.speed_mps[w]) == pytest.approx(0.7, rel=0.03)


# ------------------------------------------------------------------------------------ API and validation
def test_identical_inputs_give_identical_outputs() -> None:
    one = simulate_session(healthy(), schedule=SHORT, seed=11)
    two = simulate_session(healthy(), schedule=SHORT, seed=11)
    other = simulate_session(healthy(), schedule=SHORT, seed=12)
    np.testing.assert_array_equal(one.recording.acc_mps2, two.recording.acc_mps2)
    np.testing.assert_array_equal(one.recording.gyr_dps, two.recording.gyr_dps)
    np.testing.assert_array_equal(one.truth.ic_left_idx, two.truth.ic_left_idx)
    assert not np.array_equal(one.recording.acc_mps2, other.recording.acc_mps2)


def test_recording_shape_placements_and_rates() -> None:
    s = simulate_session(healthy(), schedule=SHORT, sampling_rate_hz=60.0, placements=("right_thigh", "pelvis"))
    rec = s.recording
    assert isinstance(rec, Recording)
    assert rec.placements == ("right_thigh", "pelvis")
    assert rec.frame == "sensor"
    assert rec.acc_mps2.shape == (2, round(18.0 * 60.0), 3)
    assert rec.valid.all()
    assert s.truth.pelvis_angles_deg.shape == (rec.n_samples, 3)
    assert s.truth.hip_flexion_deg.shape == (2, rec.n_samples)
    assert not s.truth.pelvis_angles_deg.flags.writeable
    assert set(s.mounting) == {"right_thigh", "pelvis"}


def test_timing_jitter_perturbs_samples_only_slightly() -> None:
    base = clean(healthy())
    plain = simulate_session(base, schedule=SHORT, seed=5)
    jittered = simulate_session(dataclasses.replace(base, timing_jitter_s=0.002), schedule=SHORT, seed=5)
    diff = jittered.recording.gyr_dps - plain.recording.gyr_dps
    assert 0 < np.abs(diff).max() < 60.0
    np.testing.assert_array_equal(plain.truth.ic_left_idx, jittered.truth.ic_left_idx)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"stance_fraction_left": 0.45}, "stance_fraction_left"),
        ({"speed_mps": -1.0}, "speed_mps"),
        ({"step_time_ratio": 1.6}, "stance_fraction_left/stance_fraction_right/step_time_ratio"),
        ({"hip_peak_flexion_left_deg": -10.0, "hip_peak_extension_left_deg": 5.0}, "hip_peak_flexion_left_deg"),
        ({"acc_noise_mps2": -0.1}, "acc_noise_mps2"),
    ],
)
def test_invalid_params_name_the_argument(changes: dict[str, float], name: str) -> None:
    with pytest.raises(SimulatorError, match=name):
        WalkerParams(**changes)


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(SimulatorError, match="placements"):
        simulate_session(healthy(), placements=("head",))
    with pytest.raises(SimulatorError, match="random_mounting"):
        simulate_session(healthy(), mounting={"pelvis": Rotation.identity()}, random_mounting=True)
    with pytest.raises(SimulatorError, match="mounting"):
        simulate_session(healthy(), mounting={"left_thigh": Rotation.identity()}, placements=("pelvis",))
    with pytest.raises(SimulatorError, match="schedule"):
        simulate_session(healthy(), schedule=(Segment(kind="walk", duration_s=1.0),))
    with pytest.raises(SimulatorError, match="kind"):
        Segment(kind="run", duration_s=1.0)  # type: ignore[arg-type]
    with pytest.raises(SimulatorError, match="side"):
        pelvic_drop(side="middle")  # type: ignore[arg-type]
    assert sum(seg.duration_s for seg in DEFAULT_SCHEDULE) == pytest.approx(49.0)


def test_explicit_mounting_is_used() -> None:
    tilt = Rotation.from_euler("Y", 30.0, degrees=True)
    s = simulate_session(clean(healthy()), schedule=SHORT, mounting={"pelvis": tilt}, placements=("pelvis",))
    np.testing.assert_allclose(s.recording.acc_mps2[0, 50], tilt.inv().apply([0.0, 0.0, GRAVITY_MPS2]), atol=1e-6)
    assert s.mounting["pelvis"] is tilt


# ------------------------------------------------------------------------------- vectorised vs per-slice
def test_body_angular_velocity_matches_per_sample_loop() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(200) / 50.0
    angles = np.stack([40 * np.sin(1.3 * t), 20 * np.cos(0.7 * t + 1), 300 * t], axis=-1)
    rot = Rotation.from_euler("ZXY", angles + rng.normal(0, 0.01, angles.shape), degrees=True)
    fast = body_angular_velocity_dps(rot, 50.0)
    slow = np.empty_like(fast)
    for k in range(len(rot)):
        lo, hi = max(k - 1, 0), min(k + 1, len(rot) - 1)
        slow[k] = np.degrees((rot[lo].inv() * rot[hi]).as_rotvec()) * 50.0 / (hi - lo)
    np.testing.assert_allclose(fast, slow, atol=1e-9)
    # Constant body rate is recovered exactly.
    spin = Rotation.from_rotvec(np.outer(np.arange(20) / 100.0, np.radians([10.0, -20.0, 30.0])))
    np.testing.assert_allclose(body_angular_velocity_dps(spin, 100.0), np.tile([10.0, -20.0, 30.0], (20, 1)))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=40),
    times=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30),
    axis=st.sampled_from([-2, 1]),
)
def test_sample_linear_matches_per_channel_interp(n: int, times: list[float], axis: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(2, n, 3))
    t_s = np.array(times) * (n - 1) / 10.0  # inside [0, (n-1)/fs] at fs = 10 Hz
    fast = sample_linear(x, 10.0, t_s, axis=axis)
    grid = np.arange(n) / 10.0
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(fast[i, :, j], np.interp(t_s, grid, x[i, :, j]), atol=1e-12)


# -------------------------------------------------------------------------------- realism vs real data
def _gravity_frame(acc: NDArray[np.float64], ml_hint: NDArray[np.float64]) -> NDArray[np.float64]:
    """Columns: vertical (mean specific force), AP, ML (the sensor axis ``ml_hint`` made horizontal)."""
    vertical = acc.mean(axis=0)
    vertical /= np.linalg.norm(vertical)
    ml = ml_hint - (ml_hint @ vertical) * vertical
    ml /= np.linalg.norm(ml)
    return np.stack([vertical, np.cross(ml, vertical), ml], axis=-1)


def pelvis_metrics(acc: NDArray[np.float64], gyr_dps: NDArray[np.float64], fs_hz: float) -> dict[str, float]:
    """Walking metrics of a lower-back sensor whose y axis is roughly medio-lateral (both datasets and the sim).

    AP and ML are the principal axes of the horizontal acceleration (robust to the unknown sensor yaw).
    """
    frame = _gravity_frame(acc, np.array([0.0, 1.0, 0.0]))
    vertical = acc @ frame[:, 0]
    horizontal = acc @ frame[:, 1:]
    horizontal -= horizontal.mean(axis=0)
    eig = np.sqrt(np.linalg.eigvalsh(np.cov(horizontal.T)))
    f, psd = signal.welch(vertical - vertical.mean(), fs=fs_hz, nperseg=min(512, vertical.size), nfft=8192)
    band = (f > 0.6) & (f < 3.0)
    g = gyr_dps - gyr_dps.mean(axis=0)
    return {
        "vertical acc RMS (m/s²)": float(np.std(vertical)),
        "AP acc RMS (m/s²)": float(eig[1]),
        "ML acc RMS (m/s²)": float(eig[0]),
        "gyro RMS (deg/s)": float(np.sqrt(np.mean(np.sum(g**2, axis=-1)))),
        "step frequency (Hz)": float(f[band][np.argmax(psd[band])]),
    }


def sagittal_ptp_per_stride(gyr_dps: NDArray[np.float64], ic_idx: NDArray[np.int64]) -> NDArray[np.float64]:
    """Peak-to-peak of the main (sagittal) gyro component in each stride between consecutive same-side ICs."""
    sagittal = np.linalg.eigh(np.cov(gyr_dps[ic_idx[0] : ic_idx[-1]].T))[1][:, -1]
    g = gyr_dps @ sagittal
    return np.array([np.ptp(g[i:j]) for i, j in itertools.pairwise(ic_idx)])


def _load_voisard_trial(folder: Path, code: str) -> tuple[NDArray[np.float64], dict[str, Any]]:
    meta = json.loads((folder / "GaitData" / f"{code}.json").read_text())
    raw = np.loadtxt(folder / "GaitData" / f"{code}_lb.txt", skiprows=2)
    counter = raw[:, 0]
    grid = np.arange(counter[0], counter[-1] + 1)  # the authors' gap filling; events index this grid
    data = np.stack([np.interp(grid, counter, raw[:, c]) for c in range(1, 7)], axis=-1)
    return data, meta


@cache
def voisard_metrics(speed_lo: float, speed_hi: float) -> list[dict[str, float]]:
    """Metrics per straight walking part of the Voisard trials (≤ 5 % packet loss) within a crude speed range."""
    folder = DATASETS / "voisard_ipol_healthy_lowerback"
    out: list[dict[str, float]] = []
    with (folder / "trials_index.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if float(row["missing_frac_lb"]) > 0.05:
            continue
        data, meta = _load_voisard_trial(folder, row["code"])
        t0, t1 = meta["TrialBoundaries"]
        u0, u1 = meta["UTurnBoundaries"]
        speed = 20.0 / ((t1 - t0 - (u1 - u0)) / 100.0)  # 2 × 10 m over the straight time: crude
        if not speed_lo <= speed <= speed_hi:
            continue
        ics = np.sort([hs for _, hs in meta["LeftFootEvents"] + meta["RightFootEvents"]])
        for a, b in ((t0, u0), (u1, t1)):
            inside = ics[(ics >= a) & (ics <= b)]
            lo, hi = inside[2], inside[-3]
            out.append(pelvis_metrics(data[lo:hi, :3], np.degrees(data[lo:hi, 3:]), 100.0))
    return out


def _read_neura(path: Path) -> dict[str, NDArray[np.float64]]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("//")]
    header = lines[0].split(",")
    values = np.loadtxt(lines[1:], delimiter=",", ndmin=2)
    return {name: values[:, i] for i, name in enumerate(header)}


@cache
def neura_thigh() -> tuple[NDArray[np.float64], float, float, float]:
    """Per-stride thigh sagittal gyro ptp (deg/s), cadence (steps/min), thigh extension and flexion (deg)."""
    folder = DATASETS / "neura_sparse_gaittoolbox_sample"
    vicon = _read_neura(folder / "vicon" / "S02-Trial-Walk-1.csv")
    steps = _read_neura(folder / "step-detect" / "S02-Trial-Walk-1-revStepDetect.csv")
    pelvis_q = np.stack([vicon[f"qRPV_{i}"] for i in (2, 3, 4, 1)], axis=-1)
    forward = Rotation.from_quat(pelvis_q).apply([1.0, 0.0, 0.0])
    forward[:, 2] = 0.0
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    yaw_rate = np.abs(np.gradient(np.unwrap(np.arctan2(forward[:, 1], forward[:, 0])), 0.01))
    straight = signal.medfilt(yaw_rate, 51) < np.radians(40.0)
    ptps, strides, ext, flex = [], [], [], []
    for side, key in (("L", "stepL"), ("R", "stepR")):
        imu = _read_neura(folder / "imu" / f"S02-Trial-Walk-1-{side}_UpLeg.csv")
        gyr = np.degrees(np.stack([imu[f"gyr_{i}"] for i in (1, 2, 3)], axis=-1))
        onsets = np.flatnonzero(np.diff(steps[key]) == 1) + 1  # foot-flat onsets
        hip = np.stack([vicon[f"{side}FEP_{i}"] for i in (1, 2, 3)], axis=-1)
        knee = np.stack([vicon[f"{side}FEO_{i}"] for i in (1, 2, 3)], axis=-1)
        up = hip - knee
        inclination = np.degrees(np.arctan2(-(up * forward).sum(axis=-1), up[:, 2]))
        keep = [k for k in range(onsets.size - 1) if straight[onsets[k] : onsets[k + 1]].all()]
        for k in keep:
            i, j = onsets[k], onsets[k + 1]
            ptps.append(sagittal_ptp_per_stride(gyr, np.array([i, j]))[0])
            strides.append((j - i) / 100.0)
            ext.append(-inclination[i:j].min())
            flex.append(inclination[i:j].max())
    return np.array(ptps), 120.0 / float(np.median(strides)), float(np.median(ext)), float(np.median(flex))


def _matched_to_neura(cadence: float, ext: float, flex: float) -> SimulatedSession:
    """A simulated walk with the recorded subject's cadence, speed (≈ 0.95 m/s) and thigh excursion."""
    params = WalkerParams(
        speed_mps=0.95,
        cadence_spm=cadence,
        hip_peak_extension_left_deg=ext,
        hip_peak_extension_right_deg=ext,
        hip_peak_flexion_left_deg=flex,
        hip_peak_flexion_right_deg=flex,
    )
    return simulate_session(params, schedule=SHORT, seed=1)


needs_data = pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is absent")


@needs_data
@pytest.mark.dataset
def test_pelvis_signals_fall_inside_real_lower_back_ranges(session: SimulatedSession) -> None:
    speed = session.params.speed_mps
    real = voisard_metrics(speed - 0.2, speed + 0.2)
    assert len(real) >= 10
    a, b = steady_window(session)
    sim = pelvis_metrics(session.recording.acc_mps2[0, a:b], session.recording.gyr_dps[0, a:b], FS_HZ)
    for key, value in sim.items():
        values = [m[key] for m in real]
        assert min(values) <= value <= max(values), (
            f"{key}: sim {value:.2f} outside real {min(values):.2f}..{max(values):.2f}"
        )


@needs_data
@pytest.mark.dataset
def test_slow_walk_pelvis_signals_fall_inside_real_ranges() -> None:
    s = simulate_session(dataclasses.replace(healthy(), speed_mps=0.95), seed=1)
    real = voisard_metrics(0.8, 1.1)
    a, b = steady_window(s)
    sim = pelvis_metrics(s.recording.acc_mps2[0, a:b], s.recording.gyr_dps[0, a:b], FS_HZ)
    for key, value in sim.items():
        values = [m[key] for m in real]
        assert min(values) <= value <= max(values), (
            f"{key}: sim {value:.2f} outside real {min(values):.2f}..{max(values):.2f}"
        )


@needs_data
@pytest.mark.dataset
def test_thigh_sagittal_gyro_matches_real_thigh_with_matched_gait() -> None:
    ptps, cadence, ext, flex = neura_thigh()
    assert ptps.size >= 3
    # Same cadence, speed (≈ 0.95 m/s) and thigh excursion as the recorded subject (thigh ≈ hip when tilt ≈ 0).
    s = _matched_to_neura(cadence, ext, flex)
    a, b = steady_window(s)
    for k, ic in ((1, s.truth.ic_left_idx), (2, s.truth.ic_right_idx)):
        sim = np.median(sagittal_ptp_per_stride(s.recording.gyr_dps[k], ic[(ic >= a) & (ic <= b)]))
        assert 0.9 * ptps.min() <= sim <= 1.1 * ptps.max()


@needs_data
@pytest.mark.dataset
def test_thigh_acceleration_range_matches_real_thigh() -> None:
    """Thigh specific-force magnitude (rotation-free): spread and 1st/99th percentiles against the NeuRA thigh IMUs."""
    folder = DATASETS / "neura_sparse_gaittoolbox_sample"
    real = []
    for side in ("L", "R"):
        imu = _read_neura(folder / "imu" / f"S02-Trial-Walk-1-{side}_UpLeg.csv")
        norm = np.linalg.norm(np.stack([imu[f"acc_{i}"] for i in (1, 2, 3)], axis=-1), axis=-1)
        real.append((float(np.std(norm)), *np.percentile(norm, [1, 99])))
    real_arr = np.array(real)
    _, cadence, ext, flex = neura_thigh()
    s = _matched_to_neura(cadence, ext, flex)
    a, b = steady_window(s)
    for k in (1, 2):
        norm = np.linalg.norm(s.recording.acc_mps2[k, a:b], axis=-1)
        sim = np.array([np.std(norm), *np.percentile(norm, [1, 99])])
        lo, hi = real_arr.min(axis=0), real_arr.max(axis=0)
        assert np.all(sim >= 0.8 * lo) and np.all(sim <= 1.2 * hi), (sim, lo, hi)
