"""x-IMU3 CSV exports (x-IMU3 GUI data logger / x-IMU3 File Converter): ``Inertial.csv`` of each device.

A logged session is a folder with one sub-folder per device (``x-IMU3 673B204B (UDP)``...), each holding one CSV file
per message type and a ``Command.json`` with the device's ping response (``interface``, ``name``, ``sn``). The file
read here is ``Inertial.csv``::

    Timestamp (us),Gyroscope X (deg/s),Gyroscope Y (deg/s),Gyroscope Z (deg/s),Accelerometer X (g),...
    19150794,0.013032,-0.038818,0.066303,0.000251,0.002156,0.996598

The timestamp is the device clock in microseconds. Units are read from the column names (so a converter that wrote
other units is read correctly) and then checked against physics. The sensor's label is the device name set in the
x-IMU3 GUI (``Command.json``), unless it is the default ``x-IMU3``, then the device folder's name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Final

import numpy as np

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.sensor_data import RawSensor
from firmware_bridge.readers.text_table import head_lines, read_columns

__all__ = ["INERTIAL_FILE", "looks_like_ximu3", "read_ximu3_sensor"]

PathLike = str | os.PathLike[str]
INERTIAL_FILE: Final = "Inertial.csv"
_COLUMN_RE: Final = re.compile(r"(Gyroscope|Accelerometer) ([XYZ]) \((.+)\)", re.IGNORECASE)
_TIME_RE: Final = re.compile(r"Timestamp \((us|ms|s)\)", re.IGNORECASE)
_UNITS: Final = {
    "g": "g",
    "m/s^2": "mps2",
    "m/s²": "mps2",
    "m/s2": "mps2",
    "deg/s": "dps",
    "°/s": "dps",
    "rad/s": "rads",
}
_TIME_FACTOR: Final = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_DEFAULT_NAME: Final = "x-imu3"


def looks_like_ximu3(header: str) -> bool:
    """True for the header row of an x-IMU3 ``Inertial.csv``."""
    fields = [f.strip() for f in header.split(",")]
    return (
        bool(fields) and _TIME_RE.fullmatch(fields[0]) is not None and any(_COLUMN_RE.fullmatch(f) for f in fields[1:])
    )


def _device_label(folder: Path) -> str:
    command = folder / "Command.json"
    try:
        responses = json.loads(command.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return folder.name
    for response in responses if isinstance(responses, list) else []:
        ping = response.get("ping") if isinstance(response, dict) else None
        if isinstance(ping, dict):
            name = str(ping.get("name", "")).strip()
            if name and name.lower() != _DEFAULT_NAME:
                return name
    return folder.name


def read_ximu3_sensor(path: PathLike) -> RawSensor:
    """One x-IMU3 device: its ``Inertial.csv`` (or the device folder holding it).

    Raises
    ------
    InputFileError
        No ``Inertial.csv``, a header without the timestamp or the six inertial columns, units mixed within the
        accelerometer or the gyroscope, an unknown unit, or a cell that is not a number.
    """
    file_path = Path(path)
    if file_path.is_dir():
        file_path = file_path / INERTIAL_FILE
    if not file_path.is_file():
        raise InputFileError("file not found (an x-IMU3 device folder holds Inertial.csv)", path=file_path)
    lines = head_lines(file_path, 2)
    if not lines or not looks_like_ximu3(lines[0]):
        found = lines[0][:120] if lines else "(binary or empty)"
        raise InputFileError(
            f"not an x-IMU3 Inertial.csv: expected a header 'Timestamp (us),Gyroscope X (deg/s),...', got {found!r}",
            path=file_path,
            row=1,
        )
    header = [f.strip() for f in lines[0].split(",")]
    time_match = _TIME_RE.fullmatch(header[0])
    assert time_match is not None
    columns: dict[tuple[str, str], tuple[str, str]] = {}
    for name in header[1:]:
        match = _COLUMN_RE.fullmatch(name)
        if match is None:
            continue
        quantity, axis, unit_text = match.group(1).lower(), match.group(2).lower(), match.group(3).strip()
        unit = _UNITS.get(unit_text.lower())
        allowed = ("g", "mps2") if quantity == "accelerometer" else ("dps", "rads")
        if unit not in allowed:
            raise InputFileError(
                f"unknown unit {unit_text!r}; expected "
                f"{'g or m/s^2' if quantity == 'accelerometer' else 'deg/s or rad/s'}",
                path=file_path,
                column=name,
                row=1,
            )
        columns[(quantity, axis)] = (name, unit)
    missing = [
        f"{q.title()} {a.upper()}" for q in ("gyroscope", "accelerometer") for a in "xyz" if (q, a) not in columns
    ]
    if missing:
        raise InputFileError(
            f"missing column(s) {', '.join(missing)}; found: {', '.join(header)}", path=file_path, row=1
        )
    units = {}
    for quantity in ("accelerometer", "gyroscope"):
        used = {columns[(quantity, a)][1] for a in "xyz"}
        if len(used) > 1:
            listed = ", ".join(columns[(quantity, a)][0] for a in "xyz")
            raise InputFileError(
                f"the {quantity} columns mix units ({listed}); expected one unit for the three axes",
                path=file_path,
                row=1,
            )
        units[quantity] = used.pop()
    acc_cols = tuple(columns[("accelerometer", a)][0] for a in "xyz")
    gyr_cols = tuple(columns[("gyroscope", a)][0] for a in "xyz")
    data = read_columns(file_path, header_line=1, header=header, wanted=[header[0], *acc_cols, *gyr_cols])
    return RawSensor(
        label=_device_label(file_path.parent),
        path=file_path,
        t_s=data[header[0]] * _TIME_FACTOR[time_match.group(1).lower()],
        acc=np.column_stack([data[c] for c in acc_cols]),
        gyr=np.column_stack([data[c] for c in gyr_cols]),
        acc_unit=units["accelerometer"],  # type: ignore[arg-type]
        gyr_unit=units["gyroscope"],  # type: ignore[arg-type]
        unit_source="the column names",
        time_column=header[0],
        acc_columns=acc_cols,  # type: ignore[arg-type]
        gyr_columns=gyr_cols,  # type: ignore[arg-type]
        first_line=2,
    )
