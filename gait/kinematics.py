"""Pelvis and hip kinematics from a sacral sensor and two thigh sensors.

Method (each step vectorised over samples or strides; no Python loop per sample):

1. **Orientation** of every sensor from :mod:`gait.orientation` (VQF, magnetometer-free): absolute inclination,
   drifting heading; the inclination's slow error is levelled over one stride of steady straight walking
   (:func:`gait.orientation.level_over_strides`).
2. **Sensor-to-segment calibration**, for sensors mounted any way round:

   * pelvis: ``si`` = gravity during quiet standing, so the standing posture is zero tilt and obliquity (CLINICAL.md
     §3 rule 2: tilt only relative to a standing calibration); ``ap`` = the walking direction found by
     :mod:`gait.alignment`, made horizontal. Without a standing period ``si`` is the walking mean: tilt is then
     relative to the walking mean and the mean tilt is not reported.
   * thigh: ``si`` = gravity during the same standing period (standing = zero hip angle); ``ml`` = the thigh's
     dominant rotation axis while walking (flexion-extension), made perpendicular to ``si``; its sign from the
     flexion rate, whose swing burst is short and fast and whose stance is long and slow (positive skewness).
     Without standing, ``si`` = the thigh's mean direction while walking: hip angles are then relative to the
     walking mean, and only their ranges are reported (the neutral posture is not observable from walking alone;
     see ``docs/validation.md`` for a centripetal-acceleration estimate that was tried and rejected).

   Each calibration has a quality in [0, 1]; angles are refused below ``min_calibration_quality``, with the reason.
3. **Segment orientation** ``R_segment = R_sensor · C⁻¹``.
4. **Pelvis angles**: Cardan ``ZXY`` of the pelvis (heading + rotation, obliquity, tilt: Baker 2001 order); rotation
   is relative to the walking heading (per stride: the yaw detrended across the stride).
5. **Hip angles**: the thigh's heading is aligned to the pelvis by the hip joint (ML axes parallel on average over a
   few seconds; CLINICAL.md §3: "heading constrained by the joint"), then the thigh long axis ``s`` in the pelvis
   frame gives flexion ``−atan2(s_ap, s_si)`` and the frontal angle; hip rotation is not reported (CLINICAL.md §3
   rule 1).
6. **Thigh inclination** to vertical in the walking plane, and the pelvic contribution to limb extension (peak thigh
   extension minus peak hip extension, CLINICAL.md §3 rule 3).
7. **Per stride**: ROMs, peaks, mean tilt; strides rejected as outliers, across turns, over gaps or after a sensor
   moved are listed with the reason; gait-cycle curves (0-100 % in 101 points) as mean ± SD per side.

Signs (DESIGN.md §2): tilt anterior +, obliquity left side up +, rotation counter-clockwise from above + (pelvis
turned left), hip flexion +, hip frontal angle abduction +, thigh inclination knee-forward +.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, stats
from scipy.spatial.transform import Rotation

from gait.bouts import runs
from gait.errors import AnalysisError
from gait.frames import AP, ML, SI
from gait.orientation import Orientation, OrientationEstimator, level_over_strides, quat_multiply
from gait.preprocess import spans_clear, spans_mask, time_normalize
from gait.recording import LEFT_THIGH, PELVIS, RIGHT_THIGH

__all__ = [
    "PELVIS_ANGLES",
    "SIDES",
    "CycleCurves",
    "KinematicStrides",
    "KinematicsEstimator",
    "KinematicsResult",
    "SegmentCalibration",
    "calibrate_pelvis",
    "calibrate_thigh",
    "contralateral_drop_deg",
    "standing_reference",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
CalibrationMethod = Literal["standing", "walking", "body frame"]

#: Pelvis angle order in every ``(..., 3)`` pelvis array.
PELVIS_ANGLES: Final = ("tilt", "obliquity", "rotation")
#: Side order in every ``(2, ...)`` hip/thigh array; matches the side codes of the events (0 left, 1 right).
SIDES: Final = ("left", "right")
_THIGHS: Final = (LEFT_THIGH, RIGHT_THIGH)


def _unit(v: FloatArray) -> FloatArray:
    return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True), dtype=np.float64)


def _angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    cos = np.clip(np.sum(_unit(a) * _unit(b), axis=-1), -1.0, 1.0)
    return np.asarray(np.degrees(np.arccos(cos)), dtype=np.float64)


def _frame(si: FloatArray, other: FloatArray, other_axis: int) -> FloatArray:
    """Rows (ap, ml, si) of a right-handed frame from ``si`` and a second axis made perpendicular to it."""
    si = _unit(si)
    o = _unit(other - (other @ si) * si)
    if other_axis == AP:
        ap, ml = o, np.cross(si, o)
    else:
        ml, ap = o, np.cross(o, si)
    return np.stack([ap, ml, si])


@dataclass(frozen=True, slots=True)
class SegmentCalibration:
    """Sensor-to-segment rotation of one sensor.

    Attributes
    ----------
    placement : str
    rotation : ndarray, shape (3, 3)
        Rows are the segment axes (ap, ml, si) in sensor coordinates: ``v_segment = rotation @ v_sensor``.
    method : {"standing", "walking", "body frame"}
        Where the vertical (the neutral posture) came from.
    quality : float
        In [0, 1]: the weakest of the parts that went into it (see the notes).
    notes : tuple of str
        Why the quality is what it is.
    """

    placement: str
    rotation: FloatArray
    method: CalibrationMethod
    quality: float
    notes: tuple[str, ...] = field(default=())


def standing_reference(
    standing: BoolArray,
    walking: BoolArray,
    up_walking: FloatArray,
    acc_mps2: FloatArray,
    sampling_rate_hz: float,
    *,
    min_s: float = 2.0,
    max_s: float = 10.0,
    max_deviation_deg: float = 25.0,
) -> tuple[int, int] | None:
    """Choose the quiet-standing period that calibrates the neutral posture.

    A still period of at least ``min_s`` whose pelvis vertical lies within ``max_deviation_deg`` of the walking
    vertical (sitting or lying tilts the pelvis far more), the one nearest to walking; its last ``max_s`` before
    the walking (or first ``max_s`` after it).

    Parameters
    ----------
    standing, walking : ndarray of bool, shape (n_samples,)
    up_walking : ndarray, shape (3,)
        Pelvis vertical while walking, sensor coordinates.
    acc_mps2 : ndarray, shape (n_samples, 3)
        Pelvis specific force.
    sampling_rate_hz : float

    Returns
    -------
    (start_idx, stop_idx) or None
        Half-open sample range.
    """
    min_len = round(min_s * sampling_rate_hz)
    max_len = round(max_s * sampling_rate_hz)
    still = runs(standing)
    if still.size == 0:
        return None
    still = still[(still[:, 1] - still[:, 0]) >= min_len]
    walk_idx = np.flatnonzero(walking)
    best: tuple[int, int] | None = None
    best_distance = np.inf
    for start, stop in still:
        up = acc_mps2[start:stop].mean(axis=-2)
        if _angle_deg(up, up_walking) > max_deviation_deg:
            continue
        if walk_idx.size:
            after = walk_idx[walk_idx >= stop]
            before = walk_idx[walk_idx < start]
            d_after = after[0] - stop if after.size else np.inf
            d_before = start - before[-1] if before.size else np.inf
            distance = min(d_after, d_before)
            seg = (max(start, stop - max_len), stop) if d_after <= d_before else (start, min(stop, start + max_len))
        else:
            distance, seg = 0.0, (start, min(stop, start + max_len))
        if distance < best_distance:
            best, best_distance = (int(seg[0]), int(seg[1])), float(distance)
    return best


def _standing_up(acc_mps2: FloatArray, standing: tuple[int, int]) -> tuple[FloatArray, float, float]:
    """Up in sensor coordinates over a standing period, the spread of gravity's direction (SD, deg) and the
    stillness quality it gives (1 at 0°, 0 from 3° of spread)."""
    segment = acc_mps2[standing[0] : standing[1]]
    up = _unit(segment.mean(axis=-2))
    spread_deg = float(np.std(_angle_deg(segment, up[None, :])))
    return up, spread_deg, float(np.clip(1.0 - spread_deg / 3.0, 0.0, 1.0))


def calibrate_pelvis(
    acc_mps2: FloatArray,
    *,
    forward: FloatArray,
    up_walking: FloatArray,
    standing: tuple[int, int] | None,
    direction_confidence: float,
) -> SegmentCalibration:
    """Sensor-to-pelvis rotation.

    Parameters
    ----------
    acc_mps2 : ndarray, shape (n_samples, 3)
        Pelvis specific force, sensor frame.
    forward : ndarray, shape (3,)
        Walking direction in sensor coordinates (:func:`gait.alignment.estimate_forward_axis`).
    up_walking : ndarray, shape (3,)
        Mean vertical while walking.
    standing : (start_idx, stop_idx) or None
        The standing reference (:func:`standing_reference`).
    direction_confidence : float
        Confidence of the walking direction and its sign.
    """
    notes: list[str] = []
    if standing is not None:
        up, spread_deg, still_quality = _standing_up(acc_mps2, standing)
        method: CalibrationMethod = "standing"
        if still_quality < 0.8:
            notes.append(f"the standing period was not still (gravity direction varied by {spread_deg:.1f}° SD)")
    else:
        up, still_quality, method = _unit(up_walking), 1.0, "walking"
        notes.append("no quiet standing before or after walking: pelvic tilt is relative to the walking mean")
    rotation = _frame(up, forward, AP)
    if direction_confidence < 0.5:
        notes.append(f"walking direction uncertain (confidence {direction_confidence:.2f})")
    return SegmentCalibration(PELVIS, rotation, method, float(min(still_quality, direction_confidence)), tuple(notes))


def calibrate_thigh(
    acc_mps2: FloatArray,
    gyr_dps: FloatArray,
    *,
    placement: str,
    walking: BoolArray,
    standing: tuple[int, int] | None,
    sampling_rate_hz: float,
) -> SegmentCalibration:
    """Sensor-to-thigh rotation (see the module docstring).

    Parameters
    ----------
    acc_mps2, gyr_dps : ndarray, shape (n_samples, 3)
        Thigh sensor, sensor frame, gaps bridged.
    placement : str
    walking : ndarray of bool, shape (n_samples,)
        Samples of straight walking to learn the flexion axis from.
    standing : (start_idx, stop_idx) or None
    sampling_rate_hz : float
    """
    notes: list[str] = []
    if np.count_nonzero(walking) < 2 * sampling_rate_hz:
        return SegmentCalibration(placement, np.eye(3), "walking", 0.0, ("less than 2 s of walking to calibrate on",))
    g = gyr_dps[walking]
    eigval, eigvec = np.linalg.eigh(g.T @ g)
    axis = eigvec[:, -1]
    dominance = float(eigval[-1] / max(eigval.sum(), 1e-12))
    dominance_quality = float(np.clip((dominance - 0.5) / 0.3, 0.0, 1.0))
    if dominance_quality < 0.5:
        notes.append(f"no dominant flexion axis (share of rotation {dominance:.2f}): is the sensor on the thigh?")
    # Flexion is a rotation about −ml; the swing's flexion burst makes the flexion rate positively skewed.
    skew = float(np.nan_to_num(stats.skew(-(g @ axis))))
    if skew < 0:
        axis, skew = -axis, -skew
    sign_quality = float(np.clip(skew / 0.4, 0.0, 1.0))
    if sign_quality < 0.5:
        notes.append(f"flexion and extension could not be told apart (flexion-rate skewness {skew:.2f})")
    method: CalibrationMethod
    if standing is not None:
        up, _, still_quality = _standing_up(acc_mps2, standing)
        method = "standing"
        off_plane_deg = float(np.degrees(np.arcsin(np.clip(abs(axis @ up), 0.0, 1.0))))
        if off_plane_deg > 20.0:
            notes.append(
                f"the flexion axis is {off_plane_deg:.0f}° out of the horizontal plane of standing: the sensor may "
                "have moved after the standing calibration"
            )
        plane_quality = float(np.clip(1.0 - (off_plane_deg - 20.0) / 20.0, 0.0, 1.0))
    else:
        up = _unit(acc_mps2[walking].mean(axis=-2))
        method, still_quality, plane_quality = "walking", 1.0, 1.0
        notes.append(
            "no quiet standing: hip angles are relative to the walking mean, so ranges are reported but peak "
            "flexion and extension are not"
        )
    rotation = _frame(up, axis, ML)
    quality = min(dominance_quality, sign_quality, still_quality, plane_quality)
    return SegmentCalibration(placement, rotation, method, float(quality), tuple(notes))


def contralateral_drop_deg(obliquity_deg: FloatArray, side: IntArray, step_fraction: FloatArray) -> FloatArray:
    """Peak contralateral pelvic drop over each stride's weight-bearing step (CLINICAL.md §4 F4).

    The stance side's step runs from its initial contact to the opposite initial contact (loading response and
    single support; lower-back final-contact timing is not validated, so single support is not cut out of it).
    While the left foot bears weight, the right side of the pelvis drops: obliquity (left side up +) rises; for the
    right side the sign is reversed. The drop is the peak of the signed obliquity over that step.

    Parameters
    ----------
    obliquity_deg : ndarray, shape (m, n_points)
        Obliquity over each stride, 0-100 % of the stride's cycle inclusive, relative to level standing (or, without
        a standing calibration, to the stride's mean).
    side : ndarray of int, shape (m,)
        Side of each stride: 0 left, 1 right, −1 unknown.
    step_fraction : ndarray, shape (m,)
        Where the opposite initial contact falls, as a fraction of the stride (NaN when unknown).

    Returns
    -------
    ndarray, shape (m,)
        Peak contralateral drop in degrees; NaN for an unknown side or step.
    """
    n_points = obliquity_deg.shape[-1]
    position = np.linspace(0.0, 1.0, n_points)
    sign = np.where(side == 0, 1.0, np.where(side == 1, -1.0, np.nan))
    inside = position[None, :] <= np.nan_to_num(step_fraction, nan=-1.0)[:, None]
    signed = np.where(inside, sign[:, None] * obliquity_deg, -np.inf)
    peak = signed.max(axis=-1, initial=-np.inf)
    return np.asarray(np.where(np.isfinite(peak), peak, np.nan), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class KinematicStrides:
    """Per-stride kinematics, one row per stride of the :class:`gait.spatiotemporal.StrideTable` (degrees).

    Pelvis columns are filled for strides of either side; hip and thigh columns hold the stride's own side. NaN where
    not computable.

    Attributes
    ----------
    start_idx, stop_idx, side : ndarray of int, shape (m,)
    tilt_rom_deg, obliquity_rom_deg, rotation_rom_deg, mean_tilt_deg : ndarray, shape (m,)
    pelvic_drop_deg : ndarray, shape (m,)
        Peak contralateral pelvic drop during the stride's side's weight-bearing step
        (:func:`contralateral_drop_deg`).
    hip_peak_flexion_deg, hip_peak_extension_deg, hip_sagittal_rom_deg, hip_frontal_rom_deg : ndarray, shape (m,)
        ``hip_peak_extension_deg`` is the largest extension past neutral as a positive number, 0 if none.
    thigh_peak_extension_deg, thigh_rom_deg, pelvic_contribution_deg : ndarray, shape (m,)
        Peak thigh extension (signed: negative if the thigh never passes vertical), thigh inclination range, and
        peak thigh extension minus peak hip extension (signed).
    pelvis_used, hip_used : ndarray of bool, shape (m,)
    pelvis_reason, hip_reason : tuple of str
        Why a stride was not used ("" when used).
    """

    start_idx: IntArray
    stop_idx: IntArray
    side: IntArray
    tilt_rom_deg: FloatArray
    obliquity_rom_deg: FloatArray
    rotation_rom_deg: FloatArray
    mean_tilt_deg: FloatArray
    pelvic_drop_deg: FloatArray
    hip_peak_flexion_deg: FloatArray
    hip_peak_extension_deg: FloatArray
    hip_sagittal_rom_deg: FloatArray
    hip_frontal_rom_deg: FloatArray
    thigh_peak_extension_deg: FloatArray
    thigh_rom_deg: FloatArray
    pelvic_contribution_deg: FloatArray
    pelvis_used: BoolArray
    hip_used: BoolArray
    pelvis_reason: tuple[str, ...]
    hip_reason: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CycleCurves:
    """Gait-cycle curves of one side: 0-100 % from that side's initial contact in 101 points.

    Attributes
    ----------
    names : tuple of str
        Angle names, one per column.
    mean_deg, sd_deg : ndarray, shape (101, n_angles)
    n_strides : int
    """

    names: tuple[str, ...]
    mean_deg: FloatArray
    sd_deg: FloatArray
    n_strides: int


@dataclass(frozen=True, slots=True)
class KinematicsResult:
    """Pelvis and hip kinematics of one recording.

    Attributes
    ----------
    calibrations : mapping of placement to SegmentCalibration
    pelvis_deg : ndarray, shape (n_samples, 3)
        Tilt, obliquity, rotation per sample (NaN when not reported).
    hip_flexion_deg, hip_frontal_deg, thigh_inclination_deg : ndarray, shape (2, n_samples)
        Per side (left, right); NaN rows for a side without a usable thigh sensor.
    strides : KinematicStrides
    pelvis_curves, hip_curves : mapping of side to CycleCurves
        Pelvis curves per side's cycle; hip curves (flexion, frontal, thigh inclination) per side.
    pelvis_available, mean_tilt_available : bool
    hip_available : tuple of bool
        Per side.
    hip_absolute_available : tuple of bool
        Per side: peak flexion/extension and thigh inclination peaks need standing calibrations of the pelvis and
        the thigh; without them only ranges and mean-free curves are reported.
    thighs_swapped : bool
        The thigh sensors moved like the opposite side and were exchanged for the analysis.
    warnings : tuple of str
    """

    calibrations: Mapping[str, SegmentCalibration]
    pelvis_deg: FloatArray
    hip_flexion_deg: FloatArray
    hip_frontal_deg: FloatArray
    thigh_inclination_deg: FloatArray
    strides: KinematicStrides
    pelvis_curves: Mapping[str, CycleCurves]
    hip_curves: Mapping[str, CycleCurves]
    pelvis_available: bool
    mean_tilt_available: bool
    hip_available: tuple[bool, bool]
    hip_absolute_available: tuple[bool, bool]
    thighs_swapped: bool
    warnings: tuple[str, ...] = field(default=())


def _robust_outliers(curves: FloatArray, *, z_max: float, floor_deg: float) -> BoolArray:
    """Strides whose curve lies far from the median curve, shape (m,).

    ``curves`` has shape (m, n_points, k); the distance is the RMS difference from the median curve; a stride is an
    outlier when its robust z-score exceeds ``z_max`` and its distance exceeds ``floor_deg``.
    """
    if curves.shape[0] < 5:
        return np.zeros(curves.shape[0], dtype=bool)
    median = np.median(curves, axis=0)
    d = np.sqrt(np.mean((curves - median) ** 2, axis=(1, 2)))
    mad = 1.4826 * np.median(np.abs(d - np.median(d)))
    z = (d - np.median(d)) / max(mad, 1e-9)
    return np.asarray((z > z_max) & (d > floor_deg), dtype=bool)


def _curves(curves: FloatArray, names: tuple[str, ...]) -> CycleCurves:
    n = curves.shape[0]
    k = curves.shape[-1]
    if n == 0:
        nan = np.full((curves.shape[1], k), np.nan)
        return CycleCurves(names, nan, nan.copy(), 0)
    sd = curves.std(axis=0, ddof=1) if n > 1 else np.full(curves.shape[1:], np.nan)
    return CycleCurves(names, curves.mean(axis=0), sd, n)


class KinematicsEstimator:
    """Pelvis and hip angles from the orientation of the sacral and thigh sensors.

    Parameters
    ----------
    orientation : OrientationEstimator, optional
    n_cycle_points : int
        Points of the gait-cycle curves (0-100 % inclusive).
    min_calibration_quality : float
        Below this, a segment's angles are not reported.
    min_standing_s : float
        Shortest quiet standing accepted as the neutral-posture calibration.
    joint_heading_window_s : float
        Window over which the thigh heading is aligned to the pelvis.
    outlier_z : float
        Robust z-score above which a stride's curve is an outlier.
    moved_deg : float
        A stride whose mean gravity direction (or, for a thigh, its flexion axis) in sensor coordinates deviates by
        more than this from the recording's majority is taken as "sensor moved" and excluded.
    """

    def __init__(
        self,
        *,
        orientation: OrientationEstimator | None = None,
        n_cycle_points: int = 101,
        min_calibration_quality: float = 0.3,
        min_standing_s: float = 2.0,
        joint_heading_window_s: float = 4.0,
        outlier_z: float = 4.0,
        moved_deg: float = 12.0,
    ) -> None:
        if n_cycle_points < 11:
            raise AnalysisError(f"n_cycle_points: expected at least 11, got {n_cycle_points}")
        self.orientation = orientation or OrientationEstimator()
        self.n_cycle_points = n_cycle_points
        self.min_calibration_quality = min_calibration_quality
        self.min_standing_s = min_standing_s
        self.joint_heading_window_s = joint_heading_window_s
        self.outlier_z = outlier_z
        self.moved_deg = moved_deg

    # ------------------------------------------------------------------ calibration
    def calibrate(
        self,
        acc_mps2: Mapping[str, FloatArray],
        gyr_dps: Mapping[str, FloatArray],
        sampling_rate_hz: float,
        *,
        standing: BoolArray,
        walking: BoolArray,
        forward: FloatArray,
        up_walking: FloatArray,
        direction_confidence: float,
    ) -> dict[str, SegmentCalibration]:
        """Calibrate every sensor present (see the module docstring).

        Parameters
        ----------
        acc_mps2, gyr_dps : mapping of placement to ndarray, shape (n_samples, 3)
            Sensor-frame signals with gaps bridged.
        sampling_rate_hz : float
        standing, walking : ndarray of bool, shape (n_samples,)
            Quiet standing (from the pelvis) and straight walking.
        forward, up_walking : ndarray, shape (3,)
            Pelvis walking direction and walking vertical, sensor coordinates.
        direction_confidence : float
        """
        pelvis_acc = acc_mps2[PELVIS]
        reference = standing_reference(
            standing, walking, up_walking, pelvis_acc, sampling_rate_hz, min_s=self.min_standing_s
        )
        out = {
            PELVIS: calibrate_pelvis(
                pelvis_acc,
                forward=forward,
                up_walking=up_walking,
                standing=reference,
                direction_confidence=direction_confidence,
            )
        }
        for name in _THIGHS:
            if name in acc_mps2:
                thigh_still = reference
                if reference is not None:
                    rate = np.linalg.norm(gyr_dps[name][reference[0] : reference[1]], axis=-1)
                    if np.median(rate) > 10.0:  # the thigh moved while the pelvis stood still
                        thigh_still = None
                out[name] = calibrate_thigh(
                    acc_mps2[name],
                    gyr_dps[name],
                    placement=name,
                    walking=walking,
                    standing=thigh_still,
                    sampling_rate_hz=sampling_rate_hz,
                )
        return out

    # ------------------------------------------------------------------ angles
    def orientations(
        self,
        acc_mps2: Mapping[str, FloatArray],
        gyr_dps: Mapping[str, FloatArray],
        sampling_rate_hz: float,
        *,
        states: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Orientation]:
        """Orientation of every sensor; ``states`` continues a stream (see :class:`OrientationEstimator`)."""
        return {
            name: self.orientation.estimate(
                acc_mps2[name], gyr_dps[name], sampling_rate_hz, state=(states or {}).get(name)
            )
            for name in acc_mps2
        }

    def _segment(
        self,
        orientation: Orientation,
        calibration: SegmentCalibration,
        acc_mps2: FloatArray,
        stride_samples: int,
        steady: BoolArray | None,
    ) -> Rotation:
        levelled = level_over_strides(orientation.quat_xyzw, acc_mps2, stride_samples, steady=steady)
        segment_to_sensor = Rotation.from_matrix(calibration.rotation).inv().as_quat()
        return Rotation.from_quat(quat_multiply(levelled, segment_to_sensor))

    def angles(
        self,
        acc_mps2: Mapping[str, FloatArray],
        orientations: Mapping[str, Orientation],
        calibrations: Mapping[str, SegmentCalibration],
        sampling_rate_hz: float,
        *,
        stride_samples: int,
        steady: BoolArray | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per-sample angles.

        Parameters
        ----------
        acc_mps2, orientations, calibrations : mappings by placement (pelvis required)
            Specific force (sensor frame), filtered orientation and calibration of each sensor.
        sampling_rate_hz : float
        stride_samples : int
            Typical stride length in samples: the inclination is levelled over one stride
            (:func:`gait.orientation.level_over_strides`) and the heading is the yaw averaged over one stride.
        steady : ndarray of bool, shape (n,), optional
            Samples whose one-stride window is steady straight walking, where the levelling may trust the mean
            acceleration (not while starting, stopping or turning); default: every sample.

        Returns
        -------
        pelvis_deg : ndarray, shape (n, 3)
            Tilt, obliquity, rotation (rotation relative to the stride-averaged heading).
        yaw_deg : ndarray, shape (n,)
            Unwrapped pelvis yaw in the filter's earth frame (heading + rotation).
        hip_flexion_deg, hip_frontal_deg, thigh_inclination_deg : ndarray, shape (2, n)
            NaN rows for absent thighs.
        """
        pelvis = self._segment(orientations[PELVIS], calibrations[PELVIS], acc_mps2[PELVIS], stride_samples, steady)
        euler = pelvis.as_euler("ZXY", degrees=True)
        yaw = np.degrees(np.unwrap(np.radians(euler[:, 0])))
        width = max(3, int(stride_samples))
        heading = ndimage.uniform_filter1d(yaw, width, mode="nearest")
        pelvis_deg = np.stack([euler[:, 2], euler[:, 1], yaw - heading], axis=-1)
        n = yaw.size
        hip_flex = np.full((2, n), np.nan)
        hip_frontal = np.full((2, n), np.nan)
        thigh_incl = np.full((2, n), np.nan)
        ml_p = pelvis.apply(np.eye(3)[ML])
        window = max(3, round(self.joint_heading_window_s * sampling_rate_hz))
        heading_rad = np.radians(heading)
        for row, name in enumerate(_THIGHS):
            if name not in orientations or name not in calibrations:
                continue
            thigh = self._segment(orientations[name], calibrations[name], acc_mps2[name], stride_samples, steady)
            ml_t = thigh.apply(np.eye(3)[ML])
            # Hip joint: the thigh's flexion axis is parallel to the pelvis ML axis on average.
            z = (ml_p[:, 0] + 1j * ml_p[:, 1]) * np.conj(ml_t[:, 0] + 1j * ml_t[:, 1])
            z_s = ndimage.uniform_filter1d(z.real, window, mode="nearest") + 1j * ndimage.uniform_filter1d(
                z.imag, window, mode="nearest"
            )
            about_z = np.angle(z_s)[:, None] * np.eye(3)[SI]
            s_aligned = Rotation.from_rotvec(about_z).apply(thigh.apply(np.eye(3)[SI]))  # long axis, to the hip
            s_pelvis = pelvis.inv().apply(s_aligned)
            hip_flex[row] = -np.degrees(np.arctan2(s_pelvis[:, AP], s_pelvis[:, SI]))
            ml_sign = 1.0 if row == 0 else -1.0
            hip_frontal[row] = -ml_sign * np.degrees(np.arcsin(np.clip(s_pelvis[:, ML], -1.0, 1.0)))
            forward = s_aligned[:, 0] * np.cos(heading_rad) + s_aligned[:, 1] * np.sin(heading_rad)
            thigh_incl[row] = np.degrees(np.arctan2(-forward, s_aligned[:, 2]))
        return pelvis_deg, yaw, hip_flex, hip_frontal, thigh_incl

    # ------------------------------------------------------------------ strides
    def _moved(
        self, acc_mps2: FloatArray, gyr_dps: FloatArray | None, start: IntArray, stop: IntArray, ok: BoolArray
    ) -> BoolArray:
        """Strides in which the sensor sat differently on its segment than in most strides, shape (m,).

        The mean specific force over a stride is gravity in sensor coordinates (plus a little speed-dependent
        posture); for a thigh the flexion axis is another fixed direction. A stride whose direction deviates from
        the majority by more than ``moved_deg`` (``2 * moved_deg`` for the flexion axis) is flagged.
        """
        moved = np.zeros(start.size, dtype=bool)
        if np.count_nonzero(ok) < 5:
            return moved
        length = (stop + 1 - start).astype(np.float64)[:, None]
        cum = np.concatenate([np.zeros((1, 3)), np.cumsum(acc_mps2, axis=0)])
        g = _unit((cum[stop + 1] - cum[start]) / length)
        majority = _unit(np.median(g[ok], axis=0))
        moved |= _angle_deg(g, majority[None, :]) > self.moved_deg
        if gyr_dps is not None:
            outer = np.einsum("ni,nj->nij", gyr_dps, gyr_dps).reshape(-1, 9)
            cum_o = np.concatenate([np.zeros((1, 9)), np.cumsum(outer, axis=0)])
            moments = ((cum_o[stop + 1] - cum_o[start]) / length).reshape(-1, 3, 3)
            axes = np.linalg.eigh(moments)[1][..., -1]
            axes = axes * np.sign(axes @ axes[ok][0])[:, None]
            major = _unit(np.median(axes[ok], axis=0))
            off = np.degrees(np.arccos(np.clip(np.abs(axes @ major), 0.0, 1.0)))
            moved |= off > 2.0 * self.moved_deg
        return moved

    def run(
        self,
        acc_mps2: Mapping[str, FloatArray],
        gyr_dps: Mapping[str, FloatArray],
        sampling_rate_hz: float,
        *,
        calibrations: Mapping[str, SegmentCalibration],
        stride_start_idx: IntArray,
        stride_stop_idx: IntArray,
        stride_side: IntArray,
        stride_straight: BoolArray,
        stride_bout: IntArray,
        usable: Mapping[str, BoolArray],
        ic_idx: IntArray,
        ic_side: IntArray,
        orientations: Mapping[str, Orientation],
    ) -> KinematicsResult:
        """Angles per sample and per stride, and gait-cycle curves.

        Parameters
        ----------
        acc_mps2, gyr_dps : mapping of placement to ndarray, shape (n_samples, 3)
            Sensor-frame signals with gaps bridged; a pelvis sensor is required.
        sampling_rate_hz : float
        calibrations : mapping of placement to SegmentCalibration
            From :meth:`calibrate`.
        stride_start_idx, stride_stop_idx, stride_side, stride_straight, stride_bout : ndarray, shape (m,)
            The strides (:class:`gait.spatiotemporal.StrideTable`).
        usable : mapping of placement to ndarray of bool, shape (n_samples,)
            Samples that are real or inside a bridgeable gap.
        ic_idx, ic_side : ndarray of int
            Initial contacts and their side (0 left, 1 right, −1 unknown), to check the thigh labels.
        orientations : mapping of placement to Orientation
            From :meth:`orientations`.
        """
        fs = sampling_rate_hz
        warnings: list[str] = []
        start, stop, side = stride_start_idx, stride_stop_idx, stride_side
        m = start.size
        strides_len = stop - start
        stride_samples = int(np.median(strides_len)) if m else round(1.1 * fs)

        pelvis_cal = calibrations[PELVIS]
        pelvis_ok = pelvis_cal.quality >= self.min_calibration_quality
        if not pelvis_ok:
            warnings.append(
                f"pelvis angles not reported: sensor-to-pelvis calibration too poor (quality {pelvis_cal.quality:.2f}"
                f"): {'; '.join(pelvis_cal.notes) or 'unknown reason'}"
            )
        present = [name in acc_mps2 for name in _THIGHS]
        thigh_ok = [False, False]
        for row, name in enumerate(_THIGHS):
            if not present[row]:
                continue
            cal = calibrations[name]
            thigh_ok[row] = pelvis_ok and cal.quality >= self.min_calibration_quality
            if not thigh_ok[row]:
                warnings.append(
                    f"{SIDES[row]} hip angles not reported: sensor-to-thigh calibration too poor (quality "
                    f"{cal.quality:.2f}): {'; '.join(cal.notes) or 'pelvis calibration failed'}"
                )
        if not any(present):
            warnings.append("no thigh sensors: pelvis angles only (hip angles need left_thigh and right_thigh sensors)")
        elif not all(present):
            missing = SIDES[present.index(False)]
            warnings.append(f"no {missing} thigh sensor: {missing} hip angles not reported")

        usable_cal = {k: v for k, v in calibrations.items() if k == PELVIS or thigh_ok[_THIGHS.index(k)]}
        # Steady walking: straight strides at least one stride away from the start and the end of their bout
        # (starting, stopping and turning accelerate the body, which the levelling would take for a tilt), shrunk
        # by half a stride so that every trusted sample's one-stride window lies inside steady walking.
        n = acc_mps2[PELVIS].shape[0]
        steady = np.zeros(n, dtype=bool)
        if m:
            first = np.full(int(stride_bout.max()) + 1, np.iinfo(np.int64).max)
            last = np.full(int(stride_bout.max()) + 1, -1)
            np.minimum.at(first, stride_bout, start)
            np.maximum.at(last, stride_bout, stop)
            core = (
                stride_straight
                & (start >= first[stride_bout] + stride_samples)
                & (stop <= last[stride_bout] - stride_samples)
            )
            window = np.ones(max(3, stride_samples) | 1, dtype=bool)
            steady = ndimage.binary_erosion(spans_mask(n, start[core], stop[core]), structure=window)
        pelvis_deg, yaw, hip_flex, hip_frontal, thigh_incl = self.angles(
            acc_mps2, orientations, usable_cal, fs, stride_samples=stride_samples, steady=steady
        )

        # Thigh labels against the pelvis-derived sides: at an IC the landing side's thigh is forward.
        swapped = False
        if all(thigh_ok) and ic_idx.size >= 6:
            known = ic_side >= 0
            lead = thigh_incl[0, ic_idx[known]] - thigh_incl[1, ic_idx[known]]
            expected = np.where(ic_side[known] == 0, 1.0, -1.0)
            agree = float(np.mean(np.sign(lead) == expected)) if known.any() else 1.0
            if known.sum() >= 6 and agree <= 0.2:
                swapped = True
                exchange = {LEFT_THIGH: RIGHT_THIGH, RIGHT_THIGH: LEFT_THIGH, PELVIS: PELVIS}
                orientations = {exchange[k]: v for k, v in orientations.items()}
                usable_cal = {exchange[k]: v for k, v in usable_cal.items()}
                calibrations = {exchange[k]: v for k, v in calibrations.items()}
                acc_mps2 = {exchange[k]: v for k, v in acc_mps2.items()}
                gyr_dps = {exchange[k]: v for k, v in gyr_dps.items()}
                usable = {exchange[k]: v for k, v in usable.items()}
                pelvis_deg, yaw, hip_flex, hip_frontal, thigh_incl = self.angles(
                    acc_mps2, orientations, usable_cal, fs, stride_samples=stride_samples, steady=steady
                )
                warnings.append(
                    f"the left_thigh sensor moves like a right thigh (at {100 * (1 - agree):.0f}% of initial contacts "
                    "the landing side's thigh was behind): the thigh files look swapped and were analysed with left "
                    "and right exchanged; check the labels"
                )
            elif known.sum() >= 6 and agree < 0.8:
                warnings.append(
                    f"thigh motion agrees with the pelvis-derived sides at only {100 * agree:.0f}% of initial contacts:"
                    " check the thigh labels and the side assignment"
                )

        pelvis_clean = spans_clear(~usable[PELVIS], start, stop)
        base = stride_straight & pelvis_clean
        pelvis_moved = self._moved(acc_mps2[PELVIS], None, start, stop, base)
        pelvis_reason = np.full(m, "", dtype=object)
        pelvis_reason[~stride_straight] = "turn"
        pelvis_reason[stride_straight & ~pelvis_clean] = "gap in the pelvis data"
        pelvis_moved &= pelvis_reason == ""
        pelvis_reason[pelvis_moved] = "pelvis sensor moved"
        if not pelvis_ok:
            pelvis_reason[pelvis_reason == ""] = "pelvis calibration too poor"
        if pelvis_moved.any():
            warnings.append(
                f"the pelvis sensor sat differently in {int(pelvis_moved.sum())} strides (moved or rotated on the "
                "body?): those strides are excluded"
            )

        # All angle curves at once: (m, n_points, 9).
        series = np.concatenate([pelvis_deg[:, :2], yaw[:, None], hip_flex.T, hip_frontal.T, thigh_incl.T], axis=-1)
        curves = (
            time_normalize(series, start, stop, n_points=self.n_cycle_points, endpoint=True)
            if m
            else np.zeros((0, self.n_cycle_points, 9))
        )
        yaw_c = curves[..., 2]
        yaw_c = yaw_c - np.linspace(yaw_c[:, :1], yaw_c[:, -1:], self.n_cycle_points, axis=1)[..., 0]
        yaw_c = yaw_c - yaw_c.mean(axis=1, keepdims=True)
        pelvis_c = np.stack([curves[..., 0], curves[..., 1], yaw_c], axis=-1)
        unused = pelvis_reason != ""
        outlier = np.zeros(m, dtype=bool)
        for code in (-1, 0, 1):  # per side: the obliquity and rotation curves of the two sides are mirrored
            group = ~unused & (side == code)
            if group.any():
                outlier[group] = _robust_outliers(pelvis_c[group], z_max=self.outlier_z, floor_deg=1.5)
        pelvis_reason[outlier] = "outlier (pelvis curve far from the others)"
        pelvis_used = np.asarray(pelvis_reason == "", dtype=bool)

        rom = np.ptp(pelvis_c, axis=1) if m else np.zeros((0, 3))
        nan = np.full(m, np.nan)
        tilt_rom = np.where(pelvis_ok, rom[:, 0], np.nan)
        obliquity_rom = np.where(pelvis_ok, rom[:, 1], np.nan)
        rotation_rom = np.where(pelvis_ok, rom[:, 2], np.nan)
        mean_tilt_ok = pelvis_ok and pelvis_cal.method == "standing"
        mean_tilt = pelvis_c[..., 0].mean(axis=1) if (m and mean_tilt_ok) else nan.copy()
        # Contralateral drop over each stride's weight-bearing step: the opposite IC is the first IC after the start.
        obliquity_c = pelvis_c[..., 1] if m else np.zeros((0, self.n_cycle_points))
        if pelvis_cal.method != "standing":
            obliquity_c = obliquity_c - obliquity_c.mean(axis=1, keepdims=True)
        step_fraction = np.full(m, np.nan)
        if m and ic_idx.size:
            after = np.minimum(np.searchsorted(ic_idx, start, side="right"), ic_idx.size - 1)
            opposite = ic_idx[after]
            ok_mid = (opposite > start) & (opposite < stop)
            step_fraction = np.where(ok_mid, (opposite - start) / np.maximum(strides_len, 1), np.nan)
        drop = np.where(pelvis_ok, contralateral_drop_deg(obliquity_c, side, step_fraction), np.nan)

        hip_peak_flex, hip_peak_ext = nan.copy(), nan.copy()
        hip_rom, hip_frontal_rom = nan.copy(), nan.copy()
        thigh_ext, thigh_rom, contribution = nan.copy(), nan.copy(), nan.copy()
        absolute = [False, False]
        hip_reason = np.full(m, "", dtype=object)
        hip_reason[side < 0] = "side unknown"
        for row in (0, 1):
            mine = side == row
            if not thigh_ok[row]:
                hip_reason[mine] = "no usable thigh sensor" if not present[row] else "thigh calibration too poor"
                continue
            name = _THIGHS[row]
            thigh_clean = spans_clear(~usable[name], start, stop)
            moved = self._moved(acc_mps2[name], gyr_dps[name], start, stop, base & thigh_clean & mine)
            r = hip_reason
            r[mine & (r == "")] = pelvis_reason[mine & (r == "")]
            r[mine & (r == "") & ~thigh_clean] = "gap in the thigh data"
            newly_moved = mine & (r == "") & moved
            r[newly_moved] = "thigh sensor moved"
            if newly_moved.any():
                warnings.append(
                    f"the {SIDES[row]} thigh sensor sat differently in {int(newly_moved.sum())} strides (slipped or "
                    "rotated on the thigh?): those strides are excluded"
                )
            flex_c = curves[..., 3 + row]
            frontal_c = curves[..., 5 + row]
            incl_c = curves[..., 7 + row]
            ok_rows = mine & (r == "")
            if ok_rows.any():
                hip_c = np.stack([flex_c[ok_rows], incl_c[ok_rows]], axis=-1)
                out = np.zeros(m, dtype=bool)
                out[ok_rows] = _robust_outliers(hip_c, z_max=self.outlier_z, floor_deg=3.0)
                r[out] = "outlier (hip curve far from the others)"
            hip_rom[mine] = np.ptp(flex_c[mine], axis=1)
            hip_frontal_rom[mine] = np.ptp(frontal_c[mine], axis=1)
            thigh_rom[mine] = np.ptp(incl_c[mine], axis=1)
            absolute[row] = pelvis_cal.method == "standing" and calibrations[name].method == "standing"
            if absolute[row]:
                hip_peak_flex[mine] = flex_c[mine].max(axis=1)
                hip_peak_ext[mine] = np.maximum(0.0, -flex_c[mine].min(axis=1))
                thigh_ext[mine] = -incl_c[mine].min(axis=1)
                contribution[mine] = flex_c[mine].min(axis=1) - incl_c[mine].min(axis=1)
        hip_used = np.asarray(hip_reason == "", dtype=bool)
        relative = [SIDES[row] for row in (0, 1) if thigh_ok[row] and not absolute[row]]
        if relative:
            warnings.append(
                f"no quiet standing to calibrate on: {' and '.join(relative)} hip angles are relative to the walking "
                "mean (ranges reported, peak flexion and extension not); stand still for 3 s before walking"
            )

        pelvis_curves: dict[str, CycleCurves] = {}
        hip_curves: dict[str, CycleCurves] = {}
        for row, name in enumerate(SIDES):
            sel = pelvis_used & (side == row)
            pelvis_curves[name] = _curves(pelvis_c[sel] if pelvis_ok else pelvis_c[:0], PELVIS_ANGLES)
            sel_h = hip_used & (side == row)
            hip_curves[name] = _curves(
                np.stack([curves[..., 3 + row], curves[..., 5 + row], curves[..., 7 + row]], axis=-1)[sel_h],
                ("hip_flexion", "hip_frontal", "thigh_inclination"),
            )
        if not pelvis_ok:
            pelvis_deg = np.full_like(pelvis_deg, np.nan)
        strides_out = KinematicStrides(
            start_idx=start,
            stop_idx=stop,
            side=side,
            tilt_rom_deg=tilt_rom,
            obliquity_rom_deg=obliquity_rom,
            rotation_rom_deg=rotation_rom,
            mean_tilt_deg=mean_tilt,
            pelvic_drop_deg=drop,
            hip_peak_flexion_deg=hip_peak_flex,
            hip_peak_extension_deg=hip_peak_ext,
            hip_sagittal_rom_deg=hip_rom,
            hip_frontal_rom_deg=hip_frontal_rom,
            thigh_peak_extension_deg=thigh_ext,
            thigh_rom_deg=thigh_rom,
            pelvic_contribution_deg=contribution,
            pelvis_used=pelvis_used,
            hip_used=hip_used,
            pelvis_reason=tuple(str(x) for x in pelvis_reason),
            hip_reason=tuple(str(x) for x in hip_reason),
        )
        return KinematicsResult(
            calibrations=MappingProxyType(dict(calibrations)),
            pelvis_deg=pelvis_deg,
            hip_flexion_deg=hip_flex,
            hip_frontal_deg=hip_frontal,
            thigh_inclination_deg=thigh_incl,
            strides=strides_out,
            pelvis_curves=MappingProxyType(pelvis_curves),
            hip_curves=MappingProxyType(hip_curves),
            pelvis_available=pelvis_ok,
            mean_tilt_available=mean_tilt_ok,
            hip_available=(thigh_ok[0], thigh_ok[1]),
            hip_absolute_available=(absolute[0], absolute[1]),
            thighs_swapped=swapped,
            warnings=tuple(warnings),
        )
