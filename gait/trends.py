"""Home trends: a daily outcome's 7-day rolling median against the patient's own baseline (CLINICAL.md §5).

The rule (CLINICAL.md §5 rule 5): a weekly value is the median of the valid days in the 7 days ending on a day,
when at least 3 of them are valid [69]. It has changed when its difference from the baseline median exceeds both the
personal MDC95 (1.96·√2·SEM, the SEM estimated from the patient's baseline days) and the published meaningful change
(``gait/data/clinical_rules.toml`` ``[mdc]``), and the change persists for 2 consecutive weeks: every weekly value
of 14 days in a row beyond the threshold, on the same side. Home values are compared only with the patient's own
baseline, never with lab norms (§5 rule 4).

Days are whole numbers (e.g. ``datetime.date.toordinal()``); missing days are simply absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from gait.errors import GaitError
from gait.norms import CLINICAL_RULES, ClinicalRules

__all__ = ["HomeTrend", "TrendAnalyzer", "rolling_median"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def rolling_median(
    day: ArrayLike, value: ArrayLike, valid: ArrayLike, *, window_days: int = 7, min_valid_days: int = 3
) -> tuple[IntArray, FloatArray, IntArray]:
    """The median of the valid days in each window of ``window_days`` ending on each calendar day.

    Parameters
    ----------
    day : array_like of int, shape (n,)
        Day numbers, strictly increasing (gaps allowed).
    value : array_like of float, shape (n,)
    valid : array_like of bool, shape (n,)
        Days with enough data (a day marked insufficient is not averaged in).
    window_days, min_valid_days : int

    Returns
    -------
    days : ndarray of int, shape (m,)
        Every calendar day from the first to the last.
    median : ndarray of float, shape (m,)
        NaN where the window holds fewer than ``min_valid_days`` valid days.
    n_valid : ndarray of int, shape (m,)
    """
    d = np.asarray(day, dtype=np.int64)
    v = np.asarray(value, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & np.isfinite(v)
    if d.ndim != 1 or d.shape != v.shape or d.shape != ok.shape:
        raise GaitError(
            f"day, value, valid: expected three arrays of one shape (n,), got {d.shape}, {v.shape}, {ok.shape}"
        )
    if d.size == 0:
        return d, v, d
    if np.any(np.diff(d) <= 0):
        raise GaitError("day: expected strictly increasing day numbers")
    days = np.arange(d[0], d[-1] + 1, dtype=np.int64)
    grid = np.full(days.size + window_days - 1, np.nan)  # leading NaNs: windows before the first day
    grid[d - d[0] + window_days - 1] = np.where(ok, v, np.nan)
    windows = sliding_window_view(grid, window_days, axis=-1)
    n_valid = np.sum(np.isfinite(windows), axis=-1).astype(np.int64)
    median = np.full(days.size, np.nan)
    enough = n_valid >= min_valid_days
    if enough.any():
        median[enough] = np.nanmedian(windows[enough], axis=-1)
    return days, median, n_valid


@dataclass(frozen=True, slots=True)
class HomeTrend:
    """One metric's weekly values against the baseline, and whether a change persisted.

    Attributes
    ----------
    metric, unit : str
    days : ndarray of int, shape (m,)
        Calendar days from the first to the last.
    weekly_median : ndarray of float, shape (m,)
        7-day rolling median (NaN with fewer than 3 valid days in the window).
    change : ndarray of float, shape (m,)
        ``weekly_median - baseline_median``.
    beyond : ndarray of int, shape (m,)
        +1 / -1 where the weekly value is above / below the baseline by more than ``threshold``, else 0.
    persistent : ndarray of bool, shape (m,)
        True where the change has held on the same side for ``persistence_days`` days in a row, ending that day.
    baseline_median, baseline_sd : float
        Of the valid baseline days (the SD is the SEM of one day's value).
    baseline_days : int
    mdc95, meaningful_change, threshold : float
        Personal MDC95 = 1.96·√2·SEM; the published change; the larger of the two.
    first_persistent_day : int or None
        The first day on which the change had persisted (the day the trend flag fires).
    reason : str
        Why no trend could be judged ("" when it could).
    """

    metric: str
    unit: str
    days: IntArray
    weekly_median: FloatArray
    change: FloatArray
    beyond: IntArray
    persistent: BoolArray
    baseline_median: float
    baseline_sd: float
    baseline_days: int
    mdc95: float
    meaningful_change: float
    threshold: float
    first_persistent_day: int | None
    reason: str = ""


def _run_lengths(flag: BoolArray) -> IntArray:
    """For each position, how many positions in a row up to and including it are True (vectorised)."""
    idx = np.arange(flag.size, dtype=np.int64)
    last_false = np.maximum.accumulate(np.where(flag, -1, idx))
    return np.where(flag, idx - last_false, 0).astype(np.int64)


class TrendAnalyzer:
    """Apply the change rule of CLINICAL.md §5 rule 5 to daily values (see the module docstring).

    Parameters
    ----------
    window_days : int
        Length of the rolling window (7).
    min_valid_days : int
        Valid days a window needs (3 [69]); the baseline needs as many.
    persistence_days : int
        Days in a row a change must hold (14: two consecutive weeks).
    rules : ClinicalRules
        Where the published meaningful changes come from (``[mdc]``).
    """

    def __init__(
        self,
        *,
        window_days: int = 7,
        min_valid_days: int = 3,
        persistence_days: int = 14,
        rules: ClinicalRules = CLINICAL_RULES,
    ) -> None:
        if not 1 <= min_valid_days <= window_days:
            raise GaitError(f"min_valid_days: expected 1 to window_days ({window_days}), got {min_valid_days}")
        if persistence_days < 1:
            raise GaitError(f"persistence_days: expected at least 1, got {persistence_days}")
        self.window_days = int(window_days)
        self.min_valid_days = int(min_valid_days)
        self.persistence_days = int(persistence_days)
        self.rules = rules

    def run(self, metric: str, day: ArrayLike, value: ArrayLike, valid: ArrayLike, baseline: ArrayLike) -> HomeTrend:
        """Judge one metric.

        Parameters
        ----------
        metric : str
            A metric with a published change in the rules' ``[mdc]`` table (e.g. ``walking_speed_mps``).
        day, value, valid : array_like, shape (n,)
            As for :func:`rolling_median`.
        baseline : array_like of bool, shape (n,)
            The baseline days (a pre-op week, or the post-op plateau; CLINICAL.md §5 rule 4).

        Raises
        ------
        GaitError
            For a metric without a published change, or arrays that do not match.
        """
        if metric not in self.rules.mdc:
            raise GaitError(f"metric: no published change for {metric!r}; known: {', '.join(sorted(self.rules.mdc))}")
        change_rule = self.rules.mdc[metric]
        days, weekly, _n_valid = rolling_median(
            day, value, valid, window_days=self.window_days, min_valid_days=self.min_valid_days
        )
        v = np.asarray(value, dtype=np.float64)
        base = np.asarray(baseline, dtype=bool) & np.asarray(valid, dtype=bool) & np.isfinite(v)
        if base.shape != v.shape:
            raise GaitError(f"baseline: expected shape {v.shape}, got {base.shape}")
        n_base = int(base.sum())
        nan = np.full(days.size, np.nan)
        if n_base < self.min_valid_days:
            zeros = np.zeros(days.size, dtype=np.int64)
            return HomeTrend(
                metric, change_rule.unit, days, weekly, nan, zeros, zeros.astype(bool), float("nan"), float("nan"),
                n_base, float("nan"), change_rule.value, float("nan"), None,
                f"the baseline has {n_base} valid days; at least {self.min_valid_days} are needed",
            )  # fmt: skip
        base_median = float(np.median(v[base]))
        sem = float(np.std(v[base], ddof=1))
        mdc95 = 1.96 * np.sqrt(2.0) * sem
        threshold = max(mdc95, change_rule.value)
        change = weekly - base_median
        beyond = np.where(np.isfinite(change) & (np.abs(change) > threshold), np.sign(change), 0).astype(np.int64)
        held = np.maximum(_run_lengths(beyond > 0), _run_lengths(beyond < 0))
        persistent = held >= self.persistence_days
        first = int(days[np.argmax(persistent)]) if persistent.any() else None
        return HomeTrend(
            metric, change_rule.unit, days, weekly, change, beyond, persistent, base_median, sem, n_base,
            float(mdc95), change_rule.value, float(threshold), first,
        )  # fmt: skip
