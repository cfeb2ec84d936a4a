"""The NeuRA sample loader and its Vicon reference angles (../shared/datasets/neura_sparse_gaittoolbox_sample).

Skipped without the dataset. The figures behind the bounds are printed by ``python -m tests.neura``.
"""

from __future__ import annotations

import numpy as np

from gait.recording import LEFT_THIGH, RIGHT_THIGH
from tests.conftest import requires_neura
from tests.neura import (
    N_SAMPLES,
    initial_contacts,
    load_recording,
    reference_angles,
    rigid_fit,
    rigid_hip_flexion_deg,
    step_detect_onsets,
    stride_rom_deg,
    strides,
)

pytestmark = requires_neura


def test_recording_has_three_imus_in_si_units() -> None:
    rec = load_recording()
    assert rec.placements == ("pelvis", "left_thigh", "right_thigh")
    assert rec.acc_mps2.shape == (3, N_SAMPLES, 3)
    assert rec.sampling_rate_hz == 100.0
    assert rec.frame == "sensor"
    assert rec.valid.all()
    # specific force in m/s² (gravity included), angular rate converted to deg/s (walking thighs exceed 100 deg/s)
    assert 9.0 < np.median(np.linalg.norm(rec.acc_mps2, axis=-1)) < 10.6
    assert 100.0 < np.abs(rec.gyr_dps[1:]).max() < 1000.0


def test_reference_angles_shapes_and_thigh_inclination_cross_check() -> None:
    ref = reference_angles()
    assert ref.pelvis_angles_deg.shape == (N_SAMPLES, 3)
    for arr in (ref.hip_flexion_deg, ref.hip_abduction_deg, ref.thigh_inclination_deg):
        assert arr.shape == (2, N_SAMPLES)
        assert np.isfinite(arr).all()
    # quaternion z axis vs the hip-centre minus knee-centre markers
    assert np.max(np.abs(ref.thigh_inclination_deg - ref.thigh_inclination_markers_deg)) < 2.0
    # first-order relation of the simulator's conventions: inclination = flexion - tilt (signs consistent)
    err = ref.thigh_inclination_deg - (ref.hip_flexion_deg - ref.pelvis_angles_deg[:, 0])
    assert np.sqrt(np.mean(err**2)) < 2.0


def test_hip_and_pelvis_ranges_per_straight_stride_are_physiological() -> None:
    ref = reference_angles()
    ic = initial_contacts()
    for row, side in enumerate(("left", "right")):
        straight = [(a, b) for a, b in strides(ic[side]) if not ref.turning[a : b + 1].any()]
        assert len(straight) >= 3
        hip = np.median([np.ptp(ref.hip_flexion_deg[row, a : b + 1]) for a, b in straight])
        # 43° right, 56° left: long slow strides (≈ 1.5 m at 83 steps/min); the thigh IMUs confirm 42-51° per stride
        assert 35.0 < hip < 65.0
        obliquity = np.median([np.ptp(ref.pelvis_angles_deg[a : b + 1, 1]) for a, b in straight])
        assert 4.0 < obliquity < 15.0


def test_initial_contacts_precede_the_foot_flat_onsets() -> None:
    ic, onsets = initial_contacts(), step_detect_onsets()
    assert [ic[s].size for s in ("left", "right")] == [7, 6]
    for side in ("left", "right"):
        lag = onsets[side] - ic[side]
        assert np.all((lag > 15) & (lag < 40))


def test_the_left_thigh_sensor_moves_on_the_thigh() -> None:
    """Why the left hip ROM misses Vicon (docs/validation.md): even the XSens orientation mapped onto the Vicon thigh
    by the best constant rotations, fitted on Vicon itself, falls ≥ 5° short of Vicon's left hip ROM per stride,
    and the left sensor leaves twice the right one's residual; on the right side the same fit misses by less than
    half as much."""
    ref = reference_angles()
    ic = initial_contacts()
    ceiling = rigid_hip_flexion_deg()
    deficit = {}
    for row, side in enumerate(("left", "right")):
        st = strides(ic[side])
        deficit[side] = np.median(stride_rom_deg(ref.hip_flexion_deg[row], st) - stride_rom_deg(ceiling[row], st))
    assert deficit["left"] > 5.0
    assert abs(deficit["right"]) < 0.5 * deficit["left"]
    left, right = (np.median(rigid_fit(t).residual_deg) for t in (LEFT_THIGH, RIGHT_THIGH))
    assert left > 1.8 * right
