"""The ``fusiongait`` command line (DESIGN.md §4).

::

    fusiongait analyze --sensor pelvis=FILE [--sensor left_thigh=FILE] [--sensor right_thigh=FILE]
                       [--height-m 1.75 | --sensor-height-m 0.95]
                       [--json OUT.json] [--html OUT.html] [--baseline EARLIER.json ...]
                       [--plateau-sessions N] [--patient ID] [--session-date YYYY-MM-DD]
                       [--session-label TEXT] [--quiet]
    fusiongait analyze INPUT [same options]      (a capture, vendor file or session folder; docs/interop.md)
    fusiongait daily INPUT [--utc-offset-min M] [--start-time ISO] [--json ...] [--trends-json ...] [--html ...]
    fusiongait export INPUT --to parquet|hdf5|csv|mot|cycles-sto|strides-csv|strides-parquet|json [-o OUT]
    fusiongait serve | admin | record | relay | simulate | batch ...   (see their --help)

Exit status: 0 on success; 2 for bad input (arguments, files, data the analysis cannot use), with exactly one
line ``fusiongait: error: <reason>`` on stderr and no traceback; 1 when the output cannot be written or the
analysis is not installed. Warnings go to stderr as ``fusiongait: warning: <text>`` lines; the summary goes to
stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from firmware_bridge.atomic import write_atomic
from firmware_bridge.errors import BridgeError
from gait.errors import GaitError
from gait.recording import KNOWN_PLACEMENTS
from gait.report import REPORT_SCHEMA
from hardware.errors import HardwareError
from server.analysis import AnalysisOptions, analyze_recording
from server.argtypes import HEIGHT_RANGE_M, SENSOR_HEIGHT_RANGE_M, body_height_m, sensor_height_m
from server.batch_cmd import add_batch_parser
from server.daily_cmd import add_daily_parser
from server.export_cmd import add_export_parser
from server.inputs import check_output_path, input_sensors, open_input, placement_spec, sensor_spec
from server.record_cmd import add_record_parser
from server.relay_cmd import add_relay_parser
from server.serve_cmd import add_admin_parser, add_serve_parser
from server.simulate_cmd import add_simulate_parser

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

PROG = "fusiongait"
EXIT_OK = 0
#: The output could not be produced (a file could not be written, the analysis is not installed).
EXIT_FAILURE = 1
#: Bad input: arguments, files, or data the analysis refuses.
EXIT_USAGE = 2


class UsageError(Exception):
    """A command-line argument is wrong; the message says which and why."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting: errors stay on one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# ----------------------------------------------------------------------------------------- argument types
def _iso_date(text: str) -> str:
    try:
        return datetime.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fusiongait`` (its ``error`` raises :class:`UsageError`)."""
    parser = _Parser(
        prog=PROG,
        description="Wearable gait and pelvic-compensation analysis after lumbar spinal fusion.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    add_simulate_parser(commands)
    add_record_parser(commands)
    add_relay_parser(commands)
    add_serve_parser(commands)
    add_admin_parser(commands)
    add_batch_parser(commands)
    analyze = commands.add_parser(
        "analyze",
        help="analyse recorded sensor files",
        description=(
            "Analyse one walking recording: one CSV file per sensor (header t_s, acc_x_mps2|acc_x_g, ..., "
            "gyr_x_dps|gyr_x_rads, ...; the sensors may be mounted in any orientation), a capture file, a vendor "
            "file (APDM Opal .h5, x-IMU3, Movella DOT, MetaWear, TSDF) or a folder of one session's files."
        ),
    )
    analyze.add_argument(
        "capture",
        nargs="?",
        metavar="INPUT",
        help="a capture, an APDM .h5, a FusionGait Parquet export, a TSDF *meta.json, an x-IMU3, Movella DOT or "
        "MetaWear CSV export (recognised by content), or a folder of one session's per-sensor files (instead of "
        "--sensor)",
    )
    analyze.add_argument(
        "--sensor",
        action="append",
        type=sensor_spec,
        default=[],
        metavar="PLACEMENT=FILE",
        help=f"a sensor's file (generic CSV or a vendor's per-sensor export); PLACEMENT is one of "
        f"{', '.join(KNOWN_PLACEMENTS)} (pelvis is required)",
    )
    analyze.add_argument(
        "--placement",
        action="append",
        type=placement_spec,
        default=[],
        metavar="LABEL=PLACEMENT",
        help="where the sensor labelled LABEL in INPUT was worn, when its label does not say (repeat)",
    )
    analyze.add_argument(
        "--strict-units",
        action="store_true",
        help="refuse files whose data contradict their units (g vs m/s², rad/s vs deg/s) instead of converting them",
    )
    height = analyze.add_mutually_exclusive_group()
    height.add_argument(
        "--height-m",
        type=body_height_m,
        metavar="M",
        help=f"body height in metres, to scale step length ({HEIGHT_RANGE_M[0]:g}–{HEIGHT_RANGE_M[1]:g})",
    )
    height.add_argument(
        "--sensor-height-m",
        type=sensor_height_m,
        metavar="M",
        help=(
            "height of the sacral sensor above the floor when standing, in metres "
            f"({SENSOR_HEIGHT_RANGE_M[0]:g}–{SENSOR_HEIGHT_RANGE_M[1]:g})"
        ),
    )
    analyze.add_argument("--json", type=Path, metavar="OUT.json", help="write the JSON report here")
    analyze.add_argument("--html", type=Path, metavar="OUT.html", help="write the self-contained HTML report here")
    analyze.add_argument(
        "--baseline",
        action="append",
        type=Path,
        default=[],
        metavar="EARLIER.json",
        help="an earlier JSON report of the same patient (repeat, oldest first) for the flags' baseline arm and trend",
    )
    analyze.add_argument(
        "--plateau-sessions",
        type=int,
        metavar="N",
        help="how many of the earliest --baseline reports form the plateau (default: all but the most recent; 1 "
        "when only one is given)",
    )
    analyze.add_argument("--patient", metavar="ID", help="patient identifier for the report header")
    analyze.add_argument(
        "--session-date", type=_iso_date, metavar="YYYY-MM-DD", help="session date (orders baselines, header)"
    )
    analyze.add_argument(
        "--session-label", metavar="TEXT", help="session label for the header (e.g. '6 weeks post-op')"
    )
    analyze.add_argument("--quiet", action="store_true", help="do not print the summary (warnings still go to stderr)")
    analyze.set_defaults(handler=_analyze)
    add_daily_parser(commands)
    add_export_parser(commands)
    return parser


# ----------------------------------------------------------------------------------------- output helpers
def _one_line(text: object) -> str:
    return " ".join(str(text).splitlines()).strip()


def _error(message: object) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def _warn(message: object) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _read_baseline(path: Path) -> dict[str, Any]:
    """An earlier report given with --baseline, checked at the boundary."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"argument --baseline: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"argument --baseline: cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"argument --baseline: {path} is not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(document, dict) or document.get("schema") != REPORT_SCHEMA:
        schema = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise UsageError(
            f"argument --baseline: {path} is not a FusionGait report (expected schema {REPORT_SCHEMA!r}, got "
            f"{schema!r})"
        )
    return document


def _write_json_atomic(path: Path, document: Any) -> None:
    """Write ``document`` as JSON to a temporary file next to ``path``, then move it into place."""
    _write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")


def _write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) all or nothing: a reader never sees half a report."""
    write_atomic(path, text.encode("utf-8"))


# ----------------------------------------------------------------------------------------- commands
def _analyze(args: argparse.Namespace) -> int:
    sensors = input_sensors(args, input_dest="capture")
    check_output_path("--json", args.json)
    check_output_path("--html", args.html)
    baselines = [_read_baseline(path) for path in args.baseline]
    if args.plateau_sessions is not None and not 1 <= args.plateau_sessions <= max(len(baselines), 1):
        raise UsageError(
            f"argument --plateau-sessions: expected 1 to {len(baselines)} (the number of --baseline reports), got "
            f"{args.plateau_sessions}"
        )
    session = {"patient": args.patient, "date": args.session_date, "label": args.session_label}

    recording, reader_warnings, sensors = open_input(args, input_dest="capture", sensors=sensors)
    for text in reader_warnings:
        _warn(text)

    try:
        outcome = analyze_recording(
            recording,
            options=AnalysisOptions(
                height_m=args.height_m,
                sensor_height_m=args.sensor_height_m,
                session=session,
                plateau_sessions=args.plateau_sessions,
            ),
            reader_warnings=reader_warnings,
            inputs=dict(sensors),
            baselines=baselines,
        )
    except ImportError as exc:
        _error(f"the analysis is not available in this installation ({exc})")
        return EXIT_FAILURE
    report = outcome.report
    already = set(reader_warnings)
    for text in outcome.warnings:
        if text not in already:
            _warn(text)
            already.add(text)

    if args.json is not None:
        try:
            _write_json_atomic(args.json, report)
        except (TypeError, ValueError) as exc:
            _error(f"cannot write the JSON report: {exc}")
            return EXIT_FAILURE
        except OSError as exc:
            _error(f"cannot write {args.json}: {exc.strerror or exc}")
            return EXIT_FAILURE
    if args.html is not None:
        from server.report_html import render_html  # noqa: PLC0415 - only needed for --html

        try:
            _write_text_atomic(args.html, render_html(report))
        except OSError as exc:
            _error(f"cannot write {args.html}: {exc.strerror or exc}")
            return EXIT_FAILURE
    if not args.quiet:
        from gait.report import summary_text  # noqa: PLC0415 - with the analysis, looked up when it runs

        print(summary_text(report))
        if args.json is not None:
            print(f"JSON report: {args.json}")
        if args.html is not None:
            print(f"HTML report: {args.html}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fusiongait`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments without the program name.

    Returns
    -------
    int
        0 on success, 2 for bad input (one ``fusiongait: error:`` line on stderr), 1 when the output cannot be
        produced.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except UsageError as exc:
        _error(exc)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        status: int = args.handler(args)
    except (UsageError, BridgeError, HardwareError, GaitError) as exc:
        _error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    return status


if __name__ == "__main__":
    raise SystemExit(main())
