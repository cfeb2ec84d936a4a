"""Loader and Vicon reference angles for the NeuRA sparse gait-toolbox sample (../shared/datasets).

One walking trial of subject S02 (``S02-Trial-Walk-1``): XSens IMUs on the pelvis and both thighs with synchronised
Vicon segment poses, 955 samples at 100 Hz, walking back and forth in a 4 × 4 m volume with one 180° turn (the
dataset's SOURCE.md). Run ``python -m tests.neura`` for the convention checks and the angle ranges.

Conventions (checked numerically in ``__main__``)
-------------------------------------------------
Vicon world: z up. Vicon segment quaternions are w, x, y, z and rotate segment → world. Pelvis: x forward (along
the direction of travel), y = right → left hip centre (to 1e-5), z up. Thigh: z = knee → hip centre exactly, x
anterior, y left. So the segment axes are the project's body axes (ap, ml, si) of :mod:`gait.frames`, and the angles
follow the "Frames and signs" of :mod:`hardware.simulator.walker`:

* pelvis: intrinsic ``'ZXY'`` Euler angles (yaw, obliquity, tilt) of the pelvis quaternion. Tilt is anterior +
  (absolute, Vicon's anatomical pelvis frame: there is no standing trial to subtract), obliquity left side up +,
  rotation counter-clockwise from above + relative to the walking heading. The heading is a centred moving average
  of the unwrapped pelvis yaw over one stride (the median initial-contact-to-initial-contact time, 1.44 s here),
  as ``gait/kinematics.py`` does for the IMU angles (per-stride detrending is printed for comparison in ``__main__``);
* hip flexion (+) / abduction (+): minus the first, and ± the second, angle of the intrinsic ``'YXZ'`` decomposition
  of ``R_pelvis^T R_thigh`` (flexion turns the thigh's proximal axis backwards, a negative rotation about ml);
* thigh inclination: the thigh's proximal axis against the vertical in the heading-vertical plane, knee forward +,
  from the thigh quaternion and, as a cross-check, from the ``LFEP − LFEO`` (``RFEP − RFEO``) marker vector. The
  Vicon thigh z axis *is* that vector, so the check confirms the quaternion layout, not an independent measurement.

IMU world frames differ from the Vicon frame by a yaw rotation and the sensor-to-segment alignment is unknown, so
compare ranges or changes of angles, not absolute values.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter1d
from scipy.spatial.transform import Rotation

from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording
from tests.conftest import NEURA

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

FS_HZ = 100.0
N_SAMPLES = 955
TRIAL = "S02-Trial-Walk-1"
SIDES = ("left", "right")
#: IMU file suffix per placement.
IMU_FILES = {PELVIS: "Pelvis", LEFT_THIGH: "L_UpLeg", RIGHT_THIGH: "R_UpLeg"}
_THIGHS = (LEFT_THIGH, RIGHT_THIGH)
#: Walking heading turning faster than this (stride-averaged pelvis yaw rate) marks a turn sample, in deg/s.
TURN_RATE_DPS = 30.0
#: Initial contact: the virtual heel's speed falls below this fraction of the walking speed (Bonci et al. 2022 use
#: 0.5 for the heel marker; Front. Bioeng. Biotechnol. 10:868928).
HEEL_SPEED_FRACTION = 0.5


# ------------------------------------------------------------------------------------------------------ reading
def read_csv(path: Path) -> dict[str, FloatArray]:
    """Read a gait-toolbox CSV (``//`` comment lines, one header line, numbers) into columns by name.

    Parameters
    ----------
    path : Path
        The CSV file.

    Returns
    -------
    dict of str to ndarray, shape (n_samples,)
        One float column per header name.
    """
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("//")]
    names = lines[0].split(",")
    data = np.loadtxt(lines[1:], delimiter=",", ndmin=2)
    return {name: np.asarray(data[:, i], dtype=np.float64) for i, name in enumerate(names)}


def _vector(table: dict[str, FloatArray], name: str, n: int = 3) -> FloatArray:
    """Columns ``name_1 .. name_n`` stacked to shape (n_samples, n)."""
    return np.stack([table[f"{name}_{i}"] for i in range(1, n + 1)], axis=-1)


def _quaternion(table: dict[str, FloatArray], name: str) -> Rotation:
    """Rotations from the w, x, y, z columns ``name_1 .. name_4`` (scipy wants x, y, z, w)."""
    return Rotation.from_quat(_vector(table, name, 4)[:, [1, 2, 3, 0]])


@cache
def _vicon(root: Path) -> dict[str, FloatArray]:
    return read_csv(root / "vicon" / f"{TRIAL}.csv")


@cache
def _steps(root: Path) -> dict[str, FloatArray]:
    return read_csv(root / "step-detect" / f"{TRIAL}-revStepDetect.csv")


def load_recording(root: Path = NEURA) -> Recording:
    """The pelvis and thigh IMUs as a :class:`~gait.recording.Recording` in the sensor frame.

    Parameters
    ----------
    root : Path
        Dataset directory (default: ``../shared/datasets/neura_sparse_gaittoolbox_sample``).

    Returns
    -------
    Recording
        Placements ``("pelvis", "left_thigh", "right_thigh")``, 955 samples at 100 Hz; specific force in m/s²,
        angular rate converted from rad/s to deg/s, frame ``"sensor"``.
    """
    acc, gyr = [], []
    for suffix in IMU_FILES.values():
        table = read_csv(root / "imu" / f"{TRIAL}-{suffix}.csv")
        acc.append(_vector(table, "acc"))
        gyr.append(np.rad2deg(_vector(table, "gyr")))
    return Recording(
        acc_mps2=np.stack(acc),
        gyr_dps=np.stack(gyr),
        sampling_rate_hz=FS_HZ,
        placements=tuple(IMU_FILES),
        frame="sensor",
        source=f"{root.name}/imu/{TRIAL}-*.csv",
    )


def imu_orientation(placement: str, root: Path = NEURA) -> Rotation:
    """XSens orientation (sensor → XSens world, whose yaw differs from Vicon's) of one IMU, from ``ori_1..4``."""
    return _quaternion(read_csv(root / "imu" / f"{TRIAL}-{IMU_FILES[placement]}.csv"), "ori")


#: Vicon segment quaternion per IMU placement.
VICON_SEGMENTS = {PELVIS: "qRPV", LEFT_THIGH: "qLTH", RIGHT_THIGH: "qRTH"}


@dataclass(frozen=True, slots=True)
class RigidFit:
    """The best a method can do that takes an IMU's orientation for its segment's.

    ``segment(t) ≈ world · imu(t) · mounting`` with two constant rotations fitted to Vicon by least squares
    (alternating rotation means): ``world`` aligns the XSens earth frame with Vicon's, ``mounting`` is the
    sensor-to-segment rotation. Both are fitted on Vicon itself, so no calibration from the IMU data alone can do
    better; what is left (``residual_deg``) is the sensor moving on its segment (skin and soft-tissue motion) and the
    vendor filter's own error.

    Attributes
    ----------
    segment : Rotation
        The IMU's orientation mapped onto its segment, segment → Vicon frame, per sample.
    residual_deg : ndarray, shape (n_samples,)
        Angle between that and the Vicon segment orientation.
    """

    segment: Rotation
    residual_deg: FloatArray


def rigid_fit(placement: str, root: Path = NEURA, *, iterations: int = 20) -> RigidFit:
    """Fit the XSens orientation of one IMU to its Vicon segment by two constant rotations (see :class:`RigidFit`)."""
    vicon = _quaternion(_vicon(root), VICON_SEGMENTS[placement])
    imu = imu_orientation(placement, root)
    world = Rotation.identity()
    for _ in range(iterations):
        mounting = ((world * imu).inv() * vicon).mean()
        world = (vicon * mounting.inv() * imu.inv()).mean()
    segment = world * imu * mounting
    return RigidFit(segment, np.degrees((segment.inv() * vicon).magnitude()))


def rigid_hip_flexion_deg(root: Path = NEURA) -> FloatArray:
    """Hip flexion (+) per side, shape (2, n_samples), from the XSens orientations mapped onto the segments by
    :func:`rigid_fit`, with the Vicon decomposition of :func:`reference_angles`: the ceiling of any rigid-body
    IMU method on this trial."""
    pelvis = rigid_fit(PELVIS, root).segment
    return np.stack([-(pelvis.inv() * rigid_fit(t, root).segment).as_euler("YXZ", degrees=True)[:, 0] for t in _THIGHS])


# ------------------------------------------------------------------------------------------- initial contacts
def step_detect_onsets(root: Path = NEURA) -> dict[str, IntArray]:
    """Onsets (0 → 1) of the toolbox's ``stepL`` / ``stepR`` foot-stationary flags, per side.

    These are late foot-flat onsets from a velocity threshold: 22-33 samples (≈ 0.3 s) after the initial contacts of
    :func:`initial_contacts`, ≈ 10 samples after the ankle and toe markers have actually come to rest.
    """
    steps = _steps(root)
    return {
        side: np.flatnonzero(np.diff(steps[col]) > 0).astype(np.int64) + 1
        for side, col in zip(SIDES, ("stepL", "stepR"), strict=True)
    }


def walking_speed_mps(root: Path = NEURA) -> float:
    """Median horizontal speed of the Vicon pelvis origin ``PELV`` over the trial, in m/s."""
    vel = np.gradient(_vector(_vicon(root), "PELV"), axis=0) * FS_HZ
    return float(np.median(np.hypot(vel[:, 0], vel[:, 1])))


@dataclass(frozen=True)
class _FootEvents:
    """Per swing (one per step-detect onset) of one foot: sample indices of the features, and the heel point."""

    pitch_max_idx: IntArray  # foot most toe-up (end of swing)
    slap_idx: IntArray  # fastest toe-down rotation (foot slap, loading response)
    ic_idx: IntArray  # virtual heel slower than HEEL_SPEED_FRACTION × walking speed
    zeni_idx: IntArray  # ankle furthest ahead of the pelvis (Zeni et al. 2008, ankle instead of heel)
    fva_idx: IntArray  # ankle-toe midpoint descending fastest (O'Connor et al. 2007, ankle instead of heel)
    onset_idx: IntArray  # step-detect foot-stationary onset
    heel_m: tuple[float, float]  # heel point in the foot frame (along ankle → toe, normal to it), in m


def _indices(values: list[int] | IntArray) -> IntArray:
    return np.asarray(values, dtype=np.int64)


@cache
def _foot_events(root: Path, side: str) -> _FootEvents:
    """Find the initial contacts of one foot from its ankle (``xTIO``) and toe (``xTOE``) trajectories.

    In each swing (toolbox toe-off to foot-stationary onset) the foot's sagittal plane is the vertical plane through
    the ankle → toe vector; ``phi`` is that vector's pitch and ``omega`` its rate. The foot's instantaneous centre
    of rotation at the fastest toe-down rotation (foot slap, when the foot rolls on its heel) gives a heel point
    fixed in the foot frame (median over the swings: 6.5-8 cm behind and 8.5 cm below the ankle). The initial
    contact is the first sample after the toe-up maximum at which that virtual heel's speed is below
    ``HEEL_SPEED_FRACTION`` × the walking speed.
    """
    vic = _vicon(root)
    prefix = side[0].upper()
    ankle, toe = _vector(vic, f"{prefix}TIO"), _vector(vic, f"{prefix}TOE")
    pelvis = _vector(vic, "PELV")
    flags = _steps(root)[f"step{prefix}"]
    onsets = np.flatnonzero(np.diff(flags) > 0) + 1
    offsets = np.flatnonzero(np.diff(flags) < 0) + 1

    foot = toe - ankle
    along = foot[:, :2] / np.linalg.norm(foot[:, :2], axis=-1, keepdims=True)  # horizontal foot direction
    phi = np.unwrap(np.arctan2(foot[:, 2], np.sum(foot[:, :2] * along, axis=-1)))
    omega = np.gradient(phi) * FS_HZ
    vel = np.gradient(ankle, axis=0) * FS_HZ
    v_s, v_z = np.sum(vel[:, :2] * along, axis=-1), vel[:, 2]
    cos, sin = np.cos(phi), np.sin(phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_s, r_z = -v_z / omega, v_s / omega  # centre of rotation relative to the ankle
    r_u, r_n = r_s * cos + r_z * sin, -r_s * sin + r_z * cos  # ... in the foot frame

    starts = [int(offsets[offsets < on][-1]) if np.any(offsets < on) else 0 for on in onsets]
    pitch_max = [lo + int(np.argmax(phi[lo:on])) for lo, on in zip(starts, onsets, strict=True)]
    slap = [t0 + int(np.argmin(omega[t0:on])) for t0, on in zip(pitch_max, onsets, strict=True)]
    heel_u, heel_n = float(np.median(r_u[slap])), float(np.median(r_n[slap]))

    lever_s, lever_z = heel_u * cos - heel_n * sin, heel_u * sin + heel_n * cos  # ankle → heel, world sagittal
    heel_speed = np.hypot(v_s - omega * lever_z, v_z + omega * lever_s)
    slow = heel_speed < HEEL_SPEED_FRACTION * walking_speed_mps(root)
    ic = []
    for t0, t1 in zip(pitch_max, slap, strict=True):
        below = np.flatnonzero(slow[t0 : t1 + 1])
        ic.append(t0 + int(below[0]) if below.size else t1)

    ahead = np.sum((ankle - pelvis)[:, :2] * along, axis=-1)
    mid_vz = np.gradient((ankle[:, 2] + toe[:, 2]) / 2)
    zeni = [lo + int(np.argmax(ahead[lo:on])) for lo, on in zip(starts, onsets, strict=True)]
    fva = [t0 + int(np.argmin(mid_vz[t0:on])) for t0, on in zip(pitch_max, onsets, strict=True)]
    return _FootEvents(
        pitch_max_idx=_indices(pitch_max),
        slap_idx=_indices(slap),
        ic_idx=_indices(ic),
        zeni_idx=_indices(zeni),
        fva_idx=_indices(fva),
        onset_idx=_indices(onsets),
        heel_m=(heel_u, heel_n),
    )


def initial_contacts(root: Path = NEURA) -> dict[str, IntArray]:
    """Initial contacts per side from the Vicon ankle and toe trajectories.

    Method (see :func:`_foot_events`): a virtual heel point, fixed in the foot's sagittal frame at the foot's
    centre of rotation during foot slap, is tracked back to the first sample after the foot's toe-up maximum at
    which its speed falls below half the walking speed (Bonci et al. 2022's heel threshold). On straight strides
    of this trial it falls 2-5 samples after the ankle's Zeni maximum (ankle furthest ahead of the pelvis; not at
    the last, decelerating left contact), 2-5 before the minimum of the ankle-toe midpoint's vertical velocity
    (O'Connor's FVA) and 22-33 before the step-detect onsets. Thresholds of 0.3-0.7 × speed move it by ≤ 2
    samples; expect ±3 samples (±30 ms).

    Parameters
    ----------
    root : Path
        Dataset directory.

    Returns
    -------
    dict of str to ndarray of int64
        ``{"left": ..., "right": ...}`` sorted sample indices (one per step-detect onset).
    """
    return {side: _foot_events(root, side).ic_idx for side in SIDES}


def strides(ic_idx: IntArray) -> list[tuple[int, int]]:
    """Consecutive same-side initial contacts as inclusive (start, stop) sample ranges."""
    return [(int(a), int(b)) for a, b in itertools.pairwise(ic_idx)]


# -------------------------------------------------------------------------------------------- reference angles
@dataclass(frozen=True)
class NeuraReference:
    """Vicon-derived per-sample reference angles, in degrees, with the signs of the module docstring.

    Attributes
    ----------
    pelvis_angles_deg : ndarray, shape (n_samples, 3)
        Pelvic tilt (anterior +, absolute), obliquity (left side up +), rotation (counter-clockwise from above +,
        relative to ``heading_deg``).
    pelvis_yaw_deg : ndarray, shape (n_samples,)
        Unwrapped pelvis yaw (first ``'ZXY'`` angle), counter-clockwise from the Vicon x axis.
    heading_deg : ndarray, shape (n_samples,)
        Walking heading: ``pelvis_yaw_deg`` averaged over one stride (centred).
    hip_flexion_deg, hip_abduction_deg : ndarray, shape (2, n_samples)
        [left, right] hip flexion (+) / extension (−) and abduction (+) / adduction (−).
    thigh_inclination_deg : ndarray, shape (2, n_samples)
        [left, right] thigh long axis against the vertical in the sagittal plane, knee forward +, from the thigh
        quaternions.
    thigh_inclination_markers_deg : ndarray, shape (2, n_samples)
        The same from the hip-centre minus knee-centre marker vectors (``LFEP − LFEO``, ``RFEP − RFEO``).
    turning : ndarray of bool, shape (n_samples,)
        Heading turning faster than ``TURN_RATE_DPS``.
    pelvis_position_m : ndarray, shape (n_samples, 3)
        ``PELV`` (pelvis origin, 10.8 cm from the hip-centre midpoint) in the Vicon frame, z up, in m.
    stride_samples : int
        Median initial-contact-to-initial-contact interval, the width of the heading average.
    sampling_rate_hz : float
        100 Hz.
    """

    pelvis_angles_deg: FloatArray
    pelvis_yaw_deg: FloatArray
    heading_deg: FloatArray
    hip_flexion_deg: FloatArray
    hip_abduction_deg: FloatArray
    thigh_inclination_deg: FloatArray
    thigh_inclination_markers_deg: FloatArray
    turning: NDArray[np.bool_]
    pelvis_position_m: FloatArray
    stride_samples: int
    sampling_rate_hz: float = FS_HZ


def _sagittal_inclination_deg(proximal: FloatArray, heading_deg: FloatArray) -> FloatArray:
    """Angle of ``proximal`` (n, 3) from the vertical in the heading-vertical plane, knee forward +."""
    h = np.radians(heading_deg)
    forward = proximal[:, 0] * np.cos(h) + proximal[:, 1] * np.sin(h)
    return np.asarray(np.degrees(np.arctan2(-forward, proximal[:, 2])), dtype=np.float64)


def reference_angles(root: Path = NEURA) -> NeuraReference:
    """Pelvis, hip and thigh reference angles from the Vicon segment quaternions.

    Parameters
    ----------
    root : Path
        Dataset directory.

    Returns
    -------
    NeuraReference
    """
    vic = _vicon(root)
    pelvis = _quaternion(vic, "qRPV")
    yaw, obliquity, tilt = pelvis.as_euler("ZXY", degrees=True).T
    yaw = np.degrees(np.unwrap(np.radians(yaw)))
    ic = initial_contacts(root)
    stride_samples = round(float(np.median(np.concatenate([np.diff(ic[side]) for side in SIDES]))))
    heading = uniform_filter1d(yaw, stride_samples, mode="nearest")
    turning = np.abs(np.gradient(heading) * FS_HZ) > TURN_RATE_DPS

    flexion, abduction, incl_q, incl_m = (np.empty((2, yaw.size)) for _ in range(4))
    for row, (prefix, ml_sign) in enumerate((("L", 1.0), ("R", -1.0))):
        thigh = _quaternion(vic, f"q{prefix}TH")
        about_ml, about_ap, _ = (pelvis.inv() * thigh).as_euler("YXZ", degrees=True).T
        flexion[row], abduction[row] = -about_ml, ml_sign * about_ap
        incl_q[row] = _sagittal_inclination_deg(thigh.apply([0.0, 0.0, 1.0]), heading)
        incl_m[row] = _sagittal_inclination_deg(_vector(vic, f"{prefix}FEP") - _vector(vic, f"{prefix}FEO"), heading)
    return NeuraReference(
        pelvis_angles_deg=np.stack([tilt, obliquity, yaw - heading], axis=-1),
        pelvis_yaw_deg=yaw,
        heading_deg=heading,
        hip_flexion_deg=flexion,
        hip_abduction_deg=abduction,
        thigh_inclination_deg=incl_q,
        thigh_inclination_markers_deg=incl_m,
        turning=turning,
        pelvis_position_m=_vector(vic, "PELV"),
        stride_samples=stride_samples,
    )


def stride_rom_deg(angle_deg: FloatArray, stride_list: list[tuple[int, int]]) -> FloatArray:
    """Range of motion (max − min) of ``angle_deg`` within each inclusive (start, stop) stride, shape (n_strides,)."""
    return np.array([np.ptp(angle_deg[a : b + 1]) for a, b in stride_list], dtype=np.float64)


# -------------------------------------------------------------------------------------------------------- main
def _print_checks(root: Path, ref: NeuraReference) -> None:
    """Axis and sign conventions, checked against marker positions, gait phases and the IMU."""
    vic = _vicon(root)
    pelvis = _quaternion(vic, "qRPV")
    vel = np.gradient(ref.pelvis_position_m, axis=0) * FS_HZ
    speed = np.hypot(vel[:, 0], vel[:, 1])
    x_p, y_p, z_p = (pelvis.apply(np.eye(3)[i]) for i in range(3))
    travel = vel[:, :2] / np.maximum(speed, 1e-9)[:, None]
    x_h = x_p[:, :2] / np.linalg.norm(x_p[:, :2], axis=-1, keepdims=True)
    hip_axis = _vector(vic, "LFEP") - _vector(vic, "RFEP")
    hip_axis /= np.linalg.norm(hip_axis, axis=-1, keepdims=True)

    def show(label: str, c: FloatArray) -> None:
        print(f"  {label:50s} median {np.median(c):.4f}, min {c.min():.4f}")

    print("Axis checks (cosines between directions):")
    show("pelvis x . PELV travel (straight, > 0.5 m/s)", np.sum(x_h * travel, axis=-1)[(speed > 0.5) & ~ref.turning])
    show("pelvis y . (LFEP - RFEP)", np.sum(y_p * hip_axis, axis=-1))
    show("pelvis z . world up", z_p[:, 2])
    for row, prefix in enumerate("LR"):
        thigh = _quaternion(vic, f"q{prefix}TH")
        long_axis = _vector(vic, f"{prefix}FEP") - _vector(vic, f"{prefix}FEO")
        long_axis /= np.linalg.norm(long_axis, axis=-1, keepdims=True)
        show(
            f"{prefix} thigh z . ({prefix}FEP - {prefix}FEO)", np.sum(thigh.apply([0.0, 0.0, 1.0]) * long_axis, axis=-1)
        )
        show(f"{prefix} thigh y . pelvis y", np.sum(thigh.apply([0.0, 1.0, 0.0]) * y_p, axis=-1))
        diff = ref.thigh_inclination_deg[row] - ref.thigh_inclination_markers_deg[row]
        print(f"  {prefix} thigh inclination, quaternion - markers: max |diff| {np.max(np.abs(diff)):.2g}°")
    for row, (prefix, ml_sign) in enumerate((("L", 1.0), ("R", -1.0))):
        knee = pelvis.inv().apply(_vector(vic, f"{prefix}FEO") - _vector(vic, f"{prefix}FEP"))
        outward = np.degrees(np.arctan2(ml_sign * knee[:, 1], -knee[:, 2]))
        print(
            f"  {prefix} hip abduction vs knee-outward angle in the pelvis frame: r = "
            f"{np.corrcoef(outward, ref.hip_abduction_deg[row])[0, 1]:.3f}, max |diff| "
            f"{np.max(np.abs(outward - ref.hip_abduction_deg[row])):.1f}°"
        )
    h = np.radians(ref.heading_deg)
    ahead = hip_axis[:, 0] * np.cos(h) + hip_axis[:, 1] * np.sin(h)
    rotation_markers = np.degrees(np.arcsin(np.clip(-ahead, -1.0, 1.0)))
    print(
        "  pelvic rotation, quaternion - hip-centre markers (left hip back = +): max |diff| "
        f"{np.max(np.abs(ref.pelvis_angles_deg[:, 2] - rotation_markers)):.2f}°"
    )

    print("Sign checks (medians over straight strides):")
    ic = initial_contacts(root)
    tilt = ref.pelvis_angles_deg[:, 0]
    for row, side in enumerate(SIDES):
        own = ic[side][~ref.turning[ic[side]]]
        other = ic[SIDES[1 - row]][~ref.turning[ic[SIDES[1 - row]]]]
        flex, incl = ref.hip_flexion_deg[row], ref.thigh_inclination_deg[row]
        print(
            f"  {side}: hip flexion / thigh inclination at own IC (leading leg) {np.median(flex[own]):+.1f}° / "
            f"{np.median(incl[own]):+.1f}°, at the other side's IC (trailing leg) {np.median(flex[other]):+.1f}° / "
            f"{np.median(incl[other]):+.1f}°"
        )
        err = incl - (flex - tilt)
        rms = np.sqrt(np.mean(err**2))
        print(f"        thigh inclination - (hip flexion - tilt): median {np.median(err):+.2f}°, RMS {rms:.2f}°")
    straight = [(a, b) for a, b in strides(ic["left"]) if not ref.turning[a : b + 1].any()]
    phase = {
        name: np.median([fn(ref.pelvis_angles_deg[a : b + 1, col]) / (b - a) for a, b in straight])
        for name, fn, col in (
            ("obliquity max", np.argmax, 1),
            ("rotation min", np.argmin, 2),
            ("rotation max", np.argmax, 2),
        )
    }
    print(
        "  phase in the left stride (0 = left IC): "
        + ", ".join(f"{k} {v:.2f}" for k, v in phase.items())
        + " (textbook: obliquity max ≈ 0.12 = left side up in left loading response; rotation min ≈ 0-0.05)"
    )
    for row, (side, placement) in enumerate(zip(SIDES, (LEFT_THIGH, RIGHT_THIGH), strict=True)):
        vicon_q, imu_q = _quaternion(vic, f"q{side[0].upper()}TH"), imu_orientation(placement, root)
        pairs = []
        for a, b in strides(ic[side]):
            if not ref.turning[a : b + 1].any():
                seg = ref.thigh_inclination_deg[row, a : b + 1]
                i, j = a + int(np.argmax(seg)), a + int(np.argmin(seg))
                pairs.append([(q[i].inv() * q[j]).magnitude() for q in (vicon_q, imu_q)])
        vic_deg, imu_deg = np.degrees(np.array(pairs)).T
        print(
            f"  {side} thigh rotation between max and min inclination per straight stride, Vicon vs IMU (mounting-"
            f"free): {vic_deg.round(1)} vs {imu_deg.round(1)}"
        )
    rec = load_recording(root)
    w_vicon = np.degrees(np.linalg.norm((pelvis[:-1].inv() * pelvis[1:]).as_rotvec(), axis=-1)) * FS_HZ
    w_imu = np.linalg.norm(rec.gyr_dps[0], axis=-1)
    w_imu = (w_imu[:-1] + w_imu[1:]) / 2
    print(
        f"  pelvis IMU |gyr| (deg/s) vs Vicon pelvis angular speed: r = {np.corrcoef(w_imu, w_vicon)[0, 1]:.2f}, "
        f"median ratio {np.median(w_imu) / np.median(w_vicon):.2f}"
    )


def main(root: Path = NEURA) -> None:
    """Print the convention checks, initial contacts, ranges of motion and walking speed."""
    rec = load_recording(root)
    ref = reference_angles(root)
    print(rec)
    _print_checks(root, ref)

    print("\nInitial contacts (sample indices), and other detectors relative to them (samples):")
    onsets = step_detect_onsets(root)
    for side in SIDES:
        ev = _foot_events(root, side)
        print(
            f"  {side}: IC {ev.ic_idx.tolist()}; heel point {100 * ev.heel_m[0]:.1f} cm along the foot, "
            f"{100 * ev.heel_m[1]:.1f} cm normal to it"
        )
        for name, idx in (
            ("foot toe-up maximum", ev.pitch_max_idx),
            ("Zeni (ankle furthest ahead of PELV)", ev.zeni_idx),
            ("FVA (ankle-toe midpoint vz minimum)", ev.fva_idx),
            ("foot-slap peak", ev.slap_idx),
            ("step-detect onset", onsets[side]),
        ):
            d = idx - ev.ic_idx
            print(f"      {name:36s} {d.tolist()}  median {np.median(d):+.0f}")

    turn = np.flatnonzero(ref.turning)
    print(
        f"\nTurn: {turn.size} samples with |heading rate| > {TURN_RATE_DPS:g} deg/s, {turn.min()}..{turn.max()}; "
        f"heading {ref.heading_deg[0]:.0f}° -> {ref.heading_deg[-1]:.0f}°, averaged over {ref.stride_samples} samples "
        f"({ref.stride_samples / FS_HZ:.2f} s = median stride)"
    )

    series = {
        "pelvic tilt": ref.pelvis_angles_deg[:, 0],
        "pelvic obliquity": ref.pelvis_angles_deg[:, 1],
        "pelvic rotation": ref.pelvis_angles_deg[:, 2],
    }
    for row, side in enumerate(SIDES):
        series[f"{side} hip flexion"] = ref.hip_flexion_deg[row]
        series[f"{side} thigh inclination"] = ref.thigh_inclination_deg[row]
        series[f"{side} thigh inclination, markers"] = ref.thigh_inclination_markers_deg[row]
    print("\nROM over the trial, deg: all samples [min, max] / non-turn samples")
    for name, arr in series.items():
        print(
            f"  {name:32s} {np.ptp(arr):5.1f} [{arr.min():+6.1f}, {arr.max():+6.1f}] / {np.ptp(arr[~ref.turning]):5.1f}"
        )

    ic = initial_contacts(root)
    pos = ref.pelvis_position_m[:, :2]
    yaw = ref.pelvis_yaw_deg
    print("\nPer-stride ROM, deg (IC to next IC of the same side):")
    head = "tilt  obliq  rot  rot*  hip  thigh"
    print(f"  {'side':5s} {'stride':>10s} {'speed':>6s} {'dhead':>6s} turn  {head}   (rot*: per-stride detrended yaw)")
    medians: dict[str, list[FloatArray]] = {}
    for row, side in enumerate(SIDES):
        table = []
        for a, b in strides(ic[side]):
            seg = slice(a, b + 1)
            is_turn = bool(ref.turning[seg].any())
            speed = np.linalg.norm(pos[b] - pos[a]) / ((b - a) / FS_HZ)
            detrended = yaw[seg] - np.linspace(yaw[a], yaw[b], b - a + 1)
            roms = np.array([
                np.ptp(ref.pelvis_angles_deg[seg, 0]),
                np.ptp(ref.pelvis_angles_deg[seg, 1]),
                np.ptp(ref.pelvis_angles_deg[seg, 2]),
                np.ptp(detrended),
                np.ptp(ref.hip_flexion_deg[row, seg]),
                np.ptp(ref.thigh_inclination_deg[row, seg]),
            ])  # fmt: skip
            dhead = ref.heading_deg[b] - ref.heading_deg[a]
            print(
                f"  {side:5s} {f'{a}-{b}':>10s} {speed:6.2f} {dhead:+6.0f} {'yes ' if is_turn else 'no  '} "
                + " ".join(f"{v:5.1f}" for v in roms)
            )
            if not is_turn:
                table.append(np.append(roms, speed))
        medians[side] = table
    for side, table in medians.items():
        m = np.median(np.array(table), axis=0)
        print(
            f"  {side:5s} median of {len(table)} straight strides:  speed {m[-1]:.2f} m/s, "
            + " ".join(f"{v:5.1f}" for v in m[:-1])
        )

    path_m = float(np.sum(np.linalg.norm(np.diff(pos, axis=0), axis=-1)))
    straight_speed = np.median([t[-1] for table in medians.values() for t in table])
    mean_speed = path_m / rec.duration_s
    print(
        f"\nWalking speed from PELV: path {path_m:.2f} m in {rec.duration_s:.2f} s = {mean_speed:.2f} m/s; "
        f"median sample speed {walking_speed_mps(root):.2f} m/s; median over straight strides {straight_speed:.2f} m/s"
    )


if __name__ == "__main__":
    main()
