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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from gait.errors import GaitError
from gait.norms import CLINICAL_RULES, ClinicalRules

__all__ = [
    "HOME_METRICS",
    "HOME_TRENDS_SCHEMA",
    "HomeMetric",
    "HomeTrend",
    "HomeTrendReport",
    "TrendAnalyzer",
    "home_baseline",
    "rolling_median",
]

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


# ------------------------------------------------------------------------------------ the home trend report
HOME_TRENDS_SCHEMA: Final = "fusiongait.home_trends/1"


@dataclass(frozen=True, slots=True)
class HomeMetric:
    """A daily outcome followed at home, and the flag whose baseline arm its trend feeds.

    Attributes
    ----------
    name : str
        The metric's name in the report (``hip_peak_extension_left_deg``).
    label : str
    source : str
        Where the day's value comes from: a daily outcome (``day``), a per-stride metric of the baseline's modal
        speed bin (``bin_metric``) or a derived value of that bin (``bin_derived``).
    key : str
        The name in that place.
    mdc_key : str or None
        The rules' ``[mdc]`` entry (None: followed and plotted, no change rule).
    flag : str or None
        The flag (CLINICAL.md §4) whose baseline arm a persistent change feeds.
    direction : int
        +1 / -1: the flag's direction of change; 0: either.
    """

    name: str
    label: str
    source: Literal["day", "bin_metric", "bin_derived"]
    key: str
    mdc_key: str | None = None
    flag: str | None = None
    direction: int = 0


#: The metrics of the home report; the flag and direction of each are those of the flag's baseline arm in
#: :mod:`gait.flags` (F1 peak extension ↓, F2 mean tilt ↑, F3 pelvic ROM either way, F4 drop asymmetry either way,
#: F5 stance symmetry ratio ↑, F6 speed ↓). Kinematics come from the baseline's modal speed bin only
#: (CLINICAL.md §5 rule 3: speed-binned; §3 rule 4: compare at matched speed).
HOME_METRICS: Final[tuple[HomeMetric, ...]] = (
    HomeMetric("steps", "steps per day", "day", "steps"),
    HomeMetric("walking_min", "walking time", "day", "walking_s"),
    HomeMetric("walking_speed_median_mps", "walking speed, median", "day", "walking_speed_median_mps",
               "walking_speed_mps", "F6", -1),
    HomeMetric("walking_speed_p90_mps", "walking speed, 90th percentile", "day", "walking_speed_p90_mps",
               "walking_speed_mps", "F6", -1),
    HomeMetric("cadence_spm", "cadence", "day", "cadence_spm"),
    HomeMetric("stride_time_cv_in_bout_pct", "stride time CV within bouts > 30 s", "day",
               "stride_time_cv_in_bout_pct"),
    HomeMetric("hip_peak_extension_left_deg", "left peak hip extension", "bin_metric",
               "hip_peak_extension_left_deg", "hip_peak_extension_deg", "F1", -1),
    HomeMetric("hip_peak_extension_right_deg", "right peak hip extension", "bin_metric",
               "hip_peak_extension_right_deg", "hip_peak_extension_deg", "F1", -1),
    HomeMetric("mean_tilt_deg", "mean pelvic tilt (anterior +)", "bin_metric", "mean_tilt_deg", "mean_tilt_deg",
               "F2", 1),
    HomeMetric("tilt_rom_deg", "pelvic tilt ROM", "bin_metric", "tilt_rom_deg", "pelvic_rom_deg", "F3", 0),
    HomeMetric("obliquity_rom_deg", "pelvic obliquity ROM", "bin_metric", "obliquity_rom_deg", "pelvic_rom_deg",
               "F3", 0),
    HomeMetric("rotation_rom_deg", "pelvic rotation ROM", "bin_metric", "rotation_rom_deg", "pelvic_rom_deg", "F3", 0),
    HomeMetric("pelvic_drop_asymmetry_deg", "pelvic drop asymmetry (left − right)", "bin_derived",
               "pelvic_drop_asymmetry_deg", "pelvic_drop_deg", "F4", 0),
    HomeMetric("stance_symmetry_ratio", "stance symmetry ratio", "bin_derived", "stance_symmetry_ratio",
               "symmetry_ratio", "F5", 1),
)  # fmt: skip

_UNITS: Final = {"steps": "steps", "walking_min": "min", "cadence_spm": "steps/min", "stride_time_cv_in_bout_pct": "%"}


def _day_number(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def _f(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else math.nan


def _r(x: float, digits: int = 4) -> float | None:
    return round(float(x), digits) if math.isfinite(x) else None


class HomeTrendReport:
    """Trends of the home metrics against the patient's baseline, and the home arm of flags F1-F6.

    Built from the days of ``fusiongait.daily/1`` documents (:meth:`gait.daily.DailyResult.to_json` ``days``), so
    stored results of many recordings can be put together. Each metric is judged by :class:`TrendAnalyzer`
    (CLINICAL.md §5 rule 5). A flag's home arm is ``flagged`` when one of its metrics changed in the flag's direction
    beyond the threshold and held for the persistence window, ``pending`` when the latest weekly value is beyond the
    threshold but has not yet held, else ``not flagged`` (or ``insufficient data`` with the reason). Confidence:
    ``low`` for a change of 1-2 thresholds, ``moderate`` from 2 (as the flags' baseline arm, CLINICAL.md §4); never
    ``high`` from home data alone, and ``low`` while the metric's meaningful change is interim.

    Parameters
    ----------
    analyzer : TrendAnalyzer, optional
    min_strides_per_side : int
        Strides per side a day needs in the baseline's modal speed bin for its kinematics to count.
    """

    def __init__(self, *, analyzer: TrendAnalyzer | None = None, min_strides_per_side: int = 20) -> None:
        self.analyzer = analyzer or TrendAnalyzer()
        self.min_strides_per_side = int(min_strides_per_side)

    def run(
        self, days: Sequence[Mapping[str, Any]], *, baseline: tuple[str, str], baseline_source: str = ""
    ) -> dict[str, Any]:
        """The ``fusiongait.home_trends/1`` document.

        Parameters
        ----------
        days : sequence of mapping
            Day entries of daily documents (``date``, ``sufficient``, the outcomes, ``kinematics``), any order;
            one per date.
        baseline : (str, str)
            First and last ISO date of the baseline period (inclusive).
        baseline_source : str
            What the period is (pre-op week, post-op plateau), for the reader.

        Raises
        ------
        GaitError
            For two entries of one date or a baseline that ends before it starts.
        """
        ordered = sorted(days, key=lambda d: str(d["date"]))
        dates = [str(d["date"]) for d in ordered]
        if len(set(dates)) != len(dates):
            raise GaitError("days: expected one entry per date")
        b0, b1 = _day_number(baseline[0]), _day_number(baseline[1])
        if b1 < b0:
            raise GaitError(f"baseline: ends ({baseline[1]}) before it starts ({baseline[0]})")
        day = np.array([_day_number(x) for x in dates], dtype=np.int64)
        sufficient = np.array([bool(d.get("sufficient")) for d in ordered], dtype=bool)
        in_base = (day >= b0) & (day <= b1)
        bin_low = self._modal_bin(ordered, in_base & sufficient)
        metrics = []
        flags: dict[str, list[dict[str, Any]]] = {}
        for m in HOME_METRICS:
            value, valid = self._values(ordered, m, bin_low)
            entry = self._metric(m, day, value, valid & sufficient, in_base)
            metrics.append(entry)
            if m.flag is not None:
                flags.setdefault(m.flag, []).append(entry)
        first = dates[0] if dates else None
        return {
            "schema": HOME_TRENDS_SCHEMA,
            "norms_version": self.analyzer.rules.version,
            "rule": {
                "window_days": self.analyzer.window_days,
                "min_valid_days": self.analyzer.min_valid_days,
                "persistence_days": self.analyzer.persistence_days,
                "source": "CLINICAL.md §5 rules 4-5: 7-day rolling median vs the patient's own baseline; change "
                "beyond the personal MDC95 and the published meaningful change, persisting ≥ 2 weeks",
            },
            "baseline": {
                "from": baseline[0],
                "to": baseline[1],
                "source": baseline_source,
                "valid_days": int((in_base & sufficient).sum()),
                "speed_bin_mps": None if bin_low is None else [bin_low[0], bin_low[1]],
            },
            "days": [
                {"date": x, "sufficient": bool(s), "baseline": bool(b)}
                for x, s, b in zip(dates, sufficient.tolist(), in_base.tolist(), strict=True)
            ],
            "first_date": first,
            "last_date": dates[-1] if dates else None,
            "metrics": metrics,
            "flags": [self._flag(fid, entries) for fid, entries in flags.items()],
        }

    # ------------------------------------------------------------------ parts
    def _modal_bin(self, days: Sequence[Mapping[str, Any]], use: BoolArray) -> tuple[float, float] | None:
        """The speed bin with the most used strides over the baseline days (CLINICAL.md §5 rule 3)."""
        totals: dict[tuple[float, float], int] = {}
        for d, ok in zip(days, use.tolist(), strict=True):
            if not ok:
                continue
            for b in (d.get("kinematics") or {}).get("bins", []):
                key = (float(b["speed_low_mps"]), float(b["speed_high_mps"]))
                n = b.get("n_strides", {})
                totals[key] = totals.get(key, 0) + int(n.get("left", 0)) + int(n.get("right", 0))
        if not totals:
            return None
        return max(totals.items(), key=lambda kv: (kv[1], -kv[0][0]))[0]

    def _values(
        self, days: Sequence[Mapping[str, Any]], m: HomeMetric, bin_low: tuple[float, float] | None
    ) -> tuple[FloatArray, BoolArray]:
        value = np.full(len(days), np.nan)
        for i, d in enumerate(days):
            if m.source == "day":
                v = _f(d.get(m.key))
                value[i] = v / 60.0 if m.name == "walking_min" else v
                continue
            if bin_low is None:
                continue
            for b in (d.get("kinematics") or {}).get("bins", []):
                if (float(b["speed_low_mps"]), float(b["speed_high_mps"])) != bin_low:
                    continue
                n = b.get("n_strides", {})
                if min(int(n.get("left", 0)), int(n.get("right", 0))) < self.min_strides_per_side:
                    break
                if m.source == "bin_metric":
                    value[i] = _f((b.get("metrics", {}).get(m.key) or {}).get("median"))
                else:
                    value[i] = _f(b.get("derived", {}).get(m.key))
                break
        return value, np.isfinite(value)

    def _metric(
        self, m: HomeMetric, day: IntArray, value: FloatArray, valid: BoolArray, in_base: BoolArray
    ) -> dict[str, Any]:
        a = self.analyzer
        out: dict[str, Any] = {"metric": m.name, "label": m.label, "flag": m.flag, "direction": m.direction}
        daily = [
            {"date": date.fromordinal(int(d)).isoformat(), "value": _r(v), "valid": bool(ok)}
            for d, v, ok in zip(day.tolist(), value.tolist(), valid.tolist(), strict=True)
        ]
        if m.mdc_key is None:
            days, weekly, _n = rolling_median(
                day, value, valid, window_days=a.window_days, min_valid_days=a.min_valid_days
            )
            base = value[in_base & valid]
            out.update(
                unit=_UNITS.get(m.name, ""),
                rule=None,
                daily=daily,
                weekly=self._weekly(days, weekly),
                baseline_median=_r(float(np.median(base))) if base.size >= a.min_valid_days else None,
                baseline_sd=_r(float(np.std(base, ddof=1))) if base.size >= a.min_valid_days else None,
            )
            return out
        t = a.run(m.mdc_key, day, value, valid, in_base)
        rule = a.rules.mdc[m.mdc_key]
        wanted = t.beyond != 0 if m.direction == 0 else t.beyond == m.direction
        fired = t.persistent & wanted
        first = int(t.days[np.argmax(fired)]) if fired.any() else None
        last_beyond = int(t.beyond[-1]) if t.beyond.size else 0
        effect = float(abs(t.change[-1]) / t.threshold) if t.days.size and math.isfinite(t.threshold) else math.nan
        out.update(
            unit=t.unit,
            rule={
                "mdc_key": m.mdc_key,
                "meaningful_change": t.meaningful_change,
                "meaningful_change_source": rule.source,
                "interim": rule.interim,
            },
            daily=daily,
            weekly=self._weekly(t.days, t.weekly_median),
            baseline_median=_r(t.baseline_median),
            baseline_sd=_r(t.baseline_sd),
            baseline_days=t.baseline_days,
            mdc95=_r(t.mdc95),
            threshold=_r(t.threshold),
            change_latest=_r(float(t.change[-1])) if t.change.size else None,
            beyond_latest=last_beyond,
            persistent_latest=bool(fired[-1]) if fired.size else False,
            first_persistent_date=None if first is None else date.fromordinal(first).isoformat(),
            effect_latest=_r(effect, 2),
            reason=t.reason,
        )
        return out

    @staticmethod
    def _weekly(days: IntArray, weekly: FloatArray) -> list[dict[str, Any]]:
        return [
            {"date": date.fromordinal(int(d)).isoformat(), "median": _r(v)}
            for d, v in zip(days.tolist(), weekly.tolist(), strict=True)
        ]

    def _flag(self, fid: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        name = str(self.analyzer.rules.flags.get(fid, {}).get("name", fid))
        judged = [e for e in entries if not e.get("reason") and e.get("threshold") is not None]
        base = {"id": fid, "name": name, "arm": "home baseline", "metrics": [e["metric"] for e in entries]}
        if not judged:
            reasons = sorted({str(e.get("reason") or "no valid days") for e in entries})
            return {**base, "status": "insufficient data", "confidence": "insufficient data", "reasons": reasons,
                    "text": f"{name}: not judged at home ({'; '.join(reasons)})."}  # fmt: skip
        fired = [e for e in judged if e["persistent_latest"]]
        pending = [e for e in judged if not e["persistent_latest"] and e["beyond_latest"] != 0 and (
            e["direction"] == 0 or e["beyond_latest"] == e["direction"])]  # fmt: skip
        ever = sorted(e["first_persistent_date"] for e in judged if e["first_persistent_date"])
        if fired:
            head = max(fired, key=lambda e: e["effect_latest"] or 0.0)
            effect = float(head["effect_latest"] or 0.0)
            interim = bool(head["rule"]["interim"])
            confidence = "moderate" if effect >= 2.0 and not interim else "low"
            facts = "; ".join(
                f"{e['label']} {e['change_latest']:+g} {e['unit']} vs baseline {e['baseline_median']:g} {e['unit']} "
                f"(threshold {e['threshold']:g} {e['unit']}, held since {e['first_persistent_date']})"
                for e in fired
            )
            text = (
                f"Pattern consistent with {name.lower()} in everyday walking: {facts}. Decision support, not a "
                "diagnosis; review recommended."
            )
            status = "flagged"
        elif pending:
            confidence = "low"
            facts = "; ".join(f"{e['label']} {e['change_latest']:+g} {e['unit']}" for e in pending)
            text = (
                f"{name}: change beyond the threshold in the latest weekly value ({facts}), not yet held for "
                f"{self.analyzer.persistence_days} days; watch."
            )
            status = "pending"
        else:
            confidence, status = "none", "not flagged"
            text = f"{name}: no persistent change from the home baseline."
        return {**base, "status": status, "confidence": confidence, "first_fired": ever[0] if ever else None,
                "text": text}  # fmt: skip


#: Days of a baseline taken by default: the pre-op week, or the first week of monitoring (CLINICAL.md §5 rule 4).
BASELINE_DAYS: Final = 7


def home_baseline(
    days: Sequence[Mapping[str, Any]],
    *,
    period: tuple[date, date] | None = None,
    surgery_date: date | None = None,
    min_valid_days: int,
    period_source: str = "baseline period given",
    plateau_hint: str = "set the post-op plateau as the baseline period",
) -> tuple[str, str, str] | None:
    """The home baseline period (CLINICAL.md §5 rule 4): first and last ISO date, and what it is.

    In order: ``period`` when given; else the week before ``surgery_date`` when it holds ``min_valid_days``
    sufficient days (rule 4a); else the first ``BASELINE_DAYS`` days from the first day (rule 4b, said so, with
    ``plateau_hint``: the clinician should set the post-op plateau). None when there is no period and no day.

    Parameters
    ----------
    days : sequence of mapping
        Day entries (``date`` ISO, ``sufficient``), in date order.
    """
    if period is not None:
        return period[0].isoformat(), period[1].isoformat(), period_source
    if surgery_date is not None:
        last = surgery_date - timedelta(days=1)
        first = last - timedelta(days=BASELINE_DAYS - 1)
        pre_op = [d for d in days if first.isoformat() <= d["date"] <= last.isoformat() and d.get("sufficient")]
        if len(pre_op) >= min_valid_days:
            return first.isoformat(), last.isoformat(), "pre-op home week (CLINICAL.md §5 rule 4a)"
    if not days:
        return None
    first = date.fromisoformat(str(days[0]["date"]))
    last = first + timedelta(days=BASELINE_DAYS - 1)
    return (
        first.isoformat(),
        last.isoformat(),
        f"first week of monitoring (default): {plateau_hint} (CLINICAL.md §5 rule 4b)",
    )
