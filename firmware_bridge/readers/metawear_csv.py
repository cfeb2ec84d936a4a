"""MbientLab MetaWear CSV files (MetaBase app export), one file per signal.

MetaBase writes one CSV file per sensor and signal, named
``<device name>_<date time>_<MAC>_<Signal>_<rate>Hz_<version>.csv`` (``Accelerometer``, ``Gyroscope``...), each
with the header::

    epoch (ms),time (-05:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)              accelerometer
    epoch (ms),time (-05:00),elapsed (s),x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)  gyroscope

``epoch (ms)`` is POSIX time in milliseconds. One MetaWear is therefore two files: the accelerometer file and the
gyroscope file with the same name up to the signal. Their samples are not simultaneous (the two chips run on their
own clocks, often at different rates): the gyroscope is interpolated linearly onto the accelerometer's times, and an
accelerometer sample that is not between two gyroscope samples at most 1.5 median gyroscope intervals apart is a lost
sample, unless a gyroscope sample has its very time (``gait.preprocess.interpolate_bracketed``, the rule of every
reader). The label is the device name (the file name's first part; ``MetaWear`` unless renamed in MetaBase).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.sensor_data import RawSensor, check_times
from firmware_bridge.readers.text_table import head_lines, read_columns
from gait.preprocess import interpolate_bracketed

__all__ = ["looks_like_metawear", "metawear_partner", "read_metawear_sensor"]

PathLike = str | os.PathLike[str]
_TIME: Final = "epoch (ms)"
_AXIS_RE: Final = re.compile(r"([xyz])-axis \((.+)\)")
_SIGNAL_RE: Final = re.compile(r"_(Accelerometer|Gyroscope)(?=[_.])", re.IGNORECASE)
_UNITS: Final = {"g": "g", "m/s^2": "mps2", "m/s²": "mps2", "deg/s": "dps", "rad/s": "rads"}


def looks_like_metawear(header: str) -> bool:
    """True for the header of a MetaBase CSV file."""
    return header.split(",", maxsplit=1)[0].strip() == _TIME and "-axis (" in header


def _signal(path: Path) -> str | None:
    match = _SIGNAL_RE.search(path.name)
    return match.group(1).lower() if match else None


def metawear_partner(path: PathLike) -> Path | None:
    """The other file of the same MetaWear (gyroscope for an accelerometer file and the reverse), or None."""
    file_path = Path(path)
    match = _SIGNAL_RE.search(file_path.name)
    if match is None:
        return None
    other = "Gyroscope" if match.group(1).lower() == "accelerometer" else "Accelerometer"
    prefix = file_path.name[: match.start()]
    candidates = sorted(
        p for p in file_path.parent.glob(f"{glob.escape(prefix)}_{other}*.csv") if p != file_path and p.is_file()
    )
    return candidates[0] if candidates else None


def _read_one(path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64], str, tuple[str, str, str]]:
    lines = head_lines(path, 1)
    if not lines or not looks_like_metawear(lines[0]):
        found = lines[0][:120] if lines else "(binary or empty)"
        raise InputFileError(
            f"not a MetaBase CSV file: expected a header 'epoch (ms),time (...),elapsed (s),x-axis (g),...', got "
            f"{found!r}",
            path=path,
            row=1,
        )
    header = [f.strip() for f in lines[0].split(",")]
    axes: dict[str, tuple[str, str]] = {}
    for name in header[3:]:
        match = _AXIS_RE.fullmatch(name)
        if match is None:
            continue
        unit = _UNITS.get(match.group(2).strip().lower())
        if unit is None:
            raise InputFileError(
                f"unknown unit {match.group(2)!r}; expected g or m/s^2 (accelerometer), deg/s or rad/s (gyroscope)",
                path=path,
                column=name,
                row=1,
            )
        axes[match.group(1)] = (name, unit)
    if sorted(axes) != ["x", "y", "z"]:
        raise InputFileError(
            f"expected x-axis, y-axis and z-axis columns with their unit; found: {', '.join(header)}", path=path, row=1
        )
    used = {axes[a][1] for a in "xyz"}
    if len(used) > 1:
        raise InputFileError(
            f"the axes mix units ({', '.join(axes[a][0] for a in 'xyz')}); expected one unit for the three",
            path=path,
            row=1,
        )
    columns = tuple(axes[a][0] for a in "xyz")
    data = read_columns(path, header_line=1, header=header, wanted=[_TIME, *columns])
    return data[_TIME] * 1e-3, np.column_stack([data[c] for c in columns]), used.pop(), columns  # type: ignore[return-value]


def _gyr_onto(t_acc: NDArray[np.float64], t_gyr: NDArray[np.float64], gyr: NDArray[np.float64]) -> NDArray[np.float64]:
    """The gyroscope (n, 3) at the accelerometer's times; NaN where no close gyroscope samples bracket the time.

    Lost rows (non-finite time or value) are dropped and the rest put in time order; ``interpolate_bracketed``
    then bridges intervals of at most 1.5 median intervals of the rows kept.
    """
    ok = np.isfinite(t_gyr) & np.isfinite(gyr).all(axis=-1)
    t, x = t_gyr[ok], gyr[ok]
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    nominal_s = float(np.median(np.diff(t))) if t.size >= 2 else 0.0
    # tol_s=0: both chips stamp whole milliseconds, so a gyroscope sample at an accelerometer time is an exact hit.
    values, _ = interpolate_bracketed(t, x, t_acc, max_gap_s=1.5 * max(nominal_s, 1e-9), tol_s=0.0)
    return values


def read_metawear_sensor(path: PathLike) -> RawSensor:
    """One MetaWear: its accelerometer file and gyroscope file (either may be given; the other is found by name).

    Raises
    ------
    InputFileError
        The partner file is missing, a header is not MetaBase's, units are unknown or mixed, a cell is not a number.
    """
    file_path = Path(path)
    signal = _signal(file_path)
    partner = metawear_partner(file_path)
    if signal is None or partner is None:
        raise InputFileError(
            "a MetaWear needs its accelerometer and gyroscope files side by side, named as MetaBase names them "
            "(<device>_<date>_<MAC>_Accelerometer_...csv and ..._Gyroscope_...csv); "
            + ("the file name names neither signal" if signal is None else "the other file was not found"),
            path=file_path,
        )
    acc_path, gyr_path = (file_path, partner) if signal == "accelerometer" else (partner, file_path)
    t_acc, acc, acc_unit, acc_cols = _read_one(acc_path)
    t_gyr, gyr, gyr_unit, gyr_cols = _read_one(gyr_path)
    if acc_unit not in ("g", "mps2"):
        raise InputFileError(f"expected accelerometer units (g), got {acc_unit}", path=acc_path, row=1)
    if gyr_unit not in ("dps", "rads"):
        raise InputFileError(f"expected gyroscope units (deg/s), got {gyr_unit}", path=gyr_path, row=1)
    label = acc_path.name.split("_")[0] or acc_path.stem
    # The gyroscope file's own times are checked here, so that its problems name its lines.
    gyr_alone, notes = check_times(
        RawSensor(label, gyr_path, t_gyr, gyr, gyr, None, None, "", _TIME, gyr_cols, gyr_cols, first_line=2)
    )
    t_gyr, gyr = gyr_alone.t_s, gyr_alone.gyr
    return RawSensor(
        label=label,
        path=acc_path,
        t_s=t_acc,
        acc=acc,
        gyr=_gyr_onto(t_acc, t_gyr, gyr),
        acc_unit=acc_unit,  # type: ignore[arg-type]
        gyr_unit=gyr_unit,  # type: ignore[arg-type]
        unit_source="the column names",
        time_column=_TIME,
        acc_columns=acc_cols,
        gyr_columns=tuple(f"{gyr_path.name}: {c}" for c in gyr_cols),  # type: ignore[arg-type]
        first_line=2,
        notes=tuple(notes),
    )
