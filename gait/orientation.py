"""Magnetometer-free orientation of each sensor over time.

Indoor magnetic fields are unreliable, so orientation comes from the gyroscope and the accelerometer only: the
inclination (which way is up) is absolute, the heading drifts slowly. The filter is VQF (Laidig & Seel, "VQF: Highly
accurate IMU orientation estimation with bias estimation and magnetic disturbance rejection", Information Fusion 91,
2023), in its 6D mode: gyroscope strapdown integration corrected towards a low-passed accelerometer, with gyroscope
bias estimated at rest and in motion. It is a compiled, well-kept library (``vqf`` on PyPI, MIT); one call filters a
whole array without a Python loop per sample. Its reported 6D inclination error is about 1° RMS in dynamic motion
(CLINICAL.md §3 quotes < 1.7° dynamic RMS for Madgwick, the older filter it improves on).

The filter runs forward in time and its state after the last sample is returned, so a stream analysed in chunks
gives exactly the orientation of one call over the whole recording (the live path of the dashboard issue).
Heading drift is left to :mod:`gait.kinematics`, which needs only inclinations and the heading *difference*
between the pelvis and a thigh (constrained by the hip joint).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial.transform import Rotation
from vqf import VQF

from gait.errors import AnalysisError

__all__ = ["Orientation", "OrientationEstimator", "level_over_strides", "quat_multiply"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Orientation:
    """Orientation of one sensor, sample by sample.

    Attributes
    ----------
    quat_xyzw : ndarray, shape (n_samples, 4)
        Unit quaternions (scalar last, as :class:`scipy.spatial.transform.Rotation` takes them) rotating sensor
        coordinates into an earth frame whose z axis points up; the earth frame's heading is arbitrary and drifts.
    gyr_bias_dps : ndarray, shape (3,)
        Gyroscope bias estimate after the last sample, in deg/s (sensor frame).
    rest : ndarray of bool, shape (n_samples,)
        Samples the filter judged at rest.
    state : mapping
        Filter state after the last sample; pass it to :meth:`OrientationEstimator.estimate` to continue a stream.
    """

    quat_xyzw: FloatArray
    gyr_bias_dps: FloatArray
    rest: NDArray[np.bool_]
    state: Mapping[str, Any] = field(repr=False)


class OrientationEstimator:
    """VQF 6D orientation filter.

    Parameters
    ----------
    tau_acc_s : float
        Time constant of the accelerometer correction, in s. Longer trusts the gyroscope more; VQF's default of 3 s
        suits walking, where the accelerometer sees ±3 m/s² of motion around gravity at 1-2 Hz.
    motion_bias_estimation, rest_bias_estimation : bool
        Estimate the gyroscope bias during motion and at rest.
    """

    def __init__(
        self, *, tau_acc_s: float = 3.0, motion_bias_estimation: bool = True, rest_bias_estimation: bool = True
    ) -> None:
        if not 0.1 <= tau_acc_s <= 60.0:
            raise AnalysisError(f"tau_acc_s: expected 0.1–60 s, got {tau_acc_s}")
        self.tau_acc_s = tau_acc_s
        self.motion_bias_estimation = motion_bias_estimation
        self.rest_bias_estimation = rest_bias_estimation

    def estimate(
        self,
        acc_mps2: FloatArray,
        gyr_dps: FloatArray,
        sampling_rate_hz: float,
        *,
        state: Mapping[str, Any] | None = None,
    ) -> Orientation:
        """Filter one sensor's samples.

        Parameters
        ----------
        acc_mps2 : ndarray, shape (n_samples, 3)
            Specific force in m/s², sensor frame, finite (bridge gaps first).
        gyr_dps : ndarray, shape (n_samples, 3)
            Angular rate in deg/s, sensor frame, finite.
        sampling_rate_hz : float
        state : mapping, optional
            State returned by a previous call on the preceding samples of the same sensor.

        Returns
        -------
        Orientation
        """
        f = VQF(
            1.0 / sampling_rate_hz,
            tauAcc=self.tau_acc_s,
            motionBiasEstEnabled=self.motion_bias_estimation,
            restBiasEstEnabled=self.rest_bias_estimation,
        )
        if state is not None:
            f.state = {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in state.items()}
        out = f.updateBatch(
            np.ascontiguousarray(np.radians(gyr_dps), dtype=np.float64),
            np.ascontiguousarray(acc_mps2, dtype=np.float64),
        )
        quat_wxyz = np.asarray(out["quat6D"], dtype=np.float64)
        quat = np.ascontiguousarray(quat_wxyz[:, [1, 2, 3, 0]])
        quat.setflags(write=False)
        rest = np.asarray(out["restDetected"], dtype=bool)
        rest.setflags(write=False)
        bias_rad = np.asarray(f.getBiasEstimate()[0], dtype=np.float64)
        return Orientation(
            quat_xyzw=quat,
            gyr_bias_dps=np.degrees(bias_rad),
            rest=rest,
            state=MappingProxyType(dict(f.state)),
        )


def quat_multiply(a_xyzw: FloatArray, b_xyzw: FloatArray) -> FloatArray:
    """Hamilton product ``a ⊗ b`` of quaternions (scalar last), broadcast over leading axes: the rotation ``b``
    then ``a``, as ``Rotation(a) * Rotation(b)``.

    scipy's ``Rotation.__mul__`` (1.17) takes about 0.23 s for 360 000 pairs; this whole-array product takes a
    few ms, and the kinematics compose every sample's orientation several times.

    Parameters
    ----------
    a_xyzw, b_xyzw : ndarray, shape (..., 4)

    Returns
    -------
    ndarray, shape (..., 4)
        Unit quaternions when the inputs are.
    """
    ax, ay, az, aw = np.moveaxis(np.asarray(a_xyzw, dtype=np.float64), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b_xyzw, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def level_over_strides(
    quat_xyzw: FloatArray, acc_mps2: FloatArray, window_samples: int, *, steady: NDArray[np.bool_] | None = None
) -> FloatArray:
    """Remove the slow inclination error of a filtered orientation using the periodicity of walking.

    Over one stride a walker's mean acceleration is close to zero, so the specific force rotated into the earth
    frame and averaged over one stride points straight up, whatever the segment does within the stride. When the
    filter's inclination is off by a slowly varying error (gyroscope bias against a 3 s accelerometer correction
    gives about ``bias × τ``: 2.5° for 0.8 deg/s), that average tilts away from vertical by exactly that error. Each
    sample's orientation is rotated by the smallest rotation that brings the centred one-stride average back to
    vertical. Standing still the average is gravity itself, so the correction equals the accelerometer's
    inclination. Heading is left unchanged (the correction axis is horizontal). While turning, the mean
    acceleration is centripetal (``v²/r``: 0.75 m/s², 4°, in a brisk 180° turn), so the correction is taken from
    the steady samples only and interpolated across the others.

    Parameters
    ----------
    quat_xyzw : ndarray, shape (n_samples, 4)
        Sensor-to-earth orientation (earth z up).
    acc_mps2 : ndarray, shape (n_samples, 3)
        Specific force, sensor frame.
    window_samples : int
        One stride, in samples (the window's length cancels the stride-periodic accelerations).
    steady : ndarray of bool, shape (n_samples,), optional
        Samples of steady walking whose one-stride mean acceleration can be trusted; the correction is
        interpolated across the others, and not applied at all when there are none. Default: all.

    Returns
    -------
    ndarray, shape (n_samples, 4)
        Corrected quaternions.
    """
    rot = Rotation.from_quat(quat_xyzw)
    earth = rot.apply(np.array(acc_mps2, dtype=np.float64))  # a writable copy: scipy refuses read-only input
    mean_up = ndimage.uniform_filter1d(earth, max(1, int(window_samples)), axis=0, mode="nearest")
    mean_up /= np.linalg.norm(mean_up, axis=-1, keepdims=True)
    # Smallest rotation taking mean_up to +z: axis mean_up × z = (y, −x, 0), angle acos(z).
    axis = np.stack([mean_up[:, 1], -mean_up[:, 0], np.zeros(len(mean_up))], axis=-1)
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(norm[:, 0], mean_up[:, 2])
    rotvec = np.where(norm > 1e-12, axis / np.maximum(norm, 1e-12), 0.0) * angle[:, None]
    if steady is not None and not steady.any():
        return np.asarray(quat_xyzw, dtype=np.float64)  # nothing steady to trust: the filter alone
    if steady is not None and not steady.all():
        idx = np.arange(len(rotvec))
        for k in range(2):  # the z component is zero
            rotvec[~steady, k] = np.interp(idx[~steady], idx[steady], rotvec[steady, k])
    return quat_multiply(Rotation.from_rotvec(rotvec).as_quat(), quat_xyzw)
