"""``fusiongait export``: a recording in, the files other tools read out (issue 11, docs/interop.md).

::

    fusiongait export INPUT | --sensor PLACEMENT=FILE ... --to FORMAT[,FORMAT...] [-o OUT]
                      [--placement LABEL=PLACEMENT] [--strict-units] [--height-m M | --sensor-height-m M] [--quiet]

Formats (the first four need no analysis; the others run it, as ``fusiongait analyze`` does):

================= ================================ ==========================================================
``--to``          file                             content
================= ================================ ==========================================================
parquet           OUT.parquet                      the Recording, long format (exact round trip)
hdf5              OUT.h5                           the Recording, APDM Opal layout (exact round trip)
csv               OUT_<placement>.csv              the Recording, generic CSV, one file per sensor
json              OUT.json                         the JSON report (``fusiongait.report/1``)
mot               OUT.mot                          pelvis and hip angles per sample, OpenSim motion
cycles-sto        OUT_cycles.sto                   the report's mean gait-cycle curves, OpenSim storage
strides-csv       OUT_strides.csv                  per-stride metrics
strides-parquet   OUT_strides.parquet              per-stride metrics
================= ================================ ==========================================================

``OUT`` defaults to the input's name (without its extension) in the current folder; with one format, an ``OUT``
that already ends in that format's extension is used as it is. Every file is written to a temporary name and
moved into place, so a failed export leaves no half-written file. Exit status as ``fusiongait analyze``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from firmware_bridge.atomic import replace_atomically
from firmware_bridge.errors import BridgeError, InputFileError
from gait.recording import Recording
from server.analysis import AnalysisOptions, analyze_recording
from server.argtypes import body_height_m, sensor_height_m
from server.inputs import add_input_arguments, open_input

__all__ = ["EXPORT_FORMATS", "add_export_parser", "export_paths"]

#: Format → (suffix added to OUT, needs the analysis).
EXPORT_FORMATS: Final[dict[str, tuple[str, bool]]] = {
    "parquet": (".parquet", False),
    "hdf5": (".h5", False),
    "csv": ("_{placement}.csv", False),
    "json": (".json", True),
    "mot": (".mot", True),
    "cycles-sto": ("_cycles.sto", True),
    "strides-csv": ("_strides.csv", True),
    "strides-parquet": ("_strides.parquet", True),
}


def _formats(text: str) -> list[str]:
    out = []
    for item in text.split(","):
        name = item.strip().lower()
        if name not in EXPORT_FORMATS:
            raise argparse.ArgumentTypeError(f"unknown format {name!r}; expected one of {', '.join(EXPORT_FORMATS)}")
        out.append(name)
    return out


def add_export_parser(commands: Any) -> None:
    """Add the ``export`` sub-command to the ``fusiongait`` parser."""
    export = commands.add_parser(
        "export",
        help="write a recording, its joint angles or its strides for other tools",
        description=(
            "Read a recording (any format fusiongait analyze reads) and write it, or what the analysis finds in it, "
            "in formats other tools read: Parquet, APDM-style HDF5, generic CSV, OpenSim .mot/.sto, per-stride "
            "CSV/Parquet, the JSON report."
        ),
    )
    add_input_arguments(export)
    export.add_argument(
        "--to",
        action="append",
        type=_formats,
        required=True,
        metavar="FORMAT",
        help=f"what to write (repeat or comma-separate): {', '.join(EXPORT_FORMATS)}",
    )
    export.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="OUT",
        help="output path without extension (default: the input's name in the current folder); with one format, a "
        "full file name",
    )
    height = export.add_mutually_exclusive_group()
    height.add_argument("--height-m", type=body_height_m, metavar="M", help="body height, for step length")
    height.add_argument(
        "--sensor-height-m", type=sensor_height_m, metavar="M", help="sacral sensor height above the floor"
    )
    export.add_argument("--quiet", action="store_true", help="do not list the files written")
    export.set_defaults(handler=_export)


def export_paths(out: Path, formats: list[str], placements: tuple[str, ...]) -> dict[str, list[Path]]:
    """The files each format writes for the stem (or, with one format, file name) ``out``."""
    paths: dict[str, list[Path]] = {}
    for fmt in formats:
        suffix = EXPORT_FORMATS[fmt][0]
        if fmt == "csv":
            paths[fmt] = [out.with_name(out.name + suffix.format(placement=p)) for p in placements]
        elif len(formats) == 1 and out.name.endswith(suffix):
            paths[fmt] = [out]
        else:
            paths[fmt] = [out.with_name(out.name + suffix)]
    return paths


def _default_out(args: argparse.Namespace) -> Path:
    if args.input is not None:
        given = Path(args.input)
        name = given.name if given.is_dir() else given.stem
        if given.name.endswith("meta.json"):
            name = given.name[: -len(".json")]
        return Path.cwd() / (name or "recording")
    return Path.cwd() / "fusiongait_export"


def _warn(text: str) -> None:
    print(f"fusiongait: warning: {' '.join(str(text).splitlines())}", file=sys.stderr)


def _export(args: argparse.Namespace) -> int:
    formats = list(dict.fromkeys(f for group in args.to for f in group))
    out: Path = args.out if args.out is not None else _default_out(args)
    if out.is_dir():
        raise InputFileError(f"argument --out: {out} is a folder; give a file name (without extension)")
    if not out.parent.is_dir():
        raise InputFileError(f"argument --out: folder {out.parent} does not exist")
    recording, reader_warnings, inputs = open_input(args)
    for text in reader_warnings:
        _warn(text)
    paths = export_paths(out, formats, recording.placements)
    result, report = None, None
    if any(EXPORT_FORMATS[f][1] for f in formats):
        result, report = _analyse(recording, args, reader_warnings, inputs)
    written: list[Path] = []
    try:
        for fmt in formats:
            written += _write(fmt, paths[fmt], recording, result, report)
    except OSError as exc:
        print(f"fusiongait: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except BridgeError as exc:
        if isinstance(exc, InputFileError):
            raise
        print(f"fusiongait: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        for path in written:
            print(f"wrote {path}")
    return 0


def _analyse(
    recording: Recording, args: argparse.Namespace, reader_warnings: list[str], inputs: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    options = AnalysisOptions(height_m=args.height_m, sensor_height_m=args.sensor_height_m)
    outcome = analyze_recording(recording, options=options, reader_warnings=reader_warnings, inputs=inputs)
    seen = set(reader_warnings)
    for text in outcome.warnings:
        if text not in seen:
            _warn(text)
    return outcome.result, outcome.report


def _write(fmt: str, paths: list[Path], recording: Recording, result: Any, report: Any) -> list[Path]:
    if fmt == "csv":
        from firmware_bridge.readers.csv_format import write_sensor_csv  # noqa: PLC0415

        t_s = recording.start_time_s + recording.time_s

        def sensor_csv(k: int) -> Callable[[Path], object]:
            keep = recording.valid[k]
            return lambda tmp: write_sensor_csv(tmp, t_s[keep], recording.acc_mps2[k][keep], recording.gyr_dps[k][keep])

        for k, path in enumerate(paths):
            replace_atomically(path, sensor_csv(k))
        return paths
    (path,) = paths
    if fmt == "parquet":
        from firmware_bridge.readers.parquet_format import write_recording_parquet  # noqa: PLC0415

        replace_atomically(path, lambda tmp: write_recording_parquet(recording, tmp))
    elif fmt == "hdf5":
        from firmware_bridge.readers.apdm_h5 import write_apdm_h5  # noqa: PLC0415

        replace_atomically(path, lambda tmp: write_apdm_h5(recording, tmp))
    elif fmt == "json":
        replace_atomically(
            path, lambda tmp: tmp.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", "utf-8")
        )
    elif fmt == "mot":
        from firmware_bridge.writers.opensim import write_motion_mot  # noqa: PLC0415

        replace_atomically(path, lambda tmp: write_motion_mot(result, tmp))
    elif fmt == "cycles-sto":
        from firmware_bridge.writers.opensim import write_cycle_curves_sto  # noqa: PLC0415

        replace_atomically(path, lambda tmp: write_cycle_curves_sto(report, tmp))
    elif fmt == "strides-csv":
        from firmware_bridge.writers.strides import write_strides_csv  # noqa: PLC0415

        replace_atomically(path, lambda tmp: write_strides_csv(result, tmp))
    elif fmt == "strides-parquet":
        from firmware_bridge.writers.strides import write_strides_parquet  # noqa: PLC0415

        replace_atomically(path, lambda tmp: write_strides_parquet(result, tmp))
    return [path]
