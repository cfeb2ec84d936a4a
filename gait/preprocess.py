"""Preprocessing: one time base for all sensors, gap handling and zero-phase filtering.

Everything here is pure: arrays in, new arrays out. Filters run along an explicit ``axis`` (the time axis,
``-2`` in the project layout ``(..., n_samples, 3)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

from gait.errors import RecordingError
from gait.recording import Recording

__all__ = [
    "SensorStream",
    "bridge_gaps",
    "bridgeable",
    "interpolate_bracketed",
    "lowpass",
    "nominal_rate_hz",
    "spans_clear",
    "spans_mask",
    "time_normalize",
    "to_common_time_base",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False, slots=True)
class SensorStream:
    """Samples of one sensor on its own clock, before they share a time base.

    Parameters
    ----------
    placement : str
        Placement name (``"pelvis"``, ``"left_thigh"``, ...).
    t_s : array_like, shape (n_samples,)
        Sample times in seconds, strictly increasing.
    acc_mps2, gyr_dps : array_like, shape (n_samples, 3)
        Specific force (m/s²) and angular rate (deg/s). Rows with a non-finite value count as lost.
    """

    placement: str
    t_s: FloatArray
    acc_mps2: FloatArray
    gyr_dps: FloatArray

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, dtype=np.float64)
        acc = np.asarray(self.acc_mps2, dtype=np.float64)
        gyr = np.asarray(self.gyr_dps, dtype=np.float64)
        if t.ndim != 1 or t.size < 2:
            raise RecordingError(f"t_s of {self.placement!r}: expected at least two sample times, got shape {t.shape}")
        for name, arr in (("acc_mps2", acc), ("gyr_dps", gyr)):
            if arr.shape != (t.size, 3):
                raise RecordingError(f"{name} of {self.placement!r}: expected shape ({t.size}, 3), got {arr.shape}")
        if not np.isfinite(t).all():
            raise RecordingError(f"t_s of {self.placement!r}: sample {int(np.argmin(np.isfinite(t)))} is not finite")
        dt = np.diff(t)
        if (dt <= 0).any():
            i = int(np.argmax(dt <= 0)) + 1
            raise RecordingError(
                f"t_s of {self.placement!r}: expected strictly increasing times, sample {i} ({t[i]!r} s) "
                f"follows {t[i - 1]!r} s"
            )
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "acc_mps2", acc)
        object.__setattr__(self, "gyr_dps", gyr)


def nominal_rate_hz(t_s: ArrayLike) -> float:
    """Nominal sampling rate of a time column: the inverse of the median sample interval, in Hz."""
    dt = np.diff(np.asarray(t_s, dtype=np.float64))
    return float(1.0 / np.median(dt))


def lowpass(x: ArrayLike, cutoff_hz: float, sampling_rate_hz: float, *, axis: int, order: int = 4) -> FloatArray:
    """Zero-phase Butterworth low-pass filter along ``axis`` (second-order sections, ``sosfiltfilt``).

    Parameters
    ----------
    x : array_like
        Finite samples; time along ``axis``.
    cutoff_hz : float
        -3 dB frequency of each pass (the zero-phase filter is -6 dB there).
    sampling_rate_hz : float
        Sampling rate of ``x``.
    axis : int
        Time axis.
    order : int
        Filter order of one pass.
    """
    arr = np.asarray(x, dtype=np.float64)
    nyquist_hz = 0.5 * sampling_rate_hz
    if cutoff_hz >= nyquist_hz:
        return arr.copy()
    sos = signal.butter(order, cutoff_hz / nyquist_hz, btype="low", output="sos")
    padlen = min(arr.shape[axis] - 1, 3 * (2 * len(sos) + 1))
    return np.asarray(signal.sosfiltfilt(sos, arr, axis=axis, padlen=padlen), dtype=np.float64)


def time_normalize(
    x: FloatArray,
    start_idx: NDArray[np.int64],
    stop_idx: NDArray[np.int64],
    *,
    n_points: int,
    endpoint: bool = False,
) -> FloatArray:
    """Resample each segment ``[start, stop)`` of ``x`` to ``n_points`` points (linear interpolation).

    Parameters
    ----------
    x : ndarray, shape (n_samples, k)
        Signal, time on axis -2.
    start_idx, stop_idx : ndarray of int, shape (m,)
        Segment bounds (segments may overlap, e.g. strides of the two sides).
    n_points : int
        Points per segment; point ``i`` sits at ``start + (stop - start) * i / n_points``.
    endpoint : bool
        Include ``stop`` as the last point instead: point ``i`` at ``start + (stop - start) * i / (n_points - 1)``
        (gait-cycle curves, 0-100 % in 101 points).

    Returns
    -------
    ndarray, shape (m, n_points, k)
    """
    start = start_idx.astype(np.float64)
    length = (stop_idx - start_idx).astype(np.float64)
    fraction = np.arange(n_points) / (n_points - 1 if endpoint else n_points)
    pos = start[:, None] + length[:, None] * fraction[None, :]
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, x.shape[-2] - 1)
    w = (pos - lo)[..., None]
    return np.asarray(x[lo] * (1.0 - w) + x[hi] * w, dtype=np.float64)


def bridgeable(valid: NDArray[np.bool_], *, max_gap_samples: int) -> NDArray[np.bool_]:
    """Samples that are valid or inside an interior gap of at most ``max_gap_samples``, shape (n_samples,)."""
    ok = np.asarray(valid, dtype=bool)
    n = ok.size
    if ok.all() or not ok.any():
        return ok.copy()
    edges = np.diff(np.concatenate(([0], (~ok).view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    lengths = stops - starts
    run_len = np.zeros(n, dtype=np.int64)
    run_len[~ok] = np.repeat(lengths, lengths)
    interior = np.ones(n, dtype=bool)
    interior[: np.argmax(ok)] = False
    interior[n - np.argmax(ok[::-1]) :] = False
    return np.asarray(ok | ((run_len <= max_gap_samples) & interior), dtype=bool)


def spans_clear(
    flagged: NDArray[np.bool_], start_idx: NDArray[np.int64], stop_idx: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Whether each span ``[start, stop]`` (inclusive; spans may overlap) holds no flagged sample, shape (m,)."""
    cum = np.concatenate(([0], np.cumsum(flagged, dtype=np.int64)))
    return np.asarray((cum[stop_idx + 1] - cum[start_idx]) == 0, dtype=bool)


def spans_mask(n_samples: int, start_idx: NDArray[np.int64], stop_idx: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Samples covered by at least one span ``[start, stop]`` (inclusive; spans may overlap), shape (n_samples,)."""
    edges = np.zeros(n_samples + 1, dtype=np.int64)
    np.add.at(edges, start_idx, 1)
    np.add.at(edges, stop_idx + 1, -1)
    return np.asarray(np.cumsum(edges[:-1]) > 0, dtype=bool)


def bridge_gaps(x: FloatArray, valid: NDArray[np.bool_]) -> FloatArray:
    """Linear fill of every lost sample along axis -2 (edges hold the nearest value), for filter continuity only.

    Parameters
    ----------
    x : ndarray, shape (n_samples, k)
    valid : ndarray of bool, shape (n_samples,)
        Must have at least one True.

    Returns
    -------
    ndarray, shape (n_samples, k); a copy when anything was filled.
    """
    if valid.all():
        return x
    out = np.array(x, dtype=np.float64, copy=True)
    idx = np.arange(x.shape[-2])
    lost = ~valid
    for col in range(x.shape[-1]):
        out[lost, col] = np.interp(idx[lost], idx[valid], x[valid, col])
    return out


def interpolate_bracketed(
    t_s: ArrayLike,
    x: ArrayLike,
    t_target_s: ArrayLike,
    *,
    max_gap_s: float,
    tol_s: float = 0.0,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Linear interpolation onto ``t_target_s`` only between two samples no further apart than ``max_gap_s``.

    A target time is interpolated linearly between its two neighbouring samples when they are at most
    ``max_gap_s`` apart (a target up to ``tol_s`` before the first or after the last sample holds that sample). A
    target time within ``tol_s`` of a sample is a hit on it and is kept even where the interval on that side is wider
    than ``max_gap_s``: it takes that sample's value. Every other target time is not ok (NaN): a hole wider than
    ``max_gap_s`` is never bridged and nothing is extrapolated.

    Parameters
    ----------
    t_s : array_like, shape (n_samples,)
        Sample times in seconds, finite and strictly increasing (not checked).
    x : array_like, shape (..., n_samples, n_channels)
        Samples, time on axis -2; rows are expected finite (drop lost rows, with their times, beforehand).
    t_target_s : array_like, shape (n_target,)
        Times to interpolate at, in seconds, in any order. A non-finite target time is not ok.
    max_gap_s : float
        Longest sample interval, in seconds, that is still interpolated across.
    tol_s : float
        Distance, in seconds, within which a target time counts as hitting a sample (and as inside the first or
        last bracket). ``0.0`` keeps exact hits only.

    Returns
    -------
    values : ndarray, shape (..., n_target, n_channels)
        Interpolated samples; NaN where ``ok`` is False.
    ok : ndarray of bool, shape (n_target,)
        Target times that got a value. All False when there are fewer than two samples.
    """
    t = np.asarray(t_s, dtype=np.float64)
    data = np.asarray(x, dtype=np.float64)
    target_s = np.asarray(t_target_s, dtype=np.float64)
    out_shape = (*data.shape[:-2], target_s.size, data.shape[-1])
    if t.size < 2:
        return np.full(out_shape, np.nan), np.zeros(target_s.size, dtype=bool)
    right = np.searchsorted(t, target_s, side="left")
    right = np.clip(right, 1, t.size - 1)
    left = right - 1
    # Exact hits on the last sample are fine: searchsorted puts them at right = size-1 with t[right] == target.
    t_left, t_right = t[left], t[right]
    inside = (target_s >= t_left - tol_s) & (target_s <= t_right + tol_s)
    close = (t_right - t_left) <= max_gap_s
    # A target time that coincides with a sample is that sample, whatever the gap on its other side.
    hit_left = np.abs(target_s - t_left) <= tol_s
    hit_right = np.abs(target_s - t_right) <= tol_s
    ok = inside & (close | hit_left | hit_right)
    w = np.where(t_right > t_left, (target_s - t_left) / np.where(t_right > t_left, t_right - t_left, 1.0), 0.0)
    w = np.where(hit_left & ~close, 0.0, np.where(hit_right & ~close, 1.0, w))
    w = np.clip(w, 0.0, 1.0)[:, None]
    values = data[..., left, :] * (1.0 - w) + data[..., right, :] * w
    return np.where(ok[:, None], values, np.nan), np.asarray(ok, dtype=bool)


def _resample_stream(
    stream: SensorStream, grid_s: FloatArray, *, max_gap_s: float, rate_hz: float
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Interpolate one stream onto ``grid_s``; grid points not bracketed by close samples are invalid."""
    t = stream.t_s
    data = np.concatenate([stream.acc_mps2, stream.gyr_dps], axis=-1)
    finite = np.isfinite(data).all(axis=-1)
    t, data = t[finite], data[finite]
    if t.size >= 2:
        src_rate_hz = nominal_rate_hz(t)
        if src_rate_hz > 1.2 * rate_hz:
            # Anti-alias before decimating onto the slower grid (zero-phase, on the native samples).
            data = lowpass(data, 0.4 * rate_hz, src_rate_hz, axis=-2)
    out, ok = interpolate_bracketed(t, data, grid_s, max_gap_s=max_gap_s, tol_s=1e-3 / rate_hz)
    return out[:, :3], out[:, 3:], ok


def to_common_time_base(
    streams: Sequence[SensorStream],
    *,
    sampling_rate_hz: float | None = None,
    max_gap_factor: float = 1.5,
    source: str = "",
) -> Recording:
    """Put several sensor streams on one uniform time base.

    The grid runs from the earliest to the latest sample of any stream at ``sampling_rate_hz`` (default: the
    highest nominal rate among the streams). A grid point is valid for a sensor when it lies between two of that
    sensor's samples no further apart than ``max_gap_factor`` nominal sample intervals; such points are linearly
    interpolated (for same-rate streams sampled on the grid this returns the samples unchanged). Longer holes
    stay gaps (NaN, ``valid`` False): they are never silently interpolated.

    Parameters
    ----------
    streams : sequence of SensorStream
        One per sensor, unique placements.
    sampling_rate_hz : float, optional
        Rate of the common time base.
    max_gap_factor : float
        Largest sample interval, in nominal intervals of the stream, that still counts as contiguous.
    source : str
        Description for messages (file names).

    Returns
    -------
    Recording
        ``frame="sensor"``; ``start_time_s`` is the first grid time.
    """
    if not streams:
        raise RecordingError("streams: expected at least one sensor stream, got none")
    rates = [nominal_rate_hz(s.t_s) for s in streams]
    rate_hz = float(sampling_rate_hz) if sampling_rate_hz is not None else max(rates)
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise RecordingError(f"sampling_rate_hz: expected a positive rate, got {sampling_rate_hz}")
    t0 = min(float(s.t_s[0]) for s in streams)
    t1 = max(float(s.t_s[-1]) for s in streams)
    n = int(np.floor((t1 - t0) * rate_hz + 1e-6)) + 1
    grid_s = t0 + np.arange(n) / rate_hz
    acc = np.empty((len(streams), n, 3))
    gyr = np.empty((len(streams), n, 3))
    valid = np.empty((len(streams), n), dtype=bool)
    for k, (stream, src_rate) in enumerate(zip(streams, rates, strict=True)):
        acc[k], gyr[k], valid[k] = _resample_stream(
            stream, grid_s, max_gap_s=max_gap_factor / src_rate, rate_hz=rate_hz
        )
    return Recording(
        acc_mps2=acc,
        gyr_dps=gyr,
        sampling_rate_hz=rate_hz,
        placements=tuple(s.placement for s in streams),
        valid=valid,
        frame="sensor",
        start_time_s=t0,
        source=source,
    )
