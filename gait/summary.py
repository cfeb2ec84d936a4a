"""Aggregate step and stride tables into the spatiotemporal summary of a recording or a bout.

Every value is a :class:`Metric`: the number with its unit, spread, count, 95 % confidence half-width and the
healthy reference band (:mod:`gait.norms`). Averages use straight-walking steps and strides only (turns excluded)
when there are enough of them, else all.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from gait.frames import AP, ML, SI
from gait.norms import REFERENCE_BANDS, ReferenceBand
from gait.spatiotemporal import StepTable, StrideTable

__all__ = ["BoutSummaries", "Metric", "SpatiotemporalSummary", "metric", "summarize", "summarize_bouts"]

FloatArray = NDArray[np.float64]
LEFT, RIGHT = 0, 1

# Fewest straight strides before turns are excluded from the averages.
_MIN_STRAIGHT_STRIDES = 4


@dataclass(frozen=True, slots=True)
class Metric:
    """A number with its unit, spread and reference.

    Attributes
    ----------
    value : float
        NaN when it could not be computed.
    unit : str
    sd : float
        Between-step/stride SD (NaN for a single value).
    n : int
        Number of steps/strides behind the value.
    ci95 : float
        Half-width of the 95 % confidence interval of the mean (1.96·SD/√n).
    reference : ReferenceBand or None
    """

    value: float
    unit: str
    sd: float
    n: int
    ci95: float
    reference: ReferenceBand | None


def metric(values: FloatArray, unit: str, name: str) -> Metric:
    """Mean ± SD of the finite ``values`` with n, the 95 % CI half-width and the reference band of ``name``."""
    v = values[np.isfinite(values)]
    ref = REFERENCE_BANDS.get(name)
    if v.size == 0:
        return Metric(float("nan"), unit, float("nan"), 0, float("nan"), ref)
    sd = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    ci = 1.96 * sd / np.sqrt(v.size) if v.size > 1 else float("nan")
    return Metric(float(np.mean(v)), unit, sd, int(v.size), float(ci), ref)


def _scalar(value: float, unit: str, name: str, n: int) -> Metric:
    return Metric(float(value), unit, float("nan"), n, float("nan"), REFERENCE_BANDS.get(name))


@dataclass(frozen=True, slots=True)
class SpatiotemporalSummary:
    """Named metrics; iterate ``metrics.items()``."""

    metrics: MappingProxyType[str, Metric]
    n_steps: int
    n_strides: int
    turns_excluded: bool

    def value(self, name: str) -> float:
        """The value of one metric (NaN if absent)."""
        m = self.metrics.get(name)
        return m.value if m is not None else float("nan")


def _symmetry_ratio(left: FloatArray, right: FloatArray) -> float:
    a, b = np.nanmean(left) if left.size else np.nan, np.nanmean(right) if right.size else np.nan
    if not (np.isfinite(a) and np.isfinite(b)) or min(a, b) <= 0:
        return float("nan")
    return float(max(a, b) / min(a, b))


def _side_ratio(values: FloatArray, side: NDArray[np.int64], name: str) -> Metric:
    """Symmetry ratio (larger/smaller side mean) of per-step or per-stride ``values`` as a metric."""
    ratio = _symmetry_ratio(values[side == LEFT], values[side == RIGHT])
    return _scalar(ratio, "ratio", name, int(np.count_nonzero(np.isfinite(values))))


def summarize(steps: StepTable, strides: StrideTable) -> SpatiotemporalSummary:
    """Spatiotemporal summary of the given steps and strides (already restricted to a bout if wanted)."""
    straight_strides = strides.straight
    use_straight = int(np.count_nonzero(straight_strides)) >= _MIN_STRAIGHT_STRIDES
    st_sel = straight_strides if use_straight else np.ones_like(straight_strides)
    sp_sel = steps.straight if use_straight else np.ones_like(steps.straight)

    step_time = steps.time_s[sp_sel]
    stride_time = strides.time_s[st_sel]
    m: dict[str, Metric] = {}
    cadence = float(60.0 / np.mean(step_time)) if step_time.size else float("nan")
    m["cadence_spm"] = _scalar(cadence, "steps/min", "cadence_spm", int(step_time.size))
    m["step_time_s"] = metric(step_time, "s", "step_time_s")
    m["stride_time_s"] = metric(stride_time, "s", "stride_time_s")
    m["step_length_m"] = metric(steps.length_m[sp_sel], "m", "step_length_m")
    m["stride_length_m"] = metric(strides.length_m[st_sel], "m", "stride_length_m")
    has_len = np.isfinite(steps.length_m) & sp_sel
    total_time = float(np.sum(steps.time_s[has_len]))
    speed = float(np.sum(steps.length_m[has_len])) / total_time if total_time > 0 else float("nan")
    m["walking_speed_mps"] = _scalar(speed, "m/s", "walking_speed_mps", int(step_time.size))
    if stride_time.size >= 2:
        cv = 100.0 * float(np.std(stride_time, ddof=1) / np.mean(stride_time))
    else:
        cv = float("nan")
    m["stride_time_cv_pct"] = _scalar(cv, "%", "stride_time_cv_pct", int(stride_time.size))
    side_steps = steps.side[sp_sel]
    m["step_time_asymmetry"] = _side_ratio(step_time, side_steps, "step_time_asymmetry")
    side_strides = strides.side[st_sel]
    stance = strides.stance_pct[st_sel]
    for side, name in ((LEFT, "left"), (RIGHT, "right")):
        m[f"stance_pct_{name}"] = metric(stance[side_strides == side], "%", "stance_pct")
        m[f"swing_pct_{name}"] = metric(100.0 - stance[side_strides == side], "%", "swing_pct")
        m[f"step_time_s_{name}"] = metric(step_time[side_steps == side], "s", "step_time_s")
    m["stance_symmetry_ratio"] = _side_ratio(stance, side_strides, "stance_symmetry_ratio")
    m["swing_symmetry_ratio"] = _side_ratio(strides.swing_pct[st_sel], side_strides, "swing_symmetry_ratio")
    step_len = steps.length_m[sp_sel]
    m["step_length_symmetry_ratio"] = _side_ratio(step_len, side_steps, "step_length_symmetry_ratio")
    for side, name in ((LEFT, "left"), (RIGHT, "right")):
        m[f"step_length_m_{name}"] = metric(step_len[side_steps == side], "m", "step_length_m")
    m["double_support_pct"] = metric(strides.double_support_pct[st_sel], "%", "double_support_pct")
    hr = strides.harmonic_ratio[st_sel]
    for axis, name in ((AP, "ap"), (ML, "ml"), (SI, "si")):
        m[f"harmonic_ratio_{name}"] = metric(hr[:, axis], "ratio", f"harmonic_ratio_{name}")
    return SpatiotemporalSummary(
        metrics=MappingProxyType(m),
        n_steps=int(step_time.size),
        n_strides=int(stride_time.size),
        turns_excluded=use_straight,
    )


@dataclass(frozen=True, slots=True)
class BoutSummaries:
    """Headline figures of every bout at once, arrays of shape (n_bouts,).

    Same rules as :func:`summarize`: straight steps and strides only when the bout has enough straight strides.
    """

    n_steps: NDArray[np.int64]
    n_strides: NDArray[np.int64]
    cadence_spm: FloatArray
    walking_speed_mps: FloatArray
    stride_length_m: FloatArray


def summarize_bouts(steps: StepTable, strides: StrideTable, n_bouts: int) -> BoutSummaries:
    """Per-bout cadence, speed and stride length by segment sums (no Python loop over bouts)."""
    sb, tb = steps.bout, strides.bout
    straight_per_bout = np.bincount(tb[strides.straight], minlength=n_bouts)
    use_straight = straight_per_bout >= _MIN_STRAIGHT_STRIDES
    step_sel = ~use_straight[sb] | steps.straight
    stride_sel = ~use_straight[tb] | strides.straight

    def _sum(labels: NDArray[np.int64], weights: FloatArray | None = None) -> FloatArray:
        return np.bincount(labels, weights=weights, minlength=n_bouts).astype(np.float64)

    n_steps = _sum(sb[step_sel])
    time_s = _sum(sb[step_sel], steps.time_s[step_sel])
    has_len = step_sel & np.isfinite(steps.length_m)
    len_m = _sum(sb[has_len], steps.length_m[has_len])
    len_time_s = _sum(sb[has_len], steps.time_s[has_len])
    has_stride_len = stride_sel & np.isfinite(strides.length_m)
    stride_len_m = _sum(tb[has_stride_len], strides.length_m[has_stride_len])
    n_stride_len = _sum(tb[has_stride_len])
    with np.errstate(divide="ignore", invalid="ignore"):
        cadence = np.where(time_s > 0, 60.0 * n_steps / time_s, np.nan)
        speed = np.where(len_time_s > 0, len_m / len_time_s, np.nan)
        stride_len = np.where(n_stride_len > 0, stride_len_m / n_stride_len, np.nan)
    return BoutSummaries(
        n_steps=n_steps.astype(np.int64),
        n_strides=np.bincount(tb, minlength=n_bouts).astype(np.int64),
        cadence_spm=cadence,
        walking_speed_mps=speed,
        stride_length_m=stride_len,
    )
