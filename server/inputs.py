"""The recording a ``fusiongait`` command reads: a file or folder of any supported format, or ``--sensor`` files.

``fusiongait analyze`` and ``fusiongait export`` take the same input arguments:

* ``INPUT`` — a capture, an APDM Opal HDF5 file, a FusionGait Parquet export, a TSDF metadata file, an x-IMU3
  ``Inertial.csv``, a Movella DOT or MetaWear CSV export, a generic CSV file, or a folder holding one session's
  per-sensor files; the reader is chosen by content (:func:`firmware_bridge.readers.dispatch.open_recording`);
* ``--sensor PLACEMENT=FILE`` (repeatable) — one file per sensor, each in any per-sensor format;
* ``--placement LABEL=PLACEMENT`` (repeatable) — where a sensor whose label does not say it was worn;
* ``--strict-units`` — refuse, instead of converting with a warning, data that contradict their units.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.dispatch import open_recording, open_sensor_files
from gait.recording import KNOWN_PLACEMENTS, PELVIS, Recording

__all__ = ["add_input_arguments", "check_output_path", "input_sensors", "open_input", "placement_spec", "sensor_spec"]


def sensor_spec(text: str) -> tuple[str, str]:
    """``PLACEMENT=FILE`` of ``--sensor`` (argparse type); the placement is checked later, with the others."""
    placement, sep, file = text.partition("=")
    placement, file = placement.strip().lower(), file.strip()
    if not sep or not placement or not file:
        raise argparse.ArgumentTypeError(f"expected PLACEMENT=FILE (e.g. pelvis=walk_pelvis.csv), got {text!r}")
    return placement, file


def placement_spec(text: str) -> tuple[str, str]:
    """``LABEL=PLACEMENT`` of ``--placement`` (argparse type), the placement checked."""
    label, sep, placement = text.rpartition("=")
    label, placement = label.strip(), placement.strip().lower()
    if not sep or not label or not placement:
        raise argparse.ArgumentTypeError(f"expected LABEL=PLACEMENT (e.g. 'Sensor 1234=pelvis'), got {text!r}")
    if placement not in KNOWN_PLACEMENTS:
        raise argparse.ArgumentTypeError(
            f"unknown placement {placement!r} in {text!r}; expected one of {', '.join(KNOWN_PLACEMENTS)}"
        )
    return label, placement


def add_input_arguments(parser: argparse.ArgumentParser, *, input_dest: str = "input") -> None:
    """Add INPUT, ``--sensor``, ``--placement`` and ``--strict-units`` to a sub-command's parser."""
    parser.add_argument(
        input_dest,
        nargs="?",
        metavar="INPUT",
        help="a recording file (capture, APDM .h5, Parquet export, TSDF *meta.json, x-IMU3, Movella DOT, MetaWear or "
        "generic CSV; recognised by content) or a folder of one session's per-sensor files (instead of --sensor)",
    )
    parser.add_argument(
        "--sensor",
        action="append",
        type=sensor_spec,
        default=[],
        metavar="PLACEMENT=FILE",
        help=f"one sensor's file, in any per-sensor format; PLACEMENT is one of {', '.join(KNOWN_PLACEMENTS)} "
        "(pelvis is required)",
    )
    parser.add_argument(
        "--placement",
        action="append",
        type=placement_spec,
        default=[],
        metavar="LABEL=PLACEMENT",
        help="where the sensor labelled LABEL in the input (APDM label, Movella DOT tag, x-IMU3 or MetaWear device "
        "name, file name) was worn, when its label does not say (Lumbar, Sacrum, Left/Right Upper Leg, pelvis, "
        "left thigh... are recognised)",
    )
    parser.add_argument(
        "--strict-units",
        action="store_true",
        help="refuse files whose data contradict their units (g vs m/s², rad/s vs deg/s) instead of converting them",
    )


def input_sensors(args: argparse.Namespace, *, input_dest: str = "input") -> dict[str, str]:
    """Check the parsed input arguments (before any file is read): the ``--sensor`` files by placement.

    Returns
    -------
    dict of placement to str
        Empty when an INPUT file or folder is given.

    Raises
    ------
    InputFileError
        INPUT and ``--sensor`` together, neither, a placement given twice or unknown, no pelvis file.
    """
    given: Any = getattr(args, input_dest)
    if given is not None and args.sensor:
        raise InputFileError("give either an input file or folder, or --sensor files, not both")
    if given is None and not args.sensor:
        raise InputFileError(
            "no input: give a recording file or folder, or --sensor pelvis=FILE (and optionally left_thigh=FILE, "
            "right_thigh=FILE)"
        )
    sensors: dict[str, str] = {}
    for placement, file in args.sensor:
        if placement in sensors:
            raise InputFileError(f"argument --sensor: {placement} given twice ({sensors[placement]} and {file})")
        sensors[placement] = file
    if sensors and PELVIS not in sensors and all(p in KNOWN_PLACEMENTS for p in sensors):
        raise InputFileError("argument --sensor: pelvis=FILE is required (the analysis needs the pelvis sensor)")
    for placement, file in sensors.items():
        if placement not in KNOWN_PLACEMENTS:
            raise InputFileError(
                f"unknown placement {placement!r}; known placements: {', '.join(KNOWN_PLACEMENTS)}", path=file
            )
    return sensors


def open_input(
    args: argparse.Namespace, *, input_dest: str = "input", sensors: dict[str, str] | None = None
) -> tuple[Recording, list[str], dict[str, str]]:
    """The recording named by the parsed input arguments.

    Parameters
    ----------
    args : argparse.Namespace
    input_dest : str
        The INPUT argument's name in ``args``.
    sensors : dict of placement to str, optional
        What :func:`input_sensors` returned for ``args``, when the caller checked them already.

    Returns
    -------
    recording : Recording
    warnings : list of str
    inputs : dict of placement to str
        Where each sensor came from, for the report.

    Raises
    ------
    InputFileError
        Conflicting or missing arguments, no pelvis sensor, or anything the readers refuse.
    """
    if sensors is None:
        sensors = input_sensors(args, input_dest=input_dest)
    if not sensors:
        path = Path(getattr(args, input_dest))
        placements = dict(args.placement)
        recording, found = open_recording(path, placements=placements or None, strict_units=args.strict_units)
        inputs = {p: str(path) for p in recording.placements}
        if PELVIS not in recording.placements:
            raise InputFileError(
                f"no pelvis sensor (found {', '.join(recording.placements)}); the analysis needs the pelvis (or "
                "sacrum, lumbar) sensor: map its label with --placement LABEL=pelvis",
                path=path,
            )
        return recording, found, inputs
    recording, found = open_sensor_files(sensors, strict_units=args.strict_units)
    return recording, found, dict(sensors)


def check_output_path(option: str, path: Path | None) -> None:
    """Refuse an output file option (``--json OUT``) that names a folder or a file in a folder that does not exist,
    before any work is done.

    Raises
    ------
    InputFileError
    """
    if path is None:
        return
    if path.is_dir():
        raise InputFileError(f"argument {option}: {path} is a folder, expected a file name")
    if not path.parent.is_dir():
        raise InputFileError(f"argument {option}: folder {path.parent} does not exist")
