"""What every vendor reader shares: one sensor's samples as read, their checks, and the step to a Recording.

A vendor reader turns its file into one :class:`RawSensor` per sensor: times in seconds, accelerometer and gyroscope
samples in the unit the file (or the vendor's documentation) says, the sensor's label as the file gives it, and where
each value came from (file, column, first data line) so that every message can name them. Then, in this module:

* :func:`check_times` — sample times must increase. A row that repeats the previous row exactly (same time, same
  values: a logger that wrote a sample twice) is dropped with a warning; a repeated time with different values, or a
  time that goes backwards, is an error naming the file, the column and the line (or the sample, in a binary file).
  Rows without a time are dropped with a warning; rows with a NaN or empty value are lost samples (gaps).
* :func:`resolve_units` — the units are checked against physics, as in the generic CSV reader: a worn accelerometer
  sees gravity (median norm ≈ 1 g whatever the activity) and walking turns the pelvis and thighs at tens to hundreds
  of deg/s. A file in g where m/s² was expected (or the reverse), or in rad/s where deg/s was expected (or the
  reverse), is converted with a warning naming the file and the evidence, or refused when ``strict_units`` is set.
  When the evidence is not clear (an accelerometer that does not see 1 g in either unit, a gyroscope that barely
  turns and whose unit the file does not state) the file is refused with a message saying what to do.
* :func:`placement_of` — labels such as APDM's ``Lumbar`` or ``Right Upper Leg``, a Movella DOT tag ``Pelvis`` or an
  x-IMU3 device called ``left thigh`` name a placement; anything else needs the user's mapping
  (:func:`place_sensors` places a file's or a folder's sensors and says which are left out).
* :func:`assemble` — the sensors go onto one time base (:func:`gait.preprocess.to_common_time_base`): lost samples
  and holes stay gaps, never interpolated.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import InputFileError
from gait.errors import RecordingError
from gait.frames import GRAVITY_MPS2
from gait.preprocess import SensorStream, nominal_rate_hz, to_common_time_base
from gait.recording import KNOWN_PLACEMENTS, LEFT_THIGH, PELVIS, RIGHT_THIGH, Recording

__all__ = [
    "AccUnit",
    "GyrUnit",
    "RawSensor",
    "assemble",
    "check_times",
    "place_sensors",
    "placement_of",
    "resolve_units",
]

PathLike = str | os.PathLike[str]
AccUnit = Literal["mps2", "g"]
GyrUnit = Literal["dps", "rads"]

ACC_FACTOR: Final[dict[str, float]] = {"mps2": 1.0, "g": GRAVITY_MPS2}
GYR_FACTOR: Final[dict[str, float]] = {"dps": 1.0, "rads": 180.0 / math.pi}
ACC_LABEL: Final = {"mps2": "m/s²", "g": "g"}
GYR_LABEL: Final = {"dps": "deg/s", "rads": "rad/s"}

# Physics checks (the same numbers as the generic CSV reader).
_GRAVITY_BAND_G: Final = (0.7, 1.3)  # median |acc| of a worn sensor, in g
_MOVING_ACC_STD_MPS2: Final = 0.5  # spread of |acc| above which the sensor is moving
_WALK_GYR_P99_DPS: Final = (6.0, 1500.0)  # 99th percentile |gyr| of a moving pelvis or thigh, deg/s
_CHECK_MAX_ROWS: Final = 500_000


@dataclass(frozen=True, eq=False, slots=True)
class RawSensor:
    """One sensor's samples as a vendor file holds them.

    Attributes
    ----------
    label : str
        The sensor's name in the file (APDM ``Label 0``, Movella ``DeviceTag``, x-IMU3 device name, file name...).
    path : pathlib.Path
        The file the samples came from (for messages).
    t_s : ndarray, shape (n,)
        Sample times in seconds (POSIX time when the file has it).
    acc, gyr : ndarray, shape (n, 3)
        Samples in ``acc_unit`` and ``gyr_unit``; NaN marks a lost sample.
    acc_unit, gyr_unit : str or None
        ``"mps2"``/``"g"`` and ``"dps"``/``"rads"``; None when the file does not say (detected from the data).
    unit_source : str
        Where the units come from, for messages (``"the column names"``, ``"APDM's documentation"``...).
    time_column, acc_columns, gyr_columns : str, tuple of str
        Column (or dataset) names as spelled in the file.
    first_line : int or None
        1-based line of the first data row in a text file; None for a binary file (messages then say "sample i").
    units_checked : bool
        The reader already checked the times and converted the units (the generic CSV reader): leave them.
    notes : tuple of str
        Warnings the reader found on its way (reported with the others).
    """

    label: str
    path: Path
    t_s: NDArray[np.float64]
    acc: NDArray[np.float64]
    gyr: NDArray[np.float64]
    acc_unit: AccUnit | None
    gyr_unit: GyrUnit | None
    unit_source: str
    time_column: str
    acc_columns: tuple[str, str, str]
    gyr_columns: tuple[str, str, str]
    first_line: int | None = None
    units_checked: bool = False
    notes: tuple[str, ...] = ()

    def where(self, row: int | None = None, column: str | None = None) -> InputFileError:
        """An empty error located at sample ``row`` (0-based) and ``column``, for building messages."""
        line = None if row is None or self.first_line is None else self.first_line + row
        return InputFileError("", path=self.path, column=column, row=line)

    def fail(self, message: str, *, row: int | None = None, column: str | None = None) -> InputFileError:
        """An :class:`InputFileError` naming this file, the line (or sample) and the column."""
        line = None if row is None or self.first_line is None else self.first_line + row
        if row is not None and self.first_line is None:
            message = f"sample {row}: {message}"
        return InputFileError(message, path=self.path, column=column, row=line)

    def located(self, row: int | None = None, column: str | None = None) -> str:
        """``file, line N, column 'c'`` (or ``file, column 'c', sample i`` in a binary file)."""
        text = self.where(row, column).location()
        if row is not None and self.first_line is None:
            text += f", sample {row}"
        return text


# ------------------------------------------------------------------------------------ times
def check_times(raw: RawSensor) -> tuple[RawSensor, list[str]]:
    """Check (and where documented, repair) the time column of one sensor; see the module docstring.

    Returns
    -------
    raw : RawSensor
        The sensor with rows without a time and exact duplicate rows removed.
    warnings : list of str

    Raises
    ------
    InputFileError
        A time goes backwards, or a time repeats with different values, or fewer than two timed rows remain.
    """
    found: list[str] = []
    t, acc, gyr = raw.t_s, raw.acc, raw.gyr
    row_index = np.arange(t.size)
    has_time = np.isfinite(t)
    if not has_time.all():
        n_bad = int(t.size - np.count_nonzero(has_time))
        first = int(np.argmin(has_time))
        found.append(f"{raw.located(first, raw.time_column)}: {n_bad} row(s) without a time (first here) were dropped")
        t, acc, gyr, row_index = t[has_time], acc[has_time], gyr[has_time], row_index[has_time]
    if t.size < 2:
        raise raw.fail(f"too short: {t.size} row(s) with a time; expected a recording of at least a few seconds")
    dt = np.diff(t)
    backwards = dt < 0
    if backwards.any():
        j = int(np.argmax(backwards))
        raise raw.fail(
            f"time goes backwards: {float(t[j + 1])!r} after {float(t[j])!r} ({raw.located(int(row_index[j]))}); "
            "expected increasing times",
            row=int(row_index[j + 1]),
            column=raw.time_column,
        )
    same = dt == 0
    if same.any():
        values = np.concatenate([acc, gyr], axis=-1)
        equal = np.all((values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1])), axis=-1)
        conflicting = same & ~equal
        if conflicting.any():
            j = int(np.argmax(conflicting))
            raise raw.fail(
                f"time {float(t[j + 1])!r} is duplicated with different values (same time as "
                f"{raw.located(int(row_index[j]))}); expected one row per sample time",
                row=int(row_index[j + 1]),
                column=raw.time_column,
            )
        j = int(np.argmax(same))
        keep = np.concatenate([[True], ~same])
        found.append(
            f"{raw.located(int(row_index[j + 1]), raw.time_column)}: {int(np.count_nonzero(same))} row(s) repeating "
            "the previous row exactly (same time, same values; first here) were dropped"
        )
        t, acc, gyr, row_index = t[keep], acc[keep], gyr[keep], row_index[keep]
    if t.size < 2:
        raise raw.fail("too short: fewer than two distinct sample times")
    lost = ~(np.isfinite(acc).all(axis=-1) & np.isfinite(gyr).all(axis=-1))
    if lost.all():
        raise raw.fail("no valid samples: every row has an empty or NaN accelerometer or gyroscope value")
    if lost.any():
        first = int(row_index[int(np.argmax(lost))])
        found.append(
            f"{raw.located(first)}: {int(np.count_nonzero(lost))} row(s) with an empty or NaN value (first here) are "
            "treated as lost samples"
        )
    if t.size != raw.t_s.size:
        raw = replace(raw, t_s=np.ascontiguousarray(t), acc=np.ascontiguousarray(acc), gyr=np.ascontiguousarray(gyr))
    return raw, found


# ------------------------------------------------------------------------------------ units
def _acc_candidates(median_norm: float) -> list[AccUnit]:
    lo, hi = _GRAVITY_BAND_G
    units: tuple[AccUnit, ...] = ("mps2", "g")
    return [u for u in units if lo <= median_norm * ACC_FACTOR[u] / GRAVITY_MPS2 <= hi]


def resolve_units(
    raw: RawSensor, *, strict_units: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """Accelerometer in m/s² and gyroscope in deg/s, after checking the units against physics.

    Parameters
    ----------
    raw : RawSensor
        The sensor (after :func:`check_times`).
    strict_units : bool
        Refuse a file whose data contradict its stated (or documented) units instead of converting it.

    Returns
    -------
    acc_mps2, gyr_dps : ndarray, shape (n, 3)
    warnings : list of str

    Raises
    ------
    InputFileError
        The accelerometer does not see gravity in either unit, or a unit is contradicted while ``strict_units``,
        or the gyroscope unit is not stated and cannot be told from the data.
    """
    if raw.units_checked:
        return raw.acc, raw.gyr, []
    found: list[str] = []
    finite: NDArray[np.bool_] = np.asarray(np.isfinite(raw.acc).all(axis=-1) & np.isfinite(raw.gyr).all(axis=-1))
    step = max(1, finite.size // _CHECK_MAX_ROWS)
    acc_s = raw.acc[::step][finite[::step]]
    gyr_s = raw.gyr[::step][finite[::step]]
    acc_norm = np.linalg.norm(acc_s, axis=-1)
    median = float(np.median(acc_norm))
    acc_cols = ", ".join(raw.acc_columns)
    gyr_cols = ", ".join(raw.gyr_columns)
    fits = _acc_candidates(median)
    acc_unit: AccUnit
    if not fits:
        stated = f" ({ACC_LABEL[raw.acc_unit]} according to {raw.unit_source})" if raw.acc_unit else ""
        raise raw.fail(
            f"the accelerometer ({acc_cols}) does not see gravity: median |acc| = {median:.3g}{stated}, expected "
            f"about 1 g = {GRAVITY_MPS2:.2f} m/s² for a worn sensor; check the columns and their unit"
        )
    if raw.acc_unit is None:
        acc_unit = fits[0]
        found.append(
            f"{raw.located()}: accelerometer unit not stated; {ACC_LABEL[acc_unit]} assumed from gravity "
            f"(median |acc| = {median:.3g})"
        )
    elif raw.acc_unit in fits:
        acc_unit = raw.acc_unit
    else:
        acc_unit = fits[0]
        message = (
            f"the accelerometer ({acc_cols}) is in {ACC_LABEL[acc_unit]}, not {ACC_LABEL[raw.acc_unit]} as "
            f"{raw.unit_source} says (median |acc| = {median:.3g}, gravity is 1 g = {GRAVITY_MPS2:.2f} m/s²)"
        )
        if strict_units:
            raise raw.fail(message + "; refused (strict units): fix the file or drop --strict-units to convert")
        found.append(f"{raw.located()}: {message}; converted from {ACC_LABEL[acc_unit]}")
    acc_mps2 = raw.acc * ACC_FACTOR[acc_unit] if acc_unit != "mps2" else raw.acc

    moving = float(np.std(acc_norm)) * ACC_FACTOR[acc_unit] > _MOVING_ACC_STD_MPS2
    p99 = float(np.percentile(np.abs(gyr_s), 99)) if gyr_s.size else 0.0
    lo, hi = _WALK_GYR_P99_DPS
    plausible = [u for u in ("dps", "rads") if lo <= p99 * GYR_FACTOR[u] <= hi] if moving else []
    gyr_unit: GyrUnit
    if raw.gyr_unit is None:
        if len(plausible) != 1:
            why = (
                "the recording barely moves"
                if not moving
                else f"99th percentile |gyr| = {p99:.3g} fits "
                f"{' and '.join(GYR_LABEL[u] for u in plausible) or 'neither'}"
            )
            raise raw.fail(
                f"cannot tell whether the gyroscope ({gyr_cols}) is in deg/s or rad/s: {why}; state the unit "
                "in the file (or convert it to the generic CSV format with gyr_*_dps or gyr_*_rads columns)"
            )
        gyr_unit = plausible[0]  # type: ignore[assignment]
        found.append(
            f"{raw.located()}: gyroscope unit not stated; {GYR_LABEL[gyr_unit]} assumed from the rotation rates "
            f"(99th percentile |gyr| = {p99:.3g})"
        )
    elif not plausible or raw.gyr_unit in plausible:
        gyr_unit = raw.gyr_unit  # agrees with the data, or the data cannot tell
    else:
        gyr_unit = plausible[0]  # type: ignore[assignment]
        message = (
            f"the gyroscope ({gyr_cols}) looks like {GYR_LABEL[gyr_unit]}, not {GYR_LABEL[raw.gyr_unit]} as "
            f"{raw.unit_source} says (99th percentile |gyr| = {p99:.3g} while the accelerometer shows movement; "
            f"walking turns the pelvis and thighs at {lo:g}–{hi:g} deg/s)"
        )
        if strict_units:
            raise raw.fail(message + "; refused (strict units): fix the file or drop --strict-units to convert")
        found.append(f"{raw.located()}: {message}; converted from {GYR_LABEL[gyr_unit]}")
    gyr_dps = raw.gyr * GYR_FACTOR[gyr_unit] if gyr_unit != "dps" else raw.gyr
    return np.asarray(acc_mps2, dtype=np.float64), np.asarray(gyr_dps, dtype=np.float64), found


# ------------------------------------------------------------------------------------ placements
_SIDE_WORDS: Final = {"left": "left", "l": "left", "lt": "left", "right": "right", "r": "right", "rt": "right"}
_THIGH_WORDS: Final = {"thigh", "upper leg", "upperleg", "femur"}
_PELVIS_WORDS: Final = {"pelvis", "sacrum", "sacral", "lumbar", "lower back", "lowerback", "low back", "l5", "s1"}


def _words(label: str) -> str:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", label)  # LeftThigh -> Left Thigh
    return " ".join(re.split(r"[\s_\-.()/]+", text.lower())).strip()


def placement_of(label: str, mapping: Mapping[str, str] | None = None) -> str | None:
    """The placement a sensor label names, or None.

    Parameters
    ----------
    label : str
        The label in the file (``Lumbar``, ``Sacrum``, ``Right Upper Leg``, ``left_thigh``, ``walk_pelvis``...).
    mapping : mapping of str to str, optional
        The user's labels → placements; looked up first (case-insensitive, spaces, ``_`` and ``-`` alike).

    Returns
    -------
    str or None
        One of :data:`gait.recording.KNOWN_PLACEMENTS`, or a placement given by ``mapping``, or None.
    """
    key = _words(label)
    for given, placement in (mapping or {}).items():
        if _words(given) == key:
            return placement
    if key in KNOWN_PLACEMENTS or key.replace(" ", "_") in KNOWN_PLACEMENTS:
        return key.replace(" ", "_")
    tokens = key.split()
    joined = " " + key + " "
    side = next((_SIDE_WORDS[t] for t in tokens if t in _SIDE_WORDS), None)
    thigh = any(f" {w} " in joined for w in _THIGH_WORDS)
    if thigh and side is not None:
        return LEFT_THIGH if side == "left" else RIGHT_THIGH
    if any(f" {w} " in joined for w in _PELVIS_WORDS):
        return PELVIS
    return None


def place_sensors(
    sensors: Sequence[RawSensor],
    placements: Mapping[str, str] | None,
    where: Path,
    *,
    fallback: Callable[[RawSensor], str | None] | None = None,
) -> tuple[list[tuple[str, RawSensor]], list[str]]:
    """Where each sensor was worn: the user's ``placements`` or its label (:func:`placement_of`), else ``fallback``.

    Parameters
    ----------
    sensors : sequence of RawSensor
    placements : mapping of str to str, optional
        The user's labels → placements.
    where : pathlib.Path
        The file or folder opened (for messages).
    fallback : callable, optional
        A sensor's placement when its label names none (a file name, the placement a FusionGait file recorded).

    Returns
    -------
    chosen : list of (placement, RawSensor)
        The placed sensors, in their order, ready for :func:`assemble`.
    warnings : list of str
        The sensors left out (their labels name no placement).

    Raises
    ------
    InputFileError
        No sensor has a placement.
    """
    chosen: list[tuple[str, RawSensor]] = []
    skipped: list[RawSensor] = []
    for raw in sensors:
        placement = placement_of(raw.label, placements)
        if placement is None and fallback is not None:
            placement = fallback(raw)
        if placement is None:
            skipped.append(raw)
        else:
            chosen.append((placement, raw))
    several_files = len({raw.path for raw in sensors}) > 1

    def listed(raws: Sequence[RawSensor]) -> str:
        return ", ".join(f"{r.label!r} ({r.path.name})" if several_files else repr(r.label) for r in raws)

    if not chosen:
        raise InputFileError(
            f"cannot tell where the sensors were worn: no label names a placement (labels: {listed(sensors)}); map "
            "them with --placement LABEL=pelvis (or left_thigh, right_thigh), or give the files as --sensor "
            "PLACEMENT=FILE",
            path=where,
        )
    found = []
    if skipped:
        found.append(
            f"{where}: sensors {listed(skipped)} are not used (their labels name no pelvis or thigh placement; map "
            "one with --placement LABEL=PLACEMENT)"
        )
    return chosen, found


# ------------------------------------------------------------------------------------ to a Recording
def nominal_rate(t_s: NDArray[np.float64]) -> float:
    """The nominal sampling rate of a time column, in Hz, snapped to a multiple of 0.5 Hz when within 0.2 %.

    Times read from files are quantised (microseconds, milliseconds, or float64 at POSIX magnitudes: 0.24 µs), so
    the inverse of the median interval is off by a few parts in 10⁵; a grid at that rate would drift by a whole
    sample over an hour of data. Device rates are round numbers (50, 60, 100, 128, 12.5 Hz ...).
    """
    estimate = nominal_rate_hz(t_s)
    nice = round(estimate * 2.0) / 2.0
    return nice if nice > 0 and abs(nice - estimate) <= 0.002 * estimate else estimate


def _holes(raw: RawSensor) -> list[str]:
    """A warning about the holes in time of one sensor (they become gaps on the common time base), if any."""
    dt = np.diff(raw.t_s)
    holes = dt > 1.5 * float(np.median(dt))
    if not holes.any():
        return []
    j = int(np.argmax(holes))
    return [
        f"{raw.located(j + 1, raw.time_column)}: {int(np.count_nonzero(holes))} hole(s) in time (longest "
        f"{float(dt[holes].max()):.3g} s, first before this row) become gaps"
    ]


def assemble(
    sensors: Sequence[tuple[str, RawSensor]],
    *,
    strict_units: bool = False,
    sampling_rate_hz: float | None = None,
    min_overlap_fraction: float = 0.9,
) -> tuple[Recording, list[str]]:
    """Check times and units of each sensor and put them on one time base.

    Parameters
    ----------
    sensors : sequence of (placement, RawSensor)
        Unique placements.
    strict_units : bool
        See :func:`resolve_units`.
    sampling_rate_hz : float, optional
        Rate of the common time base (default: the highest nominal rate).
    min_overlap_fraction : float
        Sensors overlapping less than this fraction of their combined span get a warning; no overlap is an error.

    Returns
    -------
    recording : Recording
    warnings : list of str
        The sensors' notes and the checks' warnings (holes in time, units), sensor by sensor; then those about the
        alignment (partial overlap naming each placement, file and time range; resampling naming the file).

    Raises
    ------
    InputFileError
        Anything the checks refuse, sensors that do not overlap in time (naming each placement, file and time
        range), or data the Recording refuses (naming the file when the message names one placement).
    """
    found: list[str] = []
    streams: list[SensorStream] = []
    paths: dict[str, RawSensor] = {}
    for placement, given in sensors:
        raw = given
        if placement in paths:
            raise InputFileError(
                f"two sensors for {placement}: {paths[placement].label!r} ({paths[placement].path}) and "
                f"{raw.label!r} ({raw.path}); map the labels with --placement LABEL=PLACEMENT"
            )
        found += list(raw.notes)
        if raw.units_checked:  # the generic CSV reader checked times and units and said what it found
            acc_mps2, gyr_dps = raw.acc, raw.gyr
        else:
            raw, time_warnings = check_times(raw)
            acc_mps2, gyr_dps, unit_warnings = resolve_units(raw, strict_units=strict_units)
            found += time_warnings + unit_warnings + _holes(raw)
        try:
            streams.append(SensorStream(placement=placement, t_s=raw.t_s, acc_mps2=acc_mps2, gyr_dps=gyr_dps))
        except RecordingError as exc:
            raise raw.fail(str(exc)) from None
        paths[placement] = raw
    if not streams:
        raise InputFileError("no sensors to read")
    if len(streams) > 1:
        starts = [float(s.t_s[0]) for s in streams]
        ends = [float(s.t_s[-1]) for s in streams]
        overlap_s, union_s = min(ends) - max(starts), max(ends) - min(starts)
        ranges = "; ".join(
            f"{s.placement} ({paths[s.placement].path}) {t0:.3f}–{t1:.3f} s"
            for s, t0, t1 in zip(streams, starts, ends, strict=True)
        )
        if overlap_s <= 0:
            raise InputFileError(f"the sensors do not overlap in time ({ranges}); they must share one clock")
        if overlap_s < min_overlap_fraction * union_s:
            found.append(
                f"the sensors overlap for only {100 * overlap_s / union_s:.0f}% of their combined time ({ranges}); "
                "outside the overlap the missing sensors are gaps"
            )
    rates = {s.placement: nominal_rate(s.t_s) for s in streams}
    grid_hz = float(sampling_rate_hz) if sampling_rate_hz is not None else max(rates.values())
    for placement, rate in rates.items():
        if abs(rate - grid_hz) > 0.01 * grid_hz:
            found.append(f"{paths[placement].path}: sampled at {rate:.4g} Hz, resampled to {grid_hz:.4g} Hz")
    source = ", ".join(f"{p}={raw.path}" for p, raw in paths.items())
    try:
        recording = to_common_time_base(streams, sampling_rate_hz=grid_hz, source=source)
    except RecordingError as exc:
        message = str(exc)
        named = [placement for placement in paths if f"'{placement}'" in message]
        if len(named) == 1:
            raise paths[named[0]].fail(message) from None
        raise InputFileError(f"{message} (files: {', '.join(sorted({str(r.path) for r in paths.values()}))})") from None
    return recording, found
