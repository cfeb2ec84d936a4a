"""The analysis steps shared by the commands and the service: a Recording in, the JSON documents out.

``fusiongait analyze``, ``fusiongait batch`` and the service's background jobs call :func:`analyze_recording` (the
clinic analysis), so a report made on the command line and one made by the server from the same data are the same
document. ``fusiongait daily`` and ``fusiongait batch --daily`` call :func:`analyze_home_recording` (a home
recording of one or more days, per local calendar day, with the trends against the patient's own baseline).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from firmware_bridge.errors import InputFileError
from gait.recording import Recording

if TYPE_CHECKING:
    from gait.pipeline import GaitResult

__all__ = [
    "WALL_CLOCK_FROM",
    "AnalysisOptions",
    "AnalysisOutcome",
    "HomeOptions",
    "HomeOutcome",
    "analyze_home_recording",
    "analyze_recording",
    "report_warning_text",
]

#: A recording whose first sample is before this is not on a wall clock (its times count from the start).
WALL_CLOCK_FROM: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class AnalysisOptions:
    """What the analysis needs beyond the data: body or sensor height, and the report header.

    Attributes
    ----------
    height_m, sensor_height_m : float, optional
        Body height or sacral-sensor height (at most one), for step length.
    session : mapping
        ``patient``, ``date`` (ISO), ``label`` for the report header.
    plateau_sessions : int, optional
        How many of the earliest baselines form the plateau (default: all but the most recent).
    """

    height_m: float | None = None
    sensor_height_m: float | None = None
    session: Mapping[str, str | None] = field(default_factory=dict)
    plateau_sessions: int | None = None


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """The report, every warning raised on the way (each once, in order of appearance) and the pipeline's result."""

    report: dict[str, Any]
    warnings: list[str]
    result: GaitResult | None = None


def report_warning_text(item: Any) -> str:
    """A report ``warnings`` entry as one line of text (entries are strings or ``{message: ...}`` objects)."""
    if isinstance(item, dict):
        return str(item.get("message", item))
    return str(item)


def analyze_recording(
    recording: Recording,
    *,
    options: AnalysisOptions,
    reader_warnings: Sequence[str] = (),
    inputs: Mapping[str, str] | None = None,
    baselines: Sequence[Mapping[str, Any]] = (),
) -> AnalysisOutcome:
    """Run the gait pipeline on ``recording`` and assemble the ``fusiongait.report/1`` document.

    Parameters
    ----------
    recording : Recording
    options : AnalysisOptions
    reader_warnings : sequence of str
        Warnings of the reader that made the recording; they go into the report first.
    inputs : mapping of placement to str, optional
        Where each sensor's data came from (file names), for the report.
    baselines : sequence of mapping
        Earlier reports of the same patient, oldest first.

    Raises
    ------
    gait.errors.GaitError
        When the analysis refuses the data.
    """
    from gait.pipeline import GaitPipeline  # noqa: PLC0415 - heavy imports, only when analysing
    from gait.report import build_report  # noqa: PLC0415

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = GaitPipeline(height_m=options.height_m, sensor_height_m=options.sensor_height_m).run(recording)
        report = build_report(
            result,
            warnings=reader_warnings,
            inputs=dict(inputs or {}),
            session=dict(options.session),
            baselines=baselines,
            plateau_sessions=options.plateau_sessions,
        )
    seen: list[str] = []
    texts = [report_warning_text(w) for w in report.get("warnings", [])]
    texts += [f"{w.category.__name__}: {w.message}" for w in caught]
    for text in texts:
        if text not in seen:
            seen.append(text)
    return AnalysisOutcome(report=report, warnings=seen, result=result)


# ----------------------------------------------------------------------------------------- home recordings
@dataclass(frozen=True, kw_only=True, slots=True)
class HomeOptions:
    """What the day-by-day analysis of a home recording needs beyond the data.

    Attributes
    ----------
    height_m, sensor_height_m : float, optional
        Body height or sacral-sensor height (at most one), for step length.
    utc_offset_min : int
        The patient's local time minus UTC in minutes; calendar days start at local midnight.
    min_wear_h : float, optional
        Wear time a day needs to count (default: the rules file's).
    start_time : datetime, optional
        Wall-clock time of the first sample, replacing the recording's own (a naive time is the patient's local
        time, ``utc_offset_min``); required for a recording whose times count from zero.
    surgery_date : date, optional
        The week before it is the baseline when it has enough valid days (CLINICAL.md §5 rule 4a).
    baseline_period : (date, date), optional
        First and last day of the baseline period (wins over ``surgery_date``).
    patient : str
        Patient code for the trends document and the home report header.
    start_time_name, start_time_hint, plateau_hint : str
        Wording only: how the caller names the start time (in the warning when it replaces the recording's own),
        what the error for times from zero tells the user to give, and how the default baseline's source says to
        set the post-op plateau (the command line's options, or the batch manifest's fields).
    """

    height_m: float | None = None
    sensor_height_m: float | None = None
    utc_offset_min: int = 0
    min_wear_h: float | None = None
    start_time: dt.datetime | None = None
    surgery_date: dt.date | None = None
    baseline_period: tuple[dt.date, dt.date] | None = None
    patient: str = ""
    start_time_name: str = "--start-time"
    start_time_hint: str = "give --start-time (e.g. --start-time 2026-03-02T08:00)"
    plateau_hint: str = "give the post-op plateau with --baseline-from/--baseline-to"


@dataclass(frozen=True, slots=True)
class HomeOutcome:
    """The daily document (``fusiongait.daily/1``), the trends (``fusiongait.home_trends/1``) and the warnings of
    the analysis (each once, in order of appearance; the reader's own are the caller's)."""

    daily: dict[str, Any]
    trends: dict[str, Any]
    warnings: list[str]


def _on_wall_clock(recording: Recording, options: HomeOptions, notes: list[str]) -> Recording:
    """The recording with its first sample at the wall-clock time it was taken (``options.start_time`` or its own)."""
    if options.start_time is not None:
        moment = options.start_time
        if moment.tzinfo is None:  # the patient's local time
            moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=options.utc_offset_min)))
        if recording.start_time_s >= WALL_CLOCK_FROM.timestamp():
            own = dt.datetime.fromtimestamp(recording.start_time_s, dt.UTC).isoformat(timespec="seconds")
            notes.append(
                f"{options.start_time_name} {moment.isoformat()} replaces the recording's own start time, {own}"
            )
        return dataclasses.replace(recording, start_time_s=moment.timestamp())
    if recording.start_time_s < WALL_CLOCK_FROM.timestamp():
        raise InputFileError(
            f"the recording's times start at {recording.start_time_s:.3f} s, not at a date: calendar days need the "
            f"wall-clock time of its first sample; {options.start_time_hint}"
        )
    return recording


def analyze_home_recording(recording: Recording, *, options: HomeOptions) -> HomeOutcome:
    """Analyse a home recording of one or more days per local calendar day, and its trends against the baseline.

    The steps of the service's home monitoring, offline: :class:`gait.daily.DailyAnalyzer` (everyday walking, wear
    time and sufficiency per day), :func:`gait.trends.home_baseline` (the baseline period) and
    :class:`gait.trends.HomeTrendReport` (7-day medians against the baseline, the home arm of F1-F6).

    Parameters
    ----------
    recording : Recording
        On the wall clock (its first sample at or after :data:`WALL_CLOCK_FROM`), or with ``options.start_time``.
    options : HomeOptions

    Returns
    -------
    HomeOutcome
        ``trends`` carries ``patient`` (``code``, ``surgery_date``) and ``generated_at`` (now, UTC).

    Raises
    ------
    firmware_bridge.errors.InputFileError
        The recording's times count from zero and no start time is given; or it holds no calendar day with data.
    gait.errors.GaitError
        When the analysis refuses the data.
    """
    from gait.daily import DailyAnalyzer, DailyRules  # noqa: PLC0415 - heavy imports, only when analysing
    from gait.pipeline import GaitPipeline  # noqa: PLC0415
    from gait.trends import HomeTrendReport, TrendAnalyzer, home_baseline  # noqa: PLC0415

    notes: list[str] = []
    recording = _on_wall_clock(recording, options, notes)
    rules = DailyRules.from_rules()
    if options.min_wear_h is not None:
        rules = dataclasses.replace(rules, min_wear_s=options.min_wear_h * 3600.0)
    analyzer = DailyAnalyzer(
        pipeline=GaitPipeline(height_m=options.height_m, sensor_height_m=options.sensor_height_m),
        rules=rules,
        utc_offset_s=options.utc_offset_min * 60.0,
    )
    daily = analyzer.run(recording).to_json()
    notes += [str(text) for text in daily["warnings"]]

    trend_analyzer = TrendAnalyzer()
    baseline = home_baseline(
        daily["days"],
        period=options.baseline_period,
        surgery_date=options.surgery_date,
        min_valid_days=trend_analyzer.min_valid_days,
        plateau_hint=options.plateau_hint,
    )
    if baseline is None:
        raise InputFileError("the recording holds no calendar day with data")
    trends = HomeTrendReport(analyzer=trend_analyzer, min_strides_per_side=rules.kinematics_min_strides_per_side).run(
        daily["days"], baseline=baseline[:2], baseline_source=baseline[2]
    )
    trends = {
        **trends,
        "patient": {
            "id": None,
            "code": options.patient,
            "surgery_date": None if options.surgery_date is None else options.surgery_date.isoformat(),
        },
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    seen: list[str] = []
    for text in notes:
        if text not in seen:
            seen.append(text)
    return HomeOutcome(daily=daily, trends=trends, warnings=seen)
