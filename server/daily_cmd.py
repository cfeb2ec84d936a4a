"""``fusiongait daily``: a home recording of one or more days in, everyday walking per calendar day and the trends
against the patient's own baseline out (CLINICAL.md §5; the offline twin of the service's home monitoring).

::

    fusiongait daily INPUT | --sensor PLACEMENT=FILE ... [--utc-offset-min M] [--start-time ISO-8601]
                     [--min-wear-h H] [--height-m M | --sensor-height-m M] [--surgery-date YYYY-MM-DD]
                     [--baseline-from YYYY-MM-DD --baseline-to YYYY-MM-DD] [--patient ID]
                     [--json OUT.json] [--trends-json OUT.json] [--html OUT.html] [--quiet]

The recording (any format ``fusiongait analyze`` reads) is analysed by :class:`gait.daily.DailyAnalyzer`, the step
the service runs on each day of relay uploads, with the same rules and trends. Calendar days need the wall-clock
time of the recording: captures made by the bridge and relay and vendor files with UTC timestamps have it; a file
whose times count from zero needs ``--start-time``.

Outputs: ``--json`` the daily document (``fusiongait.daily/1``: every day's outcomes, wear time and sufficiency,
the walking bouts); ``--trends-json`` the trends (``fusiongait.home_trends/1``: 7-day medians against the baseline,
personal MDC95, the home arm of F1-F6); ``--html`` the home report a clinician reads. Exit status as
``fusiongait analyze``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from firmware_bridge.atomic import write_atomic
from firmware_bridge.errors import InputFileError
from server.analysis import WALL_CLOCK_FROM, HomeOptions, analyze_home_recording
from server.argtypes import body_height_m, iso_date, sensor_height_m, start_time, utc_offset_min, wear_h
from server.inputs import add_input_arguments, check_output_path, open_input

__all__ = ["WALL_CLOCK_FROM", "add_daily_parser", "summary_text"]


def add_daily_parser(commands: Any) -> None:
    """Add the ``daily`` sub-command to the ``fusiongait`` parser."""
    daily = commands.add_parser(
        "daily",
        help="analyse a home recording day by day, with trends against the patient's own baseline",
        description=(
            "Analyse a home recording of one or more days (any format fusiongait analyze reads): everyday walking "
            "per local calendar day (steps, walking time, bouts, speed, cadence, wear time and sufficiency, "
            "kinematics of long straight bouts; CLINICAL.md §5) and the 7-day trends against the patient's own "
            "baseline with the home arm of flags F1-F6."
        ),
    )
    add_input_arguments(daily)
    daily.add_argument(
        "--utc-offset-min",
        type=utc_offset_min,
        default=0,
        metavar="M",
        help="the patient's local time minus UTC in minutes (60 for UTC+01:00); days start at local midnight",
    )
    daily.add_argument(
        "--start-time",
        type=start_time,
        metavar="ISO-8601",
        help="wall-clock time of the first sample (e.g. 2026-03-02T08:00, local time; or with Z / +01:00), for a "
        "file whose times count from zero",
    )
    daily.add_argument(
        "--min-wear-h",
        type=wear_h,
        metavar="H",
        help="wear time a day needs to count (default: the rules file's, 12 h), for a protocol with shorter wear",
    )
    height = daily.add_mutually_exclusive_group()
    height.add_argument("--height-m", type=body_height_m, metavar="M", help="body height, for step length")
    height.add_argument(
        "--sensor-height-m", type=sensor_height_m, metavar="M", help="sacral sensor height above the floor"
    )
    daily.add_argument(
        "--surgery-date", type=iso_date, metavar="YYYY-MM-DD", help="the week before it is the baseline when it has "
        "enough valid days (CLINICAL.md §5 rule 4a)"
    )  # fmt: skip
    daily.add_argument("--baseline-from", type=iso_date, metavar="YYYY-MM-DD", help="first day of the baseline period")
    daily.add_argument("--baseline-to", type=iso_date, metavar="YYYY-MM-DD", help="last day of the baseline period")
    daily.add_argument("--patient", metavar="ID", help="patient code for the report header")
    daily.add_argument("--json", type=Path, metavar="OUT.json", help="write the daily document here")
    daily.add_argument("--trends-json", type=Path, metavar="OUT.json", help="write the trends document here")
    daily.add_argument("--html", type=Path, metavar="OUT.html", help="write the self-contained home report here")
    daily.add_argument("--quiet", action="store_true", help="do not print the days and flags")
    daily.set_defaults(handler=_daily)


def _warn(text: object) -> None:
    print(f"fusiongait: warning: {' '.join(str(text).splitlines())}", file=sys.stderr)


def _baseline_period(args: argparse.Namespace) -> tuple[dt.date, dt.date] | None:
    given = (args.baseline_from, args.baseline_to)
    if given == (None, None):
        return None
    if None in given:
        raise InputFileError("arguments --baseline-from and --baseline-to: give both, or neither")
    if args.baseline_to < args.baseline_from:
        raise InputFileError(
            f"argument --baseline-to: {args.baseline_to} is before --baseline-from {args.baseline_from}"
        )
    return args.baseline_from, args.baseline_to


def _daily(args: argparse.Namespace) -> int:
    for option, path in (("--json", args.json), ("--trends-json", args.trends_json), ("--html", args.html)):
        check_output_path(option, path)
    options = HomeOptions(
        height_m=args.height_m,
        sensor_height_m=args.sensor_height_m,
        utc_offset_min=args.utc_offset_min,
        min_wear_h=args.min_wear_h,
        start_time=args.start_time,
        surgery_date=args.surgery_date,
        baseline_period=_baseline_period(args),
        patient=args.patient or "",
    )
    recording, reader_warnings, _inputs = open_input(args)
    for text in reader_warnings:
        _warn(text)
    outcome = analyze_home_recording(recording, options=options)
    for text in outcome.warnings:
        _warn(text)
    daily, trends = outcome.daily, outcome.trends

    try:
        _write_outputs(args, daily, trends)
    except OSError as exc:
        print(f"fusiongait: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(summary_text(daily, trends, args.utc_offset_min))
        for option, path in (("daily JSON", args.json), ("trends JSON", args.trends_json), ("HTML", args.html)):
            if path is not None:
                print(f"{option}: {path}")
    return 0


def _write_outputs(args: argparse.Namespace, daily: dict[str, Any], trends: dict[str, Any]) -> None:
    import json  # noqa: PLC0415

    if args.json is not None:
        write_atomic(args.json, (json.dumps(daily, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    if args.trends_json is not None:
        write_atomic(args.trends_json, (json.dumps(trends, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    if args.html is not None:
        from server.home_report import render_home_html  # noqa: PLC0415

        write_atomic(args.html, render_home_html(trends).encode("utf-8"))


def _cell(value: Any, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def summary_text(daily: dict[str, Any], trends: dict[str, Any], utc_offset_min: int) -> str:
    """The days and the flags as plain text (what the command prints)."""
    sign = "+" if utc_offset_min >= 0 else "-"
    zone = f"UTC{sign}{abs(utc_offset_min) // 60:02d}:{abs(utc_offset_min) % 60:02d}"
    start = dt.datetime.fromtimestamp(daily["start_time_s"] + utc_offset_min * 60, dt.UTC)
    hours = (daily["duration_s"] or 0.0) / 3600.0
    days = daily["days"]
    lines = [
        f"Home recording from {start:%Y-%m-%d %H:%M} ({zone}), {hours:.1f} h: {len(days)} calendar days, "
        f"{sum(1 for d in days if d['sufficient'])} sufficient",
        "",
        f"{'date':<10}  {'wear h':>6}  {'counts':<6}  {'steps':>6}  {'walking min':>11}  {'speed m/s':>9}  "
        f"{'cadence spm':>11}",
    ]
    for d in days:
        walking_min = None if d["walking_s"] is None else d["walking_s"] / 60.0
        wear_h = None if d["wear_s"] is None else d["wear_s"] / 3600.0
        lines.append(
            f"{d['date']:<10}  {_cell(wear_h, 1):>6}  {'yes' if d['sufficient'] else 'no':<6}  {d['steps']:>6}  "
            f"{_cell(walking_min, 1):>11}  {_cell(d['walking_speed_median_mps'], 2):>9}  "
            f"{_cell(d['cadence_spm'], 1):>11}"
        )
    for d in days:
        if not d["sufficient"] and d["reasons"]:
            lines.append(f"  {d['date']} not counted: {'; '.join(d['reasons'])}")
    base = trends["baseline"]
    lines += [
        "",
        f"Baseline {base['from']} to {base['to']} ({base['source']}), {base['valid_days']} valid days.",
        "Flags, home arm (decision support, not a diagnosis; change from the patient's own baseline):",
    ]
    lines += [f"  {f['id']} ({f['status']}): {f['text']}" for f in trends["flags"]]
    return "\n".join(lines)
