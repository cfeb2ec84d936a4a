"""Movella DOT (formerly Xsens DOT) CSV exports, one file per sensor.

The export written by the Movella DOT app and SDK (``XsensDotLogger``) starts with a preamble, then a blank line and
the column header::

    sep=,
    DeviceTag:,Pelvis,,,...
    FirmwareVersion:,2.6.0,,,...
    AppVersion:,2023.6.0,,,...
    SyncStatus:,Synced,,,...
    OutputRate:,60Hz,,,...
    FilterProfile:,General,,,...
    Measurement Mode:,Custom Mode 5,,,...
    StartTime:,2024-05-02 10:15:03.123 +0200,,,...
    Movella Technologies B. V. 2005-2024,,,...

    PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z

(the columns depend on the measurement mode; FusionGait needs ``Acc_*`` and ``Gyr_*``: the "rate quantities" or
custom modes 4/5 of the app). ``SampleTimeFine`` is the sensor clock in microseconds, an unsigned 32-bit counter
that wraps after 71.6 minutes: wraps are unwrapped. ``Acc`` is specific force in m/s² and ``Gyr`` the angular rate
in deg/s as Movella documents the DOT (Xsens MTw/MT Manager exports use rad/s: the unit check converts with a
warning). The label is the ``DeviceTag`` set in the app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.sensor_data import RawSensor
from firmware_bridge.readers.text_table import head_lines, read_columns

__all__ = ["looks_like_movella", "read_movella_sensor"]

PathLike = str | os.PathLike[str]
_TIME: Final = "SampleTimeFine"
_ACC: Final = ("Acc_X", "Acc_Y", "Acc_Z")
_GYR: Final = ("Gyr_X", "Gyr_Y", "Gyr_Z")
_WRAP: Final = 2**32


def _header_index(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        first = line.split(",")[0].strip().strip('"')
        if first in ("PacketCounter", _TIME):
            return i
    return None


def looks_like_movella(lines: list[str]) -> bool:
    """True for the first lines of a Movella DOT export (preamble or a PacketCounter/SampleTimeFine header)."""
    if not lines:
        return False
    if lines[0].strip().lower().startswith("sep=") or any(line.startswith("DeviceTag:") for line in lines[:12]):
        return True
    i = _header_index(lines)
    return i is not None and _TIME in lines[i]


def unwrap_us(t_us: NDArray[np.float64]) -> NDArray[np.float64]:
    """Undo the 32-bit wraps of a microsecond counter (a drop of more than half the range is one wrap)."""
    drops = np.diff(t_us) < -(_WRAP / 2)
    if not drops.any():
        return t_us
    return np.asarray(t_us + _WRAP * np.concatenate([[0], np.cumsum(drops)]), dtype=np.float64)


def read_movella_sensor(path: PathLike) -> RawSensor:
    """One Movella DOT export.

    Raises
    ------
    InputFileError
        No header row, no ``SampleTimeFine``, an export without ``Acc_*``/``Gyr_*`` (for example free acceleration
        only), or a cell that is not a number.
    """
    file_path = Path(path)
    lines = head_lines(file_path, 60)
    i = _header_index(lines)
    if i is None:
        raise InputFileError(
            "not a Movella DOT export: no 'PacketCounter,SampleTimeFine,...' header in the first lines", path=file_path
        )
    header = [f.strip().strip('"') for f in lines[i].split(",")]
    while header and header[-1] == "":
        header.pop()
    label = file_path.stem
    for line in lines[:i]:
        key, _, rest = line.partition(",")
        if key.strip() == "DeviceTag:":
            tag = rest.split(",")[0].strip()
            label = tag or label
    if _TIME not in header:
        raise InputFileError(f"missing column {_TIME!r}; found: {', '.join(header)}", path=file_path, row=i + 1)
    missing = [c for c in (*_ACC, *_GYR) if c not in header]
    if missing:
        hint = ""
        if any(c.startswith(("FreeAcc", "dq_", "dv[")) for c in header):
            hint = (
                " (this export holds free acceleration or delta quantities only; record with a measurement mode that "
                "outputs Acc and Gyr, such as Custom Mode 5 or the rate quantities, and export those)"
            )
        raise InputFileError(
            f"missing column(s) {', '.join(missing)}{hint}; found: {', '.join(header)}", path=file_path, row=i + 1
        )
    data = read_columns(file_path, header_line=i + 1, header=header, wanted=[_TIME, *_ACC, *_GYR])
    t_us = data[_TIME]
    finite = np.isfinite(t_us)
    t_us[finite] = unwrap_us(t_us[finite])
    return RawSensor(
        label=label,
        path=file_path,
        t_s=t_us * 1e-6,
        acc=np.column_stack([data[c] for c in _ACC]),
        gyr=np.column_stack([data[c] for c in _GYR]),
        acc_unit="mps2",
        gyr_unit="dps",
        unit_source="Movella's documentation of the DOT (m/s², deg/s)",
        time_column=_TIME,
        acc_columns=_ACC,
        gyr_columns=_GYR,
        first_line=i + 2,
    )
