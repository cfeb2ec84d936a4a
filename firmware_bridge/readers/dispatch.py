"""Open any supported recording — a file or a folder of one session's per-sensor files — choosing the reader by content.

Formats (docs/interop.md says what each reader was checked against):

========== ================================================= ===============================================
format     recognised by                                     reader
========== ================================================= ===============================================
capture    the capture magic (hardware/PROTOCOL.md §5)        :func:`~.capture_format.read_capture`
apdm-h5    the HDF5 signature                                 :func:`~.apdm_h5.read_apdm_h5`
parquet    ``PAR1`` + FusionGait metadata                     :func:`~.parquet_format.read_recording_parquet`
tsdf       JSON with ``metadata_version``                     :func:`~.tsdf_format.read_tsdf_sensors`
ximu3      header ``Timestamp (us),Gyroscope X (deg/s),...``  :func:`~.ximu3_csv.read_ximu3_sensor`
movella    ``sep=,``/``DeviceTag:`` preamble, ``PacketCounter`` :func:`~.movella_csv.read_movella_sensor`
metawear   header ``epoch (ms),time (...),elapsed (s),...``   :func:`~.metawear_csv.read_metawear_sensor`
csv        header with ``t_s`` and ``acc_*``/``gyr_*``        :func:`~.csv_format.read_sensor_csv`
========== ================================================= ===============================================

The file name's extension is never trusted alone. A folder is one session: either a single recording file, or
per-sensor files of the vendor formats and generic CSV (x-IMU3 device sub-folders included), whose labels (or file
names) say where each sensor was worn. The user's ``placements`` mapping (label → placement) comes first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Final

from firmware_bridge.errors import InputFileError
from firmware_bridge.readers.apdm_h5 import HDF5_SIGNATURE, read_apdm_h5, read_apdm_sensors
from firmware_bridge.readers.capture_format import read_capture
from firmware_bridge.readers.csv_format import read_csv_raw_sensor, read_recording
from firmware_bridge.readers.metawear_csv import looks_like_metawear, metawear_partner, read_metawear_sensor
from firmware_bridge.readers.movella_csv import looks_like_movella, read_movella_sensor
from firmware_bridge.readers.parquet_format import PARQUET_MAGIC, read_recording_parquet
from firmware_bridge.readers.sensor_data import RawSensor, assemble, place_sensors, placement_of
from firmware_bridge.readers.text_table import head_lines
from firmware_bridge.readers.tsdf_format import looks_like_tsdf, read_tsdf_sensors
from firmware_bridge.readers.ximu3_csv import INERTIAL_FILE, looks_like_ximu3, read_ximu3_sensor
from gait.recording import Recording
from hardware.capture import MAGIC as CAPTURE_MAGIC

__all__ = ["FORMATS", "WHOLE_RECORDING_FORMATS", "detect_format", "open_recording", "open_sensor_files"]

PathLike = str | os.PathLike[str]
FORMATS: Final = ("capture", "apdm-h5", "parquet", "tsdf", "ximu3", "movella", "metawear", "csv")
#: Formats whose one file holds a whole session (several sensors).
WHOLE_RECORDING_FORMATS: Final = ("capture", "apdm-h5", "parquet", "tsdf")
_SUPPORTED_TEXT: Final = (
    "a FusionGait capture (.imucap), an APDM Opal HDF5 file, a FusionGait Parquet export, a TSDF metadata file "
    "(*meta.json), an x-IMU3 Inertial.csv, a Movella DOT CSV export, a MetaWear (MetaBase) CSV file, or a generic "
    "CSV file (t_s, acc_x_mps2|acc_x_g, ..., gyr_x_dps|gyr_x_rads, ...)"
)


def detect_format(path: PathLike) -> str | None:
    """The format of one file, from its content (see the module table); None when it is none of them.

    Raises
    ------
    InputFileError
        The file is missing or cannot be read.
    """
    file_path = Path(path)
    if not file_path.exists():
        raise InputFileError("file not found", path=file_path)
    if file_path.is_dir():
        raise InputFileError("is a folder, expected a file", path=file_path)
    try:
        with file_path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise InputFileError(f"cannot read the file: {exc.strerror or exc}", path=file_path) from None
    if head.startswith(CAPTURE_MAGIC):
        return "capture"
    if head.startswith(HDF5_SIGNATURE):
        return "apdm-h5"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    lines = head_lines(file_path, 60)
    if not lines:
        return None
    first = next((line for line in lines if line.strip()), "")
    if looks_like_tsdf("\n".join(lines)):
        return "tsdf"
    if looks_like_ximu3(first):
        return "ximu3"
    if looks_like_metawear(first):
        return "metawear"
    if looks_like_movella(lines):
        return "movella"
    names = [f.strip().strip("\"'").lower() for f in first.replace(";", ",").replace("\t", ",").split(",")]
    if "t_s" in names or any(n.startswith(("acc_", "gyr_")) for n in names):
        return "csv"
    return None


def _unrecognised(path: Path) -> InputFileError:
    lines = head_lines(path, 1) if path.is_file() else []
    shown = f" (first line {lines[0][:80]!r})" if lines else ""
    return InputFileError(f"unrecognised file format{shown}; expected {_SUPPORTED_TEXT}", path=path)


def _sensors_of(path: Path, fmt: str) -> list[RawSensor]:
    if fmt == "ximu3":
        return [read_ximu3_sensor(path)]
    if fmt == "movella":
        return [read_movella_sensor(path)]
    if fmt == "metawear":
        return [read_metawear_sensor(path)]
    if fmt == "tsdf":
        return read_tsdf_sensors(path)
    if fmt == "apdm-h5":
        return read_apdm_sensors(path)[0]
    if fmt == "csv":
        return [read_csv_raw_sensor(path, path.stem)]
    raise InputFileError(f"a {fmt} file holds a whole recording, not one sensor", path=path)


def _place(
    sensors: list[RawSensor], placements: Mapping[str, str] | None, where: Path
) -> tuple[list[tuple[str, RawSensor]], list[str]]:
    """:func:`~.sensor_data.place_sensors`, falling back on the file name (an x-IMU3 device's folder name)."""

    def by_file_name(raw: RawSensor) -> str | None:
        if raw.label == raw.path.stem:
            return None  # the label is the file name already
        return placement_of(raw.path.parent.name if raw.path.name == INERTIAL_FILE else raw.path.stem, placements)

    return place_sensors(sensors, placements, where, fallback=by_file_name)


def _folder_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            files.append(entry)
        elif entry.is_dir():  # x-IMU3 logs one sub-folder per device
            files += [p for p in sorted(entry.iterdir()) if p.is_file() and not p.name.startswith(".")]
    return files


def open_recording(
    path: PathLike,
    *,
    placements: Mapping[str, str] | None = None,
    strict_units: bool = False,
    sampling_rate_hz: float | None = None,
) -> tuple[Recording, list[str]]:
    """Open a recording file or a folder of one session's per-sensor files (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
    placements : mapping of str to str, optional
        Sensor labels (or file names) → placements, beyond those the labels name themselves.
    strict_units : bool
        Refuse data that contradict their (stated or documented) units instead of converting them with a warning.
    sampling_rate_hz : float, optional
        Rate of the common time base (default: the highest of the sensors').

    Returns
    -------
    recording : Recording
    warnings : list of str

    Raises
    ------
    InputFileError
        Unrecognised files, anything a reader refuses, sensors whose placement cannot be told, two sensors for one
        placement. Messages name the file, and the line (or sample) and column when they are known.
    """
    where = Path(path)
    if not where.exists():
        raise InputFileError("cannot read the file: file not found", path=where)
    if where.is_file():
        fmt = detect_format(where)
        if fmt is None:
            raise _unrecognised(where)
        if fmt == "capture":
            return read_capture(where)
        if fmt == "parquet":
            return read_recording_parquet(where), []
        if fmt == "apdm-h5":
            return read_apdm_h5(
                where, placements=placements, strict_units=strict_units, sampling_rate_hz=sampling_rate_hz
            )
        chosen, found = _place(_sensors_of(where, fmt), placements, where)
        recording, more = assemble(chosen, strict_units=strict_units, sampling_rate_hz=sampling_rate_hz)
        return recording, found + more

    files = _folder_files(where)
    if not files:
        raise InputFileError("the folder is empty", path=where)
    formats = {f: detect_format(f) for f in files}
    whole = [f for f, fmt in formats.items() if fmt in WHOLE_RECORDING_FORMATS]
    per_sensor = [f for f, fmt in formats.items() if fmt is not None and fmt not in WHOLE_RECORDING_FORMATS]
    if whole:
        if len(whole) > 1 or per_sensor:
            listed = ", ".join(f.name for f in whole + per_sensor)
            raise InputFileError(
                f"a session folder holds either one recording file or per-sensor files, found several ({listed}); "
                "give the file to analyse",
                path=where,
            )
        return open_recording(
            whole[0], placements=placements, strict_units=strict_units, sampling_rate_hz=sampling_rate_hz
        )
    sensors: list[RawSensor] = []
    consumed: set[Path] = set()
    for f in per_sensor:
        if f in consumed:
            continue
        fmt = formats[f]
        if fmt == "ximu3" and f.name != INERTIAL_FILE:
            continue
        if fmt == "metawear":
            partner = metawear_partner(f)
            if partner is None or "accelerometer" not in f.name.lower():
                continue  # read with its accelerometer file, or another MetaBase signal
            consumed.add(partner)
        sensors += _sensors_of(f, fmt)  # type: ignore[arg-type]
        consumed.add(f)
    ignored = [f.name for f in files if f not in consumed]
    if not sensors:
        raise InputFileError(f"no sensor file in the folder; expected {_SUPPORTED_TEXT}", path=where)
    chosen, found = _place(sensors, placements, where)
    recording, more = assemble(chosen, strict_units=strict_units, sampling_rate_hz=sampling_rate_hz)
    if ignored:
        found.append(f"{where}: files not read (not inertial sensor data): {', '.join(ignored)}")
    return recording, found + more


def open_sensor_files(
    sensor_files: Mapping[str, PathLike],
    *,
    strict_units: bool = False,
    sampling_rate_hz: float | None = None,
) -> tuple[Recording, list[str]]:
    """One file per placement (``--sensor PLACEMENT=FILE``), each in any per-sensor format.

    Generic CSV files only go through :func:`~.csv_format.read_recording` unchanged. A vendor file holding several
    sensors (APDM, TSDF) gives the sensor whose label names the placement, or its only sensor.

    Raises
    ------
    InputFileError
        As :func:`open_recording`; also a capture or Parquet file given per sensor.
    """
    paths = {placement: Path(p) for placement, p in sensor_files.items()}
    formats = {placement: detect_format(p) for placement, p in paths.items()}
    if all(fmt == "csv" for fmt in formats.values()):
        return read_recording(paths, sampling_rate_hz=sampling_rate_hz)
    chosen: list[tuple[str, RawSensor]] = []
    for placement, p in paths.items():
        fmt = formats[placement]
        if fmt is None:
            raise _unrecognised(p)
        if fmt in ("capture", "parquet"):
            raise InputFileError(
                f"a {fmt} file holds a whole recording; give it as the input file, not as --sensor", path=p
            )
        in_file = [read_csv_raw_sensor(p, placement)] if fmt == "csv" else _sensors_of(p, fmt)
        if len(in_file) > 1:
            named = [s for s in in_file if placement_of(s.label) == placement]
            if len(named) != 1:
                labels = ", ".join(repr(s.label) for s in in_file)
                raise InputFileError(
                    f"the file holds {len(in_file)} sensors ({labels}) and none is labelled {placement}; give the "
                    "file as the input with --placement LABEL=PLACEMENT instead",
                    path=p,
                )
            in_file = named
        chosen.append((placement, replace(in_file[0], label=placement)))
    return assemble(chosen, strict_units=strict_units, sampling_rate_hz=sampling_rate_hz)
