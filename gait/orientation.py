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
from vqf import VQF

from gait.errors import AnalysisError

__all__ = ["Orientation", "OrientationEstimator"]

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
