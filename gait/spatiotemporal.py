"""Steps, strides and spatiotemporal parameters from gait events.

Conventions

* A **step** ``j`` runs from ``IC[j]`` to ``IC[j + 1]`` within a bout and belongs to the side of ``IC[j + 1]`` (a left
  step ends with a left heel strike).
* A **stride** of a side runs from one IC of that side to the next IC of the same side (``IC[j]`` to ``IC[j + 2]``).
* **Stance** of the side of ``IC[j]`` ends at the final contact detected after ``IC[j + 1]``; initial double support
  is ``IC[j] → FC`` after ``IC[j]``, terminal double support ``IC[j + 1] → FC`` after ``IC[j + 1]``.
* **Step length** from the inverted-pendulum model, ``k · 2·sqrt(2·l·h − h²)`` with ``h`` the vertical excursion of
  the sacral sensor during the step and ``l`` the sensor height (Zijlstra & Hof 2003, CLINICAL.md ref. [41]); ``k``
  defaults to 4.739/4 ≈ 1.18, the Mobilise-D all-cohort factor (Soltani et al. 2021, ref. [49]).
* **Harmonic ratio** per stride: sum of the even over the odd harmonic amplitudes (first 20 harmonics) for AP and
  vertical acceleration, odd over even for ML (Menz et al. 2003; CLINICAL.md refs. [39, 40]).

All functions are vectorised over steps/strides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from gait.frames import AP, ML, SI
from gait.preprocess import spans_clear, time_normalize

__all__ = [
    "StepTable",
    "StrideTable",
    "harmonic_ratios",
    "pendulum_step_length_m",
    "step_table",
    "stride_table",
    "vertical_excursion_m",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Soltani et al. 2021 / Mobilise-D (mobgap SlZijlstra, "MS_ALL"): 4.739 / 4.
DEFAULT_PENDULUM_FACTOR = 4.739 / 4


def vertical_excursion_m(
    vertical_acc_mps2: FloatArray, ic_idx: IntArray, sampling_rate_hz: float, *, highpass_hz: float = 0.3
) -> FloatArray:
    """Peak-to-peak vertical displacement of the sensor during each step of one bout.

    The vertical acceleration (gravity removed) over the bout is integrated twice with zero-phase high-pass
    filtering after each integration (drift removal), then the range within each step is taken.

    Parameters
    ----------
    vertical_acc_mps2 : ndarray, shape (n,)
        Vertical acceleration of the bout (first sample at ``ic_idx[0]``), gravity removed.
    ic_idx : ndarray of int, shape (m,)
        Initial contacts relative to the bout's first sample.
    sampling_rate_hz : float
    highpass_hz : float
        Drift-removal cut-off (below the stride frequency of slow walking).

    Returns
    -------
    ndarray, shape (m - 1,)
        Excursion ``h`` in metres for each step.
    """
    fs = sampling_rate_hz
    if ic_idx.size < 2:
        return np.zeros(0)
    sos = signal.butter(2, highpass_hz, btype="high", fs=fs, output="sos")
    padlen = min(vertical_acc_mps2.size - 1, 3 * (2 * len(sos) + 1))
    acc = signal.sosfiltfilt(sos, vertical_acc_mps2, axis=-1, padlen=padlen)
    vel = signal.sosfiltfilt(sos, np.cumsum(acc, axis=-1) / fs, axis=-1, padlen=padlen)
    pos = signal.sosfiltfilt(sos, np.cumsum(vel, axis=-1) / fs, axis=-1, padlen=padlen)
    # Range within each step by reduceat on maximum and minimum.
    starts = ic_idx[:-1]
    stops = ic_idx[1:]
    seg = np.concatenate([starts, [stops[-1]]])
    mx = np.maximum.reduceat(pos[: stops[-1] + 1], seg)[:-1]
    mn = np.minimum.reduceat(pos[: stops[-1] + 1], seg)[:-1]
    return np.asarray(mx - mn, dtype=np.float64)


def pendulum_step_length_m(
    excursion_m: FloatArray, sensor_height_m: float, *, factor: float = DEFAULT_PENDULUM_FACTOR
) -> FloatArray:
    """Inverted-pendulum step length ``factor · 2·sqrt(2·l·h − h²)`` for excursions ``h`` (m), sensor height ``l``."""
    h = np.clip(excursion_m, 0.0, sensor_height_m)
    return np.asarray(factor * 2.0 * np.sqrt(np.maximum(2.0 * sensor_height_m * h - h * h, 0.0)), dtype=np.float64)


def harmonic_ratios(acc_body_mps2: FloatArray, stride_start_idx: IntArray, stride_stop_idx: IntArray) -> FloatArray:
    """Harmonic ratio of each stride for (ap, ml, si).

    Parameters
    ----------
    acc_body_mps2 : ndarray, shape (n_samples, 3)
        Acceleration in the body frame.
    stride_start_idx, stride_stop_idx : ndarray of int, shape (m,)
        Stride boundaries.

    Returns
    -------
    ndarray, shape (m, 3)
        Even/odd for AP and SI, odd/even for ML.
    """
    m = stride_start_idx.size
    if m == 0:
        return np.zeros((0, 3))
    cycles = time_normalize(acc_body_mps2, stride_start_idx, stride_stop_idx, n_points=128)  # (m, 128, 3)
    amp = np.abs(np.fft.rfft(cycles, axis=-2))[:, 1:21, :]  # harmonics 1..20
    odd = amp[:, 0::2, :].sum(axis=-2)
    even = amp[:, 1::2, :].sum(axis=-2)
    hr = np.empty((m, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        hr[:, AP] = even[:, AP] / odd[:, AP]
        hr[:, SI] = even[:, SI] / odd[:, SI]
        hr[:, ML] = odd[:, ML] / even[:, ML]
    return hr


@dataclass(frozen=True, slots=True)
class StepTable:
    """One row per step (all bouts).

    Attributes
    ----------
    start_idx, stop_idx : ndarray of int
        The two ICs bounding the step.
    side : ndarray of int
        Side of the step (of the IC that ends it): 0 left, 1 right, -1 unknown.
    time_s, length_m, speed_mps : ndarray
        Step duration, inverted-pendulum length and speed.
    bout : ndarray of int
        Index of the bout the step belongs to.
    straight : ndarray of bool
        False when the step overlaps a turn.
    """

    start_idx: IntArray
    stop_idx: IntArray
    side: IntArray
    time_s: FloatArray
    length_m: FloatArray
    speed_mps: FloatArray
    bout: IntArray
    straight: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class StrideTable:
    """One row per stride (each side; strides of the two sides overlap).

    Attributes
    ----------
    start_idx, stop_idx : ndarray of int
        ICs of the same side bounding the stride.
    side : ndarray of int
        0 left, 1 right, -1 unknown.
    time_s, length_m, speed_mps : ndarray
        Stride duration, length (sum of its two steps) and speed.
    stance_pct, swing_pct, double_support_pct : ndarray
        Phases in % of the stride (NaN when a final contact is missing).
    harmonic_ratio : ndarray, shape (m, 3)
        Per-stride harmonic ratio (ap, ml, si).
    bout : ndarray of int
    straight : ndarray of bool
    """

    start_idx: IntArray
    stop_idx: IntArray
    side: IntArray
    time_s: FloatArray
    length_m: FloatArray
    speed_mps: FloatArray
    stance_pct: FloatArray
    swing_pct: FloatArray
    double_support_pct: FloatArray
    harmonic_ratio: FloatArray
    bout: IntArray
    straight: NDArray[np.bool_]


def step_table(
    ic_idx: IntArray,
    side: IntArray,
    step_length_m: FloatArray,
    bout: IntArray,
    turning: NDArray[np.bool_],
    sampling_rate_hz: float,
) -> StepTable:
    """Steps from the ICs of all bouts.

    Parameters
    ----------
    ic_idx, side, bout : ndarray of int, shape (n_ic,)
        Every IC, its side and its bout (ICs of a bout are contiguous and increasing).
    step_length_m : ndarray, shape (n_ic,)
        Length of the step *ending* at each IC (NaN for the first IC of a bout).
    turning : ndarray of bool, shape (n_samples,)
        Turning mask.
    sampling_rate_hz : float
    """
    same_bout = bout[1:] == bout[:-1]
    start = ic_idx[:-1][same_bout]
    stop = ic_idx[1:][same_bout]
    time_s = (stop - start) / sampling_rate_hz
    length = step_length_m[1:][same_bout]
    straight = spans_clear(turning, start, stop)
    return StepTable(
        start_idx=start.astype(np.int64),
        stop_idx=stop.astype(np.int64),
        side=side[1:][same_bout].astype(np.int64),
        time_s=time_s,
        length_m=length,
        speed_mps=length / time_s,
        bout=bout[1:][same_bout].astype(np.int64),
        straight=straight,
    )


def stride_table(
    ic_idx: IntArray,
    fc_idx: IntArray,
    side: IntArray,
    step_length_m: FloatArray,
    bout: IntArray,
    turning: NDArray[np.bool_],
    acc_body_mps2: FloatArray,
    sampling_rate_hz: float,
) -> StrideTable:
    """Strides from the events of all bouts.

    Parameters
    ----------
    ic_idx, fc_idx, side, bout : ndarray of int, shape (n_ic,)
        Every IC, the contralateral FC after it (−1 if none), its side and its bout.
    step_length_m : ndarray, shape (n_ic,)
        Length of the step ending at each IC.
    turning : ndarray of bool, shape (n_samples,)
    acc_body_mps2 : ndarray, shape (n_samples, 3)
        For the harmonic ratio.
    sampling_rate_hz : float
    """
    n = ic_idx.size
    if n < 3:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0)
        return StrideTable(
            empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f, empty_f, empty_f,
            np.zeros((0, 3)), empty_i, np.zeros(0, dtype=bool),
        )  # fmt: skip
    j = np.arange(n - 2)
    ok = (bout[j] == bout[j + 2]) & (bout[j] == bout[j + 1])
    j = j[ok]
    start, mid, stop = ic_idx[j], ic_idx[j + 1], ic_idx[j + 2]
    stride_n = (stop - start).astype(np.float64)
    time_s = stride_n / sampling_rate_hz
    length = step_length_m[j + 1] + step_length_m[j + 2]
    fc_contra = fc_idx[j]  # contralateral foot leaves after IC[j]
    fc_own = fc_idx[j + 1]  # own foot leaves after the contralateral IC[j+1]
    valid_fc = (fc_contra > start) & (fc_own > mid) & (fc_own < stop)
    stance = np.where(valid_fc, 100.0 * (fc_own - start) / stride_n, np.nan)
    double = np.where(valid_fc, 100.0 * ((fc_contra - start) + (fc_own - mid)) / stride_n, np.nan)
    straight = spans_clear(turning, start, stop)
    return StrideTable(
        start_idx=start.astype(np.int64),
        stop_idx=stop.astype(np.int64),
        side=side[j].astype(np.int64),
        time_s=time_s,
        length_m=length,
        speed_mps=length / time_s,
        stance_pct=stance,
        swing_pct=100.0 - stance,
        double_support_pct=double,
        harmonic_ratio=harmonic_ratios(acc_body_mps2, start, stop),
        bout=bout[j].astype(np.int64),
        straight=straight,
    )
