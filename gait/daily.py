"""Everyday walking: hours of home recording → Mobilise-D walking bouts → daily digital mobility outcomes.

The analysis of issue 9 (CLINICAL.md §5). Nothing here detects a step: :class:`DailyAnalyzer` runs the offline
:class:`~gait.pipeline.GaitPipeline` over the recording in overlapping windows and stitches what it finds.

1. **Windows.** The recording (one :class:`~gait.recording.Recording`, or its consecutive chunks as they are read
   from storage) is cut into windows of ``window_s`` (10 min) plus ``margin_s`` (30 s) on either side. The pipeline
   analyses the pelvis sensor of each window; a window keeps the initial contacts (ICs) of its core only. The cut
   between two cores is moved off the nominal boundary to halfway between two consecutive ICs, so a contact that two
   windows place a sample apart is owned by exactly one of them. Pipeline bouts that run through a cut are joined
   (either window saw the bout go on across it). A bout that crosses a window edge is therefore neither cut nor
   counted twice. Memory stays bounded: only the data a window or a pending bout still needs is kept.
2. **Walking bouts** (WB; CLINICAL.md §5 rule 1, the Mobilise-D definition: at least two consecutive strides of
   both feet [70, 71]). With the numbers of the Mobilise-D reference implementation (mobgap ``WbAssembly``,
   preset ``mobilise_wb`` [72]; ``[daily]`` in ``gait/data/clinical_rules.toml``): runs of regular steps (pipeline
   bouts) are merged across breaks of at most ``max_break_s`` (3 s) between the end of one stride and the start of
   the next; a WB needs at least ``min_strides`` (4) strides (a stride: one IC to the next of the same foot).
   Steps of a WB = its ICs; its duration = first to last IC (the breaks included).
3. **Daily outcomes** (CLINICAL.md §5 rule 2, Mobilise-D aggregation [72]): steps, walking time, number of WBs (all,
   > 10 s, > 30 s, > 60 s), WB duration median and 90th percentile, cadence (mean over WBs), walking speed
   (median and 90th percentile over WBs > 10 s; mean in 10–30 s and > 30 s WBs), stride length (mean in 10–30 s and
   > 30 s WBs), stride duration CV (between WBs, as Mobilise-D) and the median stride-time CV within WBs > 30 s.
4. **Kinematics at home** (CLINICAL.md §5 rule 3): each WB of at least 30 s is analysed again, all sensors, with
   ``context_s`` of data on either side (the quiet standing that calibrates the posture); strides in turns and the
   first and last two strides of the WB are dropped. Per day the strides are binned by speed (bins of
   ±``speed.baseline_bin_mps``, CLINICAL.md §3 rule 4) and summarised as median and IQR per bin, with the day's
   modal bin.
5. **Wear time and sufficiency.** One-second epochs of the pelvis sensor: recorded time (valid samples) and
   stillness; a still run of at least ``non_wear_still_min`` counts as not worn. A day with less wear or walking than
   the rules require is marked insufficient and left out of the multi-day summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from gait.bouts import runs
from gait.errors import AnalysisError
from gait.norms import CLINICAL_RULES, ClinicalRules, RulesError
from gait.pipeline import GaitPipeline, GaitResult
from gait.recording import PELVIS, Recording

__all__ = [
    "DAILY_SCHEMA",
    "DailyAnalyzer",
    "DailyResult",
    "DailyRules",
    "DayKinematics",
    "DayOutcomes",
    "KinematicBin",
    "Quartiles",
    "WalkingBoutTable",
    "still_epochs",
    "walking_bout_table",
    "walking_bouts",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

DAILY_SCHEMA: Final = "fusiongait.daily/1"
_SECONDS_PER_DAY: Final = 86400.0
#: A run of empty epochs at least this long is time not recorded, not samples lost (see ``_loss_warning``).
NOT_RECORDED_S: Final = 60.0
#: Share of the samples lost while recording above which the result warns (as :class:`GaitPipeline` does).
LOST_WARN_FRACTION: Final = 0.05
_LEFT, _RIGHT = 0, 1
# Fewest straight strides in a WB before its turns are left out of its stride-time CV (as gait.summary).
_MIN_STRAIGHT_STRIDES: Final = 4


# ------------------------------------------------------------------------------------------------------ rules
@dataclass(frozen=True, slots=True)
class DailyRules:
    """The everyday-walking rules (``[daily]`` of the rules file, with their sources).

    Attributes
    ----------
    min_strides : int
        Fewest strides in a walking bout.
    max_break_s : float
        Longest break between two strides inside one walking bout.
    duration_classes_s : tuple of float
        WB duration classes counted per day (strictly longer than each).
    kinematics_min_bout_s : float
        Shortest WB whose strides feed the kinematics.
    kinematics_trim_strides : int
        Strides dropped at each end of such a WB.
    speed_bin_mps : float
        Width of a speed bin (twice ``speed.baseline_bin_mps``).
    kinematics_min_strides_per_side : int
        Used strides per side in the modal speed bin for the day's kinematics to count.
    min_wear_s, min_walking_s : float
        A day needs this much wear time and walking time in WBs.
    non_wear_still_s : float
        A still run at least this long is taken as not worn.
    min_valid_days : int
        Valid days needed for a multi-day (weekly) value.
    sources : mapping of str to str
        Where each number comes from.
    interim : tuple of str
        The numbers that are interim (to be replaced by the project's own data).
    """

    min_strides: int = 4
    max_break_s: float = 3.0
    duration_classes_s: tuple[float, ...] = (10.0, 30.0, 60.0)
    kinematics_min_bout_s: float = 30.0
    kinematics_trim_strides: int = 2
    speed_bin_mps: float = 0.3
    kinematics_min_strides_per_side: int = 20
    min_wear_s: float = 12.0 * 3600.0
    min_walking_s: float = 300.0
    non_wear_still_s: float = 3600.0
    min_valid_days: int = 3
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    interim: tuple[str, ...] = ()

    @classmethod
    def from_rules(cls, rules: ClinicalRules = CLINICAL_RULES) -> DailyRules:
        """Read the ``[daily]`` table of a parsed rules file.

        Raises
        ------
        RulesError
            When the table or one of its numbers is missing.
        """
        d = rules.daily

        def num(key: str) -> float:
            try:
                return float(d[key])
            except (KeyError, TypeError, ValueError):
                raise RulesError(f"daily.{key}: expected a number in the rules file") from None

        try:
            classes = tuple(float(x) for x in d["duration_classes_s"])
        except (KeyError, TypeError, ValueError):
            raise RulesError("daily.duration_classes_s: expected a list of numbers in the rules file") from None
        sources = {k.removesuffix("_source"): str(v) for k, v in d.items() if k.endswith("_source")}
        interim = tuple(k.removesuffix("_interim") for k, v in d.items() if k.endswith("_interim") and v is True)
        return cls(
            min_strides=int(num("min_strides")),
            max_break_s=num("max_break_s"),
            duration_classes_s=classes,
            kinematics_min_bout_s=num("kinematics_min_bout_s"),
            kinematics_trim_strides=int(num("kinematics_trim_strides")),
            speed_bin_mps=2.0 * rules.speed.baseline_bin_mps,
            kinematics_min_strides_per_side=int(num("kinematics_min_strides_per_side")),
            min_wear_s=num("min_wear_h") * 3600.0,
            min_walking_s=num("min_walking_s"),
            non_wear_still_s=num("non_wear_still_min") * 60.0,
            min_valid_days=int(num("min_valid_days")),
            sources=MappingProxyType(sources),
            interim=interim,
        )


# ------------------------------------------------------------------------------------- walking bouts (pure)
def _pieces(piece: IntArray) -> tuple[IntArray, IntArray]:
    """First position and length of each run of equal ``piece`` ids."""
    n = piece.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = np.flatnonzero(np.concatenate(([True], piece[1:] != piece[:-1]))).astype(np.int64)
    length = np.diff(np.append(first, n)).astype(np.int64)
    return first, length


@dataclass(frozen=True, slots=True)
class _Groups:
    """Runs of regular steps grouped across short breaks (before the stride-count rule)."""

    first_pos: IntArray  # position of each group's first IC
    last_pos: IntArray  # position of its last IC
    n_strides: IntArray
    valid: BoolArray  # enough strides for a WB
    group_of_ic: IntArray  # -1 for ICs of a run too short to hold a stride


def _groups(
    ic_idx: IntArray, piece: IntArray, sampling_rate_hz: float, max_break_s: float, min_strides: int
) -> _Groups:
    first, length = _pieces(piece)
    strides = np.maximum(length - 2, 0)
    usable = strides > 0  # a run of fewer than 3 ICs holds no stride: it neither counts nor bridges a break
    ps, pl, pstr = first[usable], length[usable], strides[usable]
    if ps.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Groups(empty, empty, empty, np.zeros(0, dtype=bool), np.full(ic_idx.size, -1, dtype=np.int64))
    pe = ps + pl - 1
    gap_s = (ic_idx[ps[1:]] - ic_idx[pe[:-1]]) / sampling_rate_hz
    group = np.cumsum(np.concatenate(([True], gap_s > max_break_s))) - 1
    n_groups = int(group[-1]) + 1
    n_strides = np.bincount(group, weights=pstr, minlength=n_groups).astype(np.int64)
    group_first = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(group_first, group, ps)
    group_last = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(group_last, group, pe)
    group_of_piece = np.full(first.size, -1, dtype=np.int64)
    group_of_piece[usable] = group
    return _Groups(
        first_pos=group_first,
        last_pos=group_last,
        n_strides=n_strides,
        valid=n_strides >= min_strides,
        group_of_ic=np.repeat(group_of_piece, length),
    )


def walking_bouts(
    ic_idx: IntArray,
    piece: IntArray,
    sampling_rate_hz: float,
    *,
    max_break_s: float = 3.0,
    min_strides: int = 4,
) -> IntArray:
    """Group initial contacts into Mobilise-D walking bouts (CLINICAL.md §5 rule 1; mobgap ``mobilise_wb`` [72]).

    Parameters
    ----------
    ic_idx : ndarray of int, shape (n_ic,)
        Initial contacts, increasing (sample indices).
    piece : ndarray of int, shape (n_ic,)
        Id of the run of regular steps each IC belongs to (a pipeline bout, or a simulated walk), non-decreasing.
        Strides (IC ``j`` to ``j + 2``) exist only inside a run.
    sampling_rate_hz : float
    max_break_s : float
        Runs whose first IC follows the previous run's last IC by at most this much are one WB.
    min_strides : int
        Fewest strides in a WB.

    Returns
    -------
    ndarray of int, shape (n_ic,)
        The WB of each IC, numbered 0, 1, ... in time order; -1 for ICs in no WB.
    """
    ic = np.asarray(ic_idx, dtype=np.int64)
    g = _groups(ic, np.asarray(piece, dtype=np.int64), sampling_rate_hz, max_break_s, min_strides)
    number = np.cumsum(g.valid) - 1
    wb_of_group = np.where(g.valid, number, -1).astype(np.int64)
    out = np.full(ic.size, -1, dtype=np.int64)
    in_group = g.group_of_ic >= 0
    out[in_group] = wb_of_group[g.group_of_ic[in_group]]
    return out


@dataclass(frozen=True, slots=True)
class WalkingBoutTable:
    """Mobilise-D walking bouts, one row per WB; arrays of shape (n_wb,).

    Attributes
    ----------
    start_idx, stop_idx : ndarray of int
        First and last IC (sample index from the recording's start).
    n_steps : ndarray of int
        ICs in the WB.
    n_strides : ndarray of int
    duration_s : ndarray
        First to last IC.
    cadence_spm : ndarray
        Steps per minute of stepping (breaks between runs excluded).
    walking_speed_mps, stride_length_m : ndarray
        Total step length over total step time (steps with a length); mean stride length. NaN when unknown.
    stride_time_s, stride_time_cv_pct : ndarray
        Mean stride time and its CV (straight strides when there are at least 4, else all; NaN below 2).
    n_turns : ndarray of int
        Turns starting inside the WB.
    day : ndarray of int
        Local calendar day of the WB's start (days since 1970-01-01).
    """

    start_idx: IntArray
    stop_idx: IntArray
    n_steps: IntArray
    n_strides: IntArray
    duration_s: FloatArray
    cadence_spm: FloatArray
    walking_speed_mps: FloatArray
    stride_length_m: FloatArray
    stride_time_s: FloatArray
    stride_time_cv_pct: FloatArray
    n_turns: IntArray
    day: IntArray

    @property
    def n(self) -> int:
        """Number of WBs."""
        return int(self.start_idx.size)


def walking_bout_table(
    ic_idx: IntArray,
    piece: IntArray,
    wb_of_ic: IntArray,
    step_length_m: FloatArray,
    step_straight: BoolArray,
    turn_start_idx: IntArray,
    sampling_rate_hz: float,
    *,
    start_time_s: float = 0.0,
    utc_offset_s: float = 0.0,
) -> WalkingBoutTable:
    """Per-WB outcomes, vectorised over WBs (segment sums, no loop per WB).

    Parameters
    ----------
    ic_idx, piece, wb_of_ic : ndarray of int, shape (n_ic,)
        ICs (increasing), their run of regular steps and their WB (:func:`walking_bouts`).
    step_length_m : ndarray, shape (n_ic,)
        Length of the step ending at each IC (NaN when unknown or first of a run).
    step_straight : ndarray of bool, shape (n_ic,)
        The step ending at each IC is clear of turns.
    turn_start_idx : ndarray of int
        Start of every turn.
    sampling_rate_hz : float
    start_time_s, utc_offset_s : float
        Time of sample 0 and the local offset from UTC, for the day of each WB.
    """
    fs = sampling_rate_hz
    ic = np.asarray(ic_idx, dtype=np.int64)
    wb = np.asarray(wb_of_ic, dtype=np.int64)
    n_wb = int(wb.max()) + 1 if wb.size and wb.max() >= 0 else 0
    pos = np.flatnonzero(wb >= 0)
    w = wb[pos]
    boundary = np.concatenate(([True], w[1:] != w[:-1])) if w.size else np.zeros(0, dtype=bool)
    first = pos[boundary]
    last = pos[np.append(np.flatnonzero(boundary)[1:] - 1, w.size - 1)] if w.size else pos
    start, stop = ic[first], ic[last]

    def total(labels: IntArray, weights: FloatArray | None = None) -> FloatArray:
        return np.bincount(labels, weights=weights, minlength=n_wb).astype(np.float64)

    # Steps: consecutive ICs of one run.
    j = np.flatnonzero((piece[1:] == piece[:-1]) & (wb[:-1] >= 0)) if ic.size > 1 else np.zeros(0, dtype=np.int64)
    step_wb = wb[j]
    step_n = (ic[j + 1] - ic[j]).astype(np.float64)
    step_len = step_length_m[j + 1]
    has_len = np.isfinite(step_len)
    n_step = total(step_wb)
    step_time_s = total(step_wb, step_n) / fs
    len_sum = total(step_wb[has_len], step_len[has_len])
    len_time_s = total(step_wb[has_len], step_n[has_len]) / fs
    # Strides: IC j to j + 2 of one run.
    k = (
        np.flatnonzero((piece[2:] == piece[:-2]) & (piece[1:-1] == piece[:-2]) & (wb[:-2] >= 0))
        if ic.size > 2
        else np.zeros(0, dtype=np.int64)
    )
    stride_wb = wb[k]
    stride_s = (ic[k + 2] - ic[k]) / fs
    stride_len = step_length_m[k + 1] + step_length_m[k + 2]
    stride_straight = step_straight[k + 1] & step_straight[k + 2]
    use_straight = total(stride_wb[stride_straight]) >= _MIN_STRAIGHT_STRIDES
    sel = stride_straight | ~use_straight[stride_wb]
    n_sel = total(stride_wb[sel])
    mean_sel = total(stride_wb[sel], stride_s[sel]) / np.maximum(n_sel, 1)
    sq_dev = (stride_s[sel] - mean_sel[stride_wb[sel]]) ** 2
    var_sel = total(stride_wb[sel], sq_dev) / np.maximum(n_sel - 1, 1)
    finite_len = np.isfinite(stride_len)
    n_len = total(stride_wb[finite_len])
    with np.errstate(divide="ignore", invalid="ignore"):
        cadence = np.where(step_time_s > 0, 60.0 * n_step / step_time_s, np.nan)
        speed = np.where(len_time_s > 0, len_sum / len_time_s, np.nan)
        stride_length = np.where(n_len > 0, total(stride_wb[finite_len], stride_len[finite_len]) / n_len, np.nan)
        stride_time = np.where(n_sel > 0, mean_sel, np.nan)
        cv = np.where(n_sel >= 2, 100.0 * np.sqrt(var_sel) / mean_sel, np.nan)
    turns = np.sort(np.asarray(turn_start_idx, dtype=np.int64))
    n_turns = np.searchsorted(turns, stop, side="right") - np.searchsorted(turns, start, side="left")
    day = np.floor((start_time_s + start / fs + utc_offset_s) / _SECONDS_PER_DAY).astype(np.int64)
    return WalkingBoutTable(
        start_idx=start.astype(np.int64),
        stop_idx=stop.astype(np.int64),
        n_steps=np.bincount(w, minlength=n_wb).astype(np.int64),
        n_strides=np.bincount(stride_wb, minlength=n_wb).astype(np.int64),
        duration_s=(stop - start) / fs,
        cadence_spm=cadence,
        walking_speed_mps=speed,
        stride_length_m=stride_length,
        stride_time_s=stride_time,
        stride_time_cv_pct=cv,
        n_turns=n_turns.astype(np.int64),
        day=day,
    )


def still_epochs(
    acc_mps2: FloatArray,
    gyr_dps: FloatArray,
    valid: BoolArray,
    epoch_len: int,
    *,
    max_acc_sd_mps2: float = 0.15,
    max_gyr_dps: float = 8.0,
) -> tuple[FloatArray, BoolArray]:
    """Recorded samples and stillness of each epoch of one sensor, vectorised over epochs.

    Parameters
    ----------
    acc_mps2, gyr_dps : ndarray, shape (n_samples, 3)
        One sensor (gap samples may hold NaN).
    valid : ndarray of bool, shape (n_samples,)
    epoch_len : int
        Samples per epoch; a last partial epoch counts with the samples it has.
    max_acc_sd_mps2, max_gyr_dps : float
        Still when the SD of the specific-force magnitude and the mean angular-rate magnitude over the epoch's
        valid samples are below these (the thresholds of :func:`gait.bouts.quiet_standing`).

    Returns
    -------
    n_valid : ndarray, shape (n_epochs,)
        Valid samples per epoch.
    still : ndarray of bool, shape (n_epochs,)
        At least half the epoch valid, and still.
    """
    n = valid.shape[-1]
    n_epochs = -(-n // epoch_len)
    pad = n_epochs * epoch_len - n
    ok = np.concatenate([valid, np.zeros(pad, dtype=bool)]).reshape(n_epochs, epoch_len)
    norm = np.linalg.norm(acc_mps2, axis=-1)
    rate = np.linalg.norm(gyr_dps, axis=-1)
    norm = np.concatenate([norm, np.zeros(pad)]).reshape(n_epochs, epoch_len)
    rate = np.concatenate([rate, np.zeros(pad)]).reshape(n_epochs, epoch_len)
    count = ok.sum(axis=-1)
    norm = np.where(ok, norm, 0.0)
    rate = np.where(ok, rate, 0.0)
    denom = np.maximum(count, 1)
    mean = norm.sum(axis=-1) / denom
    sd = np.sqrt(np.where(ok, (norm - mean[:, None]) ** 2, 0.0).sum(axis=-1) / denom)
    rate_mean = rate.sum(axis=-1) / denom
    still = (2 * count >= epoch_len) & (sd < max_acc_sd_mps2) & (rate_mean < max_gyr_dps)
    return count.astype(np.float64), np.asarray(still, dtype=bool)


# ---------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class Quartiles:
    """Median and interquartile range of per-stride values (NaN when ``n`` is 0)."""

    median: float
    q1: float
    q3: float
    n: int


def _quartiles(values: FloatArray) -> Quartiles:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return Quartiles(math.nan, math.nan, math.nan, 0)
    q1, med, q3 = np.percentile(v, [25.0, 50.0, 75.0])
    return Quartiles(float(med), float(q1), float(q3), int(v.size))


def _symmetry(left: Quartiles, right: Quartiles) -> float:
    """Larger over smaller side median (NaN when either is missing or not positive)."""
    a, b = left.median, right.median
    if not (math.isfinite(a) and math.isfinite(b)) or min(a, b) <= 0:
        return math.nan
    return max(a, b) / min(a, b)


@dataclass(frozen=True, slots=True)
class KinematicBin:
    """Kinematics of one day's strides within one speed bin.

    Attributes
    ----------
    speed_low_mps, speed_high_mps : float
        The bin (half-open).
    n_strides_left, n_strides_right : int
        Used strides per side.
    metrics : mapping of str to Quartiles
        Per-stride metrics: ``tilt_rom_deg``, ``obliquity_rom_deg``, ``rotation_rom_deg``, ``mean_tilt_deg``,
        ``hip_peak_extension_{left,right}_deg``, ``hip_sagittal_rom_{left,right}_deg``,
        ``pelvic_drop_{left,right}_deg``, ``stance_pct_{left,right}``, ``swing_pct_{left,right}``,
        ``step_length_{left,right}_m``.
    derived : mapping of str to float
        ``pelvic_drop_asymmetry_deg`` (left minus right median), ``stance_symmetry_ratio``,
        ``swing_symmetry_ratio``, ``step_length_symmetry_ratio`` (larger over smaller side median).
    """

    speed_low_mps: float
    speed_high_mps: float
    n_strides_left: int
    n_strides_right: int
    metrics: Mapping[str, Quartiles]
    derived: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class DayKinematics:
    """Pelvis and hip kinematics of one day (CLINICAL.md §5 rule 3).

    Attributes
    ----------
    n_bouts : int
        WBs of at least ``kinematics_min_bout_s`` that were analysed.
    bins : tuple of KinematicBin
        Ascending speed.
    modal_bin : int
        Index into ``bins`` of the bin with the most used strides (-1 when there are none).
    sufficient : bool
        The modal bin holds ``kinematics_min_strides_per_side`` used strides on each side.
    """

    n_bouts: int
    bins: tuple[KinematicBin, ...]
    modal_bin: int
    sufficient: bool


@dataclass(frozen=True, slots=True)
class DayOutcomes:
    """Daily digital mobility outcomes of one local calendar day (CLINICAL.md §5 rule 2).

    Attributes
    ----------
    day : int
        Days since 1970-01-01 (local time).
    date : str
        ISO date.
    start_idx, stop_idx : int
        The day's samples in the recording (half-open).
    recorded_s, wear_s, non_wear_s : float
        Time with valid pelvis samples; of it, worn and not worn (still runs).
    sufficient : bool
        Enough wear and walking: counted in multi-day values.
    reasons : tuple of str
        Why not (empty when sufficient).
    steps, n_wb : int
    n_wb_longer : mapping of float to int
        WBs longer than each duration class (10, 30, 60 s).
    walking_s : float
        Total WB duration.
    wb_duration_median_s, wb_duration_p90_s : float
    cadence_spm : float
        Mean over WBs.
    walking_speed_median_mps, walking_speed_p90_mps : float
        Over WBs longer than 10 s.
    walking_speed_10_30_mps, walking_speed_30_mps, stride_length_10_30_m, stride_length_30_m : float
        Means over WBs of 10–30 s and longer than 30 s.
    stride_time_s : float
        Mean over WBs.
    stride_time_cv_pct : float
        Mobilise-D "stride duration CV": CV of the WBs' mean stride times.
    stride_time_cv_in_bout_pct : float
        Median of the stride-time CV within each WB longer than 30 s (stride-to-stride variability, F7).
    kinematics : DayKinematics
    """

    day: int
    date: str
    start_idx: int
    stop_idx: int
    recorded_s: float
    wear_s: float
    non_wear_s: float
    sufficient: bool
    reasons: tuple[str, ...]
    steps: int
    n_wb: int
    n_wb_longer: Mapping[float, int]
    walking_s: float
    wb_duration_median_s: float
    wb_duration_p90_s: float
    cadence_spm: float
    walking_speed_median_mps: float
    walking_speed_p90_mps: float
    walking_speed_10_30_mps: float
    walking_speed_30_mps: float
    stride_length_10_30_m: float
    stride_length_30_m: float
    stride_time_s: float
    stride_time_cv_pct: float
    stride_time_cv_in_bout_pct: float
    kinematics: DayKinematics


#: Outcomes summarised over the sufficient days (median) and shown per day.
_DAY_NUMBERS: Final = (
    "steps",
    "walking_s",
    "n_wb",
    "wb_duration_median_s",
    "wb_duration_p90_s",
    "cadence_spm",
    "walking_speed_median_mps",
    "walking_speed_p90_mps",
    "walking_speed_10_30_mps",
    "walking_speed_30_mps",
    "stride_length_10_30_m",
    "stride_length_30_m",
    "stride_time_s",
    "stride_time_cv_pct",
    "stride_time_cv_in_bout_pct",
    "wear_s",
)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


@dataclass(frozen=True, slots=True)
class DailyResult:
    """Everything the everyday-walking analysis found in a home recording.

    Attributes
    ----------
    sampling_rate_hz, start_time_s, duration_s : float
    utc_offset_s : float
        Local time offset used for the calendar days.
    placements : tuple of str
    ic_idx : ndarray of int, shape (n_ic,)
        Every initial contact kept (sample index from the recording's start).
    ic_side : ndarray of int, shape (n_ic,)
        0 left, 1 right, -1 unknown.
    ic_wb : ndarray of int, shape (n_ic,)
        WB of each IC (-1 for none).
    bouts : WalkingBoutTable
    days : tuple of DayOutcomes
    rules : DailyRules
    n_windows : int
        Pipeline windows analysed.
    warnings : tuple of str
    """

    sampling_rate_hz: float
    start_time_s: float
    duration_s: float
    utc_offset_s: float
    placements: tuple[str, ...]
    ic_idx: IntArray
    ic_side: IntArray
    ic_wb: IntArray
    bouts: WalkingBoutTable
    days: tuple[DayOutcomes, ...]
    rules: DailyRules
    n_windows: int
    warnings: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Median of each daily outcome over the sufficient days only, with how many there were.

        Returns
        -------
        dict
            ``n_days``, ``n_sufficient_days``, ``enough_days`` (at least ``rules.min_valid_days``) and the median
            of each outcome (NaN without sufficient days).
        """
        good = [d for d in self.days if d.sufficient]
        out: dict[str, Any] = {
            "n_days": len(self.days),
            "n_sufficient_days": len(good),
            "enough_days": len(good) >= self.rules.min_valid_days,
        }
        for name in _DAY_NUMBERS:
            values = np.array([float(getattr(d, name)) for d in good], dtype=np.float64)
            values = values[np.isfinite(values)]
            out[name] = float(np.median(values)) if values.size else math.nan
        return out

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (``schema: "fusiongait.daily/1"``); times in seconds, NaN as None."""
        fs = self.sampling_rate_hz
        b = self.bouts
        bouts = [
            {
                "start_s": _num(float(b.start_idx[i]) / fs),
                "end_s": _num(float(b.stop_idx[i]) / fs),
                "duration_s": _num(float(b.duration_s[i])),
                "n_steps": int(b.n_steps[i]),
                "n_strides": int(b.n_strides[i]),
                "n_turns": int(b.n_turns[i]),
                "cadence_spm": _num(float(b.cadence_spm[i])),
                "walking_speed_mps": _num(float(b.walking_speed_mps[i])),
                "stride_length_m": _num(float(b.stride_length_m[i])),
                "stride_time_s": _num(float(b.stride_time_s[i])),
                "stride_time_cv_pct": _num(float(b.stride_time_cv_pct[i])),
            }
            for i in range(b.n)
        ]
        summary = {k: (_num(v) if isinstance(v, float) else v) for k, v in self.summary().items()}
        r = self.rules
        return {
            "schema": DAILY_SCHEMA,
            "norms_version": CLINICAL_RULES.version,
            "start_time_s": self.start_time_s,
            "duration_s": _num(self.duration_s),
            "utc_offset_s": self.utc_offset_s,
            "sampling_rate_hz": fs,
            "placements": list(self.placements),
            "rules": {
                "min_strides": r.min_strides,
                "max_break_s": r.max_break_s,
                "duration_classes_s": list(r.duration_classes_s),
                "kinematics_min_bout_s": r.kinematics_min_bout_s,
                "kinematics_trim_strides": r.kinematics_trim_strides,
                "speed_bin_mps": r.speed_bin_mps,
                "kinematics_min_strides_per_side": r.kinematics_min_strides_per_side,
                "min_wear_s": r.min_wear_s,
                "min_walking_s": r.min_walking_s,
                "non_wear_still_s": r.non_wear_still_s,
                "min_valid_days": r.min_valid_days,
                "sources": dict(r.sources),
                "interim": list(r.interim),
            },
            "days": [_day_json(d) for d in self.days],
            "summary": summary,
            "bouts": bouts,
            "warnings": list(self.warnings),
        }


def _quartiles_json(q: Quartiles) -> dict[str, Any]:
    return {"median": _num(q.median), "q1": _num(q.q1), "q3": _num(q.q3), "n": q.n}


def _day_json(d: DayOutcomes) -> dict[str, Any]:
    k = d.kinematics
    return {
        "date": d.date,
        "sufficient": d.sufficient,
        "reasons": list(d.reasons),
        "recorded_s": _num(d.recorded_s),
        "wear_s": _num(d.wear_s),
        "non_wear_s": _num(d.non_wear_s),
        "steps": d.steps,
        "walking_s": _num(d.walking_s),
        "n_wb": d.n_wb,
        "n_wb_longer": {f"{c:g}": n for c, n in d.n_wb_longer.items()},
        **{name: _num(float(getattr(d, name))) for name in _DAY_NUMBERS if name not in ("steps", "n_wb", "walking_s")},
        "kinematics": {
            "n_bouts": k.n_bouts,
            "sufficient": k.sufficient,
            "modal_bin": k.modal_bin,
            "bins": [
                {
                    "speed_low_mps": round(kb.speed_low_mps, 3),
                    "speed_high_mps": round(kb.speed_high_mps, 3),
                    "n_strides": {"left": kb.n_strides_left, "right": kb.n_strides_right},
                    "metrics": {name: _quartiles_json(q) for name, q in kb.metrics.items()},
                    "derived": {name: _num(v) for name, v in kb.derived.items()},
                }
                for kb in k.bins
            ],
        },
    }


# --------------------------------------------------------------------------------------------------- analyser
class _Buffer:
    """Consecutive chunks of a recording, with the samples that are still needed."""

    def __init__(self) -> None:
        self.parts: list[tuple[int, Recording]] = []
        self.end = 0
        self.first: Recording | None = None

    @property
    def start(self) -> int:
        return self.parts[0][0] if self.parts else self.end

    def push(self, chunk: Recording) -> None:
        first = self.first
        if first is None:
            self.first = chunk
        else:
            if chunk.placements != first.placements or chunk.sampling_rate_hz != first.sampling_rate_hz:
                raise AnalysisError(
                    f"chunks: expected placements {first.placements} at {first.sampling_rate_hz} Hz, got "
                    f"{chunk.placements} at {chunk.sampling_rate_hz} Hz"
                )
            expected_s = first.start_time_s + self.end / first.sampling_rate_hz
            if abs(chunk.start_time_s - expected_s) > 0.5 / first.sampling_rate_hz:
                raise AnalysisError(
                    f"chunks: expected consecutive chunks (this one to start at {expected_s:.3f} s), got "
                    f"{chunk.start_time_s:.3f} s; lost samples belong inside a chunk as invalid samples"
                )
            if chunk.frame != first.frame:
                raise AnalysisError(f"chunks: expected frame {first.frame!r}, got {chunk.frame!r}")
        self.parts.append((self.end, chunk))
        self.end += chunk.n_samples

    def arrays(self, start_idx: int, stop_idx: int, sensors: list[int]) -> tuple[FloatArray, FloatArray, BoolArray]:
        """Samples ``start_idx:stop_idx`` of the given sensors: acc, gyr (n_sensors, n, 3), valid (n_sensors, n)."""
        acc, gyr, valid = [], [], []
        for offset, rec in self.parts:
            a, b = max(start_idx, offset), min(stop_idx, offset + rec.n_samples)
            if a < b:
                acc.append(rec.acc_mps2[sensors, a - offset : b - offset])
                gyr.append(rec.gyr_dps[sensors, a - offset : b - offset])
                valid.append(rec.valid[sensors, a - offset : b - offset])
        return np.concatenate(acc, axis=-2), np.concatenate(gyr, axis=-2), np.concatenate(valid, axis=-1)

    def recording(self, start_idx: int, stop_idx: int, placements: tuple[str, ...]) -> Recording:
        """Samples ``start_idx:stop_idx`` as a new Recording with the given sensors."""
        assert self.first is not None
        sensors = [self.first.index(p) for p in placements]
        acc, gyr, valid = self.arrays(start_idx, stop_idx, sensors)
        return Recording(
            acc_mps2=acc,
            gyr_dps=gyr,
            sampling_rate_hz=self.first.sampling_rate_hz,
            placements=placements,
            valid=valid,
            frame=self.first.frame,
            start_time_s=self.first.start_time_s + start_idx / self.first.sampling_rate_hz,
            source=self.first.source,
        )

    def trim(self, keep_from_idx: int) -> None:
        while len(self.parts) > 1 and self.parts[0][0] + self.parts[0][1].n_samples <= keep_from_idx:
            self.parts.pop(0)


@dataclass
class _Stitched:
    """What the windows found so far (global sample indices)."""

    ic: list[IntArray] = field(default_factory=list)
    side: list[IntArray] = field(default_factory=list)
    piece: list[IntArray] = field(default_factory=list)
    step_length_m: list[FloatArray] = field(default_factory=list)
    step_straight: list[BoolArray] = field(default_factory=list)
    turn_start: list[int] = field(default_factory=list)
    next_piece: int = 0
    last_piece: int = -1
    last_ic: int = -1
    tail_continues: bool = False

    def arrays(self) -> tuple[IntArray, IntArray, IntArray, FloatArray, BoolArray]:
        def cat(parts: list[Any], dtype: Any) -> Any:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return (
            cat(self.ic, np.int64),
            cat(self.side, np.int64),
            cat(self.piece, np.int64),
            cat(self.step_length_m, np.float64),
            cat(self.step_straight, bool),
        )


_STRIDE_FIELDS: Final = (
    "tilt_rom_deg",
    "obliquity_rom_deg",
    "rotation_rom_deg",
    "mean_tilt_deg",
    "pelvic_drop_deg",
    "hip_peak_extension_deg",
    "hip_sagittal_rom_deg",
)


class DailyAnalyzer:
    """Everyday-walking analysis of a home recording (see the module docstring).

    Parameters
    ----------
    pipeline : GaitPipeline, optional
        The analysis run on every window and on every long WB (body height, sensor height and stage parameters);
        default ``GaitPipeline()``. The windows use a copy without kinematics, on the pelvis sensor only.
    rules : DailyRules, optional
        Default: the ``[daily]`` rules of ``gait/data/clinical_rules.toml``.
    window_s, margin_s : float
        Core length of a window and the data added on either side.
    context_s : float
        Data on either side of a long WB when it is analysed for kinematics.
    utc_offset_s : float
        Offset of the patient's local time from UTC (calendar days start at local midnight).
    with_kinematics : bool
        Analyse the long WBs for pelvis and hip kinematics.
    epoch_s : float
        Epoch for wear time.
    max_step_gap_s : float
        Two contacts further apart than this at a window cut are never joined into one run.
    """

    def __init__(
        self,
        *,
        pipeline: GaitPipeline | None = None,
        rules: DailyRules | None = None,
        window_s: float = 600.0,
        margin_s: float = 30.0,
        context_s: float = 20.0,
        utc_offset_s: float = 0.0,
        with_kinematics: bool = True,
        epoch_s: float = 1.0,
        max_step_gap_s: float = 2.0,
    ) -> None:
        if window_s < 60.0 or margin_s < 10.0 or margin_s > window_s:
            raise AnalysisError(
                f"window_s/margin_s: expected a window of at least 60 s and a margin of 10 s up to the window, got "
                f"{window_s}/{margin_s}"
            )
        if not 0.0 <= context_s <= margin_s:
            raise AnalysisError(f"context_s: expected between 0 and margin_s ({margin_s} s), got {context_s}")
        self.pipeline = pipeline or GaitPipeline()
        p = self.pipeline
        self._windows = GaitPipeline(
            height_m=p.height_m,
            sensor_height_m=p.sensor_height_m,
            pendulum_factor=p.pendulum_factor,
            max_bridged_gap_s=p.max_bridged_gap_s,
            bout_detector=p.bout_detector,
            event_detector=p.event_detector,
            turn_detector=p.turn_detector,
            with_kinematics=False,
        )
        self.rules = rules or DailyRules.from_rules()
        self.window_s = float(window_s)
        self.margin_s = float(margin_s)
        self.context_s = float(context_s)
        self.utc_offset_s = float(utc_offset_s)
        self.with_kinematics = with_kinematics and p.kinematics is not None
        self.epoch_s = float(epoch_s)
        self.max_step_gap_s = float(max_step_gap_s)

    # ------------------------------------------------------------------ driver
    def run(self, data: Recording | Iterable[Recording]) -> DailyResult:
        """Analyse a home recording, whole or as consecutive chunks (any length each).

        Parameters
        ----------
        data : Recording or iterable of Recording
            Same placements, rate and frame throughout, each chunk starting where the previous one ended
            (``start_time_s``); lost samples are invalid samples inside a chunk. A pelvis sensor is required.

        Raises
        ------
        AnalysisError
            When there is no data or no pelvis sensor, or the chunks do not follow each other.
        """
        source = self._chunks(data)
        buf = _Buffer()
        for chunk in source:
            buf.push(chunk)
            break
        first = buf.first
        if first is None:
            raise AnalysisError("recording: no data")
        if not first.has(PELVIS):
            raise AnalysisError(f"recording: a pelvis (sacral) sensor is required, got {', '.join(first.placements)}")
        fs = first.sampling_rate_hz
        window = max(1, round(self.window_s * fs))
        margin = round(self.margin_s * fs)
        context = round(self.context_s * fs)
        epoch_len = max(1, round(self.epoch_s * fs))
        pelvis = [first.index(PELVIS)]
        stitched = _Stitched()
        epochs_valid: list[FloatArray] = []
        epochs_still: list[BoolArray] = []
        epoch_cursor = 0
        exhausted = False
        k = 0
        lower = 0
        warnings: set[str] = set()
        done: set[int] = set()
        strides: dict[str, list[Any]] = {}
        n_windows = 0
        while True:
            core_end = (k + 1) * window
            while not exhausted and buf.end < core_end + margin:
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                else:
                    buf.push(nxt)
            # Wear-time epochs over every complete epoch received (the last, partial one at the end).
            n_ep = (buf.end - epoch_cursor) // epoch_len
            if exhausted and buf.end > epoch_cursor + n_ep * epoch_len:
                n_ep += 1
            if n_ep:
                stop = min(buf.end, epoch_cursor + n_ep * epoch_len)
                acc, gyr, valid = buf.arrays(epoch_cursor, stop, pelvis)
                count, still = still_epochs(acc[0], gyr[0], valid[0], epoch_len)
                epochs_valid.append(count)
                epochs_still.append(still)
                epoch_cursor = stop
            if buf.end <= k * window:
                break
            last = exhausted and buf.end <= core_end + margin
            a = max(0, k * window - margin)
            b = buf.end if last else core_end + margin
            upper = self._window(buf, a, b, lower, None if last else core_end, stitched, warnings)
            n_windows += 1
            lower = upper
            k += 1
            keep_from = min(k * window - margin, epoch_cursor)
            if self.with_kinematics:
                keep_from = min(keep_from, self._kinematics_due(buf, stitched, upper, last, context, done, strides))
            if last:
                break
            buf.trim(keep_from)
        return self._result(buf, stitched, epochs_valid, epochs_still, epoch_len, strides, warnings, n_windows)

    def _chunks(self, data: Recording | Iterable[Recording]) -> Iterator[Recording]:
        if isinstance(data, Recording):
            fs = data.sampling_rate_hz
            step = max(1, round(self.window_s * fs))
            return (data.slice(i, min(i + step, data.n_samples)) for i in range(0, data.n_samples, step))
        return iter(data)

    # ------------------------------------------------------------------ one window
    def _window(
        self,
        buf: _Buffer,
        a: int,
        b: int,
        lower: int,
        boundary: int | None,
        st: _Stitched,
        warnings: set[str],
    ) -> int:
        """Analyse samples ``a:b``; keep the ICs from ``lower`` to the cut it places near ``boundary``; the cut."""
        fs = buf.first.sampling_rate_hz if buf.first is not None else 1.0
        end = b if boundary is None else boundary
        result: GaitResult | None = None
        if b - a >= round(1.0 * fs):
            rec = buf.recording(a, b, (PELVIS,))
            try:
                result = self._windows.run(rec)
            except AnalysisError:
                result = None
        if result is None or result.ic_idx.size == 0:
            st.tail_continues = False
            st.last_ic = -1
            return end
        # Lost samples are judged once for the whole recording (_loss_warning): a window's own share would count
        # the time between wear periods as lost, and say so once per window.
        warnings.update(w for w in result.warnings if "sensor height" in w)
        ic = result.ic_idx + a
        bout = result.bout_of_ic
        upper = end
        if boundary is not None:
            tol = round(0.2 * fs)
            j = int(np.searchsorted(ic, boundary))
            lo = int(ic[j - 1]) + tol if j > 0 else -(2**62)
            hi = int(ic[j]) - tol if j < ic.size else 2**62
            upper = int(np.clip(boundary, lo, hi)) if lo <= hi else (int(ic[j - 1]) + int(ic[j])) // 2
        owned = (ic >= lower) & (ic < upper)
        if not owned.any():
            st.tail_continues = False
            st.last_ic = -1
            return upper
        pos = np.flatnonzero(owned)
        step_len = np.full(ic.size, np.nan)
        step_straight = np.ones(ic.size, dtype=bool)
        at = np.searchsorted(result.ic_idx, result.steps.stop_idx)
        step_len[at] = result.steps.length_m
        step_straight[at] = result.steps.straight
        local = bout[pos]
        rank = np.cumsum(np.concatenate(([True], local[1:] != local[:-1]))) - 1  # 0, 0, 1, ... per local bout
        n_local = int(rank[-1]) + 1
        head_continues = bool(np.any(ic[bout == local[0]] < lower))
        joined = (
            st.last_ic >= 0
            and (st.tail_continues or head_continues)
            and (int(ic[pos[0]]) - st.last_ic) <= self.max_step_gap_s * fs
        )
        if joined:  # the first local bout goes on from the previous window's last run
            ids = np.where(rank == 0, st.last_piece, st.next_piece + rank - 1)
            st.next_piece += n_local - 1
        else:
            ids = st.next_piece + rank
            st.next_piece += n_local
        st.ic.append(ic[pos])
        st.side.append(result.side[pos])
        st.piece.append(ids.astype(np.int64))
        st.step_length_m.append(step_len[pos])
        st.step_straight.append(step_straight[pos])
        st.turn_start.extend(t.start_idx + a for t in result.turns if lower <= t.start_idx + a < upper)
        st.last_piece = int(ids[-1])
        st.last_ic = int(ic[pos[-1]])
        st.tail_continues = bool(np.any(ic[bout == local[-1]] >= upper))
        return upper

    # ------------------------------------------------------------------ kinematics of long WBs
    def _kinematics_due(
        self,
        buf: _Buffer,
        st: _Stitched,
        upper: int,
        last: bool,
        context: int,
        done: set[int],
        strides: dict[str, list[Any]],
    ) -> int:
        """Analyse every long WB that can no longer grow; return the first sample a growing one may still need."""
        assert buf.first is not None
        fs = buf.first.sampling_rate_hz
        r = self.rules
        ic, _, piece, _, _ = st.arrays()
        keep_from = upper
        if ic.size == 0:
            return keep_from
        g = _groups(ic, piece, fs, r.max_break_s, r.min_strides)
        for i in range(g.first_pos.size):
            first, final = int(ic[g.first_pos[i]]), int(ic[g.last_pos[i]])
            closed = last or (upper - final) > r.max_break_s * fs
            if not closed:
                keep_from = min(keep_from, first - context)
                continue
            if not g.valid[i] or first in done or (final - first) / fs < r.kinematics_min_bout_s:
                continue
            done.add(first)
            self._bout_kinematics(buf, first, final, context, strides)
        return keep_from

    def _bout_kinematics(
        self, buf: _Buffer, first: int, final: int, context: int, strides: dict[str, list[Any]]
    ) -> None:
        assert buf.first is not None
        fs = buf.first.sampling_rate_hz
        a = max(buf.start, first - context)
        b = min(buf.end, final + context)
        try:
            result = self.pipeline.run(buf.recording(a, b, buf.first.placements))
        except AnalysisError:
            return
        kin = result.kinematics
        if kin is None:
            return
        s = result.strides
        tol = round(0.2 * fs)
        start, stop = s.start_idx + a, s.stop_idx + a
        rows = np.flatnonzero((start >= first - tol) & (stop <= final + tol))
        rows = rows[np.argsort(start[rows], kind="stable")]
        trim = self.rules.kinematics_trim_strides
        rows = rows[trim : rows.size - trim] if rows.size > 2 * trim else rows[:0]
        rows = rows[s.straight[rows]]
        if rows.size == 0:
            return
        ks = kin.strides
        lo, hi = int(start[rows].min()), int(stop[rows].max())
        step_sel = (result.steps.start_idx + a >= lo) & (result.steps.stop_idx + a <= hi) & result.steps.straight
        strides.setdefault("bout_start", []).append(np.full(rows.size, first, dtype=np.int64))
        strides.setdefault("speed_mps", []).append(s.speed_mps[rows])
        strides.setdefault("side", []).append(s.side[rows])
        strides.setdefault("stance_pct", []).append(s.stance_pct[rows])
        strides.setdefault("pelvis_used", []).append(ks.pelvis_used[rows])
        strides.setdefault("hip_used", []).append(ks.hip_used[rows])
        for name in _STRIDE_FIELDS:
            strides.setdefault(name, []).append(getattr(ks, name)[rows])
        # Steps of the same stretch, for the step-length symmetry (speed: their bout's strides' median).
        strides.setdefault("step_bout_start", []).append(np.full(int(step_sel.sum()), first, dtype=np.int64))
        strides.setdefault("step_side", []).append(result.steps.side[step_sel])
        strides.setdefault("step_length_m", []).append(result.steps.length_m[step_sel])
        strides.setdefault("step_speed_mps", []).append(result.steps.speed_mps[step_sel])

    # ------------------------------------------------------------------ assembly
    def _result(
        self,
        buf: _Buffer,
        st: _Stitched,
        epochs_valid: list[FloatArray],
        epochs_still: list[BoolArray],
        epoch_len: int,
        strides: dict[str, list[Any]],
        warnings: set[str],
        n_windows: int,
    ) -> DailyResult:
        first = buf.first
        assert first is not None
        fs = first.sampling_rate_hz
        r = self.rules
        ic, side, piece, step_len, straight = st.arrays()
        wb = walking_bouts(ic, piece, fs, max_break_s=r.max_break_s, min_strides=r.min_strides)
        table = walking_bout_table(
            ic,
            piece,
            wb,
            step_len,
            straight,
            np.asarray(st.turn_start, dtype=np.int64),
            fs,
            start_time_s=first.start_time_s,
            utc_offset_s=self.utc_offset_s,
        )
        count = np.concatenate(epochs_valid) if epochs_valid else np.zeros(0)
        loss = self._loss_warning(count, epoch_len, buf.end, fs)
        if loss:
            warnings.add(loss)
        still = np.concatenate(epochs_still) if epochs_still else np.zeros(0, dtype=bool)
        non_wear = np.zeros(still.size, dtype=bool)
        min_run = math.ceil(r.non_wear_still_s / (epoch_len / fs))
        for s0, s1 in runs(still):
            if s1 - s0 >= min_run:
                non_wear[s0:s1] = True
        t0 = first.start_time_s + self.utc_offset_s
        epoch_day = np.floor((t0 + np.arange(count.size) * epoch_len / fs) / _SECONDS_PER_DAY).astype(np.int64)
        stride_arrays = {name: np.concatenate(parts) for name, parts in strides.items()}
        n = buf.end
        day_first = math.floor(t0 / _SECONDS_PER_DAY)
        day_last = math.floor((t0 + (n - 1) / fs) / _SECONDS_PER_DAY)
        days = []
        for day in range(day_first, day_last + 1):
            a = max(0, math.ceil((day * _SECONDS_PER_DAY - t0) * fs))
            b = min(n, math.ceil(((day + 1) * _SECONDS_PER_DAY - t0) * fs))
            in_day = epoch_day == day
            recorded = float(count[in_day].sum()) / fs
            nw = float(count[in_day & non_wear].sum()) / fs
            days.append(self._day(day, a, b, recorded, recorded - nw, nw, table, stride_arrays))
        return DailyResult(
            sampling_rate_hz=fs,
            start_time_s=first.start_time_s,
            duration_s=n / fs,
            utc_offset_s=self.utc_offset_s,
            placements=first.placements,
            ic_idx=ic,
            ic_side=side,
            ic_wb=wb,
            bouts=table,
            days=tuple(days),
            rules=r,
            n_windows=n_windows,
            warnings=tuple(sorted(warnings)),
        )

    def _loss_warning(self, count: FloatArray, epoch_len: int, n_samples: int, fs: float) -> str:
        """One warning when the pelvis sensor lost more than ``LOST_WARN_FRACTION`` of its samples while recording.

        Epochs with no sample in a run of at least ``NOT_RECORDED_S`` are time not recorded (the sensor was off, out
        of range, or between wear periods: the days' ``recorded_s`` says how much); what is missing from the other
        epochs was lost (dropped packets). Empty when nothing needs saying.
        """
        expected = np.full(count.size, float(epoch_len))
        if count.size:
            expected[-1] = float(n_samples - (count.size - 1) * epoch_len)
        not_recorded = np.zeros(count.size, dtype=bool)
        min_run = math.ceil(NOT_RECORDED_S * fs / epoch_len)
        for s0, s1 in runs(count == 0):
            if s1 - s0 >= min_run:
                not_recorded[s0:s1] = True
        lost = float((expected - count)[~not_recorded].sum())
        kept = float(count.sum())
        if kept + lost == 0 or lost / (kept + lost) <= LOST_WARN_FRACTION:
            return ""
        return (
            f"pelvis sensor lost {100 * lost / (kept + lost):.1f}% of its samples while recording (gaps shorter "
            f"than {NOT_RECORDED_S:g} s; longer ones count as not recorded); steps next to gaps longer than "
            f"{self.pipeline.max_bridged_gap_s:g} s are not used"
        )

    def _day(
        self,
        day: int,
        start_idx: int,
        stop_idx: int,
        recorded_s: float,
        wear_s: float,
        non_wear_s: float,
        table: WalkingBoutTable,
        stride_arrays: Mapping[str, NDArray[Any]],
    ) -> DayOutcomes:
        r = self.rules
        sel = table.day == day
        dur = table.duration_s[sel]
        speed = table.walking_speed_mps[sel]
        length = table.stride_length_m[sel]

        def stat(values: FloatArray, how: str) -> float:
            v = values[np.isfinite(values)]
            if v.size == 0:
                return math.nan
            if how == "mean":
                return float(np.mean(v))
            if how == "median":
                return float(np.median(v))
            if how == "p90":
                return float(np.percentile(v, 90.0))
            sd = float(np.std(v, ddof=1)) if v.size > 1 else math.nan
            return 100.0 * sd / float(np.mean(v))

        over10, over30 = dur > 10.0, dur > 30.0
        mid = over10 & ~over30
        walking_s = float(dur.sum())
        reasons = []
        if wear_s < r.min_wear_s:
            reasons.append(f"worn {wear_s / 3600:.1f} h, less than {r.min_wear_s / 3600:g} h")
        if walking_s < r.min_walking_s:
            reasons.append(f"{walking_s:.0f} s of walking in walking bouts, less than {r.min_walking_s:g} s")
        date = datetime.fromtimestamp(day * _SECONDS_PER_DAY, tz=UTC).date().isoformat()
        return DayOutcomes(
            day=day,
            date=date,
            start_idx=int(start_idx),
            stop_idx=int(stop_idx),
            recorded_s=recorded_s,
            wear_s=wear_s,
            non_wear_s=non_wear_s,
            sufficient=not reasons,
            reasons=tuple(reasons),
            steps=int(table.n_steps[sel].sum()),
            n_wb=int(sel.sum()),
            n_wb_longer=MappingProxyType({c: int(np.count_nonzero(dur > c)) for c in r.duration_classes_s}),
            walking_s=walking_s,
            wb_duration_median_s=stat(dur, "median"),
            wb_duration_p90_s=stat(dur, "p90"),
            cadence_spm=stat(table.cadence_spm[sel], "mean"),
            walking_speed_median_mps=stat(speed[over10], "median"),
            walking_speed_p90_mps=stat(speed[over10], "p90"),
            walking_speed_10_30_mps=stat(speed[mid], "mean"),
            walking_speed_30_mps=stat(speed[over30], "mean"),
            stride_length_10_30_m=stat(length[mid], "mean"),
            stride_length_30_m=stat(length[over30], "mean"),
            stride_time_s=stat(table.stride_time_s[sel], "mean"),
            stride_time_cv_pct=stat(table.stride_time_s[sel], "cv"),
            stride_time_cv_in_bout_pct=stat(table.stride_time_cv_pct[sel][over30], "median"),
            kinematics=self._day_kinematics(table.start_idx[sel], stride_arrays),
        )

    def _day_kinematics(self, bout_starts: IntArray, s: Mapping[str, NDArray[Any]]) -> DayKinematics:
        r = self.rules
        if not s:
            return DayKinematics(0, (), -1, False)
        mine = np.isin(s["bout_start"], bout_starts)
        used = mine & (s["pelvis_used"] | s["hip_used"])
        width = r.speed_bin_mps
        speed = s["speed_mps"]
        finite = np.isfinite(speed)
        bin_of = np.where(finite, np.floor(np.where(finite, speed, 0.0) / width), -1).astype(np.int64)
        step_mine = np.isin(s["step_bout_start"], bout_starts)
        step_bin = np.floor(s["step_speed_mps"] / width)
        bins: list[KinematicBin] = []
        for k in np.unique(bin_of[used & finite]):
            in_bin = used & (bin_of == k)
            side = s["side"]
            pel = in_bin & s["pelvis_used"]
            hip = in_bin & s["hip_used"]
            metrics: dict[str, Quartiles] = {
                name: _quartiles(s[name][pel])
                for name in ("tilt_rom_deg", "obliquity_rom_deg", "rotation_rom_deg", "mean_tilt_deg")
            }
            steps_in = step_mine & (step_bin == k)
            for code, label in ((_LEFT, "left"), (_RIGHT, "right")):
                metrics[f"hip_peak_extension_{label}_deg"] = _quartiles(
                    s["hip_peak_extension_deg"][hip & (side == code)]
                )
                metrics[f"hip_sagittal_rom_{label}_deg"] = _quartiles(s["hip_sagittal_rom_deg"][hip & (side == code)])
                metrics[f"pelvic_drop_{label}_deg"] = _quartiles(s["pelvic_drop_deg"][pel & (side == code)])
                stance = s["stance_pct"][in_bin & (side == code)]
                metrics[f"stance_pct_{label}"] = _quartiles(stance)
                metrics[f"swing_pct_{label}"] = _quartiles(100.0 - stance)
                metrics[f"step_length_{label}_m"] = _quartiles(s["step_length_m"][steps_in & (s["step_side"] == code)])

            derived = {
                "pelvic_drop_asymmetry_deg": metrics["pelvic_drop_left_deg"].median
                - metrics["pelvic_drop_right_deg"].median,
                "stance_symmetry_ratio": _symmetry(metrics["stance_pct_left"], metrics["stance_pct_right"]),
                "swing_symmetry_ratio": _symmetry(metrics["swing_pct_left"], metrics["swing_pct_right"]),
                "step_length_symmetry_ratio": _symmetry(metrics["step_length_left_m"], metrics["step_length_right_m"]),
            }
            bins.append(
                KinematicBin(
                    speed_low_mps=float(k * width),
                    speed_high_mps=float((k + 1) * width),
                    n_strides_left=int(np.count_nonzero(in_bin & (side == _LEFT))),
                    n_strides_right=int(np.count_nonzero(in_bin & (side == _RIGHT))),
                    metrics=MappingProxyType(metrics),
                    derived=MappingProxyType(derived),
                )
            )
        n_bouts = int(np.unique(s["bout_start"][mine]).size)
        if not bins:
            return DayKinematics(n_bouts, (), -1, False)
        modal = int(np.argmax([kb.n_strides_left + kb.n_strides_right for kb in bins]))
        enough = min(bins[modal].n_strides_left, bins[modal].n_strides_right) >= r.kinematics_min_strides_per_side
        return DayKinematics(n_bouts, tuple(bins), modal, bool(enough))
